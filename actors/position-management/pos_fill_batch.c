/* A batch of fills from the FILLS stream booked in one transaction with a
 * fixed number of statements (pos_fills.h). The rules are pos_fills.c's,
 * applied to many fills at once:
 *
 *   1. fills that fail the checks, and later copies of a fill already in the
 *      batch, are settled without the store;
 *   2. the batch's account rows are locked in id order (fills of one account
 *      serialise on them, as one by one) and their cash read; fills of an
 *      unknown account fail alone;
 *   3. one INSERT ... ON CONFLICT DO NOTHING into applied_fills says which
 *      fills are new in this transaction; the others were applied before and
 *      are compared with the stored copy (same: a duplicate, acked; other
 *      contents: failed alone);
 *   4. the positions of the new fills are created, marked and locked, then
 *      each position's chain is read from its earliest new fill on (the new
 *      fills and any later fills booked before) with the state right before
 *      it, replayed in the canonical order (ts, fill_id) and written back:
 *      post-states, positions, cash;
 *   5. one commit; pos.update per new fill in arrival order, each with what
 *      booking the batch's fills one by one in that order would have sent.
 *
 * Anything that fails the transaction as a whole (a store error, a deadlock,
 * an overflow, a chain that cannot be replayed) rolls it back and the batch
 * is applied fill by fill with pos_fill_apply, which fails only the fill at
 * fault. */
#include <stdlib.h>
#include <string.h>

#include "pgarray.h"
#include "pos_chain_sql.h"
#include "pos_fills.h"

enum item_state { ITEM_PENDING, ITEM_FAILED, ITEM_DUPLICATE, ITEM_NEW };

typedef struct item {
    const tb_fill *f;
    pos_fill_in in;
    enum item_state state;
    size_t acct, key, row; /* indexes into the batch's accounts, positions, chain rows */
    tb_fixed cash_delta;
} item;

typedef struct acct {
    const char *id;
    bool found;
    tb_fixed cash, cash_after;
} acct;

/* One position of the batch, its chain rows rows[first .. first + n). */
typedef struct key {
    const char *account, *symbol;
    size_t acct;
    const tb_fill *earliest; /* its first new fill in canonical order */
    pos_state current, pred, final;
    bool have_pred, pred_null;
    tb_fixed fees, last;
    size_t first, n, nold;
    long last_old; /* chain index of its last fill booked before, -1: none */
} key;

typedef struct chain_row {
    char fill_id[TB_ID_CAP];
    pos_fill_in in;
    pos_state post;
    long item; /* -1: booked before this batch */
} chain_row;

typedef struct batch {
    bus_ctx *ctx;
    const bus_batch *b;
    pos_service *svc;
    size_t n, naccts, nkeys, nrows;
    item *items;
    acct *accts;
    key *keys;
    chain_row *rows;
} batch;

/* ---- helpers ---- */

static bool canon_before(const tb_fill *a, const tb_fill *b) {
    return a->ts < b->ts || (a->ts == b->ts && strcmp(a->fill_id, b->fill_id) < 0);
}

static bool same_fill(const tb_fill *a, const tb_fill *b) {
    return strcmp(a->account, b->account) == 0 && strcmp(a->symbol, b->symbol) == 0 &&
           strcmp(a->side, b->side) == 0 && a->qty == b->qty && a->price == b->price &&
           a->fee == b->fee && a->ts == b->ts;
}

static void fail_item(batch *bt, size_t i, tb_status s, const char *msg) {
    bt->items[i].state = ITEM_FAILED;
    bus_batch_fail(bt->b, i, s, "%s", msg);
}

/* Fails fill i alone as a refused fill (counted), saying why. */
static void reject_item(batch *bt, size_t i, tb_status s, const char *why) {
    if (bt->svc) bus_counter_add(bt->svc->m_rejected, 1);
    char msg[200];
    snprintf(msg, sizeof msg, "fill %s: %s", bt->items[i].f->fill_id, why);
    fail_item(bt, i, s, msg);
}

