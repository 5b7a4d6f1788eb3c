/* Replay resend: the last ticks a full-speed replay published, kept so that
 * ticks a killed consumer worker lost can be published once more.
 *
 * Ticks are core NATS (at most once): ticks queued in a worker killed with -9,
 * and for a partitioned service the ticks of its partitions until its
 * membership entry expires, are gone. Flow control keeps every paced service
 * within the window of what was published, so when a worker dies the ticks
 * it had not finished lie within the last `window` published ones, and until
 * the loss is noticed (a stall, or the end of the file) at most another
 * window is published: a ring of 2 x window ticks still holds every lost
 * tick then. Re-publishing the whole ring is harmless: every tick consumer is
 * idempotent for a tick delivered twice (exact seq dedupe, last_seq checks,
 * compare-and-set), and they report every finished message, duplicates
 * included, so the pacing counts the resent ticks as published.
 *
 * The ring keeps the ticks as published (seq and source set): encoding is
 * deterministic, so re-encoding gives the same payload. Pure; not
 * thread-safe (the replay thread owns it). */
#ifndef MD_RESEND_H
#define MD_RESEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"

/* Default rounds of resending per replay (MD_REPLAY_RESEND_ROUNDS). */
#define MD_RESEND_ROUNDS_DEFAULT 3

typedef struct md_resend_ring {
    tb_tick *ticks; /* cap slots */
    size_t cap;
    size_t head;  /* slot the next tick goes to */
    size_t count; /* ticks held, <= cap */
} md_resend_ring;

/* Most ticks a ring keeps (about 190 MB): a window above half of it gets a
 * ring shorter than two windows rather than one that may not fit in memory. */
#define MD_RESEND_MAX_TICKS 1000000

/* Capacity a replay with this flow window needs: 2 x window (see above),
 * at most MD_RESEND_MAX_TICKS. */
size_t md_resend_capacity(uint64_t window);
/* Allocates cap slots; false when out of memory (the ring stays empty and
 * unusable, and every other call is a no-op). */
bool md_resend_init(md_resend_ring *r, size_t cap);
void md_resend_free(md_resend_ring *r);
/* Keeps ticks[0..n), overwriting the oldest when full. */
void md_resend_push(md_resend_ring *r, const tb_tick *ticks, size_t n);
/* The i-th oldest tick held (i < count). */
const tb_tick *md_resend_at(const md_resend_ring *r, size_t i);

/* Resend rounds of one replay. A stall or an unfinished end asks for a
 * round; a round is granted while rounds are left and the ring holds
 * ticks, otherwise the stalled service is dropped from pacing as before. */
typedef struct md_resend_budget {
    uint32_t left;   /* rounds still allowed in this replay */
    uint32_t done;   /* rounds taken */
    uint64_t resent; /* ticks resent in all */
    bool requested;  /* a stall asked for a round not yet taken */
} md_resend_budget;

void md_resend_budget_init(md_resend_budget *b, uint32_t rounds);
/* A stalled service asks for a round: true (and requested set) when one is
 * granted, false when the service must be dropped instead. A request still
 * pending is shared by every service that stalls meanwhile. */
bool md_resend_request(md_resend_budget *b, const md_resend_ring *r);
/* Takes the pending round: how many ticks to resend (the ring's count), 0
 * when none was requested. */
size_t md_resend_take(md_resend_budget *b, const md_resend_ring *r);

#endif
