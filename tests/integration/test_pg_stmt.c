/* bus_pg_exec prepares a statement on its second use and runs it by name
 * from then on, with the same results and errors as an unnamed statement:
 * in and out of transactions, after a failed one, and for texts that do not
 * parse. One-use texts beyond the cache's size keep working. In pipeline
 * mode (bus_pg_pipeline_begin) statements without a result wait for the
 * next one that needs its result, failures reach the caller there, and the
 * connection comes back to the pool clean; reads sent with bus_pg_send
 * share a round trip and each gets its own result, all or none. A prepared
 * statement runs its generic plan, never planned per run, and is prepared
 * again as it keeps running, so its plan follows its tables' growth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "store.h"
#include "tb_plan.h"
#include "tb_test.h"

static bus_pg_pool *pool;

static void setup(void) {
    bus_config cfg;
    tb_test_config(&cfg, "pg-stmt-test");
    bus_log_init("pg-stmt-test", NULL, BUS_LOG_WARN);
    tb_error err = {0};
    ck_assert_msg(bus_pg_pool_create(cfg.database_url, &pool, &err) == TB_OK, "%s", err.message);
}

static void teardown(void) {
    bus_pg_pool_destroy(pool);
    pool = NULL;
}

/* How many statements this session holds prepared whose text is sql. */
static int prepared_count(PGconn *c, const char *sql) {
    const char *p[] = {sql};
    PGresult *r =
        PQexecParams(c, "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", 1, NULL,
                     p, NULL, NULL, 0);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    int n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

static const char SUM_SQL[] = "SELECT sum(x)::bigint FROM unnest($1::bigint[]) AS u(x)";

static int64_t sum_of(PGconn *c, const char *arr, tb_status *st) {
    const char *p[] = {arr};
    PGresult *r = NULL;
    tb_error err = {0};
    *st = bus_pg_exec(c, SUM_SQL, 1, p, &r, &err);
    if (*st != TB_OK) return -1;
    int64_t v = 0;
    ck_assert_int_eq(bus_pg_col_i64(r, 0, 0, &v, &err), TB_OK);
    PQclear(r);
    return v;
}

START_TEST(second_use_runs_prepared) {
    tb_error err = {0};
    PGconn *c = bus_pg_acquire(pool, &err);
    ck_assert_ptr_nonnull(c);
    tb_status st;
    ck_assert_int_eq(sum_of(c, "{1,2,3}", &st), 6);
    ck_assert_int_eq(prepared_count(c, SUM_SQL), 0);
    ck_assert_int_eq(sum_of(c, "{4,5}", &st), 9);
    ck_assert_int_eq(prepared_count(c, SUM_SQL), 1);
    for (int i = 0; i < 10; i++) ck_assert_int_eq(sum_of(c, "{10,-3}", &st), 7);
    ck_assert_int_eq(prepared_count(c, SUM_SQL), 1);
    /* A value the statement refuses is a data error, as unnamed. */
    ck_assert_int_eq(sum_of(c, "{1,x}", &st), -1);
    ck_assert_int_eq(st, TB_INVALID);
    bus_pg_release(pool, c);
}
END_TEST

START_TEST(transactions_and_errors) {
    tb_error err = {0};
    PGconn *c = bus_pg_acquire(pool, &err);
    ck_assert_ptr_nonnull(c);
    for (int round = 0; round < 3; round++) {
        ck_assert_int_eq(bus_pg_exec(c, "BEGIN", 0, NULL, NULL, &err), TB_OK);
        tb_status st;
        ck_assert_int_eq(sum_of(c, "{2,2}", &st), 4);
        /* A failing statement aborts the transaction; what follows fails
         * until the rollback, and works again after it. */
        ck_assert_int_ne(bus_pg_exec(c, "SELECT 1/0", 0, NULL, NULL, &err), TB_OK);
        ck_assert_int_eq(sum_of(c, "{1}", &st), -1);
        ck_assert_int_ne(st, TB_OK);
        ck_assert_int_eq(bus_pg_exec(c, "ROLLBACK", 0, NULL, NULL, &err), TB_OK);
        ck_assert_int_eq(sum_of(c, "{1}", &st), 1);
    }
    /* A text that does not parse reports its error every time, prepared or not. */
    for (int i = 0; i < 3; i++) {
        tb_status s = bus_pg_exec(c, "SELEC nonsense", 0, NULL, NULL, &err);
        ck_assert_int_eq(s, TB_ERR);
        ck_assert_msg(strstr(err.message, "syntax") != NULL, "%s", err.message);
    }
    /* Inside a transaction too, and the transaction is then aborted. */
    ck_assert_int_eq(bus_pg_exec(c, "BEGIN", 0, NULL, NULL, &err), TB_OK);
    ck_assert_int_eq(bus_pg_exec(c, "SELEC nonsense", 0, NULL, NULL, &err), TB_ERR);
    ck_assert_int_eq(PQtransactionStatus(c), PQTRANS_INERROR);
    ck_assert_int_eq(bus_pg_exec(c, "ROLLBACK", 0, NULL, NULL, &err), TB_OK);
    bus_pg_release(pool, c);
}
END_TEST

START_TEST(many_texts) {
    tb_error err = {0};
    PGconn *c = bus_pg_acquire(pool, &err);
    ck_assert_ptr_nonnull(c);
    /* More distinct texts, each used twice, than the cache holds. */
    for (int i = 0; i < 200; i++) {
        char sql[64], want[16];
        snprintf(sql, sizeof sql, "SELECT %d + $1::int", i);
        snprintf(want, sizeof want, "%d", i + 1);
        for (int k = 0; k < 2; k++) {
            const char *p[] = {"1"};
            PGresult *r = NULL;
            ck_assert_msg(bus_pg_exec(c, sql, 1, p, &r, &err) == TB_OK, "%s", err.message);
            ck_assert_str_eq(PQgetvalue(r, 0, 0), want);
            PQclear(r);
        }
    }
    PGresult *r = PQexec(c, "SELECT count(*) FROM pg_prepared_statements");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    ck_assert_int_le(atoi(PQgetvalue(r, 0, 0)), 64);
    PQclear(r);
    bus_pg_release(pool, c);
}
END_TEST

/* The scratch table of the pipeline tests, empty. */
static void pipe_table(PGconn *c) {
    PGresult *r = PQexec(c, "CREATE TABLE IF NOT EXISTS tb_pipe_test (id int PRIMARY KEY);"
                            "TRUNCATE tb_pipe_test");
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
    PQclear(r);
}

static int pipe_rows(PGconn *c) {
    PGresult *r = PQexec(c, "SELECT count(*) FROM tb_pipe_test");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    int n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

static const char PIPE_INSERT[] = "INSERT INTO tb_pipe_test (id) VALUES ($1::int)";

START_TEST(pipeline_defers_until_a_result) {
    tb_error err = {0};
    PGconn *c = bus_pg_acquire(pool, &err), *other = bus_pg_acquire(pool, &err);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(other);
    pipe_table(other);
    for (int round = 0; round < 3; round++) { /* the later rounds run prepared */
        ck_assert_int_eq(bus_pg_pipeline_begin(c, &err), TB_OK);
        ck_assert_int_eq(PQpipelineStatus(c), PQ_PIPELINE_ON);
        ck_assert_int_eq(bus_pg_exec(c, "BEGIN", 0, NULL, NULL, &err), TB_OK);
        for (int i = 0; i < 3; i++) {
            char id[16];
            snprintf(id, sizeof id, "%d", round * 10 + i);
            const char *p[] = {id};
            ck_assert_int_eq(bus_pg_exec(c, PIPE_INSERT, 1, p, NULL, &err), TB_OK);
        }
        /* The result of a statement comes after the ones before it ran. */
        PGresult *r = NULL;
        ck_assert_msg(bus_pg_exec(c, "SELECT count(*) FROM tb_pipe_test", 0, NULL, &r, &err) ==
                          TB_OK,
                      "%s", err.message);
        ck_assert_int_eq(atoi(PQgetvalue(r, 0, 0)), round * 3 + 3);
        PQclear(r);
        ck_assert_int_eq(bus_pg_exec(c, "COMMIT", 0, NULL, NULL, &err), TB_OK);
        /* Sent, not yet synchronised: not committed. */
        ck_assert_int_eq(pipe_rows(other), round * 3);
        ck_assert_msg(bus_pg_pipeline_end(c, &err) == TB_OK, "%s", err.message);
        ck_assert_int_eq(PQpipelineStatus(c), PQ_PIPELINE_OFF);
        ck_assert_int_eq(pipe_rows(other), round * 3 + 3);
    }
    ck_assert_int_eq(prepared_count(c, PIPE_INSERT), 1);
    /* An implicit transaction per synchronisation point: nothing before it. */
    ck_assert_int_eq(bus_pg_pipeline_begin(c, &err), TB_OK);
    const char *p[] = {"100"};
    ck_assert_int_eq(bus_pg_exec(c, PIPE_INSERT, 1, p, NULL, &err), TB_OK);
    ck_assert_int_eq(pipe_rows(other), 9);
    ck_assert_int_eq(bus_pg_pipeline_end(c, &err), TB_OK);
    ck_assert_int_eq(pipe_rows(other), 10);
    bus_pg_release(pool, other);
    bus_pg_release(pool, c);
}
END_TEST

/* The plan of the prepared statement whose text is sql, for the argument
 * arg (EXPLAIN EXECUTE shows the plan the cache would run). */
static char *plan_of(PGconn *c, const char *sql, const char *arg) {
    const char *p[] = {sql};
    PGresult *r = PQexecParams(c, "SELECT name FROM pg_prepared_statements WHERE statement = $1", 1,
                               NULL, p, NULL, NULL, 0);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    ck_assert_int_eq(PQntuples(r), 1);
    char q[256];
    snprintf(q, sizeof q, "EXPLAIN EXECUTE %s('%s')", PQgetvalue(r, 0, 0), arg);
    PQclear(r);
    r = PQexec(c, q);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    size_t len = 1;
    for (int i = 0; i < PQntuples(r); i++) len += strlen(PQgetvalue(r, i, 0)) + 1;
    char *plan = calloc(1, len);
    ck_assert_ptr_nonnull(plan);
    for (int i = 0; i < PQntuples(r); i++) {
        strcat(plan, PQgetvalue(r, i, 0));
        strcat(plan, "\n");
    }
    PQclear(r);
    return plan;
}

static const char GROW_SQL[] =
    "SELECT count(*) FROM tb_grow_test WHERE id IN (SELECT unnest($1::bigint[]))";

/* A temporary table of 10 rows (autovacuum never analyses it, so nothing
 * else invalidates a plan) and GROW_SQL prepared and run `runs` times on
 * it: its plan scans the whole table. */
static void grow_test_small(PGconn *c, int runs) {
    tb_error err = {0};
    tb_plan_sql_ok(c, "DROP TABLE IF EXISTS tb_grow_test");
    tb_plan_sql_ok(c, "CREATE TEMP TABLE tb_grow_test (id bigint PRIMARY KEY, pad text)");
    tb_plan_sql_ok(c, "INSERT INTO tb_grow_test SELECT g, 'x' FROM generate_series(1, 10) g");
    tb_plan_sql_ok(c, "ANALYZE tb_grow_test");
    for (int i = 0; i < runs; i++) {
        const char *p[] = {"{1,2,3}"};
        PGresult *r = NULL;
        ck_assert_msg(bus_pg_exec(c, GROW_SQL, 1, p, &r, &err) == TB_OK, "%s", err.message);
        ck_assert_str_eq(PQgetvalue(r, 0, 0), "3");
        PQclear(r);
    }
    char *plan = plan_of(c, GROW_SQL, "{1,2}");
    ck_assert_msg(strstr(plan, "Seq Scan on tb_grow_test") != NULL, "small table: %s", plan);
    free(plan);
    tb_plan_sql_ok(c, "INSERT INTO tb_grow_test SELECT g, repeat('x', 40)"
                      " FROM generate_series(11, 100010) g");
}

/* GROW_SQL, prepared once (every earlier generation deallocated), now
 * uses the primary key of the grown table. */
static void grow_test_replanned(PGconn *c) {
    ck_assert_int_eq(prepared_count(c, GROW_SQL), 1);
    char *plan = plan_of(c, GROW_SQL, "{1,2}");
    ck_assert_msg(strstr(plan, "Seq Scan on tb_grow_test") == NULL &&
                      strstr(plan, "tb_grow_test_pkey") != NULL,
                  "grown table: %s", plan);
    free(plan);
    tb_plan_sql_ok(c, "DROP TABLE tb_grow_test");
}

/* A statement planned while its table was nearly empty is planned again
 * as the table grows: a temporary table (autovacuum never analyses it, so
 * nothing else invalidates the plan) of 10 rows when the statement is
 * prepared and of 100,010 when it has run a few hundred times more. The
 * plan kept from the start scans the whole table; the one made again uses
 * the primary key. Plain and pipelined runs count alike. */
START_TEST(prepared_again_as_tables_grow) {
    tb_error err = {0};
    PGconn *c = bus_pg_acquire(pool, &err);
    ck_assert_ptr_nonnull(c);
    grow_test_small(c, 12);
    for (int i = 0; i < 400; i++) {
        const char *p[] = {"{5,50000,99999,200000}"};
        PGresult *r = NULL;
        bool piped = i % 2 == 1;
        if (piped) ck_assert_int_eq(bus_pg_pipeline_begin(c, &err), TB_OK);
        ck_assert_msg(bus_pg_exec(c, GROW_SQL, 1, p, &r, &err) == TB_OK, "%s", err.message);
        ck_assert_str_eq(PQgetvalue(r, 0, 0), "3");
        PQclear(r);
        if (piped) ck_assert_msg(bus_pg_pipeline_end(c, &err) == TB_OK, "%s", err.message);
    }
    grow_test_replanned(c);
    bus_pg_release(pool, c);
}
END_TEST

START_TEST(pipeline_failures) {
    tb_error err = {0};
    PGconn *c = bus_pg_acquire(pool, &err);
    ck_assert_ptr_nonnull(c);
    pipe_table(c);
    /* A duplicate fails at the next result; what followed it in the
     * transaction never ran, and after the rollback all is as before. */
    ck_assert_int_eq(bus_pg_pipeline_begin(c, &err), TB_OK);
    ck_assert_int_eq(bus_pg_exec(c, "BEGIN", 0, NULL, NULL, &err), TB_OK);
    const char *one[] = {"1"}, *two[] = {"2"};
    ck_assert_int_eq(bus_pg_exec(c, PIPE_INSERT, 1, one, NULL, &err), TB_OK);
    ck_assert_int_eq(bus_pg_exec(c, PIPE_INSERT, 1, one, NULL, &err), TB_OK);
    ck_assert_int_eq(bus_pg_exec(c, PIPE_INSERT, 1, two, NULL, &err), TB_OK);
    PGresult *r = NULL;
    err = (tb_error){0};
    ck_assert_int_eq(bus_pg_exec(c, "SELECT 1", 0, NULL, &r, &err), TB_CONFLICT);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(err.message, "duplicate") != NULL, "%s", err.message);
    /* The transaction is aborted: a later segment fails too. */
    ck_assert_int_eq(bus_pg_exec(c, "COMMIT", 0, NULL, NULL, &err), TB_OK);
    ck_assert_int_eq(bus_pg_pipeline_end(c, &err), TB_OK); /* COMMIT of an aborted one rolls back */
    ck_assert_int_eq(PQtransactionStatus(c), PQTRANS_IDLE);
    ck_assert_int_eq(pipe_rows(c), 0);
    /* A failure owed at the end is the end's failure. */
    ck_assert_int_eq(bus_pg_pipeline_begin(c, &err), TB_OK);
    ck_assert_int_eq(bus_pg_exec(c, "SELECT 1/0", 0, NULL, NULL, &err), TB_OK);
    ck_assert_int_eq(bus_pg_exec(c, PIPE_INSERT, 1, two, NULL, &err), TB_OK);
    ck_assert_int_eq(bus_pg_pipeline_end(c, &err), TB_INVALID);
    ck_assert_int_eq(PQpipelineStatus(c), PQ_PIPELINE_OFF);
    ck_assert_int_eq(pipe_rows(c), 0);
    /* A connection handed back inside a pipeline is settled first. */
    ck_assert_int_eq(bus_pg_pipeline_begin(c, &err), TB_OK);
    ck_assert_int_eq(bus_pg_exec(c, "BEGIN", 0, NULL, NULL, &err), TB_OK);
    ck_assert_int_eq(bus_pg_exec(c, PIPE_INSERT, 1, two, NULL, &err), TB_OK);
    bus_pg_release(pool, c);
    c = bus_pg_acquire(pool, &err);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(PQpipelineStatus(c), PQ_PIPELINE_OFF);
    ck_assert_int_eq(PQtransactionStatus(c), PQTRANS_IDLE);
    ck_assert_int_eq(pipe_rows(c), 0);
    tb_status st;
    ck_assert_int_eq(sum_of(c, "{1,2}", &st), 3);
    bus_pg_release(pool, c);
}
END_TEST

/* Reads sent with bus_pg_send get their own results at the next
 * synchronisation point, around statements without one; after a failure in
 * the segment none of them has a result. Outside pipeline mode the result
 * is there at once. */
START_TEST(pipeline_keeps_each_result) {
    tb_error err = {0};
    PGconn *c = bus_pg_acquire(pool, &err);
    ck_assert_ptr_nonnull(c);
    pipe_table(c);
    const char *a[] = {"{1,2}"}, *b[] = {"{10,20,30}"}, *seven[] = {"7"};
    for (int round = 0; round < 3; round++) { /* the later rounds run prepared */
        PGresult *r1 = NULL, *r2 = NULL, *r3 = NULL;
        ck_assert_int_eq(bus_pg_pipeline_begin(c, &err), TB_OK);
        ck_assert_int_eq(bus_pg_send(c, SUM_SQL, 1, a, &r1, &err), TB_OK);
        ck_assert_int_eq(bus_pg_exec(c, "BEGIN", 0, NULL, NULL, &err), TB_OK);
        ck_assert_int_eq(bus_pg_exec(c, PIPE_INSERT, 1, seven, NULL, &err), TB_OK);
        ck_assert_int_eq(bus_pg_send(c, "SELECT count(*) FROM tb_pipe_test", 0, NULL, &r2, &err),
                         TB_OK);
        ck_assert_int_eq(bus_pg_exec(c, "ROLLBACK", 0, NULL, NULL, &err), TB_OK);
        ck_assert_int_eq(bus_pg_send(c, SUM_SQL, 1, b, &r3, &err), TB_OK);
        ck_assert_ptr_null(r1); /* not read yet */
        ck_assert_msg(bus_pg_pipeline_sync(c, &err) == TB_OK, "%s", err.message);
        ck_assert_ptr_nonnull(r1);
        ck_assert_ptr_nonnull(r2);
        ck_assert_ptr_nonnull(r3);
        ck_assert_str_eq(PQgetvalue(r1, 0, 0), "3");
        ck_assert_str_eq(PQgetvalue(r2, 0, 0), "1"); /* inside the transaction */
        ck_assert_str_eq(PQgetvalue(r3, 0, 0), "60");
        PQclear(r1);
        PQclear(r2);
        PQclear(r3);
        ck_assert_int_eq(bus_pg_pipeline_end(c, &err), TB_OK);
    }
    ck_assert_int_eq(pipe_rows(c), 0);
    /* A failure anywhere in the segment: no result for anyone. */
    PGresult *r1 = NULL, *r2 = NULL, *r3 = NULL;
    ck_assert_int_eq(bus_pg_pipeline_begin(c, &err), TB_OK);
    ck_assert_int_eq(bus_pg_send(c, SUM_SQL, 1, a, &r1, &err), TB_OK);
    ck_assert_int_eq(bus_pg_send(c, "SELECT 1/0", 0, NULL, &r2, &err), TB_OK);
    ck_assert_int_eq(bus_pg_send(c, SUM_SQL, 1, b, &r3, &err), TB_OK);
    err = (tb_error){0};
    ck_assert_int_eq(bus_pg_pipeline_end(c, &err), TB_INVALID);
    ck_assert_msg(strstr(err.message, "division") != NULL, "%s", err.message);
    ck_assert_ptr_null(r1);
    ck_assert_ptr_null(r2);
    ck_assert_ptr_null(r3);
    ck_assert_int_eq(PQpipelineStatus(c), PQ_PIPELINE_OFF);
    /* One read alone: bus_pg_await synchronises for it. */
    ck_assert_int_eq(bus_pg_pipeline_begin(c, &err), TB_OK);
    ck_assert_int_eq(bus_pg_send(c, SUM_SQL, 1, a, &r1, &err), TB_OK);
    ck_assert_ptr_null(r1);
    ck_assert_int_eq(bus_pg_await(c, &r1, &err), TB_OK);
    ck_assert_ptr_nonnull(r1);
    ck_assert_str_eq(PQgetvalue(r1, 0, 0), "3");
    PQclear(r1);
    ck_assert_int_eq(bus_pg_pipeline_end(c, &err), TB_OK);
    /* Outside pipeline mode: at once, nothing to wait for. */
    ck_assert_int_eq(bus_pg_send(c, SUM_SQL, 1, b, &r1, &err), TB_OK);
    ck_assert_ptr_nonnull(r1);
    ck_assert_int_eq(bus_pg_await(c, &r1, &err), TB_OK);
    ck_assert_str_eq(PQgetvalue(r1, 0, 0), "60");
    PQclear(r1);
    bus_pg_release(pool, c);
}
END_TEST

/* A statement that runs seldom is planned again once its plan is old: the
 * table grows from 10 to 100,010 rows between its third and fourth run,
 * far fewer runs than the count that prepares it again, and a second goes
 * by. The plan kept would scan the whole table. */
START_TEST(prepared_again_as_plans_age) {
    tb_error err = {0};
    PGconn *c = bus_pg_acquire(pool, &err);
    ck_assert_ptr_nonnull(c);
    grow_test_small(c, 3);
    struct timespec pause = {1, 200000000};
    nanosleep(&pause, NULL);
    const char *p[] = {"{1,2,3}"};
    PGresult *r = NULL;
    ck_assert_msg(bus_pg_exec(c, GROW_SQL, 1, p, &r, &err) == TB_OK, "%s", err.message);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "3");
    PQclear(r);
    grow_test_replanned(c);
    bus_pg_release(pool, c);
}
END_TEST

