/* PostgreSQL side of risk-management: the facts the checks need (limits,
 * instrument rules, kill switches, open orders), the order insert with its
 * outbox event, limits get/set and the kill switch with its mass cancel.
 *
 * Concurrency: every transaction that decides about one account takes the
 * advisory lock risk_store_lock_account (order inserts, account kill switch)
 * and order inserts read the global switch FOR SHARE while the global switch
 * is changed with UPDATE. So an order either commits before a kill switch is
 * engaged (and is canceled by it) or sees the switch and is rejected; and
 * max_open_orders is exact however many workers run. */
#ifndef RISK_STORE_H
#define RISK_STORE_H

#include <libpq-fe.h>

#include "risk_checks.h"

/* Producer name of the outbox rows and the service. */
#define RISK_PRODUCER "risk-management"

/* The facts from PostgreSQL for one intent. When the account does not exist
 * *account_known is false and *limits are zero (no limits). */
typedef struct risk_pg_facts {
    tb_risk_limits limits;
    bool account_known;
    bool kill_global;
    risk_symbol symbol;
    uint64_t open_orders;
    risk_bp_facts bp; /* buying power: cash, reservations, the symbol's position */
} risk_pg_facts;

tb_status risk_store_load(PGconn *c, const char *account, const char *symbol, risk_pg_facts *out,
                          tb_error *err) TB_WARN_UNUSED;
/* The facts of several (accounts[i], symbols[i]) pairs in one statement,
 * sent so that it can share a pipeline's round trip (bus_pg_send); its
 * row i, read with risk_store_load_read, is pair i's. */
tb_status risk_store_load_send(PGconn *c, const char *const *accounts, const char *const *symbols,
                               size_t n, PGresult **res, tb_error *err) TB_WARN_UNUSED;
/* Its statement: $1 the accounts, $2 the symbols (text[]), pairwise. */
extern const char risk_store_facts_sql[];
tb_status risk_store_load_read(PGresult *r, int row, const char *account, risk_pg_facts *out,
                               tb_error *err) TB_WARN_UNUSED;

/* The order of account with this client_order_id: *found false when none. */
tb_status risk_store_find_client_order(PGconn *c, const char *account, const char *client_order_id,
                                       tb_order_record *out, bool *reduce_only, bool *found,
                                       tb_error *err) TB_WARN_UNUSED;
/* The orders of (accounts[i], client_order_ids[i]) pairs that exist, in one
 * query: *out (caller frees) holds *nfound of them, in no order. */
typedef struct risk_found_order {
    tb_order_record record;
    bool reduce_only;
} risk_found_order;
tb_status risk_store_find_client_orders(PGconn *c, const char *const *accounts,
                                        const char *const *client_order_ids, size_t n,
                                        risk_found_order **out, size_t *nfound,
                                        tb_error *err) TB_WARN_UNUSED;
/* Whether an order was already made from this signal. */
tb_status risk_store_signal_used(PGconn *c, const char *signal_id, bool *used,
                                 tb_error *err) TB_WARN_UNUSED;

/* What may have changed since risk_store_load, read under the account's
 * advisory lock (taken here; call inside the transaction that inserts). */
typedef struct risk_live {
    bool account_known;
    bool kill_global; /* read FOR SHARE: an engage waits for this transaction */
    bool kill_account;
    uint64_t max_open_orders;
    uint64_t open_orders;
    risk_bp_facts bp; /* account-wide: cash, reserved, fee_base, unpriced */
} risk_live;
tb_status risk_store_lock_live(PGconn *c, const char *account, risk_live *out,
                               tb_error *err) TB_WARN_UNUSED;
/* The advisory locks of n accounts in one statement, taken in the order of
 * their lock keys: two transactions locking overlapping sets never wait on
 * each other in a cycle. Then risk_store_live per account. */
tb_status risk_store_lock_accounts(PGconn *c, const char *const *accounts, size_t n,
                                   tb_error *err) TB_WARN_UNUSED;
