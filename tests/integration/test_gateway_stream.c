/* GET /v1/stream against a real tb-gateway, NATS, PostgreSQL and Redis:
 * upgrades without a valid key are refused before the upgrade (401), a key
 * sees the fills, orders, positions and alerts of its own accounts as JSON
 * with exact decimals and nothing of other accounts (error frames), quotes
 * arrive per symbol until unsubscribed, malformed frames get error frames
 * and repeated ones close the connection, the per-key connection limit
 * holds (429), a client that stops reading is disconnected with 1008
 * "slow consumer: queue full" while a second client on the same gateway
 * keeps receiving every event, and revoking a key closes its streams, on
 * this instance and on another. The gateway then stops cleanly with a
 * stream still open. Events are published on the bus by the test, as the
 * services would. */
#include "stream_proto.h"
#include "test_gateway_fixture.h"
#include "ws_client.h"

static gw_proc gw, gw2; /* gw2: another instance, for revocation */
static bus_config cfg;
static bus_conn *conn;
static char admin[64], trader[64], trader_id[64], other_key[64], other_id[64];
static char acct1[48], acct2[48], other_acct[48];

#define QUEUE 200

static void setup(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    mg_init_library(0);
    tb_test_config(&cfg, "test-gateway-stream");
    conn = tb_test_conn(&cfg);
    tb_test_unique(acct1, sizeof acct1, "WA");
    tb_test_unique(acct2, sizeof acct2, "WB");
    tb_test_unique(other_acct, sizeof other_acct, "WC");
    static const char *const env[] = {"GATEWAY_RATE_LIMIT=100000", "GATEWAY_STREAM_MAX_PER_KEY=3",
                                      "GATEWAY_STREAM_QUEUE=200",  "GATEWAY_STREAM_CLOSE_MS=15000",
                                      "GATEWAY_STREAM_MAX_SUBS=8", NULL};
    gw_start(&gw, "stream", env);
    gw_start(&gw2, "stream2", NULL);
    gw_admin_key(admin, sizeof admin);
    char accounts[128];
    snprintf(accounts, sizeof accounts, "%s,%s", acct1, acct2);
    gw_new_key(&gw, admin, "viewer", accounts, trader, trader_id);
    gw_new_key(&gw, admin, "trader", other_acct, other_key, other_id);
}

static void teardown(void) {
    int rc1 = gw_stop_rc(&gw), rc2 = gw_stop_rc(&gw2); /* 0: stopped by the last test */
    if (rc1 != 0 || rc2 != 0) fprintf(stderr, "tb-gateway exit status %d and %d\n", rc1, rc2);
    bus_conn_close(conn);
    mg_exit_library();
    curl_global_cleanup();
}

/* ---------------------------------------------------------- helpers -- */

static ws_client *open_as(const char *key, bool keep) {
    char path[128], err[256];
    ws_path(path, sizeof path, key);
    ws_client *c = ws_open(gw.port, path, keep, err, sizeof err);
    ck_assert_msg(c != NULL, "upgrade refused: %s", err);
    return c;
}

/* Sends a command and returns the reply (subscribed, unsubscribed or error). */
static json_t *command(ws_client *c, const char *text) {
    ws_send(c, text);
    json_t *r = ws_next(c, 5000);
    ck_assert_msg(r != NULL, "no reply to %s", text);
    return r;
}

static void expect_type(json_t *f, const char *type) {
    char *s = json_dumps(f, JSON_COMPACT);
    ck_assert_msg(strcmp(json_string_value(json_object_get(f, "type")), type) == 0, "want %s: %s",
                  type, s);
    free(s);
}

static void expect_error(json_t *f, const char *code, const char *field) {
    expect_type(f, "error");
    json_t *e = json_object_get(f, "error");
    ck_assert_str_eq(json_string_value(json_object_get(e, "code")), code);
    if (field) ck_assert_str_eq(json_string_value(json_object_get(e, "field")), field);
    ck_assert(json_string_length(json_object_get(e, "message")) > 0);
}

