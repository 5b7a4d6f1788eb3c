/* Independent waits of one handler at once: a handler that needs answers
 * from several services (a quote from market-data, positions and P&L from
 * position-management) waits for the slowest instead of the sum. */
#ifndef BUS_PARALLEL_H
#define BUS_PARALLEL_H

#include <stddef.h>

/* Most threads one bus_parallel call runs jobs on, the caller's included. */
#define BUS_PARALLEL_MAX 8

typedef void (*bus_job_fn)(void *arg);

/* Runs fn(args[i]) for every i in [0, n) and returns once all returned. Up
 * to BUS_PARALLEL_MAX - 1 threads of their own and the caller's take the
 * jobs in order, so n may be large; a thread that cannot be started only
 * leaves more jobs to the others. Jobs must not depend on each other. */
void bus_parallel(bus_job_fn fn, void *const *args, size_t n);

#endif
