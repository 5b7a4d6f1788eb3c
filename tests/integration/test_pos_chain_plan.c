/* position-management reads each position's fills from the earliest new one
 * on (pos_chains_sql) by an index range per position, never every fill of
 * applied_fills: a position with 3,000 booked fills, asked from its last
 * two, reads those two rows, whatever plan the statistics would favour
 * (hash and merge joins are what a plain join became under the statement
 * cache's generic plan). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pos_chain_sql.h"
#include "store.h"
#include "tb_plan.h"
#include "tb_test.h"

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
    tb_plan_sql_ok(c, sql);
    tb_plan_sql_ok(c, "ANALYZE applied_fills");
    snprintf(sql, sizeof sql, "PREPARE chains(text[], text[], bigint[], text[]) AS %s",
             pos_chains_sql);
    tb_plan_sql_ok(c, sql);
    tb_plan_sql_ok(c, "BEGIN");
    tb_plan_sql_ok(c, "SET LOCAL plan_cache_mode = force_generic_plan");
    tb_plan_sql_ok(c, "SET LOCAL enable_nestloop = off");
    snprintf(sql, sizeof sql, "EXECUTE chains('{%s}', '{DAX}', '{2999}', '{%s-02999}')", acct,
             acct);
    json_t *plan = NULL, *doc = tb_plan_explain(c, sql, &plan);
    ck_assert_double_eq(json_number_value(json_object_get(plan, "Actual Rows")), 2);
    double read = tb_plan_rows_read(plan, "applied_fills");
    ck_assert_msg(read <= 2, "the chains read %.0f fills for 2", read);
    json_decref(doc);
    tb_plan_sql_ok(c, "ROLLBACK");
    snprintf(sql, sizeof sql, "DELETE FROM applied_fills WHERE account = '%s'", acct);
    tb_plan_sql_ok(c, sql);
    PQfinish(c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("pos_chain_plan");
    TCase *tc = tcase_create("plan");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, chains_are_read_by_range);
    suite_add_tcase(s, tc);
    return tb_test_run_suite(s);
}