static void subscribe_account(ws_client *c, const char *topic, const char *account) {
    char text[256];
    snprintf(text, sizeof text, "{\"op\":\"subscribe\",\"topic\":\"%s\",\"account\":\"%s\"}", topic,
             account);
    json_t *r = command(c, text);
    expect_type(r, "subscribed");
    ck_assert_str_eq(json_string_value(json_object_get(r, "account")), account);
}

static tb_fill make_fill(const char *id, const char *account, const char *symbol) {
    tb_fill f = {.qty = 150000000, .price = 1812345678901, .fee = 123, .ts = tb_now_ns()};
    snprintf(f.fill_id, sizeof f.fill_id, "%s", id);
    snprintf(f.order_id, sizeof f.order_id, "o-%s", id);
    snprintf(f.account, sizeof f.account, "%s", account);
    snprintf(f.symbol, sizeof f.symbol, "%s", symbol);
    snprintf(f.side, sizeof f.side, "sell");
    return f;
}

static void publish(const char *subject, const tb_event_desc *d, const void *ev) {
    bus_msg_meta meta = {.trace_id = "stream-test-trace"};
    ck_assert_int_eq(bus_publish(conn, subject, d, ev, &meta), TB_OK);
    ck_assert_int_eq(bus_conn_flush(conn, 2000), TB_OK);
}

static void publish_fill(const char *id, const char *account, const char *symbol) {
    tb_fill f = make_fill(id, account, symbol);
    char subject[160];
    snprintf(subject, sizeof subject, "fills.%s.%s", account, symbol);
    publish(subject, &tb_fill_desc, &f);
}

static void publish_tick(const char *symbol, uint64_t seq) {
    tb_tick t = {.seq = seq, .ts = tb_now_ns(), .bid = 1799950000000, .ask = 1800050000000};
    snprintf(t.symbol, sizeof t.symbol, "%s", symbol);
    char subject[128];
    snprintf(subject, sizeof subject, "md.tick.%s", symbol);
    publish(subject, &tb_tick_desc, &t);
}

/* An event frame whose data has field == value. */
typedef struct data_is {
    const char *field, *value;
} data_is;

static bool event_with(json_t *f, void *arg) {
    data_is *w = arg;
    const char *v = json_string_value(json_object_get(json_object_get(f, "data"), w->field));
    return ws_type_is(f, "event") && v && strcmp(v, w->value) == 0;
}

static json_t *wait_event(ws_client *c, const char *field, const char *value, int timeout_ms) {
    data_is w = {field, value};
    return ws_wait_for(c, event_with, &w, timeout_ms);
}

/* A series of the gateway's own metrics, summed over its labels. */
static double metric(const char *name, const char *label) {
    http_resp r;
    gw_http(&r, &gw, "GET", "/metrics", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    double sum = 0;
    size_t nl = strlen(name);
    for (char *line = strtok(r.body, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, name, nl) != 0 || (line[nl] != '{' && line[nl] != ' ')) continue;
        if (label && strstr(line, label) == NULL) continue;
        const char *sp = strrchr(line, ' ');
        if (sp) sum += strtod(sp + 1, NULL);
    }
    http_free(&r);
    return sum;
}

/* ------------------------------------------------------------ tests -- */

