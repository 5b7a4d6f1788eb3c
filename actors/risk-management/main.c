/* tb-risk-management: pre-trade risk checks and the birth of every order.
 *
 * Consumes: api.orders.submit and api.orders.submit_group (requests), sig.>
 * (signals, queue group), api.risk.limits.get|set, api.risk.killswitch,
 * api.risk.accounts.get and api.risk.positions.get (requests).
 * Produces: orders.new.<account> and orders.cancel.<account> on the ORDERS
 * stream (through the PostgreSQL outbox, Nats-Msg-Id = order id /
 * "cancel-<order id>"), risk.decision.<account> (core).
 * Asks: api.market.quote (market-data), api.positions.get and
 * api.accounts.get (position-management), api.bars.query (historical-data).
 * Reads position-management's positions rows for the checks (the same rows
 * api.positions.list answers from, without a request per batch).
 *
 * Run: NATS_URL=... DATABASE_URL=... REDIS_URL=... tb-risk-management
 * (--help lists the settings). */
#include <stdlib.h>

#include "outbox.h"
#include "quotes.h"
#include "risk_api.h"
#include "risk_batch.h"
#include "risk_flow.h"
#include "risk_portfolio_api.h"
#include "risk_store.h"
#include "timer.h"

static risk_service service;
static int64_t relay_interval_ms;

static const bus_endpoint endpoints[] = {
    {.name = "submit",
     .kind = BUS_REQUEST,
     .subject = "api.orders.submit",
     .event = &tb_order_request_desc,
     .batch_handler = risk_on_submits,
     .batch_max = RISK_BATCH_MAX},
    {.name = "submit-group",
     .kind = BUS_REQUEST,
     .subject = "api.orders.submit_group",
     .event = &tb_order_group_request_desc,
     .handler = risk_on_submit_group},
    {.name = "signals",
     .kind = BUS_EVENT,
     .subject = "sig.>",
     .event = &tb_signal_desc,
     .batch_handler = risk_on_signals,
     .batch_max = RISK_BATCH_MAX},
    {.name = "limits-get",
     .kind = BUS_REQUEST,
     .subject = "api.risk.limits.get",
     .event = &tb_query_desc,
     .handler = risk_on_limits_get},
    {.name = "limits-set",
     .kind = BUS_REQUEST,
     .subject = "api.risk.limits.set",
     .event = &tb_risk_limits_desc,
     .handler = risk_on_limits_set},
    {.name = "account-risk",
     .kind = BUS_REQUEST,
     .subject = "api.risk.accounts.get",
     .event = &tb_query_desc,
     .handler = risk_on_account_risk},
    {.name = "position-risk",
     .kind = BUS_REQUEST,
     .subject = "api.risk.positions.get",
     .event = &tb_query_desc,
     .handler = risk_on_position_risk},
    {.name = "killswitch",
     .kind = BUS_REQUEST,
     .subject = "api.risk.killswitch",
     .event = &tb_kill_switch_desc,
     .handler = risk_on_killswitch},
    {.name = "amend",
     .kind = BUS_REQUEST,
     .subject = "api.orders.amend",
     .event = &tb_order_amend_desc,
     .handler = risk_on_amend},
};

static void sweep_quotes(bus_actor *a, void *arg) {
    (void)a;
    bus_quotes_sweep(arg);
}

