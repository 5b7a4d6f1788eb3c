/* Performance statistics of an equity curve (see an_stats.h). One pass;
 * constant memory except one double per day. No I/O. */
#include "an_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAY_NS        INT64_C(86400000000000)
#define YEAR_DAYS     365.25
#define VAR_TAIL      0.05
#define DAILY_INITIAL 64

static an_value value(double v) {
    return (an_value){v, NULL};
}

static an_value undefined(const char *why) {
    return (an_value){NAN, why};
}

void an_series_init(an_series *s, int64_t period_ns, double rf) {
    memset(s, 0, sizeof *s);
    s->period_ns = period_ns > 0 ? period_ns : 1;
    s->rf = isfinite(rf) ? rf : 0;
}

void an_series_free(an_series *s) {
    free(s->daily);
    s->daily = NULL;
    s->ndaily = s->cap_daily = 0;
}

/* floor(ts / len), also before the epoch. */
static int64_t bucket_of(int64_t ts, int64_t len) {
    int64_t q = ts / len;
    return (ts % len < 0) ? q - 1 : q;
}

/* Folds one period's closing value into the excess returns. */
static void close_period(an_series *s, double v) {
    if (s->have_prev) {
        if (s->prev > 0) {
            double x = v / s->prev - 1.0 - s->rf;
            s->returns++;
            double d = x - s->mean;
            s->mean += d / (double)s->returns;
            s->m2 += d * (x - s->mean);
            if (x < 0) s->down_sq += x * x;
        } else {
            s->skipped++;
        }
    }
    s->prev = v;
    s->have_prev = true;
}

/* Makes room for one more daily return. */
static tb_status reserve_day(an_series *s) {
    if (s->ndaily < s->cap_daily) return TB_OK;
    size_t cap = s->cap_daily ? s->cap_daily * 2 : DAILY_INITIAL;
    if (cap > SIZE_MAX / sizeof *s->daily) return TB_NOMEM;
    double *d = realloc(s->daily, cap * sizeof *d);
    if (d == NULL) return TB_NOMEM;
    s->daily = d;
    s->cap_daily = cap;
    return TB_OK;
}

/* Folds one UTC day's closing value into the daily returns (room for it
 * was reserved). */
static void close_day(an_series *s, double v) {
    if (s->have_prev_day && s->prev_day > 0) s->daily[s->ndaily++] = v / s->prev_day - 1.0;
    s->prev_day = v;
    s->have_prev_day = true;
}

static void track_drawdown(an_series *s, int64_t ts, double v) {
    if (s->points == 0 || v >= s->peak) {
        s->peak = v;
        s->peak_ts = ts; /* the last time at the high-water mark */
        if (s->max_drawdown > 0 && !s->dd_recovered) {
            s->dd_recovered = true;
            s->dd_recovery_ts = ts;
        }
        return;
    }
    if (s->peak <= 0) return; /* a fall from nothing is no fraction */
    double dd = (s->peak - v) / s->peak;
    if (dd > s->max_drawdown) {
        s->max_drawdown = dd;
        s->dd_peak = s->peak;
        s->dd_peak_ts = s->peak_ts;
        s->dd_trough_ts = ts;
        s->dd_recovered = false;
        s->dd_recovery_ts = 0;
    }
}

