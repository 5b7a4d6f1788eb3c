/* bus_js_publish_many: every message of a call gets its own stream
 * acknowledgement (a second copy of a Nats-Msg-Id too), a subject no stream
 * takes fails at once, not at the timeout, and calls of several threads on
 * one connection each get their own acknowledgements through the
 * connection's one reply subscription. */
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "tb_test.h"
#include "wire.h"

#define NMSG     50
#define THREADS  4
#define CALLS    25
#define PER_CALL 8

static bus_conn *conn;
static char run[32];

static void setup(void) {
    bus_config cfg;
    tb_test_config(&cfg, "js-publish-test");
    conn = tb_test_conn(&cfg);
    tb_error err = {0};
    ck_assert_msg(bus_js_ensure_streams(conn, &err) == TB_OK, "%s", err.message);
    tb_test_unique(run, sizeof run, "JP");
}

static void teardown(void) {
    bus_conn_close(conn);
    conn = NULL;
}

typedef struct batch {
    char subject[96];
    char ids[NMSG][64];
    char body[NMSG][32];
    bus_js_msg msgs[NMSG];
} batch;

/* n messages on subject (in the DLQ stream, which no service consumes). */
static void batch_init(batch *b, const char *subject, const char *tag, size_t n) {
    memset(b, 0, sizeof *b);
    snprintf(b->subject, sizeof b->subject, "%s", subject);
    for (size_t i = 0; i < n; i++) {
        snprintf(b->ids[i], sizeof b->ids[i], "%s-%s-%zu", run, tag, i);
        snprintf(b->body[i], sizeof b->body[i], "m%zu", i);
        b->msgs[i] = (bus_js_msg){.subject = b->subject,
                                  .data = b->body[i],
                                  .len = strlen(b->body[i]),
                                  .meta = {.msg_id = b->ids[i]}};
    }
}

START_TEST(each_message_acknowledged) {
    static batch b;
    char subject[96];
    snprintf(subject, sizeof subject, BUS_DLQ_PREFIX "jspub.%s", run);
    batch_init(&b, subject, "a", NMSG);
    tb_error err = {0};
    ck_assert_msg(bus_js_publish_many(conn, b.msgs, NMSG, 5000, &err) == TB_OK, "%s", err.message);
    for (size_t i = 0; i < NMSG; i++) ck_assert_int_eq(b.msgs[i].status, TB_OK);
    /* The same ids again: the stream drops them and still acknowledges. */
    batch_init(&b, subject, "a", NMSG);
    ck_assert_msg(bus_js_publish_many(conn, b.msgs, NMSG, 5000, &err) == TB_OK, "%s", err.message);
    for (size_t i = 0; i < NMSG; i++) ck_assert_int_eq(b.msgs[i].status, TB_OK);
}
END_TEST

START_TEST(no_stream_fails_at_once) {
    static batch b;
    char subject[96];
    snprintf(subject, sizeof subject, "tbtest.nostream.%s", run);
    batch_init(&b, subject, "n", 3);
    tb_error err = {0};
    int64_t t0 = tb_now_ns();
    tb_status s = bus_js_publish_many(conn, b.msgs, 3, 10000, &err);
    int64_t ms = (tb_now_ns() - t0) / 1000000;
    ck_assert_int_eq(s, TB_UNAVAILABLE);
    ck_assert_msg(ms < 5000, "took %lld ms: the call waited for its timeout", (long long)ms);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(b.msgs[i].status, TB_UNAVAILABLE);
        ck_assert_msg(strstr(b.msgs[i].error, "no stream takes") != NULL, "%s", b.msgs[i].error);
    }
}
END_TEST

typedef struct worker {
    pthread_t th;
    int index;
    bool to_nowhere; /* this thread's calls name a subject no stream takes */
    int calls_ok, calls_unavailable, other;
    int64_t slowest_ms;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    static batch bs[THREADS + 1];
    batch *b = &bs[w->index];
    for (int k = 0; k < CALLS; k++) {
        char subject[96], tag[32];
        if (w->to_nowhere)
            snprintf(subject, sizeof subject, "tbtest.nostream.%s.%d", run, w->index);
        else
            snprintf(subject, sizeof subject, BUS_DLQ_PREFIX "jspub.%s.%d", run, w->index);
        snprintf(tag, sizeof tag, "t%d-%d", w->index, k);
        batch_init(b, subject, tag, PER_CALL);
        tb_error err = {0};
        int64_t t0 = tb_now_ns();
        tb_status s = bus_js_publish_many(conn, b->msgs, PER_CALL, 10000, &err);
        int64_t ms = (tb_now_ns() - t0) / 1000000;
        if (ms > w->slowest_ms) w->slowest_ms = ms;
        bool all_ok = true, all_unavailable = true;
        for (size_t i = 0; i < PER_CALL; i++) {
            all_ok = all_ok && b->msgs[i].status == TB_OK;
            all_unavailable = all_unavailable && b->msgs[i].status == TB_UNAVAILABLE;
        }
        if (s == TB_OK && all_ok)
            w->calls_ok++;
        else if (s == TB_UNAVAILABLE && all_unavailable)
            w->calls_unavailable++;
        else
            w->other++;
    }
    return NULL;
}

START_TEST(threads_get_their_own_acknowledgements) {
    worker w[THREADS + 1];
    memset(w, 0, sizeof w);
    for (int i = 0; i <= THREADS; i++) {
        w[i].index = i;
        w[i].to_nowhere = i == THREADS;
        ck_assert_int_eq(pthread_create(&w[i].th, NULL, work, &w[i]), 0);
    }
    for (int i = 0; i <= THREADS; i++) pthread_join(w[i].th, NULL);
    for (int i = 0; i < THREADS; i++) {
        ck_assert_msg(w[i].calls_ok == CALLS, "thread %d: %d of %d calls acknowledged, %d other", i,
                      w[i].calls_ok, CALLS, w[i].other);
        ck_assert_msg(w[i].slowest_ms < 5000, "thread %d waited %lld ms", i,
                      (long long)w[i].slowest_ms);
    }
    ck_assert_msg(w[THREADS].calls_unavailable == CALLS, "%d of %d calls refused, %d other",
                  w[THREADS].calls_unavailable, CALLS, w[THREADS].other);
    ck_assert_msg(w[THREADS].slowest_ms < 5000, "a refused call waited %lld ms",
                  (long long)w[THREADS].slowest_ms);
}
END_TEST

int main(void) {
    Suite *s = suite_create("js_publish");
    TCase *tc = tcase_create("js_publish");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, each_message_acknowledged);
    tcase_add_test(tc, no_stream_fails_at_once);
    tcase_add_test(tc, threads_get_their_own_acknowledgements);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
