/* Pacing arithmetic for the feeds: when the next tick is due, and the tick
 * rate reported in metrics. Pure functions; the caller owns the clock.
 *
 *   simulator: tick i (from 0) of a feed running at `rate` ticks per second
 *              is due i * 1e9 / rate ns after the feed started.
 *   replay:    a row with timestamp ts is due (ts - first_ts) / speed ns
 *              after the replay started, first_ts being the first row's ts;
 *              rows older than first_ts are due at once.
 * rate 0 / speed 0 mean as fast as possible: everything is due at 0. */
#ifndef MD_PACE_H
#define MD_PACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"
#include "md_resend.h"

int64_t md_pace_rate_offset_ns(uint64_t index, uint64_t rate_per_s);
int64_t md_pace_replay_offset_ns(int64_t first_ts, int64_t ts, uint64_t speed);
/* How many ticks are due once elapsed_ns passed: the index of the first tick
 * whose md_pace_rate_offset_ns is later; UINT64_MAX when rate is 0. */
uint64_t md_pace_rate_due(int64_t elapsed_ns, uint64_t rate_per_s);
/* Ticks per second between two samples of a counter; 0 when no time passed. */
int64_t md_pace_rate_per_s(uint64_t count_before, uint64_t count_now, int64_t elapsed_ns);

/* ---- Replay flow control (speed 0) ----
 *
 * A replay at full speed must not outrun the services that consume its
 * ticks. Every batched consumer instance reports, on bus.flow.<service>, how
 * many messages it has finished since it started (tb_flow). md_flow keeps,
 * for every service with an endpoint on md.tick.*, the progress since the
 * replay began: the sum over its instances of (latest handled - baseline),
 * the baseline being an instance's count when the replay began, or its first
 * report when it appears later. The replay may publish while
 * published - min over services (progress) stays within the window.
 *
 * A service whose progress has not moved for stall_ns while the window was
 * full for it (killed, hung) is dropped from the minimum, so a backtest never
 * hangs on it; when it moves again it is readmitted, its backlog at the drop
 * forgiven (those ticks were most likely lost with the worker; its raw
 * progress still shows them missing). No service known: no pacing.
 *
 * With a resend ring armed (md_flow_resend_arm), a stall first asks for a
 * resend round instead (md_resend.h): the replay re-publishes its last ticks,
 * which brings back what the dead worker lost. The stalled service's backlog
 * is forgiven at once (the resend heals it; the resent ticks count as
 * published and are reported as finished), and every service's stall timer
 * starts again. A stalled service is dropped when the rounds are used up,
 * or when it finished nothing since the replay began or since its last
 * round (no live worker left: resending cannot help).
 * Not thread-safe: the caller locks. */
#define MD_FLOW_MAX_SERVICES  32
#define MD_FLOW_MAX_INSTANCES 256

typedef struct md_flow_instance {
    char service[TB_TOKEN_CAP];
    char instance[TB_TOKEN_CAP];
    char endpoint[TB_TOKEN_CAP];
    uint64_t handled; /* latest report */
    uint64_t base;    /* handled when the replay began, or at its first report */
    uint64_t lost;    /* members_lost of the latest report */
    bool lost_known;  /* lost is from a report (not yet: the next one is the baseline) */
} md_flow_instance;

typedef struct md_flow_service {
    char name[TB_TOKEN_CAP];
    uint64_t progress;       /* sum over instances of handled - base */
    uint64_t forgiven;       /* backlogs forgiven at drops, added to progress for pacing */
    uint64_t backlog;        /* published - paced progress at the last drop or resend */
    uint64_t round_progress; /* progress when its last resend round was asked for */
    uint64_t unsure;         /* first reports of instances first seen during the replay */
    int64_t moved_ns;        /* last time progress grew (or the replay began) */
    int64_t full_ns;         /* since when it blocks the next batch, when full */
    bool full;               /* it leaves less room than the next batch needs */
    bool dropped;            /* stalled: left out of the minimum */
    bool just_dropped;       /* dropped by the last md_flow_room, not yet announced */
    bool just_stalled;       /* asked for a resend round, not yet announced */
    bool just_lost;          /* an instance saw another expire: a round asked for */
} md_flow_service;