/* Runs sql with the nargs arrays as its parameters, then frees them. */
static tb_status exec_arrays(PGconn *c, const char *sql, bus_pgarray *a, size_t nargs, PGresult **r,
                             tb_error *err) {
    const char *p[8];
    tb_status s = bus_pgarray_finish_all(a, nargs, p, err);
    if (s == TB_OK) s = bus_pg_exec(c, sql, (int)nargs, p, r, err);
    bus_pgarray_close_all(a, nargs);
    return s;
}

static size_t find_acct(const batch *bt, const char *id) {
    for (size_t k = 0; k < bt->naccts; k++)
        if (strcmp(bt->accts[k].id, id) == 0) return k;
    return SIZE_MAX;
}

static size_t find_key(const batch *bt, const char *account, const char *symbol) {
    for (size_t k = 0; k < bt->nkeys; k++)
        if (strcmp(bt->keys[k].account, account) == 0 && strcmp(bt->keys[k].symbol, symbol) == 0)
            return k;
    return SIZE_MAX;
}

static int cmp_acct(const void *x, const void *y) {
    return strcmp(((const acct *)x)->id, ((const acct *)y)->id);
}

static int cmp_key(const void *x, const void *y) {
    const key *a = x, *b = y;
    int c = strcmp(a->account, b->account);
    return c ? c : strcmp(a->symbol, b->symbol);
}

/* ---- 1. checks without the store ---- */

static void check_items(batch *bt) {
    for (size_t i = 0; i < bt->n; i++) {
        item *it = &bt->items[i];
        tb_error err = {0};
        if (pos_fill_check(bt->svc, bus_batch_subject(bt->b, i), it->f, &it->in, &err) != TB_OK) {
            fail_item(bt, i, err.status, err.message);
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            const item *first = &bt->items[j];
            if (first->state != ITEM_PENDING || strcmp(first->f->fill_id, it->f->fill_id) != 0)
                continue;
            if (same_fill(first->f, it->f)) {
                it->state = ITEM_DUPLICATE;
            } else {
                reject_item(bt, i, TB_CONFLICT, "sent twice with different contents");
            }
            break;
        }
    }
}

/* ---- 2. accounts ---- */

static tb_status lock_accounts(batch *bt, PGconn *c, tb_error *err) {
    for (size_t i = 0; i < bt->n; i++)
        if (bt->items[i].state == ITEM_PENDING &&
            find_acct(bt, bt->items[i].f->account) == SIZE_MAX)
            bt->accts[bt->naccts++] = (acct){.id = bt->items[i].f->account};
    if (bt->naccts == 0) return TB_OK;
    qsort(bt->accts, bt->naccts, sizeof *bt->accts, cmp_acct);
    bus_pgarray a[1] = {{0}};
    for (size_t k = 0; k < bt->naccts; k++) bus_pgarray_str(&a[0], bt->accts[k].id);
    PGresult *r = NULL;
    /* In id order: two batches never wait on each other's account rows. */
    tb_status s = exec_arrays(c,
                              "SELECT id, cash FROM accounts WHERE id = ANY ($1::text[]) "
                              "ORDER BY id COLLATE \"C\" FOR NO KEY UPDATE",
                              a, 1, &r, err);
    for (int row = 0; s == TB_OK && row < PQntuples(r); row++) {
        size_t k = find_acct(bt, PQgetvalue(r, row, 0));
        if (k == SIZE_MAX) continue;
        bt->accts[k].found = true;
        s = pos_db_fixed(r, row, 1, &bt->accts[k].cash, err);
        bt->accts[k].cash_after = bt->accts[k].cash;
    }
    PQclear(r);
    for (size_t i = 0; s == TB_OK && i < bt->n; i++) {
        item *it = &bt->items[i];
        if (it->state != ITEM_PENDING) continue;
        it->acct = find_acct(bt, it->f->account);
        if (!bt->accts[it->acct].found) {
            /* Permanent, as one by one: accounts exist before their orders. */
            reject_item(bt, i, TB_INVALID, "unknown account");
        }
    }
    return s;
}

