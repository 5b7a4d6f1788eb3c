/* GET /v1/stream: the live WebSocket stream (DESIGN §6, protocol in
 * stream_proto.h).
 *
 * Threads. civetweb runs each WebSocket on a worker thread of its own: it
 * calls on_connect (authentication, limits; refusals are plain HTTP errors
 * before the upgrade), on_ready, on_data for every client frame and
 * on_close when the socket is done. Events arrive on the bus delivery
 * threads (stream_hub.c), which only queue frames: a connection has a
 * bounded outbound queue (GATEWAY_STREAM_QUEUE frames) drained by a writer
 * thread of its own, so a client that reads slowly blocks nothing but its
 * own writer. When its queue is full the client is a slow consumer: what
 * it has queued is dropped, a close frame (1008 "slow consumer: queue
 * full") is queued instead, and it is counted.
 *
 * Closing. Whenever the gateway closes a connection (slow consumer,
 * repeated invalid frames, a broken socket) it sets a deadline,
 * GATEWAY_STREAM_CLOSE_MS later. A client that reads gets the close frame
 * and disconnects; for one that does not, the reaper thread shuts the
 * socket down at the deadline, which ends both a writer blocked in a send
 * and civetweb's read loop (stream_watch.c). civetweb gives no handle on
 * the socket, so on_ready finds its descriptor by the connection's
 * addresses. A revoked key's connections are closed with 1008 "API key
 * revoked": at once on the instance that revoked it (gw_stream_revoke),
 * within GATEWAY_AUTH_CACHE_MS on the others (stream_watch.c).
 *
 * Limits: GATEWAY_STREAM_MAX connections per gateway (each holds a civetweb
 * thread, so the REST API keeps the rest), GATEWAY_STREAM_MAX_PER_KEY per
 * API key (per instance), GATEWAY_STREAM_MAX_SUBS subscriptions per
 * connection, STREAM_CMDS_PER_SEC client frames per second, and after
 * STREAM_MAX_INVALID refused frames the connection is closed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "keys.h"
#include "request.h"
#include "stream.h"

#define STREAM_PATH         "/v1/stream"
#define STREAM_MAX_INVALID  10
#define STREAM_CMDS_PER_SEC 20

/* ------------------------------------------------------- metrics -- */

static void count(gw *g, const char *name, const char *help, const char *label, const char *v) {
    bus_counter_add(bus_metrics_counter(bus_actor_metrics(g->actor), name, help, label, v, NULL),
                    1);
}

/* The upgrade is an HTTP request like the others: counted by route. */
static void observe_upgrade(gw *g, int status, int64_t t0) {
    char st[8];
    snprintf(st, sizeof st, "%d", status);
    bus_metrics *m = bus_actor_metrics(g->actor);
    bus_counter_add(bus_metrics_counter(m, "tb_http_requests_total",
                                        "HTTP requests by route pattern, method and status",
                                        "route", STREAM_PATH, "method", "GET", "status", st, NULL),
                    1);
    bus_histogram_observe_ns(bus_metrics_histogram(m, "tb_http_request_duration_seconds",
                                                   "HTTP request latency by route pattern", "route",
                                                   STREAM_PATH, "method", "GET", NULL),
                             bus_mono_ns() - t0);
}

static void count_client_error(gw *g, tb_status s) {
    count(g, "tb_stream_client_errors_total", "Client frames refused with an error frame, by code",
          "code", tb_status_code(s));
}

/* ------------------------------------------- refusing an upgrade -- */

/* Writes the gateway's error shape as a plain HTTP response. The upgrade
 * handshake has not happened yet, but civetweb's response-header calls no
 * longer apply to a connection it marked as a WebSocket: the response is
 * written whole. Returns 1 (civetweb: do not upgrade). */
