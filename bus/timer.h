/* Periodic background work owned by an actor (outbox relays, order expiry,
 * webhook delivery, snapshots). Each timer runs on its own thread; the
 * runtime stops and joins them during bus_actor_stop, after the endpoints
 * drained and before connections close, so a timer never sees a closed
 * connection. */
#ifndef BUS_TIMER_H
#define BUS_TIMER_H

#include "actor.h"

/* fn(a, arg) runs every interval_ms until the actor stops (the first run is
 * after one interval). Call from def.start or later. free_arg (may be NULL)
 * is called on arg once the timer has stopped: the timer owns arg. */
tb_status bus_actor_add_timer(bus_actor *a, const char *name, int64_t interval_ms,
                              void (*fn)(bus_actor *a, void *arg), void *arg,
                              void (*free_arg)(void *arg), tb_error *err) TB_WARN_UNUSED;

/* Makes the timer called name run now: wakes its thread if it sleeps, or
 * has it run again as soon as the current run ends (kicks meanwhile
 * coalesce into that one run). False when the actor has no such timer. */
bool bus_actor_kick_timer(bus_actor *a, const char *name);

#endif
