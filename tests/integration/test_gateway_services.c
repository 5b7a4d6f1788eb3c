/* The gateway in front of the real services (child processes of this test,
 * on the real servers): every route family answered by the service that
 * owns it, so the route table's request and reply types are the ones the
 * services use. An account is created, an order is submitted (and retried
 * with its client_order_id), filled against the simulator's ticks, and seen
 * in fills and positions; limits and the kill switch; a strategy's life
 * cycle; a bar import read back; analytics; webhooks, their deliveries and
 * alert rules; /health/all and /metrics over every instance. */
#include "test_gateway_fixture.h"

static gw_proc gw;
static pid_t pids[GW_NSERVICES];
static char admin[64], trader[64], trader_id[64], viewer[64], viewer_id[64];
static char my_acct[48], other_acct[48];

static void setup(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tb_test_unique(my_acct, sizeof my_acct, "GR");
    tb_test_unique(other_acct, sizeof other_acct, "GO");
    static char *env_svc[] = {"MD_RATE=40", "ANALYTICS_SAMPLE_MS=200", NULL};
    gw_services_start(pids, "test_gateway_services", env_svc);
    /* GATEWAY_REQUIRED_SERVICES: the default, all eight */
    static const char *const env[] = {"GATEWAY_RATE_LIMIT=100000", NULL};
    gw_start(&gw, "services", env);
    ck_assert_msg(tb_test_wait(gw_all_healthy, &gw, 30000),
                  "the services did not all come up (logs in %s)", getenv("TB_BINARY_DIR"));
    gw_admin_key(admin, sizeof admin);
}

/* Stops the gateway and every service still running; the number of unclean
 * exits (the gateway's status in *gw_rc). */
static int stop_all(int *gw_rc) {
    *gw_rc = gw_stop_rc(&gw);
    return gw_services_stop(pids);
}

/* Whatever the last test did not stop (it failed early). */
static void teardown(void) {
    int rc;
    if (stop_all(&rc) != 0 || rc != 0) fprintf(stderr, "unclean exits at teardown\n");
    curl_global_cleanup();
}

