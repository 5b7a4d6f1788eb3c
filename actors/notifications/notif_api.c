/* Endpoints of the notifications service: webhooks, their deliveries,
 * alerts and alert rules. Lists are pages of at most `limit` items with an
 * offset cursor (decimal digits) in `next`. */
#include "notif_api.h"

#include <inttypes.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "notif_guard.h"
#include "notif_match.h"
#include "notif_service.h"
#include "notif_store.h"
#include "notif_webhook.h"

/* The caller's scope as SQL: ($n = '' OR <col> = ANY(list)). */
#define SCOPE(col, n) "(" n " = '' OR " col " = ANY(string_to_array(replace(" n ", ' ', ''), ',')))"

typedef struct page {
    int64_t limit, offset;
    char lim[24], off[24];
} page;

static tb_status page_of(bus_ctx *ctx, const tb_query *q, int64_t dflt, int64_t cap, page *pg) {
    pg->limit = q->limit == 0 ? dflt : (q->limit > (uint64_t)cap ? cap : (int64_t)q->limit);
    pg->offset = 0;
    const char *c = q->cursor;
    if (c[0]) {
        size_t n = strlen(c);
        if (n > 12 || strspn(c, "0123456789") != n)
            return bus_fail(ctx, TB_INVALID, "cursor", "cursor %s is not one this service gave", c);
        pg->offset = strtoll(c, NULL, 10);
    }
    snprintf(pg->lim, sizeof pg->lim, "%" PRId64, pg->limit + 1); /* one more: is there a next */
    snprintf(pg->off, sizeof pg->off, "%" PRId64, pg->offset);
    return TB_OK;
}

static const char *next_of(const page *pg, int rows, char buf[TB_ID_CAP]) {
    if (rows <= pg->limit) return NULL;
    snprintf(buf, TB_ID_CAP, "%" PRId64, pg->offset + pg->limit);
    return buf;
}

static PGconn *pg_of(bus_ctx *ctx, tb_status *s) {
    tb_error err = {0};
    PGconn *c = bus_ctx_pg(ctx, &err);
    *s = c ? TB_OK : bus_fail_err(ctx, &err);
    return c;
}

/* ---- webhooks ---- */

#define WEBHOOK_COLS                                                                               \
    "id, url, array_to_string(events, ','), coalesce(account, ''), active, " NOTIF_SQL_NS(         \
        "created_at")

static void row_to_webhook(const PGresult *r, int i, tb_webhook *w) {
    memset(w, 0, sizeof *w);
    bus_pg_col_str(r, i, 0, w->id, sizeof w->id);
    bus_pg_col_str(r, i, 1, w->url, sizeof w->url);
    bus_pg_col_str(r, i, 2, w->events, sizeof w->events);
    bus_pg_col_str(r, i, 3, w->account, sizeof w->account);
    w->active = strcmp(PQgetvalue(r, i, 4), "t") == 0;
    w->created_at = notif_db_i64(r, i, 5);
}

