/* Backtest requests, pure: the symbols list, the data source, the parameter
 * grid (every combination, in a fixed order) and the statistic that ranks a
 * grid's runs. No I/O; unit-tested (tests/unit/test_an_bt_spec.c). */
#ifndef AN_BT_SPEC_H
#define AN_BT_SPEC_H

#include <stddef.h>

#include "catalogue.h"

/* Symbols a run may trade: one strategy each. */
#define AN_BT_MAX_SYMBOLS 8

typedef struct an_bt_symbols {
    size_t n;
    char sym[AN_BT_MAX_SYMBOLS][TB_TOKEN_CAP];
} an_bt_symbols;

/* "DAX,FTSE" or ["DAX","FTSE"] (the gateway passes a JSON array as its
 * text). Tokens, no duplicates, 1..AN_BT_MAX_SYMBOLS; each must still be a
 * token after the run's prefix of up to prefix_len bytes. */
tb_status an_bt_parse_symbols(const char *text, size_t prefix_len, an_bt_symbols *out,
                              tb_error *err) TB_WARN_UNUSED;
/* The symbols comma-separated into out. */
void an_bt_symbols_join(const an_bt_symbols *s, char *out, size_t cap);

/* data = {"file": PATH}: the path into out. {"csv": ...} and {"bars": ...}
 * are TB_REJECTED (not supported yet), anything else TB_INVALID. */
tb_status an_bt_parse_data(const char *text, char *path, size_t cap, tb_error *err) TB_WARN_UNUSED;

/* The number of runs of grid (a JSON object of non-empty arrays of numbers
 * or strings); "" = no grid (0). TB_INVALID for a malformed grid or an
 * empty list, TB_TOO_LARGE beyond max runs. */
tb_status an_bt_grid_count(const char *grid, size_t max, size_t *n, tb_error *err) TB_WARN_UNUSED;
/* params (a JSON object or "") with the index-th combination of grid set
 * in it, compact JSON into out. Combinations go in the grid's key order,
 * the last key varying fastest. */
tb_status an_bt_grid_params(const char *params, const char *grid, size_t index, char *out,
                            size_t cap, tb_error *err) TB_WARN_UNUSED;

/* The ranking value of a run's statistics under rank_by ("" = sharpe):
 * larger ranks first (max_drawdown is negated so the smallest ranks first);
 * NaN when the statistic is null (ranked last). */
double an_bt_rank_value(const tb_performance *p, const char *rank_by);

#endif
