/* JSON request bodies to catalogue structs, as the gateway converts every
 * API body: the first byte picks the event, the rest is the JSON text
 * (parsed with duplicate keys refused, like the gateway). Property: a body
 * that converts also converts back to JSON and again to the same struct. */
#include <string.h>

#include "catalogue.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const tb_event_desc *d = tb_event_descs[data[0] % TB_EV_COUNT];
    json_t *in = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
    if (in == NULL) return 0;
    void *ev = calloc(1, d->struct_size), *again = calloc(1, d->struct_size);
    FUZZ_CHECK(ev && again, "out of memory");
    tb_error err;
    if (tb_from_json(d, in, ev, &err) == TB_OK) {
        json_t *out = NULL;
        FUZZ_CHECK(tb_to_json(d, ev, &out) == TB_OK, "converted but not back to JSON");
        FUZZ_CHECK(tb_from_json(d, out, again, &err) == TB_OK, "own JSON rejected");
        FUZZ_CHECK(memcmp(ev, again, d->struct_size) == 0, "round trip differs");
        json_decref(out);
    }
    free(ev);
    free(again);
    json_decref(in);
    return 0;
}
