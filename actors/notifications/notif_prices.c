/* Price rules over a batch of ticks; see notif_prices.h.
 *
 * As for one tick (notif_alerts.c), the Redis crossing state moves first:
 * the compare-and-set decides, once across workers, which crossings are
 * alerts; recording them follows. Only the keys whose compare-and-set
 * succeeded raise their alerts, so a key stepped twice (contention) fires
 * from its second, authoritative, evaluation only. */
#include "notif_prices.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "notif_alerts.h"
#include "notif_price_batch.h"

#define CAS_TRIES 16

/* Writes each KEYS[i] to ARGV[2i+1] (TTL ARGV[1] s) only if it still holds
 * ARGV[2i] ("" = absent); returns 1 or 0 per key. */
static const char cas_many[] = "local out = {}\n"
                               "for i, k in ipairs(KEYS) do\n"
                               "  local cur = redis.call('GET', k) or ''\n"
                               "  if cur == ARGV[2 * i] then\n"
                               "    redis.call('SET', k, ARGV[2 * i + 1], 'EX', ARGV[1])\n"
                               "    out[i] = 1\n"
                               "  else\n"
                               "    out[i] = 0\n"
                               "  end\n"
                               "end\n"
                               "return out\n";

/* One rule on its symbol. */
typedef struct rule_run {
    notif_rule rule;
    char key[256];
    char *cur; /* the stored state as read ("" = absent) */
    char next[NOTIF_CROSS_STRLEN];
    bool pending; /* not settled yet */
    bool moved;   /* this round's steps recorded something */
    size_t nfired;
    size_t *fired; /* indices into obs */
} rule_run;

/* The price rules of every symbol of obs, from the cache. */
static size_t collect_rules(notif_service *svc, const notif_obs *obs, size_t n, rule_run **out,
                            tb_error *err) {
    size_t *keys = malloc((n ? n : 1) * sizeof *keys);
    rule_run *runs = NULL;
    size_t nr = 0;
    if (keys == NULL) goto oom;
    size_t nk = notif_obs_keys(obs, n, keys);
    for (size_t k = 0; k < nk; k++) {
        for (int kind = NOTIF_KIND_PRICE_ABOVE; kind <= NOTIF_KIND_PRICE_BELOW; kind++) {
            notif_rule *rules = NULL;
            size_t m =
                notif_cache_match(&svc->cache, (notif_kind)kind, "", obs[keys[k]].key, &rules);
            if (m == 0) continue;
            rule_run *r2 = realloc(runs, (nr + m) * sizeof *r2);
            if (r2 == NULL) {
                free(rules);
                goto oom;
            }
            runs = r2;
            for (size_t i = 0; i < m; i++) {
                rule_run *r = &runs[nr++];
                memset(r, 0, sizeof *r);
                r->rule = rules[i];
                r->pending = true;
                snprintf(r->key, sizeof r->key, NOTIF_STATE_PREFIX "%s:%s", rules[i].rule_id,
                         obs[keys[k]].key);
            }
            free(rules);
        }
    }
    free(keys);
    *out = runs;
    return nr;
oom:
    free(keys);
    free(runs);
    *out = NULL;
    tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    return SIZE_MAX;
}

static void free_runs(rule_run *runs, size_t nr) {
    for (size_t i = 0; i < nr; i++) {
        free(runs[i].cur);
        free(runs[i].fired);
    }
    free(runs);
}

/* Reads the state of every pending run (one MGET) and steps it through obs. */
static tb_status read_and_step(redisContext *rc, rule_run *runs, size_t nr, const notif_obs *obs,
                               size_t n, tb_error *err) {
    const char **argv = malloc((nr + 1) * sizeof *argv);
    rule_run **which = malloc((nr ? nr : 1) * sizeof *which);
    tb_status s = TB_OK;
    if (argv == NULL || which == NULL) {
        s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
        goto out;
    }
    int argc = 0;
    argv[argc++] = "MGET";
    for (size_t i = 0; i < nr; i++)
        if (runs[i].pending) {
            which[argc - 1] = &runs[i];
            argv[argc++] = runs[i].key;
        }
    redisReply *r = NULL;
    s = bus_redis_cmd_argv(rc, argc, argv, NULL, &r, err);
    if (s != TB_OK) goto out;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)(argc - 1)) {
        freeReplyObject(r);
        s = tb_error_set(err, TB_UNAVAILABLE, NULL, "unexpected MGET reply");
        goto out;
    }
    int64_t now = tb_now_ns();
    for (size_t i = 0; i + 1 < (size_t)argc; i++) {
        rule_run *run = which[i];
        const redisReply *e = r->element[i];
        bool present = e->type == REDIS_REPLY_STRING;
        free(run->cur);
        run->cur = present ? strndup(e->str, e->len) : strdup("");
        if (run->fired == NULL) run->fired = malloc((n ? n : 1) * sizeof *run->fired);
        if (run->cur == NULL || run->fired == NULL) {
            s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
            break;
        }
        notif_cross prev;
        if ((present && strlen(run->cur) != e->len) ||
            notif_cross_parse(run->cur, &prev) != TB_OK) {
            /* Not ours, or from an incompatible version: start afresh. */
            bus_log(BUS_LOG_WARN, "crossing state %s unreadable: reset", run->key);
            memset(&prev, 0, sizeof prev);
        }
        notif_cross next;
        run->nfired =
            notif_price_steps(&run->rule, &prev, obs, n, now, &next, &run->moved, run->fired);
        (void)notif_cross_format(&next, run->next); /* length not needed */
        if (!run->moved) run->pending = false;      /* nothing recorded: nothing to write */
    }
    freeReplyObject(r);
