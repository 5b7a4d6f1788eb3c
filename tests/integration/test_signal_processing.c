/* signal-processing end to end, with tb-signal-processing as child processes
 * against the local NATS, PostgreSQL and Redis:
 *  - acceptance: the EuStock daily closes replayed at full speed through one
 *    SMA-crossover strategy per index give the same signals (ids, sides,
 *    prices) with 1 and with 3 workers, the same on NATS (sig.>) as in
 *    PostgreSQL, equal to a reference crossover computed here, each carrying
 *    its tick's trace id;
 *  - the strategies API: create/get/list/update/delete, and bad parameters
 *    rejected with the field named and the table unchanged;
 *  - every strategy kind run by 3 workers gives the signals of the pure
 *    strategy code (tb_signal-processing_domain) applied to the same prices;
 *  - ordering: a lost tick is skipped after the bounded wait and counted, a
 *    duplicate tick changes nothing, a disabled strategy stops at once;
 *  - a burst of tens of thousands of ticks over four symbols (batches of
 *    many ticks, consecutive ticks on different workers) gives the signals
 *    of the pure strategy code, exactly once, with 1 and with 3 workers,
 *    and prints the rate (SP_BURST_TICKS sets the size). */
#include <libpq-fe.h>
#include <nats/nats.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "strategy.h"
#include "tb_test.h"
#include "wire.h"

#define MAX_ROWS    8000
#define MAX_SIGNALS 4000
#define N_INDEX     4

static const char *const indices[N_INDEX] = {"DAX", "SMI", "CAC", "FTSE"};

static bus_config cfg;
static bus_conn *conn;
static PGconn *pg;
static bus_redis_pool *redis;
static char account[32], log_path[256];
/* Workers still running; teardown kills them when a test failed midway. */
static pid_t live[16];
static int nlive;

/* ---- fixtures ---- */

static void short_tag(char *out, size_t cap) {
    static unsigned counter;
    snprintf(out, cap, "%06x",
             (unsigned)((getpid() * 7919u + (unsigned)time(NULL) * 31u + ++counter * 104729u) &
                        0xffffff));
}

static PGresult *sql(const char *q, int n, const char *const *params) {
    PGresult *r = PQexecParams(pg, q, n, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s: %s", q, PQerrorMessage(pg));
    return r;
}

static long long sql_count(const char *q, const char *param) {
    const char *params[] = {param};
    PGresult *r = sql(q, param ? 1 : 0, params);
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

static void setup(void) {
    tb_test_config(&cfg, "sp-test");
    conn = tb_test_conn(&cfg);
    pg = PQconnectdb(cfg.database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    tb_error err = {0};
    ck_assert_msg(bus_redis_pool_create(cfg.redis_url, &redis, &err) == TB_OK, "%s", err.message);
    char tag[16];
    short_tag(tag, sizeof tag);
    snprintf(account, sizeof account, "spacct%s", tag);
    const char *params[] = {account};
    PQclear(
        sql("INSERT INTO accounts (id, name) VALUES ($1, 'signal-processing test')", 1, params));
    snprintf(log_path, sizeof log_path, "%s/test_signal_processing-%s.log",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", tag);
}

static void teardown(void) {
    while (nlive > 0) {
        pid_t pid = live[--nlive];
        kill(pid, SIGKILL);
        (void)tb_test_wait_exit(pid, 5000);
    }
    bus_redis_pool_destroy(redis);
    PQfinish(pg);
    bus_conn_close(conn);
}

/* ---- workers ---- */

typedef struct {
    int want;
} ping_arg;

/* Sends a $SRV request to every instance; returns the number of replies and,
 * with ticks_busy, how many instances handled at least one tick. */
static int ask_instances(const char *verb, int *ticks_busy) {
    natsConnection *nc = bus_conn_nats(conn);
    natsInbox *inbox = NULL;
    natsSubscription *sub = NULL;
    char subject[64];
    snprintf(subject, sizeof subject, "$SRV.%s.signal-processing", verb);
    ck_assert_int_eq(natsInbox_Create(&inbox), NATS_OK);
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, nc, inbox), NATS_OK);
    ck_assert_int_eq(natsConnection_PublishRequestString(nc, subject, inbox, ""), NATS_OK);
    int n = 0;
    if (ticks_busy) *ticks_busy = 0;
    natsMsg *m = NULL;
    while (natsSubscription_NextMsg(&m, sub, 300) == NATS_OK) {
        n++;
        json_t *j = ticks_busy
                        ? json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, NULL)
                        : NULL;
        size_t i;
        json_t *ep;
        json_array_foreach(json_object_get(j, "endpoints"), i, ep) {
            const char *name = json_string_value(json_object_get(ep, "name"));
            if (name && strcmp(name, "ticks") == 0 &&
                json_integer_value(json_object_get(ep, "num_requests")) > 0)
                (*ticks_busy)++;
        }
        json_decref(j);
        natsMsg_Destroy(m);
    }
    natsSubscription_Destroy(sub);
    natsInbox_Destroy(inbox);
    return n;
}

static int count_instances(void) {
    return ask_instances("PING", NULL);
}

static bool instances_up(void *arg) {
    return count_instances() == ((ping_arg *)arg)->want;
}

static void start_workers(pid_t *pids, int n, const char *order_wait_ms) {
    char bin[512], wait_env[64];
    tb_test_bin(bin, sizeof bin, "actors/signal-processing/tb-signal-processing");
    snprintf(wait_env, sizeof wait_env, "SP_ORDER_WAIT_MS=%s", order_wait_ms);
    char *argv[] = {bin, NULL};
    char *env[] = {wait_env, "LOG_LEVEL=warn", NULL};
    for (int i = 0; i < n; i++) {
        pids[i] = tb_test_spawn(argv, env, log_path);
        if (nlive < 16) live[nlive++] = pids[i];
    }
    ping_arg a = {n};
    ck_assert_msg(tb_test_wait(instances_up, &a, 20000), "%d workers did not come up (see %s)", n,
                  log_path);
}

static void forget(pid_t pid) {
    for (int i = 0; i < nlive; i++)
        if (live[i] == pid) live[i--] = live[--nlive];
}

static void stop_workers(pid_t *pids, int n) {
    for (int i = 0; i < n; i++) ck_assert_int_eq(kill(pids[i], SIGTERM), 0);
    for (int i = 0; i < n; i++) {
        int rc = tb_test_wait_exit(pids[i], 20000);
        forget(pids[i]);
        ck_assert_msg(rc == 0, "worker %d exited with %d (see %s)", (int)pids[i], rc, log_path);
    }
}

/* ---- API helpers ---- */

static tb_strategy strategy(const char *id, const char *kind, const char *symbol,
                            const char *params) {
    tb_strategy s;
    memset(&s, 0, sizeof s);
    snprintf(s.strategy_id, sizeof s.strategy_id, "%s", id);
    snprintf(s.kind, sizeof s.kind, "%s", kind);
    snprintf(s.symbol, sizeof s.symbol, "%s", symbol);
    snprintf(s.account, sizeof s.account, "%s", account);
    snprintf(s.params, sizeof s.params, "%s", params);
    snprintf(s.sizing, sizeof s.sizing, "fixed");
    s.qty = 10 * TB_FIXED_SCALE;
    s.enabled = true;
    return s;
}

static tb_status call(const char *subject, const tb_event_desc *req_desc, const void *req,
                      tb_strategy *reply, tb_error *err) {
    tb_strategy ignored;
    return bus_request(conn, subject, req_desc, req, &tb_strategy_desc, reply ? reply : &ignored,
                       10000, NULL, err);
}

static void create_ok(const tb_strategy *s) {
    tb_error err = {0};
    tb_strategy got;
    ck_assert_msg(call("api.strategies.create", &tb_strategy_desc, s, &got, &err) == TB_OK,
                  "create %s: %s", s->strategy_id, err.message);
    ck_assert_str_eq(got.strategy_id, s->strategy_id);
}

/* ---- ticks and signals ---- */

typedef struct series {
    char symbol[TB_TOKEN_CAP];
    size_t n;
    tb_fixed close[MAX_ROWS / N_INDEX + 1];
    int64_t ts[MAX_ROWS / N_INDEX + 1];
} series;

static series data[N_INDEX];

static void load_eustock(void) {
    char path[512];
    const char *src = getenv("TB_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/data/eustock_daily.csv", src ? src : ".");
    FILE *f = fopen(path, "r");
    if (f == NULL) f = fopen("/work/shared/data/eustock_daily.csv", "r");
    ck_assert_msg(f != NULL, "eustock_daily.csv not found (%s)", path);
    char line[256];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f)); /* header */
    memset(data, 0, sizeof data);
    while (fgets(line, sizeof line, f)) {
        char date[32], sym[16], close[32];
        ck_assert_int_eq(sscanf(line, "%31[^,],%15[^,],%31s", date, sym, close), 3);
        int k = -1;
        for (int i = 0; i < N_INDEX; i++)
            if (strcmp(sym, indices[i]) == 0) k = i;
        ck_assert_int_ge(k, 0);
        series *s = &data[k];
        ck_assert_uint_lt(s->n, sizeof s->close / sizeof s->close[0]);
        char iso[48];
        snprintf(iso, sizeof iso, "%sT16:00:00Z", date);
        ck_assert_int_eq(tb_ts_parse(iso, &s->ts[s->n]), TB_OK);
        ck_assert_int_eq(tb_fixed_parse_cstr(close, &s->close[s->n]), TB_OK);
        s->n++;
    }
    fclose(f);
    for (int i = 0; i < N_INDEX; i++) ck_assert_uint_gt(data[i].n, 1000);
}

