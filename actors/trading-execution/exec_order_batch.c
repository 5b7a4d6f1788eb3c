/* The ORDERS stream (orders.new.<acct>, orders.cancel.<acct>), a fetched
 * batch at a time, in one PostgreSQL transaction with a fixed number of
 * statements whatever the batch's size:
 *
 *   1. lock the tick state of the symbols whose new orders trade at the
 *      current quote, and read their last quotes (exec_last_quote, kept by
 *      the tick handler): no request to market-data per order;
 *   2. lock the batch's orders;
 *   3. apply the messages in arrival order in memory, as one by one: a new
 *      order that is no longer `new` and a cancel of a terminal order were
 *      handled before (a redelivery, or a copy earlier in the batch) and
 *      change nothing; a message that cannot apply (unknown order, another
 *      account's) fails alone;
 *   4. write fills with their outbox events, the orders and their
 *      order_events, the stops the arrival quotes set on trailing stops;
 *      commit; relay the fills once; publish orders.status.
 *
 * A signal's market order trades at the price of the tick the strategy
 * saw, at that tick's time (event time): the fill does not depend on how
 * far the feed has run ahead meanwhile. Other orders trade at the symbol's
 * last quote; with none (or one older than the last tick matched) they are
 * accepted and rest until a tick.
 *
 * When the batch's transaction fails as a whole (a store error, a
 * deadlock), each message is applied again alone, the same way, so a
 * message that cannot be applied fails alone and never holds back the
 * others. */
#include <stdlib.h>
#include <string.h>

#include "exec_service.h"
#include "exec_store.h"

typedef struct order_msg {
    size_t index; /* in the bus batch */
    bool cancel;
    tb_order order;
    tb_order_cancel cxl;
    const char *order_id, *account;
} order_msg;

/* What one transaction over some of the batch's messages did. */
typedef struct group {
    exec_service *svc;
    const bus_batch *b;
    order_msg **msgs;
    size_t n;
    exec_symbol *syms; /* sorted, distinct */
    exec_symbol_quote *quotes;
    size_t nsyms;
    exec_row *rows;
    size_t nrows;
    exec_batch_change *changes;
    size_t nchanges;
    /* per message: failure to report once the group settles (TB_OK: none) */
    tb_status *fail_status;
    char (*fail_msg)[160];
    size_t duplicates, missing, stale, event_time, fills;
} group;

static int symbol_cmp(const void *a, const void *b) {
    return strcmp(a, b);
}

static bool event_time_order(const tb_order *m) {
    return strcmp(m->source, "signal") == 0 && strcmp(m->type, "market") == 0 && m->ref_price > 0;
}

static exec_row *find_row(group *g, const char *order_id) {
    for (size_t i = 0; i < g->nrows; i++)
        if (strcmp(g->rows[i].rec.order_id, order_id) == 0) return &g->rows[i];
    return NULL;
}

static void fail_later(group *g, size_t k, tb_status s, const char *fmt, const char *a,
                       const char *b2) {
    g->fail_status[k] = s;
    snprintf(g->fail_msg[k], sizeof g->fail_msg[k], fmt, a, b2);
}

static exec_batch_change *add_change(group *g, exec_row *row, const char *trace) {
    exec_batch_change *bc = &g->changes[g->nchanges++];
    *bc = (exec_batch_change){.row = (size_t)(row - g->rows), .trace = trace};
    return bc;
}

/* ---- applying one message to the locked rows ---- */

/* The quote a new order trades at on arrival; false when there is none. */
static bool arrival_quote(group *g, const tb_order *m, tb_tick *tick) {
    memset(tick, 0, sizeof *tick);
    if (event_time_order(m)) {
        tick->last = m->ref_price;
        tick->ts = m->ref_ts;
        g->event_time++;
        return true;
    }
    const exec_symbol *hit = bsearch(m->symbol, g->syms, g->nsyms, sizeof *g->syms, symbol_cmp);
    const exec_symbol_quote *sq = hit ? &g->quotes[hit - g->syms] : NULL;
    tb_error err = {0};
    exec_quote q = sq && sq->have_quote ? exec_quote_of(&sq->quote) : (exec_quote){0};
    if (sq == NULL || !sq->have_quote || exec_quote_validate(&q, &err) != TB_OK) {
        g->missing++;
        bus_log(BUS_LOG_DEBUG, "no usable quote for %s: the order rests until a tick", m->symbol);
        return false;
    }
    /* A quote older than the last tick matched would fill at a price the
     * book already left. */
    if (sq->quote.seq != sq->last_seq &&
        exec_tick_classify(true, sq->last_seq, sq->last_source, sq->quote.seq, sq->quote.source,
                           g->svc->seq_reset_gap) == EXEC_TICK_STALE) {
        g->stale++;
        return false;
    }
    *tick = sq->quote;
    return true;
}

