/* Replay flow control, I/O side: the bus.flow.> endpoint that feeds every
 * consumer's progress report into the instance's md_flow, the wait of a
 * full-speed replay for room in the window, the resends of its last ticks
 * when a consumer stalls, and the wait at its end for every consumer to
 * finish. The arithmetic (baselines, window, stalls, resend rounds) is
 * md_flow in md_pace.c and md_resend.c; this file adds the lock, the clock,
 * logs and metrics. Timed replays (speed > 0) are paced by their timestamps
 * and do not wait here. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "md_pace.h"
#include "md_service.h"

/* A wait re-checks stop requests and stalls at least this often. */
#define WAIT_SLICE_NS (50 * INT64_C(1000000))

tb_status md_flowctl_init(md_service *svc) {
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0) return TB_NOMEM;
    /* Deadlines come from the monotonic clock, like everything in bus/. */
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&svc->flow_cond, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) return TB_NOMEM;
    pthread_mutex_init(&svc->flow_lock, NULL);
    md_flow_init(&svc->flow, svc->cfg.replay_window,
                 (int64_t)svc->cfg.replay_stall_ms * INT64_C(1000000));
    return TB_OK;
}

void md_flowctl_destroy(md_service *svc) {
    pthread_cond_destroy(&svc->flow_cond);
    pthread_mutex_destroy(&svc->flow_lock);
}

tb_status md_flowctl_on_report(bus_ctx *ctx, const void *ev) {
    const tb_flow *r = ev;
    md_service *svc = md_service_of(bus_ctx_actor(ctx));
    size_t idx = 0;
    pthread_mutex_lock(&svc->flow_lock);
    int64_t now = bus_mono_ns();
    md_flow_result res = md_flow_report(&svc->flow, r->service, r->instance, r->endpoint,
                                        r->subject, r->handled, now, &idx);
    (void)md_flow_members_lost(&svc->flow, r->service, r->instance, r->endpoint, r->members_lost,
                               now);
    uint64_t progress = 0;
    for (size_t i = 0; i < sizeof svc->gates / sizeof svc->gates[0]; i++) {
        md_flowctl_gate *g = svc->gates[i];
        if (g == NULL) continue;
        size_t gi = 0;
        if (md_flow_report(g->flow, r->service, r->instance, r->endpoint, r->subject, r->handled,
                           now, &gi) == MD_FLOW_RESUMED) {
            res = MD_FLOW_RESUMED;
            progress = g->flow->svc[gi].progress;
        }
        (void)md_flow_members_lost(g->flow, r->service, r->instance, r->endpoint, r->members_lost,
                                   now);
    }
    pthread_cond_broadcast(&svc->flow_cond);
    pthread_mutex_unlock(&svc->flow_lock);
    switch (res) {
    case MD_FLOW_COUNTED:
    case MD_FLOW_IGNORED:
        return TB_OK;
    case MD_FLOW_RESUMED:
        bus_log(BUS_LOG_WARN,
                "replay flow control: %s makes progress again (%llu ticks since the replay "
                "began); pacing on it again",
                r->service, (unsigned long long)progress);
        return TB_OK;
    case MD_FLOW_BACKWARDS:
        return bus_fail(ctx, TB_INVALID, "handled",
                        "flow report of %s/%s went backwards to %llu: ignored", r->service,
                        r->instance, (unsigned long long)r->handled);
    case MD_FLOW_FULL:
        break;
    }
    return bus_fail(ctx, TB_TOO_LARGE, "instance",
                    "more than %d tick consumer services or %d instances: %s/%s not tracked",
                    MD_FLOW_MAX_SERVICES, MD_FLOW_MAX_INSTANCES, r->service, r->instance);
}

