/* PostgreSQL array literals ("{...}" text) built in memory: how a batched
 * consumer sends a whole batch as a few unnest() parameters, one round trip
 * for any number of rows. No I/O.
 *
 * Strings are always double-quoted with " and \ escaped, so any text (a
 * tick's source may hold ':' '/' ',' or braces) stays one element. Out of
 * memory is sticky: bus_pgarray_finish then returns NULL. A zeroed
 * bus_pgarray is an initialised empty one. */
#ifndef BUS_PGARRAY_H
#define BUS_PGARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "money.h"
#include "status.h"

typedef struct bus_pgarray {
    char *p;
    size_t len, cap;
    size_t n; /* elements so far */
    bool oom;
} bus_pgarray;

/* Starts an empty array (caller memory; free with bus_pgarray_close). */
void bus_pgarray_init(bus_pgarray *a);
void bus_pgarray_close(bus_pgarray *a);
/* Empties the array, keeping its memory. */
void bus_pgarray_reset(bus_pgarray *a);

void bus_pgarray_str(bus_pgarray *a, const char *s);
void bus_pgarray_i64(bus_pgarray *a, int64_t v);
void bus_pgarray_u64(bus_pgarray *a, uint64_t v);
/* A tb_fixed as an exact decimal (for numeric[]). */
void bus_pgarray_fixed(bus_pgarray *a, tb_fixed v);
/* bytes as lowercase hex, quoted (for decode(x, 'hex')). */
void bus_pgarray_hex(bus_pgarray *a, const uint8_t *bytes, size_t n);

/* Closes the literal and returns it (borrowed until the next call on a), or
 * NULL when memory ran out at any point. */
const char *bus_pgarray_finish(bus_pgarray *a);

/* The columns of a statement: finishes a[0..n) into out[0..n) (statement
 * parameters), TB_NOMEM when memory ran out in any; closes a[0..n). */
tb_status bus_pgarray_finish_all(bus_pgarray *a, size_t n, const char **out,
                                 tb_error *err) TB_WARN_UNUSED;
void bus_pgarray_close_all(bus_pgarray *a, size_t n);

#endif
