/* PostgreSQL array literals ("{...}" text) built in memory: how
 * historical-data sends a whole batch as a few unnest() parameters, one
 * round trip for any number of rows. No I/O.
 *
 * Strings are always double-quoted with " and \ escaped, so any text (a
 * tick's source may hold ':' '/' ',' or braces) stays one element. Out of
 * memory is sticky: hist_pgarray_finish then returns NULL. */
#ifndef HIST_PGARRAY_H
#define HIST_PGARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "money.h"

typedef struct hist_pgarray {
    char *p;
    size_t len, cap;
    size_t n; /* elements so far */
    bool oom;
} hist_pgarray;

/* Starts an empty array (caller memory; free with hist_pgarray_close). */
void hist_pgarray_init(hist_pgarray *a);
void hist_pgarray_close(hist_pgarray *a);
/* Empties the array, keeping its memory. */
void hist_pgarray_reset(hist_pgarray *a);

void hist_pgarray_str(hist_pgarray *a, const char *s);
void hist_pgarray_i64(hist_pgarray *a, int64_t v);
/* A tb_fixed as an exact decimal (for numeric[]). */
void hist_pgarray_fixed(hist_pgarray *a, tb_fixed v);
/* bytes as lowercase hex, quoted (for decode(x, 'hex')). */
void hist_pgarray_hex(hist_pgarray *a, const uint8_t *bytes, size_t n);

/* Closes the literal and returns it (borrowed until the next call on a), or
 * NULL when memory ran out at any point. */
const char *hist_pgarray_finish(hist_pgarray *a);

#endif
