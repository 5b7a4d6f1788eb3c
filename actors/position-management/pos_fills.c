/* Applying fills from the FILLS stream: exactly once, in one transaction.
 *
 * Per fill: lock the account row (fills of one account serialise on it,
 * which also makes its cash update safe), insert the fill id into
 * applied_fills (no row inserted = already applied: ack and do nothing),
 * lock or create the position row, book the fill with pos_apply_fill, update
 * positions and accounts.cash, commit, then publish pos.update.<acct>.<SYM>.
 *
 * Order: weighted average cost is order dependent, and with N workers fills
 * of one position can arrive in any order. Fills are booked in the canonical
 * order (ts, fill_id) (pos_fill_order): applied_fills keeps each fill and the
 * position right after it, so a fill older than ones already booked is
 * inserted into the chain and only its successors are recomputed. Quantity,
 * cash and fees do not depend on the order; cost basis and realized P&L are
 * the chain's last state. 1 worker and N workers therefore end equal.
 *
 * Locks are always taken account row first, then position row; mark updates
 * (pos_marks.c) only touch position rows, so the two cannot deadlock. */
#include "pos_fills.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pos_db.h"
#include "pos_pnl.h"

/* One fill as read back from applied_fills for a replay. */
typedef struct chain_fill {
    char fill_id[TB_ID_CAP];
    pos_fill_in in;
} chain_fill;

tb_status pos_fill_check(pos_service *svc, const char *subject, const tb_fill *f, pos_fill_in *in,
                         tb_error *err) {
    /* The subject routes the fill (fills.<account>.<symbol>); a body that
     * disagrees with it is not trusted. Only checked for the canonical form. */
    char want[16 + 2 * TB_TOKEN_CAP];
    snprintf(want, sizeof want, "fills.%s.%s", f->account, f->symbol);
    tb_status s = TB_OK;
    *in = (pos_fill_in){.qty = f->qty, .price = f->price, .fee = f->fee};
    if (strncmp(subject, "fills.", 6) == 0 && strcmp(subject, want) != 0)
        s = tb_error_set(err, TB_INVALID, "account", "fill %s for %s/%s arrived on subject %s",
                         f->fill_id, f->account, f->symbol, subject);
    else if (pos_side_parse(f->side, &in->side) != TB_OK)
        s = tb_error_set(err, TB_INVALID, "side", "fill %s: side must be buy or sell", f->fill_id);
    else if (f->qty <= 0)
        s = tb_error_set(err, TB_INVALID, "qty", "fill %s: quantity must be positive", f->fill_id);
    else if (f->price <= 0)
        s = tb_error_set(err, TB_INVALID, "price", "fill %s: price must be positive", f->fill_id);
    else if (f->ts <= 0)
        s = tb_error_set(err, TB_INVALID, "ts", "fill %s: time must be positive", f->fill_id);
    if (s != TB_OK && svc) bus_counter_add(svc->m_rejected, 1);
    return s;
}

static void fmt_fixed(tb_fixed v, char buf[TB_FIXED_STRLEN]) {
    (void)tb_fixed_format(v, buf); /* length not needed: NUL-terminated */
}

/* Whether the stored copy of fill_id says the same as f. Rows from before
 * migration 0500 carry no data and are taken as the same fill. */
static tb_status same_as_stored(PGconn *c, const tb_fill *f, bool *same, tb_error *err) {
    const char *p[1] = {f->fill_id};
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(c,
                              "SELECT account, symbol, side, qty, price, fee, ts_ns "
                              "FROM applied_fills WHERE fill_id = $1",
                              1, p, &r, err);
    if (s != TB_OK) return s;
    *same = true;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
        tb_fixed qty = 0, price = 0, fee = 0;
        s = pos_db_fixed(r, 0, 3, &qty, err);
        if (s == TB_OK) s = pos_db_fixed(r, 0, 4, &price, err);
        if (s == TB_OK) s = pos_db_fixed(r, 0, 5, &fee, err);
        *same = s == TB_OK && strcmp(PQgetvalue(r, 0, 0), f->account) == 0 &&
                strcmp(PQgetvalue(r, 0, 1), f->symbol) == 0 &&
                strcmp(PQgetvalue(r, 0, 2), f->side) == 0 && qty == f->qty && price == f->price &&
                fee == f->fee && pos_db_i64(r, 0, 6) == f->ts;
    }
    PQclear(r);
    return s;
}

