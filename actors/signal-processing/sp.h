/* Internal interface of the signal-processing service between its I/O files:
 * main.c (actor definition, settings), cache.c (strategy cache), db.c
 * (PostgreSQL), api.c (api.strategies.*, api.signals.list) and ticks.c
 * (md.tick.> -> sig.<strategy_id>.<SYM>). Not used outside this directory. */
#ifndef SP_SP_H
#define SP_SP_H

#include <stdbool.h>
#include <stdint.h>

#include "actor.h"
#include "strategy_config.h"

/* Service name: NATS micro name and queue group. */
#define SP_SERVICE "signal-processing"
/* Redis key of the indicator state of (strategy, symbol): a hash with fields
 * seq (last applied tick sequence) and state (strategy_state.c JSON). */
#define SP_STATE_KEY_FMT "tb:sp:state:%s:%s"

/* ---- cache.c: in-memory copy of the enabled strategies per symbol ----
 * Only a copy of PostgreSQL: entries expire after a TTL, a strategy change
 * event clears everything, and a miss is loaded from the database. */
typedef struct sp_cache sp_cache;

sp_cache *sp_cache_create(int64_t ttl_ms, size_t max_symbols);
void sp_cache_destroy(sp_cache *c);
/* Fresh entry for symbol: *items (malloc'd copy, caller frees; NULL when
 * empty) and *n; false on a miss or an expired entry. *generation receives
 * the generation to pass to sp_cache_put after loading. */
bool sp_cache_get(sp_cache *c, const char *symbol, sp_strategy_cfg **items, size_t *n,
                  uint64_t *generation);
/* Stores a loaded list unless the cache was cleared since generation (the
 * load may predate a change). Copies items. */
void sp_cache_put(sp_cache *c, const char *symbol, const sp_strategy_cfg *items, size_t n,
                  uint64_t generation);
void sp_cache_clear(sp_cache *c);
size_t sp_cache_symbols(sp_cache *c);

/* ---- db.c: strategies and signals in PostgreSQL ---- */

/* Enabled strategies of symbol; rows whose stored parameters no longer
 * validate are skipped with a warning. *items malloc'd (caller frees). */
tb_status sp_db_load_symbol(PGconn *pg, const char *symbol, sp_strategy_cfg **items, size_t *n,
                            tb_error *err) TB_WARN_UNUSED;
/* One strategy by id; TB_NOT_FOUND (field "id") when absent. */
tb_status sp_db_get(PGconn *pg, const char *id, sp_strategy_cfg *out, tb_error *err) TB_WARN_UNUSED;
/* Strategies filtered by q (account, symbol, accounts, cursor = last id of
 * the previous page), ordered by id, at most limit. */
tb_status sp_db_list(PGconn *pg, const tb_query *q, size_t limit, tb_strategy **items, size_t *n,
                     tb_error *err) TB_WARN_UNUSED;
/* Inserts in (validated, params canonical). TB_CONFLICT (field strategy_id)
 * when the id exists, TB_INVALID (field account) for an unknown account. */
tb_status sp_db_insert(PGconn *pg, const tb_strategy *in, sp_strategy_cfg *out,
                       tb_error *err) TB_WARN_UNUSED;
/* Replaces the strategy's configuration; *old_symbol gets its previous
 * symbol. TB_NOT_FOUND, or TB_INVALID for an unknown account. */
tb_status sp_db_update(PGconn *pg, const tb_strategy *in, sp_strategy_cfg *out,
                       char old_symbol[TB_TOKEN_CAP], tb_error *err) TB_WARN_UNUSED;
tb_status sp_db_delete(PGconn *pg, const char *id, sp_strategy_cfg *out,
                       tb_error *err) TB_WARN_UNUSED;
/* Records a signal; *inserted is false when its id was already recorded. */
tb_status sp_db_insert_signal(PGconn *pg, const tb_signal *sig, bool *inserted,
                              tb_error *err) TB_WARN_UNUSED;
/* Signals filtered by q (account, accounts, strategy_id, symbol, from, to),
 * newest first, at most limit. */
tb_status sp_db_list_signals(PGconn *pg, const tb_query *q, size_t limit, tb_signal **items,
                             size_t *n, tb_error *err) TB_WARN_UNUSED;

/* ---- the service (main.c) ---- */
typedef struct sp_service {
    int64_t order_wait_ms; /* bounded wait for a tick's predecessor */
    int64_t state_ttl_s;   /* expiry of idle indicator state in Redis */
    int64_t list_max;      /* cap of list limits */
    sp_cache *cache;
    char cas_sha[48]; /* SHA1 of the compare-and-set script */
    bus_series *m_signals_buy, *m_signals_sell, *m_gaps, *m_stale, *m_cas_retries, *m_waits,
        *m_resets;
    bus_series *m_signal_errors, *m_cfg_events;
} sp_service;

sp_service *sp_service_of(bus_ctx *ctx);

/* ---- api.c ---- */
tb_status sp_on_strategies_list(bus_ctx *ctx, const void *ev);
tb_status sp_on_strategies_get(bus_ctx *ctx, const void *ev);
tb_status sp_on_strategies_create(bus_ctx *ctx, const void *ev);
tb_status sp_on_strategies_update(bus_ctx *ctx, const void *ev);
tb_status sp_on_strategies_delete(bus_ctx *ctx, const void *ev);
tb_status sp_on_signals_list(bus_ctx *ctx, const void *ev);
tb_status sp_on_strategy_changed(bus_ctx *ctx, const void *ev);

/* ---- ticks.c ---- */
/* Loads the compare-and-set script into Redis (start, and after NOSCRIPT). */
tb_status sp_ticks_load_script(redisContext *r, sp_service *svc, tb_error *err) TB_WARN_UNUSED;
tb_status sp_on_tick(bus_ctx *ctx, const void *ev);

#endif
