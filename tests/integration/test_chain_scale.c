/* The whole tick chain scaled out (DESIGN.md §4): the same tick file replayed
 * at full speed through every service gives the same bars, signals, orders,
 * fills, positions and cash with 1 worker and with 3 workers of every tick
 * consumer (signal-processing, historical-data, trading-execution,
 * notifications, position-management; market-data and risk-management run
 * once in both runs).
 *
 * Each run has its own account, symbols, strategies and feed source (one tag
 * as their common prefix), so the runs share no bars, sequences, indicator
 * state or positions; the tag is removed from every value before the runs are
 * compared, cell by cell. The chain is settled when market-data announced the
 * end of the feed, every tick consumer reported (bus.flow) every tick as
 * finished, every signal was decided, every order is terminal, every fill is
 * booked and nothing changed for QUIET_MS. */
#include <libpq-fe.h>
#include <nats/nats.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_flow.h"
#include "tb_invariants.h"
#include "tb_services.h"
#include "tb_test.h"

#define N_TICKS  20000
#define N_SYM    4
#define QUIET_MS 1000
/* A run fails when nothing in the chain moved for STALL_MS (it is stuck),
 * however slowly it moves before: a starved machine (the sanitizer pass
 * beside the plain one) only makes it slower. SETTLE_CAP_MS bounds a run
 * that never stops moving without ever settling. */
#define STALL_MS      30000
#define SETTLE_CAP_MS 240000
#define MAX_CHILDREN  32

static const char *const consumers[] = {"signal-processing", "historical-data", "trading-execution",
                                        "notifications", "position-management"};
#define N_CONSUMERS (int)(sizeof consumers / sizeof consumers[0])
static const char *const sym_suffix[N_SYM] = {"A", "B", "C", "D"};

static bus_config cfg;
static bus_conn *conn;
static PGconn *pg;
static char log_path[512];
static pid_t children[MAX_CHILDREN];
static int nchildren;

