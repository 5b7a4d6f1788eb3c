/* Dependency faults under tb-risk-management: Redis, PostgreSQL and NATS
 * are each stopped and started again (scripts/servers) while the service
 * runs. While one is down an order is refused as unavailable (503 at the
 * gateway), never accepted half-way; once it is back, orders are accepted
 * again by the same process, which never exits (it reconnects; the
 * supervisor has nothing to restart). Each order accepted is recorded once.
 *
 * The test stops the servers it runs against: it belongs to the serial
 * integration phase, and restores every server before it ends. */
#include <sys/wait.h>

#include "test_risk_fixture.h"

static char dacct[48], dsym[48];
/* Orders the service confirmed, and those refused by an error other than
 * "nobody listening": a reply that timed out, or an error while a store
 * came back, may follow a commit that went through (the request was
 * handled as the connection returned), so each of these is recorded at
 * most once. */
static int accepted, uncertain;

/* scripts/servers VERB SERVER; its exit status. */
static int servers(const char *verb, const char *server) {
    const char *src = getenv("TB_SOURCE_DIR");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/scripts/servers' %s %s --no-migrate >/dev/null 2>&1",
             src ? src : ".", verb, server);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* The risk process has not exited (and is not reaped by this check). */
static bool risk_alive(void) {
    int st;
    return risk_pids[0] > 0 && waitpid(risk_pids[0], &st, WNOHANG) == 0;
}

static tb_status one_order(tb_error *err) {
    tb_order_request r = order_req(dacct, dsym, "buy", "market", FX(1));
    tb_order_record rec;
    tb_status s = submit(&r, &rec, err);
    if (s == TB_OK) accepted++;
    if (s != TB_OK && s != TB_NO_RESPONDERS) uncertain++;
    return s;
}

/* Submits until one is accepted (deadline ms); the last status. */
static tb_status accepted_within(int64_t ms, tb_error *err) {
    int64_t end = bus_mono_ns() + ms * INT64_C(1000000);
    tb_status s;
    while ((s = one_order(err)) != TB_OK && bus_mono_ns() < end) usleep(200000);
    return s;
}

START_TEST(set_up_market) {
    new_account(dacct, sizeof dacct);
    new_symbol(dsym, sizeof dsym, true, "1", "0.01", "1", "");
    fake_set_quote(dsym, FX(99), FX(101), FX(100));
    tb_risk_limits l = limits_for(dacct);
    l.max_orders_per_sec = 1000000; /* the rate window lives in Redis: every order uses it */
    ck_assert_int_eq(set_limits(&l, NULL), TB_OK);
    tb_error err;
    ck_assert_msg(one_order(&err) == TB_OK, "%s", err.message);
}
END_TEST

/* One dependency down, then back. */
static void fault(const char *server) {
    ck_assert_msg(servers("stop", server) == 0, "cannot stop %s", server);
    tb_error err;
    tb_status s = one_order(&err);
    bool restarted = servers("start", server) == 0;
    ck_assert_msg(restarted, "cannot start %s again", server);
    ck_assert_msg(s == TB_UNAVAILABLE || s == TB_TIMEOUT || s == TB_NO_RESPONDERS,
                  "%s down: want unavailable, got %s: %s", server, tb_status_code(s), err.message);
    s = accepted_within(30000, &err);
    ck_assert_msg(s == TB_OK, "%s back: orders still refused: %s: %s", server, tb_status_code(s),
                  err.message);
    ck_assert_msg(risk_alive(), "tb-risk-management exited when %s went away", server);
}

START_TEST(redis_restart) {
    fault("redis");
}
END_TEST

START_TEST(postgres_restart) {
    fault("postgres");
}
END_TEST

START_TEST(nats_restart) {
    fault("nats");
}
END_TEST

/* A count over a fresh connection (the fixture's pool still holds
 * connections the PostgreSQL restart closed). */
static long fresh_count(const char *sql, const char *param) {
    PGconn *c = PQconnectdb(client_cfg.database_url);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
    const char *p[1] = {param};
    PGresult *r = PQexecParams(c, sql, 1, NULL, p, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return n;
}

/* Every accepted order is recorded exactly once, none half-way (an order
 * row always with its outbox event); an uncertain one at most once. */
START_TEST(orders_recorded_once) {
    long orders = fresh_count("SELECT count(*) FROM orders WHERE account = $1", dacct);
    ck_assert_msg(orders >= accepted && orders <= accepted + uncertain,
                  "%ld orders recorded; %d accepted, %d uncertain", orders, accepted, uncertain);
    ck_assert_int_eq(fresh_count("SELECT count(*) FROM outbox o JOIN orders r ON r.order_id = "
                                 "o.msg_id WHERE r.account = $1",
                                 dacct),
                     orders);
}
END_TEST

int main(void) {
    Suite *s = suite_create("risk_deps");
    TCase *tc = tcase_create("deps");
    tcase_add_unchecked_fixture(tc, risk_env_start, risk_env_stop);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, set_up_market);
    tcase_add_test(tc, redis_restart);
    tcase_add_test(tc, postgres_restart);
    tcase_add_test(tc, nats_restart);
    tcase_add_test(tc, orders_recorded_once);
    tcase_add_test(tc, risk_stops_cleanly);
    suite_add_tcase(s, tc);
    int failed = run_suite(s);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
