/* market-data replay resends: the ring keeps the last ticks in publish
 * order, the budget grants a bounded number of rounds, and md_flow asks
 * for a round on a stall before it drops the service (fake clock). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "md_pace.h"
#include "md_resend.h"

#define MS INT64_C(1000000)

static void ticks_from(tb_tick *t, size_t n, uint64_t first_seq) {
    for (size_t i = 0; i < n; i++) {
        memset(&t[i], 0, sizeof t[i]);
        snprintf(t[i].symbol, sizeof t[i].symbol, "S%zu", i % 3);
        t[i].seq = first_seq + i;
    }
}

/* A flow of window 1000 and stall time 100 ms, and a ring r holding ten
 * ticks (the caller frees both). */
static md_flow *flow_with_ring(md_resend_ring *r) {
    md_flow *f = calloc(1, sizeof *f);
    ck_assert_ptr_nonnull(f);
    md_flow_init(f, 1000, 100 * MS);
    ck_assert(md_resend_init(r, 2000));
    tb_tick t[10];
    ticks_from(t, 10, 1);
    md_resend_push(r, t, 10);
    return f;
}

START_TEST(capacity_is_two_windows) {
    ck_assert_uint_eq(md_resend_capacity(20000), 40000);
    ck_assert_uint_eq(md_resend_capacity(256), 512);
    ck_assert_uint_eq(md_resend_capacity(0), 0);
    ck_assert_uint_eq(md_resend_capacity(100000000), MD_RESEND_MAX_TICKS); /* bounded */
    md_resend_ring r;
    ck_assert(!md_resend_init(&r, 0)); /* no ring: no resends */
    ck_assert_uint_eq(r.count, 0);
    md_resend_push(&r, NULL, 0);
    ck_assert_ptr_null(md_resend_at(&r, 0));
    md_resend_free(&r);
}
END_TEST

START_TEST(ring_keeps_the_last_in_order) {
    md_resend_ring r;
    ck_assert(md_resend_init(&r, 5));
    tb_tick t[12];
    ticks_from(t, 12, 1);
    md_resend_push(&r, t, 3); /* 1 2 3 */
    ck_assert_uint_eq(r.count, 3);
    ck_assert_uint_eq(md_resend_at(&r, 0)->seq, 1);
    ck_assert_uint_eq(md_resend_at(&r, 2)->seq, 3);
    ck_assert_ptr_null(md_resend_at(&r, 3));
    md_resend_push(&r, t + 3, 4); /* 1..7: keeps 3..7 */
    ck_assert_uint_eq(r.count, 5);
    for (size_t i = 0; i < 5; i++) ck_assert_uint_eq(md_resend_at(&r, i)->seq, 3 + i);
    ck_assert_str_eq(md_resend_at(&r, 0)->symbol, "S2");
    md_resend_push(&r, t, 12); /* longer than the ring: the last 5 */
    for (size_t i = 0; i < 5; i++) ck_assert_uint_eq(md_resend_at(&r, i)->seq, 8 + i);
    md_resend_free(&r);
    ck_assert_ptr_null(r.ticks);
}
END_TEST

START_TEST(budget_is_bounded_and_shared) {
    md_resend_ring r;
    ck_assert(md_resend_init(&r, 4));
    md_resend_budget b;
    md_resend_budget_init(&b, 2);
    ck_assert(!md_resend_request(&b, &r)); /* empty ring: nothing to resend */
    ck_assert_uint_eq(md_resend_take(&b, &r), 0);
    tb_tick t[3];
    ticks_from(t, 3, 1);
    md_resend_push(&r, t, 3);
    ck_assert(md_resend_request(&b, &r));
    ck_assert(md_resend_request(&b, &r)); /* a second stall shares the pending round */
    ck_assert_uint_eq(b.left, 1);
    ck_assert_uint_eq(md_resend_take(&b, &r), 3);
    ck_assert_uint_eq(md_resend_take(&b, &r), 0); /* taken once */
    ck_assert(md_resend_request(&b, &r));
    ck_assert_uint_eq(md_resend_take(&b, &r), 3);
    ck_assert(!md_resend_request(&b, &r)); /* used up */
    ck_assert_uint_eq(b.done, 2);
    ck_assert_uint_eq(b.resent, 6);
    md_resend_free(&r);
}
END_TEST

/* A consumer that lost ticks stalls: md_flow asks for a resend instead of
 * dropping it, restarts its timer, and drops it only when the rounds are
 * gone. */
