/* position-management against the real servers, through its real binary:
 * an account created with api.accounts.create, fills recorded in PostgreSQL
 * and published on FILLS (Nats-Msg-Id = fill id) are booked exactly (hand-
 * computed positions, average cost, realized P&L through two flips, fees,
 * cash, marks, unrealized P&L and equity); pos.update is published per fill;
 * the same fill published twice, or delivered twice under another message
 * id, is applied once; a conflicting copy, an unknown account and a subject
 * that disagrees with the body are dead-lettered; fills arriving out of
 * order are booked in their canonical order; bursts of ticks are throttled
 * to a few mark writes that end at the newest price, and a burst of
 * thousands of ticks over four symbols (with late copies) ends at each
 * symbol's newest mark and exact unrealized P&L; api.positions.list|get,
 * api.accounts.get|list|create and api.fills.list answer, with paging and
 * account scopes; the exactness invariants hold (tb_check_exactness), and
 * the checker reports each kind of mismatch in a hand-written book. */
#include <nats/nats.h>
#include <signal.h>

#include "test_pos_util.h"

static bus_config cfg;
static bus_conn *conn;
static PGconn *pg;
static pid_t worker;
static char instance[64], prefix[32], like[64];
static int64_t ts0;

static void setup_all(void) {
    tb_test_config(&cfg, "pos-fills-test");
    conn = tb_test_conn(&cfg);
    pg = pt_pg(&cfg);
    tb_error err = {0};
    ck_assert_msg(bus_js_ensure_streams(conn, &err) == TB_OK, "%s", err.message);
    tb_test_unique(prefix, sizeof prefix, "PF");
    snprintf(like, sizeof like, "%s%%", prefix);
    snprintf(instance, sizeof instance, "pmf-%s", prefix);
    /* The default durable and subject, as deployed; marks throttled to one
     * write per symbol per 200 ms. */
    char *extra[] = {"POS_MARK_INTERVAL_MS=200", NULL};
    worker = pt_spawn(instance, extra);
    pt_wait_ready(conn, instance);
    ts0 = tb_now_ns() / 1000 * 1000; /* whole microseconds, as PostgreSQL keeps them */
}

/* Stops what the last test did not (it failed early). */
static void teardown_all(void) {
    if (tb_test_stop(worker, 20000) != 0)
        fprintf(stderr, "tb-position-management did not exit cleanly\n");
    PQfinish(pg);
    bus_conn_close(conn);
}

static void make_account(const char *id, const char *initial) {
    tb_account a = {0}, out = {0};
    snprintf(a.account, sizeof a.account, "%s", id);
    snprintf(a.name, sizeof a.name, "test %s", id);
    a.initial_cash = pt_fx(initial);
    tb_error err = {0};
    ck_assert_msg(bus_request(conn, "api.accounts.create", &tb_account_desc, &a, &tb_account_desc,
                              &out, 5000, NULL, &err) == TB_OK,
                  "create %s: %s", id, err.message);
    ck_assert_str_eq(out.account, id);
    ck_assert_int_eq(out.cash, a.initial_cash);
    ck_assert_int_eq(out.equity, a.initial_cash);
}

static void send_fill(const tb_fill *f) {
    pt_record_fill(pg, f);
    ck_assert(!pt_publish_fill(conn, f, NULL));
}

static tb_account get_account(const char *id) {
    tb_query q = {0};
    snprintf(q.account, sizeof q.account, "%s", id);
    tb_account a = {0};
    tb_error err = {0};
    ck_assert_msg(bus_request(conn, "api.accounts.get", &tb_query_desc, &q, &tb_account_desc, &a,
                              5000, NULL, &err) == TB_OK,
                  "%s", err.message);
    return a;
}

static tb_position_update get_position(const char *acct, const char *sym, const char *scope,
                                       tb_status want) {
    tb_query q = {0};
    snprintf(q.account, sizeof q.account, "%s", acct);
    snprintf(q.symbol, sizeof q.symbol, "%s", sym);
    snprintf(q.accounts, sizeof q.accounts, "%s", scope ? scope : "");
    tb_position_update u = {0};
    tb_error err = {0};
    ck_assert_int_eq(bus_request(conn, "api.positions.get", &tb_query_desc, &q,
                                 &tb_position_update_desc, &u, 5000, NULL, &err),
                     want);
    return u;
}

