/* Signals in batches (see risk_batch.h): the same decisions as one
 * risk_process per signal, with a constant number of store round trips per
 * account of the batch instead of a dozen per signal.
 *
 * Per batch: one Redis pipeline for the signals' markers, one query for the
 * signals that already made an order. Per account of the batch: one facts
 * query per symbol, positions and P&L once (when the limits need them), the
 * checks in arrival order in memory, one Redis pipeline for the order-rate
 * slots. Then one transaction for the batch's accounts (their locks, each
 * one's live re-check, three multi-row inserts, one commit: one WAL flush
 * for all of the batch's orders), one outbox relay round and the
 * decisions.
 *
 * Within a batch an approved order counts as open for the ones after it, as
 * it would once committed; it does not change positions (no fill yet),
 * exactly as for signals decided one by one. */
#include "risk_batch.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "outbox.h"
#include "parallel.h"
#include "pgarray.h"
#include "risk_bp.h"
#include "risk_deps.h"
#include "risk_intent.h"
#include "risk_store.h"
#include "store.h"

/* How a signal was decided without an order: a backtest account's is
 * recorded (record_refusals), so that its run knows it was decided. */
typedef enum item_fate {
    FATE_NONE = 0, /* an order, or not decided (yet) */
    FATE_REFUSED,  /* refused: out.verdict holds the failures */
    FATE_NO_ORDER, /* a target signal already at its target */
    FATE_INVALID,  /* unusable: detail says why */
} item_fate;

typedef struct item {
    size_t msg; /* index in the batch */
    const char *trace;
    risk_intent in;
    bool decide;   /* goes through the checks */
    bool deferred; /* API: repeats an earlier request's client_order_id */
    bool approved; /* passed every check so far */
    bool done;     /* decided: out holds the outcome */
    /* out.verdict is also the checks' verdict while deciding: a second
     * 4.7 KB verdict per item made a batch of 1,024 signals 11.5 MB. */
    risk_outcome out;
    int64_t event_ns;
    risk_quote quote;
    char order_id[TB_ID_CAP];
    int64_t ts_ns;
    char marker[TB_ID_CAP + 16];
    tb_fixed bp_batch_buy, bp_batch_sell; /* the symbol's earlier approved qty in the batch */
    item_fate fate;
    char detail[160]; /* FATE_INVALID: why */
} item;

/* Facts of one symbol of an account, loaded once per batch. */
typedef struct symbol_facts {
    char symbol[TB_TOKEN_CAP];
    risk_pg_facts pf;
    bool want_quote; /* an item of the symbol has no event time */
    bool quoted;
    risk_quote quote;
    tb_fixed batch_buy, batch_sell; /* qty of the batch's approved orders */
} symbol_facts;

/* The P&L baseline of one event day, asked once per batch. */
typedef struct day_base {
    int64_t day;
    tb_fixed day_pnl;
} day_base;

static risk_service *service_of(bus_ctx *ctx) {
    return bus_actor_user(bus_ctx_actor(ctx));
}

/* Sets every signal's "decided once" marker in one pipeline; *first[i] is
 * false for a signal another copy already took. */
static tb_status take_markers(redisContext *r, item *it, size_t n, bool *first, tb_error *err) {
    bus_redis_cmds c;
    redisReply **reps = calloc(n, sizeof *reps);
    tb_status s =
        reps ? bus_redis_cmds_init(&c, n, 6, err) : tb_error_set(err, TB_NOMEM, NULL, NULL);
    if (s != TB_OK) {
        free(reps);
        return s;
    }
    for (size_t i = 0; i < n; i++)
        bus_redis_cmds_set(&c, i, (const char *[]){"SET", it[i].marker, "1", "NX", "EX", "86400"});
    s = bus_redis_pipeline(r, c.cmd, n, reps, err);
    for (size_t i = 0; i < n && s == TB_OK; i++) {
        if (reps[i]->type == REDIS_REPLY_ERROR)
            s = tb_error_set(err, TB_UNAVAILABLE, NULL, "redis: %s", reps[i]->str);
        else
            first[i] = reps[i]->type == REDIS_REPLY_STATUS;
    }
    for (size_t i = 0; i < n; i++)
        if (reps[i]) freeReplyObject(reps[i]);
    free(reps);
    bus_redis_cmds_free(&c);
    return s;
}

/* Clears the markers of signals that could not be decided, so a copy (if
 * one comes) is decided. One pipeline. */
static void clear_markers(redisContext *r, item **its, size_t n) {
    if (r == NULL || n == 0) return;
    bus_redis_cmds c;
    tb_error err = {0};
    redisReply **reps = calloc(n, sizeof *reps);
    if (reps != NULL && bus_redis_cmds_init(&c, n, 2, &err) == TB_OK) {
        for (size_t i = 0; i < n; i++)
            bus_redis_cmds_set(&c, i, (const char *[]){"DEL", its[i]->marker});
        if (bus_redis_pipeline(r, c.cmd, n, reps, &err) != TB_OK)
            bus_log(BUS_LOG_WARN, "signal markers not cleared: %s", err.message);
        for (size_t i = 0; i < n; i++)
            if (reps[i]) freeReplyObject(reps[i]);
        bus_redis_cmds_free(&c);
    }
    free(reps);
}

/* Marks the items whose signal already made an order (one query). The
 * IS NOT NULL lets a generic plan of the prepared statement use the partial
 * unique index on signal_id: without it the planner cannot prove the index's
 * predicate from "= ANY($1)" and scans the whole orders table. */
static tb_status skip_used(PGconn *pg, item *it, size_t n, size_t *dups, tb_error *err) {
    bus_pgarray ids;
    bus_pgarray_init(&ids);
    for (size_t i = 0; i < n; i++)
        if (it[i].decide) bus_pgarray_str(&ids, it[i].in.signal_id);
    if (ids.n == 0) {
        bus_pgarray_close(&ids);
        return TB_OK;
    }
    const char *p[1] = {bus_pgarray_finish(&ids)};
    PGresult *r = NULL;
    tb_status s = p[0] ? bus_pg_exec(pg,
                                     "SELECT signal_id FROM orders "
                                     "WHERE signal_id = ANY($1::text[]) AND signal_id IS NOT NULL",
                                     1, p, &r, err)
                       : tb_error_set(err, TB_NOMEM, NULL, NULL);
    for (int row = 0; s == TB_OK && row < PQntuples(r); row++)
        for (size_t i = 0; i < n; i++)
            if (it[i].decide && strcmp(it[i].in.signal_id, PQgetvalue(r, row, 0)) == 0) {
                it[i].decide = false;
                (*dups)++;
            }
    PQclear(r);
    bus_pgarray_close(&ids);
    return s;
}

/* The account's view for one batch: facts per symbol, positions, P&L. */
typedef struct account_view {
    symbol_facts *syms;
    size_t nsyms;
    risk_position *positions;
    size_t npositions;
    bool positions_ok;
    bool pnl_ok;
    tb_fixed pnl;
    day_base *days;
    size_t ndays;
    tb_fixed bp_taken;       /* buying power needed by the batch's approved orders */
    bool prefetched;         /* views_prefetch read its facts and positions */
    PGresult *positions_res; /* prefetched positions, until evaluate_account reads them */
} account_view;

static void view_free(account_view *v) {
    free(v->syms);
    free(v->positions);
    free(v->days);
    PQclear(v->positions_res);
    v->positions_res = NULL;
}

static symbol_facts *view_symbol(PGconn *pg, account_view *v, const item *x, tb_error *err,
                                 tb_status *s) {
    for (size_t k = 0; k < v->nsyms; k++)
        if (strcmp(v->syms[k].symbol, x->in.symbol) == 0) return &v->syms[k];
    symbol_facts *grown = realloc(v->syms, (v->nsyms + 1) * sizeof *grown);
    if (grown == NULL) {
        *s = tb_error_set(err, TB_NOMEM, NULL, NULL);
        return NULL;
    }
    v->syms = grown;
    symbol_facts *f = &v->syms[v->nsyms];
    memset(f, 0, sizeof *f);
    snprintf(f->symbol, sizeof f->symbol, "%s", x->in.symbol);
    if ((*s = risk_store_load(pg, x->in.account, x->in.symbol, &f->pf, err)) != TB_OK) return NULL;
    v->nsyms++;
    return f;
}

