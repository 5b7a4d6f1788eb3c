/* Backtests over REST beside live trading.
 *
 * The whole platform runs with a live simulator (MD_MODE=sim feeding DAX,
 * SMI, CAC, FTSE) and a live sma_cross strategy trading a live account on
 * DAX. Through the gateway the test then:
 *
 * - sends bad requests: each gets its 4xx and no backtest appears;
 * - runs the EuStock DAX sma_cross 5/20 backtest twice at once at full
 *   speed and once paced (a trading day per millisecond): every fill of each
 *   equals the independent computation (tests/support/tb_eustock.c), every
 *   statistic of each report equals a second implementation of the README's
 *   definitions here (check_statistics), the
 *   three reports are equal field by field (but their ids), and a fourth
 *   run started after them, alone, equals them too;
 * - checks isolation: no fill of the live account is on a backtest symbol,
 *   every fill of a run is on its own symbols;
 * - checks that the live account traded exactly as it would have without
 *   the backtests: the test records the simulator's DAX ticks itself from
 *   before the live strategy starts, computes the sma_cross 2/4 crossings
 *   on them (tests/support/tb_eustock.c), and every signal of the live
 *   account from its first one on is a computed crossing and every crossing
 *   a signal, each with one fill of qty 1 at the next tick's price and time
 *   (event time, no slippage), and nothing else;
 * - runs a 3 x 2 grid: 6 children, ranked by sharpe;
 * - cancels a slow paced run: its replay reports `canceled` within a second
 *   and its (partial) report is still served. */
#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_eustock.h"
#include "tb_invariants.h"
#include "tb_services.h"
#include "tb_test.h"
#include "test_gateway_fixture.h"

#define N_SERVICES 7
#define FAST       5
#define SLOW       20
#define RUN_MS     120000

static const char *const services[N_SERVICES] = {
    "market-data",         "signal-processing", "risk-management", "trading-execution",
    "position-management", "analytics",         "historical-data"};

static bus_config cfg;
static bus_conn *conn;
static PGconn *pg;
static char log_path[512], tag[40], admin[128];
static pid_t children[N_SERVICES];
static gw_proc gw;
static tb_eustock eu;
static tb_eu_fill want[TB_EU_MAX_FILLS];
static size_t nwant;

/* The simulator's DAX ticks as the test heard them (a NATS callback
 * thread adds, the main thread reads after unsubscribing). */
typedef struct live_tick {
    uint64_t seq;
    int64_t ts;
    tb_fixed price; /* as signal-processing prices a tick: last, else the mid */
} live_tick;
static struct {
    pthread_mutex_t mu;
    live_tick *v;
    size_t n, cap;
    int bad;
} heard = {.mu = PTHREAD_MUTEX_INITIALIZER};
static natsSubscription *live_sub;

