/* The tick path: md.tick.<SYM> in batches, sig.<strategy_id>.<SYM> out.
 *
 * For every enabled strategy on a symbol the indicator state lives in Redis
 * under tb:sp:state:<strategy_id>:<SYM> as a hash {seq, state}; seq only ever
 * moves to last_seq + 1 (sequencer.h), so every tick is applied once, in
 * order, whichever worker received it, and the signal id
 * <strategy_id>-<SYM>-<seq> is the same whoever computes it.
 *
 * A batch (whatever the subscription had queued) is handled with a constant
 * number of store round trips, not one per tick:
 *   1. group the ticks by symbol, in seq order, without second copies
 *      (tick_batch.h); one group per (enabled strategy, symbol);
 *   2. one pipelined HMGET reads the state of every group;
 *   3. each group plans its ticks against its state (sp_batch_plan): the
 *      ones that follow contiguously are stepped through the pure strategy
 *      code; the others cannot apply yet;
 *   4. one pipelined round of the advance script (tick_store.c) writes every
 *      changed state with a compare-and-set on seq and, in the same atomic
 *      step, parks the ticks that cannot apply yet in a sorted set keyed by
 *      seq and hands back the parked ticks that now follow the new state;
 *   5. a group that received ticks, or whose compare-and-set lost to another
 *      worker (the reply carries the current state), goes through 3-4 again;
 *      the others are done;
 *   6. the batch's signals are recorded in PostgreSQL with one multi-row
 *      INSERT (ON CONFLICT DO NOTHING) and the new ones published, each with
 *      its tick's trace id.
 * With several workers a symbol's consecutive ticks are spread at random:
 * the worker holding k+1 before k was applied parks it and moves on; the
 * worker that applies k receives k+1 (and whatever follows it) from the
 * script and applies it too. Nobody polls. A tick whose predecessor never
 * comes is applied across the gap once it has waited SP_ORDER_WAIT_MS: the
 * script does it for whoever next touches the symbol, and revisit.c makes
 * sure someone does. Round 3-4 repeats only while ticks are handed over, a
 * handful of times per batch at most in practice; it is capped. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sp.h"
#include "strategy_state.h"
#include "tick_batch.h"

/* Upper bound of advance rounds per batch; reached only if workers keep
 * overtaking each other on the same symbols, then the rest is failed. */
#define ROUNDS_MAX 512
/* Most parked ticks one advance call hands back (the rest the next round). */
#define PULL_MAX "4096"
/* Fixed arguments of an advance command before the parked pairs. */
#define ADVANCE_FIXED 11

typedef struct pending_signal {
    tb_signal sig;
    char trace[sizeof((sp_parked *)0)->trace];
    uint32_t arrival; /* its fill tick's (sp_parked) */
    bool live;        /* false once its compare-and-set lost */
} pending_signal;

/* One (strategy, symbol) of the batch. */
typedef struct group {
    sp_strategy_cfg cfg;
    char state_key[192], park_key[192];
    sp_parked *ticks; /* to decide, ascending seq */
    bool *waited;     /* ticks[i] waited out its predecessor */
    sp_seq_action *acts;
    size_t n, cap;
    bool has; /* stored state as last seen */
    uint64_t last;
    char *blob; /* its text, NULL when none */
    size_t blob_len;
    sp_state *st;  /* decoded (or fresh) state at (has, last) */
    bool st_ready; /* st matches (has, last) */
    bool reloaded, active;
    /* this round */
    char expected[24], new_seq[24], ttl[24], wait[24];
    char *out; /* encoded new state, NULL when nothing applied */
    size_t out_len, sig_from, sig_to, npark;
    char (*park_seq)[24];
    char (*park_text)[200];
    const char **argv;
    size_t *lens;
} group;

typedef struct engine {
    sp_service *svc;
    bus_actor *a;
    bus_ctx *ctx; /* NULL on the timer thread */
    redisContext *r;
    PGconn *pg;
    bool pg_owned;
    group *g;
    size_t ng;
    pending_signal *sigs;
    size_t nsig, sig_cap;
} engine;

static PGconn *engine_pg(engine *e, tb_error *err) {
    if (e->pg) return e->pg;
    if (e->ctx) {
        e->pg = bus_ctx_pg(e->ctx, err);
    } else {
        e->pg = bus_pg_acquire(bus_actor_pg(e->a), err);
        e->pg_owned = e->pg != NULL;
    }
    return e->pg;
}

