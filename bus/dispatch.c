/* Per-message work of the actor runtime: decode, validate, call the handler,
 * reply or ack, count and time.
 *
 * Ack discipline for JetStream (DESIGN §3): a message is acked only after its
 * handler returned TB_OK, so a worker killed mid-handler leaves the message
 * unacked and the server redelivers it to another worker after ack_wait.
 * Handlers are idempotent on the message id, which makes redelivery safe. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actor_internal.h"
#include "pull.h"
#include "wire.h"

void bus_new_id(char *out, size_t cap) {
    /* natsNUID would do, but it is not exported by nats.c 3.4's public API.
     *
     * Ids lead with the creation time in milliseconds (the layout of UUIDv7):
     * they become primary keys and unique keys (orders, order_events,
     * fills, outbox.msg_id, ...), and a B-tree fed random keys touches a
     * random leaf page per insert. Once an index outgrows shared_buffers,
     * every insert reads a page, dirties it and writes it back, and after
     * each checkpoint logs it whole. Time-ordered keys land on the right
     * edge, in pages that stay in memory. The 80 random bits keep ids of one
     * millisecond apart (the generator is per thread, seeded from
     * /dev/urandom). */
    static _Thread_local unsigned int seeded;
    static _Thread_local unsigned short xs[3];
    if (!seeded) {
        FILE *f = fopen("/dev/urandom", "rb");
        if (f == NULL || fread(xs, sizeof xs, 1, f) != 1) {
            int64_t t = bus_mono_ns();
            xs[0] = (unsigned short)t;
            xs[1] = (unsigned short)(t >> 16);
            xs[2] = (unsigned short)getpid();
        }
        if (f) fclose(f);
        seeded = 1;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    unsigned long long ms =
        ((unsigned long long)now.tv_sec * 1000u + (unsigned long long)now.tv_nsec / 1000000u) &
        0xffffffffffffULL;                                      /* 48 bits: until the year 10889 */
    unsigned long a = (unsigned long)nrand48(xs) & 0xfffffffUL; /* 28 bits */
    unsigned long b = (unsigned long)nrand48(xs) & 0xfffffffUL; /* 28 bits */
    unsigned long c = (unsigned long)nrand48(xs) & 0xffffffUL;  /* 24 bits */
    snprintf(out, cap, "%012llx%07lx%07lx%06lx", ms, a, b, c);
}

bool bus_status_is_transient(tb_status s) {
    switch (s) {
    case TB_UNAVAILABLE:
    case TB_TIMEOUT:
    case TB_NO_RESPONDERS:
    case TB_IO:
    case TB_NOMEM:
    case TB_ERR:
        return true;
    default:
        return false;
    }
}

/* ---- context API ---- */

bus_actor *bus_ctx_actor(bus_ctx *ctx) {
    return ctx->actor;
}
const char *bus_ctx_subject(const bus_ctx *ctx) {
    return natsMsg_GetSubject(ctx->msg);
}
const char *bus_ctx_trace(const bus_ctx *ctx) {
    return ctx->trace;
}
uint64_t bus_ctx_delivery(const bus_ctx *ctx) {
    return ctx->delivery;
}

const char *bus_ctx_header(bus_ctx *ctx, const char *key) {
    const char *v = NULL;
    return natsMsgHeader_Get(ctx->msg, key, &v) == NATS_OK ? v : NULL;
}

bus_raw bus_ctx_payload(const bus_ctx *ctx) {
    if (ctx->msg == NULL) return (bus_raw){.data = NULL, .len = 0};
    return (bus_raw){.data = natsMsg_GetData(ctx->msg),
                     .len = (size_t)natsMsg_GetDataLength(ctx->msg)};
}

PGconn *bus_ctx_pg(bus_ctx *ctx, tb_error *err) {
    if (ctx->pg == NULL) {
        if (ctx->actor->pg == NULL) {
            tb_error_set(err, TB_ERR, NULL, "service was not configured with PostgreSQL");
            return NULL;
        }
        ctx->pg = bus_pg_acquire(ctx->actor->pg, err);
    }
    return ctx->pg;
}

redisContext *bus_ctx_redis(bus_ctx *ctx, tb_error *err) {
    if (ctx->redis == NULL) {
        if (ctx->actor->redis == NULL) {
            tb_error_set(err, TB_ERR, NULL, "service was not configured with Redis");
            return NULL;
        }
        ctx->redis = bus_redis_acquire(ctx->actor->redis, err);
    }
    return ctx->redis;
}

