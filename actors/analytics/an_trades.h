/* Trade statistics from fills: pure functions, no I/O.
 *
 * The realized P&L of each fill is worked out exactly (tb_fixed) with the
 * accounting position-management books (its README): a position is a signed
 * quantity and a signed cost basis; a fill that adds to it (or opens it) adds
 * its notional qty * price (half-even) to the cost; a fill that reduces it by
 * c closes c at c * price (half-even) against the cost share cost * c / |qty|
 * (half-even, all of the cost when it closes), realizing proceeds - cost for
 * a long and cost - price paid for a short; a fill through zero closes the
 * whole position that way and opens the rest at notional - closed notional.
 * Realized P&L is gross of fees.
 *
 * A closing fill is one that reduced a position (closed quantity > 0); it is
 * a win when its realized P&L is > 0. Fills are replayed per account and
 * symbol in position-management's canonical order: time, then fill id
 * byte-wise; the caller feeds them in (symbol, ts, fill_id) order and
 * an_trades_add checks it. */
#ifndef AN_TRADES_H
#define AN_TRADES_H

#include <stdbool.h>
#include <stdint.h>

#include "catalogue.h"

typedef struct an_position {
    tb_fixed qty;  /* signed */
    tb_fixed cost; /* signed like qty, 0 when flat */
} an_position;

/* Applies one fill (side +1 buy, -1 sell; qty, price > 0) to p. *realized
 * gets the P&L it realized and *closed the quantity it closed (0 for a fill
 * that only opens or adds). TB_INVALID for a bad fill, TB_OVERFLOW when a
 * result leaves tb_fixed's range; p is unchanged on error. */
tb_status an_position_apply(an_position *p, int side, tb_fixed qty, tb_fixed price,
                            tb_fixed *realized, tb_fixed *closed, tb_error *err) TB_WARN_UNUSED;

typedef struct an_fill {
    char fill_id[TB_ID_CAP];
    char symbol[TB_TOKEN_CAP];
    char strategy_id[TB_TOKEN_CAP]; /* "" when none */
    int side;                       /* +1 buy, -1 sell */
    tb_fixed qty, price, fee;
    int64_t ts;
} an_fill;

typedef struct an_trades {
    /* selection */
    char strategy_id[TB_TOKEN_CAP]; /* count only this strategy's fills ("" = all) */
    int64_t from;                   /* count only fills with ts >= from (0 = all) */
    /* replay state */
    bool started;
    an_fill last; /* the previous fill, for the order check */
    an_position pos;
    /* results, over the selected fills */
    uint64_t fills, closing, wins;
    tb_fixed realized, fees;
} an_trades;

/* Starts a replay counting strategy_id's fills (NULL or "" = every fill) with
 * ts >= from. */
void an_trades_init(an_trades *t, const char *strategy_id, int64_t from);

/* Replays the next fill of the account. Fills before from or of other
 * strategies still move the position (they are part of it) but are not
 * counted. TB_INVALID when f is out of (symbol, ts, fill_id) order or
 * malformed, TB_OVERFLOW on range overflow; t is unchanged on error. */
tb_status an_trades_add(an_trades *t, const an_fill *f, tb_error *err) TB_WARN_UNUSED;

#endif