static tb_status apply_new(group *g, size_t k, exec_row *row, tb_error *err) {
    const order_msg *om = g->msgs[k];
    const tb_order *m = &om->order;
    if (row->ord.status != EXEC_NEW) {
        g->duplicates++; /* handled before: a redelivery */
        return TB_OK;
    }
    exec_batch_change *bc = add_change(g, row, bus_batch_trace(g->b, om->index));
    tb_error verr = {0};
    tb_status s;
    if (exec_order_validate(&row->ord, &verr) != TB_OK) {
        s = exec_order_transition(&row->ord, EXEC_REJECTED, err);
        exec_change_add_step(&bc->ch, &row->ord, EXEC_REJECTED, "invalid_order");
        bus_log(BUS_LOG_WARN, "order %s rejected: %s", m->order_id, verr.message);
    } else {
        s = exec_order_transition(&row->ord, EXEC_ACCEPTED, err);
        exec_change_add_step(&bc->ch, &row->ord, EXEC_ACCEPTED, NULL);
        tb_tick tick;
        /* An order of a group is matched from the next tick on, never on
         * arrival: only the tick run holds every order of the group, so a
         * leg's fill and the cancel of its partner are one transaction. */
        bool grouped = row->rec.group_id[0] != '\0';
        bool have_quote = !grouped && arrival_quote(g, m, &tick);
        if (grouped) memset(&tick, 0, sizeof tick);
        exec_quote q = have_quote ? exec_quote_of(&tick) : (exec_quote){0};
        if (s == TB_OK && !grouped) {
            exec_outcome oc;
            exec_match(&q, &g->svc->params, tb_now_ns(), true, &row->ord, 1, &oc);
            if (oc.status != TB_OK)
                bus_log(BUS_LOG_WARN, "order %s not matched on arrival: %s", m->order_id,
                        tb_status_code(oc.status));
            exec_change_add_outcome(&bc->ch, &row->ord, &oc, tick.ts ? tick.ts : tb_now_ns());
        }
    }
    bc->version = row->ord.version;
    bc->fills = row->ord.fills;
    g->fills += bc->ch.filled ? 1 : 0;
    return s;
}

static tb_status cancel_row(group *g, size_t k, exec_row *row, const char *reason, tb_error *err) {
    exec_batch_change *bc = add_change(g, row, bus_batch_trace(g->b, g->msgs[k]->index));
    tb_status s = exec_order_transition(&row->ord, EXEC_CANCELED, err);
    exec_change_add_step(&bc->ch, &row->ord, EXEC_CANCELED, reason);
    bc->version = row->ord.version;
    bc->fills = row->ord.fills;
    return s;
}

static tb_status apply_cancel(group *g, size_t k, exec_row *row, tb_error *err) {
    const tb_order_cancel *m = &g->msgs[k]->cxl;
    if (!exec_status_is_open(row->ord.status)) {
        g->duplicates++; /* already terminal (filled, expired, or canceled before) */
        return TB_OK;
    }
    tb_status s = cancel_row(g, k, row, m->reason[0] ? m->reason : EXEC_REASON_USER, err);
    /* the group's other orders were locked with it (exec_store_lock_orders) */
    for (size_t i = 0; s == TB_OK && i < g->nrows; i++) {
        exec_row *o = &g->rows[i];
        bool same =
            o != row && row->rec.group_id[0] && strcmp(o->rec.group_id, row->rec.group_id) == 0;
        const char *why = same ? exec_group_cancels(&row->ord, &o->ord) : NULL;
        if (why) s = cancel_row(g, k, o, why, err);
    }
    return s;
}

/* Applies the group's messages in order to the locked rows. */
static tb_status apply_all(group *g, tb_error *err) {
    for (size_t k = 0; k < g->n; k++) {
        const order_msg *om = g->msgs[k];
        exec_row *row = find_row(g, om->order_id);
        tb_status s = TB_OK;
        if (row == NULL)
            fail_later(g, k, TB_NOT_FOUND, "no order %s%s", om->order_id, "");
        else if (!om->cancel && strcmp(row->rec.account, om->account) != 0)
            fail_later(g, k, TB_INVALID, "order %s belongs to another account than %s",
                       om->order_id, om->account);
        else if (om->cancel && strcmp(row->rec.account, om->account) != 0)
            fail_later(g, k, TB_FORBIDDEN, "order %s does not belong to %s", om->order_id,
                       om->account);
        else
            s = om->cancel ? apply_cancel(g, k, row, err) : apply_new(g, k, row, err);
        if (s != TB_OK) return s;
    }
    return TB_OK;
}

