/* Helpers of the notifications integration tests (test_notif_*.c): a tiny
 * HTTP receiver on a loopback port that records every request and answers
 * by path (/ok 200, /flaky 500 on the first request of an Idempotency-Key
 * then 200, /down always 500), starting and stopping tb-notifications
 * workers, and the service's requests. */
#ifndef TEST_NOTIF_COMMON_H
#define TEST_NOTIF_COMMON_H

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "notif_webhook.h"
#include "tb_test.h"
#include "wire.h"

/* ---- HTTP receiver ---- */

typedef struct nt_req {
    char path[256];
    char key[512];
    char sig[128];
    char event[64];
    char ctype[64];
    char *body; /* NUL-terminated; freed by nt_rx_stop */
    size_t len;
    int status; /* what was answered */
    int64_t at_ns;
} nt_req;

typedef struct nt_rx {
    int fd;
    int port;
    pthread_t th;
    pthread_mutex_t lock;
    nt_req *reqs;
    size_t n, cap;
    atomic_int stop; /* set by the main thread, read by the receiver */
} nt_rx;

/* Value of header name in the header block hdr ("" when absent). */
static inline void nt_header(const char *hdr, const char *name, char *out, size_t cap) {
    out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *p = hdr; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ') v++;
            snprintf(out, cap, "%.*s", (int)(len - (size_t)(v - p)), v);
            return;
        }
        p = eol ? eol + 2 : NULL;
    }
}

static inline int nt_policy(nt_rx *rx, const char *path, const char *key) {
    if (strncmp(path, "/ok", 3) == 0) return 200;
    if (strncmp(path, "/down", 5) == 0) return 500;
    if (strncmp(path, "/flaky", 6) == 0) {
        for (size_t i = 0; i < rx->n; i++)
            if (strcmp(rx->reqs[i].key, key) == 0) return 200;
        return 500;
    }
    return 404;
}

static inline void nt_serve(nt_rx *rx, int c) {
    struct timeval tv = {.tv_sec = 3};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    if (buf == NULL) return;
    char *end = NULL;
    size_t want = 0;
    for (;;) {
        ssize_t r = recv(c, buf + len, cap - len, 0);
        if (r <= 0) break;
        len += (size_t)r;
        buf[len] = '\0';
        if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            char cl[32];
            *end = '\0';
            nt_header(strstr(buf, "\r\n") + 2, "Content-Length", cl, sizeof cl);
            *end = '\r';
            want = (size_t)(end + 4 - buf) + (size_t)strtoul(cl, NULL, 10);
        }
        if (end && len >= want) break;
        if (len == cap) break;
    }
    if (end == NULL || len < want) {
        free(buf);
        return;
    }
    nt_req q;
    memset(&q, 0, sizeof q);
    *end = '\0';
    char *line_end = strstr(buf, "\r\n");
    const char *hdr = line_end ? line_end + 2 : "";
    if (line_end) *line_end = '\0';
    sscanf(buf, "%*s %255s", q.path);
    nt_header(hdr, "Idempotency-Key", q.key, sizeof q.key);
    nt_header(hdr, "X-Tradebus-Signature", q.sig, sizeof q.sig);
    nt_header(hdr, "X-Tradebus-Event", q.event, sizeof q.event);
    nt_header(hdr, "Content-Type", q.ctype, sizeof q.ctype);
    q.len = want - (size_t)(end + 4 - buf);
    q.body = malloc(q.len + 1);
    if (q.body) {
        memcpy(q.body, end + 4, q.len);
        q.body[q.len] = '\0';
    }
    q.at_ns = bus_mono_ns();
    pthread_mutex_lock(&rx->lock);
    q.status = nt_policy(rx, q.path, q.key);
    if (rx->n == rx->cap) {
        size_t nc = rx->cap ? 2 * rx->cap : 64;
        nt_req *v = realloc(rx->reqs, nc * sizeof *v);
        if (v) {
            rx->reqs = v;
            rx->cap = nc;
        }
    }
    if (rx->n < rx->cap)
        rx->reqs[rx->n++] = q;
    else
        free(q.body);
    pthread_mutex_unlock(&rx->lock);
    char resp[128];
    int rl =
        snprintf(resp, sizeof resp,
                 "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", q.status);
    ssize_t w = send(c, resp, (size_t)rl, MSG_NOSIGNAL);
    (void)w; /* the client may have given up; its retry is what is tested */
    free(buf);
}

