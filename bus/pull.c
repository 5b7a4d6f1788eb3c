/* A JetStream pull consumer with a reply subject per request (see pull.h). */
#include "pull.h"

#include "conn.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JS_API_NEXT "$JS.API.CONSUMER.MSG.NEXT"
#define JS_ACK      "$JS.ACK."
/* How long after its expiry a request's end is awaited before it is taken
 * as lost (a server restart forgets it; a busy machine delays its 408). */
#define LATE_MS 200
/* How long a fetch that has messages waits for more of the same burst (the
 * server sends what is there, then the status that ends the request). */
#define TAIL_MS 2

struct bus_pull {
    natsConnection *nc;
    natsSubscription *sub; /* <inbox>.* */
    char inbox[96];
    char next_subject[320];
    int batch;
    int64_t expires_ms;
    /* The pending request: its number, when it is over for good, how many
     * messages it may still bring. */
    uint64_t seq;
    bool live;
    int64_t give_up_ms;
    int remaining;
    int64_t pause_ms; /* before the next request, after "Requests Pending" */
    char error[400];  /* how the last request ended, if it was refused */
    bus_pull_stats stats;
};

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

natsStatus bus_pull_open(bus_pull **out, natsConnection *nc, const char *stream,
                         const char *durable, int batch, int64_t expires_ms) {
    *out = NULL;
    if (!nc || !stream || !durable || batch <= 0 || expires_ms < 20) return NATS_INVALID_ARG;
    bus_pull *p = calloc(1, sizeof *p);
    if (!p) return NATS_NO_MEMORY;
    p->nc = nc;
    p->batch = batch;
    p->expires_ms = expires_ms;
    natsInbox *inbox = NULL;
    natsStatus s = natsInbox_Create(&inbox);
    if (s == NATS_OK) {
        snprintf(p->inbox, sizeof p->inbox, "%s", inbox);
        natsInbox_Destroy(inbox);
        snprintf(p->next_subject, sizeof p->next_subject, "%s.%s.%s", JS_API_NEXT, stream, durable);
        char wildcard[110];
        snprintf(wildcard, sizeof wildcard, "%s.*", p->inbox);
        s = natsConnection_SubscribeSync(&p->sub, nc, wildcard);
    }
    /* A batch in flight and the next one prefetched stay far below these. */
    if (s == NATS_OK) s = natsSubscription_SetPendingLimits(p->sub, -1, 512 * 1024 * 1024);
    if (s != NATS_OK) {
        natsSubscription_Destroy(p->sub);
        free(p);
        return s;
    }
    *out = p;
    return NATS_OK;
}

static natsStatus send_request(bus_pull *p) {
    char reply[128], body[128];
    p->seq++;
    snprintf(reply, sizeof reply, "%s.%" PRIu64, p->inbox, p->seq);
    int64_t server_ms = p->expires_ms - 10; /* ends before we stop waiting */
    /* no_wait with expires: the server waits up to expires for the first
     * message, then sends what is there and ends the request, so arrivals
     * go to instances that wait, not to one busy with its last batch. */
    int n = snprintf(body, sizeof body, "{\"batch\":%d,\"expires\":%" PRId64 ",\"no_wait\":true}",
                     p->batch, server_ms * INT64_C(1000000));
    natsStatus s = natsConnection_PublishRequest(p->nc, p->next_subject, reply, body, n);
    if (s != NATS_OK) return s;
    p->stats.requests++;
    p->live = true;
    p->remaining = p->batch;
    p->give_up_ms = mono_ms() + p->expires_ms + LATE_MS;
    return NATS_OK;
}

/* The request a status ends: the last token of its subject. */
static uint64_t request_of(natsMsg *m) {
    const char *subj = natsMsg_GetSubject(m);
    const char *dot = subj ? strrchr(subj, '.') : NULL;
    return dot ? strtoull(dot + 1, NULL, 10) : 0;
}

/* A status message has no payload and a "Status" header (nats.c puts the
 * code of the status line there). Returns its code, or 0 for a message. */
static int status_of(natsMsg *m, const char **description) {
    const char *v = NULL;
    *description = NULL;
    if (natsMsg_GetDataLength(m) > 0) return 0;
    if (natsMsgHeader_Get(m, "Status", &v) != NATS_OK || !v) return 0;
    (void)natsMsgHeader_Get(m, "Description", description);
    return atoi(v);
}

/* Ends the pending request: a 404/408 ends it normally (no messages, expired,
 * or, for a one-shot request, the end of what was there); anything else
 * (409: the consumer deleted, a limit exceeded) is the server refusing it. */
static natsStatus end_request(bus_pull *p, int code, const char *desc, int n) {
    p->live = false;
    if (code != 404 && code != 408) {
        snprintf(p->error, sizeof p->error, "%d %s", code, desc ? desc : "");
        return NATS_ERR;
    }
    /* Other instances' requests already cover what is pending: wait a
     * little before asking again instead of being told so in a loop. */
    if (n == 0 && desc && strcmp(desc, "Requests Pending") == 0) {
        p->pause_ms = p->pause_ms ? (p->pause_ms * 2 > 100 ? 100 : p->pause_ms * 2) : 2;
        p->stats.pending_refused++;
    } else {
        p->pause_ms = 0;
        if (n == 0) p->stats.expired++;
    }
    return NATS_OK;
}

