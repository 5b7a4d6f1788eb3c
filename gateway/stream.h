/* Private interface between the parts of the /v1/stream implementation:
 * stream.c (civetweb WebSocket handlers, connections, their outbound queues
 * and writers) and stream_hub.c (the bus subscriptions shared by every
 * connection). http.c only sees the gw_stream_* calls in gateway.h. */
#ifndef GW_STREAM_H
#define GW_STREAM_H

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

/* Queues f (taking a reference of its own) on sc's outbound queue. Never
 * blocks on the socket: when the queue is full the connection is closed as
 * a slow consumer instead. Called by the hub with its fan-out lock held. */
void gw_sconn_push(gw_sconn *sc, gw_frame *f);

/* ---- stream_hub.c: bus subscriptions shared by the connections ----
 * One bus subscription per distinct subject, whatever the number of
 * connections listening to it; a message is converted once and queued on
 * every listener whose filter (the alert's account) matches. */
typedef struct gw_hub gw_hub;

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

#endif