static int refuse(const struct mg_connection *cconn, gw *g, const char *rid, int64_t t0,
                  const tb_error *err, const char *extra) {
    struct mg_connection *conn = (struct mg_connection *)cconn; /* civetweb hands it out const */
    tb_status s = err->status == TB_OK ? TB_ERR : err->status;
    int http = tb_status_http(s);
    json_t *e = json_object(), *body = json_object();
    json_t *msg = json_string(err->message[0] ? err->message : tb_status_text(s));
    json_object_set_new(e, "code", json_string(tb_status_code(s)));
    /* a message quoting a path that is not UTF-8 */
    json_object_set_new(e, "message", msg ? msg : json_string("invalid request"));
    json_object_set_new(e, "field", err->field[0] ? json_string(err->field) : json_null());
    json_object_set_new(body, "error", e);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    const char *b =
        text ? text : "{\"error\":{\"code\":\"internal\",\"message\":\"error\",\"field\":null}}";
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
              "X-Request-Id: %s\r\nCache-Control: no-store\r\nConnection: close\r\n%s\r\n%s",
              http, mg_get_response_code_text(conn, http), strlen(b), rid, extra ? extra : "", b);
    free(text);
    count(g, "tb_gateway_errors_total", "Error responses by error code", "code", tb_status_code(s));
    observe_upgrade(g, http, t0);
    bus_log(http >= 500 ? BUS_LOG_WARN : BUS_LOG_DEBUG, "GET %s: %d %s", STREAM_PATH, http,
            err->message);
    return 1;
}

/* The key: "Authorization: Bearer <key>" or, for browsers (which cannot
 * set headers on a WebSocket), ?api_key=<key>. Any other query parameter
 * is refused like on every route. */
static tb_status key_from_request(const struct mg_request_info *ri, const char *header,
                                  char *bearer, size_t cap, tb_error *err) {
    char key[GW_KEY_LEN + 8] = "";
    bool have = false;
    for (const char *p = ri->query_string; p && *p;) {
        size_t n = strcspn(p, "&");
        const char *eq = memchr(p, '=', n);
        size_t nl = eq ? (size_t)(eq - p) : n;
        if (n == 0) { /* "a=1&&b=2" */
            p++;
            continue;
        }
        if (nl != 7 || strncmp(p, "api_key", 7) != 0)
            return tb_error_set(err, TB_INVALID, NULL, "unknown query parameter (only api_key)");
        if (have) return tb_error_set(err, TB_INVALID, "api_key", "api_key: given twice");
        const char *v = eq ? eq + 1 : p + n;
        if (!gw_url_decode(v, (size_t)(p + n - v), key, sizeof key))
            return tb_error_set(err, TB_UNAUTHORIZED, "api_key", "not a tradebus API key");
        have = true;
        p += n + (p[n] == '&');
    }
    if (have && header)
        return tb_error_set(err, TB_INVALID, "api_key",
                            "give the key once: Authorization header or api_key");
    if (have)
        snprintf(bearer, cap, "Bearer %s", key);
    else
        snprintf(bearer, cap, "%s", header ? header : "");
    return TB_OK;
}

static void sconn_free(gw_sconn *sc) {
    if (sc == NULL) return;
    for (size_t i = 0; i < sc->len; i++) gw_frame_unref(sc->q[(sc->head + i) % (sc->qmax + 1)]);
    free(sc->q);
    free(sc->subs);
    pthread_mutex_destroy(&sc->lock);
    pthread_cond_destroy(&sc->cond);
    free(sc);
}

static void unlink_conn(gw_stream *st, gw_sconn *sc) {
    pthread_mutex_lock(&st->lock);
    for (gw_sconn **p = &st->conns; *p; p = &(*p)->next) {
        if (*p == sc) {
            *p = sc->next;
            break;
        }
    }
    pthread_mutex_unlock(&st->lock);
}

/* Admits a connection under the instance-wide and per-key limits; the
 * connection is listed from here on, so concurrent upgrades count. */