/* ---- 3. idempotency ---- */

static tb_status insert_applied(batch *bt, PGconn *c, size_t *nnew, tb_error *err) {
    enum { NA = 8 };
    bus_pgarray a[NA] = {{0}};
    size_t pending = 0;
    for (size_t i = 0; i < bt->n; i++) {
        const item *it = &bt->items[i];
        if (it->state != ITEM_PENDING) continue;
        const tb_fill *f = it->f;
        bus_pgarray_str(&a[0], f->fill_id);
        bus_pgarray_str(&a[1], f->account);
        bus_pgarray_str(&a[2], f->symbol);
        bus_pgarray_str(&a[3], f->side);
        bus_pgarray_fixed(&a[4], f->qty);
        bus_pgarray_fixed(&a[5], f->price);
        bus_pgarray_fixed(&a[6], f->fee);
        bus_pgarray_i64(&a[7], f->ts);
        pending++;
    }
    *nnew = 0;
    if (pending == 0) {
        bus_pgarray_close_all(a, NA);
        return TB_OK;
    }
    PGresult *r = NULL;
    tb_status s = exec_arrays(c,
                              "INSERT INTO applied_fills (fill_id, account, symbol, side, qty, "
                              "price, fee, ts_ns) SELECT * FROM unnest($1::text[], $2::text[], "
                              "$3::text[], $4::text[], $5::numeric[], $6::numeric[], "
                              "$7::numeric[], $8::bigint[]) "
                              "ON CONFLICT (fill_id) DO NOTHING RETURNING fill_id",
                              a, NA, &r, err);
    for (int row = 0; s == TB_OK && row < PQntuples(r); row++)
        for (size_t i = 0; i < bt->n; i++) {
            item *it = &bt->items[i];
            if (it->state == ITEM_PENDING && strcmp(it->f->fill_id, PQgetvalue(r, row, 0)) == 0) {
                it->state = ITEM_NEW;
                (*nnew)++;
                break;
            }
        }
    PQclear(r);
    return s;
}

/* Fills still pending were applied before: the same copy is a duplicate,
 * another is failed alone. Rows from before migration 0500 carry no data
 * and count as the same fill. */
static tb_status compare_stored(batch *bt, PGconn *c, tb_error *err) {
    bus_pgarray a[1] = {{0}};
    size_t pending = 0;
    for (size_t i = 0; i < bt->n; i++)
        if (bt->items[i].state == ITEM_PENDING) {
            bus_pgarray_str(&a[0], bt->items[i].f->fill_id);
            pending++;
        }
    if (pending == 0) {
        bus_pgarray_close_all(a, 1);
        return TB_OK;
    }
    PGresult *r = NULL;
    tb_status s = exec_arrays(c,
                              "SELECT fill_id, account, symbol, side, qty, price, fee, ts_ns "
                              "FROM applied_fills WHERE fill_id = ANY ($1::text[])",
                              a, 1, &r, err);
    for (int row = 0; s == TB_OK && row < PQntuples(r); row++) {
        tb_fill stored;
        memset(&stored, 0, sizeof stored);
        bool legacy = PQgetisnull(r, row, 1);
        pos_db_text(r, row, 1, stored.account, sizeof stored.account);
        pos_db_text(r, row, 2, stored.symbol, sizeof stored.symbol);
        pos_db_text(r, row, 3, stored.side, sizeof stored.side);
        if (!legacy) s = pos_db_fixed(r, row, 4, &stored.qty, err);
        if (s == TB_OK && !legacy) s = pos_db_fixed(r, row, 5, &stored.price, err);
        if (s == TB_OK && !legacy) s = pos_db_fixed(r, row, 6, &stored.fee, err);
        stored.ts = pos_db_i64(r, row, 7);
        for (size_t i = 0; s == TB_OK && i < bt->n; i++) {
            item *it = &bt->items[i];
            if (it->state != ITEM_PENDING || strcmp(it->f->fill_id, PQgetvalue(r, row, 0)) != 0)
                continue;
            if (legacy || same_fill(&stored, it->f)) {
                it->state = ITEM_DUPLICATE;
            } else {
                reject_item(bt, i, TB_CONFLICT,
                            "already applied with different contents; this copy is ignored");
            }
        }
    }
    PQclear(r);
    for (size_t i = 0; s == TB_OK && i < bt->n; i++)
        if (bt->items[i].state == ITEM_PENDING) /* neither inserted nor stored: a race */
            s = tb_error_set(err, TB_UNAVAILABLE, "fill_id", "fill %s vanished",
                             bt->items[i].f->fill_id);
    return s;
}

