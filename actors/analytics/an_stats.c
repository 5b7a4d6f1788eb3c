/* Performance statistics of an equity curve (see an_stats.h). Streaming:
 * one pass, constant memory. No I/O. */
#include "an_stats.h"

#include <math.h>
#include <string.h>

void an_series_init(an_series *s, int64_t period_ns) {
    memset(s, 0, sizeof *s);
    s->period_ns = period_ns > 0 ? period_ns : 1;
}

/* floor(ts / period), also before the epoch. */
static int64_t period_of(int64_t ts, int64_t period_ns) {
    int64_t q = ts / period_ns;
    return (ts % period_ns < 0) ? q - 1 : q;
}

/* Folds one period's closing value into the returns. */
static void close_period(an_series *s, double v) {
    if (s->have_prev) {
        if (s->prev > 0) {
            double r = v / s->prev - 1.0;
            s->returns++;
            double d = r - s->mean;
            s->mean += d / (double)s->returns;
            s->m2 += d * (r - s->mean);
            if (r < 0) s->down_sq += r * r;
        } else {
            s->skipped++;
        }
    }
    s->prev = v;
    s->have_prev = true;
}

tb_status an_series_add(an_series *s, int64_t ts, double v) {
    if (!isfinite(v)) return TB_INVALID;
    if (s->points > 0 && ts < s->last_ts) return TB_INVALID;
    int64_t p = period_of(ts, s->period_ns);
    if (s->in_period && p != s->period) close_period(s, s->period_last);
    s->in_period = true;
    s->period = p;
    s->period_last = v;
    if (s->points == 0) {
        s->first = v;
        s->first_ts = ts;
        s->peak = v;
    }
    s->points++;
    s->last = v;
    s->last_ts = ts;
    if (v > s->peak) s->peak = v;
    if (s->peak > 0) {
        double dd = (s->peak - v) / s->peak;
        if (dd > s->max_drawdown) s->max_drawdown = dd;
    }
    return TB_OK;
}

void an_series_finish(const an_series *s, double periods_per_year, an_summary *out) {
    memset(out, 0, sizeof *out);
    if (s->points == 0) return;
    /* The open period counts as complete for a summary taken now. */
    an_series t = *s;
    close_period(&t, t.period_last);
    double ann = periods_per_year > 0 ? sqrt(periods_per_year) : 0;
    out->points = t.points;
    out->returns = t.returns;
    out->from = t.first_ts;
    out->to = t.last_ts;
    out->first = t.first;
    out->last = t.last;
    out->total_return = t.first > 0 ? t.last / t.first - 1.0 : 0;
    out->max_drawdown = t.max_drawdown;
    out->mean_return = t.returns ? t.mean : 0;
    if (t.returns >= 2) {
        out->stdev = sqrt(t.m2 / (double)(t.returns - 1));
        out->volatility = out->stdev * ann;
        if (out->stdev > 0) out->sharpe = t.mean / out->stdev * ann;
    }
    if (t.returns >= 1) {
        double dd = sqrt(t.down_sq / (double)t.returns);
        if (dd > 0) out->sortino = t.mean / dd * ann;
    }
}

double an_periods_per_year(int64_t period_ns, double trading_days) {
    const double day_ns = 86400.0 * 1e9;
    if (period_ns <= 0) return 0;
    return trading_days * day_ns / (double)period_ns;
}

double an_win_rate(uint64_t wins, uint64_t closing) {
    return closing ? (double)wins / (double)closing : 0;
}
