/* historical-data against real NATS, PostgreSQL and Redis: ticks published
 * shuffled and partly twice become the same bars with 1 worker and with 3,
 * equal to the pure merge of the distinct ticks (hist_bar.c) computed here;
 * a bar's close is announced on md.bar.<interval>.<SYM> exactly once even
 * when several workers see first ticks of the next bucket at once. Runs
 * tb-historical-data as child processes. */
#include "test_hist_common.h"

#define NTICKS 240
#define NDUPS  30
#define SEC    INT64_C(1000000000)
/* 2024-03-04T09:58:30Z: the ticks cross minute, 5-minute and hour bounds. */
#define BASE (INT64_C(1709546310) * SEC)

/* Ticks a symbol's seen-sets hold, and its seen-set rows. */
#define SEEN_BITS_SQL                                                                              \
    "SELECT coalesce(sum(bit_count(bits)), 0) FROM hist_seen_blocks WHERE symbol = $1"
#define SEEN_BLOCKS_SQL "SELECT count(*) FROM hist_seen_blocks WHERE symbol = $1"

static bus_config cfg;
static bus_conn *conn;
static PGconn *pg;
static char log_path[256];

typedef struct script_tick {
    uint64_t seq;
    int64_t ts;
    tb_fixed price, size;
} script_tick;

static script_tick script[NTICKS];
static int order[NTICKS + NDUPS]; /* delivery order: indexes into script */

static uint64_t lcg_state;
static uint32_t lcg(void) {
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(lcg_state >> 33);
}

