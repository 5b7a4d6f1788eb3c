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
    an_series_init(&s, DAY);
    feed(&s, ts, v, 5);
    an_summary m;
    an_series_finish(&s, an_periods_per_year(DAY, 252), &m);
    ck_assert_uint_eq(m.points, 5);
    ck_assert_uint_eq(m.returns, 4);
    ck_assert_double_eq_tol(m.mean_return, 0.05, EPS);
    ck_assert_double_eq_tol(m.stdev, 0.1, EPS);
    ck_assert_double_eq_tol(m.sharpe, 7.937253933193772, 1e-9);
    ck_assert_double_eq_tol(m.sortino, 15.874507866387544, 1e-9);
    ck_assert_double_eq_tol(m.volatility, 1.5874507866387544, 1e-9);
    ck_assert_double_eq_tol(m.max_drawdown, 0.1, EPS);
    ck_assert_double_eq_tol(m.total_return, 0.1979, EPS);
    ck_assert_int_eq(m.from, 0);
    ck_assert_int_eq(m.to, 4 * DAY);
    ck_assert_double_eq(m.first, 100);
    ck_assert_double_eq(m.last, 119.79);
}
END_TEST

START_TEST(resampling_uses_last_value_per_period) {
    /* Day 0: 100, a dip to 90, back to 100; day 1: 120. Period values 100,
     * 120: one return of 0.2 (too few for Sharpe and volatility; no loss, so
     * no downside deviation and Sortino 0). The dip still counts as a
     * drawdown of 10 %. */
    int64_t ts[] = {0, DAY / 3, DAY / 2, DAY + 5};
    double v[] = {100, 90, 100, 120};
    an_series s;
    an_series_init(&s, DAY);
    feed(&s, ts, v, 4);
    an_summary m;
    an_series_finish(&s, 252, &m);
    ck_assert_uint_eq(m.returns, 1);
    ck_assert_double_eq_tol(m.mean_return, 0.2, EPS);
    ck_assert_double_eq(m.sharpe, 0);
    ck_assert_double_eq(m.volatility, 0);
    ck_assert_double_eq(m.sortino, 0);
    ck_assert_double_eq_tol(m.max_drawdown, 0.1, EPS);
    ck_assert_double_eq_tol(m.total_return, 0.2, EPS);
}
END_TEST

START_TEST(empty_periods_are_skipped) {
    /* Days 0, 3, 4 only: returns 110/100 - 1 = 0.1 and 99/110 - 1 = -0.1;
     * mean 0, so Sharpe and Sortino are 0 while volatility is not:
     * sd = sqrt((0.01 + 0.01) / 1) = 0.141421356... */
    int64_t ts[] = {0, 3 * DAY, 4 * DAY};
    double v[] = {100, 110, 99};
    an_series s;
    an_series_init(&s, DAY);
    feed(&s, ts, v, 3);
    an_summary m;
    an_series_finish(&s, 1, &m);
    ck_assert_uint_eq(m.returns, 2);
    ck_assert_double_eq_tol(m.mean_return, 0, EPS);
    ck_assert_double_eq_tol(m.stdev, sqrt(0.02), EPS);
    ck_assert_double_eq_tol(m.volatility, sqrt(0.02), EPS);
    ck_assert_double_eq_tol(m.sharpe, 0, EPS);
    ck_assert_double_eq_tol(m.sortino, 0, EPS);
}
END_TEST

START_TEST(finish_is_repeatable_and_streaming_continues) {
    an_series s;
    an_series_init(&s, DAY);
    ck_assert_int_eq(an_series_add(&s, 0, 100), TB_OK);
    ck_assert_int_eq(an_series_add(&s, DAY, 50), TB_OK);
    an_summary a, b;
    an_series_finish(&s, 252, &a);
    an_series_finish(&s, 252, &b);
    ck_assert_mem_eq(&a, &b, sizeof a);
    /* -0.5 then +1.0: drawdown 0.5, total return 0. */
    ck_assert_int_eq(an_series_add(&s, 2 * DAY, 100), TB_OK);
    an_series_finish(&s, 252, &a);
    ck_assert_uint_eq(a.returns, 2);
    ck_assert_double_eq_tol(a.mean_return, 0.25, EPS);
    ck_assert_double_eq_tol(a.max_drawdown, 0.5, EPS);
    ck_assert_double_eq_tol(a.total_return, 0, EPS);
    /* sd of (-0.5, 1.0) = sqrt((0.75^2 * 2) / 1) = 1.06066017...;
     * downside deviation sqrt(0.25 / 2) = 0.35355339... */
    ck_assert_double_eq_tol(a.stdev, sqrt(1.125), EPS);
    ck_assert_double_eq_tol(a.sortino, 0.25 / sqrt(0.125) * sqrt(252.0), 1e-9);
}
END_TEST

