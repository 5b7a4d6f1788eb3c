/* The /v1/stream protocol (gateway/stream_proto.c): client frames are
 * validated (size, JSON, op, topic, symbol and account alphabets, the
 * key's accounts), topics map to the bus subjects of DESIGN §1, and the
 * frames the gateway sends have the documented shape with exact decimals. */
#include <stdlib.h>
#include <string.h>

#include "stream_proto.h"
#include "tb_test.h"

static const gw_caller trader = {.role = GW_ROLE_TRADER, .key_id = "k1", .accounts = "A,B-2"};
static const gw_caller viewer = {.role = GW_ROLE_VIEWER, .key_id = "k2", .accounts = "A"};
static const gw_caller admin = {.role = GW_ROLE_ADMIN, .key_id = "k3"};
static const gw_caller admin_a = {.role = GW_ROLE_ADMIN, .key_id = "k4", .accounts = "A"};

static tb_status parse(const char *text, const gw_caller *c, gw_stream_cmd *cmd, tb_error *err) {
    return gw_stream_parse(text, strlen(text), c, cmd, err);
}

START_TEST(valid_commands) {
    gw_stream_cmd cmd;
    tb_error err = {0};
    ck_assert_int_eq(
        parse("{\"op\":\"subscribe\",\"topic\":\"quotes\",\"symbols\":[\"DAX\",\"ESTX\","
              "\"DAX\",\"a_b-1\"],\"id\":\"req-1\"}",
              &viewer, &cmd, &err),
        TB_OK);
    ck_assert_int_eq(cmd.op, GW_OP_SUBSCRIBE);
    ck_assert_int_eq(cmd.topic, GW_TOPIC_QUOTES);
    ck_assert_uint_eq(cmd.nsymbols, 3); /* the repeated DAX once */
    ck_assert_str_eq(cmd.symbols[0], "DAX");
    ck_assert_str_eq(cmd.symbols[1], "ESTX");
    ck_assert_str_eq(cmd.symbols[2], "a_b-1");
    ck_assert_str_eq(cmd.id, "req-1");

    const char *topics[] = {"orders", "fills", "positions", "alerts"};
    const gw_topic want[] = {GW_TOPIC_ORDERS, GW_TOPIC_FILLS, GW_TOPIC_POSITIONS, GW_TOPIC_ALERTS};
    for (int i = 0; i < 4; i++) {
        char text[128];
        snprintf(text, sizeof text,
                 "{\"op\":\"unsubscribe\",\"topic\":\"%s\",\"account\":\"B-2\",\"extra\":[1]}",
                 topics[i]);
        ck_assert_int_eq(parse(text, &trader, &cmd, &err), TB_OK);
        ck_assert_int_eq(cmd.op, GW_OP_UNSUBSCRIBE);
        ck_assert_int_eq(cmd.topic, want[i]);
        ck_assert_str_eq(cmd.account, "B-2");
        ck_assert_str_eq(cmd.id, "");
    }
    /* An admin key without accounts may name any account, or none (all). */
    ck_assert_int_eq(
        parse("{\"op\":\"subscribe\",\"topic\":\"fills\",\"account\":\"ZZ\"}", &admin, &cmd, &err),
        TB_OK);
    ck_assert_str_eq(cmd.account, "ZZ");
    ck_assert_int_eq(parse("{\"op\":\"subscribe\",\"topic\":\"fills\"}", &admin, &cmd, &err),
                     TB_OK);
    ck_assert_str_eq(cmd.account, "");
}
END_TEST

/* One refused frame: status and field. */
static void refused(const char *text, const gw_caller *c, tb_status want, const char *field) {
    gw_stream_cmd cmd;
    tb_error err = {0};
    tb_status s = parse(text, c, &cmd, &err);
    ck_assert_msg(s == want, "%s: %s (%s), want %s", text, tb_status_code(s), err.message,
                  tb_status_code(want));
    ck_assert_msg(strcmp(err.field, field) == 0, "%s: field '%s', want '%s'", text, err.field,
                  field);
    ck_assert(err.message[0] != '\0');
}