static void setup(void) {
    tb_test_config(&cfg, "chain-scale-test");
    conn = tb_test_conn(&cfg);
    pg = PQconnectdb(cfg.database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    const char *bd = getenv("TB_BINARY_DIR");
    snprintf(log_path, sizeof log_path, "%s/test_chain_scale.log", bd ? bd : "/tmp");
}

/* SIGTERM to every child still running, then a bounded wait (a child that
 * does not exit in time is killed by tb_test_wait_exit). Also runs after a
 * failed assertion: stray workers would take the shared durables and queue
 * groups of later tests. */
static void stop_children(int *bad_exits) {
    for (int i = 0; i < nchildren; i++) kill(children[i], SIGTERM);
    for (int i = 0; i < nchildren; i++)
        if (tb_test_wait_exit(children[i], 20000) != 0 && bad_exits) (*bad_exits)++;
    nchildren = 0;
}

static void clear_snapshots(void);

static void teardown(void) {
    stop_children(NULL);
    clear_snapshots();
    PQfinish(pg);
    bus_conn_close(conn);
}

/* One child; INSTANCE_ID carries the run's tag so that $SRV replies and flow
 * reports of this run's instances are told apart from any other's. */
static void spawn(const char *service, const char *tag, int k, const char *extra) {
    char inst[96];
    snprintf(inst, sizeof inst, "%s-%.6s-%d", tag, service, k);
    ck_assert_int_lt(nchildren, MAX_CHILDREN);
    children[nchildren++] = tb_service_spawn(service, inst, extra, log_path);
}

static void wait_instances(const char *service, const char *tag, int want) {
    ck_assert_msg(tb_service_wait(conn, service, tag, want, 30000),
                  "%s: %d of %d instances up (see %s)", service,
                  tb_service_count(conn, service, tag), want, log_path);
}

/* ---- the tick file ---- */

/* One file, four symbols round-robin, one tick a second; each symbol on its
 * own random walk from a fixed seed, so both runs replay the same prices. */
static void write_ticks(const char *path, const char *tag) {
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fprintf(f, "ts,symbol,bid,ask,last,size\n");
    uint64_t x = 7;
    long long cents[N_SYM] = {1600000, 1100000, 740000, 760000};
    for (int i = 0; i < N_TICKS; i++) {
        int k = i % N_SYM;
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        cents[k] += (long long)((x >> 33) % 41) - 20; /* -0.20 .. +0.20 */
        long long c = cents[k];
        fprintf(f, "%lld000000000,%s%s,%lld.%02lld,%lld.%02lld,%lld.%02lld,%d\n", 1700000000LL + i,
                tag, sym_suffix[k], (c - 50) / 100, (c - 50) % 100, (c + 50) / 100, (c + 50) % 100,
                c / 100, c % 100, 1 + i % 10);
    }
    ck_assert_int_eq(fclose(f), 0);
}

/* ---- account, limits, strategies ---- */

static void create_account(const char *acct) {
    tb_account a = {0}, out;
    snprintf(a.account, sizeof a.account, "%s", acct);
    snprintf(a.name, sizeof a.name, "chain scale test");
    a.initial_cash = INT64_C(100000000) * TB_FIXED_SCALE;
    tb_error err = {0};
    ck_assert_msg(bus_request(conn, "api.accounts.create", &tb_account_desc, &a, &tb_account_desc,
                              &out, 5000, NULL, &err) == TB_OK,
                  "create account: %s", err.message);
    /* The defaults allow 50 orders/s; a full-speed replay signals faster.
     * Every limit stays checked (they need positions), none can bind. */
    tb_risk_limits l = {0}, lout;
    snprintf(l.account, sizeof l.account, "%s", acct);
    l.max_orders_per_sec = 1000000;
    l.max_open_orders = 1000000;
    l.max_position_qty = 1000000 * TB_FIXED_SCALE;
    l.max_gross_exposure = INT64_C(1000000000) * TB_FIXED_SCALE;
    l.daily_loss_limit = INT64_C(1000000000) * TB_FIXED_SCALE;
    l.max_order_notional = INT64_C(1000000000) * TB_FIXED_SCALE;
    ck_assert_msg(bus_request(conn, "api.risk.limits.set", &tb_risk_limits_desc, &l,
                              &tb_risk_limits_desc, &lout, 5000, NULL, &err) == TB_OK,
                  "set limits: %s", err.message);
    for (int k = 0; k < N_SYM; k++) {
        tb_strategy st = {0}, sout;
        snprintf(st.strategy_id, sizeof st.strategy_id, "%s-%s", acct, sym_suffix[k]);
        snprintf(st.kind, sizeof st.kind, "sma_cross");
        snprintf(st.symbol, sizeof st.symbol, "%s%s", acct, sym_suffix[k]);
        snprintf(st.account, sizeof st.account, "%s", acct);
        snprintf(st.params, sizeof st.params, "{\"fast\":10,\"slow\":40}");
        snprintf(st.sizing, sizeof st.sizing, "fixed");
        st.qty = 2 * TB_FIXED_SCALE;
        st.enabled = true;
        ck_assert_msg(bus_request(conn, "api.strategies.create", &tb_strategy_desc, &st,
                                  &tb_strategy_desc, &sout, 5000, NULL, &err) == TB_OK,
                      "create strategy: %s", err.message);
    }
}

/* ---- progress ---- */

/* What the run's subscriptions saw; only the main thread touches it. */
typedef struct progress {
    natsSubscription *flow, *status, *decisions;
    tb_flow_tally tally;
    bool feed_done;
    uint64_t feed_ticks;
    long long decided;
} progress;

static void pump(progress *p, const char *tag) {
    natsMsg *m = NULL;
    while (natsSubscription_NextMsg(&m, p->flow, 1) == NATS_OK) {
        tb_flow_tally_add(&p->tally, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), tag);
        natsMsg_Destroy(m);
    }
    while (natsSubscription_NextMsg(&m, p->status, 1) == NATS_OK) {
        tb_md_status s;
        if (tb_decode(&tb_md_status_desc, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &s,
                      NULL) == TB_OK &&
            strcmp(s.state, "running") != 0) {
            p->feed_done = true;
            p->feed_ticks = s.ticks;
            ck_assert_msg(strcmp(s.state, "done") == 0, "the replay ended %s: %s", s.state,
                          s.message);
        }
        natsMsg_Destroy(m);
    }
    while (natsSubscription_NextMsg(&m, p->decisions, 1) == NATS_OK) {
        p->decided++;
        natsMsg_Destroy(m);
    }
}

