/* A burst of ticks, published back to back so the worker receives them as
 * one batch or a few, crosses several resting limit and stop orders: every
 * fill must have the price of the tick it executed on, in sequence order,
 * and the same burst delivered again must not fill anything twice. One
 * worker, no slippage, no fees. */
#include "test_exec_common.h"

static char *worker_env[] = {"EXEC_RELAY_INTERVAL_MS=200", NULL};

/* bid, ask, last; sizes are 1 on every side so each tick fills one unit */
static const char *burst[][3] = {
    {"100.4", "100.6", "100.5"}, /* 1: nothing crosses */
    {"99.9", "100", "100"},      /* 2: A buys 1 @ 100 */
    {"99.8", "99.9", "99.9"},    /* 3: A buys 1 @ 99.9 */
    {"98.9", "99", "99"},        /* 4: A buys 1 @ 99 (filled); D triggers, sells 1 @ 98.9 */
    {"100.4", "100.5", "100.5"}, /* 5: nothing */
    {"101", "101.1", "101"},     /* 6: B sells 1 @ 101 */
    {"101.5", "101.6", "101.6"}, /* 7: B sells 1 @ 101.5 (filled); C triggers, buys 1 @ 101.6 */
    {"101.7", "101.8", "101.8"}, /* 8: C buys 1 @ 101.8 (filled) */
    {"100", "100.1", "100"},     /* 9: nothing */
    {"100", "100.1", "100"},     /* 10: nothing */
};
#define N_BURST (sizeof burst / sizeof burst[0])

static void publish_burst(const char *sym) {
    for (size_t i = 0; i < N_BURST; i++) {
        tb_tick t;
        memset(&t, 0, sizeof t);
        snprintf(t.symbol, sizeof t.symbol, "%s", sym);
        snprintf(t.source, sizeof t.source, "test");
        t.seq = i + 1;
        t.ts = tb_now_ns();
        t.bid = F(burst[i][0]);
        t.ask = F(burst[i][1]);
        t.last = F(burst[i][2]);
        t.bid_size = t.ask_size = t.last_size = F("1");
        char subject[128];
        snprintf(subject, sizeof subject, "md.tick.%s", sym);
        ck_assert_int_eq(bus_publish(xt_conn, subject, &tb_tick_desc, &t, NULL), TB_OK);
    }
    ck_assert_int_eq(bus_conn_flush(xt_conn, 2000), TB_OK);
}

typedef struct seq_want {
    const char *sym, *seq;
} seq_want;
static bool seq_reached(void *arg) {
    seq_want *w = arg;
    const char *p[1] = {w->sym};
    char *s = xt_sql("SELECT last_seq::text FROM exec_symbol_state WHERE symbol = $1", 1, p);
    bool ok = s && strcmp(s, w->seq) == 0;
    free(s);
    return ok;
}

static char *account_fills(const char *acct) {
    const char *p[1] = {acct};
    return xt_sql("SELECT count(*)::text FROM fills WHERE account = $1", 1, p);
}

