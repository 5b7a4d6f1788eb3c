/* The tick path: md.tick.<SYM> in, sig.<strategy_id>.<SYM> out.
 *
 * For every enabled strategy on the tick's symbol the indicator state lives
 * in Redis under tb:sp:state:<strategy_id>:<SYM> as a hash {seq, state}. A
 * worker reads it, decides with sp_seq_decide (sequencer.h) whether this tick
 * is the next one, computes the new state with the pure strategy code, and
 * writes it back with a Lua compare-and-set on seq. Only one worker can move
 * seq from k-1 to k, so tick k is applied exactly once, in order, whichever
 * worker received it; only that worker emits the tick's signal, and the
 * signal id <strategy_id>-<SYM>-<seq> is the same whoever computes it.
 * A tick that arrives before its predecessor was applied polls (bounded by
 * SP_ORDER_WAIT_MS), then is applied across the gap, which is counted.
 *
 * The signal is recorded in PostgreSQL (ON CONFLICT DO NOTHING) and then
 * published with the tick's trace id. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sequencer.h"
#include "sp.h"
#include "strategy_state.h"

/* KEYS[1] state hash; ARGV: expected seq ("" = no state), new seq, state,
 * ttl seconds (0 = none). Returns 1 when written, 0 when seq moved on. */
static const char CAS_SCRIPT[] = "local cur = redis.call('HGET', KEYS[1], 'seq')\n"
                                 "if not cur then cur = '' end\n"
                                 "if cur ~= ARGV[1] then return 0 end\n"
                                 "redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'state', ARGV[3])\n"
                                 "local ttl = tonumber(ARGV[4])\n"
                                 "if ttl and ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end\n"
                                 "return 1\n";

tb_status sp_ticks_load_script(redisContext *r, sp_service *svc, tb_error *err) {
    redisReply *rep = NULL;
    tb_status s = bus_redis_cmd(r, &rep, err, "SCRIPT LOAD %s", CAS_SCRIPT);
    if (s != TB_OK) return s;
    if (rep->type != REDIS_REPLY_STRING || rep->len >= sizeof svc->cas_sha) {
        freeReplyObject(rep);
        return tb_error_set(err, TB_ERR, NULL, "SCRIPT LOAD returned no SHA");
    }
    memcpy(svc->cas_sha, rep->str, rep->len);
    svc->cas_sha[rep->len] = '\0';
    freeReplyObject(rep);
    return TB_OK;
}

/* Compare-and-set of the state hash; *written tells whether we won. */
static tb_status cas(redisContext *r, const sp_service *svc, const char *key, const char *expected,
                     uint64_t seq, const char *blob, size_t blob_len, bool *written,
                     tb_error *err) {
    char seq_s[24], ttl_s[24];
    snprintf(seq_s, sizeof seq_s, "%" PRIu64, seq);
    snprintf(ttl_s, sizeof ttl_s, "%" PRId64, svc->state_ttl_s);
    const char *argv[] = {"EVALSHA", svc->cas_sha, "1", key, expected, seq_s, blob, ttl_s};
    size_t lens[] = {7,           strlen(svc->cas_sha), 1,
                     strlen(key), strlen(expected),     strlen(seq_s),
                     blob_len,    strlen(ttl_s)};
    redisReply *rep = NULL;
    tb_status s = bus_redis_cmd_argv(r, 8, argv, lens, &rep, err);
    if (s != TB_OK && strstr(err->message, "NOSCRIPT")) {
        /* Redis restarted and lost its script cache: EVAL sends the text
         * (and caches it again for the next EVALSHA). */
        argv[0] = "EVAL";
        lens[0] = 4;
        argv[1] = CAS_SCRIPT;
        lens[1] = sizeof CAS_SCRIPT - 1;
        s = bus_redis_cmd_argv(r, 8, argv, lens, &rep, err);
    }
    if (s != TB_OK) return s;
    *written = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
    freeReplyObject(rep);
    return TB_OK;
}

