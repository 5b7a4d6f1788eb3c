/* trading-execution's PostgreSQL access: loading orders (with row locks),
 * the per-symbol tick sequence, and saving what the venue decided (order
 * row, order_events, fills and their outbox events) inside the caller's
 * transaction. Knows SQL, not venue rules. */
#ifndef EXEC_STORE_H
#define EXEC_STORE_H

#include <libpq-fe.h>

#include "catalogue.h"
#include "exec_domain.h"

/* An orders row: as the API shows it, and as the venue sees it. */
typedef struct exec_row {
    tb_order_record rec;
    exec_order ord;
} exec_row;

/* One transition to record: the status reached, why, and the order's filled
 * quantity and average price at that point. */
typedef struct exec_step {
    exec_status status;
    const char *reason; /* NULL: none */
    tb_fixed filled_qty, avg_price;
} exec_step;

/* Everything that happened to one order in one transaction. row->ord holds
 * the state after the last step. */
typedef struct exec_change {
    int nsteps;
    exec_step steps[EXEC_MAX_STEPS + 1];
    bool triggered_now;
    bool filled;
    exec_fill_calc fill;
    int64_t fill_ts_ns; /* event time of the snapshot the fill executed against */
} exec_change;

/* orders.status events to publish once the transaction committed. */
typedef struct exec_events {
    tb_order_status *v;
    size_t n, cap;
} exec_events;
void exec_events_free(exec_events *e);

tb_status exec_tx_begin(PGconn *c, tb_error *err) TB_WARN_UNUSED;
tb_status exec_tx_commit(PGconn *c, tb_error *err) TB_WARN_UNUSED;
/* Rolls back, ignoring errors: the connection is dropped if broken. */
void exec_tx_rollback(PGconn *c);

/* Locks the symbol's tick state (creating it at seq 0) for the rest of the
 * transaction; serialises tick matching and order arrival per symbol. */
tb_status exec_store_lock_symbol(PGconn *c, const char *symbol, uint64_t *last_seq,
                                 char source[TB_ID_CAP], tb_error *err) TB_WARN_UNUSED;
/* ---- ticks in batches (exec_tick_store.c) ---- */

typedef char exec_symbol[TB_TOKEN_CAP];

/* A recorded tick waiting to be matched (exec_tick_journal). */
typedef struct exec_pending {
    tb_tick tick;
    char trace[TB_ID_CAP];
    int64_t age_ms; /* since it was recorded */
} exec_pending;

/* The quotes of a batch of ticks: the newest tick of each symbol becomes
 * its last quote (exec_last_quote; an older one replaces it only from
 * another source or reset_gap or more behind), and *open (malloc'd, caller
 * frees, sorted; also on failure NULL) receives the symbols with open
 * orders, whose ticks go to the journal next (exec_store_journal_ticks), so
 * the caller matches them. One statement, its own transaction. */
tb_status exec_store_record_quotes(PGconn *c, const tb_tick *const *ticks, size_t n,
                                   uint64_t reset_gap, exec_symbol **open, size_t *nopen,
                                   tb_error *err) TB_WARN_UNUSED;
/* Journals the ticks of ticks[0..n) whose symbol is one of open[0..nopen)
 * and still has open orders (traces[i] may be NULL). One statement, its own
 * transaction; a tick recorded before is a no-op. */
tb_status exec_store_journal_ticks(PGconn *c, const tb_tick *const *ticks,
                                   const char *const *traces, size_t n, const exec_symbol *open,
                                   size_t nopen, tb_error *err) TB_WARN_UNUSED;

/* A symbol locked for matching: its last matched tick and its recorded
 * ticks, ticks[first .. first + n) of the set, in (seq, source) order. */
typedef struct exec_pending_sym {
    exec_symbol symbol;
    uint64_t last_seq;
    char last_source[TB_ID_CAP];
    size_t first, n;
} exec_pending_sym;

typedef struct exec_pending_set {
    exec_pending_sym *syms;
    size_t nsyms;
    exec_pending *ticks;
    size_t nticks;
} exec_pending_set;
void exec_pending_set_free(exec_pending_set *ps);

