/* See parallel.h. The threads are kept between calls: an order's checks
 * (a quote, positions and P&L asked at once) take about a millisecond, and
 * starting and joining two threads per order cost as much as one of those
 * requests (clone, stack faults, robust-list and rseq set-up, the join).
 * A call wakes idle threads first and starts new ones only for the help it
 * still lacks, so each call has up to BUS_PARALLEL_MAX - 1 helpers as when
 * threads were started per call, however many calls run at once; a thread
 * idle for IDLE_EXIT_MS ends, so a burst leaves nothing behind. */
#include "parallel.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#define IDLE_EXIT_MS 10000

/* The jobs of one call. Guarded by mu, like everything below. */
typedef struct job_set {
    bus_job_fn fn;
    void *const *args;
    size_t n;
    size_t next;    /* the next job to take */
    size_t done;    /* jobs finished */
    size_t helpers; /* pool threads working on the set */
    size_t want;    /* helpers it can use */
    pthread_cond_t finished;
    struct job_set *link;
} job_set;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;
static job_set *sets;  /* calls with jobs not yet taken */
static size_t idle;    /* pool threads waiting for work */
static size_t wakeups; /* idle threads signalled and not yet up */

/* Runs the set's jobs until none is left to take. Called and returns with
 * mu held. */
static void drain(job_set *s) {
    while (s->next < s->n) {
        size_t i = s->next++;
        pthread_mutex_unlock(&mu);
        s->fn(s->args[i]);
        pthread_mutex_lock(&mu);
        if (++s->done == s->n) pthread_cond_signal(&s->finished);
    }
}

/* A set that can use another helper, or NULL. */
static job_set *wanting(void) {
    for (job_set *s = sets; s; s = s->link)
        if (s->next < s->n && s->helpers < s->want) return s;
    return NULL;
}

static void *pool_thread(void *arg) {
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        job_set *s = wanting();
        if (s != NULL) {
            s->helpers++;
            drain(s);
            s->helpers--;
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += IDLE_EXIT_MS / 1000;
        idle++;
        int rc = pthread_cond_timedwait(&work, &mu, &until);
        idle--;
        if (wakeups > 0) wakeups--;
        if (rc == ETIMEDOUT && wanting() == NULL) break;
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* Finds want helpers: idle threads first, then new ones. mu held. */
static void call_helpers(size_t want) {
    size_t sleeping = idle > wakeups ? idle - wakeups : 0;
    for (; want > 0 && sleeping > 0; want--, sleeping--) {
        wakeups++;
        pthread_cond_signal(&work);
    }
    pthread_attr_t attr;
    if (want == 0 || pthread_attr_init(&attr) != 0) return;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (; want > 0; want--) {
        pthread_t th;
        if (pthread_create(&th, &attr, pool_thread, NULL) != 0) break; /* the caller works on */
    }
    pthread_attr_destroy(&attr);
}

void bus_parallel(bus_job_fn fn, void *const *args, size_t n) {
    if (n == 0) return;
    if (n == 1) {
        fn(args[0]);
        return;
    }
    job_set s = {.fn = fn, .args = args, .n = n};
    s.want = (n < BUS_PARALLEL_MAX ? n : BUS_PARALLEL_MAX) - 1;
    pthread_cond_init(&s.finished, NULL);
    pthread_mutex_lock(&mu);
    s.link = sets;
    sets = &s;
    call_helpers(s.want);
    drain(&s);
    while (s.done < s.n) pthread_cond_wait(&s.finished, &mu);
    for (job_set **p = &sets; *p; p = &(*p)->link)
        if (*p == &s) {
            *p = s.link;
            break;
        }
    pthread_mutex_unlock(&mu);
    pthread_cond_destroy(&s.finished);
}
