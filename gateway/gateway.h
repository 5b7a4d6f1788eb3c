/* Private interface of the tb-gateway executable: its settings, its state
 * and one HTTP request in flight, shared by the I/O files (http.c, proxy.c,
 * ops.c, auth.c, ratelimit.c, keystore.c, stream.c, main.c). The pure parts (routes,
 * request building, OpenAPI, charts, metrics merging, key format) live in
 * the tb_gateway_core library and have their own headers. */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include <civetweb.h>
#include <stdatomic.h>
#include <stdio.h>

#include "actor.h"
#include "routes.h"

/* Settings from the environment (listed by gw_settings_usage and README). */
typedef struct gw_settings {
    char port[16];              /* GATEWAY_PORT, default 8000 */
    char bind[64];              /* GATEWAY_BIND, default 127.0.0.1 */
    int64_t threads;            /* GATEWAY_THREADS = open connections served, default 256 */
    int64_t max_per_addr;       /* GATEWAY_MAX_CONN_PER_ADDR, default threads / 4 */
    int64_t listen_backlog;     /* GATEWAY_LISTEN_BACKLOG, default 1024 */
    int64_t max_body;           /* GATEWAY_MAX_BODY bytes, default 1 MiB */
    int64_t rate_limit;         /* GATEWAY_RATE_LIMIT requests/s per key, default 50 */
    int64_t bus_timeout_ms;     /* GATEWAY_BUS_TIMEOUT_MS, default 5000 */
    int64_t auth_cache_ms;      /* GATEWAY_AUTH_CACHE_MS, default 2000 */
    int64_t auth_fail_limit;    /* GATEWAY_AUTH_FAIL_LIMIT per second and address, default 20 */
    int64_t discovery_ms;       /* GATEWAY_DISCOVERY_MS, default 300 */
    int64_t request_timeout_ms; /* GATEWAY_REQUEST_TIMEOUT_MS (civetweb), default 10000 */
    int64_t keep_alive_ms;      /* GATEWAY_KEEP_ALIVE_MS, default 5000 */
    int64_t health_cache_ms;    /* GATEWAY_HEALTH_CACHE_MS (/health/all), default 1000 */
    int64_t quote_cache;        /* GATEWAY_QUOTE_CACHE symbols followed, default 1024 (0: off) */
    int64_t quote_verify_ms;    /* GATEWAY_QUOTE_VERIFY_MS, default 1000 */
    int64_t quote_idle_ms;      /* GATEWAY_QUOTE_IDLE_MS, default 60000 */
    int64_t rate_batch;         /* GATEWAY_RATE_BATCH tokens leased at once, default limit / 10 */
    char required[512];         /* GATEWAY_REQUIRED_SERVICES, comma-separated */
    int64_t stream_max;         /* GATEWAY_STREAM_MAX connections, default threads / 2 */
    int64_t stream_max_per_key; /* GATEWAY_STREAM_MAX_PER_KEY, default 5 */
    int64_t stream_queue;       /* GATEWAY_STREAM_QUEUE frames per connection, default 1000 */
    int64_t stream_max_subs;    /* GATEWAY_STREAM_MAX_SUBS per connection, default 100 */
    int64_t stream_close_ms;    /* GATEWAY_STREAM_CLOSE_MS, default 5000 */
} gw_settings;

tb_status gw_settings_load(gw_settings *s, tb_error *err) TB_WARN_UNUSED;
void gw_settings_usage(FILE *f);

/* The services of DESIGN §1, in the order /health/all lists them. */
extern const char *const gw_known_services[];
extern const size_t gw_known_services_count;

typedef struct gw_auth_cache gw_auth_cache;
typedef struct gw_stream gw_stream;
typedef struct gw_connlimit gw_connlimit;
typedef struct gw_health_cache gw_health_cache;
typedef struct gw_ratelimit gw_ratelimit;
typedef struct gw_static gw_static;
typedef struct bus_quotes bus_quotes;

