/* The two background threads of /v1/stream (see stream.h) and closing the
 * streams of a revoked key.
 *
 * The reaper enforces closing deadlines: a connection the gateway closes
 * (slow consumer, invalid frames, revoked key, broken socket) gets
 * GATEWAY_STREAM_CLOSE_MS to go; past that its socket is shut down, which
 * ends a writer blocked on it and civetweb's read loop, so no thread waits
 * on a client forever.
 *
 * The key watcher makes revocation reach streams opened before it, as the
 * auth cache does for requests: every GATEWAY_AUTH_CACHE_MS (at least 1 s)
 * it asks PostgreSQL which keys of the open streams are still live (one
 * query) and closes the others' streams with 1008 "API key revoked". When
 * PostgreSQL cannot be asked the streams stay, as cached keys do. It has a
 * thread of its own so a slow database never delays the reaper. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "stream.h"

#define REAPER_PERIOD_MS 50
#define KEYS_MIN_MS      1000

/* Waits on st->wake (st->lock held) until ms passed or stopping. */
static void wait_ms(gw_stream *st, int64_t ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&st->wake, &st->lock, &ts);
}

void *gw_stream_reaper_main(void *arg) {
    gw_stream *st = arg;
    pthread_mutex_lock(&st->lock);
    while (!st->stopping) {
        int64_t t = bus_mono_ns();
        for (gw_sconn *sc = st->conns; sc; sc = sc->next) {
            pthread_mutex_lock(&sc->lock);
            if (sc->deadline_ns != 0 && t >= sc->deadline_ns && sc->fd >= 0 && !sc->shut) {
                /* The connection is listed, so civetweb has not closed the
                 * descriptor yet: it is still this connection's. */
                shutdown(sc->fd, SHUT_RDWR);
                sc->shut = true;
                bus_log(BUS_LOG_INFO, "stream %s: closing deadline passed; socket shut down",
                        sc->id);
            }
            pthread_mutex_unlock(&sc->lock);
        }
        wait_ms(st, REAPER_PERIOD_MS);
    }
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

/* Closes the listed connections of key_id (st->lock held). */
static size_t close_key(gw_stream *st, const char *key_id) {
    size_t n = 0;
    for (gw_sconn *sc = st->conns; sc; sc = sc->next) {
        if (strcmp(sc->caller.key_id, key_id) != 0) continue;
        n += gw_sconn_close(sc, GW_WS_CLOSE_POLICY, "API key revoked", true);
    }
    return n;
}

void gw_stream_revoke(gw *g, const char *key_id) {
    gw_stream *st = g->stream;
    if (st == NULL) return;
    pthread_mutex_lock(&st->lock);
    size_t n = close_key(st, key_id);
    pthread_mutex_unlock(&st->lock);
    if (n) bus_log(BUS_LOG_INFO, "API key %s revoked: closing its %zu streams", key_id, n);
}

/* The distinct key ids of the listed connections (st->lock held), at most
 * cap of them. */
static size_t collect_keys(gw_stream *st, char (*ids)[TB_ID_CAP], size_t cap) {
    size_t n = 0;
    for (gw_sconn *sc = st->conns; sc && n < cap; sc = sc->next) {
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++) seen = strcmp(ids[i], sc->caller.key_id) == 0;
        if (!seen) snprintf(ids[n++], TB_ID_CAP, "%s", sc->caller.key_id);
    }
    return n;
}

/* One round: which keys are live. Runs without st->lock. */
static tb_status check_keys(gw_stream *st, char (*ids)[TB_ID_CAP], size_t n, bool *live,
                            tb_error *err) {
    const char **ptrs = malloc(n * sizeof *ptrs);
    if (ptrs == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) ptrs[i] = ids[i];
    bus_pg_pool *pool = bus_actor_pg(st->g->actor);
    PGconn *c = bus_pg_acquire(pool, err);
    tb_status s = c ? gw_keystore_live(c, ptrs, n, live, err) : TB_UNAVAILABLE;
    if (c) bus_pg_release(pool, c);
    free(ptrs);
    return s;
}

void *gw_stream_keys_main(void *arg) {
    gw_stream *st = arg;
    int64_t period =
        st->g->set.auth_cache_ms > KEYS_MIN_MS ? st->g->set.auth_cache_ms : KEYS_MIN_MS;
    /* Every connection has a key: stream_max bounds the distinct ones. */
    size_t cap = (size_t)st->g->set.stream_max;
    char(*ids)[TB_ID_CAP] = calloc(cap, sizeof *ids);
    bool *live = calloc(cap, sizeof *live);
    pthread_mutex_lock(&st->lock);
    while (!st->stopping && ids && live) {
        wait_ms(st, period);
        size_t n = st->stopping ? 0 : collect_keys(st, ids, cap);
        if (n == 0) continue;
        pthread_mutex_unlock(&st->lock);
        tb_error err = {0};
        tb_status s = check_keys(st, ids, n, live, &err);
        pthread_mutex_lock(&st->lock);
        if (s != TB_OK) {
            bus_log(BUS_LOG_WARN, "stream: cannot check the keys of open streams: %s", err.message);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            size_t closed = live[i] ? 0 : close_key(st, ids[i]);
            if (closed)
                bus_log(BUS_LOG_INFO, "API key %s is revoked: closing its %zu streams", ids[i],
                        closed);
        }
    }
    pthread_mutex_unlock(&st->lock);
    if (ids == NULL || live == NULL) bus_log(BUS_LOG_ERROR, "stream: no memory to check keys");
    free(ids);
    free(live);
    return NULL;
}
