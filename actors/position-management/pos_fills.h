/* The FILLS stream handler of position-management (pos_fills.c). */
#ifndef POS_FILLS_H
#define POS_FILLS_H

#include "actor.h"

/* BUS_STREAM handler for tb_fill on fills.<account>.<symbol>: applies the fill
 * to its position and account exactly once, then publishes
 * pos.update.<account>.<symbol>. Invalid fills (bad side/qty/price/ts,
 * subject mismatch, unknown account, overflow, a conflicting duplicate) fail
 * permanently (dead letter); store outages fail transiently (redelivery). */
tb_status pos_on_fill(bus_ctx *ctx, const void *event);

#endif