static void setup(void) {
    tb_test_config(&cfg, "backtest-test");
    conn = tb_test_conn(&cfg);
    pg = PQconnectdb(cfg.database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    const char *bd = getenv("TB_BINARY_DIR");
    snprintf(log_path, sizeof log_path, "%s/test_backtest.log", bd ? bd : "/tmp");
    tb_test_unique(tag, sizeof tag, "BT");
    memset(children, 0, sizeof children);
    memset(&gw, 0, sizeof gw);
    tb_eu_load_dax(&eu);
    nwant = tb_eu_sma_fills(&eu, FAST, SLOW, want);
    ck_assert_uint_gt(nwant, 20);
}

static void teardown(void) {
    if (live_sub) natsSubscription_Destroy(live_sub);
    live_sub = NULL;
    free(heard.v);
    heard.v = NULL;
    heard.n = heard.cap = 0;
    gw_stop(&gw);
    tb_services_stop(children, N_SERVICES);
    PQfinish(pg);
    bus_conn_close(conn);
}

static void start_all(void) {
    char dir[512];
    const char *src = getenv("TB_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/data", src ? src : ".");
    setenv("MD_REPLAY_DIR", dir, 1);
    setenv("BACKTEST_QUIET_MS", "1000", 1);
    /* A consumer given up on fails the run; on a loaded machine (sanitizers,
     * parallel suites) a batch may take seconds, which is not a stall. */
    setenv("MD_REPLAY_STALL_MS", "30000", 1);
    /* The live simulator: 4 symbols, 20 ticks/s. */
    static const char *const env[N_SERVICES] = {"MD_RATE=20", NULL, NULL, "EXEC_SLIPPAGE_BPS=0"};
    tb_services_start(conn, services, env, N_SERVICES, tag, log_path, children);
    gw_start(&gw, tag, NULL);
    gw_admin_key(admin, sizeof admin);
}

/* signal-processing's price of a tick (sp_tick_price): the last trade,
 * else (bid + ask) / 2 rounded half to even in 1e-8 units; 0: none. */
static tb_fixed tick_price(const tb_tick *t) {
    if (t->last > 0) return t->last;
    if (t->bid <= 0 || t->ask <= 0) return 0;
    __int128 sum = (__int128)t->bid + t->ask;
    tb_fixed mid = (tb_fixed)(sum / 2);
    if ((sum & 1) && (mid & 1)) mid++;
    return mid;
}

static void on_live_tick(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *arg) {
    (void)nc, (void)sub, (void)arg;
    tb_tick t;
    tb_status s =
        tb_decode(&tb_tick_desc, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &t, NULL);
    pthread_mutex_lock(&heard.mu);
    if (s != TB_OK || tick_price(&t) <= 0) {
        heard.bad++;
    } else {
        if (heard.n == heard.cap) {
            size_t cap = heard.cap ? 2 * heard.cap : 1024;
            live_tick *v = realloc(heard.v, cap * sizeof *v);
            if (v == NULL) {
                heard.bad++;
                goto out;
            }
            heard.v = v;
            heard.cap = cap;
        }
        heard.v[heard.n++] = (live_tick){.seq = t.seq, .ts = t.ts, .price = tick_price(&t)};
    }
out:
    pthread_mutex_unlock(&heard.mu);
    natsMsg_Destroy(m);
}

/* Records the simulator's DAX ticks from now on. */
static void hear_live_ticks(void) {
    natsConnection *nc = bus_conn_nats(conn);
    ck_assert_int_eq(natsConnection_Subscribe(&live_sub, nc, "md.tick.DAX", on_live_tick, NULL),
                     NATS_OK);
    ck_assert_int_eq(natsSubscription_SetPendingLimits(live_sub, 1000000, 256 * 1024 * 1024),
                     NATS_OK);
    ck_assert_int_eq(natsConnection_Flush(nc), NATS_OK);
}

/* Runs sql with two text parameters; the rows (the caller clears them). */
static PGresult *query2(const char *sql, const char *p1, const char *p2) {
    const char *p[2] = {p1, p2};
    PGresult *r = PQexecParams(pg, sql, 2, NULL, p, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(pg));
    return r;
}

/* A time PostgreSQL kept (microseconds, rounded to the nearest) is ns. */
static bool near_us(long long us, int64_t ns) {
    long long d = us * 1000 - (long long)ns;
    return d >= -500 && d <= 500;
}

/* The live account's signals and fills against the sma_cross 2/4 crossings
 * of the ticks heard: equal one by one from its first signal on, up to the
 * last tick heard (see the top of the file). */
static void check_live(const char *acct) {
    ck_assert_int_eq(natsSubscription_Unsubscribe(live_sub), NATS_OK);
    pthread_mutex_lock(&heard.mu);
    size_t n = heard.n;
    int bad = heard.bad;
    pthread_mutex_unlock(&heard.mu);
    ck_assert_msg(bad == 0, "%d DAX ticks not decoded or without a price", bad);
    ck_assert_uint_gt(n, 50);
    static tb_eustock tk;
    if (n > TB_EU_MAX_CLOSES) n = TB_EU_MAX_CLOSES; /* the first ones are enough */
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(i == 0 || heard.v[i].seq == heard.v[i - 1].seq + 1,
                      "DAX ticks heard jump from #%llu to #%llu",
                      (unsigned long long)heard.v[i - 1].seq, (unsigned long long)heard.v[i].seq);
        tk.closes[i] = heard.v[i].price;
        tk.times[i] = heard.v[i].ts;
    }
    tk.nclose = n;
    uint64_t first = heard.v[0].seq, last = heard.v[n - 1].seq;
    static tb_eu_fill calc[TB_EU_MAX_FILLS];
    size_t ncalc = tb_eu_sma_fills(&tk, 2, 4, calc);

    /* Its signals whose fill tick was heard: wait until signal-processing
     * has made as many as computed from its first one on (it may still be
     * on the last ticks heard) and their fills are booked. */
    char lastbuf[32];
    snprintf(lastbuf, sizeof lastbuf, "%llu", (unsigned long long)last);
    int64_t end = bus_mono_ns() + INT64_C(30000000000);
    PGresult *sg = NULL;
    for (;;) {
        PQclear(sg);
        sg = query2("SELECT s.tick_seq, s.side, s.fill_price::text, s.fill_seq, "
                    "(SELECT count(*) FROM fills f JOIN orders o USING (order_id) "
                    "JOIN applied_fills a USING (fill_id) WHERE o.signal_id = s.signal_id) "
                    "FROM signals s WHERE s.account = $1 AND s.fill_seq <= $2::bigint "
                    "ORDER BY s.tick_seq",
                    acct, lastbuf);
        int unbooked = 0;
        for (int i = 0; i < PQntuples(sg); i++) unbooked += atoll(PQgetvalue(sg, i, 4)) == 0;
        size_t want_n = 0;
        if (PQntuples(sg) > 0) {
            uint64_t f = strtoull(PQgetvalue(sg, 0, 0), NULL, 10);
            size_t j = 0;
            while (j < ncalc && first + calc[j].signal_seq - 1 < f) j++;
            want_n = ncalc - j;
        }
        if (PQntuples(sg) > 0 && (size_t)PQntuples(sg) >= want_n && unbooked == 0) break;
        ck_assert_msg(bus_mono_ns() < end,
                      "%s: %d signals (%zu computed from the first), %d without a booked fill "
                      "after 30 s",
                      acct, PQntuples(sg), want_n, unbooked);
        usleep(200000);
    }
    size_t nsig = (size_t)PQntuples(sg);
    ck_assert_msg(nsig >= 3, "%s: %zu signals in %zu ticks", acct, nsig, n);
    uint64_t f0 = strtoull(PQgetvalue(sg, 0, 0), NULL, 10);
    ck_assert_msg(f0 > first, "%s: first signal on #%llu, before the first tick heard #%llu", acct,
                  (unsigned long long)f0, (unsigned long long)first);
    size_t k = 0; /* the first computed crossing on or after the first signal */
    while (k < ncalc && first + calc[k].signal_seq - 1 < f0) k++;
    ck_assert_msg(ncalc - k == nsig, "%s: %zu signals from #%llu to #%llu, %zu crossings computed",
                  acct, nsig, (unsigned long long)f0, (unsigned long long)last, ncalc - k);
    for (size_t i = 0; i < nsig; i++) {
        const tb_eu_fill *w = &calc[k + i];
        uint64_t seq = strtoull(PQgetvalue(sg, (int)i, 0), NULL, 10);
        uint64_t fseq = strtoull(PQgetvalue(sg, (int)i, 3), NULL, 10);
        int side = strcmp(PQgetvalue(sg, (int)i, 1), "buy") == 0 ? 1 : -1;
        tb_fixed px;
        ck_assert_int_eq(tb_fixed_parse_cstr(PQgetvalue(sg, (int)i, 2), &px), TB_OK);
        ck_assert_msg(seq == first + w->signal_seq - 1 && side == w->side && fseq == seq + 1 &&
                          px == w->price,
                      "%s signal %zu: #%llu side %d, fill #%llu at %lld; computed #%llu side %d "
                      "at %lld",
                      acct, i, (unsigned long long)seq, side, (unsigned long long)fseq,
                      (long long)px, (unsigned long long)(first + w->signal_seq - 1), w->side,
                      (long long)w->price);
    }
    PQclear(sg);

    /* Exactly one fill per signal, at the fill tick's price and time (kept
     * in microseconds), and no other fill up to the last tick heard. */
    char lastts[32];
    /* In whole microseconds, as kept (rounded): the last tick's, or one more
     * (ticks come 200 ms apart). */
    snprintf(lastts, sizeof lastts, "%lld", (long long)(heard.v[n - 1].ts / 1000 + 1));
    PGresult *fr = query2("SELECT o.signal_id, f.side, f.price::text, "
                          "(extract(epoch FROM f.ts) * 1000000)::bigint, f.qty::text, "
                          "f.symbol FROM fills f JOIN orders o USING (order_id) "
                          "WHERE f.account = $1 "
                          "AND (extract(epoch FROM f.ts) * 1000000)::bigint <= $2::bigint "
                          "ORDER BY f.ts, f.fill_id",
                          acct, lastts);
    ck_assert_msg((size_t)PQntuples(fr) == nsig,
                  "%s: %d fills up to the last tick heard, %zu "
                  "signals",
                  acct, PQntuples(fr), nsig);
    for (size_t i = 0; i < nsig; i++) {
        const tb_eu_fill *w = &calc[k + i];
        const char *sid = PQgetvalue(fr, (int)i, 0), *dash = strrchr(sid, '-');
        ck_assert_ptr_nonnull(dash);
        tb_fixed px, qty;
        ck_assert_int_eq(tb_fixed_parse_cstr(PQgetvalue(fr, (int)i, 2), &px), TB_OK);
        ck_assert_int_eq(tb_fixed_parse_cstr(PQgetvalue(fr, (int)i, 4), &qty), TB_OK);
        ck_assert_msg(strtoull(dash + 1, NULL, 10) == first + w->signal_seq - 1 &&
                          strcmp(PQgetvalue(fr, (int)i, 1), w->side > 0 ? "buy" : "sell") == 0 &&
                          px == w->price &&
                          near_us(atoll(PQgetvalue(fr, (int)i, 3)), tk.times[w->signal_seq]) &&
                          qty == TB_FIXED_SCALE && strcmp(PQgetvalue(fr, (int)i, 5), "DAX") == 0,
                      "%s fill %zu: %s %s %s x %s at %s us; want #%llu %s %lld at %lld us", acct, i,
                      sid, PQgetvalue(fr, (int)i, 1), PQgetvalue(fr, (int)i, 2),
                      PQgetvalue(fr, (int)i, 4), PQgetvalue(fr, (int)i, 3),
                      (unsigned long long)(first + w->signal_seq - 1), w->side > 0 ? "buy" : "sell",
                      (long long)w->price, (long long)tk.times[w->signal_seq] / 1000);
    }
    PQclear(fr);
    char msg[512];
    ck_assert_msg(tb_check_exactness(pg, acct, msg, sizeof msg), "%s: %s", acct, msg);
    printf("backtest: live account %s: %zu DAX ticks heard, %zu signals from #%llu, each filled "
           "as computed\n",
           acct, n, nsig, (unsigned long long)f0);
}

