/* The bus side of /v1/stream: one core subscription per distinct subject,
 * shared by every WebSocket connection listening to it (see stream.h).
 *
 * Two locks. `admin` serialises subscribing and unsubscribing, which wait
 * for the NATS server (flush, drain); `fan` guards the listener lists and is
 * the only lock the bus callbacks take, so a subscribe never delays the
 * delivery of other subjects' events. A callback converts its message to
 * JSON once, outside `fan`, then queues the frame on each listener without
 * blocking (gw_sconn_push). An entry leaves the list before it is
 * unsubscribed; bus_unsubscribe waits for its callbacks to end, then the
 * entry is freed. Lock order: admin -> fan -> a connection's lock. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "wire.h"

typedef struct listener {
    gw_sconn *sc;
    char filter[TB_TOKEN_CAP];
} listener;

typedef struct entry {
    gw_hub *hub;
    char subject[GW_STREAM_SUBJECT_CAP];
    gw_topic topic;
    bus_sub *sub;
    listener *ls; /* guarded by hub->fan */
    size_t n, cap;
    struct entry *next;
} entry;

struct gw_hub {
    bus_conn *conn;
    bus_metrics *metrics;
    pthread_mutex_t admin;
    pthread_mutex_t fan;
    entry *entries; /* guarded by fan */
    size_t nentries;
};

gw_frame *gw_frame_new(int opcode, int topic, const char *data, size_t len) {
    gw_frame *f = malloc(sizeof *f + len + 1);
    if (f == NULL) return NULL;
    atomic_init(&f->refs, 1);
    f->opcode = opcode;
    f->topic = topic;
    f->len = len;
    if (len) memcpy(f->data, data, len);
    f->data[len] = '\0';
    return f;
}

void gw_frame_ref(gw_frame *f) {
    atomic_fetch_add(&f->refs, 1);
}

void gw_frame_unref(gw_frame *f) {
    if (f && atomic_fetch_sub(&f->refs, 1) == 1) free(f);
}

gw_hub *gw_hub_create(bus_conn *conn, bus_metrics *m) {
    gw_hub *h = calloc(1, sizeof *h);
    if (h == NULL) return NULL;
    h->conn = conn;
    h->metrics = m;
    pthread_mutex_init(&h->admin, NULL);
    pthread_mutex_init(&h->fan, NULL);
    return h;
}

static void entry_free(entry *e) {
    free(e->ls);
    free(e);
}

void gw_hub_destroy(gw_hub *h) {
    if (h == NULL) return;
    /* Every connection removed its listeners before this; what is left
     * (nothing, normally) is unsubscribed the same way. */
    for (entry *e = h->entries, *next; e; e = next) {
        next = e->next;
        bus_unsubscribe(e->sub);
        entry_free(e);
    }
    pthread_mutex_destroy(&h->admin);
    pthread_mutex_destroy(&h->fan);
    free(h);
}

static void count_bad(gw_hub *h, const char *code) {
    bus_counter_add(bus_metrics_counter(h->metrics, "tb_stream_bad_events_total",
                                        "Bus messages the stream could not convert (not sent)",
                                        "code", code, NULL),
                    1);
}

/* Runs on the subscription's delivery thread. */
static void on_msg(const bus_msg *m, void *arg) {
    entry *e = arg;
    gw_hub *h = e->hub;
    pthread_mutex_lock(&h->fan);
    size_t n = e->n;
    pthread_mutex_unlock(&h->fan);
    if (n == 0) return; /* being unsubscribed: nobody to convert it for */
    char *text = NULL, account[TB_TOKEN_CAP];
    size_t len = 0;
    tb_error err = {0};
    tb_status s = gw_stream_event(e->topic, bus_msg_subject(m), bus_msg_header(m, BUS_HDR_SCHEMA),
                                  bus_msg_header(m, BUS_HDR_TRACE), bus_msg_data(m), bus_msg_len(m),
                                  &text, &len, account, &err);
    if (s != TB_OK) {
        count_bad(h, tb_status_code(s));
        bus_log(BUS_LOG_WARN, "stream: dropped a message on %s: %s", bus_msg_subject(m),
                err.message);
        return;
    }
    gw_frame *f = gw_frame_new(MG_WEBSOCKET_OPCODE_TEXT, (int)e->topic, text, len);
    free(text);
    if (f == NULL) {
        count_bad(h, tb_status_code(TB_NOMEM));
        return;
    }
    pthread_mutex_lock(&h->fan);
    for (size_t i = 0; i < e->n; i++) {
        const char *flt = e->ls[i].filter;
        if (flt[0] == '\0' || strcmp(flt, account) == 0) gw_sconn_push(e->ls[i].sc, f);
    }
    pthread_mutex_unlock(&h->fan);
    gw_frame_unref(f);
}

static entry *find(gw_hub *h, const char *subject) {
    for (entry *e = h->entries; e; e = e->next)
        if (strcmp(e->subject, subject) == 0) return e;
    return NULL;
}

