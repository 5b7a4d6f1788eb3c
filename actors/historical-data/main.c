/* tb-historical-data: OHLCV bars from ticks, stored, served and imported.
 *
 * Consumes md.tick.> (core NATS, queue group "historical-data") and merges
 * every tick into its 1s, 1m, 5m, 1h and 1d bars in PostgreSQL with one
 * atomic, order-independent upsert (hist_store.c); a tick seen twice changes
 * nothing. When a symbol's first tick of a later bucket arrives, the bar
 * before it has closed: a Redis script moves the symbol's current bucket
 * forward atomically, so exactly one worker learns of each close and
 * publishes md.bar.<interval>.<SYM> (tb_bar).
 *
 * Endpoints: api.bars.query (tb_query -> list of tb_bar) and api.bars.import
 * (CSV text -> tb_bars_import_result, all rows or none). See README.md. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor.h"
#include "hist_bar.h"
#include "hist_csv.h"
#include "hist_store.h"
#include "timer.h"

#define QUERY_DEFAULT_LIMIT 500
#define QUERY_MAX_LIMIT     5000
/* How long Redis remembers a symbol's current bucket per interval. A symbol
 * silent for longer gets no close event for the bar it last traded in. */
#define CLOSE_KEY_TTL_MS (8LL * 86400 * 1000)

typedef struct hist_state {
    int64_t dedupe_retention_s;
    int64_t prune_interval_ms;
    int64_t import_max_rows;
    bus_series *ticks_applied, *ticks_duplicate, *ticks_invalid;
    bus_series *bars_closed, *close_errors;
    bus_series *import_rows, *import_rejected, *pruned;
} hist_state;

static hist_state state;

/* Moves each (symbol, interval) to the tick's bucket if it is later than the
 * one recorded and returns, per interval, the bucket it replaced ('' when
 * none or when the tick is not in a later bucket). Buckets are whole seconds
 * since the epoch: exact in Lua's doubles, unlike nanoseconds. */
static const char CLOSE_SCRIPT[] = "local out = {}\n"
                                   "local ttl = ARGV[#KEYS + 1]\n"
                                   "for i, k in ipairs(KEYS) do\n"
                                   "  local cur = redis.call('GET', k)\n"
                                   "  out[i] = ''\n"
                                   "  if not cur then\n"
                                   "    redis.call('SET', k, ARGV[i], 'PX', ttl)\n"
                                   "  elseif tonumber(ARGV[i]) > tonumber(cur) then\n"
                                   "    redis.call('SET', k, ARGV[i], 'PX', ttl)\n"
                                   "    out[i] = cur\n"
                                   "  end\n"
                                   "end\n"
                                   "return out\n";

/* Publishes the bars that the tick's buckets closed. A failure here does not
 * undo the stored tick: the next tick of the symbol retries the close. */
