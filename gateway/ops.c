/* Operations routes: /health, /health/<service>, /health/all, /services and
 * /metrics (DESIGN §5).
 *
 * Instances are discovered with the NATS micro protocol: one $SRV.PING with a
 * private inbox collects every instance's identity for GATEWAY_DISCOVERY_MS;
 * then one scatter-gather asks each instance directly (svc.<name>.<id>.health
 * or .metrics, $SRV.INFO/STATS.<name>.<id>) and returns as soon as all
 * answered.
 *
 * /health is answered from this process alone (a load balancer probes it
 * often). /health/all is the expensive one: its answer is kept for
 * GATEWAY_HEALTH_CACHE_MS and callers that arrive while it is collected
 * wait for that collection, so a flood of calls makes at most one round of
 * $SRV pings per period (counted in tb_gateway_health_collections_total).
 * /services and /metrics are not cached: each call sees the platform as it
 * is now. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "keys.h"
#include "prom.h"

typedef struct instance {
    char name[TB_TOKEN_CAP];
    char id[TB_ID_CAP];
    char version[32];
} instance;

/* Longest wait for the per-instance answers after discovery. */
#define GATHER_MAX_MS 2000

static int by_name_id(const void *a, const void *b) {
    const instance *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->id, y->id);
}

/* Subject-safe: names and ids go into subjects below. */
static bool token_ok(const char *s) {
    return s && s[0] && strlen(s) < TB_TOKEN_CAP && gw_account_list_valid(s) && !strchr(s, ',');
}

