/* Alert raising and threshold-rule evaluation; see notif_alerts.h.
 *
 * Order of effects for a threshold rule: the Redis crossing state is updated
 * first (that decides, once across workers, that an alert is due), then the
 * alert is recorded in PostgreSQL and published. If recording fails after
 * the state moved, the alert is lost and the failure logged and counted:
 * ticks are at-most-once anyway, and re-firing on the next tick would repeat
 * alerts for one crossing. */
#include "notif_alerts.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "notif_webhook.h"

#define CAS_TRIES 16

/* Compare-and-set: writes ARGV[2] (with TTL ARGV[3] s) only if the key still
 * holds ARGV[1] ("" = absent). */
static const char cas_script[] = "local cur = redis.call('GET', KEYS[1]) or ''\n"
                                 "if cur ~= ARGV[1] then return 0 end\n"
                                 "redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])\n"
                                 "return 1\n";

tb_status notif_state_observe(redisContext *c, const char *key, int64_t ttl_s, int64_t ts,
                              uint64_t seq, int64_t cooldown_s, notif_decide_fn decide, void *arg,
                              notif_step *step, tb_error *err) {
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%" PRId64, ttl_s > 0 ? ttl_s : 1);
    for (int attempt = 0; attempt < CAS_TRIES; attempt++) {
        redisReply *r = NULL;
        tb_status s = bus_redis_cmd(c, &r, err, "GET %s", key);
        if (s != TB_OK) return s;
        char cur[NOTIF_CROSS_STRLEN + 1] = "";
        if (r->type == REDIS_REPLY_STRING && r->len < sizeof cur) memcpy(cur, r->str, r->len + 1);
        bool too_long = r->type == REDIS_REPLY_STRING && r->len >= sizeof cur;
        freeReplyObject(r);
        notif_cross prev;
        if (too_long || notif_cross_parse(cur, &prev) != TB_OK) {
            /* Not ours, or from an incompatible version: start afresh. */
            bus_log(BUS_LOG_WARN, "crossing state %s unreadable: reset", key);
            memset(&prev, 0, sizeof prev);
            if (too_long) {
                s = bus_redis_cmd(c, NULL, err, "DEL %s", key);
                if (s != TB_OK) return s;
                cur[0] = '\0';
            }
        }
        bool cond = false, has_peak = prev.has_peak;
        tb_fixed peak = prev.peak;
        decide(&prev, arg, &cond, &has_peak, &peak);
        notif_cross next;
        *step = notif_cross_step(&prev, ts, seq, cond, tb_now_ns(), cooldown_s, &next);
        if (*step == NOTIF_STEP_STALE) return TB_OK;
        next.has_peak = has_peak;
        next.peak = peak;
        char val[NOTIF_CROSS_STRLEN];
        (void)notif_cross_format(&next, val); /* length not needed */
        s = bus_redis_cmd(c, &r, err, "EVAL %s 1 %s %s %s %s", cas_script, key, cur, val, ttl);
        if (s != TB_OK) return s;
        bool done = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        freeReplyObject(r);
        if (done) return TB_OK;
    }
    return tb_error_set(err, TB_UNAVAILABLE, NULL, "crossing state %s: too much contention", key);
}

/* ---- raising ---- */

static void alert_subject(const tb_alert *al, char *out, size_t cap) {
    snprintf(out, cap, "alerts.%s.%s", al->severity, al->kind);
}

/* The webhooks of one account, loaded at most once per transaction. */
typedef struct hook_set {
    bool loaded;
    char account[TB_TOKEN_CAP];
    notif_hook *hooks;
    size_t n;
} hook_set;

static tb_status hooks_for(PGconn *pg, hook_set *h, const char *account, tb_error *err) {
    if (h->loaded && strcmp(h->account, account) == 0) return TB_OK;
    free(h->hooks);
    h->hooks = NULL;
    h->n = 0;
    h->loaded = false;
    tb_status s = notif_db_hooks(pg, account, &h->hooks, &h->n, err);
    if (s != TB_OK) return s;
    h->loaded = true;
    snprintf(h->account, sizeof h->account, "%s", account);
    return TB_OK;
}

/* Records the alerts and the fan-out in one transaction; inserted[i] says
 * which alerts are new. Webhooks are read only when something is to be
 * fanned out: an alert seen again (our own, back on alerts.>) costs one
 * insert that finds its row. */