START_TEST(invalid_commands) {
    refused("", &trader, TB_DECODE, "");
    refused("{\"op\":", &trader, TB_DECODE, "");
    refused("[1,2]", &trader, TB_DECODE, "");
    refused("\"subscribe\"", &trader, TB_DECODE, "");
    refused("{\"op\":\"subscribe\",\"op\":\"unsubscribe\",\"topic\":\"fills\",\"account\":\"A\"}",
            &trader, TB_DECODE, "");
    refused("{\"topic\":\"fills\",\"account\":\"A\"}", &trader, TB_MISSING_FIELD, "op");
    refused("{\"op\":\"publish\",\"topic\":\"fills\",\"account\":\"A\"}", &trader, TB_INVALID,
            "op");
    refused("{\"op\":7,\"topic\":\"fills\",\"account\":\"A\"}", &trader, TB_MISSING_FIELD, "op");
    refused("{\"op\":\"subscribe\",\"account\":\"A\"}", &trader, TB_MISSING_FIELD, "topic");
    refused("{\"op\":\"subscribe\",\"topic\":\"trades\",\"account\":\"A\"}", &trader, TB_INVALID,
            "topic");
    refused("{\"op\":\"subscribe\",\"topic\":\"quotes\"}", &trader, TB_MISSING_FIELD, "symbols");
    refused("{\"op\":\"subscribe\",\"topic\":\"quotes\",\"symbols\":\"DAX\"}", &trader,
            TB_WRONG_TYPE, "symbols");
    refused("{\"op\":\"subscribe\",\"topic\":\"quotes\",\"symbols\":[]}", &trader, TB_INVALID,
            "symbols");
    /* Subject wildcards, separators and spaces never reach a subject. */
    const char *bad[] = {"DAX.>", ">", "*", "a b", "D\\u00e4X", "x.y", "1,2", "tab\\t"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128];
        snprintf(text, sizeof text,
                 "{\"op\":\"subscribe\",\"topic\":\"quotes\",\"symbols\":[\"%s\"]}", bad[i]);
        refused(text, &trader, TB_INVALID, "symbols");
        snprintf(text, sizeof text, "{\"op\":\"subscribe\",\"topic\":\"fills\",\"account\":\"%s\"}",
                 bad[i]);
        refused(text, &admin, TB_INVALID, "account");
    }
    refused("{\"op\":\"subscribe\",\"topic\":\"quotes\",\"symbols\":[\"\"]}", &trader, TB_INVALID,
            "symbols");
    /* jansson refuses NUL inside strings: malformed */
    refused("{\"op\":\"subscribe\",\"topic\":\"quotes\",\"symbols\":[\"D\\u0000X\"]}", &trader,
            TB_DECODE, "");
    refused("{\"op\":\"subscribe\",\"topic\":\"quotes\",\"symbols\":[1]}", &trader, TB_INVALID,
            "symbols");
    char many[2048] = "{\"op\":\"subscribe\",\"topic\":\"quotes\",\"symbols\":[";
    for (int i = 0; i <= GW_STREAM_MAX_SYMBOLS; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s\"S%d\"", i ? "," : "", i);
    strcat(many, "]}");
    refused(many, &trader, TB_INVALID, "symbols");
    char sixty_four[80];
    memset(sixty_four, 'X', 64);
    sixty_four[64] = '\0';
    char text[256];
    snprintf(text, sizeof text, "{\"op\":\"subscribe\",\"topic\":\"quotes\",\"symbols\":[\"%s\"]}",
             sixty_four);
    refused(text, &trader, TB_INVALID, "symbols");
    refused("{\"op\":\"subscribe\",\"topic\":\"quotes\",\"symbols\":[\"DAX\"],\"account\":\"A\"}",
            &trader, TB_INVALID, "account");
    refused("{\"op\":\"subscribe\",\"topic\":\"fills\",\"account\":\"A\",\"symbols\":[\"DAX\"]}",
            &trader, TB_INVALID, "symbols");
    refused("{\"op\":\"subscribe\",\"topic\":\"fills\",\"account\":5}", &trader, TB_WRONG_TYPE,
            "account");
    refused("{\"op\":\"subscribe\",\"topic\":\"fills\",\"id\":\"has space\",\"account\":\"A\"}",
            &trader, TB_INVALID, "id");
    refused("{\"op\":\"subscribe\",\"topic\":\"fills\",\"id\":3,\"account\":\"A\"}", &trader,
            TB_INVALID, "id");
    char big[GW_STREAM_MAX_FRAME + 64];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "{\"op\":\"subscribe\",\"topic\":\"fills\",\"account\":\"A\"}", 48);
    refused(big, &trader, TB_TOO_LARGE, "");
}
END_TEST