/* In the caller's transaction: locks the tick state of those of syms no
 * other transaction holds (without waiting) and loads their recorded
 * ticks, at most limit a symbol. Symbols held elsewhere are not in *out. */
tb_status exec_store_lock_pending(PGconn *c, const exec_symbol *syms, size_t nsyms, int64_t limit,
                                  exec_pending_set *out, tb_error *err) TB_WARN_UNUSED;

/* A symbol's new last matched tick. */
typedef struct exec_symbol_pos {
    const char *symbol, *source;
    uint64_t seq;
    int64_t ts_ns;
} exec_symbol_pos;

/* What a round settled: recorded ticks to delete (matched or dropped) and
 * the symbols' new positions. */
typedef struct exec_settle {
    const tb_tick *const *done;
    size_t ndone;
    const exec_symbol_pos *states;
    size_t nstates;
} exec_settle;

/* In the caller's transaction, one statement. */
tb_status exec_store_settle_ticks(PGconn *c, const exec_settle *st, tb_error *err) TB_WARN_UNUSED;

/* Symbols with recorded ticks, at most limit; *out malloc'd (caller frees). */
tb_status exec_store_pending_symbols(PGconn *c, int64_t limit, exec_symbol **out, size_t *n,
                                     tb_error *err) TB_WARN_UNUSED;

/* ---- trailing stops (exec_trail_store.c) ---- */

/* A trailing stop's current stop, to persist. */
typedef struct exec_trail_pos {
    const char *order_id;
    tb_fixed stop;
} exec_trail_pos;

/* Appends the rows whose trail_stop moved (ord.trail_moved) to out, which
 * has room for n more. */
void exec_trail_collect(const exec_row *rows, size_t n, exec_trail_pos *out, size_t *nout);
/* In the caller's transaction, one statement whatever n: records the stops
 * (order_trail_stops, migration 0740). Nothing to do when n is 0. */
tb_status exec_store_save_trails(PGconn *c, const exec_trail_pos *v, size_t n,
                                 tb_error *err) TB_WARN_UNUSED;

/* ---- orders in batches (exec_order_store.c) ---- */

/* A symbol locked for order arrival: its last matched tick and its last
 * quote (exec_last_quote), when one was received. */
typedef struct exec_symbol_quote {
    exec_symbol symbol;
    uint64_t last_seq;
    char last_source[TB_ID_CAP];
    bool have_quote;
    tb_tick quote;
} exec_symbol_quote;

/* In the caller's transaction, one statement: locks the tick state rows of
 * syms[0..n) (sorted, distinct; created at seq 0 when new), which serialises
 * order arrival with tick matching per symbol, and reads their last quotes
 * into out[0..n) (same order). */
tb_status exec_store_lock_symbols(PGconn *c, const exec_symbol *syms, size_t n,
                                  exec_symbol_quote *out, tb_error *err) TB_WARN_UNUSED;
/* exec_store_lock_symbols in two steps, so that its statement can share a
 * pipeline's round trip (bus_pg_send): the statement (none when n is 0),
 * then, after the synchronisation, the quotes from its result. */
tb_status exec_store_lock_symbols_send(PGconn *c, const exec_symbol *syms, size_t n, PGresult **r,
                                       tb_error *err) TB_WARN_UNUSED;
tb_status exec_store_lock_symbols_read(PGresult *r, const exec_symbol *syms, size_t n,
                                       exec_symbol_quote *out, tb_error *err) TB_WARN_UNUSED;

/* In the caller's transaction, one statement: loads and locks the orders
 * ids[0..n) in id order, each with its account's fee model (exec_fees.h;
 * a second statement when one is not cached). *rows malloc'd (caller
 * frees); absent ids are not in it. */
tb_status exec_store_lock_orders(PGconn *c, const char *const *ids, size_t n, exec_row **rows,
                                 size_t *nrows, tb_error *err) TB_WARN_UNUSED;
/* exec_store_lock_orders in two steps (as exec_store_lock_symbols_send and
 * _read); reading may run the fee models' statement. */
tb_status exec_store_lock_orders_send(PGconn *c, const char *const *ids, size_t n, PGresult **r,
                                      tb_error *err) TB_WARN_UNUSED;
tb_status exec_store_lock_orders_read(PGconn *c, PGresult *r, exec_row **rows, size_t *nrows,
                                      tb_error *err) TB_WARN_UNUSED;

