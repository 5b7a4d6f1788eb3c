/* Shared fixture of the gateway integration tests (test_gateway_*.c).
 *
 * - runs the real tb-gateway binary as a child process on a free port and
 *   stops it with SIGTERM (a clean exit is part of every test run);
 * - talks HTTP to it with libcurl;
 * - creates keys: the first admin key with `tb-gateway --create-admin-key`,
 *   the others through POST /v1/api-keys;
 * - runs an in-process fake service (a bus_actor) answering every api.*
 *   subject the gateway routes to, with replies built from the catalogue
 *   (so they are validated like any service's) and from the request, and
 *   recording what it received (trace id, caller accounts) for assertions.
 *   The fake honours tb_query.accounts like the real services do.
 *
 * Included by exactly one .c file per test binary (static definitions). */
#ifndef TEST_GATEWAY_FIXTURE_H
#define TEST_GATEWAY_FIXTURE_H

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "routes.h"
#include "tb_test.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

/* ------------------------------------------------------------- HTTP -- */

typedef struct http_resp {
    long status;
    char *body;
    size_t len;
    char *headers;
    size_t hlen;
    json_t *json; /* the body parsed, when it is JSON */
} http_resp;

static size_t append(char **buf, size_t *len, const char *data, size_t n) {
    char *b = realloc(*buf, *len + n + 1);
    ck_assert_ptr_nonnull(b);
    memcpy(b + *len, data, n);
    *len += n;
    b[*len] = '\0';
    *buf = b;
    return n;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg) {
    http_resp *r = arg;
    return append(&r->body, &r->len, data, size * n);
}

static size_t on_header(char *data, size_t size, size_t n, void *arg) {
    http_resp *r = arg;
    return append(&r->headers, &r->hlen, data, size * n);
}

static void http_free(http_resp *r) {
    free(r->body);
    free(r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* A response header's value (copied into out), NULL when absent. */
static const char *http_header(const http_resp *r, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        if (ll > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ') v++;
            snprintf(out, cap, "%.*s", (int)(ll - (size_t)(v - p)), v);
            return out;
        }
        p = eol ? eol + 2 : p + ll;
    }
    return NULL;
}

/* The error code of an error response ("" when the body is not one). */
static const char *http_error_code(const http_resp *r) {
    const char *c = json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
    return c ? c : "";
}

static const char *http_error_field(const http_resp *r) {
    const char *c = json_string_value(json_object_get(json_object_get(r->json, "error"), "field"));
    return c ? c : "";
}

/* One request. body may be NULL (none) with body_len ignored; headers is a
 * NULL-terminated list of "Name: value" lines (may be NULL). */
static void http_do(http_resp *out, const char *base, const char *method, const char *path,
                    const char *key, const char *body, long body_len, const char *const *headers) {
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    char url[2048];
    snprintf(url, sizeof url, "%s%s", base, path);
    struct curl_slist *hl = NULL;
    char auth[256];
    if (key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        hl = curl_slist_append(hl, auth);
    }
    for (size_t i = 0; headers && headers[i]; i++) hl = curl_slist_append(hl, headers[i]);
    if (body) hl = curl_slist_append(hl, "Content-Type: application/json");
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(body_len >= 0 ? (size_t)body_len : strlen(body)));
    }
    CURLcode rc = curl_easy_perform(c);
    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    if (out->body) out->json = json_loadb(out->body, out->len, 0, NULL);
}

/* ------------------------------------------------------- the gateway -- */

typedef struct gw_proc {
    pid_t pid;
    int port;
    char base[64];
    char log[512];
} gw_proc;

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void gw_binary(char *out, size_t cap) {
    tb_test_bin(out, cap, "gateway/tb-gateway");
}

static bool gw_answers(void *arg) {
    gw_proc *g = arg;
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "%s/health", g->base);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 500L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    return rc == CURLE_OK;
}

/* Like tb_test_spawn, but the child keeps none of the test's descriptors:
 * an inherited NATS socket would keep a fake service's subscriptions alive
 * on the server after the test closed it. */
