/* Webhook delivery from the webhook_outbox table (DESIGN §3: at least once,
 * idempotency key header, retries with backoff, dead-lettered and visible
 * after the last try). */
#ifndef NOTIF_DELIVER_H
#define NOTIF_DELIVER_H

#include "actor.h"

/* Starts the delivery timer (every NOTIF_DELIVERY_INTERVAL_MS). */
tb_status notif_deliver_start(bus_actor *a, tb_error *err) TB_WARN_UNUSED;

/* One delivery round: claims due rows and POSTs them; returns the number of
 * rows attempted. Exposed for the timer only. */
int notif_deliver_round(bus_actor *a);

#endif
