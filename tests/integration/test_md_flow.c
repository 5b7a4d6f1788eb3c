/* Replay flow control, with tb-market-data as a child process against the
 * local NATS and Redis and the consumers' progress reports (tb_flow on
 * bus.flow.<service>) published by the test itself:
 *   - a replay at speed 0 never runs more than MD_REPLAY_WINDOW ticks ahead
 *     of the slowest reporting tick consumer, and goes on as it reports
 *     progress; reports of other subjects do not pace it;
 *   - a consumer that stops reporting while the window is full makes the
 *     replay publish its last 2 x MD_REPLAY_WINDOW ticks again after
 *     MD_REPLAY_STALL_MS (logged, counted); when it finishes none of them
 *     either, it has no worker left: it is dropped after another
 *     MD_REPLAY_STALL_MS (logged, counted in the metrics), the other round
 *     unused, and the replay finishes;
 *   - with no consumer reporting at all the replay is not paced;
 *   - a bad MD_REPLAY_WINDOW stops the service with exit code 2. */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tb_test.h"

#define WINDOW   1000
#define STALL_MS 1500
#define ROWS     3000
#define ROUNDS   3 /* MD_REPLAY_RESEND_ROUNDS */

static bus_config cfg;
static bus_conn *conn;
static bus_sub *tick_sub, *status_sub;
static pid_t md_pid; /* the service under test, stopped by teardown if a test failed */
static char prefix[48], log_path[512], sym[64], dir[256], csv[320];
static atomic_size_t ticks;     /* ticks of sym received */
static atomic_int bad_messages; /* undecodable ticks or statuses */
static atomic_bool ended;       /* the feed published a final status */
static char final_state[TB_TOKEN_CAP];
static atomic_ullong final_ticks;   /* ticks in the final status */
static atomic_ullong final_dropped; /* consumers given up on, in the final status */

static void on_tick(const bus_msg *m, void *arg) {
    (void)arg;
    tb_tick t;
    if (tb_decode(&tb_tick_desc, bus_msg_data(m), bus_msg_len(m), &t, NULL) != TB_OK)
        atomic_fetch_add(&bad_messages, 1);
    else if (strcmp(t.symbol, sym) == 0)
        atomic_fetch_add(&ticks, 1);
}

static void on_status(const bus_msg *m, void *arg) {
    (void)arg;
    tb_md_status st;
    if (tb_decode(&tb_md_status_desc, bus_msg_data(m), bus_msg_len(m), &st, NULL) != TB_OK) {
        atomic_fetch_add(&bad_messages, 1);
        return;
    }
    if (strncmp(st.source, prefix, strlen(prefix)) != 0 || strcmp(st.state, "running") == 0) return;
    snprintf(final_state, sizeof final_state, "%s", st.state);
    atomic_store(&final_ticks, st.ticks);
    atomic_store(&final_dropped, st.dropped);
    atomic_store(&ended, true);
}

