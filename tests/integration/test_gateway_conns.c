/* The gateway's connection model and its shared limits under load:
 *
 * - 500 idle connections and 50 clients sending one header byte a second
 *   do not stop GET /health and an authenticated GET from answering within
 *   100 ms (every one within 1 s and at most one in twenty over 100 ms: on
 *   a shared two-core machine a bus round trip alone sometimes waits that
 *   long for a CPU; before, such requests did not answer at all), and
 *   civetweb closes them all at GATEWAY_REQUEST_TIMEOUT_MS (not before);
 * - GATEWAY_MAX_CONN_PER_ADDR: a connection over it is answered 429 and
 *   closed at once, and one below it is served again;
 * - /health/all under 32 concurrent callers makes at most one collection
 *   per GATEWAY_HEALTH_CACHE_MS (tb_gateway_health_collections_total);
 * - the per-key rate limit holds across two instances sharing Redis: within
 *   one Redis second the two admit at most GATEWAY_RATE_LIMIT requests of a
 *   key together, and at least the limit less 2 * (GATEWAY_RATE_BATCH - 1)
 *   (the unused leases, gateway/README.md).
 *
 * Worker threads of this file only count; every assertion is made on the
 * main thread (Check runs CK_NOFORK). Every wait has a deadline. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <poll.h>

#include "test_gateway_fixture.h"

static bus_actor *svc;
static char fake_name[64], admin[64];

static void setup(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tb_test_unique(fake_name, sizeof fake_name, "gwconn");
    svc = fake_start(fake_name, true);
    gw_admin_key(admin, sizeof admin);
}

static void teardown(void) {
    bus_actor_destroy(svc);
    json_decref(fake.last_request);
    fake.last_request = NULL;
    curl_global_cleanup();
}

/* ----------------------------------------------------------- sockets -- */

/* A connection from source (a loopback address, host order; 0: any). */
static int connect_from(uint32_t source, int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    if (source) {
        struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(source)};
        ck_assert_msg(bind(fd, (struct sockaddr *)&src, sizeof src) == 0, "bind: %s",
                      strerror(errno));
    }
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s",
                  strerror(errno));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static int connect_to(int port) {
    return connect_from(0, port);
}

/* 1: the peer closed (EOF or reset), 0: still open. Data the server sent
 * before closing (a 400 or 429) is read and dropped; its first bytes go to
 * seen when given. */
static int peer_closed(int fd, char *seen, size_t cap) {
    char buf[512];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0) return 1;
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
        if (seen && cap > 1 && seen[0] == '\0')
            snprintf(seen, cap, "%.*s", (int)(n < (ssize_t)cap - 1 ? n : (ssize_t)cap - 1), buf);
    }
}

static size_t on_discard(char *data, size_t size, size_t n, void *arg) {
    (void)data;
    (void)arg;
    return size * n;
}

static int64_t ms_since(int64_t t0) {
    return (bus_mono_ns() - t0) / 1000000;
}

/* One request on a new connection (it needs a free worker thread); its
 * time in ms, or -1 when it failed or the status was not 200. */
