/* PATCH /v1/orders/{id} end to end, with the real services behind the
 * gateway: market-data (replaying prices the test writes, so quotes are
 * exact), risk-management, trading-execution and position-management.
 *
 * Each test trades its own symbol, so the ticks of one never touch the
 * orders of another:
 *   - qty down on a resting limit order: one `amended` event (order_events
 *     row with the new qty, orders.status with the next version), the order
 *     keeps its id and status; the same PATCH again records nothing;
 *   - a limit price moved through the ask trades at once, at the ask, as a
 *     new order would; a finished order is then 409;
 *   - after a partial fill: qty down to above the filled qty keeps it
 *     working, below the filled qty is 422 naming qty, down to the filled
 *     qty finishes it as filled;
 *   - qty beyond the account's max_order_qty is 422 with risk's reason and
 *     the order unchanged; a price on an order type without it is 422
 *     naming the field;
 *   - an unknown id is 404, another account's order is 404 to its key;
 *   - tb-ctl amend does the same from the command line;
 *   - every order of the account: its fills sum to its filled qty, which
 *     never exceeds its qty. */
#include <check.h>
#include <sys/stat.h>

#include "test_exec_common.h"
#include "test_gateway_fixture.h"

#include "tb_services.h"

#define N_SERVICES 4

static gw_proc gw;
static pid_t pids[N_SERVICES];
static char admin[64], trader[64], other_key[64];
static char acct_a[48], acct_b[48];
static char replay_dir[256];
static int replays;

/* ------------------------------------------------------------ prices -- */

typedef struct md_done {
    const char *symbol, *bid, *ask, *last;
} md_done;

/* Whether trading-execution stored the quote (bid, ask, last as numeric
 * text, "0.00000000" when absent). */
static bool quote_stored(void *arg) {
    const md_done *w = arg;
    const char *p[1] = {w->symbol};
    char *v = xt_sql("SELECT bid::text || ' ' || ask::text || ' ' || last::text FROM "
                     "exec_last_quote WHERE symbol = $1",
                     1, p);
    char want[128];
    snprintf(want, sizeof want, "%s %s %s", w->bid, w->ask, w->last);
    bool ok = v && strcmp(v, want) == 0;
    free(v);
    return ok;
}

static const char *numeric(const char *s, char *buf, size_t cap) {
    if (s == NULL || s[0] == '\0') return "0.00000000";
    snprintf(buf, cap, "%s.00000000", s);
    return buf;
}

/* One tick of sym through market-data (a one-row replay: market-data
 * keeps it as the quote risk-management reads, trading-execution matches it
 * and keeps it as its last quote). bid, ask may be NULL (not quoted); whole
 * numbers. Returns once trading-execution stored it. */
static void tick(const char *sym, const char *bid, const char *ask, const char *last,
                 const char *size) {
    char name[64], path[400];
    snprintf(name, sizeof name, "tick-%d.csv", ++replays);
    snprintf(path, sizeof path, "%s/%s", replay_dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "ts,symbol,bid,ask,last,size\n%lld,%s,%s,%s,%s,%s\n", (long long)tb_now_ns(), sym,
            bid ? bid : "", ask ? ask : "", last, size ? size : "");
    ck_assert_int_eq(fclose(f), 0);
    tb_market_replay rq;
    memset(&rq, 0, sizeof rq);
    snprintf(rq.path, sizeof rq.path, "%s", name);
    snprintf(rq.format, sizeof rq.format, "ticks");
    snprintf(rq.source, sizeof rq.source, "%s-%d", acct_a, replays);
    tb_md_status st;
    tb_error err = {0};
    ck_assert_msg(bus_request(xt_conn, "api.market.replay", &tb_market_replay_desc, &rq,
                              &tb_md_status_desc, &st, 10000, NULL, &err) == TB_OK,
                  "replay: %s", err.message);
    char b1[32], b2[32], b3[32];
    md_done w = {sym, numeric(bid, b1, sizeof b1), numeric(ask, b2, sizeof b2),
                 numeric(last, b3, sizeof b3)};
    ck_assert_msg(tb_test_wait(quote_stored, &w, 20000), "tick of %s not stored (see %s)", sym,
                  xt_log);
}

