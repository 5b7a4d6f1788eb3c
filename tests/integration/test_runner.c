/* The local runner end to end, as a user runs it: ./scripts/up on its own
 * data folder and ports, then
 *   - GET /health/all is 200 and .tradebus/demo.env holds the keys and the
 *     account; a second ./scripts/up changes nothing (same supervisor, same
 *     keys);
 *   - kill -9 of a service: the supervisor restarts it (counted) and it is
 *     healthy again within seconds;
 *   - an order placed through REST with the trader key from demo.env shows
 *     up as a fill on tb-tap and on a WebSocket client of GET /v1/stream
 *     (subscribed to the account's fills before the order);
 *   - ./scripts/down leaves no process of the pid files running.
 * Uses the binaries of the build folder ctest runs from (TB_BUILD_DIR, up
 * --no-build), fresh ports, and a data folder under /var/tmp (PostgreSQL
 * must reach it when run as root). Needs every service and the gateway
 * built: a missing one makes ./scripts/up, and so this test, fail. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tb_test.h"
#include "ws_client.h"

#define UP_TIMEOUT_MS (360 * 1000)

static char root[1024], bindir[1024], datadir[512], logdir[1100];
static char nats_url[256];
static int port_nats, port_mon, port_pg, port_redis, port_gw, port_influx, port_influx_rpc;
static char admin_key[128], trader_key[128], account[64];

/* A TCP port nobody listens on now (the kernel's choice); 0 on failure.
 * Called before the tests run, so no ck_assert here. */
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Runs `bash <root>/scripts/<script> args...` with the test's environment,
 * output appended to <bindir>/test_runner.log; returns its exit status. */
static int run_script(const char *script, const char *arg, int64_t timeout_ms) {
    char path[1100], log[1100];
    snprintf(path, sizeof path, "%s/scripts/%s", root, script);
    snprintf(log, sizeof log, "%s/test_runner.log", bindir);
    /* Also called after the suite (clean-up): no ck_assert here. */
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        char v[64];
        /* Not the servers of the other tests: the scripts derive every URL
         * from the ports below. */
        unsetenv("NATS_URL");
        unsetenv("NATS_SYS_URL");
        unsetenv("DATABASE_URL");
        unsetenv("REDIS_URL");
        unsetenv("INFLUX_URL");
        unsetenv("INFLUX_DB");
        unsetenv("TB_INFLUX");
        /* A PostgreSQL folder set for the suite's servers would make the
         * runner's scripts/down stop those (the cluster is found there
         * before the data folder). */
        unsetenv("TB_PG_DIR");
        unsetenv("TB_PG_BASE");
        setenv("TB_DATA_DIR", datadir, 1);
        setenv("TB_BUILD_DIR", bindir, 1);
        snprintf(v, sizeof v, "%d", port_nats);
        setenv("TB_NATS_PORT", v, 1);
        snprintf(v, sizeof v, "%d", port_mon);
        setenv("TB_NATS_MONITOR_PORT", v, 1);
        snprintf(v, sizeof v, "%d", port_pg);
        setenv("TB_PG_PORT", v, 1);
        snprintf(v, sizeof v, "%d", port_redis);
        setenv("TB_REDIS_PORT", v, 1);
        snprintf(v, sizeof v, "%d", port_influx);
        setenv("TB_INFLUX_PORT", v, 1);
        snprintf(v, sizeof v, "%d", port_influx_rpc);
        setenv("TB_INFLUX_RPC_PORT", v, 1);
        snprintf(v, sizeof v, "%d", port_gw);
        setenv("GATEWAY_PORT", v, 1);
        setenv("TB_UP_TIMEOUT", "180", 1);
        setenv("NO_COLOR", "1", 1);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        fprintf(stderr, "==== test_runner: scripts/%s %s\n", script, arg ? arg : "");
        execl("/bin/bash", "bash", path, arg, (char *)NULL);
        _exit(127);
    }
    return tb_test_wait_exit(pid, timeout_ms);
}

/* ------------------------------------------------------------- files -- */

