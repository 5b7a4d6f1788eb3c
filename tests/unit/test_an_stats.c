/* analytics statistics (actors/analytics/an_stats.c) on small equity curves
 * whose answers are worked out by hand in the comments. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "an_stats.h"

#define DAY (INT64_C(86400) * 1000000000)
#define EPS 1e-12

static void feed(an_series *s, const int64_t *ts, const double *v, int n) {
    for (int i = 0; i < n; i++) ck_assert_int_eq(an_series_add(s, ts[i], v[i]), TB_OK);
}

START_TEST(daily_curve_all_statistics) {
    /* 100, 110, 99, 108.9, 119.79 on five days:
     * returns +0.1, -0.1, +0.1, +0.1; mean 0.05;
     * deviations 0.05, -0.15, 0.05, 0.05 -> squares sum 0.03, /3 = 0.01, sd 0.1;
     * Sharpe = 0.05 / 0.1 * sqrt(252) = 0.5 * 15.874507866... = 7.937253933...;
     * downside deviation = sqrt(0.1^2 / 4) = 0.05 -> Sortino = 1 * sqrt(252);
     * volatility = 0.1 * sqrt(252); max drawdown (110 -> 99) = 11/110 = 0.1;
     * total return = 119.79 / 100 - 1 = 0.1979. */
    int64_t ts[] = {0, DAY, 2 * DAY, 3 * DAY, 4 * DAY};
    double v[] = {100, 110, 99, 108.9, 119.79};
    an_series s;
    an_series_init(&s, DAY, 0);
    feed(&s, ts, v, 5);
    an_summary m;
    ck_assert_int_eq(an_series_finish(&s, an_periods_per_year(DAY, 252), &m), TB_OK);
    ck_assert_uint_eq(m.points, 5);
    ck_assert_uint_eq(m.returns, 4);
    ck_assert_double_eq_tol(m.mean_return, 0.05, EPS);
    ck_assert_double_eq_tol(m.stdev, 0.1, EPS);
    ck_assert_double_eq_tol(m.sharpe.v, 7.937253933193772, 1e-9);
    ck_assert_double_eq_tol(m.sortino.v, 15.874507866387544, 1e-9);
    ck_assert_double_eq_tol(m.volatility.v, 1.5874507866387544, 1e-9);
    ck_assert_double_eq_tol(m.max_drawdown.v, 0.1, EPS);
    ck_assert_double_eq_tol(m.total_return.v, 0.1979, EPS);
    ck_assert_int_eq(m.from, 0);
    ck_assert_int_eq(m.to, 4 * DAY);
    ck_assert_double_eq(m.first, 100);
    ck_assert_double_eq(m.last, 119.79);
    an_series_free(&s);
}
END_TEST

START_TEST(resampling_uses_last_value_per_period) {
    /* Day 0: 100, a dip to 90, back to 100; day 1: 120. Period values 100,
     * 120: one return of 0.2 (too few for Sharpe and volatility; no loss, so
     * no downside deviation and no Sortino: null, not 0). The dip still
     * counts as a drawdown of 10 %. */
    int64_t ts[] = {0, DAY / 3, DAY / 2, DAY + 5};
    double v[] = {100, 90, 100, 120};
    an_series s;
    an_series_init(&s, DAY, 0);
    feed(&s, ts, v, 4);
    an_summary m;
    ck_assert_int_eq(an_series_finish(&s, 252, &m), TB_OK);
    ck_assert_uint_eq(m.returns, 1);
    ck_assert_double_eq_tol(m.mean_return, 0.2, EPS);
    ck_assert(isnan(m.sharpe.v) && isnan(m.volatility.v) && isnan(m.sortino.v));
    ck_assert_str_eq(m.sharpe.why, "fewer than 2 returns");
    ck_assert_str_eq(m.volatility.why, "fewer than 2 returns");
    ck_assert_str_eq(m.sortino.why, "no return below the risk-free rate");
    ck_assert_double_eq_tol(m.max_drawdown.v, 0.1, EPS);
    ck_assert_double_eq_tol(m.total_return.v, 0.2, EPS);
    an_series_free(&s);
}
END_TEST

