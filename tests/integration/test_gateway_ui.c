/* The web UI served by the gateway.
 *
 * "static": the gateway alone, over HTTP: "/" is index.html with its
 * security headers (CSP without inline script, nosniff), types of the
 * other files, ETag and 304, gzip when accepted (and identical bytes once
 * inflated), paths outside the file set refused (traversal, encoded or
 * not), other methods 405, HEAD, the API still first; GET /v1/me for each
 * role. The files come from web/ found next to the binary (no
 * GATEWAY_WEB_DIR), as with scripts/up.
 *
 * "browser": the eight real services behind the gateway, an account whose
 * name is hostile markup and whose max_order_qty is 100, a trader and a
 * viewer key, market-data replaying from data/ for backtests; then
 * tests/ui/ui_test.mjs drives Debian's chromium with puppeteer-core
 * through the UI (see that file). node, chromium or the npm
 * dependency missing is a failure, not a skip. */
#include <errno.h>
#include <sys/wait.h>
#include <zlib.h>

#include "test_gateway_fixture.h"

#define XSS_NAME "<img src=x onerror=window.__xss=1>"

static gw_proc gw;
static pid_t pids[GW_NSERVICES];
static char admin[64];

/* ------------------------------------------------------------ static -- */

static void static_setup(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    static const char *const env[] = {"GATEWAY_REQUIRED_SERVICES=none", NULL};
    gw_start(&gw, "ui-static", env);
    gw_admin_key(admin, sizeof admin);
}

static void static_teardown(void) {
    if (gw_stop_rc(&gw) != 0) fprintf(stderr, "tb-gateway did not exit cleanly\n");
    curl_global_cleanup();
}

static void get(http_resp *r, const char *path, const char *const *headers) {
    http_do(r, gw.base, "GET", path, NULL, NULL, -1, headers);
}

static const char *hdr(const http_resp *r, const char *name) {
    static char v[1024];
    return http_header(r, name, v, sizeof v) ? v : "";
}

