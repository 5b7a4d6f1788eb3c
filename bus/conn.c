/* NATS connection, publishing and request-reply.
 *
 * Errors from nats.c are mapped to tb_status at this boundary; callers never
 * see natsStatus. Every message carries Content-Type, schema and trace id
 * headers so a tap can decode it without knowing the subject. */
#include "conn.h"

#include <jansson.h>
#include <nats/nats.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsacks.h"
#include "log.h"
#include "wire.h"

struct bus_conn {
    natsConnection *nc;
    jsCtx *js;
    bus_js_acks *acks; /* bus_js_publish_many's acknowledgements */
    natsOptions *opts;
    const bus_config *cfg;
    char name[128];
    _Atomic uint64_t reconnects;
    _Atomic bool closing; /* a disconnect during close is not news */
    _Atomic bool closed;  /* the closed callback ran: no callback uses us any more */
};

/* nats.c's natsMsg_Destroy gives every message to its garbage-collector
 * thread and wakes that thread whenever it is idle. On a busy machine the
 * woken collector preempts the destroying thread, frees one message and
 * sleeps again: two context switches per message. In the chain benchmark
 * that was about 1,500 a second in historical-data's handler thread alone,
 * and one per published tick in market-data. A natsMsg begins with nats.c's
 * natsGCItem {next, freeCb} (src/gc.h and src/msg.h, the same from 1.x to
 * 3.9); with freeCb cleared, natsMsg_Destroy frees the message at once on
 * the calling thread, with the function the collector would have called.
 * Other major versions keep the collector. */
typedef struct nats_gc_item {
    void *next;
    void (*free_cb)(void *);
} nats_gc_item;

static bool gc_item_layout_known(void) {
    static _Atomic int known = -1;
    int k = atomic_load_explicit(&known, memory_order_relaxed);
    if (k < 0) {
        uint32_t v = nats_GetVersionNumber();
        k = v >= 0x010000 && v < 0x040000;
        atomic_store_explicit(&known, k, memory_order_relaxed);
    }
    return k;
}

void bus_msg_destroy(natsMsg *m) {
    if (m == NULL) return;
    if (gc_item_layout_known()) ((nats_gc_item *)(void *)m)->free_cb = NULL;
    natsMsg_Destroy(m);
}

tb_status bus_status_from_nats(int s) {
    switch ((natsStatus)s) {
    case NATS_OK:
        return TB_OK;
    case NATS_TIMEOUT:
        return TB_TIMEOUT;
    case NATS_NO_RESPONDERS:
        return TB_NO_RESPONDERS;
    case NATS_NO_MEMORY:
        return TB_NOMEM;
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
        return TB_INVALID;
    case NATS_MAX_PAYLOAD:
        return TB_TOO_LARGE;
    case NATS_NOT_FOUND:
        return TB_NOT_FOUND;
    /* The socket failed under a request (the server restarted or was
     * killed): the connection reconnects, so this is an outage, not a bug. */
    case NATS_IO_ERROR:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_SERVER:
    case NATS_STALE_CONNECTION:
    case NATS_CONNECTION_AUTH_FAILED:
    case NATS_NOT_PERMITTED:
    case NATS_DRAINING:
        return TB_UNAVAILABLE;
    default:
        return TB_ERR;
    }
}

/* Exponential backoff 100 ms .. 5 s; nats.c adds the configured jitter. */
static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure) {
    (void)nc;
    (void)closure;
    int64_t d = 100;
    for (int i = 0; i < attempts && d < 5000; i++) d *= 2;
    return d > 5000 ? 5000 : d;
}

static void on_disconnected(natsConnection *nc, void *closure) {
    (void)nc;
    bus_conn *c = closure;
    if (!atomic_load(&c->closing))
        bus_log(BUS_LOG_WARN, "nats: disconnected (%s), reconnecting", c->name);
}

