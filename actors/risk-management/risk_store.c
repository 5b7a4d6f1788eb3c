/* PostgreSQL glue of risk-management; see risk_store.h for the contract and
 * the locking scheme. Money columns travel as decimal strings (tb_fixed). */
#include "risk_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbox.h"
#include "pgarray.h"
#include "risk_bp.h"
#include "risk_intent.h"
#include "store.h"

#define OPEN_STATUSES "('new', 'accepted', 'partially_filled')"
/* Advisory lock class of risk-management: "risk" in ASCII. */
#define RISK_LOCK_CLASS "1919510379"

/* ------------------------------------------------------------ columns -- */

/* Reads result columns, remembering the first failure. */
typedef struct reader {
    PGresult *r;
    int row;
    tb_status s;
    tb_error *err;
} reader;

static bool col_null(reader *rd, int col) {
    return PQgetisnull(rd->r, rd->row, col);
}

static tb_fixed col_fixed(reader *rd, int col) {
    tb_fixed v = 0;
    if (col_null(rd, col)) return 0;
    if (tb_fixed_parse_cstr(PQgetvalue(rd->r, rd->row, col), &v) != TB_OK && rd->s == TB_OK)
        rd->s =
            tb_error_set(rd->err, TB_ERR, PQfname(rd->r, col), "column %s holds %s: not a tb_fixed",
                         PQfname(rd->r, col), PQgetvalue(rd->r, rd->row, col));
    return v;
}

static uint64_t col_u64(reader *rd, int col) {
    return col_null(rd, col) ? 0 : strtoull(PQgetvalue(rd->r, rd->row, col), NULL, 10);
}

static int64_t col_i64(reader *rd, int col) {
    return col_null(rd, col) ? 0 : strtoll(PQgetvalue(rd->r, rd->row, col), NULL, 10);
}

static bool col_bool(reader *rd, int col) {
    return !col_null(rd, col) && PQgetvalue(rd->r, rd->row, col)[0] == 't';
}

static void col_str(reader *rd, int col, char *out, size_t cap) {
    snprintf(out, cap, "%s", col_null(rd, col) ? "" : PQgetvalue(rd->r, rd->row, col));
}

/* The 15 limit columns, in the order read by read_limits. */
#define LIMIT_COLS(p)                                                                              \
    p "max_order_qty, " p "max_order_notional, " p "max_position_qty, " p "max_gross_exposure, " p \
      "daily_loss_limit, " p "max_orders_per_sec, " p "max_open_orders, " p "price_collar_bps, " p \
      "min_qty, " p "lot_size, COALESCE(" p "reduce_only, false), COALESCE(" p                     \
      "kill_switch, false), "                                                                      \
      "array_to_string(" p "restricted_symbols, ','), " p "initial_margin_bps, COALESCE(" p        \
      "backtest, false)"
#define NLIMIT_COLS 15

static void read_limits(reader *rd, int c0, tb_risk_limits *l) {
    l->max_order_qty = col_fixed(rd, c0 + 0);
    l->max_order_notional = col_fixed(rd, c0 + 1);
    l->max_position_qty = col_fixed(rd, c0 + 2);
    l->max_gross_exposure = col_fixed(rd, c0 + 3);
    l->daily_loss_limit = col_fixed(rd, c0 + 4);
    l->max_orders_per_sec = col_u64(rd, c0 + 5);
    l->max_open_orders = col_u64(rd, c0 + 6);
    l->price_collar_bps = col_u64(rd, c0 + 7);
    l->min_qty = col_fixed(rd, c0 + 8);
    l->lot_size = col_fixed(rd, c0 + 9);
    l->reduce_only = col_bool(rd, c0 + 10);
    l->kill_switch = col_bool(rd, c0 + 11);
    col_str(rd, c0 + 12, l->restricted_symbols, sizeof l->restricted_symbols);
    l->initial_margin_bps = col_u64(rd, c0 + 13);
    l->backtest = col_bool(rd, c0 + 14);
}

/* Buying power of account $1 (risk_bp.h), as the lateral subquery bp with
 * the columns read by read_bp; the symbol's columns are for symbol $2
 * (NULL: none). m is the margin rate of l.initial_margin_bps, which the
 * statement joins from risk_limits_effective. One pass over the account's
 * open orders and positions, grouped by symbol; amounts rounded up to 1e-8. */
#define BP_LATERAL(acct, symbol)                                                                   \
    "CROSS JOIN LATERAL (SELECT "                                                                  \
    "(SELECT cash FROM accounts WHERE id = " acct "), "                                            \
    "(ceil(COALESCE(sum(CASE WHEN x.b > 0 THEN x.nb * greatest(x.b - greatest(-x.q, 0), 0) / x.b " \
    "ELSE 0 END + CASE WHEN x.s > 0 THEN x.ns * greatest(x.s - greatest(x.q, 0), 0) / x.s "        \
    "* (x.m - 10000) / 10000 ELSE 0 END + CASE WHEN x.q < 0 THEN -x.q * x.mark * x.m / 10000 "     \
    "ELSE 0 END), 0) * 100000000) / 100000000)::numeric(38, 8), "                                  \
    "(ceil(COALESCE(sum(CASE WHEN x.b > 0 THEN x.nb * greatest(x.b - greatest(-x.q, 0), 0) / x.b " \
    "ELSE 0 END + CASE WHEN x.s > 0 THEN x.ns * greatest(x.s - greatest(x.q, 0), 0) / x.s "        \
    "ELSE 0 END), 0) * 100000000) / 100000000)::numeric(38, 8), "                                  \
    "(ceil(COALESCE(sum(CASE WHEN x.q < 0 THEN -x.q * x.mark * x.m / 10000 ELSE 0 END), 0) "       \
    "* 100000000) / 100000000)::numeric(38, 8), "                                                  \
    "COALESCE(sum(x.unpriced), 0), "                                                               \
    "COALESCE(sum(x.q) FILTER (WHERE x.symbol = " symbol "), 0), "                                 \
    "COALESCE(sum(x.b) FILTER (WHERE x.symbol = " symbol "), 0), "                                 \
    "COALESCE(sum(x.s) FILTER (WHERE x.symbol = " symbol "), 0) "                                  \
    "FROM (SELECT symbol, COALESCE(p.qty, 0) AS q, COALESCE(p.mark, 0) AS mark, "                  \
    "COALESCE(o.b, 0) AS b, COALESCE(o.nb, 0) AS nb, COALESCE(o.s, 0) AS s, "                      \
    "COALESCE(o.ns, 0) AS ns, COALESCE(o.unpriced, 0) AS unpriced, "                               \
    "COALESCE(l.initial_margin_bps, 15000) AS m "                                                  \
    "FROM (SELECT symbol, "                                                                        \
    "sum(qty - filled_qty) FILTER (WHERE side = 'buy') AS b, "                                     \
    "sum((qty - filled_qty) * COALESCE(reserve_price, limit_price, stop_price, 0)) "               \
    "FILTER (WHERE side = 'buy') AS nb, "                                                          \
    "sum(qty - filled_qty) FILTER (WHERE side = 'sell') AS s, "                                    \
    "sum((qty - filled_qty) * COALESCE(reserve_price, limit_price, stop_price, 0)) "               \
    "FILTER (WHERE side = 'sell') AS ns, "                                                         \
    "count(*) FILTER (WHERE COALESCE(reserve_price, limit_price, stop_price) IS NULL) "            \
    "AS unpriced FROM orders WHERE account = " acct " AND status IN " OPEN_STATUSES                \
    " GROUP BY symbol) o "                                                                         \
    "FULL JOIN (SELECT symbol, qty, CASE WHEN (SELECT COALESCE(bool_or(backtest), false) "         \
    "FROM risk_limits WHERE account = " acct                                                       \
    ") THEN avg_cost ELSE COALESCE(last_price, avg_cost) END "                                     \
    "AS mark FROM positions WHERE account = " acct " AND qty <> 0) p USING (symbol)) x) bp"
