/* md.tick.<symbol>: the resting book of a symbol matched against its ticks,
 * in sequence order, whichever worker receives them.
 *
 * Ticks travel on core NATS to the workers of the queue group, so they may
 * be handled out of order (one worker is slower than another). A worker
 * records each tick in exec_tick_journal at once (a quick commit, so a
 * tick reaches the journal even while other workers match), then tries to
 * take the symbol's exec_symbol_state row lock without waiting. The holder
 * matches the recorded ticks from last_seq + 1 on, in one transaction per
 * round: fills (with their outbox events), order updates and order_events
 * are written, matched ticks deleted, last_seq advanced; it repeats until a
 * round finds nothing ready. A gap stops a run until the tick after it is
 * EXEC_REORDER_WAIT_MS old (the missing tick is lost, not late); a timer
 * drains whatever waits. Ticks already matched (redelivered,
 * overtaken) are dropped. Ticks of a symbol without open orders are not
 * recorded at all: most of the feed costs one indexed read. */
#include <stdlib.h>
#include <string.h>

#include "exec_service.h"
#include "exec_store.h"

#define PENDING_BATCH       500
#define DRAIN_SYMBOLS_BATCH 100

typedef struct drain_result {
    int matched, dropped, gaps, resets, fills;
    bool waiting; /* stopped at a gap that is still young */
    bool busy;    /* another worker holds the symbol */
} drain_result;

/* Matches one recorded tick against the loaded book and saves the changes. */
static tb_status match_tick(PGconn *c, exec_service *svc, const exec_pending *p, exec_row *rows,
                            exec_order *orders, exec_outcome *outs, size_t n, exec_events *evs,
                            drain_result *res, tb_error *err) {
    exec_quote q = exec_quote_of(&p->tick);
    exec_match(&q, &svc->params, tb_now_ns(), false, orders, n, outs);
    tb_status s = TB_OK;
    for (size_t k = 0; s == TB_OK && k < n; k++) {
        if (outs[k].status != TB_OK)
            bus_log(BUS_LOG_WARN, "order %s not matched on tick %llu: %s", rows[k].rec.order_id,
                    (unsigned long long)p->tick.seq, tb_status_code(outs[k].status));
        exec_change ch = {0};
        exec_change_add_outcome(&ch, &orders[k], &outs[k], p->tick.ts);
        rows[k].ord = orders[k];
        res->fills += ch.filled ? 1 : 0;
        s = exec_store_save(c, &rows[k], &ch, p->trace[0] ? p->trace : NULL, evs, err);
    }
    return s;
}

/* One transaction: matches the symbol's recorded ticks in sequence, unless
 * another worker holds the symbol (res->busy): that one is draining, and it
 * looks again after its commit, so it also matches what this worker just
 * recorded. */
static tb_status drain_symbol(exec_service *svc, PGconn *c, const char *symbol, exec_events *evs,
                              drain_result *res, tb_error *err) {
    uint64_t last_seq = 0;
    char last_source[TB_ID_CAP];
    int64_t last_ts = 0;
    exec_pending *pend = NULL;
    exec_row *rows = NULL;
    exec_order *orders = NULL;
    exec_outcome *outs = NULL;
    size_t np = 0, n = 0;
    bool loaded = false;
    bool locked = false;
    tb_status s = exec_tx_begin(c, err);
    if (s == TB_OK) s = exec_store_try_lock_symbol(c, symbol, &locked, &last_seq, last_source, err);
    if (s == TB_OK && !locked) {
        exec_tx_rollback(c);
        res->busy = true;
        return TB_OK;
    }
    if (s == TB_OK) s = exec_store_pending(c, symbol, PENDING_BATCH, &pend, &np, err);
    for (size_t i = 0; s == TB_OK && i < np; i++) {
        const tb_tick *t = &pend[i].tick;
        exec_pending_action act =
            exec_pending_decide(last_seq, last_source, t->seq, t->source, svc->seq_reset_gap,
                                pend[i].age_ms, svc->reorder_wait_ms);
        if (act == EXEC_PENDING_WAIT) {
            res->waiting = true;
            break;
        }
        s = exec_store_drop_tick(c, t, err);
        if (s != TB_OK) break;
        if (act == EXEC_PENDING_DROP) {
            res->dropped++;
            bus_log(BUS_LOG_DEBUG, "tick %llu of %s dropped: %llu was matched already",
                    (unsigned long long)t->seq, symbol, (unsigned long long)last_seq);
            continue;
        }
        exec_tick_order k =
            exec_tick_classify(true, last_seq, last_source, t->seq, t->source, svc->seq_reset_gap);
        if (last_source[0] == '\0') {
            /* the first tick of a fresh symbol state starts its sequence */
        } else if (k == EXEC_TICK_RESET) {
            res->resets++;
            bus_log(BUS_LOG_INFO, "feed of %s restarted: seq %llu (%s) after %llu (%s)", symbol,
                    (unsigned long long)t->seq, t->source, (unsigned long long)last_seq,
                    last_source);
        } else if (t->seq != last_seq + 1) {
            res->gaps++;
            bus_log(BUS_LOG_DEBUG, "tick %llu of %s matched without %llu..%llu",
                    (unsigned long long)t->seq, symbol, (unsigned long long)last_seq + 1,
                    (unsigned long long)t->seq - 1);
        }
        if (!loaded) {
            s = exec_store_lock_open(c, symbol, svc->match_batch, &rows, &n, err);
            if (s == TB_OK && n > 0) {
                orders = calloc(n, sizeof *orders);
                outs = calloc(n, sizeof *outs);
                if (orders == NULL || outs == NULL)
                    s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
                for (size_t j = 0; s == TB_OK && j < n; j++) orders[j] = rows[j].ord;
            }
            loaded = true;
        }
        if (s == TB_OK && n > 0)
            s = match_tick(c, svc, &pend[i], rows, orders, outs, n, evs, res, err);
        last_seq = t->seq;
        snprintf(last_source, sizeof last_source, "%s", t->source);
        last_ts = t->ts;
        res->matched++;
    }
    if (s == TB_OK && res->matched > 0)
        s = exec_store_set_symbol(c, symbol, last_seq, last_source, last_ts, err);
    free(pend);
    free(rows);
    free(orders);
    free(outs);
    if (s == TB_OK) s = exec_tx_commit(c, err);
    if (s != TB_OK) exec_tx_rollback(c);
    return s;
}

