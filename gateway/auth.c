/* Authentication of requests and the API-key routes.
 *
 * Key lookups go to PostgreSQL (keystore.c) and are cached in this process
 * for GATEWAY_AUTH_CACHE_MS, keyed by the SHA-256 of the presented key; the
 * cache holds no secrets. Unknown keys are cached too, so a flood of bad keys
 * does not become a flood of queries. The TTL bounds how long a key revoked
 * on another gateway instance keeps working; this instance forgets it at
 * once. The cache only saves round trips: with it empty the answers are the
 * same. Failed lookups are limited per client address
 * (GATEWAY_AUTH_FAIL_LIMIT per second, in Redis). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gateway.h"
#include "keys.h"
#include "request.h"

#define CACHE_SLOTS 1024
#define WAIT_NS     (5 * INT64_C(1000000000)) /* longest wait for another's lookup */

typedef struct slot {
    bool used;    /* holds a lookup's answer for hash */
    bool found;   /* false: the key is unknown or revoked */
    bool loading; /* a lookup of hash is in flight (first use or refresh) */
    char hash[GW_KEY_HASH_HEX];
    gw_caller caller;
    int64_t refresh_ns; /* from then on, one request refreshes the answer */
    int64_t expires_ns;
} slot;

struct gw_auth_cache {
    pthread_mutex_t lock;
    pthread_cond_t loaded; /* a lookup ended (CLOCK_MONOTONIC) */
    int64_t ttl_ns;
    slot slots[CACHE_SLOTS];
};

gw_auth_cache *gw_auth_cache_create(int64_t ttl_ms) {
    gw_auth_cache *c = calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->loaded, &ca);
    pthread_condattr_destroy(&ca);
    c->ttl_ns = ttl_ms * INT64_C(1000000);
    return c;
}

