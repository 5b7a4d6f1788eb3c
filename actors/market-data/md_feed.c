/* Publishing side of every feed: per-symbol sequence numbers and last quotes
 * in Redis, ticks and feed status on NATS, tick metrics.
 *
 * A batch of ticks goes to Redis as one Lua script, which advances each
 * symbol's counter and stores its last quote with the seq it got. The script runs
 * atomically, so N copies of the service (or a restarted one) never hand out
 * a seq twice, and the stored quote always carries the highest seq. Only then
 * are the ticks published, on the buffered bulk connection without a flush
 * per message: NATS core is at most once anyway, and consumers detect gaps by
 * seq. The final status of a feed goes out on the same connection after a
 * flush, so it never overtakes the feed's last ticks. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "md_pace.h"
#include "md_service.h"

/* One round trip per batch, and Redis work per symbol of the batch rather
 * than per tick: the batch is grouped by symbol here, and the script gets
 * one entry per symbol (its keys, its tick count and its last tick), so the
 * counter moves once by the symbol's count (INCRBY), the quote hash is
 * written once with the symbol's last tick, the symbol set is added to
 * once. It returns each symbol's first seq; the ticks of a symbol take the
 * seqs from there in batch order, the ones one INCR per tick would have
 * given, and the stored quote is the batch's last for its symbol, with its
 * seq. (The script used to take every tick's keys and blob and count them
 * itself: 0.8 ms of Redis a 256-tick batch, half of Redis's CPU in the
 * chain benchmark, for four symbols.) */
#define QUOTE_SCRIPT_BODY(NSYMS)                                                                   \
    "local n = " NSYMS "\n"                                                                        \
    "local seqs, first, syms = {}, {}, {}\n"                                                       \
    "for i = 1, n do\n"                                                                            \
    "  local sym, count = ARGV[3 * i - 2], tonumber(ARGV[3 * i - 1])\n"                            \
    "  local top = redis.call('INCRBY', KEYS[2 * i], count)\n"                                     \
    "  redis.call('HSET', KEYS[2 * i + 1], 'seq', top, 'tick', ARGV[3 * i])\n"                     \
    "  seqs[i] = top - count + 1\n"                                                                \
    "  first[sym] = seqs[i]\n"                                                                     \
    "  syms[i] = sym\n"                                                                            \
    "end\n"                                                                                        \
    "redis.call('SADD', KEYS[1], unpack(syms))\n"

static const char quote_script[] = QUOTE_SCRIPT_BODY("#ARGV / 3") "return seqs\n";

/* The same for a replay that can be resumed (md_resume.c). The last two
 * keys are md:feeds and its state, the last three arguments its source,
 * this process's owner token and "<first line> <last line>" of the batch's
 * rows. Only the feed's owner in md:feeds may go on (a process whose lease
 * expired while it lived was taken over: it stops, see md_feed_publish).
 * The batch is appended to the state's `pending` as "<first line> <last
 * line> <SYM> <first seq> ...;", atomically with the seqs it got, so a
 * resume can publish the batch again with those seqs. */
#define REPLAY_OWNER_CHECK                                                                         \
    "if redis.call('HGET', KEYS[#KEYS - 1], ARGV[#ARGV - 2]) ~= ARGV[#ARGV - 1] then\n"            \
    "  return redis.error_reply('TBOWNER the replay was taken over by another process')\n"         \
    "end\n"
#define REPLAY_PENDING                                                                             \
    "local rec = ARGV[#ARGV]\n"                                                                    \
    "for sym, s in pairs(first) do rec = rec .. ' ' .. sym .. ' ' .. s end\n"                      \
    "redis.call('HSET', KEYS[#KEYS], 'pending',\n"                                                 \
    "           (redis.call('HGET', KEYS[#KEYS], 'pending') or '') .. rec .. ';')\n"
static const char quote_replay_script[] =
    REPLAY_OWNER_CHECK QUOTE_SCRIPT_BODY("(#ARGV - 3) / 3") REPLAY_PENDING "return seqs\n";