static uint64_t finished(const progress *p, const char *service, int *instances) {
    return tb_flow_finished(&p->tally, service, instances);
}

static PGresult *query(const char *sql, const char *tag) {
    const char *params[] = {tag};
    PGresult *r = PQexecParams(pg, sql, 1, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(pg));
    return r;
}

/* Everything the chain writes for the account, as one row of counts and
 * sums: the chain is quiet when it stays the same. */
#define TOTALS_SQL                                                                                 \
    "SELECT (SELECT count(*) FROM signals WHERE account = $1) || ' ' ||"                           \
    " (SELECT count(*) FROM orders WHERE account = $1) || ' ' ||"                                  \
    " (SELECT count(*) FROM orders WHERE account = $1 AND status NOT IN"                           \
    "   ('filled','canceled','rejected','expired')) || ' ' ||"                                     \
    " (SELECT count(*) FROM fills WHERE account = $1) || ' ' ||"                                   \
    " (SELECT count(*) FROM applied_fills a JOIN fills f USING (fill_id) WHERE f.account = $1)"    \
    " || ' ' || (SELECT cash FROM accounts WHERE id = $1) || ' ' ||"                               \
    " (SELECT coalesce(sum(qty), 0) || ' ' || coalesce(sum(last_price), 0) FROM positions"         \
    "  WHERE account = $1) || ' ' || (SELECT count(*) FROM bars WHERE symbol LIKE $1 || '%')"

typedef struct totals {
    long long signals, orders, open, fills, applied;
    char text[512];
} totals;

static void read_totals(const char *tag, totals *t) {
    PGresult *r = query(TOTALS_SQL, tag);
    snprintf(t->text, sizeof t->text, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    ck_assert_int_eq(sscanf(t->text, "%lld %lld %lld %lld %lld", &t->signals, &t->orders, &t->open,
                            &t->fills, &t->applied),
                     5);
}

/* ---- what is compared ---- */

enum { BARS, SIGNALS, ORDERS, FILLS, POSITIONS, ACCOUNT, N_PARTS };
static const char *const part_name[N_PARTS] = {"bars",  "signals",   "orders",
                                               "fills", "positions", "account"};
/* $1 is the run's tag (account id, and prefix of its symbols and strategy
 * ids), removed from every id so that the runs compare. Orders and fills
 * are keyed by the signal that caused them (order ids are random). */
static const char *const part_sql[N_PARTS] = {
    "SELECT replace(symbol, $1, ''), interval, start, open, high, low, close, volume, ticks"
    " FROM bars WHERE symbol LIKE $1 || '%' ORDER BY 1, 2, 3",
    "SELECT replace(signal_id, $1, ''), replace(strategy_id, $1, ''), side, sizing, qty,"
    " ref_price, tick_seq, ts FROM signals WHERE account = $1 ORDER BY symbol, tick_seq",
    "SELECT replace(o.signal_id, $1, ''), o.side, o.type, o.qty, o.tif, o.status, o.filled_qty,"
    " o.avg_price FROM orders o LEFT JOIN signals s USING (signal_id) WHERE o.account = $1"
    " ORDER BY s.symbol, s.tick_seq, o.signal_id",
    "SELECT replace(o.signal_id, $1, ''), substr(f.fill_id, length(f.order_id) + 2), f.side,"
    " f.qty, f.price, f.fee, f.liquidity, f.ts FROM fills f JOIN orders o USING (order_id)"
    " LEFT JOIN signals s ON s.signal_id = o.signal_id WHERE f.account = $1"
    " ORDER BY s.symbol, s.tick_seq, o.signal_id, length(f.fill_id), f.fill_id",
    "SELECT replace(symbol, $1, ''), qty, avg_cost, realized_pnl, fees, last_price"
    " FROM positions WHERE account = $1 ORDER BY symbol",
    "SELECT initial_cash, cash FROM accounts WHERE id = $1",
};

typedef struct snapshot {
    PGresult *part[N_PARTS];
    double seconds;
} snapshot;

/* File scope so that teardown frees them whatever failed. */
static snapshot one, three;

static void clear_snapshots(void) {
    for (int k = 0; k < N_PARTS; k++) {
        PQclear(one.part[k]);
        PQclear(three.part[k]);
    }
    memset(&one, 0, sizeof one);
    memset(&three, 0, sizeof three);
}

/* Sum of one metric over a Prometheus text page. */
static double metric_sum(const char *page, const char *name) {
    double sum = 0;
    size_t len = strlen(name);
    for (const char *l = page; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, name, len) != 0 || (l[len] != '{' && l[len] != ' ')) continue;
        const char *eol = strchr(l, '\n'), *v = l + len;
        for (const char *q = l + len; *q && q != eol; q++)
            if (*q == ' ') v = q + 1;
        sum += strtod(v, NULL);
    }
    return sum;
}

