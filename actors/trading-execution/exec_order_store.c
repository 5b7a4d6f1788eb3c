/* trading-execution's store access for a batch of ORDERS messages
 * (exec_store.h, "orders in batches"): the symbols' tick state and last
 * quotes, and everything a batch changed, each in one statement whose rows
 * travel as array parameters unnested by the server. */
#include <stdlib.h>
#include <string.h>

#include "exec_service.h"
#include "exec_store.h"
#include "outbox.h"
#include "pgarray.h"
#include "store.h"

/* Runs sql with the arrays a[0..n) as its parameters, then empties them. */
static tb_status run(PGconn *c, const char *sql, bus_pgarray *a, size_t n, PGresult **r,
                     tb_error *err) {
    const char *p[16];
    tb_status s = bus_pgarray_finish_all(a, n, p, err);
    if (s == TB_OK) s = bus_pg_exec(c, sql, (int)n, p, r, err);
    bus_pgarray_close_all(a, n);
    return s;
}

tb_status exec_store_lock_symbols_send(PGconn *c, const exec_symbol *syms, size_t n, PGresult **r,
                                       tb_error *err) {
    *r = NULL;
    if (n == 0) return TB_OK;
    bus_pgarray a[1] = {{0}};
    for (size_t i = 0; i < n; i++) bus_pgarray_str(&a[0], syms[i]);
    const char *p[1];
    tb_status s = bus_pgarray_finish_all(a, 1, p, err);
    /* The no-op update takes the row lock whether the row is new or not;
     * rows in the given (sorted) order. */
    if (s == TB_OK)
        s = bus_pg_send(
            c,
            "WITH s AS (INSERT INTO exec_symbol_state AS e (symbol, last_seq) SELECT u.symbol, 0 "
            "  FROM unnest($1::text[]) WITH ORDINALITY AS u(symbol, i) ORDER BY u.i "
            "  ON CONFLICT (symbol) DO UPDATE SET symbol = EXCLUDED.symbol "
            "  RETURNING e.symbol, e.last_seq, e.source) "
            "SELECT s.symbol, s.last_seq, s.source, q.symbol IS NOT NULL, COALESCE(q.source, ''), "
            "  COALESCE(q.seq, 0), COALESCE(q.bid, 0), COALESCE(q.ask, 0), COALESCE(q.last, 0), "
            "  COALESCE(q.bid_size, 0), COALESCE(q.ask_size, 0), COALESCE(q.last_size, 0), "
            "  COALESCE(q.ts_ns, 0) FROM s LEFT JOIN exec_last_quote q ON q.symbol = s.symbol",
            1, p, r, err);
    bus_pgarray_close_all(a, 1);
    return s;
}

tb_status exec_store_lock_symbols_read(PGresult *r, const exec_symbol *syms, size_t n,
                                       exec_symbol_quote *out, tb_error *err) {
    if (n == 0) return TB_OK;
    if (r == NULL) return tb_error_set(err, TB_ERR, NULL, "symbol locks: no result");
    tb_status s = TB_OK;
    if (PQntuples(r) != (int)n)
        s = tb_error_set(err, TB_ERR, NULL, "locked %d symbols of %zu", PQntuples(r), n);
    for (int row = 0; s == TB_OK && row < PQntuples(r); row++) {
        exec_symbol_quote *q = NULL;
        for (size_t i = 0; i < n && q == NULL; i++)
            if (strcmp(syms[i], PQgetvalue(r, row, 0)) == 0) q = &out[i];
        if (q == NULL) continue;
        memset(q, 0, sizeof *q);
        snprintf(q->symbol, sizeof q->symbol, "%s", PQgetvalue(r, row, 0));
        q->last_seq = strtoull(PQgetvalue(r, row, 1), NULL, 10);
        bus_pg_col_str(r, row, 2, q->last_source, sizeof q->last_source);
        q->have_quote = PQgetvalue(r, row, 3)[0] == 't';
        tb_tick *t = &q->quote;
        snprintf(t->symbol, sizeof t->symbol, "%s", q->symbol);
        bus_pg_col_str(r, row, 4, t->source, sizeof t->source);
        t->seq = strtoull(PQgetvalue(r, row, 5), NULL, 10);
        tb_fixed *f[6] = {&t->bid, &t->ask, &t->last, &t->bid_size, &t->ask_size, &t->last_size};
        for (int k = 0; s == TB_OK && k < 6; k++) s = bus_pg_col_fixed(r, row, 6 + k, f[k], err);
        if (s == TB_OK) s = bus_pg_col_i64(r, row, 12, &t->ts, err);
    }
    return s;
}