static void group_free(group *g) {
    free(g->ticks);
    free(g->waited);
    free(g->acts);
    free(g->blob);
    free(g->st);
    free(g->out);
    free(g->park_seq);
    free(g->park_text);
    free(g->argv);
    free(g->lens);
}

static void engine_free(engine *e) {
    for (size_t i = 0; i < e->ng; i++) group_free(&e->g[i]);
    free(e->g);
    free(e->sigs);
    if (e->pg_owned) bus_pg_release(bus_actor_pg(e->a), e->pg);
}

/* Room for n ticks in g's per-tick arrays. */
static tb_status group_reserve(group *g, size_t n) {
    if (n <= g->cap) return TB_OK;
    sp_parked *t = realloc(g->ticks, n * sizeof *t);
    if (t) g->ticks = t;
    bool *w = realloc(g->waited, n * sizeof *w);
    if (w) g->waited = w;
    sp_seq_action *a = realloc(g->acts, n * sizeof *a);
    if (a) g->acts = a;
    char(*ps)[24] = realloc(g->park_seq, n * sizeof *ps);
    if (ps) g->park_seq = ps;
    char(*pt)[200] = realloc(g->park_text, n * sizeof *pt);
    if (pt) g->park_text = pt;
    const char **av = realloc(g->argv, (ADVANCE_FIXED + 2 * n) * sizeof *av);
    if (av) g->argv = av;
    size_t *l = realloc(g->lens, (ADVANCE_FIXED + 2 * n) * sizeof *l);
    if (l) g->lens = l;
    if (!t || !w || !a || !ps || !pt || !av || !l) return TB_NOMEM;
    g->cap = n;
    return TB_OK;
}

/* Enabled strategies of symbol, from the cache or PostgreSQL. */
static tb_status strategies_of(engine *e, const char *symbol, sp_strategy_cfg **items, size_t *n,
                               tb_error *err) {
    uint64_t gen = 0;
    if (sp_cache_get(e->svc->cache, symbol, items, n, &gen)) return TB_OK;
    PGconn *pg = engine_pg(e, err);
    if (pg == NULL) return err->status;
    tb_status s = sp_db_load_symbol(pg, symbol, items, n, err);
    if (s == TB_OK) sp_cache_put(e->svc->cache, symbol, *items, *n, gen);
    return s;
}

/* Adds one group per enabled strategy of symbol, each with ticks[0..n). */
static tb_status add_symbol(engine *e, const char *symbol, const sp_parked *ticks, size_t n,
                            tb_error *err) {
    sp_strategy_cfg *items = NULL;
    size_t k = 0;
    tb_status s = strategies_of(e, symbol, &items, &k, err);
    if (s != TB_OK || k == 0) {
        free(items);
        return s;
    }
    group *v = realloc(e->g, (e->ng + k) * sizeof *v);
    if (v == NULL) {
        free(items);
        return tb_error_set(err, TB_NOMEM, NULL, "tick groups");
    }
    e->g = v;
    for (size_t i = 0; i < k; i++) {
        group *g = &e->g[e->ng];
        memset(g, 0, sizeof *g);
        e->ng++;
        g->cfg = items[i];
        snprintf(g->state_key, sizeof g->state_key, SP_STATE_KEY_FMT, items[i].row.strategy_id,
                 symbol);
        snprintf(g->park_key, sizeof g->park_key, SP_PARK_KEY_FMT, items[i].row.strategy_id,
                 symbol);
        g->st = malloc(sizeof *g->st);
        if (g->st == NULL || group_reserve(g, n ? n : 1) != TB_OK) {
            free(items);
            return tb_error_set(err, TB_NOMEM, NULL, "tick group");
        }
        if (n) memcpy(g->ticks, ticks, n * sizeof *ticks);
        memset(g->waited, 0, (n ? n : 1) * sizeof *g->waited);
        g->n = n;
        g->active = true;
    }
    free(items);
    return TB_OK;
}

/* Sets the stored state of g from a seq and state text (Redis replies). */
static void set_stored(group *g, const char *seq, size_t seq_len, const char *blob,
                       size_t blob_len) {
    g->has = false;
    g->last = 0;
    g->st_ready = false;
    free(g->blob);
    g->blob = NULL;
    g->blob_len = 0;
    char buf[24];
    if (seq == NULL || seq_len == 0 || seq_len >= sizeof buf) return;
    memcpy(buf, seq, seq_len);
    buf[seq_len] = '\0';
    char *end = NULL;
    unsigned long long v = strtoull(buf, &end, 10);
    if (end == NULL || *end != '\0' || v == 0) return;
    g->has = true;
    g->last = v;
    if (blob && blob_len > 0 && (g->blob = malloc(blob_len + 1)) != NULL) {
        memcpy(g->blob, blob, blob_len);
        g->blob[blob_len] = '\0';
        g->blob_len = blob_len;
    }
}

