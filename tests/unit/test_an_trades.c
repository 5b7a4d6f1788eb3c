/* analytics trade statistics (actors/analytics/an_trades.c): realized P&L
 * per fill with average cost, flips and rounding, and counts per strategy,
 * against values worked out by hand. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "an_trades.h"

#define FX(units) ((tb_fixed)(units)*TB_FIXED_SCALE)

static void apply(an_position *p, int side, tb_fixed qty, tb_fixed price, tb_fixed want_realized,
                  tb_fixed want_closed) {
    tb_fixed r = -1, c = -1;
    tb_error err = {0};
    ck_assert_msg(an_position_apply(p, side, qty, price, &r, &c, &err) == TB_OK, "%s", err.message);
    ck_assert_int_eq(r, want_realized);
    ck_assert_int_eq(c, want_closed);
}

START_TEST(long_round_trip) {
    /* buy 10 @ 100: cost 1000. sell 4 @ 110: cost share 1000*4/10 = 400,
     * proceeds 440, +40; left 6 at cost 600. sell 6 @ 95: 570 - 600 = -30. */
    an_position p = {0, 0};
    apply(&p, 1, FX(10), FX(100), 0, 0);
    ck_assert_int_eq(p.qty, FX(10));
    ck_assert_int_eq(p.cost, FX(1000));
    apply(&p, -1, FX(4), FX(110), FX(40), FX(4));
    ck_assert_int_eq(p.qty, FX(6));
    ck_assert_int_eq(p.cost, FX(600));
    apply(&p, -1, FX(6), FX(95), -FX(30), FX(6));
    ck_assert_int_eq(p.qty, 0);
    ck_assert_int_eq(p.cost, 0);
}
END_TEST

START_TEST(flip_and_short_cover) {
    /* buy 5 @ 90 (cost 450); sell 8 @ 100: closes 5 for 500 - 450 = +50 and
     * opens 3 short at 800 - 500 = 300 (cost -300); buy 3 @ 110 covers:
     * received 300, pays 330: -30. */
    an_position p = {0, 0};
    apply(&p, 1, FX(5), FX(90), 0, 0);
    apply(&p, -1, FX(8), FX(100), FX(50), FX(5));
    ck_assert_int_eq(p.qty, -FX(3));
    ck_assert_int_eq(p.cost, -FX(300));
    apply(&p, 1, FX(3), FX(110), -FX(30), FX(3));
    ck_assert_int_eq(p.qty, 0);
    ck_assert_int_eq(p.cost, 0);
    /* A short that gains: sell 2 @ 50 (cost -100), buy 1 @ 40: share -50,
     * received 50, pays 40: +10. */
    apply(&p, -1, FX(2), FX(50), 0, 0);
    apply(&p, 1, FX(1), FX(40), FX(10), FX(1));
    ck_assert_int_eq(p.cost, -FX(50));
}
END_TEST

START_TEST(half_even_cost_share) {
    /* buy 1 @ 0.5 and 1 @ 0.50000001: cost 1.00000001 for 2. Selling 1:
     * share 1.00000001 / 2 = 0.500000005 -> half-even 0.50000000; at 0.6
     * that is +0.1 exactly. The last 1 carries the rest, 0.50000001:
     * +0.09999999. Together 0.19999999 = 1.2 - 1.00000001. */
    an_position p = {0, 0};
    apply(&p, 1, FX(1), 50000000, 0, 0);
    apply(&p, 1, FX(1), 50000001, 0, 0);
    ck_assert_int_eq(p.cost, 100000001);
    apply(&p, -1, FX(1), 60000000, 10000000, FX(1));
    apply(&p, -1, FX(1), 60000000, 9999999, FX(1));
    /* Notional rounding: 3 @ 0.33333333 = 0.99999999 exactly; 0.5 @
     * 0.00000001 = 0.000000005 -> half-even 0. */
    p = (an_position){0, 0};
    apply(&p, 1, FX(3), 33333333, 0, 0);
    ck_assert_int_eq(p.cost, 99999999);
    p = (an_position){0, 0};
    apply(&p, 1, 50000000, 1, 0, 0);
    ck_assert_int_eq(p.cost, 0);
    ck_assert_int_eq(p.qty, 50000000);
}
END_TEST

START_TEST(bad_fills_leave_position) {
    an_position p = {FX(1), FX(10)}, before = p;
    tb_fixed r, c;
    tb_error err = {0};
    ck_assert_int_eq(an_position_apply(&p, 0, FX(1), FX(1), &r, &c, &err), TB_INVALID);
    ck_assert_int_eq(an_position_apply(&p, 1, 0, FX(1), &r, &c, &err), TB_INVALID);
    ck_assert_int_eq(an_position_apply(&p, 1, FX(1), -1, &r, &c, &err), TB_INVALID);
    ck_assert_int_eq(an_position_apply(&p, 1, TB_FIXED_MAX, FX(2), &r, &c, &err), TB_OVERFLOW);
    ck_assert_mem_eq(&p, &before, sizeof p);
    an_position broken = {FX(1), -FX(1)};
    ck_assert_int_eq(an_position_apply(&broken, 1, FX(1), FX(1), &r, &c, &err), TB_INVALID);
}
END_TEST

