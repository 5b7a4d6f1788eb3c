/* market-data end to end, with tb-market-data as a child process against
 * the local NATS and Redis:
 *   - a sim run with a fixed seed publishes the same ticks twice (prices,
 *     sizes, and seqs once the Redis counters start fresh), seqs continue
 *     after a restart, trace ids follow "<source>-<SYM>-<seq>", quotes and
 *     symbols are answered from Redis, and the feed announces `done`;
 *   - replaying the EuStock file at full speed gives 7440 ticks and `done`;
 *   - api.market.replay of a CSV with bad rows reports them with line
 *     numbers, publishes only the good rows, refuses bad paths, files without
 *     a valid row and a second concurrent replay. */
#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tb_test.h"
#include "wire.h"

typedef struct rec_tick {
    tb_tick t;
    char trace[128];
} rec_tick;

/* Everything the test hears on md.tick.> and md.status.> from one source. */
static struct {
    pthread_mutex_t mu;
    char source[TB_TOKEN_CAP];
    rec_tick *v;
    size_t n, cap;
    tb_md_status final; /* last non-running status */
    bool ended;
    int bad_messages;
} rec = {.mu = PTHREAD_MUTEX_INITIALIZER};

static bus_config cfg;
static bus_conn *conn;
static bus_redis_pool *redis;
static natsSubscription *tick_sub, *status_sub;
static char prefix[48], log_path[512];

static void on_tick(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *arg) {
    (void)nc, (void)sub, (void)arg;
    rec_tick r = {0};
    tb_status s =
        tb_decode(&tb_tick_desc, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &r.t, NULL);
    const char *trace = NULL;
    if (natsMsgHeader_Get(m, BUS_HDR_TRACE, &trace) == NATS_OK && trace)
        snprintf(r.trace, sizeof r.trace, "%s", trace);
    pthread_mutex_lock(&rec.mu);
    if (s != TB_OK) {
        rec.bad_messages++;
    } else if (strcmp(r.t.source, rec.source) == 0) {
        if (rec.n == rec.cap) {
            rec.cap = rec.cap ? 2 * rec.cap : 1024;
            rec.v = realloc(rec.v, rec.cap * sizeof *rec.v);
        }
        rec.v[rec.n++] = r;
    }
    pthread_mutex_unlock(&rec.mu);
    natsMsg_Destroy(m);
}

static void on_status(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *arg) {
    (void)nc, (void)sub, (void)arg;
    tb_md_status st;
    tb_status s = tb_decode(&tb_md_status_desc, natsMsg_GetData(m),
                            (size_t)natsMsg_GetDataLength(m), &st, NULL);
    pthread_mutex_lock(&rec.mu);
    if (s != TB_OK)
        rec.bad_messages++;
    else if (strcmp(st.source, rec.source) == 0 && strcmp(st.state, "running") != 0) {
        rec.final = st;
        rec.ended = true;
    }
    pthread_mutex_unlock(&rec.mu);
    natsMsg_Destroy(m);
}

/* Starts recording the feed named source (forgetting what came before). */
static void record(const char *source) {
    pthread_mutex_lock(&rec.mu);
    snprintf(rec.source, sizeof rec.source, "%s", source);
    rec.n = 0;
    rec.ended = false;
    memset(&rec.final, 0, sizeof rec.final);
    pthread_mutex_unlock(&rec.mu);
}

/* A copy of what was recorded; caller frees. */
static rec_tick *recorded(size_t *n) {
    pthread_mutex_lock(&rec.mu);
    rec_tick *copy = malloc((rec.n ? rec.n : 1) * sizeof *copy);
    memcpy(copy, rec.v, rec.n * sizeof *copy);
    *n = rec.n;
    pthread_mutex_unlock(&rec.mu);
    return copy;
}

/* The feed's last non-running status (copied: assertions must not run while
 * rec.mu is held, or a failing one would leave it locked). */
static tb_md_status final_status(void) {
    pthread_mutex_lock(&rec.mu);
    tb_md_status st = rec.final;
    pthread_mutex_unlock(&rec.mu);
    return st;
}

