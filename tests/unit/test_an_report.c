/* analytics round trips and the performance reply
 * (actors/analytics/an_roundtrips.c, an_report.c) on small fixtures whose
 * answers are worked out by hand in the comments. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "an_report.h"

#define FX(units) ((tb_fixed)(units)*TB_FIXED_SCALE)
#define DAY       (INT64_C(86400) * 1000000000)

/* ---- helpers ---------------------------------------------------------- */

#define BH_NONE ((an_value){NAN, "no traded symbol"})

#define MAX_TRIPS 16
typedef struct collected {
    an_trip t[MAX_TRIPS];
    int n;
} collected;

static tb_status collect(void *arg, const an_trip *t, tb_error *err) {
    (void)err;
    collected *c = arg;
    ck_assert_int_lt(c->n, MAX_TRIPS);
    c->t[c->n++] = *t;
    return TB_OK;
}

static an_fill fill(const char *id, const char *sym, const char *strat, int side, tb_fixed qty,
                    tb_fixed price, tb_fixed fee, int64_t ts) {
    an_fill f = {.side = side, .qty = qty, .price = price, .fee = fee, .ts = ts};
    snprintf(f.fill_id, sizeof f.fill_id, "%s", id);
    snprintf(f.symbol, sizeof f.symbol, "%s", sym);
    snprintf(f.strategy_id, sizeof f.strategy_id, "%s", strat);
    return f;
}

/* Replays fills (in replay order) into both accumulators. */
static void replay(const an_fill *f, int n, an_trades *tr, an_trips *trips) {
    tb_error err = {0};
    for (int i = 0; i < n; i++) {
        ck_assert_msg(an_trades_add(tr, &f[i], &err) == TB_OK, "%s", err.message);
        ck_assert_msg(an_trips_add(trips, &f[i], &err) == TB_OK, "%s", err.message);
    }
    ck_assert_int_eq(an_trips_finish(trips, &err), TB_OK);
}

static tb_fixed entry_price(const an_trip *t) {
    tb_fixed p = 0;
    ck_assert_int_eq(an_trip_entry_price(t, &p), TB_OK);
    return p;
}

static tb_fixed exit_price(const an_trip *t) {
    tb_fixed p = 0;
    ck_assert_int_eq(an_trip_exit_price(t, &p), TB_OK);
    return p;
}

/* The fills of the integration test (tests/integration/test_analytics.c),
 * in replay order (symbol, time, id); fee 1 each:
 *   A: buy 10 @ 100 (s1), sell 4 @ 110 (+40), sell 6 @ 95 (-30)
 *   B: buy 5 @ 90 (s2), sell 5 @ 80 (-50), buy 1 @ 10 by hand (f6 after f5:
 *      same time, ids byte-wise). */
static const int NFILLS = 6;
static void fixture(an_fill *f) {
    f[0] = fill("f1", "A", "s1", 1, FX(10), FX(100), FX(1), 100);
    f[1] = fill("f2", "A", "s1", -1, FX(4), FX(110), FX(1), 200);
    f[2] = fill("f3", "A", "s1", -1, FX(6), FX(95), FX(1), 300);
    f[3] = fill("f4", "B", "s2", 1, FX(5), FX(90), FX(1), 150);
    f[4] = fill("f5", "B", "s2", -1, FX(5), FX(80), FX(1), 250);
    f[5] = fill("f6", "B", "", 1, FX(1), FX(10), FX(1), 250);
}

/* ---- round trips ------------------------------------------------------ */

