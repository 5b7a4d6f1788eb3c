/* Acknowledgements of bus_js_publish_many through one subscription per
 * connection (jsacks.h says why). */
#include "jsacks.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* An inbox is "_INBOX." and a 22-character unique id. */
#define INBOX_CAP 64

typedef struct ack_call {
    struct ack_call *next;
    uint64_t id;
    bus_js_msg *msgs;
    size_t n;
    size_t answered;
} ack_call;

struct bus_js_acks {
    pthread_mutex_t lock;
    pthread_cond_t answered; /* CLOCK_MONOTONIC */
    natsSubscription *sub;   /* made at the first call */
    char prefix[INBOX_CAP];
    size_t prefix_len;
    uint64_t next_id;
    ack_call *calls;
    _Atomic bool complete; /* the subscription's handler will not run again */
};

bus_js_acks *bus_js_acks_create(void) {
    bus_js_acks *a = calloc(1, sizeof *a);
    if (a == NULL) return NULL;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&a->answered, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&a->lock, NULL);
    return a;
}

/* Reads a JetStream publish acknowledgement into *status / error. */
static void read_pub_ack(natsMsg *reply, const char *subject, tb_status *status, char *error,
                         size_t cap) {
    if (natsMsg_IsNoResponders(reply)) {
        *status = TB_UNAVAILABLE;
        snprintf(error, cap, "no stream takes %s", subject);
        return;
    }
    json_error_t jerr;
    json_t *ack =
        json_loadb(natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply), 0, &jerr);
    json_t *e = ack ? json_object_get(ack, "error") : NULL;
    if (ack == NULL || !json_is_object(ack)) {
        *status = TB_ERR;
        snprintf(error, cap, "unreadable acknowledgement for %s", subject);
    } else if (e != NULL) {
        const char *d = json_string_value(json_object_get(e, "description"));
        *status = TB_UNAVAILABLE;
        snprintf(error, cap, "publish %s to JetStream: %s", subject, d ? d : "error");
    } else if (!json_is_integer(json_object_get(ack, "seq"))) {
        *status = TB_ERR;
        snprintf(error, cap, "acknowledgement for %s without seq", subject);
    } else {
        *status = TB_OK;
    }
    json_decref(ack);
}

/* "<prefix>.<call>.<index>" -> call, index; false for anything else. */
static bool parse_reply(const bus_js_acks *a, const char *subj, uint64_t *call, size_t *index) {
    if (strncmp(subj, a->prefix, a->prefix_len) != 0 || subj[a->prefix_len] != '.') return false;
    char *end = NULL;
    const char *p = subj + a->prefix_len + 1;
    unsigned long long c = strtoull(p, &end, 10);
    if (end == p || *end != '.') return false;
    p = end + 1;
    unsigned long long i = strtoull(p, &end, 10);
    if (end == p || *end != '\0') return false;
    *call = c;
    *index = (size_t)i;
    return true;
}

static void on_ack(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure) {
    (void)nc;
    (void)sub;
    bus_js_acks *a = closure;
    uint64_t id;
    size_t i;
    if (parse_reply(a, natsMsg_GetSubject(m), &id, &i)) {
        pthread_mutex_lock(&a->lock);
        ack_call *c = a->calls;
        while (c != NULL && c->id != id) c = c->next;
        if (c != NULL && i < c->n && c->msgs[i].status == TB_TIMEOUT) {
            bus_js_msg *msg = &c->msgs[i];
            read_pub_ack(m, msg->subject, &msg->status, msg->error, sizeof msg->error);
            if (msg->status == TB_TIMEOUT) msg->status = TB_ERR; /* never left pending */
            c->answered++;
            pthread_cond_broadcast(&a->answered);
        }
        pthread_mutex_unlock(&a->lock);
    }
    bus_msg_destroy(m);
}

static void on_complete(void *closure) {
    bus_js_acks *a = closure;
    atomic_store(&a->complete, true);
}

static natsStatus subscribe(bus_js_acks *a, natsConnection *nc) {
    natsInbox *inbox = NULL;
    natsStatus s = natsInbox_Create(&inbox);
    if (s != NATS_OK) return s;
    snprintf(a->prefix, sizeof a->prefix, "%s", (const char *)inbox);
    natsInbox_Destroy(inbox);
    a->prefix_len = strlen(a->prefix);
    char wild[INBOX_CAP + 4];
    snprintf(wild, sizeof wild, "%s.>", a->prefix);
    natsSubscription *sub = NULL;
    s = natsConnection_Subscribe(&sub, nc, wild, on_ack, a);
    /* No pending limit: an acknowledgement dropped as a slow consumer's
     * would only turn into a needless retry, but never drop one. */
    if (s == NATS_OK) s = natsSubscription_SetPendingLimits(sub, -1, -1);
    if (s == NATS_OK) s = natsSubscription_SetOnCompleteCB(sub, on_complete, a);
    if (s != NATS_OK) {
        if (sub != NULL) {
            natsSubscription_Unsubscribe(sub);
            natsSubscription_Destroy(sub);
        }
        return s;
    }
    a->sub = sub;
    return NATS_OK;
}

natsStatus bus_js_acks_begin(bus_js_acks *a, natsConnection *nc, bus_js_msg *msgs, size_t n,
                             uint64_t *call) {
    ack_call *c = calloc(1, sizeof *c);
    if (c == NULL) return NATS_NO_MEMORY;
    pthread_mutex_lock(&a->lock);
    natsStatus s = a->sub != NULL ? NATS_OK : subscribe(a, nc);
    if (s == NATS_OK) {
        c->id = a->next_id++;
        c->msgs = msgs;
        c->n = n;
        c->next = a->calls;
        a->calls = c;
        *call = c->id;
    }
    pthread_mutex_unlock(&a->lock);
    if (s != NATS_OK) free(c);
    return s;
}

void bus_js_acks_reply(const bus_js_acks *a, uint64_t call, size_t i, char *buf, size_t cap) {
    snprintf(buf, cap, "%s.%" PRIu64 ".%zu", a->prefix, call, i);
}

void bus_js_acks_end(bus_js_acks *a, uint64_t call, size_t sent, int64_t timeout_ms) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&a->lock);
    ack_call **pp = &a->calls;
    while (*pp != NULL && (*pp)->id != call) pp = &(*pp)->next;
    ack_call *c = *pp;
    if (c != NULL) {
        while (c->answered < sent &&
               pthread_cond_timedwait(&a->answered, &a->lock, &deadline) == 0) {
        }
        /* Other calls came and went while waiting: find its link again. */
        for (pp = &a->calls; *pp != c; pp = &(*pp)->next) {
        }
        *pp = c->next;
    }
    pthread_mutex_unlock(&a->lock);
    free(c);
}

void bus_js_acks_destroy(bus_js_acks *a) {
    if (a == NULL) return;
    if (a->sub != NULL) {
        natsSubscription_Unsubscribe(a->sub); /* closed already with its connection */
        for (int i = 0; i < 5000 && !atomic_load(&a->complete); i++) usleep(1000);
        natsSubscription_Destroy(a->sub);
    }
    for (ack_call *c = a->calls, *next; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    pthread_cond_destroy(&a->answered);
    pthread_mutex_destroy(&a->lock);
    free(a);
}
