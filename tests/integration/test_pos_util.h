/* Helpers of the position-management integration tests (test_pos_*.c):
 * starting tb-position-management workers, recording fills in PostgreSQL the
 * way trading-execution does (an orders row, then the fills row) and
 * publishing them on FILLS with Nats-Msg-Id, waiting, and requests. */
#ifndef TEST_POS_UTIL_H
#define TEST_POS_UTIL_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_invariants.h"
#include "tb_test.h"
#include "wire.h"

static inline PGconn *pt_pg(const bus_config *cfg) {
    PGconn *pg = PQconnectdb(cfg->database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "postgres: %s", PQerrorMessage(pg));
    return pg;
}

static inline void pt_exec(PGconn *pg, const char *sql, int n, const char *const *params) {
    PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
                  PQerrorMessage(pg));
    PQclear(r);
}

/* The first column of the first row as a long (count(*) queries). */
static inline long pt_count(PGconn *pg, const char *sql, const char *param) {
    const char *p[1] = {param};
    PGresult *r = PQexecParams(pg, sql, param ? 1 : 0, NULL, p, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(pg));
    long v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static inline tb_fixed pt_fx(const char *s) {
    tb_fixed v = 0;
    ck_assert_msg(tb_fixed_parse_cstr(s, &v) == TB_OK, "bad literal %s", s);
    return v;
}

static inline void pt_fill(tb_fill *f, const char *id, const char *acct, const char *sym,
                           const char *side, const char *qty, const char *price, const char *fee,
                           int64_t ts) {
    memset(f, 0, sizeof *f);
    snprintf(f->fill_id, sizeof f->fill_id, "%s", id);
    snprintf(f->order_id, sizeof f->order_id, "%s-%s-%s", acct, sym, side);
    snprintf(f->account, sizeof f->account, "%s", acct);
    snprintf(f->symbol, sizeof f->symbol, "%s", sym);
    snprintf(f->side, sizeof f->side, "%s", side);
    snprintf(f->liquidity, sizeof f->liquidity, "taker");
    f->qty = pt_fx(qty);
    f->price = pt_fx(price);
    f->fee = pt_fx(fee);
    f->ts = ts;
}

/* Inserts the fill's order (one per account, symbol and side, so the FK
 * holds) and the fill row, as trading-execution records them. */
static inline void pt_record_fill(PGconn *pg, const tb_fill *f) {
    char qty[TB_FIXED_STRLEN], price[TB_FIXED_STRLEN], fee[TB_FIXED_STRLEN], us[24];
    (void)tb_fixed_format(f->qty, qty);
    (void)tb_fixed_format(f->price, price);
    (void)tb_fixed_format(f->fee, fee);
    snprintf(us, sizeof us, "%lld", (long long)(f->ts / 1000));
    const char *po[4] = {f->order_id, f->account, f->symbol, f->side};
    pt_exec(pg,
            "INSERT INTO orders (order_id, account, symbol, side, type, qty, tif, source) "
            "VALUES ($1, $2, $3, $4, 'market', 1000000000, 'gtc', 'api') "
            "ON CONFLICT (order_id) DO NOTHING",
            4, po);
    const char *pf[10] = {f->fill_id, f->order_id, f->account, f->symbol,    f->side,
                          qty,        price,       fee,        f->liquidity, us};
    pt_exec(pg,
            "INSERT INTO fills (fill_id, order_id, account, symbol, side, qty, price, fee, "
            "liquidity, ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
            "'epoch'::timestamptz + $10::bigint * interval '1 microsecond')",
            10, pf);
}

/* Publishes f on fills.<acct>.<SYM> with Nats-Msg-Id = msg_id (the fill id
 * unless a test fakes a second message); returns JetStream's duplicate flag. */
static inline bool pt_publish_fill(bus_conn *conn, const tb_fill *f, const char *msg_id) {
    char subject[160];
    snprintf(subject, sizeof subject, "fills.%s.%s", f->account, f->symbol);
    bus_msg_meta meta = {.msg_id = msg_id ? msg_id : f->fill_id, .trace_id = f->fill_id};
    bool dup = false;
    tb_error err = {0};
    ck_assert_msg(bus_js_publish(conn, subject, &tb_fill_desc, f, &meta, &dup, &err) == TB_OK,
                  "publish %s: %s", f->fill_id, err.message);
    return dup;
}

/* Starts a worker with INSTANCE_ID = instance and extra "K=V" settings
 * (NULL-terminated, up to 8); its log goes to <binary dir>/<instance>.log. */
static inline pid_t pt_spawn(const char *instance, char *const *extra) {
    /* The child putenv()s these pointers after fork: its own copy of them. */
    static char env[12][256];
    char bin[512], log[512];
    tb_test_bin(bin, sizeof bin, "actors/position-management/tb-position-management");
    const char *dir = getenv("TB_BINARY_DIR");
    snprintf(log, sizeof log, "%s/%s.log", dir ? dir : "/tmp", instance);
    char *envp[12];
    int n = 0;
    snprintf(env[n], sizeof env[n], "INSTANCE_ID=%s", instance);
    envp[n] = env[n];
    n++;
    for (int i = 0; extra && extra[i] && n < 11; i++, n++) {
        snprintf(env[n], sizeof env[n], "%s", extra[i]);
        envp[n] = env[n];
    }
    envp[n] = NULL;
    char *argv[] = {bin, NULL};
    return tb_test_spawn(argv, envp, log);
}

/* Waits until the instance answers its own health subject. */
static inline void pt_wait_ready(bus_conn *conn, const char *instance) {
    char subject[160];
    snprintf(subject, sizeof subject, "svc.position-management.%s.health", instance);
    int64_t end = bus_mono_ns() + INT64_C(30000000000);
    for (;;) {
        bus_bytes b = {0};
        tb_error err = {0};
        tb_status s = bus_request_bytes(conn, subject, "", 0, NULL, 1000, NULL, &b, &err);
        bus_bytes_free(&b);
        if (s == TB_OK) return;
        ck_assert_msg(bus_mono_ns() < end, "worker %s did not start", instance);
        usleep(50000);
    }
}

/* Value of a counter series (first line starting with prefix) in the
 * instance's metrics; -1 when absent. */
static inline long pt_metric(bus_conn *conn, const char *instance, const char *prefix) {
    char subject[160];
    snprintf(subject, sizeof subject, "svc.position-management.%s.metrics", instance);
    bus_bytes b = {0};
    tb_error err = {0};
    long v = -1;
    if (bus_request_bytes(conn, subject, "", 0, NULL, 2000, NULL, &b, &err) == TB_OK && b.data) {
        for (char *line = b.data; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl) *nl = '\0';
            if (strncmp(line, prefix, strlen(prefix)) == 0) {
                char *sp = strrchr(line, ' ');
                if (sp) v = strtol(sp + 1, NULL, 10);
                break;
            }
            line = nl ? nl + 1 : NULL;
        }
    }
    bus_bytes_free(&b);
    return v;
}

