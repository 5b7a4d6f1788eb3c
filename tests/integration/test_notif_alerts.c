/* Alert rules of tb-notifications end to end, against the real binary:
 * price rules fire on crossings only (two workers sharing the ticks, the
 * crossing state in Redis; throttled, the latest tick of a burst counts; a
 * crossing inside a burst of thousands of ticks fires once),
 * position_limit with its cooldown and stale
 * updates, drawdown against the equity from api.accounts.get (answered by
 * an in-process fake of position-management) with a moving peak, risk
 * rejections, alerts of other services recorded once, and the API's checks
 * and account scoping. */
#include "test_notif_common.h"

static bus_config cfg;
static bus_conn *conn;
static nt_rx rx;
static PGconn *pg;
static char account[48], other[48], symbol[48], log_path[256];
static nt_worker w1, w2;

static void setup(void) {
    tb_test_config(&cfg, "notif-alerts-test");
    conn = tb_test_conn(&cfg);
    tb_error err = {0};
    ck_assert_msg(bus_js_ensure_streams(conn, &err) == TB_OK, "%s", err.message);
    tb_test_unique(account, sizeof account, "NA");
    tb_test_unique(other, sizeof other, "NB");
    tb_test_unique(symbol, sizeof symbol, "SY");
    snprintf(log_path, sizeof log_path, "%s/test_notif_alerts-%s.log",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", account);
    pg = PQconnectdb(cfg.database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "postgres: %s", PQerrorMessage(pg));
    nt_rx_start(&rx);
    memset(&w1, 0, sizeof w1);
    memset(&w2, 0, sizeof w2);
}

static void teardown(void) {
    nt_stop(&w1);
    nt_stop(&w2);
    nt_drop_durable(conn, account);
    const char *accounts[] = {account, other};
    nt_cleanup(&cfg, accounts, 2);
    const char *p[1] = {symbol};
    PQclear(
        PQexecParams(pg, "DELETE FROM alert_rules WHERE symbol = $1", 1, NULL, p, NULL, NULL, 0));
    PQfinish(pg);
    nt_rx_stop(&rx);
    bus_conn_close(conn);
}

/* Sets cooldown_s of a rule and waits for the workers' caches (200 ms). */
static void set_cooldown(const char *rule_id, int seconds) {
    char s[16];
    snprintf(s, sizeof s, "%d", seconds);
    const char *p[2] = {rule_id, s};
    PGresult *r = PQexecParams(pg, "UPDATE alert_rules SET cooldown_s = $2::int WHERE rule_id = $1",
                               2, NULL, p, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(pg));
    PQclear(r);
    usleep(600000);
}

static void start_one(void) {
    nt_start(&w1, conn, account, 1, log_path);
    usleep(200000); /* core subscriptions are live by now */
}

static size_t count_alerts(const char *acct, const char *sym, const char *kind) {
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.account, sizeof q.account, "%s", acct);
    snprintf(q.symbol, sizeof q.symbol, "%s", sym);
    q.limit = 1000;
    void *items = NULL;
    size_t n = 0, k = 0;
    tb_error err = {0};
    ck_assert_msg(nt_list(conn, "api.alerts.list", &q, &tb_alert_desc, &items, &n, &err) == TB_OK,
                  "%s", err.message);
    for (size_t i = 0; i < n; i++) k += strcmp(((tb_alert *)items)[i].kind, kind) == 0;
    free(items);
    return k;
}

typedef struct alerts_arg {
    const char *account, *symbol, *kind;
    size_t want;
} alerts_arg;

static bool alerts_reached(void *arg) {
    alerts_arg *a = arg;
    return count_alerts(a->account, a->symbol, a->kind) >= a->want;
}

/* Waits for want alerts, then checks no more come. */
static void expect_alerts(const char *acct, const char *sym, const char *kind, size_t want) {
    alerts_arg a = {acct, sym, kind, want};
    ck_assert_msg(tb_test_wait(alerts_reached, &a, 10000), "%zu of %zu %s alerts (see %s)",
                  count_alerts(acct, sym, kind), want, kind, log_path);
    usleep(400000);
    ck_assert_uint_eq(count_alerts(acct, sym, kind), want);
}

