/* The msgpack decoders: the first byte picks an event of the catalogue, the
 * rest is decoded as that event (tb_decode), as a list of it
 * (tb_decode_list) and schema-less (tb_msgpack_to_json_raw). Properties: a
 * failed decode leaves the struct zeroed; a successful one re-encodes and
 * decodes to the same struct. */
#include <string.h>

#include "catalogue.h"
#include "fuzz.h"

static bool all_zero(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const tb_event_desc *d = tb_event_descs[data[0] % TB_EV_COUNT];
    const uint8_t *buf = data + 1;
    size_t len = size - 1;
    void *ev = malloc(d->struct_size), *again = malloc(d->struct_size);
    FUZZ_CHECK(ev && again, "out of memory");
    memset(ev, 0xa5, d->struct_size);
    tb_error err;
    if (tb_decode(d, buf, len, ev, &err) != TB_OK) {
        FUZZ_CHECK(all_zero(ev, d->struct_size), "a failed decode left data behind");
    } else {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        FUZZ_CHECK(tb_encode(d, ev, &sb, &err) == TB_OK, "decoded but does not re-encode");
        FUZZ_CHECK(tb_decode(d, sb.data, sb.size, again, &err) == TB_OK, "re-encoding rejected");
        FUZZ_CHECK(memcmp(ev, again, d->struct_size) == 0, "re-decoded struct differs");
        msgpack_sbuffer_destroy(&sb);
    }
    free(ev);
    free(again);

    void *items = NULL;
    size_t n = 0;
    char next[TB_ID_CAP];
    if (tb_decode_list(d, buf, len, &items, &n, next, &err) == TB_OK)
        FUZZ_CHECK(n == 0 || items != NULL, "list without items");
    free(items);

    json_t *j = NULL;
    if (tb_msgpack_to_json_raw(buf, len, &j, &err) == TB_OK) FUZZ_CHECK(j != NULL, "no JSON");
    json_decref(j);
    return 0;
}
