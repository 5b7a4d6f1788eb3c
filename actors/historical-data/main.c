/* tb-historical-data: OHLCV bars from ticks, stored, served and imported.
 *
 * Consumes md.tick.> (core NATS, queue group "historical-data") in batches:
 * every tick already queued is merged in memory into its 1s, 1m, 5m, 1h and
 * 1d bars (hist_batch.c), and the batch is stored in one transaction that
 * checks and sets the ticks' bits in the seen-sets and upserts the bars with
 * an order-independent merge (hist_store_ticks.c); a tick seen twice changes
 * nothing. When a batch holds a symbol's first tick of a later bucket, the
 * bar before it has closed: one Redis script call per batch moves each
 * symbol's current buckets forward atomically, so exactly one worker learns
 * of each close and publishes md.bar.<interval>.<SYM> (tb_bar), after the
 * commit.
 *
 * Endpoints: api.bars.query (tb_query -> list of tb_bar) and api.bars.import
 * (CSV text -> tb_bars_import_result, all rows or none). See README.md. */
#include <inttypes.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor.h"
#include "hist_bar.h"
#include "hist_batch.h"
#include "hist_csv.h"
#include "hist_fresh.h"
#include "hist_influx.h"
#include "hist_store.h"
#include "timer.h"

#define QUERY_DEFAULT_LIMIT 500
#define QUERY_MAX_LIMIT     5000
/* How long Redis remembers a symbol's current bucket per interval. A symbol
 * silent for longer gets no close event for the bar it last traded in. */
#define CLOSE_KEY_TTL_MS (8LL * 86400 * 1000)
/* (symbol, interval) keys whose newest stored bar is remembered
 * (hist_fresh.h): about 80 bytes each, five per symbol. */
#define HIST_FRESH_SLOTS 4096

/* How often freed heap goes back to the system (trim_heap). */
#define HEAP_TRIM_MS 1000

typedef struct hist_state {
    int64_t dedupe_retention_s;
    int64_t prune_interval_ms;
    int64_t import_max_rows;
    bus_series *ticks_applied, *ticks_duplicate, *ticks_invalid;
    bus_series *bars_closed, *close_errors;
    bus_series *import_rows, *import_rejected, *pruned;
    bus_series *guesses_wrong;
    hist_fresh *fresh; /* which bars are new rows (hist_fresh.h) */
    atomic_bool busy;  /* a batch of ticks ran since the last trim_heap */
    bool trimmed;      /* trim_heap's own: trimmed since the last busy interval */

    bus_influx *influx;            /* closed bars (and sampled ticks) to InfluxDB; NULL: off */
    unsigned influx_bar_intervals; /* closed bars of these to InfluxDB (1u << hist_interval) */
    int64_t influx_tick_sample;    /* every n-th stored tick to InfluxDB; 0: none */
    uint64_t influx_ticks_seen;    /* the batch handler's own (one per instance) */
} hist_state;

static hist_state state;

/* For each key (a symbol's interval) moves its current bucket forward to
 * the batch's latest bucket of that key, when that is later, and returns
 * the bucket that was current ("" when none). ARGV: the keys' TTL in ms,
 * then per key the batch's latest bucket. Which buckets closed follows
 * from the answer (closed_of): the batch's buckets are ascending per key.
 * Buckets are whole seconds since the epoch, kept as the strings given:
 * exact, unlike nanoseconds in Lua's doubles. (The script used to take
 * every bucket of the batch, about one per tick, and walk them itself: 0.8
 * ms of Redis a 1,000-tick batch in the chain benchmark.) */
static const char CLOSE_SCRIPT[] = "local ttl = ARGV[1]\n"
                                   "local out = {}\n"
                                   "for i, k in ipairs(KEYS) do\n"
                                   "  local top = ARGV[i + 1]\n"
                                   "  local cur = redis.call('GET', k)\n"
                                   "  if not cur or tonumber(top) > tonumber(cur) then\n"
                                   "    redis.call('SET', k, top, 'PX', ttl)\n"
                                   "  end\n"
                                   "  out[i] = cur or ''\n"
                                   "end\n"
                                   "return out\n";

/* The trace id of the batch's first counted tick of symbol (bars carry the
 * trace of a tick that made them). The ticks are sorted by symbol
 * (hist_batch_group): a binary search to the symbol's run, not a scan of
 * the batch per closed bar (a batch of 1,000 ticks closes about as many
 * bars: half a million string compares, the service's costliest function
 * in a profile of the chain benchmark). */
