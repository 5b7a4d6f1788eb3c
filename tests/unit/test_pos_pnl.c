/* Position accounting of position-management (actors/position-management/
 * pos_pnl.c) against hand-computed values: open, add, partial reduce, full
 * close, flips both ways, shorts, fees and rebates, half-even rounding of
 * notionals, removed cost and average cost, overflow reported (never
 * wrapped), invalid input, marks, totals, the canonical fill order, and the
 * exact accounting identity over a long pseudo-random fill sequence. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pos_pnl.h"

static tb_fixed F(const char *s) {
    tb_fixed v = 0;
    ck_assert_msg(tb_fixed_parse_cstr(s, &v) == TB_OK, "bad literal %s", s);
    return v;
}

#define ck_fixed(got, want)                                                                        \
    do {                                                                                           \
        tb_fixed g_ = (got), w_ = F(want);                                                         \
        char gs_[TB_FIXED_STRLEN];                                                                 \
        (void)tb_fixed_format(g_, gs_);                                                            \
        ck_assert_msg(g_ == w_, "%s = %s, want %s", #got, gs_, want);                              \
    } while (0)

static pos_effect apply_ok(pos_state st, pos_side side, const char *qty, const char *price,
                           const char *fee) {
    pos_fill_in in = {.side = side, .qty = F(qty), .price = F(price), .fee = F(fee)};
    pos_effect e;
    tb_error err = {0};
    ck_assert_msg(pos_apply_fill(&st, &in, &e, &err) == TB_OK, "%s", err.message);
    return e;
}

static pos_state state(const char *qty, const char *cost, const char *realized) {
    pos_state s = {F(qty), F(cost), F(realized)};
    return s;
}

static tb_fixed avg(pos_state s) {
    tb_fixed a = 0;
    ck_assert_int_eq(pos_avg_cost(&s, &a), TB_OK);
    return a;
}

START_TEST(open_long) {
    pos_effect e = apply_ok(state("0", "0", "0"), POS_BUY, "10", "100", "1");
    ck_fixed(e.after.qty, "10");
    ck_fixed(e.after.cost, "1000");
    ck_fixed(e.after.realized, "0");
    ck_fixed(e.notional, "1000");
    ck_fixed(e.cash_delta, "-1001");
    ck_fixed(e.realized_delta, "0");
    ck_fixed(e.opened_qty, "10");
    ck_fixed(e.closed_qty, "0");
    ck_fixed(avg(e.after), "100");
}
END_TEST

START_TEST(add_to_long_averages_cost) {
    /* 10 @ 100 + 5 @ 130 = 1650 / 15 = 110 */
    pos_effect e = apply_ok(state("10", "1000", "0"), POS_BUY, "5", "130", "0.5");
    ck_fixed(e.after.qty, "15");
    ck_fixed(e.after.cost, "1650");
    ck_fixed(avg(e.after), "110");
    ck_fixed(e.cash_delta, "-650.5");
    ck_fixed(e.after.realized, "0");
}
END_TEST

START_TEST(partial_reduce_realizes_against_average) {
    /* sell 6 of 15 @ 120: cost out 1650 * 6/15 = 660, proceeds 720, realized 60 */
    pos_effect e = apply_ok(state("15", "1650", "0"), POS_SELL, "6", "120", "0.25");
    ck_fixed(e.after.qty, "9");
    ck_fixed(e.after.cost, "990");
    ck_fixed(avg(e.after), "110");
    ck_fixed(e.realized_delta, "60");
    ck_fixed(e.after.realized, "60");
    ck_fixed(e.cash_delta, "719.75");
    ck_fixed(e.closed_qty, "6");
    ck_fixed(e.opened_qty, "0");
}
END_TEST

START_TEST(full_close_leaves_nothing) {
    /* sell 9 @ 100 against cost 990: realized -90, total 60 - 90 = -30 */
    pos_effect e = apply_ok(state("9", "990", "60"), POS_SELL, "9", "100", "0");
    ck_fixed(e.after.qty, "0");
    ck_fixed(e.after.cost, "0");
    ck_fixed(avg(e.after), "0");
    ck_fixed(e.realized_delta, "-90");
    ck_fixed(e.after.realized, "-30");
    ck_fixed(e.cash_delta, "900");
}
END_TEST

