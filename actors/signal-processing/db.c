/* PostgreSQL access of signal-processing: the strategies table (the source of
 * truth for configuration) and the signals table (the record of what fired).
 * Money columns travel as decimal text (tb_fixed_format / tb_fixed_parse),
 * timestamps as integer microseconds since the epoch. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgarray.h"
#include "sp.h"

#define STRATEGY_COLS                                                                              \
    "strategy_id, kind, symbol, account, params::text, enabled, sizing, "                          \
    "coalesce(qty, target)::text, (extract(epoch from created_at) * 1000000)::bigint, "            \
    "(extract(epoch from updated_at) * 1000000)::bigint"

#define SIGNAL_COLS                                                                                \
    "signal_id, strategy_id, account, symbol, side, sizing, qty::text, "                           \
    "target::text, ref_price::text, tick_seq, coalesce(reason, ''), "                              \
    "(extract(epoch from ts) * 1000000)::bigint, fill_price::text, "                               \
    "coalesce((extract(epoch from fill_ts) * 1000000)::bigint, 0), coalesce(fill_seq, 0)"

/* to_timestamp(0) + microseconds: exact to the microsecond, which is
 * PostgreSQL's resolution, for any int64 nanosecond time. */
#define TS_FROM_NS(p) "to_timestamp(0) + (" p "::bigint / 1000) * interval '1 microsecond'"

/* Row i of a STRATEGY_COLS result. *params_ok tells whether the stored
 * parameters still validate; row.params is then their canonical form, else
 * the stored text as is. */
static tb_status row_to_cfg(const PGresult *r, int i, sp_strategy_cfg *out, bool *params_ok,
                            tb_error *err) {
    memset(out, 0, sizeof *out);
    tb_strategy *s = &out->row;
    bus_pg_col_str(r, i, 0, s->strategy_id, sizeof s->strategy_id);
    bus_pg_col_str(r, i, 1, s->kind, sizeof s->kind);
    bus_pg_col_str(r, i, 2, s->symbol, sizeof s->symbol);
    bus_pg_col_str(r, i, 3, s->account, sizeof s->account);
    bus_pg_col_str(r, i, 4, s->params, sizeof s->params);
    s->enabled = strcmp(PQgetvalue(r, i, 5), "t") == 0;
    bus_pg_col_str(r, i, 6, s->sizing, sizeof s->sizing);
    tb_status st = bus_pg_col_fixed(r, i, 7, &s->qty, err);
    if (st != TB_OK) return st;
    int64_t created = strtoll(PQgetvalue(r, i, 8), NULL, 10);
    int64_t updated = strtoll(PQgetvalue(r, i, 9), NULL, 10);
    s->created_at = created * 1000;
    s->updated_at = updated * 1000;
    out->version = updated;
    tb_error perr = {0};
    *params_ok = sp_params_parse(s->kind, s->params, &out->params, &perr) == TB_OK;
    if (*params_ok) sp_params_format(&out->params, s->params, sizeof s->params);
    return TB_OK;
}

tb_status sp_db_load_symbol(PGconn *pg, const char *symbol, sp_strategy_cfg **items, size_t *n,
                            tb_error *err) {
    const char *params[] = {symbol};
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(pg,
                              "SELECT " STRATEGY_COLS " FROM strategies "
                              "WHERE symbol = $1 AND enabled ORDER BY strategy_id",
                              1, params, &r, err);
    if (s != TB_OK) return s;
    int rows = PQntuples(r);
    sp_strategy_cfg *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
    if (rows && v == NULL) {
        PQclear(r);
        return tb_error_set(err, TB_NOMEM, NULL, NULL);
    }
    size_t k = 0;
    for (int i = 0; i < rows && s == TB_OK; i++) {
        bool ok = false;
        s = row_to_cfg(r, i, &v[k], &ok, err);
        if (s == TB_OK && ok)
            k++;
        else if (s == TB_OK)
            bus_log(BUS_LOG_WARN, "strategy %s has invalid stored parameters %s; skipped",
                    PQgetvalue(r, i, 0), PQgetvalue(r, i, 4));
    }
    PQclear(r);
    if (s != TB_OK) {
        free(v);
        return s;
    }
    *items = v;
    *n = k;
    return TB_OK;
}

