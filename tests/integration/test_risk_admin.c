/* risk-management's control surface and signals against the real servers:
 * limits get/set round trip with defaults, the kill switch (per account and
 * global) mass-cancels open orders and blocks new ones until released, and
 * signals become orders exactly once. */
#include "test_risk_fixture.h"

START_TEST(limits_round_trip) {
    tb_risk_limits d, got, set;
    tb_error err = {0};
    /* the defaults row reads and writes back unchanged */
    ck_assert_msg(get_limits("_default", &d, &err) == TB_OK, "%s", err.message);
    ck_assert_str_eq(d.account, "_default");
    ck_assert_int_eq(set_limits(&d, &got), TB_OK);
    ck_assert_mem_eq(&got, &d, sizeof d);

    /* a new account has the defaults */
    char acct[48];
    new_account(acct, sizeof acct);
    ck_assert_int_eq(get_limits(acct, &got, &err), TB_OK);
    ck_assert_str_eq(got.account, acct);
    ck_assert_int_eq(got.max_order_qty, d.max_order_qty);
    ck_assert_int_eq(got.max_open_orders, d.max_open_orders);
    ck_assert_int_eq(got.price_collar_bps, d.price_collar_bps);
    ck_assert_int_eq(got.kill_switch, false);

    /* own values override, zero fields keep the defaults */
    tb_risk_limits l = limits_for(acct);
    l.max_order_qty = FX(7) + E8;
    l.max_open_orders = 3;
    l.min_qty = FX(1) / 10;
    l.reduce_only = true;
    snprintf(l.restricted_symbols, sizeof l.restricted_symbols, "AAA,BBB");
    ck_assert_int_eq(set_limits(&l, &set), TB_OK);
    ck_assert_int_eq(get_limits(acct, &got, &err), TB_OK);
    ck_assert_mem_eq(&got, &set, sizeof got);
    ck_assert_int_eq(got.max_order_qty, FX(7) + E8);
    ck_assert_int_eq(got.max_open_orders, 3);
    ck_assert_int_eq(got.min_qty, FX(1) / 10);
    ck_assert(got.reduce_only);
    ck_assert_int_eq(got.max_order_notional, d.max_order_notional);
    ck_assert_int_eq(got.daily_loss_limit, d.daily_loss_limit);
    ck_assert_int_eq(got.max_orders_per_sec, d.max_orders_per_sec);
    /* restricted symbols add to the defaults' list */
    char want[600];
    snprintf(want, sizeof want, "%s%sAAA,BBB", d.restricted_symbols,
             d.restricted_symbols[0] ? "," : "");
    ck_assert_str_eq(got.restricted_symbols, want);
    /* a second set replaces the first */
    l = limits_for(acct);
    l.max_order_qty = FX(2);
    ck_assert_int_eq(set_limits(&l, &set), TB_OK);
    ck_assert_int_eq(set.max_order_qty, FX(2));
    ck_assert_int_eq(set.max_open_orders, d.max_open_orders);
    ck_assert(!set.reduce_only);
    ck_assert_str_eq(set.restricted_symbols, d.restricted_symbols);
    ck_assert_int_eq(set.min_qty, d.min_qty);
    ck_assert(!set.backtest);

    /* a backtest run's account (analytics marks it) stays one when its
     * limits are replaced without the flag, as the gateway sends them */
    l = limits_for(acct);
    l.backtest = true;
    ck_assert_int_eq(set_limits(&l, &set), TB_OK);
    ck_assert(set.backtest);
    l = limits_for(acct);
    l.max_order_qty = FX(3);
    ck_assert_int_eq(set_limits(&l, &set), TB_OK);
    ck_assert_int_eq(set.max_order_qty, FX(3));
    ck_assert_msg(set.backtest, "a replacement of the limits dropped the backtest mark");

    /* errors */
    ck_assert_int_eq(get_limits("NOSUCHACCOUNT_x", &got, &err), TB_NOT_FOUND);
    l = limits_for("NOSUCHACCOUNT_x");
    ck_assert_int_eq(set_limits(&l, NULL), TB_NOT_FOUND);
    l = limits_for(acct);
    l.max_position_qty = -FX(1);
    tb_risk_limits ignored;
    ck_assert_int_eq(bus_request(client, "api.risk.limits.set", &tb_risk_limits_desc, &l,
                                 &tb_risk_limits_desc, &ignored, 5000, NULL, &err),
                     TB_INVALID);
    ck_assert_str_eq(err.field, "max_position_qty");
    l.max_position_qty = 0;
    snprintf(l.restricted_symbols, sizeof l.restricted_symbols, "A B");
    ck_assert_int_eq(set_limits(&l, NULL), TB_INVALID);
    tb_query q;
    memset(&q, 0, sizeof q);
    ck_assert_int_eq(bus_request(client, "api.risk.limits.get", &tb_query_desc, &q,
                                 &tb_risk_limits_desc, &got, 5000, NULL, &err),
                     TB_MISSING_FIELD);
}
END_TEST

