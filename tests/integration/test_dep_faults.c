/* Dependency faults under load: the real services and gateway run while
 * clients place market orders through POST /v1/orders and market-data
 * replays a tick file, and the servers go away one after the other: NATS,
 * then PostgreSQL, then Redis are each stopped and started again
 * (scripts/servers), then each is killed with -9 (the postmaster with its
 * backends) and started again. Throughout and afterwards:
 *   - clients only ever see 2xx, 4xx, or 503 with Retry-After (never a 500,
 *     a 504 or a broken connection);
 *   - while a server is down GET /health/all says "degraded", and "ok"
 *     again once it is back; orders are accepted again after each fault;
 *   - no service process exits: each reconnects and carries on (a process
 *     that exited is what the supervisor would have restarted and counted);
 *   - every accepted order ends terminal, each order's fills sum to its
 *     filled_qty, positions and cash are exact (tb_check_exactness);
 *   - the replay finishes and no symbol's 1 s bars count more ticks than
 *     the file holds (no tick consumer counted a tick twice).
 *
 * The test stops the servers it runs against: it belongs to the serial
 * integration phase (scripts/test), and starts every server again before it
 * ends, also when it fails. */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "tb_invariants.h"
#include "test_gateway_fixture.h"

#define REPLAY_TICKS  12000 /* two symbols, one tick a second each in turn */
#define REPLAY_SPEED  200   /* 60 s of replay at full pace: it runs during the faults */
#define SUBMITTERS    3
#define MAX_ACCEPTED  20000
#define DOWN_MS       20000 /* a stopped server shows as degraded within this */
#define BACK_MS       60000 /* a restarted one: health ok and an order accepted */
#define SETTLE_MS     90000 /* after the faults: every order terminal, replay done */
#define TERMINAL_SQL  "('filled','canceled','rejected','expired')"
#define REQUIRED_SVCS "market-data,risk-management,trading-execution,position-management"

static bus_config cfg;
static bus_conn *conn;
static gw_proc gw;
static char tag[40], account_id[48], osym[64], logdir[512], csv[700], trader[64];
static long long replay_per_symbol[2];

typedef struct child {
    const char *service;
    pid_t pid;
    char log[700];
} child;
static child kids[5] = {{"market-data", 0, ""},
                        {"risk-management", 0, ""},
                        {"trading-execution", 0, ""},
                        {"position-management", 0, ""},
                        {"historical-data", 0, ""}};
#define NKIDS ((int)(sizeof kids / sizeof kids[0]))

/* ---- what the submitters saw (each thread its own slot) ---- */

typedef struct submitter {
    pthread_t th;
    int id;
    long ok, client_err, unavailable, bad;
    char first_bad[400];
    char (*accepted)[TB_ID_CAP]; /* order ids answered 2xx */
    long naccepted;
} submitter;

static submitter subs[SUBMITTERS];
static atomic_bool stop_load;
static atomic_long accepted_total;

static size_t sink(char *data, size_t size, size_t n, void *arg) {
    http_resp *r = arg;
    size_t len = size * n;
    char *b = realloc(r->body, r->len + len + 1);
    if (b == NULL) return 0;
    memcpy(b + r->len, data, len);
    r->len += len;
    b[r->len] = '\0';
    r->body = b;
    return len;
}

static size_t hsink(char *data, size_t size, size_t n, void *arg) {
    http_resp *r = arg;
    size_t len = size * n;
    char *b = realloc(r->headers, r->hlen + len + 1);
    if (b == NULL) return 0;
    memcpy(b + r->hlen, data, len);
    r->hlen += len;
    b[r->hlen] = '\0';
    r->headers = b;
    return len;
}

