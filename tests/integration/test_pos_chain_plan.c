/* position-management reads each position's fills from the earliest new one
 * on (pos_chains_sql) by an index range per position, never every fill of
 * applied_fills: a position with 3,000 booked fills, asked from its last
 * two, reads those two rows, whatever plan the statistics would favour
 * (hash and merge joins are what a plain join became under the statement
 * cache's generic plan). */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "pos_chain_sql.h"
#include "store.h"
#include "tb_test.h"

/* Rows of applied_fills the plan under node read (actual rows x loops). */
static double fills_read(json_t *node) {
    double n = 0;
    const char *rel = json_string_value(json_object_get(node, "Relation Name"));
    if (rel && strcmp(rel, "applied_fills") == 0)
        n += json_number_value(json_object_get(node, "Actual Rows")) *
             json_number_value(json_object_get(node, "Actual Loops"));
    size_t i;
    json_t *child;
    json_array_foreach(json_object_get(node, "Plans"), i, child) n += fills_read(child);
    return n;
}

static void exec_ok(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

START_TEST(chains_are_read_by_range) {
    bus_config cfg;
    tb_test_config(&cfg, "pos-chain-plan-test");
    PGconn *c = PQconnectdb(cfg.database_url);
    ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
    char acct[48], sql[2048];
    tb_test_unique(acct, sizeof acct, "PCP");
    /* 3,000 fills of one position, ts 1..3000 ns. */
    snprintf(sql, sizeof sql,
             "INSERT INTO applied_fills (fill_id, account, symbol, side, qty, price, fee, ts_ns) "
             "SELECT '%s-' || lpad(g::text, 5, '0'), '%s', 'DAX', 'buy', 1, 100, 0, g "
             "FROM generate_series(1, 3000) g",
             acct, acct);
    exec_ok(c, sql);
    exec_ok(c, "ANALYZE applied_fills");
    snprintf(sql, sizeof sql, "PREPARE chains(text[], text[], bigint[], text[]) AS %s",
             pos_chains_sql);
    exec_ok(c, sql);
    exec_ok(c, "BEGIN");
    exec_ok(c, "SET LOCAL plan_cache_mode = force_generic_plan");
    exec_ok(c, "SET LOCAL enable_nestloop = off");
    snprintf(sql, sizeof sql,
             "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE chains('{%s}', '{DAX}', '{2999}', "
             "'{%s-02999}')",
             acct, acct);
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    json_error_t jerr;
    json_t *doc = json_loads(PQgetvalue(r, 0, 0), 0, &jerr);
    PQclear(r);
    ck_assert_ptr_nonnull(doc);
    json_t *plan = json_object_get(json_array_get(doc, 0), "Plan");
    ck_assert_double_eq(json_number_value(json_object_get(plan, "Actual Rows")), 2);
    double read = fills_read(plan);
    ck_assert_msg(read <= 2, "the chains read %.0f fills for 2", read);
    json_decref(doc);
    exec_ok(c, "ROLLBACK");
    snprintf(sql, sizeof sql, "DELETE FROM applied_fills WHERE account = '%s'", acct);
    exec_ok(c, sql);
    PQfinish(c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("pos_chain_plan");
    TCase *tc = tcase_create("plan");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, chains_are_read_by_range);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
