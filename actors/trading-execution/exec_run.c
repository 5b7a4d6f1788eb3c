/* Matching a symbol's ticks in order (exec_domain.h, tick runs): the batch
 * path of the tick handler calls this once per symbol and batch, so the
 * store sees one read and one write per batch instead of per tick. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_domain.h"

static int tick_cmp(const void *a, const void *b) {
    const exec_run_tick *x = a, *y = b;
    if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
    return strcmp(x->source ? x->source : "", y->source ? y->source : "");
}

void exec_run_sort(exec_run_tick *ticks, size_t n) {
    if (n > 1) qsort(ticks, n, sizeof *ticks, tick_cmp);
}

void exec_run_free(exec_run *r) {
    free(r->events);
    r->events = NULL;
    r->nevents = r->cap = 0;
}

static tb_status push_event(exec_run *r, const exec_run_event *e) {
    if (r->nevents == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        exec_run_event *v = realloc(r->events, cap * sizeof *v);
        if (v == NULL) return TB_NOMEM;
        r->events = v;
        r->cap = cap;
    }
    r->events[r->nevents++] = *e;
    return TB_OK;
}

static bool changed(const exec_outcome *oc) {
    return oc->nsteps > 0 || oc->triggered_now || oc->filled || oc->status != TB_OK;
}

tb_status exec_run_match(const exec_run_tick *ticks, size_t nticks, uint64_t last_seq,
                         const char *last_source, uint64_t reset_gap, int64_t wait_ms,
                         const exec_params *p, int64_t now_ns, exec_order *orders, size_t norders,
                         exec_run *out) {
    *out = (exec_run){.last_seq = last_seq};
    snprintf(out->last_source, sizeof out->last_source, "%s", last_source ? last_source : "");
    exec_outcome *outs = norders ? calloc(norders, sizeof *outs) : NULL;
    if (norders && outs == NULL) return TB_NOMEM;
    tb_status s = TB_OK;
    size_t i = 0;
    for (; i < nticks; i++) {
        const exec_run_tick *t = &ticks[i];
        const char *src = t->source ? t->source : "";
        exec_pending_action act = exec_pending_decide(out->last_seq, out->last_source, t->seq, src,
                                                      reset_gap, t->age_ms, wait_ms);
        if (act == EXEC_PENDING_WAIT) break;
        if (act == EXEC_PENDING_DROP) {
            out->dropped++;
            continue;
        }
        /* the first tick of a fresh symbol state starts its sequence */
        if (out->last_source[0] != '\0') {
            exec_tick_order k =
                exec_tick_classify(true, out->last_seq, out->last_source, t->seq, src, reset_gap);
            if (k == EXEC_TICK_RESET)
                out->resets++;
            else if (t->seq != out->last_seq + 1)
                out->gaps++;
        }
        exec_match(&t->quote, p, now_ns, false, orders, norders, outs);
        for (size_t k = 0; k < norders && s == TB_OK; k++)
            if (changed(&outs[k]))
                s = push_event(out,
                               &(exec_run_event){
                                   .order = k, .tick = i, .after = orders[k], .outcome = outs[k]});
        if (s != TB_OK) break;
        out->matched++;
        out->advanced = true;
        out->last_seq = t->seq;
        snprintf(out->last_source, sizeof out->last_source, "%s", src);
        out->last_ts_ns = t->ts_ns;
    }
    out->consumed = i;
    free(outs);
    if (s != TB_OK) exec_run_free(out);
    return s;
}