#define KEY_CAP (sizeof MD_KEY_QUOTE + TB_TOKEN_CAP)
#define NARGS   (10 + 5 * MD_BATCH)

/* A tick of the batch by symbol, then batch order (group_ticks). */
typedef struct sym_ix {
    const char *symbol;
    uint32_t i;
} sym_ix;

struct md_scratch {
    const char *argv[NARGS];
    size_t lens[NARGS];
    char keys[2 * MD_BATCH][KEY_CAP];
    char counts[MD_BATCH][12];
    size_t off[MD_BATCH], len[MD_BATCH];
    sym_ix order[MD_BATCH];
    uint32_t start[MD_BATCH + 1]; /* group g is order[start[g] .. start[g + 1]) */
    msgpack_sbuffer blobs;
};

md_service *md_service_of(bus_actor *a) {
    return bus_actor_user(a);
}

static void sleep_ns(int64_t ns) {
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

bool md_feed_stopped(const md_feed *f) {
    return bus_actor_stopping(f->svc->actor) || (f->cancel && atomic_load(f->cancel));
}

/* Warnings about an outage would repeat for every batch; one per second says it. */
static bool may_warn(md_feed *f) {
    int64_t now = bus_mono_ns();
    if (now - f->warn_ns < MD_STATUS_EVERY_NS) return false;
    f->warn_ns = now;
    return true;
}

void md_feed_status(const md_feed *f, const char *state, const char *message, tb_md_status *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->source, sizeof out->source, "%s", f->source);
    snprintf(out->state, sizeof out->state, "%s", state);
    out->ticks = f->ticks;
    out->errors = f->errors;
    out->dropped = f->dropped;
    out->ts = tb_now_ns();
    if (message) snprintf(out->message, sizeof out->message, "%s", message);
}

/* Stores st under md:status:<source> and publishes it on md.status.<source>. */
static void put_status(md_feed *f, const tb_md_status *st) {
    md_service *svc = f->svc;
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    tb_error err = {0};
    tb_status s = tb_encode(&tb_md_status_desc, st, &b, &err);
    if (s == TB_OK) {
        redisContext *r = bus_redis_acquire(bus_actor_redis(svc->actor), &err);
        char key[sizeof MD_KEY_STATUS + TB_TOKEN_CAP];
        snprintf(key, sizeof key, MD_KEY_STATUS "%s", st->source);
        const char *argv[] = {"SET", key, b.data};
        size_t lens[] = {3, strlen(key), b.size};
        s = r ? bus_redis_cmd_argv(r, 3, argv, lens, NULL, &err) : TB_UNAVAILABLE;
        bus_redis_release(bus_actor_redis(svc->actor), r);
        if (s != TB_OK) {
            bus_counter_add(svc->m_store_errors, 1);
            bus_log(BUS_LOG_WARN, "cannot store the status of feed %s: %s", st->source,
                    err.message);
        }
    }
    msgpack_sbuffer_destroy(&b);
    char subject[sizeof "md.status." + TB_TOKEN_CAP];
    snprintf(subject, sizeof subject, "md.status.%s", st->source);
    if (bus_publish(bus_actor_bulk_conn(svc->actor), subject, &tb_md_status_desc, st, NULL) !=
        TB_OK) {
        bus_counter_add(svc->m_publish_errors, 1);
        bus_log(BUS_LOG_WARN, "cannot publish %s", subject);
    }
}

tb_status md_feed_begin(md_feed *f, md_service *svc, const char *source,
                        const atomic_bool *cancel) {
    memset(f, 0, sizeof *f);
    f->scratch = malloc(sizeof *f->scratch);
    if (f->scratch == NULL) return TB_NOMEM;
    msgpack_sbuffer_init(&f->scratch->blobs);
    f->svc = svc;
    f->cancel = cancel;
    snprintf(f->source, sizeof f->source, "%s", source);
    f->status_ns = bus_mono_ns();
    pthread_mutex_lock(&svc->lock);
    snprintf(svc->last_source, sizeof svc->last_source, "%s", source);
    if (svc->running_feeds++ == 0) {
        svc->rate_count = (uint64_t)bus_series_value(svc->m_ticks);
        svc->rate_ns = bus_mono_ns();
    }
    pthread_mutex_unlock(&svc->lock);
    md_owner_claim(svc, source);
    tb_md_status st;
    md_feed_status(f, "running", NULL, &st);
    put_status(f, &st);
    bus_log(BUS_LOG_INFO, "feed %s started", source);
    return TB_OK;
}

