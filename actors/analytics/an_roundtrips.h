/* Round trips from fills: pure functions, no I/O.
 *
 * A round trip is one position of a symbol from flat back to flat. The fills
 * of an account are replayed per symbol in the same order and with the same
 * accounting as an_trades (an_position_apply): the fill that opens a
 * position from flat starts a trip; fills that add to it add to its opened
 * quantity and entry notional; fills that reduce it add their closed
 * quantity, exit notional (c * price, half-even) and realized P&L; the fill
 * that brings the position back to zero closes it. A fill through zero
 * closes the trip and opens the next one with the rest; its fee is split by
 * quantity (fee * closed / qty, half-even, to the closing trip, the rest to
 * the new one). Every other fill's fee belongs to its trip.
 *
 *   entry price  entry notional / opened quantity (half-even);
 *   exit price   exit notional / closed quantity (half-even);
 *   pnl          realized P&L of its closing fills, gross of fees;
 *   net pnl      pnl - fees.
 *
 * A trip still open when the fills end is reported open (no exit time). */
#ifndef AN_ROUNDTRIPS_H
#define AN_ROUNDTRIPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "an_trades.h"

typedef struct an_trip {
    char symbol[TB_TOKEN_CAP];
    char strategy_id[TB_TOKEN_CAP]; /* of the fill that opened it */
    int side;                       /* +1 long, -1 short */
    bool closed;
    int64_t entry_ts, exit_ts; /* exit_ts: the last reducing fill's time (0 before any) */
    tb_fixed opened, closed_qty;
    tb_fixed entry_notional, exit_notional;
    tb_fixed pnl, fees;
} an_trip;

/* Called for each trip when it closes, and for the open ones by
 * an_trips_finish; a non-OK status stops the replay with that error. */
typedef tb_status (*an_trip_fn)(void *arg, const an_trip *t, tb_error *err);

typedef struct an_trips {
    an_trip_fn fn;
    void *arg;
    bool started, in_trip;
    char symbol[TB_TOKEN_CAP];
    an_position pos;
    an_trip cur;
} an_trips;

void an_trips_init(an_trips *t, an_trip_fn fn, void *arg);

/* Replays the next fill (callers feed them in (symbol, ts, fill_id) order,
 * as an_trades_add checks). TB_INVALID for a malformed fill, TB_OVERFLOW on
 * range overflow, or fn's error. */
tb_status an_trips_add(an_trips *t, const an_fill *f, tb_error *err) TB_WARN_UNUSED;

/* Reports the trip still open, if any. */
tb_status an_trips_finish(an_trips *t, tb_error *err) TB_WARN_UNUSED;

/* Entry and exit price of a trip; TB_INVALID when it has no such quantity
 * yet (no exit before the first reducing fill). */
tb_status an_trip_entry_price(const an_trip *t, tb_fixed *out) TB_WARN_UNUSED;
tb_status an_trip_exit_price(const an_trip *t, tb_fixed *out) TB_WARN_UNUSED;

/* pnl - fees. */
tb_status an_trip_net(const an_trip *t, tb_fixed *out) TB_WARN_UNUSED;

#endif