/* Round trip 1: every group's state with one pipelined HMGET each. */
static tb_status read_states(engine *e, tb_error *err) {
    sp_redis_cmd *cmds = calloc(e->ng, sizeof *cmds);
    const char **argv = calloc(e->ng * 4, sizeof *argv);
    size_t *lens = calloc(e->ng * 4, sizeof *lens);
    redisReply **reps = calloc(e->ng, sizeof *reps);
    tb_status s = cmds && argv && lens && reps ? TB_OK : TB_NOMEM;
    for (size_t i = 0; i < e->ng && s == TB_OK; i++) {
        const char **av = argv + i * 4;
        size_t *l = lens + i * 4;
        av[0] = "HMGET";
        av[1] = e->g[i].state_key;
        av[2] = "seq";
        av[3] = "state";
        for (int k = 0; k < 4; k++) l[k] = strlen(av[k]);
        cmds[i] = (sp_redis_cmd){.argc = 4, .argv = av, .lens = l};
    }
    if (s == TB_NOMEM)
        tb_error_set(err, s, NULL, "state reads");
    else
        s = bus_redis_pipeline(e->r, cmds, e->ng, reps, err);
    for (size_t i = 0; i < e->ng && s == TB_OK; i++) {
        const redisReply *rep = reps[i];
        if (rep->type == REDIS_REPLY_ERROR) {
            s = tb_error_set(err, TB_UNAVAILABLE, NULL, "redis: %s", rep->str);
            break;
        }
        const redisReply *seq =
            rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 ? rep->element[0] : NULL;
        bool ok = seq && seq->type == REDIS_REPLY_STRING;
        const redisReply *st = ok ? rep->element[1] : NULL;
        bool has_blob = st && st->type == REDIS_REPLY_STRING;
        set_stored(&e->g[i], ok ? seq->str : NULL, ok ? seq->len : 0, has_blob ? st->str : NULL,
                   has_blob ? st->len : 0);
        if (e->g[i].has && e->g[i].blob == NULL)
            bus_log(BUS_LOG_WARN, "indicator state %s has a seq but no state", e->g[i].state_key);
    }
    for (size_t i = 0; reps && i < e->ng; i++) freeReplyObject(reps[i]);
    free(cmds);
    free(argv);
    free(lens);
    free(reps);
    return s;
}

/* Reloads g's configuration after its state showed a newer version than the
 * cached copy. False when the strategy is gone or disabled meanwhile (or on
 * error, *s says which). */
static bool reload(engine *e, group *g, tb_status *s, tb_error *err) {
    sp_cache_clear(e->svc->cache);
    PGconn *pg = engine_pg(e, err);
    if (pg == NULL) {
        *s = err->status;
        return false;
    }
    sp_strategy_cfg fresh;
    *s = sp_db_get(pg, g->cfg.row.strategy_id, &fresh, err);
    if (*s == TB_NOT_FOUND) *s = TB_OK;
    if (*s != TB_OK || !fresh.row.enabled || strcmp(fresh.row.symbol, g->cfg.row.symbol) != 0 ||
        sp_params_parse(fresh.row.kind, fresh.row.params, &fresh.params, err) != TB_OK)
        return false;
    g->cfg = fresh;
    return true;
}

/* Makes g->st the state to advance: the stored one, unless none exists or
 * it was built for another version. *gone: the strategy was disabled or
 * removed meanwhile. */
static tb_status load_state(engine *e, group *g, bool *gone, tb_error *err) {
    *gone = false;
    for (;;) {
        bool fresh = !g->has || g->blob == NULL;
        tb_error derr = {0};
        if (!fresh) {
            int64_t version = 0;
            bool decoded =
                sp_state_decode(g->blob, g->blob_len, &g->cfg.params, g->st, &derr) == TB_OK;
            if (decoded)
                version = g->st->cfg_version;
            else if (!sp_state_version(g->blob, g->blob_len, &version))
                version = INT64_MIN;
            if (version > g->cfg.version && !g->reloaded) {
                /* Another worker already runs a newer configuration. */
                g->reloaded = true;
                tb_status s = TB_OK;
                if (reload(e, g, &s, err)) continue;
                *gone = s == TB_OK;
                return s;
            }
            if (version != g->cfg.version || !decoded) {
                if (!decoded && (version == g->cfg.version || version == INT64_MIN))
                    bus_log(BUS_LOG_WARN, "indicator state %s unreadable (%s); starting afresh",
                            g->state_key, derr.message);
                fresh = true;
            }
        }
        if (fresh) {
            if (g->has) bus_counter_add(e->svc->m_resets, 1);
            sp_state_init(g->st, &g->cfg.params, g->cfg.version);
        }
        g->st_ready = true;
        return TB_OK;
    }
}

