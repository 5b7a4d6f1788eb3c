/* Transactional outbox; see outbox.h for the contract. */
#include "outbox.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "actor_internal.h"
#include "pgarray.h"
#include "timer.h"
#include "wire.h"

tb_status bus_outbox_add(PGconn *c, const char *producer, const char *subject,
                         const tb_event_desc *desc, const void *ev, const char *msg_id,
                         const char *trace_id, tb_error *err) {
    /* Through bus_pg_exec, like many rows: it may be part of a pipeline. */
    bus_outbox_event one = {
        .subject = subject, .desc = desc, .ev = ev, .msg_id = msg_id, .trace_id = trace_id};
    return bus_outbox_add_many(c, producer, &one, 1, err);
}

/* How long a relay round waits for the stream's acknowledgements. */
#define RELAY_ACK_TIMEOUT_MS 5000

tb_status bus_outbox_add_many(PGconn *c, const char *producer, const bus_outbox_event *evs,
                              size_t n, tb_error *err) {
    if (n == 0) return TB_OK;
    enum { SUBJECT, MSG_ID, PAYLOAD, HEADERS, NCOLS };
    bus_pgarray col[NCOLS];
    for (int k = 0; k < NCOLS; k++) bus_pgarray_init(&col[k]);
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    tb_status s = TB_OK;
    for (size_t i = 0; i < n && s == TB_OK; i++) {
        msgpack_sbuffer_clear(&b);
        if ((s = tb_encode(evs[i].desc, evs[i].ev, &b, err)) != TB_OK) break;
        json_t *h = json_pack("{s:s, s:s}", BUS_HDR_SCHEMA, evs[i].desc->name, BUS_HDR_TRACE,
                              evs[i].trace_id ? evs[i].trace_id : "");
        char *hdrs = h ? json_dumps(h, JSON_COMPACT) : NULL;
        json_decref(h);
        if (hdrs == NULL) {
            s = tb_error_set(err, TB_NOMEM, NULL, NULL);
            break;
        }
        bus_pgarray_str(&col[SUBJECT], evs[i].subject);
        bus_pgarray_str(&col[MSG_ID], evs[i].msg_id);
        bus_pgarray_hex(&col[PAYLOAD], (const uint8_t *)b.data, b.size);
        bus_pgarray_str(&col[HEADERS], hdrs);
        free(hdrs);
    }
    msgpack_sbuffer_destroy(&b);
    const char *params[1 + NCOLS] = {producer};
    if (s == TB_OK) s = bus_pgarray_finish_all(col, NCOLS, params + 1, err);
    if (s == TB_OK)
        s = bus_pg_exec(c,
                        "WITH o AS (INSERT INTO outbox (producer, subject, msg_id, payload, "
                        "headers) SELECT $1, u.s, u.m, decode(u.p, 'hex'), u.h::jsonb "
                        "FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) "
                        "WITH ORDINALITY AS u(s, m, p, h, n) ORDER BY u.n "
                        "RETURNING producer, id) "
                        "INSERT INTO outbox_pending (producer, id) SELECT producer, id FROM o",
                        1 + NCOLS, params, NULL, err);
    bus_pgarray_close_all(col, NCOLS);
    return s;
}

/* Rows the stream acknowledged (ok) leave the pending set; the others
 * stay, with one more attempt and the error. */
static tb_status mark_rows(PGconn *c, const char *producer, bus_pgarray *ids, bool ok,
                           const char *error, tb_error *err) {
    if (ids->n == 0) return TB_OK;
    const char *p[3] = {producer, bus_pgarray_finish(ids), error};
    if (p[1] == NULL) return tb_error_set(err, TB_NOMEM, NULL, NULL);
    return ok ? bus_pg_exec(c,
                            "DELETE FROM outbox_pending "
                            "WHERE producer = $1 AND id = ANY($2::bigint[])",
                            2, p, NULL, err)
              : bus_pg_exec(c,
                            "UPDATE outbox_pending SET attempts = attempts + 1, last_error = $3 "
                            "WHERE producer = $1 AND id = ANY($2::bigint[])",
                            3, p, NULL, err);
}