static tb_status record(PGconn *pg, const tb_alert *alerts, const notif_rule *rules, size_t n,
                        const notif_source *src, const char *trace, bool *inserted, int *added,
                        tb_error *err) {
    hook_set hs = {0};
    tb_status s = notif_db_begin(pg, err);
    for (size_t i = 0; s == TB_OK && i < n; i++) {
        const tb_alert *al = &alerts[i];
        s = notif_db_insert_alert(pg, al, rules ? rules[i].rule_id : NULL, trace, &inserted[i],
                                  err);
        if (s != TB_OK || !inserted[i]) continue;
        char subject[32 + 2 * TB_ENUM_CAP + TB_TOKEN_CAP];
        alert_subject(al, subject, sizeof subject);
        notif_source as = {.type = NOTIF_EVENT_ALERT,
                           .id = al->alert_id,
                           .subject = subject,
                           .account = al->account,
                           .desc = &tb_alert_desc,
                           .ev = al};
        s = hooks_for(pg, &hs, al->account, err);
        if (s == TB_OK) s = notif_db_enqueue(pg, hs.hooks, hs.n, &as, added, err);
        if (s == TB_OK && rules && notif_kind_is_threshold(rules[i].kind)) {
            const char *p[1] = {rules[i].rule_id};
            s = bus_pg_exec(pg, "UPDATE alert_rules SET last_fired_at = now() WHERE rule_id = $1",
                            1, p, NULL, err);
        }
    }
    if (s == TB_OK && src) {
        s = hooks_for(pg, &hs, src->account, err);
        if (s == TB_OK) s = notif_db_enqueue(pg, hs.hooks, hs.n, src, added, err);
    }
    if (s == TB_OK) s = notif_db_commit(pg, err);
    if (s != TB_OK) notif_db_rollback(pg);
    free(hs.hooks);
    return s;
}

