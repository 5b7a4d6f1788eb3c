/* Position accounting of position-management: pure functions, no I/O.
 *
 * A position is (qty, cost, realized):
 *   qty       signed quantity (short < 0);
 *   cost      cost basis, the booked value of the open quantity, signed like
 *             qty (0 when flat): the notionals that opened it minus what
 *             reductions removed;
 *   realized  cumulative realized P&L of the symbol, gross of fees.
 * The average cost is derived: |cost| / |qty|. Fees are not part of the
 * position's P&L; they are charged to cash and reported separately.
 *
 * Rounding (all to 8 decimals, tb_fixed):
 *   notional  N = qty * price, half-even (the same rounding the exactness
 *             check uses per fill);
 *   cash      -N - fee for a buy, +N - fee for a sell: exact given N;
 *   closing   when a fill reduces the position by c of |qty|, the closed
 *             part of the fill is N_close = c * price (half-even) and the
 *             opening remainder of a flip is N - N_close, so the two parts
 *             add up to N exactly; the cost removed is cost * c / |qty|
 *             (half-even), or all of cost when the position closes;
 *   realized  += proceeds of the closed part - cost removed (long), or
 *             cost removed - price paid (short): exact given the above;
 *   avg cost  |cost| / |qty| half-even, for display and risk only: nothing
 *             is booked from it.
 * Because cost and realized move by exactly the amounts cash moves by, the
 * identity cash + sum(cost) == initial_cash + sum(realized) - sum(fees) holds
 * exactly, and unrealized = qty * last - cost (qty * last half-even) makes
 * equity == initial_cash + realized + unrealized - fees exact as well.
 *
 * Every result that does not fit a tb_fixed is TB_OVERFLOW, never wrapped;
 * outputs are written only on success. */
#ifndef POS_PNL_H
#define POS_PNL_H

#include <stdbool.h>
#include <stdint.h>

#include "money.h"
#include "status.h"

typedef struct pos_state {
    tb_fixed qty;
    tb_fixed cost;
    tb_fixed realized;
} pos_state;

typedef enum { POS_SELL = -1, POS_BUY = 1 } pos_side;

typedef struct pos_fill_in {
    pos_side side;
    tb_fixed qty;   /* > 0 */
    tb_fixed price; /* > 0 */
    tb_fixed fee;   /* charged to cash; negative for a rebate */
} pos_fill_in;

typedef struct pos_effect {
    pos_state after;
    tb_fixed notional;       /* qty * price, half-even, >= 0 */
    tb_fixed cash_delta;     /* -notional - fee (buy) or notional - fee (sell) */
    tb_fixed realized_delta; /* realized P&L booked by this fill */
    tb_fixed closed_qty;     /* part of the fill that reduced the position */
    tb_fixed opened_qty;     /* part that opened or increased it */
} pos_effect;

/* "buy" / "sell" -> side; TB_INVALID otherwise. */
tb_status pos_side_parse(const char *s, pos_side *out) TB_WARN_UNUSED;

/* Applies one fill to a position (see the rounding rules above). Checks the
 * position is consistent (cost has the sign of qty, 0 when flat) and the fill
 * is valid (qty > 0, price > 0): TB_INVALID with err naming the field.
 * TB_OVERFLOW when any result leaves the tb_fixed range. */
tb_status pos_apply_fill(const pos_state *before, const pos_fill_in *fill, pos_effect *out,
                         tb_error *err) TB_WARN_UNUSED;

/* |cost| / |qty| half-even; 0 when flat. */
tb_status pos_avg_cost(const pos_state *p, tb_fixed *out) TB_WARN_UNUSED;

/* Marked value qty * last (half-even) when last > 0; the cost basis when the
 * position has no mark yet (last <= 0), so an unmarked position contributes
 * no unrealized P&L. */
tb_status pos_market_value(const pos_state *p, tb_fixed last, tb_fixed *out) TB_WARN_UNUSED;

/* market value - cost: unrealized P&L against last (0 without a mark). */
tb_status pos_unrealized(const pos_state *p, tb_fixed last, tb_fixed *out) TB_WARN_UNUSED;

/* Account figures summed over its positions. */
typedef struct pos_totals {
    tb_fixed realized;
    tb_fixed unrealized;
    tb_fixed fees;
    tb_fixed market_value;
} pos_totals;

/* Adds one position (with its cumulative fees and mark) to t. On overflow t
 * is unchanged. */
tb_status pos_totals_add(pos_totals *t, const pos_state *p, tb_fixed fees,
                         tb_fixed last) TB_WARN_UNUSED;

/* cash + market value of every position. */
tb_status pos_equity(tb_fixed cash, const pos_totals *t, tb_fixed *out) TB_WARN_UNUSED;

/* The mark of a tick: last when > 0, else the bid/ask midpoint (half-even)
 * when both are > 0, else whichever of bid or ask is > 0. false when the tick
 * has no usable price. */
bool pos_mark_price(tb_fixed last, tb_fixed bid, tb_fixed ask, tb_fixed *out);

/* The canonical order of fills within a position: by event time, then by
 * fill id byte-wise (strcmp). <0, 0, >0 like strcmp. */
int pos_fill_order(int64_t ts_a, const char *id_a, int64_t ts_b, const char *id_b);

#endif