START_TEST(empty_periods_are_skipped) {
    /* Days 0, 3, 4 only: returns 110/100 - 1 = 0.1 and 99/110 - 1 = -0.1;
     * mean 0, so Sharpe and Sortino are 0 while volatility is not:
     * sd = sqrt((0.01 + 0.01) / 1) = 0.141421356... */
    int64_t ts[] = {0, 3 * DAY, 4 * DAY};
    double v[] = {100, 110, 99};
    an_series s;
    an_series_init(&s, DAY, 0);
    feed(&s, ts, v, 3);
    an_summary m;
    ck_assert_int_eq(an_series_finish(&s, 1, &m), TB_OK);
    ck_assert_uint_eq(m.returns, 2);
    ck_assert_double_eq_tol(m.mean_return, 0, EPS);
    ck_assert_double_eq_tol(m.stdev, sqrt(0.02), EPS);
    ck_assert_double_eq_tol(m.volatility.v, sqrt(0.02), EPS);
    ck_assert_double_eq_tol(m.sharpe.v, 0, EPS);
    ck_assert_double_eq_tol(m.sortino.v, 0, EPS);
    an_series_free(&s);
}
END_TEST

START_TEST(finish_is_repeatable_and_streaming_continues) {
    an_series s;
    an_series_init(&s, DAY, 0);
    ck_assert_int_eq(an_series_add(&s, 0, 100), TB_OK);
    ck_assert_int_eq(an_series_add(&s, DAY, 50), TB_OK);
    an_summary a, b;
    ck_assert_int_eq(an_series_finish(&s, 252, &a), TB_OK);
    ck_assert_int_eq(an_series_finish(&s, 252, &b), TB_OK);
    ck_assert_mem_eq(&a, &b, sizeof a);
    /* -0.5 then +1.0: drawdown 0.5, total return 0. */
    ck_assert_int_eq(an_series_add(&s, 2 * DAY, 100), TB_OK);
    ck_assert_int_eq(an_series_finish(&s, 252, &a), TB_OK);
    ck_assert_uint_eq(a.returns, 2);
    ck_assert_double_eq_tol(a.mean_return, 0.25, EPS);
    ck_assert_double_eq_tol(a.max_drawdown.v, 0.5, EPS);
    ck_assert_double_eq_tol(a.total_return.v, 0, EPS);
    /* sd of (-0.5, 1.0) = sqrt((0.75^2 * 2) / 1) = 1.06066017...;
     * downside deviation sqrt(0.25 / 2) = 0.35355339... */
    ck_assert_double_eq_tol(a.stdev, sqrt(1.125), EPS);
    ck_assert_double_eq_tol(a.sortino.v, 0.25 / sqrt(0.125) * sqrt(252.0), 1e-9);
    an_series_free(&s);
}
END_TEST

START_TEST(bad_points_rejected_unchanged) {
    an_series s;
    an_series_init(&s, DAY, 0);
    ck_assert_int_eq(an_series_add(&s, 10, 100), TB_OK);
    an_series before = s;
    ck_assert_int_eq(an_series_add(&s, 9, 100), TB_INVALID);
    ck_assert_int_eq(an_series_add(&s, 11, NAN), TB_INVALID);
    ck_assert_int_eq(an_series_add(&s, 11, INFINITY), TB_INVALID);
    ck_assert_mem_eq(&s, &before, sizeof s);
    ck_assert_int_eq(an_series_add(&s, 10, 101), TB_OK); /* equal times are fine */
    an_series_free(&s);
}
END_TEST

START_TEST(non_positive_values) {
    /* 100 -> 0 -> 50: the return into 0 is -1, the one out of 0 undefined
     * (skipped); drawdown 100 %. */
    int64_t ts[] = {0, DAY, 2 * DAY};
    double v[] = {100, 0, 50};
    an_series s;
    an_series_init(&s, DAY, 0);
    feed(&s, ts, v, 3);
    an_summary m;
    ck_assert_int_eq(an_series_finish(&s, 252, &m), TB_OK);
    ck_assert_uint_eq(m.returns, 1);
    ck_assert_double_eq_tol(m.mean_return, -1, EPS);
    ck_assert_double_eq_tol(m.max_drawdown.v, 1, EPS);
    /* A curve starting at 0 has no total return. */
    an_series_free(&s);
    an_series_init(&s, DAY, 0);
    ck_assert_int_eq(an_series_add(&s, 0, 0), TB_OK);
    ck_assert_int_eq(an_series_add(&s, DAY, 10), TB_OK);
    ck_assert_int_eq(an_series_finish(&s, 252, &m), TB_OK);
    ck_assert(isnan(m.total_return.v));
    ck_assert_str_eq(m.total_return.why, "first equity not positive");
    ck_assert_uint_eq(m.returns, 0);
    /* Nothing fed: every statistic null. */
    an_series_free(&s);
    an_series_init(&s, DAY, 0);
    ck_assert_int_eq(an_series_finish(&s, 252, &m), TB_OK);
    ck_assert_uint_eq(m.points, 0);
    ck_assert(isnan(m.sharpe.v));
    ck_assert_str_eq(m.sharpe.why, "no equity points");
    ck_assert_str_eq(m.max_drawdown.why, "no equity points");
    ck_assert_str_eq(m.var_95.why, "no equity points");
    an_series_free(&s);
}
END_TEST

