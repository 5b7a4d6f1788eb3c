/* Shared fixture of the trading-execution integration tests
 * (test_exec*.c): runs the real tb-trading-execution binary as child
 * processes, feeds it the way the other services do, and reads the results.
 *
 *   - orders arrive as risk-management sends them: an orders row (status
 *     'new', version 1, its order_events row) committed in PostgreSQL, then
 *     the tb_order published on orders.new.<account> through JetStream with
 *     Nats-Msg-Id = order id (xt_submit);
 *   - ticks are published on md.tick.<symbol> (xt_tick);
 *   - a symbol's quote is its last tick (xt_set_quote publishes one and
 *     waits until trading-execution stored it); orders of symbols without
 *     one rest until the next tick;
 *   - fills (fills.<account>.>) and orders.status.<account> are captured
 *     with core subscriptions; rows are read from PostgreSQL.
 *
 * Included by exactly one .c file per test binary (static definitions). */
#ifndef TEST_EXEC_COMMON_H
#define TEST_EXEC_COMMON_H

#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_test.h"
#include "wire.h"

/* Each test binary uses a different subset of these helpers. */
#pragma GCC diagnostic ignored "-Wunused-function"

static tb_fixed F(const char *s) {
    tb_fixed v;
    ck_assert_msg(tb_fixed_parse_cstr(s, &v) == TB_OK, "bad literal %s", s);
    return v;
}

/* --------------------------------------------------- client and store -- */

static bus_config xt_cfg;
static bus_conn *xt_conn;
static bus_pg_pool *xt_pg;
static char xt_log[512];

static void xt_open(const char *name) {
    tb_test_config(&xt_cfg, name);
    xt_conn = tb_test_conn(&xt_cfg);
    tb_error err = {0};
    ck_assert_msg(bus_pg_pool_create(xt_cfg.database_url, &xt_pg, &err) == TB_OK, "%s",
                  err.message);
    ck_assert_msg(bus_js_ensure_streams(xt_conn, &err) == TB_OK, "%s", err.message);
    const char *dir = getenv("TB_BINARY_DIR");
    snprintf(xt_log, sizeof xt_log, "%s/%s-%d.log", dir ? dir : "/tmp", name, (int)getpid());
}

static void xt_close(void) {
    bus_pg_pool_destroy(xt_pg);
    bus_conn_close(xt_conn);
}

/* Runs sql with up to 12 text params ("" means NULL); returns the first
 * column of the first row (malloc'd, caller frees) or NULL when no row. */
static char *xt_sql(const char *sql, int n, const char *const *params) {
    tb_error err = {0};
    PGconn *c = bus_pg_acquire(xt_pg, &err);
    ck_assert_msg(c != NULL, "%s", err.message);
    const char *p[12];
    for (int i = 0; i < n; i++) p[i] = params[i] && params[i][0] ? params[i] : NULL;
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(c, sql, n, p, &r, &err);
    ck_assert_msg(s == TB_OK, "%s: %s", sql, err.message);
    char *out = PQntuples(r) > 0 && PQnfields(r) > 0 ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    bus_pg_release(xt_pg, c);
    return out;
}

static void xt_exec(const char *sql, int n, const char *const *params) {
    free(xt_sql(sql, n, params));
}

static void xt_account(const char *acct) {
    const char *p[1] = {acct};
    xt_exec("INSERT INTO accounts (id, initial_cash, cash) VALUES ($1, 1000000, 1000000) "
            "ON CONFLICT (id) DO NOTHING",
            1, p);
}

/* ------------------------------------------------------------ orders -- */

typedef struct xt_order {
    const char *side, *type, *tif, *qty, *limit, *stop;
    const char *created_at; /* NULL: now() */
} xt_order;

/* Records the order as risk-management does (row + event, committed);
 * expire_at (RFC 3339, tif gtd) may be NULL. */
static void xt_insert_expiring(const char *acct, const char *sym, const char *id, const xt_order *o,
                               const char *expire_at) {
    const char *p[11] = {id,
                         acct,
                         sym,
                         o->side,
                         o->type,
                         o->qty,
                         o->limit ? o->limit : "",
                         o->stop ? o->stop : "",
                         o->tif,
                         o->created_at ? o->created_at : "",
                         expire_at ? expire_at : ""};
    xt_exec("WITH o AS (INSERT INTO orders (order_id, account, symbol, side, type, qty, "
            "limit_price, stop_price, tif, source, status, version, created_at, expire_at) "
            "VALUES ($1, $2, $3, $4, $5, $6::numeric, $7::numeric, $8::numeric, $9, 'api', 'new', "
            "1, COALESCE($10::timestamptz, now()), $11::timestamptz) RETURNING order_id) "
            "INSERT INTO order_events (order_id, version, status) SELECT order_id, 1, 'new' FROM o",
            11, p);
}

static void xt_insert(const char *acct, const char *sym, const char *id, const xt_order *o) {
    xt_insert_expiring(acct, sym, id, o, NULL);
}

