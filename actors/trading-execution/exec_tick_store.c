/* trading-execution's tick journal and symbol state, a batch at a time
 * (exec_store.h, "ticks in batches"). Rows travel as PostgreSQL array
 * literals unnested server-side, so a batch costs one statement whatever
 * its size. */
#include <stdlib.h>
#include <string.h>

#include "exec_store.h"
#include "store.h"

/* ---- array literals ---- */

typedef struct arr {
    char *s;
    size_t len, cap;
    bool nomem;
    size_t n; /* elements */
} arr;

static void arr_put(arr *a, const char *p, size_t n) {
    if (a->nomem) return;
    if (a->len + n + 1 > a->cap) {
        size_t cap = a->cap ? a->cap : 256;
        while (a->len + n + 1 > cap) cap *= 2;
        char *s = realloc(a->s, cap);
        if (s == NULL) {
            a->nomem = true;
            return;
        }
        a->s = s;
        a->cap = cap;
    }
    memcpy(a->s + a->len, p, n);
    a->len += n;
    a->s[a->len] = '\0';
}

/* Appends one element, double-quoted (sources and trace ids are any
 * printable ASCII, so quotes and backslashes are escaped). */
static void arr_add(arr *a, const char *v) {
    arr_put(a, a->n++ ? ",\"" : "{\"", 2);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\') arr_put(a, "\\", 1);
        arr_put(a, p, 1);
    }
    arr_put(a, "\"", 1);
}

static void arr_add_u64(arr *a, uint64_t v) {
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    arr_add(a, b);
}

static void arr_add_i64(arr *a, int64_t v) {
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)v);
    arr_add(a, b);
}

static void arr_add_fixed(arr *a, tb_fixed v) {
    char b[TB_FIXED_STRLEN];
    tb_fixed_format(v, b);
    arr_add(a, b);
}

/* The finished literal ("{}" when empty); NULL when memory ran out. */
static const char *arr_done(arr *a) {
    if (a->n == 0) arr_put(a, "{", 1);
    arr_put(a, "}", 1);
    return a->nomem ? NULL : a->s;
}

static tb_status arrs_done(arr *v, size_t n, const char **out, tb_error *err) {
    for (size_t i = 0; i < n; i++)
        if ((out[i] = arr_done(&v[i])) == NULL)
            return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    return TB_OK;
}

static void arrs_free(arr *v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i].s);
}

