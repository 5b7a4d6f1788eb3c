/* Three copies of tb-risk-management behave like one (DESIGN §4): under
 * concurrent submissions a client_order_id makes one order, max_open_orders
 * and the order rate hold exactly, a kill switch engaged during a stream of
 * submissions leaves no open order uncanceled, and a signal delivered
 * several times makes one order. */
#include "test_risk_fixture.h"

#define THREADS 16

typedef struct job {
    tb_order_request req;
    tb_status status;
    tb_error err;
    tb_order_record rec;
    pthread_t thread;
} job;

static void *submit_job(void *arg) {
    job *j = arg;
    j->status = submit(&j->req, &j->rec, &j->err);
    return NULL;
}

/* Submits every job at once (one thread each) and waits for all. */
static void run_jobs(job *jobs, int n) {
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(pthread_create(&jobs[i].thread, NULL, submit_job, &jobs[i]), 0);
    for (int i = 0; i < n; i++) pthread_join(jobs[i].thread, NULL);
}

static void market(char *acct, size_t acap, char *sym, size_t scap) {
    new_account(acct, acap);
    new_symbol(sym, scap, true, "1", "0.01", "1", "");
    fake_set_quote(sym, FX(99), FX(101), FX(100));
}

START_TEST(copies_are_running) {
    ck_assert_int_eq(risk_instances(), 3);
}
END_TEST

START_TEST(concurrent_retries_make_one_order) {
    char acct[48], sym[48];
    market(acct, sizeof acct, sym, sizeof sym);
    static job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i].req = order_req(acct, sym, "buy", "market", FX(2));
        snprintf(jobs[i].req.client_order_id, sizeof jobs[i].req.client_order_id, "same-key");
    }
    run_jobs(jobs, THREADS);
    for (int i = 0; i < THREADS; i++) {
        ck_assert_msg(jobs[i].status == TB_OK, "%s", jobs[i].err.message);
        ck_assert_str_eq(jobs[i].rec.order_id, jobs[0].rec.order_id);
    }
    const char *p[1] = {acct};
    ck_assert_int_eq(pg_count("SELECT count(*) FROM orders WHERE account = $1", 1, p), 1);
    ck_assert_int_eq(pg_count("SELECT count(*) FROM outbox o JOIN orders r ON r.order_id = "
                              "o.msg_id WHERE r.account = $1",
                              1, p),
                     1);
}
END_TEST

START_TEST(open_orders_and_rate_are_exact) {
    char acct[48], sym[48];
    market(acct, sizeof acct, sym, sizeof sym);
    tb_risk_limits l = limits_for(acct);
    l.max_open_orders = 5;
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    static job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) jobs[i].req = order_req(acct, sym, "buy", "market", FX(1));
    run_jobs(jobs, THREADS);
    int ok = 0;
    for (int i = 0; i < THREADS; i++) {
        if (jobs[i].status == TB_OK)
            ok++;
        else
            ck_assert_msg(jobs[i].status == TB_REJECTED &&
                              strncmp(jobs[i].err.message, "max_open_orders:", 16) == 0,
                          "%s", jobs[i].err.message);
    }
    ck_assert_int_eq(ok, 5);
    const char *p[1] = {acct};
    ck_assert_int_eq(pg_count("SELECT count(*) FROM orders WHERE account = $1", 1, p), 5);

    /* order rate: 4 per window across all copies (the fixture's window, a
     * minute, holds the whole burst however slow the machine) */
    char fast[48];
    new_account(fast, sizeof fast);
    l = limits_for(fast);
    l.max_orders_per_sec = 4;
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    for (int i = 0; i < THREADS; i++) jobs[i].req = order_req(fast, sym, "buy", "market", FX(1));
    run_jobs(jobs, THREADS);
    ok = 0;
    for (int i = 0; i < THREADS; i++) {
        if (jobs[i].status == TB_OK)
            ok++;
        else
            ck_assert_msg(strncmp(jobs[i].err.message, "order_rate:", 11) == 0, "%s",
                          jobs[i].err.message);
    }
    ck_assert_int_eq(ok, 4);
}
END_TEST

typedef struct streamer {
    char acct[48], sym[48];
    _Atomic bool stop;
    _Atomic int accepted, rejected_ks, other;
    char other_msg[256];
    pthread_t thread;
} streamer;