#define NBP_COLS 8

static void read_bp(reader *rd, int c0, risk_bp_facts *bp) {
    bp->cash = col_fixed(rd, c0 + 0);
    bp->reserved = col_fixed(rd, c0 + 1);
    bp->fee_base = col_fixed(rd, c0 + 2);
    bp->margin_used = col_fixed(rd, c0 + 3);
    bp->unpriced = col_u64(rd, c0 + 4);
    bp->position = col_fixed(rd, c0 + 5);
    bp->open_buy = col_fixed(rd, c0 + 6);
    bp->open_sell = col_fixed(rd, c0 + 7);
}

/* tb_fixed as a parameter: "" for 0 when zero means absent (NULLIF in SQL). */
typedef struct num {
    char s[TB_FIXED_STRLEN];
} num;
static num N(tb_fixed v, bool zero_is_null) {
    num n = {{0}};
    if (!(zero_is_null && v == 0)) tb_fixed_format(v, n.s);
    return n;
}
static num U(uint64_t v) {
    num n = {{0}};
    if (v) snprintf(n.s, sizeof n.s, "%" PRIu64, v);
    return n;
}

/* -------------------------------------------------------------- load -- */

/* A row per (account, symbol) pair, in the given order. The limits are
 * looked up per pair (OFFSET 0 keeps the subquery from being flattened into
 * a join): as a join, the generic plan (unnest() counts as ten rows) hashed
 * all of accounts and risk_limits for each batch once there were a few
 * hundred accounts, 1.5 ms at a thousand (tests/integration/
 * test_risk_facts_plan.c). */
const char risk_store_facts_sql[] = "SELECT l.account IS NOT NULL, " LIMIT_COLS(
    "l.") ", "
          "(SELECT kill_switch FROM risk_global), "
          "s.symbol IS NOT NULL, s.tradable, s.lot_size, s.tick_size, s.min_qty, s.max_qty, "
          "(SELECT count(*) FROM orders o WHERE o.account = k.a AND o.status IN " OPEN_STATUSES
          "), "
          "bp.* FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(a, sym, i) "
          "LEFT JOIN LATERAL (SELECT * FROM risk_limits_effective WHERE account = k.a OFFSET 0) l "
          "ON true LEFT JOIN symbols s ON s.symbol = k.sym " BP_LATERAL("k.a",
                                                                        "k.sym") " ORDER BY k.i";

tb_status risk_store_load_send(PGconn *c, const char *const *accounts, const char *const *symbols,
                               size_t n, PGresult **res, tb_error *err) {
    bus_pgarray a[2] = {{0}};
    for (size_t i = 0; i < n; i++) {
        bus_pgarray_str(&a[0], accounts[i]);
        bus_pgarray_str(&a[1], symbols[i]);
    }
    const char *p[2];
    tb_status s = bus_pgarray_finish_all(a, 2, p, err);
    if (s == TB_OK) s = bus_pg_send(c, risk_store_facts_sql, 2, p, res, err);
    bus_pgarray_close_all(a, 2);
    return s;
}

tb_status risk_store_load_read(PGresult *r, int row, const char *account, risk_pg_facts *out,
                               tb_error *err) {
    memset(out, 0, sizeof *out);
    if (r == NULL || row >= PQntuples(r))
        return tb_error_set(err, TB_ERR, NULL, "risk facts: no row %d", row);
    reader rd = {.r = r, .row = row, .s = TB_OK, .err = err};
    out->account_known = col_bool(&rd, 0);
    read_limits(&rd, 1, &out->limits);
    snprintf(out->limits.account, sizeof out->limits.account, "%s", account);
    int c0 = 1 + NLIMIT_COLS;
    out->kill_global = col_bool(&rd, c0);
    out->symbol.listed = col_bool(&rd, c0 + 1);
    out->symbol.tradable = col_bool(&rd, c0 + 2);
    out->symbol.lot_size = col_fixed(&rd, c0 + 3);
    out->symbol.tick_size = col_fixed(&rd, c0 + 4);
    out->symbol.min_qty = col_fixed(&rd, c0 + 5);
    out->symbol.max_qty = col_fixed(&rd, c0 + 6);
    out->open_orders = col_u64(&rd, c0 + 7);
    read_bp(&rd, c0 + 8, &out->bp);
    return rd.s;
}

tb_status risk_store_load(PGconn *c, const char *account, const char *symbol, risk_pg_facts *out,
                          tb_error *err) {
    PGresult *r = NULL;
    tb_status s = risk_store_load_send(c, &account, &symbol, 1, &r, err);
    if (s == TB_OK) s = bus_pg_await(c, &r, err);
    if (s == TB_OK) s = risk_store_load_read(r, 0, account, out, err);
    PQclear(r);
    return s;
}

/* ------------------------------------------------------------ orders -- */

#define ORDER_COLS                                                                                 \
    "order_id, client_order_id, account, symbol, side, type, qty, limit_price, stop_price, tif, "  \
    "source, strategy_id, status, filled_qty, avg_price, reason, "                                 \
    "(extract(epoch FROM created_at) * 1000000)::bigint, "                                         \
    "(extract(epoch FROM updated_at) * 1000000)::bigint, reduce_only, "                            \
    "COALESCE((extract(epoch FROM expire_at) * 1000000)::bigint, 0), "                             \
    "COALESCE(trail_amount, 0), COALESCE(trail_bps, 0), COALESCE(limit_offset, 0)"