static tb_status admit_conn(gw_stream *st, gw_sconn *sc, tb_error *err) {
    const gw_settings *set = &st->g->set;
    tb_status s = TB_OK;
    size_t total = 0, mine = 0;
    pthread_mutex_lock(&st->lock);
    for (gw_sconn *c = st->conns; c; c = c->next) {
        total++;
        mine += strcmp(c->caller.key_id, sc->caller.key_id) == 0;
    }
    if (st->stopping)
        s = tb_error_set(err, TB_UNAVAILABLE, NULL, "the gateway is stopping");
    else if ((int64_t)total >= set->stream_max)
        s = tb_error_set(err, TB_UNAVAILABLE, NULL,
                         "this gateway serves %lld stream connections already",
                         (long long)set->stream_max);
    else if ((int64_t)mine >= set->stream_max_per_key)
        s = tb_error_set(err, TB_RATE_LIMITED, NULL,
                         "this key has %lld stream connections open on this gateway",
                         (long long)set->stream_max_per_key);
    if (s == TB_OK) {
        sc->next = st->conns;
        st->conns = sc;
    }
    pthread_mutex_unlock(&st->lock);
    return s;
}

static int on_connect(const struct mg_connection *conn, void *cbdata) {
    gw *g = cbdata;
    gw_stream *st = g->stream;
    int64_t t0 = bus_mono_ns();
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char rid[64];
    const char *hdr_id = mg_get_header(conn, "X-Request-Id");
    if (gw_request_id_valid(hdr_id))
        snprintf(rid, sizeof rid, "%s", hdr_id);
    else
        bus_new_id(rid, sizeof rid);
    tb_error err = {0};
    if (ri->local_uri == NULL || strcmp(ri->local_uri, STREAM_PATH) != 0) {
        tb_error_set(&err, TB_NOT_FOUND, NULL, "no route for %s",
                     ri->local_uri ? ri->local_uri : "");
        return refuse(conn, g, rid, t0, &err, NULL);
    }
    char bearer[GW_KEY_LEN + 32];
    gw_caller caller;
    if (key_from_request(ri, mg_get_header(conn, "Authorization"), bearer, sizeof bearer, &err) !=
        TB_OK)
        return refuse(conn, g, rid, t0, &err,
                      err.status == TB_UNAUTHORIZED
                          ? "WWW-Authenticate: Bearer realm=\"tradebus\"\r\n"
                          : NULL);
    tb_status s = gw_authenticate(g, bearer[0] ? bearer : NULL, ri->remote_addr, &caller, &err);
    memset(bearer, 0, sizeof bearer);
    if (s != TB_OK) {
        count(g, "tb_gateway_auth_failures_total", "Requests refused by authentication", "reason",
              tb_status_code(s));
        return refuse(conn, g, rid, t0, &err,
                      s == TB_UNAUTHORIZED   ? "WWW-Authenticate: Bearer realm=\"tradebus\"\r\n"
                      : s == TB_RATE_LIMITED ? "Retry-After: 1\r\n"
                                             : NULL);
    }
    gw_rate rate;
    bool limited = false;
    if (gw_ratelimit_take(g, caller.key_id, &rate, &limited, &err) != TB_OK) {
        /* Fail open, as for every route. */
        bus_counter_add(
            bus_metrics_counter(bus_actor_metrics(g->actor), "tb_gateway_rate_limit_errors_total",
                                "Rate-limit checks that failed (requests let through)", NULL),
            1);
        bus_log(BUS_LOG_WARN, "rate limit not applied: %s", err.message);
    } else if (limited) {
        bus_counter_add(bus_metrics_counter(bus_actor_metrics(g->actor),
                                            "tb_gateway_rate_limited_total",
                                            "Requests refused by the per-key rate limit", NULL),
                        1);
        tb_error_set(&err, TB_RATE_LIMITED, NULL, "more than %lld requests per second for this key",
                     (long long)rate.limit);
        return refuse(conn, g, rid, t0, &err, "Retry-After: 1\r\n");
    }
    gw_sconn *sc = calloc(1, sizeof *sc);
    size_t qmax = (size_t)g->set.stream_queue;
    if (sc == NULL || (sc->q = calloc(qmax + 1, sizeof *sc->q)) == NULL) {
        free(sc);
        tb_error_set(&err, TB_NOMEM, NULL, "out of memory");
        return refuse(conn, g, rid, t0, &err, NULL);
    }
    sc->g = g;
    sc->fd = -1;
    sc->qmax = qmax;
    sc->caller = caller;
    snprintf(sc->id, sizeof sc->id, "%s", rid);
    snprintf(sc->client, sizeof sc->client, "%s", ri->remote_addr);
    pthread_mutex_init(&sc->lock, NULL);
    pthread_cond_init(&sc->cond, NULL);
    if (admit_conn(st, sc, &err) != TB_OK) {
        sconn_free(sc);
        return refuse(conn, g, rid, t0, &err,
                      err.status == TB_RATE_LIMITED ? "Retry-After: 1\r\n" : NULL);
    }
    mg_set_user_connection_data(conn, sc);
    sc->upgrade_ns = t0;
    return 0;
}

