/* The gateway's settings from the environment, and the service list of
 * DESIGN §1 that /health/all reports on. */
#include <string.h>

#include "gateway.h"
#include "keys.h"

const char *const gw_known_services[] = {
    "market-data",     "historical-data",   "signal-processing",
    "risk-management", "trading-execution", "position-management",
    "analytics",       "notifications",     "api-gateway",
};
const size_t gw_known_services_count = sizeof gw_known_services / sizeof gw_known_services[0];

#define DEFAULT_REQUIRED                                                                           \
    "market-data,historical-data,signal-processing,risk-management,trading-execution,"             \
    "position-management,analytics,notifications"

tb_status gw_settings_load(gw_settings *s, tb_error *err) {
    memset(s, 0, sizeof *s);
    const char *port = bus_env("GATEWAY_PORT", "8000");
    int64_t p = 0;
    tb_status st = bus_env_int("GATEWAY_PORT", 8000, 1, 65535, &p, err);
    if (st != TB_OK) return st;
    snprintf(s->port, sizeof s->port, "%s", port);
    const char *bind = bus_env("GATEWAY_BIND", "127.0.0.1");
    if (strlen(bind) >= sizeof s->bind || strpbrk(bind, ", ") != NULL)
        return tb_error_set(err, TB_INVALID, "GATEWAY_BIND", "GATEWAY_BIND: not an address");
    snprintf(s->bind, sizeof s->bind, "%s", bind);
    struct {
        const char *name;
        int64_t dflt, min, max;
        int64_t *out;
    } ints[] = {
        /* civetweb 1.15 starts every worker at once and each costs about
         * 20 KB of RSS while idle (three pages of stack, its connection
         * state and the first page of its request buffer): 256 keep the
         * gateway near 18 MB; 512 made it 23 MB. */
        {"GATEWAY_THREADS", 256, 2, 8192, &s->threads},
        {"GATEWAY_LISTEN_BACKLOG", 1024, 1, 65535, &s->listen_backlog},
        {"GATEWAY_MAX_BODY", 1024 * 1024, 1024, TB_MAX_MSG_BYTES, &s->max_body},
        {"GATEWAY_RATE_LIMIT", 50, 1, 1000000, &s->rate_limit},
        {"GATEWAY_BUS_TIMEOUT_MS", 5000, 10, 600000, &s->bus_timeout_ms},
        {"GATEWAY_AUTH_CACHE_MS", 2000, 0, 60000, &s->auth_cache_ms},
        {"GATEWAY_AUTH_FAIL_LIMIT", 20, 1, 1000000, &s->auth_fail_limit},
        {"GATEWAY_DISCOVERY_MS", 300, 20, 10000, &s->discovery_ms},
        {"GATEWAY_REQUEST_TIMEOUT_MS", 10000, 100, 600000, &s->request_timeout_ms},
        {"GATEWAY_KEEP_ALIVE_MS", 5000, 0, 600000, &s->keep_alive_ms},
        {"GATEWAY_HEALTH_CACHE_MS", 1000, 0, 600000, &s->health_cache_ms},
        {"GATEWAY_QUOTE_CACHE", 1024, 0, 100000, &s->quote_cache},
        {"GATEWAY_QUOTE_VERIFY_MS", 1000, 1, 600000, &s->quote_verify_ms},
        {"GATEWAY_QUOTE_IDLE_MS", 60000, 100, 86400000, &s->quote_idle_ms},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        st = bus_env_int(ints[i].name, ints[i].dflt, ints[i].min, ints[i].max, ints[i].out, err);
        if (st != TB_OK) return st;
    }
    /* Each stream connection holds a civetweb thread for its lifetime:
     * by default half of them stay for the REST API. */
    struct {
        const char *name;
        int64_t dflt, min, max;
        int64_t *out;
    } stream[] = {
        {"GATEWAY_STREAM_MAX", s->threads / 2, 1, s->threads - 1, &s->stream_max},
        {"GATEWAY_STREAM_MAX_PER_KEY", 5, 1, 100000, &s->stream_max_per_key},
        {"GATEWAY_STREAM_QUEUE", 1000, 10, 1000000, &s->stream_queue},
        {"GATEWAY_STREAM_MAX_SUBS", 100, 1, 10000, &s->stream_max_subs},
        {"GATEWAY_STREAM_CLOSE_MS", 5000, 10, 600000, &s->stream_close_ms},
        /* One address may not hold every thread: a quarter by default. */
        {"GATEWAY_MAX_CONN_PER_ADDR", s->threads / 4 > 0 ? s->threads / 4 : 1, 1, s->threads,
         &s->max_per_addr},
        /* A tenth of the limit per Redis round trip: at most ten a second
         * per key and instance, and little left unused at a window's end. */
        {"GATEWAY_RATE_BATCH", (s->rate_limit + 9) / 10, 1, s->rate_limit, &s->rate_batch},
    };
    for (size_t i = 0; i < sizeof stream / sizeof stream[0]; i++) {
        st = bus_env_int(stream[i].name, stream[i].dflt, stream[i].min, stream[i].max,
                         stream[i].out, err);
        if (st != TB_OK) return st;
    }
    const char *req = bus_env("GATEWAY_REQUIRED_SERVICES", DEFAULT_REQUIRED);
    if (strlen(req) >= sizeof s->required || !gw_account_list_valid(req))
        return tb_error_set(err, TB_INVALID, "GATEWAY_REQUIRED_SERVICES",
                            "GATEWAY_REQUIRED_SERVICES: expected comma-separated service names");
    snprintf(s->required, sizeof s->required, "%s", strcmp(req, "none") == 0 ? "" : req);
    return TB_OK;
}

