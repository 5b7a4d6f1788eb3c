/* Marks of a batch of ticks as a pure reduction: a mark only needs the
 * newest price of its symbol, so a batch of any size becomes one mark per
 * symbol before anything is written. Unit-tested in
 * tests/unit/test_pos_mark_batch.c. */
#ifndef POS_MARK_BATCH_H
#define POS_MARK_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"

/* The newest usable price of one symbol. */
typedef struct pos_mark {
    char symbol[TB_TOKEN_CAP];
    tb_fixed price;
    int64_t ts;   /* tick time, ns */
    uint64_t seq; /* tick sequence, orders ticks of the same time */
} pos_mark;

/* Whether a is newer than b: later time, or the same time and a higher
 * sequence. */
bool pos_mark_newer(const pos_mark *a, const pos_mark *b);

/* Reduces ticks[0..n) to the newest mark of each symbol (pos_mark_newer;
 * of two equally new ticks the first one stays). Ticks without a usable
 * price (pos_mark_price) are skipped. out needs room for n marks; they come
 * in the order their symbols first appear. Returns how many. */
size_t pos_marks_reduce(const tb_tick *const *ticks, size_t n, pos_mark *out);

#endif
