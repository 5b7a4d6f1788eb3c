/* Amending a working order (PATCH /v1/orders/{id}): the pure rule. The glue
 * (exec_amend_api.c) locks the order, calls exec_order_amend, then matches
 * the order against the symbol's last quote as a new order would be.
 *
 * Why an amend is not a status of its own: the order keeps working (it is
 * still new, accepted or partially filled), so a new status would have to be
 * left again at once and every consumer of orders.status would need to know
 * it. An amend is an order event (a version) that keeps the status, with
 * reason "amended", like each further partial fill is a
 * partially_filled -> partially_filled event. Lowering the quantity to what
 * is already filled finishes the order: partially_filled -> filled, a
 * transition the table already has. */
#include "exec_domain.h"

static bool uses_limit(exec_type t) {
    return t == EXEC_LIMIT || t == EXEC_STOP_LIMIT;
}

static bool uses_stop(exec_type t) {
    return t == EXEC_STOP || t == EXEC_STOP_LIMIT;
}

tb_status exec_order_amend(exec_order *o, const exec_amend *a, bool *changed, exec_status *status,
                           tb_error *err) {
    *changed = false;
    *status = o->status;
    if (!exec_status_is_open(o->status))
        return tb_error_set(err, TB_CONFLICT, "id", "order is %s: it can no longer be amended",
                            exec_status_name(o->status));
    if (a->qty < 0 || a->limit_price < 0 || a->stop_price < 0)
        return tb_error_set(err, TB_REJECTED,
                            a->qty < 0           ? "qty"
                            : a->limit_price < 0 ? "limit_price"
                                                 : "stop_price",
                            "amended values must be positive");
    if (a->qty == 0 && a->limit_price == 0 && a->stop_price == 0)
        return tb_error_set(err, TB_REJECTED, "qty",
                            "nothing to amend: give qty, limit_price or stop_price");
    if (a->limit_price != 0 && !uses_limit(o->type))
        return tb_error_set(err, TB_REJECTED, "limit_price", "a %s order has no limit price",
                            exec_type_name(o->type));
    if (a->stop_price != 0 && !uses_stop(o->type))
        return tb_error_set(err, TB_REJECTED, "stop_price", "a %s order has no stop price",
                            exec_type_name(o->type));
    if (a->qty != 0 && a->qty < o->filled_qty)
        return tb_error_set(err, TB_REJECTED, "qty", "qty is below the quantity already filled");
    exec_order next = *o;
    if (a->qty != 0) next.qty = a->qty;
    if (a->limit_price != 0) next.limit_price = a->limit_price;
    if (a->stop_price != 0) next.stop_price = a->stop_price;
    if (next.qty == o->qty && next.limit_price == o->limit_price &&
        next.stop_price == o->stop_price)
        return TB_OK;
    if (next.filled_qty > 0 && next.filled_qty == next.qty) {
        /* all that is left is what already filled: the order is done */
        tb_status s = exec_order_transition(&next, EXEC_FILLED, err);
        if (s != TB_OK) return s;
    } else {
        next.version++;
    }
    *o = next;
    *changed = true;
    *status = o->status;
    return TB_OK;
}
