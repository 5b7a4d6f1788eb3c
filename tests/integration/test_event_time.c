/* A backtest's fills follow the data, not the machine (event time).
 *
 * The EuStock DAX closes are replayed through market-data, signal-processing,
 * risk-management, trading-execution and position-management with an
 * sma_cross 5/20 strategy (fixed qty 1, no fees, no slippage), once at full
 * speed and once paced at about 1,000 ticks/s, each run with its own account,
 * symbol and strategy. The test computes what must happen on its own, from
 * the file: the crossings of the two moving averages (exact integer sums),
 * each decided on a close and filled at the next close at that close's time;
 * the position after every fill; the realized P&L, the cash and the mark at
 * the end. Every fill of both runs must be exactly that, so both runs are
 * also equal to each other; a third run counts the strategy's periods in
 * daily bars and must give the same fills. The order rate limit stays at 50/s: counted in
 * event time, daily closes never reach it, however fast they are replayed. The runs are
 * backtest accounts with little cash (INITIAL_CCY): buying power, too, must be counted
 * as in event time, every earlier order filled and booked. */
#include <libpq-fe.h>
#include <nats/nats.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_eustock.h"
#include "tb_invariants.h"
#include "tb_services.h"
#include "tb_test.h"

#define MAX_FILLS  TB_EU_MAX_FILLS
#define FAST       5
#define SLOW       20
#define SETTLE_MS  60000
#define QUIET_MS   1000
#define N_SERVICES 5
/* Initial cash, whole units: enough for the one DAX unit the strategy holds
 * at most (the highest close is 6186.09), not for two at the higher closes.
 * An earlier signal's order still in flight when the next is decided would
 * be counted against it (open orders reserve buying power) and the next
 * refused: the runs are backtest accounts, whose signals risk-management
 * decides only once the earlier orders are filled and booked, as in event
 * time they are. */
#define INITIAL_CCY 10000

static const char *const services[N_SERVICES] = {"market-data", "signal-processing",
                                                 "risk-management", "trading-execution",
                                                 "position-management"};

static bus_config cfg;
static bus_conn *conn;
static PGconn *pg;
static char log_path[512], tag[40];
static pid_t children[N_SERVICES];
static pid_t extra_sp;      /* a second signal-processing */
static pid_t extra_risk[2]; /* a second and a third risk-management */

/* The DAX closes of data/eustock_daily.csv, in file order, and the fills
 * the strategy must make on them (tests/support/tb_eustock.c). */
static tb_eustock eu;
#define closes eu.closes
#define times  eu.times
#define dates  eu.dates
#define nclose eu.nclose
typedef tb_eu_fill fill;

static fill want[TB_EU_MAX_FILLS];
static size_t nwant;

