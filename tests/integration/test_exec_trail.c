/* Trailing stop orders in trading-execution against the real servers:
 * orders arrive as risk-management sends them (row + ORDERS stream), ticks
 * are published on md.tick.<symbol>. The stop follows the last trade
 * (EXEC_STOP_TRIGGER=last), api.orders.get shows it after every ratchet,
 * and the order fires at the price worked out by hand in each test: a sell
 * with an amount, the same with three workers (the same fills), a buy in
 * basis points with a limit offset (its first stop set by the arrival
 * quote), and a kill -9 of the worker between ratchets and trigger. Workers
 * run with slippage 10 bp, fees 10 bp, minimum fee 0.01. */
#include "test_exec_common.h"

#define MAX_WORKERS 3

static pid_t workers[MAX_WORKERS];
static int nworkers;
static char *worker_env[] = {"EXEC_SLIPPAGE_BPS=10", "EXEC_FEE_BPS=10", "EXEC_FEE_MIN=0.01",
                             "EXEC_RELAY_INTERVAL_MS=200", NULL};

static void start_workers(int n) {
    for (int i = 0; i < n; i++) workers[nworkers++] = xt_worker(worker_env);
    xt_wait_ready(nworkers);
}

static void stop_workers(void) {
    for (int i = 0; i < nworkers; i++) {
        if (tb_test_stop(workers[i], 30000) != 0)
            fprintf(stderr, "tb-trading-execution did not exit cleanly\n");
        workers[i] = 0;
    }
    nworkers = 0;
}

static void suite_up(void) {
    xt_open("test_exec_trail");
    start_workers(1);
}

static void suite_down(void) {
    stop_workers();
    xt_close();
}

static char xacct[40], xsym[40];
static void fresh(void) {
    tb_test_unique(xacct, sizeof xacct, "TA");
    tb_test_unique(xsym, sizeof xsym, "TS");
    xt_account(xacct);
}

/* Records a gtc trailing stop as risk-management does and publishes it;
 * amount, bps and offset as text, NULL (or "") when absent. */
static void submit_trailing(const char *id, const char *side, const char *qty, const char *amount,
                            const char *bps, const char *offset) {
    const char *p[8] = {
        id, xacct, xsym, side, qty, amount ? amount : "", bps ? bps : "", offset ? offset : ""};
    xt_exec("WITH o AS (INSERT INTO orders (order_id, account, symbol, side, type, qty, tif, "
            "source, status, version, trail_amount, trail_bps, limit_offset) VALUES ($1, $2, $3, "
            "$4, 'trailing_stop', $5::numeric, 'gtc', 'api', 'new', 1, $6::numeric, $7::int, "
            "$8::numeric) RETURNING order_id) "
            "INSERT INTO order_events (order_id, version, status) SELECT order_id, 1, 'new' FROM o",
            8, p);
    xt_publish_order(xacct, xsym, id,
                     &(xt_order){side, "trailing_stop", "gtc", qty, NULL, NULL, NULL}, id);
}

static tb_order_record get_order(const char *id) {
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.id, sizeof q.id, "%s", id);
    tb_order_record rec;
    tb_error err = {0};
    ck_assert_msg(bus_request(xt_conn, "api.orders.get", &tb_query_desc, &q, &tb_order_record_desc,
                              &rec, 5000, NULL, &err) == TB_OK,
                  "%s", err.message);
    return rec;
}

typedef struct stop_want {
    const char *id;
    tb_fixed stop;
} stop_want;
static bool stop_reached(void *arg) {
    const stop_want *w = arg;
    return get_order(w->id).trail_stop == w->stop;
}
/* Waits until api.orders.get shows the order's current stop at want. */
static void wait_stop(const char *id, const char *want) {
    stop_want w = {id, F(want)};
    if (!tb_test_wait(stop_reached, &w, 15000))
        ck_abort_msg("order %s: trail_stop %lld, want %s (log %s)", id,
                     (long long)get_order(id).trail_stop, want, xt_log);
}

