/* svc.<name>.health and svc.<name>.metrics, plus the per-instance forms
 * svc.<name>.<id>.health|metrics.
 *
 * The plain forms are served by the queue group (any instance answers: "is
 * the service up?"); the per-instance forms let the gateway ask each instance
 * found through $SRV.PING. Health is JSON:
 *   {"service","id","version","status":"ok|degraded|stopping",
 *    "checks":{"nats":{"ok":true,"latency_ms":0.2},"postgres":{...},"redis":{...}}}
 * Metrics are the Prometheus text of the instance's registry. */
#include <stdlib.h>
#include <string.h>

#include "actor_internal.h"
#include "wire.h"

static json_t *check(int64_t ns, const tb_error *err) {
    if (ns < 0)
        return json_pack("{s:b, s:s}", "ok", 0, "error",
                         err->message[0] ? err->message : "unreachable");
    return json_pack("{s:b, s:f}", "ok", 1, "latency_ms", (double)ns / 1e6);
}

static void on_health(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)sub;
    bus_actor *a = closure;
    bool ok = true;
    json_t *checks = json_object();
    tb_error err = {0};
    int64_t rtt = bus_conn_rtt_ns(a->conn);
    ok &= rtt >= 0;
    json_object_set_new(checks, "nats", check(rtt, &err));
    if (a->pg) {
        tb_error_clear(&err);
        int64_t ns = bus_pg_ping_ns(a->pg, &err);
        ok &= ns >= 0;
        json_object_set_new(checks, "postgres", check(ns, &err));
    }
    if (a->redis) {
        tb_error_clear(&err);
        int64_t ns = bus_redis_ping_ns(a->redis, &err);
        ok &= ns >= 0;
        json_object_set_new(checks, "redis", check(ns, &err));
    }
    const char *status = atomic_load(&a->stopping) ? "stopping" : ok ? "ok" : "degraded";
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:s, s:o}", "service", a->def->name, "id", a->cfg.instance,
                  "version", a->def->version, "status", status, "checks", checks);
    bus_send_json(nc, msg, body);
    json_decref(body);
    bus_msg_destroy(msg);
}

static void on_metrics(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)sub;
    bus_actor *a = closure;
    char *text = NULL;
    size_t len = 0;
    const char *reply = natsMsg_GetReply(msg);
    if (reply && reply[0] && bus_metrics_render(a->metrics, &text, &len) == 0) {
        natsMsg *m = NULL;
        natsStatus s = natsMsg_Create(&m, reply, NULL, text, (int)len);
        if (s == NATS_OK)
            s = natsMsgHeader_Set(m, BUS_HDR_CONTENT_TYPE, "text/plain; version=0.0.4");
        if (s == NATS_OK) s = natsConnection_PublishMsg(nc, m);
        bus_msg_destroy(m);
    }
    free(text);
    bus_msg_destroy(msg);
}

tb_status bus_health_subscribe(bus_actor *a, tb_error *err) {
    char subj[256];
    const char *n = a->def->name, *id = a->cfg.instance;
    tb_status s;
    snprintf(subj, sizeof subj, "svc.%s.health", n);
    if ((s = bus_actor_sys_subscribe(a, subj, n, on_health, err)) != TB_OK) return s;
    snprintf(subj, sizeof subj, "svc.%s.%s.health", n, id);
    if ((s = bus_actor_sys_subscribe(a, subj, NULL, on_health, err)) != TB_OK) return s;
    snprintf(subj, sizeof subj, "svc.%s.metrics", n);
    if ((s = bus_actor_sys_subscribe(a, subj, n, on_metrics, err)) != TB_OK) return s;
    snprintf(subj, sizeof subj, "svc.%s.%s.metrics", n, id);
    return bus_actor_sys_subscribe(a, subj, NULL, on_metrics, err);
}