/* A live account trading DAX from the simulator with sma_cross 2/4. */
static void start_live(const char *acct) {
    tb_account a = {0}, aout;
    snprintf(a.account, sizeof a.account, "%s", acct);
    a.initial_cash = INT64_C(1000000) * TB_FIXED_SCALE;
    tb_error err = {0};
    ck_assert_msg(bus_request(conn, "api.accounts.create", &tb_account_desc, &a, &tb_account_desc,
                              &aout, 5000, NULL, &err) == TB_OK,
                  "%s", err.message);
    tb_strategy st = {0}, sout;
    snprintf(st.strategy_id, sizeof st.strategy_id, "%s-live", acct);
    snprintf(st.kind, sizeof st.kind, "sma_cross");
    snprintf(st.symbol, sizeof st.symbol, "DAX");
    snprintf(st.account, sizeof st.account, "%s", acct);
    snprintf(st.params, sizeof st.params, "{\"fast\":2,\"slow\":4}");
    snprintf(st.sizing, sizeof st.sizing, "fixed");
    st.qty = TB_FIXED_SCALE;
    st.enabled = true;
    ck_assert_msg(bus_request(conn, "api.strategies.create", &tb_strategy_desc, &st,
                              &tb_strategy_desc, &sout, 5000, NULL, &err) == TB_OK,
                  "%s", err.message);
}

