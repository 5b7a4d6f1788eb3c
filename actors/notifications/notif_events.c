/* Event handlers of the notifications service.
 *
 *   fills.<acct>.<sym>       fill rules + fan-out, in batches (notif_fanout.c)
 *   risk.decision.<acct>     risk_reject rules + fan-out, in batches (notif_fanout.c)
 *   md.tick.<sym>            price_above / price_below, in batches, throttled per symbol
 *   pos.update.<acct>.<sym>  position_limit; drawdown (throttled per account)
 *   alerts.>                 alerts raised elsewhere: recorded and fanned out once
 *
 * Every effect is keyed on the event (alert_id, idempotency key), so a
 * redelivered or duplicated event changes nothing, and N workers behave as
 * one. */
#include "notif_events.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "notif_alerts.h"
#include "notif_prices.h"
#include "notif_webhook.h"
#include "timer.h"

static void count_error(bus_actor *a, const char *what, const tb_error *err) {
    bus_counter_add(notif_of(a)->m_eval_errors, 1);
    bus_log(BUS_LOG_WARN, "%s not evaluated: %s", what, err->message);
}

static bool has_rules(notif_service *svc, notif_kind kind, const char *account,
                      const char *symbol) {
    return notif_cache_count(&svc->cache, kind, account, symbol) > 0;
}

#define TICKS_ON_STACK 64

tb_status notif_on_ticks(bus_ctx *ctx, const bus_batch *b) {
    bus_actor *a = bus_ctx_actor(ctx);
    notif_service *svc = notif_of(a);
    size_t n = bus_batch_len(b), k = 0;
    /* Batches of an unhurried feed are small: those live on the stack. */
    notif_obs obs_small[TICKS_ON_STACK];
    const char *traces_small[TICKS_ON_STACK];
    notif_obs *obs = n <= TICKS_ON_STACK ? obs_small : malloc(n * sizeof *obs);
    const char **traces = n <= TICKS_ON_STACK ? traces_small : malloc(n * sizeof *traces);
    if (obs == NULL || traces == NULL) {
        if (obs != obs_small) free(obs);
        if (traces != traces_small) free(traces);
        return bus_fail(ctx, TB_NOMEM, NULL, "out of memory");
    }
    /* Whether the previous tick's symbol has rules: batches come in runs of
     * a few symbols, and the cache is asked under a lock. */
    char last_sym[TB_TOKEN_CAP] = "";
    bool last_has = false;
    int64_t now = bus_mono_ns();
    for (size_t i = 0; i < n; i++) {
        const tb_tick *t = bus_batch_event(b, i);
        tb_fixed price;
        if (!notif_tick_price(t, &price)) continue;
        if (strcmp(last_sym, t->symbol) != 0) {
            snprintf(last_sym, sizeof last_sym, "%s", t->symbol);
            last_has = has_rules(svc, NOTIF_KIND_PRICE_ABOVE, "", t->symbol) ||
                       has_rules(svc, NOTIF_KIND_PRICE_BELOW, "", t->symbol);
        }
        if (!last_has) continue;
        notif_obs *o = &obs[k];
        *o = (notif_obs){.ts = t->ts, .seq = t->seq, .value = price};
        snprintf(o->key, sizeof o->key, "%s", t->symbol);
        /* The throttle sees the ticks in arrival order, as one at a time. */
        if (!notif_throttle_offer(svc->prices, o, now)) continue;
        traces[k++] = bus_batch_trace(b, i);
    }
    tb_error err = {0};
    notif_io io = notif_io_of_ctx(ctx);
    if (k > 0 && notif_eval_prices(&io, obs, traces, k, &err) != TB_OK)
        count_error(a, "price rules", &err);
    if (obs != obs_small) free(obs);
    if (traces != traces_small) free(traces);
    return TB_OK; /* core NATS: nothing to redeliver; counted and logged above */
}

tb_status notif_on_position(bus_ctx *ctx, const void *event) {
    const tb_position_update *u = event;
    bus_actor *a = bus_ctx_actor(ctx);
    notif_service *svc = notif_of(a);
    notif_io io = notif_io_of_ctx(ctx);
    tb_error err = {0};
    if (notif_eval_position(&io, u, bus_ctx_trace(ctx), &err) != TB_OK)
        count_error(a, "position_limit rules", &err);
    if (!has_rules(svc, NOTIF_KIND_DRAWDOWN, u->account, "")) return TB_OK;
    notif_obs o = {.ts = u->ts};
    snprintf(o.key, sizeof o.key, "%s", u->account);
    if (!notif_throttle_offer(svc->equity, &o, bus_mono_ns())) return TB_OK;
    tb_error_clear(&err);
    if (notif_eval_drawdown(&io, u->account, bus_ctx_trace(ctx), &err) != TB_OK)
        count_error(a, "drawdown rules", &err);
    return TB_OK;
}

tb_status notif_on_alert(bus_ctx *ctx, const void *event) {
    const tb_alert *al = event;
    tb_error err = {0};
    notif_io io = notif_io_of_ctx(ctx);
    /* Our own alerts are already recorded: the insert finds them and does
     * nothing. Others' are recorded once and fanned out; not republished. */
    if (notif_raise(&io, al, NULL, 1, NULL, false, bus_ctx_trace(ctx), &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    return TB_OK;
}

/* ---- trailing evaluation of throttled observations ---- */

#define DUE_BATCH 256

static void flush_prices(bus_actor *a, void *arg) {
    (void)arg;
    notif_service *svc = notif_of(a);
    notif_obs due[DUE_BATCH];
    size_t n = notif_throttle_take_due(svc->prices, bus_mono_ns(), due, DUE_BATCH);
    notif_io io = notif_io_of_actor(a);
    tb_error err = {0};
    if (n > 0 && notif_eval_prices(&io, due, NULL, n, &err) != TB_OK)
        count_error(a, "price rules", &err);
    notif_io_release(&io);
}

static void flush_equity(bus_actor *a, void *arg) {
    (void)arg;
    notif_service *svc = notif_of(a);
    notif_obs due[DUE_BATCH];
    size_t n = notif_throttle_take_due(svc->equity, bus_mono_ns(), due, DUE_BATCH);
    notif_io io = notif_io_of_actor(a);
    for (size_t i = 0; i < n; i++) {
        tb_error err = {0};
        if (notif_eval_drawdown(&io, due[i].key, NULL, &err) != TB_OK)
            count_error(a, "drawdown rules", &err);
    }
    notif_io_release(&io);
}

tb_status notif_events_start(bus_actor *a, tb_error *err) {
    notif_service *svc = notif_of(a);
    tb_status s = TB_OK;
    if (svc->set.price_interval_ms > 0)
        s = bus_actor_add_timer(a, "price-rules", svc->set.price_interval_ms, flush_prices, NULL,
                                NULL, err);
    if (s == TB_OK && svc->set.equity_interval_ms > 0)
        s = bus_actor_add_timer(a, "drawdown-rules", svc->set.equity_interval_ms, flush_equity,
                                NULL, NULL, err);
    return s;
}