START_TEST(round_trips_of_the_fixture) {
    /* A: one long trip of 10 from 100 to 300: entry 100, exit (4 * 110 +
     * 6 * 95) / 10 = 1010 / 10 = 101, P&L 40 - 30 = 10, fees 3, net 7.
     * B: a long trip of 5 at 90 -> 80 (P&L -50, fees 2, net -52), then f6
     * opens a trip of 1 at 10 that is still open at the end. */
    an_fill f[6];
    fixture(f);
    an_trades tr;
    an_trips trips;
    collected c = {0};
    an_trades_init(&tr, NULL, 0);
    an_trips_init(&trips, collect, &c);
    replay(f, NFILLS, &tr, &trips);
    ck_assert_int_eq(c.n, 3);
    an_trip *a = &c.t[0], *b = &c.t[1], *o = &c.t[2];
    ck_assert_str_eq(a->symbol, "A");
    ck_assert_str_eq(a->strategy_id, "s1");
    ck_assert(a->closed);
    ck_assert_int_eq(a->side, 1);
    ck_assert_int_eq(a->opened, FX(10));
    ck_assert_int_eq(a->closed_qty, FX(10));
    ck_assert_int_eq(a->entry_ts, 100);
    ck_assert_int_eq(a->exit_ts, 300);
    ck_assert_int_eq(entry_price(a), FX(100));
    ck_assert_int_eq(exit_price(a), FX(101));
    ck_assert_int_eq(a->pnl, FX(10));
    ck_assert_int_eq(a->fees, FX(3));
    ck_assert(b->closed);
    ck_assert_str_eq(b->strategy_id, "s2");
    ck_assert_int_eq(entry_price(b), FX(90));
    ck_assert_int_eq(exit_price(b), FX(80));
    ck_assert_int_eq(b->pnl, -FX(50));
    ck_assert_int_eq(b->fees, FX(2));
    tb_fixed net = 0;
    ck_assert_int_eq(an_trip_net(b, &net), TB_OK);
    ck_assert_int_eq(net, -FX(52));
    ck_assert(!o->closed);
    ck_assert_str_eq(o->symbol, "B");
    ck_assert_str_eq(o->strategy_id, "");
    ck_assert_int_eq(o->entry_ts, 250);
    ck_assert_int_eq(o->closed_qty, 0);
    tb_fixed p = 0;
    ck_assert_int_eq(an_trip_exit_price(o, &p), TB_INVALID);
    ck_assert_int_eq(o->fees, FX(1));
}
END_TEST

START_TEST(flip_through_zero_splits_the_fee) {
    /* Buy 10 @ 100 (fee 1); sell 15 @ 110 (fee 3): closes the 10 (+100) and
     * opens a short of 5 at 110 (notional 1650 - 1100 = 550); the fee splits
     * 3 * 10 / 15 = 2 to the long, 1 to the short. Buy 5 @ 100 (fee 1)
     * closes the short: 550 - 500 = +50.
     * Long: fees 1 + 2 = 3, net 97. Short: entry 110, exit 100, fees 2,
     * net 48. */
    an_fill f[3] = {fill("1", "X", "", 1, FX(10), FX(100), FX(1), 1),
                    fill("2", "X", "", -1, FX(15), FX(110), FX(3), 2),
                    fill("3", "X", "", 1, FX(5), FX(100), FX(1), 3)};
    an_trades tr;
    an_trips trips;
    collected c = {0};
    an_trades_init(&tr, NULL, 0);
    an_trips_init(&trips, collect, &c);
    replay(f, 3, &tr, &trips);
    ck_assert_int_eq(c.n, 2);
    ck_assert_int_eq(c.t[0].side, 1);
    ck_assert_int_eq(c.t[0].pnl, FX(100));
    ck_assert_int_eq(c.t[0].fees, FX(3));
    ck_assert_int_eq(c.t[0].exit_ts, 2);
    ck_assert_int_eq(c.t[1].side, -1);
    ck_assert_int_eq(c.t[1].opened, FX(5));
    ck_assert_int_eq(c.t[1].entry_ts, 2);
    ck_assert_int_eq(entry_price(&c.t[1]), FX(110));
    ck_assert_int_eq(exit_price(&c.t[1]), FX(100));
    ck_assert_int_eq(c.t[1].pnl, FX(50));
    ck_assert_int_eq(c.t[1].fees, FX(2));
    ck_assert(c.t[1].closed);
}
END_TEST