/* A deterministic price path and a shuffled delivery with duplicates. */
static void make_script(void) {
    lcg_state = 42;
    tb_fixed price = 100 * TB_FIXED_SCALE;
    for (int i = 0; i < NTICKS; i++) {
        price += ((tb_fixed)(lcg() % 101) - 50) * 1000000; /* +-0.50 in cents */
        script[i] = (script_tick){.seq = (uint64_t)i + 1,
                                  .ts = BASE + (int64_t)i * 1700000000LL,
                                  .price = price,
                                  .size = (tb_fixed)(1 + lcg() % 10) * TB_FIXED_SCALE};
    }
    for (int i = 0; i < NTICKS; i++) order[i] = i;
    for (int i = 0; i < NDUPS; i++) order[NTICKS + i] = (int)(lcg() % NTICKS);
    for (int i = NTICKS + NDUPS - 1; i > 0; i--) {
        int j = (int)(lcg() % (uint32_t)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

static void publish_tick(const char *symbol, const script_tick *s) {
    tb_tick t = {.seq = s->seq, .ts = s->ts, .last = s->price, .last_size = s->size};
    snprintf(t.symbol, sizeof t.symbol, "%s", symbol);
    /* A quote around the trade: the trade price must win. */
    t.bid = s->price - 1000000;
    t.ask = s->price + 1000000;
    char subject[128];
    snprintf(subject, sizeof subject, "md.tick.%s", symbol);
    ck_assert_int_eq(bus_publish(conn, subject, &tb_tick_desc, &t, NULL), TB_OK);
}

static const char *wait_symbol;
static long long wait_ticks;
static bool ticks_stored(void *arg) {
    (void)arg;
    return th_scalar(pg, "SELECT sum(ticks) FROM bars WHERE symbol = $1 AND interval = '1d'",
                     wait_symbol) >= wait_ticks;
}

static void wait_for_ticks(const char *symbol, long long n) {
    wait_symbol = symbol;
    wait_ticks = n;
    ck_assert_msg(
        tb_test_wait(ticks_stored, NULL, 60000), "%s: only %lld of %lld ticks stored (see %s)",
        symbol,
        th_scalar(pg, "SELECT sum(ticks) FROM bars WHERE symbol = $1 AND interval = '1d'", symbol),
        n, log_path);
}

/* Publishes the script for symbol and returns its bars once all are in. */
static size_t run_script(const char *symbol, th_bar **bars) {
    for (int i = 0; i < NTICKS + NDUPS; i++) publish_tick(symbol, &script[order[i]]);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    wait_for_ticks(symbol, NTICKS);
    usleep(500000); /* late duplicates, if any, must change nothing */
    return th_load_bars(pg, symbol, bars);
}

/* The oracle: the pure merge of the distinct ticks sc[0..nt) (ascending
 * ts), per interval, in script order (the merge's order independence is
 * unit-tested). */
static size_t expected_bars_of(const script_tick *sc, int nt, th_bar *out, size_t cap) {
    size_t n = 0;
    for (int iv = 0; iv < HIST_NINTERVALS; iv++) {
        size_t first = n;
        for (int i = 0; i < nt; i++) {
            hist_bar t;
            hist_bar_from_tick(&t, hist_bucket_start(sc[i].ts, (hist_interval)iv), sc[i].price,
                               sc[i].size, sc[i].seq);
            if (n > first && out[n - 1].b.start == t.start) {
                ck_assert_int_eq(hist_bar_merge(&out[n - 1].b, &t), TB_OK);
            } else {
                ck_assert_uint_lt(n, cap);
                out[n++] = (th_bar){.iv = (hist_interval)iv, .b = t};
            }
        }
    }
    return n;
}

static size_t expected_bars(th_bar *out, size_t cap) {
    return expected_bars_of(script, NTICKS, out, cap);
}

static void assert_same_bars(const th_bar *got, size_t ngot, const th_bar *want, size_t nwant,
                             const char *what) {
    ck_assert_msg(ngot == nwant, "%s: %zu bars, want %zu", what, ngot, nwant);
    for (size_t i = 0; i < nwant; i++) {
        const hist_bar *g = &got[i].b, *w = &want[i].b;
        ck_assert_msg(got[i].iv == want[i].iv && g->start == w->start && g->open == w->open &&
                          g->high == w->high && g->low == w->low && g->close == w->close &&
                          g->volume == w->volume && g->ticks == w->ticks &&
                          g->first_seq == w->first_seq && g->last_seq == w->last_seq,
                      "%s: bar %zu (%s at %lld) differs: o %lld/%lld h %lld/%lld l %lld/%lld "
                      "c %lld/%lld v %lld/%lld n %llu/%llu",
                      what, i, hist_interval_name(want[i].iv), (long long)w->start,
                      (long long)g->open, (long long)w->open, (long long)g->high,
                      (long long)w->high, (long long)g->low, (long long)w->low, (long long)g->close,
                      (long long)w->close, (long long)g->volume, (long long)w->volume,
                      (unsigned long long)g->ticks, (unsigned long long)w->ticks);
    }
}

static void setup(void) {
    tb_test_config(&cfg, "hist-bars-test");
    conn = tb_test_conn(&cfg);
    pg = th_pg(&cfg);
    th_log_path(log_path, sizeof log_path, "test_hist_bars");
}

static void teardown(void) {
    PQfinish(pg);
    bus_conn_close(conn);
}

START_TEST(one_and_three_workers_same_bars) {
    make_script();
    th_bar want[2 * NTICKS + 16];
    size_t nwant = expected_bars(want, sizeof want / sizeof want[0]);
    /* 240 ticks 1.7 s apart from 09:58:30 to 10:05:16: 240 one-second bars,
     * 8 minutes (09:58..10:05), three 5-minute bars (09:55, 10:00, 10:05),
     * two hours, one day. */
    ck_assert_uint_eq(nwant, 240 + 8 + 3 + 2 + 1);

    char sym1[48], sym3[48];
    tb_test_unique(sym1, sizeof sym1, "HB1");
    tb_test_unique(sym3, sizeof sym3, "HB3");
    pid_t pids[TH_MAX_WORKERS];

    th_start(conn, "actors/historical-data/tb-historical-data", "historical-data", 1, pids, NULL,
             log_path);
    th_bar *one = NULL;
    size_t n1 = run_script(sym1, &one);
    th_stop(pids, 1);

    th_start(conn, "actors/historical-data/tb-historical-data", "historical-data", 3, pids, NULL,
             log_path);
    th_bar *three = NULL;
    size_t n3 = run_script(sym3, &three);
    th_stop(pids, 3);

    assert_same_bars(one, n1, want, nwant, "1 worker");
    assert_same_bars(three, n3, want, nwant, "3 workers");
    /* Every distinct tick recorded once in the seen-sets, duplicates not at all. */
    ck_assert_int_eq(th_scalar(pg, SEEN_BITS_SQL, sym3), NTICKS);
    free(one);
    free(three);
}
END_TEST

/* Collects md.bar messages until none came for window_ms. */
static int collect_bars(natsSubscription *sub, tb_bar *out, int cap, int64_t window_ms) {
    int n = 0;
    natsMsg *m = NULL;
    while (natsSubscription_NextMsg(&m, sub, window_ms) == NATS_OK) {
        ck_assert_int_lt(n, cap);
        ck_assert_int_eq(tb_decode(&tb_bar_desc, natsMsg_GetData(m),
                                   (size_t)natsMsg_GetDataLength(m), &out[n], NULL),
                         TB_OK);
        n++;
        natsMsg_Destroy(m);
    }
    return n;
}

/* Starts workers instances of historical-data and subscribes to the bars
 * of sym of interval ("*": every interval) before any tick is sent. */
static natsSubscription *start_watching_bars(const char *sym, const char *interval, int workers,
                                             pid_t *pids) {
    th_start(conn, "actors/historical-data/tb-historical-data", "historical-data", workers, pids,
             NULL, log_path);
    natsConnection *nc = bus_conn_nats(conn);
    char subject[128];
    snprintf(subject, sizeof subject, "md.bar.%s.%s", interval, sym);
    natsSubscription *sub = NULL;
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, nc, subject), NATS_OK);
    ck_assert_int_eq(natsConnection_Flush(nc), NATS_OK);
    return sub;
}

START_TEST(closed_bar_announced_once) {
    char sym[48];
    tb_test_unique(sym, sizeof sym, "HBC");
    pid_t pids[TH_MAX_WORKERS];
    natsSubscription *sub = start_watching_bars(sym, "*", 3, pids);

    /* Three ticks in 10:00:05 (prices 10, 12, 9; seqs 1, 2, 4), sent out of
     * order; seq 3 comes much later. */
    int64_t s0 = BASE + 95 * SEC; /* 10:00:05 */
    script_tick in_bar[3] = {{1, s0 + 100000000, 10 * TB_FIXED_SCALE, 1 * TB_FIXED_SCALE},
                             {2, s0 + 400000000, 12 * TB_FIXED_SCALE, 2 * TB_FIXED_SCALE},
                             {4, s0 + 900000000, 9 * TB_FIXED_SCALE, 3 * TB_FIXED_SCALE}};
    publish_tick(sym, &in_bar[2]);
    publish_tick(sym, &in_bar[0]);
    publish_tick(sym, &in_bar[1]);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    wait_for_ticks(sym, 3);
    tb_bar got[16];
    ck_assert_int_eq(collect_bars(sub, got, 16, 300), 0); /* nothing closed yet */

    /* Five ticks of 10:00:06 at once: three workers race to close 10:00:05. */
    for (int i = 0; i < 5; i++) {
        script_tick t = {5 + (uint64_t)i, s0 + SEC + i * 1000000, 11 * TB_FIXED_SCALE,
                         TB_FIXED_SCALE};
        publish_tick(sym, &t);
    }
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    int n = collect_bars(sub, got, 16, 1500);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(got[0].symbol, sym);
    ck_assert_str_eq(got[0].interval, "1s");
    ck_assert_int_eq(got[0].start, s0);
    ck_assert_int_eq(got[0].open, 10 * TB_FIXED_SCALE);
    ck_assert_int_eq(got[0].high, 12 * TB_FIXED_SCALE);
    ck_assert_int_eq(got[0].low, 9 * TB_FIXED_SCALE);
    ck_assert_int_eq(got[0].close, 9 * TB_FIXED_SCALE);
    ck_assert_int_eq(got[0].volume, 6 * TB_FIXED_SCALE);
    ck_assert_uint_eq(got[0].ticks, 3);

    /* A tick in the next hour closes 10:00:06 (1s), 10:00 (1m), 10:00 (5m)
     * and 10:00 (1h); the day goes on. The late tick of 10:00:05 (seq 3)
     * closes nothing but counts in the bars still open. */
    wait_for_ticks(sym, 8);
    script_tick late = {3, s0 + 500000000, 50 * TB_FIXED_SCALE, TB_FIXED_SCALE};
    script_tick next_hour = {10, BASE + 3695 * SEC, 13 * TB_FIXED_SCALE,
                             TB_FIXED_SCALE}; /* 11:00:05 */
    publish_tick(sym, &late);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    wait_for_ticks(sym, 9);
    publish_tick(sym, &next_hour);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    n = collect_bars(sub, got, 16, 1500);
    ck_assert_int_eq(n, 4);
    const char *want_iv[] = {"1s", "1m", "5m", "1h"};
    const int64_t want_start[] = {s0 + SEC, BASE + 90 * SEC, BASE + 90 * SEC, BASE + 90 * SEC};
    for (int i = 0; i < 4; i++) {
        int k = -1;
        for (int j = 0; j < n; j++)
            if (strcmp(got[j].interval, want_iv[i]) == 0) k = j;
        ck_assert_msg(k >= 0, "no %s bar announced", want_iv[i]);
        ck_assert_int_eq(got[k].start, want_start[i]);
        ck_assert_int_eq(got[k].close, 11 * TB_FIXED_SCALE);
    }
    /* The hour bar holds every tick of the hour, the late one (high 50) too. */
    for (int j = 0; j < n; j++) {
        if (strcmp(got[j].interval, "1h") != 0) continue;
        ck_assert_uint_eq(got[j].ticks, 9);
        ck_assert_int_eq(got[j].high, 50 * TB_FIXED_SCALE);
        ck_assert_int_eq(got[j].open, 10 * TB_FIXED_SCALE);
    }
    natsSubscription_Destroy(sub);
    th_stop(pids, 3);
}
END_TEST

/* Ticks of three seconds sent at once, so one batch usually holds them all:
 * the two bars they close are announced as that batch's own upsert left
 * them (no read back), with the same values as bars closed by a later
 * batch. */
START_TEST(bars_closed_by_their_own_batch) {
    char sym[48];
    tb_test_unique(sym, sizeof sym, "HBO");
    pid_t pids[TH_MAX_WORKERS];
    natsSubscription *sub = start_watching_bars(sym, "1s", 1, pids);
    int64_t s0 = BASE + 200 * SEC;
    script_tick ticks[] = {{1, s0 + 100000000, 20 * TB_FIXED_SCALE, 1 * TB_FIXED_SCALE},
                           {2, s0 + 500000000, 25 * TB_FIXED_SCALE, 2 * TB_FIXED_SCALE},
                           {3, s0 + 900000000, 18 * TB_FIXED_SCALE, 1 * TB_FIXED_SCALE},
                           {4, s0 + SEC + 1000, 30 * TB_FIXED_SCALE, 4 * TB_FIXED_SCALE},
                           {5, s0 + 2 * SEC, 31 * TB_FIXED_SCALE, 1 * TB_FIXED_SCALE}};
    for (size_t i = 0; i < sizeof ticks / sizeof ticks[0]; i++) publish_tick(sym, &ticks[i]);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    tb_bar got[8];
    int n = collect_bars(sub, got, 8, 1500);
    ck_assert_int_eq(n, 2);
    int first = got[0].start == s0 ? 0 : 1, second = 1 - first;
    ck_assert_int_eq(got[first].start, s0);
    ck_assert_int_eq(got[first].open, 20 * TB_FIXED_SCALE);
    ck_assert_int_eq(got[first].high, 25 * TB_FIXED_SCALE);
    ck_assert_int_eq(got[first].low, 18 * TB_FIXED_SCALE);
    ck_assert_int_eq(got[first].close, 18 * TB_FIXED_SCALE);
    ck_assert_int_eq(got[first].volume, 4 * TB_FIXED_SCALE);
    ck_assert_uint_eq(got[first].ticks, 3);
    ck_assert_int_eq(got[second].start, s0 + SEC);
    ck_assert_int_eq(got[second].open, 30 * TB_FIXED_SCALE);
    ck_assert_int_eq(got[second].close, 30 * TB_FIXED_SCALE);
    ck_assert_int_eq(got[second].volume, 4 * TB_FIXED_SCALE);
    ck_assert_uint_eq(got[second].ticks, 1);
    natsSubscription_Destroy(sub);
    th_stop(pids, 1);
}
END_TEST

/* A bar this worker guesses is new (it starts after the newest it stored)
 * that another worker stored first: the plain insert fails on the primary
 * key, the batch is written again upserted, and the tick counts once. */
START_TEST(a_bar_stored_elsewhere_first_is_merged) {
    char sym[48];
    tb_test_unique(sym, sizeof sym, "HBE");
    pid_t pids[TH_MAX_WORKERS];
    natsSubscription *sub = start_watching_bars(sym, "1s", 1, pids);
    int64_t s0 = BASE + 400 * SEC;
    script_tick first = {1, s0 + 100000000, 20 * TB_FIXED_SCALE, 1 * TB_FIXED_SCALE};
    publish_tick(sym, &first);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    wait_for_ticks(sym, 1);
    double retried =
        tb_test_service_metric(conn, "historical-data", "tb_hist_bar_inserts_retried_total", NULL);
    ck_assert_msg(retried >= 0, "tb_hist_bar_inserts_retried_total not reported");

    /* The next second's bar, as another worker stored it: seqs 100..104. */
    char start_us[32];
    snprintf(start_us, sizeof start_us, "%lld", (long long)((s0 + SEC) / 1000));
    const char *p[2] = {sym, start_us};
    PGresult *r = PQexecParams(pg,
                               "INSERT INTO bars (symbol, interval, start, open, high, low, close,"
                               " volume, ticks, first_seq, last_seq) VALUES ($1, '1s',"
                               " 'epoch'::timestamptz + $2::bigint * interval '1 microsecond',"
                               " 21, 30, 19, 25, 5, 5, 100, 104)",
                               2, NULL, p, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(pg));
    PQclear(r);

    script_tick second = {2, s0 + SEC + 500000000, 22 * TB_FIXED_SCALE, 1 * TB_FIXED_SCALE};
    publish_tick(sym, &second);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    wait_for_ticks(sym, 2);
    ck_assert(tb_test_service_metric(conn, "historical-data", "tb_hist_bar_inserts_retried_total",
                                     NULL) == retried + 1);
    th_bar *bars = NULL;
    size_t n = th_load_bars(pg, sym, &bars);
    const hist_bar *b = NULL;
    for (size_t i = 0; i < n; i++)
        if (bars[i].iv == HIST_1S && bars[i].b.start == s0 + SEC) b = &bars[i].b;
    ck_assert_msg(b != NULL, "no 1s bar at the second tick's second");
    ck_assert_int_eq(b->open, 22 * TB_FIXED_SCALE); /* seq 2 before 100 */
    ck_assert_int_eq(b->high, 30 * TB_FIXED_SCALE);
    ck_assert_int_eq(b->low, 19 * TB_FIXED_SCALE);
    ck_assert_int_eq(b->close, 25 * TB_FIXED_SCALE); /* seq 104 after 2 */
    ck_assert_int_eq(b->volume, 6 * TB_FIXED_SCALE);
    ck_assert_uint_eq(b->ticks, 6);
    free(bars);
    natsSubscription_Destroy(sub);
    th_stop(pids, 1);
}
END_TEST

START_TEST(bad_ticks_are_refused_not_stored) {
    char sym[48];
    tb_test_unique(sym, sizeof sym, "HBX");
    pid_t pids[TH_MAX_WORKERS];
    th_start(conn, "actors/historical-data/tb-historical-data", "historical-data", 1, pids, NULL,
             log_path);
    char subject[128];
    snprintf(subject, sizeof subject, "md.tick.%s", sym);
    /* No price at all, and a hostile body: neither crashes nor stores. */
    tb_tick t = {.seq = 1, .ts = BASE};
    snprintf(t.symbol, sizeof t.symbol, "%s", sym);
    ck_assert_int_eq(bus_publish(conn, subject, &tb_tick_desc, &t, NULL), TB_OK);
    natsConnection *nc = bus_conn_nats(conn);
    ck_assert_int_eq(natsConnection_Publish(nc, subject, "\x93\x01\x02", 3), NATS_OK);
    script_tick good = {2, BASE, 7 * TB_FIXED_SCALE, TB_FIXED_SCALE};
    publish_tick(sym, &good);
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    wait_for_ticks(sym, 1);
    usleep(200000);
    ck_assert_int_eq(th_scalar(pg, SEEN_BITS_SQL, sym), 1);
    ck_assert_int_eq(th_count_instances(conn, "historical-data"), 1); /* still alive */
    th_stop(pids, 1);
}
END_TEST

static const char *prune_symbol;
static bool guard_empty(void *arg) {
    (void)arg;
    return th_scalar(pg, SEEN_BLOCKS_SQL, prune_symbol) == 0;
}

START_TEST(seen_guard_pruned_by_age) {
    char sym[48];
    tb_test_unique(sym, sizeof sym, "HBP");
    pid_t pids[TH_MAX_WORKERS];
    char *env[] = {"HIST_PRUNE_INTERVAL_MS=200", "HIST_DEDUPE_RETENTION_S=60", NULL};
    th_start(conn, "actors/historical-data/tb-historical-data", "historical-data", 1, pids, env,
             log_path);
    for (uint64_t i = 1; i <= 3; i++) {
        script_tick t = {i, BASE + (int64_t)i * SEC, 5 * TB_FIXED_SCALE, TB_FIXED_SCALE};
        publish_tick(sym, &t);
    }
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    wait_for_ticks(sym, 3);
    /* Three seqs of one hour: one block with three bits. */
    ck_assert_int_eq(th_scalar(pg, SEEN_BITS_SQL, sym), 3);
    ck_assert_int_eq(th_scalar(pg, SEEN_BLOCKS_SQL, sym), 1);
    usleep(500000); /* young rows survive a few prunes */
    ck_assert_int_eq(th_scalar(pg, SEEN_BLOCKS_SQL, sym), 1);
    /* Aged past the retention, they go; the bars stay. */
    const char *params[] = {sym};
    PGresult *r = PQexecParams(pg,
                               "UPDATE hist_seen_blocks SET seen_at = now() - interval '61 seconds'"
                               " WHERE symbol = $1",
                               1, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(pg));
    PQclear(r);
    prune_symbol = sym;
    ck_assert_msg(tb_test_wait(guard_empty, NULL, 10000), "old seen-set blocks were not pruned");
    ck_assert_int_eq(
        th_scalar(pg, "SELECT sum(ticks) FROM bars WHERE symbol = $1 AND interval = '1d'", sym), 3);
    th_stop(pids, 1);
}
END_TEST

/* A burst big enough to form batches: 4 symbols x BURST ticks, each sent
 * twice, shuffled, in three waves (so copies meet inside one batch, in other
 * batches and at other workers), with 3 workers. Every bar is exact. */
#define BURST  1500
#define NBURST 4

START_TEST(copies_in_and_across_batches_count_once) {
    static script_tick sc[NBURST][BURST];
    static int sends[2 * NBURST * BURST]; /* symbol * BURST + tick index */
    char syms[NBURST][48];
    lcg_state = 4242;
    for (int s = 0; s < NBURST; s++) {
        char prefix[8];
        snprintf(prefix, sizeof prefix, "HBD%d", s);
        tb_test_unique(syms[s], sizeof syms[s], prefix);
        tb_fixed price = (50 + 10 * s) * TB_FIXED_SCALE;
        for (int i = 0; i < BURST; i++) {
            price += ((tb_fixed)(lcg() % 101) - 50) * 1000000;
            sc[s][i] = (script_tick){.seq = (uint64_t)i + 1,
                                     .ts = BASE + (int64_t)i * 250000000LL,
                                     .price = price,
                                     .size = (tb_fixed)(1 + lcg() % 10) * TB_FIXED_SCALE};
        }
    }
    int n = 0;
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < NBURST; s++)
            for (int i = 0; i < BURST; i++) sends[n++] = s * BURST + i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(lcg() % (uint32_t)(i + 1));
        int t = sends[i];
        sends[i] = sends[j];
        sends[j] = t;
    }
    pid_t pids[TH_MAX_WORKERS];
    th_start(conn, "actors/historical-data/tb-historical-data", "historical-data", 3, pids, NULL,
             log_path);
    for (int wave = 0; wave < 3; wave++) {
        for (int i = n * wave / 3; i < n * (wave + 1) / 3; i++) {
            int s = sends[i] / BURST, t = sends[i] % BURST;
            publish_tick(syms[s], &sc[s][t]);
            /* Some copies right behind their tick: the same batch. */
            if (i % 97 == 0) publish_tick(syms[s], &sc[s][t]);
        }
        ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
        usleep(100000);
    }
    static th_bar want[2 * BURST + 64];
    for (int s = 0; s < NBURST; s++) wait_for_ticks(syms[s], BURST);
    usleep(500000); /* late copies, if any, must change nothing */
    for (int s = 0; s < NBURST; s++) {
        size_t nwant = expected_bars_of(sc[s], BURST, want, sizeof want / sizeof want[0]);
        th_bar *got = NULL;
        size_t ngot = th_load_bars(pg, syms[s], &got);
        assert_same_bars(got, ngot, want, nwant, syms[s]);
        free(got);
        ck_assert_int_eq(th_scalar(pg, SEEN_BITS_SQL, syms[s]), BURST);
    }
    th_stop(pids, 3);
}
END_TEST

int main(void) {
    Suite *s = suite_create("hist_bars");
    TCase *tc = tcase_create("bars");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, one_and_three_workers_same_bars);
    tcase_add_test(tc, closed_bar_announced_once);
    tcase_add_test(tc, bars_closed_by_their_own_batch);
    tcase_add_test(tc, a_bar_stored_elsewhere_first_is_merged);
    tcase_add_test(tc, bad_ticks_are_refused_not_stored);
    tcase_add_test(tc, seen_guard_pruned_by_age);
    tcase_add_test(tc, copies_in_and_across_batches_count_once);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
