/* The HTTP layer: civetweb configuration, the one request entry point,
 * authentication and rate limiting before any route runs, response writing
 * with the standard headers, the error shape, body limits and per-route
 * metrics.
 *
 * Each request runs on a civetweb worker thread from start to end (bus
 * requests block that thread). civetweb holds a thread per open connection
 * (DESIGN §10), idle keep-alive ones included, so GATEWAY_THREADS is the
 * number of open connections served at once: it is sized for many idle
 * clients (an idle thread costs about 20 KB of RSS), the deadlines below
 * bound how long one can hold a thread without sending a request, and
 * connlimit.c keeps one address from holding all of them. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gateway.h"
#include "request.h"

const char *gw_header(gw_req *r, const char *name) {
    return mg_get_header(r->conn, name);
}

/* Whether civetweb keeps the connection open after this response: its
 * should_keep_alive (1.15), for the gateway's configuration. */
static bool keep_alive(gw_req *r) {
    if (r->close || r->g->set.keep_alive_ms <= 0) return false;
    const char *c = mg_get_header(r->conn, "Connection");
    if (c) return strcasestr(c, "keep-alive") != NULL;
    return r->ri->http_version && strcmp(r->ri->http_version, "1.1") == 0;
}

/* The Date header's value, formatted once a second per thread. */
static const char *http_date(void) {
    static _Thread_local char date[40];
    static _Thread_local time_t at = -1;
    time_t now = time(NULL);
    if (now != at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        at = now;
    }
    return date;
}

/* Appends to b (cap bytes, *n used); false when it does not fit. */
static bool put(char *b, size_t cap, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool put(char *b, size_t cap, size_t *n, const char *fmt, ...) {
    if (*n >= cap) return false;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= cap - *n) {
        *n = cap;
        return false;
    }
    *n += (size_t)k;
    return true;
}

/* civetweb's mg_response_header_send writes each header line with its own
 * send() (so with tcp_nodelay, its own packet): the gateway writes the
 * status line, headers and a small body in one mg_write instead.
 * The response buffers are on the heap, not the stack: civetweb keeps its
 * workers, and each keeps the stack its deepest request touched, so 16 KiB
 * there would be 16 KiB of RSS per thread that ever answered (4 MB with
 * 256 threads), where a freed heap buffer is the next request's. */
#define RESPONSE_BUF 16384

/* The status line and headers of a response into buf (cap bytes, *n
 * used); false when they do not fit. */
static bool put_head(gw_req *r, int status, const char *ctype, size_t len, const char *const *extra,
                     char *buf, size_t cap, size_t *n) {
    bool keep = keep_alive(r), own_connection = false, own_cache = false;
    if (!keep) mg_disable_keep_alive(r->conn);
    for (size_t i = 0; extra && extra[i] && extra[i + 1]; i += 2) {
        own_connection |= strcasecmp(extra[i], "Connection") == 0; /* 426 Upgrade */
        own_cache |= strcasecmp(extra[i], "Cache-Control") == 0;   /* the UI's files */
    }
    bool ok =
        put(buf, cap, n, "HTTP/1.1 %d %s\r\n", status, mg_get_response_code_text(r->conn, status));
    if (ctype) ok = ok && put(buf, cap, n, "Content-Type: %s\r\n", ctype);
    /* RFC 9110: a 204 has no Content-Length; a 304's would be the 200's */
    if (status != 204 && status != 304) ok = ok && put(buf, cap, n, "Content-Length: %zu\r\n", len);
    ok = ok && put(buf, cap, n, "X-Request-Id: %s\r\n%sDate: %s\r\n", r->id,
                   own_cache ? "" : "Cache-Control: no-store\r\n", http_date());
    if (!own_connection)
        ok = ok && put(buf, cap, n, "Connection: %s\r\n", keep ? "keep-alive" : "close");
    if (r->rate.known)
        ok = ok && put(buf, cap, n,
                       "X-RateLimit-Limit: %lld\r\nX-RateLimit-Remaining: %lld\r\n"
                       "X-RateLimit-Reset: %lld\r\n",
                       (long long)r->rate.limit, (long long)r->rate.remaining,
                       (long long)r->rate.reset_s);
    for (size_t i = 0; extra && extra[i] && extra[i + 1]; i += 2)
        ok = ok && put(buf, cap, n, "%s: %s\r\n", extra[i], extra[i + 1]);
    ok = ok && put(buf, cap, n, "\r\n");
    if (!ok) { /* headers of a hostile size cannot come from here; be safe */
        static const char fallback[] = "HTTP/1.1 500 Internal Server Error\r\n"
                                       "Content-Length: 0\r\nConnection: close\r\n\r\n";
        mg_disable_keep_alive(r->conn);
        mg_write(r->conn, fallback, sizeof fallback - 1);
    }
    return ok;
}