static tb_status read_order(PGresult *r, int row, tb_order_record *o, bool *reduce_only,
                            tb_error *err) {
    memset(o, 0, sizeof *o);
    reader rd = {.r = r, .row = row, .s = TB_OK, .err = err};
    col_str(&rd, 0, o->order_id, sizeof o->order_id);
    col_str(&rd, 1, o->client_order_id, sizeof o->client_order_id);
    col_str(&rd, 2, o->account, sizeof o->account);
    col_str(&rd, 3, o->symbol, sizeof o->symbol);
    col_str(&rd, 4, o->side, sizeof o->side);
    col_str(&rd, 5, o->type, sizeof o->type);
    o->qty = col_fixed(&rd, 6);
    o->limit_price = col_fixed(&rd, 7);
    o->stop_price = col_fixed(&rd, 8);
    col_str(&rd, 9, o->tif, sizeof o->tif);
    col_str(&rd, 10, o->source, sizeof o->source);
    col_str(&rd, 11, o->strategy_id, sizeof o->strategy_id);
    col_str(&rd, 12, o->status, sizeof o->status);
    o->filled_qty = col_fixed(&rd, 13);
    o->avg_price = col_fixed(&rd, 14);
    col_str(&rd, 15, o->reason, sizeof o->reason);
    o->created_at = col_i64(&rd, 16) * 1000;
    o->updated_at = col_i64(&rd, 17) * 1000;
    *reduce_only = col_bool(&rd, 18);
    o->expire_at = col_i64(&rd, 19) * 1000;
    o->trail_amount = col_fixed(&rd, 20);
    o->trail_bps = col_i64(&rd, 21);
    o->limit_offset = col_fixed(&rd, 22);
    return rd.s;
}

tb_status risk_store_find_client_order(PGconn *c, const char *account, const char *client_order_id,
                                       tb_order_record *out, bool *reduce_only, bool *found,
                                       tb_error *err) {
    *found = false;
    const char *p[2] = {account, client_order_id};
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(c,
                              "SELECT " ORDER_COLS " FROM orders "
                              "WHERE account = $1 AND client_order_id = $2",
                              2, p, &r, err);
    if (s != TB_OK) return s;
    if (PQntuples(r) > 0) {
        s = read_order(r, 0, out, reduce_only, err);
        *found = s == TB_OK;
    }
    PQclear(r);
    return s;
}

tb_status risk_store_find_client_orders(PGconn *c, const char *const *accounts,
                                        const char *const *client_order_ids, size_t n,
                                        risk_found_order **out, size_t *nfound, tb_error *err) {
    *out = NULL;
    *nfound = 0;
    if (n == 0) return TB_OK;
    bus_pgarray a, k;
    bus_pgarray_init(&a);
    bus_pgarray_init(&k);
    for (size_t i = 0; i < n; i++) {
        bus_pgarray_str(&a, accounts[i]);
        bus_pgarray_str(&k, client_order_ids[i]);
    }
    const char *p[2] = {bus_pgarray_finish(&a), bus_pgarray_finish(&k)};
    PGresult *r = NULL;
    tb_status s = p[0] && p[1] ? bus_pg_exec(c,
                                             "SELECT " ORDER_COLS " FROM orders o "
                                             "JOIN unnest($1::text[], $2::text[]) AS u(a, k) "
                                             "ON o.account = u.a AND o.client_order_id = u.k",
                                             2, p, &r, err)
                               : tb_error_set(err, TB_NOMEM, NULL, NULL);
    bus_pgarray_close(&a);
    bus_pgarray_close(&k);
    if (s != TB_OK) return s;
    int rows = PQntuples(r);
    risk_found_order *f = calloc((size_t)rows + 1, sizeof *f);
    if (f == NULL) s = tb_error_set(err, TB_NOMEM, NULL, NULL);
    for (int row = 0; row < rows && s == TB_OK; row++)
        s = read_order(r, row, &f[row].record, &f[row].reduce_only, err);
    PQclear(r);
    if (s != TB_OK) {
        free(f);
        return s;
    }
    *out = f;
    *nfound = (size_t)rows;
    return TB_OK;
}

tb_status risk_store_signal_used(PGconn *c, const char *signal_id, bool *used, tb_error *err) {
    PGresult *r = NULL;
    tb_status s =
        bus_pg_exec(c, "SELECT 1 FROM orders WHERE signal_id = $1", 1, &signal_id, &r, err);
    if (s != TB_OK) return s;
    *used = PQntuples(r) > 0;
    PQclear(r);
    return TB_OK;
}

static tb_status lock_account(PGconn *c, const char *account, tb_error *err) {
    return bus_pg_exec(c, "SELECT pg_advisory_xact_lock(" RISK_LOCK_CLASS ", hashtext($1))", 1,
                       &account, NULL, err);
}

static void rollback(PGconn *c) {
    tb_error ignored = {0};
    if (bus_pg_exec(c, "ROLLBACK", 0, NULL, NULL, &ignored) != TB_OK) {
        /* The connection is broken; the pool drops it and the server rolls back. */
    }
}

tb_status risk_store_lock_accounts(PGconn *c, const char *const *accounts, size_t n,
                                   tb_error *err) {
    bus_pgarray a;
    bus_pgarray_init(&a);
    for (size_t i = 0; i < n; i++) bus_pgarray_str(&a, accounts[i]);
    const char *p[1] = {bus_pgarray_finish(&a)};
    /* The keys sorted in a subquery the outer scan reads in order; the lock
     * needs no answer (in a pipeline it travels with the next query). */
    tb_status s = p[0] == NULL ? tb_error_set(err, TB_NOMEM, NULL, NULL)
                               : bus_pg_exec(c,
                                             "SELECT pg_advisory_xact_lock(" RISK_LOCK_CLASS
                                             ", k.h) FROM (SELECT DISTINCT hashtext(a) AS h "
                                             "FROM unnest($1::text[]) AS a ORDER BY 1) AS k",
                                             1, p, NULL, err);
    bus_pgarray_close(&a);
    return s;
}

tb_status risk_store_lock_live(PGconn *c, const char *account, risk_live *out, tb_error *err) {
    /* The lock needs no answer: in a pipeline it travels with the query. */
    tb_status s = lock_account(c, account, err);
    return s == TB_OK ? risk_store_live(c, account, out, err) : s;
}

