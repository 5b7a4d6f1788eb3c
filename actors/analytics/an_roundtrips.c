/* Round trips from fills (see an_roundtrips.h). Exact tb_fixed arithmetic;
 * no I/O. */
#include "an_roundtrips.h"

#include <stdio.h>
#include <string.h>

void an_trips_init(an_trips *t, an_trip_fn fn, void *arg) {
    memset(t, 0, sizeof *t);
    t->fn = fn;
    t->arg = arg;
}

static tb_status overflow(tb_error *err) {
    return tb_error_set(err, TB_OVERFLOW, "qty", "round trip figures out of the fixed-point range");
}

static tb_status emit(an_trips *t, tb_error *err) {
    t->in_trip = false;
    return t->fn ? t->fn(t->arg, &t->cur, err) : TB_OK;
}

tb_status an_trips_finish(an_trips *t, tb_error *err) {
    return t->in_trip ? emit(t, err) : TB_OK;
}

/* The closing part of fill f, which closed c of it: its notional and fee. */
static tb_status closing_share(const an_fill *f, tb_fixed notional, tb_fixed c,
                               tb_fixed *c_notional, tb_fixed *c_fee) {
    if (c == f->qty) {
        *c_notional = notional;
        *c_fee = f->fee;
        return TB_OK;
    }
    if (tb_fixed_mul(c, f->price, TB_ROUND_HALF_EVEN, c_notional) != TB_OK ||
        tb_fixed_muldiv(f->fee, c, f->qty, TB_ROUND_HALF_EVEN, c_fee) != TB_OK)
        return TB_OVERFLOW;
    return TB_OK;
}

tb_status an_trips_add(an_trips *t, const an_fill *f, tb_error *err) {
    if (t->started && strcmp(t->symbol, f->symbol) != 0) {
        /* A new symbol: the last one's position ends its replay here. */
        tb_status s = an_trips_finish(t, err);
        if (s != TB_OK) return s;
        t->pos = (an_position){0, 0};
    }
    t->started = true;
    snprintf(t->symbol, sizeof t->symbol, "%s", f->symbol);
    tb_fixed realized = 0, closed = 0, notional;
    tb_status s = an_position_apply(&t->pos, f->side, f->qty, f->price, &realized, &closed, err);
    if (s != TB_OK) return s;
    if (tb_fixed_mul(f->qty, f->price, TB_ROUND_HALF_EVEN, &notional) != TB_OK)
        return overflow(err);
    tb_fixed open_qty = f->qty, open_notional = notional, open_fee = f->fee;
    if (closed > 0) {
        tb_fixed c_notional, c_fee;
        an_trip *c = &t->cur;
        if (!t->in_trip) /* an_position_apply only closes an open position */
            return tb_error_set(err, TB_ERR, "qty", "fill %s closes no trip", f->fill_id);
        if (closing_share(f, notional, closed, &c_notional, &c_fee) != TB_OK ||
            tb_fixed_add(c->closed_qty, closed, &c->closed_qty) != TB_OK ||
            tb_fixed_add(c->exit_notional, c_notional, &c->exit_notional) != TB_OK ||
            tb_fixed_add(c->pnl, realized, &c->pnl) != TB_OK ||
            tb_fixed_add(c->fees, c_fee, &c->fees) != TB_OK)
            return overflow(err);
        c->exit_ts = f->ts;
        open_qty = f->qty - closed;
        open_notional = notional - c_notional;
        open_fee = f->fee - c_fee;
        if (c->closed_qty == c->opened) {
            c->closed = true;
            if ((s = emit(t, err)) != TB_OK) return s;
        }
    }
    if (open_qty <= 0) return TB_OK;
    if (!t->in_trip) {
        an_trip *n = &t->cur;
        memset(n, 0, sizeof *n);
        snprintf(n->symbol, sizeof n->symbol, "%s", f->symbol);
        snprintf(n->strategy_id, sizeof n->strategy_id, "%s", f->strategy_id);
        n->side = f->side;
        n->entry_ts = f->ts;
        t->in_trip = true;
    }
    an_trip *o = &t->cur;
    if (tb_fixed_add(o->opened, open_qty, &o->opened) != TB_OK ||
        tb_fixed_add(o->entry_notional, open_notional, &o->entry_notional) != TB_OK ||
        tb_fixed_add(o->fees, open_fee, &o->fees) != TB_OK)
        return overflow(err);
    return TB_OK;
}

tb_status an_trip_entry_price(const an_trip *t, tb_fixed *out) {
    if (t->opened <= 0) return TB_INVALID;
    return tb_fixed_div(t->entry_notional, t->opened, TB_ROUND_HALF_EVEN, out);
}

tb_status an_trip_exit_price(const an_trip *t, tb_fixed *out) {
    if (t->closed_qty <= 0) return TB_INVALID;
    return tb_fixed_div(t->exit_notional, t->closed_qty, TB_ROUND_HALF_EVEN, out);
}

tb_status an_trip_net(const an_trip *t, tb_fixed *out) {
    return tb_fixed_sub(t->pnl, t->fees, out);
}