/* ------------------------------------------------ outbound queue -- */

static gw_frame *pop_locked(gw_sconn *sc) {
    gw_frame *f = sc->q[sc->head];
    sc->head = (sc->head + 1) % (sc->qmax + 1);
    sc->len--;
    return f;
}

static void drop_queue_locked(gw_sconn *sc) {
    while (sc->len > 0) gw_frame_unref(pop_locked(sc));
}

static void append_locked(gw_sconn *sc, gw_frame *f) {
    sc->q[(sc->head + sc->len) % (sc->qmax + 1)] = f;
    sc->len++;
}

/* gw_sconn_close with sc->lock held. */
static void close_locked(gw_sconn *sc, uint16_t code, const char *reason, bool drop) {
    if (sc->state != SC_OPEN) return;
    sc->state = SC_CLOSING;
    if (drop) drop_queue_locked(sc);
    char payload[125];
    size_t n = gw_stream_close_payload(code, reason, payload);
    gw_frame *f = gw_frame_new(MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, -1, payload, n);
    if (f != NULL && sc->len <= sc->qmax)
        append_locked(sc, f);
    else
        gw_frame_unref(f);
    sc->deadline_ns = bus_mono_ns() + sc->g->set.stream_close_ms * INT64_C(1000000);
    pthread_cond_signal(&sc->cond);
}

bool gw_sconn_close(gw_sconn *sc, uint16_t code, const char *reason, bool drop) {
    pthread_mutex_lock(&sc->lock);
    bool was_open = sc->state == SC_OPEN;
    close_locked(sc, code, reason, drop);
    pthread_mutex_unlock(&sc->lock);
    return was_open;
}

void gw_sconn_push(gw_sconn *sc, gw_frame *f) {
    bool slow = false;
    pthread_mutex_lock(&sc->lock);
    if (sc->state == SC_OPEN) {
        if (sc->len >= sc->qmax) {
            close_locked(sc, GW_WS_CLOSE_POLICY, "slow consumer: queue full", true);
            slow = true;
        } else {
            gw_frame_ref(f);
            append_locked(sc, f);
            pthread_cond_signal(&sc->cond);
        }
    }
    pthread_mutex_unlock(&sc->lock);
    if (slow) {
        bus_counter_add(sc->g->stream->slow, 1);
        bus_log(BUS_LOG_WARN, "stream %s (key %s, %s): slow consumer, %zu frames queued; closing",
                sc->id, sc->caller.key_id, sc->client, sc->qmax);
    }
}

/* A reply of the gateway's own (subscribed, error): same queue, so it
 * keeps its place among the events. Takes text (malloc'd, may be NULL). */
static void push_text(gw_sconn *sc, char *text) {
    gw_frame *f = text ? gw_frame_new(MG_WEBSOCKET_OPCODE_TEXT, -1, text, strlen(text)) : NULL;
    free(text);
    if (f == NULL) {
        pthread_mutex_lock(&sc->lock);
        close_locked(sc, GW_WS_CLOSE_INTERNAL, "out of memory", true);
        pthread_mutex_unlock(&sc->lock);
        return;
    }
    gw_sconn_push(sc, f);
    gw_frame_unref(f);
}

