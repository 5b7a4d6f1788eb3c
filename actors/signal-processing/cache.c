/* Strategy cache: enabled strategies per symbol, copied from PostgreSQL.
 *
 * Why a cache: every tick needs its symbol's strategies, and asking the
 * database per tick would make PostgreSQL the bottleneck of the tick path.
 * Why it cannot change results: entries live at most ttl, every strategy
 * change (cfg.strategy.<id>, received by every instance) clears the whole
 * cache, a symbol not in the cache is loaded on first use, and the indicator
 * state in Redis carries the strategy version, so a worker holding an older
 * copy notices and reloads (ticks.c). Empty lists are cached too, so symbols
 * without strategies cost one query per ttl. Thread-safe (one mutex). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sp.h"

#define SP_CACHE_BUCKETS 1024

typedef struct entry {
    struct entry *next;
    char symbol[TB_TOKEN_CAP];
    int64_t loaded_ns;
    sp_strategy_cfg *items;
    size_t n;
} entry;

struct sp_cache {
    pthread_mutex_t lock;
    int64_t ttl_ns;
    size_t max_symbols, count;
    uint64_t generation; /* bumped by every clear */
    entry *buckets[SP_CACHE_BUCKETS];
};

static unsigned bucket_of(const char *s) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h % SP_CACHE_BUCKETS;
}

sp_cache *sp_cache_create(int64_t ttl_ms, size_t max_symbols) {
    sp_cache *c = calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    pthread_mutex_init(&c->lock, NULL);
    c->ttl_ns = ttl_ms * 1000000;
    c->max_symbols = max_symbols ? max_symbols : 1;
    return c;
}

static void clear_locked(sp_cache *c) {
    for (int b = 0; b < SP_CACHE_BUCKETS; b++) {
        entry *e = c->buckets[b];
        while (e) {
            entry *next = e->next;
            free(e->items);
            free(e);
            e = next;
        }
        c->buckets[b] = NULL;
    }
    c->count = 0;
    c->generation++;
}

void sp_cache_destroy(sp_cache *c) {
    if (c == NULL) return;
    clear_locked(c);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void sp_cache_clear(sp_cache *c) {
    pthread_mutex_lock(&c->lock);
    clear_locked(c);
    pthread_mutex_unlock(&c->lock);
}

size_t sp_cache_symbols(sp_cache *c) {
    pthread_mutex_lock(&c->lock);
    size_t n = c->count;
    pthread_mutex_unlock(&c->lock);
    return n;
}

static entry *find_locked(sp_cache *c, const char *symbol, entry ***link) {
    entry **p = &c->buckets[bucket_of(symbol)];
    for (; *p; p = &(*p)->next)
        if (strcmp((*p)->symbol, symbol) == 0) break;
    if (link) *link = p;
    return *p;
}

bool sp_cache_get(sp_cache *c, const char *symbol, sp_strategy_cfg **items, size_t *n,
                  uint64_t *generation) {
    bool hit = false;
    *items = NULL;
    *n = 0;
    pthread_mutex_lock(&c->lock);
    *generation = c->generation;
    entry *e = find_locked(c, symbol, NULL);
    if (e && bus_mono_ns() - e->loaded_ns < c->ttl_ns) {
        if (e->n == 0) {
            hit = true;
        } else if ((*items = malloc(e->n * sizeof **items)) != NULL) {
            memcpy(*items, e->items, e->n * sizeof **items);
            *n = e->n;
            hit = true;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void sp_cache_put(sp_cache *c, const char *symbol, const sp_strategy_cfg *items, size_t n,
                  uint64_t generation) {
    sp_strategy_cfg *copy = NULL;
    if (n && (copy = malloc(n * sizeof *copy)) == NULL) return; /* stays a miss */
    if (n) memcpy(copy, items, n * sizeof *copy);
    pthread_mutex_lock(&c->lock);
    if (generation != c->generation) {
        /* A change arrived while this list was loaded: it may be outdated. */
        pthread_mutex_unlock(&c->lock);
        free(copy);
        return;
    }
    entry **link;
    entry *e = find_locked(c, symbol, &link);
    if (e == NULL) {
        /* Bounded memory against ticks for endless distinct symbols. */
        if (c->count >= c->max_symbols) {
            clear_locked(c);
            link = &c->buckets[bucket_of(symbol)];
        }
        e = calloc(1, sizeof *e);
        if (e == NULL) {
            pthread_mutex_unlock(&c->lock);
            free(copy);
            return;
        }
        snprintf(e->symbol, sizeof e->symbol, "%s", symbol);
        *link = e;
        c->count++;
    }
    free(e->items);
    e->items = copy;
    e->n = n;
    e->loaded_ns = bus_mono_ns();
    pthread_mutex_unlock(&c->lock);
}
