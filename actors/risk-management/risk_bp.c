/* Buying power; see risk_bp.h for the definitions. Pure: no I/O. */
#include "risk_bp.h"

#include <string.h>

typedef struct fx {
    char s[TB_FIXED_STRLEN];
} fx;
static fx F(tb_fixed v) {
    fx r;
    tb_fixed_format(v, r.s);
    return r;
}

static tb_fixed max0(tb_fixed v) {
    return v > 0 ? v : 0;
}

uint64_t risk_bp_margin_bps(const tb_risk_limits *l) {
    return l->initial_margin_bps ? l->initial_margin_bps : RISK_BP_DEFAULT_MARGIN_BPS;
}

tb_status risk_bp_need_of(const risk_intent *in, tb_fixed price, const risk_bp_facts *bp,
                          uint64_t margin_bps, uint64_t fee_bps, risk_bp_need *out) {
    memset(out, 0, sizeof *out);
    out->is_short = strcmp(in->side, "sell") == 0;
    /* The part of the position this order may still reduce: the short not
     * yet covered by open buys, or the long not yet sold by open sells. */
    tb_fixed left, reducible;
    tb_status s = out->is_short ? tb_fixed_sub(bp->position, bp->open_sell, &left)
                                : tb_fixed_sub(-bp->position, bp->open_buy, &left);
    if (s != TB_OK) return s;
    reducible = max0(left);
    out->opening = in->qty > reducible ? in->qty - reducible : 0;
    if (out->opening == 0 || price <= 0) return TB_OK;
    if ((s = tb_fixed_mul(out->opening, price, TB_ROUND_HALF_EVEN, &out->notional)) != TB_OK ||
        (s = tb_fixed_muldiv(out->notional, (int64_t)fee_bps, 10000, TB_ROUND_CEIL, &out->fee)) !=
            TB_OK)
        return s;
    if (!out->is_short) return tb_fixed_add(out->notional, out->fee, &out->needed);
    tb_fixed beyond;
    if ((s = tb_fixed_muldiv(out->notional, (int64_t)margin_bps, 10000, TB_ROUND_CEIL,
                             &out->margin)) != TB_OK ||
        (s = tb_fixed_sub(out->margin, out->notional, &beyond)) != TB_OK)
        return s;
    return tb_fixed_add(max0(beyond), out->fee, &out->needed);
}

static tb_fixed sat_sub(tb_fixed a, tb_fixed b) {
    tb_fixed d;
    if (tb_fixed_sub(a, b, &d) == TB_OK) return d;
    return b > 0 ? TB_FIXED_MIN : TB_FIXED_MAX;
}

tb_fixed risk_bp_available(const risk_bp_facts *bp, uint64_t fee_bps, tb_fixed taken) {
    tb_fixed fees = 0;
    if (tb_fixed_muldiv(bp->fee_base, (int64_t)fee_bps, 10000, TB_ROUND_CEIL, &fees) != TB_OK)
        return TB_FIXED_MIN;
    return sat_sub(sat_sub(sat_sub(bp->cash, bp->reserved), fees), taken);
}

void risk_bp_check(const risk_intent *in, const risk_facts *f, const risk_bp_facts *avail_bp,
                   tb_fixed *need, risk_verdict *v) {
    if (need) *need = 0;
    /* Unknown accounts, bad quantities and unpriced market orders are
     * reported by their own checks. */
    if (!f->account_known || in->qty <= 0) return;
    /* A reduce-only order never opens anything: it needs no cash or margin. */
    if (in->reduce_only) return;
    tb_fixed price = risk_reference_price(in, &f->quote);
    if (price <= 0) return;
    risk_bp_need n;
    uint64_t bps = risk_bp_margin_bps(f->limits);
    if (risk_bp_need_of(in, price, &f->bp, bps, f->fee_bps, &n) != TB_OK) {
        risk_verdict_add(v, RISK_INSUFFICIENT_BUYING_POWER, NULL,
                         "the cash or margin %s needs overflows", in->side);
        return;
    }
    if (n.needed == 0) return; /* reduces the position only */
    if (avail_bp->unpriced > 0) {
        risk_verdict_add(v, RISK_BUYING_POWER_UNKNOWN, NULL,
                         "%llu open orders of %s have no price to reserve buying power at",
                         (unsigned long long)avail_bp->unpriced, in->account);
        return;
    }
    tb_fixed avail = risk_bp_available(avail_bp, f->fee_bps, f->bp_taken);
    if (n.needed > avail) {
        if (n.is_short)
            risk_verdict_add(v, RISK_INSUFFICIENT_BUYING_POWER, NULL,
                             "needed %s (margin %s = %llu bps of %s, less the proceeds, + fees "
                             "%s), available %s",
                             F(n.needed).s, F(n.margin).s, (unsigned long long)bps, F(n.notional).s,
                             F(n.fee).s, F(avail).s);
        else
            risk_verdict_add(v, RISK_INSUFFICIENT_BUYING_POWER, NULL,
                             "needed %s (%s x %s + fees %s), available %s", F(n.needed).s,
                             F(n.opening).s, F(price).s, F(n.fee).s, F(avail).s);
        return;
    }
    if (need) *need = n.needed;
}

void risk_check_buying_power(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    risk_bp_check(in, f, &f->bp, NULL, v);
}
