/* Order groups in the paper venue's matching (exec_match.c): OCO partners
 * and bracket exits linked by exec_group_link, a leg's fill canceling its
 * partner on the same snapshot, exits dormant until their entry fills and
 * then working its filled quantity, and which cancels a cancel carries to
 * the rest of its group. Prices worked out by hand in the comments. */
#include <check.h>
#include <stdlib.h>

#include "exec_domain.h"

#define NOW0 (INT64_C(1710082800) * INT64_C(1000000000))

static tb_fixed F(const char *s) {
    tb_fixed v;
    ck_assert_msg(tb_fixed_parse_cstr(s, &v) == TB_OK, "bad literal %s", s);
    return v;
}

static const exec_params P0 = {.trigger = EXEC_TRIGGER_LAST};

static exec_order mk(exec_side side, exec_type type, exec_role role, const char *qty,
                     const char *limit, const char *stop) {
    return (exec_order){.side = side,
                        .type = type,
                        .tif = EXEC_GTC,
                        .role = role,
                        .qty = F(qty),
                        .limit_price = limit ? F(limit) : 0,
                        .stop_price = stop ? F(stop) : 0,
                        .status = EXEC_ACCEPTED,
                        .created_ns = NOW0,
                        .version = 2};
}

static exec_quote qt(const char *bid, const char *ask, const char *last, const char *as) {
    return (exec_quote){.bid = F(bid), .ask = F(ask), .last = F(last), .ask_size = as ? F(as) : 0};
}

START_TEST(link_pairs_legs_and_exits) {
    exec_order o[5] = {
        mk(EXEC_BUY, EXEC_MARKET, EXEC_ROLE_ENTRY, "10", NULL, NULL),
        mk(EXEC_SELL, EXEC_LIMIT, EXEC_ROLE_OCO, "1", "110", NULL),
        mk(EXEC_SELL, EXEC_LIMIT, EXEC_ROLE_TAKE_PROFIT, "10", "110", NULL),
        mk(EXEC_SELL, EXEC_STOP, EXEC_ROLE_OCO, "1", NULL, "90"),
        mk(EXEC_SELL, EXEC_STOP, EXEC_ROLE_STOP_LOSS, "10", NULL, "95"),
    };
    const char *g[5] = {"B", "O", "B", "O", "B"};
    exec_group_link(o, g, 5);
    ck_assert_uint_eq(o[1].peer, 4); /* index 3, 1-based */
    ck_assert_uint_eq(o[3].peer, 2);
    ck_assert_uint_eq(o[2].peer, 5);
    ck_assert_uint_eq(o[4].peer, 3);
    ck_assert_uint_eq(o[2].entry, 1);
    ck_assert_uint_eq(o[4].entry, 1);
    ck_assert_uint_eq(o[0].peer, 0);
    /* orders of other groups, or none, are not linked */
    const char *none[5] = {"", "X", "Y", "Z", NULL};
    exec_group_link(o, none, 5);
    for (int i = 0; i < 5; i++) ck_assert_uint_eq(o[i].peer + o[i].entry, 0);
}
END_TEST

START_TEST(oco_fill_cancels_the_partner_on_the_same_tick) {
    exec_order o[2] = {mk(EXEC_SELL, EXEC_LIMIT, EXEC_ROLE_OCO, "10", "110", NULL),
                       mk(EXEC_SELL, EXEC_STOP, EXEC_ROLE_OCO, "10", NULL, "90")};
    const char *g[2] = {"G", "G"};
    exec_group_link(o, g, 2);
    exec_outcome out[2];
    /* bid 110 reaches the limit (sells 10 at 110); last 85 would trigger the
     * stop too, but the older leg filled first: the stop is canceled */
    exec_quote q = qt("110", "110.5", "85", NULL);
    exec_match(&q, &P0, NOW0, false, o, 2, out);
    ck_assert(out[0].filled);
    ck_assert_int_eq(out[0].fill.price, F("110"));
    ck_assert_int_eq(o[0].status, EXEC_FILLED);
    ck_assert(!out[1].filled);
    ck_assert_int_eq(o[1].status, EXEC_CANCELED);
    ck_assert_int_eq(out[1].nsteps, 1);
    ck_assert_str_eq(out[1].reasons[0], EXEC_REASON_OCO);
    ck_assert(!o[1].triggered);
}
END_TEST

START_TEST(oco_partner_still_new_is_canceled) {
    exec_order o[2] = {mk(EXEC_SELL, EXEC_STOP, EXEC_ROLE_OCO, "10", NULL, "90"),
                       mk(EXEC_SELL, EXEC_LIMIT, EXEC_ROLE_OCO, "10", "110", NULL)};
    o[1].status = EXEC_NEW;
    o[1].version = 1;
    const char *g[2] = {"G", "G"};
    exec_group_link(o, g, 2);
    exec_outcome out[2];
    /* last 89 triggers the stop: a market sell at the bid, 89 */
    exec_quote q = qt("89", "89.5", "89", NULL);
    exec_match(&q, &P0, NOW0, false, o, 2, out);
    ck_assert_int_eq(o[0].status, EXEC_FILLED);
    ck_assert_int_eq(out[0].fill.price, F("89"));
    ck_assert_int_eq(o[1].status, EXEC_CANCELED);
    ck_assert_int_eq(o[1].version, 2);
}
END_TEST

