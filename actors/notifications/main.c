/* tb-notifications: alert rules, alerts and signed webhooks (DESIGN §1, §3).
 *
 * Consumes fills.> (JetStream FILLS, durable "notifications"),
 * risk.decision.>, md.tick.>, pos.update.> and alerts.> (core NATS, queue
 * group "notifications"); evaluates alert rules on them (notif_events.c);
 * produces alerts.<severity>.<kind> and records every alert and webhook
 * delivery in PostgreSQL; a timer POSTs the webhook_outbox rows
 * (notif_deliver.c). Answers api.webhooks.* and api.alerts.* (notif_api.c).
 * State lives in PostgreSQL (alerts, outbox) and Redis (crossing state), so
 * any number of copies may run and any may die. */
#include <curl/curl.h>
#include <stdlib.h>

#include "actor.h"
#include "notif_api.h"
#include "notif_deliver.h"
#include "notif_events.h"
#include "notif_service.h"
#include "wire.h"

static notif_service service;

static bus_endpoint endpoints[] = {
    {.name = "fills",
     .kind = BUS_STREAM,
     .subject = "fills.>",
     .event = &tb_fill_desc,
     .batch_handler = notif_on_fills,
     /* The durable's first start does not replay the stream's week of
      * fills to the webhooks; afterwards it resumes where it stopped. */
     .stream = {.stream = BUS_STREAM_FILLS,
                .durable = "notifications",
                .batch = 128,
                .deliver_new = true}},
    {.name = "risk-decisions",
     .kind = BUS_EVENT,
     .subject = "risk.decision.>",
     .event = &tb_risk_decision_desc,
     .batch_handler = notif_on_decisions},
    {.name = "ticks",
     .kind = BUS_EVENT,
     .subject = "md.tick.>",
     .event = &tb_tick_desc,
     .batch_handler = notif_on_ticks,
     /* one instance sees all of a symbol's ticks, in order (bus/partition.c) */
     .partition_token = 3},
    {.name = "positions",
     .kind = BUS_EVENT,
     .subject = "pos.update.>",
     .event = &tb_position_update_desc,
     .handler = notif_on_position},
    {.name = "alerts",
     .kind = BUS_EVENT,
     .subject = "alerts.>",
     .event = &tb_alert_desc,
     .handler = notif_on_alert},
    {.name = "webhooks-list",
     .kind = BUS_REQUEST,
     .subject = "api.webhooks.list",
     .event = &tb_query_desc,
     .handler = notif_api_webhooks_list},
    {.name = "webhooks-create",
     .kind = BUS_REQUEST,
     .subject = "api.webhooks.create",
     .event = &tb_webhook_desc,
     .handler = notif_api_webhooks_create},
    {.name = "webhooks-delete",
     .kind = BUS_REQUEST,
     .subject = "api.webhooks.delete",
     .event = &tb_query_desc,
     .handler = notif_api_webhooks_delete},
    {.name = "webhooks-deliveries",
     .kind = BUS_REQUEST,
     .subject = "api.webhooks.deliveries",
     .event = &tb_query_desc,
     .handler = notif_api_webhooks_deliveries},
    {.name = "alerts-list",
     .kind = BUS_REQUEST,
     .subject = "api.alerts.list",
     .event = &tb_query_desc,
     .handler = notif_api_alerts_list},
    {.name = "rules-list",
     .kind = BUS_REQUEST,
     .subject = "api.alerts.rules.list",
     .event = &tb_query_desc,
     .handler = notif_api_rules_list},
    {.name = "rules-create",
     .kind = BUS_REQUEST,
     .subject = "api.alerts.rules.create",
     .event = &tb_alert_rule_desc,
     .handler = notif_api_rules_create},
    {.name = "rules-delete",
     .kind = BUS_REQUEST,
     .subject = "api.alerts.rules.delete",
     .event = &tb_query_desc,
     .handler = notif_api_rules_delete},
};

