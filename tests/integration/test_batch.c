/* Batched endpoints of bus/ against a real NATS server: a core queue-group
 * subscription hands over what has queued up (batches grow under load, stay
 * at one message when idle), every valid message reaches the handler exactly
 * once, invalid ones are counted and left out, flow reports end at the
 * finished count; a JetStream endpoint acks per message, dead-letters the
 * message a handler fails alone and redelivers a batch that failed
 * transiently. Handlers only record; every assertion runs on the main thread. */
#include <nats/nats.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_test.h"
#include "wire.h"

#define N_TICKS   20000
#define N_BAD     5
#define BATCH_MAX 256
#define N_ORDERS  200

static char svc_name[64], tick_subject[128], order_subject[128], durable[96], flow_subject[128];

/* What the handlers saw (guarded by mu). */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char seen[N_TICKS + 2];
static size_t ticks_handled, max_batch, last_batch, batches;
static bool slept;
static unsigned char applied[N_ORDERS + 1];
static int stream_batches_failed;
static int flaky_applied;
static uint64_t flow_last;
/* Trace ids the handler read for the ticks TRACE_SEQ + k, twice each. */
#define TRACE_SEQ (N_TICKS + 100)
static char traces_read[2][2][TB_ID_CAP];

static tb_status on_ticks(bus_ctx *ctx, const bus_batch *b) {
    (void)ctx;
    if (!slept) { /* let a backlog form behind the first message */
        slept = true;
        usleep(200 * 1000);
    }
    pthread_mutex_lock(&mu);
    size_t n = bus_batch_len(b);
    for (size_t i = 0; i < n; i++) {
        const tb_tick *t = bus_batch_event(b, i);
        if (t->seq >= 1 && t->seq <= N_TICKS + 1 && seen[t->seq] < 255) seen[t->seq]++;
        if (t->seq == TRACE_SEQ || t->seq == TRACE_SEQ + 1)
            for (int k = 0; k < 2; k++)
                snprintf(traces_read[t->seq - TRACE_SEQ][k], TB_ID_CAP, "%s",
                         bus_batch_trace(b, i));
    }
    ticks_handled += n;
    batches++;
    last_batch = n;
    if (n > max_batch) max_batch = n;
    pthread_mutex_unlock(&mu);
    return TB_OK;
}

/* Order k applies once; "-poison" fails alone; the first batch holding
 * "-flaky" fails as a whole, transiently, and is applied on redelivery. */
static tb_status on_orders(bus_ctx *ctx, const bus_batch *b) {
    size_t n = bus_batch_len(b);
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n; i++) {
        const tb_order *o = bus_batch_event(b, i);
        if (strstr(o->order_id, "-flaky") && stream_batches_failed == 0) {
            stream_batches_failed++;
            pthread_mutex_unlock(&mu);
            return bus_fail(ctx, TB_UNAVAILABLE, NULL, "store briefly unavailable");
        }
    }
    for (size_t i = 0; i < n; i++) {
        const tb_order *o = bus_batch_event(b, i);
        if (strstr(o->order_id, "-poison")) {
            bus_batch_fail(b, i, TB_INVALID, "order %s cannot be applied", o->order_id);
            continue;
        }
        if (strstr(o->order_id, "-flaky")) {
            flaky_applied++;
            continue;
        }
        const char *dash = strrchr(o->order_id, '-');
        int k = dash ? atoi(dash + 1) : 0;
        if (k >= 1 && k <= N_ORDERS && applied[k] < 255) applied[k]++;
    }
    pthread_mutex_unlock(&mu);
    return TB_OK;
}

static bus_endpoint endpoints[2];
static bus_actor_def def = {
    .version = "1.0.0",
    .description = "batched endpoints test service",
    .endpoints = endpoints,
    .nendpoints = 2,
};

static bus_actor *actor;
static bus_conn *client;
static bus_sub *flow_sub;

static void on_flow(const bus_msg *m, void *arg) {
    (void)arg;
    tb_flow f;
    if (tb_decode(&tb_flow_desc, bus_msg_data(m), bus_msg_len(m), &f, NULL) != TB_OK) return;
    if (strcmp(f.endpoint, "ticks") != 0) return;
    pthread_mutex_lock(&mu);
    if (f.handled > flow_last) flow_last = f.handled;
    pthread_mutex_unlock(&mu);
}

