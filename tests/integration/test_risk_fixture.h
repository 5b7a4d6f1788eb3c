/* Shared fixture of the risk-management integration tests (test_risk*.c):
 * runs the real tb-risk-management binary as a child process, and answers
 * the requests it makes to other services with an in-process fake actor
 * (api.market.quote, api.positions.list|get) whose answers the test sets. Also: PostgreSQL access
 * for set-up and checks, a client connection, and helpers to submit orders and read replies.
 *
 * Included by exactly one .c file per test binary (static definitions). */
#ifndef TEST_RISK_FIXTURE_H
#define TEST_RISK_FIXTURE_H

#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_test.h"
#include "wire.h"

/* Each test file uses a different part of this fixture. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

#define FX(units) ((tb_fixed)(units)*TB_FIXED_SCALE)
#define E8        ((tb_fixed)1)

/* ------------------------------------------------------- fake state -- */

#define FAKE_MAX 512

typedef struct fake_quote {
    char symbol[TB_TOKEN_CAP];
    tb_fixed bid, ask, last;
} fake_quote;
typedef struct fake_pos {
    char account[TB_TOKEN_CAP], symbol[TB_TOKEN_CAP];
    tb_fixed qty, mark;
} fake_pos;
typedef struct fake_acct {
    char account[TB_TOKEN_CAP];
    tb_fixed realized, unrealized;
    bool down; /* answer with an error, as a failing position-management */
} fake_acct;

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static fake_quote fake_quotes[FAKE_MAX];
static fake_pos fake_positions[FAKE_MAX];
static fake_acct fake_accounts[FAKE_MAX];
static int n_quotes, n_positions, n_accounts;
static _Atomic int fake_position_requests;
static _Atomic int fake_quote_requests;

static void fake_set_quote(const char *sym, tb_fixed bid, tb_fixed ask, tb_fixed last) {
    pthread_mutex_lock(&fake_lock);
    int i = 0;
    while (i < n_quotes && strcmp(fake_quotes[i].symbol, sym) != 0) i++;
    if (i == n_quotes) ck_assert_int_lt(n_quotes++, FAKE_MAX);
    snprintf(fake_quotes[i].symbol, sizeof fake_quotes[i].symbol, "%s", sym);
    fake_quotes[i].bid = bid;
    fake_quotes[i].ask = ask;
    fake_quotes[i].last = last;
    pthread_mutex_unlock(&fake_lock);
}

static void pg_exec(const char *sql, int n, const char *const *params);

/* The position-management row risk-management's checks read (positions):
 * qty at mark, cost basis qty * mark (no unrealized P&L), realized, and
 * last_price mark (NULL for 0). */
static void pg_set_position(const char *acct, const char *sym, tb_fixed qty, tb_fixed mark,
                            tb_fixed cost, tb_fixed realized) {
    char q[TB_FIXED_STRLEN], m[TB_FIXED_STRLEN], c[TB_FIXED_STRLEN], r[TB_FIXED_STRLEN];
    tb_fixed_format(qty, q);
    tb_fixed_format(mark, m);
    tb_fixed_format(cost, c);
    tb_fixed_format(realized, r);
    const char *p[6] = {acct, sym, q, m, c, r};
    pg_exec("INSERT INTO positions (account, symbol, qty, avg_cost, cost_basis, realized_pnl, "
            "last_price) VALUES ($1, $2, $3, abs($4::numeric), $5, $6, NULLIF($4::numeric, 0)) "
            "ON CONFLICT (account, symbol) DO UPDATE SET qty = EXCLUDED.qty, "
            "avg_cost = EXCLUDED.avg_cost, cost_basis = EXCLUDED.cost_basis, "
            "realized_pnl = EXCLUDED.realized_pnl, last_price = EXCLUDED.last_price",
            6, p);
}

/* A position of acct in sym: answered by the fake's api.positions.get (a
 * target signal's sizing) and in PostgreSQL, where the checks read it. */