START_TEST(burst_fills_every_crossing_order_at_its_tick) {
    char acct[40], sym[40], id[5][64];
    tb_test_unique(acct, sizeof acct, "XB");
    tb_test_unique(sym, sizeof sym, "XT");
    xt_account(acct);
    const xt_order book[5] = {
        {"buy", "limit", "gtc", "3", "100", NULL, NULL},  /* A */
        {"sell", "limit", "gtc", "2", "101", NULL, NULL}, /* B */
        {"buy", "stop", "gtc", "2", NULL, "101.5", NULL}, /* C */
        {"sell", "stop", "gtc", "1", NULL, "99", NULL},   /* D */
        {"buy", "limit", "gtc", "1", "1", NULL, NULL},    /* E: never fills */
    };
    for (int i = 0; i < 5; i++) {
        snprintf(id[i], sizeof id[i], "%s-%c", acct, 'A' + i);
        xt_submit(acct, sym, id[i], &book[i]);
    }
    for (int i = 0; i < 5; i++) xt_wait_state(id[i], "accepted 0.00000000 v2");
    natsSubscription *fills = xt_capture("fills.>");

    publish_burst(sym);
    seq_want w = {sym, "10"};
    ck_assert_msg(tb_test_wait(seq_reached, &w, 15000), "burst not matched (log %s)", xt_log);

    xt_wait_state(id[0], "filled 3.00000000 v5");
    xt_fill_is(id[0], 1, "1.00000000 100.00000000 0.00000000 maker");
    xt_fill_is(id[0], 2, "1.00000000 99.90000000 0.00000000 maker");
    xt_fill_is(id[0], 3, "1.00000000 99.00000000 0.00000000 maker");
    xt_wait_state(id[1], "filled 2.00000000 v4");
    xt_fill_is(id[1], 1, "1.00000000 101.00000000 0.00000000 maker");
    xt_fill_is(id[1], 2, "1.00000000 101.50000000 0.00000000 maker");
    xt_wait_state(id[2], "filled 2.00000000 v4");
    xt_fill_is(id[2], 1, "1.00000000 101.60000000 0.00000000 taker");
    xt_fill_is(id[2], 2, "1.00000000 101.80000000 0.00000000 taker");
    xt_wait_state(id[3], "filled 1.00000000 v3");
    xt_fill_is(id[3], 1, "1.00000000 98.90000000 0.00000000 taker");
    xt_wait_state(id[4], "accepted 0.00000000 v2");
    char *n = account_fills(acct);
    ck_assert_str_eq(n, "8");
    free(n);

    /* every fill is published once, with its fill id as Nats-Msg-Id */
    int seen = 0;
    tb_fill f;
    char msg_id[64];
    while (seen < 8 && xt_next(fills, &tb_fill_desc, &f, msg_id, 5000)) {
        if (strcmp(f.account, acct) != 0) continue;
        ck_assert_str_eq(msg_id, f.fill_id);
        seen++;
    }
    ck_assert_int_eq(seen, 8);

    /* the whole burst again (a redelivery), then tick 11 crossing E: the
     * repeated ticks are stale and fill nothing */
    publish_burst(sym);
    xt_tick_pub(sym, 11, &(xt_tick){"0.5", "0.9", "0.9", "1", "1", "1"});
    xt_wait_state(id[4], "filled 1.00000000 v3");
    xt_fill_is(id[4], 1, "1.00000000 0.90000000 0.00000000 maker");
    n = account_fills(acct);
    ck_assert_str_eq(n, "9");
    free(n);
    const char *p[1] = {sym};
    char *left = xt_sql("SELECT count(*)::text FROM exec_tick_journal WHERE symbol = $1", 1, p);
    ck_assert_str_eq(left, "0");
    free(left);
    natsSubscription_Destroy(fills);
}
END_TEST

static pid_t worker;

static void suite_up(void) {
    xt_open("test_exec_burst");
    worker = xt_worker(worker_env);
    xt_wait_ready(1);
}

/* Stops what the last test did not (it failed early). */
static void suite_down(void) {
    if (tb_test_stop(worker, 30000) != 0)
        fprintf(stderr, "tb-trading-execution did not exit cleanly\n");
    xt_close();
}

/* Last: the service drains and exits 0 (under ASan: without leaks or memory
 * errors). A test, not the teardown: a failure in an unchecked teardown is
 * not recorded. */
START_TEST(execution_stops_cleanly) {
    int rc = tb_test_stop(worker, 30000);
    worker = 0;
    ck_assert_msg(rc == 0, "tb-trading-execution exited with %d (see %s)", rc, xt_log);
}
END_TEST

int main(void) {
    Suite *s = suite_create("exec_burst");
    TCase *tc = tcase_create("burst");
    tcase_add_unchecked_fixture(tc, suite_up, suite_down);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, burst_fills_every_crossing_order_at_its_tick);
    tcase_add_test(tc, execution_stops_cleanly);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
