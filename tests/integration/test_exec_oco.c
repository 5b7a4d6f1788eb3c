/* Order groups against the real servers: OCO pairs and bracket orders.
 *
 * trading-execution: the legs are recorded as risk-management records a
 * group (orders rows with group_id and group_role, then orders.new on the
 * ORDERS stream) and ticks are published on md.tick.<symbol>; a leg's fill
 * must cancel its partner (reason oco) on the same tick, a bracket's exits
 * must stay dormant until the entry fills and then work the entry's filled
 * quantity, a user's cancel of one leg cancels the other, and a kill -9 of
 * workers with a working bracket neither loses nor doubles an exit.
 *
 * risk-management: api.orders.submit_group records a group whole, with its
 * links, or refuses it naming the field (the 4xx cases). It runs with
 * market-data (quotes) and position-management (positions) as in
 * production. No fees and no slippage, so every price below is the touch. */
#include <hiredis/hiredis.h>

#include "test_exec_common.h"

#define EXTRA_WORKERS 2

static pid_t worker, extra[EXTRA_WORKERS], risk, md, pm;
static char *worker_env[] = {"EXEC_RELAY_INTERVAL_MS=200", "EXEC_REORDER_WAIT_MS=200", NULL};

static pid_t spawn_service(const char *rel, char *const *env) {
    char bin[512];
    tb_test_bin(bin, sizeof bin, rel);
    char *argv[] = {bin, NULL};
    return tb_test_spawn(argv, env, xt_log);
}

static void suite_up(void) {
    xt_open("test_exec_oco");
    worker = xt_worker(worker_env);
    char *md_env[] = {"MD_MODE=off", "MD_SOURCE=test_exec_oco", NULL};
    md = spawn_service("actors/market-data/tb-market-data", md_env);
    pm = spawn_service("actors/position-management/tb-position-management", NULL);
    risk = spawn_service("actors/risk-management/tb-risk-management", NULL);
    xt_wait_ready(1);
}

static void suite_down(void) {
    pid_t all[] = {worker, extra[0], extra[1], risk, md, pm};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (all[i] > 0 && tb_test_stop(all[i], 30000) != 0)
            fprintf(stderr, "a service did not exit cleanly (see %s)\n", xt_log);
    xt_close();
}

static char xacct[40], xsym[40];
static void fresh(void) {
    tb_test_unique(xacct, sizeof xacct, "OA");
    tb_test_unique(xsym, sizeof xsym, "OS");
    xt_account(xacct);
}

static void order_id(char *out, size_t cap, const char *tag) {
    snprintf(out, cap, "%s-%s", xacct, tag);
}

/* Records one order of group gid (role: oco, entry, take_profit,
 * stop_loss) as risk-management does, created `nth` microseconds after the
 * group's first (time priority is the group's order), and publishes it. */
static void submit_leg(const char *id, const char *gid, const char *role, const xt_order *o,
                       int nth) {
    char us[16];
    snprintf(us, sizeof us, "%d", nth);
    const char *p[11] = {id,
                         xacct,
                         xsym,
                         o->side,
                         o->type,
                         o->qty,
                         o->limit ? o->limit : "",
                         o->stop ? o->stop : "",
                         o->tif,
                         gid,
                         role};
    const char *q[12];
    memcpy(q, p, sizeof p);
    q[11] = us;
    xt_exec("WITH o AS (INSERT INTO orders (order_id, account, symbol, side, type, qty, "
            "limit_price, stop_price, tif, source, status, version, created_at, group_id, "
            "group_role) VALUES ($1, $2, $3, $4, $5, $6::numeric, $7::numeric, $8::numeric, $9, "
            "'api', 'new', 1, date_trunc('second', now()) + $12::int * interval '1 microsecond', "
            "$10, $11) RETURNING order_id) "
            "INSERT INTO order_events (order_id, version, status) SELECT order_id, 1, 'new' FROM o",
            12, q);
    xt_publish_order(xacct, xsym, id, o, id);
}

static char *reason_of(const char *id) {
    const char *p[1] = {id};
    return xt_sql("SELECT COALESCE(reason, '') FROM orders WHERE order_id = $1", 1, p);
}

static void reason_is(const char *id, const char *want) {
    char *r = reason_of(id);
    ck_assert_msg(r && strcmp(r, want) == 0, "order %s has reason \"%s\", want \"%s\"", id,
                  r ? r : "(none)", want);
    free(r);
}