/* ---- 4. positions and chains ---- */

static tb_status lock_positions(batch *bt, PGconn *c, tb_error *err) {
    for (size_t i = 0; i < bt->n; i++) {
        item *it = &bt->items[i];
        if (it->state != ITEM_NEW) continue;
        size_t k = find_key(bt, it->f->account, it->f->symbol);
        if (k == SIZE_MAX) {
            k = bt->nkeys++;
            bt->keys[k] = (key){.account = it->f->account,
                                .symbol = it->f->symbol,
                                .acct = it->acct,
                                .earliest = it->f,
                                .last_old = -1};
        } else if (canon_before(it->f, bt->keys[k].earliest)) {
            bt->keys[k].earliest = it->f;
        }
    }
    qsort(bt->keys, bt->nkeys, sizeof *bt->keys, cmp_key);
    for (size_t i = 0; i < bt->n; i++)
        if (bt->items[i].state == ITEM_NEW)
            bt->items[i].key = find_key(bt, bt->items[i].f->account, bt->items[i].f->symbol);

    bus_pgarray a[2] = {{0}};
    for (size_t k = 0; k < bt->nkeys; k++) {
        bus_pgarray_str(&a[0], bt->keys[k].account);
        bus_pgarray_str(&a[1], bt->keys[k].symbol);
    }
    const char *p[2];
    tb_status s = bus_pgarray_finish_all(a, 2, p, err);
    if (s == TB_OK)
        s = bus_pg_exec(c,
                        "INSERT INTO positions (account, symbol) SELECT * FROM unnest($1::text[], "
                        "$2::text[]) ON CONFLICT (account, symbol) DO NOTHING",
                        2, p, NULL, err);
    /* Locked in (symbol, account) order, as mark writes (pos_marks.c) lock
     * them, so the two never wait on each other in a cycle; then the
     * symbol's newest mark, when newer than the position's own: a position
     * opened after the symbol's last tick still ends marked. */
    PGresult *r = NULL;
    if (s == TB_OK)
        s = bus_pg_exec(
            c,
            "WITH l AS (SELECT p.account, p.symbol, p.qty, p.cost_basis, p.realized_pnl, "
            "  p.fees, p.last_price FROM positions p JOIN unnest($1::text[], $2::text[]) AS "
            "  k(account, symbol) ON p.account = k.account AND p.symbol = k.symbol "
            "  ORDER BY p.symbol, p.account FOR UPDATE OF p), "
            "u AS (UPDATE positions p SET last_price = m.price, mark_ts = m.mark_ts, "
            "  updated_at = now() FROM l, "
            "  pos_symbol_marks m WHERE p.account = l.account AND p.symbol = l.symbol AND "
            "  m.symbol = p.symbol AND (p.mark_ts IS NULL OR p.mark_ts < m.mark_ts) "
            "  RETURNING p.account, p.symbol, p.last_price) "
            "SELECT l.account, l.symbol, l.qty, l.cost_basis, l.realized_pnl, l.fees, "
            "  COALESCE(u.last_price, l.last_price) FROM l LEFT JOIN u ON u.account = "
            "  l.account AND u.symbol = l.symbol",
            2, p, &r, err);
    bus_pgarray_close_all(a, 2);
    for (int row = 0; s == TB_OK && row < PQntuples(r); row++) {
        size_t k = find_key(bt, PQgetvalue(r, row, 0), PQgetvalue(r, row, 1));
        if (k == SIZE_MAX) continue;
        key *ky = &bt->keys[k];
        s = pos_db_fixed(r, row, 2, &ky->current.qty, err);
        if (s == TB_OK) s = pos_db_fixed(r, row, 3, &ky->current.cost, err);
        if (s == TB_OK) s = pos_db_fixed(r, row, 4, &ky->current.realized, err);
        if (s == TB_OK) s = pos_db_fixed(r, row, 5, &ky->fees, err);
        if (s == TB_OK) s = pos_db_fixed(r, row, 6, &ky->last, err);
    }
    if (s == TB_OK && PQntuples(r) != (int)bt->nkeys)
        s = tb_error_set(err, TB_UNAVAILABLE, NULL, "positions of the batch not all locked");
    PQclear(r);
    return s;
}

