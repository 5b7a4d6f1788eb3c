/* analytics against real NATS and PostgreSQL: tb-analytics runs as a child
 * process; an in-process fake of position-management answers
 * api.accounts.get with scripted valuations. Checks the equity curve (one
 * point per account and sampling bucket, the freshest valuation winning),
 * the statistics of a scripted curve against values worked out by hand,
 * trade counts and win rates from fills (per strategy too), that no point is
 * stored when the valuation fails, and the endpoints' errors. */
#include <math.h>
#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_test.h"

#define SEC       INT64_C(1000000000)
#define DAY       (86400 * SEC)
#define FX(units) ((tb_fixed)(units)*TB_FIXED_SCALE)
#define JAN2      (INT64_C(1704153600) * SEC) /* 2024-01-02T00:00:00Z */

/* ------------------------------------------------ fake valuations ---- */

typedef struct fake_account {
    char account[TB_TOKEN_CAP];
    tb_account value;
    bool fail;
} fake_account;

static pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;
static fake_account fakes[16];
static int nfakes;
static atomic_int fake_served;

static void fake_set(const char *account, tb_fixed equity, tb_fixed cash, bool fail) {
    pthread_mutex_lock(&fake_mu);
    fake_account *f = NULL;
    for (int i = 0; i < nfakes; i++)
        if (strcmp(fakes[i].account, account) == 0) f = &fakes[i];
    if (f == NULL) {
        ck_assert_int_lt(nfakes, 16);
        f = &fakes[nfakes++];
        snprintf(f->account, sizeof f->account, "%s", account);
    }
    f->value = (tb_account){.equity = equity, .cash = cash, .realized_pnl = equity - FX(100)};
    snprintf(f->value.account, sizeof f->value.account, "%s", account);
    f->fail = fail;
    pthread_mutex_unlock(&fake_mu);
}

static tb_status on_accounts_get(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    fake_account found = {0};
    bool have = false;
    pthread_mutex_lock(&fake_mu);
    for (int i = 0; i < nfakes; i++)
        if (strcmp(fakes[i].account, q->account) == 0) {
            found = fakes[i];
            have = true;
        }
    pthread_mutex_unlock(&fake_mu);
    atomic_fetch_add(&fake_served, 1);
    if (!have) return bus_fail(ctx, TB_NOT_FOUND, "account", "no account %s", q->account);
    if (found.fail) return bus_fail(ctx, TB_UNAVAILABLE, NULL, "valuation store down");
    found.value.ts = tb_now_ns();
    return bus_reply(ctx, &tb_account_desc, &found.value);
}

static const bus_endpoint fake_endpoints[] = {
    {.name = "accounts-get",
     .kind = BUS_REQUEST,
     .subject = "api.accounts.get",
     .event = &tb_query_desc,
     .handler = on_accounts_get},
};
static const bus_actor_def fake_def = {
    .name = "fake-position-management",
    .version = "0.0.1",
    .description = "scripted api.accounts.get for the analytics test",
    .endpoints = fake_endpoints,
    .nendpoints = 1,
};

/* --------------------------------------------------------- fixture --- */

static bus_config cfg;
static bus_conn *conn;
static PGconn *pg;
static bus_actor *fake;
static pid_t worker;
static char log_path[256];

static int count_instances(const char *name) {
    natsConnection *nc = bus_conn_nats(conn);
    char inbox[96], subject[96];
    snprintf(inbox, sizeof inbox, "_INBOX.an.%d.%lld", (int)getpid(), (long long)bus_mono_ns());
    snprintf(subject, sizeof subject, "$SRV.PING.%s", name);
    natsSubscription *sub = NULL;
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, nc, inbox), NATS_OK);
    ck_assert_int_eq(natsConnection_PublishRequestString(nc, subject, inbox, ""), NATS_OK);
    int n = 0;
    natsMsg *m = NULL;
    while (natsSubscription_NextMsg(&m, sub, 300) == NATS_OK) {
        n++;
        natsMsg_Destroy(m);
    }
    natsSubscription_Destroy(sub);
    return n;
}

