/* trading-execution end to end against the real servers: orders arrive as
 * risk-management sends them (row in PostgreSQL + ORDERS stream), ticks on
 * md.tick.<symbol>; fills must be recorded in PostgreSQL and published on
 * FILLS with Nats-Msg-Id = fill id, every transition published on
 * orders.status.<account>, and the rows end in the right state. Covers
 * market/limit/stop orders, arrival quotes, partial fills, IOC/FOK, cancel
 * via api.orders.cancel and via orders.cancel.<account>, day expiry,
 * redelivered orders, stale ticks, ticks out of order and after a gap, and
 * api.orders.get|list. One worker
 * runs with slippage 10 bp, fees 10 bp, minimum fee 0.01. */
#include "test_exec_common.h"

static pid_t worker;
static char *worker_env[] = {"EXEC_SLIPPAGE_BPS=10",       "EXEC_FEE_BPS=10",
                             "EXEC_FEE_MIN=0.01",          "EXEC_EXPIRY_INTERVAL_MS=200",
                             "EXEC_RELAY_INTERVAL_MS=200", NULL};

static void suite_up(void) {
    xt_open("test_exec_orders");
    worker = xt_worker(worker_env);
    xt_wait_ready(1);
}

/* Stops what the last test did not (it failed early). */
static void suite_down(void) {
    if (tb_test_stop(worker, 30000) != 0)
        fprintf(stderr, "tb-trading-execution did not exit cleanly\n");
    xt_close();
}

/* A fresh account and symbol per test. */
static char xacct[40], xsym[40];
static void fresh(void) {
    tb_test_unique(xacct, sizeof xacct, "XA");
    tb_test_unique(xsym, sizeof xsym, "XS");
    xt_account(xacct);
}

/* An RFC 3339 time in the previous UTC day. */
static const char *yesterday_ts(void) {
    static char buf[40];
    tb_ts_format(tb_now_ns() - INT64_C(86400) * 1000000000, buf);
    return buf;
}
#define YESTERDAY yesterday_ts()

static void order_id(char *out, size_t cap, const char *tag) {
    snprintf(out, cap, "%s-%s", xacct, tag);
}

static char *last_seq_of(const char *symbol) {
    const char *p[1] = {symbol};
    return xt_sql("SELECT last_seq::text FROM exec_symbol_state WHERE symbol = $1", 1, p);
}

typedef struct seq_want {
    const char *xsym;
    const char *seq;
} seq_want;
static bool seq_reached(void *arg) {
    seq_want *w = arg;
    char *s = last_seq_of(w->xsym);
    bool ok = s && strcmp(s, w->seq) == 0;
    free(s);
    return ok;
}
/* Waits until the worker matched the tick seq of symbol. */
static void wait_seq(const char *symbol, const char *seq) {
    seq_want w = {symbol, seq};
    ck_assert_msg(tb_test_wait(seq_reached, &w, 15000), "tick %s of %s not matched (log %s)", seq,
                  symbol, xt_log);
}

static void expect_status(natsSubscription *sub, const char *id, const char *status,
                          uint64_t version, const char *filled, const char *reason) {
    tb_order_status st;
    ck_assert_msg(xt_next(sub, &tb_order_status_desc, &st, NULL, 5000), "no orders.status %s v%llu",
                  status, (unsigned long long)version);
    ck_assert_str_eq(st.order_id, id);
    ck_assert_str_eq(st.status, status);
    ck_assert_int_eq(st.version, version);
    ck_assert_int_eq(st.filled_qty, F(filled));
    ck_assert_str_eq(st.reason, reason);
}