START_TEST(bracket_exits_work_the_entry_fills) {
    exec_order o[3] = {mk(EXEC_BUY, EXEC_LIMIT, EXEC_ROLE_ENTRY, "10", "100", NULL),
                       mk(EXEC_SELL, EXEC_LIMIT, EXEC_ROLE_TAKE_PROFIT, "10", "110", NULL),
                       mk(EXEC_SELL, EXEC_STOP, EXEC_ROLE_STOP_LOSS, "10", NULL, "95")};
    const char *g[3] = {"B", "B", "B"};
    exec_group_link(o, g, 3);
    exec_outcome out[3];
    /* ask 101 > 100: no entry fill; last 94 would trigger the stop loss,
     * bid 120 would fill the take-profit, but both are dormant */
    exec_quote q = qt("120", "101", "94", NULL);
    exec_match(&q, &P0, NOW0, false, o, 3, out);
    for (int i = 0; i < 3; i++) ck_assert(!out[i].filled);
    ck_assert(!o[2].triggered);
    ck_assert_int_eq(exec_workable(o, &o[1]), 0);
    /* ask 100 with 4 offered: the entry buys 4; the exits may sell 4 */
    q = qt("99", "100", "100", "4");
    exec_match(&q, &P0, NOW0, false, o, 3, out);
    ck_assert_int_eq(o[0].filled_qty, F("4"));
    ck_assert_int_eq(exec_workable(o, &o[1]), F("4"));
    /* bid 110: the take-profit sells 4 at 110 and the stop loss is canceled */
    q = qt("110", "110.5", "110", NULL);
    exec_match(&q, &P0, NOW0, false, o, 3, out);
    ck_assert_int_eq(out[1].fill.qty, F("4"));
    ck_assert_int_eq(o[1].status, EXEC_PARTIALLY_FILLED);
    ck_assert_int_eq(o[2].status, EXEC_CANCELED);
    ck_assert_int_eq(exec_workable(o, &o[1]), 0);
    /* the entry buys the other 6 at 100; then bid 111 sells them at 111 */
    q = qt("99", "100", "100", NULL);
    exec_match(&q, &P0, NOW0, false, o, 3, out);
    ck_assert_int_eq(o[0].status, EXEC_FILLED);
    ck_assert_int_eq(exec_workable(o, &o[1]), F("6"));
    q = qt("111", "111.5", "111", NULL);
    exec_match(&q, &P0, NOW0, false, o, 3, out);
    ck_assert_int_eq(out[1].fill.qty, F("6"));
    ck_assert_int_eq(o[1].status, EXEC_FILLED);
    /* (4 x 110 + 6 x 111) / 10 = 110.6 */
    ck_assert_int_eq(o[1].avg_price, F("110.6"));
}
END_TEST

START_TEST(exit_without_its_entry_uses_entry_filled) {
    /* the entry is terminal and not loaded: the exit reads its fills */
    exec_order tp = mk(EXEC_SELL, EXEC_LIMIT, EXEC_ROLE_TAKE_PROFIT, "10", "110", NULL);
    tp.entry_filled = F("7");
    ck_assert_int_eq(exec_workable(&tp, &tp), F("7"));
    exec_outcome out;
    exec_quote q = qt("110", "110.5", "110", NULL);
    exec_match(&q, &P0, NOW0, false, &tp, 1, &out);
    ck_assert_int_eq(out.fill.qty, F("7"));
    ck_assert_int_eq(tp.status, EXEC_PARTIALLY_FILLED);
    /* an order outside any group works its leaves */
    exec_order plain = mk(EXEC_SELL, EXEC_LIMIT, EXEC_ROLE_NONE, "10", "110", NULL);
    plain.filled_qty = F("3");
    ck_assert_int_eq(exec_workable(&plain, &plain), F("7"));
}
END_TEST

START_TEST(what_a_cancel_cancels) {
    exec_order leg = mk(EXEC_SELL, EXEC_LIMIT, EXEC_ROLE_OCO, "10", "110", NULL);
    exec_order other = mk(EXEC_SELL, EXEC_STOP, EXEC_ROLE_OCO, "10", NULL, "90");
    ck_assert_str_eq(exec_group_cancels(&leg, &other), EXEC_REASON_OCO);
    other.status = EXEC_FILLED;
    ck_assert_ptr_null(exec_group_cancels(&leg, &other)); /* terminal already */
    exec_order entry = mk(EXEC_BUY, EXEC_LIMIT, EXEC_ROLE_ENTRY, "10", "100", NULL);
    exec_order tp = mk(EXEC_SELL, EXEC_LIMIT, EXEC_ROLE_TAKE_PROFIT, "10", "110", NULL);
    exec_order sl = mk(EXEC_SELL, EXEC_STOP, EXEC_ROLE_STOP_LOSS, "10", NULL, "95");
    ck_assert_str_eq(exec_group_cancels(&entry, &tp), EXEC_REASON_ENTRY);
    ck_assert_str_eq(exec_group_cancels(&tp, &sl), EXEC_REASON_OCO);
    ck_assert_ptr_null(exec_group_cancels(&tp, &entry)); /* an exit leaves its entry alone */
    entry.filled_qty = F("4"); /* after a fill the exits protect what was bought */
    ck_assert_ptr_null(exec_group_cancels(&entry, &tp));
    exec_role r;
    ck_assert(exec_role_parse("take_profit", &r) && r == EXEC_ROLE_TAKE_PROFIT);
    ck_assert(exec_role_parse("", &r) && r == EXEC_ROLE_NONE);
    ck_assert(!exec_role_parse("bogus", &r));
}
END_TEST

int main(void) {
    Suite *s = suite_create("exec_group");
    TCase *tc = tcase_create("group");
    tcase_add_test(tc, link_pairs_legs_and_exits);
    tcase_add_test(tc, oco_fill_cancels_the_partner_on_the_same_tick);
    tcase_add_test(tc, oco_partner_still_new_is_canceled);
    tcase_add_test(tc, bracket_exits_work_the_entry_fills);
    tcase_add_test(tc, exit_without_its_entry_uses_entry_filled);
    tcase_add_test(tc, what_a_cancel_cancels);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