static int64_t timed_get(gw_proc *g, const char *path, const char *key) {
    CURL *c = curl_easy_init();
    char url[256], auth[128];
    snprintf(url, sizeof url, "%s%s", g->base, path);
    struct curl_slist *hl = NULL;
    if (key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        hl = curl_slist_append(hl, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    int64_t t0 = bus_mono_ns();
    CURLcode rc = curl_easy_perform(c);
    int64_t ms = ms_since(t0);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return rc == CURLE_OK && status == 200 ? ms : -1;
}

#define IDLE        500
#define SLOW        50
#define DEADLINE_MS 3000 /* GATEWAY_REQUEST_TIMEOUT_MS of this test */

START_TEST(idle_and_slow_clients) {
    static const char *const env[] = {"GATEWAY_THREADS=700", "GATEWAY_MAX_CONN_PER_ADDR=650",
                                      "GATEWAY_REQUEST_TIMEOUT_MS=3000",
                                      "GATEWAY_RATE_LIMIT=100000", NULL};
    gw_proc g;
    gw_start(&g, "conns", env);
    static int idle[IDLE], slow[SLOW];
    for (int i = 0; i < IDLE; i++) idle[i] = connect_to(g.port);
    for (int i = 0; i < SLOW; i++) slow[i] = connect_to(g.port);
    int64_t t0 = bus_mono_ns(); /* the last connection's deadline starts about now */
    static const char header[] =
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaa\r\n";
    size_t sent = 0;
    int64_t next_byte = 0, worst_health = 0, worst_auth = 0;
    int requests = 0, early_closed = -1, slow_answers = 0;
    long long failed_at = -1;
    /* Until the deadline has passed for every connection, plus a margin. */
    while (ms_since(t0) < DEADLINE_MS + 1500) {
        if (ms_since(t0) >= next_byte && sent < sizeof header - 1) {
            for (int i = 0; i < SLOW; i++)
                (void)!send(slow[i], header + sent, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
            sent++;
            next_byte += 1000;
        }
        int64_t h = timed_get(&g, "/health", NULL);
        int64_t a = timed_get(&g, "/v1/positions", admin);
        if (h < 0 || a < 0) {
            failed_at = ms_since(t0);
            break;
        }
        slow_answers += (h >= 100) + (a >= 100);
        worst_health = h > worst_health ? h : worst_health;
        worst_auth = a > worst_auth ? a : worst_auth;
        requests++;
        if (early_closed < 0 && ms_since(t0) >= DEADLINE_MS / 2) {
            early_closed = 0; /* half-way: nobody may have been closed yet */
            for (int i = 0; i < IDLE; i++) early_closed += peer_closed(idle[i], NULL, 0);
            for (int i = 0; i < SLOW; i++) early_closed += peer_closed(slow[i], NULL, 0);
        }
        usleep(50 * 1000);
    }
    fprintf(stderr,
            "idle_and_slow_clients: %d of %d answers took 100 ms or more; worst /health %lld ms, "
            "/v1/positions %lld ms\n",
            slow_answers, 2 * requests, (long long)worst_health, (long long)worst_auth);
    int open_idle = 0, open_slow = 0;
    for (int i = 0; i < IDLE; i++) open_idle += !peer_closed(idle[i], NULL, 0);
    for (int i = 0; i < SLOW; i++) open_slow += !peer_closed(slow[i], NULL, 0);
    for (int i = 0; i < IDLE; i++) close(idle[i]);
    for (int i = 0; i < SLOW; i++) close(slow[i]);
    gw_stop(&g);
    ck_assert_msg(failed_at < 0, "a request failed at %lld ms (log %s)", failed_at, g.log);
    ck_assert_int_ge(requests, 20);
    ck_assert_msg(worst_health < 1000, "GET /health took %lld ms", (long long)worst_health);
    ck_assert_msg(worst_auth < 1000, "GET /v1/positions took %lld ms", (long long)worst_auth);
    ck_assert_msg(slow_answers * 20 <= 2 * requests,
                  "%d of %d requests took 100 ms or more (worst: /health %lld ms, "
                  "/v1/positions %lld ms)",
                  slow_answers, 2 * requests, (long long)worst_health, (long long)worst_auth);
    ck_assert_int_eq(early_closed, 0);
    ck_assert_msg(open_idle == 0 && open_slow == 0,
                  "%d idle and %d slow connections still open %d ms after the deadline", open_idle,
                  open_slow, 1500);
}
END_TEST

START_TEST(per_address_limit) {
    static const char *const env[] = {"GATEWAY_THREADS=64", "GATEWAY_MAX_CONN_PER_ADDR=8", NULL};
    gw_proc g;
    gw_start(&g, "peraddr", env);
    /* From an address of their own: the fixture's connections (from
     * 127.0.0.1) may still be counted for a moment after they closed. */
    const uint32_t from = 0x7f000002; /* 127.0.0.2 */
    int fds[8];
    for (int i = 0; i < 8; i++) fds[i] = connect_from(from, g.port);
    usleep(300 * 1000);
    int closed = 0;
    for (int i = 0; i < 8; i++) closed += peer_closed(fds[i], NULL, 0);
    /* one more from the same address: refused at once */
    int extra = connect_from(from, g.port);
    char seen[64] = "";
    int64_t t0 = bus_mono_ns();
    bool refused = false;
    while (!refused && ms_since(t0) < 2000) {
        refused = peer_closed(extra, seen, sizeof seen);
        if (!refused) usleep(10 * 1000);
    }
    int64_t refused_ms = ms_since(t0);
    close(extra);
    close(fds[0]); /* below the limit again */
    usleep(200 * 1000);
    int64_t ok = timed_get(&g, "/health", NULL);
    for (int i = 1; i < 8; i++) close(fds[i]);
    gw_stop(&g);
    ck_assert_int_eq(closed, 0);
    ck_assert_msg(refused, "the ninth connection was not closed");
    ck_assert_msg(refused_ms < 1000, "closed after %lld ms", (long long)refused_ms);
    ck_assert_msg(strncmp(seen, "HTTP/1.1 429", 12) == 0, "got '%s'", seen);
    ck_assert_msg(ok >= 0, "GET /health failed after a connection closed");
}
END_TEST

/* ----------------------------------------------------- /health/all -- */

/* A counter of this gateway's own registry in /metrics (0 while absent:
 * series appear at their first increment). */
static long long own_counter(gw_proc *g, const char *name) {
    http_resp r;
    gw_http(&r, g, "GET", "/health", NULL, NULL);
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "id")));
    http_free(&r);
    gw_http(&r, g, "GET", "/metrics", NULL, NULL);
    ck_assert_msg(r.status == 200, "GET /metrics: %ld %s", r.status, r.body);
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s{service=\"api-gateway\",instance=\"%s\"} ", name, id);
    const char *p = strstr(r.body, prefix);
    long long v = p ? strtoll(p + strlen(prefix), NULL, 10) : 0;
    http_free(&r);
    return v;
}

