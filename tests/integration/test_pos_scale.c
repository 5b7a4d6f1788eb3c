/* position-management scaled out and killed, through its real binary:
 *   - the same 400 fills (4 symbols, buys and sells through zero, fees and
 *     rebates, runs of equal timestamps) booked by 1 worker and by 3 workers
 *     end with identical positions, average costs, realized P&L, fees and
 *     cash, equal to the pure accounting folded here in canonical order;
 *   - 2,000 fills on 2 workers, one killed with SIGKILL mid-stream and
 *     restarted: every fill applied exactly once (applied_fills, the
 *     exactness invariants, and the reference fold all agree); then the
 *     whole stream redelivered to a new consumer applies nothing.
 * Fills are recorded in PostgreSQL as trading-execution does and published
 * on FILLS with Nats-Msg-Id = fill id before the workers start, so the
 * workers race on them. Each run has its own account, durable and subject
 * filter (fills.<account>.>) and a short ack wait, so a killed worker's
 * messages come back quickly. The test prints the counts. */
#include <nats/nats.h>
#include <signal.h>

#include "pos_pnl.h"
#include "test_pos_util.h"

#define NSYM 5

static bus_config cfg;
static bus_conn *conn;
static PGconn *pg;
static char prefix[32];
static int64_t ts0;
static const char *symbols[NSYM] = {"DAX", "SAP", "BMW", "SIE", "ALV"};

static void setup(void) {
    tb_test_config(&cfg, "pos-scale-test");
    conn = tb_test_conn(&cfg);
    pg = pt_pg(&cfg);
    tb_error err = {0};
    ck_assert_msg(bus_js_ensure_streams(conn, &err) == TB_OK, "%s", err.message);
    tb_test_unique(prefix, sizeof prefix, "PS");
    ts0 = tb_now_ns() / 1000 * 1000;
}

static void teardown(void) {
    PQfinish(pg);
    bus_conn_close(conn);
}

/* The n-th fill of a deterministic sequence over nsym symbols: random side,
 * quantity 0.01..20, price 50..150 with 8 decimals, fee -0.05..0.95; every
 * three fills share a timestamp, so fill ids break ties. */
static void gen_fill(tb_fill *f, const char *acct, int i, int nsym, uint64_t *x) {
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    uint64_t r = *x;
    char id[64];
    snprintf(id, sizeof id, "%s-%05d", acct, i);
    pt_fill(f, id, acct, symbols[r % (uint64_t)nsym], (r >> 8) & 1 ? "buy" : "sell", "1", "1", "0",
            ts0 + (i / 3) * 1000);
    f->qty = (tb_fixed)((r >> 12) % 2000 + 1) * 1000000;            /* 0.01 steps */
    f->price = (tb_fixed)((r >> 24) % 10000000000ull) + 5000000000; /* 50 .. 150 */
    f->fee = (tb_fixed)((r >> 40) % 100000000) - 5000000;           /* -0.05 .. 0.95 */
}

/* Records and publishes n fills of acct; returns the reference: positions
 * folded in canonical order (generation order) and the final cash. */
typedef struct reference {
    pos_state pos[NSYM];
    tb_fixed fees[NSYM];
    tb_fixed cash;
} reference;

static void record_and_publish(const char *acct, int n, int nsym, const char *initial,
                               reference *ref) {
    memset(ref, 0, sizeof *ref);
    ref->cash = pt_fx(initial);
    uint64_t x = 0x2545f4914f6cdd1dull; /* the same sequence for every run */
    tb_fill *fills = calloc((size_t)n, sizeof *fills);
    ck_assert_ptr_nonnull(fills);
    pt_exec(pg, "BEGIN", 0, NULL);
    for (int i = 0; i < n; i++) {
        gen_fill(&fills[i], acct, i, nsym, &x);
        pt_record_fill(pg, &fills[i]);
        int s = 0;
        while (strcmp(symbols[s], fills[i].symbol) != 0) s++;
        pos_side side;
        ck_assert_int_eq(pos_side_parse(fills[i].side, &side), TB_OK);
        pos_fill_in in = {side, fills[i].qty, fills[i].price, fills[i].fee};
        pos_effect e;
        tb_error err = {0};
        ck_assert_msg(pos_apply_fill(&ref->pos[s], &in, &e, &err) == TB_OK, "%s", err.message);
        ref->pos[s] = e.after;
        ref->fees[s] += fills[i].fee;
        ref->cash += e.cash_delta;
    }
    pt_exec(pg, "COMMIT", 0, NULL);
    for (int i = 0; i < n; i++) ck_assert(!pt_publish_fill(conn, &fills[i], NULL));
    free(fills);
}