tb_status risk_store_live_send(PGconn *c, const char *const *accounts, size_t n, PGresult **res,
                               tb_error *err) {
    bus_pgarray a = {0};
    for (size_t i = 0; i < n; i++) bus_pgarray_str(&a, accounts[i]);
    const char *p[1] = {bus_pgarray_finish(&a)};
    /* A row per account, in the given order. */
    tb_status s =
        p[0] == NULL
            ? tb_error_set(err, TB_NOMEM, NULL, NULL)
            : bus_pg_send(c,
                          "SELECT (SELECT kill_switch FROM risk_global FOR SHARE), x.* "
                          "FROM unnest($1::text[]) WITH ORDINALITY AS k(a, i) "
                          "LEFT JOIN LATERAL (SELECT l.kill_switch, l.max_open_orders, "
                          "(SELECT count(*) FROM orders o WHERE o.account = k.a AND o.status "
                          "IN " OPEN_STATUSES "), bp.* FROM risk_limits_effective l " BP_LATERAL(
                              "k.a", "NULL") " WHERE l.account = k.a) AS x ON true ORDER BY k.i",
                          1, p, res, err);
    bus_pgarray_close(&a);
    return s;
}

tb_status risk_store_live_read(PGresult *r, int row, risk_live *out, tb_error *err) {
    memset(out, 0, sizeof *out);
    if (r == NULL || row >= PQntuples(r))
        return tb_error_set(err, TB_ERR, NULL, "live facts: no row %d", row);
    out->kill_global = PQgetvalue(r, row, 0)[0] == 't';
    if (!PQgetisnull(r, row, 2)) { /* max_open_orders: the account's row */
        reader rd = {.r = r, .row = row, .s = TB_OK, .err = err};
        out->account_known = true;
        out->kill_account = col_bool(&rd, 1);
        out->max_open_orders = col_u64(&rd, 2);
        out->open_orders = col_u64(&rd, 3);
        read_bp(&rd, 4, &out->bp);
        return rd.s;
    }
    return TB_OK;
}

tb_status risk_store_live(PGconn *c, const char *account, risk_live *out, tb_error *err) {
    memset(out, 0, sizeof *out);
    PGresult *r = NULL;
    tb_status s = risk_store_live_send(c, &account, 1, &r, err);
    if (s == TB_OK) s = bus_pg_await(c, &r, err);
    if (s == TB_OK) s = risk_store_live_read(r, 0, out, err);
    PQclear(r);
    return s;
}

void risk_bp_recheck(const risk_intent *in, const risk_facts *facts, const risk_live *live,
                     tb_fixed *taken, risk_verdict *v) {
    if (!live->account_known) return;
    risk_facts now = *facts;
    now.bp_taken = taken ? *taken : 0;
    tb_fixed need = 0;
    risk_bp_check(in, &now, &live->bp, &need, v);
    if (taken && tb_fixed_add(*taken, need, taken) != TB_OK) *taken = TB_FIXED_MAX;
}

void risk_recheck(const risk_intent *in, const risk_facts *facts, const risk_live *live,
                  uint64_t earlier, risk_verdict *v) {
    tb_risk_limits limits = *facts->limits;
    risk_facts now = *facts;
    now.limits = &limits;
    now.kill_global = live->kill_global;
    now.account_known = live->account_known;
    if (live->account_known) {
        limits.kill_switch = live->kill_account;
        limits.max_open_orders = live->max_open_orders;
        now.open_orders = live->open_orders + earlier;
    }
    memset(v, 0, sizeof *v);
    risk_check_account(in, &now, v);
    risk_check_kill_switch(in, &now, v);
    risk_check_open_orders(in, &now, v);
}

/* Array parameters of risk_store_write_orders, in statement order. */
enum {
    W_ID,
    W_CLIENT_ID,
    W_ACCOUNT,
    W_SYMBOL,
    W_SIDE,
    W_TYPE,
    W_QTY,
    W_LIMIT,
    W_STOP,
    W_TIF,
    W_SOURCE,
    W_STRATEGY,
    W_SIGNAL,
    W_REDUCE_ONLY,
    W_TRACE,
    W_AT_US,
    W_EXPIRE_US,
    W_TRAIL_AMOUNT,
    W_TRAIL_BPS,
    W_LIMIT_OFFSET,
    W_RESERVE,
    W_GROUP,
    W_ROLE,
    W_NCOLS
};

