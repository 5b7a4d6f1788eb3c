/* risk-management against the real servers: the tb-risk-management binary
 * with fake market-data / position-management answers (test_risk_fixture.h).
 * An approved order is in PostgreSQL and on the ORDERS stream with
 * Nats-Msg-Id = order id, every decision is on risk.decision.<account>, a
 * client_order_id retry returns the original order, and each pre-trade check
 * rejects with its reason code while accepting its boundary case. */
#include "test_risk_fixture.h"

START_TEST(approved_order_is_recorded_and_published) {
    char acct[48], sym[48], subj[128], dsubj[128];
    new_account(acct, sizeof acct);
    new_symbol(sym, sizeof sym, true, "0.001", "0.01", "0.01", "");
    fake_set_quote(sym, FX(99), FX(101), FX(100));
    snprintf(subj, sizeof subj, "orders.new.%s", acct);
    snprintf(dsubj, sizeof dsubj, "risk.decision.%s", acct);
    natsSubscription *orders = subscribe(subj), *decisions = subscribe(dsubj);

    tb_order_request r = order_req(acct, sym, "buy", "limit", FX(5) / 2);
    r.limit_price = FX(10025) / 100; /* 100.25 */
    snprintf(r.tif, sizeof r.tif, "gtc");
    tb_order_record rec;
    tb_error err;
    ck_assert_msg(submit(&r, &rec, &err) == TB_OK, "%s", err.message);
    ck_assert_str_eq(rec.status, "new");
    ck_assert_str_eq(rec.source, "api");
    ck_assert_str_eq(rec.tif, "gtc");
    ck_assert_int_eq(rec.qty, FX(5) / 2);
    ck_assert_int_gt(rec.created_at, 0);

    /* PostgreSQL: the order, its first event, its outbox row published */
    const char *p[1] = {rec.order_id};
    char v[128];
    pg_value(v, sizeof v,
             "SELECT status || ' ' || version || ' ' || qty || ' ' || limit_price "
             "|| ' ' || tif || ' ' || account FROM orders WHERE order_id = $1",
             1, p);
    char want[256];
    snprintf(want, sizeof want, "new 1 2.50000000 100.25000000 gtc %s", acct);
    ck_assert_str_eq(v, want);
    ck_assert_int_eq(pg_count("SELECT count(*) FROM order_events WHERE order_id = $1 AND "
                              "version = 1 AND status = 'new'",
                              1, p),
                     1);
    pg_value(v, sizeof v,
             "SELECT (extract(epoch FROM created_at) * 1000000)::bigint * 1000 "
             "FROM orders WHERE order_id = $1",
             1, p);
    ck_assert_int_eq(strtoll(v, NULL, 10), rec.created_at);

    /* ORDERS: on the subject, with Nats-Msg-Id = order id ... */
    tb_order o;
    char msg_id[TB_ID_CAP];
    ck_assert_msg(next_event(orders, &tb_order_desc, &o, 5000, msg_id, sizeof msg_id),
                  "no orders.new event");
    ck_assert_str_eq(msg_id, rec.order_id);
    ck_assert_str_eq(o.order_id, rec.order_id);
    ck_assert_int_eq(o.limit_price, r.limit_price);
    ck_assert_int_eq(o.ts, rec.created_at);
    /* ... and stored in the stream */
    jsCtx *js = NULL;
    ck_assert_int_eq(natsConnection_JetStream(&js, bus_conn_nats(client), NULL), NATS_OK);
    natsMsg *last = NULL;
    jsErrCode jerr = 0;
    ck_assert_int_eq(js_GetLastMsg(&last, js, BUS_STREAM_ORDERS, subj, NULL, &jerr), NATS_OK);
    const char *hid = NULL;
    ck_assert_int_eq(natsMsgHeader_Get(last, BUS_HDR_MSG_ID, &hid), NATS_OK);
    ck_assert_str_eq(hid, rec.order_id);
    natsMsg_Destroy(last);
    jsCtx_Destroy(js);
    /* The reply goes out once the order is committed; the relay takes its
     * outbox row out of the pending set right after, on the handler's thread. */
    int64_t marked_by = bus_mono_ns() + INT64_C(5000000000);
    while (pg_count("SELECT count(*) FROM outbox o WHERE msg_id = $1 AND NOT EXISTS "
                    "(SELECT 1 FROM outbox_pending x WHERE x.id = o.id)",
                    1, p) != 1 &&
           bus_mono_ns() < marked_by)
        usleep(10000);
    ck_assert_int_eq(pg_count("SELECT count(*) FROM outbox o WHERE msg_id = $1 AND NOT EXISTS "
                              "(SELECT 1 FROM outbox_pending x WHERE x.id = o.id)",
                              1, p),
                     1);

    tb_risk_decision d;
    ck_assert(next_event(decisions, &tb_risk_decision_desc, &d, 5000, NULL, 0));
    ck_assert(d.approved);
    ck_assert_str_eq(d.order_id, rec.order_id);
    ck_assert_str_eq(d.source, "api");

    /* a rejection is published too, with its reasons */
    tb_order_request bad = order_req(acct, sym, "buy", "limit", FX(9) / 1000); /* below 0.01 */
    bad.limit_price = FX(100);
    expect_reject(&bad, "qty_below_min", "qty", "tiny");
    ck_assert(next_event(decisions, &tb_risk_decision_desc, &d, 5000, NULL, 0));
    ck_assert(!d.approved);
    ck_assert_str_eq(d.reasons, "qty_below_min");
    ck_assert_str_eq(d.order_id, "");
    natsSubscription_Destroy(orders);
    natsSubscription_Destroy(decisions);
}
END_TEST

