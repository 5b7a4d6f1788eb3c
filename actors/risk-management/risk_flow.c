/* The decision flow of one intent; see risk_flow.h. */
#include "risk_flow.h"

#include <stdlib.h>
#include <string.h>

#include "outbox.h"
#include "risk_deps.h"
#include "risk_intent.h"
#include "risk_store.h"

static risk_service *service_of(bus_ctx *ctx) {
    return bus_actor_user(bus_ctx_actor(ctx));
}

static void count_decision(bus_ctx *ctx, const risk_intent *in, const risk_verdict *v) {
    bus_metrics *m = bus_actor_metrics(bus_ctx_actor(ctx));
    bus_counter_add(bus_metrics_counter(m, "tb_risk_decisions_total", "Pre-trade decisions",
                                        "source", in->source, "outcome",
                                        v->n ? "rejected" : "approved", NULL),
                    1);
    for (size_t i = 0; i < v->n; i++)
        bus_counter_add(bus_metrics_counter(m, "tb_risk_rejections_total",
                                            "Failed pre-trade checks by reason code", "reason",
                                            risk_reason_code(v->failures[i].reason), NULL),
                        1);
}

void risk_publish_decision(bus_ctx *ctx, const risk_intent *in, const risk_verdict *v,
                           const char *order_id) {
    risk_publish_decision_traced(ctx, bus_ctx_trace(ctx), in, v, order_id);
}

void risk_publish_decision_traced(bus_ctx *ctx, const char *trace, const risk_intent *in,
                                  const risk_verdict *v, const char *order_id) {
    char id[TB_ID_CAP];
    bus_new_id(id, sizeof id);
    tb_risk_decision d;
    risk_decision_event(in, v, id, order_id, tb_now_ns(), &d);
    char subject[128];
    snprintf(subject, sizeof subject, "risk.decision.%s", in->account);
    bus_msg_meta meta = {.trace_id = trace};
    if (bus_publish(bus_actor_conn(bus_ctx_actor(ctx)), subject, &tb_risk_decision_desc, &d,
                    &meta) != TB_OK)
        bus_log(BUS_LOG_WARN, "risk.decision for %s not published", in->account);
    count_decision(ctx, in, v);
    if (v->n) {
        char codes[TB_TEXT_CAP];
        /* The first failure's text says why with the figures ("needed
         * 2541.41 (...), available 1203.5"): the decision event carries
         * only the codes. */
        bus_logf(BUS_LOG_INFO,
                 json_pack("{s:s, s:s, s:s, s:s, s:s}", "account", in->account, "symbol",
                           in->symbol, "source", in->source, "reasons",
                           risk_verdict_codes(v, codes, sizeof codes), "detail",
                           v->failures[0].message),
                 "intent rejected");
    }
}

int64_t risk_decision_time(int64_t event_ns, const risk_quote *quote) {
    if (event_ns) return event_ns;
    if (quote->state == RISK_QUOTE_OK && quote->ts > 0) return quote->ts;
    return tb_now_ns();
}

int64_t risk_event_time(const risk_intent *in, risk_quote *quote) {
    if (strcmp(in->source, "signal") != 0 || in->ref_price <= 0 || in->ref_ts <= 0) return 0;
    *quote = (risk_quote){.state = RISK_QUOTE_OK, .last = in->ref_price};
    return in->ref_ts;
}

/* A client_order_id seen before: the original when identical, else a rejection. */
void risk_resolve_retry(const risk_intent *in, const tb_order_record *existing, bool reduce_only,
                        risk_outcome *out) {
    if (risk_same_order(existing, reduce_only, in)) {
        out->kind = RISK_EXISTING;
        out->record = *existing;
        return;
    }
    out->kind = RISK_REJECTED;
    risk_verdict_add(&out->verdict, RISK_DUPLICATE_CLIENT_ORDER_ID, NULL,
                     "client_order_id %s is already used by order %s with other fields",
                     in->client_order_id, existing->order_id);
}