static const char *symbol_trace(const bus_batch *bb, const hist_batch *b, const char *symbol) {
    size_t lo = 0, hi = b->nticks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(b->ticks[mid].symbol, symbol) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < b->nticks && strcmp(b->ticks[i].symbol, symbol) == 0; i++)
        if (b->ticks[i].outcome == HIST_TICK_NEW) return bus_batch_trace(bb, b->ticks[i].index);
    return bus_batch_trace(bb, 0);
}

/* Appends to closed[*n] key row's bar with its start at sec. */
static void add_closed(const hist_bar_row *row, int64_t sec, hist_bar_row *closed, size_t *n) {
    closed[*n] = *row;
    closed[*n].bar.start = sec * HIST_NS_PER_SEC;
    (*n)++;
}

/* The buckets that closed, from the script's reply, into closed[]
 * (symbol, interval, start): the groups are b's bars in order, one per
 * (symbol, interval), each group's buckets ascending. Walking a group's
 * buckets from the bucket that was current (cur, none when the key had
 * none): each later bucket closes the current one and becomes current, so
 * those closed are cur (when a later bucket came) and every later bucket
 * but the last. At most one close per bucket of the batch, so closed[]
 * (b->nbars rows) holds them. */
static size_t closed_of(const redisReply *rep, const hist_batch *b, const size_t *group_first,
                        size_t ngroups, hist_bar_row *closed) {
    size_t n = 0;
    for (size_t g = 0; g < ngroups; g++) {
        const redisReply *e = rep->element[g];
        if (e->type != REDIS_REPLY_STRING) continue;
        bool have = e->len > 0;
        long long cur = 0;
        if (have) {
            char *end = NULL;
            cur = strtoll(e->str, &end, 10);
            if (end == e->str || *end != '\0' || cur < 0 || cur >= INT64_MAX / HIST_NS_PER_SEC)
                continue;
        }
        size_t end = g + 1 < ngroups ? group_first[g + 1] : b->nbars;
        size_t k = group_first[g];
        while (k < end && have && b->bars[k].bar.start / HIST_NS_PER_SEC <= cur) k++;
        if (k == end) continue; /* no later bucket: nothing closed */
        if (have && n < b->nbars) add_closed(&b->bars[group_first[g]], cur, closed, &n);
        for (; k + 1 < end && n < b->nbars; k++)
            add_closed(&b->bars[k], b->bars[k].bar.start / HIST_NS_PER_SEC, closed, &n);
    }
    return n;
}

/* Sorts stored (the bars the batch wrote, as written) and moves the closed
 * bars found there to out[0..); the closed keys not among them (written by
 * an earlier batch) are compacted to the front of closed. Returns how many
 * were found; *nclosed becomes how many are left to read. */
static size_t closed_from_stored(tb_bar *stored, size_t nstored, hist_bar_row *closed,
                                 size_t *nclosed, tb_bar *out) {
    if (nstored > 1) qsort(stored, nstored, sizeof *stored, hist_bar_key_cmp);
    size_t found = 0, left = 0;
    for (size_t i = 0; i < *nclosed; i++) {
        tb_bar key = {0};
        snprintf(key.symbol, sizeof key.symbol, "%s", closed[i].symbol);
        snprintf(key.interval, sizeof key.interval, "%s", hist_interval_name(closed[i].iv));
        key.start = closed[i].bar.start;
        const tb_bar *hit =
            nstored ? bsearch(&key, stored, nstored, sizeof *stored, hist_bar_key_cmp) : NULL;
        if (hit != NULL)
            out[found++] = *hit;
        else
            closed[left++] = closed[i];
    }
    *nclosed = left;
    return found;
}

/* Moves every (symbol, interval) of the batch's bars forward in Redis (one
 * script call) and publishes the bars that closed: as this batch's upsert
 * left them (stored) when it wrote them, the others (a bar last written by
 * an earlier batch) read in one query. A failure here does not undo the
 * stored ticks: the symbol's next tick of a later bucket retries the
 * close. */
