/* A full-speed replay loses nothing when tick consumer workers are killed
 * with -9 in the middle of it (DESIGN.md §3, §4). market-data replays
 * N_TICKS ticks over N_SYM fresh symbols to 2 historical-data and 2
 * signal-processing workers; once about a third of the ticks were finished
 * one worker of each is killed. The ticks queued in them, and the ticks of
 * their partitions until their membership expires, are lost on core NATS;
 * the replay's resends bring them back (one as soon as the survivors report
 * the expiry, while the lost ticks are still among the ring's) and every
 * consumer is idempotent, so in the end:
 *   - every symbol's 1 s bars count exactly the file's ticks of that symbol
 *     (none missing, none counted twice);
 *   - every strategy's state reached the symbol's last seq without skipping
 *     a gap.
 * market-data runs with its defaults (window 20000, stall 5000 ms, 3 resend
 * rounds). signal-processing waits SP_ORDER_WAIT_MS for a lost predecessor
 * before it skips the gap (then a resent tick comes too late and is stale);
 * the test lets it wait longer than a resend takes to come (the membership
 * expiry, MD_REPLAY_STALL_MS, the resend itself). */
#include <libpq-fe.h>
#include <nats/nats.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_flow.h"
#include "tb_services.h"
#include "tb_test.h"

#define N_TICKS      60000
#define N_SYM        4
#define WORKERS      2
#define DONE_MS      60000 /* the replay's end, kills and resends included */
#define SETTLE_MS    15000 /* after it: bars and strategy states complete */
#define MAX_CHILDREN 8
#define ACCOUNT      "replay-kill-test"

static const char *const sym_suffix[N_SYM] = {"A", "B", "C", "D"};

static bus_config cfg;
static bus_conn *conn;
static PGconn *pg;
static bus_redis_pool *redis;
static char tag[40], log_path[512], csv[600];
static pid_t children[MAX_CHILDREN];
static char child_inst[MAX_CHILDREN][96];
static int nchildren;

