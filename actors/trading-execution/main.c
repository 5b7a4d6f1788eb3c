/* tb-trading-execution: order lifecycle and the paper venue.
 *
 * Consumes the ORDERS stream (orders.new.<account>, orders.cancel.<account>;
 * durable "trading-execution"; a fetched batch a transaction,
 * exec_order_batch.c) and ticks (md.tick.<symbol>, queue group).
 * Produces fills on the FILLS stream (fills.<account>.<symbol>, Nats-Msg-Id =
 * fill id, through the transactional outbox) and orders.status.<account>
 * for every transition. Answers api.orders.get|list|cancel and
 * api.exec.fees.set|get (an account's own fees, a backtest's). Orders, fills,
 * fee models and the per-symbol tick sequence live in PostgreSQL; workers
 * keep no state of their own but a cache of fee models that cannot go stale
 * (exec_fees.h), so any number of copies behave as one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_service.h"
#include "outbox.h"
#include "timer.h"
#include "wire.h"

static exec_service service;

static bus_endpoint endpoints[] = {
    /* Fetch and batch sizes from EXEC_ORDER_BATCH (main). */
    {.name = "orders",
     .kind = BUS_STREAM,
     .subject = "orders.>",
     .event = NULL,
     .batch_handler = exec_on_orders,
     .stream = {.stream = BUS_STREAM_ORDERS, .durable = EXEC_SERVICE_NAME}},
    {.name = "ticks",
     .kind = BUS_EVENT,
     .subject = "md.tick.>",
     .event = &tb_tick_desc,
     .batch_handler = exec_on_ticks},
    {.name = "get",
     .kind = BUS_REQUEST,
     .subject = "api.orders.get",
     .event = &tb_query_desc,
     .handler = exec_api_get},
    {.name = "list",
     .kind = BUS_REQUEST,
     .subject = "api.orders.list",
     .event = &tb_query_desc,
     .handler = exec_api_list},
    {.name = "cancel",
     .kind = BUS_REQUEST,
     .subject = "api.orders.cancel",
     .event = &tb_query_desc,
     .handler = exec_api_cancel},
    {.name = "fees-set",
     .kind = BUS_REQUEST,
     .subject = "api.exec.fees.set",
     .event = &tb_fee_model_desc,
     .handler = exec_api_fees_set},
    {.name = "fees-get",
     .kind = BUS_REQUEST,
     .subject = "api.exec.fees.get",
     .event = &tb_fee_model_desc,
     .handler = exec_api_fees_get},
};

/* Opens the connections the hot paths use before the first message: a new
 * PostgreSQL connection (SCRAM authentication) takes tens of milliseconds,
 * and a tick handler waiting for one lets the next tick of its symbol
 * overtake it on another worker. The pool keeps them idle afterwards. */
#define WARM_PG_CONNECTIONS 4
static tb_status warm_pool(bus_actor *a, tb_error *err) {
    PGconn *held[WARM_PG_CONNECTIONS] = {0};
    tb_status s = TB_OK;
    for (int i = 0; i < WARM_PG_CONNECTIONS && s == TB_OK; i++)
        if ((held[i] = bus_pg_acquire(bus_actor_pg(a), err)) == NULL) s = err->status;
    for (int i = 0; i < WARM_PG_CONNECTIONS; i++)
        if (held[i]) bus_pg_release(bus_actor_pg(a), held[i]);
    return s;
}

static tb_status start(bus_actor *a, tb_error *err) {
    tb_status s = warm_pool(a, err);
    if (s != TB_OK) return s;
    exec_service_metrics(&service, a);
    bus_actor_set_user(a, &service);
    s = bus_outbox_start_relay(a, EXEC_PRODUCER, service.relay_interval_ms, err);
    if (s == TB_OK)
        s = bus_actor_add_timer(a, "tick-drain", EXEC_DRAIN_INTERVAL_MS, exec_drain_ticks, &service,
                                NULL, err);
    if (s == TB_OK)
        s = bus_actor_add_timer(a, "day-expiry", service.expiry_interval_ms, exec_expire_day_orders,
                                &service, NULL, err);
    return s;
}

static const bus_actor_def def = {
    .name = EXEC_SERVICE_NAME,
    .version = "0.1.0",
    .description = "Order lifecycle and the paper venue: fills orders against ticks",
    .endpoints = endpoints,
    .nendpoints = sizeof endpoints / sizeof endpoints[0],
    .needs = BUS_NEEDS_PG | BUS_NEEDS_STREAMS,
    .start = start,
    .usage = exec_service_usage,
};

int main(int argc, char **argv) {
    /* Settings first: the ORDERS endpoint's batch size is one of them. */
    tb_error err = {0};
    bool help = false;
    for (int i = 1; i < argc; i++)
        help |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
                strcmp(argv[i], "--version") == 0;
    if (!help && exec_service_load(&service, &err) != TB_OK) {
        fprintf(stderr, "tb-trading-execution: %s\n", err.message);
        return 2;
    }
    endpoints[0].stream.batch = (int)service.order_batch;
    endpoints[0].batch_max = (int)service.order_batch;
    return bus_actor_main(&def, argc, argv);
}
