/* Private interface between the parts of the /v1/stream implementation:
 * stream.c (civetweb WebSocket handlers, connections, their outbound queues
 * and writers), stream_hub.c (the bus subscriptions shared by every
 * connection) and stream_watch.c (closing deadlines, revoked keys). http.c
 * and auth.c only see the gw_stream_* calls in gateway.h. */
#ifndef GW_STREAM_H
#define GW_STREAM_H

#include <pthread.h>
#include <stdatomic.h>

#include "gateway.h"
#include "stream_proto.h"

/* One outbound WebSocket message, shared by every queue it is in (an event
 * is converted to JSON once, whatever the number of subscribers). */
typedef struct gw_frame {
    atomic_int refs;
    int opcode; /* MG_WEBSOCKET_OPCODE_TEXT or _CONNECTION_CLOSE */
    int topic;  /* gw_topic of an event frame, -1 for replies and close frames */
    size_t len;
    char data[]; /* len bytes (+ NUL) */
} gw_frame;

/* New frame holding one reference; NULL on out-of-memory. */
gw_frame *gw_frame_new(int opcode, int topic, const char *data, size_t len);
void gw_frame_ref(gw_frame *f);
/* Drops one reference; frees on the last. NULL-safe. */
void gw_frame_unref(gw_frame *f);

/* One WebSocket connection (stream.c). */
typedef struct gw_sconn gw_sconn;
/* The shared bus subscriptions (stream_hub.c, below). */
typedef struct gw_hub gw_hub;

/* PENDING: admitted, upgrade not done; OPEN; CLOSING: the gateway or the
 * client began to close; DONE: on_close ran. */
typedef enum { SC_PENDING, SC_OPEN, SC_CLOSING, SC_DONE } sc_state;

typedef struct sub_rec {
    gw_topic topic;
    char key[TB_TOKEN_CAP]; /* symbol, account, or "" for every account */
} sub_rec;

struct gw_sconn {
    gw *g;
    struct mg_connection *conn; /* set by on_ready */
    char id[64];                /* request id of the upgrade, in logs */
    char client[48];
    gw_caller caller;
    int fd; /* -1 until found */

    /* Guarded by lock: the queue, the state and the deadline. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    sc_state state;
    bool stop; /* on_close: the writer ends */
    bool shut; /* the reaper shut the socket down */
    int64_t deadline_ns;
    gw_frame **q; /* ring of qmax + 1 slots: room for the close frame */
    size_t qmax, head, len;
    pthread_t writer;
    bool writer_started;

    /* Only the connection's civetweb thread touches these. */
    sub_rec *subs;
    size_t nsubs;
    int invalid;
    int64_t upgrade_ns; /* when the upgrade request arrived */
    int64_t window_start_ns;
    int window_count;

    gw_sconn *next; /* gw_stream.conns, guarded by gw_stream.lock */
};

struct gw_stream {
    gw *g;
    gw_hub *hub;
    pthread_mutex_t lock; /* the connection list */
    pthread_cond_t wake;
    gw_sconn *conns;
    bool stopping;
    pthread_t reaper; /* stream_watch.c */
    pthread_t keys;   /* stream_watch.c */
    bool keys_started;
    bus_series *connections;
    bus_series *slow;
    bus_series *messages[GW_TOPIC_COUNT];
};

/* The gateway closes sc (takes its lock): the close frame goes out after
 * what is queued, or instead of it (drop), and the reaper shuts the socket
 * down if the client has not gone GATEWAY_STREAM_CLOSE_MS later. False (and
 * nothing done) when the connection was not open. */
bool gw_sconn_close(gw_sconn *sc, uint16_t code, const char *reason, bool drop);

/* Queues f (taking a reference of its own) on sc's outbound queue. Never
 * blocks on the socket: when the queue is full the connection is closed as
 * a slow consumer instead. Called by the hub with its fan-out lock held. */
void gw_sconn_push(gw_sconn *sc, gw_frame *f);

/* ---- stream_hub.c: bus subscriptions shared by the connections ----
 * One bus subscription per distinct subject, whatever the number of
 * connections listening to it; a message is converted once and queued on
 * every listener whose filter (the alert's account) matches. */

/* conn is borrowed for the hub's lifetime; m counts bad events. Caller
 * frees with gw_hub_destroy, after every connection is gone. NULL on
 * out-of-memory. */
gw_hub *gw_hub_create(bus_conn *conn, bus_metrics *m);
void gw_hub_destroy(gw_hub *h);
/* Adds sc as a listener of subject (filter: "" or the account alerts must
 * carry). Idempotent for the same (subject, filter, sc). The first listener
 * of a subject subscribes on the bus: TB_UNAVAILABLE when that fails. */
tb_status gw_hub_add(gw_hub *h, gw_topic topic, const char *subject, const char *filter,
                     gw_sconn *sc, tb_error *err) TB_WARN_UNUSED;
/* Removes one listener; the last one of a subject unsubscribes. */
void gw_hub_remove(gw_hub *h, const char *subject, const char *filter, gw_sconn *sc);
/* Removes every listener of sc. After it returns the hub never touches sc. */
void gw_hub_remove_all(gw_hub *h, gw_sconn *sc);
/* Distinct subjects subscribed now (tests, metrics). */
size_t gw_hub_subjects(gw_hub *h);

/* ---- stream_watch.c: the stream's two background threads ----
 * The reaper shuts down the sockets of connections past their closing
 * deadline; the key watcher closes the connections of keys revoked since
 * they connected. Both wait on gw_stream.wake and end when stopping. */
void *gw_stream_reaper_main(void *arg);
void *gw_stream_keys_main(void *arg);

#endif