#define ck_fx(got, want)                                                                           \
    do {                                                                                           \
        char g_[TB_FIXED_STRLEN];                                                                  \
        (void)tb_fixed_format((got), g_);                                                          \
        ck_assert_msg((got) == pt_fx(want), "%s = %s, want %s", #got, g_, want);                   \
    } while (0)

static void assert_exact(void) {
    char msg[1024];
    ck_assert_msg(tb_check_exactness(pg, like, msg, sizeof msg), "exactness: %s", msg);
}

START_TEST(fills_book_positions_cash_and_pnl) {
    char acct[40], other[40], sub_subject[128];
    /* Symbols of this run only: a symbol's newest mark from other tests would
     * value the new positions (pos_symbol_marks), and this test counts on
     * none. D... sorts before S..., as DAX before SAP. */
    char dax_sym[TB_TOKEN_CAP], sap_sym[TB_TOKEN_CAP], dax_tick[96], sap_tick[96];
    snprintf(dax_sym, sizeof dax_sym, "D%s", prefix);
    snprintf(sap_sym, sizeof sap_sym, "S%s", prefix);
    snprintf(dax_tick, sizeof dax_tick, "md.tick.%s", dax_sym);
    snprintf(sap_tick, sizeof sap_tick, "md.tick.%s", sap_sym);
    snprintf(acct, sizeof acct, "%sA", prefix);
    snprintf(other, sizeof other, "%sB", prefix);
    make_account(acct, "100000");
    make_account(other, "500");
    /* A second create is a conflict, a negative initial cash invalid. */
    tb_account dup = {0}, out;
    snprintf(dup.account, sizeof dup.account, "%s", acct);
    tb_error err = {0};
    ck_assert_int_eq(bus_request(conn, "api.accounts.create", &tb_account_desc, &dup,
                                 &tb_account_desc, &out, 5000, NULL, &err),
                     TB_CONFLICT);
    snprintf(dup.account, sizeof dup.account, "%sN", prefix);
    dup.initial_cash = pt_fx("-1");
    ck_assert_int_eq(bus_request(conn, "api.accounts.create", &tb_account_desc, &dup,
                                 &tb_account_desc, &out, 5000, NULL, &err),
                     TB_INVALID);

    natsSubscription *sub = NULL;
    snprintf(sub_subject, sizeof sub_subject, "pos.update.%s.>", acct);
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, bus_conn_nats(conn), sub_subject), NATS_OK);
    ck_assert_int_eq(natsConnection_Flush(bus_conn_nats(conn)), NATS_OK);

    /* DAX: open, add, partial reduce, flip to short, flip back to long.
     *   buy 10 @ 100 fee 1     qty 10  cost 1000  cash 98999
     *   buy 5 @ 130 fee .5     qty 15  cost 1650  cash 98348.5    avg 110
     *   sell 6 @ 120 fee .25   qty 9   cost 990   realized 60     cash 99068.25
     *   sell 15 @ 90 fee 2     closes 9: 810 - 990 = -180 (total -120); short 6 @ 90
     *                          qty -6  cost -540  cash 100416.25
     *   buy 8 @ 80             covers 6: 540 - 480 = +60 (total -60); long 2 @ 80
     *                          qty 2   cost 160   cash 99776.25
     * SAP: sell 3 @ 33.33333333 fee 0.00000001: notional 99.99999999,
     *                          cash 99876.24999998 */
    const char *dax[5][4] = {{"buy", "10", "100", "1"},
                             {"buy", "5", "130", "0.5"},
                             {"sell", "6", "120", "0.25"},
                             {"sell", "15", "90", "2"},
                             {"buy", "8", "80", "0"}};
    tb_fill f;
    char id[64];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "%s-dax-%d", acct, i);
        pt_fill(&f, id, acct, dax_sym, dax[i][0], dax[i][1], dax[i][2], dax[i][3], ts0 + i * 1000);
        send_fill(&f);
    }
    snprintf(id, sizeof id, "%s-sap-0", acct);
    pt_fill(&f, id, acct, sap_sym, "sell", "3", "33.33333333", "0.00000001", ts0 + 10000);
    send_fill(&f);
    ck_assert_msg(pt_wait_applied(pg, like, 6, 60000), "fills not applied");

    tb_position_update p = get_position(acct, dax_sym, NULL, TB_OK);
    ck_fx(p.qty, "2");
    ck_fx(p.avg_cost, "80");
    ck_fx(p.realized_pnl, "-60");
    p = get_position(acct, sap_sym, NULL, TB_OK);
    ck_fx(p.qty, "-3");
    ck_fx(p.avg_cost, "33.33333333");
    p = get_position(acct, "NEVER", NULL, TB_OK); /* never traded: flat, not an error */
    ck_fx(p.qty, "0");
    (void)get_position(acct, dax_sym, other, TB_NOT_FOUND); /* outside the caller's scope */
    (void)get_position(acct, "", NULL, TB_MISSING_FIELD);

    tb_account a = get_account(acct);
    ck_fx(a.initial_cash, "100000");
    ck_fx(a.cash, "99876.24999998");
    ck_fx(a.fees, "3.75000001");
    ck_fx(a.realized_pnl, "-60");
    ck_fx(a.unrealized_pnl, "0"); /* no marks yet: valued at cost */
    ck_fx(a.equity, "99936.24999999");

    /* pos.update per fill, in order (one worker); the last DAX one carries
     * the position after the second flip and the cash at that point. */
    int seen = 0;
    bool saw_last_dax = false;
    while (seen < 6) {
        natsMsg *m = NULL;
        ck_assert_int_eq(natsSubscription_NextMsg(&m, sub, 10000), NATS_OK);
        tb_position_update u;
        ck_assert_int_eq(tb_decode(&tb_position_update_desc, natsMsg_GetData(m),
                                   (size_t)natsMsg_GetDataLength(m), &u, NULL),
                         TB_OK);
        snprintf(id, sizeof id, "%s-dax-4", acct);
        if (strcmp(u.fill_id, id) == 0) {
            ck_fx(u.qty, "2");
            ck_fx(u.avg_cost, "80");
            ck_fx(u.realized_pnl, "-60");
            ck_fx(u.cash, "99776.25");
            ck_assert_str_eq(natsMsg_GetSubject(m) + strlen(sub_subject) - 1, dax_sym);
            saw_last_dax = true;
        }
        natsMsg_Destroy(m);
        seen++;
    }
    ck_assert(saw_last_dax);

    /* Marks: DAX last 85 -> 2 * 85 - 160 = 10; SAP mid (30 + 31) / 2 = 30.5 ->
     * -91.5 + 99.99999999 = 8.49999999; equity = cash + 170 - 91.5. */
    tb_tick t = {0};
    snprintf(t.symbol, sizeof t.symbol, "%s", dax_sym);
    t.seq = 1;
    t.ts = tb_now_ns();
    t.last = pt_fx("85");
    ck_assert_int_eq(bus_publish(conn, dax_tick, &tb_tick_desc, &t, NULL), TB_OK);
    memset(&t, 0, sizeof t);
    snprintf(t.symbol, sizeof t.symbol, "%s", sap_sym);
    t.seq = 1;
    t.ts = tb_now_ns();
    t.bid = pt_fx("30");
    t.ask = pt_fx("31");
    ck_assert_int_eq(bus_publish(conn, sap_tick, &tb_tick_desc, &t, NULL), TB_OK);
    int64_t end = bus_mono_ns() + INT64_C(10000000000);
    do {
        a = get_account(acct);
        if (a.unrealized_pnl == pt_fx("18.49999999")) break;
        usleep(20000);
    } while (bus_mono_ns() < end);
    ck_fx(a.unrealized_pnl, "18.49999999");
    ck_fx(a.equity, "99954.74999998");
    /* an older tick does not move the mark back */
    memset(&t, 0, sizeof t);
    snprintf(t.symbol, sizeof t.symbol, "%s", dax_sym);
    t.seq = 2;
    t.ts = ts0;
    t.last = pt_fx("1");
    ck_assert_int_eq(bus_publish(conn, dax_tick, &tb_tick_desc, &t, NULL), TB_OK);
    usleep(600000); /* past the throttle interval: a held-back tick was written by now */
    p = get_position(acct, dax_sym, NULL, TB_OK);
    ck_fx(p.last_price, "85");
    ck_fx(p.unrealized_pnl, "10");

    /* Lists. */
    tb_query q = {0};
    snprintf(q.account, sizeof q.account, "%s", acct);
    void *items = NULL;
    size_t n = 0;
    char next[TB_ID_CAP];
    ck_assert_int_eq(
        pt_list(conn, "api.positions.list", &q, &tb_position_update_desc, &items, &n, next, &err),
        TB_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(((tb_position_update *)items)[0].symbol, dax_sym);
    ck_assert_str_eq(((tb_position_update *)items)[1].symbol, sap_sym);
    free(items);
    snprintf(q.accounts, sizeof q.accounts, "%s", other); /* scope without acct: nothing */
    ck_assert_int_eq(
        pt_list(conn, "api.positions.list", &q, &tb_position_update_desc, &items, &n, next, &err),
        TB_OK);
    ck_assert_uint_eq(n, 0);
    free(items);

    /* Fills: newest first, paged by cursor, filtered by symbol. */
    memset(&q, 0, sizeof q);
    snprintf(q.account, sizeof q.account, "%s", acct);
    q.limit = 4;
    ck_assert_int_eq(pt_list(conn, "api.fills.list", &q, &tb_fill_desc, &items, &n, next, &err),
                     TB_OK);
    ck_assert_uint_eq(n, 4);
    tb_fill *fl = items;
    snprintf(id, sizeof id, "%s-sap-0", acct);
    ck_assert_str_eq(fl[0].fill_id, id);
    ck_fx(fl[0].price, "33.33333333");
    ck_assert_int_eq(fl[0].ts, ts0 + 10000);
    snprintf(id, sizeof id, "%s-dax-4", acct);
    ck_assert_str_eq(fl[1].fill_id, id);
    ck_assert_str_eq(next, fl[3].fill_id);
    free(items);
    snprintf(q.cursor, sizeof q.cursor, "%s", next);
    ck_assert_int_eq(pt_list(conn, "api.fills.list", &q, &tb_fill_desc, &items, &n, next, &err),
                     TB_OK);
    ck_assert_uint_eq(n, 2);
    snprintf(id, sizeof id, "%s-dax-0", acct);
    ck_assert_str_eq(((tb_fill *)items)[1].fill_id, id);
    ck_assert_str_eq(next, "");
    free(items);
    memset(&q, 0, sizeof q);
    snprintf(q.account, sizeof q.account, "%s", acct);
    snprintf(q.symbol, sizeof q.symbol, "%s", sap_sym);
    ck_assert_int_eq(pt_list(conn, "api.fills.list", &q, &tb_fill_desc, &items, &n, next, &err),
                     TB_OK);
    ck_assert_uint_eq(n, 1);
    free(items);
    snprintf(q.cursor, sizeof q.cursor, "no-such-fill");
    ck_assert_int_eq(pt_list(conn, "api.fills.list", &q, &tb_fill_desc, &items, &n, next, &err),
                     TB_INVALID);

    /* Accounts: scoped list, paged. */
    memset(&q, 0, sizeof q);
    snprintf(q.accounts, sizeof q.accounts, "%s,%s", other, acct);
    q.limit = 1;
    ck_assert_int_eq(
        pt_list(conn, "api.accounts.list", &q, &tb_account_desc, &items, &n, next, &err), TB_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(((tb_account *)items)[0].account, acct); /* "...A" < "...B" */
    ck_fx(((tb_account *)items)[0].equity, "99954.74999998");
    ck_assert_str_eq(next, acct);
    free(items);
    snprintf(q.cursor, sizeof q.cursor, "%s", next);
    ck_assert_int_eq(
        pt_list(conn, "api.accounts.list", &q, &tb_account_desc, &items, &n, next, &err), TB_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(((tb_account *)items)[0].account, other);
    ck_fx(((tb_account *)items)[0].cash, "500");
    ck_assert_str_eq(next, "");
    free(items);
    memset(&q, 0, sizeof q);
    snprintf(q.account, sizeof q.account, "%s", acct);
    snprintf(q.accounts, sizeof q.accounts, "%s", other);
    tb_account na;
    ck_assert_int_eq(bus_request(conn, "api.accounts.get", &tb_query_desc, &q, &tb_account_desc,
                                 &na, 5000, NULL, &err),
                     TB_NOT_FOUND);
    snprintf(q.account, sizeof q.account, "%sZZ", prefix);
    q.accounts[0] = '\0';
    ck_assert_int_eq(bus_request(conn, "api.accounts.get", &tb_query_desc, &q, &tb_account_desc,
                                 &na, 5000, NULL, &err),
                     TB_NOT_FOUND);

    natsSubscription_Destroy(sub);
    assert_exact();
}
END_TEST

START_TEST(same_fill_twice_is_applied_once) {
    char acct[40], id[64], dlq[160];
    snprintf(acct, sizeof acct, "%sC", prefix);
    make_account(acct, "1000");
    natsSubscription *dl = NULL;
    snprintf(dlq, sizeof dlq, BUS_DLQ_PREFIX "FILLS.position-management");
    ck_assert_int_eq(natsConnection_SubscribeSync(&dl, bus_conn_nats(conn), dlq), NATS_OK);
    ck_assert_int_eq(natsConnection_Flush(bus_conn_nats(conn)), NATS_OK);

    tb_fill f;
    snprintf(id, sizeof id, "%s-g1", acct);
    pt_fill(&f, id, acct, "DAX", "buy", "1", "10", "0.1", ts0 + 20000);
    pt_record_fill(pg, &f);
    ck_assert(!pt_publish_fill(conn, &f, NULL));
    ck_assert(pt_publish_fill(conn, &f, NULL)); /* JetStream drops the second: same msg id */
    /* A copy under another message id reaches the worker: the fill id stops it. */
    char other_msg[80];
    snprintf(other_msg, sizeof other_msg, "%s-again", id);
    ck_assert(!pt_publish_fill(conn, &f, other_msg));
    /* A second fill so we know when the worker got past the copies. */
    tb_fill g;
    snprintf(id, sizeof id, "%s-g2", acct);
    pt_fill(&g, id, acct, "DAX", "sell", "0.5", "12", "0", ts0 + 30000);
    send_fill(&g);
    char like_c[80];
    snprintf(like_c, sizeof like_c, "%s", acct);
    ck_assert(pt_wait_applied(pg, like_c, 2, 60000));
    usleep(300000);
    /* 1000 - 10 - 0.1 + 6 = 995.9; qty 0.5 */
    tb_account a = get_account(acct);
    ck_fx(a.cash, "995.9");
    ck_fx(get_position(acct, "DAX", NULL, TB_OK).qty, "0.5");
    ck_fx(a.realized_pnl, "1"); /* 0.5 * (12 - 10) */

    /* Hostile copies go to the dead-letter stream, and change nothing:
     * the same fill id with other contents, an unknown account, and a body
     * that disagrees with its subject. */
    tb_fill bad = f;
    bad.qty = pt_fx("1000");
    snprintf(other_msg, sizeof other_msg, "%s-g1-forged", acct);
    ck_assert(!pt_publish_fill(conn, &bad, other_msg));
    tb_fill ghost;
    char ghost_acct[48];
    snprintf(ghost_acct, sizeof ghost_acct, "%sNOACCT", prefix);
    snprintf(id, sizeof id, "%s-ghost", prefix);
    pt_fill(&ghost, id, ghost_acct, "DAX", "buy", "1", "1", "0", ts0);
    ck_assert(!pt_publish_fill(conn, &ghost, NULL));
    tb_fill moved;
    snprintf(id, sizeof id, "%s-moved", acct);
    pt_fill(&moved, id, acct, "DAX", "buy", "1", "1", "0", ts0);
    bus_msg_meta meta = {.msg_id = moved.fill_id};
    char subject[160];
    snprintf(subject, sizeof subject, "fills.%s.SAP", acct);
    tb_error err = {0};
    ck_assert_int_eq(bus_js_publish(conn, subject, &tb_fill_desc, &moved, &meta, NULL, &err),
                     TB_OK);
    const char *want[3] = {"different contents", "unknown account", "arrived on subject"};
    bool got[3] = {false, false, false};
    for (int i = 0; i < 3 && !(got[0] && got[1] && got[2]);) {
        natsMsg *m = NULL;
        ck_assert_int_eq(natsSubscription_NextMsg(&m, dl, 20000), NATS_OK);
        const char *reason = "";
        ck_assert_int_eq(natsMsgHeader_Get(m, BUS_HDR_DLQ_REASON, &reason), NATS_OK);
        const char *msg_id = "";
        (void)natsMsgHeader_Get(m, BUS_HDR_MSG_ID, &msg_id);
        for (int k = 0; k < 3; k++)
            if (strstr(reason, want[k]) && strstr(msg_id, prefix)) {
                got[k] = true;
                i++;
            }
        natsMsg_Destroy(m);
    }
    ck_assert(got[0] && got[1] && got[2]);
    natsSubscription_Destroy(dl);
    a = get_account(acct);
    ck_fx(a.cash, "995.9");
    ck_assert_int_eq(pt_count(pg, "SELECT count(*) FROM applied_fills WHERE account = $1", acct),
                     2);
    assert_exact();
}
END_TEST

START_TEST(late_fill_is_booked_in_order) {
    /* Published latest first. In time order: buy 10 @ 100, buy 10 @ 120
     * (avg 110), sell 5 @ 110 -> realized 0, qty 15, cost 1650. Booked in
     * arrival order it would be realized 50 and avg 113.33333333. */
    char acct[40], id[64];
    snprintf(acct, sizeof acct, "%sD", prefix);
    make_account(acct, "10000");
    tb_fill f;
    snprintf(id, sizeof id, "%s-3", acct);
    pt_fill(&f, id, acct, "DAX", "sell", "5", "110", "0", ts0 + 3000);
    send_fill(&f);
    ck_assert(pt_wait_applied(pg, acct, 1, 60000));
    snprintf(id, sizeof id, "%s-1", acct);
    pt_fill(&f, id, acct, "DAX", "buy", "10", "100", "0", ts0 + 1000);
    send_fill(&f);
    ck_assert(pt_wait_applied(pg, acct, 2, 60000));
    snprintf(id, sizeof id, "%s-2", acct);
    pt_fill(&f, id, acct, "DAX", "buy", "10", "120", "0", ts0 + 2000);
    send_fill(&f);
    ck_assert(pt_wait_applied(pg, acct, 3, 60000));
    tb_position_update p = get_position(acct, "DAX", NULL, TB_OK);
    ck_fx(p.qty, "15");
    ck_fx(p.avg_cost, "110");
    ck_fx(p.realized_pnl, "0");
    ck_fx(get_account(acct).cash, "8350"); /* 10000 - 1000 - 1200 + 550 */
    ck_assert_int_ge(pt_metric(conn, instance, "tb_pos_fills_reordered_total"), 2);
    assert_exact();
}
END_TEST

START_TEST(marks_are_throttled_and_end_at_the_latest_tick) {
    /* 50 ticks in a burst on a symbol only this test trades: the first is
     * written at once, the rest are held and the timer writes the newest. */
    char acct[40], id[64], sym[40];
    snprintf(acct, sizeof acct, "%sE", prefix);
    snprintf(sym, sizeof sym, "T%s", prefix);
    make_account(acct, "1000");
    tb_fill f;
    snprintf(id, sizeof id, "%s-1", acct);
    pt_fill(&f, id, acct, sym, "buy", "1", "10", "0", ts0);
    send_fill(&f);
    ck_assert(pt_wait_applied(pg, acct, 1, 60000));
    long before = pt_metric(conn, instance, "tb_pos_marks_written_total");
    char subject[80];
    snprintf(subject, sizeof subject, "md.tick.%s", sym);
    int64_t t_ns = tb_now_ns();
    for (int i = 1; i <= 50; i++) {
        tb_tick t = {0};
        snprintf(t.symbol, sizeof t.symbol, "%s", sym);
        t.seq = (uint64_t)i;
        t.ts = t_ns + i * 1000;
        t.last = pt_fx("10") + i * TB_FIXED_SCALE; /* 11 .. 60 */
        ck_assert_int_eq(bus_publish(conn, subject, &tb_tick_desc, &t, NULL), TB_OK);
    }
    int64_t end = bus_mono_ns() + INT64_C(10000000000);
    tb_position_update p;
    do {
        p = get_position(acct, sym, NULL, TB_OK);
        if (p.last_price == pt_fx("60")) break;
        usleep(20000);
    } while (bus_mono_ns() < end);
    ck_fx(p.last_price, "60");
    ck_fx(p.unrealized_pnl, "50");
    ck_fx(get_account(acct).equity, "1050");
    long writes =
        pt_metric(conn, instance, "tb_pos_marks_written_total") - (before > 0 ? before : 0);
    ck_assert_msg(writes >= 1 && writes <= 5, "%ld mark writes for 50 ticks", writes);
    assert_exact();
}
END_TEST

START_TEST(burst_of_ticks_over_four_symbols_ends_at_the_newest_marks) {
    /* 4 x 1500 ticks interleaved, with late copies of old ticks mixed in,
     * published without pause: the worker takes them in batches and each
     * position ends marked at its symbol's newest tick. Long 2 @ 10 of each
     * symbol, cash 1000 - 4 * 20 = 920. */
    char acct[40], id[64], sym[4][48];
    snprintf(acct, sizeof acct, "%sG", prefix);
    make_account(acct, "1000");
    for (int k = 0; k < 4; k++) {
        snprintf(sym[k], sizeof sym[k], "B%d%s", k, prefix);
        tb_fill f;
        snprintf(id, sizeof id, "%s-%d", acct, k);
        pt_fill(&f, id, acct, sym[k], "buy", "2", "10", "0", ts0 + k * 1000);
        send_fill(&f);
    }
    ck_assert(pt_wait_applied(pg, acct, 4, 60000));
    long before = pt_metric(conn, instance, "tb_pos_marks_written_total");
    enum { PER_SYMBOL = 1500 };
    int64_t t_ns = tb_now_ns();
    for (int i = 1; i <= PER_SYMBOL; i++) {
        for (int k = 0; k < 4; k++) {
            char subject[80];
            snprintf(subject, sizeof subject, "md.tick.%s", sym[k]);
            tb_tick t = {0};
            snprintf(t.symbol, sizeof t.symbol, "%s", sym[k]);
            /* one tick in ten is a late copy of an older one, at price 1 */
            bool late = i % 10 == 5;
            t.seq = (uint64_t)(late ? i - 5 : i);
            t.ts = t_ns + (int64_t)t.seq * 1000;
            /* symbol k ends at 10 + k + 0.00000001 * 1500 */
            t.last = late ? pt_fx("1") : pt_fx("10") + k * TB_FIXED_SCALE + i;
            ck_assert_int_eq(bus_publish(conn, subject, &tb_tick_desc, &t, NULL), TB_OK);
        }
    }
    const char *want_px[4] = {"10.00001500", "11.00001500", "12.00001500", "13.00001500"};
    /* unrealized = 2 * last - 20 */
    const char *want_u[4] = {"0.00003", "2.00003", "4.00003", "6.00003"};
    int64_t end = bus_mono_ns() + INT64_C(15000000000);
    tb_position_update p[4];
    bool all;
    do {
        all = true;
        for (int k = 0; k < 4; k++) {
            p[k] = get_position(acct, sym[k], NULL, TB_OK);
            all = all && p[k].last_price == pt_fx(want_px[k]);
        }
        if (!all) usleep(50000);
    } while (!all && bus_mono_ns() < end);
    for (int k = 0; k < 4; k++) {
        ck_fx(p[k].last_price, want_px[k]);
        ck_fx(p[k].unrealized_pnl, want_u[k]);
        ck_fx(p[k].qty, "2");
    }
    tb_account a = get_account(acct);
    ck_fx(a.cash, "920");
    ck_fx(a.unrealized_pnl, "12.00012");
    ck_fx(a.equity, "1012.00012");
    /* Batches and the 200 ms throttle: a handful of writes per symbol, not
     * one per tick. */
    long writes =
        pt_metric(conn, instance, "tb_pos_marks_written_total") - (before > 0 ? before : 0);
    ck_assert_msg(writes >= 4 && writes <= 200, "%ld mark writes for %d ticks", writes,
                  4 * PER_SYMBOL);
    assert_exact();
}
END_TEST

/* The shared checker itself: it accepts a consistent book written by hand
 * and names each kind of mismatch, down to one unit of 1e-8. */
static void set_and_expect(const char *acct, const char *sql, const char *want) {
    const char *p[1] = {acct};
    pt_exec(pg, sql, 1, p);
    char msg[1024];
    ck_assert_msg(!tb_check_exactness(pg, acct, msg, sizeof msg), "mismatch not found: %s", sql);
    ck_assert_msg(strstr(msg, want) != NULL, "message '%s' lacks '%s'", msg, want);
}

START_TEST(exactness_check_detects_mismatches) {
    char acct[40], id[64];
    snprintf(acct, sizeof acct, "%sX", prefix);
    const char *pa[1] = {acct};
    /* 1000 - 2.5 * 10.00000003 (= 25.000000075 -> 25.00000008) - 0.01 + 1 * 11 */
    pt_exec(pg, "INSERT INTO accounts (id, cash, initial_cash) VALUES ($1, 985.98999992, 1000)", 1,
            pa);
    tb_fill f;
    snprintf(id, sizeof id, "%s-1", acct);
    pt_fill(&f, id, acct, "DAX", "buy", "2.5", "10.00000003", "0.01", ts0);
    pt_record_fill(pg, &f);
    snprintf(id, sizeof id, "%s-2", acct);
    pt_fill(&f, id, acct, "DAX", "sell", "1", "11", "0", ts0 + 1000);
    pt_record_fill(pg, &f);
    pt_exec(pg, "INSERT INTO applied_fills (fill_id) SELECT fill_id FROM fills WHERE account = $1",
            1, pa);
    /* cost 25.00000008 - 10.00000003 (25.00000008 * 1 / 2.5) = 15.00000005,
     * realized 11 - 10.00000003 = 0.99999997:
     * cash + cost = 1000.98999997 = 1000 + 0.99999997 - 0.01 */
    pt_exec(
        pg,
        "INSERT INTO positions (account, symbol, qty, cost_basis, avg_cost, realized_pnl, fees) "
        "VALUES ($1, 'DAX', 1.5, 15.00000005, 10.00000003, 0.99999997, 0.01)",
        1, pa);
    char msg[1024];
    tb_exactness_counts k;
    ck_assert_msg(tb_check_exactness_counts(pg, acct, msg, sizeof msg, &k), "%s", msg);
    ck_assert_int_eq(k.accounts, 1);
    ck_assert_int_eq(k.positions, 1);
    ck_assert_int_eq(k.fills, 2);

    set_and_expect(acct, "UPDATE positions SET qty = qty + 0.00000001 WHERE account = $1",
                   "position qty 1.50000001 != sum of fills 1.50000000");
    pt_exec(pg, "UPDATE positions SET qty = 1.5 WHERE account = $1", 1, pa);
    set_and_expect(acct, "UPDATE accounts SET cash = cash - 0.00000001 WHERE id = $1", "cash");
    pt_exec(pg, "UPDATE accounts SET cash = 985.98999992 WHERE id = $1", 1, pa);
    set_and_expect(acct, "UPDATE positions SET realized_pnl = 1 WHERE account = $1",
                   "cash + cost basis");
    pt_exec(pg, "UPDATE positions SET realized_pnl = 0.99999997 WHERE account = $1", 1, pa);
    set_and_expect(acct, "UPDATE positions SET fees = 0 WHERE account = $1", "position fees");
    pt_exec(pg, "UPDATE positions SET fees = 0.01 WHERE account = $1", 1, pa);
    set_and_expect(acct, "DELETE FROM applied_fills WHERE fill_id LIKE $1 || '-2'",
                   "1 fills not applied");
    pt_exec(pg, "INSERT INTO applied_fills (fill_id) VALUES ($1 || '-2')", 1, pa);
    set_and_expect(acct, "INSERT INTO positions (account, symbol, qty) VALUES ($1, 'SAP', 1)",
                   "position qty");
    pt_exec(pg, "DELETE FROM positions WHERE account = $1 AND symbol = 'SAP'", 1, pa);
    ck_assert_msg(tb_check_exactness(pg, acct, msg, sizeof msg), "%s", msg);
}
END_TEST

/* Last: the service drains and exits 0 (under ASan: without leaks or memory
 * errors). A test, not the teardown: a failure in an unchecked teardown is
 * not recorded. */
START_TEST(positions_stop_cleanly) {
    int rc = tb_test_stop(worker, 20000);
    worker = 0;
    ck_assert_msg(rc == 0, "tb-position-management exited with %d", rc);
}
END_TEST

int main(void) {
    Suite *s = suite_create("pos_fills");
    TCase *tc = tcase_create("booking");
    tcase_add_unchecked_fixture(tc, setup_all, teardown_all);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, fills_book_positions_cash_and_pnl);
    tcase_add_test(tc, same_fill_twice_is_applied_once);
    tcase_add_test(tc, late_fill_is_booked_in_order);
    tcase_add_test(tc, marks_are_throttled_and_end_at_the_latest_tick);
    tcase_add_test(tc, burst_of_ticks_over_four_symbols_ends_at_the_newest_marks);
    tcase_add_test(tc, exactness_check_detects_mismatches);
    tcase_add_test(tc, positions_stop_cleanly);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