static bool first_tick(void *arg) {
    (void)arg;
    pthread_mutex_lock(&rec.mu);
    bool ok = rec.n > 0;
    pthread_mutex_unlock(&rec.mu);
    return ok;
}

static bool feed_ended(void *arg) {
    size_t want = *(size_t *)arg;
    pthread_mutex_lock(&rec.mu);
    bool ok = rec.ended && rec.n >= want;
    pthread_mutex_unlock(&rec.mu);
    return ok;
}

static void setup(void) {
    tb_test_config(&cfg, "market-data-test");
    conn = tb_test_conn(&cfg);
    tb_error err = {0};
    ck_assert_msg(bus_redis_pool_create(cfg.redis_url, &redis, &err) == TB_OK, "%s", err.message);
    tb_test_unique(prefix, sizeof prefix, "MD");
    snprintf(log_path, sizeof log_path, "%s/test_market_data-%s.log",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", prefix);
    natsConnection *nc = bus_conn_nats(conn);
    ck_assert_int_eq(natsConnection_Subscribe(&tick_sub, nc, "md.tick.>", on_tick, NULL), NATS_OK);
    ck_assert_int_eq(natsConnection_Subscribe(&status_sub, nc, "md.status.>", on_status, NULL),
                     NATS_OK);
    /* EuStock at full speed arrives faster than the default pending limits. */
    ck_assert_int_eq(natsSubscription_SetPendingLimits(tick_sub, 1000000, 1024 * 1024 * 1024),
                     NATS_OK);
    ck_assert_int_eq(natsConnection_Flush(nc), NATS_OK);
}

static void teardown(void) {
    natsSubscription_Unsubscribe(tick_sub);
    natsSubscription_Destroy(tick_sub);
    natsSubscription_Unsubscribe(status_sub);
    natsSubscription_Destroy(status_sub);
    pthread_mutex_lock(&rec.mu);
    int bad_messages = rec.bad_messages;
    pthread_mutex_unlock(&rec.mu);
    ck_assert_int_eq(bad_messages, 0); /* every tick and status decoded */
    bus_redis_pool_destroy(redis);
    bus_conn_close(conn);
}

static void redis_do(const char *fmt, const char *a) {
    tb_error err = {0};
    redisContext *r = bus_redis_acquire(redis, &err);
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(bus_redis_cmd(r, NULL, &err, fmt, a) == TB_OK, "%s", err.message);
    bus_redis_release(redis, r);
}

/* Removes what the service keeps for symbol, so its seq starts again at 1. */
static void forget_symbol(const char *symbol) {
    redis_do("DEL md:seq:%s", symbol);
    redis_do("DEL md:quote:%s", symbol);
    redis_do("SREM md:symbols %s", symbol);
}

static pid_t spawn_md(char **env) {
    char bin[512];
    tb_test_bin(bin, sizeof bin, "actors/market-data/tb-market-data");
    char *argv[] = {bin, NULL};
    return tb_test_spawn(argv, env, log_path);
}

static void stop_md(pid_t pid) {
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    ck_assert_msg(tb_test_wait_exit(pid, 30000) == 0, "unclean exit (see %s)", log_path);
}

static tb_status query(const char *subject, const tb_query *q, const tb_event_desc *reply_desc,
                       void *reply, tb_error *err) {
    return bus_request(conn, subject, &tb_query_desc, q, reply_desc, reply, 5000, NULL, err);
}

/* Waits until the service answers api.market.status (any answer but "nobody listens"). */
static bool answering(void *arg) {
    (void)arg;
    tb_query q = {0};
    tb_md_status st;
    tb_error err = {0};
    tb_status s = query("api.market.status", &q, &tb_md_status_desc, &st, &err);
    return s != TB_NO_RESPONDERS && s != TB_TIMEOUT;
}

/* ---- simulator ---- */

#define SIM_TICKS 600

static char sym_a[64], sym_b[64], sym_c[64], sim_source[64];

static rec_tick *run_sim(const char *max_ticks, size_t want, size_t *n) {
    static char e_symbols[256], e_source[96], e_max[64];
    snprintf(e_symbols, sizeof e_symbols, "MD_SYMBOLS=%s:1628.75,%s:50:0.1:0.5,%s", sym_a, sym_b,
             sym_c);
    snprintf(e_source, sizeof e_source, "MD_SOURCE=%s", sim_source);
    snprintf(e_max, sizeof e_max, "MD_MAX_TICKS=%s", max_ticks);
    char *env[] = {"MD_MODE=sim", "MD_SEED=1234", "MD_RATE=0", e_symbols, e_source, e_max, NULL};
    record(sim_source);
    pid_t pid = spawn_md(env);
    ck_assert_msg(tb_test_wait(feed_ended, &want, 30000), "sim did not finish (see %s)", log_path);
    usleep(200000); /* nothing more may arrive after done */
    rec_tick *v = recorded(n);
    ck_assert_uint_eq(*n, want);
    tb_md_status fin = final_status();
    ck_assert_str_eq(fin.state, "done");
    ck_assert_uint_eq(fin.ticks, want);

    /* quote and symbols come from Redis: the last tick of each symbol */
    const char *syms[] = {sym_a, sym_b, sym_c};
    for (int k = 0; k < 3; k++) {
        const rec_tick *last = NULL;
        for (size_t i = 0; i < *n; i++)
            if (strcmp(v[i].t.symbol, syms[k]) == 0) last = &v[i];
        ck_assert_ptr_nonnull(last);
        tb_query q = {0};
        snprintf(q.symbol, sizeof q.symbol, "%s", syms[k]);
        tb_tick quote;
        tb_error err = {0};
        ck_assert_msg(query("api.market.quote", &q, &tb_tick_desc, &quote, &err) == TB_OK, "%s",
                      err.message);
        ck_assert_uint_eq(quote.seq, last->t.seq);
        ck_assert_int_eq(quote.bid, last->t.bid);
        ck_assert_int_eq(quote.ask, last->t.ask);
        ck_assert_int_eq(quote.last, last->t.last);
        ck_assert_int_eq(quote.ts, last->t.ts);
        ck_assert_str_eq(quote.source, sim_source);
    }
    tb_query q = {0};
    snprintf(q.symbol, sizeof q.symbol, "%s", prefix);
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    tb_error err = {0};
    ck_assert_int_eq(tb_encode(&tb_query_desc, &q, &b, &err), TB_OK);
    bus_bytes rb = {0};
    ck_assert_msg(bus_request_bytes(conn, "api.market.symbols", b.data, b.size, "query", 5000, NULL,
                                    &rb, &err) == TB_OK,
                  "%s", err.message);
    msgpack_sbuffer_destroy(&b);
    tb_tick *items = NULL;
    size_t count = 0;
    char next[TB_ID_CAP];
    ck_assert_int_eq(
        tb_decode_list(&tb_tick_desc, rb.data, rb.len, (void **)&items, &count, next, &err), TB_OK);
    bus_bytes_free(&rb);
    ck_assert_uint_eq(count, 3);
    ck_assert_str_eq(next, "");
    /* sorted by symbol: A < B < C share the prefix */
    ck_assert_str_eq(items[0].symbol, sym_a);
    ck_assert_str_eq(items[1].symbol, sym_b);
    ck_assert_str_eq(items[2].symbol, sym_c);
    free(items);

    /* the feed's status is stored and answered by name */
    snprintf(q.id, sizeof q.id, "%s", sim_source);
    q.symbol[0] = '\0';
    tb_md_status st;
    ck_assert_int_eq(query("api.market.status", &q, &tb_md_status_desc, &st, &err), TB_OK);
    ck_assert_str_eq(st.state, "done");
    ck_assert_uint_eq(st.ticks, want);
    stop_md(pid);
    return v;
}

static void check_trace_and_seqs(const rec_tick *v, size_t n, uint64_t first_seq) {
    const char *syms[] = {sym_a, sym_b, sym_c};
    for (int k = 0; k < 3; k++) {
        uint64_t want = first_seq;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(v[i].t.symbol, syms[k]) != 0) continue;
            ck_assert_uint_eq(v[i].t.seq, want);
            want++;
            char trace[160];
            snprintf(trace, sizeof trace, "%s-%s-%llu", sim_source, syms[k],
                     (unsigned long long)v[i].t.seq);
            ck_assert_str_eq(v[i].trace, trace);
            ck_assert_int_gt(v[i].t.bid, 0);
            ck_assert_int_gt(v[i].t.ask, v[i].t.bid);
        }
        ck_assert_uint_eq(want - first_seq, n / 3);
    }
}