/* Publishes g's pending decision now that next, the symbol's next tick,
 * was applied: the signal keeps the deciding tick's id, price, time and
 * trace id and carries next as the fill reference. */
static tb_status add_signal(engine *e, const group *g, const sp_parked *next) {
    const sp_pending *pd = &g->st->pending;
    if (e->nsig == e->sig_cap) {
        size_t cap = e->sig_cap ? e->sig_cap * 2 : 16;
        pending_signal *v = realloc(e->sigs, cap * sizeof *v);
        if (v == NULL) return TB_NOMEM;
        e->sigs = v;
        e->sig_cap = cap;
    }
    pending_signal *p = &e->sigs[e->nsig];
    tb_tick tick;
    memset(&tick, 0, sizeof tick);
    snprintf(tick.symbol, sizeof tick.symbol, "%s", g->cfg.row.symbol);
    tick.seq = pd->seq;
    tick.ts = pd->ts;
    sp_decision d = {.side = pd->side, .ready = true};
    snprintf(d.reason, sizeof d.reason, "%s", pd->reason);
    if (sp_signal_build(&g->cfg, &tick, pd->price, &d, &p->sig) != TB_OK) {
        bus_counter_add(e->svc->m_signal_errors, 1);
        bus_log(BUS_LOG_ERROR, "signal of %s on %s #%" PRIu64 " cannot be built",
                g->cfg.row.strategy_id, tick.symbol, pd->seq);
        return TB_OK;
    }
    p->sig.fill_price = next->price;
    p->sig.fill_ts = next->ts;
    p->sig.fill_seq = next->seq;
    p->arrival = next->arrival;
    snprintf(p->trace, sizeof p->trace, "%s", pd->trace);
    p->live = true;
    e->nsig++;
    return TB_OK;
}

/* Keeps d, decided on the tick (seq, ts, price, trace), for the next tick. */
static void hold(group *g, const sp_decision *d, uint64_t seq, int64_t ts, tb_fixed price,
                 const char *trace) {
    if (d->side == SP_SIDE_NONE) return;
    sp_pending *pd = &g->st->pending;
    *pd = (sp_pending){.side = d->side, .seq = seq, .ts = ts, .price = price};
    snprintf(pd->reason, sizeof pd->reason, "%s", d->reason);
    snprintf(pd->trace, sizeof pd->trace, "%s", trace);
}

static void step_tick(group *g, const sp_parked *t) {
    sp_decision d = {.side = SP_SIDE_NONE};
    if (sp_step(&g->cfg.params, g->st, t->price, &d) != TB_OK) {
        /* A price the arithmetic cannot take: skip it but advance seq, so
         * the next tick does not wait for this one. */
        bus_log(BUS_LOG_WARN, "tick %s #%" PRIu64 " price %" PRId64 " not usable by %s",
                g->cfg.row.symbol, t->seq, t->price, g->cfg.row.strategy_id);
        return;
    }
    hold(g, &d, t->seq, t->ts, t->price, t->trace);
}

static void step_bar(group *g, const sp_parked *t) {
    sp_decision d = {.side = SP_SIDE_NONE};
    sp_bar closed;
    if (sp_bar_feed(&g->cfg.params, g->st, t->seq, t->ts, t->price, t->trace, &d, &closed) !=
        TB_OK) {
        bus_log(BUS_LOG_WARN, "the bar of %s closed by #%" PRIu64 " is not usable by %s",
                g->cfg.row.symbol, t->seq, g->cfg.row.strategy_id);
        return;
    }
    hold(g, &d, closed.seq, closed.ts, closed.close, closed.trace);
}

/* Step 3 for one group: plans its ticks, applies those that follow the
 * state and builds its advance command. *skip: the group has nothing more
 * to do (its strategy went away). */