tb_status risk_store_write_orders(PGconn *c, const risk_new_order *o, size_t n, tb_error *err) {
    if (n == 0) return TB_OK;
    bus_pgarray col[W_NCOLS];
    for (int k = 0; k < W_NCOLS; k++) bus_pgarray_init(&col[k]);
    for (size_t i = 0; i < n; i++) {
        const risk_intent *in = o[i].in;
        num qty = N(in->qty, false), lp = N(in->limit_price, true), sp = N(in->stop_price, true),
            rp = N(o[i].reserve_price, true);
        bus_pgarray_str(&col[W_ID], o[i].order_id);
        bus_pgarray_str(&col[W_CLIENT_ID], in->client_order_id);
        bus_pgarray_str(&col[W_ACCOUNT], in->account);
        bus_pgarray_str(&col[W_SYMBOL], in->symbol);
        bus_pgarray_str(&col[W_SIDE], in->side);
        bus_pgarray_str(&col[W_TYPE], in->type);
        bus_pgarray_str(&col[W_QTY], qty.s);
        bus_pgarray_str(&col[W_LIMIT], lp.s);
        bus_pgarray_str(&col[W_STOP], sp.s);
        bus_pgarray_str(&col[W_TIF], in->tif);
        bus_pgarray_str(&col[W_SOURCE], in->source);
        bus_pgarray_str(&col[W_STRATEGY], in->strategy_id);
        bus_pgarray_str(&col[W_SIGNAL], in->signal_id);
        bus_pgarray_str(&col[W_REDUCE_ONLY], in->reduce_only ? "true" : "false");
        bus_pgarray_str(&col[W_TRACE], o[i].trace_id ? o[i].trace_id : "");
        bus_pgarray_i64(&col[W_AT_US], o[i].ts_ns / 1000);        /* timestamptz: microseconds */
        bus_pgarray_i64(&col[W_EXPIRE_US], in->expire_at / 1000); /* 0: none */
        num ta = N(in->trail_amount, true), lo = N(in->limit_offset, true);
        bus_pgarray_str(&col[W_TRAIL_AMOUNT], ta.s);
        bus_pgarray_i64(&col[W_TRAIL_BPS], in->trail_bps); /* 0: none */
        bus_pgarray_str(&col[W_LIMIT_OFFSET], lo.s);
        bus_pgarray_str(&col[W_RESERVE], rp.s);
        bus_pgarray_str(&col[W_GROUP], in->group_id);
        bus_pgarray_str(&col[W_ROLE], in->group_role);
    }
    const char *p[W_NCOLS];
    tb_status s = bus_pgarray_finish_all(col, W_NCOLS, p, err);
    if (s == TB_OK)
        s = bus_pg_exec(
            c,
            "INSERT INTO orders (order_id, client_order_id, account, symbol, side, type, qty, "
            "limit_price, stop_price, tif, source, strategy_id, signal_id, reduce_only, "
            "trace_id, created_at, updated_at, expire_at, trail_amount, trail_bps, limit_offset, "
            "reserve_price, group_id, group_role) "
            "SELECT u.id, NULLIF(u.coid, ''), u.acct, u.sym, u.side, u.type, u.qty::numeric, "
            "NULLIF(u.lp, '')::numeric, NULLIF(u.sp, '')::numeric, u.tif, u.src, "
            "NULLIF(u.strat, ''), NULLIF(u.sig, ''), u.ro::boolean, NULLIF(u.tr, ''), "
            "'epoch'::timestamptz + u.us * interval '1 microsecond', "
            "'epoch'::timestamptz + u.us * interval '1 microsecond', "
            "CASE WHEN u.ex = 0 THEN NULL "
            "ELSE 'epoch'::timestamptz + u.ex * interval '1 microsecond' END, "
            "NULLIF(u.ta, '')::numeric, NULLIF(u.tb, 0)::int, NULLIF(u.lo, '')::numeric, "
            "NULLIF(u.rp, '')::numeric, NULLIF(u.grp, ''), NULLIF(u.role, '') "
            "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
            "$6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], "
            "$12::text[], $13::text[], $14::text[], $15::text[], $16::bigint[], $17::bigint[], "
            "$18::text[], $19::bigint[], $20::text[], $21::text[], $22::text[], $23::text[]) "
            "WITH ORDINALITY AS u(id, coid, acct, sym, side, type, qty, lp, sp, tif, src, strat, "
            "sig, ro, tr, us, ex, ta, tb, lo, rp, grp, role, n) ORDER BY u.n",
            W_NCOLS, p, NULL, err);
    if (s == TB_OK) {
        const char *q[3] = {p[W_ID], p[W_TRACE], p[W_AT_US]};
        s = bus_pg_exec(c,
                        "INSERT INTO order_events (order_id, version, status, filled_qty, "
                        "trace_id, at) "
                        "SELECT u.id, 1, 'new', 0, NULLIF(u.tr, ''), "
                        "'epoch'::timestamptz + u.us * interval '1 microsecond' "
                        "FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(id, tr, us)",
                        3, q, NULL, err);
    }
    bus_pgarray_close_all(col, W_NCOLS);
    if (s != TB_OK) return s;

    tb_order *evs = calloc(n, sizeof *evs);
    bus_outbox_event *rows = calloc(n, sizeof *rows);
    char(*subjects)[128] = calloc(n, sizeof *subjects);
    if (evs == NULL || rows == NULL || subjects == NULL)
        s = tb_error_set(err, TB_NOMEM, NULL, NULL);
    for (size_t i = 0; i < n && s == TB_OK; i++) {
        risk_order_event(o[i].in, o[i].order_id, o[i].ts_ns, &evs[i]);
        snprintf(subjects[i], sizeof subjects[i], "orders.new.%s", o[i].in->account);
        rows[i] = (bus_outbox_event){.subject = subjects[i],
                                     .desc = &tb_order_desc,
                                     .ev = &evs[i],
                                     .msg_id = o[i].order_id,
                                     .trace_id = o[i].trace_id};
    }
    if (s == TB_OK) s = bus_outbox_add_many(c, RISK_PRODUCER, rows, n, err);
    free(subjects);
    free(rows);
    free(evs);
    return s;
}

tb_status risk_store_insert_order(PGconn *c, const risk_intent *in, const risk_facts *facts,
                                  const char *order_id, int64_t ts_ns, const char *trace_id,
                                  risk_verdict *v, tb_error *err) {
    memset(v, 0, sizeof *v);
    tb_status s = bus_pg_exec(c, "BEGIN", 0, NULL, NULL, err);
    if (s != TB_OK) return s;
    risk_live live;
    s = risk_store_lock_live(c, in->account, &live, err);
    if (s == TB_OK) risk_recheck(in, facts, &live, 0, v);
    if (s == TB_OK && v->n == 0) risk_bp_recheck(in, facts, &live, NULL, v);
    if (s != TB_OK || v->n > 0) {
        rollback(c);
        return s;
    }
    risk_new_order o = {.in = in,
                        .order_id = order_id,
                        .ts_ns = ts_ns,
                        .trace_id = trace_id,
                        .reserve_price = risk_reference_price(in, &facts->quote)};
    s = risk_store_write_orders(c, &o, 1, err);
    if (s == TB_OK)
        s = bus_pg_exec(c, "COMMIT", 0, NULL, NULL, err);
    else
        rollback(c);
    return s;
}

tb_status risk_store_account_bp(PGconn *c, const char *account, uint64_t *margin_bps,
                                risk_bp_facts *bp, tb_error *err) {
    memset(bp, 0, sizeof *bp);
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(c,
                              "SELECT l.initial_margin_bps, bp.* FROM risk_limits_effective l "
                              " " BP_LATERAL("$1", "NULL") " WHERE l.account = $1",
                              1, &account, &r, err);
    if (s != TB_OK) return s;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return tb_error_set(err, TB_NOT_FOUND, "account", "no account %s", account);
    }
    reader rd = {.r = r, .row = 0, .s = TB_OK, .err = err};
    *margin_bps = col_u64(&rd, 0);
    read_bp(&rd, 1, bp);
    PQclear(r);
    return rd.s;
}

/* ------------------------------------------------------------ limits -- */

tb_status risk_store_is_backtest(PGconn *c, const char *account, bool *backtest, tb_error *err) {
    *backtest = false;
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(c,
                              "SELECT l.backtest AND NOT l.kill_switch AND NOT COALESCE("
                              "(SELECT kill_switch FROM risk_global), false) "
                              "FROM risk_limits_effective l WHERE l.account = $1",
                              1, &account, &r, err);
    if (s != TB_OK) return s;
    *backtest = PQntuples(r) > 0 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return TB_OK;
}

/* Runs sql with the n accounts as $1 (text[]); the caller reads *r, whose
 * first column is an account, and clears it. */