/* Reads positions and P&L when the limits need them. */
static tb_status gather_positions(bus_ctx *ctx, PGconn *pg, const risk_intent *in,
                                  const tb_risk_limits *l, int64_t event_ns, risk_facts *f,
                                  risk_position **owned, tb_error *err) {
    tb_fixed pnl = 0, baseline = 0;
    if (risk_needs_positions(in, l) || risk_needs_pnl(l)) {
        tb_status ps =
            risk_store_positions(pg, in->account, owned, &f->npositions, &pnl, &f->pnl_ok, err);
        if (ps != TB_OK) return ps;
        f->positions_ok = true;
    }
    f->positions = *owned;
    if (!risk_needs_pnl(l)) return TB_OK;
    f->pnl_ok = f->positions_ok && f->pnl_ok;
    if (!f->pnl_ok) return TB_OK;
    redisContext *r = bus_ctx_redis(ctx, err);
    if (r == NULL) return err->status;
    tb_status s =
        risk_day_baseline(r, in->account, event_ns ? event_ns : tb_now_ns(), pnl, &baseline, err);
    if (s != TB_OK) return s;
    if (tb_fixed_sub(pnl, baseline, &f->day_pnl) != TB_OK) f->day_pnl = TB_FIXED_MIN;
    return TB_OK;
}

/* After a unique violation on insert: another worker recorded the same
 * client_order_id or signal first. */
static tb_status resolve_conflict(PGconn *pg, const risk_intent *in, risk_outcome *out,
                                  tb_error *err) {
    memset(&out->verdict, 0, sizeof out->verdict);
    if (in->signal_id[0]) {
        out->kind = RISK_DUPLICATE_SIGNAL;
        return TB_OK;
    }
    bool found = false, reduce_only = false;
    tb_status s = risk_store_find_client_order(pg, in->account, in->client_order_id, &out->record,
                                               &reduce_only, &found, err);
    if (s != TB_OK) return s;
    if (!found) return tb_error_set(err, TB_CONFLICT, "order_id", "order id collision; retry");
    risk_resolve_retry(in, &out->record, reduce_only, out);
    return TB_OK;
}