static tb_status prepare(engine *e, group *g, sp_redis_cmd *cmd, bool *skip, tb_error *err) {
    sp_service *svc = e->svc;
    *skip = false;
    free(g->out);
    g->out = NULL;
    g->out_len = 0;
    g->npark = 0;
    g->sig_from = g->sig_to = e->nsig;
    bool has = g->has;
    uint64_t last = g->last;
    uint64_t *seqs = malloc((g->n ? g->n : 1) * sizeof *seqs);
    if (seqs == NULL) return tb_error_set(err, TB_NOMEM, NULL, "tick plan");
    for (size_t i = 0; i < g->n; i++) seqs[i] = g->ticks[i].seq;
    size_t applied = sp_batch_plan(&has, &last, seqs, g->waited, g->n, g->acts);
    free(seqs);
    if (applied > 0 && !g->st_ready) {
        bool gone = false;
        tb_status s = load_state(e, g, &gone, err);
        if (s != TB_OK || gone) {
            *skip = gone;
            return s;
        }
    }
    size_t kept = 0;
    for (size_t i = 0; i < g->n; i++) {
        const sp_parked *t = &g->ticks[i];
        sp_seq_action act = g->acts[i];
        if (act == SP_SEQ_STALE) {
            bus_counter_add(svc->m_stale, 1);
            bus_log(BUS_LOG_DEBUG, "tick %s #%" PRIu64 " is behind state seq %" PRIu64 "; dropped",
                    g->cfg.row.symbol, t->seq, g->last);
            continue;
        }
        /* Kept in place: a lost compare-and-set plans them again. */
        g->ticks[kept] = *t;
        g->waited[kept] = g->waited[i];
        g->acts[kept] = act;
        kept++;
        if (act == SP_SEQ_WAIT) {
            snprintf(g->park_seq[g->npark], sizeof g->park_seq[0], "%" PRIu64, t->seq);
            if (sp_parked_format(t->price, t->ts, t->trace, g->park_text[g->npark],
                                 sizeof g->park_text[0]) == 0)
                return tb_error_set(err, TB_ERR, NULL, "parked tick text does not fit");
            g->npark++;
            continue;
        }
        if (act == SP_SEQ_RESTART) {
            bus_counter_add(svc->m_resets, 1);
            if (g->st->pending.side != SP_SIDE_NONE)
                bus_log(BUS_LOG_WARN,
                        "%s on %s: sequence restarted; the decision of #%" PRIu64
                        " is dropped unpublished",
                        g->cfg.row.strategy_id, g->cfg.row.symbol, g->st->pending.seq);
            sp_state_init(g->st, &g->cfg.params, g->cfg.version);
        }
        /* A strategy counting in bars decides when a tick starts a new bar,
         * on the finished bar's close: its last tick decided, and this tick,
         * the next one, fills. One counting ticks decides on this tick, and
         * the next tick fills. */
        bool bars = g->cfg.params.bar_ns > 0;
        if (bars) step_bar(g, t);
        if (g->st->pending.side != SP_SIDE_NONE) {
            if (add_signal(e, g, t) != TB_OK) return tb_error_set(err, TB_NOMEM, NULL, "signals");
            g->st->pending.side = SP_SIDE_NONE;
        }
        if (!bars) step_tick(g, t);
    }
    g->n = kept;
    g->sig_to = e->nsig;
    if (applied > 0) {
        g->out = sp_state_encode(g->st, &g->out_len);
        if (g->out == NULL) return tb_error_set(err, TB_NOMEM, NULL, "state encoding");
        snprintf(g->new_seq, sizeof g->new_seq, "%" PRIu64, last);
    } else {
        g->new_seq[0] = '\0';
    }
    if (g->has)
        snprintf(g->expected, sizeof g->expected, "%" PRIu64, g->last);
    else
        g->expected[0] = '\0';
    snprintf(g->ttl, sizeof g->ttl, "%" PRId64, svc->state_ttl_s);
    snprintf(g->wait, sizeof g->wait, "%" PRId64, svc->order_wait_ms);
    const char *fixed[ADVANCE_FIXED] = {"",          "",          "2",        g->state_key,
                                        g->park_key, g->expected, g->new_seq, g->out ? g->out : "",
                                        g->ttl,      g->wait,     PULL_MAX};
    for (int k = 0; k < ADVANCE_FIXED; k++) {
        g->argv[k] = fixed[k];
        g->lens[k] = strlen(fixed[k]);
    }
    g->lens[7] = g->out_len;
    for (size_t i = 0; i < g->npark; i++) {
        g->argv[ADVANCE_FIXED + 2 * i] = g->park_seq[i];
        g->lens[ADVANCE_FIXED + 2 * i] = strlen(g->park_seq[i]);
        g->argv[ADVANCE_FIXED + 2 * i + 1] = g->park_text[i];
        g->lens[ADVANCE_FIXED + 2 * i + 1] = strlen(g->park_text[i]);
    }
    *cmd = (sp_redis_cmd){
        .argc = (int)(ADVANCE_FIXED + 2 * g->npark), .argv = g->argv, .lens = g->lens};
    return TB_OK;
}

