/* Request endpoints of signal-processing: api.strategies.list|get|create|
 * update|delete and api.signals.list, plus the cfg.strategy.<id> listener
 * that every instance runs to drop its cached configuration.
 *
 * Writes validate everything before touching PostgreSQL, so a bad request
 * changes nothing; after a committed write the change is announced on
 * cfg.strategy.<id> so every instance reloads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp.h"

#define SP_LIST_DEFAULT 100

static size_t list_limit(const sp_service *svc, uint64_t asked) {
    if (asked == 0) return SP_LIST_DEFAULT;
    return asked > (uint64_t)svc->list_max ? (size_t)svc->list_max : (size_t)asked;
}

/* Whether account is in the comma-separated list the gateway passes for a
 * restricted caller (empty list: no restriction). */
static bool account_allowed(const char *accounts, const char *account) {
    if (accounts == NULL || accounts[0] == '\0') return true;
    size_t n = strlen(account);
    for (const char *p = accounts; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, account, n) == 0) return true;
        if (end == NULL) break;
        p = end + 1;
    }
    return false;
}

static void announce(bus_ctx *ctx, const char *strategy_id, const char *action) {
    sp_service *svc = sp_service_of(ctx);
    /* This instance drops its copy at once; the others when the event arrives. */
    sp_cache_clear(svc->cache);
    tb_strategy_changed ev;
    memset(&ev, 0, sizeof ev);
    snprintf(ev.strategy_id, sizeof ev.strategy_id, "%s", strategy_id);
    snprintf(ev.action, sizeof ev.action, "%s", action);
    ev.ts = tb_now_ns();
    char subject[128];
    snprintf(subject, sizeof subject, "cfg.strategy.%s", strategy_id);
    bus_msg_meta meta = {.trace_id = bus_ctx_trace(ctx)};
    if (bus_publish(bus_actor_conn(bus_ctx_actor(ctx)), subject, &tb_strategy_changed_desc, &ev,
                    &meta) != TB_OK)
        /* The write is committed; other instances catch up within the cache TTL. */
        bus_log(BUS_LOG_WARN,
                "could not announce %s of strategy %s; other instances reload "
                "it when their cache expires",
                action, strategy_id);
}

/* Deletes the indicator state of (strategy, symbol); a failure only leaves
 * an orphan key that expires on its own. */
static void drop_state(bus_ctx *ctx, const char *strategy_id, const char *symbol) {
    tb_error err = {0};
    redisContext *r = bus_ctx_redis(ctx, &err);
    char key[192];
    snprintf(key, sizeof key, SP_STATE_KEY_FMT, strategy_id, symbol);
    if (r == NULL || bus_redis_cmd(r, NULL, &err, "DEL %s", key) != TB_OK)
        bus_log(BUS_LOG_WARN, "indicator state %s not deleted: %s", key, err.message);
}

tb_status sp_on_strategies_list(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    tb_error err = {0};
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL) return bus_fail_err(ctx, &err);
    size_t limit = list_limit(sp_service_of(ctx), q->limit), n = 0;
    tb_strategy *items = NULL;
    tb_status s = sp_db_list(pg, q, limit, &items, &n, &err);
    if (s != TB_OK) return bus_fail_err(ctx, &err);
    s = bus_reply_list(ctx, &tb_strategy_desc, items, n,
                       n == limit && n > 0 ? items[n - 1].strategy_id : NULL);
    free(items);
    return s;
}

tb_status sp_on_strategies_get(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    if (q->id[0] == '\0') return bus_fail(ctx, TB_MISSING_FIELD, "id", "strategy id required");
    tb_error err = {0};
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL) return bus_fail_err(ctx, &err);
    sp_strategy_cfg cfg;
    if (sp_db_get(pg, q->id, &cfg, &err) != TB_OK) return bus_fail_err(ctx, &err);
    if (!account_allowed(q->accounts, cfg.row.account))
        return bus_fail(ctx, TB_FORBIDDEN, "id", "strategy %s belongs to another account", q->id);
    return bus_reply(ctx, &tb_strategy_desc, &cfg.row);
}

/* Validates in and returns a copy with canonical parameters. */
static tb_status checked(bus_ctx *ctx, const tb_strategy *in, tb_strategy *out) {
    tb_error err = {0};
    sp_params params;
    if (sp_strategy_validate(in, &params, &err) != TB_OK) return bus_fail_err(ctx, &err);
    *out = *in;
    sp_params_format(&params, out->params, sizeof out->params);
    return TB_OK;
}