typedef struct caller {
    const char *url;
    int64_t until_ns;
    int ok, failed;
} caller;

/* Keep-alive /health/all calls until the deadline (counts only). */
static void *call_health_all(void *arg) {
    caller *c = arg;
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_discard);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    while (bus_mono_ns() < c->until_ns) {
        long status = 0;
        if (curl_easy_perform(h) == CURLE_OK &&
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
            (status == 200 || status == 503))
            c->ok++;
        else
            c->failed++;
    }
    curl_easy_cleanup(h);
    return NULL;
}

START_TEST(health_all_single_flight) {
    static const char *const env[] = {"GATEWAY_HEALTH_CACHE_MS=1000", "GATEWAY_THREADS=128",
                                      "GATEWAY_MAX_CONN_PER_ADDR=64", NULL};
    gw_proc g;
    gw_start(&g, "hall", env);
    long long before = own_counter(&g, "tb_gateway_health_collections_total");
    enum { CALLERS = 32, RUN_MS = 3000 };
    static caller c[CALLERS];
    static pthread_t th[CALLERS];
    char url[128];
    snprintf(url, sizeof url, "%s/health/all", g.base);
    int64_t t0 = bus_mono_ns();
    for (int i = 0; i < CALLERS; i++) {
        c[i] = (caller){.url = url, .until_ns = t0 + RUN_MS * INT64_C(1000000)};
        ck_assert_int_eq(pthread_create(&th[i], NULL, call_health_all, &c[i]), 0);
    }
    for (int i = 0; i < CALLERS; i++) pthread_join(th[i], NULL);
    int64_t took = ms_since(t0);
    long long after = own_counter(&g, "tb_gateway_health_collections_total");
    gw_stop(&g);
    int ok = 0, failed = 0;
    for (int i = 0; i < CALLERS; i++) ok += c[i].ok, failed += c[i].failed;
    ck_assert_int_eq(failed, 0);
    ck_assert_int_ge(ok, CALLERS);
    /* One collection may have started just before the run; one begins at
     * most every 1000 ms during it (the calls' time, not RUN_MS, bounds it:
     * a call running at the deadline finishes after it). */
    long long allowed = 1 + (took + 999) / 1000;
    ck_assert_msg(after - before >= 1 && after - before <= allowed,
                  "%lld collections for %d calls in %lld ms (at most %lld)", after - before, ok,
                  (long long)took, allowed);
}
END_TEST

/* ------------------------------------------------------- rate limit -- */

/* Microseconds into the current second on Redis's clock. */
static long long redis_usec(redisContext *rc) {
    redisReply *r = redisCommand(rc, "TIME");
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    long long us = strtoll(r->element[1]->str, NULL, 10);
    freeReplyObject(r);
    return us;
}

#define LIMIT 20
#define BATCH 2 /* the default for LIMIT: a tenth, rounded up */

typedef struct me_caller {
    const char *url, *auth;
    pthread_barrier_t *go;
    long status;
} me_caller;

static void *call_me_once(void *arg) {
    me_caller *c = arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hl = curl_slist_append(NULL, c->auth);
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_discard);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    pthread_barrier_wait(c->go);
    if (curl_easy_perform(h) != CURLE_OK ||
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status) != CURLE_OK)
        c->status = -1;
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return NULL;
}

/* Requests of one key that miss the auth cache together make one lookup.
 * The test holds the key's row locked, so the first lookup (which records
 * last_used_at) waits until every request has arrived; without the single
 * flight each would look the key up itself. */