typedef struct gw {
    bus_actor *actor;
    gw_settings set;
    struct mg_context *mg;
    gw_auth_cache *auth;
    gw_stream *stream;       /* /v1/stream connections and their bus subscriptions */
    gw_connlimit *conns;     /* open connections per client address */
    gw_health_cache *health; /* the last /health/all answer */
    gw_ratelimit *rate;      /* per-key tokens leased from Redis */
    bus_quotes *quotes;      /* last quotes of the symbols asked for, from their ticks */
    char *openapi;           /* rendered once at start */
    size_t openapi_len;
    char *docs;
    size_t docs_len;
    gw_static *ui; /* the web UI's files; NULL: no UI */
    /* Set once every handler is registered: civetweb listens from
     * mg_start2 on, before mg_set_request_handler, and would answer the
     * requests of that instant with its own 404 (on_begin_request). */
    _Atomic bool ready;
} gw;

/* Rate-limit state of the current request, for the X-RateLimit-* headers. */
typedef struct gw_rate {
    bool known;
    int64_t limit, remaining, reset_s;
} gw_rate;

/* One HTTP request, on the civetweb worker thread that serves it. */
typedef struct gw_req {
    gw *g;
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    gw_match match;
    char id[64]; /* X-Request-Id, also the bus trace id */
    gw_caller caller;
    gw_rate rate;
    int status; /* sent status, 0 until a response went out */
    bool close; /* the connection must close after the response */
} gw_req;

/* ---- http.c: responses and the request entry point ---- */
tb_status gw_http_start(gw *g, tb_error *err) TB_WARN_UNUSED;
void gw_http_stop(gw *g);
/* Sends a response with the standard headers (X-Request-Id, rate limit,
 * Cache-Control) plus extra "Name", "value" pairs (NULL-terminated list,
 * may be NULL). */
void gw_send(gw_req *r, int status, const char *ctype, const void *body, size_t len,
             const char *const *extra);
/* Sends the status line and headers of gw_send (Content-Length len) with
 * no body: the caller writes the len bytes (mg_write). False when it must
 * not: a HEAD request, a response already sent, or a failed write. */
bool gw_send_head(gw_req *r, int status, const char *ctype, size_t len, const char *const *extra);
/* Sends a JSON body (reference stolen; NULL means out-of-memory -> 500). */
void gw_send_json(gw_req *r, int status, json_t *body);
/* The one place that writes {"error":{"code","message","field"}}, counted
 * by code. */