static tb_status symbols_out(PGresult *r, int col, exec_symbol **out, size_t *n, tb_error *err) {
    int nt = PQntuples(r);
    exec_symbol *v = calloc(nt > 0 ? (size_t)nt : 1, sizeof *v);
    if (v == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    for (int i = 0; i < nt; i++) bus_pg_col_str(r, i, col, v[i], sizeof v[i]);
    *out = v;
    *n = (size_t)nt;
    return TB_OK;
}

/* ---- recording ---- */

tb_status exec_store_record_ticks(PGconn *c, const tb_tick *const *ticks, const char *const *traces,
                                  size_t n, exec_symbol **open, size_t *nopen, tb_error *err) {
    enum { NA = 11 };
    arr a[NA] = {{0}};
    for (size_t i = 0; i < n; i++) {
        const tb_tick *t = ticks[i];
        arr_add(&a[0], t->symbol);
        arr_add(&a[1], t->source);
        arr_add_u64(&a[2], t->seq);
        arr_add_fixed(&a[3], t->bid);
        arr_add_fixed(&a[4], t->ask);
        arr_add_fixed(&a[5], t->last);
        arr_add_fixed(&a[6], t->bid_size);
        arr_add_fixed(&a[7], t->ask_size);
        arr_add_fixed(&a[8], t->last_size);
        arr_add_i64(&a[9], t->ts);
        arr_add(&a[10], traces[i] ? traces[i] : "");
    }
    const char *p[NA];
    PGresult *r = NULL;
    tb_status s = arrs_done(a, NA, p, err);
    /* One statement, its own transaction, committed without waiting for the
     * WAL flush: the journal is a reorder buffer for at-most-once ticks, and
     * a tick lost in a database crash is a gap like a tick lost on the wire.
     * Ticks of symbols without open orders are not recorded at all. A tick
     * recorded before (a redelivery) is a no-op. */
    if (s == TB_OK)
        s = bus_pg_exec(
            c,
            "WITH sc AS (SELECT set_config('synchronous_commit', 'off', true)), "
            "t AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::numeric[], "
            "  $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[], $9::numeric[], "
            "  $10::bigint[], $11::text[]) AS t(symbol, source, seq, bid, ask, last, bid_size, "
            "  ask_size, last_size, ts_ns, trace_id)), "
            "open AS (SELECT s.symbol FROM (SELECT DISTINCT symbol FROM t) s WHERE EXISTS "
            "  (SELECT 1 FROM orders o WHERE o.symbol = s.symbol AND o.status IN "
            "  ('accepted', 'partially_filled'))), "
            "st AS (INSERT INTO exec_symbol_state (symbol, last_seq) SELECT symbol, 0 FROM open "
            "  ON CONFLICT (symbol) DO NOTHING), "
            "j AS (INSERT INTO exec_tick_journal (symbol, source, seq, bid, ask, last, bid_size, "
            "  ask_size, last_size, ts_ns, trace_id) SELECT t.symbol, t.source, t.seq, t.bid, "
            "  t.ask, t.last, t.bid_size, t.ask_size, t.last_size, t.ts_ns, "
            "  NULLIF(t.trace_id, '') FROM t JOIN open USING (symbol) ON CONFLICT DO NOTHING) "
            "SELECT open.symbol FROM open, sc ORDER BY open.symbol COLLATE \"C\"",
            NA, p, &r, err);
    if (s == TB_OK) s = symbols_out(r, 0, open, nopen, err);
    PQclear(r);
    arrs_free(a, NA);
    return s;
}

/* ---- locking and loading ---- */

void exec_pending_set_free(exec_pending_set *ps) {
    free(ps->syms);
    free(ps->ticks);
    *ps = (exec_pending_set){0};
}

static tb_status symbols_literal(const exec_symbol *syms, size_t n, arr *a, const char **out,
                                 tb_error *err) {
    for (size_t i = 0; i < n; i++) arr_add(a, syms[i]);
    return arrs_done(a, 1, out, err);
}

tb_status exec_store_lock_pending(PGconn *c, const exec_symbol *syms, size_t nsyms, int64_t limit,
                                  exec_pending_set *out, tb_error *err) {
    *out = (exec_pending_set){0};
    arr a = {0};
    const char *p[2];
    char lim[24];
    snprintf(lim, sizeof lim, "%lld", (long long)limit);
    p[1] = lim;
    PGresult *r = NULL;
    tb_status s = symbols_literal(syms, nsyms, &a, &p[0], err);
    /* SKIP LOCKED: a symbol another worker holds is left to it; it looks
     * again after its commit and so also matches what was recorded here. */
    if (s == TB_OK)
        s = bus_pg_exec(
            c,
            "WITH l AS (SELECT symbol, last_seq, source FROM exec_symbol_state WHERE symbol = "
            "  ANY ($1::text[]) ORDER BY symbol FOR UPDATE SKIP LOCKED) "
            "SELECT l.symbol, l.last_seq, l.source, j.seq IS NOT NULL, j.source, j.seq, j.bid, "
            "  j.ask, j.last, j.bid_size, j.ask_size, j.last_size, j.ts_ns, "
            "  COALESCE(j.trace_id, ''), (extract(epoch FROM clock_timestamp() - j.received_at) "
            "  * 1000)::bigint "
            "FROM l LEFT JOIN LATERAL (SELECT * FROM exec_tick_journal x WHERE x.symbol = "
            "  l.symbol ORDER BY x.seq, x.source LIMIT $2::bigint) j ON true "
            "ORDER BY l.symbol COLLATE \"C\", j.seq, j.source",
            2, p, &r, err);
    free(a.s);
    if (s != TB_OK) return s;
    int nt = PQntuples(r);
    out->syms = calloc(nt > 0 ? (size_t)nt : 1, sizeof *out->syms);
    out->ticks = calloc(nt > 0 ? (size_t)nt : 1, sizeof *out->ticks);
    if (out->syms == NULL || out->ticks == NULL)
        s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    for (int i = 0; s == TB_OK && i < nt; i++) {
        char sym[TB_TOKEN_CAP];
        bus_pg_col_str(r, i, 0, sym, sizeof sym);
        exec_pending_sym *g = out->nsyms ? &out->syms[out->nsyms - 1] : NULL;
        if (g == NULL || strcmp(g->symbol, sym) != 0) {
            g = &out->syms[out->nsyms++];
            snprintf(g->symbol, sizeof g->symbol, "%s", sym);
            g->last_seq = strtoull(PQgetvalue(r, i, 1), NULL, 10);
            bus_pg_col_str(r, i, 2, g->last_source, sizeof g->last_source);
            g->first = out->nticks;
        }
        if (PQgetvalue(r, i, 3)[0] != 't') continue; /* locked, nothing recorded */
        exec_pending *pd = &out->ticks[out->nticks++];
        tb_tick *t = &pd->tick;
        snprintf(t->symbol, sizeof t->symbol, "%s", sym);
        bus_pg_col_str(r, i, 4, t->source, sizeof t->source);
        t->seq = strtoull(PQgetvalue(r, i, 5), NULL, 10);
        tb_fixed *f[6] = {&t->bid, &t->ask, &t->last, &t->bid_size, &t->ask_size, &t->last_size};
        for (int k = 0; s == TB_OK && k < 6; k++) s = bus_pg_col_fixed(r, i, 6 + k, f[k], err);
        if (s == TB_OK) s = bus_pg_col_i64(r, i, 12, &t->ts, err);
        bus_pg_col_str(r, i, 13, pd->trace, sizeof pd->trace);
        if (s == TB_OK) s = bus_pg_col_i64(r, i, 14, &pd->age_ms, err);
        g->n++;
    }
    PQclear(r);
    if (s != TB_OK) exec_pending_set_free(out);
    return s;
}

/* ---- settling ---- */

tb_status exec_store_settle_ticks(PGconn *c, const exec_settle *st, tb_error *err) {
    enum { NA = 7 };
    arr a[NA] = {{0}};
    for (size_t i = 0; i < st->ndone; i++) {
        arr_add(&a[0], st->done[i]->symbol);
        arr_add(&a[1], st->done[i]->source);
        arr_add_u64(&a[2], st->done[i]->seq);
    }
    for (size_t i = 0; i < st->nstates; i++) {
        const exec_symbol_pos *pos = &st->states[i];
        char ts[40];
        tb_ts_format(pos->ts_ns, ts);
        arr_add(&a[3], pos->symbol);
        arr_add_u64(&a[4], pos->seq);
        arr_add(&a[5], pos->source);
        arr_add(&a[6], ts);
    }
    const char *p[NA];
    tb_status s = arrs_done(a, NA, p, err);
    if (s == TB_OK)
        s = bus_pg_exec(
            c,
            "WITH d AS (DELETE FROM exec_tick_journal j USING unnest($1::text[], $2::text[], "
            "  $3::bigint[]) AS d(symbol, source, seq) WHERE j.symbol = d.symbol AND "
            "  j.source = d.source AND j.seq = d.seq) "
            "UPDATE exec_symbol_state s SET last_seq = u.seq, source = u.source, last_ts = u.ts, "
            "  updated_at = now() FROM unnest($4::text[], $5::bigint[], $6::text[], "
            "  $7::timestamptz[]) AS u(symbol, seq, source, ts) WHERE s.symbol = u.symbol",
            NA, p, NULL, err);
    arrs_free(a, NA);
    return s;
}

tb_status exec_store_pending_symbols(PGconn *c, int64_t limit, exec_symbol **out, size_t *n,
                                     tb_error *err) {
    char lim[24];
    snprintf(lim, sizeof lim, "%lld", (long long)limit);
    const char *p[1] = {lim};
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(c, "SELECT DISTINCT symbol FROM exec_tick_journal LIMIT $1::bigint",
                              1, p, &r, err);
    if (s == TB_OK) s = symbols_out(r, 0, out, n, err);
    PQclear(r);
    return s;
}
