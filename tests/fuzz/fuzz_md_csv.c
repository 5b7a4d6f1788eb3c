/* CSV replay parsing (md_csv_feed), line by line as the replay reads a
 * file; the first byte picks the format (auto, ticks, closes). Properties:
 * every row is counted once as a tick, a skip or an error, and a tick has
 * a symbol and at least one positive price. */
#include <string.h>

#include "fuzz.h"
#include "md_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    md_csv_format f = (md_csv_format)(data[0] % 3);
    md_csv_parser p;
    md_csv_init(&p, f);
    const char *s = (const char *)data + 1, *end = (const char *)data + size;
    uint64_t rows = 0, bad = 0;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t len = nl ? (size_t)(nl - s) + 1 : (size_t)(end - s);
        tb_tick t;
        tb_error err = {0};
        md_csv_result r = len > MD_CSV_MAX_LINE + 2 ? md_csv_feed_too_long(&p, &err)
                                                    : md_csv_feed(&p, s, len, &t, &err);
        if (r == MD_CSV_ROW) {
            rows++;
            FUZZ_CHECK(t.symbol[0] != '\0', "tick without a symbol");
            FUZZ_CHECK(t.bid > 0 || t.ask > 0 || t.last > 0, "tick without a price");
        }
        if (r == MD_CSV_BAD) bad++;
        s += len;
    }
    FUZZ_CHECK(p.rows == rows && p.errors == bad, "counts differ");
    char summary[512];
    md_csv_summary(&p, summary, sizeof summary);
    return 0;
}
