/* market-data pacing: simulator rate schedule, replay timestamp schedule
 * with a speed factor, "as fast as possible", and the reported tick rate. */
#include <check.h>
#include <stdlib.h>

#include "md_pace.h"

#define SEC INT64_C(1000000000)

START_TEST(rate_offsets) {
    ck_assert_int_eq(md_pace_rate_offset_ns(0, 10), 0);
    ck_assert_int_eq(md_pace_rate_offset_ns(1, 10), SEC / 10);
    ck_assert_int_eq(md_pace_rate_offset_ns(25, 10), 2 * SEC + SEC / 2);
    ck_assert_int_eq(md_pace_rate_offset_ns(1, 3), 333333333); /* floor */
    ck_assert_int_eq(md_pace_rate_offset_ns(12345, 0), 0);     /* as fast as possible */
    /* no overflow for long runs: 1e12 ticks at 1/s */
    ck_assert_int_eq(md_pace_rate_offset_ns(UINT64_C(1000000000000), 1), INT64_MAX);
    ck_assert_int_eq(md_pace_rate_offset_ns(UINT64_C(1000000000), 1000), INT64_C(1000000) * SEC);
}
END_TEST

START_TEST(rate_due_matches_offsets) {
    static const uint64_t rates[] = {1, 3, 7, 10, 1000, 999999};
    static const int64_t elapsed[] = {0,         1,         99999999, 100000000,
                                      333333333, 333333334, SEC,      7 * SEC + 5};
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++)
        for (size_t e = 0; e < sizeof elapsed / sizeof elapsed[0]; e++) {
            uint64_t due = md_pace_rate_due(elapsed[e], rates[r]);
            ck_assert_uint_ge(due, 1); /* tick 0 is due at once */
            /* every tick before `due` is due, the one at `due` is not yet */
            ck_assert_int_le(md_pace_rate_offset_ns(due - 1, rates[r]), elapsed[e]);
            ck_assert_int_gt(md_pace_rate_offset_ns(due, rates[r]), elapsed[e]);
        }
    ck_assert_uint_eq(md_pace_rate_due(SEC, 10), 11); /* ticks 0..10 */
    ck_assert_uint_eq(md_pace_rate_due(5, 0), UINT64_MAX);
    ck_assert_uint_eq(md_pace_rate_due(-1, 10), 0);
}
END_TEST

START_TEST(replay_offsets) {
    int64_t day = 86400 * SEC, t0 = INT64_C(678326400) * SEC;
    ck_assert_int_eq(md_pace_replay_offset_ns(t0, t0, 1), 0);
    ck_assert_int_eq(md_pace_replay_offset_ns(t0, t0 + day, 1), day);     /* real time */
    ck_assert_int_eq(md_pace_replay_offset_ns(t0, t0 + day, 86400), SEC); /* a day a second */
    ck_assert_int_eq(md_pace_replay_offset_ns(t0, t0 + 3 * day, 172800), SEC + SEC / 2);
    ck_assert_int_eq(md_pace_replay_offset_ns(t0, t0 + day, 0), 0);  /* full speed */
    ck_assert_int_eq(md_pace_replay_offset_ns(t0, t0 - day, 10), 0); /* out of order */
    /* opposite signs do not overflow */
    ck_assert_int_eq(md_pace_replay_offset_ns(INT64_MIN + 1, INT64_MAX, 1), INT64_MAX);
    ck_assert_int_eq(md_pace_replay_offset_ns(-SEC, SEC, 2), SEC);
}
END_TEST

START_TEST(rate_per_second) {
    ck_assert_int_eq(md_pace_rate_per_s(100, 600, SEC), 500);
    ck_assert_int_eq(md_pace_rate_per_s(0, 50, SEC / 2), 100);
    ck_assert_int_eq(md_pace_rate_per_s(0, 10, 3 * SEC), 3);
    ck_assert_int_eq(md_pace_rate_per_s(10, 10, SEC), 0);
    ck_assert_int_eq(md_pace_rate_per_s(0, 10, 0), 0);
    ck_assert_int_eq(md_pace_rate_per_s(20, 10, SEC), 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("md_pace");
    TCase *tc = tcase_create("pace");
    tcase_add_test(tc, rate_offsets);
    tcase_add_test(tc, rate_due_matches_offsets);
    tcase_add_test(tc, replay_offsets);
    tcase_add_test(tc, rate_per_second);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
