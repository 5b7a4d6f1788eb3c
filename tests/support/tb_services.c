/* Test services as child processes (tb_services.h). */
#include "tb_services.h"

#include <jansson.h>
#include <nats/nats.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

pid_t tb_service_spawn(const char *service, const char *instance_id, const char *extra_env,
                       const char *log_path) {
    char bin[512], rel[128], inst[160];
    snprintf(rel, sizeof rel, "actors/%s/tb-%s", service, service);
    tb_test_bin(bin, sizeof bin, rel);
    ck_assert_msg(access(bin, X_OK) == 0, "%s is not built", bin);
    snprintf(inst, sizeof inst, "INSTANCE_ID=%s", instance_id);
    char *argv[] = {bin, NULL};
    char *env[] = {inst, "LOG_LEVEL=warn", (char *)extra_env, NULL};
    return tb_test_spawn(argv, env, log_path);
}

int tb_service_count(bus_conn *conn, const char *service, const char *id_prefix) {
    natsConnection *nc = bus_conn_nats(conn);
    natsInbox *inbox = NULL;
    natsSubscription *sub = NULL;
    char subject[96];
    snprintf(subject, sizeof subject, "$SRV.PING.%s", service);
    ck_assert_int_eq(natsInbox_Create(&inbox), NATS_OK);
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, nc, inbox), NATS_OK);
    ck_assert_int_eq(natsConnection_PublishRequestString(nc, subject, inbox, ""), NATS_OK);
    int n = 0;
    natsMsg *m = NULL;
    while (natsSubscription_NextMsg(&m, sub, 300) == NATS_OK) {
        json_t *j = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, NULL);
        const char *id = json_string_value(json_object_get(j, "id"));
        if (id && strncmp(id, id_prefix, strlen(id_prefix)) == 0) n++;
        json_decref(j);
        natsMsg_Destroy(m);
    }
    natsSubscription_Destroy(sub);
    natsInbox_Destroy(inbox);
    return n;
}

bool tb_service_wait(bus_conn *conn, const char *service, const char *id_prefix, int want,
                     int64_t timeout_ms) {
    int64_t end = bus_mono_ns() + timeout_ms * 1000000;
    while (tb_service_count(conn, service, id_prefix) != want)
        if (bus_mono_ns() >= end) return false;
    return true;
}

void tb_services_start(bus_conn *conn, const char *const *services, const char *const *env, int n,
                       const char *tag, const char *log_path, pid_t *pids) {
    for (int i = 0; i < n; i++) {
        char inst[96];
        snprintf(inst, sizeof inst, "%s-%.6s", tag, services[i]);
        pids[i] = tb_service_spawn(services[i], inst, env ? env[i] : NULL, log_path);
    }
    for (int i = 0; i < n; i++)
        ck_assert_msg(tb_service_wait(conn, services[i], tag, 1, 30000), "%s is not up (see %s)",
                      services[i], log_path);
}

void tb_services_stop(pid_t *pids, int n) {
    for (int i = 0; i < n; i++)
        if (pids[i] > 0) kill(pids[i], SIGTERM);
    for (int i = 0; i < n; i++)
        if (pids[i] > 0) (void)tb_test_wait_exit(pids[i], 20000);
}

int64_t tb_replay_start(bus_conn *conn, const char *path, const char *format, const char *source,
                        uint64_t speed) {
    tb_market_replay rp = {.speed = speed};
    tb_md_status ms;
    snprintf(rp.path, sizeof rp.path, "%s", path);
    snprintf(rp.format, sizeof rp.format, "%s", format);
    snprintf(rp.source, sizeof rp.source, "%s", source);
    tb_error err = {0};
    int64_t t0 = bus_mono_ns();
    ck_assert_msg(bus_request(conn, "api.market.replay", &tb_market_replay_desc, &rp,
                              &tb_md_status_desc, &ms, 10000, NULL, &err) == TB_OK,
                  "replay of %s: %s", path, err.message);
    return t0;
}