static tb_status start(bus_actor *a, tb_error *err) {
    bus_metrics *m = bus_actor_metrics(a);
    notif_service *s = &service;
    for (int k = 0; k < NOTIF_KIND_COUNT; k++)
        s->m_alerts[k] = bus_metrics_counter(m, "tb_alerts_total", "Alerts raised by rule kind",
                                             "kind", notif_kind_name((notif_kind)k), NULL);
    s->m_foreign_alerts = bus_metrics_counter(
        m, "tb_alerts_recorded_total", "Alerts raised by other services and recorded here", NULL);
    s->m_enqueued = bus_metrics_counter(m, "tb_webhook_enqueued_total",
                                        "Webhook deliveries enqueued in the outbox", NULL);
    const char *dh = "Webhook delivery attempts by outcome";
    s->m_delivered =
        bus_metrics_counter(m, "tb_webhook_deliveries_total", dh, "outcome", "delivered", NULL);
    s->m_retried =
        bus_metrics_counter(m, "tb_webhook_deliveries_total", dh, "outcome", "retry", NULL);
    s->m_dead = bus_metrics_counter(m, "tb_webhook_deliveries_total", dh, "outcome", "dead", NULL);
    s->m_dead_total =
        bus_metrics_counter(m, "tb_webhook_dead_total",
                            "Webhook deliveries dead-lettered after the last attempt", NULL);
    s->m_eval_errors = bus_metrics_counter(m, "tb_notif_eval_errors_total",
                                           "Rule evaluations that failed (store or valuation "
                                           "unavailable, values out of range)",
                                           NULL);
    notif_cache_init(&s->cache);
    s->prices = notif_throttle_create(s->set.price_interval_ms * 1000000, 4096);
    s->equity = notif_throttle_create(s->set.equity_interval_ms * 1000000, 4096);
    if (s->prices == NULL || s->equity == NULL)
        return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    bus_actor_set_user(a, s);
    tb_status st = notif_cache_start(a, err);
    if (st == TB_OK) st = notif_events_start(a, err);
    if (st == TB_OK) st = notif_deliver_start(a, err);
    return st;
}

static void usage(FILE *f) {
    fprintf(
        f,
        "notifications settings:\n"
        "  NOTIF_DELIVERY_INTERVAL_MS   webhook delivery round every (default 500)\n"
        "  NOTIF_DELIVERY_BATCH         deliveries claimed per round, sent in parallel (default "
        "32)\n"
        "  NOTIF_HTTP_TIMEOUT_MS        timeout of one POST (default 5000)\n"
        "  NOTIF_BACKOFF_BASE_MS        delay after the first failure, doubled per failure\n"
        "                               (default 1000)\n"
        "  NOTIF_BACKOFF_MAX_MS         longest delay between attempts (default 300000)\n"
        "  NOTIF_MAX_ATTEMPTS           attempts before a delivery is dead-lettered (default 10)\n"
        "  NOTIF_DELIVERED_RETENTION_H  delivered rows kept this long; 0 = forever (default 168)\n"
        "  NOTIF_RULES_REFRESH_MS       reload of price/position/drawdown rules (default 1000)\n"
        "  NOTIF_PRICE_INTERVAL_MS      price rules evaluated at most once per symbol per\n"
        "                               interval, the latest tick last; 0 = every tick (default "
        "250)\n"
        "  NOTIF_EQUITY_INTERVAL_MS     drawdown evaluated at most once per account per\n"
        "                               interval; 0 = every position update (default 1000)\n"
        "  NOTIF_EQUITY_TIMEOUT_MS      timeout of api.accounts.get for equity (default 2000)\n"
        "  NOTIF_STATE_TTL_S            idle crossing state kept in Redis (default 604800)\n"
        "  NOTIF_FILLS_SUBJECT          fills consumed (default fills.>)\n"
        "  NOTIF_FILLS_DURABLE          JetStream durable consumer (default notifications)\n"
        "  NOTIF_ACK_WAIT_MS            redelivery delay of an unacked fill (default 30000)\n"
        "  NOTIF_MAX_DELIVER            deliveries before a failing fill is dead-lettered\n"
        "                               (default 10)\n"
        "  NOTIF_WEBHOOK_ALLOW          webhook hosts or address blocks exempt from the\n"
        "                               loopback/private/link-local refusal, comma-separated\n"
        "                               (e.g. hooks.internal,10.1.0.0/16; default none)\n");
}

