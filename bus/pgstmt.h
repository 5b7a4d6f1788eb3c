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

#endif