/* Publishes the claimed rows of r together and marks them. */
static tb_status publish_rows(bus_actor *a, PGconn *c, const char *producer, PGresult *r, int *done,
                              tb_error *err) {
    int n = PQntuples(r);
    bus_js_msg *msgs = calloc((size_t)n + 1, sizeof *msgs);
    unsigned char **payloads = calloc((size_t)n + 1, sizeof *payloads);
    tb_status s = msgs && payloads ? TB_OK : tb_error_set(err, TB_NOMEM, NULL, NULL);
    for (int i = 0; i < n && s == TB_OK; i++) {
        size_t len = 0;
        payloads[i] = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 3), &len);
        if (payloads[i] == NULL) {
            s = tb_error_set(err, TB_NOMEM, NULL, NULL);
            break;
        }
        msgs[i] =
            (bus_js_msg){.subject = PQgetvalue(r, i, 1),
                         .data = payloads[i],
                         .len = len,
                         .schema = PQgetisnull(r, i, 5) ? NULL : PQgetvalue(r, i, 5),
                         .meta = {.msg_id = PQgetvalue(r, i, 2), .trace_id = PQgetvalue(r, i, 4)}};
    }
    tb_error perr = {0};
    tb_status ps = TB_OK;
    if (s == TB_OK)
        ps = bus_js_publish_many(bus_actor_conn(a), msgs, (size_t)n, RELAY_ACK_TIMEOUT_MS, &perr);
    bus_pgarray ok, failed;
    bus_pgarray_init(&ok);
    bus_pgarray_init(&failed);
    for (int i = 0; i < n && s == TB_OK; i++) {
        const char *id = PQgetvalue(r, i, 0);
        bus_pgarray_str(msgs[i].status == TB_OK ? &ok : &failed, id);
    }
    if (s == TB_OK) s = mark_rows(c, producer, &ok, true, NULL, err);
    if (s == TB_OK) s = mark_rows(c, producer, &failed, false, perr.message, err);
    if (s == TB_OK && ps != TB_OK) s = tb_error_set(err, ps, NULL, "%s", perr.message);
    *done = (int)ok.n;
    bus_pgarray_close(&ok);
    bus_pgarray_close(&failed);
    for (int i = 0; payloads && i < n; i++)
        if (payloads[i]) PQfreemem(payloads[i]);
    free(payloads);
    free(msgs);
    return s;
}

/* Each pending row is looked up in outbox by its key: the LATERAL
 * subquery's LIMIT keeps the planner from flattening it into a join it may
 * run as a merge join, which walks outbox's primary key from its oldest
 * row (a day of events) to reach the pending ones, the newest: 0.4 s a
 * round on 33,000 rows, the order path's costliest statement. */
/* Old rows are found by id, not by age: ids grow with created_at. The
 * first row younger than a day bounds the ids; the primary key finds the
 * rest. The BRIN index on created_at this once used (dropped by migration
 * 0768) returned every block range autovacuum had not summarized yet, most
 * of a busy outbox's day (70-265 ms a call). Every producer's rows: a
 * service that stopped leaves none behind. */
const char bus_outbox_cleanup_sql[] =
    "DELETE FROM outbox o WHERE o.id < COALESCE("
    "(SELECT id FROM outbox WHERE created_at >= now() - interval '1 day' ORDER BY id LIMIT 1), "
    "(SELECT max(id) + 1 FROM outbox)) "
    "AND o.created_at < now() - interval '1 day' AND NOT EXISTS "
    "(SELECT 1 FROM outbox_pending p WHERE p.producer = o.producer AND p.id = o.id)";