static void fake_set_position(const char *acct, const char *sym, tb_fixed qty, tb_fixed mark) {
    tb_fixed cost = 0;
    ck_assert_int_eq(tb_fixed_mul(qty, mark, TB_ROUND_HALF_EVEN, &cost), TB_OK);
    pg_set_position(acct, sym, qty, mark, cost, 0);
    pthread_mutex_lock(&fake_lock);
    int i = 0;
    while (i < n_positions && (strcmp(fake_positions[i].account, acct) != 0 ||
                               strcmp(fake_positions[i].symbol, sym) != 0))
        i++;
    if (i == n_positions) ck_assert_int_lt(n_positions++, FAKE_MAX);
    snprintf(fake_positions[i].account, sizeof fake_positions[i].account, "%s", acct);
    snprintf(fake_positions[i].symbol, sizeof fake_positions[i].symbol, "%s", sym);
    fake_positions[i].qty = qty;
    fake_positions[i].mark = mark;
    pthread_mutex_unlock(&fake_lock);
}

/* Also called by the fake handlers (bus threads): a full table is recorded
 * for the main thread to assert (tb_test_bg_assert), and the account gets a
 * scratch entry instead. */
static fake_acct *fake_account_locked(const char *acct) {
    static fake_acct scratch;
    int i = 0;
    while (i < n_accounts && strcmp(fake_accounts[i].account, acct) != 0) i++;
    if (i == n_accounts) {
        if (n_accounts == FAKE_MAX) {
            TB_BG_CHECK(false, "the fake holds at most %d accounts", FAKE_MAX);
            memset(&scratch, 0, sizeof scratch);
            return &scratch;
        }
        n_accounts++;
        memset(&fake_accounts[i], 0, sizeof fake_accounts[i]);
        snprintf(fake_accounts[i].account, sizeof fake_accounts[i].account, "%s", acct);
    }
    return &fake_accounts[i];
}

/* The account's P&L, on a closed position's row (qty 0) as position-
 * management keeps realized P&L: its unrealized part as qty 0 at a mark
 * of 1 less a cost basis of -unrealized. */
static void fake_set_pnl(const char *acct, tb_fixed realized, tb_fixed unrealized) {
    pg_set_position(acct, "CLOSED", 0, TB_FIXED_SCALE, -unrealized, realized);
    pthread_mutex_lock(&fake_lock);
    fake_acct *a = fake_account_locked(acct);
    a->realized = realized;
    a->unrealized = unrealized;
    pthread_mutex_unlock(&fake_lock);
}

static void fake_set_down(const char *acct, bool down) {
    pthread_mutex_lock(&fake_lock);
    fake_account_locked(acct)->down = down;
    pthread_mutex_unlock(&fake_lock);
}

static bool fake_is_down(const char *acct) {
    pthread_mutex_lock(&fake_lock);
    bool down = fake_account_locked(acct)->down;
    pthread_mutex_unlock(&fake_lock);
    return down;
}

/* ---------------------------------------------------- fake handlers -- */

static tb_status fake_on_quote(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    fake_quote_requests++;
    tb_tick t;
    memset(&t, 0, sizeof t);
    bool found = false;
    pthread_mutex_lock(&fake_lock);
    for (int i = 0; i < n_quotes && !found; i++) {
        if (strcmp(fake_quotes[i].symbol, q->symbol) != 0) continue;
        found = true;
        snprintf(t.symbol, sizeof t.symbol, "%s", q->symbol);
        t.seq = 1;
        t.ts = tb_now_ns();
        t.bid = fake_quotes[i].bid;
        t.ask = fake_quotes[i].ask;
        t.last = fake_quotes[i].last;
    }
    pthread_mutex_unlock(&fake_lock);
    if (!found) return bus_fail(ctx, TB_NOT_FOUND, "symbol", "no quote for %s", q->symbol);
    return bus_reply(ctx, &tb_tick_desc, &t);
}

