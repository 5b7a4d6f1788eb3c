/* Portfolio risk; see risk_portfolio.h for the method. Pure: no I/O. */
#include "risk_portfolio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk_bp.h"

/* Index of day in p's bars, or -1 (days ascending: binary search). */
static long bar_of(const risk_pf_position *p, int64_t day) {
    size_t lo = 0, hi = p->nbars;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->days[mid] < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->nbars && p->days[lo] == day ? (long)lo : -1;
}

static int cmp_fixed(const void *a, const void *b) {
    tb_fixed x = *(const tb_fixed *)a, y = *(const tb_fixed *)b;
    return (x > y) - (x < y);
}

tb_fixed risk_var_quantile(tb_fixed *pnl, size_t n, unsigned pct) {
    if (n == 0 || pct >= 100) return 0;
    qsort(pnl, n, sizeof *pnl, cmp_fixed);
    size_t k = ((100 - pct) * n + 99) / 100; /* ceil((100 - pct) n / 100) >= 1 */
    tb_fixed worst = pnl[k - 1];
    return worst < 0 ? -worst : 0;
}

/* The scenario P&L of day for the positions: sum of value x return. */
static tb_status scenario_pnl(const risk_pf_position *p, size_t n, int64_t day, tb_fixed *out) {
    tb_fixed sum = 0;
    for (size_t i = 0; i < n; i++) {
        long k = bar_of(&p[i], day);
        if (k < 1) return TB_NOT_FOUND; /* checked by the caller */
        tb_fixed prev = p[i].closes[k - 1], cur = p[i].closes[k], value, move, pnl;
        if (prev <= 0) return TB_INVALID;
        tb_status s = tb_fixed_mul(p[i].qty, p[i].mark, TB_ROUND_HALF_EVEN, &value);
        if (s == TB_OK) s = tb_fixed_sub(cur, prev, &move);
        if (s == TB_OK) s = tb_fixed_muldiv(value, move, prev, TB_ROUND_HALF_EVEN, &pnl);
        if (s == TB_OK) s = tb_fixed_add(sum, pnl, &sum);
        if (s != TB_OK) return s;
    }
    *out = sum;
    return TB_OK;
}

tb_status risk_var_historical(const risk_pf_position *p, size_t n, size_t lookback, risk_var *out) {
    memset(out, 0, sizeof *out);
    if (n == 0 || lookback == 0) return TB_OK;
    /* Scenario days: the first position's return days (newest first) on
     * which every other position has a return too. */
    const risk_pf_position *lead = &p[0];
    tb_fixed *pnl = calloc(lookback, sizeof *pnl);
    if (pnl == NULL) return TB_NOMEM;
    size_t m = 0;
    tb_status s = TB_OK;
    for (size_t k = lead->nbars; k-- > 1 && m < lookback && s == TB_OK;) {
        int64_t day = lead->days[k];
        bool everywhere = true;
        for (size_t i = 1; i < n && everywhere; i++) everywhere = bar_of(&p[i], day) >= 1;
        if (!everywhere) continue;
        s = scenario_pnl(p, n, day, &pnl[m]);
        if (s == TB_OK) m++;
    }
    if (s == TB_OK) {
        out->days = m;
        out->var95 = risk_var_quantile(pnl, m, 95);
        out->var99 = risk_var_quantile(pnl, m, 99);
    }
    free(pnl);
    return s;
}

tb_status risk_pf_position_figures(const risk_pf_position *p, tb_fixed gross, uint64_t margin_bps,
                                   tb_position_risk *out) {
    snprintf(out->symbol, sizeof out->symbol, "%s", p->symbol);
    out->qty = p->qty;
    out->mark = p->mark;
    tb_status s = tb_fixed_mul(p->qty, p->mark, TB_ROUND_HALF_EVEN, &out->market_value);
    if (s != TB_OK) return s;
    out->exposure = tb_fixed_abs(out->market_value);
    out->concentration = 0;
    if (gross > 0 && (s = tb_fixed_muldiv(out->exposure, TB_FIXED_SCALE, gross, TB_ROUND_HALF_EVEN,
                                          &out->concentration)) != TB_OK)
        return s;
    out->margin_used = 0;
    if (p->qty < 0)
        s = tb_fixed_muldiv(out->exposure, (int64_t)margin_bps, 10000, TB_ROUND_CEIL,
                            &out->margin_used);
    return s;
}

tb_status risk_pf_assess(const char *account, const risk_pf_position *p, size_t n,
                         const risk_bp_facts *bp, uint64_t margin_bps, uint64_t fee_bps,
                         size_t lookback, tb_account_risk *out, tb_position_risk *items) {
    memset(out, 0, sizeof *out);
    snprintf(out->account, sizeof out->account, "%s", account);
    tb_status s = TB_OK;
    tb_fixed gross = 0, net = 0;
    for (size_t i = 0; i < n && s == TB_OK; i++) {
        tb_fixed mv;
        s = tb_fixed_mul(p[i].qty, p[i].mark, TB_ROUND_HALF_EVEN, &mv);
        if (s == TB_OK) s = tb_fixed_add(gross, tb_fixed_abs(mv), &gross);
        if (s == TB_OK) s = tb_fixed_add(net, mv, &net);
    }
    if (s != TB_OK) return s;
    out->cash = bp->cash;
    out->gross_exposure = gross;
    out->net_exposure = net;
    if ((s = tb_fixed_add(bp->cash, net, &out->equity)) != TB_OK) return s;
    if (out->equity > 0 && (s = tb_fixed_muldiv(gross, TB_FIXED_SCALE, out->equity,
                                                TB_ROUND_HALF_EVEN, &out->leverage)) != TB_OK)
        return s;
    out->margin_rate_bps = margin_bps;
    out->margin_used = bp->margin_used;
    if ((s = tb_fixed_sub(bp->cash, bp->margin_used, &out->margin_available)) != TB_OK) return s;
    out->buying_power = risk_bp_available(bp, fee_bps, 0);
    if ((s = tb_fixed_sub(out->margin_available, out->buying_power, &out->reserved)) != TB_OK)
        return s;
    risk_var v;
    if ((s = risk_var_historical(p, n, lookback, &v)) != TB_OK) return s;
    out->var_95 = v.var95;
    out->var_99 = v.var99;
    out->var_days = v.days;
    for (size_t i = 0; items && i < n && s == TB_OK; i++) {
        memset(&items[i], 0, sizeof items[i]);
        snprintf(items[i].account, sizeof items[i].account, "%s", account);
        s = risk_pf_position_figures(&p[i], gross, margin_bps, &items[i]);
        if (s == TB_OK) s = risk_var_historical(&p[i], 1, lookback, &v);
        if (s == TB_OK) {
            items[i].var_95 = v.var95;
            items[i].var_99 = v.var99;
            items[i].var_days = v.days;
        }
    }
    return s;
}