static tb_status store_post_state(PGconn *c, const char *fill_id, const pos_state *st,
                                  tb_error *err) {
    char q[TB_FIXED_STRLEN], cost[TB_FIXED_STRLEN], real[TB_FIXED_STRLEN];
    fmt_fixed(st->qty, q);
    fmt_fixed(st->cost, cost);
    fmt_fixed(st->realized, real);
    const char *p[4] = {fill_id, q, cost, real};
    return bus_pg_exec(c,
                       "UPDATE applied_fills SET post_qty = $2, post_cost = $3, "
                       "post_realized = $4 WHERE fill_id = $1",
                       4, p, NULL, err);
}

/* Fills of the position booked after f in the canonical order. *out is
 * malloc'd (caller frees), *n its length. */
static tb_status load_successors(PGconn *c, const tb_fill *f, chain_fill **out, int *n,
                                 tb_error *err) {
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)f->ts);
    const char *p[4] = {f->account, f->symbol, ts, f->fill_id};
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(c,
                              "SELECT fill_id, side, qty, price, fee FROM applied_fills "
                              "WHERE account = $1 AND symbol = $2 "
                              "AND (ts_ns, fill_id COLLATE \"C\") > ($3::bigint, $4 COLLATE \"C\") "
                              "ORDER BY ts_ns, fill_id COLLATE \"C\"",
                              4, p, &r, err);
    if (s != TB_OK) return s;
    int rows = PQntuples(r);
    chain_fill *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
    if (rows && v == NULL) s = tb_error_set(err, TB_NOMEM, NULL, NULL);
    for (int i = 0; s == TB_OK && i < rows; i++) {
        pos_db_text(r, i, 0, v[i].fill_id, sizeof v[i].fill_id);
        if (pos_side_parse(PQgetvalue(r, i, 1), &v[i].in.side) != TB_OK)
            s = tb_error_set(err, TB_INVALID, "side", "stored fill %s has side %s", v[i].fill_id,
                             PQgetvalue(r, i, 1));
        if (s == TB_OK) s = pos_db_fixed(r, i, 2, &v[i].in.qty, err);
        if (s == TB_OK) s = pos_db_fixed(r, i, 3, &v[i].in.price, err);
        if (s == TB_OK) s = pos_db_fixed(r, i, 4, &v[i].in.fee, err);
    }
    PQclear(r);
    if (s != TB_OK) {
        free(v);
        return s;
    }
    *out = v;
    *n = rows;
    return TB_OK;
}

/* Position right before f in the canonical order (zero when f is first). */
static tb_status load_predecessor(PGconn *c, const tb_fill *f, pos_state *st, tb_error *err) {
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)f->ts);
    const char *p[4] = {f->account, f->symbol, ts, f->fill_id};
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(
        c,
        "SELECT post_qty, post_cost, post_realized FROM applied_fills "
        "WHERE account = $1 AND symbol = $2 "
        "AND (ts_ns < $3::bigint OR (ts_ns = $3::bigint AND fill_id COLLATE \"C\" < $4)) "
        "ORDER BY ts_ns DESC, fill_id COLLATE \"C\" DESC LIMIT 1",
        4, p, &r, err);
    if (s != TB_OK) return s;
    memset(st, 0, sizeof *st);
    if (PQntuples(r) == 1) {
        if (PQgetisnull(r, 0, 0))
            s = tb_error_set(err, TB_INVALID, "fill_id",
                             "cannot reorder: an earlier fill of %s/%s has no recorded state",
                             f->account, f->symbol);
        if (s == TB_OK) s = pos_db_fixed(r, 0, 0, &st->qty, err);
        if (s == TB_OK) s = pos_db_fixed(r, 0, 1, &st->cost, err);
        if (s == TB_OK) s = pos_db_fixed(r, 0, 2, &st->realized, err);
    }
    PQclear(r);
    return s;
}

