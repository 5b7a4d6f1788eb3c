/* The webhook address guard of tb-notifications against the real binary:
 * without NOTIF_WEBHOOK_ALLOW, webhooks to loopback (127.0.0.1, [::1], a
 * name resolving to loopback), private (10.0.0.1), link-local / cloud
 * metadata (169.254.169.254) and other internal addresses are refused at
 * creation with a 400 naming the address; a webhook already stored with
 * such a target (its name resolved elsewhere when it was created: DNS
 * rebinding) is refused at delivery, when libcurl is about to connect, and
 * the receiver never sees a request; a listed host or block is delivered
 * to. */
#include "test_notif_common.h"

static bus_config cfg;
static bus_conn *conn;
static nt_rx rx;
static char account[48], log_path[256];
static nt_worker w;

static void setup(void) {
    tb_test_config(&cfg, "notif-ssrf-test");
    conn = tb_test_conn(&cfg);
    tb_error err = {0};
    ck_assert_msg(bus_js_ensure_streams(conn, &err) == TB_OK, "%s", err.message);
    tb_test_unique(account, sizeof account, "NS");
    snprintf(log_path, sizeof log_path, "%s/test_notif_ssrf-%s.log",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", account);
    nt_rx_start(&rx);
    memset(&w, 0, sizeof w);
}

static void teardown(void) {
    nt_stop(&w);
    nt_drop_durable(conn, account);
    const char *accounts[] = {account};
    nt_cleanup(&cfg, accounts, 1);
    nt_rx_stop(&rx);
    bus_conn_close(conn);
}

static tb_status create(const char *url, tb_error *err) {
    tb_webhook in, out;
    memset(&in, 0, sizeof in);
    snprintf(in.url, sizeof in.url, "%s", url);
    snprintf(in.account, sizeof in.account, "%s", account);
    memset(err, 0, sizeof *err);
    return bus_request(conn, "api.webhooks.create", &tb_webhook_desc, &in, &tb_webhook_desc, &out,
                       5000, NULL, err);
}

START_TEST(internal_targets_refused_at_creation) {
    nt_start_with(&w, conn, account, 1, log_path, "NOTIF_WEBHOOK_ALLOW=");
    char lo[128], lo6[128], name[128];
    snprintf(lo, sizeof lo, "http://127.0.0.1:%d/x", rx.port);
    snprintf(lo6, sizeof lo6, "http://[::1]:%d/x", rx.port);
    snprintf(name, sizeof name, "http://localhost:%d/x", rx.port);
    const struct {
        const char *url, *kind;
    } cases[] = {
        {lo, "loopback"},
        {lo6, "loopback"},
        {name, "loopback"},
        {"http://10.0.0.1/hook", "private"},
        {"https://192.168.1.10/hook", "private"},
        {"http://169.254.169.254/latest/meta-data/", "link-local"},
        {"http://100.64.0.1/", "shared"},
        {"http://[fd00::1]/", "unique-local"},
        {"http://[::ffff:127.0.0.1]/", "loopback"},
        {"http://0.0.0.0:8080/", "unspecified"},
        {"http://2130706433/", "loopback"}, /* 127.0.0.1 as one number */
        {"http://user@127.0.0.1/", "loopback"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tb_error err;
        tb_status s = create(cases[i].url, &err);
        ck_assert_msg(s == TB_INVALID, "%s: want invalid, got %s: %s", cases[i].url,
                      tb_status_code(s), err.message);
        ck_assert_str_eq(err.field, "url");
        ck_assert_msg(strstr(err.message, cases[i].kind) != NULL, "%s: %s", cases[i].url,
                      err.message);
        ck_assert_msg(strstr(err.message, "NOTIF_WEBHOOK_ALLOW") != NULL, "%s", err.message);
    }
    /* none was stored */
    PGconn *pg = PQconnectdb(cfg.database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    const char *p[1] = {account};
    PGresult *r = PQexecParams(pg, "SELECT count(*) FROM webhooks WHERE account = $1", 1, NULL, p,
                               NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(pg));
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
    PQfinish(pg);
}
END_TEST

/* The outbox row of webhook id: attempts and last error ("" when none). */
static int outbox_row(PGconn *pg, const char *id, char *last_error, size_t cap) {
    const char *p[1] = {id};
    PGresult *r = PQexecParams(pg,
                               "SELECT attempts, coalesce(last_error, '') FROM webhook_outbox "
                               "WHERE webhook_id = $1 ORDER BY id LIMIT 1",
                               1, NULL, p, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(pg));
    int attempts = -1;
    last_error[0] = '\0';
    if (PQntuples(r) == 1) {
        attempts = atoi(PQgetvalue(r, 0, 0));
        snprintf(last_error, cap, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return attempts;
}

START_TEST(stored_internal_target_refused_at_delivery) {
    nt_start_with(&w, conn, account, 1, log_path, "NOTIF_WEBHOOK_ALLOW=");
    /* As if the URL's name had resolved to a public address at creation
     * and to loopback now: the row is written as creation would have. */
    PGconn *pg = PQconnectdb(cfg.database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    char id[64], url[128];
    snprintf(id, sizeof id, "wh-%s", account);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/rebound/%s", rx.port, account);
    const char *p[3] = {id, url, account};
    PGresult *r = PQexecParams(pg,
                               "INSERT INTO webhooks (id, url, secret, events, account) VALUES "
                               "($1, $2, 'whsec_test', '{fills.>}', $3)",
                               3, NULL, p, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(pg));
    PQclear(r);

    char fill_id[96];
    snprintf(fill_id, sizeof fill_id, "%s-F1", account);
    nt_publish_fill(conn, account, fill_id, fill_id);
    char last_error[512] = "";
    int attempts = -1;
    int64_t end = bus_mono_ns() + INT64_C(15) * 1000000000;
    while ((attempts = outbox_row(pg, id, last_error, sizeof last_error)) < 1 &&
           bus_mono_ns() < end)
        usleep(50000);
    PQfinish(pg);
    ck_assert_msg(attempts >= 1, "no delivery attempt (see %s)", log_path);
    ck_assert_msg(strncmp(last_error, "refused: 127.0.0.1 is a loopback address", 40) == 0,
                  "last_error: %s", last_error);
    char path[128];
    snprintf(path, sizeof path, "/rebound/%s", account);
    ck_assert_uint_eq(nt_rx_count(&rx, path), 0);
}
END_TEST

START_TEST(listed_targets_are_delivered) {
    /* by address block (what every other notifications test runs with)
     * and by host name */
    nt_start_with(&w, conn, account, 1, log_path, "NOTIF_WEBHOOK_ALLOW=localhost,127.0.0.0/8");
    tb_webhook a, b;
    char u1[128], u2[128];
    snprintf(u1, sizeof u1, "http://127.0.0.1:%d/by-block/%s", rx.port, account);
    snprintf(u2, sizeof u2, "http://localhost:%d/by-name/%s", rx.port, account);
    nt_webhook(conn, u1, "fills.>", account, &a);
    nt_webhook(conn, u2, "fills.>", account, &b);
    char fill_id[96];
    snprintf(fill_id, sizeof fill_id, "%s-F2", account);
    nt_publish_fill(conn, account, fill_id, fill_id);
    char p1[128], p2[128];
    snprintf(p1, sizeof p1, "/by-block/%s", account);
    snprintf(p2, sizeof p2, "/by-name/%s", account);
    ck_assert_msg(nt_wait_requests(&rx, p1, 1, 15000), "nothing by block (see %s)", log_path);
    ck_assert_msg(nt_wait_requests(&rx, p2, 1, 15000), "nothing by name (see %s)", log_path);
}
END_TEST

START_TEST(bad_allow_list_is_a_start_error) {
    char bin[512];
    tb_test_bin(bin, sizeof bin, "actors/notifications/tb-notifications");
    char *argv[] = {bin, NULL};
    char *env[] = {"NOTIF_WEBHOOK_ALLOW=10.0.0.0/99", NULL};
    ck_assert_int_eq(tb_test_wait_exit(tb_test_spawn(argv, env, log_path), 20000), 2);
}
END_TEST

int main(void) {
    Suite *s = suite_create("notif_ssrf");
    TCase *tc = tcase_create("ssrf");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, internal_targets_refused_at_creation);
    tcase_add_test(tc, stored_internal_target_refused_at_delivery);
    tcase_add_test(tc, listed_targets_are_delivered);
    tcase_add_test(tc, bad_allow_list_is_a_start_error);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