START_TEST(flip_long_to_short) {
    /* long 10 @ 100, sell 15 @ 90: closes 10 (900 - 1000 = -100), opens short 5 @ 90 */
    pos_effect e = apply_ok(state("10", "1000", "0"), POS_SELL, "15", "90", "2");
    ck_fixed(e.after.qty, "-5");
    ck_fixed(e.after.cost, "-450");
    ck_fixed(avg(e.after), "90");
    ck_fixed(e.realized_delta, "-100");
    ck_fixed(e.after.realized, "-100");
    ck_fixed(e.notional, "1350");
    ck_fixed(e.cash_delta, "1348");
    ck_fixed(e.closed_qty, "10");
    ck_fixed(e.opened_qty, "5");
}
END_TEST

START_TEST(flip_short_to_long) {
    /* short 5 @ 90, buy 8 @ 80: covers 5 (450 - 400 = +50), opens long 3 @ 80 */
    pos_effect e = apply_ok(state("-5", "-450", "-100"), POS_BUY, "8", "80", "0");
    ck_fixed(e.after.qty, "3");
    ck_fixed(e.after.cost, "240");
    ck_fixed(avg(e.after), "80");
    ck_fixed(e.realized_delta, "50");
    ck_fixed(e.after.realized, "-50");
    ck_fixed(e.cash_delta, "-640");
    ck_fixed(e.closed_qty, "5");
    ck_fixed(e.opened_qty, "3");
}
END_TEST

START_TEST(short_open_add_cover) {
    pos_effect e = apply_ok(state("0", "0", "0"), POS_SELL, "4", "50", "0");
    ck_fixed(e.after.qty, "-4");
    ck_fixed(e.after.cost, "-200");
    ck_fixed(e.cash_delta, "200");
    /* add 2 @ 56: cost -312, avg 52 */
    e = apply_ok(e.after, POS_SELL, "2", "56", "0");
    ck_fixed(e.after.qty, "-6");
    ck_fixed(e.after.cost, "-312");
    ck_fixed(avg(e.after), "52");
    /* cover 3 @ 40: cost out -156, paid 120, realized +36 */
    e = apply_ok(e.after, POS_BUY, "3", "40", "0");
    ck_fixed(e.after.qty, "-3");
    ck_fixed(e.after.cost, "-156");
    ck_fixed(e.realized_delta, "36");
    ck_fixed(e.cash_delta, "-120");
    ck_fixed(avg(e.after), "52");
}
END_TEST

START_TEST(fees_and_rebates_only_move_cash) {
    pos_effect e = apply_ok(state("0", "0", "0"), POS_BUY, "1", "10", "-0.01");
    ck_fixed(e.cash_delta, "-9.99");
    ck_fixed(e.after.cost, "10");
    e = apply_ok(e.after, POS_SELL, "1", "12", "0.03");
    ck_fixed(e.cash_delta, "11.97");
    ck_fixed(e.realized_delta, "2"); /* gross of fees */
}
END_TEST

START_TEST(notional_rounds_half_even) {
    /* 0.00000001 * 0.5 = 0.000000005 -> 0 (tie to even) */
    ck_fixed(apply_ok(state("0", "0", "0"), POS_BUY, "0.00000001", "0.5", "0").notional, "0");
    /* 0.00000003 * 0.5 = 0.000000015 -> 0.00000002 */
    ck_fixed(apply_ok(state("0", "0", "0"), POS_BUY, "0.00000003", "0.5", "0").notional,
             "0.00000002");
    /* 0.00000001 * 2.5 = 0.000000025 -> 0.00000002; * 2.6 -> 0.00000003 */
    ck_fixed(apply_ok(state("0", "0", "0"), POS_SELL, "0.00000001", "2.5", "0").notional,
             "0.00000002");
    ck_fixed(apply_ok(state("0", "0", "0"), POS_SELL, "0.00000001", "2.6", "0").cash_delta,
             "0.00000003");
    /* 1.23456789 * 3.3 = 4.074074037 -> 4.07407404 */
    ck_fixed(apply_ok(state("0", "0", "0"), POS_BUY, "1.23456789", "3.3", "0").cash_delta,
             "-4.07407404");
}
END_TEST

