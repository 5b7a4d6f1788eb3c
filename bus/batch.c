/* Batched endpoints: decode what has arrived, hand it to the handler as one
 * batch, settle every message, count and time the batch, report progress.
 *
 * Smart batching without waiting (STYLE §10): a core subscription's callback
 * decodes each message into the endpoint's accumulator and cuts the batch
 * when nats.c has nothing more queued for the subscription (its pending
 * count) or the accumulator is full. On an idle system a batch is one
 * message and adds no latency; under load batches grow by themselves. A
 * stream endpoint hands over what one fetch returned.
 *
 * Every instance of a batched endpoint reports how many messages it has
 * finished on bus.flow.<service> (tb_flow): at most every FLOW_PERIOD_NS
 * while busy, and from a timer once it goes quiet, so the last count always
 * reaches a replay that paces itself on it.
 *
 * Not here: single-message endpoints (dispatch.c) and the subscription set-up
 * (actor.c). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "actor_internal.h"
#include "pull.h"
#include "wire.h"

#define FLOW_PERIOD_NS (10 * INT64_C(1000000))

struct bus_batch {
    ep_state *e;
    size_t n, cap;
    size_t event_size; /* decoded struct size, or sizeof(bus_raw) */
    natsMsg **msgs;
    char *events; /* cap * event_size bytes */
    char (*traces)[TB_ID_CAP];
    uint64_t *deliveries;
    tb_status *failed; /* per message: TB_OK unless bus_batch_fail */
    char **fail_text;  /* malloc'd reason per failed message, may be NULL */
    char (*fail_field)[64];
    bool *replied; /* request endpoints: answered by bus_batch_reply */
};

/* ---- accessors ---- */

size_t bus_batch_len(const bus_batch *b) {
    return b->n;
}
const void *bus_batch_event(const bus_batch *b, size_t i) {
    return i < b->n ? b->events + i * b->event_size : NULL;
}
const char *bus_batch_subject(const bus_batch *b, size_t i) {
    return i < b->n ? natsMsg_GetSubject(b->msgs[i]) : NULL;
}
/* A message's trace id is read when first asked for: reading one header
 * makes nats.c parse all of them into a map (allocations per header), and
 * most handlers of ticks ask for few of their messages' traces. One
 * without a trace header gets a new id, kept for the batch. Handlers ask
 * from the batch's thread (bus_parallel workers get them beforehand). */
const char *bus_batch_trace(const bus_batch *cb, size_t i) {
    if (i >= cb->n) return "";
    bus_batch *b = (bus_batch *)cb; /* the runtime's own object, lent const to handlers */
    if (b->traces[i][0] == '\0') {
        const char *trace = NULL;
        if (natsMsgHeader_Get(b->msgs[i], BUS_HDR_TRACE, &trace) == NATS_OK && trace && trace[0] &&
            strlen(trace) < sizeof b->traces[i])
            snprintf(b->traces[i], sizeof b->traces[i], "%s", trace);
        else
            bus_new_id(b->traces[i], sizeof b->traces[i]);
    }
    return b->traces[i];
}
const char *bus_batch_header(const bus_batch *b, size_t i, const char *key) {
    const char *v = NULL;
    if (i >= b->n) return NULL;
    return natsMsgHeader_Get(b->msgs[i], key, &v) == NATS_OK ? v : NULL;
}
uint64_t bus_batch_delivery(const bus_batch *b, size_t i) {
    return i < b->n ? b->deliveries[i] : 0;
}

