/* Authentication, authorisation and HTTP hygiene of the gateway: missing
 * and bad keys (401), roles (403), accounts of other keys (403/404), key
 * creation rules and revocation reaching every gateway instance within its
 * cache time, malformed JSON (400 with the position), oversized bodies
 * (413), invalid decimals (400), and the per-key rate limit (429 with
 * Retry-After and the X-RateLimit headers), shared by instances through
 * Redis. */
#include <sys/wait.h>

#include "test_gateway_fixture.h"

static gw_proc gw, gw2; /* gw2: a second instance with a low rate limit */
static bus_actor *svc;
static char fake_name[64], admin[64], trader[64], trader_id[64], viewer[64], viewer_id[64];
static char my_acct[48], other[48];

static void setup(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tb_test_unique(fake_name, sizeof fake_name, "gwauth");
    tb_test_unique(my_acct, sizeof my_acct, "GA");
    tb_test_unique(other, sizeof other, "GB");
    svc = fake_start(fake_name, true);
    /* The two instances share keys with different limits: gw leases one
     * token at a time, so its leases never use up gw2's small windows (a
     * lease of 10,000 would, correctly: those tokens are taken). */
    static const char *const env[] = {"GATEWAY_RATE_LIMIT=100000", "GATEWAY_RATE_BATCH=1",
                                      "GATEWAY_AUTH_CACHE_MS=400", NULL};
    gw_start(&gw, "auth", env);
    static const char *const env2[] = {"GATEWAY_RATE_LIMIT=5", "GATEWAY_AUTH_CACHE_MS=400",
                                       "GATEWAY_AUTH_FAIL_LIMIT=3", NULL};
    gw_start(&gw2, "auth2", env2);
    gw_admin_key(admin, sizeof admin);
    gw_new_key(&gw, admin, "trader", my_acct, trader, trader_id);
    gw_new_key(&gw, admin, "viewer", my_acct, viewer, viewer_id);
}

static void teardown(void) {
    int rc1 = gw_stop_rc(&gw), rc2 = gw_stop_rc(&gw2); /* 0: stopped by the last test */
    if (rc1 != 0 || rc2 != 0) fprintf(stderr, "tb-gateway exit status %d and %d\n", rc1, rc2);
    bus_actor_destroy(svc);
    json_decref(fake.last_request);
    fake.last_request = NULL;
    curl_global_cleanup();
}

static void expect(http_resp *r, long status, const char *code, const char *field) {
    ck_assert_msg(r->status == status, "want %ld got %ld: %s", status, r->status, r->body);
    if (code) ck_assert_str_eq(http_error_code(r), code);
    if (field) ck_assert_str_eq(http_error_field(r), field);
    http_free(r);
}

START_TEST(bad_credentials) {
    http_resp r;
    char hdr[128];
    gw_http(&r, &gw, "GET", "/v1/fills", NULL, NULL);
    ck_assert_str_eq(http_header(&r, "WWW-Authenticate", hdr, sizeof hdr),
                     "Bearer realm=\"tradebus\"");
    ck_assert_ptr_null(http_header(&r, "X-RateLimit-Limit", hdr, sizeof hdr));
    expect(&r, 401, "unauthorized", NULL);
    const char *const basic[] = {"Authorization: Basic dXNlcjpwdw==", NULL};
    http_do(&r, gw.base, "GET", "/v1/fills", NULL, NULL, -1, basic);
    expect(&r, 401, "unauthorized", NULL);
    gw_http(&r, &gw, "GET", "/v1/fills", "not-a-key", NULL);
    expect(&r, 401, "unauthorized", NULL);
    gw_http(&r, &gw, "GET", "/v1/fills", "tb_0000000000000000000000000000000000000000", NULL);
    expect(&r, 401, "unauthorized", NULL);
    /* same prefix as a real key, different secret */
    char forged[64];
    snprintf(forged, sizeof forged, "%s", trader);
    forged[42] = forged[42] == '0' ? '1' : '0';
    gw_http(&r, &gw, "GET", "/v1/fills", forged, NULL);
    expect(&r, 401, "unauthorized", NULL);
    /* open routes need no key */
    gw_http(&r, &gw, "GET", "/openapi.json", NULL, NULL);
    expect(&r, 200, NULL, NULL);
    gw_http(&r, &gw, "GET", "/metrics", NULL, NULL);
    expect(&r, 200, NULL, NULL);
}
END_TEST