START_TEST(stall_resends_before_dropping) {
    md_flow *f = calloc(1, sizeof *f);
    ck_assert_ptr_nonnull(f);
    md_flow_init(f, 1000, 100 * MS);
    md_resend_ring r;
    ck_assert(md_resend_init(&r, md_resend_capacity(1000)));
    tb_tick t[256];
    ticks_from(t, 256, 1);
    md_resend_push(&r, t, 256);
    ck_assert_int_eq(md_flow_report(f, "hist", "h1", "ticks", "md.tick.>", 0, 0, NULL),
                     MD_FLOW_COUNTED);
    md_flow_begin(f, 0);
    md_flow_resend_arm(f, &r, 2);
    /* 1000 published, 100 finished: the next 256 do not fit. */
    md_flow_report(f, "hist", "h1", "ticks", "md.tick.>", 100, 10 * MS, NULL);
    uint64_t published = 1000;
    ck_assert_uint_eq(md_flow_room(f, published, 256, 20 * MS), 100);
    ck_assert_uint_eq(md_resend_take(&f->resend, &r), 0); /* not stalled yet */
    md_flow_room(f, published, 256, 130 * MS);
    ck_assert(f->svc[0].just_stalled);
    ck_assert(!f->svc[0].dropped);
    ck_assert_uint_eq(md_resend_take(&f->resend, &r), 256);
    published += 256;
    md_flow_resent(f, 140 * MS);
    /* Its backlog was forgiven; the resent ticks wait to be finished, and
     * the timer starts again at the resend. */
    ck_assert_uint_eq(md_flow_room(f, published, 256, 200 * MS), 1000 - 256);
    ck_assert(!f->svc[0].dropped);
    ck_assert_uint_eq(md_resend_take(&f->resend, &r), 0);
    /* The consumer reports the resent ticks as finished: nothing left. */
    md_flow_report(f, "hist", "h1", "ticks", "md.tick.>", 100 + 256, 210 * MS, NULL);
    ck_assert_uint_eq(md_flow_room(f, published, 256, 215 * MS), 1000);
    /* It loses again and the window fills: a second round, then, with
     * the rounds used up, it is dropped. */
    published += 900;
    ck_assert_uint_eq(md_flow_room(f, published, 256, 220 * MS), 100);
    md_flow_room(f, published, 256, 320 * MS);
    ck_assert_uint_eq(md_resend_take(&f->resend, &r), 256);
    published += 256;
    md_flow_resent(f, 330 * MS);
    published += 900 - 256;
    md_flow_room(f, published, 256, 340 * MS);
    ck_assert(!f->svc[0].dropped);
    md_flow_room(f, published, 256, 440 * MS);
    ck_assert(f->svc[0].dropped);
    ck_assert(f->svc[0].just_dropped);
    ck_assert_uint_eq(md_resend_take(&f->resend, &r), 0);
    ck_assert_uint_eq(f->resend.done, 2);
    md_resend_free(&r);
    free(f);
}
END_TEST

/* A service without a live worker (nothing finished since the replay
 * began, or since its last round) is dropped without spending a round. */
START_TEST(gone_service_is_not_resent) {
    md_resend_ring r;
    md_flow *f = flow_with_ring(&r);
    md_flow_report(f, "gone", "g1", "ticks", "md.tick.>", 50, 0, NULL);
    md_flow_report(f, "live", "l1", "ticks", "md.tick.>", 0, 0, NULL);
    md_flow_begin(f, 0);
    md_flow_resend_arm(f, &r, 3);
    md_flow_report(f, "live", "l1", "ticks", "md.tick.>", 100, 10 * MS, NULL);
    md_flow_room(f, 1000, 256, 20 * MS);
    md_flow_room(f, 1000, 256, 130 * MS);
    ck_assert(f->svc[0].dropped);      /* gone: finished nothing in this replay */
    ck_assert(f->svc[1].just_stalled); /* live: lost ticks, gets a round */
    ck_assert_uint_eq(md_resend_take(&f->resend, &r), 10);
    f->svc[1].just_stalled = false;
    md_flow_resent(f, 140 * MS);
    /* It finishes none of the resent ticks: its worker is gone too. */
    md_flow_room(f, 1010 + 900, 256, 150 * MS);
    md_flow_room(f, 1010 + 900, 256, 260 * MS);
    ck_assert(f->svc[1].dropped);
    ck_assert_uint_eq(f->resend.done, 1);
    ck_assert_uint_eq(f->resend.left, 2);
    md_resend_free(&r);
    free(f);
}
END_TEST

/* At the end, the first report of an instance first seen during the
 * replay counts as done: a fresh worker is not short by its first batch. */
