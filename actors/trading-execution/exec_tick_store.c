/* trading-execution's tick journal and symbol state, a batch at a time
 * (exec_store.h, "ticks in batches"). Rows travel as PostgreSQL array
 * literals unnested server-side, so a batch costs one statement whatever
 * its size. */
#include <stdlib.h>
#include <string.h>

#include "exec_store.h"
#include "pgarray.h"
#include "store.h"

/* ---- array literals ---- */

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

/* The columns of SQL_QUOTES (last quotes, one row per symbol) and
 * SQL_JOURNAL (every tick of the symbols with open orders). */
enum { TICK_COLS = 11 };

static void tick_columns(bus_pgarray a[TICK_COLS], const tb_tick *t, const char *trace) {
    bus_pgarray_str(&a[0], t->symbol);
    bus_pgarray_str(&a[1], t->source);
    bus_pgarray_u64(&a[2], t->seq);
    bus_pgarray_fixed(&a[3], t->bid);
    bus_pgarray_fixed(&a[4], t->ask);
    bus_pgarray_fixed(&a[5], t->last);
    bus_pgarray_fixed(&a[6], t->bid_size);
    bus_pgarray_fixed(&a[7], t->ask_size);
    bus_pgarray_fixed(&a[8], t->last_size);
    bus_pgarray_i64(&a[9], t->ts);
    bus_pgarray_str(&a[10], trace ? trace : "");
}

#define TICK_UNNEST                                                                                \
    "unnest($1::text[], $2::text[], $3::bigint[], $4::numeric[], $5::numeric[], $6::numeric[], "   \
    "$7::numeric[], $8::numeric[], $9::numeric[], $10::bigint[], $11::text[]) AS t(symbol, "       \
    "source, seq, bid, ask, last, bid_size, ask_size, last_size, ts_ns, trace_id)"
#define OPEN_SYMBOLS                                                                               \
    "open AS (SELECT s.symbol FROM (SELECT DISTINCT symbol FROM t) s WHERE EXISTS "                \
    "(SELECT 1 FROM orders o WHERE o.symbol = s.symbol AND o.status IN "                           \
    "('accepted', 'partially_filled')))"

/* The newest tick of every symbol of the batch becomes its last quote
 * (exec_last_quote), which prices orders on arrival; symbols in a fixed
 * order, so two workers' batches never wait on each other in a cycle. The
 * symbols with open orders come back, and get their exec_symbol_state row.
 * Its own transaction, committed without waiting for the WAL flush: the
 * journal is a reorder buffer for at-most-once ticks, and a tick lost in a
 * database crash is a gap like a tick lost on the wire. (sc is read by lq,
 * which, as a data-modifying CTE, always runs to completion: read by the
 * final SELECT instead, it was skipped whenever no symbol had open orders,
 * and the commit waited.) */
static const char SQL_QUOTES[] =
    "WITH sc AS (SELECT set_config('synchronous_commit', 'off', true)), "
    "t AS (SELECT * FROM " TICK_UNNEST "), " OPEN_SYMBOLS ", "
    "st AS (INSERT INTO exec_symbol_state (symbol, last_seq) SELECT symbol, 0 FROM open "
    "  ON CONFLICT (symbol) DO NOTHING), "
    "lq AS (INSERT INTO exec_last_quote AS q (symbol, source, seq, bid, ask, last, "
    "  bid_size, ask_size, last_size, ts_ns) SELECT symbol, source, seq, bid, ask, last, "
    "  bid_size, ask_size, last_size, ts_ns FROM t, sc ORDER BY symbol "
    "  ON CONFLICT (symbol) DO UPDATE SET source = EXCLUDED.source, seq = EXCLUDED.seq, "
    "  bid = EXCLUDED.bid, ask = EXCLUDED.ask, last = EXCLUDED.last, bid_size = "
    "  EXCLUDED.bid_size, ask_size = EXCLUDED.ask_size, last_size = EXCLUDED.last_size, "
    "  ts_ns = EXCLUDED.ts_ns, updated_at = now() WHERE q.source <> EXCLUDED.source OR "
    "  EXCLUDED.seq > q.seq OR q.seq - EXCLUDED.seq >= $12::bigint) "
    "SELECT open.symbol FROM open ORDER BY open.symbol COLLATE \"C\"";

/* The ticks of the symbols with open orders, as they are when it runs (an
 * order that opened since SQL_QUOTES looked would have been a moment
 * late for this batch anyway). A tick recorded before (a redelivery) is a
 * no-op. Committed like SQL_QUOTES. */
static const char SQL_JOURNAL[] =
    "WITH sc AS (SELECT set_config('synchronous_commit', 'off', true)), "
    "t AS (SELECT * FROM " TICK_UNNEST "), " OPEN_SYMBOLS ", "
    "j AS (INSERT INTO exec_tick_journal (symbol, source, seq, bid, ask, last, bid_size, "
    "  ask_size, last_size, ts_ns, trace_id) SELECT t.symbol, t.source, t.seq, t.bid, "
    "  t.ask, t.last, t.bid_size, t.ask_size, t.last_size, t.ts_ns, "
    "  NULLIF(t.trace_id, '') FROM t JOIN open USING (symbol), sc ON CONFLICT DO NOTHING "
    "  RETURNING 1) "
    "SELECT count(*) FROM j";

