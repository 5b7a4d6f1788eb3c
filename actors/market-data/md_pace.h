/* Pacing arithmetic for the feeds: when the next tick is due, and the tick
 * rate reported in metrics. Pure functions; the caller owns the clock.
 *
 *   simulator: tick i (from 0) of a feed running at `rate` ticks per second
 *              is due i * 1e9 / rate ns after the feed started.
 *   replay:    a row with timestamp ts is due (ts - first_ts) / speed ns
 *              after the replay started, first_ts being the first row's ts;
 *              rows older than first_ts are due at once.
 * rate 0 / speed 0 mean as fast as possible: everything is due at 0. */
#ifndef MD_PACE_H
#define MD_PACE_H

#include <stdint.h>

int64_t md_pace_rate_offset_ns(uint64_t index, uint64_t rate_per_s);
int64_t md_pace_replay_offset_ns(int64_t first_ts, int64_t ts, uint64_t speed);
/* How many ticks are due once elapsed_ns passed: the index of the first tick
 * whose md_pace_rate_offset_ns is later; UINT64_MAX when rate is 0. */
uint64_t md_pace_rate_due(int64_t elapsed_ns, uint64_t rate_per_s);
/* Ticks per second between two samples of a counter; 0 when no time passed. */
int64_t md_pace_rate_per_s(uint64_t count_before, uint64_t count_now, int64_t elapsed_ns);

#endif
