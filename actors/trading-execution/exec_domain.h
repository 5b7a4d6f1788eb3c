/* The paper venue's domain: order state machine, matching, fees, slippage,
 * time in force and stop triggers, as pure functions (no I/O, no clock, no
 * globals). The I/O glue (exec_*.c besides exec_state.c and exec_match.c)
 * loads orders from PostgreSQL into exec_order, calls these functions and
 * writes back what they decided.
 *
 * Money and quantities are tb_fixed (schemas/money.h). Rounding, decided once
 * here and documented in README.md:
 *   notional  = qty * price, half-even to 8 decimals (the rounding
 *               position-management books, so cash reconciles exactly);
 *   fee       = notional * EXEC_FEE_BPS / 10000, half-up to 8 decimals, then
 *               at least EXEC_FEE_MIN (per fill);
 *   slippage  = buys pay touch * (10000 + bps) / 10000 rounded up (ceil),
 *               sells get touch * (10000 - bps) / 10000 rounded down (floor):
 *               rounding never favours the trader; a price never goes below
 *               0.00000001;
 *   avg price = (avg * filled + price * qty) / (filled + qty), each product
 *               and the quotient half-even to 8 decimals. */
#ifndef EXEC_DOMAIN_H
#define EXEC_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "money.h"
#include "status.h"

typedef enum {
    EXEC_NEW,
    EXEC_ACCEPTED,
    EXEC_PARTIALLY_FILLED,
    EXEC_FILLED,
    EXEC_CANCELED,
    EXEC_REJECTED,
    EXEC_EXPIRED,
    EXEC_STATUS_COUNT
} exec_status;

typedef enum { EXEC_BUY, EXEC_SELL } exec_side;
typedef enum { EXEC_MARKET, EXEC_LIMIT, EXEC_STOP, EXEC_STOP_LIMIT, EXEC_TRAILING_STOP } exec_type;
typedef enum { EXEC_DAY, EXEC_GTC, EXEC_IOC, EXEC_FOK, EXEC_GTD } exec_tif;
/* What a stop compares with its stop price: the last trade, or the touch
 * (ask for buy stops, bid for sell stops). */
typedef enum { EXEC_TRIGGER_LAST, EXEC_TRIGGER_TOUCH } exec_trigger;
typedef enum { EXEC_LIQ_NONE, EXEC_MAKER, EXEC_TAKER } exec_liquidity;
/* An order's role in its group (orders.group_role): none, a leg of an OCO
 * pair, a bracket's entry, take-profit or stop-loss. */
typedef enum {
    EXEC_ROLE_NONE,
    EXEC_ROLE_OCO,
    EXEC_ROLE_ENTRY,
    EXEC_ROLE_TAKE_PROFIT,
    EXEC_ROLE_STOP_LOSS
} exec_role;

/* Wire names (schemas/events.def enum values) and their inverses; the parse
 * functions return false for anything else. */
const char *exec_status_name(exec_status s);
bool exec_status_parse(const char *s, exec_status *out);
const char *exec_side_name(exec_side s);
bool exec_side_parse(const char *s, exec_side *out);
const char *exec_type_name(exec_type t);
bool exec_type_parse(const char *s, exec_type *out);
const char *exec_tif_name(exec_tif t);
bool exec_tif_parse(const char *s, exec_tif *out);
const char *exec_liquidity_name(exec_liquidity l); /* "" for EXEC_LIQ_NONE */
bool exec_trigger_parse(const char *s, exec_trigger *out);
bool exec_role_parse(const char *s, exec_role *out); /* "" is EXEC_ROLE_NONE */

/* ---- state machine (exec_state.c) ---- */

/* new, accepted and partially_filled: the order can still trade or be canceled. */
bool exec_status_is_open(exec_status s);
bool exec_status_is_terminal(exec_status s);
/* The transition table: true when from -> to is a legal step. */
bool exec_transition_allowed(exec_status from, exec_status to);

/* An account's own costs (a backtest's, api.exec.fees.set), used for its
 * orders instead of the fee and slippage of exec_params. Limits: bps
 * 0..EXEC_BPS_MAX, fee_min 0..EXEC_FEE_MIN_MAX. */