static bool reply_int(const redisReply *rep, size_t i, long long *out) {
    if (i >= rep->elements || rep->element[i]->type != REDIS_REPLY_INTEGER) return false;
    *out = rep->element[i]->integer;
    return true;
}

static const redisReply *reply_str(const redisReply *rep, size_t i) {
    if (i >= rep->elements || rep->element[i]->type != REDIS_REPLY_STRING) return NULL;
    return rep->element[i];
}

/* Step 4-5 for one group: takes in the advance reply. */
static tb_status settle(engine *e, group *g, const redisReply *rep, tb_error *err) {
    sp_service *svc = e->svc;
    long long status = 0, gap = 0, stale = 0, left = 0;
    if (rep->type == REDIS_REPLY_ERROR)
        return tb_error_set(err, TB_UNAVAILABLE, NULL, "redis: %s", rep->str);
    const redisReply *cur = rep->type == REDIS_REPLY_ARRAY ? reply_str(rep, 1) : NULL;
    const redisReply *st = rep->type == REDIS_REPLY_ARRAY ? reply_str(rep, 2) : NULL;
    if (cur == NULL || st == NULL || !reply_int(rep, 0, &status) ||
        (status == 1 &&
         (!reply_int(rep, 3, &gap) || !reply_int(rep, 4, &stale) || !reply_int(rep, 5, &left))))
        return tb_error_set(err, TB_ERR, NULL, "unexpected advance script reply for %s",
                            g->state_key);
    if (status == 0) {
        /* Another worker moved seq: decide again from the state it wrote. */
        bus_counter_add(svc->m_cas_retries, 1);
        for (size_t i = g->sig_from; i < g->sig_to; i++) e->sigs[i].live = false;
        set_stored(g, cur->str, cur->len, st->str, st->len);
        return TB_OK;
    }
    /* Committed: count what this round did. */
    bus_counter_add(svc->m_waits, (int64_t)g->npark);
    if (stale > 0) bus_counter_add(svc->m_stale, stale);
    for (size_t i = 0; i < g->n; i++)
        if (g->acts[i] == SP_SEQ_GAP) {
            bus_counter_add(svc->m_gaps, 1);
            bus_log(BUS_LOG_INFO, "gap on %s for %s: ticks before #%" PRIu64 " never arrived",
                    g->cfg.row.symbol, g->cfg.row.strategy_id, g->ticks[i].seq);
        }
    if (g->out) {
        g->has = true;
        g->last = strtoull(g->new_seq, NULL, 10);
        free(g->blob);
        g->blob = NULL; /* g->st is the written state */
    }
    if (left > 0)
        sp_revisit_add(svc, g->cfg.row.symbol,
                       bus_mono_ns() + (svc->order_wait_ms + 10) * INT64_C(1000000));
    size_t pulled = rep->elements > 6 ? rep->elements - 6 : 0;
    g->n = 0;
    g->active = pulled > 0;
    if (!g->active) return TB_OK;
    if (!g->out) set_stored(g, cur->str, cur->len, st->str, st->len);
    if (group_reserve(g, pulled) != TB_OK) return tb_error_set(err, TB_NOMEM, NULL, "ticks");
    for (size_t i = 0; i < pulled; i++) {
        const redisReply *m = reply_str(rep, 6 + i);
        if (m == NULL || !sp_parked_parse(m->str, m->len, &g->ticks[g->n])) {
            bus_counter_add(svc->m_bad_parked, 1);
            bus_log(BUS_LOG_ERROR, "parked tick of %s unreadable; dropped", g->park_key);
            continue;
        }
        g->waited[g->n] = gap && g->n == 0;
        g->n++;
    }
    return TB_OK;
}

