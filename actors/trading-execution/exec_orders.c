/* trading-execution's message handlers: orders arriving on the ORDERS stream
 * (new orders are accepted and matched against the current quote; cancels
 * cancel) and the day-expiry timer. Ticks are in exec_ticks.c.
 * Each handler is one PostgreSQL transaction that locks what it changes;
 * fills are recorded with their outbox event in that transaction, relayed
 * right after the commit, and orders.status events go out once committed.
 * Redelivered messages are harmless: an order that is no longer `new` was
 * handled, a terminal order is not canceled again. */
#include <stdlib.h>
#include <string.h>

#include "exec_service.h"
#include "exec_store.h"
#include "outbox.h"

#define NS_PER_DAY   INT64_C(86400000000000)
#define EXPIRY_BATCH 200

static exec_service *service_of(bus_ctx *ctx) {
    return bus_actor_user(bus_ctx_actor(ctx));
}

exec_quote exec_quote_of(const tb_tick *t) {
    return (exec_quote){.bid = t->bid,
                        .ask = t->ask,
                        .last = t->last,
                        .bid_size = t->bid_size,
                        .ask_size = t->ask_size,
                        .last_size = t->last_size};
}

/* Publishes the committed transitions (core NATS, at most once) and counts
 * terminal outcomes. */
void exec_publish_events(bus_actor *a, exec_service *svc, const exec_events *ev,
                         const char *trace) {
    for (size_t i = 0; i < ev->n; i++) {
        const tb_order_status *e = &ev->v[i];
        char subject[128];
        snprintf(subject, sizeof subject, "orders.status.%s", e->account);
        bus_msg_meta meta = {.trace_id = trace};
        if (bus_publish(bus_actor_conn(a), subject, &tb_order_status_desc, e, &meta) != TB_OK) {
            bus_counter_add(svc->m_status_publish_errors, 1);
            bus_log(BUS_LOG_WARN, "orders.status for %s v%llu not published", e->order_id,
                    (unsigned long long)e->version);
        }
        if (strcmp(e->status, "canceled") == 0)
            bus_counter_add(svc->m_canceled, 1);
        else if (strcmp(e->status, "expired") == 0)
            bus_counter_add(svc->m_expired, 1);
        else if (strcmp(e->status, "rejected") == 0)
            bus_counter_add(svc->m_rejected, 1);
        else if (strcmp(e->status, "accepted") == 0)
            bus_counter_add(svc->m_accepted, 1);
        else if (strcmp(e->status, "filled") == 0)
            bus_counter_add(svc->m_filled, 1);
    }
}

/* Publishes the fills just committed now instead of waiting for the relay
 * timer; a failure only delays them until the timer's next round. */
void exec_relay_now(bus_actor *a, exec_service *svc, int fills) {
    if (fills <= 0) return;
    bus_counter_add(svc->m_fills, (uint64_t)fills);
    tb_error err = {0};
    if (bus_outbox_relay(a, EXEC_PRODUCER, 100, 0, NULL, &err) != TB_OK) {
        bus_counter_add(svc->m_fill_errors, 1);
        bus_log(BUS_LOG_WARN, "fill relay deferred to the timer: %s", err.message);
    }
}

/* ---- quotes ---- */

/* Asks market-data for the symbol's current quote. false when there is
 * none (no responders, timeout, unknown symbol, unusable reply). */
static bool fetch_quote(bus_ctx *ctx, exec_service *svc, const char *symbol, tb_tick *out) {
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.symbol, sizeof q.symbol, "%s", symbol);
    tb_error err = {0};
    tb_status s =
        bus_request(bus_actor_conn(bus_ctx_actor(ctx)), "api.market.quote", &tb_query_desc, &q,
                    &tb_tick_desc, out, svc->quote_timeout_ms, bus_ctx_trace(ctx), &err);
    if (s == TB_OK && strcmp(out->symbol, symbol) != 0) s = TB_INVALID;
    exec_quote eq = exec_quote_of(out);
    if (s == TB_OK) s = exec_quote_validate(&eq, &err);
    if (s != TB_OK) {
        bus_counter_add(svc->m_quote_missing, 1);
        bus_log(BUS_LOG_DEBUG, "no usable quote for %s (%s): the order rests until a tick", symbol,
                tb_status_code(s));
        return false;
    }
    return true;
}

/* ---- orders.new ---- */

static const char *subject_token(const char *subject, size_t prefix_len) {
    return strlen(subject) > prefix_len ? subject + prefix_len : "";
}

