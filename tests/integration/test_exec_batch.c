/* trading-execution applies the ORDERS stream a batch at a time: a burst of
 * order and cancel messages waiting on the stream is applied in fewer
 * transactions than messages (the orders rows' writers, and
 * tb_exec_order_batches_total), a copy of an
 * order inside the batch changes nothing, a message that cannot be applied
 * (an order never recorded) is dead-lettered alone, market orders trade at
 * the symbol's stored last quote, and a batch whose transaction fails as a
 * whole is applied message by message so that only the bad message fails. */
#include "test_exec_common.h"

#define BURST 40

static pid_t worker;

static void suite_up(void) {
    xt_open("test_exec_batch");
}

static void suite_down(void) {
    if (worker > 0 && tb_test_stop(worker, 30000) != 0)
        fprintf(stderr, "tb-trading-execution did not exit cleanly\n");
    worker = 0;
    xt_close();
}

static char xacct[40], xsym[40];

static void fresh(void) {
    tb_test_unique(xacct, sizeof xacct, "XB");
    tb_test_unique(xsym, sizeof xsym, "XB");
    xt_account(xacct);
}

/* The symbol's last quote as the tick handler stores it. */
static void store_quote(const char *sym, const char *bid, const char *ask) {
    const char *p[3] = {sym, bid, ask};
    xt_exec("INSERT INTO exec_last_quote (symbol, source, seq, bid, ask, ts_ns) VALUES ($1, "
            "'test', 5, $2::numeric, $3::numeric, 1700000000000000000) ON CONFLICT (symbol) DO "
            "UPDATE SET bid = EXCLUDED.bid, ask = EXCLUDED.ask",
            3, p);
}

/* The worker's count of ORDERS batches with that outcome. */
static long long batches(const char *outcome) {
    bus_bytes rb = {0};
    tb_error err = {0};
    ck_assert_msg(bus_request_bytes(xt_conn, "svc.trading-execution.metrics", "", 0, NULL, 5000,
                                    NULL, &rb, &err) == TB_OK,
                  "%s", err.message);
    char want[64];
    snprintf(want, sizeof want, "outcome=\"%s\"} ", outcome);
    long long n = -1;
    for (char *line = rb.data; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, "tb_exec_order_batches_total{", 28) != 0) continue;
        char *end = strchr(line, '\n');
        char *hit = strstr(line, want);
        if (hit && (end == NULL || hit < end)) n = atoll(hit + strlen(want));
    }
    bus_bytes_free(&rb);
    return n;
}

/* Waits until the message with Nats-Msg-Id id reaches the dead letters. */
static void wait_dead_letter(natsSubscription *dlq, const char *id) {
    int64_t end = bus_mono_ns() + INT64_C(20000) * 1000000;
    natsMsg *m = NULL;
    while (bus_mono_ns() < end && natsSubscription_NextMsg(&m, dlq, 1000) != NATS_TIMEOUT) {
        const char *mid = NULL;
        bool hit =
            m && natsMsgHeader_Get(m, BUS_HDR_MSG_ID, &mid) == NATS_OK && strcmp(mid, id) == 0;
        natsMsg_Destroy(m);
        m = NULL;
        if (hit) return;
    }
    ck_abort_msg("%s never reached the dead letters", id);
}

static int order_events(const char *id) {
    const char *p[1] = {id};
    char *s = xt_sql("SELECT count(*) FROM order_events WHERE order_id = $1", 1, p);
    int n = atoi(s);
    free(s);
    return n;
}