START_TEST(removed_cost_rounds_and_close_leaves_no_residue) {
    /* 3 bought for 10: sell 1 @ 4 removes 10/3 = 3.33333333(3) -> 3.33333333 */
    pos_effect e = apply_ok(state("3", "10", "0"), POS_SELL, "1", "4", "0");
    ck_fixed(e.after.cost, "6.66666667");
    ck_fixed(e.realized_delta, "0.66666667");
    /* avg 6.66666667 / 2 = 3.333333335 -> 3.33333334 (tie to even) */
    ck_fixed(avg(e.after), "3.33333334");
    /* closing the rest removes all of the cost: realized totals 12 - 10 = 2 exactly */
    e = apply_ok(e.after, POS_SELL, "2", "4", "0");
    ck_fixed(e.after.cost, "0");
    ck_fixed(e.after.realized, "2");
    /* removed-cost tie: cost 0.00000003 over 2, close 1 -> 0.000000015 -> 0.00000002 */
    e = apply_ok(state("2", "0.00000003", "0"), POS_SELL, "1", "1", "0");
    ck_fixed(e.after.cost, "0.00000001");
    ck_fixed(e.realized_delta, "0.99999998");
    /* cost 0.00000001 over 2, close 1 -> 0.000000005 -> 0 */
    e = apply_ok(state("2", "0.00000001", "0"), POS_SELL, "1", "1", "0");
    ck_fixed(e.after.cost, "0.00000001");
    ck_fixed(e.realized_delta, "1");
}
END_TEST

START_TEST(flip_splits_notional_exactly) {
    /* long 0.00000001 @ 0 cost; sell 0.00000003 @ 0.5: N = 0.000000015 -> 0.00000002,
     * closing part 0.00000001 * 0.5 -> 0; the opening part gets the rest. */
    pos_effect e = apply_ok(state("0.00000001", "0", "0"), POS_SELL, "0.00000003", "0.5", "0");
    ck_fixed(e.notional, "0.00000002");
    ck_fixed(e.after.qty, "-0.00000002");
    ck_fixed(e.after.cost, "-0.00000002");
    ck_fixed(e.realized_delta, "0");
    ck_fixed(e.cash_delta, "0.00000002");
}
END_TEST

static void expect_status(pos_state st, pos_side side, tb_fixed qty, tb_fixed price, tb_fixed fee,
                          tb_status want, const char *field) {
    pos_fill_in in = {.side = side, .qty = qty, .price = price, .fee = fee};
    pos_effect e;
    memset(&e, 0x5a, sizeof e);
    pos_effect before = e;
    tb_error err = {0};
    ck_assert_int_eq(pos_apply_fill(&st, &in, &e, &err), want);
    ck_assert_str_eq(err.field, field);
    ck_assert_msg(memcmp(&e, &before, sizeof e) == 0, "output written on failure");
}

START_TEST(overflow_is_reported_not_wrapped) {
    pos_state flat = state("0", "0", "0");
    /* 1,000,000 * 1,000,000 = 1e12, beyond the ~9.2e10 range */
    expect_status(flat, POS_BUY, F("1000000"), F("1000000"), 0, TB_OVERFLOW, "notional");
    /* cash: a sell whose notional plus a negative fee leaves the range */
    expect_status(flat, POS_SELL, F("1"), F("90000000000"), F("-5000000000"), TB_OVERFLOW, "cash");
    /* quantity: adding to a position near the maximum */
    pos_state big = {TB_FIXED_MAX - 5, F("1"), 0};
    expect_status(big, POS_BUY, 10, 1, 0, TB_OVERFLOW, "qty");
    /* cost basis: adding notional to a near-maximum cost */
    pos_state costly = {F("1"), TB_FIXED_MAX - 5, 0};
    expect_status(costly, POS_BUY, F("1"), F("1"), 0, TB_OVERFLOW, "cost_basis");
    /* realized: a loss on a position whose realized P&L is already near the minimum */
    pos_state deep = {F("1"), F("1000"), TB_FIXED_MIN + 5};
    expect_status(deep, POS_SELL, F("1"), F("1"), 0, TB_OVERFLOW, "realized_pnl");
}
END_TEST