/* Runs a statement returning STRATEGY_COLS and takes its first row. */
static tb_status one_strategy(PGconn *pg, const char *sql, int nparams, const char *const *params,
                              const char *id, sp_strategy_cfg *out, tb_error *err) {
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(pg, sql, nparams, params, &r, err);
    if (s != TB_OK) return s;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return tb_error_set(err, TB_NOT_FOUND, "id", "no strategy %s", id);
    }
    bool ok;
    s = row_to_cfg(r, 0, out, &ok, err);
    PQclear(r);
    return s;
}

tb_status sp_db_get(PGconn *pg, const char *id, sp_strategy_cfg *out, tb_error *err) {
    const char *params[] = {id};
    return one_strategy(pg, "SELECT " STRATEGY_COLS " FROM strategies WHERE strategy_id = $1", 1,
                        params, id, out, err);
}

tb_status sp_db_list(PGconn *pg, const tb_query *q, size_t limit, tb_strategy **items, size_t *n,
                     tb_error *err) {
    char lim[24];
    snprintf(lim, sizeof lim, "%zu", limit);
    const char *params[] = {q->account, q->symbol, q->accounts, q->cursor, lim};
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(pg,
                              "SELECT " STRATEGY_COLS " FROM strategies "
                              "WHERE ($1 = '' OR account = $1) AND ($2 = '' OR symbol = $2) "
                              "AND ($3 = '' OR account = ANY (string_to_array($3, ','))) "
                              "AND ($4 = '' OR strategy_id > $4) "
                              "ORDER BY strategy_id LIMIT $5::bigint",
                              5, params, &r, err);
    if (s != TB_OK) return s;
    int rows = PQntuples(r);
    tb_strategy *v = calloc(rows ? (size_t)rows : 1, sizeof *v);
    if (v == NULL) {
        PQclear(r);
        return tb_error_set(err, TB_NOMEM, NULL, NULL);
    }
    sp_strategy_cfg cfg;
    for (int i = 0; i < rows && s == TB_OK; i++) {
        bool ok;
        s = row_to_cfg(r, i, &cfg, &ok, err);
        v[i] = cfg.row;
    }
    PQclear(r);
    if (s != TB_OK) {
        free(v);
        return s;
    }
    *items = v;
    *n = (size_t)rows;
    return TB_OK;
}

/* Text parameters $2..$8 of an insert/update: kind, symbol, account,
 * params, enabled, sizing, qty. */
typedef struct strategy_params_text {
    char enabled[8], qty[TB_FIXED_STRLEN];
    const char *v[8];
} strategy_params_text;

static void params_text(const tb_strategy *in, strategy_params_text *t) {
    snprintf(t->enabled, sizeof t->enabled, "%s", in->enabled ? "true" : "false");
    tb_fixed_format(in->qty, t->qty);
    const char *v[8] = {in->strategy_id, in->kind,   in->symbol, in->account,
                        in->params,      t->enabled, in->sizing, t->qty};
    memcpy(t->v, v, sizeof v);
}

static tb_status check_account(PGconn *pg, const char *account, tb_error *err) {
    const char *params[] = {account};
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(pg, "SELECT 1 FROM accounts WHERE id = $1", 1, params, &r, err);
    if (s != TB_OK) return s;
    bool found = PQntuples(r) > 0;
    PQclear(r);
    return found ? TB_OK : tb_error_set(err, TB_INVALID, "account", "unknown account %s", account);
}

