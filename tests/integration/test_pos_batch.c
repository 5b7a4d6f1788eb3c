/* position-management books the FILLS stream a batch at a time: a burst of
 * fills waiting on the stream, published out of their time order, is booked
 * in fewer transactions than fills (the applied_fills rows' writers, and
 * tb_pos_fill_batches_total) and ends
 * exactly where the same fills booked one at a time end (positions, cash,
 * every fill's post-state); a second copy inside the batch is applied once;
 * a conflicting copy and a fill of an unknown account are dead-lettered
 * alone while the rest of their batch is booked. */
#include <nats/nats.h>
#include <signal.h>

#include "test_pos_util.h"

#define NFILLS 24

static bus_config cfg;
static bus_conn *conn;
static PGconn *pg;
static pid_t worker;
static char instance[64], prefix[32], like[64];

static void setup_all(void) {
    tb_test_config(&cfg, "pos-batch-test");
    conn = tb_test_conn(&cfg);
    pg = pt_pg(&cfg);
    tb_error err = {0};
    ck_assert_msg(bus_js_ensure_streams(conn, &err) == TB_OK, "%s", err.message);
    tb_test_unique(prefix, sizeof prefix, "PB");
    snprintf(like, sizeof like, "%s%%", prefix);
    snprintf(instance, sizeof instance, "pmb-%s", prefix);
}

static void teardown_all(void) {
    if (worker > 0 && tb_test_stop(worker, 20000) != 0)
        fprintf(stderr, "tb-position-management did not exit cleanly\n");
    PQfinish(pg);
    bus_conn_close(conn);
}

static void account(const char *id) {
    const char *p[1] = {id};
    pt_exec(pg,
            "INSERT INTO accounts (id, initial_cash, cash) VALUES ($1, 100000, 100000) "
            "ON CONFLICT (id) DO NOTHING",
            1, p);
}

/* Fill k of the scripted sequence for acct (time order = k). */
static void scripted(tb_fill *f, const char *acct, int k, int64_t ts0) {
    char id[64], qty[8], price[16];
    snprintf(id, sizeof id, "%s-%02d", acct, k);
    snprintf(qty, sizeof qty, "%d", 1 + k % 4);
    snprintf(price, sizeof price, "%d.25", 100 + (k * 7) % 13);
    pt_fill(f, id, acct, "DAX", k % 3 == 2 ? "sell" : "buy", qty, price, "0.1",
            ts0 + (int64_t)k * 1000);
}

/* Publication order: a permutation of the time order. */
static int shuffled(int i) {
    return (i * 7) % NFILLS;
}

/* The instance's count of fill batches with that outcome. */
static long batches(const char *outcome) {
    char subject[160], want[64];
    snprintf(subject, sizeof subject, "svc.position-management.%s.metrics", instance);
    snprintf(want, sizeof want, "outcome=\"%s\"} ", outcome);
    bus_bytes b = {0};
    tb_error err = {0};
    ck_assert_msg(bus_request_bytes(conn, subject, "", 0, NULL, 5000, NULL, &b, &err) == TB_OK,
                  "%s", err.message);
    long v = -1;
    for (char *line = b.data; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        char *hit = strstr(line, want);
        if (strncmp(line, "tb_pos_fill_batches_total{", 26) == 0 && hit)
            v = strtol(hit + strlen(want), NULL, 10);
        line = nl ? nl + 1 : NULL;
    }
    bus_bytes_free(&b);
    return v;
}

/* "qty avg realized cash" of acct's DAX position and account, and every
 * fill's post-state in time order. */
static char *book_of(const char *acct) {
    const char *p[1] = {acct};
    char *pos = NULL;
    PGresult *r = PQexecParams(
        pg,
        "SELECT p.qty::text || ' ' || p.avg_cost::text || ' ' || p.realized_pnl::text || ' ' || "
        "p.fees::text || ' ' || a.cash::text || ' | ' || (SELECT string_agg(f.post_qty::text || "
        "'/' || f.post_cost::text || '/' || f.post_realized::text, ',' ORDER BY f.ts_ns) FROM "
        "applied_fills f WHERE f.account = $1) FROM positions p JOIN accounts a ON a.id = "
        "p.account WHERE p.account = $1 AND p.symbol = 'DAX'",
        1, NULL, p, NULL, NULL, 0);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    if (PQntuples(r) == 1) pos = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    ck_assert_msg(pos != NULL, "no position of %s", acct);
    return pos;
}

