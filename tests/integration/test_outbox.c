/* The transactional outbox publishes exactly what committed, with
 * Nats-Msg-Id, marks it published, never republishes a published row, and
 * leaves a rolled-back row unseen; actor timers run and stop with the actor. */
#include <nats/nats.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outbox.h"
#include "tb_plan.h"
#include "tb_test.h"
#include "timer.h"
#include "wire.h"

static bus_actor_def def = {
    .name = "outbox-test", .version = "0.0.1", .description = "outbox test", .needs = BUS_NEEDS_PG};

static _Atomic int ticks;
static void on_timer(bus_actor *a, void *arg) {
    (void)a;
    (void)arg;
    ticks++;
}

static void fill_for(tb_fill *f, const char *acct, const char *id) {
    memset(f, 0, sizeof *f);
    snprintf(f->fill_id, sizeof f->fill_id, "%s", id);
    snprintf(f->order_id, sizeof f->order_id, "o-%s", id);
    snprintf(f->account, sizeof f->account, "%s", acct);
    snprintf(f->symbol, sizeof f->symbol, "DAX");
    snprintf(f->side, sizeof f->side, "sell");
    f->qty = 250000000;
    f->price = 1628750000000;
    f->ts = tb_now_ns();
}

/* The test's actor, started on the test's servers. */
static bus_actor *start_actor(void) {
    bus_config cfg;
    tb_test_config(&cfg, "outbox-test");
    bus_actor *a = NULL;
    tb_error err = {0};
    ck_assert_int_eq(bus_actor_create(&def, &cfg, &a, &err), TB_OK);
    ck_assert_msg(bus_actor_start(a, &err) == TB_OK, "%s", err.message);
    return a;
}

START_TEST(commit_publishes_rollback_does_not) {
    bus_actor *a = start_actor();
    tb_error err = {0};
    ck_assert_int_eq(bus_js_ensure_streams(bus_actor_conn(a), &err), TB_OK);
    ck_assert_int_eq(bus_actor_add_timer(a, "t", 20, on_timer, NULL, NULL, &err), TB_OK);

    char acct[48], producer[64], subject[96], id1[64], id2[64];
    tb_test_unique(acct, sizeof acct, "OB");
    snprintf(producer, sizeof producer, "test-%s", acct);
    snprintf(subject, sizeof subject, "fills.%s.DAX", acct);
    snprintf(id1, sizeof id1, "%s-f1", acct);
    snprintf(id2, sizeof id2, "%s-f2", acct);

    natsConnection *nc = bus_conn_nats(bus_actor_conn(a));
    natsSubscription *sub = NULL;
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, nc, subject), NATS_OK);
    ck_assert_int_eq(natsConnection_Flush(nc), NATS_OK);

    PGconn *c = bus_pg_acquire(bus_actor_pg(a), &err);
    ck_assert_ptr_nonnull(c);
    tb_fill f;
    ck_assert_int_eq(bus_pg_exec(c, "BEGIN", 0, NULL, NULL, &err), TB_OK);
    fill_for(&f, acct, id1);
    ck_assert_int_eq(bus_outbox_add(c, producer, subject, &tb_fill_desc, &f, id1, "tr-1", &err),
                     TB_OK);
    ck_assert_int_eq(bus_pg_exec(c, "COMMIT", 0, NULL, NULL, &err), TB_OK);
    ck_assert_int_eq(bus_pg_exec(c, "BEGIN", 0, NULL, NULL, &err), TB_OK);
    fill_for(&f, acct, id2);
    ck_assert_int_eq(bus_outbox_add(c, producer, subject, &tb_fill_desc, &f, id2, "tr-2", &err),
                     TB_OK);
    ck_assert_int_eq(bus_pg_exec(c, "ROLLBACK", 0, NULL, NULL, &err), TB_OK);
    /* a duplicate id is a conflict, not a second event */
    ck_assert_int_eq(bus_outbox_add(c, producer, subject, &tb_fill_desc, &f, id1, NULL, &err),
                     TB_CONFLICT);
    bus_pg_release(bus_actor_pg(a), c);

    int n = -1;
    ck_assert_msg(bus_outbox_relay(a, producer, 10, 0, &n, &err) == TB_OK, "%s", err.message);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(bus_outbox_relay(a, producer, 10, 0, &n, &err), TB_OK);
    ck_assert_int_eq(n, 0); /* published rows are not published again */

    natsMsg *m = NULL;
    ck_assert_int_eq(natsSubscription_NextMsg(&m, sub, 5000), NATS_OK);
    const char *mid = NULL, *trace = NULL;
    ck_assert_int_eq(natsMsgHeader_Get(m, BUS_HDR_MSG_ID, &mid), NATS_OK);
    ck_assert_str_eq(mid, id1);
    ck_assert_int_eq(natsMsgHeader_Get(m, BUS_HDR_TRACE, &trace), NATS_OK);
    ck_assert_str_eq(trace, "tr-1");
    tb_fill got;
    ck_assert_int_eq(
        tb_decode(&tb_fill_desc, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &got, NULL),
        TB_OK);
    ck_assert_str_eq(got.fill_id, id1);
    ck_assert_int_eq(got.price, 1628750000000);
    natsMsg_Destroy(m);
    ck_assert_int_eq(natsSubscription_NextMsg(&m, sub, 300), NATS_TIMEOUT);
    natsSubscription_Destroy(sub);

    int64_t end = bus_mono_ns() + INT64_C(10) * 1000000000;
    while (ticks < 3 && bus_mono_ns() < end) usleep(10000);
    ck_assert_int_ge(ticks, 3);
    bus_actor_destroy(a);
    int after = ticks;
    usleep(100000);
    ck_assert_int_eq(ticks, after); /* timers stopped with the actor */
}
END_TEST

