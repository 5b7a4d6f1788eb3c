/* Backtests over REST beside live trading (issue #10).
 *
 * The whole platform runs with a live simulator (MD_MODE=sim feeding DAX,
 * SMI, CAC, FTSE) and a live sma_cross strategy trading a live account on
 * DAX. Through the gateway the test then:
 *
 * - sends bad requests: each gets its 4xx and no backtest appears;
 * - runs the EuStock DAX sma_cross 5/20 backtest twice at once at full
 *   speed and once paced (a trading day per millisecond): every fill of each
 *   equals the independent computation (tests/support/tb_eustock.c), the
 *   three reports are equal field by field (but their ids), and a fourth
 *   run started after them, alone, equals them too;
 * - checks isolation: no fill of the live account is on a backtest symbol,
 *   every fill of a run is on its own symbols;
 * - runs a 3 x 2 grid: 6 children, ranked by sharpe;
 * - cancels a slow paced run: its replay reports `canceled` within a second
 *   and its (partial) report is still served. */
#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_eustock.h"
#include "tb_services.h"
#include "tb_test.h"
#include "test_gateway_fixture.h"

#define N_SERVICES 7
#define FAST       5
#define SLOW       20
#define RUN_MS     120000

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

static void setup(void) {
    tb_test_config(&cfg, "backtest-test");
    conn = tb_test_conn(&cfg);
    pg = PQconnectdb(cfg.database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    const char *bd = getenv("TB_BINARY_DIR");
    snprintf(log_path, sizeof log_path, "%s/test_backtest.log", bd ? bd : "/tmp");
    tb_test_unique(tag, sizeof tag, "BT");
    memset(children, 0, sizeof children);
    memset(&gw, 0, sizeof gw);
    tb_eu_load_dax(&eu);
    nwant = tb_eu_sma_fills(&eu, FAST, SLOW, want);
    ck_assert_uint_gt(nwant, 20);
}

static void teardown(void) {
    gw_stop(&gw);
    tb_services_stop(children, N_SERVICES);
    PQfinish(pg);
    bus_conn_close(conn);
}

static void start_all(void) {
    char dir[512];
    const char *src = getenv("TB_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/data", src ? src : ".");
    setenv("MD_REPLAY_DIR", dir, 1);
    setenv("BACKTEST_QUIET_MS", "1000", 1);
    /* A consumer given up on fails the run; on a loaded machine (sanitizers,
     * parallel suites) a batch may take seconds, which is not a stall. */
    setenv("MD_REPLAY_STALL_MS", "30000", 1);
    /* The live simulator: 4 symbols, 20 ticks/s. */
    static const char *const env[N_SERVICES] = {"MD_RATE=20", "EXEC_SLIPPAGE_BPS=0"};
    tb_services_start(conn, services, env, N_SERVICES, tag, log_path, children);
    gw_start(&gw, tag, NULL);
    gw_admin_key(admin, sizeof admin);
}

/* A live account trading DAX from the simulator with sma_cross 2/4. */
static void start_live(const char *acct) {
    tb_account a = {0}, aout;
    snprintf(a.account, sizeof a.account, "%s", acct);
    a.initial_cash = INT64_C(1000000) * TB_FIXED_SCALE;
    tb_error err = {0};
    ck_assert_msg(bus_request(conn, "api.accounts.create", &tb_account_desc, &a, &tb_account_desc,
                              &aout, 5000, NULL, &err) == TB_OK,
                  "%s", err.message);
    tb_strategy st = {0}, sout;
    snprintf(st.strategy_id, sizeof st.strategy_id, "%s-live", acct);
    snprintf(st.kind, sizeof st.kind, "sma_cross");
    snprintf(st.symbol, sizeof st.symbol, "DAX");
    snprintf(st.account, sizeof st.account, "%s", acct);
    snprintf(st.params, sizeof st.params, "{\"fast\":2,\"slow\":4}");
    snprintf(st.sizing, sizeof st.sizing, "fixed");
    st.qty = TB_FIXED_SCALE;
    st.enabled = true;
    ck_assert_msg(bus_request(conn, "api.strategies.create", &tb_strategy_desc, &st,
                              &tb_strategy_desc, &sout, 5000, NULL, &err) == TB_OK,
                  "%s", err.message);
}

static void http(http_resp *r, const char *method, const char *path, const char *body) {
    gw_http(r, &gw, method, path, admin, body);
}

/* POST /v1/backtests; the id into id (202 expected). */
static void start_bt(const char *body, char *id, size_t cap) {
    http_resp r;
    http(&r, "POST", "/v1/backtests", body);
    ck_assert_msg(r.status == 202, "POST %s: %ld %s", body, r.status, r.body);
    const char *v = json_string_value(json_object_get(r.json, "backtest_id"));
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "running");
    snprintf(id, cap, "%s", v);
    http_free(&r);
}