/* ------------------------------------------------------------- HTTP -- */

/* POST /v1/orders of a gtc buy; returns the order id. */
static void buy(const char *sym, const char *type, const char *qty, const char *limit,
                char id[TB_ID_CAP]) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"symbol\":\"%s\",\"side\":\"buy\",\"type\":\"%s\","
             "\"tif\":\"gtc\",\"qty\":\"%s\"%s%s%s}",
             acct_a, sym, type, qty, limit ? ",\"limit_price\":\"" : "", limit ? limit : "",
             limit ? "\"" : "");
    http_resp r;
    gw_http(&r, &gw, "POST", "/v1/orders", trader, body);
    ck_assert_msg(r.status == 200, "order: %ld %s", r.status, r.body);
    snprintf(id, TB_ID_CAP, "%s", json_string_value(json_object_get(r.json, "order_id")));
    http_free(&r);
}

static void patch(http_resp *r, const char *key, const char *id, const char *body) {
    char path[160];
    snprintf(path, sizeof path, "/v1/orders/%s", id);
    gw_http(r, &gw, "PATCH", path, key, body);
}

static const char *field(const http_resp *r, const char *name) {
    const char *v = json_string_value(json_object_get(r->json, name));
    return v ? v : "-"; /* absent: an optional field at 0 or empty */
}

/* GET /v1/orders/{id}: "<status> <qty> <limit_price> <filled_qty> <reason>",
 * "-" for a field the reply leaves out. */
static void order_view(const char *id, char *out, size_t cap) {
    char path[160];
    snprintf(path, sizeof path, "/v1/orders/%s", id);
    http_resp r;
    gw_http(&r, &gw, "GET", path, trader, NULL);
    ck_assert_msg(r.status == 200, "GET %s: %ld %s", id, r.status, r.body);
    snprintf(out, cap, "%s %s %s %s %s", field(&r, "status"), field(&r, "qty"),
             field(&r, "limit_price"), field(&r, "filled_qty"), field(&r, "reason"));
    http_free(&r);
}

static void order_is(const char *id, const char *want) {
    char got[256];
    order_view(id, got, sizeof got);
    ck_assert_msg(strcmp(got, want) == 0, "order %s is \"%s\", want \"%s\"", id, got, want);
}

static int amend_events(const char *id) {
    const char *p[1] = {id};
    char *s = xt_sql("SELECT count(*) FROM order_events WHERE order_id = $1 AND reason = "
                     "'amended'",
                     1, p);
    int n = atoi(s);
    free(s);
    return n;
}

/* ---------------------------------------------------------- fixture -- */

