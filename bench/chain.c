/* tb-bench-chain: the measuring half of `scripts/bench chain`, the end-to-end
 * tick chain benchmark. scripts/bench starts the servers and the services,
 * writes the tick file and enables the strategies; this program
 *
 *   replay   asks market-data to replay FILE at speed 0 (api.market.replay)
 *            and times, from that request, until every service with an
 *            endpoint on md.tick.* has finished N ticks more than before the
 *            replay (their endpoints' num_requests in $SRV.STATS, summed over
 *            every instance, polled every 50 ms), then until the whole chain
 *            is quiet (no endpoint of any service handled anything for 2 s:
 *            signals, orders, fills and positions are booked);
 *   anchor   times N messages of the same size as an encoded tick from a
 *            bare nats.c publisher to a bare nats.c subscriber (core NATS, no
 *            catalogue, no store): the bus speed the chain is compared with.
 *
 *   $ tb-bench-chain replay FILE N SOURCE MAX_S   (NATS_URL from scripts/env)
 *   $ tb-bench-chain anchor N
 *
 * Output: `key value` lines (scripts/bench turns them into the report).
 * A consumer that stops short of N (ticks lost: a slow consumer's core NATS
 * buffer overflowed) is reported with what it finished once nothing moved for
 * 20 s, and one still working after MAX_S seconds with what it finished by
 * then (its rate is then that of the MAX_S seconds). Exit 0 when the run completed (even short), 1
 * on errors, 2 on usage. */
#include <jansson.h>
#include <nats/nats.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor.h"

#define POLL_NS        (50 * INT64_C(1000000))
#define STATS_WAIT_MS  150
#define QUIET_NS       (2 * INT64_C(1000000000))
#define GIVE_UP_NS     (20 * INT64_C(1000000000))
#define MAX_INSTANCES  64
#define MAX_SERVICES   16
#define ANCHOR_WAIT_NS (60 * INT64_C(1000000000))

/* One instance's counters from its $SRV.STATS reply. */
typedef struct inst_count {
    char service[TB_TOKEN_CAP];
    char id[TB_TOKEN_CAP];
    uint64_t ticks; /* num_requests of its md.tick.* endpoints */
    uint64_t all;   /* num_requests of every endpoint */
} inst_count;

typedef struct census {
    inst_count v[MAX_INSTANCES];
    size_t n;
} census;

/* Asks every instance of every service for its stats and waits STATS_WAIT_MS
 * for the replies. */
static bool take_census(natsConnection *nc, census *out) {
    memset(out, 0, sizeof *out);
    natsInbox *inbox = NULL;
    natsSubscription *sub = NULL;
    if (natsInbox_Create(&inbox) != NATS_OK) return false;
    bool ok = natsConnection_SubscribeSync(&sub, nc, inbox) == NATS_OK &&
              natsConnection_PublishRequest(nc, "$SRV.STATS", inbox, "", 0) == NATS_OK &&
              natsConnection_Flush(nc) == NATS_OK;
    int64_t until = bus_mono_ns() + STATS_WAIT_MS * INT64_C(1000000);
    while (ok) {
        int64_t left = (until - bus_mono_ns()) / 1000000;
        if (left <= 0) break;
        natsMsg *m = NULL;
        if (natsSubscription_NextMsg(&m, sub, left) != NATS_OK) break;
        json_error_t jerr;
        json_t *r = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, &jerr);
        const char *name = json_string_value(json_object_get(r, "name"));
        const char *id = json_string_value(json_object_get(r, "id"));
        json_t *eps = json_object_get(r, "endpoints");
        if (name && id && json_is_array(eps) && out->n < MAX_INSTANCES) {
            inst_count *c = &out->v[out->n++];
            snprintf(c->service, sizeof c->service, "%s", name);
            snprintf(c->id, sizeof c->id, "%s", id);
            size_t i;
            json_t *ep;
            json_array_foreach(eps, i, ep) {
                const char *subj = json_string_value(json_object_get(ep, "subject"));
                uint64_t k = (uint64_t)json_integer_value(json_object_get(ep, "num_requests"));
                c->all += k;
                if (subj && strncmp(subj, "md.tick.", 8) == 0) c->ticks += k;
            }
        }
        json_decref(r);
        natsMsg_Destroy(m);
    }
    natsSubscription_Destroy(sub);
    natsInbox_Destroy(inbox);
    return ok;
}

