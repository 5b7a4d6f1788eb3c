/* The gateway's /v1 routes against a fake service on the real bus: every
 * route family's happy path (JSON <-> msgpack both ways, path and query
 * parameters reaching the service, list replies with cursors, SVG charts,
 * raw CSV), the client_order_id retry, error mapping (422 rejected, 409
 * conflict, 404 from the service, 504 slow service, 503 nobody listening)
 * and X-Request-Id carried as the bus trace id. */
#include "test_gateway_fixture.h"

static gw_proc gw;
static bus_actor *svc;
static char fake_name[64], admin[64], trader[64], trader_id[64], viewer[64], viewer_id[64];
static char my_acct[48];

static void setup(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fake_covers_routes();
    tb_test_unique(fake_name, sizeof fake_name, "gwfake");
    tb_test_unique(my_acct, sizeof my_acct, "GA");
    svc = fake_start(fake_name, true);
    static const char *const env[] = {"GATEWAY_BUS_TIMEOUT_MS=800", "GATEWAY_RATE_LIMIT=100000",
                                      "GATEWAY_QUOTE_VERIFY_MS=600000", NULL};
    gw_start(&gw, "api", env);
    gw_admin_key(admin, sizeof admin);
    gw_new_key(&gw, admin, "trader", my_acct, trader, trader_id);
    gw_new_key(&gw, admin, "viewer", my_acct, viewer, viewer_id);
}

static void teardown(void) {
    if (gw_stop_rc(&gw) != 0) fprintf(stderr, "tb-gateway did not exit cleanly\n");
    bus_actor_destroy(svc);
    json_decref(fake.last_request);
    fake.last_request = NULL;
    curl_global_cleanup();
}

static const char *str(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    ck_assert_msg(s != NULL, "no string %s", k);
    return s;
}

static void post_order(http_resp *r, const char *key, const char *account, const char *symbol,
                       const char *qty, const char *coid) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"symbol\":\"%s\",\"side\":\"buy\",\"type\":\"limit\",\"qty\":%s,"
             "\"limit_price\":18000.5%s%s%s}",
             account, symbol, qty, coid ? ",\"client_order_id\":\"" : "", coid ? coid : "",
             coid ? "\"" : "");
    gw_http(r, &gw, "POST", "/v1/orders", key, body);
}