START_TEST(market_order_rests_then_fills_on_tick) {
    fresh();
    char id[64], subj[128];
    order_id(id, sizeof id, "m1");
    snprintf(subj, sizeof subj, "orders.status.%s", xacct);
    natsSubscription *status = xt_capture(subj);
    snprintf(subj, sizeof subj, "fills.%s.>", xacct);
    natsSubscription *fills = xt_capture(subj);

    xt_submit(xacct, xsym, id, &(xt_order){"buy", "market", "day", "10", NULL, NULL, NULL});
    /* no quote for the symbol: accepted, resting */
    xt_wait_state(id, "accepted 0.00000000 v2");
    ck_assert_int_eq(xt_fill_count(id), 0);
    xt_tick_pub(xsym, 1, &(xt_tick){"99", "100", "99.5", NULL, NULL, NULL});
    xt_wait_state(id, "filled 10.00000000 v3");
    /* 100 + 10 bp = 100.1; fee 10 * 100.1 * 10 bp = 1.001 */
    xt_fill_is(id, 1, "10.00000000 100.10000000 1.00100000 taker");
    ck_assert_int_eq(xt_fill_count(id), 1);

    tb_fill f;
    char msg_id[64], fid[96];
    snprintf(fid, sizeof fid, "%.60s-1", id);
    ck_assert(xt_next(fills, &tb_fill_desc, &f, msg_id, 5000));
    ck_assert_str_eq(f.fill_id, fid);
    ck_assert_str_eq(msg_id, fid);
    ck_assert_str_eq(f.order_id, id);
    ck_assert_str_eq(f.symbol, xsym);
    ck_assert_str_eq(f.side, "buy");
    ck_assert_int_eq(f.qty, F("10"));
    ck_assert_int_eq(f.price, F("100.1"));
    ck_assert_int_eq(f.fee, F("1.001"));
    ck_assert_str_eq(f.liquidity, "taker");
    ck_assert(!xt_next(fills, &tb_fill_desc, &f, NULL, 300)); /* exactly one */

    expect_status(status, id, "accepted", 2, "0", "");
    expect_status(status, id, "filled", 3, "10", "");
    natsSubscription_Destroy(status);
    natsSubscription_Destroy(fills);
    const char *p[1] = {id};
    char *n = xt_sql("SELECT count(*) FROM order_events WHERE order_id = $1", 1, p);
    ck_assert_str_eq(n, "3"); /* new, accepted, filled */
    free(n);
    char *avg = xt_sql("SELECT avg_price::text FROM orders WHERE order_id = $1", 1, p);
    ck_assert_str_eq(avg, "100.10000000");
    free(avg);
}
END_TEST

START_TEST(market_order_fills_on_arrival_quote) {
    fresh();
    char id[64], small[64];
    order_id(id, sizeof id, "q1");
    order_id(small, sizeof small, "q2");
    xt_set_quote(xsym, 7, &(xt_tick){"50", "50.5", "50.2", NULL, NULL, NULL});
    xt_submit(xacct, xsym, id, &(xt_order){"sell", "market", "gtc", "4", NULL, NULL, NULL});
    xt_wait_state(id, "filled 4.00000000 v3");
    /* 50 - 10 bp = 49.95; fee 4 * 49.95 * 10 bp = 0.1998 */
    xt_fill_is(id, 1, "4.00000000 49.95000000 0.19980000 taker");
    /* 0.001 * 50.0505 = 0.0500505 notional: 10 bp is below the 0.01 minimum */
    xt_submit(xacct, xsym, small, &(xt_order){"buy", "market", "gtc", "0.001", NULL, NULL, NULL});
    xt_wait_state(small, "filled 0.00100000 v3");
    xt_fill_is(small, 1, "0.00100000 50.55050000 0.01000000 taker");
}
END_TEST