START_TEST(unauthenticated_upgrade_refused) {
    char body[1024], hdr[256];
    ck_assert_int_eq(ws_upgrade_status(gw.port, "/v1/stream", NULL, body, sizeof body), 401);
    json_t *j = json_loads(body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                     "unauthorized");
    json_decref(j);
    ck_assert_int_eq(ws_upgrade_status(gw.port, "/v1/stream?api_key=not-a-key", NULL, NULL, 0),
                     401);
    ck_assert_int_eq(
        ws_upgrade_status(gw.port, "/v1/stream?api_key=tb_0000000000000000000000000000000000000000",
                          NULL, NULL, 0),
        401);
    ck_assert_int_eq(
        ws_upgrade_status(gw.port, "/v1/stream",
                          "Authorization: Bearer tb_1111111111111111111111111111111111111111\r\n",
                          NULL, 0),
        401);
    char err[256];
    ck_assert_ptr_null(ws_open(gw.port, "/v1/stream", true, err, sizeof err));
    /* A valid key in the header upgrades; an unknown parameter or the key
     * given twice is a 400. */
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", trader);
    ck_assert_int_eq(ws_upgrade_status(gw.port, "/v1/stream", hdr, NULL, 0), 101);
    char path[160];
    snprintf(path, sizeof path, "/v1/stream?api_key=%s", trader);
    ck_assert_int_eq(ws_upgrade_status(gw.port, path, NULL, NULL, 0), 101);
    ck_assert_int_eq(ws_upgrade_status(gw.port, path, hdr, NULL, 0), 400);
    snprintf(path, sizeof path, "/v1/stream?api_key=%s&format=x", trader);
    ck_assert_int_eq(ws_upgrade_status(gw.port, path, NULL, NULL, 0), 400);
    ck_assert_int_eq(ws_upgrade_status(gw.port, "/v1/stream/x", hdr, NULL, 0), 404);
    /* Plain HTTP on the route: 401 without a key, 426 with one. */
    http_resp r;
    gw_http(&r, &gw, "GET", "/v1/stream", NULL, NULL);
    ck_assert_int_eq(r.status, 401);
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/stream", trader, NULL);
    ck_assert_int_eq(r.status, 426);
    ck_assert_str_eq(http_error_code(&r), "upgrade_required");
    ck_assert_str_eq(http_header(&r, "Upgrade", hdr, sizeof hdr), "websocket");
    http_free(&r);
    ck_assert(metric("tb_http_requests_total",
                     "route=\"/v1/stream\",method=\"GET\",status=\"401\"") >= 4);
}
END_TEST

START_TEST(fills_of_own_account) {
    ws_client *c = open_as(trader, true);
    json_t *r = command(c, "{\"op\":\"subscribe\",\"topic\":\"fills\",\"account\":\"");
    expect_error(r, "malformed", NULL); /* (a cut-off frame first) */
    char text[256];
    snprintf(text, sizeof text,
             "{\"op\":\"subscribe\",\"topic\":\"fills\",\"account\":\"%s\",\"id\":\"s-1\"}", acct1);
    r = command(c, text);
    expect_type(r, "subscribed");
    ck_assert_str_eq(json_string_value(json_object_get(r, "topic")), "fills");
    ck_assert_str_eq(json_string_value(json_object_get(r, "id")), "s-1");
    char id_other[64], id_mine[64];
    tb_test_unique(id_other, sizeof id_other, "fo");
    tb_test_unique(id_mine, sizeof id_mine, "fm");
    publish_fill(id_other, other_acct, "DAX"); /* not this key's */
    publish_fill(id_mine, acct1, "DAX");
    json_t *ev = ws_next_type(c, "event", 5000);
    ck_assert_msg(ev != NULL, "no fill event");
    ck_assert_str_eq(json_string_value(json_object_get(ev, "topic")), "fills");
    char subject[128];
    snprintf(subject, sizeof subject, "fills.%s.DAX", acct1);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "subject")), subject);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "schema")), "fill");
    ck_assert_str_eq(json_string_value(json_object_get(ev, "trace_id")), "stream-test-trace");
    json_t *data = json_object_get(ev, "data");
    ck_assert_str_eq(json_string_value(json_object_get(data, "fill_id")), id_mine);
    ck_assert_str_eq(json_string_value(json_object_get(data, "account")), acct1);
    ck_assert_str_eq(json_string_value(json_object_get(data, "side")), "sell");
    ck_assert_str_eq(json_string_value(json_object_get(data, "qty")), "1.5");
    ck_assert_str_eq(json_string_value(json_object_get(data, "price")), "18123.45678901");
    ck_assert_str_eq(json_string_value(json_object_get(data, "fee")), "0.00000123");
    /* Orders and positions of the account too; a second account of the key. */
    subscribe_account(c, "orders", acct1);
    subscribe_account(c, "positions", acct2);
    tb_order_status os = {
        .version = 2, .filled_qty = 150000000, .avg_price = 1812345678901, .ts = tb_now_ns()};
    snprintf(os.order_id, sizeof os.order_id, "o-%s", id_mine);
    snprintf(os.account, sizeof os.account, "%s", acct1);
    snprintf(os.symbol, sizeof os.symbol, "DAX");
    snprintf(os.status, sizeof os.status, "filled");
    snprintf(subject, sizeof subject, "orders.status.%s", acct1);
    publish(subject, &tb_order_status_desc, &os);
    ev = wait_event(c, "order_id", os.order_id, 5000);
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "schema")), "order_status");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ev, "data"), "status")),
                     "filled");
    tb_position_update pu = {.qty = -250000000, .avg_cost = 10000000001, .ts = tb_now_ns()};
    snprintf(pu.account, sizeof pu.account, "%s", acct2);
    snprintf(pu.symbol, sizeof pu.symbol, "ESTX");
    snprintf(subject, sizeof subject, "pos.update.%s.ESTX", acct2);
    publish(subject, &tb_position_update_desc, &pu);
    ev = wait_event(c, "account", acct2, 5000);
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "topic")), "positions");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ev, "data"), "qty")),
                     "-2.5");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ev, "data"), "avg_cost")),
                     "100.00000001");
    /* Nothing of the other account arrived in between. */
    pthread_mutex_lock(&c->lock);
    size_t i;
    json_t *f;
    json_array_foreach(c->frames, i, f) {
        const char *a = json_string_value(json_object_get(json_object_get(f, "data"), "account"));
        ck_assert(a == NULL || strcmp(a, other_acct) != 0);
    }
    pthread_mutex_unlock(&c->lock);
    /* A ping is answered with its payload. */
    ck_assert_int_gt(mg_websocket_client_write(c->conn, MG_WEBSOCKET_OPCODE_PING, "hi", 2), 0);
    for (int k = 0; k < 500 && c->pongs == 0; k++) usleep(10 * 1000);
    ck_assert_uint_eq(c->pongs, 1);
    ws_close(c);
    ck_assert(metric("tb_stream_messages_total", "topic=\"fills\"") >= 1);
}
END_TEST