typedef struct exec_fee_model {
    int64_t slippage_bps;
    int64_t fee_bps;
    tb_fixed fee_min;
} exec_fee_model;

#define EXEC_BPS_MAX     1000
#define EXEC_FEE_MIN_MAX (INT64_C(1000000) * TB_FIXED_SCALE)

/* Checks a model against the limits: TB_INVALID naming the field. */
tb_status exec_fee_model_validate(const exec_fee_model *m, tb_error *err) TB_WARN_UNUSED;

/* An order as the venue sees it. The glue fills it from the orders row. */
typedef struct exec_order {
    exec_side side;
    exec_type type;
    exec_tif tif;
    tb_fixed qty;         /* > 0 */
    tb_fixed limit_price; /* limit, stop_limit */
    tb_fixed stop_price;  /* stop, stop_limit */
    tb_fixed filled_qty;
    tb_fixed avg_price; /* 0 while nothing is filled */
    exec_status status;
    bool triggered;     /* a stop's trigger price was reached */
    int64_t created_ns; /* creation time, ns since the epoch (day expiry) */
    int64_t expire_ns;  /* tif gtd: expires at the first tick at or after it */
    int64_t version;    /* transition number: 1 when created, +1 per transition */
    int64_t fills;      /* fills so far: the next fill is number fills + 1 */
    /* trailing_stop (exec_trail.c): the trail, exactly one of an amount and
     * basis points; a positive limit_offset makes the triggered order a
     * limit at trail_stop -/+ limit_offset, 0 a market order. trail_stop is
     * the current stop, 0 until the order saw a price; trail_moved says it
     * changed since the glue loaded the order (the glue persists it). */
    tb_fixed trail_amount;
    int64_t trail_bps;
    tb_fixed limit_offset;
    tb_fixed trail_stop;
    bool trail_moved;
    bool own_fees; /* fees below price it, not exec_params' (its account's model) */
    exec_fee_model fees;
    /* Order groups (exec_group_link sets the links within one array):
     * peer is 1 + the index of the OCO partner (the other leg, or the other
     * exit of a bracket), 0 for none; entry is 1 + the index of a bracket
     * exit's entry when the entry is in the array. An exit works at most
     * its entry's filled quantity: the entry's in the array, or entry_filled
     * (read with the exit) when the entry is not there. */
    exec_role role;
    size_t peer, entry;
    tb_fixed entry_filled;
} exec_order;

/* Checks that an order's fields fit its type (prices present and positive
 * where required, qty positive, filled within qty). TB_INVALID with the
 * field otherwise. */
tb_status exec_order_validate(const exec_order *o, tb_error *err) TB_WARN_UNUSED;
/* The trail fields: a trailing stop has exactly one of a positive
 * trail_amount and trail_bps in 1..EXEC_TRAIL_BPS_MAX, a limit_offset not
 * negative; any other order none of them (exec_trail.c). */
tb_status exec_trail_validate(const exec_order *o, tb_error *err) TB_WARN_UNUSED;

/* Moves o to `to`: TB_CONFLICT (o untouched) when the table forbids it or
 * when the quantities contradict the target (filled needs filled_qty == qty,
 * partially_filled needs 0 < filled_qty < qty, accepted needs nothing
 * filled). Increments o->version on success. */
tb_status exec_order_transition(exec_order *o, exec_status to, tb_error *err) TB_WARN_UNUSED;

/* ---- amends (exec_amend.c) ---- */

/* New values for a working order; 0 = unchanged. */
typedef struct exec_amend {
    tb_fixed qty, limit_price, stop_price;
} exec_amend;

/* Applies an amend to o, as one order event:
 *   - a terminal order is TB_CONFLICT (field "id");
 *   - nothing to change (every value 0) is TB_REJECTED (field "qty");
 *   - a price the order's type does not use (limit_price on market or stop,
 *     stop_price on market or limit) is TB_REJECTED naming it;
 *   - qty below the filled quantity is TB_REJECTED naming qty;
 *   - values equal to the order's change nothing: *changed = false, TB_OK
 *     (a retried amend records no second event);
 *   - otherwise o takes the values, and the event is a step of its own
 *     (version + 1) that keeps the status, except qty == filled_qty of a
 *     partially filled order, which finishes it: partially_filled -> filled.
 *     *changed = true; *status is the status of the step.
 * The status machine is unchanged: an amend of a working order is a
 * transition to the status it already has, with reason "amended". o is left
 * untouched on any error. */