static char *last_seq_of(const char *symbol) {
    const char *p[1] = {symbol};
    return xt_sql("SELECT last_seq::text FROM exec_symbol_state WHERE symbol = $1", 1, p);
}
typedef struct seq_want {
    const char *sym, *seq;
} seq_want;
static bool seq_reached(void *arg) {
    seq_want *w = arg;
    char *s = last_seq_of(w->sym);
    bool ok = s && strcmp(s, w->seq) == 0;
    free(s);
    return ok;
}
/* Waits until tick seq of the symbol was matched. */
static void wait_seq(const char *seq) {
    seq_want w = {xsym, seq};
    ck_assert_msg(tb_test_wait(seq_reached, &w, 15000), "tick %s of %s not matched (log %s)", seq,
                  xsym, xt_log);
}

/* Exactly one fill message of the order on FILLS, none after it. */
static void one_fill_published(natsSubscription *fills, const char *id) {
    tb_fill f;
    char fid[96];
    snprintf(fid, sizeof fid, "%s-1", id);
    ck_assert_msg(xt_next(fills, &tb_fill_desc, &f, NULL, 5000), "no fill of %s published", id);
    ck_assert_str_eq(f.fill_id, fid);
    ck_assert_msg(!xt_next(fills, &tb_fill_desc, &f, NULL, 500), "a second fill %s", f.fill_id);
}

/* A sell trailing 2 below the highest last trade, qty 2, the order resting
 * before any tick:
 *   seq 1 last 100   -> stop 98 (the first price sets it)
 *   seq 2 last 101   -> 99
 *   seq 3 last 100.5 -> stays 99 (a sell's stop only rises)
 *   seq 4 last 103   -> 101
 *   seq 5 last 101.5 -> stays 101; 101.5 > 101 does not trigger
 *   seq 6 last 101   -> 101 <= 101 triggers: a market sell at the bid
 *         100.9 less 10 bp = 100.9 * 9990 / 10000 = 100.7991 (rounded
 *         down); fee 2 * 100.7991 * 10 bp = 0.2015982. */
static void sell_trailing_amount(const char *tag, bool burst) {
    fresh();
    char id[64], subj[128];
    snprintf(id, sizeof id, "%s-%s", xacct, tag);
    snprintf(subj, sizeof subj, "fills.%s.>", xacct);
    natsSubscription *fills = xt_capture(subj);
    submit_trailing(id, "sell", "2", "2", NULL, NULL);
    xt_wait_state(id, "accepted 0.00000000 v2");
    tb_order_record rec = get_order(id);
    ck_assert_str_eq(rec.type, "trailing_stop");
    ck_assert_int_eq(rec.trail_amount, F("2"));
    ck_assert_int_eq(rec.trail_bps, 0);
    ck_assert_int_eq(rec.trail_stop, 0); /* no price seen yet */
    const xt_tick path[] = {{"99.9", "100.1", "100", NULL, NULL, NULL},
                            {"100.9", "101.1", "101", NULL, NULL, NULL},
                            {"100.4", "100.6", "100.5", NULL, NULL, NULL},
                            {"102.9", "103.1", "103", NULL, NULL, NULL},
                            {"101.4", "101.6", "101.5", NULL, NULL, NULL}};
    const char *stops[] = {"98", "99", "99", "101", "101"};
    for (int i = 0; i < 5; i++) {
        char seq[8];
        snprintf(seq, sizeof seq, "%d", i + 1);
        xt_tick_pub(xsym, (uint64_t)i + 1, &path[i]);
        if (burst) continue; /* the ticks back to back, spread over the workers */
        wait_seq(seq);
        ck_assert_msg(get_order(id).trail_stop == F(stops[i]), "after seq %d: stop %lld", i + 1,
                      (long long)get_order(id).trail_stop);
    }
    if (burst) wait_seq("5");
    ck_assert_int_eq(get_order(id).trail_stop, F("101"));
    ck_assert_int_eq(xt_fill_count(id), 0);
    xt_tick_pub(xsym, 6, &(xt_tick){"100.9", "101.1", "101", NULL, NULL, NULL});
    xt_wait_state(id, "filled 2.00000000 v3");
    xt_fill_is(id, 1, "2.00000000 100.79910000 0.20159820 taker");
    ck_assert_int_eq(xt_fill_count(id), 1);
    one_fill_published(fills, id);
    natsSubscription_Destroy(fills);
    rec = get_order(id);
    ck_assert_int_eq(rec.trail_stop, F("101"));
    ck_assert_int_eq(rec.avg_price, F("100.7991"));
}

