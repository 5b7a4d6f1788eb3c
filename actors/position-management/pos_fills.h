/* The FILLS stream handlers of position-management: one fill at a time
 * (pos_fills.c) and a batch of fills in one transaction (pos_fill_batch.c). */
#ifndef POS_FILLS_H
#define POS_FILLS_H

#include "actor.h"
#include "pos_db.h"
#include "pos_pnl.h"

/* BUS_STREAM handler for tb_fill on fills.<account>.<symbol>: applies the fill
 * to its position and account exactly once, then publishes
 * pos.update.<account>.<symbol>. Invalid fills (bad side/qty/price/ts,
 * subject mismatch, unknown account, overflow, a conflicting duplicate) fail
 * permanently (dead letter); store outages fail transiently (redelivery). */
tb_status pos_on_fill(bus_ctx *ctx, const void *event);

/* Batched BUS_STREAM handler for the same fills: the batch is booked in one
 * transaction with a fixed number of statements, with the same outcome per
 * fill as pos_on_fill; a fill that cannot be applied is failed alone. When
 * the batch's transaction fails as a whole, its fills are applied one by one
 * with pos_fill_apply, so one bad fill never holds the others back. */
tb_status pos_on_fills(bus_ctx *ctx, const bus_batch *b);

/* pos_on_fill's work for a fill that arrived on subject with trace: its own
 * transaction and pos.update. err says why it failed. */
tb_status pos_fill_apply(bus_ctx *ctx, const char *subject, const char *trace, const tb_fill *f,
                         tb_error *err) TB_WARN_UNUSED;

/* Checks a fill before booking (subject, side, qty, price, ts; counted as
 * rejected when it fails) and gives its pnl input. */
tb_status pos_fill_check(pos_service *svc, const char *subject, const tb_fill *f, pos_fill_in *in,
                         tb_error *err) TB_WARN_UNUSED;

/* Publishes pos.update.<account>.<symbol> for f with the position st (after
 * f's commit), its mark and the account's cash. */
void pos_fill_publish(bus_actor *a, const char *trace, const tb_fill *f, const pos_state *st,
                      tb_fixed last_price, tb_fixed cash);

#endif