static void publish_tick(const char *symbol, uint64_t seq, int64_t ts, tb_fixed last) {
    tb_tick t;
    memset(&t, 0, sizeof t);
    snprintf(t.symbol, sizeof t.symbol, "%s", symbol);
    t.seq = seq;
    t.ts = ts;
    t.last = last;
    snprintf(t.source, sizeof t.source, "replay:eustock");
    char subject[96], trace[96];
    snprintf(subject, sizeof subject, "md.tick.%s", symbol);
    snprintf(trace, sizeof trace, "tr-%s-%llu", symbol, (unsigned long long)seq);
    bus_msg_meta meta = {.trace_id = trace};
    ck_assert_int_eq(bus_publish(conn, subject, &tb_tick_desc, &t, &meta), TB_OK);
}

/* A signal reduced to what must agree across runs: "<index>|<seq>|<side>|<price>". */
typedef struct sig_set {
    size_t n;
    char items[MAX_SIGNALS][64];
} sig_set;

static int cmp_str(const void *a, const void *b) {
    return strcmp(a, b);
}

static void sigset_add(sig_set *s, const char *index, uint64_t seq, const char *side,
                       tb_fixed price) {
    ck_assert_uint_lt(s->n, MAX_SIGNALS);
    char p[TB_FIXED_STRLEN];
    tb_fixed_format(price, p);
    snprintf(s->items[s->n++], sizeof s->items[0], "%s|%06llu|%s|%s", index,
             (unsigned long long)seq, side, p);
}

static void sigset_sort(sig_set *s) {
    qsort(s->items, s->n, sizeof s->items[0], cmp_str);
}

static void sigset_equal(const sig_set *a, const sig_set *b, const char *what) {
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(strcmp(a->items[i], b->items[i]) == 0,
                      "%s: first difference at %zu: %s vs %s", what, i, a->items[i], b->items[i]);
    ck_assert_msg(a->n == b->n, "%s: %zu vs %zu signals", what, a->n, b->n);
}

/* The SMA(fast)/SMA(slow) crossover by the book, in exact integer sums. */
static void reference_signals(int fast, int slow, sig_set *out) {
    out->n = 0;
    for (int k = 0; k < N_INDEX; k++) {
        const series *s = &data[k];
        int last = 0;
        for (size_t i = (size_t)slow - 1; i < s->n; i++) {
            __int128 f = 0, sl = 0;
            for (size_t j = i + 1 - (size_t)fast; j <= i; j++) f += s->close[j];
            for (size_t j = i + 1 - (size_t)slow; j <= i; j++) sl += s->close[j];
            __int128 l = f * slow, r = sl * fast;
            int rel = (l > r) - (l < r);
            if (rel == 0) continue;
            /* A decision goes out with the next tick: none after the last. */
            if (last != 0 && rel != last && i + 1 < s->n)
                sigset_add(out, indices[k], i + 1, rel > 0 ? "buy" : "sell", s->close[i]);
            last = rel;
        }
    }
    sigset_sort(out);
}