tb_status sp_db_insert(PGconn *pg, const tb_strategy *in, sp_strategy_cfg *out, tb_error *err) {
    tb_status s = check_account(pg, in->account, err);
    if (s != TB_OK) return s;
    strategy_params_text t;
    params_text(in, &t);
    s = one_strategy(pg,
                     "INSERT INTO strategies (strategy_id, kind, symbol, account, params, enabled, "
                     "sizing, qty, target) VALUES ($1, $2, $3, $4, $5::jsonb, $6::boolean, $7, "
                     "CASE WHEN $7 = 'fixed' THEN $8::numeric END, "
                     "CASE WHEN $7 = 'target' THEN $8::numeric END) "
                     "RETURNING " STRATEGY_COLS,
                     8, t.v, in->strategy_id, out, err);
    if (s == TB_CONFLICT)
        return tb_error_set(err, TB_CONFLICT, "strategy_id", "strategy %s already exists",
                            in->strategy_id);
    if (s == TB_INVALID && strstr(err->message, "foreign key"))
        return tb_error_set(err, TB_INVALID, "account", "unknown account %s", in->account);
    return s;
}

static void rollback(PGconn *pg) {
    tb_error ignored = {0};
    if (bus_pg_exec(pg, "ROLLBACK", 0, NULL, NULL, &ignored) != TB_OK)
        bus_log(BUS_LOG_WARN, "rollback failed: %s",
                ignored.message); /* the pool drops a broken link */
}

tb_status sp_db_update(PGconn *pg, const tb_strategy *in, sp_strategy_cfg *out,
                       char old_symbol[TB_TOKEN_CAP], tb_error *err) {
    tb_status s = bus_pg_exec(pg, "BEGIN", 0, NULL, NULL, err);
    if (s != TB_OK) return s;
    const char *id[] = {in->strategy_id};
    PGresult *r = NULL;
    s = bus_pg_exec(pg, "SELECT symbol, account FROM strategies WHERE strategy_id = $1 FOR UPDATE",
                    1, id, &r, err);
    /* A strategy keeps its account (move one by deleting and re-creating it).
     * The gateway checks that the caller may touch the body's account, so a
     * mismatch here is someone else's strategy: it does not exist for them. */
    if (s == TB_OK && (PQntuples(r) == 0 || strcmp(PQgetvalue(r, 0, 1), in->account) != 0))
        s = tb_error_set(err, TB_NOT_FOUND, "strategy_id", "no strategy %s for account %s",
                         in->strategy_id, in->account);
    if (s == TB_OK) bus_pg_col_str(r, 0, 0, old_symbol, TB_TOKEN_CAP);
    PQclear(r);
    if (s == TB_OK) s = check_account(pg, in->account, err);
    strategy_params_text t;
    params_text(in, &t);
    /* updated_at is the strategy's version (it stamps the indicator state):
     * make it strictly increase even for two updates within a microsecond. */
    if (s == TB_OK)
        s = one_strategy(pg,
                         "UPDATE strategies SET kind = $2, symbol = $3, account = $4, "
                         "params = $5::jsonb, enabled = $6::boolean, sizing = $7, "
                         "qty = CASE WHEN $7 = 'fixed' THEN $8::numeric END, "
                         "target = CASE WHEN $7 = 'target' THEN $8::numeric END, "
                         "updated_at = greatest(now(), updated_at + interval '1 microsecond') "
                         "WHERE strategy_id = $1 RETURNING " STRATEGY_COLS,
                         8, t.v, in->strategy_id, out, err);
    if (s == TB_OK) s = bus_pg_exec(pg, "COMMIT", 0, NULL, NULL, err);
    if (s != TB_OK) rollback(pg);
    return s;
}

tb_status sp_db_delete(PGconn *pg, const char *id, sp_strategy_cfg *out, tb_error *err) {
    const char *params[] = {id};
    return one_strategy(pg,
                        "DELETE FROM strategies WHERE strategy_id = $1 RETURNING " STRATEGY_COLS, 1,
                        params, id, out, err);
}

/* A batch's signals in one statement of constant text (columns as arrays,
 * unnested in the batch's order, which emit_seq keeps): PostgreSQL prepares
 * it once per connection. A VALUES list of one row per signal was a new
 * text for every batch size, parsed and planned each time. Empty strings
 * stand for NULL in the nullable columns. */