/* Collects cancels of acct until want order ids are seen. */
static void expect_cancels(natsSubscription *sub, char ids[][TB_ID_CAP], int n) {
    int seen = 0;
    tb_order_cancel c;
    char msg_id[TB_ID_CAP];
    while (seen < n) {
        ck_assert_msg(next_event(sub, &tb_order_cancel_desc, &c, 5000, msg_id, sizeof msg_id),
                      "only %d of %d cancels", seen, n);
        ck_assert_str_eq(c.reason, "kill_switch");
        char want[TB_ID_CAP + 8];
        snprintf(want, sizeof want, "cancel-%s", c.order_id);
        ck_assert_str_eq(msg_id, want);
        for (int i = 0; i < n; i++)
            if (strcmp(ids[i], c.order_id) == 0) {
                ids[i][0] = '\0';
                seen++;
            }
    }
}

START_TEST(kill_switch_account) {
    char acct[48], other[48], sym[48], subj[128];
    new_account(acct, sizeof acct);
    new_account(other, sizeof other);
    new_symbol(sym, sizeof sym, true, "1", "0.01", "1", "");
    fake_set_quote(sym, FX(99), FX(101), FX(100));
    tb_order_request r = order_req(acct, sym, "buy", "limit", FX(1));
    r.limit_price = FX(100);
    char ids[2][TB_ID_CAP];
    tb_order_record rec;
    tb_error err;
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(submit(&r, &rec, &err), TB_OK);
        snprintf(ids[i], sizeof ids[i], "%s", rec.order_id);
    }
    tb_order_request ro = order_req(other, sym, "buy", "limit", FX(1));
    ro.limit_price = FX(100);
    expect_accept(&ro, "other account");
    snprintf(subj, sizeof subj, "orders.cancel.%s", acct);
    natsSubscription *cancels = subscribe(subj);
    snprintf(subj, sizeof subj, "orders.cancel.%s", other);
    natsSubscription *other_cancels = subscribe(subj);

    tb_kill_switch ks;
    ck_assert_msg(kill_switch(acct, true, &ks, &err) == TB_OK, "%s", err.message);
    ck_assert(ks.engaged);
    ck_assert_int_eq(ks.canceled, 2);
    expect_cancels(cancels, ids, 2);
    expect_reject(&r, "kill_switch_account", "account", "engaged");
    tb_risk_limits l;
    ck_assert_int_eq(get_limits(acct, &l, &err), TB_OK);
    ck_assert(l.kill_switch);
    /* limits.set does not release it */
    tb_risk_limits nl = limits_for(acct);
    ck_assert_int_eq(set_limits(&nl, NULL), TB_OK);
    expect_reject(&r, "kill_switch_account", "account", "still engaged");
    /* engaging again cancels nothing more (cancels already recorded) */
    ck_assert_int_eq(kill_switch(acct, true, &ks, &err), TB_OK);
    ck_assert_int_eq(ks.canceled, 0);
    /* the other account is untouched */
    expect_accept(&ro, "other account still trades");
    tb_order_cancel c;
    ck_assert(!next_event(other_cancels, &tb_order_cancel_desc, &c, 300, NULL, 0));

    ck_assert_int_eq(kill_switch(acct, false, &ks, &err), TB_OK);
    ck_assert(!ks.engaged);
    expect_accept(&r, "released");
    /* the audit trail: engage (2 canceled), engage (0), release */
    const char *pa[1] = {acct};
    char log[256];
    pg_value(log, sizeof log,
             "SELECT string_agg(engaged || ':' || canceled || ':' || reason, ' ' ORDER BY id) "
             "FROM risk_kill_switch_log WHERE account = $1",
             1, pa);
    ck_assert_str_eq(log, "true:2:test true:0:test false:0:test");
    ck_assert_int_eq(get_limits(acct, &l, &err), TB_OK);
    ck_assert(!l.kill_switch);
    ck_assert_int_eq(kill_switch("NOSUCHACCOUNT_y", true, &ks, &err), TB_NOT_FOUND);
    natsSubscription_Destroy(cancels);
    natsSubscription_Destroy(other_cancels);
}
END_TEST