static uint64_t state_seq(const char *strategy_id, const char *symbol) {
    tb_error err = {0};
    redisContext *r = bus_redis_acquire(redis, &err);
    ck_assert_ptr_nonnull(r);
    redisReply *rep = NULL;
    ck_assert_int_eq(
        bus_redis_cmd(r, &rep, &err, "HGET tb:sp:state:%s:%s seq", strategy_id, symbol), TB_OK);
    uint64_t v = rep->type == REDIS_REPLY_STRING ? strtoull(rep->str, NULL, 10) : 0;
    freeReplyObject(rep);
    bus_redis_release(redis, r);
    return v;
}

typedef struct replay_run {
    char tag[16];
    char ids[N_INDEX][TB_TOKEN_CAP], symbols[N_INDEX][TB_TOKEN_CAP];
} replay_run;

static bool replay_done(void *arg) {
    replay_run *run = arg;
    for (int k = 0; k < N_INDEX; k++)
        if (state_seq(run->ids[k], run->symbols[k]) != data[k].n) return false;
    return true;
}

/* Reads every signal of this run from NATS until quiet and from PostgreSQL. */
static void collect(natsSubscription *sub, const replay_run *run, sig_set *from_nats,
                    sig_set *from_pg) {
    from_nats->n = 0;
    natsMsg *m = NULL;
    while (natsSubscription_NextMsg(&m, sub, 1500) == NATS_OK) {
        tb_signal sig;
        tb_error err = {0};
        ck_assert_int_eq(tb_decode(&tb_signal_desc, natsMsg_GetData(m),
                                   (size_t)natsMsg_GetDataLength(m), &sig, &err),
                         TB_OK);
        int k = -1;
        for (int i = 0; i < N_INDEX; i++)
            if (strcmp(sig.strategy_id, run->ids[i]) == 0) k = i;
        if (k < 0) { /* another run's leftovers */
            natsMsg_Destroy(m);
            continue;
        }
        char want_id[160], want_subject[160], want_trace[160];
        snprintf(want_id, sizeof want_id, "%s-%s-%llu", run->ids[k], run->symbols[k],
                 (unsigned long long)sig.tick_seq);
        ck_assert_str_eq(sig.signal_id, want_id);
        snprintf(want_subject, sizeof want_subject, "sig.%s.%s", run->ids[k], run->symbols[k]);
        ck_assert_str_eq(natsMsg_GetSubject(m), want_subject);
        const char *trace = NULL;
        ck_assert_int_eq(natsMsgHeader_Get(m, BUS_HDR_TRACE, &trace), NATS_OK);
        snprintf(want_trace, sizeof want_trace, "tr-%s-%llu", run->symbols[k],
                 (unsigned long long)sig.tick_seq);
        ck_assert_str_eq(trace, want_trace); /* the tick's trace id follows the signal */
        ck_assert_str_eq(sig.account, account);
        ck_assert_str_eq(sig.sizing, "fixed");
        ck_assert_int_eq(sig.qty, 10 * TB_FIXED_SCALE);
        ck_assert_int_eq(sig.ts, data[k].ts[sig.tick_seq - 1]);
        /* It fills at the next tick: the next close, at its time. */
        ck_assert_uint_lt(sig.tick_seq, data[k].n);
        ck_assert_uint_eq(sig.fill_seq, sig.tick_seq + 1);
        ck_assert_int_eq(sig.fill_price, data[k].close[sig.tick_seq]);
        ck_assert_int_eq(sig.fill_ts, data[k].ts[sig.tick_seq]);
        sigset_add(from_nats, indices[k], sig.tick_seq, sig.side, sig.ref_price);
        natsMsg_Destroy(m);
    }
    sigset_sort(from_nats);
    for (size_t i = 1; i < from_nats->n; i++) /* exactly once on the wire */
        ck_assert_msg(strcmp(from_nats->items[i - 1], from_nats->items[i]) != 0, "duplicate %s",
                      from_nats->items[i]);

    from_pg->n = 0;
    char like[32];
    snprintf(like, sizeof like, "sma-%s-%%", run->tag);
    const char *params[] = {like};
    PGresult *r = sql("SELECT strategy_id, tick_seq, side, ref_price::text FROM signals "
                      "WHERE strategy_id LIKE $1",
                      1, params);
    for (int i = 0; i < PQntuples(r); i++) {
        int k = -1;
        for (int j = 0; j < N_INDEX; j++)
            if (strcmp(PQgetvalue(r, i, 0), run->ids[j]) == 0) k = j;
        ck_assert_int_ge(k, 0);
        tb_fixed price;
        ck_assert_int_eq(tb_fixed_parse_cstr(PQgetvalue(r, i, 3), &price), TB_OK);
        sigset_add(from_pg, indices[k], strtoull(PQgetvalue(r, i, 1), NULL, 10),
                   PQgetvalue(r, i, 2), price);
    }
    PQclear(r);
    sigset_sort(from_pg);
}

/* Replays the EuStock closes through nworkers workers; fills the signal sets. */
static void replay(int nworkers, sig_set *from_nats, sig_set *from_pg) {
    replay_run run;
    short_tag(run.tag, sizeof run.tag);
    pid_t pids[8];
    start_workers(pids, nworkers, "5000");
    for (int k = 0; k < N_INDEX; k++) {
        snprintf(run.ids[k], sizeof run.ids[k], "sma-%s-%s", run.tag, indices[k]);
        snprintf(run.symbols[k], sizeof run.symbols[k], "%s%s", indices[k], run.tag);
        tb_strategy s =
            strategy(run.ids[k], "sma_cross", run.symbols[k], "{\"fast\":10,\"slow\":30}");
        create_ok(&s);
    }
    natsSubscription *sub = NULL;
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, bus_conn_nats(conn), "sig.>"), NATS_OK);
    ck_assert_int_eq(natsSubscription_SetPendingLimits(sub, -1, -1), NATS_OK);
    ck_assert_int_eq(natsConnection_Flush(bus_conn_nats(conn)), NATS_OK);

    int64_t t0 = bus_mono_ns();
    size_t rows = data[0].n;
    for (size_t i = 0; i < rows; i++) /* interleaved by date, as in the file */
        for (int k = 0; k < N_INDEX; k++)
            if (i < data[k].n) publish_tick(run.symbols[k], i + 1, data[k].ts[i], data[k].close[i]);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    ck_assert_msg(tb_test_wait(replay_done, &run, 120000),
                  "replay with %d workers did not finish (see %s)", nworkers, log_path);
    double secs = (double)(bus_mono_ns() - t0) / 1e9;
    collect(sub, &run, from_nats, from_pg);
    natsSubscription_Destroy(sub);
    int busy = 0;
    ck_assert_int_eq(ask_instances("STATS", &busy), nworkers);
    /* Instances split the symbols by hash (bus/partition.c, tested in
     * test_partition): with 4 symbols one instance may well hold them all. */
    ck_assert_int_ge(busy, 1);
    stop_workers(pids, nworkers);
    printf("replay: %d worker(s), %zu ticks in %.2f s, %zu signals\n", nworkers, rows * N_INDEX,
           secs, from_nats->n);
}

