/* The actor runtime: what every tradebus service is built on.
 *
 * A service is a static table of endpoints plus a definition handed to
 * bus_actor_main(). The runtime connects (NATS, and PostgreSQL/Redis when
 * asked), subscribes every endpoint with the service's queue group, decodes
 * and validates each message with the catalogue, times and counts it, calls
 * the handler with a context, replies or acks, and answers the NATS micro
 * protocol ($SRV.PING|INFO|STATS), svc.<name>.health and svc.<name>.metrics.
 * On SIGTERM/SIGINT it stops taking work, drains, finishes in-flight messages,
 * closes connections and returns 0.
 *
 * Endpoint kinds:
 *   BUS_REQUEST  core request-reply in the queue group; the handler replies
 *                with bus_reply*() or returns an error, which the runtime turns
 *                into an error reply ({code,message,field} + Nats-Service-Error
 *                headers).
 *   BUS_EVENT    core subscription (at most once) in the queue group, or on
 *                every instance with every_instance.
 *   BUS_STREAM   JetStream durable pull consumer shared by all instances:
 *                explicit ack after the handler succeeds; transient failures
 *                are redelivered with backoff; permanent failures, and
 *                messages past max_deliver, go to the dead-letter stream
 *                (dlq.<stream>.<durable>) and are terminated. */
#ifndef BUS_ACTOR_H
#define BUS_ACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "catalogue.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

typedef struct bus_actor bus_actor;
typedef struct bus_ctx bus_ctx;

/* event is the decoded, validated struct of the endpoint's event type, or a
 * bus_raw when the endpoint has no event type. Borrowed for the call. */
typedef tb_status (*bus_handler)(bus_ctx *ctx, const void *event);

typedef struct bus_raw {
    const void *data;
    size_t len;
} bus_raw;

typedef enum { BUS_REQUEST, BUS_EVENT, BUS_STREAM } bus_kind;

/* A batch of messages handed to a batched endpoint's handler: every message
 * that had already arrived when the batch was cut (up to the endpoint's
 * batch_max), in arrival order. Only messages that decoded and validated are
 * in it; the runtime settles the others (counted, logged, dead-lettered on a
 * stream). Borrowed for the handler call. */
typedef struct bus_batch bus_batch;

/* A batched endpoint's handler. It returns TB_OK when the whole batch is
 * applied; any other status fails every message of the batch not already
 * failed with bus_batch_fail (redelivered or dead-lettered on a stream,
 * counted on a core subscription, answered with the error on a request
 * endpoint). A batched request endpoint answers each request with
 * bus_batch_reply or bus_batch_fail; one left unanswered gets an error. */
typedef tb_status (*bus_batch_handler)(bus_ctx *ctx, const bus_batch *b);

size_t bus_batch_len(const bus_batch *b);
/* Message i's decoded event (or bus_raw when the endpoint has no type). */
const void *bus_batch_event(const bus_batch *b, size_t i);
const char *bus_batch_subject(const bus_batch *b, size_t i);
/* Message i's trace id: never NULL; generated when the message had none. */
const char *bus_batch_trace(const bus_batch *b, size_t i);
/* Message i's header key, NULL when absent. */
const char *bus_batch_header(const bus_batch *b, size_t i, const char *key);
/* JetStream: message i's delivery attempt (1 on first delivery); 0 for core. */
uint64_t bus_batch_delivery(const bus_batch *b, size_t i);
/* Fails message i alone with s (permanent statuses dead-letter it, transient
 * ones redeliver it, as for a single message); the rest of the batch is
 * settled by the handler's return status. */
