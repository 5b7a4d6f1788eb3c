/* md.tick.<symbol>: the resting book of a symbol matched against its ticks,
 * in sequence order, whichever worker receives them, a batch at a time.
 *
 * Ticks travel on core NATS to the workers of the queue group, so one
 * worker may hold tick 5 of a symbol while another holds tick 4. A batch is
 * handled in a fixed number of store round trips, whatever its size:
 *
 *   1. one statement records the batch's ticks of symbols with open orders
 *      in exec_tick_journal (its own quick commit, so another worker
 *      matching the symbol sees them) and returns those symbols;
 *   2. one transaction a round, for all of them: lock the symbols' state
 *      rows no other worker holds (without waiting) and load their
 *      recorded ticks; lock their open orders; match each symbol's ticks in
 *      seq order in memory (exec_run_match); write the fills (with their
 *      outbox events), order updates and order_events; record the stops
 *      of the trailing stops the ticks moved (one statement); delete the
 *      settled ticks and advance last_seq, all in one commit;
 *   3. rounds repeat until one settles nothing, so ticks another worker
 *      recorded while this one held the symbol are matched too.
 *
 * A gap stops a symbol's run until the tick after it is
 * EXEC_REORDER_WAIT_MS old (the missing tick is lost, not late); a timer
 * drains whatever waits. Ticks already matched (redelivered, overtaken)
 * are dropped. Ticks of a symbol without open orders are not recorded. */
#include <stdlib.h>
#include <string.h>

#include "exec_service.h"
#include "exec_store.h"

#define PENDING_BATCH       2000
#define DRAIN_SYMBOLS_BATCH 100
#define MAX_ROUNDS          8

typedef struct drain_result {
    size_t matched, dropped, gaps, resets, settled;
    int fills;
    size_t locked; /* symbols this worker held */
} drain_result;

/* Saves what a symbol's run did, event by event (an order may fill on
 * several ticks of one run: each fill is numbered after the one before). */
static tb_status save_run(PGconn *c, const exec_run *run, const exec_run_tick *ticks,
                          const exec_pending *pend, exec_row *rows, exec_events *evs,
                          drain_result *res, tb_error *err) {
    tb_status s = TB_OK;
    for (size_t e = 0; s == TB_OK && e < run->nevents; e++) {
        const exec_run_event *ev = &run->events[e];
        exec_row *row = &rows[ev->order];
        const exec_pending *pd = &pend[ticks[ev->tick].origin];
        if (ev->outcome.status != TB_OK) {
            bus_log(BUS_LOG_WARN, "order %s not matched on tick %llu: %s", row->rec.order_id,
                    (unsigned long long)pd->tick.seq, tb_status_code(ev->outcome.status));
            continue;
        }
        exec_change ch = {0};
        exec_change_add_outcome(&ch, &ev->after, &ev->outcome, pd->tick.ts);
        row->ord = ev->after;
        res->fills += ch.filled ? 1 : 0;
        s = exec_store_save(c, row, &ch, pd->trace[0] ? pd->trace : NULL, evs, err);
    }
    return s;
}

/* Matches one locked symbol's recorded ticks against its open orders
 * rows[0..nrows); appends the settled ticks and the new position. */
