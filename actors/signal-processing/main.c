/* tb-signal-processing: runs the configured strategies over the tick stream.
 *
 * Consumes md.tick.> (queue group signal-processing) and cfg.strategy.* (every
 * instance); produces sig.<strategy_id>.<SYM> (tb_signal, the tick's trace id
 * in the header) and cfg.strategy.<id> after a configuration change. Answers
 * api.strategies.list|get|create|update|delete and api.signals.list.
 * Strategy configuration lives in PostgreSQL (strategies), indicator state in
 * Redis, signals are recorded in PostgreSQL (signals). See README.md. */
#include <stdlib.h>
#include <string.h>

#include "sp.h"
#include "timer.h"

static struct {
    int64_t order_wait_ms, config_ttl_ms, state_ttl_s, list_max, cache_symbols;
} settings;

sp_service *sp_service_of(bus_ctx *ctx) {
    return bus_actor_user(bus_ctx_actor(ctx));
}

static bus_endpoint endpoints[] = {
    {.name = "ticks",
     .kind = BUS_EVENT,
     .subject = "md.tick.>",
     .event = &tb_tick_desc,
     .batch_handler = sp_on_ticks,
     /* One instance sees all of a symbol's ticks, in order (bus/partition.c);
      * all of a backtest run's symbols (bt<N>-<SYM>), so that it emits the
      * run's signals in the order of its file, whatever the batches. */
     .partition_token = 3,
     .partition_key_end = '-'},
    {.name = "strategy-changed",
     .kind = BUS_EVENT,
     .subject = "cfg.strategy.*",
     .event = &tb_strategy_changed_desc,
     .handler = sp_on_strategy_changed,
     .every_instance = true},
    {.name = "strategies-list",
     .kind = BUS_REQUEST,
     .subject = "api.strategies.list",
     .event = &tb_query_desc,
     .handler = sp_on_strategies_list},
    {.name = "strategies-get",
     .kind = BUS_REQUEST,
     .subject = "api.strategies.get",
     .event = &tb_query_desc,
     .handler = sp_on_strategies_get},
    {.name = "strategies-create",
     .kind = BUS_REQUEST,
     .subject = "api.strategies.create",
     .event = &tb_strategy_desc,
     .handler = sp_on_strategies_create},
    {.name = "strategies-check",
     .kind = BUS_REQUEST,
     .subject = "api.strategies.check",
     .event = &tb_strategy_desc,
     .handler = sp_on_strategies_check},
    {.name = "strategies-update",
     .kind = BUS_REQUEST,
     .subject = "api.strategies.update",
     .event = &tb_strategy_desc,
     .handler = sp_on_strategies_update},
    {.name = "strategies-delete",
     .kind = BUS_REQUEST,
     .subject = "api.strategies.delete",
     .event = &tb_query_desc,
     .handler = sp_on_strategies_delete},
    {.name = "signals-list",
     .kind = BUS_REQUEST,
     .subject = "api.signals.list",
     .event = &tb_query_desc,
     .handler = sp_on_signals_list},
};