const char bus_outbox_claim_sql[] =
    "SELECT o.id, o.subject, o.msg_id, o.payload, o.trace, o.schema "
    "FROM outbox_pending p CROSS JOIN LATERAL ("
    "SELECT o.id, o.subject, o.msg_id, o.payload, "
    "o.headers->>'" BUS_HDR_TRACE "' AS trace, o.headers->>'" BUS_HDR_SCHEMA "' AS schema "
    "FROM outbox o WHERE o.id = p.id "
    "AND o.created_at <= now() - make_interval(secs => $2::bigint / 1000.0) LIMIT 1) o "
    "WHERE p.producer = $1 ORDER BY p.id LIMIT $3::int FOR UPDATE OF p SKIP LOCKED";

tb_status bus_outbox_relay(bus_actor *a, const char *producer, int max_rows, int64_t min_age_ms,
                           int *published, tb_error *err) {
    if (published) *published = 0;
    PGconn *c = bus_pg_acquire(bus_actor_pg(a), err);
    if (c == NULL) return TB_UNAVAILABLE;
    char limit[24], age[24];
    snprintf(limit, sizeof limit, "%d", max_rows > 0 ? max_rows : 100);
    snprintf(age, sizeof age, "%lld", (long long)(min_age_ms > 0 ? min_age_ms : 0));
    /* Taking rows out of the pending set need not wait for the WAL flush: a
     * deletion lost in a crash only makes the relay publish the row again,
     * which the stream (Nats-Msg-Id) and every consumer (keyed on the id)
     * ignore. */
    /* Two round trips: BEGIN, SET and the claim; the marks and COMMIT. */
    tb_status s = bus_pg_pipeline_begin(c, err);
    if (s == TB_OK) s = bus_pg_exec(c, "BEGIN", 0, NULL, NULL, err);
    if (s == TB_OK) s = bus_pg_exec(c, "SET LOCAL synchronous_commit TO off", 0, NULL, NULL, err);
    PGresult *r = NULL;
    const char *p[3] = {producer, age, limit};
    if (s == TB_OK) s = bus_pg_exec(c, bus_outbox_claim_sql, 3, p, &r, err);
    int done = 0;
    if (s == TB_OK && PQntuples(r) > 0) s = publish_rows(a, c, producer, r, &done, err);
    PQclear(r);
    tb_error cerr = {0};
    tb_status cs = bus_pg_exec(c, "COMMIT", 0, NULL, NULL, &cerr);
    if (cs == TB_OK) cs = bus_pg_pipeline_end(c, &cerr);
    bus_pg_release(bus_actor_pg(a), c);
    if (s == TB_OK && cs != TB_OK) s = tb_error_set(err, cs, NULL, "%s", cerr.message);
    if (published) *published = done;
    return s;
}

/* Rows one relay round takes; a round that took as many goes again at once
 * (up to RELAY_ROUNDS times). */
#define RELAY_ROWS   500
#define RELAY_ROUNDS 8

typedef struct relay {
    char producer[48];
    char timer[64]; /* "outbox-relay:<producer>" */
    int64_t interval_ms;
    int rounds;
    atomic_bool kicked; /* bus_outbox_kick since the last round */
    bus_series *m_published;
    bus_series *m_pending_errors;
} relay;

/* The relays of the process, for bus_outbox_kick (few: one per producer
 * an actor relays). */
#define MAX_RELAYS 8
static pthread_mutex_t relays_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    bus_actor *a;
    relay *r;
} relays[MAX_RELAYS];

static void relay_forget(void *arg) {
    pthread_mutex_lock(&relays_lock);
    for (size_t i = 0; i < MAX_RELAYS; i++)
        if (relays[i].r == arg) relays[i].a = NULL, relays[i].r = NULL;
    pthread_mutex_unlock(&relays_lock);
    free(arg);
}

bool bus_outbox_kick(bus_actor *a, const char *producer) {
    char timer[sizeof((relay *)0)->timer] = "";
    pthread_mutex_lock(&relays_lock);
    for (size_t i = 0; i < MAX_RELAYS && timer[0] == '\0'; i++) {
        relay *r = relays[i].r;
        if (relays[i].a != a || strcmp(r->producer, producer) != 0) continue;
        atomic_store(&r->kicked, true);
        snprintf(timer, sizeof timer, "%s", r->timer);
    }
    pthread_mutex_unlock(&relays_lock);
    return timer[0] != '\0' && bus_actor_kick_timer(a, timer);
}