tb_status sp_on_strategies_create(bus_ctx *ctx, const void *ev) {
    tb_strategy in;
    tb_status s = checked(ctx, ev, &in);
    if (s != TB_OK) return s;
    tb_error err = {0};
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL) return bus_fail_err(ctx, &err);
    sp_strategy_cfg cfg;
    if (sp_db_insert(pg, &in, &cfg, &err) != TB_OK) return bus_fail_err(ctx, &err);
    /* A strategy id may be reused after a delete: never inherit old state. */
    drop_state(ctx, cfg.row.strategy_id, cfg.row.symbol);
    bus_log(BUS_LOG_INFO, "strategy %s created (%s on %s for %s)", cfg.row.strategy_id,
            cfg.row.kind, cfg.row.symbol, cfg.row.account);
    announce(ctx, cfg.row.strategy_id, "created");
    return bus_reply(ctx, &tb_strategy_desc, &cfg.row);
}

tb_status sp_on_strategies_check(bus_ctx *ctx, const void *ev) {
    tb_strategy in;
    tb_status s = checked(ctx, ev, &in);
    if (s != TB_OK) return s;
    return bus_reply(ctx, &tb_strategy_desc, &in);
}

tb_status sp_on_strategies_update(bus_ctx *ctx, const void *ev) {
    tb_strategy in;
    tb_status s = checked(ctx, ev, &in);
    if (s != TB_OK) return s;
    tb_error err = {0};
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL) return bus_fail_err(ctx, &err);
    sp_strategy_cfg cfg;
    char old_symbol[TB_TOKEN_CAP] = "";
    if (sp_db_update(pg, &in, &cfg, old_symbol, &err) != TB_OK) return bus_fail_err(ctx, &err);
    /* The state of the new symbol restarts by itself (its version is older
     * than the strategy's); the old symbol's state would only linger. */
    if (strcmp(old_symbol, cfg.row.symbol) != 0) drop_state(ctx, cfg.row.strategy_id, old_symbol);
    bus_log(BUS_LOG_INFO, "strategy %s updated", cfg.row.strategy_id);
    announce(ctx, cfg.row.strategy_id, "updated");
    return bus_reply(ctx, &tb_strategy_desc, &cfg.row);
}

tb_status sp_on_strategies_delete(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    if (q->id[0] == '\0') return bus_fail(ctx, TB_MISSING_FIELD, "id", "strategy id required");
    tb_error err = {0};
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL) return bus_fail_err(ctx, &err);
    if (q->accounts[0]) {
        /* A restricted caller may only delete its own accounts' strategies. */
        sp_strategy_cfg cur;
        if (sp_db_get(pg, q->id, &cur, &err) != TB_OK) return bus_fail_err(ctx, &err);
        if (!account_allowed(q->accounts, cur.row.account))
            return bus_fail(ctx, TB_FORBIDDEN, "id", "strategy %s belongs to another account",
                            q->id);
    }
    sp_strategy_cfg cfg;
    if (sp_db_delete(pg, q->id, &cfg, &err) != TB_OK) return bus_fail_err(ctx, &err);
    drop_state(ctx, cfg.row.strategy_id, cfg.row.symbol);
    bus_log(BUS_LOG_INFO, "strategy %s deleted", cfg.row.strategy_id);
    announce(ctx, cfg.row.strategy_id, "deleted");
    return bus_reply(ctx, &tb_strategy_desc, &cfg.row);
}

tb_status sp_on_signals_list(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    tb_error err = {0};
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL) return bus_fail_err(ctx, &err);
    size_t limit = list_limit(sp_service_of(ctx), q->limit), n = 0;
    tb_signal *items = NULL;
    if (sp_db_list_signals(pg, q, limit, &items, &n, &err) != TB_OK) return bus_fail_err(ctx, &err);
    tb_status s = bus_reply_list(ctx, &tb_signal_desc, items, n, NULL);
    free(items);
    return s;
}

tb_status sp_on_strategy_changed(bus_ctx *ctx, const void *ev) {
    const tb_strategy_changed *c = ev;
    sp_service *svc = sp_service_of(ctx);
    sp_cache_clear(svc->cache);
    bus_counter_add(svc->m_cfg_events, 1);
    bus_log(BUS_LOG_DEBUG, "strategy %s %s: configuration cache cleared", c->strategy_id,
            c->action);
    return TB_OK;
}