START_TEST(client_order_id_retry) {
    char acct[48], sym[48];
    new_account(acct, sizeof acct);
    new_symbol(sym, sizeof sym, true, "1", "0.01", "1", "");
    fake_set_quote(sym, FX(99), FX(101), FX(100));
    tb_order_request r = order_req(acct, sym, "sell", "market", FX(3));
    snprintf(r.client_order_id, sizeof r.client_order_id, "retry-1");
    tb_order_record first, again;
    tb_error err;
    ck_assert_msg(submit(&r, &first, &err) == TB_OK, "%s", err.message);
    ck_assert_str_eq(first.client_order_id, "retry-1");
    ck_assert_msg(submit(&r, &again, &err) == TB_OK, "%s", err.message);
    ck_assert_str_eq(again.order_id, first.order_id);
    ck_assert_int_eq(again.created_at, first.created_at);
    ck_assert_int_eq(again.qty, FX(3));
    const char *p[1] = {acct};
    ck_assert_int_eq(pg_count("SELECT count(*) FROM orders WHERE account = $1", 1, p), 1);
    /* the same key with other fields is refused as a conflict */
    r.qty = FX(4);
    tb_status s = submit(&r, &again, &err);
    ck_assert_int_eq(s, TB_CONFLICT);
    ck_assert_msg(strncmp(err.message, "duplicate_client_order_id:", 26) == 0, "%s", err.message);
    ck_assert_str_eq(err.field, "client_order_id");
    ck_assert_int_eq(pg_count("SELECT count(*) FROM orders WHERE account = $1", 1, p), 1);
    /* the same key on another account is another order */
    char other[48];
    new_account(other, sizeof other);
    r.qty = FX(3);
    snprintf(r.account, sizeof r.account, "%s", other);
    ck_assert_int_eq(submit(&r, &again, &err), TB_OK);
    ck_assert_str_ne(again.order_id, first.order_id);
}
END_TEST

/* Orders sent together are decided in batches (fewer batches than
 * requests) and answered as one by one: every new client_order_id makes one
 * order, a repeat with the same fields gets that order (also when it comes
 * in the same batch), a repeat with other fields is a conflict. */
