/* Amends (PATCH /v1/orders/{id}, api.orders.amend): the amended order as an
 * intent for the same checks as a new order. Pure: no I/O. The glue is
 * risk_amend_api.c; trading-execution applies an approved amend under the
 * order's lock and judges it again there (status, filled quantity), as
 * fills may have happened meanwhile. */
#ifndef RISK_AMEND_H
#define RISK_AMEND_H

#include "risk_checks.h"

typedef enum {
    RISK_AMEND_CHECK,     /* *out holds the amended order to check */
    RISK_AMEND_UNCHANGED, /* the order already has these values (a retry): nothing to do */
    RISK_AMEND_REFUSED,   /* err says why: TB_CONFLICT (finished order), TB_REJECTED (field) */
} risk_amend_result;

/* The order rec (reduce_only: its flag) with the amend's values (0 =
 * unchanged). Refused: a finished order (filled, canceled, rejected,
 * expired: TB_CONFLICT), no value given, a price the order's type does not
 * use, qty below the filled quantity (TB_REJECTED naming the field). */
risk_amend_result risk_amend_intent(const tb_order_record *rec, bool reduce_only,
                                    const tb_order_amend *m, risk_intent *out, tb_error *err);

/* The checks judge an amended order as if it were new: the position they
 * start from is the one before any of its fills (its filled part is in the
 * positions already, its whole new qty is in the intent). Takes signed_filled
 * (+ bought, - sold) off the symbol's position in p[0..n). Without such a
 * position nothing changes: position-management has booked none of the
 * fills yet (it books them a moment after they are made), so the position
 * is already the one before them. */
void risk_amend_unfill(risk_position *p, size_t n, const char *symbol, tb_fixed signed_filled);

#endif
