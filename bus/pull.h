/* A JetStream pull consumer whose requests each name their own reply subject.
 *
 * nats.c 3.4's natsSubscription_Fetch sends every pull request with one reply
 * subject, the subscription's inbox. When a request's 408 ("Request Timeout")
 * arrives after the client stopped waiting for it (it expires 10 ms before
 * the client gives up; a busy machine misses that), the status ends the next
 * fetch at once, whose own request is then left pending on the server. Each
 * miss adds one pending request per instance; under a long replay they pile
 * up, and an idle instance spins at the rate their 408s come back (nats.c
 * issue #631, fixed upstream by a reply subject per fetch, which 3.4 lacks).
 *
 * Here each request replies to <inbox>.<n>, so a status ends only the request
 * it names and one that comes late is dropped. One request is pending at a
 * time. It is a one-shot (no_wait with expires): the server holds it until a
 * message arrives, sends what is there (up to the batch) and ends it, so
 * arrivals go to instances that are waiting, not to one still busy with its
 * last batch. A request that was satisfied is renewed before its messages are
 * handed out, so under load the server sends the next batch while the
 * handler works on this one.
 *
 * Messages come from a core subscription, so they are acked with bus_js_ack,
 * bus_js_nak and bus_js_term (natsMsg_Ack wants nats.c's own pull
 * subscription); natsMsg_GetMetaData reads them as usual. */
#ifndef BUS_PULL_H
#define BUS_PULL_H

#include <nats/nats.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct bus_pull bus_pull;

/* Counters of one pull consumer, for tests and metrics. */
typedef struct bus_pull_stats {
    uint64_t requests;        /* pull requests sent */
    uint64_t stale_dropped;   /* statuses of requests already over */
    uint64_t expired;         /* requests ended by their expiry */
    uint64_t pending_refused; /* "Requests Pending": others' requests cover it */
} bus_pull_stats;

/* Subscribes to a new inbox of nc for the durable consumer `durable` of
 * `stream`; requests ask for up to `batch` messages and expire after
 * `expires_ms` (the server ends them 10 ms sooner). */
natsStatus bus_pull_open(bus_pull **out, natsConnection *nc, const char *stream,
                         const char *durable, int batch, int64_t expires_ms);

/* Fills msgs (room for the batch given to bus_pull_open) with the messages
 * that arrive: waits until the first comes or the pending request is over,
 * then for the rest of the burst (each within 2 ms of the last) until the
 * status that ends the request or a full batch. NATS_OK with *count 0 means
 * the request ended without messages. An error is a status the server ended
 * the request with, its text in `why` ("409 Consumer Deleted" when the
 * consumer was deleted under a pending request), or NATS_NO_RESPONDERS when
 * nothing serves the consumer's subject (JetStream off). A consumer lost with
 * the server's store is not reported: its requests just go unanswered, and
 * the caller asks the server (bus_dispatch_fetch_loop does after five idle
 * seconds). The caller owns the messages. */
natsStatus bus_pull_fetch(bus_pull *p, natsMsg **msgs, int *count, char *why, size_t why_cap);

void bus_pull_get_stats(const bus_pull *p, bus_pull_stats *out);

/* Stops interest, then naks every message that had already been sent for a
 * pending request so another instance takes it at once, and frees p. */
void bus_pull_close(bus_pull *p);

/* Acknowledgements of a JetStream message, published to its reply subject.
 * `sync` waits up to timeout_ms for the server to confirm the ack. */
natsStatus bus_js_ack(natsConnection *nc, natsMsg *m, bool sync, int64_t timeout_ms);
natsStatus bus_js_nak(natsConnection *nc, natsMsg *m, int64_t delay_ms);
natsStatus bus_js_term(natsConnection *nc, natsMsg *m);

#endif