START_TEST(limit_partial_fill_then_api_cancel) {
    fresh();
    char id[64];
    order_id(id, sizeof id, "l1");
    xt_submit(xacct, xsym, id, &(xt_order){"buy", "limit", "gtc", "10", "100", NULL, NULL});
    xt_wait_state(id, "accepted 0.00000000 v2");
    xt_tick_pub(xsym, 1, &(xt_tick){"100.5", "101", "101", NULL, NULL, NULL});
    wait_seq(xsym, "1");
    ck_assert_int_eq(xt_fill_count(id), 0);
    xt_tick_pub(xsym, 2, &(xt_tick){"99", "99.5", "99.5", NULL, "4", NULL});
    xt_wait_state(id, "partially_filled 4.00000000 v3");
    xt_fill_is(id, 1, "4.00000000 99.50000000 0.39800000 maker");

    /* another account's scope does not see it */
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.id, sizeof q.id, "%s", id);
    snprintf(q.accounts, sizeof q.accounts, "someone-else,%s-x", xacct);
    tb_order_record rec;
    tb_error err = {0};
    ck_assert_int_eq(bus_request(xt_conn, "api.orders.cancel", &tb_query_desc, &q,
                                 &tb_order_record_desc, &rec, 5000, NULL, &err),
                     TB_NOT_FOUND);
    snprintf(q.accounts, sizeof q.accounts, "someone-else,%s", xacct);
    ck_assert_msg(bus_request(xt_conn, "api.orders.cancel", &tb_query_desc, &q,
                              &tb_order_record_desc, &rec, 5000, NULL, &err) == TB_OK,
                  "%s", err.message);
    ck_assert_str_eq(rec.order_id, id);
    ck_assert_str_eq(rec.status, "canceled");
    ck_assert_int_eq(rec.filled_qty, F("4"));
    ck_assert_int_eq(rec.avg_price, F("99.5"));
    ck_assert_str_eq(rec.reason, "user");
    xt_wait_state(id, "canceled 4.00000000 v4");
    /* a second cancel: already terminal */
    ck_assert_int_eq(bus_request(xt_conn, "api.orders.cancel", &tb_query_desc, &q,
                                 &tb_order_record_desc, &rec, 5000, NULL, &err),
                     TB_CONFLICT);
    memset(&q, 0, sizeof q);
    snprintf(q.id, sizeof q.id, "%.50s-nope", id);
    ck_assert_int_eq(bus_request(xt_conn, "api.orders.cancel", &tb_query_desc, &q,
                                 &tb_order_record_desc, &rec, 5000, NULL, &err),
                     TB_NOT_FOUND);
    /* the market crossing again fills nothing more */
    char other[64];
    order_id(other, sizeof other, "l2");
    xt_submit(xacct, xsym, other, &(xt_order){"buy", "limit", "gtc", "1", "50", NULL, NULL});
    xt_wait_state(other, "accepted 0.00000000 v2");
    xt_tick_pub(xsym, 3, &(xt_tick){"98", "98.5", NULL, NULL, NULL, NULL});
    wait_seq(xsym, "3");
    ck_assert_int_eq(xt_fill_count(id), 1);
}
END_TEST

START_TEST(cancel_via_orders_stream) {
    fresh();
    char id[64], subj[128];
    order_id(id, sizeof id, "c1");
    snprintf(subj, sizeof subj, "orders.status.%s", xacct);
    natsSubscription *status = xt_capture(subj);
    xt_submit(xacct, xsym, id, &(xt_order){"sell", "limit", "gtc", "5", "200", NULL, NULL});
    xt_wait_state(id, "accepted 0.00000000 v2");
    xt_publish_cancel(xacct, id, "kill_switch");
    xt_wait_state(id, "canceled 0.00000000 v3");
    expect_status(status, id, "accepted", 2, "0", "");
    expect_status(status, id, "canceled", 3, "0", "kill_switch");
    /* a cancel of a terminal order changes nothing and is not dead-lettered */
    char late[64];
    order_id(late, sizeof late, "c2");
    xt_submit(xacct, xsym, late, &(xt_order){"sell", "limit", "gtc", "5", "200", NULL, NULL});
    xt_wait_state(late, "accepted 0.00000000 v2");
    xt_publish_cancel(xacct, late, "");
    xt_wait_state(late, "canceled 0.00000000 v3");
    const char *p[1] = {late};
    char *reason = xt_sql("SELECT reason FROM orders WHERE order_id = $1", 1, p);
    ck_assert_str_eq(reason, "user");
    free(reason);
    natsSubscription_Destroy(status);
}
END_TEST

START_TEST(cancel_before_acceptance) {
    /* the cancel is processed first (both on ORDERS): the order never trades */
    fresh();
    char id[64];
    order_id(id, sizeof id, "cb");
    xt_order o = {"buy", "market", "gtc", "1", NULL, NULL, NULL};
    xt_insert(xacct, xsym, id, &o);
    xt_publish_cancel(xacct, id, "user");
    xt_wait_state(id, "canceled 0.00000000 v2");
    xt_publish_order(xacct, xsym, id, &o, id);
    xt_tick_pub(xsym, 1, &(xt_tick){"1", "1.1", NULL, NULL, NULL, NULL});
    usleep(300000);
    xt_wait_state(id, "canceled 0.00000000 v2");
    ck_assert_int_eq(xt_fill_count(id), 0);
}
END_TEST

