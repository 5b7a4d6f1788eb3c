/* PostgreSQL access of analytics (see an_store.h). Times cross the boundary
 * as microseconds since the epoch (timestamptz's resolution) for equity.ts
 * and as nanoseconds (bigint) for fill times and valuation times. */
#include "an_store.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an_report.h"
#include "pgarray.h"
#include "store.h"

#define NS_PER_US 1000

/* ceil(ns / 1000): ts_us >= ceil(x / 1000) <=> ts_us * 1000 >= x. */
static int64_t ceil_us(int64_t ns) {
    int64_t q = ns / NS_PER_US;
    return (ns % NS_PER_US > 0) ? q + 1 : q;
}

typedef tb_status (*row_fn)(const PGresult *r, void *arg, tb_error *err);

/* Runs a query in single-row mode, calling fn for each row. After an error
 * the remaining rows are drained so the connection is usable again. */
static tb_status stream(PGconn *c, const char *sql, int nparams, const char *const *params,
                        row_fn fn, void *arg, tb_error *err) {
    if (!PQsendQueryParams(c, sql, nparams, NULL, params, NULL, NULL, 0) ||
        !PQsetSingleRowMode(c)) {
        tb_status st = PQstatus(c) == CONNECTION_BAD ? TB_UNAVAILABLE : TB_ERR;
        tb_status s = tb_error_set(err, st, NULL, "postgres: %s", PQerrorMessage(c));
        PGresult *r;
        while ((r = PQgetResult(c)) != NULL) PQclear(r);
        return s;
    }
    tb_status s = TB_OK;
    PGresult *r;
    while ((r = PQgetResult(c)) != NULL) {
        if (s == TB_OK) {
            ExecStatusType st = PQresultStatus(r);
            if (st == PGRES_SINGLE_TUPLE)
                s = fn(r, arg, err);
            else if (st != PGRES_TUPLES_OK)
                s = bus_pg_result_status(c, r, err);
        }
        PQclear(r);
    }
    return s;
}

tb_status an_store_record_fills(PGconn *c, const tb_fill *const *f, size_t n, size_t *inserted,
                                tb_error *err) {
    *inserted = 0;
    if (n == 0) return TB_OK;
    enum { ID, ACCOUNT, SYMBOL, SIDE, QTY, PRICE, FEE, STRATEGY, TS, NCOLS };
    bus_pgarray col[NCOLS];
    for (int k = 0; k < NCOLS; k++) bus_pgarray_init(&col[k]);
    for (size_t i = 0; i < n; i++) {
        bus_pgarray_str(&col[ID], f[i]->fill_id);
        bus_pgarray_str(&col[ACCOUNT], f[i]->account);
        bus_pgarray_str(&col[SYMBOL], f[i]->symbol);
        bus_pgarray_str(&col[SIDE], f[i]->side);
        bus_pgarray_fixed(&col[QTY], f[i]->qty);
        bus_pgarray_fixed(&col[PRICE], f[i]->price);
        bus_pgarray_fixed(&col[FEE], f[i]->fee);
        bus_pgarray_str(&col[STRATEGY], f[i]->strategy_id);
        bus_pgarray_i64(&col[TS], f[i]->ts);
    }
    const char *params[NCOLS];
    tb_status s = bus_pgarray_finish_all(col, NCOLS, params, err);
    PGresult *r = NULL;
    /* One statement for the batch; a fill seen before (a redelivery) is
     * skipped by its id, also when the batch holds it twice. */
    if (s == TB_OK)
        s = bus_pg_exec(c,
                        "INSERT INTO analytics_fills (fill_id, account, symbol, side, qty,"
                        " price, fee, strategy_id, ts_ns)"
                        " SELECT u.id, u.acct, u.sym, u.side, u.qty, u.price, u.fee,"
                        "        NULLIF(u.strat, ''), u.ts"
                        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
                        "             $5::numeric[], $6::numeric[], $7::numeric[], $8::text[],"
                        "             $9::bigint[]) WITH ORDINALITY"
                        "      AS u(id, acct, sym, side, qty, price, fee, strat, ts, n)"
                        " ORDER BY u.n"
                        " ON CONFLICT (fill_id) DO NOTHING",
                        NCOLS, params, &r, err);
    bus_pgarray_close_all(col, NCOLS);
    if (s != TB_OK) return s;
    *inserted = (size_t)atoll(PQcmdTuples(r));
    PQclear(r);
    return TB_OK;
}

