/* Small PostgreSQL helpers shared by the handlers of position-management:
 * transactions, numeric(38,8) <-> tb_fixed, timestamps, the service state.
 * Nothing here knows about positions' rules (pos_pnl.h). */
#ifndef POS_DB_H
#define POS_DB_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "actor.h"
#include "money.h"

/* Runs BEGIN / COMMIT on c. */
tb_status pos_db_begin(PGconn *c, tb_error *err) TB_WARN_UNUSED;
tb_status pos_db_commit(PGconn *c, tb_error *err) TB_WARN_UNUSED;
/* Rolls back after a failure; a failed rollback is logged (the pool drops a
 * broken connection when it is returned). */
void pos_db_rollback(PGconn *c);

/* Cell (row, col) of r as tb_fixed; NULL reads as 0. TB_INVALID when the
 * value does not parse (numeric(38,8) beyond the tb_fixed range included). */
tb_status pos_db_fixed(const PGresult *r, int row, int col, tb_fixed *out,
                       tb_error *err) TB_WARN_UNUSED;
/* Cell as int64 (bigint columns); NULL reads as 0. */
int64_t pos_db_i64(const PGresult *r, int row, int col);
/* Copies cell text into out (truncated to cap - 1); "" for NULL. */
void pos_db_text(const PGresult *r, int row, int col, char *out, size_t cap);

/* SQL for a timestamptz column as int64 nanoseconds since the epoch. */
#define POS_SQL_NS(col) "(extract(epoch FROM " col ") * 1000000)::bigint * 1000"

/* Comma-separated account list of tb_query.accounts: whether acct is in it
 * (an empty list allows every account). */
bool pos_scope_allows(const char *accounts, const char *acct);

/* The service's shared state (bus_actor_user). */
typedef struct pos_marks pos_marks;
typedef struct pos_service {
    pos_marks *marks;
    bus_series *m_applied, *m_duplicates, *m_reordered, *m_rejected, *m_marks_written;
    bus_series *m_batches, *m_batch_fallbacks; /* fill batches: one transaction, or one by one */
} pos_service;

static inline pos_service *pos_service_of(bus_ctx *ctx) {
    return bus_actor_user(bus_ctx_actor(ctx));
}

#endif