static void setup(void) {
    tb_test_config(&cfg, "event-time-test");
    conn = tb_test_conn(&cfg);
    pg = PQconnectdb(cfg.database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    const char *bd = getenv("TB_BINARY_DIR");
    snprintf(log_path, sizeof log_path, "%s/test_event_time.log", bd ? bd : "/tmp");
    tb_test_unique(tag, sizeof tag, "ET");
    memset(children, 0, sizeof children);
    tb_eu_load_dax(&eu);
    nwant = tb_eu_sma_fills(&eu, FAST, SLOW, want);
    ck_assert_uint_gt(nwant, 20);
}

/* From the test body, not the fixture: a failure here still runs the
 * teardown, which stops whatever was started. */
static void start_services(void) {
    static const char *const env[N_SERVICES] = {"MD_MODE=off", "EXEC_SLIPPAGE_BPS=0",
                                                "EXEC_SLIPPAGE_BPS=0", "EXEC_SLIPPAGE_BPS=0",
                                                "EXEC_SLIPPAGE_BPS=0"};
    tb_services_start(conn, services, env, N_SERVICES, tag, log_path, children);
}

static void teardown(void) {
    if (extra_sp > 0) tb_services_stop(&extra_sp, 1);
    extra_sp = 0;
    tb_services_stop(extra_risk, 2);
    memset(extra_risk, 0, sizeof extra_risk);
    tb_services_stop(children, N_SERVICES);
    PQfinish(pg);
    bus_conn_close(conn);
}

static PGresult *query(const char *sql, const char *acct) {
    const char *params[] = {acct};
    PGresult *r = PQexecParams(pg, sql, 1, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(pg));
    return r;
}

/* A backtest account with cash (whole units) and risk limits that do not
 * bind, except the order rate at its default of 50/s and the cash. */
static void create_account(const char *acct, int64_t cash) {
    tb_account a = {0}, aout;
    snprintf(a.account, sizeof a.account, "%s", acct);
    snprintf(a.name, sizeof a.name, "event time test");
    a.initial_cash = cash * TB_FIXED_SCALE;
    tb_error err = {0};
    ck_assert_msg(bus_request(conn, "api.accounts.create", &tb_account_desc, &a, &tb_account_desc,
                              &aout, 5000, NULL, &err) == TB_OK,
                  "create account: %s", err.message);
    tb_risk_limits l = {0}, lout;
    snprintf(l.account, sizeof l.account, "%s", acct);
    l.max_orders_per_sec = 50;
    l.max_open_orders = 1000;
    l.max_position_qty = 1000 * TB_FIXED_SCALE;
    l.max_gross_exposure = INT64_C(1000000000) * TB_FIXED_SCALE;
    l.daily_loss_limit = INT64_C(1000000000) * TB_FIXED_SCALE;
    l.max_order_notional = INT64_C(1000000000) * TB_FIXED_SCALE;
    l.backtest = true;
    ck_assert_msg(bus_request(conn, "api.risk.limits.set", &tb_risk_limits_desc, &l,
                              &tb_risk_limits_desc, &lout, 5000, NULL, &err) == TB_OK,
                  "set limits: %s", err.message);
}

/* sma_cross FAST/SLOW, fixed qty 1, of acct on symbol; its periods in bars
 * of that interval, or in ticks (bars NULL). */
static void create_sma(const char *acct, const char *id, const char *symbol, const char *bars) {
    tb_strategy st = {0}, sout;
    snprintf(st.strategy_id, sizeof st.strategy_id, "%s", id);
    snprintf(st.kind, sizeof st.kind, "sma_cross");
    snprintf(st.symbol, sizeof st.symbol, "%s", symbol);
    snprintf(st.account, sizeof st.account, "%s", acct);
    if (bars)
        snprintf(st.params, sizeof st.params, "{\"fast\":%d,\"slow\":%d,\"bars\":\"%s\"}", FAST,
                 SLOW, bars);
    else
        snprintf(st.params, sizeof st.params, "{\"fast\":%d,\"slow\":%d}", FAST, SLOW);
    snprintf(st.sizing, sizeof st.sizing, "fixed");
    st.qty = TB_FIXED_SCALE;
    st.enabled = true;
    tb_error err = {0};
    ck_assert_msg(bus_request(conn, "api.strategies.create", &tb_strategy_desc, &st,
                              &tb_strategy_desc, &sout, 5000, NULL, &err) == TB_OK,
                  "create strategy: %s", err.message);
}

/* The run's account and its strategy on its own symbol. */
static void create_run(const char *acct, const char *bars) {
    create_account(acct, INITIAL_CCY);
    char id[TB_TOKEN_CAP], sym[TB_TOKEN_CAP];
    snprintf(id, sizeof id, "%s-sma", acct);
    snprintf(sym, sizeof sym, "%sDAX", acct);
    create_sma(acct, id, sym, bars);
}

/* Asks market-data to replay the closes file csv as feed acct at speed;
 * returns when it started (monotonic ns). */
static int64_t start_replay(const char *csv, const char *acct, uint64_t speed) {
    return tb_replay_start(conn, csv, "closes", acct, speed);
}

/* Fills of acct, booked (applied by position-management), in time order. */
static size_t booked_fills(const char *acct, fill *out, size_t cap) {
    PGresult *r = query("SELECT o.signal_id, f.side, f.price::text, "
                        "(extract(epoch FROM f.ts) * 1000000)::bigint, f.qty::text, f.fee::text "
                        "FROM fills f JOIN orders o USING (order_id) "
                        "JOIN applied_fills a USING (fill_id) WHERE f.account = $1 "
                        "ORDER BY f.ts, f.fill_id",
                        acct);
    size_t n = (size_t)PQntuples(r);
    ck_assert_uint_le(n, cap);
    for (size_t i = 0; i < n; i++) {
        const char *sid = PQgetvalue(r, (int)i, 0), *dash = strrchr(sid, '-');
        ck_assert_ptr_nonnull(dash);
        out[i].signal_seq = strtoull(dash + 1, NULL, 10);
        out[i].side = strcmp(PQgetvalue(r, (int)i, 1), "buy") == 0 ? 1 : -1;
        ck_assert_int_eq(tb_fixed_parse_cstr(PQgetvalue(r, (int)i, 2), &out[i].price), TB_OK);
        out[i].ts_us = strtoll(PQgetvalue(r, (int)i, 3), NULL, 10);
        tb_fixed qty, fee;
        ck_assert_int_eq(tb_fixed_parse_cstr(PQgetvalue(r, (int)i, 4), &qty), TB_OK);
        ck_assert_int_eq(tb_fixed_parse_cstr(PQgetvalue(r, (int)i, 5), &fee), TB_OK);
        ck_assert_int_eq(qty, TB_FIXED_SCALE);
        ck_assert_int_eq(fee, 0);
    }
    PQclear(r);
    return n;
}

static long long count(const char *sql, const char *acct) {
    PGresult *r = query(sql, acct);
    long long v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

/* Replays the DAX closes at speed (0 = full) for a fresh account, waits
 * until every expected fill is booked and nothing moved for QUIET_MS. */
static void run(const char *acct, const char *bars, uint64_t speed, fill *got, size_t *ngot) {
    create_run(acct, bars);
    char csv[600];
    snprintf(csv, sizeof csv, "%s.%s.csv", log_path, acct);
    FILE *f = fopen(csv, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "date,symbol,close\n");
    for (size_t i = 0; i < nclose; i++) {
        char px[TB_FIXED_STRLEN];
        tb_fixed_format(closes[i], px);
        fprintf(f, "%s,%sDAX,%s\n", dates[i], acct, px);
    }
    ck_assert_int_eq(fclose(f), 0);
    int64_t t0 = start_replay(csv, acct, speed);
    int64_t end = t0 + (int64_t)SETTLE_MS * 1000000, quiet_since = bus_mono_ns();
    long long last = -1, open = 0;
    for (;;) {
        long long n = count("SELECT count(*) FROM applied_fills a JOIN fills f USING (fill_id) "
                            "WHERE f.account = $1",
                            acct);
        open = count("SELECT count(*) FROM orders WHERE account = $1 AND status NOT IN "
                     "('filled','canceled','rejected','expired')",
                     acct);
        if (n != last) quiet_since = bus_mono_ns();
        last = n;
        if (n >= (long long)nwant && open == 0 &&
            bus_mono_ns() - quiet_since >= (int64_t)QUIET_MS * 1000000)
            break;
        ck_assert_msg(bus_mono_ns() < end,
                      "speed %llu: %lld of %zu fills booked, %lld orders open after %d ms (see %s)",
                      (unsigned long long)speed, n, nwant, open, SETTLE_MS, log_path);
        usleep(100000);
    }
    printf("event time: speed %llu: %zu ticks, %lld fills booked in %.1f s\n",
           (unsigned long long)speed, nclose, last, (double)(bus_mono_ns() - t0) / 1e9);
    *ngot = booked_fills(acct, got, MAX_FILLS);
    ck_assert_int_eq(
        count("SELECT count(*) FROM orders WHERE account = $1 AND status <> 'filled'", acct), 0);
    unlink(csv);
}

/* Every fill equals the independent one; the position path, the realized
 * P&L, the cash and the mark at the end follow from them. */
static void check_run(const char *acct, const fill *got, size_t ngot) {
    ck_assert_msg(ngot == nwant, "%s: %zu fills, want %zu", acct, ngot, nwant);
    long long qty = 0;
    __int128 cash = (__int128)INITIAL_CCY * TB_FIXED_SCALE, realized = 0;
    tb_fixed entry = 0;
    for (size_t i = 0; i < nwant; i++) {
        const fill *g = &got[i], *w = &want[i];
        ck_assert_msg(g->signal_seq == w->signal_seq && g->side == w->side &&
                          g->price == w->price && g->ts_us == w->ts_us,
                      "%s fill %zu: decided on #%llu, side %d, at %lld (%lld us); want #%llu "
                      "(%s), side %d, at the next close %lld (%s)",
                      acct, i, (unsigned long long)g->signal_seq, g->side, (long long)g->price,
                      (long long)g->ts_us, (unsigned long long)w->signal_seq,
                      dates[w->signal_seq - 1], w->side, (long long)w->price, dates[w->signal_seq]);
        /* Crossings alternate: the position goes 0, +-1, 0, +-1, ... */
        long long before = qty;
        qty += w->side;
        ck_assert_msg(qty >= -1 && qty <= 1, "position path leaves [-1, 1] at fill %zu", i);
        cash -= (__int128)w->side * w->price;
        if (before == 0)
            entry = w->price;
        else
            realized += (__int128)before * (w->price - entry); /* closes the one unit */
    }
    PGresult *r = query("SELECT qty::text, realized_pnl::text, last_price::text, avg_cost::text "
                        "FROM positions WHERE account = $1",
                        acct);
    ck_assert_int_eq(PQntuples(r), 1);
    tb_fixed pq, prl, plast, pavg;
    ck_assert_int_eq(tb_fixed_parse_cstr(PQgetvalue(r, 0, 0), &pq), TB_OK);
    ck_assert_int_eq(tb_fixed_parse_cstr(PQgetvalue(r, 0, 1), &prl), TB_OK);
    ck_assert_int_eq(tb_fixed_parse_cstr(PQgetvalue(r, 0, 2), &plast), TB_OK);
    ck_assert_int_eq(tb_fixed_parse_cstr(PQgetvalue(r, 0, 3), &pavg), TB_OK);
    PQclear(r);
    ck_assert_int_eq(pq, qty * TB_FIXED_SCALE);
    ck_assert_msg((__int128)prl == realized, "%s: realized %lld, want %lld", acct, (long long)prl,
                  (long long)realized);
    ck_assert_int_eq(plast, closes[nclose - 1]); /* marked at the file's last close */
    if (qty != 0) ck_assert_int_eq(pavg, entry);
    r = query("SELECT cash::text FROM accounts WHERE id = $1", acct);
    tb_fixed c;
    ck_assert_int_eq(tb_fixed_parse_cstr(PQgetvalue(r, 0, 0), &c), TB_OK);
    PQclear(r);
    ck_assert_msg((__int128)c == cash, "%s: cash %lld, want %lld", acct, (long long)c,
                  (long long)cash);
    char msg[512];
    ck_assert_msg(tb_check_exactness(pg, acct, msg, sizeof msg), "%s: %s", acct, msg);
    printf("event time: %s: %zu fills at the next close, position %lld, realized %.2f, final "
           "mark %.2f\n",
           acct, ngot, qty, (double)prl / TB_FIXED_SCALE, (double)plast / TB_FIXED_SCALE);
}

START_TEST(fills_at_the_next_close_whatever_the_speed) {
    static fill fast[MAX_FILLS], paced[MAX_FILLS];
    size_t nfast = 0, npaced = 0;
    char a0[64], a1[64];
    snprintf(a0, sizeof a0, "%sF", tag);
    snprintf(a1, sizeof a1, "%sP", tag);
    start_services();
    run(a0, NULL, 0, fast, &nfast);
    check_run(a0, fast, nfast);
    /* One trading day per millisecond: about 1,000 ticks/s. */
    run(a1, NULL, UINT64_C(86400000), paced, &npaced);
    check_run(a1, paced, npaced);
    /* Periods in daily bars: one tick a day, so a bar's close is its tick;
     * the decision on a day's bar is taken when the next day's tick starts
     * the next bar, and fills at it: the same fills again. */
    static fill daily[MAX_FILLS];
    size_t ndaily = 0;
    char a2[64];
    snprintf(a2, sizeof a2, "%sB", tag);
    run(a2, "1d", 0, daily, &ndaily);
    check_run(a2, daily, ndaily);
    ck_assert_uint_eq(nfast, npaced);
    for (size_t i = 0; i < nfast; i++) /* implied by the checks above; said plainly */
        ck_assert(fast[i].signal_seq == paced[i].signal_seq && fast[i].side == paced[i].side &&
                  fast[i].price == paced[i].price && fast[i].ts_us == paced[i].ts_us);
}
END_TEST

/* ---- two symbols sharing the cash ---- */

/* The DAX closes by their struct from here on: FTSE has one too. */
#undef closes
#undef times
#undef dates
#undef nclose

#define PAIR_CCY      6000 /* one unit of DAX and one of FTSE often do not both fit */
#define PAIR_FILL_CAP (2 * TB_EU_MAX_FILLS)

/* The account of a two-symbol run: a backtest account with little cash,
 * sma_cross FAST/SLOW on <acct>-DAX and on <acct>-FTSE (run-scoped names, as
 * bt<N>-DAX). */
static void create_pair(const char *acct) {
    create_account(acct, PAIR_CCY);
    static const char *const syms[2] = {"DAX", "FTSE"};
    for (int k = 0; k < 2; k++) {
        char id[TB_TOKEN_CAP], sym[TB_TOKEN_CAP];
        snprintf(id, sizeof id, "%s-%c", acct, syms[k][0]);
        snprintf(sym, sizeof sym, "%s-%s", acct, syms[k]);
        create_sma(acct, id, sym, NULL);
    }
}

/* Replays the DAX and FTSE closes, date by date, at speed for a fresh
 * account; waits until every signal (nsig, computed) is in, no order is
 * open, every fill is booked and nothing moved for QUIET_MS. The fills
 * into out as "symbol side price ts", in time then symbol order; the
 * refused signals (no order) into *refused. */
static size_t run_pair(const char *acct, uint64_t speed, size_t nsig, char (*out)[96],
                       long long *refused) {
    static tb_eustock ftse;
    tb_eu_load(&ftse, "FTSE");
    ck_assert_uint_eq(ftse.nclose, eu.nclose);
    create_pair(acct);
    char csv[600];
    snprintf(csv, sizeof csv, "%s.%s.csv", log_path, acct);
    FILE *f = fopen(csv, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "date,symbol,close\n");
    for (size_t i = 0; i < eu.nclose; i++) {
        char px[TB_FIXED_STRLEN], py[TB_FIXED_STRLEN];
        ck_assert_str_eq(eu.dates[i], ftse.dates[i]);
        tb_fixed_format(eu.closes[i], px);
        tb_fixed_format(ftse.closes[i], py);
        fprintf(f, "%s,%s-DAX,%s\n%s,%s-FTSE,%s\n", eu.dates[i], acct, px, eu.dates[i], acct, py);
    }
    ck_assert_int_eq(fclose(f), 0);
    int64_t t0 = start_replay(csv, acct, speed);
    int64_t end = t0 + (int64_t)SETTLE_MS * 1000000, quiet_since = bus_mono_ns();
    char last[128] = "";
    for (;;) {
        long long sigs = count("SELECT count(*) FROM signals WHERE account = $1", acct);
        long long orders = count("SELECT count(*) FROM orders WHERE account = $1", acct);
        long long open = count("SELECT count(*) FROM orders WHERE account = $1 AND status NOT IN "
                               "('filled','canceled','rejected','expired')",
                               acct);
        long long unbooked = count("SELECT count(*) FROM fills f WHERE f.account = $1 AND NOT "
                                   "EXISTS (SELECT 1 FROM applied_fills a WHERE a.fill_id = "
                                   "f.fill_id)",
                                   acct);
        char now[128];
        snprintf(now, sizeof now, "%lld %lld %lld %lld", sigs, orders, open, unbooked);
        if (strcmp(now, last) != 0) quiet_since = bus_mono_ns();
        snprintf(last, sizeof last, "%s", now);
        *refused = sigs - orders;
        if (sigs == (long long)nsig && open == 0 && unbooked == 0 &&
            bus_mono_ns() - quiet_since >= (int64_t)QUIET_MS * 1000000)
            break;
        ck_assert_msg(bus_mono_ns() < end,
                      "two symbols, speed %llu: signals, orders, open, unbooked %s (%zu signals "
                      "computed) after %d ms (see %s)",
                      (unsigned long long)speed, now, nsig, SETTLE_MS, log_path);
        usleep(100000);
    }
    PGresult *r = query("SELECT f.symbol, f.side, f.price::text, "
                        "(extract(epoch FROM f.ts) * 1000000)::bigint FROM fills f "
                        "WHERE f.account = $1 ORDER BY f.ts, f.symbol",
                        acct);
    size_t n = (size_t)PQntuples(r);
    ck_assert_uint_le(n, PAIR_FILL_CAP);
    for (size_t i = 0; i < n; i++)
        snprintf(out[i], sizeof out[i], "%s %s %s %s", PQgetvalue(r, (int)i, 0) + strlen(acct),
                 PQgetvalue(r, (int)i, 1), PQgetvalue(r, (int)i, 2), PQgetvalue(r, (int)i, 3));
    PQclear(r);
    char msg[512];
    ck_assert_msg(tb_check_exactness(pg, acct, msg, sizeof msg), "%s: %s", acct, msg);
    printf("event time: two symbols, speed %llu: %zu signals, %lld refused (cash), %zu fills in "
           "%.1f s\n",
           (unsigned long long)speed, nsig, *refused, n, (double)(bus_mono_ns() - t0) / 1e9);
    unlink(csv);
    return n;
}

/* DAX and FTSE in one account whose cash does not hold a unit of both:
 * which signal gets the cash depends on the order they are decided in.
 * A full-speed replay (ticks of both symbols in one batch) and a paced one
 * (a tick a batch) must decide them in the same order, that of their fill
 * ticks, and make the same fills: signal-processing emits a batch's signals
 * in the order their fill ticks arrived, two of its instances keep a run's
 * symbols (<run>-DAX, <run>-FTSE) on one of them, and a backtest's short is
 * margined on its entry price, not on a mark that runs ahead of the
 * decisions at full speed. Three risk-management workers share the
 * signals: each decides a run's signal only once the run's earlier signals
 * are decided, wherever they went (signals.emit_seq). */
START_TEST(two_symbols_share_the_cash_whatever_the_speed) {
    static tb_eustock ftse;
    tb_eu_load(&ftse, "FTSE");
    static fill w2[TB_EU_MAX_FILLS];
    size_t nsig = nwant + tb_eu_sma_fills(&ftse, FAST, SLOW, w2);
    static char fast[PAIR_FILL_CAP][96], paced[PAIR_FILL_CAP][96];
    char a0[64], a1[64];
    /* Short: a strategy id and its symbol (<acct>-FTSE) share 41 characters. */
    const char *digits = tag + 2;
    size_t nd = strlen(digits);
    snprintf(a0, sizeof a0, "EP%sF", nd > 9 ? digits + nd - 9 : digits);
    snprintf(a1, sizeof a1, "EP%sP", nd > 9 ? digits + nd - 9 : digits);
    start_services();
    char inst[64];
    snprintf(inst, sizeof inst, "%s-sp2", tag);
    extra_sp = tb_service_spawn("signal-processing", inst, NULL, log_path);
    ck_assert_msg(tb_service_wait(conn, "signal-processing", inst, 1, 20000),
                  "a second signal-processing did not start (see %s)", log_path);
    for (int k = 0; k < 2; k++) {
        snprintf(inst, sizeof inst, "%s-risk%d", tag, k + 2);
        extra_risk[k] = tb_service_spawn("risk-management", inst, NULL, log_path);
        ck_assert_msg(tb_service_wait(conn, "risk-management", inst, 1, 20000),
                      "risk-management %d did not start (see %s)", k + 2, log_path);
    }
    usleep(1000000); /* both have taken their share of the partitions */
    long long rf = 0, rp = 0;
    size_t nf = run_pair(a0, 0, nsig, fast, &rf);
    size_t np = run_pair(a1, UINT64_C(86400000), nsig, paced, &rp);
    ck_assert_msg(rf > 0, "the cash never bound (no signal refused): the test proves nothing");
    ck_assert_uint_gt(nf, 20);
    for (size_t i = 0; i < nf && i < np; i++)
        ck_assert_msg(strcmp(fast[i], paced[i]) == 0, "fill %zu: full speed %s, paced %s", i,
                      fast[i], paced[i]);
    ck_assert_msg(nf == np && rf == rp, "full speed %zu fills, %lld refused; paced %zu, %lld", nf,
                  rf, np, rp);
}
END_TEST

int main(void) {
    Suite *s = suite_create("event-time");
    TCase *tc = tcase_create("event-time");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, fills_at_the_next_close_whatever_the_speed);
    tcase_add_test(tc, two_symbols_share_the_cash_whatever_the_speed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
