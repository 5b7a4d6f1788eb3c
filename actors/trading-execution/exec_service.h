/* trading-execution's I/O glue: settings, metrics and the handlers that the
 * actor table in main.c wires to subjects. The venue's rules are not here:
 * they are pure functions in exec_domain.h. */
#ifndef EXEC_SERVICE_H
#define EXEC_SERVICE_H

#include "actor.h"
#include "exec_domain.h"

#define EXEC_SERVICE_NAME "trading-execution"
/* Outbox producer name: fills are relayed by every instance of the service. */
#define EXEC_PRODUCER EXEC_SERVICE_NAME

typedef struct exec_service {
    exec_params params;
    int64_t order_batch;        /* EXEC_ORDER_BATCH: ORDERS messages per transaction */
    int64_t match_batch;        /* EXEC_MATCH_BATCH: open orders of a symbol matched */
    uint64_t seq_reset_gap;     /* EXEC_SEQ_RESET_GAP */
    int64_t reorder_wait_ms;    /* EXEC_REORDER_WAIT_MS: how long a gap may stay open */
    int64_t relay_interval_ms;  /* EXEC_RELAY_INTERVAL_MS */
    int64_t expiry_interval_ms; /* EXEC_EXPIRY_INTERVAL_MS */

    bus_series *m_fills;
    bus_series *m_fill_errors;
    bus_series *m_accepted;
    bus_series *m_duplicates;
    bus_series *m_filled;
    bus_series *m_canceled;
    bus_series *m_expired;
    bus_series *m_rejected;
    bus_series *m_ticks_matched;
    bus_series *m_ticks_idle;
    bus_series *m_ticks_stale;
    bus_series *m_ticks_reset;
    bus_series *m_ticks_invalid;
    bus_series *m_ticks_gap;
    bus_series *m_quote_missing;
    bus_series *m_quote_stale;
    bus_series *m_event_time; /* signals' market orders priced at their tick */
    bus_series *m_status_publish_errors;
    bus_series *m_order_batches;         /* ORDERS batches applied in one transaction */
    bus_series *m_order_batch_fallbacks; /* ORDERS batches applied message by message */
} exec_service;

/* Reads the EXEC_* settings; TB_INVALID with a message when one is bad. */
tb_status exec_service_load(exec_service *s, tb_error *err) TB_WARN_UNUSED;
/* Registers the service's metric series on the actor. */
void exec_service_metrics(exec_service *s, bus_actor *a);
/* Writes the EXEC_* settings for --help. */
void exec_service_usage(FILE *f);

/* The ORDERS stream (exec_order_batch.c), a batched endpoint: orders.new.*
 * and orders.cancel.* (raw, decoded by subject) applied in one transaction
 * per batch. */
tb_status exec_on_orders(bus_ctx *ctx, const bus_batch *b);
/* Timer body: expires day orders whose UTC day is over. */
void exec_expire_day_orders(bus_actor *a, void *arg);

/* md.tick.* (exec_ticks.c), a batched endpoint: records the batch's ticks
 * and matches the symbols' recorded ticks in sequence. */
tb_status exec_on_ticks(bus_ctx *ctx, const bus_batch *b);
/* Timer body, every EXEC_DRAIN_INTERVAL_MS: matches recorded ticks left
 * waiting (behind a gap, or recorded while another worker held the
 * symbol). */
#define EXEC_DRAIN_INTERVAL_MS 50
void exec_drain_ticks(bus_actor *a, void *arg);

/* Shared glue (exec_orders.c). */
struct exec_events;
exec_quote exec_quote_of(const tb_tick *t);
/* Publishes committed transitions on orders.status.<account> and counts them. */
void exec_publish_events(bus_actor *a, exec_service *svc, const struct exec_events *ev,
                         const char *trace);
/* Publishes just-committed fills now (outbox fast path); fills = how many. */
void exec_relay_now(bus_actor *a, exec_service *svc, int fills);

/* Cancels an open order in its own transaction and publishes the
 * transition. account (may be NULL) must own the order (TB_FORBIDDEN);
 * accounts (comma list, may be NULL/"") limits what is visible
 * (TB_NOT_FOUND otherwise); TB_CONFLICT when the order is already terminal
 * (*out still holds it). reason is recorded on the order. */
struct exec_row;
tb_status exec_cancel_order(bus_ctx *ctx, const char *order_id, const char *account,
                            const char *accounts, const char *reason, struct exec_row *out,
                            tb_error *err) TB_WARN_UNUSED;

/* Request handlers (exec_api.c): api.orders.get|list|cancel with tb_query. */
tb_status exec_api_get(bus_ctx *ctx, const void *query);
tb_status exec_api_list(bus_ctx *ctx, const void *query);
tb_status exec_api_cancel(bus_ctx *ctx, const void *query);
/* api.exec.fees.set|get with tb_fee_model: an account's own fees and
 * slippage (exec_fees.h); set validates (exec_fee_model_validate) and is a
 * TB_CONFLICT once the account has orders. */
tb_status exec_api_fees_set(bus_ctx *ctx, const void *model);
tb_status exec_api_fees_get(bus_ctx *ctx, const void *model);

#endif