START_TEST(ioc_and_fok) {
    fresh();
    char ioc[64], fok1[64], fok2[64], sym2[48], sym3[48];
    order_id(ioc, sizeof ioc, "ioc");
    order_id(fok1, sizeof fok1, "fok1");
    order_id(fok2, sizeof fok2, "fok2");
    tb_test_unique(sym2, sizeof sym2, "XF");
    tb_test_unique(sym3, sizeof sym3, "XG");
    /* IOC market 10 against 3 on the ask: 3 filled, the rest canceled */
    xt_submit(xacct, xsym, ioc, &(xt_order){"buy", "market", "ioc", "10", NULL, NULL, NULL});
    xt_wait_state(ioc, "accepted 0.00000000 v2");
    xt_tick_pub(xsym, 1, &(xt_tick){"99.9", "100", NULL, NULL, "3", NULL});
    xt_wait_state(ioc, "canceled 3.00000000 v4");
    xt_fill_is(ioc, 1, "3.00000000 100.10000000 0.30030000 taker");
    /* FOK limit 10 @ 101 against 3: nothing, canceled */
    xt_submit(xacct, sym2, fok1, &(xt_order){"buy", "limit", "fok", "10", "101", NULL, NULL});
    xt_wait_state(fok1, "accepted 0.00000000 v2");
    xt_tick_pub(sym2, 1, &(xt_tick){"99.9", "100", NULL, NULL, "3", NULL});
    xt_wait_state(fok1, "canceled 0.00000000 v3");
    ck_assert_int_eq(xt_fill_count(fok1), 0);
    const char *p[1] = {fok1};
    char *reason = xt_sql("SELECT reason FROM orders WHERE order_id = $1", 1, p);
    ck_assert_str_eq(reason, "fok_unfillable");
    free(reason);
    /* FOK with enough size: all of it (a symbol without a tick yet, so the
     * order rests until one instead of meeting sym2's last quote) */
    xt_submit(xacct, sym3, fok2, &(xt_order){"buy", "limit", "fok", "10", "101", NULL, NULL});
    xt_wait_state(fok2, "accepted 0.00000000 v2");
    xt_tick_pub(sym3, 1, &(xt_tick){"99.9", "100", NULL, NULL, "10", NULL});
    xt_wait_state(fok2, "filled 10.00000000 v3");
    xt_fill_is(fok2, 1, "10.00000000 100.00000000 1.00000000 maker");
}
END_TEST

START_TEST(redelivery_and_stale_ticks_fill_once) {
    fresh();
    char id[64], again[128];
    order_id(id, sizeof id, "r1");
    xt_order o = {"buy", "limit", "gtc", "10", "100", NULL, NULL};
    xt_submit(xacct, xsym, id, &o);
    xt_wait_state(id, "accepted 0.00000000 v2");
    xt_tick_pub(xsym, 1, &(xt_tick){"98", "99", NULL, NULL, "4", NULL});
    xt_wait_state(id, "partially_filled 4.00000000 v3");
    /* the same tick again, and the same order message again (a redelivery
     * past the stream's duplicate window: another Nats-Msg-Id) */
    xt_tick_pub(xsym, 1, &(xt_tick){"98", "99", NULL, NULL, "4", NULL});
    snprintf(again, sizeof again, "%s-redelivered", id);
    xt_publish_order(xacct, xsym, id, &o, again);
    /* after a gap (2..4 never sent) tick 5 is matched once it waited the
     * reorder window; a tick older than a matched one is then ignored:
     * 5 does not cross, 4 would */
    xt_tick_pub(xsym, 5, &(xt_tick){"100.5", "101", NULL, NULL, NULL, NULL});
    wait_seq(xsym, "5");
    xt_tick_pub(xsym, 4, &(xt_tick){"97", "98", NULL, NULL, NULL, NULL});
    xt_tick_pub(xsym, 6, &(xt_tick){"100.5", "101", NULL, NULL, NULL, NULL});
    wait_seq(xsym, "6");
    usleep(300000); /* the republished order and the old tick had their chance */
    xt_wait_state(id, "partially_filled 4.00000000 v3");
    ck_assert_int_eq(xt_fill_count(id), 1);
    xt_tick_pub(xsym, 7, &(xt_tick){"97.5", "98", NULL, NULL, NULL, NULL});
    xt_wait_state(id, "filled 10.00000000 v4");
    xt_fill_is(id, 2, "6.00000000 98.00000000 0.58800000 maker");
    const char *p[1] = {id};
    char *avg = xt_sql("SELECT avg_price::text FROM orders WHERE order_id = $1", 1, p);
    ck_assert_str_eq(avg, "98.40000000"); /* (4 * 99 + 6 * 98) / 10 */
    free(avg);
}
END_TEST