START_TEST(other_account_refused) {
    ws_client *c = open_as(trader, true);
    const char *topics[] = {"fills", "orders", "positions", "alerts"};
    for (int i = 0; i < 4; i++) {
        char text[256];
        snprintf(text, sizeof text,
                 "{\"op\":\"subscribe\",\"topic\":\"%s\",\"account\":\"%s\",\"id\":\"x%d\"}",
                 topics[i], other_acct, i);
        json_t *r = command(c, text);
        expect_error(r, "forbidden", "account");
        char id[8];
        snprintf(id, sizeof id, "x%d", i);
        ck_assert_str_eq(json_string_value(json_object_get(r, "id")), id);
    }
    /* "every account" is only for keys without accounts */
    expect_error(command(c, "{\"op\":\"subscribe\",\"topic\":\"fills\"}"), "missing_field",
                 "account");
    char fid[64];
    tb_test_unique(fid, sizeof fid, "fx");
    publish_fill(fid, other_acct, "DAX");
    /* The connection still works, and nothing of the other account came. */
    subscribe_account(c, "fills", acct1);
    char mine[64];
    tb_test_unique(mine, sizeof mine, "fy");
    publish_fill(mine, acct1, "SMI");
    json_t *ev = ws_next_type(c, "event", 5000);
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ev, "data"), "fill_id")),
                     mine);
    /* The admin key (no accounts) may follow any account, or all of them. */
    ws_client *a = open_as(admin, true);
    json_t *r = command(a, "{\"op\":\"subscribe\",\"topic\":\"fills\"}");
    expect_type(r, "subscribed");
    ck_assert(json_is_null(json_object_get(r, "account")));
    publish_fill(fid, other_acct, "DAX");
    ev = wait_event(a, "fill_id", fid, 5000);
    ck_assert_ptr_nonnull(ev);
    ws_close(a);
    ws_close(c);
}
END_TEST