static void key_arrays(const batch *bt, bus_pgarray *a) {
    for (size_t k = 0; k < bt->nkeys; k++) {
        const key *ky = &bt->keys[k];
        bus_pgarray_str(&a[0], ky->account);
        bus_pgarray_str(&a[1], ky->symbol);
        bus_pgarray_i64(&a[2], ky->earliest->ts);
        bus_pgarray_str(&a[3], ky->earliest->fill_id);
    }
}

/* Each position's fills from its earliest new one on (pos_chain_sql.h). */
static tb_status load_chains(batch *bt, PGconn *c, tb_error *err) {
    bus_pgarray a[4] = {{0}};
    key_arrays(bt, a);
    PGresult *r = NULL;
    tb_status s = exec_arrays(c, pos_chains_sql, a, 4, &r, err);
    if (s != TB_OK) {
        PQclear(r);
        return s;
    }
    int nt = PQntuples(r);
    bt->rows = calloc(nt > 0 ? (size_t)nt : 1, sizeof *bt->rows);
    if (bt->rows == NULL) s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    for (int row = 0; s == TB_OK && row < nt; row++) {
        long ki = strtol(PQgetvalue(r, row, 0), NULL, 10) - 1;
        if (ki < 0 || (size_t)ki >= bt->nkeys) {
            s = tb_error_set(err, TB_ERR, NULL, "chain row of an unknown position");
            break;
        }
        key *ky = &bt->keys[ki];
        if (ky->n == 0) ky->first = bt->nrows;
        chain_row *cr = &bt->rows[bt->nrows++];
        ky->n++;
        pos_db_text(r, row, 1, cr->fill_id, sizeof cr->fill_id);
        if (pos_side_parse(PQgetvalue(r, row, 2), &cr->in.side) != TB_OK)
            s = tb_error_set(err, TB_INVALID, "side", "stored fill %s has side %s", cr->fill_id,
                             PQgetvalue(r, row, 2));
        if (s == TB_OK) s = pos_db_fixed(r, row, 3, &cr->in.qty, err);
        if (s == TB_OK) s = pos_db_fixed(r, row, 4, &cr->in.price, err);
        if (s == TB_OK) s = pos_db_fixed(r, row, 5, &cr->in.fee, err);
        cr->item = -1;
        for (size_t i = 0; i < bt->n; i++) {
            item *it = &bt->items[i];
            if (it->state == ITEM_NEW && it->key == (size_t)ki &&
                strcmp(it->f->fill_id, cr->fill_id) == 0) {
                cr->item = (long)i;
                it->row = bt->nrows - 1;
                break;
            }
        }
        if (cr->item < 0) {
            ky->nold++;
            ky->last_old = (long)(bt->nrows - 1 - ky->first);
        }
    }
    PQclear(r);
    return s;
}

/* The state right before each position's earliest new fill, needed only
 * where fills booked before come after it (a late fill). */
