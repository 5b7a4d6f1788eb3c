/* The paper venue's matching: one market snapshot against the open orders
 * of one symbol, giving fills (price, quantity, fee, liquidity) and status
 * transitions. Pure: no I/O, no clock (the caller passes now). Rounding
 * rules are documented in exec_domain.h. */
#include "exec_domain.h"

#include <string.h>

#define NS_PER_DAY INT64_C(86400000000000)
#define BPS_DEN    10000

tb_status exec_quote_validate(const exec_quote *q, tb_error *err) {
    const struct {
        tb_fixed v;
        const char *name;
    } f[] = {{q->bid, "bid"},           {q->ask, "ask"},           {q->last, "last"},
             {q->bid_size, "bid_size"}, {q->ask_size, "ask_size"}, {q->last_size, "last_size"}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v < 0) return tb_error_set(err, TB_INVALID, f[i].name, "negative %s", f[i].name);
    if (q->bid > 0 && q->ask > 0 && q->bid > q->ask)
        return tb_error_set(err, TB_INVALID, "bid", "crossed quote: bid above ask");
    return TB_OK;
}

int64_t exec_day_end(int64_t created_ns) {
    int64_t day = created_ns / NS_PER_DAY;
    if (created_ns % NS_PER_DAY < 0) day--; /* floor for times before 1970 */
    return (day + 1) * NS_PER_DAY;
}

bool exec_day_expired(const exec_order *o, int64_t now_ns) {
    return o->tif == EXEC_DAY && now_ns >= exec_day_end(o->created_ns);
}

bool exec_gtd_expired(const exec_order *o, int64_t now_ns) {
    return o->tif == EXEC_GTD && o->expire_ns > 0 && now_ns >= o->expire_ns;
}

/* The price an order of side trades against: the touch of the opposite
 * side, or the last trade when that side is not quoted. 0 when none. */
static tb_fixed touch_for(exec_side side, const exec_quote *q) {
    tb_fixed t = side == EXEC_BUY ? q->ask : q->bid;
    return t > 0 ? t : q->last;
}

tb_fixed exec_trigger_price(exec_side side, const exec_quote *q, exec_trigger trigger) {
    tb_fixed px = trigger == EXEC_TRIGGER_LAST ? q->last : touch_for(side, q);
    return px > 0 ? px : 0;
}

bool exec_stop_hit(const exec_order *o, const exec_quote *q, exec_trigger trigger) {
    tb_fixed px = exec_trigger_price(o->side, q, trigger);
    tb_fixed stop = o->type == EXEC_TRAILING_STOP ? o->trail_stop : o->stop_price;
    if (px <= 0 || stop <= 0) return false;
    return o->side == EXEC_BUY ? px >= stop : px <= stop;
}

tb_status exec_fee_model_validate(const exec_fee_model *m, tb_error *err) {
    if (m->fee_bps < 0 || m->fee_bps > EXEC_BPS_MAX)
        return tb_error_set(err, TB_INVALID, "fee_bps", "fee_bps must be 0..%d", EXEC_BPS_MAX);
    if (m->slippage_bps < 0 || m->slippage_bps > EXEC_BPS_MAX)
        return tb_error_set(err, TB_INVALID, "slippage_bps", "slippage_bps must be 0..%d",
                            EXEC_BPS_MAX);
    if (m->fee_min < 0 || m->fee_min > EXEC_FEE_MIN_MAX)
        return tb_error_set(err, TB_INVALID, "fee_min", "fee_min must be 0..1000000");
    return TB_OK;
}

exec_params exec_params_for(const exec_params *p, const exec_order *o) {
    exec_params e = *p;
    if (o->own_fees) {
        e.slippage_bps = o->fees.slippage_bps;
        e.fee_bps = o->fees.fee_bps;
        e.fee_min = o->fees.fee_min;
    }
    return e;
}

