/* Endpoint handlers of risk-management (see README.md for subjects, bodies
 * and errors). The actor's user data must be a risk_service. */
#ifndef RISK_API_H
#define RISK_API_H

#include "actor.h"

/* api.orders.submit: tb_order_request -> tb_order_record. */
/* sig.>: tb_signal -> an order (or nothing), risk.decision. */
/* api.orders.submit_group: tb_order_group_request -> list of tb_order_record
 * (the group's orders, all recorded or none). */
tb_status risk_on_submit_group(bus_ctx *ctx, const void *event);
/* api.risk.limits.get: tb_query.account -> tb_risk_limits. */
tb_status risk_on_limits_get(bus_ctx *ctx, const void *event);
/* api.risk.limits.set: tb_risk_limits -> tb_risk_limits (effective after the change). */
tb_status risk_on_limits_set(bus_ctx *ctx, const void *event);
/* api.risk.killswitch: tb_kill_switch -> tb_kill_switch with canceled. */
tb_status risk_on_killswitch(bus_ctx *ctx, const void *event);
/* api.orders.amend (risk_amend_api.c): tb_order_amend -> tb_order_record
 * after the amend. */
tb_status risk_on_amend(bus_ctx *ctx, const void *event);

#endif
