/* Backtests whose data comes with the request (data.csv) or from
 * historical-data's bars (data.bars), through the gateway and the real
 * services (market-data without a simulator: the runs are the only ticks).
 *
 * - Bad input: a malformed CSV (422 naming its first bad lines), an empty
 *   one, one over BACKTEST_CSV_MAX and one over GATEWAY_MAX_BODY (413), an
 *   unknown bars interval, bars to before from (400), a bars range without
 *   bars (422), a strategy parameter the kind does not take (400), and
 *   risk-management down after the run's account was made (503): each
 *   starts nothing, and no account is left behind.
 * - The EuStock CSV sent in the request, twice at once beside the same file
 *   run: every fill equals the independent computation
 *   (tests/support/tb_eustock.c) and the reports are equal field by field.
 * - A paced csv run whose analytics worker is killed with -9 mid-run: the
 *   restarted worker carries it on to the same report.
 * - tb-ctl backtest --csv sends a local file the same way: the same report.
 * - position-management's api.accounts.delete: an empty account goes, a
 *   run's account (it has fills) is a conflict, an unknown one not found.
 * - The DAX closes imported as 1d bars (api.bars.import) and replayed with
 *   data.bars: the fills equal the computation over the same closes, each
 *   at the end of its bar (the next day 00:00Z). */
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
#define ANALYTICS  5
#define FAST       5
#define SLOW       20
#define RUN_MS     120000
#define DAY_NS     INT64_C(86400000000000)

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
static char *file_text; /* data/eustock_daily.csv */
static size_t file_len;

