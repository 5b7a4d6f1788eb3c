/* tb-market-data: the price feed of tradebus.
 *
 * Consumes nothing from the bus. Produces md.tick.<SYM> (tb_tick, per-symbol
 * seq from Redis, trace id "<source>-<SYM>-<seq>") and md.status.<source>
 * (tb_md_status running/done/failed) from a seeded GBM simulator
 * (MD_MODE=sim) or a CSV replay (MD_MODE=replay), published on the buffered
 * bulk connection. Keeps the last quote per symbol in Redis and answers
 * api.market.symbols, api.market.quote, api.market.replay (CSV replay on a
 * background thread) and api.market.status. Listens on every instance to
 * bus.flow.> (tb_flow): the tick consumers' progress paces replays at speed 0
 * (md_flowctl.c). Settings: md_settings.c and README.md. */
#include <stdlib.h>
#include <string.h>

#include "md_service.h"
#include "timer.h"

static const bus_endpoint endpoints[] = {
    {.name = "symbols",
     .kind = BUS_REQUEST,
     .subject = "api.market.symbols",
     .event = &tb_query_desc,
     .handler = md_api_symbols},
    {.name = "quote",
     .kind = BUS_REQUEST,
     .subject = "api.market.quote",
     .event = &tb_query_desc,
     .handler = md_api_quote},
    {.name = "replay",
     .kind = BUS_REQUEST,
     .subject = "api.market.replay",
     .event = &tb_market_replay_desc,
     .handler = md_api_replay},
    {.name = "status",
     .kind = BUS_REQUEST,
     .subject = "api.market.status",
     .event = &tb_query_desc,
     .handler = md_api_status},
    /* Every instance: only the one running the feed can stop it. */
    {.name = "replay-cancel",
     .kind = BUS_EVENT,
     .subject = "md.replay.cancel",
     .event = &tb_query_desc,
     .handler = md_api_cancel,
     .every_instance = true},
    /* Every instance: whichever runs a replay needs every report. */
    {.name = "flow",
     .kind = BUS_EVENT,
     .subject = "bus.flow.>",
     .event = &tb_flow_desc,
     .handler = md_flowctl_on_report,
     .every_instance = true},
};

static void destroy_service(md_service *svc) {
    if (svc == NULL) return;
    free(svc->cfg.symbols);
    if (svc->flow_ready) md_flowctl_destroy(svc);
    pthread_mutex_destroy(&svc->lock);
    free(svc);
}

static tb_status start(bus_actor *a, tb_error *err) {
    md_service *svc = calloc(1, sizeof *svc);
    if (svc == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    pthread_mutex_init(&svc->lock, NULL);
    svc->actor = a;
    tb_status s = md_settings_load(&svc->cfg, err);
    if (s == TB_OK && svc->cfg.mode == MD_MODE_REPLAY) {
        /* A missing replay file is a configuration error, found at start. */
        md_replay_req req = {0};
        snprintf(req.path, sizeof req.path, "%s", svc->cfg.replay_file);
        s = md_replay_check_path(svc, false, &req, err);
        if (s != TB_OK) s = TB_INVALID;
    }
    if (s == TB_OK) {
        s = md_flowctl_init(svc);
        if (s != TB_OK) tb_error_set(err, s, NULL, "cannot set up replay flow control");
        svc->flow_ready = s == TB_OK;
    }
    if (s != TB_OK) {
        destroy_service(svc);
        return s;
    }
    bus_metrics *m = bus_actor_metrics(a);
    svc->m_ticks = bus_metrics_counter(m, "tb_ticks_published_total", "Ticks published", NULL);
    svc->m_rate = bus_metrics_gauge(m, "tb_tick_rate",
                                    "Ticks published per second, sampled every second", NULL);
    svc->m_rejected = bus_metrics_counter(m, "tb_replay_rows_rejected_total",
                                          "Malformed CSV rows skipped by replays", NULL);
    svc->m_publish_errors = bus_metrics_counter(m, "tb_md_publish_errors_total",
                                                "Ticks or statuses NATS refused", NULL);
    svc->m_store_errors = bus_metrics_counter(
        m, "tb_md_store_errors_total", "Failed Redis writes of seqs, quotes or status", NULL);
    svc->m_flow_stalls = bus_metrics_counter(
        m, "tb_replay_consumer_stalls_total",
        "Tick consumers a full-speed replay stopped waiting for (no progress for "
        "MD_REPLAY_STALL_MS)",
        NULL);
    svc->m_resent = bus_metrics_counter(
        m, "tb_replay_resent_ticks_total",
        "Ticks a full-speed replay published again after a consumer stalled or fell short", NULL);
    svc->m_flow_wait =
        bus_metrics_counter(m, "tb_replay_flow_waits_total",
                            "Times a full-speed replay waited for its slowest tick consumer", NULL);
    svc->m_orphans = bus_metrics_counter(
        m, "tb_md_feeds_orphaned_total",
        "Feeds ended as failed because the process running them died without ending them", NULL);
    svc->m_resumed = bus_metrics_counter(
        m, "tb_replay_resumed_total",
        "Replays this instance took over and resumed after the process running them died", NULL);
    md_owner_init(svc);
    bus_actor_set_user(a, svc);
    s = bus_actor_add_timer(a, "feed-owners", MD_OWNER_RENEW_MS, md_owner_tick, NULL, NULL, err);
    if (s != TB_OK) {
        bus_actor_set_user(a, NULL);
        destroy_service(svc);
    }
    return s;
}

static void run(bus_actor *a) {
    md_service *svc = md_service_of(a);
    switch (svc->cfg.mode) {
    case MD_MODE_SIM:
        md_sim_run(svc);
        break;
    case MD_MODE_REPLAY: {
        md_replay_req req = {.format = svc->cfg.replay_format, .speed = svc->cfg.replay_speed};
        snprintf(req.path, sizeof req.path, "%s", svc->cfg.replay_file);
        snprintf(req.source, sizeof req.source, "%s", svc->cfg.source);
        md_replay_run(svc, &req);
        break;
    }
    case MD_MODE_OFF:
        bus_log(BUS_LOG_INFO, "MD_MODE=off: no feed until api.market.replay");
        break;
    }
}

static void stop(bus_actor *a) {
    md_service *svc = md_service_of(a);
    if (svc == NULL) return;
    md_replay_stop_background(svc);
    bus_actor_set_user(a, NULL);
    destroy_service(svc);
}

static const bus_actor_def def = {
    .name = "market-data",
    .version = "0.1.0",
    .description = "Price feed: seeded GBM simulator and CSV replay publishing md.tick.<SYM>; "
                   "last quotes in Redis",
    .endpoints = endpoints,
    .nendpoints = sizeof endpoints / sizeof endpoints[0],
    .needs = BUS_NEEDS_REDIS,
    .bulk_publisher = true,
    .start = start,
    .run = run,
    .stop = stop,
    .usage = md_settings_usage,
};

int main(int argc, char **argv) {
    return bus_actor_main(&def, argc, argv);
}