static void http(http_resp *r, const char *method, const char *path, const char *body) {
    gw_http(r, &gw, method, path, admin, body);
}

/* POST /v1/backtests; the id into id (202 expected). */
static void start_bt(const char *body, char *id, size_t cap) {
    http_resp r;
    http(&r, "POST", "/v1/backtests", body);
    ck_assert_msg(r.status == 202, "POST %s: %ld %s", body, r.status, r.body);
    const char *v = json_string_value(json_object_get(r.json, "backtest_id"));
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "running");
    snprintf(id, cap, "%s", v);
    http_free(&r);
}

static long long bt_count(void) {
    PGresult *r = PQexec(pg, "SELECT count(*) FROM backtests");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

static void bad(const char *body, long status, const char *field) {
    long long before = bt_count();
    http_resp r;
    http(&r, "POST", "/v1/backtests", body);
    ck_assert_msg(r.status == status, "%s: %ld, want %ld: %s", body, r.status, status, r.body);
    if (field) ck_assert_msg(strcmp(http_error_field(&r), field) == 0, "%s: %s", body, r.body);
    http_free(&r);
    ck_assert_int_eq(bt_count(), before);
}

/* GET /v1/backtests/{id} until its status is not running. */
static json_t *wait_done(const char *id) {
    int64_t end = bus_mono_ns() + (int64_t)RUN_MS * 1000000;
    char path[128];
    snprintf(path, sizeof path, "/v1/backtests/%s", id);
    for (;;) {
        http_resp r;
        http(&r, "GET", path, NULL);
        ck_assert_msg(r.status == 200, "GET %s: %ld %s", path, r.status, r.body);
        const char *st = json_string_value(json_object_get(r.json, "status"));
        if (strcmp(st, "running") != 0) {
            json_t *j = json_incref(r.json);
            http_free(&r);
            return j;
        }
        http_free(&r);
        ck_assert_msg(bus_mono_ns() < end, "%s still running after %d ms (see %s)", id, RUN_MS,
                      log_path);
        usleep(200000);
    }
}

static json_t *report(const char *id) {
    char path[128];
    snprintf(path, sizeof path, "/v1/backtests/%s/report", id);
    http_resp r;
    http(&r, "GET", path, NULL);
    ck_assert_msg(r.status == 200 && r.json, "GET %s: %ld %s", path, r.status, r.body);
    json_t *j = json_incref(r.json);
    http_free(&r);
    return j;
}

/* The report without what names the run. */
static json_t *comparable(json_t *rep) {
    json_t *c = json_deep_copy(rep);
    json_object_del(c, "backtest_id");
    json_object_del(c, "account");
    return c;
}

/* The report's round trips are the expected fills pairwise: the position
 * goes 0, +-1, 0, ...; the last trip may be open. */
static void check_trades(const char *id, json_t *rep) {
    json_t *trades = json_object_get(rep, "trades");
    size_t n = json_array_size(trades);
    ck_assert_msg(n == (nwant + 1) / 2, "%s: %zu round trips, want %zu", id, n, (nwant + 1) / 2);
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(trades, i);
        const tb_eu_fill *in = &want[2 * i];
        ck_assert_str_eq(json_string_value(json_object_get(t, "symbol")), "DAX");
        ck_assert_str_eq(json_string_value(json_object_get(t, "side")),
                         in->side > 0 ? "long" : "short");
        tb_fixed px;
        int64_t ts;
        ck_assert_int_eq(
            tb_fixed_parse_cstr(json_string_value(json_object_get(t, "entry_price")), &px), TB_OK);
        ck_assert_int_eq(tb_ts_parse(json_string_value(json_object_get(t, "entry_ts")), &ts),
                         TB_OK);
        ck_assert_msg(px == in->price && ts / 1000 == in->ts_us, "%s trip %zu entry", id, i);
        if (2 * i + 1 < nwant) {
            const tb_eu_fill *out = &want[2 * i + 1];
            ck_assert_int_eq(
                tb_fixed_parse_cstr(json_string_value(json_object_get(t, "exit_price")), &px),
                TB_OK);
            ck_assert_int_eq(tb_ts_parse(json_string_value(json_object_get(t, "exit_ts")), &ts),
                             TB_OK);
            ck_assert_msg(px == out->price && ts / 1000 == out->ts_us, "%s trip %zu exit", id, i);
        }
    }
    ck_assert_int_eq(json_integer_value(json_object_get(rep, "fills")), (json_int_t)nwant);
    /* The statistics that follow from the fills alone, computed here: the
     * final equity (exact), the closed trips and the share of winners. */
    __int128 cash = (__int128)1000000 * TB_FIXED_SCALE;
    long long pos = 0, wins = 0, closed = 0;
    for (size_t i = 0; i < nwant; i++) {
        cash -= (__int128)want[i].side * want[i].price;
        pos += want[i].side;
        if (i % 2 == 1) {
            closed++;
            wins += (want[i - 1].side > 0 ? want[i].price - want[i - 1].price
                                          : want[i - 1].price - want[i].price) > 0;
        }
    }
    __int128 final = cash + (__int128)pos * eu.closes[eu.nclose - 1];
    json_t *eq = json_object_get(rep, "equity");
    ck_assert_uint_eq(json_array_size(eq), eu.nclose); /* one point a trading day */
    tb_fixed last = 0;
    ck_assert_int_eq(
        tb_fixed_parse_cstr(
            json_string_value(json_object_get(json_array_get(eq, eu.nclose - 1), "equity")), &last),
        TB_OK);
    ck_assert_msg((__int128)last == final, "%s: final equity %lld, want %lld", id, (long long)last,
                  (long long) final);
    ck_assert_int_eq(json_integer_value(json_object_get(rep, "round_trips")), closed);
    double wr = json_number_value(json_object_get(rep, "win_rate"));
    ck_assert_msg(fabs(wr - (double)wins / (double)closed) < 1e-5, "%s: win_rate %g, want %g", id,
                  wr, (double)wins / (double)closed);
    double tr = json_number_value(json_object_get(rep, "total_return"));
    double want_tr = (double) final / (double)((__int128)1000000 * TB_FIXED_SCALE) - 1;
    ck_assert_msg(fabs(tr - want_tr) <= 1e-5 * fabs(want_tr) + 1e-12,
                  "%s: total_return %g, want %g", id, tr, want_tr);
    printf("backtest %s: %zu fills, %lld trips, win rate %.4f, total return %.6f, sharpe %s\n", id,
           nwant, closed, wr, tr,
           json_is_number(json_object_get(rep, "sharpe")) ? "computed" : "null");
}

