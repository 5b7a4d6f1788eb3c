/* The EuStock DAX closes (data/eustock_daily.csv) and what an sma_cross
 * strategy must do on them, computed independently of the services: the
 * crossings of the two moving averages (exact integer sums), each decided on
 * a close and filled at the next close at that close's time (event time, no
 * look-ahead). Shared by test_event_time.c and test_backtest.c. Main thread
 * only (asserts). */
#ifndef TB_EUSTOCK_H
#define TB_EUSTOCK_H

#include <stddef.h>
#include <stdint.h>

#include "money.h"

#define TB_EU_MAX_CLOSES 4096
#define TB_EU_MAX_FILLS  1024

/* One fill as expected, or as it was booked. */
typedef struct tb_eu_fill {
    uint64_t signal_seq; /* tick the decision was taken on (1-based) */
    int side;            /* +1 buy, -1 sell */
    tb_fixed price;
    int64_t ts_us;
} tb_eu_fill;

typedef struct tb_eustock {
    tb_fixed closes[TB_EU_MAX_CLOSES];
    int64_t times[TB_EU_MAX_CLOSES]; /* ns, the date at 00:00Z as market-data reads it */
    char dates[TB_EU_MAX_CLOSES][11];
    size_t nclose;
} tb_eustock;

/* Loads the rows of symbol (DAX, SMI, CAC, FTSE) of
 * $TB_SOURCE_DIR/data/eustock_daily.csv. */
void tb_eu_load(tb_eustock *e, const char *symbol);
/* tb_eu_load(e, "DAX"). */
void tb_eu_load_dax(tb_eustock *e);
/* The fills of sma_cross fast/slow with fixed qty 1 into want (at most
 * TB_EU_MAX_FILLS); returns their number. A decision on the last close has
 * no next close and makes no fill. */
size_t tb_eu_sma_fills(const tb_eustock *e, size_t fast, size_t slow, tb_eu_fill *want);

#endif