START_TEST(orders) {
    http_resp r;
    const char *const rid[] = {"X-Request-Id: req-orders-1", NULL};
    char body[512];
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"symbol\":\"DAX\",\"side\":\"buy\",\"type\":\"limit\",\"qty\":"
             "\"1.5\","
             "\"limit_price\":18000.5,\"client_order_id\":\"c-1\"}",
             my_acct);
    http_do(&r, gw.base, "POST", "/v1/orders", trader, body, -1, rid);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    char id[64], hdr[80], trace[64];
    snprintf(id, sizeof id, "%s", str(r.json, "order_id"));
    ck_assert_str_eq(str(r.json, "qty"), "1.5");
    ck_assert_str_eq(str(r.json, "limit_price"), "18000.5");
    ck_assert_str_eq(str(r.json, "status"), "accepted");
    ck_assert_str_eq(str(r.json, "tif"), "day");
    ck_assert_str_eq(http_header(&r, "X-Request-Id", hdr, sizeof hdr), "req-orders-1");
    ck_assert_str_eq(http_header(&r, "Content-Type", hdr, sizeof hdr), "application/json");
    fake_last(NULL, trace, NULL);
    ck_assert_str_eq(trace, "req-orders-1");
    http_free(&r);

    /* a retry with the same client_order_id is the same order */
    http_do(&r, gw.base, "POST", "/v1/orders", trader, body, -1, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(str(r.json, "order_id"), id);
    http_free(&r);
    post_order(&r, trader, my_acct, "DAX", "\"2\"", "c-1");
    ck_assert_int_eq(r.status, 409);
    ck_assert_str_eq(http_error_code(&r), "conflict");
    ck_assert_str_eq(http_error_field(&r), "client_order_id");
    http_free(&r);

    char path[160];
    snprintf(path, sizeof path, "/v1/orders/%s", id);
    gw_http(&r, &gw, "GET", path, viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(str(r.json, "order_id"), id);
    http_free(&r);
    char accounts[TB_TEXT_CAP], subject[128];
    fake_last(subject, NULL, accounts);
    ck_assert_str_eq(subject, "api.orders.get");
    ck_assert_str_eq(accounts, my_acct);

    /* lists page with a cursor */
    post_order(&r, trader, my_acct, "ESTX", "3", NULL);
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
    snprintf(path, sizeof path, "/v1/orders?account=%s&limit=1", my_acct);
    gw_http(&r, &gw, "GET", path, trader, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "count")), 1);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 1);
    ck_assert_str_eq(str(r.json, "next"), id);
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/orders", trader, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "count")), 2);
    ck_assert_ptr_null(json_object_get(r.json, "next"));
    http_free(&r);

    snprintf(path, sizeof path, "/v1/orders/%s", id);
    gw_http(&r, &gw, "DELETE", path, trader, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(str(r.json, "status"), "canceled");
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/orders/no-such-order", admin, NULL);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(http_error_code(&r), "not_found");
    ck_assert_str_eq(http_error_field(&r), "id");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "message")),
        "no order no-such-order");
    http_free(&r);

    /* rejected by risk: 422 with the service's reason */
    post_order(&r, trader, my_acct, "REJECT", "1", NULL);
    ck_assert_int_eq(r.status, 422);
    ck_assert_str_eq(http_error_code(&r), "rejected");
    ck_assert_str_eq(http_error_field(&r), "qty");
    http_free(&r);

    /* an order group: the reply lists its orders with their link */
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"symbol\":\"DAX\",\"contingency\":\"oco\",\"side\":"
             "\"sell\",\"qty\":\"2\",\"take_profit_price\":\"110\",\"stop_loss_price\":\"90\"}",
             my_acct);
    http_do(&r, gw.base, "POST", "/v1/order-groups", trader, body, -1, NULL);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    json_t *items = json_object_get(r.json, "items");
    ck_assert_int_eq(json_array_size(items), 2);
    ck_assert_str_eq(str(json_array_get(items, 1), "group_role"), "oco");
    ck_assert_str_eq(str(json_array_get(items, 1), "type"), "stop");
    http_free(&r);
    /* a contingency that does not exist: 400 naming the field */
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"symbol\":\"DAX\",\"contingency\":\"oto\",\"side\":"
             "\"sell\",\"qty\":\"2\",\"take_profit_price\":\"110\",\"stop_loss_price\":\"90\"}",
             my_acct);
    http_do(&r, gw.base, "POST", "/v1/order-groups", trader, body, -1, NULL);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(http_error_field(&r), "contingency");
    http_free(&r);
}
END_TEST