/* One account's share of views_prefetch: its view and its items. */
typedef struct view_want {
    account_view *v;
    item **its;
    size_t n;
} view_want;

/* The facts of every symbol of each account's items (one statement) and
 * each account's positions, for several accounts at once, in one round
 * trip: the statements share a pipeline. The positions are read whether or not the
 * limits will need them (known only from the facts): one small query costs
 * less than a second round trip. Each view is marked prefetched and keeps
 * its positions' result for evaluate_account. */
static tb_status views_prefetch(PGconn *pg, view_want *w, size_t nw, tb_error *err) {
    size_t total = 0;
    for (size_t a = 0; a < nw; a++) total += w[a].n;
    const char **syms = calloc(total ? total : 1, sizeof *syms);
    const char **accts = calloc(total ? total : 1, sizeof *accts);
    size_t *owner = calloc(total ? total : 1, sizeof *owner);
    PGresult *facts = NULL;
    tb_status s = syms && accts && owner ? TB_OK : tb_error_set(err, TB_NOMEM, NULL, NULL);
    size_t m = 0;
    for (size_t a = 0; a < nw && s == TB_OK; a++) {
        account_view *v = w[a].v;
        symbol_facts *grown = realloc(v->syms, (v->nsyms + w[a].n) * sizeof *grown);
        if (grown == NULL) {
            s = tb_error_set(err, TB_NOMEM, NULL, NULL);
            break;
        }
        v->syms = grown;
        size_t first = m;
        for (size_t i = 0; i < w[a].n; i++) {
            const char *sym = w[a].its[i]->in.symbol;
            bool known = false;
            for (size_t k = 0; k < v->nsyms && !known; k++)
                known = strcmp(v->syms[k].symbol, sym) == 0;
            for (size_t k = first; k < m && !known; k++) known = strcmp(syms[k], sym) == 0;
            if (!known) {
                owner[m] = a;
                accts[m] = w[a].its[0]->in.account;
                syms[m++] = sym;
            }
        }
    }
    if (s == TB_OK) s = bus_pg_pipeline_begin(pg, err);
    if (s == TB_OK && m > 0) s = risk_store_load_send(pg, accts, syms, m, &facts, err);
    for (size_t a = 0; a < nw && s == TB_OK; a++)
        s = risk_store_positions_send(pg, w[a].its[0]->in.account, &w[a].v->positions_res, err);
    tb_status ps = bus_pg_pipeline_end(pg, s == TB_OK ? err : &(tb_error){0});
    if (s == TB_OK) s = ps;
    for (size_t k = 0; k < m && s == TB_OK; k++) {
        account_view *v = w[owner[k]].v;
        symbol_facts *f = &v->syms[v->nsyms];
        memset(f, 0, sizeof *f);
        snprintf(f->symbol, sizeof f->symbol, "%s", syms[k]);
        s = risk_store_load_read(facts, (int)k, accts[k], &f->pf, err);
        if (s == TB_OK) v->nsyms++;
    }
    PQclear(facts);
    for (size_t a = 0; a < nw; a++) {
        w[a].v->prefetched = s == TB_OK;
        if (s != TB_OK) {
            PQclear(w[a].v->positions_res);
            w[a].v->positions_res = NULL;
        }
    }
    free(owner);
    free(accts);
    free(syms);
    return s;
}

/* The day's P&L change for event time event_ns (0: today), from one
 * baseline read per distinct day. */
static tb_status view_day_pnl(redisContext *r, account_view *v, const char *account,
                              int64_t event_ns, tb_fixed *out, tb_error *err) {
    int64_t now = event_ns ? event_ns : tb_now_ns();
    int64_t day = now / INT64_C(86400000000000);
    for (size_t k = 0; k < v->ndays; k++)
        if (v->days[k].day == day) {
            *out = v->days[k].day_pnl;
            return TB_OK;
        }
    tb_fixed baseline = 0, diff = 0;
    tb_status s = risk_day_baseline(r, account, now, v->pnl, &baseline, err);
    if (s != TB_OK) return s;
    if (tb_fixed_sub(v->pnl, baseline, &diff) != TB_OK) diff = TB_FIXED_MIN;
    day_base *grown = realloc(v->days, (v->ndays + 1) * sizeof *grown);
    if (grown == NULL) return tb_error_set(err, TB_NOMEM, NULL, NULL);
    v->days = grown;
    v->days[v->ndays++] = (day_base){.day = day, .day_pnl = diff};
    *out = diff;
    return TB_OK;
}

/* One quote request for the account's view (fetch_all). */
typedef struct fetch_job {
    bus_conn *conn;
    bus_quotes *quotes;
    int64_t timeout_ms;
    const char *trace;
    symbol_facts *sf;
} fetch_job;

/* Each job writes its own fields of the view only. */
static void run_fetch(void *arg) {
    fetch_job *j = arg;
    bus_log_set_trace(j->trace);
    risk_request_quote(j->conn, j->quotes, j->sf->symbol, j->timeout_ms, j->trace, &j->sf->quote);
    j->sf->quoted = true;
}

/* The quotes the checks need that the ticks followed here do not vouch
 * for, asked of market-data at once: the batch waits for the slowest
 * answer, not for their sum. */
static tb_status fetch_all(bus_ctx *ctx, account_view *v, const char *trace, tb_error *err) {
    risk_service *svc = service_of(ctx);
    size_t n = 0;
    for (size_t k = 0; k < v->nsyms; k++) {
        symbol_facts *sf = &v->syms[k];
        if (sf->want_quote && !sf->quoted && risk_cached_quote(svc->quotes, sf->symbol, &sf->quote))
            sf->quoted = true; /* followed from its ticks: no request */
        n += sf->want_quote && !sf->quoted;
    }
    if (n == 0) return TB_OK;
    fetch_job *jobs = calloc(n, sizeof *jobs);
    void **args = calloc(n, sizeof *args);
    if (jobs == NULL || args == NULL) {
        free(jobs);
        free(args);
        return tb_error_set(err, TB_NOMEM, NULL, NULL);
    }
    fetch_job base = {.conn = bus_actor_conn(bus_ctx_actor(ctx)),
                      .quotes = svc->quotes,
                      .timeout_ms = svc->dep_timeout_ms,
                      .trace = trace};
    size_t m = 0;
    for (size_t k = 0; k < v->nsyms; k++) {
        if (!v->syms[k].want_quote || v->syms[k].quoted) continue;
        jobs[m] = base;
        jobs[m++].sf = &v->syms[k];
    }
    for (size_t i = 0; i < m; i++) args[i] = &jobs[i];
    char saved[128]; /* the caller's thread takes jobs too */
    snprintf(saved, sizeof saved, "%s", bus_log_trace());
    bus_parallel(run_fetch, args, m);
    bus_log_set_trace(saved);
    free(args);
    free(jobs);
    return TB_OK;
}

/* The dependency the view still lacks (one that did not answer), or NULL. */
static const char *view_missing(const account_view *v) {
    for (size_t k = 0; k < v->nsyms; k++)
        if (v->syms[k].want_quote && v->syms[k].quote.state == RISK_QUOTE_UNAVAILABLE)
            return "market-data (api.market.quote)";
    return NULL;
}

