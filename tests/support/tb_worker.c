/* See tb_worker.h. */
#include "tb_worker.h"

#include <stdio.h>
#include <stdlib.h>

void tb_worker_setup(tb_worker *w, const char *service, const char *prefix, const char *log_name) {
    tb_test_config(&w->cfg, service);
    w->conn = tb_test_conn(&w->cfg);
    tb_error err = {0};
    ck_assert_msg(bus_redis_pool_create(w->cfg.redis_url, &w->redis, &err) == TB_OK, "%s",
                  err.message);
    ck_assert_msg(bus_js_ensure_streams(w->conn, &err) == TB_OK, "%s", err.message);
    tb_test_unique(w->account, sizeof w->account, prefix);
    snprintf(w->subject, sizeof w->subject, "orders.new.%s", w->account);
    snprintf(w->durable, sizeof w->durable, "tw-%s", w->account);
    snprintf(w->key, sizeof w->key, "tb:test:%s", w->account);
    snprintf(w->env_subject, sizeof w->env_subject, "TEST_SUBJECT=%s", w->subject);
    snprintf(w->env_durable, sizeof w->env_durable, "TEST_DURABLE=%s", w->durable);
    snprintf(w->env_key, sizeof w->env_key, "TEST_KEY=%s", w->key);
    snprintf(w->log_path, sizeof w->log_path, "%s/%s-%s.log",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", log_name, w->account);
}

void tb_worker_teardown(tb_worker *w) {
    bus_redis_pool_destroy(w->redis);
    bus_conn_close(w->conn);
}

pid_t tb_worker_start(tb_worker *w, const char *work_ms) {
    char bin[512], env_work[64];
    tb_test_bin(bin, sizeof bin, "tests/tb-test-worker");
    snprintf(env_work, sizeof env_work, "TEST_WORK_MS=%s", work_ms);
    char *argv[] = {bin, NULL};
    char *env[] = {w->env_subject, w->env_durable, w->env_key, env_work, NULL};
    return tb_test_spawn(argv, env, w->log_path);
}

bool tb_worker_publish(tb_worker *w, int i, const char *symbol) {
    tb_order o = {0};
    snprintf(o.order_id, sizeof o.order_id, "%s-%04d", w->account, i);
    snprintf(o.account, sizeof o.account, "%s", w->account);
    snprintf(o.symbol, sizeof o.symbol, "%s", symbol);
    snprintf(o.side, sizeof o.side, "buy");
    snprintf(o.type, sizeof o.type, "market");
    snprintf(o.tif, sizeof o.tif, "day");
    snprintf(o.source, sizeof o.source, "api");
    o.qty = 100000000;
    o.ts = tb_now_ns();
    bus_msg_meta meta = {.msg_id = o.order_id, .trace_id = o.order_id};
    tb_error err = {0};
    return bus_js_publish(w->conn, w->subject, &tb_order_desc, &o, &meta, NULL, &err) == TB_OK;
}

long long tb_worker_processed(tb_worker *w) {
    tb_error err = {0};
    redisContext *r = bus_redis_acquire(w->redis, &err);
    if (r == NULL) return -1;
    redisReply *rep = NULL;
    long long n = -1;
    if (bus_redis_cmd(r, &rep, &err, "HLEN %s", w->key) == TB_OK) n = rep->integer;
    if (rep) freeReplyObject(rep);
    bus_redis_release(w->redis, r);
    return n;
}
