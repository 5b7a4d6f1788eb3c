/* Marks: md.tick.<SYM> (core NATS, queue group) sets positions.last_price of
 * every position in the symbol, so unrealized P&L and equity follow the
 * market, and publishes pos.update for the open ones.
 *
 * Ticks can come thousands a second, so writes are throttled per symbol: a
 * symbol is written at most once per interval; ticks in between only replace
 * the pending price, which a timer writes at the end of the interval. The
 * pending table is a cache of the newest price, not state that matters: the
 * row's mark_ts makes a write with an older tick time a no-op, so several
 * workers, each with its own table, cannot move a mark backwards. */
#include "pos_marks.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pos_db.h"
#include "pos_pnl.h"
#include "timer.h"

#define MARK_SLOTS 4096 /* symbols throttled; more are written on every tick */

typedef struct mark_slot {
    char symbol[TB_TOKEN_CAP]; /* "" = free */
    tb_fixed price;
    int64_t ts;
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

/* Writes the mark and publishes the open positions it moved. */
static tb_status write_mark(bus_actor *a, PGconn *c, const char *symbol, tb_fixed price, int64_t ts,
                            tb_error *err) {
    char px[TB_FIXED_STRLEN], us[24];
    (void)tb_fixed_format(price, px); /* NUL-terminated; length unused */
    snprintf(us, sizeof us, "%lld", (long long)(ts / 1000));
    const char *p[3] = {symbol, px, us};
    PGresult *r = NULL;
    tb_status s =
        bus_pg_exec(c,
                    "UPDATE positions SET last_price = $2, "
                    "mark_ts = 'epoch'::timestamptz + $3::bigint * interval '1 microsecond' "
                    "WHERE symbol = $1 AND (mark_ts IS NULL OR "
                    "mark_ts <= 'epoch'::timestamptz + $3::bigint * interval '1 microsecond') "
                    "RETURNING account, qty, cost_basis, realized_pnl",
                    3, p, &r, err);
    if (s != TB_OK) return s;
    pos_service *svc = bus_actor_user(a);
    if (svc && PQntuples(r) > 0) bus_counter_add(svc->m_marks_written, 1);
    for (int i = 0; i < PQntuples(r); i++) {
        tb_position_update u;
        memset(&u, 0, sizeof u);
        pos_state st = {0};
        pos_db_text(r, i, 0, u.account, sizeof u.account);
        if (pos_db_fixed(r, i, 1, &st.qty, err) != TB_OK || st.qty == 0) continue;
        if (pos_db_fixed(r, i, 2, &st.cost, err) != TB_OK ||
            pos_db_fixed(r, i, 3, &st.realized, err) != TB_OK ||
            pos_avg_cost(&st, &u.avg_cost) != TB_OK ||
            pos_unrealized(&st, price, &u.unrealized_pnl) != TB_OK)
            continue; /* an unreadable row is reported by the fill path and the API */
        snprintf(u.symbol, sizeof u.symbol, "%s", symbol);
        u.qty = st.qty;
        u.realized_pnl = st.realized;
        u.last_price = price;
        u.ts = ts;
        char subject[32 + 2 * TB_TOKEN_CAP];
        snprintf(subject, sizeof subject, "pos.update.%s.%s", u.account, symbol);
        if (bus_publish(bus_actor_conn(a), subject, &tb_position_update_desc, &u, NULL) != TB_OK)
            bus_log(BUS_LOG_DEBUG, "mark update for %s not published", subject);
    }
    PQclear(r);
    return TB_OK;
}

tb_status pos_on_tick(bus_ctx *ctx, const void *event) {
    const tb_tick *t = event;
    tb_fixed price;
    if (!pos_mark_price(t->last, t->bid, t->ask, &price)) return TB_OK; /* nothing to mark with */
    pos_service *svc = pos_service_of(ctx);
    pos_marks *m = svc ? svc->marks : NULL;
    if (m != NULL && m->interval_ns > 0) {
        int64_t now = bus_mono_ns();
        pthread_mutex_lock(&m->lock);
        mark_slot *sl = slot_for(m, t->symbol);
        bool write_now = sl == NULL || now - sl->last_write_ns >= m->interval_ns;
        if (sl != NULL && write_now) {
            sl->last_write_ns = now;
            sl->dirty = false;
        } else if (sl != NULL && t->ts >= sl->ts) {
            sl->price = price;
            sl->ts = t->ts;
            sl->dirty = true;
        }
        pthread_mutex_unlock(&m->lock);
        if (!write_now) return TB_OK;
    }
    tb_error err = {0};
    PGconn *c = bus_ctx_pg(ctx, &err);
    if (c == NULL) return bus_fail_err(ctx, &err);
    if (write_mark(bus_ctx_actor(ctx), c, t->symbol, price, t->ts, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    return TB_OK;
}

/* Timer: writes the prices held back during the last interval. */
static void flush(bus_actor *a, void *arg) {
    pos_marks *m = arg;
    mark_slot *due = malloc(MARK_SLOTS * sizeof *due);
    if (due == NULL) return;
    size_t n = 0;
    int64_t now = bus_mono_ns();
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < MARK_SLOTS; i++) {
        mark_slot *s = &m->slots[i];
        if (s->symbol[0] && s->dirty) {
            due[n++] = *s;
            s->dirty = false;
            s->last_write_ns = now;
        }
    }
    pthread_mutex_unlock(&m->lock);
    tb_error err = {0};
    PGconn *c = n ? bus_pg_acquire(bus_actor_pg(a), &err) : NULL;
    if (n && c == NULL) bus_log(BUS_LOG_WARN, "marks not written: %s", err.message);
    for (size_t i = 0; c != NULL && i < n; i++)
        if (write_mark(a, c, due[i].symbol, due[i].price, due[i].ts, &err) != TB_OK)
            bus_log(BUS_LOG_WARN, "mark of %s not written: %s", due[i].symbol, err.message);
    if (c) bus_pg_release(bus_actor_pg(a), c);
    free(due);
}

tb_status pos_marks_start(bus_actor *a, pos_marks *m, tb_error *err) {
    if (m->interval_ns <= 0) return TB_OK; /* every tick is written at once */
    return bus_actor_add_timer(a, "marks", m->interval_ns / 1000000, flush, m, NULL, err);
}