static tb_status start(bus_actor *a, tb_error *err) {
    sp_service *svc = calloc(1, sizeof *svc);
    if (svc == NULL) return tb_error_set(err, TB_NOMEM, NULL, NULL);
    svc->order_wait_ms = settings.order_wait_ms;
    svc->state_ttl_s = settings.state_ttl_s;
    svc->list_max = settings.list_max;
    svc->cache = sp_cache_create(settings.config_ttl_ms, (size_t)settings.cache_symbols);
    if (svc->cache == NULL) {
        free(svc);
        return tb_error_set(err, TB_NOMEM, NULL, NULL);
    }
    pthread_mutex_init(&svc->revisit_mu, NULL);
    redisContext *r = bus_redis_acquire(bus_actor_redis(a), err);
    tb_status s = r ? sp_ticks_load_script(r, svc, err) : TB_UNAVAILABLE;
    bus_redis_release(bus_actor_redis(a), r);
    if (s != TB_OK) {
        pthread_mutex_destroy(&svc->revisit_mu);
        sp_cache_destroy(svc->cache);
        free(svc);
        return s;
    }
    bus_metrics *m = bus_actor_metrics(a);
    const char *sig_help = "Signals emitted (recorded and published), by side";
    svc->m_signals_buy = bus_metrics_counter(m, "tb_signals_total", sig_help, "side", "buy", NULL);
    svc->m_signals_sell =
        bus_metrics_counter(m, "tb_signals_total", sig_help, "side", "sell", NULL);
    svc->m_gaps = bus_metrics_counter(
        m, "tb_tick_gaps_total", "Gaps in a symbol's tick sequence skipped by a strategy", NULL);
    svc->m_stale = bus_metrics_counter(m, "tb_sp_ticks_stale_total",
                                       "Ticks at or behind a strategy's state, dropped", NULL);
    svc->m_waits = bus_metrics_counter(m, "tb_sp_order_waits_total",
                                       "Ticks that waited for their predecessor", NULL);
    svc->m_cas_retries = bus_metrics_counter(m, "tb_sp_cas_retries_total",
                                             "State compare-and-set lost to another worker", NULL);
    svc->m_resets = bus_metrics_counter(m, "tb_sp_state_resets_total",
                                        "Indicator states restarted (strategy changed, feed "
                                        "restarted, unreadable state)",
                                        NULL);
    svc->m_signal_errors = bus_metrics_counter(m, "tb_sp_signal_errors_total",
                                               "Signals not recorded or not published", NULL);
    svc->m_cfg_events = bus_metrics_counter(m, "tb_sp_config_events_total",
                                            "Strategy change events received", NULL);
    svc->m_bad_parked = bus_metrics_counter(m, "tb_sp_parked_unreadable_total",
                                            "Parked ticks in Redis that could not be read", NULL);
    bus_actor_set_user(a, svc);
    /* Parked ticks whose predecessor was lost are applied once their wait
     * expires: look a few times per wait. */
    int64_t every_ms = settings.order_wait_ms / 4;
    every_ms = every_ms < 5 ? 5 : every_ms > 50 ? 50 : every_ms;
    s = bus_actor_add_timer(a, "parked-ticks", every_ms, sp_revisit_timer, NULL, NULL, err);
    if (s != TB_OK) {
        bus_actor_set_user(a, NULL);
        pthread_mutex_destroy(&svc->revisit_mu);
        sp_cache_destroy(svc->cache);
        free(svc);
        return s;
    }
    bus_log(BUS_LOG_INFO, "signal-processing ready (order wait %lld ms, config ttl %lld ms)",
            (long long)settings.order_wait_ms, (long long)settings.config_ttl_ms);
    return TB_OK;
}

static void stop(bus_actor *a) {
    sp_service *svc = bus_actor_user(a);
    if (svc == NULL) return;
    bus_actor_set_user(a, NULL);
    sp_revisit_free(svc);
    pthread_mutex_destroy(&svc->revisit_mu);
    sp_cache_destroy(svc->cache);
    free(svc);
}

static void usage(FILE *f) {
    fprintf(f, "  SP_ORDER_WAIT_MS    how long a tick waits for its predecessor to be applied\n"
               "                      before the gap is skipped (default 200)\n"
               "  SP_CONFIG_TTL_MS    lifetime of cached strategy configuration (default 30000)\n"
               "  SP_STATE_TTL_S      expiry of idle indicator state in Redis, 0 = never\n"
               "                      (default 604800, 7 days)\n"
               "  SP_LIST_MAX         largest page of api.strategies.list / api.signals.list\n"
               "                      (default 1000)\n"
               "  SP_CACHE_SYMBOLS    symbols kept in the configuration cache (default 100000)\n");
}

static bus_actor_def def = {
    .name = SP_SERVICE,
    .version = "0.1.0",
    .description = "Runs trading strategies over market ticks and publishes signals",
    .endpoints = endpoints,
    .nendpoints = sizeof endpoints / sizeof endpoints[0],
    .needs = BUS_NEEDS_PG | BUS_NEEDS_REDIS,
    .start = start,
    .stop = stop,
    .usage = usage,
};

int main(int argc, char **argv) {
    tb_error err = {0};
    if (bus_env_int("SP_ORDER_WAIT_MS", 200, 0, 60000, &settings.order_wait_ms, &err) != TB_OK ||
        bus_env_int("SP_CONFIG_TTL_MS", 30000, 100, 86400000, &settings.config_ttl_ms, &err) !=
            TB_OK ||
        bus_env_int("SP_STATE_TTL_S", 604800, 0, INT32_MAX, &settings.state_ttl_s, &err) != TB_OK ||
        bus_env_int("SP_LIST_MAX", 1000, 1, 100000, &settings.list_max, &err) != TB_OK ||
        bus_env_int("SP_CACHE_SYMBOLS", 100000, 1, 10000000, &settings.cache_symbols, &err) !=
            TB_OK) {
        fprintf(stderr, "tb-signal-processing: %s\n", err.message);
        return 2;
    }
    return bus_actor_main(&def, argc, argv);
}
