/* PostgreSQL and Redis connection pools for handlers.
 *
 * libpq and hiredis connections are not thread-safe, and nats.c runs handlers
 * on several threads, so each handler borrows a connection for its duration
 * (bus_ctx_pg / bus_ctx_redis) and the dispatcher returns it. A connection
 * that broke is dropped on return, and an idle one whose server went away
 * (restarted or killed: its socket is readable or closed) is dropped when
 * it is next taken, so the first statement after a restart runs on a new
 * connection. Creating a new one after a failure backs off exponentially
 * (100 ms .. 5 s) so a database outage is not hammered; nothing here ever
 * gives up or exits: every borrow tries again once the backoff passed. */
#ifndef BUS_STORE_H
#define BUS_STORE_H

#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "money.h"
#include "status.h"

typedef struct bus_pg_pool bus_pg_pool;
typedef struct bus_redis_pool bus_redis_pool;

/* Creates a pool and opens one connection to prove the URL works: a clear
 * TB_UNAVAILABLE error when the server is unreachable at start. */
tb_status bus_pg_pool_create(const char *url, bus_pg_pool **out, tb_error *err) TB_WARN_UNUSED;
void bus_pg_pool_destroy(bus_pg_pool *p);
/* Borrows a connection (caller returns it with bus_pg_release). NULL with
 * TB_UNAVAILABLE in err when none can be made now. */
PGconn *bus_pg_acquire(bus_pg_pool *p, tb_error *err);
void bus_pg_release(bus_pg_pool *p, PGconn *c);

tb_status bus_redis_pool_create(const char *url, bus_redis_pool **out,
                                tb_error *err) TB_WARN_UNUSED;
void bus_redis_pool_destroy(bus_redis_pool *p);
redisContext *bus_redis_acquire(bus_redis_pool *p, tb_error *err);
void bus_redis_release(bus_redis_pool *p, redisContext *c);

/* Maps a libpq result to a status: OK for COMMAND_OK/TUPLES_OK, TB_CONFLICT
 * for unique violations (23505), TB_INVALID for check/foreign-key/data
 * errors (SQLSTATE classes 23 and 22), TB_UNAVAILABLE when the connection is
 * gone, for serialization failures and deadlocks (40001, 40P01) and for the
 * classes of a server going away or not ready (08, 53, 57), TB_ERR
 * otherwise; err gets the server's message. Does not clear res. */
tb_status bus_pg_result_status(PGconn *c, const PGresult *res, tb_error *err) TB_WARN_UNUSED;
/* Runs a parameterised statement; *res_out (may be NULL) receives the result
 * on success (caller PQclear), otherwise the result is cleared. */
tb_status bus_pg_exec(PGconn *c, const char *sql, int nparams, const char *const *params,
                      PGresult **res_out, tb_error *err) TB_WARN_UNUSED;

/* Pipelining: between bus_pg_pipeline_begin and bus_pg_pipeline_end, a
 * bus_pg_exec without res_out only sends its statement and returns TB_OK;
 * the next bus_pg_exec with res_out (or bus_pg_pipeline_end) sends a
 * synchronisation point and reads every result owed, so the statements of a
 * transaction cost one round trip per statement whose result the code
 * needs, not one per statement. A failure of a statement sent earlier is
 * returned by that next call (PostgreSQL skips the rest of its segment, and
 * an explicit transaction is then aborted: the caller rolls back after
 * bus_pg_pipeline_end, as it would have after the failing call).
 * bus_pg_pipeline_begin on a connection that cannot pipeline leaves it as it
 * is, and every statement then runs at once: the code is correct either
 * way. Keep what one pipeline sends to a few statements (libpq writes while
 * the server's answers wait to be read). */
tb_status bus_pg_pipeline_begin(PGconn *c, tb_error *err) TB_WARN_UNUSED;
/* Reads that do not depend on each other, in one round trip: in pipeline
 * mode bus_pg_send sends its statement and *res_out receives the result at
 * the next synchronisation point (bus_pg_pipeline_sync, bus_pg_exec with
 * res_out, bus_pg_pipeline_end); all or nothing: after a failure of any
 * statement of the segment every *res_out is NULL. Outside pipeline mode it
 * is bus_pg_exec. The caller PQclears what it receives. */
