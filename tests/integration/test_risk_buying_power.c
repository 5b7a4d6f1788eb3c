/* Buying power in tb-risk-management against the real servers (fixture:
 * test_risk_fixture.h; quotes from its fake market-data). Cash is the
 * account's row in PostgreSQL, positions the positions table, and open
 * orders reserve what they need until they end: a real trading-execution
 * accepts and cancels them. Every amount is derived by hand in the
 * comments (no fees: RISK_FEE_BPS is 0; margin 150 % unless set). */
#include "test_risk_fixture.h"

static pid_t exec_pid;

static void start(void) {
    risk_env_start();
    char bin[1024], log[1100];
    tb_test_bin(bin, sizeof bin, "actors/trading-execution/tb-trading-execution");
    snprintf(log, sizeof log, "%s/Testing/tb-trading-execution-bp.log",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : ".");
    char *argv[] = {bin, NULL};
    exec_pid = tb_test_spawn(argv, NULL, log);
}

static void stop(void) {
    if (exec_pid > 0 && tb_test_stop(exec_pid, 15000) != 0)
        fprintf(stderr, "tb-trading-execution did not exit cleanly\n");
    risk_env_stop();
}

/* An account with this cash and a listed symbol quoted bid 99, ask 101,
 * last 100 (limit prices of 100 are inside the default collar). */
static void setup_account(char *acct, size_t acap, char *sym, size_t scap, const char *cash) {
    new_account(acct, acap);
    new_symbol(sym, scap, true, "1", "0.01", "1", "");
    const char *p[2] = {acct, cash};
    pg_exec("UPDATE accounts SET cash = $2::numeric, initial_cash = $2::numeric WHERE id = $1", 2,
            p);
    fake_set_quote(sym, FX(99), FX(101), FX(100));
}

static tb_order_request limit_order(const char *acct, const char *sym, const char *side,
                                    tb_fixed qty, tb_fixed price, const char *coid) {
    tb_order_request r = order_req(acct, sym, side, "limit", qty);
    r.limit_price = price;
    snprintf(r.tif, sizeof r.tif, "gtc");
    snprintf(r.client_order_id, sizeof r.client_order_id, "%s", coid);
    return r;
}

/* Rejected with insufficient_buying_power and exactly this message. */
static void expect_bp_reject(const tb_order_request *r, const char *message) {
    tb_order_record rec;
    tb_error err;
    tb_status s = submit(r, &rec, &err);
    ck_assert_msg(s == TB_REJECTED, "want rejected, got %s: %s", tb_status_code(s), err.message);
    ck_assert_str_eq(err.message, message);
    ck_assert_str_eq(err.field, "qty");
}

static tb_order_record accept_order(const tb_order_request *r) {
    tb_order_record rec;
    tb_error err;
    tb_status s = submit(r, &rec, &err);
    ck_assert_msg(s == TB_OK, "want accepted, got %s: %s", tb_status_code(s), err.message);
    return rec;
}

static bool order_accepted(void *arg) {
    const char *p[1] = {arg};
    return pg_count("SELECT count(*) FROM orders WHERE order_id = $1 AND status = 'accepted'", 1,
                    p) == 1;
}

START_TEST(buy_beyond_cash_is_refused_until_an_order_ends) {
    char acct[48], sym[48];
    setup_account(acct, sizeof acct, sym, sizeof sym, "10000");
    /* A: 60 x 100 = 6000 <= 10000, rests (no tick crosses it) and reserves 6000. */
    tb_order_request a = limit_order(acct, sym, "buy", FX(60), FX(100), "bp-a");
    tb_order_record ra = accept_order(&a);
    ck_assert_msg(tb_test_wait(order_accepted, ra.order_id, 15000),
                  "trading-execution did not accept %s", ra.order_id);
    /* B: 50 x 100 = 5000 > 10000 - 6000 = 4000. */
    tb_order_request b = limit_order(acct, sym, "buy", FX(50), FX(100), "bp-b");
    expect_bp_reject(&b, "insufficient_buying_power: needed 5000 (50 x 100 + fees 0), "
                         "available 4000");
    /* A reduce-only buy with no short to reduce is refused by reduce_only,
     * not for cash. */
    tb_order_request ro = limit_order(acct, sym, "buy", FX(50), FX(100), "bp-ro");
    ro.reduce_only = true;
    expect_reject(&ro, "reduce_only", "reduce_only", "reduce-only buy without a short");
    /* A canceled releases its 6000: B (same client_order_id) passes,
     * 5000 <= 10000. */
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.id, sizeof q.id, "%s", ra.order_id);
    snprintf(q.account, sizeof q.account, "%s", acct);
    tb_order_record rc;
    tb_error err = {0};
    ck_assert_msg(bus_request(client, "api.orders.cancel", &tb_query_desc, &q,
                              &tb_order_record_desc, &rc, 5000, NULL, &err) == TB_OK,
                  "%s", err.message);
    ck_assert_str_eq(rc.status, "canceled");
    tb_order_record rb = accept_order(&b);
    ck_assert_str_eq(rb.client_order_id, "bp-b");
    /* B's 5000 is reserved now: 60 x 100 = 6000 > 10000 - 5000 = 5000. */
    tb_order_request a2 = limit_order(acct, sym, "buy", FX(60), FX(100), "bp-a2");
    expect_bp_reject(&a2, "insufficient_buying_power: needed 6000 (60 x 100 + fees 0), "
                          "available 5000");
    /* A market buy is valued at the ask: 49 x 101 = 4949 <= 5000 passes;
     * then 1 x 101 = 101 > 5000 - 4949 = 51. */
    tb_order_request m = order_req(acct, sym, "buy", "market", FX(49));
    snprintf(m.client_order_id, sizeof m.client_order_id, "bp-m");
    accept_order(&m);
    tb_order_request m2 = order_req(acct, sym, "buy", "market", FX(1));
    expect_bp_reject(&m2, "insufficient_buying_power: needed 101 (1 x 101 + fees 0), "
                          "available 51");
}
END_TEST

