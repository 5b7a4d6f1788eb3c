/* Replay resend ring and round budget; see md_resend.h. */
#include "md_resend.h"

#include <stdlib.h>
#include <string.h>

size_t md_resend_capacity(uint64_t window) {
    if (window > MD_RESEND_MAX_TICKS / 2) return MD_RESEND_MAX_TICKS;
    return (size_t)(2 * window);
}

bool md_resend_init(md_resend_ring *r, size_t cap) {
    memset(r, 0, sizeof *r);
    if (cap == 0 || cap > SIZE_MAX / sizeof *r->ticks) return false;
    r->ticks = malloc(cap * sizeof *r->ticks);
    if (r->ticks == NULL) return false;
    r->cap = cap;
    return true;
}

void md_resend_free(md_resend_ring *r) {
    free(r->ticks);
    memset(r, 0, sizeof *r);
}

void md_resend_push(md_resend_ring *r, const tb_tick *ticks, size_t n) {
    if (r->cap == 0) return;
    /* Only the last cap of a long push can survive it. */
    if (n > r->cap) {
        ticks += n - r->cap;
        n = r->cap;
    }
    for (size_t i = 0; i < n; i++) {
        r->ticks[r->head] = ticks[i];
        r->head = (r->head + 1) % r->cap;
    }
    r->count = r->count + n > r->cap ? r->cap : r->count + n;
}

const tb_tick *md_resend_at(const md_resend_ring *r, size_t i) {
    if (i >= r->count) return NULL;
    size_t oldest = (r->head + r->cap - r->count) % r->cap;
    return &r->ticks[(oldest + i) % r->cap];
}

void md_resend_budget_init(md_resend_budget *b, uint32_t rounds) {
    memset(b, 0, sizeof *b);
    b->left = rounds;
}

bool md_resend_request(md_resend_budget *b, const md_resend_ring *r) {
    if (b->requested) return true;
    if (b->left == 0 || r->count == 0) return false;
    b->left--;
    b->requested = true;
    return true;
}

size_t md_resend_take(md_resend_budget *b, const md_resend_ring *r) {
    if (!b->requested) return 0;
    b->requested = false;
    b->done++;
    b->resent += r->count;
    return r->count;
}