static tb_status discover(gw_req *r, instance **out, size_t *n_out, tb_error *err) {
    static const char *const ping[] = {"$SRV.PING"};
    bus_bytes *rep = NULL;
    size_t nrep = 0;
    *out = NULL;
    *n_out = 0;
    tb_status s = bus_request_many(bus_actor_conn(r->g->actor), ping, 1, "", 0, r->id,
                                   r->g->set.discovery_ms, 0, &rep, &nrep, err);
    if (s != TB_OK) return s;
    instance *list = calloc(nrep ? nrep : 1, sizeof *list);
    size_t n = 0;
    for (size_t i = 0; list && i < nrep; i++) {
        json_t *j = json_loadb(rep[i].data, rep[i].len, 0, NULL);
        const char *name = json_string_value(json_object_get(j, "name"));
        const char *id = json_string_value(json_object_get(j, "id"));
        const char *ver = json_string_value(json_object_get(j, "version"));
        bool dup = false;
        for (size_t k = 0; k < n && id; k++) dup |= strcmp(list[k].id, id) == 0;
        if (token_ok(name) && token_ok(id) && !dup) {
            snprintf(list[n].name, sizeof list[n].name, "%s", name);
            snprintf(list[n].id, sizeof list[n].id, "%s", id);
            snprintf(list[n].version, sizeof list[n].version, "%s", ver ? ver : "");
            n++;
        }
        json_decref(j);
    }
    bus_bytes_free_many(rep, nrep);
    if (list == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    qsort(list, n, sizeof *list, by_name_id);
    *out = list;
    *n_out = n;
    return TB_OK;
}

/* Asks every instance subject_fmt (with name and id) and returns the
 * replies, whatever order they come in. */
static tb_status gather(gw_req *r, const instance *in, size_t n, const char *const *fmts,
                        size_t nfmts, bus_bytes **rep, size_t *nrep, tb_error *err) {
    char **subjects = calloc(n * nfmts + 1, sizeof *subjects);
    tb_status s = subjects ? TB_OK : tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    for (size_t i = 0; s == TB_OK && i < n; i++)
        for (size_t f = 0; s == TB_OK && f < nfmts; f++)
            if (asprintf(&subjects[i * nfmts + f], fmts[f], in[i].name, in[i].id) < 0) {
                subjects[i * nfmts + f] = NULL;
                s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
            }
    int64_t t = r->g->set.bus_timeout_ms < GATHER_MAX_MS ? r->g->set.bus_timeout_ms : GATHER_MAX_MS;
    if (s == TB_OK)
        s = bus_request_many(bus_actor_conn(r->g->actor), (const char *const *)subjects, n * nfmts,
                             "", 0, r->id, t, n * nfmts, rep, nrep, err);
    for (size_t i = 0; subjects && i < n * nfmts; i++) free(subjects[i]);
    free(subjects);
    return s;
}

/* No round trip at all: the NATS client's own connection state. The
 * gateway's PostgreSQL and Redis checks are in its bus health
 * (/health/api-gateway), which needs a round trip to each. */
void gw_handle_health(gw_req *r) {
    bus_actor *a = r->g->actor;
    bool nats = bus_conn_connected(bus_actor_conn(a));
    bool stopping = bus_actor_stopping(a);
    char body[512];
    int n = snprintf(body, sizeof body,
                     "{\"service\":\"api-gateway\",\"id\":\"%s\",\"version\":\"%s\","
                     "\"status\":\"%s\",\"checks\":{\"nats\":{\"ok\":%s}}}",
                     bus_actor_instance(a), TB_VERSION,
                     stopping ? "stopping"
                     : nats   ? "ok"
                              : "degraded",
                     nats ? "true" : "false");
    static const char *const retry_soon[] = {"Retry-After", "1", NULL};
    gw_send(r, nats && !stopping ? 200 : 503, "application/json", body,
            n > 0 && (size_t)n < sizeof body ? (size_t)n : 0,
            nats && !stopping ? NULL : retry_soon);
}

void gw_handle_health_service(gw_req *r) {
    const char *name = r->match.param;
    if (!token_ok(name)) {
        gw_send_fail(r, TB_INVALID, "service", "service: not a service name");
        return;
    }
    char subject[sizeof r->match.param + 16];
    snprintf(subject, sizeof subject, "svc.%s.health", name);
    bus_bytes rep;
    tb_error err = {0};
    int64_t t0 = bus_mono_ns();
    tb_status s = bus_request_bytes(bus_actor_conn(r->g->actor), subject, "", 0, NULL,
                                    r->g->set.bus_timeout_ms, r->id, &rep, &err);
    gw_observe_bus(r->g, "svc.health", bus_mono_ns() - t0);
    if (s == TB_NO_RESPONDERS) {
        gw_send_fail(r, TB_NO_RESPONDERS, "service", "no instance of %s is running", name);
        return;
    }
    if (s != TB_OK) {
        gw_send_error(r, &err);
        return;
    }
    json_t *j = json_loadb(rep.data, rep.len, 0, NULL);
    bus_bytes_free(&rep);
    if (!json_is_object(j)) {
        json_decref(j);
        gw_send_fail(r, TB_ERR, "service", "%s answered health with something that is not JSON",
                     name);
        return;
    }
    const char *st = json_string_value(json_object_get(j, "status"));
    if (st && strcmp(st, "ok") == 0) {
        gw_send_json(r, 200, j);
        return;
    }
    /* Degraded or stopping: worth asking again, like every 503. */
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    static const char *const retry[] = {"Retry-After", "1", NULL};
    if (text == NULL)
        gw_send_fail(r, TB_NOMEM, NULL, "out of memory");
    else
        gw_send(r, 503, "application/json", text, strlen(text), retry);
    free(text);
}

static bool in_csv(const char *list, const char *name) {
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, name, n) == 0) return true;
        p += n + (p[n] == ',');
    }
    return false;
}

/* One service's entry of /health/all. */
static json_t *service_entry(gw_req *r, const char *name, const instance *in, size_t n,
                             json_t *health_by_id, bool *required_down, bool *degraded) {
    bool required = in_csv(r->g->set.required, name);
    json_t *details = json_array();
    int count = 0, healthy = 0, running = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(in[i].name, name) != 0) continue;
        count++;
        json_t *h = json_object_get(health_by_id, in[i].id);
        const char *st = json_string_value(json_object_get(h, "status"));
        bool ok = st && strcmp(st, "ok") == 0;
        healthy += ok;
        /* A degraded instance runs and answers, with a dependency
         * (PostgreSQL, Redis) away: it reconnects by itself and answers
         * "unavailable" meanwhile, so its service is degraded, not down. */
        running += ok || (st && strcmp(st, "degraded") == 0);
        json_t *d = json_pack("{s:s, s:s, s:s}", "id", in[i].id, "version", in[i].version, "status",
                              st ? st : "no_reply");
        json_t *checks = json_object_get(h, "checks");
        if (checks) json_object_set(d, "checks", checks);
        json_array_append_new(details, d);
    }
    const char *status = count == 0        ? "absent"
                         : running == 0    ? "down"
                         : healthy < count ? "degraded"
                                           : "ok";
    if (required && running == 0) *required_down = true;
    if (healthy < count) *degraded = true;
    return json_pack("{s:s, s:b, s:s, s:i, s:i, s:o}", "name", name, "required", required, "status",
                     status, "instances", count, "healthy", healthy, "details", details);
}

