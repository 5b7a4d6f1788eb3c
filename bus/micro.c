/* The NATS micro service protocol, by hand (nats.c 3.4 has no micro API).
 *
 * Every instance answers $SRV.PING, $SRV.INFO and $SRV.STATS, each also as
 * $SRV.<verb>.<name> and $SRV.<verb>.<name>.<id>, without a queue group so a
 * discovery request hears every instance. Response shapes follow ADR-32
 * (io.nats.micro.v1.{ping,info,stats}_response), so `nats micro ls|info|stats`
 * work against tradebus services. */
#include <string.h>

#include "actor_internal.h"

static json_t *identity(bus_actor *a, const char *type) {
    return json_pack("{s:s, s:s, s:s, s:{}, s:s}", "name", a->def->name, "id", a->cfg.instance,
                     "version", a->def->version, "metadata", "type", type);
}

static const char *queue_of(const bus_actor *a, const bus_endpoint *ep) {
    if (ep->kind == BUS_EVENT && ep->every_instance) return "";
    if (ep->kind == BUS_STREAM) return ep->stream.durable;
    return a->def->name;
}

static json_t *build_info(bus_actor *a) {
    json_t *r = identity(a, "io.nats.micro.v1.info_response");
    json_t *eps = json_array();
    for (size_t i = 0; i < a->neps; i++) {
        const bus_endpoint *ep = a->eps[i].ep;
        static const char *const kinds[] = {"request", "event", "stream"};
        json_array_append_new(eps, json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "name", ep->name,
                                             "subject", ep->subject, "queue_group", queue_of(a, ep),
                                             "metadata", "kind", kinds[ep->kind], "schema",
                                             ep->event ? ep->event->name : "raw"));
    }
    json_object_set_new(r, "description", json_string(a->def->description));
    json_object_set_new(r, "endpoints", eps);
    return r;
}

static json_t *build_stats(bus_actor *a) {
    json_t *r = identity(a, "io.nats.micro.v1.stats_response");
    char started[40];
    tb_ts_format(a->started_wall_ns, started);
    json_object_set_new(r, "started", json_string(started));
    json_t *eps = json_array();
    for (size_t i = 0; i < a->neps; i++) {
        ep_state *e = &a->eps[i];
        uint64_t n = atomic_load(&e->num_requests);
        int64_t t = atomic_load(&e->processing_ns);
        char last[sizeof e->last_error];
        pthread_mutex_lock(&e->last_error_lock);
        memcpy(last, e->last_error, sizeof last);
        pthread_mutex_unlock(&e->last_error_lock);
        json_t *le = json_string(last);
        json_array_append_new(
            eps,
            json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:n, s:I, s:I}", "name", e->ep->name,
                      "subject", e->ep->subject, "queue_group", queue_of(a, e->ep), "num_requests",
                      (json_int_t)n, "num_errors", (json_int_t)atomic_load(&e->num_errors),
                      "last_error", le ? le : json_string("(unprintable)"), "data",
                      "processing_time", (json_int_t)t, "average_processing_time",
                      (json_int_t)(n ? t / (int64_t)n : 0)));
    }
    json_object_set_new(r, "endpoints", eps);
    return r;
}

/* Which verb a $SRV subject asks for: the second token. */
static void on_srv(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)sub;
    bus_actor *a = closure;
    const char *subj = natsMsg_GetSubject(msg);
    json_t *body = NULL;
    if (strncmp(subj, "$SRV.PING", 9) == 0)
        body = identity(a, "io.nats.micro.v1.ping_response");
    else if (strncmp(subj, "$SRV.INFO", 9) == 0)
        body = build_info(a);
    else if (strncmp(subj, "$SRV.STATS", 10) == 0)
        body = build_stats(a);
    if (body != NULL) bus_send_json(nc, msg, body);
    json_decref(body);
    bus_msg_destroy(msg);
}

tb_status bus_micro_subscribe(bus_actor *a, tb_error *err) {
    static const char *const verbs[] = {"PING", "INFO", "STATS"};
    char subj[256];
    for (int v = 0; v < 3; v++) {
        for (int level = 0; level < 3; level++) {
            if (level == 0)
                snprintf(subj, sizeof subj, "$SRV.%s", verbs[v]);
            else if (level == 1)
                snprintf(subj, sizeof subj, "$SRV.%s.%s", verbs[v], a->def->name);
            else
                snprintf(subj, sizeof subj, "$SRV.%s.%s.%s", verbs[v], a->def->name,
                         a->cfg.instance);
            tb_status s = bus_actor_sys_subscribe(a, subj, NULL, on_srv, err);
            if (s != TB_OK) return s;
        }
    }
    return TB_OK;
}