static void make_account(const char *id, const char *initial) {
    tb_account a = {0}, out = {0};
    snprintf(a.account, sizeof a.account, "%s", id);
    a.initial_cash = pt_fx(initial);
    tb_error err = {0};
    ck_assert_msg(bus_request(conn, "api.accounts.create", &tb_account_desc, &a, &tb_account_desc,
                              &out, 5000, NULL, &err) == TB_OK,
                  "create %s: %s", id, err.message);
}

/* Env of a worker of acct's run. */
typedef struct run_env {
    char subject[128], durable[96];
    char *extra[6];
} run_env;

static void run_env_init(run_env *e, const char *acct) {
    snprintf(e->subject, sizeof e->subject, "POS_FILLS_SUBJECT=fills.%s.>", acct);
    snprintf(e->durable, sizeof e->durable, "POS_DURABLE=pm-%s", acct);
    e->extra[0] = e->subject;
    e->extra[1] = e->durable;
    e->extra[2] = "POS_ACK_WAIT_MS=2000";
    e->extra[3] = "POS_MARKS=false";
    e->extra[4] = NULL;
}

/* Removes a run's durable once its workers are gone, so test runs do not
 * pile up consumers on FILLS. */
static void drop_durable(const char *acct) {
    char durable[96];
    snprintf(durable, sizeof durable, "pm-%s", acct);
    jsErrCode jerr = 0;
    natsStatus s = js_DeleteConsumer(bus_conn_js(conn), BUS_STREAM_FILLS, durable, NULL, &jerr);
    ck_assert_msg(s == NATS_OK, "delete consumer %s: %s", durable, natsStatus_GetText(s));
}

static void stop(pid_t pid) {
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    ck_assert_int_eq(tb_test_wait_exit(pid, 30000), 0);
}

/* Compares the account's rows with the reference, exactly. */
static void assert_matches(const char *acct, const reference *ref, int nsym) {
    char msg[1024];
    ck_assert_msg(tb_check_exactness(pg, acct, msg, sizeof msg), "%s: %s", acct, msg);
    for (int s = 0; s < nsym; s++) {
        const char *p[2] = {acct, symbols[s]};
        PGresult *r = PQexecParams(pg,
                                   "SELECT qty, cost_basis, realized_pnl, fees, avg_cost "
                                   "FROM positions WHERE account = $1 AND symbol = $2",
                                   2, NULL, p, NULL, NULL, 0);
        ck_assert_int_eq(PQntuples(r), 1);
        tb_fixed v[5];
        for (int c = 0; c < 5; c++) v[c] = pt_fx(PQgetvalue(r, 0, c));
        PQclear(r);
        tb_fixed want_avg;
        ck_assert_int_eq(pos_avg_cost(&ref->pos[s], &want_avg), TB_OK);
        ck_assert_msg(v[0] == ref->pos[s].qty && v[1] == ref->pos[s].cost &&
                          v[2] == ref->pos[s].realized && v[3] == ref->fees[s] && v[4] == want_avg,
                      "%s/%s differs from the reference fold", acct, symbols[s]);
    }
    const char *p[1] = {acct};
    PGresult *r =
        PQexecParams(pg, "SELECT cash FROM accounts WHERE id = $1", 1, NULL, p, NULL, NULL, 0);
    ck_assert_int_eq(pt_fx(PQgetvalue(r, 0, 0)), ref->cash);
    PQclear(r);
}