static tb_status accounts_query(PGconn *c, const char *sql, const char *const *accounts, size_t n,
                                PGresult **r, tb_error *err) {
    bus_pgarray a;
    bus_pgarray_init(&a);
    for (size_t i = 0; i < n; i++) bus_pgarray_str(&a, accounts[i]);
    const char *p[1] = {bus_pgarray_finish(&a)};
    tb_status s =
        p[0] == NULL ? tb_error_set(err, TB_NOMEM, NULL, NULL) : bus_pg_exec(c, sql, 1, p, r, err);
    bus_pgarray_close(&a);
    return s;
}

/* The index of row's account (first column) in accounts, or n. */
static size_t account_of_row(const PGresult *r, int row, const char *const *accounts, size_t n) {
    size_t i = 0;
    while (i < n && strcmp(accounts[i], PQgetvalue(r, row, 0)) != 0) i++;
    return i;
}

tb_status risk_store_backtests(PGconn *c, const char *const *accounts, size_t n, bool *out,
                               tb_error *err) {
    for (size_t i = 0; i < n; i++) out[i] = false;
    if (n == 0) return TB_OK;
    PGresult *r = NULL;
    tb_status s = accounts_query(c,
                                 "SELECT l.account FROM risk_limits_effective l "
                                 "WHERE l.account = ANY($1::text[]) AND l.backtest "
                                 "AND NOT l.kill_switch "
                                 "AND NOT COALESCE((SELECT kill_switch FROM risk_global), false)",
                                 accounts, n, &r, err);
    for (int row = 0; s == TB_OK && row < PQntuples(r); row++) {
        size_t i = account_of_row(r, row, accounts, n);
        if (i < n) out[i] = true;
    }
    PQclear(r);
    return s;
}

tb_status risk_store_positions_send(PGconn *c, const char *account, PGresult **res, tb_error *err) {
    const char *p[1] = {account};
    return bus_pg_send(c,
                       "SELECT symbol, qty, cost_basis, realized_pnl, last_price, avg_cost "
                       "FROM positions WHERE account = $1",
                       1, p, res, err);
}

tb_status risk_store_positions_read(PGresult *r, risk_position **items, size_t *n, tb_fixed *pnl,
                                    bool *pnl_ok, tb_error *err) {
    *items = NULL;
    *n = 0;
    *pnl = 0;
    *pnl_ok = true;
    if (r == NULL) return tb_error_set(err, TB_ERR, NULL, "positions: no result");
    int rows = PQntuples(r);
    risk_position *v = calloc(rows ? (size_t)rows : 1, sizeof *v);
    if (v == NULL) return tb_error_set(err, TB_NOMEM, NULL, NULL);
    reader rd = {.r = r, .s = TB_OK, .err = err};
    tb_fixed sum = 0;
    for (int i = 0; i < rows && rd.s == TB_OK; i++) {
        rd.row = i;
        col_str(&rd, 0, v[i].symbol, sizeof v[i].symbol);
        tb_fixed qty = col_fixed(&rd, 1), cost = col_fixed(&rd, 2), realized = col_fixed(&rd, 3),
                 last = col_fixed(&rd, 4), avg = col_fixed(&rd, 5), mv = cost, upl = 0;
        v[i].qty = qty;
        v[i].mark = last > 0 ? last : avg;
        if (*pnl_ok &&
            ((last > 0 && tb_fixed_mul(qty, last, TB_ROUND_HALF_EVEN, &mv) != TB_OK) ||
             tb_fixed_sub(mv, cost, &upl) != TB_OK || tb_fixed_add(sum, realized, &sum) != TB_OK ||
             tb_fixed_add(sum, upl, &sum) != TB_OK))
            *pnl_ok = false;
    }
    if (rd.s != TB_OK) {
        free(v);
        return rd.s;
    }
    *items = v;
    *n = (size_t)rows;
    *pnl = *pnl_ok ? sum : 0;
    return TB_OK;
}

tb_status risk_store_positions(PGconn *c, const char *account, risk_position **items, size_t *n,
                               tb_fixed *pnl, bool *pnl_ok, tb_error *err) {
    PGresult *r = NULL;
    tb_status s = risk_store_positions_send(c, account, &r, err);
    if (s == TB_OK) s = risk_store_positions_read(r, items, n, pnl, pnl_ok, err);
    PQclear(r);
    return s;
}

tb_status risk_store_decided(PGconn *c, const char *const *signal_ids, size_t n, tb_error *err) {
    if (n == 0) return TB_OK;
    bus_pgarray a;
    bus_pgarray_init(&a);
    for (size_t i = 0; i < n; i++) bus_pgarray_str(&a, signal_ids[i]);
    const char *p[1] = {bus_pgarray_finish(&a)};
    /* Up to the highest emit_seq below which every signal of the account is
     * decided: only signals of the account after its cursor are read. */
    tb_status s =
        p[0] ? bus_pg_exec(
                   c,
                   "INSERT INTO risk_backtest_cursors AS c (account, seq) "
                   "SELECT d.account, d.seq FROM (SELECT s.account, max(s.emit_seq) AS seq "
                   "FROM signals s WHERE s.signal_id = ANY($1::text[]) GROUP BY s.account) d "
                   "WHERE NOT EXISTS (SELECT 1 FROM signals_undecided e "
                   "WHERE e.account = d.account AND e.emit_seq < d.seq AND e.emit_seq > "
                   "COALESCE((SELECT k.seq FROM risk_backtest_cursors k "
                   "WHERE k.account = d.account), 0)) "
                   "ON CONFLICT (account) DO UPDATE SET seq = greatest(c.seq, EXCLUDED.seq)",
                   1, p, NULL, err)
             : tb_error_set(err, TB_NOMEM, NULL, NULL);
    bus_pgarray_close(&a);
    return s;
}

tb_status risk_store_refusals(PGconn *c, const risk_refusal *rf, size_t n, tb_error *err) {
    if (n == 0) return TB_OK;
    bus_pgarray a[4];
    for (int k = 0; k < 4; k++) bus_pgarray_init(&a[k]);
    for (size_t i = 0; i < n; i++) {
        bus_pgarray_str(&a[0], rf[i].signal_id);
        bus_pgarray_str(&a[1], rf[i].account);
        bus_pgarray_str(&a[2], rf[i].reasons);
        bus_pgarray_str(&a[3], rf[i].detail ? rf[i].detail : "");
    }
    const char *p[4];
    tb_status s = bus_pgarray_finish_all(a, 4, p, err);
    if (s == TB_OK)
        s = bus_pg_exec(c,
                        "INSERT INTO risk_signal_refusals (signal_id, account, reasons, detail) "
                        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) "
                        "ON CONFLICT (signal_id) DO NOTHING",
                        4, p, NULL, err);
    bus_pgarray_close_all(a, 4);
    return s;
}

