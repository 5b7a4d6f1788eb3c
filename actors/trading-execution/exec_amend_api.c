/* api.orders.amend.apply: applies an amend risk-management approved
 * (actors/risk-management/risk_amend.c) to the order, in one transaction
 * that takes the locks a new order and a tick take, in the same order: the
 * symbol's tick state, then the order row. So an amend and a fill never
 * interleave: whichever commits second sees the other's result (a fill
 * after the amend is bounded by the new qty; an amend after a fill is
 * judged against the new filled_qty), and the fills never exceed the final
 * qty.
 *
 * Once amended, an accepted or partially filled order is matched against
 * the symbol's last quote exactly as a new order is on arrival (taker), so a
 * limit price moved through the touch trades at once. An order still `new`
 * keeps its new values for its arrival. */
#include <string.h>

#include "exec_service.h"
#include "exec_store.h"
#include "store.h"

static exec_service *service_of(bus_ctx *ctx) {
    return bus_actor_user(bus_ctx_actor(ctx));
}

static void count(bus_ctx *ctx, const char *outcome) {
    bus_metrics *m = bus_actor_metrics(bus_ctx_actor(ctx));
    bus_counter_add(bus_metrics_counter(m, "tb_exec_amends_total",
                                        "Order amends applied (amended) or that changed nothing "
                                        "(unchanged: a retry)",
                                        "outcome", outcome, NULL),
                    1);
}

/* The last quote when it may be traded at: present, valid and not older
 * than the last tick matched (the same rule as a new order's arrival). */
static bool usable_quote(const exec_service *svc, const exec_symbol_quote *sq, exec_quote *q) {
    if (!sq->have_quote) return false;
    *q = exec_quote_of(&sq->quote);
    tb_error ignored = {0};
    if (exec_quote_validate(q, &ignored) != TB_OK) return false;
    return sq->quote.seq == sq->last_seq ||
           exec_tick_classify(true, sq->last_seq, sq->last_source, sq->quote.seq, sq->quote.source,
                              svc->seq_reset_gap) != EXEC_TICK_STALE;
}

/* The order's values and final state in one statement: the table's checks
 * (filled_qty <= qty, status against quantities) hold only for the whole
 * new row. exec_store_save then records the events. */
static tb_status store_values(PGconn *c, const exec_row *row, tb_error *err) {
    const exec_order *o = &row->ord;
    char qty[TB_FIXED_STRLEN], lim[TB_FIXED_STRLEN], stop[TB_FIXED_STRLEN], filled[TB_FIXED_STRLEN],
        avg[TB_FIXED_STRLEN], version[24];
    tb_fixed_format(o->qty, qty);
    tb_fixed_format(o->limit_price, lim);
    tb_fixed_format(o->stop_price, stop);
    tb_fixed_format(o->filled_qty, filled);
    tb_fixed_format(o->avg_price, avg);
    snprintf(version, sizeof version, "%lld", (long long)o->version);
    const char *p[8] = {row->rec.order_id,           qty,    lim, stop,
                        exec_status_name(o->status), filled, avg, version};
    return bus_pg_exec(c,
                       "UPDATE orders SET qty = $2::numeric, limit_price = NULLIF($3::numeric, 0), "
                       "stop_price = NULLIF($4::numeric, 0), status = $5, filled_qty = "
                       "$6::numeric, avg_price = NULLIF($7::numeric, 0), version = $8::int "
                       "WHERE order_id = $1",
                       8, p, NULL, err);
}

/* The amend's order_events row (written by exec_store_save) gets the
 * values the order took. */
static tb_status store_event_values(PGconn *c, const exec_row *row, int64_t version,
                                    tb_error *err) {
    char qty[TB_FIXED_STRLEN], lim[TB_FIXED_STRLEN], stop[TB_FIXED_STRLEN], v[24];
    tb_fixed_format(row->rec.qty, qty);
    tb_fixed_format(row->rec.limit_price, lim);
    tb_fixed_format(row->rec.stop_price, stop);
    snprintf(v, sizeof v, "%lld", (long long)version);
    const char *p[5] = {row->rec.order_id, v, qty, lim, stop};
    return bus_pg_exec(
        c,
        "UPDATE order_events SET qty = $3::numeric, limit_price = NULLIF($4::numeric, "
        "0), stop_price = NULLIF($5::numeric, 0) WHERE order_id = $1 AND version = "
        "$2::int",
        5, p, NULL, err);
}