START_TEST(quotes_and_unsubscribe) {
    ws_client *c = open_as(trader, true);
    char s1[48], s2[48], text[256];
    tb_test_unique(s1, sizeof s1, "QA");
    tb_test_unique(s2, sizeof s2, "QB");
    snprintf(text, sizeof text,
             "{\"op\":\"subscribe\",\"topic\":\"quotes\",\"symbols\":[\"%s\",\"%s\"]}", s1, s2);
    json_t *r = command(c, text);
    expect_type(r, "subscribed");
    ck_assert_uint_eq(json_array_size(json_object_get(r, "symbols")), 2);
    publish_tick(s1, 1);
    publish_tick(s2, 1);
    ck_assert_ptr_nonnull(wait_event(c, "symbol", s1, 5000));
    c->next = 0; /* the two ticks may come in either order */
    json_t *ev = wait_event(c, "symbol", s2, 5000);
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "schema")), "tick");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ev, "data"), "bid")),
                     "17999.5");
    /* The two ticks came in either order: skip past both before the next
     * command, whose reply must be the next frame. */
    pthread_mutex_lock(&c->lock);
    c->next = json_array_size(c->frames);
    pthread_mutex_unlock(&c->lock);
    /* Subscribing again is accepted and changes nothing. */
    snprintf(text, sizeof text, "{\"op\":\"subscribe\",\"topic\":\"quotes\",\"symbols\":[\"%s\"]}",
             s1);
    expect_type(command(c, text), "subscribed");
    snprintf(text, sizeof text,
             "{\"op\":\"unsubscribe\",\"topic\":\"quotes\",\"symbols\":[\"%s\"]}", s1);
    r = command(c, text);
    expect_type(r, "unsubscribed");
    expect_error(command(c, text), "not_found", "symbols"); /* not any more */
    size_t before = json_array_size(c->frames);
    publish_tick(s1, 2);
    publish_tick(s2, 2);
    publish_tick(s1, 3);
    publish_tick(s2, 3);
    data_is w = {"symbol", s2};
    ck_assert_ptr_nonnull(ws_wait_for(c, event_with, &w, 5000));
    ck_assert_ptr_nonnull(ws_wait_for(c, event_with, &w, 5000));
    usleep(300 * 1000); /* a late s1 tick would be here by now */
    pthread_mutex_lock(&c->lock);
    for (size_t i = before; i < json_array_size(c->frames); i++) {
        const char *sym = json_string_value(
            json_object_get(json_object_get(json_array_get(c->frames, i), "data"), "symbol"));
        ck_assert_msg(sym == NULL || strcmp(sym, s1) != 0, "tick of %s after unsubscribe", s1);
    }
    pthread_mutex_unlock(&c->lock);
    /* Alerts: one subject for every account, filtered by the alert's account. */
    subscribe_account(c, "alerts", acct1);
    tb_alert al = {.ts = tb_now_ns()};
    snprintf(al.severity, sizeof al.severity, "warning");
    snprintf(al.kind, sizeof al.kind, "drawdown");
    snprintf(al.message, sizeof al.message, "drawdown over 3%%");
    tb_test_unique(al.alert_id, sizeof al.alert_id, "alo");
    snprintf(al.account, sizeof al.account, "%s", other_acct);
    publish("alerts.warning.drawdown", &tb_alert_desc, &al);
    char mine[64];
    tb_test_unique(mine, sizeof mine, "alm");
    snprintf(al.alert_id, sizeof al.alert_id, "%s", mine);
    snprintf(al.account, sizeof al.account, "%s", acct1);
    publish("alerts.warning.drawdown", &tb_alert_desc, &al);
    ev = ws_next_type(c, "event", 5000);
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(json_string_value(json_object_get(ev, "topic")), "alerts");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ev, "data"), "alert_id")),
                     mine);
    /* The subscription limit of a connection (GATEWAY_STREAM_MAX_SUBS=8). */
    expect_error(command(c, "{\"op\":\"subscribe\",\"topic\":\"quotes\",\"symbols\":[\"L1\",\"L2\","
                            "\"L3\",\"L4\",\"L5\",\"L6\",\"L7\",\"L8\"]}"),
                 "invalid", NULL);
    ws_close(c);
}
END_TEST

