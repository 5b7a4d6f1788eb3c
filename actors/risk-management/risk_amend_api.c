/* api.orders.amend (PATCH /v1/orders/{id}): the amended order goes through
 * the same checks as a new order, then trading-execution applies it
 * (api.orders.amend.apply) under the order's lock.
 *
 *   1. the order, as trading-execution has it (api.orders.get with the
 *      caller's accounts: another account's order does not exist);
 *   2. refused at once when finished (409), or when the amend does not fit
 *      it (422); a retry of an amend already applied changes nothing and
 *      answers the order as it is (no second event);
 *   3. the checks of risk_evaluate on the amended order as if it were new:
 *      its whole new qty and prices, from the position before its fills,
 *      the order itself not counted among the open orders; then an
 *      order-rate slot. A rejection is a 422 with the reasons and leaves the
 *      order as it was;
 *   4. api.orders.amend.apply; its answer (or error: the order finished
 *      meanwhile, 409; a fill overtook a qty cut, 422) is the reply.
 *
 * Buying power: an amend changes what a buy order holds back (its leaves
 * quantity times its price). A buying-power check must judge the amended
 * order by the difference from what the order held before, not as a second
 * order: risk_amend_intent's intent is the whole order, its filled part
 * excluded only from the positions (risk_amend_unfill). */
#include <stdlib.h>
#include <string.h>

#include "risk_amend.h"
#include "risk_api.h"
#include "risk_deps.h"
#include "risk_flow.h"
#include "risk_store.h"
#include "store.h"

/* The timeout of the apply request: it waits for the order's row lock,
 * which a tick round holds for a moment. */
#define APPLY_TIMEOUT_MIN_MS 5000

static risk_service *service_of(bus_ctx *ctx) {
    return bus_actor_user(bus_ctx_actor(ctx));
}

static void count(bus_ctx *ctx, const char *outcome) {
    bus_metrics *m = bus_actor_metrics(bus_ctx_actor(ctx));
    bus_counter_add(bus_metrics_counter(m, "tb_risk_amends_total",
                                        "Order amends by outcome (amended, unchanged, rejected, "
                                        "refused: finished or not fitting the order)",
                                        "outcome", outcome, NULL),
                    1);
}

/* risk-management recorded reduce_only with the order; the record does not
 * carry it. */
static tb_status load_reduce_only(PGconn *pg, const char *order_id, bool *out, tb_error *err) {
    const char *p[1] = {order_id};
    PGresult *r = NULL;
    tb_status s =
        bus_pg_exec(pg, "SELECT reduce_only FROM orders WHERE order_id = $1", 1, p, &r, err);
    *out = s == TB_OK && PQntuples(r) > 0 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return s;
}

static tb_fixed signed_filled(const tb_order_record *rec) {
    return strcmp(rec->side, "sell") == 0 ? -rec->filled_qty : rec->filled_qty;
}