static const char *str(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Polls GET path (with key) until pred holds for the JSON body. */
static json_t *poll_until(const char *path, const char *key, bool (*pred)(json_t *), int64_t ms) {
    int64_t end = bus_mono_ns() + ms * INT64_C(1000000);
    for (;;) {
        http_resp r;
        gw_http(&r, &gw, "GET", path, key, NULL);
        if (r.status == 200 && pred(r.json)) {
            json_t *j = json_incref(r.json);
            http_free(&r);
            return j;
        }
        if (bus_mono_ns() > end) {
            ck_abort_msg("GET %s: still %ld %s", path, r.status, r.body ? r.body : "");
            http_free(&r);
            return NULL;
        }
        http_free(&r);
        usleep(200 * 1000);
    }
}

static bool any(json_t *j) {
    (void)j;
    return true;
}
static bool filled(json_t *j) {
    return strcmp(str(j, "status"), "filled") == 0;
}
static bool has_items(json_t *j) {
    return json_array_size(json_object_get(j, "items")) > 0;
}

START_TEST(accounts_orders_fills_positions) {
    http_resp r;
    char body[512], path[256];
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"name\":\"gateway e2e\",\"initial_cash\":\"100000\"}", my_acct);
    gw_http(&r, &gw, "POST", "/v1/accounts", admin, body);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    http_free(&r);
    gw_new_key(&gw, admin, "trader", my_acct, trader, trader_id);
    gw_new_key(&gw, admin, "viewer", other_acct, viewer, viewer_id);
    snprintf(path, sizeof path, "/v1/accounts/%s", my_acct);
    gw_http(&r, &gw, "GET", path, trader, NULL);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_str_eq(str(r.json, "account"), my_acct);
    ck_assert_str_eq(str(r.json, "cash"), "100000");
    http_free(&r);
    gw_http(&r, &gw, "GET", path, viewer, NULL);
    ck_assert_int_eq(r.status, 403);
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/accounts", trader, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "count")), 1);
    http_free(&r);

    json_t *q = poll_until("/v1/market/quotes/DAX", trader, any, 15000);
    ck_assert(strlen(str(q, "ask")) > 0);
    json_decref(q);
    gw_http(&r, &gw, "GET", "/v1/market/symbols", viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_ge(json_integer_value(json_object_get(r.json, "count")), 1);
    http_free(&r);
    snprintf(path, sizeof path, "/v1/risk/limits/%s", my_acct);
    gw_http(&r, &gw, "GET", path, trader, NULL);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    http_free(&r);
    /* Only a backtest run's account waits for its dependencies instead of
     * refusing (risk_limits.backtest): no REST caller can mark a live
     * account so, not even an admin. */
    snprintf(body, sizeof body, "{\"account\":\"%s\",\"backtest\":true}", my_acct);
    gw_http(&r, &gw, "PUT", path, admin, body);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_msg(!json_is_true(json_object_get(r.json, "backtest")), "%s", r.body);
    http_free(&r);
    gw_http(&r, &gw, "GET", path, trader, NULL);
    ck_assert_msg(r.status == 200 && !json_is_true(json_object_get(r.json, "backtest")), "%ld %s",
                  r.status, r.body);
    http_free(&r);

    snprintf(
        body, sizeof body,
        "{\"account\":\"%s\",\"symbol\":\"DAX\",\"side\":\"buy\",\"type\":\"market\",\"qty\":\"1\","
        "\"client_order_id\":\"e2e-1\"}",
        my_acct);
    gw_http(&r, &gw, "POST", "/v1/orders", trader, body);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    char id[64];
    snprintf(id, sizeof id, "%s", str(r.json, "order_id"));
    http_free(&r);
    gw_http(&r, &gw, "POST", "/v1/orders", trader, body);
    ck_assert_msg(r.status == 200, "retry: %ld %s", r.status, r.body);
    ck_assert_str_eq(str(r.json, "order_id"), id);
    http_free(&r);
    snprintf(path, sizeof path, "/v1/orders/%s", id);
    json_t *o = poll_until(path, trader, filled, 20000);
    ck_assert_str_eq(str(o, "filled_qty"), "1");
    json_decref(o);
    gw_http(&r, &gw, "GET", path, viewer, NULL); /* not the viewer's account */
    ck_assert_int_eq(r.status, 404);
    http_free(&r);
    json_t *fills = poll_until("/v1/fills", trader, has_items, 10000);
    ck_assert_str_eq(str(json_array_get(json_object_get(fills, "items"), 0), "order_id"), id);
    json_decref(fills);
    json_t *pos = poll_until("/v1/positions?symbol=DAX", trader, has_items, 10000);
    ck_assert_str_eq(str(json_array_get(json_object_get(pos, "items"), 0), "qty"), "1");
    json_decref(pos);
    gw_http(&r, &gw, "GET", "/v1/orders", trader, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "count")), 1);
    http_free(&r);

    /* the kill switch blocks the next order until an admin releases it */
    snprintf(body, sizeof body, "{\"account\":\"%s\",\"engaged\":true,\"reason\":\"e2e\"}",
             my_acct);
    gw_http(&r, &gw, "POST", "/v1/risk/kill-switch", trader, body);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    http_free(&r);
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"symbol\":\"DAX\",\"side\":\"sell\",\"type\":\"market\",\"qty\":"
             "\"1\"}",
             my_acct);
    gw_http(&r, &gw, "POST", "/v1/orders", trader, body);
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    ck_assert_str_eq(http_error_code(&r), "rejected");
    http_free(&r);
    char ks[256];
    snprintf(ks, sizeof ks, "{\"account\":\"%s\",\"engaged\":false}", my_acct);
    gw_http(&r, &gw, "POST", "/v1/risk/kill-switch", admin, ks);
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
}
END_TEST

