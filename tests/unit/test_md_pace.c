/* market-data pacing: simulator rate schedule, replay timestamp schedule
 * with a speed factor, "as fast as possible", the reported tick rate, and
 * replay flow control against consumers' flow reports (fake clock). */
#include <check.h>
#include <stdio.h>
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

/* ---- flow control ---- */

#define MS     INT64_C(1000000)
#define TICKS  "md.tick.>"
#define WINDOW 1000

static md_flow fl;

static md_flow_result rep(const char *svc, const char *inst, uint64_t handled, int64_t now) {
    return md_flow_report(&fl, svc, inst, "ticks", TICKS, handled, now, NULL);
}

START_TEST(flow_no_consumers_no_pacing) {
    md_flow_init(&fl, WINDOW, 5000 * MS);
    md_flow_begin(&fl, 0);
    ck_assert_uint_eq(md_flow_room(&fl, 0, 1, 0), UINT64_MAX);
    ck_assert_uint_eq(md_flow_room(&fl, 5000000, 1, 10 * SEC), UINT64_MAX);
    /* Consumers of other subjects do not pace the replay. */
    ck_assert_int_eq(md_flow_report(&fl, "risk-management", "r1", "signals", "sig.>", 5, 0, NULL),
                     MD_FLOW_IGNORED);
    ck_assert_int_eq(md_flow_report(&fl, "x", "x1", "t", "md.tick.", 5, 0, NULL), MD_FLOW_IGNORED);
    ck_assert_uint_eq(md_flow_paced(&fl), 0);
    ck_assert_uint_eq(md_flow_room(&fl, 5000000, 1, 10 * SEC), UINT64_MAX);
    /* Window 0 switches flow control off even with consumers. */
    md_flow_init(&fl, 0, 5000 * MS);
    ck_assert_int_eq(rep("hist", "h1", 0, 0), MD_FLOW_COUNTED);
    md_flow_begin(&fl, 0);
    ck_assert_uint_eq(md_flow_room(&fl, 123456, 1, 0), UINT64_MAX);
}
END_TEST

START_TEST(flow_window_follows_slowest_service) {
    md_flow_init(&fl, WINDOW, 5000 * MS);
    /* Counts from before the replay are the baseline, not progress. */
    ck_assert_int_eq(rep("hist", "h1", 700, 0), MD_FLOW_COUNTED);
    ck_assert_int_eq(rep("sig", "s1", 50, 0), MD_FLOW_COUNTED);
    md_flow_begin(&fl, 0);
    ck_assert_uint_eq(md_flow_paced(&fl), 2);
    ck_assert_uint_eq(md_flow_room(&fl, 0, 1, 0), WINDOW);
    ck_assert_uint_eq(md_flow_room(&fl, 400, 1, MS), WINDOW - 400);
    ck_assert_uint_eq(md_flow_room(&fl, WINDOW, 1, MS), 0);
    rep("hist", "h1", 700 + 900, 2 * MS);
    rep("sig", "s1", 50 + 300, 2 * MS);
    ck_assert_uint_eq(md_flow_room(&fl, WINDOW, 1, 2 * MS), 300); /* sig is the slowest */
    rep("sig", "s1", 50 + 1000, 3 * MS);
    ck_assert_uint_eq(md_flow_room(&fl, WINDOW, 1, 3 * MS), 900); /* now hist */
    /* Published beyond the window (a batch bigger than the room): no room,
     * not a wrap-around. */
    ck_assert_uint_eq(md_flow_room(&fl, 5000, 1, 3 * MS), 0);
    /* Reports are cumulative: a repeated or older count changes nothing. */
    ck_assert_int_eq(rep("sig", "s1", 50 + 1000, 4 * MS), MD_FLOW_COUNTED);
    ck_assert_int_eq(rep("sig", "s1", 50 + 999, 4 * MS), MD_FLOW_BACKWARDS);
    ck_assert_uint_eq(fl.svc[1].progress, 1000);
}
END_TEST