tb_status exec_store_lock_symbols(PGconn *c, const exec_symbol *syms, size_t n,
                                  exec_symbol_quote *out, tb_error *err) {
    PGresult *r = NULL;
    tb_status s = exec_store_lock_symbols_send(c, syms, n, &r, err);
    if (s == TB_OK && n > 0) s = bus_pg_await(c, &r, err);
    if (s == TB_OK) s = exec_store_lock_symbols_read(r, syms, n, out, err);
    PQclear(r);
    return s;
}

/* ---- saving ---- */

/* Fills of the batch and their outbox events: two statements. */
static tb_status save_fills(PGconn *c, const exec_row *rows, const exec_batch_change *changes,
                            size_t n, tb_error *err) {
    size_t nf = 0;
    for (size_t i = 0; i < n; i++) nf += changes[i].ch.filled ? 1 : 0;
    if (nf == 0) return TB_OK;
    tb_fill *fills = calloc(nf, sizeof *fills);
    bus_outbox_event *items = calloc(nf, sizeof *items);
    char(*subjects)[160] = calloc(nf, sizeof *subjects);
    tb_status s =
        fills && items && subjects ? TB_OK : tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    enum { NA = 12 };
    bus_pgarray a[NA] = {{0}};
    size_t k = 0;
    for (size_t i = 0; s == TB_OK && i < n; i++) {
        const exec_batch_change *bc = &changes[i];
        if (!bc->ch.filled) continue;
        tb_fill *f = &fills[k];
        s = exec_fill_of(&rows[bc->row], &bc->ch, bc->fills, f, err);
        if (s != TB_OK) break;
        char ts[40];
        tb_ts_format(f->ts, ts);
        bus_pgarray_str(&a[0], f->fill_id);
        bus_pgarray_str(&a[1], f->order_id);
        bus_pgarray_str(&a[2], f->account);
        bus_pgarray_str(&a[3], f->symbol);
        bus_pgarray_str(&a[4], f->side);
        bus_pgarray_fixed(&a[5], f->qty);
        bus_pgarray_fixed(&a[6], f->price);
        bus_pgarray_fixed(&a[7], f->fee);
        bus_pgarray_str(&a[8], f->liquidity);
        bus_pgarray_str(&a[9], f->strategy_id);
        bus_pgarray_str(&a[10], ts);
        bus_pgarray_str(&a[11], bc->trace ? bc->trace : "");
        snprintf(subjects[k], sizeof subjects[k], "fills.%s.%s", f->account, f->symbol);
        items[k] = (bus_outbox_event){.subject = subjects[k],
                                      .desc = &tb_fill_desc,
                                      .ev = f,
                                      .msg_id = f->fill_id,
                                      .trace_id = bc->trace};
        k++;
    }
    if (s == TB_OK)
        s = run(c,
                "INSERT INTO fills (fill_id, order_id, account, symbol, side, qty, price, fee, "
                "liquidity, strategy_id, ts, trace_id) SELECT u.fill_id, u.order_id, u.account, "
                "u.symbol, u.side, u.qty, u.price, u.fee, NULLIF(u.liquidity, ''), "
                "NULLIF(u.strategy_id, ''), u.ts, NULLIF(u.trace_id, '') FROM unnest($1::text[], "
                "$2::text[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::numeric[], "
                "$8::numeric[], $9::text[], $10::text[], $11::timestamptz[], $12::text[]) "
                "WITH ORDINALITY AS u(fill_id, order_id, account, symbol, side, qty, price, fee, "
                "liquidity, strategy_id, ts, trace_id, i) ORDER BY u.i",
                a, NA, NULL, err);
    bus_pgarray_close_all(a, NA);
    if (s == TB_OK) s = bus_outbox_add_many(c, EXEC_PRODUCER, items, k, err);
    free(fills);
    free(items);
    free(subjects);
    return s;
}

/* Each changed order's final row: one statement. The reason is the last
 * one any of its steps gave (as change after change would leave it). */
