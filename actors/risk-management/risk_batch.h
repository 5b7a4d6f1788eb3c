/* The handler of sig.> as a batch endpoint: every signal of a batch is
 * decided as risk_process would decide it alone (same checks, reasons,
 * orders and risk.decision events), with the store round trips shared by
 * the batch: per account one transaction and one commit for all its
 * orders. */
#ifndef RISK_BATCH_H
#define RISK_BATCH_H

#include "risk_flow.h"

tb_status risk_on_signals(bus_ctx *ctx, const bus_batch *b);

/* Signals or order requests decided as one batch at most. Each holds a
 * 6.8 KB item while it is decided (its intent and outcome, with room for
 * every failed check), so 256 bound a batch's memory to 1.7 MB: at the
 * runtime's default of 1,024 the bursts at the start of a replay made the
 * service's RSS jump by 10 MB. The store round trips are still shared by
 * 256 orders, and a batch of that size only forms while the service is
 * behind. */
#define RISK_BATCH_MAX 256

/* The handler of api.orders.submit as a batched request endpoint: each
 * request is answered as risk_on_submit would answer it alone (the order
 * record, or rejected / conflict with the failed checks), the orders of one
 * account recorded in one transaction. */
tb_status risk_on_submits(bus_ctx *ctx, const bus_batch *b);

#endif
