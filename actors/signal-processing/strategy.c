/* The per-tick decision of each strategy kind (rules in strategy.h). The
 * step works on a copy of the state and commits it only when everything
 * succeeded, so an error never leaves a half-advanced state behind. */
#include <stdio.h>
#include <string.h>

#include "strategy.h"

void sp_state_init(sp_state *s, const sp_params *p, int64_t cfg_version) {
    memset(s, 0, sizeof *s);
    s->kind = p->kind;
    s->cfg_version = cfg_version;
    switch (p->kind) {
    case SP_KIND_SMA_CROSS:
        sp_sma_init(&s->u.sma.fast, p->fast);
        sp_sma_init(&s->u.sma.slow, p->slow);
        break;
    case SP_KIND_EMA_CROSS:
        sp_ema_init(&s->u.ema.fast, p->fast);
        sp_ema_init(&s->u.ema.slow, p->slow);
        break;
    case SP_KIND_RSI:
        sp_rsi_init(&s->u.rsi, p->period);
        break;
    case SP_KIND_BOLLINGER:
        sp_bollinger_init(&s->u.boll, p->period, p->k);
        break;
    case SP_KIND_DONCHIAN:
        sp_donchian_init(&s->u.don, p->period);
        break;
    default:
        break;
    }
}

/* Whether s was built for exactly these parameters. */
static bool state_matches(const sp_params *p, const sp_state *s) {
    if (s->kind != p->kind) return false;
    switch (p->kind) {
    case SP_KIND_SMA_CROSS:
        return s->u.sma.fast.w.cap == p->fast && s->u.sma.slow.w.cap == p->slow;
    case SP_KIND_EMA_CROSS:
        return s->u.ema.fast.period == p->fast && s->u.ema.slow.period == p->slow;
    case SP_KIND_RSI:
        return s->u.rsi.period == p->period;
    case SP_KIND_BOLLINGER:
        return s->u.boll.w.cap == p->period && s->u.boll.k == p->k;
    case SP_KIND_DONCHIAN:
        return s->u.don.w.cap == p->period;
    default:
        return false;
    }
}

/* A cross fires when the new non-zero relation differs from the last one;
 * equality (0) is not a relation, so flat prices and touches never fire. */
static sp_side cross(sp_state *s, int rel) {
    if (rel == 0) return SP_SIDE_NONE;
    sp_side side = SP_SIDE_NONE;
    if (s->relation != 0 && rel != s->relation) side = rel > 0 ? SP_SIDE_BUY : SP_SIDE_SELL;
    s->relation = (int8_t)rel;
    return side;
}

/* Zones (-1 below the lower level, 0 between, +1 above): entering -1 buys,
 * entering +1 sells. */
static sp_side enter_zone(sp_state *s, int zone) {
    sp_side side = SP_SIDE_NONE;
    if (zone != s->relation) side = zone < 0 ? SP_SIDE_BUY : zone > 0 ? SP_SIDE_SELL : SP_SIDE_NONE;
    s->relation = (int8_t)zone;
    return side;
}

static const char *fmt(tb_fixed v, char buf[TB_FIXED_STRLEN]) {
    tb_fixed_format(v, buf);
    return buf;
}

static tb_status step_sma(const sp_params *p, sp_state *s, tb_fixed price, sp_decision *d) {
    sp_sma_update(&s->u.sma.fast, price);
    if (!sp_sma_update(&s->u.sma.slow, price)) return TB_OK;
    d->ready = true;
    tb_fixed f, sl;
    tb_status st = sp_sma_value(&s->u.sma.fast, &f);
    if (st == TB_OK) st = sp_sma_value(&s->u.sma.slow, &sl);
    if (st != TB_OK) return st;
    d->side = cross(s, sp_sma_cmp(&s->u.sma.fast, &s->u.sma.slow));
    char a[TB_FIXED_STRLEN], b[TB_FIXED_STRLEN];
    if (d->side != SP_SIDE_NONE)
        snprintf(d->reason, sizeof d->reason, "SMA(%u) %s crossed %s SMA(%u) %s", p->fast,
                 fmt(f, a), d->side == SP_SIDE_BUY ? "above" : "below", p->slow, fmt(sl, b));
    return TB_OK;
}

static tb_status step_ema(const sp_params *p, sp_state *s, tb_fixed price, sp_decision *d) {
    bool rf = false, rs = false;
    tb_status st = sp_ema_update(&s->u.ema.fast, price, &rf);
    if (st == TB_OK) st = sp_ema_update(&s->u.ema.slow, price, &rs);
    if (st != TB_OK || !rf || !rs) return st;
    d->ready = true;
    tb_fixed f = s->u.ema.fast.value, sl = s->u.ema.slow.value;
    d->side = cross(s, (f > sl) - (f < sl));
    char a[TB_FIXED_STRLEN], b[TB_FIXED_STRLEN];
    if (d->side != SP_SIDE_NONE)
        snprintf(d->reason, sizeof d->reason, "EMA(%u) %s crossed %s EMA(%u) %s", p->fast,
                 fmt(f, a), d->side == SP_SIDE_BUY ? "above" : "below", p->slow, fmt(sl, b));
    return TB_OK;
}

