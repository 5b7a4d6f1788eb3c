/* Actor lifecycle: create, start (connect, subscribe), stop (drain), destroy,
 * and bus_actor_main with signal handling.
 *
 * Shutdown reverses startup: the endpoints stop taking work first (core
 * subscriptions drain, which delivers what is already queued to the handler;
 * fetch loops finish the message in hand), then the $SRV/health subscriptions,
 * then the service's stop hook, then the stores and connections close. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor_internal.h"
#include "pull.h"
#include "timer.h"
#include "wire.h"

void bus_actor_set_user(bus_actor *a, void *user) {
    a->user = user;
}
void *bus_actor_user(const bus_actor *a) {
    return a->user;
}
bus_conn *bus_actor_conn(bus_actor *a) {
    return a->conn;
}
bus_conn *bus_actor_bulk_conn(bus_actor *a) {
    return a->bulk ? a->bulk : a->conn;
}
bus_metrics *bus_actor_metrics(bus_actor *a) {
    return a->metrics;
}
const bus_config *bus_actor_config(const bus_actor *a) {
    return &a->cfg;
}
bus_pg_pool *bus_actor_pg(bus_actor *a) {
    return a->pg;
}
bus_redis_pool *bus_actor_redis(bus_actor *a) {
    return a->redis;
}
const char *bus_actor_instance(const bus_actor *a) {
    return a->cfg.instance;
}
bool bus_actor_stopping(const bus_actor *a) {
    return atomic_load(&((bus_actor *)a)->stopping);
}

void bus_actor_request_stop(bus_actor *a) {
    /* Only async-signal-safe work here: timers are woken by bus_actor_stop. */
    atomic_store(&a->stopping, true);
    char c = 's';
    ssize_t w = write(a->wake_pipe[1], &c, 1); /* async-signal-safe */
    (void)w;
}

static void init_endpoint_metrics(bus_actor *a, ep_state *e) {
    const char *n = e->ep->name;
    e->m_handled_ok = bus_metrics_counter(a->metrics, "tb_messages_total",
                                          "Messages handled, by endpoint and outcome", "endpoint",
                                          n, "outcome", "ok", NULL);
    e->m_handled_err = bus_metrics_counter(a->metrics, "tb_messages_total",
                                           "Messages handled, by endpoint and outcome", "endpoint",
                                           n, "outcome", "error", NULL);
    e->m_duration = bus_metrics_histogram(a->metrics, "tb_handler_duration_seconds",
                                          "Time spent handling a message", "endpoint", n, NULL);
    e->m_decode_errors =
        bus_metrics_counter(a->metrics, "tb_decode_errors_total",
                            "Messages rejected by the catalogue's validation", "endpoint", n, NULL);
    if (e->ep->partition_token > 0) {
        e->m_partitions = bus_metrics_gauge(a->metrics, "tb_partitions_owned",
                                            "Partitions of a partitioned endpoint this instance "
                                            "handles",
                                            "endpoint", n, NULL);
        e->m_part_skipped = bus_metrics_counter(
            a->metrics, "tb_partition_skipped_total",
            "Messages left to the instances owning their partition", "endpoint", n, NULL);
        e->m_part_lost = bus_metrics_counter(
            a->metrics, "tb_partition_members_lost_total",
            "Instances of the service seen expiring (gone without leaving the partition set)",
            "endpoint", n, NULL);
    }
    if (e->ep->batch_handler)
        e->m_batch_size = bus_metrics_size_histogram(
            a->metrics, "tb_batch_size", "Messages per batch handed to a batched endpoint",
            "endpoint", n, NULL);
    if (e->ep->kind == BUS_STREAM) {
        e->m_dead_letters =
            bus_metrics_counter(a->metrics, "tb_dead_letters_total",
                                "Messages moved to the dead-letter stream", "endpoint", n, NULL);
        e->m_redeliveries =
            bus_metrics_counter(a->metrics, "tb_redeliveries_requested_total",
                                "Negative acks after transient failures", "endpoint", n, NULL);
        e->m_pull_requests = bus_metrics_counter(
            a->metrics, "tb_pull_requests_total",
            "JetStream pull requests sent (an idle instance sends two a second)", "endpoint", n,
            NULL);
        e->m_pull_late = bus_metrics_counter(a->metrics, "tb_pull_late_statuses_total",
                                             "Statuses of pull requests already over, dropped",
                                             "endpoint", n, NULL);
        e->m_pending =
            bus_metrics_gauge(a->metrics, "tb_consumer_pending_messages",
                              "JetStream consumer lag: messages not yet delivered", "stream",
                              e->ep->stream.stream, "consumer", e->ep->stream.durable, NULL);
    }
}

