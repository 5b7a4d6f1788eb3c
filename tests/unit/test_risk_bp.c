/* Buying power (actors/risk-management/risk_bp.c): what a buy and a short
 * sale need, what reduces for free, what the account has left, and the
 * check's verdicts, against amounts derived by hand in the comments. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "risk_bp.h"

#define FX(units) ((tb_fixed)(units)*TB_FIXED_SCALE)

static risk_intent in;
static tb_risk_limits limits;
static risk_symbol symbol;
static risk_facts f;
static risk_verdict v;

/* A limit buy of 10 at 100 for account ACC with 1000 cash, nothing open. */
static void reset(void) {
    memset(&in, 0, sizeof in);
    memset(&limits, 0, sizeof limits);
    memset(&f, 0, sizeof f);
    memset(&v, 0, sizeof v);
    snprintf(in.account, sizeof in.account, "ACC");
    snprintf(in.symbol, sizeof in.symbol, "XYZ");
    snprintf(in.side, sizeof in.side, "buy");
    snprintf(in.type, sizeof in.type, "limit");
    snprintf(in.tif, sizeof in.tif, "day");
    in.qty = FX(10);
    in.limit_price = FX(100);
    symbol = (risk_symbol){.tradable = true};
    f.limits = &limits;
    f.symbol = &symbol;
    f.account_known = true;
    f.bp.cash = FX(1000);
}

static void check(void) {
    memset(&v, 0, sizeof v);
    risk_check_buying_power(&in, &f, &v);
}

START_TEST(buy_within_cash_passes_at_the_boundary) {
    /* 10 x 100 = 1000 = cash: limits are inclusive. */
    check();
    ck_assert_uint_eq(v.n, 0);
    /* One more unit of 1e-8 in price: 10 x 100.00000001 = 1000.0000001 > 1000. */
    in.limit_price = FX(100) + 1;
    check();
    ck_assert_uint_eq(v.n, 1);
    ck_assert_int_eq(v.failures[0].reason, RISK_INSUFFICIENT_BUYING_POWER);
    ck_assert_str_eq(v.failures[0].message,
                     "needed 1000.0000001 (10 x 100.00000001 + fees 0), available 1000");
}
END_TEST

START_TEST(fees_and_reservations_count) {
    /* fee 10 bps: 1000 x 10 / 10000 = 1; needed 1001 > 1000. */
    f.fee_bps = 10;
    check();
    ck_assert_uint_eq(v.n, 1);
    ck_assert_str_eq(v.failures[0].message, "needed 1001 (10 x 100 + fees 1), available 1000");
    /* Open orders reserve 300 with a fee base of 300 (fee 0.3), the batch
     * took 100: available = 2000 - 300 - 0.3 - 100 = 1599.7. */
    f.bp.cash = FX(2000);
    f.bp.reserved = FX(300);
    f.bp.fee_base = FX(300);
    f.bp_taken = FX(100);
    ck_assert_int_eq(risk_bp_available(&f.bp, 10, f.bp_taken), FX(15997) / 10);
    check();
    ck_assert_uint_eq(v.n, 0);
}
END_TEST

START_TEST(a_buy_covering_a_short_needs_nothing_for_the_cover) {
    /* Short 6, no open buys: 6 of the 10 cover, 4 open: 4 x 100 = 400. */
    f.bp.position = FX(-6);
    f.bp.cash = 0;
    risk_bp_need n;
    ck_assert_int_eq(risk_bp_need_of(&in, in.limit_price, &f.bp, 15000, 0, &n), TB_OK);
    ck_assert_int_eq(n.opening, FX(4));
    ck_assert_int_eq(n.needed, FX(400));
    /* An open buy of 6 already covers the short: all 10 open. */
    f.bp.open_buy = FX(6);
    ck_assert_int_eq(risk_bp_need_of(&in, in.limit_price, &f.bp, 15000, 0, &n), TB_OK);
    ck_assert_int_eq(n.needed, FX(1000));
    /* Short 10, nothing open: a pure cover passes with no cash at all. */
    f.bp.open_buy = 0;
    f.bp.position = FX(-10);
    check();
    ck_assert_uint_eq(v.n, 0);
}
END_TEST

START_TEST(short_sale_needs_margin_beyond_its_proceeds) {
    /* Sell 10 at 100 with no position: notional 1000, margin 150 % = 1500,
     * the proceeds cover 1000, needed 500. Cash 499 fails, 500 passes. */
    snprintf(in.side, sizeof in.side, "sell");
    f.bp.cash = FX(499);
    check();
    ck_assert_uint_eq(v.n, 1);
    ck_assert_int_eq(v.failures[0].reason, RISK_INSUFFICIENT_BUYING_POWER);
    ck_assert_str_eq(v.failures[0].message,
                     "needed 500 (margin 1500 = 15000 bps of 1000, less the proceeds, + fees "
                     "0), available 499");
    f.bp.cash = FX(500);
    check();
    ck_assert_uint_eq(v.n, 0);
    /* An account rate of 200 %: margin 2000, needed 1000. */
    limits.initial_margin_bps = 20000;
    check();
    ck_assert_uint_eq(v.n, 1);
}
END_TEST