typedef struct md_flow {
    uint64_t window; /* most ticks published ahead of the slowest service; 0 = off */
    int64_t stall_ns;
    md_flow_instance inst[MD_FLOW_MAX_INSTANCES];
    size_t ninst;
    md_flow_service svc[MD_FLOW_MAX_SERVICES];
    size_t nsvc;
    /* this replay's resend rounds and ring (NULL: stalls drop at once) */
    md_resend_budget resend;
    const md_resend_ring *ring;
    int64_t round_ns; /* when the last resend round went out (md_flow_resent) */
    bool begun;       /* a replay began (md_flow_begin) */
    bool at_end;      /* its input is exhausted (md_flow_end) */
} md_flow;

typedef enum {
    MD_FLOW_COUNTED,   /* the report updated a tick consumer */
    MD_FLOW_IGNORED,   /* not a tick consumer (another subject) */
    MD_FLOW_RESUMED,   /* a dropped service moved again and is paced again */
    MD_FLOW_BACKWARDS, /* handled went down for the same instance: ignored */
    MD_FLOW_FULL,      /* too many services or instances: ignored */
} md_flow_result;

void md_flow_init(md_flow *f, uint64_t window, int64_t stall_ns);
/* True when subject is a tick subscription (md.tick.<anything>). */
bool md_flow_is_tick_subject(const char *subject);
/* Takes one report. service_index (may be NULL) is set to the service's
 * index in f->svc for COUNTED and RESUMED. */
md_flow_result md_flow_report(md_flow *f, const char *service, const char *instance,
                              const char *endpoint, const char *subject, uint64_t handled,
                              int64_t now_ns, size_t *service_index);
/* Takes a report's members_lost (after md_flow_report took the same
 * report). When it grew since the instance's earlier reports, an instance
 * of the service died and its partitions' ticks were lost until the others
 * took them over, which they have now: that asks for a resend round at once
 * (marks just_lost), while the lost ticks are still among the ring's.
 * Waiting for the stall at the end of the replay would be too late: a live
 * instance keeps the service moving, and by the end the lost ticks can be
 * older than the ring. Such a round does not spend the stalls' rounds (a
 * kill would leave fewer for the stalls it causes), and it is not asked for
 * again when one is pending or went out within MD_FLOW_LOST_COALESCE_NS:
 * the report comes two membership periods after the expiry, the others take
 * the partitions over within one, so that round already reached the new
 * owners. Needs a replay armed with a ring (md_flow_resend_arm; rounds 0
 * means never). Returns whether a round is pending for it. */
#define MD_FLOW_LOST_COALESCE_NS (250 * INT64_C(1000000))
bool md_flow_members_lost(md_flow *f, const char *service, const char *instance,
                          const char *endpoint, uint64_t lost, int64_t now_ns);
/* The replay begins: every known instance's baseline is its latest count,
 * every service's progress 0, nothing dropped. */
void md_flow_begin(md_flow *f, int64_t now_ns);
/* How many more ticks may be published after `published` of this replay:
 * UINT64_MAX when nothing paces (window 0, or no service left). `want` is
 * the next batch: a service leaving less room than that blocks the replay,
 * and one that blocks it for stall_ns without progress is dropped (marked
 * just_dropped). */
uint64_t md_flow_room(md_flow *f, uint64_t published, uint64_t want, int64_t now_ns);
/* The replay's input is exhausted: from now on a service is short when it
 * has not finished everything published, counting the first reports of
 * instances first seen during the replay as this replay's ticks (they are
 * not known to be while ticks still flow, so pacing leaves them out). */
void md_flow_end(md_flow *f);
/* Lets stalls of the current replay ask for up to `rounds` resends of
 * ring's ticks (after md_flow_begin); ring NULL or rounds 0: none. */
void md_flow_resend_arm(md_flow *f, const md_resend_ring *ring, uint32_t rounds);
/* A resend round went out: every paced service's stall timer starts again
 * (the caller counts the resent ticks as published). */
void md_flow_resent(md_flow *f, int64_t now_ns);
/* Services taking part in pacing (known and not dropped). */
size_t md_flow_paced(const md_flow *f);

#endif