tb_status notif_api_webhooks_list(bus_ctx *ctx, const void *event) {
    const tb_query *q = event;
    page pg;
    tb_status s = page_of(ctx, q, 100, 1000, &pg);
    if (s != TB_OK) return s;
    PGconn *c = pg_of(ctx, &s);
    if (c == NULL) return s;
    const char *p[5] = {q->id, q->account, q->accounts, pg.lim, pg.off};
    PGresult *r = NULL;
    tb_error err = {0};
    if (bus_pg_exec(
            c,
            "SELECT " WEBHOOK_COLS " FROM webhooks WHERE ($1 = '' OR id = $1) "
            "AND ($2 = '' OR account = $2) AND " SCOPE(
                "account",
                "$3") " ORDER BY created_at, id COLLATE \"C\" LIMIT $4::bigint OFFSET $5::bigint",
            5, p, &r, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    int rows = PQntuples(r);
    int n = rows > pg.limit ? (int)pg.limit : rows;
    tb_webhook *items = n ? calloc((size_t)n, sizeof *items) : NULL;
    if (n && items == NULL) {
        PQclear(r);
        return bus_fail(ctx, TB_NOMEM, NULL, "out of memory");
    }
    for (int i = 0; i < n; i++) row_to_webhook(r, i, &items[i]);
    PQclear(r);
    char next[TB_ID_CAP];
    s = bus_reply_list(ctx, &tb_webhook_desc, items, (size_t)n, next_of(&pg, rows, next));
    free(items);
    return s;
}

/* A random id "<prefix><16 hex>". */
static void new_id(const char *prefix, char *out, size_t cap) {
    char hex[33];
    bus_new_id(hex, sizeof hex);
    snprintf(out, cap, "%s%.16s", prefix, hex);
}

tb_status notif_api_webhooks_create(bus_ctx *ctx, const void *event) {
    tb_webhook w = *(const tb_webhook *)event;
    tb_error err = {0};
    if (notif_url_validate(w.url, sizeof w.url, &err) != TB_OK) return bus_fail_err(ctx, &err);
    /* Refused now with a reason; checked again at every delivery. */
    if (notif_guard_url(&notif_of(bus_ctx_actor(ctx))->set.allow, w.url, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    char events[NOTIF_EVENTS_CAP];
    if (notif_patterns_normalize(w.events, events, sizeof events, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    snprintf(w.events, sizeof w.events, "%s", events);
    unsigned char rnd[24];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return bus_fail(ctx, TB_ERR, NULL, "no randomness for the webhook secret");
    notif_secret_format(rnd, sizeof rnd, w.secret, sizeof w.secret);
    new_id("wh-", w.id, sizeof w.id);
    w.active = true;
    tb_status s;
    PGconn *c = pg_of(ctx, &s);
    if (c == NULL) return s;
    const char *p[5] = {w.id, w.url, w.secret, w.events, w.account};
    PGresult *r = NULL;
    if (bus_pg_exec(
            c,
            "INSERT INTO webhooks (id, url, secret, events, account) VALUES ($1, $2, $3, "
            "string_to_array($4, ','), NULLIF($5, '')) RETURNING " NOTIF_SQL_NS("created_at"),
            5, p, &r, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    w.created_at = notif_db_i64(r, 0, 0);
    PQclear(r);
    bus_logf(BUS_LOG_INFO, json_pack("{s:s, s:s}", "webhook_id", w.id, "account", w.account),
             "webhook created");
    return bus_reply(ctx, &tb_webhook_desc, &w);
}

tb_status notif_api_webhooks_delete(bus_ctx *ctx, const void *event) {
    const tb_query *q = event;
    if (q->id[0] == '\0') return bus_fail(ctx, TB_MISSING_FIELD, "id", "id: the webhook to delete");
    tb_status s;
    PGconn *c = pg_of(ctx, &s);
    if (c == NULL) return s;
    const char *p[2] = {q->id, q->accounts};
    PGresult *r = NULL;
    tb_error err = {0};
    if (bus_pg_exec(c,
                    "DELETE FROM webhooks WHERE id = $1 AND " SCOPE(
                        "account", "$2") " RETURNING " WEBHOOK_COLS,
                    2, p, &r, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return bus_fail(ctx, TB_NOT_FOUND, "id", "no webhook %s", q->id);
    }
    tb_webhook w;
    row_to_webhook(r, 0, &w);
    PQclear(r);
    return bus_reply(ctx, &tb_webhook_desc, &w);
}

tb_status notif_api_webhooks_deliveries(bus_ctx *ctx, const void *event) {
    const tb_query *q = event;
    if (q->id[0] == '\0') return bus_fail(ctx, TB_MISSING_FIELD, "id", "id: the webhook");
    if (q->status[0] && strcmp(q->status, "pending") != 0 && strcmp(q->status, "delivered") != 0 &&
        strcmp(q->status, "dead") != 0)
        return bus_fail(ctx, TB_INVALID, "status", "status: pending, delivered or dead");
    page pg;
    tb_status s = page_of(ctx, q, 100, 1000, &pg);
    if (s != TB_OK) return s;
    PGconn *c = pg_of(ctx, &s);
    if (c == NULL) return s;
    tb_error err = {0};
    PGresult *r = NULL;
    const char *pw[2] = {q->id, q->accounts};
    if (bus_pg_exec(c, "SELECT 1 FROM webhooks WHERE id = $1 AND " SCOPE("account", "$2"), 2, pw,
                    &r, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    bool found = PQntuples(r) == 1;
    PQclear(r);
    if (!found) return bus_fail(ctx, TB_NOT_FOUND, "id", "no webhook %s", q->id);
    /* The formatter splits this SQL (macros inside a string) by character. */
    // clang-format off
    const char *p[4] = {q->id, q->status, pg.lim, pg.off};
    if (bus_pg_exec(
            c,
            "SELECT webhook_id, event_id, event_type, idempotency_key, "
            "CASE WHEN delivered_at IS NOT NULL THEN 'delivered' "
            "     WHEN dead_at IS NOT NULL THEN 'dead' ELSE 'pending' END AS state, "
            "attempts, coalesce(last_status, 0), coalesce(last_error, ''), " NOTIF_SQL_NS(
                "created_at") ", " NOTIF_SQL_NS("next_attempt_at") ", "
                                  "coalesce(" NOTIF_SQL_NS("delivered_at") ", 0), "
                                  "coalesce(" NOTIF_SQL_NS("dead_at") ", 0) "
            "FROM webhook_outbox WHERE webhook_id = $1 AND ($2 = '' OR "
            "  CASE WHEN delivered_at IS NOT NULL THEN 'delivered' "
            "       WHEN dead_at IS NOT NULL THEN 'dead' ELSE 'pending' END = $2) "
            "ORDER BY id DESC LIMIT $3::bigint OFFSET $4::bigint",
            4, p, &r, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    // clang-format on
    int rows = PQntuples(r);
    int n = rows > pg.limit ? (int)pg.limit : rows;
    tb_webhook_delivery *items = n ? calloc((size_t)n, sizeof *items) : NULL;
    if (n && items == NULL) {
        PQclear(r);
        return bus_fail(ctx, TB_NOMEM, NULL, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        tb_webhook_delivery *d = &items[i];
        bus_pg_col_str(r, i, 0, d->webhook_id, sizeof d->webhook_id);
        bus_pg_col_str(r, i, 1, d->event_id, sizeof d->event_id);
        bus_pg_col_str(r, i, 2, d->event_type, sizeof d->event_type);
        bus_pg_col_str(r, i, 3, d->idempotency_key, sizeof d->idempotency_key);
        bus_pg_col_str(r, i, 4, d->state, sizeof d->state);
        d->attempts = (uint64_t)notif_db_i64(r, i, 5);
        d->last_status = (uint64_t)notif_db_i64(r, i, 6);
        bus_pg_col_str(r, i, 7, d->last_error, sizeof d->last_error);
        d->created_at = notif_db_i64(r, i, 8);
        if (strcmp(d->state, "pending") == 0) d->next_attempt_at = notif_db_i64(r, i, 9);
        d->delivered_at = notif_db_i64(r, i, 10);
        d->dead_at = notif_db_i64(r, i, 11);
    }
    PQclear(r);
    char next[TB_ID_CAP];
    s = bus_reply_list(ctx, &tb_webhook_delivery_desc, items, (size_t)n, next_of(&pg, rows, next));
    free(items);
    return s;
}

/* ---- alerts ---- */

tb_status notif_api_alerts_list(bus_ctx *ctx, const void *event) {
    const tb_query *q = event;
    page pg;
    tb_status s = page_of(ctx, q, 100, 1000, &pg);
    if (s != TB_OK) return s;
    PGconn *c = pg_of(ctx, &s);
    if (c == NULL) return s;
    char from[24], to[24];
    snprintf(from, sizeof from, "%" PRId64, q->from);
    snprintf(to, sizeof to, "%" PRId64, q->to);
    const char *p[7] = {q->account, q->symbol, q->accounts, from, to, pg.lim, pg.off};
    PGresult *r = NULL;
    tb_error err = {0};
    if (bus_pg_exec(c,
                    "SELECT alert_id, severity, kind, coalesce(account, ''), coalesce(symbol, ''), "
                    "message, " NOTIF_SQL_NS(
                        "ts") " FROM alerts "
                              "WHERE ($1 = '' OR account = $1) AND ($2 = '' OR symbol = $2) "
                              "AND " SCOPE("account", "$3") " AND ($4::bigint = 0 OR ts "
                                                            ">= " NOTIF_SQL_TS(
                                                                "$4") ") "
                                                                      "AND ($5::bigint = 0 OR ts "
                                                                      "< " NOTIF_SQL_TS(
                                                                          "$5") ") "
                                                                                "ORDER BY ts DESC, "
                                                                                "alert_id COLLATE "
                                                                                "\"C\" DESC "
                                                                                "LIMIT $6::bigint "
                                                                                "OFFSET $7::bigint",
                    7, p, &r, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    int rows = PQntuples(r);
    int n = rows > pg.limit ? (int)pg.limit : rows;
    tb_alert *items = n ? calloc((size_t)n, sizeof *items) : NULL;
    if (n && items == NULL) {
        PQclear(r);
        return bus_fail(ctx, TB_NOMEM, NULL, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        tb_alert *a = &items[i];
        bus_pg_col_str(r, i, 0, a->alert_id, sizeof a->alert_id);
        bus_pg_col_str(r, i, 1, a->severity, sizeof a->severity);
        bus_pg_col_str(r, i, 2, a->kind, sizeof a->kind);
        bus_pg_col_str(r, i, 3, a->account, sizeof a->account);
        bus_pg_col_str(r, i, 4, a->symbol, sizeof a->symbol);
        bus_pg_col_str(r, i, 5, a->message, sizeof a->message);
        a->ts = notif_db_i64(r, i, 6);
    }
    PQclear(r);
    char next[TB_ID_CAP];
    s = bus_reply_list(ctx, &tb_alert_desc, items, (size_t)n, next_of(&pg, rows, next));
    free(items);
    return s;
}

/* ---- rules ---- */

#define RULE_COLS                                                                                  \
    "rule_id, kind, severity, coalesce(account, ''), coalesce(symbol, ''), coalesce(threshold, "   \
    "0), "                                                                                         \
    "enabled"

static tb_status row_to_rule(const PGresult *r, int i, tb_alert_rule *out, tb_error *err) {
    memset(out, 0, sizeof *out);
    bus_pg_col_str(r, i, 0, out->rule_id, sizeof out->rule_id);
    bus_pg_col_str(r, i, 1, out->kind, sizeof out->kind);
    bus_pg_col_str(r, i, 2, out->severity, sizeof out->severity);
    bus_pg_col_str(r, i, 3, out->account, sizeof out->account);
    bus_pg_col_str(r, i, 4, out->symbol, sizeof out->symbol);
    out->enabled = strcmp(PQgetvalue(r, i, 6), "t") == 0;
    return bus_pg_col_fixed(r, i, 5, &out->threshold, err);
}

tb_status notif_api_rules_list(bus_ctx *ctx, const void *event) {
    const tb_query *q = event;
    page pg;
    tb_status s = page_of(ctx, q, 100, 1000, &pg);
    if (s != TB_OK) return s;
    PGconn *c = pg_of(ctx, &s);
    if (c == NULL) return s;
    /* Kinds another writer stored that the catalogue does not know cannot
     * be encoded as tb_alert_rule: they are left out. */
    const char *p[6] = {q->id, q->account, q->symbol, q->accounts, pg.lim, pg.off};
    PGresult *r = NULL;
    tb_error err = {0};
    if (bus_pg_exec(c,
                    "SELECT " RULE_COLS " FROM alert_rules WHERE ($1 = '' OR rule_id = $1) "
                    "AND ($2 = '' OR account = $2) AND ($3 = '' OR symbol = $3) AND " SCOPE(
                        "account", "$4") " AND kind IN ('fill', 'risk_reject', 'drawdown', "
                                         "'price_above', 'price_below', 'position_limit') "
                                         "ORDER BY created_at, rule_id COLLATE \"C\" LIMIT "
                                         "$5::bigint OFFSET $6::bigint",
                    6, p, &r, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    int rows = PQntuples(r);
    int n = rows > pg.limit ? (int)pg.limit : rows;
    tb_alert_rule *items = n ? calloc((size_t)n, sizeof *items) : NULL;
    if (n && items == NULL) s = bus_fail(ctx, TB_NOMEM, NULL, "out of memory");
    for (int i = 0; s == TB_OK && i < n; i++)
        if (row_to_rule(r, i, &items[i], &err) != TB_OK) s = bus_fail_err(ctx, &err);
    PQclear(r);
    char next[TB_ID_CAP];
    if (s == TB_OK)
        s = bus_reply_list(ctx, &tb_alert_rule_desc, items, (size_t)n, next_of(&pg, rows, next));
    free(items);
    return s;
}

/* The cache of this instance follows its own changes at once. */
static void refresh_cache(bus_ctx *ctx, PGconn *c) {
    tb_error err = {0};
    if (notif_cache_refresh(&notif_of(bus_ctx_actor(ctx))->cache, c, &err) != TB_OK)
        bus_log(BUS_LOG_WARN, "rules cache not refreshed: %s", err.message);
}

tb_status notif_api_rules_create(bus_ctx *ctx, const void *event) {
    tb_alert_rule rule = *(const tb_alert_rule *)event;
    tb_error err = {0};
    if (notif_rule_check(&rule, &err) != TB_OK) return bus_fail_err(ctx, &err);
    new_id("rule-", rule.rule_id, sizeof rule.rule_id);
    rule.enabled = true;
    tb_status s;
    PGconn *c = pg_of(ctx, &s);
    if (c == NULL) return s;
    char th[TB_FIXED_STRLEN] = "";
    if (rule.threshold != 0) (void)tb_fixed_format(rule.threshold, th); /* NUL-terminated */
    const char *p[6] = {rule.rule_id, rule.kind, rule.severity, rule.account, rule.symbol, th};
    PGresult *r = NULL;
    if (bus_pg_exec(c,
                    "INSERT INTO alert_rules (rule_id, kind, severity, account, symbol, threshold) "
                    "VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, ''), NULLIF($6, '')::numeric) "
                    "RETURNING " RULE_COLS,
                    6, p, &r, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    /* The reply is the row as stored, as the list shows it. */
    s = row_to_rule(r, 0, &rule, &err);
    PQclear(r);
    refresh_cache(ctx, c);
    if (s != TB_OK) return bus_fail_err(ctx, &err);
    bus_logf(BUS_LOG_INFO, json_pack("{s:s, s:s}", "rule_id", rule.rule_id, "kind", rule.kind),
             "alert rule created");
    return bus_reply(ctx, &tb_alert_rule_desc, &rule);
}

tb_status notif_api_rules_delete(bus_ctx *ctx, const void *event) {
    const tb_query *q = event;
    if (q->id[0] == '\0') return bus_fail(ctx, TB_MISSING_FIELD, "id", "id: the rule to delete");
    tb_status s;
    PGconn *c = pg_of(ctx, &s);
    if (c == NULL) return s;
    const char *p[2] = {q->id, q->accounts};
    PGresult *r = NULL;
    tb_error err = {0};
    if (bus_pg_exec(c,
                    "DELETE FROM alert_rules WHERE rule_id = $1 AND " SCOPE(
                        "account", "$2") " RETURNING " RULE_COLS,
                    2, p, &r, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return bus_fail(ctx, TB_NOT_FOUND, "id", "no alert rule %s", q->id);
    }
    tb_alert_rule rule;
    s = row_to_rule(r, 0, &rule, &err);
    PQclear(r);
    refresh_cache(ctx, c);
    if (s != TB_OK) return bus_fail_err(ctx, &err);
    return bus_reply(ctx, &tb_alert_rule_desc, &rule);
}
