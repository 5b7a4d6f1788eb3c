/* Webhook delivery: claim, POST, record.
 *
 * Claim: one statement picks due rows (pending, next_attempt_at <= now(),
 * webhook active) with FOR UPDATE SKIP LOCKED and pushes their
 * next_attempt_at forward by a lease (HTTP timeout + 10 s) before
 * committing, so no other worker claims them while this one posts, and no
 * transaction stays open during HTTP. A worker that dies mid-delivery leaves
 * its rows to be claimed again when the lease runs out: at least once.
 *
 * POST: all rows of a round in parallel (libcurl multi), each with its own
 * timeout; the body is the stored payload, byte for byte the same on every
 * attempt, signed with the webhook's secret. Redirects are not followed and
 * only http/https are allowed, even if a URL changed after validation.
 * Every address a POST would connect to is vetted first (notif_guard.h):
 * a webhook that now resolves to a loopback, private or metadata address
 * fails like an unreachable one, with the reason as its last error.
 *
 * Record: 2xx sets delivered_at; anything else counts the attempt and either
 * schedules the next one (notif_backoff_ms) or, at NOTIF_MAX_ATTEMPTS, sets
 * dead_at. The update is conditional on the attempt count read at claim time,
 * so an attempt that raced a lease expiry is not counted twice. */
#include "notif_deliver.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "notif_guard.h"
#include "notif_service.h"
#include "notif_store.h"
#include "notif_webhook.h"
#include "timer.h"

#define LEASE_MARGIN_MS 10000
#define MAX_ROUNDS      8 /* per timer tick, so a backlog drains without starving stop */

typedef struct job {
    char id[24];
    char event_type[TB_TOKEN_CAP];
    char *key;
    char *body;
    char *url;
    char *secret;
    int64_t attempts; /* before this one */
    CURL *h;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
    notif_guard guard; /* the address check of this transfer */
    long status;
    bool done;
    CURLcode rc;
} job;

static size_t discard(char *p, size_t size, size_t n, void *arg) {
    (void)p, (void)arg;
    return size * n; /* the answer's body is not used */
}

static void job_free(job *j) {
    if (j->h) curl_easy_cleanup(j->h);
    curl_slist_free_all(j->headers);
    free(j->key);
    free(j->body);
    free(j->url);
    free(j->secret);
}