/* A relay round sends its rows together: every row the stream acknowledges
 * is published in order and marked, a row no stream takes stays pending with
 * its error (the rows after it are not held back), and a row whose id the
 * stream already has counts as published without a second copy. */
START_TEST(relay_publishes_rows_together) {
    bus_actor *a = start_actor();
    tb_error err = {0};
    ck_assert_int_eq(bus_js_ensure_streams(bus_actor_conn(a), &err), TB_OK);

    enum { N = 60, BAD = 20 };
    char acct[48], producer[64], subject[96], bad_subject[96];
    tb_test_unique(acct, sizeof acct, "OM");
    snprintf(producer, sizeof producer, "test-%s", acct);
    snprintf(subject, sizeof subject, "fills.%s.DAX", acct);
    snprintf(bad_subject, sizeof bad_subject, "nostream.%s", acct);
    natsConnection *nc = bus_conn_nats(bus_actor_conn(a));
    natsSubscription *sub = NULL;
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, nc, subject), NATS_OK);
    ck_assert_int_eq(natsConnection_Flush(nc), NATS_OK);

    static tb_fill fills[N];
    static char ids[N][64];
    bus_outbox_event evs[N];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "%s-m%02d", acct, i);
        fill_for(&fills[i], acct, ids[i]);
        evs[i] = (bus_outbox_event){.subject = i == BAD ? bad_subject : subject,
                                    .desc = &tb_fill_desc,
                                    .ev = &fills[i],
                                    .msg_id = ids[i],
                                    .trace_id = "tr-m"};
    }
    /* The last row's id reaches the stream first: its row is a duplicate. */
    ck_assert_int_eq(bus_js_publish(bus_actor_conn(a), subject, &tb_fill_desc, &fills[N - 1],
                                    &(bus_msg_meta){.msg_id = ids[N - 1]}, NULL, &err),
                     TB_OK);
    PGconn *c = bus_pg_acquire(bus_actor_pg(a), &err);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(bus_pg_exec(c, "BEGIN", 0, NULL, NULL, &err), TB_OK);
    ck_assert_msg(bus_outbox_add_many(c, producer, evs, N, &err) == TB_OK, "%s", err.message);
    ck_assert_int_eq(bus_pg_exec(c, "COMMIT", 0, NULL, NULL, &err), TB_OK);
    ck_assert_int_eq(bus_outbox_add_many(c, producer, evs, 1, &err), TB_CONFLICT);

    int n = -1;
    ck_assert_int_ne(bus_outbox_relay(a, producer, 100, 0, &n, &err), TB_OK);
    ck_assert_msg(n == N - 1, "%d published: %s", n, err.message);
    ck_assert_int_ne(bus_outbox_relay(a, producer, 100, 0, &n, &err), TB_OK);
    ck_assert_int_eq(n, 0);
    const char *p[1] = {producer};
    PGresult *r = NULL;
    ck_assert_int_eq(bus_pg_exec(c,
                                 "SELECT o.msg_id, p.attempts, p.last_error IS NOT NULL "
                                 "FROM outbox_pending p JOIN outbox o ON o.id = p.id "
                                 "WHERE p.producer = $1",
                                 1, p, &r, &err),
                     TB_OK);
    ck_assert_int_eq(PQntuples(r), 1);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), ids[BAD]);
    ck_assert_str_eq(PQgetvalue(r, 0, 1), "2");
    ck_assert_str_eq(PQgetvalue(r, 0, 2), "t");
    PQclear(r);
    bus_pg_release(bus_actor_pg(a), c);

    /* In order: the first copy of the last id, then the relay's rows (a core
     * subscriber sees the second copy too; the stream stored it once, which
     * its acknowledgement said and the row's mark shows). */
    natsMsg *m = NULL;
    const char *mid = NULL;
    ck_assert_int_eq(natsSubscription_NextMsg(&m, sub, 5000), NATS_OK);
    ck_assert_int_eq(natsMsgHeader_Get(m, BUS_HDR_MSG_ID, &mid), NATS_OK);
    ck_assert_str_eq(mid, ids[N - 1]);
    natsMsg_Destroy(m);
    for (int i = 0; i < N; i++) {
        if (i == BAD) continue;
        ck_assert_int_eq(natsSubscription_NextMsg(&m, sub, 5000), NATS_OK);
        ck_assert_int_eq(natsMsgHeader_Get(m, BUS_HDR_MSG_ID, &mid), NATS_OK);
        ck_assert_str_eq(mid, ids[i]);
        natsMsg_Destroy(m);
    }
    ck_assert_int_eq(natsSubscription_NextMsg(&m, sub, 300), NATS_TIMEOUT);
    natsSubscription_Destroy(sub);
    bus_actor_destroy(a);
}
END_TEST