static const char SQL_INSERT_SIGNALS[] =
    "INSERT INTO signals (signal_id, strategy_id, account, symbol, side, sizing, qty, target,"
    " ref_price, tick_seq, reason, ts, fill_price, fill_ts, fill_seq)"
    " SELECT u.id, u.st, u.ac, u.sy, u.sd, u.sz, nullif(u.q, '')::numeric,"
    "        nullif(u.t, '')::numeric, u.p, u.seq, nullif(u.r, ''), " TS_FROM_NS(
        "u.ts") ","
                "        nullif(u.fp, '')::numeric, " TS_FROM_NS(
                    "nullif(u.fts, '')") ","
                                         "        nullif(u.fs, '')::bigint"
                                         "   FROM unnest($1::text[], $2::text[], $3::text[], "
                                         "$4::text[], $5::text[], $6::text[],"
                                         "               $7::text[], $8::text[], $9::numeric[], "
                                         "$10::bigint[], $11::text[],"
                                         "               $12::bigint[], $13::text[], $14::text[], "
                                         "$15::text[])"
                                         "        WITH ORDINALITY AS u(id, st, ac, sy, sd, sz, q, "
                                         "t, p, seq, r, ts, fp, fts, fs, n)"
                                         "  ORDER BY u.n"
                                         " ON CONFLICT (signal_id) DO NOTHING RETURNING signal_id";

enum { SIG_COLS = 15 };

/* Appends one signal's columns (SQL_INSERT_SIGNALS' parameters). */
static void signal_columns(const tb_signal *sig, bus_pgarray col[SIG_COLS]) {
    char num[TB_FIXED_STRLEN];
    bus_pgarray_str(&col[0], sig->signal_id);
    bus_pgarray_str(&col[1], sig->strategy_id);
    bus_pgarray_str(&col[2], sig->account);
    bus_pgarray_str(&col[3], sig->symbol);
    bus_pgarray_str(&col[4], sig->side);
    bus_pgarray_str(&col[5], sig->sizing);
    bool target = strcmp(sig->sizing, "target") == 0;
    num[0] = '\0';
    if (!target) tb_fixed_format(sig->qty, num);
    bus_pgarray_str(&col[6], num);
    num[0] = '\0';
    if (target) tb_fixed_format(sig->target, num);
    bus_pgarray_str(&col[7], num);
    bus_pgarray_fixed(&col[8], sig->ref_price);
    bus_pgarray_u64(&col[9], sig->tick_seq);
    bus_pgarray_str(&col[10], sig->reason);
    bus_pgarray_i64(&col[11], sig->ts);
    char fill_ts[24] = "", fill_seq[24] = "";
    num[0] = '\0';
    if (sig->fill_price > 0) { /* a signal of the next tick (0704) */
        tb_fixed_format(sig->fill_price, num);
        snprintf(fill_ts, sizeof fill_ts, "%" PRId64, sig->fill_ts);
        snprintf(fill_seq, sizeof fill_seq, "%" PRIu64, sig->fill_seq);
    }
    bus_pgarray_str(&col[12], num);
    bus_pgarray_str(&col[13], fill_ts);
    bus_pgarray_str(&col[14], fill_seq);
}

tb_status sp_db_insert_signals(PGconn *pg, const tb_signal *sigs, size_t n, bool *inserted,
                               tb_error *err) {
    if (n == 0) return TB_OK;
    bus_pgarray col[SIG_COLS];
    for (int k = 0; k < SIG_COLS; k++) bus_pgarray_init(&col[k]);
    for (size_t i = 0; i < n; i++) signal_columns(&sigs[i], col);
    const char *params[SIG_COLS];
    PGresult *r = NULL;
    tb_status s = bus_pgarray_finish_all(col, SIG_COLS, params, err);
    if (s == TB_OK) s = bus_pg_exec(pg, SQL_INSERT_SIGNALS, SIG_COLS, params, &r, err);
    bus_pgarray_close_all(col, SIG_COLS);
    if (s != TB_OK) return s;
    for (size_t i = 0; i < n; i++) inserted[i] = false;
    /* Signals are few per batch (a crossing, not every tick): a plain scan
     * matches the returned ids. */
    for (int row = 0; row < PQntuples(r); row++) {
        const char *id = PQgetvalue(r, row, 0);
        for (size_t i = 0; i < n; i++)
            if (!inserted[i] && strcmp(sigs[i].signal_id, id) == 0) {
                inserted[i] = true;
                break;
            }
    }
    PQclear(r);
    return TB_OK;
}