START_TEST(roles) {
    http_resp r;
    char body[512];
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"symbol\":\"DAX\",\"side\":\"sell\",\"type\":\"market\",\"qty\":"
             "\"1\"}",
             my_acct);
    gw_http(&r, &gw, "POST", "/v1/orders", viewer, body);
    expect(&r, 403, "forbidden", NULL);
    gw_http(&r, &gw, "POST", "/v1/orders", trader, body);
    expect(&r, 200, NULL, NULL);
    gw_http(&r, &gw, "GET", "/v1/fills", viewer, NULL);
    expect(&r, 200, NULL, NULL);
    gw_http(&r, &gw, "GET", "/services", viewer, NULL);
    expect(&r, 200, NULL, NULL);
    snprintf(body, sizeof body, "{\"account\":\"%s\",\"initial_cash\":\"1\"}", my_acct);
    gw_http(&r, &gw, "POST", "/v1/accounts", trader, body);
    expect(&r, 403, "forbidden", NULL);
    char path[128];
    snprintf(path, sizeof path, "/v1/risk/limits/%s", my_acct);
    gw_http(&r, &gw, "PUT", path, trader, "{\"max_order_qty\":\"1\"}");
    expect(&r, 403, "forbidden", NULL);
    gw_http(&r, &gw, "POST", "/v1/api-keys", trader, "{\"role\":\"admin\"}");
    expect(&r, 403, "forbidden", NULL);
    gw_http(&r, &gw, "DELETE", "/v1/api-keys/key_0000000000000000", trader, NULL);
    expect(&r, 403, "forbidden", NULL);
    gw_http(&r, &gw, "DELETE", "/v1/strategies/s-1", viewer, NULL);
    expect(&r, 403, "forbidden", NULL);
    gw_http(&r, &gw, "POST", "/v1/risk/kill-switch", trader, "{\"engaged\":true}");
    expect(&r, 403, "forbidden", "account"); /* global: admin only */
    snprintf(body, sizeof body, "{\"account\":\"%s\",\"engaged\":false}", my_acct);
    gw_http(&r, &gw, "POST", "/v1/risk/kill-switch", trader, body);
    expect(&r, 403, "forbidden", "engaged"); /* releasing: admin only */
}
END_TEST

START_TEST(other_accounts) {
    http_resp r;
    char body[512], path[160], accounts[TB_TEXT_CAP];
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"symbol\":\"DAX\",\"side\":\"buy\",\"type\":\"market\",\"qty\":"
             "\"1\"}",
             other);
    gw_http(&r, &gw, "POST", "/v1/orders", trader, body);
    expect(&r, 403, "forbidden", "account");
    gw_http(&r, &gw, "POST", "/v1/orders", admin, body); /* the other account's order */
    ck_assert_int_eq(r.status, 200);
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "order_id")));
    http_free(&r);
    snprintf(path, sizeof path, "/v1/orders/%s", id);
    gw_http(&r, &gw, "GET", path, trader, NULL);
    expect(&r, 404, "not_found", NULL);
    gw_http(&r, &gw, "DELETE", path, trader, NULL);
    expect(&r, 404, "not_found", NULL);
    gw_http(&r, &gw, "GET", path, admin, NULL);
    expect(&r, 200, NULL, NULL);
    const char *fmts[] = {"/v1/orders?account=%s",   "/v1/risk/limits/%s",      "/v1/analytics/%s",
                          "/v1/analytics/%s/equity", "/v1/analytics/%s/trades", "/v1/accounts/%s",
                          "/v1/fills?account=%s",    "/v1/positions?account=%s"};
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        snprintf(path, sizeof path, fmts[i], other);
        gw_http(&r, &gw, "GET", path, trader, NULL);
        expect(&r, 403, "forbidden", "account");
        snprintf(path, sizeof path, fmts[i], my_acct);
        gw_http(&r, &gw, "GET", path, viewer, NULL);
        expect(&r, 200, NULL, NULL);
    }
    /* lists without a filter are limited by the service to the key's accounts */
    gw_http(&r, &gw, "GET", "/v1/fills", trader, NULL);
    expect(&r, 200, NULL, NULL);
    fake_last(NULL, NULL, accounts);
    ck_assert_str_eq(accounts, my_acct);
    gw_http(&r, &gw, "GET", "/v1/fills", admin, NULL);
    expect(&r, 200, NULL, NULL);
    fake_last(NULL, NULL, accounts);
    ck_assert_str_eq(accounts, "");
    snprintf(body, sizeof body, "{\"account\":\"%s\",\"engaged\":true}", other);
    gw_http(&r, &gw, "POST", "/v1/risk/kill-switch", trader, body);
    expect(&r, 403, "forbidden", "account");
    gw_http(&r, &gw, "POST", "/v1/webhooks", trader, "{\"url\":\"https://example.test/x\"}");
    expect(&r, 403, "forbidden", "account"); /* would see every account */
    snprintf(body, sizeof body,
             "{\"strategy_id\":\"s-x\",\"kind\":\"rsi\",\"symbol\":\"DAX\",\"account\":\"%s\","
             "\"sizing\":\"fixed\"}",
             other);
    gw_http(&r, &gw, "POST", "/v1/strategies", trader, body);
    expect(&r, 403, "forbidden", "account");
}
END_TEST

