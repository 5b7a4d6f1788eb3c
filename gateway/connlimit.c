/* Open connections per client address, the limit civetweb lacks.
 *
 * civetweb gives every accepted connection a worker thread until the
 * client has sent a request's headers (GATEWAY_REQUEST_TIMEOUT_MS) or, on a
 * keep-alive connection, the next one (GATEWAY_KEEP_ALIVE_MS). The gateway
 * runs GATEWAY_THREADS workers, so that many idle or slow connections are
 * harmless; this limit keeps one address from taking all of them.
 *
 * civetweb 1.15 calls init_connection on the worker before it reads
 * anything, but mg_get_request_info answers NULL there (the connection's
 * type is set just after the callback returns). So the callback only
 * queues the connection, and a checker thread reads its address as soon as
 * it is readable, counts it, and gives a connection over the limit a 429
 * and shuts its socket down: civetweb's first read then ends at once and
 * the thread is free again. connection_closed uncounts it. Both callbacks
 * and the checker hold one lock, and a worker runs connection_closed before
 * it takes its next connection, so the checker never reads a connection
 * that was already reused. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "gateway.h"

typedef struct addr_slot {
    uint32_t hash;
    int32_t open;
    char addr[48]; /* mg_request_info.remote_addr */
} addr_slot;

typedef struct conn_entry {
    const struct mg_connection *conn; /* NULL: free */
    addr_slot *counted;               /* NULL while pending */
} conn_entry;

/* Each open connection holds a worker thread, so there are never more
 * than `threads` connections or addresses: one slot per thread each,
 * scanned linearly (by hash first), once per connection, not per request. */
struct gw_connlimit {
    pthread_mutex_t lock;
    pthread_cond_t queued;
    pthread_t checker;
    bool running, stop;
    gw *g;
    size_t pending;
    size_t n;
    conn_entry *conns;
    addr_slot *addrs;
};

static void *checker_main(void *arg);

gw_connlimit *gw_connlimit_create(gw *g, size_t slots) {
    gw_connlimit *c = calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    c->conns = calloc(slots, sizeof *c->conns);
    c->addrs = calloc(slots, sizeof *c->addrs);
    c->n = slots;
    c->g = g;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->queued, NULL);
    if (c->conns == NULL || c->addrs == NULL ||
        pthread_create(&c->checker, NULL, checker_main, c) != 0) {
        gw_connlimit_destroy(c);
        return NULL;
    }
    c->running = true;
    return c;
}

void gw_connlimit_destroy(gw_connlimit *c) {
    if (c == NULL) return;
    if (c->running) {
        pthread_mutex_lock(&c->lock);
        c->stop = true;
        pthread_cond_signal(&c->queued);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->checker, NULL);
    }
    pthread_cond_destroy(&c->queued);
    pthread_mutex_destroy(&c->lock);
    free(c->conns);
    free(c->addrs);
    free(c);
}

static uint32_t fnv1a(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* Counts one more connection of addr (locked): its slot, NULL when full. */
static addr_slot *count_locked(gw_connlimit *c, const char *addr) {
    uint32_t h = fnv1a(addr);
    addr_slot *free_slot = NULL;
    for (size_t i = 0; i < c->n; i++) {
        addr_slot *s = &c->addrs[i];
        if (s->open == 0) {
            if (free_slot == NULL) free_slot = s;
        } else if (s->hash == h && strcmp(s->addr, addr) == 0) {
            s->open++;
            return s;
        }
    }
    if (free_slot) {
        free_slot->hash = h;
        free_slot->open = 1;
        snprintf(free_slot->addr, sizeof free_slot->addr, "%s", addr);
    }
    return free_slot;
}

static conn_entry *entry_of(gw_connlimit *c, const struct mg_connection *conn) {
    for (size_t i = 0; i < c->n; i++)
        if (c->conns[i].conn == conn) return &c->conns[i];
    return NULL;
}

static void refuse(gw *g, const struct mg_request_info *ri) {
    bus_counter_add(bus_metrics_counter(bus_actor_metrics(g->actor),
                                        "tb_gateway_connections_refused_total",
                                        "Connections refused by GATEWAY_MAX_CONN_PER_ADDR", NULL),
                    1);
    int fd = gw_find_socket(ri);
    if (fd < 0) {
        bus_log(BUS_LOG_WARN, "connection over the per-address limit: socket not found");
        return;
    }
    /* Best effort, never blocking: the client learns why, then the shutdown
     * ends civetweb's read of this connection. */
    static const char resp[] = "HTTP/1.1 429 Too Many Requests\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: 79\r\nConnection: close\r\n\r\n"
                               "{\"error\":{\"code\":\"rate_limited\",\"message\":"
                               "\"too many connections\",\"field\":null}}";
    (void)!send(fd, resp, sizeof resp - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    shutdown(fd, SHUT_RDWR);
}

/* Counts the pending connections whose address is readable; true when
 * some are still pending. Refuses (with the lock held, so the connection
 * cannot be closed and reused meanwhile) those over the limit. */
static bool check_pending_locked(gw_connlimit *c) {
    size_t left = 0;
    for (size_t i = 0; i < c->n && c->pending > 0; i++) {
        conn_entry *e = &c->conns[i];
        if (e->conn == NULL || e->counted) continue;
        const struct mg_request_info *ri = mg_get_request_info(e->conn);
        if (ri == NULL) {
            left++;
            continue;
        }
        e->counted = count_locked(c, ri->remote_addr);
        c->pending--;
        if (e->counted == NULL || e->counted->open > c->g->set.max_per_addr) refuse(c->g, ri);
    }
    return left > 0;
}

static void *checker_main(void *arg) {
    gw_connlimit *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        if (c->pending == 0) {
            pthread_cond_wait(&c->queued, &c->lock);
            continue;
        }
        if (check_pending_locked(c)) {
            /* A worker is between our callback and setting the type. */
            pthread_mutex_unlock(&c->lock);
            nanosleep(&(struct timespec){.tv_nsec = 20000}, NULL);
            pthread_mutex_lock(&c->lock);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static gw *gw_of(const struct mg_connection *conn) {
    return mg_get_user_data(mg_get_context(conn));
}

static void gauge(gw *g, int64_t delta) {
    bus_gauge_add(bus_metrics_gauge(bus_actor_metrics(g->actor), "tb_gateway_connections",
                                    "Open HTTP connections (idle ones included)", NULL),
                  delta);
}

int gw_connlimit_open(const struct mg_connection *conn, void **conn_data) {
    (void)conn_data;
    gw *g = gw_of(conn);
    if (g == NULL || g->conns == NULL) return 0;
    gw_connlimit *c = g->conns;
    pthread_mutex_lock(&c->lock);
    conn_entry *e = entry_of(c, NULL);
    if (e) { /* always: one entry per worker thread */
        gauge(g, 1);
        e->conn = conn;
        e->counted = NULL;
        c->pending++;
        pthread_cond_signal(&c->queued);
    }
    pthread_mutex_unlock(&c->lock);
    return 0;
}

void gw_connlimit_close(const struct mg_connection *conn) {
    gw *g = gw_of(conn);
    if (g == NULL || g->conns == NULL) return;
    gw_connlimit *c = g->conns;
    pthread_mutex_lock(&c->lock);
    conn_entry *e = entry_of(c, conn);
    if (e) {
        if (e->counted)
            e->counted->open--;
        else
            c->pending--;
        e->conn = NULL;
        e->counted = NULL;
        gauge(g, -1);
    }
    pthread_mutex_unlock(&c->lock);
}
