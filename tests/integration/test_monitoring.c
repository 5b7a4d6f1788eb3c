/* The local Prometheus of `scripts/up --monitoring`: scripts/monitoring
 * starts Debian's prometheus with infra/prometheus's configuration pointed
 * at a gateway started here (free ports, a data folder of its own), and
 * within a deadline its HTTP API reports the gateway's target (job
 * tradebus) up and the alerting rules of infra/prometheus/alerts.yml
 * loaded. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tb_test.h"

static char tag[40], log_path[512], data_dir[600], script[600];
static char env_data[700], env_gw[64], env_prom[64], prom_base[64];
static pid_t gateway;
static bool prom_started;

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static size_t collect(char *data, size_t size, size_t n, void *arg) {
    char **buf = arg;
    size_t old = *buf ? strlen(*buf) : 0, add = size * n;
    char *nb = realloc(*buf, old + add + 1);
    if (nb == NULL) return 0;
    memcpy(nb + old, data, add);
    nb[old + add] = '\0';
    *buf = nb;
    return add;
}

/* GET url; the HTTP status (0: no answer), the body in *body (caller
 * frees). */
static long http_get(const char *url, char **body) {
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    *body = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code;
}

/* scripts/monitoring CMD with the test's data folder and ports; its exit
 * status. */
static int monitoring(const char *cmd) {
    char *argv[] = {"/bin/bash", script, (char *)cmd, NULL};
    char *env[] = {env_data, env_gw, env_prom, "TB_WAIT_TIMEOUT=60", NULL};
    pid_t pid = tb_test_spawn(argv, env, log_path);
    return tb_test_wait_exit(pid, 90000);
}

static void setup(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tb_test_unique(tag, sizeof tag, "MON");
    const char *bd = getenv("TB_BINARY_DIR"), *src = getenv("TB_SOURCE_DIR");
    ck_assert_msg(src != NULL, "TB_SOURCE_DIR is not set (run through ctest)");
    snprintf(log_path, sizeof log_path, "%s/test_monitoring.log", bd ? bd : "/tmp");
    snprintf(data_dir, sizeof data_dir, "%s.%s.d", log_path, tag);
    snprintf(script, sizeof script, "%s/scripts/monitoring", src);
    int gw_port = free_port(), prom_port = free_port();
    snprintf(env_data, sizeof env_data, "TB_DATA_DIR=%s", data_dir);
    snprintf(env_gw, sizeof env_gw, "GATEWAY_PORT=%d", gw_port);
    snprintf(env_prom, sizeof env_prom, "TB_PROMETHEUS_PORT=%d", prom_port);
    snprintf(prom_base, sizeof prom_base, "http://127.0.0.1:%d", prom_port);
    char bin[512];
    tb_test_bin(bin, sizeof bin, "gateway/tb-gateway");
    ck_assert_msg(access(bin, X_OK) == 0, "%s is not built", bin);
    char *argv[] = {bin, NULL};
    char *env[] = {env_gw, "GATEWAY_THREADS=16", "LOG_LEVEL=warn", NULL};
    gateway = tb_test_spawn(argv, env, log_path);
}

static void teardown(void) {
    if (prom_started && monitoring("stop") != 0)
        fprintf(stderr, "scripts/monitoring stop failed (see %s)\n", log_path);
    prom_started = false;
    if (gateway > 0) (void)tb_test_stop(gateway, 20000);
    gateway = 0;
    /* The folder carries scripts/lib.sh's marker: only ours is removed. */
    char cmd[800];
    snprintf(cmd, sizeof cmd, "test -e '%s/.tradebus-data' && rm -rf '%s'", data_dir, data_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", data_dir);
    curl_global_cleanup();
}

/* health of the tradebus job's target ("" while Prometheus has none). */
static void target_health(char *out, size_t cap, char *scrape_url, size_t ucap) {
    char url[128], *body = NULL;
    snprintf(url, sizeof url, "%s/api/v1/targets?state=active", prom_base);
    out[0] = '\0';
    long code = http_get(url, &body);
    json_t *j = code == 200 ? json_loads(body, 0, NULL) : NULL;
    free(body);
    json_t *targets = json_object_get(json_object_get(j, "data"), "activeTargets");
    for (size_t i = 0; i < json_array_size(targets); i++) {
        json_t *t = json_array_get(targets, i);
        const char *job = json_string_value(json_object_get(json_object_get(t, "labels"), "job"));
        if (job == NULL || strcmp(job, "tradebus") != 0) continue;
        const char *h = json_string_value(json_object_get(t, "health"));
        const char *su = json_string_value(json_object_get(t, "scrapeUrl"));
        snprintf(out, cap, "%s", h ? h : "");
        snprintf(scrape_url, ucap, "%s", su ? su : "");
    }
    json_decref(j);
}

START_TEST(local_prometheus_sees_the_gateway_up) {
    char *body = NULL;
    char gw_url[96];
    snprintf(gw_url, sizeof gw_url, "http://127.0.0.1:%s/health", strchr(env_gw, '=') + 1);
    int64_t end = bus_mono_ns() + INT64_C(30000) * 1000000;
    long code = 0;
    while ((code = http_get(gw_url, &body)) != 200 && bus_mono_ns() < end) {
        free(body);
        usleep(100000);
    }
    free(body);
    ck_assert_msg(code == 200, "tb-gateway did not answer on %s (see %s)", gw_url, log_path);

    ck_assert_msg(monitoring("start") == 0, "scripts/monitoring start failed (see %s)", log_path);
    prom_started = true;

    /* A first scrape comes within one scrape interval (10 s). */
    char health[32] = "", scrape_url[256] = "";
    end = bus_mono_ns() + INT64_C(60000) * 1000000;
    while (bus_mono_ns() < end) {
        target_health(health, sizeof health, scrape_url, sizeof scrape_url);
        if (strcmp(health, "up") == 0) break;
        usleep(500000);
    }
    char want_url[128];
    snprintf(want_url, sizeof want_url, "http://127.0.0.1:%s/metrics", strchr(env_gw, '=') + 1);
    ck_assert_str_eq(scrape_url, want_url);
    ck_assert_msg(strcmp(health, "up") == 0, "the gateway's target is '%s' after 60 s (see %s)",
                  health, log_path);

    /* The gateway's own series arrived, and the rules are loaded. */
    char url[256];
    snprintf(url, sizeof url, "%s/api/v1/query?query=up%%7Bjob%%3D%%22tradebus%%22%%7D", prom_base);
    ck_assert_int_eq(http_get(url, &body), 200);
    ck_assert_msg(strstr(body, "\"value\":[") && strstr(body, ",\"1\"]"), "%s", body);
    free(body);
    snprintf(url, sizeof url, "%s/api/v1/rules", prom_base);
    ck_assert_int_eq(http_get(url, &body), 200);
    for (const char *a = "TradebusServiceDown\0TradebusHandlerErrorRate\0TradebusOrderRejections\0"
                         "TradebusTickLag\0";
         *a; a += strlen(a) + 1)
        ck_assert_msg(strstr(body, a) != NULL, "rule %s not loaded", a);
    free(body);
}
END_TEST

int main(void) {
    Suite *s = suite_create("monitoring");
    TCase *tc = tcase_create("prometheus");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, local_prometheus_sees_the_gateway_up);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    /* Forked: under the sanitizers the NOFORK runner read its own message
     * file back corrupted at setup about one run in three ("Bad message
     * type", check_pack.c), the writer not found; each test in its own
     * process has a channel of its own. */
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