/* One exec_change of a batch: for the row rows[row] it changed. The order's
 * version after the change and its fill count then (the fill is number
 * fills) are kept, as the row moves on with later changes. */
typedef struct exec_batch_change {
    size_t row;
    exec_change ch;
    int64_t version;
    int64_t fills;
    const char *trace;
} exec_batch_change;

/* Records changes[0..n) of rows in the caller's transaction with a fixed
 * number of statements: fills (with their outbox events), each changed
 * order's final row, every step's order_events row. Appends the steps'
 * orders.status events to ev in change order. */
tb_status exec_store_save_many(PGconn *c, const exec_row *rows, const exec_batch_change *changes,
                               size_t n, exec_events *ev, tb_error *err) TB_WARN_UNUSED;

/* Loads one order FOR UPDATE. TB_NOT_FOUND when absent. */
tb_status exec_store_lock_order(PGconn *c, const char *order_id, exec_row *out,
                                tb_error *err) TB_WARN_UNUSED;
/* Loads one order without locking; when accounts is not empty (comma list)
 * an order of another account is TB_NOT_FOUND. */
tb_status exec_store_get(PGconn *c, const char *order_id, const char *accounts, exec_row *out,
                         tb_error *err) TB_WARN_UNUSED;
/* Loads and locks the accepted/partially filled orders of syms, at most limit a symbol (the
 * oldest), in (symbol, created_at, order_id) order: time priority within a symbol; each with
 * its account's fee model, like exec_store_lock_orders. *rows is malloc'd (caller frees), also
 * when *n is 0 (NULL after a failure). */
tb_status exec_store_lock_open_many(PGconn *c, const exec_symbol *syms, size_t nsyms, int64_t limit,
                                    exec_row **rows, size_t *n, tb_error *err) TB_WARN_UNUSED;
/* Loads and locks (SKIP LOCKED) open day orders created before cutoff_ns. */
tb_status exec_store_lock_day_due(PGconn *c, int64_t cutoff_ns, int64_t limit, exec_row **rows,
                                  size_t *n, tb_error *err) TB_WARN_UNUSED;

typedef struct exec_list_filter {
    const char *account;         /* NULL or "": any */
    const char *symbol;          /* NULL or "": any */
    const char *const *statuses; /* NULL-terminated; NULL: any */
    const char *accounts;        /* comma list the caller may see; "" or NULL: all */
    const char *cursor;          /* order id of the last item of the previous page */
    const char *group_id;        /* NULL or "": any */
    int64_t limit;
} exec_list_filter;
/* Newest first. *rows malloc'd (caller frees). */
tb_status exec_store_list(PGconn *c, const exec_list_filter *f, exec_row **rows, size_t *n,
                          tb_error *err) TB_WARN_UNUSED;

/* Records ch for row: the fill (fills row, outbox event on
 * fills.<account>.<symbol> with msg id "<order_id>-<n>"), the orders row,
 * one order_events row per step; appends the steps' orders.status events to
 * ev and brings row->rec up to date. Call inside a transaction. */
tb_status exec_store_save(PGconn *c, exec_row *row, const exec_change *ch, const char *trace,
                          exec_events *ev, tb_error *err) TB_WARN_UNUSED;

/* The fill number fill_no of ch for row (fill id "<order_id>-<fill_no>").
 * TB_INVALID when the order id is too long for a fill id. */
tb_status exec_fill_of(const exec_row *row, const exec_change *ch, int64_t fill_no, tb_fill *out,
                       tb_error *err) TB_WARN_UNUSED;
/* Appends the orders.status event of step st (transition version) of row. */
tb_status exec_events_add_step(exec_events *ev, const exec_row *row, const exec_step *st,
                               int64_t version, int64_t now_ns, tb_error *err) TB_WARN_UNUSED;

/* Adds the steps of an outcome (after any steps already in ch). */
void exec_change_add_outcome(exec_change *ch, const exec_order *after, const exec_outcome *oc,
                             int64_t fill_ts_ns);
/* Adds one step at the order's current quantities. */
void exec_change_add_step(exec_change *ch, const exec_order *o, exec_status st, const char *reason);

#endif