static void setup(void) {
    tb_test_unique(svc_name, sizeof svc_name, "batchtest");
    snprintf(tick_subject, sizeof tick_subject, "test.%s.tick.*", svc_name);
    snprintf(order_subject, sizeof order_subject, "orders.new.%s", svc_name);
    snprintf(durable, sizeof durable, "bt-%s", svc_name);
    snprintf(flow_subject, sizeof flow_subject, BUS_FLOW_PREFIX "%s", svc_name);
    endpoints[0] = (bus_endpoint){.name = "ticks",
                                  .kind = BUS_EVENT,
                                  .subject = tick_subject,
                                  .event = &tb_tick_desc,
                                  .batch_handler = on_ticks,
                                  .batch_max = BATCH_MAX};
    endpoints[1] = (bus_endpoint){
        .name = "orders",
        .kind = BUS_STREAM,
        .subject = order_subject,
        .event = &tb_order_desc,
        .batch_handler = on_orders,
        .stream = {.stream = BUS_STREAM_ORDERS, .durable = durable, .max_deliver = 5, .batch = 64}};
    def.name = svc_name;
    bus_config cfg;
    tb_test_config(&cfg, svc_name);
    tb_error err = {0};
    client = tb_test_conn(&cfg);
    ck_assert_msg(bus_js_ensure_streams(client, &err) == TB_OK, "%s", err.message);
    ck_assert_int_eq(bus_subscribe(client, flow_subject, on_flow, NULL, &flow_sub, &err), TB_OK);
    ck_assert_int_eq(bus_actor_create(&def, &cfg, &actor, &err), TB_OK);
    tb_status s = bus_actor_start(actor, &err);
    ck_assert_msg(s == TB_OK, "start: %s", err.message);
}

static void teardown(void) {
    bus_actor_destroy(actor);
    actor = NULL;
    bus_unsubscribe(flow_sub);
    bus_conn_close(client);
}

static void publish_tick(uint64_t seq) {
    tb_tick t = {0};
    snprintf(t.symbol, sizeof t.symbol, "SYM%d", (int)(seq % 4));
    t.seq = seq;
    t.ts = tb_now_ns();
    t.last = (int64_t)(100 + seq % 7) * TB_FIXED_SCALE;
    char subject[160];
    snprintf(subject, sizeof subject, "test.%s.tick.%s", svc_name, t.symbol);
    ck_assert_int_eq(bus_publish(client, subject, &tb_tick_desc, &t, NULL), TB_OK);
}

static bool ticks_reached(void *arg) {
    size_t want = *(size_t *)arg;
    pthread_mutex_lock(&mu);
    bool ok = ticks_handled >= want;
    pthread_mutex_unlock(&mu);
    return ok;
}

static bool flow_reached(void *arg) {
    uint64_t want = *(uint64_t *)arg;
    pthread_mutex_lock(&mu);
    bool ok = flow_last >= want;
    pthread_mutex_unlock(&mu);
    return ok;
}

#define HELP_DECODE        "Messages rejected by the catalogue's validation"
#define HELP_REDELIVER     "Negative acks after transient failures"
#define HELP_DLQ           "Messages moved to the dead-letter stream"
#define HELP_PULL_REQUESTS "JetStream pull requests sent (an idle instance sends two a second)"

/* The value of the actor's counter name{endpoint}; help must be the family's. */
static int64_t metric(const char *name, const char *help, const char *endpoint) {
    return bus_series_value(
        bus_metrics_counter(bus_actor_metrics(actor), name, help, "endpoint", endpoint, NULL));
}

