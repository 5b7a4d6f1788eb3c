/* bus/pull.c against a real NATS server: a status that arrives for a pull
 * request already over (a 408 that came late) ends no other request, so an
 * idle consumer keeps sending one request per expiry however many such
 * statuses it gets; a message that arrives while an instance waits is handed
 * over at once, not when the batch is full; a satisfied request is renewed
 * before its batch is handled; closing hands back what was already sent for
 * the pending request; a deleted consumer is reported. Pullers run in
 * threads and only record; assertions run on the main thread. */
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pull.h"
#include "tb_test.h"

#define EXPIRES_MS  500
#define N_PULLERS   3
#define MAX_REPLIES 4096

static bus_conn *client;
static char stream[64], subject[96], durable[64], next_subject[200];

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every pull request the server got: its reply subject and when. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char reply[128];
    int64_t at_ms;
} replies[MAX_REPLIES];
static int nreplies;
static natsSubscription *request_tap;

static void on_request(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *arg) {
    (void)nc, (void)sub, (void)arg;
    pthread_mutex_lock(&mu);
    if (nreplies < MAX_REPLIES && natsMsg_GetReply(m)) {
        snprintf(replies[nreplies].reply, sizeof replies[0].reply, "%s", natsMsg_GetReply(m));
        replies[nreplies].at_ms = now_ms();
        nreplies++;
    }
    pthread_mutex_unlock(&mu);
    natsMsg_Destroy(m);
}

static int requests_seen(void) {
    pthread_mutex_lock(&mu);
    int n = nreplies;
    pthread_mutex_unlock(&mu);
    return n;
}

static void setup(void) {
    bus_config cfg;
    tb_test_config(&cfg, "test-pull");
    client = tb_test_conn(&cfg);
    char u[48];
    tb_test_unique(u, sizeof u, "p");
    snprintf(stream, sizeof stream, "TESTPULL_%s", u);
    snprintf(subject, sizeof subject, "testpull.%s.x", u);
    snprintf(durable, sizeof durable, "puller-%s", u);
    snprintf(next_subject, sizeof next_subject, "$JS.API.CONSUMER.MSG.NEXT.%s.%s", stream, durable);
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = stream;
    const char *subjects[] = {subject};
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_MemoryStorage;
    jsErrCode jerr = 0;
    ck_assert_int_eq(js_AddStream(NULL, bus_conn_js(client), &sc, NULL, &jerr), NATS_OK);
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = durable;
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = INT64_C(30000) * 1000000; /* a message not handed back waits this long */
    cc.FilterSubject = subject;
    ck_assert_int_eq(js_AddConsumer(NULL, bus_conn_js(client), stream, &cc, NULL, &jerr), NATS_OK);
    nreplies = 0;
    ck_assert_int_eq(natsConnection_Subscribe(&request_tap, bus_conn_nats(client), next_subject,
                                              on_request, NULL),
                     NATS_OK);
    ck_assert_int_eq(natsConnection_Flush(bus_conn_nats(client)), NATS_OK);
}

static void teardown(void) {
    natsSubscription_Destroy(request_tap);
    request_tap = NULL;
    jsErrCode jerr = 0;
    (void)js_DeleteStream(bus_conn_js(client), stream, NULL, &jerr);
    bus_conn_close(client);
    client = NULL;
}

static void publish_stamped(void) {
    char body[32];
    int n = snprintf(body, sizeof body, "%lld", (long long)now_ms());
    jsErrCode jerr = 0;
    ck_assert_int_eq(js_Publish(NULL, bus_conn_js(client), subject, body, n, NULL, &jerr), NATS_OK);
}

/* A puller thread: fetches until told to stop, acks and records. */
typedef struct puller {
    pthread_t th;
    bus_pull *pull;
    atomic_bool stop;
    atomic_int received;
    atomic_llong max_wait_ms; /* publish -> handed over, for stamped messages */
    atomic_int errors;
    char last_error[128]; /* read after the thread is joined */
} puller;

static void *pull_loop(void *arg) {
    puller *p = arg;
    natsMsg *msgs[64];
    while (!atomic_load(&p->stop)) {
        int n = 0;
        char why[128];
        natsStatus s = bus_pull_fetch(p->pull, msgs, &n, why, sizeof why);
        if (s != NATS_OK) {
            snprintf(p->last_error, sizeof p->last_error, "%s", why);
            atomic_fetch_add(&p->errors, 1);
            usleep(50 * 1000);
            continue;
        }
        int64_t t = now_ms();
        for (int i = 0; i < n; i++) {
            long long stamp = atoll(natsMsg_GetData(msgs[i]) ? natsMsg_GetData(msgs[i]) : "0");
            if (stamp > 0 && t - stamp > atomic_load(&p->max_wait_ms))
                atomic_store(&p->max_wait_ms, t - stamp);
            TB_BG_CHECK(bus_js_ack(bus_conn_nats(client), msgs[i], false, 0) == NATS_OK,
                        "ack failed");
            natsMsg_Destroy(msgs[i]);
        }
        atomic_fetch_add(&p->received, n);
    }
    return NULL;
}