START_TEST(keys) {
    http_resp r;
    gw_http(&r, &gw, "POST", "/v1/api-keys", admin, "{\"role\":\"root\"}");
    expect(&r, 400, NULL, "role");
    gw_http(&r, &gw, "POST", "/v1/api-keys", admin, "{\"role\":\"trader\"}");
    expect(&r, 400, "invalid", "accounts");
    gw_http(&r, &gw, "POST", "/v1/api-keys", admin, "{\"role\":\"viewer\",\"accounts\":\"A,A\"}");
    expect(&r, 400, "invalid", "accounts");
    gw_http(&r, &gw, "POST", "/v1/api-keys", admin, "{\"role\":\"viewer\",\"accounts\":\"A;B\"}");
    expect(&r, 400, "invalid", "accounts");
    char body[256];
    snprintf(body, sizeof body,
             "{\"role\":\"trader\",\"accounts\":\"%s\",\"key\":\"%s\",\"id\":\"mine\"}", my_acct,
             trader);
    gw_http(&r, &gw, "POST", "/v1/api-keys", admin, body);
    ck_assert_int_eq(r.status, 201);
    char key[64], id[64];
    snprintf(key, sizeof key, "%s", json_string_value(json_object_get(r.json, "key")));
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "id")));
    ck_assert_str_ne(key, trader); /* chosen by the gateway, not the caller */
    ck_assert_str_ne(id, "mine");
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "accounts")), my_acct);
    ck_assert_ptr_nonnull(json_object_get(r.json, "created_at"));
    http_free(&r);

    /* used (and cached) on both instances, then revoked on one */
    gw_http(&r, &gw, "GET", "/v1/positions", key, NULL);
    expect(&r, 200, NULL, NULL);
    gw_http(&r, &gw2, "GET", "/v1/positions", key, NULL);
    expect(&r, 200, NULL, NULL);
    char path[128];
    snprintf(path, sizeof path, "/v1/api-keys/%s", id);
    gw_http(&r, &gw, "DELETE", path, admin, NULL);
    expect(&r, 204, NULL, NULL);
    gw_http(&r, &gw, "GET", "/v1/positions", key, NULL); /* this instance forgot it at once */
    expect(&r, 401, "unauthorized", NULL);
    int64_t t0 = bus_mono_ns();
    long status = 200;
    while (status != 401 && bus_mono_ns() - t0 < INT64_C(3000000000)) {
        usleep(100 * 1000);
        gw_http(&r, &gw2, "GET", "/v1/market/symbols", key, NULL);
        status = r.status;
        http_free(&r);
    }
    ck_assert_int_eq(status, 401);
    ck_assert_int_lt((bus_mono_ns() - t0) / 1000000, 1500); /* GATEWAY_AUTH_CACHE_MS=400 */
    gw_http(&r, &gw, "DELETE", path, admin, NULL);
    expect(&r, 404, "not_found", NULL);
}
END_TEST