START_TEST(reads) {
    http_resp r;
    char path[256], value[TB_TEXT_CAP];
    gw_http(&r, &gw, "GET", "/v1/fills?limit=2", viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    ck_assert_uint_eq(json_array_size(items), 2);
    ck_assert_str_eq(str(json_array_get(items, 1), "price"), "18123.45000001");
    ck_assert_str_eq(str(json_array_get(items, 0), "account"), my_acct);
    ck_assert_str_eq(str(json_array_get(items, 0), "ts"), "2023-11-14T22:13:20.000000000Z");
    ck_assert_str_eq(str(r.json, "next"), "f-1");
    http_free(&r);
    fake_last_field("limit", value, sizeof value);
    ck_assert_str_eq(value, "2");

    gw_http(&r, &gw, "GET", "/v1/positions", viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(str(json_array_get(json_object_get(r.json, "items"), 0), "qty"), "-2.5");
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/accounts", viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
    snprintf(path, sizeof path, "/v1/accounts/%s", my_acct);
    gw_http(&r, &gw, "GET", path, viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(str(r.json, "equity"), "50000.12345678");
    http_free(&r);
    fake_last_field("id", value, sizeof value); /* the path fills account and id */
    ck_assert_str_eq(value, my_acct);
    gw_http(&r, &gw, "GET", "/v1/signals?strategy_id=s-1", viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(str(json_array_get(json_object_get(r.json, "items"), 0), "signal_id"),
                     "s-1:DAX:42");
    http_free(&r);

    gw_http(&r, &gw, "GET", "/v1/market/symbols", viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "count")), 2);
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/market/quotes/DAX", viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(str(r.json, "bid"), "17999.5");
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/market/quotes/NOPE", viewer, NULL);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(http_error_field(&r), "symbol");
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/market/quotes/B%40D", viewer, NULL); /* not a symbol token */
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(http_error_field(&r), "symbol");
    http_free(&r);

    gw_http(&r, &gw, "GET", "/v1/bars?symbol=DAX&interval=5m&from=2026-01-02T00:00:00Z&limit=10",
            viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    json_t *bar = json_array_get(json_object_get(r.json, "items"), 0);
    ck_assert_str_eq(str(bar, "interval"), "5m");
    int64_t start = 0, want = 0;
    ck_assert_int_eq(tb_ts_parse(str(bar, "start"), &start), TB_OK);
    ck_assert_int_eq(tb_ts_parse("2026-01-02T00:00:00Z", &want), TB_OK);
    ck_assert_int_eq(start, want);
    ck_assert_str_eq(str(bar, "volume"), "10");
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/bars?symbol=DAX&interval=2m", viewer, NULL);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(http_error_field(&r), "interval");
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/bars?symbol=DAX&from=yesterday", viewer, NULL);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(http_error_field(&r), "from");
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/bars?symbol=DAX&color=red", viewer, NULL);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(http_error_field(&r), "color");
    http_free(&r);
}
END_TEST

START_TEST(writes) {
    http_resp r;
    char path[256], body[512], value[TB_TEXT_CAP], accounts[TB_TEXT_CAP];
    char newacct[48];
    tb_test_unique(newacct, sizeof newacct, "GN");
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"name\":\"Paper\",\"initial_cash\":\"100000\"}", newacct);
    gw_http(&r, &gw, "POST", "/v1/accounts", admin, body);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(str(r.json, "initial_cash"), "100000");
    http_free(&r);

    snprintf(path, sizeof path, "/v1/risk/limits/%s", my_acct);
    gw_http(&r, &gw, "PUT", path, admin, "{\"max_order_qty\":\"500\",\"max_orders_per_sec\":10}");
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_str_eq(str(r.json, "account"), my_acct); /* from the path */
    ck_assert_str_eq(str(r.json, "max_order_qty"), "500");
    http_free(&r);
    gw_http(&r, &gw, "PUT", path, admin, "{\"account\":\"OTHER\",\"max_order_qty\":\"500\"}");
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(http_error_field(&r), "account");
    http_free(&r);
    gw_http(&r, &gw, "GET", path, viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(str(r.json, "max_order_qty"), "1000");
    http_free(&r);

    snprintf(body, sizeof body, "{\"account\":\"%s\",\"engaged\":true,\"reason\":\"test\"}",
             my_acct);
    gw_http(&r, &gw, "POST", "/v1/risk/kill-switch", trader, body);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "canceled")), 2);
    http_free(&r);
    gw_http(&r, &gw, "POST", "/v1/risk/kill-switch", admin, "{\"engaged\":false}");
    ck_assert_int_eq(r.status, 200);
    http_free(&r);

    snprintf(body, sizeof body,
             "{\"url\":\"https://example.test/h\",\"events\":\"fills.>\",\"account\":\"%s\"}",
             my_acct);
    gw_http(&r, &gw, "POST", "/v1/webhooks", trader, body);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(str(r.json, "events"), "fills.>");
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/webhooks", viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/webhooks/wh-1/deliveries?status=dead&limit=5", viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(str(json_array_get(json_object_get(r.json, "items"), 0), "state"), "dead");
    ck_assert_str_eq(str(json_array_get(json_object_get(r.json, "items"), 0), "webhook_id"),
                     "wh-1");
    http_free(&r);
    fake_last(NULL, NULL, accounts);
    ck_assert_str_eq(accounts, my_acct);
    gw_http(&r, &gw, "DELETE", "/v1/webhooks/wh-1", trader, NULL);
    ck_assert_int_eq(r.status, 204);
    ck_assert_uint_eq(r.len, 0);
    http_free(&r);
    fake_last_field("id", value, sizeof value);
    ck_assert_str_eq(value, "wh-1");
    gw_http(&r, &gw, "GET", "/v1/alerts", viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(str(json_array_get(json_object_get(r.json, "items"), 0), "message"),
                     "drawdown 3.1% > 3%");
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/alerts/rules", viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(str(json_array_get(json_object_get(r.json, "items"), 0), "threshold"), "0.03");
    http_free(&r);
    snprintf(body, sizeof body, "{\"kind\":\"drawdown\",\"account\":\"%s\",\"threshold\":0.05}",
             my_acct);
    gw_http(&r, &gw, "POST", "/v1/alerts/rules", trader, body);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(str(r.json, "threshold"), "0.05");
    http_free(&r);
    gw_http(&r, &gw, "DELETE", "/v1/alerts/rules/r-1", trader, NULL);
    ck_assert_int_eq(r.status, 204);
    http_free(&r);
    fake_last_field("id", value, sizeof value);
    ck_assert_str_eq(value, "r-1");
    gw_http(&r, &gw, "DELETE", "/v1/alerts/rules/r-1", viewer, NULL);
    ck_assert_int_eq(r.status, 403);
    http_free(&r);
}
END_TEST

START_TEST(strategies) {
    http_resp r;
    char body[512], value[TB_TEXT_CAP];
    gw_http(&r, &gw, "GET", "/v1/strategies", viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
    snprintf(
        body, sizeof body,
        "{\"strategy_id\":\"s-9\",\"kind\":\"rsi\",\"symbol\":\"DAX\",\"account\":\"%s\","
        "\"sizing\":\"fixed\",\"qty\":\"2\",\"params\":\"{\\\"period\\\":14}\",\"enabled\":true}",
        my_acct);
    gw_http(&r, &gw, "POST", "/v1/strategies", trader, body);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(str(r.json, "params"), "{\"period\":14}");
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/strategies/s-9", viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(str(r.json, "strategy_id"), "s-9");
    http_free(&r);
    fake_last_field("strategy_id", value, sizeof value);
    ck_assert_str_eq(value, "s-9");
    /* the body may leave strategy_id to the path */
    snprintf(body, sizeof body,
             "{\"kind\":\"rsi\",\"symbol\":\"DAX\",\"account\":\"%s\",\"sizing\":\"target\","
             "\"qty\":\"4\"}",
             my_acct);
    gw_http(&r, &gw, "PUT", "/v1/strategies/s-9", trader, body);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_str_eq(str(r.json, "strategy_id"), "s-9");
    ck_assert_str_eq(str(r.json, "sizing"), "target");
    http_free(&r);
    gw_http(&r, &gw, "DELETE", "/v1/strategies/s-9", trader, NULL);
    ck_assert_int_eq(r.status, 204);
    http_free(&r);
    fake_last_field("id", value, sizeof value);
    ck_assert_str_eq(value, "s-9");
}
END_TEST

START_TEST(analytics_and_import) {
    http_resp r;
    char path[256], hdr[128];
    snprintf(path, sizeof path, "/v1/analytics/%s", my_acct);
    gw_http(&r, &gw, "GET", path, viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_double_eq_tol(json_real_value(json_object_get(r.json, "sharpe")), 1.25, 1e-12);
    ck_assert_str_eq(str(r.json, "pnl"), "5000");
    /* A statistic without a value is null, not missing; a rounded one
     * prints as its short decimal (not -0.29780900000000001). */
    ck_assert(json_is_null(json_object_get(r.json, "calmar")));
    ck_assert_ptr_nonnull(strstr(r.body, "\"cagr\":-0.297809,"));
    http_free(&r);
    snprintf(path, sizeof path, "/v1/analytics/%s/trades?symbol=DAX&limit=5", my_acct);
    gw_http(&r, &gw, "GET", path, viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    json_t *trip = json_array_get(json_object_get(r.json, "items"), 0);
    ck_assert_str_eq(str(trip, "entry_price"), "100.5");
    ck_assert_str_eq(str(trip, "net_pnl"), "-1");
    ck_assert(json_is_null(json_object_get(trip, "exit_ts")));
    ck_assert(json_is_null(json_object_get(trip, "exit_price")));
    http_free(&r);
    snprintf(path, sizeof path, "/v1/analytics/%s/equity?limit=3", my_acct);
    gw_http(&r, &gw, "GET", path, viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "count")), 3);
    http_free(&r);
    snprintf(path, sizeof path, "/v1/analytics/%s/equity?format=svg", my_acct);
    gw_http(&r, &gw, "GET", path, viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(http_header(&r, "Content-Type", hdr, sizeof hdr), "image/svg+xml");
    ck_assert(strncmp(r.body, "<svg ", 5) == 0);
    ck_assert_ptr_nonnull(strstr(r.body, "<polyline"));
    ck_assert_ptr_nonnull(strstr(r.body, ">102500<")); /* highest equity, exact */
    http_free(&r);
    const char *const accept[] = {"Accept: image/svg+xml", NULL};
    snprintf(path, sizeof path, "/v1/analytics/%s/equity", my_acct);
    http_do(&r, gw.base, "GET", path, viewer, NULL, -1, accept);
    ck_assert_str_eq(http_header(&r, "Content-Type", hdr, sizeof hdr), "image/svg+xml");
    http_free(&r);
    snprintf(path, sizeof path, "/v1/analytics/%s/equity?format=png", my_acct);
    gw_http(&r, &gw, "GET", path, viewer, NULL);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(http_error_field(&r), "format");
    http_free(&r);

    const char *csv = "date,symbol,close\n2026-01-02,DAX,18000.5\n2026-01-03,DAX,18100\n";
    const char *const ctype[] = {"Content-Type: text/csv", NULL};
    http_do(&r, gw.base, "POST", "/v1/bars/import", trader, csv, -1, ctype);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "rows")), 2);
    http_free(&r);
    pthread_mutex_lock(&fake.lock);
    ck_assert_str_eq(fake.last_body, csv);
    pthread_mutex_unlock(&fake.lock);
    http_do(&r, gw.base, "POST", "/v1/bars/import", trader, "", 0, ctype);
    ck_assert_int_eq(r.status, 400);
    http_free(&r);
}
END_TEST

