/* The gateway's own routes against real servers: /health, /health/<svc>,
 * /health/all (instances discovered with $SRV.PING, 503 while a required
 * service is down), /services, /metrics (aggregated from every instance,
 * valid exposition format), /openapi.json against the route table in both
 * directions (every route documented, every documented operation served),
 * /docs, 404 and 405. */
#include "test_gateway_fixture.h"

static gw_proc gw;
static bus_actor *svc;
static char fake_name[64], admin[64];

static void setup(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tb_test_unique(fake_name, sizeof fake_name, "gwops");
    svc = fake_start(fake_name, true);
    /* No /health/all cache here: the test watches instances come and go. */
    static const char *const env[] = {"GATEWAY_REQUIRED_SERVICES=market-data,api-gateway",
                                      "GATEWAY_BUS_TIMEOUT_MS=1000", "GATEWAY_HEALTH_CACHE_MS=0",
                                      NULL};
    gw_start(&gw, "ops", env);
    gw_admin_key(admin, sizeof admin);
}

static void teardown(void) {
    if (gw_stop_rc(&gw) != 0) fprintf(stderr, "tb-gateway did not exit cleanly\n");
    bus_actor_destroy(svc);
    json_decref(fake.last_request);
    fake.last_request = NULL;
    curl_global_cleanup();
}

static json_t *service_named(json_t *all, const char *name) {
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(all, "services"), i, s) {
        if (strcmp(json_string_value(json_object_get(s, "name")), name) == 0) return s;
    }
    return NULL;
}

START_TEST(health) {
    http_resp r;
    gw_http(&r, &gw, "GET", "/health", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "service")), "api-gateway");
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "ok");
    json_t *checks = json_object_get(r.json, "checks");
    ck_assert(json_is_true(json_object_get(json_object_get(checks, "nats"), "ok")));
    http_free(&r);
    /* PostgreSQL and Redis are in the gateway's bus health (a round trip). */
    gw_http(&r, &gw, "GET", "/health/api-gateway", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    checks = json_object_get(r.json, "checks");
    ck_assert(json_is_true(json_object_get(json_object_get(checks, "postgres"), "ok")));
    ck_assert(json_is_true(json_object_get(json_object_get(checks, "redis"), "ok")));
    http_free(&r);
    char path[128];
    snprintf(path, sizeof path, "/health/%s", fake_name);
    gw_http(&r, &gw, "GET", path, NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "service")), fake_name);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "id")), bus_actor_instance(svc));
    http_free(&r);
    gw_http(&r, &gw, "GET", "/health/nobody-runs-this", NULL, NULL);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(http_error_code(&r), "no_responders");
    http_free(&r);
    gw_http(&r, &gw, "GET", "/health/bad.name", NULL, NULL);
    ck_assert_int_eq(r.status, 400);
    http_free(&r);
}
END_TEST

START_TEST(health_all) {
    http_resp r;
    gw_http(&r, &gw, "GET", "/health/all", NULL, NULL);
    ck_assert_msg(r.status == 503, "%ld %s", r.status, r.body); /* no market-data */
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "down");
    for (size_t i = 0; i < 9; i++) {
        static const char *const names[] = {
            "market-data",     "historical-data",   "signal-processing",
            "risk-management", "trading-execution", "position-management",
            "analytics",       "notifications",     "api-gateway"};
        ck_assert_msg(service_named(r.json, names[i]) != NULL, "%s not listed", names[i]);
    }
    json_t *md = service_named(r.json, "market-data");
    ck_assert(json_is_true(json_object_get(md, "required")));
    ck_assert_int_eq(json_integer_value(json_object_get(md, "instances")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(md, "status")), "absent");
    json_t *self = service_named(r.json, "api-gateway");
    ck_assert_int_ge(json_integer_value(json_object_get(self, "healthy")), 1);
    json_t *fk = service_named(r.json, fake_name); /* not in DESIGN §1, still shown */
    ck_assert_ptr_nonnull(fk);
    ck_assert(json_is_false(json_object_get(fk, "required")));
    json_t *d = json_array_get(json_object_get(fk, "details"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(d, "id")), bus_actor_instance(svc));
    ck_assert(
        json_is_true(json_object_get(json_object_get(json_object_get(d, "checks"), "nats"), "ok")));
    http_free(&r);

    /* two market-data instances come up: healthy */
    bus_actor *m1 = fake_start("market-data", false), *m2 = fake_start("market-data", false);
    gw_http(&r, &gw, "GET", "/health/all", NULL, NULL);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    md = service_named(r.json, "market-data");
    ck_assert_int_eq(json_integer_value(json_object_get(md, "instances")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(md, "healthy")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(md, "status")), "ok");
    http_free(&r);
    bus_actor_destroy(m1);
    bus_actor_destroy(m2);
    gw_http(&r, &gw, "GET", "/health/all", NULL, NULL);
    ck_assert_int_eq(r.status, 503);
    http_free(&r);
}
END_TEST