START_TEST(malformed_frames) {
    ws_client *c = open_as(trader, true);
    expect_error(command(c, "not json"), "malformed", NULL);
    expect_error(command(c, "[1]"), "malformed", NULL);
    expect_error(command(c, "{\"op\":\"subscribe\",\"topic\":\"quotes\",\"symbols\":[\"a.>\"]}"),
                 "invalid", "symbols");
    expect_error(command(c, "{\"op\":\"publish\",\"topic\":\"quotes\",\"symbols\":[\"A\"]}"),
                 "invalid", "op");
    expect_error(command(c, "{\"op\":\"subscribe\",\"topic\":\"news\",\"account\":\"A\"}"),
                 "invalid", "topic");
    char big[GW_STREAM_MAX_FRAME + 100];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[0] = '{';
    big[sizeof big - 2] = '}';
    expect_error(command(c, big), "too_large", NULL);
    ck_assert_int_gt(mg_websocket_client_write(c->conn, MG_WEBSOCKET_OPCODE_BINARY, "\x01\x02", 2),
                     0);
    expect_error(ws_next(c, 5000), "malformed", NULL);
    /* A valid command in between is still served. */
    subscribe_account(c, "fills", acct1);
    ck_assert(!c->closed);
    /* Ten refused frames in all: the gateway closes with a reason. */
    for (int i = 0; i < 3; i++) ws_send(c, "{");
    ck_assert_msg(ws_wait_closed(c, 20000), "not closed after repeated invalid frames");
    ck_assert(c->close_frame);
    ck_assert_int_eq(c->close_code, 1008);
    ck_assert_str_eq(c->close_reason, "too many invalid messages");
    ws_close(c);
    ck_assert(metric("tb_stream_client_errors_total", "code=\"malformed\"") >= 4);
}
END_TEST

START_TEST(connections_per_key) {
    ws_client *c[3];
    for (int i = 0; i < 3; i++) c[i] = open_as(other_key, true);
    char path[128], body[512];
    ws_path(path, sizeof path, other_key);
    ck_assert_int_eq(ws_upgrade_status(gw.port, path, NULL, body, sizeof body), 429);
    ck_assert_ptr_nonnull(strstr(body, "rate_limited"));
    /* another key is not affected */
    ws_client *t = open_as(trader, true);
    ck_assert(metric("tb_stream_connections", NULL) >= 4);
    ws_close(c[0]);
    int status = 0;
    for (int tries = 0; tries < 100 && status != 101; tries++) {
        status = ws_upgrade_status(gw.port, path, NULL, NULL, 0);
        if (status != 101) usleep(50 * 1000);
    }
    ck_assert_int_eq(status, 101);
    ws_close(c[1]);
    ws_close(c[2]);
    ws_close(t);
}
END_TEST

/* Publishes ticks of symbol until the slow client was cut off, never more
 * than QUEUE frames ahead of the normal client: so the normal client cannot
 * overflow, and whatever piles up is the slow client's. */
static uint64_t flood(ws_client *normal, const char *symbol, size_t already) {
    uint64_t seq = 0;
    double slow0 = metric("tb_stream_slow_disconnects_total", NULL);
    int64_t t0 = bus_mono_ns();
    tb_tick t = {.bid = 1799950000000, .ask = 1800050000000};
    snprintf(t.symbol, sizeof t.symbol, "%s", symbol);
    char subject[128];
    snprintf(subject, sizeof subject, "md.tick.%s", symbol);
    while (bus_mono_ns() - t0 < INT64_C(120) * 1000000000) {
        for (int i = 0; i < 50; i++) {
            t.seq = ++seq;
            t.ts = tb_now_ns();
            ck_assert_int_eq(bus_publish(conn, subject, &tb_tick_desc, &t, NULL), TB_OK);
        }
        ck_assert_int_eq(bus_conn_flush(conn, 2000), TB_OK);
        int64_t waited = bus_mono_ns();
        while (already + seq - ws_count(normal) > QUEUE / 2) {
            ck_assert_msg(bus_mono_ns() - waited < INT64_C(10) * 1000000000,
                          "the normal client stalled at %zu of %llu", ws_count(normal) - already,
                          (unsigned long long)seq);
            usleep(1000);
        }
        if (seq % 2000 == 0 && metric("tb_stream_slow_disconnects_total", NULL) > slow0) return seq;
    }
    ck_abort_msg("the slow client was never disconnected (%llu ticks)", (unsigned long long)seq);
    return seq;
}