static long long bt_count(void) {
    PGresult *r = PQexec(pg, "SELECT count(*) FROM backtests");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

static void bad(const char *body, long status, const char *field) {
    long long before = bt_count();
    http_resp r;
    http(&r, "POST", "/v1/backtests", body);
    ck_assert_msg(r.status == status, "%s: %ld, want %ld: %s", body, r.status, status, r.body);
    if (field) ck_assert_msg(strcmp(http_error_field(&r), field) == 0, "%s: %s", body, r.body);
    http_free(&r);
    ck_assert_int_eq(bt_count(), before);
}

/* GET /v1/backtests/{id} until its status is not running. */
static json_t *wait_done(const char *id) {
    int64_t end = bus_mono_ns() + (int64_t)RUN_MS * 1000000;
    char path[128];
    snprintf(path, sizeof path, "/v1/backtests/%s", id);
    for (;;) {
        http_resp r;
        http(&r, "GET", path, NULL);
        ck_assert_msg(r.status == 200, "GET %s: %ld %s", path, r.status, r.body);
        const char *st = json_string_value(json_object_get(r.json, "status"));
        if (strcmp(st, "running") != 0) {
            json_t *j = json_incref(r.json);
            http_free(&r);
            return j;
        }
        http_free(&r);
        ck_assert_msg(bus_mono_ns() < end, "%s still running after %d ms (see %s)", id, RUN_MS,
                      log_path);
        usleep(200000);
    }
}

static json_t *report(const char *id) {
    char path[128];
    snprintf(path, sizeof path, "/v1/backtests/%s/report", id);
    http_resp r;
    http(&r, "GET", path, NULL);
    ck_assert_msg(r.status == 200 && r.json, "GET %s: %ld %s", path, r.status, r.body);
    json_t *j = json_incref(r.json);
    http_free(&r);
    return j;
}

/* The report without what names the run. */
static json_t *comparable(json_t *rep) {
    json_t *c = json_deep_copy(rep);
    json_object_del(c, "backtest_id");
    json_object_del(c, "account");
    return c;
}

/* The report's round trips are the expected fills pairwise: the position
 * goes 0, +-1, 0, ...; the last trip may be open. */
static void check_trades(const char *id, json_t *rep) {
    json_t *trades = json_object_get(rep, "trades");
    size_t n = json_array_size(trades);
    ck_assert_msg(n == (nwant + 1) / 2, "%s: %zu round trips, want %zu", id, n, (nwant + 1) / 2);
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(trades, i);
        const tb_eu_fill *in = &want[2 * i];
        ck_assert_str_eq(json_string_value(json_object_get(t, "symbol")), "DAX");
        ck_assert_str_eq(json_string_value(json_object_get(t, "side")),
                         in->side > 0 ? "long" : "short");
        tb_fixed px;
        int64_t ts;
        ck_assert_int_eq(
            tb_fixed_parse_cstr(json_string_value(json_object_get(t, "entry_price")), &px), TB_OK);
        ck_assert_int_eq(tb_ts_parse(json_string_value(json_object_get(t, "entry_ts")), &ts),
                         TB_OK);
        ck_assert_msg(px == in->price && ts / 1000 == in->ts_us, "%s trip %zu entry", id, i);
        if (2 * i + 1 < nwant) {
            const tb_eu_fill *out = &want[2 * i + 1];
            ck_assert_int_eq(
                tb_fixed_parse_cstr(json_string_value(json_object_get(t, "exit_price")), &px),
                TB_OK);
            ck_assert_int_eq(tb_ts_parse(json_string_value(json_object_get(t, "exit_ts")), &ts),
                             TB_OK);
            ck_assert_msg(px == out->price && ts / 1000 == out->ts_us, "%s trip %zu exit", id, i);
        }
    }
    ck_assert_int_eq(json_integer_value(json_object_get(rep, "fills")), (json_int_t)nwant);
    /* The statistics that follow from the fills alone, computed here: the
     * final equity (exact), the closed trips and the share of winners. */
    __int128 cash = (__int128)1000000 * TB_FIXED_SCALE;
    long long pos = 0, wins = 0, closed = 0;
    for (size_t i = 0; i < nwant; i++) {
        cash -= (__int128)want[i].side * want[i].price;
        pos += want[i].side;
        if (i % 2 == 1) {
            closed++;
            wins += (want[i - 1].side > 0 ? want[i].price - want[i - 1].price
                                          : want[i - 1].price - want[i].price) > 0;
        }
    }
    __int128 final = cash + (__int128)pos * eu.closes[eu.nclose - 1];
    json_t *eq = json_object_get(rep, "equity");
    ck_assert_uint_eq(json_array_size(eq), eu.nclose); /* one point a trading day */
    tb_fixed last = 0;
    ck_assert_int_eq(
        tb_fixed_parse_cstr(
            json_string_value(json_object_get(json_array_get(eq, eu.nclose - 1), "equity")), &last),
        TB_OK);
    ck_assert_msg((__int128)last == final, "%s: final equity %lld, want %lld", id, (long long)last,
                  (long long) final);
    ck_assert_int_eq(json_integer_value(json_object_get(rep, "round_trips")), closed);
    double wr = json_number_value(json_object_get(rep, "win_rate"));
    ck_assert_msg(fabs(wr - (double)wins / (double)closed) < 1e-5, "%s: win_rate %g, want %g", id,
                  wr, (double)wins / (double)closed);
    double tr = json_number_value(json_object_get(rep, "total_return"));
    double want_tr = (double) final / (double)((__int128)1000000 * TB_FIXED_SCALE) - 1;
    ck_assert_msg(fabs(tr - want_tr) <= 1e-5 * fabs(want_tr) + 1e-12,
                  "%s: total_return %g, want %g", id, tr, want_tr);
    printf("backtest %s: %zu fills, %lld trips, win rate %.4f, total return %.6f, sharpe %s\n", id,
           nwant, closed, wr, tr,
           json_is_number(json_object_get(rep, "sharpe")) ? "computed" : "null");
}

