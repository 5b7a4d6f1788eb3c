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

tb_status exec_store_record_ticks(PGconn *c, const tb_tick *const *ticks, const char *const *traces,
                                  size_t n, uint64_t reset_gap, exec_symbol **open, size_t *nopen,
                                  tb_error *err) {
    enum { NA = 11 };
    bus_pgarray a[NA] = {{0}};
    for (size_t i = 0; i < n; i++) {
        const tb_tick *t = ticks[i];
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
        bus_pgarray_str(&a[10], traces[i] ? traces[i] : "");
    }
    const char *p[NA + 1];
    char gap[24];
    snprintf(gap, sizeof gap, "%llu", (unsigned long long)reset_gap);
    p[NA] = gap;
    PGresult *r = NULL;
    tb_status s = bus_pgarray_finish_all(a, NA, p, err);
    /* One statement, its own transaction, committed without waiting for the
     * WAL flush: the journal is a reorder buffer for at-most-once ticks, and
     * a tick lost in a database crash is a gap like a tick lost on the wire.
     * (sc is read by lq, which, as a data-modifying CTE, always runs to
     * completion over every tick: read by the final SELECT instead, it was
     * skipped whenever no symbol had open orders, and the commit waited.)
     * Ticks of symbols without open orders are not recorded at all. A tick
     * recorded before (a redelivery) is a no-op. The newest tick of every
     * symbol of the batch becomes its last quote (exec_last_quote), which
     * prices orders on arrival; symbols in a fixed order, so two workers'
     * batches never wait on each other in a cycle. */
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
            "  NULLIF(t.trace_id, '') FROM t JOIN open USING (symbol) ON CONFLICT DO NOTHING), "
            "lq AS (INSERT INTO exec_last_quote AS q (symbol, source, seq, bid, ask, last, "
            "  bid_size, ask_size, last_size, ts_ns) SELECT DISTINCT ON (symbol) symbol, source, "
            "  seq, bid, ask, last, bid_size, ask_size, last_size, ts_ns FROM t, sc "
            "  ORDER BY symbol, seq DESC ON CONFLICT (symbol) DO UPDATE SET source = "
            "  EXCLUDED.source, seq = EXCLUDED.seq, bid = EXCLUDED.bid, ask = EXCLUDED.ask, "
            "  last = EXCLUDED.last, bid_size = EXCLUDED.bid_size, ask_size = "
            "  EXCLUDED.ask_size, last_size = EXCLUDED.last_size, ts_ns = EXCLUDED.ts_ns, "
            "  updated_at = now() WHERE q.source <> EXCLUDED.source OR EXCLUDED.seq > q.seq "
            "  OR q.seq - EXCLUDED.seq >= $12::bigint) "
            "SELECT open.symbol FROM open ORDER BY open.symbol COLLATE \"C\"",
            NA + 1, p, &r, err);
    if (s == TB_OK) s = symbols_out(r, 0, open, nopen, err);
    PQclear(r);
    bus_pgarray_close_all(a, NA);
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