/* ---- price ---- */

static void tick(uint64_t seq, int price) {
    tb_tick t;
    memset(&t, 0, sizeof t);
    snprintf(t.symbol, sizeof t.symbol, "%s", symbol);
    t.seq = seq;
    t.ts = INT64_C(1700000000000000000) + (int64_t)seq * 1000000;
    t.last = (tb_fixed)price * TB_FIXED_SCALE;
    char subject[96];
    snprintf(subject, sizeof subject, "md.tick.%s", symbol);
    ck_assert_int_eq(bus_publish(conn, subject, &tb_tick_desc, &t, NULL), TB_OK);
}

START_TEST(price_rules_fire_on_crossings_with_two_workers) {
    nt_start(&w1, conn, account, 1, log_path);
    nt_start(&w2, conn, account, 2, log_path);
    tb_alert_rule above, below;
    nt_rule(conn, "price_above", "", symbol, "100", &above);
    nt_rule(conn, "price_below", "", symbol, "90", &below);
    set_cooldown(above.rule_id, 0);
    set_cooldown(below.rule_id, 0);
    /* above 100: fires on 101 (seq 2) and 100 (seq 5); below 90: on 89
     * (seq 7) and 88 (seq 9). Ticks are spaced so that the two workers see
     * them in order. */
    const int prices[] = {99, 101, 102, 99, 100, 95, 89, 91, 88, 87};
    for (size_t i = 0; i < sizeof prices / sizeof prices[0]; i++) {
        tick(i + 1, prices[i]);
        usleep(40000);
    }
    expect_alerts("", symbol, "price_above", 2);
    expect_alerts("", symbol, "price_below", 2);
    /* A late copy of an old tick (seq 4, below 100) and then a price still
     * above: no crossing is faked. */
    tick(4, 99);
    usleep(40000);
    tick(11, 85);
    usleep(300000);
    ck_assert_uint_eq(count_alerts("", symbol, "price_above"), 2);
    ck_assert_uint_eq(count_alerts("", symbol, "price_below"), 2);
    size_t n;
    tb_alert *alerts = nt_alerts(conn, "", &n);
    bool found = false;
    char want_id[TB_ID_CAP];
    snprintf(want_id, sizeof want_id, "%s-%s.%lld.2", above.rule_id, symbol,
             (long long)(INT64_C(1700000000000000000) + 2000000));
    for (size_t i = 0; i < n; i++)
        if (strcmp(alerts[i].alert_id, want_id) == 0) {
            found = true;
            ck_assert_str_eq(alerts[i].severity, "info");
            ck_assert_ptr_nonnull(strstr(alerts[i].message, "at 101, at or above 100"));
        }
    free(alerts);
    ck_assert_msg(found, "no alert %s", want_id);
}
END_TEST

START_TEST(throttled_price_rules_evaluate_the_latest_tick) {
    nt_start_with(&w1, conn, account, 1, log_path, "NOTIF_PRICE_INTERVAL_MS=300");
    usleep(200000);
    tb_alert_rule above;
    nt_rule(conn, "price_above", "", symbol, "100", &above);
    set_cooldown(above.rule_id, 0);
    /* One window: 99 is evaluated at once, 101 and 99 wait and only the
     * latest (99) is evaluated when the window ends: the crossing that
     * reverted inside the window is not seen. */
    tick(1, 99);
    tick(2, 101);
    tick(3, 99);
    usleep(900000);
    ck_assert_uint_eq(count_alerts("", symbol, "price_above"), 0);
    /* A burst ending above 100: its last tick is evaluated by the timer. */
    tick(4, 99);
    tick(5, 101);
    tick(6, 102);
    expect_alerts("", symbol, "price_above", 1);
}
END_TEST

