/* Webhooks of tb-notifications end to end, against the real binary and a
 * recording HTTP receiver on a loopback port: a fill raises a fill alert
 * and both reach the webhook signed and with their Idempotency-Key, once
 * even when the fill comes twice; a receiver answering 500 then 200 gets a
 * retry and the delivery is marked delivered; one that always fails gets
 * NOTIF_MAX_ATTEMPTS tries with backoff and the delivery is dead and
 * visible; two workers deliver every event under a single key; kill -9 of
 * one of two workers mid-stream loses no delivery. */
#include "test_notif_common.h"

static bus_config cfg;
static bus_conn *conn;
static nt_rx rx;
static char account[48], other[48], log_path[256];
static nt_worker w1, w2;

static void setup(void) {
    tb_test_config(&cfg, "notif-webhooks-test");
    conn = tb_test_conn(&cfg);
    tb_error err = {0};
    ck_assert_msg(bus_js_ensure_streams(conn, &err) == TB_OK, "%s", err.message);
    tb_test_unique(account, sizeof account, "NW");
    tb_test_unique(other, sizeof other, "NO");
    snprintf(log_path, sizeof log_path, "%s/test_notif_webhooks-%s.log",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", account);
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
    nt_rx_stop(&rx);
    bus_conn_close(conn);
}

static void url(char *out, size_t cap, const char *kind) {
    snprintf(out, cap, "http://127.0.0.1:%d/%s/%s", rx.port, kind, account);
}

static void path(char *out, size_t cap, const char *kind, const char *acct) {
    snprintf(out, cap, "/%s/%s", kind, acct);
}

/* Checks what every delivery must carry; returns the parsed body. */
static json_t *check_request(const nt_req *q, const tb_webhook *wh) {
    ck_assert_str_eq(q->ctype, "application/json");
    ck_assert_msg(notif_signature_ok(wh->secret, q->body, q->len, q->sig), "bad signature %s",
                  q->sig);
    json_error_t je;
    json_t *j = json_loadb(q->body, q->len, 0, &je);
    ck_assert_msg(j != NULL, "body is not JSON: %s", je.text);
    char key[512];
    snprintf(key, sizeof key, "%s:%s", wh->id, json_string_value(json_object_get(j, "id")));
    ck_assert_str_eq(q->key, key);
    ck_assert_str_eq(q->event, json_string_value(json_object_get(j, "type")));
    return j;
}

START_TEST(fill_raises_alert_and_signed_webhooks) {
    nt_start(&w1, conn, account, 1, log_path);
    tb_alert_rule rule;
    nt_rule(conn, "fill", account, "", NULL, &rule);
    ck_assert_str_eq(rule.severity, "info");
    tb_webhook wh, wh_other;
    char u[256];
    url(u, sizeof u, "ok");
    nt_webhook(conn, u, "fills.>, alert", account, &wh);
    ck_assert(strncmp(wh.secret, "whsec_", 6) == 0);
    ck_assert_str_eq(wh.events, "fills.>,alert");
    char u2[256];
    snprintf(u2, sizeof u2, "http://127.0.0.1:%d/ok/%s", rx.port, other);
    nt_webhook(conn, u2, "", other, &wh_other);

    nt_counter published = {.lock = PTHREAD_MUTEX_INITIALIZER};
    snprintf(published.account, sizeof published.account, "%s", account);
    bus_sub *sub = NULL;
    tb_error err = {0};
    ck_assert_int_eq(bus_subscribe(conn, "alerts.info.fill", nt_count_cb, &published, &sub, &err),
                     TB_OK);

    char fill_id[96];
    snprintf(fill_id, sizeof fill_id, "%s-F1", account);
    nt_publish_fill(conn, account, fill_id, fill_id);
    char p[128];
    path(p, sizeof p, "ok", account);
    ck_assert_msg(nt_wait_requests(&rx, p, 2, 15000), "only %zu requests (see %s)",
                  nt_rx_count(&rx, p), log_path);

    size_t n;
    nt_req *reqs = nt_rx_get(&rx, p, &n);
    ck_assert_uint_eq(n, 2);
    bool saw_fill = false, saw_alert = false;
    char alert_id[TB_ID_CAP];
    snprintf(alert_id, sizeof alert_id, "%s-%s", rule.rule_id, fill_id);
    for (size_t i = 0; i < n; i++) {
        json_t *j = check_request(&reqs[i], &wh);
        json_t *data = json_object_get(j, "data");
        if (strcmp(reqs[i].event, "fill") == 0) {
            saw_fill = true;
            ck_assert_str_eq(json_string_value(json_object_get(data, "fill_id")), fill_id);
            ck_assert_str_eq(json_string_value(json_object_get(data, "qty")), "2");
            char subj[128];
            snprintf(subj, sizeof subj, "fills.%s.DAX", account);
            ck_assert_str_eq(json_string_value(json_object_get(j, "subject")), subj);
        } else {
            ck_assert_str_eq(reqs[i].event, "alert");
            saw_alert = true;
            ck_assert_str_eq(json_string_value(json_object_get(data, "alert_id")), alert_id);
            ck_assert_str_eq(json_string_value(json_object_get(data, "kind")), "fill");
            ck_assert_str_eq(json_string_value(json_object_get(j, "subject")), "alerts.info.fill");
        }
        json_decref(j);
    }
    free(reqs);
    ck_assert(saw_fill && saw_alert);

    size_t na;
    tb_alert *alerts = nt_alerts(conn, account, &na);
    ck_assert_uint_eq(na, 1);
    ck_assert_str_eq(alerts[0].alert_id, alert_id);
    ck_assert_str_eq(alerts[0].severity, "info");
    ck_assert_ptr_nonnull(strstr(alerts[0].message, "buy 2 DAX @ 16000"));
    free(alerts);
    int64_t end = bus_mono_ns() + INT64_C(5000000000);
    while (nt_counter_get(&published) < 1 && bus_mono_ns() < end) usleep(10000);
    ck_assert_int_eq(nt_counter_get(&published), 1);

    /* The same fill again under another message id (a republish): nothing new. */
    char again[128];
    snprintf(again, sizeof again, "%s-again", fill_id);
    nt_publish_fill(conn, account, fill_id, again);
    usleep(1500000);
    ck_assert_uint_eq(nt_rx_count(&rx, p), 2);
    alerts = nt_alerts(conn, account, &na);
    ck_assert_uint_eq(na, 1);
    free(alerts);
    ck_assert_int_eq(nt_counter_get(&published), 1);
    bus_unsubscribe(sub);

    /* Another account's webhook saw nothing of this account. */
    char po[128];
    path(po, sizeof po, "ok", other);
    ck_assert_uint_eq(nt_rx_count(&rx, po), 0);

    size_t nd;
    tb_webhook_delivery *d = nt_deliveries(conn, wh.id, NULL, &nd);
    ck_assert_uint_eq(nd, 2);
    for (size_t i = 0; i < nd; i++) {
        ck_assert_str_eq(d[i].state, "delivered");
        ck_assert_uint_eq(d[i].attempts, 1);
        ck_assert_uint_eq(d[i].last_status, 200);
        ck_assert_int_gt(d[i].delivered_at, 0);
    }
    free(d);
    /* Delivery metrics count every webhook's rows the worker handled; a
     * webhook without an account filter left by another suite would add
     * to them, hence >=. The receiver's counts above are the exact ones. */
    ck_assert_int_eq(nt_metric(conn, w1.instance, "tb_alerts_total", "kind=\"fill\""), 1);
    ck_assert_int_ge(
        nt_metric(conn, w1.instance, "tb_webhook_deliveries_total", "outcome=\"delivered\""), 2);
}
END_TEST

typedef struct state_arg {
    const char *webhook_id;
    const char *state;
} state_arg;

static bool delivery_in_state(void *arg) {
    state_arg *a = arg;
    size_t n;
    tb_webhook_delivery *d = nt_deliveries(conn, a->webhook_id, a->state, &n);
    free(d);
    return n >= 1;
}

START_TEST(failing_then_ok_is_retried_and_delivered_once) {
    nt_start(&w1, conn, account, 1, log_path);
    tb_webhook wh;
    char u[256];
    url(u, sizeof u, "flaky");
    nt_webhook(conn, u, "fill", account, &wh);
    char fill_id[96];
    snprintf(fill_id, sizeof fill_id, "%s-F1", account);
    nt_publish_fill(conn, account, fill_id, fill_id);
    state_arg sa = {wh.id, "delivered"};
    ck_assert_msg(tb_test_wait(delivery_in_state, &sa, 15000), "not delivered (see %s)", log_path);

    size_t n;
    tb_webhook_delivery *d = nt_deliveries(conn, wh.id, NULL, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(d[0].state, "delivered");
    ck_assert_uint_eq(d[0].attempts, 2);
    ck_assert_uint_eq(d[0].last_status, 200);
    ck_assert_str_eq(d[0].event_type, "fill");
    char key[256];
    snprintf(key, sizeof key, "%s:fill:%s", wh.id, fill_id);
    ck_assert_str_eq(d[0].idempotency_key, key);
    free(d);

    usleep(800000); /* nothing more arrives after the success */
    char p[128];
    path(p, sizeof p, "flaky", account);
    nt_req *reqs = nt_rx_get(&rx, p, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(reqs[0].status, 500);
    ck_assert_int_eq(reqs[1].status, 200);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(reqs[i].key, key);
        json_decref(check_request(&reqs[i], &wh));
    }
    /* a retry sends the same bytes, hence the same signature */
    ck_assert_uint_eq(reqs[0].len, reqs[1].len);
    ck_assert_mem_eq(reqs[0].body, reqs[1].body, reqs[0].len);
    ck_assert_str_eq(reqs[0].sig, reqs[1].sig);
    /* the retry waited for the backoff (150 ms) */
    ck_assert_int_ge(reqs[1].at_ns - reqs[0].at_ns, 140000000);
    free(reqs);
}
END_TEST

START_TEST(always_failing_is_dead_after_max_attempts) {
    nt_start(&w1, conn, account, 1, log_path);
    tb_webhook wh;
    char u[256];
    url(u, sizeof u, "down");
    nt_webhook(conn, u, "fills.*.DAX", account, &wh);
    char fill_id[96];
    snprintf(fill_id, sizeof fill_id, "%s-F1", account);
    nt_publish_fill(conn, account, fill_id, fill_id);
    state_arg sa = {wh.id, "dead"};
    ck_assert_msg(tb_test_wait(delivery_in_state, &sa, 20000), "not dead-lettered (see %s)",
                  log_path);
    size_t n;
    tb_webhook_delivery *d = nt_deliveries(conn, wh.id, "dead", &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(d[0].attempts, 3);
    ck_assert_uint_eq(d[0].last_status, 500);
    ck_assert_str_eq(d[0].last_error, "HTTP 500");
    ck_assert_int_gt(d[0].dead_at, 0);
    ck_assert_int_eq(d[0].delivered_at, 0);
    free(d);
    free(nt_deliveries(conn, wh.id, "pending", &n));
    ck_assert_uint_eq(n, 0);

    usleep(1500000); /* no attempt after the last */
    char p[128];
    path(p, sizeof p, "down", account);
    nt_req *reqs = nt_rx_get(&rx, p, &n);
    ck_assert_uint_eq(n, 3);
    for (size_t i = 0; i < n; i++) ck_assert_str_eq(reqs[i].key, reqs[0].key);
    /* backoff 150 ms, then 300 ms */
    ck_assert_int_ge(reqs[1].at_ns - reqs[0].at_ns, 140000000);
    ck_assert_int_ge(reqs[2].at_ns - reqs[1].at_ns, 290000000);
    free(reqs);
    ck_assert_int_ge(nt_metric(conn, w1.instance, "tb_webhook_dead_total", NULL), 1);
    ck_assert_int_ge(
        nt_metric(conn, w1.instance, "tb_webhook_deliveries_total", "outcome=\"retry\""), 2);
    ck_assert_int_ge(
        nt_metric(conn, w1.instance, "tb_webhook_deliveries_total", "outcome=\"dead\""), 1);

    /* A deleted webhook takes its deliveries with it. */
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.id, sizeof q.id, "%s", wh.id);
    tb_webhook gone;
    tb_error err = {0};
    ck_assert_int_eq(bus_request(conn, "api.webhooks.delete", &tb_query_desc, &q, &tb_webhook_desc,
                                 &gone, 5000, NULL, &err),
                     TB_OK);
    ck_assert_str_eq(gone.id, wh.id);
    ck_assert_str_eq(gone.secret, "");
    ck_assert_int_eq(bus_request(conn, "api.webhooks.deliveries", &tb_query_desc, &q, NULL, NULL,
                                 5000, NULL, &err),
                     TB_NOT_FOUND);
}
END_TEST

#define N_FILLS 40

typedef struct keys_arg {
    const char *path;
    size_t want;
} keys_arg;

/* Distinct Idempotency-Keys seen on path. */
static size_t distinct_keys(const char *p, size_t *total) {
    size_t n;
    nt_req *reqs = nt_rx_get(&rx, p, &n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) seen = strcmp(reqs[i].key, reqs[j].key) == 0;
        k += !seen;
    }
    free(reqs);
    if (total) *total = n;
    return k;
}

static bool keys_reached(void *arg) {
    keys_arg *a = arg;
    return distinct_keys(a->path, NULL) >= a->want;
}

START_TEST(two_workers_deliver_each_event_once) {
    nt_start(&w1, conn, account, 1, log_path);
    nt_start(&w2, conn, account, 2, log_path);
    tb_alert_rule rule;
    nt_rule(conn, "fill", account, "", NULL, &rule);
    tb_webhook wh;
    char u[256];
    url(u, sizeof u, "ok");
    nt_webhook(conn, u, "fill,alert", account, &wh);
    nt_counter published = {.lock = PTHREAD_MUTEX_INITIALIZER};
    snprintf(published.account, sizeof published.account, "%s", account);
    bus_sub *sub = NULL;
    tb_error err = {0};
    ck_assert_int_eq(bus_subscribe(conn, "alerts.*.fill", nt_count_cb, &published, &sub, &err),
                     TB_OK);
    /* Every fill twice, under two message ids: both copies reach the workers. */
    for (int i = 0; i < N_FILLS; i++) {
        char id[96], dup[128];
        snprintf(id, sizeof id, "%s-F%02d", account, i);
        snprintf(dup, sizeof dup, "%s-dup", id);
        nt_publish_fill(conn, account, id, id);
        nt_publish_fill(conn, account, id, dup);
    }
    char p[128];
    path(p, sizeof p, "ok", account);
    keys_arg ka = {p, 2 * N_FILLS};
    ck_assert_msg(tb_test_wait(keys_reached, &ka, 30000), "only %zu keys (see %s)",
                  distinct_keys(p, NULL), log_path);
    usleep(1500000); /* let any duplicate arrive */
    size_t total;
    ck_assert_uint_eq(distinct_keys(p, &total), 2 * N_FILLS);
    ck_assert_uint_eq(total,
                      2 * N_FILLS); /* every key exactly once: the receiver always said 200 */
    size_t na;
    tb_alert *alerts = nt_alerts(conn, account, &na);
    ck_assert_uint_eq(na, N_FILLS);
    free(alerts);
    ck_assert_int_eq(nt_counter_get(&published), N_FILLS);
    bus_unsubscribe(sub);
    long long a1 = nt_metric(conn, w1.instance, "tb_alerts_total", "kind=\"fill\"");
    long long a2 = nt_metric(conn, w2.instance, "tb_alerts_total", "kind=\"fill\"");
    ck_assert_int_eq(a1 + a2, N_FILLS);
    long long d1 =
        nt_metric(conn, w1.instance, "tb_webhook_deliveries_total", "outcome=\"delivered\"");
    long long d2 =
        nt_metric(conn, w2.instance, "tb_webhook_deliveries_total", "outcome=\"delivered\"");
    ck_assert_int_ge(d1 + d2, 2 * N_FILLS);
    printf("two workers: alerts %lld + %lld, deliveries %lld + %lld\n", a1, a2, d1, d2);
}
END_TEST

START_TEST(kill_9_of_a_worker_loses_no_delivery) {
    nt_start(&w1, conn, account, 1, log_path);
    nt_start(&w2, conn, account, 2, log_path);
    tb_alert_rule rule;
    nt_rule(conn, "fill", account, "", NULL, &rule);
    tb_webhook wh;
    char u[256];
    url(u, sizeof u, "ok");
    nt_webhook(conn, u, "", account, &wh);
    for (int i = 0; i < N_FILLS; i++) {
        char id[96];
        snprintf(id, sizeof id, "%s-F%02d", account, i);
        nt_publish_fill(conn, account, id, id);
    }
    nt_kill(&w1); /* mid-stream: fills unacked, deliveries claimed, alerts unpublished */
    char p[128];
    path(p, sizeof p, "ok", account);
    /* Unacked fills come back after NOTIF_ACK_WAIT_MS (2 s), claimed
     * deliveries after their lease (HTTP timeout 2 s + 10 s). */
    keys_arg ka = {p, 2 * N_FILLS};
    ck_assert_msg(tb_test_wait(keys_reached, &ka, 60000), "only %zu keys (see %s)",
                  distinct_keys(p, NULL), log_path);
    size_t n;
    nt_req *reqs = nt_rx_get(&rx, p, &n);
    for (size_t i = 0; i < n; i++) {
        ck_assert(notif_signature_ok(wh.secret, reqs[i].body, reqs[i].len, reqs[i].sig));
        /* every key is one of the expected ones: a repeat is a retry of it */
        char want_fill[256], want_alert[256];
        int k = -1;
        const char *f = strstr(reqs[i].key, "-F");
        ck_assert_ptr_nonnull(f);
        k = atoi(f + 2);
        ck_assert(k >= 0 && k < N_FILLS);
        snprintf(want_fill, sizeof want_fill, "%s:fill:%s-F%02d", wh.id, account, k);
        snprintf(want_alert, sizeof want_alert, "%s:alert:%s-%s-F%02d", wh.id, rule.rule_id,
                 account, k);
        ck_assert_msg(strcmp(reqs[i].key, want_fill) == 0 || strcmp(reqs[i].key, want_alert) == 0,
                      "unexpected key %s", reqs[i].key);
    }
    free(reqs);
    size_t na;
    tb_alert *alerts = nt_alerts(conn, account, &na);
    ck_assert_uint_eq(na, N_FILLS);
    free(alerts);
    size_t total;
    ck_assert_uint_eq(distinct_keys(p, &total), 2 * N_FILLS);
    printf("kill -9: %zu requests for %d keys\n", total, 2 * N_FILLS);
}
END_TEST

/* A burst of fills, taken in batches: the rule scoped to DAX alerts on the
 * DAX fills only, the webhook that wants fills.*.FTSE gets the FTSE fills
 * only, and nothing else is recorded for the others. */
#define N_BURST 40
START_TEST(burst_of_fills_matches_each_fill_alone) {
    nt_start(&w1, conn, account, 1, log_path);
    tb_alert_rule rule;
    nt_rule(conn, "fill", account, "DAX", NULL, &rule);
    tb_webhook wh;
    char u[256];
    url(u, sizeof u, "ok");
    nt_webhook(conn, u, "fills.*.FTSE", account, &wh);
    for (int i = 0; i < N_BURST; i++) {
        char id[96];
        snprintf(id, sizeof id, "%s-B%d", account, i);
        nt_publish_fill_in(conn, account, i % 2 ? "FTSE" : "DAX", id, id);
    }
    char p[128];
    path(p, sizeof p, "ok", account);
    ck_assert_msg(nt_wait_requests(&rx, p, N_BURST / 2, 15000), "only %zu requests (see %s)",
                  nt_rx_count(&rx, p), log_path);
    size_t na = 0;
    tb_alert *alerts = NULL;
    int64_t end = bus_mono_ns() + INT64_C(15000000000);
    for (;;) {
        free(alerts);
        alerts = nt_alerts(conn, account, &na);
        if (na >= N_BURST / 2 || bus_mono_ns() > end) break;
        usleep(50000);
    }
    usleep(500000); /* anything more would arrive by now */
    free(alerts);
    alerts = nt_alerts(conn, account, &na);
    ck_assert_uint_eq(na, N_BURST / 2);
    for (size_t i = 0; i < na; i++) {
        ck_assert_str_eq(alerts[i].symbol, "DAX");
        ck_assert_str_eq(alerts[i].kind, "fill");
    }
    free(alerts);
    size_t n;
    nt_req *reqs = nt_rx_get(&rx, p, &n);
    ck_assert_uint_eq(n, N_BURST / 2);
    for (size_t i = 0; i < n; i++) {
        json_t *j = check_request(&reqs[i], &wh);
        ck_assert_str_eq(reqs[i].event, "fill");
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "data"), "symbol")),
                         "FTSE");
        json_decref(j);
    }
    free(reqs);
}
END_TEST

int main(void) {
    Suite *s = suite_create("notif_webhooks");
    TCase *tc = tcase_create("webhooks");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fill_raises_alert_and_signed_webhooks);
    tcase_add_test(tc, burst_of_fills_matches_each_fill_alone);
    tcase_add_test(tc, failing_then_ok_is_retried_and_delivered_once);
    tcase_add_test(tc, always_failing_is_dead_after_max_attempts);
    tcase_add_test(tc, two_workers_deliver_each_event_once);
    tcase_add_test(tc, kill_9_of_a_worker_loses_no_delivery);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