START_TEST(index_and_headers) {
    http_resp r;
    get(&r, "/", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(hdr(&r, "Content-Type"), "text/html; charset=utf-8");
    ck_assert_ptr_nonnull(strstr(r.body, "<script type=\"module\" src=\"/app.js\">"));
    const char *csp = hdr(&r, "Content-Security-Policy");
    ck_assert_ptr_nonnull(strstr(csp, "default-src 'self'"));
    ck_assert_ptr_nonnull(strstr(csp, "script-src 'self'"));
    ck_assert_ptr_null(strstr(csp, "unsafe"));
    ck_assert_str_eq(hdr(&r, "X-Content-Type-Options"), "nosniff");
    ck_assert_str_eq(hdr(&r, "Cache-Control"), "no-cache");
    ck_assert_str_eq(hdr(&r, "Vary"), "Accept-Encoding");
    ck_assert_int_eq(hdr(&r, "ETag")[0], '"');
    http_free(&r);
    static const struct {
        const char *path, *type;
    } files[] = {
        {"/index.html", "text/html; charset=utf-8"},
        {"/app.js", "text/javascript; charset=utf-8"},
        {"/js/api.js", "text/javascript; charset=utf-8"},
        {"/app.css", "text/css; charset=utf-8"},
        {"/vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8"},
        {"/vendor/uPlot.LICENSE.txt", "text/plain; charset=utf-8"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        get(&r, files[i].path, NULL);
        ck_assert_msg(r.status == 200, "%s: %ld", files[i].path, r.status);
        ck_assert_str_eq(hdr(&r, "Content-Type"), files[i].type);
        http_free(&r);
    }
    /* HEAD: the headers without the body */
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "%s/app.css", gw.base);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    long status = 0;
    curl_off_t cl = -1;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    curl_easy_cleanup(c);
    ck_assert_int_eq(status, 200);
    ck_assert_int_gt(cl, 0); /* the GET's length, without the body */
    /* the API keeps its routes and its JSON 404 */
    get(&r, "/v1/nothing", NULL);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(http_error_code(&r), "not_found");
    http_free(&r);
    get(&r, "/docs", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(strstr(hdr(&r, "Cache-Control"), "no-cache"));
    http_free(&r);
}
END_TEST

START_TEST(etag_and_gzip) {
    http_resp plain, r, gz;
    get(&plain, "/vendor/uPlot.iife.min.js", NULL);
    ck_assert_int_eq(plain.status, 200);
    ck_assert_str_eq(hdr(&plain, "Content-Encoding"), "");
    char etag[128], inm[160];
    snprintf(etag, sizeof etag, "%s", hdr(&plain, "ETag"));
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    const char *const h304[] = {inm, NULL};
    get(&r, "/vendor/uPlot.iife.min.js", h304);
    ck_assert_int_eq(r.status, 304);
    ck_assert_uint_eq(r.len, 0);
    ck_assert_str_eq(hdr(&r, "ETag"), etag);
    http_free(&r);
    const char *const other[] = {"If-None-Match: \"stale\"", NULL};
    get(&r, "/vendor/uPlot.iife.min.js", other);
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
    /* gzip: smaller, its own ETag, and the same bytes once inflated */
    const char *const acc[] = {"Accept-Encoding: gzip, deflate", NULL};
    get(&gz, "/vendor/uPlot.iife.min.js", acc);
    ck_assert_int_eq(gz.status, 200);
    ck_assert_str_eq(hdr(&gz, "Content-Encoding"), "gzip");
    ck_assert_uint_lt(gz.len, plain.len);
    ck_assert_str_ne(hdr(&gz, "ETag"), etag);
    unsigned char *out = malloc(plain.len + 1);
    z_stream z;
    memset(&z, 0, sizeof z);
    ck_assert_int_eq(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (unsigned char *)gz.body;
    z.avail_in = (uInt)gz.len;
    z.next_out = out;
    z.avail_out = (uInt)plain.len + 1;
    ck_assert_int_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
    ck_assert_uint_eq(z.total_out, plain.len);
    inflateEnd(&z);
    ck_assert(memcmp(out, plain.body, plain.len) == 0);
    free(out);
    http_free(&gz);
    const char *const no[] = {"Accept-Encoding: gzip;q=0, identity", NULL};
    get(&gz, "/vendor/uPlot.iife.min.js", no);
    ck_assert_str_eq(hdr(&gz, "Content-Encoding"), "");
    ck_assert_uint_eq(gz.len, plain.len);
    http_free(&gz);
    http_free(&plain);
}
END_TEST

START_TEST(nothing_outside_the_files) {
    static const char *const bad[] = {"/../CMakeLists.txt",
                                      "/%2e%2e/CMakeLists.txt",
                                      "/js/../../README.md",
                                      "/vendor/",
                                      "/vendor",
                                      "/js/%2e%2e/%2e%2e/gateway/http.c",
                                      "/.gitignore",
                                      "/../../../../../etc/passwd",
                                      "/%2F..%2F..%2Fetc%2Fpasswd",
                                      "/web/index.html",

                                      "/app.js/",
                                      "/vendor/README.TXT",
                                      "/..%5c..%5cCMakeLists.txt",
                                      "/nothing.html"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http_resp r;
        get(&r, bad[i], NULL);
        ck_assert_msg(r.status == 404 || r.status == 400, "%s: %ld", bad[i], r.status);
        ck_assert_msg(r.body == NULL || strstr(r.body, "cmake_minimum_required") == NULL, "%s",
                      bad[i]);
        ck_assert_msg(r.body == NULL || strstr(r.body, "root:") == NULL, "%s", bad[i]);
        http_free(&r);
    }
    /* civetweb decodes %00 into the path, which then ends there: the file
     * before it is served, never anything outside the set */
    http_resp r;
    get(&r, "/index.html%00.js", NULL);
    ck_assert(r.status == 404 || strcmp(hdr(&r, "Content-Type"), "text/html; charset=utf-8") == 0);
    http_free(&r);
    gw_http(&r, &gw, "POST", "/app.js", NULL, "{}");
    ck_assert_int_eq(r.status, 405);
    ck_assert_str_eq(hdr(&r, "Allow"), "GET, HEAD");
    http_free(&r);
}
END_TEST

START_TEST(me_per_role) {
    http_resp r;
    gw_http(&r, &gw, "GET", "/v1/me", NULL, NULL);
    ck_assert_int_eq(r.status, 401);
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/me", admin, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "role")), "admin");
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "accounts")), "");
    ck_assert_ptr_null(json_object_get(r.json, "key")); /* never the secret */
    http_free(&r);
    char key[64], id[64];
    gw_new_key(&gw, admin, "viewer", "UIA,UIB", key, id);
    gw_http(&r, &gw, "GET", "/v1/me", key, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "role")), "viewer");
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "accounts")), "UIA,UIB");
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "id")), id);
    http_free(&r);
}
END_TEST

/* ----------------------------------------------------------- browser -- */

static void browser_setup(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* Backtests replay the bundled data/; a consumer given up on fails the
     * run, and under the sanitizers a batch may take seconds. */
    static char replay_dir[600];
    const char *src = getenv("TB_SOURCE_DIR");
    snprintf(replay_dir, sizeof replay_dir, "MD_REPLAY_DIR=%s/data", src ? src : ".");
    static char *env_svc[] = {"MD_RATE=20",
                              "ANALYTICS_SAMPLE_MS=500",
                              replay_dir,
                              "BACKTEST_QUIET_MS=1000",
                              "MD_REPLAY_STALL_MS=30000",
                              NULL};
    gw_services_start(pids, "test_gateway_ui", env_svc);
    static const char *const env[] = {"GATEWAY_RATE_LIMIT=100000", NULL};
    gw_start(&gw, "ui-browser", env);
    ck_assert_msg(tb_test_wait(gw_all_healthy, &gw, 30000), "the services did not all come up");
    gw_admin_key(admin, sizeof admin);
}

