/* A backtest's fills do not depend on machine speed: risk-management
 * decides a run's signal only once position-management has booked the
 * run's earlier fills, and a dependency that does not answer within
 * RISK_DEPENDENCY_TIMEOUT_MS is asked again instead of being refused, up to
 * RISK_BACKTEST_WAIT_MS. Through the gateway and the real services.
 *
 * - position-management stopped (SIGSTOP) for 3 s in the middle of a paced
 *   EuStock DAX run, with RISK_DEPENDENCY_TIMEOUT_MS at 200 ms: the run is
 *   done and every fill equals the independent computation
 *   (tests/support/tb_eustock.c). Without the waiting, the signals of those
 *   3 s are decided on positions and cash that lack the unbooked fills.
 * - The same with RISK_BACKTEST_WAIT_MS at 1 s and position-management
 *   stopped for 5 s: the run ends failed, its message naming the refused
 *   signal, which made no order; never done with fewer fills.
 * - A run's signal is decided only once the run's earlier orders are filled
 *   and booked (buying power in event time): with trading-execution stopped
 *   for 5 s, an order stays open (or a fill it recorded just before stays
 *   unpublished), the next signal waits for it and, after
 *   RISK_BACKTEST_WAIT_MS (1 s), the run ends failed naming that signal and
 *   the open order (or the fill), as trading-execution's.
 * - risk-management stopped (SIGSTOP) in the middle of a run and killed
 *   with -9: the signals it held are lost (signals are at most once). The
 *   run's later signals wait for them (a run's signals are decided in
 *   their order) and make no order, and the run ends failed after
 *   BACKTEST_DECIDE_MS, naming the first signal that made neither an
 *   order nor a recorded refusal and how many; never done with a report
 *   missing them. */
#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_eustock.h"
#include "tb_services.h"
#include "tb_test.h"
#include "test_gateway_fixture.h"

#define N_SERVICES 7
#define RISK       2
#define EXECUTION  3
#define POSITIONS  4
#define FAST       5
#define SLOW       20
#define RUN_MS     180000

static const char *const services[N_SERVICES] = {
    "market-data",         "signal-processing", "risk-management", "trading-execution",
    "position-management", "analytics",         "historical-data"};

static bus_config cfg;
static bus_conn *conn;
static PGconn *pg;
static char log_path[512], tag[40], admin[128];
static pid_t children[N_SERVICES];
static gw_proc gw;
static tb_eustock eu;
static tb_eu_fill want[TB_EU_MAX_FILLS];
static size_t nwant;
static int64_t t_start;

