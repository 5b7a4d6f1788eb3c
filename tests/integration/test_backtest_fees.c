/* A backtest's own fees and slippage (fee_bps, fee_min, slippage_bps of
 * POST /v1/backtests), through the gateway and the real services, with
 * trading-execution started with nonzero global settings (EXEC_FEE_BPS=7,
 * EXEC_FEE_MIN=0.05, EXEC_SLIPPAGE_BPS=3):
 *
 * Three trading-execution workers share the runs' ticks and orders.
 *
 * - bad costs (negative, not a number, out of range) are a 400 naming the
 *   field, and start nothing;
 * - the EuStock DAX CSV run with fee 25 bp, minimum fee 5 and slippage
 *   10 bp: every fill's price and fee equal a computation made here from
 *   the data (the next close, slipped against the trader, rounded up for
 *   buys and down for sells; the fee half-up, at least the minimum), and
 *   the report shows the costs and the fees paid; tb-ctl backtest with
 *   --fee-bps, --fee-min and --slippage-bps reports the same fees;
 * - the same run without costs beside it: every fill at the close, no fee
 *   (the global settings do not reach a run);
 * - a live account's order at the same time gets the global settings;
 * - api.exec.fees.set is refused for an account that has orders, a model
 *   survives a kill -9 of trading-execution (the restarted worker prices
 *   the account's next fill with it), and setting it again once the
 *   account has an order is refused unless it is the same model. */
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
#include "test_exec_common.h"
#include "test_gateway_fixture.h"

#define N_SERVICES 7
#define EXEC       3
#define FAST       5
#define SLOW       20
#define RUN_MS     120000

/* The run's costs, and the global ones trading-execution starts with. */
#define RUN_FEE_BPS      25
#define RUN_FEE_MIN      "5"
#define RUN_SLIPPAGE_BPS 10

static const char *const services[N_SERVICES] = {
    "market-data",         "signal-processing", "risk-management", "trading-execution",
    "position-management", "analytics",         "historical-data"};

static bus_config cfg;
static bus_conn *conn;
static PGconn *pg;
static char log_path[512], tag[40], admin[128];
static pid_t children[N_SERVICES];
static pid_t more_exec[2]; /* two more trading-execution workers while the runs go */
static gw_proc gw;
static tb_eustock eu;
static tb_eu_fill want[TB_EU_MAX_FILLS];
static size_t nwant;
static char *file_text; /* data/eustock_daily.csv */
static size_t file_len;