START_TEST(short_sale_needs_margin) {
    char acct[48], sym[48];
    setup_account(acct, sizeof acct, sym, sizeof sym, "1000");
    /* Sell 10 at 100, no position: margin 150 % x 1000 = 1500, the proceeds
     * cover 1000, needed 500 <= 1000. It reserves 500. */
    tb_order_request s1 = limit_order(acct, sym, "sell", FX(10), FX(100), "bp-s1");
    accept_order(&s1);
    /* Sell 30 at 100: margin 4500 less 3000 = 1500 > 1000 - 500 = 500. */
    tb_order_request s2 = limit_order(acct, sym, "sell", FX(30), FX(100), "bp-s2");
    expect_bp_reject(&s2, "insufficient_buying_power: needed 1500 (margin 4500 = 15000 bps of "
                          "3000, less the proceeds, + fees 0), available 500");
    /* At 200 % the same sale needs 6000 - 3000 = 3000; the first one's
     * reservation becomes 1000 x 100 % = 1000: available 0. */
    tb_risk_limits l = limits_for(acct), now;
    l.initial_margin_bps = 20000;
    ck_assert_int_eq(set_limits(&l, &now), TB_OK);
    ck_assert_uint_eq(now.initial_margin_bps, 20000);
    expect_bp_reject(&s2, "insufficient_buying_power: needed 3000 (margin 6000 = 20000 bps of "
                          "3000, less the proceeds, + fees 0), available 0");
    /* At 100 % a short needs nothing beyond its proceeds. */
    l.initial_margin_bps = 10000;
    ck_assert_int_eq(set_limits(&l, &now), TB_OK);
    accept_order(&s2);
    /* Out of range: invalid, field initial_margin_bps. */
    l.initial_margin_bps = 5000;
    ck_assert_int_eq(set_limits(&l, &now), TB_INVALID);
    /* The defaults row reads 15000. */
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.account, sizeof q.account, "_default");
    tb_error err = {0};
    ck_assert_int_eq(bus_request(client, "api.risk.limits.get", &tb_query_desc, &q,
                                 &tb_risk_limits_desc, &now, 5000, NULL, &err),
                     TB_OK);
    ck_assert_uint_eq(now.initial_margin_bps, 15000);
}
END_TEST

START_TEST(reducing_sell_needs_none) {
    char acct[48], sym[48];
    setup_account(acct, sizeof acct, sym, sizeof sym, "0");
    /* Long 10 (as position-management books it), no cash at all. */
    const char *p[2] = {acct, sym};
    pg_exec("INSERT INTO positions (account, symbol, qty, avg_cost, last_price) "
            "VALUES ($1, $2, 10, 100, 100)",
            2, p);
    /* Selling the 10 reduces: nothing needed. */
    tb_order_request s = limit_order(acct, sym, "sell", FX(10), FX(100), "bp-r1");
    accept_order(&s);
    /* The open sell already sells the long: one more shorts 1 at 100,
     * margin 150 less the proceeds 100 = 50 > 0. */
    tb_order_request s2 = limit_order(acct, sym, "sell", FX(1), FX(100), "bp-r2");
    expect_bp_reject(&s2, "insufficient_buying_power: needed 50 (margin 150 = 15000 bps of 100, "
                          "less the proceeds, + fees 0), available 0");
    /* A buy needs cash: 1 x 100 > 0. */
    tb_order_request b = limit_order(acct, sym, "buy", FX(1), FX(100), "bp-r3");
    expect_bp_reject(&b, "insufficient_buying_power: needed 100 (1 x 100 + fees 0), "
                         "available 0");
}
END_TEST

START_TEST(short_position_holds_margin_and_a_cover_needs_none) {
    char acct[48], sym[48];
    setup_account(acct, sizeof acct, sym, sizeof sym, "1600");
    /* Short 10 marked at 100 (the proceeds 1000 are in the 1600 of cash):
     * it holds 150 % x 1000 = 1500, available 100. */
    const char *p[2] = {acct, sym};
    pg_exec("INSERT INTO positions (account, symbol, qty, avg_cost, last_price) "
            "VALUES ($1, $2, -10, 100, 100)",
            2, p);
    /* Buy 2 at 100 beyond a cover of 10: 12 - 10 = 2 open, 200 > 100. */
    tb_order_request b = limit_order(acct, sym, "buy", FX(12), FX(100), "bp-c1");
    expect_bp_reject(&b, "insufficient_buying_power: needed 200 (2 x 100 + fees 0), "
                         "available 100");
    /* Covering the 10 needs nothing. */
    tb_order_request c = limit_order(acct, sym, "buy", FX(10), FX(100), "bp-c2");
    accept_order(&c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("risk_buying_power");
    TCase *tc = tcase_create("buying_power");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, start, stop);
    tcase_add_test(tc, buy_beyond_cash_is_refused_until_an_order_ends);
    tcase_add_test(tc, short_sale_needs_margin);
    tcase_add_test(tc, reducing_sell_needs_none);
    tcase_add_test(tc, short_position_holds_margin_and_a_cover_needs_none);
    tcase_add_test(tc, risk_stops_cleanly);
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
