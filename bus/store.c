/* Connection pools for PostgreSQL and Redis; see store.h for why.
 *
 * Both pools share one shape: a mutex-protected stack of idle connections and
 * a backoff deadline for new connections after a failed attempt. */
#include "store.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "pgstmt.h"

#define POOL_IDLE_MAX  16
#define BACKOFF_MIN_NS INT64_C(100000000)
#define BACKOFF_MAX_NS INT64_C(5000000000)

int64_t bus_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Shared pool bookkeeping. */
typedef struct pool {
    pthread_mutex_t lock;
    void *idle[POOL_IDLE_MAX];
    int nidle;
    int64_t retry_at; /* monotonic ns before which no new connection is tried */
    int64_t backoff_ns;
    void (*close)(void *);
    int (*fd)(void *); /* the connection's socket, -1 when it has none */
} pool;

static void pool_init(pool *p, void (*close_fn)(void *), int (*fd_fn)(void *)) {
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    p->close = close_fn;
    p->fd = fd_fn;
}

/* An idle connection has nothing to read: neither protocol sends anything
 * unasked to a client that is between commands, except the goodbye of a
 * server that shuts down (PostgreSQL's "terminating connection due to
 * administrator command", then EOF) or the EOF of one that died. A readable
 * or closed socket therefore means the server went away (restarted, killed),
 * and the connection is dropped before a handler's statement fails on it:
 * after a restart every idle connection of the pool is dead at once. One
 * poll() without waiting, no round trip. */
static bool idle_conn_alive(pool *p, void *c) {
    int fd = p->fd(c);
    if (fd < 0) return false;
    struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLRDHUP};
    int n = poll(&pfd, 1, 0);
    return n == 0 || (n < 0 && errno == EINTR);
}

static void pool_fini(pool *p) {
    for (int i = 0; i < p->nidle; i++) p->close(p->idle[i]);
    p->nidle = 0;
    pthread_mutex_destroy(&p->lock);
}

/* Pops a live idle connection (dropping the dead ones met on the way), or
 * says whether a new one may be tried now. */
static void *pool_take(pool *p, bool *may_connect) {
    for (;;) {
        pthread_mutex_lock(&p->lock);
        void *c = p->nidle > 0 ? p->idle[--p->nidle] : NULL;
        *may_connect = c == NULL && bus_mono_ns() >= p->retry_at;
        pthread_mutex_unlock(&p->lock);
        if (c == NULL || idle_conn_alive(p, c)) return c;
        p->close(c);
    }
}

static void pool_connected(pool *p, bool ok) {
    pthread_mutex_lock(&p->lock);
    if (ok) {
        p->backoff_ns = 0;
        p->retry_at = 0;
    } else {
        p->backoff_ns = p->backoff_ns ? p->backoff_ns * 2 : BACKOFF_MIN_NS;
        if (p->backoff_ns > BACKOFF_MAX_NS) p->backoff_ns = BACKOFF_MAX_NS;
        p->retry_at = bus_mono_ns() + p->backoff_ns;
    }
    pthread_mutex_unlock(&p->lock);
}