static const inst_count *find(const census *c, const inst_count *like) {
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].id, like->id) == 0 && strcmp(c->v[i].service, like->service) == 0)
            return &c->v[i];
    return NULL;
}

/* Per service: ticks finished since base (instances missing from base count
 * from 0), and every endpoint's messages in all. */
typedef struct svc_progress {
    char name[TB_TOKEN_CAP];
    int instances;
    uint64_t ticks, all;
    int64_t done_ns; /* when ticks reached the goal, 0 = not yet */
} svc_progress;

static size_t progress_of(const census *base, const census *now, svc_progress *out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < now->n; i++) {
        const inst_count *c = &now->v[i], *b = find(base, c);
        size_t k = 0;
        while (k < n && strcmp(out[k].name, c->service) != 0) k++;
        if (k == n) {
            if (n == cap) continue;
            memset(&out[n], 0, sizeof out[n]);
            snprintf(out[n].name, sizeof out[n].name, "%s", c->service);
            n++;
        }
        out[k].instances++;
        out[k].ticks += c->ticks - (b && b->ticks <= c->ticks ? b->ticks : 0);
        out[k].all += c->all - (b && b->all <= c->all ? b->all : 0);
    }
    return n;
}

static bool consumes_ticks(const census *c, const char *service) {
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].service, service) == 0 && c->v[i].ticks > 0) return true;
    return false;
}

static atomic_llong md_done_ns; /* when market-data announced the feed's end */
static atomic_ullong md_ticks;
static char want_source[TB_TOKEN_CAP];

static void on_status(const bus_msg *m, void *arg) {
    (void)arg;
    tb_md_status st;
    if (tb_decode(&tb_md_status_desc, bus_msg_data(m), bus_msg_len(m), &st, NULL) != TB_OK) return;
    if (strcmp(st.source, want_source) != 0 || strcmp(st.state, "running") == 0) return;
    atomic_store(&md_ticks, st.ticks);
    atomic_store(&md_done_ns, bus_mono_ns());
}

