/* Order state machine of the paper venue: the transition table and the
 * names of the domain's enumerations. Pure: no I/O.
 *
 *   new -> accepted | rejected | canceled
 *   accepted -> partially_filled | filled | canceled | expired
 *   partially_filled -> partially_filled | filled | canceled | expired
 *   filled, canceled, rejected, expired: terminal
 *
 * new -> canceled exists because a cancel may be processed before the order
 * it cancels was accepted (both travel on the ORDERS stream, and N workers
 * take messages in parallel). partially_filled -> partially_filled is a
 * further partial fill: each fill is a transition with its own version, so
 * every fill is visible on orders.status. */
#include <string.h>

#include "exec_domain.h"

static const char *const status_names[EXEC_STATUS_COUNT] = {
    "new", "accepted", "partially_filled", "filled", "canceled", "rejected", "expired"};

/* allowed[from][to] */
static const bool allowed[EXEC_STATUS_COUNT][EXEC_STATUS_COUNT] = {
    [EXEC_NEW] = {[EXEC_ACCEPTED] = true, [EXEC_REJECTED] = true, [EXEC_CANCELED] = true},
    [EXEC_ACCEPTED] = {[EXEC_PARTIALLY_FILLED] = true,
                       [EXEC_FILLED] = true,
                       [EXEC_CANCELED] = true,
                       [EXEC_EXPIRED] = true},
    [EXEC_PARTIALLY_FILLED] = {[EXEC_PARTIALLY_FILLED] = true,
                               [EXEC_FILLED] = true,
                               [EXEC_CANCELED] = true,
                               [EXEC_EXPIRED] = true},
};

static bool parse_name(const char *s, const char *const *names, int n, int *out) {
    if (s == NULL) return false;
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return true;
        }
    return false;
}

const char *exec_status_name(exec_status s) {
    return (unsigned)s < EXEC_STATUS_COUNT ? status_names[s] : "?";
}

bool exec_status_parse(const char *s, exec_status *out) {
    int v;
    if (!parse_name(s, status_names, EXEC_STATUS_COUNT, &v)) return false;
    *out = (exec_status)v;
    return true;
}

static const char *const side_names[] = {"buy", "sell"};
static const char *const type_names[] = {"market", "limit", "stop", "stop_limit", "trailing_stop"};
static const char *const tif_names[] = {"day", "gtc", "ioc", "fok", "gtd"};
static const char *const trigger_names[] = {"last", "touch"};

const char *exec_side_name(exec_side s) {
    return (unsigned)s < 2 ? side_names[s] : "?";
}
bool exec_side_parse(const char *s, exec_side *out) {
    int v;
    if (!parse_name(s, side_names, 2, &v)) return false;
    *out = (exec_side)v;
    return true;
}
const char *exec_type_name(exec_type t) {
    return (unsigned)t < 5 ? type_names[t] : "?";
}
bool exec_type_parse(const char *s, exec_type *out) {
    int v;
    if (!parse_name(s, type_names, 5, &v)) return false;
    *out = (exec_type)v;
    return true;
}
const char *exec_tif_name(exec_tif t) {
    return (unsigned)t < 5 ? tif_names[t] : "?";
}
bool exec_tif_parse(const char *s, exec_tif *out) {
    int v;
    if (!parse_name(s, tif_names, 5, &v)) return false;
    *out = (exec_tif)v;
    return true;
}
const char *exec_liquidity_name(exec_liquidity l) {
    return l == EXEC_MAKER ? "maker" : l == EXEC_TAKER ? "taker" : "";
}
bool exec_trigger_parse(const char *s, exec_trigger *out) {
    int v;
    if (!parse_name(s, trigger_names, 2, &v)) return false;
    *out = (exec_trigger)v;
    return true;
}

bool exec_status_is_open(exec_status s) {
    return s == EXEC_NEW || s == EXEC_ACCEPTED || s == EXEC_PARTIALLY_FILLED;
}

bool exec_status_is_terminal(exec_status s) {
    return s == EXEC_FILLED || s == EXEC_CANCELED || s == EXEC_REJECTED || s == EXEC_EXPIRED;
}

bool exec_transition_allowed(exec_status from, exec_status to) {
    if ((unsigned)from >= EXEC_STATUS_COUNT || (unsigned)to >= EXEC_STATUS_COUNT) return false;
    return allowed[from][to];
}

tb_status exec_order_validate(const exec_order *o, tb_error *err) {
    if (o->qty <= 0) return tb_error_set(err, TB_INVALID, "qty", "quantity must be positive");
    bool needs_limit = o->type == EXEC_LIMIT || o->type == EXEC_STOP_LIMIT;
    bool needs_stop = o->type == EXEC_STOP || o->type == EXEC_STOP_LIMIT;
    if (needs_limit ? o->limit_price <= 0 : o->limit_price != 0)
        return tb_error_set(err, TB_INVALID, "limit_price", "%s order %s a positive limit price",
                            exec_type_name(o->type), needs_limit ? "needs" : "must not have");
    if (needs_stop ? o->stop_price <= 0 : o->stop_price != 0)
        return tb_error_set(err, TB_INVALID, "stop_price", "%s order %s a positive stop price",
                            exec_type_name(o->type), needs_stop ? "needs" : "must not have");
    tb_status s = exec_trail_validate(o, err);
    if (s != TB_OK) return s;
    if (o->filled_qty < 0 || o->filled_qty > o->qty)
        return tb_error_set(err, TB_INVALID, "filled_qty", "filled quantity outside 0..qty");
    if ((o->filled_qty > 0) != (o->avg_price > 0))
        return tb_error_set(err, TB_INVALID, "avg_price", "average price must be set iff filled");
    return TB_OK;
}

tb_status exec_order_transition(exec_order *o, exec_status to, tb_error *err) {
    if (!exec_transition_allowed(o->status, to))
        return tb_error_set(err, TB_CONFLICT, "status", "order is %s: cannot become %s",
                            exec_status_name(o->status), exec_status_name(to));
    bool ok = true;
    switch (to) {
    case EXEC_ACCEPTED:
        ok = o->filled_qty == 0;
        break;
    case EXEC_PARTIALLY_FILLED:
        ok = o->filled_qty > 0 && o->filled_qty < o->qty;
        break;
    case EXEC_FILLED:
        ok = o->filled_qty == o->qty;
        break;
    default:
        break;
    }
    if (!ok)
        return tb_error_set(err, TB_CONFLICT, "filled_qty",
                            "filled quantity does not fit status %s", exec_status_name(to));
    o->status = to;
    o->version++;
    return TB_OK;
}

bool exec_role_parse(const char *s, exec_role *out) {
    static const char *const names[] = {"", "oco", "entry", "take_profit", "stop_loss"};
    int v;
    if (!parse_name(s, names, 5, &v)) return false;
    *out = (exec_role)v;
    return true;
}