static tb_status step_rsi(const sp_params *p, sp_state *s, tb_fixed price, sp_decision *d) {
    bool ready = false;
    tb_status st = sp_rsi_update(&s->u.rsi, price, &ready);
    if (st != TB_OK || !ready) return st;
    d->ready = true;
    if (!sp_rsi_defined(&s->u.rsi)) return TB_OK; /* no movement in the whole lookback */
    int zone = sp_rsi_cmp_level(&s->u.rsi, p->lower) < 0   ? -1
               : sp_rsi_cmp_level(&s->u.rsi, p->upper) > 0 ? 1
                                                           : 0;
    d->side = enter_zone(s, zone);
    tb_fixed v;
    st = sp_rsi_value(&s->u.rsi, &v);
    if (st != TB_OK) return st;
    char a[TB_FIXED_STRLEN], b[TB_FIXED_STRLEN];
    if (d->side != SP_SIDE_NONE)
        snprintf(d->reason, sizeof d->reason, "RSI(%u) %s %s %s", p->period, fmt(v, a),
                 d->side == SP_SIDE_BUY ? "below" : "above",
                 fmt(d->side == SP_SIDE_BUY ? p->lower : p->upper, b));
    return TB_OK;
}

static tb_status step_bollinger(const sp_params *p, sp_state *s, tb_fixed price, sp_decision *d) {
    if (!sp_bollinger_update(&s->u.boll, price)) return TB_OK;
    d->ready = true;
    sp_bands bands;
    tb_status st = sp_bollinger_bands(&s->u.boll, &bands);
    if (st != TB_OK) return st;
    int zone = price < bands.lower ? -1 : price > bands.upper ? 1 : 0;
    d->side = enter_zone(s, zone);
    char a[TB_FIXED_STRLEN], b[TB_FIXED_STRLEN];
    if (d->side != SP_SIDE_NONE)
        snprintf(d->reason, sizeof d->reason, "price %s %s the %s Bollinger band(%u) %s",
                 fmt(price, a), d->side == SP_SIDE_BUY ? "below" : "above",
                 d->side == SP_SIDE_BUY ? "lower" : "upper", p->period,
                 fmt(d->side == SP_SIDE_BUY ? bands.lower : bands.upper, b));
    return TB_OK;
}

static tb_status step_donchian(const sp_params *p, sp_state *s, tb_fixed price, sp_decision *d) {
    tb_fixed lo = 0, hi = 0;
    bool had = sp_donchian_channel(&s->u.don, &lo, &hi);
    int breakout = 0;
    if (!sp_donchian_update(&s->u.don, price, &breakout) || !had) return TB_OK;
    d->ready = true;
    sp_side want = breakout > 0 ? SP_SIDE_BUY : breakout < 0 ? SP_SIDE_SELL : SP_SIDE_NONE;
    if (want == SP_SIDE_NONE || want == s->last_side) return TB_OK;
    d->side = want;
    s->last_side = (int8_t)want;
    char a[TB_FIXED_STRLEN], b[TB_FIXED_STRLEN];
    snprintf(d->reason, sizeof d->reason, "price %s broke %s the %u-tick %s %s", fmt(price, a),
             want == SP_SIDE_BUY ? "above" : "below", p->period,
             want == SP_SIDE_BUY ? "high" : "low", fmt(want == SP_SIDE_BUY ? hi : lo, b));
    return TB_OK;
}

tb_status sp_step(const sp_params *p, sp_state *s, tb_fixed price, sp_decision *out) {
    sp_decision d = {.side = SP_SIDE_NONE};
    if (!state_matches(p, s)) return TB_INVALID;
    /* The state is large (windows of up to SP_MAX_PERIOD prices) but plain
     * data; working on a copy makes the step all-or-nothing. */
    sp_state next = *s;
    tb_status st;
    switch (p->kind) {
    case SP_KIND_SMA_CROSS:
        st = step_sma(p, &next, price, &d);
        break;
    case SP_KIND_EMA_CROSS:
        st = step_ema(p, &next, price, &d);
        break;
    case SP_KIND_RSI:
        st = step_rsi(p, &next, price, &d);
        break;
    case SP_KIND_BOLLINGER:
        st = step_bollinger(p, &next, price, &d);
        break;
    case SP_KIND_DONCHIAN:
        st = step_donchian(p, &next, price, &d);
        break;
    default:
        st = TB_INVALID;
        break;
    }
    if (st != TB_OK) return st;
    *s = next;
    *out = d;
    return TB_OK;
}

int64_t sp_bar_start(int64_t ts, int64_t bar_ns) {
    int64_t r = ts % bar_ns;
    if (r < 0) r += bar_ns; /* % truncates toward zero; a bar starts at or before ts */
    return ts - r;
}

tb_status sp_bar_feed(const sp_params *p, sp_state *s, uint64_t seq, int64_t ts, tb_fixed price,
                      const char *trace, sp_decision *out, sp_bar *closed) {
    *out = (sp_decision){.side = SP_SIDE_NONE};
    if (p->bar_ns <= 0) return TB_INVALID;
    int64_t start = sp_bar_start(ts, p->bar_ns);
    sp_bar *b = &s->bar;
    tb_status st = TB_OK;
    if (b->open && start > b->start) {
        sp_decision d;
        st = sp_step(p, s, b->close, &d);
        if (st == TB_OK) *out = d;
        *closed = *b;
        b->open = false;
    }
    if (!b->open) {
        b->open = true;
        b->start = start;
    }
    b->close = price;
    b->seq = seq;
    b->ts = ts;
    snprintf(b->trace, sizeof b->trace, "%s", trace ? trace : "");
    return st;
}