tb_status risk_process(bus_ctx *ctx, const risk_intent *in, risk_outcome *out, tb_error *err) {
    memset(out, 0, sizeof *out);
    risk_service *svc = service_of(ctx);
    bus_actor *a = bus_ctx_actor(ctx);
    PGconn *pg = bus_ctx_pg(ctx, err);
    if (pg == NULL) return err->status;

    if (in->client_order_id[0]) {
        bool found = false, reduce_only = false;
        tb_order_record existing;
        tb_status s = risk_store_find_client_order(pg, in->account, in->client_order_id, &existing,
                                                   &reduce_only, &found, err);
        if (s != TB_OK) return s;
        if (found) {
            risk_resolve_retry(in, &existing, reduce_only, out);
            if (out->kind == RISK_REJECTED) risk_publish_decision(ctx, in, &out->verdict, NULL);
            return TB_OK;
        }
    }
    if (in->signal_id[0]) {
        bool used = false;
        tb_status s = risk_store_signal_used(pg, in->signal_id, &used, err);
        if (s != TB_OK) return s;
        if (used) {
            out->kind = RISK_DUPLICATE_SIGNAL;
            bus_counter_add(svc->m_duplicate_signals, 1);
            return TB_OK;
        }
    }

    risk_pg_facts pf;
    tb_status s = risk_store_load(pg, in->account, in->symbol, &pf, err);
    if (s != TB_OK) return s;
    risk_facts f = {.limits = &pf.limits,
                    .account_known = pf.account_known,
                    .kill_global = pf.kill_global,
                    .symbol = &pf.symbol,
                    .open_orders = pf.open_orders,
                    .bp = pf.bp,
                    .fee_bps = (uint64_t)svc->fee_bps};
    int64_t event_ns = risk_event_time(in, &f.quote);
    if (event_ns == 0)
        risk_fetch_quote(bus_actor_conn(a), svc->quotes, in->symbol, svc->dep_timeout_ms,
                         bus_ctx_trace(ctx), &f.quote);
    f.now_ns = risk_decision_time(event_ns, &f.quote);
    risk_position *positions = NULL;
    if (pf.account_known)
        s = gather_positions(ctx, pg, in, &pf.limits, event_ns, &f, &positions, err);
    if (s == TB_OK) risk_evaluate(in, &f, &out->verdict);

    char order_id[TB_ID_CAP];
    bus_new_id(order_id, sizeof order_id);
    if (s == TB_OK && out->verdict.n == 0 && pf.limits.max_orders_per_sec > 0) {
        redisContext *r = bus_ctx_redis(ctx, err);
        s = r ? risk_rate_take(r, in->account, pf.limits.max_orders_per_sec, svc->rate_window_ms,
                               order_id, event_ns, &f.orders_in_window, err)
              : err->status;
        if (s == TB_OK) risk_check_order_rate(in, &f, &out->verdict);
    }
    int64_t ts = (tb_now_ns() / 1000) * 1000; /* PostgreSQL keeps microseconds */
    if (s == TB_OK && out->verdict.n == 0) {
        s = risk_store_insert_order(pg, in, &f, order_id, ts, bus_ctx_trace(ctx), &out->verdict,
                                    err);
        if (s == TB_CONFLICT) {
            s = resolve_conflict(pg, in, out, err);
            free(positions);
            if (s == TB_OK && out->kind == RISK_REJECTED)
                risk_publish_decision(ctx, in, &out->verdict, NULL);
            return s;
        }
    }
    free(positions);
    if (s != TB_OK) return s;

    if (out->verdict.n > 0) {
        out->kind = RISK_REJECTED;
        risk_publish_decision(ctx, in, &out->verdict, NULL);
        return TB_OK;
    }
    out->kind = RISK_APPROVED;
    risk_order_record(in, order_id, ts, &out->record);
    /* Fast path: publish now; the background relay heals a failure here. */
    tb_error rerr = {0};
    if (bus_outbox_publish_soon(a, RISK_PRODUCER, 1, &rerr) != TB_OK)
        bus_log(BUS_LOG_WARN, "order %s committed, publish deferred to the relay: %s", order_id,
                rerr.message);
    risk_publish_decision(ctx, in, &out->verdict, order_id);
    return TB_OK;
}

/* Records the group's orders in one transaction, under the account lock,
 * after re-running the live checks on each (an earlier order of the group
 * counts as open). */
static tb_status insert_group(PGconn *pg, const risk_group *g, const risk_facts *f,
                              char ids[][TB_ID_CAP], int64_t ts, const char *trace, risk_verdict *v,
                              tb_error *err) {
    tb_status s = bus_pg_exec(pg, "BEGIN", 0, NULL, NULL, err);
    if (s != TB_OK) return s;
    risk_live live;
    s = risk_store_lock_live(pg, g->legs[0].account, &live, err);
    /* buying power as for orders of one batch: each leg counts what the
     * earlier ones need (conservative: at most one exit of a pair fills) */
    tb_fixed taken = 0;
    for (size_t i = 0; s == TB_OK && i < g->n && v->n == 0; i++) {
        risk_recheck(&g->legs[i], f, &live, i, v);
        if (v->n == 0) risk_bp_recheck(&g->legs[i], f, &live, &taken, v);
    }
    risk_new_order o[RISK_GROUP_MAX];
    for (size_t i = 0; i < g->n; i++)
        o[i] = (risk_new_order){.in = &g->legs[i],
                                .order_id = ids[i],
                                .ts_ns = ts,
                                .trace_id = trace,
                                .reserve_price = risk_reference_price(&g->legs[i], &f->quote)};
    if (s == TB_OK && v->n == 0) s = risk_store_write_orders(pg, o, g->n, err);
    if (s == TB_OK && v->n == 0) return bus_pg_exec(pg, "COMMIT", 0, NULL, NULL, err);
    tb_error ignored = {0};
    if (bus_pg_exec(pg, "ROLLBACK", 0, NULL, NULL, &ignored) != TB_OK) {
        /* The connection is broken; the pool drops it and the server rolls back. */
    }
    return s;
}

