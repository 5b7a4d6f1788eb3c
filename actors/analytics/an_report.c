/* The performance reply (see an_report.h). No I/O. */
#include "an_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPANS_INITIAL 64

void an_trip_stats_init(an_trip_stats *s, const char *strategy_id, int64_t from) {
    memset(s, 0, sizeof *s);
    if (strategy_id) snprintf(s->strategy_id, sizeof s->strategy_id, "%s", strategy_id);
    s->from = from;
}

void an_trip_stats_free(an_trip_stats *s) {
    free(s->spans);
    s->spans = NULL;
    s->nspans = s->cap = 0;
}

tb_status an_trip_stats_add(void *stats, const an_trip *t, tb_error *err) {
    an_trip_stats *s = stats;
    if (s->strategy_id[0] && strcmp(s->strategy_id, t->strategy_id) != 0) return TB_OK;
    if (s->nspans == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : SPANS_INITIAL;
        an_span *p = cap <= SIZE_MAX / sizeof *p ? realloc(s->spans, cap * sizeof *p) : NULL;
        if (p == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory for round trips");
        s->spans = p;
        s->cap = cap;
    }
    s->spans[s->nspans++] = (an_span){t->entry_ts, t->closed ? t->exit_ts : INT64_MAX};
    if (!t->closed || t->exit_ts < s->from) return TB_OK;
    tb_fixed net;
    if (an_trip_net(t, &net) != TB_OK || tb_fixed_add(s->net, net, &s->net) != TB_OK ||
        (net > 0 && tb_fixed_add(s->win_sum, net, &s->win_sum) != TB_OK) ||
        (net < 0 && tb_fixed_add(s->loss_sum, net, &s->loss_sum) != TB_OK))
        return tb_error_set(err, TB_OVERFLOW, "pnl", "round trip P&L out of range");
    s->round_trips++;
    if (net > 0) s->wins++;
    if (net < 0) s->losses++;
    return TB_OK;
}

static int cmp_span(const void *x, const void *y) {
    const an_span *a = x, *b = y;
    return (a->a > b->a) - (a->a < b->a);
}

an_value an_exposure(an_span *spans, size_t n, int64_t start, int64_t end) {
    if (end <= start) return (an_value){NAN, "no time elapsed"};
    if (n > 1) qsort(spans, n, sizeof *spans, cmp_span); /* spans is NULL when n is 0 */
    /* Sweep the spans by start, clipped to [start, end]: covered time only
     * counts past the furthest end seen so far, so overlaps count once. */
    double covered = 0;
    int64_t reach = start;
    for (size_t i = 0; i < n; i++) {
        int64_t a = spans[i].a > reach ? spans[i].a : reach;
        int64_t b = spans[i].b < end ? spans[i].b : end;
        if (b > a) {
            covered += (double)(b - a);
            reach = b;
        }
    }
    return (an_value){covered / (double)(end - start), NULL};
}

an_value an_buy_hold(const tb_fixed *first, const tb_fixed *last, size_t n) {
    if (n == 0) return (an_value){NAN, "no traded symbol"};
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (first[i] <= 0) return (an_value){NAN, "a symbol's first price is not positive"};
        sum += tb_fixed_to_double(last[i]) / tb_fixed_to_double(first[i]) - 1.0;
    }
    return (an_value){sum / (double)n, NULL};
}

double an_round_sig(double x) {
    if (!isfinite(x) || x == 0) return x;
    char buf[40];
    snprintf(buf, sizeof buf, "%.*e", AN_SIG_DIGITS - 1, x);
    return strtod(buf, NULL);
}

void an_nulls_add(an_nulls *z, const char *field, const char *why) {
    if (z->n == AN_MAX_NULLS) return;
    z->field[z->n] = field;
    z->why[z->n] = why;
    z->n++;
}

void an_nulls_format(const an_nulls *z, char *out, size_t cap) {
    size_t len = 0;
    bool done[AN_MAX_NULLS] = {false};
    if (cap == 0) return;
    out[0] = '\0';
    for (size_t i = 0; i < z->n; i++) {
        if (done[i]) continue;
        char group[TB_TEXT_CAP];
        size_t g = 0;
        for (size_t j = i; j < z->n; j++) {
            if (done[j] || strcmp(z->why[j], z->why[i]) != 0) continue;
            done[j] = true;
            int k = snprintf(group + g, sizeof group - g, "%s%s", g ? ", " : "", z->field[j]);
            if (k < 0 || (size_t)k >= sizeof group - g) return;
            g += (size_t)k;
        }
        int k = snprintf(group + g, sizeof group - g, ": %s", z->why[i]);
        if (k < 0 || (size_t)k >= sizeof group - g) return;
        g += (size_t)k;
        const char *sep = len ? "; " : "";
        /* Room for the separator, the group, and a trailing "; ..." later. */
        if (len + strlen(sep) + g + 6 > cap) {
            if (len + 6 <= cap) snprintf(out + len, cap - len, "%s...", len ? "; " : "");
            return;
        }
        len += (size_t)snprintf(out + len, cap - len, "%s%s", sep, group);
    }
}

void an_report_drawdowns(tb_equity_point *pts, size_t n, double prior_peak) {
    double peak = prior_peak;
    for (size_t i = 0; i < n; i++) {
        double v = tb_fixed_to_double(pts[i].equity);
        if (isnan(peak) || v > peak) peak = v;
        pts[i].drawdown = peak > 0 ? an_round_sig((peak - v) / peak) : TB_NULL_F64;
    }
}

