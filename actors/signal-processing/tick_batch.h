/* The pure part of the batched tick path (ticks.c): putting a batch in
 * order, deciding per (strategy, symbol) which ticks apply now, and the text
 * form of a tick parked in Redis for another worker.
 *
 * A batch holds ticks of many symbols in arrival order. sp_batch_group sorts
 * them by (symbol, seq), drops a second copy of the same (symbol, seq) and
 * reports one run per symbol. sp_batch_plan walks one run against the state's
 * last applied seq with the rules of sequencer.h: the ticks that follow the
 * state contiguously (or restart it) apply in order, the others wait (they
 * are parked), seq 0 is stale. No I/O. */
#ifndef SP_TICK_BATCH_H
#define SP_TICK_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "money.h"
#include "sequencer.h"

/* Largest usable tick seq: parked ticks are scored by seq in a Redis sorted
 * set, whose scores are doubles, exact up to 2^53. */
#define SP_SEQ_LIMIT (UINT64_C(1) << 53)

/* One tick of a batch, by reference. */
typedef struct sp_tick_ref {
    const char *symbol;
    uint64_t seq;
    size_t index; /* position in the batch (first copy wins among duplicates) */
} sp_tick_ref;

/* A symbol's ticks within the grouped array: refs[start .. start + len). */
typedef struct sp_tick_run {
    size_t start, len;
} sp_tick_run;

/* Sorts refs[0..n) by (symbol, seq, index) and removes every later copy of
 * a (symbol, seq); returns the new count and stores the removed copies'
 * count in *duplicates. runs (capacity n) receives one run per symbol, in
 * symbol order, *nruns their number. */
size_t sp_batch_group(sp_tick_ref *refs, size_t n, sp_tick_run *runs, size_t *nruns,
                      size_t *duplicates);

/* Decides ticks seq[0..n) (ascending) of one (strategy, symbol) against the
 * state (*has, *last). waited_out[i] (NULL: none) marks a tick whose bounded
 * wait for its predecessor has expired. acts[i] receives the action:
 * APPLY, START, RESTART and GAP apply in array order, WAIT parks the tick,
 * STALE drops it. *has and *last become the state after the applied ticks.
 * Returns how many apply. */
size_t sp_batch_plan(bool *has, uint64_t *last, const uint64_t *seq, const bool *waited_out,
                     size_t n, sp_seq_action *acts);

/* True for the actions that apply the tick. */
bool sp_seq_applies(sp_seq_action a);

/* A parked tick as stored in Redis: "<seq>|<parked ms>|<price>|<ts>|<trace>".
 * The worker sends the part after the parked time (sp_parked_format); the
 * park script prefixes seq and its own clock. */
typedef struct sp_parked {
    uint64_t seq;
    tb_fixed price;
    int64_t ts;
    uint32_t arrival; /* index in its batch; SP_ARRIVAL_PARKED when taken from Redis */
    char trace[128];
} sp_parked;

/* A parked tick's arrival: after every tick of the batch that released it. */
#define SP_ARRIVAL_PARKED UINT32_MAX

/* "<price>|<ts>|<trace>" into buf; returns the length, or 0 when it does not
 * fit. */
size_t sp_parked_format(tb_fixed price, int64_t ts, const char *trace, char *buf, size_t cap);
/* Parses a stored member; false when it is not one this code wrote (wrong
 * field count, non-numbers, seq out of range, trace too long). */
bool sp_parked_parse(const char *text, size_t len, sp_parked *out);

#endif