/* nats.c delivers connection callbacks on its own thread, after
 * natsConnection_Close returned, and the closed callback last: until it ran,
 * the disconnected callback may still read this bus_conn. */
static void on_closed(natsConnection *nc, void *closure) {
    (void)nc;
    bus_conn *c = closure;
    atomic_store(&c->closed, true); /* the last access to c */
}

static void on_reconnected(natsConnection *nc, void *closure) {
    (void)nc;
    bus_conn *c = closure;
    atomic_fetch_add(&c->reconnects, 1);
    bus_log(BUS_LOG_INFO, "nats: reconnected (%s)", c->name);
}

static void on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus err,
                           void *closure) {
    (void)nc;
    (void)sub;
    bus_conn *c = closure;
    /* Slow consumer is the usual one: the server dropped messages for us. */
    bus_log(BUS_LOG_WARN, "nats: asynchronous error on %s: %s", c->name, natsStatus_GetText(err));
}

tb_status bus_conn_open(const bus_config *cfg, const bus_conn_opts *o, bus_conn **out,
                        tb_error *err) {
    bus_conn *c = calloc(1, sizeof *c);
    if (c == NULL) return tb_error_set(err, TB_NOMEM, NULL, NULL);
    c->cfg = cfg;
    snprintf(c->name, sizeof c->name, "%s", o && o->name ? o->name : cfg->service);
    natsStatus s = natsOptions_Create(&c->opts);
    if (s == NATS_OK) s = natsOptions_SetURL(c->opts, cfg->nats_url);
    if (s == NATS_OK) s = natsOptions_SetName(c->opts, c->name);
    if (s == NATS_OK) s = natsOptions_SetSendAsap(c->opts, o ? o->send_asap : true);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(c->opts, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectJitter(c->opts, 100, 1000);
    if (s == NATS_OK) s = natsOptions_SetCustomReconnectDelay(c->opts, reconnect_delay, c);
    if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(c->opts, on_disconnected, c);
    if (s == NATS_OK) s = natsOptions_SetReconnectedCB(c->opts, on_reconnected, c);
    if (s == NATS_OK) s = natsOptions_SetClosedCB(c->opts, on_closed, c);
    if (s == NATS_OK) s = natsOptions_SetErrorHandler(c->opts, on_async_error, c);
    /* Buffer publishes while reconnecting instead of failing them. */
    if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(c->opts, 8 * 1024 * 1024);
    if (s == NATS_OK && o && o->retry_connect)
        s = natsOptions_SetRetryOnFailedConnect(c->opts, true, NULL, NULL);
    if (s == NATS_OK) s = natsConnection_Connect(&c->nc, c->opts);
    if (s != NATS_OK) {
        char url[512];
        bus_url_redact(cfg->nats_url, url, sizeof url);
        tb_error_set(err, TB_UNAVAILABLE, "NATS_URL", "cannot connect to NATS at %s: %s", url,
                     natsStatus_GetText(s));
        bus_conn_close(c);
        return TB_UNAVAILABLE;
    }
    c->acks = bus_js_acks_create();
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms : 5000;
    s = natsConnection_JetStream(&c->js, c->nc, &jo);
    if (s != NATS_OK) {
        bus_conn_close(c);
        return tb_error_set(err, TB_UNAVAILABLE, NULL, "JetStream context: %s",
                            natsStatus_GetText(s));
    }
    *out = c;
    return TB_OK;
}

void bus_conn_close(bus_conn *c) {
    if (c == NULL) return;
    atomic_store(&c->closing, true);
    if (c->nc != NULL) {
        (void)natsConnection_FlushTimeout(c->nc, 2000); /* best effort: closing anyway */
        natsConnection_Close(c->nc);
        /* Free c only once nats.c's callbacks are done with it (bounded, in
         * case a closed callback is never delivered). */
        for (int i = 0; i < 5000 && !atomic_load(&c->closed); i++) usleep(1000);
    }
    bus_js_acks_destroy(c->acks);
    jsCtx_Destroy(c->js);
    natsConnection_Destroy(c->nc);
    natsOptions_Destroy(c->opts);
    free(c);
}

uint64_t bus_conn_reconnects(const bus_conn *c) {
    return atomic_load(&((bus_conn *)c)->reconnects);
}

bool bus_conn_connected(bus_conn *c) {
    return c && c->nc && natsConnection_Status(c->nc) == NATS_CONN_STATUS_CONNECTED;
}

int64_t bus_conn_rtt_ns(bus_conn *c) {
    int64_t rtt = 0;
    if (!bus_conn_connected(c) || natsConnection_GetRTT(c->nc, &rtt) != NATS_OK) return -1;
    return rtt;
}

tb_status bus_conn_flush(bus_conn *c, int64_t timeout_ms) {
    return bus_status_from_nats(natsConnection_FlushTimeout(c->nc, timeout_ms));
}

struct __natsConnection *bus_conn_nats(bus_conn *c) {
    return c->nc;
}
struct __jsCtx *bus_conn_js(bus_conn *c) {
    return c->js;
}
const bus_config *bus_conn_config(const bus_conn *c) {
    return c->cfg;
}

/* Builds a message with the standard headers. */
static natsStatus make_msg_reply(natsMsg **m, const char *subject, const char *reply,
                                 const void *data, size_t len, const char *schema, int version,
                                 const bus_msg_meta *meta) {
    if (len > (size_t)TB_MAX_MSG_BYTES) return NATS_MAX_PAYLOAD;
    natsStatus s = natsMsg_Create(m, subject, reply, data, (int)len);
    if (s == NATS_OK) s = natsMsgHeader_Set(*m, BUS_HDR_CONTENT_TYPE, BUS_CONTENT_MSGPACK);
    if (s == NATS_OK && schema) {
        s = natsMsgHeader_Set(*m, BUS_HDR_SCHEMA, schema);
        char v[16];
        snprintf(v, sizeof v, "%d", version);
        if (s == NATS_OK && version > 0) s = natsMsgHeader_Set(*m, BUS_HDR_SCHEMA_VERSION, v);
    }
    if (s == NATS_OK && meta && meta->trace_id && meta->trace_id[0])
        s = natsMsgHeader_Set(*m, BUS_HDR_TRACE, meta->trace_id);
    if (s == NATS_OK && meta && meta->msg_id && meta->msg_id[0])
        s = natsMsgHeader_Set(*m, BUS_HDR_MSG_ID, meta->msg_id);
    if (s != NATS_OK) {
        bus_msg_destroy(*m);
        *m = NULL;
    }
    return s;
}

static natsStatus make_msg(natsMsg **m, const char *subject, const void *data, size_t len,
                           const char *schema, int version, const bus_msg_meta *meta) {
    return make_msg_reply(m, subject, NULL, data, len, schema, version, meta);
}

tb_status bus_publish(bus_conn *c, const char *subject, const tb_event_desc *desc, const void *ev,
                      const bus_msg_meta *meta) {
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    tb_status st = tb_encode(desc, ev, &buf, NULL);
    if (st == TB_OK) {
        natsMsg *m = NULL;
        natsStatus s = make_msg(&m, subject, buf.data, buf.size, desc->name, desc->version, meta);
        if (s == NATS_OK) s = natsConnection_PublishMsg(c->nc, m);
        bus_msg_destroy(m);
        st = bus_status_from_nats(s);
    }
    msgpack_sbuffer_destroy(&buf);
    return st;
}

/* The connection is away from the server (reconnecting, or closed): a
 * request would only wait in the reconnect buffer until it times out. */
static bool conn_away(bus_conn *c) {
    natsConnStatus st = natsConnection_Status(c->nc);
    return st == NATS_CONN_STATUS_RECONNECTING || st == NATS_CONN_STATUS_DISCONNECTED ||
           st == NATS_CONN_STATUS_CLOSED;
}

/* A request that failed while the connection was away, or across a
 * reconnection, failed because NATS went away, not because the service was
 * slow or broken: it is TB_UNAVAILABLE (503 with Retry-After at the
 * gateway, transient for every caller), never a timeout or an internal
 * error. */
static tb_status request_failure(bus_conn *c, uint64_t reconnects_before, tb_status st) {
    if (st != TB_TIMEOUT && st != TB_ERR) return st;
    return conn_away(c) || atomic_load(&c->reconnects) != reconnects_before ? TB_UNAVAILABLE : st;
}

tb_status bus_js_publish_bytes(bus_conn *c, const char *subject, const void *data, size_t len,
                               const char *schema, const bus_msg_meta *meta, bool *duplicate,
                               tb_error *err) {
    const tb_event_desc *d = schema ? tb_event_find(schema) : NULL;
    uint64_t reconnects = atomic_load(&c->reconnects);
    natsMsg *m = NULL;
    natsStatus s = make_msg(&m, subject, data, len, schema, d ? d->version : 0, meta);
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    if (s == NATS_OK) s = js_PublishMsg(&pa, c->js, m, NULL, &jerr);
    bus_msg_destroy(m);
    if (s != NATS_OK) {
        jsPubAck_Destroy(pa);
        tb_status st = bus_status_from_nats(s);
        if (st == TB_ERR || st == TB_NO_RESPONDERS) st = TB_UNAVAILABLE; /* no stream answering */
        if (st == TB_TIMEOUT && (conn_away(c) || atomic_load(&c->reconnects) != reconnects))
            st = TB_UNAVAILABLE; /* NATS went away while the acknowledgement was due */
        return tb_error_set(err, st, NULL, "publish %s to JetStream: %s (js error %d)", subject,
                            natsStatus_GetText(s), (int)jerr);
    }
    if (duplicate) *duplicate = pa->Duplicate;
    jsPubAck_Destroy(pa);
    return TB_OK;
}

tb_status bus_js_publish_many(bus_conn *c, bus_js_msg *msgs, size_t n, int64_t timeout_ms,
                              tb_error *err) {
    for (size_t i = 0; i < n; i++) {
        msgs[i].status = TB_TIMEOUT;
        snprintf(msgs[i].error, sizeof msgs[i].error, "no acknowledgement within %lld ms",
                 (long long)timeout_ms);
    }
    if (n == 0) return TB_OK;
    if (c->acks == NULL)
        return tb_error_set(err, TB_NOMEM, NULL, "no acknowledgement router for JetStream");
    uint64_t call = 0;
    natsStatus s = bus_js_acks_begin(c->acks, c->nc, msgs, n, &call);
    if (s != NATS_OK)
        return tb_error_set(err, TB_UNAVAILABLE, NULL, "publish to JetStream: %s",
                            natsStatus_GetText(s));
    /* Sent at once (the connection sends as soon as it can); no flush: the
     * acknowledgements are the confirmation. */
    size_t sent = 0;
    for (; s == NATS_OK && sent < n; sent++) {
        bus_js_msg *m = &msgs[sent];
        const tb_event_desc *d = m->schema ? tb_event_find(m->schema) : NULL;
        char reply[160];
        bus_js_acks_reply(c->acks, call, sent, reply, sizeof reply);
        natsMsg *msg = NULL;
        s = make_msg_reply(&msg, m->subject, reply, m->data, m->len, m->schema, d ? d->version : 0,
                           &m->meta);
        if (s == NATS_OK) s = natsConnection_PublishMsg(c->nc, msg);
        bus_msg_destroy(msg);
        if (s != NATS_OK) break;
    }
    bus_js_acks_end(c->acks, call, sent, timeout_ms);
    for (size_t i = 0; i < n; i++)
        if (msgs[i].status != TB_OK)
            return tb_error_set(err, msgs[i].status, NULL, "%s", msgs[i].error);
    if (s != NATS_OK)
        return tb_error_set(err, TB_UNAVAILABLE, NULL, "publish to JetStream: %s",
                            natsStatus_GetText(s));
    return TB_OK;
}

tb_status bus_js_publish(bus_conn *c, const char *subject, const tb_event_desc *desc,
                         const void *ev, const bus_msg_meta *meta, bool *duplicate, tb_error *err) {
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    tb_status st = tb_encode(desc, ev, &buf, err);
    if (st == TB_OK)
        st = bus_js_publish_bytes(c, subject, buf.data, buf.size, desc->name, meta, duplicate, err);
    msgpack_sbuffer_destroy(&buf);
    return st;
}

void bus_bytes_free(bus_bytes *b) {
    if (b == NULL) return;
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* Turns an error reply (headers + error_reply body) into a status. */
static tb_status error_from_reply(natsMsg *r, const char *subject, tb_error *err) {
    const char *code = NULL;
    tb_status st = TB_ERR;
    tb_error_reply body;
    if (tb_decode(&tb_error_reply_desc, natsMsg_GetData(r), (size_t)natsMsg_GetDataLength(r), &body,
                  NULL) == TB_OK) {
        st = tb_status_from_code(body.code);
        return tb_error_set(err, st == TB_OK ? TB_ERR : st, body.field, "%s", body.message);
    }
    if (natsMsgHeader_Get(r, BUS_HDR_ERROR_STATUS, &code) == NATS_OK)
        st = tb_status_from_code(code);
    const char *text = NULL;
    if (natsMsgHeader_Get(r, BUS_HDR_SVC_ERROR, &text) != NATS_OK) text = "service error";
    return tb_error_set(err, st == TB_OK ? TB_ERR : st, NULL, "%s: %s", subject, text);
}

static bool is_error_reply(natsMsg *r) {
    const char *v = NULL;
    return natsMsgHeader_Get(r, BUS_HDR_SVC_ERROR_CODE, &v) == NATS_OK && v && v[0];
}

tb_status bus_request_bytes(bus_conn *c, const char *subject, const void *data, size_t len,
                            const char *schema, int64_t timeout_ms, const char *trace_id,
                            bus_bytes *reply, tb_error *err) {
    memset(reply, 0, sizeof *reply);
    if (timeout_ms <= 0) timeout_ms = c->cfg->request_timeout_ms;
    if (conn_away(c))
        return tb_error_set(err, TB_UNAVAILABLE, NULL, "%s: NATS unreachable (reconnecting)",
                            subject);
    uint64_t reconnects = atomic_load(&c->reconnects);
    const tb_event_desc *d = schema ? tb_event_find(schema) : NULL;
    bus_msg_meta meta = {.trace_id = trace_id};
    natsMsg *m = NULL, *r = NULL;
    natsStatus s = make_msg(&m, subject, data, len, schema, d ? d->version : 0, &meta);
    if (s == NATS_OK) s = natsConnection_RequestMsg(&r, c->nc, m, timeout_ms);
    bus_msg_destroy(m);
    if (s == NATS_OK && natsMsg_IsNoResponders(r)) s = NATS_NO_RESPONDERS;
    if (s != NATS_OK) {
        bus_msg_destroy(r);
        tb_status st = bus_status_from_nats(s);
        tb_status mapped = request_failure(c, reconnects, st);
        return tb_error_set(err, mapped, NULL, "%s: %s", subject,
                            mapped != st             ? "NATS connection lost during the request"
                            : st == TB_TIMEOUT       ? "request timed out"
                            : st == TB_NO_RESPONDERS ? "no service is listening"
                                                     : natsStatus_GetText(s));
    }
    tb_status st = TB_OK;
    if (is_error_reply(r)) {
        st = error_from_reply(r, subject, err);
    } else {
        int n = natsMsg_GetDataLength(r);
        reply->data = malloc((size_t)n + 1);
        if (reply->data == NULL) {
            st = tb_error_set(err, TB_NOMEM, NULL, NULL);
        } else {
            memcpy(reply->data, natsMsg_GetData(r), (size_t)n);
            reply->data[n] = '\0';
            reply->len = (size_t)n;
            const char *v = NULL;
            if (natsMsgHeader_Get(r, BUS_HDR_CONTENT_TYPE, &v) == NATS_OK)
                snprintf(reply->content_type, sizeof reply->content_type, "%s", v);
            if (natsMsgHeader_Get(r, BUS_HDR_SCHEMA, &v) == NATS_OK)
                snprintf(reply->schema, sizeof reply->schema, "%s", v);
        }
    }
    bus_msg_destroy(r);
    return st;
}

tb_status bus_request(bus_conn *c, const char *subject, const tb_event_desc *req_desc,
                      const void *req, const tb_event_desc *reply_desc, void *reply,
                      int64_t timeout_ms, const char *trace_id, tb_error *err) {
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    tb_status st = TB_OK;
    if (req_desc != NULL) st = tb_encode(req_desc, req, &buf, err);
    bus_bytes rb;
    if (st == TB_OK)
        st = bus_request_bytes(c, subject, buf.data, buf.size, req_desc ? req_desc->name : NULL,
                               timeout_ms, trace_id, &rb, err);
    msgpack_sbuffer_destroy(&buf);
    if (st != TB_OK) return st;
    if (reply_desc != NULL) st = tb_decode(reply_desc, rb.data, rb.len, reply, err);
    bus_bytes_free(&rb);
    return st;
}

void bus_bytes_free_many(bus_bytes *b, size_t n) {
    for (size_t i = 0; b && i < n; i++) free(b[i].data);
    free(b);
}

/* Copies a reply's body and headers into out (one more slot of a growing
 * array). */
static tb_status keep_reply(natsMsg *r, bus_bytes **arr, size_t *n, size_t *cap) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        bus_bytes *grown = realloc(*arr, nc * sizeof *grown);
        if (grown == NULL) return TB_NOMEM;
        *arr = grown;
        *cap = nc;
    }
    bus_bytes *b = &(*arr)[*n];
    memset(b, 0, sizeof *b);
    int len = natsMsg_GetDataLength(r);
    b->data = malloc((size_t)len + 1);
    if (b->data == NULL) return TB_NOMEM;
    memcpy(b->data, natsMsg_GetData(r), (size_t)len);
    b->data[len] = '\0';
    b->len = (size_t)len;
    const char *v = NULL;
    if (natsMsgHeader_Get(r, BUS_HDR_CONTENT_TYPE, &v) == NATS_OK)
        snprintf(b->content_type, sizeof b->content_type, "%s", v);
    if (natsMsgHeader_Get(r, BUS_HDR_SCHEMA, &v) == NATS_OK)
        snprintf(b->schema, sizeof b->schema, "%s", v);
    (*n)++;
    return TB_OK;
}

