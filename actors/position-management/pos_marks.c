/* Marks: md.tick.<SYM> (core NATS, queue group, batched) sets
 * positions.last_price of every position in the symbol, so unrealized P&L
 * and equity follow the market, and publishes pos.update for the open ones.
 *
 * A batch of ticks is first reduced to the newest mark of each symbol
 * (pos_mark_batch.c): a mark needs only the newest price. Writes are then
 * throttled per symbol: a symbol is written at most once per interval;
 * marks in between only replace the pending price, which a timer writes at
 * the end of the interval. The pending table is a cache of the newest price,
 * not state that matters: the row's mark_ts makes a write with an older tick
 * time a no-op, so several workers, each with its own table, cannot move a
 * mark backwards. Whatever a batch (or the timer) writes goes out in one
 * statement. */
#include "pos_marks.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pgarray.h"
#include "pos_db.h"
#include "pos_mark_batch.h"
#include "pos_pnl.h"
#include "timer.h"

#define MARK_SLOTS 4096 /* symbols throttled; more are written on every batch */

typedef struct mark_slot {
    char symbol[TB_TOKEN_CAP]; /* "" = free */
    pos_mark pending;          /* valid while dirty */
    int64_t last_write_ns;
    bool dirty;
} mark_slot;

struct pos_marks {
    pthread_mutex_t lock;
    int64_t interval_ns;
    mark_slot slots[MARK_SLOTS];
};

pos_marks *pos_marks_create(int64_t interval_ms) {
    pos_marks *m = calloc(1, sizeof *m);
    if (m == NULL) return NULL;
    pthread_mutex_init(&m->lock, NULL);
    m->interval_ns = interval_ms * 1000000;
    return m;
}

