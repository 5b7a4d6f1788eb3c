/* OCO pairs and bracket orders (api.orders.submit_group): the request as
 * the intents of its orders, with the rules a group's prices must follow.
 * Pure: no I/O, no clock. The flow that checks and records them is
 * risk_process_group (risk_flow.h). */
#ifndef RISK_GROUP_H
#define RISK_GROUP_H

#include "risk_checks.h"

#define RISK_GROUP_MAX 3

/* The orders of a group, in the order they are recorded (and so in time
 * priority): oco: the take-profit then the stop-loss (role oco); bracket:
 * the entry, the take-profit, the stop-loss. group_id is left empty (the
 * flow sets it to the first order's id). */
typedef struct risk_group {
    risk_intent legs[RISK_GROUP_MAX];
    size_t n;
} risk_group;

/* Checks the request's shape and prices and builds its intents. The
 * take-profit must lie on the profitable side and the stop-loss on the
 * losing side: for exits that sell (an oco of side sell, a bracket whose
 * entry buys) take_profit_price above the reference and stop_loss_price
 * below it, the other way round for exits that buy; the reference is the
 * entry's limit price for a limit entry, the other exit's price otherwise.
 * tif ioc and fok are refused (a leg must be able to rest). TB_INVALID
 * naming the field otherwise. */
tb_status risk_group_intents(const tb_order_group_request *r, risk_group *out,
                             tb_error *err) TB_WARN_UNUSED;

#endif
