/* EuStock DAX closes and the independent sma_cross fills (tb_eustock.h). */
#include "tb_eustock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"
#include "tb_test.h"

void tb_eu_load_dax(tb_eustock *e) {
    tb_eu_load(e, "DAX");
}

void tb_eu_load(tb_eustock *e, const char *symbol) {
    char path[512];
    const char *src = getenv("TB_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/data/eustock_daily.csv", src ? src : ".");
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s not found", path);
    char line[256];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f)); /* header */
    e->nclose = 0;
    while (fgets(line, sizeof line, f)) {
        char date[32], sym[16], close[32];
        ck_assert_int_eq(sscanf(line, "%31[^,],%15[^,],%31s", date, sym, close), 3);
        if (strcmp(sym, symbol) != 0) continue;
        ck_assert_uint_lt(e->nclose, TB_EU_MAX_CLOSES);
        ck_assert_uint_eq(strlen(date), 10);
        char iso[48];
        snprintf(iso, sizeof iso, "%sT00:00:00Z", date); /* market-data's time of a date */
        ck_assert_int_eq(tb_ts_parse(iso, &e->times[e->nclose]), TB_OK);
        ck_assert_int_eq(tb_fixed_parse_cstr(close, &e->closes[e->nclose]), TB_OK);
        memcpy(e->dates[e->nclose], date, 11);
        e->nclose++;
    }
    fclose(f);
    ck_assert_uint_gt(e->nclose, 1000);
}

/* sign(mean(fast) - mean(slow)) compared as fast_sum * slow against
 * slow_sum * fast in 128 bits; a change of a non-zero sign is a decision. */
size_t tb_eu_sma_fills(const tb_eustock *e, size_t fast, size_t slow, tb_eu_fill *want) {
    size_t n = 0;
    int last = 0;
    for (size_t i = slow - 1; i < e->nclose; i++) {
        __int128 f = 0, s = 0;
        for (size_t j = i + 1 - fast; j <= i; j++) f += e->closes[j];
        for (size_t j = i + 1 - slow; j <= i; j++) s += e->closes[j];
        __int128 l = f * (__int128)slow, r = s * (__int128)fast;
        int rel = (l > r) - (l < r);
        if (rel == 0) continue;
        if (last != 0 && rel != last && i + 1 < e->nclose) {
            ck_assert_uint_lt(n, TB_EU_MAX_FILLS);
            want[n++] = (tb_eu_fill){.signal_seq = i + 1,
                                     .side = rel,
                                     .price = e->closes[i + 1],
                                     .ts_us = e->times[i + 1] / 1000};
        }
        last = rel;
    }
    return n;
}
