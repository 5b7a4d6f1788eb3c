/* The pure part of the batched tick path of signal-processing: grouping a
 * batch by symbol in seq order without duplicates, the per-(strategy,
 * symbol) plan (what applies now, what waits, what is stale, restart and
 * gap after the wait), and the text of a parked tick. No servers needed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tick_batch.h"

START_TEST(group_sorts_by_symbol_and_seq_and_drops_second_copies) {
    sp_tick_ref refs[] = {
        {"SMI", 7, 0}, {"DAX", 3, 1}, {"SMI", 5, 2}, {"DAX", 1, 3},
        {"DAX", 3, 4}, {"CAC", 9, 5}, {"DAX", 2, 6}, {"SMI", 6, 7},
    };
    size_t n = sizeof refs / sizeof refs[0];
    sp_tick_run runs[8];
    size_t nruns = 0, dups = 0;
    size_t k = sp_batch_group(refs, n, runs, &nruns, &dups);
    ck_assert_uint_eq(k, 7);
    ck_assert_uint_eq(dups, 1);
    ck_assert_uint_eq(nruns, 3);
    static const char *const want_sym[] = {"CAC", "DAX", "DAX", "DAX", "SMI", "SMI", "SMI"};
    static const uint64_t want_seq[] = {9, 1, 2, 3, 5, 6, 7};
    for (size_t i = 0; i < k; i++) {
        ck_assert_str_eq(refs[i].symbol, want_sym[i]);
        ck_assert_uint_eq(refs[i].seq, want_seq[i]);
    }
    /* the first copy of DAX #3 (batch position 1) is the one kept */
    ck_assert_uint_eq(refs[3].index, 1);
    ck_assert_uint_eq(runs[0].start, 0);
    ck_assert_uint_eq(runs[0].len, 1);
    ck_assert_uint_eq(runs[1].start, 1);
    ck_assert_uint_eq(runs[1].len, 3);
    ck_assert_uint_eq(runs[2].start, 4);
    ck_assert_uint_eq(runs[2].len, 3);
}
END_TEST

START_TEST(group_of_nothing) {
    sp_tick_run runs[1];
    size_t nruns = 5, dups = 5;
    ck_assert_uint_eq(sp_batch_group(NULL, 0, runs, &nruns, &dups), 0);
    ck_assert_uint_eq(nruns, 0);
    ck_assert_uint_eq(dups, 0);
}
END_TEST

START_TEST(plan_applies_the_contiguous_ticks_and_parks_the_rest) {
    bool has = true;
    uint64_t last = 10;
    const uint64_t seq[] = {9, 11, 12, 14, 15};
    sp_seq_action acts[5];
    ck_assert_uint_eq(sp_batch_plan(&has, &last, seq, NULL, 5, acts), 2);
    ck_assert_int_eq(acts[0], SP_SEQ_WAIT); /* behind: maybe a restarted feed, waits */
    ck_assert_int_eq(acts[1], SP_SEQ_APPLY);
    ck_assert_int_eq(acts[2], SP_SEQ_APPLY);
    ck_assert_int_eq(acts[3], SP_SEQ_WAIT); /* 13 is not here yet */
    ck_assert_int_eq(acts[4], SP_SEQ_WAIT);
    ck_assert(has);
    ck_assert_uint_eq(last, 12);
}
END_TEST

START_TEST(plan_on_an_empty_state) {
    bool has = false;
    uint64_t last = 0;
    const uint64_t seq[] = {1, 2, 3};
    sp_seq_action acts[3];
    ck_assert_uint_eq(sp_batch_plan(&has, &last, seq, NULL, 3, acts), 3);
    ck_assert(has);
    ck_assert_uint_eq(last, 3);
    /* a first tick other than 1 waits for 1.. until its wait expires */
    has = false;
    last = 0;
    const uint64_t later[] = {4, 5};
    ck_assert_uint_eq(sp_batch_plan(&has, &last, later, NULL, 2, acts), 0);
    ck_assert_int_eq(acts[0], SP_SEQ_WAIT);
    ck_assert(!has);
    const bool waited[] = {true, false};
    ck_assert_uint_eq(sp_batch_plan(&has, &last, later, waited, 2, acts), 2);
    ck_assert_int_eq(acts[0], SP_SEQ_START);
    ck_assert_int_eq(acts[1], SP_SEQ_APPLY);
    ck_assert_uint_eq(last, 5);
}
END_TEST