tb_status exec_order_amend(exec_order *o, const exec_amend *a, bool *changed, exec_status *status,
                           tb_error *err) TB_WARN_UNUSED;

/* ---- venue (exec_match.c) ---- */

/* One market snapshot (a tick or a quote); absent values are 0. A size of 0
 * means "unlimited" (the feed did not say). */
typedef struct exec_quote {
    tb_fixed bid, ask, last;
    tb_fixed bid_size, ask_size, last_size;
    int64_t ts_ns; /* event time of the tick; 0 = unknown (gtd expiry uses the clock) */
} exec_quote;

typedef struct exec_params {
    int64_t slippage_bps; /* 0..1000 */
    int64_t fee_bps;      /* 0..1000 */
    tb_fixed fee_min;     /* >= 0 */
    exec_trigger trigger;
} exec_params;

#define EXEC_MAX_STEPS 3

typedef struct exec_fill_calc {
    tb_fixed qty, price, fee;
    exec_liquidity liquidity;
} exec_fill_calc;

/* What matching did to one order. steps lists the statuses it went through,
 * in order (e.g. partially_filled then canceled for an IOC remainder); each
 * step is one transition (version + 1) with its reason code (NULL for
 * fills). */
typedef struct exec_outcome {
    tb_status status;   /* TB_OK, or why this order was skipped (overflow) */
    bool triggered_now; /* the stop triggered on this snapshot */
    bool filled;        /* fill holds an execution */
    exec_fill_calc fill;
    int nsteps;
    exec_status steps[EXEC_MAX_STEPS];
    const char *reasons[EXEC_MAX_STEPS];
} exec_outcome;

/* Reason codes written to orders.reason and orders.status events. */
#define EXEC_REASON_DAY_END "day_end"
#define EXEC_REASON_GTD     "expire_at"
#define EXEC_REASON_IOC     "ioc_remainder"
#define EXEC_REASON_FOK     "fok_unfillable"
#define EXEC_REASON_USER    "user"
#define EXEC_REASON_AMENDED "amended"
#define EXEC_REASON_OCO     "oco"            /* the other leg of the pair filled or was canceled */
#define EXEC_REASON_ENTRY   "entry_canceled" /* a bracket's entry ended without a fill */

/* Checks a snapshot: no negative price or size, bid <= ask when both are
 * present. TB_INVALID with the field otherwise. */
tb_status exec_quote_validate(const exec_quote *q, tb_error *err) TB_WARN_UNUSED;

/* End of the UTC day of created_ns (exclusive): day orders expire then. */
int64_t exec_day_end(int64_t created_ns);
/* True when o is a day order whose day is over at now_ns. */
bool exec_day_expired(const exec_order *o, int64_t now_ns);
/* Whether a gtd order is expired at now_ns (the event time of a tick of its
 * symbol): at or after its expire_at. Nothing expires gtd orders by the wall
 * clock, so a replay expires them at the right point of its data; an order
 * past its expire_at expires at the next tick of its symbol, before any
 * matching, so it never trades after it. */
bool exec_gtd_expired(const exec_order *o, int64_t now_ns);

/* Whether a stop order's trigger price (a trailing stop's current stop) is
 * reached by q. */
bool exec_stop_hit(const exec_order *o, const exec_quote *q, exec_trigger trigger);

/* The parameters o is priced with: p, with the fee and slippage of o's
 * account's own model when it has one. */
exec_params exec_params_for(const exec_params *p, const exec_order *o);

/* ---- trailing stops (exec_trail.c) ---- */

/* Bounds of trail_bps (a sell's stop stays above 0). */
#define EXEC_TRAIL_BPS_MAX 9999

/* The price stops trigger on, which a trailing stop also follows: the last
 * trade (EXEC_TRIGGER_LAST), or the touch (bid for sells, ask for buys,
 * the last trade when that side is not quoted). 0 when q has none. */