START_TEST(accounts_of_the_key) {
    /* Another account: refused, whatever the topic and role. */
    const char *topics[] = {"orders", "fills", "positions", "alerts"};
    for (int i = 0; i < 4; i++) {
        char text[128];
        snprintf(text, sizeof text, "{\"op\":\"subscribe\",\"topic\":\"%s\",\"account\":\"C\"}",
                 topics[i]);
        refused(text, &trader, TB_FORBIDDEN, "account");
        refused(text, &viewer, TB_FORBIDDEN, "account");
        refused(text, &admin_a, TB_FORBIDDEN, "account");
        /* "every account" is only for keys that see every account */
        snprintf(text, sizeof text, "{\"op\":\"subscribe\",\"topic\":\"%s\"}", topics[i]);
        refused(text, &trader, TB_MISSING_FIELD, "account");
        refused(text, &admin_a, TB_MISSING_FIELD, "account");
        snprintf(text, sizeof text, "{\"op\":\"subscribe\",\"topic\":\"%s\",\"account\":\"\"}",
                 topics[i]);
        refused(text, &viewer, TB_MISSING_FIELD, "account");
    }
    /* A prefix of an allowed account is another account. */
    refused("{\"op\":\"subscribe\",\"topic\":\"fills\",\"account\":\"B\"}", &trader, TB_FORBIDDEN,
            "account");
    /* The id is known even when the frame is refused, so the error echoes it. */
    gw_stream_cmd cmd;
    tb_error err = {0};
    ck_assert_int_eq(
        parse("{\"id\":\"x9\",\"op\":\"subscribe\",\"topic\":\"fills\",\"account\":\"C\"}", &trader,
              &cmd, &err),
        TB_FORBIDDEN);
    ck_assert_str_eq(cmd.id, "x9");
}
END_TEST

START_TEST(subjects) {
    char s[GW_STREAM_SUBJECT_CAP];
    ck_assert(gw_stream_subject(GW_TOPIC_QUOTES, "DAX", s, sizeof s));
    ck_assert_str_eq(s, "md.tick.DAX");
    ck_assert(!gw_stream_subject(GW_TOPIC_QUOTES, "", s, sizeof s));
    ck_assert(gw_stream_subject(GW_TOPIC_ORDERS, "A", s, sizeof s));
    ck_assert_str_eq(s, "orders.status.A");
    ck_assert(gw_stream_subject(GW_TOPIC_ORDERS, "", s, sizeof s));
    ck_assert_str_eq(s, "orders.status.*");
    ck_assert(gw_stream_subject(GW_TOPIC_FILLS, "A", s, sizeof s));
    ck_assert_str_eq(s, "fills.A.>");
    ck_assert(gw_stream_subject(GW_TOPIC_FILLS, "", s, sizeof s));
    ck_assert_str_eq(s, "fills.>");
    ck_assert(gw_stream_subject(GW_TOPIC_POSITIONS, "A", s, sizeof s));
    ck_assert_str_eq(s, "pos.update.A.>");
    ck_assert(gw_stream_subject(GW_TOPIC_ALERTS, "A", s, sizeof s));
    ck_assert_str_eq(s, "alerts.>");
    ck_assert_str_eq(gw_stream_filter(GW_TOPIC_ALERTS, "A"), "A");
    ck_assert_str_eq(gw_stream_filter(GW_TOPIC_ALERTS, ""), "");
    ck_assert_str_eq(gw_stream_filter(GW_TOPIC_FILLS, "A"), "");
    char small[8];
    ck_assert(!gw_stream_subject(GW_TOPIC_QUOTES, "LONGSYMBOL", small, sizeof small));
    /* the subjects' events are the catalogue's */
    ck_assert_ptr_eq(gw_topic_get(GW_TOPIC_QUOTES)->event, &tb_tick_desc);
    ck_assert_ptr_eq(gw_topic_get(GW_TOPIC_ORDERS)->event, &tb_order_status_desc);
    ck_assert_ptr_eq(gw_topic_get(GW_TOPIC_FILLS)->event, &tb_fill_desc);
    ck_assert_ptr_eq(gw_topic_get(GW_TOPIC_POSITIONS)->event, &tb_position_update_desc);
    ck_assert_ptr_eq(gw_topic_get(GW_TOPIC_ALERTS)->event, &tb_alert_desc);
    ck_assert_ptr_null(gw_topic_get(GW_TOPIC_COUNT));
    gw_topic t;
    ck_assert(gw_topic_parse("positions", &t) && t == GW_TOPIC_POSITIONS);
    ck_assert(!gw_topic_parse("Positions", &t));
    ck_assert(!gw_topic_parse(NULL, &t));
}
END_TEST