/* Drains a symbol round after round, publishing after each commit, until a
 * round finds nothing ready: that last look closes the window in which a
 * tick recorded during a round would otherwise wait for the timer. */
static tb_status drain_and_publish(bus_actor *a, exec_service *svc, PGconn *c, const char *symbol,
                                   const char *trace, tb_error *err) {
    drain_result total = {0};
    tb_status s;
    for (;;) {
        exec_events evs = {0};
        drain_result r = {0};
        s = drain_symbol(svc, c, symbol, &evs, &r, err);
        if (s == TB_OK) {
            exec_relay_now(a, svc, r.fills);
            exec_publish_events(a, svc, &evs, trace);
        }
        exec_events_free(&evs);
        total.matched += r.matched;
        total.dropped += r.dropped;
        total.gaps += r.gaps;
        total.resets += r.resets;
        if (s != TB_OK || r.busy || r.matched + r.dropped == 0) break;
    }
    bus_counter_add(svc->m_ticks_matched, (uint64_t)total.matched);
    bus_counter_add(svc->m_ticks_stale, (uint64_t)total.dropped);
    bus_counter_add(svc->m_ticks_gap, (uint64_t)total.gaps);
    bus_counter_add(svc->m_ticks_reset, (uint64_t)total.resets);
    return s;
}

tb_status exec_on_tick(bus_ctx *ctx, const void *ev) {
    const tb_tick *t = ev;
    exec_service *svc = bus_actor_user(bus_ctx_actor(ctx));
    const char *subject = bus_ctx_subject(ctx);
    const char *sym = strlen(subject) > 8 ? subject + 8 : ""; /* md.tick.<symbol> */
    exec_quote q = exec_quote_of(t);
    tb_error err = {0};
    tb_status s = strcmp(sym, t->symbol) == 0
                      ? exec_quote_validate(&q, &err)
                      : tb_error_set(&err, TB_INVALID, "symbol", "tick of %s published on %s",
                                     t->symbol, subject);
    if (s != TB_OK) {
        bus_counter_add(svc->m_ticks_invalid, 1);
        return bus_fail_err(ctx, &err);
    }
    PGconn *c = bus_ctx_pg(ctx, &err);
    if (c == NULL) return bus_fail_err(ctx, &err);
    bool open = false;
    if (exec_store_has_open(c, t->symbol, &open, &err) != TB_OK) return bus_fail_err(ctx, &err);
    if (!open) {
        bus_counter_add(svc->m_ticks_idle, 1);
        return TB_OK;
    }
    if (exec_store_journal_tick(c, t, bus_ctx_trace(ctx), &err) != TB_OK ||
        drain_and_publish(bus_ctx_actor(ctx), svc, c, t->symbol, bus_ctx_trace(ctx), &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    return TB_OK;
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
    for (size_t i = 0; i < n && !bus_actor_stopping(a); i++)
        if (drain_and_publish(a, svc, c, syms[i], trace, &err) != TB_OK)
            bus_log(BUS_LOG_WARN, "tick drain of %s: %s", syms[i], err.message);
    free(syms);
    bus_pg_release(bus_actor_pg(a), c);
}