START_TEST(strategies_bars_analytics) {
    http_resp r;
    char body[512], path[256], sid[48], sym[48];
    tb_test_unique(sid, sizeof sid, "st");
    snprintf(body, sizeof body,
             "{\"strategy_id\":\"%s\",\"kind\":\"sma_cross\",\"symbol\":\"SMI\",\"account\":\"%s\","
             "\"sizing\":\"fixed\",\"qty\":\"1\",\"params\":\"{\\\"fast\\\":5,\\\"slow\\\":20}\","
             "\"enabled\":false}",
             sid, my_acct);
    gw_http(&r, &gw, "POST", "/v1/strategies", trader, body);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    http_free(&r);
    snprintf(path, sizeof path, "/v1/strategies/%s", sid);
    gw_http(&r, &gw, "GET", path, trader, NULL);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_str_eq(str(r.json, "kind"), "sma_cross");
    http_free(&r);
    snprintf(body, sizeof body,
             "{\"kind\":\"sma_cross\",\"symbol\":\"SMI\",\"account\":\"%s\",\"sizing\":\"fixed\","
             "\"qty\":\"2\","
             "\"params\":\"{\\\"fast\\\":5,\\\"slow\\\":20}\",\"enabled\":false}",
             my_acct);
    gw_http(&r, &gw, "PUT", path, trader, body);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_str_eq(str(r.json, "qty"), "2");
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/strategies", trader, NULL);
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
    gw_http(&r, &gw, "DELETE", path, trader, NULL);
    ck_assert_int_eq(r.status, 204);
    http_free(&r);
    gw_http(&r, &gw, "GET", path, trader, NULL);
    ck_assert_int_eq(r.status, 404);
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/signals", trader, NULL);
    ck_assert_int_eq(r.status, 200);
    http_free(&r);

    tb_test_unique(sym, sizeof sym, "SYM");
    char csv[256];
    snprintf(csv, sizeof csv, "date,symbol,close\n2024-01-02,%s,100.5\n2024-01-03,%s,101\n", sym,
             sym);
    const char *const ctype[] = {"Content-Type: text/csv", NULL};
    http_do(&r, gw.base, "POST", "/v1/bars/import", trader, csv, -1, ctype);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "rows")), 2);
    http_free(&r);
    snprintf(path, sizeof path, "/v1/bars?symbol=%s&interval=1d", sym);
    gw_http(&r, &gw, "GET", path, viewer, NULL);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "count")), 2);
    ck_assert_str_eq(str(json_array_get(json_object_get(r.json, "items"), 1), "close"), "101");
    http_free(&r);
    snprintf(csv, sizeof csv, "date,symbol,close\n2024-01-02,%s,-1\n", sym);
    http_do(&r, gw.base, "POST", "/v1/bars/import", trader, csv, -1, ctype);
    ck_assert_int_eq(r.status, 400); /* the service's own validation, passed through */
    http_free(&r);

    snprintf(path, sizeof path, "/v1/analytics/%s", my_acct);
    gw_http(&r, &gw, "GET", path, trader, NULL);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_str_eq(str(r.json, "account"), my_acct);
    /* Every statistic is there, as a number or as null with a reason. */
    ck_assert_ptr_nonnull(json_object_get(r.json, "sharpe"));
    ck_assert_ptr_nonnull(json_object_get(r.json, "var_95"));
    ck_assert_ptr_nonnull(json_object_get(r.json, "round_trips"));
    if (json_is_null(json_object_get(r.json, "var_95")))
        ck_assert_ptr_nonnull(strstr(str(r.json, "null_reasons"), "var_95"));
    http_free(&r);
    snprintf(path, sizeof path, "/v1/analytics/%s/trades?limit=5", my_acct);
    gw_http(&r, &gw, "GET", path, trader, NULL);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert(json_is_array(json_object_get(r.json, "items")));
    http_free(&r);
    snprintf(path, sizeof path, "/v1/analytics/%s/equity", my_acct);
    json_t *eq = poll_until(path, trader, has_items, 15000);
    json_decref(eq);
    snprintf(path, sizeof path, "/v1/analytics/%s/equity?format=svg", my_acct);
    gw_http(&r, &gw, "GET", path, trader, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "<polyline"));
    http_free(&r);
}
END_TEST