static void start_pullers(puller *ps, int n, int batch) {
    for (int i = 0; i < n; i++) {
        memset(&ps[i], 0, sizeof ps[i]);
        ck_assert_int_eq(
            bus_pull_open(&ps[i].pull, bus_conn_nats(client), stream, durable, batch, EXPIRES_MS),
            NATS_OK);
        ck_assert_int_eq(pthread_create(&ps[i].th, NULL, pull_loop, &ps[i]), 0);
    }
}

static void stop_pullers(puller *ps, int n, bus_pull_stats *sum) {
    memset(sum, 0, sizeof *sum);
    for (int i = 0; i < n; i++) {
        atomic_store(&ps[i].stop, true);
        pthread_join(ps[i].th, NULL);
        bus_pull_stats st;
        bus_pull_get_stats(ps[i].pull, &st);
        sum->requests += st.requests;
        sum->stale_dropped += st.stale_dropped;
        sum->expired += st.expired;
        bus_pull_close(ps[i].pull);
    }
}

/* A 408 as the server sends it when a request expires: no payload, the
 * status code in the Status header. */
static void send_status(const char *reply) {
    natsMsg *m = NULL;
    ck_assert_int_eq(natsMsg_Create(&m, reply, NULL, NULL, 0), NATS_OK);
    ck_assert_int_eq(natsMsgHeader_Set(m, "Status", "408"), NATS_OK);
    ck_assert_int_eq(natsMsgHeader_Set(m, "Description", "Request Timeout"), NATS_OK);
    ck_assert_int_eq(natsConnection_PublishMsg(bus_conn_nats(client), m), NATS_OK);
    natsMsg_Destroy(m);
}

/* Three idle instances get 408s for requests that ended long ago, 50 a second
 * for 1.5 s. With one reply subject for every request (nats.c's Fetch) each
 * such status ends the fetch in progress and leaves its request pending, and
 * afterwards the instances spin through the pile of requests; here the
 * statuses are dropped and the request rate stays one per expiry. */
START_TEST(late_statuses_end_no_request) {
    puller ps[N_PULLERS];
    start_pullers(ps, N_PULLERS, 64);
    usleep(800 * 1000);
    int64_t until = now_ms() + 1500;
    while (now_ms() < until) {
        char old[N_PULLERS * 8][128];
        int nold = 0;
        pthread_mutex_lock(&mu);
        for (int i = nreplies - 1; i >= 0 && nold < N_PULLERS * 8; i--)
            if (now_ms() - replies[i].at_ms > EXPIRES_MS + 200)
                snprintf(old[nold++], sizeof old[0], "%s", replies[i].reply);
        pthread_mutex_unlock(&mu);
        for (int i = 0; i < nold; i++) send_status(old[i]);
        usleep(20 * 1000);
    }
    usleep(300 * 1000);
    int before = requests_seen();
    usleep(2000 * 1000);
    int during = requests_seen() - before;
    bus_pull_stats sum;
    stop_pullers(ps, N_PULLERS, &sum);
    tb_test_bg_assert();
    ck_assert_uint_gt(sum.stale_dropped, 100); /* the statuses did arrive */
    /* Idle: one request per instance per 490 ms, about 12 in 2 s. */
    ck_assert_int_le(during, N_PULLERS * 6);
    ck_assert_int_ge(during, N_PULLERS * 2);
    for (int i = 0; i < N_PULLERS; i++) ck_assert_int_eq(atomic_load(&ps[i].errors), 0);
}
END_TEST

/* Messages published 50 ms apart reach a waiting instance at once (a fetch
 * that waited for a full batch would hold each for the request's 500 ms),
 * each exactly once over three instances, with about one request each. */
START_TEST(arrivals_handed_over_at_once) {
    puller ps[N_PULLERS];
    start_pullers(ps, N_PULLERS, 64);
    usleep(200 * 1000);
    int before = requests_seen();
    for (int i = 0; i < 20; i++) {
        publish_stamped();
        usleep(50 * 1000);
    }
    usleep(300 * 1000);
    int requests = requests_seen() - before;
    bus_pull_stats sum;
    stop_pullers(ps, N_PULLERS, &sum);
    tb_test_bg_assert();
    int received = 0;
    long long max_wait = 0;
    for (int i = 0; i < N_PULLERS; i++) {
        received += atomic_load(&ps[i].received);
        if (atomic_load(&ps[i].max_wait_ms) > max_wait) max_wait = atomic_load(&ps[i].max_wait_ms);
    }
    ck_assert_int_eq(received, 20);
    ck_assert_int_lt(max_wait, 100);
    /* A request per message taken plus the idle ones (two a second each):
     * about 28; an instance asking again at once when others' requests
     * cover a message would send hundreds. */
    ck_assert_int_le(requests, 45);
}
END_TEST