static void *writer_main(void *arg) {
    gw_sconn *sc = arg;
    gw_stream *st = sc->g->stream;
    for (;;) {
        pthread_mutex_lock(&sc->lock);
        while (sc->len == 0 && !sc->stop) pthread_cond_wait(&sc->cond, &sc->lock);
        if (sc->stop) { /* on_close frees what is left */
            pthread_mutex_unlock(&sc->lock);
            break;
        }
        gw_frame *f = pop_locked(sc);
        pthread_mutex_unlock(&sc->lock);
        /* May block while the client does not read; only this connection
         * waits. civetweb's connection lock keeps it apart from the pongs
         * its read loop writes. */
        int r = mg_websocket_write(sc->conn, f->opcode, f->data, f->len);
        if (r > 0 && f->topic >= 0) bus_counter_add(st->messages[f->topic], 1);
        if (r > 0 && f->opcode == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE)
            bus_log(BUS_LOG_INFO, "stream %s: close frame sent (%u %.*s)", sc->id,
                    ((unsigned char)f->data[0] << 8) | (unsigned char)f->data[1], (int)(f->len - 2),
                    f->data + 2);
        if (r <= 0) {
            /* The socket is broken: cut it now, send nothing more. */
            pthread_mutex_lock(&sc->lock);
            if (sc->state == SC_OPEN) sc->state = SC_CLOSING;
            drop_queue_locked(sc);
            if (sc->deadline_ns == 0 || sc->deadline_ns > bus_mono_ns())
                sc->deadline_ns = bus_mono_ns();
            pthread_mutex_unlock(&sc->lock);
        }
        gw_frame_unref(f);
    }
    return NULL;
}

/* ----------------------------------------------- client commands -- */

static sub_rec *find_sub(gw_sconn *sc, gw_topic topic, const char *key) {
    for (size_t i = 0; i < sc->nsubs; i++)
        if (sc->subs[i].topic == topic && strcmp(sc->subs[i].key, key) == 0) return &sc->subs[i];
    return NULL;
}

/* The keys a command names: its symbols, or its one account. */
static size_t cmd_keys(const gw_stream_cmd *cmd, const char **keys) {
    if (gw_topic_get(cmd->topic)->by_symbol) {
        for (size_t i = 0; i < cmd->nsymbols; i++) keys[i] = cmd->symbols[i];
        return cmd->nsymbols;
    }
    keys[0] = cmd->account;
    return 1;
}

static void hub_drop(gw_sconn *sc, gw_topic topic, const char *key) {
    char subject[GW_STREAM_SUBJECT_CAP];
    if (gw_stream_subject(topic, key, subject, sizeof subject))
        gw_hub_remove(sc->g->stream->hub, subject, gw_stream_filter(topic, key), sc);
}