void md_flowctl_begin(md_service *svc, md_flowctl_gate *g, const char *source) {
    memset(g, 0, sizeof *g);
    g->svc = svc;
    snprintf(g->source, sizeof g->source, "%s", source);
    if (svc->cfg.replay_window == 0) {
        bus_log(BUS_LOG_INFO, "replay %s: MD_REPLAY_WINDOW=0, not paced by its consumers", source);
        return;
    }
    g->on = true;
    uint32_t rounds = (uint32_t)svc->cfg.replay_resend_rounds;
    if (rounds > 0 && !md_resend_init(&g->ring, md_resend_capacity(svc->cfg.replay_window))) {
        bus_log(BUS_LOG_WARN,
                "replay %s: no memory for the last %zu ticks; a stalled consumer is not resent "
                "its lost ticks",
                source, md_resend_capacity(svc->cfg.replay_window));
        rounds = 0;
    }
    g->flow = malloc(sizeof *g->flow);
    if (g->flow == NULL) {
        bus_log(BUS_LOG_WARN, "replay %s: no memory for flow control; not paced", source);
        md_resend_free(&g->ring);
        g->on = false;
        return;
    }
    pthread_mutex_lock(&svc->flow_lock);
    *g->flow = svc->flow;
    md_flow_begin(g->flow, bus_mono_ns());
    md_flow_resend_arm(g->flow, rounds ? &g->ring : NULL, rounds);
    size_t paced = md_flow_paced(g->flow);
    for (size_t i = 0; i < sizeof svc->gates / sizeof svc->gates[0]; i++)
        if (svc->gates[i] == NULL) {
            svc->gates[i] = g;
            break;
        }
    pthread_mutex_unlock(&svc->flow_lock);
    if (paced == 0)
        bus_log(BUS_LOG_INFO,
                "replay %s: no tick consumer has reported flow yet; not paced until one does",
                source);
    else
        bus_log(BUS_LOG_INFO, "replay %s: paced by %zu tick consumer services, window %llu", source,
                paced, (unsigned long long)svc->cfg.replay_window);
}

/* Logs and counts the services md_flow_room just dropped. Locked. */
static void announce_drops(md_flowctl_gate *g) {
    md_flow *fl = g->flow;
    for (size_t i = 0; i < fl->nsvc; i++) {
        md_flow_service *s = &fl->svc[i];
        if (!s->just_dropped) continue;
        s->just_dropped = false;
        bus_counter_add(g->svc->m_flow_stalls, 1);
        g->dropped++;
        size_t used = strlen(g->dropped_names);
        snprintf(g->dropped_names + used, sizeof g->dropped_names - used, "%s%s", used ? "," : "",
                 s->name);
        bus_log(BUS_LOG_WARN,
                "replay %s: %s made no progress for %llu ms with %llu ticks outstanding; "
                "no longer waiting for it (ticks it lost are the difference)",
                g->source, s->name, (unsigned long long)g->svc->cfg.replay_stall_ms,
                (unsigned long long)s->backlog);
    }
}

/* Logs the services whose stall or lost instance asked for the resend
 * about to go out. Locked. */
static void announce_stalls(md_flowctl_gate *g, size_t resend) {
    md_flow *fl = g->flow;
    for (size_t i = 0; i < fl->nsvc; i++) {
        md_flow_service *s = &fl->svc[i];
        if (s->just_lost) {
            s->just_lost = false;
            bus_log(BUS_LOG_WARN,
                    "replay %s: an instance of %s expired without leaving (its partitions' ticks "
                    "were lost until the hand-over); resending the last %zu ticks (round %u, not "
                    "counted against the %u left for stalls)",
                    g->source, s->name, resend, fl->resend.done, fl->resend.left);
        }
        if (!s->just_stalled) continue;
        s->just_stalled = false;
        bus_log(BUS_LOG_WARN,
                "replay %s: %s made no progress for %llu ms with %llu of %llu ticks unfinished; "
                "resending the last %zu ticks (round %u, %u left)",
                g->source, s->name, (unsigned long long)g->svc->cfg.replay_stall_ms,
                (unsigned long long)s->backlog, (unsigned long long)g->published, resend,
                fl->resend.done, fl->resend.left);
    }
}

/* Publishes the ring's oldest n ticks again. Not locked: flow reports keep
 * coming in meanwhile. */
static void resend(md_flowctl_gate *g, md_feed *f, size_t n) {
    uint64_t sent = 0;
    for (size_t i = 0; i < n && !md_feed_stopped(f); i++)
        sent += md_feed_republish(f, md_resend_at(&g->ring, i));
    bus_counter_add(g->svc->m_resent, (int64_t)sent);
}