static void setup(void) {
    tb_test_config(&cfg, "md-flow-test");
    conn = tb_test_conn(&cfg);
    tb_test_unique(prefix, sizeof prefix, "MF");
    snprintf(sym, sizeof sym, "%sS", prefix);
    snprintf(log_path, sizeof log_path, "%s/test_md_flow-%s.log",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", prefix);
    tb_error err = {0};
    ck_assert_msg(bus_subscribe(conn, "md.tick.>", on_tick, NULL, &tick_sub, &err) == TB_OK, "%s",
                  err.message);
    ck_assert_msg(bus_subscribe(conn, "md.status.>", on_status, NULL, &status_sub, &err) == TB_OK,
                  "%s", err.message);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    /* ROWS ticks of one symbol, one second apart. */
    snprintf(dir, sizeof dir, "/tmp/tb-mf-%s", prefix);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    snprintf(csv, sizeof csv, "%s/ticks.csv", dir);
    FILE *f = fopen(csv, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "ts,symbol,bid,ask,last,size\n");
    for (int i = 0; i < ROWS; i++)
        fprintf(f, "%lld,%s,100.%02d,100.%02d,100.%02d,1\n",
                (long long)(1700000000 + i) * 1000000000LL, sym, i % 50, 50 + i % 50, 25 + i % 50);
    ck_assert_int_eq(fclose(f), 0);
}

static void teardown(void) {
    if (md_pid > 0) {
        kill(md_pid, SIGKILL);
        (void)tb_test_wait_exit(md_pid, 10000);
        md_pid = 0;
    }
    bus_unsubscribe(tick_sub);
    bus_unsubscribe(status_sub);
    ck_assert_int_eq(atomic_load(&bad_messages), 0);
    bus_conn_close(conn);
    unlink(csv);
    rmdir(dir);
    /* The symbol's seq counter and quote, so nothing is left in Redis. */
    bus_redis_pool *redis = NULL;
    tb_error err = {0};
    ck_assert_msg(bus_redis_pool_create(cfg.redis_url, &redis, &err) == TB_OK, "%s", err.message);
    redisContext *r = bus_redis_acquire(redis, &err);
    ck_assert_msg(r != NULL, "%s", err.message);
    tb_status s1 = bus_redis_cmd(r, NULL, &err, "DEL md:seq:%s md:quote:%s", sym, sym);
    tb_status s2 = bus_redis_cmd(r, NULL, &err, "SREM md:symbols %s", sym);
    bus_redis_release(redis, r);
    bus_redis_pool_destroy(redis);
    ck_assert_msg(s1 == TB_OK && s2 == TB_OK, "%s", err.message);
}

static pid_t spawn_md(char **env) {
    char bin[512];
    tb_test_bin(bin, sizeof bin, "actors/market-data/tb-market-data");
    char *argv[] = {bin, NULL};
    return tb_test_spawn(argv, env, log_path);
}

static void stop_md(pid_t pid) {
    md_pid = 0;
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    ck_assert_msg(tb_test_wait_exit(pid, 30000) == 0, "unclean exit (see %s)", log_path);
}

/* The service's metrics exposition; caller frees. */
static char *metrics(void) {
    bus_bytes rb = {0};
    tb_error err = {0};
    ck_assert_msg(bus_request_bytes(conn, "svc.market-data.metrics", "", 0, NULL, 5000, NULL, &rb,
                                    &err) == TB_OK,
                  "%s", err.message);
    return rb.data;
}

/* Value of the first sample whose line starts with series, -1 when absent. */
static long long sample(const char *text, const char *series) {
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, series, strlen(series)) == 0) {
            const char *v = strchr(p, ' ');
            return v ? atoll(v + 1) : -1;
        }
    return -1;
}

/* True once the flow endpoint handled at least *arg reports. */
static bool reports_taken(void *arg) {
    static const char series[] = "endpoint=\"flow\",outcome=\"ok\"} ";
    char *text = metrics();
    const char *p = strstr(text, series);
    long long n = p ? atoll(p + strlen(series)) : 0;
    free(text);
    return n >= *(long long *)arg;
}

static bool answering(void *arg) {
    (void)arg;
    bus_bytes rb = {0};
    tb_error err = {0};
    bool ok = bus_request_bytes(conn, "svc.market-data.metrics", "", 0, NULL, 1000, NULL, &rb,
                                &err) == TB_OK;
    bus_bytes_free(&rb);
    return ok;
}

static void report(const char *service, const char *subject, uint64_t handled) {
    tb_flow ev = {.handled = handled, .ts = tb_now_ns()};
    snprintf(ev.service, sizeof ev.service, "%s", service);
    snprintf(ev.instance, sizeof ev.instance, "%s-1", service);
    snprintf(ev.endpoint, sizeof ev.endpoint, "ticks");
    snprintf(ev.subject, sizeof ev.subject, "%s", subject);
    char subj[128];
    snprintf(subj, sizeof subj, "bus.flow.%s", service);
    ck_assert_int_eq(bus_publish(conn, subj, &tb_flow_desc, &ev, NULL), TB_OK);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
}

