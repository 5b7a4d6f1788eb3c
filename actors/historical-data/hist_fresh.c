/* The newest stored bar start per (symbol, interval); see hist_fresh.h. */
#include "hist_fresh.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"

typedef struct slot {
    char symbol[TB_TOKEN_CAP]; /* "" = empty */
    hist_interval iv;
    int64_t newest; /* start of the newest bar stored, ns */
} slot;

struct hist_fresh {
    pthread_mutex_t lock;
    size_t mask;
    slot *slots;
};

hist_fresh *hist_fresh_create(size_t slots) {
    size_t n = 16;
    while (n < slots && n < ((size_t)1 << 24)) n <<= 1;
    hist_fresh *f = calloc(1, sizeof *f);
    if (f == NULL) return NULL;
    f->slots = calloc(n, sizeof *f->slots);
    if (f->slots == NULL) {
        free(f);
        return NULL;
    }
    f->mask = n - 1;
    pthread_mutex_init(&f->lock, NULL);
    return f;
}

void hist_fresh_destroy(hist_fresh *f) {
    if (f == NULL) return;
    pthread_mutex_destroy(&f->lock);
    free(f->slots);
    free(f);
}

/* FNV-1a of the symbol, mixed with the interval. */
static size_t slot_of(const hist_fresh *f, const char *symbol, hist_interval iv) {
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)symbol; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    h = (h ^ (uint64_t)iv) * 1099511628211ULL;
    return (size_t)(h & f->mask);
}

static bool same_key(const slot *s, const char *symbol, hist_interval iv) {
    return s->iv == iv && strcmp(s->symbol, symbol) == 0;
}

void hist_fresh_mark(hist_fresh *f, hist_bar_row *rows, size_t n) {
    if (f == NULL) {
        for (size_t i = 0; i < n; i++) rows[i].fresh = false;
        return;
    }
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < n; i++) {
        const slot *s = &f->slots[slot_of(f, rows[i].symbol, rows[i].iv)];
        rows[i].fresh = same_key(s, rows[i].symbol, rows[i].iv) && rows[i].bar.start > s->newest;
    }
    pthread_mutex_unlock(&f->lock);
}

void hist_fresh_stored(hist_fresh *f, const hist_bar_row *rows, size_t n) {
    if (f == NULL) return;
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < n; i++) {
        const char *symbol = rows[i].symbol;
        if (strlen(symbol) >= TB_TOKEN_CAP) continue; /* cannot be held: never fresh */
        slot *s = &f->slots[slot_of(f, symbol, rows[i].iv)];
        if (same_key(s, symbol, rows[i].iv)) {
            if (rows[i].bar.start > s->newest) s->newest = rows[i].bar.start;
        } else {
            memcpy(s->symbol, symbol, strlen(symbol) + 1);
            s->iv = rows[i].iv;
            s->newest = rows[i].bar.start;
        }
    }
    pthread_mutex_unlock(&f->lock);
}

void hist_fresh_forget(hist_fresh *f, hist_bar_row *rows, size_t n) {
    if (f != NULL) pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < n; i++) {
        rows[i].fresh = false;
        if (f == NULL) continue;
        slot *s = &f->slots[slot_of(f, rows[i].symbol, rows[i].iv)];
        if (same_key(s, rows[i].symbol, rows[i].iv)) s->symbol[0] = '\0';
    }
    if (f != NULL) pthread_mutex_unlock(&f->lock);
}