START_TEST(eustock_replay_1_and_3_workers_agree) {
    static sig_set ref, nats1, pg1, nats3, pg3;
    load_eustock();
    reference_signals(10, 30, &ref);
    ck_assert_uint_gt(ref.n, 20);
    replay(1, &nats1, &pg1);
    replay(3, &nats3, &pg3);
    sigset_equal(&nats1, &pg1, "1 worker: NATS vs PostgreSQL");
    sigset_equal(&nats3, &pg3, "3 workers: NATS vs PostgreSQL");
    sigset_equal(&ref, &nats1, "reference vs 1 worker");
    sigset_equal(&nats1, &nats3, "1 worker vs 3 workers");
    ck_assert_uint_gt(nats1.n, 0);
}
END_TEST

/* ---- every kind through the service ---- */

typedef struct {
    const char *symbol;
    long long n;
} symbol_count;
static bool symbol_signals_reached(void *arg) {
    symbol_count *c = arg;
    return sql_count("SELECT count(*) FROM signals WHERE symbol = $1", c->symbol) >= c->n;
}

typedef struct kinds_run {
    int n;
    char ids[8][TB_TOKEN_CAP], symbol[TB_TOKEN_CAP];
    size_t ticks;
} kinds_run;

static bool kinds_done(void *arg) {
    kinds_run *run = arg;
    for (int i = 0; i < run->n; i++)
        if (state_seq(run->ids[i], run->symbol) != run->ticks) return false;
    return true;
}

START_TEST(every_kind_matches_the_pure_strategy) {
    static const char *const kinds[][2] = {
        {"sma_cross", "{\"fast\":5,\"slow\":20}"},
        {"ema_cross", "{\"fast\":12,\"slow\":26}"},
        {"rsi", "{\"period\":14,\"lower\":30,\"upper\":70}"},
        {"bollinger", "{\"period\":20,\"k\":2}"},
        {"donchian", "{\"period\":20}"},
    };
    static sig_set want, got;
    load_eustock();
    const series *dax = &data[0];
    kinds_run run = {.n = 5, .ticks = dax->n};
    char tag[16];
    short_tag(tag, sizeof tag);
    snprintf(run.symbol, sizeof run.symbol, "ALL%s", tag);
    pid_t pids[3];
    start_workers(pids, 3, "5000");
    want.n = 0;
    for (int k = 0; k < run.n; k++) {
        snprintf(run.ids[k], sizeof run.ids[k], "k%d-%s", k, tag);
        tb_strategy s = strategy(run.ids[k], kinds[k][0], run.symbol, kinds[k][1]);
        create_ok(&s);
        /* The expectation: the domain library's step over the same prices. */
        sp_params p;
        tb_error err = {0};
        ck_assert_int_eq(sp_params_parse(kinds[k][0], kinds[k][1], &p, &err), TB_OK);
        sp_state *st = malloc(sizeof *st);
        sp_state_init(st, &p, 1);
        size_t before = want.n;
        for (size_t i = 0; i < dax->n; i++) {
            sp_decision d;
            ck_assert_int_eq(sp_step(&p, st, dax->close[i], &d), TB_OK);
            if (d.side != SP_SIDE_NONE && i + 1 < dax->n) /* the last has no next tick */
                sigset_add(&want, kinds[k][0], i + 1, d.side == SP_SIDE_BUY ? "buy" : "sell",
                           dax->close[i]);
        }
        free(st);
        ck_assert_msg(want.n > before, "%s never fires on the DAX series", kinds[k][0]);
    }
    sigset_sort(&want);
    for (size_t i = 0; i < dax->n; i++) publish_tick(run.symbol, i + 1, dax->ts[i], dax->close[i]);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    ck_assert_msg(tb_test_wait(kinds_done, &run, 120000), "ticks not applied (see %s)", log_path);
    /* The last signals are recorded just after their state moved. */
    symbol_count c = {run.symbol, (long long)want.n};
    (void)tb_test_wait(symbol_signals_reached, &c,
                       10000); /* the comparison below reports a shortfall */
    usleep(100000);
    got.n = 0;
    const char *params[] = {run.symbol};
    PGresult *r =
        sql("SELECT strategy_id, tick_seq, side, ref_price::text FROM signals WHERE symbol = $1", 1,
            params);
    for (int i = 0; i < PQntuples(r); i++) {
        int k = PQgetvalue(r, i, 0)[1] - '0';
        ck_assert(k >= 0 && k < run.n);
        tb_fixed price;
        ck_assert_int_eq(tb_fixed_parse_cstr(PQgetvalue(r, i, 3), &price), TB_OK);
        sigset_add(&got, kinds[k][0], strtoull(PQgetvalue(r, i, 1), NULL, 10), PQgetvalue(r, i, 2),
                   price);
    }
    PQclear(r);
    sigset_sort(&got);
    sigset_equal(&want, &got, "pure strategies vs 3 workers");
    printf("every kind: %zu signals over %zu ticks with 3 workers\n", got.n, dax->n);
    stop_workers(pids, 3);
}
END_TEST

/* ---- a burst big enough to form batches ---- */

/* One symbol's burst: a deterministic random walk and the signals the pure
 * strategy code gives on it. */
typedef struct burst_symbol {
    char id[TB_TOKEN_CAP], symbol[TB_TOKEN_CAP];
    tb_fixed *price;
    size_t nwant;
    uint64_t *want_seq; /* ascending */
    char *want_side;    /* 'b' or 's' */
} burst_symbol;

#define BURST_SYMBOLS 4
#define BURST_PARAMS  "{\"fast\":5,\"slow\":20}"