/* s[0..n) strictly increasing by (account byte-wise, bucket). */
static bool samples_ordered(const an_sample *s, size_t n) {
    for (size_t i = 1; i < n; i++) {
        int c = strcmp(s[i - 1].account, s[i].account);
        if (c > 0 || (c == 0 && s[i - 1].bucket_ns >= s[i].bucket_ns)) return false;
    }
    return true;
}

/* The statement's columns, in its parameters' order. */
enum { S_ACCOUNT, S_US, S_EQUITY, S_CASH, S_RPNL, S_UPNL, S_VALUED, S_NCOLS };

static void sample_columns(const an_sample *s, size_t n, bus_pgarray col[S_NCOLS]) {
    for (size_t i = 0; i < n; i++) {
        bus_pgarray_str(&col[S_ACCOUNT], s[i].account);
        bus_pgarray_i64(&col[S_US], s[i].bucket_ns / NS_PER_US);
        bus_pgarray_fixed(&col[S_EQUITY], s[i].v->equity);
        bus_pgarray_fixed(&col[S_CASH], s[i].v->cash);
        bus_pgarray_fixed(&col[S_RPNL], s[i].v->realized_pnl);
        bus_pgarray_fixed(&col[S_UPNL], s[i].v->unrealized_pnl);
        bus_pgarray_i64(&col[S_VALUED], s[i].valued_ns);
    }
}

/* The upsert of the columns; *written gets the rows it changed. */
static tb_status upsert_samples(PGconn *c, const char *const *params, size_t *written,
                                tb_error *err) {
    PGresult *r = NULL;
    /* Rows go in in the arrays' order (ORDER BY the ordinality), so every
     * writer locks points in (account, ts) order. The WHERE keeps the
     * freshest valuation of a bucket whatever order workers write in; equal
     * times rewrite the same figures. */
    tb_status s = bus_pg_exec(
        c,
        "INSERT INTO equity AS e (account, ts, equity, cash, realized_pnl, unrealized_pnl,"
        " valued_ns)"
        " SELECT u.acct, 'epoch'::timestamptz + u.us * interval '1 microsecond',"
        "        u.eq, u.cash, u.rp, u.up, u.valued"
        " FROM unnest($1::text[], $2::bigint[], $3::numeric[], $4::numeric[], $5::numeric[],"
        "             $6::numeric[], $7::bigint[]) WITH ORDINALITY"
        "      AS u(acct, us, eq, cash, rp, up, valued, n)"
        " ORDER BY u.n"
        " ON CONFLICT (account, ts) DO UPDATE SET equity = EXCLUDED.equity, cash = EXCLUDED.cash,"
        "  realized_pnl = EXCLUDED.realized_pnl, unrealized_pnl = EXCLUDED.unrealized_pnl,"
        "  valued_ns = EXCLUDED.valued_ns"
        " WHERE e.valued_ns <= EXCLUDED.valued_ns",
        S_NCOLS, params, &r, err);
    if (s != TB_OK) return s;
    *written = (size_t)atoll(PQcmdTuples(r));
    PQclear(r);
    return TB_OK;
}

/* The upsert in its own transaction, rolled back on any failure. */
static tb_status write_samples(PGconn *c, const char *const *params, size_t *written,
                               tb_error *err) {
    /* A sample comes from a position update, which core NATS delivers at
     * most once: its commit need not wait for the WAL flush (a crash may
     * lose the last instants' samples, as the transport may), and the
     * valuation stream no longer pays a disk sync per batch. */
    PGresult *b = PQexec(c, "BEGIN; SET LOCAL synchronous_commit TO off");
    tb_status s = bus_pg_result_status(c, b, err);
    PQclear(b);
    if (s == TB_OK) s = upsert_samples(c, params, written, err);
    if (s == TB_OK) s = bus_pg_exec(c, "COMMIT", 0, NULL, NULL, err);
    if (s != TB_OK) {
        *written = 0;
        tb_error ignored = {0};
        if (bus_pg_exec(c, "ROLLBACK", 0, NULL, NULL, &ignored) != TB_OK) {
            /* the connection is gone; the server rolled back */
        }
    }
    return s;
}

tb_status an_store_samples(PGconn *c, const an_sample *s, size_t n, size_t *written,
                           tb_error *err) {
    *written = 0;
    if (n == 0) return TB_OK;
    if (!samples_ordered(s, n))
        return tb_error_set(err, TB_INVALID, NULL, "equity samples not in (account, ts) order");
    bus_pgarray col[S_NCOLS];
    for (int k = 0; k < S_NCOLS; k++) bus_pgarray_init(&col[k]);
    sample_columns(s, n, col);
    const char *params[S_NCOLS];
    tb_status st = bus_pgarray_finish_all(col, S_NCOLS, params, err);
    if (st == TB_OK) st = write_samples(c, params, written, err);
    bus_pgarray_close_all(col, S_NCOLS);
    return st;
}

