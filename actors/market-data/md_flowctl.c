/* Replay flow control, I/O side: the bus.flow.> endpoint that feeds every
 * consumer's progress report into the instance's md_flow, and the wait of a
 * full-speed replay for room in the window. The arithmetic (baselines,
 * window, stalls) is md_flow in md_pace.c; this file adds the lock, the
 * clock, logs and metrics. Timed replays (speed > 0) are paced by their
 * timestamps and do not wait here. */
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
    md_flow_result res = md_flow_report(&svc->flow, r->service, r->instance, r->endpoint,
                                        r->subject, r->handled, bus_mono_ns(), &idx);
    uint64_t progress = res == MD_FLOW_RESUMED ? svc->flow.svc[idx].progress : 0;
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
    pthread_mutex_lock(&svc->flow_lock);
    md_flow_begin(&svc->flow, bus_mono_ns());
    size_t paced = md_flow_paced(&svc->flow);
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
    md_flow *fl = &g->svc->flow;
    for (size_t i = 0; i < fl->nsvc; i++) {
        md_flow_service *s = &fl->svc[i];
        if (!s->just_dropped) continue;
        s->just_dropped = false;
        bus_counter_add(g->svc->m_flow_stalls, 1);
        bus_log(BUS_LOG_WARN,
                "replay %s: %s made no progress for %llu ms with %llu ticks outstanding; "
                "no longer waiting for it (ticks it lost are the difference)",
                g->source, s->name, (unsigned long long)g->svc->cfg.replay_stall_ms,
                (unsigned long long)s->backlog);
    }
}

bool md_flowctl_wait(md_flowctl_gate *g, const md_feed *f, size_t n) {
    if (!g->on) return true;
    md_service *svc = g->svc;
    bool waited = false;
    int64_t t0 = 0;
    pthread_mutex_lock(&svc->flow_lock);
    for (;;) {
        int64_t now = bus_mono_ns();
        uint64_t room = md_flow_room(&svc->flow, g->published, n, now);
        announce_drops(g);
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

void md_flowctl_published(md_flowctl_gate *g, size_t n) {
    g->published += n;
}
