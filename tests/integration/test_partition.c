/* Partitioned batched endpoints (bus/partition.c) against real NATS and
 * Redis: three instances of one service split the partitions between them
 * without overlap once their views agree, every key's messages go to one
 * instance, and an instance that stops while ticks keep coming hands its
 * partitions over without leaving any tick unhandled. Handlers only record;
 * assertions run on the main thread, never under the lock. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_test.h"

#define N_INST    3
#define N_SYMBOLS 16
#define N_FIRST   12000
#define N_SECOND  6000
#define N_ALL     (N_FIRST + N_SECOND)

static char svc_name[64], subject[128];
static bus_actor *actors[N_INST];
static bus_conn *client;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char seen[N_ALL + 1];
static size_t handled_total;
static size_t by_inst_sym[N_INST][N_SYMBOLS];

static tb_status on_ticks(bus_ctx *ctx, const bus_batch *b) {
    bus_actor *self = bus_ctx_actor(ctx);
    int k = 0;
    while (k < N_INST && actors[k] != self) k++;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < bus_batch_len(b); i++) {
        const tb_tick *t = bus_batch_event(b, i);
        if (t->seq >= 1 && t->seq <= N_ALL && seen[t->seq] < 255) seen[t->seq]++;
        int sym = atoi(t->symbol + 1);
        if (k < N_INST && sym >= 0 && sym < N_SYMBOLS) by_inst_sym[k][sym]++;
        handled_total++;
    }
    pthread_mutex_unlock(&mu);
    return TB_OK;
}

static bus_endpoint endpoints[1];
static bus_actor_def def = {
    .version = "1.0.0",
    .description = "partitioned endpoint test service",
    .endpoints = endpoints,
    .nendpoints = 1,
    .needs = BUS_NEEDS_REDIS,
};

static void setup(void) {
    tb_test_unique(svc_name, sizeof svc_name, "parttest");
    snprintf(subject, sizeof subject, "test.%s.tick.*", svc_name);
    endpoints[0] = (bus_endpoint){.name = "ticks",
                                  .kind = BUS_EVENT,
                                  .subject = subject,
                                  .event = &tb_tick_desc,
                                  .batch_handler = on_ticks,
                                  .partition_token = 4};
    def.name = svc_name;
    bus_config cfg;
    tb_test_config(&cfg, svc_name);
    client = tb_test_conn(&cfg);
    for (int k = 0; k < N_INST; k++) {
        tb_error err = {0};
        snprintf(cfg.instance, sizeof cfg.instance, "%s-i%d", svc_name, k);
        ck_assert_int_eq(bus_actor_create(&def, &cfg, &actors[k], &err), TB_OK);
        tb_status s = bus_actor_start(actors[k], &err);
        ck_assert_msg(s == TB_OK, "start: %s", err.message);
    }
}

static void teardown(void) {
    for (int k = 0; k < N_INST; k++) {
        bus_actor_destroy(actors[k]);
        actors[k] = NULL;
    }
    bus_conn_close(client);
}

static void publish(uint64_t seq) {
    tb_tick t = {0};
    int sym = (int)(seq % N_SYMBOLS);
    snprintf(t.symbol, sizeof t.symbol, "S%d", sym);
    t.seq = seq;
    t.ts = tb_now_ns();
    t.last = (int64_t)(100 + sym) * TB_FIXED_SCALE;
    char subj[160];
    snprintf(subj, sizeof subj, "test.%s.tick.%s", svc_name, t.symbol);
    if (bus_publish(client, subj, &tb_tick_desc, &t, NULL) != TB_OK) /* thread: no assert */
        fprintf(stderr, "publish of tick %llu failed\n", (unsigned long long)seq);
}

static int64_t owned(int k) {
    return bus_series_value(bus_metrics_gauge(
        bus_actor_metrics(actors[k]), "tb_partitions_owned",
        "Partitions of a partitioned endpoint this instance handles", "endpoint", "ticks", NULL));
}