tb_status an_store_account_exists(PGconn *c, const char *account, bool *exists, tb_error *err) {
    const char *params[] = {account};
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(c, "SELECT 1 FROM accounts WHERE id = $1", 1, params, &r, err);
    if (s != TB_OK) return s;
    *exists = PQntuples(r) == 1;
    PQclear(r);
    return TB_OK;
}

typedef struct equity_scan {
    an_series *s;
    tb_fixed *first, *last;
    bool any;
} equity_scan;

static tb_status equity_row(const PGresult *r, void *arg, tb_error *err) {
    equity_scan *e = arg;
    int64_t us = 0; /* set by the parser on success */
    tb_fixed eq;
    tb_status s;
    if ((s = bus_pg_col_i64(r, 0, 0, &us, err)) != TB_OK ||
        (s = bus_pg_col_fixed(r, 0, 1, &eq, err)) != TB_OK)
        return s;
    if (an_series_add(e->s, us * NS_PER_US, tb_fixed_to_double(eq)) != TB_OK)
        return tb_error_set(err, TB_ERR, "ts", "equity points out of time order");
    if (!e->any) *e->first = eq;
    *e->last = eq;
    e->any = true;
    return TB_OK;
}

tb_status an_store_scan_equity(PGconn *c, const char *account, int64_t from, int64_t to,
                               an_series *s, tb_fixed *first, tb_fixed *last, tb_error *err) {
    char from_s[24], to_s[24];
    snprintf(from_s, sizeof from_s, "%" PRId64, ceil_us(from));
    snprintf(to_s, sizeof to_s, "%" PRId64, ceil_us(to));
    const char *params[] = {account, from ? from_s : NULL, to ? to_s : NULL};
    equity_scan e = {.s = s, .first = first, .last = last};
    return stream(
        c,
        "SELECT (extract(epoch FROM ts) * 1000000)::bigint, equity FROM equity"
        " WHERE account = $1"
        " AND ($2::bigint IS NULL OR ts >= 'epoch'::timestamptz + $2 * interval '1 microsecond')"
        " AND ($3::bigint IS NULL OR ts < 'epoch'::timestamptz + $3 * interval '1 microsecond')"
        " ORDER BY ts",
        3, params, equity_row, &e, err);
}

typedef struct fill_scan {
    an_fill_fn fn;
    void *arg;
} fill_scan;

static tb_status fill_row(const PGresult *r, void *arg, tb_error *err) {
    const fill_scan *scan = arg;
    an_fill f = {0};
    snprintf(f.fill_id, sizeof f.fill_id, "%s", PQgetvalue(r, 0, 0));
    snprintf(f.symbol, sizeof f.symbol, "%s", PQgetvalue(r, 0, 1));
    snprintf(f.strategy_id, sizeof f.strategy_id, "%s", PQgetvalue(r, 0, 2));
    f.side = strcmp(PQgetvalue(r, 0, 3), "buy") == 0 ? 1 : -1;
    tb_status s;
    if ((s = bus_pg_col_fixed(r, 0, 4, &f.qty, err)) != TB_OK ||
        (s = bus_pg_col_fixed(r, 0, 5, &f.price, err)) != TB_OK ||
        (s = bus_pg_col_fixed(r, 0, 6, &f.fee, err)) != TB_OK ||
        (s = bus_pg_col_i64(r, 0, 7, &f.ts, err)) != TB_OK)
        return s;
    return scan->fn(scan->arg, &f, err);
}

tb_status an_store_scan_fills(PGconn *c, const char *account, const char *symbol, int64_t to,
                              an_fill_fn fn, void *arg, tb_error *err) {
    char to_s[24];
    snprintf(to_s, sizeof to_s, "%" PRId64, to);
    const char *params[] = {account, to ? to_s : NULL, symbol && symbol[0] ? symbol : NULL};
    fill_scan scan = {fn, arg};
    /* COLLATE "C" orders byte-wise, the order an_trades_add checks. */
    return stream(c,
                  "SELECT fill_id, symbol, coalesce(strategy_id, ''), side, qty, price, fee, ts_ns"
                  " FROM analytics_fills WHERE account = $1"
                  " AND ($2::bigint IS NULL OR ts_ns < $2)"
                  " AND ($3::text IS NULL OR symbol = $3)"
                  " ORDER BY symbol COLLATE \"C\", ts_ns, fill_id COLLATE \"C\"",
                  3, params, fill_row, &scan, err);
}

