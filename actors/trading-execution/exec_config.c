/* trading-execution settings (EXEC_* environment variables) and metric
 * series. */
#include <string.h>

#include "exec_service.h"

tb_status exec_service_load(exec_service *s, tb_error *err) {
    memset(s, 0, sizeof *s);
    int64_t v;
    tb_status st = bus_env_int("EXEC_SLIPPAGE_BPS", 0, 0, EXEC_BPS_MAX, &v, err);
    if (st != TB_OK) return st;
    s->params.slippage_bps = v;
    if ((st = bus_env_int("EXEC_FEE_BPS", 0, 0, EXEC_BPS_MAX, &v, err)) != TB_OK) return st;
    s->params.fee_bps = v;
    const char *fee_min = bus_env("EXEC_FEE_MIN", "0");
    if (tb_fixed_parse_cstr(fee_min, &s->params.fee_min) != TB_OK || s->params.fee_min < 0)
        return tb_error_set(err, TB_INVALID, "EXEC_FEE_MIN",
                            "EXEC_FEE_MIN must be a non-negative decimal, not %s", fee_min);
    const char *trig = bus_env("EXEC_STOP_TRIGGER", "last");
    if (!exec_trigger_parse(trig, &s->params.trigger))
        return tb_error_set(err, TB_INVALID, "EXEC_STOP_TRIGGER",
                            "EXEC_STOP_TRIGGER must be last or touch, not %s", trig);
    if ((st = bus_env_int("EXEC_ORDER_BATCH", 128, 1, 1024, &s->order_batch, err)) != TB_OK)
        return st;
    if ((st = bus_env_int("EXEC_MATCH_BATCH", 2000, 1, 100000, &s->match_batch, err)) != TB_OK)
        return st;
    if ((st = bus_env_int("EXEC_SEQ_RESET_GAP", 1000, 1, INT64_MAX, &v, err)) != TB_OK) return st;
    s->seq_reset_gap = (uint64_t)v;
    if ((st = bus_env_int("EXEC_REORDER_WAIT_MS", 500, 0, 10000, &s->reorder_wait_ms, err)) !=
        TB_OK)
        return st;
    if ((st = bus_env_int("EXEC_RELAY_INTERVAL_MS", 1000, 10, 600000, &s->relay_interval_ms,
                          err)) != TB_OK)
        return st;
    return bus_env_int("EXEC_EXPIRY_INTERVAL_MS", 1000, 10, 3600000, &s->expiry_interval_ms, err);
}

void exec_service_usage(FILE *f) {
    fputs("trading-execution settings:\n"
          "  EXEC_SLIPPAGE_BPS        slippage of market and triggered stop orders, basis points "
          "(0..1000, default 0)\n"
          "  EXEC_FEE_BPS             fee per fill, basis points of the notional (0..1000, "
          "default 0)\n"
          "  EXEC_FEE_MIN             minimum fee per fill, decimal (default 0)\n"
          "                           (these three price accounts without a fee model of their\n"
          "                           own; a backtest's run account has one: api.exec.fees.set)\n"
          "  EXEC_STOP_TRIGGER        last | touch: what stop prices compare with (default last)\n"
          "  EXEC_ORDER_BATCH         ORDERS messages fetched and applied in one transaction "
          "(1..1024, default 128)\n"
          "  EXEC_MATCH_BATCH         open orders of a symbol matched per tick, oldest first "
          "(default 2000)\n"
          "  EXEC_SEQ_RESET_GAP       a tick this far behind the last one means a feed restart "
          "(default 1000)\n"
          "  EXEC_REORDER_WAIT_MS     how long a tick after a gap waits for the missing one "
          "before it is matched without it (default 500)\n"
          "  EXEC_RELAY_INTERVAL_MS   outbox relay period (default 1000)\n"
          "  EXEC_EXPIRY_INTERVAL_MS  day-order expiry check period (default 1000)\n",
          f);
}

void exec_service_metrics(exec_service *s, bus_actor *a) {
    bus_metrics *m = bus_actor_metrics(a);
    const char *orders = "tb_exec_orders_total", *orders_help = "Order transitions by status";
    s->m_accepted = bus_metrics_counter(m, orders, orders_help, "status", "accepted", NULL);
    s->m_filled = bus_metrics_counter(m, orders, orders_help, "status", "filled", NULL);
    s->m_canceled = bus_metrics_counter(m, orders, orders_help, "status", "canceled", NULL);
    s->m_expired = bus_metrics_counter(m, orders, orders_help, "status", "expired", NULL);
    s->m_rejected = bus_metrics_counter(m, orders, orders_help, "status", "rejected", NULL);
    s->m_duplicates = bus_metrics_counter(m, "tb_exec_duplicates_total",
                                          "ORDERS messages already applied (redeliveries)", NULL);
    s->m_fills = bus_metrics_counter(m, "tb_exec_fills_total", "Fills recorded", NULL);
    s->m_fill_errors =
        bus_metrics_counter(m, "tb_exec_fill_relay_errors_total",
                            "Fast-path fill publications deferred to the relay", NULL);
    const char *ticks = "tb_exec_ticks_total", *ticks_help = "Ticks by outcome";
    s->m_ticks_matched = bus_metrics_counter(m, ticks, ticks_help, "outcome", "matched", NULL);
    s->m_ticks_idle = bus_metrics_counter(m, ticks, ticks_help, "outcome", "idle", NULL);
    s->m_ticks_stale = bus_metrics_counter(m, ticks, ticks_help, "outcome", "stale", NULL);
    s->m_ticks_reset = bus_metrics_counter(m, ticks, ticks_help, "outcome", "feed_reset", NULL);
    s->m_ticks_invalid = bus_metrics_counter(m, ticks, ticks_help, "outcome", "invalid", NULL);
    s->m_ticks_gap = bus_metrics_counter(
        m, "tb_exec_tick_gaps_total", "Ticks matched although their predecessor never came", NULL);
    const char *quotes = "tb_exec_arrival_quotes_total", *quotes_help = "Quotes on order arrival";
    s->m_quote_missing = bus_metrics_counter(m, quotes, quotes_help, "outcome", "missing", NULL);
    s->m_quote_stale = bus_metrics_counter(m, quotes, quotes_help, "outcome", "stale", NULL);
    s->m_event_time = bus_metrics_counter(m, quotes, quotes_help, "outcome", "signal_tick", NULL);
    const char *batches = "tb_exec_order_batches_total";
    const char *batches_help = "ORDERS batches: applied in one transaction, or message by message";
    s->m_order_batches =
        bus_metrics_counter(m, batches, batches_help, "outcome", "one_transaction", NULL);
    s->m_order_batch_fallbacks =
        bus_metrics_counter(m, batches, batches_help, "outcome", "one_by_one", NULL);
    s->m_status_publish_errors =
        bus_metrics_counter(m, "tb_exec_status_publish_errors_total",
                            "orders.status events that failed to publish", NULL);
}