tb_status bus_fail(bus_ctx *ctx, tb_status s, const char *field, const char *fmt, ...) {
    ctx->err.status = s;
    snprintf(ctx->err.field, sizeof ctx->err.field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err.message, sizeof ctx->err.message, fmt, ap);
    va_end(ap);
    return s;
}

tb_status bus_fail_err(bus_ctx *ctx, const tb_error *err) {
    ctx->err = *err;
    return err->status;
}

/* ---- replies ---- */

static tb_status respond(bus_ctx *ctx, const void *data, size_t len, const char *ctype,
                         const char *schema) {
    const char *reply = natsMsg_GetReply(ctx->msg);
    if (reply == NULL || reply[0] == '\0' || ctx->replied) return TB_INVALID;
    natsMsg *m = NULL;
    natsStatus s = natsMsg_Create(&m, reply, NULL, data, (int)len);
    if (s == NATS_OK) s = natsMsgHeader_Set(m, BUS_HDR_CONTENT_TYPE, ctype);
    if (s == NATS_OK && schema) s = natsMsgHeader_Set(m, BUS_HDR_SCHEMA, schema);
    if (s == NATS_OK && ctx->trace[0]) s = natsMsgHeader_Set(m, BUS_HDR_TRACE, ctx->trace);
    if (s == NATS_OK) s = natsConnection_PublishMsg(bus_conn_nats(ctx->actor->conn), m);
    bus_msg_destroy(m);
    ctx->replied = true;
    return bus_status_from_nats(s);
}

tb_status bus_reply_bytes(bus_ctx *ctx, const void *data, size_t len, const char *content_type,
                          const char *schema) {
    return respond(ctx, data, len, content_type ? content_type : BUS_CONTENT_MSGPACK, schema);
}

tb_status bus_reply(bus_ctx *ctx, const tb_event_desc *desc, const void *ev) {
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    tb_status s = tb_encode(desc, ev, &b, &ctx->err);
    if (s == TB_OK) s = respond(ctx, b.data, b.size, BUS_CONTENT_MSGPACK, desc->name);
    msgpack_sbuffer_destroy(&b);
    return s;
}

tb_status bus_reply_list(bus_ctx *ctx, const tb_event_desc *desc, const void *items, size_t n,
                         const char *next) {
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    tb_status s = tb_encode_list(desc, items, n, next, &b, &ctx->err);
    if (s == TB_OK) s = respond(ctx, b.data, b.size, BUS_CONTENT_MSGPACK, desc->name);
    msgpack_sbuffer_destroy(&b);
    return s;
}

void bus_send_error(natsConnection *nc, natsMsg *msg, tb_status s, const char *field,
                    const char *text) {
    const char *reply = natsMsg_GetReply(msg);
    if (reply == NULL || reply[0] == '\0') return;
    tb_error_reply body;
    memset(&body, 0, sizeof body);
    snprintf(body.code, sizeof body.code, "%s", tb_status_code(s));
    snprintf(body.message, sizeof body.message, "%s", text && text[0] ? text : tb_status_text(s));
    snprintf(body.field, sizeof body.field, "%s", field ? field : "");
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    if (tb_encode(&tb_error_reply_desc, &body, &b, NULL) != TB_OK) {
        /* The message held bytes the catalogue refuses (invalid UTF-8 from a
         * hostile input): fall back to the generic text. */
        msgpack_sbuffer_clear(&b);
        snprintf(body.message, sizeof body.message, "%s", tb_status_text(s));
        body.field[0] = '\0';
        if (tb_encode(&tb_error_reply_desc, &body, &b, NULL) != TB_OK) /* fixed ASCII */
            bus_log(BUS_LOG_ERROR, "error reply cannot be encoded");
    }
    char code[16];
    snprintf(code, sizeof code, "%d", tb_status_http(s));
    natsMsg *m = NULL;
    natsStatus ns = natsMsg_Create(&m, reply, NULL, b.data, (int)b.size);
    if (ns == NATS_OK) ns = natsMsgHeader_Set(m, BUS_HDR_CONTENT_TYPE, BUS_CONTENT_MSGPACK);
    if (ns == NATS_OK) ns = natsMsgHeader_Set(m, BUS_HDR_SCHEMA, tb_error_reply_desc.name);
    if (ns == NATS_OK) ns = natsMsgHeader_Set(m, BUS_HDR_SVC_ERROR, body.message);
    if (ns == NATS_OK) ns = natsMsgHeader_Set(m, BUS_HDR_SVC_ERROR_CODE, code);
    if (ns == NATS_OK) ns = natsMsgHeader_Set(m, BUS_HDR_ERROR_STATUS, body.code);
    if (ns == NATS_OK) ns = natsConnection_PublishMsg(nc, m);
    if (ns != NATS_OK) bus_log(BUS_LOG_WARN, "error reply not sent: %s", natsStatus_GetText(ns));
    bus_msg_destroy(m);
    msgpack_sbuffer_destroy(&b);
}