static pid_t spawn_clean(const char *bin, char *const *env, const char *log) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        for (size_t i = 0; env[i]; i++) putenv(env[i]);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        for (int k = 3; k < 4096; k++) close(k);
        execl(bin, bin, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Starts tb-gateway with env (NULL-terminated "K=V" list, may be NULL)
 * besides GATEWAY_PORT, and waits until it answers. */
static void gw_start(gw_proc *g, const char *tag, const char *const *env) {
    memset(g, 0, sizeof *g);
    g->port = free_port();
    snprintf(g->base, sizeof g->base, "http://127.0.0.1:%d", g->port);
    char bin[512], port_env[64];
    gw_binary(bin, sizeof bin);
    snprintf(port_env, sizeof port_env, "GATEWAY_PORT=%d", g->port);
    char *envs[32];
    size_t n = 0;
    envs[n++] = port_env;
    /* Fewer workers than the default 512 start faster (under ASan each
     * thread costs milliseconds); a test that needs more says so in env,
     * which comes later and wins. */
    static char threads_env[] = "GATEWAY_THREADS=64";
    envs[n++] = threads_env;
    for (size_t i = 0; env && env[i] && n < 31; i++) envs[n++] = (char *)env[i];
    envs[n] = NULL;
    snprintf(g->log, sizeof g->log, "%s/test_gateway-%s-%d.log",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", tag, g->port);
    g->pid = spawn_clean(bin, envs, g->log);
    ck_assert_msg(tb_test_wait(gw_answers, g, 30000), "tb-gateway did not answer (log %s)", g->log);
}

/* SIGTERM; returns the exit status (-1 after a kill on timeout). */
static int gw_stop_rc(gw_proc *g) {
    if (g->pid <= 0) return 0;
    kill(g->pid, SIGTERM);
    int rc = tb_test_wait_exit(g->pid, 20000);
    g->pid = 0;
    return rc;
}

/* The gateway must drain and exit 0 (under ASan: also without leaks). */
static void gw_stop(gw_proc *g) {
    int rc = gw_stop_rc(g);
    ck_assert_msg(rc == 0, "tb-gateway exited with %d (log %s)", rc, g->log);
}

static void gw_http(http_resp *out, gw_proc *g, const char *method, const char *path,
                    const char *key, const char *body) {
    http_do(out, g->base, method, path, key, body, -1, NULL);
}

/* Creates the first admin key the way scripts/up does. */
static void gw_admin_key(char *out, size_t cap) {
    char bin[512], cmd[700];
    gw_binary(bin, sizeof bin);
    snprintf(cmd, sizeof cmd, "'%s' --create-admin-key --name gateway-test 2>/dev/null", bin);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[128] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
    char extra[16];
    ck_assert_ptr_null(fgets(extra, sizeof extra, p)); /* the key alone */
    ck_assert_int_eq(pclose(p), 0);
    line[strcspn(line, "\n")] = '\0';
    ck_assert_uint_eq(strlen(line), 43);
    ck_assert(strncmp(line, "tb_", 3) == 0);
    snprintf(out, cap, "%s", line);
}

/* POST /v1/api-keys; returns the key and its id. */
static void gw_new_key(gw_proc *g, const char *admin, const char *role, const char *accounts,
                       char key[64], char id[64]) {
    char body[512];
    snprintf(body, sizeof body, "{\"role\":\"%s\",\"accounts\":\"%s\",\"name\":\"test %s\"}", role,
             accounts, role);
    http_resp r;
    gw_http(&r, g, "POST", "/v1/api-keys", admin, body);
    ck_assert_msg(r.status == 201, "create key: %ld %s", r.status, r.body);
    snprintf(key, 64, "%s", json_string_value(json_object_get(r.json, "key")));
    snprintf(id, 64, "%s", json_string_value(json_object_get(r.json, "id")));
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "role")), role);
    http_free(&r);
}

/* --------------------------------------------------- the fake service -- */

#define FAKE_ORDERS 256

static struct {
    pthread_mutex_t lock;
    tb_order_record orders[FAKE_ORDERS];
    tb_order_request requests[FAKE_ORDERS]; /* as submitted, for idempotency */
    int norders;
    char last_subject[128];
    char last_trace[TB_ID_CAP];
    char last_accounts[TB_TEXT_CAP];
    char last_body[TB_TEXT_CAP]; /* bars import: the CSV received */
    json_t *last_request;        /* the decoded request as JSON */
    int requests_seen;
} fake = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool allowed(const char *accounts, const char *account) {
    if (accounts[0] == '\0') return true;
    size_t n = strlen(account);
    for (const char *p = accounts; *p;) {
        size_t k = strcspn(p, ",");
        if (k == n && strncmp(p, account, n) == 0) return true;
        p += k + (p[k] == ',');
    }
    return false;
}

/* Records what a handler received. desc may be NULL (raw). */
static void note(bus_ctx *ctx, const tb_event_desc *desc, const void *ev) {
    pthread_mutex_lock(&fake.lock);
    snprintf(fake.last_subject, sizeof fake.last_subject, "%s", bus_ctx_subject(ctx));
    snprintf(fake.last_trace, sizeof fake.last_trace, "%s", bus_ctx_trace(ctx));
    fake.last_accounts[0] = '\0';
    json_decref(fake.last_request);
    fake.last_request = NULL;
    if (desc == &tb_query_desc)
        snprintf(fake.last_accounts, sizeof fake.last_accounts, "%s",
                 ((const tb_query *)ev)->accounts);
    if (desc && tb_to_json(desc, ev, &fake.last_request) != TB_OK) fake.last_request = NULL;
    fake.requests_seen++;
    pthread_mutex_unlock(&fake.lock);
}

static void fake_last(char *subject, char *trace, char *accounts) {
    pthread_mutex_lock(&fake.lock);
    if (subject) strcpy(subject, fake.last_subject);
    if (trace) strcpy(trace, fake.last_trace);
    if (accounts) strcpy(accounts, fake.last_accounts);
    pthread_mutex_unlock(&fake.lock);
}