tb_status bus_actor_create(const bus_actor_def *def, const bus_config *cfg, bus_actor **out,
                           tb_error *err) {
    bus_actor *a = calloc(1, sizeof *a);
    if (a == NULL) return tb_error_set(err, TB_NOMEM, NULL, NULL);
    a->def = def;
    a->cfg = *cfg;
    a->wake_pipe[0] = a->wake_pipe[1] = -1;
    pthread_mutex_init(&a->timer_lock, NULL);
    a->metrics = bus_metrics_create(def->name, cfg->instance);
    a->eps = calloc(def->nendpoints ? def->nendpoints : 1, sizeof *a->eps);
    if (a->metrics == NULL || a->eps == NULL || pipe2(a->wake_pipe, O_CLOEXEC) != 0) {
        bus_actor_destroy(a);
        return tb_error_set(err, TB_NOMEM, NULL, "cannot allocate the actor");
    }
    a->neps = def->nendpoints;
    for (size_t i = 0; i < a->neps; i++) {
        ep_state *e = &a->eps[i];
        e->ep = &def->endpoints[i];
        e->actor = a;
        pthread_mutex_init(&e->last_error_lock, NULL);
        if (e->ep->kind == BUS_STREAM &&
            (e->ep->stream.stream == NULL || e->ep->stream.durable == NULL)) {
            bus_actor_destroy(a);
            return tb_error_set(err, TB_INVALID, NULL, "endpoint %s: stream and durable required",
                                def->endpoints[i].name);
        }
        pthread_mutex_init(&e->batch_lock, NULL);
        const bus_endpoint *ep = e->ep;
        bool batched = ep->batch_handler != NULL;
        if ((batched && ep->handler != NULL) || (!batched && ep->handler == NULL)) {
            bus_actor_destroy(a);
            return tb_error_set(err, TB_INVALID, NULL, "endpoint %s: exactly one handler",
                                def->endpoints[i].name);
        }
        if (ep->partition_token > 0 && (!batched || ep->kind != BUS_EVENT || ep->every_instance ||
                                        !(def->needs & BUS_NEEDS_REDIS))) {
            bus_actor_destroy(a);
            return tb_error_set(err, TB_INVALID, NULL,
                                "endpoint %s: partitioning needs a batched event endpoint in a "
                                "queue group and Redis",
                                def->endpoints[i].name);
        }
        if (batched && (e->batch = bus_batch_create(e)) == NULL) {
            bus_actor_destroy(a);
            return tb_error_set(err, TB_NOMEM, NULL, "cannot allocate the batch of %s",
                                def->endpoints[i].name);
        }
        init_endpoint_metrics(a, e);
    }
    a->m_up = bus_metrics_gauge(a->metrics, "tb_up", "1 while the instance runs", NULL);
    *out = a;
    return TB_OK;
}

tb_status bus_actor_sys_subscribe(bus_actor *a, const char *subject, const char *queue,
                                  natsMsgHandler cb, tb_error *err) {
    if (a->nsys >= BUS_MAX_SYS_SUBS)
        return tb_error_set(err, TB_ERR, NULL, "too many system subscriptions");
    natsConnection *nc = bus_conn_nats(a->conn);
    natsStatus s =
        queue ? natsConnection_QueueSubscribe(&a->sys_subs[a->nsys], nc, subject, queue, cb, a)
              : natsConnection_Subscribe(&a->sys_subs[a->nsys], nc, subject, cb, a);
    if (s != NATS_OK)
        return tb_error_set(err, bus_status_from_nats(s), NULL, "subscribe %s: %s", subject,
                            natsStatus_GetText(s));
    a->nsys++;
    return TB_OK;
}

/* Creates the durable pull consumer when missing and binds e->pull to it.
 * Also called by the fetch loop when the server no longer knows the
 * consumer (a JetStream store that lost it): the loop binds again and goes
 * on instead of failing forever. */