START_TEST(periods_before_epoch_floor) {
    /* -1 ns and 0 are in different one-second periods. */
    an_series s;
    an_series_init(&s, 1000000000, 0);
    ck_assert_int_eq(an_series_add(&s, -1, 100), TB_OK);
    ck_assert_int_eq(an_series_add(&s, 0, 110), TB_OK);
    an_summary m;
    ck_assert_int_eq(an_series_finish(&s, 1, &m), TB_OK);
    ck_assert_uint_eq(m.returns, 1);
    ck_assert_double_eq_tol(m.mean_return, 0.1, EPS);
    an_series_free(&s);
}
END_TEST

START_TEST(annualisation) {
    ck_assert_double_eq_tol(an_periods_per_year(DAY, 252), 252, EPS);
    ck_assert_double_eq_tol(an_periods_per_year(DAY / 24, 252), 6048, 1e-9);
    ck_assert_double_eq_tol(an_periods_per_year(1000000000, 252), 252.0 * 86400, 1e-6);
    ck_assert_double_eq_tol(an_periods_per_year(DAY, 365), 365, EPS);
    ck_assert_double_eq(an_periods_per_year(0, 252), 0);
    /* 10 % a year is 10 % in one period a year; 1.01^252 - 1 a year is 1 %
     * a day; no rate is no rate. */
    ck_assert_double_eq_tol(an_rf_per_period(0.1, 1), 0.1, EPS);
    ck_assert_double_eq_tol(an_rf_per_period(pow(1.01, 252) - 1, 252), 0.01, EPS);
    ck_assert_double_eq(an_rf_per_period(0, 252), 0);
}
END_TEST

START_TEST(growth_drawdown_times_calmar) {
    /* The curve of daily_curve_all_statistics: 100, 110, 99, 108.9, 119.79 on
     * days 0..4. Over 4 days = 4 / 365.25 years, CAGR =
     * 1.1979^(365.25 / 4) - 1 (about 1.4e7: four days annualised). The
     * largest fall is 110 (day 1) -> 99 (day 2); 108.9 on day 3 is still
     * below 110, 119.79 on day 4 is back above: recovered on day 4.
     * Calmar = CAGR / 0.1. Four daily returns: too few for the VaR. */
    int64_t ts[] = {0, DAY, 2 * DAY, 3 * DAY, 4 * DAY};
    double v[] = {100, 110, 99, 108.9, 119.79};
    an_series s;
    an_series_init(&s, DAY, 0);
    feed(&s, ts, v, 5);
    an_summary m;
    ck_assert_int_eq(an_series_finish(&s, 252, &m), TB_OK);
    double cagr = pow(1.1979, 365.25 / 4) - 1;
    ck_assert_ptr_null(m.cagr.why);
    ck_assert_double_eq_tol(m.cagr.v / cagr, 1, 1e-12);
    ck_assert_double_eq_tol(m.calmar.v / (cagr / 0.1), 1, 1e-12);
    ck_assert_ptr_null(m.why_drawdown);
    ck_assert_ptr_null(m.why_recovery);
    ck_assert_int_eq(m.dd_peak_ts, DAY);
    ck_assert_int_eq(m.dd_trough_ts, 2 * DAY);
    ck_assert_int_eq(m.dd_recovery_ts, 4 * DAY);
    ck_assert_uint_eq(m.days, 4);
    ck_assert(isnan(m.var_95.v));
    ck_assert_str_eq(m.var_95.why, "fewer than 20 daily returns");
    an_series_free(&s);
}
END_TEST

