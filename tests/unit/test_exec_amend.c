/* trading-execution's amend rule (exec_order_amend): what may be amended,
 * what is refused and with which field, a retry that changes nothing, and
 * the event it is (version + 1, status kept, or filled when the qty comes
 * down to the filled qty). */
#include <check.h>
#include <stdlib.h>

#include "exec_domain.h"
#include "tb_test.h"

#define U TB_FIXED_SCALE /* one unit */

static exec_order limit_order(exec_status st, int64_t qty, int64_t filled) {
    return (exec_order){.side = EXEC_BUY,
                        .type = EXEC_LIMIT,
                        .tif = EXEC_GTC,
                        .qty = qty * U,
                        .limit_price = 100 * U,
                        .filled_qty = filled * U,
                        .avg_price = filled ? 99 * U : 0,
                        .status = st,
                        .version = 3,
                        .fills = filled ? 1 : 0};
}

START_TEST(qty_down_is_one_event_keeping_the_status) {
    exec_order o = limit_order(EXEC_ACCEPTED, 10, 0);
    exec_amend a = {.qty = 4 * U};
    bool changed = false;
    exec_status st;
    tb_error err = {0};
    ck_assert_int_eq(exec_order_amend(&o, &a, &changed, &st, &err), TB_OK);
    ck_assert(changed);
    ck_assert_int_eq(st, EXEC_ACCEPTED);
    ck_assert_int_eq(o.status, EXEC_ACCEPTED);
    ck_assert_int_eq(o.qty, 4 * U);
    ck_assert_int_eq(o.limit_price, 100 * U);
    ck_assert_int_eq(o.version, 4);
}
END_TEST

START_TEST(price_change_keeps_qty) {
    exec_order o = limit_order(EXEC_PARTIALLY_FILLED, 10, 3);
    exec_amend a = {.limit_price = 101 * U};
    bool changed = false;
    exec_status st;
    tb_error err = {0};
    ck_assert_int_eq(exec_order_amend(&o, &a, &changed, &st, &err), TB_OK);
    ck_assert(changed);
    ck_assert_int_eq(st, EXEC_PARTIALLY_FILLED);
    ck_assert_int_eq(o.qty, 10 * U);
    ck_assert_int_eq(o.limit_price, 101 * U);
    ck_assert_int_eq(o.filled_qty, 3 * U);
    ck_assert_int_eq(o.version, 4);
}
END_TEST

START_TEST(qty_down_to_filled_finishes_the_order) {
    exec_order o = limit_order(EXEC_PARTIALLY_FILLED, 10, 3);
    exec_amend a = {.qty = 3 * U};
    bool changed = false;
    exec_status st;
    tb_error err = {0};
    ck_assert_int_eq(exec_order_amend(&o, &a, &changed, &st, &err), TB_OK);
    ck_assert(changed);
    ck_assert_int_eq(st, EXEC_FILLED);
    ck_assert_int_eq(o.status, EXEC_FILLED);
    ck_assert_int_eq(o.qty, 3 * U);
    ck_assert_int_eq(o.version, 4);
}
END_TEST

START_TEST(same_values_change_nothing) {
    exec_order o = limit_order(EXEC_ACCEPTED, 10, 0);
    exec_order before = o;
    exec_amend a = {.qty = 10 * U, .limit_price = 100 * U};
    bool changed = true;
    exec_status st;
    tb_error err = {0};
    ck_assert_int_eq(exec_order_amend(&o, &a, &changed, &st, &err), TB_OK);
    ck_assert(!changed);
    ck_assert_int_eq(o.version, before.version);
    ck_assert_int_eq(o.qty, before.qty);
}
END_TEST

/* Each refusal names its field and leaves the order as it was. */
static void refused(exec_order o, exec_amend a, tb_status want, const char *field) {
    exec_order before = o;
    bool changed = true;
    exec_status st;
    tb_error err = {0};
    ck_assert_int_eq(exec_order_amend(&o, &a, &changed, &st, &err), want);
    ck_assert_str_eq(err.field, field);
    ck_assert(!changed);
    ck_assert_int_eq(o.qty, before.qty);
    ck_assert_int_eq(o.limit_price, before.limit_price);
    ck_assert_int_eq(o.version, before.version);
    ck_assert_int_eq(o.status, before.status);
}

START_TEST(refusals_name_their_field) {
    refused(limit_order(EXEC_PARTIALLY_FILLED, 10, 3), (exec_amend){.qty = 2 * U}, TB_REJECTED,
            "qty");
    refused(limit_order(EXEC_ACCEPTED, 10, 0), (exec_amend){0}, TB_REJECTED, "qty");
    refused(limit_order(EXEC_ACCEPTED, 10, 0), (exec_amend){.stop_price = 90 * U}, TB_REJECTED,
            "stop_price");
    exec_order market = limit_order(EXEC_ACCEPTED, 10, 0);
    market.type = EXEC_MARKET;
    market.limit_price = 0;
    refused(market, (exec_amend){.limit_price = 90 * U}, TB_REJECTED, "limit_price");
    exec_order stop = market;
    stop.type = EXEC_STOP;
    stop.stop_price = 120 * U;
    refused(stop, (exec_amend){.limit_price = 90 * U}, TB_REJECTED, "limit_price");
}
END_TEST

START_TEST(finished_orders_conflict) {
    exec_status done[] = {EXEC_FILLED, EXEC_CANCELED, EXEC_REJECTED, EXEC_EXPIRED};
    for (size_t i = 0; i < sizeof done / sizeof done[0]; i++)
        refused(limit_order(done[i], 10, done[i] == EXEC_FILLED ? 10 : 0),
                (exec_amend){.qty = 5 * U}, TB_CONFLICT, "id");
}
END_TEST

START_TEST(stop_limit_takes_both_prices) {
    exec_order o = limit_order(EXEC_NEW, 10, 0);
    o.type = EXEC_STOP_LIMIT;
    o.stop_price = 105 * U;
    exec_amend a = {.limit_price = 107 * U, .stop_price = 106 * U};
    bool changed = false;
    exec_status st;
    tb_error err = {0};
    ck_assert_int_eq(exec_order_amend(&o, &a, &changed, &st, &err), TB_OK);
    ck_assert(changed);
    ck_assert_int_eq(st, EXEC_NEW);
    ck_assert_int_eq(o.limit_price, 107 * U);
    ck_assert_int_eq(o.stop_price, 106 * U);
}
END_TEST

int main(void) {
    Suite *s = suite_create("exec_amend");
    TCase *tc = tcase_create("amend");
    tcase_add_test(tc, qty_down_is_one_event_keeping_the_status);
    tcase_add_test(tc, price_change_keeps_qty);
    tcase_add_test(tc, qty_down_to_filled_finishes_the_order);
    tcase_add_test(tc, same_values_change_nothing);
    tcase_add_test(tc, refusals_name_their_field);
    tcase_add_test(tc, finished_orders_conflict);
    tcase_add_test(tc, stop_limit_takes_both_prices);
    suite_add_tcase(s, tc);
    return tb_test_run_suite(s);
}