void bus_send_json(natsConnection *nc, natsMsg *msg, json_t *body) {
    const char *reply = natsMsg_GetReply(msg);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (reply && reply[0] && text) {
        natsMsg *m = NULL;
        natsStatus s = natsMsg_Create(&m, reply, NULL, text, (int)strlen(text));
        if (s == NATS_OK) s = natsMsgHeader_Set(m, BUS_HDR_CONTENT_TYPE, BUS_CONTENT_JSON);
        if (s == NATS_OK) s = natsConnection_PublishMsg(nc, m);
        bus_msg_destroy(m);
    }
    free(text);
}

/* ---- the dispatcher ---- */

void bus_dispatch_record_error(ep_state *e, const tb_error *err) {
    pthread_mutex_lock(&e->last_error_lock);
    snprintf(e->last_error, sizeof e->last_error, "%s: %s", tb_status_code(err->status),
             err->message);
    pthread_mutex_unlock(&e->last_error_lock);
}

/* Publishes msg to the dead-letter stream with the reason, then terminates it. */
static void dead_letter(ep_state *e, natsMsg *msg, uint64_t delivery, const char *reason) {
    char subject[256], deliveries[24];
    snprintf(subject, sizeof subject, BUS_DLQ_PREFIX "%s.%s", e->ep->stream.stream,
             e->ep->stream.durable);
    snprintf(deliveries, sizeof deliveries, "%llu", (unsigned long long)delivery);
    natsMsg *m = NULL;
    natsStatus s =
        natsMsg_Create(&m, subject, NULL, natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
    const char *keys[] = {BUS_HDR_CONTENT_TYPE, BUS_HDR_SCHEMA, BUS_HDR_TRACE, BUS_HDR_MSG_ID};
    for (size_t i = 0; s == NATS_OK && i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = NULL;
        if (natsMsgHeader_Get(msg, keys[i], &v) == NATS_OK && v)
            s = natsMsgHeader_Set(m, keys[i], v);
    }
    if (s == NATS_OK) s = natsMsgHeader_Set(m, BUS_HDR_DLQ_REASON, reason);
    if (s == NATS_OK) s = natsMsgHeader_Set(m, BUS_HDR_DLQ_SUBJECT, natsMsg_GetSubject(msg));
    if (s == NATS_OK) s = natsMsgHeader_Set(m, BUS_HDR_DLQ_CONSUMER, e->ep->stream.durable);
    if (s == NATS_OK) s = natsMsgHeader_Set(m, BUS_HDR_DLQ_DELIVERIES, deliveries);
    jsPubAck *pa = NULL;
    if (s == NATS_OK) s = js_PublishMsg(&pa, bus_conn_js(e->actor->conn), m, NULL, NULL);
    jsPubAck_Destroy(pa);
    bus_msg_destroy(m);
    if (s != NATS_OK) {
        /* Without a dead letter the message must not vanish: leave it for
         * redelivery instead of terminating it. */
        bus_log(BUS_LOG_ERROR, "dead letter not stored (%s); message left for redelivery",
                natsStatus_GetText(s));
        (void)bus_js_nak(bus_dispatch_stream_nc(e), msg, 5000);
        return;
    }
    bus_counter_add(e->m_dead_letters, 1);
    bus_logf(BUS_LOG_ERROR,
             json_pack("{s:s, s:s, s:I}", "endpoint", e->ep->name, "subject",
                       natsMsg_GetSubject(msg), "deliveries", (json_int_t)delivery),
             "message dead-lettered: %s", reason);
    (void)bus_js_term(bus_dispatch_stream_nc(e),
                      msg); /* the DLQ holds it now; a lost term only redelivers */
}

void bus_dispatch_settle(ep_state *e, natsMsg *msg, uint64_t delivery, tb_status s,
                         const char *message, bool sync_ack) {
    const bus_stream_opts *o = &e->ep->stream;
    int max_deliver = o->max_deliver > 0 ? o->max_deliver : 10;
    if (s == TB_OK) {
        /* A batch acks without waiting: a lost ack only redelivers, and
         * handlers are idempotent on the message id. */
        natsStatus ns = bus_js_ack(bus_dispatch_stream_nc(e), msg, sync_ack,
                                   bus_conn_config(e->actor->conn)->request_timeout_ms);
        if (ns != NATS_OK)
            bus_log(BUS_LOG_WARN,
                    "ack failed (%s): the message will be redelivered and "
                    "applied idempotently",
                    natsStatus_GetText(ns));
        return;
    }
    char reason[320];
    snprintf(reason, sizeof reason, "%s: %s", tb_status_code(s), message ? message : "");
    if (!bus_status_is_transient(s) || delivery >= (uint64_t)max_deliver) {
        dead_letter(e, msg, delivery, reason);
        return;
    }
    int64_t delay = 100;
    for (uint64_t i = 1; i < delivery && delay < 10000; i++) delay *= 2;
    if (delay > 10000) delay = 10000;
    bus_counter_add(e->m_redeliveries, 1);
    bus_log(BUS_LOG_WARN, "handler failed transiently (%s), redelivery in %lld ms", reason,
            (long long)delay);
    (void)bus_js_nak(bus_dispatch_stream_nc(e), msg, delay); /* if lost, ack_wait redelivers */
}

/* Runs one message through decode, handler and reply/ack. */
static void handle(ep_state *e, natsMsg *msg, bool from_stream) {
    bus_actor *a = e->actor;
    const bus_endpoint *ep = e->ep;
    bus_ctx ctx = {.actor = a, .ep = e, .msg = msg};
    const char *trace = NULL;
    if (natsMsgHeader_Get(msg, BUS_HDR_TRACE, &trace) == NATS_OK && trace && trace[0] &&
        strlen(trace) < sizeof ctx.trace)
        snprintf(ctx.trace, sizeof ctx.trace, "%s", trace);
    else
        bus_new_id(ctx.trace, sizeof ctx.trace);
    if (from_stream) {
        jsMsgMetaData *md = NULL;
        if (natsMsg_GetMetaData(&md, msg) == NATS_OK) {
            ctx.delivery = md->NumDelivered;
            bus_gauge_set(e->m_pending, (int64_t)md->NumPending);
            jsMsgMetaData_Destroy(md);
        }
    }
    bus_log_set_trace(ctx.trace);
    int64_t t0 = bus_mono_ns();

    tb_status s;
    void *ev = NULL;
    bus_raw raw = {natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg)};
    if (ep->event != NULL) {
        ev = malloc(ep->event->struct_size);
        s = ev ? tb_decode(ep->event, raw.data, raw.len, ev, &ctx.err)
               : tb_error_set(&ctx.err, TB_NOMEM, NULL, NULL);
        if (s != TB_OK) {
            bus_counter_add(e->m_decode_errors, 1);
            bus_log(BUS_LOG_WARN, "rejected %s on %s: %s%s%s", ep->event->name,
                    natsMsg_GetSubject(msg), ctx.err.message, ctx.err.field[0] ? " field=" : "",
                    ctx.err.field);
        }
    } else {
        s = TB_OK;
    }
    if (s == TB_OK) {
        s = ep->handler(&ctx, ep->event ? ev : (const void *)&raw);
        if (s != TB_OK && ctx.err.message[0] == '\0')
            tb_error_set(&ctx.err, s, NULL, "%s", tb_status_text(s));
        ctx.err.status = s;
    }
    /* Stores go back before the reply/ack: nothing of this message's work
     * stays open once its outcome is visible. */
    if (ctx.pg) bus_pg_release(a->pg, ctx.pg);
    if (ctx.redis) bus_redis_release(a->redis, ctx.redis);

    if (ep->kind == BUS_REQUEST) {
        if (s != TB_OK)
            bus_send_error(bus_conn_nats(a->conn), msg, s, ctx.err.field, ctx.err.message);
        else if (!ctx.replied)
            (void)respond(&ctx, "\x80", 1, BUS_CONTENT_MSGPACK, NULL); /* {} */
    } else if (from_stream) {
        bus_dispatch_settle(e, msg, ctx.delivery, s, ctx.err.message, true);
    } else if (s != TB_OK && ep->event == NULL) {
        bus_log(BUS_LOG_WARN, "handler %s failed: %s", ep->name, ctx.err.message);
    } else if (s != TB_OK && ctx.err.status != TB_DECODE) {
        bus_log(BUS_LOG_WARN, "handler %s failed: %s", ep->name, ctx.err.message);
    }

    int64_t dt = bus_mono_ns() - t0;
    atomic_fetch_add(&e->num_requests, 1);
    atomic_fetch_add(&e->processing_ns, dt);
    bus_histogram_observe_ns(e->m_duration, dt);
    if (s == TB_OK) {
        bus_counter_add(e->m_handled_ok, 1);
    } else {
        atomic_fetch_add(&e->num_errors, 1);
        bus_counter_add(e->m_handled_err, 1);
        bus_dispatch_record_error(e, &ctx.err);
    }
    free(ev);
    bus_log_set_trace(NULL);
}

