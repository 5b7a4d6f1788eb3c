/* Per-key rate limiting: a fixed one-second window on Redis's clock, shared
 * by every gateway instance, with no Redis round trip on most requests.
 *
 * An instance leases tokens for a key from the window in Redis, at most
 * GATEWAY_RATE_BATCH at a time: one Lua script adds the lease to the
 * window's count (tb:gw:rl:<key id>:<unix second>, expiring after two
 * seconds) and grants only what is left below the limit, so the instances
 * together never admit more than GATEWAY_RATE_LIMIT requests of a key in a
 * window (no overshoot). The price is undershoot: tokens an instance leased
 * but did not use by the window's end are lost, so with N instances a key
 * may be refused up to N * (GATEWAY_RATE_BATCH - 1) requests early in a
 * window it shares between instances. Once Redis said a window is used up,
 * this instance refuses the key's requests locally until the window ends.
 * The script also returns how long the window has left on Redis's clock, so
 * skewed instance clocks still share windows.
 *
 * Leases start small in each window (1, 1, 2, 4... tokens, doubling up to
 * GATEWAY_RATE_BATCH), so a key making a few requests a second takes about
 * what it uses and leaves little unused; a busy key reaches full batches
 * after a few round trips.
 *
 * Failed key lookups are counted per client address in Redis directly
 * (tb:gw:af:<address>:<second>): they are rare and must be exact. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"

/* ARGV[1] tokens wanted, ARGV[2] the limit: {granted, window count after
 * (capped at the limit), microseconds left in the window}. */
static const char lease_script[] = "local t = redis.call('TIME')\n"
                                   "local k = KEYS[1] .. ':' .. t[1]\n"
                                   "local want, limit = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
                                   "local n = redis.call('INCRBY', k, want)\n"
                                   "if n == want then redis.call('EXPIRE', k, 2) end\n"
                                   "local got = math.max(0, math.min(want, limit - (n - want)))\n"
                                   "return {got, math.min(n, limit), 1000000 - tonumber(t[2])}\n";

#define SLOTS 1024

/* One key's window as this instance knows it. Direct-mapped by key id: a
 * key that takes the slot of another only drops the other's unused tokens
 * (undershoot, never overshoot: every token came from Redis). */
typedef struct rl_slot {
    char key_id[TB_ID_CAP];
    int64_t window_end_ns; /* monotonic; 0: no window */
    int64_t tokens;        /* leased and unused in this window */
    int64_t counted;       /* the window's count in Redis at the last lease */
    int64_t leased;        /* tokens this instance leased in this window */
    bool exhausted;        /* Redis granted nothing: refuse until window_end */
    bool leasing;          /* a thread is asking Redis; others wait */
} rl_slot;

struct gw_ratelimit {
    pthread_mutex_t lock;
    pthread_cond_t lease_done;
    rl_slot slots[SLOTS];
};

gw_ratelimit *gw_ratelimit_create(void) {
    gw_ratelimit *rl = calloc(1, sizeof *rl);
    if (rl == NULL) return NULL;
    pthread_mutex_init(&rl->lock, NULL);
    pthread_cond_init(&rl->lease_done, NULL);
    return rl;
}

