/* Feed pacing; see md_pace.h. 128-bit intermediates: index * 1e9 overflows
 * int64 after 9.2e9 ticks, which a long-running fast feed reaches. */
#include "md_pace.h"

#include <stdio.h>
#include <string.h>

#define NS INT64_C(1000000000)

int64_t md_pace_rate_offset_ns(uint64_t index, uint64_t rate_per_s) {
    if (rate_per_s == 0) return 0;
    unsigned __int128 v = (unsigned __int128)index * (uint64_t)NS / rate_per_s;
    return v > (unsigned __int128)INT64_MAX ? INT64_MAX : (int64_t)v;
}

int64_t md_pace_replay_offset_ns(int64_t first_ts, int64_t ts, uint64_t speed) {
    if (speed == 0 || ts <= first_ts) return 0;
    /* ts - first_ts can exceed int64 only for timestamps of opposite signs. */
    unsigned __int128 d = (unsigned __int128)((__int128)ts - (__int128)first_ts);
    unsigned __int128 v = d / speed;
    return v > (unsigned __int128)INT64_MAX ? INT64_MAX : (int64_t)v;
}

uint64_t md_pace_rate_due(int64_t elapsed_ns, uint64_t rate_per_s) {
    if (rate_per_s == 0) return UINT64_MAX;
    if (elapsed_ns < 0) return 0;
    /* Tick i is due when floor(i * 1e9 / rate) <= elapsed, that is when
     * i * 1e9 < (elapsed + 1) * rate: ceil((elapsed + 1) * rate / 1e9) ticks. */
    unsigned __int128 v = ((unsigned __int128)elapsed_ns + 1) * rate_per_s;
    v = (v + (uint64_t)NS - 1) / (uint64_t)NS;
    return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

int64_t md_pace_rate_per_s(uint64_t count_before, uint64_t count_now, int64_t elapsed_ns) {
    if (elapsed_ns <= 0 || count_now < count_before) return 0;
    unsigned __int128 v =
        (unsigned __int128)(count_now - count_before) * (uint64_t)NS / (uint64_t)elapsed_ns;
    return v > (unsigned __int128)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* ---- Replay flow control; see md_pace.h ---- */

#define TICK_PREFIX "md.tick."

void md_flow_init(md_flow *f, uint64_t window, int64_t stall_ns) {
    memset(f, 0, sizeof *f);
    f->window = window;
    f->stall_ns = stall_ns;
}

bool md_flow_is_tick_subject(const char *subject) {
    return strncmp(subject, TICK_PREFIX, sizeof TICK_PREFIX - 1) == 0 &&
           subject[sizeof TICK_PREFIX - 1] != '\0';
}

static md_flow_service *find_service(md_flow *f, const char *name, int64_t now_ns) {
    for (size_t i = 0; i < f->nsvc; i++)
        if (strcmp(f->svc[i].name, name) == 0) return &f->svc[i];
    if (f->nsvc == MD_FLOW_MAX_SERVICES) return NULL;
    md_flow_service *s = &f->svc[f->nsvc++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->moved_ns = now_ns;
    return s;
}

md_flow_result md_flow_report(md_flow *f, const char *service, const char *instance,
                              const char *endpoint, const char *subject, uint64_t handled,
                              int64_t now_ns, size_t *service_index) {
    if (!md_flow_is_tick_subject(subject)) return MD_FLOW_IGNORED;
    md_flow_instance *in = NULL;
    for (size_t i = 0; i < f->ninst && in == NULL; i++)
        if (strcmp(f->inst[i].instance, instance) == 0 &&
            strcmp(f->inst[i].service, service) == 0 && strcmp(f->inst[i].endpoint, endpoint) == 0)
            in = &f->inst[i];
    if (in == NULL && f->ninst == MD_FLOW_MAX_INSTANCES) return MD_FLOW_FULL;
    md_flow_service *s = find_service(f, service, now_ns);
    if (s == NULL) return MD_FLOW_FULL;
    if (in == NULL) {
        /* First seen: what it finished before this report is not known to
         * belong to this replay, so it counts from here. */
        in = &f->inst[f->ninst++];
        memset(in, 0, sizeof *in);
        snprintf(in->service, sizeof in->service, "%s", service);
        snprintf(in->instance, sizeof in->instance, "%s", instance);
        snprintf(in->endpoint, sizeof in->endpoint, "%s", endpoint);
        in->handled = in->base = handled;
        if (f->begun) s->unsure += handled;
    }
    if (handled < in->handled) return MD_FLOW_BACKWARDS;
    uint64_t moved = handled - in->handled;
    in->handled = handled;
    if (service_index) *service_index = (size_t)(s - f->svc);
    if (moved == 0) return MD_FLOW_COUNTED;
    s->progress += moved;
    s->moved_ns = now_ns;
    if (!s->dropped) return MD_FLOW_COUNTED;
    s->dropped = s->just_dropped = false;
    s->forgiven += s->backlog;
    s->backlog = 0;
    s->full = false;
    return MD_FLOW_RESUMED;
}

bool md_flow_members_lost(md_flow *f, const char *service, const char *instance,
                          const char *endpoint, uint64_t lost, int64_t now_ns) {
    md_flow_instance *in = NULL;
    for (size_t i = 0; i < f->ninst && in == NULL; i++)
        if (strcmp(f->inst[i].instance, instance) == 0 &&
            strcmp(f->inst[i].service, service) == 0 && strcmp(f->inst[i].endpoint, endpoint) == 0)
            in = &f->inst[i];
    if (in == NULL) return false; /* not a tick consumer, or not tracked */
    bool grew = in->lost_known && lost > in->lost;
    if (!in->lost_known || lost > in->lost) in->lost = lost;
    in->lost_known = true;
    if (!grew || f->ring == NULL || f->ring->count == 0) return false;
    if (!f->resend.requested) {
        if (f->resend.done > 0 && now_ns - f->round_ns < MD_FLOW_LOST_COALESCE_NS) return false;
        f->resend.requested = true; /* outside the stalls' budget */
    }
    for (size_t i = 0; i < f->nsvc; i++)
        if (strcmp(f->svc[i].name, service) == 0) f->svc[i].just_lost = true;
    return true;
}

void md_flow_begin(md_flow *f, int64_t now_ns) {
    for (size_t i = 0; i < f->ninst; i++) f->inst[i].base = f->inst[i].handled;
    for (size_t i = 0; i < f->nsvc; i++) {
        md_flow_service *s = &f->svc[i];
        s->progress = s->forgiven = s->backlog = s->round_progress = s->unsure = 0;
        s->moved_ns = now_ns;
        s->full = s->dropped = s->just_dropped = s->just_stalled = s->just_lost = false;
    }
    md_resend_budget_init(&f->resend, 0);
    f->ring = NULL;
    f->begun = true;
    f->at_end = false;
}

void md_flow_end(md_flow *f) {
    f->at_end = true;
}

void md_flow_resend_arm(md_flow *f, const md_resend_ring *ring, uint32_t rounds) {
    md_resend_budget_init(&f->resend, ring ? rounds : 0);
    f->ring = ring;
}

void md_flow_resent(md_flow *f, int64_t now_ns) {
    f->round_ns = now_ns;
    for (size_t i = 0; i < f->nsvc; i++) {
        md_flow_service *s = &f->svc[i];
        if (s->dropped) continue;
        /* The resent ticks take time to arrive and be finished: a service
         * is judged again from now, not from before the resend. */
        s->full = false;
        s->moved_ns = now_ns;
    }
}

/* Ticks published but not yet finished by s, as far as pacing goes. */
static uint64_t lag_of(const md_flow *f, const md_flow_service *s, uint64_t published) {
    uint64_t done = s->progress + s->forgiven;
    /* At the end, what instances first seen during the replay had finished
     * before their first report counts as done: a worker started for the
     * replay finished its first batch of it, and a service must not look
     * short of the end (and get a resend) for that. */
    if (f->at_end) done += s->unsure;
    return published > done ? published - done : 0;
}

/* s stalled and a resend round is coming. Nothing moved for a while: what
 * it has not finished was lost, not in flight. The resend brings those
 * ticks back among the ring's, which count as published on top; so the lag
 * is forgiven now, or it would outlive the healing. Judged again after the
 * resend (md_flow_resent). */
static void forgive(md_flow_service *s, uint64_t lag, int64_t now_ns) {
    s->round_progress = s->progress;
    s->forgiven += lag;
    s->backlog = lag;
    s->just_stalled = true;
    s->full = false;
    s->moved_ns = now_ns;
}

uint64_t md_flow_room(md_flow *f, uint64_t published, uint64_t want, int64_t now_ns) {
    if (f->window == 0) return UINT64_MAX;
    /* First the stalls: a service that keeps the next batch back and has not
     * moved for stall_ns, all of it while keeping the batch back. */
    for (size_t i = 0; i < f->nsvc; i++) {
        md_flow_service *s = &f->svc[i];
        if (s->dropped) continue;
        uint64_t lag = lag_of(f, s, published);
        if (lag + want <= f->window) {
            s->full = false;
            continue;
        }
        if (!s->full) {
            s->full = true;
            s->full_ns = now_ns;
        }
        int64_t since = s->full_ns > s->moved_ns ? s->full_ns : s->moved_ns;
        if (now_ns - since >= f->stall_ns) {
            /* A service that finished nothing since the replay began or
             * since the last round has no live worker left: resending
             * cannot help it, so it is dropped as before. */
            if (f->ring && s->progress > s->round_progress &&
                md_resend_request(&f->resend, f->ring)) {
                forgive(s, lag, now_ns);
                continue;
            }
            s->dropped = s->just_dropped = true;
            s->backlog = lag;
            s->full = false;
        }
    }
    /* A round heals every service that lost ticks, not only the one that
     * stalled first: another that is short and idle for half the stall time
     * (nothing in flight) is forgiven too, or it would stall on its healed
     * loss later and spend a round of its own. */
    if (f->resend.requested)
        for (size_t i = 0; i < f->nsvc; i++) {
            md_flow_service *s = &f->svc[i];
            uint64_t lag = lag_of(f, s, published);
            if (s->dropped || s->just_stalled || lag == 0 || s->progress == s->round_progress)
                continue;
            if (now_ns - s->moved_ns >= f->stall_ns / 2) forgive(s, lag, now_ns);
        }
    uint64_t room = UINT64_MAX;
    for (size_t i = 0; i < f->nsvc; i++) {
        if (f->svc[i].dropped) continue;
        uint64_t lag = lag_of(f, &f->svc[i], published);
        uint64_t left = lag < f->window ? f->window - lag : 0;
        if (left < room) room = left;
    }
    return room;
}

size_t md_flow_paced(const md_flow *f) {
    size_t n = 0;
    for (size_t i = 0; i < f->nsvc; i++) n += !f->svc[i].dropped;
    return n;
}