void bus_dispatch_core(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)nc;
    (void)sub;
    handle(closure, msg, false);
    bus_msg_destroy(msg);
}

natsConnection *bus_dispatch_stream_nc(const ep_state *e) {
    return bus_conn_nats(e->actor->conn);
}

int bus_dispatch_stream_batch(const ep_state *e) {
    if (e->ep->stream.batch > 0) return e->ep->stream.batch;
    return e->ep->batch_handler != NULL ? bus_batch_max(e->ep) : 16;
}

/* The fetch loop of a BUS_STREAM endpoint. On stop it finishes the message in
 * hand and naks the rest of its batch, and what was prefetched, so another
 * worker takes them at once. */
void *bus_dispatch_fetch_loop(void *arg) {
    ep_state *e = arg;
    bus_actor *a = e->actor;
    bool batched = e->ep->batch_handler != NULL;
    int batch = bus_dispatch_stream_batch(e);
    natsMsg **msgs = calloc((size_t)batch, sizeof *msgs);
    int64_t backoff_ms = 0;
    int idle = 0;              /* requests in a row that ended without messages */
    bus_pull_stats seen = {0}; /* e->pull's counters already in the metrics */
    while (msgs && !atomic_load(&a->stopping)) {
        int count = 0;
        char why[256] = "";
        natsStatus s =
            e->pull ? bus_pull_fetch(e->pull, msgs, &count, why, sizeof why) : NATS_NOT_FOUND;
        /* A consumer deleted while a request waits is reported (409); one
         * lost with the server's store just never answers: look every few
         * seconds of silence. */
        if (e->pull) {
            bus_pull_stats now;
            bus_pull_get_stats(e->pull, &now);
            bus_counter_add(e->m_pull_requests, now.requests - seen.requests);
            bus_counter_add(e->m_pull_late, now.stale_dropped - seen.stale_dropped);
            seen = now;
        }
        idle = (s == NATS_OK && count == 0) ? idle + 1 : 0;
        if (idle > 0 && idle % 10 == 0 && bus_stream_lost(a, e)) s = NATS_NOT_FOUND;
        if (s != NATS_OK) {
            backoff_ms = backoff_ms ? (backoff_ms * 2 > 2000 ? 2000 : backoff_ms * 2) : 50;
            if (!atomic_load(&a->stopping))
                bus_log(BUS_LOG_WARN, "fetch on %s failed: %s (%s); retrying in %lld ms",
                        e->ep->name, natsStatus_GetText(s), why, (long long)backoff_ms);
            usleep((useconds_t)backoff_ms * 1000);
            /* NATS came back without the consumer (its store was lost or
             * reset): create it again, or the endpoint would never resume. */
            if ((s == NATS_NO_RESPONDERS || s == NATS_NOT_FOUND || strstr(why, "Deleted")) &&
                !atomic_load(&a->stopping)) {
                tb_error err = {0};
                if (bus_stream_bind(a, e, &err) == TB_OK) {
                    seen = (bus_pull_stats){0}; /* a new bus_pull counts from 0 */
                    bus_log(BUS_LOG_INFO, "consumer %s of %s bound again", e->ep->stream.durable,
                            e->ep->stream.stream);
                } else
                    bus_log(BUS_LOG_WARN, "%s", err.message);
            }
            continue;
        }
        backoff_ms = 0;
        if (batched) {
            /* The batch takes the messages. */
            for (int i = 0; i < count; i++) {
                if (atomic_load(&a->stopping)) {
                    (void)bus_js_nak(bus_dispatch_stream_nc(e), msgs[i], 0);
                    bus_msg_destroy(msgs[i]);
                } else {
                    (void)bus_batch_add(e->batch, msgs[i], true);
                }
            }
            if (atomic_load(&a->stopping))
                bus_batch_abandon(e->batch, true);
            else if (count > 0)
                bus_batch_run(e->batch, true);
            continue;
        }
        for (int i = 0; i < count; i++) {
            if (atomic_load(&a->stopping))
                (void)bus_js_nak(bus_dispatch_stream_nc(e), msgs[i], 0);
            else
                handle(e, msgs[i], true);
            bus_msg_destroy(msgs[i]);
        }
    }
    free(msgs);
    bus_pull_close(e->pull);
    e->pull = NULL;
    return NULL;
}
