/* Actor-owned periodic work; see timer.h. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "actor_internal.h"
#include "timer.h"

static void *timer_main(void *arg) {
    bus_timer *t = arg;
    bus_actor *a = t->actor;
    bus_log_set_trace(NULL);
    for (;;) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + (t->interval_ms % 1000) * 1000000;
        until.tv_sec += t->interval_ms / 1000 + ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        pthread_mutex_lock(&a->timer_lock);
        int rc = 0;
        while (!atomic_load(&a->stopping) && !t->kicked && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&t->cond, &a->timer_lock, &until);
        t->kicked = false;
        pthread_mutex_unlock(&a->timer_lock);
        if (atomic_load(&a->stopping)) break;
        t->fn(a, t->arg);
    }
    return NULL;
}

tb_status bus_actor_add_timer(bus_actor *a, const char *name, int64_t interval_ms,
                              void (*fn)(bus_actor *a, void *arg), void *arg,
                              void (*free_arg)(void *arg), tb_error *err) {
    if (interval_ms <= 0 || fn == NULL) {
        if (free_arg) free_arg(arg);
        return tb_error_set(err, TB_INVALID, NULL, "bad timer");
    }
    pthread_mutex_lock(&a->timer_lock);
    if (a->ntimers >= BUS_MAX_TIMERS) {
        pthread_mutex_unlock(&a->timer_lock);
        if (free_arg) free_arg(arg);
        return tb_error_set(err, TB_ERR, NULL, "too many timers");
    }
    bus_timer *t = &a->timers[a->ntimers];
    memset(t, 0, sizeof *t);
    t->actor = a;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->interval_ms = interval_ms;
    t->fn = fn;
    t->arg = arg;
    t->free_arg = free_arg;
    int rc = pthread_cond_init(&t->cond, NULL); /* CLOCK_REALTIME, as `until` */
    if (rc == 0) {
        rc = pthread_create(&t->thread, NULL, timer_main, t);
        if (rc == 0)
            a->ntimers++;
        else
            pthread_cond_destroy(&t->cond);
    }
    pthread_mutex_unlock(&a->timer_lock);
    if (rc != 0 && free_arg) free_arg(arg);
    return rc == 0 ? TB_OK : tb_error_set(err, TB_NOMEM, NULL, "cannot start timer %s", name);
}

void bus_timers_stop(bus_actor *a) {
    pthread_mutex_lock(&a->timer_lock);
    atomic_store(&a->stopping, true);
    int n = a->ntimers;
    for (int i = 0; i < n; i++) pthread_cond_broadcast(&a->timers[i].cond);
    pthread_mutex_unlock(&a->timer_lock);
    for (int i = 0; i < n; i++) {
        pthread_join(a->timers[i].thread, NULL);
        pthread_cond_destroy(&a->timers[i].cond);
        if (a->timers[i].free_arg) a->timers[i].free_arg(a->timers[i].arg);
    }
    pthread_mutex_lock(&a->timer_lock);
    a->ntimers = 0;
    pthread_mutex_unlock(&a->timer_lock);
}

bool bus_actor_kick_timer(bus_actor *a, const char *name) {
    bool found = false;
    pthread_mutex_lock(&a->timer_lock);
    for (int i = 0; i < a->ntimers && !found; i++) {
        bus_timer *t = &a->timers[i];
        if (strcmp(t->name, name) != 0) continue;
        found = true;
        t->kicked = true;
        pthread_cond_signal(&t->cond);
    }
    pthread_mutex_unlock(&a->timer_lock);
    return found;
}
