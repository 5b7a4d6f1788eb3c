/* The /v1/stream protocol: topics, client frame validation and the JSON
 * text of the frames the gateway sends (see stream_proto.h). No I/O. */
#include "stream_proto.h"

#include <stdlib.h>
#include <string.h>

#include "request.h"

/* Subjects per DESIGN §1: market-data publishes md.tick.<SYM>,
 * trading-execution orders.status.<acct> and fills.<acct>.<SYM>,
 * position-management pos.update.<acct>.<SYM>, notifications
 * alerts.<severity>.<kind> (the account is in the body, so alert
 * subscriptions share alerts.> and filter). */
static const gw_topic_info topics[GW_TOPIC_COUNT] = {
    [GW_TOPIC_QUOTES] = {"quotes", &tb_tick_desc, true, "md.tick.%s", NULL, false},
    [GW_TOPIC_ORDERS] = {"orders", &tb_order_status_desc, false, "orders.status.%s",
                         "orders.status.*", false},
    [GW_TOPIC_FILLS] = {"fills", &tb_fill_desc, false, "fills.%s.>", "fills.>", false},
    [GW_TOPIC_POSITIONS] = {"positions", &tb_position_update_desc, false, "pos.update.%s.>",
                            "pos.update.>", false},
    [GW_TOPIC_ALERTS] = {"alerts", &tb_alert_desc, false, "alerts.>", "alerts.>", true},
};

const char gw_stream_protocol_text[] =
    "Protocol: JSON text frames. The client sends one command per frame (at most 4096 bytes): "
    "{\"op\":\"subscribe\",\"topic\":\"quotes\",\"symbols\":[\"DAX\"]} or "
    "{\"op\":\"subscribe\",\"topic\":\"orders|fills|positions|alerts\",\"account\":\"A\"}, "
    "and {\"op\":\"unsubscribe\",...} with the same fields; an optional \"id\" is echoed. "
    "The account must be one of the key's accounts (an admin key without accounts may leave it "
    "out for every account). The gateway answers {\"type\":\"subscribed\"|\"unsubscribed\",...} "
    "or {\"type\":\"error\",\"error\":{\"code\",\"message\",\"field\"}} and pushes "
    "{\"type\":\"event\",\"topic\",\"subject\",\"schema\",\"trace_id\",\"data\"} where data is "
    "the catalogue event as JSON (tick, order_status, fill, position_update, alert; decimals as "
    "strings). Topics read the bus subjects md.tick.<symbol>, orders.status.<account>, "
    "fills.<account>.>, pos.update.<account>.> and alerts.> (by the alert's account). Events "
    "are at most once: a client that reconnects reads what it missed over REST. A client that "
    "falls GATEWAY_STREAM_QUEUE frames behind is closed with 1008 \"slow consumer: queue full\"; "
    "ten refused frames close it with 1008 \"too many invalid messages\". At most "
    "GATEWAY_STREAM_MAX_PER_KEY connections per key (429 before the upgrade) and "
    "GATEWAY_STREAM_MAX_SUBS subscriptions per connection.";

const gw_topic_info *gw_topic_get(gw_topic t) {
    return (unsigned)t < GW_TOPIC_COUNT ? &topics[t] : NULL;
}

bool gw_topic_parse(const char *name, gw_topic *out) {
    for (int t = 0; name && t < GW_TOPIC_COUNT; t++) {
        if (strcmp(name, topics[t].name) == 0) {
            *out = (gw_topic)t;
            return true;
        }
    }
    return false;
}

/* The catalogue's TOKEN alphabet: also what keeps a value one subject token
 * (no '.', '*', '>' or spaces can reach a subject). */
static bool token_ok(const char *s) {
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok) return false;
    }
    return n >= 1 && n < TB_TOKEN_CAP;
}

static tb_status parse_symbols(json_t *arr, gw_stream_cmd *out, tb_error *err) {
    if (arr == NULL)
        return tb_error_set(err, TB_MISSING_FIELD, "symbols",
                            "symbols: required for quotes (an array of symbols)");
    if (!json_is_array(arr))
        return tb_error_set(err, TB_WRONG_TYPE, "symbols", "symbols: expected an array of symbols");
    size_t n = json_array_size(arr);
    if (n == 0 || n > GW_STREAM_MAX_SYMBOLS)
        return tb_error_set(err, TB_INVALID, "symbols", "symbols: expected 1 to %d symbols",
                            GW_STREAM_MAX_SYMBOLS);
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (s == NULL || !token_ok(s))
            return tb_error_set(err, TB_INVALID, "symbols",
                                "symbols[%zu]: expected 1..63 of [A-Za-z0-9_-]", i);
        bool seen = false;
        for (size_t k = 0; k < out->nsymbols && !seen; k++) seen = !strcmp(out->symbols[k], s);
        if (!seen) snprintf(out->symbols[out->nsymbols++], TB_TOKEN_CAP, "%s", s);
    }
    return TB_OK;
}