static void setup(void) {
    tb_test_config(&cfg, "analytics-test");
    conn = tb_test_conn(&cfg);
    pg = PQconnectdb(cfg.database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "postgres: %s", PQerrorMessage(pg));
    tb_error err = {0};
    bus_config fcfg;
    tb_test_config(&fcfg, fake_def.name);
    ck_assert_int_eq(bus_actor_create(&fake_def, &fcfg, &fake, &err), TB_OK);
    ck_assert_msg(bus_actor_start(fake, &err) == TB_OK, "%s", err.message);
    const char *dir = getenv("TB_BINARY_DIR");
    snprintf(log_path, sizeof log_path, "%s/test_analytics.log", dir ? dir : "/tmp");
    char bin[512];
    tb_test_bin(bin, sizeof bin, "actors/analytics/tb-analytics");
    char *argv[] = {bin, NULL};
    char *env[] = {"ANALYTICS_SAMPLE_MS=1000", NULL};
    worker = tb_test_spawn(argv, env, log_path);
    int64_t end = bus_mono_ns() + 20000 * INT64_C(1000000);
    while (count_instances("analytics") < 1)
        ck_assert_msg(bus_mono_ns() < end, "tb-analytics did not start (see %s)", log_path);
}

static void teardown(void) {
    ck_assert_int_eq(kill(worker, SIGTERM), 0);
    ck_assert_int_eq(tb_test_wait_exit(worker, 20000), 0);
    bus_actor_destroy(fake);
    PQfinish(pg);
    bus_conn_close(conn);
}

static void create_account(const char *id) {
    const char *params[] = {id};
    PGresult *r =
        PQexecParams(pg, "INSERT INTO accounts (id, cash, initial_cash) VALUES ($1, 100, 100)", 1,
                     NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(pg));
    PQclear(r);
}

static long long scalar(const char *sql, const char *param) {
    const char *params[] = {param};
    PGresult *r = PQexecParams(pg, sql, 1, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(pg));
    long long v = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static const char *wait_account;
static long long wait_rows;
static bool points_reached(void *arg) {
    (void)arg;
    return scalar("SELECT count(*) FROM equity WHERE account = $1", wait_account) >= wait_rows;
}
static void wait_points(const char *account, long long n) {
    wait_account = account;
    wait_rows = n;
    ck_assert_msg(tb_test_wait(points_reached, NULL, 20000), "%s: fewer than %lld points (see %s)",
                  account, n, log_path);
}

/* Equity (in units * 1e8) of account's point at bucket ts. */
static long long point_equity_e8(const char *account, int64_t ts) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT (equity * 100000000)::bigint FROM equity WHERE account = $1"
             " AND ts = 'epoch'::timestamptz + %lld * interval '1 microsecond'",
             (long long)(ts / 1000));
    return scalar(sql, account);
}

static void publish_update(const char *account, int64_t ts) {
    tb_position_update u = {.qty = FX(1), .ts = ts};
    snprintf(u.account, sizeof u.account, "%s", account);
    snprintf(u.symbol, sizeof u.symbol, "SYM");
    char subject[160];
    snprintf(subject, sizeof subject, "pos.update.%s.SYM", account);
    ck_assert_int_eq(bus_publish(conn, subject, &tb_position_update_desc, &u, NULL), TB_OK);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
}

static tb_status get_perf(const tb_query *q, tb_performance *p, tb_error *err) {
    return bus_request(conn, "api.analytics.get", &tb_query_desc, q, &tb_performance_desc, p, 10000,
                       NULL, err);
}

static tb_status get_equity(const tb_query *q, tb_equity_point **pts, size_t *n,
                            char next[TB_ID_CAP], tb_error *err) {
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    ck_assert_int_eq(tb_encode(&tb_query_desc, q, &buf, NULL), TB_OK);
    bus_bytes rep;
    tb_status s = bus_request_bytes(conn, "api.analytics.equity", buf.data, buf.size, "query",
                                    10000, NULL, &rep, err);
    msgpack_sbuffer_destroy(&buf);
    if (s != TB_OK) return s;
    void *items = NULL;
    s = tb_decode_list(&tb_equity_point_desc, rep.data, rep.len, &items, n, next, err);
    bus_bytes_free(&rep);
    *pts = items;
    return s;
}