void bus_batch_fail(const bus_batch *b, size_t i, tb_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* bus_batch_fail with err's status, field and message. */
void bus_batch_fail_err(const bus_batch *b, size_t i, const tb_error *err);
/* Request endpoints: answers request i with ev (once; later calls fail). */
tb_status bus_batch_reply(const bus_batch *b, size_t i, const tb_event_desc *desc,
                          const void *ev) TB_WARN_UNUSED;

/* Default and ceiling of bus_endpoint.batch_max: BUS_BATCH_MAX_DEFAULT and
 * BUS_BATCH_MAX_LIMIT in config.h (BUS_BATCH_MAX overrides the default for
 * every batched endpoint of a process). */

typedef struct bus_stream_opts {
    const char *stream;  /* BUS_STREAM_ORDERS, ... */
    const char *durable; /* consumer name shared by every instance */
    int64_t ack_wait_ms; /* default 30000 */
    int max_deliver;     /* default 10 */
    int batch;           /* messages per fetch, default 16 */
    /* A durable created now starts at the stream's end instead of its
     * beginning (consumers whose first start must not replay history). An
     * existing durable keeps its position either way. */
    bool deliver_new;
} bus_stream_opts;

typedef struct bus_endpoint {
    const char *name; /* endpoint name in $SRV.INFO / STATS */
    bus_kind kind;
    const char *subject;        /* may hold wildcards for BUS_EVENT / BUS_STREAM */
    const tb_event_desc *event; /* request/event type; NULL: handler gets a bus_raw */
    bus_handler handler;
    /* Batched endpoint (BUS_EVENT, BUS_STREAM): set instead of handler. A
     * core subscription hands over what is queued in the client when a
     * message is taken (nats.c's pending count), so an idle system sees
     * batches of one and no added latency; a stream hands over each fetch. */
    bus_batch_handler batch_handler;
    int batch_max; /* 0: BUS_BATCH_MAX, default BUS_BATCH_MAX_DEFAULT */
    /* Partitioned batched event endpoint: > 0 names the subject token (from
     * 1) holding the key, e.g. 3 for the symbol of md.tick.<SYM>. The
     * service's instances share the keys' BUS_PARTITIONS partitions (Redis
     * membership, rendezvous hashing; partition.c), so one instance sees all
     * of a key's messages in order; during a hand-over two may briefly both
     * see a key, so handlers stay idempotent. Needs BUS_NEEDS_REDIS. */
    int partition_token;
    /* With partition_token: when the token holds this character, only what
     * comes before its first one is the key (signal-processing: '-', so
     * that a backtest run's symbols bt<N>-DAX and bt<N>-FTSE are one key and
     * one instance sees the run's ticks in file order). 0: the whole token. */
    char partition_key_end;
    bus_stream_opts stream; /* BUS_STREAM only */
    bool every_instance;    /* BUS_EVENT: no queue group, every copy gets it */
} bus_endpoint;

enum { BUS_NEEDS_PG = 1u << 0, BUS_NEEDS_REDIS = 1u << 1, BUS_NEEDS_STREAMS = 1u << 2 };

typedef struct bus_actor_def {
    const char *name;    /* NATS micro name, also the queue group: "market-data" */
    const char *version; /* semver */
    const char *description;
    const bus_endpoint *endpoints;
    size_t nendpoints;
    unsigned needs;      /* BUS_NEEDS_* */
    bool bulk_publisher; /* also open a buffered connection for fan-out (ticks) */
    /* After connections are up and before any subscription; may set user data. */
    tb_status (*start)(bus_actor *a, tb_error *err);
    /* Called from the main thread while the actor runs; returns when the
     * actor is stopping (bus_actor_stopping) or when its work is done. Used by
     * producers such as market-data. May be NULL. */
    void (*run)(bus_actor *a);
    /* After the drain, before connections close. */
    void (*stop)(bus_actor *a);
    /* Extra --help text: the service's own settings. */
    void (*usage)(FILE *f);
} bus_actor_def;

/* Parses --help/--version, loads the configuration, runs the actor until
 * SIGTERM/SIGINT and returns the process exit code (0 after a clean drain,
 * 1 when a dependency is unreachable at start, 2 on bad configuration). */
int bus_actor_main(const bus_actor_def *def, int argc, char **argv);

/* Lower-level lifecycle, used by bus_actor_main and by tests that run an
 * actor inside the test process. create copies cfg; start connects and
 * subscribes; stop drains (idempotent); destroy frees (NULL-safe). */
tb_status bus_actor_create(const bus_actor_def *def, const bus_config *cfg, bus_actor **out,
                           tb_error *err) TB_WARN_UNUSED;
tb_status bus_actor_start(bus_actor *a, tb_error *err) TB_WARN_UNUSED;
void bus_actor_stop(bus_actor *a);
void bus_actor_destroy(bus_actor *a);
/* Asks a running bus_actor_main to stop, as SIGTERM does (signal-safe). */
void bus_actor_request_stop(bus_actor *a);
bool bus_actor_stopping(const bus_actor *a);

void bus_actor_set_user(bus_actor *a, void *user);
void *bus_actor_user(const bus_actor *a);
bus_conn *bus_actor_conn(bus_actor *a);
/* The buffered connection when def->bulk_publisher, else the main one. */
bus_conn *bus_actor_bulk_conn(bus_actor *a);
bus_metrics *bus_actor_metrics(bus_actor *a);
const bus_config *bus_actor_config(const bus_actor *a);
bus_pg_pool *bus_actor_pg(bus_actor *a);
bus_redis_pool *bus_actor_redis(bus_actor *a);
const char *bus_actor_instance(const bus_actor *a);

/* Context of one message (or of one batch), valid during the handler call.
 * In a batch handler, subject, trace and header are those of the batch's
 * first message; store connections are acquired once for the batch, and
 * bus_fail records why the batch failed. */
bus_actor *bus_ctx_actor(bus_ctx *ctx);
const char *bus_ctx_subject(const bus_ctx *ctx);
const char *bus_ctx_trace(const bus_ctx *ctx); /* never NULL; generated when absent */
/* A header of the message, NULL when absent. */
const char *bus_ctx_header(bus_ctx *ctx, const char *key);
/* The message's payload as it arrived (for a text attached beside the event,
 * attach.h). Borrowed for the call. */
bus_raw bus_ctx_payload(const bus_ctx *ctx);
/* JetStream: delivery attempt (1 on first delivery); 0 for core messages. */
uint64_t bus_ctx_delivery(const bus_ctx *ctx);
/* Borrowed store connections, returned by the runtime after the handler;
 * NULL with err filled (TB_UNAVAILABLE) when not available now. */
PGconn *bus_ctx_pg(bus_ctx *ctx, tb_error *err);
redisContext *bus_ctx_redis(bus_ctx *ctx, tb_error *err);

/* Replies (BUS_REQUEST only; at most one reply per request). */
tb_status bus_reply(bus_ctx *ctx, const tb_event_desc *desc, const void *ev) TB_WARN_UNUSED;
tb_status bus_reply_list(bus_ctx *ctx, const tb_event_desc *desc, const void *items, size_t n,
                         const char *next) TB_WARN_UNUSED;
/* Pre-encoded msgpack (schema may be NULL) or any other content type. */
tb_status bus_reply_bytes(bus_ctx *ctx, const void *data, size_t len, const char *content_type,
                          const char *schema) TB_WARN_UNUSED;
/* Records why the handler fails; the handler then returns the status:
 *   return bus_fail(ctx, TB_NOT_FOUND, "order_id", "no order %s", id); */
tb_status bus_fail(bus_ctx *ctx, tb_status s, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Records a tb_error produced by a callee and returns its status. */
tb_status bus_fail_err(bus_ctx *ctx, const tb_error *err);

/* Status classes for stream handling. */
bool bus_status_is_transient(tb_status s);

/* Generates a 128-bit id as 32 hex digits into out (>= 33 bytes): the
 * creation time in milliseconds (48 bits), then 80 random bits, so ids sort
 * by creation time and index inserts stay local. */
void bus_new_id(char *out, size_t cap);

#endif
