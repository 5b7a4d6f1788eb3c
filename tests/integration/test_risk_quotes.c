/* tb-risk-management prices its checks from the ticks it follows (the quote
 * cache of bus/quotes.c, RISK_QUOTE_CACHE) instead of asking market-data for
 * every order: the fixture's fake market-data answers api.market.quote and
 * counts the requests; the test publishes ticks on md.tick.<symbol> as
 * market-data does. The price collar (1 % around the last price) shows
 * which price an order was checked against.
 *
 *   1. the first order asks market-data (the answer came before the
 *      subscription, so it is not vouched for); the second asks again and
 *      its answer, given after the subscription, is kept;
 *   2. a tick at 200 moves the reference: a limit of 100, accepted before,
 *      is refused by the collar, with no further request;
 *   3. orders keep being checked against the ticks without requests until
 *      RISK_QUOTE_VERIFY_MS, then one request confirms the quote. */
#include "test_risk_fixture.h"

static char qacct[48], qsym[48];

static void start(void) {
    snprintf(risk_quote_env[0], sizeof risk_quote_env[0], "RISK_QUOTE_CACHE=16");
    snprintf(risk_quote_env[1], sizeof risk_quote_env[1], "RISK_QUOTE_VERIFY_MS=3000");
    risk_env_start();
}

static void publish_tick(uint64_t seq, tb_fixed last) {
    tb_tick t;
    memset(&t, 0, sizeof t);
    snprintf(t.symbol, sizeof t.symbol, "%s", qsym);
    t.seq = seq;
    t.ts = tb_now_ns();
    t.bid = last - FX(1);
    t.ask = last + FX(1);
    t.last = last;
    char subject[96];
    snprintf(subject, sizeof subject, "md.tick.%s", qsym);
    ck_assert_int_eq(bus_publish(client, subject, &tb_tick_desc, &t, NULL), TB_OK);
    ck_assert_int_eq(bus_conn_flush(client, 2000), TB_OK);
}

/* A limit buy of 1 at price: the outcome's status (TB_OK or TB_REJECTED)
 * and, when refused, the reason in err. */
static tb_status limit_buy(tb_fixed price, tb_error *err) {
    tb_order_request r = order_req(qacct, qsym, "buy", "limit", FX(1));
    r.limit_price = price;
    tb_order_record rec;
    return submit(&r, &rec, err);
}

static bool collar_refuses_100(void *arg) {
    (void)arg;
    tb_error err;
    tb_status s = limit_buy(FX(100), &err);
    return s == TB_REJECTED && strncmp(err.message, "price_collar:", 13) == 0;
}

START_TEST(checks_follow_the_ticks) {
    new_account(qacct, sizeof qacct);
    new_symbol(qsym, sizeof qsym, true, "0.00000001", "0.00000001", "0.00000001", "");
    fake_set_quote(qsym, FX(99), FX(101), FX(100));
    tb_risk_limits l = limits_for(qacct);
    l.price_collar_bps = 100; /* [99, 101] around the last price */
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);

    tb_order_request r = order_req(qacct, qsym, "buy", "limit", FX(1));
    r.limit_price = FX(100);
    int before = fake_quote_requests;
    expect_accept(&r, "first order: market-data's quote 100");
    expect_accept(&r, "second order: market-data's quote 100, now kept");
    ck_assert_int_eq(fake_quote_requests - before, 2);
    expect_accept(&r, "third order: the kept quote");
    ck_assert_int_eq(fake_quote_requests - before, 2);

    /* The fake would still answer 100: only the tick says 200. */
    publish_tick(2, FX(200));
    ck_assert_msg(tb_test_wait(collar_refuses_100, NULL, 5000),
                  "a limit of 100 was never checked against the tick's 200");
    ck_assert_int_eq(fake_quote_requests - before, 2);
    r.limit_price = FX(200);
    expect_accept(&r, "a limit at the tick's price");
    ck_assert_int_eq(fake_quote_requests - before, 2);
    ck_assert(risk_metric("tb_risk_quote_cache_total", "answer=\"cache\"") >= 3);
}
END_TEST

START_TEST(kept_quotes_are_confirmed) {
    /* After RISK_QUOTE_VERIFY_MS (3 s) market-data is asked again, and its
     * answer wins when newer (a higher seq than the last tick heard). */
    fake_set_quote(qsym, FX(299), FX(301), FX(300)); /* the fake answers with seq 1 */
    int before = fake_quote_requests;
    tb_order_request r = order_req(qacct, qsym, "buy", "limit", FX(1));
    r.limit_price = FX(200);
    expect_accept(&r, "within the period: the tick's 200");
    ck_assert_int_eq(fake_quote_requests - before, 0);
    struct timespec pause = {.tv_sec = 3, .tv_nsec = 200 * 1000000};
    nanosleep(&pause, NULL);
    expect_accept(&r, "after the period: confirmed, the tick (seq 2) is newer than seq 1");
    ck_assert_int_eq(fake_quote_requests - before, 1);
}
END_TEST

int main(void) {
    Suite *s = suite_create("risk_quotes");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, start, risk_env_stop);
    tcase_add_test(tc, checks_follow_the_ticks);
    tcase_add_test(tc, kept_quotes_are_confirmed);
    tcase_add_test(tc, risk_stops_cleanly); /* the cache unsubscribes at stop */
    suite_add_tcase(s, tc);
    return run_suite(s) == 0 ? 0 : 1;
}