START_TEST(risk_free_rate) {
    /* Same curve, risk-free 0.01 a period: excess returns 0.09, -0.11, 0.09,
     * 0.09; mean 0.04; the deviations (and so sd 0.1 and the volatility) do
     * not change: Sharpe = 0.04 / 0.1 * sqrt(252); downside deviation =
     * sqrt(0.11^2 / 4) = 0.055, Sortino = 0.04 / 0.055 * sqrt(252). */
    int64_t ts[] = {0, DAY, 2 * DAY, 3 * DAY, 4 * DAY};
    double v[] = {100, 110, 99, 108.9, 119.79};
    an_series s;
    an_series_init(&s, DAY, 0.01);
    feed(&s, ts, v, 5);
    an_summary m;
    ck_assert_int_eq(an_series_finish(&s, 252, &m), TB_OK);
    ck_assert_double_eq_tol(m.mean_return, 0.04, EPS);
    ck_assert_double_eq_tol(m.volatility.v, 0.1 * sqrt(252.0), 1e-9);
    ck_assert_double_eq_tol(m.sharpe.v, 0.4 * sqrt(252.0), 1e-9);
    ck_assert_double_eq_tol(m.sortino.v, 0.04 / 0.055 * sqrt(252.0), 1e-9);
    an_series_free(&s);
}
END_TEST

START_TEST(cagr_two_years_no_drawdown) {
    /* 100 -> 121 over 730.5 days = 2 years of 365.25 days: CAGR =
     * sqrt(1.21) - 1 = 0.1. Never a fall: max drawdown 0 (a value), no
     * drawdown times, no Calmar. */
    an_series s;
    an_series_init(&s, DAY, 0);
    ck_assert_int_eq(an_series_add(&s, 0, 100), TB_OK);
    ck_assert_int_eq(an_series_add(&s, 730 * DAY + DAY / 2, 121), TB_OK);
    an_summary m;
    ck_assert_int_eq(an_series_finish(&s, 252, &m), TB_OK);
    ck_assert_double_eq_tol(m.cagr.v, 0.1, EPS);
    ck_assert_double_eq_tol(m.total_return.v, 0.21, EPS);
    ck_assert_ptr_null(m.max_drawdown.why);
    ck_assert_double_eq(m.max_drawdown.v, 0);
    ck_assert_str_eq(m.why_drawdown, "no drawdown");
    ck_assert_str_eq(m.why_recovery, "no drawdown");
    ck_assert_str_eq(m.calmar.why, "no drawdown");
    an_series_free(&s);
}
END_TEST

START_TEST(drawdown_deepens_then_recovers) {
    /* 100, 120 (day 1), 120 (day 2: the last time at the peak), 90 (day 3):
     * 30 / 120 = 0.25, not recovered by 110 (day 4). 80 (day 5) deepens it
     * to 40 / 120 = 1/3 from the same peak; 125 (day 6) recovers it. */
    int64_t ts[] = {0, DAY, 2 * DAY, 3 * DAY, 4 * DAY};
    double v[] = {100, 120, 120, 90, 110};
    an_series s;
    an_series_init(&s, DAY, 0);
    feed(&s, ts, v, 5);
    an_summary m;
    ck_assert_int_eq(an_series_finish(&s, 252, &m), TB_OK);
    ck_assert_double_eq_tol(m.max_drawdown.v, 0.25, EPS);
    ck_assert_int_eq(m.dd_peak_ts, 2 * DAY);
    ck_assert_int_eq(m.dd_trough_ts, 3 * DAY);
    ck_assert_str_eq(m.why_recovery, "not recovered");
    ck_assert_int_eq(an_series_add(&s, 5 * DAY, 80), TB_OK);
    ck_assert_int_eq(an_series_finish(&s, 252, &m), TB_OK);
    ck_assert_double_eq_tol(m.max_drawdown.v, 1.0 / 3, EPS);
    ck_assert_int_eq(m.dd_peak_ts, 2 * DAY);
    ck_assert_int_eq(m.dd_trough_ts, 5 * DAY);
    ck_assert_str_eq(m.why_recovery, "not recovered");
    ck_assert_int_eq(an_series_add(&s, 6 * DAY, 125), TB_OK);
    ck_assert_int_eq(an_series_finish(&s, 252, &m), TB_OK);
    ck_assert_ptr_null(m.why_recovery);
    ck_assert_int_eq(m.dd_recovery_ts, 6 * DAY);
    an_series_free(&s);
}
END_TEST

