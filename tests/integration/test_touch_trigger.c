/* updated_at triggers (migration 0770) call tb_touch_updated_at() only for
 * an update that left updated_at as it was, and stamp such an update with
 * now() as before; an update that sets updated_at (the order path's do)
 * keeps its value and costs no PL/pgSQL call. Calls are counted by a copy
 * of the function that also records them, replaced in a transaction that
 * is rolled back. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_plan.h"
#include "tb_test.h"

static PGconn *conn;

static void setup(void) {
    bus_config cfg;
    tb_test_config(&cfg, "touch-trigger-test");
    conn = PQconnectdb(cfg.database_url);
    ck_assert_int_eq(PQstatus(conn), CONNECTION_OK);
}

static void teardown(void) {
    PQfinish(conn);
    conn = NULL;
}

/* The first column of the first row of sql, as a long. */
static long scalar(const char *sql) {
    PGresult *r = PQexec(conn, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql,
                  PQerrorMessage(conn));
    long v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static long calls(void) {
    return scalar("SELECT count(*) FROM touch_calls");
}

/* 1 when the test account's updated_at is the transaction's now(). */
static long stamped_now(void) {
    return scalar("SELECT (updated_at = now())::int FROM accounts WHERE id = 'touch-test'");
}

START_TEST(function_runs_only_for_updates_that_leave_updated_at) {
    tb_plan_sql_ok(conn, "BEGIN");
    tb_plan_sql_ok(conn, "CREATE TEMP TABLE touch_calls (tbl text) ON COMMIT DROP");
    tb_plan_sql_ok(conn,
                   "CREATE OR REPLACE FUNCTION tb_touch_updated_at() RETURNS trigger "
                   "LANGUAGE plpgsql AS $$ BEGIN INSERT INTO touch_calls VALUES (TG_TABLE_NAME); "
                   "IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN "
                   "NEW.updated_at := now(); END IF; RETURN NEW; END $$");
    tb_plan_sql_ok(conn, "INSERT INTO accounts (id, updated_at) VALUES ('touch-test', "
                         "'2020-01-01T00:00:00Z')");
    /* Leaves updated_at: the function stamps now(). */
    tb_plan_sql_ok(conn, "UPDATE accounts SET cash = 1 WHERE id = 'touch-test'");
    ck_assert_int_eq(calls(), 1);
    ck_assert_int_eq(stamped_now(), 1);
    /* Sets it: kept, no call. */
    tb_plan_sql_ok(conn, "UPDATE accounts SET cash = 2, updated_at = '2020-01-02T00:00:00Z' "
                         "WHERE id = 'touch-test'");
    ck_assert_int_eq(calls(), 1);
    ck_assert_int_eq(scalar("SELECT extract(epoch FROM updated_at)::bigint FROM accounts "
                            "WHERE id = 'touch-test'"),
                     1577923200);
    /* The order path's form: sets now(), no call. */
    tb_plan_sql_ok(conn,
                   "UPDATE accounts SET cash = 3, updated_at = now() WHERE id = 'touch-test'");
    ck_assert_int_eq(calls(), 1);
    ck_assert_int_eq(stamped_now(), 1);
    tb_plan_sql_ok(conn, "ROLLBACK");
}
END_TEST

/* Every table the function keeps has its trigger guarded by the condition. */
START_TEST(every_touch_trigger_has_its_condition) {
    long all = scalar("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND "
                      "tgfoid = 'tb_touch_updated_at'::regproc");
    long guarded = scalar("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND "
                          "tgfoid = 'tb_touch_updated_at'::regproc AND pg_get_triggerdef(oid) "
                          "LIKE '%WHEN ((NOT (new.updated_at IS DISTINCT FROM old.updated_at)))%'");
    ck_assert_int_ge(all, 8);
    ck_assert_int_eq(guarded, all);
}
END_TEST

int main(void) {
    Suite *s = suite_create("touch_trigger");
    TCase *tc = tcase_create("touch_trigger");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, function_runs_only_for_updates_that_leave_updated_at);
    tcase_add_test(tc, every_touch_trigger_has_its_condition);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