/* Reads the state hash. *blob is malloc'd (caller frees) or NULL. */
static tb_status read_state(redisContext *r, const char *key, bool *has, uint64_t *last_seq,
                            char **blob, size_t *blob_len, tb_error *err) {
    redisReply *rep = NULL;
    tb_status s = bus_redis_cmd(r, &rep, err, "HMGET %s seq state", key);
    if (s != TB_OK) return s;
    *has = false;
    *blob = NULL;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[0]->type == REDIS_REPLY_STRING) {
        char *end = NULL;
        unsigned long long v = strtoull(rep->element[0]->str, &end, 10);
        if (end && *end == '\0' && v > 0) {
            *has = true;
            *last_seq = v;
        }
        const redisReply *st = rep->element[1];
        if (*has && st->type == REDIS_REPLY_STRING && (*blob = malloc(st->len + 1)) != NULL) {
            memcpy(*blob, st->str, st->len);
            (*blob)[st->len] = '\0';
            *blob_len = st->len;
        }
    }
    freeReplyObject(rep);
    if (*has && *blob == NULL) {
        /* seq without readable state: treat the state as empty but keep the
         * sequence, so ordering still holds. */
        bus_log(BUS_LOG_WARN, "indicator state %s has a seq but no state", key);
    }
    return TB_OK;
}

/* Polls only seq (not the whole state) until tick seq may proceed or the
 * deadline passes: 50 us doubling to 2 ms, since the predecessor is usually
 * being applied by another worker right now. */
static tb_status wait_turn(redisContext *r, const char *key, uint64_t seq, int64_t deadline,
                           tb_error *err) {
    useconds_t pause_us = 50;
    for (;;) {
        usleep(pause_us);
        pause_us = pause_us < 2000 ? pause_us * 2 : 2000;
        bool expired = bus_mono_ns() >= deadline;
        redisReply *rep = NULL;
        tb_status s = bus_redis_cmd(r, &rep, err, "HGET %s seq", key);
        if (s != TB_OK) return s;
        bool has = rep->type == REDIS_REPLY_STRING;
        uint64_t last = has ? strtoull(rep->str, NULL, 10) : 0;
        freeReplyObject(rep);
        if (expired || sp_seq_decide(has && last > 0, last, seq, false) != SP_SEQ_WAIT)
            return TB_OK;
    }
}

/* Records and publishes one signal. Failures are logged and counted: the
 * tick has been applied and is not retried. */
static void emit(bus_ctx *ctx, sp_service *svc, const sp_strategy_cfg *cfg, const tb_tick *t,
                 tb_fixed price, const sp_decision *d) {
    tb_signal sig;
    tb_error err = {0};
    if (sp_signal_build(cfg, t, price, d, &sig) != TB_OK) {
        bus_counter_add(svc->m_signal_errors, 1);
        bus_log(BUS_LOG_ERROR, "signal of %s on %s #%" PRIu64 " cannot be built",
                cfg->row.strategy_id, t->symbol, t->seq);
        return;
    }
    bool inserted = true;
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL || sp_db_insert_signal(pg, &sig, &inserted, &err) != TB_OK) {
        /* Publish anyway: the compare-and-set already made this worker the
         * only one emitting it; only the history row is missing. */
        bus_counter_add(svc->m_signal_errors, 1);
        bus_log(BUS_LOG_ERROR, "signal %s not recorded: %s", sig.signal_id, err.message);
        inserted = true;
    }
    if (!inserted) {
        bus_log(BUS_LOG_INFO, "signal %s was already recorded; not published again", sig.signal_id);
        return;
    }
    char subject[160];
    snprintf(subject, sizeof subject, "sig.%s.%s", sig.strategy_id, sig.symbol);
    bus_msg_meta meta = {.trace_id = bus_ctx_trace(ctx)};
    if (bus_publish(bus_actor_conn(bus_ctx_actor(ctx)), subject, &tb_signal_desc, &sig, &meta) !=
        TB_OK) {
        bus_counter_add(svc->m_signal_errors, 1);
        bus_log(BUS_LOG_ERROR, "signal %s recorded but not published", sig.signal_id);
        return;
    }
    bus_counter_add(d->side == SP_SIDE_BUY ? svc->m_signals_buy : svc->m_signals_sell, 1);
    bus_log(BUS_LOG_DEBUG, "signal %s %s at %" PRId64 ": %s", sig.signal_id, sig.side,
            sig.ref_price, sig.reason);
}

