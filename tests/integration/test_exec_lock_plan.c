/* trading-execution locks the orders it is given, with the other orders of
 * their groups, by index lookups, never by reading every order, even before
 * the table has statistics (a new database whose orders autovacuum has not
 * analysed yet). The session's own orders table stands in for it: a
 * temporary table of the same definition (it comes first in the search
 * path, and autovacuum never analyses a temporary table) with 6,002 orders.
 * Asked for 24 orders and one order of a group of two, as a batch of the
 * chain benchmark is, the statement reads those 26 rows and the 25 the group
 * lookup needs, as a custom plan and as the generic plan of the statement
 * cache. Written as a UNION with a self-join on group_id, it read the whole
 * table twice: the planner expected the join to return a third of it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_order_sql.h"
#include "store.h"
#include "tb_plan.h"
#include "tb_test.h"

START_TEST(orders_are_locked_by_key) {
    bus_config cfg;
    tb_test_config(&cfg, "exec-lock-plan-test");
    PGconn *c = PQconnectdb(cfg.database_url);
    ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
    char sql[4096];
    tb_plan_sql_ok(c, "CREATE TEMP TABLE orders (LIKE public.orders INCLUDING ALL)");
    /* Ids, accounts and strategies as long as the benchmark's. */
    tb_plan_sql_ok(c, "INSERT INTO orders (order_id, account, symbol, side, type, qty, tif, source,"
                      " status, filled_qty, avg_price, client_order_id, strategy_id)"
                      " SELECT 'o1a24ee03845aa1a942e343c1' || lpad(g::text, 7, '0'), 'c36342w1-A',"
                      " 'C36342W1A', 'buy', 'market', 1, 'ioc', 'signal', 'filled', 1, 100,"
                      " 'cid-' || g, 'strat-c36342w1-A' FROM generate_series(1, 6000) g");
    tb_plan_sql_ok(
        c, "INSERT INTO orders (order_id, account, symbol, side, type, qty, limit_price, tif,"
           " source, status, group_id, group_role) SELECT 'g' || g, 'acct', 'DAX', 'sell',"
           " 'limit', 1, 100 + g, 'gtc', 'api', 'accepted', 'grp', 'oco'"
           " FROM generate_series(1, 2) g");
    snprintf(sql, sizeof sql, "PREPARE lock_orders(text[]) AS %s", exec_lock_orders_sql);
    tb_plan_sql_ok(c, sql);
    const char *const modes[] = {"force_custom_plan", "force_generic_plan"};
    for (int m = 0; m < 2; m++) {
        tb_plan_sql_ok(c, "BEGIN");
        snprintf(sql, sizeof sql, "SET LOCAL plan_cache_mode = %s", modes[m]);
        tb_plan_sql_ok(c, sql);
        char run[2048] = "EXECUTE lock_orders('{g1";
        for (int i = 10; i < 34; i++)
            snprintf(run + strlen(run), sizeof run - strlen(run), ",o1a24ee03845aa1a942e343c1%07d",
                     i);
        snprintf(run + strlen(run), sizeof run - strlen(run), "}')");
        json_t *plan = NULL, *doc = tb_plan_explain(c, run, &plan);
        ck_assert_double_eq(json_number_value(json_object_get(plan, "Actual Rows")), 26);
        double read = tb_plan_rows_read(plan, "orders");
        ck_assert_msg(read <= 51, "%s: the lock read %.0f orders for 26", modes[m], read);
        json_decref(doc);
        /* The rows themselves: the orders asked for and the whole group, in
         * id order. */
        PGresult *r = PQexec(c, run);
        ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
        ck_assert_int_eq(PQntuples(r), 26);
        ck_assert_str_eq(PQgetvalue(r, 0, 0), "g1");
        ck_assert_str_eq(PQgetvalue(r, 1, 0), "g2");
        for (int i = 2; i < 26; i++) {
            char id[64];
            snprintf(id, sizeof id, "o1a24ee03845aa1a942e343c1%07d", i + 8);
            ck_assert_str_eq(PQgetvalue(r, i, 0), id);
        }
        PQclear(r);
        tb_plan_sql_ok(c, "ROLLBACK");
    }
    tb_plan_sql_ok(c, "DROP TABLE pg_temp.orders");
    PQfinish(c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("exec_lock_plan");
    TCase *tc = tcase_create("plan");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, orders_are_locked_by_key);
    suite_add_tcase(s, tc);
    return tb_test_run_suite(s);
}
