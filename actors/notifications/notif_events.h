/* Handlers of the events the notifications service consumes (main.c lists
 * the subscriptions) and the timers that evaluate throttled observations. */
#ifndef NOTIF_EVENTS_H
#define NOTIF_EVENTS_H

#include "actor.h"

/* Batch handlers of fills.> (fill rules) and risk.decision.> (risk_reject
 * rules), both with the webhook fan-out of the event (notif_fanout.c). */
tb_status notif_on_fills(bus_ctx *ctx, const bus_batch *b);
tb_status notif_on_decisions(bus_ctx *ctx, const bus_batch *b);
/* Batch handler of md.tick.> (price rules). */
tb_status notif_on_ticks(bus_ctx *ctx, const bus_batch *b);
tb_status notif_on_position(bus_ctx *ctx, const void *event);
tb_status notif_on_alert(bus_ctx *ctx, const void *event);

/* Starts the timers that evaluate observations held back by the throttles. */
tb_status notif_events_start(bus_actor *a, tb_error *err) TB_WARN_UNUSED;

#endif