bool md_flowctl_wait(md_flowctl_gate *g, md_feed *f, size_t n) {
    if (!g->on) return true;
    md_service *svc = g->svc;
    bool waited = false;
    int64_t t0 = 0;
    pthread_mutex_lock(&svc->flow_lock);
    for (;;) {
        int64_t now = bus_mono_ns();
        /* Consumers report every tick they finish: ticks of concurrent
         * replays and of the live feed count as published here too, or
         * their progress would pass for this replay's and its end would
         * come before the consumers finished it. */
        uint64_t room = md_flow_room(g->flow, g->published + g->others, n, now);
        announce_drops(g);
        size_t again = md_resend_take(&g->flow->resend, &g->ring);
        if (again > 0) {
            announce_stalls(g, again);
            pthread_mutex_unlock(&svc->flow_lock);
            resend(g, f, again);
            pthread_mutex_lock(&svc->flow_lock);
            /* Consumers report the duplicates as finished messages too, so
             * they count as published for pacing (not in the feed's ticks). */
            g->published += again;
            md_flow_resent(g->flow, bus_mono_ns());
            continue;
        }
        if (room >= n) break;
        if (md_feed_stopped(f)) {
            pthread_mutex_unlock(&svc->flow_lock);
            return false;
        }
        if (!waited) {
            waited = true;
            t0 = now;
        }
        int64_t d = now + WAIT_SLICE_NS;
        struct timespec ts = {.tv_sec = d / 1000000000, .tv_nsec = d % 1000000000};
        pthread_cond_timedwait(&svc->flow_cond, &svc->flow_lock, &ts);
    }
    pthread_mutex_unlock(&svc->flow_lock);
    if (waited) {
        g->waits++;
        g->waited_ns += bus_mono_ns() - t0;
    }
    return true;
}

void md_flowctl_published(md_flowctl_gate *g, const tb_tick *ticks, size_t n, bool stored) {
    g->published += n;
    if (stored) md_resend_push(&g->ring, ticks, n);
}

void md_flowctl_count_others(md_service *svc, const md_feed *feed, uint64_t n) {
    if (n == 0) return;
    pthread_mutex_lock(&svc->flow_lock);
    for (size_t i = 0; i < sizeof svc->gates / sizeof svc->gates[0]; i++) {
        md_flowctl_gate *g = svc->gates[i];
        if (g != NULL && !g->ending && strcmp(g->source, feed->source) != 0) g->others += n;
    }
    pthread_mutex_unlock(&svc->flow_lock);
}

void md_flowctl_end(md_flowctl_gate *g, md_feed *f) {
    if (!g->on) return;
    md_service *svc = g->svc;
    /* Room for a whole window means no paced service has anything left
     * (md_flow_room): a service short of the end (ticks lost with a killed
     * worker) stalls there, gets the resends and at last is dropped, so
     * this wait ends after a bounded number of MD_REPLAY_STALL_MS. */
    pthread_mutex_lock(&svc->flow_lock);
    md_flow_end(g->flow);
    /* The end waits for what was published up to now: ticks of other feeds
     * published later are not this replay's to wait for (a live feed never
     * stops, and would keep it from ending). */
    g->ending = true;
    pthread_mutex_unlock(&svc->flow_lock);
    if (!md_feed_stopped(f)) (void)md_flowctl_wait(g, f, (size_t)svc->cfg.replay_window);
    pthread_mutex_lock(&svc->flow_lock);
    md_resend_budget spent = g->flow->resend;
    /* The copy and its ring go away with the replay: no report may reach it. */
    for (size_t i = 0; i < sizeof svc->gates / sizeof svc->gates[0]; i++)
        if (svc->gates[i] == g) svc->gates[i] = NULL;
    pthread_mutex_unlock(&svc->flow_lock);
    free(g->flow);
    g->flow = NULL;
    md_resend_free(&g->ring);
    if (spent.done > 0)
        bus_log(BUS_LOG_INFO, "replay %s: %u resend round(s), %llu ticks published again",
                g->source, spent.done, (unsigned long long)spent.resent);
}