START_TEST(kill_switch_global) {
    char a1[48], a2[48], sym[48], subj[128];
    new_account(a1, sizeof a1);
    new_account(a2, sizeof a2);
    new_symbol(sym, sizeof sym, true, "1", "0.01", "1", "");
    fake_set_quote(sym, FX(99), FX(101), FX(100));
    tb_order_request r1 = order_req(a1, sym, "sell", "limit", FX(1));
    r1.limit_price = FX(100);
    tb_order_request r2 = r1;
    snprintf(r2.account, sizeof r2.account, "%s", a2);
    char id1[1][TB_ID_CAP], id2[1][TB_ID_CAP];
    tb_order_record rec;
    tb_error err;
    ck_assert_int_eq(submit(&r1, &rec, &err), TB_OK);
    snprintf(id1[0], sizeof id1[0], "%s", rec.order_id);
    ck_assert_int_eq(submit(&r2, &rec, &err), TB_OK);
    snprintf(id2[0], sizeof id2[0], "%s", rec.order_id);
    snprintf(subj, sizeof subj, "orders.cancel.%s", a1);
    natsSubscription *c1 = subscribe(subj);
    snprintf(subj, sizeof subj, "orders.cancel.%s", a2);
    natsSubscription *c2 = subscribe(subj);

    tb_kill_switch ks;
    ck_assert_msg(kill_switch("", true, &ks, &err) == TB_OK, "%s", err.message);
    ck_assert_int_ge(ks.canceled, 2); /* open orders of earlier tests count too */
    expect_cancels(c1, id1, 1);
    expect_cancels(c2, id2, 1);
    expect_reject(&r1, "kill_switch_global", "account", "global engaged");
    tb_risk_limits l;
    ck_assert_int_eq(get_limits(a2, &l, &err), TB_OK);
    ck_assert(l.kill_switch);
    ck_assert_int_eq(kill_switch("", false, &ks, &err), TB_OK);
    expect_accept(&r1, "global released");
    expect_accept(&r2, "global released");
    natsSubscription_Destroy(c1);
    natsSubscription_Destroy(c2);
}
END_TEST

static tb_signal make_signal(const char *acct, const char *sym, const char *sizing, tb_fixed qty,
                             tb_fixed target) {
    tb_signal s;
    memset(&s, 0, sizeof s);
    tb_test_unique(s.signal_id, sizeof s.signal_id, "sig-");
    snprintf(s.strategy_id, sizeof s.strategy_id, "sma1");
    snprintf(s.account, sizeof s.account, "%s", acct);
    snprintf(s.symbol, sizeof s.symbol, "%s", sym);
    snprintf(s.side, sizeof s.side, "buy");
    snprintf(s.sizing, sizeof s.sizing, "%s", sizing);
    s.qty = qty;
    s.target = target;
    s.ref_price = FX(100);
    s.tick_seq = 7;
    s.ts = tb_now_ns();
    return s;
}

static void publish_signal(const tb_signal *s) {
    char subj[160];
    snprintf(subj, sizeof subj, "sig.%s.%s", s->strategy_id, s->symbol);
    bus_msg_meta meta = {.trace_id = s->signal_id};
    ck_assert_int_eq(bus_publish(client, subj, &tb_signal_desc, s, &meta), TB_OK);
    ck_assert_int_eq(bus_conn_flush(client, 2000), TB_OK);
}