START_TEST(slow_consumer) {
    ws_client *normal = open_as(trader, false), *slow = open_as(trader, false);
    char sym[48], text[256];
    tb_test_unique(sym, sizeof sym, "SLOW");
    snprintf(text, sizeof text, "{\"op\":\"subscribe\",\"topic\":\"quotes\",\"symbols\":[\"%s\"]}",
             sym);
    ws_send(normal, text);
    ws_send(slow, text);
    /* the replies (counted, not kept) */
    for (int i = 0; i < 500 && (ws_count(normal) < 1 || ws_count(slow) < 1); i++) usleep(10 * 1000);
    ck_assert(ws_count(normal) == 1 && ws_count(slow) == 1);
    ws_block(slow, true); /* stops reading at its next frame */
    uint64_t sent = flood(normal, sym, 1);
    /* The gateway was not stalled: the normal client has every tick, REST
     * answers, and more ticks still flow. */
    for (int i = 0; i < 50; i++) publish_tick(sym, sent + 1 + (uint64_t)i);
    sent += 50;
    for (int i = 0; i < 1000 && ws_count(normal) < sent + 1; i++) usleep(10 * 1000);
    ck_assert_uint_eq(ws_count(normal), sent + 1);
    http_resp r;
    gw_http(&r, &gw, "GET", "/health", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
    ck_assert(!normal->closed);
    /* The slow client, reading again, finds the close frame and its reason
     * after what was already on its way. */
    ws_block(slow, false);
    ck_assert_msg(ws_wait_closed(slow, 20000), "the slow client is still connected");
    ck_assert_msg(slow->close_frame, "no close frame (%zu frames read)", ws_count(slow));
    ck_assert_int_eq(slow->close_code, 1008);
    ck_assert_str_eq(slow->close_reason, "slow consumer: queue full");
    ck_assert_uint_lt(ws_count(slow), sent + 1);
    ck_assert(metric("tb_stream_slow_disconnects_total", NULL) >= 1);
    fprintf(stderr, "slow_consumer: %llu ticks; the slow client read %zu frames before the close\n",
            (unsigned long long)sent, ws_count(slow));
    ws_close(slow);
    ws_close(normal);
}
END_TEST

/* A client that never reads again is cut off at GATEWAY_STREAM_CLOSE_MS
 * (15 s here): its socket is shut down (what the kernel already buffered,
 * the close frame perhaps, still reaches it) and its connection slot comes
 * back. The key may hold three connections. */
START_TEST(stuck_client_cut_off) {
    ws_client *normal = open_as(other_key, false), *stuck = open_as(other_key, false);
    char sym[48], text[256], path[128], err[256];
    tb_test_unique(sym, sizeof sym, "STUCK");
    snprintf(text, sizeof text, "{\"op\":\"subscribe\",\"topic\":\"quotes\",\"symbols\":[\"%s\"]}",
             sym);
    ws_send(normal, text);
    ws_send(stuck, text);
    for (int i = 0; i < 500 && (ws_count(normal) < 1 || ws_count(stuck) < 1); i++)
        usleep(10 * 1000);
    ws_block(stuck, true);
    flood(normal, sym, 1);
    int64_t t0 = bus_mono_ns();
    ws_path(path, sizeof path, other_key);
    ws_client *third = ws_open(gw.port, path, false, err, sizeof err);
    ck_assert_msg(third != NULL, "third connection: %s", err);
    ws_client *probe = NULL;
    while (probe == NULL && bus_mono_ns() - t0 < INT64_C(40) * 1000000000) {
        probe = ws_open(gw.port, path, false, err, sizeof err);
        if (probe == NULL) usleep(200 * 1000);
    }
    double secs = (double)(bus_mono_ns() - t0) / 1e9;
    ck_assert_msg(probe != NULL, "the stuck client's slot never came back");
    ck_assert_msg(secs > 5, "the stuck client was cut off after %.1f s, before its deadline", secs);
    ws_block(stuck, false);
    ck_assert(ws_wait_closed(stuck, 20000));
    ck_assert(!normal->closed);
    ws_close(probe);
    ws_close(third);
    ws_close(stuck);
    ws_close(normal);
}
END_TEST

/* A revoked key's streams close with 1008 "API key revoked": at once when
 * revoked on the same instance, within GATEWAY_AUTH_CACHE_MS (2 s by
 * default) when revoked on another. */
START_TEST(revoked_key) {
    char key[64], id[64], path[160], url[128];
    gw_new_key(&gw, admin, "viewer", acct1, key, id);
    ws_client *c = open_as(key, true);
    subscribe_account(c, "fills", acct1);
    snprintf(url, sizeof url, "/v1/api-keys/%s", id);
    http_resp r;
    gw_http(&r, &gw, "DELETE", url, admin, NULL);
    ck_assert_int_eq(r.status, 204);
    http_free(&r);
    ck_assert_msg(ws_wait_closed(c, 5000), "the stream of the revoked key is still open");
    ck_assert(c->close_frame);
    ck_assert_int_eq(c->close_code, 1008);
    ck_assert_str_eq(c->close_reason, "API key revoked");
    ws_close(c);
    ws_path(path, sizeof path, key);
    ck_assert_int_eq(ws_upgrade_status(gw.port, path, NULL, NULL, 0), 401);

    gw_new_key(&gw, admin, "viewer", acct1, key, id);
    c = open_as(key, true);
    subscribe_account(c, "fills", acct1);
    int64_t t0 = bus_mono_ns();
    snprintf(url, sizeof url, "/v1/api-keys/%s", id);
    gw_http(&r, &gw2, "DELETE", url, admin, NULL);
    ck_assert_int_eq(r.status, 204);
    http_free(&r);
    ck_assert_msg(ws_wait_closed(c, 10000), "the stream of a key revoked elsewhere is still open");
    double secs = (double)(bus_mono_ns() - t0) / 1e9;
    ck_assert_str_eq(c->close_reason, "API key revoked");
    ck_assert_msg(secs < 5, "closed %.1f s after the revocation", secs);
    ws_close(c);
}
END_TEST

/* A stream left open while the gateway stops (gw_stop checks exit 0). */
START_TEST(open_at_shutdown) {
    ws_client *c = open_as(trader, true);
    subscribe_account(c, "fills", acct1);
    gw_stop(&gw);
    ck_assert(ws_wait_closed(c, 10000));
    ws_close(c);
}
END_TEST

/* Last: the second gateway drains and exits 0 too (under ASan: without leaks
 * or memory errors). A test, not the teardown: a failure in an unchecked
 * teardown is not recorded. */
START_TEST(gateways_stop_cleanly) {
    int rc1 = gw_stop_rc(&gw), rc2 = gw_stop_rc(&gw2); /* both, whatever the first says */
    ck_assert_msg(rc1 == 0 && rc2 == 0, "tb-gateway exit status %d and %d (logs %s, %s)", rc1, rc2,
                  gw.log, gw2.log);
    tb_test_bg_assert();
}
END_TEST

int main(void) {
    Suite *s = suite_create("gateway_stream");
    TCase *tc = tcase_create("stream");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, unauthenticated_upgrade_refused);
    tcase_add_test(tc, fills_of_own_account);
    tcase_add_test(tc, other_account_refused);
    tcase_add_test(tc, quotes_and_unsubscribe);
    tcase_add_test(tc, malformed_frames);
    tcase_add_test(tc, connections_per_key);
    tcase_add_test(tc, slow_consumer);
    tcase_add_test(tc, stuck_client_cut_off);
    tcase_add_test(tc, revoked_key);
    tcase_add_test(tc, open_at_shutdown);
    tcase_add_test(tc, gateways_stop_cleanly);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
