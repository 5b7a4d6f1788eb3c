/* Server-side prepared statements for bus_pg_exec: a statement a pooled
 * connection has run before is prepared once and then executed by name, so
 * PostgreSQL does not parse and plan it again (pgstmt.c says why and how).
 * Internal to bus/: handlers keep calling bus_pg_exec. */
#ifndef BUS_PGSTMT_H
#define BUS_PGSTMT_H

#include <libpq-fe.h>
#include <stdbool.h>

/* Gives a new connection its statement cache; false (the connection then
 * runs every statement unnamed) when it cannot be allocated. */
bool bus_pgstmt_attach(PGconn *c);
/* As PQexecParams (text parameters and results), through the cache. */
PGresult *bus_pgstmt_exec(PGconn *c, const char *sql, int nparams, const char *const *params);

/* Pipeline mode (the connection is in it; store.c drives it). */
/* Whether the connection can pipeline (it has its statement cache). */
bool bus_pgstmt_pipeline_ready(PGconn *c);
/* Sends a statement without waiting; false when it could not be sent. out
 * (may be NULL) receives its result at the next bus_pgstmt_sync. */
bool bus_pgstmt_send(PGconn *c, const char *sql, int nparams, const char *const *params,
                     PGresult **out);
/* Statements (and preparations) sent whose results are not read yet. */
size_t bus_pgstmt_pending(PGconn *c);
/* Synchronises and reads every pending result: a statement sent with out
 * gets its result there, *last the last statement's (sent without out) when
 * it succeeded, *failed the first failure (the caller PQclears all of
 * them). false when the connection failed on the way. On any failure every
 * out is NULL. */
bool bus_pgstmt_sync(PGconn *c, PGresult **last, PGresult **failed);

#endif
