/* Private structures of the actor runtime, shared by actor.c (lifecycle),
 * dispatch.c (per-message work), micro.c ($SRV protocol) and health.c. */
#ifndef BUS_ACTOR_INTERNAL_H
#define BUS_ACTOR_INTERNAL_H

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>

#include "actor.h"

/* Runtime state and statistics of one endpoint. */
typedef struct ep_state {
    const bus_endpoint *ep;
    bus_actor *actor;
    natsSubscription *sub; /* BUS_EVENT, BUS_REQUEST */
    struct bus_pull *pull; /* BUS_STREAM: its consumer, read by the fetch loop */
    pthread_t fetcher;     /* BUS_STREAM: the fetch loop */
    bool fetcher_started;
    _Atomic uint64_t num_requests;
    _Atomic uint64_t num_errors;
    _Atomic int64_t processing_ns;
    pthread_mutex_t last_error_lock;
    char last_error[300];
    bus_series *m_handled_ok;
    bus_series *m_handled_err;
    bus_series *m_duration;
    bus_series *m_decode_errors;
    bus_series *m_dead_letters;
    bus_series *m_redeliveries;
    bus_series *m_pending;                     /* JetStream consumer lag */
    bus_series *m_pull_requests, *m_pull_late; /* bus/pull.c's counters, as deltas */
    /* batched endpoints (batch.c) */
    struct bus_batch *batch;    /* the accumulator */
    pthread_mutex_t batch_lock; /* core: delivery thread vs the final flush */
    bus_series *m_batch_size;
    _Atomic uint64_t flow_handled;  /* messages finished since start */
    _Atomic uint64_t flow_reported; /* value of the last flow report */
    _Atomic int64_t flow_reported_ns;
    _Atomic uint64_t flow_reported_lost; /* part_lost of the last flow report */
    /* partitioned endpoints (partition.c) */
    _Atomic uint64_t part_mask; /* partitions handled now */
    uint64_t part_view;         /* partitions of the last view (timer thread) */
    int nparts;
    bool part_started;          /* the first view was taken (timer thread) */
    _Atomic uint64_t part_lost; /* members seen expiring, once taken over */
    uint64_t part_lost_pending; /* seen expiring, hand-over not yet certain */
    int64_t part_lost_due_ns;   /* when the pending ones count */
    bus_series *m_partitions, *m_part_skipped, *m_part_lost;
} ep_state;

#define BUS_MAX_SYS_SUBS 16
#define BUS_MAX_TIMERS   16

typedef struct bus_timer {
    bus_actor *actor;
    char name[64];
    int64_t interval_ms;
    void (*fn)(bus_actor *a, void *arg);
    void *arg;
    void (*free_arg)(void *arg);
    pthread_t thread;
    pthread_cond_t cond; /* the timer sleeps on it (with timer_lock) */
    bool kicked;         /* bus_actor_kick_timer: run again without waiting */
} bus_timer;

struct bus_actor {
    const bus_actor_def *def;
    bus_config cfg;
    bus_conn *conn;
    bus_conn *bulk;
    bus_metrics *metrics;
    bus_pg_pool *pg;
    bus_redis_pool *redis;
    ep_state *eps;
    size_t neps;
    natsSubscription *sys_subs[BUS_MAX_SYS_SUBS];
    int nsys;
    int64_t started_wall_ns;
    _Atomic bool stopping;
    _Atomic bool stopped;
    _Atomic bool started;
    void *user;
    /* bus_actor_main waits on this for a stop request or a signal */
    int wake_pipe[2];
    bus_series *m_up;
    /* timers sleep on their own cond under timer_lock, so a stop or a kick
     * wakes them at once */
    pthread_mutex_t timer_lock;
    bus_timer timers[BUS_MAX_TIMERS];
    int ntimers;
};

struct bus_ctx {
    bus_actor *actor;
    ep_state *ep;
    natsMsg *msg;
    char trace[TB_ID_CAP];
    uint64_t delivery;
    bool replied;
    tb_error err;
    PGconn *pg;
    redisContext *redis;
};

