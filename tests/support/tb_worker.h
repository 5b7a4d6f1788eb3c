/* tb-test-worker (tests/fixtures/test_worker.c) driven by a test: a
 * JetStream consumer of its own (an account, its orders.new subject and a
 * durable named after it) that records every order id it handles in a Redis
 * hash. For the tests of shutdown and of consumers lost or redelivered. */
#ifndef TB_WORKER_H
#define TB_WORKER_H

#include <sys/types.h>

#include "tb_test.h"

typedef struct tb_worker {
    bus_config cfg;
    bus_conn *conn;
    bus_redis_pool *redis;
    char account[48], subject[96], durable[64], key[96], log_path[256];
    char env_subject[160], env_durable[128], env_key[160];
} tb_worker;

/* A new account named from prefix (its subject, durable and hash), the
 * client's NATS and Redis connections, the streams; the worker's output
 * goes to <TB_BINARY_DIR>/<log_name>-<account>.log. Fails the test when a
 * server cannot be reached. */
void tb_worker_setup(tb_worker *w, const char *service, const char *prefix, const char *log_name);
void tb_worker_teardown(tb_worker *w);

/* Starts tb-test-worker for w, each order taking work_ms ("0", "15"). */
pid_t tb_worker_start(tb_worker *w, const char *work_ms);
/* Publishes order i of w's account on its subject (message id: the order
 * id); false when JetStream did not acknowledge it. */
bool tb_worker_publish(tb_worker *w, int i, const char *symbol);
/* Order ids the worker recorded (HLEN of its hash); -1 when Redis cannot
 * be asked. */
long long tb_worker_processed(tb_worker *w);

#endif