tb_status bus_request_many(bus_conn *c, const char *const *subjects, size_t nsubjects,
                           const void *data, size_t len, const char *trace_id, int64_t timeout_ms,
                           size_t max_replies, bus_bytes **replies_out, size_t *n_out,
                           tb_error *err) {
    *replies_out = NULL;
    *n_out = 0;
    if (len > (size_t)TB_MAX_MSG_BYTES)
        return tb_error_set(err, TB_TOO_LARGE, NULL, "request too large");
    if (conn_away(c))
        return tb_error_set(err, TB_UNAVAILABLE, NULL,
                            "scatter-gather request: NATS unreachable (reconnecting)");
    natsInbox *inbox = NULL;
    natsSubscription *sub = NULL;
    natsStatus s = natsInbox_Create(&inbox);
    if (s == NATS_OK) s = natsConnection_SubscribeSync(&sub, c->nc, inbox);
    for (size_t i = 0; s == NATS_OK && i < nsubjects; i++) {
        natsMsg *m = NULL;
        s = natsMsg_Create(&m, subjects[i], inbox, data, (int)len);
        if (s == NATS_OK) s = natsMsgHeader_Set(m, BUS_HDR_CONTENT_TYPE, BUS_CONTENT_MSGPACK);
        if (s == NATS_OK && trace_id && trace_id[0])
            s = natsMsgHeader_Set(m, BUS_HDR_TRACE, trace_id);
        if (s == NATS_OK) s = natsConnection_PublishMsg(c->nc, m);
        bus_msg_destroy(m);
    }
    if (s != NATS_OK) {
        natsSubscription_Destroy(sub);
        natsInbox_Destroy(inbox);
        return tb_error_set(err, bus_status_from_nats(s), NULL, "scatter-gather request: %s",
                            natsStatus_GetText(s));
    }
    bus_bytes *arr = NULL;
    size_t n = 0, cap = 0, answered = 0;
    tb_status st = TB_OK;
    int64_t deadline = nats_Now() + timeout_ms;
    while (st == TB_OK && (max_replies == 0 || answered < max_replies)) {
        int64_t left_ms = deadline - nats_Now();
        if (left_ms <= 0) break;
        natsMsg *r = NULL;
        if (natsSubscription_NextMsg(&r, sub, left_ms) != NATS_OK) break; /* timeout */
        answered++;
        const char *code = NULL;
        bool error_reply = natsMsgHeader_Get(r, BUS_HDR_SVC_ERROR_CODE, &code) == NATS_OK;
        if (!natsMsg_IsNoResponders(r) && !error_reply) st = keep_reply(r, &arr, &n, &cap);
        bus_msg_destroy(r);
    }
    natsSubscription_Destroy(sub);
    natsInbox_Destroy(inbox);
    if (st != TB_OK) {
        bus_bytes_free_many(arr, n);
        return tb_error_set(err, st, NULL, "out of memory collecting replies");
    }
    *replies_out = arr;
    *n_out = n;
    return TB_OK;
}