START_TEST(webhooks_and_alerts) {
    http_resp r;
    char body[512], path[256], id[64], rule[64];
    snprintf(body, sizeof body,
             "{\"url\":\"https://example.test/hook\",\"events\":\"alerts.>\",\"account\":\"%s\"}",
             my_acct);
    gw_http(&r, &gw, "POST", "/v1/webhooks", trader, body);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    snprintf(id, sizeof id, "%s", str(r.json, "id"));
    ck_assert(strlen(id) > 0);
    ck_assert(strlen(str(r.json, "secret")) > 0); /* shown at creation */
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/webhooks", trader, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "count")), 1);
    ck_assert_str_eq(str(json_array_get(json_object_get(r.json, "items"), 0), "id"), id);
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/webhooks", viewer, NULL); /* another account's key */
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "count")), 0);
    http_free(&r);
    snprintf(path, sizeof path, "/v1/webhooks/%s/deliveries?status=dead", id);
    gw_http(&r, &gw, "GET", path, trader, NULL);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    http_free(&r);
    gw_http(&r, &gw, "GET", path, viewer, NULL);
    ck_assert_msg(r.status == 404 || r.status == 403, "%ld %s", r.status, r.body);
    http_free(&r);
    snprintf(path, sizeof path, "/v1/webhooks/%s", id);
    gw_http(&r, &gw, "DELETE", path, trader, NULL);
    ck_assert_msg(r.status == 204, "%ld %s", r.status, r.body);
    http_free(&r);

    snprintf(body, sizeof body,
             "{\"kind\":\"position_limit\",\"account\":\"%s\",\"threshold\":\"1000\"}", my_acct);
    gw_http(&r, &gw, "POST", "/v1/alerts/rules", trader, body);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    snprintf(rule, sizeof rule, "%s", str(r.json, "rule_id"));
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/alerts/rules", trader, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "count")), 1);
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/alerts", trader, NULL);
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
    snprintf(path, sizeof path, "/v1/alerts/rules/%s", rule);
    gw_http(&r, &gw, "DELETE", path, trader, NULL);
    ck_assert_msg(r.status == 204, "%ld %s", r.status, r.body);
    http_free(&r);
}
END_TEST

START_TEST(health_and_metrics_of_everything) {
    http_resp r;
    gw_http(&r, &gw, "GET", "/health/all", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(str(r.json, "status"), "ok");
    http_free(&r);
    gw_http(&r, &gw, "GET", "/metrics", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    const char *problem = tb_prom_check(r.body);
    ck_assert_msg(problem == NULL, "%s", problem);
    for (size_t i = 0; i < GW_NSERVICES; i++) {
        char want[96];
        snprintf(want, sizeof want, "tb_up{service=\"%s\"", gw_services[i]);
        ck_assert_msg(strstr(r.body, want) != NULL, "no metrics of %s", gw_services[i]);
    }
    http_free(&r);
    gw_http(&r, &gw, "GET", "/services", admin, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_ge(json_integer_value(json_object_get(r.json, "count")),
                     (json_int_t)GW_NSERVICES + 1);
    http_free(&r);
}
END_TEST

/* Last: the gateway and every service drain and exit 0 (under ASan: without
 * leaks or memory errors), and the fake handlers recorded no failure. A test,
 * not the teardown: a failure in an unchecked teardown is not recorded. */
START_TEST(everything_stops_cleanly) {
    int rc, bad = stop_all(&rc);
    ck_assert_msg(rc == 0 && bad == 0, "unclean exits: gateway %d, services %d (logs in %s)", rc,
                  bad, getenv("TB_BINARY_DIR"));
    tb_test_bg_assert();
}
END_TEST

int main(void) {
    Suite *s = suite_create("gateway_services");
    TCase *tc = tcase_create("services");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, accounts_orders_fills_positions);
    tcase_add_test(tc, strategies_bars_analytics);
    tcase_add_test(tc, webhooks_and_alerts);
    tcase_add_test(tc, health_and_metrics_of_everything);
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
