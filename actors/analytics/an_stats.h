/* Performance statistics of an equity curve: pure functions, no I/O.
 *
 * Statistics may use double (DESIGN §2); nothing here books money. The curve
 * is fed point by point in time order (an_series_add), so a long curve needs
 * no memory beyond this struct, then summarised (an_series_finish):
 *
 *   total return   last / first - 1 over every point;
 *   max drawdown   largest (peak - value) / peak over every point, peak the
 *                  highest value so far (a positive fraction, 0 = none);
 *   period returns the curve is resampled to periods of period_ns (the last
 *                  value in each period that has points; periods without
 *                  points are skipped, not filled), and
 *                  r_k = v_k / v_(k-1) - 1 between consecutive ones; a
 *                  return after a value <= 0 is undefined and skipped;
 *   volatility     sample standard deviation of the returns (n - 1) times
 *                  sqrt(periods per year);
 *   Sharpe         mean return / sample standard deviation * sqrt(periods
 *                  per year), risk-free rate 0;
 *   Sortino        mean return / downside deviation * sqrt(periods per
 *                  year), downside deviation = sqrt(sum(min(r, 0)^2) / n)
 *                  (target 0, over all n returns).
 * A ratio whose denominator is 0, or that needs more returns than there are
 * (Sharpe and volatility need 2, Sortino 1), is reported as 0 so every value
 * is finite on the wire. */
#ifndef AN_STATS_H
#define AN_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct an_series {
    int64_t period_ns;
    size_t points;
    int64_t first_ts, last_ts;
    double first, last;
    double peak, max_drawdown;
    /* the period being filled */
    bool in_period;
    int64_t period;
    double period_last;
    /* the last completed period's value */
    bool have_prev;
    double prev;
    /* returns so far: Welford's running mean and squared deviations */
    size_t returns, skipped;
    double mean, m2, down_sq;
} an_series;

typedef struct an_summary {
    size_t points;    /* curve points fed */
    size_t returns;   /* period returns used */
    int64_t from, to; /* first and last point's time */
    double first, last;
    double total_return;
    double mean_return;                 /* per period */
    double stdev;                       /* per period, sample */
    double volatility, sharpe, sortino; /* annualised */
    double max_drawdown;
} an_summary;

/* Starts an empty curve resampled to periods of period_ns (> 0). */
void an_series_init(an_series *s, int64_t period_ns);

/* Adds a point. Times must not decrease (TB_INVALID otherwise) and the value
 * must be finite (TB_INVALID); s is unchanged on error. */
tb_status an_series_add(an_series *s, int64_t ts, double value) TB_WARN_UNUSED;

/* Summarises the points added so far (s is not changed, more may follow).
 * periods_per_year (> 0) annualises the ratios. */
void an_series_finish(const an_series *s, double periods_per_year, an_summary *out);

/* Periods of period_ns in a year of trading_days days of 24 h:
 * trading_days for daily periods, trading_days * 24 for hourly, ... */
double an_periods_per_year(int64_t period_ns, double trading_days);

/* wins / closing, 0 when there were no closing trades. */
double an_win_rate(uint64_t wins, uint64_t closing);

#endif
