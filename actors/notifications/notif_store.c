/* PostgreSQL access of the notifications service; see notif_store.h. Money
 * columns travel as decimal strings (tb_fixed_format / tb_fixed_parse). */
#include "notif_store.h"

#include <stdlib.h>
#include <string.h>

#include "notif_service.h"
#include "notif_webhook.h"
#include "pgarray.h"

tb_status notif_db_begin(PGconn *c, tb_error *err) {
    return bus_pg_exec(c, "BEGIN", 0, NULL, NULL, err);
}

tb_status notif_db_commit(PGconn *c, tb_error *err) {
    return bus_pg_exec(c, "COMMIT", 0, NULL, NULL, err);
}

void notif_db_rollback(PGconn *c) {
    tb_error err = {0};
    if (bus_pg_exec(c, "ROLLBACK", 0, NULL, NULL, &err) != TB_OK)
        bus_log(BUS_LOG_WARN, "rollback failed: %s", err.message);
}

int64_t notif_db_i64(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

#define RULE_COLUMNS                                                                               \
    "SELECT rule_id, kind, severity, coalesce(account, ''), coalesce(symbol, ''), "                \
    "coalesce(threshold, 0), cooldown_s FROM alert_rules "                                         \
    "WHERE enabled AND kind = ANY(string_to_array($1, ',')) "

/* The rules of a RULE_COLUMNS result into *out / *n; rows of unknown kinds
 * and unreadable thresholds are skipped. Clears r. */
static tb_status rules_of(PGresult *r, notif_rule **out, size_t *n, tb_error *err) {
    int rows = PQntuples(r);
    notif_rule *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
    if (rows && v == NULL) {
        PQclear(r);
        return tb_error_set(err, TB_NOMEM, NULL, "out of memory loading rules");
    }
    size_t k = 0;
    for (int i = 0; i < rows; i++) {
        notif_rule *rule = &v[k];
        char kind[TB_TOKEN_CAP];
        bus_pg_col_str(r, i, 1, kind, sizeof kind);
        if (!notif_kind_parse(kind, &rule->kind)) continue; /* written by someone else */
        bus_pg_col_str(r, i, 0, rule->rule_id, sizeof rule->rule_id);
        bus_pg_col_str(r, i, 2, rule->severity, sizeof rule->severity);
        bus_pg_col_str(r, i, 3, rule->account, sizeof rule->account);
        bus_pg_col_str(r, i, 4, rule->symbol, sizeof rule->symbol);
        tb_error e = {0};
        if (bus_pg_col_fixed(r, i, 5, &rule->threshold, &e) != TB_OK) {
            bus_log(BUS_LOG_WARN, "rule %s skipped: %s", rule->rule_id, e.message);
            continue;
        }
        rule->cooldown_s = notif_db_i64(r, i, 6);
        k++;
    }
    PQclear(r);
    if (k == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n = k;
    return TB_OK;
}

tb_status notif_db_rules(PGconn *c, const char *kinds, const char *account, const char *symbol,
                         notif_rule **out, size_t *n, tb_error *err) {
    *out = NULL;
    *n = 0;
    const char *p[3] = {kinds, account, symbol};
    PGresult *r = NULL;
    tb_status s =
        bus_pg_exec(c,
                    RULE_COLUMNS "AND ($2::text IS NULL OR account IS NULL OR account = $2) "
                                 "AND ($3::text IS NULL OR symbol IS NULL OR symbol = $3) "
                                 "ORDER BY rule_id COLLATE \"C\"",
                    3, p, &r, err);
    return s == TB_OK ? rules_of(r, out, n, err) : s;
}

/* names[0..n) as a PostgreSQL text[] literal in *a (initialised here). */
static void names_array(bus_pgarray *a, const char *const *names, size_t n) {
    bus_pgarray_init(a);
    for (size_t i = 0; i < n; i++) bus_pgarray_str(a, names[i]);
}

tb_status notif_db_rules_any(PGconn *c, const char *kinds, const char *const *accounts, size_t na,
                             const char *const *symbols, size_t ns, notif_rule **out, size_t *n,
                             tb_error *err) {
    *out = NULL;
    *n = 0;
    bus_pgarray col[2];
    names_array(&col[0], accounts, na);
    names_array(&col[1], symbols, ns);
    const char *p[3] = {kinds, NULL, NULL};
    PGresult *r = NULL;
    tb_status s = bus_pgarray_finish_all(col, 2, &p[1], err);
    if (s == TB_OK)
        s = bus_pg_exec(c,
                        RULE_COLUMNS "AND (account IS NULL OR account = ANY($2::text[])) "
                                     "AND (symbol IS NULL OR symbol = ANY($3::text[])) "
                                     "ORDER BY rule_id COLLATE \"C\"",
                        3, p, &r, err);
    bus_pgarray_close_all(col, 2);
    return s == TB_OK ? rules_of(r, out, n, err) : s;
}

#define HOOK_COLUMNS                                                                               \
    "SELECT id, coalesce(account, ''), array_to_string(events, ',') FROM webhooks WHERE active "

/* The webhooks of a HOOK_COLUMNS result into *out / *n. Clears r. */
static tb_status hooks_of(PGresult *r, notif_hook **out, size_t *n, tb_error *err) {
    int rows = PQntuples(r);
    notif_hook *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
    if (rows && v == NULL) {
        PQclear(r);
        return tb_error_set(err, TB_NOMEM, NULL, "out of memory loading webhooks");
    }
    for (int i = 0; i < rows; i++) {
        bus_pg_col_str(r, i, 0, v[i].id, sizeof v[i].id);
        bus_pg_col_str(r, i, 1, v[i].account, sizeof v[i].account);
        bus_pg_col_str(r, i, 2, v[i].events, sizeof v[i].events);
    }
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return TB_OK;
}

tb_status notif_db_hooks(PGconn *c, const char *account, notif_hook **out, size_t *n,
                         tb_error *err) {
    *out = NULL;
    *n = 0;
    const char *p[1] = {account ? account : ""};
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(c,
                              HOOK_COLUMNS "AND (account IS NULL OR account = $1) "
                                           "ORDER BY id COLLATE \"C\"",
                              1, p, &r, err);
    return s == TB_OK ? hooks_of(r, out, n, err) : s;
}

tb_status notif_db_hooks_any(PGconn *c, const char *const *accounts, size_t na, notif_hook **out,
                             size_t *n, tb_error *err) {
    *out = NULL;
    *n = 0;
    bus_pgarray col[1];
    names_array(&col[0], accounts, na);
    const char *p[1] = {NULL};
    PGresult *r = NULL;
    tb_status s = bus_pgarray_finish_all(col, 1, p, err);
    if (s == TB_OK)
        s = bus_pg_exec(c,
                        HOOK_COLUMNS "AND (account IS NULL OR account = ANY($1::text[])) "
                                     "ORDER BY id COLLATE \"C\"",
                        1, p, &r, err);
    bus_pgarray_close_all(col, 1);
    return s == TB_OK ? hooks_of(r, out, n, err) : s;
}

tb_status notif_db_enqueue(PGconn *c, const notif_hook *hooks, size_t n, const notif_source *src,
                           int *added, tb_error *err) {
    char *body = NULL;
    char event_id[TB_TEXT_CAP];
    notif_event_id(src->type, src->id, event_id, sizeof event_id);
    tb_status s = TB_OK;
    for (size_t i = 0; s == TB_OK && i < n; i++) {
        if (!notif_webhook_wants(hooks[i].events, hooks[i].account, src->subject, src->account))
            continue;
        if (body == NULL) {
            /* The body is built once and stored: every attempt sends the same
             * bytes, so the signature of a retry equals the first one's. */
            json_t *j = notif_payload(src->type, event_id, src->subject, src->desc, src->ev, err);
            body = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
            json_decref(j);
            if (body == NULL)
                return err->status != TB_OK ? err->status
                                            : tb_error_set(err, TB_NOMEM, NULL, "out of memory");
        }
        char key[TB_TEXT_CAP + TB_ID_CAP];
        notif_idempotency_key(hooks[i].id, event_id, key, sizeof key);
        const char *p[5] = {hooks[i].id, event_id, src->type, key, body};
        PGresult *r = NULL;
        s = bus_pg_exec(c,
                        "INSERT INTO webhook_outbox (webhook_id, event_id, event_type, "
                        "idempotency_key, payload) VALUES ($1, $2, $3, $4, $5::jsonb) "
                        "ON CONFLICT DO NOTHING",
                        5, p, &r, err);
        if (s == TB_OK) {
            if (added) *added += atoi(PQcmdTuples(r));
            PQclear(r);
        }
    }
    free(body);
    return s;
}

tb_status notif_db_insert_alert(PGconn *c, const tb_alert *al, const char *rule_id,
                                const char *trace, bool *inserted, tb_error *err) {
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)al->ts);
    const char *p[9] = {al->alert_id,
                        rule_id ? rule_id : "",
                        al->severity,
                        al->kind,
                        al->account,
                        al->symbol,
                        al->message,
                        trace ? trace : "",
                        ts};
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(
        c,
        "INSERT INTO alerts (alert_id, rule_id, severity, kind, account, symbol, message, "
        "trace_id, ts) VALUES ($1, NULLIF($2, ''), $3, $4, NULLIF($5, ''), NULLIF($6, ''), $7, "
        "NULLIF($8, ''), " NOTIF_SQL_TS("$9") ") ON CONFLICT (alert_id) DO NOTHING",
        9, p, &r, err);
    if (s != TB_OK) return s;
    *inserted = atoi(PQcmdTuples(r)) == 1;
    PQclear(r);
    return TB_OK;
}