static void fill_position(tb_position_update *p, const char *acct, const char *sym, tb_fixed qty,
                          tb_fixed mark) {
    memset(p, 0, sizeof *p);
    snprintf(p->account, sizeof p->account, "%s", acct);
    snprintf(p->symbol, sizeof p->symbol, "%s", sym);
    p->qty = qty;
    p->last_price = mark;
    p->avg_cost = mark;
    p->ts = tb_now_ns();
}

static tb_status fake_on_positions_list(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    fake_position_requests++;
    if (fake_is_down(q->account))
        return bus_fail(ctx, TB_UNAVAILABLE, NULL, "positions of %s unavailable", q->account);
    tb_position_update items[17];
    size_t n = 0;
    pthread_mutex_lock(&fake_lock);
    for (int i = 0; i < n_positions && n < 16; i++)
        if (strcmp(fake_positions[i].account, q->account) == 0)
            fill_position(&items[n++], q->account, fake_positions[i].symbol, fake_positions[i].qty,
                          fake_positions[i].mark);
    /* The P&L set by fake_set_pnl, on a closed position's row (qty 0), as
     * position-management lists realized and unrealized P&L per position:
     * risk-management sums them. */
    const fake_acct *a = fake_account_locked(q->account);
    if (a->realized != 0 || a->unrealized != 0) {
        fill_position(&items[n], q->account, "CLOSED", 0, 0);
        items[n].realized_pnl = a->realized;
        items[n++].unrealized_pnl = a->unrealized;
    }
    pthread_mutex_unlock(&fake_lock);
    return bus_reply_list(ctx, &tb_position_update_desc, items, n, NULL);
}

static tb_status fake_on_positions_get(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    if (fake_is_down(q->account))
        return bus_fail(ctx, TB_UNAVAILABLE, NULL, "positions of %s unavailable", q->account);
    tb_position_update p;
    fill_position(&p, q->account, q->symbol, 0, 0);
    pthread_mutex_lock(&fake_lock);
    for (int i = 0; i < n_positions; i++)
        if (strcmp(fake_positions[i].account, q->account) == 0 &&
            strcmp(fake_positions[i].symbol, q->symbol) == 0)
            fill_position(&p, q->account, q->symbol, fake_positions[i].qty, fake_positions[i].mark);
    pthread_mutex_unlock(&fake_lock);
    return bus_reply(ctx, &tb_position_update_desc, &p);
}

static const bus_endpoint fake_endpoints[] = {
    {.name = "quote",
     .kind = BUS_REQUEST,
     .subject = "api.market.quote",
     .event = &tb_query_desc,
     .handler = fake_on_quote},
    {.name = "positions-list",
     .kind = BUS_REQUEST,
     .subject = "api.positions.list",
     .event = &tb_query_desc,
     .handler = fake_on_positions_list},
    {.name = "positions-get",
     .kind = BUS_REQUEST,
     .subject = "api.positions.get",
     .event = &tb_query_desc,
     .handler = fake_on_positions_get},
};

static const bus_actor_def fake_def = {
    .name = "risk-test-fakes",
    .version = "0.0.1",
    .description = "market-data and position-management stand-ins for the risk tests",
    .endpoints = fake_endpoints,
    .nendpoints = sizeof fake_endpoints / sizeof fake_endpoints[0],
};

/* ------------------------------------------------------ environment -- */

static bus_actor *fakes;
static bus_conn *client;
static bus_pg_pool *pg_pool;
/* The fake's quotes change between orders and publish no ticks, so the
 * quote cache is off unless a test turns it on (before risk_env_start). */
static char risk_quote_env[2][64] = {"RISK_QUOTE_CACHE=0", "RISK_QUOTE_VERIFY_MS=1000"};
#define RISK_MAX_COPIES          4
#define RISK_TEST_RATE_WINDOW_MS "60000"
static pid_t risk_pids[RISK_MAX_COPIES];
/* How many copies of tb-risk-management risk_env_start runs (set before). */
static int risk_copies = 1;
static bus_config client_cfg;