tb_status exec_fee(tb_fixed qty, tb_fixed price, const exec_params *p, tb_fixed *out) {
    tb_fixed notional, fee = 0;
    tb_status s = tb_fixed_mul(qty, price, TB_ROUND_HALF_EVEN, &notional);
    if (s == TB_OK && p->fee_bps > 0)
        s = tb_fixed_muldiv(notional, p->fee_bps, BPS_DEN, TB_ROUND_HALF_UP, &fee);
    if (s != TB_OK) return s;
    if (fee < p->fee_min) fee = p->fee_min;
    *out = fee;
    return TB_OK;
}

tb_status exec_slipped_price(exec_side side, tb_fixed touch, int64_t slippage_bps, tb_fixed *out) {
    tb_fixed px;
    tb_status s =
        side == EXEC_BUY
            ? tb_fixed_muldiv(touch, BPS_DEN + slippage_bps, BPS_DEN, TB_ROUND_CEIL, &px)
            : tb_fixed_muldiv(touch, BPS_DEN - slippage_bps, BPS_DEN, TB_ROUND_FLOOR, &px);
    if (s != TB_OK) return s;
    *out = px > 0 ? px : 1; /* a price is positive: the smallest unit at worst */
    return TB_OK;
}

/* Liquidity on one side of the snapshot, shared by the orders in priority. */
typedef struct pool {
    bool limited;
    tb_fixed left;
} pool;

static pool pool_for(exec_side side, const exec_quote *q) {
    tb_fixed quoted = side == EXEC_BUY ? q->ask : q->bid;
    tb_fixed size = quoted > 0 ? (side == EXEC_BUY ? q->ask_size : q->bid_size) : q->last_size;
    return (pool){.limited = size > 0, .left = size};
}

static void step(exec_order *o, exec_outcome *out, exec_status to, const char *reason) {
    /* Matching only requests transitions the table allows for the states it
     * handles (open orders); a refused one would be a bug, and leaves the
     * order as it was rather than in a state the table forbids. */
    if (out->nsteps >= EXEC_MAX_STEPS || exec_order_transition(o, to, NULL) != TB_OK) {
        out->status = TB_ERR;
        return;
    }
    out->steps[out->nsteps] = to;
    out->reasons[out->nsteps] = reason;
    out->nsteps++;
}

/* Books a fill of qty at price on o (cumulative quantity and average). */
static tb_status book_fill(exec_order *o, tb_fixed qty, tb_fixed price) {
    tb_fixed filled, old_notional = 0, add, total, avg;
    tb_status s = tb_fixed_add(o->filled_qty, qty, &filled);
    if (s == TB_OK && o->filled_qty > 0)
        s = tb_fixed_mul(o->avg_price, o->filled_qty, TB_ROUND_HALF_EVEN, &old_notional);
    if (s == TB_OK) s = tb_fixed_mul(price, qty, TB_ROUND_HALF_EVEN, &add);
    if (s == TB_OK) s = tb_fixed_add(old_notional, add, &total);
    if (s == TB_OK) s = tb_fixed_div(total, filled, TB_ROUND_HALF_EVEN, &avg);
    if (s != TB_OK) return s;
    o->filled_qty = filled;
    o->avg_price = avg > 0 ? avg : price;
    o->fills++;
    return TB_OK;
}