START_TEST(out_of_order_ticks_match_in_sequence) {
    fresh();
    char id[64];
    order_id(id, sizeof id, "oo");
    xt_submit(xacct, xsym, id, &(xt_order){"buy", "limit", "gtc", "10", "100", NULL, NULL});
    xt_wait_state(id, "accepted 0.00000000 v2");
    xt_tick_pub(xsym, 1, &(xt_tick){"100.5", "101", NULL, NULL, NULL, NULL});
    wait_seq(xsym, "1");
    /* 3 arrives before 2: it waits for 2, then both match in order */
    xt_tick_pub(xsym, 3, &(xt_tick){"99", "99.5", NULL, NULL, "2", NULL});
    xt_tick_pub(xsym, 2, &(xt_tick){"98.5", "99", NULL, NULL, "3", NULL});
    xt_wait_state(id, "partially_filled 5.00000000 v4");
    xt_fill_is(id, 1, "3.00000000 99.00000000 0.29700000 maker");
    xt_fill_is(id, 2, "2.00000000 99.50000000 0.19900000 maker");
    wait_seq(xsym, "3");
    const char *p[1] = {xsym};
    char *left = xt_sql("SELECT count(*) FROM exec_tick_journal WHERE symbol = $1", 1, p);
    ck_assert_str_eq(left, "0");
    free(left);
}
END_TEST

START_TEST(hostile_input_is_refused) {
    fresh();
    char id[64], subj[128];
    order_id(id, sizeof id, "h1");
    xt_submit(xacct, xsym, id, &(xt_order){"buy", "limit", "gtc", "1", "100", NULL, NULL});
    xt_wait_state(id, "accepted 0.00000000 v2");
    /* a crossed quote, a negative price, a tick published under another
     * symbol: none of them trades or advances the sequence */
    xt_tick_pub(xsym, 1, &(xt_tick){"99", "98", NULL, NULL, NULL, NULL});
    xt_tick_pub(xsym, 2, &(xt_tick){NULL, "-1", NULL, NULL, NULL, NULL});
    tb_tick t;
    memset(&t, 0, sizeof t);
    snprintf(t.symbol, sizeof t.symbol, "%s", xsym);
    t.seq = 3;
    t.ts = tb_now_ns();
    t.ask = F("90");
    ck_assert_int_eq(bus_publish(xt_conn, "md.tick.SOMETHING_ELSE", &tb_tick_desc, &t, NULL),
                     TB_OK);
    /* bytes that are no tick at all */
    snprintf(subj, sizeof subj, "md.tick.%s", xsym);
    ck_assert_int_eq(natsConnection_Publish(bus_conn_nats(xt_conn), subj, "\xc1\x00", 2), NATS_OK);
    xt_tick_pub(xsym, 4, &(xt_tick){"99.5", "101", NULL, NULL, NULL, NULL});
    wait_seq(xsym, "4");
    ck_assert_int_eq(xt_fill_count(id), 0);

    /* an order message that does not decode, and one for an order that was
     * never recorded: both dead-lettered, the stream goes on */
    natsSubscription *dlq = xt_capture(BUS_DLQ_PREFIX "ORDERS."
                                                      "trading-execution");
    snprintf(subj, sizeof subj, "orders.new.%s", xacct);
    tb_error err = {0};
    bus_msg_meta meta = {.msg_id = "garbage"};
    char garbage_id[80];
    snprintf(garbage_id, sizeof garbage_id, "%s-garbage", xacct);
    meta.msg_id = garbage_id;
    ck_assert_int_eq(
        bus_js_publish_bytes(xt_conn, subj, "\x81\xa1x\x01", 4, NULL, &meta, NULL, &err), TB_OK);
    char ghost[64];
    order_id(ghost, sizeof ghost, "ghost");
    xt_publish_order(xacct, xsym, ghost, &(xt_order){"buy", "market", "gtc", "1", NULL, NULL, NULL},
                     ghost);
    int seen = 0;
    natsMsg *m = NULL;
    while (seen < 2 && natsSubscription_NextMsg(&m, dlq, 10000) == NATS_OK) {
        const char *mid = NULL;
        if (natsMsgHeader_Get(m, BUS_HDR_MSG_ID, &mid) == NATS_OK &&
            (strcmp(mid, garbage_id) == 0 || strcmp(mid, ghost) == 0))
            seen++;
        natsMsg_Destroy(m);
    }
    natsSubscription_Destroy(dlq);
    ck_assert_int_eq(seen, 2);
    char after[64];
    order_id(after, sizeof after, "h2");
    xt_submit(xacct, xsym, after, &(xt_order){"sell", "limit", "gtc", "1", "500", NULL, NULL});
    xt_wait_state(after, "accepted 0.00000000 v2");
}
END_TEST