START_TEST(malformed_bodies) {
    http_resp r;
    gw_http(&r, &gw, "POST", "/v1/orders", trader, "{\"account\": \"A\",\n  \"qty\": }");
    ck_assert_int_eq(r.status, 400);
    json_t *e = json_object_get(r.json, "error");
    ck_assert_str_eq(json_string_value(json_object_get(e, "code")), "malformed");
    ck_assert_int_eq(json_integer_value(json_object_get(e, "line")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(e, "column")), 10);
    ck_assert_int_eq(json_integer_value(json_object_get(e, "position")), 27);
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(e, "message")), "line 2, column 10"));
    http_free(&r);
    gw_http(&r, &gw, "POST", "/v1/orders", trader, "[1,2]");
    expect(&r, 400, "malformed", NULL);
    gw_http(&r, &gw, "POST", "/v1/orders", trader, "{\"qty\":\"1\",\"qty\":\"2\"}");
    expect(&r, 400, "malformed", NULL); /* duplicate keys */
    http_do(&r, gw.base, "POST", "/v1/orders", trader, "", 0, NULL);
    expect(&r, 400, "malformed", NULL);
    gw_http(&r, &gw, "POST", "/v1/orders", trader, "{\"account\":\"A\"} trailing");
    expect(&r, 400, "malformed", NULL);
    gw_http(&r, &gw, "POST", "/v1/orders", trader, "{\"account\":\"\xff\"}");
    expect(&r, 400, "malformed", NULL); /* not UTF-8 */
    gw_http(&r, &gw, "POST", "/v1/orders", trader, "{\"account\":\"A\"}");
    expect(&r, 400, "missing_field", "symbol");
}
END_TEST

/* A read callback producing `left` bytes of JSON-ish filler, chunked. */
static size_t filler(char *buf, size_t size, size_t n, void *arg) {
    size_t *left = arg, k = size * n < *left ? size * n : *left;
    memset(buf, ' ', k);
    *left -= k;
    return k;
}

START_TEST(oversized_bodies) {
    size_t big = 1024 * 1024 + 10;
    char *body = malloc(big + 1);
    memset(body, ' ', big);
    body[0] = '{';
    body[big - 1] = '}';
    body[big] = '\0';
    http_resp r;
    gw_http(&r, &gw, "POST", "/v1/orders", trader, body);
    expect(&r, 413, "too_large", NULL);
    free(body);
    /* no Content-Length: counted while reading */
    CURL *c = curl_easy_init();
    char url[128], auth[128];
    snprintf(url, sizeof url, "%s/v1/strategies", gw.base);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", trader);
    struct curl_slist *hl = curl_slist_append(NULL, auth);
    hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
    hl = curl_slist_append(hl, "Expect:");
    size_t left = 3 * 1024 * 1024;
    memset(&r, 0, sizeof r);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, filler);
    curl_easy_setopt(c, CURLOPT_READDATA, &left);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(c);
    /* the gateway may close while curl still sends: the status is what counts */
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    ck_assert_msg(r.status == 413, "chunked: %ld (%s)", r.status, curl_easy_strerror(rc));
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/positions", trader, NULL); /* still serving */
    expect(&r, 200, NULL, NULL);
}
END_TEST

static void order_qty(http_resp *r, const char *qty, const char *extra) {
    char body[512];
    snprintf(
        body, sizeof body,
        "{\"account\":\"%s\",\"symbol\":\"DAX\",\"side\":\"buy\",\"type\":\"limit\",\"qty\":%s%s}",
        my_acct, qty, extra);
    gw_http(r, &gw, "POST", "/v1/orders", trader, body);
}

START_TEST(decimals) {
    http_resp r;
    order_qty(&r, "\"NaN\"", "");
    expect(&r, 400, NULL, "qty");
    order_qty(&r, "\"Infinity\"", "");
    expect(&r, 400, NULL, "qty");
    order_qty(&r, "\"1e5\"", "");
    expect(&r, 400, NULL, "qty");
    order_qty(&r, "\"1.123456789\"", "");
    expect(&r, 400, "precision", "qty");
    order_qty(&r, "0.000000001", "");
    expect(&r, 400, "precision", "qty");
    order_qty(&r, "\"-1\"", "");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "message")),
        "qty: must not be negative");
    expect(&r, 400, "invalid", "qty");
    order_qty(&r, "\"0\"", "");
    expect(&r, 400, "invalid", "qty");
    order_qty(&r, "\"1\"", ",\"limit_price\":\"-18000\"");
    expect(&r, 400, "invalid", "limit_price");
    order_qty(&r, "NaN", "");
    expect(&r, 400, "malformed", NULL); /* not JSON at all */
    order_qty(&r, "1e400", "");
    expect(&r, 400, "malformed", NULL);
    order_qty(&r, "\"99999999999999999999\"", "");
    expect(&r, 400, "overflow", "qty");
    order_qty(&r, "\"1\"", ",\"tif\":\"forever\"");
    expect(&r, 400, "invalid", "tif");
    order_qty(&r, "1e2", ",\"limit_price\":\"18000.12345678\"");
    ck_assert_int_eq(r.status, 200); /* an exact JSON number */
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "qty")), "100");
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "limit_price")), "18000.12345678");
    http_free(&r);
}
END_TEST

