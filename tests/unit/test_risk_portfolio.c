/* Portfolio risk (actors/risk-management/risk_portfolio.c): exposure,
 * concentration, leverage, margin, buying power and historical VaR, each
 * against numbers derived by hand in the comments. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "risk_portfolio.h"

#define FX(units) ((tb_fixed)(units)*TB_FIXED_SCALE)

/* Two symbols over six days (day numbers 10..15):
 * A closes 100, 110, 99, 99, 108.9, 98.01: returns +10 %, -10 %, 0, +10 %, -10 %
 * B closes 50, 50, 55, 44, 44, 46.2:       returns 0, +10 %, -20 %, 0, +5 % */
static const int64_t days[6] = {10, 11, 12, 13, 14, 15};
static const tb_fixed a_closes[6] = {FX(100), FX(110),       FX(99),
                                     FX(99),  FX(1089) / 10, FX(9801) / 100};
static const tb_fixed b_closes[6] = {FX(50), FX(50), FX(55), FX(44), FX(44), FX(462) / 10};

/* Long 100 A marked 100 (value 10000), short 100 B marked 50 (value -5000). */
static void book(risk_pf_position p[2]) {
    memset(p, 0, 2 * sizeof *p);
    snprintf(p[0].symbol, sizeof p[0].symbol, "A");
    p[0].qty = FX(100);
    p[0].mark = FX(100);
    p[0].days = days;
    p[0].closes = a_closes;
    p[0].nbars = 6;
    snprintf(p[1].symbol, sizeof p[1].symbol, "B");
    p[1].qty = FX(-100);
    p[1].mark = FX(50);
    p[1].days = days;
    p[1].closes = b_closes;
    p[1].nbars = 6;
}

START_TEST(var_of_the_last_n_days) {
    risk_pf_position p[2];
    book(p);
    risk_var v;
    /* Scenario P&Ls (A: 10000 x r, B: -5000 x r), newest four days:
     * d12: -1000 - 500 = -1500; d13: 0 + 1000 = 1000; d14: 1000 + 0 = 1000;
     * d15: -1000 - 250 = -1250. Four scenarios: at 95 % and 99 % the
     * ceil(0.2) = ceil(0.04) = 1st worst: 1500. */
    ck_assert_int_eq(risk_var_historical(p, 2, 4, &v), TB_OK);
    ck_assert_uint_eq(v.days, 4);
    ck_assert_int_eq(v.var95, FX(1500));
    ck_assert_int_eq(v.var99, FX(1500));
    /* Newest two days only: -1250 and 1000: 1250. */
    ck_assert_int_eq(risk_var_historical(p, 2, 2, &v), TB_OK);
    ck_assert_int_eq(v.var95, FX(1250));
    /* All five: d11 adds 1000 + 0 = 1000; still 1500. A alone over four:
     * -1000, 0, 1000, -1000: 1000. */
    ck_assert_int_eq(risk_var_historical(p, 2, 250, &v), TB_OK);
    ck_assert_uint_eq(v.days, 5);
    ck_assert_int_eq(v.var95, FX(1500));
    ck_assert_int_eq(risk_var_historical(p, 1, 4, &v), TB_OK);
    ck_assert_int_eq(v.var95, FX(1000));
}
END_TEST

START_TEST(scenario_days_are_common_days) {
    risk_pf_position p[2];
    book(p);
    /* B lacks day 14: its return on day 15 is then 44 -> 46.2 measured from
     * day 13 (consecutive bars), and day 14 is no scenario. */
    static const int64_t b_days[5] = {10, 11, 12, 13, 15};
    static const tb_fixed b5[5] = {FX(50), FX(50), FX(55), FX(44), FX(462) / 10};
    p[1].days = b_days;
    p[1].closes = b5;
    p[1].nbars = 5;
    risk_var v;
    /* Days 15, 13, 12, 11: -1250, 1000, -1500, 1000. */
    ck_assert_int_eq(risk_var_historical(p, 2, 250, &v), TB_OK);
    ck_assert_uint_eq(v.days, 4);
    ck_assert_int_eq(v.var95, FX(1500));
    /* A symbol with one bar: no return, no scenario, no VaR. */
    p[1].nbars = 1;
    ck_assert_int_eq(risk_var_historical(p, 2, 250, &v), TB_OK);
    ck_assert_uint_eq(v.days, 0);
    ck_assert_int_eq(v.var95, 0);
}
END_TEST

