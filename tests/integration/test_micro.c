/* A minimal service built on bus/ answers raw $SRV.PING/INFO/STATS requests
 * (all three subject forms) with the standard micro shapes, counts requests
 * and errors per endpoint, sends error replies with the Nats-Service-Error
 * headers, and serves svc.<name>.health and svc.<name>.<id>.metrics. */
#include <nats/nats.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_test.h"
#include "wire.h"

static char svc_name[64], echo_subject[128], fail_subject[128];

static tb_status on_echo(bus_ctx *ctx, const void *ev) {
    return bus_reply(ctx, &tb_alert_desc, ev);
}

static tb_status on_fail(bus_ctx *ctx, const void *ev) {
    (void)ev;
    return bus_fail(ctx, TB_NOT_FOUND, "order_id", "no order %s", "o-404");
}

static bus_endpoint endpoints[2];
static bus_actor_def def = {
    .version = "1.2.3",
    .description = "micro protocol test service",
    .endpoints = endpoints,
    .nendpoints = 2,
    .needs = BUS_NEEDS_PG | BUS_NEEDS_REDIS,
};

static bus_actor *actor;
static bus_conn *client;
static bus_config client_cfg;

static void setup(void) {
    tb_test_unique(svc_name, sizeof svc_name, "microtest");
    snprintf(echo_subject, sizeof echo_subject, "test.%s.echo", svc_name);
    snprintf(fail_subject, sizeof fail_subject, "test.%s.fail", svc_name);
    endpoints[0] = (bus_endpoint){.name = "echo",
                                  .kind = BUS_REQUEST,
                                  .subject = echo_subject,
                                  .event = &tb_alert_desc,
                                  .handler = on_echo};
    endpoints[1] = (bus_endpoint){.name = "fail",
                                  .kind = BUS_REQUEST,
                                  .subject = fail_subject,
                                  .event = NULL,
                                  .handler = on_fail};
    def.name = svc_name;
    bus_config cfg;
    tb_test_config(&cfg, svc_name);
    tb_error err = {0};
    ck_assert_int_eq(bus_actor_create(&def, &cfg, &actor, &err), TB_OK);
    tb_status s = bus_actor_start(actor, &err);
    ck_assert_msg(s == TB_OK, "start: %s", err.message);
    tb_test_config(&client_cfg, "micro-client");
    client = tb_test_conn(&client_cfg);
}

static void teardown(void) {
    bus_conn_close(client);
    bus_actor_destroy(actor);
}

/* Sends a raw request and collects every reply for a short while. */
static json_t *collect_json(const char *subject, const char *want_id) {
    natsConnection *nc = bus_conn_nats(client);
    char inbox[128];
    snprintf(inbox, sizeof inbox, "_INBOX.%s.collect", svc_name);
    natsSubscription *sub = NULL;
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, nc, inbox), NATS_OK);
    ck_assert_int_eq(natsConnection_PublishRequestString(nc, subject, inbox, ""), NATS_OK);
    json_t *found = NULL;
    natsMsg *m = NULL;
    while (found == NULL && natsSubscription_NextMsg(&m, sub, 1000) == NATS_OK) {
        json_error_t je;
        json_t *j = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, &je);
        ck_assert_msg(j != NULL, "reply on %s is not JSON: %s", subject, je.text);
        const char *id = json_string_value(json_object_get(j, "id"));
        if (id && strcmp(id, want_id) == 0)
            found = j;
        else
            json_decref(j);
        natsMsg_Destroy(m);
    }
    natsSubscription_Destroy(sub);
    ck_assert_msg(found != NULL, "no reply from our instance on %s", subject);
    return found;
}

static void assert_identity(json_t *j, const char *type) {
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), type);
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), svc_name);
    ck_assert_str_eq(json_string_value(json_object_get(j, "version")), "1.2.3");
    ck_assert(json_is_object(json_object_get(j, "metadata")));
}

static json_t *endpoint_named(json_t *j, const char *name) {
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "endpoints"), i, e) {
        if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0) return e;
    }
    ck_abort_msg("endpoint %s missing", name);
    return NULL;
}