tb_status sp_db_list_signals(PGconn *pg, const tb_query *q, size_t limit, tb_signal **items,
                             size_t *n, tb_error *err) {
    char lim[24], from[24] = "", to[24] = "";
    snprintf(lim, sizeof lim, "%zu", limit);
    if (q->from) snprintf(from, sizeof from, "%" PRId64, q->from);
    if (q->to) snprintf(to, sizeof to, "%" PRId64, q->to);
    const char *params[] = {q->account, q->accounts, q->strategy_id, q->symbol, from, to, lim};
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(pg,
                              "SELECT " SIGNAL_COLS " FROM signals "
                              "WHERE ($1 = '' OR account = $1) "
                              "AND ($2 = '' OR account = ANY (string_to_array($2, ','))) "
                              "AND ($3 = '' OR strategy_id = $3) AND ($4 = '' OR symbol = $4) "
                              "AND ($5 = '' OR ts >= to_timestamp(0) + (nullif($5, '')::bigint / "
                              "1000) * interval '1 microsecond') "
                              "AND ($6 = '' OR ts < to_timestamp(0) + (nullif($6, '')::bigint / "
                              "1000) * interval '1 microsecond') "
                              "ORDER BY ts DESC, tick_seq DESC, signal_id DESC LIMIT $7::bigint",
                              7, params, &r, err);
    if (s != TB_OK) return s;
    int rows = PQntuples(r);
    tb_signal *v = calloc(rows ? (size_t)rows : 1, sizeof *v);
    if (v == NULL) {
        PQclear(r);
        return tb_error_set(err, TB_NOMEM, NULL, NULL);
    }
    for (int i = 0; i < rows && s == TB_OK; i++) {
        tb_signal *g = &v[i];
        bus_pg_col_str(r, i, 0, g->signal_id, sizeof g->signal_id);
        bus_pg_col_str(r, i, 1, g->strategy_id, sizeof g->strategy_id);
        bus_pg_col_str(r, i, 2, g->account, sizeof g->account);
        bus_pg_col_str(r, i, 3, g->symbol, sizeof g->symbol);
        bus_pg_col_str(r, i, 4, g->side, sizeof g->side);
        bus_pg_col_str(r, i, 5, g->sizing, sizeof g->sizing);
        s = bus_pg_col_fixed(r, i, 6, &g->qty, err);
        if (s == TB_OK) s = bus_pg_col_fixed(r, i, 7, &g->target, err);
        if (s == TB_OK) s = bus_pg_col_fixed(r, i, 8, &g->ref_price, err);
        g->tick_seq = strtoull(PQgetvalue(r, i, 9), NULL, 10);
        bus_pg_col_str(r, i, 10, g->reason, sizeof g->reason);
        g->ts = strtoll(PQgetvalue(r, i, 11), NULL, 10) * 1000;
        if (s == TB_OK && !PQgetisnull(r, i, 12))
            s = bus_pg_col_fixed(r, i, 12, &g->fill_price, err);
        g->fill_ts = strtoll(PQgetvalue(r, i, 13), NULL, 10) * 1000;
        g->fill_seq = strtoull(PQgetvalue(r, i, 14), NULL, 10);
    }
    PQclear(r);
    if (s != TB_OK) {
        free(v);
        return s;
    }
    *items = v;
    *n = (size_t)rows;
    return TB_OK;
}