START_TEST(concurrent_orders_batched) {
    enum { ORDERS = 100, REPEATS = 10, TOTAL = ORDERS + 2 * REPEATS };
    char acct[48], sym[48];
    new_account(acct, sizeof acct);
    new_symbol(sym, sizeof sym, true, "1", "0.01", "1", "");
    fake_set_quote(sym, FX(99), FX(101), FX(100));
    tb_risk_limits l = limits_for(acct);
    l.max_open_orders = 100000;
    l.max_orders_per_sec = 100000;
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    double batches0 = risk_metric("tb_batch_size_count", "endpoint=\"submit\"");

    natsConnection *nc = bus_conn_nats(client);
    natsInbox *inbox = NULL;
    ck_assert_int_eq(natsInbox_Create(&inbox), NATS_OK);
    char wild[128];
    snprintf(wild, sizeof wild, "%s.*", (const char *)inbox);
    natsSubscription *sub = NULL;
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, nc, wild), NATS_OK);
    /* 0..99: new keys; then each repeat of c-5 (same fields) and of c-7
     * (qty 2) right behind an original */
    static tb_order_request req[TOTAL];
    for (int i = 0; i < TOTAL; i++) {
        int key = i < ORDERS ? i : (i - ORDERS) % 2 == 0 ? 5 : 7;
        req[i] = order_req(acct, sym, "buy", "market", FX(1));
        snprintf(req[i].client_order_id, sizeof req[i].client_order_id, "c-%d", key);
        if (i >= ORDERS && key == 7) req[i].qty = FX(2);
    }
    int order[TOTAL], k = 0;
    for (int i = 0; i < ORDERS; i++) {
        order[k++] = i;
        if (i >= 8 && i < 8 + 2 * REPEATS) order[k++] = ORDERS + (i - 8);
    }
    ck_assert_int_eq(k, TOTAL);
    for (int j = 0; j < TOTAL; j++) {
        int i = order[j];
        msgpack_sbuffer b;
        msgpack_sbuffer_init(&b);
        ck_assert_int_eq(tb_encode(&tb_order_request_desc, &req[i], &b, NULL), TB_OK);
        char reply[160];
        snprintf(reply, sizeof reply, "%s.%d", (const char *)inbox, i);
        ck_assert_int_eq(
            natsConnection_PublishRequest(nc, "api.orders.submit", reply, b.data, (int)b.size),
            NATS_OK);
        msgpack_sbuffer_destroy(&b);
    }
    ck_assert_int_eq(natsConnection_Flush(nc), NATS_OK);
    static char ids[TOTAL][TB_ID_CAP];
    static char codes[TOTAL][32];
    int got = 0;
    while (got < TOTAL) {
        natsMsg *m = NULL;
        ck_assert_msg(natsSubscription_NextMsg(&m, sub, 10000) == NATS_OK, "%d of %d answers", got,
                      TOTAL);
        int i = atoi(strrchr(natsMsg_GetSubject(m), '.') + 1);
        ck_assert(i >= 0 && i < TOTAL && codes[i][0] == '\0');
        const char *code = NULL;
        if (natsMsgHeader_Get(m, BUS_HDR_ERROR_STATUS, &code) == NATS_OK) {
            snprintf(codes[i], sizeof codes[i], "%s", code);
        } else {
            tb_order_record rec;
            ck_assert_int_eq(tb_decode(&tb_order_record_desc, natsMsg_GetData(m),
                                       (size_t)natsMsg_GetDataLength(m), &rec, NULL),
                             TB_OK);
            ck_assert_str_eq(rec.client_order_id, req[i].client_order_id);
            snprintf(ids[i], sizeof ids[i], "%s", rec.order_id);
            snprintf(codes[i], sizeof codes[i], "ok");
        }
        natsMsg_Destroy(m);
        got++;
    }
    natsSubscription_Destroy(sub);
    natsInbox_Destroy(inbox);
    for (int i = 0; i < ORDERS; i++)
        ck_assert_msg(strcmp(codes[i], "ok") == 0, "c-%d: %s", i, codes[i]);
    for (int i = ORDERS; i < TOTAL; i++) {
        if ((i - ORDERS) % 2 == 0) {
            ck_assert_msg(strcmp(codes[i], "ok") == 0, "repeat of c-5: %s", codes[i]);
            ck_assert_str_eq(ids[i], ids[5]);
        } else {
            ck_assert_msg(strcmp(codes[i], "conflict") == 0, "repeat of c-7: %s", codes[i]);
        }
    }
    const char *p[1] = {acct};
    ck_assert_int_eq(pg_count("SELECT count(*) FROM orders WHERE account = $1", 1, p), ORDERS);
    double batches = risk_metric("tb_batch_size_count", "endpoint=\"submit\"");
    ck_assert_msg(batches > batches0 && batches - batches0 < TOTAL, "%.0f batches for %d orders",
                  batches - batches0, TOTAL);
}
END_TEST

