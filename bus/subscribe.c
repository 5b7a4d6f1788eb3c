/* Plain core subscriptions and scatter-gather requests for tools (tb-tap,
 * tb-ctl); declared in conn.h.
 *
 * Actors never use these: their subscriptions are owned by the actor runtime
 * (queue groups, drain on stop, metrics). Here a subscription is a bare
 * callback on every message of a subject pattern, and a scatter-gather is one
 * request answered by every instance that hears it ($SRV.PING, $SRV.INFO). */
#include <nats/nats.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "store.h"
#include "wire.h"

struct bus_msg {
    natsMsg *m;
};

struct bus_sub {
    natsSubscription *sub;
    bus_msg_cb cb;
    void *arg;
};

const char *bus_msg_subject(const bus_msg *m) {
    return natsMsg_GetSubject(m->m);
}

const void *bus_msg_data(const bus_msg *m) {
    return natsMsg_GetData(m->m);
}

size_t bus_msg_len(const bus_msg *m) {
    int n = natsMsg_GetDataLength(m->m);
    return n > 0 ? (size_t)n : 0;
}

const char *bus_msg_header(const bus_msg *m, const char *key) {
    const char *v = NULL;
    if (natsMsgHeader_Get(m->m, key, &v) != NATS_OK) return NULL;
    return v;
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)nc;
    (void)sub;
    bus_sub *s = closure;
    bus_msg view = {.m = msg};
    s->cb(&view, s->arg);
    bus_msg_destroy(msg);
}

tb_status bus_subscribe(bus_conn *c, const char *subject, bus_msg_cb cb, void *arg, bus_sub **out,
                        tb_error *err) {
    if (subject == NULL || subject[0] == '\0' || cb == NULL)
        return tb_error_set(err, TB_INVALID, "subject", "a subject and a callback are required");
    bus_sub *s = calloc(1, sizeof *s);
    if (s == NULL) return tb_error_set(err, TB_NOMEM, NULL, NULL);
    s->cb = cb;
    s->arg = arg;
    natsStatus ns = natsConnection_Subscribe(&s->sub, bus_conn_nats(c), subject, on_msg, s);
    /* A tap of a busy subject (md.tick.>) must not be cut off as a slow
     * consumer at nats.c's default of 65536 messages / 64 MB at once. */
    if (ns == NATS_OK) ns = natsSubscription_SetPendingLimits(s->sub, 1000000, 256 * 1024 * 1024);
    if (ns == NATS_OK) ns = natsConnection_Flush(bus_conn_nats(c));
    if (ns != NATS_OK) {
        tb_status st = bus_status_from_nats(ns);
        tb_error_set(err, st, "subject", "subscribe to %s: %s", subject, natsStatus_GetText(ns));
        natsSubscription_Destroy(s->sub);
        free(s);
        return st;
    }
    *out = s;
    return TB_OK;
}

uint64_t bus_sub_dropped(bus_sub *s) {
    int64_t n = 0;
    if (natsSubscription_GetDropped(s->sub, &n) != NATS_OK || n < 0) return 0;
    return (uint64_t)n;
}

void bus_unsubscribe(bus_sub *s) {
    if (s == NULL) return;
    /* Drain lets callbacks already queued finish; once it completes no
     * callback runs, so the caller may free what arg points at. When the
     * connection is gone drain fails and a plain unsubscribe does. */
    if (natsSubscription_Drain(s->sub) != NATS_OK ||
        natsSubscription_WaitForDrainCompletion(s->sub, 5000) != NATS_OK)
        (void)natsSubscription_Unsubscribe(s->sub); /* best effort: freeing anyway */
    natsSubscription_Destroy(s->sub);
    free(s);
}

void bus_library_close(int64_t timeout_ms) {
    (void)nats_CloseAndWait(timeout_ms); /* at exit: nothing left to do if it times out */
}
