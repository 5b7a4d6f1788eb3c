/* The /v1/stream protocol (WebSocket, JSON text frames): topics and the
 * bus subjects they map to, parsing and validating what a client sends,
 * and the text of every frame the gateway sends. Pure functions on strings,
 * jansson values and catalogue structs; no I/O, unit-tested directly
 * (tests/unit/test_gw_stream.c). The connections themselves are stream.c.
 *
 * Client -> gateway (one JSON object per text frame, at most
 * GW_STREAM_MAX_FRAME bytes; "id" is optional and echoed in the reply):
 *   {"op":"subscribe","topic":"quotes","symbols":["DAX","ESTX"],"id":"1"}
 *   {"op":"subscribe","topic":"orders"|"fills"|"positions"|"alerts","account":"A"}
 *   {"op":"unsubscribe", ...the same fields...}
 * Gateway -> client:
 *   {"type":"subscribed"|"unsubscribed","topic":...,"symbols"|"account":...,"id":...}
 *   {"type":"error","error":{"code","message","field"},"id":...}
 *   {"type":"event","topic":...,"subject":...,"schema":...,"trace_id":...,"data":{...}} */
#ifndef GW_STREAM_PROTO_H
#define GW_STREAM_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"
#include "routes.h"

/* Largest client frame accepted. */
#define GW_STREAM_MAX_FRAME 4096
/* Most symbols one subscribe frame may name. */
#define GW_STREAM_MAX_SYMBOLS 64
/* Longest bus subject a subscription uses (md.tick.<63-byte symbol>). */
#define GW_STREAM_SUBJECT_CAP 96

/* WebSocket close codes the gateway sends (RFC 6455 §7.4.1). */
#define GW_WS_CLOSE_NORMAL   1000
#define GW_WS_CLOSE_GOING    1001
#define GW_WS_CLOSE_POLICY   1008
#define GW_WS_CLOSE_INTERNAL 1011

typedef enum {
    GW_TOPIC_QUOTES,
    GW_TOPIC_ORDERS,
    GW_TOPIC_FILLS,
    GW_TOPIC_POSITIONS,
    GW_TOPIC_ALERTS,
    GW_TOPIC_COUNT
} gw_topic;

typedef struct gw_topic_info {
    const char *name;           /* "quotes" */
    const tb_event_desc *event; /* what the topic's subjects carry */
    bool by_symbol;             /* keyed by symbols (quotes), else by account */
    const char *subject;        /* printf pattern with one %s (symbol or account) */
    const char *subject_all;    /* every account (keys without accounts only) */
    bool filter_account;        /* one subject for every account: filtered by the event's account */
} gw_topic_info;

/* The protocol for people (OpenAPI description and /docs): plain text. */
extern const char gw_stream_protocol_text[];

/* Borrowed, static; NULL for an unknown value. */
const gw_topic_info *gw_topic_get(gw_topic t);
/* "quotes" -> GW_TOPIC_QUOTES; false when unknown. */
bool gw_topic_parse(const char *name, gw_topic *out);

typedef enum { GW_OP_SUBSCRIBE, GW_OP_UNSUBSCRIBE } gw_stream_op;

typedef struct gw_stream_cmd {
    gw_stream_op op;
    gw_topic topic;
    char id[TB_ID_CAP];         /* echoed in the reply; "" when absent */
    char account[TB_TOKEN_CAP]; /* account topics; "" = every account (unscoped keys only) */
    size_t nsymbols;            /* quotes: 1..GW_STREAM_MAX_SYMBOLS, without repeats */
    char symbols[GW_STREAM_MAX_SYMBOLS][TB_TOKEN_CAP];
} gw_stream_cmd;

/* Parses and validates one client frame of len bytes for caller:
 * TB_TOO_LARGE over GW_STREAM_MAX_FRAME; TB_DECODE for malformed JSON (the
 * message gives line, column and byte), a non-object or duplicate keys;
 * TB_INVALID / TB_MISSING_FIELD / TB_WRONG_TYPE for a bad op, topic, symbol
 * or account (field names it); TB_FORBIDDEN for an account outside the
 * key's accounts. Unknown keys are ignored, as everywhere. out->id is set
 * as soon as the frame's id is readable, also when the frame is refused, so
 * the error can echo it. */
tb_status gw_stream_parse(const char *text, size_t len, const gw_caller *caller, gw_stream_cmd *out,
                          tb_error *err) TB_WARN_UNUSED;

/* The bus subject for one key of a topic (a symbol for quotes, an account
 * or "" for every account otherwise) into out; false when it does not fit
 * or the topic has no all-accounts subject. */
bool gw_stream_subject(gw_topic topic, const char *key, char *out, size_t cap);
/* The event-side filter of a subscription: the account for topics that
 * share one subject between accounts (alerts), "" (none) otherwise. */
const char *gw_stream_filter(gw_topic topic, const char *key);

/* Reply frames as malloc'd NUL-terminated JSON text (caller frees), NULL on
 * out-of-memory. type is "subscribed" or "unsubscribed". */
char *gw_stream_reply(const gw_stream_cmd *cmd, const char *type);
/* {"type":"error","error":{"code","message","field"},"id"}; id may be NULL
 * or "". */
char *gw_stream_error(const char *id, const tb_error *err);

/* An event frame for bus message data[0..len) received on subject for
 * topic. schema is the message's Tb-Schema header (NULL: assume the
 * topic's type); a different schema is TB_INVALID, an undecodable body its
 * decode status. *out is malloc'd JSON text (caller frees) of *out_len
 * bytes; account (may be NULL) receives the event's account ("" when it has
 * none), which alert subscriptions filter on. */
tb_status gw_stream_event(gw_topic topic, const char *subject, const char *schema,
                          const char *trace_id, const void *data, size_t len, char **out,
                          size_t *out_len, char account[TB_TOKEN_CAP],
                          tb_error *err) TB_WARN_UNUSED;

/* Payload of a close frame: the code (network order) and reason, cut to
 * the 125 bytes a control frame may carry. Returns the payload length. */
size_t gw_stream_close_payload(uint16_t code, const char *reason, char out[125]);

#endif
