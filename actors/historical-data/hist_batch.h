/* A batch of ticks merged in memory before it is stored: pure, no I/O.
 *
 * historical-data takes every tick already queued (a bus batch), and this
 * file turns it into what the store needs in a constant number of round
 * trips:
 *
 *   1. hist_batch_add each valid tick (borrowed strings, until reset);
 *   2. hist_batch_group sorts the ticks by identity, drops the copies inside
 *      the batch and lists the seen-set blocks the batch touches, sorted;
 *   3. the store loads (and locks) those blocks' bitmaps into blocks[i].bits;
 *   4. hist_batch_merge drops the ticks whose bit is already set, sets the
 *      bits of the others and merges them into one partial bar per (symbol,
 *      interval, bucket), sorted by that key (hist_bar_merge's rules, so the
 *      result is the same in any order and any split over workers);
 *   5. the store ORs the bitmaps back and upserts the bars, in the same
 *      transaction.
 *
 * Tick identity. A tick is (symbol, source, seq, hour of its event time): a
 * copy of a tick has all four equal. Market data numbers ticks per symbol
 * without gaps, so a seen-set is a bitmap of seqs per block of
 * HIST_SEEN_BLOCK_SEQS, one per (symbol, source, hour, block). A feed whose
 * seq restarts at 1 (its counter was reset) is new data when it comes from
 * another source or its ticks carry other hours than the earlier ones with
 * the same seqs; two ticks of one source claiming one seq in one hour are
 * one tick (the first stored wins). */
#ifndef HIST_BATCH_H
#define HIST_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist_bar.h"

#define HIST_SEEN_BLOCK_SEQS  1024
#define HIST_SEEN_BLOCK_BYTES (HIST_SEEN_BLOCK_SEQS / 8)
#define HIST_SEEN_WINDOW_NS   (INT64_C(3600) * HIST_NS_PER_SEC)

typedef enum {
    HIST_TICK_NEW,       /* counted in this batch's bars */
    HIST_TICK_DUP_BATCH, /* a copy of an earlier tick of the same batch */
    HIST_TICK_DUP_SEEN,  /* stored before (its bit was set) */
} hist_tick_outcome;

typedef struct hist_batch_tick {
    const char *symbol, *source; /* borrowed; source "" when the tick has none */
    uint64_t seq;
    int64_t ts;
    tb_fixed price, size;
    int64_t window; /* floor(ts / HIST_SEEN_WINDOW_NS) */
    size_t block;   /* index into blocks (after group) */
    size_t index;   /* the caller's position of the tick (bus batch index) */
    hist_tick_outcome outcome;
} hist_batch_tick;

/* The seen-set of one (symbol, source, window, block): bit k of bits (byte
 * k / 8, bit k % 8, least significant first) is seq block *
 * HIST_SEEN_BLOCK_SEQS + k. */
typedef struct hist_seen_block {
    const char *symbol, *source; /* borrowed from a tick */
    int64_t window;
    int64_t block;
    uint8_t bits[HIST_SEEN_BLOCK_BYTES];
    bool dirty; /* merge set a bit: write it back */
} hist_seen_block;

/* A partial bar: what this batch's new ticks add to one stored bar. */
typedef struct hist_bar_row {
    const char *symbol; /* borrowed from a tick */
    hist_interval iv;
    hist_bar bar;
    bool fresh; /* hist_fresh_mark: stored with a plain INSERT */
} hist_bar_row;

typedef struct hist_batch {
    hist_batch_tick *ticks;
    size_t nticks, cap_ticks;
    hist_seen_block *blocks; /* sorted by (symbol, source, window, block) */
    size_t nblocks, cap_blocks;
    hist_bar_row *bars; /* sorted by (symbol, interval, start) */
    size_t nbars, cap_bars;
    size_t nnew, ndup; /* after merge: ticks counted, copies dropped */
} hist_batch;

void hist_batch_init(hist_batch *b);
/* Frees what the batch holds (the borrowed strings are not its). */
void hist_batch_close(hist_batch *b);
/* Empties the batch, keeping its memory. */
void hist_batch_reset(hist_batch *b);

/* Adds one tick (already validated: seq <= INT64_MAX, price from
 * hist_tick_price). symbol and source are borrowed until reset/close; source
 * may be NULL (read as ""). index is handed back in ticks[].index.
 * TB_NOMEM when out of memory. */
tb_status hist_batch_add(hist_batch *b, const char *symbol, const char *source, uint64_t seq,
                         int64_t ts, tb_fixed price, tb_fixed size, size_t index) TB_WARN_UNUSED;

/* Sorts the ticks by identity (then ts, price, size, so the copy kept is the
 * same whatever the arrival order), marks copies HIST_TICK_DUP_BATCH and
 * builds the zeroed, sorted, distinct block list. TB_NOMEM. */
tb_status hist_batch_group(hist_batch *b) TB_WARN_UNUSED;

/* The block with this key, NULL when the batch has none (binary search). */
hist_seen_block *hist_batch_find_block(hist_batch *b, const char *symbol, const char *source,
                                       int64_t window, int64_t block);

/* With blocks[].bits holding the stored seen-sets: marks the ticks already
 * seen HIST_TICK_DUP_SEEN, sets the bits of the rest (dirty blocks) and
 * builds bars from them. TB_OVERFLOW when a bar's volume leaves tb_fixed's
 * range (bars then incomplete: store nothing), TB_NOMEM. */
tb_status hist_batch_merge(hist_batch *b) TB_WARN_UNUSED;

#endif
