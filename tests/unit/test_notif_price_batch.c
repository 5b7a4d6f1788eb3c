/* Price rules over a batch of ticks (actors/notifications/
 * notif_price_batch.c): a crossing inside the batch fires once at its tick,
 * cooldown holds inside a batch, late and duplicate ticks change nothing,
 * other symbols are skipped, and a long mixed sequence fires at the same
 * ticks and ends in the same state whether it is stepped one tick at a time
 * or in batches of any size. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notif_price_batch.h"

#define FX(units) ((tb_fixed)(units)*TB_FIXED_SCALE)
#define SEC       INT64_C(1000000000)

static notif_rule price_rule(notif_kind k, const char *symbol, int threshold, int64_t cooldown_s) {
    notif_rule r;
    memset(&r, 0, sizeof r);
    snprintf(r.rule_id, sizeof r.rule_id, "r-%s", symbol);
    r.kind = k;
    snprintf(r.symbol, sizeof r.symbol, "%s", symbol);
    r.threshold = FX(threshold);
    r.cooldown_s = cooldown_s;
    return r;
}

static bool same_state(const notif_cross *a, const notif_cross *b) {
    return a->known == b->known && a->ts == b->ts && a->seq == b->seq && a->cond == b->cond &&
           a->fired_ns == b->fired_ns && a->has_peak == b->has_peak && a->peak == b->peak;
}

static notif_obs ob(const char *sym, uint64_t seq, int64_t ts, int price) {
    notif_obs o;
    memset(&o, 0, sizeof o);
    snprintf(o.key, sizeof o.key, "%s", sym);
    o.seq = seq;
    o.ts = ts;
    o.value = FX(price);
    return o;
}

START_TEST(crossing_inside_the_batch_fires_once) {
    notif_rule r = price_rule(NOTIF_KIND_PRICE_ABOVE, "DAX", 100, 0);
    notif_obs o[] = {ob("DAX", 1, 10, 99), ob("SAP", 1, 10, 500), ob("DAX", 2, 20, 101),
                     ob("DAX", 3, 30, 102), ob("DAX", 4, 40, 99)};
    notif_cross prev = {0}, next;
    size_t fired[8];
    bool moved = false;
    size_t k = notif_price_steps(&r, &prev, o, 5, 7 * SEC, &next, &moved, fired);
    ck_assert_uint_eq(k, 1);
    ck_assert_uint_eq(fired[0], 2);
    ck_assert(moved);
    ck_assert(next.known);
    ck_assert_int_eq(next.ts, 40);
    ck_assert_uint_eq(next.seq, 4);
    ck_assert(!next.cond);
    ck_assert_int_eq(next.fired_ns, 7 * SEC);
    /* below 100 on the same ticks: the first DAX tick (a new rule's first
     * observation beyond it) and the last one. */
    notif_rule b = price_rule(NOTIF_KIND_PRICE_BELOW, "DAX", 100, 0);
    k = notif_price_steps(&b, &prev, o, 5, 7 * SEC, &next, &moved, fired);
    ck_assert_uint_eq(k, 2);
    ck_assert_uint_eq(fired[0], 0);
    ck_assert_uint_eq(fired[1], 4);
    ck_assert(next.cond);
}
END_TEST

START_TEST(cooldown_holds_inside_a_batch) {
    notif_rule r = price_rule(NOTIF_KIND_PRICE_ABOVE, "DAX", 100, 60);
    notif_obs o[] = {ob("DAX", 1, 10, 101), ob("DAX", 2, 20, 99), ob("DAX", 3, 30, 101)};
    notif_cross prev = {0}, next;
    size_t fired[4];
    bool moved;
    ck_assert_uint_eq(notif_price_steps(&r, &prev, o, 3, 100 * SEC, &next, &moved, fired), 1);
    ck_assert_uint_eq(fired[0], 0);
    ck_assert(next.cond);
    /* Fired 30 s ago (stored state): the crossing is recorded, silent. */
    prev = (notif_cross){.known = true, .ts = 5, .seq = 0, .cond = false, .fired_ns = 70 * SEC};
    ck_assert_uint_eq(notif_price_steps(&r, &prev, o, 3, 100 * SEC, &next, &moved, fired), 0);
    ck_assert(moved);
    ck_assert(next.cond);
    ck_assert_int_eq(next.fired_ns, 70 * SEC);
    /* 61 s ago: it fires again. */
    prev.fired_ns = 39 * SEC;
    ck_assert_uint_eq(notif_price_steps(&r, &prev, o, 3, 100 * SEC, &next, &moved, fired), 1);
    ck_assert_int_eq(next.fired_ns, 100 * SEC);
}
END_TEST