static void xt_publish_order(const char *acct, const char *sym, const char *id, const xt_order *o,
                             const char *msg_id) {
    tb_order m;
    memset(&m, 0, sizeof m);
    snprintf(m.order_id, sizeof m.order_id, "%s", id);
    snprintf(m.account, sizeof m.account, "%s", acct);
    snprintf(m.symbol, sizeof m.symbol, "%s", sym);
    snprintf(m.side, sizeof m.side, "%s", o->side);
    snprintf(m.type, sizeof m.type, "%s", o->type);
    snprintf(m.tif, sizeof m.tif, "%s", o->tif);
    snprintf(m.source, sizeof m.source, "api");
    m.qty = F(o->qty);
    m.limit_price = o->limit ? F(o->limit) : 0;
    m.stop_price = o->stop ? F(o->stop) : 0;
    m.ts = tb_now_ns();
    char subject[128];
    snprintf(subject, sizeof subject, "orders.new.%s", acct);
    bus_msg_meta meta = {.msg_id = msg_id, .trace_id = id};
    tb_error err = {0};
    ck_assert_msg(bus_js_publish(xt_conn, subject, &tb_order_desc, &m, &meta, NULL, &err) == TB_OK,
                  "%s", err.message);
}

static void xt_submit(const char *acct, const char *sym, const char *id, const xt_order *o) {
    xt_insert(acct, sym, id, o);
    xt_publish_order(acct, sym, id, o, id);
}

static void xt_publish_cancel(const char *acct, const char *id, const char *reason) {
    tb_order_cancel m;
    memset(&m, 0, sizeof m);
    snprintf(m.order_id, sizeof m.order_id, "%s", id);
    snprintf(m.account, sizeof m.account, "%s", acct);
    snprintf(m.reason, sizeof m.reason, "%s", reason);
    m.ts = tb_now_ns();
    char subject[128], msg_id[96];
    snprintf(subject, sizeof subject, "orders.cancel.%s", acct);
    snprintf(msg_id, sizeof msg_id, "cancel-%s", id);
    bus_msg_meta meta = {.msg_id = msg_id};
    tb_error err = {0};
    ck_assert_msg(bus_js_publish(xt_conn, subject, &tb_order_cancel_desc, &m, &meta, NULL, &err) ==
                      TB_OK,
                  "%s", err.message);
}

/* ------------------------------------------------------------- ticks -- */

typedef struct xt_tick {
    const char *bid, *ask, *last, *bid_size, *ask_size, *last_size;
} xt_tick;

/* Publishes a tick stamped ts_ns (its event time; 0: now). */
static void xt_tick_pub_at(const char *sym, uint64_t seq, const xt_tick *q, int64_t ts_ns) {
    tb_tick t;
    memset(&t, 0, sizeof t);
    snprintf(t.symbol, sizeof t.symbol, "%s", sym);
    snprintf(t.source, sizeof t.source, "test");
    t.seq = seq;
    t.ts = ts_ns ? ts_ns : tb_now_ns();
    t.bid = q->bid ? F(q->bid) : 0;
    t.ask = q->ask ? F(q->ask) : 0;
    t.last = q->last ? F(q->last) : 0;
    t.bid_size = q->bid_size ? F(q->bid_size) : 0;
    t.ask_size = q->ask_size ? F(q->ask_size) : 0;
    t.last_size = q->last_size ? F(q->last_size) : 0;
    char subject[128];
    snprintf(subject, sizeof subject, "md.tick.%s", sym);
    ck_assert_int_eq(bus_publish(xt_conn, subject, &tb_tick_desc, &t, NULL), TB_OK);
    ck_assert_int_eq(bus_conn_flush(xt_conn, 2000), TB_OK);
}

static void xt_tick_pub(const char *sym, uint64_t seq, const xt_tick *q) {
    xt_tick_pub_at(sym, seq, q, 0);
}

/* ------------------------------------------------------- last quotes -- */

/* Gives sym a quote the way the feed does: a tick on md.tick.<sym>, which
 * trading-execution keeps as the symbol's last quote (exec_last_quote) and
 * prices arriving orders with. Returns once the quote is stored. */
static void xt_set_quote(const char *sym, uint64_t seq, const xt_tick *q) {
    xt_tick_pub(sym, seq, q);
    char want[24];
    snprintf(want, sizeof want, "%llu", (unsigned long long)seq);
    const char *p[1] = {sym};
    int64_t deadline = tb_now_ns() + INT64_C(15000000000);
    for (;;) {
        char *v = xt_sql("SELECT seq::text FROM exec_last_quote WHERE symbol = $1", 1, p);
        bool stored = v != NULL && strcmp(v, want) == 0;
        free(v);
        if (stored) return;
        ck_assert_msg(tb_now_ns() < deadline, "quote %s of %s never stored", want, sym);
        usleep(5000);
    }
}

/* ----------------------------------------------------------- workers -- */