void bus_batch_fail(const bus_batch *cb, size_t i, tb_status s, const char *fmt, ...) {
    bus_batch *b = (bus_batch *)cb; /* the runtime's own object, lent const to handlers */
    if (i >= b->n || s == TB_OK) return;
    b->failed[i] = s;
    free(b->fail_text[i]);
    b->fail_text[i] = NULL;
    char text[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    b->fail_text[i] = strdup(text);
    b->fail_field[i][0] = '\0';
}

void bus_batch_fail_err(const bus_batch *cb, size_t i, const tb_error *err) {
    bus_batch *b = (bus_batch *)cb;
    if (i >= b->n) return;
    bus_batch_fail(cb, i, err->status == TB_OK ? TB_ERR : err->status, "%s", err->message);
    snprintf(b->fail_field[i], sizeof b->fail_field[i], "%s", err->field);
}

tb_status bus_batch_reply(const bus_batch *cb, size_t i, const tb_event_desc *desc,
                          const void *ev) {
    bus_batch *b = (bus_batch *)cb;
    if (i >= b->n || b->replied[i]) return TB_INVALID;
    const char *reply = natsMsg_GetReply(b->msgs[i]);
    if (reply == NULL || reply[0] == '\0') return TB_INVALID;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    tb_status st = tb_encode(desc, ev, &buf, NULL);
    if (st == TB_OK) {
        natsMsg *m = NULL;
        natsStatus s = natsMsg_Create(&m, reply, NULL, buf.data, (int)buf.size);
        if (s == NATS_OK) s = natsMsgHeader_Set(m, BUS_HDR_CONTENT_TYPE, BUS_CONTENT_MSGPACK);
        if (s == NATS_OK) s = natsMsgHeader_Set(m, BUS_HDR_SCHEMA, desc->name);
        if (s == NATS_OK) s = natsMsgHeader_Set(m, BUS_HDR_TRACE, bus_batch_trace(b, i));
        if (s == NATS_OK) s = natsConnection_PublishMsg(bus_conn_nats(b->e->actor->conn), m);
        bus_msg_destroy(m);
        st = bus_status_from_nats(s);
    }
    msgpack_sbuffer_destroy(&buf);
    b->replied[i] = true;
    return st;
}

/* ---- lifecycle ---- */

int bus_batch_max(const bus_endpoint *ep) {
    int n = ep->batch_max;
    if (n <= 0) {
        int64_t v = BUS_BATCH_MAX_DEFAULT;
        tb_error err;
        if (bus_env_int("BUS_BATCH_MAX", BUS_BATCH_MAX_DEFAULT, 1, BUS_BATCH_MAX_LIMIT, &v, &err) !=
            TB_OK)
            v = BUS_BATCH_MAX_DEFAULT; /* bus_config_load rejected it already at start */
        n = (int)v;
    }
    return n > BUS_BATCH_MAX_LIMIT ? BUS_BATCH_MAX_LIMIT : n;
}

void bus_batch_destroy(bus_batch *b) {
    if (b == NULL) return;
    free(b->msgs);
    free(b->events);
    free(b->traces);
    free(b->deliveries);
    free(b->failed);
    free(b->fail_text);
    free(b->fail_field);
    free(b->replied);
    free(b);
}

bus_batch *bus_batch_create(ep_state *e) {
    bus_batch *b = calloc(1, sizeof *b);
    if (b == NULL) return NULL;
    b->e = e;
    b->cap = (size_t)bus_batch_max(e->ep);
    b->event_size = e->ep->event ? e->ep->event->struct_size : sizeof(bus_raw);
    b->msgs = calloc(b->cap, sizeof *b->msgs);
    b->events = calloc(b->cap, b->event_size);
    b->traces = calloc(b->cap, sizeof *b->traces);
    b->deliveries = calloc(b->cap, sizeof *b->deliveries);
    b->failed = calloc(b->cap, sizeof *b->failed);
    b->fail_text = calloc(b->cap, sizeof *b->fail_text);
    b->fail_field = calloc(b->cap, sizeof *b->fail_field);
    b->replied = calloc(b->cap, sizeof *b->replied);
    if (!b->msgs || !b->events || !b->traces || !b->deliveries || !b->failed || !b->fail_text ||
        !b->fail_field || !b->replied) {
        bus_batch_destroy(b);
        return NULL;
    }
    return b;
}

bool bus_batch_full(const bus_batch *b) {
    return b->n >= b->cap;
}

bool bus_batch_empty(const bus_batch *b) {
    return b->n == 0;
}

/* ---- progress reports ---- */

static void flow_publish(ep_state *e, uint64_t handled) {
    bus_actor *a = e->actor;
    tb_flow ev;
    memset(&ev, 0, sizeof ev);
    snprintf(ev.service, sizeof ev.service, "%s", a->def->name);
    snprintf(ev.instance, sizeof ev.instance, "%s", a->cfg.instance);
    snprintf(ev.endpoint, sizeof ev.endpoint, "%s", e->ep->name);
    snprintf(ev.subject, sizeof ev.subject, "%s", e->ep->subject);
    ev.handled = handled;
    ev.members_lost = atomic_load(&e->part_lost);
    atomic_store(&e->flow_reported_lost, ev.members_lost);
    ev.ts = tb_now_ns();
    char subject[sizeof BUS_FLOW_PREFIX + sizeof ev.service];
    snprintf(subject, sizeof subject, BUS_FLOW_PREFIX "%s", a->def->name);
    /* At most once like ticks: a lost report is superseded by the next. */
    if (bus_publish(a->conn, subject, &tb_flow_desc, &ev, NULL) != TB_OK)
        bus_log(BUS_LOG_DEBUG, "flow report on %s not sent", subject);
}

/* After a batch: report when the last report is older than the period. */
static void flow_after_batch(ep_state *e, size_t n) {
    uint64_t handled = atomic_fetch_add(&e->flow_handled, n) + n;
    int64_t now = bus_mono_ns();
    int64_t last = atomic_load(&e->flow_reported_ns);
    if (now - last < FLOW_PERIOD_NS) return;
    if (!atomic_compare_exchange_strong(&e->flow_reported_ns, &last, now)) return;
    atomic_store(&e->flow_reported, handled);
    flow_publish(e, handled);
}

/* Timer: the count a quiet endpoint finished with, once; and a member lost
 * (partition.c) at once, busy or not. */
void bus_batch_flow_tick(bus_actor *a, void *arg) {
    (void)arg;
    for (size_t i = 0; i < a->neps; i++) {
        ep_state *e = &a->eps[i];
        if (e->ep->batch_handler == NULL) continue;
        uint64_t handled = atomic_load(&e->flow_handled);
        if (handled == atomic_load(&e->flow_reported) &&
            atomic_load(&e->part_lost) == atomic_load(&e->flow_reported_lost))
            continue;
        atomic_store(&e->flow_reported, handled);
        atomic_store(&e->flow_reported_ns, bus_mono_ns());
        flow_publish(e, handled);
    }
}

/* ---- adding and running ---- */

/* Decodes msg into the next slot. Takes msg: on a decode error it is settled
 * (stream: dead-lettered; core: counted) and destroyed. Returns true when the
 * message joined the batch. */
bool bus_batch_add(bus_batch *b, natsMsg *msg, bool from_stream) {
    ep_state *e = b->e;
    size_t i = b->n;
    b->traces[i][0] = '\0'; /* read when asked for (bus_batch_trace) */
    b->deliveries[i] = 0;
    if (from_stream) {
        jsMsgMetaData *md = NULL;
        if (natsMsg_GetMetaData(&md, msg) == NATS_OK) {
            b->deliveries[i] = md->NumDelivered;
            bus_gauge_set(e->m_pending, (int64_t)md->NumPending);
            jsMsgMetaData_Destroy(md);
        }
    }
    void *slot = b->events + i * b->event_size;
    const void *data = natsMsg_GetData(msg);
    size_t len = (size_t)natsMsg_GetDataLength(msg);
    if (e->ep->event == NULL) {
        *(bus_raw *)slot = (bus_raw){data, len};
    } else {
        tb_error err = {0};
        if (tb_decode(e->ep->event, data, len, slot, &err) != TB_OK) {
            bus_counter_add(e->m_decode_errors, 1);
            bus_counter_add(e->m_handled_err, 1);
            atomic_fetch_add(&e->num_requests, 1);
            atomic_fetch_add(&e->num_errors, 1);
            bus_dispatch_record_error(e, &err);
            bus_log(BUS_LOG_WARN, "rejected %s on %s: %s%s%s", e->ep->event->name,
                    natsMsg_GetSubject(msg), err.message, err.field[0] ? " field=" : "", err.field);
            if (from_stream)
                bus_dispatch_settle(e, msg, b->deliveries[i], err.status, err.message, true);
            if (e->ep->kind == BUS_REQUEST)
                bus_send_error(bus_conn_nats(e->actor->conn), msg, err.status, err.field,
                               err.message);
            bus_msg_destroy(msg);
            flow_after_batch(e, 1); /* finished, though not applied */
            return false;
        }
    }
    b->msgs[i] = msg;
    b->failed[i] = TB_OK;
    b->n++;
    return true;
}

void bus_batch_run(bus_batch *b, bool from_stream) {
    ep_state *e = b->e;
    bus_actor *a = e->actor;
    size_t n = b->n;
    if (n == 0) return;
    bus_ctx ctx = {.actor = a, .ep = e, .msg = b->msgs[0], .delivery = b->deliveries[0]};
    snprintf(ctx.trace, sizeof ctx.trace, "%s", bus_batch_trace(b, 0));
    bus_log_set_trace(ctx.trace);
    int64_t t0 = bus_mono_ns();
    tb_status s = e->ep->batch_handler(&ctx, b);
    if (s != TB_OK && ctx.err.message[0] == '\0')
        tb_error_set(&ctx.err, s, NULL, "%s", tb_status_text(s));
    ctx.err.status = s;
    /* Stores go back before any ack: nothing of the batch stays open once
     * its outcome is visible. */
    if (ctx.pg) bus_pg_release(a->pg, ctx.pg);
    if (ctx.redis) bus_redis_release(a->redis, ctx.redis);

    size_t nerr = 0;
    for (size_t i = 0; i < n; i++) {
        tb_status si = b->failed[i] != TB_OK ? b->failed[i] : s;
        const char *why =
            b->failed[i] != TB_OK && b->fail_text[i] ? b->fail_text[i] : ctx.err.message;
        if (si != TB_OK) {
            nerr++;
            if (b->failed[i] != TB_OK) {
                tb_error one = {.status = si};
                snprintf(one.message, sizeof one.message, "%s", why);
                bus_dispatch_record_error(e, &one);
            }
        }
        if (from_stream) bus_dispatch_settle(e, b->msgs[i], b->deliveries[i], si, why, false);
        if (e->ep->kind == BUS_REQUEST && !b->replied[i]) {
            const char *field = b->failed[i] != TB_OK ? b->fail_field[i] : ctx.err.field;
            if (si == TB_OK) { /* the handler forgot it: the caller must not wait */
                si = TB_ERR;
                why = "no reply";
                nerr++;
            }
            bus_send_error(bus_conn_nats(a->conn), b->msgs[i], si, field, why);
        }
        b->replied[i] = false;
        b->fail_field[i][0] = '\0';
        bus_msg_destroy(b->msgs[i]);
        b->msgs[i] = NULL;
        free(b->fail_text[i]);
        b->fail_text[i] = NULL;
        b->failed[i] = TB_OK;
    }
    if (s != TB_OK) {
        bus_dispatch_record_error(e, &ctx.err);
        if (!from_stream)
            bus_log(BUS_LOG_WARN, "handler %s failed for a batch of %zu: %s", e->ep->name, n,
                    ctx.err.message);
    }
    int64_t dt = bus_mono_ns() - t0;
    atomic_fetch_add(&e->num_requests, n);
    atomic_fetch_add(&e->processing_ns, dt);
    bus_histogram_observe_ns(e->m_duration, dt);
    bus_histogram_observe_size(e->m_batch_size, n);
    bus_counter_add(e->m_handled_ok, n - nerr);
    if (nerr) {
        atomic_fetch_add(&e->num_errors, nerr);
        bus_counter_add(e->m_handled_err, nerr);
    }
    b->n = 0;
    flow_after_batch(e, n);
    bus_log_set_trace(NULL);
}

/* Fails every message still in the batch with s (a stream naks them so
 * another worker takes them at once). Used when stopping. */
void bus_batch_abandon(bus_batch *b, bool from_stream) {
    for (size_t i = 0; i < b->n; i++) {
        if (from_stream) (void)bus_js_nak(bus_dispatch_stream_nc(b->e), b->msgs[i], 0);
        if (b->e->ep->kind == BUS_REQUEST && !b->replied[i])
            bus_send_error(bus_conn_nats(b->e->actor->conn), b->msgs[i], TB_UNAVAILABLE, NULL,
                           "the service is stopping");
        b->replied[i] = false;
        bus_msg_destroy(b->msgs[i]);
        b->msgs[i] = NULL;
    }
    b->n = 0;
}

/* The core subscription callback of a batched endpoint. nats.c calls it on
 * the subscription's delivery thread, one message at a time; the lock only
 * guards against the final flush in bus_actor_stop. */
void bus_dispatch_core_batch(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                             void *closure) {
    (void)nc;
    ep_state *e = closure;
    pthread_mutex_lock(&e->batch_lock);
    if (e->ep->partition_token > 0 && !bus_partition_owns(e, natsMsg_GetSubject(msg))) {
        bus_counter_add(e->m_part_skipped, 1);
        bus_msg_destroy(msg);
    } else {
        (void)bus_batch_add(e->batch, msg, false);
    }
    int pending = 0;
    if (natsSubscription_GetPending(sub, &pending, NULL) != NATS_OK) pending = 0;
    if (pending <= 0 || bus_batch_full(e->batch)) bus_batch_run(e->batch, false);
    pthread_mutex_unlock(&e->batch_lock);
}

/* Runs what a drain left in the accumulator (nothing, normally: the last
 * message a drain delivers sees an empty queue). */
void bus_batch_flush(ep_state *e) {
    if (e->batch == NULL) return;
    pthread_mutex_lock(&e->batch_lock);
    bus_batch_run(e->batch, false);
    pthread_mutex_unlock(&e->batch_lock);
}