static tb_status match_symbol(exec_service *svc, PGconn *c, const exec_pending_sym *g,
                              const exec_pending *pend, exec_row *rows, size_t nrows,
                              exec_events *evs, const tb_tick **done, size_t *ndone,
                              exec_symbol_pos *pos, size_t *npos, drain_result *res,
                              tb_error *err) {
    if (g->n == 0) return TB_OK;
    exec_run_tick *ticks = calloc(g->n, sizeof *ticks);
    exec_order *orders = calloc(nrows ? nrows : 1, sizeof *orders);
    tb_status s = ticks && orders ? TB_OK : tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    exec_run run = {0};
    for (size_t i = 0; s == TB_OK && i < g->n; i++) {
        const exec_pending *pd = &pend[g->first + i];
        ticks[i] = (exec_run_tick){.quote = exec_quote_of(&pd->tick),
                                   .seq = pd->tick.seq,
                                   .source = pd->tick.source,
                                   .ts_ns = pd->tick.ts,
                                   .age_ms = pd->age_ms,
                                   .origin = g->first + i};
    }
    const char **gids = calloc(nrows ? nrows : 1, sizeof *gids);
    if (s == TB_OK && gids == NULL) s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    for (size_t k = 0; s == TB_OK && k < nrows; k++) {
        orders[k] = rows[k].ord;
        gids[k] = rows[k].rec.group_id;
    }
    /* OCO partners and bracket exits see each other in the run */
    if (s == TB_OK) exec_group_link(orders, gids, nrows);
    free(gids);
    if (s == TB_OK) {
        /* recorded ticks come in (seq, source) order already */
        s = exec_run_match(ticks, g->n, g->last_seq, g->last_source, svc->seq_reset_gap,
                           svc->reorder_wait_ms, &svc->params, tb_now_ns(), orders, nrows, &run);
        if (s != TB_OK) s = tb_error_set(err, s, NULL, "out of memory matching %s", g->symbol);
    }
    if (s == TB_OK) s = save_run(c, &run, ticks, pend, rows, evs, res, err);
    for (size_t k = 0; s == TB_OK && k < nrows; k++)
        if (orders[k].trail_moved) { /* saved with the round's other stops */
            rows[k].ord.trail_stop = orders[k].trail_stop;
            rows[k].ord.trail_moved = true;
        }
    if (s == TB_OK) {
        for (size_t i = 0; i < run.consumed; i++) done[(*ndone)++] = &pend[ticks[i].origin].tick;
        if (run.advanced) {
            const tb_tick *last = NULL;
            for (size_t i = run.consumed; i-- > 0 && last == NULL;)
                if (ticks[i].seq == run.last_seq && strcmp(ticks[i].source, run.last_source) == 0)
                    last = &pend[ticks[i].origin].tick;
            pos[(*npos)++] = (exec_symbol_pos){.symbol = g->symbol,
                                               .source = last ? last->source : "",
                                               .seq = run.last_seq,
                                               .ts_ns = run.last_ts_ns};
        }
        if (run.gaps) bus_log(BUS_LOG_DEBUG, "%zu gaps in the ticks of %s", run.gaps, g->symbol);
        if (run.resets)
            bus_log(BUS_LOG_INFO, "feed of %s restarted (%zu times in one round)", g->symbol,
                    run.resets);
        res->matched += run.matched;
        res->dropped += run.dropped;
        res->gaps += run.gaps;
        res->resets += run.resets;
        res->settled += run.consumed;
    }
    exec_run_free(&run);
    free(ticks);
    free(orders);
    return s;
}