static void setup(void) {
    tb_test_config(&cfg, "backtest-sources-test");
    conn = tb_test_conn(&cfg);
    pg = PQconnectdb(cfg.database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    const char *bd = getenv("TB_BINARY_DIR");
    snprintf(log_path, sizeof log_path, "%s/test_backtest_sources.log", bd ? bd : "/tmp");
    tb_test_unique(tag, sizeof tag, "BS");
    memset(children, 0, sizeof children);
    memset(&gw, 0, sizeof gw);
    tb_eu_load_dax(&eu);
    nwant = tb_eu_sma_fills(&eu, FAST, SLOW, want);
    ck_assert_uint_gt(nwant, 20);
    char path[512];
    const char *src = getenv("TB_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/data/eustock_daily.csv", src ? src : ".");
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    file_text = malloc(1 << 20);
    ck_assert_ptr_nonnull(file_text);
    file_len = fread(file_text, 1, (1 << 20) - 1, f);
    file_text[file_len] = '\0';
    fclose(f);
    ck_assert_uint_gt(file_len, 100000);
}

static void teardown(void) {
    gw_stop(&gw);
    tb_services_stop(children, N_SERVICES);
    free(file_text);
    PQfinish(pg);
    bus_conn_close(conn);
}

static void start_all(void) {
    char dir[512];
    const char *src = getenv("TB_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/data", src ? src : ".");
    setenv("MD_REPLAY_DIR", dir, 1);
    setenv("BACKTEST_QUIET_MS", "1000", 1);
    setenv("MD_REPLAY_STALL_MS", "30000", 1);
    static const char *const env[N_SERVICES] = {"MD_MODE=off", NULL, NULL, "EXEC_SLIPPAGE_BPS=0"};
    tb_services_start(conn, services, env, N_SERVICES, tag, log_path, children);
    gw_start(&gw, tag, NULL);
    gw_admin_key(admin, sizeof admin);
}

static void http(http_resp *r, const char *method, const char *path, const char *body) {
    gw_http(r, &gw, method, path, admin, body);
}

/* A backtest body: sma_cross FAST/SLOW on symbols with data (a JSON
 * object, stolen), format and speed (NULL: none). */
static char *body_of(const char *symbol, json_t *data, const char *params, const char *format,
                     json_int_t speed) {
    json_t *b = json_pack("{s:s, s:o, s:[s], s:o, s:s}", "kind", "sma_cross", "params",
                          json_loads(params, 0, NULL), "symbols", symbol, "data", data,
                          "initial_cash", "1000000");
    ck_assert_ptr_nonnull(b);
    if (format) json_object_set_new(b, "format", json_string(format));
    if (speed) json_object_set_new(b, "speed", json_integer(speed));
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    ck_assert_ptr_nonnull(text);
    return text;
}

static json_t *csv_data(const char *text, size_t len) {
    return json_pack("{s:s%}", "csv", text, len);
}

static int64_t t_start;

/* Where the test is, with the seconds since it started (stdout). */
static void phase(const char *what) {
    printf("%6.1f s  %s\n", (double)(bus_mono_ns() - t_start) / 1e9, what);
    fflush(stdout);
}

static const char *const PARAMS = "{\"fast\":5,\"slow\":20}";

static void start_bt(const char *body, char *id, size_t cap) {
    http_resp r;
    http(&r, "POST", "/v1/backtests", body);
    ck_assert_msg(r.status == 202, "POST %.300s: %ld %s", body, r.status, r.body);
    snprintf(id, cap, "%s", json_string_value(json_object_get(r.json, "backtest_id")));
    http_free(&r);
}

static long long sql_count(const char *q) {
    PGresult *r = PQexec(pg, q);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* A refused request: its status, the field named, the message holding
 * says (may be NULL); no backtest row and no run account appears. */
static void bad(const char *body, long status, const char *field, const char *says) {
    long long runs = sql_count("SELECT count(*) FROM backtests");
    long long accounts = sql_count("SELECT count(*) FROM accounts WHERE id ~ '^bt[0-9]+$'");
    http_resp r;
    http(&r, "POST", "/v1/backtests", body);
    ck_assert_msg(r.status == status, "%.200s: %ld, want %ld: %s", body, r.status, status, r.body);
    if (field) ck_assert_msg(strcmp(http_error_field(&r), field) == 0, "%.200s: %s", body, r.body);
    if (says)
        ck_assert_msg(r.body && strstr(r.body, says), "%.200s: %s lacks %s", body, r.body, says);
    http_free(&r);
    ck_assert_int_eq(sql_count("SELECT count(*) FROM backtests"), runs);
    ck_assert_int_eq(sql_count("SELECT count(*) FROM accounts WHERE id ~ '^bt[0-9]+$'"), accounts);
}

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

static json_t *report_done(const char *id) {
    json_t *st = wait_done(id);
    ck_assert_msg(strcmp(json_string_value(json_object_get(st, "status")), "done") == 0, "%s: %s",
                  id, json_string_value(json_object_get(st, "message")));
    json_decref(st);
    char path[128];
    snprintf(path, sizeof path, "/v1/backtests/%s/report", id);
    http_resp r;
    http(&r, "GET", path, NULL);
    ck_assert_msg(r.status == 200 && r.json, "GET %s: %ld %s", path, r.status, r.body);
    json_t *j = json_incref(r.json);
    http_free(&r);
    json_object_del(j, "backtest_id"); /* what names the run */
    json_object_del(j, "account");
    return j;
}

/* The run's fills (GET /v1/fills of its account, oldest first) are want[]
 * one by one: side, price and time, on the run's symbol. */
static void check_fills(const char *id, const char *symbol, const tb_eu_fill *w, size_t n) {
    char path[160], runsym[96];
    snprintf(path, sizeof path, "/v1/fills?account=%s&limit=1000", id);
    snprintf(runsym, sizeof runsym, "%s-%s", id, symbol);
    http_resp r;
    http(&r, "GET", path, NULL);
    ck_assert_msg(r.status == 200, "%s: %ld %s", path, r.status, r.body);
    json_t *items = json_object_get(r.json, "items");
    ck_assert_msg(json_array_size(items) == n, "%s: %zu fills, want %zu", id,
                  json_array_size(items), n);
    /* The list's order is not the point: match each by its time. */
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        size_t k;
        json_t *f;
        json_array_foreach(items, k, f) {
            int64_t ts;
            ck_assert_int_eq(tb_ts_parse(json_string_value(json_object_get(f, "ts")), &ts), TB_OK);
            if (ts / 1000 != w[i].ts_us) continue;
            found = true;
            tb_fixed px;
            ck_assert_int_eq(
                tb_fixed_parse_cstr(json_string_value(json_object_get(f, "price")), &px), TB_OK);
            ck_assert_msg(px == w[i].price, "%s fill %zu: price %lld, want %lld", id, i,
                          (long long)px, (long long)w[i].price);
            ck_assert_str_eq(json_string_value(json_object_get(f, "side")),
                             w[i].side > 0 ? "buy" : "sell");
            ck_assert_str_eq(json_string_value(json_object_get(f, "symbol")), runsym);
        }
        ck_assert_msg(found, "%s: no fill at %lld us (fill %zu)", id, (long long)w[i].ts_us, i);
    }
    http_free(&r);
}

static void same_report(json_t *a, json_t *b, const char *what) {
    const char *k;
    json_t *v;
    json_object_foreach(b, k, v) {
        json_t *o = json_object_get(a, k);
        if (json_equal(o, v)) continue;
        if (json_is_array(o) && json_is_array(v)) {
            size_t i = 0;
            while (i < json_array_size(o) && json_equal(json_array_get(o, i), json_array_get(v, i)))
                i++;
            char *x = json_dumps(json_array_get(o, i), JSON_ENCODE_ANY);
            char *y = json_dumps(json_array_get(v, i), JSON_ENCODE_ANY);
            ck_assert_msg(0, "%s: %s differs at %zu of %zu / %zu: %.300s / %.300s", what, k, i,
                          json_array_size(o), json_array_size(v), x ? x : "(absent)",
                          y ? y : "(absent)");
        }
        char *x = json_dumps(o, JSON_ENCODE_ANY), *y = json_dumps(v, JSON_ENCODE_ANY);
        ck_assert_msg(0, "%s: %s differs: %.300s / %.300s", what, k, x ? x : "(absent)",
                      y ? y : "null");
    }
    ck_assert(json_equal(a, b));
}

START_TEST(csv_in_the_request) {
    t_start = bus_mono_ns();
    start_all();
    phase("services up");

    /* ---- bad input: a clear 4xx, nothing started, no account left ---- */
    char *broken = strdup(file_text);
    char *l5 = broken;
    for (int i = 0; i < 4; i++) l5 = strchr(l5, '\n') + 1; /* line 5 */
    memcpy(l5 + 11, "bad", 3); /* "1991-07-02,bad..": the price is no number */
    char *l5end = strchr(l5, '\n');
    memcpy(l5end - 4, "a.bc", 4); /* its close is no number */
    char *l9 = l5end + 1;
    for (int i = 0; i < 3; i++) l9 = strchr(l9, '\n') + 1;
    l9[4] = '/'; /* a date that is none */
    char *body = body_of("DAX", csv_data(broken, strlen(broken)), PARAMS, "closes", 0);
    bad(body, 422, "data", "2 malformed rows, nothing replayed: line 5: ");
    bad(body, 422, "data", "; line 9: ");
    free(body);
    free(broken);
    body = body_of("DAX", csv_data("", 0), PARAMS, "closes", 0);
    bad(body, 422, "data", "empty");
    free(body);
    /* Over BACKTEST_CSV_MAX (768 KiB) but within GATEWAY_MAX_BODY (1 MiB). */
    size_t big_len = 810000;
    char *big = malloc(big_len + 1);
    for (size_t o = 0; o < big_len; o += file_len)
        memcpy(big + o, file_text, big_len - o < file_len ? big_len - o : file_len);
    big[big_len] = '\0';
    body = body_of("DAX", csv_data(big, big_len), PARAMS, "closes", 0);
    bad(body, 413, "data", "BACKTEST_CSV_MAX");
    free(body);
    free(big);
    big_len = 1200000;
    big = malloc(big_len + 1);
    memset(big, '1', big_len);
    big[big_len] = '\0';
    body = body_of("DAX", csv_data(big, big_len), PARAMS, "closes", 0);
    bad(body, 413, NULL, NULL);
    free(body);
    free(big);
    /* A strategy parameter the kind does not take: refused before the
     * run's account exists (it used to stay behind). */
    body = body_of("DAX", csv_data(file_text, file_len), "{\"fast\":5,\"slow\":20,\"zap\":1}",
                   "closes", 0);
    bad(body, 400, NULL, "zap");
    free(body);
    body = body_of("DAX", json_pack("{s:s, s:s}", "csv", "a", "file", "b"), PARAMS, NULL, 0);
    bad(body, 400, "data", NULL);
    free(body);
    body = body_of("NOPE", csv_data(file_text, file_len), PARAMS, "closes", 0);
    bad(body, 400, "symbols", NULL);
    free(body);

    phase("bad requests refused");
    /* risk-management away: the run's account is made, its limits cannot
     * be: 503, and the account is deleted again. */
    ck_assert_int_eq(tb_test_stop(children[RISK], 20000), 0);
    children[RISK] = 0;
    body = body_of("DAX", csv_data(file_text, file_len), PARAMS, "closes", 0);
    bad(body, 503, NULL, NULL);
    free(body);
    char risk_inst[64];
    snprintf(risk_inst, sizeof risk_inst, "%s-risk2", tag);
    children[RISK] = tb_service_spawn("risk-management", risk_inst, NULL, log_path);
    ck_assert_msg(tb_service_wait(conn, "risk-management", risk_inst, 1, 20000),
                  "risk-management did not come back (see %s)", log_path);

    phase("refused with risk-management away; it is back");
    /* ---- the same data as a file and twice as csv, all at once ---- */
    char f[64], c1[64], c2[64];
    body = body_of("DAX", json_pack("{s:s}", "file", "eustock_daily.csv"), PARAMS, "closes", 0);
    start_bt(body, f, sizeof f);
    free(body);
    body = body_of("DAX", csv_data(file_text, file_len), PARAMS, "closes", 0);
    start_bt(body, c1, sizeof c1);
    start_bt(body, c2, sizeof c2);
    json_t *rf = report_done(f), *r1 = report_done(c1), *r2 = report_done(c2);
    check_fills(f, "DAX", want, nwant);
    check_fills(c1, "DAX", want, nwant);
    check_fills(c2, "DAX", want, nwant);
    same_report(r1, rf, "csv run vs file run");
    same_report(r2, rf, "second csv run vs file run");
    json_decref(r1);
    json_decref(r2);
    free(body);

    phase("file run and two csv runs at once: equal");
    /* ---- kill -9 of analytics during a paced csv run ---- */
    char k[64];
    body = body_of("DAX", csv_data(file_text, file_len), PARAMS, "closes",
                   43200000); /* a day per 2 ms: about 5 s */
    start_bt(body, k, sizeof k);
    free(body);
    usleep(1500000);
    ck_assert_int_eq(kill(children[ANALYTICS], SIGKILL), 0);
    ck_assert_int_eq(tb_test_wait_exit(children[ANALYTICS], 5000), 128 + SIGKILL);
    children[ANALYTICS] = 0;
    char inst[64];
    snprintf(inst, sizeof inst, "%s-analy2", tag);
    children[ANALYTICS] = tb_service_spawn("analytics", inst, NULL, log_path);
    ck_assert_msg(tb_service_wait(conn, "analytics", inst, 1, 20000),
                  "analytics did not come back (see %s)", log_path);
    json_t *rk = report_done(k);
    check_fills(k, "DAX", want, nwant);
    same_report(rk, rf, "csv run across kill -9 of analytics vs file run");
    json_decref(rk);

    phase("csv run across kill -9 of analytics: equal");
    /* tb-ctl backtest --csv: a local file sent with the request. */
    char bin[512], cmd[1600];
    tb_test_bin(bin, sizeof bin, "tools/ctl/tb-ctl");
    const char *src = getenv("TB_SOURCE_DIR");
    snprintf(cmd, sizeof cmd,
             "'%s' backtest '%s/data/eustock_daily.csv' --csv --kind sma_cross --symbols DAX "
             "--params '%s' --format closes --cash 1000000 2>>'%s'",
             bin, src ? src : ".", PARAMS, log_path);
    FILE *pipe = popen(cmd, "r");
    ck_assert_ptr_nonnull(pipe);
    json_t *line = json_loadf(pipe, JSON_DISABLE_EOF_CHECK, NULL);
    ck_assert_int_eq(pclose(pipe), 0);
    ck_assert_msg(line != NULL, "tb-ctl backtest --csv printed no report (see %s)", log_path);
    json_object_del(line, "backtest_id");
    json_object_del(line, "account");
    same_report(line, rf, "tb-ctl --csv run vs file run");
    json_decref(line);
    json_decref(rf);
    phase("tb-ctl --csv run: equal");
}
END_TEST

START_TEST(bars_of_historical_data) {
    t_start = bus_mono_ns();
    start_all();
    /* The DAX closes as 1d bars of a symbol of this test only. */
    char sym[16]; /* short: bt<N>-<sym> twice fits a signal id */
    snprintf(sym, sizeof sym, "D%s", tag + strlen(tag) - 8);
    size_t cap = eu.nclose * 64 + 64, len = 0;
    char *csv = malloc(cap);
    len += (size_t)snprintf(csv, cap, "date,symbol,close\n");
    for (size_t i = 0; i < eu.nclose; i++) {
        char px[TB_FIXED_STRLEN];
        tb_fixed_format(eu.closes[i], px);
        len += (size_t)snprintf(csv + len, cap - len, "%s,%s,%s\n", eu.dates[i], sym, px);
    }
    bus_bytes rep = {0};
    tb_error err = {0};
    ck_assert_msg(bus_request_bytes(conn, "api.bars.import", csv, len, NULL, 30000, NULL, &rep,
                                    &err) == TB_OK,
                  "import: %s", err.message);
    tb_bars_import_result res;
    ck_assert_int_eq(tb_decode(&tb_bars_import_result_desc, rep.data, rep.len, &res, &err), TB_OK);
    ck_assert_uint_eq(res.rows, eu.nclose);
    bus_bytes_free(&rep);
    free(csv);

    /* Bad ranges and intervals: a clear 4xx, nothing started. */
    char *body = body_of(sym,
                         json_pack("{s:{s:s, s:s, s:s}}", "bars", "interval", "2d", "from",
                                   "1991-01-01", "to", "1999-01-01"),
                         PARAMS, NULL, 0);
    bad(body, 400, "data", "1s|1m|5m|1h|1d");
    free(body);
    body = body_of(sym,
                   json_pack("{s:{s:s, s:s, s:s}}", "bars", "interval", "1d", "from", "1999-01-01",
                             "to", "1991-01-01"),
                   PARAMS, NULL, 0);
    bad(body, 400, "data", "after");
    free(body);
    body = body_of(sym,
                   json_pack("{s:{s:s, s:s, s:s}}", "bars", "interval", "1d", "from", "2001-01-01",
                             "to", "2002-01-01"),
                   PARAMS, NULL, 0);
    bad(body, 422, "data", "no 1d bars");
    free(body);
    body = body_of(sym,
                   json_pack("{s:{s:s, s:s, s:s}}", "bars", "interval", "1h", "from", "1991-01-01",
                             "to", "1999-01-01"),
                   PARAMS, NULL, 0);
    bad(body, 422, "data", "no 1h bars");
    free(body);

    /* The run: each bar's close at the bar's end, so every expected fill
     * is a day later than on the closes themselves. */
    char id[64];
    body = body_of(sym,
                   json_pack("{s:{s:s, s:s, s:s}}", "bars", "interval", "1d", "from", "1991-01-01",
                             "to", "1999-01-01"),
                   PARAMS, NULL, 0);
    start_bt(body, id, sizeof id);
    free(body);
    static tb_eustock shifted;
    shifted = eu;
    for (size_t i = 0; i < shifted.nclose; i++) shifted.times[i] += DAY_NS;
    static tb_eu_fill w[TB_EU_MAX_FILLS];
    size_t nw = tb_eu_sma_fills(&shifted, FAST, SLOW, w);
    ck_assert_uint_eq(nw, nwant);
    phase("bars imported, bad ranges refused, bars run started");
    json_t *rep_j = report_done(id);
    phase("bars run done");
    check_fills(id, sym, w, nw);
    ck_assert_int_eq(json_integer_value(json_object_get(rep_j, "fills")), (json_int_t)nw);
    ck_assert_str_eq(json_string_value(json_object_get(rep_j, "symbols")), sym);
    json_decref(rep_j);
    /* api.accounts.delete only takes an account nothing was recorded for. */
    tb_query q = {0};
    tb_account gone;
    snprintf(q.account, sizeof q.account, "%s", id);
    ck_assert_int_eq(bus_request(conn, "api.accounts.delete", &tb_query_desc, &q, &tb_account_desc,
                                 &gone, 5000, NULL, &err),
                     TB_CONFLICT);
    snprintf(q.account, sizeof q.account, "%sNONE", tag);
    ck_assert_int_eq(bus_request(conn, "api.accounts.delete", &tb_query_desc, &q, &tb_account_desc,
                                 &gone, 5000, NULL, &err),
                     TB_NOT_FOUND);
    tb_account fresh = {0}, made;
    snprintf(fresh.account, sizeof fresh.account, "%sE", tag);
    snprintf(fresh.name, sizeof fresh.name, "empty");
    ck_assert_int_eq(bus_request(conn, "api.accounts.create", &tb_account_desc, &fresh,
                                 &tb_account_desc, &made, 5000, NULL, &err),
                     TB_OK);
    snprintf(q.account, sizeof q.account, "%s", fresh.account);
    ck_assert_int_eq(bus_request(conn, "api.accounts.delete", &tb_query_desc, &q, &tb_account_desc,
                                 &gone, 5000, NULL, &err),
                     TB_OK);
    ck_assert_str_eq(gone.account, fresh.account);
    char sqlq[160];
    snprintf(sqlq, sizeof sqlq, "SELECT count(*) FROM accounts WHERE id = '%s'", fresh.account);
    ck_assert_int_eq(sql_count(sqlq), 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("backtest_sources");
    TCase *tc = tcase_create("backtest_sources");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 500);
    tcase_add_test(tc, csv_in_the_request);
    tcase_add_test(tc, bars_of_historical_data);
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