static void publish_closed(bus_ctx *ctx, const bus_batch *bb, const hist_batch *b, tb_bar *stored,
                           size_t nstored) {
    if (b->nbars == 0) return;
    tb_error err = {0};
    size_t ngroups = 0;
    size_t *group_first = malloc(b->nbars * sizeof *group_first);
    /* EVAL, script, numkeys, ttl; per group a key and its latest bucket. */
    size_t cap = 4 + 2 * b->nbars;
    const char **argv = malloc(cap * sizeof *argv);
    size_t *lens = malloc(cap * sizeof *lens);
    char *keys = malloc(b->nbars * 160);
    char *nums = malloc(b->nbars * 24);
    hist_bar_row *closed = malloc(b->nbars * sizeof *closed);
    tb_bar *bars = malloc(b->nbars * sizeof *bars), *read = NULL;
    size_t nfound = 0, nread = 0;
    redisReply *rep = NULL;
    if (!group_first || !argv || !lens || !keys || !nums || !closed || !bars) {
        bus_counter_add(state.close_errors, 1);
        bus_log(BUS_LOG_WARN, "bar close check skipped: out of memory");
        goto done;
    }
    for (size_t i = 0; i < b->nbars; i++)
        if (i == 0 || b->bars[i].iv != b->bars[i - 1].iv ||
            strcmp(b->bars[i].symbol, b->bars[i - 1].symbol) != 0)
            group_first[ngroups++] = i;
    char nkeys[24], ttl[24];
    snprintf(nkeys, sizeof nkeys, "%zu", ngroups);
    snprintf(ttl, sizeof ttl, "%lld", CLOSE_KEY_TTL_MS);
    size_t argc = 0, nnum = 0;
    argv[argc++] = "EVAL";
    argv[argc++] = CLOSE_SCRIPT;
    argv[argc++] = nkeys;
    for (size_t g = 0; g < ngroups; g++) {
        const hist_bar_row *r = &b->bars[group_first[g]];
        char *k = keys + g * 160;
        snprintf(k, 160, "tb:hist:bucket:%s:%s", hist_interval_name(r->iv), r->symbol);
        argv[argc++] = k;
    }
    argv[argc++] = ttl;
    for (size_t g = 0; g < ngroups; g++) {
        size_t end = g + 1 < ngroups ? group_first[g + 1] : b->nbars;
        char *sec = nums + (nnum++) * 24;
        snprintf(sec, 24, "%" PRId64, b->bars[end - 1].bar.start / HIST_NS_PER_SEC);
        argv[argc++] = sec;
    }
    for (size_t i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    redisContext *r = bus_ctx_redis(ctx, &err);
    if (r == NULL || bus_redis_cmd_argv(r, (int)argc, argv, lens, &rep, &err) != TB_OK) {
        bus_counter_add(state.close_errors, 1);
        bus_log(BUS_LOG_WARN, "bar close check failed: %s", err.message);
        goto done;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != ngroups) {
        bus_counter_add(state.close_errors, 1);
        bus_log(BUS_LOG_WARN, "bar close check: unexpected reply");
        goto done;
    }
    size_t nclosed = closed_of(rep, b, group_first, ngroups, closed);
    if (nclosed == 0) goto done;
    nfound = closed_from_stored(stored, nstored, closed, &nclosed, bars);
    PGconn *pg = nclosed ? bus_ctx_pg(ctx, &err) : NULL;
    if (nclosed &&
        (pg == NULL || hist_store_get_bars(pg, closed, nclosed, &read, &nread, &err) != TB_OK)) {
        bus_counter_add(state.close_errors, 1);
        bus_log(BUS_LOG_WARN, "%zu closed bars not read: %s", nclosed, err.message);
        nread = 0;
    }
    /* At most one close per bucket of the batch: found + read <= nbars. */
    for (size_t i = 0; i < nread && nfound < b->nbars; i++) bars[nfound++] = read[i];
    /* A closed bar not found was pruned or never stored: nothing to announce. */
    for (size_t i = 0; i < nfound; i++) {
        const tb_bar *bar = &bars[i];
        char subject[128];
        snprintf(subject, sizeof subject, "md.bar.%s.%s", bar->interval, bar->symbol);
        bus_msg_meta meta = {.trace_id = symbol_trace(bb, b, bar->symbol)};
        if (bus_publish(bus_actor_bulk_conn(bus_ctx_actor(ctx)), subject, &tb_bar_desc, bar,
                        &meta) != TB_OK) {
            bus_counter_add(state.close_errors, 1);
            bus_log(BUS_LOG_WARN, "publishing %s failed", subject);
            continue;
        }
        bus_counter_add(state.bars_closed, 1);
    }
    for (size_t i = 0; i < nfound; i++)
        hist_influx_bar(state.influx, state.influx_bar_intervals, &bars[i]);
done:
    if (rep) freeReplyObject(rep);
    free(read);
    free(bars);
    free(closed);
    free(nums);
    free(keys);
    free(lens);
    free(argv);
    free(group_first);
}

/* A batch of ticks: refuses the invalid ones alone, merges the rest in
 * memory and stores them in one transaction (hist_store_apply_batch), then
 * announces the bars the batch closed. */
static tb_status on_ticks(bus_ctx *ctx, const bus_batch *bb) {
    size_t n = bus_batch_len(bb);
    atomic_store(&state.busy, true);
    hist_batch b;
    hist_batch_init(&b);
    tb_error err = {0};
    tb_status s = TB_OK;
    for (size_t i = 0; i < n && s == TB_OK; i++) {
        const tb_tick *t = bus_batch_event(bb, i);
        tb_fixed price, size;
        /* Refused alone: the runtime counts it per endpoint, this service
         * counts and logs it, and the rest of the batch goes on. */
        if (t->seq > (uint64_t)INT64_MAX) {
            bus_counter_add(state.ticks_invalid, 1);
            bus_log(BUS_LOG_WARN, "refused tick %s: seq %" PRIu64 " out of range (trace %s)",
                    t->symbol, t->seq, bus_batch_trace(bb, i));
            bus_batch_fail(bb, i, TB_INVALID, "seq %" PRIu64 " out of range", t->seq);
            continue;
        }
        if (hist_tick_price(t, &price, &size, &err) != TB_OK) {
            bus_counter_add(state.ticks_invalid, 1);
            bus_log(BUS_LOG_WARN, "refused tick: %s (trace %s)", err.message,
                    bus_batch_trace(bb, i));
            bus_batch_fail(bb, i, err.status, "%s", err.message);
            continue;
        }
        s = hist_batch_add(&b, t->symbol, t->source, t->seq, t->ts, price, size, i);
    }
    if (s == TB_OK) s = hist_batch_group(&b);
    if (s != TB_OK) {
        hist_batch_close(&b);
        return bus_fail(ctx, s, NULL, "out of memory grouping %zu ticks", n);
    }
    if (b.nticks == 0) {
        hist_batch_close(&b);
        return TB_OK;
    }
    PGconn *pg = bus_ctx_pg(ctx, &err);
    tb_bar *stored = NULL;
    size_t nstored = 0;
    bool guessed_wrong = false;
    if (pg == NULL || hist_store_apply_batch(pg, &b, state.fresh, &stored, &nstored, &guessed_wrong,
                                             &err) != TB_OK) {
        hist_batch_close(&b);
        return bus_fail_err(ctx, &err);
    }
    if (guessed_wrong) {
        bus_counter_add(state.guesses_wrong, 1);
        bus_log(BUS_LOG_INFO,
                "a bar guessed new was stored already (another worker): %zu ticks written "
                "again, upserted",
                b.nticks);
    }
    bus_counter_add(state.ticks_applied, b.nnew);
    bus_counter_add(state.ticks_duplicate, b.ndup);
    hist_influx_ticks(state.influx, &b, state.influx_tick_sample, &state.influx_ticks_seen);
    publish_closed(ctx, bb, &b, stored, nstored);
    free(stored);
    hist_batch_close(&b);
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
        bus_log(BUS_LOG_WARN, "seen-set prune skipped: %s", err.message);
        return;
    }
    int64_t deleted = 0;
    if (hist_store_prune(pg, st->dedupe_retention_s, &deleted, &err) != TB_OK)
        bus_log(BUS_LOG_WARN, "seen-set prune failed: %s", err.message);
    bus_counter_add(st->pruned, (uint64_t)deleted);
    bus_pg_release(bus_actor_pg(a), pg);
}