/* Steps 3-5 until no group has ticks to decide. */
static tb_status advance_all(engine *e, tb_error *err) {
    sp_redis_cmd *cmds = calloc(e->ng ? e->ng : 1, sizeof *cmds);
    redisReply **reps = calloc(e->ng ? e->ng : 1, sizeof *reps);
    size_t *which = calloc(e->ng ? e->ng : 1, sizeof *which);
    tb_status s = cmds && reps && which ? TB_OK : tb_error_set(err, TB_NOMEM, NULL, "advance");
    for (int round = 0; s == TB_OK; round++) {
        size_t n = 0;
        for (size_t i = 0; i < e->ng && s == TB_OK; i++) {
            if (!e->g[i].active) continue;
            bool skip = false;
            s = prepare(e, &e->g[i], &cmds[n], &skip, err);
            if (skip)
                e->g[i].active = false;
            else
                which[n++] = i;
        }
        if (s != TB_OK || n == 0) break;
        if (round == ROUNDS_MAX) {
            s = tb_error_set(err, TB_UNAVAILABLE, NULL, "ticks still handed over after %d rounds",
                             ROUNDS_MAX);
            break;
        }
        s = sp_advance_pipeline(e->r, e->svc, cmds, n, reps, err);
        for (size_t k = 0; k < n && s == TB_OK; k++) s = settle(e, &e->g[which[k]], reps[k], err);
        for (size_t k = 0; s == TB_OK && k < n; k++) {
            freeReplyObject(reps[k]);
            reps[k] = NULL;
        }
    }
    for (size_t k = 0; reps && k < e->ng; k++) freeReplyObject(reps[k]);
    free(cmds);
    free(reps);
    free(which);
    return s;
}

/* The order signals go out in: their fill ticks' arrival (ticks released
 * from parking after the batch's own), then time, symbol and seq. */
static int by_arrival(const void *pa, const void *pb) {
    const pending_signal *a = pa, *b = pb;
    if (a->arrival != b->arrival) return a->arrival < b->arrival ? -1 : 1;
    if (a->sig.fill_ts != b->sig.fill_ts) return a->sig.fill_ts < b->sig.fill_ts ? -1 : 1;
    int c = strcmp(a->sig.symbol, b->sig.symbol);
    if (c != 0) return c;
    if (a->sig.fill_seq != b->sig.fill_seq) return a->sig.fill_seq < b->sig.fill_seq ? -1 : 1;
    return strcmp(a->sig.signal_id, b->sig.signal_id);
}

/* Step 6: records the live signals with one statement, publishes new ones
 * in the order their fill ticks arrived, as ticks one by one would have
 * made them. The groups (strategy, symbol) are stepped one after the
 * other: in group order a replay's signals of several symbols went out
 * symbol by symbol within a batch, and a backtest's decisions (buying
 * power in the data's time) depended on how ticks fell into batches.
 * Failures are logged and counted: the ticks have been applied. */
static void emit_all(engine *e) {
    sp_service *svc = e->svc;
    size_t n = 0;
    for (size_t i = 0; i < e->nsig; i++)
        if (e->sigs[i].live) e->sigs[n++] = e->sigs[i];
    if (n == 0) return;
    qsort(e->sigs, n, sizeof *e->sigs, by_arrival);
    tb_signal *rows = malloc(n * sizeof *rows);
    bool *inserted = malloc(n * sizeof *inserted);
    tb_error err = {0};
    PGconn *pg = rows && inserted ? engine_pg(e, &err) : NULL;
    for (size_t i = 0; rows && i < n; i++) rows[i] = e->sigs[i].sig;
    if (pg == NULL || sp_db_insert_signals(pg, rows, n, inserted, &err) != TB_OK) {
        /* Publish anyway: the compare-and-set made this worker the only
         * one emitting them; only the history rows are missing. */
        bus_counter_add(svc->m_signal_errors, (int64_t)n);
        bus_log(BUS_LOG_ERROR, "%zu signal(s) not recorded: %s", n,
                rows && inserted ? err.message : "out of memory");
        for (size_t i = 0; inserted && i < n; i++) inserted[i] = true;
    }
    bus_conn *conn = bus_actor_conn(e->a);
    for (size_t i = 0; i < n; i++) {
        const tb_signal *sig = &e->sigs[i].sig;
        if (inserted && !inserted[i]) {
            bus_log(BUS_LOG_INFO, "signal %s was already recorded; not published again",
                    sig->signal_id);
            continue;
        }
        char subject[160];
        snprintf(subject, sizeof subject, "sig.%s.%s", sig->strategy_id, sig->symbol);
        bus_msg_meta meta = {.trace_id = e->sigs[i].trace};
        if (bus_publish(conn, subject, &tb_signal_desc, sig, &meta) != TB_OK) {
            bus_counter_add(svc->m_signal_errors, 1);
            bus_log(BUS_LOG_ERROR, "signal %s recorded but not published", sig->signal_id);
            continue;
        }
        bus_counter_add(strcmp(sig->side, "buy") == 0 ? svc->m_signals_buy : svc->m_signals_sell,
                        1);
        bus_log(BUS_LOG_DEBUG, "signal %s %s at %" PRId64 ": %s", sig->signal_id, sig->side,
                sig->ref_price, sig->reason);
    }
    free(rows);
    free(inserted);
}