/* Whole file as a malloc'd string, NULL when it cannot be opened. Reads
 * until EOF: /proc files report a size of 0. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    if (f == NULL) return NULL;
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    size_t r;
    while ((r = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += r;
        if (cap - len - 1 == 0) {
            cap *= 2;
            s = realloc(s, cap);
            ck_assert_ptr_nonnull(s);
        }
    }
    s[len] = '\0';
    fclose(f);
    return s;
}

/* The value of NAME= in demo.env into out ("" when absent). */
static void demo_value(const char *name, char *out, size_t cap) {
    char path[600];
    snprintf(path, sizeof path, "%s/demo.env", datadir);
    char *text = slurp(path);
    ck_assert_msg(text != NULL, "no %s", path);
    out[0] = '\0';
    size_t nl = strlen(name);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, name, nl) == 0 && line[nl] == '=')
            snprintf(out, cap, "%s", line + nl + 1);
    }
    free(text);
}

/* First number in a pid file ("PID [BINARY]"), 0 when absent. */
static pid_t pidfile(const char *path) {
    char *text = slurp(path);
    if (text == NULL) return 0;
    pid_t p = (pid_t)atol(text);
    free(text);
    return p;
}

/* Start time of a process (field 22 of /proc/<pid>/stat, clock ticks since
 * boot), 0 when it does not run or is a zombie. Together with the pid it
 * names one process even if the pid is reused later. */
static unsigned long long started_at(pid_t p) {
    if (p <= 0 || kill(p, 0) != 0) return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)p);
    char *st = slurp(path);
    if (st == NULL) return 0;
    unsigned long long t = 0;
    const char *q = strrchr(st, ')'); /* the command name may hold spaces */
    if (q && q[1] == ' ' && q[2] != 'Z') {
        /* After ") " come fields 3..: state is 3, starttime is 22. */
        q += 2;
        for (int field = 3; field < 22 && q; field++) {
            q = strchr(q, ' ');
            if (q) q++;
        }
        if (q) t = strtoull(q, NULL, 10);
    }
    free(st);
    return t;
}

static bool alive(pid_t p) {
    return started_at(p) != 0;
}

/* -------------------------------------------------------------- HTTP -- */

typedef struct http_buf {
    char *data;
    size_t len;
} http_buf;

static size_t on_body(char *p, size_t size, size_t n, void *arg) {
    http_buf *b = arg;
    char *d = realloc(b->data, b->len + size * n + 1);
    if (d == NULL) return 0;
    memcpy(d + b->len, p, size * n);
    b->len += size * n;
    d[b->len] = '\0';
    b->data = d;
    return size * n;
}

/* method path [body] [key] -> HTTP status (0: no answer); *resp (may be
 * NULL) gets the parsed JSON body or NULL. */
static long http(const char *method, const char *path, const char *body, const char *key,
                 json_t **resp) {
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    char url[256], auth[200];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port_gw, path);
    struct curl_slist *h = NULL;
    if (key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        h = curl_slist_append(h, auth);
    }
    if (body) h = curl_slist_append(h, "Content-Type: application/json");
    http_buf b = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (resp) *resp = b.data ? json_loads(b.data, 0, NULL) : NULL;
    free(b.data);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static bool health_all_ok(void *arg) {
    (void)arg;
    return http("GET", "/health/all", NULL, NULL, NULL) == 200;
}

/* ------------------------------------------------------------- tests -- */

static bool up_done;

static void show_log_tail(void) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "tail -n 60 '%s/test_runner.log' >&2", bindir);
    if (system(cmd) != 0) fprintf(stderr, "(no log)\n");
}

START_TEST(up_health_and_demo) {
    int rc = run_script("up", "--no-build", UP_TIMEOUT_MS);
    if (rc != 0) show_log_tail();
    ck_assert_msg(rc == 0, "scripts/up exited with %d (log: %s/test_runner.log)", rc, bindir);
    up_done = true;
    ck_assert_msg(tb_test_wait(health_all_ok, NULL, 30000), "/health/all is not 200");
    demo_value("TRADEBUS_ADMIN_KEY", admin_key, sizeof admin_key);
    demo_value("TRADEBUS_TRADER_KEY", trader_key, sizeof trader_key);
    demo_value("TRADEBUS_ACCOUNT", account, sizeof account);
    ck_assert_msg(admin_key[0] && trader_key[0] && account[0], "demo.env is incomplete");
    ck_assert_str_ne(admin_key, trader_key);
    char path[128];
    snprintf(path, sizeof path, "/v1/accounts/%s", account);
    json_t *acct = NULL;
    ck_assert_int_eq(http("GET", path, NULL, trader_key, &acct), 200);
    json_decref(acct);
    /* The trader key is scoped to its account. */
    ck_assert_int_ne(http("GET", "/v1/accounts/SOMEONE_ELSE", NULL, trader_key, NULL), 200);
    json_t *strategy = NULL;
    ck_assert_int_eq(http("GET", "/v1/strategies/demo-sma", NULL, admin_key, &strategy), 200);
    ck_assert_msg(json_is_true(json_object_get(strategy, "enabled")), "demo strategy disabled");
    json_decref(strategy);
}
END_TEST

