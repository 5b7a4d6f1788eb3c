/* A JetStream consumer lost with the server's store: NATS stops, the
 * consumer's directory goes from its store, NATS starts again. Nothing
 * tells the worker (a deletion through the API sends its pending pull
 * request a 409, a lost store sends nothing): its request simply never
 * ends. The fetch loop finds the consumer missing after some idle
 * requests (bus/dispatch.c), binds it again and handles what was published
 * meanwhile: every order published after the restart is processed, within
 * a deadline, and the worker's log says it bound the consumer again.
 *
 * The test stops the NATS server it runs against: it belongs to the serial
 * integration phase (scripts/test), and starts NATS again before it ends,
 * also when it fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tb_test.h"

#define N_BEFORE 5
#define N_AFTER  5
#define BACK_MS  30000 /* idle requests of 0.5 s, the idle check every 10 */

static bus_config cfg;
static bus_conn *conn;
static bus_redis_pool *redis;
static char account_id[48], subject[96], durable[64], key[96], log_path[256], servers_log[256];
static char env_subject[160], env_durable[128], env_key[160];
static pid_t worker;

static void setup(void) {
    tb_test_config(&cfg, "stream-lost-test");
    conn = tb_test_conn(&cfg);
    tb_error err = {0};
    ck_assert_msg(bus_redis_pool_create(cfg.redis_url, &redis, &err) == TB_OK, "%s", err.message);
    ck_assert_msg(bus_js_ensure_streams(conn, &err) == TB_OK, "%s", err.message);
    tb_test_unique(account_id, sizeof account_id, "SL");
    snprintf(subject, sizeof subject, "orders.new.%s", account_id);
    snprintf(durable, sizeof durable, "tw-%s", account_id);
    snprintf(key, sizeof key, "tb:test:%s", account_id);
    snprintf(env_subject, sizeof env_subject, "TEST_SUBJECT=%s", subject);
    snprintf(env_durable, sizeof env_durable, "TEST_DURABLE=%s", durable);
    snprintf(env_key, sizeof env_key, "TEST_KEY=%s", key);
    const char *bd = getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp";
    snprintf(log_path, sizeof log_path, "%s/test_stream_lost-%s.log", bd, account_id);
    snprintf(servers_log, sizeof servers_log, "%s/test_stream_lost-servers.log", bd);
}

static void teardown(void) {
    (void)tb_test_servers("start", "nats", servers_log); /* never leave it down */
    (void)tb_test_stop(worker, 10000);
    bus_redis_pool_destroy(redis);
    bus_conn_close(conn);
}

/* Publishes order i; false while NATS (or its JetStream) is not back. */
static bool publish_order(int i) {
    tb_order o = {0};
    snprintf(o.order_id, sizeof o.order_id, "%s-%04d", account_id, i);
    snprintf(o.account, sizeof o.account, "%s", account_id);
    snprintf(o.symbol, sizeof o.symbol, "DAX");
    snprintf(o.side, sizeof o.side, "buy");
    snprintf(o.type, sizeof o.type, "market");
    snprintf(o.tif, sizeof o.tif, "day");
    snprintf(o.source, sizeof o.source, "api");
    o.qty = 100000000;
    o.ts = tb_now_ns();
    bus_msg_meta meta = {.msg_id = o.order_id, .trace_id = o.order_id};
    tb_error err = {0};
    return bus_js_publish(conn, subject, &tb_order_desc, &o, &meta, NULL, &err) == TB_OK;
}

static int next_order;
static bool published(void *arg) {
    (void)arg;
    return publish_order(next_order);
}

/* Order ids the worker recorded (HLEN of its hash). */
static long long processed(void) {
    tb_error err = {0};
    redisContext *r = bus_redis_acquire(redis, &err);
    if (r == NULL) return -1;
    redisReply *rep = NULL;
    long long n = -1;
    if (bus_redis_cmd(r, &rep, &err, "HLEN %s", key) == TB_OK) n = rep->integer;
    if (rep) freeReplyObject(rep);
    bus_redis_release(redis, r);
    return n;
}

static long long want;
static bool reached(void *arg) {
    (void)arg;
    return processed() >= want;
}

/* Whether the worker's log holds text. */
static bool log_has(const char *text) {
    FILE *f = fopen(log_path, "r");
    if (f == NULL) return false;
    char line[2048];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

/* Removes the durable's directory from the stopped server's store. */
static int drop_consumer_store(void) {
    static const char script[] =
        "source \"$TB_SOURCE_DIR/scripts/lib.sh\"\n"
        "dirs=$(find \"$TB_DATA/nats\" -type d -path \"*/streams/ORDERS/obs/$1\")\n"
        "[ -n \"$dirs\" ] || exit 3\n"
        "rm -rf $dirs\n";
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "bash -c '%s' drop '%s' >>'%s' 2>&1", script, durable, servers_log);
    int rc = system(cmd);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(consumer_lost_with_the_store_is_bound_again) {
    char bin[512];
    tb_test_bin(bin, sizeof bin, "tests/tb-test-worker");
    char *argv[] = {bin, NULL};
    char *env[] = {env_subject, env_durable, env_key, "TEST_WORK_MS=0", NULL};
    worker = tb_test_spawn(argv, env, log_path);
    for (int i = 0; i < N_BEFORE; i++) ck_assert(publish_order(i));
    want = N_BEFORE;
    ck_assert_msg(tb_test_wait(reached, NULL, 15000), "processed %lld of %d before the restart",
                  processed(), N_BEFORE);

    ck_assert_int_eq(tb_test_servers("stop", "nats", servers_log), 0);
    ck_assert_int_eq(drop_consumer_store(), 0);
    ck_assert_int_eq(tb_test_servers("start", "nats", servers_log), 0);

    for (int i = N_BEFORE; i < N_BEFORE + N_AFTER; i++) {
        next_order = i;
        ck_assert_msg(tb_test_wait(published, NULL, 20000), "order %d not published", i);
    }
    want = N_BEFORE + N_AFTER;
    bool all = tb_test_wait(reached, NULL, BACK_MS);
    ck_assert_msg(all, "processed %lld of %d within %d ms of the restart (log: %s)", processed(),
                  N_BEFORE + N_AFTER, BACK_MS, log_path);
    ck_assert_msg(log_has("bound again"), "the worker's log does not say it bound %s again",
                  durable);
    ck_assert_int_eq(tb_test_stop(worker, 10000), 0);
    worker = 0;
}
END_TEST

int main(void) {
    Suite *s = suite_create("stream_lost");
    TCase *tc = tcase_create("stream_lost");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, consumer_lost_with_the_store_is_bound_again);
    suite_add_tcase(s, tc);
    return tb_test_run_suite(s);
}