START_TEST(flow_sums_instances_and_baselines_new_ones) {
    md_flow_init(&fl, WINDOW, 5000 * MS);
    rep("sig", "a", 100, 0);
    md_flow_begin(&fl, 0);
    rep("sig", "a", 400, MS);  /* +300 */
    rep("sig", "b", 9000, MS); /* first seen during the replay: counts from here */
    ck_assert_uint_eq(fl.svc[0].progress, 300);
    rep("sig", "b", 9250, 2 * MS); /* +250 */
    rep("sig", "c", 0, 2 * MS);
    rep("sig", "c", 50, 2 * MS); /* +50 */
    ck_assert_uint_eq(fl.svc[0].progress, 600);
    ck_assert_uint_eq(md_flow_room(&fl, 1000, 1, 2 * MS), 600);
    /* A second endpoint of the same instance is counted on its own. */
    ck_assert_int_eq(md_flow_report(&fl, "sig", "a", "quotes", "md.tick.*", 10, 2 * MS, NULL),
                     MD_FLOW_COUNTED);
    ck_assert_int_eq(md_flow_report(&fl, "sig", "a", "quotes", "md.tick.*", 30, 2 * MS, NULL),
                     MD_FLOW_COUNTED);
    ck_assert_uint_eq(fl.svc[0].progress, 620);
    ck_assert_uint_eq(fl.nsvc, 1);
    ck_assert_uint_eq(fl.ninst, 4);
    /* A new replay starts from the latest counts. */
    md_flow_begin(&fl, 3 * MS);
    ck_assert_uint_eq(fl.svc[0].progress, 0);
    ck_assert_uint_eq(md_flow_room(&fl, 0, 1, 3 * MS), WINDOW);
    rep("sig", "b", 9260, 4 * MS);
    ck_assert_uint_eq(fl.svc[0].progress, 10);
}
END_TEST

START_TEST(flow_stalled_service_dropped_and_readmitted) {
    md_flow_init(&fl, WINDOW, 5 * SEC);
    rep("hist", "h1", 0, 0);
    rep("sig", "s1", 0, 0);
    md_flow_begin(&fl, 0);
    rep("hist", "h1", 10000, SEC);
    rep("sig", "s1", 200, SEC); /* then sig dies */
    ck_assert_uint_eq(md_flow_room(&fl, 1200, 1, SEC), 0);
    /* The stall clock runs from when the window filled (or the last progress). */
    ck_assert_uint_eq(md_flow_room(&fl, 1200, 1, 5 * SEC), 0);
    ck_assert(!fl.svc[1].dropped);
    ck_assert_uint_eq(md_flow_room(&fl, 1200, 1, 6 * SEC - 1), 0);
    /* hist is ahead of the replay (it counts every tick it sees): full window. */
    ck_assert_uint_eq(md_flow_room(&fl, 1200, 1, 6 * SEC), WINDOW);
    ck_assert(fl.svc[1].dropped && fl.svc[1].just_dropped);
    ck_assert(!fl.svc[0].dropped);
    ck_assert_uint_eq(md_flow_paced(&fl), 1);
    /* Only hist paces now. */
    ck_assert_uint_eq(md_flow_room(&fl, 10500, 1, 7 * SEC), 500);
    /* A restarted sig worker (new instance) reports: sig is paced again,
     * with the backlog it had at the drop (lost with the worker) forgiven. */
    ck_assert_int_eq(rep("sig", "s2", 0, 8 * SEC), MD_FLOW_COUNTED);
    ck_assert(fl.svc[1].dropped); /* no progress yet */
    size_t idx = 99;
    ck_assert_int_eq(md_flow_report(&fl, "sig", "s2", "ticks", TICKS, 100, 8 * SEC, &idx),
                     MD_FLOW_RESUMED);
    ck_assert_uint_eq(idx, 1);
    ck_assert(!fl.svc[1].dropped && !fl.svc[1].just_dropped);
    ck_assert_uint_eq(fl.svc[1].progress, 300); /* the raw count still shows the loss */
    /* paced progress: 300 + the backlog of 1000 at the drop */
    ck_assert_uint_eq(md_flow_room(&fl, 10500, 1, 8 * SEC), 0);
    ck_assert_uint_eq(md_flow_room(&fl, 1300 + WINDOW, 1, 8 * SEC), 0);
    ck_assert_uint_eq(md_flow_room(&fl, 1300 + 400, 1, 8 * SEC), 600);
}
END_TEST