START_TEST(scale_in_and_out) {
    /* Buy 1 @ 100, buy 3 @ 104: opened 4, entry (100 + 312) / 4 = 103.
     * Sell 2 @ 110: cost share 412 * 2 / 4 = 206, +14. Sell 2 @ 100: the
     * remaining 206 against 200, -6. P&L 8, exit (220 + 200) / 4 = 105. */
    an_fill f[4] = {
        fill("1", "Y", "", 1, FX(1), FX(100), 0, 1), fill("2", "Y", "", 1, FX(3), FX(104), 0, 2),
        fill("3", "Y", "", -1, FX(2), FX(110), 0, 3), fill("4", "Y", "", -1, FX(2), FX(100), 0, 4)};
    an_trades tr;
    an_trips trips;
    collected c = {0};
    an_trades_init(&tr, NULL, 0);
    an_trips_init(&trips, collect, &c);
    replay(f, 4, &tr, &trips);
    ck_assert_int_eq(c.n, 1);
    ck_assert_int_eq(entry_price(&c.t[0]), FX(103));
    ck_assert_int_eq(exit_price(&c.t[0]), FX(105));
    ck_assert_int_eq(c.t[0].pnl, FX(8));
    ck_assert_int_eq(c.t[0].entry_ts, 1);
    ck_assert_int_eq(c.t[0].exit_ts, 4);
}
END_TEST

/* ---- statistics ------------------------------------------------------- */

/* Trips of the fixture through the statistics, with a selection. */
static void fixture_stats(an_trip_stats *s, an_trades *tr, const char *strategy, int64_t from) {
    an_fill f[6];
    fixture(f);
    an_trips trips;
    an_trades_init(tr, strategy, from);
    an_trip_stats_init(s, strategy, from);
    an_trips_init(&trips, an_trip_stats_add, s);
    replay(f, NFILLS, tr, &trips);
}

START_TEST(trip_statistics_per_account) {
    /* Closed trips: A net +7 (a win), B net -52 (a loss); the open one only
     * counts for the exposure. win rate 1/2; avg win 7; avg loss -52;
     * expectancy (7 - 52) / 2 = -22.5; profit factor 7 / 52 = 0.134615(38);
     * fees of every fill 6. No curve points: equity figures null. */
    an_trip_stats s;
    an_trades tr;
    fixture_stats(&s, &tr, NULL, 0);
    ck_assert_uint_eq(s.round_trips, 2);
    ck_assert_uint_eq(s.nspans, 3);
    tb_performance p = {.account = "ACC"};
    an_series ser;
    an_series_init(&ser, DAY, 0);
    an_summary m;
    ck_assert_int_eq(an_series_finish(&ser, 252, &m), TB_OK);
    tb_error err = {0};
    an_value bh = {NAN, "no equity points"}; /* as the service says without points */
    ck_assert_int_eq(an_report_fill(&p, &m, 0, 0, &tr, &s, bh, &err), TB_OK);
    ck_assert_uint_eq(p.fills, 6);
    ck_assert_uint_eq(p.round_trips, 2);
    ck_assert_double_eq(p.win_rate, 0.5);
    ck_assert_int_eq(p.avg_win, FX(7));
    ck_assert_int_eq(p.avg_loss, -FX(52));
    ck_assert_int_eq(p.expectancy, -2250000000);
    ck_assert_double_eq(p.profit_factor, 0.134615);
    ck_assert_int_eq(p.fees, FX(6));
    ck_assert_int_eq(p.equity, TB_NULL_INT);
    ck_assert_int_eq(p.pnl, TB_NULL_INT);
    ck_assert(isnan(p.sharpe) && isnan(p.exposure) && isnan(p.var_95));
    ck_assert_int_eq(p.drawdown_peak, TB_NULL_INT);
    ck_assert_str_eq(p.null_reasons,
                     "equity, pnl, total_return, cagr, volatility, sharpe, sortino, calmar, "
                     "max_drawdown, drawdown_peak, drawdown_trough, drawdown_recovery, var_95, "
                     "exposure, buy_hold_return: no equity points");
    ck_assert_int_eq(tb_validate(&tb_performance_desc, &p, NULL), TB_OK);
    an_trip_stats_free(&s);
}
END_TEST

