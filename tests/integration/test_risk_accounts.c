/* Portfolio risk through the gateway, with every service running on the
 * real servers: an account buys 100 A and sells 100 B short (filled by
 * trading-execution at the quotes of a market-data replay, booked by
 * position-management), daily bars are imported through historical-data,
 * and GET /v1/risk/accounts/{account} and .../positions/{symbol} answer
 * with the figures derived by hand below. Viewer role and account scoping
 * as the other routes. RISK_VAR_DAYS is 4. */
#include "test_gateway_fixture.h"

static gw_proc gw;
static pid_t pids[GW_NSERVICES];
static char admin[64], trader[64], trader_id[64], viewer[64], viewer_id[64], other[64],
    other_id[64];
static char pf_acct[48], other_acct[48], sym_a[48], sym_b[48];

static void setup(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tb_test_unique(pf_acct, sizeof pf_acct, "PF");
    tb_test_unique(other_acct, sizeof other_acct, "PO");
    tb_test_unique(sym_a, sizeof sym_a, "PA");
    tb_test_unique(sym_b, sizeof sym_b, "PB");
    static char *env_svc[] = {"MD_RATE=20", "RISK_VAR_DAYS=4", NULL};
    gw_services_start(pids, "test_risk_accounts", env_svc);
    static const char *const env[] = {"GATEWAY_RATE_LIMIT=100000", NULL};
    gw_start(&gw, "portfolio", env);
    ck_assert_msg(tb_test_wait(gw_all_healthy, &gw, 30000),
                  "the services did not all come up (logs in %s)", getenv("TB_BINARY_DIR"));
    gw_admin_key(admin, sizeof admin);
}

static void teardown(void) {
    if (gw_stop_rc(&gw) != 0 || gw_services_stop(pids) != 0)
        fprintf(stderr, "unclean exits at teardown\n");
    curl_global_cleanup();
}

static const char *str(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* A decimal field; the catalogue leaves out amounts that are zero. */
static const char *amount(json_t *o, const char *k) {
    return json_object_get(o, k) ? str(o, k) : "0";
}

static json_t *get_ok(const char *path, const char *key) {
    http_resp r;
    gw_http(&r, &gw, "GET", path, key, NULL);
    ck_assert_msg(r.status == 200, "GET %s: %ld %s", path, r.status, r.body ? r.body : "");
    json_t *j = json_incref(r.json);
    http_free(&r);
    return j;
}

static long get_status(const char *path, const char *key) {
    http_resp r;
    gw_http(&r, &gw, "GET", path, key, NULL);
    long s = r.status;
    http_free(&r);
    return s;
}

static void post_ok(const char *path, const char *key, const char *body, long want) {
    http_resp r;
    gw_http(&r, &gw, "POST", path, key, body);
    ck_assert_msg(r.status == want, "POST %s: %ld %s", path, r.status, r.body ? r.body : "");
    http_free(&r);
}

/* Quotes of A (100) and B (50), as market-data replays them: a tick each,
 * dated before the imported bars so the bar it makes is not among the
 * newest five. */
static void replay_quotes(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/test_risk_accounts-%d.csv",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", (int)getpid());
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "ts,symbol,bid,ask,last,size\n"
            "2025-12-01T10:00:00Z,%s,100,100,100,1\n"
            "2025-12-01T10:00:00Z,%s,50,50,50,1\n",
            sym_a, sym_b);
    ck_assert_int_eq(fclose(f), 0);
    bus_config cfg;
    tb_test_config(&cfg, "risk-portfolio-test");
    bus_conn *c = tb_test_conn(&cfg);
    tb_market_replay rq;
    memset(&rq, 0, sizeof rq);
    snprintf(rq.path, sizeof rq.path, "%s", path);
    snprintf(rq.source, sizeof rq.source, "pf%d", (int)getpid());
    tb_md_status st;
    tb_error err = {0};
    ck_assert_msg(bus_request(c, "api.market.replay", &tb_market_replay_desc, &rq,
                              &tb_md_status_desc, &st, 10000, NULL, &err) == TB_OK,
                  "%s", err.message);
    bus_conn_close(c);
}