/* One collected answer, shared by the callers that send it. */
typedef struct health_answer {
    atomic_int refs;
    int status;
    size_t len;
    char text[];
} health_answer;

struct gw_health_cache {
    pthread_mutex_t lock;
    pthread_cond_t done;
    health_answer *last; /* NULL before the first collection */
    int64_t fresh_until_ns;
    bool collecting;
};

static void answer_unref(health_answer *a) {
    if (a && atomic_fetch_sub(&a->refs, 1) == 1) free(a);
}

gw_health_cache *gw_health_cache_create(void) {
    gw_health_cache *h = calloc(1, sizeof *h);
    if (h == NULL) return NULL;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->done, &ca);
    pthread_condattr_destroy(&ca);
    return h;
}

void gw_health_cache_destroy(gw_health_cache *h) {
    if (h == NULL) return;
    answer_unref(h->last);
    pthread_cond_destroy(&h->done);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

static health_answer *answer_new(int status, const char *text, size_t len) {
    health_answer *a = malloc(sizeof *a + len);
    if (a == NULL) return NULL;
    atomic_init(&a->refs, 1);
    a->status = status;
    a->len = len;
    memcpy(a->text, text, len);
    return a;
}

static health_answer *error_answer(const tb_error *err);

/* The gateway's own NATS connection is away: no service can be asked, and
 * none can be reached by a request either. Degraded (the gateway runs and
 * reconnects), 503 with Retry-After. */
static health_answer *nats_away_answer(void) {
    static const char text[] =
        "{\"status\":\"degraded\",\"instances\":0,\"services\":[],"
        "\"checks\":{\"nats\":{\"ok\":false,\"error\":\"the gateway is reconnecting to "
        "NATS\"}}}";
    return answer_new(503, text, sizeof text - 1);
}

/* Collects every instance's health: the answer (NULL on out of memory). */
static health_answer *collect_health_all(gw_req *r) {
    instance *in = NULL;
    size_t n = 0;
    tb_error err = {0};
    bus_counter_add(
        bus_metrics_counter(bus_actor_metrics(r->g->actor), "tb_gateway_health_collections_total",
                            "Rounds of $SRV.PING and health requests for /health/all", NULL),
        1);
    if (!bus_conn_connected(bus_actor_conn(r->g->actor))) return nats_away_answer();
    if (discover(r, &in, &n, &err) != TB_OK) return error_answer(&err);
    static const char *const fmt[] = {"svc.%s.%s.health"};
    bus_bytes *rep = NULL;
    size_t nrep = 0;
    json_t *by_id = json_object();
    if (n > 0 && gather(r, in, n, fmt, 1, &rep, &nrep, &err) != TB_OK) {
        free(in);
        json_decref(by_id);
        return error_answer(&err);
    }
    for (size_t i = 0; i < nrep; i++) {
        json_t *j = json_loadb(rep[i].data, rep[i].len, 0, NULL);
        const char *id = json_string_value(json_object_get(j, "id"));
        if (id) json_object_set(by_id, id, j);
        json_decref(j);
    }
    bus_bytes_free_many(rep, nrep);
    bool required_down = false, degraded = false;
    json_t *services = json_array();
    for (size_t k = 0; k < gw_known_services_count; k++)
        json_array_append_new(services, service_entry(r, gw_known_services[k], in, n, by_id,
                                                      &required_down, &degraded));
    /* Services outside DESIGN §1 that answer the micro protocol, once each
     * (the list is sorted by name). */
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        for (size_t k = 0; k < gw_known_services_count; k++)
            known |= strcmp(in[i].name, gw_known_services[k]) == 0;
        if (known || (i > 0 && strcmp(in[i - 1].name, in[i].name) == 0)) continue;
        json_array_append_new(
            services, service_entry(r, in[i].name, in, n, by_id, &required_down, &degraded));
    }
    /* A required service named in the settings but not in DESIGN §1. */
    for (const char *p = r->g->set.required; *p;) {
        char name[TB_TOKEN_CAP];
        size_t len = strcspn(p, ",");
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        bool listed = false;
        size_t i;
        json_t *e;
        json_array_foreach(services, i, e) listed |=
            strcmp(json_string_value(json_object_get(e, "name")), name) == 0;
        if (!listed)
            json_array_append_new(services,
                                  service_entry(r, name, in, n, by_id, &required_down, &degraded));
        p += len + (p[len] == ',');
    }
    json_decref(by_id);
    free(in);
    const char *status = required_down ? "down" : degraded ? "degraded" : "ok";
    json_t *body = json_pack("{s:s, s:I, s:o}", "status", status, "instances", (json_int_t)n,
                             "services", services);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    health_answer *a = text ? answer_new(required_down ? 503 : 200, text, strlen(text)) : NULL;
    free(text);
    return a;
}

