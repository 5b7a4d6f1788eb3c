/* A WebSocket client for the integration tests of GET /v1/stream
 * (test_gateway_stream.c, test_runner.c), built on civetweb's client.
 *
 * civetweb reads on a thread of its own and calls on_frame for every frame;
 * text frames are parsed and kept (or only counted, for floods), a close
 * frame's code and reason are recorded. A client can be made slow: while
 * `block` is set its handler waits, so it stops reading its socket and the
 * gateway's data piles up. The key goes in ?api_key= because civetweb's
 * client cannot add headers; ws_upgrade_status sends a raw upgrade request
 * with any header and returns the HTTP status.
 *
 * Included by one .c file per test binary (static definitions); the test
 * calls mg_init_library(0) once. */
#ifndef TEST_WS_CLIENT_H
#define TEST_WS_CLIENT_H

#include <arpa/inet.h>
#include <civetweb.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tb_test.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

typedef struct ws_client {
    struct mg_connection *conn;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool keep;          /* keep parsed text frames (false: count them only) */
    json_t *frames;     /* parsed text frames, in arrival order */
    size_t next;        /* first frame ws_wait_for has not consumed */
    size_t text_frames; /* every text frame */
    size_t bad_frames;  /* text frames that were not JSON */
    bool block;         /* the handler waits while set: a client that stops reading */
    bool blocking;      /* the handler is waiting now */
    size_t pongs;       /* pong frames */
    bool close_frame;   /* a close frame arrived */
    int close_code;
    char close_reason[128];
    bool closed; /* civetweb ended the connection */
} ws_client;

static int ws_on_frame(struct mg_connection *conn, int bits, char *data, size_t len, void *arg) {
    ws_client *c = arg;
    pthread_mutex_lock(&c->lock);
    while (c->block) {
        c->blocking = true;
        pthread_cond_broadcast(&c->cond);
        pthread_cond_wait(&c->cond, &c->lock);
    }
    c->blocking = false;
    int opcode = bits & 0x0f;
    if (opcode == MG_WEBSOCKET_OPCODE_PING) /* civetweb's client does not answer by itself */
        mg_websocket_client_write(conn, MG_WEBSOCKET_OPCODE_PONG, data, len);
    if (opcode == MG_WEBSOCKET_OPCODE_PONG) c->pongs++;
    if (opcode == MG_WEBSOCKET_OPCODE_TEXT) {
        c->text_frames++;
        if (c->keep) {
            json_t *j = json_loadb(data, len, 0, NULL);
            if (j)
                json_array_append_new(c->frames, j);
            else
                c->bad_frames++;
        }
    } else if (opcode == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE) {
        c->close_frame = true;
        c->close_code = len >= 2 ? ((unsigned char)data[0] << 8) | (unsigned char)data[1] : 0;
        snprintf(c->close_reason, sizeof c->close_reason, "%.*s", len > 2 ? (int)(len - 2) : 0,
                 len > 2 ? data + 2 : "");
    }
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return 1;
}

static void ws_on_close(const struct mg_connection *conn, void *arg) {
    (void)conn;
    ws_client *c = arg;
    pthread_mutex_lock(&c->lock);
    c->closed = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* Connects to ws://127.0.0.1:port<path>; NULL when the upgrade is refused
 * (err says why). keep: see ws_client. Caller frees with ws_close. */
static ws_client *ws_open(int port, const char *path, bool keep, char *err, size_t cap) {
    ws_client *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->keep = keep;
    c->frames = json_array();
    err[0] = '\0';
    c->conn = mg_connect_websocket_client("127.0.0.1", port, 0, err, cap, path, NULL, ws_on_frame,
                                          ws_on_close, c);
    if (c->conn == NULL) {
        json_decref(c->frames);
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->cond);
        free(c);
        return NULL;
    }
    return c;
}

/* The stream path with the key as a query parameter. */
static void ws_path(char *out, size_t cap, const char *key) {
    snprintf(out, cap, "/v1/stream?api_key=%s", key);
}