void gw_ratelimit_destroy(gw_ratelimit *rl) {
    if (rl == NULL) return;
    pthread_cond_destroy(&rl->lease_done);
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

static rl_slot *slot_of(gw_ratelimit *rl, const char *key_id) {
    uint32_t h = 2166136261u;
    for (const char *p = key_id; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
    return &rl->slots[h % SLOTS];
}

/* Asks Redis for want tokens of key_id's current window. */
static tb_status lease(gw *g, const char *key_id, int64_t want, int64_t *got, int64_t *counted,
                       int64_t *left_us, tb_error *err) {
    redisContext *c = bus_redis_acquire(bus_actor_redis(g->actor), err);
    if (c == NULL) return TB_UNAVAILABLE;
    char key[128], w[24], lim[24];
    snprintf(key, sizeof key, "tb:gw:rl:%s", key_id);
    snprintf(w, sizeof w, "%lld", (long long)want);
    snprintf(lim, sizeof lim, "%lld", (long long)g->set.rate_limit);
    redisReply *rep = NULL;
    tb_status s = bus_redis_cmd(c, &rep, err, "EVAL %s 1 %s %s %s", lease_script, key, w, lim);
    bus_redis_release(bus_actor_redis(g->actor), c);
    if (s != TB_OK) return s;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER ||
        rep->element[1]->type != REDIS_REPLY_INTEGER ||
        rep->element[2]->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(rep);
        return tb_error_set(err, TB_ERR, NULL, "unexpected reply from the rate-limit script");
    }
    *got = rep->element[0]->integer;
    *counted = rep->element[1]->integer;
    *left_us = rep->element[2]->integer;
    freeReplyObject(rep);
    return TB_OK;
}

/* Takes a token from s (locked, s's window current); fills out. */
static bool take_locked(gw *g, rl_slot *s, int64_t now, gw_rate *out) {
    bool ok = s->tokens > 0;
    if (ok) s->tokens--;
    int64_t left = g->set.rate_limit - s->counted + s->tokens;
    out->known = true;
    out->limit = g->set.rate_limit;
    out->remaining = left < 0 ? 0 : left > out->limit ? out->limit : left;
    out->reset_s = (s->window_end_ns - now + 999999999) / 1000000000; /* whole seconds */
    if (out->reset_s < 1) out->reset_s = 1;
    return ok;
}

tb_status gw_ratelimit_take(gw *g, const char *key_id, gw_rate *out, bool *limited, tb_error *err) {
    gw_ratelimit *rl = g->rate;
    *limited = false;
    out->known = false;
    pthread_mutex_lock(&rl->lock);
    rl_slot *s = slot_of(rl, key_id);
    for (;;) {
        int64_t now = bus_mono_ns();
        if (strcmp(s->key_id, key_id) == 0 && now < s->window_end_ns &&
            (s->tokens > 0 || s->exhausted)) {
            *limited = !take_locked(g, s, now, out);
            pthread_mutex_unlock(&rl->lock);
            return TB_OK;
        }
        if (!s->leasing) break;
        pthread_cond_wait(&rl->lease_done, &rl->lock); /* bounded by the Redis timeout */
    }
    s->leasing = true;
    bool same = strcmp(s->key_id, key_id) == 0 && bus_mono_ns() < s->window_end_ns;
    int64_t want = same && s->leased > 0 ? s->leased : 1; /* doubles what was leased */
    if (want > g->set.rate_batch) want = g->set.rate_batch;
    int64_t before = same ? s->leased : 0, old_end = same ? s->window_end_ns : 0;
    pthread_mutex_unlock(&rl->lock);
    int64_t got = 0, counted = 0, left_us = 0;
    int64_t t0 = bus_mono_ns();
    tb_status st = lease(g, key_id, want, &got, &counted, &left_us, err);
    pthread_mutex_lock(&rl->lock);
    s->leasing = false;
    pthread_cond_broadcast(&rl->lease_done);
    if (st == TB_OK) {
        snprintf(s->key_id, sizeof s->key_id, "%s", key_id);
        /* The window ends left_us after Redis read its clock, which was
         * after t0: ending it at t0 + left_us errs early, never late. */
        s->window_end_ns = t0 + left_us * 1000;
        s->tokens = got;
        s->counted = counted;
        /* A lease that landed in the next window (ours ends a little
         * early) starts that window's count afresh. */
        int64_t drift = s->window_end_ns - old_end;
        bool same_window = same && drift < 500000000 && drift > -500000000;
        s->leased = (same_window ? before : 0) + got;
        s->exhausted = got == 0;
        *limited = !take_locked(g, s, bus_mono_ns(), out);
    }
    pthread_mutex_unlock(&rl->lock);
    return st;
}

/* Reads (ARGV[1] = 0) or counts (1) in the current second's window. */
static const char fail_script[] =
    "local t = redis.call('TIME')\n"
    "local k = KEYS[1] .. ':' .. t[1]\n"
    "if ARGV[1] == '0' then return tonumber(redis.call('GET', k) or '0') end\n"
    "local n = redis.call('INCR', k)\n"
    "if n == 1 then redis.call('EXPIRE', k, 2) end\n"
    "return n\n";

tb_status gw_authfail_count(gw *g, const char *client, bool count, int64_t *n, tb_error *err) {
    redisContext *c = bus_redis_acquire(bus_actor_redis(g->actor), err);
    if (c == NULL) return TB_UNAVAILABLE;
    char key[128];
    snprintf(key, sizeof key, "tb:gw:af:%s", client && client[0] ? client : "unknown");
    redisReply *rep = NULL;
    tb_status s =
        bus_redis_cmd(c, &rep, err, "EVAL %s 1 %s %s", fail_script, key, count ? "1" : "0");
    bus_redis_release(bus_actor_redis(g->actor), c);
    if (s != TB_OK) return s;
    bool ok = rep->type == REDIS_REPLY_INTEGER;
    if (ok) *n = rep->integer;
    freeReplyObject(rep);
    return ok ? TB_OK
              : tb_error_set(err, TB_ERR, NULL, "unexpected reply from the failure-count script");
}