/* Starts one tb-trading-execution with extra settings (NULL-terminated). */
static pid_t xt_worker(char *const *env) {
    char bin[512];
    tb_test_bin(bin, sizeof bin, "actors/trading-execution/tb-trading-execution");
    char *argv[] = {bin, NULL};
    return tb_test_spawn(argv, env, xt_log);
}

static void xt_stop(pid_t pid) {
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    ck_assert_int_eq(tb_test_wait_exit(pid, 30000), 0);
}

/* Waits until the service answers on the bus (its ORDERS consumer bound). */
static void xt_wait_ready(int instances) {
    int64_t end = bus_mono_ns() + INT64_C(20000) * 1000000;
    for (;;) {
        natsConnection *nc = bus_conn_nats(xt_conn);
        natsInbox *inbox = NULL;
        natsSubscription *sub = NULL;
        ck_assert_int_eq(natsInbox_Create(&inbox), NATS_OK);
        ck_assert_int_eq(natsConnection_SubscribeSync(&sub, nc, (const char *)inbox), NATS_OK);
        ck_assert_int_eq(natsConnection_PublishRequestString(nc, "$SRV.PING.trading-execution",
                                                             (const char *)inbox, ""),
                         NATS_OK);
        int seen = 0;
        natsMsg *m = NULL;
        while (seen < instances && natsSubscription_NextMsg(&m, sub, 300) == NATS_OK) {
            seen++;
            natsMsg_Destroy(m);
        }
        natsSubscription_Destroy(sub);
        natsInbox_Destroy(inbox);
        if (seen >= instances) return;
        ck_assert_msg(bus_mono_ns() < end, "trading-execution did not start (see %s)", xt_log);
    }
}

/* ------------------------------------------------------------ checks -- */

static char *xt_status_of(const char *id) {
    const char *p[1] = {id};
    return xt_sql("SELECT status || ' ' || filled_qty::text || ' v' || version FROM orders "
                  "WHERE order_id = $1",
                  1, p);
}

typedef struct xt_want {
    const char *id, *state; /* "<status> <filled_qty numeric(38,8)> v<version>" */
} xt_want;

static bool xt_state_reached(void *arg) {
    const xt_want *w = arg;
    char *s = xt_status_of(w->id);
    bool ok = s && strcmp(s, w->state) == 0;
    free(s);
    return ok;
}

/* Waits until the order's row reads "<status> <filled> v<version>", e.g.
 * "filled 10.00000000 v3". */
static void xt_wait_state(const char *id, const char *state) {
    xt_want w = {id, state};
    if (!tb_test_wait(xt_state_reached, &w, 15000)) {
        char *s = xt_status_of(id);
        ck_abort_msg("order %s is \"%s\", want \"%s\" (log %s)", id, s ? s : "(none)", state,
                     xt_log);
    }
}

/* Number of fills of an order in PostgreSQL. */
static int xt_fill_count(const char *id) {
    const char *p[1] = {id};
    char *s = xt_sql("SELECT count(*) FROM fills WHERE order_id = $1", 1, p);
    int n = atoi(s);
    free(s);
    return n;
}

/* The fill "<order_id>-<n>" as "qty price fee liquidity" (numeric text). */
static char *xt_fill(const char *id, int n) {
    char fid[96];
    snprintf(fid, sizeof fid, "%s-%d", id, n);
    const char *p[1] = {fid};
    return xt_sql("SELECT qty::text || ' ' || price::text || ' ' || fee::text || ' ' || "
                  "COALESCE(liquidity, '-') FROM fills WHERE fill_id = $1",
                  1, p);
}

static void xt_fill_is(const char *id, int n, const char *want) {
    char *s = xt_fill(id, n);
    ck_assert_msg(s && strcmp(s, want) == 0, "fill %s-%d is \"%s\", want \"%s\"", id, n,
                  s ? s : "(none)", want);
    free(s);
}

/* A core subscription capturing messages of one subject pattern. */
static natsSubscription *xt_capture(const char *subject) {
    natsSubscription *sub = NULL;
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, bus_conn_nats(xt_conn), subject), NATS_OK);
    ck_assert_int_eq(natsConnection_Flush(bus_conn_nats(xt_conn)), NATS_OK);
    return sub;
}

/* Next message decoded as desc into ev; false when none came in timeout_ms.
 * msg_id (may be NULL, >= 64 bytes) receives its Nats-Msg-Id header. */
static bool xt_next(natsSubscription *sub, const tb_event_desc *desc, void *ev, char *msg_id,
                    int64_t timeout_ms) {
    natsMsg *m = NULL;
    if (natsSubscription_NextMsg(&m, sub, timeout_ms) != NATS_OK) return false;
    tb_error err = {0};
    ck_assert_msg(tb_decode(desc, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), ev, &err) ==
                      TB_OK,
                  "%s", err.message);
    if (msg_id) {
        const char *v = NULL;
        msg_id[0] = '\0';
        if (natsMsgHeader_Get(m, BUS_HDR_MSG_ID, &v) == NATS_OK) snprintf(msg_id, 64, "%s", v);
    }
    natsMsg_Destroy(m);
    return true;
}

#endif