static void pg_exec(const char *sql, int n, const char *const *params) {
    tb_error err = {0};
    PGconn *c = bus_pg_acquire(pg_pool, &err);
    ck_assert_msg(c != NULL, "%s", err.message);
    tb_status s = bus_pg_exec(c, sql, n, params, NULL, &err);
    bus_pg_release(pg_pool, c);
    ck_assert_msg(s == TB_OK, "%s: %s", sql, err.message);
}

/* First column of the first row as text ("" when no row). */
static void pg_value(char *out, size_t cap, const char *sql, int n, const char *const *params) {
    tb_error err = {0};
    PGconn *c = bus_pg_acquire(pg_pool, &err);
    ck_assert_msg(c != NULL, "%s", err.message);
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(c, sql, n, params, &r, &err);
    bus_pg_release(pg_pool, c);
    ck_assert_msg(s == TB_OK, "%s: %s", sql, err.message);
    snprintf(out, cap, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
}

static long pg_count(const char *sql, int n, const char *const *params) {
    char v[64];
    pg_value(v, sizeof v, sql, n, params);
    return strtol(v, NULL, 10);
}

/* A new account with cash, and a new listed symbol with its rules. */
static void new_account(char *out, size_t cap) {
    tb_test_unique(out, cap, "RK");
    const char *p[1] = {out};
    pg_exec("INSERT INTO accounts (id, initial_cash, cash) VALUES ($1, 1000000, 1000000)", 1, p);
}

static void new_symbol(char *out, size_t cap, bool tradable, const char *lot, const char *tick,
                       const char *min_qty, const char *max_qty) {
    tb_test_unique(out, cap, "SY");
    const char *p[6] = {out, tradable ? "true" : "false", lot, tick, min_qty, max_qty};
    pg_exec("INSERT INTO symbols (symbol, tradable, lot_size, tick_size, min_qty, max_qty) "
            "VALUES ($1, $2::boolean, $3::numeric, $4::numeric, $5::numeric, "
            "NULLIF($6, '')::numeric)",
            6, p);
}

static bool risk_ready(void *arg) {
    (void)arg;
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.account, sizeof q.account, "_default");
    tb_risk_limits l;
    tb_error err = {0};
    return bus_request(client, "api.risk.limits.get", &tb_query_desc, &q, &tb_risk_limits_desc, &l,
                       500, NULL, &err) == TB_OK;
}

/* Instances of risk-management answering $SRV.PING within 300 ms. */
static int risk_instances(void) {
    natsConnection *nc = bus_conn_nats(client);
    char inbox[128];
    tb_test_unique(inbox, sizeof inbox, "_INBOX.riskping.");
    natsSubscription *sub = NULL;
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, nc, inbox), NATS_OK);
    ck_assert_int_eq(
        natsConnection_PublishRequestString(nc, "$SRV.PING.risk-management", inbox, ""), NATS_OK);
    int n = 0;
    natsMsg *m = NULL;
    while (natsSubscription_NextMsg(&m, sub, 300) == NATS_OK) {
        n++;
        natsMsg_Destroy(m);
    }
    natsSubscription_Destroy(sub);
    return n;
}

static bool risk_all_up(void *arg) {
    (void)arg;
    return risk_ready(NULL) && risk_instances() >= risk_copies;
}