START_TEST(sell_trailing_amount_one_worker) {
    sell_trailing_amount("s1", false);
}
END_TEST

/* The same path with three workers sharing the ticks: the same fill, with
 * the ticks one at a time and back to back (in any order at the workers,
 * matched in sequence). */
START_TEST(sell_trailing_amount_three_workers) {
    start_workers(2);
    sell_trailing_amount("s3", false);
    sell_trailing_amount("s4", true);
    stop_workers();
    start_workers(1);
}
END_TEST

/* A buy trailing 100 bp above the lowest last trade with a limit offset
 * 0.5, qty 3, arriving on a quote:
 *   quote last 50    -> stop 50 * 10100 / 10000 = 50.5 (set on arrival)
 *   seq 2 last 48    -> 48.48
 *   seq 3 last 48.4  -> stays 48.48 (48.884 is higher: a buy's stop only
 *                       falls); 48.4 < 48.48 does not trigger
 *   seq 4 last 47.3  -> 47.773
 *   seq 5 last 47.8  -> 47.8 >= 47.773 triggers: a buy limit at 47.773 +
 *                       0.5 = 48.273, the ask 48.4 is above it: it rests
 *   seq 6 last 45    -> the stop stays (triggered); the ask 45.1 is within
 *                       the limit: 3 at 45.1, no slippage (a limit order),
 *                       maker (it rested); fee 135.3 * 10 bp = 0.1353. */
START_TEST(buy_trailing_bps_with_limit_offset) {
    fresh();
    char id[64];
    snprintf(id, sizeof id, "%s-b1", xacct);
    xt_set_quote(xsym, 1, &(xt_tick){"49.9", "50.1", "50", NULL, NULL, NULL});
    submit_trailing(id, "buy", "3", NULL, "100", "0.5");
    xt_wait_state(id, "accepted 0.00000000 v2");
    tb_order_record rec = get_order(id);
    ck_assert_int_eq(rec.trail_bps, 100);
    ck_assert_int_eq(rec.limit_offset, F("0.5"));
    ck_assert_int_eq(rec.trail_stop, F("50.5"));
    const xt_tick path[] = {{"47.9", "48.1", "48", NULL, NULL, NULL},
                            {"48.3", "48.5", "48.4", NULL, NULL, NULL},
                            {"47.2", "47.4", "47.3", NULL, NULL, NULL},
                            {"47.7", "48.4", "47.8", NULL, NULL, NULL}};
    const char *stops[] = {"48.48", "48.48", "47.773", "47.773"};
    for (int i = 0; i < 4; i++) {
        char seq[8];
        snprintf(seq, sizeof seq, "%d", i + 2);
        xt_tick_pub(xsym, (uint64_t)i + 2, &path[i]);
        wait_seq(seq);
        ck_assert_msg(get_order(id).trail_stop == F(stops[i]), "after seq %d: stop %lld", i + 2,
                      (long long)get_order(id).trail_stop);
    }
    const char *p[1] = {id};
    char *trig = xt_sql("SELECT triggered_at IS NOT NULL FROM orders WHERE order_id = $1", 1, p);
    ck_assert_str_eq(trig, "t");
    free(trig);
    xt_wait_state(id, "accepted 0.00000000 v2");
    ck_assert_int_eq(xt_fill_count(id), 0);
    xt_tick_pub(xsym, 6, &(xt_tick){"44.9", "45.1", "45", NULL, NULL, NULL});
    xt_wait_state(id, "filled 3.00000000 v3");
    xt_fill_is(id, 1, "3.00000000 45.10000000 0.13530000 maker");
    ck_assert_int_eq(get_order(id).trail_stop, F("47.773"));
}
END_TEST