/* How signal-processing kept the ticks in order, summed over the run's
 * instances: a gap skipped or a stale tick dropped means a strategy missed a
 * tick, which shifts its signals; printed so a difference can be traced. */
static void sp_order_counters(const char *tag, int workers, char *out, size_t cap) {
    static const char *const names[] = {"tb_tick_gaps_total", "tb_sp_ticks_stale_total",
                                        "tb_sp_order_waits_total"};
    double v[3] = {0};
    for (int k = 0; k < workers; k++) {
        char subject[160];
        snprintf(subject, sizeof subject, "svc.signal-processing.%s-signal-%d.metrics", tag, k);
        bus_bytes rb;
        tb_error err = {0};
        ck_assert_msg(bus_request_bytes(conn, subject, "", 0, NULL, 5000, NULL, &rb, &err) == TB_OK,
                      "%s: %s", subject, err.message);
        for (int i = 0; i < 3; i++) v[i] += metric_sum(rb.data, names[i]);
        bus_bytes_free(&rb);
    }
    snprintf(out, cap, "signal-processing: %.0f gaps skipped, %.0f stale ticks dropped, %.0f waits",
             v[0], v[1], v[2]);
}

static bool chain_settled(progress *p, const char *tag, int workers, totals *last,
                          int64_t *quiet_since) {
    pump(p, tag);
    totals t;
    read_totals(tag, &t);
    int64_t now = bus_mono_ns();
    if (strcmp(t.text, last->text) != 0) *quiet_since = now;
    *last = t;
    if (!p->feed_done || p->decided < t.signals || t.open > 0 || t.applied != t.fills) return false;
    for (int c = 0; c < N_CONSUMERS; c++) {
        int inst;
        /* Partitioned consumers spread the 4 symbols over their instances
         * by hashing: an instance may own none of them and report nothing. */
        if (finished(p, consumers[c], &inst) < N_TICKS || inst < 1 || inst > workers) return false;
    }
    return now - *quiet_since >= (int64_t)QUIET_MS * 1000000;
}

/* How far the chain got: ticks announced and finished, signals decided. */
static uint64_t chain_mark(const progress *p) {
    uint64_t mark = p->feed_ticks + (uint64_t)p->decided;
    for (int c = 0; c < N_CONSUMERS; c++) {
        int inst;
        mark += finished(p, consumers[c], &inst);
    }
    return mark;
}