START_TEST(trip_statistics_per_strategy) {
    /* s1 opened trip A only: one win of 7, no loss (profit factor and avg
     * loss null); P&L = its fills' realized 10 - fees 3 = 7. s2: trip B,
     * a loss: win rate 0 and profit factor 0 / 52 = 0 are values. */
    an_trip_stats s;
    an_trades tr;
    fixture_stats(&s, &tr, "s1", 0);
    tb_performance p = {.account = "ACC"};
    tb_error err = {0};
    ck_assert_int_eq(an_report_fill(&p, NULL, 0, 0, &tr, &s, BH_NONE, &err), TB_OK);
    ck_assert_uint_eq(p.round_trips, 1);
    ck_assert_double_eq(p.win_rate, 1);
    ck_assert_int_eq(p.avg_win, FX(7));
    ck_assert_int_eq(p.avg_loss, TB_NULL_INT);
    ck_assert(isnan(p.profit_factor));
    ck_assert_int_eq(p.pnl, FX(7));
    ck_assert_int_eq(p.fees, FX(3));
    ck_assert_int_eq(p.equity, TB_NULL_INT);
    ck_assert_ptr_nonnull(strstr(p.null_reasons, "exposure: equity is per account"));
    ck_assert_ptr_nonnull(strstr(p.null_reasons, "profit_factor, avg_loss: no losing round trips"));
    ck_assert_int_eq(tb_validate(&tb_performance_desc, &p, NULL), TB_OK);
    an_trip_stats_free(&s);

    fixture_stats(&s, &tr, "s2", 0);
    memset(&p, 0, sizeof p);
    ck_assert_int_eq(an_report_fill(&p, NULL, 0, 0, &tr, &s, BH_NONE, &err), TB_OK);
    ck_assert_double_eq(p.win_rate, 0);
    ck_assert_double_eq(p.profit_factor, 0);
    ck_assert_int_eq(p.avg_loss, -FX(52));
    ck_assert_int_eq(p.avg_win, TB_NULL_INT);
    an_trip_stats_free(&s);

    /* From 260: only A closed (at 300) after it; B closed at 250. */
    fixture_stats(&s, &tr, NULL, 260);
    ck_assert_uint_eq(s.round_trips, 1);
    ck_assert_int_eq(s.net, FX(7));
    an_trip_stats_free(&s);
}
END_TEST

START_TEST(curve_statistics_rounded) {
    /* The curve of test_an_stats.c (100, 110, 99, 108.9, 119.79 daily):
     * Sharpe 0.5 * sqrt(252) = 7.93725393... -> 7.93725 (6 significant
     * digits); Sortino sqrt(252) = 15.8745078... -> 15.8745; max drawdown
     * 0.1; peak day 1, trough day 2, recovery day 4. No trips: exposure 0
     * (a value: never in the market). */
    int64_t ts[] = {0, DAY, 2 * DAY, 3 * DAY, 4 * DAY};
    double v[] = {100, 110, 99, 108.9, 119.79};
    an_series ser;
    an_series_init(&ser, DAY, 0);
    for (int i = 0; i < 5; i++) ck_assert_int_eq(an_series_add(&ser, ts[i], v[i]), TB_OK);
    an_summary m;
    ck_assert_int_eq(an_series_finish(&ser, 252, &m), TB_OK);
    an_series_free(&ser);
    an_trip_stats s;
    an_trip_stats_init(&s, NULL, 0);
    an_trades tr;
    an_trades_init(&tr, NULL, 0);
    tb_performance p = {0};
    tb_error err = {0};
    ck_assert_int_eq(an_report_fill(&p, &m, FX(100), 11979000000, &tr, &s, BH_NONE, &err), TB_OK);
    ck_assert_double_eq(p.sharpe, 7.93725);
    ck_assert_double_eq(p.sortino, 15.8745);
    ck_assert_double_eq(p.max_drawdown, 0.1);
    ck_assert_double_eq(p.total_return, 0.1979);
    ck_assert_int_eq(p.pnl, 1979000000);
    ck_assert_int_eq(p.equity, 11979000000);
    ck_assert_int_eq(p.drawdown_peak, DAY);
    ck_assert_int_eq(p.drawdown_trough, 2 * DAY);
    ck_assert_int_eq(p.drawdown_recovery, 4 * DAY);
    ck_assert_double_eq(p.exposure, 0);
    ck_assert_uint_eq(p.returns, 4);
    ck_assert_ptr_nonnull(strstr(p.null_reasons, "var_95: fewer than 20 daily returns"));
    ck_assert_ptr_null(strstr(p.null_reasons, "sharpe"));
}
END_TEST