static void setup(void) {
    tb_test_config(&cfg, "replay-kill-test");
    conn = tb_test_conn(&cfg);
    pg = PQconnectdb(cfg.database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    tb_error err = {0};
    ck_assert_msg(bus_redis_pool_create(cfg.redis_url, &redis, &err) == TB_OK, "%s", err.message);
    tb_test_unique(tag, sizeof tag, "RK");
    const char *bd = getenv("TB_BINARY_DIR");
    snprintf(log_path, sizeof log_path, "%s/test_replay_kill.log", bd ? bd : "/tmp");
    snprintf(csv, sizeof csv, "%s.%s.csv", log_path, tag);
}

/* SIGTERM to every child still running (a killed one is reaped at once),
 * then a bounded wait; also after a failed assertion, so no stray worker
 * keeps a partition of a later test. */
static void stop_children(void) {
    for (int i = 0; i < nchildren; i++)
        if (children[i] > 0) kill(children[i], SIGTERM);
    for (int i = 0; i < nchildren; i++)
        if (children[i] > 0) (void)tb_test_wait_exit(children[i], 20000);
    nchildren = 0;
}

static void teardown(void) {
    stop_children();
    unlink(csv);
    bus_redis_pool_destroy(redis);
    PQfinish(pg);
    bus_conn_close(conn);
}

static int spawn(const char *service, int k, const char *extra) {
    ck_assert_int_lt(nchildren, MAX_CHILDREN);
    int i = nchildren;
    snprintf(child_inst[i], sizeof child_inst[i], "%s-%.6s-%d", tag, service, k);
    children[nchildren++] = tb_service_spawn(service, child_inst[i], extra, log_path);
    return i;
}

static void wait_instances(const char *service, int want) {
    ck_assert_msg(tb_service_wait(conn, service, tag, want, 30000),
                  "%s: %d of %d instances up (see %s)", service,
                  tb_service_count(conn, service, tag), want, log_path);
}

/* N_SYM symbols round-robin, one tick a second, each on its own walk. */
static void write_ticks(long long per_symbol[N_SYM]) {
    FILE *f = fopen(csv, "w");
    ck_assert_msg(f != NULL, "cannot write %s", csv);
    fprintf(f, "ts,symbol,bid,ask,last,size\n");
    uint64_t x = 11;
    long long cents[N_SYM] = {1600000, 1100000, 740000, 760000};
    for (int i = 0; i < N_TICKS; i++) {
        int k = i % N_SYM;
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        cents[k] += (long long)((x >> 33) % 41) - 20;
        long long c = cents[k];
        fprintf(f, "%lld000000000,%s%s,%lld.%02lld,%lld.%02lld,%lld.%02lld,%d\n", 1700000000LL + i,
                tag, sym_suffix[k], (c - 50) / 100, (c - 50) % 100, (c + 50) / 100, (c + 50) % 100,
                c / 100, c % 100, 1 + i % 10);
        per_symbol[k]++;
    }
    ck_assert_int_eq(fclose(f), 0);
}

static PGresult *sql(const char *q, int n, const char *const *params) {
    PGresult *r = PQexecParams(pg, q, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    ck_assert_msg(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", q, PQerrorMessage(pg));
    return r;
}

static void create_strategies(void) {
    const char *acct[] = {ACCOUNT};
    PQclear(sql("INSERT INTO accounts (id, name) VALUES ($1, 'replay kill test')"
                " ON CONFLICT DO NOTHING",
                1, acct));
    for (int k = 0; k < N_SYM; k++) {
        tb_strategy st = {0}, out;
        snprintf(st.strategy_id, sizeof st.strategy_id, "%s-%s", tag, sym_suffix[k]);
        snprintf(st.kind, sizeof st.kind, "sma_cross");
        snprintf(st.symbol, sizeof st.symbol, "%s%s", tag, sym_suffix[k]);
        snprintf(st.account, sizeof st.account, ACCOUNT);
        snprintf(st.params, sizeof st.params, "{\"fast\":10,\"slow\":40}");
        snprintf(st.sizing, sizeof st.sizing, "fixed");
        st.qty = TB_FIXED_SCALE;
        st.enabled = true;
        tb_error err = {0};
        ck_assert_msg(bus_request(conn, "api.strategies.create", &tb_strategy_desc, &st,
                                  &tb_strategy_desc, &out, 5000, NULL, &err) == TB_OK,
                      "create strategy: %s", err.message);
    }
}

/* ---- what the subscriptions saw; only the main thread touches it ---- */

typedef struct progress {
    natsSubscription *flow, *status;
    tb_flow_tally tally;
    bool done;
    char state[TB_TOKEN_CAP], message[TB_TEXT_CAP];
    uint64_t ticks;
} progress;

static void pump(progress *p) {
    natsMsg *m = NULL;
    while (natsSubscription_NextMsg(&m, p->flow, 1) == NATS_OK) {
        tb_flow_tally_add(&p->tally, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), tag);
        natsMsg_Destroy(m);
    }
    while (natsSubscription_NextMsg(&m, p->status, 1) == NATS_OK) {
        tb_md_status s;
        if (tb_decode(&tb_md_status_desc, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &s,
                      NULL) == TB_OK) {
            p->ticks = s.ticks;
            if (strcmp(s.state, "running") != 0) {
                p->done = true;
                snprintf(p->state, sizeof p->state, "%s", s.state);
                snprintf(p->message, sizeof p->message, "%s", s.message);
            }
        }
        natsMsg_Destroy(m);
    }
}

/* The service's instance that finished the most ticks (one that owns
 * symbols, so killing it loses some), as a child index; -1 when none yet. */
static int busiest(const progress *p, const char *service, uint64_t *handled) {
    int best = -1;
    *handled = 0;
    for (int i = 0; i < p->tally.ninst; i++) {
        if (strcmp(p->tally.inst[i].service, service) != 0 || p->tally.inst[i].handled <= *handled)
            continue;
        for (int c = 0; c < nchildren; c++)
            if (strcmp(child_inst[c], p->tally.inst[i].instance) == 0) best = c;
        *handled = p->tally.inst[i].handled;
    }
    return best;
}

static uint64_t finished(const progress *p, const char *service) {
    return tb_flow_finished(&p->tally, service, NULL);
}

/* ---- the checks ---- */

/* Sum of ticks over the symbol's 1 s bars, and how many bars. */
static long long bar_ticks(const char *sym, long long *bars) {
    const char *params[] = {sym};
    PGresult *r = sql("SELECT coalesce(sum(ticks), 0), count(*) FROM bars"
                      " WHERE symbol = $1 AND interval = '1s'",
                      1, params);
    long long n = atoll(PQgetvalue(r, 0, 0));
    *bars = atoll(PQgetvalue(r, 0, 1));
    PQclear(r);
    return n;
}

/* seq of the strategy's state for the symbol, 0 when it has none. */
static long long sp_seq(const char *strategy_id, const char *sym) {
    tb_error err = {0};
    redisContext *r = bus_redis_acquire(redis, &err);
    ck_assert_msg(r != NULL, "%s", err.message);
    redisReply *rep = NULL;
    tb_status s = bus_redis_cmd(r, &rep, &err, "HGET tb:sp:state:%s:%s seq", strategy_id, sym);
    long long seq = 0;
    if (s == TB_OK && rep->type == REDIS_REPLY_STRING) seq = atoll(rep->str);
    if (s == TB_OK) freeReplyObject(rep);
    bus_redis_release(redis, r);
    ck_assert_msg(s == TB_OK, "HGET: %s", err.message);
    return seq;
}

typedef struct outcome {
    long long bars_ticks[N_SYM], bars[N_SYM], seq[N_SYM];
} outcome;

static bool complete(outcome *o, const long long want[N_SYM]) {
    bool all = true;
    for (int k = 0; k < N_SYM; k++) {
        char sym[64], sid[80];
        snprintf(sym, sizeof sym, "%s%s", tag, sym_suffix[k]);
        snprintf(sid, sizeof sid, "%s-%s", tag, sym_suffix[k]);
        o->bars_ticks[k] = bar_ticks(sym, &o->bars[k]);
        o->seq[k] = sp_seq(sid, sym);
        all = all && o->bars_ticks[k] >= want[k] && o->seq[k] >= want[k];
    }
    return all;
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

static double instance_metric(int child, const char *service, const char *name) {
    char subject[200];
    snprintf(subject, sizeof subject, "svc.%s.%s.metrics", service, child_inst[child]);
    bus_bytes rb;
    tb_error err = {0};
    ck_assert_msg(bus_request_bytes(conn, subject, "", 0, NULL, 5000, NULL, &rb, &err) == TB_OK,
                  "%s: %s", subject, err.message);
    double v = metric_sum(rb.data, name);
    bus_bytes_free(&rb);
    return v;
}

START_TEST(kill_9_mid_replay_loses_nothing) {
    long long want[N_SYM] = {0};
    write_ticks(want);

    progress p = {0};
    natsConnection *nc = bus_conn_nats(conn);
    char subject[128];
    ck_assert_int_eq(natsConnection_SubscribeSync(&p.flow, nc, "bus.flow.>"), NATS_OK);
    snprintf(subject, sizeof subject, "md.status.%s", tag);
    ck_assert_int_eq(natsConnection_SubscribeSync(&p.status, nc, subject), NATS_OK);
    /* Flow reports must not be dropped as slow-consumer overflow. */
    ck_assert_int_eq(natsSubscription_SetPendingLimits(p.flow, -1, -1), NATS_OK);

    int md = spawn("market-data", 0, "MD_MODE=off");
    int sp[WORKERS];
    for (int k = 0; k < WORKERS; k++) {
        (void)spawn("historical-data", k, NULL);
        sp[k] = spawn("signal-processing", k, "SP_ORDER_WAIT_MS=30000");
    }
    wait_instances("market-data", 1);
    wait_instances("historical-data", WORKERS);
    wait_instances("signal-processing", WORKERS);
    create_strategies();

    int64_t t0 = tb_replay_start(conn, csv, "ticks", tag, 0);

    /* A third of the ticks finished by both services: kill the busiest
     * worker of each. */
    int64_t end = t0 + (int64_t)DONE_MS * 1000000;
    uint64_t h_hist = 0, h_sp = 0;
    int victim_hist = -1, victim_sp = -1;
    while (bus_mono_ns() < end && !p.done) {
        pump(&p);
        if (finished(&p, "historical-data") >= N_TICKS / 3 &&
            finished(&p, "signal-processing") >= N_TICKS / 3)
            break;
        usleep(2000);
    }
    ck_assert_msg(!p.done, "the replay ended (%s) before a third of its ticks were finished",
                  p.state);
    ck_assert_msg(bus_mono_ns() < end, "a third of the ticks not finished in %d ms (see %s)",
                  DONE_MS, log_path);
    victim_hist = busiest(&p, "historical-data", &h_hist);
    victim_sp = busiest(&p, "signal-processing", &h_sp);
    ck_assert_int_ge(victim_hist, 0);
    ck_assert_int_ge(victim_sp, 0);
    ck_assert_int_eq(kill(children[victim_hist], SIGKILL), 0);
    ck_assert_int_eq(kill(children[victim_sp], SIGKILL), 0);
    ck_assert_int_eq(tb_test_wait_exit(children[victim_hist], 5000), 128 + SIGKILL);
    ck_assert_int_eq(tb_test_wait_exit(children[victim_sp], 5000), 128 + SIGKILL);
    children[victim_hist] = children[victim_sp] = 0;
    double t_kill = (double)(bus_mono_ns() - t0) / 1e9;

    while (bus_mono_ns() < end && !p.done) {
        pump(&p);
        usleep(20000);
    }
    ck_assert_msg(p.done, "the replay did not end in %d ms (%llu ticks out; see %s)", DONE_MS,
                  (unsigned long long)p.ticks, log_path);
    ck_assert_msg(strcmp(p.state, "done") == 0, "the replay ended %s: %s", p.state, p.message);
    ck_assert_uint_eq(p.ticks, N_TICKS);
    double t_done = (double)(bus_mono_ns() - t0) / 1e9;

    outcome o;
    int64_t settle_end = bus_mono_ns() + (int64_t)SETTLE_MS * 1000000;
    bool all;
    while (!(all = complete(&o, want)) && bus_mono_ns() < settle_end) usleep(100000);
    /* Complete; a moment more shows that nothing counts a tick twice late. */
    usleep(500000);
    (void)complete(&o, want);
    double t_settled = (double)(bus_mono_ns() - t0) / 1e9;

    double resent = instance_metric(md, "market-data", "tb_replay_resent_ticks_total");
    double gaps = 0, stale = 0;
    for (int k = 0; k < WORKERS; k++) {
        if (children[sp[k]] == 0) continue;
        gaps += instance_metric(sp[k], "signal-processing", "tb_tick_gaps_total");
        stale += instance_metric(sp[k], "signal-processing", "tb_sp_ticks_stale_total");
    }
    char counts[512] = "";
    for (int k = 0; k < N_SYM; k++) {
        size_t len = strlen(counts);
        snprintf(counts + len, sizeof counts - len,
                 " %s: %lld ticks, bars %lld (%lld 1s bars), seq %lld;", sym_suffix[k], want[k],
                 o.bars_ticks[k], o.bars[k], o.seq[k]);
    }
    printf("replay kill: killed %s (%llu finished) and %s (%llu) at %.1f s; done at %.1f s, "
           "settled at %.1f s; %.0f ticks resent; signal-processing: %.0f gaps skipped, %.0f "
           "stale;%s\n",
           child_inst[victim_hist], (unsigned long long)h_hist, child_inst[victim_sp],
           (unsigned long long)h_sp, t_kill, t_done, t_settled, resent, gaps, stale, counts);
    for (int k = 0; k < N_SYM; k++) {
        ck_assert_msg(o.bars_ticks[k] == want[k], "%s%s: 1s bars count %lld ticks, the file %lld",
                      tag, sym_suffix[k], o.bars_ticks[k], want[k]);
        ck_assert_msg(o.seq[k] == want[k], "%s-%s: state at seq %lld, last seq %lld", tag,
                      sym_suffix[k], o.seq[k], want[k]);
    }
    ck_assert_msg(gaps == 0, "signal-processing skipped %.0f gaps", gaps);
    /* Not vacuous: the kills lost ticks and the replay sent them again. */
    ck_assert_msg(resent > 0, "nothing was resent (see %s)", log_path);
    ck_assert(all);
    natsSubscription_Destroy(p.flow);
    natsSubscription_Destroy(p.status);
}
END_TEST

int main(void) {
    Suite *s = suite_create("replay-kill");
    TCase *tc = tcase_create("kill");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, kill_9_mid_replay_loses_nothing);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