static void setup(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    xt_open("test_order_amend");
    tb_test_unique(acct_a, sizeof acct_a, "AM");
    tb_test_unique(acct_b, sizeof acct_b, "AO");
    snprintf(replay_dir, sizeof replay_dir, "%s/amend-%s",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", acct_a);
    ck_assert_int_eq(mkdir(replay_dir, 0755), 0);

    char bin[512], dir_env[320];
    tb_test_bin(bin, sizeof bin, "actors/market-data/tb-market-data");
    snprintf(dir_env, sizeof dir_env, "MD_REPLAY_DIR=%s", replay_dir);
    char *md_argv[] = {bin, NULL};
    char *md_env[] = {"INSTANCE_ID=am-md", "LOG_LEVEL=warn", "MD_MODE=off", dir_env, NULL};
    pids[0] = tb_test_spawn(md_argv, md_env, xt_log);
    pids[1] = tb_service_spawn("risk-management", "am-risk", NULL, xt_log);
    pids[2] = tb_service_spawn("trading-execution", "am-exec", NULL, xt_log);
    pids[3] = tb_service_spawn("position-management", "am-pos", NULL, xt_log);
    const char *names[] = {"market-data", "risk-management", "trading-execution",
                           "position-management"};
    const char *ids[] = {"am-md", "am-risk", "am-exec", "am-pos"};
    for (int i = 0; i < N_SERVICES; i++)
        ck_assert_msg(tb_service_wait(xt_conn, names[i], ids[i], 1, 30000), "%s is not up (see %s)",
                      names[i], xt_log);
    static const char *const genv[] = {"GATEWAY_RATE_LIMIT=100000", NULL};
    gw_start(&gw, "amend", genv);
    gw_admin_key(admin, sizeof admin);

    const char *accounts[2] = {acct_a, acct_b};
    for (int i = 0; i < 2; i++) {
        char body[512], path[128];
        http_resp r;
        snprintf(body, sizeof body, "{\"account\":\"%s\",\"initial_cash\":\"1000000\"}",
                 accounts[i]);
        gw_http(&r, &gw, "POST", "/v1/accounts", admin, body);
        ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
        http_free(&r);
        snprintf(path, sizeof path, "/v1/risk/limits/%s", accounts[i]);
        snprintf(body, sizeof body,
                 "{\"account\":\"%s\",\"max_order_qty\":\"50\",\"max_orders_per_sec\":100000,"
                 "\"max_open_orders\":1000,\"max_position_qty\":\"1000\","
                 "\"max_gross_exposure\":\"100000000\",\"daily_loss_limit\":\"100000000\"}",
                 accounts[i]);
        gw_http(&r, &gw, "PUT", path, admin, body);
        ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
        http_free(&r);
    }
    char id[64];
    gw_new_key(&gw, admin, "trader", acct_a, trader, id);
    gw_new_key(&gw, admin, "trader", acct_b, other_key, id);
}

static void teardown(void) {
    if (gw.pid > 0) gw_stop(&gw);
    for (int i = 0; i < N_SERVICES; i++) {
        if (pids[i] <= 0) continue;
        int rc = tb_test_stop(pids[i], 20000);
        pids[i] = 0;
        ck_assert_msg(rc == 0, "a service exited with %d on SIGTERM (see %s)", rc, xt_log);
    }
    xt_close();
    curl_global_cleanup();
}

/* ------------------------------------------------------------ tests -- */

START_TEST(qty_down_on_a_resting_limit_order) {
    char sym[64], id[TB_ID_CAP], subject[128];
    snprintf(sym, sizeof sym, "%sQ", acct_a);
    tick(sym, "99", "101", "100", NULL);
    snprintf(subject, sizeof subject, "orders.status.%s", acct_a);
    natsSubscription *sub = xt_capture(subject);
    buy(sym, "limit", "10", "95", id);
    xt_wait_state(id, "accepted 0.00000000 v2");

    http_resp r;
    patch(&r, trader, id, "{\"qty\":\"4\"}");
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_str_eq(field(&r, "order_id"), id);
    ck_assert_str_eq(field(&r, "qty"), "4");
    ck_assert_str_eq(field(&r, "status"), "accepted");
    http_free(&r);
    order_is(id, "accepted 4 95 - amended");
    xt_wait_state(id, "accepted 0.00000000 v3");
    const char *p[1] = {id};
    char *ev = xt_sql("SELECT status || ' ' || qty::text || ' ' || limit_price::text FROM "
                      "order_events WHERE order_id = $1 AND version = 3 AND reason = 'amended'",
                      1, p);
    ck_assert_msg(ev && strcmp(ev, "accepted 4.00000000 95.00000000") == 0, "event: %s",
                  ev ? ev : "(none)");
    free(ev);

    /* orders.status: new (risk), accepted, then the amend with its values */
    tb_order_status st;
    bool seen = false;
    while (!seen && xt_next(sub, &tb_order_status_desc, &st, NULL, 5000))
        seen = strcmp(st.order_id, id) == 0 && st.version == 3;
    ck_assert_msg(seen, "no orders.status v3 for %s", id);
    ck_assert_str_eq(st.status, "accepted");
    ck_assert_str_eq(st.reason, "amended");
    ck_assert_int_eq(st.qty, 4 * TB_FIXED_SCALE);
    ck_assert_int_eq(st.leaves_qty, 4 * TB_FIXED_SCALE);
    ck_assert_int_eq(st.limit_price, 95 * TB_FIXED_SCALE);
    natsSubscription_Destroy(sub);

    /* The same PATCH again (a client retrying) records nothing new. */
    patch(&r, trader, id, "{\"qty\":\"4\"}");
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_str_eq(field(&r, "qty"), "4");
    http_free(&r);
    ck_assert_int_eq(amend_events(id), 1);
    xt_wait_state(id, "accepted 0.00000000 v3");
}
END_TEST

START_TEST(limit_price_through_the_ask_trades_at_the_ask) {
    char sym[64], id[TB_ID_CAP];
    snprintf(sym, sizeof sym, "%sP", acct_a);
    tick(sym, "99", "101", "100", NULL);
    buy(sym, "limit", "5", "95", id);
    xt_wait_state(id, "accepted 0.00000000 v2");

    http_resp r;
    patch(&r, trader, id, "{\"limit_price\":\"102\"}");
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_str_eq(field(&r, "status"), "filled");
    ck_assert_str_eq(field(&r, "avg_price"), "101");
    http_free(&r);
    /* amended (v3), then filled on the quote at once (v4) */
    xt_wait_state(id, "filled 5.00000000 v4");
    ck_assert_int_eq(xt_fill_count(id), 1);
    xt_fill_is(id, 1, "5.00000000 101.00000000 0.00000000 taker");
    order_is(id, "filled 5 102 5 amended");

    /* finished: 409, nothing recorded */
    patch(&r, trader, id, "{\"qty\":\"3\"}");
    ck_assert_msg(r.status == 409, "%ld %s", r.status, r.body);
    http_free(&r);
    ck_assert_int_eq(amend_events(id), 1);
}
END_TEST

START_TEST(after_a_partial_fill) {
    char sym[64], id[TB_ID_CAP];
    snprintf(sym, sizeof sym, "%sF", acct_a);
    tick(sym, "90", "110", "100", NULL);
    buy(sym, "limit", "10", "100", id);
    xt_wait_state(id, "accepted 0.00000000 v2");
    /* a trade at 99 of 3 (no bid or ask quoted): 3 of the 10 fill */
    tick(sym, NULL, NULL, "99", "3");
    xt_wait_state(id, "partially_filled 3.00000000 v3");
    tick(sym, "90", "110", "100", NULL); /* out of reach again */

    http_resp r;
    patch(&r, trader, id, "{\"qty\":\"6\"}");
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_str_eq(field(&r, "status"), "partially_filled");
    http_free(&r);
    order_is(id, "partially_filled 6 100 3 amended");
    xt_wait_state(id, "partially_filled 3.00000000 v4");

    patch(&r, trader, id, "{\"qty\":\"2\"}");
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    ck_assert_str_eq(http_error_field(&r), "qty");
    http_free(&r);
    order_is(id, "partially_filled 6 100 3 amended");

    patch(&r, trader, id, "{\"qty\":\"3\"}");
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_str_eq(field(&r, "status"), "filled");
    http_free(&r);
    order_is(id, "filled 3 100 3 amended");
    xt_wait_state(id, "filled 3.00000000 v5");
    ck_assert_int_eq(xt_fill_count(id), 1);

    patch(&r, trader, id, "{\"qty\":\"4\"}");
    ck_assert_msg(r.status == 409, "%ld %s", r.status, r.body);
    http_free(&r);
}
END_TEST

START_TEST(refused_amends_leave_the_order_as_it_was) {
    char sym[64], id[TB_ID_CAP], mkt[TB_ID_CAP];
    snprintf(sym, sizeof sym, "%sR", acct_a);
    tick(sym, "99", "101", "100", NULL);
    buy(sym, "limit", "10", "95", id);
    xt_wait_state(id, "accepted 0.00000000 v2");

    http_resp r;
    patch(&r, trader, id, "{\"qty\":\"60\"}"); /* max_order_qty is 50 */
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    ck_assert_str_eq(http_error_field(&r), "qty");
    ck_assert_msg(r.body && strstr(r.body, "max_order_qty"), "%s", r.body);
    http_free(&r);
    order_is(id, "accepted 10 95 - -");
    ck_assert_int_eq(amend_events(id), 0);

    patch(&r, trader, id, "{\"stop_price\":\"90\"}");
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    ck_assert_str_eq(http_error_field(&r), "stop_price");
    http_free(&r);
    patch(&r, trader, id, "{}");
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    http_free(&r);
    order_is(id, "accepted 10 95 - -");
    xt_wait_state(id, "accepted 0.00000000 v2");

    /* a market order has no limit price to amend */
    buy(sym, "market", "1", NULL, mkt);
    xt_wait_state(mkt, "filled 1.00000000 v3");
    patch(&r, trader, mkt, "{\"limit_price\":\"100\"}");
    ck_assert_msg(r.status == 409, "%ld %s", r.status, r.body);
    http_free(&r);
}
END_TEST

START_TEST(unknown_and_foreign_orders_are_not_found) {
    char sym[64], id[TB_ID_CAP];
    snprintf(sym, sizeof sym, "%sN", acct_a);
    tick(sym, "99", "101", "100", NULL);
    buy(sym, "limit", "10", "95", id);
    xt_wait_state(id, "accepted 0.00000000 v2");

    http_resp r;
    patch(&r, trader, "no-such-order", "{\"qty\":\"4\"}");
    ck_assert_msg(r.status == 404, "%ld %s", r.status, r.body);
    http_free(&r);
    patch(&r, other_key, id, "{\"qty\":\"4\"}");
    ck_assert_msg(r.status == 404, "%ld %s", r.status, r.body);
    http_free(&r);
    /* accounts in the body is the gateway's to set, not the caller's */
    char body[256];
    snprintf(body, sizeof body, "{\"qty\":\"4\",\"accounts\":\"%s\"}", acct_a);
    patch(&r, other_key, id, body);
    ck_assert_msg(r.status == 404, "%ld %s", r.status, r.body);
    http_free(&r);
    order_is(id, "accepted 10 95 - -");
    ck_assert_int_eq(amend_events(id), 0);
}
END_TEST

/* tb-ctl amend: the same request from the command line. */
START_TEST(tb_ctl_amends_an_order) {
    char sym[64], id[TB_ID_CAP], bin[512], cmd[1024];
    snprintf(sym, sizeof sym, "%sC", acct_a);
    tick(sym, "99", "101", "100", NULL);
    buy(sym, "limit", "10", "95", id);
    xt_wait_state(id, "accepted 0.00000000 v2");
    tb_test_bin(bin, sizeof bin, "tools/ctl/tb-ctl");
    snprintf(cmd, sizeof cmd, "'%s' amend %s --qty 7 --limit-price 96 2>&1", bin, id);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    ck_assert_msg(rc == 0, "tb-ctl amend: %d %s", rc, out);
    ck_assert_msg(strstr(out, "\"qty\":\"7\"") && strstr(out, "\"limit_price\":\"96\""), "%s", out);
    order_is(id, "accepted 7 96 - amended");
    ck_assert_int_eq(amend_events(id), 1);
}
END_TEST

START_TEST(fills_never_exceed_the_final_qty) {
    const char *p[1] = {acct_a};
    char *bad = xt_sql("SELECT count(*) FROM orders o WHERE o.account = $1 AND (o.filled_qty > "
                       "o.qty OR o.filled_qty <> (SELECT COALESCE(sum(f.qty), 0) FROM fills f "
                       "WHERE f.order_id = o.order_id))",
                       1, p);
    char *n = xt_sql("SELECT count(*) FROM orders WHERE account = $1", 1, p);
    ck_assert_str_eq(bad, "0");
    ck_assert_int_ge(atoi(n), 5);
    free(bad);
    free(n);
}
END_TEST

int main(void) {
    Suite *s = suite_create("order-amend");
    TCase *tc = tcase_create("services");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, qty_down_on_a_resting_limit_order);
    tcase_add_test(tc, limit_price_through_the_ask_trades_at_the_ask);
    tcase_add_test(tc, after_a_partial_fill);
    tcase_add_test(tc, refused_amends_leave_the_order_as_it_was);
    tcase_add_test(tc, unknown_and_foreign_orders_are_not_found);
    tcase_add_test(tc, tb_ctl_amends_an_order);
    tcase_add_test(tc, fills_never_exceed_the_final_qty);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