tb_status risk_store_unsettled(PGconn *c, const char *const *accounts,
                               const char *const *signal_ids, size_t n, risk_unsettled *out,
                               tb_error *err) {
    for (size_t i = 0; i < n; i++) out[i] = (risk_unsettled){0};
    if (n == 0) return TB_OK;
    bus_pgarray a[2];
    bus_pgarray_init(&a[0]);
    bus_pgarray_init(&a[1]);
    for (size_t i = 0; i < n; i++) {
        bus_pgarray_str(&a[0], accounts[i]);
        bus_pgarray_str(&a[1], signal_ids[i]);
    }
    const char *p[2];
    PGresult *r = NULL;
    tb_status s = bus_pgarray_finish_all(a, 2, p, err);
    /* What is unsettled, named by the service it waits for: an open market
     * order (trading-execution), a fill trading-execution recorded but has
     * not published yet (its outbox row still pending: a stopped
     * trading-execution holds its fills as well as its orders), a fill
     * published and not booked (position-management). Then the account's
     * earlier signals: after its cursor and before this one
     * in emit order, with neither an order nor a refusal. A signal whose
     * row is missing (signal-processing could not record it) has no place
     * in the order and waits for none. */
    if (s == TB_OK)
        s = bus_pg_exec(
            c,
            "SELECT u.a, u.what FROM (SELECT k.a, COALESCE("
            "(SELECT 'trading-execution has not finished order ' || o.order_id || ' (' || "
            "o.status || ')' FROM orders o WHERE o.account = k.a AND o.type = 'market' "
            "AND o.status IN " OPEN_STATUSES " LIMIT 1), "
            "(SELECT CASE WHEN EXISTS (SELECT 1 FROM outbox x JOIN outbox_pending q "
            "ON q.producer = x.producer AND q.id = x.id WHERE x.msg_id = f.fill_id) "
            "THEN 'trading-execution has not published fill ' "
            "ELSE 'position-management has not booked fill ' END || f.fill_id "
            "FROM fills f WHERE f.account = k.a AND NOT EXISTS "
            "(SELECT 1 FROM applied_fills p WHERE p.fill_id = f.fill_id) LIMIT 1), "
            "(SELECT 'risk-management has not decided the earlier signal ' || e.signal_id "
            "FROM signals_undecided e WHERE e.account = k.a AND e.emit_seq > "
            "COALESCE((SELECT c.seq FROM risk_backtest_cursors c WHERE c.account = k.a), 0) "
            "AND e.emit_seq < (SELECT m.emit_seq FROM signals m WHERE m.signal_id = k.sig) "
            "ORDER BY e.emit_seq LIMIT 1)) AS what "
            "FROM unnest($1::text[], $2::text[]) AS k(a, sig)) AS u WHERE u.what IS NOT NULL",
            2, p, &r, err);
    bus_pgarray_close_all(a, 2);
    for (int row = 0; s == TB_OK && row < PQntuples(r); row++) {
        size_t i = account_of_row(r, row, accounts, n);
        if (i == n) continue;
        out[i].open = true;
        snprintf(out[i].what, sizeof out[i].what, "%s", PQgetvalue(r, row, 1));
    }
    PQclear(r);
    return s;
}

tb_status risk_store_limits_get(PGconn *c, const char *account, tb_risk_limits *out,
                                tb_error *err) {
    memset(out, 0, sizeof *out);
    bool defaults = strcmp(account, "_default") == 0;
    PGresult *r = NULL;
    tb_status s =
        defaults ? bus_pg_exec(c, "SELECT " LIMIT_COLS("") " FROM risk_limits WHERE account = '*'",
                               0, NULL, &r, err)
                 : bus_pg_exec(c,
                               "SELECT " LIMIT_COLS(
                                   "l.") ", (SELECT kill_switch FROM risk_global), "
                                         "COALESCE(l.kill_reason, (SELECT reason FROM risk_global "
                                         "WHERE kill_switch)) "
                                         "FROM risk_limits_effective l WHERE l.account = $1",
                               1, &account, &r, err);
    if (s != TB_OK) return s;
    snprintf(out->account, sizeof out->account, "%s", account);
    if (PQntuples(r) == 0) {
        PQclear(r);
        /* No defaults row means no default limits. */
        return defaults ? TB_OK
                        : tb_error_set(err, TB_NOT_FOUND, "account", "no account %s", account);
    }
    reader rd = {.r = r, .row = 0, .s = TB_OK, .err = err};
    read_limits(&rd, 0, out);
    if (!defaults && col_bool(&rd, NLIMIT_COLS)) out->kill_switch = true;
    if (!defaults) col_str(&rd, NLIMIT_COLS + 1, out->kill_reason, sizeof out->kill_reason);
    PQclear(r);
    return rd.s;
}

static tb_status account_exists(PGconn *c, const char *account, tb_error *err) {
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(c, "SELECT 1 FROM accounts WHERE id = $1", 1, &account, &r, err);
    if (s != TB_OK) return s;
    bool found = PQntuples(r) > 0;
    PQclear(r);
    return found ? TB_OK : tb_error_set(err, TB_NOT_FOUND, "account", "no account %s", account);
}