static void pause_ms(int64_t ms) {
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Pause between two attempts of a backtest signal's request, short of the
 * deadline (a dependency that is down answers "no responders" at once). */
#define BT_RETRY_PAUSE_MS 100

/* A backtest run's signals must be decided as on an idle machine: a
 * dependency that did not answer in time is not a risk decision, so it is
 * asked again (only what is missing, the signals held in their order) until
 * it answers or RISK_BACKTEST_WAIT_MS has passed since started_ns. Then
 * halt receives the reason naming the signal (the account's first of the
 * batch), and the checks refuse as for a live account. Live accounts never
 * come here: they are refused after RISK_DEPENDENCY_TIMEOUT_MS. */
static tb_status wait_dependencies(bus_ctx *ctx, account_view *v, item **its, int64_t started_ns,
                                   char *halt, size_t cap, tb_error *err) {
    risk_service *svc = service_of(ctx);
    const char *missing = view_missing(v);
    int64_t deadline = started_ns + svc->bt_wait_ms * 1000000;
    unsigned tries = 1;
    while (missing != NULL) {
        int64_t left_ms = (deadline - bus_mono_ns()) / 1000000;
        if (left_ms <= 0) {
            snprintf(halt, cap,
                     "signal %s refused: %s did not answer within RISK_BACKTEST_WAIT_MS "
                     "(%" PRId64 " ms, %u attempts)",
                     its[0]->in.signal_id, missing, svc->bt_wait_ms, tries);
            bus_log(BUS_LOG_WARN, "backtest account %s: %s", its[0]->in.account, halt);
            return TB_OK;
        }
        bus_counter_add(svc->m_backtest_retries, 1);
        pause_ms(left_ms < BT_RETRY_PAUSE_MS ? left_ms : BT_RETRY_PAUSE_MS);
        for (size_t k = 0; k < v->nsyms; k++)
            if (v->syms[k].quote.state == RISK_QUOTE_UNAVAILABLE) v->syms[k].quoted = false;
        tb_status s = fetch_all(ctx, v, its[0]->trace, err);
        if (s != TB_OK) return s;
        tries++;
        missing = view_missing(v);
    }
    if (tries > 1)
        bus_log(BUS_LOG_INFO, "backtest account %s: dependencies answered after %u attempts",
                its[0]->in.account, tries);
    return TB_OK;
}

/* Stops a backtest run whose signal could not be decided: engages the
 * account's kill switch with the reason (so its later signals are refused
 * too, and analytics ends the run failed with the reason). */
static tb_status halt_account(bus_ctx *ctx, PGconn *pg, const char *account, const char *reason,
                              const char *trace, tb_error *err) {
    tb_kill_switch ks = {.engaged = true};
    snprintf(ks.account, sizeof ks.account, "%s", account);
    snprintf(ks.reason, sizeof ks.reason, "%s", reason);
    uint64_t canceled = 0;
    tb_status s = risk_store_kill_switch(pg, &ks, trace, &canceled, err);
    if (s == TB_OK && canceled > 0) {
        tb_error rerr = {0};
        if (bus_outbox_publish_soon(bus_ctx_actor(ctx), RISK_PRODUCER, (int)canceled, &rerr) !=
            TB_OK)
            bus_log(BUS_LOG_WARN, "kill-switch cancels committed, publish deferred: %s",
                    rerr.message);
    }
    return s;
}

/* An approved item's qty and buying power, held for the items after it. */
static void take_buying_power(const item *x, const risk_facts *f, symbol_facts *sf,
                              account_view *v) {
    tb_fixed need = 0, *side = risk_signed_qty(&x->in) > 0 ? &sf->batch_buy : &sf->batch_sell;
    risk_verdict scratch = {0};
    risk_bp_check(&x->in, f, &f->bp, &need, &scratch);
    if (tb_fixed_add(*side, x->in.qty, side) != TB_OK) *side = TB_FIXED_MAX;
    if (tb_fixed_add(v->bp_taken, need, &v->bp_taken) != TB_OK) v->bp_taken = TB_FIXED_MAX;
}

/* Runs the checks of the account's items in arrival order. */
static tb_status evaluate_account(bus_ctx *ctx, PGconn *pg, redisContext *r, item **its, size_t n,
                                  account_view *v, tb_error *err) {
    const char *account = its[0]->in.account;
    tb_status s = TB_OK;
    if (!v->prefetched) s = views_prefetch(pg, &(view_want){.v = v, .its = its, .n = n}, 1, err);
    bool need_positions = false; /* also for the P&L: both come from the positions */
    for (size_t i = 0; i < n && s == TB_OK; i++) {
        symbol_facts *sf = view_symbol(pg, v, its[i], err, &s);
        if (sf == NULL) break;
        risk_quote ref;
        if (risk_event_time(&its[i]->in, &ref) == 0) sf->want_quote = true;
        if (!sf->pf.account_known) continue;
        need_positions |=
            risk_needs_positions(&its[i]->in, &sf->pf.limits) || risk_needs_pnl(&sf->pf.limits);
    }
    int64_t started = bus_mono_ns();
    if (s == TB_OK && need_positions) {
        s = risk_store_positions_read(v->positions_res, &v->positions, &v->npositions, &v->pnl,
                                      &v->pnl_ok, err);
        v->positions_ok = s == TB_OK;
    }
    PQclear(v->positions_res);
    v->positions_res = NULL;
    if (s == TB_OK) s = fetch_all(ctx, v, its[0]->trace, err);
    char halt[TB_TEXT_CAP] = "";
    const risk_pg_facts *af = v->nsyms > 0 ? &v->syms[0].pf : NULL;
    if (s == TB_OK && af && af->limits.backtest && !af->limits.kill_switch && !af->kill_global)
        s = wait_dependencies(ctx, v, its, started, halt, sizeof halt, err);
    if (s == TB_OK && halt[0]) s = halt_account(ctx, pg, account, halt, its[0]->trace, err);
    if (s != TB_OK) return s;

    uint64_t approved = 0;
    for (size_t i = 0; i < n && s == TB_OK; i++) {
        item *x = its[i];
        symbol_facts *sf = view_symbol(pg, v, x, err, &s);
        if (sf == NULL) break;
        x->event_ns = risk_event_time(&x->in, &x->quote);
        if (x->event_ns == 0) x->quote = sf->quote; /* fetched by fetch_all */
        risk_facts f = {.limits = &sf->pf.limits,
                        .account_known = sf->pf.account_known,
                        .kill_global = sf->pf.kill_global,
                        .symbol = &sf->pf.symbol,
                        .quote = x->quote,
                        .open_orders = sf->pf.open_orders + approved,
                        .now_ns = risk_decision_time(x->event_ns, &x->quote),
                        .bp = sf->pf.bp,
                        .bp_taken = v->bp_taken,
                        .fee_bps = (uint64_t)service_of(ctx)->fee_bps};
        /* The batch's approved orders count as open, as once committed. */
        x->bp_batch_buy = sf->batch_buy;
        x->bp_batch_sell = sf->batch_sell;
        if (tb_fixed_add(f.bp.open_buy, sf->batch_buy, &f.bp.open_buy) != TB_OK ||
            tb_fixed_add(f.bp.open_sell, sf->batch_sell, &f.bp.open_sell) != TB_OK)
            f.bp.unpriced++; /* cannot be valued: fail closed */
        if (sf->pf.account_known) {
            f.positions_ok = v->positions_ok;
            f.positions = v->positions;
            f.npositions = v->npositions;
            f.pnl_ok = v->positions_ok && v->pnl_ok;
            if (risk_needs_pnl(&sf->pf.limits) && f.pnl_ok)
                s = view_day_pnl(r, v, account, x->event_ns, &f.day_pnl, err);
        }
        if (s != TB_OK) break;
        risk_evaluate(&x->in, &f, &x->out.verdict);
        x->approved = x->out.verdict.n == 0;
        if (x->approved) {
            approved++;
            take_buying_power(x, &f, sf, v);
        }
    }
    return s;
}

/* Order-rate slots of the approved items, in one pipeline. */
static tb_status take_rate(bus_ctx *ctx, redisContext *r, item **its, size_t n, account_view *v,
                           tb_error *err) {
    risk_service *svc = service_of(ctx);
    const tb_risk_limits *l = &v->syms[0].pf.limits;
    if (l->max_orders_per_sec == 0) return TB_OK;
    item **take = calloc(n, sizeof *take);
    const char **members = calloc(n, sizeof *members);
    int64_t *ev = calloc(n, sizeof *ev);
    uint64_t *counts = calloc(n, sizeof *counts);
    tb_status s = take && members && ev && counts ? TB_OK : tb_error_set(err, TB_NOMEM, NULL, NULL);
    size_t m = 0;
    for (size_t i = 0; i < n && s == TB_OK; i++) {
        if (!its[i]->approved) continue;
        take[m] = its[i];
        members[m] = its[i]->order_id;
        ev[m] = its[i]->event_ns;
        m++;
    }
    if (s == TB_OK)
        s = risk_rate_take_many(r, take[0] ? take[0]->in.account : "", l->max_orders_per_sec,
                                svc->rate_window_ms, m, members, ev, counts, err);
    for (size_t k = 0; k < m && s == TB_OK; k++) {
        risk_facts f = {.limits = l, .orders_in_window = counts[k]};
        risk_check_order_rate(&take[k]->in, &f, &take[k]->out.verdict);
        take[k]->approved = take[k]->out.verdict.n == 0;
    }
    free(counts);
    free(ev);
    free(members);
    free(take);
    return s;
}

static bool any_approved(item **its, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (its[i]->approved) return true;
    return false;
}

/* Re-checks an account's approved items against its live facts (read in the
 * recording transaction, under its lock) and appends the ones that still
 * pass to orders[*m]. */
static tb_status collect_orders(bus_ctx *ctx, PGconn *pg, item **its, size_t n, account_view *v,
                                const risk_live *live, risk_new_order *orders, size_t *m,
                                tb_error *err) {
    tb_status s = TB_OK;
    size_t mine = 0; /* the account's orders before this one count as open */
    tb_fixed taken = 0;
    for (size_t i = 0; i < n && s == TB_OK; i++) {
        item *x = its[i];
        if (!x->approved) continue;
        symbol_facts *sf = view_symbol(pg, v, x, err, &s);
        if (sf == NULL) break;
        risk_facts f = {.limits = &sf->pf.limits,
                        .symbol = &sf->pf.symbol,
                        .account_known = sf->pf.account_known,
                        .quote = x->quote,
                        .bp = sf->pf.bp,
                        .fee_bps = (uint64_t)service_of(ctx)->fee_bps};
        if (tb_fixed_add(f.bp.open_buy, x->bp_batch_buy, &f.bp.open_buy) != TB_OK ||
            tb_fixed_add(f.bp.open_sell, x->bp_batch_sell, &f.bp.open_sell) != TB_OK)
            f.bp.unpriced++; /* cannot be valued: fail closed */
        risk_recheck(&x->in, &f, live, mine, &x->out.verdict);
        if (x->out.verdict.n == 0) risk_bp_recheck(&x->in, &f, live, &taken, &x->out.verdict);
        if (x->out.verdict.n > 0) {
            x->approved = false;
            continue;
        }
        mine++;
        orders[(*m)++] = (risk_new_order){.in = &x->in,
                                          .order_id = x->order_id,
                                          .ts_ns = x->ts_ns,
                                          .trace_id = x->trace,
                                          .reserve_price = risk_reference_price(&x->in, &x->quote)};
    }
    return s;
}

/* Ends a recording transaction begun in pipeline mode: the orders, COMMIT,
 * the pipeline's results; on any failure (s included) a ROLLBACK, so
 * nothing of it stays. */
static tb_status finish_recording(PGconn *pg, const risk_new_order *orders, size_t m, tb_status s,
                                  tb_error *err) {
    if (s == TB_OK) s = risk_store_write_orders(pg, orders, m, err);
    if (s == TB_OK) s = bus_pg_exec(pg, "COMMIT", 0, NULL, NULL, err);
    tb_status ps = bus_pg_pipeline_end(pg, s == TB_OK ? err : &(tb_error){0});
    if (s == TB_OK) s = ps;
    if (s != TB_OK) {
        tb_error ignored = {0};
        if (bus_pg_exec(pg, "ROLLBACK", 0, NULL, NULL, &ignored) != TB_OK) {
            /* the connection is gone; the server rolled back */
        }
    }
    return s;
}

/* Records the account's approved orders in one transaction, after the live
 * re-check under the account lock. TB_CONFLICT: a signal made an order on
 * another worker meanwhile (nothing written). */
static tb_status record_account(bus_ctx *ctx, PGconn *pg, item **its, size_t n, account_view *v,
                                tb_error *err) {
    if (!any_approved(its, n)) return TB_OK;
    risk_new_order *orders = calloc(n + 1, sizeof *orders);
    if (orders == NULL) return tb_error_set(err, TB_NOMEM, NULL, NULL);
    /* Two round trips: BEGIN, the lock and the live facts; then the rows
     * and COMMIT. */
    tb_status s = bus_pg_pipeline_begin(pg, err);
    if (s == TB_OK) s = bus_pg_exec(pg, "BEGIN", 0, NULL, NULL, err);
    risk_live live;
    if (s == TB_OK) s = risk_store_lock_live(pg, its[0]->in.account, &live, err);
    size_t m = 0;
    if (s == TB_OK) s = collect_orders(ctx, pg, its, n, v, &live, orders, &m, err);
    s = finish_recording(pg, orders, m, s, err);
    free(orders);
    return s;
}

/* The checks of one account's items, up to (not including) recording:
 * order ids, the facts and checks, the rate slots. v keeps the facts for
 * the recording. */
static tb_status check_account(bus_ctx *ctx, PGconn *pg, redisContext *r, item **its, size_t n,
                               account_view *v, tb_error *err) {
    int64_t ts = (tb_now_ns() / 1000) * 1000; /* PostgreSQL keeps microseconds */
    for (size_t i = 0; i < n; i++) {
        bus_new_id(its[i]->order_id, sizeof its[i]->order_id);
        its[i]->ts_ns = ts;
    }
    tb_status s = evaluate_account(ctx, pg, r, its, n, v, err);
    return s == TB_OK ? take_rate(ctx, r, its, n, v, err) : s;
}

/* The decisions of an account's recorded items. */
static void finish_account(bus_ctx *ctx, item **its, size_t n) {
    for (size_t i = 0; i < n; i++) {
        item *x = its[i];
        risk_publish_decision_traced(ctx, x->trace, &x->in, &x->out.verdict,
                                     x->approved ? x->order_id : NULL);
        x->out.kind = x->approved ? RISK_APPROVED : RISK_REJECTED;
        if (!x->approved) x->fate = FATE_REFUSED;
        if (x->approved) risk_order_record(&x->in, x->order_id, x->ts_ns, &x->out.record);
        x->done = true;
    }
}

/* Decides the items of one account. Returns a store failure (the items are
 * then undecided), or TB_CONFLICT when a signal made an order on another
 * worker meanwhile (nothing recorded: decide_conflicted decides them one by
 * one); business outcomes are in the items. Runs on a thread of its own
 * (decide_all), with its own PostgreSQL and Redis connections. */
static tb_status decide_account(bus_ctx *ctx, PGconn *pg, redisContext *r, item **its, size_t n,
                                tb_error *err) {
    account_view v = {0};
    tb_status s = check_account(ctx, pg, r, its, n, &v, err);
    if (s == TB_OK) s = record_account(ctx, pg, its, n, &v, err);
    view_free(&v);
    if (s == TB_OK) finish_account(ctx, its, n);
    return s;
}

/* Another worker recorded one of these signals first: decides each alone,
 * as risk_process resolves that race per signal (on the batch's own
 * connections, so on the handler's thread). */
static tb_status decide_conflicted(bus_ctx *ctx, item **its, size_t n, tb_error *err) {
    tb_status s = TB_OK;
    for (size_t i = 0; i < n && s == TB_OK; i++) {
        s = risk_process(ctx, &its[i]->in, &its[i]->out, err);
        if (s == TB_OK) {
            its[i]->done = true;
            its[i]->approved = its[i]->out.kind == RISK_APPROVED;
            if (its[i]->out.kind == RISK_REJECTED) its[i]->fate = FATE_REFUSED;
            if (its[i]->out.kind == RISK_DUPLICATE_SIGNAL)
                bus_counter_add(service_of(ctx)->m_duplicate_signals, 1);
        }
    }
    return s;
}

/* One account's share of a batch, decided (or, together, checked) on a
 * thread of its own. */
typedef struct account_job {
    bus_ctx *ctx;
    item **its;
    size_t n;
    PGconn *pg;      /* the handler's connections for the first account, else */
    redisContext *r; /* NULL: borrowed from the actor's pools for the job */
    bool together;   /* only checked here: recorded with the batch's other accounts */
    account_view v;  /* together: the facts the recording re-checks with */
    tb_status s;
    tb_error err;
} account_job;

/* After a store failure (not a conflict): keeps the job's undecided items
 * and clears their signal markers, so that copies of them are decided. */
static void release_undecided(redisContext *r, account_job *j) {
    if (j->s == TB_OK || j->s == TB_CONFLICT || j->n == 0 || !j->its[0]->marker[0]) return;
    size_t k = 0;
    for (size_t i = 0; i < j->n; i++)
        if (!j->its[i]->done) j->its[k++] = j->its[i];
    clear_markers(r, j->its, k);
    j->n = k;
}

static void run_account(void *arg) {
    account_job *j = arg;
    bus_actor *a = bus_ctx_actor(j->ctx);
    PGconn *pg = j->pg;
    redisContext *r = j->r;
    bool own = pg == NULL;
    bus_log_set_trace(j->its[0]->trace);
    if (own) {
        pg = bus_pg_acquire(bus_actor_pg(a), &j->err);
        r = pg ? bus_redis_acquire(bus_actor_redis(a), &j->err) : NULL;
    }
    if (pg == NULL || r == NULL)
        j->s = j->err.status != TB_OK ? j->err.status : TB_UNAVAILABLE;
    else if (j->together)
        j->s = check_account(j->ctx, pg, r, j->its, j->n, &j->v, &j->err);
    else
        j->s = decide_account(j->ctx, pg, r, j->its, j->n, &j->err);
    release_undecided(r, j);
    if (own) {
        if (r) bus_redis_release(bus_actor_redis(a), r);
        if (pg) bus_pg_release(bus_actor_pg(a), pg);
    }
}

/* Publishes the orders a batch of n committed, now (the fast path); the
 * background relay heals a failure here. */
static void relay_now(bus_ctx *ctx, size_t n) {
    tb_error err = {0};
    if (bus_outbox_publish_soon(bus_ctx_actor(ctx), RISK_PRODUCER, (int)n, &err) != TB_OK)
        bus_log(BUS_LOG_WARN, "orders committed, publish deferred to the relay: %s", err.message);
}

/* Records the approved orders of several checked accounts in one
 * transaction: their locks in one statement, then per account its live
 * facts and the re-check, and one multi-row insert and one commit (one WAL
 * flush) for all. On failure nothing is written: the caller records
 * account by account. */
static tb_status record_together(bus_ctx *ctx, PGconn *pg, account_job **js, size_t nj,
                                 tb_error *err) {
    size_t total = 0;
    for (size_t k = 0; k < nj; k++) total += js[k]->n;
    risk_new_order *orders = calloc(total + 1, sizeof *orders);
    const char **accounts = calloc(nj + 1, sizeof *accounts);
    tb_status s = orders && accounts ? TB_OK : tb_error_set(err, TB_NOMEM, NULL, NULL);
    PGresult *lives = NULL;
    for (size_t k = 0; k < nj && s == TB_OK; k++) accounts[k] = js[k]->its[0]->in.account;
    /* One round trip: BEGIN, the locks and every account's live facts. */
    if (s == TB_OK) s = bus_pg_pipeline_begin(pg, err);
    if (s == TB_OK) s = bus_pg_exec(pg, "BEGIN", 0, NULL, NULL, err);
    if (s == TB_OK) s = risk_store_lock_accounts(pg, accounts, nj, err);
    if (s == TB_OK) s = risk_store_live_send(pg, accounts, nj, &lives, err);
    if (s == TB_OK) s = bus_pg_pipeline_sync(pg, err);
    size_t m = 0;
    for (size_t k = 0; k < nj && s == TB_OK; k++) {
        risk_live live;
        s = risk_store_live_read(lives, (int)k, &live, err);
        if (s == TB_OK)
            s = collect_orders(ctx, pg, js[k]->its, js[k]->n, &js[k]->v, &live, orders, &m, err);
    }
    s = finish_recording(pg, orders, m, s, err);
    PQclear(lives);
    free(accounts);
    free(orders);
    return s;
}

/* Records the checked jobs (together set): one transaction for every
 * account that has an approved item, else (a conflict, a lock wait broken
 * by PostgreSQL, a store failure) one per account as decide_account would;
 * then the decisions of the recorded ones. */
static void record_jobs(bus_ctx *ctx, PGconn *pg, redisContext *r, account_job *jobs,
                        size_t njobs) {
    account_job **rec = calloc(njobs, sizeof *rec);
    size_t nrec = 0;
    for (size_t k = 0; k < njobs && rec; k++)
        if (jobs[k].s == TB_OK && any_approved(jobs[k].its, jobs[k].n)) rec[nrec++] = &jobs[k];
    tb_error err = {0};
    tb_status s = rec == NULL ? TB_NOMEM
                  : nrec > 0  ? record_together(ctx, pg, rec, nrec, &err)
                              : TB_OK;
    if (s != TB_OK) {
        bus_log(BUS_LOG_INFO, "orders of %zu accounts recorded account by account: %s", nrec,
                err.message);
        for (size_t k = 0; k < njobs; k++) {
            account_job *j = &jobs[k];
            if (j->s != TB_OK) continue;
            j->s = record_account(ctx, pg, j->its, j->n, &j->v, &j->err);
            release_undecided(r, j);
        }
    }
    for (size_t k = 0; k < njobs; k++) {
        view_free(&jobs[k].v);
        if (jobs[k].s == TB_OK) finish_account(ctx, jobs[k].its, jobs[k].n);
    }
    free(rec);
}

/* Decides every item with decide set, account by account (each account's
 * items in arrival order). Accounts share nothing in the checks (each has
 * its own limits, facts, rate window and advisory lock), so their round
 * trips run at once, one thread and one pair of connections per account:
 * a batch spanning eight accounts waits for the slowest account, not for
 * the sum. Their orders are then recorded in one transaction
 * (record_jobs): one commit for the batch, not one per account. A store
 * failure fails that account's items (and clears their signal markers).
 * Returns whether an order was recorded. */
static bool decide_all(bus_ctx *ctx, const bus_batch *b, PGconn *pg, redisContext *r, item *it,
                       size_t n, item **group, bool *grouped) {
    account_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    void **args = calloc(n ? n : 1, sizeof *args);
    if (jobs == NULL || args == NULL) {
        free(jobs);
        free(args);
        tb_error e = {.status = TB_NOMEM};
        snprintf(e.message, sizeof e.message, "out of memory deciding a batch");
        for (size_t i = 0; i < n; i++)
            if (it[i].decide) bus_batch_fail_err(b, it[i].msg, &e);
        return false;
    }
    size_t njobs = 0, used = 0;
    for (size_t i = 0; i < n; i++) {
        if (!it[i].decide || grouped[i]) continue;
        account_job *j = &jobs[njobs];
        *j = (account_job){.ctx = ctx, .its = &group[used]};
        for (size_t k = i; k < n; k++)
            if (it[k].decide && !grouped[k] && strcmp(it[k].in.account, it[i].in.account) == 0) {
                grouped[k] = true;
                j->its[j->n++] = &it[k];
            }
        used += j->n;
        if (njobs == 0) j->pg = pg, j->r = r;
        args[njobs] = j;
        njobs++;
    }
    char saved[128]; /* the handler's thread takes jobs too */
    snprintf(saved, sizeof saved, "%s", bus_log_trace());
    if (njobs == 1) {
        run_account(args[0]);
    } else {
        for (size_t k = 0; k < njobs; k++) jobs[k].together = true;
        /* Every account's facts and positions in one round trip first; on
         * a failure each job reads its own, and reports the failure. */
        view_want *w = calloc(njobs, sizeof *w);
        for (size_t k = 0; k < njobs && w; k++)
            w[k] = (view_want){.v = &jobs[k].v, .its = jobs[k].its, .n = jobs[k].n};
        tb_error ignored = {0};
        if (w != NULL && views_prefetch(pg, w, njobs, &ignored) != TB_OK) {
            /* each job tries on its own connection */
        }
        free(w);
        bus_parallel(run_account, args, njobs);
        bus_log_set_trace(saved);
        record_jobs(ctx, pg, r, jobs, njobs);
    }
    bus_log_set_trace(saved);
    bool recorded = false;
    for (size_t k = 0; k < njobs; k++) {
        account_job *j = &jobs[k];
        if (j->s == TB_CONFLICT) {
            j->err = (tb_error){0};
            j->s = decide_conflicted(ctx, j->its, j->n, &j->err);
            item **undecided =
                j->s != TB_OK && j->its[0]->marker[0] ? calloc(j->n, sizeof *undecided) : NULL;
            if (undecided != NULL) {
                size_t m = 0;
                for (size_t i = 0; i < j->n; i++)
                    if (!j->its[i]->done) undecided[m++] = j->its[i];
                clear_markers(r, undecided, m);
                free(undecided);
            }
        }
        for (size_t i = 0; i < j->n; i++) {
            if (j->s != TB_OK && !j->its[i]->done) bus_batch_fail_err(b, j->its[i]->msg, &j->err);
            /* decided ones of a failed fallback were recorded alone */
            if (j->s == TB_OK || j->its[i]->done) recorded |= j->its[i]->approved;
        }
    }
    free(args);
    free(jobs);
    return recorded;
}

/* A target signal of a backtest account whose position did not come in
 * time: asked again (see wait_dependencies) until it comes, or until
 * RISK_BACKTEST_WAIT_MS has passed since started_ns; then the run is
 * stopped (halt_account) and false returned, the signal refused as a live
 * one. A live account's, or a stopped run's, is refused at once. */
static bool size_backtest(bus_ctx *ctx, PGconn *pg, const tb_signal *sig, const char *trace,
                          int64_t started_ns, tb_fixed *position) {
    risk_service *svc = service_of(ctx);
    bool backtest = false;
    tb_error err = {0};
    if (risk_store_is_backtest(pg, sig->account, &backtest, &err) != TB_OK || !backtest)
        return false;
    int64_t deadline = started_ns + svc->bt_wait_ms * 1000000;
    unsigned tries = 1;
    for (;;) {
        int64_t left_ms = (deadline - bus_mono_ns()) / 1000000;
        if (left_ms <= 0) break;
        bus_counter_add(svc->m_backtest_retries, 1);
        pause_ms(left_ms < BT_RETRY_PAUSE_MS ? left_ms : BT_RETRY_PAUSE_MS);
        tries++;
        if (risk_fetch_position(bus_actor_conn(bus_ctx_actor(ctx)), sig->account, sig->symbol,
                                svc->dep_timeout_ms, trace, position)) {
            bus_log(BUS_LOG_INFO, "backtest account %s: position answered after %u attempts",
                    sig->account, tries);
            return true;
        }
    }
    char halt[TB_TEXT_CAP];
    snprintf(halt, sizeof halt,
             "signal %s refused: position-management (api.positions.get) did not answer within "
             "RISK_BACKTEST_WAIT_MS (%" PRId64 " ms, %u attempts)",
             sig->signal_id, svc->bt_wait_ms, tries);
    bus_log(BUS_LOG_WARN, "backtest account %s: %s", sig->account, halt);
    if (halt_account(ctx, pg, sig->account, halt, trace, &err) != TB_OK)
        bus_log(BUS_LOG_WARN, "backtest account %s not stopped: %s", sig->account, err.message);
    return false;
}

/* Turns the signals taken into intents; sizes target signals (one position
 * request each) and decides what needs no checks. */
static void make_intents(bus_ctx *ctx, PGconn *pg, const bus_batch *b, item *it, size_t n,
                         const bool *take) {
    risk_service *svc = service_of(ctx);
    for (size_t i = 0; i < n; i++) {
        item *x = &it[i];
        if (!take[i]) continue;
        const tb_signal *sig = bus_batch_event(b, x->msg);
        tb_fixed position = 0;
        bool sized = true;
        if (strcmp(sig->sizing, "target") == 0) {
            int64_t started = bus_mono_ns();
            sized = risk_fetch_position(bus_actor_conn(bus_ctx_actor(ctx)), sig->account,
                                        sig->symbol, svc->dep_timeout_ms, x->trace, &position) ||
                    size_backtest(ctx, pg, sig, x->trace, started, &position);
        }
        tb_error err = {0};
        risk_signal_result sr = risk_intent_from_signal(sig, position, &x->in, &err);
        if (sr == RISK_SIGNAL_INVALID) {
            bus_batch_fail(b, x->msg, err.status, "%s", err.message);
            x->fate = FATE_INVALID;
            snprintf(x->detail, sizeof x->detail, "%.159s", err.message);
        } else if (!sized) {
            /* Cannot size the order: reject it visibly (fail closed). */
            risk_verdict *v = &x->out.verdict;
            *v = (risk_verdict){0};
            risk_verdict_add(v, RISK_POSITIONS_UNAVAILABLE, NULL,
                             "no position of %s in %s to size signal %s", sig->account, sig->symbol,
                             sig->signal_id);
            risk_publish_decision_traced(ctx, x->trace, &x->in, v, NULL);
            x->fate = FATE_REFUSED;
        } else if (sr == RISK_SIGNAL_ORDER) {
            x->decide = true;
        } else {
            x->fate = FATE_NO_ORDER;
        }
    }
}

/* One pass over the signals taken: their intents, the ones that already
 * made an order skipped, the checks and the recording (decide_all), the
 * orders published. A store failure before the checks is returned (nothing
 * of the pass decided); the checks fail their own items. */
static tb_status decide_pass(bus_ctx *ctx, const bus_batch *b, PGconn *pg, redisContext *r,
                             item *it, size_t n, const bool *take, item **group, bool *grouped,
                             tb_error *err) {
    make_intents(ctx, pg, b, it, n, take);
    size_t dups = 0;
    tb_status s = skip_used(pg, it, n, &dups, err);
    if (dups) bus_counter_add(service_of(ctx)->m_duplicate_signals, dups);
    if (s != TB_OK) return s;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        grouped[i] = false;
        any |= it[i].decide;
    }
    bool relay = any && decide_all(ctx, b, pg, r, it, n, group, grouped);
    for (size_t i = 0; i < n; i++) it[i].decide = false; /* not again in a later pass */
    if (relay) relay_now(ctx, n);
    return TB_OK;
}