static void setup(void) {
    tb_test_config(&cfg, "backtest-fees-test");
    conn = tb_test_conn(&cfg);
    pg = PQconnectdb(cfg.database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    const char *bd = getenv("TB_BINARY_DIR");
    snprintf(log_path, sizeof log_path, "%s/test_backtest_fees.log", bd ? bd : "/tmp");
    tb_test_unique(tag, sizeof tag, "BF");
    memset(children, 0, sizeof children);
    memset(more_exec, 0, sizeof more_exec);
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
    xt_open("test_backtest_fees");
}

static void teardown(void) {
    gw_stop(&gw);
    tb_services_stop(more_exec, 2);
    tb_services_stop(children, N_SERVICES);
    free(file_text);
    xt_close();
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
    /* The live settings: every account without a model of its own. */
    setenv("EXEC_FEE_BPS", "7", 1);
    setenv("EXEC_FEE_MIN", "0.05", 1);
    setenv("EXEC_SLIPPAGE_BPS", "3", 1);
    static const char *const env[N_SERVICES] = {"MD_MODE=off"};
    tb_services_start(conn, services, env, N_SERVICES, tag, log_path, children);
    gw_start(&gw, tag, NULL);
    gw_admin_key(admin, sizeof admin);
}

static void http(http_resp *r, const char *method, const char *path, const char *body) {
    gw_http(r, &gw, method, path, admin, body);
}

/* A backtest body: sma_cross FAST/SLOW on DAX with the EuStock CSV in the
 * request, plus the JSON members in costs (e.g. "\"fee_bps\":25", or ""). */
static char *body_with(const char *costs) {
    json_t *b = json_pack("{s:s, s:{s:i, s:i}, s:[s], s:{s:s%}, s:s, s:s}", "kind", "sma_cross",
                          "params", "fast", FAST, "slow", SLOW, "symbols", "DAX", "data", "csv",
                          file_text, file_len, "format", "closes", "initial_cash", "1000000");
    ck_assert_ptr_nonnull(b);
    char extra[256];
    snprintf(extra, sizeof extra, "{%s}", costs);
    json_t *c = json_loads(extra, 0, NULL);
    ck_assert_msg(c != NULL, "bad costs literal %s", costs);
    ck_assert_int_eq(json_object_update(b, c), 0);
    json_decref(c);
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    ck_assert_ptr_nonnull(text);
    return text;
}

static long long sql_count(const char *q) {
    PGresult *r = PQexec(pg, q);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* Refused costs: status, the field named; no backtest row, no run account
 * and no fee model appears. */
static void bad(const char *costs, long status, const char *field) {
    long long runs = sql_count("SELECT count(*) FROM backtests");
    long long accounts = sql_count("SELECT count(*) FROM accounts WHERE id ~ '^bt[0-9]+$'");
    long long models = sql_count("SELECT count(*) FROM exec_fee_models");
    char *body = body_with(costs);
    http_resp r;
    http(&r, "POST", "/v1/backtests", body);
    free(body);
    ck_assert_msg(r.status == status, "%s: %ld, want %ld: %s", costs, r.status, status, r.body);
    ck_assert_msg(strcmp(http_error_field(&r), field) == 0, "%s: %s", costs, r.body);
    http_free(&r);
    ck_assert_int_eq(sql_count("SELECT count(*) FROM backtests"), runs);
    ck_assert_int_eq(sql_count("SELECT count(*) FROM accounts WHERE id ~ '^bt[0-9]+$'"), accounts);
    ck_assert_int_eq(sql_count("SELECT count(*) FROM exec_fee_models"), models);
}

static void start_bt(const char *costs, char *id, size_t cap) {
    char *body = body_with(costs);
    http_resp r;
    http(&r, "POST", "/v1/backtests", body);
    free(body);
    ck_assert_msg(r.status == 202, "POST with %s: %ld %s", costs, r.status, r.body);
    snprintf(id, cap, "%s", json_string_value(json_object_get(r.json, "backtest_id")));
    http_free(&r);
}

static json_t *report_done(const char *id) {
    int64_t end = bus_mono_ns() + (int64_t)RUN_MS * 1000000;
    char path[128];
    snprintf(path, sizeof path, "/v1/backtests/%s", id);
    for (;;) {
        http_resp r;
        http(&r, "GET", path, NULL);
        ck_assert_msg(r.status == 200, "GET %s: %ld %s", path, r.status, r.body);
        const char *st = json_string_value(json_object_get(r.json, "status"));
        bool running = strcmp(st, "running") == 0;
        if (!running)
            ck_assert_msg(strcmp(st, "done") == 0, "%s: %s: %s", id, st,
                          json_string_value(json_object_get(r.json, "message")));
        http_free(&r);
        if (!running) break;
        ck_assert_msg(bus_mono_ns() < end, "%s still running after %d ms (see %s)", id, RUN_MS,
                      log_path);
        usleep(200000);
    }
    snprintf(path, sizeof path, "/v1/backtests/%s/report", id);
    http_resp r;
    http(&r, "GET", path, NULL);
    ck_assert_msg(r.status == 200 && r.json, "GET %s: %ld %s", path, r.status, r.body);
    json_t *j = json_incref(r.json);
    http_free(&r);
    return j;
}

static tb_fixed fixed_of(json_t *v, const char *what) {
    tb_fixed x;
    ck_assert_msg(json_is_string(v) && tb_fixed_parse_cstr(json_string_value(v), &x) == TB_OK,
                  "%s is not a decimal string", what);
    return x;
}

/* ---- the venue's pricing, by hand (8 decimals, 1 = 100000000) ---- */

#define ONE INT64_C(100000000)

/* A market order's price for the close it fills at, slippage against the
 * trader: buys pay close * (1 + bps), rounded up; sells get
 * close * (1 - bps), rounded down. */
static tb_fixed slipped(int side, tb_fixed close, int64_t bps) {
    __int128 n = (__int128)close * (10000 + side * bps);
    return side > 0 ? (tb_fixed)((n + 9999) / 10000) : (tb_fixed)(n / 10000);
}

/* qty * price to 8 decimals, ties to even. */
static tb_fixed notional_of(tb_fixed qty, tb_fixed price) {
    __int128 n = (__int128)qty * price;
    __int128 q = n / ONE, r = n % ONE;
    if (r * 2 > ONE || (r * 2 == ONE && (q & 1))) q++;
    return (tb_fixed)q;
}

/* notional * bps / 10000 to 8 decimals, ties up, then at least min. */
static tb_fixed fee_of(tb_fixed notional, int64_t bps, tb_fixed min) {
    __int128 n = (__int128)notional * bps;
    tb_fixed fee = (tb_fixed)((n + 5000) / 10000);
    return fee < min ? min : fee;
}

/* The run's fills (GET /v1/fills of its account) are want[] one by one,
 * each matched by its time: side, quantity 1, the price of the close
 * slipped by slip_bps and the fee of fee_bps with fee_min. Returns the sum
 * of the fees. */
static tb_fixed check_fills(const char *id, int64_t slip_bps, int64_t fee_bps, tb_fixed fee_min) {
    char path[160], runsym[96];
    snprintf(path, sizeof path, "/v1/fills?account=%s&limit=1000", id);
    snprintf(runsym, sizeof runsym, "%s-DAX", id);
    http_resp r;
    http(&r, "GET", path, NULL);
    ck_assert_msg(r.status == 200, "%s: %ld %s", path, r.status, r.body);
    json_t *items = json_object_get(r.json, "items");
    ck_assert_msg(json_array_size(items) == nwant, "%s: %zu fills, want %zu", id,
                  json_array_size(items), nwant);
    tb_fixed total = 0;
    size_t at_min = 0, above_min = 0;
    for (size_t i = 0; i < nwant; i++) {
        json_t *f = NULL, *x;
        size_t k;
        json_array_foreach(items, k, x) {
            int64_t ts;
            ck_assert_int_eq(tb_ts_parse(json_string_value(json_object_get(x, "ts")), &ts), TB_OK);
            if (ts / 1000 == want[i].ts_us) f = x;
        }
        ck_assert_msg(f != NULL, "%s: no fill at %lld us (fill %zu)", id, (long long)want[i].ts_us,
                      i);
        ck_assert_str_eq(json_string_value(json_object_get(f, "side")),
                         want[i].side > 0 ? "buy" : "sell");
        ck_assert_str_eq(json_string_value(json_object_get(f, "symbol")), runsym);
        tb_fixed qty = fixed_of(json_object_get(f, "qty"), "qty");
        tb_fixed px = fixed_of(json_object_get(f, "price"), "price");
        json_t *fee_j = json_object_get(f, "fee"); /* absent: none charged */
        tb_fixed fee = fee_j ? fixed_of(fee_j, "fee") : 0;
        ck_assert_msg(qty == ONE, "%s fill %zu: qty %lld", id, i, (long long)qty);
        tb_fixed want_px = slipped(want[i].side, want[i].price, slip_bps);
        tb_fixed want_fee = fee_of(notional_of(qty, want_px), fee_bps, fee_min);
        ck_assert_msg(px == want_px, "%s fill %zu: price %lld, want %lld (close %lld)", id, i,
                      (long long)px, (long long)want_px, (long long)want[i].price);
        ck_assert_msg(fee == want_fee, "%s fill %zu: fee %lld, want %lld", id, i, (long long)fee,
                      (long long)want_fee);
        if (fee_min > 0 && fee == fee_min) at_min++;
        if (fee > fee_min) above_min++;
        total += fee;
    }
    http_free(&r);
    if (fee_min > 0) /* the data exercises both sides of the minimum */
        ck_assert_msg(at_min > 0 && above_min > 0, "%s: %zu fees at the minimum, %zu above", id,
                      at_min, above_min);
    return total;
}

static tb_status fees_set(const char *account, uint64_t fee_bps, const char *fee_min,
                          uint64_t slippage_bps, tb_error *err) {
    tb_fee_model m = {.fee_bps = fee_bps, .fee_min = F(fee_min), .slippage_bps = slippage_bps}, out;
    snprintf(m.account, sizeof m.account, "%s", account);
    return bus_request(conn, "api.exec.fees.set", &tb_fee_model_desc, &m, &tb_fee_model_desc, &out,
                       5000, NULL, err);
}

START_TEST(run_costs_and_live_settings) {
    start_all();

    /* ---- bad costs: 400 naming the field, nothing started ---- */
    bad("\"fee_bps\":-1", 400, "fee_bps");
    bad("\"fee_bps\":\"abc\"", 400, "fee_bps");
    bad("\"fee_bps\":1001", 400, "fee_bps");
    bad("\"slippage_bps\":-5", 400, "slippage_bps");
    bad("\"slippage_bps\":5000", 400, "slippage_bps");
    bad("\"fee_min\":\"-1\"", 400, "fee_min");
    bad("\"fee_min\":\"abc\"", 400, "fee_min");
    bad("\"fee_min\":\"1000000.00000001\"", 400, "fee_min");

    /* ---- the run with costs and the run without, at once, on three
     * trading-execution workers ---- */
    for (int i = 0; i < 2; i++) {
        char inst[64];
        snprintf(inst, sizeof inst, "%s-exec-%d", tag, i);
        more_exec[i] = tb_service_spawn("trading-execution", inst, NULL, log_path);
    }
    ck_assert_msg(tb_service_wait(conn, "trading-execution", tag, 3, 20000),
                  "three trading-execution workers did not answer (see %s)", log_path);
    char costs[128], priced[64], plain[64];
    snprintf(costs, sizeof costs, "\"fee_bps\":%d,\"fee_min\":\"%s\",\"slippage_bps\":%d",
             RUN_FEE_BPS, RUN_FEE_MIN, RUN_SLIPPAGE_BPS);
    start_bt(costs, priced, sizeof priced);
    start_bt("", plain, sizeof plain);

    /* ---- meanwhile a live order: the global settings ---- */
    char acct[40], sym[40], id[64];
    tb_test_unique(acct, sizeof acct, "FL");
    tb_test_unique(sym, sizeof sym, "FS");
    snprintf(id, sizeof id, "%s-m1", acct);
    xt_account(acct);
    xt_set_quote(sym, 1, &(xt_tick){"99", "100", "99.5", NULL, NULL, NULL});
    xt_submit(acct, sym, id, &(xt_order){"buy", "market", "day", "10", NULL, NULL, NULL});
    xt_wait_state(id, "filled 10.00000000 v3");
    /* 100 + 3 bp = 100.03; fee 10 * 100.03 * 7 bp = 0.70021 (above 0.05) */
    ck_assert_int_eq(slipped(1, F("100"), 3), F("100.03"));
    ck_assert_int_eq(fee_of(notional_of(F("10"), F("100.03")), 7, F("0.05")), F("0.70021"));
    xt_fill_is(id, 1, "10.00000000 100.03000000 0.70021000 taker");
    /* Its costs are fixed: it has an order. */
    tb_error err = {0};
    ck_assert_int_eq(fees_set(acct, 0, "0", 0, &err), TB_CONFLICT);
    ck_assert_str_eq(err.field, "account");

    /* ---- the runs' fills, by hand ---- */
    json_t *rp = report_done(priced), *rz = report_done(plain);
    tb_fixed paid = check_fills(priced, RUN_SLIPPAGE_BPS, RUN_FEE_BPS, F(RUN_FEE_MIN));
    ck_assert_int_gt(paid, 0);
    ck_assert_int_eq(check_fills(plain, 0, 0, 0), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(rp, "fee_bps")), RUN_FEE_BPS);
    ck_assert_int_eq(json_integer_value(json_object_get(rp, "slippage_bps")), RUN_SLIPPAGE_BPS);
    ck_assert_int_eq(fixed_of(json_object_get(rp, "fee_min"), "fee_min"), F(RUN_FEE_MIN));
    ck_assert_int_eq(fixed_of(json_object_get(rp, "fees"), "fees"), paid);
    ck_assert_int_eq(json_integer_value(json_object_get(rp, "fills")), (json_int_t)nwant);
    ck_assert_int_eq(json_integer_value(json_object_get(rz, "fee_bps")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(rz, "slippage_bps")), 0);
    ck_assert_int_eq(fixed_of(json_object_get(rz, "fee_min"), "fee_min"), 0);
    ck_assert_int_eq(fixed_of(json_object_get(rz, "fees"), "fees"), 0);
    /* Costs lower the run's result: its equity ends below the plain run's. */
    json_t *ep = json_object_get(rp, "equity"), *ez = json_object_get(rz, "equity");
    ck_assert_uint_gt(json_array_size(ep), 0);
    ck_assert_uint_eq(json_array_size(ep), json_array_size(ez));
    tb_fixed last_p =
        fixed_of(json_object_get(json_array_get(ep, json_array_size(ep) - 1), "equity"), "equity");
    tb_fixed last_z =
        fixed_of(json_object_get(json_array_get(ez, json_array_size(ez) - 1), "equity"), "equity");
    ck_assert_int_lt(last_p, last_z);
    /* tb-ctl backtest with the same costs: the same fees. */
    char bin[512], cmd[1600];
    tb_test_bin(bin, sizeof bin, "tools/ctl/tb-ctl");
    const char *src = getenv("TB_SOURCE_DIR");
    snprintf(cmd, sizeof cmd,
             "'%s' backtest '%s/data/eustock_daily.csv' --csv --kind sma_cross --symbols DAX "
             "--params '{\"fast\":%d,\"slow\":%d}' --format closes --cash 1000000 "
             "--fee-bps %d --fee-min %s --slippage-bps %d 2>>'%s'",
             bin, src ? src : ".", FAST, SLOW, RUN_FEE_BPS, RUN_FEE_MIN, RUN_SLIPPAGE_BPS,
             log_path);
    FILE *pipe = popen(cmd, "r");
    ck_assert_ptr_nonnull(pipe);
    json_t *line = json_loadf(pipe, JSON_DISABLE_EOF_CHECK, NULL);
    ck_assert_int_eq(pclose(pipe), 0);
    ck_assert_msg(line != NULL, "tb-ctl backtest printed no report (see %s)", log_path);
    ck_assert_int_eq(json_integer_value(json_object_get(line, "fee_bps")), RUN_FEE_BPS);
    ck_assert_int_eq(json_integer_value(json_object_get(line, "slippage_bps")), RUN_SLIPPAGE_BPS);
    ck_assert_int_eq(fixed_of(json_object_get(line, "fee_min"), "fee_min"), F(RUN_FEE_MIN));
    ck_assert_int_eq(fixed_of(json_object_get(line, "fees"), "fees"), paid);
    json_decref(line);
    json_decref(rp);
    json_decref(rz);

    /* ---- a model survives a kill -9 of trading-execution (the only
     * worker left: the model comes from the table, not a cache) ---- */
    tb_services_stop(more_exec, 2);
    memset(more_exec, 0, sizeof more_exec);
    char acct2[40], sym2[40], id2[64];
    tb_test_unique(acct2, sizeof acct2, "FM");
    tb_test_unique(sym2, sizeof sym2, "FT");
    snprintf(id2, sizeof id2, "%s-m1", acct2);
    xt_account(acct2);
    ck_assert_msg(fees_set(acct2, 50, "0.5", 0, &err) == TB_OK, "%s", err.message);
    ck_assert_msg(fees_set(acct2, 50, "0.5", 0, &err) == TB_OK, "%s", err.message); /* retry */
    ck_assert_int_eq(kill(children[EXEC], SIGKILL), 0);
    ck_assert_int_eq(tb_test_wait_exit(children[EXEC], 5000), 128 + SIGKILL);
    children[EXEC] = 0;
    char inst[64];
    snprintf(inst, sizeof inst, "%s-exec2", tag);
    children[EXEC] = tb_service_spawn("trading-execution", inst, NULL, log_path);
    ck_assert_msg(tb_service_wait(conn, "trading-execution", inst, 1, 20000),
                  "trading-execution did not come back (see %s)", log_path);
    xt_set_quote(sym2, 1, &(xt_tick){"9.9", "10", "9.95", NULL, NULL, NULL});
    xt_submit(acct2, sym2, id2, &(xt_order){"buy", "market", "day", "2", NULL, NULL, NULL});
    xt_wait_state(id2, "filled 2.00000000 v3");
    /* no slippage; 2 * 10 * 50 bp = 0.1, below the minimum 0.5 */
    ck_assert_int_eq(fee_of(notional_of(F("2"), F("10")), 50, F("0.5")), F("0.5"));
    xt_fill_is(id2, 1, "2.00000000 10.00000000 0.50000000 taker");
    ck_assert_int_eq(fees_set(acct2, 50, "0.5", 0, &err), TB_OK); /* the same: a retry */
    ck_assert_int_eq(fees_set(acct2, 10, "0.5", 0, &err), TB_CONFLICT);
    tb_fee_model q = {0}, got;
    snprintf(q.account, sizeof q.account, "%s", acct2);
    ck_assert_int_eq(bus_request(conn, "api.exec.fees.get", &tb_fee_model_desc, &q,
                                 &tb_fee_model_desc, &got, 5000, NULL, &err),
                     TB_OK);
    ck_assert(got.found);
    ck_assert_uint_eq(got.fee_bps, 50);
    ck_assert_int_eq(got.fee_min, F("0.5"));
    snprintf(q.account, sizeof q.account, "%s", acct);
    ck_assert_int_eq(bus_request(conn, "api.exec.fees.get", &tb_fee_model_desc, &q,
                                 &tb_fee_model_desc, &got, 5000, NULL, &err),
                     TB_OK);
    ck_assert(!got.found);
}
END_TEST

int main(void) {
    Suite *s = suite_create("backtest_fees");
    TCase *tc = tcase_create("backtest_fees");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 400);
    tcase_add_test(tc, run_costs_and_live_settings);
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