START_TEST(up_twice_is_harmless) {
    ck_assert_msg(up_done, "scripts/up did not succeed");
    char sup_path[600];
    snprintf(sup_path, sizeof sup_path, "%s/run/supervisor.pid", datadir);
    pid_t sup = pidfile(sup_path);
    ck_assert(alive(sup));
    int rc = run_script("up", "--no-build", UP_TIMEOUT_MS);
    if (rc != 0) show_log_tail();
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(pidfile(sup_path), sup);
    char again[128];
    demo_value("TRADEBUS_ADMIN_KEY", again, sizeof again);
    ck_assert_str_eq(again, admin_key);
    demo_value("TRADEBUS_TRADER_KEY", again, sizeof again);
    ck_assert_str_eq(again, trader_key);
}
END_TEST

typedef struct restart_wait {
    const char *pidpath;
    pid_t old;
} restart_wait;

static bool restarted(void *arg) {
    restart_wait *w = arg;
    pid_t now = pidfile(w->pidpath);
    return now > 0 && now != w->old && alive(now);
}

static bool service_healthy(void *arg) {
    char path[128];
    snprintf(path, sizeof path, "/health/%s", (const char *)arg);
    return http("GET", path, NULL, NULL, NULL) == 200 && health_all_ok(NULL);
}

START_TEST(kill9_is_restarted) {
    ck_assert_msg(up_done, "scripts/up did not succeed");
    const char *victim = "trading-execution";
    char pidpath[600], counter[600];
    snprintf(pidpath, sizeof pidpath, "%s/run/services/%s-1.pid", datadir, victim);
    snprintf(counter, sizeof counter, "%s/run/restarts/%s-1", datadir, victim);
    pid_t old = pidfile(pidpath);
    ck_assert_msg(alive(old), "%s is not running", victim);
    char *c0 = slurp(counter);
    long before = c0 ? atol(c0) : 0;
    free(c0);
    int64_t t0 = bus_mono_ns();
    ck_assert_int_eq(kill(old, SIGKILL), 0);
    restart_wait w = {pidpath, old};
    ck_assert_msg(tb_test_wait(restarted, &w, 15000), "%s was not restarted", victim);
    ck_assert_msg(tb_test_wait(service_healthy, (void *)victim, 20000), "%s not healthy again",
                  victim);
    double secs = (double)(bus_mono_ns() - t0) / 1e9;
    char *c1 = slurp(counter);
    ck_assert_ptr_nonnull(c1);
    ck_assert_int_eq(atol(c1), before + 1);
    free(c1);
    fprintf(stderr, "test_runner: %s back and healthy %.1f s after kill -9\n", victim, secs);
    ck_assert_msg(secs < 30, "took %.1f s", secs);
}
END_TEST

typedef struct watch {
    const char *path;
    const char *needle;
} watch;

static bool file_has(void *arg) {
    watch *w = arg;
    char *s = slurp(w->path);
    bool found = s && strstr(s, w->needle);
    free(s);
    return found;
}