START_TEST(a_sell_of_a_long_needs_nothing) {
    /* Long 10: selling 10 reduces; selling 14 shorts 4: 4 x 100 x 50 % = 200. */
    snprintf(in.side, sizeof in.side, "sell");
    f.bp.cash = 0;
    f.bp.position = FX(10);
    check();
    ck_assert_uint_eq(v.n, 0);
    in.qty = FX(14);
    risk_bp_need n;
    ck_assert_int_eq(risk_bp_need_of(&in, in.limit_price, &f.bp, 15000, 0, &n), TB_OK);
    ck_assert_int_eq(n.opening, FX(4));
    ck_assert_int_eq(n.margin, FX(600));
    ck_assert_int_eq(n.needed, FX(200));
    check();
    ck_assert_uint_eq(v.n, 1);
    /* Open sells of 10 already sell the long: the 10 of a new sell all short. */
    in.qty = FX(10);
    f.bp.open_sell = FX(10);
    ck_assert_int_eq(risk_bp_need_of(&in, in.limit_price, &f.bp, 15000, 0, &n), TB_OK);
    ck_assert_int_eq(n.needed, FX(500));
    /* A reduce-only order needs nothing, whatever is open. */
    in.reduce_only = true;
    check();
    ck_assert_uint_eq(v.n, 0);
}
END_TEST

START_TEST(fails_closed_and_skips_what_others_report) {
    /* Open orders that cannot be valued: buying_power_unknown. */
    f.bp.cash = FX(1000000);
    f.bp.unpriced = 2;
    check();
    ck_assert_uint_eq(v.n, 1);
    ck_assert_int_eq(v.failures[0].reason, RISK_BUYING_POWER_UNKNOWN);
    ck_assert_str_eq(risk_reason_code(RISK_BUYING_POWER_UNKNOWN), "buying_power_unknown");
    ck_assert_str_eq(risk_reason_code(RISK_INSUFFICIENT_BUYING_POWER), "insufficient_buying_power");
    /* Unknown accounts and market orders without a quote are reported by
     * account_unknown and no_quote. */
    f.bp.unpriced = 0;
    f.bp.cash = 0;
    f.account_known = false;
    check();
    ck_assert_uint_eq(v.n, 0);
    f.account_known = true;
    snprintf(in.type, sizeof in.type, "market");
    in.limit_price = 0;
    f.quote.state = RISK_QUOTE_NONE;
    check();
    ck_assert_uint_eq(v.n, 0);
    /* A market buy is valued at the ask: 10 x 101 = 1010. */
    f.quote = (risk_quote){.state = RISK_QUOTE_OK, .bid = FX(99), .ask = FX(101), .last = FX(100)};
    f.bp.cash = FX(1010);
    check();
    ck_assert_uint_eq(v.n, 0);
    f.bp.cash = FX(1009);
    check();
    ck_assert_uint_eq(v.n, 1);
}
END_TEST

START_TEST(margin_rate_validation) {
    tb_risk_limits l = {0};
    tb_error err = {0};
    snprintf(l.account, sizeof l.account, "ACC");
    ck_assert_int_eq(risk_limits_validate(&l, &err), TB_OK); /* 0: the default */
    ck_assert_uint_eq(risk_bp_margin_bps(&l), 15000);
    l.initial_margin_bps = 9999;
    ck_assert_int_eq(risk_limits_validate(&l, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "initial_margin_bps");
    l.initial_margin_bps = 10000;
    ck_assert_int_eq(risk_limits_validate(&l, &err), TB_OK);
    l.initial_margin_bps = 1000001;
    ck_assert_int_eq(risk_limits_validate(&l, &err), TB_INVALID);
}
END_TEST

int main(void) {
    Suite *s = suite_create("risk_bp");
    TCase *tc = tcase_create("bp");
    tcase_add_checked_fixture(tc, reset, NULL);
    tcase_add_test(tc, buy_within_cash_passes_at_the_boundary);
    tcase_add_test(tc, fees_and_reservations_count);
    tcase_add_test(tc, a_buy_covering_a_short_needs_nothing_for_the_cover);
    tcase_add_test(tc, short_sale_needs_margin_beyond_its_proceeds);
    tcase_add_test(tc, a_sell_of_a_long_needs_nothing);
    tcase_add_test(tc, fails_closed_and_skips_what_others_report);
    tcase_add_test(tc, margin_rate_validation);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