START_TEST(quantiles) {
    /* 100 scenarios -1, -2, ..., -100: 95 %: the 5th worst (-96), 99 %:
     * the 1st (-100). */
    tb_fixed pnl[100];
    for (int i = 0; i < 100; i++) pnl[i] = -FX(i + 1);
    ck_assert_int_eq(risk_var_quantile(pnl, 100, 95), FX(96));
    ck_assert_int_eq(risk_var_quantile(pnl, 100, 99), FX(100));
    /* 21 scenarios: 95 %: ceil(1.05) = 2nd worst. */
    for (int i = 0; i < 21; i++) pnl[i] = FX(i) - FX(10); /* -10 .. 10 */
    ck_assert_int_eq(risk_var_quantile(pnl, 21, 95), FX(9));
    /* Only gains: no loss. */
    for (int i = 0; i < 5; i++) pnl[i] = FX(i + 1);
    ck_assert_int_eq(risk_var_quantile(pnl, 5, 95), 0);
    ck_assert_int_eq(risk_var_quantile(pnl, 0, 95), 0);
}
END_TEST

START_TEST(account_figures) {
    risk_pf_position p[2];
    book(p);
    /* Cash 95000 (100000 - 10000 for A + 5000 from the B short); the short
     * holds 5000 x 150 % = 7500; open orders reserve 1000 with a fee base of
     * 1000 (10 bps: 1). */
    risk_bp_facts bp = {.cash = FX(95000),
                        .reserved = FX(7500) + FX(1000),
                        .margin_used = FX(7500),
                        .fee_base = FX(1000)};
    tb_account_risk a;
    tb_position_risk items[2];
    ck_assert_int_eq(risk_pf_assess("ACC", p, 2, &bp, 15000, 10, 4, &a, items), TB_OK);
    ck_assert_str_eq(a.account, "ACC");
    /* gross 10000 + 5000, net 10000 - 5000, equity 95000 + 5000 */
    ck_assert_int_eq(a.gross_exposure, FX(15000));
    ck_assert_int_eq(a.net_exposure, FX(5000));
    ck_assert_int_eq(a.equity, FX(100000));
    ck_assert_int_eq(a.leverage, FX(15) / 100); /* 15000 / 100000 */
    ck_assert_int_eq(a.margin_used, FX(7500));
    ck_assert_int_eq(a.margin_available, FX(87500)); /* 95000 - 7500 */
    ck_assert_int_eq(a.reserved, FX(1001));          /* 1000 + fee 1 */
    ck_assert_int_eq(a.buying_power, FX(86499));     /* 87500 - 1001 */
    ck_assert_uint_eq(a.margin_rate_bps, 15000);
    ck_assert_int_eq(a.var_95, FX(1500));
    ck_assert_uint_eq(a.var_days, 4);
    /* A: 10000 / 15000 = 0.666666666.. -> 0.66666667; B 0.33333333 */
    ck_assert_str_eq(items[0].symbol, "A");
    ck_assert_int_eq(items[0].market_value, FX(10000));
    ck_assert_int_eq(items[0].concentration, 66666667);
    ck_assert_int_eq(items[0].margin_used, 0);
    ck_assert_int_eq(items[0].var_95, FX(1000));
    ck_assert_int_eq(items[1].market_value, -FX(5000));
    ck_assert_int_eq(items[1].exposure, FX(5000));
    ck_assert_int_eq(items[1].concentration, 33333333);
    ck_assert_int_eq(items[1].margin_used, FX(7500));
    /* B alone: -500, 1000, 0, -250: 500 */
    ck_assert_int_eq(items[1].var_95, FX(500));
    /* No positions: all exposure 0, leverage 0, equity = cash. */
    ck_assert_int_eq(risk_pf_assess("ACC", NULL, 0, &bp, 15000, 0, 4, &a, NULL), TB_OK);
    ck_assert_int_eq(a.gross_exposure, 0);
    ck_assert_int_eq(a.leverage, 0);
    ck_assert_int_eq(a.equity, FX(95000));
    ck_assert_uint_eq(a.var_days, 0);
    /* Equity not positive: leverage 0. */
    bp.cash = -FX(5000);
    ck_assert_int_eq(risk_pf_assess("ACC", p, 2, &bp, 15000, 0, 4, &a, NULL), TB_OK);
    ck_assert_int_eq(a.equity, 0);
    ck_assert_int_eq(a.leverage, 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("risk_portfolio");
    TCase *tc = tcase_create("portfolio");
    tcase_add_test(tc, var_of_the_last_n_days);
    tcase_add_test(tc, scenario_days_are_common_days);
    tcase_add_test(tc, quantiles);
    tcase_add_test(tc, account_figures);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