/* One transaction over the symbols this worker can lock now. */
static tb_status drain_round(exec_service *svc, PGconn *c, const exec_symbol *syms, size_t nsyms,
                             exec_events *evs, drain_result *res, tb_error *err) {
    exec_pending_set ps = {0};
    exec_row *rows = NULL;
    size_t nrows = 0;
    const tb_tick **done = NULL;
    exec_symbol_pos *pos = NULL;
    exec_symbol *ready = NULL;
    size_t ndone = 0, npos = 0, nready = 0;
    /* Pipelined: BEGIN goes with the first lock, the writes with COMMIT. */
    tb_status s = bus_pg_pipeline_begin(c, err);
    if (s == TB_OK) s = exec_tx_begin(c, err);
    if (s == TB_OK) s = exec_store_lock_pending(c, syms, nsyms, PENDING_BATCH, &ps, err);
    if (s == TB_OK) {
        res->locked = ps.nsyms;
        ready = calloc(ps.nsyms ? ps.nsyms : 1, sizeof *ready);
        done = calloc(ps.nticks ? ps.nticks : 1, sizeof *done);
        pos = calloc(ps.nsyms ? ps.nsyms : 1, sizeof *pos);
        if (ready == NULL || done == NULL || pos == NULL)
            s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    }
    for (size_t i = 0; s == TB_OK && i < ps.nsyms; i++)
        if (ps.syms[i].n > 0) memcpy(ready[nready++], ps.syms[i].symbol, sizeof *ready);
    if (s == TB_OK && nready > 0)
        s = exec_store_lock_open_many(c, ready, nready, svc->match_batch, &rows, &nrows, err);
    size_t r0 = 0;
    for (size_t i = 0; s == TB_OK && i < ps.nsyms; i++) {
        const exec_pending_sym *g = &ps.syms[i];
        if (g->n == 0) continue;
        /* rows come by symbol; the orders of g are a contiguous slice */
        while (r0 < nrows && strcmp(rows[r0].rec.symbol, g->symbol) < 0) r0++;
        size_t r1 = r0;
        while (r1 < nrows && strcmp(rows[r1].rec.symbol, g->symbol) == 0) r1++;
        s = match_symbol(svc, c, g, ps.ticks, rows + r0, r1 - r0, evs, done, &ndone, pos, &npos,
                         res, err);
        r0 = r1;
    }
    exec_trail_pos *trails = s == TB_OK && nrows > 0 ? calloc(nrows, sizeof *trails) : NULL;
    size_t ntrails = 0;
    if (nrows > 0 && trails == NULL && s == TB_OK)
        s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    if (s == TB_OK) exec_trail_collect(rows, nrows, trails, &ntrails);
    if (s == TB_OK) s = exec_store_save_trails(c, trails, ntrails, err);
    free(trails);
    if (s == TB_OK && ndone > 0)
        s = exec_store_settle_ticks(
            c, &(exec_settle){.done = done, .ndone = ndone, .states = pos, .nstates = npos}, err);
    if (s == TB_OK) s = exec_tx_commit(c, err);
    tb_status ps_end = bus_pg_pipeline_end(c, s == TB_OK ? err : &(tb_error){0});
    if (s == TB_OK) s = ps_end;
    if (s != TB_OK) exec_tx_rollback(c);
    exec_pending_set_free(&ps);
    free(rows);
    free(done);
    free(pos);
    free(ready);
    return s;
}

/* Drains the symbols round after round, publishing after each commit,
 * until a round settles nothing: that last look closes the window in which
 * a tick recorded by another worker during a round would otherwise wait
 * for the timer. */
static tb_status drain_and_publish(bus_actor *a, exec_service *svc, PGconn *c,
                                   const exec_symbol *syms, size_t nsyms, const char *trace,
                                   tb_error *err) {
    drain_result total = {0};
    tb_status s = TB_OK;
    for (int round = 0; round < MAX_ROUNDS; round++) {
        exec_events evs = {0};
        drain_result r = {0};
        s = drain_round(svc, c, syms, nsyms, &evs, &r, err);
        if (s == TB_OK) {
            exec_relay_now(a, svc, r.fills);
            exec_publish_events(a, svc, &evs, trace);
        }
        exec_events_free(&evs);
        total.matched += r.matched;
        total.dropped += r.dropped;
        total.gaps += r.gaps;
        total.resets += r.resets;
        if (s != TB_OK || r.locked == 0 || r.settled == 0) break;
    }
    bus_counter_add(svc->m_ticks_matched, (uint64_t)total.matched);
    bus_counter_add(svc->m_ticks_stale, (uint64_t)total.dropped);
    bus_counter_add(svc->m_ticks_gap, (uint64_t)total.gaps);
    bus_counter_add(svc->m_ticks_reset, (uint64_t)total.resets);
    return s;
}

static int symbol_cmp(const void *key, const void *elem) {
    return strcmp(key, *(const exec_symbol *)elem);
}

/* Checks a tick against its subject and the venue's rules. */
static tb_status tick_valid(const bus_batch *b, size_t i, tb_error *err) {
    const tb_tick *t = bus_batch_event(b, i);
    const char *subject = bus_batch_subject(b, i);
    const char *sym = strlen(subject) > 8 ? subject + 8 : ""; /* md.tick.<symbol> */
    if (strcmp(sym, t->symbol) != 0)
        return tb_error_set(err, TB_INVALID, "symbol", "tick of %s published on %s", t->symbol,
                            subject);
    exec_quote q = exec_quote_of(t);
    return exec_quote_validate(&q, err);
}