static void wait_seq(const char *symbol, const char *seq) {
    const char *p[1] = {symbol};
    int64_t deadline = tb_now_ns() + INT64_C(15000000000);
    for (;;) {
        char *s = xt_sql("SELECT last_seq::text FROM exec_symbol_state WHERE symbol = $1", 1, p);
        bool ok = s && strcmp(s, seq) == 0;
        free(s);
        if (ok) return;
        ck_assert_msg(tb_now_ns() < deadline, "tick %s of %s not matched (log %s)", seq, symbol,
                      xt_log);
        usleep(5000);
    }
}

/* An OCO pair that closes a long of 10: take profit selling at 110 or
 * better, stop loss selling once the last trade is at or below 90. */
static void oco_pair(char *tp, char *sl, size_t cap) {
    order_id(tp, cap, "tp");
    order_id(sl, cap, "sl");
    submit_leg(tp, tp, "oco", &(xt_order){"sell", "limit", "gtc", "10", "110", NULL, NULL}, 0);
    submit_leg(sl, tp, "oco", &(xt_order){"sell", "stop", "gtc", "10", NULL, "90", NULL}, 1);
    xt_wait_state(tp, "accepted 0.00000000 v2");
    xt_wait_state(sl, "accepted 0.00000000 v2");
}

START_TEST(oco_take_profit_fills_and_cancels_the_stop) {
    fresh();
    char tp[64], sl[64];
    oco_pair(tp, sl, sizeof tp);
    /* 100 is between both legs: nothing */
    xt_tick_pub(xsym, 1, &(xt_tick){"100", "100.5", "100", NULL, NULL, NULL});
    wait_seq(xsym, "1");
    ck_assert_int_eq(xt_fill_count(tp) + xt_fill_count(sl), 0);
    /* bid 110 reaches the limit: the take-profit sells 10 at the bid, 110
     * (it rested: maker); the stop (last 110 > 90) is canceled on the same
     * tick */
    xt_tick_pub(xsym, 2, &(xt_tick){"110", "110.5", "110", NULL, NULL, NULL});
    xt_wait_state(tp, "filled 10.00000000 v3");
    xt_wait_state(sl, "canceled 0.00000000 v3");
    reason_is(sl, "oco");
    xt_fill_is(tp, 1, "10.00000000 110.00000000 0.00000000 maker");
    /* the market falling through the stop afterwards fills nothing */
    xt_tick_pub(xsym, 3, &(xt_tick){"80", "80.5", "80", NULL, NULL, NULL});
    usleep(300000);
    ck_assert_int_eq(xt_fill_count(sl), 0);
    ck_assert_int_eq(xt_fill_count(tp), 1);
}
END_TEST

START_TEST(oco_stop_fills_and_cancels_the_take_profit) {
    fresh();
    char tp[64], sl[64];
    oco_pair(tp, sl, sizeof tp);
    /* last 89 <= 90 triggers the stop: a market sell at the bid, 89; the
     * take-profit (bid 89 < 110) is canceled */
    xt_tick_pub(xsym, 1, &(xt_tick){"89", "89.5", "89", NULL, NULL, NULL});
    xt_wait_state(sl, "filled 10.00000000 v3");
    xt_wait_state(tp, "canceled 0.00000000 v3");
    reason_is(tp, "oco");
    xt_fill_is(sl, 1, "10.00000000 89.00000000 0.00000000 taker");
    /* (no order of the symbol is open any more: the tick is not even recorded) */
    xt_tick_pub(xsym, 2, &(xt_tick){"120", "120.5", "120", NULL, NULL, NULL});
    usleep(300000);
    ck_assert_int_eq(xt_fill_count(tp), 0);
}
END_TEST

START_TEST(oco_both_reachable_on_one_tick_fills_one) {
    fresh();
    char tp[64], sl[64];
    oco_pair(tp, sl, sizeof tp);
    /* bid 110 reaches the take-profit and last 85 the stop on the same
     * tick: the older leg (the take-profit) fills, the stop never trades */
    xt_tick_pub(xsym, 1, &(xt_tick){"110", "110.5", "85", NULL, NULL, NULL});
    xt_wait_state(tp, "filled 10.00000000 v3");
    xt_wait_state(sl, "canceled 0.00000000 v3");
    ck_assert_int_eq(xt_fill_count(sl), 0);
}
END_TEST