static tb_query query_for(const char *account) {
    tb_query q = {0};
    snprintf(q.account, sizeof q.account, "%s", account);
    return q;
}

/* ----------------------------------------------------------- tests --- */

/* 100, 110, 99, 108.9, 119.79 on five days (test_an_stats.c works the
 * numbers): returns +0.1, -0.1, +0.1, +0.1; mean 0.05, sample sd 0.1. */
static const tb_fixed curve[5] = {FX(100), FX(110), FX(99), 10890000000, 11979000000};

START_TEST(scripted_curve_points_and_statistics) {
    char acct[48];
    tb_test_unique(acct, sizeof acct, "AN");
    create_account(acct);
    for (int k = 0; k < 5; k++) {
        fake_set(acct, curve[k], curve[k] - FX(1), false);
        publish_update(acct, JAN2 + k * DAY + 10 * SEC);
        wait_points(acct, k + 1);
    }
    /* More updates inside day 4's 1 s bucket: still one point, holding the
     * freshest valuation. */
    int64_t b4 = JAN2 + 4 * DAY + 10 * SEC;
    fake_set(acct, FX(200), FX(1), false);
    publish_update(acct, b4 + 200000000);
    int64_t end = bus_mono_ns() + 10000 * INT64_C(1000000);
    while (point_equity_e8(acct, b4) != 20000000000LL) {
        ck_assert_msg(bus_mono_ns() < end, "the fresher valuation did not replace the point");
        usleep(10000);
    }
    fake_set(acct, curve[4], curve[4] - FX(1), false);
    publish_update(acct, b4 + 700000000);
    while (point_equity_e8(acct, b4) != 11979000000LL) {
        ck_assert_msg(bus_mono_ns() < end, "the last valuation did not replace the point");
        usleep(10000);
    }
    ck_assert_int_eq(scalar("SELECT count(*) FROM equity WHERE account = $1", acct), 5);

    /* The series. */
    tb_query q = query_for(acct);
    tb_equity_point *pts = NULL;
    size_t n = 0;
    char next[TB_ID_CAP];
    tb_error err = {0};
    ck_assert_msg(get_equity(&q, &pts, &n, next, &err) == TB_OK, "%s", err.message);
    ck_assert_uint_eq(n, 5);
    for (int k = 0; k < 5; k++) {
        ck_assert_str_eq(pts[k].account, acct);
        ck_assert_int_eq(pts[k].ts, JAN2 + k * DAY + 10 * SEC);
        ck_assert_int_eq(pts[k].equity, curve[k]);
        ck_assert_int_eq(pts[k].cash, curve[k] - FX(1));
    }
    free(pts);
    /* Pages of two from day 1. */
    q.from = JAN2 + DAY;
    q.limit = 2;
    ck_assert_int_eq(get_equity(&q, &pts, &n, next, &err), TB_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(pts[0].equity, curve[1]);
    ck_assert_int_eq(pts[1].equity, curve[2]);
    free(pts);
    snprintf(q.cursor, sizeof q.cursor, "%s", next);
    ck_assert_int_eq(get_equity(&q, &pts, &n, next, &err), TB_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(pts[0].equity, curve[3]);
    free(pts);

    /* Statistics with daily returns (252 a year). */
    q = query_for(acct);
    tb_performance p;
    ck_assert_msg(get_perf(&q, &p, &err) == TB_OK, "%s", err.message);
    ck_assert_str_eq(p.account, acct);
    ck_assert_int_eq(p.equity, curve[4]);
    ck_assert_int_eq(p.pnl, 1979000000); /* 119.79 - 100 */
    ck_assert_double_eq_tol(p.total_return, 0.1979, 1e-12);
    ck_assert_double_eq_tol(p.sharpe, 7.937253933193772, 1e-9);   /* 0.5 * sqrt(252) */
    ck_assert_double_eq_tol(p.sortino, 15.874507866387544, 1e-9); /* 1 * sqrt(252) */
    ck_assert_double_eq_tol(p.volatility, 1.5874507866387544, 1e-9);
    ck_assert_double_eq_tol(p.max_drawdown, 0.1, 1e-12);
    ck_assert_int_eq(p.from, JAN2 + 10 * SEC);
    ck_assert_int_eq(p.to, JAN2 + 4 * DAY + 10 * SEC);
    ck_assert_uint_eq(p.fills, 0);

    /* Hourly periods: the same returns, 252 * 24 = 6048 a year. */
    snprintf(q.interval, sizeof q.interval, "1h");
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_OK);
    ck_assert_double_eq_tol(p.sharpe, 0.5 * sqrt(6048.0), 1e-9);

    /* From day 1: 110, 99, 108.9, 119.79 -> returns -0.1, +0.1, +0.1;
     * mean 1/30, sd sqrt(12)/30, Sharpe sqrt(252 / 12) = sqrt(21). */
    q = query_for(acct);
    q.from = JAN2 + DAY;
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_OK);
    ck_assert_double_eq_tol(p.sharpe, 4.58257569495584, 1e-9);
    ck_assert_double_eq_tol(p.total_return, 0.089, 1e-12); /* 119.79 / 110 - 1 */
    ck_assert_int_eq(p.pnl, 979000000);
}
END_TEST