/* One run: start the services, replay, wait until settled, snapshot. */
static void run(int workers, const char *tag, snapshot *out) {
    char csv[600];
    snprintf(csv, sizeof csv, "%s.%s.csv", log_path, tag);
    write_ticks(csv, tag);

    progress p = {0};
    natsConnection *nc = bus_conn_nats(conn);
    char subject[128];
    ck_assert_int_eq(natsConnection_SubscribeSync(&p.flow, nc, "bus.flow.>"), NATS_OK);
    snprintf(subject, sizeof subject, "md.status.%s", tag);
    ck_assert_int_eq(natsConnection_SubscribeSync(&p.status, nc, subject), NATS_OK);
    snprintf(subject, sizeof subject, "risk.decision.%s", tag);
    ck_assert_int_eq(natsConnection_SubscribeSync(&p.decisions, nc, subject), NATS_OK);
    /* Flow reports must not be dropped as slow-consumer overflow. */
    ck_assert_int_eq(natsSubscription_SetPendingLimits(p.flow, -1, -1), NATS_OK);
    ck_assert_int_eq(natsSubscription_SetPendingLimits(p.decisions, -1, -1), NATS_OK);

    spawn("market-data", tag, 0, "MD_MODE=off");
    /* The comparison is of the chain's results: a dependency answering
     * late on a starved machine (the sanitizer pass) must not turn a signal
     * into a fail-closed refusal in one run only. */
    spawn("risk-management", tag, 0, "RISK_DEPENDENCY_TIMEOUT_MS=10000");
    for (int c = 0; c < N_CONSUMERS; c++)
        for (int k = 0; k < workers; k++)
            spawn(consumers[c], tag, k,
                  strcmp(consumers[c], "trading-execution") == 0 ? "EXEC_FEE_BPS=7" : NULL);
    wait_instances("market-data", tag, 1);
    wait_instances("risk-management", tag, 1);
    for (int c = 0; c < N_CONSUMERS; c++) wait_instances(consumers[c], tag, workers);
    create_account(tag);

    int64_t t0 = tb_replay_start(conn, csv, "ticks", tag, 0);

    totals last = {0};
    int64_t quiet_since = bus_mono_ns(), moved_at = quiet_since;
    int64_t cap = t0 + (int64_t)SETTLE_CAP_MS * 1000000;
    uint64_t mark = 0;
    bool settled = false;
    char why[64] = "";
    while (!(settled = chain_settled(&p, tag, workers, &last, &quiet_since))) {
        int64_t now = bus_mono_ns();
        uint64_t m = chain_mark(&p);
        if (m != mark || quiet_since > moved_at) moved_at = now; /* totals changed too */
        mark = m;
        if (now - moved_at > (int64_t)STALL_MS * 1000000) {
            snprintf(why, sizeof why, "nothing moved for %d ms", STALL_MS);
            break;
        }
        if (now > cap) {
            snprintf(why, sizeof why, "not settled within %d ms", SETTLE_CAP_MS);
            break;
        }
        usleep(100000);
    }
    out->seconds = (double)(bus_mono_ns() - t0) / 1e9;
    char per[512] = "";
    for (int c = 0; c < N_CONSUMERS; c++) {
        int inst;
        uint64_t n = finished(&p, consumers[c], &inst);
        size_t len = strlen(per);
        snprintf(per + len, sizeof per - len, " %s %llu/%d", consumers[c], (unsigned long long)n,
                 inst);
    }
    ck_assert_msg(settled,
                  "%d worker(s): the chain did not settle (%s): feed %s (%llu ticks), %lld "
                  "decisions; signals orders open fills applied cash qty marks bars: %s; "
                  "finished ticks/instances:%s (see %s)",
                  workers, why, p.feed_done ? "done" : "running", (unsigned long long)p.feed_ticks,
                  p.decided, last.text, per, log_path);
    ck_assert_int_eq(p.feed_ticks, N_TICKS);
    /* Every instance took part, so the queue groups really split the ticks. */
    for (int i = 0; i < p.tally.ninst; i++)
        ck_assert_msg(p.tally.inst[i].handled > 0, "%s finished no tick", p.tally.inst[i].instance);

    for (int k = 0; k < N_PARTS; k++) out->part[k] = query(part_sql[k], tag);
    char msg[512];
    ck_assert_msg(tb_check_exactness(pg, tag, msg, sizeof msg), "%d worker(s): %s", workers, msg);
    char order_counters[160];
    sp_order_counters(tag, workers, order_counters, sizeof order_counters);
    printf(
        "chain: %d worker(s) per tick consumer: %d ticks settled in %.1f s; %d bars, %d signals, "
        "%d orders, %d fills, %d positions; finished ticks/instances:%s; %s\n",
        workers, N_TICKS, out->seconds, PQntuples(out->part[BARS]), PQntuples(out->part[SIGNALS]),
        PQntuples(out->part[ORDERS]), PQntuples(out->part[FILLS]), PQntuples(out->part[POSITIONS]),
        per, order_counters);

    int bad = 0;
    stop_children(&bad);
    ck_assert_msg(bad == 0, "%d service(s) did not exit cleanly on SIGTERM (see %s)", bad,
                  log_path);
    natsSubscription_Destroy(p.flow);
    natsSubscription_Destroy(p.status);
    natsSubscription_Destroy(p.decisions);
    unlink(csv);
}