typedef struct pt_wait_count {
    PGconn *pg;
    const char *sql, *param;
    long want;
} pt_wait_count;

static inline bool pt_count_reached(void *arg) {
    pt_wait_count *w = arg;
    return pt_count(w->pg, w->sql, w->param) >= w->want;
}

/* Waits until the fills of accounts LIKE pattern are all applied. */
static inline bool pt_wait_applied(PGconn *pg, const char *pattern, long want, int64_t timeout_ms) {
    pt_wait_count w = {pg,
                       "SELECT count(*) FROM applied_fills a JOIN fills f USING (fill_id) "
                       "WHERE f.account LIKE $1",
                       pattern, want};
    return tb_test_wait(pt_count_reached, &w, timeout_ms);
}

/* A list reply of api.<...>; *items malloc'd (caller frees). */
static inline tb_status pt_list(bus_conn *conn, const char *subject, const tb_query *q,
                                const tb_event_desc *item, void **items, size_t *n,
                                char next[TB_ID_CAP], tb_error *err) {
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    tb_status s = tb_encode(&tb_query_desc, q, &b, err);
    bus_bytes reply = {0};
    if (s == TB_OK)
        s = bus_request_bytes(conn, subject, b.data, b.size, "query", 5000, NULL, &reply, err);
    msgpack_sbuffer_destroy(&b);
    if (s == TB_OK) s = tb_decode_list(item, reply.data, reply.len, items, n, next, err);
    bus_bytes_free(&reply);
    return s;
}

#endif