/* A report's double: within 6 significant digits (the gateway rounds to
 * them) of the value computed here. */
static void near(const char *id, json_t *rep, const char *k, double computed) {
    json_t *v = json_object_get(rep, k);
    ck_assert_msg(json_is_number(v), "%s: %s is not a number", id, k);
    double got = json_number_value(v);
    ck_assert_msg(fabs(got - computed) <= 1e-5 * fabs(computed) + 1e-12,
                  "%s: %s %.9g, computed %.9g", id, k, got, computed);
}

/* A report's exact money field equals v (fixed point). */
static void money(const char *id, json_t *rep, const char *k, tb_fixed v) {
    const char *txt = json_string_value(json_object_get(rep, k));
    ck_assert_msg(txt != NULL, "%s: %s is not a decimal string", id, k);
    tb_fixed got;
    ck_assert_int_eq(tb_fixed_parse_cstr(txt, &got), TB_OK);
    ck_assert_msg(got == v, "%s: %s %s, computed %lld (1e-8 units)", id, k, txt, (long long)v);
}

/* num / den rounded half to even (den > 0). */
static tb_fixed div_even(__int128 num, long long den) {
    __int128 q = num / den, r = num % den;
    if (r < 0) r = -r;
    if (2 * r > den || (2 * r == den && (q & 1))) q += num < 0 ? -1 : 1;
    return (tb_fixed)q;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The report's equity and trade statistics against a second implementation
 * of the README's definitions (actors/analytics/README.md), from the
 * computed fills and the file's closes alone: the equity at every close,
 * its daily returns (P = 252, no risk-free rate), the round trips. */
static void check_statistics(const char *id, json_t *rep) {
    size_t n = eu.nclose;
    static double eq[TB_EU_MAX_CLOSES];
    __int128 cash = (__int128)1000000 * TB_FIXED_SCALE;
    long long pos = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        for (; k < nwant && want[k].ts_us * 1000 == eu.times[i]; k++) {
            cash -= (__int128)want[k].side * want[k].price;
            pos += want[k].side;
        }
        eq[i] = (double)(cash + (__int128)pos * eu.closes[i]) / TB_FIXED_SCALE;
    }
    ck_assert_uint_eq(k, nwant);
    /* Daily returns: one close a UTC day. */
    static double r[TB_EU_MAX_CLOSES], sorted[TB_EU_MAX_CLOSES];
    size_t nr = n - 1;
    double mean = 0, down = 0;
    for (size_t i = 1; i < n; i++) {
        r[i - 1] = eq[i] / eq[i - 1] - 1;
        mean += r[i - 1];
        if (r[i - 1] < 0) down += r[i - 1] * r[i - 1];
    }
    mean /= (double)nr;
    double var = 0;
    for (size_t i = 0; i < nr; i++) var += (r[i] - mean) * (r[i] - mean);
    double sd = sqrt(var / (double)(nr - 1)), P = 252;
    ck_assert_int_eq(json_integer_value(json_object_get(rep, "returns")), (json_int_t)nr);
    near(id, rep, "volatility", sd * sqrt(P));
    near(id, rep, "sharpe", mean / sd * sqrt(P));
    near(id, rep, "sortino", mean / sqrt(down / (double)nr) * sqrt(P));
    double years = (double)(eu.times[n - 1] - eu.times[0]) / 1e9 / (365.25 * 86400);
    double cagr = pow(eq[n - 1] / eq[0], 1 / years) - 1;
    near(id, rep, "cagr", cagr);
    double peak = eq[0], mdd = 0;
    for (size_t i = 0; i < n; i++) {
        if (eq[i] > peak) peak = eq[i];
        if ((peak - eq[i]) / peak > mdd) mdd = (peak - eq[i]) / peak;
    }
    near(id, rep, "max_drawdown", mdd);
    near(id, rep, "calmar", cagr / mdd);
    memcpy(sorted, r, nr * sizeof *r);
    qsort(sorted, nr, sizeof *sorted, cmp_double);
    near(id, rep, "var_95", -sorted[(size_t)ceil(0.05 * (double)nr) - 1]);
    /* Round trips: want[] alternates opening and closing one unit. */
    __int128 win_sum = 0, loss_sum = 0;
    long long wins = 0, losses = 0, trips = 0;
    int64_t in_market = 0;
    for (size_t i = 0; i < nwant; i += 2) {
        int64_t exit_ns = i + 1 < nwant ? want[i + 1].ts_us * 1000 : eu.times[n - 1];
        in_market += exit_ns - want[i].ts_us * 1000;
        if (i + 1 >= nwant) break;
        __int128 pnl = (__int128)want[i].side * (want[i + 1].price - want[i].price);
        trips++;
        if (pnl > 0) win_sum += pnl, wins++;
        if (pnl < 0) loss_sum += pnl, losses++;
    }
    near(id, rep, "exposure", (double)in_market / (double)(eu.times[n - 1] - eu.times[0]));
    near(id, rep, "profit_factor", (double)win_sum / (double)-loss_sum);
    money(id, rep, "avg_win", div_even(win_sum, wins));
    money(id, rep, "avg_loss", div_even(loss_sum, losses));
    money(id, rep, "expectancy", div_even(win_sum + loss_sum, trips));
    money(id, rep, "fees", 0);
    printf("backtest %s: cagr %.6g, volatility %.6g, sharpe %.6g, sortino %.6g, max drawdown "
           "%.6g, var_95 %.6g, exposure %.6g, profit factor %.6g: as computed here\n",
           id, cagr, sd * sqrt(P), mean / sd * sqrt(P), mean / sqrt(down / (double)nr) * sqrt(P),
           mdd, -sorted[(size_t)ceil(0.05 * (double)nr) - 1],
           (double)in_market / (double)(eu.times[n - 1] - eu.times[0]),
           (double)win_sum / (double)-loss_sum);
}

