/* Reading PostgreSQL plans in tests: EXPLAIN (ANALYZE, FORMAT JSON) of a
 * statement, and how many rows its plan read from one table. Plan tests
 * assert that a hot statement reads a table by key, whatever plan the
 * statistics would favour. */
#ifndef TB_PLAN_H
#define TB_PLAN_H

#include <jansson.h>
#include <libpq-fe.h>

/* Runs sql on c (simple query protocol: several statements are allowed)
 * and fails the test unless it succeeded, with or without rows. */
void tb_plan_sql_ok(PGconn *c, const char *sql);

/* Rows the plan under node read from relation: actual rows x loops of
 * every node scanning it. */
double tb_plan_rows_read(json_t *node, const char *relation);
/* Rows the plan under node looked at in relation: those it read and those
 * a filter or an index recheck removed (a lossy bitmap's whole blocks). */
double tb_plan_rows_examined(json_t *node, const char *relation);

/* Runs "EXPLAIN (ANALYZE, FORMAT JSON) <statement>" on c (inside the
 * caller's transaction, so its locks and settings apply) and returns the
 * top plan node's document (json_decref the returned root, *plan borrows
 * from it). Fails the test on an error. */
json_t *tb_plan_explain(PGconn *c, const char *statement, json_t **plan);

#endif