static int fake_requests(void) {
    pthread_mutex_lock(&fake.lock);
    int n = fake.requests_seen;
    pthread_mutex_unlock(&fake.lock);
    return n;
}

/* Once market-data answered for a symbol, the gateway follows its ticks and
 * answers from the last one, without asking again. */
START_TEST(quotes_from_ticks) {
    char sym[48], path[96];
    tb_test_unique(sym, sizeof sym, "QT");
    snprintf(path, sizeof path, "/v1/market/quotes/%s", sym);
    http_resp r;
    gw_http(&r, &gw, "GET", path, viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "seq")), 7); /* the service's */
    json_t *owner = json_deep_copy(r.json);
    http_free(&r);
    tb_tick t = {.seq = 8,
                 .ts = INT64_C(1700000000123456789),
                 .bid = 10050000000,
                 .ask = 10100000001}; /* the fields the service's tick has */
    snprintf(t.symbol, sizeof t.symbol, "%s", sym);
    char subject[96];
    snprintf(subject, sizeof subject, "md.tick.%s", sym);
    int64_t deadline = bus_mono_ns() + INT64_C(10000000000);
    json_int_t seq = 0;
    while (seq != 8 && bus_mono_ns() < deadline) { /* the subscription may not be in place yet */
        ck_assert_int_eq(bus_publish(bus_actor_conn(svc), subject, &tb_tick_desc, &t, NULL), TB_OK);
        gw_http(&r, &gw, "GET", path, viewer, NULL);
        ck_assert_int_eq(r.status, 200);
        seq = json_integer_value(json_object_get(r.json, "seq"));
        http_free(&r);
    }
    ck_assert_int_eq(seq, 8);
    int before = fake_requests();
    for (int i = 0; i < 20; i++) {
        gw_http(&r, &gw, "GET", path, viewer, NULL);
        ck_assert_int_eq(r.status, 200);
        ck_assert_int_eq(json_integer_value(json_object_get(r.json, "seq")), 8);
        ck_assert_str_eq(str(r.json, "symbol"), sym);
        ck_assert_str_eq(str(r.json, "bid"), "100.5");
        ck_assert_str_eq(str(r.json, "ask"), "101.00000001");
        ck_assert_str_eq(str(r.json, "ts"), "2023-11-14T22:13:20.123456789Z");
        /* the same fields as the service's own answer */
        const char *k;
        json_t *v;
        json_object_foreach(owner, k, v) {
            ck_assert_msg(json_object_get(r.json, k) != NULL, "cached quote lacks %s", k);
        }
        json_object_foreach(r.json, k, v) {
            ck_assert_msg(json_object_get(owner, k) != NULL, "cached quote adds %s", k);
        }
        http_free(&r);
    }
    ck_assert_int_eq(fake_requests(), before); /* every one from the cache */
    json_decref(owner);
}
END_TEST