START_TEST(symbol_checks) {
    char acct[48], sym[48], unlisted[48];
    new_account(acct, sizeof acct);
    /* unlisted: known when quoted, unknown otherwise */
    tb_test_unique(unlisted, sizeof unlisted, "UL");
    tb_order_request r = order_req(acct, unlisted, "buy", "market", FX(1));
    expect_reject(&r, "symbol_unknown", "symbol", "unlisted, unquoted");
    fake_set_quote(unlisted, FX(10), FX(11), FX(10));
    expect_accept(&r, "unlisted, quoted");
    /* not tradable */
    new_symbol(sym, sizeof sym, false, "1", "0.01", "1", "");
    fake_set_quote(sym, FX(10), FX(11), FX(10));
    r = order_req(acct, sym, "buy", "market", FX(1));
    expect_reject(&r, "symbol_not_tradable", "symbol", "not tradable");
    pg_exec("UPDATE symbols SET tradable = true WHERE symbol = $1", 1, (const char *[]){sym});
    expect_accept(&r, "tradable again");
    /* restricted for the account */
    tb_risk_limits l = limits_for(acct);
    snprintf(l.restricted_symbols, sizeof l.restricted_symbols, "OTHER,%s", sym);
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    expect_reject(&r, "symbol_restricted", "symbol", "restricted");
    r = order_req(acct, unlisted, "buy", "market", FX(1));
    expect_accept(&r, "other symbol not restricted");
    /* listed but no quote: a market order cannot be valued */
    char noquote[48];
    new_symbol(noquote, sizeof noquote, true, "1", "0.01", "1", "");
    r = order_req(acct, noquote, "buy", "market", FX(1));
    expect_reject(&r, "no_quote", "symbol", "no quote");
}
END_TEST

START_TEST(quantity_checks) {
    char acct[48], sym[48];
    new_account(acct, sizeof acct);
    new_symbol(sym, sizeof sym, true, "0.5", "0.01", "1", "10");
    fake_set_quote(sym, FX(99), FX(101), FX(100));
    tb_order_request r = order_req(acct, sym, "buy", "market", 0);
    expect_reject(&r, "qty_not_positive", "qty", "zero");
    r.qty = -FX(1);
    expect_reject(&r, "qty_not_positive", "qty", "negative");
    r.qty = FX(1);
    expect_accept(&r, "qty == min_qty");
    r.qty = FX(1) - E8;
    /* 0.99999999 is also off the 0.5 grid */
    tb_order_record rec;
    tb_error err;
    ck_assert_int_eq(submit(&r, &rec, &err), TB_REJECTED);
    ck_assert_msg(strncmp(err.message, "qty_below_min,lot_size:", 23) == 0, "%s", err.message);
    r.qty = FX(10);
    expect_accept(&r, "qty == max_qty");
    r.qty = FX(10) + E8;
    ck_assert_int_eq(submit(&r, &rec, &err), TB_REJECTED);
    ck_assert_msg(strncmp(err.message, "qty_above_max,lot_size:", 23) == 0, "%s", err.message);
    r.qty = FX(3) / 2;
    expect_accept(&r, "on the lot grid");
    r.qty = FX(3) / 2 + E8;
    expect_reject(&r, "lot_size", "qty", "off the lot grid");
    /* max_order_qty of the account: 4 */
    tb_risk_limits l = limits_for(acct);
    l.max_order_qty = FX(4);
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    r.qty = FX(4);
    expect_accept(&r, "qty == max_order_qty");
    pg_exec("UPDATE symbols SET lot_size = 0.00000001 WHERE symbol = $1", 1, (const char *[]){sym});
    r.qty = FX(4) + E8;
    expect_reject(&r, "max_order_qty", "qty", "max_order_qty + 1e-8");
}
END_TEST