START_TEST(sim_same_seed_same_ticks) {
    snprintf(sym_a, sizeof sym_a, "%sA", prefix);
    snprintf(sym_b, sizeof sym_b, "%sB", prefix);
    snprintf(sym_c, sizeof sym_c, "%sC", prefix);
    snprintf(sim_source, sizeof sim_source, "%ssim", prefix);
    size_t n1, n2, n3;
    rec_tick *r1 = run_sim("600", SIM_TICKS, &n1);
    check_trace_and_seqs(r1, n1, 1);
    ck_assert_int_eq(r1[0].t.last, 162875000000); /* the first tick quotes the start price */
    forget_symbol(sym_a);
    forget_symbol(sym_b);
    forget_symbol(sym_c);
    rec_tick *r2 = run_sim("600", SIM_TICKS, &n2);
    ck_assert_uint_eq(n1, n2);
    int moved = 0;
    for (size_t i = 0; i < n1; i++) {
        const tb_tick *a = &r1[i].t, *b = &r2[i].t;
        ck_assert_str_eq(a->symbol, b->symbol);
        ck_assert_uint_eq(a->seq, b->seq);
        ck_assert_int_eq(a->bid, b->bid);
        ck_assert_int_eq(a->ask, b->ask);
        ck_assert_int_eq(a->last, b->last);
        ck_assert_int_eq(a->bid_size, b->bid_size);
        ck_assert_int_eq(a->ask_size, b->ask_size);
        ck_assert_int_eq(a->last_size, b->last_size);
        if (i >= 3) moved += a->last != r1[i - 3].t.last;
    }
    ck_assert_int_gt(moved, 300); /* identical, and not because nothing moves */
    /* A restart without clearing Redis: same prices, seqs continue. */
    rec_tick *r3 = run_sim("30", 30, &n3);
    check_trace_and_seqs(r3, n3, SIM_TICKS / 3 + 1);
    for (size_t i = 0; i < n3; i++) ck_assert_int_eq(r3[i].t.last, r1[i].t.last);
    free(r1);
    free(r2);
    free(r3);
    forget_symbol(sym_a);
    forget_symbol(sym_b);
    forget_symbol(sym_c);
}
END_TEST

