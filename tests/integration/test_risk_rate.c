/* risk-management's order-rate windows in Redis (risk_deps.c): a batch's
 * orders are counted with one script call per window, in the order given,
 * each seeing the ones before it; only those within the limit take a slot;
 * orders on the clock and in event time (a backtest's, at its tick's time)
 * keep windows of their own, and an event time far behind the window (a
 * replay started over) empties it. Against the Redis of scripts/servers. */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "risk_deps.h"
#include "store.h"
#include "tb_test.h"

static bus_redis_pool *pool;
static redisContext *r; /* the test's connection */

static void setup(void) {
    bus_config cfg;
    tb_test_config(&cfg, "risk-rate-test");
    tb_error err = {0};
    ck_assert_msg(bus_redis_pool_create(cfg.redis_url, &pool, &err) == TB_OK, "%s", err.message);
    r = bus_redis_acquire(pool, &err);
    ck_assert_msg(r != NULL, "%s", err.message);
}

static void teardown(void) {
    bus_redis_release(pool, r);
    r = NULL;
    bus_redis_pool_destroy(pool);
    pool = NULL;
}

/* Members in a window key. */
static long long zcard(const char *key) {
    redisReply *rep = redisCommand(r, "ZCARD %s", key);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_INTEGER);
    long long n = rep->integer;
    freeReplyObject(rep);
    return n;
}

START_TEST(a_batch_counts_in_order) {
    tb_error err = {0};
    char acct[48], key[128];
    tb_test_unique(acct, sizeof acct, "RATE");
    const char *members[] = {"o1", "o2", "o3", "o4", "o5"};
    uint64_t counts[5] = {0};
    ck_assert_msg(risk_rate_take_many(r, acct, 3, 60000, 5, members, NULL, counts, &err) == TB_OK,
                  "%s", err.message);
    /* The fourth is refused and takes no slot, so the fifth sees three. */
    const uint64_t want[] = {1, 2, 3, 4, 4};
    for (int i = 0; i < 5; i++) ck_assert_uint_eq(counts[i], want[i]);
    snprintf(key, sizeof key, "tb:risk:rate:%s", acct);
    ck_assert_int_eq(zcard(key), 3); /* the refused ones took no slot */
    uint64_t one = 0;
    ck_assert_int_eq(risk_rate_take(r, acct, 3, 60000, "o6", 0, &one, &err), TB_OK);
    ck_assert_uint_eq(one, 4);
}
END_TEST

START_TEST(event_time_has_its_own_window) {
    tb_error err = {0};
    char acct[48], key[128];
    tb_test_unique(acct, sizeof acct, "ERATE");
    /* A clock order between two event-time ones (a second apart, a 10 s
     * window): each window counts its own. */
    const char *members[] = {"e1", "c1", "e2"};
    const int64_t at[] = {INT64_C(1700000000000000000), 0, INT64_C(1700000001000000000)};
    uint64_t counts[3] = {0};
    ck_assert_msg(risk_rate_take_many(r, acct, 5, 10000, 3, members, at, counts, &err) == TB_OK,
                  "%s", err.message);
    ck_assert_uint_eq(counts[0], 1);
    ck_assert_uint_eq(counts[1], 1);
    ck_assert_uint_eq(counts[2], 2);
    snprintf(key, sizeof key, "tb:risk:erate:%s", acct);
    ck_assert_int_eq(zcard(key), 2);
    /* A replay started over: an event time an hour before empties the
     * window of what lies after it. */
    uint64_t one = 0;
    ck_assert_int_eq(
        risk_rate_take(r, acct, 5, 10000, "e3", INT64_C(1699996400000000000), &one, &err), TB_OK);
    ck_assert_uint_eq(one, 1);
    ck_assert_int_eq(zcard(key), 1);
}
END_TEST

int main(void) {
    Suite *s = suite_create("risk_rate");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_batch_counts_in_order);
    tcase_add_test(tc, event_time_has_its_own_window);
    suite_add_tcase(s, tc);
    return tb_test_run_suite(s);
}