/* The relay's claim reads outbox by key, one row per pending row: never a
 * walk from outbox's oldest row (a day of events) to the pending ones, the
 * newest. */
START_TEST(claim_reads_only_pending_rows) {
    bus_actor *a = start_actor();
    tb_error err = {0};
    char producer[64];
    tb_test_unique(producer, sizeof producer, "test-plan");
    PGconn *c = bus_pg_acquire(bus_actor_pg(a), &err);
    ck_assert_ptr_nonnull(c);
    const char *p[1] = {producer};
    /* 20,000 published rows, then 500 pending ones, of which 3 stay. */
    ck_assert_int_eq(bus_pg_exec(c,
                                 "INSERT INTO outbox (producer, subject, msg_id, payload) "
                                 "SELECT $1, 'plan.test', $1 || '-old-' || g, '\\x00' "
                                 "FROM generate_series(1, 20000) g",
                                 1, p, NULL, &err),
                     TB_OK);
    ck_assert_int_eq(
        bus_pg_exec(c,
                    "WITH o AS (INSERT INTO outbox (producer, subject, msg_id, payload) "
                    "SELECT $1, 'plan.test', $1 || '-new-' || g, '\\x00' "
                    "FROM generate_series(1, 500) g RETURNING id) "
                    "INSERT INTO outbox_pending (producer, id) SELECT $1, id FROM o",
                    1, p, NULL, &err),
        TB_OK);
    ck_assert_int_eq(bus_pg_exec(c, "ANALYZE outbox", 0, NULL, NULL, &err), TB_OK);
    ck_assert_int_eq(bus_pg_exec(c, "ANALYZE outbox_pending", 0, NULL, NULL, &err), TB_OK);
    ck_assert_int_eq(bus_pg_exec(c,
                                 "DELETE FROM outbox_pending WHERE producer = $1 AND id NOT IN "
                                 "(SELECT id FROM outbox_pending WHERE producer = $1 "
                                 "ORDER BY id DESC LIMIT 3)",
                                 1, p, NULL, &err),
                     TB_OK);
    char prep[2048];
    snprintf(prep, sizeof prep, "PREPARE claim_plan(text, bigint, int) AS %s",
             bus_outbox_claim_sql);
    ck_assert_msg(bus_pg_exec(c, prep, 0, NULL, NULL, &err) == TB_OK, "%s", err.message);
    ck_assert_int_eq(bus_pg_exec(c, "BEGIN", 0, NULL, NULL, &err), TB_OK);
    /* Whatever the statistics say (under load they lag: a merge join was
     * chosen with a hundred pending rows estimated), the claim can only be
     * run by key: with nested loops priced out, a join the planner could
     * flatten becomes a merge or hash join over all of outbox. */
    ck_assert_int_eq(bus_pg_exec(c, "SET LOCAL enable_nestloop = off", 0, NULL, NULL, &err), TB_OK);
    /* EXPLAIN takes no bind parameters: the producer as a literal. */
    char *lit = PQescapeLiteral(c, producer, strlen(producer));
    ck_assert_ptr_nonnull(lit);
    char exec[256];
    snprintf(exec, sizeof exec, "EXECUTE claim_plan(%s, 0, 500)", lit);
    PQfreemem(lit);
    json_t *plan = NULL, *doc = tb_plan_explain(c, exec, &plan);
    ck_assert_double_eq(json_number_value(json_object_get(plan, "Actual Rows")), 3);
    double read = tb_plan_rows_read(plan, "outbox");
    ck_assert_msg(read <= 3, "the claim read %.0f outbox rows for 3 pending", read);
    json_decref(doc);
    ck_assert_int_eq(bus_pg_exec(c, "ROLLBACK", 0, NULL, NULL, &err), TB_OK);
    ck_assert_int_eq(bus_pg_exec(c, "DEALLOCATE claim_plan", 0, NULL, NULL, &err), TB_OK);
    ck_assert_int_eq(
        bus_pg_exec(c, "DELETE FROM outbox_pending WHERE producer = $1", 1, p, NULL, &err), TB_OK);
    ck_assert_int_eq(bus_pg_exec(c, "DELETE FROM outbox WHERE producer = $1", 1, p, NULL, &err),
                     TB_OK);
    bus_pg_release(bus_actor_pg(a), c);
    bus_actor_destroy(a);
}
END_TEST