static json_t *load(char *text) {
    ck_assert_ptr_nonnull(text);
    json_t *j = json_loads(text, 0, NULL);
    ck_assert_msg(j != NULL, "not JSON: %s", text);
    free(text);
    return j;
}

START_TEST(reply_frames) {
    gw_stream_cmd cmd;
    tb_error err = {0};
    ck_assert_int_eq(
        parse("{\"op\":\"subscribe\",\"topic\":\"quotes\",\"symbols\":[\"DAX\",\"SMI\"],"
              "\"id\":\"7\"}",
              &trader, &cmd, &err),
        TB_OK);
    json_t *j = load(gw_stream_reply(&cmd, "subscribed"));
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "subscribed");
    ck_assert_str_eq(json_string_value(json_object_get(j, "topic")), "quotes");
    ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "7");
    ck_assert_uint_eq(json_array_size(json_object_get(j, "symbols")), 2);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "symbols"), 1)), "SMI");
    ck_assert_ptr_null(json_object_get(j, "account"));
    json_decref(j);
    ck_assert_int_eq(parse("{\"op\":\"unsubscribe\",\"topic\":\"alerts\"}", &admin, &cmd, &err),
                     TB_OK);
    j = load(gw_stream_reply(&cmd, "unsubscribed"));
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "unsubscribed");
    ck_assert(json_is_null(json_object_get(j, "account"))); /* every account */
    ck_assert_ptr_null(json_object_get(j, "id"));
    json_decref(j);

    tb_error e = {0};
    tb_error_set(&e, TB_FORBIDDEN, "account", "account C is not one of this key's accounts");
    j = load(gw_stream_error("x1", &e));
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "error");
    json_t *eo = json_object_get(j, "error");
    ck_assert_str_eq(json_string_value(json_object_get(eo, "code")), "forbidden");
    ck_assert_str_eq(json_string_value(json_object_get(eo, "field")), "account");
    ck_assert_str_eq(json_string_value(json_object_get(eo, "message")),
                     "account C is not one of this key's accounts");
    ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "x1");
    json_decref(j);
    /* A message quoting bytes that are not UTF-8 still makes a frame. */
    tb_error_set(&e, TB_DECODE, NULL, "bad \xff\xfe input");
    j = load(gw_stream_error(NULL, &e));
    eo = json_object_get(j, "error");
    ck_assert_str_eq(json_string_value(json_object_get(eo, "code")), "malformed");
    ck_assert(json_is_null(json_object_get(eo, "field")));
    ck_assert_ptr_null(json_object_get(j, "id"));
    json_decref(j);
}
END_TEST

static void encode(const tb_event_desc *d, const void *ev, msgpack_sbuffer *sb) {
    msgpack_sbuffer_init(sb);
    tb_error err = {0};
    ck_assert_msg(tb_encode(d, ev, sb, &err) == TB_OK, "%s", err.message);
}