/* ---- replay ---- */

START_TEST(replay_eustock_full_speed) {
    char path[1024], e_file[1100], e_source[96], source[64];
    snprintf(path, sizeof path, "%s/data/eustock_daily.csv",
             getenv("TB_SOURCE_DIR") ? getenv("TB_SOURCE_DIR") : ".");
    snprintf(e_file, sizeof e_file, "MD_REPLAY_FILE=%s", path);
    snprintf(source, sizeof source, "%seu", prefix);
    snprintf(e_source, sizeof e_source, "MD_SOURCE=%s", source);
    char *env[] = {"MD_MODE=replay", e_file, e_source, NULL};
    record(source);
    int64_t t0 = bus_mono_ns();
    pid_t pid = spawn_md(env);
    size_t want = 7440;
    ck_assert_msg(tb_test_wait(feed_ended, &want, 60000), "replay did not finish (see %s)",
                  log_path);
    double secs = (double)(bus_mono_ns() - t0) / 1e9;
    usleep(200000);
    size_t n;
    rec_tick *v = recorded(&n);
    ck_assert_uint_eq(n, 7440);
    tb_md_status fin = final_status();
    ck_assert_str_eq(fin.state, "done");
    ck_assert_uint_eq(fin.ticks, 7440);
    ck_assert_uint_eq(fin.errors, 0);
    /* In file order; per symbol, seqs without gaps. */
    ck_assert_str_eq(v[0].t.symbol, "DAX");
    ck_assert_int_eq(v[0].t.last, 162875000000);
    ck_assert_int_eq(v[0].t.bid, v[0].t.last);
    ck_assert_int_eq(v[0].t.ts, INT64_C(678326400) * 1000000000);
    ck_assert_str_eq(v[n - 1].t.symbol, "FTSE");
    ck_assert_int_eq(v[n - 1].t.last, 545500000000);
    static const char *const names[] = {"DAX", "SMI", "CAC", "FTSE"};
    for (int k = 0; k < 4; k++) {
        uint64_t prev = 0, count = 0;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(v[i].t.symbol, names[k]) != 0) continue;
            if (count++) ck_assert_uint_eq(v[i].t.seq, prev + 1);
            prev = v[i].t.seq;
        }
        ck_assert_uint_eq(count, 1860);
    }
    tb_query q = {0};
    tb_md_status st;
    tb_error err = {0};
    ck_assert_int_eq(query("api.market.status", &q, &tb_md_status_desc, &st, &err), TB_OK);
    ck_assert_str_eq(st.source, source);
    ck_assert_str_eq(st.state, "done");
    ck_assert_uint_eq(st.ticks, 7440);
    ck_assert_ptr_nonnull(strstr(st.message, "7440 rows replayed"));
    /* metrics: the counter and a valid exposition */
    bus_bytes rb = {0};
    ck_assert_int_eq(
        bus_request_bytes(conn, "svc.market-data.metrics", "", 0, NULL, 5000, NULL, &rb, &err),
        TB_OK);
    const char *bad = tb_prom_check(rb.data);
    ck_assert_msg(bad == NULL, "%s", bad);
    ck_assert_ptr_nonnull(strstr(rb.data, "tb_ticks_published_total{"));
    ck_assert_ptr_nonnull(strstr(rb.data, "tb_tick_rate{"));
    ck_assert_ptr_nonnull(strstr(rb.data, "tb_replay_rows_rejected_total{"));
    bus_bytes_free(&rb);
    stop_md(pid);
    printf("market-data: EuStock replay, 7440 ticks in %.2f s including start-up\n", secs);
    free(v);
}
END_TEST