START_TEST(price_checks) {
    char acct[48], sym[48];
    new_account(acct, sizeof acct);
    new_symbol(sym, sizeof sym, true, "0.00000001", "0.00000001", "0.00000001", "");
    fake_set_quote(sym, FX(99), FX(101), FX(100));
    tb_risk_limits l = limits_for(acct);
    l.max_order_notional = FX(1000);
    l.price_collar_bps = 100; /* [99, 101] around last 100 */
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    /* notional at the limit price: 10 x 100 */
    tb_order_request r = order_req(acct, sym, "buy", "limit", FX(10));
    expect_reject(&r, "price_invalid", "limit_price", "limit without price");
    r.limit_price = FX(100);
    expect_accept(&r, "notional == max");
    r.qty = FX(10) + E8;
    expect_reject(&r, "max_order_notional", "qty", "notional + 1e-7");
    /* market sell at the bid 99: 10.1 x 99 = 999.9 */
    r = order_req(acct, sym, "sell", "market", FX(101) / 10);
    expect_accept(&r, "market notional under max");
    r.qty = FX(102) / 10; /* 1009.8 */
    expect_reject(&r, "max_order_notional", "qty", "market notional over max");
    /* collar */
    r = order_req(acct, sym, "sell", "limit", FX(1));
    r.limit_price = FX(101);
    expect_accept(&r, "limit == upper band");
    r.limit_price = FX(99);
    expect_accept(&r, "limit == lower band");
    r.limit_price = FX(101) + E8;
    expect_reject(&r, "price_collar", "limit_price", "above the band");
    r = order_req(acct, sym, "buy", "stop", FX(1));
    r.stop_price = FX(99) - E8;
    expect_reject(&r, "price_collar", "stop_price", "stop below the band");
    /* tick size */
    pg_exec("UPDATE symbols SET tick_size = 0.5 WHERE symbol = $1", 1, (const char *[]){sym});
    r.stop_price = FX(201) / 2;
    expect_accept(&r, "on the tick grid");
    r.stop_price = FX(201) / 2 + FX(1) / 4;
    expect_reject(&r, "tick_size", "stop_price", "off the tick grid");
}
END_TEST

/* tif gtd: expire_at required, after the symbol's last tick time (the fake
 * quote's is now), refused with any other tif; stored and answered to the
 * microsecond, and part of what a client_order_id retry must repeat. */
START_TEST(gtd_orders) {
    char acct[48], sym[48];
    new_account(acct, sizeof acct);
    new_symbol(sym, sizeof sym, true, "0.00000001", "0.00000001", "0.00000001", "");
    fake_set_quote(sym, FX(99), FX(101), FX(100));
    tb_order_request r = order_req(acct, sym, "buy", "limit", FX(1));
    r.limit_price = FX(100);
    snprintf(r.tif, sizeof r.tif, "gtd");
    expect_reject(&r, "expire_at_invalid", "expire_at", "gtd without expire_at");
    r.expire_at = tb_now_ns() - INT64_C(1000000000);
    expect_reject(&r, "expire_at_invalid", "expire_at", "expire_at in the past");
    r.expire_at = tb_now_ns() + INT64_C(60000000000) + 789; /* ns beyond the microsecond */
    snprintf(r.client_order_id, sizeof r.client_order_id, "gtd-%s", acct);
    tb_order_record rec;
    tb_error err;
    ck_assert_msg(submit(&r, &rec, &err) == TB_OK, "%s", err.message);
    ck_assert_str_eq(rec.tif, "gtd");
    ck_assert_int_eq(rec.expire_at, r.expire_at / 1000 * 1000);
    const char *p[1] = {rec.order_id};
    char v[64];
    pg_value(v, sizeof v,
             "SELECT (extract(epoch FROM expire_at) * 1000000)::bigint FROM orders "
             "WHERE order_id = $1",
             1, p);
    ck_assert_int_eq(strtoll(v, NULL, 10), r.expire_at / 1000);
    /* a retry answers the same order; another expire_at is another order */
    tb_order_record again;
    ck_assert_msg(submit(&r, &again, &err) == TB_OK, "%s", err.message);
    ck_assert_str_eq(again.order_id, rec.order_id);
    ck_assert_int_eq(again.expire_at, rec.expire_at);
    r.expire_at += INT64_C(1000000000);
    ck_assert_int_eq(submit(&r, &again, &err), TB_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err.message, "duplicate_client_order_id"));
    /* any other tif refuses an expire_at */
    r = order_req(acct, sym, "buy", "limit", FX(1));
    r.limit_price = FX(100);
    r.expire_at = tb_now_ns() + INT64_C(60000000000);
    expect_reject(&r, "expire_at_invalid", "expire_at", "day order with expire_at");
}
END_TEST