static tb_status subscribe(gw_sconn *sc, const gw_stream_cmd *cmd, tb_error *err) {
    const char *keys[GW_STREAM_MAX_SYMBOLS];
    size_t n = cmd_keys(cmd, keys), fresh = 0;
    for (size_t i = 0; i < n; i++) fresh += find_sub(sc, cmd->topic, keys[i]) == NULL;
    if ((int64_t)(sc->nsubs + fresh) > sc->g->set.stream_max_subs)
        return tb_error_set(err, TB_INVALID, NULL,
                            "a connection holds at most %lld subscriptions (this one has %zu)",
                            (long long)sc->g->set.stream_max_subs, sc->nsubs);
    if (fresh == 0) return TB_OK; /* already subscribed: nothing to do */
    sub_rec *grown = realloc(sc->subs, (sc->nsubs + fresh) * sizeof *grown);
    if (grown == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    sc->subs = grown;
    size_t first = sc->nsubs;
    for (size_t i = 0; i < n; i++) {
        if (find_sub(sc, cmd->topic, keys[i]) != NULL) continue;
        char subject[GW_STREAM_SUBJECT_CAP];
        tb_status s = gw_stream_subject(cmd->topic, keys[i], subject, sizeof subject)
                          ? gw_hub_add(sc->g->stream->hub, cmd->topic, subject,
                                       gw_stream_filter(cmd->topic, keys[i]), sc, err)
                          : tb_error_set(err, TB_INVALID, NULL, "no subject for this topic");
        if (s != TB_OK) {
            /* All of the frame or none of it. */
            for (size_t k = first; k < sc->nsubs; k++)
                hub_drop(sc, sc->subs[k].topic, sc->subs[k].key);
            sc->nsubs = first;
            return s;
        }
        sub_rec *r = &sc->subs[sc->nsubs++];
        r->topic = cmd->topic;
        snprintf(r->key, sizeof r->key, "%s", keys[i]);
    }
    return TB_OK;
}

static tb_status unsubscribe(gw_sconn *sc, const gw_stream_cmd *cmd, tb_error *err) {
    const char *keys[GW_STREAM_MAX_SYMBOLS];
    size_t n = cmd_keys(cmd, keys);
    for (size_t i = 0; i < n; i++)
        if (find_sub(sc, cmd->topic, keys[i]) == NULL)
            return tb_error_set(err, TB_NOT_FOUND,
                                gw_topic_get(cmd->topic)->by_symbol ? "symbols" : "account",
                                "not subscribed to %s %s", gw_topic_get(cmd->topic)->name,
                                keys[i][0] ? keys[i] : "(every account)");
    for (size_t i = 0; i < n; i++) {
        sub_rec *r = find_sub(sc, cmd->topic, keys[i]);
        hub_drop(sc, cmd->topic, keys[i]);
        *r = sc->subs[--sc->nsubs];
    }
    return TB_OK;
}

/* A refused client frame: an error frame, counted; repeated refusals
 * close the connection. */
static void refuse_frame(gw_sconn *sc, const char *id, const tb_error *err) {
    count_client_error(sc->g, err->status);
    push_text(sc, gw_stream_error(id, err));
    if (++sc->invalid >= STREAM_MAX_INVALID) {
        pthread_mutex_lock(&sc->lock);
        close_locked(sc, GW_WS_CLOSE_POLICY, "too many invalid messages", false);
        pthread_mutex_unlock(&sc->lock);
        bus_log(BUS_LOG_WARN, "stream %s (key %s, %s): %d invalid frames; closing", sc->id,
                sc->caller.key_id, sc->client, sc->invalid);
    }
}

static void on_text(gw_sconn *sc, const char *data, size_t len) {
    tb_error err = {0};
    int64_t t = bus_mono_ns();
    if (t - sc->window_start_ns >= INT64_C(1000000000)) {
        sc->window_start_ns = t;
        sc->window_count = 0;
    }
    if (++sc->window_count > STREAM_CMDS_PER_SEC) {
        tb_error_set(&err, TB_RATE_LIMITED, NULL, "more than %d frames per second",
                     STREAM_CMDS_PER_SEC);
        refuse_frame(sc, NULL, &err);
        return;
    }
    gw_stream_cmd cmd;
    tb_status s = gw_stream_parse(data, len, &sc->caller, &cmd, &err);
    if (s == TB_OK)
        s = cmd.op == GW_OP_SUBSCRIBE ? subscribe(sc, &cmd, &err) : unsubscribe(sc, &cmd, &err);
    if (s != TB_OK) {
        refuse_frame(sc, cmd.id, &err);
        return;
    }
    push_text(sc, gw_stream_reply(&cmd, cmd.op == GW_OP_SUBSCRIBE ? "subscribed" : "unsubscribed"));
}

static int on_data(struct mg_connection *conn, int bits, char *data, size_t len, void *cbdata) {
    (void)cbdata;
    gw_sconn *sc = mg_get_user_connection_data(conn);
    if (sc == NULL) return 0;
    int opcode = bits & 0x0f;
    bool fin = (bits & 0x80) != 0;
    if (opcode == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE) {
        /* The client closes: echo its code (RFC 6455 §5.5.1) unless the
         * gateway already sent its own close frame. */
        pthread_mutex_lock(&sc->lock);
        bool echo = sc->state == SC_OPEN;
        if (echo) {
            sc->state = SC_CLOSING;
            drop_queue_locked(sc);
            sc->deadline_ns = bus_mono_ns() + sc->g->set.stream_close_ms * INT64_C(1000000);
        }
        pthread_mutex_unlock(&sc->lock);
        if (echo)
            mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, data, len >= 2 ? 2 : 0);
        return 0;
    }
    if (opcode == MG_WEBSOCKET_OPCODE_PING) {
        mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_PONG, data, len <= 125 ? len : 0);
        return 1;
    }
    if (opcode == MG_WEBSOCKET_OPCODE_PONG) return 1;
    pthread_mutex_lock(&sc->lock);
    bool is_open = sc->state == SC_OPEN;
    pthread_mutex_unlock(&sc->lock);
    if (!is_open) return 1; /* closing: the client's last words are not read */
    tb_error err = {0};
    if (opcode != MG_WEBSOCKET_OPCODE_TEXT || !fin) {
        tb_error_set(&err, TB_DECODE, NULL,
                     "expected one JSON command per unfragmented text frame");
        refuse_frame(sc, NULL, &err);
        return 1;
    }
    on_text(sc, data, len);
    return 1;
}