/* One tick of sym at seq (time from seq, as tick()). */
static void burst_tick(const char *sym, uint64_t seq, int price) {
    tb_tick t;
    memset(&t, 0, sizeof t);
    snprintf(t.symbol, sizeof t.symbol, "%s", sym);
    t.seq = seq;
    t.ts = INT64_C(1700000000000000000) + (int64_t)seq * 1000000;
    t.last = (tb_fixed)price * TB_FIXED_SCALE;
    char subject[96];
    snprintf(subject, sizeof subject, "md.tick.%s", sym);
    ck_assert_int_eq(bus_publish(conn, subject, &tb_tick_desc, &t, NULL), TB_OK);
}

START_TEST(price_rule_crossed_inside_a_burst_fires_once) {
    start_one();
    char sym_b[64], sym_c[64], sym_d[64];
    snprintf(sym_b, sizeof sym_b, "%sB", symbol);
    snprintf(sym_c, sizeof sym_c, "%sC", symbol);
    snprintf(sym_d, sizeof sym_d, "%sD", symbol);
    tb_alert_rule above, below, above_b;
    nt_rule(conn, "price_above", "", symbol, "100", &above);
    nt_rule(conn, "price_below", "", symbol, "90", &below);
    nt_rule(conn, "price_above", "", sym_b, "104", &above_b);
    set_cooldown(above.rule_id, 0);
    set_cooldown(above_b.rule_id, 0);
    /* 4 x 1500 ticks, interleaved, published without pause: the worker takes
     * them in batches. symbol is at 99 but for seq 700..702 (101, 102, 101):
     * one crossing above 100 that reverts inside the burst; it never reaches
     * 90. sym_b turns 105 at seq 1000 and stays: one crossing above 104. */
    enum { PER_SYMBOL = 1500 };
    for (uint64_t seq = 1; seq <= PER_SYMBOL; seq++) {
        int p = seq == 701 ? 102 : seq == 700 || seq == 702 ? 101 : 99;
        burst_tick(symbol, seq, p);
        burst_tick(sym_b, seq, seq >= 1000 ? 105 : 100);
        burst_tick(sym_c, seq, 50 + (int)(seq % 7));
        burst_tick(sym_d, seq, 200 - (int)(seq % 5));
    }
    expect_alerts("", symbol, "price_above", 1);
    expect_alerts("", sym_b, "price_above", 1);
    ck_assert_uint_eq(count_alerts("", symbol, "price_below"), 0);
    /* The alerts belong to the crossing ticks (ids name the tick). */
    size_t n;
    tb_alert *alerts = nt_alerts(conn, "", &n);
    char want_a[TB_ID_CAP], want_b[TB_ID_CAP];
    snprintf(want_a, sizeof want_a, "%s-%s.%lld.700", above.rule_id, symbol,
             (long long)(INT64_C(1700000000000000000) + 700 * INT64_C(1000000)));
    snprintf(want_b, sizeof want_b, "%s-%s.%lld.1000", above_b.rule_id, sym_b,
             (long long)(INT64_C(1700000000000000000) + 1000 * INT64_C(1000000)));
    bool found_a = false, found_b = false;
    for (size_t i = 0; i < n; i++) {
        found_a |= strcmp(alerts[i].alert_id, want_a) == 0;
        found_b |= strcmp(alerts[i].alert_id, want_b) == 0;
    }
    free(alerts);
    ck_assert_msg(found_a, "no alert %s", want_a);
    ck_assert_msg(found_b, "no alert %s", want_b);
    const char *p[1] = {sym_b};
    PQclear(
        PQexecParams(pg, "DELETE FROM alert_rules WHERE symbol = $1", 1, NULL, p, NULL, NULL, 0));
}
END_TEST

/* ---- positions ---- */

static void position(const char *sym, const char *qty, int64_t ts) {
    tb_position_update u;
    memset(&u, 0, sizeof u);
    snprintf(u.account, sizeof u.account, "%s", account);
    snprintf(u.symbol, sizeof u.symbol, "%s", sym);
    ck_assert_int_eq(tb_fixed_parse_cstr(qty, &u.qty), TB_OK);
    u.ts = INT64_C(1700000000000000000) + ts * 1000000;
    char subject[160];
    snprintf(subject, sizeof subject, "pos.update.%s.%s", account, sym);
    ck_assert_int_eq(bus_publish(conn, subject, &tb_position_update_desc, &u, NULL), TB_OK);
    usleep(60000);
}