static void risk_env_start(void) {
    tb_test_config(&client_cfg, "risk-test");
    client = tb_test_conn(&client_cfg);
    tb_error err = {0};
    ck_assert_msg(bus_pg_pool_create(client_cfg.database_url, &pg_pool, &err) == TB_OK, "%s",
                  err.message);
    bus_config fcfg;
    tb_test_config(&fcfg, fake_def.name);
    ck_assert_int_eq(bus_actor_create(&fake_def, &fcfg, &fakes, &err), TB_OK);
    ck_assert_msg(bus_actor_start(fakes, &err) == TB_OK, "%s", err.message);

    char bin[1024], log[1100];
    tb_test_bin(bin, sizeof bin, "actors/risk-management/tb-risk-management");
    snprintf(log, sizeof log, "%s/Testing/tb-risk-management.log",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : ".");
    char *argv[] = {bin, NULL};
    /* A one-minute order-rate window: "N orders in one window" then holds
     * however slowly a loaded machine sends them, so rate checks are exact. */
    static char e1[] = "RISK_DEPENDENCY_TIMEOUT_MS=1000", e2[] = "RISK_OUTBOX_INTERVAL_MS=200",
                e3[] = "RISK_RATE_WINDOW_MS=" RISK_TEST_RATE_WINDOW_MS;
    char *env[] = {e1, e2, e3, risk_quote_env[0], risk_quote_env[1], NULL};
    ck_assert_int_le(risk_copies, RISK_MAX_COPIES);
    for (int i = 0; i < risk_copies; i++) risk_pids[i] = tb_test_spawn(argv, env, log);
    ck_assert_msg(tb_test_wait(risk_all_up, NULL, 20000),
                  "tb-risk-management (%d copies) did not come up (%s)", risk_copies, log);
}

/* Stops tb-risk-management with SIGTERM; returns the first non-zero exit
 * status, else 0. A failed global kill-switch test must not leave the
 * switch engaged: released first. */
static int risk_stop_binary(void) {
    if (risk_pids[0] <= 0) return 0;
    tb_kill_switch ks;
    memset(&ks, 0, sizeof ks);
    tb_error err = {0};
    if (bus_request(client, "api.risk.killswitch", &tb_kill_switch_desc, &ks, &tb_kill_switch_desc,
                    &ks, 5000, NULL, &err) != TB_OK)
        fprintf(stderr, "global kill switch not released: %s\n", err.message);
    for (int i = 0; i < risk_copies; i++)
        if (risk_pids[i] > 0) kill(risk_pids[i], SIGTERM);
    int first = 0;
    for (int i = 0; i < risk_copies; i++) {
        if (risk_pids[i] <= 0) continue;
        int rc = tb_test_wait_exit(risk_pids[i], 15000);
        if (rc != 0 && first == 0) first = rc;
        risk_pids[i] = 0;
    }
    return first;
}

/* The last test of each suite: the service drains and exits 0 on SIGTERM
 * (under ASan: without leaks or memory errors). */
START_TEST(risk_stops_cleanly) {
    int rc = risk_stop_binary();
    ck_assert_msg(rc == 0, "tb-risk-management exited with %d after SIGTERM", rc);
    tb_test_bg_assert(); /* what the fake handlers recorded */
}
END_TEST

static void risk_env_stop(void) {
    if (risk_stop_binary() != 0) fprintf(stderr, "tb-risk-management did not exit cleanly\n");
    bus_actor_destroy(fakes);
    bus_conn_close(client);
    bus_pg_pool_destroy(pg_pool);
}

/* ---------------------------------------------------------- requests -- */

static tb_order_request order_req(const char *acct, const char *sym, const char *side,
                                  const char *type, tb_fixed qty) {
    tb_order_request r;
    memset(&r, 0, sizeof r);
    snprintf(r.account, sizeof r.account, "%s", acct);
    snprintf(r.symbol, sizeof r.symbol, "%s", sym);
    snprintf(r.side, sizeof r.side, "%s", side);
    snprintf(r.type, sizeof r.type, "%s", type);
    r.qty = qty;
    return r;
}

static tb_status submit(const tb_order_request *r, tb_order_record *rec, tb_error *err) {
    memset(err, 0, sizeof *err);
    return bus_request(client, "api.orders.submit", &tb_order_request_desc, r,
                       &tb_order_record_desc, rec, 5000, NULL, err);
}