/* ---- one transaction ---- */

static tb_status prepare(group *g, tb_error *err) {
    g->syms = calloc(g->n, sizeof *g->syms);
    g->quotes = calloc(g->n, sizeof *g->quotes);
    /* a cancel may cancel the other orders of its group as well */
    g->changes = calloc(g->n * EXEC_GROUP_MAX, sizeof *g->changes);
    g->fail_status = calloc(g->n, sizeof *g->fail_status);
    g->fail_msg = calloc(g->n, sizeof *g->fail_msg);
    if (!g->syms || !g->quotes || !g->changes || !g->fail_status || !g->fail_msg)
        return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    for (size_t k = 0; k < g->n; k++) {
        const order_msg *om = g->msgs[k];
        if (om->cancel || event_time_order(&om->order)) continue;
        snprintf(g->syms[g->nsyms++], sizeof *g->syms, "%s", om->order.symbol);
    }
    qsort(g->syms, g->nsyms, sizeof *g->syms, symbol_cmp);
    size_t w = 0;
    for (size_t i = 0; i < g->nsyms; i++)
        if (w == 0 || strcmp(g->syms[w - 1], g->syms[i]) != 0)
            memmove(g->syms[w++], g->syms[i], sizeof *g->syms);
    g->nsyms = w;
    return TB_OK;
}

static void group_free(group *g) {
    free(g->syms);
    free(g->quotes);
    free(g->rows);
    free(g->changes);
    free(g->fail_status);
    free(g->fail_msg);
}

