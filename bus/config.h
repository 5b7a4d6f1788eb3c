/* Configuration from environment variables (DESIGN §7).
 *
 * Shared settings: NATS_URL, DATABASE_URL, REDIS_URL, LOG_LEVEL, INSTANCE_ID,
 * BUS_REQUEST_TIMEOUT_MS, BUS_SHUTDOWN_TIMEOUT_MS. Per-service settings are
 * read by the service with bus_env_* and listed in its README and --help.
 *
 * The three server URLs have no default: they carry passwords, and a
 * binary with a built-in password would start against whatever server
 * answers it with a development secret. A process that needs one and
 * finds it unset says so and stops (scripts/env prints them for the local
 * servers). */
#ifndef BUS_CONFIG_H
#define BUS_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "status.h"

/* Messages a batched endpoint takes at once (BUS_BATCH_MAX): default, ceiling. */
#define BUS_BATCH_MAX_DEFAULT 1024
#define BUS_BATCH_MAX_LIMIT   65536

/* Partitions of a partitioned endpoint's keys (BUS_PARTITIONS): default,
 * ceiling (ownership is a 64-bit mask). */
#define BUS_PARTITIONS_DEFAULT 64
#define BUS_PARTITIONS_LIMIT   64

typedef struct bus_config {
    char service[64];
    char instance[64]; /* unique per process: INSTANCE_ID or random */
    char nats_url[512];
    char database_url[512];
    char redis_url[512];
    bus_log_level log_level;
    int64_t request_timeout_ms;  /* default timeout of bus_request */
    int64_t shutdown_timeout_ms; /* how long a drain may take */
} bus_config;

/* Fills cfg from the environment. TB_INVALID (with a message in err) when a
 * variable is set but malformed, TB_MISSING_FIELD (err->field "NATS_URL")
 * when NATS_URL is unset: everything that loads a configuration talks to
 * NATS. DATABASE_URL and REDIS_URL are left empty when unset; whoever
 * needs them checks with bus_config_require. */
tb_status bus_config_load(bus_config *cfg, const char *service, tb_error *err) TB_WARN_UNUSED;

/* TB_MISSING_FIELD naming DATABASE_URL (when pg) or REDIS_URL (when redis)
 * if that URL is unset in cfg; TB_OK otherwise. */
tb_status bus_config_require(const bus_config *cfg, bool pg, bool redis,
                             tb_error *err) TB_WARN_UNUSED;

/* The value of name, or dflt when unset or empty. */
const char *bus_env(const char *name, const char *dflt);
/* Integer setting within [min, max]; TB_INVALID when set but not such an
 * integer. *out = dflt when unset. */
tb_status bus_env_int(const char *name, int64_t dflt, int64_t min, int64_t max, int64_t *out,
                      tb_error *err) TB_WARN_UNUSED;
tb_status bus_env_bool(const char *name, bool dflt, bool *out, tb_error *err) TB_WARN_UNUSED;

/* Writes the shared settings' help text (for --help). */
void bus_config_usage(FILE *f);

/* Parses "redis://[:password@]host:port[/db]" into parts. */
typedef struct bus_redis_addr {
    char host[256];
    int port;
    int db;
    char password[256];
} bus_redis_addr;
tb_status bus_redis_addr_parse(const char *url, bus_redis_addr *out, tb_error *err) TB_WARN_UNUSED;

/* Copies url with any password replaced by "***", for logs. */
void bus_url_redact(const char *url, char *out, size_t cap);

#endif