tb_status notif_raise(notif_io *io, const tb_alert *alerts, const notif_rule *rules, size_t n,
                      const notif_source *src, bool publish, const char *trace, tb_error *err) {
    notif_service *svc = notif_of(io->a);
    PGconn *pg = notif_io_pg(io, err);
    if (pg == NULL) return err->status;
    bool stack_flags[16];
    bool *inserted = n <= 16 ? stack_flags : calloc(n, sizeof *inserted);
    if (inserted == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    memset(inserted, 0, (n <= 16 ? 16 : n) * sizeof *inserted);
    int added = 0;
    tb_status s = record(pg, alerts, rules, n, src, trace, inserted, &added, err);
    if (s == TB_OK) {
        bus_counter_add(svc->m_enqueued, (uint64_t)added);
        for (size_t i = 0; i < n; i++) {
            if (!inserted[i]) continue;
            if (rules == NULL) {
                bus_counter_add(svc->m_foreign_alerts, 1);
                continue;
            }
            bus_counter_add(svc->m_alerts[rules[i].kind], 1);
            bus_logf(BUS_LOG_INFO,
                     json_pack("{s:s, s:s, s:s, s:s}", "alert_id", alerts[i].alert_id, "rule_id",
                               rules[i].rule_id, "kind", alerts[i].kind, "severity",
                               alerts[i].severity),
                     "alert raised");
            if (!publish) continue;
            char subject[32 + 2 * TB_ENUM_CAP + TB_TOKEN_CAP];
            alert_subject(&alerts[i], subject, sizeof subject);
            bus_msg_meta meta = {.trace_id = trace, .msg_id = alerts[i].alert_id};
            if (bus_publish(bus_actor_conn(io->a), subject, &tb_alert_desc, &alerts[i], &meta) !=
                TB_OK)
                bus_log(BUS_LOG_WARN,
                        "alert %s recorded but not published on %s (NATS unavailable)",
                        alerts[i].alert_id, subject);
        }
    }
    if (inserted != stack_flags) free(inserted);
    return s;
}

/* ---- threshold rules ---- */

static void state_key(const notif_rule *r, const char *sub, char *out, size_t cap) {
    snprintf(out, cap, NOTIF_STATE_PREFIX "%s:%s", r->rule_id, sub);
}

static void decide_fixed(const notif_cross *prev, void *arg, bool *cond, bool *has_peak,
                         tb_fixed *peak) {
    (void)prev, (void)has_peak, (void)peak;
    *cond = *(const bool *)arg;
}

/* Evaluates rules[0..n) with conditions conds[i] on one observation and
 * raises what fired. make(i) fills alert i. */
typedef struct fired_set {
    tb_alert *alerts;
    notif_rule *rules;
    size_t n;
} fired_set;

static tb_status fired_add(fired_set *f, const notif_rule *r, const tb_alert *al, tb_error *err) {
    tb_alert *a2 = realloc(f->alerts, (f->n + 1) * sizeof *a2);
    if (a2 == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    f->alerts = a2;
    notif_rule *r2 = realloc(f->rules, (f->n + 1) * sizeof *r2);
    if (r2 == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    f->rules = r2;
    f->alerts[f->n] = *al;
    f->rules[f->n] = *r;
    f->n++;
    return TB_OK;
}

static tb_status fired_raise(notif_io *io, fired_set *f, const char *trace, tb_error *err) {
    tb_status s = f->n ? notif_raise(io, f->alerts, f->rules, f->n, NULL, true, trace, err) : TB_OK;
    free(f->alerts);
    free(f->rules);
    return s;
}

tb_status notif_eval_position(notif_io *io, const tb_position_update *u, const char *trace,
                              tb_error *err) {
    notif_service *svc = notif_of(io->a);
    notif_rule *rules = NULL;
    size_t n =
        notif_cache_match(&svc->cache, NOTIF_KIND_POSITION_LIMIT, u->account, u->symbol, &rules);
    if (n == 0) return TB_OK;
    fired_set fired = {0};
    tb_status s = TB_OK;
    redisContext *rc = notif_io_redis(io, err);
    if (rc == NULL) s = err->status;
    char sub[2 * TB_TOKEN_CAP + 2];
    snprintf(sub, sizeof sub, "%s.%s", u->account, u->symbol);
    for (size_t i = 0; s == TB_OK && i < n; i++) {
        bool cond = notif_position_condition(&rules[i], u->qty);
        char key[256];
        state_key(&rules[i], sub, key, sizeof key);
        notif_step step = NOTIF_STEP_NONE; /* set by the crossing update on success */
        s = notif_state_observe(rc, key, svc->set.state_ttl_s, u->ts, 0, rules[i].cooldown_s,
                                decide_fixed, &cond, &step, err);
        if (s != TB_OK || step != NOTIF_STEP_FIRE) continue;
        char ev_key[TB_TEXT_CAP], msg[TB_TEXT_CAP];
        snprintf(ev_key, sizeof ev_key, "%s.%" PRId64, sub, u->ts);
        notif_msg_position(&rules[i], u->account, u->symbol, u->qty, msg, sizeof msg);
        tb_alert al;
        notif_alert_make(&rules[i], ev_key, u->account, u->symbol, u->ts, msg, &al);
        s = fired_add(&fired, &rules[i], &al, err);
    }
    free(rules);
    tb_status s2 = fired_raise(io, &fired, trace, s == TB_OK ? err : &(tb_error){0});
    return s != TB_OK ? s : s2;
}

typedef struct drawdown_arg {
    const notif_rule *rule;
    const tb_account *acct;
    tb_fixed fraction;
    tb_fixed peak;
    bool failed;
} drawdown_arg;

static void decide_drawdown(const notif_cross *prev, void *arg, bool *cond, bool *has_peak,
                            tb_fixed *peak) {
    drawdown_arg *d = arg;
    tb_fixed p, f;
    if (notif_drawdown(prev->has_peak, prev->peak, d->acct->initial_cash, d->acct->equity, &p,
                       &f) != TB_OK) {
        d->failed = true;
        *cond = prev->cond; /* keep the state as it was */
        return;
    }
    d->failed = false;
    d->fraction = f;
    d->peak = p;
    *has_peak = true;
    *peak = p;
    *cond = notif_drawdown_condition(d->rule, f);
}

tb_status notif_eval_drawdown(notif_io *io, const char *account, const char *trace, tb_error *err) {
    notif_service *svc = notif_of(io->a);
    notif_rule *rules = NULL;
    size_t n = notif_cache_match(&svc->cache, NOTIF_KIND_DRAWDOWN, account, "", &rules);
    if (n == 0) return TB_OK;
    tb_query q = {0};
    snprintf(q.account, sizeof q.account, "%s", account);
    tb_account acct;
    tb_status s = bus_request(bus_actor_conn(io->a), "api.accounts.get", &tb_query_desc, &q,
                              &tb_account_desc, &acct, svc->set.equity_timeout_ms, trace, err);
    if (s != TB_OK) {
        free(rules);
        return s;
    }
    int64_t ts = acct.ts > 0 ? acct.ts : tb_now_ns();
    fired_set fired = {0};
    redisContext *rc = notif_io_redis(io, err);
    if (rc == NULL) s = err->status;
    for (size_t i = 0; s == TB_OK && i < n; i++) {
        drawdown_arg d = {.rule = &rules[i], .acct = &acct};
        char key[256];
        state_key(&rules[i], account, key, sizeof key);
        notif_step step = NOTIF_STEP_NONE; /* set by the crossing update on success */
        s = notif_state_observe(rc, key, svc->set.state_ttl_s, ts, 0, rules[i].cooldown_s,
                                decide_drawdown, &d, &step, err);
        if (s == TB_OK && d.failed)
            s = tb_error_set(err, TB_OVERFLOW, "equity", "drawdown of %s out of range", account);
        if (s != TB_OK || step != NOTIF_STEP_FIRE) continue;
        char ev_key[TB_TEXT_CAP], msg[TB_TEXT_CAP];
        snprintf(ev_key, sizeof ev_key, "%s.%" PRId64, account, ts);
        notif_msg_drawdown(&rules[i], account, d.fraction, acct.equity, d.peak, msg, sizeof msg);
        tb_alert al;
        notif_alert_make(&rules[i], ev_key, account, "", ts, msg, &al);
        s = fired_add(&fired, &rules[i], &al, err);
    }
    free(rules);
    tb_status s2 = fired_raise(io, &fired, trace, s == TB_OK ? err : &(tb_error){0});
    return s != TB_OK ? s : s2;
}