/* A field of the last request as text ("" when absent). */
static void fake_last_field(const char *name, char *out, size_t cap) {
    pthread_mutex_lock(&fake.lock);
    json_t *v = json_object_get(fake.last_request, name);
    if (json_is_string(v))
        snprintf(out, cap, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(out, cap, "%s", json_is_true(v) ? "true" : "false");
    else
        snprintf(out, cap, "%s", "");
    pthread_mutex_unlock(&fake.lock);
}

static tb_status fk_submit(bus_ctx *ctx, const void *ev) {
    const tb_order_request *o = ev;
    note(ctx, &tb_order_request_desc, ev);
    if (strcmp(o->symbol, "SLOW") == 0) usleep(2000 * 1000);
    if (strcmp(o->symbol, "REJECT") == 0)
        return bus_fail(ctx, TB_REJECTED, "qty", "qty %s over max_order_qty", "1000");
    pthread_mutex_lock(&fake.lock);
    for (int i = 0; o->client_order_id[0] && i < fake.norders; i++) {
        if (strcmp(fake.orders[i].account, o->account) ||
            strcmp(fake.orders[i].client_order_id, o->client_order_id))
            continue;
        bool same = memcmp(&fake.requests[i], o, sizeof *o) == 0;
        tb_order_record rec = fake.orders[i];
        pthread_mutex_unlock(&fake.lock);
        if (!same)
            return bus_fail(ctx, TB_CONFLICT, "client_order_id",
                            "client_order_id reused with other parameters");
        return bus_reply(ctx, &tb_order_record_desc, &rec);
    }
    if (fake.norders >= FAKE_ORDERS) { /* a handler thread: record, the main thread asserts */
        pthread_mutex_unlock(&fake.lock);
        TB_BG_CHECK(false, "the fake service holds at most %d orders", FAKE_ORDERS);
        return bus_fail(ctx, TB_ERR, NULL, "fake service full");
    }
    tb_order_record *r = &fake.orders[fake.norders];
    memset(r, 0, sizeof *r);
    snprintf(r->order_id, sizeof r->order_id, "o-%d-%d", (int)getpid(), fake.norders);
    snprintf(r->client_order_id, sizeof r->client_order_id, "%s", o->client_order_id);
    snprintf(r->account, sizeof r->account, "%s", o->account);
    snprintf(r->symbol, sizeof r->symbol, "%s", o->symbol);
    snprintf(r->side, sizeof r->side, "%s", o->side);
    snprintf(r->type, sizeof r->type, "%s", o->type);
    snprintf(r->tif, sizeof r->tif, "%s", o->tif[0] ? o->tif : "day");
    snprintf(r->source, sizeof r->source, "api");
    snprintf(r->status, sizeof r->status, "accepted");
    r->qty = o->qty;
    r->limit_price = o->limit_price;
    r->stop_price = o->stop_price;
    r->created_at = tb_now_ns();
    fake.requests[fake.norders] = *o;
    tb_order_record rec = *r;
    fake.norders++;
    pthread_mutex_unlock(&fake.lock);
    return bus_reply(ctx, &tb_order_record_desc, &rec);
}

/* api.orders.submit_group: the two legs of an oco, as records (not kept). */
static tb_status fk_submit_group(bus_ctx *ctx, const void *ev) {
    const tb_order_group_request *g = ev;
    note(ctx, &tb_order_group_request_desc, ev);
    tb_order_record legs[2];
    memset(legs, 0, sizeof legs);
    for (int i = 0; i < 2; i++) {
        tb_order_record *r = &legs[i];
        snprintf(r->order_id, sizeof r->order_id, "g-%d-%d", (int)getpid(), i);
        snprintf(r->account, sizeof r->account, "%s", g->account);
        snprintf(r->symbol, sizeof r->symbol, "%s", g->symbol);
        snprintf(r->side, sizeof r->side, "%s", g->side);
        snprintf(r->type, sizeof r->type, "%s", i == 0 ? "limit" : "stop");
        snprintf(r->tif, sizeof r->tif, "%s", g->tif[0] ? g->tif : "day");
        snprintf(r->source, sizeof r->source, "api");
        snprintf(r->status, sizeof r->status, "new");
        snprintf(r->group_id, sizeof r->group_id, "g-%d-0", (int)getpid());
        snprintf(r->group_role, sizeof r->group_role, "oco");
        r->qty = g->qty;
        r->created_at = tb_now_ns();
    }
    return bus_reply_list(ctx, &tb_order_record_desc, legs, 2, NULL);
}

static bool find_order(const tb_query *q, tb_order_record *out) {
    bool found = false;
    pthread_mutex_lock(&fake.lock);
    for (int i = 0; i < fake.norders && !found; i++) {
        if (strcmp(fake.orders[i].order_id, q->id) == 0 &&
            allowed(q->accounts, fake.orders[i].account)) {
            *out = fake.orders[i];
            found = true;
        }
    }
    pthread_mutex_unlock(&fake.lock);
    return found;
}

static tb_status fk_order_get(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    note(ctx, &tb_query_desc, ev);
    tb_order_record r;
    if (!find_order(q, &r)) return bus_fail(ctx, TB_NOT_FOUND, "id", "no order %s", q->id);
    return bus_reply(ctx, &tb_order_record_desc, &r);
}

static tb_status fk_order_cancel(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    note(ctx, &tb_query_desc, ev);
    tb_order_record r;
    if (!find_order(q, &r)) return bus_fail(ctx, TB_NOT_FOUND, "id", "no order %s", q->id);
    snprintf(r.status, sizeof r.status, "canceled");
    snprintf(r.reason, sizeof r.reason, "user");
    r.updated_at = tb_now_ns();
    return bus_reply(ctx, &tb_order_record_desc, &r);
}

static tb_status fk_order_amend(bus_ctx *ctx, const void *ev) {
    const tb_order_amend *m = ev;
    note(ctx, &tb_order_amend_desc, ev);
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.id, sizeof q.id, "%s", m->id);
    snprintf(q.accounts, sizeof q.accounts, "%s", m->accounts);
    tb_order_record r;
    if (!find_order(&q, &r)) return bus_fail(ctx, TB_NOT_FOUND, "id", "no order %s", m->id);
    if (m->qty > 0) r.qty = m->qty;
    snprintf(r.reason, sizeof r.reason, "amended");
    r.updated_at = tb_now_ns();
    return bus_reply(ctx, &tb_order_record_desc, &r);
}

