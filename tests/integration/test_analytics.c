/* analytics against real NATS and PostgreSQL: tb-analytics runs as a child
 * process; an in-process fake of position-management answers
 * api.accounts.get with scripted valuations. Checks the equity curve (one
 * point per account and sampling bucket, the freshest valuation winning; a
 * burst of updates handled as one batch with one valuation per account),
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
#include <time.h>
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

/* A gate on one account's next valuation: the fake holds that request
 * (with the figures it had when asked) until the test opens the gate or
 * GATE_MAX_MS passed (below analytics' 2 s request timeout), so that updates
 * published meanwhile queue up in analytics and reach it as one batch. */
#define GATE_MAX_MS 1500
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static char gate_account[TB_TOKEN_CAP]; /* armed while not empty */
static bool gate_held, gate_open;

static void gate_arm(const char *account) {
    pthread_mutex_lock(&fake_mu);
    snprintf(gate_account, sizeof gate_account, "%s", account);
    gate_held = gate_open = false;
    pthread_mutex_unlock(&fake_mu);
}

static bool gate_is_held(void *arg) {
    (void)arg;
    pthread_mutex_lock(&fake_mu);
    bool held = gate_held;
    pthread_mutex_unlock(&fake_mu);
    return held;
}

static void gate_release(void) {
    pthread_mutex_lock(&fake_mu);
    gate_open = true;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&fake_mu);
}

/* Called with fake_mu held: waits at the gate when it is armed for account
 * (once; the gate disarms itself). */