tb_fixed exec_trigger_price(exec_side side, const exec_quote *q, exec_trigger trigger);
/* The stop of a trailing stop whose best price is px: sells px - trail
 * (basis points: px * (10000 - bps) / 10000 rounded down, never below
 * 0.00000001), buys px + trail (px * (10000 + bps) / 10000 rounded up):
 * rounding keeps the stop at least the trail away. */
tb_status exec_trail_stop_for(const exec_order *o, tb_fixed px, tb_fixed *out) TB_WARN_UNUSED;
/* Moves an untriggered trailing stop's stop with q's trigger price: a sell's
 * only up, a buy's only down; the first price sets it. True (and
 * o->trail_moved) when it moved. Other orders, triggered ones and quotes
 * without the price are left alone, as is a stop whose arithmetic
 * overflows. */
bool exec_trail_ratchet(exec_order *o, const exec_quote *q, exec_trigger trigger);
/* Whether a triggered order trades as a market order: market, stop, and a
 * trailing stop without a limit offset. */
bool exec_trades_as_market(const exec_order *o);
/* The limit a limit-trading order trades at: limit_price, or for a
 * trailing stop trail_stop - limit_offset (sell, at least 0.00000001) or
 * trail_stop + limit_offset (buy). */
tb_fixed exec_limit_of(const exec_order *o);

/* Fee of one fill (see the rounding above). */
tb_status exec_fee(tb_fixed qty, tb_fixed price, const exec_params *p,
                   tb_fixed *out) TB_WARN_UNUSED;
/* Price a taking order pays (buy) or gets (sell) for touch with slippage. */
tb_status exec_slipped_price(exec_side side, tb_fixed touch, int64_t slippage_bps,
                             tb_fixed *out) TB_WARN_UNUSED;

/* Matches orders[0..n) (open orders of one symbol in time priority) against
 * one snapshot at time now_ns. arrival is true when the orders arrive now
 * (matched against the current quote when accepted: they take liquidity),
 * false for the resting book matched against a new tick (limit orders
 * resting there are makers). The snapshot's sizes are shared: earlier orders
 * consume the size before later ones (ask side for buys, bid side for sells,
 * the last trade's size when that side has no quote).
 *
 * Per order: a day order whose day is over expires; an untriggered stop
 * checks its trigger (a trailing stop first moves its stop with the
 * snapshot, exec_trail_ratchet) and, once triggered, trades as a market
 * (stop, trailing_stop) or limit (stop_limit, trailing_stop with a limit
 * offset) order on the same snapshot; market orders take the
 * touch plus slippage, limit orders trade when the touch is at the limit or
 * better, at the touch; a size smaller than the leaves quantity gives a
 * partial fill; IOC cancels what is left after its first chance (a snapshot
 * with a price on its side, after triggering), FOK fills completely on its
 * first chance or is canceled without a fill. Orders not open, or still
 * new, are left alone. Each order is updated in place and out[i] says what
 * happened; an order whose arithmetic overflows is left unchanged with
 * out[i].status = TB_OVERFLOW. */
void exec_match(const exec_quote *q, const exec_params *p, int64_t now_ns, bool arrival,
                exec_order *orders, size_t n, exec_outcome *out);

/* ---- order groups (exec_match.c) ---- */

/* Links the grouped orders of orders[0..n) (group_ids[i] "" for none, roles
 * in orders[i].role): the two legs of an OCO pair and the two exits of a
 * bracket become each other's peer, an exit gets its entry. exec_match then
 * keeps a pair exact: an order whose peer has filled (even partly) does not
 * trade and is canceled (reason oco) on the same snapshot, also while it is
 * still new; a bracket's exit is dormant until its entry fills and works
 * only the entry's filled quantity. */
void exec_group_link(exec_order *orders, const char *const *group_ids, size_t n);
/* Orders in a group: an OCO pair has 2, a bracket 3. */
#define EXEC_GROUP_MAX 3
/* Why canceling `canceled` cancels `other`, an order of the same group
 * (NULL: it does not): the other leg of an OCO pair or the other exit of a
 * bracket, while open (reason oco); the exits of a bracket whose entry is
 * canceled before any fill (entry_canceled). An entry canceled after a
 * partial fill leaves its exits working that quantity. */