static void ws_send(ws_client *c, const char *text) {
    ck_assert_int_gt(
        mg_websocket_client_write(c->conn, MG_WEBSOCKET_OPCODE_TEXT, text, strlen(text)), 0);
}

static void ws_deadline(struct timespec *ts, int timeout_ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* The next frame (from c->next on) that match accepts, waiting up to
 * timeout_ms; frames before it are consumed. NULL on timeout. The frame is
 * borrowed until ws_close. */
static json_t *ws_wait_for(ws_client *c, bool (*match)(json_t *frame, void *arg), void *arg,
                           int timeout_ms) {
    struct timespec dl;
    ws_deadline(&dl, timeout_ms);
    json_t *found = NULL;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (c->next < json_array_size(c->frames) && found == NULL) {
            json_t *f = json_array_get(c->frames, c->next++);
            if (match == NULL || match(f, arg)) found = f;
        }
        if (found || c->closed) break;
        if (pthread_cond_timedwait(&c->cond, &c->lock, &dl) != 0) break;
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

static bool ws_type_is(json_t *f, void *arg) {
    const char *t = json_string_value(json_object_get(f, "type"));
    return t && strcmp(t, (const char *)arg) == 0;
}

/* The next frame of a type ("subscribed", "error", "event"...). */
static json_t *ws_next_type(ws_client *c, const char *type, int timeout_ms) {
    return ws_wait_for(c, ws_type_is, (void *)type, timeout_ms);
}

/* The next frame whatever its type. */
static json_t *ws_next(ws_client *c, int timeout_ms) {
    return ws_wait_for(c, NULL, NULL, timeout_ms);
}

/* Waits until civetweb ended the connection (true) or timeout_ms passed. */
static bool ws_wait_closed(ws_client *c, int timeout_ms) {
    struct timespec dl;
    ws_deadline(&dl, timeout_ms);
    pthread_mutex_lock(&c->lock);
    while (!c->closed && pthread_cond_timedwait(&c->cond, &c->lock, &dl) == 0) {
    }
    bool closed = c->closed;
    pthread_mutex_unlock(&c->lock);
    return closed;
}

/* Text frames received so far. */
static size_t ws_count(ws_client *c) {
    pthread_mutex_lock(&c->lock);
    size_t n = c->text_frames;
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* Starts or ends a slow client. Blocking takes effect on the next frame. */
static void ws_block(ws_client *c, bool block) {
    pthread_mutex_lock(&c->lock);
    c->block = block;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void ws_close(ws_client *c) {
    if (c == NULL) return;
    ws_block(c, false);
    mg_close_connection(c->conn);
    json_decref(c->frames);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
}

/* Sends a raw upgrade request for path with extra header lines ("Name:
 * value\r\n"..., may be NULL) and returns the HTTP status of the answer
 * (0 when there is none); body (may be NULL) receives what follows the
 * headers, for errors. */
static int ws_upgrade_status(int port, const char *path, const char *extra, char *body,
                             size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: Upgrade\r\n"
                     "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n%s\r\n",
                     path, port, extra ? extra : "");
    ck_assert_int_eq(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    char resp[4096];
    size_t got = 0;
    const char *end = NULL;
    while (got + 1 < sizeof resp) {
        ssize_t r = recv(fd, resp + got, sizeof resp - got - 1, 0);
        if (r <= 0) break;
        got += (size_t)r;
        resp[got] = '\0';
        end = strstr(resp, "\r\n\r\n");
        if (end == NULL) continue;
        /* the whole body when Content-Length says how long it is */
        const char *cl = strcasestr(resp, "Content-Length:");
        size_t want = cl && cl < end ? (size_t)atol(cl + 15) : 0;
        if (got >= (size_t)(end + 4 - resp) + want) break;
    }
    close(fd);
    resp[got] = '\0';
    int status = 0;
    if (sscanf(resp, "HTTP/1.1 %d", &status) != 1) status = 0;
    if (body) snprintf(body, cap, "%s", end ? end + 4 : "");
    return status;
}

#pragma GCC diagnostic pop

#endif