/* trailing_stop: exactly one of trail_amount and trail_bps, positive, a
 * limit_offset not negative, no trail field on another type; each refusal
 * names its field. An accepted one is stored with its trail and answered
 * with it, and a client_order_id retry must repeat it. */
START_TEST(trailing_stop_orders) {
    char acct[48], sym[48];
    new_account(acct, sizeof acct);
    new_symbol(sym, sizeof sym, true, "0.00000001", "0.00000001", "0.00000001", "");
    fake_set_quote(sym, FX(99), FX(101), FX(100));
    tb_order_request r = order_req(acct, sym, "sell", "trailing_stop", FX(1));
    snprintf(r.tif, sizeof r.tif, "gtc");
    expect_reject(&r, "trail_invalid", "trail_amount", "neither trail_amount nor trail_bps");
    r.trail_amount = FX(2);
    r.trail_bps = 50;
    expect_reject(&r, "trail_invalid", "trail_bps", "both trail_amount and trail_bps");
    r.trail_bps = 0;
    r.trail_amount = -FX(2);
    expect_reject(&r, "trail_invalid", "trail_amount", "negative trail_amount");
    r.trail_amount = 0;
    r.trail_bps = -1;
    expect_reject(&r, "trail_invalid", "trail_bps", "negative trail_bps");
    r.trail_bps = 10000;
    expect_reject(&r, "trail_invalid", "trail_bps", "trail_bps of 100%");
    r.trail_bps = 0;
    r.trail_amount = FX(2);
    r.limit_offset = -FX(1) / 2;
    expect_reject(&r, "trail_invalid", "limit_offset", "negative limit_offset");
    r.limit_offset = FX(1) / 2;
    r.stop_price = FX(98);
    expect_reject(&r, "price_invalid", "stop_price", "trailing_stop with a stop_price");
    r.stop_price = 0;
    snprintf(r.client_order_id, sizeof r.client_order_id, "trail-%s", acct);
    tb_order_record rec;
    tb_error err;
    ck_assert_msg(submit(&r, &rec, &err) == TB_OK, "%s", err.message);
    ck_assert_str_eq(rec.type, "trailing_stop");
    ck_assert_int_eq(rec.trail_amount, FX(2));
    ck_assert_int_eq(rec.limit_offset, FX(1) / 2);
    const char *p[1] = {rec.order_id};
    char v[64];
    pg_value(v, sizeof v,
             "SELECT trail_amount::text || ' ' || COALESCE(trail_bps::text, '-') || ' ' || "
             "limit_offset::text FROM orders WHERE order_id = $1",
             1, p);
    ck_assert_str_eq(v, "2.00000000 - 0.50000000");
    tb_order_record again;
    ck_assert_msg(submit(&r, &again, &err) == TB_OK, "%s", err.message);
    ck_assert_str_eq(again.order_id, rec.order_id);
    r.limit_offset = 0;
    ck_assert_int_eq(submit(&r, &again, &err), TB_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err.message, "duplicate_client_order_id"));
    /* in basis points, without an offset */
    r = order_req(acct, sym, "buy", "trailing_stop", FX(1));
    r.trail_bps = 150;
    expect_accept(&r, "buy trailing 150 bp");
    /* trail fields on another type */
    r = order_req(acct, sym, "buy", "limit", FX(1));
    r.limit_price = FX(100);
    r.trail_amount = FX(1);
    expect_reject(&r, "trail_invalid", "trail_amount", "limit order with trail_amount");
    r.trail_amount = 0;
    r.limit_offset = FX(1);
    expect_reject(&r, "trail_invalid", "limit_offset", "limit order with limit_offset");
}
END_TEST