START_TEST(end_counts_first_reports) {
    md_flow *f = calloc(1, sizeof *f);
    ck_assert_ptr_nonnull(f);
    md_flow_init(f, 1000, 100 * MS);
    md_flow_begin(f, 0);
    md_flow_report(f, "hist", "h1", "ticks", "md.tick.>", 256, 5 * MS, NULL); /* first seen */
    md_flow_report(f, "hist", "h1", "ticks", "md.tick.>", 600, 6 * MS, NULL);
    ck_assert_uint_eq(md_flow_room(f, 600, 256, 10 * MS), 1000 - 256); /* pacing leaves it out */
    md_flow_end(f);
    ck_assert_uint_eq(md_flow_room(f, 600, 1000, 10 * MS), 1000);
    md_flow_begin(f, 20 * MS); /* the next replay: known from the start */
    md_flow_report(f, "hist", "h1", "ticks", "md.tick.>", 700, 25 * MS, NULL);
    md_flow_end(f);
    ck_assert_uint_lt(md_flow_room(f, 200, 1000, 30 * MS), 1000);
    free(f);
}
END_TEST

/* At the end of the input a service short of everything published stalls
 * with a want of a whole window (lag 0 is needed), and gets a round. */
START_TEST(end_waits_for_every_tick) {
    md_resend_ring r;
    md_flow *f = flow_with_ring(&r);
    md_flow_report(f, "sp", "s1", "ticks", "md.tick.>", 0, 0, NULL);
    md_flow_report(f, "hist", "h1", "ticks", "md.tick.>", 0, 0, NULL);
    md_flow_begin(f, 0);
    md_flow_resend_arm(f, &r, 3);
    md_flow_end(f);
    md_flow_report(f, "sp", "s1", "ticks", "md.tick.>", 10, 5 * MS, NULL);
    md_flow_report(f, "hist", "h1", "ticks", "md.tick.>", 7, 5 * MS, NULL);
    ck_assert_uint_lt(md_flow_room(f, 10, 1000, 10 * MS), 1000); /* hist is 3 short */
    md_flow_room(f, 10, 1000, 120 * MS);
    ck_assert(f->svc[1].just_stalled);
    ck_assert(!f->svc[0].just_stalled);
    ck_assert_uint_eq(md_resend_take(&f->resend, &r), 10);
    f->svc[1].just_stalled = false; /* announced */
    md_flow_resent(f, 121 * MS);
    /* Both finish the 10 resent ticks; hist's 3 lost ones were among them. */
    ck_assert_uint_lt(md_flow_room(f, 20, 1000, 125 * MS), 1000);
    md_flow_report(f, "sp", "s1", "ticks", "md.tick.>", 20, 130 * MS, NULL);
    md_flow_report(f, "hist", "h1", "ticks", "md.tick.>", 17, 130 * MS, NULL);
    ck_assert_uint_eq(md_flow_room(f, 20, 1000, 140 * MS), 1000);
    ck_assert_uint_eq(f->resend.done, 1);
    /* Both short at the end, sp idle too when hist stalls: one round
     * heals both. */
    md_flow_report(f, "sp", "s1", "ticks", "md.tick.>", 28, 150 * MS, NULL);
    md_flow_report(f, "hist", "h1", "ticks", "md.tick.>", 26, 160 * MS, NULL);
    ck_assert_uint_lt(md_flow_room(f, 30, 1000, 170 * MS), 1000);
    md_flow_room(f, 30, 1000, 265 * MS); /* neither stalled yet */
    ck_assert(!f->svc[0].just_stalled && !f->svc[1].just_stalled);
    md_flow_room(f, 30, 1000, 275 * MS); /* hist full since 170: stalled; sp idle 125 ms */
    ck_assert(f->svc[1].just_stalled);
    ck_assert(f->svc[0].just_stalled);
    ck_assert_uint_eq(f->svc[0].backlog, 2);
    ck_assert_uint_eq(f->svc[1].backlog, 1); /* 3 forgiven at the first round */
    ck_assert_uint_eq(md_resend_take(&f->resend, &r), 10);
    md_flow_resent(f, 280 * MS);
    md_flow_report(f, "sp", "s1", "ticks", "md.tick.>", 38, 290 * MS, NULL);
    md_flow_report(f, "hist", "h1", "ticks", "md.tick.>", 36, 290 * MS, NULL);
    ck_assert_uint_eq(md_flow_room(f, 40, 1000, 300 * MS), 1000);
    ck_assert_uint_eq(f->resend.done, 2);
    /* Disarmed (the replay ended): a stall drops at once again. */
    md_flow_resend_arm(f, NULL, 0);
    md_flow_room(f, 50, 1000, 310 * MS);
    md_flow_room(f, 50, 1000, 420 * MS);
    ck_assert(f->svc[0].dropped && f->svc[1].dropped);
    md_resend_free(&r);
    free(f);
}
END_TEST