START_TEST(invalid_input_rejected) {
    pos_state flat = state("0", "0", "0");
    expect_status(flat, POS_BUY, 0, F("1"), 0, TB_INVALID, "qty");
    expect_status(flat, POS_BUY, F("-1"), F("1"), 0, TB_INVALID, "qty");
    expect_status(flat, POS_SELL, F("1"), 0, 0, TB_INVALID, "price");
    expect_status(flat, (pos_side)0, F("1"), F("1"), 0, TB_INVALID, "side");
    expect_status(state("10", "-5", "0"), POS_BUY, F("1"), F("1"), 0, TB_INVALID, "cost_basis");
    expect_status(state("0", "3", "0"), POS_BUY, F("1"), F("1"), 0, TB_INVALID, "cost_basis");
    pos_side side;
    ck_assert_int_eq(pos_side_parse("buy", &side), TB_OK);
    ck_assert_int_eq(side, POS_BUY);
    ck_assert_int_eq(pos_side_parse("sell", &side), TB_OK);
    ck_assert_int_eq(side, POS_SELL);
    ck_assert_int_eq(pos_side_parse("Buy", &side), TB_INVALID);
}
END_TEST

START_TEST(marks_unrealized_and_totals) {
    pos_state shrt = state("-5", "-450", "-100");
    tb_fixed v = 0;
    ck_assert_int_eq(pos_market_value(&shrt, F("100"), &v), TB_OK);
    ck_fixed(v, "-500");
    ck_assert_int_eq(pos_unrealized(&shrt, F("100"), &v), TB_OK);
    ck_fixed(v, "-50");
    ck_assert_int_eq(pos_unrealized(&shrt, 0, &v), TB_OK); /* no mark: valued at cost */
    ck_fixed(v, "0");
    pos_state lng = state("3", "240", "50");
    ck_assert_int_eq(pos_unrealized(&lng, F("81.5"), &v), TB_OK);
    ck_fixed(v, "4.5");
    /* unrealized rounding: 0.33333333 * 3 = 0.99999999 */
    pos_state odd = state("0.33333333", "1", "0");
    ck_assert_int_eq(pos_unrealized(&odd, F("3"), &v), TB_OK);
    ck_fixed(v, "-0.00000001");

    pos_totals t = {0};
    ck_assert_int_eq(pos_totals_add(&t, &shrt, F("2"), F("100")), TB_OK);
    ck_assert_int_eq(pos_totals_add(&t, &lng, F("0.5"), F("81.5")), TB_OK);
    ck_fixed(t.realized, "-50");
    ck_fixed(t.unrealized, "-45.5");
    ck_fixed(t.fees, "2.5");
    ck_fixed(t.market_value, "-255.5"); /* -500 + 244.5 */
    ck_assert_int_eq(pos_equity(F("10000"), &t, &v), TB_OK);
    ck_fixed(v, "9744.5");
    /* overflow in a total leaves it unchanged */
    pos_totals before = t;
    pos_state huge = {F("1"), F("1"), TB_FIXED_MIN};
    ck_assert_int_eq(pos_totals_add(&t, &huge, 0, 0), TB_OVERFLOW);
    ck_assert(memcmp(&t, &before, sizeof t) == 0);
    pos_state huge_mark = {F("100000"), F("1"), 0};
    ck_assert_int_eq(pos_market_value(&huge_mark, F("10000000"), &v), TB_OVERFLOW);
}
END_TEST

START_TEST(mark_price_choice) {
    tb_fixed p = 0;
    ck_assert(pos_mark_price(F("10"), F("9"), F("11"), &p));
    ck_fixed(p, "10");
    ck_assert(pos_mark_price(0, F("9"), F("11"), &p));
    ck_fixed(p, "10");
    /* midpoint ties go to even: (0.00000003 + 0.00000004) / 2 = 0.000000035 -> 0.00000004 */
    ck_assert(pos_mark_price(0, 3, 4, &p));
    ck_assert_int_eq(p, 4);
    ck_assert(pos_mark_price(0, 1, 4, &p)); /* 2.5 -> 2 */
    ck_assert_int_eq(p, 2);
    ck_assert(pos_mark_price(0, 7, 4, &p)); /* 5.5 -> 6 */
    ck_assert_int_eq(p, 6);
    ck_assert(pos_mark_price(0, TB_FIXED_MAX, TB_FIXED_MAX - 2, &p)); /* no overflow */
    ck_assert_int_eq(p, TB_FIXED_MAX - 1);
    ck_assert(pos_mark_price(0, F("9"), 0, &p));
    ck_fixed(p, "9");
    ck_assert(pos_mark_price(0, 0, F("11"), &p));
    ck_fixed(p, "11");
    ck_assert(!pos_mark_price(0, 0, 0, &p));
    ck_assert(!pos_mark_price(F("-1"), 0, 0, &p));
}
END_TEST