START_TEST(oco_cancel_of_one_leg_cancels_the_other) {
    fresh();
    char tp[64], sl[64];
    oco_pair(tp, sl, sizeof tp);
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.id, sizeof q.id, "%s", sl);
    tb_order_record rec;
    tb_error err = {0};
    ck_assert_msg(bus_request(xt_conn, "api.orders.cancel", &tb_query_desc, &q,
                              &tb_order_record_desc, &rec, 5000, NULL, &err) == TB_OK,
                  "%s", err.message);
    ck_assert_str_eq(rec.status, "canceled");
    ck_assert_str_eq(rec.group_id, tp);
    ck_assert_str_eq(rec.group_role, "oco");
    xt_wait_state(sl, "canceled 0.00000000 v3");
    xt_wait_state(tp, "canceled 0.00000000 v3");
    reason_is(sl, "user");
    reason_is(tp, "oco");

    /* the same through the ORDERS stream (orders.cancel.<account>) */
    fresh();
    oco_pair(tp, sl, sizeof tp);
    xt_publish_cancel(xacct, tp, "user");
    xt_wait_state(tp, "canceled 0.00000000 v3");
    xt_wait_state(sl, "canceled 0.00000000 v3");
    reason_is(sl, "oco");
}
END_TEST

/* A bracket buying 10: entry, take-profit selling at 110 or better, stop
 * loss selling once the last trade is at or below 95. */
static void bracket(char *entry, char *tp, char *sl, size_t cap, const char *entry_type,
                    const char *entry_price) {
    order_id(entry, cap, "en");
    order_id(tp, cap, "tp");
    order_id(sl, cap, "sl");
    submit_leg(entry, entry, "entry",
               &(xt_order){"buy", entry_type, "gtc", "10", entry_price, NULL, NULL}, 0);
    submit_leg(tp, entry, "take_profit",
               &(xt_order){"sell", "limit", "gtc", "10", "110", NULL, NULL}, 1);
    submit_leg(sl, entry, "stop_loss", &(xt_order){"sell", "stop", "gtc", "10", NULL, "95", NULL},
               2);
    xt_wait_state(entry, "accepted 0.00000000 v2");
    xt_wait_state(tp, "accepted 0.00000000 v2");
    xt_wait_state(sl, "accepted 0.00000000 v2");
}

START_TEST(bracket_exits_follow_the_entry_and_take_profit_wins) {
    fresh();
    char entry[64], tp[64], sl[64];
    bracket(entry, tp, sl, sizeof entry, "limit", "100");
    /* ask 101 > 100: the entry does not fill; last 94 and bid 94 would
     * trigger the stop and would not reach the take-profit, but both exits
     * are dormant while nothing is bought */
    xt_tick_pub(xsym, 1, &(xt_tick){"94", "101", "94", NULL, NULL, NULL});
    wait_seq(xsym, "1");
    ck_assert_int_eq(xt_fill_count(entry) + xt_fill_count(tp) + xt_fill_count(sl), 0);
    const char *p[1] = {sl};
    char *trig =
        xt_sql("SELECT (triggered_at IS NULL)::text FROM orders WHERE order_id = $1", 1, p);
    ck_assert_str_eq(trig, "true");
    free(trig);
    /* ask 100 with 4 offered: the entry buys 4 at 100 */
    xt_tick_pub(xsym, 2, &(xt_tick){"99.5", "100", "100", NULL, "4", NULL});
    xt_wait_state(entry, "partially_filled 4.00000000 v3");
    /* bid 110: the take-profit sells what was bought, 4 at 110, and the stop
     * is canceled */
    xt_tick_pub(xsym, 3, &(xt_tick){"110", "110.5", "110", NULL, NULL, NULL});
    xt_wait_state(tp, "partially_filled 4.00000000 v3");
    xt_wait_state(sl, "canceled 0.00000000 v3");
    reason_is(sl, "oco");
    xt_fill_is(tp, 1, "4.00000000 110.00000000 0.00000000 maker");
    /* the entry buys the other 6 at 100; the take-profit may now sell 6 */
    xt_tick_pub(xsym, 4, &(xt_tick){"99", "100", "100", NULL, NULL, NULL});
    xt_wait_state(entry, "filled 10.00000000 v4");
    ck_assert_int_eq(xt_fill_count(tp), 1);
    /* bid 111: 6 at 111; average (4 x 110 + 6 x 111) / 10 = 110.6 */
    xt_tick_pub(xsym, 5, &(xt_tick){"111", "111.5", "111", NULL, NULL, NULL});
    xt_wait_state(tp, "filled 10.00000000 v4");
    xt_fill_is(tp, 2, "6.00000000 111.00000000 0.00000000 maker");
    const char *q[1] = {tp};
    char *avg = xt_sql("SELECT avg_price::text FROM orders WHERE order_id = $1", 1, q);
    ck_assert_str_eq(avg, "110.60000000");
    free(avg);
    ck_assert_int_eq(xt_fill_count(sl), 0);
}
END_TEST