START_TEST(position_checks) {
    char acct[48], sym[48], other[48];
    new_account(acct, sizeof acct);
    new_symbol(sym, sizeof sym, true, "0.00000001", "0.00000001", "0.00000001", "");
    new_symbol(other, sizeof other, true, "0.00000001", "0.00000001", "0.00000001", "");
    fake_set_quote(sym, FX(99), FX(101), FX(100));
    fake_set_position(acct, sym, FX(90), FX(100));
    tb_risk_limits l = limits_for(acct);
    l.max_position_qty = FX(100);
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    tb_order_request r = order_req(acct, sym, "buy", "limit", FX(10));
    r.limit_price = FX(100);
    expect_accept(&r, "position reaches max");
    r.qty = FX(10) + E8;
    expect_reject(&r, "max_position", "qty", "position beyond max");

    /* gross exposure: other 20 x 50 = 1000, this symbol 90 -> 100 at 100:
     * 1000 + 10000 = 11000 */
    fake_set_position(acct, other, -FX(20), FX(50));
    l.max_position_qty = 0;
    l.max_gross_exposure = FX(11000);
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    r.qty = FX(10);
    expect_accept(&r, "exposure == max");
    r.qty = FX(10) + E8;
    expect_reject(&r, "max_gross_exposure", "qty", "exposure beyond max");
    /* reducing is allowed above the limit */
    l.max_gross_exposure = FX(100);
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    r = order_req(acct, sym, "sell", "limit", FX(10));
    r.limit_price = FX(100);
    expect_accept(&r, "reducing exposure");

    /* reduce-only: sell at most the long 90 */
    l.max_gross_exposure = 0;
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    r.reduce_only = true;
    r.qty = FX(90);
    expect_accept(&r, "reduce-only closes the position");
    r.qty = FX(90) + E8;
    expect_reject(&r, "reduce_only", "reduce_only", "reduce-only beyond the position");
    r = order_req(acct, sym, "buy", "limit", FX(1));
    r.limit_price = FX(100);
    l.reduce_only = true; /* account mode */
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    expect_reject(&r, "reduce_only", "reduce_only", "account reduce-only, buying a long");

    /* The checks read the positions from position-management's rows in
     * PostgreSQL, not with a request per order: with the service down the
     * order is judged on them, and nothing was asked of it. */
    l.reduce_only = false;
    l.max_position_qty = FX(1000);
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    fake_set_down(acct, true);
    int asked = fake_position_requests;
    expect_accept(&r, "positions read from the record");
    ck_assert_int_eq(fake_position_requests, asked);
    fake_set_position(acct, sym, FX(1000), FX(100));
    expect_reject(&r, "max_position", "qty", "the record's position counts");
    fake_set_down(acct, false);
}
END_TEST

START_TEST(daily_loss_check) {
    char acct[48], sym[48];
    new_account(acct, sizeof acct);
    new_symbol(sym, sizeof sym, true, "0.00000001", "0.00000001", "0.00000001", "");
    fake_set_quote(sym, FX(99), FX(101), FX(100));
    fake_set_position(acct, sym, FX(5), FX(100));
    fake_set_pnl(acct, FX(200), FX(50)); /* the day's first check: baseline 250 */
    tb_risk_limits l = limits_for(acct);
    l.daily_loss_limit = FX(1000);
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    tb_order_request r = order_req(acct, sym, "buy", "limit", FX(1));
    r.limit_price = FX(100);
    expect_accept(&r, "baseline");
    fake_set_pnl(acct, -FX(500), -FX(250)); /* -750 - 250 = -1000 today */
    expect_accept(&r, "loss == limit");
    fake_set_pnl(acct, -FX(500), -FX(250) - E8);
    expect_reject(&r, "daily_loss_limit", "account", "loss beyond limit");
    r = order_req(acct, sym, "sell", "limit", FX(5));
    r.limit_price = FX(100);
    expect_accept(&r, "closing is allowed");
}
END_TEST