START_TEST(stop_order_triggers_on_last) {
    fresh();
    char id[64];
    order_id(id, sizeof id, "s1");
    xt_submit(xacct, xsym, id, &(xt_order){"buy", "stop", "gtc", "10", NULL, "105", NULL});
    xt_wait_state(id, "accepted 0.00000000 v2");
    xt_tick_pub(xsym, 1, &(xt_tick){"104.4", "104.5", "104", NULL, NULL, NULL});
    wait_seq(xsym, "1");
    ck_assert_int_eq(xt_fill_count(id), 0);
    xt_tick_pub(xsym, 2, &(xt_tick){"104.9", "105.2", "105", NULL, NULL, NULL});
    xt_wait_state(id, "filled 10.00000000 v3");
    /* 105.2 + 10 bp = 105.3052; fee 1053.052 * 10 bp = 1.053052 */
    xt_fill_is(id, 1, "10.00000000 105.30520000 1.05305200 taker");
    const char *p[1] = {id};
    char *trig = xt_sql("SELECT triggered_at IS NOT NULL FROM orders WHERE order_id = $1", 1, p);
    ck_assert_str_eq(trig, "t");
    free(trig);
}
END_TEST

START_TEST(day_orders_expire) {
    fresh();
    char late[64], rest[64];
    order_id(late, sizeof late, "d1");
    order_id(rest, sizeof rest, "d2");
    /* created yesterday (UTC) and only now delivered: accepted, then expired */
    xt_submit(xacct, xsym, late, &(xt_order){"buy", "limit", "day", "1", "10", NULL, YESTERDAY});
    xt_wait_state(late, "expired 0.00000000 v3");
    /* accepted yesterday and still resting: the expiry timer ends it */
    xt_insert(xacct, xsym, rest, &(xt_order){"buy", "limit", "day", "1", "10", NULL, YESTERDAY});
    const char *p[1] = {rest};
    xt_exec("WITH u AS (UPDATE orders SET status = 'accepted', version = 2 WHERE order_id = $1 "
            "RETURNING order_id) INSERT INTO order_events (order_id, version, status) "
            "SELECT order_id, 2, 'accepted' FROM u",
            1, p);
    xt_wait_state(rest, "expired 0.00000000 v3");
    char *reason = xt_sql("SELECT reason FROM orders WHERE order_id = $1", 1, p);
    ck_assert_str_eq(reason, "day_end");
    free(reason);
    /* a gtc order of yesterday stays */
    char gtc[64];
    order_id(gtc, sizeof gtc, "d3");
    xt_submit(xacct, xsym, gtc, &(xt_order){"buy", "limit", "gtc", "1", "10", NULL, YESTERDAY});
    xt_wait_state(gtc, "accepted 0.00000000 v2");
    usleep(500000);
    xt_wait_state(gtc, "accepted 0.00000000 v2");
}
END_TEST