static void burst_prices(burst_symbol *b, size_t n, uint32_t seed) {
    b->price = malloc(n * sizeof *b->price);
    b->want_seq = malloc(n * sizeof *b->want_seq);
    b->want_side = malloc(n);
    ck_assert(b->price && b->want_seq && b->want_side);
    tb_fixed p = 100 * TB_FIXED_SCALE;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p += ((tb_fixed)((seed >> 16) % 201) - 100) * (TB_FIXED_SCALE / 100);
        if (p < TB_FIXED_SCALE) p = TB_FIXED_SCALE;
        b->price[i] = p;
    }
    sp_params params;
    tb_error err = {0};
    ck_assert_int_eq(sp_params_parse("sma_cross", BURST_PARAMS, &params, &err), TB_OK);
    sp_state *st = malloc(sizeof *st);
    sp_state_init(st, &params, 1);
    b->nwant = 0;
    for (size_t i = 0; i < n; i++) {
        sp_decision d;
        ck_assert_int_eq(sp_step(&params, st, b->price[i], &d), TB_OK);
        if (d.side == SP_SIDE_NONE || i + 1 == n) continue; /* the last has no next tick */
        b->want_seq[b->nwant] = i + 1;
        b->want_side[b->nwant++] = d.side == SP_SIDE_BUY ? 'b' : 's';
    }
    free(st);
}

typedef struct burst_run {
    burst_symbol *sym;
    uint64_t upto; /* ticks published per symbol so far */
} burst_run;

static bool burst_caught_up(void *arg) {
    burst_run *run = arg;
    for (int k = 0; k < BURST_SYMBOLS; k++)
        if (state_seq(run->sym[k].id, run->sym[k].symbol) < run->upto) return false;
    return true;
}

static long long burst_recorded(const burst_symbol *b) {
    return sql_count("SELECT count(*) FROM signals WHERE strategy_id = $1", b->id);
}

static bool burst_signals_recorded(void *arg) {
    burst_run *run = arg;
    for (int k = 0; k < BURST_SYMBOLS; k++)
        if (burst_recorded(&run->sym[k]) < (long long)run->sym[k].nwant) return false;
    return true;
}

/* Publishes n ticks per symbol through nworkers workers, at most `window`
 * ticks per symbol ahead of the slowest strategy state; checks the signals
 * in PostgreSQL and on NATS against the pure code; returns ticks/s. */
static double burst(int nworkers, burst_symbol *sym, size_t n, size_t window) {
    char tag[16];
    short_tag(tag, sizeof tag);
    pid_t pids[8];
    start_workers(pids, nworkers, "5000");
    for (int k = 0; k < BURST_SYMBOLS; k++) {
        snprintf(sym[k].id, sizeof sym[k].id, "burst-%s-%d", tag, k);
        snprintf(sym[k].symbol, sizeof sym[k].symbol, "B%d%s", k, tag);
        tb_strategy s = strategy(sym[k].id, "sma_cross", sym[k].symbol, BURST_PARAMS);
        create_ok(&s);
    }
    natsSubscription *sub = NULL;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "sig.burst-%s-", tag);
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, bus_conn_nats(conn), "sig.>"), NATS_OK);
    ck_assert_int_eq(natsSubscription_SetPendingLimits(sub, -1, -1), NATS_OK);
    ck_assert_int_eq(natsConnection_Flush(bus_conn_nats(conn)), NATS_OK);

    burst_run run = {.sym = sym};
    const int64_t ts0 = 1700000000000000000;
    int64_t t0 = bus_mono_ns();
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < BURST_SYMBOLS; k++)
            publish_tick(sym[k].symbol, i + 1, ts0 + (int64_t)i * 1000, sym[k].price[i]);
        if ((i + 1) % window == 0 && i + 1 > window) {
            /* Flow control: core NATS drops what a consumer cannot take. */
            run.upto = i + 1 - window;
            ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
            ck_assert_msg(tb_test_wait(burst_caught_up, &run, 120000),
                          "%d worker(s) stalled below tick %llu (see %s)", nworkers,
                          (unsigned long long)run.upto, log_path);
        }
    }
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    run.upto = n;
    ck_assert_msg(tb_test_wait(burst_caught_up, &run, 120000),
                  "burst with %d worker(s) did not finish (see %s)", nworkers, log_path);
    double rate = (double)(n * BURST_SYMBOLS) / ((double)(bus_mono_ns() - t0) / 1e9);
    printf("burst: %d worker(s), %zu ticks over %d symbols at %.0f ticks/s\n", nworkers,
           n * BURST_SYMBOLS, BURST_SYMBOLS, rate);
    (void)tb_test_wait(burst_signals_recorded, &run, 20000); /* compared below */

    for (int k = 0; k < BURST_SYMBOLS; k++) {
        const char *params[] = {sym[k].id};
        PGresult *r = sql("SELECT tick_seq, side, ref_price::text FROM signals "
                          "WHERE strategy_id = $1 ORDER BY tick_seq",
                          1, params);
        ck_assert_msg((size_t)PQntuples(r) == sym[k].nwant,
                      "%s, %d worker(s): %d signals, want %zu", sym[k].symbol, nworkers,
                      PQntuples(r), sym[k].nwant);
        for (size_t i = 0; i < sym[k].nwant; i++) {
            uint64_t seq = strtoull(PQgetvalue(r, (int)i, 0), NULL, 10);
            ck_assert_msg(seq == sym[k].want_seq[i], "%s signal %zu at #%llu, want #%llu",
                          sym[k].symbol, i, (unsigned long long)seq,
                          (unsigned long long)sym[k].want_seq[i]);
            ck_assert_int_eq(PQgetvalue(r, (int)i, 1)[0], sym[k].want_side[i]);
            tb_fixed price;
            ck_assert_int_eq(tb_fixed_parse_cstr(PQgetvalue(r, (int)i, 2), &price), TB_OK);
            ck_assert_int_eq(price, sym[k].price[seq - 1]);
        }
        PQclear(r);
    }
    /* Exactly once on the wire too. */
    size_t want_total = 0;
    for (int k = 0; k < BURST_SYMBOLS; k++) want_total += sym[k].nwant;
    size_t got = 0;
    natsMsg *m = NULL;
    while (got < want_total + 1 && natsSubscription_NextMsg(&m, sub, 1500) == NATS_OK) {
        got += strncmp(natsMsg_GetSubject(m), prefix, strlen(prefix)) == 0;
        natsMsg_Destroy(m);
    }
    natsSubscription_Destroy(sub);
    ck_assert_msg(got == want_total, "%d worker(s): %zu signals published, want %zu", nworkers, got,
                  want_total);
    int busy = 0;
    ck_assert_int_eq(ask_instances("STATS", &busy), nworkers);
    /* Instances split the symbols by hash (bus/partition.c, tested in
     * test_partition): with 4 symbols one instance may well hold them all. */
    ck_assert_int_ge(busy, 1);
    stop_workers(pids, nworkers);
    printf("burst: %d worker(s): %zu signals, as the pure code gives\n", nworkers, want_total);
    return rate;
}

