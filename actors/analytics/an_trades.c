/* Realized P&L per fill and trade counts (see an_trades.h). Exact tb_fixed
 * arithmetic; no I/O. */
#include "an_trades.h"

#include <string.h>

tb_status an_position_apply(an_position *p, int side, tb_fixed qty, tb_fixed price,
                            tb_fixed *realized, tb_fixed *closed, tb_error *err) {
    if (side != 1 && side != -1) return tb_error_set(err, TB_INVALID, "side", "side must be +-1");
    if (qty <= 0) return tb_error_set(err, TB_INVALID, "qty", "qty must be positive");
    if (price <= 0) return tb_error_set(err, TB_INVALID, "price", "price must be positive");
    if ((p->qty == 0) != (p->cost == 0) || (p->qty > 0 && p->cost < 0) ||
        (p->qty < 0 && p->cost > 0))
        return tb_error_set(err, TB_INVALID, "cost", "position cost does not match its qty");
    tb_fixed notional;
    if (tb_fixed_mul(qty, price, TB_ROUND_HALF_EVEN, &notional) != TB_OK) goto overflow;
    an_position n = *p;
    tb_fixed r = 0, c = 0;
    bool adds = p->qty == 0 || (p->qty > 0) == (side > 0);
    if (adds) {
        if (tb_fixed_add(n.cost, side * notional, &n.cost) != TB_OK ||
            tb_fixed_add(n.qty, side * qty, &n.qty) != TB_OK)
            goto overflow;
    } else {
        tb_fixed open_abs = tb_fixed_abs(p->qty);
        c = qty < open_abs ? qty : open_abs;
        tb_fixed closed_notional, cost_removed;
        if (c == qty) {
            closed_notional = notional;
        } else if (tb_fixed_mul(c, price, TB_ROUND_HALF_EVEN, &closed_notional) != TB_OK) {
            goto overflow;
        }
        if (c == open_abs) {
            cost_removed = p->cost;
        } else if (tb_fixed_muldiv(p->cost, c, open_abs, TB_ROUND_HALF_EVEN, &cost_removed) !=
                   TB_OK) {
            goto overflow;
        }
        /* Long: proceeds minus cost. Short (cost < 0): what was received
         * when it opened (-cost) minus what closing it costs now. */
        if (p->qty > 0) {
            if (tb_fixed_sub(closed_notional, cost_removed, &r) != TB_OK) goto overflow;
        } else {
            if (tb_fixed_sub(-cost_removed, closed_notional, &r) != TB_OK) goto overflow;
        }
        if (tb_fixed_sub(n.cost, cost_removed, &n.cost) != TB_OK ||
            tb_fixed_add(n.qty, side * c, &n.qty) != TB_OK)
            goto overflow;
        if (qty > c) { /* through zero: the rest opens the other way */
            tb_fixed open_notional = notional - closed_notional;
            if (tb_fixed_add(n.cost, side * open_notional, &n.cost) != TB_OK ||
                tb_fixed_add(n.qty, side * (qty - c), &n.qty) != TB_OK)
                goto overflow;
        }
    }
    *p = n;
    *realized = r;
    *closed = c;
    return TB_OK;
overflow:
    return tb_error_set(err, TB_OVERFLOW, "qty", "position figures out of the fixed-point range");
}

void an_trades_init(an_trades *t, const char *strategy_id, int64_t from) {
    memset(t, 0, sizeof *t);
    if (strategy_id) snprintf(t->strategy_id, sizeof t->strategy_id, "%s", strategy_id);
    t->from = from;
}

/* <0, 0, >0 as f comes before, with, after g in replay order. */
static int fill_order(const an_fill *f, const an_fill *g) {
    int c = strcmp(f->symbol, g->symbol);
    if (c) return c;
    if (f->ts != g->ts) return f->ts < g->ts ? -1 : 1;
    return strcmp(f->fill_id, g->fill_id);
}

tb_status an_trades_add(an_trades *t, const an_fill *f, tb_error *err) {
    if (t->started && fill_order(&t->last, f) >= 0)
        return tb_error_set(err, TB_INVALID, "fill_id", "fill %s is out of replay order",
                            f->fill_id);
    an_position pos =
        t->started && strcmp(t->last.symbol, f->symbol) == 0 ? t->pos : (an_position){0, 0};
    tb_fixed realized = 0, closed = 0;
    tb_status s = an_position_apply(&pos, f->side, f->qty, f->price, &realized, &closed, err);
    if (s != TB_OK) return s;
    bool counted = f->ts >= t->from &&
                   (t->strategy_id[0] == '\0' || strcmp(t->strategy_id, f->strategy_id) == 0);
    tb_fixed sum_realized = t->realized, sum_fees = t->fees;
    if (counted && (tb_fixed_add(sum_realized, realized, &sum_realized) != TB_OK ||
                    tb_fixed_add(sum_fees, f->fee, &sum_fees) != TB_OK))
        return tb_error_set(err, TB_OVERFLOW, "fee", "trade totals out of the fixed-point range");
    t->pos = pos;
    t->last = *f;
    t->started = true;
    if (counted) {
        t->fills++;
        if (closed > 0) {
            t->closing++;
            if (realized > 0) t->wins++;
        }
        t->realized = sum_realized;
        t->fees = sum_fees;
    }
    return TB_OK;
}