/* An instance that reports a member lost (another instance of its service
 * expired, its partitions taken over) asks for a round at once, while the
 * service keeps moving and nothing stalls, without spending the stalls'
 * rounds; a report within MD_FLOW_LOST_COALESCE_NS of the last round is
 * covered by it. The first report of an instance is only the baseline
 * (entries that expired before it took part); without a ring nothing is
 * asked for. */
START_TEST(lost_member_resends_at_once) {
    md_resend_ring r;
    md_flow *f = flow_with_ring(&r);
    md_flow_report(f, "hist", "h1", "ticks", "md.tick.>", 0, 0, NULL);
    ck_assert(!md_flow_members_lost(f, "hist", "h1", "ticks", 2, 0)); /* baseline */
    md_flow_report(f, "sp", "s1", "ticks", "md.tick.>", 0, 0, NULL);
    ck_assert(!md_flow_members_lost(f, "sp", "s1", "ticks", 0, 0));
    ck_assert(!md_flow_members_lost(f, "nobody", "n1", "ticks", 5, 0)); /* not tracked */
    md_flow_begin(f, 0);
    /* Not armed: counted, nothing asked for. */
    md_flow_report(f, "hist", "h1", "ticks", "md.tick.>", 100, 5 * MS, NULL);
    ck_assert(!md_flow_members_lost(f, "hist", "h1", "ticks", 3, 5 * MS));
    md_flow_resend_arm(f, &r, 2);
    ck_assert(!md_flow_members_lost(f, "hist", "h1", "ticks", 3, 6 * MS)); /* unchanged */
    ck_assert(!f->resend.requested);
    md_flow_report(f, "hist", "h1", "ticks", "md.tick.>", 200, 10 * MS, NULL);
    ck_assert(md_flow_members_lost(f, "hist", "h1", "ticks", 4, 10 * MS));
    ck_assert(f->svc[0].just_lost);
    ck_assert(!f->svc[1].just_lost);
    ck_assert(f->resend.requested);
    /* sp reports its own loss before the round went out: the same round. */
    ck_assert(md_flow_members_lost(f, "sp", "s1", "ticks", 1, 11 * MS));
    ck_assert(f->svc[1].just_lost);
    /* Room as before: the service moves; the round goes out all the same. */
    ck_assert_uint_eq(md_flow_room(f, 250, 256, 11 * MS), 1000 - 250);
    ck_assert_uint_eq(md_resend_take(&f->resend, &r), 10);
    md_flow_resent(f, 12 * MS);
    ck_assert_uint_eq(f->resend.left, 2); /* the stalls' rounds are all left */
    /* A later report of the same loss, within the coalescing time: covered. */
    ck_assert(
        !md_flow_members_lost(f, "hist", "h1", "ticks", 5, 12 * MS + MD_FLOW_LOST_COALESCE_NS - 1));
    ck_assert(!f->resend.requested);
    /* Another loss later: another round. */
    ck_assert(
        md_flow_members_lost(f, "hist", "h1", "ticks", 6, 12 * MS + MD_FLOW_LOST_COALESCE_NS));
    ck_assert_uint_eq(md_resend_take(&f->resend, &r), 10);
    ck_assert_uint_eq(f->resend.done, 2);
    ck_assert_uint_eq(f->resend.left, 2);
    /* Disarmed: nothing. */
    md_flow_resend_arm(f, NULL, 0);
    ck_assert(!md_flow_members_lost(f, "hist", "h1", "ticks", 7, 900 * MS));
    md_resend_free(&r);
    free(f);
}
END_TEST

int main(void) {
    Suite *s = suite_create("md_resend");
    TCase *tc = tcase_create("resend");
    tcase_add_test(tc, capacity_is_two_windows);
    tcase_add_test(tc, ring_keeps_the_last_in_order);
    tcase_add_test(tc, budget_is_bounded_and_shared);
    tcase_add_test(tc, stall_resends_before_dropping);
    tcase_add_test(tc, gone_service_is_not_resent);
    tcase_add_test(tc, end_waits_for_every_tick);
    tcase_add_test(tc, end_counts_first_reports);
    tcase_add_test(tc, lost_member_resends_at_once);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
