/* CSV bar import (api.bars.import, hist_csv_parse). Properties: TB_OK
 * means at least one good row and no error; every kept row has a symbol and
 * low <= open, close <= high. */
#include "fuzz.h"
#include "hist_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hist_import imp;
    tb_status s = hist_csv_parse((const char *)data, size, 1000, &imp);
    if (s == TB_OK) FUZZ_CHECK(imp.nrows >= 1 && imp.nerrors == 0, "ok without rows");
    if (s == TB_INVALID) FUZZ_CHECK(imp.nerrors >= 1 || imp.nrows == 0, "invalid without error");
    for (size_t i = 0; i < imp.nrows; i++) {
        const hist_import_row *r = &imp.rows[i];
        FUZZ_CHECK(r->symbol[0] != '\0', "row without a symbol");
        FUZZ_CHECK(r->bar.low <= r->bar.open && r->bar.open <= r->bar.high, "open out of range");
        FUZZ_CHECK(r->bar.low <= r->bar.close && r->bar.close <= r->bar.high, "close out of range");
    }
    hist_import_free(&imp);
    return 0;
}