void pos_marks_destroy(pos_marks *m) {
    if (m == NULL) return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static uint64_t hash(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The slot of symbol, claimed when missing; NULL when the table is full. */
static mark_slot *slot_for(pos_marks *m, const char *symbol) {
    size_t i = (size_t)(hash(symbol) % MARK_SLOTS);
    for (size_t probe = 0; probe < MARK_SLOTS; probe++, i = (i + 1) % MARK_SLOTS) {
        mark_slot *s = &m->slots[i];
        if (s->symbol[0] == '\0') {
            snprintf(s->symbol, sizeof s->symbol, "%s", symbol);
            return s;
        }
        if (strcmp(s->symbol, symbol) == 0) return s;
    }
    return NULL;
}

/* Appends s to b as a PostgreSQL array element (quoted; symbols are tokens,
 * but a quote or backslash would still be escaped). */
/* One statement for every mark: rows are locked in (symbol, account) order
 * so two workers writing overlapping symbols cannot deadlock, and a row is
 * written only when the mark is not older than the one it holds. Returns
 * the rows written, ordered by symbol. */
static const char write_sql[] =
    "WITH m AS (SELECT * FROM unnest($1::text[], $2::numeric[], $3::bigint[]) AS m(symbol, price, "
    "us)), "
    /* symbols in order: two workers upserting the same ones cannot deadlock */
    "sm AS (INSERT INTO pos_symbol_marks (symbol, price, mark_ts) SELECT symbol, price, "
    "'epoch'::timestamptz + us * interval '1 microsecond' FROM m ORDER BY symbol "
    "ON CONFLICT (symbol) DO UPDATE SET price = EXCLUDED.price, mark_ts = EXCLUDED.mark_ts "
    "WHERE pos_symbol_marks.mark_ts <= EXCLUDED.mark_ts), "
    "l AS MATERIALIZED (SELECT p.account, p.symbol FROM positions p JOIN m ON p.symbol = m.symbol "
    "ORDER BY p.symbol, p.account FOR UPDATE OF p), "
    "u AS (UPDATE positions p SET last_price = m.price, updated_at = now(), "
    "mark_ts = 'epoch'::timestamptz + m.us * interval '1 microsecond' "
    "FROM l, m WHERE p.account = l.account AND p.symbol = l.symbol AND m.symbol = p.symbol "
    "AND (p.mark_ts IS NULL OR p.mark_ts <= 'epoch'::timestamptz + m.us * interval '1 "
    "microsecond') "
    "RETURNING p.account, p.symbol, p.qty, p.cost_basis, p.realized_pnl) "
    "SELECT account, symbol, qty, cost_basis, realized_pnl FROM u ORDER BY symbol, account";

/* Publishes pos.update for an open position of row i marked with mk. */
static void publish_row(bus_actor *a, const PGresult *r, int i, const pos_mark *mk) {
    tb_error err = {0};
    tb_position_update u;
    memset(&u, 0, sizeof u);
    pos_state st = {0};
    pos_db_text(r, i, 0, u.account, sizeof u.account);
    if (pos_db_fixed(r, i, 2, &st.qty, &err) != TB_OK || st.qty == 0) return;
    if (pos_db_fixed(r, i, 3, &st.cost, &err) != TB_OK ||
        pos_db_fixed(r, i, 4, &st.realized, &err) != TB_OK ||
        pos_avg_cost(&st, &u.avg_cost) != TB_OK ||
        pos_unrealized(&st, mk->price, &u.unrealized_pnl) != TB_OK)
        return; /* an unreadable row is reported by the fill path and the API */
    snprintf(u.symbol, sizeof u.symbol, "%s", mk->symbol);
    u.qty = st.qty;
    u.realized_pnl = st.realized;
    u.last_price = mk->price;
    u.ts = mk->ts;
    char subject[32 + 2 * TB_TOKEN_CAP];
    snprintf(subject, sizeof subject, "pos.update.%s.%s", u.account, mk->symbol);
    if (bus_publish(bus_actor_conn(a), subject, &tb_position_update_desc, &u, NULL) != TB_OK)
        bus_log(BUS_LOG_DEBUG, "mark update for %s not published", subject);
}

/* Writes marks[0..k) (distinct symbols) in one statement and publishes the
 * open positions they moved. */
static tb_status write_marks(bus_actor *a, PGconn *c, const pos_mark *marks, size_t k,
                             tb_error *err) {
    if (k == 0) return TB_OK;
    bus_pgarray syms = {0}, prices = {0}, times = {0};
    for (size_t i = 0; i < k; i++) {
        bus_pgarray_str(&syms, marks[i].symbol);
        bus_pgarray_fixed(&prices, marks[i].price);
        bus_pgarray_i64(&times, marks[i].ts / 1000);
    }
    const char *p[3] = {bus_pgarray_finish(&syms), bus_pgarray_finish(&prices),
                        bus_pgarray_finish(&times)};
    tb_status s = TB_OK;
    if (p[0] == NULL || p[1] == NULL || p[2] == NULL) {
        s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
        goto out;
    }
    PGresult *r = NULL;
    s = bus_pg_exec(c, write_sql, 3, p, &r, err);
    if (s != TB_OK) goto out;
    pos_service *svc = bus_actor_user(a);
    const pos_mark *mk = NULL;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *sym = PQgetvalue(r, i, 1);
        if (mk == NULL || strcmp(mk->symbol, sym) != 0) {
            mk = NULL;
            for (size_t j = 0; j < k && mk == NULL; j++)
                if (strcmp(marks[j].symbol, sym) == 0) mk = &marks[j];
            if (mk == NULL) continue; /* cannot happen: rows come from marks */
            if (svc) bus_counter_add(svc->m_marks_written, 1);
        }
        publish_row(a, r, i, mk);
    }
    PQclear(r);
out:
    bus_pgarray_close(&syms);
    bus_pgarray_close(&prices);
    bus_pgarray_close(&times);
    return s;
}

/* Keeps in marks[0..k) those due now (the rest become pending); returns how
 * many are due. */
static size_t throttle(pos_marks *m, pos_mark *marks, size_t k) {
    if (m == NULL || m->interval_ns <= 0) return k;
    int64_t now = bus_mono_ns();
    size_t due = 0;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < k; i++) {
        pos_mark mk = marks[i];
        mark_slot *sl = slot_for(m, mk.symbol);
        if (sl == NULL) {
            marks[due++] = mk; /* table full: written every time */
            continue;
        }
        if (now - sl->last_write_ns >= m->interval_ns) {
            /* A pending mark newer than this one (ticks out of order) wins. */
            if (sl->dirty && pos_mark_newer(&sl->pending, &mk)) mk = sl->pending;
            sl->last_write_ns = now;
            sl->dirty = false;
            marks[due++] = mk;
        } else if (!sl->dirty || pos_mark_newer(&mk, &sl->pending)) {
            sl->pending = mk;
            sl->dirty = true;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return due;
}

#define TICKS_ON_STACK 64

tb_status pos_on_ticks(bus_ctx *ctx, const bus_batch *b) {
    size_t n = bus_batch_len(b);
    /* Batches of an unhurried feed are small: those live on the stack. */
    const tb_tick *ticks_small[TICKS_ON_STACK];
    pos_mark marks_small[TICKS_ON_STACK];
    const tb_tick **ticks = n <= TICKS_ON_STACK ? ticks_small : malloc(n * sizeof *ticks);
    pos_mark *marks = n <= TICKS_ON_STACK ? marks_small : malloc(n * sizeof *marks);
    tb_status s = TB_OK;
    if (ticks == NULL || marks == NULL) {
        s = bus_fail(ctx, TB_NOMEM, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) ticks[i] = bus_batch_event(b, i);
    size_t k = pos_marks_reduce(ticks, n, marks);
    pos_service *svc = pos_service_of(ctx);
    k = throttle(svc ? svc->marks : NULL, marks, k);
    if (k == 0) goto out;
    tb_error err = {0};
    PGconn *c = bus_ctx_pg(ctx, &err);
    if (c == NULL || write_marks(bus_ctx_actor(ctx), c, marks, k, &err) != TB_OK)
        s = bus_fail_err(ctx, &err);
out:
    if (ticks != ticks_small) free(ticks);
    if (marks != marks_small) free(marks);
    return s;
}

/* Timer: writes the marks held back during the last interval. */
static void flush(bus_actor *a, void *arg) {
    pos_marks *m = arg;
    pos_mark *due = malloc(MARK_SLOTS * sizeof *due);
    if (due == NULL) return;
    size_t n = 0;
    int64_t now = bus_mono_ns();
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < MARK_SLOTS; i++) {
        mark_slot *s = &m->slots[i];
        if (s->symbol[0] && s->dirty) {
            due[n++] = s->pending;
            s->dirty = false;
            s->last_write_ns = now;
        }
    }
    pthread_mutex_unlock(&m->lock);
    tb_error err = {0};
    PGconn *c = n ? bus_pg_acquire(bus_actor_pg(a), &err) : NULL;
    if (n && c == NULL) bus_log(BUS_LOG_WARN, "%zu marks not written: %s", n, err.message);
    if (c != NULL && write_marks(a, c, due, n, &err) != TB_OK)
        bus_log(BUS_LOG_WARN, "%zu marks not written: %s", n, err.message);
    if (c) bus_pg_release(bus_actor_pg(a), c);
    free(due);
}

tb_status pos_marks_start(bus_actor *a, pos_marks *m, tb_error *err) {
    if (m->interval_ns <= 0) return TB_OK; /* every batch is written at once */
    return bus_actor_add_timer(a, "marks", m->interval_ns / 1000000, flush, m, NULL, err);
}
