/* Keeping a service's resident memory flat (see actor_internal.h).
 *
 * glibc gives every thread that allocates its own malloc arena (up to eight
 * per core), and a service runs many threads: nats.c's delivery threads,
 * stream fetchers, timers. Memory freed in an arena other than the main one
 * is only returned to the kernel when it sits at the arena's top, so a
 * long-running service with request and reply buffers passing between
 * threads keeps growing (risk-management reached 42 MB after a
 * 1,000,000-tick replay, with seven 64 MB arenas reserved). Two arenas are
 * plenty for services whose threads mostly wait on the network, and a
 * periodic malloc_trim hands free pages inside the heaps back as well. */
#include <stdlib.h>

#include "actor_internal.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#define BUS_MALLOC_ARENAS 2

void bus_memory_init(void) {
#ifdef __GLIBC__
    /* MALLOC_ARENA_MAX in the environment is glibc's own setting: an
     * operator's choice wins. */
    const char *v = getenv("MALLOC_ARENA_MAX");
    if (v == NULL || *v == '\0') (void)mallopt(M_ARENA_MAX, BUS_MALLOC_ARENAS);
#endif
}

void bus_memory_trim_tick(bus_actor *a, void *arg) {
    (void)a;
    (void)arg;
#ifdef __GLIBC__
    (void)malloc_trim(0);
#endif
}
