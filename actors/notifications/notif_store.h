/* PostgreSQL access of the notifications service: rules, webhooks, alert
 * rows and webhook_outbox rows (schemas/migrations/0001_init.sql). Each
 * function is one or a few statements on a connection the caller holds;
 * transactions are the caller's (notif_alerts.c). */
#ifndef NOTIF_STORE_H
#define NOTIF_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "actor.h"
#include "notif_match.h"
#include "notif_rules.h"

tb_status notif_db_begin(PGconn *c, tb_error *err) TB_WARN_UNUSED;
tb_status notif_db_commit(PGconn *c, tb_error *err) TB_WARN_UNUSED;
/* Rolls back after a failure; a failure to do so is logged (the pool drops a
 * broken connection when it is returned). */
void notif_db_rollback(PGconn *c);

/* SQL for a timestamptz column as int64 nanoseconds since the epoch, and
 * for nanoseconds ($n::bigint) as a timestamptz (microseconds kept). */
#define NOTIF_SQL_NS(col) "((extract(epoch FROM " col ") * 1000000)::bigint * 1000)"
#define NOTIF_SQL_TS(p)   "('epoch'::timestamptz + (" p "::bigint / 1000) * interval '1 microsecond')"

/* Cell helpers: NULL reads as "" / 0. */
int64_t notif_db_i64(const PGresult *r, int row, int col);

/* Enabled rules whose kind is in kinds (comma-separated names), ordered by
 * rule_id; when account / symbol are not NULL only the rules whose scope
 * covers them. Rows of unknown kinds are skipped. *out is malloc'd (caller
 * frees; NULL when none). */
tb_status notif_db_rules(PGconn *c, const char *kinds, const char *account, const char *symbol,
                         notif_rule **out, size_t *n, tb_error *err) TB_WARN_UNUSED;

/* The enabled rules of kinds that may apply to an event of a batch: scoped
 * to no account or one of accounts[0..na), and to no symbol or one of
 * symbols[0..ns). notif_rule_applies then picks each event's. */
tb_status notif_db_rules_any(PGconn *c, const char *kinds, const char *const *accounts, size_t na,
                             const char *const *symbols, size_t ns, notif_rule **out, size_t *n,
                             tb_error *err) TB_WARN_UNUSED;

/* An active webhook as the fan-out needs it. */
typedef struct notif_hook {
    char id[TB_ID_CAP];
    char account[TB_TOKEN_CAP]; /* "" = every account */
    char events[NOTIF_EVENTS_CAP];
} notif_hook;

/* Active webhooks that may want events of account ("" = events without an
 * account): those without an account filter and those of account. *out is
 * malloc'd (caller frees; NULL when none). */
tb_status notif_db_hooks(PGconn *c, const char *account, notif_hook **out, size_t *n,
                         tb_error *err) TB_WARN_UNUSED;

/* notif_db_hooks for the accounts of a batch: the active webhooks without
 * an account filter and those of accounts[0..na). */
tb_status notif_db_hooks_any(PGconn *c, const char *const *accounts, size_t na, notif_hook **out,
                             size_t *n, tb_error *err) TB_WARN_UNUSED;

/* A consumed or raised event to hand to webhooks. */
typedef struct notif_source {
    const char *type;    /* NOTIF_EVENT_* */
    const char *id;      /* fill_id, decision_id, alert_id */
    const char *subject; /* the event's subject */
    const char *account; /* "" when none */
    const tb_event_desc *desc;
    const void *ev;
} notif_source;

/* Inserts one webhook_outbox row per hook that wants src (notif_webhook_wants),
 * keyed "<webhook id>:<type>:<id>": a second enqueue of the same event (a
 * redelivery, another worker) inserts nothing. *added (may be NULL) is
 * increased by the rows inserted. */
tb_status notif_db_enqueue(PGconn *c, const notif_hook *hooks, size_t n, const notif_source *src,
                           int *added, tb_error *err) TB_WARN_UNUSED;

/* Inserts the alert unless a row with its alert_id exists; *inserted says
 * which. rule_id and trace may be NULL. */
tb_status notif_db_insert_alert(PGconn *c, const tb_alert *al, const char *rule_id,
                                const char *trace, bool *inserted, tb_error *err) TB_WARN_UNUSED;

/* Whether acct is in a comma-separated scope list ("" allows every account). */
bool notif_scope_allows(const char *accounts, const char *acct);

#endif