/* ------------------------------------------------ ready and close -- */

static void on_ready(struct mg_connection *conn, void *cbdata) {
    gw *g = cbdata;
    gw_sconn *sc = mg_get_user_connection_data(conn);
    if (sc == NULL) return;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    int fd = gw_find_socket(ri);
    if (fd < 0)
        bus_log(BUS_LOG_WARN,
                "stream %s: socket not found; a client that stops reading is "
                "cut off only when civetweb's timeouts end it",
                sc->id);
    pthread_mutex_lock(&sc->lock);
    sc->conn = conn;
    sc->fd = fd;
    sc->state = SC_OPEN;
    pthread_mutex_unlock(&sc->lock);
    int rc = pthread_create(&sc->writer, NULL, writer_main, sc);
    if (rc != 0) {
        bus_log(BUS_LOG_ERROR, "stream %s: no writer thread: %s", sc->id, strerror(rc));
        char payload[125];
        size_t n = gw_stream_close_payload(GW_WS_CLOSE_INTERNAL, "server overloaded", payload);
        pthread_mutex_lock(&sc->lock);
        sc->state = SC_CLOSING;
        sc->deadline_ns = bus_mono_ns();
        pthread_mutex_unlock(&sc->lock);
        mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, payload, n);
        observe_upgrade(g, 101, sc->upgrade_ns);
        return;
    }
    sc->writer_started = true;
    bus_gauge_add(g->stream->connections, 1);
    observe_upgrade(g, 101, sc->upgrade_ns);
    bus_log(BUS_LOG_INFO, "stream %s opened (key %s, %s)", sc->id, sc->caller.key_id, sc->client);
}

static void on_close(const struct mg_connection *conn, void *cbdata) {
    gw *g = cbdata;
    gw_sconn *sc = mg_get_user_connection_data(conn);
    if (sc == NULL) return;
    pthread_mutex_lock(&sc->lock);
    sc->state = SC_DONE;
    sc->stop = true;
    /* A writer blocked on a client that does not read is cut off by the
     * reaper when this passes. */
    int64_t dl = bus_mono_ns() + g->set.stream_close_ms * INT64_C(1000000);
    if (sc->deadline_ns == 0 || sc->deadline_ns > dl) sc->deadline_ns = dl;
    pthread_cond_signal(&sc->cond);
    pthread_mutex_unlock(&sc->lock);
    gw_hub_remove_all(g->stream->hub, sc);
    if (sc->writer_started) {
        pthread_join(sc->writer, NULL);
        bus_gauge_add(g->stream->connections, -1);
    }
    unlink_conn(g->stream, sc); /* from here the reaper cannot touch the socket */
    mg_set_user_connection_data(conn, NULL);
    bus_log(BUS_LOG_INFO, "stream %s closed (key %s, %s)", sc->id, sc->caller.key_id, sc->client);
    sconn_free(sc);
}