/* Samples the tick counter into tb_tick_rate once a second. */
static void sample_rate(md_service *svc) {
    int64_t now = bus_mono_ns();
    pthread_mutex_lock(&svc->lock);
    if (now - svc->rate_ns >= MD_STATUS_EVERY_NS) {
        uint64_t c = (uint64_t)bus_series_value(svc->m_ticks);
        bus_gauge_set(svc->m_rate, md_pace_rate_per_s(svc->rate_count, c, now - svc->rate_ns));
        svc->rate_count = c;
        svc->rate_ns = now;
    }
    pthread_mutex_unlock(&svc->lock);
}

void md_feed_progress(md_feed *f) {
    sample_rate(f->svc);
    int64_t now = bus_mono_ns();
    if (now - f->status_ns < MD_STATUS_EVERY_NS) return;
    f->status_ns = now;
    tb_md_status st;
    md_feed_status(f, "running", NULL, &st);
    put_status(f, &st);
}

void md_feed_end(md_feed *f, const char *state, const char *message) {
    md_service *svc = f->svc;
    bus_conn *bulk = bus_actor_bulk_conn(svc->actor);
    if (bus_conn_flush(bulk, 5000) != TB_OK)
        bus_log(BUS_LOG_WARN, "feed %s: flushing its last ticks failed", f->source);
    /* A replay another process took over is that process's to end. */
    if (!f->taken_over && f->resume_key[0] && !md_owner_holds(svc, f->source)) f->taken_over = true;
    tb_md_status st;
    md_feed_status(f, state, message, &st);
    if (!f->taken_over) put_status(f, &st);
    if (bus_conn_flush(bulk, 5000) != TB_OK)
        bus_log(BUS_LOG_WARN, "feed %s: flushing its final status failed", f->source);
    if (!f->taken_over) md_owner_release(svc, f->source);
    sample_rate(svc);
    pthread_mutex_lock(&svc->lock);
    if (--svc->running_feeds == 0) bus_gauge_set(svc->m_rate, 0);
    pthread_mutex_unlock(&svc->lock);
    bus_log(BUS_LOG_INFO, "feed %s %s: %llu ticks, %llu rows rejected%s%s", f->source, state,
            (unsigned long long)f->ticks, (unsigned long long)f->errors, message ? ": " : "",
            message ? message : "");
    msgpack_sbuffer_destroy(&f->scratch->blobs);
    free(f->scratch);
    f->scratch = NULL;
}

static int sym_ix_cmp(const void *a, const void *b) {
    const sym_ix *x = a, *y = b;
    int c = strcmp(x->symbol, y->symbol);
    return c != 0 ? c : (x->i > y->i) - (x->i < y->i);
}

/* Groups ticks[0..n) by symbol into x->order and x->start; returns the
 * number of symbols. */
static size_t group_ticks(struct md_scratch *x, const tb_tick *ticks, size_t n) {
    for (size_t i = 0; i < n; i++) x->order[i] = (sym_ix){ticks[i].symbol, (uint32_t)i};
    qsort(x->order, n, sizeof *x->order, sym_ix_cmp);
    size_t g = 0;
    for (size_t k = 0; k < n; k++)
        if (k == 0 || strcmp(x->order[k].symbol, x->order[k - 1].symbol) != 0) x->start[g++] = k;
    x->start[g] = (uint32_t)n;
    return g;
}

/* Runs the quote script over ticks[0..n) (n <= MD_BATCH): fills each
 * tick's seq. */
