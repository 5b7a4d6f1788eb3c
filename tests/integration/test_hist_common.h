/* Helpers shared by the historical-data integration tests: start and stop
 * tb-historical-data workers, wait until they answer, read bars straight
 * from PostgreSQL. Header-only (static inline) so each test stays one file. */
#ifndef TEST_HIST_COMMON_H
#define TEST_HIST_COMMON_H

#include <nats/nats.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hist_bar.h"
#include "tb_test.h"

#define TH_MAX_WORKERS 4

static inline void th_log_path(char *out, size_t cap, const char *tag) {
    const char *dir = getenv("TB_BINARY_DIR");
    snprintf(out, cap, "%s/%s.log", dir ? dir : "/tmp", tag);
}

/* Replies to $SRV.PING.<name> within a short window: the instances whose
 * endpoints are subscribed (the runtime subscribes them before $SRV). */
static inline int th_count_instances(bus_conn *c, const char *name) {
    natsConnection *nc = bus_conn_nats(c);
    char inbox[96], subject[96];
    snprintf(inbox, sizeof inbox, "_INBOX.th.%d.%ld", (int)getpid(),
             (long)(bus_mono_ns() % 1000000007));
    snprintf(subject, sizeof subject, "$SRV.PING.%s", name);
    natsSubscription *sub = NULL;
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, nc, inbox), NATS_OK);
    ck_assert_int_eq(natsConnection_PublishRequestString(nc, subject, inbox, ""), NATS_OK);
    int n = 0;
    natsMsg *m = NULL;
    while (natsSubscription_NextMsg(&m, sub, 300) == NATS_OK) {
        n++;
        natsMsg_Destroy(m);
    }
    natsSubscription_Destroy(sub);
    return n;
}

/* Starts n copies of the service binary rel (under TB_BINARY_DIR) and waits
 * until at least n instances of name answer. */
static inline void th_start(bus_conn *c, const char *rel, const char *name, int n, pid_t *pids,
                            char *const env[], const char *log) {
    char bin[512];
    tb_test_bin(bin, sizeof bin, rel);
    char *argv[] = {bin, NULL};
    for (int i = 0; i < n; i++) pids[i] = tb_test_spawn(argv, env, log);
    int64_t end = bus_mono_ns() + INT64_C(20000) * 1000000;
    int seen = 0;
    while ((seen = th_count_instances(c, name)) < n) {
        ck_assert_msg(bus_mono_ns() < end, "only %d of %d %s workers started (see %s)", seen, n,
                      name, log);
    }
}

/* SIGTERM and a clean exit (0) for each worker. */
static inline void th_stop(pid_t *pids, int n) {
    for (int i = 0; i < n; i++) ck_assert_int_eq(kill(pids[i], SIGTERM), 0);
    for (int i = 0; i < n; i++) ck_assert_int_eq(tb_test_wait_exit(pids[i], 20000), 0);
}

static inline PGconn *th_pg(const bus_config *cfg) {
    PGconn *pg = PQconnectdb(cfg->database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "postgres: %s", PQerrorMessage(pg));
    return pg;
}

/* A bar as stored, with the interval it belongs to. */
typedef struct th_bar {
    hist_interval iv;
    hist_bar b;
} th_bar;

static inline tb_fixed th_fixed(const char *s) {
    tb_fixed v = 0;
    ck_assert_msg(tb_fixed_parse_cstr(s, &v) == TB_OK, "bad numeric %s", s);
    return v;
}

/* Every bar of symbol, ordered by interval (1s..1d) then start. *out is
 * malloc'd (caller frees). */
static inline size_t th_load_bars(PGconn *pg, const char *symbol, th_bar **out) {
    const char *params[] = {symbol};
    PGresult *r = PQexecParams(
        pg,
        "SELECT interval, (extract(epoch FROM start) * 1000000)::bigint, open, high, low, close,"
        "       volume, ticks, first_seq, last_seq FROM bars WHERE symbol = $1"
        " ORDER BY array_position(ARRAY['1s','1m','5m','1h','1d'], interval), start",
        1, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(pg));
    size_t n = (size_t)PQntuples(r);
    th_bar *bars = calloc(n ? n : 1, sizeof *bars);
    for (size_t i = 0; i < n; i++) {
        int row = (int)i;
        ck_assert_int_eq(hist_interval_parse(PQgetvalue(r, row, 0), &bars[i].iv), TB_OK);
        hist_bar *b = &bars[i].b;
        b->start = strtoll(PQgetvalue(r, row, 1), NULL, 10) * 1000;
        b->open = th_fixed(PQgetvalue(r, row, 2));
        b->high = th_fixed(PQgetvalue(r, row, 3));
        b->low = th_fixed(PQgetvalue(r, row, 4));
        b->close = th_fixed(PQgetvalue(r, row, 5));
        b->volume = th_fixed(PQgetvalue(r, row, 6));
        b->ticks = strtoull(PQgetvalue(r, row, 7), NULL, 10);
        b->first_seq = strtoull(PQgetvalue(r, row, 8), NULL, 10);
        b->last_seq = strtoull(PQgetvalue(r, row, 9), NULL, 10);
    }
    PQclear(r);
    *out = bars;
    return n;
}

/* One integer from a query with one parameter. */
static inline long long th_scalar(PGconn *pg, const char *sql, const char *param) {
    const char *params[] = {param};
    PGresult *r = PQexecParams(pg, sql, 1, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(pg));
    long long v = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

#endif