START_TEST(non_finite_is_null) {
    /* A summary whose ratio overflowed: the reply says null, "not finite",
     * and stays valid for the wire (no infinities). */
    an_summary m = {.points = 2, .from = 0, .to = DAY};
    an_value ok = {1, NULL};
    m.total_return = m.cagr = m.volatility = m.sortino = m.calmar = m.max_drawdown = ok;
    m.var_95 = ok;
    m.sharpe = (an_value){INFINITY, NULL};
    m.dd_peak_ts = 1;
    m.dd_trough_ts = 2;
    m.why_recovery = "not recovered";
    an_trip_stats s;
    an_trip_stats_init(&s, NULL, 0);
    an_trades tr;
    an_trades_init(&tr, NULL, 0);
    tb_performance p = {.account = "ACC"};
    tb_error err = {0};
    ck_assert_int_eq(an_report_fill(&p, &m, FX(1), FX(2), &tr, &s, BH_NONE, &err), TB_OK);
    ck_assert(isnan(p.sharpe));
    ck_assert_ptr_nonnull(strstr(p.null_reasons, "sharpe: not finite"));
    ck_assert_double_eq(p.sortino, 1);
    ck_assert_int_eq(p.drawdown_recovery, TB_NULL_INT);
    ck_assert_int_eq(tb_validate(&tb_performance_desc, &p, NULL), TB_OK);
}
END_TEST

START_TEST(buy_and_hold) {
    /* 100 -> 110 (+10 %) and 50 -> 60 (+20 %), equal weights: 15 %. */
    tb_fixed first[2] = {FX(100), FX(50)}, last[2] = {FX(110), FX(60)};
    an_value v = an_buy_hold(first, last, 2);
    ck_assert_ptr_null(v.why);
    ck_assert_double_eq_tol(v.v, 0.15, 1e-15);
    ck_assert_str_eq(an_buy_hold(first, last, 0).why, "no traded symbol");
    first[1] = 0;
    ck_assert_ptr_nonnull(an_buy_hold(first, last, 2).why);
    /* Into the reply, rounded. */
    an_trip_stats s;
    an_trip_stats_init(&s, NULL, 0);
    an_trades tr;
    an_trades_init(&tr, NULL, 0);
    an_summary m = {.points = 0};
    tb_performance p = {.account = "ACC"};
    tb_error err = {0};
    ck_assert_int_eq(an_report_fill(&p, &m, 0, 0, &tr, &s, (an_value){2.0 / 3, NULL}, &err), TB_OK);
    ck_assert_double_eq(p.buy_hold_return, 0.666667);
}
END_TEST