START_TEST(request_ids) {
    http_resp r;
    char hdr[128], trace[64];
    const char *const ok[] = {"X-Request-Id: trace:abc/123", NULL};
    http_do(&r, gw.base, "GET", "/v1/positions", viewer, NULL, -1, ok);
    ck_assert_str_eq(http_header(&r, "X-Request-Id", hdr, sizeof hdr), "trace:abc/123");
    fake_last(NULL, trace, NULL);
    ck_assert_str_eq(trace, "trace:abc/123");
    http_free(&r);
    char long_id[100] = "X-Request-Id: ";
    memset(long_id + strlen(long_id), 'a', 64);
    const char *const bad[] = {long_id, NULL};
    http_do(&r, gw.base, "GET", "/v1/positions", viewer, NULL, -1, bad);
    ck_assert_int_eq(r.status, 200);
    http_header(&r, "X-Request-Id", hdr, sizeof hdr);
    ck_assert_uint_eq(strlen(hdr), 32); /* replaced by a generated id */
    fake_last(NULL, trace, NULL);
    ck_assert_str_eq(trace, hdr);
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/positions", viewer, NULL);
    ck_assert_ptr_nonnull(http_header(&r, "X-Request-Id", hdr, sizeof hdr));
    fake_last(NULL, trace, NULL);
    ck_assert_str_eq(trace, hdr);
    http_free(&r);
}
END_TEST