static const char *signal_account(const bus_batch *b, size_t i) {
    const tb_signal *sig = bus_batch_event(b, i);
    return sig->account;
}

/* Which taken signals are of running backtest accounts (one query). */
static tb_status find_backtests(PGconn *pg, const bus_batch *b, size_t n, const bool *take,
                                bool *bt, tb_error *err) {
    const char **accts = calloc(n ? n : 1, sizeof *accts);
    bool *is = calloc(n ? n : 1, sizeof *is);
    size_t *of = calloc(n ? n : 1, sizeof *of); /* item -> index in accts */
    tb_status s = accts && is && of ? TB_OK : tb_error_set(err, TB_NOMEM, NULL, NULL);
    size_t m = 0;
    for (size_t i = 0; i < n && s == TB_OK; i++) {
        if (!take[i]) continue;
        size_t k = 0;
        while (k < m && strcmp(accts[k], signal_account(b, i)) != 0) k++;
        if (k == m) accts[m++] = signal_account(b, i);
        of[i] = k;
    }
    if (s == TB_OK) s = risk_store_backtests(pg, accts, m, is, err);
    for (size_t i = 0; i < n; i++) bt[i] = s == TB_OK && take[i] && is[of[i]];
    free(of);
    free(is);
    free(accts);
    return s;
}