START_TEST(canonical_fill_order) {
    ck_assert_int_lt(pos_fill_order(1, "z", 2, "a"), 0);
    ck_assert_int_gt(pos_fill_order(3, "a", 2, "z"), 0);
    ck_assert_int_lt(pos_fill_order(5, "o-1-10", 5, "o-1-9"), 0); /* byte-wise, not numeric */
    ck_assert_int_eq(pos_fill_order(5, "x", 5, "x"), 0);
    ck_assert_int_gt(pos_fill_order(5, "b", 5, "B"), 0);
}
END_TEST

/* Over many pseudo-random fills the booked values keep the identities:
 * qty = sum of signed quantities, cash = initial - sum(signed notional) - fees
 * with each notional rounded half-even on its own (computed here
 * independently in 128 bits), and cash + cost = initial + realized - fees. */
START_TEST(identity_holds_over_random_fills) {
    uint64_t x = 0x9e3779b97f4a7c15ull;
    pos_state st = {0};
    tb_fixed cash = F("1000000"), initial = cash, fees = 0, sum_qty = 0;
    __int128 sum_notional = 0;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        pos_side side = (x & 1) ? POS_BUY : POS_SELL;
        tb_fixed qty = (tb_fixed)((x >> 8) % 5000000000ull) + 1;     /* up to 50 */
        tb_fixed price = (tb_fixed)((x >> 20) % 20000000000ull) + 1; /* up to 200 */
        tb_fixed fee = (tb_fixed)((x >> 40) % 100000) - 20000;       /* small, some rebates */
        pos_fill_in in = {side, qty, price, fee};
        pos_effect e;
        tb_error err = {0};
        ck_assert_msg(pos_apply_fill(&st, &in, &e, &err) == TB_OK, "step %d: %s", i, err.message);
        /* independent notional: round half-even of qty*price/1e8 */
        __int128 p = (__int128)qty * price, q = p / TB_FIXED_SCALE, r = p % TB_FIXED_SCALE;
        if (2 * r > TB_FIXED_SCALE || (2 * r == TB_FIXED_SCALE && (q & 1))) q++;
        ck_assert(e.notional == (tb_fixed)q);
        sum_notional += side == POS_BUY ? q : -q;
        sum_qty += side == POS_BUY ? qty : -qty;
        fees += fee;
        cash += e.cash_delta;
        st = e.after;
        ck_assert(st.qty == sum_qty);
        ck_assert((__int128)cash == (__int128)initial - sum_notional - fees);
        ck_assert((__int128)cash + st.cost == (__int128)initial + st.realized - fees);
        ck_assert(st.qty == 0 ? st.cost == 0 : (st.cost == 0 || (st.cost > 0) == (st.qty > 0)));
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("pos_pnl");
    TCase *tc = tcase_create("pnl");
    tcase_add_test(tc, open_long);
    tcase_add_test(tc, add_to_long_averages_cost);
    tcase_add_test(tc, partial_reduce_realizes_against_average);
    tcase_add_test(tc, full_close_leaves_nothing);
    tcase_add_test(tc, flip_long_to_short);
    tcase_add_test(tc, flip_short_to_long);
    tcase_add_test(tc, short_open_add_cover);
    tcase_add_test(tc, fees_and_rebates_only_move_cash);
    tcase_add_test(tc, notional_rounds_half_even);
    tcase_add_test(tc, removed_cost_rounds_and_close_leaves_no_residue);
    tcase_add_test(tc, flip_splits_notional_exactly);
    tcase_add_test(tc, overflow_is_reported_not_wrapped);
    tcase_add_test(tc, invalid_input_rejected);
    tcase_add_test(tc, marks_unrealized_and_totals);
    tcase_add_test(tc, mark_price_choice);
    tcase_add_test(tc, canonical_fill_order);
    tcase_add_test(tc, identity_holds_over_random_fills);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