START_TEST(ping_info_stats_and_counts) {
    const char *id = bus_actor_instance(actor);
    tb_error err = {0};
    tb_alert in = {0}, out;
    snprintf(in.alert_id, sizeof in.alert_id, "a-1");
    snprintf(in.severity, sizeof in.severity, "warning");
    snprintf(in.kind, sizeof in.kind, "drawdown");
    snprintf(in.message, sizeof in.message, "équité en baisse");
    in.ts = 1700000000123456789;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(bus_request(client, echo_subject, &tb_alert_desc, &in, &tb_alert_desc,
                                     &out, 2000, "trace-1", &err),
                         TB_OK);
        ck_assert_mem_eq(&in, &out, sizeof in);
    }
    /* hostile bytes: rejected with a clear error, counted, no crash */
    bus_bytes rb;
    tb_status s =
        bus_request_bytes(client, echo_subject, "\xc1\xff\x00", 3, "alert", 2000, NULL, &rb, &err);
    ck_assert_int_eq(s, TB_DECODE);
    for (int i = 0; i < 2; i++) {
        s = bus_request(client, fail_subject, NULL, NULL, NULL, NULL, 2000, NULL, &err);
        ck_assert_int_eq(s, TB_NOT_FOUND);
        ck_assert_str_eq(err.field, "order_id");
        ck_assert_str_eq(err.message, "no order o-404");
    }

    char subj[256];
    const char *forms[3] = {"$SRV.%s", "$SRV.%s.%s", "$SRV.%s.%s.%s"};
    for (int f = 0; f < 3; f++) {
        snprintf(subj, sizeof subj, forms[f], "PING", svc_name, id);
        json_t *p = collect_json(subj, id);
        assert_identity(p, "io.nats.micro.v1.ping_response");
        json_decref(p);
        snprintf(subj, sizeof subj, forms[f], "INFO", svc_name, id);
        json_t *info = collect_json(subj, id);
        assert_identity(info, "io.nats.micro.v1.info_response");
        ck_assert_str_eq(json_string_value(json_object_get(info, "description")),
                         "micro protocol test service");
        json_t *e = endpoint_named(info, "echo");
        ck_assert_str_eq(json_string_value(json_object_get(e, "subject")), echo_subject);
        ck_assert_str_eq(json_string_value(json_object_get(e, "queue_group")), svc_name);
        json_decref(info);
    }
    snprintf(subj, sizeof subj, "$SRV.STATS.%s", svc_name);
    json_t *st = collect_json(subj, id);
    assert_identity(st, "io.nats.micro.v1.stats_response");
    int64_t started = 0;
    ck_assert_int_eq(tb_ts_parse(json_string_value(json_object_get(st, "started")), &started),
                     TB_OK);
    ck_assert_int_gt(started, 0);
    json_t *echo = endpoint_named(st, "echo");
    ck_assert_int_eq(json_integer_value(json_object_get(echo, "num_requests")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(echo, "num_errors")), 1);
    ck_assert_int_ge(json_integer_value(json_object_get(echo, "processing_time")), 0);
    ck_assert(json_is_integer(json_object_get(echo, "average_processing_time")));
    json_t *fail = endpoint_named(st, "fail");
    ck_assert_int_eq(json_integer_value(json_object_get(fail, "num_requests")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(fail, "num_errors")), 2);
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(fail, "last_error")), "not_found"));
    json_decref(st);
}
END_TEST

START_TEST(error_reply_headers) {
    natsConnection *nc = bus_conn_nats(client);
    natsMsg *r = NULL;
    ck_assert_int_eq(natsConnection_RequestString(&r, nc, fail_subject, "", 2000), NATS_OK);
    const char *code = NULL, *text = NULL, *status = NULL;
    ck_assert_int_eq(natsMsgHeader_Get(r, BUS_HDR_SVC_ERROR_CODE, &code), NATS_OK);
    ck_assert_str_eq(code, "404");
    ck_assert_int_eq(natsMsgHeader_Get(r, BUS_HDR_SVC_ERROR, &text), NATS_OK);
    ck_assert_str_eq(text, "no order o-404");
    ck_assert_int_eq(natsMsgHeader_Get(r, BUS_HDR_ERROR_STATUS, &status), NATS_OK);
    ck_assert_str_eq(status, "not_found");
    tb_error_reply body;
    ck_assert_int_eq(tb_decode(&tb_error_reply_desc, natsMsg_GetData(r),
                               (size_t)natsMsg_GetDataLength(r), &body, NULL),
                     TB_OK);
    ck_assert_str_eq(body.code, "not_found");
    natsMsg_Destroy(r);
}
END_TEST

START_TEST(health_and_metrics) {
    char subj[256];
    bus_bytes rb;
    tb_error err = {0};
    snprintf(subj, sizeof subj, "svc.%s.health", svc_name);
    ck_assert_int_eq(bus_request_bytes(client, subj, "", 0, NULL, 2000, NULL, &rb, &err), TB_OK);
    json_t *h = json_loadb(rb.data, rb.len, 0, NULL);
    ck_assert_ptr_nonnull(h);
    ck_assert_str_eq(json_string_value(json_object_get(h, "status")), "ok");
    json_t *checks = json_object_get(h, "checks");
    ck_assert(json_is_true(json_object_get(json_object_get(checks, "nats"), "ok")));
    ck_assert(json_is_true(json_object_get(json_object_get(checks, "postgres"), "ok")));
    ck_assert(json_is_true(json_object_get(json_object_get(checks, "redis"), "ok")));
    ck_assert(json_is_real(json_object_get(json_object_get(checks, "postgres"), "latency_ms")));
    json_decref(h);
    bus_bytes_free(&rb);

    ck_assert_int_eq(bus_request(client, fail_subject, NULL, NULL, NULL, NULL, 2000, NULL, &err),
                     TB_NOT_FOUND);
    snprintf(subj, sizeof subj, "svc.%s.%s.metrics", svc_name, bus_actor_instance(actor));
    ck_assert_int_eq(bus_request_bytes(client, subj, "", 0, NULL, 2000, NULL, &rb, &err), TB_OK);
    const char *e = tb_prom_check(rb.data);
    ck_assert_msg(e == NULL, "%s", e);
    char want[256];
    snprintf(
        want, sizeof want,
        "tb_messages_total{service=\"%s\",instance=\"%s\",endpoint=\"fail\",outcome=\"error\"} 1\n",
        svc_name, bus_actor_instance(actor));
    ck_assert_msg(strstr(rb.data, want) != NULL, "missing %s in\n%s", want, rb.data);
    bus_bytes_free(&rb);
}
END_TEST

START_TEST(no_responders_and_timeout) {
    tb_error err = {0};
    char subj[160];
    snprintf(subj, sizeof subj, "test.%s.nobody", svc_name);
    ck_assert_int_eq(bus_request(client, subj, NULL, NULL, NULL, NULL, 1000, NULL, &err),
                     TB_NO_RESPONDERS);
}
END_TEST

int main(void) {
    Suite *s = suite_create("micro");
    TCase *tc = tcase_create("service");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, ping_info_stats_and_counts);
    tcase_add_test(tc, error_reply_headers);
    tcase_add_test(tc, health_and_metrics);
    tcase_add_test(tc, no_responders_and_timeout);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
