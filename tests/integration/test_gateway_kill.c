/* The gateway killed with -9 under order load, with real services behind
 * it: market-data (sim), risk-management, trading-execution and
 * position-management.
 *
 * CLIENTS threads post N_ORDERS market orders over HTTP, each with its own
 * client_order_id. When 40 % were answered, tb-gateway is killed with -9 and
 * started again on the same port. A client whose request failed (connection
 * refused or cut, or a 502/503/504) posts the same body again, as a REST
 * client that cannot know whether its order was taken would. Afterwards:
 *   - every client_order_id maps to exactly one order, and it is the order
 *     the client's successful answer named;
 *   - posting every order again answers the original order (same order_id,
 *     200) and creates nothing;
 *   - no order is half-applied: every order is terminal, every fill is
 *     applied once and the positions and cash are exact (tb_invariants.h). */
#include <libpq-fe.h>

#include "test_gateway_fixture.h"

#include "tb_invariants.h"
#include "tb_services.h"

#define N_ORDERS 300
#define CLIENTS  4
#define SEC      INT64_C(1000000000)

static bus_config cfg;
static bus_conn *conn;
static PGconn *pg;
static gw_proc gw;
static char admin[64];
static char log_path[512];
static pid_t pids[4];

static void setup(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tb_test_config(&cfg, "gateway-kill-test");
    conn = tb_test_conn(&cfg);
    pg = PQconnectdb(cfg.database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    const char *bd = getenv("TB_BINARY_DIR");
    snprintf(log_path, sizeof log_path, "%s/test_gateway_kill.log", bd ? bd : "/tmp");
}

static void teardown(void) {
    if (gw.pid > 0 && kill(gw.pid, 0) == 0) {
        kill(gw.pid, SIGKILL);
        (void)tb_test_wait_exit(gw.pid, 5000);
    }
    gw.pid = 0;
    for (int i = 0; i < 4; i++)
        if (pids[i] > 0 && kill(pids[i], 0) == 0) {
            kill(pids[i], SIGKILL);
            (void)tb_test_wait_exit(pids[i], 5000);
        }
    memset(pids, 0, sizeof pids);
    PQfinish(pg);
    bus_conn_close(conn);
    curl_global_cleanup();
}

/* tb-gateway again on the port it had (the clients keep their URL). */
static void gw_restart(gw_proc *g) {
    char bin[512], port_env[64];
    gw_binary(bin, sizeof bin);
    snprintf(port_env, sizeof port_env, "GATEWAY_PORT=%d", g->port);
    char *envs[] = {port_env, "GATEWAY_THREADS=64", "GATEWAY_RATE_LIMIT=100000", NULL};
    g->pid = spawn_clean(bin, envs, g->log);
}

static long long sql_count(const char *sql, const char *arg) {
    const char *p[1] = {arg};
    PGresult *r = PQexecParams(pg, sql, 1, NULL, p, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(pg));
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* ----------------------------------------------------------- clients -- */

typedef struct order_post {
    long status; /* 0: no HTTP answer (connection refused, cut, timed out) */
    char order_id[TB_ID_CAP];
    char code[64];
} order_post;

/* POST /v1/orders from a client thread: never asserts. */
static void post_order(const char *body, order_post *out) {
    memset(out, 0, sizeof *out);
    http_resp r = {0};
    CURL *c = curl_easy_init();
    if (c == NULL) return;
    char url[128], auth[128];
    snprintf(url, sizeof url, "%s/v1/orders", gw.base);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", admin);
    struct curl_slist *hl = curl_slist_append(NULL, auth);
    hl = curl_slist_append(hl, "Content-Type: application/json");
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    json_t *j = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(j, "order_id"));
    const char *code = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    snprintf(out->order_id, sizeof out->order_id, "%s", id ? id : "");
    snprintf(out->code, sizeof out->code, "%s", code ? code : "");
    json_decref(j);
    free(r.body);
}

static const char *acct_id, *sym_id;

static void order_body(int i, char *out, size_t cap) {
    snprintf(out, cap,
             "{\"account\":\"%s\",\"symbol\":\"%s\",\"side\":\"%s\",\"type\":\"market\","
             "\"tif\":\"gtc\",\"qty\":\"%d\",\"client_order_id\":\"g%d\"}",
             acct_id, sym_id, i % 3 == 2 ? "sell" : "buy", 1 + i % 4, i);
}

typedef struct client {
    int first;
    int answered, retries;
    char order_ids[N_ORDERS][TB_ID_CAP]; /* by order index, from the answer */
    char error[300];
    _Atomic int *progress;
} client;

static void *client_loop(void *arg) {
    client *cl = arg;
    for (int i = cl->first; i < N_ORDERS && cl->error[0] == '\0'; i += CLIENTS) {
        char body[512];
        order_body(i, body, sizeof body);
        order_post p;
        int64_t end = bus_mono_ns() + 45 * SEC;
        for (;;) {
            post_order(body, &p);
            bool retry = p.status == 0 || p.status == 502 || p.status == 503 || p.status == 504;
            if (!retry || bus_mono_ns() > end) break;
            cl->retries++;
            usleep(50000);
        }
        if (p.status == 200 && p.order_id[0]) {
            snprintf(cl->order_ids[i], TB_ID_CAP, "%s", p.order_id);
            cl->answered++;
        } else {
            snprintf(cl->error, sizeof cl->error, "order g%d: HTTP %ld %s", i, p.status, p.code);
        }
        (*cl->progress)++;
    }
    return NULL;
}

/* ------------------------------------------------------------ checks -- */

static const char *quiet_acct;
static bool chain_quiet(void *arg) {
    (void)arg;
    long long open = sql_count("SELECT count(*) FROM orders WHERE account = $1 AND status NOT IN "
                               "('filled','canceled','rejected','expired')",
                               quiet_acct);
    long long fills = sql_count("SELECT count(*) FROM fills WHERE account = $1", quiet_acct);
    long long applied = sql_count("SELECT count(*) FROM applied_fills a JOIN fills f "
                                  "USING (fill_id) WHERE f.account = $1",
                                  quiet_acct);
    return open == 0 && fills > 0 && applied == fills;
}

START_TEST(kill9_under_order_load_half_applies_nothing) {
    char acct[48], sym[64], md_symbols[128], md_source[64];
    tb_test_unique(acct, sizeof acct, "GK");
    snprintf(sym, sizeof sym, "%sX", acct);
    acct_id = acct;
    sym_id = sym;
    snprintf(md_symbols, sizeof md_symbols, "MD_SYMBOLS=%s:100", sym);
    snprintf(md_source, sizeof md_source, "MD_SOURCE=%s", acct);
    char bin[512];
    tb_test_bin(bin, sizeof bin, "actors/market-data/tb-market-data");
    char *md_argv[] = {bin, NULL};
    char *md_env[] = {"INSTANCE_ID=gk-md", "LOG_LEVEL=warn", md_symbols,
                      md_source,           "MD_RATE=100",    NULL};
    pids[0] = tb_test_spawn(md_argv, md_env, log_path);
    /* A position-management answer late on a starved machine (the
     * sanitizer pass beside this one) must not turn an order into a
     * fail-closed refusal: the test is about the gateway's death. */
    pids[1] = tb_service_spawn("risk-management", "gk-risk", "RISK_DEPENDENCY_TIMEOUT_MS=10000",
                               log_path);
    pids[2] = tb_service_spawn("trading-execution", "gk-exec", NULL, log_path);
    pids[3] = tb_service_spawn("position-management", "gk-pos", NULL, log_path);
    const char *names[] = {"market-data", "risk-management", "trading-execution",
                           "position-management"};
    const char *ids[] = {"gk-md", "gk-risk", "gk-exec", "gk-pos"};
    for (int i = 0; i < 4; i++)
        ck_assert_msg(tb_service_wait(conn, names[i], ids[i], 1, 30000), "%s is not up (see %s)",
                      names[i], log_path);
    static const char *const genv[] = {"GATEWAY_RATE_LIMIT=100000", NULL};
    gw_start(&gw, "kill", genv);
    gw_admin_key(admin, sizeof admin);

    char body[512], path[128];
    http_resp r;
    snprintf(body, sizeof body, "{\"account\":\"%s\",\"initial_cash\":\"10000000\"}", acct);
    gw_http(&r, &gw, "POST", "/v1/accounts", admin, body);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    http_free(&r);
    snprintf(path, sizeof path, "/v1/risk/limits/%s", acct);
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"max_orders_per_sec\":1000000,\"max_open_orders\":1000000,"
             "\"max_position_qty\":\"1000000\",\"max_gross_exposure\":\"1000000000\","
             "\"daily_loss_limit\":\"1000000000\"}",
             acct);
    gw_http(&r, &gw, "PUT", path, admin, body);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    http_free(&r);
    snprintf(path, sizeof path, "/v1/market/quotes/%s", sym);
    bool quoted = false;
    for (int i = 0; i < 100 && !quoted; i++) {
        gw_http(&r, &gw, "GET", path, admin, NULL);
        quoted = r.status == 200;
        http_free(&r);
        if (!quoted) usleep(100000);
    }
    ck_assert_msg(quoted, "no quote of %s (see %s)", sym, log_path);

    _Atomic int progress = 0;
    static client cls[CLIENTS];
    pthread_t th[CLIENTS];
    for (int k = 0; k < CLIENTS; k++) {
        memset(&cls[k], 0, sizeof cls[k]);
        cls[k].first = k;
        cls[k].progress = &progress;
        ck_assert_int_eq(pthread_create(&th[k], NULL, client_loop, &cls[k]), 0);
    }
    /* The clients use this frame: they are joined before any assert. */
    int64_t end = bus_mono_ns() + 60 * SEC;
    while (progress < N_ORDERS * 4 / 10 && bus_mono_ns() < end) usleep(1000);
    bool at40 = progress >= N_ORDERS * 4 / 10;
    int killed = 0;
    if (at40) {
        kill(gw.pid, SIGKILL);
        killed = tb_test_wait_exit(gw.pid, 5000);
        usleep(300000); /* clients meet a closed port meanwhile */
        gw_restart(&gw);
    }
    for (int k = 0; k < CLIENTS; k++) pthread_join(th[k], NULL);
    /* A client stops at its first refused order: say why. */
    const char *why = "";
    for (int k = 0; k < CLIENTS && !why[0]; k++) why = cls[k].error;
    ck_assert_msg(at40, "40 %% of %d orders not answered within 60 s%s%s (log %s)", N_ORDERS,
                  why[0] ? "; first client error: " : "", why, log_path);
    ck_assert_int_eq(killed, 128 + SIGKILL);
    ck_assert_msg(tb_test_wait(gw_answers, &gw, 30000), "tb-gateway did not come back (log %s)",
                  gw.log);
    int answered = 0, retries = 0;
    for (int k = 0; k < CLIENTS; k++) {
        ck_assert_msg(cls[k].error[0] == '\0', "%s (log %s)", cls[k].error, gw.log);
        answered += cls[k].answered;
        retries += cls[k].retries;
    }
    ck_assert_int_eq(answered, N_ORDERS);
    ck_assert_msg(retries > 0, "no client met the kill: nothing was tested");

    /* One order per client_order_id, the one its client was told. */
    ck_assert_int_eq(sql_count("SELECT count(*) FROM orders WHERE account = $1", acct), N_ORDERS);
    ck_assert_int_eq(
        sql_count("SELECT count(DISTINCT client_order_id) FROM orders WHERE account = $1", acct),
        N_ORDERS);
    PGresult *res =
        PQexecParams(pg,
                     "SELECT substr(client_order_id, 2)::int, order_id FROM orders WHERE "
                     "account = $1",
                     1, NULL, (const char *[]){acct}, NULL, NULL, 0);
    ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
    ck_assert_int_eq(PQntuples(res), N_ORDERS);
    for (int row = 0; row < N_ORDERS; row++) {
        int i = atoi(PQgetvalue(res, row, 0));
        ck_assert_int_ge(i, 0);
        ck_assert_int_lt(i, N_ORDERS);
        ck_assert_msg(strcmp(cls[i % CLIENTS].order_ids[i], PQgetvalue(res, row, 1)) == 0,
                      "g%d: the client was told %s, the order is %s", i,
                      cls[i % CLIENTS].order_ids[i], PQgetvalue(res, row, 1));
    }
    PQclear(res);

    /* A retry of any of them answers the original and creates nothing. */
    for (int i = 0; i < N_ORDERS; i++) {
        order_post p;
        order_body(i, body, sizeof body);
        post_order(body, &p);
        ck_assert_msg(p.status == 200, "retry of g%d: HTTP %ld %s", i, p.status, p.code);
        ck_assert_str_eq(p.order_id, cls[i % CLIENTS].order_ids[i]);
    }
    ck_assert_int_eq(sql_count("SELECT count(*) FROM orders WHERE account = $1", acct), N_ORDERS);

    /* Nothing half-applied: all terminal, every fill booked, exact. */
    quiet_acct = acct;
    ck_assert_msg(tb_test_wait(chain_quiet, NULL, 30000), "orders or fills not settled (see %s)",
                  log_path);
    char msg[512];
    ck_assert_msg(tb_check_exactness(pg, acct, msg, sizeof msg), "exactness: %s", msg);
    printf("gateway kill: %d orders over HTTP, %d retries across the kill, every "
           "client_order_id one order, retries answer the original; %s\n",
           N_ORDERS, retries, msg);
    gw_stop(&gw);
    /* a clean exit of every service (under ASan: without leaks) */
    for (int i = 0; i < 4; i++) {
        if (pids[i] <= 0) continue;
        int rc = tb_test_stop(pids[i], 20000);
        pids[i] = 0;
        ck_assert_msg(rc == 0, "a service exited with %d on SIGTERM (see %s)", rc, log_path);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("gateway-kill");
    TCase *tc = tcase_create("services");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, kill9_under_order_load_half_applies_nothing);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