START_TEST(order_fill_on_tap) {
    ck_assert_msg(up_done, "scripts/up did not succeed");
    char tap[1100], out[1100], err[1100], subject[128];
    snprintf(tap, sizeof tap, "%s/tools/tap/tb-tap", bindir);
    snprintf(out, sizeof out, "%s/test_runner-tap.out", bindir);
    snprintf(err, sizeof err, "%s/test_runner-tap.err", bindir);
    /* The demo strategy trades DAX for this account; the order goes to SMI
     * so that the first fill of this subject is ours. */
    snprintf(subject, sizeof subject, "fills.%s.SMI", account);
    unlink(out);
    unlink(err);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setenv("NATS_URL", nats_url, 1);
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0) _exit(126);
        dup2(o, STDOUT_FILENO);
        dup2(e, STDERR_FILENO);
        execl(tap, tap, "--count", "1", "--timeout", "60", subject, (char *)NULL);
        _exit(127);
    }
    watch w = {err, "listening on"};
    ck_assert_msg(tb_test_wait(file_has, &w, 15000), "tb-tap did not start");
    /* The live stream, subscribed before the order: the trader key in
     * ?api_key= as a browser would send it. */
    char wspath[256], wserr[256], cmd[256];
    snprintf(wspath, sizeof wspath, "/v1/stream?api_key=%s", trader_key);
    ws_client *ws = ws_open(port_gw, wspath, true, wserr, sizeof wserr);
    ck_assert_msg(ws != NULL, "GET /v1/stream: %s", wserr);
    snprintf(cmd, sizeof cmd, "{\"op\":\"subscribe\",\"topic\":\"fills\",\"account\":\"%s\"}",
             account);
    ws_send(ws, cmd);
    json_t *sub = ws_next(ws, 10000);
    ck_assert_msg(sub && ws_type_is(sub, "subscribed"), "no subscribed reply on the stream");

    char coid[64], body[512];
    tb_test_unique(coid, sizeof coid, "runner");
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"symbol\":\"SMI\",\"side\":\"buy\",\"type\":\"market\","
             "\"qty\":\"1\",\"client_order_id\":\"%s\"}",
             account, coid);
    json_t *order = NULL;
    long st = http("POST", "/v1/orders", body, trader_key, &order);
    ck_assert_msg(st == 200 || st == 201, "POST /v1/orders: HTTP %ld", st);
    const char *order_id = json_string_value(json_object_get(order, "order_id"));
    ck_assert_ptr_nonnull(order_id);

    int rc = tb_test_wait_exit(pid, 70000);
    char *o = slurp(out), *e = slurp(err);
    ck_assert_msg(rc == 0, "tb-tap exit %d: %s", rc, e ? e : "");
    json_t *line = o ? json_loads(o, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    ck_assert_msg(line != NULL, "tb-tap printed no JSON line: %s", o ? o : "");
    json_t *data = json_object_get(line, "data");
    ck_assert_str_eq(json_string_value(json_object_get(line, "schema")), "fill");
    ck_assert_str_eq(json_string_value(json_object_get(data, "order_id")), order_id);
    ck_assert_str_eq(json_string_value(json_object_get(data, "account")), account);
    ck_assert_str_eq(json_string_value(json_object_get(data, "side")), "buy");
    ck_assert_str_eq(json_string_value(json_object_get(data, "qty")), "1");
    ck_assert_msg(strstr(e, "1 message") != NULL, "tb-tap stderr: %s", e);
    /* The same fill on the WebSocket (the demo strategy's DAX fills of the
     * account may come first). */
    json_t *ev = NULL;
    for (json_t *f; ev == NULL && (f = ws_next_type(ws, "event", 60000)) != NULL;) {
        const char *oid =
            json_string_value(json_object_get(json_object_get(f, "data"), "order_id"));
        if (oid && strcmp(oid, order_id) == 0) ev = f;
    }
    ck_assert_msg(ev != NULL, "the fill of %s never came on /v1/stream", order_id);
    json_t *wdata = json_object_get(ev, "data");
    ck_assert_str_eq(json_string_value(json_object_get(ev, "topic")), "fills");
    ck_assert_str_eq(json_string_value(json_object_get(ev, "schema")), "fill");
    ck_assert_str_eq(json_string_value(json_object_get(ev, "subject")), subject);
    ck_assert_str_eq(json_string_value(json_object_get(wdata, "account")), account);
    ck_assert_str_eq(json_string_value(json_object_get(wdata, "side")), "buy");
    ck_assert_str_eq(json_string_value(json_object_get(wdata, "qty")), "1");
    /* tb-tap and the stream saw the same fill */
    ck_assert_str_eq(json_string_value(json_object_get(wdata, "fill_id")),
                     json_string_value(json_object_get(data, "fill_id")));
    ck_assert_str_eq(json_string_value(json_object_get(wdata, "price")),
                     json_string_value(json_object_get(data, "price")));
    ws_close(ws);
    json_decref(line);
    json_decref(order);
    free(o);
    free(e);
}
END_TEST

