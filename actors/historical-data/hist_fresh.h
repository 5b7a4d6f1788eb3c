/* Which of a batch's bars are new rows for certain enough to be inserted
 * without ON CONFLICT: pure, no I/O.
 *
 * A replay of second-spaced ticks makes a new 1s bar for almost every tick,
 * and an upsert (INSERT ... ON CONFLICT DO UPDATE) costs PostgreSQL about
 * twice a plain insert: it probes the primary key, inserts speculatively,
 * then confirms. This process remembers, per (symbol, interval), the newest
 * bar start it has stored; a bar that starts after it is written with a
 * plain INSERT. That is only a guess: another worker may have stored the
 * bar (a partition handed over, a process that restarted), and then the
 * insert fails on the primary key, the whole transaction rolls back and the
 * batch is written again with every bar upserted (hist_store_apply_batch).
 * So the guess decides the cost, never the result.
 *
 * A fixed table of slots, one key each; a key that collides replaces the
 * slot's (its bars are then upserted until stored again). Thread-safe. */
#ifndef HIST_FRESH_H
#define HIST_FRESH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist_batch.h"

typedef struct hist_fresh hist_fresh;

/* A table of slots entries (rounded up to a power of two); NULL when out
 * of memory. */
hist_fresh *hist_fresh_create(size_t slots);
void hist_fresh_destroy(hist_fresh *f);

/* Sets rows[i].fresh for each row whose start is after the newest stored
 * start its key has here (a key it does not know is not fresh). f may be
 * NULL: nothing is fresh. */
void hist_fresh_mark(hist_fresh *f, hist_bar_row *rows, size_t n);
/* The rows were committed: their starts become their keys' newest where
 * they are newer. */
void hist_fresh_stored(hist_fresh *f, const hist_bar_row *rows, size_t n);
/* A fresh row was not new: the rows' keys are forgotten, so their next
 * bars are upserted until one of them is stored. Clears rows[i].fresh. */
void hist_fresh_forget(hist_fresh *f, hist_bar_row *rows, size_t n);

#endif
