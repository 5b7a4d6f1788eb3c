/* PostgreSQL access of trading-execution; see exec_store.h. Money columns
 * travel as decimal strings (tb_fixed_format / tb_fixed_parse_cstr). */
#include "exec_store.h"

#include <stdlib.h>
#include <string.h>

#include "exec_fees.h"
#include "exec_order_sql.h"
#include "exec_service.h"
#include "outbox.h"
#include "pgarray.h"
#include "store.h"

#define ORDER_COLS EXEC_ORDER_COLS
#define NCOLS      29

void exec_events_free(exec_events *e) {
    free(e->v);
    *e = (exec_events){0};
}

static tb_status events_push(exec_events *e, const tb_order_status *st, tb_error *err) {
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        tb_order_status *v = realloc(e->v, cap * sizeof *v);
        if (v == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = *st;
    return TB_OK;
}

tb_status exec_events_add_step(exec_events *ev, const exec_row *row, const exec_step *st,
                               int64_t version, int64_t now_ns, tb_error *err) {
    tb_order_status e;
    memset(&e, 0, sizeof e);
    snprintf(e.order_id, sizeof e.order_id, "%s", row->rec.order_id);
    snprintf(e.account, sizeof e.account, "%s", row->rec.account);
    snprintf(e.symbol, sizeof e.symbol, "%s", row->rec.symbol);
    snprintf(e.status, sizeof e.status, "%s", exec_status_name(st->status));
    snprintf(e.reason, sizeof e.reason, "%s", st->reason ? st->reason : "");
    e.filled_qty = st->filled_qty;
    e.leaves_qty = exec_status_is_open(st->status) ? row->ord.qty - st->filled_qty : 0;
    e.avg_price = st->avg_price;
    e.version = (uint64_t)version;
    e.ts = now_ns;
    return events_push(ev, &e, err);
}

tb_status exec_tx_begin(PGconn *c, tb_error *err) {
    return bus_pg_exec(c, "BEGIN", 0, NULL, NULL, err);
}
tb_status exec_tx_commit(PGconn *c, tb_error *err) {
    return bus_pg_exec(c, "COMMIT", 0, NULL, NULL, err);
}
void exec_tx_rollback(PGconn *c) {
    tb_error ignored = {0};
    if (bus_pg_exec(c, "ROLLBACK", 0, NULL, NULL, &ignored) != TB_OK) {
        /* the pool drops a broken connection when it is returned */
    }
}

/* ---- rows ---- */

static tb_status parse_row(PGresult *r, int i, exec_row *out, tb_error *err) {
    memset(out, 0, sizeof *out);
    tb_order_record *rec = &out->rec;
    exec_order *o = &out->ord;
    bus_pg_col_str(r, i, 0, rec->order_id, sizeof rec->order_id);
    bus_pg_col_str(r, i, 1, rec->client_order_id, sizeof rec->client_order_id);
    bus_pg_col_str(r, i, 2, rec->account, sizeof rec->account);
    bus_pg_col_str(r, i, 3, rec->symbol, sizeof rec->symbol);
    bus_pg_col_str(r, i, 4, rec->side, sizeof rec->side);
    bus_pg_col_str(r, i, 5, rec->type, sizeof rec->type);
    bus_pg_col_str(r, i, 9, rec->tif, sizeof rec->tif);
    bus_pg_col_str(r, i, 10, rec->source, sizeof rec->source);
    bus_pg_col_str(r, i, 11, rec->strategy_id, sizeof rec->strategy_id);
    bus_pg_col_str(r, i, 12, rec->status, sizeof rec->status);
    bus_pg_col_str(r, i, 15, rec->reason, sizeof rec->reason);
    tb_status s = bus_pg_col_fixed(r, i, 6, &rec->qty, err);
    if (s == TB_OK) s = bus_pg_col_fixed(r, i, 7, &rec->limit_price, err);
    if (s == TB_OK) s = bus_pg_col_fixed(r, i, 8, &rec->stop_price, err);
    if (s == TB_OK) s = bus_pg_col_fixed(r, i, 13, &rec->filled_qty, err);
    if (s == TB_OK) s = bus_pg_col_fixed(r, i, 14, &rec->avg_price, err);
    if (s != TB_OK) return s;
    rec->created_at = strtoll(PQgetvalue(r, i, 16), NULL, 10) * 1000;
    rec->updated_at = strtoll(PQgetvalue(r, i, 17), NULL, 10) * 1000;
    if (!exec_side_parse(rec->side, &o->side) || !exec_type_parse(rec->type, &o->type) ||
        !exec_tif_parse(rec->tif, &o->tif) || !exec_status_parse(rec->status, &o->status))
        return tb_error_set(err, TB_ERR, NULL, "order %s has an unknown enumeration value",
                            rec->order_id);
    o->qty = rec->qty;
    o->limit_price = rec->limit_price;
    o->stop_price = rec->stop_price;
    o->filled_qty = rec->filled_qty;
    o->avg_price = rec->avg_price;
    o->created_ns = rec->created_at;
    o->version = strtoll(PQgetvalue(r, i, 18), NULL, 10);
    o->triggered = PQgetvalue(r, i, 19)[0] == 't';
    o->fills = strtoll(PQgetvalue(r, i, 20), NULL, 10);
    rec->expire_at = strtoll(PQgetvalue(r, i, 21), NULL, 10) * 1000;
    o->expire_ns = rec->expire_at;
    s = bus_pg_col_fixed(r, i, 22, &rec->trail_amount, err);
    if (s == TB_OK) s = bus_pg_col_fixed(r, i, 24, &rec->limit_offset, err);
    if (s == TB_OK) s = bus_pg_col_fixed(r, i, 25, &rec->trail_stop, err);
    if (s != TB_OK) return s;
    rec->trail_bps = strtoll(PQgetvalue(r, i, 23), NULL, 10);
    o->trail_amount = rec->trail_amount;
    o->trail_bps = rec->trail_bps;
    o->limit_offset = rec->limit_offset;
    o->trail_stop = rec->trail_stop;
    bus_pg_col_str(r, i, 26, rec->group_id, sizeof rec->group_id);
    bus_pg_col_str(r, i, 27, rec->group_role, sizeof rec->group_role);
    if (!exec_role_parse(rec->group_role, &o->role))
        return tb_error_set(err, TB_ERR, NULL, "order %s has an unknown group role %s",
                            rec->order_id, rec->group_role);
    return bus_pg_col_fixed(r, i, 28, &o->entry_filled, err);
}

static tb_status parse_rows(PGresult *r, exec_row **rows, size_t *n, tb_error *err) {
    int nt = PQntuples(r);
    exec_row *v = calloc(nt > 0 ? (size_t)nt : 1, sizeof *v);
    if (v == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    for (int i = 0; i < nt; i++) {
        tb_status s = parse_row(r, i, &v[i], err);
        if (s != TB_OK) {
            free(v);
            return s;
        }
    }
    *rows = v;
    *n = (size_t)nt;
    return TB_OK;
}

static tb_status load_many(PGconn *c, const char *sql, int np, const char *const *p,
                           exec_row **rows, size_t *n, tb_error *err) {
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(c, sql, np, p, &r, err);
    if (s == TB_OK) s = parse_rows(r, rows, n, err);
    PQclear(r);
    return s;
}

static tb_status load_one(PGconn *c, const char *sql, int np, const char *const *p, const char *id,
                          exec_row *out, tb_error *err) {
    exec_row *rows = NULL;
    size_t n = 0;
    tb_status s = load_many(c, sql, np, p, &rows, &n, err);
    if (s == TB_OK && n == 0) s = tb_error_set(err, TB_NOT_FOUND, "id", "no order %s", id);
    if (s == TB_OK) *out = rows[0];
    free(rows);
    return s;
}

/* Orders about to be matched carry their account's fee model. */
static tb_status with_fees(PGconn *c, exec_row **rows, size_t *n, tb_error *err) {
    tb_status s = exec_fees_attach(c, *rows, *n, err);
    if (s != TB_OK) {
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return s;
}

tb_status exec_store_lock_order(PGconn *c, const char *order_id, exec_row *out, tb_error *err) {
    const char *p[1] = {order_id};
    return load_one(c, "SELECT " ORDER_COLS " FROM orders o WHERE o.order_id = $1 FOR UPDATE OF o",
                    1, p, order_id, out, err);
}

tb_status exec_store_lock_orders_send(PGconn *c, const char *const *ids, size_t n, PGresult **r,
                                      tb_error *err) {
    *r = NULL;
    bus_pgarray a = {0};
    for (size_t i = 0; i < n; i++) bus_pgarray_str(&a, ids[i]);
    const char *p[1] = {bus_pgarray_finish(&a)};
    tb_status s = p[0] ? TB_OK : tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    if (s == TB_OK) s = bus_pg_send(c, exec_lock_orders_sql, 1, p, r, err);
    bus_pgarray_close(&a);
    return s;
}

tb_status exec_store_lock_orders_read(PGconn *c, PGresult *r, exec_row **rows, size_t *nrows,
                                      tb_error *err) {
    *rows = NULL;
    *nrows = 0;
    if (r == NULL) return tb_error_set(err, TB_ERR, NULL, "order locks: no result");
    tb_status s = parse_rows(r, rows, nrows, err);
    return s == TB_OK ? with_fees(c, rows, nrows, err) : s;
}

tb_status exec_store_lock_orders(PGconn *c, const char *const *ids, size_t n, exec_row **rows,
                                 size_t *nrows, tb_error *err) {
    PGresult *r = NULL;
    tb_status s = exec_store_lock_orders_send(c, ids, n, &r, err);
    if (s == TB_OK) s = bus_pg_await(c, &r, err);
    if (s == TB_OK) s = exec_store_lock_orders_read(c, r, rows, nrows, err);
    PQclear(r);
    return s;
}

tb_status exec_store_get(PGconn *c, const char *order_id, const char *accounts, exec_row *out,
                         tb_error *err) {
    const char *p[2] = {order_id, accounts && accounts[0] ? accounts : NULL};
    return load_one(c,
                    "SELECT " ORDER_COLS " FROM orders o WHERE o.order_id = $1 AND "
                    "($2::text IS NULL OR o.account = ANY (string_to_array($2, ',')))",
                    2, p, order_id, out, err);
}

tb_status exec_store_lock_open_many(PGconn *c, const exec_symbol *syms, size_t nsyms, int64_t limit,
                                    exec_row **rows, size_t *n, tb_error *err) {
    /* symbols are tokens ([A-Za-z0-9_-]): the literal needs no quoting */
    char *list = malloc(nsyms * (sizeof *syms + 1) + 2);
    if (list == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    size_t off = 0;
    list[off++] = '{';
    for (size_t i = 0; i < nsyms; i++) {
        if (i) list[off++] = ',';
        size_t len = strnlen(syms[i], sizeof *syms);
        memcpy(list + off, syms[i], len);
        off += len;
    }
    list[off++] = '}';
    list[off] = '\0';
    char lim[24];
    snprintf(lim, sizeof lim, "%lld", (long long)limit);
    const char *p[2] = {list, lim};
    tb_status s =
        /* the oldest `limit` open orders of each symbol (a row lock cannot be
         * taken in a query with a window function, hence the IN) */
        load_many(
            c,
            "WITH base AS (SELECT order_id, group_id "
            "FROM (SELECT order_id, group_id, row_number() OVER (PARTITION BY symbol ORDER BY "
            "created_at, order_id) AS rn FROM orders WHERE symbol = ANY ($1::text[]) "
            "AND status IN ('accepted', 'partially_filled')) x WHERE rn <= $2::bigint) "
            /* with the other open orders of their groups, also still new: a
             * leg's fill cancels its partner in the same transaction */
            "SELECT " ORDER_COLS " FROM orders o WHERE o.order_id IN (SELECT order_id "
            "FROM base UNION SELECT s.order_id FROM orders s JOIN base b ON "
            "s.group_id = b.group_id WHERE s.status IN ('new', 'accepted', 'partially_filled')) "
            "AND o.status IN ('new', 'accepted', 'partially_filled') "
            "ORDER BY o.symbol COLLATE \"C\", o.created_at, o.order_id FOR UPDATE OF o",
            2, p, rows, n, err);
    free(list);
    return s == TB_OK ? with_fees(c, rows, n, err) : s;
}

tb_status exec_store_lock_day_due(PGconn *c, int64_t cutoff_ns, int64_t limit, exec_row **rows,
                                  size_t *n, tb_error *err) {
    char cutoff[40], lim[24];
    tb_ts_format(cutoff_ns, cutoff);
    snprintf(lim, sizeof lim, "%lld", (long long)limit);
    const char *p[2] = {cutoff, lim};
    /* SKIP LOCKED: an order a tick or a cancel holds now is expired on the
     * next round; several instances share the work without waiting. */
    return load_many(
        c,
        "SELECT " ORDER_COLS " FROM orders o WHERE o.tif = 'day' AND o.status IN "
        "('accepted', 'partially_filled') AND o.created_at < $1::timestamptz "
        "ORDER BY o.created_at, o.order_id LIMIT $2::bigint FOR UPDATE OF o SKIP LOCKED",
        2, p, rows, n, err);
}

tb_status exec_store_list(PGconn *c, const exec_list_filter *f, exec_row **rows, size_t *n,
                          tb_error *err) {
    /* statuses as a text[] literal: the values are checked enum names */
    char statuses[256] = "";
    if (f->statuses) {
        size_t off = 0;
        off += (size_t)snprintf(statuses + off, sizeof statuses - off, "{");
        for (int i = 0; f->statuses[i] && off < sizeof statuses; i++)
            off += (size_t)snprintf(statuses + off, sizeof statuses - off, "%s%s", i ? "," : "",
                                    f->statuses[i]);
        if (off < sizeof statuses) snprintf(statuses + off, sizeof statuses - off, "}");
    }
    char lim[24];
    snprintf(lim, sizeof lim, "%lld", (long long)f->limit);
    const char *p[7] = {
        f->account && f->account[0] ? f->account : NULL,
        f->symbol && f->symbol[0] ? f->symbol : NULL,
        f->statuses ? statuses : NULL,
        f->accounts && f->accounts[0] ? f->accounts : NULL,
        f->cursor && f->cursor[0] ? f->cursor : NULL,
        lim,
        f->group_id && f->group_id[0] ? f->group_id : NULL,
    };
    return load_many(
        c,
        "SELECT " ORDER_COLS " FROM orders o WHERE ($1::text IS NULL OR o.account = $1) "
        "AND ($2::text IS NULL OR o.symbol = $2) AND ($3::text[] IS NULL OR o.status = ANY ($3)) "
        "AND ($4::text IS NULL OR o.account = ANY (string_to_array($4, ','))) "
        "AND ($5::text IS NULL OR (o.created_at, o.order_id) < "
        "     (SELECT c.created_at, c.order_id FROM orders c WHERE c.order_id = $5)) "
        "AND ($7::text IS NULL OR o.group_id = $7) "
        "ORDER BY o.created_at DESC, o.order_id DESC LIMIT $6::bigint",
        7, p, rows, n, err);
}

/* ---- symbol tick state ---- */

tb_status exec_store_lock_symbol(PGconn *c, const char *symbol, uint64_t *last_seq,
                                 char source[TB_ID_CAP], tb_error *err) {
    const char *p[1] = {symbol};
    PGresult *r = NULL;
    /* The no-op update takes the row lock whether the row is new or not. */
    tb_status s = bus_pg_exec(c,
                              "INSERT INTO exec_symbol_state (symbol, last_seq) VALUES ($1, 0) "
                              "ON CONFLICT (symbol) DO UPDATE SET symbol = EXCLUDED.symbol "
                              "RETURNING last_seq, source",
                              1, p, &r, err);
    if (s == TB_OK) {
        *last_seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        snprintf(source, TB_ID_CAP, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return s;
}

/* ---- saving ---- */

void exec_change_add_step(exec_change *ch, const exec_order *o, exec_status st,
                          const char *reason) {
    if (ch->nsteps >= EXEC_MAX_STEPS + 1) return;
    ch->steps[ch->nsteps++] = (exec_step){
        .status = st, .reason = reason, .filled_qty = o->filled_qty, .avg_price = o->avg_price};
}

void exec_change_add_outcome(exec_change *ch, const exec_order *after, const exec_outcome *oc,
                             int64_t fill_ts_ns) {
    /* Every step of one outcome comes after its (single) fill, so each
     * carries the order's final quantities. */
    for (int i = 0; i < oc->nsteps; i++)
        exec_change_add_step(ch, after, oc->steps[i], oc->reasons[i]);
    ch->triggered_now |= oc->triggered_now;
    if (oc->filled) {
        ch->filled = true;
        ch->fill = oc->fill;
        ch->fill_ts_ns = fill_ts_ns;
    }
}

tb_status exec_fill_of(const exec_row *row, const exec_change *ch, int64_t fill_no, tb_fill *out,
                       tb_error *err) {
    tb_fill *f = out;
    memset(f, 0, sizeof *f);
    int len =
        snprintf(f->fill_id, sizeof f->fill_id, "%s-%lld", row->rec.order_id, (long long)fill_no);
    if (len < 0 || (size_t)len >= sizeof f->fill_id)
        return tb_error_set(err, TB_INVALID, "order_id", "order id %s too long for fill ids",
                            row->rec.order_id);
    snprintf(f->order_id, sizeof f->order_id, "%s", row->rec.order_id);
    snprintf(f->account, sizeof f->account, "%s", row->rec.account);
    snprintf(f->symbol, sizeof f->symbol, "%s", row->rec.symbol);
    snprintf(f->side, sizeof f->side, "%s", row->rec.side);
    snprintf(f->liquidity, sizeof f->liquidity, "%s", exec_liquidity_name(ch->fill.liquidity));
    snprintf(f->strategy_id, sizeof f->strategy_id, "%s", row->rec.strategy_id);
    f->qty = ch->fill.qty;
    f->price = ch->fill.price;
    f->fee = ch->fill.fee;
    f->ts = ch->fill_ts_ns;
    return TB_OK;
}

static tb_status save_fill(PGconn *c, const exec_row *row, const exec_change *ch, const char *trace,
                           tb_error *err) {
    tb_fill f;
    tb_status fs = exec_fill_of(row, ch, row->ord.fills, &f, err);
    if (fs != TB_OK) return fs;

    char qty[TB_FIXED_STRLEN], price[TB_FIXED_STRLEN], fee[TB_FIXED_STRLEN], ts[40];
    tb_fixed_format(f.qty, qty);
    tb_fixed_format(f.price, price);
    tb_fixed_format(f.fee, fee);
    tb_ts_format(f.ts, ts);
    const char *p[12] = {f.fill_id,
                         f.order_id,
                         f.account,
                         f.symbol,
                         f.side,
                         qty,
                         price,
                         fee,
                         f.liquidity[0] ? f.liquidity : NULL,
                         f.strategy_id[0] ? f.strategy_id : NULL,
                         ts,
                         trace};
    tb_status s = bus_pg_exec(c,
                              "INSERT INTO fills (fill_id, order_id, account, symbol, side, qty, "
                              "price, fee, liquidity, strategy_id, ts, trace_id) VALUES ($1, $2, "
                              "$3, $4, $5, $6::numeric, $7::numeric, $8::numeric, $9, $10, "
                              "$11::timestamptz, $12)",
                              12, p, NULL, err);
    if (s != TB_OK) return s;
    char subject[160];
    snprintf(subject, sizeof subject, "fills.%s.%s", f.account, f.symbol);
    return bus_outbox_add(c, EXEC_PRODUCER, subject, &tb_fill_desc, &f, f.fill_id, trace, err);
}

tb_status exec_store_save(PGconn *c, exec_row *row, const exec_change *ch, const char *trace,
                          exec_events *ev, tb_error *err) {
    if (ch->nsteps == 0 && !ch->triggered_now && !ch->filled) return TB_OK;
    const exec_order *o = &row->ord;
    tb_status s = TB_OK;
    if (ch->filled) s = save_fill(c, row, ch, trace, err);
    if (s != TB_OK) return s;

    const char *reason = NULL;
    for (int i = 0; i < ch->nsteps; i++)
        if (ch->steps[i].reason) reason = ch->steps[i].reason;
    char filled[TB_FIXED_STRLEN], avg[TB_FIXED_STRLEN], version[24];
    tb_fixed_format(o->filled_qty, filled);
    tb_fixed_format(o->avg_price, avg);
    snprintf(version, sizeof version, "%lld", (long long)o->version);
    const char *p[7] = {row->rec.order_id,
                        exec_status_name(o->status),
                        filled,
                        avg,
                        version,
                        reason,
                        ch->triggered_now ? "true" : "false"};
    s = bus_pg_exec(c,
                    "UPDATE orders SET status = $2, filled_qty = $3::numeric, "
                    "avg_price = NULLIF($4::numeric, 0), version = $5::int, "
                    "reason = COALESCE($6, reason), triggered_at = CASE WHEN $7::bool THEN "
                    "COALESCE(triggered_at, now()) ELSE triggered_at END WHERE order_id = $1",
                    7, p, NULL, err);

    int64_t first_version = o->version - ch->nsteps + 1;
    int64_t now = tb_now_ns();
    for (int i = 0; s == TB_OK && i < ch->nsteps; i++) {
        const exec_step *st = &ch->steps[i];
        char sv[24], sf[TB_FIXED_STRLEN], sa[TB_FIXED_STRLEN];
        snprintf(sv, sizeof sv, "%lld", (long long)(first_version + i));
        tb_fixed_format(st->filled_qty, sf);
        tb_fixed_format(st->avg_price, sa);
        const char *q[7] = {row->rec.order_id, sv,   exec_status_name(st->status), sf, sa,
                            st->reason,        trace};
        s = bus_pg_exec(c,
                        "INSERT INTO order_events (order_id, version, status, filled_qty, "
                        "avg_price, reason, trace_id) VALUES ($1, $2::int, $3, $4::numeric, "
                        "NULLIF($5::numeric, 0), $6, $7)",
                        7, q, NULL, err);
        if (s != TB_OK) break;
        s = exec_events_add_step(ev, row, st, first_version + i, now, err);
    }
    if (s != TB_OK) return s;
    snprintf(row->rec.status, sizeof row->rec.status, "%s", exec_status_name(o->status));
    row->rec.filled_qty = o->filled_qty;
    row->rec.avg_price = o->avg_price;
    if (reason) snprintf(row->rec.reason, sizeof row->rec.reason, "%s", reason);
    row->rec.updated_at = now;
    return TB_OK;
}