static tb_status replay(const char *source, tb_error *err) {
    tb_market_replay m = {.speed = 0};
    snprintf(m.path, sizeof m.path, "%s", csv);
    snprintf(m.format, sizeof m.format, "ticks");
    snprintf(m.source, sizeof m.source, "%s", source);
    tb_md_status st;
    return bus_request(conn, "api.market.replay", &tb_market_replay_desc, &m, &tb_md_status_desc,
                       &st, 5000, NULL, err);
}

static bool ticks_at_least(void *arg) {
    return atomic_load(&ticks) >= *(size_t *)arg;
}

static bool feed_ended(void *arg) {
    (void)arg;
    return atomic_load(&ended);
}

/* No new tick for a while: the replay is waiting (within 60 s). */
static size_t settle(void) {
    int64_t end = bus_mono_ns() + INT64_C(60) * 1000000000;
    size_t before;
    do {
        before = atomic_load(&ticks);
        usleep(300000);
        ck_assert_msg(bus_mono_ns() < end, "ticks still flowing after 60 s (%zu)", before);
    } while (atomic_load(&ticks) != before);
    return before;
}

static bool log_has(const char *needle) {
    FILE *f = fopen(log_path, "r");
    if (f == NULL) return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

START_TEST(window_follows_consumer_and_stall_is_dropped) {
    static char e_window[64], e_stall[64], e_rounds[64];
    snprintf(e_window, sizeof e_window, "MD_REPLAY_WINDOW=%d", WINDOW);
    snprintf(e_stall, sizeof e_stall, "MD_REPLAY_STALL_MS=%d", STALL_MS);
    snprintf(e_rounds, sizeof e_rounds, "MD_REPLAY_RESEND_ROUNDS=%d", ROUNDS);
    char *env[] = {"MD_MODE=off", e_window, e_stall, e_rounds, NULL};
    pid_t pid = md_pid = spawn_md(env);
    ck_assert_msg(tb_test_wait(answering, NULL, 20000), "service not answering (see %s)", log_path);
    char cons[80], other[80], source[80];
    snprintf(cons, sizeof cons, "%scons", prefix);
    snprintf(other, sizeof other, "%sother", prefix);
    snprintf(source, sizeof source, "%sflow", prefix);
    report(cons, "md.tick.>", 40);
    report(other, "sig.>", 0); /* not a tick consumer: never paces */
    long long two = 2;
    ck_assert_msg(tb_test_wait(reports_taken, &two, 10000), "flow reports not taken");

    tb_error err = {0};
    atomic_store(&ticks, 0);
    atomic_store(&ended, false);
    ck_assert_msg(replay(source, &err) == TB_OK, "%s", err.message);
    size_t some = 1;
    ck_assert(tb_test_wait(ticks_at_least, &some, 10000));
    size_t n = settle();
    ck_assert_msg(n <= WINDOW && n > WINDOW - 256, "%zu ticks out, window %d", n, WINDOW);
    ck_assert(!atomic_load(&ended));

    /* The consumer finished 1500 of them (40 before the replay began). */
    int64_t last_report = bus_mono_ns();
    report(cons, "md.tick.>", 40 + 1500);
    size_t more = n + 1;
    ck_assert(tb_test_wait(ticks_at_least, &more, 10000));
    n = settle();
    ck_assert_msg(n <= 1500 + WINDOW && n > 1500 + WINDOW - 256, "%zu ticks out", n);
    ck_assert(!atomic_load(&ended));

    /* The consumer goes silent: after MD_REPLAY_STALL_MS the replay
     * publishes its last 2 x WINDOW ticks again (the ring is full by then);
     * the consumer finishes none of them, so after another
     * MD_REPLAY_STALL_MS it stops waiting for it and finishes. */
    ck_assert_msg(tb_test_wait(feed_ended, NULL, 20000), "replay did not finish (see %s)",
                  log_path);
    ck_assert_int_ge(bus_mono_ns() - last_report, 2 * (int64_t)STALL_MS * 1000000);
    ck_assert_str_eq(final_state, "done");
    ck_assert_uint_eq(atomic_load(&final_ticks), ROWS); /* unique ticks, resends apart */
    ck_assert_uint_eq(atomic_load(&final_dropped), 1);  /* a backtest fails on it */
    size_t all = ROWS + 2 * WINDOW;
    ck_assert_msg(tb_test_wait(ticks_at_least, &all, 10000), "%zu ticks received, %zu expected",
                  atomic_load(&ticks), all);
    char *text = metrics();
    ck_assert_int_eq(sample(text, "tb_replay_resent_ticks_total{"), 2 * WINDOW);
    ck_assert_int_eq(sample(text, "tb_replay_consumer_stalls_total{"), 1);
    ck_assert_int_ge(sample(text, "tb_replay_flow_waits_total{"), 2);
    const char *bad = tb_prom_check(text);
    ck_assert_msg(bad == NULL, "%s", bad);
    free(text);
    stop_md(pid);
    char needle[128];
    snprintf(needle, sizeof needle, "%s made no progress for %d ms", cons, STALL_MS);
    ck_assert_msg(log_has(needle), "no stall line for %s in %s", cons, log_path);
    snprintf(needle, sizeof needle, "resending the last %d ticks (round 1, %d left)", 2 * WINDOW,
             ROUNDS - 1);
    ck_assert_msg(log_has(needle), "no last resend line in %s", log_path);
    ck_assert_msg(log_has("paced by 1 tick consumer services"), "see %s", log_path);
}
END_TEST

START_TEST(no_consumer_no_pacing) {
    static char e_window[64];
    snprintf(e_window, sizeof e_window, "MD_REPLAY_WINDOW=%d", 256);
    char *env[] = {"MD_MODE=off", e_window, NULL};
    pid_t pid = md_pid = spawn_md(env);
    ck_assert_msg(tb_test_wait(answering, NULL, 20000), "service not answering (see %s)", log_path);
    char source[80];
    snprintf(source, sizeof source, "%sfree", prefix);
    atomic_store(&ticks, 0);
    atomic_store(&ended, false);
    tb_error err = {0};
    int64_t t0 = bus_mono_ns();
    ck_assert_msg(replay(source, &err) == TB_OK, "%s", err.message);
    ck_assert_msg(tb_test_wait(feed_ended, NULL, 20000), "replay did not finish (see %s)",
                  log_path);
    ck_assert_str_eq(final_state, "done");
    ck_assert_uint_eq(atomic_load(&final_ticks), ROWS);
    ck_assert_uint_eq(atomic_load(&final_dropped), 0);
    /* Far below the stall timeout: nothing was waited for. */
    ck_assert_int_lt(bus_mono_ns() - t0, 5000 * INT64_C(1000000));
    char *text = metrics();
    ck_assert_int_eq(sample(text, "tb_replay_flow_waits_total{"), 0);
    free(text);
    stop_md(pid);
    ck_assert_msg(log_has("no tick consumer has reported flow yet"), "see %s", log_path);
}
END_TEST

START_TEST(bad_window_exit_2) {
    char *bad[][2] = {{"MD_REPLAY_WINDOW=100", NULL},
                      {"MD_REPLAY_WINDOW=-1", NULL},
                      {"MD_REPLAY_WINDOW=lots", NULL},
                      {"MD_REPLAY_STALL_MS=0", NULL},
                      {"MD_REPLAY_RESEND_ROUNDS=101", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(tb_test_wait_exit(spawn_md(bad[i]), 20000) == 2, "%s accepted", bad[i][0]);
}
END_TEST

int main(void) {
    Suite *s = suite_create("md_flow");
    TCase *tc = tcase_create("flow");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, window_follows_consumer_and_stall_is_dropped);
    tcase_add_test(tc, no_consumer_no_pacing);
    tcase_add_test(tc, bad_window_exit_2);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    bus_library_close(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