static void browser_teardown(void) {
    if (gw_stop_rc(&gw) != 0) fprintf(stderr, "tb-gateway did not exit cleanly\n");
    if (gw_services_stop(pids) != 0) fprintf(stderr, "services did not exit cleanly\n");
    curl_global_cleanup();
}

/* Runs node on the UI test with env; its exit status, or -1 when it ran
 * past timeout_s (then its whole process group, chromium too, is killed). */
static int run_node(const char *script, char *const *env, int timeout_s) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setpgid(0, 0);
        for (size_t i = 0; env[i]; i++) putenv(env[i]);
        execlp("node", "node", script, (char *)NULL);
        fprintf(stderr, "cannot run node: %s (scripts/setup installs nodejs)\n", strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    int64_t end = bus_mono_ns() + (int64_t)timeout_s * 1000000000;
    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (bus_mono_ns() > end) {
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(100 * 1000);
    }
}

START_TEST(drives_the_ui_in_chromium) {
    const char *src = getenv("TB_SOURCE_DIR");
    ck_assert_ptr_nonnull(src);
    const char *chromium = getenv("TB_CHROMIUM") ? getenv("TB_CHROMIUM") : "/usr/bin/chromium";
    ck_assert_msg(access(chromium, X_OK) == 0, "%s is missing: scripts/setup installs chromium",
                  chromium);
    char mods[512];
    snprintf(mods, sizeof mods, "%s/tests/ui/node_modules/puppeteer-core/package.json", src);
    ck_assert_msg(access(mods, R_OK) == 0,
                  "puppeteer-core is not installed: scripts/setup runs npm ci in tests/ui");

    char acct[48], body[512], path[128];
    tb_test_unique(acct, sizeof acct, "UI");
    http_resp r;
    snprintf(body, sizeof body, "{\"account\":\"%s\",\"name\":\"%s\",\"initial_cash\":\"100000\"}",
             acct, XSS_NAME);
    gw_http(&r, &gw, "POST", "/v1/accounts", admin, body);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    http_free(&r);
    snprintf(path, sizeof path, "/v1/risk/limits/%s", acct);
    gw_http(&r, &gw, "PUT", path, admin, "{\"max_order_qty\":\"100\"}");
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    http_free(&r);
    char trader[64], trader_id[64], viewer[64], viewer_id[64];
    gw_new_key(&gw, admin, "trader", acct, trader, trader_id);
    gw_new_key(&gw, admin, "viewer", acct, viewer, viewer_id);

    char e_url[96], e_trader[96], e_viewer[96], e_acct[96], e_shots[600], e_chromium[600],
        script[512];
    snprintf(e_url, sizeof e_url, "TB_UI_URL=%s", gw.base);
    snprintf(e_trader, sizeof e_trader, "TB_UI_TRADER_KEY=%s", trader);
    snprintf(e_viewer, sizeof e_viewer, "TB_UI_VIEWER_KEY=%s", viewer);
    snprintf(e_acct, sizeof e_acct, "TB_UI_ACCOUNT=%s", acct);
    /* screenshots of every page, next to the logs (docs/ui/ has copies) */
    snprintf(e_shots, sizeof e_shots, "TB_UI_SHOTS=%s/ui-screenshots",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp");
    snprintf(e_chromium, sizeof e_chromium, "TB_CHROMIUM=%s", chromium);
    snprintf(script, sizeof script, "%s/tests/ui/ui_test.mjs", src);
    char *env[] = {e_url, e_trader, e_viewer, e_acct, e_shots, e_chromium, NULL};
    int rc = run_node(script, env, 480);
    ck_assert_msg(rc == 0, "the browser test failed (exit %d; its checks are above)", rc);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gateway_ui");
    TCase *st = tcase_create("static");
    tcase_add_unchecked_fixture(st, static_setup, static_teardown);
    tcase_set_timeout(st, 60);
    tcase_add_test(st, index_and_headers);
    tcase_add_test(st, etag_and_gzip);
    tcase_add_test(st, nothing_outside_the_files);
    tcase_add_test(st, me_per_role);
    suite_add_tcase(s, st);
    TCase *br = tcase_create("browser");
    tcase_add_unchecked_fixture(br, browser_setup, browser_teardown);
    tcase_set_timeout(br, 540);
    tcase_add_test(br, drives_the_ui_in_chromium);
    suite_add_tcase(s, br);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
