/* The decision flow of one intent (API order or signal): idempotency
 * (client_order_id, signal_id), gathering the facts, the pure checks, the
 * order-rate slot, the order insert with its outbox event, the fast-path
 * publish and the risk.decision event. I/O glue: decides nothing itself. */
#ifndef RISK_FLOW_H
#define RISK_FLOW_H

#include "actor.h"
#include "quotes.h"
#include "risk_checks.h"
#include "risk_group.h"

/* Settings and metrics of the service (bus_actor_user). */
typedef struct risk_service {
    int64_t dep_timeout_ms; /* RISK_DEPENDENCY_TIMEOUT_MS */
    int64_t rate_window_ms; /* RISK_RATE_WINDOW_MS: 1000 but in tests */
    int64_t fee_bps;        /* RISK_FEE_BPS: fees reserved with buying power */
    int64_t var_days;       /* RISK_VAR_DAYS: daily returns of the historical VaR */
    int64_t bt_wait_ms;     /* RISK_BACKTEST_WAIT_MS: a backtest signal's longest wait */
    int64_t quote_cache, quote_verify_ms,
        quote_idle_ms;  /* RISK_QUOTE_CACHE, _VERIFY_MS, _IDLE_MS */
    bus_quotes *quotes; /* last quotes from the ticks of the symbols checked */
    bus_series *m_duplicate_signals;
    bus_series *m_backtest_retries; /* a backtest signal's dependency asked again */
    bus_series *m_backtest_settle;  /* a backtest signal's wait for earlier orders */
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

/* Checks every order of a group (risk_group_intents) with the account's
 * facts read once, and records them all in one transaction (status new,
 * group_id = the first order's id) or none: v receives the first refused
 * order's failures. records[0..g->n) receive the new orders. Fails like
 * risk_process. */
tb_status risk_process_group(bus_ctx *ctx, risk_group *g, tb_order_record *records, risk_verdict *v,
                             tb_error *err) TB_WARN_UNUSED;

/* A client_order_id seen before (existing, with its reduce_only): the
 * original (RISK_EXISTING) when the intent has exactly its fields, else a
 * duplicate_client_order_id rejection. */
void risk_resolve_retry(const risk_intent *in, const tb_order_record *existing, bool reduce_only,
                        risk_outcome *out);

/* Publishes risk.decision.<account> for a decision reached outside
 * risk_process (a signal that could not be sized, a batch of signals), with
 * the handler's trace id or a given one. */
void risk_publish_decision(bus_ctx *ctx, const risk_intent *in, const risk_verdict *v,
                           const char *order_id);
void risk_publish_decision_traced(bus_ctx *ctx, const char *trace, const risk_intent *in,
                                  const risk_verdict *v, const char *order_id);

/* A signal's market order lives in its data's event time: it is valued at
 * the tick it fills at (not at whatever the feed shows now, which in a
 * replay is far ahead), its order rate counts per second of event time and
 * its day's P&L is the event day's. For such an intent: sets *quote to that
 * reference and returns its event time; otherwise 0 (use the current quote
 * and the clock) and *quote is untouched. */
int64_t risk_event_time(const risk_intent *in, risk_quote *quote);

/* The time an intent is decided at, which a gtd order's expire_at must
 * follow: its event time, else the time of the symbol's last tick (the
 * data's clock, which in a replay is not the wall clock), else the clock. */
int64_t risk_decision_time(int64_t event_ns, const risk_quote *quote);

#endif
