/* Turning API requests and signals into risk intents, and intents into the
 * order events and records risk-management publishes. Pure: no I/O, no
 * clock (times are parameters). */
#ifndef RISK_INTENT_H
#define RISK_INTENT_H

#include "risk_checks.h"

/* An API order request; tif defaults to day. */
void risk_intent_from_request(const tb_order_request *r, risk_intent *out);

typedef enum {
    RISK_SIGNAL_ORDER,   /* *out holds the order to check */
    RISK_SIGNAL_NOTHING, /* sizing=target and already at target: no order */
    RISK_SIGNAL_INVALID, /* unusable signal (message in err) */
} risk_signal_result;

/* A signal becomes a market day order (source signal). sizing=fixed: the
 * signal's side and qty. sizing=target: qty = target - position, side by its
 * sign; position is the current signed position in the signal's symbol. */
risk_signal_result risk_intent_from_signal(const tb_signal *s, tb_fixed position, risk_intent *out,
                                           tb_error *err);

/* Whether an existing order (a retry's original) has exactly the fields of
 * the intent: account, symbol, side, type, qty, prices, tif, reduce_only. */
bool risk_same_order(const tb_order_record *existing, bool existing_reduce_only,
                     const risk_intent *in);

/* The order event published on orders.new.<account>. */
void risk_order_event(const risk_intent *in, const char *order_id, int64_t ts_ns, tb_order *out);
/* The record replied to api.orders.submit for a new order. */
void risk_order_record(const risk_intent *in, const char *order_id, int64_t ts_ns,
                       tb_order_record *out);
/* The risk.decision event for an intent. */
void risk_decision_event(const risk_intent *in, const risk_verdict *v, const char *decision_id,
                         const char *order_id, int64_t ts_ns, tb_risk_decision *out);

#endif