START_TEST(rate_limit) {
    http_resp r;
    char key[64], id[64], hdr[64];
    gw_new_key(&gw, admin, "viewer", my_acct, key, id); /* a fresh key: a fresh count */
    gw_http(&r, &gw2, "GET", "/v1/market/symbols", key, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(http_header(&r, "X-RateLimit-Limit", hdr, sizeof hdr), "5");
    ck_assert_str_eq(http_header(&r, "X-RateLimit-Remaining", hdr, sizeof hdr), "4");
    ck_assert_str_eq(http_header(&r, "X-RateLimit-Reset", hdr, sizeof hdr), "1");
    http_free(&r);
    int limited = 0;
    for (int i = 0; i < 15; i++) {
        gw_http(&r, &gw2, "GET", "/v1/market/symbols", key, NULL);
        if (r.status == 429) {
            limited++;
            ck_assert_str_eq(http_error_code(&r), "rate_limited");
            ck_assert_str_eq(http_header(&r, "Retry-After", hdr, sizeof hdr), "1");
            ck_assert_str_eq(http_header(&r, "X-RateLimit-Remaining", hdr, sizeof hdr), "0");
        } else {
            ck_assert_int_eq(r.status, 200);
        }
        http_free(&r);
    }
    ck_assert_int_ge(limited, 1); /* 16 quick requests cannot all fit in windows of 5 */
    /* the other instance shares the count (Redis), with its own limit */
    gw_http(&r, &gw, "GET", "/v1/market/symbols", key, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(http_header(&r, "X-RateLimit-Limit", hdr, sizeof hdr), "100000");
    http_free(&r);
    usleep(1100 * 1000);
    gw_http(&r, &gw2, "GET", "/v1/market/symbols", key, NULL);
    expect(&r, 200, NULL, NULL); /* a new window */
}
END_TEST

/* Guessing keys: failed lookups per address are limited before they reach
 * PostgreSQL; known (cached) keys keep working. The trader's key stays
 * cached for GATEWAY_AUTH_CACHE_MS (400 ms), and past half of that the next
 * request refreshes it with a lookup (gateway/auth.c), which is limited
 * too: an attempt that outlasted 200 ms on a starved machine proves
 * nothing, so it is made again in a new second. */
START_TEST(failed_lookups_limited) {
    http_resp r;
    bool proven = false;
    for (int attempt = 0; attempt < 5 && !proven; attempt++) {
        if (attempt > 0) usleep(1100 * 1000); /* a new second: failures counted anew */
        int64_t t0 = bus_mono_ns();
        gw_http(&r, &gw2, "GET", "/v1/positions", trader, NULL); /* cached before the flood */
        expect(&r, 200, NULL, NULL);
        int unauthorized = 0, limited = 0;
        for (int i = 0; i < 10 && limited == 0; i++) {
            char key[64], hdr[16];
            snprintf(key, sizeof key, "tb_%040d", 1000 + 10 * attempt + i); /* unknown, distinct */
            gw_http(&r, &gw2, "GET", "/v1/positions", key, NULL);
            if (r.status == 429) {
                limited++;
                ck_assert_str_eq(http_error_code(&r), "rate_limited");
                ck_assert_str_eq(http_header(&r, "Retry-After", hdr, sizeof hdr), "1");
            } else {
                ck_assert_int_eq(r.status, 401);
                unauthorized++;
            }
            http_free(&r);
        }
        gw_http(&r, &gw2, "GET", "/v1/positions", trader, NULL);
        if ((bus_mono_ns() - t0) / 1000000 >= 400) { /* the entry may have expired */
            ck_assert_msg(r.status == 200 || r.status == 429, "got %ld: %s", r.status, r.body);
            http_free(&r);
            continue;
        }
        /* 400 ms span at most two seconds: one of them saw a 4th failure */
        ck_assert_int_ge(unauthorized, 3);
        ck_assert_int_eq(limited, 1);
        expect(&r, 200, NULL, NULL);
        proven = true;
    }
    ck_assert_msg(proven, "no attempt of 5 fitted in the key cache's 400 ms");
    usleep(1100 * 1000);
    gw_http(&r, &gw2, "GET", "/v1/positions", "tb_0000000000000000000000000000000000009999", NULL);
    expect(&r, 401, "unauthorized", NULL); /* a new second */
}
END_TEST

/* A cached key past half its life is refreshed by a lookup, which an address
 * over its failure limit may not make: the request is answered from the
 * entry it would have refreshed, still within its TTL, not refused. */
START_TEST(refresh_over_limit_answers_cached) {
    http_resp r;
    bool proven = false;
    for (int attempt = 0; attempt < 8 && !proven; attempt++) {
        usleep(450 * 1000); /* the trader's entry expired: the next request looks it up */
        int64_t t0 = bus_mono_ns();
        gw_http(&r, &gw2, "GET", "/v1/positions", trader, NULL);
        expect(&r, 200, NULL, NULL);
        int limited = 0;
        for (int i = 0; i < 10 && limited == 0; i++) {
            char key[64];
            snprintf(key, sizeof key, "tb_%040d", 5000 + 10 * attempt + i);
            gw_http(&r, &gw2, "GET", "/v1/positions", key, NULL);
            if (r.status == 429) limited++;
            http_free(&r);
        }
        int64_t wait_ms = 250 - (bus_mono_ns() - t0) / 1000000;
        if (limited == 0 || wait_ms < 0) continue;
        usleep((useconds_t)wait_ms * 1000); /* past the entry's refresh time */
        gw_http(&r, &gw2, "GET", "/v1/positions", trader, NULL);
        int64_t elapsed_ms = (bus_mono_ns() - t0) / 1000000;
        long status = r.status;
        http_free(&r);
        gw_http(&r, &gw2, "GET", "/v1/positions", "tb_0000000000000000000000000000000000007777",
                NULL);
        bool still_limited = r.status == 429; /* the same second: the trader's was over it too */
        http_free(&r);
        if (elapsed_ms >= 400 || !still_limited) continue;
        ck_assert_msg(status == 200, "a cached key refreshed over the failure limit got %ld",
                      status);
        proven = true;
    }
    ck_assert_msg(proven, "no attempt of 8 refreshed the entry within one second of failures");
    usleep(1100 * 1000);
}
END_TEST

START_TEST(admin_key_command) {
    char bin[512], cmd[700];
    gw_binary(bin, sizeof bin);
    snprintf(cmd, sizeof cmd, "'%s' --create-admin-key --bogus >/dev/null 2>&1", bin);
    int rc = system(cmd);
    ck_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    char key[64];
    gw_admin_key(key, sizeof key);
    http_resp r;
    gw_http(&r, &gw, "GET", "/services", key, NULL);
    expect(&r, 200, NULL, NULL);
}
END_TEST

/* Last: both gateways drain and exits 0 (under ASan: without leaks or memory
 * errors), and the fake service's handlers recorded no failure. A test, not
 * the teardown: a failure in an unchecked teardown is not recorded. */
START_TEST(gateways_stop_cleanly) {
    int rc1 = gw_stop_rc(&gw), rc2 = gw_stop_rc(&gw2); /* both, whatever the first says */
    ck_assert_msg(rc1 == 0 && rc2 == 0, "tb-gateway exit status %d and %d (logs %s, %s)", rc1, rc2,
                  gw.log, gw2.log);
    tb_test_bg_assert();
}
END_TEST

int main(void) {
    Suite *s = suite_create("gateway_auth");
    TCase *tc = tcase_create("auth");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, bad_credentials);
    tcase_add_test(tc, roles);
    tcase_add_test(tc, other_accounts);
    tcase_add_test(tc, keys);
    tcase_add_test(tc, malformed_bodies);
    tcase_add_test(tc, oversized_bodies);
    tcase_add_test(tc, decimals);
    tcase_add_test(tc, rate_limit);
    tcase_add_test(tc, admin_key_command);
    tcase_add_test(tc, failed_lookups_limited);
    tcase_add_test(tc, refresh_over_limit_answers_cached);
    tcase_add_test(tc, gateways_stop_cleanly);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