static tb_status run(engine *e, tb_error *err) {
    if (e->ng == 0) return TB_OK;
    tb_status s = read_states(e, err);
    if (s == TB_OK) s = advance_all(e, err);
    /* Signals of committed states go out even when a later round failed. */
    emit_all(e);
    return s;
}

/* Validates message i of the batch into *out; false (message failed) when
 * it cannot be used. */
static bool take_tick(const bus_batch *b, size_t i, sp_parked *out) {
    const tb_tick *t = bus_batch_event(b, i);
    if (t == NULL) return false;
    const char *subject = bus_batch_subject(b, i);
    if (strncmp(subject, "md.tick.", 8) != 0 || strcmp(subject + 8, t->symbol) != 0) {
        bus_batch_fail(b, i, TB_INVALID, "tick for %s published on %s", t->symbol, subject);
        return false;
    }
    if (t->seq >= SP_SEQ_LIMIT) {
        bus_batch_fail(b, i, TB_INVALID, "tick %s seq %" PRIu64 " beyond 2^53", t->symbol, t->seq);
        return false;
    }
    tb_error err = {0};
    if (sp_tick_price(t, &out->price, &err) != TB_OK) {
        bus_batch_fail(b, i, err.status, "%s", err.message);
        return false;
    }
    out->seq = t->seq;
    out->ts = t->ts;
    out->arrival = (uint32_t)i;
    /* A longer trace id is cut: it only labels the signal. */
    snprintf(out->trace, sizeof out->trace, "%s", bus_batch_trace(b, i));
    return true;
}

tb_status sp_on_ticks(bus_ctx *ctx, const bus_batch *b) {
    sp_service *svc = sp_service_of(ctx);
    size_t n = bus_batch_len(b);
    sp_tick_ref *refs = malloc((n ? n : 1) * sizeof *refs);
    sp_tick_run *runs = malloc((n ? n : 1) * sizeof *runs);
    sp_parked *ticks = malloc((n ? n : 1) * sizeof *ticks);
    sp_parked *run_ticks = malloc((n ? n : 1) * sizeof *run_ticks);
    engine e = {.svc = svc, .a = bus_ctx_actor(ctx), .ctx = ctx};
    tb_error err = {0};
    tb_status s = refs && runs && ticks && run_ticks
                      ? TB_OK
                      : tb_error_set(&err, TB_NOMEM, NULL, "batch of %zu ticks", n);
    size_t k = 0;
    for (size_t i = 0; i < n && s == TB_OK; i++)
        if (take_tick(b, i, &ticks[i]))
            refs[k++] = (sp_tick_ref){.symbol = ((const tb_tick *)bus_batch_event(b, i))->symbol,
                                      .seq = ticks[i].seq,
                                      .index = i};
    size_t nruns = 0, dups = 0;
    if (s == TB_OK) k = sp_batch_group(refs, k, runs, &nruns, &dups);
    if (dups > 0) bus_counter_add(svc->m_stale, (int64_t)dups); /* second copies in the batch */
    if (s == TB_OK && nruns > 0) {
        e.r = bus_ctx_redis(ctx, &err);
        if (e.r == NULL) s = err.status;
    }
    for (size_t i = 0; i < nruns && s == TB_OK; i++) {
        const sp_tick_run *run = &runs[i];
        for (size_t j = 0; j < run->len; j++) run_ticks[j] = ticks[refs[run->start + j].index];
        s = add_symbol(&e, refs[run->start].symbol, run_ticks, run->len, &err);
    }
    if (s == TB_OK) s = run(&e, &err);
    engine_free(&e);
    free(refs);
    free(runs);
    free(ticks);
    free(run_ticks);
    return s == TB_OK ? TB_OK : bus_fail_err(ctx, &err);
}

tb_status sp_ticks_revisit(bus_actor *a, const char (*symbols)[TB_TOKEN_CAP], size_t n,
                           tb_error *err) {
    engine e = {.svc = bus_actor_user(a), .a = a};
    e.r = bus_redis_acquire(bus_actor_redis(a), err);
    if (e.r == NULL) return err->status;
    tb_status s = TB_OK;
    for (size_t i = 0; i < n && s == TB_OK; i++) s = add_symbol(&e, symbols[i], NULL, 0, err);
    if (s == TB_OK) s = run(&e, err);
    engine_free(&e);
    bus_redis_release(bus_actor_redis(a), e.r);
    return s;
}