tb_status risk_process_group(bus_ctx *ctx, risk_group *g, tb_order_record *records, risk_verdict *v,
                             tb_error *err) {
    memset(v, 0, sizeof *v);
    risk_service *svc = service_of(ctx);
    bus_actor *a = bus_ctx_actor(ctx);
    PGconn *pg = bus_ctx_pg(ctx, err);
    if (pg == NULL) return err->status;
    const risk_intent *first = &g->legs[0];
    risk_pg_facts pf;
    tb_status s = risk_store_load(pg, first->account, first->symbol, &pf, err);
    if (s != TB_OK) return s;
    risk_facts f = {.limits = &pf.limits,
                    .account_known = pf.account_known,
                    .kill_global = pf.kill_global,
                    .symbol = &pf.symbol,
                    .open_orders = pf.open_orders,
                    .bp = pf.bp,
                    .fee_bps = (uint64_t)svc->fee_bps};
    risk_fetch_quote(bus_actor_conn(a), svc->quotes, first->symbol, svc->dep_timeout_ms,
                     bus_ctx_trace(ctx), &f.quote);
    f.now_ns = risk_decision_time(0, &f.quote);
    risk_position *positions = NULL;
    if (pf.account_known) s = gather_positions(ctx, pg, first, &pf.limits, 0, &f, &positions, err);
    /* Every order passes the checks alone; the first refusal refuses all. */
    size_t failed = 0;
    for (size_t i = 0; s == TB_OK && i < g->n && v->n == 0; i++) {
        f.open_orders = pf.open_orders + i;
        risk_evaluate(&g->legs[i], &f, v);
        failed = i;
    }
    char ids[RISK_GROUP_MAX][TB_ID_CAP];
    for (size_t i = 0; i < g->n; i++) bus_new_id(ids[i], sizeof ids[i]);
    /* The group is named after its first order. */
    for (size_t i = 0; i < g->n; i++)
        snprintf(g->legs[i].group_id, sizeof g->legs[i].group_id, "%s", ids[0]);
    /* Each order of the group takes an order-rate slot, as a lone order
     * does: a group counts as many orders as it records. One over the limit
     * refuses the group (the slots its earlier orders took stay counted,
     * like those of a lone order refused after its slot). */
    if (s == TB_OK && v->n == 0 && pf.limits.max_orders_per_sec > 0) {
        redisContext *r = bus_ctx_redis(ctx, err);
        const char *members[RISK_GROUP_MAX];
        uint64_t counts[RISK_GROUP_MAX] = {0};
        for (size_t i = 0; i < g->n; i++) members[i] = ids[i];
        s = r ? risk_rate_take_many(r, first->account, pf.limits.max_orders_per_sec,
                                    svc->rate_window_ms, g->n, members, NULL, counts, err)
              : err->status;
        for (size_t i = 0; s == TB_OK && i < g->n && v->n == 0; i++) {
            f.orders_in_window = counts[i];
            risk_check_order_rate(&g->legs[i], &f, v);
            failed = i;
        }
    }
    int64_t ts = (tb_now_ns() / 1000) * 1000; /* PostgreSQL keeps microseconds */
    if (s == TB_OK && v->n == 0) s = insert_group(pg, g, &f, ids, ts, bus_ctx_trace(ctx), v, err);
    free(positions);
    if (s != TB_OK) return s;
    if (v->n > 0) {
        risk_publish_decision(ctx, &g->legs[failed], v, NULL);
        return TB_OK;
    }
    for (size_t i = 0; i < g->n; i++) risk_order_record(&g->legs[i], ids[i], ts, &records[i]);
    tb_error rerr = {0};
    if (bus_outbox_publish_soon(a, RISK_PRODUCER, (int)g->n, &rerr) != TB_OK)
        bus_log(BUS_LOG_WARN, "group %s committed, publish deferred to the relay: %s", ids[0],
                rerr.message);
    for (size_t i = 0; i < g->n; i++) risk_publish_decision(ctx, &g->legs[i], v, ids[i]);
    return TB_OK;
}
