/* analytics killed with -9 while fills and position updates flow, across
 * real service processes: market-data (sim) -> risk-management ->
 * trading-execution -> position-management -> analytics (two instances).
 *
 * N_ORDERS market orders go through api.orders.submit; when 40 % of them
 * were answered, one analytics instance is killed with -9 and started again.
 * Once the chain is quiet (every order terminal, every fill applied,
 * market-data stopped), analytics' per-account figures are what a run
 * without the kill gives, because they are a function of what it recorded
 * and that is checked against the system of record:
 *   - analytics_fills holds exactly the account's fills (same ids, sides,
 *     quantities, prices and fees): none lost, none twice. The FILLS stream
 *     redelivers what the killed instance had not acknowledged (after the
 *     consumer's 30 s ack wait at most);
 *   - api.analytics.get counts every fill and their fees;
 *   - the round trips of api.analytics.trades realize, in sum, exactly the
 *     account's realized P&L as position-management booked it;
 *   - the equity curve has points from before the kill and after the
 *     restart, and its newest point is the account's final valuation
 *     (equity and cash as api.accounts.get gives them). Position updates
 *     are core NATS: those queued in the killed instance are lost, the
 *     curve heals with the next update (actors/analytics/README.md). */
#include <libpq-fe.h>
#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_services.h"
#include "tb_test.h"

#define N_ORDERS   400
#define SUBMITTERS 2
#define SEC        INT64_C(1000000000)

static bus_config cfg;
static bus_conn *conn;
static PGconn *pg;
static char log_path[512];
static pid_t pids[8];
enum { P_MD, P_RISK, P_EXEC, P_POS, P_AN1, P_AN2, NP };