/* The highest equity of account before ts_us (*peak untouched if none). */
static tb_status peak_before(PGconn *c, const char *account, int64_t ts_us, double *peak,
                             tb_error *err) {
    char us[24];
    snprintf(us, sizeof us, "%" PRId64, ts_us);
    const char *params[] = {account, us};
    PGresult *r = NULL;
    tb_status s =
        bus_pg_exec(c,
                    "SELECT max(equity) FROM equity WHERE account = $1"
                    " AND ts < 'epoch'::timestamptz + $2::bigint * interval '1 microsecond'",
                    2, params, &r, err);
    if (s != TB_OK) return s;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
        tb_fixed v;
        s = bus_pg_col_fixed(r, 0, 0, &v, err);
        if (s == TB_OK) *peak = tb_fixed_to_double(v);
    }
    PQclear(r);
    return s;
}

tb_status an_store_list_equity(PGconn *c, const char *account, int64_t from, int64_t to,
                               size_t limit, tb_equity_point **out, size_t *n, char next[TB_ID_CAP],
                               tb_error *err) {
    *out = NULL;
    *n = 0;
    next[0] = '\0';
    char from_s[24], to_s[24], limit_s[24];
    snprintf(from_s, sizeof from_s, "%" PRId64, ceil_us(from));
    snprintf(to_s, sizeof to_s, "%" PRId64, ceil_us(to));
    bool ascending = from != 0;
    snprintf(limit_s, sizeof limit_s, "%zu", ascending ? limit + 1 : limit);
    const char *params[] = {account, from ? from_s : NULL, to ? to_s : NULL, limit_s};
    const char *sql =
        ascending ? "SELECT (extract(epoch FROM ts) * 1000000)::bigint, equity, cash FROM equity"
                    " WHERE account = $1"
                    " AND ($2::bigint IS NULL OR ts >= 'epoch'::timestamptz + $2 * interval '1 "
                    "microsecond')"
                    " AND ($3::bigint IS NULL OR ts < 'epoch'::timestamptz + $3 * interval '1 "
                    "microsecond')"
                    " ORDER BY ts ASC LIMIT $4::bigint"
                  : "SELECT (extract(epoch FROM ts) * 1000000)::bigint, equity, cash FROM equity"
                    " WHERE account = $1"
                    " AND ($2::bigint IS NULL OR ts >= 'epoch'::timestamptz + $2 * interval '1 "
                    "microsecond')"
                    " AND ($3::bigint IS NULL OR ts < 'epoch'::timestamptz + $3 * interval '1 "
                    "microsecond')"
                    " ORDER BY ts DESC LIMIT $4::bigint";
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(c, sql, 4, params, &r, err);
    if (s != TB_OK) return s;
    size_t rows = (size_t)PQntuples(r);
    size_t keep = rows > limit ? limit : rows;
    tb_equity_point *pts = keep ? calloc(keep, sizeof *pts) : NULL;
    if (keep && pts == NULL) {
        PQclear(r);
        return tb_error_set(err, TB_NOMEM, NULL, "out of memory for %zu points", keep);
    }
    for (size_t i = 0; i < keep && s == TB_OK; i++) {
        /* Newest-first rows go back to front: replies are oldest first. */
        tb_equity_point *p = &pts[ascending ? i : keep - 1 - i];
        int64_t us = 0; /* set by the parser on success */
        snprintf(p->account, sizeof p->account, "%s", account);
        if ((s = bus_pg_col_i64(r, (int)i, 0, &us, err)) != TB_OK) break;
        p->ts = us * NS_PER_US;
        if ((s = bus_pg_col_fixed(r, (int)i, 1, &p->equity, err)) != TB_OK ||
            (s = bus_pg_col_fixed(r, (int)i, 2, &p->cash, err)) != TB_OK)
            break;
    }
    if (s == TB_OK && keep > 0) {
        double peak = NAN;
        s = peak_before(c, account, pts[0].ts / NS_PER_US, &peak, err);
        if (s == TB_OK) an_report_drawdowns(pts, keep, peak);
    }
    if (s == TB_OK && ascending && rows > limit) {
        int64_t us = 0; /* set by the parser on success */
        s = bus_pg_col_i64(r, (int)limit, 0, &us, err);
        if (s == TB_OK) snprintf(next, TB_ID_CAP, "%" PRId64, us * NS_PER_US);
    }
    PQclear(r);
    if (s != TB_OK) {
        free(pts);
        return s;
    }
    *out = pts;
    *n = keep;
    return TB_OK;
}