/* A statistic into its field, or null with the reason noted. */
static void stat(double *dst, an_value v, const char *name, an_nulls *z) {
    /* The wire carries no infinities: an overflowing ratio is no value. */
    if (!v.why && !isfinite(v.v)) v.why = "not finite";
    if (v.why) {
        *dst = TB_NULL_F64;
        an_nulls_add(z, name, v.why);
    } else {
        *dst = an_round_sig(v.v);
    }
}

static void null_int(int64_t *dst, const char *name, const char *why, an_nulls *z) {
    *dst = TB_NULL_INT;
    an_nulls_add(z, name, why);
}

/* sum / n in money, or null with why when n is 0. */
static tb_status mean_money(tb_fixed *dst, tb_fixed sum, uint64_t n, const char *name,
                            const char *why, an_nulls *z) {
    if (n == 0) {
        null_int(dst, name, why, z);
        return TB_OK;
    }
    if (n > INT64_MAX) return TB_OVERFLOW;
    return tb_fixed_muldiv(sum, 1, (int64_t)n, TB_ROUND_HALF_EVEN, dst);
}

static void curve_stats(tb_performance *p, const an_summary *m, an_nulls *z) {
    stat(&p->total_return, m->total_return, "total_return", z);
    stat(&p->cagr, m->cagr, "cagr", z);
    stat(&p->volatility, m->volatility, "volatility", z);
    stat(&p->sharpe, m->sharpe, "sharpe", z);
    stat(&p->sortino, m->sortino, "sortino", z);
    stat(&p->calmar, m->calmar, "calmar", z);
    stat(&p->max_drawdown, m->max_drawdown, "max_drawdown", z);
    if (m->why_drawdown) {
        null_int(&p->drawdown_peak, "drawdown_peak", m->why_drawdown, z);
        null_int(&p->drawdown_trough, "drawdown_trough", m->why_drawdown, z);
    } else {
        p->drawdown_peak = m->dd_peak_ts;
        p->drawdown_trough = m->dd_trough_ts;
    }
    if (m->why_recovery)
        null_int(&p->drawdown_recovery, "drawdown_recovery", m->why_recovery, z);
    else
        p->drawdown_recovery = m->dd_recovery_ts;
    stat(&p->var_95, m->var_95, "var_95", z);
    p->returns = m->returns;
}

static void no_curve(tb_performance *p, an_nulls *z) {
    static const char why[] = "equity is per account";
    null_int(&p->equity, "equity", why, z);
    an_value none = {NAN, why};
    an_summary m = {.total_return = none,
                    .cagr = none,
                    .volatility = none,
                    .sharpe = none,
                    .sortino = none,
                    .calmar = none,
                    .max_drawdown = none,
                    .var_95 = none,
                    .why_drawdown = why,
                    .why_recovery = why};
    curve_stats(p, &m, z);
    stat(&p->exposure, none, "exposure", z);
}

tb_status an_report_fill(tb_performance *p, const an_summary *m, tb_fixed first, tb_fixed last,
                         const an_trades *trades, an_trip_stats *trips, an_value buy_hold,
                         tb_error *err) {
    an_nulls z = {0};
    p->fills = trades->fills;
    p->fees = trades->fees;
    if (m == NULL) {
        /* A strategy has no equity curve of its own: its P&L is what its
         * fills realized, net of their fees. */
        if (tb_fixed_sub(trades->realized, trades->fees, &p->pnl) != TB_OK)
            return tb_error_set(err, TB_OVERFLOW, "pnl", "strategy P&L out of range");
        no_curve(p, &z);
    } else {
        if (m->points > 0) {
            p->equity = last;
            if (tb_fixed_sub(last, first, &p->pnl) != TB_OK)
                return tb_error_set(err, TB_OVERFLOW, "pnl", "P&L out of range");
            p->from = m->from;
            p->to = m->to;
        } else {
            null_int(&p->equity, "equity", "no equity points", &z);
            null_int(&p->pnl, "pnl", "no equity points", &z);
        }
        curve_stats(p, m, &z);
        an_value e = m->points > 0 ? an_exposure(trips->spans, trips->nspans, m->from, m->to)
                                   : (an_value){NAN, "no equity points"};
        stat(&p->exposure, e, "exposure", &z);
    }
    p->round_trips = trips->round_trips;
    if (trips->round_trips == 0) {
        stat(&p->win_rate, (an_value){NAN, "no closed round trips"}, "win_rate", &z);
    } else {
        double rate = (double)trips->wins / (double)trips->round_trips;
        stat(&p->win_rate, (an_value){rate, NULL}, "win_rate", &z);
    }
    if (trips->losses == 0)
        stat(&p->profit_factor, (an_value){NAN, "no losing round trips"}, "profit_factor", &z);
    else
        stat(&p->profit_factor,
             (an_value){tb_fixed_to_double(trips->win_sum) / -tb_fixed_to_double(trips->loss_sum),
                        NULL},
             "profit_factor", &z);
    if (mean_money(&p->expectancy, trips->net, trips->round_trips, "expectancy",
                   "no closed round trips", &z) != TB_OK ||
        mean_money(&p->avg_win, trips->win_sum, trips->wins, "avg_win", "no winning round trips",
                   &z) != TB_OK ||
        mean_money(&p->avg_loss, trips->loss_sum, trips->losses, "avg_loss",
                   "no losing round trips", &z) != TB_OK)
        return tb_error_set(err, TB_OVERFLOW, "expectancy", "round trip means out of range");
    stat(&p->buy_hold_return, buy_hold, "buy_hold_return", &z);
    an_nulls_format(&z, p->null_reasons, sizeof p->null_reasons);
    return TB_OK;
}