START_TEST(services) {
    http_resp r;
    gw_http(&r, &gw, "GET", "/v1/fills", admin, NULL); /* one request for the stats */
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
    gw_http(&r, &gw, "GET", "/services", NULL, NULL);
    ck_assert_int_eq(r.status, 401);
    http_free(&r);
    gw_http(&r, &gw, "GET", "/services", admin, NULL);
    ck_assert_int_eq(r.status, 200);
    json_t *mine = NULL, *gateway = NULL;
    size_t i;
    json_t *inst;
    json_array_foreach(json_object_get(r.json, "instances"), i, inst) {
        const char *name = json_string_value(json_object_get(inst, "name"));
        if (strcmp(name, fake_name) == 0) mine = inst;
        if (strcmp(name, "api-gateway") == 0) gateway = inst;
    }
    ck_assert_ptr_nonnull(mine);
    ck_assert_ptr_nonnull(gateway);
    ck_assert_str_eq(json_string_value(json_object_get(mine, "version")), "0.0.1-fake");
    ck_assert(json_is_true(json_object_get(mine, "answered")));
    json_t *fills = NULL, *ep;
    json_array_foreach(json_object_get(mine, "endpoints"), i, ep) {
        if (strcmp(json_string_value(json_object_get(ep, "name")), "fills") == 0) fills = ep;
    }
    ck_assert_ptr_nonnull(fills);
    ck_assert_str_eq(json_string_value(json_object_get(fills, "subject")), "api.fills.list");
    ck_assert_int_ge(json_integer_value(json_object_get(fills, "num_requests")), 1);
    http_free(&r);
}
END_TEST