START_TEST(single_point) {
    /* One point: total return 0 and max drawdown 0 are values; everything
     * needing time or returns is null with its reason. */
    an_series s;
    an_series_init(&s, DAY, 0);
    ck_assert_int_eq(an_series_add(&s, 5, 100), TB_OK);
    an_summary m;
    ck_assert_int_eq(an_series_finish(&s, 252, &m), TB_OK);
    ck_assert_double_eq(m.total_return.v, 0);
    ck_assert_str_eq(m.cagr.why, "no time elapsed");
    ck_assert_str_eq(m.calmar.why, "cagr is null");
    ck_assert_str_eq(m.volatility.why, "fewer than 2 returns");
    ck_assert_str_eq(m.sortino.why, "no returns");
    ck_assert_double_eq(m.max_drawdown.v, 0);
    an_series_free(&s);
}
END_TEST

START_TEST(value_at_risk) {
    /* 21 returns: ceil(0.05 * 21) = 2, so the VaR is minus the second
     * smallest: sorted -0.04, -0.02, 0.01 ... -> 0.02. */
    double r[21];
    for (int i = 0; i < 21; i++) r[i] = 0.01;
    r[3] = -0.02;
    r[10] = -0.04;
    r[20] = 0.03;
    an_value v = an_var_95(r, 21);
    ck_assert_ptr_null(v.why);
    ck_assert_double_eq(v.v, 0.02);
    /* 20 returns: ceil(1) = 1, the smallest. 19: too few. */
    double q[20];
    for (int i = 0; i < 20; i++) q[i] = 0.01 * (i + 1);
    q[7] = -0.05;
    ck_assert_double_eq(an_var_95(q, 20).v, 0.05);
    ck_assert_str_eq(an_var_95(q, 19).why, "fewer than 20 daily returns");
    /* From a curve: 100 then +1 % a day for 40 days except -3 % on day 9 and
     * -5 % on day 30 (days of the curve; several points a day count once, at
     * their last value). 40 returns: ceil(2) = 2 -> the second smallest,
     * -3 %: VaR 0.03. */
    an_series s;
    an_series_init(&s, DAY / 24, 0);
    double x = 100;
    ck_assert_int_eq(an_series_add(&s, 0, x), TB_OK);
    for (int d = 1; d <= 40; d++) {
        ck_assert_int_eq(an_series_add(&s, d * DAY, 1), TB_OK); /* overwritten the same day */
        x *= d == 9 ? 0.97 : d == 30 ? 0.95 : 1.01;
        ck_assert_int_eq(an_series_add(&s, d * DAY + DAY / 2, x), TB_OK);
    }
    an_summary m;
    ck_assert_int_eq(an_series_finish(&s, 252, &m), TB_OK);
    ck_assert_uint_eq(m.days, 40);
    ck_assert_ptr_null(m.var_95.why);
    ck_assert_double_eq_tol(m.var_95.v, 0.03, 1e-12);
    an_series_free(&s);
}
END_TEST

int main(void) {
    Suite *s = suite_create("an_stats");
    TCase *tc = tcase_create("stats");
    tcase_add_test(tc, daily_curve_all_statistics);
    tcase_add_test(tc, resampling_uses_last_value_per_period);
    tcase_add_test(tc, empty_periods_are_skipped);
    tcase_add_test(tc, finish_is_repeatable_and_streaming_continues);
    tcase_add_test(tc, bad_points_rejected_unchanged);
    tcase_add_test(tc, non_positive_values);
    tcase_add_test(tc, periods_before_epoch_floor);
    tcase_add_test(tc, annualisation);
    tcase_add_test(tc, growth_drawdown_times_calmar);
    tcase_add_test(tc, risk_free_rate);
    tcase_add_test(tc, cagr_two_years_no_drawdown);
    tcase_add_test(tc, drawdown_deepens_then_recovers);
    tcase_add_test(tc, single_point);
    tcase_add_test(tc, value_at_risk);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
