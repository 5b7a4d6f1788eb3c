/* Request-reply endpoints of position-management: positions, accounts and
 * fills (README.md lists subjects, bodies and errors).
 *
 * Reads are single statements, so each reply is one consistent snapshot (an
 * account's cash and its positions come from the same statement). Money is
 * computed in C with tb_fixed (pos_pnl.c), never with SQL arithmetic, so
 * the rounding is the one the fill path books with. When tb_query.accounts
 * is set (the gateway's scope), other accounts' objects do not exist for the
 * caller: get answers TB_NOT_FOUND, list leaves them out. */
#include "pos_api.h"

#include <stdlib.h>
#include <string.h>

#include "pos_db.h"
#include "pos_pnl.h"

static int64_t page_limit(uint64_t asked, int64_t dflt, int64_t cap) {
    if (asked == 0) return dflt;
    return asked > (uint64_t)cap ? cap : (int64_t)asked;
}

/* Offset cursors are decimal digits. */
static tb_status parse_offset(bus_ctx *ctx, const char *cursor, int64_t *out) {
    *out = 0;
    if (cursor[0] == '\0') return TB_OK;
    char *end = NULL;
    long long v = strtoll(cursor, &end, 10);
    if (*end != '\0' || v < 0 || cursor[0] < '0' || cursor[0] > '9' || strlen(cursor) > 12)
        return bus_fail(ctx, TB_INVALID, "cursor", "cursor %s is not one this service gave",
                        cursor);
    *out = v;
    return TB_OK;
}

/* A positions row (account, symbol, qty, cost_basis, realized_pnl,
 * last_price, updated_ns) as a position update. */
static tb_status row_to_position(const PGresult *r, int i, tb_position_update *u, tb_error *err) {
    memset(u, 0, sizeof *u);
    pos_db_text(r, i, 0, u->account, sizeof u->account);
    pos_db_text(r, i, 1, u->symbol, sizeof u->symbol);
    pos_state st = {0};
    tb_status s = pos_db_fixed(r, i, 2, &st.qty, err);
    if (s == TB_OK) s = pos_db_fixed(r, i, 3, &st.cost, err);
    if (s == TB_OK) s = pos_db_fixed(r, i, 4, &st.realized, err);
    if (s == TB_OK) s = pos_db_fixed(r, i, 5, &u->last_price, err);
    if (s != TB_OK) return s;
    u->qty = st.qty;
    u->realized_pnl = st.realized;
    u->ts = pos_db_i64(r, i, 6);
    if (pos_avg_cost(&st, &u->avg_cost) != TB_OK ||
        pos_unrealized(&st, u->last_price, &u->unrealized_pnl) != TB_OK)
        return tb_error_set(err, TB_OVERFLOW, "unrealized_pnl", "position %s/%s out of range",
                            u->account, u->symbol);
    return TB_OK;
}

#define POSITION_COLS                                                                              \
    "account, symbol, qty, cost_basis, realized_pnl, last_price, " POS_SQL_NS("updated_at")

