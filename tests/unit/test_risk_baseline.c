/* risk_baseline: the start-of-day P&L baselines kept in memory, keyed
 * exactly by (account, day), a newer key taking a slot, shared by threads. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk_baseline.h"

START_TEST(kept_per_account_and_day) {
    risk_baseline_clear();
    tb_fixed v = 0;
    ck_assert(!risk_baseline_get("A1", 2026340, &v));
    risk_baseline_put("A1", 2026340, -250);
    ck_assert(risk_baseline_get("A1", 2026340, &v));
    ck_assert_int_eq(v, -250);
    ck_assert(!risk_baseline_get("A1", 2026341, &v)); /* the next day: not known */
    ck_assert(!risk_baseline_get("A2", 2026340, &v)); /* another account */
    ck_assert(!risk_baseline_get("A", 2026340, &v));  /* a prefix is another account */
    risk_baseline_put("A1", 2026340, 999);            /* read again: the value read wins */
    ck_assert(risk_baseline_get("A1", 2026340, &v));
    ck_assert_int_eq(v, 999);
}
END_TEST

START_TEST(a_newer_key_takes_the_slot) {
    risk_baseline_clear();
    /* More keys than slots: every get answers for its own key or misses. */
    char acct[32];
    for (int i = 0; i < 3 * RISK_BASELINE_SLOTS; i++) {
        snprintf(acct, sizeof acct, "ACC%d", i);
        risk_baseline_put(acct, 7, i);
    }
    int hits = 0;
    for (int i = 0; i < 3 * RISK_BASELINE_SLOTS; i++) {
        snprintf(acct, sizeof acct, "ACC%d", i);
        tb_fixed v = -1;
        if (risk_baseline_get(acct, 7, &v)) {
            ck_assert_int_eq(v, i);
            hits++;
        }
    }
    ck_assert_int_le(hits, RISK_BASELINE_SLOTS);
    ck_assert_int_gt(hits, 0);
    snprintf(acct, sizeof acct, "ACC%d", 3 * RISK_BASELINE_SLOTS - 1);
    tb_fixed v = 0;
    ck_assert(risk_baseline_get(acct, 7, &v)); /* the last one written is there */
}
END_TEST

START_TEST(too_long_an_account_is_not_kept) {
    risk_baseline_clear();
    char acct[TB_TOKEN_CAP + 8];
    memset(acct, 'x', sizeof acct - 1);
    acct[sizeof acct - 1] = '\0';
    risk_baseline_put(acct, 1, 5);
    tb_fixed v = 0;
    ck_assert(!risk_baseline_get(acct, 1, &v));
}
END_TEST

static void *writer(void *arg) {
    char acct[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(acct, sizeof acct, "T%d-%d", (int)(intptr_t)arg, i % 64);
        risk_baseline_put(acct, i % 3, (tb_fixed)(i % 64));
        tb_fixed v;
        if (risk_baseline_get(acct, i % 3, &v) && v != (tb_fixed)(i % 64)) return (void *)1;
    }
    return NULL;
}

START_TEST(shared_by_threads) {
    risk_baseline_clear();
    pthread_t t[4];
    for (intptr_t i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, writer, (void *)i), 0);
    for (int i = 0; i < 4; i++) {
        void *bad = NULL;
        ck_assert_int_eq(pthread_join(t[i], &bad), 0);
        ck_assert_ptr_null(bad); /* a get returned another key's value */
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("risk_baseline");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, kept_per_account_and_day);
    tcase_add_test(tc, a_newer_key_takes_the_slot);
    tcase_add_test(tc, too_long_an_account_is_not_kept);
    tcase_add_test(tc, shared_by_threads);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