static tb_status fk_order_list(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    note(ctx, &tb_query_desc, ev);
    tb_order_record *items = calloc(FAKE_ORDERS, sizeof *items);
    size_t n = 0, limit = q->limit ? (size_t)q->limit : FAKE_ORDERS;
    bool more = false;
    pthread_mutex_lock(&fake.lock);
    for (int i = 0; i < fake.norders; i++) {
        const tb_order_record *o = &fake.orders[i];
        if (!allowed(q->accounts, o->account) || (q->account[0] && strcmp(q->account, o->account)))
            continue;
        if (n == limit) {
            more = true;
            break;
        }
        items[n++] = *o;
    }
    pthread_mutex_unlock(&fake.lock);
    tb_status s =
        bus_reply_list(ctx, &tb_order_record_desc, items, n, more ? items[n - 1].order_id : NULL);
    free(items);
    return s;
}

/* The account a list reply is about: the filter, else the first allowed. */
static void list_account(const tb_query *q, char out[TB_TOKEN_CAP]) {
    const char *a = q->account[0] ? q->account : q->accounts[0] ? q->accounts : "ALL";
    snprintf(out, TB_TOKEN_CAP, "%.*s", (int)strcspn(a, ","), a);
}

static tb_status fk_fills(bus_ctx *ctx, const void *ev) {
    note(ctx, &tb_query_desc, ev);
    tb_fill f[2];
    memset(f, 0, sizeof f);
    for (int i = 0; i < 2; i++) {
        snprintf(f[i].fill_id, sizeof f[i].fill_id, "f-%d", i);
        snprintf(f[i].order_id, sizeof f[i].order_id, "o-%d", i);
        list_account(ev, f[i].account);
        snprintf(f[i].symbol, sizeof f[i].symbol, "DAX");
        snprintf(f[i].side, sizeof f[i].side, i ? "sell" : "buy");
        f[i].qty = 150000000;
        f[i].price = 1812345000000 + i;
        f[i].fee = 1;
        f[i].ts = INT64_C(1700000000000000000) + i;
    }
    return bus_reply_list(ctx, &tb_fill_desc, f, 2, "f-1");
}

static tb_status fk_positions(bus_ctx *ctx, const void *ev) {
    note(ctx, &tb_query_desc, ev);
    tb_position_update p = {.qty = -250000000, .avg_cost = 10000000000, .ts = tb_now_ns()};
    list_account(ev, p.account);
    snprintf(p.symbol, sizeof p.symbol, "ESTX");
    return bus_reply_list(ctx, &tb_position_update_desc, &p, 1, NULL);
}

static tb_status fk_accounts_list(bus_ctx *ctx, const void *ev) {
    note(ctx, &tb_query_desc, ev);
    tb_account a = {.cash = 100000000000, .equity = 100000000000};
    list_account(ev, a.account);
    return bus_reply_list(ctx, &tb_account_desc, &a, 1, NULL);
}

static tb_status fk_account_get(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    note(ctx, &tb_query_desc, ev);
    if (!allowed(q->accounts, q->account))
        return bus_fail(ctx, TB_NOT_FOUND, "account", "no account %s", q->account);
    tb_account a = {.cash = 5000000000000, .equity = 5000012345678, .realized_pnl = -100000000};
    snprintf(a.account, sizeof a.account, "%s", q->account);
    return bus_reply(ctx, &tb_account_desc, &a);
}

static tb_status fk_limits_get(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    note(ctx, &tb_query_desc, ev);
    tb_risk_limits l = {.max_order_qty = 100000000000, .max_orders_per_sec = 5};
    snprintf(l.account, sizeof l.account, "%s", q->account);
    return bus_reply(ctx, &tb_risk_limits_desc, &l);
}