START_TEST(event_frames) {
    tb_fill f = {.qty = 150000000, .price = 1812345678901, .fee = 1, .ts = 1700000000123456789};
    strcpy(f.fill_id, "f-1");
    strcpy(f.order_id, "o-1");
    strcpy(f.account, "A");
    strcpy(f.symbol, "DAX");
    strcpy(f.side, "buy");
    msgpack_sbuffer sb;
    encode(&tb_fill_desc, &f, &sb);
    char *text = NULL, account[TB_TOKEN_CAP];
    size_t len = 0;
    tb_error err = {0};
    ck_assert_int_eq(gw_stream_event(GW_TOPIC_FILLS, "fills.A.DAX", "fill", "trace-1", sb.data,
                                     sb.size, &text, &len, account, &err),
                     TB_OK);
    ck_assert_uint_eq(len, strlen(text));
    ck_assert_str_eq(account, "A");
    json_t *j = load(text);
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "event");
    ck_assert_str_eq(json_string_value(json_object_get(j, "topic")), "fills");
    ck_assert_str_eq(json_string_value(json_object_get(j, "subject")), "fills.A.DAX");
    ck_assert_str_eq(json_string_value(json_object_get(j, "schema")), "fill");
    ck_assert_str_eq(json_string_value(json_object_get(j, "trace_id")), "trace-1");
    json_t *data = json_object_get(j, "data");
    ck_assert_str_eq(json_string_value(json_object_get(data, "qty")), "1.5");
    ck_assert_str_eq(json_string_value(json_object_get(data, "price")), "18123.45678901");
    ck_assert_str_eq(json_string_value(json_object_get(data, "fee")), "0.00000001");
    ck_assert_str_eq(json_string_value(json_object_get(data, "ts")),
                     "2023-11-14T22:13:20.123456789Z");
    ck_assert_str_eq(json_string_value(json_object_get(data, "order_id")), "o-1");
    json_decref(j);
    /* No schema header: the topic's type; a bad trace id is left out. */
    ck_assert_int_eq(gw_stream_event(GW_TOPIC_FILLS, "fills.A.DAX", NULL, "bad trace", sb.data,
                                     sb.size, &text, &len, NULL, &err),
                     TB_OK);
    j = load(text);
    ck_assert_ptr_null(json_object_get(j, "trace_id"));
    json_decref(j);
    /* Another schema, or bytes that are not the topic's event: refused. */
    ck_assert_int_eq(gw_stream_event(GW_TOPIC_FILLS, "fills.A.DAX", "tick", NULL, sb.data, sb.size,
                                     &text, &len, account, &err),
                     TB_INVALID);
    ck_assert_int_ne(gw_stream_event(GW_TOPIC_QUOTES, "md.tick.DAX", NULL, NULL, sb.data, sb.size,
                                     &text, &len, account, &err),
                     TB_OK);
    ck_assert_int_ne(gw_stream_event(GW_TOPIC_FILLS, "fills.A.DAX", NULL, NULL, "\xc1garbage", 8,
                                     &text, &len, account, &err),
                     TB_OK);
    /* A subject token that is not UTF-8 (a wildcard delivers any). */
    ck_assert_int_eq(gw_stream_event(GW_TOPIC_FILLS, "fills.A.\xff", NULL, NULL, sb.data, sb.size,
                                     &text, &len, account, &err),
                     TB_INVALID);
    msgpack_sbuffer_destroy(&sb);

    /* Alerts: the account comes out for filtering, "" when there is none. */
    tb_alert al = {.ts = 1};
    strcpy(al.alert_id, "al-1");
    strcpy(al.severity, "warning");
    strcpy(al.kind, "drawdown");
    strcpy(al.message, "drawdown 3%");
    encode(&tb_alert_desc, &al, &sb);
    ck_assert_int_eq(gw_stream_event(GW_TOPIC_ALERTS, "alerts.warning.drawdown", "alert", NULL,
                                     sb.data, sb.size, &text, &len, account, &err),
                     TB_OK);
    ck_assert_str_eq(account, "");
    free(text);
    msgpack_sbuffer_destroy(&sb);
    strcpy(al.account, "B-2");
    encode(&tb_alert_desc, &al, &sb);
    ck_assert_int_eq(gw_stream_event(GW_TOPIC_ALERTS, "alerts.warning.drawdown", "alert", NULL,
                                     sb.data, sb.size, &text, &len, account, &err),
                     TB_OK);
    ck_assert_str_eq(account, "B-2");
    free(text);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(close_payload) {
    char p[125];
    size_t n = gw_stream_close_payload(1008, "slow consumer: queue full", p);
    ck_assert_uint_eq(n, 2 + strlen("slow consumer: queue full"));
    ck_assert_int_eq((unsigned char)p[0], 0x03);
    ck_assert_int_eq((unsigned char)p[1], 0xf0);
    ck_assert(memcmp(p + 2, "slow consumer: queue full", n - 2) == 0);
    char longer[300];
    memset(longer, 'r', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    ck_assert_uint_eq(gw_stream_close_payload(1000, longer, p), 125);
    ck_assert_uint_eq(gw_stream_close_payload(1011, NULL, p), 2);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gw_stream");
    TCase *tc = tcase_create("protocol");
    tcase_add_test(tc, valid_commands);
    tcase_add_test(tc, invalid_commands);
    tcase_add_test(tc, accounts_of_the_key);
    tcase_add_test(tc, subjects);
    tcase_add_test(tc, reply_frames);
    tcase_add_test(tc, event_frames);
    tcase_add_test(tc, close_payload);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