const char *exec_group_cancels(const exec_order *canceled, const exec_order *other);
/* The quantity a bracket exit may still fill now (leaves for other orders). */
tb_fixed exec_workable(const exec_order *orders, const exec_order *o);

/* ---- tick order (exec_match.c) ---- */

typedef enum { EXEC_TICK_NEW, EXEC_TICK_STALE, EXEC_TICK_RESET } exec_tick_order;

/* Classifies a tick against the last processed one of its symbol. RESET
 * when it comes from another source than the last (a new feed: a fresh
 * symbol state has source ""), or is at least reset_gap behind (the feed
 * restarted: a redelivered or reordered tick is only a few behind); NEW
 * when seq is beyond last_seq; STALE otherwise (already processed, or overtaken by
 * a newer tick on another worker). have_last is false for a symbol never
 * seen: NEW. */
exec_tick_order exec_tick_classify(bool have_last, uint64_t last_seq, const char *last_source,
                                   uint64_t seq, const char *source, uint64_t reset_gap);

/* What to do with a recorded, not yet matched tick, given the symbol's last
 * matched tick: MATCH it now (the next in sequence, seq 1 of a new
 * sequence, or the first after a gap or of a new sequence that has waited
 * wait_ms: its predecessors are lost),
 * DROP it (stale: already matched or overtaken), or WAIT for the missing
 * predecessor (age_ms < wait_ms). Recorded ticks are considered in seq
 * order; a WAIT stops the run. */
typedef enum { EXEC_PENDING_MATCH, EXEC_PENDING_DROP, EXEC_PENDING_WAIT } exec_pending_action;
exec_pending_action exec_pending_decide(uint64_t last_seq, const char *last_source, uint64_t seq,
                                        const char *source, uint64_t reset_gap, int64_t age_ms,
                                        int64_t wait_ms);

/* ---- tick runs (exec_run.c) ---- */

/* A tick of one symbol waiting to be matched: from the batch just received
 * or recorded earlier (by this or another worker). */
typedef struct exec_run_tick {
    exec_quote quote;
    uint64_t seq;
    const char *source; /* "" when the feed did not say */
    int64_t ts_ns;      /* event time: fills carry it */
    int64_t age_ms;     /* since it was first recorded (0: just received) */
    size_t origin;      /* caller's index, untouched */
} exec_run_tick;

/* Sorts ticks by (seq, source): the order a symbol's ticks are matched in. */
void exec_run_sort(exec_run_tick *ticks, size_t n);

/* What one tick did to one order: the order after the tick, and how. */
typedef struct exec_run_event {
    size_t order; /* index into the orders of the run */
    size_t tick;  /* index into the ticks of the run */
    exec_order after;
    exec_outcome outcome;
} exec_run_event;

typedef struct exec_run {
    /* ticks[0..consumed) are settled (matched or dropped); the rest wait
     * behind a gap that is still young. */
    size_t consumed;
    size_t matched, dropped, gaps, resets;
    bool advanced;          /* last_seq/last_source/last_ts below are new */
    uint64_t last_seq;      /* the symbol's last matched tick after the run */
    char last_source[64];   /* its source */
    int64_t last_ts_ns;     /* its event time */
    exec_run_event *events; /* malloc'd, in the order they happened */
    size_t nevents, cap;
} exec_run;

/* Matches a symbol's ticks, sorted with exec_run_sort, in order against its
 * open orders (time priority), starting after the symbol's last matched
 * tick (last_seq of last_source; seq 0 and "" for a fresh symbol). Each
 * tick is decided with exec_pending_decide (reset_gap, wait_ms): a stale
 * tick (already matched, redelivered, overtaken) is dropped and moves
 * nothing; a WAIT stops the run there. Each order is updated in place;
 * every tick that changed an order adds an event. now_ns is the wall clock
 * for day expiry. TB_NOMEM when the events cannot grow (out is then
 * freed). */
tb_status exec_run_match(const exec_run_tick *ticks, size_t nticks, uint64_t last_seq,
                         const char *last_source, uint64_t reset_gap, int64_t wait_ms,
                         const exec_params *p, int64_t now_ns, exec_order *orders, size_t norders,
                         exec_run *out) TB_WARN_UNUSED;
void exec_run_free(exec_run *r);

#endif