START_TEST(open_orders_and_rate) {
    char acct[48], sym[48];
    new_account(acct, sizeof acct);
    new_symbol(sym, sizeof sym, true, "1", "0.01", "1", "");
    fake_set_quote(sym, FX(99), FX(101), FX(100));
    tb_risk_limits l = limits_for(acct);
    l.max_open_orders = 2;
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    tb_order_request r = order_req(acct, sym, "buy", "market", FX(1));
    expect_accept(&r, "1st open order");
    expect_accept(&r, "2nd open order");
    expect_reject(&r, "max_open_orders", "account", "3rd open order");
    /* an order that is no longer open frees a slot */
    const char *p[1] = {acct};
    pg_exec("UPDATE orders SET status = 'canceled', version = 2 WHERE order_id = (SELECT order_id "
            "FROM orders WHERE account = $1 LIMIT 1)",
            1, p);
    expect_accept(&r, "after a cancel");

    /* order rate: 3 per window. The fixture's window (a minute) outlasts
     * these loops on any machine, so the 4th order is always refused. */
    char fast[48];
    new_account(fast, sizeof fast);
    l = limits_for(fast);
    l.max_orders_per_sec = 3;
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    r = order_req(fast, sym, "buy", "market", FX(1));
    for (int i = 0; i < 3; i++) expect_accept(&r, "within the rate");
    expect_reject(&r, "order_rate", NULL, "4th order in the window");
    /* rejected intents do not use up the rate: on a fresh account, five bad
     * orders, then three good ones accepted and only the fourth refused */
    char careful[48];
    new_account(careful, sizeof careful);
    l = limits_for(careful);
    l.max_orders_per_sec = 3;
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    r = order_req(careful, sym, "buy", "market", 0);
    for (int i = 0; i < 5; i++) expect_reject(&r, "qty_not_positive", "qty", "bad order");
    r.qty = FX(1);
    for (int i = 0; i < 3; i++) expect_accept(&r, "rate not used by rejections");
    expect_reject(&r, "order_rate", NULL, "4th good order in the window");
}
END_TEST

START_TEST(account_and_input_errors) {
    char sym[48], ghost[48];
    new_symbol(sym, sizeof sym, true, "1", "0.01", "1", "");
    fake_set_quote(sym, FX(99), FX(101), FX(100));
    tb_test_unique(ghost, sizeof ghost, "GH");
    tb_order_request r = order_req(ghost, sym, "buy", "market", FX(1));
    expect_reject(&r, "account_unknown", "account", "no such account");
    /* hostile bytes: a clear decode error, and the service lives on */
    bus_bytes rb;
    tb_error err;
    ck_assert_int_eq(bus_request_bytes(client, "api.orders.submit", "\x81\xa1x\x01", 4,
                                       "order_request", 2000, NULL, &rb, &err),
                     TB_MISSING_FIELD);
    ck_assert_int_eq(
        bus_request_bytes(client, "api.orders.submit", "\xff", 1, NULL, 2000, NULL, &rb, &err),
        TB_DECODE);
    char acct[48];
    new_account(acct, sizeof acct);
    r = order_req(acct, sym, "buy", "market", FX(1));
    expect_accept(&r, "still serving");
}
END_TEST

START_TEST(metrics_count_decisions) {
    bus_bytes rb;
    tb_error err = {0};
    ck_assert_msg(bus_request_bytes(client, "svc.risk-management.metrics", "", 0, NULL, 2000, NULL,
                                    &rb, &err) == TB_OK,
                  "%s", err.message);
    const char *problem = tb_prom_check(rb.data);
    ck_assert_msg(problem == NULL, "%s", problem);
    /* the earlier tests approved and rejected intents of every kind */
    const char *want[] = {"tb_risk_decisions_total{", "outcome=\"approved\"",
                          "outcome=\"rejected\"", "reason=\"account_unknown\"} 1\n",
                          "reason=\"max_open_orders\"} 1\n"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(rb.data, want[i]) != NULL, "metrics lack %s", want[i]);
    bus_bytes_free(&rb);
}
END_TEST

int main(void) {
    Suite *s = suite_create("risk");
    TCase *tc = tcase_create("orders");
    tcase_add_unchecked_fixture(tc, risk_env_start, risk_env_stop);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, approved_order_is_recorded_and_published);
    tcase_add_test(tc, client_order_id_retry);
    tcase_add_test(tc, concurrent_orders_batched);
    tcase_add_test(tc, symbol_checks);
    tcase_add_test(tc, quantity_checks);
    tcase_add_test(tc, price_checks);
    tcase_add_test(tc, gtd_orders);
    tcase_add_test(tc, trailing_stop_orders);
    tcase_add_test(tc, position_checks);
    tcase_add_test(tc, daily_loss_check);
    tcase_add_test(tc, open_orders_and_rate);
    tcase_add_test(tc, account_and_input_errors);
    tcase_add_test(tc, metrics_count_decisions);
    tcase_add_test(tc, risk_stops_cleanly);
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