static void pool_put(pool *p, void *c, bool healthy) {
    pthread_mutex_lock(&p->lock);
    if (healthy && p->nidle < POOL_IDLE_MAX) {
        p->idle[p->nidle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    if (c) p->close(c);
}

/* ---- PostgreSQL ---- */

struct bus_pg_pool {
    pool base;
    char *url;
};

static void pg_close(void *c) {
    PQfinish(c);
}

static int pg_fd(void *c) {
    return PQstatus(c) == CONNECTION_OK ? PQsocket(c) : -1;
}

static PGconn *pg_connect(bus_pg_pool *p, tb_error *err) {
    /* Sessions carry the service's name (pg_stat_activity, the server's
     * log, a profile of the backends) unless the URL or PGAPPNAME names
     * them otherwise. */
    const char *const keys[] = {"fallback_application_name", "dbname", NULL};
    const char *const vals[] = {bus_log_service(), p->url, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        char url[512];
        bus_url_redact(p->url, url, sizeof url);
        const char *msg = c ? PQerrorMessage(c) : "out of memory";
        tb_error_set(err, TB_UNAVAILABLE, "DATABASE_URL",
                     "cannot connect to PostgreSQL at %s: %.*s", url, (int)strcspn(msg, "\n"), msg);
        PQfinish(c);
        pool_connected(&p->base, false);
        return NULL;
    }
    pool_connected(&p->base, true);
    if (!bus_pgstmt_attach(c)) {
        bus_log(BUS_LOG_WARN, "no statement cache for a PostgreSQL connection (out of memory)");
        return c;
    }
    /* A cached statement runs its generic plan, made when it is prepared
     * (and prepared again as its tables grow, pgstmt.c). Left to itself,
     * PostgreSQL plans a statement anew on every run when its generic plan
     * looks dearer than the custom ones, which it does for most statements
     * over unnest($n::type[]): their arrays' sizes are unknown until run.
     * Planning was then a fifth of the order path's statement time, four
     * times the execution of trading-execution's order load. */
    PGresult *r = PQexec(c, "SET plan_cache_mode = force_generic_plan");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        bus_log(BUS_LOG_WARN, "plan_cache_mode not set: %.*s",
                (int)strcspn(PQerrorMessage(c), "\n"), PQerrorMessage(c));
    PQclear(r);
    return c;
}

tb_status bus_pg_pool_create(const char *url, bus_pg_pool **out, tb_error *err) {
    bus_pg_pool *p = calloc(1, sizeof *p);
    if (p == NULL || (p->url = strdup(url)) == NULL) {
        free(p);
        return tb_error_set(err, TB_NOMEM, NULL, NULL);
    }
    pool_init(&p->base, pg_close, pg_fd);
    PGconn *c = pg_connect(p, err);
    if (c == NULL) {
        bus_pg_pool_destroy(p);
        return TB_UNAVAILABLE;
    }
    pool_put(&p->base, c, true);
    *out = p;
    return TB_OK;
}

void bus_pg_pool_destroy(bus_pg_pool *p) {
    if (p == NULL) return;
    pool_fini(&p->base);
    free(p->url);
    free(p);
}

PGconn *bus_pg_acquire(bus_pg_pool *p, tb_error *err) {
    bool may_connect = false;
    PGconn *c = pool_take(&p->base, &may_connect);
    if (c != NULL) return c;
    if (!may_connect) {
        tb_error_set(err, TB_UNAVAILABLE, NULL, "PostgreSQL unavailable (backing off)");
        return NULL;
    }
    return pg_connect(p, err);
}

void bus_pg_release(bus_pg_pool *p, PGconn *c) {
    if (c == NULL) return;
    /* A connection left inside a transaction (a handler bailed out) must not
     * leak its half-done work into the next borrower. */
    tb_error ignored = {0};
    if (PQpipelineStatus(c) != PQ_PIPELINE_OFF && bus_pg_pipeline_end(c, &ignored) != TB_OK) {
        /* what was owed failed: the transaction check below settles it */
    }
    PGTransactionStatusType ts = PQtransactionStatus(c);
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) PQclear(PQexec(c, "ROLLBACK"));
    bool ok = PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE &&
              PQpipelineStatus(c) == PQ_PIPELINE_OFF;
    pool_put(&p->base, c, ok);
}

tb_status bus_pg_result_status(PGconn *c, const PGresult *res, tb_error *err) {
    ExecStatusType es = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) return TB_OK;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(c);
    tb_status s = TB_ERR;
    /* No result at all: the statement could not be sent or its answer not
     * read (a server shutting down sends its FATAL before libpq marks the
     * connection bad), so it is the connection, not the statement. */
    if (res == NULL || PQstatus(c) != CONNECTION_OK)
        s = TB_UNAVAILABLE;
    else if (state && strcmp(state, "23505") == 0)
        s = TB_CONFLICT;
    else if (state && (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0))
        s = TB_INVALID;
    else if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0))
        s = TB_UNAVAILABLE;
    else if (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0 ||
                       strncmp(state, "53", 2) == 0))
        /* connection exceptions, the server shutting down or starting up
         * (57P01..57P03), out of connections or memory: it comes back */
        s = TB_UNAVAILABLE;
    return tb_error_set(err, s, NULL, "%.*s", (int)strcspn(msg ? msg : "", "\n"), msg ? msg : "");
}

/* Reads the results a pipeline owes: the first failure, else *res_out (may
 * be NULL) gets the last statement's result. */