static an_fill fill(const char *id, const char *sym, const char *strat, int side, int qty,
                    int price, tb_fixed fee, int64_t ts) {
    an_fill f = {.side = side, .qty = FX(qty), .price = FX(price), .fee = fee, .ts = ts};
    snprintf(f.fill_id, sizeof f.fill_id, "%s", id);
    snprintf(f.symbol, sizeof f.symbol, "%s", sym);
    snprintf(f.strategy_id, sizeof f.strategy_id, "%s", strat);
    return f;
}

/* Account history, in replay order (symbol, ts, id):
 *   A: f1 buy 10 @ 100 (s1), f2 sell 4 @ 110 (s1) +40, f3 sell 6 @ 95 (s1) -30
 *   B: f4 buy 5 @ 90 (s2), f5 sell 5 @ 80 (s2) -50, f6 buy 1 @ 10 (manual)
 * fees 1 each. */
static an_fill history[6];
static void make_history(void) {
    history[0] = fill("f1", "A", "s1", 1, 10, 100, FX(1), 100);
    history[1] = fill("f2", "A", "s1", -1, 4, 110, FX(1), 200);
    history[2] = fill("f3", "A", "s1", -1, 6, 95, FX(1), 300);
    history[3] = fill("f4", "B", "s2", 1, 5, 90, FX(1), 150);
    history[4] = fill("f5", "B", "s2", -1, 5, 80, FX(1), 250);
    history[5] = fill("f6", "B", "", 1, 1, 10, FX(1), 250);
}

static an_trades replay(const char *strategy, int64_t from) {
    an_trades t;
    an_trades_init(&t, strategy, from);
    tb_error err = {0};
    for (int i = 0; i < 6; i++)
        ck_assert_msg(an_trades_add(&t, &history[i], &err) == TB_OK, "%s", err.message);
    return t;
}

START_TEST(trade_counts_per_account_and_strategy) {
    make_history();
    an_trades t = replay(NULL, 0);
    ck_assert_uint_eq(t.fills, 6);
    ck_assert_uint_eq(t.closing, 3);
    ck_assert_uint_eq(t.wins, 1);
    ck_assert_int_eq(t.realized, -FX(40)); /* 40 - 30 - 50 */
    ck_assert_int_eq(t.fees, FX(6));
    t = replay("s1", 0);
    ck_assert_uint_eq(t.fills, 3);
    ck_assert_uint_eq(t.closing, 2);
    ck_assert_uint_eq(t.wins, 1);
    ck_assert_int_eq(t.realized, FX(10));
    ck_assert_int_eq(t.fees, FX(3));
    t = replay("s2", 0);
    ck_assert_uint_eq(t.fills, 2);
    ck_assert_uint_eq(t.closing, 1);
    ck_assert_uint_eq(t.wins, 0);
    ck_assert_int_eq(t.realized, -FX(50));
    /* From ts 200: f2, f3, f5, f6 counted; f1 and f4 still build the
     * positions the later fills close. */
    t = replay(NULL, 200);
    ck_assert_uint_eq(t.fills, 4);
    ck_assert_uint_eq(t.closing, 3);
    ck_assert_int_eq(t.realized, -FX(40));
    t = replay("nobody", 0);
    ck_assert_uint_eq(t.fills, 0);
    ck_assert_uint_eq(t.closing, 0);
}
END_TEST

START_TEST(replay_order_enforced) {
    make_history();
    an_trades t;
    an_trades_init(&t, NULL, 0);
    tb_error err = {0};
    ck_assert_int_eq(an_trades_add(&t, &history[1], &err), TB_OK);
    an_trades before = t;
    ck_assert_int_eq(an_trades_add(&t, &history[0], &err), TB_INVALID); /* earlier ts */
    ck_assert_int_eq(an_trades_add(&t, &history[1], &err), TB_INVALID); /* same fill */
    ck_assert_mem_eq(&t, &before, sizeof t);
    /* Same time: fill ids decide, byte-wise. */
    an_fill a = fill("x-10", "C", "", 1, 1, 1, 0, 5), b = fill("x-9", "C", "", 1, 1, 1, 0, 5);
    an_trades_init(&t, NULL, 0);
    ck_assert_int_eq(an_trades_add(&t, &a, &err), TB_OK);
    ck_assert_int_eq(an_trades_add(&t, &b, &err), TB_OK); /* "x-10" < "x-9" */
    ck_assert_int_eq(an_trades_add(&t, &a, &err), TB_INVALID);
}
END_TEST

int main(void) {
    Suite *s = suite_create("an_trades");
    TCase *tc = tcase_create("trades");
    tcase_add_test(tc, long_round_trip);
    tcase_add_test(tc, flip_and_short_cover);
    tcase_add_test(tc, half_even_cost_share);
    tcase_add_test(tc, bad_fills_leave_position);
    tcase_add_test(tc, trade_counts_per_account_and_strategy);
    tcase_add_test(tc, replay_order_enforced);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