tb_status bus_stream_bind(bus_actor *a, ep_state *e, tb_error *err) {
    const bus_stream_opts *o = &e->ep->stream;
    jsCtx *js = bus_conn_js(a->conn);
    jsErrCode jerr = 0;
    jsConsumerInfo *ci = NULL;
    natsStatus s = js_GetConsumerInfo(&ci, js, o->stream, o->durable, NULL, &jerr);
    if (s != NATS_OK) {
        jsConsumerConfig cc;
        jsConsumerConfig_Init(&cc);
        cc.Durable = o->durable;
        cc.AckPolicy = js_AckExplicit;
        cc.AckWait = (o->ack_wait_ms > 0 ? o->ack_wait_ms : 30000) * INT64_C(1000000);
        cc.MaxDeliver = (o->max_deliver > 0 ? o->max_deliver : 10) + 1; /* we dead-letter first */
        cc.FilterSubject = e->ep->subject;
        cc.DeliverPolicy = o->deliver_new ? js_DeliverNew : js_DeliverAll;
        cc.MaxAckPending = 10000;
        s = js_AddConsumer(&ci, js, o->stream, &cc, NULL, &jerr);
        if (s != NATS_OK && jerr != JSConsumerNameExistErr)
            return tb_error_set(err, TB_UNAVAILABLE, NULL, "create consumer %s on %s: %s (%d)",
                                o->durable, o->stream, natsStatus_GetText(s), (int)jerr);
    }
    jsConsumerInfo_Destroy(ci);
    bus_pull *pull = NULL;
    s = bus_pull_open(&pull, bus_conn_nats(a->conn), o->stream, o->durable,
                      bus_dispatch_stream_batch(e), BUS_PULL_EXPIRES_MS);
    if (s != NATS_OK)
        return tb_error_set(err, TB_UNAVAILABLE, NULL, "bind consumer %s: %s", o->durable,
                            natsStatus_GetText(s));
    bus_pull_close(e->pull); /* the binding a lost consumer left */
    e->pull = pull;
    return TB_OK;
}

bool bus_stream_lost(bus_actor *a, ep_state *e) {
    jsErrCode jerr = 0;
    jsConsumerInfo *ci = NULL;
    natsStatus s = js_GetConsumerInfo(&ci, bus_conn_js(a->conn), e->ep->stream.stream,
                                      e->ep->stream.durable, NULL, &jerr);
    jsConsumerInfo_Destroy(ci);
    return s != NATS_OK && (jerr == JSConsumerNotFoundErr || jerr == JSStreamNotFoundErr);
}

static tb_status subscribe_stream(bus_actor *a, ep_state *e, tb_error *err) {
    tb_status st = bus_stream_bind(a, e, err);
    if (st != TB_OK) return st;
    if (pthread_create(&e->fetcher, NULL, bus_dispatch_fetch_loop, e) != 0)
        return tb_error_set(err, TB_NOMEM, NULL, "cannot start the fetch thread");
    e->fetcher_started = true;
    return TB_OK;
}

static tb_status subscribe_endpoint(bus_actor *a, ep_state *e, tb_error *err) {
    if (e->ep->kind == BUS_STREAM) return subscribe_stream(a, e, err);
    natsConnection *nc = bus_conn_nats(a->conn);
    natsMsgHandler cb = e->ep->batch_handler ? bus_dispatch_core_batch : bus_dispatch_core;
    /* A partitioned endpoint hears every message and keeps its partitions. */
    natsStatus s =
        (e->ep->kind == BUS_EVENT && (e->ep->every_instance || e->ep->partition_token > 0))
            ? natsConnection_Subscribe(&e->sub, nc, e->ep->subject, cb, e)
            : natsConnection_QueueSubscribe(&e->sub, nc, e->ep->subject, a->def->name, cb, e);
    /* Ticks arrive in bursts: allow a deep queue before the client drops. */
    if (s == NATS_OK) s = natsSubscription_SetPendingLimits(e->sub, 1000000, 512 * 1024 * 1024);
    if (s != NATS_OK)
        return tb_error_set(err, bus_status_from_nats(s), NULL, "subscribe %s: %s", e->ep->subject,
                            natsStatus_GetText(s));
    return TB_OK;
}