/* In the caller's transaction: locks, amends, matches, records. */
static tb_status amend_locked(bus_ctx *ctx, PGconn *c, const tb_order_amend *m, const char *symbol,
                              exec_row *row, exec_change *ch, exec_events *ev, bool *changed,
                              tb_error *err) {
    exec_service *svc = service_of(ctx);
    exec_symbol sym;
    snprintf(sym, sizeof sym, "%s", symbol);
    exec_symbol_quote sq;
    memset(&sq, 0, sizeof sq);
    tb_status s = exec_store_lock_symbols(c, &sym, 1, &sq, err);
    if (s == TB_OK) s = exec_store_lock_order(c, m->id, row, err);
    exec_status st = EXEC_NEW;
    exec_amend a = {.qty = m->qty, .limit_price = m->limit_price, .stop_price = m->stop_price};
    if (s == TB_OK) s = exec_order_amend(&row->ord, &a, changed, &st, err);
    if (s != TB_OK || !*changed) return s;
    row->rec.qty = row->ord.qty;
    row->rec.limit_price = row->ord.limit_price;
    row->rec.stop_price = row->ord.stop_price;
    exec_change_add_step(ch, &row->ord, st, EXEC_REASON_AMENDED);
    int64_t amend_version = row->ord.version;
    exec_quote q;
    if ((st == EXEC_ACCEPTED || st == EXEC_PARTIALLY_FILLED) && usable_quote(svc, &sq, &q)) {
        exec_outcome oc;
        exec_match(&q, &svc->params, tb_now_ns(), true, &row->ord, 1, &oc);
        if (oc.status != TB_OK)
            bus_log(BUS_LOG_WARN, "order %s not matched after its amend: %s", m->id,
                    tb_status_code(oc.status));
        exec_change_add_outcome(ch, &row->ord, &oc, q.ts_ns ? q.ts_ns : tb_now_ns());
    }
    s = store_values(c, row, err);
    /* a trailing stop's stop the quote moved, as on arrival */
    exec_trail_pos trail[1];
    size_t ntrail = 0;
    exec_trail_collect(row, 1, trail, &ntrail);
    if (s == TB_OK && ntrail > 0) s = exec_store_save_trails(c, trail, ntrail, err);
    size_t first_event = ev->n;
    if (s == TB_OK) s = exec_store_save(c, row, ch, bus_ctx_trace(ctx), ev, err);
    if (s == TB_OK) s = store_event_values(c, row, amend_version, err);
    if (s == TB_OK && ev->n > first_event) {
        tb_order_status *e = &ev->v[first_event];
        e->qty = row->rec.qty;
        e->limit_price = row->rec.limit_price;
        e->stop_price = row->rec.stop_price;
    }
    return s;
}

tb_status exec_api_amend(bus_ctx *ctx, const void *event) {
    const tb_order_amend *m = event;
    if (m->id[0] == '\0') return bus_fail(ctx, TB_MISSING_FIELD, "id", "order id required");
    exec_service *svc = service_of(ctx);
    tb_error err = {0};
    PGconn *c = bus_ctx_pg(ctx, &err);
    if (c == NULL) return bus_fail_err(ctx, &err);
    /* Read first, unlocked, for the scope and the symbol to lock first. */
    exec_row row;
    if (exec_store_get(c, m->id, m->accounts, &row, &err) != TB_OK) return bus_fail_err(ctx, &err);
    char symbol[TB_TOKEN_CAP];
    snprintf(symbol, sizeof symbol, "%s", row.rec.symbol);
    exec_change ch = {0};
    exec_events ev = {0};
    bool changed = false;
    tb_status s = exec_tx_begin(c, &err);
    if (s == TB_OK) s = amend_locked(ctx, c, m, symbol, &row, &ch, &ev, &changed, &err);
    if (s == TB_OK) s = exec_tx_commit(c, &err);
    if (s != TB_OK) {
        exec_tx_rollback(c);
        exec_events_free(&ev);
        return bus_fail_err(ctx, &err);
    }
    count(ctx, changed ? "amended" : "unchanged");
    if (changed) {
        bus_log(BUS_LOG_INFO, "order %s amended (version %lld)", m->id, (long long)row.ord.version);
        exec_relay_now(bus_ctx_actor(ctx), svc, ch.filled ? 1 : 0);
        exec_publish_events(bus_ctx_actor(ctx), svc, &ev, bus_ctx_trace(ctx));
    }
    exec_events_free(&ev);
    return bus_reply(ctx, &tb_order_record_desc, &row.rec);
}