START_TEST(burst_applied_in_few_transactions) {
    fresh();
    store_quote(xsym, "50", "50.5");
    /* Everything waits on the stream before the worker starts, so its
     * first fetches hand over the whole burst. */
    char ids[BURST][64];
    for (int i = 0; i < BURST; i++) {
        char tag[16];
        snprintf(tag, sizeof tag, "b%d", i);
        snprintf(ids[i], sizeof ids[i], "%s-%s", xacct, tag);
        xt_submit(xacct, xsym, ids[i], &(xt_order){"buy", "limit", "gtc", "1", "10", NULL, NULL});
    }
    /* a second copy of order 0 (another message id, so JetStream keeps it) */
    char again[96];
    snprintf(again, sizeof again, "again-%s", ids[0]);
    xt_publish_order(xacct, xsym, ids[0], &(xt_order){"buy", "limit", "gtc", "1", "10", NULL, NULL},
                     again);
    /* order 1 canceled in the same batch as its arrival */
    xt_publish_cancel(xacct, ids[1], "user");
    /* an order never recorded: dead-lettered alone */
    char ghost[64];
    snprintf(ghost, sizeof ghost, "%s-ghost", xacct);
    xt_publish_order(xacct, xsym, ghost, &(xt_order){"buy", "limit", "gtc", "1", "10", NULL, NULL},
                     ghost);
    /* a market order: trades at the stored quote, no market-data involved */
    char mkt[64];
    snprintf(mkt, sizeof mkt, "%s-mkt", xacct);
    xt_submit(xacct, xsym, mkt, &(xt_order){"buy", "market", "gtc", "2", NULL, NULL, NULL});

    natsSubscription *dlq = xt_capture(BUS_DLQ_PREFIX "ORDERS.trading-execution");
    worker = xt_worker((char *[]){"EXEC_ORDER_BATCH=256", NULL});
    xt_wait_ready(1);
    xt_wait_state(mkt, "filled 2.00000000 v3");
    xt_fill_is(mkt, 1, "2.00000000 50.50000000 0.00000000 taker");
    xt_wait_state(ids[1], "canceled 0.00000000 v3");
    for (int i = 2; i < BURST; i++) xt_wait_state(ids[i], "accepted 0.00000000 v2");
    xt_wait_state(ids[0], "accepted 0.00000000 v2");
    wait_dead_letter(dlq, ghost);
    natsSubscription_Destroy(dlq);
    /* the copy of order 0 changed nothing */
    ck_assert_int_eq(order_events(ids[0]), 2);
    ck_assert_int_eq(order_events(ids[1]), 3);

    /* The transactions that wrote the burst's orders (other work on the
     * shared durable may add batches of its own to the metric). */
    const char *pa[1] = {xacct};
    char *writers =
        xt_sql("SELECT count(DISTINCT xmin::text) FROM orders WHERE account = $1", 1, pa);
    ck_assert_msg(atoi(writers) >= 1 && atoi(writers) <= (BURST + 4) / 4,
                  "%s transactions for %d messages: not batched", writers, BURST + 4);
    free(writers);
    ck_assert_int_ge(batches("one_transaction"), 1);
    ck_assert_int_eq(batches("one_by_one"), 0);
    ck_assert_int_eq(tb_test_stop(worker, 30000), 0);
    worker = 0;
}
END_TEST

START_TEST(failed_batch_applied_one_by_one) {
    fresh();
    store_quote(xsym, "20", "20.5");
    char a[64], b[64], bad[64];
    snprintf(a, sizeof a, "%s-a", xacct);
    snprintf(b, sizeof b, "%s-b", xacct);
    /* 63 bytes: a valid order id, but too long for its fill's id
     * ("<order_id>-1"), so the batch that fills it cannot be saved */
    snprintf(bad, sizeof bad, "%s-%0*d", xacct, (int)(62 - strlen(xacct)), 7);
    ck_assert_uint_eq(strlen(bad), 63);
    xt_submit(xacct, xsym, a, &(xt_order){"buy", "market", "gtc", "1", NULL, NULL, NULL});
    xt_submit(xacct, xsym, bad, &(xt_order){"buy", "market", "gtc", "1", NULL, NULL, NULL});
    xt_submit(xacct, xsym, b, &(xt_order){"sell", "limit", "gtc", "3", "99", NULL, NULL});

    natsSubscription *dlq = xt_capture(BUS_DLQ_PREFIX "ORDERS.trading-execution");
    worker = xt_worker((char *[]){"EXEC_ORDER_BATCH=64", NULL});
    xt_wait_ready(1);
    xt_wait_state(a, "filled 1.00000000 v3");
    xt_wait_state(b, "accepted 0.00000000 v2");
    wait_dead_letter(dlq, bad);
    natsSubscription_Destroy(dlq);
    xt_wait_state(bad, "new 0.00000000 v1");
    ck_assert_int_eq(xt_fill_count(bad), 0);
    ck_assert_int_eq(xt_fill_count(a), 1);
    ck_assert_int_ge(batches("one_by_one"), 1);
    ck_assert_int_eq(tb_test_stop(worker, 30000), 0);
    worker = 0;
}
END_TEST

int main(void) {
    Suite *s = suite_create("exec_batch");
    TCase *tc = tcase_create("orders");
    tcase_add_unchecked_fixture(tc, suite_up, suite_down);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, burst_applied_in_few_transactions);
    tcase_add_test(tc, failed_batch_applied_one_by_one);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