static tb_status save_orders(PGconn *c, const exec_row *rows, const exec_batch_change *changes,
                             size_t n, tb_error *err) {
    enum { NA = 7 };
    bus_pgarray a[NA] = {{0}};
    for (size_t i = 0; i < n; i++) {
        size_t row = changes[i].row;
        bool later = false; /* the row's last change writes it */
        for (size_t j = i + 1; j < n && !later; j++) later = changes[j].row == row;
        if (later) continue;
        const char *reason = NULL;
        bool triggered = false;
        for (size_t j = 0; j <= i; j++) {
            if (changes[j].row != row) continue;
            triggered |= changes[j].ch.triggered_now;
            for (int k = 0; k < changes[j].ch.nsteps; k++)
                if (changes[j].ch.steps[k].reason) reason = changes[j].ch.steps[k].reason;
        }
        const exec_order *o = &rows[row].ord;
        bus_pgarray_str(&a[0], rows[row].rec.order_id);
        bus_pgarray_str(&a[1], exec_status_name(o->status));
        bus_pgarray_fixed(&a[2], o->filled_qty);
        bus_pgarray_fixed(&a[3], o->avg_price);
        bus_pgarray_i64(&a[4], o->version);
        bus_pgarray_str(&a[5], reason ? reason : "");
        bus_pgarray_str(&a[6], triggered ? "t" : "f");
    }
    return run(c,
               "UPDATE orders o SET status = u.status, filled_qty = u.filled_qty, "
               "avg_price = NULLIF(u.avg_price, 0), version = u.version, updated_at = now(), "
               "reason = COALESCE(NULLIF(u.reason, ''), o.reason), triggered_at = CASE WHEN "
               "u.triggered THEN COALESCE(o.triggered_at, now()) ELSE o.triggered_at END "
               "FROM unnest($1::text[], $2::text[], $3::numeric[], $4::numeric[], $5::int[], "
               "$6::text[], $7::bool[]) AS u(order_id, status, filled_qty, avg_price, version, "
               "reason, triggered) WHERE o.order_id = u.order_id",
               a, NA, NULL, err);
}

/* Every step's order_events row (one statement) and orders.status event. */
static tb_status save_steps(PGconn *c, const exec_row *rows, const exec_batch_change *changes,
                            size_t n, exec_events *ev, tb_error *err) {
    enum { NA = 7 };
    bus_pgarray a[NA] = {{0}};
    int64_t now = tb_now_ns();
    tb_status s = TB_OK;
    for (size_t i = 0; s == TB_OK && i < n; i++) {
        const exec_batch_change *bc = &changes[i];
        int64_t first_version = bc->version - bc->ch.nsteps + 1;
        for (int k = 0; s == TB_OK && k < bc->ch.nsteps; k++) {
            const exec_step *st = &bc->ch.steps[k];
            bus_pgarray_str(&a[0], rows[bc->row].rec.order_id);
            bus_pgarray_i64(&a[1], first_version + k);
            bus_pgarray_str(&a[2], exec_status_name(st->status));
            bus_pgarray_fixed(&a[3], st->filled_qty);
            bus_pgarray_fixed(&a[4], st->avg_price);
            bus_pgarray_str(&a[5], st->reason ? st->reason : "");
            bus_pgarray_str(&a[6], bc->trace ? bc->trace : "");
            s = exec_events_add_step(ev, &rows[bc->row], st, first_version + k, now, err);
        }
    }
    if (s != TB_OK) {
        bus_pgarray_close_all(a, NA);
        return s;
    }
    return run(c,
               "INSERT INTO order_events (order_id, version, status, filled_qty, avg_price, "
               "reason, trace_id) SELECT u.order_id, u.version, u.status, u.filled_qty, "
               "NULLIF(u.avg_price, 0), NULLIF(u.reason, ''), NULLIF(u.trace_id, '') FROM "
               "unnest($1::text[], $2::int[], $3::text[], $4::numeric[], $5::numeric[], "
               "$6::text[], $7::text[]) WITH ORDINALITY AS u(order_id, version, status, "
               "filled_qty, avg_price, reason, trace_id, i) ORDER BY u.i",
               a, NA, NULL, err);
}

tb_status exec_store_save_many(PGconn *c, const exec_row *rows, const exec_batch_change *changes,
                               size_t n, exec_events *ev, tb_error *err) {
    if (n == 0) return TB_OK;
    tb_status s = save_fills(c, rows, changes, n, err);
    if (s == TB_OK) s = save_orders(c, rows, changes, n, err);
    if (s == TB_OK) s = save_steps(c, rows, changes, n, ev, err);
    return s;
}
