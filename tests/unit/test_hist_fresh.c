/* historical-data's guess of which bars are new rows (hist_fresh.c): a bar
 * is fresh only after a stored bar of its key, and only when it starts
 * later; a forgotten or displaced key is never fresh; a NULL table makes
 * nothing fresh. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist_fresh.h"

#define SEC INT64_C(1000000000)

static hist_bar_row row(const char *sym, hist_interval iv, int64_t start) {
    hist_bar_row r;
    memset(&r, 0, sizeof r);
    r.symbol = sym;
    r.iv = iv;
    r.bar.start = start;
    r.fresh = true; /* mark must set it either way */
    return r;
}

START_TEST(unknown_keys_are_not_fresh) {
    hist_fresh *f = hist_fresh_create(64);
    ck_assert_ptr_nonnull(f);
    hist_bar_row r = row("DAX", HIST_1S, 10 * SEC);
    hist_fresh_mark(f, &r, 1);
    ck_assert(!r.fresh);
    hist_fresh_destroy(f);
}
END_TEST

START_TEST(later_than_stored_is_fresh) {
    hist_fresh *f = hist_fresh_create(64);
    hist_bar_row stored[] = {row("DAX", HIST_1S, 10 * SEC), row("DAX", HIST_1S, 11 * SEC),
                             row("DAX", HIST_1M, 0)};
    hist_fresh_stored(f, stored, 3);
    hist_bar_row next[] = {row("DAX", HIST_1S, 12 * SEC), row("DAX", HIST_1S, 11 * SEC),
                           row("DAX", HIST_1S, 5 * SEC),  row("DAX", HIST_1M, 0),
                           row("DAX", HIST_1M, 60 * SEC), row("FTSE", HIST_1S, 12 * SEC)};
    hist_fresh_mark(f, next, 6);
    ck_assert(next[0].fresh);  /* after the newest 1s bar stored */
    ck_assert(!next[1].fresh); /* the newest itself */
    ck_assert(!next[2].fresh); /* an older bucket (a late tick) */
    ck_assert(!next[3].fresh); /* the open minute */
    ck_assert(next[4].fresh);  /* the next minute */
    ck_assert(!next[5].fresh); /* another symbol */
    /* Storing an older bar does not move the newest back. */
    hist_bar_row old = row("DAX", HIST_1S, 3 * SEC);
    hist_fresh_stored(f, &old, 1);
    hist_bar_row again = row("DAX", HIST_1S, 11 * SEC);
    hist_fresh_mark(f, &again, 1);
    ck_assert(!again.fresh);
    hist_fresh_destroy(f);
}
END_TEST

START_TEST(forgotten_keys_wait_for_a_store) {
    hist_fresh *f = hist_fresh_create(64);
    hist_bar_row a = row("DAX", HIST_1S, 10 * SEC);
    hist_fresh_stored(f, &a, 1);
    hist_bar_row b = row("DAX", HIST_1S, 20 * SEC);
    hist_fresh_mark(f, &b, 1);
    ck_assert(b.fresh);
    hist_fresh_forget(f, &b, 1); /* another worker had stored it */
    ck_assert(!b.fresh);
    hist_bar_row c = row("DAX", HIST_1S, 30 * SEC);
    hist_fresh_mark(f, &c, 1);
    ck_assert(!c.fresh);
    hist_fresh_stored(f, &b, 1);
    hist_fresh_mark(f, &c, 1);
    ck_assert(c.fresh);
    hist_fresh_destroy(f);
}
END_TEST

START_TEST(a_displaced_key_is_not_fresh) {
    hist_fresh *f = hist_fresh_create(1); /* 16 slots: 40 keys must collide */
    char names[40][8];
    hist_bar_row rows[40];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "S%d", i);
        rows[i] = row(names[i], HIST_1S, SEC);
    }
    hist_fresh_stored(f, rows, 40);
    int fresh = 0;
    for (int i = 0; i < 40; i++) {
        hist_bar_row r = row(names[i], HIST_1S, 2 * SEC);
        hist_fresh_mark(f, &r, 1);
        fresh += r.fresh;
    }
    ck_assert_int_le(fresh, 16);
    ck_assert_int_ge(fresh, 1);
    hist_fresh_destroy(f);
}
END_TEST

START_TEST(no_table_no_fresh) {
    hist_bar_row r = row("DAX", HIST_1S, 10 * SEC);
    hist_fresh_stored(NULL, &r, 1);
    hist_fresh_mark(NULL, &r, 1);
    ck_assert(!r.fresh);
    r.fresh = true;
    hist_fresh_forget(NULL, &r, 1);
    ck_assert(!r.fresh);
}
END_TEST

int main(void) {
    Suite *s = suite_create("hist_fresh");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, unknown_keys_are_not_fresh);
    tcase_add_test(tc, later_than_stored_is_fresh);
    tcase_add_test(tc, forgotten_keys_wait_for_a_store);
    tcase_add_test(tc, a_displaced_key_is_not_fresh);
    tcase_add_test(tc, no_table_no_fresh);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
