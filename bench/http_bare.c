/* tb-bench-civetweb: the anchor of `scripts/bench http`. A bare civetweb
 * server with the gateway's civetweb settings (keep-alive, tcp_nodelay,
 * the same thread count) and one handler that answers every request with
 * a fixed JSON body of the size of the gateway's /health. The gateway's
 * rows are printed as ratios to its requests/s in the same run.
 *
 * Usage: tb-bench-civetweb PORT [THREADS]; serves until SIGTERM/SIGINT. */
#include <civetweb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static const char body[] = "{\"service\":\"api-gateway\",\"id\":\"bench00000000000\","
                           "\"version\":\"0.0.0\",\"status\":\"ok\","
                           "\"checks\":{\"nats\":{\"ok\":true}}}";

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
    if (argc < 2 || atoi(argv[1]) <= 0) {
        fprintf(stderr, "usage: %s PORT [THREADS]\n", argv[0]);
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
    mg_set_request_handler(ctx, "/", on_request, NULL);
    while (!stop) pause();
    mg_stop(ctx);
    mg_exit_library();
    return 0;
}