static void wait_dead_letters(natsSubscription *dl, const char *a, const char *b) {
    bool seen_a = false, seen_b = false;
    int64_t end = bus_mono_ns() + INT64_C(30000000000);
    while (!(seen_a && seen_b) && bus_mono_ns() < end) {
        natsMsg *m = NULL;
        if (natsSubscription_NextMsg(&m, dl, 1000) != NATS_OK) continue;
        const char *mid = NULL;
        if (natsMsgHeader_Get(m, BUS_HDR_MSG_ID, &mid) == NATS_OK) {
            seen_a |= strcmp(mid, a) == 0;
            seen_b |= strcmp(mid, b) == 0;
        }
        natsMsg_Destroy(m);
    }
    ck_assert_msg(seen_a && seen_b, "dead letters: %s %d, %s %d", a, seen_a, b, seen_b);
}

START_TEST(burst_booked_in_few_transactions_as_one_by_one) {
    char batched[40], single[40], ghost[40];
    snprintf(batched, sizeof batched, "%sA", prefix);
    snprintf(single, sizeof single, "%sB", prefix);
    snprintf(ghost, sizeof ghost, "%sNOBODY", prefix);
    account(batched);
    account(single);
    int64_t ts0 = tb_now_ns() / 1000 * 1000;

    /* Everything waits on the stream before the worker starts. */
    tb_fill f;
    for (int i = 0; i < NFILLS; i++) {
        scripted(&f, batched, shuffled(i), ts0);
        pt_record_fill(pg, &f);
        ck_assert(!pt_publish_fill(conn, &f, NULL));
    }
    char again[96], conflict[96];
    scripted(&f, batched, shuffled(3), ts0);
    snprintf(again, sizeof again, "again-%s", f.fill_id);
    ck_assert(!pt_publish_fill(conn, &f, again));
    scripted(&f, batched, shuffled(5), ts0);
    f.qty += pt_fx("1");
    snprintf(conflict, sizeof conflict, "conflict-%s", f.fill_id);
    ck_assert(!pt_publish_fill(conn, &f, conflict));
    pt_fill(&f, "PB-ghost-fill", ghost, "DAX", "buy", "1", "10", "0", ts0);
    char ghost_id[96];
    snprintf(ghost_id, sizeof ghost_id, "%s-%s", ghost, "fill");
    ck_assert(!pt_publish_fill(conn, &f, ghost_id));

    natsSubscription *dl = NULL;
    ck_assert_int_eq(natsConnection_SubscribeSync(&dl, bus_conn_nats(conn),
                                                  BUS_DLQ_PREFIX "FILLS.position-management"),
                     NATS_OK);
    char *extra[] = {"POS_MARKS=false", "POS_FILL_BATCH=256", NULL};
    worker = pt_spawn(instance, extra);
    pt_wait_ready(conn, instance);
    ck_assert(pt_wait_applied(pg, batched, NFILLS, 60000));
    wait_dead_letters(dl, conflict, ghost_id);
    natsSubscription_Destroy(dl);
    /* The transactions that wrote the burst's rows (other work on the
     * shared durable may add batches of its own to the metric). */
    long writers = pt_count(
        pg, "SELECT count(DISTINCT xmin::text) FROM applied_fills WHERE account = $1", batched);
    ck_assert_msg(writers >= 1 && writers <= (NFILLS + 3) / 4, "%ld transactions for %d fills",
                  writers, NFILLS + 3);
    ck_assert_int_ge(batches("one_transaction"), 1);
    ck_assert_int_eq(batches("one_by_one"), 0);

    /* The same fills for another account, one at a time in the same order. */
    for (int i = 0; i < NFILLS; i++) {
        scripted(&f, single, shuffled(i), ts0);
        pt_record_fill(pg, &f);
        ck_assert(!pt_publish_fill(conn, &f, NULL));
        ck_assert(pt_wait_applied(pg, single, i + 1, 60000));
    }
    char *a = book_of(batched), *b = book_of(single);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    char msg[1024];
    ck_assert_msg(tb_check_exactness(pg, like, msg, sizeof msg), "exactness: %s", msg);
    ck_assert_int_eq(tb_test_stop(worker, 20000), 0);
    worker = 0;
}
END_TEST

int main(void) {
    Suite *s = suite_create("pos_batch");
    TCase *tc = tcase_create("fills");
    tcase_add_unchecked_fixture(tc, setup_all, teardown_all);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, burst_booked_in_few_transactions_as_one_by_one);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
