/* tb-bench-civetweb: the anchor of `scripts/bench http`. A bare civetweb
 * server with the gateway's civetweb settings (keep-alive, tcp_nodelay,
 * the same thread count) and one handler that answers every request with
 * a fixed JSON body of the size of the gateway's /health. The gateway's
 * rows are printed as ratios to its requests/s in the same run.
 *
 * Two variants, so the table shows what civetweb's own response API costs:
 * by default the handler uses mg_response_header_start/add/send (which
 * writes each header line with its own send()) and mg_write for the body,
 * as a civetweb user would; with --one-write it formats the same response
 * into one buffer and writes it once, as the gateway's gw_send does.
 *
 * Usage: tb-bench-civetweb [--one-write] PORT [THREADS]; serves until
 * SIGTERM/SIGINT. */
#include <civetweb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static const char body[] = "{\"service\":\"api-gateway\",\"id\":\"bench00000000000\","
                           "\"version\":\"0.0.0\",\"status\":\"ok\","
                           "\"checks\":{\"nats\":{\"ok\":true}}}";

/* The same status, headers and body in one write. */
static int on_request_one_write(struct mg_connection *conn, void *cbdata) {
    (void)cbdata;
    char buf[1024];
    time_t now = time(NULL);
    struct tm tm;
    char date[40];
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Date: %s\r\nConnection: keep-alive\r\n\r\n%s",
                     sizeof body - 1, date, body);
    mg_write(conn, buf, (size_t)n);
    return 200;
}

static int on_request(struct mg_connection *conn, void *cbdata) {
    (void)cbdata;
    char len[16];
    snprintf(len, sizeof len, "%zu", sizeof body - 1);
    mg_response_header_start(conn, 200);
    mg_response_header_add(conn, "Content-Type", "application/json", -1);
    mg_response_header_add(conn, "Content-Length", len, -1);
    mg_response_header_send(conn);
    mg_write(conn, body, sizeof body - 1);
    return 200;
}

int main(int argc, char **argv) {
    bool one_write = argc > 1 && strcmp(argv[1], "--one-write") == 0;
    if (one_write) {
        argv++;
        argc--;
    }
    if (argc < 2 || atoi(argv[1]) <= 0) {
        fprintf(stderr, "usage: tb-bench-civetweb [--one-write] PORT [THREADS]\n");
        return 2;
    }
    char ports[64];
    snprintf(ports, sizeof ports, "127.0.0.1:%s", argv[1]);
    const char *options[] = {"listening_ports",
                             ports,
                             "num_threads",
                             argc > 2 ? argv[2] : "512",
                             "enable_keep_alive",
                             "yes",
                             "keep_alive_timeout_ms",
                             "5000",
                             "tcp_nodelay",
                             "1",
                             "request_timeout_ms",
                             "10000",
                             NULL};
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    mg_init_library(0);
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    struct mg_context *ctx = mg_start(&cb, NULL, options);
    if (ctx == NULL) {
        fprintf(stderr, "cannot serve on %s\n", ports);
        return 1;
    }
    mg_set_request_handler(ctx, "/", one_write ? on_request_one_write : on_request, NULL);
    while (!stop) pause();
    mg_stop(ctx);
    mg_exit_library();
    return 0;
}