tb_status bus_actor_start(bus_actor *a, tb_error *err) {
    const bus_actor_def *d = a->def;
    bus_log_init(d->name, a->cfg.instance, a->cfg.log_level);
    bus_conn_opts co = {.name = d->name, .send_asap = true};
    tb_status s = bus_conn_open(&a->cfg, &co, &a->conn, err);
    if (s == TB_OK && d->bulk_publisher) {
        char name[96];
        snprintf(name, sizeof name, "%s-bulk", d->name);
        bus_conn_opts bo = {.name = name, .send_asap = false};
        s = bus_conn_open(&a->cfg, &bo, &a->bulk, err);
    }
    if (s == TB_OK)
        s = bus_config_require(&a->cfg, (d->needs & BUS_NEEDS_PG) != 0,
                               (d->needs & BUS_NEEDS_REDIS) != 0, err);
    if (s == TB_OK && (d->needs & BUS_NEEDS_PG))
        s = bus_pg_pool_create(a->cfg.database_url, &a->pg, err);
    if (s == TB_OK && (d->needs & BUS_NEEDS_REDIS))
        s = bus_redis_pool_create(a->cfg.redis_url, &a->redis, err);
    bool needs_streams = (d->needs & BUS_NEEDS_STREAMS) != 0;
    for (size_t i = 0; i < a->neps; i++) needs_streams |= a->eps[i].ep->kind == BUS_STREAM;
    if (s == TB_OK && needs_streams) s = bus_js_ensure_streams(a->conn, err);
    if (s == TB_OK && d->start) s = d->start(a, err);
    if (s != TB_OK) return s;
    atomic_store(&a->started, true);
    a->started_wall_ns = tb_now_ns();
    bool batched = false;
    for (size_t i = 0; i < a->neps; i++) batched |= a->eps[i].ep->batch_handler != NULL;
    /* A quiet batched endpoint's last count reaches flow-controlled replays. */
    if (s == TB_OK && batched)
        s = bus_actor_add_timer(a, "flow-report", 50, bus_batch_flow_tick, NULL, NULL, err);
    if (s == TB_OK)
        s = bus_actor_add_timer(a, "memory-trim", BUS_MEMORY_TRIM_MS, bus_memory_trim_tick, NULL,
                                NULL, err);
    if (s == TB_OK) s = bus_partition_start(a, err);
    for (size_t i = 0; s == TB_OK && i < a->neps; i++) s = subscribe_endpoint(a, &a->eps[i], err);
    if (s == TB_OK) s = bus_micro_subscribe(a, err);
    if (s == TB_OK) s = bus_health_subscribe(a, err);
    if (s == TB_OK) s = bus_conn_flush(a->conn, 5000);
    if (s != TB_OK) return s;
    bus_gauge_set(a->m_up, 1);
    bus_log(BUS_LOG_INFO, "%s %s started: %zu endpoints", d->name, d->version, a->neps);
    return TB_OK;
}

static void drain_wait(natsSubscription *sub, int64_t timeout_ms) {
    if (sub == NULL) return;
    natsStatus s = natsSubscription_WaitForDrainCompletion(sub, timeout_ms);
    if (s != NATS_OK) bus_log(BUS_LOG_WARN, "drain did not complete: %s", natsStatus_GetText(s));
}

void bus_actor_stop(bus_actor *a) {
    if (a == NULL || atomic_exchange(&a->stopped, true)) return;
    atomic_store(&a->stopping, true);
    if (!atomic_load(&a->started)) {
        bus_timers_stop(a); /* def.start may have added timers before failing */
        return;
    }
    int64_t t = a->cfg.shutdown_timeout_ms;
    bus_log(BUS_LOG_INFO, "stopping: draining %zu endpoints", a->neps);
    /* 0. partitioned endpoints hand their partitions over while still
     * handling them, so no partition is left without an owner */
    bus_partition_leave(a);
    /* 1. stop taking work; queued messages still reach their handlers */
    for (size_t i = 0; i < a->neps; i++)
        if (a->eps[i].sub && a->eps[i].ep->kind != BUS_STREAM)
            (void)natsSubscription_Drain(a->eps[i].sub);
    /* 2. fetch loops see `stopping`, finish the message in hand, nak the rest */
    for (size_t i = 0; i < a->neps; i++)
        if (a->eps[i].fetcher_started) pthread_join(a->eps[i].fetcher, NULL);
    for (size_t i = 0; i < a->neps; i++)
        if (a->eps[i].ep->kind != BUS_STREAM) drain_wait(a->eps[i].sub, t);
    for (size_t i = 0; i < a->neps; i++)
        if (a->eps[i].ep->kind != BUS_STREAM) bus_batch_flush(&a->eps[i]);
    bus_batch_flow_tick(a, NULL); /* the final counts */
    /* 3. background work ends before the connections it uses */
    bus_timers_stop(a);
    /* 4. then stop answering $SRV and health */
    for (int i = 0; i < a->nsys; i++) (void)natsSubscription_Drain(a->sys_subs[i]);
    for (int i = 0; i < a->nsys; i++) drain_wait(a->sys_subs[i], 2000);
    bus_gauge_set(a->m_up, 0);
    if (a->def->stop) a->def->stop(a);
    /* replies and acks must reach the server before the connection closes */
    if (a->conn && bus_conn_flush(a->conn, 2000) != TB_OK)
        bus_log(BUS_LOG_WARN, "final flush failed: the last replies or acks may be lost");
    if (a->bulk && bus_conn_flush(a->bulk, 2000) != TB_OK)
        bus_log(BUS_LOG_WARN, "final flush of the bulk connection failed");
    bus_log(BUS_LOG_INFO, "stopped cleanly");
}