START_TEST(burst_1_and_3_workers_agree) {
    /* SP_BURST_TICKS (total over the symbols) scales it up for measuring. */
    const char *env = getenv("SP_BURST_TICKS");
    size_t n = (env ? strtoull(env, NULL, 10) : 40000) / BURST_SYMBOLS;
    ck_assert_uint_ge(n, 100);
    size_t window = n < 10000 ? n : 10000;
    burst_symbol sym[BURST_SYMBOLS];
    memset(sym, 0, sizeof sym);
    for (int k = 0; k < BURST_SYMBOLS; k++) {
        burst_prices(&sym[k], n, 7919u * (uint32_t)(k + 1));
        ck_assert_uint_gt(sym[k].nwant, 10);
    }
    /* burst() compares each run with the pure code, so the two agree. */
    double one = burst(1, sym, n, window);
    double three = burst(3, sym, n, window);
    printf("burst: 3 workers / 1 worker = %.2f\n", three / one);
    for (int k = 0; k < BURST_SYMBOLS; k++) {
        free(sym[k].price);
        free(sym[k].want_seq);
        free(sym[k].want_side);
    }
}
END_TEST

/* ---- strategies API ---- */

static long long table_fingerprint(void) {
    /* Changes whenever a row of this account's strategies is added, removed
     * or altered. */
    return sql_count(
        "SELECT count(*) * 1000003 + coalesce(sum(hashtext(strategy_id || kind || symbol || "
        "params::text || enabled::text || sizing || coalesce(qty, target)::text || "
        "updated_at::text)), 0) FROM strategies WHERE account = $1",
        account);
}

static void rejected(const char *what, const char *subject, const tb_strategy *s, tb_status want,
                     const char *field) {
    long long before = table_fingerprint();
    tb_error err = {0};
    tb_status got = call(subject, &tb_strategy_desc, s, NULL, &err);
    ck_assert_msg(got == want, "%s: got %s (%s), want %s", what, tb_status_code(got), err.message,
                  tb_status_code(want));
    ck_assert_msg(strcmp(err.field, field) == 0, "%s: field '%s' (%s), want '%s'", what, err.field,
                  err.message, field);
    ck_assert_int_eq(table_fingerprint(), before); /* nothing written */
}

START_TEST(strategies_api) {
    pid_t pid;
    start_workers(&pid, 1, "200");
    char tag[16], id[64], sym[32];
    short_tag(tag, sizeof tag);
    snprintf(id, sizeof id, "rsi-%s", tag);
    snprintf(sym, sizeof sym, "API%s", tag);
    tb_strategy s = strategy(id, "rsi", sym, "{\"upper\": 70, \"lower\": 30.5, \"period\": 14}");
    tb_strategy got;
    tb_error err = {0};
    ck_assert_int_eq(call("api.strategies.create", &tb_strategy_desc, &s, &got, &err), TB_OK);
    ck_assert_str_eq(got.params, "{\"period\":14,\"lower\":30.5,\"upper\":70}"); /* canonical */
    ck_assert(got.enabled);
    ck_assert_int_eq(got.qty, s.qty);
    ck_assert_int_gt(got.created_at, 0);

    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.id, sizeof q.id, "%s", id);
    ck_assert_int_eq(call("api.strategies.get", &tb_query_desc, &q, &got, &err), TB_OK);
    ck_assert_str_eq(got.kind, "rsi");
    ck_assert_str_eq(got.symbol, sym);
    snprintf(q.accounts, sizeof q.accounts, "someone-else");
    ck_assert_int_eq(call("api.strategies.get", &tb_query_desc, &q, &got, &err), TB_FORBIDDEN);
    q.accounts[0] = '\0';

    /* conflicts and bad input: clear errors, table unchanged */
    rejected("duplicate", "api.strategies.create", &s, TB_CONFLICT, "strategy_id");
    tb_strategy bad = strategy("bad1", "sma_cross", sym, "{\"fast\":30,\"slow\":10}");
    snprintf(bad.strategy_id, sizeof bad.strategy_id, "bad-%s", tag);
    rejected("fast >= slow", "api.strategies.create", &bad, TB_INVALID, "params.fast");
    snprintf(bad.params, sizeof bad.params, "{\"slow\":10}");
    rejected("missing fast", "api.strategies.create", &bad, TB_INVALID, "params.fast");
    snprintf(bad.params, sizeof bad.params, "{\"fast\":3,\"slow\":10,\"speed\":1}");
    rejected("unknown param", "api.strategies.create", &bad, TB_UNKNOWN_FIELD, "params.speed");
    snprintf(bad.params, sizeof bad.params, "{fast: 3}");
    rejected("not JSON", "api.strategies.create", &bad, TB_INVALID, "params");
    snprintf(bad.kind, sizeof bad.kind, "macd");
    rejected("unknown kind", "api.strategies.create", &bad, TB_INVALID, "kind");
    bad = strategy(bad.strategy_id, "bollinger", sym, "{\"period\":20,\"k\":-1}");
    rejected("negative k", "api.strategies.create", &bad, TB_INVALID, "params.k");
    bad = strategy(bad.strategy_id, "donchian", sym, "{\"period\":20}");
    bad.qty = 0;
    rejected("zero qty", "api.strategies.create", &bad, TB_INVALID, "qty");
    bad.qty = TB_FIXED_SCALE;
    snprintf(bad.account, sizeof bad.account, "nobody-%s", tag);
    rejected("unknown account", "api.strategies.create", &bad, TB_INVALID, "account");
    tb_strategy upd = s;
    snprintf(upd.params, sizeof upd.params, "{\"period\":14,\"lower\":80,\"upper\":70}");
    rejected("bad update", "api.strategies.update", &upd, TB_INVALID, "params.lower");
    upd = strategy(bad.strategy_id, "donchian", sym, "{\"period\":20}");
    rejected("update of a missing strategy", "api.strategies.update", &upd, TB_NOT_FOUND,
             "strategy_id");
    ck_assert_int_eq(
        sql_count("SELECT count(*) FROM strategies WHERE strategy_id LIKE 'bad-%'", NULL), 0);
    /* a strategy keeps its account: an update naming another (existing)
     * account finds nothing, so no caller can take over another's strategy */
    char other[48];
    snprintf(other, sizeof other, "spother%s", tag);
    const char *other_params[] = {other};
    PQclear(sql("INSERT INTO accounts (id, name) VALUES ($1, 'other') ON CONFLICT DO NOTHING", 1,
                other_params));
    upd = s;
    snprintf(upd.account, sizeof upd.account, "%s", other);
    rejected("update moving the strategy to another account", "api.strategies.update", &upd,
             TB_NOT_FOUND, "strategy_id");

    /* a good update changes kind and parameters */
    upd = s;
    snprintf(upd.kind, sizeof upd.kind, "ema_cross");
    snprintf(upd.params, sizeof upd.params, "{\"fast\":5,\"slow\":8}");
    snprintf(upd.sizing, sizeof upd.sizing, "target");
    ck_assert_int_eq(call("api.strategies.update", &tb_strategy_desc, &upd, &got, &err), TB_OK);
    ck_assert_str_eq(got.kind, "ema_cross");
    ck_assert_str_eq(got.sizing, "target");
    ck_assert_int_eq(
        sql_count("SELECT count(*) FROM strategies WHERE strategy_id = $1 AND target = 10 "
                  "AND qty IS NULL",
                  id),
        1);

    /* list with filters */
    tb_query lq;
    memset(&lq, 0, sizeof lq);
    snprintf(lq.account, sizeof lq.account, "%s", account);
    tb_strategy *items = NULL;
    size_t n = 0;
    msgpack_sbuffer req;
    msgpack_sbuffer_init(&req);
    ck_assert_int_eq(tb_encode(&tb_query_desc, &lq, &req, &err), TB_OK);
    bus_bytes rep = {0};
    ck_assert_int_eq(bus_request_bytes(conn, "api.strategies.list", req.data, req.size, "query",
                                       10000, NULL, &rep, &err),
                     TB_OK);
    ck_assert_int_eq(
        tb_decode_list(&tb_strategy_desc, rep.data, rep.len, (void **)&items, &n, NULL, &err),
        TB_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(items[0].strategy_id, id);
    free(items);
    bus_bytes_free(&rep);
    msgpack_sbuffer_destroy(&req);

    /* delete, then it is gone */
    ck_assert_int_eq(call("api.strategies.delete", &tb_query_desc, &q, &got, &err), TB_OK);
    ck_assert_str_eq(got.strategy_id, id);
    ck_assert_int_eq(call("api.strategies.get", &tb_query_desc, &q, &got, &err), TB_NOT_FOUND);
    ck_assert_int_eq(call("api.strategies.delete", &tb_query_desc, &q, &got, &err), TB_NOT_FOUND);
    memset(&q, 0, sizeof q);
    ck_assert_int_eq(call("api.strategies.get", &tb_query_desc, &q, &got, &err), TB_MISSING_FIELD);
    ck_assert_str_eq(err.field, "id");
    stop_workers(&pid, 1);
}
END_TEST

