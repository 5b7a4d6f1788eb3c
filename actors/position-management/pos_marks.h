/* Marks of position-management: ticks set positions.last_price (pos_marks.c). */
#ifndef POS_MARKS_H
#define POS_MARKS_H

#include "actor.h"
#include "pos_db.h"

/* interval_ms: at most one write per symbol per interval (0: every batch).
 * Caller frees with pos_marks_destroy (NULL-safe) after the actor stopped. */
pos_marks *pos_marks_create(int64_t interval_ms);
void pos_marks_destroy(pos_marks *m);
/* Starts the timer that writes held-back marks; call from def.start. */
tb_status pos_marks_start(bus_actor *a, pos_marks *m, tb_error *err) TB_WARN_UNUSED;
/* Batch handler (BUS_EVENT) for tb_tick on md.tick.>: the batch's newest
 * mark per symbol, written in one statement. */
tb_status pos_on_ticks(bus_ctx *ctx, const bus_batch *b);

#endif