/* First and longest pause between two looks at a backtest account's
 * earlier orders: an order takes a few milliseconds from risk-management's
 * commit to position-management's booking. */
#define SETTLE_PAUSE_FIRST_MS 1
#define SETTLE_PAUSE_MAX_MS   20

/* In event time a signal's market order fills at the tick the strategy
 * saw, before the run's next signal is decided. A replay at full speed can
 * be ahead of that: the order of the run's previous signal may still be on
 * its way (risk-management's outbox, trading-execution, position-
 * management), its open order reserving buying power and its fill missing
 * from cash and position, so the next decision would depend on the
 * machine's speed (a run with little cash refused signals at full speed
 * that a paced run approved). So a backtest account's signal is decided
 * only once the account has no market order open and no fill unbooked
 * (risk_store_unsettled), waiting up to RISK_BACKTEST_WAIT_MS. An account
 * still unsettled then is stopped (halt_account) and its signal refused by
 * the kill switch. way[k] is accounts[k]'s signal; one query a look for
 * all of them. */
static tb_status wait_settled(bus_ctx *ctx, const bus_batch *b, PGconn *pg, const char **accounts,
                              item **way, size_t m, tb_error *err) {
    risk_service *svc = service_of(ctx);
    risk_unsettled *open = calloc(m ? m : 1, sizeof *open);
    const char **sigs = calloc(m ? m : 1, sizeof *sigs);
    if (open == NULL || sigs == NULL) {
        free(open);
        free(sigs);
        return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    }
    for (size_t k = 0; k < m; k++) {
        const tb_signal *sig = bus_batch_event(b, way[k]->msg);
        sigs[k] = sig->signal_id;
    }
    int64_t started = bus_mono_ns(), deadline = started + svc->bt_wait_ms * 1000000;
    int64_t pause = SETTLE_PAUSE_FIRST_MS;
    tb_status s;
    bool waited = false;
    for (;;) {
        s = risk_store_unsettled(pg, accounts, sigs, m, open, err);
        bool any = false;
        for (size_t k = 0; k < m && s == TB_OK; k++) any |= open[k].open;
        if (s != TB_OK || !any) break;
        int64_t left_ms = (deadline - bus_mono_ns()) / 1000000;
        if (left_ms <= 0) {
            for (size_t k = 0; k < m && s == TB_OK; k++) {
                if (!open[k].open) continue;
                const tb_signal *sig = bus_batch_event(b, way[k]->msg);
                char halt[TB_TEXT_CAP];
                snprintf(halt, sizeof halt,
                         "signal %s refused: the account's earlier orders were not settled "
                         "within RISK_BACKTEST_WAIT_MS (%" PRId64 " ms): %s",
                         sig->signal_id, svc->bt_wait_ms, open[k].what);
                bus_log(BUS_LOG_WARN, "backtest account %s: %s", accounts[k], halt);
                s = halt_account(ctx, pg, accounts[k], halt, way[k]->trace, err);
            }
            break;
        }
        waited = true;
        pause_ms(left_ms < pause ? left_ms : pause);
        pause = pause * 2 > SETTLE_PAUSE_MAX_MS ? SETTLE_PAUSE_MAX_MS : pause * 2;
    }
    if (waited)
        for (size_t k = 0; k < m; k++)
            bus_histogram_observe_ns(svc->m_backtest_settle, bus_mono_ns() - started);
    free(sigs);
    free(open);
    return s;
}

