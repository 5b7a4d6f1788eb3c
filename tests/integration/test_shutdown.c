/* Graceful shutdown and start-up of a JetStream worker built on bus/:
 * SIGTERM while messages are in flight loses none and applies none twice
 * (acked only after the handler finished); a poison message goes to the
 * dead-letter stream; an unreachable dependency at start is a clear error and
 * a non-zero exit. Runs tb-test-worker as a child process. */
#include <nats/nats.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_test.h"
#include "wire.h"

#define N_ORDERS 300

static bus_config cfg;
static bus_conn *conn;
static bus_redis_pool *redis;
static char account_id[48], subject[96], durable[64], key[96], log_path[256];
static char env_subject[160], env_durable[128], env_key[160];

static void setup(void) {
    tb_test_config(&cfg, "shutdown-test");
    conn = tb_test_conn(&cfg);
    tb_error err = {0};
    ck_assert_msg(bus_redis_pool_create(cfg.redis_url, &redis, &err) == TB_OK, "%s", err.message);
    ck_assert_msg(bus_js_ensure_streams(conn, &err) == TB_OK, "%s", err.message);
    tb_test_unique(account_id, sizeof account_id, "SD");
    snprintf(subject, sizeof subject, "orders.new.%s", account_id);
    snprintf(durable, sizeof durable, "tw-%s", account_id);
    snprintf(key, sizeof key, "tb:test:%s", account_id);
    snprintf(env_subject, sizeof env_subject, "TEST_SUBJECT=%s", subject);
    snprintf(env_durable, sizeof env_durable, "TEST_DURABLE=%s", durable);
    snprintf(env_key, sizeof env_key, "TEST_KEY=%s", key);
    snprintf(log_path, sizeof log_path, "%s/test_shutdown-%s.log",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", account_id);
}

static void teardown(void) {
    bus_redis_pool_destroy(redis);
    bus_conn_close(conn);
}

static void publish_order(int i, const char *symbol) {
    tb_order o = {0};
    snprintf(o.order_id, sizeof o.order_id, "%s-%04d", account_id, i);
    snprintf(o.account, sizeof o.account, "%s", account_id);
    snprintf(o.symbol, sizeof o.symbol, "%s", symbol);
    snprintf(o.side, sizeof o.side, "buy");
    snprintf(o.type, sizeof o.type, "market");
    snprintf(o.tif, sizeof o.tif, "day");
    snprintf(o.source, sizeof o.source, "api");
    o.qty = 100000000;
    o.ts = tb_now_ns();
    bus_msg_meta meta = {.msg_id = o.order_id, .trace_id = o.order_id};
    tb_error err = {0};
    ck_assert_msg(bus_js_publish(conn, subject, &tb_order_desc, &o, &meta, NULL, &err) == TB_OK,
                  "%s", err.message);
}

static long long hash_len(void) {
    tb_error err = {0};
    redisContext *r = bus_redis_acquire(redis, &err);
    ck_assert_ptr_nonnull(r);
    redisReply *rep = NULL;
    ck_assert_int_eq(bus_redis_cmd(r, &rep, &err, "HLEN %s", key), TB_OK);
    long long n = rep->integer;
    freeReplyObject(rep);
    bus_redis_release(redis, r);
    return n;
}

static long long want_at_least;
static bool reached(void *arg) {
    (void)arg;
    return hash_len() >= want_at_least;
}

static pid_t start_worker(const char *work_ms) {
    char bin[512], env_work[64];
    tb_test_bin(bin, sizeof bin, "tests/tb-test-worker");
    snprintf(env_work, sizeof env_work, "TEST_WORK_MS=%s", work_ms);
    char *argv[] = {bin, NULL};
    char *env[] = {env_subject, env_durable, env_key, env_work, NULL};
    return tb_test_spawn(argv, env, log_path);
}

START_TEST(sigterm_mid_stream_loses_nothing) {
    for (int i = 0; i < N_ORDERS; i++) publish_order(i, "DAX");
    pid_t w1 = start_worker("15");
    want_at_least = 40;
    ck_assert_msg(tb_test_wait(reached, NULL, 30000), "worker made no progress (see %s)", log_path);
    ck_assert_int_eq(kill(w1, SIGTERM), 0);
    ck_assert_int_eq(tb_test_wait_exit(w1, 20000), 0);
    long long after_stop = hash_len();
    ck_assert_int_lt(after_stop, N_ORDERS); /* the stop really happened mid-stream */
    usleep(300000);
    ck_assert_int_eq(hash_len(), after_stop); /* nothing ran after the exit */

    pid_t w2 = start_worker("0");
    want_at_least = N_ORDERS;
    ck_assert_msg(tb_test_wait(reached, NULL, 60000), "only %lld of %d processed", hash_len(),
                  N_ORDERS);
    ck_assert_int_eq(kill(w2, SIGTERM), 0);
    ck_assert_int_eq(tb_test_wait_exit(w2, 20000), 0);

    /* every order exactly once */
    tb_error err = {0};
    redisContext *r = bus_redis_acquire(redis, &err);
    redisReply *rep = NULL;
    ck_assert_int_eq(bus_redis_cmd(r, &rep, &err, "HGETALL %s", key), TB_OK);
    ck_assert_int_eq(rep->elements, 2 * N_ORDERS);
    for (size_t i = 1; i < rep->elements; i += 2)
        ck_assert_msg(strcmp(rep->element[i]->str, "1") == 0, "%s applied %s times",
                      rep->element[i - 1]->str, rep->element[i]->str);
    freeReplyObject(rep);
    bus_redis_release(redis, r);
    printf("shutdown: %lld processed before SIGTERM, %d in total, each once\n", after_stop,
           N_ORDERS);
}
END_TEST

START_TEST(poison_message_is_dead_lettered) {
    natsConnection *nc = bus_conn_nats(conn);
    char dlq_subject[160];
    snprintf(dlq_subject, sizeof dlq_subject, BUS_DLQ_PREFIX "ORDERS.%s", durable);
    natsSubscription *sub = NULL;
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, nc, dlq_subject), NATS_OK);
    ck_assert_int_eq(natsConnection_Flush(nc), NATS_OK);
    publish_order(1, "POISON");
    publish_order(2, "DAX");
    pid_t w = start_worker("0");
    natsMsg *m = NULL;
    ck_assert_int_eq(natsSubscription_NextMsg(&m, sub, 20000), NATS_OK);
    const char *reason = NULL, *from = NULL;
    ck_assert_int_eq(natsMsgHeader_Get(m, BUS_HDR_DLQ_REASON, &reason), NATS_OK);
    ck_assert_ptr_nonnull(strstr(reason, "poison order"));
    ck_assert_int_eq(natsMsgHeader_Get(m, BUS_HDR_DLQ_SUBJECT, &from), NATS_OK);
    ck_assert_str_eq(from, subject);
    tb_order o;
    ck_assert_int_eq(
        tb_decode(&tb_order_desc, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &o, NULL),
        TB_OK);
    ck_assert_str_eq(o.symbol, "POISON");
    natsMsg_Destroy(m);
    natsSubscription_Destroy(sub);
    want_at_least = 1;
    ck_assert(tb_test_wait(reached, NULL, 20000)); /* the good one still went through */
    kill(w, SIGTERM);
    ck_assert_int_eq(tb_test_wait_exit(w, 20000), 0);
}
END_TEST