/* Matches one open, accepted order; updates it, its outcome and the pool. */
static void match_one(const exec_quote *q, const exec_params *global, int64_t now_ns, bool arrival,
                      exec_order *o, tb_fixed workable, pool *pl, exec_outcome *out) {
    exec_params own = exec_params_for(global, o);
    const exec_params *p = &own;
    if (exec_day_expired(o, now_ns)) {
        step(o, out, EXEC_EXPIRED, EXEC_REASON_DAY_END);
        return;
    }
    if (exec_gtd_expired(o, q->ts_ns > 0 ? q->ts_ns : now_ns)) { /* event time */
        step(o, out, EXEC_EXPIRED, EXEC_REASON_GTD);
        return;
    }
    if (workable <= 0) return; /* a bracket exit whose entry has not filled yet: dormant */
    bool is_stop =
        o->type == EXEC_STOP || o->type == EXEC_STOP_LIMIT || o->type == EXEC_TRAILING_STOP;
    if (is_stop && !o->triggered) {
        exec_trail_ratchet(o, q, p->trigger); /* the new best price moves it first */
        if (!exec_stop_hit(o, q, p->trigger)) return;
        o->triggered = true;
        out->triggered_now = true;
    }
    tb_fixed touch = touch_for(o->side, q);
    if (touch <= 0) return; /* nothing to trade against on this side: not a chance */

    bool as_market = exec_trades_as_market(o);
    tb_fixed price = touch;
    exec_liquidity liq = EXEC_TAKER;
    bool crosses = true;
    if (as_market) {
        if (exec_slipped_price(o->side, touch, p->slippage_bps, &price) != TB_OK) {
            out->status = TB_OVERFLOW;
            return;
        }
    } else {
        tb_fixed limit = exec_limit_of(o);
        crosses = o->side == EXEC_BUY ? touch <= limit : touch >= limit;
        /* A limit order that rested in the book is the maker when the market
         * comes to it; one that crosses on arrival or on its trigger takes. */
        if (!arrival && !out->triggered_now) liq = EXEC_MAKER;
    }

    tb_fixed leaves = workable;
    tb_fixed qty = !crosses ? 0 : (pl->limited && pl->left < leaves) ? pl->left : leaves;
    if (o->tif == EXEC_FOK && qty < leaves) qty = 0;
    if (qty > 0) {
        tb_fixed fee;
        exec_order before = *o;
        if (exec_fee(qty, price, p, &fee) != TB_OK || book_fill(o, qty, price) != TB_OK) {
            *o = before;
            out->status = TB_OVERFLOW;
            return;
        }
        if (pl->limited) pl->left -= qty;
        out->filled = true;
        out->fill = (exec_fill_calc){.qty = qty, .price = price, .fee = fee, .liquidity = liq};
        step(o, out, o->filled_qty == o->qty ? EXEC_FILLED : EXEC_PARTIALLY_FILLED, NULL);
    }
    if (o->status != EXEC_FILLED && (o->tif == EXEC_IOC || o->tif == EXEC_FOK))
        step(o, out, EXEC_CANCELED, o->tif == EXEC_IOC ? EXEC_REASON_IOC : EXEC_REASON_FOK);
}

static bool is_exit(const exec_order *o) {
    return o->role == EXEC_ROLE_TAKE_PROFIT || o->role == EXEC_ROLE_STOP_LOSS;
}

static bool peer_filled(const exec_order *orders, const exec_order *o) {
    return o->peer > 0 && orders[o->peer - 1].filled_qty > 0;
}

tb_fixed exec_workable(const exec_order *orders, const exec_order *o) {
    tb_fixed leaves = o->qty - o->filled_qty;
    if (!is_exit(o)) return leaves;
    tb_fixed entry = o->entry > 0 ? orders[o->entry - 1].filled_qty : o->entry_filled;
    tb_fixed work = entry - o->filled_qty;
    return work < leaves ? work : leaves;
}

const char *exec_group_cancels(const exec_order *canceled, const exec_order *other) {
    if (!exec_status_is_open(other->status)) return NULL;
    if ((canceled->role == EXEC_ROLE_OCO && other->role == EXEC_ROLE_OCO) ||
        (is_exit(canceled) && is_exit(other)))
        return EXEC_REASON_OCO;
    if (canceled->role == EXEC_ROLE_ENTRY && is_exit(other) && canceled->filled_qty == 0)
        return EXEC_REASON_ENTRY;
    return NULL;
}

