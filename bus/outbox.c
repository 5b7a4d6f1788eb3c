/* Transactional outbox; see outbox.h for the contract. */
#include "outbox.h"

#include <stdlib.h>
#include <string.h>

#include "actor_internal.h"
#include "timer.h"
#include "wire.h"

tb_status bus_outbox_add(PGconn *c, const char *producer, const char *subject,
                         const tb_event_desc *desc, const void *ev, const char *msg_id,
                         const char *trace_id, tb_error *err) {
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    tb_status s = tb_encode(desc, ev, &b, err);
    if (s == TB_OK) {
        json_t *h = json_pack("{s:s, s:s}", BUS_HDR_SCHEMA, desc->name, BUS_HDR_TRACE,
                              trace_id ? trace_id : "");
        char *hdrs = h ? json_dumps(h, JSON_COMPACT) : NULL;
        json_decref(h);
        const char *params[5] = {producer, subject, msg_id, b.data, hdrs ? hdrs : "{}"};
        int lens[5] = {0, 0, 0, (int)b.size, 0};
        int fmts[5] = {0, 0, 0, 1, 0}; /* payload goes binary: no escaping */
        PGresult *r =
            PQexecParams(c,
                         "INSERT INTO outbox (producer, subject, msg_id, payload, headers) "
                         "VALUES ($1, $2, $3, $4, $5::jsonb)",
                         5, NULL, params, lens, fmts, 0);
        s = bus_pg_result_status(c, r, err);
        PQclear(r);
        free(hdrs);
    }
    msgpack_sbuffer_destroy(&b);
    return s;
}

/* Publishes one claimed row; returns its status. */
static tb_status publish_row(bus_actor *a, PGresult *r, int i, tb_error *err) {
    size_t len = 0;
    unsigned char *payload = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 3), &len);
    if (payload == NULL) return tb_error_set(err, TB_NOMEM, NULL, NULL);
    bus_msg_meta meta = {.msg_id = PQgetvalue(r, i, 2), .trace_id = PQgetvalue(r, i, 4)};
    const char *schema = PQgetisnull(r, i, 5) ? NULL : PQgetvalue(r, i, 5);
    tb_status s = bus_js_publish_bytes(bus_actor_conn(a), PQgetvalue(r, i, 1), payload, len, schema,
                                       &meta, NULL, err);
    PQfreemem(payload);
    return s;
}

tb_status bus_outbox_relay(bus_actor *a, const char *producer, int max_rows, int64_t min_age_ms,
                           int *published, tb_error *err) {
    if (published) *published = 0;
    PGconn *c = bus_pg_acquire(bus_actor_pg(a), err);
    if (c == NULL) return TB_UNAVAILABLE;
    char limit[24], age[24];
    snprintf(limit, sizeof limit, "%d", max_rows > 0 ? max_rows : 100);
    snprintf(age, sizeof age, "%lld", (long long)(min_age_ms > 0 ? min_age_ms : 0));
    tb_status s = bus_pg_exec(c, "BEGIN", 0, NULL, NULL, err);
    PGresult *r = NULL;
    const char *p[3] = {producer, age, limit};
    if (s == TB_OK)
        s = bus_pg_exec(c,
                        "SELECT id, subject, msg_id, payload, headers->>'" BUS_HDR_TRACE "', "
                        "headers->>'" BUS_HDR_SCHEMA "' FROM outbox "
                        "WHERE published_at IS NULL AND producer = $1 "
                        "AND created_at <= now() - make_interval(secs => $2::bigint / 1000.0) "
                        "ORDER BY id LIMIT $3::int FOR UPDATE SKIP LOCKED",
                        3, p, &r, err);
    int done = 0;
    for (int i = 0; s == TB_OK && i < PQntuples(r); i++) {
        tb_error perr = {0};
        tb_status ps = publish_row(a, r, i, &perr);
        const char *id = PQgetvalue(r, i, 0);
        if (ps == TB_OK) {
            s = bus_pg_exec(c,
                            "UPDATE outbox SET published_at = now(), attempts = attempts + 1 "
                            "WHERE id = $1::bigint",
                            1, &id, NULL, err);
            done++;
        } else {
            /* Keep the row; the next round retries it. Stop here so later
             * events of this producer are not published before it. */
            const char *q[2] = {id, perr.message};
            s = bus_pg_exec(c,
                            "UPDATE outbox SET attempts = attempts + 1, last_error = $2 "
                            "WHERE id = $1::bigint",
                            2, q, NULL, err);
            if (s == TB_OK) s = tb_error_set(err, ps, NULL, "%s", perr.message);
            break;
        }
    }
    PQclear(r);
    tb_error cerr = {0};
    tb_status cs = bus_pg_exec(c, "COMMIT", 0, NULL, NULL, &cerr);
    bus_pg_release(bus_actor_pg(a), c);
    if (s == TB_OK && cs != TB_OK) s = tb_error_set(err, cs, NULL, "%s", cerr.message);
    if (published) *published = done;
    return s;
}

typedef struct relay {
    char producer[64];
    int64_t interval_ms;
    int rounds;
    bus_series *m_published;
    bus_series *m_pending_errors;
} relay;

static void relay_tick(bus_actor *a, void *arg) {
    relay *r = arg;
    int n = 0;
    tb_error err = {0};
    /* Rows younger than two intervals are left to the fast path of the
     * handler that wrote them. */
    tb_status s = bus_outbox_relay(a, r->producer, 500, 2 * r->interval_ms, &n, &err);
    if (n > 0) {
        bus_counter_add(r->m_published, (uint64_t)n);
        bus_log(BUS_LOG_INFO, "outbox relay republished %d events of %s", n, r->producer);
    }
    if (s != TB_OK) {
        bus_counter_add(r->m_pending_errors, 1);
        bus_log(BUS_LOG_WARN, "outbox relay: %s", err.message);
    }
    if (++r->rounds % 1000 == 0) {
        PGconn *c = bus_pg_acquire(bus_actor_pg(a), &err);
        if (c == NULL) return;
        const char *p[1] = {r->producer};
        if (bus_pg_exec(c,
                        "DELETE FROM outbox WHERE producer = $1 AND published_at < now() - "
                        "interval '1 day'",
                        1, p, NULL, &err) != TB_OK)
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
    r->interval_ms = interval_ms;
    r->m_published = bus_metrics_counter(bus_actor_metrics(a), "tb_outbox_relayed_total",
                                         "Events republished by the outbox relay", NULL);
    r->m_pending_errors = bus_metrics_counter(bus_actor_metrics(a), "tb_outbox_errors_total",
                                              "Outbox relay rounds that failed", NULL);
    return bus_actor_add_timer(a, "outbox-relay", interval_ms, relay_tick, r, free, err);
}
