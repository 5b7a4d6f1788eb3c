/* Price rules over a batch of ticks, as pure functions: every observation of
 * the batch steps a rule's crossing state in arrival order, exactly as one
 * tick at a time would, so a crossing inside the batch fires once whatever
 * the batch size; the store is read once before and written once after.
 * Unit-tested in tests/unit/test_notif_price_batch.c. */
#ifndef NOTIF_PRICE_BATCH_H
#define NOTIF_PRICE_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "notif_rules.h"
#include "notif_throttle.h"

/* Steps price rule r's crossing state from *prev through the observations
 * of its symbol in obs[0..n) (obs.key = symbol, value = price; others are
 * skipped), in order, at wall time now_ns. *next receives the final state
 * and *moved whether any observation was recorded (false: every one was
 * stale or of another symbol, nothing to write). fired (room for n)
 * receives the indices of the observations that fired; returns how many. */
size_t notif_price_steps(const notif_rule *r, const notif_cross *prev, const notif_obs *obs,
                         size_t n, int64_t now_ns, notif_cross *next, bool *moved, size_t *fired);

/* The distinct keys of obs[0..n) in order of first appearance: keys[]
 * (room for n) receives the index of each key's first observation; returns
 * how many. */
size_t notif_obs_keys(const notif_obs *obs, size_t n, size_t *keys);

#endif