/* Fails the signals taken and left (not decided): their markers cleared,
 * so that copies of them are decided. */
static void fail_left(const bus_batch *b, redisContext *r, item *it, size_t n, const bool *take,
                      const bool *left, const tb_error *err) {
    item **fail = calloc(n ? n : 1, sizeof *fail);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!take[i] && !left[i]) continue;
        bus_batch_fail_err(b, it[i].msg, err);
        if (fail) fail[m++] = &it[i];
    }
    if (fail) clear_markers(r, fail, m);
    free(fail);
}

/* Records the taken signals decided without an order (one statement): a
 * run whose signal has neither an order nor such a record was not decided
 * (a worker killed holding it), and analytics fails it rather than report
 * without it. Not recorded (a store failure): the run fails the same way,
 * which a report missing the signal's effect would deserve. */
static void record_refusals(PGconn *pg, const bus_batch *b, item *it, size_t n, const bool *take) {
    risk_refusal *rf = calloc(n ? n : 1, sizeof *rf);
    char(*codes)[96] = calloc(n ? n : 1, sizeof *codes);
    const char **decided = calloc(n ? n : 1, sizeof *decided);
    size_t m = 0, nd = 0;
    for (size_t i = 0; rf && codes && decided && i < n; i++) {
        item *x = &it[i];
        if (!take[i]) continue;
        const tb_signal *sig = bus_batch_event(b, x->msg);
        if ((x->done && x->approved) || x->fate != FATE_NONE) decided[nd++] = sig->signal_id;
        if (x->fate == FATE_NONE) continue;
        rf[m] = (risk_refusal){.signal_id = sig->signal_id, .account = sig->account};
        if (x->fate == FATE_REFUSED) {
            rf[m].reasons = risk_verdict_codes(&x->out.verdict, codes[m], sizeof codes[m]);
            if (rf[m].reasons[0] == '\0') rf[m].reasons = "refused";
            rf[m].detail = x->out.verdict.n ? x->out.verdict.failures[0].message : "";
        } else if (x->fate == FATE_NO_ORDER) {
            rf[m].reasons = "no_order";
            rf[m].detail = "the position is already at the signal's target";
        } else {
            rf[m].reasons = "invalid_signal";
            rf[m].detail = x->detail;
        }
        m++;
    }
    tb_error err = {0};
    tb_status s = rf && codes && decided ? TB_OK : tb_error_set(&err, TB_NOMEM, NULL, NULL);
    /* One round trip: the refusals, then the cursors that rest on them. */
    bool piped = s == TB_OK && bus_pg_pipeline_begin(pg, &err) == TB_OK;
    if (s == TB_OK) s = risk_store_refusals(pg, rf, m, &err);
    if (s == TB_OK) s = risk_store_decided(pg, decided, nd, &err);
    if (piped) {
        tb_error perr = {0};
        tb_status ps = bus_pg_pipeline_end(pg, &perr);
        if (s == TB_OK && ps != TB_OK) {
            s = ps;
            err = perr;
        }
    }
    if (s != TB_OK)
        bus_log(BUS_LOG_WARN, "%zu backtest refusals (%zu decided signals) not recorded: %s", m, nd,
                err.message);
    free(decided);
    free(codes);
    free(rf);
}