static void setup(void) {
    tb_test_config(&cfg, "analytics-kill-test");
    conn = tb_test_conn(&cfg);
    pg = PQconnectdb(cfg.database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    const char *bd = getenv("TB_BINARY_DIR");
    snprintf(log_path, sizeof log_path, "%s/test_analytics_kill.log", bd ? bd : "/tmp");
}

static void teardown(void) {
    for (int i = 0; i < NP; i++)
        if (pids[i] > 0 && kill(pids[i], 0) == 0) {
            kill(pids[i], SIGKILL);
            (void)tb_test_wait_exit(pids[i], 5000);
        }
    memset(pids, 0, sizeof pids);
    PQfinish(pg);
    bus_conn_close(conn);
}

/* The first column of the first row of sql with $1 = arg, as text (""
 * for NULL) into out. */
static void sql_text(const char *sql, const char *arg, char *out, size_t cap) {
    const char *p[1] = {arg};
    PGresult *r = PQexecParams(pg, sql, 1, NULL, p, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(pg));
    ck_assert_int_eq(PQntuples(r), 1);
    snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

static long long sql_count(const char *sql, const char *arg) {
    char v[64];
    sql_text(sql, arg, v, sizeof v);
    return atoll(v);
}

static void request_ok(const char *subject, const tb_event_desc *in, const void *req,
                       const tb_event_desc *out_desc, void *out) {
    tb_error err = {0};
    tb_status s = bus_request(conn, subject, in, req, out_desc, out, 10000, NULL, &err);
    ck_assert_msg(s == TB_OK, "%s: %s (%s)", subject, tb_status_code(s), err.message);
}

static void create_account(const char *acct) {
    tb_account a = {0}, out;
    snprintf(a.account, sizeof a.account, "%s", acct);
    ck_assert_int_eq(tb_fixed_parse_cstr("10000000", &a.initial_cash), TB_OK);
    request_ok("api.accounts.create", &tb_account_desc, &a, &tb_account_desc, &out);
    tb_risk_limits l = {0}, lo;
    snprintf(l.account, sizeof l.account, "%s", acct);
    l.max_orders_per_sec = 1000000;
    l.max_open_orders = 1000000;
    l.max_position_qty = 1000000 * TB_FIXED_SCALE;
    l.max_gross_exposure = 1000000000 * TB_FIXED_SCALE;
    l.daily_loss_limit = 1000000000 * TB_FIXED_SCALE;
    request_ok("api.risk.limits.set", &tb_risk_limits_desc, &l, &tb_risk_limits_desc, &lo);
}

typedef struct submitter {
    const char *acct, *sym;
    int first, step, count;
    int accepted;
    char error[300];
    _Atomic int *progress;
} submitter;

/* Buys and sells (one in three) of 1..5 units, so round trips open and
 * close and realize P&L. */
static void *submit_loop(void *arg) {
    submitter *sb = arg;
    bus_conn *c = tb_test_conn(&cfg);
    for (int k = 0; k < sb->count && sb->error[0] == '\0'; k++) {
        int i = sb->first + k * sb->step;
        tb_order_request o = {0};
        tb_order_record rec;
        snprintf(o.account, sizeof o.account, "%s", sb->acct);
        snprintf(o.symbol, sizeof o.symbol, "%s", sb->sym);
        snprintf(o.side, sizeof o.side, "%s", (i % 2 == 1) ? "sell" : "buy");
        snprintf(o.type, sizeof o.type, "market");
        snprintf(o.tif, sizeof o.tif, "gtc");
        snprintf(o.client_order_id, sizeof o.client_order_id, "a%d", i);
        o.qty = (1 + i % 5) * TB_FIXED_SCALE;
        tb_error err = {0};
        tb_status s = bus_request(c, "api.orders.submit", &tb_order_request_desc, &o,
                                  &tb_order_record_desc, &rec, 10000, NULL, &err);
        if (s == TB_OK)
            sb->accepted++;
        else
            snprintf(sb->error, sizeof sb->error, "order %d: %s (%s)", i, tb_status_code(s),
                     err.message);
        (*sb->progress)++;
    }
    bus_conn_close(c);
    return NULL;
}

static const char *quiet_acct;
static bool chain_quiet(void *arg) {
    (void)arg;
    long long open = sql_count("SELECT count(*) FROM orders WHERE account = $1 AND status NOT IN "
                               "('filled','canceled','rejected','expired')",
                               quiet_acct);
    long long fills = sql_count("SELECT count(*) FROM fills WHERE account = $1", quiet_acct);
    long long applied = sql_count("SELECT count(*) FROM applied_fills a JOIN fills f "
                                  "USING (fill_id) WHERE f.account = $1",
                                  quiet_acct);
    return open == 0 && fills > 0 && applied == fills;
}

/* Fills of the account that analytics lacks or holds differently, and rows
 * it holds that are no fill of the account. */
#define FILL_DIFF                                                                                  \
    "SELECT count(*) FROM (SELECT fill_id, side, qty, price, fee FROM fills WHERE account = $1 "   \
    "EXCEPT SELECT fill_id, side, qty, price, fee FROM analytics_fills WHERE account = $1) d"
#define FILL_EXTRA                                                                                 \
    "SELECT count(*) FROM (SELECT fill_id, side, qty, price, fee FROM analytics_fills WHERE "      \
    "account = $1 EXCEPT SELECT fill_id, side, qty, price, fee FROM fills WHERE account = $1) d"

static bool fills_recorded(void *arg) {
    (void)arg;
    return sql_count(FILL_DIFF, quiet_acct) == 0;
}

/* The newest equity point equals the account's valuation now. */
static bool curve_final(void *arg) {
    (void)arg;
    tb_query q = {0};
    tb_account a;
    snprintf(q.account, sizeof q.account, "%s", quiet_acct);
    request_ok("api.accounts.get", &tb_query_desc, &q, &tb_account_desc, &a);
    char eq[64], cash[64];
    sql_text("SELECT coalesce((SELECT equity::text FROM equity WHERE account = $1 ORDER BY ts "
             "DESC LIMIT 1), '')",
             quiet_acct, eq, sizeof eq);
    sql_text("SELECT coalesce((SELECT cash::text FROM equity WHERE account = $1 ORDER BY ts DESC "
             "LIMIT 1), '')",
             quiet_acct, cash, sizeof cash);
    tb_fixed got_eq, got_cash;
    if (tb_fixed_parse_cstr(eq, &got_eq) != TB_OK || tb_fixed_parse_cstr(cash, &got_cash) != TB_OK)
        return false;
    return got_eq == a.equity && got_cash == a.cash;
}

START_TEST(kill9_mid_flow_loses_and_doubles_nothing) {
    char acct[48], sym[64], md_symbols[128], md_source[64];
    tb_test_unique(acct, sizeof acct, "AK");
    snprintf(sym, sizeof sym, "%sX", acct);
    snprintf(md_symbols, sizeof md_symbols, "MD_SYMBOLS=%s:100", sym);
    snprintf(md_source, sizeof md_source, "MD_SOURCE=%s", acct);
    char bin[512];
    tb_test_bin(bin, sizeof bin, "actors/market-data/tb-market-data");
    char *md_argv[] = {bin, NULL};
    char *md_env[] = {"INSTANCE_ID=ak-md", "LOG_LEVEL=warn", md_symbols, md_source,
                      "MD_RATE=200",       "MD_SEED=11",     NULL};
    pids[P_MD] = tb_test_spawn(md_argv, md_env, log_path);
    pids[P_RISK] = tb_service_spawn("risk-management", "ak-risk", NULL, log_path);
    pids[P_EXEC] = tb_service_spawn("trading-execution", "ak-exec", NULL, log_path);
    pids[P_POS] = tb_service_spawn("position-management", "ak-pos", NULL, log_path);
    pids[P_AN1] = tb_service_spawn("analytics", "ak-an1", NULL, log_path);
    pids[P_AN2] = tb_service_spawn("analytics", "ak-an2", NULL, log_path);
    ck_assert_msg(tb_service_wait(conn, "market-data", "ak-md", 1, 30000), "see %s", log_path);
    ck_assert_msg(tb_service_wait(conn, "risk-management", "ak-risk", 1, 30000), "see %s",
                  log_path);
    ck_assert_msg(tb_service_wait(conn, "trading-execution", "ak-exec", 1, 30000), "see %s",
                  log_path);
    ck_assert_msg(tb_service_wait(conn, "position-management", "ak-pos", 1, 30000), "see %s",
                  log_path);
    ck_assert_msg(tb_service_wait(conn, "analytics", "ak-an", 2, 30000), "see %s", log_path);

    create_account(acct);
    bool quoted = false;
    for (int i = 0; i < 100 && !quoted; i++) {
        tb_query q = {0};
        tb_tick t;
        tb_error err = {0};
        snprintf(q.symbol, sizeof q.symbol, "%s", sym);
        quoted = bus_request(conn, "api.market.quote", &tb_query_desc, &q, &tb_tick_desc, &t, 1000,
                             NULL, &err) == TB_OK;
        if (!quoted) usleep(100000);
    }
    ck_assert_msg(quoted, "no quote of %s (see %s)", sym, log_path);

    _Atomic int progress = 0;
    submitter sbs[SUBMITTERS];
    pthread_t th[SUBMITTERS];
    for (int k = 0; k < SUBMITTERS; k++) {
        sbs[k] = (submitter){.acct = acct,
                             .sym = sym,
                             .first = k,
                             .step = SUBMITTERS,
                             .count = (N_ORDERS - k + SUBMITTERS - 1) / SUBMITTERS,
                             .progress = &progress};
        ck_assert_int_eq(pthread_create(&th[k], NULL, submit_loop, &sbs[k]), 0);
    }
    /* The submitters use this frame: they are joined before any assert. */
    int64_t end = bus_mono_ns() + 60 * SEC;
    while (progress < N_ORDERS * 4 / 10 && bus_mono_ns() < end) usleep(2000);
    bool at40 = progress >= N_ORDERS * 4 / 10;
    int killed = 0;
    long long points_before = 0;
    if (at40) {
        points_before = sql_count("SELECT count(*) FROM equity WHERE account = $1", acct);
        kill(pids[P_AN1], SIGKILL);
        killed = tb_test_wait_exit(pids[P_AN1], 5000);
        pids[P_AN1] = tb_service_spawn("analytics", "ak-an1", NULL, log_path);
    }
    for (int k = 0; k < SUBMITTERS; k++) pthread_join(th[k], NULL);
    int64_t restarted_ns = tb_now_ns();
    ck_assert_msg(at40, "40 %% of %d orders not answered within 60 s", N_ORDERS);
    ck_assert_int_eq(killed, 128 + SIGKILL);
    int accepted = 0;
    for (int k = 0; k < SUBMITTERS; k++) {
        ck_assert_msg(sbs[k].error[0] == '\0', "%s", sbs[k].error);
        accepted += sbs[k].accepted;
    }
    ck_assert_int_eq(accepted, N_ORDERS);
    ck_assert_msg(tb_service_wait(conn, "analytics", "ak-an", 2, 30000), "see %s", log_path);

    /* Quiet: market-data stops marking, every order ends, every fill is
     * booked; then what analytics recorded can be compared. */
    quiet_acct = acct;
    ck_assert_int_eq(tb_test_stop(pids[P_MD], 20000), 0);
    pids[P_MD] = 0;
    ck_assert_msg(tb_test_wait(chain_quiet, NULL, 30000), "orders or fills not settled (see %s)",
                  log_path);
    long long fills = sql_count("SELECT count(*) FROM fills WHERE account = $1", acct);
    ck_assert_msg(tb_test_wait(fills_recorded, NULL, 45000),
                  "analytics lacks %lld of %lld fills 45 s after the chain settled (see %s)",
                  sql_count(FILL_DIFF, acct), fills, log_path);
    ck_assert_int_eq(sql_count(FILL_EXTRA, acct), 0);
    ck_assert_int_eq(sql_count("SELECT count(*) FROM analytics_fills WHERE account = $1", acct),
                     fills);

    tb_query q = {0};
    snprintf(q.account, sizeof q.account, "%s", acct);
    tb_performance perf;
    request_ok("api.analytics.get", &tb_query_desc, &q, &tb_performance_desc, &perf);
    ck_assert_int_eq((long long)perf.fills, fills);
    char fees_pg[64], fees_an[TB_FIXED_STRLEN];
    sql_text("SELECT coalesce(sum(fee), 0)::text FROM fills WHERE account = $1", acct, fees_pg,
             sizeof fees_pg);
    tb_fixed want_fees;
    ck_assert_int_eq(tb_fixed_parse_cstr(fees_pg, &want_fees), TB_OK);
    tb_fixed_format(perf.fees, fees_an);
    ck_assert_msg(perf.fees == want_fees, "analytics fees %s, fills %s", fees_an, fees_pg);

    /* Realized P&L: every trip's (open ones too) against the booking. */
    q.limit = 1000;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    ck_assert_int_eq(tb_encode(&tb_query_desc, &q, &buf, NULL), TB_OK);
    bus_bytes rep;
    tb_error err = {0};
    tb_status s = bus_request_bytes(conn, "api.analytics.trades", buf.data, buf.size, "query",
                                    10000, NULL, &rep, &err);
    msgpack_sbuffer_destroy(&buf);
    ck_assert_msg(s == TB_OK, "api.analytics.trades: %s", err.message);
    void *items = NULL;
    size_t ntrips = 0;
    char next[TB_ID_CAP];
    s = tb_decode_list(&tb_round_trip_desc, rep.data, rep.len, &items, &ntrips, next, &err);
    bus_bytes_free(&rep);
    ck_assert_msg(s == TB_OK, "trades reply: %s", err.message);
    ck_assert_msg(next[0] == '\0', "more than 1000 round trips");
    tb_fixed trips_pnl = 0;
    for (size_t i = 0; i < ntrips; i++) trips_pnl += ((tb_round_trip *)items)[i].pnl;
    free(items);
    tb_account a;
    request_ok("api.accounts.get", &tb_query_desc, &q, &tb_account_desc, &a);
    char got[TB_FIXED_STRLEN], want[TB_FIXED_STRLEN];
    tb_fixed_format(trips_pnl, got);
    tb_fixed_format(a.realized_pnl, want);
    ck_assert_msg(trips_pnl == a.realized_pnl, "round trips realize %s, positions %s", got, want);
    ck_assert_msg(ntrips > 0 && a.realized_pnl != 0, "no P&L was realized: nothing was compared");

    /* The curve: sampled before the kill and after the restart, newest
     * point the final valuation. */
    ck_assert_msg(points_before > 0, "no equity point before the kill");
    char since[32];
    snprintf(since, sizeof since, "%lld", (long long)(restarted_ns / 1000));
    const char *p2[2] = {acct, since};
    PGresult *r = PQexecParams(pg,
                               "SELECT count(*) FROM equity WHERE account = $1 AND ts >= "
                               "to_timestamp($2::bigint / 1e6) - interval '1 second'",
                               2, NULL, p2, NULL, NULL, 0);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    long long points_after = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    ck_assert_msg(points_after > 0, "no equity point after the restart");
    ck_assert_msg(tb_test_wait(curve_final, NULL, 20000),
                  "the newest equity point is not the final valuation (see %s)", log_path);
    printf("analytics kill: %d orders, %lld fills recorded once each, %zu round trips realizing "
           "%s, %lld equity points (%lld before the kill)\n",
           accepted, fills, ntrips, got,
           sql_count("SELECT count(*) FROM equity WHERE account = $1", acct), points_before);
    /* a clean exit of every service (under ASan: without leaks) */
    for (int i = 0; i < NP; i++) {
        if (pids[i] <= 0) continue;
        int rc = tb_test_stop(pids[i], 20000);
        pids[i] = 0;
        ck_assert_msg(rc == 0, "a service exited with %d on SIGTERM (see %s)", rc, log_path);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("analytics-kill");
    TCase *tc = tcase_create("services");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, kill9_mid_flow_loses_and_doubles_nothing);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