/* The booked position after this fill, and the cash moved by it. */
typedef struct booked {
    pos_state state;
    tb_fixed fees, cash, last_price;
    bool reordered;
} booked;

/* Books f inside the open transaction (account and position rows locked). */
static tb_status book(PGconn *c, const tb_fill *f, const pos_fill_in *in, tb_fixed cash_before,
                      booked *out, tb_error *err) {
    const char *pk[2] = {f->account, f->symbol};
    tb_status s = bus_pg_exec(c,
                              "INSERT INTO positions (account, symbol) VALUES ($1, $2) "
                              "ON CONFLICT (account, symbol) DO NOTHING",
                              2, pk, NULL, err);
    /* The symbol's newest mark, when newer than the position's own: a
     * position opened after the symbol's last tick still ends marked. */
    if (s == TB_OK)
        s = bus_pg_exec(c,
                        "UPDATE positions p SET last_price = m.price, mark_ts = m.mark_ts "
                        "FROM pos_symbol_marks m WHERE p.account = $1 AND p.symbol = $2 AND "
                        "m.symbol = p.symbol AND (p.mark_ts IS NULL OR p.mark_ts < m.mark_ts)",
                        2, pk, NULL, err);
    PGresult *r = NULL;
    if (s == TB_OK)
        s = bus_pg_exec(c,
                        "SELECT qty, cost_basis, realized_pnl, fees, last_price FROM positions "
                        "WHERE account = $1 AND symbol = $2 FOR UPDATE",
                        2, pk, &r, err);
    if (s != TB_OK) return s;
    pos_state current = {0};
    tb_fixed fees = 0, last = 0;
    s = pos_db_fixed(r, 0, 0, &current.qty, err);
    if (s == TB_OK) s = pos_db_fixed(r, 0, 1, &current.cost, err);
    if (s == TB_OK) s = pos_db_fixed(r, 0, 2, &current.realized, err);
    if (s == TB_OK) s = pos_db_fixed(r, 0, 3, &fees, err);
    if (s == TB_OK) s = pos_db_fixed(r, 0, 4, &last, err);
    PQclear(r);
    if (s != TB_OK) return s;

    chain_fill *later = NULL;
    int nlater = 0;
    s = load_successors(c, f, &later, &nlater, err);
    if (s != TB_OK) return s;
    /* In order (the usual case): book on top of the current position. Late:
     * restart from the position right before it and replay what follows. */
    pos_state st = current;
    if (nlater > 0) s = load_predecessor(c, f, &st, err);
    pos_effect e;
    if (s == TB_OK) s = pos_apply_fill(&st, in, &e, err);
    if (s == TB_OK) s = store_post_state(c, f->fill_id, &e.after, err);
    tb_fixed cash_delta = e.cash_delta;
    for (int i = 0; s == TB_OK && i < nlater; i++) {
        st = e.after;
        s = pos_apply_fill(&st, &later[i].in, &e, err);
        if (s == TB_OK) s = store_post_state(c, later[i].fill_id, &e.after, err);
    }
    free(later);
    if (s != TB_OK) return s;
    /* Quantity does not depend on the order: the replay must agree with it. */
    tb_fixed want_qty;
    if (tb_fixed_add(current.qty, in->side == POS_BUY ? in->qty : -in->qty, &want_qty) != TB_OK ||
        want_qty != e.after.qty)
        return tb_error_set(err, TB_ERR, "qty",
                            "replay of %s/%s disagrees with the stored quantity", f->account,
                            f->symbol);

    booked b = {.state = e.after, .last_price = last, .reordered = nlater > 0};
    if (tb_fixed_add(fees, in->fee, &b.fees) != TB_OK)
        return tb_error_set(err, TB_OVERFLOW, "fee", "fees of %s/%s out of range", f->account,
                            f->symbol);
    if (tb_fixed_add(cash_before, cash_delta, &b.cash) != TB_OK)
        return tb_error_set(err, TB_OVERFLOW, "cash", "cash of %s out of range", f->account);
    tb_fixed avg;
    if (pos_avg_cost(&b.state, &avg) != TB_OK)
        return tb_error_set(err, TB_OVERFLOW, "avg_cost", "average cost out of range");

    char q[TB_FIXED_STRLEN], cost[TB_FIXED_STRLEN], av[TB_FIXED_STRLEN], real[TB_FIXED_STRLEN],
        fe[TB_FIXED_STRLEN], cash[TB_FIXED_STRLEN];
    fmt_fixed(b.state.qty, q);
    fmt_fixed(b.state.cost, cost);
    fmt_fixed(avg, av);
    fmt_fixed(b.state.realized, real);
    fmt_fixed(b.fees, fe);
    fmt_fixed(b.cash, cash);
    const char *up[7] = {f->account, f->symbol, q, cost, av, real, fe};
    s = bus_pg_exec(c,
                    "UPDATE positions SET qty = $3, cost_basis = $4, avg_cost = $5, "
                    "realized_pnl = $6, fees = $7 WHERE account = $1 AND symbol = $2",
                    7, up, NULL, err);
    const char *ac[2] = {f->account, cash};
    if (s == TB_OK)
        s = bus_pg_exec(c, "UPDATE accounts SET cash = $2 WHERE id = $1", 2, ac, NULL, err);
    if (s == TB_OK) *out = b;
    return s;
}

