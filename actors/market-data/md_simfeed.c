/* The simulator feed (MD_MODE=sim) on the actor's main thread: generates
 * ticks from the seeded GBM at MD_RATE ticks per second (or as fast as
 * possible) until MD_MAX_TICKS or shutdown, in batches of whatever is due.
 * Prices depend only on MD_SEED and the symbol settings, never on the rate
 * or on timing; ts is the wall clock at generation. */
#include <stdlib.h>
#include <time.h>

#include "md_pace.h"
#include "md_service.h"

/* Longest sleep between two checks of the stop flag. */
#define MAX_NAP_NS (100 * INT64_C(1000000))

static void nap_until(int64_t deadline) {
    int64_t d = deadline - bus_mono_ns();
    if (d <= 0) return;
    if (d > MAX_NAP_NS) d = MAX_NAP_NS;
    struct timespec ts = {.tv_sec = d / 1000000000, .tv_nsec = d % 1000000000};
    nanosleep(&ts, NULL);
}

void md_sim_run(md_service *svc) {
    const md_settings *cfg = &svc->cfg;
    md_sim *sim = NULL;
    tb_error err = {0};
    md_feed feed;
    if (md_feed_begin(&feed, svc, cfg->source, NULL) != TB_OK) {
        bus_log(BUS_LOG_ERROR, "simulator: out of memory");
        return;
    }
    if (md_sim_create(&cfg->sim, cfg->seed, cfg->symbols, cfg->nsymbols, &sim, &err) != TB_OK) {
        md_feed_end(&feed, "failed", err.message);
        return;
    }
    bus_log(BUS_LOG_INFO, "simulator: %zu symbols, seed %llu, %llu ticks/s, max %llu ticks",
            cfg->nsymbols, (unsigned long long)cfg->seed, (unsigned long long)cfg->rate,
            (unsigned long long)cfg->max_ticks);
    tb_tick *batch = calloc(MD_BATCH, sizeof *batch);
    if (batch == NULL) {
        md_sim_destroy(sim);
        md_feed_end(&feed, "failed", "out of memory");
        return;
    }
    int64_t start = bus_mono_ns();
    uint64_t made = 0; /* ticks generated, including any Redis refused */
    bool complete = false;
    while (!md_feed_stopped(&feed)) {
        if (cfg->max_ticks && made >= cfg->max_ticks) {
            complete = true;
            break;
        }
        uint64_t due = md_pace_rate_due(bus_mono_ns() - start, cfg->rate);
        if (due <= made) {
            nap_until(start + md_pace_rate_offset_ns(made, cfg->rate));
            continue;
        }
        uint64_t n = due - made;
        if (n > MD_BATCH) n = MD_BATCH;
        if (cfg->max_ticks && n > cfg->max_ticks - made) n = cfg->max_ticks - made;
        int64_t now = tb_now_ns();
        for (uint64_t i = 0; i < n; i++) {
            batch[i] = (tb_tick){0};
            md_sim_next(sim, &batch[i]);
            batch[i].ts = now;
        }
        made += n;
        if (md_feed_publish(&feed, batch, (size_t)n) == TB_UNAVAILABLE) break; /* stopped */
        md_feed_progress(&feed);
    }
    free(batch);
    md_sim_destroy(sim);
    md_feed_end(&feed, "done", complete ? "max ticks reached" : "stopped");
}