void gw_settings_usage(FILE *f) {
    fprintf(
        f,
        "  GATEWAY_PORT                HTTP port (default 8000)\n"
        "  GATEWAY_BIND                listening address (default 127.0.0.1; 0.0.0.0 for all)\n"
        "  GATEWAY_THREADS             civetweb worker threads = open connections served at "
        "once,\n"
        "                              idle keep-alive ones included (default 256)\n"
        "  GATEWAY_MAX_CONN_PER_ADDR   open connections per client address; more get a 429 "
        "and\n"
        "                              are closed at once (default GATEWAY_THREADS / 4)\n"
        "  GATEWAY_LISTEN_BACKLOG      listen() backlog: connections waiting for accept "
        "(default 1024)\n"
        "  GATEWAY_MAX_BODY            largest request body in bytes (default 1048576)\n"
        "  GATEWAY_RATE_LIMIT          requests per second per API key (default 50)\n"
        "  GATEWAY_RATE_BATCH          most rate-limit tokens an instance leases from Redis at "
        "once;\n"
        "                              leases start at 1 and double (default GATEWAY_RATE_LIMIT / "
        "10,\n"
        "                              rounded up)\n"
        "  GATEWAY_BUS_TIMEOUT_MS      bus request timeout before 504 (default 5000)\n"
        "  GATEWAY_AUTH_CACHE_MS       how long a key lookup is cached; bounds revocation "
        "delay (default 2000)\n"
        "  GATEWAY_AUTH_FAIL_LIMIT     failed key lookups per second per client address "
        "(default 20)\n"
        "  GATEWAY_DISCOVERY_MS        how long $SRV.PING replies are collected (default 300)\n"
        "  GATEWAY_REQUEST_TIMEOUT_MS  deadline for a new connection's first request headers, "
        "and for\n"
        "                              each body read and response write (default 10000)\n"
        "  GATEWAY_KEEP_ALIVE_MS       deadline for the next request's headers on a keep-alive "
        "connection\n"
        "                              (default 5000; 0 closes after each response)\n"
        "  GATEWAY_HEALTH_CACHE_MS     how long a /health/all answer is reused (default 1000)\n"
        "  GATEWAY_QUOTE_CACHE         symbols whose quotes the gateway keeps from their ticks "
        "after\n"
        "                              market-data answered for them (default 1024; 0: every "
        "quote\n"
        "                              is asked of market-data)\n"
        "  GATEWAY_QUOTE_VERIFY_MS     how long a cached quote is answered before market-data "
        "confirms\n"
        "                              it again (default 1000)\n"
        "  GATEWAY_QUOTE_IDLE_MS       a symbol not asked for this long is no longer followed "
        "(default\n"
        "                              60000)\n"
        "  GATEWAY_REQUIRED_SERVICES   services /health/all requires (default: the eight "
        "services; 'none')\n"
        "  GATEWAY_STREAM_MAX          /v1/stream connections per gateway, each holding a "
        "thread\n"
        "                              (default GATEWAY_THREADS / 2, below GATEWAY_THREADS)\n"
        "  GATEWAY_STREAM_MAX_PER_KEY  /v1/stream connections per API key and gateway "
        "(default 5)\n"
        "  GATEWAY_STREAM_QUEUE        frames queued per stream connection; a client past "
        "it is\n"
        "                              disconnected as a slow consumer (default 1000)\n"
        "  GATEWAY_STREAM_MAX_SUBS     subscriptions per stream connection (default 100)\n"
        "  GATEWAY_STREAM_CLOSE_MS     how long a client the gateway closes may take to go "
        "before\n"
        "                              its socket is shut down (default 5000)\n"
        "  GATEWAY_WEB_DIR             the web UI's files, served at / (default: "
        "../share/tradebus/web,\n"
        "                              then ../../web, next to tb-gateway; 'none': no UI)\n"
        "\nCommands:\n"
        "  tb-gateway --create-admin-key [--name NAME]\n"
        "                              creates an admin API key in PostgreSQL (DATABASE_URL)\n"
        "                              and prints it once on stdout\n");
}