static char dir[256];

static void write_file(const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static tb_status replay_req(const char *path, const char *format, uint64_t speed,
                            const char *source, tb_md_status *st, tb_error *err) {
    tb_market_replay m = {.speed = speed};
    snprintf(m.path, sizeof m.path, "%s", path);
    snprintf(m.format, sizeof m.format, "%s", format);
    snprintf(m.source, sizeof m.source, "%s", source);
    return bus_request(conn, "api.market.replay", &tb_market_replay_desc, &m, &tb_md_status_desc,
                       st, 5000, NULL, err);
}

START_TEST(replay_api_bad_rows_and_refusals) {
    snprintf(dir, sizeof dir, "/tmp/tb-md-%s", prefix);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    char good[64], bad[64], source[64];
    snprintf(good, sizeof good, "%sG", prefix);
    snprintf(bad, sizeof bad, "%sX", prefix);
    snprintf(source, sizeof source, "%sbad", prefix);
    char text[2048];
    snprintf(text, sizeof text,
             "ts,symbol,bid,ask,last,size\n"
             "2024-03-01T09:00:00Z,%s,10,10.5,10.25,1\n"   /* 2 ok */
             "2024-03-01T09:00:01Z,%s,10,abc,10.25,1\n"    /* 3 bad ask */
             "2024-03-01T09:00:02Z,%s,10.1,10.6,10.3,2\n"  /* 4 ok */
             "2024-03-01T09:00:03Z,%s,11,10,10.5\n"        /* 5 five fields */
             "not-a-time,%s,1,2,1.5,1\n"                   /* 6 bad ts */
             "2024-03-01T09:00:04Z,%s,10.2,10.7,10.4,3\n", /* 7 ok */
             good, bad, good, bad, bad, good);
    write_file("bad.csv", text);
    write_file("none.csv", "ts,symbol,bid,ask,last,size\nx,Y,1,2,3,4\n");
    snprintf(text, sizeof text,
             "2024-03-01T09:00:00Z,%s,1,2,1.5,1\n2024-03-01T10:00:00Z,%s,1,2,1.5,1\n", good, good);
    write_file("slow.csv", text);
    static char e_dir[320];
    snprintf(e_dir, sizeof e_dir, "MD_REPLAY_DIR=%s", dir);
    char *env[] = {"MD_MODE=off", e_dir, NULL};
    pid_t pid = spawn_md(env);
    ck_assert_msg(tb_test_wait(answering, NULL, 20000), "service not answering (see %s)", log_path);

    tb_query q = {0};
    tb_md_status st;
    tb_error err = {0};
    /* no feed yet on this instance */
    ck_assert_int_eq(query("api.market.status", &q, &tb_md_status_desc, &st, &err), TB_NOT_FOUND);

    record(source);
    ck_assert_msg(replay_req("bad.csv", "", 0, source, &st, &err) == TB_OK, "%s", err.message);
    ck_assert_str_eq(st.state, "running");
    ck_assert_uint_eq(st.errors, 3);
    ck_assert_msg(
        strstr(st.message, "3 rows to replay; 3 malformed rows skipped: line 3: ask 'abc'"), "%s",
        st.message);
    ck_assert_ptr_nonnull(strstr(st.message, "; line 5: expected 6 fields"));
    ck_assert_ptr_nonnull(strstr(st.message, "; line 6: bad ts 'not-a-time'"));
    size_t want = 3;
    ck_assert_msg(tb_test_wait(feed_ended, &want, 20000), "replay did not finish");
    usleep(200000);
    size_t n;
    rec_tick *v = recorded(&n);
    ck_assert_uint_eq(n, 3);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(v[i].t.symbol, good);
        ck_assert_uint_eq(v[i].t.seq, i + 1);
    }
    ck_assert_int_eq(v[0].t.last, 1025000000);
    ck_assert_int_eq(v[2].t.last_size, 300000000);
    free(v);
    tb_md_status fin = final_status();
    ck_assert_str_eq(fin.state, "done");
    ck_assert_uint_eq(fin.errors, 3);
    /* nothing was stored for the symbol that only had bad rows */
    snprintf(q.symbol, sizeof q.symbol, "%s", bad);
    tb_tick t;
    ck_assert_int_eq(query("api.market.quote", &q, &tb_tick_desc, &t, &err), TB_NOT_FOUND);
    snprintf(q.symbol, sizeof q.symbol, "%s", good);
    ck_assert_int_eq(query("api.market.quote", &q, &tb_tick_desc, &t, &err), TB_OK);
    ck_assert_uint_eq(t.seq, 3);
    ck_assert_int_eq(t.last, 1040000000);
    q.symbol[0] = '\0';
    ck_assert_int_eq(query("api.market.quote", &q, &tb_tick_desc, &t, &err), TB_MISSING_FIELD);
    /* the instance's status is the finished replay, with its errors */
    ck_assert_int_eq(query("api.market.status", &q, &tb_md_status_desc, &st, &err), TB_OK);
    ck_assert_str_eq(st.source, source);
    ck_assert_str_eq(st.state, "done");
    ck_assert_uint_eq(st.ticks, 3);
    ck_assert_uint_eq(st.errors, 3);
    ck_assert_ptr_nonnull(strstr(st.message, "line 3: ask 'abc'"));
    snprintf(q.id, sizeof q.id, "%snever", prefix);
    ck_assert_int_eq(query("api.market.status", &q, &tb_md_status_desc, &st, &err), TB_NOT_FOUND);

    /* refusals: publish nothing */
    ck_assert_int_eq(replay_req("missing.csv", "", 0, source, &st, &err), TB_NOT_FOUND);
    ck_assert_str_eq(err.field, "path");
    ck_assert_int_eq(replay_req("/etc/passwd", "", 0, source, &st, &err), TB_FORBIDDEN);
    ck_assert_int_eq(replay_req("../", "", 0, source, &st, &err), TB_FORBIDDEN);
    ck_assert_int_eq(replay_req(".", "", 0, source, &st, &err), TB_INVALID);
    ck_assert_int_eq(replay_req("none.csv", "", 0, source, &st, &err), TB_INVALID);
    ck_assert_msg(strstr(err.message, "no valid rows; 1 malformed row skipped: line 2: bad ts 'x'"),
                  "%s", err.message);
    ck_assert_int_eq(replay_req("bad.csv", "closes", 0, source, &st, &err), TB_INVALID);
    ck_assert_ptr_nonnull(strstr(err.message, "line 1: header is for format ticks, not closes"));
    ck_assert_int_eq(replay_req("bad.csv", "bars", 0, source, &st, &err), TB_INVALID);

    /* the slow one waits an hour between its rows */
    char slow[64];
    snprintf(slow, sizeof slow, "%sslow", prefix);
    record(slow);
    ck_assert_int_eq(replay_req("slow.csv", "ticks", 1, slow, &st, &err), TB_OK);
    ck_assert(tb_test_wait(first_tick, NULL, 10000));
    /* several replays may run at once (backtests), but one feed only once */
    ck_assert_int_eq(replay_req("slow.csv", "ticks", 1, slow, &st, &err), TB_CONFLICT);
    ck_assert_msg(strstr(err.message, "is already replaying"), "%s", err.message);
    /* shutdown cancels it: failed, not done, so nobody takes it as complete */
    stop_md(pid);
    size_t one = 1;
    ck_assert(tb_test_wait(feed_ended, &one, 5000));
    fin = final_status();
    ck_assert_str_eq(fin.state, "failed");
    ck_assert_uint_eq(fin.ticks, 1);
    ck_assert_msg(strstr(fin.message, "stopped at line 2 before the end"), "%s", fin.message);
    forget_symbol(good);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Two copies publishing the same symbols share the Redis counters: together
 * they hand out every seq exactly once. */
START_TEST(two_copies_unique_seqs) {
    char sym[64], source[64];
    static char e_symbols[200], e_source[96];
    snprintf(sym, sizeof sym, "%sU", prefix);
    snprintf(source, sizeof source, "%sdup", prefix);
    snprintf(e_symbols, sizeof e_symbols, "MD_SYMBOLS=%s1,%s2", sym, sym);
    snprintf(e_source, sizeof e_source, "MD_SOURCE=%s", source);
    /* paced over a second, so the two really run at the same time */
    char *env[] = {"MD_RATE=2000", "MD_MAX_TICKS=2000", e_symbols, e_source, NULL};
    record(source);
    pid_t a = spawn_md(env), b = spawn_md(env);
    size_t want = 4000;
    ck_assert_msg(tb_test_wait(feed_ended, &want, 60000), "copies did not finish (see %s)",
                  log_path);
    stop_md(a);
    stop_md(b);
    size_t n;
    rec_tick *v = recorded(&n);
    ck_assert_uint_eq(n, 4000);
    for (int k = 1; k <= 2; k++) {
        char name[80];
        snprintf(name, sizeof name, "%s%d", sym, k);
        bool seen[2001] = {false};
        size_t count = 0;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(v[i].t.symbol, name) != 0) continue;
            ck_assert_uint_ge(v[i].t.seq, 1);
            ck_assert_uint_le(v[i].t.seq, 2000);
            ck_assert_msg(!seen[v[i].t.seq], "%s seq %llu twice", name,
                          (unsigned long long)v[i].t.seq);
            seen[v[i].t.seq] = true;
            count++;
        }
        ck_assert_uint_eq(count, 2000);
        forget_symbol(name);
    }
    free(v);
}
END_TEST