bool notif_scope_allows(const char *accounts, const char *acct) {
    if (accounts == NULL || accounts[0] == '\0') return true;
    if (acct == NULL || acct[0] == '\0') return false;
    size_t n = strlen(acct);
    for (const char *p = accounts;;) {
        size_t len = strcspn(p, ",");
        const char *q = p;
        size_t l = len;
        while (l > 0 && *q == ' ') q++, l--;
        while (l > 0 && q[l - 1] == ' ') l--;
        if (l == n && strncmp(q, acct, n) == 0) return true;
        if (p[len] == '\0') return false;
        p += len + 1;
    }
}

/* ---- notif_io ---- */

PGconn *notif_io_pg(notif_io *io, tb_error *err) {
    if (io->ctx) return bus_ctx_pg(io->ctx, err);
    if (io->pg == NULL) io->pg = bus_pg_acquire(bus_actor_pg(io->a), err);
    return io->pg;
}

redisContext *notif_io_redis(notif_io *io, tb_error *err) {
    if (io->ctx) return bus_ctx_redis(io->ctx, err);
    if (io->redis == NULL) io->redis = bus_redis_acquire(bus_actor_redis(io->a), err);
    return io->redis;
}

void notif_io_release(notif_io *io) {
    if (io->pg) bus_pg_release(bus_actor_pg(io->a), io->pg);
    if (io->redis) bus_redis_release(bus_actor_redis(io->a), io->redis);
    io->pg = NULL;
    io->redis = NULL;
}