void pos_fill_publish(bus_actor *a, const char *trace, const tb_fill *f, const pos_state *st,
                      tb_fixed last_price, tb_fixed cash) {
    tb_position_update u;
    memset(&u, 0, sizeof u);
    snprintf(u.account, sizeof u.account, "%s", f->account);
    snprintf(u.symbol, sizeof u.symbol, "%s", f->symbol);
    snprintf(u.fill_id, sizeof u.fill_id, "%s", f->fill_id);
    u.qty = st->qty;
    u.realized_pnl = st->realized;
    u.last_price = last_price;
    u.cash = cash;
    u.ts = tb_now_ns();
    if (pos_avg_cost(st, &u.avg_cost) != TB_OK ||
        pos_unrealized(st, last_price, &u.unrealized_pnl) != TB_OK) {
        bus_log(BUS_LOG_WARN, "pos.update for %s/%s not sent: value out of range", f->account,
                f->symbol);
        return;
    }
    char subject[32 + 2 * TB_TOKEN_CAP];
    snprintf(subject, sizeof subject, "pos.update.%s.%s", f->account, f->symbol);
    bus_msg_meta meta = {.trace_id = trace};
    /* Core NATS, at most once: the position itself is committed; readers
     * that missed an update ask api.positions.get. */
    if (bus_publish(bus_actor_conn(a), subject, &tb_position_update_desc, &u, &meta) != TB_OK)
        bus_log(BUS_LOG_WARN, "pos.update for %s/%s not published", f->account, f->symbol);
}

static tb_status reject(pos_service *svc, tb_status s, const char *field, const char *msg,
                        const tb_fill *f, tb_error *err) {
    if (svc) bus_counter_add(svc->m_rejected, 1);
    return tb_error_set(err, s, field, "fill %s: %s", f->fill_id, msg);
}

