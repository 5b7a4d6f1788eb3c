/* Request endpoints of trading-execution: api.orders.get, api.orders.list
 * and api.orders.cancel, all taking a tb_query (when the query carries
 * `accounts`, the caller's scope set by the gateway, orders of other
 * accounts do not exist for the caller: TB_NOT_FOUND / not listed), and
 * api.exec.fees.set|get with a tb_fee_model: an account's own fees and
 * slippage (a backtest's run account, set by analytics). */
#include <stdlib.h>
#include <string.h>

#include "exec_fees.h"
#include "exec_service.h"
#include "exec_store.h"

#define LIST_DEFAULT 100
#define LIST_MAX     1000

static const char *const open_statuses[] = {"new", "accepted", "partially_filled", NULL};
static const char *const closed_statuses[] = {"filled", "canceled", "rejected", "expired", NULL};

tb_status exec_api_get(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    if (q->id[0] == '\0') return bus_fail(ctx, TB_MISSING_FIELD, "id", "order id required");
    tb_error err = {0};
    PGconn *c = bus_ctx_pg(ctx, &err);
    if (c == NULL) return bus_fail_err(ctx, &err);
    exec_row row;
    if (exec_store_get(c, q->id, q->accounts, &row, &err) != TB_OK) return bus_fail_err(ctx, &err);
    return bus_reply(ctx, &tb_order_record_desc, &row.rec);
}

tb_status exec_api_list(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    const char *single[2] = {q->status, NULL};
    const char *const *statuses = NULL;
    exec_status st;
    if (q->status[0] == '\0')
        statuses = NULL;
    else if (strcmp(q->status, "open") == 0)
        statuses = open_statuses;
    else if (strcmp(q->status, "closed") == 0)
        statuses = closed_statuses;
    else if (exec_status_parse(q->status, &st))
        statuses = single;
    else
        return bus_fail(ctx, TB_INVALID, "status",
                        "status must be open, closed or an order status, not %s", q->status);
    exec_list_filter f = {
        .account = q->account,
        .symbol = q->symbol,
        .statuses = statuses,
        .accounts = q->accounts,
        .cursor = q->cursor,
        .group_id = q->group_id,
        .limit = q->limit == 0         ? LIST_DEFAULT
                 : q->limit > LIST_MAX ? LIST_MAX
                                       : (int64_t)q->limit,
    };
    tb_error err = {0};
    PGconn *c = bus_ctx_pg(ctx, &err);
    if (c == NULL) return bus_fail_err(ctx, &err);
    exec_row *rows = NULL;
    size_t n = 0;
    if (exec_store_list(c, &f, &rows, &n, &err) != TB_OK) return bus_fail_err(ctx, &err);
    tb_order_record *items = calloc(n ? n : 1, sizeof *items);
    if (items == NULL) {
        free(rows);
        return bus_fail(ctx, TB_NOMEM, NULL, "out of memory");
    }
    for (size_t i = 0; i < n; i++) items[i] = rows[i].rec;
    /* A full page may have a successor: its cursor is the last order id. */
    const char *next = n > 0 && (int64_t)n == f.limit ? items[n - 1].order_id : NULL;
    tb_status s = bus_reply_list(ctx, &tb_order_record_desc, items, n, next);
    free(items);
    free(rows);
    return s;
}

tb_status exec_api_cancel(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    if (q->id[0] == '\0') return bus_fail(ctx, TB_MISSING_FIELD, "id", "order id required");
    exec_row row;
    tb_error err = {0};
    tb_status s = exec_cancel_order(ctx, q->id, NULL, q->accounts, EXEC_REASON_USER, &row, &err);
    if (s != TB_OK) return bus_fail_err(ctx, &err);
    return bus_reply(ctx, &tb_order_record_desc, &row.rec);
}

/* The wire's unsigned bps as the domain's model; a value past int64 stays
 * out of range for the validation. */
static exec_fee_model model_of(const tb_fee_model *in) {
    return (exec_fee_model){
        .fee_bps = in->fee_bps > INT64_MAX ? INT64_MAX : (int64_t)in->fee_bps,
        .slippage_bps = in->slippage_bps > INT64_MAX ? INT64_MAX : (int64_t)in->slippage_bps,
        .fee_min = in->fee_min,
    };
}

tb_status exec_api_fees_set(bus_ctx *ctx, const void *ev) {
    const tb_fee_model *in = ev;
    if (in->account[0] == '\0')
        return bus_fail(ctx, TB_MISSING_FIELD, "account", "account required");
    exec_fee_model m = model_of(in);
    tb_error err = {0};
    if (exec_fee_model_validate(&m, &err) != TB_OK) return bus_fail_err(ctx, &err);
    PGconn *c = bus_ctx_pg(ctx, &err);
    if (c == NULL) return bus_fail_err(ctx, &err);
    if (exec_fees_store(c, in->account, &m, &err) != TB_OK) return bus_fail_err(ctx, &err);
    bus_log(BUS_LOG_INFO, "fee model of %s: fee %lld bp, min %lld/1e8, slippage %lld bp",
            in->account, (long long)m.fee_bps, (long long)m.fee_min, (long long)m.slippage_bps);
    tb_fee_model out = *in;
    out.found = true;
    return bus_reply(ctx, &tb_fee_model_desc, &out);
}

tb_status exec_api_fees_get(bus_ctx *ctx, const void *ev) {
    const tb_fee_model *in = ev;
    if (in->account[0] == '\0')
        return bus_fail(ctx, TB_MISSING_FIELD, "account", "account required");
    tb_error err = {0};
    PGconn *c = bus_ctx_pg(ctx, &err);
    if (c == NULL) return bus_fail_err(ctx, &err);
    exec_fee_model m;
    bool found = false;
    if (exec_fees_load(c, in->account, &m, &found, &err) != TB_OK) return bus_fail_err(ctx, &err);
    tb_fee_model out = {.fee_bps = (uint64_t)m.fee_bps,
                        .fee_min = m.fee_min,
                        .slippage_bps = (uint64_t)m.slippage_bps,
                        .found = found};
    snprintf(out.account, sizeof out.account, "%s", in->account);
    return bus_reply(ctx, &tb_fee_model_desc, &out);
}