/* risk_store_lock_live's facts, the lock already held. */
tb_status risk_store_live(PGconn *c, const char *account, risk_live *out,
                          tb_error *err) TB_WARN_UNUSED;
/* The live facts of several accounts (their locks already held) in one
 * statement, sent as risk_store_load_send; row i is accounts[i]'s. */
tb_status risk_store_live_send(PGconn *c, const char *const *accounts, size_t n, PGresult **res,
                               tb_error *err) TB_WARN_UNUSED;
tb_status risk_store_live_read(PGresult *r, int row, risk_live *out, tb_error *err) TB_WARN_UNUSED;
/* Re-runs the checks that depend on live facts (account, kill switches,
 * open orders) into v; earlier = orders of the same transaction before this
 * one, which count as open. Pure. */
void risk_recheck(const risk_intent *in, const risk_facts *facts, const risk_live *live,
                  uint64_t earlier, risk_verdict *v);

/* Re-runs the buying-power check with the live cash and reservations
 * (the symbol's position and open orders stay those of facts). *taken
 * (NULL: none) holds what the orders of the same transaction before this
 * one need, and receives this one's need added when it passes. Pure. */
void risk_bp_recheck(const risk_intent *in, const risk_facts *facts, const risk_live *live,
                     tb_fixed *taken, risk_verdict *v);

/* An approved order to record. */
typedef struct risk_new_order {
    const risk_intent *in;
    const char *order_id;
    int64_t ts_ns; /* created_at, whole microseconds */
    const char *trace_id;
    tb_fixed reserve_price; /* the order's reference price; 0 = none */
} risk_new_order;
/* Inserts the orders (status new, version 1), their order_events rows and
 * their outbox rows orders.new.<account> (msg_id = order id), in the order
 * given, in three statements whatever n: inside the caller's transaction.
 * TB_CONFLICT when a client_order_id or signal_id already has an order. */
tb_status risk_store_write_orders(PGconn *c, const risk_new_order *o, size_t n,
                                  tb_error *err) TB_WARN_UNUSED;

/* Records an approved intent: in one transaction, under the account lock,
 * re-reads the kill switches and open orders and re-runs those checks (they
 * may have changed since risk_store_load); if they still pass, inserts the
 * order (status new, version 1), its order_events row and the outbox row
 * orders.new.<account> with msg_id = order_id, and commits. recheck receives
 * the failures when the re-run rejects (nothing written, TB_OK returned).
 * TB_CONFLICT when the client_order_id or the signal_id already has an order. */
tb_status risk_store_insert_order(PGconn *c, const risk_intent *in, const risk_facts *facts,
                                  const char *order_id, int64_t ts_ns, const char *trace_id,
                                  risk_verdict *recheck, tb_error *err) TB_WARN_UNUSED;

/* The account's margin rate and account-wide buying-power amounts (cash,
 * reserved, margin_used, fee_base, unpriced), as the checks read them.
 * TB_NOT_FOUND for an unknown account. */
tb_status risk_store_account_bp(PGconn *c, const char *account, uint64_t *margin_bps,
                                risk_bp_facts *bp, tb_error *err) TB_WARN_UNUSED;

/* Of n accounts, which are running backtests (risk_store_is_backtest of
 * each, in one query): out[i] for accounts[i]. */
tb_status risk_store_backtests(PGconn *c, const char *const *accounts, size_t n, bool *out,
                               tb_error *err) TB_WARN_UNUSED;

/* Whether a backtest account is settled: no market order open and no fill
 * that position-management has not booked. A resting limit or stop order
 * does not count: it stays open in event time too. */
typedef struct risk_unsettled {
    bool open;      /* not settled */
    char what[160]; /* what it waits for, naming the service and the order or fill */
} risk_unsettled;

/* risk_unsettled of n accounts in one query: out[i] for accounts[i],
 * whose next signal is signal_ids[i]. Also unsettled: an earlier signal of
 * the account (signals.emit_seq, the order signal-processing emitted them
 * in) with neither an order nor a refusal, one another worker holds: a
 * run's signals are decided in their order with any number of workers. */
