/* The last-quote cache of a service (see quotes.h for when it may answer).
 *
 * A fixed hash table of entries, chained, under one read-write lock:
 * requests read (many at once), tick callbacks and learn write. Subscribing
 * and unsubscribing wait for the NATS server, so they run outside that lock,
 * serialised by `admin`; an entry is in the table only while its
 * subscription is live, and is freed only after bus_unsubscribe returned
 * (its callback may be running until then). */
#include "quotes.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "metrics.h"

#define NS_PER_MS 1000000

typedef struct qentry {
    bus_quotes *q;
    char symbol[TB_TOKEN_CAP];
    char subject[TB_TOKEN_CAP + 16];
    bus_sub *sub;
    /* Set once sub is: bus_subscribe hands sub over only after its flush,
     * and ticks can arrive before that; on_tick ignores them until then. */
    _Atomic bool live;
    int64_t ready_ns;   /* when the subscription was in place (set before insertion) */
    uint64_t epoch;     /* the connection's reconnect count then */
    tb_tick tick;       /* guarded by q->lock, as are the fields below */
    bool vouched;       /* tick is one the cache can answer with */
    int64_t checked_ns; /* when market-data last confirmed it */
    uint64_t dropped;   /* the subscription's drop count last seen */
    _Atomic int64_t used_ns;
    _Atomic int64_t claim_ns; /* when a request last went to confirm it */
    struct qentry *next;
} qentry;

struct bus_quotes {
    bus_conn *conn;
    size_t cap, nbuckets;
    int64_t verify_ns, idle_ns;
    pthread_rwlock_t lock;
    pthread_mutex_t admin;
    qentry **buckets; /* guarded by lock */
    size_t n;         /* guarded by lock */
    bus_series *hits, *misses, *followed, *dropped;
};

