/* The batch reduction of position-management's marks (actors/position-
 * management/pos_mark_batch.c): one mark per symbol, the newest by time then
 * sequence whatever the arrival order, the first of two equally new ticks,
 * the midpoint when there is no trade price, ticks without a price skipped,
 * and a long shuffled batch reduced to the same marks as a sorted one. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pos_mark_batch.h"

static tb_fixed F(const char *s) {
    tb_fixed v = 0;
    ck_assert_msg(tb_fixed_parse_cstr(s, &v) == TB_OK, "bad literal %s", s);
    return v;
}

static tb_tick T(const char *sym, uint64_t seq, int64_t ts, const char *last) {
    tb_tick t;
    memset(&t, 0, sizeof t);
    snprintf(t.symbol, sizeof t.symbol, "%s", sym);
    t.seq = seq;
    t.ts = ts;
    if (last) t.last = F(last);
    return t;
}

static size_t reduce(const tb_tick *ticks, size_t n, pos_mark *out) {
    const tb_tick *p[64];
    ck_assert_uint_le(n, 64);
    for (size_t i = 0; i < n; i++) p[i] = &ticks[i];
    return pos_marks_reduce(p, n, out);
}

START_TEST(newest_tick_per_symbol_wins) {
    tb_tick t[] = {
        T("DAX", 1, 100, "10"), T("SAP", 1, 100, "20"),
        T("DAX", 3, 300, "13"), T("DAX", 2, 200, "12"), /* late: older than seq 3 */
        T("SAP", 2, 250, "21"), T("BMW", 7, 50, "30"),
    };
    pos_mark m[8];
    size_t k = reduce(t, sizeof t / sizeof t[0], m);
    ck_assert_uint_eq(k, 3);
    ck_assert_str_eq(m[0].symbol, "DAX");
    ck_assert_int_eq(m[0].price, F("13"));
    ck_assert_int_eq(m[0].ts, 300);
    ck_assert_uint_eq(m[0].seq, 3);
    ck_assert_str_eq(m[1].symbol, "SAP");
    ck_assert_int_eq(m[1].price, F("21"));
    ck_assert_int_eq(m[1].ts, 250);
    ck_assert_str_eq(m[2].symbol, "BMW");
    ck_assert_int_eq(m[2].price, F("30"));
}
END_TEST

START_TEST(same_time_orders_by_sequence_and_keeps_the_first_copy) {
    tb_tick t[] = {
        T("DAX", 5, 100, "10"), T("DAX", 4, 100, "9"), /* same time, lower sequence: older */
        T("DAX", 5, 100, "11"), /* same time and sequence: a copy, the first stays */
        T("DAX", 6, 100, "12"), /* same time, higher sequence: newer */
        T("DAX", 1, 99, "1"),
    };
    pos_mark m[8];
    ck_assert_uint_eq(reduce(t, 3, m), 1);
    ck_assert_int_eq(m[0].price, F("10"));
    ck_assert_uint_eq(m[0].seq, 5);
    ck_assert_uint_eq(reduce(t, 5, m), 1);
    ck_assert_int_eq(m[0].price, F("12"));
    ck_assert_uint_eq(m[0].seq, 6);
}
END_TEST

START_TEST(quotes_give_the_midpoint_and_priceless_ticks_are_skipped) {
    tb_tick t[] = {T("DAX", 1, 100, "10"), T("DAX", 2, 200, NULL), T("SAP", 1, 100, NULL),
                   T("BMW", 1, 100, NULL)};
    t[2].bid = F("30");
    t[2].ask = F("31");
    t[3].ask = F("7.5");
    pos_mark m[8];
    size_t k = reduce(t, 4, m);
    /* DAX seq 2 has no price: the mark stays at seq 1. */
    ck_assert_uint_eq(k, 3);
    ck_assert_str_eq(m[0].symbol, "DAX");
    ck_assert_int_eq(m[0].price, F("10"));
    ck_assert_uint_eq(m[0].seq, 1);
    ck_assert_str_eq(m[1].symbol, "SAP");
    ck_assert_int_eq(m[1].price, F("30.5"));
    ck_assert_str_eq(m[2].symbol, "BMW");
    ck_assert_int_eq(m[2].price, F("7.5"));
    ck_assert_uint_eq(reduce(t + 1, 1, m), 0);
    ck_assert_uint_eq(reduce(t, 0, m), 0);
}
END_TEST

START_TEST(shuffled_batch_reduces_like_the_sorted_one) {
    enum { N = 4000, SYMS = 5 };
    static tb_tick ticks[N];
    static const tb_tick *order[N];
    static pos_mark got[N];
    const char *syms[SYMS] = {"A", "B", "C", "D", "E"};
    uint64_t seq[SYMS] = {0};
    for (size_t i = 0; i < N; i++) {
        size_t s = (i * 7919) % SYMS;
        char px[32];
        snprintf(px, sizeof px, "%zu.%02zu", 100 + i, i % 100);
        ticks[i] = T(syms[s], ++seq[s], (int64_t)(1000 + i / 3), px);
        order[i] = &ticks[i];
    }
    uint64_t x = 88172645463325252ull; /* xorshift: a fixed shuffle */
    for (size_t i = N - 1; i > 0; i--) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t j = (size_t)(x % (i + 1));
        const tb_tick *tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    size_t k = pos_marks_reduce(order, N, got);
    ck_assert_uint_eq(k, SYMS);
    for (size_t i = 0; i < k; i++) {
        /* The newest tick of the symbol is its last one in generation order. */
        const tb_tick *want = NULL;
        for (size_t j = 0; j < N; j++)
            if (strcmp(ticks[j].symbol, got[i].symbol) == 0) want = &ticks[j];
        ck_assert_ptr_nonnull(want);
        ck_assert_int_eq(got[i].price, want->last);
        ck_assert_int_eq(got[i].ts, want->ts);
        ck_assert_uint_eq(got[i].seq, want->seq);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("pos_mark_batch");
    TCase *tc = tcase_create("reduce");
    tcase_add_test(tc, newest_tick_per_symbol_wins);
    tcase_add_test(tc, same_time_orders_by_sequence_and_keeps_the_first_copy);
    tcase_add_test(tc, quotes_give_the_midpoint_and_priceless_ticks_are_skipped);
    tcase_add_test(tc, shuffled_batch_reduces_like_the_sorted_one);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