static bool views_agree(void *arg) {
    (void)arg;
    int64_t sum = 0;
    for (int k = 0; k < N_INST; k++) sum += actors[k] ? owned(k) : 0;
    return sum == BUS_PARTITIONS_DEFAULT;
}

static bool handled_at_least(void *arg) {
    size_t want = *(size_t *)arg;
    pthread_mutex_lock(&mu);
    bool ok = handled_total >= want;
    pthread_mutex_unlock(&mu);
    return ok;
}

static bool all_seen_upto(void *arg) {
    uint64_t upto = *(uint64_t *)arg;
    pthread_mutex_lock(&mu);
    bool ok = true;
    for (uint64_t s = 1; s <= upto && ok; s++) ok = seen[s] >= 1;
    pthread_mutex_unlock(&mu);
    return ok;
}

static void *publish_second(void *arg) {
    (void)arg;
    for (uint64_t seq = N_FIRST + 1; seq <= N_ALL; seq++) {
        publish(seq);
        if (seq % 100 == 0) usleep(25 * 1000); /* ~1.5 s of steady feed */
    }
    if (bus_conn_flush(client, 5000) != TB_OK) /* the wait below then fails */
        fprintf(stderr, "flush after the second feed failed\n");
    return NULL;
}

START_TEST(instances_split_keys_and_hand_over_without_gaps) {
    /* Each instance's first view counts every member; the others learn of
     * each other within a period or two. */
    ck_assert_msg(tb_test_wait(views_agree, NULL, 5000),
                  "partitions owned do not add up to %d (%lld + %lld + %lld)",
                  BUS_PARTITIONS_DEFAULT, (long long)owned(0), (long long)owned(1),
                  (long long)owned(2));
    for (uint64_t seq = 1; seq <= N_FIRST; seq++) publish(seq);
    ck_assert_int_eq(bus_conn_flush(client, 5000), TB_OK);
    size_t want = N_FIRST;
    ck_assert_msg(tb_test_wait(handled_at_least, &want, 20000), "not every tick was handled");
    usleep(200 * 1000); /* anything handled twice would show now */

    pthread_mutex_lock(&mu);
    size_t total = handled_total;
    int twice = 0, split = 0, busy = 0;
    for (uint64_t s = 1; s <= N_FIRST; s++) twice += seen[s] != 1;
    for (int sym = 0; sym < N_SYMBOLS; sym++) {
        int owners = 0;
        for (int k = 0; k < N_INST; k++) owners += by_inst_sym[k][sym] > 0;
        split += owners != 1;
    }
    for (int k = 0; k < N_INST; k++) {
        size_t n = 0;
        for (int sym = 0; sym < N_SYMBOLS; sym++) n += by_inst_sym[k][sym];
        busy += n > 0;
    }
    pthread_mutex_unlock(&mu);
    ck_assert_uint_eq(total, N_FIRST);
    ck_assert_msg(twice == 0, "%d ticks not handled exactly once", twice);
    ck_assert_msg(split == 0, "%d symbols went to more than one instance", split);
    ck_assert_msg(busy >= 2, "only %d instance(s) got work", busy);

    /* Instance 2 stops while the feed goes on: its partitions move to the
     * others, and no tick falls between the two. */
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, publish_second, NULL), 0);
    usleep(400 * 1000);
    bus_actor_destroy(actors[2]);
    actors[2] = NULL;
    pthread_join(th, NULL);
    uint64_t upto = N_ALL;
    ck_assert_msg(tb_test_wait(all_seen_upto, &upto, 20000),
                  "a tick published during the hand-over was handled by nobody");
    ck_assert_msg(tb_test_wait(views_agree, NULL, 5000),
                  "the two remaining instances do not own every partition");
}
END_TEST

int main(void) {
    Suite *s = suite_create("partition");
    TCase *tc = tcase_create("partition");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, instances_split_keys_and_hand_over_without_gaps);
    suite_add_tcase(s, tc);
    return tb_test_run_suite(s);
}