START_TEST(plan_gap_after_the_wait_and_stale_duplicates) {
    bool has = true;
    uint64_t last = 4;
    const uint64_t seq[] = {6, 7};
    const bool waited[] = {true, false};
    sp_seq_action acts[2];
    ck_assert_uint_eq(sp_batch_plan(&has, &last, seq, waited, 2, acts), 2);
    ck_assert_int_eq(acts[0], SP_SEQ_GAP);
    ck_assert_int_eq(acts[1], SP_SEQ_APPLY);
    ck_assert_uint_eq(last, 7);
    /* a tick at or behind the state whose wait expired is dropped */
    const uint64_t dup[] = {7};
    const bool out[] = {true};
    ck_assert_uint_eq(sp_batch_plan(&has, &last, dup, out, 1, acts), 0);
    ck_assert_int_eq(acts[0], SP_SEQ_STALE);
    ck_assert_uint_eq(last, 7);
    const uint64_t zero[] = {0};
    ck_assert_uint_eq(sp_batch_plan(&has, &last, zero, NULL, 1, acts), 0);
    ck_assert_int_eq(acts[0], SP_SEQ_STALE);
}
END_TEST

START_TEST(plan_restart_then_continues) {
    bool has = true;
    uint64_t last = 500;
    const uint64_t seq[] = {1, 2, 3, 600};
    sp_seq_action acts[4];
    ck_assert_uint_eq(sp_batch_plan(&has, &last, seq, NULL, 4, acts), 3);
    ck_assert_int_eq(acts[0], SP_SEQ_RESTART);
    ck_assert_int_eq(acts[1], SP_SEQ_APPLY);
    ck_assert_int_eq(acts[2], SP_SEQ_APPLY);
    ck_assert_int_eq(acts[3], SP_SEQ_WAIT);
    ck_assert_uint_eq(last, 3);
    ck_assert(sp_seq_applies(SP_SEQ_GAP) && sp_seq_applies(SP_SEQ_START));
    ck_assert(!sp_seq_applies(SP_SEQ_WAIT) && !sp_seq_applies(SP_SEQ_STALE));
}
END_TEST

START_TEST(parked_text_round_trips) {
    char buf[256], member[300];
    size_t len = sp_parked_format(-12345678, 1700000000000000001, "tr-DAX-7|x", buf, sizeof buf);
    ck_assert_uint_gt(len, 0);
    ck_assert_str_eq(buf, "-12345678|1700000000000000001|tr-DAX-7|x");
    int m = snprintf(member, sizeof member, "42|1700000000123|%s", buf);
    sp_parked p;
    ck_assert(sp_parked_parse(member, (size_t)m, &p));
    ck_assert_uint_eq(p.seq, 42);
    ck_assert_int_eq(p.price, -12345678);
    ck_assert_int_eq(p.ts, 1700000000000000001);
    ck_assert_str_eq(p.trace, "tr-DAX-7|x");
    /* does not fit */
    ck_assert_uint_eq(sp_parked_format(1, 2, "trace", buf, 6), 0);
    char long_trace[200];
    memset(long_trace, 'a', sizeof long_trace - 1);
    long_trace[sizeof long_trace - 1] = '\0';
    ck_assert_uint_eq(sp_parked_format(1, 2, long_trace, buf, sizeof buf), 0);
}
END_TEST

START_TEST(parked_text_refuses_what_it_did_not_write) {
    static const char *const bad[] = {
        "",
        "42",
        "42|1|2",
        "x|1|2|3|t",
        "0|1|2|3|t",                /* seq 0 */
        "9007199254740992|1|2|3|t", /* 2^53 */
        "42|1|2|3",                 /* no trace separator */
        "42|1|--2|3|t",
        "42|1|2|99999999999999999999|t", /* beyond int64 */
        "-42|1|2|3|t",
    };
    sp_parked p;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!sp_parked_parse(bad[i], strlen(bad[i]), &p), "accepted '%s'", bad[i]);
    ck_assert(sp_parked_parse("1|1|2|3|", 8, &p)); /* an empty trace is still a tick */
    ck_assert_str_eq(p.trace, "");
}
END_TEST

int main(void) {
    Suite *s = suite_create("sp_batch");
    TCase *tc = tcase_create("sp_batch");
    tcase_add_test(tc, group_sorts_by_symbol_and_seq_and_drops_second_copies);
    tcase_add_test(tc, group_of_nothing);
    tcase_add_test(tc, plan_applies_the_contiguous_ticks_and_parks_the_rest);
    tcase_add_test(tc, plan_on_an_empty_state);
    tcase_add_test(tc, plan_gap_after_the_wait_and_stale_duplicates);
    tcase_add_test(tc, plan_restart_then_continues);
    tcase_add_test(tc, parked_text_round_trips);
    tcase_add_test(tc, parked_text_refuses_what_it_did_not_write);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