static tb_status pipeline_sync(PGconn *c, PGresult **res_out, tb_error *err) {
    PGresult *last = NULL, *failed = NULL;
    bool ok = bus_pgstmt_sync(c, &last, &failed);
    tb_status s = TB_OK;
    if (failed != NULL)
        s = bus_pg_result_status(c, failed, err);
    else if (!ok)
        s = bus_pg_result_status(c, NULL, err);
    PQclear(failed);
    if (s == TB_OK && res_out) {
        *res_out = last;
        if (last == NULL) s = tb_error_set(err, TB_ERR, NULL, "pipeline: no result");
    } else {
        PQclear(last);
    }
    return s;
}

tb_status bus_pg_pipeline_begin(PGconn *c, tb_error *err) {
    if (PQpipelineStatus(c) != PQ_PIPELINE_OFF) return TB_OK;
    if (!bus_pgstmt_pipeline_ready(c)) return TB_OK; /* runs statement by statement */
    if (PQenterPipelineMode(c) != 1)
        return tb_error_set(err, TB_UNAVAILABLE, NULL, "cannot pipeline: %.*s",
                            (int)strcspn(PQerrorMessage(c), "\n"), PQerrorMessage(c));
    return TB_OK;
}

tb_status bus_pg_pipeline_end(PGconn *c, tb_error *err) {
    if (PQpipelineStatus(c) == PQ_PIPELINE_OFF) return TB_OK;
    tb_status s = bus_pgstmt_pending(c) > 0 ? pipeline_sync(c, NULL, err) : TB_OK;
    if (PQexitPipelineMode(c) != 1 && s == TB_OK)
        s = tb_error_set(err, TB_UNAVAILABLE, NULL, "cannot leave pipeline mode: %.*s",
                         (int)strcspn(PQerrorMessage(c), "\n"), PQerrorMessage(c));
    return s;
}

tb_status bus_pg_pipeline_sync(PGconn *c, tb_error *err) {
    if (PQpipelineStatus(c) == PQ_PIPELINE_OFF || bus_pgstmt_pending(c) == 0) return TB_OK;
    return pipeline_sync(c, NULL, err);
}

tb_status bus_pg_await(PGconn *c, PGresult *const *res, tb_error *err) {
    if (*res != NULL || PQpipelineStatus(c) == PQ_PIPELINE_OFF) return TB_OK;
    return bus_pg_pipeline_sync(c, err);
}

tb_status bus_pg_send(PGconn *c, const char *sql, int nparams, const char *const *params,
                      PGresult **res_out, tb_error *err) {
    *res_out = NULL;
    if (PQpipelineStatus(c) == PQ_PIPELINE_OFF)
        return bus_pg_exec(c, sql, nparams, params, res_out, err);
    if (bus_pgstmt_send(c, sql, nparams, params, res_out)) return TB_OK;
    tb_status s = bus_pg_result_status(c, NULL, err);
    tb_error ignored = {0};
    if (bus_pgstmt_pending(c) > 0) (void)pipeline_sync(c, NULL, &ignored);
    return s;
}

tb_status bus_pg_exec(PGconn *c, const char *sql, int nparams, const char *const *params,
                      PGresult **res_out, tb_error *err) {
    if (PQpipelineStatus(c) != PQ_PIPELINE_OFF) {
        if (!bus_pgstmt_send(c, sql, nparams, params, NULL)) {
            tb_status s = bus_pg_result_status(c, NULL, err);
            tb_error ignored = {0};
            if (bus_pgstmt_pending(c) > 0) (void)pipeline_sync(c, NULL, &ignored);
            return s;
        }
        return res_out ? pipeline_sync(c, res_out, err) : TB_OK;
    }
    PGresult *r = bus_pgstmt_exec(c, sql, nparams, params);
    tb_status s = bus_pg_result_status(c, r, err);
    if (s == TB_OK && res_out) {
        *res_out = r;
        return s;
    }
    PQclear(r);
    return s;
}

tb_status bus_pg_col_fixed(const PGresult *r, int row, int col, tb_fixed *out, tb_error *err) {
    if (PQgetisnull(r, row, col)) {
        *out = 0;
        return TB_OK;
    }
    const char *v = PQgetvalue(r, row, col);
    if (tb_fixed_parse_cstr(v, out) != TB_OK)
        return tb_error_set(err, TB_ERR, PQfname(r, col),
                            "stored %s \"%.40s\" is not a fixed-point value", PQfname(r, col), v);
    return TB_OK;
}