START_TEST(signals_become_orders_once) {
    char acct[48], sym[48], subj[128];
    new_account(acct, sizeof acct);
    new_symbol(sym, sizeof sym, true, "1", "0.01", "1", "");
    fake_set_quote(sym, FX(99), FX(101), FX(100));
    snprintf(subj, sizeof subj, "risk.decision.%s", acct);
    natsSubscription *decisions = subscribe(subj);
    snprintf(subj, sizeof subj, "orders.new.%s", acct);
    natsSubscription *orders = subscribe(subj);

    /* fixed size: one order, also when the signal comes twice */
    tb_signal s = make_signal(acct, sym, "fixed", FX(2), 0);
    publish_signal(&s);
    publish_signal(&s);
    tb_risk_decision d;
    ck_assert(next_event(decisions, &tb_risk_decision_desc, &d, 5000, NULL, 0));
    ck_assert(d.approved);
    ck_assert_str_eq(d.source, "signal");
    ck_assert_str_eq(d.signal_id, s.signal_id);
    tb_order o;
    char msg_id[TB_ID_CAP];
    ck_assert(next_event(orders, &tb_order_desc, &o, 5000, msg_id, sizeof msg_id));
    ck_assert_str_eq(o.order_id, d.order_id);
    ck_assert_str_eq(msg_id, d.order_id);
    ck_assert_str_eq(o.source, "signal");
    ck_assert_str_eq(o.type, "market");
    ck_assert_str_eq(o.strategy_id, "sma1");
    ck_assert_int_eq(o.qty, FX(2));
    ck_assert(!next_event(decisions, &tb_risk_decision_desc, &d, 500, NULL, 0));
    ck_assert(!next_event(orders, &tb_order_desc, &o, 100, NULL, 0));
    const char *p[1] = {s.signal_id};
    ck_assert_int_eq(pg_count("SELECT count(*) FROM orders WHERE signal_id = $1 AND "
                              "source = 'signal' AND strategy_id = 'sma1'",
                              1, p),
                     1);

    /* target sizing: position 3, target -1 -> sell 4 */
    fake_set_position(acct, sym, FX(3), FX(100));
    s = make_signal(acct, sym, "target", 0, -FX(1));
    publish_signal(&s);
    ck_assert(next_event(orders, &tb_order_desc, &o, 5000, NULL, 0));
    ck_assert_str_eq(o.side, "sell");
    ck_assert_int_eq(o.qty, FX(4));
    ck_assert(next_event(decisions, &tb_risk_decision_desc, &d, 5000, NULL, 0));
    ck_assert(d.approved);
    /* at target: nothing at all */
    s = make_signal(acct, sym, "target", 0, FX(3));
    publish_signal(&s);
    ck_assert(!next_event(decisions, &tb_risk_decision_desc, &d, 500, NULL, 0));
    /* signals pass the same checks: a rejected signal makes no order */
    s = make_signal(acct, sym, "fixed", FX(1) / 2, 0); /* below min_qty 1 */
    publish_signal(&s);
    ck_assert(next_event(decisions, &tb_risk_decision_desc, &d, 5000, NULL, 0));
    ck_assert(!d.approved);
    ck_assert_str_eq(d.reasons, "qty_below_min,lot_size");
    /* positions down: a target signal cannot be sized, rejected visibly */
    fake_set_down(acct, true);
    s = make_signal(acct, sym, "target", 0, FX(10));
    publish_signal(&s);
    ck_assert(next_event(decisions, &tb_risk_decision_desc, &d, 5000, NULL, 0));
    ck_assert(!d.approved);
    ck_assert_str_eq(d.reasons, "positions_unavailable");
    fake_set_down(acct, false);
    ck_assert(!next_event(orders, &tb_order_desc, &o, 300, NULL, 0));
    const char *pa[1] = {acct};
    ck_assert_int_eq(pg_count("SELECT count(*) FROM orders WHERE account = $1", 1, pa), 2);
    natsSubscription_Destroy(decisions);
    natsSubscription_Destroy(orders);
}
END_TEST