START_TEST(position_limit_crossings_cooldown_and_stale_updates) {
    start_one();
    tb_alert_rule r;
    nt_rule(conn, "position_limit", account, "", "100", &r);
    ck_assert_str_eq(r.severity, "warning");
    position("DAX", "150", 1); /* fires */
    position("DAX", "160", 2);
    position("DAX", "50", 3);
    position("DAX", "-120", 4); /* a crossing within the 60 s cooldown: silent */
    expect_alerts(account, "DAX", "position_limit", 1);
    set_cooldown(r.rule_id, 0);
    position("DAX", "50", 5);
    position("DAX", "130", 6);  /* fires */
    position("DAX", "10", 5);   /* older than the last: ignored */
    position("DAX", "140", 7);  /* still beyond: silent */
    position("ESX", "-200", 8); /* another symbol, its own state: fires */
    expect_alerts(account, "DAX", "position_limit", 2);
    expect_alerts(account, "ESX", "position_limit", 1);
    size_t n;
    tb_alert *alerts = nt_alerts(conn, account, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(alerts[0].symbol, "ESX"); /* newest first */
    ck_assert_ptr_nonnull(
        strstr(alerts[0].message, "position in ESX is -200, beyond the limit of 100"));
    free(alerts);
}
END_TEST

/* ---- drawdown ---- */

static tb_fixed fake_equity;
static int fake_calls;
static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;

static tb_status fake_accounts_get(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    tb_account a;
    memset(&a, 0, sizeof a);
    snprintf(a.account, sizeof a.account, "%s", q->account);
    pthread_mutex_lock(&fake_lock);
    a.equity = fake_equity;
    fake_calls++;
    pthread_mutex_unlock(&fake_lock);
    a.cash = a.equity;
    a.initial_cash = 100000 * TB_FIXED_SCALE;
    a.ts = tb_now_ns();
    return bus_reply(ctx, &tb_account_desc, &a);
}

static void equity(const char *units, int64_t ts) {
    pthread_mutex_lock(&fake_lock);
    ck_assert_int_eq(tb_fixed_parse_cstr(units, &fake_equity), TB_OK);
    pthread_mutex_unlock(&fake_lock);
    position("DAX", "1", ts);
    usleep(100000);
}

START_TEST(drawdown_from_the_equity_peak) {
    static bus_endpoint eps[1];
    static bus_actor_def def = {.version = "0.0.1",
                                .description = "fake position-management",
                                .endpoints = eps,
                                .nendpoints = 1};
    char name[64];
    tb_test_unique(name, sizeof name, "fakepos");
    eps[0] = (bus_endpoint){.name = "accounts-get",
                            .kind = BUS_REQUEST,
                            .subject = "api.accounts.get",
                            .event = &tb_query_desc,
                            .handler = fake_accounts_get};
    def.name = name;
    bus_config fcfg;
    tb_test_config(&fcfg, name);
    bus_actor *fake = NULL;
    tb_error err = {0};
    ck_assert_int_eq(bus_actor_create(&def, &fcfg, &fake, &err), TB_OK);
    ck_assert_msg(bus_actor_start(fake, &err) == TB_OK, "%s", err.message);

    start_one();
    tb_alert_rule r;
    nt_rule(conn, "drawdown", account, "", "0.1", &r);
    ck_assert_str_eq(r.severity, "critical");
    equity("100000", 1);
    equity("95000", 2);
    equity("88000", 3); /* 12% below the initial cash: fires */
    equity("85000", 4);
    expect_alerts(account, "", "drawdown", 1);
    size_t n;
    tb_alert *alerts = nt_alerts(conn, account, &n);
    ck_assert_uint_eq(n, 1);
    char want[TB_TEXT_CAP];
    snprintf(want, sizeof want,
             "%s: drawdown 12%% (equity 88000, peak 100000) reached the 10%% threshold", account);
    ck_assert_str_eq(alerts[0].message, want);
    free(alerts);
    set_cooldown(r.rule_id, 0);
    equity("120000", 5); /* a new peak */
    equity("110000", 6); /* 8.33%: below the threshold */
    equity("107000", 7); /* 13000 / 120000 = 0.10833333: fires */
    expect_alerts(account, "", "drawdown", 2);
    alerts = nt_alerts(conn, account, &n);
    ck_assert_uint_eq(n, 2);
    snprintf(want, sizeof want,
             "%s: drawdown 10.833333%% (equity 107000, peak 120000) reached the 10%% threshold",
             account);
    ck_assert_str_eq(alerts[0].message, want);
    free(alerts);
    pthread_mutex_lock(&fake_lock);
    int calls = fake_calls;
    pthread_mutex_unlock(&fake_lock);
    ck_assert_int_ge(calls, 7);
    bus_actor_destroy(fake);
}
END_TEST

/* ---- risk decisions and alerts from elsewhere ---- */

static void decision(const char *id, bool approved) {
    tb_risk_decision d;
    memset(&d, 0, sizeof d);
    snprintf(d.decision_id, sizeof d.decision_id, "%s", id);
    snprintf(d.account, sizeof d.account, "%s", account);
    snprintf(d.symbol, sizeof d.symbol, "DAX");
    snprintf(d.source, sizeof d.source, "api");
    d.approved = approved;
    if (!approved) snprintf(d.reasons, sizeof d.reasons, "max_order_qty");
    d.ts = tb_now_ns();
    char subject[96];
    snprintf(subject, sizeof subject, "risk.decision.%s", account);
    ck_assert_int_eq(bus_publish(conn, subject, &tb_risk_decision_desc, &d, NULL), TB_OK);
}

START_TEST(risk_rejections_and_foreign_alerts) {
    start_one();
    tb_alert_rule r;
    nt_rule(conn, "risk_reject", account, "", NULL, &r);
    tb_webhook wh;
    char u[256], p[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/ok/%s", rx.port, account);
    snprintf(p, sizeof p, "/ok/%s", account);
    nt_webhook(conn, u, "risk_decision,alerts.critical.>", account, &wh);
    char d1[96], d2[96];
    snprintf(d1, sizeof d1, "%s-D1", account);
    snprintf(d2, sizeof d2, "%s-D2", account);
    decision(d1, true);
    decision(d2, false);
    expect_alerts(account, "", "risk_reject", 1);
    ck_assert_msg(nt_wait_requests(&rx, p, 2, 10000), "decisions not delivered");
    size_t n;
    tb_alert *alerts = nt_alerts(conn, account, &n);
    ck_assert_uint_eq(n, 1);
    char want_id[TB_ID_CAP];
    snprintf(want_id, sizeof want_id, "%s-%s", r.rule_id, d2);
    ck_assert_str_eq(alerts[0].alert_id, want_id);
    ck_assert_str_eq(alerts[0].severity, "warning");
    ck_assert_ptr_nonnull(strstr(alerts[0].message, "rejected by risk checks: max_order_qty"));
    free(alerts);

    /* An alert raised by another service: recorded and delivered once. */
    tb_alert al;
    memset(&al, 0, sizeof al);
    snprintf(al.alert_id, sizeof al.alert_id, "%s-ext", account);
    snprintf(al.severity, sizeof al.severity, "critical");
    snprintf(al.kind, sizeof al.kind, "custom");
    snprintf(al.account, sizeof al.account, "%s", account);
    snprintf(al.message, sizeof al.message, "raised elsewhere");
    al.ts = tb_now_ns();
    ck_assert_int_eq(bus_publish(conn, "alerts.critical.custom", &tb_alert_desc, &al, NULL), TB_OK);
    ck_assert_int_eq(bus_publish(conn, "alerts.critical.custom", &tb_alert_desc, &al, NULL), TB_OK);
    expect_alerts(account, "", "custom", 1);
    ck_assert_msg(nt_wait_requests(&rx, p, 3, 10000), "foreign alert not delivered");
    usleep(800000);
    nt_req *reqs = nt_rx_get(&rx, p, &n);
    ck_assert_uint_eq(n, 3); /* two decisions and the critical alert; not the warning */
    int decisions = 0, crit = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert(notif_signature_ok(wh.secret, reqs[i].body, reqs[i].len, reqs[i].sig));
        decisions += strcmp(reqs[i].event, "risk_decision") == 0;
        crit += strcmp(reqs[i].event, "alert") == 0 && strstr(reqs[i].body, "-ext") != NULL;
    }
    free(reqs);
    ck_assert_int_eq(decisions, 2);
    ck_assert_int_eq(crit, 1);
    ck_assert_int_eq(nt_metric(conn, w1.instance, "tb_alerts_recorded_total", NULL), 1);
    ck_assert_int_eq(nt_metric(conn, w1.instance, "tb_alerts_total", "kind=\"risk_reject\""), 1);
}
END_TEST

/* ---- API ---- */

static tb_status create_webhook(const char *url, const char *events, const char *acct,
                                tb_error *err) {
    tb_webhook w, out;
    memset(&w, 0, sizeof w);
    snprintf(w.url, sizeof w.url, "%s", url);
    snprintf(w.events, sizeof w.events, "%s", events);
    snprintf(w.account, sizeof w.account, "%s", acct);
    return bus_request(conn, "api.webhooks.create", &tb_webhook_desc, &w, &tb_webhook_desc, &out,
                       5000, NULL, err);
}

static tb_status create_rule(const char *kind, const char *sym, const char *threshold,
                             tb_error *err) {
    tb_alert_rule r, out;
    memset(&r, 0, sizeof r);
    snprintf(r.kind, sizeof r.kind, "%s", kind);
    snprintf(r.symbol, sizeof r.symbol, "%s", sym);
    snprintf(r.account, sizeof r.account, "%s", account);
    if (threshold) ck_assert_int_eq(tb_fixed_parse_cstr(threshold, &r.threshold), TB_OK);
    return bus_request(conn, "api.alerts.rules.create", &tb_alert_rule_desc, &r,
                       &tb_alert_rule_desc, &out, 5000, NULL, err);
}

static size_t list_webhooks(const char *acct, const char *scope, tb_webhook **out) {
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.account, sizeof q.account, "%s", acct);
    snprintf(q.accounts, sizeof q.accounts, "%s", scope);
    void *items = NULL;
    size_t n = 0;
    tb_error err = {0};
    ck_assert_int_eq(nt_list(conn, "api.webhooks.list", &q, &tb_webhook_desc, &items, &n, &err),
                     TB_OK);
    *out = items;
    return n;
}

