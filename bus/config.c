/* Environment configuration. Malformed values are errors, never silently
 * replaced by defaults: a typo in a limit must not start a service that
 * behaves differently from what its operator asked. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const char *bus_env(const char *name, const char *dflt) {
    const char *v = getenv(name);
    return (v != NULL && *v != '\0') ? v : dflt;
}

tb_status bus_env_int(const char *name, int64_t dflt, int64_t min, int64_t max, int64_t *out,
                      tb_error *err) {
    const char *v = bus_env(name, NULL);
    if (v == NULL) {
        *out = dflt;
        return TB_OK;
    }
    errno = 0;
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < min || n > max)
        return tb_error_set(err, TB_INVALID, name, "%s=%s: expected an integer in [%lld, %lld]",
                            name, v, (long long)min, (long long)max);
    *out = n;
    return TB_OK;
}

tb_status bus_env_bool(const char *name, bool dflt, bool *out, tb_error *err) {
    const char *v = bus_env(name, NULL);
    if (v == NULL) {
        *out = dflt;
        return TB_OK;
    }
    if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
        !strcasecmp(v, "on")) {
        *out = true;
        return TB_OK;
    }
    if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
        !strcasecmp(v, "off")) {
        *out = false;
        return TB_OK;
    }
    return tb_error_set(err, TB_INVALID, name, "%s=%s: expected true or false", name, v);
}

/* Random instance id: 16 hex digits from the kernel's generator. */
static void random_instance(char *out, size_t cap) {
    unsigned char b[8] = {0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t r = read(fd, b, sizeof b);
        (void)r; /* a short read leaves zeros, still unique enough with the pid below */
        close(fd);
    }
    snprintf(out, cap, "%02x%02x%02x%02x%02x%02x%04x", b[0], b[1], b[2], b[3], b[4], b[5],
             (unsigned)getpid() & 0xffffu);
}

/* An unset server URL stays "": there is no default to fall back on. */
static tb_status copy_setting(char *dst, size_t cap, const char *name, tb_error *err) {
    const char *v = bus_env(name, "");
    if (strlen(v) >= cap) return tb_error_set(err, TB_TOO_LONG, name, "%s is too long", name);
    memcpy(dst, v, strlen(v) + 1);
    return TB_OK;
}

static tb_status missing(tb_error *err, const char *name, const char *example) {
    return tb_error_set(err, TB_MISSING_FIELD, name,
                        "%s is not set: give the server's URL with its credentials, e.g. %s "
                        "(eval \"$(scripts/env)\" prints it for the local servers)",
                        name, example);
}

tb_status bus_config_require(const bus_config *cfg, bool pg, bool redis, tb_error *err) {
    if (pg && cfg->database_url[0] == '\0')
        return missing(err, "DATABASE_URL", "postgresql://USER:PASSWORD@HOST:5432/DB");
    if (redis && cfg->redis_url[0] == '\0')
        return missing(err, "REDIS_URL", "redis://:PASSWORD@HOST:6379/0");
    return TB_OK;
}

tb_status bus_config_load(bus_config *cfg, const char *service, tb_error *err) {
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->service, sizeof cfg->service, "%s", service);
    tb_status s;
    if ((s = copy_setting(cfg->nats_url, sizeof cfg->nats_url, "NATS_URL", err)) != TB_OK ||
        (s = copy_setting(cfg->database_url, sizeof cfg->database_url, "DATABASE_URL", err)) !=
            TB_OK ||
        (s = copy_setting(cfg->redis_url, sizeof cfg->redis_url, "REDIS_URL", err)) != TB_OK)
        return s;
    if (cfg->nats_url[0] == '\0') return missing(err, "NATS_URL", "nats://USER:PASSWORD@HOST:4222");
    const char *inst = bus_env("INSTANCE_ID", NULL);
    if (inst != NULL) {
        /* The id becomes a subject token ($SRV.PING.<name>.<id>). */
        if (strlen(inst) >= sizeof cfg->instance || strpbrk(inst, " .*>\t\r\n") != NULL)
            return tb_error_set(err, TB_INVALID, "INSTANCE_ID",
                                "INSTANCE_ID must be a short subject token");
        snprintf(cfg->instance, sizeof cfg->instance, "%s", inst);
    } else {
        random_instance(cfg->instance, sizeof cfg->instance);
    }
    const char *lvl = bus_env("LOG_LEVEL", "info");
    cfg->log_level = bus_log_level_parse(lvl, (bus_log_level)-1);
    if ((int)cfg->log_level == -1)
        return tb_error_set(err, TB_INVALID, "LOG_LEVEL",
                            "LOG_LEVEL=%s: expected debug, info, warn, error or off", lvl);
    if ((s = bus_env_int("BUS_REQUEST_TIMEOUT_MS", 2000, 1, 600000, &cfg->request_timeout_ms,
                         err)) != TB_OK)
        return s;
    if ((s = bus_env_int("BUS_SHUTDOWN_TIMEOUT_MS", 30000, 100, 3600000, &cfg->shutdown_timeout_ms,
                         err)) != TB_OK)
        return s;
    /* Read again by each batched endpoint (batch.c); checked here so a bad
     * value stops the service at start instead of being ignored. */
    int64_t batch_max = 0, partitions = 0;
    if ((s = bus_env_int("BUS_BATCH_MAX", BUS_BATCH_MAX_DEFAULT, 1, BUS_BATCH_MAX_LIMIT, &batch_max,
                         err)) != TB_OK)
        return s;
    return bus_env_int("BUS_PARTITIONS", BUS_PARTITIONS_DEFAULT, 1, BUS_PARTITIONS_LIMIT,
                       &partitions, err);
}

