/* risk-management's view of an amend (risk_amend.h): the amended order as
 * an intent for the checks, the refusals before any check, a retry that
 * changes nothing, and the position the checks start from. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "risk_amend.h"
#include "tb_test.h"

#define U TB_FIXED_SCALE

static tb_order_record record(const char *type, const char *status, int64_t qty, int64_t filled) {
    tb_order_record r;
    memset(&r, 0, sizeof r);
    snprintf(r.order_id, sizeof r.order_id, "o1");
    snprintf(r.account, sizeof r.account, "A");
    snprintf(r.symbol, sizeof r.symbol, "SYM");
    snprintf(r.side, sizeof r.side, "buy");
    snprintf(r.type, sizeof r.type, "%s", type);
    snprintf(r.tif, sizeof r.tif, "gtc");
    snprintf(r.source, sizeof r.source, "api");
    snprintf(r.status, sizeof r.status, "%s", status);
    r.qty = qty * U;
    r.filled_qty = filled * U;
    if (strstr(type, "limit")) r.limit_price = 100 * U;
    if (strstr(type, "stop")) r.stop_price = 110 * U;
    return r;
}

static tb_order_amend amend(int64_t qty, int64_t limit, int64_t stop) {
    tb_order_amend m;
    memset(&m, 0, sizeof m);
    snprintf(m.id, sizeof m.id, "o1");
    m.qty = qty * U;
    m.limit_price = limit * U;
    m.stop_price = stop * U;
    return m;
}

START_TEST(amended_values_make_the_intent) {
    tb_order_record r = record("limit", "partially_filled", 10, 2);
    tb_order_amend m = amend(20, 0, 0);
    risk_intent in;
    tb_error err = {0};
    ck_assert_int_eq(risk_amend_intent(&r, true, &m, &in, &err), RISK_AMEND_CHECK);
    ck_assert_int_eq(in.qty, 20 * U);
    ck_assert_int_eq(in.limit_price, 100 * U);
    ck_assert_str_eq(in.account, "A");
    ck_assert_str_eq(in.symbol, "SYM");
    ck_assert_str_eq(in.side, "buy");
    ck_assert_str_eq(in.type, "limit");
    ck_assert_str_eq(in.tif, "gtc");
    ck_assert(in.reduce_only);
    m = amend(0, 99, 0);
    ck_assert_int_eq(risk_amend_intent(&r, false, &m, &in, &err), RISK_AMEND_CHECK);
    ck_assert_int_eq(in.qty, 10 * U);
    ck_assert_int_eq(in.limit_price, 99 * U);
}
END_TEST

START_TEST(same_values_are_unchanged) {
    tb_order_record r = record("stop_limit", "accepted", 10, 0);
    tb_order_amend m = amend(10, 100, 110);
    risk_intent in;
    tb_error err = {0};
    ck_assert_int_eq(risk_amend_intent(&r, false, &m, &in, &err), RISK_AMEND_UNCHANGED);
}
END_TEST

static void refused(const tb_order_record *r, tb_order_amend m, tb_status want, const char *field) {
    risk_intent in;
    tb_error err = {0};
    ck_assert_int_eq(risk_amend_intent(r, false, &m, &in, &err), RISK_AMEND_REFUSED);
    ck_assert_int_eq(err.status, want);
    ck_assert_str_eq(err.field, field);
}

START_TEST(refusals_before_the_checks) {
    tb_order_record lim = record("limit", "partially_filled", 10, 4);
    refused(&lim, amend(3, 0, 0), TB_REJECTED, "qty");
    refused(&lim, amend(0, 0, 0), TB_REJECTED, "qty");
    refused(&lim, amend(0, 0, 90), TB_REJECTED, "stop_price");
    tb_order_record mkt = record("market", "new", 10, 0);
    refused(&mkt, amend(0, 90, 0), TB_REJECTED, "limit_price");
    const char *done[] = {"filled", "canceled", "rejected", "expired"};
    for (int i = 0; i < 4; i++) {
        tb_order_record r = record("limit", done[i], 10, 0);
        refused(&r, amend(5, 0, 0), TB_CONFLICT, "id");
    }
}
END_TEST

START_TEST(a_trailing_stop_keeps_its_trail) {
    tb_order_record r = record("trailing_stop", "accepted", 10, 0);
    r.stop_price = 0; /* a trailing stop has no stop price of its own */
    r.trail_bps = 150;
    r.limit_offset = 2 * U;
    tb_order_amend m = amend(6, 0, 0);
    risk_intent in;
    tb_error err = {0};
    ck_assert_int_eq(risk_amend_intent(&r, false, &m, &in, &err), RISK_AMEND_CHECK);
    ck_assert_int_eq(in.qty, 6 * U);
    ck_assert_int_eq(in.trail_bps, 150);
    ck_assert_int_eq(in.limit_offset, 2 * U);
    refused(&r, amend(0, 90, 0), TB_REJECTED, "limit_price");
    refused(&r, amend(0, 0, 90), TB_REJECTED, "stop_price");
}
END_TEST

START_TEST(positions_before_the_orders_fills) {
    risk_position p[2];
    memset(p, 0, sizeof p);
    snprintf(p[0].symbol, sizeof p[0].symbol, "OTHER");
    p[0].qty = 7 * U;
    snprintf(p[1].symbol, sizeof p[1].symbol, "SYM");
    p[1].qty = 5 * U;
    risk_amend_unfill(p, 2, "SYM", 3 * U); /* bought 3 of the 5 with this order */
    ck_assert_int_eq(p[1].qty, 2 * U);
    ck_assert_int_eq(p[0].qty, 7 * U);
    risk_amend_unfill(p, 2, "SYM", -4 * U); /* a sell order's fills */
    ck_assert_int_eq(p[1].qty, 6 * U);
    risk_amend_unfill(p, 2, "NONE", 4 * U); /* not booked yet: nothing to take off */
    ck_assert_int_eq(p[0].qty, 7 * U);
    ck_assert_int_eq(p[1].qty, 6 * U);
}
END_TEST

int main(void) {
    Suite *s = suite_create("risk_amend");
    TCase *tc = tcase_create("amend");
    tcase_add_test(tc, amended_values_make_the_intent);
    tcase_add_test(tc, same_values_are_unchanged);
    tcase_add_test(tc, refusals_before_the_checks);
    tcase_add_test(tc, a_trailing_stop_keeps_its_trail);
    tcase_add_test(tc, positions_before_the_orders_fills);
    suite_add_tcase(s, tc);
    return tb_test_run_suite(s);
}