tb_status bus_pg_col_i64(const PGresult *r, int row, int col, int64_t *out, tb_error *err) {
    if (PQgetisnull(r, row, col)) {
        *out = 0;
        return TB_OK;
    }
    const char *v = PQgetvalue(r, row, col);
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (end == v || *end != '\0' || errno != 0)
        return tb_error_set(err, TB_ERR, PQfname(r, col), "stored %s \"%.40s\" is not an integer",
                            PQfname(r, col), v);
    *out = n;
    return TB_OK;
}

void bus_pg_col_str(const PGresult *r, int row, int col, char *dst, size_t cap) {
    if (cap == 0) return;
    const char *v = PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
    size_t n = strlen(v);
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

int64_t bus_pg_ping_ns(bus_pg_pool *p, tb_error *err) {
    int64_t t0 = bus_mono_ns();
    PGconn *c = bus_pg_acquire(p, err);
    if (c == NULL) return -1;
    tb_status s = bus_pg_exec(c, "SELECT 1", 0, NULL, NULL, err);
    bus_pg_release(p, c);
    return s == TB_OK ? bus_mono_ns() - t0 : -1;
}

/* ---- Redis ---- */

struct bus_redis_pool {
    pool base;
    bus_redis_addr addr;
};

static void redis_close(void *c) {
    redisFree(c);
}

static int redis_fd(void *c) {
    const redisContext *r = c;
    return r->err == 0 ? (int)r->fd : -1;
}

static redisContext *redis_connect(bus_redis_pool *p, tb_error *err) {
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(p->addr.host, p->addr.port, tv);
    tb_status s = TB_OK;
    if (c == NULL || c->err) {
        s = tb_error_set(err, TB_UNAVAILABLE, "REDIS_URL", "cannot connect to Redis at %s:%d: %s",
                         p->addr.host, p->addr.port, c ? c->errstr : "out of memory");
    } else {
        (void)redisSetTimeout(c, tv); /* commands never block a handler forever */
        if (p->addr.password[0]) s = bus_redis_cmd(c, NULL, err, "AUTH %s", p->addr.password);
        if (s == TB_OK && p->addr.db != 0) s = bus_redis_cmd(c, NULL, err, "SELECT %d", p->addr.db);
    }
    if (s != TB_OK) {
        if (c) redisFree(c);
        pool_connected(&p->base, false);
        return NULL;
    }
    pool_connected(&p->base, true);
    return c;
}

tb_status bus_redis_pool_create(const char *url, bus_redis_pool **out, tb_error *err) {
    bus_redis_pool *p = calloc(1, sizeof *p);
    if (p == NULL) return tb_error_set(err, TB_NOMEM, NULL, NULL);
    tb_status s = bus_redis_addr_parse(url, &p->addr, err);
    if (s != TB_OK) {
        free(p);
        return s;
    }
    pool_init(&p->base, redis_close, redis_fd);
    redisContext *c = redis_connect(p, err);
    if (c == NULL) {
        bus_redis_pool_destroy(p);
        return TB_UNAVAILABLE;
    }
    pool_put(&p->base, c, true);
    *out = p;
    return TB_OK;
}

void bus_redis_pool_destroy(bus_redis_pool *p) {
    if (p == NULL) return;
    pool_fini(&p->base);
    free(p);
}

redisContext *bus_redis_acquire(bus_redis_pool *p, tb_error *err) {
    bool may_connect = false;
    redisContext *c = pool_take(&p->base, &may_connect);
    if (c != NULL) return c;
    if (!may_connect) {
        tb_error_set(err, TB_UNAVAILABLE, NULL, "Redis unavailable (backing off)");
        return NULL;
    }
    return redis_connect(p, err);
}

void bus_redis_release(bus_redis_pool *p, redisContext *c) {
    if (c == NULL) return;
    pool_put(&p->base, c, c->err == 0);
}

tb_status bus_redis_error_status(const redisReply *r, tb_error *err) {
    /* Errors of a server that is not ready yet or busy: a restarted Redis
     * answers LOADING until its append-only file is read back. */
    static const char *const transient[] = {"LOADING",  "BUSY",        "MASTERDOWN",
                                            "TRYAGAIN", "CLUSTERDOWN", "READONLY"};
    tb_status s = TB_ERR;
    for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++) {
        size_t n = strlen(transient[i]);
        if (r->len >= n && strncmp(r->str, transient[i], n) == 0) s = TB_UNAVAILABLE;
    }
    return tb_error_set(err, s, NULL, "Redis: %.*s", (int)r->len, r->str);
}