tb_status an_series_add(an_series *s, int64_t ts, double v) {
    if (!isfinite(v)) return TB_INVALID;
    if (s->points > 0 && ts < s->last_ts) return TB_INVALID;
    int64_t day = bucket_of(ts, DAY_NS);
    bool new_day = s->in_day && day != s->day;
    /* The only step that can fail comes first, so s is unchanged on error. */
    if (new_day && reserve_day(s) != TB_OK) return TB_NOMEM;
    if (new_day) close_day(s, s->day_last);
    s->in_day = true;
    s->day = day;
    s->day_last = v;
    int64_t p = bucket_of(ts, s->period_ns);
    if (s->in_period && p != s->period) close_period(s, s->period_last);
    s->in_period = true;
    s->period = p;
    s->period_last = v;
    track_drawdown(s, ts, v);
    if (s->points == 0) {
        s->first = v;
        s->first_ts = ts;
    }
    s->points++;
    s->last = v;
    s->last_ts = ts;
    return TB_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

an_value an_var_95(double *r, size_t n) {
    if (n < AN_VAR_MIN_DAYS) return undefined("fewer than 20 daily returns");
    qsort(r, n, sizeof *r, cmp_double);
    size_t k = (size_t)ceil(VAR_TAIL * (double)n);
    return value(-r[k - 1]);
}

static void ratios(const an_series *t, double ann, an_summary *out) {
    out->mean_return = t->returns ? t->mean : 0;
    if (t->returns < 2) {
        out->volatility = out->sharpe = undefined("fewer than 2 returns");
    } else {
        double sd = sqrt(t->m2 / (double)(t->returns - 1));
        out->stdev = sd;
        out->volatility = value(sd * ann);
        out->sharpe = sd > 0 ? value(t->mean / sd * ann) : undefined("returns do not vary");
    }
    if (t->returns < 1) {
        out->sortino = undefined("no returns");
    } else {
        double dd = sqrt(t->down_sq / (double)t->returns);
        out->sortino =
            dd > 0 ? value(t->mean / dd * ann) : undefined("no return below the risk-free rate");
    }
}

static void growth(const an_series *t, an_summary *out) {
    if (t->first <= 0) {
        out->total_return = out->cagr = undefined("first equity not positive");
        return;
    }
    out->total_return = value(t->last / t->first - 1.0);
    double years = (double)(t->last_ts - t->first_ts) / ((double)DAY_NS * YEAR_DAYS);
    if (years <= 0) {
        out->cagr = undefined("no time elapsed");
    } else if (t->last <= 0) {
        out->cagr = undefined("last equity not positive");
    } else {
        double g = pow(t->last / t->first, 1.0 / years) - 1.0;
        out->cagr = isfinite(g) ? value(g) : undefined("too short a time to annualise");
    }
}

static void drawdown(const an_series *t, an_summary *out) {
    if (t->peak <= 0 && t->max_drawdown == 0) {
        out->max_drawdown = undefined("equity not positive");
        out->why_drawdown = out->why_recovery = "equity not positive";
    } else {
        out->max_drawdown = value(t->max_drawdown);
        if (t->max_drawdown > 0) {
            out->dd_peak_ts = t->dd_peak_ts;
            out->dd_trough_ts = t->dd_trough_ts;
            if (t->dd_recovered)
                out->dd_recovery_ts = t->dd_recovery_ts;
            else
                out->why_recovery = "not recovered";
        } else {
            out->why_drawdown = out->why_recovery = "no drawdown";
        }
    }
    if (out->cagr.why)
        out->calmar = undefined("cagr is null");
    else if (out->max_drawdown.why || t->max_drawdown == 0)
        out->calmar = undefined("no drawdown");
    else
        out->calmar = value(out->cagr.v / t->max_drawdown);
}

tb_status an_series_finish(const an_series *s, double periods_per_year, an_summary *out) {
    memset(out, 0, sizeof *out);
    if (s->points == 0) {
        an_value none = undefined("no equity points");
        out->total_return = out->cagr = out->volatility = out->sharpe = out->sortino = none;
        out->calmar = out->max_drawdown = out->var_95 = none;
        out->why_drawdown = out->why_recovery = none.why;
        return TB_OK;
    }
    /* The open period and day count as complete for a summary taken now;
     * the copy shares nothing it writes with s. */
    an_series t = *s;
    close_period(&t, t.period_last);
    double *daily = malloc((s->ndaily + 1) * sizeof *daily);
    if (daily == NULL) return TB_NOMEM;
    if (s->ndaily) memcpy(daily, s->daily, s->ndaily * sizeof *daily);
    t.daily = daily;
    close_day(&t, t.day_last);
    out->points = t.points;
    out->returns = t.returns;
    out->days = t.ndaily;
    out->from = t.first_ts;
    out->to = t.last_ts;
    out->first = t.first;
    out->last = t.last;
    growth(&t, out);
    ratios(&t, periods_per_year > 0 ? sqrt(periods_per_year) : 0, out);
    drawdown(&t, out);
    out->var_95 = an_var_95(daily, t.ndaily);
    free(daily);
    return TB_OK;
}

double an_periods_per_year(int64_t period_ns, double trading_days) {
    if (period_ns <= 0) return 0;
    return trading_days * (double)DAY_NS / (double)period_ns;
}

double an_rf_per_period(double annual, double periods_per_year) {
    if (annual == 0 || periods_per_year <= 0) return 0;
    return pow(1.0 + annual, 1.0 / periods_per_year) - 1.0;
}