/* The signals of backtest accounts (bt), after the live ones: in waves of
 * one signal per account, each account's in arrival order, every wave
 * decided once its accounts are settled (wait_settled). A target signal is
 * sized in its wave, from the position its earlier orders left. */
static void decide_backtests(bus_ctx *ctx, const bus_batch *b, PGconn *pg, redisContext *r,
                             item *it, size_t n, const bool *bt, bool *take, item **group,
                             bool *grouped) {
    bool *left = calloc(n ? n : 1, sizeof *left);
    const char **accts = calloc(n ? n : 1, sizeof *accts);
    item **way = calloc(n ? n : 1, sizeof *way);
    tb_error err = {0};
    tb_status s = left && accts && way ? TB_OK : tb_error_set(&err, TB_NOMEM, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        take[i] = false;
        if (left) left[i] = bt[i];
    }
    while (s == TB_OK) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            take[i] = false;
            if (!left[i]) continue;
            size_t k = 0;
            while (k < m && strcmp(accts[k], signal_account(b, i)) != 0) k++;
            if (k < m) continue; /* the account's next wave */
            accts[m] = signal_account(b, i);
            way[m++] = &it[i];
            take[i] = true;
            left[i] = false;
        }
        if (m == 0) break;
        s = wait_settled(ctx, b, pg, accts, way, m, &err);
        if (s == TB_OK) s = decide_pass(ctx, b, pg, r, it, n, take, group, grouped, &err);
        if (s == TB_OK) record_refusals(pg, b, it, n, take);
    }
    if (s != TB_OK) {
        bus_log(BUS_LOG_WARN, "backtest signals not decided: %s", err.message);
        if (left)
            fail_left(b, r, it, n, take, left, &err);
        else
            for (size_t i = 0; i < n; i++)
                if (bt[i]) bus_batch_fail_err(b, it[i].msg, &err);
    }
    free(way);
    free(accts);
    free(left);
}