void gw_send(gw_req *r, int status, const char *ctype, const void *body, size_t len,
             const char *const *extra) {
    if (r->status != 0) return; /* one response per request */
    r->status = status;
    char *buf = malloc(RESPONSE_BUF);
    if (buf == NULL) {
        static const char oom[] =
            "HTTP/1.1 503 Service Unavailable\r\n"
            "Content-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n";
        r->status = 503;
        mg_disable_keep_alive(r->conn);
        mg_write(r->conn, oom, sizeof oom - 1);
        return;
    }
    size_t n = 0;
    if (put_head(r, status, ctype, len, extra, buf, RESPONSE_BUF, &n)) {
        if (strcmp(r->ri->request_method, "HEAD") == 0) len = 0;
        if (len > 0 && len <= RESPONSE_BUF - n) {
            memcpy(buf + n, body, len);
            n += len;
            len = 0;
        }
        mg_write(r->conn, buf, n);
        if (len > 0) mg_write(r->conn, body, len);
    }
    free(buf);
}

bool gw_send_head(gw_req *r, int status, const char *ctype, size_t len, const char *const *extra) {
    if (r->status != 0) return false;
    r->status = status;
    char buf[4096]; /* the UI's headers with its CSP take about 1 KiB */
    size_t n = 0;
    if (!put_head(r, status, ctype, len, extra, buf, sizeof buf, &n)) return false;
    if (mg_write(r->conn, buf, n) != (int)n) return false;
    return strcmp(r->ri->request_method, "HEAD") != 0;
}

/* Reals with 15 significant digits: every double that was rounded to fewer
 * (statistics are, see actors/analytics) prints as that short decimal, where
 * jansson's default of 17 would print 0.297809 as 0.29780900000000002. */
#define GW_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

#define JSON_SMALL 8192

void gw_send_json(gw_req *r, int status, json_t *body) {
    /* Most replies fit in one allocation of JSON_SMALL (on the heap for
     * the reason RESPONSE_BUF is): json_dumps grows its text by doubling. */
    char *small = body ? malloc(JSON_SMALL) : NULL;
    size_t n = small ? json_dumpb(body, small, JSON_SMALL, GW_JSON_FLAGS) : 0;
    char *text = n > 0 && n <= JSON_SMALL ? small : body ? json_dumps(body, GW_JSON_FLAGS) : NULL;
    if (text != small) free(small);
    json_decref(body);
    if (text == NULL) {
        static const char oom[] =
            "{\"error\":{\"code\":\"out_of_memory\",\"message\":\"out of memory\",\"field\":null}}";
        gw_send(r, 500, "application/json", oom, sizeof oom - 1, NULL);
        return;
    }
    gw_send(r, status, "application/json", text, text == small ? n : strlen(text), NULL);
    free(text);
}

static void count_error(gw *g, const char *code) {
    bus_counter_add(bus_metrics_counter(bus_actor_metrics(g->actor), "tb_gateway_errors_total",
                                        "Error responses by error code", "code", code, NULL),
                    1);
}

/* Writes an error response; extra JSON members (line, column...) may be
 * added to the error object by the caller through more (stolen, may be
 * NULL). */