static size_t find_listener(const entry *e, const char *filter, const gw_sconn *sc) {
    for (size_t i = 0; i < e->n; i++)
        if (e->ls[i].sc == sc && strcmp(e->ls[i].filter, filter) == 0) return i;
    return e->n;
}

static bool add_listener(entry *e, const char *filter, gw_sconn *sc) {
    if (e->n == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 4;
        listener *g = realloc(e->ls, nc * sizeof *g);
        if (g == NULL) return false;
        e->ls = g;
        e->cap = nc;
    }
    e->ls[e->n].sc = sc;
    snprintf(e->ls[e->n].filter, sizeof e->ls[e->n].filter, "%s", filter);
    e->n++;
    return true;
}

tb_status gw_hub_add(gw_hub *h, gw_topic topic, const char *subject, const char *filter,
                     gw_sconn *sc, tb_error *err) {
    if (strlen(subject) >= GW_STREAM_SUBJECT_CAP || strlen(filter) >= TB_TOKEN_CAP)
        return tb_error_set(err, TB_INVALID, NULL, "subscription too long");
    tb_status s = TB_OK;
    pthread_mutex_lock(&h->admin);
    pthread_mutex_lock(&h->fan);
    entry *e = find(h, subject);
    if (e != NULL) {
        if (find_listener(e, filter, sc) == e->n && !add_listener(e, filter, sc))
            s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
        pthread_mutex_unlock(&h->fan);
        pthread_mutex_unlock(&h->admin);
        return s;
    }
    pthread_mutex_unlock(&h->fan);
    /* A new subject. The entry gets its listener before the subscription
     * exists, so the first message already finds it; it joins the list
     * (where other connections find it) once subscribed. */
    e = calloc(1, sizeof *e);
    if (e == NULL || !add_listener(e, filter, sc)) {
        if (e) entry_free(e);
        pthread_mutex_unlock(&h->admin);
        return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    }
    e->hub = h;
    e->topic = topic;
    snprintf(e->subject, sizeof e->subject, "%s", subject);
    tb_error berr = {0};
    if (bus_subscribe(h->conn, subject, on_msg, e, &e->sub, &berr) != TB_OK) {
        entry_free(e);
        pthread_mutex_unlock(&h->admin);
        bus_log(BUS_LOG_WARN, "stream: cannot subscribe to %s: %s", subject, berr.message);
        return tb_error_set(err, TB_UNAVAILABLE, NULL, "the bus is unavailable; retry later");
    }
    pthread_mutex_lock(&h->fan);
    e->next = h->entries;
    h->entries = e;
    h->nentries++;
    pthread_mutex_unlock(&h->fan);
    pthread_mutex_unlock(&h->admin);
    return TB_OK;
}

/* Unlinks e (fan held). */
static void unlink_entry(gw_hub *h, entry *e) {
    for (entry **p = &h->entries; *p; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            h->nentries--;
            return;
        }
    }
}

/* Unsubscribes and frees entries that lost their last listener (admin
 * held, fan not: the drain waits for callbacks, which take fan). */
static void retire(entry *doomed) {
    for (entry *e = doomed, *next; e; e = next) {
        next = e->next;
        bus_unsubscribe(e->sub);
        entry_free(e);
    }
}

void gw_hub_remove(gw_hub *h, const char *subject, const char *filter, gw_sconn *sc) {
    entry *doomed = NULL;
    pthread_mutex_lock(&h->admin);
    pthread_mutex_lock(&h->fan);
    entry *e = find(h, subject);
    size_t i = e ? find_listener(e, filter, sc) : 0;
    if (e && i < e->n) {
        e->ls[i] = e->ls[--e->n];
        if (e->n == 0) {
            unlink_entry(h, e);
            e->next = NULL;
            doomed = e;
        }
    }
    pthread_mutex_unlock(&h->fan);
    retire(doomed);
    pthread_mutex_unlock(&h->admin);
}

void gw_hub_remove_all(gw_hub *h, gw_sconn *sc) {
    entry *doomed = NULL;
    pthread_mutex_lock(&h->admin);
    pthread_mutex_lock(&h->fan);
    for (entry *e = h->entries, *next; e; e = next) {
        next = e->next;
        for (size_t i = 0; i < e->n;) {
            if (e->ls[i].sc == sc)
                e->ls[i] = e->ls[--e->n];
            else
                i++;
        }
        if (e->n == 0) {
            unlink_entry(h, e);
            e->next = doomed;
            doomed = e;
        }
    }
    pthread_mutex_unlock(&h->fan);
    retire(doomed);
    pthread_mutex_unlock(&h->admin);
}

size_t gw_hub_subjects(gw_hub *h) {
    pthread_mutex_lock(&h->fan);
    size_t n = h->nentries;
    pthread_mutex_unlock(&h->fan);
    return n;
}