static void *stream_orders(void *arg) {
    streamer *s = arg;
    tb_order_request r = order_req(s->acct, s->sym, "buy", "limit", FX(1));
    r.limit_price = FX(100);
    while (!s->stop) {
        tb_order_record rec;
        tb_error err;
        tb_status st = submit(&r, &rec, &err);
        if (st == TB_OK)
            s->accepted++;
        else if (st == TB_REJECTED && strncmp(err.message, "kill_switch_account:", 20) == 0)
            s->rejected_ks++;
        else
            s->other++;
    }
    return NULL;
}

START_TEST(kill_switch_during_a_stream) {
    static streamer st[6];
    char acct[48], sym[48];
    market(acct, sizeof acct, sym, sizeof sym);
    tb_risk_limits l = limits_for(acct);
    l.max_orders_per_sec = 1000000; /* not what this test is about */
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    for (int i = 0; i < 6; i++) {
        memset(&st[i], 0, sizeof st[i]);
        snprintf(st[i].acct, sizeof st[i].acct, "%s", acct);
        snprintf(st[i].sym, sizeof st[i].sym, "%s", sym);
        ck_assert_int_eq(pthread_create(&st[i].thread, NULL, stream_orders, &st[i]), 0);
    }
    usleep(300000);
    tb_kill_switch ks;
    tb_error err;
    ck_assert_msg(kill_switch(acct, true, &ks, &err) == TB_OK, "%s", err.message);
    usleep(300000);
    int accepted = 0, rejected = 0, other = 0;
    for (int i = 0; i < 6; i++) {
        st[i].stop = true;
        pthread_join(st[i].thread, NULL);
        accepted += st[i].accepted;
        rejected += st[i].rejected_ks;
        other += st[i].other;
    }
    ck_assert_msg(other == 0, "%d unexpected replies, e.g. %s", other, st[0].other_msg);
    ck_assert_int_gt(accepted, 0);
    ck_assert_int_gt(rejected, 0);
    const char *p[1] = {acct};
    /* every order that made it in was canceled by the switch; none came after */
    ck_assert_int_eq(pg_count("SELECT count(*) FROM orders WHERE account = $1", 1, p), accepted);
    ck_assert_int_eq((long)ks.canceled, accepted);
    ck_assert_int_eq(pg_count("SELECT count(*) FROM orders o WHERE account = $1 AND NOT EXISTS "
                              "(SELECT 1 FROM outbox x WHERE x.msg_id = 'cancel-' || o.order_id)",
                              1, p),
                     0);
    ck_assert_int_eq(kill_switch(acct, false, &ks, &err), TB_OK);
}
END_TEST

START_TEST(repeated_signal_makes_one_order) {
    char acct[48], sym[48];
    market(acct, sizeof acct, sym, sizeof sym);
    tb_signal s;
    memset(&s, 0, sizeof s);
    tb_test_unique(s.signal_id, sizeof s.signal_id, "sig-");
    snprintf(s.strategy_id, sizeof s.strategy_id, "rsi2");
    snprintf(s.account, sizeof s.account, "%s", acct);
    snprintf(s.symbol, sizeof s.symbol, "%s", sym);
    snprintf(s.side, sizeof s.side, "sell");
    snprintf(s.sizing, sizeof s.sizing, "fixed");
    s.qty = FX(1);
    s.ref_price = FX(100);
    s.tick_seq = 1;
    s.ts = tb_now_ns();
    char subj[160];
    snprintf(subj, sizeof subj, "sig.%s.%s", s.strategy_id, sym);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(bus_publish(client, subj, &tb_signal_desc, &s, NULL), TB_OK);
    ck_assert_int_eq(bus_conn_flush(client, 2000), TB_OK);
    const char *p[1] = {acct};
    int64_t end = bus_mono_ns() + 5000000000;
    while (pg_count("SELECT count(*) FROM orders WHERE account = $1", 1, p) == 0 &&
           bus_mono_ns() < end)
        usleep(20000);
    usleep(500000); /* time for any duplicate to land */
    ck_assert_int_eq(pg_count("SELECT count(*) FROM orders WHERE account = $1", 1, p), 1);
}
END_TEST

int main(void) {
    risk_copies = 3;
    Suite *s = suite_create("risk_scale");
    TCase *tc = tcase_create("scale");
    tcase_add_unchecked_fixture(tc, risk_env_start, risk_env_stop);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, copies_are_running);
    tcase_add_test(tc, concurrent_retries_make_one_order);
    tcase_add_test(tc, open_orders_and_rate_are_exact);
    tcase_add_test(tc, kill_switch_during_a_stream);
    tcase_add_test(tc, repeated_signal_makes_one_order);
    tcase_add_test(tc, risk_stops_cleanly);
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