START_TEST(core_batches_grow_under_load_and_lose_nothing) {
    natsConnection *nc = bus_conn_nats(client);
    for (uint64_t seq = 1; seq <= N_TICKS; seq++) {
        publish_tick(seq);
        if (seq % 4000 == 0) { /* garbage among the ticks: counted, not handed over */
            char subject[160];
            snprintf(subject, sizeof subject, "test.%s.tick.BAD", svc_name);
            ck_assert_int_eq(natsConnection_Publish(nc, subject, "\x92\x01\x02", 3), NATS_OK);
        }
    }
    ck_assert_int_eq(bus_conn_flush(client, 5000), TB_OK);
    size_t want = N_TICKS;
    ck_assert_msg(tb_test_wait(ticks_reached, &want, 30000), "not every tick was handled");
    /* Copies under the lock, asserts after: a failed assertion must not
     * leave the handlers' lock held. */
    pthread_mutex_lock(&mu);
    uint64_t wrong_seq = 0;
    int wrong_count = 1;
    for (uint64_t seq = 1; seq <= N_TICKS && wrong_seq == 0; seq++)
        if (seen[seq] != 1) wrong_seq = seq, wrong_count = seen[seq];
    size_t handled = ticks_handled, biggest = max_batch, nbatches = batches;
    pthread_mutex_unlock(&mu);
    ck_assert_msg(wrong_seq == 0, "tick %llu seen %d times", (unsigned long long)wrong_seq,
                  wrong_count);
    ck_assert_uint_eq(handled, N_TICKS);
    ck_assert_msg(biggest > 1, "batches never grew (max %zu)", biggest);
    ck_assert_uint_le(biggest, BATCH_MAX);
    ck_assert_uint_lt(nbatches, N_TICKS);
    ck_assert_int_eq(metric("tb_decode_errors_total", HELP_DECODE, "ticks"), N_BAD);

    /* The finished count reaches bus.flow.<service>, invalid messages too. */
    uint64_t want_flow = N_TICKS + N_BAD;
    ck_assert_msg(tb_test_wait(flow_reached, &want_flow, 5000), "no flow report reached %llu",
                  (unsigned long long)want_flow);
    pthread_mutex_lock(&mu);
    uint64_t reported = flow_last;
    pthread_mutex_unlock(&mu);
    ck_assert_uint_eq(reported, want_flow);

    /* Idle: one message is a batch of one and is not held back. */
    int64_t t0 = bus_mono_ns();
    publish_tick(N_TICKS + 1);
    ck_assert_int_eq(bus_conn_flush(client, 5000), TB_OK);
    want = N_TICKS + 1;
    ck_assert(tb_test_wait(ticks_reached, &want, 5000));
    ck_assert_int_lt(bus_mono_ns() - t0, INT64_C(1000000000));
    pthread_mutex_lock(&mu);
    size_t idle_batch = last_batch;
    int idle_seen = seen[N_TICKS + 1];
    pthread_mutex_unlock(&mu);
    ck_assert_uint_eq(idle_batch, 1);
    ck_assert_int_eq(idle_seen, 1);
}
END_TEST

static bool orders_done(void *arg) {
    (void)arg;
    pthread_mutex_lock(&mu);
    bool ok = true;
    for (int k = 1; k <= N_ORDERS; k++) ok &= applied[k] >= 1;
    ok &= flaky_applied >= 1; /* published last: wait for its redelivery too */
    pthread_mutex_unlock(&mu);
    return ok;
}

static bool dead_lettered(void *arg) {
    (void)arg;
    return metric("tb_dead_letters_total", HELP_DLQ, "orders") >= 1;
}