static char *dup_cell(const PGresult *r, int row, int col) {
    return strdup(PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

/* Claims up to batch due rows; *out malloc'd (caller frees the jobs). */
static tb_status claim(PGconn *pg, const notif_settings *set, job **out, int *n, tb_error *err) {
    *out = NULL;
    *n = 0;
    char lim[24], lease[24];
    snprintf(lim, sizeof lim, "%" PRId64, set->batch);
    snprintf(lease, sizeof lease, "%" PRId64, set->http_timeout_ms + LEASE_MARGIN_MS);
    const char *p[2] = {lim, lease};
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(
        pg,
        "WITH due AS (SELECT o.id FROM webhook_outbox o JOIN webhooks w ON w.id = o.webhook_id "
        "  WHERE o.delivered_at IS NULL AND o.dead_at IS NULL AND o.next_attempt_at <= now() "
        "  AND w.active ORDER BY o.next_attempt_at LIMIT $1::int FOR UPDATE OF o SKIP LOCKED) "
        "UPDATE webhook_outbox o SET next_attempt_at = now() + $2::bigint * interval '1 "
        "millisecond' "
        "FROM due, webhooks w WHERE o.id = due.id AND w.id = o.webhook_id "
        "RETURNING o.id, o.event_type, o.idempotency_key, o.payload::text, o.attempts, w.url, "
        "w.secret",
        2, p, &r, err);
    if (s != TB_OK) return s;
    int rows = PQntuples(r);
    job *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
    if (rows && v == NULL) {
        PQclear(r);
        return tb_error_set(err, TB_NOMEM, NULL, "out of memory claiming deliveries");
    }
    for (int i = 0; i < rows; i++) {
        bus_pg_col_str(r, i, 0, v[i].id, sizeof v[i].id);
        bus_pg_col_str(r, i, 1, v[i].event_type, sizeof v[i].event_type);
        v[i].key = dup_cell(r, i, 2);
        v[i].body = dup_cell(r, i, 3);
        v[i].attempts = notif_db_i64(r, i, 4);
        v[i].url = dup_cell(r, i, 5);
        v[i].secret = dup_cell(r, i, 6);
    }
    PQclear(r);
    for (int i = 0; i < rows; i++)
        if (!v[i].key || !v[i].body || !v[i].url || !v[i].secret) s = TB_NOMEM;
    if (s != TB_OK) {
        /* The rows come back when their lease runs out. */
        for (int i = 0; i < rows; i++) job_free(&v[i]);
        free(v);
        return tb_error_set(err, TB_NOMEM, NULL, "out of memory claiming deliveries");
    }
    *out = v;
    *n = rows;
    return TB_OK;
}

static bool job_setup(job *j, const notif_settings *set) {
    j->h = curl_easy_init();
    if (j->h == NULL) return false;
    char sig[NOTIF_SIGNATURE_LEN + 1];
    notif_signature(j->secret, j->body, strlen(j->body), sig);
    char line[TB_TEXT_CAP + 128];
    struct curl_slist *hs = NULL, *t;
    const char *fixed[] = {"Content-Type: application/json", "User-Agent: tradebus-notifications",
                           "Expect:"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if ((t = curl_slist_append(hs, fixed[i])) == NULL) goto oom;
        hs = t;
    }
    snprintf(line, sizeof line, "Idempotency-Key: %s", j->key);
    if ((t = curl_slist_append(hs, line)) == NULL) goto oom;
    hs = t;
    snprintf(line, sizeof line, "X-Tradebus-Event: %s", j->event_type);
    if ((t = curl_slist_append(hs, line)) == NULL) goto oom;
    hs = t;
    snprintf(line, sizeof line, "X-Tradebus-Signature: %s", sig);
    if ((t = curl_slist_append(hs, line)) == NULL) goto oom;
    hs = t;
    snprintf(line, sizeof line, "X-Tradebus-Delivery-Attempt: %" PRId64, j->attempts + 1);
    if ((t = curl_slist_append(hs, line)) == NULL) goto oom;
    hs = t;
    j->headers = hs;
    CURLcode c = CURLE_OK;
    if (c == CURLE_OK) c = curl_easy_setopt(j->h, CURLOPT_URL, j->url);
    if (c == CURLE_OK) c = curl_easy_setopt(j->h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (c == CURLE_OK) c = curl_easy_setopt(j->h, CURLOPT_FOLLOWLOCATION, 0L);
    if (c == CURLE_OK) c = curl_easy_setopt(j->h, CURLOPT_NOSIGNAL, 1L);
    if (c == CURLE_OK) c = curl_easy_setopt(j->h, CURLOPT_POST, 1L);
    if (c == CURLE_OK) c = curl_easy_setopt(j->h, CURLOPT_POSTFIELDS, j->body);
    if (c == CURLE_OK)
        c = curl_easy_setopt(j->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(j->body));
    if (c == CURLE_OK) c = curl_easy_setopt(j->h, CURLOPT_HTTPHEADER, j->headers);
    if (c == CURLE_OK) c = curl_easy_setopt(j->h, CURLOPT_TIMEOUT_MS, (long)set->http_timeout_ms);
    if (c == CURLE_OK) c = curl_easy_setopt(j->h, CURLOPT_WRITEFUNCTION, discard);
    if (c == CURLE_OK) c = curl_easy_setopt(j->h, CURLOPT_ERRORBUFFER, j->errbuf);
    if (c == CURLE_OK) c = curl_easy_setopt(j->h, CURLOPT_PRIVATE, (void *)j);
    if (c == CURLE_OK) c = notif_guard_arm(j->h, &j->guard, &set->allow, j->url);
    if (c != CURLE_OK) {
        snprintf(j->errbuf, sizeof j->errbuf, "%s", curl_easy_strerror(c));
        j->rc = c;
        j->done = true; /* fails as an attempt: a bad URL counts towards dead */
    }
    return true;
oom:
    curl_slist_free_all(hs);
    return false;
}

/* POSTs every job in parallel; returns when all finished or timed out. */
static void post_all(job *jobs, int n, const notif_settings *set) {
    CURLM *m = curl_multi_init();
    if (m == NULL) {
        for (int i = 0; i < n; i++) {
            jobs[i].done = true;
            jobs[i].rc = CURLE_OUT_OF_MEMORY;
            snprintf(jobs[i].errbuf, sizeof jobs[i].errbuf, "out of memory");
        }
        return;
    }
    for (int i = 0; i < n; i++) {
        job *j = &jobs[i];
        if (!job_setup(j, set)) {
            j->done = true;
            j->rc = CURLE_OUT_OF_MEMORY;
            snprintf(j->errbuf, sizeof j->errbuf, "out of memory");
            continue;
        }
        if (!j->done && curl_multi_add_handle(m, j->h) != CURLM_OK) {
            j->done = true;
            j->rc = CURLE_FAILED_INIT;
            snprintf(j->errbuf, sizeof j->errbuf, "cannot start the request");
        }
    }
    int running = 1;
    while (running > 0) {
        if (curl_multi_perform(m, &running) != CURLM_OK) break;
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE) continue;
            job *j = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            if (j == NULL) continue;
            j->done = true;
            j->rc = msg->data.result;
            if (j->rc == CURLE_OK) curl_easy_getinfo(j->h, CURLINFO_RESPONSE_CODE, &j->status);
        }
        if (running > 0 && curl_multi_poll(m, NULL, 0, 100, NULL) != CURLM_OK) break;
    }
    for (int i = 0; i < n; i++) {
        if (jobs[i].h) curl_multi_remove_handle(m, jobs[i].h);
        if (!jobs[i].done) {
            jobs[i].rc = CURLE_OPERATION_TIMEDOUT;
            snprintf(jobs[i].errbuf, sizeof jobs[i].errbuf, "request did not finish");
        }
    }
    curl_multi_cleanup(m);
}

/* Records one attempt's outcome. */
static void record(bus_actor *a, PGconn *pg, job *j) {
    notif_service *svc = notif_of(a);
    const notif_settings *set = &svc->set;
    int64_t attempts = j->attempts + 1;
    long status = j->rc == CURLE_OK ? j->status : 0;
    notif_outcome o = notif_delivery_outcome(status, attempts, set->max_attempts);
    char err_text[CURL_ERROR_SIZE + 600] = "";
    if (j->rc != CURLE_OK && j->guard.refused[0])
        snprintf(err_text, sizeof err_text, "%s", j->guard.refused);
    else if (j->rc != CURLE_OK)
        snprintf(err_text, sizeof err_text, "%s",
                 j->errbuf[0] ? j->errbuf : curl_easy_strerror(j->rc));
    else if (o != NOTIF_DELIVERED)
        snprintf(err_text, sizeof err_text, "HTTP %ld", status);
    char st[16], att[24], delay[24];
    snprintf(st, sizeof st, "%ld", status);
    snprintf(att, sizeof att, "%" PRId64, j->attempts);
    snprintf(delay, sizeof delay, "%" PRId64,
             notif_backoff_ms(attempts, set->backoff_base_ms, set->backoff_max_ms));
    const char *p[6] = {j->id, st, err_text, notif_outcome_name(o), delay, att};
    tb_error err = {0};
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(
        pg,
        "UPDATE webhook_outbox SET attempts = attempts + 1, last_status = NULLIF($2::int, 0), "
        "last_error = NULLIF($3, ''), "
        "delivered_at = CASE WHEN $4 = 'delivered' THEN now() END, "
        "dead_at = CASE WHEN $4 = 'dead' THEN now() END, "
        "next_attempt_at = CASE WHEN $4 = 'retry' "
        "  THEN now() + $5::bigint * interval '1 millisecond' ELSE next_attempt_at END "
        "WHERE id = $1::bigint AND delivered_at IS NULL AND dead_at IS NULL "
        "AND attempts = $6::int",
        6, p, &r, &err);
    if (s != TB_OK) {
        /* The row is attempted again when its lease runs out. */
        bus_log(BUS_LOG_WARN, "outcome of delivery %s not recorded: %s", j->id, err.message);
        return;
    }
    bool counted = atoi(PQcmdTuples(r)) == 1;
    PQclear(r);
    if (!counted) return; /* another worker took the row over after the lease ran out */
    switch (o) {
    case NOTIF_DELIVERED:
        bus_counter_add(svc->m_delivered, 1);
        break;
    case NOTIF_RETRY:
        bus_counter_add(svc->m_retried, 1);
        bus_log(BUS_LOG_INFO, "delivery %s failed (%s), attempt %" PRId64 " of %" PRId64, j->id,
                err_text, attempts, set->max_attempts);
        break;
    case NOTIF_DEAD:
        bus_counter_add(svc->m_dead, 1);
        bus_counter_add(svc->m_dead_total, 1);
        bus_log(BUS_LOG_WARN, "delivery %s dead-lettered after %" PRId64 " attempts: %s", j->id,
                attempts, err_text);
        break;
    }
}

int notif_deliver_round(bus_actor *a) {
    notif_service *svc = notif_of(a);
    tb_error err = {0};
    PGconn *pg = bus_pg_acquire(bus_actor_pg(a), &err);
    if (pg == NULL) {
        bus_log(BUS_LOG_WARN, "webhook delivery paused: %s", err.message);
        return 0;
    }
    job *jobs = NULL;
    int n = 0;
    tb_status s = claim(pg, &svc->set, &jobs, &n, &err);
    /* The connection is not held during HTTP: handlers may need it. */
    bus_pg_release(bus_actor_pg(a), pg);
    if (s != TB_OK) {
        bus_log(BUS_LOG_WARN, "webhook deliveries not claimed: %s", err.message);
        return 0;
    }
    if (n == 0) return 0;
    post_all(jobs, n, &svc->set);
    pg = bus_pg_acquire(bus_actor_pg(a), &err);
    if (pg == NULL)
        bus_log(BUS_LOG_WARN, "outcomes of %d deliveries not recorded: %s", n, err.message);
    for (int i = 0; pg && i < n; i++) record(a, pg, &jobs[i]);
    if (pg) bus_pg_release(bus_actor_pg(a), pg);
    for (int i = 0; i < n; i++) job_free(&jobs[i]);
    free(jobs);
    return n;
}

/* Delivered rows older than the retention are deleted (dead ones stay
 * visible until someone deletes the webhook). */
static void prune(bus_actor *a) {
    notif_service *svc = notif_of(a);
    if (svc->set.retention_h <= 0) return;
    tb_error err = {0};
    PGconn *pg = bus_pg_acquire(bus_actor_pg(a), &err);
    if (pg == NULL) return;
    char h[24];
    snprintf(h, sizeof h, "%" PRId64, svc->set.retention_h);
    const char *p[1] = {h};
    if (bus_pg_exec(pg,
                    "DELETE FROM webhook_outbox WHERE delivered_at < now() - $1::bigint * "
                    "interval '1 hour'",
                    1, p, NULL, &err) != TB_OK)
        bus_log(BUS_LOG_WARN, "delivered webhook rows not pruned: %s", err.message);
    bus_pg_release(bus_actor_pg(a), pg);
}

typedef struct deliver_state {
    int64_t last_prune_ns;
} deliver_state;

static void tick(bus_actor *a, void *arg) {
    deliver_state *st = arg;
    notif_service *svc = notif_of(a);
    for (int round = 0; round < MAX_ROUNDS && !bus_actor_stopping(a); round++)
        if (notif_deliver_round(a) < svc->set.batch) break;
    int64_t now = bus_mono_ns();
    if (now - st->last_prune_ns > INT64_C(60000000000)) {
        st->last_prune_ns = now;
        prune(a);
    }
}

tb_status notif_deliver_start(bus_actor *a, tb_error *err) {
    deliver_state *st = calloc(1, sizeof *st);
    if (st == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    st->last_prune_ns = bus_mono_ns();
    return bus_actor_add_timer(a, "webhook-delivery", notif_of(a)->set.delivery_interval_ms, tick,
                               st, free, err);
}
