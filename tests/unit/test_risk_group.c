/* OCO pairs and brackets as intents (actors/risk-management/risk_group.c):
 * the orders a group request makes, with their sides, types, prices and
 * roles, and the requests refused naming the field. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "risk_group.h"

#define FX(units) ((tb_fixed)(units)*TB_FIXED_SCALE)

static tb_order_group_request req(const char *contingency, const char *side) {
    tb_order_group_request r;
    memset(&r, 0, sizeof r);
    snprintf(r.account, sizeof r.account, "ACC");
    snprintf(r.symbol, sizeof r.symbol, "DAX");
    snprintf(r.contingency, sizeof r.contingency, "%s", contingency);
    snprintf(r.side, sizeof r.side, "%s", side);
    r.qty = FX(10);
    r.take_profit_price = FX(110);
    r.stop_loss_price = FX(95);
    return r;
}

static void refused(const tb_order_group_request *r, const char *field) {
    risk_group g;
    tb_error err = {0};
    ck_assert_int_eq(risk_group_intents(r, &g, &err), TB_INVALID);
    ck_assert_str_eq(err.field, field);
}

START_TEST(oco_makes_a_limit_and_a_stop_on_its_side) {
    /* sell side: exits of a long, take profit 110 above stop 95 */
    tb_order_group_request r = req("oco", "sell");
    risk_group g;
    tb_error err = {0};
    ck_assert_int_eq(risk_group_intents(&r, &g, &err), TB_OK);
    ck_assert_uint_eq(g.n, 2);
    ck_assert_str_eq(g.legs[0].type, "limit");
    ck_assert_str_eq(g.legs[0].side, "sell");
    ck_assert_int_eq(g.legs[0].limit_price, FX(110));
    ck_assert_str_eq(g.legs[1].type, "stop");
    ck_assert_int_eq(g.legs[1].stop_price, FX(95));
    for (int i = 0; i < 2; i++) {
        ck_assert_str_eq(g.legs[i].group_role, "oco");
        ck_assert_str_eq(g.legs[i].tif, "day"); /* the default */
        ck_assert_str_eq(g.legs[i].source, "api");
        ck_assert_int_eq(g.legs[i].qty, FX(10));
        ck_assert_str_eq(g.legs[i].group_id, ""); /* set by the flow */
    }
    /* buy side: exits of a short, take profit below the stop */
    r = req("oco", "buy");
    r.take_profit_price = FX(90);
    r.stop_loss_price = FX(105);
    ck_assert_int_eq(risk_group_intents(&r, &g, &err), TB_OK);
    ck_assert_str_eq(g.legs[1].side, "buy");
    refused(&(tb_order_group_request){0}, "contingency");
    r = req("oco", "sell");
    r.take_profit_price = FX(95); /* not above the stop */
    refused(&r, "take_profit_price");
}
END_TEST

START_TEST(bracket_makes_an_entry_and_exits_on_the_other_side) {
    tb_order_group_request r = req("bracket", "buy");
    snprintf(r.entry_type, sizeof r.entry_type, "limit");
    r.entry_price = FX(100);
    snprintf(r.tif, sizeof r.tif, "gtc");
    risk_group g;
    tb_error err = {0};
    ck_assert_int_eq(risk_group_intents(&r, &g, &err), TB_OK);
    ck_assert_uint_eq(g.n, 3);
    ck_assert_str_eq(g.legs[0].group_role, "entry");
    ck_assert_str_eq(g.legs[0].side, "buy");
    ck_assert_str_eq(g.legs[0].type, "limit");
    ck_assert_int_eq(g.legs[0].limit_price, FX(100));
    ck_assert_str_eq(g.legs[1].group_role, "take_profit");
    ck_assert_str_eq(g.legs[1].side, "sell");
    ck_assert_str_eq(g.legs[2].group_role, "stop_loss");
    ck_assert_str_eq(g.legs[2].type, "stop");
    ck_assert_str_eq(g.legs[2].tif, "gtc");
    /* a market entry by default, checked against the other exit only */
    r = req("bracket", "sell");
    r.take_profit_price = FX(90);
    r.stop_loss_price = FX(105);
    ck_assert_int_eq(risk_group_intents(&r, &g, &err), TB_OK);
    ck_assert_str_eq(g.legs[0].type, "market");
    ck_assert_str_eq(g.legs[1].side, "buy");
}
END_TEST

START_TEST(wrong_sides_name_the_field) {
    /* buy entry at 100: take profit above, stop loss below */
    tb_order_group_request r = req("bracket", "buy");
    snprintf(r.entry_type, sizeof r.entry_type, "limit");
    r.entry_price = FX(100);
    r.take_profit_price = FX(100);
    refused(&r, "take_profit_price");
    r.take_profit_price = FX(110);
    r.stop_loss_price = FX(100);
    refused(&r, "stop_loss_price");
    /* sell entry at 100: take profit below, stop loss above */
    r = req("bracket", "sell");
    snprintf(r.entry_type, sizeof r.entry_type, "limit");
    r.entry_price = FX(100);
    r.take_profit_price = FX(101);
    r.stop_loss_price = FX(105);
    refused(&r, "take_profit_price");
    r.take_profit_price = FX(90);
    r.stop_loss_price = FX(99);
    refused(&r, "stop_loss_price");
}
END_TEST

START_TEST(malformed_requests_name_the_field) {
    tb_order_group_request r = req("bracket", "buy");
    snprintf(r.entry_type, sizeof r.entry_type, "limit");
    refused(&r, "entry_price");
    snprintf(r.entry_type, sizeof r.entry_type, "stop");
    refused(&r, "entry_type");
    r = req("bracket", "buy");
    r.entry_price = FX(100); /* market entry */
    refused(&r, "entry_price");
    r = req("oco", "sell");
    snprintf(r.entry_type, sizeof r.entry_type, "market");
    refused(&r, "entry_type");
    r = req("oco", "sell");
    r.qty = 0;
    refused(&r, "qty");
    r = req("oco", "sell");
    r.stop_loss_price = 0;
    refused(&r, "stop_loss_price");
    r = req("oco", "sell");
    snprintf(r.tif, sizeof r.tif, "fok");
    refused(&r, "tif");
    r = req("oco", "flat");
    refused(&r, "side");
}
END_TEST

int main(void) {
    Suite *s = suite_create("risk_group");
    TCase *tc = tcase_create("group");
    tcase_add_test(tc, oco_makes_a_limit_and_a_stop_on_its_side);
    tcase_add_test(tc, bracket_makes_an_entry_and_exits_on_the_other_side);
    tcase_add_test(tc, wrong_sides_name_the_field);
    tcase_add_test(tc, malformed_requests_name_the_field);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