/* Gives the heap that a backlog of ticks left behind back to the system.
 * When ticks arrive faster than they are stored, the NATS client queues them
 * in this process (up to the runtime's pending limits); once the queue has
 * drained, glibc keeps most of those freed pages in its per-thread arenas,
 * so without this the resident size stays at the backlog's peak. Only after
 * a quiet interval: trimming under load would hand back pages the next
 * batches fault in again. */
static void trim_heap(bus_actor *a, void *arg) {
    (void)a;
    (void)arg;
    if (atomic_exchange(&state.busy, false)) {
        state.trimmed = false;
        return;
    }
    if (state.trimmed) return;
    (void)malloc_trim(0); /* returns whether memory was released: nothing to act on */
    state.trimmed = true;
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
    state.pruned =
        bus_metrics_counter(m, "tb_hist_seen_pruned_total", "Seen-set blocks deleted by age", NULL);
    state.guesses_wrong = bus_metrics_counter(
        m, "tb_hist_bar_inserts_retried_total",
        "Batches written again upserted: a bar guessed new was stored already", NULL);
    state.fresh = hist_fresh_create(HIST_FRESH_SLOTS);
    if (state.fresh == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    bus_actor_set_user(a, &state);
    bus_influx_opts io;
    tb_status s = bus_influx_opts_from_env(&io, err);
    if (s == TB_OK) s = bus_influx_create(&io, m, &state.influx, err);
    if (s != TB_OK) return s;
    s = bus_actor_add_timer(a, "seen-prune", state.prune_interval_ms, prune, &state, NULL, err);
    if (s != TB_OK) return s;
    return bus_actor_add_timer(a, "heap-trim", HEAP_TRIM_MS, trim_heap, NULL, NULL, err);
}

static void stop(bus_actor *a) {
    (void)a;
    bus_influx_destroy(state.influx);
    state.influx = NULL;
    hist_fresh_destroy(state.fresh);
    state.fresh = NULL;
}

static void usage(FILE *f) {
    fprintf(
        f,
        "  HIST_DEDUPE_RETENTION_S  how long a tick is remembered to ignore its duplicates\n"
        "                           (default 3600 = 1 hour)\n"
        "  HIST_PRUNE_INTERVAL_MS   how often old seen-set blocks are deleted (default 60000)\n"
        "  HIST_IMPORT_MAX_ROWS     most data rows one api.bars.import accepts (default 100000)\n"
        "  INFLUX_URL               InfluxDB 1.x to write closed bars to, e.g.\n"
        "                           http://127.0.0.1:8086 (default empty: none)\n"
        "  INFLUX_DB, INFLUX_USER, INFLUX_PASSWORD, INFLUX_QUEUE_LINES, INFLUX_BATCH_LINES,\n"
        "  INFLUX_FLUSH_MS, INFLUX_TIMEOUT_MS, INFLUX_BACKOFF_MAX_MS  the sink (docs/influxdb.md)\n"
        "  INFLUX_BAR_INTERVALS     the closed bars written, e.g. 1m,5m or all\n"
        "                           (default " HIST_INFLUX_DEFAULT_INTERVALS ")\n"
        "  INFLUX_TICK_SAMPLE       also write every n-th stored tick (default 0: none)\n");
}

static const bus_endpoint endpoints[] = {
    {.name = "ticks",
     .kind = BUS_EVENT,
     .subject = "md.tick.>",
     .event = &tb_tick_desc,
     .batch_handler = on_ticks,
     /* one instance sees all of a symbol's ticks, in order (bus/partition.c) */
     .partition_token = 3},
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
    /* Closed bars, about one per tick in a replay of second-spaced ticks,
     * go out buffered: on the main connection (sent at once, for replies)
     * each was a write to the socket. */
    .bulk_publisher = true,
    .start = start,
    .stop = stop,
    .usage = usage,
};

int main(int argc, char **argv) {
    tb_error err = {0};
    if (bus_env_int("HIST_DEDUPE_RETENTION_S", 3600, 60, 366LL * 86400, &state.dedupe_retention_s,
                    &err) != TB_OK ||
        bus_env_int("HIST_PRUNE_INTERVAL_MS", 60000, 100, 86400000, &state.prune_interval_ms,
                    &err) != TB_OK ||
        bus_env_int("HIST_IMPORT_MAX_ROWS", 100000, 1, 10000000, &state.import_max_rows, &err) !=
            TB_OK ||
        bus_env_int("INFLUX_TICK_SAMPLE", 0, 0, 1000000000, &state.influx_tick_sample, &err) !=
            TB_OK) {
        fprintf(stderr, "tb-historical-data: %s\n", err.message);
        return 2;
    }
    if (hist_interval_set_parse(bus_env("INFLUX_BAR_INTERVALS", HIST_INFLUX_DEFAULT_INTERVALS),
                                &state.influx_bar_intervals, &err) != TB_OK) {
        fprintf(stderr, "tb-historical-data: INFLUX_BAR_INTERVALS: %s\n", err.message);
        return 2;
    }
    return bus_actor_main(&def, argc, argv);
}