void gw_stream_connection_closed(const struct mg_connection *conn) {
    /* Only a connection admitted by on_connect whose handshake then failed
     * still has its state here: on_close frees every other one. */
    gw_sconn *sc = mg_get_user_connection_data(conn);
    if (sc == NULL) return;
    mg_set_user_connection_data(conn, NULL);
    unlink_conn(sc->g->stream, sc);
    sconn_free(sc);
}

/* ----------------------------------------------- start and stop -- */

tb_status gw_stream_create(gw *g, tb_error *err) {
    gw_stream *st = calloc(1, sizeof *st);
    if (st == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    st->g = g;
    bus_metrics *m = bus_actor_metrics(g->actor);
    st->hub = gw_hub_create(bus_actor_conn(g->actor), m);
    if (st->hub == NULL) {
        free(st);
        return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    }
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->wake, NULL);
    st->connections = bus_metrics_gauge(m, "tb_stream_connections",
                                        "Open /v1/stream WebSocket connections", NULL);
    st->slow = bus_metrics_counter(m, "tb_stream_slow_disconnects_total",
                                   "Stream connections closed because their queue was full", NULL);
    for (int t = 0; t < GW_TOPIC_COUNT; t++)
        st->messages[t] = bus_metrics_counter(m, "tb_stream_messages_total",
                                              "Events sent to stream clients, by topic", "topic",
                                              gw_topic_get((gw_topic)t)->name, NULL);
    int rc = pthread_create(&st->reaper, NULL, gw_stream_reaper_main, st);
    if (rc == 0) {
        rc = pthread_create(&st->keys, NULL, gw_stream_keys_main, st);
        st->keys_started = rc == 0;
        g->stream = st;
        if (rc != 0) gw_stream_destroy(g); /* stops the reaper */
    } else {
        gw_hub_destroy(st->hub);
        pthread_mutex_destroy(&st->lock);
        pthread_cond_destroy(&st->wake);
        free(st);
    }
    if (rc != 0) return tb_error_set(err, TB_ERR, NULL, "cannot start a thread: %s", strerror(rc));
    return TB_OK;
}

void gw_stream_attach(gw *g) {
    mg_set_websocket_handler(g->mg, STREAM_PATH, on_connect, on_ready, on_data, on_close, g);
}

void gw_stream_destroy(gw *g) {
    gw_stream *st = g->stream;
    if (st == NULL) return;
    pthread_mutex_lock(&st->lock);
    st->stopping = true;
    pthread_cond_broadcast(&st->wake);
    pthread_mutex_unlock(&st->lock);
    pthread_join(st->reaper, NULL);
    if (st->keys_started) pthread_join(st->keys, NULL);
    /* civetweb has stopped: every connection went through on_close or
     * gw_stream_connection_closed. */
    for (gw_sconn *sc = st->conns, *next; sc; sc = next) {
        next = sc->next;
        sconn_free(sc);
    }
    gw_hub_destroy(st->hub);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->wake);
    free(st);
    g->stream = NULL;
}

void gw_handle_stream(gw_req *r) {
    static const char body[] =
        "{\"error\":{\"code\":\"upgrade_required\",\"message\":\"/v1/stream is a WebSocket: "
        "send an upgrade request (Connection: Upgrade, Upgrade: websocket)\",\"field\":null}}";
    static const char *const hdr[] = {"Upgrade", "websocket", "Connection", "Upgrade", NULL};
    count(r->g, "tb_gateway_errors_total", "Error responses by error code", "code",
          "upgrade_required");
    gw_send(r, 426, "application/json", body, sizeof body - 1, hdr);
}
