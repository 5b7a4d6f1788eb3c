/* The symbols whose parked ticks a worker must look at again, and the timer
 * that does it. A tick parks in Redis when its predecessor has not been
 * applied yet; whoever applies the predecessor takes it out. When the
 * predecessor was lost (core NATS is at most once), nobody does: so the
 * worker that saw parked ticks notes the symbol here and looks again once
 * the wait has expired, when the advance script applies the ticks across
 * the gap. Any worker that later touches the symbol does the same, so a
 * worker killed with parked ticks leaves nothing stuck for longer than the
 * next tick of that symbol, or another worker's look. */
#include <stdlib.h>
#include <string.h>

#include "sp.h"

/* Symbols handled per timer run; the rest wait for the next run. */
#define REVISIT_PER_RUN 256

void sp_revisit_add(sp_service *svc, const char *symbol, int64_t due_ns) {
    pthread_mutex_lock(&svc->revisit_mu);
    for (size_t i = 0; i < svc->nrevisit; i++)
        if (strcmp(svc->revisit[i].symbol, symbol) == 0) {
            if (due_ns < svc->revisit[i].due_ns) svc->revisit[i].due_ns = due_ns;
            pthread_mutex_unlock(&svc->revisit_mu);
            return;
        }
    if (svc->nrevisit == svc->revisit_cap) {
        size_t cap = svc->revisit_cap ? svc->revisit_cap * 2 : 64;
        sp_revisit_entry *v = realloc(svc->revisit, cap * sizeof *v);
        if (v == NULL) {
            pthread_mutex_unlock(&svc->revisit_mu);
            bus_log(BUS_LOG_ERROR, "no memory to note parked ticks of %s", symbol);
            return;
        }
        svc->revisit = v;
        svc->revisit_cap = cap;
    }
    sp_revisit_entry *e = &svc->revisit[svc->nrevisit++];
    snprintf(e->symbol, sizeof e->symbol, "%s", symbol);
    e->due_ns = due_ns;
    pthread_mutex_unlock(&svc->revisit_mu);
}

size_t sp_revisit_take(sp_service *svc, int64_t now_ns, char (*out)[TB_TOKEN_CAP], size_t cap) {
    size_t n = 0;
    pthread_mutex_lock(&svc->revisit_mu);
    for (size_t i = 0; i < svc->nrevisit && n < cap;) {
        if (svc->revisit[i].due_ns > now_ns) {
            i++;
            continue;
        }
        memcpy(out[n++], svc->revisit[i].symbol, TB_TOKEN_CAP);
        svc->revisit[i] = svc->revisit[--svc->nrevisit];
    }
    pthread_mutex_unlock(&svc->revisit_mu);
    return n;
}

void sp_revisit_free(sp_service *svc) {
    free(svc->revisit);
    svc->revisit = NULL;
    svc->nrevisit = svc->revisit_cap = 0;
}

void sp_revisit_timer(bus_actor *a, void *arg) {
    (void)arg;
    sp_service *svc = bus_actor_user(a);
    if (svc == NULL) return;
    char due[REVISIT_PER_RUN][TB_TOKEN_CAP]; /* 16 KiB */
    size_t n = sp_revisit_take(svc, bus_mono_ns(), due, REVISIT_PER_RUN);
    if (n == 0) return;
    tb_error err = {0};
    if (sp_ticks_revisit(a, (const char(*)[TB_TOKEN_CAP])due, n, &err) != TB_OK) {
        /* Try again at the next run rather than leave the ticks parked. */
        for (size_t i = 0; i < n; i++) sp_revisit_add(svc, due[i], bus_mono_ns());
        bus_log(BUS_LOG_WARN, "parked ticks of %zu symbol(s) not looked at: %s", n, err.message);
    }
}