static tb_status redis_reply_status(redisContext *c, redisReply *r, redisReply **reply_out,
                                    tb_error *err) {
    if (r == NULL) {
        return tb_error_set(err, TB_UNAVAILABLE, NULL, "Redis: %s",
                            c->errstr[0] ? c->errstr : "connection lost");
    }
    if (r->type == REDIS_REPLY_ERROR) {
        tb_status s = bus_redis_error_status(r, err);
        freeReplyObject(r);
        return s;
    }
    if (reply_out)
        *reply_out = r;
    else
        freeReplyObject(r);
    return TB_OK;
}

tb_status bus_redis_cmd(redisContext *c, redisReply **reply_out, tb_error *err, const char *fmt,
                        ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    return redis_reply_status(c, r, reply_out, err);
}

tb_status bus_redis_cmd_argv(redisContext *c, int argc, const char **argv, const size_t *lens,
                             redisReply **reply_out, tb_error *err) {
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    return redis_reply_status(c, r, reply_out, err);
}

tb_status bus_redis_pipeline(redisContext *c, const bus_redis_argv *cmds, size_t n,
                             redisReply **reps, tb_error *err) {
    for (size_t i = 0; i < n; i++) reps[i] = NULL;
    for (size_t i = 0; i < n; i++)
        if (redisAppendCommandArgv(c, cmds[i].argc, cmds[i].argv, cmds[i].lens) != REDIS_OK)
            return tb_error_set(err, TB_UNAVAILABLE, NULL, "redis: %s", c->errstr);
    for (size_t i = 0; i < n; i++) {
        void *rep = NULL;
        if (redisGetReply(c, &rep) != REDIS_OK) {
            for (size_t j = 0; j < i; j++) {
                freeReplyObject(reps[j]);
                reps[j] = NULL;
            }
            return tb_error_set(err, TB_UNAVAILABLE, NULL, "redis: %s", c->errstr);
        }
        reps[i] = rep;
    }
    return TB_OK;
}

tb_status bus_redis_cmds_init(bus_redis_cmds *c, size_t n, int argc, tb_error *err) {
    memset(c, 0, sizeof *c);
    c->cmd = calloc(n + 1, sizeof *c->cmd);
    c->argv = calloc((n + 1) * (size_t)argc, sizeof *c->argv);
    c->lens = calloc((n + 1) * (size_t)argc, sizeof *c->lens);
    c->argc = argc;
    c->n = n;
    if (c->cmd == NULL || c->argv == NULL || c->lens == NULL) {
        bus_redis_cmds_free(c);
        return tb_error_set(err, TB_NOMEM, NULL, "out of memory for %zu Redis commands", n);
    }
    for (size_t i = 0; i < n; i++)
        c->cmd[i] = (bus_redis_argv){
            .argc = argc, .argv = &c->argv[i * (size_t)argc], .lens = &c->lens[i * (size_t)argc]};
    return TB_OK;
}

void bus_redis_cmds_set(bus_redis_cmds *c, size_t i, const char *const *args) {
    for (int k = 0; k < c->argc; k++) {
        c->argv[i * (size_t)c->argc + (size_t)k] = args[k];
        c->lens[i * (size_t)c->argc + (size_t)k] = strlen(args[k]);
    }
}

void bus_redis_cmds_free(bus_redis_cmds *c) {
    free(c->cmd);
    free(c->argv);
    free(c->lens);
    memset(c, 0, sizeof *c);
}

int64_t bus_redis_ping_ns(bus_redis_pool *p, tb_error *err) {
    int64_t t0 = bus_mono_ns();
    redisContext *c = bus_redis_acquire(p, err);
    if (c == NULL) return -1;
    tb_status s = bus_redis_cmd(c, NULL, err, "PING");
    bus_redis_release(p, c);
    return s == TB_OK ? bus_mono_ns() - t0 : -1;
}
