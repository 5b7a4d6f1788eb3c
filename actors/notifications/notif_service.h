/* The notifications service's shared state and I/O helpers: settings,
 * metrics, the rules cache, the throttles, and notif_io, which lends the
 * store connections of a handler (borrowed by the runtime) or of a timer
 * (borrowed from the pools) to code that serves both. */
#ifndef NOTIF_SERVICE_H
#define NOTIF_SERVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "actor.h"
#include "notif_addr.h"
#include "notif_rules.h"
#include "notif_throttle.h"

typedef struct notif_settings {
    int64_t delivery_interval_ms; /* NOTIF_DELIVERY_INTERVAL_MS */
    int64_t http_timeout_ms;      /* NOTIF_HTTP_TIMEOUT_MS */
    int64_t backoff_base_ms;      /* NOTIF_BACKOFF_BASE_MS */
    int64_t backoff_max_ms;       /* NOTIF_BACKOFF_MAX_MS */
    int64_t max_attempts;         /* NOTIF_MAX_ATTEMPTS */
    int64_t batch;                /* NOTIF_DELIVERY_BATCH */
    int64_t retention_h;          /* NOTIF_DELIVERED_RETENTION_H */
    int64_t rules_refresh_ms;     /* NOTIF_RULES_REFRESH_MS */
    int64_t price_interval_ms;    /* NOTIF_PRICE_INTERVAL_MS */
    int64_t equity_interval_ms;   /* NOTIF_EQUITY_INTERVAL_MS */
    int64_t equity_timeout_ms;    /* NOTIF_EQUITY_TIMEOUT_MS */
    int64_t state_ttl_s;          /* NOTIF_STATE_TTL_S */
    notif_allow allow;            /* NOTIF_WEBHOOK_ALLOW */
} notif_settings;

/* Enabled threshold rules (price, position, drawdown), reloaded every
 * rules_refresh_ms: the tick and position paths are too hot to query
 * PostgreSQL per event. Fill and risk rules are read per event instead. */
typedef struct notif_cache {
    pthread_rwlock_t lock;
    notif_rule *rules;
    size_t n;
} notif_cache;

typedef struct notif_service {
    notif_settings set;
    notif_cache cache;
    notif_throttle *prices; /* per symbol */
    notif_throttle *equity; /* per account */
    bus_series *m_alerts[NOTIF_KIND_COUNT];
    bus_series *m_foreign_alerts;
    bus_series *m_enqueued;
    bus_series *m_delivered, *m_retried, *m_dead, *m_dead_total;
    bus_series *m_eval_errors, *m_rejected_events;
} notif_service;

static inline notif_service *notif_of(bus_actor *a) {
    return bus_actor_user(a);
}

/* Store connections for code run by handlers and timers alike. */
typedef struct notif_io {
    bus_actor *a;
    bus_ctx *ctx; /* the handler's context, or NULL on a timer */
    PGconn *pg;   /* borrowed from the pool (timer) */
    redisContext *redis;
} notif_io;

static inline notif_io notif_io_of_ctx(bus_ctx *ctx) {
    return (notif_io){.a = bus_ctx_actor(ctx), .ctx = ctx};
}
static inline notif_io notif_io_of_actor(bus_actor *a) {
    return (notif_io){.a = a};
}
/* Borrowed until notif_io_release (timer) or the end of the handler. NULL
 * with err (TB_UNAVAILABLE) when none can be had now. */
PGconn *notif_io_pg(notif_io *io, tb_error *err);
redisContext *notif_io_redis(notif_io *io, tb_error *err);
void notif_io_release(notif_io *io);

/* ---- rules cache (notif_cache.c) ---- */
void notif_cache_init(notif_cache *c);
void notif_cache_close(notif_cache *c);
/* Reloads the enabled threshold rules from PostgreSQL. */
tb_status notif_cache_refresh(notif_cache *c, PGconn *pg, tb_error *err) TB_WARN_UNUSED;
/* Copies the cached rules of kind that apply to account / symbol into a
 * malloc'd array (*out, caller frees; NULL when none); returns the count. */
size_t notif_cache_match(notif_cache *c, notif_kind kind, const char *account, const char *symbol,
                         notif_rule **out);
/* How many cached rules of kind apply to account / symbol (no copy: the
 * tick path asks this for every tick). */
size_t notif_cache_count(notif_cache *c, notif_kind kind, const char *account, const char *symbol);
/* Starts the refresh timer. */
tb_status notif_cache_start(bus_actor *a, tb_error *err) TB_WARN_UNUSED;

#endif