static tb_status load_predecessors(batch *bt, PGconn *c, tb_error *err) {
    bool any = false;
    for (size_t k = 0; k < bt->nkeys; k++) any |= bt->keys[k].nold > 0;
    if (!any) return TB_OK;
    bus_pgarray a[4] = {{0}};
    key_arrays(bt, a);
    PGresult *r = NULL;
    tb_status s = exec_arrays(
        c,
        "SELECT k.i, p.post_qty IS NULL, p.post_qty, p.post_cost, p.post_realized FROM "
        "unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) WITH ORDINALITY AS "
        "k(account, symbol, ts_ns, fill_id, i) CROSS JOIN LATERAL (SELECT post_qty, post_cost, "
        "post_realized FROM applied_fills a WHERE a.account = k.account AND a.symbol = k.symbol "
        "AND (a.ts_ns, a.fill_id COLLATE \"C\") < (k.ts_ns, k.fill_id COLLATE \"C\") "
        "ORDER BY a.ts_ns DESC, a.fill_id COLLATE \"C\" DESC LIMIT 1) p",
        a, 4, &r, err);
    for (int row = 0; s == TB_OK && row < PQntuples(r); row++) {
        long ki = strtol(PQgetvalue(r, row, 0), NULL, 10) - 1;
        if (ki < 0 || (size_t)ki >= bt->nkeys) continue;
        key *ky = &bt->keys[ki];
        ky->have_pred = true;
        ky->pred_null = PQgetvalue(r, row, 1)[0] == 't';
        if (!ky->pred_null) {
            s = pos_db_fixed(r, row, 2, &ky->pred.qty, err);
            if (s == TB_OK) s = pos_db_fixed(r, row, 3, &ky->pred.cost, err);
            if (s == TB_OK) s = pos_db_fixed(r, row, 4, &ky->pred.realized, err);
        }
    }
    PQclear(r);
    return s;
}

/* Replays each chain in memory: post-states, final positions, fees, cash. */
static tb_status replay(batch *bt, tb_error *err) {
    for (size_t k = 0; k < bt->nkeys; k++) {
        key *ky = &bt->keys[k];
        /* In order (the usual case): on top of the position. Late: from the
         * state right before the earliest new fill. */
        pos_state st = ky->current;
        if (ky->nold > 0) {
            if (ky->pred_null)
                return tb_error_set(err, TB_INVALID, "fill_id",
                                    "cannot reorder: an earlier fill of %s/%s has no recorded "
                                    "state",
                                    ky->account, ky->symbol);
            st = ky->have_pred ? ky->pred : (pos_state){0};
        }
        tb_fixed want_qty = ky->current.qty;
        for (size_t j = 0; j < ky->n; j++) {
            chain_row *cr = &bt->rows[ky->first + j];
            pos_effect e;
            tb_status s = pos_apply_fill(&st, &cr->in, &e, err);
            if (s != TB_OK) return s;
            st = cr->post = e.after;
            if (cr->item < 0) continue;
            item *it = &bt->items[cr->item];
            acct *ac = &bt->accts[ky->acct];
            it->cash_delta = e.cash_delta;
            if (tb_fixed_add(want_qty, cr->in.side == POS_BUY ? cr->in.qty : -cr->in.qty,
                             &want_qty) != TB_OK ||
                tb_fixed_add(ky->fees, cr->in.fee, &ky->fees) != TB_OK ||
                tb_fixed_add(ac->cash_after, e.cash_delta, &ac->cash_after) != TB_OK)
                return tb_error_set(err, TB_OVERFLOW, "cash", "fees or cash of %s out of range",
                                    ky->account);
        }
        /* Quantity does not depend on the order: the replay must agree. */
        if (want_qty != st.qty)
            return tb_error_set(err, TB_ERR, "qty",
                                "replay of %s/%s disagrees with the stored quantity", ky->account,
                                ky->symbol);
        ky->final = st;
    }
    return TB_OK;
}