static tb_status on_new(bus_ctx *ctx, exec_service *svc, const tb_order *m) {
    const char *acct = subject_token(bus_ctx_subject(ctx), strlen("orders.new."));
    if (strcmp(acct, m->account) != 0)
        return bus_fail(ctx, TB_INVALID, "account", "order %s of %s published for %s", m->order_id,
                        m->account, acct);
    tb_tick tick;
    memset(&tick, 0, sizeof tick);
    /* A signal's market order trades at the price of the tick the strategy
     * saw, at that tick's time (event time): the fill does not depend on how
     * far the feed has run ahead meanwhile, which in a full-speed replay is
     * thousands of ticks. Other orders trade at the current quote. */
    bool event_time =
        strcmp(m->source, "signal") == 0 && strcmp(m->type, "market") == 0 && m->ref_price > 0;
    bool have_quote = true;
    if (event_time) {
        tick.last = m->ref_price;
        tick.ts = m->ref_ts;
        bus_counter_add(svc->m_event_time, 1);
    } else {
        have_quote = fetch_quote(ctx, svc, m->symbol, &tick); /* before any lock is held */
    }

    tb_error err = {0};
    PGconn *c = bus_ctx_pg(ctx, &err);
    if (c == NULL) return bus_fail_err(ctx, &err);
    exec_row row;
    exec_events ev = {0};
    exec_change ch = {0};
    tb_status s = exec_tx_begin(c, &err);
    if (s == TB_OK && have_quote && !event_time) {
        /* Serialises with tick matching of the symbol; a quote older than the
         * last tick matched would fill at a price the book already left. */
        uint64_t last_seq = 0;
        char last_source[TB_ID_CAP];
        s = exec_store_lock_symbol(c, m->symbol, &last_seq, last_source, &err);
        if (s == TB_OK && tick.seq != last_seq &&
            exec_tick_classify(true, last_seq, last_source, tick.seq, tick.source,
                               svc->seq_reset_gap) == EXEC_TICK_STALE) {
            have_quote = false;
            bus_counter_add(svc->m_quote_stale, 1);
        }
    }
    if (s == TB_OK) s = exec_store_lock_order(c, m->order_id, &row, &err);
    if (s == TB_OK && strcmp(row.rec.account, m->account) != 0)
        s = tb_error_set(&err, TB_INVALID, "account", "order %s belongs to %s, not %s", m->order_id,
                         row.rec.account, m->account);
    if (s == TB_OK && row.ord.status != EXEC_NEW) {
        exec_tx_rollback(c);
        bus_counter_add(svc->m_duplicates, 1);
        return TB_OK; /* handled before: a redelivery */
    }
    if (s == TB_OK) {
        tb_error verr = {0};
        if (exec_order_validate(&row.ord, &verr) != TB_OK) {
            s = exec_order_transition(&row.ord, EXEC_REJECTED, &err);
            exec_change_add_step(&ch, &row.ord, EXEC_REJECTED, "invalid_order");
            bus_log(BUS_LOG_WARN, "order %s rejected: %s", m->order_id, verr.message);
        } else {
            s = exec_order_transition(&row.ord, EXEC_ACCEPTED, &err);
            exec_change_add_step(&ch, &row.ord, EXEC_ACCEPTED, NULL);
            exec_quote q = have_quote ? exec_quote_of(&tick) : (exec_quote){0};
            exec_outcome oc;
            if (s == TB_OK) {
                exec_match(&q, &svc->params, tb_now_ns(), true, &row.ord, 1, &oc);
                if (oc.status != TB_OK)
                    bus_log(BUS_LOG_WARN, "order %s not matched on arrival: %s", m->order_id,
                            tb_status_code(oc.status));
                exec_change_add_outcome(&ch, &row.ord, &oc, tick.ts ? tick.ts : tb_now_ns());
            }
        }
    }
    if (s == TB_OK) s = exec_store_save(c, &row, &ch, bus_ctx_trace(ctx), &ev, &err);
    if (s == TB_OK) s = exec_tx_commit(c, &err);
    if (s != TB_OK) {
        exec_tx_rollback(c);
        exec_events_free(&ev);
        return bus_fail_err(ctx, &err);
    }
    exec_relay_now(bus_ctx_actor(ctx), svc, ch.filled ? 1 : 0);
    exec_publish_events(bus_ctx_actor(ctx), svc, &ev, bus_ctx_trace(ctx));
    exec_events_free(&ev);
    return TB_OK;
}

/* ---- cancels ---- */

tb_status exec_cancel_order(bus_ctx *ctx, const char *order_id, const char *account,
                            const char *accounts, const char *reason, exec_row *out,
                            tb_error *err) {
    exec_service *svc = service_of(ctx);
    PGconn *c = bus_ctx_pg(ctx, err);
    if (c == NULL) return err->status;
    exec_events ev = {0};
    exec_change ch = {0};
    tb_status s = exec_tx_begin(c, err);
    if (s == TB_OK) s = exec_store_lock_order(c, order_id, out, err);
    if (s == TB_OK && accounts && accounts[0]) {
        /* visible only to callers scoped to the order's account */
        size_t n = strlen(out->rec.account);
        const char *p = accounts;
        bool seen = false;
        while (!seen && p && *p) {
            seen = strncmp(p, out->rec.account, n) == 0 && (p[n] == ',' || p[n] == '\0');
            p = strchr(p, ',');
            if (p) p++;
        }
        if (!seen) s = tb_error_set(err, TB_NOT_FOUND, "id", "no order %s", order_id);
    }
    if (s == TB_OK && account && account[0] && strcmp(account, out->rec.account) != 0)
        s = tb_error_set(err, TB_FORBIDDEN, "account", "order %s does not belong to %s", order_id,
                         account);
    if (s == TB_OK && !exec_status_is_open(out->ord.status))
        s = tb_error_set(err, TB_CONFLICT, "id", "order %s is already %s", order_id,
                         exec_status_name(out->ord.status));
    if (s == TB_OK) s = exec_order_transition(&out->ord, EXEC_CANCELED, err);
    if (s == TB_OK) {
        exec_change_add_step(&ch, &out->ord, EXEC_CANCELED, reason);
        s = exec_store_save(c, out, &ch, bus_ctx_trace(ctx), &ev, err);
    }
    if (s == TB_OK) s = exec_tx_commit(c, err);
    if (s != TB_OK) {
        exec_tx_rollback(c);
        exec_events_free(&ev);
        return s;
    }
    exec_publish_events(bus_ctx_actor(ctx), svc, &ev, bus_ctx_trace(ctx));
    exec_events_free(&ev);
    return TB_OK;
}