tb_status pos_api_positions_get(bus_ctx *ctx, const void *event) {
    const tb_query *q = event;
    if (q->account[0] == '\0')
        return bus_fail(ctx, TB_MISSING_FIELD, "account", "account required");
    if (q->symbol[0] == '\0') return bus_fail(ctx, TB_MISSING_FIELD, "symbol", "symbol required");
    if (!pos_scope_allows(q->accounts, q->account))
        return bus_fail(ctx, TB_NOT_FOUND, "account", "no account %s", q->account);
    tb_error err = {0};
    PGconn *c = bus_ctx_pg(ctx, &err);
    if (c == NULL) return bus_fail_err(ctx, &err);
    const char *p[2] = {q->account, q->symbol};
    PGresult *r = NULL;
    if (bus_pg_exec(c, "SELECT " POSITION_COLS " FROM positions WHERE account = $1 AND symbol = $2",
                    2, p, &r, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    tb_position_update u;
    tb_status s = TB_OK;
    if (PQntuples(r) == 0) {
        /* Never traded: a flat position, not an error (risk sizes on it). */
        memset(&u, 0, sizeof u);
        snprintf(u.account, sizeof u.account, "%s", q->account);
        snprintf(u.symbol, sizeof u.symbol, "%s", q->symbol);
        u.ts = tb_now_ns();
    } else {
        s = row_to_position(r, 0, &u, &err);
    }
    PQclear(r);
    if (s != TB_OK) return bus_fail_err(ctx, &err);
    return bus_reply(ctx, &tb_position_update_desc, &u);
}

tb_status pos_api_positions_list(bus_ctx *ctx, const void *event) {
    const tb_query *q = event;
    int64_t limit = page_limit(q->limit, 500, 1000), offset;
    tb_status s = parse_offset(ctx, q->cursor, &offset);
    if (s != TB_OK) return s;
    tb_error err = {0};
    PGconn *c = bus_ctx_pg(ctx, &err);
    if (c == NULL) return bus_fail_err(ctx, &err);
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%lld", (long long)limit + 1); /* one more: is there a next page */
    snprintf(off, sizeof off, "%lld", (long long)offset);
    const char *p[5] = {q->account, q->symbol, q->accounts, lim, off};
    PGresult *r = NULL;
    if (bus_pg_exec(c,
                    "SELECT " POSITION_COLS " FROM positions "
                    "WHERE ($1 = '' OR account = $1) AND ($2 = '' OR symbol = $2) "
                    "AND ($3 = '' OR account = ANY(string_to_array(replace($3, ' ', ''), ','))) "
                    "ORDER BY account COLLATE \"C\", symbol COLLATE \"C\" "
                    "LIMIT $4::bigint OFFSET $5::bigint",
                    5, p, &r, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    int rows = PQntuples(r);
    int n = rows > limit ? (int)limit : rows;
    tb_position_update *items = n ? calloc((size_t)n, sizeof *items) : NULL;
    if (n && items == NULL) s = bus_fail(ctx, TB_NOMEM, NULL, "out of memory");
    for (int i = 0; s == TB_OK && i < n; i++)
        if (row_to_position(r, i, &items[i], &err) != TB_OK) s = bus_fail_err(ctx, &err);
    PQclear(r);
    char next[TB_ID_CAP] = "";
    if (rows > limit) snprintf(next, sizeof next, "%lld", (long long)(offset + limit));
    if (s == TB_OK)
        s = bus_reply_list(ctx, &tb_position_update_desc, items, (size_t)n, next[0] ? next : NULL);
    free(items);
    return s;
}

/* Accounts with their figures, from one statement: the page of accounts
 * (by id, byte-wise) joined with their positions. */
static tb_status load_accounts(bus_ctx *ctx, const char *account, const char *scope,
                               const char *after, int64_t limit, tb_account **out, size_t *n) {
    tb_error err = {0};
    PGconn *c = bus_ctx_pg(ctx, &err);
    if (c == NULL) return bus_fail_err(ctx, &err);
    char lim[24];
    snprintf(lim, sizeof lim, "%lld", (long long)limit);
    const char *p[4] = {account, scope, after, lim};
    PGresult *r = NULL;
    if (bus_pg_exec(c,
                    "WITH page AS (SELECT id FROM accounts "
                    "  WHERE ($1 = '' OR id = $1) "
                    "  AND ($2 = '' OR id = ANY(string_to_array(replace($2, ' ', ''), ','))) "
                    "  AND ($3 = '' OR id COLLATE \"C\" > $3) "
                    "  ORDER BY id COLLATE \"C\" LIMIT $4::bigint) "
                    "SELECT a.id, a.name, a.initial_cash, a.cash, p.qty, p.cost_basis, "
                    "p.realized_pnl, p.fees, p.last_price "
                    "FROM page JOIN accounts a ON a.id = page.id "
                    "LEFT JOIN positions p ON p.account = a.id "
                    "ORDER BY a.id COLLATE \"C\"",
                    4, p, &r, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    int rows = PQntuples(r);
    tb_account *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
    pos_totals *t = rows ? calloc((size_t)rows, sizeof *t) : NULL;
    tb_status s = TB_OK;
    if (rows && (v == NULL || t == NULL)) s = tb_error_set(&err, TB_NOMEM, NULL, "out of memory");
    size_t k = 0;
    int64_t now = tb_now_ns();
    for (int i = 0; s == TB_OK && i < rows; i++) {
        if (k == 0 || strcmp(v[k - 1].account, PQgetvalue(r, i, 0)) != 0) {
            tb_account *a = &v[k++];
            pos_db_text(r, i, 0, a->account, sizeof a->account);
            pos_db_text(r, i, 1, a->name, sizeof a->name);
            s = pos_db_fixed(r, i, 2, &a->initial_cash, &err);
            if (s == TB_OK) s = pos_db_fixed(r, i, 3, &a->cash, &err);
            a->ts = now;
        }
        if (s != TB_OK || PQgetisnull(r, i, 4)) continue; /* no positions */
        pos_state st = {0};
        tb_fixed fees = 0, last = 0;
        s = pos_db_fixed(r, i, 4, &st.qty, &err);
        if (s == TB_OK) s = pos_db_fixed(r, i, 5, &st.cost, &err);
        if (s == TB_OK) s = pos_db_fixed(r, i, 6, &st.realized, &err);
        if (s == TB_OK) s = pos_db_fixed(r, i, 7, &fees, &err);
        if (s == TB_OK) s = pos_db_fixed(r, i, 8, &last, &err);
        if (s == TB_OK && pos_totals_add(&t[k - 1], &st, fees, last) != TB_OK)
            s = tb_error_set(&err, TB_OVERFLOW, "equity", "figures of %s out of range",
                             v[k - 1].account);
    }
    PQclear(r);
    for (size_t i = 0; s == TB_OK && i < k; i++) {
        v[i].realized_pnl = t[i].realized;
        v[i].unrealized_pnl = t[i].unrealized;
        v[i].fees = t[i].fees;
        if (pos_equity(v[i].cash, &t[i], &v[i].equity) != TB_OK)
            s = tb_error_set(&err, TB_OVERFLOW, "equity", "equity of %s out of range",
                             v[i].account);
    }
    free(t);
    if (s != TB_OK) {
        free(v);
        return bus_fail_err(ctx, &err);
    }
    *out = v;
    *n = k;
    return TB_OK;
}

tb_status pos_api_accounts_get(bus_ctx *ctx, const void *event) {
    const tb_query *q = event;
    const char *id = q->account[0] ? q->account : q->id;
    if (id[0] == '\0') return bus_fail(ctx, TB_MISSING_FIELD, "account", "account required");
    if (!pos_scope_allows(q->accounts, id))
        return bus_fail(ctx, TB_NOT_FOUND, "account", "no account %s", id);
    tb_account *v = NULL;
    size_t n = 0;
    tb_status s = load_accounts(ctx, id, "", "", 1, &v, &n);
    if (s != TB_OK) return s;
    s = n == 1 ? bus_reply(ctx, &tb_account_desc, &v[0])
               : bus_fail(ctx, TB_NOT_FOUND, "account", "no account %s", id);
    free(v);
    return s;
}

tb_status pos_api_accounts_list(bus_ctx *ctx, const void *event) {
    const tb_query *q = event;
    int64_t limit = page_limit(q->limit, 100, 1000);
    tb_account *v = NULL;
    size_t n = 0;
    /* The cursor is the last account id of the previous page. */
    tb_status s = load_accounts(ctx, q->account, q->accounts, q->cursor, limit + 1, &v, &n);
    if (s != TB_OK) return s;
    const char *next = NULL;
    if ((int64_t)n > limit) {
        n = (size_t)limit;
        next = v[n - 1].account;
    }
    s = bus_reply_list(ctx, &tb_account_desc, v, n, next);
    free(v);
    return s;
}

tb_status pos_api_accounts_create(bus_ctx *ctx, const void *event) {
    const tb_account *in = event;
    if (in->initial_cash < 0)
        return bus_fail(ctx, TB_INVALID, "initial_cash", "initial cash must not be negative");
    tb_error err = {0};
    PGconn *c = bus_ctx_pg(ctx, &err);
    if (c == NULL) return bus_fail_err(ctx, &err);
    char cash[TB_FIXED_STRLEN];
    (void)tb_fixed_format(in->initial_cash, cash); /* NUL-terminated; length unused */
    const char *p[3] = {in->account, in->name, cash};
    tb_status s = bus_pg_exec(c,
                              "INSERT INTO accounts (id, name, cash, initial_cash) "
                              "VALUES ($1, $2, $3, $3)",
                              3, p, NULL, &err);
    if (s == TB_CONFLICT)
        return bus_fail(ctx, TB_CONFLICT, "account", "account %s exists", in->account);
    if (s != TB_OK) return bus_fail_err(ctx, &err);
    bus_log(BUS_LOG_INFO, "account %s created", in->account);
    /* The reply is the account as stored, read back the way
     * api.accounts.get reads it, so both show the same resource. */
    tb_account *v = NULL;
    size_t n = 0;
    s = load_accounts(ctx, in->account, "", "", 1, &v, &n);
    if (s != TB_OK) return s;
    s = n == 1 ? bus_reply(ctx, &tb_account_desc, &v[0])
               : bus_fail(ctx, TB_ERR, "account", "account %s not found after its insert",
                          in->account);
    free(v);
    return s;
}

tb_status pos_api_accounts_delete(bus_ctx *ctx, const void *event) {
    const tb_query *q = event;
    const char *id = q->account[0] ? q->account : q->id;
    if (id[0] == '\0') return bus_fail(ctx, TB_MISSING_FIELD, "account", "account required");
    tb_error err = {0};
    PGconn *c = bus_ctx_pg(ctx, &err);
    if (c == NULL) return bus_fail_err(ctx, &err);
    tb_account *v = NULL;
    size_t n = 0;
    tb_status s = load_accounts(ctx, id, "", "", 1, &v, &n);
    if (s != TB_OK) return s;
    if (n != 1) {
        free(v);
        return bus_fail(ctx, TB_NOT_FOUND, "account", "no account %s", id);
    }
    /* Only an account nothing was ever recorded for: the history of one
     * that traded is the record. (A row made meanwhile trips the foreign
     * keys: refused as well.) */
    const char *p[1] = {id};
    PGresult *r = NULL;
    s = bus_pg_exec(c,
                    "DELETE FROM accounts WHERE id = $1 "
                    "AND NOT EXISTS (SELECT 1 FROM orders WHERE account = $1) "
                    "AND NOT EXISTS (SELECT 1 FROM fills WHERE account = $1) "
                    "AND NOT EXISTS (SELECT 1 FROM positions WHERE account = $1) "
                    "AND NOT EXISTS (SELECT 1 FROM strategies WHERE account = $1) RETURNING id",
                    1, p, &r, &err);
    if (s == TB_OK && PQntuples(r) == 0)
        s = tb_error_set(&err, TB_CONFLICT, "account",
                         "account %s has orders, fills, positions or strategies", id);
    else if (s == TB_INVALID)
        s = tb_error_set(&err, TB_CONFLICT, "account", "account %s is in use", id);
    PQclear(r);
    if (s != TB_OK) {
        free(v);
        return bus_fail_err(ctx, &err);
    }
    bus_log(BUS_LOG_INFO, "account %s deleted", id);
    s = bus_reply(ctx, &tb_account_desc, &v[0]);
    free(v);
    return s;
}

/* A fills row as a tb_fill. */
static tb_status row_to_fill(const PGresult *r, int i, tb_fill *f, tb_error *err) {
    memset(f, 0, sizeof *f);
    pos_db_text(r, i, 0, f->fill_id, sizeof f->fill_id);
    pos_db_text(r, i, 1, f->order_id, sizeof f->order_id);
    pos_db_text(r, i, 2, f->account, sizeof f->account);
    pos_db_text(r, i, 3, f->symbol, sizeof f->symbol);
    pos_db_text(r, i, 4, f->side, sizeof f->side);
    tb_status s = pos_db_fixed(r, i, 5, &f->qty, err);
    if (s == TB_OK) s = pos_db_fixed(r, i, 6, &f->price, err);
    if (s == TB_OK) s = pos_db_fixed(r, i, 7, &f->fee, err);
    pos_db_text(r, i, 8, f->liquidity, sizeof f->liquidity);
    pos_db_text(r, i, 9, f->strategy_id, sizeof f->strategy_id);
    f->ts = pos_db_i64(r, i, 10);
    return s;
}

tb_status pos_api_fills_list(bus_ctx *ctx, const void *event) {
    const tb_query *q = event;
    int64_t limit = page_limit(q->limit, 100, 1000);
    if (q->from < 0 || q->to < 0 || (q->to && q->from >= q->to))
        return bus_fail(ctx, TB_INVALID, "from", "time range must be from < to");
    tb_error err = {0};
    PGconn *c = bus_ctx_pg(ctx, &err);
    if (c == NULL) return bus_fail_err(ctx, &err);
    PGresult *r = NULL;
    if (q->cursor[0]) {
        /* The cursor is the last fill id of the previous page. */
        const char *pc[1] = {q->cursor};
        if (bus_pg_exec(c, "SELECT 1 FROM fills WHERE fill_id = $1", 1, pc, &r, &err) != TB_OK)
            return bus_fail_err(ctx, &err);
        int found = PQntuples(r);
        PQclear(r);
        if (!found)
            return bus_fail(ctx, TB_INVALID, "cursor", "cursor %s is not one this service gave",
                            q->cursor);
    }
    char from[24], to[24], lim[24];
    snprintf(from, sizeof from, "%lld", (long long)(q->from / 1000));
    snprintf(to, sizeof to, "%lld", (long long)(q->to / 1000));
    snprintf(lim, sizeof lim, "%lld", (long long)limit + 1);
    const char *p[7] = {q->account, q->symbol, q->accounts, from, to, q->cursor, lim};
    if (bus_pg_exec(
            c,
            "WITH cur AS (SELECT ts AS cts, fill_id AS cid FROM fills WHERE fill_id = $6) "
            "SELECT f.fill_id, f.order_id, f.account, f.symbol, f.side, f.qty, f.price, f.fee, "
            "f.liquidity, f.strategy_id, " POS_SQL_NS(
                "f.ts") " FROM fills f LEFT JOIN cur ON true "
                        "WHERE ($1 = '' OR f.account = $1) AND ($2 = '' OR f.symbol = $2) "
                        "AND ($3 = '' OR f.account = ANY(string_to_array(replace($3, ' ', ''), "
                        "','))) "
                        "AND ($4::bigint = 0 OR f.ts >= 'epoch'::timestamptz + $4::bigint * "
                        "interval '1 microsecond') "
                        "AND ($5::bigint = 0 OR f.ts < 'epoch'::timestamptz + $5::bigint * "
                        "interval '1 microsecond') "
                        "AND ($6 = '' OR f.ts < cur.cts OR (f.ts = cur.cts AND f.fill_id COLLATE "
                        "\"C\" < cur.cid)) "
                        "ORDER BY f.ts DESC, f.fill_id COLLATE \"C\" DESC LIMIT $7::bigint",
            7, p, &r, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    int rows = PQntuples(r);
    int n = rows > limit ? (int)limit : rows;
    tb_fill *items = n ? calloc((size_t)n, sizeof *items) : NULL;
    tb_status s = TB_OK;
    if (n && items == NULL) s = bus_fail(ctx, TB_NOMEM, NULL, "out of memory");
    for (int i = 0; s == TB_OK && i < n; i++)
        if (row_to_fill(r, i, &items[i], &err) != TB_OK) s = bus_fail_err(ctx, &err);
    PQclear(r);
    const char *next = rows > limit && n > 0 ? items[n - 1].fill_id : NULL;
    if (s == TB_OK) s = bus_reply_list(ctx, &tb_fill_desc, items, (size_t)n, next);
    free(items);
    return s;
}
