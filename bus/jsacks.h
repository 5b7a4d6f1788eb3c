/* Acknowledgements of bus_js_publish_many, for every call on a connection,
 * through one subscription of that connection: <inbox>.<call>.<index>.
 *
 * A subscription made and dropped per call cost three protocol exchanges a
 * call (SUB, a PING/PONG flush so the server knew it before the first
 * acknowledgement, UNSUB) and two changes to the server's subscription
 * list; an outbox relay makes a call per round, two rounds an order. Here
 * the subscription is made at the first call and kept (nats.c renews it
 * after a reconnect); the SUB goes out before the first message of that call
 * on the same connection, so the server knows it before it can answer.
 * Calls of several threads wait side by side, each for its own messages.
 * Internal to bus/ (conn.c). */
#ifndef BUS_JSACKS_H
#define BUS_JSACKS_H

#include <nats/nats.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"

typedef struct bus_js_acks bus_js_acks;

/* NULL when out of memory. */
bus_js_acks *bus_js_acks_create(void);

/* Registers a call for msgs[0..n) (each status TB_TIMEOUT until answered),
 * subscribing on nc at the first call. *call names it for the calls below. */
natsStatus bus_js_acks_begin(bus_js_acks *a, natsConnection *nc, bus_js_msg *msgs, size_t n,
                             uint64_t *call);

/* The reply subject of message i of call. */
void bus_js_acks_reply(const bus_js_acks *a, uint64_t call, size_t i, char *buf, size_t cap);

/* Waits until the first `sent` messages of call are answered or timeout_ms
 * passed, then forgets the call (a later answer is dropped). */
void bus_js_acks_end(bus_js_acks *a, uint64_t call, size_t sent, int64_t timeout_ms);

/* After the connection was closed: waits (bounded) until the subscription's
 * handler can no longer run, then frees. */
void bus_js_acks_destroy(bus_js_acks *a);

#endif