START_TEST(stream_batches_settle_each_message) {
    tb_error err = {0};
    for (int k = 1; k <= N_ORDERS + 2; k++) {
        tb_order o = {0};
        if (k == N_ORDERS + 1)
            snprintf(o.order_id, sizeof o.order_id, "%s-poison", svc_name);
        else if (k == N_ORDERS + 2)
            snprintf(o.order_id, sizeof o.order_id, "%s-flaky", svc_name);
        else
            snprintf(o.order_id, sizeof o.order_id, "%s-%d", svc_name, k);
        snprintf(o.account, sizeof o.account, "%s", svc_name);
        snprintf(o.symbol, sizeof o.symbol, "DAX");
        snprintf(o.side, sizeof o.side, "buy");
        snprintf(o.type, sizeof o.type, "market");
        snprintf(o.tif, sizeof o.tif, "day");
        snprintf(o.source, sizeof o.source, "api");
        o.qty = TB_FIXED_SCALE;
        o.ts = tb_now_ns();
        bus_msg_meta meta = {.msg_id = o.order_id};
        ck_assert_msg(
            bus_js_publish(client, order_subject, &tb_order_desc, &o, &meta, NULL, &err) == TB_OK,
            "%s", err.message);
    }
    ck_assert_msg(tb_test_wait(orders_done, NULL, 30000), "not every order was applied");
    ck_assert_msg(tb_test_wait(dead_lettered, NULL, 10000),
                  "the poison order was not dead-lettered");
    pthread_mutex_lock(&mu);
    int failed_batches = stream_batches_failed;
    pthread_mutex_unlock(&mu);
    ck_assert_int_eq(failed_batches, 1);
    ck_assert_int_ge(metric("tb_redeliveries_requested_total", HELP_REDELIVER, "orders"), 1);
    /* Pull requests are counted (at least one per batch of 16 or fewer). */
    ck_assert_int_ge(metric("tb_pull_requests_total", HELP_PULL_REQUESTS, "orders"), 2);
    /* Acks reached the server: nothing of the durable is left unacknowledged
     * once the messages were applied (ack pending drains within the deadline). */
    jsCtx *js = bus_conn_js(client);
    int64_t deadline = bus_mono_ns() + INT64_C(10000000000);
    int64_t pending = -1;
    while (bus_mono_ns() < deadline) {
        jsConsumerInfo *ci = NULL;
        jsErrCode jerr = 0;
        ck_assert_int_eq(js_GetConsumerInfo(&ci, js, BUS_STREAM_ORDERS, durable, NULL, &jerr),
                         NATS_OK);
        pending = (int64_t)ci->NumAckPending + (int64_t)ci->NumPending;
        jsConsumerInfo_Destroy(ci);
        if (pending == 0) break;
        usleep(50 * 1000);
    }
    ck_assert_int_eq(pending, 0);
    pthread_mutex_lock(&mu);
    int most = 0;
    for (int k = 1; k <= N_ORDERS; k++) most = applied[k] > most ? applied[k] : most;
    pthread_mutex_unlock(&mu);
    ck_assert_int_le(most, 2); /* at least once; a redelivered batch at most twice */
    jsErrCode jerr = 0;
    (void)js_DeleteConsumer(js, BUS_STREAM_ORDERS, durable, NULL, &jerr);
}
END_TEST

static bool traces_were_read(void *arg) {
    (void)arg;
    pthread_mutex_lock(&mu);
    bool ok = traces_read[0][1][0] != '\0' && traces_read[1][1][0] != '\0';
    pthread_mutex_unlock(&mu);
    return ok;
}

/* A message's trace id is its Tb-Trace-Id header; one without headers gets
 * a new id, the same however often the handler asks. */
START_TEST(traces_from_headers_or_new) {
    tb_tick t = {0};
    snprintf(t.symbol, sizeof t.symbol, "SYM0");
    t.ts = tb_now_ns();
    t.last = 100 * TB_FIXED_SCALE;
    char subject[160];
    snprintf(subject, sizeof subject, "test.%s.tick.SYM0", svc_name);
    t.seq = TRACE_SEQ;
    bus_msg_meta meta = {.trace_id = "trace-of-a-tick"};
    ck_assert_int_eq(bus_publish(client, subject, &tb_tick_desc, &t, &meta), TB_OK);
    t.seq = TRACE_SEQ + 1;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    ck_assert_int_eq(tb_encode(&tb_tick_desc, &t, &buf, NULL), TB_OK);
    ck_assert_int_eq(
        natsConnection_Publish(bus_conn_nats(client), subject, buf.data, (int)buf.size), NATS_OK);
    msgpack_sbuffer_destroy(&buf);
    ck_assert_int_eq(bus_conn_flush(client, 5000), TB_OK);
    ck_assert_msg(tb_test_wait(traces_were_read, NULL, 10000), "the two ticks were not handled");
    pthread_mutex_lock(&mu);
    char got[2][2][TB_ID_CAP];
    memcpy(got, traces_read, sizeof got);
    pthread_mutex_unlock(&mu);
    ck_assert_str_eq(got[0][0], "trace-of-a-tick");
    ck_assert_str_eq(got[0][1], "trace-of-a-tick");
    ck_assert_msg(got[1][0][0] != '\0', "no trace id for a tick without headers");
    ck_assert_str_ne(got[1][0], "trace-of-a-tick");
    ck_assert_str_eq(got[1][1], got[1][0]);
}
END_TEST

int main(void) {
    Suite *s = suite_create("batch");
    TCase *tc = tcase_create("batch");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, core_batches_grow_under_load_and_lose_nothing);
    tcase_add_test(tc, stream_batches_settle_each_message);
    tcase_add_test(tc, traces_from_headers_or_new);
    suite_add_tcase(s, tc);
    return tb_test_run_suite(s);
}