static int tick_symbol_seq_cmp(const void *x, const void *y) {
    const tb_tick *a = *(const tb_tick *const *)x, *b = *(const tb_tick *const *)y;
    int c = strcmp(a->symbol, b->symbol);
    if (c != 0) return c;
    return (a->seq < b->seq) - (a->seq > b->seq); /* newest first */
}

static bool in_symbols(const exec_symbol *syms, size_t n, const char *symbol) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(syms[i], symbol) == 0) return true;
    return false;
}

/* Runs sql over ticks[0..n) as array columns: every tick when syms is
 * NULL, else those of the symbols syms[0..nsyms). reset_gap, when not NULL,
 * is the twelfth parameter. */
static tb_status run_ticks(PGconn *c, const char *sql, const tb_tick *const *ticks,
                           const char *const *traces, size_t n, const exec_symbol *syms,
                           size_t nsyms, const char *reset_gap, PGresult **r, tb_error *err) {
    bus_pgarray a[TICK_COLS] = {{0}};
    for (size_t i = 0; i < n; i++)
        if (syms == NULL || in_symbols(syms, nsyms, ticks[i]->symbol))
            tick_columns(a, ticks[i], traces ? traces[i] : NULL);
    const char *p[TICK_COLS + 1];
    p[TICK_COLS] = reset_gap;
    tb_status s = bus_pgarray_finish_all(a, TICK_COLS, p, err);
    if (s == TB_OK) s = bus_pg_exec(c, sql, reset_gap ? TICK_COLS + 1 : TICK_COLS, p, r, err);
    bus_pgarray_close_all(a, TICK_COLS);
    return s;
}

tb_status exec_store_record_quotes(PGconn *c, const tb_tick *const *ticks, size_t n,
                                   uint64_t reset_gap, exec_symbol **open, size_t *nopen,
                                   tb_error *err) {
    *open = NULL;
    *nopen = 0;
    /* The newest tick of each symbol: the batch's other ticks matter only
     * to the symbols with open orders, usually none, and sending them all
     * cost PostgreSQL the parsing of eleven arrays of the whole batch. */
    const tb_tick **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (sorted == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    memcpy(sorted, ticks, n * sizeof *sorted);
    if (n > 1) qsort(sorted, n, sizeof *sorted, tick_symbol_seq_cmp);
    size_t nnewest = 0;
    for (size_t i = 0; i < n; i++)
        if (nnewest == 0 || strcmp(sorted[nnewest - 1]->symbol, sorted[i]->symbol) != 0)
            sorted[nnewest++] = sorted[i];
    char gap[24];
    snprintf(gap, sizeof gap, "%llu", (unsigned long long)reset_gap);
    PGresult *r = NULL;
    tb_status s = run_ticks(c, SQL_QUOTES, sorted, NULL, nnewest, NULL, 0, gap, &r, err);
    free(sorted);
    if (s == TB_OK) s = symbols_out(r, 0, open, nopen, err);
    PQclear(r);
    return s;
}

tb_status exec_store_journal_ticks(PGconn *c, const tb_tick *const *ticks,
                                   const char *const *traces, size_t n, const exec_symbol *open,
                                   size_t nopen, tb_error *err) {
    if (nopen == 0) return TB_OK;
    PGresult *r = NULL;
    tb_status s = run_ticks(c, SQL_JOURNAL, ticks, traces, n, open, nopen, NULL, &r, err);
    PQclear(r);
    return s;
}

/* ---- locking and loading ---- */

void exec_pending_set_free(exec_pending_set *ps) {
    free(ps->syms);
    free(ps->ticks);
    *ps = (exec_pending_set){0};
}

static tb_status symbols_literal(const exec_symbol *syms, size_t n, bus_pgarray *a,
                                 const char **out, tb_error *err) {
    for (size_t i = 0; i < n; i++) bus_pgarray_str(a, syms[i]);
    return bus_pgarray_finish_all(a, 1, out, err);
}

tb_status exec_store_lock_pending(PGconn *c, const exec_symbol *syms, size_t nsyms, int64_t limit,
                                  exec_pending_set *out, tb_error *err) {
    *out = (exec_pending_set){0};
    bus_pgarray a = {0};
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
    bus_pgarray_close(&a);
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
    bus_pgarray a[NA] = {{0}};
    for (size_t i = 0; i < st->ndone; i++) {
        bus_pgarray_str(&a[0], st->done[i]->symbol);
        bus_pgarray_str(&a[1], st->done[i]->source);
        bus_pgarray_u64(&a[2], st->done[i]->seq);
    }
    for (size_t i = 0; i < st->nstates; i++) {
        const exec_symbol_pos *pos = &st->states[i];
        char ts[40];
        tb_ts_format(pos->ts_ns, ts);
        bus_pgarray_str(&a[3], pos->symbol);
        bus_pgarray_u64(&a[4], pos->seq);
        bus_pgarray_str(&a[5], pos->source);
        bus_pgarray_str(&a[6], ts);
    }
    const char *p[NA];
    tb_status s = bus_pgarray_finish_all(a, NA, p, err);
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
    bus_pgarray_close_all(a, NA);
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
