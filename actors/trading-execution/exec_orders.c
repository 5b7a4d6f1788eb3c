/* trading-execution's shared glue (publishing transitions, relaying fills),
 * cancels and the day-expiry timer. The ORDERS stream is in
 * exec_order_batch.c, ticks in exec_ticks.c. Each change is one PostgreSQL
 * transaction that locks what it changes; fills are recorded with their
 * outbox event in that transaction, relayed right after the commit, and
 * orders.status events go out once committed. */
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
                        .last_size = t->last_size,
                        .ts_ns = t->ts};
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
    if (bus_outbox_publish_soon(a, EXEC_PRODUCER, fills, &err) != TB_OK) {
        bus_counter_add(svc->m_fill_errors, 1);
        bus_log(BUS_LOG_WARN, "fill relay deferred to the timer: %s", err.message);
    }
}

/* ---- cancels ---- */

/* Locks the order and the other orders of its group (in id order, as the
 * ORDERS batches do); *target points at the order among *rows. */
static tb_status lock_with_group(PGconn *c, const char *order_id, exec_row **rows, size_t *n,
                                 exec_row **target, tb_error *err) {
    const char *ids[1] = {order_id};
    tb_status s = exec_store_lock_orders(c, ids, 1, rows, n, err);
    *target = NULL;
    for (size_t i = 0; s == TB_OK && i < *n; i++)
        if (strcmp((*rows)[i].rec.order_id, order_id) == 0) *target = &(*rows)[i];
    if (s == TB_OK && *target == NULL)
        s = tb_error_set(err, TB_NOT_FOUND, "id", "no order %s", order_id);
    return s;
}

/* Cancels the open orders of row's group that its cancel cancels. */
static tb_status cancel_group(PGconn *c, const exec_row *row, exec_row *rows, size_t n,
                              const char *trace, exec_events *ev, tb_error *err) {
    tb_status s = TB_OK;
    for (size_t i = 0; s == TB_OK && i < n && row->rec.group_id[0]; i++) {
        exec_row *o = &rows[i];
        if (o == row || strcmp(o->rec.group_id, row->rec.group_id) != 0) continue;
        const char *why = exec_group_cancels(&row->ord, &o->ord);
        if (why == NULL) continue;
        exec_change ch = {0};
        s = exec_order_transition(&o->ord, EXEC_CANCELED, err);
        if (s == TB_OK) {
            exec_change_add_step(&ch, &o->ord, EXEC_CANCELED, why);
            s = exec_store_save(c, o, &ch, trace, ev, err);
        }
    }
    return s;
}

tb_status exec_cancel_order(bus_ctx *ctx, const char *order_id, const char *account,
                            const char *accounts, const char *reason, exec_row *out,
                            tb_error *err) {
    exec_service *svc = service_of(ctx);
    PGconn *c = bus_ctx_pg(ctx, err);
    if (c == NULL) return err->status;
    exec_events ev = {0};
    exec_change ch = {0};
    exec_row *rows = NULL, *row = NULL;
    size_t nrows = 0;
    tb_status s = exec_tx_begin(c, err);
    if (s == TB_OK) s = lock_with_group(c, order_id, &rows, &nrows, &row, err);
    if (s == TB_OK && accounts && accounts[0]) {
        /* visible only to callers scoped to the order's account */
        size_t n = strlen(row->rec.account);
        const char *p = accounts;
        bool seen = false;
        while (!seen && p && *p) {
            seen = strncmp(p, row->rec.account, n) == 0 && (p[n] == ',' || p[n] == '\0');
            p = strchr(p, ',');
            if (p) p++;
        }
        if (!seen) s = tb_error_set(err, TB_NOT_FOUND, "id", "no order %s", order_id);
    }
    if (s == TB_OK && account && account[0] && strcmp(account, row->rec.account) != 0)
        s = tb_error_set(err, TB_FORBIDDEN, "account", "order %s does not belong to %s", order_id,
                         account);
    if (s == TB_OK && !exec_status_is_open(row->ord.status))
        s = tb_error_set(err, TB_CONFLICT, "id", "order %s is already %s", order_id,
                         exec_status_name(row->ord.status));
    if (s == TB_OK) s = exec_order_transition(&row->ord, EXEC_CANCELED, err);
    if (s == TB_OK) {
        exec_change_add_step(&ch, &row->ord, EXEC_CANCELED, reason);
        s = exec_store_save(c, row, &ch, bus_ctx_trace(ctx), &ev, err);
    }
    /* the other leg of an OCO pair goes with it, in the same transaction */
    if (s == TB_OK) s = cancel_group(c, row, rows, nrows, bus_ctx_trace(ctx), &ev, err);
    if (s == TB_OK) s = exec_tx_commit(c, err);
    if (s == TB_OK) *out = *row;
    free(rows);
    if (s != TB_OK) {
        exec_tx_rollback(c);
        exec_events_free(&ev);
        return s;
    }
    exec_publish_events(bus_ctx_actor(ctx), svc, &ev, bus_ctx_trace(ctx));
    exec_events_free(&ev);
    return TB_OK;
}

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