/* Step 3: *verdict holds the failures (none: approved). */
static tb_status check(bus_ctx *ctx, PGconn *pg, const tb_order_record *rec, const risk_intent *in,
                       risk_verdict *verdict, tb_error *err) {
    risk_service *svc = service_of(ctx);
    bus_conn *conn = bus_actor_conn(bus_ctx_actor(ctx));
    const char *trace = bus_ctx_trace(ctx);
    risk_pg_facts pf;
    tb_status s = risk_store_load(pg, in->account, in->symbol, &pf, err);
    if (s != TB_OK) return s;
    risk_facts f = {.limits = &pf.limits,
                    .account_known = pf.account_known,
                    .kill_global = pf.kill_global,
                    .symbol = &pf.symbol,
                    /* the order is already one of them */
                    .open_orders = pf.open_orders > 0 ? pf.open_orders - 1 : 0,
                    .bp = pf.bp,
                    .fee_bps = (uint64_t)svc->fee_bps};
    /* Buying power: what the order holds back now (its leaves at its price,
     * a buy's) is released for its own judgment, so the amended order is
     * not counted twice. Approximate: the whole new qty is judged, its
     * filled part included. */
    tb_fixed leaves = rec->qty - rec->filled_qty, held = 0;
    tb_fixed px = rec->limit_price > 0 ? rec->limit_price : rec->stop_price;
    if (strcmp(rec->side, "buy") == 0) {
        f.bp.open_buy = f.bp.open_buy > leaves ? f.bp.open_buy - leaves : 0;
        if (px > 0 && tb_fixed_mul(leaves, px, TB_ROUND_HALF_EVEN, &held) == TB_OK) {
            f.bp.reserved = f.bp.reserved > held ? f.bp.reserved - held : 0;
            f.bp.fee_base = f.bp.fee_base > held ? f.bp.fee_base - held : 0;
        }
    } else {
        f.bp.open_sell = f.bp.open_sell > leaves ? f.bp.open_sell - leaves : 0;
    }
    risk_fetch_quote(conn, svc->quotes, in->symbol, svc->dep_timeout_ms, trace, &f.quote);
    f.now_ns = risk_decision_time(0, &f.quote);
    risk_position *positions = NULL;
    tb_fixed pnl = 0, baseline = 0;
    if (pf.account_known && (risk_needs_positions(in, &pf.limits) || risk_needs_pnl(&pf.limits))) {
        s = risk_store_positions(pg, in->account, &positions, &f.npositions, &pnl, &f.pnl_ok, err);
        f.positions_ok = s == TB_OK;
        if (f.positions_ok)
            risk_amend_unfill(positions, f.npositions, in->symbol, signed_filled(rec));
        f.positions = positions;
        f.pnl_ok = f.positions_ok && f.pnl_ok;
    }
    if (pf.account_known && risk_needs_pnl(&pf.limits)) {
        redisContext *r = f.pnl_ok ? bus_ctx_redis(ctx, err) : NULL;
        if (f.pnl_ok && r == NULL) s = err->status;
        if (s == TB_OK && f.pnl_ok)
            s = risk_day_baseline(r, in->account, tb_now_ns(), pnl, &baseline, err);
        if (s == TB_OK && f.pnl_ok && tb_fixed_sub(pnl, baseline, &f.day_pnl) != TB_OK)
            f.day_pnl = TB_FIXED_MIN;
    }
    if (s == TB_OK) risk_evaluate(in, &f, verdict);
    free(positions);
    if (s == TB_OK && verdict->n == 0 && pf.limits.max_orders_per_sec > 0) {
        /* an amend is an order message: it takes a slot of the order rate */
        char member[TB_ID_CAP];
        bus_new_id(member, sizeof member);
        redisContext *r = bus_ctx_redis(ctx, err);
        s = r ? risk_rate_take(r, in->account, pf.limits.max_orders_per_sec, svc->rate_window_ms,
                               member, 0, &f.orders_in_window, err)
              : err->status;
        if (s == TB_OK) risk_check_order_rate(in, &f, verdict);
    }
    return s;
}

tb_status risk_on_amend(bus_ctx *ctx, const void *event) {
    const tb_order_amend *m = event;
    if (m->id[0] == '\0') return bus_fail(ctx, TB_MISSING_FIELD, "id", "order id required");
    risk_service *svc = service_of(ctx);
    bus_conn *conn = bus_actor_conn(bus_ctx_actor(ctx));
    const char *trace = bus_ctx_trace(ctx);
    tb_error err = {0};

    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.id, sizeof q.id, "%s", m->id);
    snprintf(q.accounts, sizeof q.accounts, "%s", m->accounts);
    tb_order_record rec;
    int64_t timeout =
        svc->dep_timeout_ms > APPLY_TIMEOUT_MIN_MS ? svc->dep_timeout_ms : APPLY_TIMEOUT_MIN_MS;
    if (bus_request(conn, "api.orders.get", &tb_query_desc, &q, &tb_order_record_desc, &rec,
                    timeout, trace, &err) != TB_OK)
        return bus_fail_err(ctx, &err);

    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL) return bus_fail_err(ctx, &err);
    bool reduce_only = false;
    if (load_reduce_only(pg, rec.order_id, &reduce_only, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    risk_intent in;
    switch (risk_amend_intent(&rec, reduce_only, m, &in, &err)) {
    case RISK_AMEND_REFUSED:
        count(ctx, "refused");
        return bus_fail_err(ctx, &err);
    case RISK_AMEND_UNCHANGED:
        count(ctx, "unchanged");
        return bus_reply(ctx, &tb_order_record_desc, &rec);
    case RISK_AMEND_CHECK:
        break;
    }
    risk_verdict verdict;
    memset(&verdict, 0, sizeof verdict);
    if (check(ctx, pg, &rec, &in, &verdict, &err) != TB_OK) return bus_fail_err(ctx, &err);
    if (verdict.n > 0) {
        count(ctx, "rejected");
        risk_publish_decision(ctx, &in, &verdict, rec.order_id);
        char text[TB_TEXT_CAP];
        return bus_fail(ctx, TB_REJECTED, verdict.failures[0].field, "%s",
                        risk_verdict_text(&verdict, text, sizeof text));
    }
    tb_order_amend apply = *m;
    tb_order_record out;
    if (bus_request(conn, "api.orders.amend.apply", &tb_order_amend_desc, &apply,
                    &tb_order_record_desc, &out, timeout, trace, &err) != TB_OK) {
        count(ctx, "refused");
        return bus_fail_err(ctx, &err);
    }
    count(ctx, "amended");
    risk_publish_decision(ctx, &in, &verdict, rec.order_id);
    return bus_reply(ctx, &tb_order_record_desc, &out);
}