void exec_group_link(exec_order *orders, const char *const *group_ids, size_t n) {
    for (size_t i = 0; i < n; i++) orders[i].peer = orders[i].entry = 0;
    for (size_t i = 0; i < n; i++) {
        if (group_ids[i] == NULL || group_ids[i][0] == '\0') continue;
        for (size_t j = i + 1; j < n; j++) {
            if (group_ids[j] == NULL || strcmp(group_ids[i], group_ids[j]) != 0) continue;
            exec_order *a = &orders[i], *b = &orders[j];
            if ((a->role == EXEC_ROLE_OCO && b->role == EXEC_ROLE_OCO) ||
                (is_exit(a) && is_exit(b))) {
                a->peer = j + 1;
                b->peer = i + 1;
            } else if (a->role == EXEC_ROLE_ENTRY && is_exit(b)) {
                b->entry = i + 1;
            } else if (b->role == EXEC_ROLE_ENTRY && is_exit(a)) {
                a->entry = j + 1;
            }
        }
    }
}

void exec_match(const exec_quote *q, const exec_params *p, int64_t now_ns, bool arrival,
                exec_order *orders, size_t n, exec_outcome *out) {
    pool pools[2] = {pool_for(EXEC_BUY, q), pool_for(EXEC_SELL, q)};
    for (size_t i = 0; i < n; i++) {
        exec_outcome *oc = &out[i];
        *oc = (exec_outcome){.status = TB_OK};
        exec_order *o = &orders[i];
        if (o->status != EXEC_ACCEPTED && o->status != EXEC_PARTIALLY_FILLED) continue;
        /* its OCO partner filled first (earlier, or earlier on this snapshot) */
        if (peer_filled(orders, o)) continue;
        match_one(q, p, now_ns, arrival, o, exec_workable(orders, o),
                  &pools[o->side == EXEC_BUY ? 0 : 1], oc);
    }
    /* The fill of one leg cancels the other on the same snapshot, so both are
     * written in one transaction; a leg still new (its message not handled
     * yet) is canceled too and its arrival then changes nothing. */
    for (size_t i = 0; i < n; i++) {
        exec_order *o = &orders[i];
        if (peer_filled(orders, o) && o->filled_qty == 0 && exec_status_is_open(o->status))
            step(o, &out[i], EXEC_CANCELED, EXEC_REASON_OCO);
    }
}

exec_pending_action exec_pending_decide(uint64_t last_seq, const char *last_source, uint64_t seq,
                                        const char *source, uint64_t reset_gap, int64_t age_ms,
                                        int64_t wait_ms) {
    switch (exec_tick_classify(true, last_seq, last_source, seq, source, reset_gap)) {
    case EXEC_TICK_STALE:
        return EXEC_PENDING_DROP;
    case EXEC_TICK_RESET:
        /* A new sequence (a fresh symbol, another or a restarted feed): it
         * starts at once with seq 1; otherwise its first tick may not be the
         * first to arrive, so it waits like a tick after a gap. */
        return seq <= 1 || age_ms >= wait_ms ? EXEC_PENDING_MATCH : EXEC_PENDING_WAIT;
    case EXEC_TICK_NEW:
        break;
    }
    if (seq == last_seq + 1 || age_ms >= wait_ms) return EXEC_PENDING_MATCH;
    return EXEC_PENDING_WAIT;
}

exec_tick_order exec_tick_classify(bool have_last, uint64_t last_seq, const char *last_source,
                                   uint64_t seq, const char *source, uint64_t reset_gap) {
    if (!have_last) return EXEC_TICK_NEW;
    /* another feed's sequence says nothing about this one's */
    const char *a = last_source ? last_source : "", *b = source ? source : "";
    while (*a && *a == *b) a++, b++;
    if (*a != *b) return EXEC_TICK_RESET;
    if (seq > last_seq) return EXEC_TICK_NEW;
    if (reset_gap > 0 && last_seq - seq >= reset_gap) return EXEC_TICK_RESET;
    return EXEC_TICK_STALE;
}
