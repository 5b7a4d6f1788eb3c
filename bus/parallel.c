/* See parallel.h. Threads are started per call: the jobs are requests of a
 * millisecond or more, beside which a thread start (tens of microseconds)
 * is small, and nothing stays running between calls. */
#include "parallel.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct share {
    bus_job_fn fn;
    void *const *args;
    size_t n;
    atomic_size_t next; /* the next job to take */
} share;

static void *take_jobs(void *arg) {
    share *s = arg;
    for (size_t i; (i = atomic_fetch_add(&s->next, 1)) < s->n;) s->fn(s->args[i]);
    return NULL;
}

void bus_parallel(bus_job_fn fn, void *const *args, size_t n) {
    share s = {.fn = fn, .args = args, .n = n};
    atomic_init(&s.next, 0);
    pthread_t th[BUS_PARALLEL_MAX - 1];
    size_t started = 0;
    size_t want = n < BUS_PARALLEL_MAX ? n : BUS_PARALLEL_MAX;
    for (size_t k = 1; k < want; k++)
        if (pthread_create(&th[started], NULL, take_jobs, &s) == 0) started++;
    take_jobs(&s);
    for (size_t k = 0; k < started; k++) pthread_join(th[k], NULL);
}