/* kill -9 between ratchets and trigger: a sell trailing 1, qty 1, and a
 * buy trailing 2, qty 1.
 *   seq 1 last 50 -> sell 49, buy 52
 *   seq 2 last 52 -> sell 51, buy stays 52 (52 >= 52 triggers it: a market
 *                    buy at the ask 52.1 + 10 bp = 52.1521 (rounded up);
 *                    fee 0.0521521 -> 0.05215210)
 *   seq 3 last 55 -> sell 54
 * kill -9, restart: the sell's stop is still 54
 *   seq 4 last 54.5 -> stays 54, no trigger
 *   seq 5 last 54   -> triggers: a market sell at the bid 53.9 less 10 bp =
 *                      53.8461; fee 0.0538461 -> 0.05384610. */
START_TEST(stop_survives_kill_9) {
    fresh();
    char sell[64], buy[64], subj[128];
    snprintf(sell, sizeof sell, "%s-k1", xacct);
    snprintf(buy, sizeof buy, "%s-k2", xacct);
    snprintf(subj, sizeof subj, "fills.%s.>", xacct);
    natsSubscription *fills = xt_capture(subj);
    submit_trailing(sell, "sell", "1", "1", NULL, NULL);
    submit_trailing(buy, "buy", "1", "2", NULL, NULL);
    xt_wait_state(sell, "accepted 0.00000000 v2");
    xt_wait_state(buy, "accepted 0.00000000 v2");
    xt_tick_pub(xsym, 1, &(xt_tick){"49.9", "50.1", "50", NULL, NULL, NULL});
    wait_stop(sell, "49");
    wait_stop(buy, "52");
    xt_tick_pub(xsym, 2, &(xt_tick){"51.9", "52.1", "52", NULL, NULL, NULL});
    wait_stop(sell, "51");
    xt_wait_state(buy, "filled 1.00000000 v3");
    xt_fill_is(buy, 1, "1.00000000 52.15210000 0.05215210 taker");
    xt_tick_pub(xsym, 3, &(xt_tick){"54.9", "55.1", "55", NULL, NULL, NULL});
    wait_stop(sell, "54");

    ck_assert_int_eq(kill(workers[0], SIGKILL), 0);
    ck_assert_int_eq(tb_test_wait_exit(workers[0], 10000), 128 + SIGKILL);
    nworkers = 0;
    start_workers(1);
    ck_assert_int_eq(get_order(sell).trail_stop, F("54"));
    xt_wait_state(sell, "accepted 0.00000000 v2");

    xt_tick_pub(xsym, 4, &(xt_tick){"54.4", "54.6", "54.5", NULL, NULL, NULL});
    wait_seq("4");
    ck_assert_int_eq(get_order(sell).trail_stop, F("54"));
    ck_assert_int_eq(xt_fill_count(sell), 0);
    xt_tick_pub(xsym, 5, &(xt_tick){"53.9", "54.1", "54", NULL, NULL, NULL});
    xt_wait_state(sell, "filled 1.00000000 v3");
    xt_fill_is(sell, 1, "1.00000000 53.84610000 0.05384610 taker");
    ck_assert_int_eq(xt_fill_count(sell), 1);
    ck_assert_int_eq(xt_fill_count(buy), 1);
    /* each order's one fill published once: the buy's before the kill, the
     * sell's after (in either order) */
    tb_fill f[3];
    int n = 0;
    while (n < 3 && xt_next(fills, &tb_fill_desc, &f[n], NULL, n < 2 ? 5000 : 500)) n++;
    ck_assert_int_eq(n, 2);
    ck_assert_str_ne(f[0].fill_id, f[1].fill_id);
    natsSubscription_Destroy(fills);
}
END_TEST

int main(void) {
    Suite *s = suite_create("exec_trail");
    TCase *tc = tcase_create("trailing");
    tcase_add_unchecked_fixture(tc, suite_up, suite_down);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, sell_trailing_amount_one_worker);
    tcase_add_test(tc, sell_trailing_amount_three_workers);
    tcase_add_test(tc, buy_trailing_bps_with_limit_offset);
    tcase_add_test(tc, stop_survives_kill_9);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
