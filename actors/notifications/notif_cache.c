/* The threshold-rules cache; see notif_service.h. A snapshot replaced
 * wholesale on each refresh under a write lock; readers copy what matches,
 * so no rule is read while it is being replaced. A rule created through
 * this instance is visible here at once (notif_api.c refreshes); other
 * instances see it within NOTIF_RULES_REFRESH_MS. */
#include <stdlib.h>
#include <string.h>

#include "notif_service.h"
#include "notif_store.h"
#include "timer.h"

#define THRESHOLD_KINDS "price_above,price_below,position_limit,drawdown"

void notif_cache_init(notif_cache *c) {
    pthread_rwlock_init(&c->lock, NULL);
    c->rules = NULL;
    c->n = 0;
}

void notif_cache_close(notif_cache *c) {
    free(c->rules);
    c->rules = NULL;
    c->n = 0;
    pthread_rwlock_destroy(&c->lock);
}

tb_status notif_cache_refresh(notif_cache *c, PGconn *pg, tb_error *err) {
    notif_rule *rules = NULL;
    size_t n = 0;
    tb_status s = notif_db_rules(pg, THRESHOLD_KINDS, NULL, NULL, &rules, &n, err);
    if (s != TB_OK) return s;
    pthread_rwlock_wrlock(&c->lock);
    notif_rule *old = c->rules;
    c->rules = rules;
    c->n = n;
    pthread_rwlock_unlock(&c->lock);
    free(old);
    return TB_OK;
}

size_t notif_cache_match(notif_cache *c, notif_kind kind, const char *account, const char *symbol,
                         notif_rule **out) {
    *out = NULL;
    size_t k = 0;
    pthread_rwlock_rdlock(&c->lock);
    for (size_t i = 0; i < c->n; i++)
        if (c->rules[i].kind == kind && notif_rule_applies(&c->rules[i], account, symbol)) k++;
    notif_rule *v = k ? malloc(k * sizeof *v) : NULL;
    size_t j = 0;
    for (size_t i = 0; v && i < c->n; i++)
        if (c->rules[i].kind == kind && notif_rule_applies(&c->rules[i], account, symbol))
            v[j++] = c->rules[i];
    pthread_rwlock_unlock(&c->lock);
    if (k && v == NULL) {
        bus_log(BUS_LOG_ERROR, "out of memory matching %s rules: not evaluated",
                notif_kind_name(kind));
        return 0;
    }
    *out = v;
    return j;
}

size_t notif_cache_count(notif_cache *c, notif_kind kind, const char *account, const char *symbol) {
    size_t k = 0;
    pthread_rwlock_rdlock(&c->lock);
    for (size_t i = 0; i < c->n; i++)
        if (c->rules[i].kind == kind && notif_rule_applies(&c->rules[i], account, symbol)) k++;
    pthread_rwlock_unlock(&c->lock);
    return k;
}

static void refresh_tick(bus_actor *a, void *arg) {
    (void)arg;
    notif_service *svc = notif_of(a);
    tb_error err = {0};
    PGconn *pg = bus_pg_acquire(bus_actor_pg(a), &err);
    if (pg == NULL || notif_cache_refresh(&svc->cache, pg, &err) != TB_OK)
        bus_log(BUS_LOG_WARN, "alert rules not reloaded (the previous set stays in use): %s",
                err.message);
    if (pg) bus_pg_release(bus_actor_pg(a), pg);
}

tb_status notif_cache_start(bus_actor *a, tb_error *err) {
    notif_service *svc = notif_of(a);
    PGconn *pg = bus_pg_acquire(bus_actor_pg(a), err);
    if (pg == NULL) return err->status;
    tb_status s = notif_cache_refresh(&svc->cache, pg, err);
    bus_pg_release(bus_actor_pg(a), pg);
    if (s != TB_OK) return s;
    return bus_actor_add_timer(a, "rules", svc->set.rules_refresh_ms, refresh_tick, NULL, NULL,
                               err);
}