static inline void *nt_rx_main(void *arg) {
    nt_rx *rx = arg;
    while (!rx->stop) {
        struct pollfd p = {.fd = rx->fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        int c = accept(rx->fd, NULL, NULL);
        if (c < 0) continue;
        nt_serve(rx, c);
        close(c);
    }
    return NULL;
}

static inline void nt_rx_start(nt_rx *rx) {
    memset(rx, 0, sizeof *rx);
    pthread_mutex_init(&rx->lock, NULL);
    rx->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(rx->fd, 0);
    int one = 1;
    setsockopt(rx->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(rx->fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(rx->fd, 128), 0);
    socklen_t al = sizeof a;
    ck_assert_int_eq(getsockname(rx->fd, (struct sockaddr *)&a, &al), 0);
    rx->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&rx->th, NULL, nt_rx_main, rx), 0);
}

static inline void nt_rx_stop(nt_rx *rx) {
    rx->stop = 1;
    pthread_join(rx->th, NULL);
    close(rx->fd);
    for (size_t i = 0; i < rx->n; i++) free(rx->reqs[i].body);
    free(rx->reqs);
    pthread_mutex_destroy(&rx->lock);
}

/* Copies of the requests to path (bodies shared with rx); *n their count.
 * Caller frees the array. */
static inline nt_req *nt_rx_get(nt_rx *rx, const char *path, size_t *n) {
    pthread_mutex_lock(&rx->lock);
    nt_req *v = calloc(rx->n + 1, sizeof *v);
    size_t k = 0;
    for (size_t i = 0; v && i < rx->n; i++)
        if (strcmp(rx->reqs[i].path, path) == 0) v[k++] = rx->reqs[i];
    pthread_mutex_unlock(&rx->lock);
    ck_assert_ptr_nonnull(v);
    *n = k;
    return v;
}

static inline size_t nt_rx_count(nt_rx *rx, const char *path) {
    size_t n;
    free(nt_rx_get(rx, path, &n));
    return n;
}

typedef struct nt_count_arg {
    nt_rx *rx;
    const char *path;
    size_t want;
} nt_count_arg;

static inline bool nt_count_reached(void *arg) {
    nt_count_arg *a = arg;
    return nt_rx_count(a->rx, a->path) >= a->want;
}

static inline bool nt_wait_requests(nt_rx *rx, const char *path, size_t want, int64_t ms) {
    nt_count_arg a = {rx, path, want};
    return tb_test_wait(nt_count_reached, &a, ms);
}

/* ---- workers ---- */

typedef struct nt_worker {
    pid_t pid;
    char instance[64];
} nt_worker;

typedef struct nt_env {
    char v[16][192];
    char *ptrs[17];
} nt_env;

/* The settings every test worker runs with: fills of this test's account
 * only, on a durable of its own; fast timers and retries. */
static inline void nt_env_init(nt_env *e, const char *account, const char *instance) {
    memset(e, 0, sizeof *e);
    int k = 0;
    snprintf(e->v[k++], 192, "NOTIF_FILLS_SUBJECT=fills.%s.>", account);
    snprintf(e->v[k++], 192, "NOTIF_FILLS_DURABLE=notif-%s", account);
    snprintf(e->v[k++], 192, "INSTANCE_ID=%s", instance);
    snprintf(e->v[k++], 192, "NOTIF_DELIVERY_INTERVAL_MS=100");
    snprintf(e->v[k++], 192, "NOTIF_BACKOFF_BASE_MS=150");
    snprintf(e->v[k++], 192, "NOTIF_BACKOFF_MAX_MS=600");
    snprintf(e->v[k++], 192, "NOTIF_MAX_ATTEMPTS=3");
    snprintf(e->v[k++], 192, "NOTIF_HTTP_TIMEOUT_MS=2000");
    snprintf(e->v[k++], 192, "NOTIF_RULES_REFRESH_MS=200");
    snprintf(e->v[k++], 192, "NOTIF_PRICE_INTERVAL_MS=0");
    snprintf(e->v[k++], 192, "NOTIF_EQUITY_INTERVAL_MS=0");
    snprintf(e->v[k++], 192, "NOTIF_ACK_WAIT_MS=2000");
    /* The receivers listen on loopback, which webhooks may not call unless
     * listed (test_notif_ssrf.c overrides this to check the refusal). */
    snprintf(e->v[k++], 192, "NOTIF_WEBHOOK_ALLOW=127.0.0.1");
    for (int i = 0; i < k; i++) e->ptrs[i] = e->v[i];
    e->ptrs[k] = NULL;
}

static inline bool nt_ready(bus_conn *c, const char *instance) {
    char subj[160];
    snprintf(subj, sizeof subj, "svc.notifications.%s.health", instance);
    bus_bytes b;
    tb_error err = {0};
    if (bus_request_bytes(c, subj, "", 0, NULL, 500, NULL, &b, &err) != TB_OK) return false;
    bus_bytes_free(&b);
    return true;
}

/* Starts a worker; extra ("NAME=value", may be NULL) overrides a setting
 * of nt_env_init (the later entry wins in the child's environment). */