/* A failed collection is an answer too: it is shared and kept like one, so
 * a bus outage does not turn a flood of calls into a flood of pings. */
static health_answer *error_answer(const tb_error *err) {
    tb_status s = err->status == TB_OK ? TB_ERR : err->status;
    json_t *body = json_pack("{s:{s:s, s:s, s:n}}", "error", "code", tb_status_code(s), "message",
                             err->message[0] ? err->message : tb_status_text(s), "field");
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    health_answer *a = text ? answer_new(tb_status_http(s), text, strlen(text)) : NULL;
    free(text);
    return a;
}

/* Longest wait for another caller's collection: discovery plus the
 * gather, with a margin. */
static int64_t wait_cap_ns(const gw *g) {
    return (g->set.discovery_ms + GATHER_MAX_MS + 1000) * INT64_C(1000000);
}

void gw_handle_health_all(gw_req *r) {
    gw_health_cache *h = r->g->health;
    health_answer *a = NULL;
    int64_t deadline = bus_mono_ns() + wait_cap_ns(r->g);
    pthread_mutex_lock(&h->lock);
    for (;;) {
        if (h->last && bus_mono_ns() < h->fresh_until_ns) {
            a = h->last;
            atomic_fetch_add(&a->refs, 1);
            break;
        }
        if (!h->collecting) break;
        int64_t now = bus_mono_ns();
        if (now >= deadline) break; /* collect ourselves rather than wait on */
        struct timespec ts = {.tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000};
        pthread_cond_timedwait(&h->done, &h->lock, &ts);
        /* A collection that just ended is shared even with a zero period. */
        if (h->last && !h->collecting && h->fresh_until_ns >= now) {
            a = h->last;
            atomic_fetch_add(&a->refs, 1);
            break;
        }
    }
    bool mine = a == NULL;
    if (mine) h->collecting = true;
    pthread_mutex_unlock(&h->lock);
    if (mine) {
        int64_t start = bus_mono_ns();
        a = collect_health_all(r);
        pthread_mutex_lock(&h->lock);
        if (a) {
            answer_unref(h->last);
            h->last = a;
            atomic_fetch_add(&a->refs, 1);
            /* From the start: collections begin at least a period apart. */
            h->fresh_until_ns = start + r->g->set.health_cache_ms * INT64_C(1000000);
            if (h->fresh_until_ns < bus_mono_ns()) h->fresh_until_ns = bus_mono_ns();
        }
        h->collecting = false;
        pthread_cond_broadcast(&h->done);
        pthread_mutex_unlock(&h->lock);
    }
    if (a == NULL) {
        gw_send_fail(r, TB_NOMEM, NULL, "out of memory collecting health");
        return;
    }
    static const char *const retry_soon[] = {"Retry-After", "1", NULL};
    gw_send(r, a->status, "application/json", a->text, a->len,
            a->status == 503 ? retry_soon : NULL);
    answer_unref(a);
}

static const char *str_or(const char *s, const char *dflt) {
    return s ? s : dflt;
}

/* Copies the statistics of stats endpoint e into the matching endpoint of
 * the info endpoints list. */
static void merge_stats(json_t *info_eps, json_t *stats_eps) {
    size_t i, k;
    json_t *ie, *se;
    json_array_foreach(info_eps, i, ie) {
        const char *name = json_string_value(json_object_get(ie, "name"));
        json_array_foreach(stats_eps, k, se) {
            const char *sn = json_string_value(json_object_get(se, "name"));
            if (name && sn && strcmp(name, sn) == 0) {
                static const char *const keys[] = {"num_requests", "num_errors", "last_error",
                                                   "processing_time", "average_processing_time"};
                for (size_t x = 0; x < sizeof keys / sizeof keys[0]; x++) {
                    json_t *v = json_object_get(se, keys[x]);
                    if (v) json_object_set(ie, keys[x], v);
                }
            }
        }
    }
}