/* A signal's order is checked in its event time: its rate counts per second
 * of the data (daily closes published in a burst are one per day, not many
 * per second) and it is valued at its fill reference, without a quote. */
START_TEST(signal_orders_count_event_time) {
    char acct[48], sym[48], subj[128];
    new_account(acct, sizeof acct);
    new_symbol(sym, sizeof sym, true, "1", "0.01", "1", "");
    /* no quote at all: a signal's market order needs none */
    tb_risk_limits l = limits_for(acct);
    l.max_orders_per_sec = 2;
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    snprintf(subj, sizeof subj, "risk.decision.%s", acct);
    natsSubscription *decisions = subscribe(subj);
    const int64_t day = INT64_C(86400000000000), t0 = INT64_C(902966400000000000); /* 1998-08-13 */
    tb_signal s;
    for (int i = 0; i < 6; i++) { /* six days' closes, in one burst */
        s = make_signal(acct, sym, "fixed", FX(1), 0);
        s.ts = t0 + i * day;
        s.fill_price = FX(101);
        s.fill_ts = t0 + (i + 1) * day;
        s.fill_seq = 8;
        publish_signal(&s);
    }
    int approved = 0, rejected = 0;
    tb_risk_decision d;
    while (approved + rejected < 6 &&
           next_event(decisions, &tb_risk_decision_desc, &d, 5000, NULL, 0))
        d.approved ? approved++ : rejected++;
    ck_assert_int_eq(approved, 6);
    /* four orders within one second of event time: two pass */
    for (int i = 0; i < 4; i++) {
        s = make_signal(acct, sym, "fixed", FX(1), 0);
        s.ts = t0 + 10 * day + i * 1000;
        s.fill_price = FX(101);
        s.fill_ts = t0 + 10 * day + i * 1000 + 1;
        s.fill_seq = 9;
        publish_signal(&s);
    }
    approved = rejected = 0;
    char reasons[160] = "";
    while (approved + rejected < 4 &&
           next_event(decisions, &tb_risk_decision_desc, &d, 5000, NULL, 0)) {
        if (d.approved)
            approved++;
        else
            rejected++, snprintf(reasons, sizeof reasons, "%s", d.reasons);
    }
    ck_assert_int_eq(approved, 2);
    ck_assert_int_eq(rejected, 2);
    ck_assert_str_eq(reasons, "order_rate");
    const char *pa[1] = {acct};
    ck_assert_int_eq(pg_count("SELECT count(*) FROM orders WHERE account = $1", 1, pa), 8);
    natsSubscription_Destroy(decisions);
}
END_TEST

/* A burst of signals of one account is decided in batches (fewer batches
 * than signals, one transaction per account and batch), and exactly as one
 * by one: every approved order counts as open for the signals after it, so
 * max_open_orders admits exactly its number, and every signal gets one
 * decision. */
START_TEST(signal_burst_decided_in_batches) {
    enum { SIGNALS = 150, MAX_OPEN = 40 };
    char acct[48], sym[48], subj[128];
    new_account(acct, sizeof acct);
    new_symbol(sym, sizeof sym, true, "1", "0.01", "1", "");
    tb_risk_limits l = limits_for(acct);
    l.max_open_orders = MAX_OPEN;
    l.max_orders_per_sec = 100000;
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    snprintf(subj, sizeof subj, "risk.decision.%s", acct);
    natsSubscription *decisions = subscribe(subj);
    double batches0 = risk_metric("tb_batch_size_count", "endpoint=\"signals\"");
    const int64_t t0 = INT64_C(902966400000000000);
    for (int i = 0; i < SIGNALS; i++) {
        tb_signal s = make_signal(acct, sym, "fixed", FX(1), 0);
        s.ts = t0 + i * INT64_C(1000000000);
        s.fill_price = FX(101);
        s.fill_ts = s.ts + 1;
        s.fill_seq = (uint64_t)i + 1;
        publish_signal(&s);
    }
    int approved = 0, rejected = 0, other = 0;
    tb_risk_decision d;
    while (approved + rejected + other < SIGNALS &&
           next_event(decisions, &tb_risk_decision_desc, &d, 10000, NULL, 0)) {
        if (d.approved)
            approved++;
        else if (strcmp(d.reasons, "max_open_orders") == 0)
            rejected++;
        else
            other++;
    }
    ck_assert_int_eq(approved, MAX_OPEN);
    ck_assert_int_eq(rejected, SIGNALS - MAX_OPEN);
    ck_assert_int_eq(other, 0);
    ck_assert(!next_event(decisions, &tb_risk_decision_desc, &d, 300, NULL, 0));
    const char *pa[1] = {acct};
    ck_assert_int_eq(pg_count("SELECT count(*) FROM orders WHERE account = $1", 1, pa), MAX_OPEN);
    double batches = risk_metric("tb_batch_size_count", "endpoint=\"signals\"");
    double signals = risk_metric("tb_batch_size_sum", "endpoint=\"signals\"");
    ck_assert_msg(batches > batches0 && batches - batches0 < SIGNALS, "%.0f batches for %d signals",
                  batches - batches0, SIGNALS);
    ck_assert_msg(signals >= SIGNALS, "the batches held %.0f signals", signals);
    natsSubscription_Destroy(decisions);
}
END_TEST