static inline void nt_start_with(nt_worker *w, bus_conn *c, const char *account, int index,
                                 const char *log_path, const char *extra) {
    snprintf(w->instance, sizeof w->instance, "%s-w%d", account, index);
    nt_env e;
    nt_env_init(&e, account, w->instance);
    if (extra) {
        int k = 0;
        while (e.ptrs[k]) k++;
        snprintf(e.v[k], sizeof e.v[k], "%s", extra);
        e.ptrs[k] = e.v[k];
        e.ptrs[k + 1] = NULL;
    }
    char bin[512];
    tb_test_bin(bin, sizeof bin, "actors/notifications/tb-notifications");
    char *argv[] = {bin, NULL};
    w->pid = tb_test_spawn(argv, e.ptrs, log_path);
    int64_t end = bus_mono_ns() + INT64_C(20000000000);
    while (!nt_ready(c, w->instance)) {
        ck_assert_msg(bus_mono_ns() < end, "worker %s did not start (see %s)", w->instance,
                      log_path);
        usleep(50000);
    }
}

static inline void nt_start(nt_worker *w, bus_conn *c, const char *account, int index,
                            const char *log_path) {
    nt_start_with(w, c, account, index, log_path, NULL);
}

static inline void nt_stop(nt_worker *w) {
    if (w->pid <= 0) return;
    kill(w->pid, SIGTERM);
    ck_assert_int_eq(tb_test_wait_exit(w->pid, 30000), 0);
    w->pid = 0;
}

/* kill -9: the worker stops wherever it is. */
static inline void nt_kill(nt_worker *w) {
    ck_assert_int_eq(kill(w->pid, SIGKILL), 0);
    ck_assert_int_eq(tb_test_wait_exit(w->pid, 10000), 128 + SIGKILL);
    w->pid = 0;
}

/* Removes the test's durable consumer from FILLS. */
static inline void nt_drop_durable(bus_conn *c, const char *account) {
    char durable[128];
    snprintf(durable, sizeof durable, "notif-%s", account);
    jsErrCode jerr = 0;
    (void)js_DeleteConsumer(bus_conn_js(c), BUS_STREAM_FILLS, durable, NULL, &jerr);
}

/* Deletes what a test left for its accounts (webhooks with their
 * deliveries, rules), so no later worker retries towards a closed port. */
static inline void nt_cleanup(const bus_config *cfg, const char *const *accounts, size_t n) {
    PGconn *pg = PQconnectdb(cfg->database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "postgres: %s", PQerrorMessage(pg));
    for (size_t i = 0; i < n; i++) {
        const char *p[1] = {accounts[i]};
        PQclear(
            PQexecParams(pg, "DELETE FROM webhooks WHERE account = $1", 1, NULL, p, NULL, NULL, 0));
        PQclear(PQexecParams(pg, "DELETE FROM alert_rules WHERE account = $1", 1, NULL, p, NULL,
                             NULL, 0));
    }
    PQfinish(pg);
}

/* ---- requests ---- */

static inline void nt_webhook(bus_conn *c, const char *url, const char *events, const char *account,
                              tb_webhook *out) {
    tb_webhook w;
    memset(&w, 0, sizeof w);
    snprintf(w.url, sizeof w.url, "%s", url);
    snprintf(w.events, sizeof w.events, "%s", events);
    snprintf(w.account, sizeof w.account, "%s", account);
    tb_error err = {0};
    ck_assert_msg(bus_request(c, "api.webhooks.create", &tb_webhook_desc, &w, &tb_webhook_desc, out,
                              5000, NULL, &err) == TB_OK,
                  "webhook: %s", err.message);
}

static inline void nt_rule(bus_conn *c, const char *kind, const char *account, const char *symbol,
                           const char *threshold, tb_alert_rule *out) {
    tb_alert_rule r;
    memset(&r, 0, sizeof r);
    snprintf(r.kind, sizeof r.kind, "%s", kind);
    snprintf(r.account, sizeof r.account, "%s", account);
    snprintf(r.symbol, sizeof r.symbol, "%s", symbol);
    if (threshold) ck_assert_int_eq(tb_fixed_parse_cstr(threshold, &r.threshold), TB_OK);
    tb_error err = {0};
    ck_assert_msg(bus_request(c, "api.alerts.rules.create", &tb_alert_rule_desc, &r,
                              &tb_alert_rule_desc, out, 5000, NULL, &err) == TB_OK,
                  "rule: %s", err.message);
}

/* A list request; *items malloc'd (caller frees). */
static inline tb_status nt_list(bus_conn *c, const char *subject, const tb_query *q,
                                const tb_event_desc *item, void **items, size_t *n, tb_error *err) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    tb_status s = tb_encode(&tb_query_desc, q, &sb, err);
    bus_bytes b = {0};
    if (s == TB_OK)
        s = bus_request_bytes(c, subject, sb.data, sb.size, "query", 5000, NULL, &b, err);
    msgpack_sbuffer_destroy(&sb);
    if (s != TB_OK) return s;
    s = tb_decode_list(item, b.data, b.len, items, n, NULL, err);
    bus_bytes_free(&b);
    return s;
}