START_TEST(api_checks_and_scopes) {
    start_one();
    tb_error err = {0};
    ck_assert_int_eq(create_webhook("ftp://example.com/x", "", account, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "url");
    ck_assert_int_eq(create_webhook("http://", "", account, &err), TB_INVALID);
    ck_assert_int_eq(create_webhook("http://127.0.0.1/x", "fills..x", account, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "events");
    ck_assert_int_eq(create_rule("price_above", "", "5", &err), TB_MISSING_FIELD);
    ck_assert_int_eq(create_rule("drawdown", "", "1.5", &err), TB_INVALID);
    ck_assert_int_eq(create_rule("fill", "", "1", &err), TB_INVALID);

    tb_webhook a, b;
    nt_webhook(conn, "https://hooks.example.com/a", "fill", account, &a);
    nt_webhook(conn, "http://hooks.example.com/b", "", other, &b);
    tb_webhook *ws;
    size_t n = list_webhooks(account, "", &ws);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(ws[0].id, a.id);
    ck_assert_str_eq(ws[0].url, "https://hooks.example.com/a");
    ck_assert_str_eq(ws[0].events, "fill");
    ck_assert_str_eq(ws[0].secret, ""); /* never listed */
    ck_assert(ws[0].active);
    ck_assert_int_gt(ws[0].created_at, 0);
    free(ws);
    char scope[128];
    snprintf(scope, sizeof scope, "%s, %s", other, account);
    n = list_webhooks("", scope, &ws);
    ck_assert_uint_eq(n, 2);
    free(ws);
    n = list_webhooks("", "NOBODY", &ws);
    ck_assert_uint_eq(n, 0);
    free(ws);

    /* out of scope: not found */
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.id, sizeof q.id, "%s", a.id);
    snprintf(q.accounts, sizeof q.accounts, "%s", other);
    tb_webhook gone;
    ck_assert_int_eq(bus_request(conn, "api.webhooks.delete", &tb_query_desc, &q, &tb_webhook_desc,
                                 &gone, 5000, NULL, &err),
                     TB_NOT_FOUND);
    q.accounts[0] = '\0';
    ck_assert_int_eq(bus_request(conn, "api.webhooks.delete", &tb_query_desc, &q, &tb_webhook_desc,
                                 &gone, 5000, NULL, &err),
                     TB_OK);
    ck_assert_int_eq(bus_request(conn, "api.webhooks.delete", &tb_query_desc, &q, &tb_webhook_desc,
                                 &gone, 5000, NULL, &err),
                     TB_NOT_FOUND);

    tb_alert_rule r;
    nt_rule(conn, "position_limit", account, "DAX", "7.5", &r);
    memset(&q, 0, sizeof q);
    snprintf(q.account, sizeof q.account, "%s", account);
    void *items = NULL;
    ck_assert_int_eq(
        nt_list(conn, "api.alerts.rules.list", &q, &tb_alert_rule_desc, &items, &n, &err), TB_OK);
    ck_assert_uint_eq(n, 1);
    tb_alert_rule *rl = items;
    ck_assert_str_eq(rl[0].rule_id, r.rule_id);
    ck_assert_str_eq(rl[0].kind, "position_limit");
    ck_assert_str_eq(rl[0].symbol, "DAX");
    ck_assert_int_eq(rl[0].threshold, 750000000);
    ck_assert(rl[0].enabled);
    free(items);
    snprintf(q.id, sizeof q.id, "%s", r.rule_id);
    q.account[0] = '\0';
    tb_alert_rule deleted;
    ck_assert_int_eq(bus_request(conn, "api.alerts.rules.delete", &tb_query_desc, &q,
                                 &tb_alert_rule_desc, &deleted, 5000, NULL, &err),
                     TB_OK);
    ck_assert_str_eq(deleted.rule_id, r.rule_id);
    ck_assert_int_eq(bus_request(conn, "api.alerts.rules.delete", &tb_query_desc, &q,
                                 &tb_alert_rule_desc, &deleted, 5000, NULL, &err),
                     TB_NOT_FOUND);

    memset(&q, 0, sizeof q);
    snprintf(q.cursor, sizeof q.cursor, "x1");
    ck_assert_int_eq(nt_list(conn, "api.alerts.list", &q, &tb_alert_desc, &items, &n, &err),
                     TB_INVALID);
    memset(&q, 0, sizeof q);
    snprintf(q.id, sizeof q.id, "%s", b.id);
    snprintf(q.status, sizeof q.status, "bogus");
    ck_assert_int_eq(
        nt_list(conn, "api.webhooks.deliveries", &q, &tb_webhook_delivery_desc, &items, &n, &err),
        TB_INVALID);
    q.status[0] = '\0';
    snprintf(q.accounts, sizeof q.accounts, "%s", account);
    ck_assert_int_eq(
        nt_list(conn, "api.webhooks.deliveries", &q, &tb_webhook_delivery_desc, &items, &n, &err),
        TB_NOT_FOUND);
}
END_TEST

int main(void) {
    Suite *s = suite_create("notif_alerts");
    TCase *tc = tcase_create("alerts");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, price_rules_fire_on_crossings_with_two_workers);
    tcase_add_test(tc, throttled_price_rules_evaluate_the_latest_tick);
    tcase_add_test(tc, price_rule_crossed_inside_a_burst_fires_once);
    tcase_add_test(tc, position_limit_crossings_cooldown_and_stale_updates);
    tcase_add_test(tc, drawdown_from_the_equity_peak);
    tcase_add_test(tc, risk_rejections_and_foreign_alerts);
    tcase_add_test(tc, api_checks_and_scopes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