void gw_send_error(gw_req *r, const tb_error *err);
void gw_send_fail(gw_req *r, tb_status s, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Reads the whole body, at most GATEWAY_MAX_BODY bytes (TB_TOO_LARGE when
 * Content-Length or the bytes read exceed it). *out is malloc'd and
 * NUL-terminated (caller frees). */
tb_status gw_read_body(gw_req *r, char **out, size_t *len, tb_error *err) TB_WARN_UNUSED;
/* Reads and parses a JSON object body; on failure sends the error (with
 * line, column and position for syntax errors) and returns NULL. */
json_t *gw_read_json(gw_req *r);
/* A request header, NULL when absent. */
const char *gw_header(gw_req *r, const char *name);
/* Observes one bus request's latency by subject. */
void gw_observe_bus(gw *g, const char *subject, int64_t ns);

/* ---- ui.c: the web UI's files and GET /v1/me ---- */
/* Loads the UI's files (GATEWAY_WEB_DIR or next to the executable). */
tb_status gw_ui_load(gw *g, tb_error *err) TB_WARN_UNUSED;
void gw_ui_free(gw *g);
/* Answers a request for one of the UI's files (or a 405 for another
 * method); false when path is not one of them. */
bool gw_ui_serve(gw_req *r, const char *path);
/* GET /v1/me: the caller's key id, role and accounts. */
void gw_handle_me(gw_req *r);

/* ---- proxy.c: GW_BUS routes ---- */
void gw_handle_bus(gw_req *r);

/* ---- stream.c: GET /v1/stream (WebSocket) ---- */
/* Creates the stream's state (before civetweb starts) and registers its
 * WebSocket handlers (after). */
tb_status gw_stream_create(gw *g, tb_error *err) TB_WARN_UNUSED;
void gw_stream_attach(gw *g);
/* After civetweb stopped; NULL-safe. */
void gw_stream_destroy(gw *g);
/* civetweb's connection_closed callback: frees the state of an upgrade
 * that was admitted but never completed. */
void gw_stream_connection_closed(const struct mg_connection *conn);
/* /v1/stream without an upgrade: 426. */
void gw_handle_stream(gw_req *r);
/* Closes this instance's stream connections of a key just revoked. */
void gw_stream_revoke(gw *g, const char *key_id);

/* ---- connlimit.c: open connections per client address ---- */
/* slots: one per worker thread. Starts the checker thread. */
gw_connlimit *gw_connlimit_create(gw *g, size_t slots);
void gw_connlimit_destroy(gw_connlimit *c);
/* civetweb's init_connection / connection_closed callbacks: count the
 * connection of its address; one over GATEWAY_MAX_CONN_PER_ADDR is sent a
 * 429 and shut down, before or during civetweb's first read. */
int gw_connlimit_open(const struct mg_connection *conn, void **conn_data);
void gw_connlimit_close(const struct mg_connection *conn);

/* ---- sock.c ---- */
/* The descriptor of a civetweb connection, found by its two addresses
 * (civetweb does not expose it); -1 when not found. */
int gw_find_socket(const struct mg_request_info *ri);

/* ---- ops.c: health, discovery, metrics ---- */
gw_health_cache *gw_health_cache_create(void);
void gw_health_cache_destroy(gw_health_cache *h);
void gw_handle_health(gw_req *r);
void gw_handle_health_service(gw_req *r);
void gw_handle_health_all(gw_req *r);
void gw_handle_services(gw_req *r);
void gw_handle_metrics(gw_req *r);

/* ---- auth.c: API keys on requests ---- */
gw_auth_cache *gw_auth_cache_create(int64_t ttl_ms);
void gw_auth_cache_destroy(gw_auth_cache *c);
/* Authenticates an Authorization header value (may be NULL) of a request
 * from client (its address): TB_OK with the caller, TB_UNAUTHORIZED,
 * TB_RATE_LIMITED when client had GATEWAY_AUTH_FAIL_LIMIT failed lookups in
 * this second, or TB_UNAVAILABLE when the key store cannot be reached.
 * Lookups are cached for GATEWAY_AUTH_CACHE_MS. */
tb_status gw_authenticate(gw *g, const char *authorization, const char *client, gw_caller *out,
                          tb_error *err) TB_WARN_UNUSED;
/* Drops a revoked key from this instance's cache at once. */
void gw_auth_forget(gw *g, const char *key_id);
void gw_handle_key_create(gw_req *r);
void gw_handle_key_revoke(gw_req *r);

/* ---- ratelimit.c ---- */
gw_ratelimit *gw_ratelimit_create(void);
void gw_ratelimit_destroy(gw_ratelimit *rl);
/* Takes one request of key_id from the current one-second window, shared
 * by every gateway instance through Redis: from tokens this instance leased
 * (GATEWAY_RATE_BATCH at a time, never past GATEWAY_RATE_LIMIT in total),
 * so most requests make no Redis round trip. *limited tells whether the
 * window is used up. Store failures are TB_UNAVAILABLE; the caller lets the
 * request through (fail open) and counts it. */
tb_status gw_ratelimit_take(gw *g, const char *key_id, gw_rate *out, bool *limited,
                            tb_error *err) TB_WARN_UNUSED;

/* Failed key lookups of client in the current second (Redis, shared by
 * every instance): count adds one, otherwise the count is only read. */
tb_status gw_authfail_count(gw *g, const char *client, bool count, int64_t *n,
                            tb_error *err) TB_WARN_UNUSED;

/* ---- keystore.c: the api_keys table ---- */
#include <libpq-fe.h>
/* Finds the live key (not revoked) whose hash matches: TB_UNAUTHORIZED when
 * none; records last_used_at. */
tb_status gw_keystore_find(PGconn *c, const char *key, gw_caller *out,
                           tb_error *err) TB_WARN_UNUSED;
/* Creates a key; out->key holds the secret, shown once. accounts is a
 * validated comma-separated list. */
tb_status gw_keystore_create(PGconn *c, gw_role role, const char *accounts, const char *name,
                             tb_api_key *out, tb_error *err) TB_WARN_UNUSED;
/* Revokes a key: TB_NOT_FOUND when there is no live key with that id. */
tb_status gw_keystore_revoke(PGconn *c, const char *id, tb_error *err) TB_WARN_UNUSED;
/* live[i] tells whether ids[i] is a key that exists and is not revoked. */
tb_status gw_keystore_live(PGconn *c, const char *const *ids, size_t n, bool *live,
                           tb_error *err) TB_WARN_UNUSED;

#endif
