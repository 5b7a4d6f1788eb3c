/* Handlers of risk-management's endpoints api.risk.limits.get|set and
 * api.risk.killswitch (orders and signals are in risk_batch.c). Each turns
 * its message into a call of risk_store and the outcome into a reply. */
#include "risk_api.h"

#include <string.h>

#include "outbox.h"
#include "risk_deps.h"
#include "risk_flow.h"
#include "risk_intent.h"
#include "risk_store.h"

tb_status risk_on_limits_get(bus_ctx *ctx, const void *event) {
    const tb_query *q = event;
    if (q->account[0] == '\0')
        return bus_fail(ctx, TB_MISSING_FIELD, "account", "account is required");
    tb_error err = {0};
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL) return bus_fail_err(ctx, &err);
    tb_risk_limits l;
    if (risk_store_limits_get(pg, q->account, &l, &err) != TB_OK) return bus_fail_err(ctx, &err);
    return bus_reply(ctx, &tb_risk_limits_desc, &l);
}

tb_status risk_on_limits_set(bus_ctx *ctx, const void *event) {
    const tb_risk_limits *l = event;
    tb_error err = {0};
    if (risk_limits_validate(l, &err) != TB_OK) return bus_fail_err(ctx, &err);
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL) return bus_fail_err(ctx, &err);
    if (risk_store_limits_set(pg, l, &err) != TB_OK) return bus_fail_err(ctx, &err);
    tb_risk_limits now;
    if (risk_store_limits_get(pg, l->account, &now, &err) != TB_OK) return bus_fail_err(ctx, &err);
    bus_log(BUS_LOG_INFO, "risk limits of %s changed", l->account);
    return bus_reply(ctx, &tb_risk_limits_desc, &now);
}

tb_status risk_on_killswitch(bus_ctx *ctx, const void *event) {
    tb_kill_switch ks = *(const tb_kill_switch *)event;
    tb_error err = {0};
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL) return bus_fail_err(ctx, &err);
    uint64_t canceled = 0;
    if (risk_store_kill_switch(pg, &ks, bus_ctx_trace(ctx), &canceled, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    if (canceled > 0) {
        tb_error rerr = {0};
        if (bus_outbox_publish_soon(bus_ctx_actor(ctx), RISK_PRODUCER, (int)canceled, &rerr) !=
            TB_OK)
            bus_log(BUS_LOG_WARN, "kill-switch cancels committed, publish deferred: %s",
                    rerr.message);
    }
    bus_logf(BUS_LOG_WARN,
             json_pack("{s:s, s:b, s:I, s:s}", "account", ks.account[0] ? ks.account : "*",
                       "engaged", ks.engaged, "canceled", (json_int_t)canceled, "reason",
                       ks.reason),
             "kill switch %s", ks.engaged ? "engaged" : "released");
    ks.canceled = canceled;
    return bus_reply(ctx, &tb_kill_switch_desc, &ks);
}

tb_status risk_on_submit_group(bus_ctx *ctx, const void *event) {
    const tb_order_group_request *r = event;
    risk_group g;
    tb_error err = {0};
    if (risk_group_intents(r, &g, &err) != TB_OK) {
        bus_counter_add(bus_metrics_counter(bus_actor_metrics(bus_ctx_actor(ctx)),
                                            "tb_risk_group_refusals_total",
                                            "Order groups refused for their shape or prices",
                                            "field", err.field, NULL),
                        1);
        return bus_fail_err(ctx, &err);
    }
    tb_order_record records[RISK_GROUP_MAX];
    risk_verdict v;
    if (risk_process_group(ctx, &g, records, &v, &err) != TB_OK) return bus_fail_err(ctx, &err);
    if (v.n > 0) {
        char text[TB_TEXT_CAP];
        risk_verdict_text(&v, text, sizeof text);
        tb_error e = {.status = TB_REJECTED};
        snprintf(e.field, sizeof e.field, "%s", v.failures[0].field);
        snprintf(e.message, sizeof e.message, "%.255s", text);
        return bus_fail_err(ctx, &e);
    }
    return bus_reply_list(ctx, &tb_order_record_desc, records, g.n, NULL);
}