static tb_status on_cancel(bus_ctx *ctx, const tb_order_cancel *m) {
    const char *acct = subject_token(bus_ctx_subject(ctx), strlen("orders.cancel."));
    if (strcmp(acct, m->account) != 0)
        return bus_fail(ctx, TB_INVALID, "account", "cancel of %s for %s published for %s",
                        m->order_id, m->account, acct);
    exec_row row;
    tb_error err = {0};
    tb_status s = exec_cancel_order(ctx, m->order_id, m->account, NULL,
                                    m->reason[0] ? m->reason : EXEC_REASON_USER, &row, &err);
    if (s == TB_CONFLICT) {
        bus_counter_add(service_of(ctx)->m_duplicates, 1);
        return TB_OK; /* already terminal (filled, expired, or canceled before) */
    }
    return s == TB_OK ? TB_OK : bus_fail_err(ctx, &err);
}

tb_status exec_on_order_stream(bus_ctx *ctx, const void *ev) {
    const bus_raw *raw = ev;
    const char *subject = bus_ctx_subject(ctx);
    tb_error err = {0};
    if (strncmp(subject, "orders.new.", 11) == 0) {
        tb_order m;
        if (tb_decode(&tb_order_desc, raw->data, raw->len, &m, &err) != TB_OK)
            return bus_fail_err(ctx, &err);
        return on_new(ctx, service_of(ctx), &m);
    }
    if (strncmp(subject, "orders.cancel.", 14) == 0) {
        tb_order_cancel m;
        if (tb_decode(&tb_order_cancel_desc, raw->data, raw->len, &m, &err) != TB_OK)
            return bus_fail_err(ctx, &err);
        return on_cancel(ctx, &m);
    }
    return bus_fail(ctx, TB_INVALID, NULL, "unexpected subject %s on the ORDERS stream", subject);
}

/* ---- ticks ---- */

/* ---- day expiry ---- */

/* One batch: expires what is due; returns how many rows it looked at. */
static size_t expire_batch(bus_actor *a, exec_service *svc, PGconn *c, int64_t now,
                           const char *trace, tb_error *err) {
    exec_row *rows = NULL;
    size_t n = 0;
    exec_events evs = {0};
    /* Orders created before today's UTC midnight are due. */
    int64_t cutoff = exec_day_end(now) - NS_PER_DAY;
    tb_status s = exec_tx_begin(c, err);
    if (s == TB_OK) s = exec_store_lock_day_due(c, cutoff, EXPIRY_BATCH, &rows, &n, err);
    for (size_t i = 0; s == TB_OK && i < n; i++) {
        if (!exec_day_expired(&rows[i].ord, now)) continue;
        exec_change ch = {0};
        s = exec_order_transition(&rows[i].ord, EXEC_EXPIRED, err);
        if (s != TB_OK) break;
        exec_change_add_step(&ch, &rows[i].ord, EXEC_EXPIRED, EXEC_REASON_DAY_END);
        s = exec_store_save(c, &rows[i], &ch, trace, &evs, err);
    }
    free(rows);
    if (s == TB_OK) s = exec_tx_commit(c, err);
    if (s != TB_OK) {
        exec_tx_rollback(c);
        n = 0;
    } else {
        exec_publish_events(a, svc, &evs, trace);
    }
    exec_events_free(&evs);
    return n;
}

void exec_expire_day_orders(bus_actor *a, void *arg) {
    exec_service *svc = arg;
    tb_error err = {0};
    PGconn *c = bus_pg_acquire(bus_actor_pg(a), &err);
    if (c == NULL) {
        bus_log(BUS_LOG_WARN, "day expiry skipped: %s", err.message);
        return;
    }
    char trace[40];
    bus_new_id(trace, sizeof trace);
    int64_t now = tb_now_ns();
    size_t n;
    do {
        err = (tb_error){0};
        n = expire_batch(a, svc, c, now, trace, &err);
        if (err.status != TB_OK) bus_log(BUS_LOG_WARN, "day expiry: %s", err.message);
    } while (n == EXPIRY_BATCH && !bus_actor_stopping(a));
    bus_pg_release(bus_actor_pg(a), c);
}