static void expect_accept(const tb_order_request *r, const char *what) {
    tb_order_record rec;
    tb_error err;
    tb_status s = submit(r, &rec, &err);
    ck_assert_msg(s == TB_OK, "%s: want accepted, got %s: %s", what, tb_status_code(s),
                  err.message);
    ck_assert_str_eq(rec.status, "new");
}

/* Rejected with exactly this reason code (message "<code>: ...") and field. */
static void expect_reject(const tb_order_request *r, const char *code, const char *field,
                          const char *what) {
    tb_order_record rec;
    tb_error err;
    tb_status s = submit(r, &rec, &err);
    ck_assert_msg(s == TB_REJECTED, "%s: want rejected %s, got %s: %s", what, code,
                  tb_status_code(s), err.message);
    size_t n = strlen(code);
    ck_assert_msg(strncmp(err.message, code, n) == 0 && err.message[n] == ':',
                  "%s: want reason %s, got %s", what, code, err.message);
    if (field)
        ck_assert_msg(strcmp(err.field, field) == 0, "%s: field %s, want %s", what, err.field,
                      field);
}

/* The value of the first sample of risk-management's metric name whose
 * labels contain label, or -1. */
static double risk_metric(const char *name, const char *label) {
    return tb_test_service_metric(client, "risk-management", name, label);
}

static tb_status set_limits(const tb_risk_limits *l, tb_risk_limits *out) {
    tb_error err = {0};
    tb_risk_limits ignored;
    return bus_request(client, "api.risk.limits.set", &tb_risk_limits_desc, l, &tb_risk_limits_desc,
                       out ? out : &ignored, 5000, NULL, &err);
}

static tb_risk_limits limits_for(const char *acct) {
    tb_risk_limits l;
    memset(&l, 0, sizeof l);
    snprintf(l.account, sizeof l.account, "%s", acct);
    return l;
}

static tb_status get_limits(const char *acct, tb_risk_limits *out, tb_error *err) {
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.account, sizeof q.account, "%s", acct);
    return bus_request(client, "api.risk.limits.get", &tb_query_desc, &q, &tb_risk_limits_desc, out,
                       5000, NULL, err);
}

static tb_status kill_switch(const char *acct, bool engaged, tb_kill_switch *out, tb_error *err) {
    tb_kill_switch ks;
    memset(&ks, 0, sizeof ks);
    snprintf(ks.account, sizeof ks.account, "%s", acct);
    snprintf(ks.reason, sizeof ks.reason, "test");
    ks.engaged = engaged;
    return bus_request(client, "api.risk.killswitch", &tb_kill_switch_desc, &ks,
                       &tb_kill_switch_desc, out, 5000, NULL, err);
}

static natsSubscription *subscribe(const char *subject) {
    natsSubscription *sub = NULL;
    natsConnection *nc = bus_conn_nats(client);
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, nc, subject), NATS_OK);
    ck_assert_int_eq(natsConnection_Flush(nc), NATS_OK);
    return sub;
}

/* Next message on sub decoded as desc into ev; false on timeout. */
static bool next_event(natsSubscription *sub, const tb_event_desc *desc, void *ev, int64_t ms,
                       char *msg_id, size_t msg_id_cap) {
    natsMsg *m = NULL;
    if (natsSubscription_NextMsg(&m, sub, ms) != NATS_OK) return false;
    tb_error err = {0};
    ck_assert_msg(tb_decode(desc, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), ev, &err) ==
                      TB_OK,
                  "%s on %s: %s", desc->name, natsMsg_GetSubject(m), err.message);
    if (msg_id) {
        const char *v = NULL;
        snprintf(msg_id, msg_id_cap, "%s",
                 natsMsgHeader_Get(m, BUS_HDR_MSG_ID, &v) == NATS_OK && v ? v : "");
    }
    natsMsg_Destroy(m);
    return true;
}

static int run_suite(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed;
}

#pragma GCC diagnostic pop

#endif