START_TEST(bracket_stop_loss_wins) {
    fresh();
    char entry[64], tp[64], sl[64];
    bracket(entry, tp, sl, sizeof entry, "market", NULL);
    /* the market entry buys 10 at the ask, 100 */
    xt_tick_pub(xsym, 1, &(xt_tick){"99.5", "100", "100", NULL, NULL, NULL});
    xt_wait_state(entry, "filled 10.00000000 v3");
    xt_fill_is(entry, 1, "10.00000000 100.00000000 0.00000000 taker");
    /* last 94 <= 95 triggers the stop: sells 10 at the bid, 94; the
     * take-profit is canceled */
    xt_tick_pub(xsym, 2, &(xt_tick){"94", "94.5", "94", NULL, NULL, NULL});
    xt_wait_state(sl, "filled 10.00000000 v3");
    xt_wait_state(tp, "canceled 0.00000000 v3");
    reason_is(tp, "oco");
    xt_fill_is(sl, 1, "10.00000000 94.00000000 0.00000000 taker");
}
END_TEST

START_TEST(bracket_entry_canceled_unfilled_cancels_the_exits) {
    fresh();
    char entry[64], tp[64], sl[64];
    bracket(entry, tp, sl, sizeof entry, "limit", "90");
    xt_publish_cancel(xacct, entry, "user");
    xt_wait_state(entry, "canceled 0.00000000 v3");
    xt_wait_state(tp, "canceled 0.00000000 v3");
    xt_wait_state(sl, "canceled 0.00000000 v3");
    reason_is(tp, "entry_canceled");
    reason_is(sl, "entry_canceled");
}
END_TEST

START_TEST(bracket_survives_kill_9_with_three_workers) {
    for (int i = 0; i < EXTRA_WORKERS; i++) extra[i] = xt_worker(worker_env);
    xt_wait_ready(1 + EXTRA_WORKERS);
    fresh();
    char entry[64], tp[64], sl[64];
    bracket(entry, tp, sl, sizeof entry, "market", NULL);
    xt_tick_pub(xsym, 1, &(xt_tick){"99.5", "100", "100", NULL, NULL, NULL});
    xt_wait_state(entry, "filled 10.00000000 v3");
    /* a tick that reaches the take-profit, then two of the three workers
     * die at once, maybe in the middle of matching it */
    xt_tick_pub(xsym, 2, &(xt_tick){"110", "110.5", "110", NULL, NULL, NULL});
    for (int i = 0; i < EXTRA_WORKERS; i++) {
        ck_assert_int_eq(kill(extra[i], SIGKILL), 0);
        tb_test_wait_exit(extra[i], 10000);
    }
    /* restarted; the next tick reaches the stop, which must not fill when
     * the take-profit did (and is matched only after tick 2 or its wait) */
    for (int i = 0; i < EXTRA_WORKERS; i++) extra[i] = xt_worker(worker_env);
    xt_wait_ready(1 + EXTRA_WORKERS);
    xt_tick_pub(xsym, 3, &(xt_tick){"111", "111.5", "90", NULL, NULL, NULL});
    /* tick 2 (if it survived) or tick 3 (bid 111, the older take-profit
     * first) fills the take-profit: exactly one exit, once */
    xt_wait_state(tp, "filled 10.00000000 v3");
    xt_wait_state(sl, "canceled 0.00000000 v3");
    ck_assert_int_eq(xt_fill_count(entry), 1);
    ck_assert_int_eq(xt_fill_count(tp), 1);
    ck_assert_int_eq(xt_fill_count(sl), 0);
    const char *p[1] = {xacct};
    char *n = xt_sql("SELECT count(*)::text FROM outbox WHERE producer = 'trading-execution' AND "
                     "msg_id LIKE $1 || '-%'",
                     1, p);
    ck_assert_str_eq(n, "2"); /* the entry's fill and the take-profit's */
    free(n);
    for (int i = 0; i < EXTRA_WORKERS; i++) {
        ck_assert_int_eq(tb_test_stop(extra[i], 30000), 0);
        extra[i] = 0;
    }
}
END_TEST