static tb_status assign_seqs(md_feed *f, redisContext *r, tb_tick *ticks, size_t n, tb_error *err) {
    struct md_scratch *x = f->scratch;
    for (size_t i = 0; i < n; i++)
        ticks[i].seq = 0; /* the stored blob has no seq: the hash's seq field holds it */
    size_t ng = group_ticks(x, ticks, n);
    /* Each symbol's last tick, the one its quote keeps. */
    msgpack_sbuffer_clear(&x->blobs);
    for (size_t g = 0; g < ng; g++) {
        const tb_tick *last = &ticks[x->order[x->start[g + 1] - 1].i];
        x->off[g] = x->blobs.size;
        tb_status s = tb_encode(&tb_tick_desc, last, &x->blobs, err);
        if (s != TB_OK) return s;
        x->len[g] = x->blobs.size - x->off[g];
    }
    int argc = 0;
    char nk[16], lines[48];
    bool resumable = f->resume_key[0] != '\0';
    snprintf(nk, sizeof nk, "%zu", 1 + 2 * ng + 2 * resumable);
    snprintf(lines, sizeof lines, "%llu %llu", (unsigned long long)f->batch_from,
             (unsigned long long)f->batch_to);
#define PUSH(p, l) (x->argv[argc] = (p), x->lens[argc] = (l), argc++)
    PUSH("EVAL", 4);
    if (resumable)
        PUSH(quote_replay_script, sizeof quote_replay_script - 1);
    else
        PUSH(quote_script, sizeof quote_script - 1);
    PUSH(nk, strlen(nk));
    PUSH(MD_KEY_SYMBOLS, sizeof MD_KEY_SYMBOLS - 1);
    for (size_t g = 0; g < ng; g++) {
        const char *sym = x->order[x->start[g]].symbol;
        int a = snprintf(x->keys[2 * g], KEY_CAP, MD_KEY_SEQ "%s", sym);
        int b = snprintf(x->keys[2 * g + 1], KEY_CAP, MD_KEY_QUOTE "%s", sym);
        PUSH(x->keys[2 * g], (size_t)a);
        PUSH(x->keys[2 * g + 1], (size_t)b);
    }
    if (resumable) {
        PUSH(MD_KEY_FEEDS, sizeof MD_KEY_FEEDS - 1);
        PUSH(f->resume_key, strlen(f->resume_key));
    }
    /* blobs.data is final now that every last tick is encoded */
    for (size_t g = 0; g < ng; g++) {
        const char *sym = x->order[x->start[g]].symbol;
        int c = snprintf(x->counts[g], sizeof x->counts[g], "%u",
                         (unsigned)(x->start[g + 1] - x->start[g]));
        PUSH(sym, strlen(sym));
        PUSH(x->counts[g], (size_t)c);
        PUSH(x->blobs.data + x->off[g], x->len[g]);
    }
    if (resumable) {
        PUSH(f->source, strlen(f->source));
        PUSH(f->svc->owner, strlen(f->svc->owner));
        PUSH(lines, strlen(lines));
    }
#undef PUSH
    redisReply *rep = NULL;
    tb_status s = bus_redis_cmd_argv(r, argc, x->argv, x->lens, &rep, err);
    if (s != TB_OK) return s;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != ng) {
        freeReplyObject(rep);
        return tb_error_set(err, TB_ERR, NULL, "quote script: unexpected reply");
    }
    for (size_t g = 0; g < ng; g++) {
        uint64_t seq = (uint64_t)rep->element[g]->integer;
        for (uint32_t k = x->start[g]; k < x->start[g + 1]; k++) ticks[x->order[k].i].seq = seq++;
    }
    freeReplyObject(rep);
    return TB_OK;
}

bool md_feed_republish(md_feed *f, const tb_tick *t) {
    md_service *svc = f->svc;
    char subject[sizeof "md.tick." + TB_TOKEN_CAP];
    char trace[2 * TB_TOKEN_CAP + 24];
    snprintf(subject, sizeof subject, "md.tick.%s", t->symbol);
    snprintf(trace, sizeof trace, "%s-%s-%llu", f->source, t->symbol, (unsigned long long)t->seq);
    bus_msg_meta meta = {.trace_id = trace};
    if (bus_publish(bus_actor_bulk_conn(svc->actor), subject, &tb_tick_desc, t, &meta) == TB_OK)
        return true;
    bus_counter_add(svc->m_publish_errors, 1);
    if (may_warn(f)) bus_log(BUS_LOG_WARN, "feed %s: cannot publish %s", f->source, subject);
    return false;
}