/* The stops the arrival quotes set on trailing stops, in one statement. */
static tb_status save_trails(group *g, PGconn *c, tb_error *err) {
    exec_trail_pos *v = g->nrows ? calloc(g->nrows, sizeof *v) : NULL;
    if (g->nrows && v == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    size_t n = 0;
    exec_trail_collect(g->rows, g->nrows, v, &n);
    tb_status s = exec_store_save_trails(c, v, n, err);
    free(v);
    return s;
}

static tb_status run_group(group *g, PGconn *c, exec_events *ev, tb_error *err) {
    const char **ids = calloc(g->n, sizeof *ids);
    if (ids == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    for (size_t k = 0; k < g->n; k++) ids[k] = g->msgs[k]->order_id;
    /* Pipelined: BEGIN and both locks in one round trip (symbols first,
     * as on the tick path), the writes with COMMIT. */
    PGresult *rsym = NULL, *rord = NULL;
    tb_status s = bus_pg_pipeline_begin(c, err);
    if (s == TB_OK) s = exec_tx_begin(c, err);
    if (s == TB_OK) s = exec_store_lock_symbols_send(c, g->syms, g->nsyms, &rsym, err);
    if (s == TB_OK) s = exec_store_lock_orders_send(c, ids, g->n, &rord, err);
    if (s == TB_OK) s = bus_pg_pipeline_sync(c, err);
    if (s == TB_OK) s = exec_store_lock_symbols_read(rsym, g->syms, g->nsyms, g->quotes, err);
    if (s == TB_OK) s = exec_store_lock_orders_read(c, rord, &g->rows, &g->nrows, err);
    PQclear(rsym);
    PQclear(rord);
    free(ids);
    if (s == TB_OK) s = apply_all(g, err);
    if (s == TB_OK) s = exec_store_save_many(c, g->rows, g->changes, g->nchanges, ev, err);
    if (s == TB_OK) s = save_trails(g, c, err);
    if (s == TB_OK) s = exec_tx_commit(c, err);
    tb_status ps = bus_pg_pipeline_end(c, s == TB_OK ? err : &(tb_error){0});
    if (s == TB_OK) s = ps;
    if (s != TB_OK) exec_tx_rollback(c);
    return s;
}

/* After the commit: relay, publish each change's transitions with its
 * message's trace, report the messages that failed alone, count. */
static void settle(bus_ctx *ctx, group *g, const exec_events *ev) {
    bus_actor *a = bus_ctx_actor(ctx);
    exec_relay_now(a, g->svc, (int)g->fills);
    size_t off = 0;
    for (size_t i = 0; i < g->nchanges && off <= ev->n; i++) {
        size_t steps = (size_t)g->changes[i].ch.nsteps;
        if (off + steps > ev->n) break;
        exec_events part = {.v = ev->v + off, .n = steps, .cap = steps};
        exec_publish_events(a, g->svc, &part, g->changes[i].trace);
        off += steps;
    }
    for (size_t k = 0; k < g->n; k++)
        if (g->fail_status[k] != TB_OK) {
            bus_batch_fail(g->b, g->msgs[k]->index, g->fail_status[k], "%s", g->fail_msg[k]);
        }
    bus_counter_add(g->svc->m_duplicates, g->duplicates);
    bus_counter_add(g->svc->m_quote_missing, g->missing);
    bus_counter_add(g->svc->m_quote_stale, g->stale);
    bus_counter_add(g->svc->m_event_time, g->event_time);
}

/* One transaction for msgs[0..n); TB_OK once committed and settled. */
static tb_status apply_group(bus_ctx *ctx, exec_service *svc, const bus_batch *b, order_msg **msgs,
                             size_t n, PGconn *c, tb_error *err) {
    group g = {.svc = svc, .b = b, .msgs = msgs, .n = n};
    exec_events ev = {0};
    tb_status s = prepare(&g, err);
    if (s == TB_OK) s = run_group(&g, c, &ev, err);
    if (s == TB_OK) settle(ctx, &g, &ev);
    exec_events_free(&ev);
    group_free(&g);
    return s;
}

/* ---- the handler ---- */

static const char *subject_token(const char *subject, size_t prefix_len) {
    return strlen(subject) > prefix_len ? subject + prefix_len : "";
}

/* Decodes message i by its subject and checks it against the subject's
 * account. */
static tb_status decode(const bus_batch *b, size_t i, order_msg *om, tb_error *err) {
    const bus_raw *raw = bus_batch_event(b, i);
    const char *subject = bus_batch_subject(b, i);
    om->index = i;
    if (strncmp(subject, "orders.new.", 11) == 0) {
        tb_status s = tb_decode(&tb_order_desc, raw->data, raw->len, &om->order, err);
        if (s != TB_OK) return s;
        om->order_id = om->order.order_id;
        om->account = om->order.account;
        if (strcmp(subject_token(subject, 11), om->account) != 0)
            return tb_error_set(err, TB_INVALID, "account", "order %s of %s published for %s",
                                om->order_id, om->account, subject_token(subject, 11));
        return TB_OK;
    }
    if (strncmp(subject, "orders.cancel.", 14) == 0) {
        om->cancel = true;
        tb_status s = tb_decode(&tb_order_cancel_desc, raw->data, raw->len, &om->cxl, err);
        if (s != TB_OK) return s;
        om->order_id = om->cxl.order_id;
        om->account = om->cxl.account;
        if (strcmp(subject_token(subject, 14), om->account) != 0)
            return tb_error_set(err, TB_INVALID, "account", "cancel of %s for %s published for %s",
                                om->order_id, om->account, subject_token(subject, 14));
        return TB_OK;
    }
    return tb_error_set(err, TB_INVALID, NULL, "unexpected subject %s on the ORDERS stream",
                        subject);
}

tb_status exec_on_orders(bus_ctx *ctx, const bus_batch *b) {
    exec_service *svc = bus_actor_user(bus_ctx_actor(ctx));
    size_t n = bus_batch_len(b);
    order_msg *all = calloc(n ? n : 1, sizeof *all);
    order_msg **ok = calloc(n ? n : 1, sizeof *ok);
    tb_error err = {0};
    if (all == NULL || ok == NULL) {
        free(all);
        free(ok);
        return bus_fail(ctx, TB_NOMEM, NULL, "out of memory for %zu orders", n);
    }
    size_t nok = 0;
    for (size_t i = 0; i < n; i++) {
        tb_error derr = {0};
        if (decode(b, i, &all[i], &derr) != TB_OK)
            bus_batch_fail(b, i, derr.status, "%s", derr.message);
        else
            ok[nok++] = &all[i];
    }
    tb_status s = TB_OK;
    PGconn *c = nok > 0 ? bus_ctx_pg(ctx, &err) : NULL;
    if (nok > 0 && c == NULL) s = err.status; /* no store: the batch is redelivered */
    if (s == TB_OK && nok > 0) {
        s = apply_group(ctx, svc, b, ok, nok, c, &err);
        if (s == TB_OK) {
            bus_counter_add(svc->m_order_batches, 1);
        } else if (nok == 1) {
            bus_batch_fail(b, ok[0]->index, s, "%s", err.message);
            s = TB_OK;
        } else {
            bus_log(BUS_LOG_WARN, "batch of %zu orders applied one by one: %s", nok, err.message);
            bus_counter_add(svc->m_order_batch_fallbacks, 1);
            for (size_t k = 0; k < nok; k++) {
                tb_error one = {0};
                tb_status os = apply_group(ctx, svc, b, &ok[k], 1, c, &one);
                if (os != TB_OK) bus_batch_fail(b, ok[k]->index, os, "%s", one.message);
            }
            s = TB_OK;
        }
    }
    free(all);
    free(ok);
    return s == TB_OK ? TB_OK : bus_fail_err(ctx, &err);
}