static inline tb_alert *nt_alerts(bus_conn *c, const char *account, size_t *n) {
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.account, sizeof q.account, "%s", account);
    q.limit = 1000;
    void *items = NULL;
    tb_error err = {0};
    ck_assert_msg(nt_list(c, "api.alerts.list", &q, &tb_alert_desc, &items, n, &err) == TB_OK,
                  "alerts: %s", err.message);
    return items;
}

static inline tb_webhook_delivery *nt_deliveries(bus_conn *c, const char *webhook_id,
                                                 const char *state, size_t *n) {
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.id, sizeof q.id, "%s", webhook_id);
    snprintf(q.status, sizeof q.status, "%s", state ? state : "");
    q.limit = 1000;
    void *items = NULL;
    tb_error err = {0};
    ck_assert_msg(nt_list(c, "api.webhooks.deliveries", &q, &tb_webhook_delivery_desc, &items, n,
                          &err) == TB_OK,
                  "deliveries: %s", err.message);
    return items;
}

/* Value of the sample of metric name whose labels contain label (NULL: any)
 * in the instance's exposition; -1 when absent. */
static inline long long nt_metric(bus_conn *c, const char *instance, const char *name,
                                  const char *label) {
    char subj[160];
    snprintf(subj, sizeof subj, "svc.notifications.%s.metrics", instance);
    bus_bytes b;
    tb_error err = {0};
    ck_assert_msg(bus_request_bytes(c, subj, "", 0, NULL, 2000, NULL, &b, &err) == TB_OK, "%s",
                  err.message);
    const char *bad = tb_prom_check(b.data);
    ck_assert_msg(bad == NULL, "metrics: %s", bad);
    long long v = -1;
    size_t nl = strlen(name);
    for (const char *p = b.data; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)len, p);
        if (strncmp(line, name, nl) == 0 && (line[nl] == '{' || line[nl] == ' ') &&
            (label == NULL || strstr(line, label) != NULL)) {
            const char *sp = strrchr(line, ' ');
            if (sp) v = strtoll(sp + 1, NULL, 10);
            break;
        }
        p = eol ? eol + 1 : NULL;
    }
    bus_bytes_free(&b);
    return v;
}

/* Publishes a fill of account on FILLS under msg_id. */
static inline void nt_publish_fill_in(bus_conn *c, const char *account, const char *symbol,
                                      const char *fill_id, const char *msg_id) {
    tb_fill f;
    memset(&f, 0, sizeof f);
    snprintf(f.fill_id, sizeof f.fill_id, "%s", fill_id);
    snprintf(f.order_id, sizeof f.order_id, "O-%s", fill_id);
    snprintf(f.account, sizeof f.account, "%s", account);
    snprintf(f.symbol, sizeof f.symbol, "%s", symbol);
    snprintf(f.side, sizeof f.side, "buy");
    f.qty = 2 * TB_FIXED_SCALE;
    f.price = 16000 * TB_FIXED_SCALE;
    f.ts = tb_now_ns();
    char subject[160];
    snprintf(subject, sizeof subject, "fills.%s.%s", account, symbol);
    bus_msg_meta meta = {.msg_id = msg_id};
    tb_error err = {0};
    ck_assert_msg(bus_js_publish(c, subject, &tb_fill_desc, &f, &meta, NULL, &err) == TB_OK, "%s",
                  err.message);
}

static inline void nt_publish_fill(bus_conn *c, const char *account, const char *fill_id,
                                   const char *msg_id) {
    nt_publish_fill_in(c, account, "DAX", fill_id, msg_id);
}

/* Counts messages of a core subscription. */
typedef struct nt_counter {
    pthread_mutex_t lock;
    char account[TB_TOKEN_CAP]; /* only alerts of this account count */
    int n;
    char last[TB_ID_CAP];
} nt_counter;

static inline void nt_count_cb(const bus_msg *m, void *arg) {
    nt_counter *k = arg;
    tb_alert al;
    if (tb_decode(&tb_alert_desc, bus_msg_data(m), bus_msg_len(m), &al, NULL) != TB_OK ||
        strcmp(al.account, k->account) != 0)
        return;
    pthread_mutex_lock(&k->lock);
    k->n++;
    snprintf(k->last, sizeof k->last, "%s", al.alert_id);
    pthread_mutex_unlock(&k->lock);
}

static inline int nt_counter_get(nt_counter *k) {
    pthread_mutex_lock(&k->lock);
    int n = k->n;
    pthread_mutex_unlock(&k->lock);
    return n;
}

#endif