static void publish_closed(bus_ctx *ctx, const tb_tick *t, const hist_bar bars[HIST_NINTERVALS]) {
    tb_error err = {0};
    redisContext *r = bus_ctx_redis(ctx, &err);
    if (r == NULL) {
        bus_counter_add(state.close_errors, 1);
        bus_log(BUS_LOG_WARN, "bar close check skipped for %s: %s", t->symbol, err.message);
        return;
    }
    enum { NARGS = 3 + 2 * HIST_NINTERVALS + 1 };
    char keys[HIST_NINTERVALS][160], secs[HIST_NINTERVALS][24], nkeys[8], ttl[24];
    const char *argv[NARGS];
    size_t lens[NARGS];
    int n = 0;
    argv[n++] = "EVAL";
    argv[n++] = CLOSE_SCRIPT;
    snprintf(nkeys, sizeof nkeys, "%d", HIST_NINTERVALS);
    argv[n++] = nkeys;
    for (int i = 0; i < HIST_NINTERVALS; i++) {
        snprintf(keys[i], sizeof keys[i], "tb:hist:bucket:%s:%s", hist_interval_name(i), t->symbol);
        argv[n++] = keys[i];
    }
    for (int i = 0; i < HIST_NINTERVALS; i++) {
        snprintf(secs[i], sizeof secs[i], "%" PRId64, bars[i].start / HIST_NS_PER_SEC);
        argv[n++] = secs[i];
    }
    snprintf(ttl, sizeof ttl, "%lld", CLOSE_KEY_TTL_MS);
    argv[n++] = ttl;
    for (int i = 0; i < n; i++) lens[i] = strlen(argv[i]);
    redisReply *rep = NULL;
    if (bus_redis_cmd_argv(r, n, argv, lens, &rep, &err) != TB_OK) {
        bus_counter_add(state.close_errors, 1);
        bus_log(BUS_LOG_WARN, "bar close check failed for %s: %s", t->symbol, err.message);
        return;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != HIST_NINTERVALS) {
        bus_counter_add(state.close_errors, 1);
        bus_log(BUS_LOG_WARN, "bar close check for %s: unexpected reply", t->symbol);
        freeReplyObject(rep);
        return;
    }
    int64_t closed[HIST_NINTERVALS];
    for (int i = 0; i < HIST_NINTERVALS; i++) {
        const redisReply *e = rep->element[i];
        closed[i] = -1;
        if (e->type == REDIS_REPLY_STRING && e->len > 0) {
            char *end = NULL;
            long long sec = strtoll(e->str, &end, 10);
            if (end != e->str && *end == '\0' && sec >= 0 && sec < INT64_MAX / HIST_NS_PER_SEC)
                closed[i] = sec * HIST_NS_PER_SEC;
        }
    }
    freeReplyObject(rep);

    PGconn *pg = NULL;
    for (int i = 0; i < HIST_NINTERVALS; i++) {
        if (closed[i] < 0) continue;
        if (pg == NULL && (pg = bus_ctx_pg(ctx, &err)) == NULL) break;
        tb_bar bar;
        bool found = false;
        if (hist_store_get_bar(pg, t->symbol, (hist_interval)i, closed[i], &bar, &found, &err) !=
            TB_OK) {
            bus_counter_add(state.close_errors, 1);
            bus_log(BUS_LOG_WARN, "closed %s bar of %s not read: %s", hist_interval_name(i),
                    t->symbol, err.message);
            continue;
        }
        if (!found) continue; /* pruned or never stored: nothing to announce */
        char subject[128];
        snprintf(subject, sizeof subject, "md.bar.%s.%s", bar.interval, bar.symbol);
        bus_msg_meta meta = {.trace_id = bus_ctx_trace(ctx)};
        if (bus_publish(bus_actor_conn(bus_ctx_actor(ctx)), subject, &tb_bar_desc, &bar, &meta) !=
            TB_OK) {
            bus_counter_add(state.close_errors, 1);
            bus_log(BUS_LOG_WARN, "publishing %s failed", subject);
            continue;
        }
        bus_counter_add(state.bars_closed, 1);
    }
    if (pg == NULL && err.message[0]) {
        bus_counter_add(state.close_errors, 1);
        bus_log(BUS_LOG_WARN, "closed bars of %s not published: %s", t->symbol, err.message);
    }
}