static bus_actor_def def = {
    .name = "notifications",
    .version = "0.1.0",
    .description = "Alert rules, alerts and signed, retried webhooks",
    .endpoints = endpoints,
    .nendpoints = sizeof endpoints / sizeof endpoints[0],
    .needs = BUS_NEEDS_PG | BUS_NEEDS_REDIS | BUS_NEEDS_STREAMS,
    .start = start,
    .usage = usage,
};

static int settings(void) {
    tb_error err = {0};
    notif_settings *s = &service.set;
    int64_t ack_wait, max_deliver;
    struct {
        const char *name;
        int64_t dflt, min, max;
        int64_t *out;
    } ints[] = {
        {"NOTIF_DELIVERY_INTERVAL_MS", 500, 10, 3600000, &s->delivery_interval_ms},
        {"NOTIF_DELIVERY_BATCH", 32, 1, 1000, &s->batch},
        {"NOTIF_HTTP_TIMEOUT_MS", 5000, 100, 600000, &s->http_timeout_ms},
        {"NOTIF_BACKOFF_BASE_MS", 1000, 1, 86400000, &s->backoff_base_ms},
        {"NOTIF_BACKOFF_MAX_MS", 300000, 1, 604800000, &s->backoff_max_ms},
        {"NOTIF_MAX_ATTEMPTS", 10, 1, 1000, &s->max_attempts},
        {"NOTIF_DELIVERED_RETENTION_H", 168, 0, 876000, &s->retention_h},
        {"NOTIF_RULES_REFRESH_MS", 1000, 50, 3600000, &s->rules_refresh_ms},
        {"NOTIF_PRICE_INTERVAL_MS", 250, 0, 3600000, &s->price_interval_ms},
        {"NOTIF_EQUITY_INTERVAL_MS", 1000, 0, 3600000, &s->equity_interval_ms},
        {"NOTIF_EQUITY_TIMEOUT_MS", 2000, 100, 60000, &s->equity_timeout_ms},
        {"NOTIF_STATE_TTL_S", 604800, 60, 315360000, &s->state_ttl_s},
        {"NOTIF_ACK_WAIT_MS", 30000, 100, 3600000, &ack_wait},
        {"NOTIF_MAX_DELIVER", 10, 1, 1000, &max_deliver},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if (bus_env_int(ints[i].name, ints[i].dflt, ints[i].min, ints[i].max, ints[i].out, &err) !=
            TB_OK) {
            fprintf(stderr, "tb-notifications: %s\n", err.message);
            return 2;
        }
    }
    if (s->backoff_max_ms < s->backoff_base_ms) {
        fprintf(stderr, "tb-notifications: NOTIF_BACKOFF_MAX_MS is below NOTIF_BACKOFF_BASE_MS\n");
        return 2;
    }
    if (notif_allow_parse(bus_env("NOTIF_WEBHOOK_ALLOW", ""), &s->allow, &err) != TB_OK) {
        fprintf(stderr, "tb-notifications: %s\n", err.message);
        return 2;
    }
    endpoints[0].subject = bus_env("NOTIF_FILLS_SUBJECT", "fills.>");
    endpoints[0].stream.durable = bus_env("NOTIF_FILLS_DURABLE", "notifications");
    endpoints[0].stream.ack_wait_ms = ack_wait;
    endpoints[0].stream.max_deliver = (int)max_deliver;
    return 0;
}

int main(int argc, char **argv) {
    int rc = settings();
    if (rc != 0) return rc;
    /* Before any thread exists: libcurl's global init is not thread-safe. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "tb-notifications: libcurl cannot be initialised\n");
        return 1;
    }
    rc = bus_actor_main(&def, argc, argv);
    notif_throttle_destroy(service.prices);
    notif_throttle_destroy(service.equity);
    if (service.prices || service.equity) notif_cache_close(&service.cache);
    curl_global_cleanup();
    return rc;
}