tb_status md_feed_publish(md_feed *f, tb_tick *ticks, size_t n) {
    md_service *svc = f->svc;
    bus_redis_pool *pool = bus_actor_redis(svc->actor);
    for (size_t i = 0; i < n; i++)
        snprintf(ticks[i].source, sizeof ticks[i].source, "%s", f->source);
    int64_t backoff = 100 * INT64_C(1000000);
    for (;;) {
        tb_error err = {0};
        redisContext *r = bus_redis_acquire(pool, &err);
        tb_status s = r ? assign_seqs(f, r, ticks, n, &err) : TB_UNAVAILABLE;
        bus_redis_release(pool, r);
        if (s == TB_OK) break;
        if (strstr(err.message, "TBOWNER") != NULL) {
            /* Another process resumes this replay: it publishes from here. */
            f->taken_over = true;
            bus_log(BUS_LOG_WARN,
                    "replay %s: taken over by another process (this one's lease expired); it "
                    "stops here",
                    f->source);
            return TB_CONFLICT;
        }
        bus_counter_add(svc->m_store_errors, 1);
        if (s != TB_UNAVAILABLE) {
            /* Redis answered with an error (a key of the wrong type, say):
             * retrying cannot help, so this batch is lost, loudly. */
            bus_log(BUS_LOG_ERROR, "feed %s: %zu ticks dropped: %s", f->source, n, err.message);
            return s;
        }
        if (may_warn(f))
            bus_log(BUS_LOG_WARN, "feed %s waits for Redis: %s", f->source, err.message);
        int64_t until = bus_mono_ns() + backoff;
        while (!md_feed_stopped(f) && bus_mono_ns() < until) sleep_ns(50 * INT64_C(1000000));
        if (md_feed_stopped(f)) return TB_UNAVAILABLE;
        if (backoff < 2 * INT64_C(1000000000)) backoff *= 2;
    }
    uint64_t published = 0;
    for (size_t i = 0; i < n; i++) published += md_feed_republish(f, &ticks[i]);
    f->ticks += published;
    bus_counter_add(svc->m_ticks, published);
    md_flowctl_count_others(svc, f, published);
    return TB_OK;
}

tb_status md_store_quote(redisContext *r, const char *symbol, tb_tick *out, tb_error *err) {
    redisReply *rep = NULL;
    tb_status s = bus_redis_cmd(r, &rep, err, "HMGET " MD_KEY_QUOTE "%s seq tick", symbol);
    if (s != TB_OK) return s;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING ||
        rep->element[1]->type != REDIS_REPLY_STRING) {
        freeReplyObject(rep);
        return tb_error_set(err, TB_NOT_FOUND, "symbol", "no quote for %s", symbol);
    }
    char *end = NULL;
    unsigned long long seq = strtoull(rep->element[0]->str, &end, 10);
    bool seq_ok = end && *end == '\0' && seq > 0;
    s = tb_decode(&tb_tick_desc, rep->element[1]->str, rep->element[1]->len, out, err);
    freeReplyObject(rep);
    if (s == TB_OK && !seq_ok)
        s = tb_error_set(err, TB_ERR, NULL, "stored quote of %s has a bad seq", symbol);
    if (s != TB_OK) return s;
    out->seq = seq;
    return TB_OK;
}

tb_status md_store_status(redisContext *r, const char *source, tb_md_status *out, tb_error *err) {
    redisReply *rep = NULL;
    tb_status s = bus_redis_cmd(r, &rep, err, "GET " MD_KEY_STATUS "%s", source);
    if (s != TB_OK) return s;
    if (rep->type != REDIS_REPLY_STRING) {
        freeReplyObject(rep);
        return tb_error_set(err, TB_NOT_FOUND, "id", "no feed named %s", source);
    }
    s = tb_decode(&tb_md_status_desc, rep->str, rep->len, out, err);
    freeReplyObject(rep);
    return s;
}