/* A gtd order works until the event time of a tick of its symbol reaches
 * its expire_at; at that tick it expires instead of trading, even though
 * the tick crosses it. Event time, not the clock: the ticks here are
 * stamped an hour ahead of the wall clock and the expiry comes from them. */
START_TEST(gtd_orders_expire_on_tick_time) {
    fresh();
    char id[64];
    order_id(id, sizeof id, "g1");
    /* whole microseconds, as risk-management stores it (PostgreSQL rounds) */
    const int64_t hour = 3600 * INT64_C(1000000000);
    int64_t expire = (tb_now_ns() + hour) / 1000 * 1000;
    char at[40];
    tb_ts_format(expire, at);
    const xt_order o = {"buy", "limit", "gtd", "1", "10", NULL, NULL};
    xt_insert_expiring(xacct, xsym, id, &o, at);
    xt_publish_order(xacct, xsym, id, &o, id);
    xt_wait_state(id, "accepted 0.00000000 v2");
    const char *p[1] = {id};
    char *stored = xt_sql("SELECT (extract(epoch FROM expire_at) * 1000000)::bigint FROM orders "
                          "WHERE order_id = $1",
                          1, p);
    ck_assert_int_eq(strtoll(stored, NULL, 10), expire / 1000);
    free(stored);
    /* one microsecond before expire_at in event time: a tick that does not
     * cross leaves it working */
    xt_tick_pub_at(xsym, 1, &(xt_tick){"11", "12", "11.5", NULL, NULL, NULL}, expire - 1000);
    wait_seq(xsym, "1");
    xt_wait_state(id, "accepted 0.00000000 v2");
    /* a tick stamped at expire_at that would fill it: it expires instead */
    xt_tick_pub_at(xsym, 2, &(xt_tick){"9", "9.5", "9.2", NULL, NULL, NULL}, expire);
    xt_wait_state(id, "expired 0.00000000 v3");
    ck_assert_int_eq(xt_fill_count(id), 0);
    char *reason = xt_sql("SELECT reason FROM orders WHERE order_id = $1", 1, p);
    ck_assert_str_eq(reason, "expire_at");
    free(reason);
}
END_TEST