static tb_status on_tick(bus_ctx *ctx, const void *ev) {
    const tb_tick *t = ev;
    tb_error err = {0};
    tb_fixed price, size;
    if (t->seq > (uint64_t)INT64_MAX) {
        bus_counter_add(state.ticks_invalid, 1);
        return bus_fail(ctx, TB_INVALID, "seq", "seq %" PRIu64 " out of range", t->seq);
    }
    if (hist_tick_price(t, &price, &size, &err) != TB_OK) {
        bus_counter_add(state.ticks_invalid, 1);
        return bus_fail_err(ctx, &err);
    }
    hist_bar bars[HIST_NINTERVALS];
    for (int i = 0; i < HIST_NINTERVALS; i++)
        hist_bar_from_tick(&bars[i], hist_bucket_start(t->ts, (hist_interval)i), price, size,
                           t->seq);
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL) return bus_fail_err(ctx, &err);
    bool applied = false;
    if (hist_store_apply_tick(pg, t->symbol, t->seq, t->ts, bars, &applied, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    if (!applied) {
        bus_counter_add(state.ticks_duplicate, 1);
        return TB_OK;
    }
    bus_counter_add(state.ticks_applied, 1);
    publish_closed(ctx, t, bars);
    return TB_OK;
}

static tb_status on_query(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    if (q->symbol[0] == '\0')
        return bus_fail(ctx, TB_MISSING_FIELD, "symbol", "symbol is required");
    if (q->interval[0] == '\0')
        return bus_fail(ctx, TB_MISSING_FIELD, "interval", "interval is required (1s|1m|5m|1h|1d)");
    hist_interval iv;
    if (hist_interval_parse(q->interval, &iv) != TB_OK)
        return bus_fail(ctx, TB_INVALID, "interval", "interval must be 1s|1m|5m|1h|1d");
    int64_t from = q->from;
    if (q->cursor[0]) {
        char *end = NULL;
        long long c = strtoll(q->cursor, &end, 10);
        if (end == q->cursor || *end != '\0' || c <= 0)
            return bus_fail(ctx, TB_INVALID, "cursor", "cursor is not one from a bars reply");
        from = c;
    }
    if (from < 0 || q->to < 0) return bus_fail(ctx, TB_INVALID, "from", "times before 1970");
    if (from && q->to && from >= q->to)
        return bus_fail(ctx, TB_INVALID, "to", "to must be after from");
    size_t limit = q->limit == 0                ? QUERY_DEFAULT_LIMIT
                   : q->limit > QUERY_MAX_LIMIT ? QUERY_MAX_LIMIT
                                                : (size_t)q->limit;
    tb_error err = {0};
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL) return bus_fail_err(ctx, &err);
    tb_bar *bars = NULL;
    size_t n = 0;
    char next[TB_ID_CAP];
    if (hist_store_query(pg, q->symbol, iv, from, q->to, limit, &bars, &n, next, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    tb_status s = bus_reply_list(ctx, &tb_bar_desc, bars, n, next[0] ? next : NULL);
    free(bars);
    return s;
}

static tb_status on_import(bus_ctx *ctx, const void *ev) {
    const bus_raw *raw = ev;
    if (raw->len == 0) return bus_fail(ctx, TB_INVALID, "body", "empty body: send CSV text");
    hist_import imp;
    tb_status s = hist_csv_parse(raw->data, raw->len, (size_t)state.import_max_rows, &imp);
    if (s == TB_NOMEM) {
        hist_import_free(&imp);
        return bus_fail(ctx, TB_NOMEM, NULL, "out of memory parsing the CSV");
    }
    if (s != TB_OK) {
        bus_counter_add(state.import_rejected, 1);
        if (imp.nerrors > 1)
            s = bus_fail(ctx, TB_INVALID, "body", "%zu bad rows, nothing stored; first: %s",
                         imp.nerrors, imp.first_error);
        else
            s = bus_fail(ctx, TB_INVALID, "body", "nothing stored: %s", imp.first_error);
        hist_import_free(&imp);
        return s;
    }
    tb_error err = {0};
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL) {
        hist_import_free(&imp);
        return bus_fail_err(ctx, &err);
    }
    s = hist_store_import(pg, &imp, &err);
    size_t rows = imp.nrows;
    hist_import_free(&imp);
    if (s != TB_OK) {
        bus_counter_add(state.import_rejected, 1);
        return bus_fail(ctx, s, err.field[0] ? err.field : NULL, "nothing stored: %s", err.message);
    }
    bus_counter_add(state.import_rows, rows);
    bus_log(BUS_LOG_INFO, "imported %zu bars", rows);
    tb_bars_import_result res = {.rows = rows};
    return bus_reply(ctx, &tb_bars_import_result_desc, &res);
}

static void prune(bus_actor *a, void *arg) {
    hist_state *st = arg;
    tb_error err = {0};
    PGconn *pg = bus_pg_acquire(bus_actor_pg(a), &err);
    if (pg == NULL) {
        bus_log(BUS_LOG_WARN, "seen-tick prune skipped: %s", err.message);
        return;
    }
    int64_t deleted = 0;
    if (hist_store_prune(pg, st->dedupe_retention_s, &deleted, &err) != TB_OK)
        bus_log(BUS_LOG_WARN, "seen-tick prune failed: %s", err.message);
    bus_counter_add(st->pruned, (uint64_t)deleted);
    bus_pg_release(bus_actor_pg(a), pg);
}

static tb_status start(bus_actor *a, tb_error *err) {
    bus_metrics *m = bus_actor_metrics(a);
    const char *th = "Ticks received by outcome";
    state.ticks_applied =
        bus_metrics_counter(m, "tb_hist_ticks_total", th, "outcome", "applied", NULL);
    state.ticks_duplicate =
        bus_metrics_counter(m, "tb_hist_ticks_total", th, "outcome", "duplicate", NULL);
    state.ticks_invalid =
        bus_metrics_counter(m, "tb_hist_ticks_total", th, "outcome", "invalid", NULL);
    state.bars_closed =
        bus_metrics_counter(m, "tb_hist_bars_closed_total", "md.bar events published", NULL);
    state.close_errors = bus_metrics_counter(m, "tb_hist_close_errors_total",
                                             "Bar close checks or publishes that failed", NULL);
    state.import_rows =
        bus_metrics_counter(m, "tb_hist_import_rows_total", "Bars stored by api.bars.import", NULL);
    state.import_rejected = bus_metrics_counter(m, "tb_hist_imports_rejected_total",
                                                "Imports refused (nothing stored)", NULL);
    state.pruned = bus_metrics_counter(m, "tb_hist_seen_pruned_total",
                                       "Seen-tick guard rows deleted by age", NULL);
    bus_actor_set_user(a, &state);
    return bus_actor_add_timer(a, "seen-prune", state.prune_interval_ms, prune, &state, NULL, err);
}

static void usage(FILE *f) {
    fprintf(
        f,
        "  HIST_DEDUPE_RETENTION_S  how long a tick is remembered to ignore its duplicates\n"
        "                           (default 3600 = 1 hour)\n"
        "  HIST_PRUNE_INTERVAL_MS   how often old seen-tick rows are deleted (default 60000)\n"
        "  HIST_IMPORT_MAX_ROWS     most data rows one api.bars.import accepts (default 100000)\n");
}

static const bus_endpoint endpoints[] = {
    {.name = "ticks",
     .kind = BUS_EVENT,
     .subject = "md.tick.>",
     .event = &tb_tick_desc,
     .handler = on_tick},
    {.name = "bars-query",
     .kind = BUS_REQUEST,
     .subject = "api.bars.query",
     .event = &tb_query_desc,
     .handler = on_query},
    {.name = "bars-import",
     .kind = BUS_REQUEST,
     .subject = "api.bars.import",
     .event = NULL,
     .handler = on_import},
};

static const bus_actor_def def = {
    .name = "historical-data",
    .version = TB_VERSION,
    .description = "OHLCV bars from ticks: aggregation, queries, CSV import",
    .endpoints = endpoints,
    .nendpoints = sizeof endpoints / sizeof endpoints[0],
    .needs = BUS_NEEDS_PG | BUS_NEEDS_REDIS,
    .start = start,
    .usage = usage,
};

int main(int argc, char **argv) {
    tb_error err = {0};
    if (bus_env_int("HIST_DEDUPE_RETENTION_S", 3600, 60, 366LL * 86400, &state.dedupe_retention_s,
                    &err) != TB_OK ||
        bus_env_int("HIST_PRUNE_INTERVAL_MS", 60000, 100, 86400000, &state.prune_interval_ms,
                    &err) != TB_OK ||
        bus_env_int("HIST_IMPORT_MAX_ROWS", 100000, 1, 10000000, &state.import_max_rows, &err) !=
            TB_OK) {
        fprintf(stderr, "tb-historical-data: %s\n", err.message);
        return 2;
    }
    return bus_actor_main(&def, argc, argv);
}
