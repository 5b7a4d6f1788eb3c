/* Transactional outbox (DESIGN §3): an order or fill is committed in
 * PostgreSQL, together with the event that announces it, before anyone is told
 * it exists; the event is then published to JetStream with Nats-Msg-Id = its
 * id, and marked published once the stream confirmed it. A relay republishes
 * whatever stayed unpublished (a worker died between commit and publish), so
 * a lost message is healed, not lost. Consumers dedupe on the id.
 *
 * Uses the tables `outbox` (every event, written once, kept a day: the record
 * of what was announced) and `outbox_pending` (the ids the stream has not
 * acknowledged yet; a relay deletes them once it has), schemas/migrations/
 * 0001_init.sql and 0733_outbox_pending.sql. Keeping the pending set apart
 * keeps a relay round's claim on a table as small as the backlog, and an
 * announced event costs no second version of its outbox row. */
#ifndef BUS_OUTBOX_H
#define BUS_OUTBOX_H

#include "actor.h"

/* Records ev for publication on subject. Call inside the transaction that
 * records the fact itself; the row commits or rolls back with it. msg_id must
 * be unique (order id, fill id, "<order id>:<version>"...): TB_CONFLICT if a
 * row with it exists. producer names the service that relays it. */
tb_status bus_outbox_add(PGconn *c, const char *producer, const char *subject,
                         const tb_event_desc *desc, const void *ev, const char *msg_id,
                         const char *trace_id, tb_error *err) TB_WARN_UNUSED;

/* One event of bus_outbox_add_many. */
typedef struct bus_outbox_event {
    const char *subject;
    const tb_event_desc *desc;
    const void *ev;
    const char *msg_id;
    const char *trace_id; /* may be NULL */
} bus_outbox_event;

/* bus_outbox_add for n events in one statement (one round trip), recorded
 * in the order given. TB_CONFLICT if any msg_id exists. */
tb_status bus_outbox_add_many(PGconn *c, const char *producer, const bus_outbox_event *evs,
                              size_t n, tb_error *err) TB_WARN_UNUSED;

/* Publishes the pending rows of producer that are at least min_age_ms old,
 * oldest first, at most max_rows, and takes them out of the pending set. The rows are
 * sent to JetStream together and their acknowledgements collected
 * afterwards (bus_js_publish_many), so a relay round costs a few round trips
 * whatever its size; a row the stream did not acknowledge stays pending (and
 * may then reach the stream after later rows: consumers apply events by id
 * and tolerate that order, see DESIGN §3). Rows are claimed
 * with FOR UPDATE SKIP LOCKED so relays of several instances never publish
 * the same row at the same time (and if they did, JetStream dedupes on the
 * id). *published (may be NULL) receives the count. Uses its own connection
 * from the actor's pool: call it after the caller's transaction committed. */
tb_status bus_outbox_relay(bus_actor *a, const char *producer, int max_rows, int64_t min_age_ms,
                           int *published, tb_error *err) TB_WARN_UNUSED;
/* The relay's claim (producer, min age in ms, max rows): its pending rows,
 * oldest first, locked, each read from outbox by its key. Exported so a
 * test can check its plan. */
extern const char bus_outbox_claim_sql[];
/* The relay's cleanup, every 1,000 rounds: outbox rows of any producer older
 * than a day that are no longer pending. Exported so a test can check what
 * it reads. */
extern const char bus_outbox_cleanup_sql[];

/* Starts the relay of producer on the actor, on a thread of its own: every
 * interval_ms it republishes rows older than 2 x interval_ms (outbox rows
 * are deleted a day after they were written, once published), and on
 * bus_outbox_kick everything pending.
 * Call from def.start. */
tb_status bus_outbox_start_relay(bus_actor *a, const char *producer, int64_t interval_ms,
                                 tb_error *err) TB_WARN_UNUSED;

/* Has the relay of producer started by bus_outbox_start_relay publish what
 * is pending now, on its own thread: a handler that committed outbox rows
 * kicks it and goes on. False when the actor runs no such relay (the caller
 * then relays itself). */
bool bus_outbox_kick(bus_actor *a, const char *producer);

/* The fast path after a commit that added `committed` outbox rows. One row
 * (a handler serving one caller at a time): kicks the relay, so the next
 * request does not wait for the publish. More (a handler under load):
 * publishes them on the caller's thread, which lets the next batch grow
 * meanwhile, so more events share one commit (measured with scripts/bench
 * orders: 8 clients made 455 orders/s this way and 336/s with a kick per
 * batch; 1 client 118/s with the kick and 101/s without). Relays on the
 * caller's thread as well when the actor runs no relay. */
tb_status bus_outbox_publish_soon(bus_actor *a, const char *producer, int committed,
                                  tb_error *err) TB_WARN_UNUSED;

#endif
