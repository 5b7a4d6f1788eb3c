/* The NATS connection of a process: connect with reconnect/backoff, publish
 * catalogue events with the standard headers, request-reply with typed errors,
 * JetStream publishing with Nats-Msg-Id, and stream setup.
 *
 * Only bus/ includes nats.c; actors see bus_conn and catalogue structs. */
#ifndef BUS_CONN_H
#define BUS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"
#include "config.h"

typedef struct bus_conn bus_conn;

typedef struct bus_conn_opts {
    const char *name;   /* connection name shown by the server */
    bool send_asap;     /* request-reply and order paths: no 1 ms flusher wait */
    bool retry_connect; /* keep trying at start instead of failing */
} bus_conn_opts;

/* Connects to cfg->nats_url. Fails with TB_UNAVAILABLE and a message naming
 * the (redacted) URL when the server cannot be reached; afterwards reconnects
 * forever with backoff and jitter. Caller frees with bus_conn_close. */
tb_status bus_conn_open(const bus_config *cfg, const bus_conn_opts *opts, bus_conn **out,
                        tb_error *err) TB_WARN_UNUSED;
/* Flushes and closes; NULL-safe. */
void bus_conn_close(bus_conn *c);
/* Reconnections since open (health, metrics). */
uint64_t bus_conn_reconnects(const bus_conn *c);
bool bus_conn_connected(bus_conn *c);
/* Round trip to the server in nanoseconds (health); -1 when not connected. */
int64_t bus_conn_rtt_ns(bus_conn *c);
tb_status bus_conn_flush(bus_conn *c, int64_t timeout_ms) TB_WARN_UNUSED;

/* Headers a message carries besides Content-Type and schema. */
typedef struct bus_msg_meta {
    const char *trace_id; /* may be NULL */
    const char *msg_id;   /* Nats-Msg-Id for JetStream dedupe, may be NULL */
} bus_msg_meta;

/* Encodes ev with desc and publishes it on subject (core NATS, at most once). */
tb_status bus_publish(bus_conn *c, const char *subject, const tb_event_desc *desc, const void *ev,
                      const bus_msg_meta *meta) TB_WARN_UNUSED;

/* Publishes to JetStream and waits for the stream's ack. *duplicate (may be
 * NULL) is set when the stream had already stored a message with this msg_id. */
tb_status bus_js_publish(bus_conn *c, const char *subject, const tb_event_desc *desc,
                         const void *ev, const bus_msg_meta *meta, bool *duplicate,
                         tb_error *err) TB_WARN_UNUSED;
/* One message of bus_js_publish_many (inputs borrowed; status is the result). */
typedef struct bus_js_msg {
    const char *subject;
    const void *data;
    size_t len;
    const char *schema; /* may be NULL */
    bus_msg_meta meta;
    tb_status status; /* TB_OK once the stream acknowledged it (a duplicate too) */
    char error[128];  /* why not, when status != TB_OK */
} bus_js_msg;

/* Publishes msgs[0..n) to JetStream without waiting for each
 * acknowledgement: every message is sent at once with its own reply subject
 * under a private inbox, then the acknowledgements are collected until
 * timeout_ms. One round trip for the batch instead of one per message.
 * Each message's status says whether the stream stored it; a message whose
 * acknowledgement did not arrive in time is TB_TIMEOUT (it may still be
 * stored: publish it again, the stream dedupes on Nats-Msg-Id). Returns
 * TB_OK when every message was acknowledged, else the first failure. */
tb_status bus_js_publish_many(bus_conn *c, bus_js_msg *msgs, size_t n, int64_t timeout_ms,
                              tb_error *err) TB_WARN_UNUSED;

/* Same for bytes already encoded (outbox relays). schema may be NULL. */
tb_status bus_js_publish_bytes(bus_conn *c, const char *subject, const void *data, size_t len,
                               const char *schema, const bus_msg_meta *meta, bool *duplicate,
                               tb_error *err) TB_WARN_UNUSED;

/* Sends req (desc may be NULL with req pointing at raw bytes of req_len) and
 * decodes the reply into reply (reply_desc may be NULL to ignore the body).
 * Error replies become their status with err filled from the reply;
 * TB_TIMEOUT when nobody answered in time, TB_NO_RESPONDERS when nobody
 * listens. timeout_ms <= 0 uses the configured default. */