out:
    free(argv);
    free(which);
    return s;
}

/* Compare-and-sets every pending run that moved (one EVAL); the ones that
 * succeed are settled, the others stay pending. */
static tb_status write_states(redisContext *rc, rule_run *runs, size_t nr, int64_t ttl_s,
                              tb_error *err) {
    size_t k = 0;
    for (size_t i = 0; i < nr; i++) k += runs[i].pending;
    if (k == 0) return TB_OK;
    const char **argv = malloc((4 + 3 * k) * sizeof *argv);
    rule_run **which = malloc(k * sizeof *which);
    tb_status s = TB_OK;
    if (argv == NULL || which == NULL) {
        s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
        goto out;
    }
    char nkeys[24], ttl[24];
    snprintf(nkeys, sizeof nkeys, "%zu", k);
    snprintf(ttl, sizeof ttl, "%" PRId64, ttl_s > 0 ? ttl_s : 1);
    int argc = 0;
    argv[argc++] = "EVAL";
    argv[argc++] = cas_many;
    argv[argc++] = nkeys;
    size_t j = 0;
    for (size_t i = 0; i < nr; i++)
        if (runs[i].pending) {
            which[j++] = &runs[i];
            argv[argc++] = runs[i].key;
        }
    argv[argc++] = ttl;
    for (size_t i = 0; i < k; i++) {
        argv[argc++] = which[i]->cur;
        argv[argc++] = which[i]->next;
    }
    redisReply *r = NULL;
    s = bus_redis_cmd_argv(rc, argc, argv, NULL, &r, err);
    if (s != TB_OK) goto out;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != k) {
        freeReplyObject(r);
        s = tb_error_set(err, TB_UNAVAILABLE, NULL, "unexpected compare-and-set reply");
        goto out;
    }
    for (size_t i = 0; i < k; i++)
        if (r->element[i]->type == REDIS_REPLY_INTEGER && r->element[i]->integer == 1)
            which[i]->pending = false;
    freeReplyObject(r);
out:
    free(argv);
    free(which);
    return s;
}

/* Records and publishes the alerts of the settled runs, in one call. */
static tb_status raise_fired(notif_io *io, const rule_run *runs, size_t nr, const notif_obs *obs,
                             const char *const *traces, tb_error *err) {
    size_t k = 0;
    for (size_t i = 0; i < nr; i++)
        if (!runs[i].pending) k += runs[i].nfired;
    if (k == 0) return TB_OK;
    tb_alert *alerts = calloc(k, sizeof *alerts);
    notif_rule *rules = calloc(k, sizeof *rules);
    tb_status s = TB_OK;
    if (alerts == NULL || rules == NULL) {
        s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
        goto out;
    }
    size_t j = 0;
    const char *trace = NULL;
    for (size_t i = 0; i < nr; i++) {
        if (runs[i].pending) continue;
        for (size_t f = 0; f < runs[i].nfired; f++) {
            const notif_obs *o = &obs[runs[i].fired[f]];
            char ev_key[TB_TOKEN_CAP + 64], msg[TB_TEXT_CAP];
            snprintf(ev_key, sizeof ev_key, "%s.%" PRId64 ".%" PRIu64, o->key, o->ts, o->seq);
            notif_msg_price(&runs[i].rule, o->key, o->value, msg, sizeof msg);
            notif_alert_make(&runs[i].rule, ev_key, "", o->key, o->ts, msg, &alerts[j]);
            rules[j++] = runs[i].rule;
            if (trace == NULL && traces != NULL) trace = traces[runs[i].fired[f]];
        }
    }
    s = notif_raise(io, alerts, rules, j, NULL, true, trace, err);
out:
    free(alerts);
    free(rules);
    return s;
}

tb_status notif_eval_prices(notif_io *io, const notif_obs *obs, const char *const *traces, size_t n,
                            tb_error *err) {
    notif_service *svc = notif_of(io->a);
    rule_run *runs = NULL;
    size_t nr = collect_rules(svc, obs, n, &runs, err);
    if (nr == SIZE_MAX) return err->status;
    if (nr == 0) return TB_OK;
    tb_status s = TB_OK;
    redisContext *rc = notif_io_redis(io, err);
    if (rc == NULL) s = err->status;
    size_t pending = nr;
    for (int attempt = 0; s == TB_OK && pending > 0 && attempt < CAS_TRIES; attempt++) {
        s = read_and_step(rc, runs, nr, obs, n, err);
        if (s == TB_OK) s = write_states(rc, runs, nr, svc->set.state_ttl_s, err);
        pending = 0;
        for (size_t i = 0; i < nr; i++) pending += runs[i].pending;
    }
    /* Alerts of the settled runs are raised even when others failed: their
     * state has moved, and firing again would repeat one crossing. */
    tb_error err2 = {0};
    tb_status s2 = raise_fired(io, runs, nr, obs, traces, s == TB_OK ? err : &err2);
    if (s == TB_OK && pending > 0)
        s = tb_error_set(err, TB_UNAVAILABLE, NULL, "%zu price rule states: too much contention",
                         pending);
    free_runs(runs, nr);
    return s != TB_OK ? s : s2;
}