static void row_text(const PGresult *r, int row, char *out, size_t cap) {
    out[0] = '\0';
    for (int c = 0; c < PQnfields(r); c++) {
        size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s%s", c ? " | " : "",
                 PQgetisnull(r, row, c) ? "-" : PQgetvalue(r, row, c));
    }
}

/* Cell by cell, every part before failing: the message says how many rows
 * of each part differ and shows the first of them in both versions. */
static void assert_same(void) {
    char msg[4096] = "";
    int parts_differ = 0;
    for (int k = 0; k < N_PARTS; k++) {
        const PGresult *a = one.part[k], *b = three.part[k];
        int na = PQntuples(a), nb = PQntuples(b), n = na < nb ? na : nb, differ = 0;
        char first[1100] = "";
        for (int i = 0; i < n; i++) {
            char ta[512], tb[512];
            row_text(a, i, ta, sizeof ta);
            row_text(b, i, tb, sizeof tb);
            if (strcmp(ta, tb) != 0 && differ++ == 0)
                snprintf(first, sizeof first, "row %d:\n   1 worker:  %s\n   3 workers: %s", i, ta,
                         tb);
        }
        if (differ == 0 && na == nb) continue;
        parts_differ++;
        size_t len = strlen(msg);
        snprintf(msg + len, sizeof msg - len,
                 "\n %s: %d of %d rows differ (%d rows with 3 workers); %s", part_name[k], differ,
                 na, nb, first);
    }
    ck_assert_msg(parts_differ == 0, "1 and 3 workers differ in %d part(s):%s", parts_differ, msg);
}

START_TEST(one_and_three_workers_same_chain_results) {
    char base[40], tag1[48], tag3[48];
    tb_test_unique(base, sizeof base, "CS");
    snprintf(tag1, sizeof tag1, "%sW1", base);
    snprintf(tag3, sizeof tag3, "%sW3", base);
    run(1, tag1, &one);
    run(3, tag3, &three);

    /* Not vacuous: the replay traded on every symbol. 4 symbols x 5000 1 s
     * ticks: 5000 one-second bars each, plus minutes, 5 minutes, hours, days. */
    ck_assert_int_gt(PQntuples(one.part[BARS]), N_TICKS);
    ck_assert_int_gt(PQntuples(one.part[SIGNALS]), 4 * N_SYM);
    ck_assert_int_gt(PQntuples(one.part[FILLS]), 4 * N_SYM);
    ck_assert_int_eq(PQntuples(one.part[POSITIONS]), N_SYM);
    assert_same();
    printf("chain: 1 and 3 workers agree on %d bars, %d signals, %d orders, %d fills, %d "
           "positions and the cash\n",
           PQntuples(one.part[BARS]), PQntuples(one.part[SIGNALS]), PQntuples(one.part[ORDERS]),
           PQntuples(one.part[FILLS]), PQntuples(one.part[POSITIONS]));
}
END_TEST

int main(void) {
    Suite *s = suite_create("chain-scale");
    TCase *tc = tcase_create("chain");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, one_and_three_workers_same_chain_results);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