/* Every running process the runner's pid files name, to check after down. */
typedef struct proc_id {
    pid_t pid;
    unsigned long long start;
} proc_id;

static int collect_pids(proc_id *out, int cap) {
    char dirpath[600], path[1200];
    int n = 0;
    snprintf(dirpath, sizeof dirpath, "%s/run/services", datadir);
    static const char *const services[] = {
        "market-data",     "historical-data",   "signal-processing",
        "risk-management", "trading-execution", "position-management",
        "analytics",       "notifications",     "gateway"};
    for (size_t i = 0; i < sizeof services / sizeof services[0] && n < cap; i++) {
        snprintf(path, sizeof path, "%s/%s-1.pid", dirpath, services[i]);
        out[n].pid = pidfile(path);
        if ((out[n].start = started_at(out[n].pid)) != 0) n++;
    }
    const char *others[] = {"run/supervisor.pid", "nats/nats-server.pid", "redis/redis.pid",
                            "pg/data/postmaster.pid"};
    for (size_t i = 0; i < 4 && n < cap; i++) {
        snprintf(path, sizeof path, "%s/%s", datadir, others[i]);
        out[n].pid = pidfile(path);
        if ((out[n].start = started_at(out[n].pid)) != 0) n++;
    }
    return n;
}

START_TEST(down_leaves_nothing) {
    ck_assert_msg(up_done, "scripts/up did not succeed");
    proc_id pids[32];
    int n = collect_pids(pids, 32);
    ck_assert_int_ge(n, 5); /* supervisor, servers and at least one service */
    int rc = run_script("down", NULL, 180000);
    if (rc != 0) show_log_tail();
    ck_assert_int_eq(rc, 0);
    up_done = false;
    for (int i = 0; i < n; i++)
        ck_assert_msg(started_at(pids[i].pid) != pids[i].start, "pid %d still runs",
                      (int)pids[i].pid);
    ck_assert_int_eq(http("GET", "/health", NULL, NULL, NULL), 0);
}
END_TEST

int main(void) {
    const char *src = getenv("TB_SOURCE_DIR"), *bin = getenv("TB_BINARY_DIR");
    snprintf(root, sizeof root, "%s", src ? src : "..");
    snprintf(bindir, sizeof bindir, "%s", bin ? bin : ".");
    /* One data folder per build folder, reused between runs. */
    unsigned h = 5381;
    for (const char *p = bindir; *p; p++) h = h * 33u + (unsigned char)*p;
    snprintf(datadir, sizeof datadir, "/var/tmp/tb-test-runner-%u-%08x", (unsigned)getuid(), h);
    snprintf(logdir, sizeof logdir, "%s/logs", datadir);
    port_nats = free_port();
    port_mon = free_port();
    port_pg = free_port();
    port_redis = free_port();
    port_influx = free_port();
    port_influx_rpc = free_port();
    port_gw = free_port();
    if (!port_nats || !port_mon || !port_pg || !port_redis || !port_gw || !port_influx ||
        !port_influx_rpc) {
        fprintf(stderr, "test_runner: no free TCP ports: %s\n", strerror(errno));
        return EXIT_FAILURE;
    }
    snprintf(nats_url, sizeof nats_url, "nats://tradebus:tradebus-local@127.0.0.1:%d", port_nats);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    mg_init_library(0);
    /* A run that crashed may have left servers of this data folder running
     * on other ports: stop them first. */
    if (run_script("down", NULL, 180000) != 0)
        fprintf(stderr, "test_runner: clean-up scripts/down failed (see the log)\n");

    Suite *s = suite_create("runner");
    TCase *tc = tcase_create("up_down");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, up_health_and_demo);
    tcase_add_test(tc, up_twice_is_harmless);
    tcase_add_test(tc, kill9_is_restarted);
    tcase_add_test(tc, order_fill_on_tap);
    tcase_add_test(tc, down_leaves_nothing);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    /* Whatever failed, leave nothing running. */
    if (up_done || failed) {
        int rc = run_script("down", NULL, 180000);
        if (rc != 0) fprintf(stderr, "test_runner: scripts/down exited with %d\n", rc);
    }
    fprintf(stderr, "test_runner: data %s, logs %s, script output %s/test_runner.log\n", datadir,
            logdir, bindir);
    mg_exit_library();
    curl_global_cleanup();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