natsStatus bus_pull_fetch(bus_pull *p, natsMsg **msgs, int *count, char *why, size_t why_cap) {
    *count = 0;
    if (why_cap) why[0] = '\0';
    if (p->error[0]) { /* the end of a request that still brought messages */
        snprintf(why, why_cap, "%s", p->error);
        p->error[0] = '\0';
        return NATS_ERR;
    }
    if (p->live && mono_ms() >= p->give_up_ms) {
        p->live = false; /* its end got lost: a late one is dropped as stale */
        p->stats.expired++;
    }
    if (!p->live && p->pause_ms > 0) {
        struct timespec ts = {0, (long)p->pause_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    natsStatus s = p->live ? NATS_OK : send_request(p);
    int n = 0;
    bool satisfied = false;
    while (s == NATS_OK && n < p->batch) {
        /* Wait for the first message; then for the rest of the burst and
         * the status that ends it, which the server sends right after. */
        int64_t wait = TAIL_MS;
        if (n == 0) {
            wait = p->give_up_ms - mono_ms();
            if (wait <= 0) {
                p->live = false;
                p->stats.expired++;
                break;
            }
        }
        natsMsg *m = NULL;
        s = natsSubscription_NextMsg(&m, p->sub, wait);
        if (s == NATS_TIMEOUT) {
            s = NATS_OK;
            if (n == 0) continue; /* the deadline check above ends the wait */
            break;                /* the request ends later, or is over */
        }
        if (s == NATS_NO_RESPONDERS) { /* nothing serves the consumer subject */
            p->live = false;
            snprintf(p->error, sizeof p->error, "no responders for %s", p->next_subject);
            s = NATS_ERR;
            break;
        }
        if (s != NATS_OK) break;
        const char *desc = NULL;
        int code = status_of(m, &desc);
        if (code == 0) {
            msgs[n++] = m;
            /* A message carries its stream subject, not the request's: it
             * counts for the pending one (an earlier request the server
             * still fills after we gave up on it only renews this sooner). */
            if (p->live && --p->remaining == 0) {
                p->live = false; /* satisfied: no status follows */
                satisfied = true;
            }
            continue;
        }
        bool current = p->live && request_of(m) == p->seq;
        if (code == 100 || !current) { /* a heartbeat, or an old request's end */
            if (code != 100) p->stats.stale_dropped++;
            bus_msg_destroy(m);
            continue;
        }
        s = end_request(p, code, desc, n);
        bus_msg_destroy(m);
        break;
    }
    /* A satisfied request is renewed at once: the server sends the next
     * batch while this one is handled. */
    if (s == NATS_OK && satisfied && !p->live) s = send_request(p);
    if (s != NATS_OK && n > 0) {
        /* The messages are the caller's all the same; the error is told by
         * the next fetch. */
        if (!p->error[0]) snprintf(p->error, sizeof p->error, "%s", natsStatus_GetText(s));
        s = NATS_OK;
    } else if (s != NATS_OK) {
        snprintf(why, why_cap, "%s", p->error[0] ? p->error : natsStatus_GetText(s));
        p->error[0] = '\0';
    }
    *count = n;
    return s;
}

void bus_pull_get_stats(const bus_pull *p, bus_pull_stats *out) {
    *out = p->stats;
}

void bus_pull_close(bus_pull *p) {
    if (!p) return;
    /* Drain: once the server answers the flush it has the unsubscribe, and
     * what it sent before (messages for a pending request) is queued here;
     * they are handed back. */
    if (natsSubscription_Drain(p->sub) == NATS_OK &&
        natsConnection_FlushTimeout(p->nc, 2000) == NATS_OK) {
        for (;;) {
            natsMsg *m = NULL;
            if (natsSubscription_NextMsg(&m, p->sub, 0) != NATS_OK) break;
            const char *desc = NULL;
            if (status_of(m, &desc) == 0) (void)bus_js_nak(p->nc, m, 0);
            bus_msg_destroy(m);
        }
    }
    natsSubscription_Destroy(p->sub);
    free(p);
}

static natsStatus ack_with(natsConnection *nc, natsMsg *m, const char *body, bool sync,
                           int64_t timeout_ms) {
    const char *reply = natsMsg_GetReply(m);
    if (!reply || strncmp(reply, JS_ACK, strlen(JS_ACK)) != 0) return NATS_ILLEGAL_STATE;
    if (!sync) return natsConnection_PublishString(nc, reply, body);
    natsMsg *r = NULL;
    natsStatus s = natsConnection_RequestString(&r, nc, reply, body, timeout_ms);
    bus_msg_destroy(r);
    return s;
}

natsStatus bus_js_ack(natsConnection *nc, natsMsg *m, bool sync, int64_t timeout_ms) {
    return ack_with(nc, m, "+ACK", sync, timeout_ms);
}

natsStatus bus_js_nak(natsConnection *nc, natsMsg *m, int64_t delay_ms) {
    if (delay_ms <= 0) return ack_with(nc, m, "-NAK", false, 0);
    char body[64];
    snprintf(body, sizeof body, "-NAK {\"delay\":%" PRId64 "}", delay_ms * INT64_C(1000000));
    return ack_with(nc, m, body, false, 0);
}

natsStatus bus_js_term(natsConnection *nc, natsMsg *m) {
    return ack_with(nc, m, "+TERM", false, 0);
}