/* One order; classifies the answer. Off the main thread: records only. */
static void submit_one(submitter *s, CURL *c, struct curl_slist *hl, long k) {
    char body[400];
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"symbol\":\"%s\",\"side\":\"%s\",\"type\":\"market\","
             "\"qty\":\"%ld\",\"client_order_id\":\"s%d-%ld\"}",
             account_id, osym, k % 2 ? "sell" : "buy", 1 + k % 3, s->id, k);
    http_resp r = {0};
    char url[128];
    snprintf(url, sizeof url, "%s/v1/orders", gw.base);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, hsink);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    char retry[16];
    if (rc == CURLE_OK && r.status >= 200 && r.status < 300) {
        json_t *j = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
        const char *id = json_string_value(json_object_get(j, "order_id"));
        if (id && s->naccepted < MAX_ACCEPTED) {
            snprintf(s->accepted[s->naccepted++], TB_ID_CAP, "%s", id);
            s->ok++;
            atomic_fetch_add(&accepted_total, 1);
        } else if (s->bad++ == 0) {
            snprintf(s->first_bad, sizeof s->first_bad, "%ld without an order id: %.300s", r.status,
                     r.body ? r.body : "");
        }
        json_decref(j);
    } else if (rc == CURLE_OK && r.status >= 400 && r.status < 500) {
        s->client_err++;
    } else if (rc == CURLE_OK && r.status == 503 &&
               http_header(&r, "Retry-After", retry, sizeof retry)) {
        s->unavailable++;
    } else if (s->bad++ == 0) {
        snprintf(s->first_bad, sizeof s->first_bad, "%s: %ld %.300s",
                 rc == CURLE_OK ? "answer" : curl_easy_strerror(rc), r.status,
                 r.body ? r.body : "");
    }
    free(r.body);
    free(r.headers);
}