START_TEST(no_valuation_no_point) {
    char bad[48], unknown[48];
    tb_test_unique(bad, sizeof bad, "ANF");
    tb_test_unique(unknown, sizeof unknown, "ANU");
    create_account(bad);
    create_account(unknown);
    fake_set(bad, FX(100), FX(100), true); /* the valuation fails */
    int before = atomic_load(&fake_served);
    publish_update(bad, JAN2);
    publish_update(unknown, JAN2); /* the fake does not know it: not_found */
    int64_t end = bus_mono_ns() + 10000 * INT64_C(1000000);
    while (atomic_load(&fake_served) < before + 2) {
        ck_assert_msg(bus_mono_ns() < end, "analytics never asked for the valuations");
        usleep(10000);
    }
    usleep(300000);
    ck_assert_int_eq(scalar("SELECT count(*) FROM equity WHERE account = $1", bad), 0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM equity WHERE account = $1", unknown), 0);
    /* Once the valuation works again, points follow. */
    fake_set(bad, FX(101), FX(100), false);
    publish_update(bad, JAN2 + SEC);
    wait_points(bad, 1);
}
END_TEST

static void publish_fill(const char *account, const char *id, const char *sym, const char *strat,
                         const char *side, int qty, int price, int64_t ts) {
    tb_fill f = {.qty = FX(qty), .price = FX(price), .fee = FX(1), .ts = ts};
    snprintf(f.fill_id, sizeof f.fill_id, "%s-%s", account, id);
    snprintf(f.order_id, sizeof f.order_id, "%s-o%s", account, id);
    snprintf(f.account, sizeof f.account, "%s", account);
    snprintf(f.symbol, sizeof f.symbol, "%s", sym);
    snprintf(f.strategy_id, sizeof f.strategy_id, "%s", strat);
    snprintf(f.side, sizeof f.side, "%s", side);
    char subject[160];
    snprintf(subject, sizeof subject, "fills.%s.%s", account, sym);
    ck_assert_int_eq(bus_publish(conn, subject, &tb_fill_desc, &f, NULL), TB_OK);
}

static bool fills_in(void *arg) {
    return scalar("SELECT count(*) FROM analytics_fills WHERE account = $1", arg) >= 6;
}

START_TEST(trades_and_win_rate_from_fills) {
    char acct[48];
    tb_test_unique(acct, sizeof acct, "ANT");
    create_account(acct);
    /* A: buy 10 @ 100, sell 4 @ 110 (+40), sell 6 @ 95 (-30), strategy s1;
     * B: buy 5 @ 90, sell 5 @ 80 (-50), strategy s2; buy 1 @ 10 by hand.
     * Fees 1 each. Published out of order, one twice. */
    int64_t t0 = JAN2;
    publish_fill(acct, "f3", "A", "s1", "sell", 6, 95, t0 + 300);
    publish_fill(acct, "f1", "A", "s1", "buy", 10, 100, t0 + 100);
    publish_fill(acct, "f5", "B", "s2", "sell", 5, 80, t0 + 250);
    publish_fill(acct, "f2", "A", "s1", "sell", 4, 110, t0 + 200);
    publish_fill(acct, "f4", "B", "s2", "buy", 5, 90, t0 + 150);
    publish_fill(acct, "f6", "B", "", "buy", 1, 10, t0 + 250);
    publish_fill(acct, "f2", "A", "s1", "sell", 4, 110, t0 + 200);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    ck_assert_msg(tb_test_wait(fills_in, acct, 20000), "fills not recorded (see %s)", log_path);
    usleep(200000);
    ck_assert_int_eq(scalar("SELECT count(*) FROM analytics_fills WHERE account = $1", acct), 6);

    tb_query q = query_for(acct);
    tb_performance p;
    tb_error err = {0};
    ck_assert_msg(get_perf(&q, &p, &err) == TB_OK, "%s", err.message);
    ck_assert_uint_eq(p.fills, 6);
    ck_assert_double_eq_tol(p.win_rate, 1.0 / 3, 1e-12);
    ck_assert_int_eq(p.equity, 0); /* no equity points yet */

    snprintf(q.strategy_id, sizeof q.strategy_id, "s1");
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_OK);
    ck_assert_str_eq(p.strategy_id, "s1");
    ck_assert_uint_eq(p.fills, 3);
    ck_assert_double_eq_tol(p.win_rate, 0.5, 1e-12);
    ck_assert_int_eq(p.pnl, FX(7)); /* 40 - 30 - 3 fees */

    snprintf(q.strategy_id, sizeof q.strategy_id, "s2");
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_OK);
    ck_assert_uint_eq(p.fills, 2);
    ck_assert_double_eq(p.win_rate, 0);
    ck_assert_int_eq(p.pnl, -FX(52));

    /* From t0 + 200: f2, f3, f5, f6 counted (3 closing, 1 win). */
    q = query_for(acct);
    q.from = t0 + 200;
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_OK);
    ck_assert_uint_eq(p.fills, 4);
    ck_assert_double_eq_tol(p.win_rate, 1.0 / 3, 1e-12);
}
END_TEST