/* n new accounts whose order rate and open orders allow a burst. */
static void roomy_accounts(char accts[][48], int n) {
    for (int a = 0; a < n; a++) {
        new_account(accts[a], sizeof accts[a]);
        tb_risk_limits l = limits_for(accts[a]);
        l.max_orders_per_sec = 100000;
        l.max_open_orders = 100000;
        ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    }
}

/* Signals of several accounts, interleaved: n per account at event times
 * a second apart; waits for decisions_due decisions of them (10 s at most
 * after the last) and returns how many approved an order. */
static int burst_of_accounts(char accts[][48], int naccts, const char *sym, int n,
                             int decisions_due) {
    natsSubscription *decisions = subscribe("risk.decision.>");
    const int64_t t0 = INT64_C(902966400000000000);
    for (int i = 0; i < n; i++)
        for (int a = 0; a < naccts; a++) {
            tb_signal s = make_signal(accts[a], sym, "fixed", FX(1), 0);
            s.ts = t0 + i * INT64_C(1000000000);
            s.fill_price = FX(101);
            s.fill_ts = s.ts + 1;
            s.fill_seq = (uint64_t)i + 1;
            publish_signal(&s);
        }
    int seen = 0, approved = 0;
    tb_risk_decision d;
    while (seen < decisions_due &&
           next_event(decisions, &tb_risk_decision_desc, &d, 10000, NULL, 0))
        for (int a = 0; a < naccts; a++)
            if (strcmp(d.account, accts[a]) == 0) {
                seen++;
                approved += d.approved;
            }
    natsSubscription_Destroy(decisions);
    return approved;
}

/* A batch of signals of several accounts records all their orders in one
 * transaction (one commit for the batch): some transaction holds orders of
 * more than one account, which one transaction per account never does. */