/* Reloads cfg from PostgreSQL after a state showed a newer version than the
 * cached copy. False when the strategy is gone or disabled meanwhile. */
static bool reload(bus_ctx *ctx, sp_service *svc, sp_strategy_cfg *cfg, tb_status *s,
                   tb_error *err) {
    sp_cache_clear(svc->cache);
    PGconn *pg = bus_ctx_pg(ctx, err);
    if (pg == NULL) {
        *s = err->status;
        return false;
    }
    sp_strategy_cfg fresh;
    *s = sp_db_get(pg, cfg->row.strategy_id, &fresh, err);
    if (*s == TB_NOT_FOUND) *s = TB_OK;
    if (*s != TB_OK || !fresh.row.enabled || strcmp(fresh.row.symbol, cfg->row.symbol) != 0 ||
        sp_params_parse(fresh.row.kind, fresh.row.params, &fresh.params, err) != TB_OK)
        return false;
    *cfg = fresh;
    return true;
}

/* Applies tick t to one strategy's state, in order, exactly once. */
static tb_status apply(bus_ctx *ctx, sp_service *svc, sp_strategy_cfg *cfg, const tb_tick *t,
                       tb_fixed price, sp_state *st) {
    tb_error err = {0};
    redisContext *r = bus_ctx_redis(ctx, &err);
    if (r == NULL) return bus_fail_err(ctx, &err);
    char key[192];
    snprintf(key, sizeof key, SP_STATE_KEY_FMT, cfg->row.strategy_id, t->symbol);
    const int64_t deadline = bus_mono_ns() + svc->order_wait_ms * 1000000;
    bool reloaded = false, waited = false;
    for (;;) {
        bool has = false;
        uint64_t last = 0;
        char *blob = NULL;
        size_t blob_len = 0;
        tb_status s = read_state(r, key, &has, &last, &blob, &blob_len, &err);
        if (s != TB_OK) return bus_fail_err(ctx, &err);
        sp_seq_action act = sp_seq_decide(has, last, t->seq, bus_mono_ns() >= deadline);
        if (act == SP_SEQ_WAIT) {
            free(blob);
            if (!waited) bus_counter_add(svc->m_waits, 1);
            waited = true;
            s = wait_turn(r, key, t->seq, deadline, &err);
            if (s != TB_OK) return bus_fail_err(ctx, &err);
            continue;
        }
        if (act == SP_SEQ_STALE) {
            free(blob);
            bus_counter_add(svc->m_stale, 1);
            bus_log(BUS_LOG_DEBUG, "tick %s #%" PRIu64 " is behind state seq %" PRIu64 "; dropped",
                    t->symbol, t->seq, last);
            return TB_OK;
        }
        /* Which state this tick advances: the stored one, unless the feed
         * restarted, none exists, or it was built for another version. */
        bool fresh = !has || blob == NULL || act == SP_SEQ_RESTART;
        if (!fresh) {
            tb_error derr = {0};
            int64_t version = 0;
            bool decoded = sp_state_decode(blob, blob_len, &cfg->params, st, &derr) == TB_OK;
            if (decoded)
                version = st->cfg_version;
            else if (!sp_state_version(blob, blob_len, &version))
                version = INT64_MIN;
            if (version > cfg->version) {
                free(blob);
                /* Another worker already runs a newer configuration. */
                if (!reloaded) {
                    reloaded = true;
                    if (reload(ctx, svc, cfg, &s, &err)) continue;
                    return s == TB_OK ? TB_OK : bus_fail_err(ctx, &err);
                }
                blob = NULL;
                fresh = true;
            } else if (version < cfg->version || !decoded) {
                if (!decoded && (version == cfg->version || version == INT64_MIN))
                    bus_log(BUS_LOG_WARN, "indicator state %s unreadable (%s); starting afresh",
                            key, derr.message);
                fresh = true;
            }
        }
        free(blob);
        if (fresh) {
            if (has) bus_counter_add(svc->m_resets, 1);
            sp_state_init(st, &cfg->params, cfg->version);
        }
        sp_decision d = {.side = SP_SIDE_NONE};
        if (sp_step(&cfg->params, st, price, &d) != TB_OK) {
            /* A price the arithmetic cannot take: skip it but advance seq,
             * so the next tick does not wait for this one. */
            bus_log(BUS_LOG_WARN, "tick %s #%" PRIu64 " price %" PRId64 " not usable by %s",
                    t->symbol, t->seq, price, cfg->row.strategy_id);
            d.side = SP_SIDE_NONE;
        }
        size_t len = 0;
        char *out = sp_state_encode(st, &len);
        if (out == NULL) return bus_fail(ctx, TB_NOMEM, NULL, "state encoding");
        char expected[24] = "";
        if (has) snprintf(expected, sizeof expected, "%" PRIu64, last);
        bool written = false;
        s = cas(r, svc, key, expected, t->seq, out, len, &written, &err);
        free(out);
        if (s != TB_OK) return bus_fail_err(ctx, &err);
        if (!written) {
            bus_counter_add(svc->m_cas_retries, 1); /* another worker moved seq: decide again */
            continue;
        }
        if (act == SP_SEQ_GAP) {
            bus_counter_add(svc->m_gaps, 1);
            bus_log(BUS_LOG_INFO, "gap on %s for %s: ticks %" PRIu64 "..%" PRIu64 " never arrived",
                    t->symbol, cfg->row.strategy_id, last + 1, t->seq - 1);
        }
        if (d.side != SP_SIDE_NONE) emit(ctx, svc, cfg, t, price, &d);
        return TB_OK;
    }
}