/* ---- through risk-management ---- */

/* A request whose reply is a list of order_record: at most cap of them
 * copied into items. */
static tb_status request_list(const char *subject, const tb_event_desc *desc, const void *req,
                              const char *schema, tb_order_record *items, size_t cap, size_t *n,
                              tb_error *err) {
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    tb_status es = tb_encode(desc, req, &buf, err);
    ck_assert_msg(es == TB_OK, "%s: %s", err->field, err->message);
    bus_bytes rep;
    tb_status s =
        bus_request_bytes(xt_conn, subject, buf.data, buf.size, schema, 10000, NULL, &rep, err);
    msgpack_sbuffer_destroy(&buf);
    *n = 0;
    if (s != TB_OK) return s;
    void *got = NULL;
    size_t ngot = 0;
    s = tb_decode_list(&tb_order_record_desc, rep.data, rep.len, &got, &ngot, NULL, err);
    bus_bytes_free(&rep);
    for (size_t i = 0; s == TB_OK && i < ngot && i < cap; i++)
        items[i] = ((tb_order_record *)got)[i];
    *n = ngot;
    free(got);
    return s;
}

static tb_status submit_group(const tb_order_group_request *r, tb_order_record *items, size_t *n,
                              tb_error *err) {
    return request_list("api.orders.submit_group", &tb_order_group_request_desc, r,
                        "order_group_request", items, 3, n, err);
}

static tb_order_group_request group_req(const char *contingency, const char *side) {
    tb_order_group_request r;
    memset(&r, 0, sizeof r);
    snprintf(r.account, sizeof r.account, "%s", xacct);
    snprintf(r.symbol, sizeof r.symbol, "%s", xsym);
    snprintf(r.contingency, sizeof r.contingency, "%s", contingency);
    snprintf(r.side, sizeof r.side, "%s", side);
    snprintf(r.tif, sizeof r.tif, "gtc");
    r.qty = F("10");
    r.take_profit_price = F("110");
    r.stop_loss_price = F("95");
    return r;
}

static void refused(const tb_order_group_request *r, tb_status want, const char *field) {
    tb_order_record items[3];
    size_t n = 0;
    tb_error err = {0};
    tb_status s = submit_group(r, items, &n, &err);
    ck_assert_msg(s == want, "got %s (%s), want %s", tb_status_code(s), err.message,
                  tb_status_code(want));
    ck_assert_msg(strcmp(err.field, field) == 0, "field \"%s\" (%s), want %s", err.field,
                  err.message, field);
    const char *p[1] = {xacct};
    char *c = xt_sql("SELECT count(*)::text FROM orders WHERE account = $1", 1, p);
    ck_assert_str_eq(c, "0"); /* nothing of a refused group is recorded */
    free(c);
}

START_TEST(risk_refuses_malformed_groups_naming_the_field) {
    fresh();
    /* a buy entry at 100 takes profit above it and stops below it */
    tb_order_group_request r = group_req("bracket", "buy");
    snprintf(r.entry_type, sizeof r.entry_type, "limit");
    r.entry_price = F("100");
    r.take_profit_price = F("99");
    refused(&r, TB_INVALID, "take_profit_price");
    r.take_profit_price = F("110");
    r.stop_loss_price = F("101");
    refused(&r, TB_INVALID, "stop_loss_price");
    /* a sell entry: the other way round */
    r = group_req("bracket", "sell");
    snprintf(r.entry_type, sizeof r.entry_type, "limit");
    r.entry_price = F("100");
    r.take_profit_price = F("90");
    r.stop_loss_price = F("99");
    refused(&r, TB_INVALID, "stop_loss_price");
    /* a limit entry without its price, a market entry with one */
    r = group_req("bracket", "buy");
    snprintf(r.entry_type, sizeof r.entry_type, "limit");
    refused(&r, TB_INVALID, "entry_price");
    snprintf(r.entry_type, sizeof r.entry_type, "market");
    r.entry_price = F("100");
    refused(&r, TB_INVALID, "entry_price");
    /* an oco selling: take profit above the stop */
    r = group_req("oco", "sell");
    r.take_profit_price = F("90");
    refused(&r, TB_INVALID, "take_profit_price");
    r = group_req("oco", "sell");
    snprintf(r.entry_type, sizeof r.entry_type, "limit");
    refused(&r, TB_INVALID, "entry_type");
    r = group_req("oco", "sell");
    r.qty = F("-1");
    refused(&r, TB_INVALID, "qty");
    /* a leg failing a check refuses the group: an account that does not
     * exist */
    r = group_req("oco", "sell");
    snprintf(r.account, sizeof r.account, "%s-ghost", xacct);
    tb_order_record items[3];
    size_t n = 0;
    tb_error err = {0};
    ck_assert_int_eq(submit_group(&r, items, &n, &err), TB_REJECTED);
}
END_TEST