tb_status bus_pg_send(PGconn *c, const char *sql, int nparams, const char *const *params,
                      PGresult **res_out, tb_error *err) TB_WARN_UNUSED;
/* Reads every result owed (one round trip): the first failure. */
tb_status bus_pg_pipeline_sync(PGconn *c, tb_error *err) TB_WARN_UNUSED;
/* Waits for the result bus_pg_send put in *res: nothing to do when it is
 * in (always so outside pipeline mode), else a synchronisation point. For
 * a single read through a function written to share round trips. */
tb_status bus_pg_await(PGconn *c, PGresult *const *res, tb_error *err) TB_WARN_UNUSED;
/* Reads what is owed and leaves pipeline mode; the first failure. Safe to
 * call when bus_pg_pipeline_begin failed or left the connection as it was. */
tb_status bus_pg_pipeline_end(PGconn *c, tb_error *err) TB_WARN_UNUSED;

/* Column readers for rows of a bus_pg_exec result (text format). A NULL
 * column reads as 0 / "". A value the type cannot hold is TB_ERR naming the
 * column: the database holds something the code did not write. */
tb_status bus_pg_col_fixed(const PGresult *r, int row, int col, tb_fixed *out,
                           tb_error *err) TB_WARN_UNUSED;
tb_status bus_pg_col_i64(const PGresult *r, int row, int col, int64_t *out,
                         tb_error *err) TB_WARN_UNUSED;
/* Copies the column, truncated to cap - 1 bytes. */
void bus_pg_col_str(const PGresult *r, int row, int col, char *dst, size_t cap);

/* The status of an error reply (r->type == REDIS_REPLY_ERROR), with err
 * set: TB_UNAVAILABLE for a server not ready or busy (LOADING after a
 * restart, BUSY, MASTERDOWN, TRYAGAIN, ...), TB_ERR otherwise. */
tb_status bus_redis_error_status(const redisReply *r, tb_error *err) TB_WARN_UNUSED;

/* Runs a command and maps error replies / lost connections to a status.
 * *reply_out (may be NULL) receives the reply on success (caller
 * freeReplyObject). */
tb_status bus_redis_cmd(redisContext *c, redisReply **reply_out, tb_error *err, const char *fmt,
                        ...) TB_WARN_UNUSED;
tb_status bus_redis_cmd_argv(redisContext *c, int argc, const char **argv, const size_t *lens,
                             redisReply **reply_out, tb_error *err) TB_WARN_UNUSED;

/* One command of a pipeline (argument vectors are borrowed). */
typedef struct bus_redis_argv {
    int argc;
    const char **argv;
    size_t *lens;
} bus_redis_argv;

/* Writes cmds[0..n) at once, then reads every reply into reps (caller frees
 * each with freeReplyObject): one round trip for n commands. An error reply
 * is a reply; a broken connection fails them all (reps all NULL). */
tb_status bus_redis_pipeline(redisContext *c, const bus_redis_argv *cmds, size_t n,
                             redisReply **reps, tb_error *err) TB_WARN_UNUSED;

/* n commands of argc arguments each for bus_redis_pipeline, in one set of
 * allocations: set each with bus_redis_cmds_set (argument strings are
 * borrowed until the run), run, free. */
typedef struct bus_redis_cmds {
    bus_redis_argv *cmd;
    const char **argv;
    size_t *lens;
    int argc;
    size_t n;
} bus_redis_cmds;
tb_status bus_redis_cmds_init(bus_redis_cmds *c, size_t n, int argc, tb_error *err) TB_WARN_UNUSED;
void bus_redis_cmds_set(bus_redis_cmds *c, size_t i, const char *const *args);
void bus_redis_cmds_free(bus_redis_cmds *c);

/* Latency of a trivial round trip in ns, or -1 when unreachable (health). */
int64_t bus_pg_ping_ns(bus_pg_pool *p, tb_error *err);
int64_t bus_redis_ping_ns(bus_redis_pool *p, tb_error *err);

/* Monotonic clock in ns, for durations. */
int64_t bus_mono_ns(void);

#endif