START_TEST(accounts_of_a_batch_share_a_transaction) {
    enum { ACCTS = 6, PER = 25 };
    char accts[ACCTS][48], sym[48];
    new_symbol(sym, sizeof sym, true, "1", "0.01", "1", "");
    roomy_accounts(accts, ACCTS);
    char list[ACCTS * 50] = "{";
    for (int a = 0; a < ACCTS; a++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", a ? "," : "", accts[a]);
    strcat(list, "}");
    ck_assert_int_eq(burst_of_accounts(accts, ACCTS, sym, PER, ACCTS * PER), ACCTS * PER);
    const char *p[1] = {list};
    ck_assert_int_eq(pg_count("SELECT count(*) FROM orders WHERE account = ANY ($1::text[])", 1, p),
                     ACCTS * PER);
    long shared = pg_count("SELECT count(*) FROM (SELECT xmin::text FROM orders WHERE account = "
                           "ANY ($1::text[]) GROUP BY 1 HAVING count(DISTINCT account) > 1) s",
                           1, p);
    long txs = pg_count("SELECT count(DISTINCT xmin::text) FROM orders WHERE account = "
                        "ANY ($1::text[])",
                        1, p);
    printf("risk: %d orders of %d accounts in %ld transactions, %ld of them with several "
           "accounts\n",
           ACCTS * PER, ACCTS, txs, shared);
    ck_assert_msg(shared > 0, "%ld transactions, none with more than one account", txs);
    /* each order with its one 'new' event and its outbox row, in the same
     * transaction */
    ck_assert_int_eq(pg_count("SELECT count(*) FROM orders o JOIN order_events e USING (order_id) "
                              "WHERE o.account = ANY ($1::text[]) AND e.version = 1 AND "
                              "e.xmin::text = o.xmin::text",
                              1, p),
                     ACCTS * PER);
}
END_TEST

/* Each account of a batch is checked with its own facts and live
 * re-check, read for all of them in one statement each: every other
 * account's limits refuse the orders (max_order_qty below the signal's
 * qty), and exactly those accounts get no order. */
START_TEST(accounts_of_a_batch_get_their_own_facts) {
    enum { ACCTS = 6, PER = 10 };
    char accts[ACCTS][48], sym[48];
    new_symbol(sym, sizeof sym, true, "1", "0.01", "1", "");
    roomy_accounts(accts, ACCTS);
    for (int a = 1; a < ACCTS; a += 2) {
        tb_risk_limits l = limits_for(accts[a]);
        l.max_orders_per_sec = 100000;
        l.max_open_orders = 100000;
        l.max_order_qty = FX(1) / 2;
        ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    }
    ck_assert_int_eq(burst_of_accounts(accts, ACCTS, sym, PER, ACCTS * PER), ACCTS / 2 * PER);
    for (int a = 0; a < ACCTS; a++) {
        const char *p[1] = {accts[a]};
        ck_assert_int_eq(pg_count("SELECT count(*) FROM orders WHERE account = $1", 1, p),
                         a % 2 ? 0 : PER);
    }
}
END_TEST

/* When the batch's transaction fails for one account (here a constraint
 * only that account's orders break), the others are recorded account by
 * account: theirs all stay, and the failing account gets none. */
START_TEST(a_failing_account_leaves_the_others_recorded) {
    enum { ACCTS = 4, PER = 20 };
    char accts[ACCTS][48], sym[48], sql[300];
    new_symbol(sym, sizeof sym, true, "1", "0.01", "1", "");
    roomy_accounts(accts, ACCTS);
    snprintf(sql, sizeof sql,
             "ALTER TABLE orders ADD CONSTRAINT test_refuse_%s CHECK (account <> '%s') NOT VALID",
             accts[0], accts[0]);
    pg_exec(sql, 0, NULL);
    int approved = burst_of_accounts(accts, ACCTS, sym, PER, (ACCTS - 1) * PER);
    snprintf(sql, sizeof sql, "ALTER TABLE orders DROP CONSTRAINT test_refuse_%s", accts[0]);
    pg_exec(sql, 0, NULL);
    /* the failing account's signals get no decision (their batch failed) */
    ck_assert_int_eq(approved, (ACCTS - 1) * PER);
    for (int a = 0; a < ACCTS; a++) {
        const char *p[1] = {accts[a]};
        ck_assert_int_eq(pg_count("SELECT count(*) FROM orders WHERE account = $1", 1, p),
                         a == 0 ? 0 : PER);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("risk_admin");
    TCase *tc = tcase_create("admin");
    tcase_add_unchecked_fixture(tc, risk_env_start, risk_env_stop);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, limits_round_trip);
    tcase_add_test(tc, kill_switch_account);
    tcase_add_test(tc, kill_switch_global);
    tcase_add_test(tc, signals_become_orders_once);
    tcase_add_test(tc, signal_orders_count_event_time);
    tcase_add_test(tc, signal_burst_decided_in_batches);
    tcase_add_test(tc, accounts_of_a_batch_share_a_transaction);
    tcase_add_test(tc, a_failing_account_leaves_the_others_recorded);
    tcase_add_test(tc, accounts_of_a_batch_get_their_own_facts);
    tcase_add_test(tc, risk_stops_cleanly);
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