static tb_status parse_account(json_t *v, const gw_caller *caller, gw_stream_cmd *out,
                               tb_error *err) {
    if (v != NULL && !json_is_string(v))
        return tb_error_set(err, TB_WRONG_TYPE, "account", "account: expected a string");
    const char *a = v ? json_string_value(v) : "";
    if (a[0] == '\0') {
        /* Every account: only for the keys that see every account. */
        if (gw_caller_scoped(caller))
            return tb_error_set(err, TB_MISSING_FIELD, "account",
                                "account: required (one of this key's accounts)");
        out->account[0] = '\0';
        return TB_OK;
    }
    if (!token_ok(a))
        return tb_error_set(err, TB_INVALID, "account", "account: expected 1..63 of [A-Za-z0-9_-]");
    if (gw_caller_scoped(caller) && !gw_accounts_contains(caller->accounts, a))
        return tb_error_set(err, TB_FORBIDDEN, "account",
                            "account %s is not one of this key's accounts", a);
    snprintf(out->account, sizeof out->account, "%s", a);
    return TB_OK;
}

static tb_status parse_object(json_t *j, const gw_caller *caller, gw_stream_cmd *out,
                              tb_error *err) {
    json_t *id = json_object_get(j, "id");
    if (id != NULL) {
        const char *s = json_string_value(id);
        if (s == NULL || !gw_request_id_valid(s))
            return tb_error_set(err, TB_INVALID, "id",
                                "id: expected 1..63 printable ASCII characters without spaces");
        snprintf(out->id, sizeof out->id, "%s", s);
    }
    const char *op = json_string_value(json_object_get(j, "op"));
    if (op == NULL)
        return tb_error_set(err, TB_MISSING_FIELD, "op", "op: required (subscribe or unsubscribe)");
    if (strcmp(op, "subscribe") == 0)
        out->op = GW_OP_SUBSCRIBE;
    else if (strcmp(op, "unsubscribe") == 0)
        out->op = GW_OP_UNSUBSCRIBE;
    else
        return tb_error_set(err, TB_INVALID, "op", "op: expected subscribe or unsubscribe");
    json_t *tv = json_object_get(j, "topic");
    if (tv == NULL)
        return tb_error_set(err, TB_MISSING_FIELD, "topic",
                            "topic: required (quotes, orders, fills, positions or alerts)");
    if (!gw_topic_parse(json_string_value(tv), &out->topic))
        return tb_error_set(err, TB_INVALID, "topic",
                            "topic: expected quotes, orders, fills, positions or alerts");
    json_t *symbols = json_object_get(j, "symbols"), *account = json_object_get(j, "account");
    if (topics[out->topic].by_symbol) {
        if (account != NULL)
            return tb_error_set(err, TB_INVALID, "account", "account: quotes take symbols only");
        return parse_symbols(symbols, out, err);
    }
    if (symbols != NULL)
        return tb_error_set(err, TB_INVALID, "symbols", "symbols: %s takes an account",
                            topics[out->topic].name);
    return parse_account(account, caller, out, err);
}

tb_status gw_stream_parse(const char *text, size_t len, const gw_caller *caller, gw_stream_cmd *out,
                          tb_error *err) {
    memset(out, 0, sizeof *out);
    if (len > GW_STREAM_MAX_FRAME)
        return tb_error_set(err, TB_TOO_LARGE, NULL, "frame of %zu bytes is over the limit of %d",
                            len, GW_STREAM_MAX_FRAME);
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL)
        return tb_error_set(err, TB_DECODE, NULL,
                            "malformed JSON at line %d, column %d (byte %d): %s", je.line,
                            je.column, je.position, je.text);
    tb_status s = json_is_object(j) ? parse_object(j, caller, out, err)
                                    : tb_error_set(err, TB_DECODE, NULL, "expected a JSON object");
    json_decref(j);
    return s;
}