START_TEST(late_duplicate_and_foreign_ticks_change_nothing) {
    notif_rule r = price_rule(NOTIF_KIND_PRICE_ABOVE, "DAX", 100, 0);
    notif_cross prev = {.known = true, .ts = 50, .seq = 5, .cond = false};
    notif_obs o[] = {ob("DAX", 4, 40, 150), ob("DAX", 5, 50, 150), ob("SAP", 9, 90, 150)};
    notif_cross next;
    size_t fired[4];
    bool moved = true;
    ck_assert_uint_eq(notif_price_steps(&r, &prev, o, 3, SEC, &next, &moved, fired), 0);
    ck_assert(!moved);
    ck_assert(same_state(&next, &prev));
    /* A late tick inside a batch after a newer one is ignored too. */
    notif_obs o2[] = {ob("DAX", 7, 70, 99), ob("DAX", 6, 60, 150), ob("DAX", 8, 80, 101)};
    ck_assert_uint_eq(notif_price_steps(&r, &prev, o2, 3, SEC, &next, &moved, fired), 1);
    ck_assert_uint_eq(fired[0], 2);
    ck_assert_uint_eq(next.seq, 8);
}
END_TEST

START_TEST(keys_in_order_of_first_appearance) {
    notif_obs o[] = {ob("DAX", 1, 1, 1), ob("DAX", 2, 2, 1), ob("SAP", 1, 1, 1),
                     ob("DAX", 3, 3, 1), ob("BMW", 1, 1, 1), ob("SAP", 2, 2, 1)};
    size_t keys[6];
    ck_assert_uint_eq(notif_obs_keys(o, 6, keys), 3);
    ck_assert_uint_eq(keys[0], 0);
    ck_assert_uint_eq(keys[1], 2);
    ck_assert_uint_eq(keys[2], 4);
    ck_assert_uint_eq(notif_obs_keys(o, 0, keys), 0);
}
END_TEST

/* One tick at a time with notif_cross_step, as the service did per tick. */
static size_t step_each(const notif_rule *r, notif_cross *st, const notif_obs *o, size_t n,
                        int64_t now, size_t *fired) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(o[i].key, r->symbol) != 0) continue;
        notif_cross nx;
        notif_step s = notif_cross_step(st, o[i].ts, o[i].seq, notif_price_condition(r, o[i].value),
                                        now, r->cooldown_s, &nx);
        *st = nx;
        if (s == NOTIF_STEP_FIRE) fired[k++] = i;
    }
    return k;
}

START_TEST(batches_of_any_size_fire_like_single_ticks) {
    enum { N = 3000 };
    static notif_obs o[N];
    static size_t want[N], got[N];
    const char *syms[3] = {"DAX", "SAP", "BMW"};
    uint64_t seq[3] = {0};
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t s = (size_t)(x % 3);
        int price = 95 + (int)((x >> 8) % 11); /* 95 .. 105 */
        uint64_t q = ++seq[s];
        if (x % 17 == 0 && q > 3) q -= 3; /* now and then a late tick */
        o[i] = ob(syms[s], q, (int64_t)q * 1000, price);
    }
    notif_rule rules[2] = {price_rule(NOTIF_KIND_PRICE_ABOVE, "DAX", 103, 0),
                           price_rule(NOTIF_KIND_PRICE_BELOW, "SAP", 96, 0)};
    const size_t sizes[] = {1, 2, 7, 64, 1024, N};
    for (size_t ri = 0; ri < 2; ri++) {
        notif_cross one = {0};
        size_t nwant = step_each(&rules[ri], &one, o, N, SEC, want);
        ck_assert_uint_gt(nwant, 10); /* the sequence does cross, often */
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            notif_cross st = {0};
            size_t ngot = 0;
            for (size_t at = 0; at < N; at += sizes[si]) {
                size_t len = N - at < sizes[si] ? N - at : sizes[si];
                notif_cross next;
                bool moved;
                size_t f[1024 + N];
                size_t k = notif_price_steps(&rules[ri], &st, o + at, len, SEC, &next, &moved, f);
                for (size_t j = 0; j < k; j++) got[ngot++] = at + f[j];
                st = next;
            }
            ck_assert_msg(ngot == nwant, "batch %zu: %zu alerts, want %zu", sizes[si], ngot, nwant);
            for (size_t j = 0; j < ngot; j++) ck_assert_uint_eq(got[j], want[j]);
            ck_assert(same_state(&st, &one));
        }
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("notif_price_batch");
    TCase *tc = tcase_create("batch");
    tcase_add_test(tc, crossing_inside_the_batch_fires_once);
    tcase_add_test(tc, cooldown_holds_inside_a_batch);
    tcase_add_test(tc, late_duplicate_and_foreign_ticks_change_nothing);
    tcase_add_test(tc, keys_in_order_of_first_appearance);
    tcase_add_test(tc, batches_of_any_size_fire_like_single_ticks);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