/* Fills on symbols of the pattern (LIKE) of account. */
static long long fills_like(const char *acct, const char *like, bool match) {
    PGresult *r = query2(match ? "SELECT count(*) FROM fills WHERE account = $1 AND symbol LIKE $2"
                               : "SELECT count(*) FROM fills WHERE account = $1 AND symbol NOT "
                                 "LIKE $2",
                         acct, like);
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

static const char *const DAX_BODY =
    "{\"kind\":\"sma_cross\",\"params\":{\"fast\":5,\"slow\":20},\"symbols\":[\"DAX\"],"
    "\"data\":{\"file\":\"eustock_daily.csv\"},\"format\":\"closes\",\"initial_cash\":\"1000000\","
    "\"speed\":%s}";

START_TEST(backtests_beside_live_trading) {
    hear_live_ticks();
    start_all();
    char live[64];
    snprintf(live, sizeof live, "%sL", tag);
    start_live(live);

    /* Bad input: a clear 4xx, nothing started. */
    bad("{\"kind\":\"nope\",\"symbols\":\"DAX\",\"data\":{\"file\":\"eustock_daily.csv\"}}", 400,
        "kind");
    bad("{\"kind\":\"sma_cross\",\"params\":{\"fast\":5,\"slow\":20,\"zap\":1},\"symbols\":\"DAX\","
        "\"data\":{\"file\":\"eustock_daily.csv\"}}",
        400, NULL);
    bad("{\"kind\":\"sma_cross\",\"symbols\":\"DAX\",\"data\":{\"file\":\"/etc/passwd\"}}", 403,
        "data");
    bad("{\"kind\":\"sma_cross\",\"symbols\":\"DAX\",\"data\":{\"file\":\"eustock_daily.csv\"},"
        "\"grid\":{\"fast\":[]}}",
        400, "grid");
    bad("{\"kind\":\"sma_cross\",\"symbols\":\"DAX\",\"data\":{\"file\":\"eustock_daily.csv\"},"
        "\"grid\":{\"fast\":[1,2,3,4,5,6,7,8],\"slow\":[20,21,22,23,24,25,26,27]}}",
        413, "grid");
    bad("{\"kind\":\"sma_cross\",\"symbols\":\"NOPE\",\"data\":{\"file\":\"eustock_daily.csv\"}}",
        400, "symbols");
    bad("{\"kind\":\"sma_cross\",\"params\":{\"fast\":5,\"slow\":20},\"symbols\":\"DAX\","
        "\"data\":{\"file\":\"eustock_daily.csv\"},\"fee_bps\":5000}",
        400, "fee_bps");

    /* Two identical runs at once and a paced one, beside the live trading. */
    char body[512], a[64], b[64], p[64], solo[64];
    snprintf(body, sizeof body, DAX_BODY, "0");
    start_bt(body, a, sizeof a);
    start_bt(body, b, sizeof b);
    snprintf(body, sizeof body, DAX_BODY, "86400000"); /* a trading day per millisecond */
    start_bt(body, p, sizeof p);
    const char *ids[] = {a, b, p};
    json_t *reps[4];
    for (int i = 0; i < 3; i++) {
        json_t *st = wait_done(ids[i]);
        ck_assert_msg(strcmp(json_string_value(json_object_get(st, "status")), "done") == 0,
                      "%s: %s", ids[i], json_dumps(st, 0));
        json_decref(st);
        reps[i] = report(ids[i]);
        check_trades(ids[i], reps[i]);
        check_statistics(ids[i], reps[i]);
    }
    /* The same run again, alone (the simulator still live). */
    snprintf(body, sizeof body, DAX_BODY, "0");
    start_bt(body, solo, sizeof solo);
    json_decref(wait_done(solo));
    reps[3] = report(solo);
    json_t *base = comparable(reps[3]);
    for (int i = 0; i < 3; i++) {
        json_t *c = comparable(reps[i]);
        const char *k;
        json_t *v;
        json_object_foreach(base, k, v) {
            json_t *o = json_object_get(c, k);
            if (json_equal(o, v)) continue;
            char *x = json_dumps(o, JSON_ENCODE_ANY), *y = json_dumps(v, JSON_ENCODE_ANY);
            ck_assert_msg(0, "%s differs from %s alone in %s: %.300s / %.300s", ids[i], solo, k,
                          x ? x : "(absent)", y ? y : "null");
        }
        ck_assert(json_equal(c, base));
        json_decref(c);
    }
    /* tb-ctl backtest: the same run from the command line, the same report. */
    char bin[512], cmd[1200];
    tb_test_bin(bin, sizeof bin, "tools/ctl/tb-ctl");
    snprintf(cmd, sizeof cmd,
             "'%s' backtest eustock_daily.csv --kind sma_cross --symbols DAX --params "
             "'{\"fast\":5,\"slow\":20}' --format closes --cash 1000000 2>>'%s'",
             bin, log_path);
    FILE *pipe = popen(cmd, "r");
    ck_assert_ptr_nonnull(pipe);
    json_t *line = json_loadf(pipe, JSON_DISABLE_EOF_CHECK, NULL);
    ck_assert_int_eq(pclose(pipe), 0);
    ck_assert_msg(line != NULL, "tb-ctl backtest printed no report (see %s)", log_path);
    json_t *cl = comparable(line);
    ck_assert(json_equal(cl, base));
    json_decref(cl);
    json_decref(line);
    json_decref(base);
    for (int i = 0; i < 4; i++) json_decref(reps[i]);

    /* Isolation: the live account never saw a run's symbol, a run only its own. */
    ck_assert_int_eq(fills_like(live, "bt%", true), 0);
    char own[80];
    for (int i = 0; i < 3; i++) {
        snprintf(own, sizeof own, "%s-%%", ids[i]);
        ck_assert_int_eq(fills_like(ids[i], own, false), 0);
        ck_assert_int_eq(fills_like(ids[i], own, true), (long long)nwant);
    }

    /* A 3 x 2 grid: 6 children ranked by sharpe. */
    char grid[64];
    start_bt("{\"kind\":\"sma_cross\",\"params\":{\"fast\":5,\"slow\":20},\"symbols\":\"DAX\","
             "\"data\":{\"file\":\"eustock_daily.csv\"},\"initial_cash\":\"1000000\","
             "\"grid\":{\"fast\":[3,5,8],\"slow\":[20,30]}}",
             grid, sizeof grid);
    json_t *g = wait_done(grid);
    ck_assert_str_eq(json_string_value(json_object_get(g, "status")), "done");
    json_t *kids = json_object_get(g, "children");
    ck_assert_uint_eq(json_array_size(kids), 6);
    double prev = 1e300;
    for (size_t i = 0; i < 6; i++) {
        json_t *k = json_array_get(kids, i);
        ck_assert_int_eq(json_integer_value(json_object_get(k, "rank")), (json_int_t)i + 1);
        ck_assert_str_eq(json_string_value(json_object_get(k, "status")), "done");
        json_t *sc = json_object_get(k, "score");
        if (json_is_number(sc)) {
            ck_assert(json_number_value(sc) <= prev);
            prev = json_number_value(sc);
        } else {
            prev = -1e300; /* nulls last */
        }
    }
    json_decref(g);

    /* Cancel: a run paced at a trading day per 10 ms (about 19 s). */
    char slow[64];
    snprintf(body, sizeof body, DAX_BODY, "8640000");
    start_bt(body, slow, sizeof slow);
    tb_query q = {0};
    snprintf(q.id, sizeof q.id, "%s", slow);
    tb_md_status ms = {0};
    tb_error err = {0};
    int64_t end = bus_mono_ns() + INT64_C(20000000000);
    do {
        usleep(100000);
        ck_assert(bus_mono_ns() < end);
    } while (bus_request(conn, "api.market.status", &tb_query_desc, &q, &tb_md_status_desc, &ms,
                         2000, NULL, &err) != TB_OK ||
             ms.ticks < 100);
    char path[128];
    snprintf(path, sizeof path, "/v1/backtests/%s", slow);
    http_resp r;
    http(&r, "DELETE", path, NULL);
    ck_assert_msg(r.status == 200, "DELETE: %ld %s", r.status, r.body);
    http_free(&r);
    int64_t t0 = bus_mono_ns();
    for (;;) {
        ck_assert_int_eq(bus_request(conn, "api.market.status", &tb_query_desc, &q,
                                     &tb_md_status_desc, &ms, 2000, NULL, &err),
                         TB_OK);
        if (strcmp(ms.state, "canceled") == 0) break;
        ck_assert_msg(bus_mono_ns() - t0 < INT64_C(1000000000), "replay still %s after 1 s",
                      ms.state);
        usleep(20000);
    }
    ck_assert_uint_lt(ms.ticks, eu.nclose);
    json_t *st = wait_done(slow);
    ck_assert_str_eq(json_string_value(json_object_get(st, "status")), "canceled");
    json_decref(st);
    json_t *part = report(slow);
    ck_assert_str_eq(json_string_value(json_object_get(part, "status")), "canceled");
    ck_assert_uint_lt(json_array_size(json_object_get(part, "trades")), (nwant + 1) / 2);
    json_decref(part);
    /* Scoping: a trader key limited to the live account sees its runs only. */
    char tkey[64], tkid[64], mine[64], tbody[600];
    gw_new_key(&gw, admin, "trader", live, tkey, tkid);
    snprintf(body, sizeof body, DAX_BODY, "0");
    gw_http(&r, &gw, "POST", "/v1/backtests", tkey, body);
    ck_assert_msg(r.status == 403, "no account: %ld %s", r.status, r.body);
    http_free(&r);
    snprintf(tbody, sizeof tbody, "{\"account\":\"%s\",%s", live, body + 1);
    gw_http(&r, &gw, "POST", "/v1/backtests", tkey, tbody);
    ck_assert_msg(r.status == 202, "own account: %ld %s", r.status, r.body);
    snprintf(mine, sizeof mine, "%s", json_string_value(json_object_get(r.json, "backtest_id")));
    http_free(&r);
    snprintf(path, sizeof path, "/v1/backtests/%s", a);
    gw_http(&r, &gw, "GET", path, tkey, NULL);
    ck_assert_msg(r.status == 404, "another's run: %ld %s", r.status, r.body);
    http_free(&r);
    gw_http(&r, &gw, "GET", "/v1/backtests", tkey, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "count")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(r.json, "items"), 0), "backtest_id")),
                     mine);
    http_free(&r);
    snprintf(path, sizeof path, "/v1/backtests/%s", mine);
    gw_http(&r, &gw, "DELETE", path, tkey, NULL);
    ck_assert_msg(r.status == 200, "cancel own run: %ld %s", r.status, r.body);
    http_free(&r);

    snprintf(path, sizeof path, "/v1/backtests/%s/report.svg", a);
    http(&r, "GET", path, NULL);
    ck_assert_msg(r.status == 200 && r.body && strstr(r.body, "<svg"), "svg: %ld", r.status);
    http_free(&r);

    /* The live account, all along beside the runs, as if they never ran. */
    check_live(live);
}
END_TEST

int main(void) {
    Suite *s = suite_create("backtest");
    TCase *tc = tcase_create("backtest");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 500);
    tcase_add_test(tc, backtests_beside_live_trading);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