/* Sessions carry the name of the service that opened them. */
START_TEST(sessions_named_after_the_service) {
    tb_error err = {0};
    PGconn *c = bus_pg_acquire(pool, &err);
    ck_assert_ptr_nonnull(c);
    PGresult *r = PQexec(c, "SELECT current_setting('application_name')");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "pg-stmt-test");
    PQclear(r);
    bus_pg_release(pool, c);
}
END_TEST

/* A prepared statement runs its generic plan from its first run by name:
 * PostgreSQL would otherwise plan a statement over an array parameter
 * anew on each of its first five runs, and on every run when the generic
 * plan's estimate is the dearer one. */
START_TEST(generic_plans_only) {
    tb_error err = {0};
    PGconn *c = bus_pg_acquire(pool, &err);
    ck_assert_ptr_nonnull(c);
    static const char SQL[] = "SELECT count(*) FROM unnest($1::text[]) AS u(x) WHERE x <> ''";
    for (int i = 0; i < 12; i++) {
        const char *p[] = {i % 2 ? "{a}" : "{a,b,c,d,e,f,g,h,i,j,k,l,m,n}"};
        PGresult *r = NULL;
        ck_assert_msg(bus_pg_exec(c, SQL, 1, p, &r, &err) == TB_OK, "%s", err.message);
        PQclear(r);
    }
    const char *p[] = {SQL};
    PGresult *r = PQexecParams(c,
                               "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                               "WHERE statement = $1",
                               1, NULL, p, NULL, NULL, 0);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    ck_assert_int_eq(PQntuples(r), 1);
    ck_assert_msg(atoi(PQgetvalue(r, 0, 1)) == 0, "custom plans: %s", PQgetvalue(r, 0, 1));
    ck_assert_int_ge(atoi(PQgetvalue(r, 0, 0)), 1);
    PQclear(r);
    bus_pg_release(pool, c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("pg_stmt");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, second_use_runs_prepared);
    tcase_add_test(tc, transactions_and_errors);
    tcase_add_test(tc, many_texts);
    tcase_add_test(tc, pipeline_defers_until_a_result);
    tcase_add_test(tc, pipeline_failures);
    tcase_add_test(tc, prepared_again_as_tables_grow);
    tcase_add_test(tc, prepared_again_as_plans_age);
    tcase_add_test(tc, sessions_named_after_the_service);
    tcase_add_test(tc, pipeline_keeps_each_result);
    tcase_add_test(tc, generic_plans_only);
    suite_add_tcase(s, tc);
    return tb_test_run_suite(s);
}
