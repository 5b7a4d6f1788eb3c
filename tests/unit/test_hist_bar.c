/* historical-data bar rules (actors/historical-data/hist_bar.c): interval
 * buckets, the price a tick contributes, and the order-independent merge,
 * against values worked out by hand. */
#include <check.h>
#include <stdlib.h>

#include "hist_bar.h"

#define FX(units) ((tb_fixed)(units)*TB_FIXED_SCALE)
#define SEC       INT64_C(1000000000)
/* 2024-01-02T00:00:00Z: 2024-01-01 is 1704067200 s after the epoch. */
#define JAN2 (INT64_C(1704153600) * SEC)

START_TEST(interval_names_roundtrip) {
    const char *names[] = {"1s", "1m", "5m", "1h", "1d"};
    const int64_t secs[] = {1, 60, 300, 3600, 86400};
    for (int i = 0; i < HIST_NINTERVALS; i++) {
        hist_interval iv;
        ck_assert_int_eq(hist_interval_parse(names[i], &iv), TB_OK);
        ck_assert_int_eq(iv, i);
        ck_assert_str_eq(hist_interval_name(iv), names[i]);
        ck_assert_int_eq(hist_interval_ns(iv), secs[i] * SEC);
    }
    hist_interval iv;
    ck_assert_int_eq(hist_interval_parse("1w", &iv), TB_INVALID);
    ck_assert_int_eq(hist_interval_parse("", &iv), TB_INVALID);
    ck_assert_int_eq(hist_interval_parse(NULL, &iv), TB_INVALID);
}
END_TEST

START_TEST(bucket_starts) {
    /* 10:17:45.123456789 on 2024-01-02: 37065 s after midnight. */
    int64_t ts = JAN2 + 37065 * SEC + 123456789;
    ck_assert_int_eq(hist_bucket_start(ts, HIST_1S), JAN2 + 37065 * SEC);
    ck_assert_int_eq(hist_bucket_start(ts, HIST_1M), JAN2 + (10 * 3600 + 17 * 60) * SEC);
    ck_assert_int_eq(hist_bucket_start(ts, HIST_5M), JAN2 + (10 * 3600 + 15 * 60) * SEC);
    ck_assert_int_eq(hist_bucket_start(ts, HIST_1H), JAN2 + 10 * 3600 * SEC);
    ck_assert_int_eq(hist_bucket_start(ts, HIST_1D), JAN2);
    /* A bucket start is its own bucket; the last ns before belongs to the previous one. */
    ck_assert_int_eq(hist_bucket_start(JAN2, HIST_1D), JAN2);
    ck_assert_int_eq(hist_bucket_start(JAN2 - 1, HIST_1D), JAN2 - 86400 * SEC);
    ck_assert_int_eq(hist_bucket_start(JAN2 - 1, HIST_5M), JAN2 - 300 * SEC);
    /* Before the epoch: floor, not truncation toward zero. */
    ck_assert_int_eq(hist_bucket_start(-1, HIST_1S), -SEC);
    ck_assert_int_eq(hist_bucket_start(-1, HIST_1D), -86400 * SEC);
    ck_assert_int_eq(hist_bucket_start(-SEC, HIST_1S), -SEC);
    ck_assert_int_eq(hist_bucket_start(0, HIST_1H), 0);
}
END_TEST