tb_status bus_request(bus_conn *c, const char *subject, const tb_event_desc *req_desc,
                      const void *req, const tb_event_desc *reply_desc, void *reply,
                      int64_t timeout_ms, const char *trace_id, tb_error *err) TB_WARN_UNUSED;

/* A reply's raw body, for callers that convert it themselves (gateway, tools). */
typedef struct bus_bytes {
    char *data; /* malloc'd, NUL-terminated for convenience; caller frees */
    size_t len;
    char content_type[64];
    char schema[64];
} bus_bytes;

tb_status bus_request_bytes(bus_conn *c, const char *subject, const void *data, size_t len,
                            const char *schema, int64_t timeout_ms, const char *trace_id,
                            bus_bytes *reply, tb_error *err) TB_WARN_UNUSED;
void bus_bytes_free(bus_bytes *b);

/* Scatter-gather: publishes data once to each of subjects[0..nsubjects), all
 * with one shared reply inbox, and collects the replies that arrive within
 * timeout_ms. It returns early once max_replies replies (or no-responders
 * notices) arrived; max_replies 0 waits the whole timeout, as discovery with
 * $SRV.PING does. No-responders notices and error replies are not returned.
 * Replies come in arrival order and carry no indication of their subject:
 * bodies identify their sender ($SRV, svc.*.health and metrics all do).
 * *replies_out (NULL when none) is a malloc'd array of *n_out replies; caller
 * frees with bus_bytes_free_many. Fails only when nothing could be sent. */
tb_status bus_request_many(bus_conn *c, const char *const *subjects, size_t nsubjects,
                           const void *data, size_t len, const char *trace_id, int64_t timeout_ms,
                           size_t max_replies, bus_bytes **replies_out, size_t *n_out,
                           tb_error *err) TB_WARN_UNUSED;
void bus_bytes_free_many(bus_bytes *b, size_t n);

/* Creates the ORDERS, FILLS and DLQ streams when missing (file storage,
 * 2-minute duplicate window). Idempotent and safe to race. */
tb_status bus_js_ensure_streams(bus_conn *c, tb_error *err) TB_WARN_UNUSED;

/* Raw access for the rest of bus/ (not for actors). */
struct __natsConnection;
struct __jsCtx;
struct __natsConnection *bus_conn_nats(bus_conn *c);
struct __jsCtx *bus_conn_js(bus_conn *c);
const bus_config *bus_conn_config(const bus_conn *c);

/* Maps a nats.c status to ours (internal to bus/). */
tb_status bus_status_from_nats(int nats_status);

/* natsMsg_Destroy without nats.c's garbage-collector thread: the message is
 * freed on the calling thread (see conn.c). NULL-safe. For bus/. */
struct __natsMsg;
void bus_msg_destroy(struct __natsMsg *m);

/* ---- Plain subscriptions, for tools (tb-tap) and the gateway's stream ----
 * Actors do not use these: their subscriptions belong to the actor runtime
 * (queue groups, draining, metrics). Implemented in bus/subscribe.c. */

/* A received message, borrowed for the duration of a callback. */
typedef struct bus_msg bus_msg;
const char *bus_msg_subject(const bus_msg *m);
const void *bus_msg_data(const bus_msg *m);
size_t bus_msg_len(const bus_msg *m);
/* A header's value (first one), NULL when absent. */
const char *bus_msg_header(const bus_msg *m, const char *key);

/* Called for every message; runs on the connection's delivery thread, one
 * message at a time per subscription. m is borrowed for the call only. */
typedef void (*bus_msg_cb)(const bus_msg *m, void *arg);

typedef struct bus_sub bus_sub;
/* Core subscription (no queue group: every subscriber gets every message) to
 * subject, which may hold wildcards. Caller frees with bus_unsubscribe. */
tb_status bus_subscribe(bus_conn *c, const char *subject, bus_msg_cb cb, void *arg, bus_sub **out,
                        tb_error *err) TB_WARN_UNUSED;
/* Drains (waits up to 5 s for messages already received to be handled) and
 * frees; cb is not called after it returns. NULL-safe. */
void bus_unsubscribe(bus_sub *s);
/* Messages the subscription has dropped so far because its callbacks fell
 * behind (nats.c's pending limits): what it delivered is then incomplete. */
uint64_t bus_sub_dropped(bus_sub *s);

/* Releases the NATS library's global state (threads, pools) at process exit,
 * waiting up to timeout_ms; call after the last bus_conn_close. For tools
 * and tests: bus_actor_main does this itself. */
void bus_library_close(int64_t timeout_ms);

#endif
