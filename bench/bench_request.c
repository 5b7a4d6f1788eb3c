/* request: request-reply latency, and where nats.c 3.4's flusher wait
 * (DESIGN §10) lands in it.
 *
 * A bus_actor runs in this process with one BUS_REQUEST endpoint that
 * replies with the tb_tick it received (the runtime decodes, validates,
 * times and encodes as for any service; its connection is send_asap, as
 * every actor's main connection is). Clients send bus_request one after
 * another and time each call:
 *   client send_asap=false -> actor   (baseline) nats.c's default client
 *   client send_asap=true  -> actor
 * nats.c writes a request to the socket at once whatever the setting
 * (natsConnection_RequestMsg flushes directly), so these two differ little.
 * The wait is on the other side: a reply is an ordinary publish, which on a
 * send_asap=false connection waits for the background flusher (it sleeps
 * 1 ms before writing). Two plain nats.c responders that echo the request
 * bytes, without the actor's decode and encode, show it:
 *   client send_asap=true -> nats.c echo, responder send_asap=true
 *   client send_asap=true -> nats.c echo, responder send_asap=false
 * The ratio is the baseline's p50 over the variant's p50. The last variant
 * sends a fifth as many requests per round (each costs about 1 ms). */
#include <nats/nats.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define WARMUP 200

static tb_status on_echo(bus_ctx *ctx, const void *ev) {
    return bus_reply(ctx, &tb_tick_desc, ev);
}

/* The plain responders: the request's bytes straight back. */
static void on_raw_echo(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *arg) {
    (void)sub;
    (void)arg;
    const char *reply = natsMsg_GetReply(m);
    /* A failed reply shows as the client's timeout, which fails the round. */
    if (reply != NULL &&
        natsConnection_Publish(nc, reply, natsMsg_GetData(m), natsMsg_GetDataLength(m)) != NATS_OK)
        bus_log(BUS_LOG_WARN, "bench echo: reply failed");
    natsMsg_Destroy(m);
}

typedef struct raw_echo {
    bus_conn *conn;
    natsSubscription *sub;
} raw_echo;

static bool raw_echo_start(raw_echo *e, const bench_opts *o, const char *subject, bool asap,
                           tb_error *err) {
    if (bus_conn_open(&o->cfg, &(bus_conn_opts){.name = "bench-echo", .send_asap = asap}, &e->conn,
                      err) != TB_OK)
        return false;
    natsConnection *nc = bus_conn_nats(e->conn);
    natsStatus s = natsConnection_Subscribe(&e->sub, nc, subject, on_raw_echo, NULL);
    if (s == NATS_OK) s = natsConnection_FlushTimeout(nc, 5000);
    if (s != NATS_OK) tb_error_set(err, TB_UNAVAILABLE, NULL, "echo: %s", natsStatus_GetText(s));
    return s == NATS_OK;
}

static void raw_echo_stop(raw_echo *e) {
    if (e->sub) {
        (void)natsSubscription_Unsubscribe(e->sub); /* closing the connection follows anyway */
        natsSubscription_Destroy(e->sub);
    }
    bus_conn_close(e->conn);
}

/* n sequential requests on c, each timed into variant v of g. */
static bool run_round(bench_group *g, size_t v, bus_conn *c, const char *subject, size_t n,
                      bool record, char *why, size_t cap) {
    tb_tick req, rep;
    memset(&req, 0, sizeof req);
    snprintf(req.symbol, sizeof req.symbol, "DAX");
    req.last = 18000 * TB_FIXED_SCALE;
    tb_error err = {0};
    int64_t t0 = bus_mono_ns();
    for (size_t i = 0; i < n; i++) {
        req.seq = i + 1;
        req.ts = t0;
        int64_t s0 = bus_mono_ns();
        tb_status s =
            bus_request(c, subject, &tb_tick_desc, &req, &tb_tick_desc, &rep, 5000, NULL, &err);
        int64_t s1 = bus_mono_ns();
        if (s != TB_OK || rep.seq != req.seq) {
            snprintf(why, cap, "request %zu: %s %.160s", i, tb_status_code(s), err.message);
            return false;
        }
        if (record) bench_latency(g, v, s1 - s0);
    }
    if (record) bench_record(g, v, n, bus_mono_ns() - t0);
    return true;
}