START_TEST(flow_progress_resets_stall_clock) {
    md_flow_init(&fl, WINDOW, 5 * SEC);
    rep("sig", "s1", 0, 0);
    md_flow_begin(&fl, 0);
    /* Window full for a long time, but the service keeps moving: never dropped. */
    uint64_t handled = 0, published = WINDOW;
    for (int64_t t = 0; t <= 60 * SEC; t += SEC) {
        ck_assert_uint_eq(md_flow_room(&fl, published, 1, t), 0);
        handled += 10;
        published += 10;
        rep("sig", "s1", handled, t);
    }
    ck_assert(!fl.svc[0].dropped);
    ck_assert_uint_eq(md_flow_paced(&fl), 1);
}
END_TEST

START_TEST(flow_stall_counts_when_the_batch_does_not_fit) {
    /* The window is not full (lag 900 < 1000) but a batch of 256 does not
     * fit: the replay is blocked, and a silent service is dropped. */
    md_flow_init(&fl, WINDOW, 5 * SEC);
    rep("sig", "s1", 0, 0);
    md_flow_begin(&fl, 0);
    rep("sig", "s1", 100, SEC);
    ck_assert_uint_eq(md_flow_room(&fl, 1000, 256, SEC), 100);
    ck_assert_uint_eq(md_flow_room(&fl, 1000, 256, 6 * SEC - 1), 100);
    ck_assert(!fl.svc[0].dropped);
    ck_assert_uint_eq(md_flow_room(&fl, 1000, 256, 6 * SEC), UINT64_MAX);
    ck_assert(fl.svc[0].dropped);
    ck_assert_uint_eq(fl.svc[0].backlog, 900);
    /* A batch that fits never starts the stall clock. */
    md_flow_begin(&fl, 10 * SEC);
    ck_assert_uint_eq(md_flow_room(&fl, 900, 100, 10 * SEC), 100);
    ck_assert_uint_eq(md_flow_room(&fl, 900, 100, 100 * SEC), 100);
    ck_assert(!fl.svc[0].dropped);
}
END_TEST

START_TEST(flow_tables_bounded) {
    md_flow_init(&fl, WINDOW, 5 * SEC);
    char svc[32], inst[32];
    for (int i = 0; i < MD_FLOW_MAX_SERVICES; i++) {
        snprintf(svc, sizeof svc, "svc%d", i);
        ck_assert_int_eq(rep(svc, "i", 1, 0), MD_FLOW_COUNTED);
    }
    ck_assert_int_eq(rep("one-too-many", "i", 1, 0), MD_FLOW_FULL);
    for (int i = MD_FLOW_MAX_SERVICES; i < MD_FLOW_MAX_INSTANCES; i++) {
        snprintf(inst, sizeof inst, "i%d", i);
        ck_assert_int_eq(rep("svc0", inst, 1, 0), MD_FLOW_COUNTED);
    }
    ck_assert_int_eq(rep("svc0", "last-straw", 1, 0), MD_FLOW_FULL);
    ck_assert_uint_eq(fl.ninst, MD_FLOW_MAX_INSTANCES);
    ck_assert_uint_eq(fl.nsvc, MD_FLOW_MAX_SERVICES);
}
END_TEST

int main(void) {
    Suite *s = suite_create("md_pace");
    TCase *tc = tcase_create("pace");
    tcase_add_test(tc, rate_offsets);
    tcase_add_test(tc, rate_due_matches_offsets);
    tcase_add_test(tc, replay_offsets);
    tcase_add_test(tc, rate_per_second);
    tcase_add_test(tc, flow_no_consumers_no_pacing);
    tcase_add_test(tc, flow_window_follows_slowest_service);
    tcase_add_test(tc, flow_sums_instances_and_baselines_new_ones);
    tcase_add_test(tc, flow_stalled_service_dropped_and_readmitted);
    tcase_add_test(tc, flow_progress_resets_stall_clock);
    tcase_add_test(tc, flow_stall_counts_when_the_batch_does_not_fit);
    tcase_add_test(tc, flow_tables_bounded);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