/* MD_RATE paces the simulator, and tb_tick_rate reports it. */
START_TEST(sim_rate_is_paced_and_reported) {
    char sym[64], source[64];
    static char e_symbols[200], e_source[96], e_instance[96];
    snprintf(sym, sizeof sym, "%sR", prefix);
    snprintf(source, sizeof source, "%srate", prefix);
    snprintf(e_symbols, sizeof e_symbols, "MD_SYMBOLS=%s", sym);
    snprintf(e_source, sizeof e_source, "MD_SOURCE=%s", source);
    snprintf(e_instance, sizeof e_instance, "INSTANCE_ID=%s", source);
    char *env[] = {"MD_RATE=100", "MD_MAX_TICKS=250", e_symbols, e_source, e_instance, NULL};
    record(source);
    pid_t pid = spawn_md(env);
    size_t mid = 120;
    ck_assert(tb_test_wait(first_tick, NULL, 20000));
    int64_t end = bus_mono_ns() + INT64_C(30) * 1000000000;
    while (!feed_ended(&mid)) {
        size_t n;
        free(recorded(&n));
        if (n >= mid) break;
        ck_assert_msg(bus_mono_ns() < end, "only %zu of %zu ticks after 30 s (see %s)", n, mid,
                      log_path);
        usleep(20000);
    }
    char subject[160];
    snprintf(subject, sizeof subject, "svc.market-data.%s.metrics", source);
    bus_bytes rb = {0};
    tb_error err = {0};
    ck_assert_int_eq(bus_request_bytes(conn, subject, "", 0, NULL, 5000, NULL, &rb, &err), TB_OK);
    const char *g = strstr(rb.data, "\ntb_tick_rate{");
    ck_assert_ptr_nonnull(g);
    long rate = strtol(strchr(g, '}') + 1, NULL, 10);
    bus_bytes_free(&rb);
    ck_assert_msg(rate >= 50 && rate <= 150, "tb_tick_rate %ld, want about 100", rate);
    size_t want = 250;
    ck_assert_msg(tb_test_wait(feed_ended, &want, 20000), "sim did not finish (see %s)", log_path);
    size_t n;
    rec_tick *v = recorded(&n);
    ck_assert_uint_eq(n, 250);
    /* tick 249 is due 2.49 s after the first */
    double span = (double)(v[n - 1].t.ts - v[0].t.ts) / 1e9;
    ck_assert_msg(span >= 2.4 && span < 4.0, "250 ticks at 100/s took %.2f s", span);
    free(v);
    stop_md(pid);
    forget_symbol(sym);
}
END_TEST

START_TEST(bad_settings_exit_2) {
    char *bad[][2] = {{"MD_MODE=live", NULL},    {"MD_SYMBOLS=DAX,DAX", NULL},
                      {"MD_SPREAD_BPS=0", NULL}, {"MD_VOLATILITY=abc", NULL},
                      {"MD_SOURCE=a.b", NULL},   {"MD_REPLAY_FORMAT=bars", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(tb_test_wait_exit(spawn_md(bad[i]), 20000) == 2, "%s accepted", bad[i][0]);
    char *missing[] = {"MD_MODE=replay", "MD_REPLAY_FILE=/nonexistent/x.csv", NULL};
    ck_assert_int_eq(tb_test_wait_exit(spawn_md(missing), 20000), 2);
}
END_TEST

int main(void) {
    Suite *s = suite_create("market_data");
    TCase *tc = tcase_create("service");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, sim_same_seed_same_ticks);
    tcase_add_test(tc, replay_eustock_full_speed);
    tcase_add_test(tc, replay_api_bad_rows_and_refusals);
    tcase_add_test(tc, two_copies_unique_seqs);
    tcase_add_test(tc, sim_rate_is_paced_and_reported);
    tcase_add_test(tc, bad_settings_exit_2);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    free(rec.v);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
