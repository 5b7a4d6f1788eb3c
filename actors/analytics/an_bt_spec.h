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

/* Where a run's events come from (data of the request):
 *   {"file": PATH}   a file under market-data's MD_REPLAY_DIR;
 *   {"csv": TEXT}    a CSV in the request (the gateway attaches the text
 *                    beside the event and leaves its size in data.csv; a
 *                    short string may also stay inline);
 *   {"bars": {"interval", "from", "to"}}  bars of historical-data, each
 *                    bar's close at the bar's end as the event.
 * Exactly one key. */
typedef enum { AN_BT_DATA_FILE, AN_BT_DATA_CSV, AN_BT_DATA_BARS } an_bt_data_kind;

typedef struct an_bt_data {
    an_bt_data_kind kind;
    char path[TB_TEXT_CAP];       /* file */
    char csv_inline[TB_TEXT_CAP]; /* csv given as a string in data ("" otherwise) */
    int64_t csv_bytes;            /* csv given as its size (attached), else -1 */
    char interval[TB_ENUM_CAP];   /* bars: 1s|1m|5m|1h|1d */
    int64_t interval_ns;
    int64_t from, to; /* bars: starts in [from, to), ns */
} an_bt_data;

/* Parses data (a JSON object). TB_UNKNOWN_FIELD for a key other than file,
 * csv and bars (naming the nearest) or inside bars; TB_INVALID for a bad
 * value, an unknown interval or to not after from. */
tb_status an_bt_parse_data(const char *text, an_bt_data *out, tb_error *err) TB_WARN_UNUSED;

/* Appends the closes CSV row of one bar to out (at *len, cap bytes, always
 * NUL-terminated): "<end ns>,<symbol>,<close>\n", the end = start +
 * interval_ns. TB_TOO_LARGE when it does not fit. */
tb_status an_bt_bar_row(char *out, size_t cap, size_t *len, const char *symbol, int64_t start,
                        int64_t interval_ns, tb_fixed close, tb_error *err) TB_WARN_UNUSED;

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
