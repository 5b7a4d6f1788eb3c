/* risk-management reads an account's limits and facts by key, however many
 * accounts there are. Its facts statement (risk_store_facts_sql) joined
 * risk_limits_effective to the batch's (account, symbol) pairs; the generic
 * plan of the statement cache counts unnest() as ten rows and, from a few
 * hundred accounts on, hashed every account and every limits row for each
 * batch (1.5 ms at a thousand accounts, against 0.2 by key).
 *
 * The session's own tables stand in for the real ones: temporary tables of
 * the same definitions (first in the search path) with 1,000 accounts, each
 * with limits, a position and three open orders, and a temporary
 * risk_limits_effective made from the real view's definition (a view reads
 * the tables it was created on). Asked for two accounts, the statement
 * reads a handful of accounts and limits rows, as a custom plan and as the
 * generic one, and answers for both, the unknown one too. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk_store.h"
#include "store.h"
#include "tb_plan.h"
#include "tb_test.h"

#define ACCOUNTS 1000

static void make_tables(PGconn *c) {
    PGresult *r = PQexec(c, "SELECT pg_get_viewdef('risk_limits_effective')");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    size_t cap = strlen(PQgetvalue(r, 0, 0)) + 64;
    char *view = malloc(cap);
    ck_assert_ptr_nonnull(view);
    snprintf(view, cap, "CREATE TEMP VIEW risk_limits_effective AS %s", PQgetvalue(r, 0, 0));
    PQclear(r);
    tb_plan_sql_ok(c, "CREATE TEMP TABLE accounts (LIKE public.accounts INCLUDING ALL)");
    tb_plan_sql_ok(c, "CREATE TEMP TABLE risk_limits (LIKE public.risk_limits INCLUDING ALL)");
    tb_plan_sql_ok(c, "CREATE TEMP TABLE orders (LIKE public.orders INCLUDING ALL)");
    tb_plan_sql_ok(c, "CREATE TEMP TABLE positions (LIKE public.positions INCLUDING ALL)");
    tb_plan_sql_ok(c, view); /* names resolve to the temporary tables now */
    free(view);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO accounts (id, cash) SELECT 'acct' || g, 1000000 "
             "FROM generate_series(1, %d) g;"
             "INSERT INTO risk_limits (account, max_open_orders) SELECT 'acct' || g, 100 + g "
             "FROM generate_series(1, %d) g;"
             "INSERT INTO risk_limits (account, max_open_orders) VALUES ('*', 50);"
             "INSERT INTO positions (account, symbol, qty, avg_cost) "
             "SELECT 'acct' || g, 'DAX', 1, 100 FROM generate_series(1, %d) g;"
             "INSERT INTO orders (order_id, account, symbol, side, type, qty, limit_price, tif, "
             "source, status) SELECT 'o' || g, 'acct' || (g %% %d + 1), 'DAX', 'buy', 'limit', "
             "1, 100, 'gtc', 'api', 'accepted' FROM generate_series(1, %d) g;"
             "ANALYZE pg_temp.accounts, pg_temp.risk_limits, pg_temp.orders, pg_temp.positions",
             ACCOUNTS, ACCOUNTS, ACCOUNTS, ACCOUNTS, 3 * ACCOUNTS);
    tb_plan_sql_ok(c, sql);
}

START_TEST(facts_are_read_by_key) {
    bus_config cfg;
    tb_test_config(&cfg, "risk-facts-plan-test");
    PGconn *c = PQconnectdb(cfg.database_url);
    ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
    make_tables(c);
    size_t cap = strlen(risk_store_facts_sql) + 64;
    char *prep = malloc(cap);
    ck_assert_ptr_nonnull(prep);
    snprintf(prep, cap, "PREPARE facts(text[], text[]) AS %s", risk_store_facts_sql);
    tb_plan_sql_ok(c, prep);
    free(prep);
    const char *run = "EXECUTE facts('{acct7,nobody}', '{DAX,DAX}')";
    const char *const modes[] = {"force_custom_plan", "force_generic_plan"};
    for (int m = 0; m < 2; m++) {
        tb_plan_sql_ok(c, "BEGIN");
        char set[64];
        snprintf(set, sizeof set, "SET LOCAL plan_cache_mode = %s", modes[m]);
        tb_plan_sql_ok(c, set);
        json_t *plan = NULL, *doc = tb_plan_explain(c, run, &plan);
        ck_assert_double_eq(json_number_value(json_object_get(plan, "Actual Rows")), 2);
        double accounts = tb_plan_rows_examined(plan, "accounts");
        double limits = tb_plan_rows_examined(plan, "risk_limits");
        ck_assert_msg(accounts <= 12, "%s: read %.0f accounts for 2", modes[m], accounts);
        ck_assert_msg(limits <= 12, "%s: read %.0f limits rows for 2", modes[m], limits);
        json_decref(doc);
        /* The answers: acct7's own limits and its three open orders; the
         * unknown account without limits or orders. */
        PGresult *r = PQexec(c, run);
        ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
        ck_assert_int_eq(PQntuples(r), 2);
        risk_pg_facts f;
        tb_error err = {0};
        ck_assert_int_eq(risk_store_load_read(r, 0, "acct7", &f, &err), TB_OK);
        ck_assert(f.account_known);
        ck_assert_uint_eq(f.limits.max_open_orders, 107);
        ck_assert_uint_eq(f.open_orders, 3);
        ck_assert_int_eq(risk_store_load_read(r, 1, "nobody", &f, &err), TB_OK);
        ck_assert(!f.account_known);
        ck_assert_uint_eq(f.open_orders, 0);
        PQclear(r);
        tb_plan_sql_ok(c, "ROLLBACK");
    }
    tb_plan_sql_ok(c, "DROP VIEW pg_temp.risk_limits_effective;"
                      "DROP TABLE pg_temp.accounts, pg_temp.risk_limits, pg_temp.orders, "
                      "pg_temp.positions");
    PQfinish(c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("risk_facts_plan");
    TCase *tc = tcase_create("plan");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, facts_are_read_by_key);
    suite_add_tcase(s, tc);
    return tb_test_run_suite(s);
}
