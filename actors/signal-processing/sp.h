/* Internal interface of the signal-processing service between its I/O files:
 * main.c (actor definition, settings), cache.c (strategy cache), db.c
 * (PostgreSQL), api.c (api.strategies.*, api.signals.list) and ticks.c
 * (md.tick.> -> sig.<strategy_id>.<SYM>). Not used outside this directory. */
#ifndef SP_SP_H
#define SP_SP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "actor.h"
#include "store.h"
#include "strategy_config.h"

/* Service name: NATS micro name and queue group. */
#define SP_SERVICE "signal-processing"
/* Redis key of the indicator state of (strategy, symbol): a hash with fields
 * seq (last applied tick sequence) and state (strategy_state.c JSON). */
#define SP_STATE_KEY_FMT "tb:sp:state:%s:%s"
/* Redis key of the ticks of (strategy, symbol) waiting for their
 * predecessor: a sorted set scored by seq (tick_store.c). */
#define SP_PARK_KEY_FMT "tb:sp:park:%s:%s"

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
/* Records sigs[0..n) with one INSERT of unnested arrays, ON CONFLICT DO
 * NOTHING; inserted[i] is false when sigs[i]'s id was already recorded. */
tb_status sp_db_insert_signals(PGconn *pg, const tb_signal *sigs, size_t n, bool *inserted,
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
    char cas_sha[48]; /* SHA1 of the advance script (tick_store.c) */
    bus_series *m_signals_buy, *m_signals_sell, *m_gaps, *m_stale, *m_cas_retries, *m_waits,
        *m_resets;
    bus_series *m_signal_errors, *m_cfg_events, *m_bad_parked;
    /* Symbols with parked ticks to look at again once their wait expires
     * (revisit.c); guarded by revisit_mu (handler threads and the timer). */
    pthread_mutex_t revisit_mu;
    struct sp_revisit_entry *revisit;
    size_t nrevisit, revisit_cap;
} sp_service;

sp_service *sp_service_of(bus_ctx *ctx);

/* ---- api.c ---- */
tb_status sp_on_strategies_list(bus_ctx *ctx, const void *ev);
tb_status sp_on_strategies_get(bus_ctx *ctx, const void *ev);
tb_status sp_on_strategies_create(bus_ctx *ctx, const void *ev);
/* api.strategies.check: validates kind and params as create does and
 * answers the strategy with canonical params; stores nothing (a backtest
 * checks its runs before it creates their accounts). */
tb_status sp_on_strategies_check(bus_ctx *ctx, const void *ev);
tb_status sp_on_strategies_update(bus_ctx *ctx, const void *ev);
tb_status sp_on_strategies_delete(bus_ctx *ctx, const void *ev);
tb_status sp_on_signals_list(bus_ctx *ctx, const void *ev);
tb_status sp_on_strategy_changed(bus_ctx *ctx, const void *ev);

/* ---- tick_store.c: Redis round trips of the tick path ---- */
/* Loads the advance script into Redis at start (svc->cas_sha). */
tb_status sp_ticks_load_script(redisContext *r, sp_service *svc, tb_error *err) TB_WARN_UNUSED;
typedef bus_redis_argv sp_redis_cmd;
/* Runs the advance script for each cmds[i]: argv[0] and argv[1] are filled
 * here (EVALSHA and the SHA), argv[2..] are "2", state key, park key,
 * expected seq, new seq, state, ttl s, wait ms, most ticks to return, then
 * (seq, parked text) pairs to park. See tick_store.c for the reply. */
tb_status sp_advance_pipeline(redisContext *r, sp_service *svc, sp_redis_cmd *cmds, size_t n,
                              redisReply **reps, tb_error *err) TB_WARN_UNUSED;

/* ---- ticks.c: md.tick.> in batches ---- */
tb_status sp_on_ticks(bus_ctx *ctx, const bus_batch *b);
/* Looks again at the parked ticks of symbols[0..n) (timer thread): applies
 * those whose predecessor came or whose wait expired. */
tb_status sp_ticks_revisit(bus_actor *a, const char (*symbols)[TB_TOKEN_CAP], size_t n,
                           tb_error *err) TB_WARN_UNUSED;

/* ---- revisit.c: when to look at parked ticks again ---- */
typedef struct sp_revisit_entry {
    char symbol[TB_TOKEN_CAP];
    int64_t due_ns; /* bus_mono_ns time */
} sp_revisit_entry;
/* Asks for a look at symbol's parked ticks at due_ns (the earlier of two
 * requests wins). */
void sp_revisit_add(sp_service *svc, const char *symbol, int64_t due_ns);
/* Moves up to cap symbols that are due at now_ns into out; returns how many. */
size_t sp_revisit_take(sp_service *svc, int64_t now_ns, char (*out)[TB_TOKEN_CAP], size_t cap);
void sp_revisit_free(sp_service *svc);
/* bus_actor_add_timer callback (arg unused). */
void sp_revisit_timer(bus_actor *a, void *arg);

#endif
