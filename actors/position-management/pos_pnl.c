/* Position accounting: weighted average cost, realized P&L on reductions and
 * flips, cash, marks. Pure functions; pos_pnl.h states the rounding rules.
 * No I/O, no floating point. */
#include "pos_pnl.h"

#include <string.h>

tb_status pos_side_parse(const char *s, pos_side *out) {
    if (strcmp(s, "buy") == 0)
        *out = POS_BUY;
    else if (strcmp(s, "sell") == 0)
        *out = POS_SELL;
    else
        return TB_INVALID;
    return TB_OK;
}

static int sign_of(tb_fixed v) {
    return (v > 0) - (v < 0);
}

/* v or -v by side: the signed form of a positive amount. Never overflows
 * because the tb_fixed range is symmetric. */
static tb_fixed signed_by(pos_side side, tb_fixed v) {
    return side == POS_BUY ? v : -v;
}

static tb_status overflow(tb_error *err, const char *what) {
    return tb_error_set(err, TB_OVERFLOW, what, "%s out of the fixed-point range", what);
}

static tb_status check_inputs(const pos_state *p, const pos_fill_in *f, tb_error *err) {
    if (f->side != POS_BUY && f->side != POS_SELL)
        return tb_error_set(err, TB_INVALID, "side", "side must be buy or sell");
    if (f->qty <= 0) return tb_error_set(err, TB_INVALID, "qty", "fill quantity must be positive");
    if (f->price <= 0) return tb_error_set(err, TB_INVALID, "price", "fill price must be positive");
    /* A cost basis of the other sign (or left over on a flat position) means
     * the stored state is corrupt; booking on top of it would hide that. */
    if (p->qty == 0 ? p->cost != 0 : sign_of(p->cost) == -sign_of(p->qty))
        return tb_error_set(err, TB_INVALID, "cost_basis",
                            "position state inconsistent: cost basis sign differs from quantity");
    return TB_OK;
}

tb_status pos_apply_fill(const pos_state *before, const pos_fill_in *f, pos_effect *out,
                         tb_error *err) {
    tb_status s = check_inputs(before, f, err);
    if (s != TB_OK) return s;

    pos_effect e;
    memset(&e, 0, sizeof e);
    if (tb_fixed_mul(f->qty, f->price, TB_ROUND_HALF_EVEN, &e.notional) != TB_OK)
        return overflow(err, "notional");
    /* Cash: a buy pays the notional, a sell receives it; the fee always goes out. */
    if (tb_fixed_sub(-signed_by(f->side, e.notional), f->fee, &e.cash_delta) != TB_OK)
        return overflow(err, "cash");
    if (tb_fixed_add(before->qty, signed_by(f->side, f->qty), &e.after.qty) != TB_OK)
        return overflow(err, "qty");

    tb_fixed cost = before->cost, realized_delta = 0, open_notional;
    if (before->qty == 0 || sign_of(before->qty) == (int)f->side) {
        /* Opening or adding: the whole notional joins the cost basis. */
        e.opened_qty = f->qty;
        open_notional = e.notional;
    } else {
        tb_fixed held = tb_fixed_abs(before->qty);
        tb_fixed closed = f->qty < held ? f->qty : held;
        tb_fixed close_notional = e.notional, removed = cost;
        if (closed != f->qty &&
            tb_fixed_mul(closed, f->price, TB_ROUND_HALF_EVEN, &close_notional) != TB_OK)
            return overflow(err, "notional");
        /* The share of the cost basis that leaves with the closed quantity;
         * all of it when the position closes, so nothing is left behind by
         * rounding. */
        if (closed != held &&
            tb_fixed_muldiv(cost, closed, held, TB_ROUND_HALF_EVEN, &removed) != TB_OK)
            return overflow(err, "cost_basis");
        /* Long closed by a sell: proceeds - cost removed. Short closed by a
         * buy: cost removed is negative (what the short received), so
         * -paid - removed = received - paid. */
        if (tb_fixed_sub(-signed_by(f->side, close_notional), removed, &realized_delta) != TB_OK)
            return overflow(err, "realized_pnl");
        if (tb_fixed_sub(cost, removed, &cost) != TB_OK) return overflow(err, "cost_basis");
        e.closed_qty = closed;
        e.opened_qty = f->qty - closed;
        /* The rest of a flip opens the new side at the remainder of the
         * notional, so the two parts add up to the cash moved. */
        open_notional = e.notional - close_notional;
    }
    if (tb_fixed_add(cost, signed_by(f->side, open_notional), &e.after.cost) != TB_OK)
        return overflow(err, "cost_basis");
    if (tb_fixed_add(before->realized, realized_delta, &e.after.realized) != TB_OK)
        return overflow(err, "realized_pnl");
    e.realized_delta = realized_delta;
    *out = e;
    return TB_OK;
}

