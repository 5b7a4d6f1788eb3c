/* Matching a symbol's ticks as one run (the tick batch path): ticks are
 * taken in seq order whatever order they arrived in, duplicates and stale
 * ticks move nothing, a young gap stops the run, and the fills equal those
 * of matching the same ticks one by one. Prices are worked out in the
 * comments. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_domain.h"

#define SEC  INT64_C(1000000000)
#define NOW0 (INT64_C(1710082800) * SEC)

static tb_fixed F(const char *s) {
    tb_fixed v;
    ck_assert_msg(tb_fixed_parse_cstr(s, &v) == TB_OK, "bad literal %s", s);
    return v;
}

static const exec_params P0 = {.trigger = EXEC_TRIGGER_LAST};

static exec_order limit_order(exec_side side, const char *qty, const char *limit) {
    return (exec_order){.side = side,
                        .type = EXEC_LIMIT,
                        .tif = EXEC_GTC,
                        .qty = F(qty),
                        .limit_price = F(limit),
                        .status = EXEC_ACCEPTED,
                        .created_ns = NOW0,
                        .version = 2};
}

static exec_run_tick tk(uint64_t seq, const char *bid, const char *ask, const char *size) {
    tb_fixed p = F(bid), q = F(ask), sz = F(size);
    return (exec_run_tick){.quote = {.bid = p, .ask = q, .last = p, .bid_size = sz, .ask_size = sz},
                           .seq = seq,
                           .source = "feed",
                           .ts_ns = NOW0 + (int64_t)seq * SEC,
                           .origin = seq};
}

START_TEST(sorts_by_seq_then_source) {
    exec_run_tick t[4] = {tk(3, "1", "2", "1"), tk(1, "1", "2", "1"), tk(2, "1", "2", "1"),
                          tk(1, "1", "2", "1")};
    t[3].source = "a";
    exec_run_sort(t, 4);
    ck_assert_uint_eq(t[0].seq, 1);
    ck_assert_str_eq(t[0].source, "a");
    ck_assert_uint_eq(t[1].seq, 1);
    ck_assert_str_eq(t[1].source, "feed");
    ck_assert_uint_eq(t[2].seq, 2);
    ck_assert_uint_eq(t[3].seq, 3);
}
END_TEST

/* A buy limit at 100 (qty 5) against ticks whose asks fall 101, 100.5,
 * 99.8 (size 2), 99.7 (size 2), 99.9 (size 4): it fills 2 @ 99.8, 2 @ 99.7,
 * 1 @ 99.9 on ticks 3, 4, 5, with versions 3, 4, 5. */
START_TEST(fills_in_seq_order_whatever_the_arrival) {
    exec_run_tick t[5] = {tk(4, "99.6", "99.7", "2"), tk(1, "100.9", "101", "2"),
                          tk(5, "99.8", "99.9", "4"), tk(3, "99.7", "99.8", "2"),
                          tk(2, "100.4", "100.5", "2")};
    exec_run_sort(t, 5);
    exec_order o[1] = {limit_order(EXEC_BUY, "5", "100")};
    exec_run r;
    ck_assert_int_eq(exec_run_match(t, 5, 0, "", 1000, 500, &P0, NOW0, o, 1, &r), TB_OK);
    ck_assert_uint_eq(r.consumed, 5);
    ck_assert_uint_eq(r.matched, 5);
    ck_assert_uint_eq(r.dropped, 0);
    ck_assert_uint_eq(r.gaps, 0);
    ck_assert(r.advanced);
    ck_assert_uint_eq(r.last_seq, 5);
    ck_assert_str_eq(r.last_source, "feed");
    ck_assert_int_eq(r.last_ts_ns, NOW0 + 5 * SEC);
    ck_assert_uint_eq(r.nevents, 3);
    const char *px[3] = {"99.8", "99.7", "99.9"}, *qty[3] = {"2", "2", "1"};
    for (size_t i = 0; i < 3; i++) {
        ck_assert(r.events[i].outcome.filled);
        ck_assert_int_eq(r.events[i].outcome.fill.price, F(px[i]));
        ck_assert_int_eq(r.events[i].outcome.fill.qty, F(qty[i]));
        ck_assert_int_eq(r.events[i].outcome.fill.liquidity, EXEC_MAKER);
        ck_assert_uint_eq(r.events[i].tick, i + 2);
        ck_assert_int_eq(r.events[i].after.version, 3 + (int64_t)i);
    }
    ck_assert_int_eq(r.events[2].after.status, EXEC_FILLED);
    ck_assert_int_eq(o[0].status, EXEC_FILLED);
    /* avg = (99.8*2 + 99.7*2 + 99.9) / 5 = 498.9 / 5 = 99.78 */
    ck_assert_int_eq(o[0].avg_price, F("99.78"));
    exec_run_free(&r);
}
END_TEST

/* The same tick twice (redelivered, or in the batch and the journal), and a
 * tick older than the last matched one: neither trades nor moves last_seq
 * back. */