START_TEST(slow_and_absent_services) {
    http_resp r;
    int64_t t0 = bus_mono_ns();
    post_order(&r, trader, my_acct, "SLOW", "1", NULL);
    int64_t ms = (bus_mono_ns() - t0) / 1000000;
    ck_assert_msg(r.status == 504, "%ld %s", r.status, r.body);
    ck_assert_str_eq(http_error_code(&r), "timeout");
    ck_assert_int_lt(ms, 1900); /* GATEWAY_BUS_TIMEOUT_MS=800, not the service's 2 s */
    http_free(&r);
    bus_actor_destroy(svc); /* drains: waits for the slow handler */
    svc = NULL;
    /* the server drops the closed connection's interest asynchronously:
     * until then a request waits for the timeout (504), then it is 503 */
    int64_t t1 = bus_mono_ns();
    long status = 0;
    char code[32] = "";
    bool retry_after = false;
    while (status != 503 && bus_mono_ns() - t1 < INT64_C(5000000000)) {
        gw_http(&r, &gw, "GET", "/v1/fills", viewer, NULL);
        status = r.status;
        snprintf(code, sizeof code, "%s", http_error_code(&r));
        ck_assert_msg(status == 503 || status == 504, "%ld %s", status, r.body);
        retry_after = r.headers && strcasestr(r.headers, "\nRetry-After: 1\r") != NULL;
        http_free(&r);
    }
    ck_assert_int_eq(status, 503);
    ck_assert_msg(retry_after, "a 503 tells when to retry");
    ck_assert_str_eq(code, "no_responders");
    svc = fake_start(fake_name, true);
    gw_http(&r, &gw, "GET", "/v1/fills", viewer, NULL);
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
}
END_TEST

/* Last: the gateway drains and exits 0 (under ASan: without leaks or memory
 * errors), and the fake service's handlers recorded no failure. A test, not
 * the teardown: a failure in an unchecked teardown is not recorded. */
START_TEST(gateway_stops_cleanly) {
    gw_stop(&gw);
    tb_test_bg_assert();
}
END_TEST

int main(void) {
    Suite *s = suite_create("gateway_api");
    TCase *tc = tcase_create("api");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, orders);
    tcase_add_test(tc, reads);
    tcase_add_test(tc, writes);
    tcase_add_test(tc, strategies);
    tcase_add_test(tc, analytics_and_import);
    tcase_add_test(tc, quotes_from_ticks);
    tcase_add_test(tc, request_ids);
    tcase_add_test(tc, slow_and_absent_services);
    tcase_add_test(tc, gateway_stops_cleanly);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