/* Creates one stream when missing; an existing stream is left as configured
 * by its operator. */
static tb_status ensure_stream(bus_conn *c, const char *name, const char **subjects, int nsubj,
                               int64_t max_age_ns, tb_error *err) {
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, c->js, name, NULL, &jerr);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return TB_OK;
    }
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = name;
    sc.Subjects = subjects;
    sc.SubjectsLen = nsubj;
    sc.Storage = js_FileStorage;
    sc.Retention = js_LimitsPolicy;
    sc.MaxAge = max_age_ns;
    sc.Duplicates = INT64_C(120) * 1000000000; /* dedupe window for Nats-Msg-Id */
    s = js_AddStream(&si, c->js, &sc, NULL, &jerr);
    jsStreamInfo_Destroy(si);
    /* Another instance may have created it between our two calls. */
    if (s != NATS_OK && jerr != JSStreamNameExistErr) {
        if (js_GetStreamInfo(&si, c->js, name, NULL, NULL) == NATS_OK) {
            jsStreamInfo_Destroy(si);
            return TB_OK;
        }
        return tb_error_set(err, TB_UNAVAILABLE, NULL, "create stream %s: %s (js error %d)", name,
                            natsStatus_GetText(s), (int)jerr);
    }
    return TB_OK;
}

tb_status bus_js_ensure_streams(bus_conn *c, tb_error *err) {
    static const char *orders[] = {"orders.new.>", "orders.cancel.>"};
    static const char *fills[] = {"fills.>"};
    static const char *dlq[] = {BUS_DLQ_PREFIX ">"};
    const int64_t week = INT64_C(7) * 24 * 3600 * 1000000000;
    tb_status st = ensure_stream(c, BUS_STREAM_ORDERS, orders, 2, week, err);
    if (st == TB_OK) st = ensure_stream(c, BUS_STREAM_FILLS, fills, 1, week, err);
    if (st == TB_OK) st = ensure_stream(c, BUS_STREAM_DLQ, dlq, 1, 4 * week, err);
    return st;
}