START_TEST(duplicates_and_stale_ticks_move_nothing) {
    exec_run_tick t[4] = {tk(7, "99", "99.5", "1"), tk(7, "99", "99.5", "1"),
                          tk(8, "100.9", "101", "1"), tk(6, "98", "98.5", "1")};
    exec_run_sort(t, 4);
    exec_order o[1] = {limit_order(EXEC_BUY, "10", "100")};
    exec_run r;
    ck_assert_int_eq(exec_run_match(t, 4, 6, "feed", 1000, 500, &P0, NOW0, o, 1, &r), TB_OK);
    ck_assert_uint_eq(r.consumed, 4);
    ck_assert_uint_eq(r.matched, 2); /* 7 and 8 */
    ck_assert_uint_eq(r.dropped, 2); /* 6 (already matched) and the second 7 */
    ck_assert_uint_eq(r.last_seq, 8);
    ck_assert_uint_eq(r.nevents, 1); /* one fill of 1 @ 99.5, not two */
    ck_assert_int_eq(r.events[0].outcome.fill.price, F("99.5"));
    ck_assert_int_eq(o[0].filled_qty, F("1"));
    exec_run_free(&r);

    /* every tick stale: nothing advances */
    exec_run_tick old[2] = {tk(3, "99", "99.5", "1"), tk(5, "99", "99.5", "1")};
    ck_assert_int_eq(exec_run_match(old, 2, 8, "feed", 1000, 500, &P0, NOW0, o, 1, &r), TB_OK);
    ck_assert(!r.advanced);
    ck_assert_uint_eq(r.last_seq, 8);
    ck_assert_uint_eq(r.dropped, 2);
    ck_assert_uint_eq(r.nevents, 0);
    ck_assert_int_eq(o[0].filled_qty, F("1"));
    exec_run_free(&r);
}
END_TEST

/* A young gap stops the run (the missing tick may still arrive through
 * another worker); an old one is matched across and counted. */
START_TEST(young_gap_waits_old_gap_matches) {
    exec_run_tick t[3] = {tk(2, "99", "99.5", "1"), tk(4, "99", "99.4", "1"),
                          tk(5, "99", "99.3", "1")};
    exec_order o[1] = {limit_order(EXEC_BUY, "10", "100")};
    exec_run r;
    ck_assert_int_eq(exec_run_match(t, 3, 1, "feed", 1000, 500, &P0, NOW0, o, 1, &r), TB_OK);
    ck_assert_uint_eq(r.consumed, 1);
    ck_assert_uint_eq(r.matched, 1);
    ck_assert_uint_eq(r.last_seq, 2);
    ck_assert_uint_eq(r.nevents, 1);
    exec_run_free(&r);

    t[1].age_ms = 500; /* 3 is lost: 4 has waited the window */
    ck_assert_int_eq(exec_run_match(t + 1, 2, 2, "feed", 1000, 500, &P0, NOW0, o, 1, &r), TB_OK);
    ck_assert_uint_eq(r.consumed, 2);
    ck_assert_uint_eq(r.gaps, 1);
    ck_assert_uint_eq(r.last_seq, 5);
    ck_assert_uint_eq(r.nevents, 2);
    ck_assert_int_eq(r.events[0].outcome.fill.price, F("99.4"));
    ck_assert_int_eq(r.events[1].outcome.fill.price, F("99.3"));
    ck_assert_int_eq(o[0].filled_qty, F("3"));
    exec_run_free(&r);
}
END_TEST

/* A run equals matching the ticks one at a time: a sell stop at 99.5
 * (qty 3) and a sell limit at 100.2 (qty 2) over six ticks with size 1. */
START_TEST(run_equals_tick_by_tick) {
    exec_run_tick t[6] = {tk(1, "100", "100.1", "1"),   tk(2, "100.2", "100.3", "1"),
                          tk(3, "100.3", "100.4", "1"), tk(4, "99.5", "99.6", "1"),
                          tk(5, "99.4", "99.5", "1"),   tk(6, "99.3", "99.4", "1")};
    exec_order a[2] = {limit_order(EXEC_SELL, "2", "100.2"), limit_order(EXEC_SELL, "3", "1")};
    a[1].type = EXEC_STOP;
    a[1].limit_price = 0;
    a[1].stop_price = F("99.5");
    exec_order b[2] = {a[0], a[1]};
    exec_run r;
    ck_assert_int_eq(exec_run_match(t, 6, 0, "", 1000, 500, &P0, NOW0, a, 2, &r), TB_OK);
    size_t fills = 0;
    for (size_t i = 0; i < 6; i++) {
        exec_outcome out[2];
        exec_match(&t[i].quote, &P0, NOW0, false, b, 2, out);
        for (size_t k = 0; k < 2; k++) fills += out[k].filled ? 1 : 0;
    }
    size_t run_fills = 0;
    for (size_t i = 0; i < r.nevents; i++) run_fills += r.events[i].outcome.filled ? 1 : 0;
    /* limit: 1 @ 100.2 (tick 2), 1 @ 100.3 (tick 3); stop: 1 @ 99.5, 99.4, 99.3 */
    ck_assert_uint_eq(run_fills, 5);
    ck_assert_uint_eq(fills, run_fills);
    ck_assert_mem_eq(a, b, sizeof a);
    ck_assert_int_eq(a[0].avg_price, F("100.25"));
    ck_assert_int_eq(a[1].avg_price, F("99.4"));
    exec_run_free(&r);
}
END_TEST

int main(void) {
    Suite *s = suite_create("exec_run");
    TCase *tc = tcase_create("run");
    tcase_add_test(tc, sorts_by_seq_then_source);
    tcase_add_test(tc, fills_in_seq_order_whatever_the_arrival);
    tcase_add_test(tc, duplicates_and_stale_ticks_move_nothing);
    tcase_add_test(tc, young_gap_waits_old_gap_matches);
    tcase_add_test(tc, run_equals_tick_by_tick);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
