/* The transactional outbox's add for many events at once (bus/outbox.h
 * records one): a batch handler records all the events of its transaction
 * in one statement, whatever their number. Rows are those bus_outbox_add
 * writes, relayed the same way. */
#ifndef BUS_OUTBOX_MANY_H
#define BUS_OUTBOX_MANY_H

#include "outbox.h"

/* One event to record: ev is of the call's desc. */
typedef struct bus_outbox_item {
    const char *subject;
    const void *ev;
    const char *msg_id;   /* unique: TB_CONFLICT when a row with it exists */
    const char *trace_id; /* may be NULL */
} bus_outbox_item;

/* Records items[0..n) for publication by producer, inside the caller's
 * transaction, in one statement (nothing when n is 0). */
tb_status bus_outbox_add_many(PGconn *c, const char *producer, const tb_event_desc *desc,
                              const bus_outbox_item *items, size_t n, tb_error *err) TB_WARN_UNUSED;

#endif