START_TEST(bad_points_rejected_unchanged) {
    an_series s;
    an_series_init(&s, DAY);
    ck_assert_int_eq(an_series_add(&s, 10, 100), TB_OK);
    an_series before = s;
    ck_assert_int_eq(an_series_add(&s, 9, 100), TB_INVALID);
    ck_assert_int_eq(an_series_add(&s, 11, NAN), TB_INVALID);
    ck_assert_int_eq(an_series_add(&s, 11, INFINITY), TB_INVALID);
    ck_assert_mem_eq(&s, &before, sizeof s);
    ck_assert_int_eq(an_series_add(&s, 10, 101), TB_OK); /* equal times are fine */
}
END_TEST

START_TEST(non_positive_values) {
    /* 100 -> 0 -> 50: the return into 0 is -1, the one out of 0 undefined
     * (skipped); drawdown 100 %. */
    int64_t ts[] = {0, DAY, 2 * DAY};
    double v[] = {100, 0, 50};
    an_series s;
    an_series_init(&s, DAY);
    feed(&s, ts, v, 3);
    an_summary m;
    an_series_finish(&s, 252, &m);
    ck_assert_uint_eq(m.returns, 1);
    ck_assert_double_eq_tol(m.mean_return, -1, EPS);
    ck_assert_double_eq_tol(m.max_drawdown, 1, EPS);
    /* A curve starting at 0 has no total return. */
    an_series_init(&s, DAY);
    ck_assert_int_eq(an_series_add(&s, 0, 0), TB_OK);
    ck_assert_int_eq(an_series_add(&s, DAY, 10), TB_OK);
    an_series_finish(&s, 252, &m);
    ck_assert_double_eq(m.total_return, 0);
    ck_assert_uint_eq(m.returns, 0);
    /* Nothing fed: all zero. */
    an_series_init(&s, DAY);
    an_series_finish(&s, 252, &m);
    ck_assert_uint_eq(m.points, 0);
    ck_assert_double_eq(m.sharpe, 0);
}
END_TEST

START_TEST(periods_before_epoch_floor) {
    /* -1 ns and 0 are in different one-second periods. */
    an_series s;
    an_series_init(&s, 1000000000);
    ck_assert_int_eq(an_series_add(&s, -1, 100), TB_OK);
    ck_assert_int_eq(an_series_add(&s, 0, 110), TB_OK);
    an_summary m;
    an_series_finish(&s, 1, &m);
    ck_assert_uint_eq(m.returns, 1);
    ck_assert_double_eq_tol(m.mean_return, 0.1, EPS);
}
END_TEST

START_TEST(annualisation_and_win_rate) {
    ck_assert_double_eq_tol(an_periods_per_year(DAY, 252), 252, EPS);
    ck_assert_double_eq_tol(an_periods_per_year(DAY / 24, 252), 6048, 1e-9);
    ck_assert_double_eq_tol(an_periods_per_year(1000000000, 252), 252.0 * 86400, 1e-6);
    ck_assert_double_eq_tol(an_periods_per_year(DAY, 365), 365, EPS);
    ck_assert_double_eq(an_periods_per_year(0, 252), 0);
    ck_assert_double_eq_tol(an_win_rate(1, 3), 1.0 / 3, EPS);
    ck_assert_double_eq(an_win_rate(0, 0), 0);
    ck_assert_double_eq(an_win_rate(2, 2), 1);
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
    tcase_add_test(tc, annualisation_and_win_rate);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