bool bench_request(const bench_opts *o) {
    static const char *const names[] = {"client send_asap=false -> actor",
                                        "client send_asap=true -> actor",
                                        "client asap -> nats.c echo, responder asap",
                                        "client asap -> nats.c echo, responder buffered"};
    enum { NV = 4 };
    const bool client_asap[NV] = {false, true, true, true};
    /* The buffered responder costs about 1 ms a request: a fifth as many. */
    size_t n_fast = bench_count(o, 3000, 20);
    const size_t n[NV] = {n_fast, n_fast, n_fast, n_fast / 5 > 0 ? n_fast / 5 : 1};

    char actor_subject[128], asap_subject[128], buffered_subject[128], svc[64];
    bench_subject(actor_subject, sizeof actor_subject, "echo");
    bench_subject(asap_subject, sizeof asap_subject, "raw-echo-asap");
    bench_subject(buffered_subject, sizeof buffered_subject, "raw-echo-buffered");
    const char *subject[NV] = {actor_subject, actor_subject, asap_subject, buffered_subject};
    snprintf(svc, sizeof svc, "bench-echo-%ld", (long)getpid());
    bus_endpoint ep = {.name = "echo",
                       .kind = BUS_REQUEST,
                       .subject = actor_subject,
                       .event = &tb_tick_desc,
                       .handler = on_echo};
    bus_actor_def def = {.name = svc,
                         .version = "0.1.0",
                         .description = "tb-bench echo service",
                         .endpoints = &ep,
                         .nendpoints = 1};
    bus_config cfg = o->cfg;
    snprintf(cfg.service, sizeof cfg.service, "%s", svc);
    bus_actor *actor = NULL;
    bus_conn *client[NV] = {NULL};
    raw_echo echo_asap = {0}, echo_buffered = {0};
    tb_error err = {0};
    bool ok = bus_actor_create(&def, &cfg, &actor, &err) == TB_OK &&
              bus_actor_start(actor, &err) == TB_OK &&
              raw_echo_start(&echo_asap, o, asap_subject, true, &err) &&
              raw_echo_start(&echo_buffered, o, buffered_subject, false, &err);
    for (size_t v = 0; ok && v < NV; v++)
        ok = bus_conn_open(&o->cfg,
                           &(bus_conn_opts){.name = "bench-client", .send_asap = client_asap[v]},
                           &client[v], &err) == TB_OK;
    if (!ok)
        printf("%-10s FAILED: %s (are the servers running? scripts/servers start)\n", "request",
               err.message);
    bench_group g;
    char title[96];
    snprintf(title, sizeof title, "bus_request of a tb_tick, %zu sequential requests per round",
             n_fast);
    if (ok && !bench_group_init(&g, "request", title, BENCH_RATIO_P50, names, NV, o->reps, n_fast))
        ok = false;
    if (ok) {
        char why[256];
        for (size_t v = 0; v < NV; v++)
            if (!run_round(&g, v, client[v], subject[v], WARMUP, false, why, sizeof why))
                bench_fail(&g, v, "warm-up: %s", why);
        for (int r = 0; r < o->reps; r++)
            for (size_t v = 0; v < NV; v++)
                if (!g.v[v].failed &&
                    !run_round(&g, v, client[v], subject[v], n[v], true, why, sizeof why))
                    bench_fail(&g, v, "%s", why);
        ok = bench_print_group(&g);
        bench_group_free(&g);
    }
    for (size_t v = 0; v < NV; v++) bus_conn_close(client[v]);
    raw_echo_stop(&echo_asap);
    raw_echo_stop(&echo_buffered);
    if (actor) bus_actor_stop(actor);
    bus_actor_destroy(actor);
    return ok;
}
