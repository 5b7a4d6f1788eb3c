/* Per-key throttle with trailing evaluation; see notif_throttle.h. An
 * open-addressing table of fixed size under one mutex: keys are symbols and
 * accounts, a few thousand at most, and each operation is a short probe. */
#include "notif_throttle.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    bool used;
    bool pending;
    int64_t window_start;
    notif_obs obs; /* key always; the rest valid while pending */
} slot;

struct notif_throttle {
    pthread_mutex_t lock;
    int64_t interval_ns;
    size_t n;
    slot *slots;
};

notif_throttle *notif_throttle_create(int64_t interval_ns, size_t slots) {
    notif_throttle *t = calloc(1, sizeof *t);
    if (t == NULL) return NULL;
    t->slots = calloc(slots ? slots : 1, sizeof *t->slots);
    if (t->slots == NULL) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    t->interval_ns = interval_ns;
    t->n = slots ? slots : 1;
    return t;
}

void notif_throttle_destroy(notif_throttle *t) {
    if (t == NULL) return;
    pthread_mutex_destroy(&t->lock);
    free(t->slots);
    free(t);
}

static uint64_t hash(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The key's slot, claimed when missing; NULL when the table is full. */
static slot *find(notif_throttle *t, const char *key) {
    size_t i = (size_t)(hash(key) % t->n);
    for (size_t probe = 0; probe < t->n; probe++, i = (i + 1) % t->n) {
        slot *s = &t->slots[i];
        if (!s->used) {
            s->used = true;
            snprintf(s->obs.key, sizeof s->obs.key, "%s", key);
            return s;
        }
        if (strcmp(s->obs.key, key) == 0) return s;
    }
    return NULL;
}

static bool newer(const notif_obs *a, const notif_obs *b) {
    return a->ts > b->ts || (a->ts == b->ts && a->seq > b->seq);
}

bool notif_throttle_offer(notif_throttle *t, const notif_obs *o, int64_t now_ns) {
    if (t->interval_ns <= 0) return true;
    pthread_mutex_lock(&t->lock);
    slot *s = find(t, o->key);
    bool now = true;
    if (s != NULL) {
        /* A fresh slot has window_start 0: its first observation goes through. */
        if (s->window_start == 0 || now_ns - s->window_start >= t->interval_ns) {
            s->window_start = now_ns;
            /* o is evaluated now; a pending observation stays only if it is
             * newer (o arrived out of order), for the next window. */
            if (s->pending && !newer(&s->obs, o)) s->pending = false;
        } else {
            now = false;
            if (!s->pending || !newer(&s->obs, o)) {
                s->obs = *o;
                s->pending = true;
            }
        }
    }
    pthread_mutex_unlock(&t->lock);
    return now;
}

size_t notif_throttle_take_due(notif_throttle *t, int64_t now_ns, notif_obs *out, size_t cap) {
    size_t k = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n && k < cap; i++) {
        slot *s = &t->slots[i];
        if (!s->used || !s->pending) continue;
        if (s->window_start != 0 && now_ns - s->window_start < t->interval_ns) continue;
        out[k++] = s->obs;
        s->pending = false;
        s->window_start = now_ns;
    }
    pthread_mutex_unlock(&t->lock);
    return k;
}