tb_status exec_on_ticks(bus_ctx *ctx, const bus_batch *b) {
    exec_service *svc = bus_actor_user(bus_ctx_actor(ctx));
    size_t n = bus_batch_len(b);
    const tb_tick **ticks = calloc(n ? n : 1, sizeof *ticks);
    const char **traces = calloc(n ? n : 1, sizeof *traces);
    size_t *index = calloc(n ? n : 1, sizeof *index);
    if (ticks == NULL || traces == NULL || index == NULL) {
        free(ticks);
        free(traces);
        free(index);
        return bus_fail(ctx, TB_NOMEM, NULL, "out of memory for a batch of %zu ticks", n);
    }
    size_t nv = 0;
    for (size_t i = 0; i < n; i++) {
        tb_error verr = {0};
        if (tick_valid(b, i, &verr) != TB_OK) {
            bus_counter_add(svc->m_ticks_invalid, 1);
            bus_batch_fail(b, i, verr.status, "%s", verr.message);
            continue;
        }
        index[nv] = i;
        ticks[nv++] = bus_batch_event(b, i);
    }
    tb_error err = {0};
    tb_status s = TB_OK;
    exec_symbol *open = NULL;
    size_t nopen = 0;
    PGconn *c = nv > 0 ? bus_ctx_pg(ctx, &err) : NULL;
    if (nv > 0 && c == NULL) s = err.status;
    if (s == TB_OK && nv > 0)
        s = exec_store_record_quotes(c, ticks, nv, svc->seq_reset_gap, &open, &nopen, &err);
    if (s == TB_OK && nopen > 0) {
        /* Trace ids only for what is journaled (reading one parses every
         * header of its message). */
        for (size_t i = 0; i < nv; i++)
            traces[i] = bsearch(ticks[i]->symbol, open, nopen, sizeof *open, symbol_cmp)
                            ? bus_batch_trace(b, index[i])
                            : NULL;
        s = exec_store_journal_ticks(c, ticks, traces, nv, open, nopen, &err);
    }
    if (s == TB_OK && nopen > 0) {
        /* ticks of the other symbols were not recorded: nothing rests there */
        size_t idle = 0;
        for (size_t i = 0; i < nv; i++)
            if (bsearch(ticks[i]->symbol, open, nopen, sizeof *open, symbol_cmp) == NULL) idle++;
        bus_counter_add(svc->m_ticks_idle, idle);
        s = drain_and_publish(bus_ctx_actor(ctx), svc, c, open, nopen, bus_batch_trace(b, 0), &err);
    } else if (s == TB_OK) {
        bus_counter_add(svc->m_ticks_idle, nv);
    }
    free(open);
    free(ticks);
    free(traces);
    free(index);
    return s == TB_OK ? TB_OK : bus_fail_err(ctx, &err);
}

void exec_drain_ticks(bus_actor *a, void *arg) {
    exec_service *svc = arg;
    tb_error err = {0};
    PGconn *c = bus_pg_acquire(bus_actor_pg(a), &err);
    if (c == NULL) {
        bus_log(BUS_LOG_WARN, "tick drain skipped: %s", err.message);
        return;
    }
    exec_symbol *syms = NULL;
    size_t n = 0;
    if (exec_store_pending_symbols(c, DRAIN_SYMBOLS_BATCH, &syms, &n, &err) != TB_OK)
        bus_log(BUS_LOG_WARN, "tick drain: %s", err.message);
    char trace[TB_ID_CAP];
    bus_new_id(trace, sizeof trace);
    if (n > 0 && !bus_actor_stopping(a) &&
        drain_and_publish(a, svc, c, syms, n, trace, &err) != TB_OK)
        bus_log(BUS_LOG_WARN, "tick drain: %s", err.message);
    free(syms);
    bus_pg_release(bus_actor_pg(a), c);
}