static void *submit_loop(void *arg) {
    submitter *s = arg;
    CURL *c = curl_easy_init();
    char auth[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", trader);
    struct curl_slist *hl = curl_slist_append(NULL, auth);
    hl = curl_slist_append(hl, "Content-Type: application/json");
    hl = curl_slist_append(hl, "Expect:");
    TB_BG_CHECK(c != NULL && hl != NULL, "submitter %d: no curl handle", s->id);
    for (long k = 0; c && hl && !atomic_load(&stop_load); k++) {
        submit_one(s, c, hl, k);
        usleep(20000); /* a steady load, not a flood, on two shared cores */
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return NULL;
}

/* ---- servers ---- */

/* scripts/servers VERB SERVER --no-migrate; its exit status. */
static int servers(const char *verb, const char *server) {
    char log[600];
    snprintf(log, sizeof log, "%s/dep_faults.log", logdir);
    return tb_test_servers(verb, server, log);
}

/* kill -9 of the server (PostgreSQL: the postmaster and its backends, as a
 * crash of the machine's database would leave it); its exit status. */
static int kill9(const char *server) {
    static const char script[] =
        "source \"$TB_SOURCE_DIR/scripts/lib.sh\"; pid=\n"
        "case $1 in\n"
        "nats) pid=$(tb_pidfile_pid \"$TB_DATA/nats/nats-server.pid\") ;;\n"
        "redis) pid=$(tb_pidfile_pid \"$TB_DATA/redis/redis.pid\") ;;\n"
        "postgres) tb_pg_resolve; pid=$(head -1 \"$TB_PG_DATA/postmaster.pid\") ;;\n"
        "esac\n"
        "[[ $pid =~ ^[0-9]+$ ]] || exit 3\n"
        "kids=$(ps -o pid= --ppid \"$pid\")\n"
        "echo \"kill -9 $1: $pid $kids\"; kill -9 \"$pid\" $kids || exit 4\n"
        "for i in $(seq 100); do kill -0 \"$pid\" 2>/dev/null || exit 0; sleep 0.1; done\n"
        "exit 5\n";
    /* the script goes inside single quotes: it holds none */
    char cmd[1800];
    snprintf(cmd, sizeof cmd, "bash -c '%s' kill9 %s >>'%s/dep_faults.log' 2>&1", script, server,
             logdir);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* ---- helpers on the main thread ---- */

static void spawn_kid(child *k, char *const env[]) {
    char bin[512], rel[256];
    snprintf(rel, sizeof rel, "actors/%s/tb-%s", k->service, k->service);
    tb_test_bin(bin, sizeof bin, rel);
    ck_assert_msg(access(bin, X_OK) == 0, "%s is not built", bin);
    snprintf(k->log, sizeof k->log, "%s/dep_faults-%s.log", logdir, k->service);
    char *argv[] = {bin, NULL};
    k->pid = tb_test_spawn(argv, env, k->log);
}

/* Every service process still runs (none exited, none was restarted). */
static void assert_all_running(const char *when) {
    for (int i = 0; i < NKIDS; i++) {
        int st = 0;
        pid_t p = waitpid(kids[i].pid, &st, WNOHANG);
        if (p == kids[i].pid) kids[i].pid = 0; /* reaped: teardown must not signal it */
        ck_assert_msg(p == 0, "%s exited %s (%s %d; log %s)", kids[i].service, when,
                      p > 0 && WIFSIGNALED(st) ? "signal" : "status",
                      p > 0 && WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), kids[i].log);
    }
    int st = 0;
    pid_t p = waitpid(gw.pid, &st, WNOHANG);
    if (p == gw.pid) gw.pid = 0;
    ck_assert_msg(p == 0, "tb-gateway exited %s (log %s)", when, gw.log);
}

/* The first answer of /health/all that was neither 200 nor 503 with
 * Retry-After; asserted by the callers once the servers run again. */
static char health_bad[400];

/* The "status" of GET /health/all into out (the HTTP status returned). */
static long health_all(char *out, size_t cap) {
    http_resp r;
    gw_http(&r, &gw, "GET", "/health/all", NULL, NULL);
    const char *st = json_string_value(json_object_get(r.json, "status"));
    snprintf(out, cap, "%s", st ? st : "");
    char retry[16];
    if (r.status != 200 &&
        !(r.status == 503 && http_header(&r, "Retry-After", retry, sizeof retry) != NULL) &&
        health_bad[0] == '\0')
        snprintf(health_bad, sizeof health_bad, "%ld without Retry-After: %.300s", r.status,
                 r.body ? r.body : "");
    long code = r.status;
    http_free(&r);
    return code;
}

/* Waits until /health/all says want; false after timeout_ms. */
static bool health_becomes(const char *want, int64_t timeout_ms, char *last, size_t cap) {
    int64_t end = bus_mono_ns() + timeout_ms * INT64_C(1000000);
    do {
        (void)health_all(last, cap);
        if (strcmp(last, want) == 0) return true;
        usleep(200000);
    } while (bus_mono_ns() < end);
    return false;
}

static PGconn *db(void) {
    PGconn *c = PQconnectdb(cfg.database_url);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
    return c;
}

static long long count1(PGconn *c, const char *sql, const char *param) {
    const char *p[1] = {param};
    PGresult *r = PQexecParams(c, sql, 1, NULL, p, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* ---- the replay ---- */

static void write_replay(void) {
    FILE *f = fopen(csv, "w");
    ck_assert_msg(f != NULL, "cannot write %s", csv);
    fprintf(f, "ts,symbol,bid,ask,last,size\n");
    long long cents[2] = {1500000, 900000};
    uint64_t x = 5;
    for (int i = 0; i < REPLAY_TICKS; i++) {
        int k = i % 2;
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        cents[k] += (long long)((x >> 33) % 41) - 20;
        long long c = cents[k];
        fprintf(f, "%lld000000000,%sR%c,%lld.%02lld,%lld.%02lld,%lld.%02lld,1\n", 1700000000LL + i,
                tag, 'A' + k, (c - 50) / 100, (c - 50) % 100, (c + 50) / 100, (c + 50) % 100,
                c / 100, c % 100);
        replay_per_symbol[k]++;
    }
    ck_assert_int_eq(fclose(f), 0);
}

/* ---- fixture ---- */

static void setup(void) {
    tb_test_config(&cfg, "dep-faults-test");
    conn = tb_test_conn(&cfg);
    tb_test_unique(tag, sizeof tag, "DF");
    snprintf(account_id, sizeof account_id, "%s", tag);
    snprintf(osym, sizeof osym, "%sX", tag);
    const char *bd = getenv("TB_BINARY_DIR");
    snprintf(logdir, sizeof logdir, "%s", bd ? bd : "/tmp");
    snprintf(csv, sizeof csv, "%s/dep_faults-%s.csv", logdir, tag);
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void teardown(void) {
    atomic_store(&stop_load, true);
    for (int i = 0; i < SUBMITTERS; i++)
        if (subs[i].th) pthread_join(subs[i].th, NULL);
    /* A failed fault must not leave the servers down for later tests. */
    (void)servers("start", "nats");
    (void)servers("start", "postgres");
    (void)servers("start", "redis");
    for (int i = 0; i < NKIDS; i++)
        if (kids[i].pid > 0) (void)tb_test_stop(kids[i].pid, 20000);
    (void)gw_stop_rc(&gw);
    for (int i = 0; i < SUBMITTERS; i++) free(subs[i].accepted);
    unlink(csv);
    bus_conn_close(conn);
    curl_global_cleanup();
}

/* ---- the tests, in order ---- */

START_TEST(platform_up_under_load) {
    char md_symbols[128], md_source[96];
    snprintf(md_symbols, sizeof md_symbols, "MD_SYMBOLS=%s:100", osym);
    snprintf(md_source, sizeof md_source, "MD_SOURCE=%s", tag);
    char md_dir[600];
    snprintf(md_dir, sizeof md_dir, "MD_REPLAY_DIR=%s", logdir);
    char *md_env[] = {"MD_MODE=sim", md_symbols,   md_source, md_dir,
                      "MD_SEED=3",   "MD_RATE=20", NULL};
    char *no_env[] = {NULL};
    spawn_kid(&kids[0], md_env);
    for (int i = 1; i < NKIDS; i++) spawn_kid(&kids[i], no_env);
    const char *gw_env[] = {"GATEWAY_REQUIRED_SERVICES=" REQUIRED_SVCS ",historical-data",
                            "GATEWAY_RATE_LIMIT=100000", "GATEWAY_HEALTH_CACHE_MS=200", NULL};
    gw_start(&gw, "dep-faults", gw_env);
    char st[32];
    ck_assert_msg(health_becomes("ok", 60000, st, sizeof st),
                  "/health/all never ok at start (%s; logs in %s)", st, logdir);
    ck_assert_msg(health_bad[0] == '\0', "/health/all answered %s", health_bad);

    tb_account a = {0}, aout;
    snprintf(a.account, sizeof a.account, "%s", account_id);
    snprintf(a.name, sizeof a.name, "dependency faults test");
    a.initial_cash = INT64_C(1000000000) * TB_FIXED_SCALE;
    tb_error err = {0};
    ck_assert_msg(bus_request(conn, "api.accounts.create", &tb_account_desc, &a, &tb_account_desc,
                              &aout, 10000, NULL, &err) == TB_OK,
                  "create account: %s", err.message);
    tb_risk_limits l = {0}, lout;
    snprintf(l.account, sizeof l.account, "%s", account_id);
    l.max_orders_per_sec = 1000000;
    l.max_open_orders = 1000000;
    l.max_position_qty = 1000000 * TB_FIXED_SCALE;
    l.max_gross_exposure = INT64_C(1000000000) * TB_FIXED_SCALE;
    l.daily_loss_limit = INT64_C(1000000000) * TB_FIXED_SCALE;
    ck_assert_msg(bus_request(conn, "api.risk.limits.set", &tb_risk_limits_desc, &l,
                              &tb_risk_limits_desc, &lout, 10000, NULL, &err) == TB_OK,
                  "set limits: %s", err.message);
    char admin[64], key_id[64];
    gw_admin_key(admin, sizeof admin);
    gw_new_key(&gw, admin, "trader", account_id, trader, key_id);

    write_replay();
    tb_market_replay rp = {0};
    tb_md_status ms;
    snprintf(rp.path, sizeof rp.path, "%s", csv);
    snprintf(rp.format, sizeof rp.format, "ticks");
    snprintf(rp.source, sizeof rp.source, "%sR", tag);
    rp.speed = REPLAY_SPEED;
    ck_assert_msg(bus_request(conn, "api.market.replay", &tb_market_replay_desc, &rp,
                              &tb_md_status_desc, &ms, 10000, NULL, &err) == TB_OK,
                  "replay: %s", err.message);

    for (int i = 0; i < SUBMITTERS; i++) {
        subs[i].id = i;
        subs[i].accepted = calloc(MAX_ACCEPTED, sizeof *subs[i].accepted);
        ck_assert_ptr_nonnull(subs[i].accepted);
        ck_assert_int_eq(pthread_create(&subs[i].th, NULL, submit_loop, &subs[i]), 0);
    }
    int64_t end = bus_mono_ns() + INT64_C(60000) * 1000000;
    while (atomic_load(&accepted_total) < 20 && bus_mono_ns() < end) usleep(50000);
    ck_assert_msg(atomic_load(&accepted_total) >= 20, "orders are not accepted (logs in %s)",
                  logdir);
}
END_TEST

/* One fault: the server goes away (stop, or kill -9), health says degraded,
 * it comes back, health says ok and orders are accepted again, and no
 * process exited. */
static void fault(const char *server, bool crash) {
    const char *how = crash ? "killed with -9" : "stopped";
    char st[32];
    int rc = 0;
    /* running, also when an earlier fault failed half-way */
    ck_assert_msg(servers("start", server) == 0, "cannot start %s", server);
    if (crash)
        ck_assert_msg((rc = kill9(server)) == 0, "cannot kill -9 %s: %d (see %s/dep_faults.log)",
                      server, rc, logdir);
    else
        ck_assert_msg(servers("stop", server) == 0, "cannot stop %s", server);
    bool degraded = health_becomes("degraded", DOWN_MS, st, sizeof st);
    usleep(1000000); /* the load meets the outage for a while */
    ck_assert_msg(servers("start", server) == 0, "cannot start %s again", server);
    ck_assert_msg(degraded, "%s %s: /health/all said \"%s\", not degraded", server, how, st);
    ck_assert_msg(health_bad[0] == '\0', "%s %s: /health/all answered %s", server, how, health_bad);
    long before = atomic_load(&accepted_total);
    ck_assert_msg(health_becomes("ok", BACK_MS, st, sizeof st),
                  "%s back: /health/all still \"%s\" (logs in %s)", server, st, logdir);
    int64_t end = bus_mono_ns() + (int64_t)BACK_MS * 1000000;
    while (atomic_load(&accepted_total) <= before && bus_mono_ns() < end) usleep(50000);
    ck_assert_msg(atomic_load(&accepted_total) > before,
                  "%s back: no order accepted within %d ms (logs in %s)", server, BACK_MS, logdir);
    char when[64];
    snprintf(when, sizeof when, "when %s was %s", server, how);
    assert_all_running(when);
}

START_TEST(nats_restart) {
    fault("nats", false);
}
END_TEST

START_TEST(postgres_restart) {
    fault("postgres", false);
}
END_TEST

START_TEST(redis_restart) {
    fault("redis", false);
}
END_TEST

START_TEST(nats_kill9) {
    fault("nats", true);
}
END_TEST

START_TEST(postgres_kill9) {
    fault("postgres", true);
}
END_TEST

START_TEST(redis_kill9) {
    fault("redis", true);
}
END_TEST

/* Clients saw only 2xx, 4xx and 503 with Retry-After; then the books. */
START_TEST(nothing_lost_doubled_or_500) {
    atomic_store(&stop_load, true);
    long ok = 0, client_err = 0, unavailable = 0, bad = 0;
    for (int i = 0; i < SUBMITTERS; i++) {
        pthread_join(subs[i].th, NULL);
        subs[i].th = 0;
        ok += subs[i].ok;
        client_err += subs[i].client_err;
        unavailable += subs[i].unavailable;
        bad += subs[i].bad;
    }
    tb_test_bg_assert();
    ck_assert_msg(health_bad[0] == '\0', "/health/all answered %s", health_bad);
    for (int i = 0; i < SUBMITTERS; i++)
        ck_assert_msg(subs[i].bad == 0,
                      "%ld answers besides 2xx, 4xx and 503 + Retry-After; first: %s", bad,
                      subs[i].first_bad);
    ck_assert_int_gt(ok, 0);

    /* every accepted order terminal (the services finish what they took) */
    PGconn *c = db();
    long long open = -1;
    int64_t end = bus_mono_ns() + (int64_t)SETTLE_MS * 1000000;
    do {
        open = count1(
            c, "SELECT count(*) FROM orders WHERE account = $1 AND status NOT IN " TERMINAL_SQL,
            account_id);
        if (open == 0) break;
        usleep(200000);
    } while (bus_mono_ns() < end);
    ck_assert_msg(open == 0, "%lld orders not terminal %d s after the faults", open,
                  SETTLE_MS / 1000);
    long found = 0;
    for (int i = 0; i < SUBMITTERS; i++)
        for (long k = 0; k < subs[i].naccepted; k++)
            found += count1(
                c, "SELECT count(*) FROM orders WHERE order_id = $1 AND status IN " TERMINAL_SQL,
                subs[i].accepted[k]);
    ck_assert_msg(found == ok, "%ld of %ld accepted orders recorded and terminal", found, ok);
    /* each order's fills sum to its filled_qty */
    ck_assert_int_eq(
        count1(c,
               "SELECT count(*) FROM orders o WHERE o.account = $1 AND o.filled_qty <> "
               "(SELECT coalesce(sum(f.qty), 0) FROM fills f "
               "WHERE f.order_id = o.order_id)",
               account_id),
        0);
    long long fills = count1(c, "SELECT count(*) FROM fills WHERE account = $1", account_id);
    ck_assert_int_gt(fills, 0);
    /* every fill booked once: positions and cash exact */
    long long applied = 0;
    end = bus_mono_ns() + (int64_t)SETTLE_MS * 1000000;
    do {
        applied = count1(c,
                         "SELECT count(*) FROM applied_fills a JOIN fills f USING (fill_id) "
                         "WHERE f.account = $1",
                         account_id);
        if (applied == fills) break;
        usleep(200000);
    } while (bus_mono_ns() < end);
    ck_assert_msg(applied == fills, "%lld of %lld fills booked", applied, fills);
    char msg[512];
    bool exact = tb_check_exactness(c, account_id, msg, sizeof msg);
    ck_assert_msg(exact, "exactness: %s", msg);

    /* the replay went through every fault to its end ... */
    tb_md_status ms = {0};
    tb_query q = {0};
    snprintf(q.id, sizeof q.id, "%sR", tag);
    end = bus_mono_ns() + (int64_t)SETTLE_MS * 1000000;
    do { /* api.market.status: the feed's state as market-data stored it */
        tb_error err = {0};
        if (bus_request(conn, "api.market.status", &tb_query_desc, &q, &tb_md_status_desc, &ms,
                        5000, NULL, &err) == TB_OK &&
            strcmp(ms.state, "running") != 0)
            break;
        usleep(500000);
    } while (bus_mono_ns() < end);
    ck_assert_msg(strcmp(ms.state, "done") == 0, "the replay ended \"%s\": %s", ms.state,
                  ms.message);
    /* ... and no symbol's bars count a tick twice */
    long long bar_ticks[2] = {-1, -1};
    for (int k = 0; k < 2; k++) {
        char sym[80];
        snprintf(sym, sizeof sym, "%sR%c", tag, 'A' + k);
        end = bus_mono_ns() + INT64_C(20000) * 1000000;
        long long prev = -1;
        do { /* the last batches reach the bars */
            prev = bar_ticks[k];
            usleep(500000);
            bar_ticks[k] = count1(c,
                                  "SELECT coalesce(sum(ticks), 0) FROM bars WHERE symbol = $1 "
                                  "AND interval = '1s'",
                                  sym);
        } while (bar_ticks[k] != prev && bus_mono_ns() < end);
        ck_assert_msg(bar_ticks[k] > 0 && bar_ticks[k] <= replay_per_symbol[k],
                      "%s: bars count %lld ticks of %lld replayed", sym, bar_ticks[k],
                      replay_per_symbol[k]);
    }
    PQfinish(c);
    assert_all_running("after the faults");
    printf("dependency faults: %ld orders accepted, %ld refused (4xx), %ld unavailable (503 + "
           "Retry-After), 0 other answers; %lld fills booked exactly; bars hold %lld + %lld of "
           "%lld + %lld replayed ticks; no process exited\n",
           ok, client_err, unavailable, fills, bar_ticks[0], bar_ticks[1], replay_per_symbol[0],
           replay_per_symbol[1]);
}
END_TEST

START_TEST(services_stop_cleanly) {
    for (int i = 0; i < NKIDS; i++) {
        int rc = tb_test_stop(kids[i].pid, 30000);
        kids[i].pid = 0;
        ck_assert_msg(rc == 0, "%s exited with %d on SIGTERM (log %s)", kids[i].service, rc,
                      kids[i].log);
    }
    gw_stop(&gw);
}
END_TEST

int main(void) {
    Suite *s = suite_create("dep_faults");
    TCase *tc = tcase_create("faults");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 400);
    tcase_add_test(tc, platform_up_under_load);
    tcase_add_test(tc, nats_restart);
    tcase_add_test(tc, postgres_restart);
    tcase_add_test(tc, redis_restart);
    tcase_add_test(tc, nats_kill9);
    tcase_add_test(tc, postgres_kill9);
    tcase_add_test(tc, redis_kill9);
    tcase_add_test(tc, nothing_lost_doubled_or_500);
    tcase_add_test(tc, services_stop_cleanly);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