START_TEST(unreachable_dependency_fails_start) {
    char bin[512];
    tb_test_bin(bin, sizeof bin, "tests/tb-test-worker");
    char *argv[] = {bin, NULL};
    char *bad_nats[] = {"NATS_URL=nats://127.0.0.1:1", NULL};
    ck_assert_int_eq(tb_test_wait_exit(tb_test_spawn(argv, bad_nats, log_path), 20000), 1);
    char *bad_redis[] = {"REDIS_URL=redis://127.0.0.1:1/0", NULL};
    ck_assert_int_eq(tb_test_wait_exit(tb_test_spawn(argv, bad_redis, log_path), 20000), 1);
    char *bad_cfg[] = {"LOG_LEVEL=loud", NULL};
    ck_assert_int_eq(tb_test_wait_exit(tb_test_spawn(argv, bad_cfg, log_path), 20000), 2);
    char *help[] = {bin, "--help", NULL};
    ck_assert_int_eq(tb_test_wait_exit(tb_test_spawn(help, NULL, log_path), 20000), 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("shutdown");
    TCase *tc = tcase_create("worker");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, sigterm_mid_stream_loses_nothing);
    tcase_add_test(tc, poison_message_is_dead_lettered);
    tcase_add_test(tc, unreachable_dependency_fails_start);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