static int run_replay(bus_conn *conn, const char *file, uint64_t goal, const char *source,
                      uint64_t max_s) {
    natsConnection *nc = bus_conn_nats(conn);
    snprintf(want_source, sizeof want_source, "%s", source);
    bus_sub *status_sub = NULL;
    tb_error err = {0};
    char subject[128];
    snprintf(subject, sizeof subject, "md.status.%s", source);
    if (bus_subscribe(conn, subject, on_status, NULL, &status_sub, &err) != TB_OK) {
        fprintf(stderr, "tb-bench-chain: %s\n", err.message);
        return 1;
    }
    census base, now;
    if (!take_census(nc, &base)) {
        fprintf(stderr, "tb-bench-chain: $SRV.STATS failed\n");
        return 1;
    }
    tb_market_replay req = {.speed = 0};
    snprintf(req.path, sizeof req.path, "%s", file);
    snprintf(req.format, sizeof req.format, "ticks");
    snprintf(req.source, sizeof req.source, "%s", source);
    tb_md_status st;
    int64_t t0 = bus_mono_ns();
    if (bus_request(conn, "api.market.replay", &tb_market_replay_desc, &req, &tb_md_status_desc,
                    &st, 30000, NULL, &err) != TB_OK) {
        fprintf(stderr, "tb-bench-chain: api.market.replay: %s\n", err.message);
        bus_unsubscribe(status_sub);
        return 1;
    }
    svc_progress p[MAX_SERVICES];
    /* When each consumer reached the goal, by name (replies come in any order). */
    char done_name[MAX_SERVICES][TB_TOKEN_CAP];
    int64_t done_at[MAX_SERVICES];
    size_t ndone = 0;
    size_t np = 0;
    uint64_t last_sum = 0;
    int64_t moved_ns = t0, all_done_ns = 0;
    bool short_stop = false;
    int64_t stop_ns = 0;
    /* Phase 1: every tick consumer finishes the goal (or nothing moves). */
    for (;;) {
        usleep((useconds_t)(POLL_NS / 1000));
        if (!take_census(nc, &now)) break;
        int64_t t = bus_mono_ns();
        np = progress_of(&base, &now, p, MAX_SERVICES);
        uint64_t sum = 0;
        bool all = true;
        int consumers = 0;
        for (size_t i = 0; i < np; i++) {
            if (!consumes_ticks(&now, p[i].name)) continue;
            consumers++;
            sum += p[i].ticks;
            size_t k = 0;
            while (k < ndone && strcmp(done_name[k], p[i].name) != 0) k++;
            if (k == ndone && p[i].ticks >= goal && ndone < MAX_SERVICES) {
                memcpy(done_name[ndone], p[i].name, TB_TOKEN_CAP);
                done_at[ndone++] = t;
            }
            p[i].done_ns = k < ndone ? done_at[k] : 0;
            all &= p[i].ticks >= goal;
        }
        if (sum != last_sum) {
            last_sum = sum;
            moved_ns = t;
        }
        if (consumers > 0 && all) {
            all_done_ns = t;
            break;
        }
        if (t - moved_ns > GIVE_UP_NS || t - t0 > (int64_t)max_s * 1000000000) {
            short_stop = true;
            stop_ns = t;
            break;
        }
    }
    /* Phase 2: the rest of the chain (signals, orders, fills, positions) goes quiet. */
    uint64_t last_all = 0;
    int64_t last_change = bus_mono_ns();
    bool quiet = true;
    for (;;) {
        usleep((useconds_t)(POLL_NS / 1000));
        if (!take_census(nc, &now)) break;
        svc_progress q[MAX_SERVICES];
        size_t nq = progress_of(&base, &now, q, MAX_SERVICES);
        uint64_t a = 0;
        for (size_t i = 0; i < nq; i++) a += q[i].all;
        int64_t t = bus_mono_ns();
        if (a != last_all) {
            last_all = a;
            last_change = t;
        }
        /* Our own $SRV.STATS requests count on no endpoint, so quiet is real. */
        if (t - last_change >= QUIET_NS) break;
        if (t - t0 > ((int64_t)max_s + 30) * 1000000000) {
            quiet = false;
            break;
        }
    }
    bus_unsubscribe(status_sub);
    int64_t md_end = atomic_load(&md_done_ns);
    printf("ticks %llu\n", (unsigned long long)goal);
    printf("published %llu\n", (unsigned long long)atomic_load(&md_ticks));
    printf("publish_s %.3f\n", md_end ? (double)(md_end - t0) / 1e9 : -1.0);
    printf("complete %s\n", short_stop ? "no" : "yes");
    printf("all_consumers_s %.3f\n", all_done_ns ? (double)(all_done_ns - t0) / 1e9 : -1.0);
    printf("booked_s %.3f\n", (double)(last_change - t0) / 1e9);
    printf("quiet %s\n", quiet ? "yes" : "no");
    for (size_t i = 0; i < np; i++) {
        if (!consumes_ticks(&now, p[i].name)) continue;
        int64_t end = p[i].done_ns ? p[i].done_ns : stop_ns;
        printf("consumer %s instances %d finished %llu seconds %.3f all %s\n", p[i].name,
               p[i].instances, (unsigned long long)p[i].ticks, (double)(end - t0) / 1e9,
               p[i].done_ns ? "yes" : "no");
    }
    return 0;
}

static atomic_ullong anchor_count;

static void on_anchor(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *arg) {
    (void)nc, (void)sub, (void)arg;
    atomic_fetch_add_explicit(&anchor_count, 1, memory_order_relaxed);
    natsMsg_Destroy(m);
}