static tb_status write_back(batch *bt, PGconn *c, tb_error *err) {
    bus_pgarray a[7] = {{0}};
    for (size_t j = 0; j < bt->nrows; j++) {
        bus_pgarray_str(&a[0], bt->rows[j].fill_id);
        bus_pgarray_fixed(&a[1], bt->rows[j].post.qty);
        bus_pgarray_fixed(&a[2], bt->rows[j].post.cost);
        bus_pgarray_fixed(&a[3], bt->rows[j].post.realized);
    }
    tb_status s = exec_arrays(c,
                              "UPDATE applied_fills a SET post_qty = u.q, post_cost = u.c, "
                              "post_realized = u.r FROM unnest($1::text[], $2::numeric[], "
                              "$3::numeric[], $4::numeric[]) AS u(fill_id, q, c, r) "
                              "WHERE a.fill_id = u.fill_id",
                              a, 4, NULL, err);
    for (size_t k = 0; s == TB_OK && k < bt->nkeys; k++) {
        const key *ky = &bt->keys[k];
        tb_fixed avg;
        if (pos_avg_cost(&ky->final, &avg) != TB_OK)
            s = tb_error_set(err, TB_OVERFLOW, "avg_cost", "average cost out of range");
        bus_pgarray_str(&a[0], ky->account);
        bus_pgarray_str(&a[1], ky->symbol);
        bus_pgarray_fixed(&a[2], ky->final.qty);
        bus_pgarray_fixed(&a[3], ky->final.cost);
        bus_pgarray_fixed(&a[4], avg);
        bus_pgarray_fixed(&a[5], ky->final.realized);
        bus_pgarray_fixed(&a[6], ky->fees);
    }
    if (s == TB_OK)
        s = exec_arrays(c,
                        "UPDATE positions p SET qty = u.qty, cost_basis = u.cost, avg_cost = "
                        "u.avg, realized_pnl = u.realized, fees = u.fees, updated_at = now() "
                        "FROM unnest($1::text[], "
                        "$2::text[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[], "
                        "$7::numeric[]) AS u(account, symbol, qty, cost, avg, realized, fees) "
                        "WHERE p.account = u.account AND p.symbol = u.symbol",
                        a, 7, NULL, err);
    bus_pgarray_close_all(a, 7);
    for (size_t k = 0; s == TB_OK && k < bt->naccts; k++) {
        if (!bt->accts[k].found || bt->accts[k].cash_after == bt->accts[k].cash) continue;
        bus_pgarray_str(&a[0], bt->accts[k].id);
        bus_pgarray_fixed(&a[1], bt->accts[k].cash_after);
    }
    if (s == TB_OK && a[0].n > 0)
        s = exec_arrays(
            c,
            "UPDATE accounts a SET cash = u.cash, updated_at = now() FROM unnest($1::text[], "
            "$2::numeric[]) AS u(id, cash) WHERE a.id = u.id",
            a, 2, NULL, err);
    bus_pgarray_close_all(a, 7);
    return s;
}

/* ---- 5. after the commit ---- */

static void publish_all(batch *bt) {
    long *seen = calloc(bt->nkeys ? bt->nkeys : 1, sizeof *seen);
    tb_fixed *cash = calloc(bt->naccts ? bt->naccts : 1, sizeof *cash);
    if (seen == NULL || cash == NULL) {
        bus_log(BUS_LOG_WARN, "pos.update of a batch not sent: out of memory");
        free(seen);
        free(cash);
        return;
    }
    for (size_t k = 0; k < bt->nkeys; k++) seen[k] = bt->keys[k].last_old;
    for (size_t k = 0; k < bt->naccts; k++) cash[k] = bt->accts[k].cash;
    for (size_t i = 0; i < bt->n; i++) {
        const item *it = &bt->items[i];
        if (it->state == ITEM_DUPLICATE && bt->svc) bus_counter_add(bt->svc->m_duplicates, 1);
        if (it->state != ITEM_NEW) continue;
        const key *ky = &bt->keys[it->key];
        long idx = (long)(it->row - ky->first);
        bool reordered = idx < seen[it->key];
        if (idx > seen[it->key]) seen[it->key] = idx;
        /* What booking the fills one by one in arrival order would show: the
         * chain's end so far, and the cash moved by the fills so far. */
        tb_fixed c = cash[it->acct];
        if (tb_fixed_add(c, it->cash_delta, &c) == TB_OK) cash[it->acct] = c;
        if (bt->svc) {
            bus_counter_add(bt->svc->m_applied, 1);
            if (reordered) bus_counter_add(bt->svc->m_reordered, 1);
        }
        pos_fill_publish(bus_ctx_actor(bt->ctx), bus_batch_trace(bt->b, i), it->f,
                         &bt->rows[ky->first + (size_t)seen[it->key]].post, ky->last,
                         cash[it->acct]);
    }
    free(seen);
    free(cash);
}