/* Stores sym's last quote where market-data keeps the quotes of its feeds
 * (md:quote:<symbol> in Redis: seq, and the tick without its seq), so its
 * api.market.quote answers risk-management with it. */
static void md_quote(const char *sym, const char *bid, const char *ask, const char *last) {
    tb_tick t;
    memset(&t, 0, sizeof t);
    snprintf(t.symbol, sizeof t.symbol, "%s", sym);
    snprintf(t.source, sizeof t.source, "test");
    t.ts = tb_now_ns();
    t.bid = F(bid);
    t.ask = F(ask);
    t.last = F(last);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    ck_assert_int_eq(tb_encode(&tb_tick_desc, &t, &buf, NULL), TB_OK);
    bus_redis_addr ra;
    tb_error err = {0};
    ck_assert(bus_redis_addr_parse(xt_cfg.redis_url, &ra, &err) == TB_OK);
    redisContext *rc = redisConnect(ra.host, ra.port);
    ck_assert(rc && !rc->err);
    if (ra.password[0]) freeReplyObject(redisCommand(rc, "AUTH %s", ra.password));
    redisReply *r = redisCommand(rc, "HSET md:quote:%s seq 1 tick %b", sym, buf.data, buf.size);
    ck_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    redisFree(rc);
    msgpack_sbuffer_destroy(&buf);
}

START_TEST(risk_records_a_bracket_that_trades) {
    fresh();
    const char *p[1] = {xsym};
    xt_exec("INSERT INTO symbols (symbol, tradable) VALUES ($1, true) ON CONFLICT DO NOTHING", 1,
            p);
    md_quote(xsym, "99.5", "100.5", "100");
    tb_order_group_request r = group_req("bracket", "buy");
    snprintf(r.entry_type, sizeof r.entry_type, "limit");
    r.entry_price = F("100");
    tb_order_record items[3];
    size_t n = 0;
    tb_error err = {0};
    ck_assert_msg(submit_group(&r, items, &n, &err) == TB_OK, "%s: %s", err.field, err.message);
    ck_assert_int_eq(n, 3);
    const char *roles[3] = {"entry", "take_profit", "stop_loss"};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_str_eq(items[i].group_id, items[0].order_id);
        ck_assert_str_eq(items[i].group_role, roles[i]);
    }
    ck_assert_str_eq(items[0].type, "limit");
    ck_assert_int_eq(items[0].limit_price, F("100"));
    ck_assert_str_eq(items[0].side, "buy");
    ck_assert_str_eq(items[1].type, "limit");
    ck_assert_str_eq(items[1].side, "sell");
    ck_assert_int_eq(items[1].limit_price, F("110"));
    ck_assert_str_eq(items[2].type, "stop");
    ck_assert_int_eq(items[2].stop_price, F("95"));
    for (size_t i = 0; i < 3; i++) xt_wait_state(items[i].order_id, "accepted 0.00000000 v2");

    /* GET /v1/orders?group_id= lists the three, and each shows its link */
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.group_id, sizeof q.group_id, "%s", items[0].order_id);
    tb_order_record listed[8];
    size_t nl = 0;
    ck_assert_msg(
        request_list("api.orders.list", &tb_query_desc, &q, "query", listed, 8, &nl, &err) == TB_OK,
        "%s", err.message);
    ck_assert_int_eq(nl, 3);
    memset(&q, 0, sizeof q);
    snprintf(q.id, sizeof q.id, "%s", items[2].order_id);
    tb_order_record one;
    ck_assert_int_eq(bus_request(xt_conn, "api.orders.get", &tb_query_desc, &q,
                                 &tb_order_record_desc, &one, 5000, NULL, &err),
                     TB_OK);
    ck_assert_str_eq(one.group_id, items[0].order_id);
    ck_assert_str_eq(one.group_role, "stop_loss");

    /* the entry buys at the ask, 100; the stop loss sells at 94, the take-profit is
     * canceled */
    xt_tick_pub(xsym, 1, &(xt_tick){"99.5", "100", "100", NULL, NULL, NULL});
    xt_wait_state(items[0].order_id, "filled 10.00000000 v3");
    xt_tick_pub(xsym, 2, &(xt_tick){"94", "94.5", "94", NULL, NULL, NULL});
    xt_wait_state(items[2].order_id, "filled 10.00000000 v3");
    xt_wait_state(items[1].order_id, "canceled 0.00000000 v3");
}
END_TEST