static bool has_quote(void *arg) {
    char path[128];
    snprintf(path, sizeof path, "/v1/market/quotes/%s", (const char *)arg);
    return get_status(path, admin) == 200;
}

static bool booked(void *arg) {
    (void)arg;
    char path[128];
    snprintf(path, sizeof path, "/v1/risk/accounts/%s", pf_acct);
    http_resp r;
    gw_http(&r, &gw, "GET", path, admin, NULL);
    bool ok = r.status == 200 && strcmp(str(r.json, "gross_exposure"), "15000") == 0;
    http_free(&r);
    return ok;
}

START_TEST(portfolio_figures) {
    char body[512], path[256];
    snprintf(body, sizeof body, "{\"account\":\"%s\",\"initial_cash\":\"100000\"}", pf_acct);
    post_ok("/v1/accounts", admin, body, 201);
    snprintf(body, sizeof body, "{\"account\":\"%s\",\"initial_cash\":\"100000\"}", other_acct);
    post_ok("/v1/accounts", admin, body, 201);
    gw_new_key(&gw, admin, "trader", pf_acct, trader, trader_id);
    gw_new_key(&gw, admin, "viewer", pf_acct, viewer, viewer_id);
    gw_new_key(&gw, admin, "viewer", other_acct, other, other_id);

    /* Daily closes, 2026-01-05 .. 2026-01-10:
     *   A 100, 110, 99, 99, 108.9, 98.01 (returns +10 %, -10 %, 0, +10 %, -10 %)
     *   B  50,  50, 55, 44,  44,   46.2  (returns 0, +10 %, -20 %, 0, +5 %) */
    static const char *const a[6] = {"100", "110", "99", "99", "108.9", "98.01"};
    static const char *const b[6] = {"50", "50", "55", "44", "44", "46.2"};
    char csv[2048];
    size_t used = (size_t)snprintf(csv, sizeof csv, "date,symbol,close\n");
    for (int d = 0; d < 6; d++)
        used += (size_t)snprintf(csv + used, sizeof csv - used,
                                 "2026-01-%02d,%s,%s\n2026-01-%02d,%s,%s\n", 5 + d, sym_a, a[d],
                                 5 + d, sym_b, b[d]);
    const char *const ctype[] = {"Content-Type: text/csv", NULL};
    http_resp r;
    http_do(&r, gw.base, "POST", "/v1/bars/import", trader, csv, -1, ctype);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "rows")), 12);
    http_free(&r);

    replay_quotes();
    ck_assert(tb_test_wait(has_quote, sym_a, 15000));
    ck_assert(tb_test_wait(has_quote, sym_b, 15000));
    /* Buy 100 A at 100 (cash 100000 - 10000), sell 100 B short at 50 (+5000). */
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"symbol\":\"%s\",\"side\":\"buy\",\"type\":\"market\","
             "\"qty\":\"100\"}",
             pf_acct, sym_a);
    post_ok("/v1/orders", trader, body, 200);
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"symbol\":\"%s\",\"side\":\"sell\",\"type\":\"market\","
             "\"qty\":\"100\"}",
             pf_acct, sym_b);
    post_ok("/v1/orders", trader, body, 200);
    ck_assert_msg(tb_test_wait(booked, NULL, 20000), "the fills were not booked");

    snprintf(path, sizeof path, "/v1/risk/accounts/%s", pf_acct);
    json_t *j = get_ok(path, viewer);
    ck_assert_str_eq(str(j, "account"), pf_acct);
    ck_assert_str_eq(str(j, "cash"), "95000");
    /* gross 100 x 100 + 100 x 50; net 10000 - 5000; equity 95000 + 5000 */
    ck_assert_str_eq(str(j, "gross_exposure"), "15000");
    ck_assert_str_eq(str(j, "net_exposure"), "5000");
    ck_assert_str_eq(str(j, "equity"), "100000");
    ck_assert_str_eq(str(j, "leverage"), "0.15"); /* 15000 / 100000 */
    ck_assert_int_eq(json_integer_value(json_object_get(j, "margin_rate_bps")), 15000);
    /* the short holds 5000 x 150 % = 7500; no open orders */
    ck_assert_str_eq(str(j, "margin_used"), "7500");
    ck_assert_str_eq(str(j, "margin_available"), "87500"); /* 95000 - 7500 */
    ck_assert_str_eq(amount(j, "reserved"), "0");
    ck_assert_str_eq(str(j, "buying_power"), "87500");
    /* VaR over the newest four returns (2026-01-07 .. 10), A worth 10000,
     * B -5000: 01-07: -1000 - 500 = -1500; 01-08: 0 + 1000; 01-09: 1000 + 0;
     * 01-10: -1000 - 250 = -1250. The 1st worst at 95 % and 99 %
     * (ceil(0.05 x 4) = ceil(0.01 x 4) = 1): 1500. */
    ck_assert_int_eq(json_integer_value(json_object_get(j, "var_days")), 4);
    ck_assert_str_eq(str(j, "var_95"), "1500");
    ck_assert_str_eq(str(j, "var_99"), "1500");
    json_t *items = json_object_get(j, "positions");
    ck_assert_uint_eq(json_array_size(items), 2);
    json_t *pa = json_array_get(items, 0), *pb = json_array_get(items, 1);
    if (strcmp(str(pa, "symbol"), sym_a) != 0) {
        json_t *t = pa;
        pa = pb;
        pb = t;
    }
    ck_assert_str_eq(str(pa, "symbol"), sym_a);
    ck_assert_str_eq(str(pa, "qty"), "100");
    ck_assert_str_eq(str(pa, "market_value"), "10000");
    ck_assert_str_eq(str(pa, "concentration"), "0.66666667"); /* 10000 / 15000, half-even */
    ck_assert_str_eq(str(pa, "var_95"), "1000");              /* -1000, 0, 1000, -1000 */
    ck_assert_str_eq(str(pb, "qty"), "-100");
    ck_assert_str_eq(str(pb, "exposure"), "5000");
    ck_assert_str_eq(str(pb, "concentration"), "0.33333333");
    ck_assert_str_eq(str(pb, "margin_used"), "7500");
    ck_assert_str_eq(str(pb, "var_95"), "500"); /* -500, 1000, 0, -250 */
    json_decref(j);

    snprintf(path, sizeof path, "/v1/risk/accounts/%s/positions/%s", pf_acct, sym_b);
    j = get_ok(path, trader);
    ck_assert_str_eq(str(j, "account"), pf_acct);
    ck_assert_str_eq(str(j, "symbol"), sym_b);
    ck_assert_str_eq(str(j, "market_value"), "-5000");
    ck_assert_str_eq(str(j, "var_99"), "500");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "var_days")), 4);
    json_decref(j);

    /* 404: a symbol not held, an unknown account; 403: another account's key. */
    snprintf(path, sizeof path, "/v1/risk/accounts/%s/positions/NOPE", pf_acct);
    ck_assert_int_eq(get_status(path, viewer), 404);
    ck_assert_int_eq(get_status("/v1/risk/accounts/NO-SUCH-ACCOUNT", admin), 404);
    snprintf(path, sizeof path, "/v1/risk/accounts/%s", pf_acct);
    ck_assert_int_eq(get_status(path, other), 403);
    ck_assert_int_eq(get_status(path, NULL), 401);
    snprintf(path, sizeof path, "/v1/risk/accounts/%s/positions/%s", pf_acct, sym_a);
    ck_assert_int_eq(get_status(path, other), 403);
    /* The other account holds nothing: zero exposure, no VaR. */
    snprintf(path, sizeof path, "/v1/risk/accounts/%s", other_acct);
    j = get_ok(path, other);
    ck_assert_str_eq(amount(j, "gross_exposure"), "0");
    ck_assert_str_eq(str(j, "buying_power"), "100000");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "var_days")), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "positions")), 0);
    json_decref(j);
}
END_TEST

START_TEST(everything_stops_cleanly) {
    ck_assert_int_eq(gw_stop_rc(&gw), 0);
    ck_assert_int_eq(gw_services_stop(pids), 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("risk_accounts");
    TCase *tc = tcase_create("portfolio");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, portfolio_figures);
    tcase_add_test(tc, everything_stops_cleanly);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