/* dispatch.c */
void bus_dispatch_core(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure);
void *bus_dispatch_fetch_loop(void *arg);
/* The connection a stream endpoint's messages are acked on. */
natsConnection *bus_dispatch_stream_nc(const ep_state *e);
/* Messages a stream endpoint's pull requests ask for. */
int bus_dispatch_stream_batch(const ep_state *e);
/* How long a pull request waits on the server for messages: an idle
 * instance sends two a second. */
#define BUS_PULL_EXPIRES_MS 500
/* Sends an error reply for status s with message text to msg's reply subject. */
void bus_send_error(natsConnection *nc, natsMsg *msg, tb_status s, const char *field,
                    const char *text);
/* Sends a JSON body as reply (micro and health responses). */
void bus_send_json(natsConnection *nc, natsMsg *msg, json_t *body);

/* Settles a JetStream message: ack on TB_OK (waiting for the server when
 * sync_ack), else redelivery with backoff or the dead-letter stream. */
void bus_dispatch_settle(ep_state *e, natsMsg *msg, uint64_t delivery, tb_status s,
                         const char *message, bool sync_ack);
void bus_dispatch_record_error(ep_state *e, const tb_error *err);

/* batch.c */
int bus_batch_max(const bus_endpoint *ep);
struct bus_batch *bus_batch_create(ep_state *e); /* NULL on out-of-memory */
void bus_batch_destroy(struct bus_batch *b);
bool bus_batch_full(const struct bus_batch *b);
bool bus_batch_empty(const struct bus_batch *b);
bool bus_batch_add(struct bus_batch *b, natsMsg *msg, bool from_stream);
void bus_batch_run(struct bus_batch *b, bool from_stream);
void bus_batch_abandon(struct bus_batch *b, bool from_stream);
void bus_batch_flush(ep_state *e);
void bus_batch_flow_tick(bus_actor *a, void *arg);

/* memory.c: bounds glibc's malloc arenas (before any thread starts) and
 * returns free heap pages to the kernel from a timer, so a service's RSS
 * does not creep up with the messages it has handled. */
#define BUS_MEMORY_TRIM_MS 2000
void bus_memory_init(void);
void bus_memory_trim_tick(bus_actor *a, void *arg);
void bus_dispatch_core_batch(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                             void *closure);

/* partition.c */
int bus_partitions(void);
/* The partition of subject's key: token `token` (from 1), cut at the first
 * key_end when it holds one (0: never). */
int bus_partition_of(const char *subject, int token, char key_end, int nparts);
uint64_t bus_partition_mask(const char *const *members, size_t n, const char *self, int nparts);
tb_status bus_partition_start(bus_actor *a, tb_error *err);
void bus_partition_leave(bus_actor *a);
bool bus_partition_owns(ep_state *e, const char *subject);

/* timer.c: wakes and joins every timer (called by bus_actor_stop). */
void bus_timers_stop(bus_actor *a);

/* actor.c: creates a stream endpoint's durable consumer when missing and
 * (re)binds e->pull to it (the fetch loop's thread, or start). */
tb_status bus_stream_bind(bus_actor *a, ep_state *e, tb_error *err);
/* True when the server says the endpoint's consumer or its stream is gone. */
bool bus_stream_lost(bus_actor *a, ep_state *e);

/* micro.c: subscribes $SRV.{PING,INFO,STATS}[.<name>[.<id>]]. */
tb_status bus_micro_subscribe(bus_actor *a, tb_error *err);
/* health.c: subscribes svc.<name>[.<id>].{health,metrics}. */
tb_status bus_health_subscribe(bus_actor *a, tb_error *err);
/* Adds a system subscription (not counted as an endpoint). */
tb_status bus_actor_sys_subscribe(bus_actor *a, const char *subject, const char *queue,
                                  natsMsgHandler cb, tb_error *err);

#endif