/* The daily cleanup deletes what is older than a day and no longer pending,
 * and reads only those rows: a BRIN index on created_at (0733, dropped by
 * 0768) offered every range autovacuum had not summarized, which on a busy
 * outbox is the day's rows (265 ms a call at 930,000), and with statistics
 * the planner preferred it from about 200,000 rows on. Temporary tables of
 * the same shape stand in for outbox and outbox_pending, so only this
 * test's rows are there. */
START_TEST(cleanup_reads_only_old_rows) {
    bus_actor *a = start_actor();
    tb_error err = {0};
    PGconn *c = bus_pg_acquire(bus_actor_pg(a), &err);
    ck_assert_ptr_nonnull(c);
    tb_plan_sql_ok(c, "CREATE TEMP TABLE outbox (LIKE public.outbox INCLUDING ALL)");
    tb_plan_sql_ok(c,
                   "CREATE TEMP TABLE outbox_pending (LIKE public.outbox_pending INCLUDING ALL)");
    /* Four rows of two days ago (one still pending), then a day's traffic. */
    tb_plan_sql_ok(c, "INSERT INTO outbox (producer, subject, msg_id, payload, created_at) "
                      "SELECT 'p' || (g % 2), 'cleanup.test', 'old-' || g, '\\x00', "
                      "now() - interval '2 days' FROM generate_series(1, 4) g");
    tb_plan_sql_ok(c, "INSERT INTO outbox_pending (producer, id) "
                      "SELECT producer, id FROM outbox WHERE msg_id = 'old-1'");
    tb_plan_sql_ok(c, "INSERT INTO outbox (producer, subject, msg_id, payload) "
                      "SELECT 'p' || (g % 2), 'cleanup.test', 'new-' || g, '\\x00' "
                      "FROM generate_series(1, 200000) g");
    /* With statistics, as autovacuum keeps them for the real table. */
    tb_plan_sql_ok(c, "ANALYZE pg_temp.outbox, pg_temp.outbox_pending");
    tb_plan_sql_ok(c, "BEGIN");
    json_t *plan = NULL, *doc = tb_plan_explain(c, bus_outbox_cleanup_sql, &plan);
    double examined = tb_plan_rows_examined(plan, "outbox");
    json_decref(doc);
    tb_plan_sql_ok(c, "ROLLBACK");
    ck_assert_msg(examined <= 20, "the cleanup looked at %.0f outbox rows to delete 3", examined);
    ck_assert_int_eq(bus_pg_exec(c, bus_outbox_cleanup_sql, 0, NULL, NULL, &err), TB_OK);
    PGresult *r = NULL;
    ck_assert_int_eq(bus_pg_exec(c,
                                 "SELECT count(*) FILTER (WHERE msg_id LIKE 'new-%'), "
                                 "string_agg(msg_id, ',') FILTER (WHERE msg_id LIKE 'old-%') "
                                 "FROM outbox",
                                 0, NULL, &r, &err),
                     TB_OK);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "200000");
    ck_assert_str_eq(PQgetvalue(r, 0, 1), "old-1"); /* pending: kept */
    PQclear(r);
    tb_plan_sql_ok(c, "DROP TABLE pg_temp.outbox, pg_temp.outbox_pending");
    bus_pg_release(bus_actor_pg(a), c);
    bus_actor_destroy(a);
}
END_TEST

int main(void) {
    Suite *s = suite_create("outbox");
    TCase *tc = tcase_create("outbox");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, commit_publishes_rollback_does_not);
    tcase_add_test(tc, relay_publishes_rows_together);
    tcase_add_test(tc, claim_reads_only_pending_rows);
    tcase_add_test(tc, cleanup_reads_only_old_rows);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