tb_status pos_avg_cost(const pos_state *p, tb_fixed *out) {
    if (p->qty == 0) {
        *out = 0;
        return TB_OK;
    }
    return tb_fixed_div(tb_fixed_abs(p->cost), tb_fixed_abs(p->qty), TB_ROUND_HALF_EVEN, out);
}

tb_status pos_market_value(const pos_state *p, tb_fixed last, tb_fixed *out) {
    if (last <= 0) {
        *out = p->cost;
        return TB_OK;
    }
    return tb_fixed_mul(p->qty, last, TB_ROUND_HALF_EVEN, out);
}

tb_status pos_unrealized(const pos_state *p, tb_fixed last, tb_fixed *out) {
    return tb_position_unrealized(p->qty, p->cost, last, out);
}

tb_status pos_totals_add(pos_totals *t, const pos_state *p, tb_fixed fees, tb_fixed last) {
    pos_totals n;
    tb_fixed mv, upl;
    tb_status s = pos_market_value(p, last, &mv);
    if (s == TB_OK) s = tb_fixed_sub(mv, p->cost, &upl);
    if (s == TB_OK) s = tb_fixed_add(t->realized, p->realized, &n.realized);
    if (s == TB_OK) s = tb_fixed_add(t->unrealized, upl, &n.unrealized);
    if (s == TB_OK) s = tb_fixed_add(t->fees, fees, &n.fees);
    if (s == TB_OK) s = tb_fixed_add(t->market_value, mv, &n.market_value);
    if (s == TB_OK) *t = n;
    return s;
}

tb_status pos_equity(tb_fixed cash, const pos_totals *t, tb_fixed *out) {
    return tb_fixed_add(cash, t->market_value, out);
}

bool pos_mark_price(tb_fixed last, tb_fixed bid, tb_fixed ask, tb_fixed *out) {
    if (last > 0) {
        *out = last;
        return true;
    }
    if (bid > 0 && ask > 0) {
        /* Both are below TB_FIXED_MAX, so the sum fits an int64 only if we
         * halve first; the midpoint of two positive values always fits. */
        tb_fixed mid;
        if (tb_fixed_muldiv(bid, 1, 2, TB_ROUND_DOWN, &mid) != TB_OK) return false;
        tb_fixed half_ask;
        if (tb_fixed_muldiv(ask, 1, 2, TB_ROUND_DOWN, &half_ask) != TB_OK) return false;
        /* floor(b/2) + floor(a/2) loses the halves of odd operands: add them
         * back, rounding the final half to even. */
        int64_t odd = (bid & 1) + (ask & 1); /* 0, 1 or 2 halves of 1e-8 */
        mid += half_ask;
        if (odd == 2)
            mid += 1;
        else if (odd == 1 && (mid & 1))
            mid += 1;
        *out = mid;
        return true;
    }
    if (bid > 0 || ask > 0) {
        *out = bid > 0 ? bid : ask;
        return true;
    }
    return false;
}

int pos_fill_order(int64_t ts_a, const char *id_a, int64_t ts_b, const char *id_b) {
    if (ts_a != ts_b) return ts_a < ts_b ? -1 : 1;
    int c = strcmp(id_a, id_b);
    return (c > 0) - (c < 0);
}