/* Enabled strategies of symbol, from the cache or PostgreSQL. */
static tb_status strategies_of(bus_ctx *ctx, sp_service *svc, const char *symbol,
                               sp_strategy_cfg **items, size_t *n) {
    uint64_t gen = 0;
    if (sp_cache_get(svc->cache, symbol, items, n, &gen)) return TB_OK;
    tb_error err = {0};
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL) return bus_fail_err(ctx, &err);
    if (sp_db_load_symbol(pg, symbol, items, n, &err) != TB_OK) return bus_fail_err(ctx, &err);
    sp_cache_put(svc->cache, symbol, *items, *n, gen);
    return TB_OK;
}

tb_status sp_on_tick(bus_ctx *ctx, const void *ev) {
    const tb_tick *t = ev;
    sp_service *svc = sp_service_of(ctx);
    const char *subject = bus_ctx_subject(ctx);
    if (strncmp(subject, "md.tick.", 8) != 0 || strcmp(subject + 8, t->symbol) != 0)
        return bus_fail(ctx, TB_INVALID, "symbol", "tick for %s published on %s", t->symbol,
                        subject);
    tb_error err = {0};
    tb_fixed price;
    if (sp_tick_price(t, &price, &err) != TB_OK) return bus_fail_err(ctx, &err);
    sp_strategy_cfg *items = NULL;
    size_t n = 0;
    tb_status s = strategies_of(ctx, svc, t->symbol, &items, &n);
    if (s != TB_OK || n == 0) {
        free(items);
        return s;
    }
    /* Heap: a state holds windows of up to SP_MAX_PERIOD prices. */
    sp_state *st = malloc(sizeof *st);
    if (st == NULL) {
        free(items);
        return bus_fail(ctx, TB_NOMEM, NULL, "indicator state");
    }
    tb_status first = TB_OK;
    for (size_t i = 0; i < n; i++) {
        /* One strategy's failure must not starve the others. */
        s = apply(ctx, svc, &items[i], t, price, st);
        if (s != TB_OK && first == TB_OK) first = s;
    }
    free(st);
    free(items);
    return first;
}