static void gate_pass(const char *account) {
    if (gate_account[0] == '\0' || strcmp(gate_account, account) != 0) return;
    gate_account[0] = '\0';
    gate_held = true;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += GATE_MAX_MS / 1000;
    until.tv_nsec += (GATE_MAX_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (!gate_open)
        if (pthread_cond_timedwait(&gate_cv, &fake_mu, &until) != 0) break;
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
    gate_pass(q->account);
    pthread_mutex_unlock(&fake_mu);
    atomic_fetch_add(&fake_served, 1);
    if (!have) return bus_fail(ctx, TB_NOT_FOUND, "account", "no account %s", q->account);
    if (found.fail) return bus_fail(ctx, TB_UNAVAILABLE, NULL, "valuation store down");
    found.value.ts = tb_now_ns();
    return bus_reply(ctx, &tb_account_desc, &found.value);
}

/* historical-data's api.bars.query for the buy and hold return: each G*
 * symbol has one bar in its history, opening at 100, 50, 80 and closing at
 * 110, 40, 96 (+10 %, -20 %, +20 %). The first request of a symbol (with
 * from) must cover the curve's span exactly. */
static atomic_int bars_asked, bars_bad_range;
static int64_t bars_from, bars_to;

static tb_status on_bars_query(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    atomic_fetch_add(&bars_asked, 1);
    if (q->from && (q->from != bars_from || q->to != bars_to)) atomic_fetch_add(&bars_bad_range, 1);
    static const char *const syms[] = {"GA", "GB", "GC"};
    static const int open[] = {100, 50, 80}, close[] = {110, 40, 96};
    for (int i = 0; i < 3; i++) {
        if (strcmp(q->symbol, syms[i]) != 0) continue;
        tb_bar b = {.start = bars_from + DAY,
                    .open = FX(open[i]),
                    .high = FX(200),
                    .low = FX(1),
                    .close = FX(close[i])};
        snprintf(b.symbol, sizeof b.symbol, "%s", q->symbol);
        snprintf(b.interval, sizeof b.interval, "%s", q->interval);
        return bus_reply_list(ctx, &tb_bar_desc, &b, 1, NULL);
    }
    return bus_reply_list(ctx, &tb_bar_desc, NULL, 0, NULL);
}

static const bus_endpoint fake_endpoints[] = {
    {.name = "accounts-get",
     .kind = BUS_REQUEST,
     .subject = "api.accounts.get",
     .event = &tb_query_desc,
     .handler = on_accounts_get},
    {.name = "bars-query",
     .kind = BUS_REQUEST,
     .subject = "api.bars.query",
     .event = &tb_query_desc,
     .handler = on_bars_query},
};
static const bus_actor_def fake_def = {
    .name = "fake-position-management",
    .version = "0.0.1",
    .description = "scripted api.accounts.get and api.bars.query for the analytics test",
    .endpoints = fake_endpoints,
    .nendpoints = 2,
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

/* Stops what the last test did not (it failed early). */
static void teardown(void) {
    if (tb_test_stop(worker, 20000) != 0) fprintf(stderr, "tb-analytics did not exit cleanly\n");
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

/* Publishes a position update (flushed by the caller). */
static void send_update(const char *account, int64_t ts) {
    tb_position_update u = {.qty = FX(1), .ts = ts};
    snprintf(u.account, sizeof u.account, "%s", account);
    snprintf(u.symbol, sizeof u.symbol, "SYM");
    char subject[160];
    snprintf(subject, sizeof subject, "pos.update.%s.SYM", account);
    ck_assert_int_eq(bus_publish(conn, subject, &tb_position_update_desc, &u, NULL), TB_OK);
}

static void publish_update(const char *account, int64_t ts) {
    send_update(account, ts);
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

static tb_status get_trades(const tb_query *q, tb_round_trip **items, size_t *n,
                            char next[TB_ID_CAP], tb_error *err) {
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    ck_assert_int_eq(tb_encode(&tb_query_desc, q, &buf, NULL), TB_OK);
    bus_bytes rep;
    tb_status s = bus_request_bytes(conn, "api.analytics.trades", buf.data, buf.size, "query",
                                    10000, NULL, &rep, err);
    msgpack_sbuffer_destroy(&buf);
    if (s != TB_OK) return s;
    void *got = NULL;
    s = tb_decode_list(&tb_round_trip_desc, rep.data, rep.len, &got, n, next, err);
    bus_bytes_free(&rep);
    *items = got;
    return s;
}

/* Statistics are rounded to 6 significant digits: got must be want so
 * rounded (half a unit of the 6th digit, relative). */
static void near6(double got, double want, const char *what) {
    ck_assert_msg(isfinite(got), "%s: %g is not a number", what, got);
    ck_assert_msg(fabs(got - want) <= 5.000001e-6 * fabs(want), "%s: got %.17g, want %.17g", what,
                  got, want);
}

static void has_reason(const tb_performance *p, const char *field, const char *why) {
    char want[160];
    snprintf(want, sizeof want, "%s", field);
    const char *at = strstr(p->null_reasons, field);
    ck_assert_msg(at != NULL, "no reason for %s in \"%s\"", field, p->null_reasons);
    /* The reason follows the field's group: the first ": " after it. */
    const char *colon = strstr(at, ": ");
    ck_assert_msg(colon && strncmp(colon + 2, why, strlen(why)) == 0, "%s: want \"%s\" in \"%s\"",
                  field, why, p->null_reasons);
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
    /* Drawdown against the high-water mark: 0, 0, 11 / 110, 1.1 / 110, 0. */
    const double dd[5] = {0, 0, 0.1, 0.01, 0};
    for (int k = 0; k < 5; k++) near6(pts[k].drawdown + 1, dd[k] + 1, "drawdown");
    free(pts);
    /* Pages of two from day 1. */
    q.from = JAN2 + DAY;
    q.limit = 2;
    ck_assert_int_eq(get_equity(&q, &pts, &n, next, &err), TB_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(pts[0].equity, curve[1]);
    ck_assert_int_eq(pts[1].equity, curve[2]);
    ck_assert_double_eq(pts[0].drawdown, 0);
    near6(pts[1].drawdown, 0.1, "page drawdown"); /* the page's own peak, 110 */
    free(pts);
    snprintf(q.cursor, sizeof q.cursor, "%s", next);
    ck_assert_int_eq(get_equity(&q, &pts, &n, next, &err), TB_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(pts[0].equity, curve[3]);
    /* 108.9 against 110, a peak on an earlier page. */
    near6(pts[0].drawdown, 0.01, "drawdown after a page");
    free(pts);

    /* Statistics with daily returns (252 a year). */
    q = query_for(acct);
    tb_performance p;
    ck_assert_msg(get_perf(&q, &p, &err) == TB_OK, "%s", err.message);
    ck_assert_str_eq(p.account, acct);
    ck_assert_str_eq(p.interval, "1d");
    ck_assert_int_eq(p.equity, curve[4]);
    ck_assert_int_eq(p.pnl, 1979000000); /* 119.79 - 100 */
    near6(p.total_return, 0.1979, "total_return");
    near6(p.sharpe, 0.5 * sqrt(252.0), "sharpe");
    near6(p.sortino, sqrt(252.0), "sortino"); /* mean 0.05 / downside sqrt(0.01 / 4) */
    near6(p.volatility, 0.1 * sqrt(252.0), "volatility");
    near6(p.max_drawdown, 0.1, "max_drawdown");
    /* 4 days = 4 / 365.25 years. */
    double cagr = pow(119.79 / 100, 365.25 / 4) - 1;
    near6(p.cagr, cagr, "cagr");
    near6(p.calmar, cagr / 0.1, "calmar");
    ck_assert_int_eq(p.drawdown_peak, JAN2 + DAY + 10 * SEC);       /* 110 */
    ck_assert_int_eq(p.drawdown_trough, JAN2 + 2 * DAY + 10 * SEC); /* 99 */
    ck_assert_int_eq(p.drawdown_recovery, JAN2 + 4 * DAY + 10 * SEC);
    ck_assert(isnan(p.var_95)); /* 4 daily returns */
    has_reason(&p, "var_95", "fewer than 20 daily returns");
    ck_assert_double_eq(p.exposure, 0); /* never in the market */
    ck_assert_uint_eq(p.returns, 4);
    ck_assert_int_eq(p.from, JAN2 + 10 * SEC);
    ck_assert_int_eq(p.to, JAN2 + 4 * DAY + 10 * SEC);
    ck_assert_uint_eq(p.fills, 0);
    ck_assert_uint_eq(p.round_trips, 0);
    ck_assert(isnan(p.win_rate) && isnan(p.profit_factor));
    ck_assert_int_eq(p.expectancy, TB_NULL_INT);
    ck_assert_int_eq(p.avg_win, TB_NULL_INT);
    has_reason(&p, "win_rate", "no closed round trips");
    has_reason(&p, "avg_loss", "no losing round trips");
    has_reason(&p, "buy_hold_return", "no traded symbol");

    /* Hourly periods: the same returns, 252 * 24 = 6048 a year. */
    snprintf(q.interval, sizeof q.interval, "1h");
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_OK);
    near6(p.sharpe, 0.5 * sqrt(6048.0), "hourly sharpe");

    /* A risk-free rate is the service's setting (ANALYTICS_RISK_FREE_RATE,
     * 0 here): with it the numbers above would change, so they prove 0. */

    /* From day 1: 110, 99, 108.9, 119.79 -> returns -0.1, +0.1, +0.1;
     * mean 1/30, sd sqrt(12)/30, Sharpe sqrt(252 / 12) = sqrt(21). */
    q = query_for(acct);
    q.from = JAN2 + DAY;
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_OK);
    near6(p.sharpe, sqrt(21.0), "sharpe from day 1");
    near6(p.total_return, 119.79 / 110 - 1, "total_return from day 1");
    ck_assert_int_eq(p.pnl, 979000000);

    /* One point only (day 4): no time, no returns. */
    q.from = JAN2 + 4 * DAY;
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_OK);
    ck_assert_double_eq(p.total_return, 0);
    ck_assert(isnan(p.cagr) && isnan(p.sharpe) && isnan(p.sortino) && isnan(p.volatility));
    has_reason(&p, "cagr", "no time elapsed");
    has_reason(&p, "sharpe", "fewer than 2 returns");
    has_reason(&p, "sortino", "no returns");
    ck_assert_int_eq(p.drawdown_peak, TB_NULL_INT);
    has_reason(&p, "drawdown_peak", "no drawdown");
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

/* A point written as another worker would have: equity (cash 1 less)
 * valued at valued_ns, at bucket ts. */
static void insert_point(const char *account, int64_t ts, tb_fixed equity, int64_t valued_ns) {
    char us[24], eq[TB_FIXED_STRLEN], cash[TB_FIXED_STRLEN], valued[24];
    snprintf(us, sizeof us, "%lld", (long long)(ts / 1000));
    tb_fixed_format(equity, eq);
    tb_fixed_format(equity - FX(1), cash);
    snprintf(valued, sizeof valued, "%lld", (long long)valued_ns);
    const char *params[] = {account, us, eq, cash, valued};
    PGresult *r = PQexecParams(
        pg,
        "INSERT INTO equity (account, ts, equity, cash, valued_ns)"
        " VALUES ($1, 'epoch'::timestamptz + $2::bigint * interval '1 microsecond', $3, $4, $5)",
        5, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(pg));
    PQclear(r);
}

/* valued_ns of account's point at bucket ts (0 when there is none). */
static long long point_valued(const char *account, int64_t ts) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT valued_ns FROM equity WHERE account = $1"
             " AND ts = 'epoch'::timestamptz + %lld * interval '1 microsecond'",
             (long long)(ts / 1000));
    return scalar(sql, account);
}

/* tb_analytics_samples_total{outcome} of the (single) analytics instance;
 * -1 when it cannot be read. */
static long long samples_metric(const char *outcome) {
    char label[64];
    snprintf(label, sizeof label, "outcome=\"%s\"}", outcome);
    bus_bytes b = {0};
    tb_error err = {0};
    long long v = -1;
    if (bus_request_bytes(conn, "svc.analytics.metrics", "", 0, NULL, 2000, NULL, &b, &err) !=
        TB_OK)
        return -1;
    for (char *line = b.data; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        static const char family[] = "tb_analytics_samples_total{";
        if (strncmp(line, family, sizeof family - 1) == 0 && strstr(line, label)) {
            const char *sp = strrchr(line, ' ');
            if (sp) v = strtoll(sp + 1, NULL, 10);
            break;
        }
        line = nl ? nl + 1 : NULL;
    }
    bus_bytes_free(&b);
    return v;
}

typedef struct burst_wait {
    const char *a, *b;
    long long written, stale; /* metric values to reach */
} burst_wait;

/* The burst's batch is stored: a has 3 points of 150 and b 4 of 250 (one
 * transaction writes both). */
static bool burst_stored(void *arg) {
    const burst_wait *w = arg;
    return scalar("SELECT count(*) FROM equity WHERE account = $1 AND equity = 150", w->a) >= 3 &&
           scalar("SELECT count(*) FROM equity WHERE account = $1 AND equity = 250", w->b) >= 4;
}

static bool burst_counted(void *arg) {
    const burst_wait *w = arg;
    return samples_metric("written") >= w->written && samples_metric("stale") >= w->stale;
}

/* A burst of updates of two accounts over four buckets, published at once
 * while analytics waits for a valuation, reaches it as one batch: one
 * api.accounts.get per account, one point per (account, bucket), and each
 * point holds the freshest valuation, be it the batch's or one already
 * stored. */
START_TEST(burst_one_point_per_bucket_freshest_wins) {
    char a[48], b[48];
    tb_test_unique(a, sizeof a, "ANBA");
    tb_test_unique(b, sizeof b, "ANBB");
    create_account(a);
    create_account(b);
    const int64_t t0 = JAN2 + 20 * DAY, ms = INT64_C(1000000);
    /* Stored before: a's bucket 3 from a valuation fresher than any of the
     * burst (another worker's, later), b's bucket 2 from an older one. */
    const long long future = INT64_C(4000000000000000000);
    insert_point(a, t0 + 3 * SEC, FX(777), future);
    insert_point(b, t0 + 2 * SEC, FX(555), 1);
    long long written0 = samples_metric("written"), stale0 = samples_metric("stale");
    ck_assert_msg(written0 >= 0 && stale0 >= 0, "no samples metric from analytics");
    int served0 = atomic_load(&fake_served);

    /* First update: analytics asks for a's valuation (120 when asked) and
     * the fake holds the request while the burst is published. */
    fake_set(a, FX(120), FX(119), false);
    fake_set(b, FX(250), FX(249), false);
    gate_arm(a);
    publish_update(a, t0 + 1 * ms);
    ck_assert_msg(tb_test_wait(gate_is_held, NULL, 10000), "analytics never asked for %s", a);
    fake_set(a, FX(150), FX(149), false);
    /* 3 updates per account and bucket, newest bucket first, accounts
     * interleaved: 24 updates, 8 (account, bucket) pairs. */
    for (int rep = 0; rep < 3; rep++)
        for (int k = 3; k >= 0; k--) {
            send_update(b, t0 + k * SEC + (900 - rep * 300) * ms);
            send_update(a, t0 + k * SEC + (2 + rep * 300) * ms);
        }
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    usleep(300000); /* the burst reaches analytics' client */
    gate_release();

    burst_wait w = {.a = a, .b = b};
    ck_assert_msg(tb_test_wait(burst_stored, &w, 20000),
                  "the burst's points were not stored (see %s)", log_path);
    /* One point per (account, bucket), nowhere else. */
    ck_assert_int_eq(scalar("SELECT count(*) FROM equity WHERE account = $1", a), 4);
    ck_assert_int_eq(scalar("SELECT count(*) FROM equity WHERE account = $1", b), 4);
    for (int k = 0; k < 4; k++) {
        int64_t bucket = t0 + k * SEC;
        /* a's bucket 3 keeps the fresher stored point; a's bucket 0, first
         * written with the held valuation (120), took the batch's fresher
         * one; b's bucket 2 replaced its older point. */
        ck_assert_int_eq(point_equity_e8(a, bucket), k == 3 ? 77700000000LL : 15000000000LL);
        ck_assert_int_eq(point_equity_e8(b, bucket), 25000000000LL);
        ck_assert_int_eq(point_valued(a, bucket), k == 3 ? future : point_valued(a, t0));
        ck_assert_int_eq(point_valued(b, bucket), point_valued(b, t0));
    }
    ck_assert_int_gt(point_valued(a, t0), 1);
    ck_assert_int_gt(point_valued(b, t0), 1);
    /* The held request, then one per account for the whole burst. */
    ck_assert_int_eq(atomic_load(&fake_served) - served0, 3);
    /* Samples: a0 (held), then 8 pairs, of which a3 was stale. */
    w.written = written0 + 8;
    w.stale = stale0 + 1;
    ck_assert_msg(tb_test_wait(burst_counted, &w, 10000),
                  "samples counted: %lld written, %lld stale", samples_metric("written") - written0,
                  samples_metric("stale") - stale0);
    ck_assert_int_eq(samples_metric("written"), written0 + 8);
    ck_assert_int_eq(samples_metric("stale"), stale0 + 1);
}
END_TEST

/* ------------------------------------- an independent reference ---- */

/* A fill as the test published it (fill_id is the stored, account-prefixed
 * one: replay order compares it byte-wise). */
typedef struct rfill {
    char id[TB_ID_CAP];
    char sym[TB_TOKEN_CAP];
    char strat[TB_TOKEN_CAP];
    int side;
    tb_fixed qty, price, fee;
    int64_t ts;
} rfill;

typedef struct rtrip {
    char sym[TB_TOKEN_CAP];
    char strat[TB_TOKEN_CAP];
    int side;
    bool closed;
    int64_t entry_ts, exit_ts;
    int64_t opened, closed_q, entry_n, exit_n, pnl, fees;
} rtrip;

#define MAX_RFILLS 128

/* num / den (den > 0) rounded half to even, in 128 bits. */
static int64_t rhe(__int128 num, __int128 den) {
    __int128 q = num / den, r = num % den;
    if (r < 0) {
        r += den;
        q -= 1;
    }
    if (2 * r > den || (2 * r == den && (q & 1))) q += 1;
    return (int64_t)q;
}

static int rfill_order(const void *a, const void *b) {
    const rfill *x = a, *y = b;
    int c = strcmp(x->sym, y->sym);
    if (c) return c;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* The README's round trips, written out again from its definitions: average
 * cost, closing share of the cost cost * c / |qty|, a fill through zero
 * splitting its fee by quantity. Returns the number of trips. */
static int reference_trips(const rfill *in, int n, rtrip *out) {
    rfill f[MAX_RFILLS];
    ck_assert_int_le(n, MAX_RFILLS);
    memcpy(f, in, (size_t)n * sizeof *f);
    qsort(f, (size_t)n, sizeof *f, rfill_order);
    int nt = 0;
    bool in_trip = false;
    int64_t pos = 0, cost = 0;
    rtrip t = {0};
    for (int i = 0; i < n; i++) {
        if (i > 0 && strcmp(f[i].sym, f[i - 1].sym) != 0) {
            if (in_trip) out[nt++] = t;
            in_trip = false;
            pos = cost = 0;
        }
        int64_t notional = rhe((__int128)f[i].qty * f[i].price, TB_FIXED_SCALE);
        int64_t oq = f[i].qty, on = notional, ofee = f[i].fee;
        if (pos != 0 && (pos > 0) != (f[i].side > 0)) {
            int64_t open = pos > 0 ? pos : -pos;
            int64_t c = f[i].qty < open ? f[i].qty : open;
            int64_t cn = c == f[i].qty ? notional : rhe((__int128)c * f[i].price, TB_FIXED_SCALE);
            int64_t cr = c == open ? cost : rhe((__int128)cost * c, open);
            int64_t cf = c == f[i].qty ? f[i].fee : rhe((__int128)f[i].fee * c, f[i].qty);
            t.closed_q += c;
            t.exit_n += cn;
            t.pnl += pos > 0 ? cn - cr : -cr - cn;
            t.fees += cf;
            t.exit_ts = f[i].ts;
            cost -= cr;
            pos += f[i].side * c;
            if (pos == 0) {
                t.closed = true;
                out[nt++] = t;
                in_trip = false;
            }
            oq -= c;
            on -= cn;
            ofee -= cf;
        }
        if (oq > 0) {
            if (!in_trip) {
                memset(&t, 0, sizeof t);
                snprintf(t.sym, sizeof t.sym, "%s", f[i].sym);
                snprintf(t.strat, sizeof t.strat, "%s", f[i].strat);
                t.side = f[i].side;
                t.entry_ts = f[i].ts;
                in_trip = true;
            }
            t.opened += oq;
            t.entry_n += on;
            t.fees += ofee;
            cost += f[i].side * on;
            pos += f[i].side * oq;
        }
    }
    if (in_trip) out[nt++] = t;
    return nt;
}

static int rtrip_order(const void *a, const void *b) {
    const rtrip *x = a, *y = b;
    if (x->entry_ts != y->entry_ts) return x->entry_ts < y->entry_ts ? -1 : 1;
    return strcmp(x->sym, y->sym);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Checks the account's statistics and its trade list against the reference
 * over fills f; with points, the curve spans [start, end] for the exposure. */
static void check_against_reference(const char *acct, const rfill *f, int n, bool points,
                                    int64_t start, int64_t end) {
    rtrip t[MAX_RFILLS];
    int nt = reference_trips(f, n, t);
    int64_t fees = 0, net = 0, win_sum = 0, loss_sum = 0;
    uint64_t rt = 0, wins = 0, losses = 0;
    for (int i = 0; i < n; i++) fees += f[i].fee;
    for (int i = 0; i < nt; i++) {
        if (!t[i].closed) continue;
        int64_t x = t[i].pnl - t[i].fees;
        rt++;
        net += x;
        if (x > 0) wins++, win_sum += x;
        if (x < 0) losses++, loss_sum += x;
    }
    tb_query q = query_for(acct);
    tb_performance p;
    tb_error err = {0};
    ck_assert_msg(get_perf(&q, &p, &err) == TB_OK, "%s", err.message);
    ck_assert_uint_eq(p.fills, (uint64_t)n);
    ck_assert_int_eq(p.fees, fees);
    ck_assert_uint_eq(p.round_trips, rt);
    if (rt) {
        near6(p.win_rate, (double)wins / (double)rt, "win_rate");
        ck_assert_int_eq(p.expectancy, rhe(net, (__int128)rt));
    } else {
        ck_assert(isnan(p.win_rate));
    }
    ck_assert_int_eq(p.avg_win, wins ? rhe(win_sum, (__int128)wins) : TB_NULL_INT);
    ck_assert_int_eq(p.avg_loss, losses ? rhe(loss_sum, (__int128)losses) : TB_NULL_INT);
    if (losses)
        near6(p.profit_factor, (double)win_sum / (double)-loss_sum, "profit_factor");
    else
        ck_assert(isnan(p.profit_factor));
    if (points) {
        /* Union of [entry, exit] (open: to the end) within [start, end], by
         * marking each trip's boundaries on a sorted grid of times. */
        int64_t grid[2 * MAX_RFILLS + 2];
        int ng = 0;
        grid[ng++] = start;
        grid[ng++] = end;
        for (int i = 0; i < nt; i++) {
            grid[ng++] = t[i].entry_ts < start ? start : t[i].entry_ts > end ? end : t[i].entry_ts;
            int64_t x = t[i].closed ? t[i].exit_ts : end;
            grid[ng++] = x < start ? start : x > end ? end : x;
        }
        qsort(grid, (size_t)ng, sizeof *grid, cmp_i64);
        double covered = 0;
        for (int g = 0; g + 1 < ng; g++) {
            int64_t mid_a = grid[g], mid_b = grid[g + 1];
            if (mid_b <= mid_a) continue;
            bool in = false;
            for (int i = 0; i < nt && !in; i++) {
                int64_t x = t[i].closed ? t[i].exit_ts : INT64_MAX;
                in = t[i].entry_ts <= mid_a && x >= mid_b;
            }
            if (in) covered += (double)(mid_b - mid_a);
        }
        near6(p.exposure, covered / (double)(end - start), "exposure");
    } else {
        ck_assert(isnan(p.exposure));
        has_reason(&p, "exposure", "no equity points");
    }

    /* The list, by entry time, in pages of 3. */
    qsort(t, (size_t)nt, sizeof *t, rtrip_order);
    int seen = 0;
    q = query_for(acct);
    q.limit = 3;
    for (int page = 0; page < 100; page++) {
        tb_round_trip *items = NULL;
        size_t k = 0;
        char next[TB_ID_CAP];
        ck_assert_msg(get_trades(&q, &items, &k, next, &err) == TB_OK, "%s", err.message);
        ck_assert_uint_le(k, 3);
        for (size_t i = 0; i < k; i++, seen++) {
            ck_assert_int_lt(seen, nt);
            const rtrip *r = &t[seen];
            const tb_round_trip *g = &items[i];
            ck_assert_str_eq(g->account, acct);
            ck_assert_str_eq(g->symbol, r->sym);
            ck_assert_str_eq(g->strategy_id, r->strat);
            ck_assert_str_eq(g->side, r->side > 0 ? "long" : "short");
            ck_assert_int_eq(g->qty, r->opened);
            ck_assert_int_eq(g->entry_ts, r->entry_ts);
            ck_assert_int_eq(g->entry_price, rhe((__int128)r->entry_n * TB_FIXED_SCALE, r->opened));
            ck_assert_int_eq(g->exit_ts, r->closed ? r->exit_ts : TB_NULL_INT);
            ck_assert_int_eq(g->exit_price,
                             r->closed_q ? rhe((__int128)r->exit_n * TB_FIXED_SCALE, r->closed_q)
                                         : TB_NULL_INT);
            ck_assert_int_eq(g->pnl, r->pnl);
            ck_assert_int_eq(g->fees, r->fees);
            ck_assert_int_eq(g->net_pnl, r->pnl - r->fees);
        }
        free(items);
        if (next[0] == '\0') break;
        snprintf(q.cursor, sizeof q.cursor, "%s", next);
    }
    ck_assert_int_eq(seen, nt);
}

static void publish_rfill(const char *account, const rfill *r) {
    tb_fill f = {.qty = r->qty, .price = r->price, .fee = r->fee, .ts = r->ts};
    snprintf(f.fill_id, sizeof f.fill_id, "%s", r->id);
    snprintf(f.order_id, sizeof f.order_id, "%s-o", r->id);
    snprintf(f.account, sizeof f.account, "%s", account);
    snprintf(f.symbol, sizeof f.symbol, "%s", r->sym);
    snprintf(f.strategy_id, sizeof f.strategy_id, "%s", r->strat);
    snprintf(f.side, sizeof f.side, "%s", r->side > 0 ? "buy" : "sell");
    char subject[160];
    snprintf(subject, sizeof subject, "fills.%s.%s", account, r->sym);
    ck_assert_int_eq(bus_publish(conn, subject, &tb_fill_desc, &f, NULL), TB_OK);
}

static rfill make_fill(const char *account, const char *id, const char *sym, const char *strat,
                       int side, int qty, int price, int64_t ts) {
    rfill r = {.side = side, .qty = FX(qty), .price = FX(price), .fee = FX(1), .ts = ts};
    snprintf(r.id, sizeof r.id, "%s-%s", account, id);
    snprintf(r.sym, sizeof r.sym, "%s", sym);
    snprintf(r.strat, sizeof r.strat, "%s", strat);
    return r;
}

static const char *fills_account;
static long long fills_want;
static bool fills_in(void *arg) {
    (void)arg;
    return scalar("SELECT count(*) FROM analytics_fills WHERE account = $1", fills_account) >=
           fills_want;
}

static void wait_fills(const char *acct, long long n) {
    fills_account = acct;
    fills_want = n;
    /* The analytics durable on FILLS keeps what every other test traded
     * while no tb-analytics ran (tens of thousands of fills after the order
     * path test); under the sanitizers working that off takes a while. */
    ck_assert_msg(tb_test_wait(fills_in, NULL, 180000), "fills not recorded (see %s)", log_path);
    usleep(200000);
    ck_assert_int_eq(scalar("SELECT count(*) FROM analytics_fills WHERE account = $1", acct), n);
}

START_TEST(trades_and_win_rate_from_fills) {
    char acct[48];
    tb_test_unique(acct, sizeof acct, "ANT");
    create_account(acct);
    /* A: buy 10 @ 100, sell 4 @ 110 (+40), sell 6 @ 95 (-30), strategy s1;
     * B: buy 5 @ 90, sell 5 @ 80 (-50), strategy s2; buy 1 @ 10 by hand.
     * Fees 1 each. Published out of order, one twice. */
    int64_t t0 = JAN2;
    rfill f[6] = {make_fill(acct, "f3", "A", "s1", -1, 6, 95, t0 + 300),
                  make_fill(acct, "f1", "A", "s1", 1, 10, 100, t0 + 100),
                  make_fill(acct, "f5", "B", "s2", -1, 5, 80, t0 + 250),
                  make_fill(acct, "f2", "A", "s1", -1, 4, 110, t0 + 200),
                  make_fill(acct, "f4", "B", "s2", 1, 5, 90, t0 + 150),
                  make_fill(acct, "f6", "B", "", 1, 1, 10, t0 + 250)};
    for (int i = 0; i < 6; i++) publish_rfill(acct, &f[i]);
    publish_rfill(acct, &f[3]);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    wait_fills(acct, 6);

    /* By hand: round trips A (long 10, entry 100, exit 1010 / 10 = 101,
     * P&L +10, fees 3, net +7) and B (long 5, 90 -> 80, P&L -50, fees 2,
     * net -52) closed; f6 opens a third that stays open. Win rate 1/2, avg
     * win 7, avg loss -52, expectancy -22.5, profit factor 7 / 52. */
    tb_query q = query_for(acct);
    tb_performance p;
    tb_error err = {0};
    ck_assert_msg(get_perf(&q, &p, &err) == TB_OK, "%s", err.message);
    ck_assert_uint_eq(p.fills, 6);
    ck_assert_uint_eq(p.round_trips, 2);
    ck_assert_double_eq(p.win_rate, 0.5);
    ck_assert_int_eq(p.avg_win, FX(7));
    ck_assert_int_eq(p.avg_loss, -FX(52));
    ck_assert_int_eq(p.expectancy, -2250000000);
    near6(p.profit_factor, 7.0 / 52, "profit_factor");
    ck_assert_int_eq(p.fees, FX(6));
    ck_assert_int_eq(p.equity, TB_NULL_INT); /* no equity points yet */
    has_reason(&p, "equity", "no equity points");
    check_against_reference(acct, f, 6, false, 0, 0);

    /* s1 opened trip A: one win; P&L 40 - 30 - 3 fees. */
    snprintf(q.strategy_id, sizeof q.strategy_id, "s1");
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_OK);
    ck_assert_str_eq(p.strategy_id, "s1");
    ck_assert_uint_eq(p.fills, 3);
    ck_assert_uint_eq(p.round_trips, 1);
    ck_assert_double_eq(p.win_rate, 1);
    ck_assert_int_eq(p.pnl, FX(7));
    ck_assert(isnan(p.sharpe));
    has_reason(&p, "sharpe", "equity is per account");

    snprintf(q.strategy_id, sizeof q.strategy_id, "s2");
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_OK);
    ck_assert_uint_eq(p.fills, 2);
    ck_assert_double_eq(p.win_rate, 0);
    ck_assert_double_eq(p.profit_factor, 0);
    ck_assert_int_eq(p.pnl, -FX(52));

    /* From t0 + 260: fills f3 only; the trips closed since: A (at 300). */
    q = query_for(acct);
    q.from = t0 + 260;
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_OK);
    ck_assert_uint_eq(p.fills, 1);
    ck_assert_uint_eq(p.round_trips, 1);
    ck_assert_int_eq(p.fees, FX(1));

    /* The list for one symbol, and for trips opened from t0 + 200. */
    q = query_for(acct);
    snprintf(q.symbol, sizeof q.symbol, "B");
    tb_round_trip *items = NULL;
    size_t n = 0;
    char next[TB_ID_CAP];
    ck_assert_int_eq(get_trades(&q, &items, &n, next, &err), TB_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(items[1].symbol, "B");
    ck_assert_int_eq(items[1].exit_ts, TB_NULL_INT); /* f6's, still open */
    ck_assert_int_eq(items[1].exit_price, TB_NULL_INT);
    ck_assert_int_eq(items[1].entry_price, FX(10));
    free(items);
    q = query_for(acct);
    q.from = t0 + 200;
    ck_assert_int_eq(get_trades(&q, &items, &n, next, &err), TB_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(items[0].entry_ts, t0 + 250);
    free(items);
}
END_TEST

START_TEST(generated_fills_against_reference) {
    /* 60 fills over 3 symbols on 10 days, random sides and sizes, so
     * positions add, reduce and flip through zero; the curve spans day 0 to
     * day 12 (two points). Every figure is checked against the reference
     * above, which knows nothing of the service's code. */
    char acct[48];
    tb_test_unique(acct, sizeof acct, "ANG");
    create_account(acct);
    fake_set(acct, FX(1000), FX(1000), false);
    publish_update(acct, JAN2);
    wait_points(acct, 1);
    fake_set(acct, FX(1010), FX(1010), false);
    publish_update(acct, JAN2 + 12 * DAY);
    wait_points(acct, 2);
    static const char *const syms[] = {"GA", "GB", "GC"};
    static const char *const strats[] = {"g1", "g2", ""};
    rfill f[60];
    uint64_t x = 88172645463325252u; /* xorshift64: the same fills every run */
    for (int i = 0; i < 60; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        char id[16];
        snprintf(id, sizeof id, "g%02d", i);
        int64_t ts = JAN2 + DAY + (int64_t)i * (DAY / 6) + (int64_t)(x % 1000);
        f[i] = make_fill(acct, id, syms[x % 3], strats[(x >> 8) % 3], (x >> 16) & 1 ? 1 : -1,
                         1 + (int)((x >> 20) % 7), 90 + (int)((x >> 28) % 21), ts);
        f[i].fee = (tb_fixed)((x >> 40) % 50000000);        /* up to 0.5, often not a divisor */
        f[i].price += (tb_fixed)((x >> 48) % 3) * 33333333; /* prices like 95.33333333 */
    }
    for (int i = 0; i < 60; i++) publish_rfill(acct, &f[i]);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    wait_fills(acct, 60);
    bars_from = JAN2;
    bars_to = JAN2 + 12 * DAY + 1; /* bars starting by the last point */
    int asked = atomic_load(&bars_asked);
    check_against_reference(acct, f, 60, true, JAN2, JAN2 + 12 * DAY);
    /* Buy and hold of GA, GB, GC: (0.1 - 0.2 + 0.2) / 3, two bars each. */
    tb_query q = query_for(acct);
    tb_performance p;
    tb_error err = {0};
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_OK);
    near6(p.buy_hold_return, 0.1 / 3, "buy_hold_return");
    ck_assert_int_ge(atomic_load(&bars_asked) - asked, 6);
    ck_assert_int_eq(atomic_load(&bars_bad_range), 0);
    /* A symbol historical-data has no bars of: null, with the reason. */
    rfill extra = make_fill(acct, "h1", "GZ", "", 1, 1, 10, JAN2 + 11 * DAY);
    publish_rfill(acct, &extra);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    wait_fills(acct, 61);
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_OK);
    ck_assert(isnan(p.buy_hold_return));
    has_reason(&p, "buy_hold_return", "no bars of a traded symbol in the span");
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
    tb_round_trip *trips = NULL;
    const char *bad_cursors[] = {"x1", "-1", "0", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad_cursors / sizeof bad_cursors[0]; i++) {
        q = query_for(acct);
        snprintf(q.cursor, sizeof q.cursor, "%s", bad_cursors[i]);
        ck_assert_int_eq(get_trades(&q, &trips, &n, next, &err), TB_INVALID);
        ck_assert_str_eq(err.field, "cursor");
    }
    q = query_for("AN_NO_SUCH_ACCOUNT");
    ck_assert_int_eq(get_trades(&q, &trips, &n, next, &err), TB_NOT_FOUND);
    q = query_for(acct);
    ck_assert_int_eq(get_trades(&q, &trips, &n, next, &err), TB_OK);
    ck_assert_uint_eq(n, 0);
    free(trips);
    /* The reply names the return period it used. */
    q = query_for(acct);
    snprintf(q.interval, sizeof q.interval, "1h");
    ck_assert_int_eq(get_perf(&q, &p, &err), TB_OK);
    ck_assert_str_eq(p.interval, "1h");
    /* A hostile body is refused, and the service stays up. */
    bus_bytes rep;
    ck_assert_int_eq(
        bus_request_bytes(conn, "api.analytics.get", "\xc1\xc1", 2, NULL, 5000, NULL, &rep, &err),
        TB_DECODE);
    ck_assert_int_eq(count_instances("analytics"), 1);
}
END_TEST

/* Last: the service drains and exits 0 (under ASan: without leaks or memory
 * errors). A test, not the teardown: a failure in an unchecked teardown is
 * not recorded. */
START_TEST(analytics_stops_cleanly) {
    int rc = tb_test_stop(worker, 20000);
    worker = 0;
    ck_assert_msg(rc == 0, "tb-analytics exited with %d (see %s)", rc, log_path);
}
END_TEST

int main(void) {
    Suite *s = suite_create("analytics");
    TCase *tc = tcase_create("analytics");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, scripted_curve_points_and_statistics);
    tcase_add_test(tc, no_valuation_no_point);
    tcase_add_test(tc, burst_one_point_per_bucket_freshest_wins);
    tcase_add_test(tc, trades_and_win_rate_from_fills);
    tcase_add_test(tc, generated_fills_against_reference);
    tcase_add_test(tc, endpoint_errors);
    tcase_add_test(tc, analytics_stops_cleanly);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