/* ---- the handler ---- */

static tb_status book_batch(batch *bt, PGconn *c, tb_error *err) {
    size_t nnew = 0;
    tb_status s = lock_accounts(bt, c, err);
    if (s == TB_OK) s = insert_applied(bt, c, &nnew, err);
    if (s == TB_OK) s = compare_stored(bt, c, err);
    if (s == TB_OK && nnew > 0) s = lock_positions(bt, c, err);
    if (s == TB_OK && nnew > 0) s = load_chains(bt, c, err);
    if (s == TB_OK && nnew > 0) s = load_predecessors(bt, c, err);
    if (s == TB_OK && nnew > 0) s = replay(bt, err);
    if (s == TB_OK && nnew > 0) s = write_back(bt, c, err);
    return s;
}

/* The batch's transaction failed as a whole: each fill in its own, so only
 * the fill at fault fails. */
static void one_by_one(batch *bt) {
    for (size_t i = 0; i < bt->n; i++) {
        if (bt->items[i].state == ITEM_FAILED) continue;
        tb_error err = {0};
        if (pos_fill_apply(bt->ctx, bus_batch_subject(bt->b, i), bus_batch_trace(bt->b, i),
                           bt->items[i].f, &err) != TB_OK)
            bus_batch_fail(bt->b, i, err.status, "%s", err.message);
    }
}

tb_status pos_on_fills(bus_ctx *ctx, const bus_batch *b) {
    batch bt = {.ctx = ctx, .b = b, .svc = pos_service_of(ctx), .n = bus_batch_len(b)};
    bt.items = calloc(bt.n ? bt.n : 1, sizeof *bt.items);
    bt.accts = calloc(bt.n ? bt.n : 1, sizeof *bt.accts);
    bt.keys = calloc(bt.n ? bt.n : 1, sizeof *bt.keys);
    tb_error err = {0};
    tb_status s = TB_OK;
    if (bt.items == NULL || bt.accts == NULL || bt.keys == NULL)
        s = tb_error_set(&err, TB_NOMEM, NULL, "out of memory"); /* redelivered */
    for (size_t i = 0; s == TB_OK && i < bt.n; i++) bt.items[i].f = bus_batch_event(b, i);
    if (s == TB_OK) check_items(&bt);
    PGconn *c = s == TB_OK ? bus_ctx_pg(ctx, &err) : NULL;
    if (c == NULL && s == TB_OK) s = err.status; /* no store: the batch is redelivered */
    /* Pipelined: BEGIN travels with the first query, the INSERT that makes
     * missing positions with their lock, the write-back's UPDATEs with
     * COMMIT. */
    if (s == TB_OK) s = bus_pg_pipeline_begin(c, &err);
    if (s == TB_OK && (s = pos_db_begin(c, &err)) == TB_OK) {
        s = book_batch(&bt, c, &err);
        if (s == TB_OK) s = pos_db_commit(c, &err);
        tb_status ps = bus_pg_pipeline_end(c, s == TB_OK ? &err : &(tb_error){0});
        if (s == TB_OK) s = ps;
        if (s == TB_OK) {
            if (bt.svc) bus_counter_add(bt.svc->m_batches, 1);
            publish_all(&bt);
        } else {
            pos_db_rollback(c);
            bus_log(BUS_LOG_WARN, "batch of %zu fills applied one by one: %s", bt.n, err.message);
            if (bt.svc) bus_counter_add(bt.svc->m_batch_fallbacks, 1);
            one_by_one(&bt);
            s = TB_OK;
        }
    }
    free(bt.items);
    free(bt.accts);
    free(bt.keys);
    free(bt.rows);
    return s == TB_OK ? TB_OK : bus_fail_err(ctx, &err);
}