tb_status pos_fill_apply(bus_ctx *ctx, const char *subject, const char *trace, const tb_fill *f,
                         tb_error *err_out) {
    pos_service *svc = pos_service_of(ctx);
    pos_fill_in in;
    tb_status s = pos_fill_check(svc, subject, f, &in, err_out);
    if (s != TB_OK) return s;

    PGconn *c = bus_ctx_pg(ctx, err_out);
    if (c == NULL) return err_out->status;
    if ((s = pos_db_begin(c, err_out)) != TB_OK) return s;
    tb_error err = {0};

    PGresult *r = NULL;
    const char *pa[1] = {f->account};
    s = bus_pg_exec(c, "SELECT cash FROM accounts WHERE id = $1 FOR NO KEY UPDATE", 1, pa, &r,
                    &err);
    tb_fixed cash = 0;
    if (s == TB_OK && PQntuples(r) == 0) {
        PQclear(r);
        pos_db_rollback(c);
        /* Permanent: accounts exist before their orders, so this fill is not
         * ours to book; it goes to the dead-letter stream for people. */
        return reject(svc, TB_INVALID, "account", "unknown account", f, err_out);
    }
    if (s == TB_OK) s = pos_db_fixed(r, 0, 0, &cash, &err);
    PQclear(r);

    char qty[TB_FIXED_STRLEN], price[TB_FIXED_STRLEN], fee[TB_FIXED_STRLEN], ts[24];
    fmt_fixed(f->qty, qty);
    fmt_fixed(f->price, price);
    fmt_fixed(f->fee, fee);
    snprintf(ts, sizeof ts, "%lld", (long long)f->ts);
    const char *pi[8] = {f->fill_id, f->account, f->symbol, f->side, qty, price, fee, ts};
    r = NULL;
    if (s == TB_OK)
        s = bus_pg_exec(c,
                        "INSERT INTO applied_fills (fill_id, account, symbol, side, qty, price, "
                        "fee, ts_ns) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::bigint) "
                        "ON CONFLICT (fill_id) DO NOTHING RETURNING 1",
                        8, pi, &r, &err);
    if (s == TB_OK && PQntuples(r) == 0) {
        /* Applied before (a redelivery or a second publish): nothing to do,
         * unless the copy disagrees, which is a producer bug worth a dead
         * letter rather than silence. */
        PQclear(r);
        bool same = true;
        s = same_as_stored(c, f, &same, &err);
        pos_db_rollback(c);
        if (s != TB_OK) {
            *err_out = err;
            return s;
        }
        if (!same)
            return reject(svc, TB_CONFLICT, "fill_id",
                          "already applied with different contents; this copy is ignored", f,
                          err_out);
        if (svc) bus_counter_add(svc->m_duplicates, 1);
        bus_log(BUS_LOG_DEBUG, "fill %s already applied", f->fill_id);
        return TB_OK;
    }
    PQclear(r);

    booked b;
    if (s == TB_OK) s = book(c, f, &in, cash, &b, &err);
    if (s == TB_OK) s = pos_db_commit(c, &err);
    if (s != TB_OK) {
        pos_db_rollback(c);
        if (s == TB_OVERFLOW || s == TB_INVALID) {
            if (svc) bus_counter_add(svc->m_rejected, 1);
            bus_log(BUS_LOG_ERROR, "fill %s not applied: %s", f->fill_id, err.message);
        }
        *err_out = err;
        return s;
    }
    if (svc) {
        bus_counter_add(svc->m_applied, 1);
        if (b.reordered) bus_counter_add(svc->m_reordered, 1);
    }
    pos_fill_publish(bus_ctx_actor(ctx), trace, f, &b.state, b.last_price, b.cash);
    return TB_OK;
}

tb_status pos_on_fill(bus_ctx *ctx, const void *event) {
    tb_error err = {0};
    tb_status s = pos_fill_apply(ctx, bus_ctx_subject(ctx), bus_ctx_trace(ctx), event, &err);
    return s == TB_OK ? TB_OK : bus_fail_err(ctx, &err);
}