/* A worker's tb_pos_fills_total for one outcome (0 when absent). */
static long outcome(const char *instance, const char *what) {
    char series[192];
    snprintf(series, sizeof series,
             "tb_pos_fills_total{service=\"position-management\",instance=\"%s\",outcome=\"%s\"}",
             instance, what);
    long v = pt_metric(conn, instance, series);
    return v > 0 ? v : 0;
}

static long applied(const char *acct) {
    return pt_count(pg, "SELECT count(*) FROM applied_fills WHERE account = $1", acct);
}

START_TEST(three_workers_equal_one) {
    enum { N = 400, NS = 4 };
    char one[40], three[40], inst[3][64];
    snprintf(one, sizeof one, "%s1", prefix);
    snprintf(three, sizeof three, "%s3", prefix);
    reference ref1, ref3;

    /* One worker. */
    run_env e1;
    run_env_init(&e1, one);
    snprintf(inst[0], sizeof inst[0], "pm1-%s", prefix);
    pid_t w = pt_spawn(inst[0], e1.extra);
    pt_wait_ready(conn, inst[0]);
    make_account(one, "100000");
    record_and_publish(one, N, NS, "100000", &ref1);
    ck_assert_msg(pt_wait_applied(pg, one, N, 120000), "1 worker: %ld of %d applied", applied(one),
                  N);
    long reordered1 = pt_metric(conn, inst[0], "tb_pos_fills_reordered_total");
    stop(w);

    /* Three workers, same fills (ids differ only in the account prefix). */
    run_env e3;
    run_env_init(&e3, three);
    pid_t ws[3];
    for (int i = 0; i < 3; i++) {
        snprintf(inst[i], sizeof inst[i], "pm3%d-%s", i, prefix);
        ws[i] = pt_spawn(inst[i], e3.extra);
    }
    for (int i = 0; i < 3; i++) pt_wait_ready(conn, inst[i]);
    make_account(three, "100000");
    record_and_publish(three, N, NS, "100000", &ref3);
    ck_assert_msg(pt_wait_applied(pg, three, N, 120000), "3 workers: %ld of %d applied",
                  applied(three), N);
    long reordered3 = 0, per[3];
    for (int i = 0; i < 3; i++) {
        per[i] = outcome(inst[i], "applied");
        long r = pt_metric(conn, inst[i], "tb_pos_fills_reordered_total");
        reordered3 += r > 0 ? r : 0;
    }
    for (int i = 0; i < 3; i++) stop(ws[i]);
    drop_durable(one);
    drop_durable(three);

    assert_matches(one, &ref1, NS);
    assert_matches(three, &ref3, NS);
    /* And the two runs agree row for row (the reference is the same fold). */
    const char *p[2] = {one, three};
    PGresult *r = PQexecParams(
        pg,
        "SELECT count(*) FILTER (WHERE (a.qty, a.cost_basis, a.avg_cost, a.realized_pnl, a.fees) "
        "IS NOT DISTINCT FROM (b.qty, b.cost_basis, b.avg_cost, b.realized_pnl, b.fees)), "
        "(SELECT cash FROM accounts WHERE id = $1) = (SELECT cash FROM accounts WHERE id = $2) "
        "FROM positions a JOIN positions b ON b.symbol = a.symbol "
        "WHERE a.account = $1 AND b.account = $2",
        2, NULL, p, NULL, NULL, 0);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "4");
    ck_assert_str_eq(PQgetvalue(r, 0, 1), "t");
    PQclear(r);
    printf("pos scale: %d fills on %d symbols; 1 worker reordered %ld; 3 workers applied "
           "%ld/%ld/%ld and reordered %ld; positions and cash identical and exact\n",
           N, NS, reordered1, per[0], per[1], per[2], reordered3);
}
END_TEST