static void send_error_full(gw_req *r, int http, const char *code, const char *field,
                            const char *message, json_t *more, const char *const *headers) {
    json_t *e = json_pack("{s:s, s:s?, s:o}", "code", code, "message", message, "field",
                          field && field[0] ? json_string(field) : json_null());
    if (e == NULL) /* message was not valid UTF-8: it echoed hostile input */
        e = json_pack("{s:s, s:s, s:n}", "code", code, "message", "invalid request", "field");
    if (e && more) json_object_update(e, more);
    json_decref(more);
    count_error(r->g, code);
    if (http >= 500)
        bus_log(BUS_LOG_WARN, "%s %s: %d %s", r->ri->request_method, r->ri->local_uri, http,
                message);
    json_t *body = e ? json_pack("{s:o}", "error", e) : NULL; /* steals e */
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        gw_send_json(r, 500, NULL);
        return;
    }
    /* A dependency that is down or a service that is missing comes back:
     * tell clients when to try again (RFC 9110 §10.2.3). */
    static const char *const retry_soon[] = {"Retry-After", "1", NULL};
    gw_send(r, http, "application/json", text, strlen(text),
            headers == NULL && http == 503 ? retry_soon : headers);
    free(text);
}

void gw_send_error(gw_req *r, const tb_error *err) {
    tb_status s = err->status == TB_OK ? TB_ERR : err->status;
    send_error_full(r, tb_status_http(s), tb_status_code(s), err->field,
                    err->message[0] ? err->message : tb_status_text(s), NULL, NULL);
}