/* Each order of a group takes an order-rate slot: with max_orders_per_sec
 * 1, an OCO (two orders at once) is over the limit at its second order and
 * is refused whole, with the rate reason; nothing is recorded. */
START_TEST(risk_counts_every_order_of_a_group_in_the_order_rate) {
    fresh();
    const char *p[1] = {xsym};
    xt_exec("INSERT INTO symbols (symbol, tradable) VALUES ($1, true) ON CONFLICT DO NOTHING", 1,
            p);
    md_quote(xsym, "99.5", "100.5", "100");
    tb_risk_limits l = {0}, lout;
    snprintf(l.account, sizeof l.account, "%s", xacct);
    l.max_orders_per_sec = 1;
    l.max_open_orders = 1000;
    l.max_order_qty = 1000 * TB_FIXED_SCALE;
    l.max_position_qty = 1000 * TB_FIXED_SCALE;
    l.max_gross_exposure = INT64_C(1000000000) * TB_FIXED_SCALE;
    l.daily_loss_limit = INT64_C(1000000000) * TB_FIXED_SCALE;
    l.max_order_notional = INT64_C(1000000000) * TB_FIXED_SCALE;
    tb_error err = {0};
    ck_assert_msg(bus_request(xt_conn, "api.risk.limits.set", &tb_risk_limits_desc, &l,
                              &tb_risk_limits_desc, &lout, 5000, NULL, &err) == TB_OK,
                  "set limits: %s", err.message);
    tb_order_group_request r = group_req("oco", "sell");
    tb_order_record items[3];
    size_t n = 0;
    tb_status s = submit_group(&r, items, &n, &err);
    ck_assert_msg(s == TB_REJECTED, "got %s (%s), want rejected", tb_status_code(s), err.message);
    ck_assert_msg(strstr(err.message, "max_orders_per_sec") != NULL, "reason: %s", err.message);
    const char *a[1] = {xacct};
    char *c = xt_sql("SELECT count(*)::text FROM orders WHERE account = $1", 1, a);
    ck_assert_str_eq(c, "0");
    free(c);
}
END_TEST

START_TEST(services_stop_cleanly) {
    pid_t *all[] = {&worker, &risk, &md, &pm};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        int rc = tb_test_stop(*all[i], 30000);
        *all[i] = 0;
        ck_assert_msg(rc == 0, "a service exited with %d (see %s)", rc, xt_log);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("exec_oco");
    TCase *tc = tcase_create("oco");
    tcase_add_unchecked_fixture(tc, suite_up, suite_down);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, oco_take_profit_fills_and_cancels_the_stop);
    tcase_add_test(tc, oco_stop_fills_and_cancels_the_take_profit);
    tcase_add_test(tc, oco_both_reachable_on_one_tick_fills_one);
    tcase_add_test(tc, oco_cancel_of_one_leg_cancels_the_other);
    tcase_add_test(tc, bracket_exits_follow_the_entry_and_take_profit_wins);
    tcase_add_test(tc, bracket_stop_loss_wins);
    tcase_add_test(tc, bracket_entry_canceled_unfilled_cancels_the_exits);
    tcase_add_test(tc, bracket_survives_kill_9_with_three_workers);
    tcase_add_test(tc, risk_refuses_malformed_groups_naming_the_field);
    tcase_add_test(tc, risk_records_a_bracket_that_trades);
    tcase_add_test(tc, risk_counts_every_order_of_a_group_in_the_order_rate);
    tcase_add_test(tc, services_stop_cleanly);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