tb_status risk_store_limits_set(PGconn *c, const tb_risk_limits *l, tb_error *err) {
    bool defaults = strcmp(l->account, "_default") == 0;
    if (!defaults) {
        tb_status s = account_exists(c, l->account, err);
        if (s != TB_OK) return s;
    }
    num v[11] = {N(l->max_order_qty, true),    N(l->max_order_notional, true),
                 N(l->max_position_qty, true), N(l->max_gross_exposure, true),
                 N(l->daily_loss_limit, true), U(l->max_orders_per_sec),
                 U(l->max_open_orders),        U(l->price_collar_bps),
                 N(l->min_qty, true),          N(l->lot_size, true),
                 U(l->initial_margin_bps)};
    const char *p[15] = {defaults ? "*" : l->account,
                         v[0].s,
                         v[1].s,
                         v[2].s,
                         v[3].s,
                         v[4].s,
                         v[5].s,
                         v[6].s,
                         v[7].s,
                         v[8].s,
                         v[9].s,
                         l->reduce_only ? "true" : "false",
                         l->restricted_symbols,
                         v[10].s,
                         l->backtest ? "true" : "false"};
    return bus_pg_exec(
        c,
        "INSERT INTO risk_limits (account, max_order_qty, max_order_notional, max_position_qty, "
        "max_gross_exposure, daily_loss_limit, max_orders_per_sec, max_open_orders, "
        "price_collar_bps, min_qty, lot_size, reduce_only, restricted_symbols, "
        "initial_margin_bps, backtest, updated_by) "
        "VALUES ($1, NULLIF($2, '')::numeric, NULLIF($3, '')::numeric, NULLIF($4, '')::numeric, "
        "NULLIF($5, '')::numeric, NULLIF($6, '')::numeric, NULLIF($7, '')::integer, "
        "NULLIF($8, '')::integer, NULLIF($9, '')::integer, NULLIF($10, '')::numeric, "
        "NULLIF($11, '')::numeric, $12::boolean, "
        "CASE WHEN $13 = '' THEN NULL ELSE string_to_array($13, ',') END, "
        "NULLIF($14, '')::integer, $15::boolean, 'api') "
        "ON CONFLICT (account) DO UPDATE SET max_order_qty = EXCLUDED.max_order_qty, "
        "max_order_notional = EXCLUDED.max_order_notional, "
        "max_position_qty = EXCLUDED.max_position_qty, "
        "max_gross_exposure = EXCLUDED.max_gross_exposure, "
        "daily_loss_limit = EXCLUDED.daily_loss_limit, "
        "max_orders_per_sec = EXCLUDED.max_orders_per_sec, "
        "max_open_orders = EXCLUDED.max_open_orders, "
        "price_collar_bps = EXCLUDED.price_collar_bps, min_qty = EXCLUDED.min_qty, "
        "lot_size = EXCLUDED.lot_size, reduce_only = EXCLUDED.reduce_only, "
        "restricted_symbols = EXCLUDED.restricted_symbols, "
        "initial_margin_bps = EXCLUDED.initial_margin_bps, "
        /* once a backtest run's account, always: a later replacement of the
         * limits (without the flag, as the gateway sends them) keeps it */
        "backtest = COALESCE(risk_limits.backtest, false) OR EXCLUDED.backtest, "
        "updated_by = EXCLUDED.updated_by, "
        "updated_at = now()",
        15, p, NULL, err);
}

/* ------------------------------------------------------- kill switch -- */

/* Records a cancel for every open order selected by where (one parameter,
 * $1, may be unused) that has no cancel recorded yet. */
static tb_status cancel_open_orders(PGconn *c, const char *where, const char *param,
                                    const char *trace_id, uint64_t *canceled, tb_error *err) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT order_id, account FROM orders o WHERE o.status IN " OPEN_STATUSES " AND %s "
             "AND NOT EXISTS (SELECT 1 FROM outbox x WHERE x.msg_id = 'cancel-' || o.order_id) "
             "ORDER BY o.created_at, o.order_id",
             where);
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(c, sql, param ? 1 : 0, param ? &param : NULL, &r, err);
    if (s != TB_OK) return s;
    int64_t now = tb_now_ns();
    for (int i = 0; s == TB_OK && i < PQntuples(r); i++) {
        tb_order_cancel ev;
        memset(&ev, 0, sizeof ev);
        snprintf(ev.order_id, sizeof ev.order_id, "%s", PQgetvalue(r, i, 0));
        snprintf(ev.account, sizeof ev.account, "%s", PQgetvalue(r, i, 1));
        snprintf(ev.reason, sizeof ev.reason, "kill_switch");
        ev.ts = now;
        char subject[128], msg_id[TB_ID_CAP + 8];
        snprintf(subject, sizeof subject, "orders.cancel.%s", ev.account);
        snprintf(msg_id, sizeof msg_id, "cancel-%s", ev.order_id);
        s = bus_outbox_add(c, RISK_PRODUCER, subject, &tb_order_cancel_desc, &ev, msg_id, trace_id,
                           err);
        if (s == TB_OK) (*canceled)++;
    }
    PQclear(r);
    return s;
}

tb_status risk_store_kill_switch(PGconn *c, const tb_kill_switch *ks, const char *trace_id,
                                 uint64_t *canceled, tb_error *err) {
    *canceled = 0;
    bool global = ks->account[0] == '\0';
    tb_status s = bus_pg_exec(c, "BEGIN", 0, NULL, NULL, err);
    if (s != TB_OK) return s;
    const char *engaged = ks->engaged ? "true" : "false";
    if (global) {
        /* UPDATE waits for order inserts holding the row FOR SHARE, and
         * inserts that start later see the new value. */
        const char *p[2] = {engaged, ks->reason};
        s = bus_pg_exec(c,
                        "UPDATE risk_global SET kill_switch = $1::boolean, "
                        "reason = NULLIF($2, ''), updated_by = 'api'",
                        2, p, NULL, err);
        if (s == TB_OK && ks->engaged)
            s = cancel_open_orders(c, "true", NULL, trace_id, canceled, err);
    } else {
        s = lock_account(c, ks->account, err);
        if (s == TB_OK) s = account_exists(c, ks->account, err);
        const char *p[3] = {ks->account, engaged, ks->reason};
        if (s == TB_OK)
            s = bus_pg_exec(c,
                            "INSERT INTO risk_limits (account, kill_switch, kill_reason, "
                            "updated_by) VALUES ($1, $2::boolean, "
                            "CASE WHEN $2::boolean THEN NULLIF($3, '') END, 'api') "
                            "ON CONFLICT (account) DO UPDATE "
                            "SET kill_switch = EXCLUDED.kill_switch, "
                            "kill_reason = EXCLUDED.kill_reason, updated_by = 'api', "
                            "updated_at = now()",
                            3, p, NULL, err);
        if (s == TB_OK && ks->engaged)
            s = cancel_open_orders(c, "o.account = $1", ks->account, trace_id, canceled, err);
    }
    if (s == TB_OK) {
        char n[24];
        snprintf(n, sizeof n, "%llu", (unsigned long long)*canceled);
        const char *p[5] = {ks->account, engaged, ks->reason, n, trace_id ? trace_id : ""};
        s = bus_pg_exec(c,
                        "INSERT INTO risk_kill_switch_log (account, engaged, reason, canceled, "
                        "trace_id) VALUES (NULLIF($1, ''), $2::boolean, $3, $4::integer, "
                        "NULLIF($5, ''))",
                        5, p, NULL, err);
    }
    if (s == TB_OK)
        s = bus_pg_exec(c, "COMMIT", 0, NULL, NULL, err);
    else
        rollback(c);
    if (s != TB_OK) *canceled = 0;
    return s;
}