void gw_handle_services(gw_req *r) {
    instance *in = NULL;
    size_t n = 0;
    tb_error err = {0};
    if (discover(r, &in, &n, &err) != TB_OK) {
        gw_send_error(r, &err);
        return;
    }
    static const char *const fmts[] = {"$SRV.INFO.%s.%s", "$SRV.STATS.%s.%s"};
    bus_bytes *rep = NULL;
    size_t nrep = 0;
    if (n > 0 && gather(r, in, n, fmts, 2, &rep, &nrep, &err) != TB_OK) {
        free(in);
        gw_send_error(r, &err);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "name", in[i].name, "id", in[i].id, "version",
                              in[i].version);
        json_t *info = NULL, *stats = NULL;
        for (size_t k = 0; k < nrep; k++) {
            json_t *j = json_loadb(rep[k].data, rep[k].len, 0, NULL);
            const char *id = json_string_value(json_object_get(j, "id"));
            const char *type = json_string_value(json_object_get(j, "type"));
            if (id && type && strcmp(id, in[i].id) == 0) {
                if (strstr(type, "info_response") && !info) info = json_incref(j);
                if (strstr(type, "stats_response") && !stats) stats = json_incref(j);
            }
            json_decref(j);
        }
        json_t *eps = info ? json_deep_copy(json_object_get(info, "endpoints")) : json_array();
        if (stats) merge_stats(eps, json_object_get(stats, "endpoints"));
        json_object_set_new(
            o, "description",
            json_string(str_or(json_string_value(json_object_get(info, "description")), "")));
        json_object_set_new(
            o, "started",
            json_string(str_or(json_string_value(json_object_get(stats, "started")), "")));
        json_object_set_new(o, "answered", json_boolean(info && stats));
        json_object_set_new(o, "endpoints", eps ? eps : json_array());
        json_decref(info);
        json_decref(stats);
        json_array_append_new(list, o);
    }
    bus_bytes_free_many(rep, nrep);
    free(in);
    gw_send_json(r, 200, json_pack("{s:I, s:o}", "count", (json_int_t)n, "instances", list));
}

void gw_handle_metrics(gw_req *r) {
    gw *g = r->g;
    bus_metrics *m = bus_actor_metrics(g->actor);
    instance *in = NULL;
    size_t n = 0, nrep = 0;
    bus_bytes *rep = NULL;
    tb_error err = {0};
    /* The gateway's own series come from its registry directly, so /metrics
     * works (and says so) even when the bus does not. */
    if (discover(r, &in, &n, &err) != TB_OK) n = 0;
    size_t others = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(in[i].id, bus_actor_instance(g->actor)) != 0) in[others++] = in[i];
    }
    static const char *const fmt[] = {"svc.%s.%s.metrics"};
    if (others > 0 && gather(r, in, others, fmt, 1, &rep, &nrep, &err) != TB_OK) nrep = 0;
    bus_gauge_set(bus_metrics_gauge(m, "tb_gateway_scrape_instances",
                                    "Other instances found for the last /metrics", NULL),
                  (int64_t)others);
    bus_gauge_set(bus_metrics_gauge(m, "tb_gateway_scrape_missing",
                                    "Instances that did not send metrics for the last /metrics",
                                    NULL),
                  (int64_t)(others - (nrep < others ? nrep : others)));
    char *own = NULL;
    size_t own_len = 0;
    gw_prom *p = gw_prom_create();
    bool ok = p && bus_metrics_render(m, &own, &own_len) == 0 && gw_prom_add(p, own, own_len) >= 0;
    for (size_t i = 0; ok && i < nrep; i++) {
        long dropped = gw_prom_add(p, rep[i].data, rep[i].len);
        if (dropped < 0)
            ok = false;
        else if (dropped > 0)
            bus_log(BUS_LOG_WARN, "/metrics: %ld lines of an instance dropped", dropped);
    }
    size_t len = 0;
    char *text = ok ? gw_prom_render(p, &len) : NULL;
    if (text)
        gw_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, NULL);
    else
        gw_send_fail(r, TB_NOMEM, NULL, "out of memory rendering metrics");
    free(text);
    free(own);
    gw_prom_destroy(p);
    bus_bytes_free_many(rep, nrep);
    free(in);
}