void gw_send_fail(gw_req *r, tb_status s, const char *field, const char *fmt, ...) {
    tb_error e = {.status = s};
    snprintf(e.field, sizeof e.field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    gw_send_error(r, &e);
}

/* Reads and drops up to limit bytes of a refused body. A socket closed with
 * unread data is reset, and a client still sending would then see the reset
 * instead of the 413; past the limit that is the client's problem. */
static void drain_body(gw_req *r, long long limit) {
    char buf[16384];
    long long n = 0;
    while (n < limit) {
        int got = mg_read(r->conn, buf, sizeof buf);
        if (got <= 0) break;
        n += got;
    }
}

tb_status gw_read_body(gw_req *r, char **out, size_t *len, tb_error *err) {
    size_t max = (size_t)r->g->set.max_body;
    long long cl = r->ri->content_length;
    if (cl > (long long)max) {
        r->close = true; /* the unread rest must not be parsed as a request */
        if (cl <= 4 * (long long)max) drain_body(r, cl);
        return tb_error_set(err, TB_TOO_LARGE, "", "body of %lld bytes is over the limit of %zu",
                            cl, max);
    }
    /* Content-Length may be absent (chunked): read up to one byte past the
     * limit to tell "exactly the limit" from "more". */
    size_t cap = cl >= 0 ? (size_t)cl + 1 : 8192;
    char *b = malloc(cap);
    size_t n = 0;
    while (b != NULL) {
        if (n + 1 >= cap) {
            size_t nc = cap * 2 > max + 2 ? max + 2 : cap * 2;
            if (nc <= cap) break;
            char *g = realloc(b, nc);
            if (g == NULL) {
                free(b);
                b = NULL;
                break;
            }
            b = g;
            cap = nc;
        }
        int got = mg_read(r->conn, b + n, cap - n - 1);
        if (got <= 0) break;
        n += (size_t)got;
        if (n > max) break;
    }
    if (b == NULL) return tb_error_set(err, TB_NOMEM, "", "out of memory reading the body");
    if (n > max) {
        free(b);
        r->close = true;
        drain_body(r, 4 * (long long)max);
        return tb_error_set(err, TB_TOO_LARGE, "", "body is over the limit of %zu bytes", max);
    }
    b[n] = '\0';
    *out = b;
    *len = n;
    return TB_OK;
}

json_t *gw_read_json(gw_req *r) {
    char *body = NULL;
    size_t len = 0;
    tb_error err = {0};
    if (gw_read_body(r, &body, &len, &err) != TB_OK) {
        gw_send_error(r, &err);
        return NULL;
    }
    if (len == 0) {
        free(body);
        gw_send_fail(r, TB_DECODE, NULL, "a JSON body is required");
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    free(body);
    if (j == NULL) {
        char msg[300];
        snprintf(msg, sizeof msg, "malformed JSON at line %d, column %d (byte %d): %s", je.line,
                 je.column, je.position, je.text);
        send_error_full(r, 400, tb_status_code(TB_DECODE), NULL, msg,
                        json_pack("{s:i, s:i, s:i}", "line", je.line, "column", je.column,
                                  "position", je.position),
                        NULL);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        gw_send_fail(r, TB_DECODE, NULL, "the JSON body must be an object");
        return NULL;
    }
    return j;
}

void gw_observe_bus(gw *g, const char *subject, int64_t ns) {
    bus_histogram_observe_ns(bus_metrics_histogram(bus_actor_metrics(g->actor),
                                                   "tb_gateway_bus_request_duration_seconds",
                                                   "Bus request round trips by subject", "subject",
                                                   subject, NULL),
                             ns);
}

/* Authentication, rate limit and role, in that order, so rejected calls
 * of a known key still count against its rate. False when a response was
 * sent. */
static bool admit(gw_req *r) {
    gw *g = r->g;
    bus_metrics *m = bus_actor_metrics(g->actor);
    tb_error err = {0};
    tb_status s =
        gw_authenticate(g, gw_header(r, "Authorization"), r->ri->remote_addr, &r->caller, &err);
    if (s != TB_OK) {
        bus_counter_add(bus_metrics_counter(m, "tb_gateway_auth_failures_total",
                                            "Requests refused by authentication", "reason",
                                            tb_status_code(s), NULL),
                        1);
        static const char *const challenge[] = {"WWW-Authenticate", "Bearer realm=\"tradebus\"",
                                                NULL};
        static const char *const retry[] = {"Retry-After", "1", NULL};
        send_error_full(r, tb_status_http(s), tb_status_code(s), err.field, err.message, NULL,
                        s == TB_UNAUTHORIZED   ? challenge
                        : s == TB_RATE_LIMITED ? retry
                                               : NULL);
        return false;
    }
    bool limited = false;
    s = gw_ratelimit_take(g, r->caller.key_id, &r->rate, &limited, &err);
    if (s != TB_OK) {
        /* Fail open: an outage of Redis must not take the API down. */
        bus_counter_add(bus_metrics_counter(m, "tb_gateway_rate_limit_errors_total",
                                            "Rate-limit checks that failed (requests let through)",
                                            NULL),
                        1);
        bus_log(BUS_LOG_WARN, "rate limit not applied: %s", err.message);
    } else if (limited) {
        bus_counter_add(bus_metrics_counter(m, "tb_gateway_rate_limited_total",
                                            "Requests refused by the per-key rate limit", NULL),
                        1);
        char retry[24];
        snprintf(retry, sizeof retry, "%lld", (long long)r->rate.reset_s);
        const char *const hdr[] = {"Retry-After", retry, NULL};
        char msg[128];
        snprintf(msg, sizeof msg, "more than %lld requests per second for this key",
                 (long long)r->rate.limit);
        send_error_full(r, 429, tb_status_code(TB_RATE_LIMITED), NULL, msg, NULL, hdr);
        return false;
    }
    if (r->caller.role < r->match.route->role) {
        gw_send_fail(r, TB_FORBIDDEN, NULL, "this needs a%s %s key; this key is %s",
                     r->match.route->role == GW_ROLE_ADMIN ? "n" : "",
                     gw_role_name(r->match.route->role), gw_role_name(r->caller.role));
        return false;
    }
    return true;
}

static void serve_static(gw_req *r, const char *ctype, const char *text, size_t len) {
    gw_send(r, 200, ctype, text, len, NULL);
}

static void dispatch(gw_req *r) {
    const gw_route *rt = r->match.route;
    if (rt->role != GW_ROLE_PUBLIC && !admit(r)) return;
    switch (rt->action) {
    case GW_BUS:
        gw_handle_bus(r);
        break;
    case GW_HEALTH:
        gw_handle_health(r);
        break;
    case GW_HEALTH_SERVICE:
        gw_handle_health_service(r);
        break;
    case GW_HEALTH_ALL:
        gw_handle_health_all(r);
        break;
    case GW_SERVICES:
        gw_handle_services(r);
        break;
    case GW_METRICS:
        gw_handle_metrics(r);
        break;
    case GW_OPENAPI:
        serve_static(r, "application/json", r->g->openapi, r->g->openapi_len);
        break;
    case GW_DOCS:
        serve_static(r, "text/html; charset=utf-8", r->g->docs, r->g->docs_len);
        break;
    case GW_KEY_CREATE:
        gw_handle_key_create(r);
        break;
    case GW_KEY_REVOKE:
        gw_handle_key_revoke(r);
        break;
    case GW_STREAM:
        gw_handle_stream(r);
        break;
    case GW_ME:
        gw_handle_me(r);
        break;
    }
}

static int on_request(struct mg_connection *conn, void *cbdata) {
    gw_req r = {.g = cbdata, .conn = conn, .ri = mg_get_request_info(conn)};
    int64_t t0 = bus_mono_ns();
    const char *rid = mg_get_header(conn, "X-Request-Id");
    if (gw_request_id_valid(rid))
        snprintf(r.id, sizeof r.id, "%s", rid);
    else
        bus_new_id(r.id, sizeof r.id); /* absent or unusable as a trace id */
    bus_log_set_trace(r.id);
    const char *path = r.ri->local_uri ? r.ri->local_uri : "/";
    gw_match_result m = gw_route_match(r.ri->request_method, path, &r.match);
    /* The API's routes come first: the UI's files fill only what they leave. */
    bool ui = m == GW_MATCH_NO_ROUTE && gw_ui_serve(&r, path);
    if (ui) {
        /* served */
    } else if (m == GW_MATCH_NO_ROUTE) {
        gw_send_fail(&r, TB_NOT_FOUND, NULL, "no route for %s", path);
    } else if (m == GW_MATCH_NO_METHOD) {
        const char *const hdr[] = {"Allow", r.match.allow, NULL};
        char msg[128];
        snprintf(msg, sizeof msg, "%s is not allowed here; allowed: %s", r.ri->request_method,
                 r.match.allow);
        send_error_full(&r, 405, "method_not_allowed", NULL, msg, NULL, hdr);
    } else {
        dispatch(&r);
    }
    if (r.status == 0) gw_send_fail(&r, TB_ERR, NULL, "no response was produced");
    char status[8];
    snprintf(status, sizeof status, "%d", r.status);
    const char *route = ui ? "/ (web ui)" : m == GW_MATCH_OK ? r.match.route->path : "unmatched";
    const char *method = m == GW_MATCH_OK                                 ? r.match.route->method
                         : ui && strcmp(r.ri->request_method, "GET") == 0 ? "GET"
                                                                          : "other";
    bus_metrics *mx = bus_actor_metrics(r.g->actor);
    bus_counter_add(bus_metrics_counter(mx, "tb_http_requests_total",
                                        "HTTP requests by route pattern, method and status",
                                        "route", route, "method", method, "status", status, NULL),
                    1);
    bus_histogram_observe_ns(bus_metrics_histogram(mx, "tb_http_request_duration_seconds",
                                                   "HTTP request latency by route pattern", "route",
                                                   route, "method", method, NULL),
                             bus_mono_ns() - t0);
    bus_log(BUS_LOG_DEBUG, "%s %s -> %d", r.ri->request_method, path, r.status);
    bus_log_set_trace("");
    return r.status;
}

static int on_log(const struct mg_connection *conn, const char *message) {
    (void)conn;
    bus_log(BUS_LOG_WARN, "civetweb: %s", message);
    return 1;
}

/* Requests that arrive before the handlers are registered (a restarted
 * gateway's first instant, when clients are already retrying) get a 503
 * with Retry-After, which clients retry, instead of civetweb's bare 404,
 * which they must not. */
static int on_begin_request(struct mg_connection *conn) {
    gw *g = mg_get_user_data(mg_get_context(conn));
    if (g == NULL || atomic_load(&g->ready)) return 0;
    static const char body[] =
        "{\"error\":{\"code\":\"unavailable\",\"message\":\"the gateway is starting\","
        "\"field\":null}}";
    mg_printf(conn,
              "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
              "Retry-After: 1\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
              sizeof body - 1, body);
    return 503;
}

static void on_closed(const struct mg_connection *conn) {
    gw_stream_connection_closed(conn);
    gw_connlimit_close(conn);
}

static void free_state(gw *g) {
    gw_connlimit_destroy(g->conns);
    gw_health_cache_destroy(g->health);
    gw_ratelimit_destroy(g->rate);
    g->conns = NULL;
    g->health = NULL;
    g->rate = NULL;
}

tb_status gw_http_start(gw *g, tb_error *err) {
    char ports[96], threads[16], keep[16], reqto[16], backlog[16];
    /* civetweb wants IPv6 addresses in brackets: "[::1]:8000" */
    bool v6 = strchr(g->set.bind, ':') != NULL;
    snprintf(ports, sizeof ports, "%s%s%s:%s", v6 ? "[" : "", g->set.bind, v6 ? "]" : "",
             g->set.port);
    snprintf(threads, sizeof threads, "%lld", (long long)g->set.threads);
    snprintf(keep, sizeof keep, "%lld", (long long)g->set.keep_alive_ms);
    snprintf(reqto, sizeof reqto, "%lld", (long long)g->set.request_timeout_ms);
    snprintf(backlog, sizeof backlog, "%lld", (long long)g->set.listen_backlog);
    /* civetweb 1.15 (read_message): request_timeout_ms is the deadline for
     * a new connection's whole header, counted from the accept (a client
     * sending a byte a second is cut off at it too), and for each body read
     * and response write; keep_alive_timeout_ms replaces it for the next
     * request on a kept-alive connection. Either way the connection is
     * closed and its thread freed.
     * enable_websocket_ping_pong: a /v1/stream client that sends nothing
     * for request_timeout_ms is pinged; after six unanswered pings in a row
     * civetweb closes the connection (dead peers free their thread). */
    const char *options[] = {"listening_ports",
                             ports,
                             "num_threads",
                             threads,
                             "enable_keep_alive",
                             "yes",
                             "keep_alive_timeout_ms",
                             keep,
                             "tcp_nodelay",
                             "1",
                             "request_timeout_ms",
                             reqto,
                             "listen_backlog",
                             backlog,
                             "enable_directory_listing",
                             "no",
                             "access_control_allow_origin",
                             "",
                             "enable_websocket_ping_pong",
                             "yes",
                             NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.log_message = on_log;
    cb.init_connection = gw_connlimit_open;
    cb.connection_closed = on_closed;
    cb.begin_request = on_begin_request;
    atomic_store(&g->ready, false);
    g->conns = gw_connlimit_create(g, (size_t)g->set.threads);
    g->health = gw_health_cache_create();
    g->rate = gw_ratelimit_create();
    if (g->conns == NULL || g->health == NULL || g->rate == NULL) {
        free_state(g);
        return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    }
    tb_status s = gw_stream_create(g, err);
    if (s != TB_OK) {
        free_state(g);
        return s;
    }
    mg_init_library(0);
    char ebuf[256] = "";
    struct mg_init_data init = {.callbacks = &cb, .user_data = g, .configuration_options = options};
    struct mg_error_data ed = {.text = ebuf, .text_buffer_size = sizeof ebuf};
    g->mg = mg_start2(&init, &ed);
    if (g->mg == NULL) {
        mg_exit_library();
        gw_stream_destroy(g);
        free_state(g);
        return tb_error_set(err, TB_UNAVAILABLE, "GATEWAY_PORT", "cannot serve HTTP on %s: %s",
                            ports, ebuf[0] ? ebuf : "civetweb failed to start");
    }
    /* "/" is a prefix of every URI: one handler, the route table decides. */
    mg_set_request_handler(g->mg, "/", on_request, g);
    /* WebSocket upgrades of /v1/stream go to stream.c instead. */
    gw_stream_attach(g);
    atomic_store(&g->ready, true);
    bus_log(BUS_LOG_INFO, "serving HTTP on %s with %s threads", ports, threads);
    return TB_OK;
}

void gw_http_stop(gw *g) {
    if (g->mg == NULL) return;
    mg_stop(g->mg); /* waits for the requests in flight and closes the streams */
    g->mg = NULL;
    mg_exit_library();
    gw_stream_destroy(g);
    free_state(g);
}