START_TEST(tick_price_rules) {
    tb_tick t = {.symbol = "X", .seq = 1, .ts = JAN2};
    tb_fixed p, sz;
    tb_error err = {0};
    /* A trade wins over the quote. */
    t.bid = FX(99);
    t.ask = FX(101);
    t.last = FX(100) + 50000000; /* 100.5 */
    t.last_size = FX(3);
    ck_assert_int_eq(hist_tick_price(&t, &p, &sz, &err), TB_OK);
    ck_assert_int_eq(p, 10050000000);
    ck_assert_int_eq(sz, FX(3));
    /* Quote only: midpoint, no volume. (99 + 101) / 2 = 100. */
    t.last = 0;
    t.last_size = 0;
    ck_assert_int_eq(hist_tick_price(&t, &p, &sz, &err), TB_OK);
    ck_assert_int_eq(p, FX(100));
    ck_assert_int_eq(sz, 0);
    /* Ties round half-even at the 8th decimal: 0.000000015 -> 0.00000002,
     * 0.000000025 -> 0.00000002. */
    t.bid = 1;
    t.ask = 2;
    ck_assert_int_eq(hist_tick_price(&t, &p, &sz, &err), TB_OK);
    ck_assert_int_eq(p, 2);
    t.bid = 2;
    t.ask = 3;
    ck_assert_int_eq(hist_tick_price(&t, &p, &sz, &err), TB_OK);
    ck_assert_int_eq(p, 2);
    /* One side only. */
    t.bid = 0;
    t.ask = FX(7);
    ck_assert_int_eq(hist_tick_price(&t, &p, &sz, &err), TB_OK);
    ck_assert_int_eq(p, FX(7));
    t.bid = FX(6);
    t.ask = 0;
    ck_assert_int_eq(hist_tick_price(&t, &p, &sz, &err), TB_OK);
    ck_assert_int_eq(p, FX(6));
    /* Near the top of the range the sum would overflow; the midpoint does not. */
    t.bid = TB_FIXED_MAX - 1;
    t.ask = TB_FIXED_MAX - 1;
    ck_assert_int_eq(hist_tick_price(&t, &p, &sz, &err), TB_OK);
    ck_assert_int_eq(p, TB_FIXED_MAX - 1);
    /* Nothing usable. */
    t.bid = t.ask = 0;
    ck_assert_int_eq(hist_tick_price(&t, &p, &sz, &err), TB_INVALID);
    t.bid = -FX(1);
    t.ask = FX(1);
    ck_assert_int_eq(hist_tick_price(&t, &p, &sz, &err), TB_INVALID);
    t.bid = t.ask = 0;
    t.last = -FX(1);
    ck_assert_int_eq(hist_tick_price(&t, &p, &sz, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "last");
    t.last = FX(1);
    t.last_size = -1;
    ck_assert_int_eq(hist_tick_price(&t, &p, &sz, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "last_size");
}
END_TEST

/* Five ticks of one bucket (seq, price, size):
 *   seq 10 @ 100 x 1, seq 11 @ 104 x 2, seq 12 @ 98 x 3, seq 13 @ 101 x 4, seq 14 @ 99 x 5
 * By hand: open 100 (seq 10), close 99 (seq 14), high 104, low 98,
 * volume 15, ticks 5. */
static const struct {
    uint64_t seq;
    int price, size;
} five[5] = {{10, 100, 1}, {11, 104, 2}, {12, 98, 3}, {13, 101, 4}, {14, 99, 5}};

static void check_five(const hist_bar *b) {
    ck_assert_int_eq(b->start, JAN2);
    ck_assert_int_eq(b->open, FX(100));
    ck_assert_int_eq(b->close, FX(99));
    ck_assert_int_eq(b->high, FX(104));
    ck_assert_int_eq(b->low, FX(98));
    ck_assert_int_eq(b->volume, FX(15));
    ck_assert_uint_eq(b->ticks, 5);
    ck_assert_uint_eq(b->first_seq, 10);
    ck_assert_uint_eq(b->last_seq, 14);
    ck_assert(hist_bar_consistent(b));
}

static hist_bar tick_bar(int i) {
    hist_bar b;
    hist_bar_from_tick(&b, JAN2, FX(five[i].price), FX(five[i].size), five[i].seq);
    return b;
}

START_TEST(merge_every_order_same_bar) {
    /* All 120 orders of the five ticks, folded one at a time. */
    int perm[5] = {0, 1, 2, 3, 4};
    int count = 0;
    for (;;) {
        hist_bar b = tick_bar(perm[0]);
        for (int k = 1; k < 5; k++) {
            hist_bar t = tick_bar(perm[k]);
            ck_assert_int_eq(hist_bar_merge(&b, &t), TB_OK);
        }
        check_five(&b);
        count++;
        /* next permutation (lexicographic) */
        int i = 3;
        while (i >= 0 && perm[i] > perm[i + 1]) i--;
        if (i < 0) break;
        int j = 4;
        while (perm[j] < perm[i]) j--;
        int tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
        for (int a = i + 1, z = 4; a < z; a++, z--) {
            tmp = perm[a];
            perm[a] = perm[z];
            perm[z] = tmp;
        }
    }
    ck_assert_int_eq(count, 120);
}
END_TEST

START_TEST(merge_partials_as_workers_would) {
    /* Worker A saw ticks 14, 10 and 12; worker B saw 11 and 13. Merging
     * their partial bars either way round gives the same bar. */
    hist_bar a = tick_bar(4), b = tick_bar(1), t;
    t = tick_bar(0);
    ck_assert_int_eq(hist_bar_merge(&a, &t), TB_OK);
    t = tick_bar(2);
    ck_assert_int_eq(hist_bar_merge(&a, &t), TB_OK);
    t = tick_bar(3);
    ck_assert_int_eq(hist_bar_merge(&b, &t), TB_OK);
    hist_bar ab = a, ba = b;
    ck_assert_int_eq(hist_bar_merge(&ab, &b), TB_OK);
    ck_assert_int_eq(hist_bar_merge(&ba, &a), TB_OK);
    check_five(&ab);
    check_five(&ba);
}
END_TEST

START_TEST(merge_equal_seq_is_symmetric) {
    /* Two different ticks with the same seq: the lower open and the higher
     * close win whichever comes first. */
    hist_bar x, y;
    hist_bar_from_tick(&x, JAN2, FX(50), FX(1), 7);
    hist_bar_from_tick(&y, JAN2, FX(60), FX(1), 7);
    hist_bar xy = x, yx = y;
    ck_assert_int_eq(hist_bar_merge(&xy, &y), TB_OK);
    ck_assert_int_eq(hist_bar_merge(&yx, &x), TB_OK);
    ck_assert_int_eq(xy.open, FX(50));
    ck_assert_int_eq(xy.close, FX(60));
    ck_assert_int_eq(yx.open, FX(50));
    ck_assert_int_eq(yx.close, FX(60));
}
END_TEST

START_TEST(merge_rejects_overflow_and_other_bucket) {
    hist_bar a, b;
    hist_bar_from_tick(&a, JAN2, FX(1), TB_FIXED_MAX - 5, 1);
    hist_bar_from_tick(&b, JAN2, FX(2), 6, 2);
    hist_bar before = a;
    ck_assert_int_eq(hist_bar_merge(&a, &b), TB_OVERFLOW);
    ck_assert_mem_eq(&a, &before, sizeof a);
    hist_bar_from_tick(&b, JAN2 + SEC, FX(2), 0, 2);
    ck_assert_int_eq(hist_bar_merge(&a, &b), TB_INVALID);
    ck_assert_mem_eq(&a, &before, sizeof a);
}
END_TEST

START_TEST(consistency_check) {
    hist_bar b = {.open = FX(10), .high = FX(12), .low = FX(9), .close = FX(11)};
    ck_assert(hist_bar_consistent(&b));
    b.close = FX(13);
    ck_assert(!hist_bar_consistent(&b));
    b.close = FX(11);
    b.open = FX(8);
    ck_assert(!hist_bar_consistent(&b));
}
END_TEST

START_TEST(interval_sets) {
    unsigned m = 99;
    tb_error err = {0};
    ck_assert_int_eq(hist_interval_set_parse("1m,5m,1h,1d", &m, &err), TB_OK);
    ck_assert_uint_eq(m, 1u << HIST_1M | 1u << HIST_5M | 1u << HIST_1H | 1u << HIST_1D);
    ck_assert_int_eq(hist_interval_set_parse(" 1s , 1d,", &m, &err), TB_OK);
    ck_assert_uint_eq(m, 1u << HIST_1S | 1u << HIST_1D);
    ck_assert_int_eq(hist_interval_set_parse("all", &m, &err), TB_OK);
    ck_assert_uint_eq(m, (1u << HIST_NINTERVALS) - 1);
    ck_assert_int_eq(hist_interval_set_parse("none", &m, &err), TB_OK);
    ck_assert_uint_eq(m, 0);
    ck_assert_int_eq(hist_interval_set_parse("1m,2m", &m, &err), TB_INVALID);
    ck_assert_str_eq(err.message, "'2m' is not an interval (1s, 1m, 5m, 1h, 1d, all or none)");
    ck_assert_int_eq(hist_interval_set_parse("1m;5m", &m, &err), TB_INVALID);
    ck_assert_int_eq(hist_interval_set_parse("1month", &m, &err), TB_INVALID);
}
END_TEST

int main(void) {
    Suite *s = suite_create("hist_bar");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, interval_names_roundtrip);
    tcase_add_test(tc, bucket_starts);
    tcase_add_test(tc, tick_price_rules);
    tcase_add_test(tc, merge_every_order_same_bar);
    tcase_add_test(tc, merge_partials_as_workers_would);
    tcase_add_test(tc, merge_equal_seq_is_symmetric);
    tcase_add_test(tc, merge_rejects_overflow_and_other_bucket);
    tcase_add_test(tc, consistency_check);
    tcase_add_test(tc, interval_sets);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
