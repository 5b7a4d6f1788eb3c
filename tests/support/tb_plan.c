/* Reading PostgreSQL plans in tests; see tb_plan.h. */
#include "tb_plan.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double tb_plan_rows_read(json_t *node, const char *relation) {
    double n = 0;
    const char *rel = json_string_value(json_object_get(node, "Relation Name"));
    if (rel && strcmp(rel, relation) == 0)
        n += json_number_value(json_object_get(node, "Actual Rows")) *
             json_number_value(json_object_get(node, "Actual Loops"));
    size_t i;
    json_t *child;
    json_array_foreach(json_object_get(node, "Plans"), i, child) n +=
        tb_plan_rows_read(child, relation);
    return n;
}

double tb_plan_rows_examined(json_t *node, const char *relation) {
    double n = 0;
    const char *rel = json_string_value(json_object_get(node, "Relation Name"));
    if (rel && strcmp(rel, relation) == 0) {
        double rows = json_number_value(json_object_get(node, "Actual Rows")) +
                      json_number_value(json_object_get(node, "Rows Removed by Filter")) +
                      json_number_value(json_object_get(node, "Rows Removed by Index Recheck"));
        n += rows * json_number_value(json_object_get(node, "Actual Loops"));
    }
    size_t i;
    json_t *child;
    json_array_foreach(json_object_get(node, "Plans"), i, child) n +=
        tb_plan_rows_examined(child, relation);
    return n;
}

json_t *tb_plan_explain(PGconn *c, const char *statement, json_t **plan) {
    size_t len = strlen(statement) + 64;
    char *sql = malloc(len);
    ck_assert_ptr_nonnull(sql);
    snprintf(sql, len, "EXPLAIN (ANALYZE, FORMAT JSON) %s", statement);
    PGresult *r = PQexec(c, sql);
    free(sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "EXPLAIN: %s", PQerrorMessage(c));
    json_error_t jerr;
    json_t *doc = json_loads(PQgetvalue(r, 0, 0), 0, &jerr);
    PQclear(r);
    ck_assert_msg(doc != NULL, "EXPLAIN's JSON: %s", jerr.text);
    *plan = json_object_get(json_array_get(doc, 0), "Plan");
    ck_assert_ptr_nonnull(*plan);
    return doc;
}

void tb_plan_sql_ok(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}