START_TEST(endpoint_errors) {
    char acct[48];
    tb_test_unique(acct, sizeof acct, "ANE");
    create_account(acct);
    tb_performance p;
    tb_error err = {0};
    tb_query q = {0};
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_MISSING_FIELD);
    ck_assert_str_eq(err.field, "account");
    q = query_for("AN_NO_SUCH_ACCOUNT");
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_NOT_FOUND);
    q = query_for(acct);
    snprintf(q.accounts, sizeof q.accounts, "other,%sX", acct);
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_NOT_FOUND);
    snprintf(q.accounts, sizeof q.accounts, "other,%s", acct);
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_OK);
    ck_assert_uint_eq(p.fills, 0);
    q = query_for(acct);
    q.from = JAN2 + DAY;
    q.to = JAN2;
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_INVALID);
    tb_equity_point *pts = NULL;
    size_t n = 0;
    char next[TB_ID_CAP];
    q = query_for(acct);
    snprintf(q.cursor, sizeof q.cursor, "x1");
    ck_assert_int_eq(get_equity(&q, &pts, &n, next, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "cursor");
    q = query_for(acct);
    ck_assert_int_eq(get_equity(&q, &pts, &n, next, &err), TB_OK);
    ck_assert_uint_eq(n, 0);
    free(pts);
    /* A hostile body is refused, and the service stays up. */
    bus_bytes rep;
    ck_assert_int_eq(
        bus_request_bytes(conn, "api.analytics.get", "\xc1\xc1", 2, NULL, 5000, NULL, &rep, &err),
        TB_DECODE);
    ck_assert_int_eq(count_instances("analytics"), 1);
}
END_TEST

int main(void) {
    Suite *s = suite_create("analytics");
    TCase *tc = tcase_create("analytics");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, scripted_curve_points_and_statistics);
    tcase_add_test(tc, no_valuation_no_point);
    tcase_add_test(tc, trades_and_win_rate_from_fills);
    tcase_add_test(tc, endpoint_errors);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