START_TEST(exposure_union_of_spans) {
    /* Spans [1, 4], [2, 3] (inside the first), [6, 7], [9, open) in days
     * over [0, 10]: 3 + 1 + 1 = 5 of 10 days = 0.5. Over [2, 8]: [2, 4] and
     * [6, 7] = 3 of 6 = 0.5. Over [5, 5]: no time. */
    an_span sp[4] = {{9 * DAY, INT64_MAX}, {2 * DAY, 3 * DAY}, {6 * DAY, 7 * DAY}, {DAY, 4 * DAY}};
    an_value e = an_exposure(sp, 4, 0, 10 * DAY);
    ck_assert_ptr_null(e.why);
    ck_assert_double_eq(e.v, 0.5);
    e = an_exposure(sp, 4, 2 * DAY, 8 * DAY);
    ck_assert_double_eq(e.v, 0.5);
    e = an_exposure(sp, 4, 5 * DAY, 5 * DAY);
    ck_assert_str_eq(e.why, "no time elapsed");
    ck_assert_double_eq(an_exposure(NULL, 0, 0, DAY).v, 0);
}
END_TEST

START_TEST(rounding_and_reasons_text) {
    ck_assert_double_eq(an_round_sig(-0.29780874213055952), -0.297809);
    ck_assert_double_eq(an_round_sig(123456789.0), 123457000.0);
    ck_assert_double_eq(an_round_sig(0.000012345678), 0.0000123457);
    ck_assert_double_eq(an_round_sig(0), 0);
    ck_assert(isnan(an_round_sig(NAN)));
    an_nulls z = {0};
    an_nulls_add(&z, "sharpe", "fewer than 2 returns");
    an_nulls_add(&z, "sortino", "no returns");
    an_nulls_add(&z, "volatility", "fewer than 2 returns");
    char out[TB_TEXT_CAP];
    an_nulls_format(&z, out, sizeof out);
    ck_assert_str_eq(out, "sharpe, volatility: fewer than 2 returns; sortino: no returns");
    /* Too small a buffer: whole groups only, then "...". */
    char small[48];
    an_nulls_format(&z, small, sizeof small);
    ck_assert_str_eq(small, "sharpe, volatility: fewer than 2 returns; ...");
}
END_TEST

START_TEST(drawdown_series) {
    /* 100, 110, 99, 108.9 with no earlier point: 0, 0, 11 / 110 = 0.1,
     * 1.1 / 110 = 0.01. After an earlier peak of 120: 20 / 120 = 0.166667,
     * 10 / 120 = 0.0833333, 21 / 120 = 0.175, 11.1 / 120 = 0.0925. A curve
     * below zero has no drawdown fraction: null. */
    tb_equity_point pts[4] = {
        {.equity = FX(100)}, {.equity = FX(110)}, {.equity = FX(99)}, {.equity = 10890000000}};
    an_report_drawdowns(pts, 4, NAN);
    ck_assert_double_eq(pts[0].drawdown, 0);
    ck_assert_double_eq(pts[1].drawdown, 0);
    ck_assert_double_eq(pts[2].drawdown, 0.1);
    ck_assert_double_eq(pts[3].drawdown, 0.01);
    an_report_drawdowns(pts, 4, 120);
    ck_assert_double_eq(pts[0].drawdown, 0.166667);
    ck_assert_double_eq(pts[1].drawdown, 0.0833333);
    ck_assert_double_eq(pts[2].drawdown, 0.175);
    ck_assert_double_eq(pts[3].drawdown, 0.0925);
    tb_equity_point neg[1] = {{.equity = -FX(5)}};
    an_report_drawdowns(neg, 1, NAN);
    ck_assert(isnan(neg[0].drawdown));
}
END_TEST

int main(void) {
    Suite *s = suite_create("an_report");
    TCase *tc = tcase_create("report");
    tcase_add_test(tc, round_trips_of_the_fixture);
    tcase_add_test(tc, flip_through_zero_splits_the_fee);
    tcase_add_test(tc, scale_in_and_out);
    tcase_add_test(tc, trip_statistics_per_account);
    tcase_add_test(tc, trip_statistics_per_strategy);
    tcase_add_test(tc, curve_statistics_rounded);
    tcase_add_test(tc, non_finite_is_null);
    tcase_add_test(tc, buy_and_hold);
    tcase_add_test(tc, exposure_union_of_spans);
    tcase_add_test(tc, rounding_and_reasons_text);
    tcase_add_test(tc, drawdown_series);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