/* Fetches from p, acking every message, until `want` arrived or timeout_ms
 * passed; returns how many arrived (*fetches, if given: the calls made). */
static int take(bus_pull *p, int want, int64_t timeout_ms, int *fetches) {
    natsMsg *msgs[256]; /* room for any batch these tests ask for */
    int received = 0;
    int64_t until = now_ms() + timeout_ms;
    while (received < want && now_ms() < until) {
        int n = 0;
        char why[128];
        ck_assert_int_eq(bus_pull_fetch(p, msgs, &n, why, sizeof why), NATS_OK);
        for (int i = 0; i < n; i++) {
            ck_assert_int_eq(bus_js_ack(bus_conn_nats(client), msgs[i], false, 0), NATS_OK);
            natsMsg_Destroy(msgs[i]);
        }
        received += n;
        if (fetches) (*fetches)++;
    }
    return received;
}

/* A backlog is read in full batches with about one request per batch: the
 * next request goes out as soon as one is satisfied. */
START_TEST(backlog_read_a_request_per_batch) {
    for (int i = 0; i < 1000; i++) publish_stamped();
    bus_pull *p = NULL;
    ck_assert_int_eq(bus_pull_open(&p, bus_conn_nats(client), stream, durable, 50, EXPIRES_MS),
                     NATS_OK);
    int fetches = 0;
    int received = take(p, 1000, 10000, &fetches);
    bus_pull_stats st;
    bus_pull_get_stats(p, &st);
    bus_pull_close(p);
    ck_assert_int_eq(received, 1000);
    ck_assert_uint_le(st.requests, 1000 / 50 + 2);
    ck_assert_int_ge(fetches, 1000 / 50);
}
END_TEST

/* Closing an instance hands back what the server had sent for its pending
 * request: another instance gets it at once instead of after the 30 s ack
 * wait. */
START_TEST(close_hands_back_what_was_sent) {
    for (int i = 0; i < 300; i++) publish_stamped();
    bus_pull *a = NULL;
    ck_assert_int_eq(bus_pull_open(&a, bus_conn_nats(client), stream, durable, 100, EXPIRES_MS),
                     NATS_OK);
    natsMsg *msgs[200]; /* a fetch may bring up to a batch */
    int n = 0, got = 0;
    char why[128];
    int64_t until = now_ms() + 5000;
    while (got < 100 && now_ms() < until) {
        ck_assert_int_eq(bus_pull_fetch(a, msgs + got, &n, why, sizeof why), NATS_OK);
        got += n;
    }
    ck_assert_int_eq(got, 100); /* a full batch: the next request is out */
    for (int i = 0; i < got; i++) {
        ck_assert_int_eq(bus_js_ack(bus_conn_nats(client), msgs[i], true, 2000), NATS_OK);
        natsMsg_Destroy(msgs[i]);
    }
    usleep(200 * 1000); /* the second batch arrives at a */
    bus_pull_close(a);
    bus_pull *b = NULL;
    ck_assert_int_eq(bus_pull_open(&b, bus_conn_nats(client), stream, durable, 100, EXPIRES_MS),
                     NATS_OK);
    int rest = take(b, 200, 3000, NULL);
    bus_pull_close(b);
    ck_assert_int_eq(rest, 200);
}
END_TEST

/* A consumer deleted under a waiting instance is reported, not waited on:
 * the server ends the pending request with a 409. */
static bool puller_failed(void *arg) {
    return atomic_load(&((puller *)arg)->errors) > 0;
}

START_TEST(deleted_consumer_reported) {
    puller p;
    start_pullers(&p, 1, 10);
    usleep(200 * 1000); /* its request is pending */
    jsErrCode jerr = 0;
    ck_assert_int_eq(js_DeleteConsumer(bus_conn_js(client), stream, durable, NULL, &jerr), NATS_OK);
    bool reported = tb_test_wait(puller_failed, &p, 2000);
    bus_pull_stats st;
    stop_pullers(&p, 1, &st);
    ck_assert(reported);
    ck_assert_str_eq(p.last_error, "409 Consumer Deleted");
}
END_TEST

int main(void) {
    Suite *s = suite_create("pull");
    TCase *tc = tcase_create("pull");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, late_statuses_end_no_request);
    tcase_add_test(tc, arrivals_handed_over_at_once);
    tcase_add_test(tc, backlog_read_a_request_per_batch);
    tcase_add_test(tc, close_hands_back_what_was_sent);
    tcase_add_test(tc, deleted_consumer_reported);
    suite_add_tcase(s, tc);
    return tb_test_run_suite(s);
}