static size_t hash(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

bus_quotes *bus_quotes_create(bus_conn *conn, bus_metrics *m, const char *prefix, int64_t cap,
                              int64_t verify_ms, int64_t idle_ms) {
    bus_quotes *q = calloc(1, sizeof *q);
    if (q == NULL) return NULL;
    q->conn = conn;
    q->cap = cap > 0 ? (size_t)cap : 0;
    q->verify_ns = verify_ms * NS_PER_MS;
    q->idle_ns = idle_ms * NS_PER_MS;
    q->nbuckets = 16;
    while (q->nbuckets < 2 * q->cap) q->nbuckets *= 2;
    q->buckets = calloc(q->nbuckets, sizeof *q->buckets);
    if (q->buckets == NULL) {
        free(q);
        return NULL;
    }
    pthread_rwlock_init(&q->lock, NULL);
    pthread_mutex_init(&q->admin, NULL);
    if (m) {
        char total[96], symbols[96], gaps[96];
        snprintf(total, sizeof total, "%s_quote_cache_total", prefix);
        snprintf(symbols, sizeof symbols, "%s_quote_cache_symbols", prefix);
        snprintf(gaps, sizeof gaps, "%s_quote_cache_gaps_total", prefix);
        const char *help = "Quotes wanted, by where the answer came from";
        q->hits = bus_metrics_counter(m, total, help, "answer", "cache", NULL);
        q->misses = bus_metrics_counter(m, total, help, "answer", "market-data", NULL);
        q->followed =
            bus_metrics_gauge(m, symbols, "Symbols whose ticks are followed for quotes", NULL);
        q->dropped = bus_metrics_counter(
            m, gaps,
            "Times a followed symbol's subscription dropped ticks (answers went back to "
            "market-data until it confirmed a quote)",
            NULL);
    }
    return q;
}

/* Caller holds lock (either mode). */
static qentry *find(bus_quotes *q, const char *symbol) {
    for (qentry *e = q->buckets[hash(symbol) & (q->nbuckets - 1)]; e; e = e->next)
        if (strcmp(e->symbol, symbol) == 0) return e;
    return NULL;
}

bool bus_quotes_get(bus_quotes *q, const char *symbol, tb_tick *out) {
    if (q == NULL || q->cap == 0) return false;
    int64_t now = bus_mono_ns();
    uint64_t epoch = bus_conn_reconnects(q->conn);
    bool hit = false;
    pthread_rwlock_rdlock(&q->lock);
    qentry *e = find(q, symbol);
    if (e) {
        atomic_store_explicit(&e->used_ns, now, memory_order_relaxed);
        hit = e->vouched && e->epoch == epoch && now - e->checked_ns < q->verify_ns;
        if (!hit && e->vouched && e->epoch == epoch && now - e->checked_ns < 2 * q->verify_ns) {
            /* Due for confirmation: one request goes to market-data, the
             * others keep the cached answer meanwhile (for one more period
             * at most), so callers do not queue up on the owner at once. */
            int64_t c = atomic_load(&e->claim_ns);
            hit = now - c < q->verify_ns || !atomic_compare_exchange_strong(&e->claim_ns, &c, now);
        }
        if (hit) *out = e->tick;
    }
    pthread_rwlock_unlock(&q->lock);
    if (q->hits) bus_counter_add(hit ? q->hits : q->misses, 1);
    return hit;
}

/* A tick on a followed symbol's subject (the connection's delivery thread). */
static void on_tick(const bus_msg *m, void *arg) {
    qentry *e = arg;
    if (!atomic_load_explicit(&e->live, memory_order_acquire)) return;
    bus_quotes *q = e->q;
    tb_tick t;
    tb_error err = {0};
    if (tb_decode(&tb_tick_desc, bus_msg_data(m), bus_msg_len(m), &t, &err) != TB_OK ||
        strcmp(t.symbol, e->symbol) != 0)
        return; /* not a quote of this symbol: the owner's answer stays the reference */
    uint64_t dropped = bus_sub_dropped(e->sub);
    pthread_rwlock_wrlock(&q->lock);
    if (dropped != e->dropped) {
        /* Ticks were lost between the last one and this: this one is the
         * newest delivered, not necessarily the newest published. */
        e->dropped = dropped;
        e->vouched = false;
        if (q->dropped) bus_counter_add(q->dropped, 1);
    } else if (e->epoch == bus_conn_reconnects(q->conn)) {
        e->tick = t;
        e->vouched = true;
    }
    pthread_rwlock_unlock(&q->lock);
}

/* Refreshes an entry with the owner's answer; caller holds lock for writing. */
static void confirm(bus_quotes *q, qentry *e, const tb_tick *t, int64_t sent_ns, int64_t now) {
    uint64_t epoch = bus_conn_reconnects(q->conn);
    if (sent_ns < e->ready_ns) return; /* asked before the subscription: may predate a tick */
    if (e->epoch != epoch) {
        /* Reconnected since the entry last heard: nats.c resubscribed, so
         * the ticks from now on are heard again and the answer is current. */
        e->epoch = epoch;
        e->tick = *t;
    } else if (!e->vouched || t->seq > e->tick.seq) {
        e->tick = *t;
    }
    e->dropped = bus_sub_dropped(e->sub);
    e->vouched = true;
    e->checked_ns = now;
}

void bus_quotes_learn(bus_quotes *q, const tb_tick *t, int64_t sent_ns, tb_tick *newest) {
    if (newest) *newest = *t;
    if (q == NULL || q->cap == 0) return;
    int64_t now = bus_mono_ns();
    pthread_rwlock_wrlock(&q->lock);
    qentry *e = find(q, t->symbol);
    if (e) confirm(q, e, t, sent_ns, now);
    if (e && newest && e->vouched) *newest = e->tick;
    bool add = e == NULL && q->n < q->cap;
    pthread_rwlock_unlock(&q->lock);
    if (!add) return;

    pthread_mutex_lock(&q->admin);
    pthread_rwlock_rdlock(&q->lock);
    add = find(q, t->symbol) == NULL && q->n < q->cap; /* another request may have added it */
    pthread_rwlock_unlock(&q->lock);
    qentry *n = add ? calloc(1, sizeof *n) : NULL;
    if (n) {
        n->q = q;
        snprintf(n->symbol, sizeof n->symbol, "%s", t->symbol);
        snprintf(n->subject, sizeof n->subject, "md.tick.%s", t->symbol);
        n->epoch = bus_conn_reconnects(q->conn);
        n->tick = *t;
        n->checked_ns = now;
        atomic_init(&n->used_ns, now);
        atomic_init(&n->claim_ns, 0);
        atomic_init(&n->live, false);
        tb_error err = {0};
        /* bus_subscribe flushes: the server has the subscription on return,
         * so ticks published from now on arrive. The answer t was read
         * before, so the entry is vouched for only by a tick or by the next
         * answer (confirm). */
        if (bus_subscribe(q->conn, n->subject, on_tick, n, &n->sub, &err) != TB_OK) {
            bus_log(BUS_LOG_WARN, "quote cache: %s", err.message);
            free(n);
            n = NULL;
        }
    }
    if (n) {
        atomic_store_explicit(&n->live, true, memory_order_release);
        n->ready_ns = bus_mono_ns();
        pthread_rwlock_wrlock(&q->lock);
        size_t b = hash(n->symbol) & (q->nbuckets - 1);
        n->next = q->buckets[b];
        q->buckets[b] = n;
        q->n++;
        if (q->followed) bus_gauge_set(q->followed, (int64_t)q->n);
        pthread_rwlock_unlock(&q->lock);
    }
    pthread_mutex_unlock(&q->admin);
}

/* Unlinks entries idle since before `older` (all when older is INT64_MAX)
 * into *out; caller holds admin. */
static void unlink_idle(bus_quotes *q, int64_t older, qentry **out) {
    pthread_rwlock_wrlock(&q->lock);
    for (size_t b = 0; b < q->nbuckets; b++) {
        for (qentry **p = &q->buckets[b]; *p;) {
            qentry *e = *p;
            if (atomic_load_explicit(&e->used_ns, memory_order_relaxed) < older) {
                *p = e->next;
                e->next = *out;
                *out = e;
                q->n--;
            } else {
                p = &e->next;
            }
        }
    }
    if (q->followed) bus_gauge_set(q->followed, (int64_t)q->n);
    pthread_rwlock_unlock(&q->lock);
}

static void release_all(qentry *e) {
    while (e) {
        qentry *next = e->next;
        bus_unsubscribe(e->sub); /* waits for its callback */
        free(e);
        e = next;
    }
}

void bus_quotes_sweep(bus_quotes *q) {
    if (q == NULL || q->cap == 0) return;
    qentry *gone = NULL;
    pthread_mutex_lock(&q->admin);
    unlink_idle(q, bus_mono_ns() - q->idle_ns, &gone);
    release_all(gone);
    pthread_mutex_unlock(&q->admin);
}

size_t bus_quotes_count(bus_quotes *q) {
    if (q == NULL) return 0;
    pthread_rwlock_rdlock(&q->lock);
    size_t n = q->n;
    pthread_rwlock_unlock(&q->lock);
    return n;
}

void bus_quotes_destroy(bus_quotes *q) {
    if (q == NULL) return;
    qentry *gone = NULL;
    pthread_mutex_lock(&q->admin);
    unlink_idle(q, INT64_MAX, &gone);
    release_all(gone);
    pthread_mutex_unlock(&q->admin);
    pthread_mutex_destroy(&q->admin);
    pthread_rwlock_destroy(&q->lock);
    free(q->buckets);
    free(q);
}