tb_status risk_on_signals(bus_ctx *ctx, const bus_batch *b) {
    size_t n = bus_batch_len(b);
    tb_error err = {0};
    item *it = calloc(n, sizeof *it);
    bool *first = calloc(n, sizeof *first);
    bool *take = calloc(n, sizeof *take);
    bool *bt = calloc(n, sizeof *bt);
    item **group = calloc(n, sizeof *group);
    bool *grouped = calloc(n, sizeof *grouped);
    if (it == NULL || first == NULL || take == NULL || bt == NULL || group == NULL ||
        grouped == NULL) {
        free(it);
        free(first);
        free(take);
        free(bt);
        free(group);
        free(grouped);
        return bus_fail(ctx, TB_NOMEM, NULL, "out of memory for a batch of %zu signals", n);
    }
    for (size_t i = 0; i < n; i++) {
        const tb_signal *sig = bus_batch_event(b, i);
        it[i].msg = i;
        it[i].trace = bus_batch_trace(b, i);
        snprintf(it[i].marker, sizeof it[i].marker, "tb:risk:sig:%s", sig->signal_id);
    }
    redisContext *r = bus_ctx_redis(ctx, &err);
    PGconn *pg = r ? bus_ctx_pg(ctx, &err) : NULL;
    /* Signals are at most once, but N copies of a strategy runner may send
     * the same one: only the first copy is decided (the orders.signal_id
     * unique index guarantees one order even if this marker is lost). */
    tb_status s = pg ? take_markers(r, it, n, first, &err) : err.status;
    if (s == TB_OK) {
        size_t dups = 0;
        for (size_t i = 0; i < n; i++) dups += !first[i];
        if (dups) bus_counter_add(service_of(ctx)->m_duplicate_signals, dups);
        s = find_backtests(pg, b, n, first, bt, &err);
    }
    /* Live accounts' signals at once; backtest accounts' after them, each
     * once its account's earlier orders are settled. */
    for (size_t i = 0; i < n; i++) take[i] = first[i] && !bt[i];
    if (s == TB_OK) s = decide_pass(ctx, b, pg, r, it, n, take, group, grouped, &err);
    if (s != TB_OK && pg != NULL) {
        /* Nothing was decided: let copies of these signals be decided. */
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (first[i]) group[k++] = &it[i];
        clear_markers(r, group, k);
    }
    if (s == TB_OK) decide_backtests(ctx, b, pg, r, it, n, bt, take, group, grouped);
    free(grouped);
    free(group);
    free(bt);
    free(take);
    free(first);
    free(it);
    return s == TB_OK ? TB_OK : bus_fail_err(ctx, &err);
}

/* ---- API orders ---- */

/* Looks up the client_order_ids of the batch in one query: a retry of a
 * recorded order is answered from it (or refused when its fields differ);
 * a request repeating an earlier one of the same batch waits for it
 * (deferred, decided after the batch as if it came next). */
static tb_status resolve_retries(bus_ctx *ctx, PGconn *pg, item *it, size_t n, tb_error *err) {
    const char **accts = calloc(n + 1, sizeof *accts), **keys = calloc(n + 1, sizeof *keys);
    size_t m = 0;
    tb_status s = accts && keys ? TB_OK : tb_error_set(err, TB_NOMEM, NULL, NULL);
    for (size_t i = 0; i < n && s == TB_OK; i++) {
        if (!it[i].decide || it[i].in.client_order_id[0] == '\0') continue;
        for (size_t j = 0; j < i && !it[i].deferred; j++)
            it[i].deferred = (it[j].decide || it[j].deferred) &&
                             strcmp(it[j].in.account, it[i].in.account) == 0 &&
                             strcmp(it[j].in.client_order_id, it[i].in.client_order_id) == 0;
        if (it[i].deferred) {
            it[i].decide = false;
            continue;
        }
        accts[m] = it[i].in.account;
        keys[m++] = it[i].in.client_order_id;
    }
    risk_found_order *found = NULL;
    size_t nfound = 0;
    if (s == TB_OK && m > 0)
        s = risk_store_find_client_orders(pg, accts, keys, m, &found, &nfound, err);
    for (size_t f = 0; f < nfound && s == TB_OK; f++)
        for (size_t i = 0; i < n; i++) {
            item *x = &it[i];
            if (!x->decide || strcmp(x->in.account, found[f].record.account) != 0 ||
                strcmp(x->in.client_order_id, found[f].record.client_order_id) != 0)
                continue;
            risk_resolve_retry(&x->in, &found[f].record, found[f].reduce_only, &x->out);
            if (x->out.kind == RISK_REJECTED)
                risk_publish_decision_traced(ctx, x->trace, &x->in, &x->out.verdict, NULL);
            x->decide = false;
            x->done = true;
        }
    free(found);
    free(keys);
    free(accts);
    return s;
}

/* Answers request i with its outcome. */
static void answer(const bus_batch *b, const item *x) {
    if (x->out.kind == RISK_APPROVED || x->out.kind == RISK_EXISTING) {
        if (bus_batch_reply(b, x->msg, &tb_order_record_desc, &x->out.record) != TB_OK)
            bus_log(BUS_LOG_WARN, "order %s recorded, reply not sent", x->out.record.order_id);
        return;
    }
    char text[TB_TEXT_CAP];
    risk_verdict_text(&x->out.verdict, text, sizeof text);
    /* A reused idempotency key is a conflict (HTTP 409), every failed check
     * a rejection (422). */
    tb_error e = {.status = risk_verdict_has(&x->out.verdict, RISK_DUPLICATE_CLIENT_ORDER_ID)
                                ? TB_CONFLICT
                                : TB_REJECTED};
    snprintf(e.field, sizeof e.field, "%s",
             x->out.verdict.n ? x->out.verdict.failures[0].field : "");
    snprintf(e.message, sizeof e.message, "%.255s", text);
    bus_batch_fail_err(b, x->msg, &e);
}

tb_status risk_on_submits(bus_ctx *ctx, const bus_batch *b) {
    size_t n = bus_batch_len(b);
    tb_error err = {0};
    item *it = calloc(n, sizeof *it);
    item **group = calloc(n, sizeof *group);
    bool *grouped = calloc(n, sizeof *grouped);
    if (it == NULL || group == NULL || grouped == NULL) {
        free(it);
        free(group);
        free(grouped);
        return bus_fail(ctx, TB_NOMEM, NULL, "out of memory for a batch of %zu orders", n);
    }
    for (size_t i = 0; i < n; i++) {
        it[i].msg = i;
        it[i].trace = bus_batch_trace(b, i);
        it[i].decide = true;
        risk_intent_from_request(bus_batch_event(b, i), &it[i].in);
    }
    PGconn *pg = bus_ctx_pg(ctx, &err);
    redisContext *r = pg ? bus_ctx_redis(ctx, &err) : NULL;
    tb_status s = r ? resolve_retries(ctx, pg, it, n, &err) : err.status;
    bool relay = s == TB_OK && decide_all(ctx, b, pg, r, it, n, group, grouped);
    /* Requests repeating an earlier one's client_order_id, in order, now
     * that the earlier one is decided. */
    for (size_t i = 0; i < n && s == TB_OK; i++) {
        if (!it[i].deferred) continue;
        tb_error derr = {0};
        if (risk_process(ctx, &it[i].in, &it[i].out, &derr) == TB_OK)
            it[i].done = true;
        else
            bus_batch_fail_err(b, i, &derr);
    }
    /* The orders are committed: callers learn of them first, the stream
     * right after (the background relay heals a failure here). */
    for (size_t i = 0; i < n && s == TB_OK; i++)
        if (it[i].done) answer(b, &it[i]);
    if (relay) relay_now(ctx, n);
    free(grouped);
    free(group);
    free(it);
    return s == TB_OK ? TB_OK : bus_fail_err(ctx, &err);
}
