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

#include "tb_worker.h"
#include "wire.h"

#define N_ORDERS 300

static tb_worker w;

static void setup(void) {
    tb_worker_setup(&w, "shutdown-test", "SD", "test_shutdown");
}

static void teardown(void) {
    tb_worker_teardown(&w);
}

static void publish_order(int i, const char *symbol) {
    ck_assert_msg(tb_worker_publish(&w, i, symbol), "order %d not published", i);
}

static long long hash_len(void) {
    long long n = tb_worker_processed(&w);
    ck_assert_int_ge(n, 0);
    return n;
}

static long long want_at_least;
static bool reached(void *arg) {
    (void)arg;
    return hash_len() >= want_at_least;
}

START_TEST(sigterm_mid_stream_loses_nothing) {
    for (int i = 0; i < N_ORDERS; i++) publish_order(i, "DAX");
    pid_t w1 = tb_worker_start(&w, "15");
    want_at_least = 40;
    ck_assert_msg(tb_test_wait(reached, NULL, 30000), "worker made no progress (see %s)",
                  w.log_path);
    ck_assert_int_eq(kill(w1, SIGTERM), 0);
    ck_assert_int_eq(tb_test_wait_exit(w1, 20000), 0);
    long long after_stop = hash_len();
    ck_assert_int_lt(after_stop, N_ORDERS); /* the stop really happened mid-stream */
    usleep(300000);
    ck_assert_int_eq(hash_len(), after_stop); /* nothing ran after the exit */

    pid_t w2 = tb_worker_start(&w, "0");
    want_at_least = N_ORDERS;
    ck_assert_msg(tb_test_wait(reached, NULL, 60000), "only %lld of %d processed", hash_len(),
                  N_ORDERS);
    ck_assert_int_eq(kill(w2, SIGTERM), 0);
    ck_assert_int_eq(tb_test_wait_exit(w2, 20000), 0);

    /* every order exactly once */
    tb_error err = {0};
    redisContext *r = bus_redis_acquire(w.redis, &err);
    redisReply *rep = NULL;
    ck_assert_int_eq(bus_redis_cmd(r, &rep, &err, "HGETALL %s", w.key), TB_OK);
    ck_assert_int_eq(rep->elements, 2 * N_ORDERS);
    for (size_t i = 1; i < rep->elements; i += 2)
        ck_assert_msg(strcmp(rep->element[i]->str, "1") == 0, "%s applied %s times",
                      rep->element[i - 1]->str, rep->element[i]->str);
    freeReplyObject(rep);
    bus_redis_release(w.redis, r);
    printf("shutdown: %lld processed before SIGTERM, %d in total, each once\n", after_stop,
           N_ORDERS);
}
END_TEST

START_TEST(poison_message_is_dead_lettered) {
    natsConnection *nc = bus_conn_nats(w.conn);
    char dlq_subject[160];
    snprintf(dlq_subject, sizeof dlq_subject, BUS_DLQ_PREFIX "ORDERS.%s", w.durable);
    natsSubscription *sub = NULL;
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, nc, dlq_subject), NATS_OK);
    ck_assert_int_eq(natsConnection_Flush(nc), NATS_OK);
    publish_order(1, "POISON");
    publish_order(2, "DAX");
    pid_t pw = tb_worker_start(&w, "0");
    natsMsg *m = NULL;
    ck_assert_int_eq(natsSubscription_NextMsg(&m, sub, 20000), NATS_OK);
    const char *reason = NULL, *from = NULL;
    ck_assert_int_eq(natsMsgHeader_Get(m, BUS_HDR_DLQ_REASON, &reason), NATS_OK);
    ck_assert_ptr_nonnull(strstr(reason, "poison order"));
    ck_assert_int_eq(natsMsgHeader_Get(m, BUS_HDR_DLQ_SUBJECT, &from), NATS_OK);
    ck_assert_str_eq(from, w.subject);
    tb_order o;
    ck_assert_int_eq(
        tb_decode(&tb_order_desc, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &o, NULL),
        TB_OK);
    ck_assert_str_eq(o.symbol, "POISON");
    natsMsg_Destroy(m);
    natsSubscription_Destroy(sub);
    want_at_least = 1;
    ck_assert(tb_test_wait(reached, NULL, 20000)); /* the good one still went through */
    kill(pw, SIGTERM);
    ck_assert_int_eq(tb_test_wait_exit(pw, 20000), 0);
}
END_TEST

START_TEST(unreachable_dependency_fails_start) {
    char bin[512];
    tb_test_bin(bin, sizeof bin, "tests/tb-test-worker");
    char *argv[] = {bin, NULL};
    char *bad_nats[] = {"NATS_URL=nats://127.0.0.1:1", NULL};
    ck_assert_int_eq(tb_test_wait_exit(tb_test_spawn(argv, bad_nats, w.log_path), 20000), 1);
    char *bad_redis[] = {"REDIS_URL=redis://127.0.0.1:1/0", NULL};
    ck_assert_int_eq(tb_test_wait_exit(tb_test_spawn(argv, bad_redis, w.log_path), 20000), 1);
    char *bad_cfg[] = {"LOG_LEVEL=loud", NULL};
    ck_assert_int_eq(tb_test_wait_exit(tb_test_spawn(argv, bad_cfg, w.log_path), 20000), 2);
    char *help[] = {bin, "--help", NULL};
    ck_assert_int_eq(tb_test_wait_exit(tb_test_spawn(help, NULL, w.log_path), 20000), 0);
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