START_TEST(metrics) {
    http_resp r;
    gw_http(&r, &gw, "GET", "/v1/fills", admin, NULL);
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/fills", NULL, NULL);
    http_free(&r);
    gw_http(&r, &gw, "GET", "/metrics", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    char hdr[128];
    ck_assert(strncmp(http_header(&r, "Content-Type", hdr, sizeof hdr), "text/plain; version=0.0.4",
                      25) == 0);
    const char *problem = tb_prom_check(r.body);
    ck_assert_msg(problem == NULL, "%s", problem);
    ck_assert_ptr_nonnull(strstr(r.body, "route=\"/v1/fills\",method=\"GET\",status=\"200\"}"));
    ck_assert_ptr_nonnull(strstr(r.body, "route=\"/v1/fills\",method=\"GET\",status=\"401\"}"));
    ck_assert_ptr_nonnull(
        strstr(r.body, "tb_http_request_duration_seconds_bucket{service=\"api-gateway\""));
    ck_assert_ptr_nonnull(
        strstr(r.body, "tb_gateway_bus_request_duration_seconds_count{service=\"api-gateway\""));
    ck_assert_ptr_nonnull(strstr(r.body, "subject=\"api.fills.list\""));
    /* the fake's own series, with its service and instance labels */
    char want[256];
    snprintf(want, sizeof want,
             "tb_messages_total{service=\"%s\",instance=\"%s\",endpoint=\"fills\",outcome=\"ok\"}",
             fake_name, bus_actor_instance(svc));
    ck_assert_msg(strstr(r.body, want) != NULL, "missing %s", want);
    /* every family declared once */
    for (const char *p = r.body; (p = strstr(p, "# HELP ")) != NULL; p++) {
        char name[128];
        ck_assert(sscanf(p + 7, "%127s", name) == 1);
        char line[160];
        snprintf(line, sizeof line, "# HELP %s ", name);
        ck_assert_msg(strstr(p + 1, line) == NULL, "%s declared twice", name);
    }
    http_free(&r);
}
END_TEST

/* Every operation of the served document answers as a route: an open
 * route answers (200 or 503/400 by its nature), a keyed one asks for the
 * key; none is "no route" or "method not allowed". */
START_TEST(openapi_matches_what_is_served) {
    http_resp r;
    gw_http(&r, &gw, "GET", "/openapi.json", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    json_t *doc = json_incref(r.json);
    http_free(&r);
    json_t *paths = json_object_get(doc, "paths");
    size_t n;
    const gw_route *rs = gw_routes(&n);
    for (size_t i = 0; i < n; i++) {
        char m[16];
        size_t k = 0;
        for (; rs[i].method[k]; k++) m[k] = (char)(rs[i].method[k] | 0x20);
        m[k] = '\0';
        ck_assert_msg(json_object_get(json_object_get(paths, rs[i].path), m) != NULL,
                      "served but not in /openapi.json: %s %s", rs[i].method, rs[i].path);
    }
    const char *path;
    json_t *item;
    size_t ops = 0;
    json_object_foreach(paths, path, item) {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op) {
            char concrete[256], upper[16];
            size_t o = 0;
            for (const char *p = path; *p && o + 2 < sizeof concrete; p++) {
                if (*p == '{') {
                    concrete[o++] = 'x';
                    p = strchr(p, '}');
                } else {
                    concrete[o++] = *p;
                }
            }
            concrete[o] = '\0';
            size_t k = 0;
            for (; method[k]; k++) upper[k] = (char)(method[k] & ~0x20);
            upper[k] = '\0';
            http_do(&r, gw.base, upper, concrete, NULL, NULL, -1, NULL);
            const char *msg =
                json_string_value(json_object_get(json_object_get(r.json, "error"), "message"));
            ck_assert_msg(r.status != 405 && !(msg && strncmp(msg, "no route", 8) == 0),
                          "documented but not served: %s %s -> %ld", upper, path, r.status);
            bool open = json_is_array(json_object_get(op, "security"));
            if (!open)
                ck_assert_msg(r.status == 401, "%s %s without a key: %ld", upper, path, r.status);
            http_free(&r);
            ops++;
        }
    }
    ck_assert_uint_eq(ops, n);
    json_decref(doc);
    gw_http(&r, &gw, "GET", "/docs", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    char hdr[64];
    ck_assert(strncmp(http_header(&r, "Content-Type", hdr, sizeof hdr), "text/html", 9) == 0);
    ck_assert_ptr_nonnull(strstr(r.body, "/v1/analytics/{account}/equity"));
    http_free(&r);
}
END_TEST

START_TEST(unknown_routes) {
    http_resp r;
    char hdr[64];
    gw_http(&r, &gw, "GET", "/v2/orders", admin, NULL);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(http_error_code(&r), "not_found");
    http_free(&r);
    gw_http(&r, &gw, "PATCH", "/v1/orders", admin, NULL);
    ck_assert_int_eq(r.status, 405);
    ck_assert_str_eq(http_header(&r, "Allow", hdr, sizeof hdr), "POST, GET");
    http_free(&r);
    gw_http(&r, &gw, "GET", "/../../etc/passwd", NULL, NULL);
    ck_assert_int_eq(r.status, 404);
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
    Suite *s = suite_create("gateway_ops");
    TCase *tc = tcase_create("ops");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, health);
    tcase_add_test(tc, health_all);
    tcase_add_test(tc, services);
    tcase_add_test(tc, metrics);
    tcase_add_test(tc, openapi_matches_what_is_served);
    tcase_add_test(tc, unknown_routes);
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
