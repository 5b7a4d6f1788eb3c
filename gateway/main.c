/* tb-gateway: the only HTTP surface of tradebus (DESIGN §5, §6, §10).
 *
 * Consumes HTTP on GATEWAY_PORT; produces api.* bus requests to the services
 * that own the data, svc.*.health / svc.*.metrics / $SRV.* requests for
 * health, discovery and metrics. Reads and writes api_keys in PostgreSQL and
 * rate-limit windows in Redis. It is a bus actor itself ("api-gateway"), so it
 * answers $SRV.PING/INFO/STATS, svc.api-gateway.health and .metrics like
 * every service; it has no bus endpoints of its own.
 *
 *   tb-gateway                      serve until SIGTERM/SIGINT
 *   tb-gateway --create-admin-key [--name NAME]
 *                                   create an admin key, print it once, exit
 */
#include <nats/nats.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway.h"
#include "keys.h"
#include "openapi.h"
#include "quotes.h"
#include "timer.h"

static gw gateway;

static void release(gw *g) {
    gw_auth_cache_destroy(g->auth);
    g->auth = NULL;
    bus_quotes_destroy(g->quotes); /* timers have stopped; the connection is still open */
    g->quotes = NULL;
    free(g->openapi);
    g->openapi = NULL;
    free(g->docs);
    g->docs = NULL;
    gw_ui_free(g);
}

static void sweep_quotes(bus_actor *a, void *arg) {
    (void)a;
    bus_quotes_sweep(arg);
}

static tb_status on_start(bus_actor *a, tb_error *err) {
    gw *g = &gateway;
    g->actor = a;
    tb_status s = gw_settings_load(&g->set, err);
    if (s != TB_OK) return s;
    json_t *doc = gw_openapi(TB_VERSION);
    g->openapi = doc ? json_dumps(doc, JSON_INDENT(1)) : NULL;
    json_decref(doc);
    g->docs = gw_docs_html(TB_VERSION);
    g->auth = gw_auth_cache_create(g->set.auth_cache_ms);
    g->quotes = bus_quotes_create(bus_actor_conn(a), bus_actor_metrics(a), "tb_gateway",
                                  g->set.quote_cache, g->set.quote_verify_ms, g->set.quote_idle_ms);
    if (g->openapi == NULL || g->docs == NULL || g->auth == NULL || g->quotes == NULL) {
        release(g);
        return tb_error_set(err, TB_NOMEM, NULL, "out of memory preparing the gateway");
    }
    g->openapi_len = strlen(g->openapi);
    g->docs_len = strlen(g->docs);
    s = gw_ui_load(g, err);
    if (s != TB_OK) {
        release(g);
        return s;
    }
    bus_actor_set_user(a, g);
    s = gw_http_start(g, err);
    if (s != TB_OK) {
        release(g);
        return s;
    }
    /* Added last: nothing after it can fail, so release never frees the
     * cache under a running sweep (timers stop before on_stop). */
    int64_t sweep_ms = g->set.quote_idle_ms / 2 < 10000 ? g->set.quote_idle_ms / 2 : 10000;
    s = bus_actor_add_timer(a, "quote-cache-sweep", sweep_ms, sweep_quotes, g->quotes, NULL, err);
    if (s != TB_OK) {
        gw_http_stop(g);
        release(g);
    }
    return s;
}

/* HTTP stops first, so requests in flight finish while the bus connection
 * is still up; the actor runtime drains the bus afterwards. */
static void on_run(bus_actor *a) {
    const struct timespec tick = {.tv_sec = 0, .tv_nsec = 50 * 1000000};
    while (!bus_actor_stopping(a)) nanosleep(&tick, NULL);
    gw_http_stop(&gateway);
}

static void on_stop(bus_actor *a) {
    (void)a;
    gw_http_stop(&gateway);
    release(&gateway);
}

static const bus_actor_def def = {
    .name = "api-gateway",
    .version = TB_VERSION,
    .description = "REST API, authentication, rate limits, health, discovery and metrics",
    .endpoints = NULL,
    .nendpoints = 0,
    .needs = BUS_NEEDS_PG | BUS_NEEDS_REDIS,
    .start = on_start,
    .run = on_run,
    .stop = on_stop,
    .usage = gw_settings_usage,
};

/* Creates the first admin key (scripts/up calls this). The key goes to
 * stdout alone on one line; everything else to stderr. */
static int create_admin_key(const char *name) {
    bus_config cfg;
    tb_error err = {0};
    if (bus_config_load(&cfg, def.name, &err) != TB_OK ||
        bus_config_require(&cfg, true, false, &err) != TB_OK) {
        fprintf(stderr, "tb-gateway: bad configuration: %s\n", err.message);
        return 2;
    }
    bus_log_init(def.name, cfg.instance, cfg.log_level);
    bus_pg_pool *pool = NULL;
    if (bus_pg_pool_create(cfg.database_url, &pool, &err) != TB_OK) {
        fprintf(stderr, "tb-gateway: %s\n", err.message);
        return 1;
    }
    PGconn *c = bus_pg_acquire(pool, &err);
    tb_api_key k;
    tb_status s = c ? gw_keystore_create(c, GW_ROLE_ADMIN, "", name, &k, &err) : TB_UNAVAILABLE;
    if (c) bus_pg_release(pool, c);
    bus_pg_pool_destroy(pool);
    if (s != TB_OK) {
        fprintf(stderr, "tb-gateway: cannot create the key: %s\n", err.message);
        return 1;
    }
    printf("%s\n", k.key);
    fflush(stdout);
    fprintf(stderr, "tb-gateway: created admin key %s (\"%s\"); it is shown only this once\n", k.id,
            name);
    memset(k.key, 0, sizeof k.key);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "--create-admin-key") == 0) {
        const char *name = "admin";
        if (argc == 4 && strcmp(argv[2], "--name") == 0)
            name = argv[3];
        else if (argc != 2) {
            fprintf(stderr, "usage: tb-gateway --create-admin-key [--name NAME]\n");
            return 2;
        }
        if (strlen(name) >= TB_TEXT_CAP) {
            fprintf(stderr, "tb-gateway: --name is too long\n");
            return 2;
        }
        return create_admin_key(name);
    }
    /* Hundreds of worker threads share one NATS connection. nats.c spins
     * on a busy lock (trylock in a loop) before it sleeps; with more
     * threads than cores the spinners take the CPU the lock's holder needs
     * (perf: natsMutex_Lock was the gateway's top symbol on the bus
     * routes). Before the first connection, or it has no effect. */
    nats_Open(0);
    return bus_actor_main(&def, argc, argv);
}