static void setup(void) {
    tb_test_config(&cfg, "backtest-wait-test");
    conn = tb_test_conn(&cfg);
    pg = PQconnectdb(cfg.database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    const char *bd = getenv("TB_BINARY_DIR");
    snprintf(log_path, sizeof log_path, "%s/test_backtest_wait.log", bd ? bd : "/tmp");
    tb_test_unique(tag, sizeof tag, "BW");
    memset(children, 0, sizeof children);
    memset(&gw, 0, sizeof gw);
    tb_eu_load_dax(&eu);
    nwant = tb_eu_sma_fills(&eu, FAST, SLOW, want);
    ck_assert_uint_gt(nwant, 20);
}

static void teardown(void) {
    gw_stop(&gw);
    /* A stopped process only hears SIGTERM once continued. */
    for (int i = 0; i < N_SERVICES; i++)
        if (children[i] > 0) kill(children[i], SIGCONT);
    tb_services_stop(children, N_SERVICES);
    PQfinish(pg);
    bus_conn_close(conn);
}

/* Where the test is, with the seconds since it started (stdout). */
static void phase(const char *what) {
    printf("%6.1f s  %s\n", (double)(bus_mono_ns() - t_start) / 1e9, what);
    fflush(stdout);
}

static void start_all(void) {
    char dir[512];
    const char *src = getenv("TB_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/data", src ? src : ".");
    setenv("MD_REPLAY_DIR", dir, 1);
    setenv("BACKTEST_QUIET_MS", "1000", 1);
    setenv("BACKTEST_DECIDE_MS", "5000", 1);
    setenv("MD_REPLAY_STALL_MS", "30000", 1);
    /* Short, so that position-management stopped for seconds is certainly
     * late for a live account; a run's signals must wait for it. */
    setenv("RISK_DEPENDENCY_TIMEOUT_MS", "200", 1);
    static const char *const env[N_SERVICES] = {"MD_MODE=off", NULL, NULL, "EXEC_SLIPPAGE_BPS=0"};
    tb_services_start(conn, services, env, N_SERVICES, tag, log_path, children);
    gw_start(&gw, tag, NULL);
    gw_admin_key(admin, sizeof admin);
}

static void http(http_resp *r, const char *method, const char *path, const char *body) {
    gw_http(r, &gw, method, path, admin, body);
}

/* Starts sma_cross FAST/SLOW on the DAX closes file, a day per 4 ms (about
 * 8 s of replay: position-management is stopped well before its end), into
 * id. */
static void start_run(char *id, size_t cap) {
    const char *body = "{\"kind\":\"sma_cross\",\"params\":{\"fast\":5,\"slow\":20},"
                       "\"symbols\":[\"DAX\"],\"data\":{\"file\":\"eustock_daily.csv\"},"
                       "\"format\":\"closes\",\"speed\":21600000,\"initial_cash\":\"1000000\"}";
    http_resp r;
    http(&r, "POST", "/v1/backtests", body);
    ck_assert_msg(r.status == 202, "POST: %ld %s", r.status, r.body);
    snprintf(id, cap, "%s", json_string_value(json_object_get(r.json, "backtest_id")));
    http_free(&r);
}

/* GET /v1/backtests/{id} (the caller frees). */
static json_t *get_run(const char *id) {
    char path[128];
    snprintf(path, sizeof path, "/v1/backtests/%s", id);
    http_resp r;
    http(&r, "GET", path, NULL);
    ck_assert_msg(r.status == 200 && r.json, "GET %s: %ld %s", path, r.status, r.body);
    json_t *j = json_incref(r.json);
    http_free(&r);
    return j;
}

/* Waits until the run has replayed at least events ticks (and is still
 * running), so that what follows happens in the middle of it. */
static void wait_events(const char *id, json_int_t events) {
    int64_t end = bus_mono_ns() + (int64_t)60000 * 1000000;
    for (;;) {
        json_t *j = get_run(id);
        const char *st = json_string_value(json_object_get(j, "status"));
        json_int_t n = json_integer_value(json_object_get(j, "events"));
        ck_assert_msg(strcmp(st, "running") == 0, "%s ended (%s) before %lld events", id, st,
                      (long long)events);
        json_decref(j);
        if (n >= events) return;
        ck_assert_msg(bus_mono_ns() < end, "%s: %lld events after 60 s (see %s)", id, (long long)n,
                      log_path);
        usleep(50000);
    }
}

/* Service i stopped for ms (nothing answers its requests, nothing it
 * consumes is handled). */
static void stop_service(int i, int64_t ms) {
    ck_assert_int_eq(kill(children[i], SIGSTOP), 0);
    usleep((useconds_t)(ms * 1000));
    ck_assert_int_eq(kill(children[i], SIGCONT), 0);
}

static json_t *wait_end(const char *id) {
    int64_t end = bus_mono_ns() + (int64_t)RUN_MS * 1000000;
    for (;;) {
        json_t *j = get_run(id);
        if (strcmp(json_string_value(json_object_get(j, "status")), "running") != 0) return j;
        json_decref(j);
        ck_assert_msg(bus_mono_ns() < end, "%s still running after %d ms (see %s)", id, RUN_MS,
                      log_path);
        usleep(200000);
    }
}

/* The run's fills (GET /v1/fills of its account) are want[] one by one:
 * side, price and time, on the run's symbol. */
static void check_fills(const char *id) {
    char path[160], runsym[96];
    snprintf(path, sizeof path, "/v1/fills?account=%s&limit=1000", id);
    snprintf(runsym, sizeof runsym, "%s-DAX", id);
    http_resp r;
    http(&r, "GET", path, NULL);
    ck_assert_msg(r.status == 200, "%s: %ld %s", path, r.status, r.body);
    json_t *items = json_object_get(r.json, "items");
    ck_assert_msg(json_array_size(items) == nwant, "%s: %zu fills, want %zu (see %s)", id,
                  json_array_size(items), nwant, log_path);
    for (size_t i = 0; i < nwant; i++) {
        bool found = false;
        size_t k;
        json_t *f;
        json_array_foreach(items, k, f) {
            int64_t ts;
            ck_assert_int_eq(tb_ts_parse(json_string_value(json_object_get(f, "ts")), &ts), TB_OK);
            if (ts / 1000 != want[i].ts_us) continue;
            found = true;
            tb_fixed px;
            ck_assert_int_eq(
                tb_fixed_parse_cstr(json_string_value(json_object_get(f, "price")), &px), TB_OK);
            ck_assert_msg(px == want[i].price, "%s fill %zu: price %lld, want %lld", id, i,
                          (long long)px, (long long)want[i].price);
            ck_assert_str_eq(json_string_value(json_object_get(f, "side")),
                             want[i].side > 0 ? "buy" : "sell");
            ck_assert_str_eq(json_string_value(json_object_get(f, "symbol")), runsym);
        }
        ck_assert_msg(found, "%s: no fill at %lld us (fill %zu)", id, (long long)want[i].ts_us, i);
    }
    http_free(&r);
}

static long long sql_count(const char *q, const char *p1, const char *p2) {
    const char *p[2] = {p1, p2};
    PGresult *r = PQexecParams(pg, q, p2 ? 2 : 1, NULL, p, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(pg));
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* Waits for run id to end failed, its message holding what and naming a
 * signal of the run ("signal <id> refused") that made no order; the word
 * after what into after (when given). Returns the run (the caller frees). */
static json_t *expect_failed(const char *id, const char *what, char *after, size_t cap) {
    json_t *st = wait_end(id);
    const char *status = json_string_value(json_object_get(st, "status"));
    const char *msg = json_string_value(json_object_get(st, "message"));
    ck_assert_msg(strcmp(status, "failed") == 0, "%s: %s: %s", id, status, msg);
    const char *at = msg ? strstr(msg, what) : NULL;
    ck_assert_msg(at && strstr(msg, "RISK_BACKTEST_WAIT_MS"), "%s: %s", id, msg);
    if (after) {
        char fmt[32];
        snprintf(fmt, sizeof fmt, "%%%zus", cap - 1);
        ck_assert_int_eq(sscanf(at + strlen(what), fmt, after), 1);
    }
    const char *sig = strstr(msg, "signal ");
    ck_assert_msg(sig != NULL, "%s: no signal named in %s", id, msg);
    char signal_id[128];
    ck_assert_int_eq(sscanf(sig, "signal %127s refused", signal_id), 1);
    /* The signal named is the run's, and it made no order. */
    ck_assert_msg(sql_count("SELECT count(*) FROM signals WHERE signal_id = $1 AND account = $2",
                            signal_id, id) == 1,
                  "%s: %s is not a signal of the run", id, signal_id);
    ck_assert_int_eq(sql_count("SELECT count(*) FROM orders WHERE signal_id = $1", signal_id, NULL),
                     0);
    return st;
}

START_TEST(dependency_stopped_mid_run) {
    t_start = bus_mono_ns();
    start_all();
    phase("services up");

    /* ---- position-management away for 3 s: the run only takes longer ---- */
    char id[64];
    start_run(id, sizeof id);
    wait_events(id, 300);
    phase("run under way; position-management stopped for 3 s");
    stop_service(POSITIONS, 3000);
    phase("position-management continued");
    json_t *st = wait_end(id);
    ck_assert_msg(strcmp(json_string_value(json_object_get(st, "status")), "done") == 0,
                  "%s: %s: %s", id, json_string_value(json_object_get(st, "status")),
                  json_string_value(json_object_get(st, "message")));
    json_decref(st);
    check_fills(id);
    /* Every signal of the run made an order: none was refused. */
    ck_assert_int_eq(sql_count("SELECT count(*) FROM orders WHERE account = $1", id, NULL), nwant);
    phase("run done, every fill as computed");

    /* ---- the wait bounded: the run fails, naming the refused signal ---- */
    ck_assert_int_eq(tb_test_stop(children[RISK], 20000), 0);
    children[RISK] = 0;
    char inst[64];
    snprintf(inst, sizeof inst, "%s-risk2", tag);
    children[RISK] =
        tb_service_spawn("risk-management", inst, "RISK_BACKTEST_WAIT_MS=1000", log_path);
    ck_assert_msg(tb_service_wait(conn, "risk-management", inst, 1, 20000),
                  "risk-management did not come back (see %s)", log_path);
    phase("risk-management with RISK_BACKTEST_WAIT_MS=1000");
    char id2[64];
    start_run(id2, sizeof id2);
    wait_events(id2, 300);
    phase("second run under way; position-management stopped for 5 s");
    stop_service(POSITIONS, 5000);
    /* Named either as the dependency that did not answer or as the one that
     * had not booked an earlier fill, whichever the signal waited for. */
    json_t *st2 = expect_failed(id2, "position-management", NULL, 0);
    json_decref(st2);
    phase("second run failed, naming the refused signal");

    /* ---- an earlier order not settled in time: the run fails ---- */
    char id3[64];
    start_run(id3, sizeof id3);
    wait_events(id3, 300);
    phase("third run under way; trading-execution stopped for 5 s");
    stop_service(EXECUTION, 5000);
    char what[32];
    st = expect_failed(id3,
                       "earlier orders were not settled within RISK_BACKTEST_WAIT_MS (1000 ms): "
                       "trading-execution has not",
                       what, sizeof what);
    /* What it named was the run's: an order open when the signal came, or
     * a fill recorded just before the stop and not published (the stopped
     * process relays its own outbox). */
    const char *named =
        strstr(json_string_value(json_object_get(st, "message")),
               strcmp(what, "finished") == 0 ? "finished order " : "published fill ");
    ck_assert_msg(named != NULL, "%s: %s", id3, json_string_value(json_object_get(st, "message")));
    char named_id[128];
    ck_assert_int_eq(sscanf(strchr(strchr(named, ' ') + 1, ' ') + 1, "%127s", named_id), 1);
    ck_assert_msg(sql_count(strcmp(what, "finished") == 0
                                ? "SELECT count(*) FROM orders WHERE order_id = $1 AND account = $2"
                                : "SELECT count(*) FROM fills WHERE fill_id = $1 AND account = $2",
                            named_id, id3) == 1,
                  "%s: %s %s is not the run's", id3, what, named_id);
    json_decref(st);
    phase("third run failed, naming the signal and the order it waited for");

    /* ---- risk-management killed holding signals: the run fails ---- */
    char id4[64];
    start_run(id4, sizeof id4);
    wait_events(id4, 300);
    phase("fourth run under way; risk-management stopped for 2 s, then killed");
    ck_assert_int_eq(kill(children[RISK], SIGSTOP), 0);
    usleep(2000000);
    ck_assert_int_eq(kill(children[RISK], SIGKILL), 0);
    ck_assert_int_eq(tb_test_wait_exit(children[RISK], 20000), 128 + SIGKILL);
    snprintf(inst, sizeof inst, "%s-risk3", tag);
    /* Its own bound longer than analytics' BACKTEST_DECIDE_MS (5 s): the
     * run's later signals wait for the lost ones, and analytics ends it. */
    children[RISK] =
        tb_service_spawn("risk-management", inst, "RISK_BACKTEST_WAIT_MS=60000", log_path);
    ck_assert_msg(tb_service_wait(conn, "risk-management", inst, 1, 20000),
                  "risk-management did not come back (see %s)", log_path);
    st = wait_end(id4);
    const char *status = json_string_value(json_object_get(st, "status"));
    const char *msg = json_string_value(json_object_get(st, "message"));
    ck_assert_msg(strcmp(status, "failed") == 0, "%s: %s: %s", id4, status, msg);
    unsigned long long lost = 0, all = 0;
    char first[128];
    const char *at = msg ? strstr(msg, "signals were never decided") : NULL;
    ck_assert_msg(at != NULL, "%s: %s", id4, msg);
    ck_assert_int_eq(sscanf(msg, "%llu of the run's %llu", &lost, &all), 2);
    ck_assert_int_eq(sscanf(at, "signals were never decided, the first signal %127[^:]", first), 1);
    /* What the message counts is what the tables say: signals of the run
     * with neither an order nor a refusal, the first of them named. */
    const char *undecided =
        "FROM signals s WHERE s.account = $1 "
        "AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.signal_id = s.signal_id) "
        "AND NOT EXISTS (SELECT 1 FROM risk_signal_refusals f WHERE f.signal_id = s.signal_id)";
    char q[512];
    snprintf(q, sizeof q, "SELECT count(*) %s", undecided);
    ck_assert_uint_gt(lost, 0);
    ck_assert_int_eq(sql_count(q, id4, NULL), (long long)lost);
    ck_assert_int_eq(sql_count("SELECT count(*) FROM signals WHERE account = $1", id4, NULL),
                     (long long)all);
    snprintf(q, sizeof q, "SELECT count(*) %s AND s.signal_id = $2", undecided);
    ck_assert_msg(sql_count(q, id4, first) == 1, "%s: %s is not an undecided signal of the run",
                  id4, first);
    /* In the run's order: no signal after the first lost one made an order
     * (the restarted worker's signals waited for it). */
    ck_assert_int_eq(sql_count("SELECT count(*) FROM orders o JOIN signals s ON s.signal_id = "
                               "o.signal_id WHERE s.account = $1 AND s.emit_seq > (SELECT emit_seq "
                               "FROM signals WHERE signal_id = $2)",
                               id4, first),
                     0);
    json_decref(st);
    phase("fourth run failed, naming the signals risk-management lost");
}
END_TEST

int main(void) {
    Suite *s = suite_create("backtest_wait");
    TCase *tc = tcase_create("backtest_wait");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 500);
    tcase_add_test(tc, dependency_stopped_mid_run);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