static tb_status fk_killswitch(bus_ctx *ctx, const void *ev) {
    tb_kill_switch k = *(const tb_kill_switch *)ev;
    note(ctx, &tb_kill_switch_desc, ev);
    k.canceled = k.engaged ? 2 : 0;
    return bus_reply(ctx, &tb_kill_switch_desc, &k);
}

/* Create / update / set endpoints answer with what they were sent. */
#define FK_ECHO(fn, type)                                                                          \
    static tb_status fn(bus_ctx *ctx, const void *ev) {                                            \
        note(ctx, &tb_##type##_desc, ev);                                                          \
        return bus_reply(ctx, &tb_##type##_desc, ev);                                              \
    }
FK_ECHO(fk_account_create, account)
FK_ECHO(fk_limits_set, risk_limits)
FK_ECHO(fk_strategy_create, strategy)
FK_ECHO(fk_strategy_update, strategy)
FK_ECHO(fk_webhook_create, webhook)
FK_ECHO(fk_rule_create, alert_rule)

static tb_strategy canned_strategy(const char *id, const char *account) {
    tb_strategy s = {.enabled = true, .qty = 100000000};
    snprintf(s.strategy_id, sizeof s.strategy_id, "%s", id);
    snprintf(s.kind, sizeof s.kind, "sma_cross");
    snprintf(s.symbol, sizeof s.symbol, "DAX");
    snprintf(s.account, sizeof s.account, "%s", account);
    snprintf(s.sizing, sizeof s.sizing, "fixed");
    snprintf(s.params, sizeof s.params, "{\"fast\":10,\"slow\":30}");
    return s;
}

static tb_status fk_strategies_list(bus_ctx *ctx, const void *ev) {
    note(ctx, &tb_query_desc, ev);
    char a[TB_TOKEN_CAP];
    list_account(ev, a);
    tb_strategy s = canned_strategy("s-1", a);
    return bus_reply_list(ctx, &tb_strategy_desc, &s, 1, NULL);
}

static tb_status fk_strategy_get(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    note(ctx, &tb_query_desc, ev);
    tb_strategy s = canned_strategy(q->id, "X");
    return bus_reply(ctx, &tb_strategy_desc, &s);
}

static tb_status fk_query_ok(bus_ctx *ctx, const void *ev) {
    note(ctx, &tb_query_desc, ev);
    tb_strategy s = canned_strategy(((const tb_query *)ev)->id, "X");
    return bus_reply(ctx, &tb_strategy_desc, &s); /* the deleted object; the gateway drops it */
}

static tb_status fk_signals(bus_ctx *ctx, const void *ev) {
    note(ctx, &tb_query_desc, ev);
    tb_signal s = {.qty = 100000000, .ref_price = 1800000000000, .tick_seq = 42, .ts = tb_now_ns()};
    snprintf(s.signal_id, sizeof s.signal_id, "s-1:DAX:42");
    snprintf(s.strategy_id, sizeof s.strategy_id, "s-1");
    list_account(ev, s.account);
    snprintf(s.symbol, sizeof s.symbol, "DAX");
    snprintf(s.side, sizeof s.side, "buy");
    snprintf(s.sizing, sizeof s.sizing, "fixed");
    return bus_reply_list(ctx, &tb_signal_desc, &s, 1, NULL);
}

static tb_tick canned_tick(const char *symbol) {
    tb_tick t = {.seq = 7, .ts = tb_now_ns(), .bid = 1799950000000, .ask = 1800050000000};
    snprintf(t.symbol, sizeof t.symbol, "%s", symbol);
    return t;
}

static tb_status fk_symbols(bus_ctx *ctx, const void *ev) {
    note(ctx, &tb_query_desc, ev);
    tb_tick t[2] = {canned_tick("DAX"), canned_tick("ESTX")};
    return bus_reply_list(ctx, &tb_tick_desc, t, 2, NULL);
}

static tb_status fk_quote(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    note(ctx, &tb_query_desc, ev);
    if (strcmp(q->symbol, "NOPE") == 0)
        return bus_fail(ctx, TB_NOT_FOUND, "symbol", "no quote for %s", q->symbol);
    tb_tick t = canned_tick(q->symbol);
    return bus_reply(ctx, &tb_tick_desc, &t);
}

static tb_status fk_bars(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    note(ctx, &tb_query_desc, ev);
    tb_bar b = {.start = q->from ? q->from : INT64_C(1700000000000000000),
                .open = 100,
                .high = 300,
                .low = 50,
                .close = 200,
                .volume = 1000000000,
                .ticks = 3};
    snprintf(b.symbol, sizeof b.symbol, "%s", q->symbol[0] ? q->symbol : "DAX");
    snprintf(b.interval, sizeof b.interval, "%s", q->interval[0] ? q->interval : "1m");
    return bus_reply_list(ctx, &tb_bar_desc, &b, 1, NULL);
}

static tb_status fk_bars_import(bus_ctx *ctx, const void *ev) {
    const bus_raw *raw = ev;
    note(ctx, NULL, NULL);
    pthread_mutex_lock(&fake.lock);
    snprintf(fake.last_body, sizeof fake.last_body, "%.*s", (int)raw->len, (const char *)raw->data);
    pthread_mutex_unlock(&fake.lock);
    tb_bars_import_result r = {0};
    for (size_t i = 0; i < raw->len; i++) r.rows += ((const char *)raw->data)[i] == '\n';
    r.rows -= r.rows > 0; /* the header line */
    return bus_reply(ctx, &tb_bars_import_result_desc, &r);
}

static tb_status fk_analytics(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    note(ctx, &tb_query_desc, ev);
    tb_performance p = {.equity = 10500000000000,
                        .pnl = 500000000000,
                        .sharpe = 1.25,
                        .fills = 12,
                        .cagr = -0.297809,
                        .calmar = TB_NULL_F64,
                        .max_drawdown = 0.031};
    snprintf(p.account, sizeof p.account, "%s", q->account);
    return bus_reply(ctx, &tb_performance_desc, &p);
}

static tb_status fk_equity(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    note(ctx, &tb_query_desc, ev);
    tb_equity_point p[3];
    memset(p, 0, sizeof p);
    for (int i = 0; i < 3; i++) {
        snprintf(p[i].account, sizeof p[i].account, "%s", q->account);
        p[i].ts = INT64_C(1700000000000000000) + i * INT64_C(60000000000);
        p[i].equity = 10000000000000 + (i == 1 ? 250000000000 : 0) - (i == 2 ? 100000000000 : 0);
    }
    return bus_reply_list(ctx, &tb_equity_point_desc, p, 3, NULL);
}

/* One open round trip: no exit yet (null time and price). */
static tb_status fk_trades(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    note(ctx, &tb_query_desc, ev);
    tb_round_trip t = {.qty = 200000000,
                       .entry_ts = INT64_C(1700000000000000000),
                       .entry_price = 10050000000,
                       .exit_ts = TB_NULL_INT,
                       .exit_price = TB_NULL_INT,
                       .fees = 100000000,
                       .net_pnl = -100000000};
    snprintf(t.account, sizeof t.account, "%s", q->account);
    snprintf(t.symbol, sizeof t.symbol, "DAX");
    snprintf(t.side, sizeof t.side, "long");
    return bus_reply_list(ctx, &tb_round_trip_desc, &t, 1, NULL);
}

static tb_status fk_webhooks(bus_ctx *ctx, const void *ev) {
    note(ctx, &tb_query_desc, ev);
    tb_webhook w = {.active = true};
    snprintf(w.id, sizeof w.id, "wh-1");
    snprintf(w.url, sizeof w.url, "https://example.test/hook");
    list_account(ev, w.account);
    return bus_reply_list(ctx, &tb_webhook_desc, &w, 1, NULL);
}

static tb_status fk_deliveries(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    note(ctx, &tb_query_desc, ev);
    tb_webhook_delivery d = {.attempts = 10, .last_status = 500};
    snprintf(d.webhook_id, sizeof d.webhook_id, "%s", q->id);
    snprintf(d.event_id, sizeof d.event_id, "fill:f-1");
    snprintf(d.idempotency_key, sizeof d.idempotency_key, "%s:fill:f-1", q->id);
    snprintf(d.state, sizeof d.state, "%s", q->status[0] ? q->status : "dead");
    return bus_reply_list(ctx, &tb_webhook_delivery_desc, &d, 1, NULL);
}

static tb_status fk_alerts(bus_ctx *ctx, const void *ev) {
    note(ctx, &tb_query_desc, ev);
    tb_alert a = {.ts = tb_now_ns()};
    snprintf(a.alert_id, sizeof a.alert_id, "al-1");
    snprintf(a.severity, sizeof a.severity, "warning");
    snprintf(a.kind, sizeof a.kind, "drawdown");
    list_account(ev, a.account);
    snprintf(a.message, sizeof a.message, "drawdown 3.1%% > 3%%");
    return bus_reply_list(ctx, &tb_alert_desc, &a, 1, NULL);
}

static tb_status fk_rules(bus_ctx *ctx, const void *ev) {
    note(ctx, &tb_query_desc, ev);
    tb_alert_rule r = {.threshold = 3000000, .enabled = true};
    snprintf(r.rule_id, sizeof r.rule_id, "r-1");
    snprintf(r.kind, sizeof r.kind, "drawdown");
    list_account(ev, r.account);
    return bus_reply_list(ctx, &tb_alert_rule_desc, &r, 1, NULL);
}

/* Replies with j (stolen) as a schema-less msgpack map. */
static tb_status reply_raw(bus_ctx *ctx, json_t *j) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    tb_error err = {0};
    ck_assert_int_eq(tb_json_to_msgpack_raw(j, &sb, &err), TB_OK);
    json_decref(j);
    tb_status s = bus_reply_bytes(ctx, sb.data, sb.size, "application/msgpack", NULL);
    msgpack_sbuffer_destroy(&sb);
    return s;
}

static tb_status fk_backtest(bus_ctx *ctx, const void *ev) {
    note(ctx, NULL, NULL);
    tb_backtest b = {.created_at = tb_now_ns()};
    if (strcmp(bus_ctx_subject(ctx), "api.backtests.create") == 0) b = *(const tb_backtest *)ev;
    snprintf(b.backtest_id, sizeof b.backtest_id, "bt1");
    snprintf(b.kind, sizeof b.kind, "sma_cross");
    snprintf(b.symbols, sizeof b.symbols, "DAX");
    snprintf(b.data, sizeof b.data, "{\"file\":\"eu.csv\"}");
    snprintf(b.status, sizeof b.status, "running");
    if (strcmp(bus_ctx_subject(ctx), "api.backtests.list") == 0)
        return bus_reply_list(ctx, &tb_backtest_desc, &b, 1, NULL);
    if (strcmp(bus_ctx_subject(ctx), "api.backtests.get") != 0)
        return bus_reply(ctx, &tb_backtest_desc, &b);
    /* get answers a map of several types, as analytics does */
    json_t *j = NULL;
    ck_assert_int_eq(tb_to_json(&tb_backtest_desc, &b, &j), TB_OK);
    json_object_set_new(j, "children", json_array());
    return reply_raw(ctx, j);
}

static tb_status fk_bt_report(bus_ctx *ctx, const void *ev) {
    note(ctx, &tb_query_desc, ev);
    return reply_raw(ctx,
                     json_pack("{s:s, s:f, s:[]}", "backtest_id", "bt1", "sharpe", 1.25, "trades"));
}

static tb_status fk_account_risk(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    note(ctx, &tb_query_desc, ev);
    return reply_raw(ctx, json_pack("{s:s, s:s, s:[]}", "account", q->account, "buying_power",
                                    "100", "positions"));
}

static tb_status fk_position_risk(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    note(ctx, &tb_query_desc, ev);
    tb_position_risk p = {.qty = 100000000, .mark = 10000000000};
    snprintf(p.account, sizeof p.account, "%s", q->account);
    snprintf(p.symbol, sizeof p.symbol, "%s", q->symbol);
    return bus_reply(ctx, &tb_position_risk_desc, &p);
}

#define EP(n, subj, type, fn)                                                                      \
    { .name = n, .kind = BUS_REQUEST, .subject = subj, .event = type, .handler = fn }
static const bus_endpoint fake_endpoints[] = {
    EP("submit", "api.orders.submit", &tb_order_request_desc, fk_submit),
    EP("submit-group", "api.orders.submit_group", &tb_order_group_request_desc, fk_submit_group),
    EP("order-get", "api.orders.get", &tb_query_desc, fk_order_get),
    EP("order-list", "api.orders.list", &tb_query_desc, fk_order_list),
    EP("order-cancel", "api.orders.cancel", &tb_query_desc, fk_order_cancel),
    EP("order-amend", "api.orders.amend", &tb_order_amend_desc, fk_order_amend),
    EP("fills", "api.fills.list", &tb_query_desc, fk_fills),
    EP("positions", "api.positions.list", &tb_query_desc, fk_positions),
    EP("accounts", "api.accounts.list", &tb_query_desc, fk_accounts_list),
    EP("account-get", "api.accounts.get", &tb_query_desc, fk_account_get),
    EP("account-create", "api.accounts.create", &tb_account_desc, fk_account_create),
    EP("limits-get", "api.risk.limits.get", &tb_query_desc, fk_limits_get),
    EP("limits-set", "api.risk.limits.set", &tb_risk_limits_desc, fk_limits_set),
    EP("killswitch", "api.risk.killswitch", &tb_kill_switch_desc, fk_killswitch),
    EP("account-risk", "api.risk.accounts.get", &tb_query_desc, fk_account_risk),
    EP("position-risk", "api.risk.positions.get", &tb_query_desc, fk_position_risk),
    EP("strategies", "api.strategies.list", &tb_query_desc, fk_strategies_list),
    EP("strategy-create", "api.strategies.create", &tb_strategy_desc, fk_strategy_create),
    EP("strategy-get", "api.strategies.get", &tb_query_desc, fk_strategy_get),
    EP("strategy-update", "api.strategies.update", &tb_strategy_desc, fk_strategy_update),
    EP("strategy-delete", "api.strategies.delete", &tb_query_desc, fk_query_ok),
    EP("signals", "api.signals.list", &tb_query_desc, fk_signals),
    EP("symbols", "api.market.symbols", &tb_query_desc, fk_symbols),
    EP("quote", "api.market.quote", &tb_query_desc, fk_quote),
    EP("bars", "api.bars.query", &tb_query_desc, fk_bars),
    EP("bars-import", "api.bars.import", NULL, fk_bars_import),
    EP("analytics", "api.analytics.get", &tb_query_desc, fk_analytics),
    EP("equity", "api.analytics.equity", &tb_query_desc, fk_equity),
    EP("trades", "api.analytics.trades", &tb_query_desc, fk_trades),
    EP("webhooks", "api.webhooks.list", &tb_query_desc, fk_webhooks),
    EP("webhook-create", "api.webhooks.create", &tb_webhook_desc, fk_webhook_create),
    EP("webhook-delete", "api.webhooks.delete", &tb_query_desc, fk_query_ok),
    EP("deliveries", "api.webhooks.deliveries", &tb_query_desc, fk_deliveries),
    EP("alerts", "api.alerts.list", &tb_query_desc, fk_alerts),
    EP("rules", "api.alerts.rules.list", &tb_query_desc, fk_rules),
    EP("rule-create", "api.alerts.rules.create", &tb_alert_rule_desc, fk_rule_create),
    EP("rule-delete", "api.alerts.rules.delete", &tb_query_desc, fk_query_ok),
    EP("bt-create", "api.backtests.create", &tb_backtest_desc, fk_backtest),
    EP("bt-list", "api.backtests.list", &tb_query_desc, fk_backtest),
    EP("bt-get", "api.backtests.get", &tb_query_desc, fk_backtest),
    EP("bt-cancel", "api.backtests.cancel", &tb_query_desc, fk_backtest),
    EP("bt-report", "api.backtests.report", &tb_query_desc, fk_bt_report),
    EP("bt-equity", "api.backtests.equity", &tb_query_desc, fk_equity),
};
#undef EP

/* Starts the fake as service `name`; with_endpoints false gives an actor
 * that only answers the micro protocol and health (a bare instance). */
static bus_actor *fake_start(const char *name, bool with_endpoints) {
    static bus_actor_def defs[4];
    static int ndefs;
    ck_assert_int_lt(ndefs, 4);
    bus_actor_def *d = &defs[ndefs++];
    *d = (bus_actor_def){.name = name,
                         .version = "0.0.1-fake",
                         .description = "api.* fixture of the gateway tests",
                         .endpoints = with_endpoints ? fake_endpoints : NULL,
                         .nendpoints =
                             with_endpoints ? sizeof fake_endpoints / sizeof fake_endpoints[0] : 0};
    bus_config cfg;
    tb_test_config(&cfg, name);
    bus_actor *a = NULL;
    tb_error err = {0};
    ck_assert_msg(bus_actor_create(d, &cfg, &a, &err) == TB_OK, "%s", err.message);
    ck_assert_msg(bus_actor_start(a, &err) == TB_OK, "fake start: %s", err.message);
    return a;
}

/* Whether every route of the table that goes to the bus has a fake. */
static void fake_covers_routes(void) {
    size_t n;
    const gw_route *rs = gw_routes(&n);
    for (size_t i = 0; i < n; i++) {
        if (rs[i].action != GW_BUS) continue;
        bool have = false;
        for (size_t k = 0; k < sizeof fake_endpoints / sizeof fake_endpoints[0]; k++)
            have |= strcmp(fake_endpoints[k].subject, rs[i].subject) == 0;
        ck_assert_msg(have, "no fake for %s", rs[i].subject);
    }
}

/* ------------------------------------------------ the real services -- */

/* The eight services of DESIGN §1, for tests that run them behind the
 * gateway (test_gateway_services, test_gateway_ui). */
static const char *const gw_services[] = {
    "market-data",       "historical-data",     "signal-processing", "risk-management",
    "trading-execution", "position-management", "analytics",         "notifications"};
#define GW_NSERVICES (sizeof gw_services / sizeof gw_services[0])

/* Starts every service of the build with env (NULL-terminated "K=V"),
 * logs in TB_BINARY_DIR/<tag>-<service>.log. */
static void gw_services_start(pid_t pids[GW_NSERVICES], const char *tag, char **env) {
    for (size_t i = 0; i < GW_NSERVICES; i++) {
        char bin[512], rel[128], log[512];
        snprintf(rel, sizeof rel, "actors/%s/tb-%s", gw_services[i], gw_services[i]);
        tb_test_bin(bin, sizeof bin, rel);
        ck_assert_msg(access(bin, X_OK) == 0, "%s is not built", bin);
        snprintf(log, sizeof log, "%s/%s-%s.log",
                 getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", tag, gw_services[i]);
        pids[i] = spawn_clean(bin, env, log);
    }
}

/* Stops the services still running; the number of unclean exits. */
static int gw_services_stop(pid_t pids[GW_NSERVICES]) {
    int bad = 0;
    for (size_t i = 0; i < GW_NSERVICES; i++) {
        int s = pids[i] > 0 ? tb_test_stop(pids[i], 30000) : 0;
        if (s != 0) fprintf(stderr, "%s exited with %d\n", gw_services[i], s);
        bad += s != 0;
        pids[i] = 0;
    }
    return bad;
}

/* Whether /health/all of the gateway arg (a gw_proc) is 200. */
static bool gw_all_healthy(void *arg) {
    http_resp r;
    http_do(&r, ((gw_proc *)arg)->base, "GET", "/health/all", NULL, NULL, -1, NULL);
    bool ok = r.status == 200;
    http_free(&r);
    return ok;
}

#pragma GCC diagnostic pop

#endif