START_TEST(kill9_mid_stream_applies_every_fill_once) {
    enum { N = 2000 };
    char acct[40], inst[3][64];
    snprintf(acct, sizeof acct, "%sK", prefix);
    run_env e;
    run_env_init(&e, acct);
    snprintf(inst[0], sizeof inst[0], "pmk1-%s", prefix);
    snprintf(inst[1], sizeof inst[1], "pmk2-%s", prefix);
    snprintf(inst[2], sizeof inst[2], "pmk1r-%s", prefix);
    /* The account first (any copy answers), then every fill, then the workers. */
    pid_t w2 = pt_spawn(inst[1], e.extra);
    pt_wait_ready(conn, inst[1]);
    make_account(acct, "1000000");
    stop(w2);
    reference ref;
    record_and_publish(acct, N, NSYM, "1000000", &ref);

    pid_t w1 = pt_spawn(inst[0], e.extra);
    w2 = pt_spawn(inst[1], e.extra);
    ck_assert_msg(pt_wait_applied(pg, acct, N * 3 / 10, 120000), "no progress: %ld applied",
                  applied(acct));
    ck_assert_int_eq(kill(w1, SIGKILL), 0);
    ck_assert_int_eq(tb_test_wait_exit(w1, 10000), 128 + SIGKILL);
    long at_kill = applied(acct);
    ck_assert_int_lt(at_kill, N); /* really mid-stream */

    pid_t w1r = pt_spawn(inst[2], e.extra);
    pt_wait_ready(conn, inst[2]);
    ck_assert_msg(pt_wait_applied(pg, acct, N, 180000), "after restart only %ld of %d applied",
                  applied(acct), N);
    /* Let the killed worker's unacked messages come back (ack wait 2 s) and
     * be recognised as applied. */
    usleep(4000000);
    long dup = outcome(inst[1], "duplicate") + outcome(inst[2], "duplicate");
    stop(w2);
    stop(w1r);
    drop_durable(acct);

    /* Redelivery of everything: a new consumer replays the account's 2,000
     * messages from the stream to a fresh worker; all are already applied. */
    char replay[48], inst_replay[64];
    snprintf(replay, sizeof replay, "%sR", acct);
    snprintf(inst_replay, sizeof inst_replay, "pmr-%s", prefix);
    run_env er;
    run_env_init(&er, acct);
    snprintf(er.durable, sizeof er.durable, "POS_DURABLE=pm-%s", replay);
    pid_t wr = pt_spawn(inst_replay, er.extra);
    pt_wait_ready(conn, inst_replay);
    int64_t end = bus_mono_ns() + INT64_C(120000000000);
    long replayed = 0;
    while ((replayed = outcome(inst_replay, "duplicate")) < N && bus_mono_ns() < end) usleep(50000);
    long replay_applied = outcome(inst_replay, "applied");
    stop(wr);
    drop_durable(replay);
    ck_assert_int_eq(replayed, N);
    ck_assert_int_eq(replay_applied, 0);

    long total_applied = applied(acct);
    long recorded = pt_count(pg, "SELECT count(*) FROM fills WHERE account = $1", acct);
    ck_assert_int_eq(total_applied, N);
    ck_assert_int_eq(recorded, N);
    assert_matches(acct, &ref, NSYM);
    tb_exactness_counts k;
    char msg[1024];
    ck_assert_msg(tb_check_exactness_counts(pg, acct, msg, sizeof msg, &k), "%s", msg);
    printf("pos kill -9: %d fills published, %ld applied when a worker was killed, %ld applied "
           "after restart (each once), %ld redeliveries skipped as already applied; full replay to "
           "a new consumer: %ld skipped, %ld applied; %s\n",
           N, at_kill, total_applied, dup, replayed, replay_applied, msg);
}
END_TEST

int main(void) {
    Suite *s = suite_create("pos_scale");
    TCase *tc = tcase_create("scale");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 500);
    tcase_add_test(tc, three_workers_equal_one);
    tcase_add_test(tc, kill9_mid_stream_applies_every_fill_once);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