tb_status bus_outbox_publish_soon(bus_actor *a, const char *producer, int committed,
                                  tb_error *err) {
    if (committed <= 1 && bus_outbox_kick(a, producer)) return TB_OK;
    return bus_outbox_relay(a, producer, committed + 100, 0, NULL, err);
}

/* A kicked round publishes everything pending at once (the fast path: the
 * handlers that committed rows kick it and go on with their next batch). A
 * periodic round republishes only rows older than two intervals, which a
 * kick missed (a crash between commit and kick, a worker that died, NATS
 * down for a while). */
static void relay_tick(bus_actor *a, void *arg) {
    relay *r = arg;
    bool kicked = atomic_exchange(&r->kicked, false);
    int64_t min_age = kicked ? 0 : 2 * r->interval_ms;
    int n = 0, total = 0;
    tb_error err = {0};
    tb_status s = TB_OK;
    for (int round = 0; round < RELAY_ROUNDS; round++) {
        s = bus_outbox_relay(a, r->producer, RELAY_ROWS, min_age, &n, &err);
        total += n;
        if (s != TB_OK || n < RELAY_ROWS) break;
    }
    if (total > 0 && !kicked) {
        bus_counter_add(r->m_published, (uint64_t)total);
        bus_log(BUS_LOG_INFO, "outbox relay republished %d events of %s", total, r->producer);
    }
    if (s != TB_OK) {
        bus_counter_add(r->m_pending_errors, 1);
        bus_log(BUS_LOG_WARN, "outbox relay: %s", err.message);
    }
    if (++r->rounds % 1000 == 0) {
        PGconn *c = bus_pg_acquire(bus_actor_pg(a), &err);
        if (c == NULL) return;
        if (bus_pg_exec(c, bus_outbox_cleanup_sql, 0, NULL, NULL, &err) != TB_OK)
            bus_log(BUS_LOG_WARN, "outbox cleanup: %s", err.message);
        bus_pg_release(bus_actor_pg(a), c);
    }
}

tb_status bus_outbox_start_relay(bus_actor *a, const char *producer, int64_t interval_ms,
                                 tb_error *err) {
    if (bus_actor_pg(a) == NULL)
        return tb_error_set(err, TB_ERR, NULL, "outbox relay needs BUS_NEEDS_PG");
    relay *r = calloc(1, sizeof *r);
    if (r == NULL) return tb_error_set(err, TB_NOMEM, NULL, NULL);
    snprintf(r->producer, sizeof r->producer, "%s", producer);
    snprintf(r->timer, sizeof r->timer, "outbox-relay:%s", r->producer);
    r->interval_ms = interval_ms;
    atomic_init(&r->kicked, false);
    r->m_published = bus_metrics_counter(bus_actor_metrics(a), "tb_outbox_relayed_total",
                                         "Events republished by the outbox relay", NULL);
    r->m_pending_errors = bus_metrics_counter(bus_actor_metrics(a), "tb_outbox_errors_total",
                                              "Outbox relay rounds that failed", NULL);
    pthread_mutex_lock(&relays_lock);
    size_t slot = MAX_RELAYS;
    for (size_t i = 0; i < MAX_RELAYS && slot == MAX_RELAYS; i++)
        if (relays[i].r == NULL) slot = i;
    if (slot < MAX_RELAYS) relays[slot].a = a, relays[slot].r = r;
    pthread_mutex_unlock(&relays_lock);
    if (slot == MAX_RELAYS) {
        free(r);
        return tb_error_set(err, TB_ERR, NULL, "more than %d outbox relays", MAX_RELAYS);
    }
    return bus_actor_add_timer(a, r->timer, interval_ms, relay_tick, r, relay_forget, err);
}