/* ---- ordering: gaps, duplicates, live reconfiguration ---- */

static int64_t metric(const char *name) {
    bus_bytes rep = {0};
    tb_error err = {0};
    ck_assert_int_eq(bus_request_bytes(conn, "svc.signal-processing.metrics", "", 0, NULL, 5000,
                                       NULL, &rep, &err),
                     TB_OK);
    int64_t total = 0;
    for (char *line = strtok(rep.data, "\n"); line; line = strtok(NULL, "\n"))
        if (strncmp(line, name, strlen(name)) == 0 &&
            (line[strlen(name)] == ' ' || line[strlen(name)] == '{'))
            total += atoll(strrchr(line, ' ') + 1);
    bus_bytes_free(&rep);
    return total;
}

typedef struct {
    const char *id, *sym;
    uint64_t seq;
} seq_arg;
static bool seq_reached(void *arg) {
    seq_arg *a = arg;
    return state_seq(a->id, a->sym) == a->seq;
}

static long long signals_of(const char *id) {
    return sql_count("SELECT count(*) FROM signals WHERE strategy_id = $1", id);
}

typedef struct {
    const char *id;
    long long n;
} count_arg;
static bool signals_reached(void *arg) {
    count_arg *c = arg;
    return signals_of(c->id) >= c->n;
}

/* Waits for n signals of id (they are recorded just after the state moves),
 * then checks no more than n arrive. */
static void expect_signals(const char *id, long long n) {
    count_arg c = {id, n};
    ck_assert_msg(tb_test_wait(signals_reached, &c, 10000), "%s: %lld signals, want %lld", id,
                  signals_of(id), n);
    usleep(100000);
    ck_assert_int_eq(signals_of(id), n);
}

typedef struct {
    int64_t want;
} stale_arg;
static bool stale_reached(void *arg) {
    return metric("tb_sp_ticks_stale_total") >= ((stale_arg *)arg)->want;
}

