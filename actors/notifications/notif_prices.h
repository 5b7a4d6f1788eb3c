/* Price rules (price_above, price_below) over a batch of ticks: the glue
 * between the pure batch evaluation (notif_price_batch.h), the crossing
 * state in Redis and the alerts in PostgreSQL. */
#ifndef NOTIF_PRICES_H
#define NOTIF_PRICES_H

#include "notif_service.h"

/* Evaluates the cached price rules of the symbols of obs[0..n) (key =
 * symbol, value = price, in arrival order) with a constant number of store
 * round trips: one read of every rule's crossing state, the pure steps, one
 * compare-and-set of every state that moved (the keys another worker changed
 * in between are read and stepped again), and one transaction for the
 * alerts that fired, published afterwards. traces[i] (NULL: none) is the
 * trace id of obs[i]; the alerts carry the trace of the first tick that
 * fired. */
tb_status notif_eval_prices(notif_io *io, const notif_obs *obs, const char *const *traces, size_t n,
                            tb_error *err) TB_WARN_UNUSED;

#endif