/* Fills on symbols of the pattern (LIKE) of account. */
static long long fills_like(const char *acct, const char *like, bool match) {
    const char *p[] = {acct, like};
    PGresult *r = PQexecParams(pg,
                               match ? "SELECT count(*) FROM fills WHERE account = $1 AND symbol "
                                       "LIKE $2"
                                     : "SELECT count(*) FROM fills WHERE account = $1 AND symbol "
                                       "NOT LIKE $2",
                               2, NULL, p, NULL, NULL, 0);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

static const char *const DAX_BODY =
    "{\"kind\":\"sma_cross\",\"params\":{\"fast\":5,\"slow\":20},\"symbols\":[\"DAX\"],"
    "\"data\":{\"file\":\"eustock_daily.csv\"},\"format\":\"closes\",\"initial_cash\":\"1000000\","
    "\"speed\":%s}";

START_TEST(backtests_beside_live_trading) {
    start_all();
    char live[64];
    snprintf(live, sizeof live, "%sL", tag);
    start_live(live);

    /* Bad input: a clear 4xx, nothing started. */
    bad("{\"kind\":\"nope\",\"symbols\":\"DAX\",\"data\":{\"file\":\"eustock_daily.csv\"}}", 400,
        "kind");
    bad("{\"kind\":\"sma_cross\",\"params\":{\"fast\":5,\"slow\":20,\"zap\":1},\"symbols\":\"DAX\","
        "\"data\":{\"file\":\"eustock_daily.csv\"}}",
        400, NULL);
    bad("{\"kind\":\"sma_cross\",\"symbols\":\"DAX\",\"data\":{\"file\":\"/etc/passwd\"}}", 403,
        "data");
    bad("{\"kind\":\"sma_cross\",\"symbols\":\"DAX\",\"data\":{\"file\":\"eustock_daily.csv\"},"
        "\"grid\":{\"fast\":[]}}",
        400, "grid");
    bad("{\"kind\":\"sma_cross\",\"symbols\":\"DAX\",\"data\":{\"file\":\"eustock_daily.csv\"},"
        "\"grid\":{\"fast\":[1,2,3,4,5,6,7,8],\"slow\":[20,21,22,23,24,25,26,27]}}",
        413, "grid");
    bad("{\"kind\":\"sma_cross\",\"symbols\":\"NOPE\",\"data\":{\"file\":\"eustock_daily.csv\"}}",
        400, "symbols");
    bad("{\"kind\":\"sma_cross\",\"params\":{\"fast\":5,\"slow\":20},\"symbols\":\"DAX\","
        "\"data\":{\"file\":\"eustock_daily.csv\"},\"fee_bps\":5000}",
        400, "fee_bps");

    /* Two identical runs at once and a paced one, beside the live trading. */
    char body[512], a[64], b[64], p[64], solo[64];
    snprintf(body, sizeof body, DAX_BODY, "0");
    start_bt(body, a, sizeof a);
    start_bt(body, b, sizeof b);
    snprintf(body, sizeof body, DAX_BODY, "86400000"); /* a trading day per millisecond */
    start_bt(body, p, sizeof p);
    const char *ids[] = {a, b, p};
    json_t *reps[4];
    for (int i = 0; i < 3; i++) {
        json_t *st = wait_done(ids[i]);
        ck_assert_msg(strcmp(json_string_value(json_object_get(st, "status")), "done") == 0,
                      "%s: %s", ids[i], json_dumps(st, 0));
        json_decref(st);
        reps[i] = report(ids[i]);
        check_trades(ids[i], reps[i]);
    }
    /* The same run again, alone (the simulator still live). */
    snprintf(body, sizeof body, DAX_BODY, "0");
    start_bt(body, solo, sizeof solo);
    json_decref(wait_done(solo));
    reps[3] = report(solo);
    json_t *base = comparable(reps[3]);
    for (int i = 0; i < 3; i++) {
        json_t *c = comparable(reps[i]);
        const char *k;
        json_t *v;
        json_object_foreach(base, k, v) {
            json_t *o = json_object_get(c, k);
            if (json_equal(o, v)) continue;
            char *x = json_dumps(o, JSON_ENCODE_ANY), *y = json_dumps(v, JSON_ENCODE_ANY);
            ck_assert_msg(0, "%s differs from %s alone in %s: %.300s / %.300s", ids[i], solo, k,
                          x ? x : "(absent)", y ? y : "null");
        }
        ck_assert(json_equal(c, base));
        json_decref(c);
    }
    /* tb-ctl backtest: the same run from the command line, the same report. */
    char bin[512], cmd[1200];
    tb_test_bin(bin, sizeof bin, "tools/ctl/tb-ctl");
    snprintf(cmd, sizeof cmd,
             "'%s' backtest eustock_daily.csv --kind sma_cross --symbols DAX --params "
             "'{\"fast\":5,\"slow\":20}' --format closes --cash 1000000 2>>'%s'",
             bin, log_path);
    FILE *pipe = popen(cmd, "r");
    ck_assert_ptr_nonnull(pipe);
    json_t *line = json_loadf(pipe, JSON_DISABLE_EOF_CHECK, NULL);
    ck_assert_int_eq(pclose(pipe), 0);
    ck_assert_msg(line != NULL, "tb-ctl backtest printed no report (see %s)", log_path);
    json_t *cl = comparable(line);
    ck_assert(json_equal(cl, base));
    json_decref(cl);
    json_decref(line);
    json_decref(base);
    for (int i = 0; i < 4; i++) json_decref(reps[i]);

    /* Isolation: the live account never saw a run's symbol, a run only its own. */
    ck_assert_int_eq(fills_like(live, "bt%", true), 0);
    char own[80];
    for (int i = 0; i < 3; i++) {
        snprintf(own, sizeof own, "%s-%%", ids[i]);
        ck_assert_int_eq(fills_like(ids[i], own, false), 0);
        ck_assert_int_eq(fills_like(ids[i], own, true), (long long)nwant);
    }

    /* A 3 x 2 grid: 6 children ranked by sharpe. */
    char grid[64];
    start_bt("{\"kind\":\"sma_cross\",\"params\":{\"fast\":5,\"slow\":20},\"symbols\":\"DAX\","
             "\"data\":{\"file\":\"eustock_daily.csv\"},\"initial_cash\":\"1000000\","
             "\"grid\":{\"fast\":[3,5,8],\"slow\":[20,30]}}",
             grid, sizeof grid);
    json_t *g = wait_done(grid);
    ck_assert_str_eq(json_string_value(json_object_get(g, "status")), "done");
    json_t *kids = json_object_get(g, "children");
    ck_assert_uint_eq(json_array_size(kids), 6);
    double prev = 1e300;
    for (size_t i = 0; i < 6; i++) {
        json_t *k = json_array_get(kids, i);
        ck_assert_int_eq(json_integer_value(json_object_get(k, "rank")), (json_int_t)i + 1);
        ck_assert_str_eq(json_string_value(json_object_get(k, "status")), "done");
        json_t *sc = json_object_get(k, "score");
        if (json_is_number(sc)) {
            ck_assert(json_number_value(sc) <= prev);
            prev = json_number_value(sc);
        } else {
            prev = -1e300; /* nulls last */
        }
    }
    json_decref(g);

    /* Cancel: a run paced at a trading day per 10 ms (about 19 s). */
    char slow[64];
    snprintf(body, sizeof body, DAX_BODY, "8640000");
    start_bt(body, slow, sizeof slow);
    tb_query q = {0};
    snprintf(q.id, sizeof q.id, "%s", slow);
    tb_md_status ms = {0};
    tb_error err = {0};
    int64_t end = bus_mono_ns() + INT64_C(20000000000);
    do {
        usleep(100000);
        ck_assert(bus_mono_ns() < end);
    } while (bus_request(conn, "api.market.status", &tb_query_desc, &q, &tb_md_status_desc, &ms,
                         2000, NULL, &err) != TB_OK ||
             ms.ticks < 100);
    char path[128];
    snprintf(path, sizeof path, "/v1/backtests/%s", slow);
    http_resp r;
    http(&r, "DELETE", path, NULL);
    ck_assert_msg(r.status == 200, "DELETE: %ld %s", r.status, r.body);
    http_free(&r);
    int64_t t0 = bus_mono_ns();
    for (;;) {
        ck_assert_int_eq(bus_request(conn, "api.market.status", &tb_query_desc, &q,
                                     &tb_md_status_desc, &ms, 2000, NULL, &err),
                         TB_OK);
        if (strcmp(ms.state, "canceled") == 0) break;
        ck_assert_msg(bus_mono_ns() - t0 < INT64_C(1000000000), "replay still %s after 1 s",
                      ms.state);
        usleep(20000);
    }
    ck_assert_uint_lt(ms.ticks, eu.nclose);
    json_t *st = wait_done(slow);
    ck_assert_str_eq(json_string_value(json_object_get(st, "status")), "canceled");
    json_decref(st);
    json_t *part = report(slow);
    ck_assert_str_eq(json_string_value(json_object_get(part, "status")), "canceled");
    ck_assert_uint_lt(json_array_size(json_object_get(part, "trades")), (nwant + 1) / 2);
    json_decref(part);
    /* Scoping: a trader key limited to the live account sees its runs only. */
    char tkey[64], tkid[64], mine[64], tbody[600];
    gw_new_key(&gw, admin, "trader", live, tkey, tkid);
    snprintf(body, sizeof body, DAX_BODY, "0");
    gw_http(&r, &gw, "POST", "/v1/backtests", tkey, body);
    ck_assert_msg(r.status == 403, "no account: %ld %s", r.status, r.body);
    http_free(&r);
    snprintf(tbody, sizeof tbody, "{\"account\":\"%s\",%s", live, body + 1);
    gw_http(&r, &gw, "POST", "/v1/backtests", tkey, tbody);
    ck_assert_msg(r.status == 202, "own account: %ld %s", r.status, r.body);
    snprintf(mine, sizeof mine, "%s", json_string_value(json_object_get(r.json, "backtest_id")));
    http_free(&r);
    snprintf(path, sizeof path, "/v1/backtests/%s", a);
    gw_http(&r, &gw, "GET", path, tkey, NULL);
    ck_assert_msg(r.status == 404, "another's run: %ld %s", r.status, r.body);
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/backtests", tkey, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "count")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(r.json, "items"), 0), "backtest_id")),
                     mine);
    http_free(&r);
    snprintf(path, sizeof path, "/v1/backtests/%s", mine);
    gw_http(&r, &gw, "DELETE", path, tkey, NULL);
    ck_assert_msg(r.status == 200, "cancel own run: %ld %s", r.status, r.body);
    http_free(&r);

    snprintf(path, sizeof path, "/v1/backtests/%s/report.svg", a);
    http(&r, "GET", path, NULL);
    ck_assert_msg(r.status == 200 && r.body && strstr(r.body, "<svg"), "svg: %ld", r.status);
    http_free(&r);
}
END_TEST

int main(void) {
    Suite *s = suite_create("backtest");
    TCase *tc = tcase_create("backtest");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 500);
    tcase_add_test(tc, backtests_beside_live_trading);
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
