/* Performance statistics of an equity curve: pure functions, no I/O.
 *
 * Statistics may use double (DESIGN §2); nothing here books money. The curve
 * is fed point by point in time order (an_series_add), then summarised
 * (an_series_finish). Memory: constant, plus one double per day of the curve
 * for the value at risk. Definitions (README "Statistics"):
 *
 *   total return   last / first - 1 over every point;
 *   CAGR           (last / first)^(1 / years) - 1, years = (last time -
 *                  first time) / 365.25 days (calendar time, not trading
 *                  days: growth happens over weekends too);
 *   max drawdown   largest (peak - value) / peak over every point, peak the
 *                  highest value so far (a positive fraction, 0 = none); its
 *                  peak time is the last point at that peak before the fall,
 *                  its trough time the point of the largest fall, its
 *                  recovery time the first later point back at the peak;
 *   period returns the curve is resampled to periods of period_ns (the last
 *                  value in each period that has points; periods without
 *                  points are skipped, not filled), and
 *                  r_k = v_k / v_(k-1) - 1 between consecutive ones; a
 *                  return after a value <= 0 is undefined and skipped;
 *                  x_k = r_k - rf is the excess over the per-period
 *                  risk-free return rf;
 *   volatility     sample standard deviation of r (n - 1) * sqrt(periods per
 *                  year);
 *   Sharpe         mean(x) / sample standard deviation of x * sqrt(periods
 *                  per year);
 *   Sortino        mean(x) / downside deviation * sqrt(periods per year),
 *                  downside deviation = sqrt(sum(min(x, 0)^2) / n) over all
 *                  n returns;
 *   Calmar         CAGR / max drawdown;
 *   VaR 95%        historical, one day: the curve resampled to UTC days the
 *                  same way gives daily returns d (ascending); with n >= 20,
 *                  VaR = -d[ceil(0.05 n) - 1], the loss (a positive
 *                  fraction) that at most 5% of the days did worse than.
 * A statistic that cannot be computed is NaN with the reason in why (never a
 * stand-in 0); see an_value. */
#ifndef AN_STATS_H
#define AN_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Fewest daily returns the 95% value at risk is taken from: with 20 the 5%
 * tail holds one whole day. */
#define AN_VAR_MIN_DAYS 20

/* A statistic: v when why is NULL, otherwise undefined (v is NaN) because
 * of why (a short static phrase). */
typedef struct an_value {
    double v;
    const char *why;
} an_value;

typedef struct an_series {
    int64_t period_ns;
    double rf; /* risk-free return per period */
    size_t points;
    int64_t first_ts, last_ts;
    double first, last;
    /* drawdown: the running peak and the largest fall so far */
    double peak;
    int64_t peak_ts;
    double max_drawdown, dd_peak;
    int64_t dd_peak_ts, dd_trough_ts, dd_recovery_ts;
    bool dd_recovered;
    /* the period being filled, and the last completed one */
    bool in_period, have_prev;
    int64_t period;
    double period_last, prev;
    /* excess returns so far: Welford's running mean and squared deviations */
    size_t returns, skipped;
    double mean, m2, down_sq;
    /* UTC days, for the value at risk: the open day, the last closed one's
     * value and every daily return (heap, grows) */
    bool in_day, have_prev_day;
    int64_t day;
    double day_last, prev_day;
    double *daily;
    size_t ndaily, cap_daily;
} an_series;

typedef struct an_summary {
    size_t points;    /* curve points fed */
    size_t returns;   /* period returns used */
    size_t days;      /* daily returns used for the value at risk */
    int64_t from, to; /* first and last point's time */
    double first, last;
    double mean_return; /* mean excess return per period (0 without returns) */
    double stdev;       /* sample standard deviation per period (0 below 2 returns) */
    an_value total_return, cagr, volatility, sharpe, sortino, calmar, max_drawdown, var_95;
    /* Times of the largest drawdown: peak and trough when max_drawdown > 0
     * (else why_drawdown), recovery when it has recovered (else
     * why_recovery). */
    int64_t dd_peak_ts, dd_trough_ts, dd_recovery_ts;
    const char *why_drawdown, *why_recovery;
} an_summary;

/* Starts an empty curve resampled to periods of period_ns (> 0), with the
 * risk-free return rf per period (see an_rf_per_period). */
void an_series_init(an_series *s, int64_t period_ns, double rf);

/* Frees the daily returns; s may be initialised again. */
void an_series_free(an_series *s);

/* Adds a point. Times must not decrease (TB_INVALID otherwise) and the value
 * must be finite (TB_INVALID); TB_NOMEM when the daily returns cannot grow.
 * s is unchanged on error. */
tb_status an_series_add(an_series *s, int64_t ts, double value) TB_WARN_UNUSED;

/* Summarises the points added so far (s is not changed, more may follow).
 * periods_per_year (> 0) annualises the ratios. TB_NOMEM when the daily
 * returns cannot be sorted. */
tb_status an_series_finish(const an_series *s, double periods_per_year,
                           an_summary *out) TB_WARN_UNUSED;

/* Periods of period_ns in a year of trading_days days of 24 h:
 * trading_days for daily periods, trading_days * 24 for hourly, ... */
double an_periods_per_year(int64_t period_ns, double trading_days);

/* The per-period return compounding to the annual rate:
 * (1 + annual)^(1 / periods_per_year) - 1. */
double an_rf_per_period(double annual, double periods_per_year);

/* The historical 95% value at risk of n returns (sorted ascending in place):
 * -r[ceil(0.05 n) - 1]; undefined below AN_VAR_MIN_DAYS returns. */
an_value an_var_95(double *r, size_t n);

#endif
