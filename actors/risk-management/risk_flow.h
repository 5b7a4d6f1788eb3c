/* The decision flow of one intent (API order or signal): idempotency
 * (client_order_id, signal_id), gathering the facts, the pure checks, the
 * order-rate slot, the order insert with its outbox event, the fast-path
 * publish and the risk.decision event. I/O glue: decides nothing itself. */
#ifndef RISK_FLOW_H
#define RISK_FLOW_H

#include "actor.h"
#include "risk_checks.h"

/* Settings and metrics of the service (bus_actor_user). */
typedef struct risk_service {
    int64_t dep_timeout_ms; /* RISK_DEPENDENCY_TIMEOUT_MS */
    int64_t rate_window_ms; /* RISK_RATE_WINDOW_MS: 1000 but in tests */
    bus_series *m_duplicate_signals;
} risk_service;

typedef enum {
    RISK_APPROVED,         /* a new order was recorded: record */
    RISK_REJECTED,         /* verdict holds the failures */
    RISK_EXISTING,         /* a retry of client_order_id: record is the original */
    RISK_DUPLICATE_SIGNAL, /* the signal already made an order: nothing done */
} risk_outcome_kind;

typedef struct risk_outcome {
    risk_outcome_kind kind;
    risk_verdict verdict;
    tb_order_record record;
} risk_outcome;

/* Runs intent in through the whole flow. Fails (err filled) only when a
 * store of our own (PostgreSQL, Redis) is unavailable or broken; every
 * business outcome, including unanswered dependencies, is an outcome. */
tb_status risk_process(bus_ctx *ctx, const risk_intent *in, risk_outcome *out,
                       tb_error *err) TB_WARN_UNUSED;

/* Publishes risk.decision.<account> for a decision reached outside
 * risk_process (a signal that could not be sized). */
void risk_publish_decision(bus_ctx *ctx, const risk_intent *in, const risk_verdict *v,
                           const char *order_id);

#endif