START_TEST(gaps_duplicates_and_reconfiguration) {
    pid_t pid;
    start_workers(&pid, 1, "300");
    char tag[16], id[64], sym[32];
    short_tag(tag, sizeof tag);
    snprintf(id, sizeof id, "don-%s", tag);
    snprintf(sym, sizeof sym, "GAP%s", tag);
    tb_strategy s = strategy(id, "donchian", sym, "{\"period\":3}");
    create_ok(&s);
    int64_t gaps0 = metric("tb_tick_gaps_total");
    int64_t stale0 = metric("tb_sp_ticks_stale_total");
    const int64_t ts = 1700000000000000000;
    /* 1..4 flat, tick 5 lost, 6 breaks out above the 3-tick high: the
     * decision waits for the next tick */
    for (uint64_t i = 1; i <= 4; i++) publish_tick(sym, i, ts + (int64_t)i, 100 * TB_FIXED_SCALE);
    publish_tick(sym, 6, ts + 6, 105 * TB_FIXED_SCALE);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    seq_arg a = {id, sym, 6};
    ck_assert_msg(tb_test_wait(seq_reached, &a, 10000), "gap was not skipped");
    ck_assert_int_eq(metric("tb_tick_gaps_total"), gaps0 + 1);
    expect_signals(id, 0);

    /* the lost tick arriving late, and a duplicate, change nothing; 7 is
     * the next tick: the buy of 6 goes out filling at 7, and 7 breaks
     * below the 3-tick low (a sell, waiting for 8) */
    publish_tick(sym, 5, ts + 5, 1 * TB_FIXED_SCALE);
    publish_tick(sym, 6, ts + 6, 1 * TB_FIXED_SCALE);
    publish_tick(sym, 7, ts + 7, 90 * TB_FIXED_SCALE);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    a.seq = 7;
    ck_assert(tb_test_wait(seq_reached, &a, 10000));
    expect_signals(id, 1);
    char sig_id[128];
    snprintf(sig_id, sizeof sig_id, "%s-%s-6", id, sym);
    ck_assert_int_eq(sql_count("SELECT count(*) FROM signals WHERE signal_id = $1 AND side = 'buy' "
                               "AND ref_price = 105 AND fill_price = 90 AND fill_seq = 7",
                               sig_id),
                     1);
    /* 5 and the second 6 wait (a restarted feed would need them), then are
     * dropped as stale once their wait expired */
    stale_arg st = {stale0 + 2};
    ck_assert_msg(tb_test_wait(stale_reached, &st, 10000), "stale ticks: %lld, want %lld",
                  (long long)metric("tb_sp_ticks_stale_total"), (long long)st.want);
    ck_assert_int_eq(state_seq(id, sym), 7);
    ck_assert_int_eq(signals_of(id), 1);
    publish_tick(sym, 8, ts + 8, 95 * TB_FIXED_SCALE); /* inside the range: no decision */
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    a.seq = 8;
    ck_assert(tb_test_wait(seq_reached, &a, 10000));
    expect_signals(id, 2);

    /* disabled: takes effect without restart, ticks no longer apply */
    s.enabled = false;
    tb_error err = {0};
    ck_assert_int_eq(call("api.strategies.update", &tb_strategy_desc, &s, NULL, &err), TB_OK);
    publish_tick(sym, 9, ts + 9, 200 * TB_FIXED_SCALE);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    usleep(500000);
    ck_assert_int_eq(state_seq(id, sym), 8);
    ck_assert_int_eq(signals_of(id), 2);

    /* re-enabled with new parameters: the state restarts (warm-up again) */
    s.enabled = true;
    snprintf(s.params, sizeof s.params, "{\"period\":2}");
    ck_assert_int_eq(call("api.strategies.update", &tb_strategy_desc, &s, NULL, &err), TB_OK);
    publish_tick(sym, 10, ts + 10, 50 * TB_FIXED_SCALE); /* warm-up (fresh state) */
    publish_tick(sym, 11, ts + 11, 50 * TB_FIXED_SCALE);
    publish_tick(sym, 12, ts + 12, 60 * TB_FIXED_SCALE); /* above the 2-tick high: buy */
    publish_tick(sym, 13, ts + 13, 61 * TB_FIXED_SCALE); /* ...which fills here */
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    a.seq = 13;
    ck_assert(tb_test_wait(seq_reached, &a, 10000));
    expect_signals(id, 3);
    snprintf(sig_id, sizeof sig_id, "%s-%s-12", id, sym);
    ck_assert_int_eq(sql_count("SELECT count(*) FROM signals WHERE signal_id = $1 AND side = "
                               "'buy' AND fill_price = 61 AND fill_seq = 13",
                               sig_id),
                     1);

    /* a corrupted state in Redis is restarted, not fatal */
    int64_t resets0 = metric("tb_sp_state_resets_total");
    redisContext *rc = bus_redis_acquire(redis, &err);
    ck_assert_ptr_nonnull(rc);
    ck_assert_int_eq(
        bus_redis_cmd(rc, NULL, &err, "HSET tb:sp:state:%s:%s state {garbage", id, sym), TB_OK);
    bus_redis_release(redis, rc);
    publish_tick(sym, 14, ts + 14, 60 * TB_FIXED_SCALE);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    a.seq = 14;
    ck_assert(tb_test_wait(seq_reached, &a, 10000));
    ck_assert_int_eq(metric("tb_sp_state_resets_total"), resets0 + 1);

    /* api.signals.list: newest first */
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.strategy_id, sizeof q.strategy_id, "%s", id);
    q.limit = 2;
    msgpack_sbuffer req;
    msgpack_sbuffer_init(&req);
    ck_assert_int_eq(tb_encode(&tb_query_desc, &q, &req, &err), TB_OK);
    bus_bytes rep = {0};
    ck_assert_int_eq(bus_request_bytes(conn, "api.signals.list", req.data, req.size, "query", 10000,
                                       NULL, &rep, &err),
                     TB_OK);
    tb_signal *items = NULL;
    size_t n = 0;
    ck_assert_int_eq(
        tb_decode_list(&tb_signal_desc, rep.data, rep.len, (void **)&items, &n, NULL, &err), TB_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(items[0].tick_seq, 12);
    ck_assert_uint_eq(items[0].fill_seq, 13);
    ck_assert_int_eq(items[0].fill_price, 61 * TB_FIXED_SCALE);
    ck_assert_int_eq(items[0].fill_ts, ts + 13 - (ts + 13) % 1000); /* microseconds stored */
    ck_assert_uint_eq(items[1].tick_seq, 7);
    ck_assert_str_eq(items[1].side, "sell");
    ck_assert_int_eq(items[1].ref_price, 90 * TB_FIXED_SCALE);
    ck_assert_int_eq(items[1].fill_price, 95 * TB_FIXED_SCALE);
    free(items);
    bus_bytes_free(&rep);
    msgpack_sbuffer_destroy(&req);
    stop_workers(&pid, 1);
}
END_TEST

int main(void) {
    Suite *s = suite_create("signal_processing");
    TCase *tc = tcase_create("signal_processing");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 400);
    tcase_add_test(tc, strategies_api);
    tcase_add_test(tc, gaps_duplicates_and_reconfiguration);
    tcase_add_test(tc, eustock_replay_1_and_3_workers_agree);
    tcase_add_test(tc, every_kind_matches_the_pure_strategy);
    suite_add_tcase(s, tc);
    /* A case of its own so CK_RUN_CASE=burst runs just it (measuring). */
    TCase *burst_tc = tcase_create("burst");
    tcase_add_checked_fixture(burst_tc, setup, teardown);
    tcase_set_timeout(burst_tc, 600);
    tcase_add_test(burst_tc, burst_1_and_3_workers_agree);
    suite_add_tcase(s, burst_tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