void bus_config_usage(FILE *f) {
    fprintf(f, "Shared settings (environment):\n"
               "  NATS_URL                 NATS server, nats://USER:PASSWORD@HOST:PORT (required;\n"
               "                           eval \"$(scripts/env)\" sets the three URLs for the\n"
               "                           local servers)\n"
               "  DATABASE_URL             PostgreSQL, postgresql://USER:PASSWORD@HOST:PORT/DB\n"
               "                           (required by services that use PostgreSQL)\n"
               "  REDIS_URL                Redis, redis://[:PASSWORD@]HOST:PORT[/DB] (required by\n"
               "                           services that use Redis)\n"
               "  LOG_LEVEL                debug|info|warn|error|off (default info)\n"
               "  INSTANCE_ID              instance id in $SRV and logs (default random)\n"
               "  BUS_REQUEST_TIMEOUT_MS   default bus request timeout (default 2000)\n"
               "  BUS_SHUTDOWN_TIMEOUT_MS  longest graceful drain on SIGTERM (default 30000)\n"
               "  BUS_BATCH_MAX            most messages a batched endpoint takes at once\n"
               "                           (default 1024, at most 65536)\n"
               "  BUS_PARTITIONS           partitions a partitioned endpoint's keys are spread\n"
               "                           over between instances (default 64, at most 64)\n");
}

tb_status bus_redis_addr_parse(const char *url, bus_redis_addr *out, tb_error *err) {
    memset(out, 0, sizeof *out);
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0)
        return tb_error_set(err, TB_INVALID, "REDIS_URL", "REDIS_URL must start with redis://");
    p += 8;
    const char *at = strchr(p, '@');
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        size_t n = (size_t)(at - pw);
        if (n >= sizeof out->password)
            return tb_error_set(err, TB_INVALID, "REDIS_URL", "password too long");
        memcpy(out->password, pw, n);
        p = at + 1;
    }
    const char *colon = strchr(p, ':');
    const char *slash = strchr(p, '/');
    const char *host_end = colon ? colon : (slash ? slash : p + strlen(p));
    size_t hn = (size_t)(host_end - p);
    if (hn == 0 || hn >= sizeof out->host)
        return tb_error_set(err, TB_INVALID, "REDIS_URL", "bad host in REDIS_URL");
    memcpy(out->host, p, hn);
    out->port = 6379;
    if (colon != NULL) {
        char *end = NULL;
        long port = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || port <= 0 || port > 65535 || (*end != '\0' && *end != '/'))
            return tb_error_set(err, TB_INVALID, "REDIS_URL", "bad port in REDIS_URL");
        out->port = (int)port;
    }
    if (slash != NULL && slash[1] != '\0') {
        char *end = NULL;
        long db = strtol(slash + 1, &end, 10);
        if (*end != '\0' || db < 0 || db > 1000)
            return tb_error_set(err, TB_INVALID, "REDIS_URL", "bad database in REDIS_URL");
        out->db = (int)db;
    }
    return TB_OK;
}

void bus_url_redact(const char *url, char *out, size_t cap) {
    const char *scheme = strstr(url, "://");
    const char *at = strchr(url, '@');
    const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
    if (scheme == NULL || at == NULL || colon == NULL || colon > at) {
        snprintf(out, cap, "%s", url);
        return;
    }
    snprintf(out, cap, "%.*s:***%s", (int)(colon - url), url, at);
}