START_TEST(key_lookup_single_flight) {
    static const char *const env[] = {"GATEWAY_AUTH_CACHE_MS=60000", "GATEWAY_RATE_LIMIT=100000",
                                      "GATEWAY_THREADS=128", "GATEWAY_MAX_CONN_PER_ADDR=64", NULL};
    gw_proc g;
    gw_start(&g, "lookup", env);
    char key[64], key_id[64];
    gw_new_key(&g, admin, "viewer", "GL1", key, key_id);
    PGconn *pg = PQconnectdb(getenv("DATABASE_URL"));
    ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
    PGresult *res = PQexec(pg, "BEGIN");
    PQclear(res);
    const char *params[] = {key_id};
    res = PQexecParams(pg, "SELECT 1 FROM api_keys WHERE id = $1 FOR UPDATE", 1, NULL, params, NULL,
                       NULL, 0);
    ck_assert_int_eq(PQntuples(res), 1);
    PQclear(res);
    long long before = own_counter(&g, "tb_gateway_key_lookups_total");
    enum { CALLERS = 16 };
    static me_caller c[CALLERS];
    static pthread_t th[CALLERS];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, CALLERS);
    char url[128], auth[128];
    snprintf(url, sizeof url, "%s/v1/me", g.base);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    for (int i = 0; i < CALLERS; i++) {
        c[i] = (me_caller){.url = url, .auth = auth, .go = &go};
        ck_assert_int_eq(pthread_create(&th[i], NULL, call_me_once, &c[i]), 0);
    }
    usleep(1500 * 1000); /* every request has arrived and waits for the locked lookup */
    long long during = own_counter(&g, "tb_gateway_key_lookups_total");
    res = PQexec(pg, "COMMIT");
    PQclear(res);
    PQfinish(pg);
    for (int i = 0; i < CALLERS; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    long long after = own_counter(&g, "tb_gateway_key_lookups_total");
    gw_stop(&g);
    for (int i = 0; i < CALLERS; i++) ck_assert_int_eq(c[i].status, 200);
    ck_assert_int_eq(during - before, 1);
    ck_assert_int_eq(after - before, 1);
}
END_TEST

START_TEST(rate_limit_two_instances) {
    static const char *const env[] = {"GATEWAY_RATE_LIMIT=20", NULL};
    gw_proc g1, g2;
    gw_start(&g1, "rl1", env);
    gw_start(&g2, "rl2", env);
    bus_config cfg;
    tb_test_config(&cfg, "rl");
    bus_redis_addr ra;
    tb_error err = {0};
    ck_assert(bus_redis_addr_parse(cfg.redis_url, &ra, &err) == TB_OK);
    redisContext *rc = redisConnect(ra.host, ra.port);
    ck_assert(rc && !rc->err);
    if (ra.password[0]) freeReplyObject(redisCommand(rc, "AUTH %s", ra.password));
    int admitted = -1, limited = 0, other = 0;
    /* A burst must fall inside one Redis second: start it just after one
     * begins, and try again (three times at most) when it took too long. */
    for (int attempt = 0; attempt < 3 && admitted < 0; attempt++) {
        char key[64], id[64];
        gw_new_key(&g1, admin, "viewer", "GRL", key, id); /* a fresh key: a fresh window */
        long long us = redis_usec(rc);
        usleep((useconds_t)(1000000 - us + 20000));
        int64_t t0 = bus_mono_ns();
        int ok = 0;
        limited = other = 0;
        for (int i = 0; i < 3 * LIMIT; i++) {
            http_resp r;
            gw_http(&r, i % 2 ? &g2 : &g1, "GET", "/v1/positions", key, NULL);
            ok += r.status == 200;
            limited += r.status == 429;
            other += r.status != 200 && r.status != 429;
            http_free(&r);
        }
        if (ms_since(t0) < 900) admitted = ok;
    }
    redisFree(rc);
    gw_stop(&g1);
    gw_stop(&g2);
    ck_assert_msg(admitted >= 0, "no burst fit in one second in three attempts");
    ck_assert_int_eq(other, 0);
    ck_assert_msg(admitted <= LIMIT, "%d admitted over a limit of %d", admitted, LIMIT);
    ck_assert_msg(admitted >= LIMIT - 2 * (BATCH - 1), "only %d admitted", admitted);
    ck_assert_int_eq(admitted + limited, 3 * LIMIT);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gateway_conns");
    TCase *tc = tcase_create("conns");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, idle_and_slow_clients);
    tcase_add_test(tc, per_address_limit);
    tcase_add_test(tc, health_all_single_flight);
    tcase_add_test(tc, key_lookup_single_flight);
    tcase_add_test(tc, rate_limit_two_instances);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