/* Bare nats.c: one buffered publisher connection, one subscriber connection. */
static int run_anchor(const bus_config *cfg, uint64_t n) {
    /* The payload: an encoded tick like the ones the replay publishes. */
    tb_tick t = {.seq = 123456, .ts = tb_now_ns(), .bid = 1600012000000, .ask = 1600087000000};
    snprintf(t.symbol, sizeof t.symbol, "C00000A");
    snprintf(t.source, sizeof t.source, "chain-1");
    t.last = 1600050000000;
    t.last_size = 100000000;
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    if (tb_encode(&tb_tick_desc, &t, &b, NULL) != TB_OK) return 1;
    natsOptions *o = NULL;
    natsConnection *pub = NULL, *subc = NULL;
    natsSubscription *sub = NULL;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK) s = natsOptions_SetURL(o, cfg->nats_url);
    if (s == NATS_OK) s = natsConnection_Connect(&subc, o);
    if (s == NATS_OK) s = natsConnection_Connect(&pub, o);
    if (s == NATS_OK)
        s = natsConnection_Subscribe(&sub, subc, "bench.anchor.tick", on_anchor, NULL);
    if (s == NATS_OK) s = natsSubscription_SetPendingLimits(sub, -1, -1);
    if (s == NATS_OK) s = natsConnection_Flush(subc);
    int64_t t0 = bus_mono_ns(), dt = -1;
    for (uint64_t i = 0; s == NATS_OK && i < n; i++)
        s = natsConnection_Publish(pub, "bench.anchor.tick", b.data, (int)b.size);
    if (s == NATS_OK) s = natsConnection_Flush(pub);
    while (s == NATS_OK && atomic_load(&anchor_count) < n && bus_mono_ns() - t0 < ANCHOR_WAIT_NS)
        usleep(100);
    if (atomic_load(&anchor_count) >= n) dt = bus_mono_ns() - t0;
    printf("anchor_msgs %llu\n", (unsigned long long)n);
    printf("anchor_received %llu\n", (unsigned long long)atomic_load(&anchor_count));
    printf("anchor_bytes %zu\n", b.size);
    printf("anchor_s %.3f\n", dt > 0 ? (double)dt / 1e9 : -1.0);
    if (s != NATS_OK) fprintf(stderr, "tb-bench-chain: anchor: %s\n", natsStatus_GetText(s));
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(pub);
    natsConnection_Destroy(subc);
    natsOptions_Destroy(o);
    msgpack_sbuffer_destroy(&b);
    return s == NATS_OK && dt > 0 ? 0 : 1;
}

static bool parse_count(const char *s, uint64_t *out) {
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || v == 0 || v > 1000000000ULL) return false;
    *out = v;
    return true;
}

int main(int argc, char **argv) {
    uint64_t n = 0, max_s = 0;
    bool replay = argc == 6 && strcmp(argv[1], "replay") == 0 && parse_count(argv[3], &n) &&
                  parse_count(argv[5], &max_s);
    bool anchor = argc == 3 && strcmp(argv[1], "anchor") == 0 && parse_count(argv[2], &n);
    if (!replay && !anchor) {
        fprintf(stderr, "Usage: tb-bench-chain replay FILE TICKS SOURCE MAX_S | anchor MESSAGES\n"
                        "(run by scripts/bench chain; see docs/benchmarks.md)\n");
        return 2;
    }
    setenv("LOG_LEVEL", "warn", 0);
    bus_config cfg;
    tb_error err = {0};
    if (bus_config_load(&cfg, "tb-bench-chain", &err) != TB_OK) {
        fprintf(stderr, "tb-bench-chain: %s\n", err.message);
        return 2;
    }
    bus_log_init("tb-bench-chain", cfg.instance, cfg.log_level);
    int rc;
    if (anchor) {
        rc = run_anchor(&cfg, n);
    } else {
        bus_conn *conn = NULL;
        if (bus_conn_open(&cfg, &(bus_conn_opts){.name = "tb-bench-chain", .send_asap = true},
                          &conn, &err) != TB_OK) {
            fprintf(stderr, "tb-bench-chain: NATS: %s\n", err.message);
            return 1;
        }
        rc = run_replay(conn, argv[2], n, argv[4], max_s);
        bus_conn_close(conn);
    }
    bus_library_close(5000);
    fflush(stdout);
    return rc;
}