static tb_status start(bus_actor *a, tb_error *err) {
    service.m_duplicate_signals =
        bus_metrics_counter(bus_actor_metrics(a), "tb_risk_duplicate_signals_total",
                            "Signals ignored because they were already decided", NULL);
    service.m_backtest_retries = bus_metrics_counter(
        bus_actor_metrics(a), "tb_risk_backtest_retries_total",
        "Requests of a backtest signal asked again because a dependency did not answer in time",
        NULL);
    service.m_backtest_settle = bus_metrics_histogram(
        bus_actor_metrics(a), "tb_risk_backtest_settle_seconds",
        "How long a backtest signal waited for its account's earlier orders to be filled and "
        "booked",
        NULL);
    service.quotes =
        bus_quotes_create(bus_actor_conn(a), bus_actor_metrics(a), "tb_risk", service.quote_cache,
                          service.quote_verify_ms, service.quote_idle_ms);
    if (service.quotes == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    bus_actor_set_user(a, &service);
    tb_status s = bus_outbox_start_relay(a, RISK_PRODUCER, relay_interval_ms, err);
    int64_t sweep_ms = service.quote_idle_ms / 2 < 10000 ? service.quote_idle_ms / 2 : 10000;
    if (s == TB_OK)
        s = bus_actor_add_timer(a, "quote-cache-sweep", sweep_ms, sweep_quotes, service.quotes,
                                NULL, err);
    if (s != TB_OK) { /* nothing follows the cache yet; stop may not run */
        bus_quotes_destroy(service.quotes);
        service.quotes = NULL;
    }
    return s;
}

/* Timers have stopped and the handlers drained; the connection is still
 * open, so the cache can unsubscribe. */
static void stop(bus_actor *a) {
    (void)a;
    bus_quotes_destroy(service.quotes);
    service.quotes = NULL;
}

static void usage(FILE *f) {
    fprintf(f, "  RISK_DEPENDENCY_TIMEOUT_MS  wait for market-data and position-management "
               "answers (default 1000)\n"
               "  RISK_OUTBOX_INTERVAL_MS     background outbox relay period (default 1000)\n"
               "  RISK_RATE_WINDOW_MS         order-rate window; max_orders_per_sec counts\n"
               "                              the orders of one window (default 1000; only\n"
               "                              tests lengthen it)\n"
               "  RISK_FEE_BPS                fees reserved with buying power, basis points of\n"
               "                              the notional (0..1000; default 0; set it to\n"
               "                              trading-execution's EXEC_FEE_BPS)\n"
               "  RISK_VAR_DAYS               daily returns the historical VaR uses per symbol\n"
               "                              (1..4999; default 250)\n"
               "  RISK_BACKTEST_WAIT_MS       how long a backtest account's signal waits in all\n"
               "                              for its earlier orders to be filled and booked,\n"
               "                              and for market-data and position-management,\n"
               "                              asking again, before its run is stopped (kill\n"
               "                              switch, reason naming the signal; 100..3600000;\n"
               "                              default 120000). Live accounts are refused after\n"
               "                              RISK_DEPENDENCY_TIMEOUT_MS\n"
               "  RISK_QUOTE_CACHE            symbols whose quotes are kept from their ticks\n"
               "                              instead of asking market-data for every check\n"
               "                              (0..100000; default 1024; 0: always ask)\n"
               "  RISK_QUOTE_VERIFY_MS        how long a kept quote is used before market-data\n"
               "                              confirms it again (1..600000; default 1000)\n"
               "  RISK_QUOTE_IDLE_MS          a symbol not checked for this long is no longer\n"
               "                              followed (100..86400000; default 60000)\n");
}

static const bus_actor_def def = {
    .name = RISK_PRODUCER,
    .version = "0.1.0",
    .description = "Pre-trade risk checks, order creation, limits and kill switch",
    .endpoints = endpoints,
    .nendpoints = sizeof endpoints / sizeof endpoints[0],
    .needs = BUS_NEEDS_PG | BUS_NEEDS_REDIS | BUS_NEEDS_STREAMS,
    .start = start,
    .stop = stop,
    .usage = usage,
};

int main(int argc, char **argv) {
    tb_error err = {0};
    if (bus_env_int("RISK_DEPENDENCY_TIMEOUT_MS", 1000, 10, 60000, &service.dep_timeout_ms, &err) !=
            TB_OK ||
        bus_env_int("RISK_OUTBOX_INTERVAL_MS", 1000, 10, 600000, &relay_interval_ms, &err) !=
            TB_OK ||
        bus_env_int("RISK_RATE_WINDOW_MS", 1000, 100, 3600000, &service.rate_window_ms, &err) !=
            TB_OK ||
        bus_env_int("RISK_FEE_BPS", 0, 0, 1000, &service.fee_bps, &err) != TB_OK ||
        bus_env_int("RISK_VAR_DAYS", 250, 1, 4999, &service.var_days, &err) != TB_OK ||
        bus_env_int("RISK_BACKTEST_WAIT_MS", 120000, 100, 3600000, &service.bt_wait_ms, &err) !=
            TB_OK ||
        bus_env_int("RISK_QUOTE_CACHE", 1024, 0, 100000, &service.quote_cache, &err) != TB_OK ||
        bus_env_int("RISK_QUOTE_VERIFY_MS", 1000, 1, 600000, &service.quote_verify_ms, &err) !=
            TB_OK ||
        bus_env_int("RISK_QUOTE_IDLE_MS", 60000, 100, 86400000, &service.quote_idle_ms, &err) !=
            TB_OK) {
        fprintf(stderr, "tb-risk-management: %s\n", err.message);
        return 2;
    }
    return bus_actor_main(&def, argc, argv);
}