void gw_auth_cache_destroy(gw_auth_cache *c) {
    if (c == NULL) return;
    pthread_cond_destroy(&c->loaded);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* Direct-mapped: the hash is uniformly distributed, so its first digits
 * make a fine index; a collision only costs a lookup. */
static slot *slot_of(gw_auth_cache *c, const char *hash) {
    unsigned idx = 0;
    for (int i = 0; i < 8; i++)
        idx = idx * 16 + (unsigned)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
    return &c->slots[idx % CACHE_SLOTS];
}

typedef enum {
    CACHED_FOUND,
    CACHED_UNKNOWN,
    LOOKUP_CLAIMED,  /* the caller looks the key up and reports with cache_put/cache_abandon */
    REFRESH_FOUND,   /* LOOKUP_CLAIMED for a valid answer past half its life (*out filled) */
    REFRESH_UNKNOWN, /* the same for a valid "unknown key" answer */
    LOOKUP_ALONE,    /* the caller looks the key up without the cache */
} cache_answer;

/* Concurrent requests of one key make one lookup: the first to miss claims
 * it, the others wait for its answer. Past half its life an answer is
 * refreshed by the one request that claims that, while the others are still
 * answered from it, so a busy key never sees its entry expire (the TTL still
 * bounds how old an answer may be). */
static cache_answer cache_get(gw_auth_cache *c, const char *hash, gw_caller *out) {
    if (c->ttl_ns <= 0) return LOOKUP_ALONE;
    pthread_mutex_lock(&c->lock);
    slot *s = slot_of(c, hash);
    int64_t deadline = bus_mono_ns() + WAIT_NS;
    cache_answer a;
    for (;;) {
        int64_t now = bus_mono_ns();
        bool mine = (s->used || s->loading) && gw_key_hash_equal(s->hash, hash);
        if (mine && s->used && s->expires_ns > now) {
            if (!s->loading && now >= s->refresh_ns) {
                s->loading = true;
                a = s->found ? REFRESH_FOUND : REFRESH_UNKNOWN;
                if (s->found) *out = s->caller;
            } else {
                a = s->found ? CACHED_FOUND : CACHED_UNKNOWN;
                if (s->found) *out = s->caller;
            }
            break;
        }
        if (mine && s->loading && now < deadline) {
            struct timespec ts = {.tv_sec = deadline / 1000000000,
                                  .tv_nsec = deadline % 1000000000};
            pthread_cond_timedwait(&c->loaded, &c->lock, &ts);
            continue;
        }
        if (s->loading) { /* another key's lookup holds the slot, or it takes too long */
            a = LOOKUP_ALONE;
            break;
        }
        s->used = false;
        s->loading = true;
        memcpy(s->hash, hash, sizeof s->hash);
        a = LOOKUP_CLAIMED;
        break;
    }
    pthread_mutex_unlock(&c->lock);
    return a;
}

/* Stores a lookup's answer (caller NULL: unknown or revoked). */
static void cache_put(gw_auth_cache *c, const char *hash, const gw_caller *caller, bool claimed) {
    if (c->ttl_ns <= 0) return;
    pthread_mutex_lock(&c->lock);
    slot *s = slot_of(c, hash);
    bool mine = gw_key_hash_equal(s->hash, hash);
    if (claimed || !s->loading) {
        if (claimed && mine) s->loading = false;
        s->used = true;
        s->found = caller != NULL;
        memcpy(s->hash, hash, sizeof s->hash);
        if (caller)
            s->caller = *caller;
        else
            memset(&s->caller, 0, sizeof s->caller);
        int64_t now = bus_mono_ns();
        s->refresh_ns = now + c->ttl_ns / 2;
        s->expires_ns = now + c->ttl_ns;
    }
    pthread_cond_broadcast(&c->loaded);
    pthread_mutex_unlock(&c->lock);
}

/* A claimed lookup failed: waiters look the key up themselves; a refreshed
 * answer stays until it expires. */
static void cache_abandon(gw_auth_cache *c, const char *hash) {
    pthread_mutex_lock(&c->lock);
    slot *s = slot_of(c, hash);
    if (s->loading && gw_key_hash_equal(s->hash, hash)) s->loading = false;
    pthread_cond_broadcast(&c->loaded);
    pthread_mutex_unlock(&c->lock);
}

void gw_auth_forget(gw *g, const char *key_id) {
    gw_auth_cache *c = g->auth;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (c->slots[i].used && strcmp(c->slots[i].caller.key_id, key_id) == 0)
            c->slots[i].used = false;
    pthread_mutex_unlock(&c->lock);
}

/* The answer a refresh would have replaced (REFRESH_FOUND: *cached_caller). */
static tb_status answer_cached(cache_answer a, const gw_caller *cached_caller, gw_caller *out,
                               tb_error *err) {
    if (a != REFRESH_FOUND)
        return tb_error_set(err, TB_UNAUTHORIZED, NULL, "unknown or revoked API key");
    *out = *cached_caller;
    return TB_OK;
}

tb_status gw_authenticate(gw *g, const char *authorization, const char *client, gw_caller *out,
                          tb_error *err) {
    if (authorization == NULL)
        return tb_error_set(err, TB_UNAUTHORIZED, NULL, "missing Authorization: Bearer <key>");
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return tb_error_set(err, TB_UNAUTHORIZED, NULL, "expected Authorization: Bearer <key>");
    const char *key = authorization + 7;
    while (*key == ' ') key++;
    if (!gw_key_well_formed(key))
        return tb_error_set(err, TB_UNAUTHORIZED, NULL, "not a tradebus API key");
    char hash[GW_KEY_HASH_HEX];
    gw_key_hash(key, strlen(key), hash);
    cache_answer cached = cache_get(g->auth, hash, out);
    if (cached == CACHED_FOUND) return TB_OK;
    if (cached == CACHED_UNKNOWN)
        return tb_error_set(err, TB_UNAUTHORIZED, NULL, "unknown or revoked API key");
    bool claimed = cached != LOOKUP_ALONE;
    /* A refresh that cannot be made leaves the answer it would have
     * replaced, still within its TTL: the request is answered from it. */
    bool refresh = cached == REFRESH_FOUND || cached == REFRESH_UNKNOWN;
    gw_caller cached_caller;
    if (cached == REFRESH_FOUND) cached_caller = *out;
    /* Only lookups reach PostgreSQL, so only their failures are limited:
     * guessing keys cannot become a flood of queries. */
    int64_t failures = 0;
    tb_error rl_err = {0};
    if (gw_authfail_count(g, client, false, &failures, &rl_err) == TB_OK &&
        failures >= g->set.auth_fail_limit) {
        if (claimed) cache_abandon(g->auth, hash);
        if (refresh) return answer_cached(cached, &cached_caller, out, err);
        return tb_error_set(err, TB_RATE_LIMITED, NULL,
                            "too many failed key lookups from this address; retry in a second");
    }
    bus_counter_add(bus_metrics_counter(bus_actor_metrics(g->actor), "tb_gateway_key_lookups_total",
                                        "API key lookups in PostgreSQL (cache misses)", NULL),
                    1);
    PGconn *c = bus_pg_acquire(bus_actor_pg(g->actor), err);
    if (c == NULL) {
        if (claimed) cache_abandon(g->auth, hash);
        if (refresh) return answer_cached(cached, &cached_caller, out, err);
        return tb_error_set(err, TB_UNAVAILABLE, NULL, "the key store is unreachable");
    }
    tb_status s = gw_keystore_find(c, key, out, err);
    bus_pg_release(bus_actor_pg(g->actor), c);
    if (s == TB_OK) {
        cache_put(g->auth, hash, out, claimed);
    } else if (s == TB_UNAUTHORIZED) {
        cache_put(g->auth, hash, NULL, claimed);
        if (gw_authfail_count(g, client, true, &failures, &rl_err) != TB_OK)
            bus_log(BUS_LOG_WARN, "failed key lookup not counted: %s", rl_err.message);
    } else if (claimed) {
        cache_abandon(g->auth, hash);
        if (refresh) return answer_cached(cached, &cached_caller, out, err);
    }
    return s;
}

/* POST /v1/api-keys: {"role","accounts","name"} -> the new key, once. */
void gw_handle_key_create(gw_req *r) {
    const gw_route *rt = r->match.route;
    json_t *j = gw_read_json(r);
    if (j == NULL) return;
    gw_drop_server_set(rt, j);
    /* The id is required by the type but chosen by the store: a temporary
     * value lets the catalogue validate the caller's fields; the store
     * replaces it. */
    json_object_set_new(j, "id", json_string("new"));
    tb_api_key req;
    tb_error err = {0};
    tb_status s = tb_from_json(&tb_api_key_desc, j, &req, &err);
    json_decref(j);
    gw_role role = GW_ROLE_VIEWER;
    if (s == TB_OK && !gw_role_parse(req.role, &role))
        s = tb_error_set(&err, TB_INVALID, "role", "role: expected admin, trader or viewer");
    if (s != TB_OK) {
        gw_send_error(r, &err);
        return;
    }
    PGconn *c = bus_pg_acquire(bus_actor_pg(r->g->actor), &err);
    if (c == NULL) {
        gw_send_error(r, &err);
        return;
    }
    tb_api_key k;
    s = gw_keystore_create(c, role, req.accounts, req.name, &k, &err);
    bus_pg_release(bus_actor_pg(r->g->actor), c);
    if (s != TB_OK) {
        gw_send_error(r, &err);
        return;
    }
    bus_log(BUS_LOG_INFO, "API key %s (%s) created by %s", k.id, k.role, r->caller.key_id);
    json_t *out = NULL;
    if (tb_to_json(&tb_api_key_desc, &k, &out) != TB_OK) out = NULL;
    memset(k.key, 0, sizeof k.key);
    gw_send_json(r, rt->success, out);
}

/* DELETE /v1/api-keys/{id} */
void gw_handle_key_revoke(gw_req *r) {
    tb_error err = {0};
    if (!gw_request_id_valid(r->match.param)) {
        gw_send_fail(r, TB_INVALID, "id", "id: not a key id");
        return;
    }
    PGconn *c = bus_pg_acquire(bus_actor_pg(r->g->actor), &err);
    if (c == NULL) {
        gw_send_error(r, &err);
        return;
    }
    tb_status s = gw_keystore_revoke(c, r->match.param, &err);
    bus_pg_release(bus_actor_pg(r->g->actor), c);
    if (s != TB_OK) {
        gw_send_error(r, &err);
        return;
    }
    gw_auth_forget(r->g, r->match.param);
    gw_stream_revoke(r->g, r->match.param);
    bus_log(BUS_LOG_INFO, "API key %s revoked by %s", r->match.param, r->caller.key_id);
    gw_send(r, r->match.route->success, NULL, NULL, 0, NULL);
}