void bus_actor_destroy(bus_actor *a) {
    if (a == NULL) return;
    bus_actor_stop(a);
    for (size_t i = 0; i < a->neps; i++) {
        natsSubscription_Destroy(a->eps[i].sub);
        bus_pull_close(a->eps[i].pull); /* NULL once its fetch loop ended */
        pthread_mutex_destroy(&a->eps[i].last_error_lock);
        pthread_mutex_destroy(&a->eps[i].batch_lock);
        bus_batch_destroy(a->eps[i].batch);
    }
    for (int i = 0; i < a->nsys; i++) natsSubscription_Destroy(a->sys_subs[i]);
    bus_conn_close(a->bulk);
    bus_conn_close(a->conn);
    bus_pg_pool_destroy(a->pg);
    bus_redis_pool_destroy(a->redis);
    bus_metrics_destroy(a->metrics);
    pthread_mutex_destroy(&a->timer_lock);
    if (a->wake_pipe[0] >= 0) close(a->wake_pipe[0]);
    if (a->wake_pipe[1] >= 0) close(a->wake_pipe[1]);
    free(a->eps);
    free(a);
}

/* ---- main ---- */

static bus_actor *signal_target;

static void on_signal(int sig) {
    (void)sig;
    if (signal_target) bus_actor_request_stop(signal_target);
}

static void usage(const bus_actor_def *d, FILE *f) {
    /* The program's own name: tb-gateway serves the actor api-gateway. */
    fprintf(f, "Usage: %s [--help] [--version]\n\n%s\n\n", program_invocation_short_name,
            d->description);
    fprintf(f, "Endpoints:\n");
    for (size_t i = 0; i < d->nendpoints; i++) {
        const bus_endpoint *e = &d->endpoints[i];
        static const char *const kinds[] = {"request", "event", "stream"};
        fprintf(f, "  %-8s %-28s %s\n", kinds[e->kind], e->subject,
                e->event ? e->event->name : "(raw)");
    }
    fprintf(f, "\n");
    bus_config_usage(f);
    if (d->usage) {
        fprintf(f, "\nService settings (environment):\n");
        d->usage(f);
    }
    fprintf(f, "\nStops gracefully on SIGTERM/SIGINT: drains, finishes in-flight work, exits 0.\n");
}

static void wait_for_stop(bus_actor *a) {
    char buf[16];
    while (!atomic_load(&a->stopping)) {
        ssize_t r = read(a->wake_pipe[0], buf, sizeof buf);
        if (r < 0 && errno != EINTR) break;
    }
}

int bus_actor_main(const bus_actor_def *def, int argc, char **argv) {
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(def, stdout);
            return 0;
        }
        if (c == 'V') {
            printf("%s %s\n", def->name, def->version);
            return 0;
        }
        usage(def, stderr);
        return 2;
    }
    bus_memory_init();
    tb_error err = {0};
    bus_config cfg;
    if (bus_config_load(&cfg, def->name, &err) != TB_OK ||
        bus_config_require(&cfg, (def->needs & BUS_NEEDS_PG) != 0,
                           (def->needs & BUS_NEEDS_REDIS) != 0, &err) != TB_OK) {
        bus_log_init(def->name, "", BUS_LOG_INFO);
        bus_log(BUS_LOG_ERROR, "bad configuration: %s", err.message);
        return 2;
    }
    bus_log_init(def->name, cfg.instance, cfg.log_level);
    bus_actor *a = NULL;
    if (bus_actor_create(def, &cfg, &a, &err) != TB_OK) {
        bus_log(BUS_LOG_ERROR, "%s", err.message);
        return 1;
    }
    signal_target = a;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = 0;
    tb_status s = bus_actor_start(a, &err);
    if (s != TB_OK) {
        bus_log(BUS_LOG_ERROR, "cannot start: %s", err.message);
        rc = s == TB_INVALID ? 2 : 1;
    } else {
        if (def->run) def->run(a);
        wait_for_stop(a);
    }
    bus_actor_stop(a);
    signal_target = NULL;
    bus_actor_destroy(a);
    nats_CloseAndWait(5000);
    return rc;
}