tb_status risk_store_unsettled(PGconn *c, const char *const *accounts,
                               const char *const *signal_ids, size_t n, risk_unsettled *out,
                               tb_error *err) TB_WARN_UNUSED;

/* After a wave: moves each account's cursor (risk_backtest_cursors) up to
 * its decided signal among signal_ids[0..n) when every signal before it is
 * decided, so that risk_store_unsettled reads only what follows. */
tb_status risk_store_decided(PGconn *c, const char *const *signal_ids, size_t n,
                             tb_error *err) TB_WARN_UNUSED;

/* The account's positions (every row, closed ones too) and its P&L:
 * realized + unrealized summed over them, as position-management defines
 * them (api.accounts.get's sum, from the same rows; unrealized:
 * tb_position_unrealized); a position's mark is its last_price, else its
 * average cost.
 * Read from position-management's record (positions) in one query rather
 * than asked of the service: the same rows, without a request per batch.
 * *items is malloc'd (the caller frees it); *pnl_ok is false when the sum
 * overflows. */
tb_status risk_store_positions(PGconn *c, const char *account, risk_position **items, size_t *n,
                               tb_fixed *pnl, bool *pnl_ok, tb_error *err) TB_WARN_UNUSED;
/* risk_store_positions in two steps (as risk_store_load_send/_read). */
tb_status risk_store_positions_send(PGconn *c, const char *account, PGresult **res,
                                    tb_error *err) TB_WARN_UNUSED;
tb_status risk_store_positions_read(PGresult *r, risk_position **items, size_t *n, tb_fixed *pnl,
                                    bool *pnl_ok, tb_error *err) TB_WARN_UNUSED;

/* A backtest account's signal decided without an order: refused by the
 * checks (reasons: their codes), already at its target (no_order) or
 * unusable (invalid_signal). */
typedef struct risk_refusal {
    const char *signal_id;
    const char *account;
    const char *reasons;
    const char *detail;
} risk_refusal;

/* Records n refusals (risk_signal_refusals) in one statement; a signal
 * already recorded keeps its first row. analytics ends a run done only
 * when each of its signals has an order or such a row. */
tb_status risk_store_refusals(PGconn *c, const risk_refusal *rf, size_t n,
                              tb_error *err) TB_WARN_UNUSED;

/* Whether account is a backtest run's (risk_limits.backtest) that is not
 * stopped (no kill switch engaged: a stopped run waits for nothing); false
 * for an unknown account. */
tb_status risk_store_is_backtest(PGconn *c, const char *account, bool *backtest,
                                 tb_error *err) TB_WARN_UNUSED;

/* Effective limits of account (TB_NOT_FOUND when it does not exist), with
 * kill_switch true when the account's or the global switch is engaged; for
 * "_default", the defaults row. */
tb_status risk_store_limits_get(PGconn *c, const char *account, tb_risk_limits *out,
                                tb_error *err) TB_WARN_UNUSED;
/* Replaces the limits row of l->account ("_default": the defaults). Zero
 * values mean "use the default" in an account's row and "no limit" in the
 * defaults row. kill_switch is not touched (api.risk.killswitch owns it). */
tb_status risk_store_limits_set(PGconn *c, const tb_risk_limits *l, tb_error *err) TB_WARN_UNUSED;

/* Engages or releases the kill switch of ks->account (empty: global).
 * Engaging records a cancel (orders.cancel.<account>, tb_order_cancel,
 * msg_id "cancel-<order_id>", reason kill_switch) in the outbox for every
 * open order of the account (of every account for the global switch) that
 * has none yet; *canceled receives their count. Every call is logged in
 * risk_kill_switch_log (migration 0300) in the same transaction.
 * TB_NOT_FOUND for an unknown account. */
tb_status risk_store_kill_switch(PGconn *c, const tb_kill_switch *ks, const char *trace_id,
                                 uint64_t *canceled, tb_error *err) TB_WARN_UNUSED;

#endif