START_TEST(api_get_and_list) {
    fresh();
    char a[64], b[64], c[64];
    order_id(a, sizeof a, "g1");
    order_id(b, sizeof b, "g2");
    order_id(c, sizeof c, "g3");
    xt_set_quote(xsym, 1, &(xt_tick){"10", "10.5", NULL, NULL, NULL, NULL});
    xt_submit(xacct, xsym, a, &(xt_order){"buy", "market", "day", "1", NULL, NULL, NULL});
    xt_wait_state(a, "filled 1.00000000 v3");
    xt_submit(xacct, xsym, b, &(xt_order){"buy", "limit", "gtc", "2", "5", NULL, NULL});
    xt_wait_state(b, "accepted 0.00000000 v2");
    xt_submit(xacct, xsym, c, &(xt_order){"sell", "stop_limit", "gtc", "3", "4", "4.5", NULL});
    xt_wait_state(c, "accepted 0.00000000 v2");

    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.id, sizeof q.id, "%s", c);
    tb_order_record rec;
    tb_error err = {0};
    ck_assert_msg(bus_request(xt_conn, "api.orders.get", &tb_query_desc, &q, &tb_order_record_desc,
                              &rec, 5000, NULL, &err) == TB_OK,
                  "%s", err.message);
    ck_assert_str_eq(rec.type, "stop_limit");
    ck_assert_int_eq(rec.limit_price, F("4"));
    ck_assert_int_eq(rec.stop_price, F("4.5"));
    ck_assert_str_eq(rec.status, "accepted");
    ck_assert_str_eq(rec.account, xacct);
    ck_assert_int_gt(rec.created_at, 0);
    snprintf(q.accounts, sizeof q.accounts, "nobody");
    ck_assert_int_eq(bus_request(xt_conn, "api.orders.get", &tb_query_desc, &q,
                                 &tb_order_record_desc, &rec, 5000, NULL, &err),
                     TB_NOT_FOUND);

    /* list: open / closed / pages of one, newest first */
    const struct {
        const char *status;
        size_t n;
    } cases[] = {{"open", 2}, {"closed", 1}, {"", 3}, {"filled", 1}, {"expired", 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memset(&q, 0, sizeof q);
        snprintf(q.account, sizeof q.account, "%s", xacct);
        snprintf(q.status, sizeof q.status, "%s", cases[k].status);
        bus_bytes reply = {0};
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        ck_assert_int_eq(tb_encode(&tb_query_desc, &q, &sb, &err), TB_OK);
        ck_assert_msg(bus_request_bytes(xt_conn, "api.orders.list", sb.data, sb.size, "query", 5000,
                                        NULL, &reply, &err) == TB_OK,
                      "%s", err.message);
        msgpack_sbuffer_destroy(&sb);
        void *items = NULL;
        size_t n = 0;
        char next[TB_ID_CAP];
        ck_assert_int_eq(
            tb_decode_list(&tb_order_record_desc, reply.data, reply.len, &items, &n, next, &err),
            TB_OK);
        ck_assert_msg(n == cases[k].n, "status %s: %zu orders", cases[k].status, n);
        free(items);
        bus_bytes_free(&reply);
    }
    const char *want[3] = {c, b, a};
    char cursor[TB_ID_CAP] = "";
    for (int page = 0; page < 4; page++) {
        memset(&q, 0, sizeof q);
        snprintf(q.account, sizeof q.account, "%s", xacct);
        snprintf(q.cursor, sizeof q.cursor, "%s", cursor);
        q.limit = 1;
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        ck_assert_int_eq(tb_encode(&tb_query_desc, &q, &sb, &err), TB_OK);
        bus_bytes reply = {0};
        ck_assert_int_eq(bus_request_bytes(xt_conn, "api.orders.list", sb.data, sb.size, "query",
                                           5000, NULL, &reply, &err),
                         TB_OK);
        msgpack_sbuffer_destroy(&sb);
        tb_order_record *items = NULL;
        size_t n = 0;
        ck_assert_int_eq(tb_decode_list(&tb_order_record_desc, reply.data, reply.len,
                                        (void **)&items, &n, cursor, &err),
                         TB_OK);
        bus_bytes_free(&reply);
        if (page < 3) {
            ck_assert_int_eq(n, 1);
            ck_assert_str_eq(items[0].order_id, want[page]);
            ck_assert_str_eq(cursor, want[page]);
        } else {
            ck_assert_int_eq(n, 0);
            ck_assert_str_eq(cursor, "");
        }
        free(items);
    }
    memset(&q, 0, sizeof q);
    snprintf(q.status, sizeof q.status, "resting");
    bus_bytes reply = {0};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ck_assert_int_eq(tb_encode(&tb_query_desc, &q, &sb, &err), TB_OK);
    ck_assert_int_eq(bus_request_bytes(xt_conn, "api.orders.list", sb.data, sb.size, "query", 5000,
                                       NULL, &reply, &err),
                     TB_INVALID);
    ck_assert_str_eq(err.field, "status");
    msgpack_sbuffer_destroy(&sb);
    bus_bytes_free(&reply);
}
END_TEST

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
    Suite *s = suite_create("exec_orders");
    TCase *tc = tcase_create("orders");
    tcase_add_unchecked_fixture(tc, suite_up, suite_down);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, market_order_rests_then_fills_on_tick);
    tcase_add_test(tc, market_order_fills_on_arrival_quote);
    tcase_add_test(tc, limit_partial_fill_then_api_cancel);
    tcase_add_test(tc, cancel_via_orders_stream);
    tcase_add_test(tc, cancel_before_acceptance);
    tcase_add_test(tc, ioc_and_fok);
    tcase_add_test(tc, redelivery_and_stale_ticks_fill_once);
    tcase_add_test(tc, out_of_order_ticks_match_in_sequence);
    tcase_add_test(tc, hostile_input_is_refused);
    tcase_add_test(tc, stop_order_triggers_on_last);
    tcase_add_test(tc, day_orders_expire);
    tcase_add_test(tc, gtd_orders_expire_on_tick_time);
    tcase_add_test(tc, api_get_and_list);
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