bool gw_stream_subject(gw_topic topic, const char *key, char *out, size_t cap) {
    const gw_topic_info *t = gw_topic_get(topic);
    if (t == NULL) return false;
    int n;
    if (key[0] == '\0') {
        if (t->subject_all == NULL) return false;
        n = snprintf(out, cap, "%s", t->subject_all);
    } else {
        n = snprintf(out, cap, t->subject, key);
    }
    return n > 0 && (size_t)n < cap;
}

const char *gw_stream_filter(gw_topic topic, const char *key) {
    const gw_topic_info *t = gw_topic_get(topic);
    return t && t->filter_account ? key : "";
}

static char *dump(json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

char *gw_stream_reply(const gw_stream_cmd *cmd, const char *type) {
    json_t *j = json_pack("{s:s, s:s}", "type", type, "topic", topics[cmd->topic].name);
    if (j == NULL) return NULL;
    if (topics[cmd->topic].by_symbol) {
        json_t *arr = json_array();
        for (size_t i = 0; i < cmd->nsymbols; i++)
            json_array_append_new(arr, json_string(cmd->symbols[i]));
        json_object_set_new(j, "symbols", arr);
    } else {
        /* null: every account */
        json_object_set_new(j, "account",
                            cmd->account[0] ? json_string(cmd->account) : json_null());
    }
    if (cmd->id[0]) json_object_set_new(j, "id", json_string(cmd->id));
    return dump(j);
}

/* A JSON string of s, or of fallback when s is not UTF-8 (messages may
 * quote hostile input). */
static json_t *text_or(const char *s, const char *fallback) {
    json_t *v = json_string(s);
    return v ? v : json_string(fallback);
}

char *gw_stream_error(const char *id, const tb_error *err) {
    tb_status s = err->status == TB_OK ? TB_ERR : err->status;
    json_t *e = json_object(), *j = json_object();
    if (e == NULL || j == NULL) {
        json_decref(e);
        json_decref(j);
        return NULL;
    }
    json_object_set_new(e, "code", json_string(tb_status_code(s)));
    json_object_set_new(
        e, "message", text_or(err->message[0] ? err->message : tb_status_text(s), "invalid frame"));
    json_object_set_new(e, "field", err->field[0] ? text_or(err->field, "") : json_null());
    json_object_set_new(j, "type", json_string("error"));
    json_object_set_new(j, "error", e);
    if (id && id[0]) json_object_set_new(j, "id", text_or(id, ""));
    return dump(j);
}

tb_status gw_stream_event(gw_topic topic, const char *subject, const char *schema,
                          const char *trace_id, const void *data, size_t len, char **out,
                          size_t *out_len, char account[TB_TOKEN_CAP], tb_error *err) {
    const tb_event_desc *d = topics[topic].event;
    if (schema && schema[0] && strcmp(schema, d->name) != 0)
        return tb_error_set(err, TB_INVALID, "schema", "%s carries %s, expected %s", subject,
                            schema, d->name);
    void *ev = calloc(1, d->struct_size);
    if (ev == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    tb_status s = tb_decode(d, data, len, ev, err);
    json_t *body = NULL;
    if (s == TB_OK && tb_to_json(d, ev, &body) != TB_OK)
        s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    if (s == TB_OK && account) {
        const tb_field_desc *f = tb_field_find(d, "account", 7);
        snprintf(account, TB_TOKEN_CAP, "%s", f ? (const char *)ev + f->offset : "");
    }
    free(ev);
    if (s != TB_OK) return s;
    /* A wildcard subscription may deliver subject tokens that are not UTF-8. */
    json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "type", "event", "topic", topics[topic].name,
                          "subject", subject, "schema", d->name);
    if (j == NULL) {
        json_decref(body);
        return tb_error_set(err, TB_INVALID, "subject", "subject is not UTF-8");
    }
    /* The trace id is a header of the bus message: only a valid one is shown. */
    if (trace_id && gw_request_id_valid(trace_id))
        json_object_set_new(j, "trace_id", json_string(trace_id));
    json_object_set_new(j, "data", body);
    char *text = dump(j);
    if (text == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    *out = text;
    *out_len = strlen(text);
    return TB_OK;
}

size_t gw_stream_close_payload(uint16_t code, const char *reason, char out[125]) {
    out[0] = (char)(code >> 8);
    out[1] = (char)(code & 0xff);
    size_t n = reason ? strlen(reason) : 0;
    if (n > 123) n = 123;
    if (n) memcpy(out + 2, reason, n);
    return n + 2;
}
