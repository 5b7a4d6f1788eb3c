/* Replays of a file started by api.market.replay outlive the process that
 * runs them: when it dies (kill -9, a crash), another process resumes the
 * replay where its consumers' ticks stopped, with the seqs they had, so the
 * consumers see every row once, without a gap (a row published twice is a
 * duplicate they ignore by seq).
 *
 * The state is the hash md:replay:<source>: the request (path, format,
 * speed, symbols, prefix), `line` and `ticks` (the checkpoint: every row up
 * to `line` reached NATS, `ticks` of them were published) and `pending`:
 * the batches given seqs since the checkpoint, as "<first line> <last line>
 * <SYM> <first seq> ...;", appended by the quote script atomically with
 * the seqs (md_feed.c). A checkpoint flushes the bulk connection (so every
 * tick published so far reached the server), then moves `line` and clears
 * `pending`. A resume skips the rows up to `line`, publishes the rows of
 * the pending batches again with the recorded seqs, and goes on from
 * there. Who resumes: md_owner.c, when a feed's owner lease expired. */
#include <stdlib.h>
#include <string.h>

#include "md_service.h"

/* Moves the checkpoint, only while this process owns the feed (a process
 * taken over must not move its successor's). */
static const char checkpoint_script[] =
    "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then\n"
    "  redis.call('HSET', KEYS[2], 'line', ARGV[3], 'ticks', ARGV[4], 'pending', '')\n"
    "end\n"
    "return 0\n";

static void key_of(const char *source, char *out, size_t cap) {
    snprintf(out, cap, MD_KEY_REPLAY "%s", source);
}

static void store_error(md_service *svc, const char *source, const char *what,
                        const tb_error *err) {
    bus_counter_add(svc->m_store_errors, 1);
    bus_log(BUS_LOG_WARN, "replay %s: cannot %s its resume state: %s", source, what, err->message);
}

void md_resume_save(md_feed *f, const md_replay_req *req) {
    md_service *svc = f->svc;
    key_of(f->source, f->resume_key, sizeof f->resume_key);
    char speed[24];
    snprintf(speed, sizeof speed, "%llu", (unsigned long long)req->speed);
    const char *argv[] = {
        "HSET",  f->resume_key, "path",    req->path,    "format",  md_csv_format_name(req->format),
        "speed", speed,         "symbols", req->symbols, "prefix",  req->prefix,
        "line",  "0",           "ticks",   "0",          "pending", ""};
    size_t lens[sizeof argv / sizeof argv[0]];
    for (size_t i = 0; i < sizeof argv / sizeof argv[0]; i++) lens[i] = strlen(argv[i]);
    tb_error err = {0};
    bus_redis_pool *pool = bus_actor_redis(svc->actor);
    redisContext *r = bus_redis_acquire(pool, &err);
    tb_status s = r ? bus_redis_cmd(r, NULL, &err, "DEL %s", f->resume_key) : TB_UNAVAILABLE;
    if (s == TB_OK)
        s = bus_redis_cmd_argv(r, (int)(sizeof argv / sizeof argv[0]), argv, lens, NULL, &err);
    bus_redis_release(pool, r);
    if (s != TB_OK) {
        store_error(svc, f->source, "store", &err);
        f->resume_key[0] = '\0';
    }
}

/* The string field name of reply (an HMGET answer) at i into out. */
static bool field(const redisReply *rep, size_t i, char *out, size_t cap) {
    if (i >= rep->elements || rep->element[i]->type != REDIS_REPLY_STRING ||
        rep->element[i]->len >= cap)
        return false;
    memcpy(out, rep->element[i]->str, rep->element[i]->len + 1);
    return true;
}

bool md_resume_request(md_service *svc, const char *source, md_replay_req *req) {
    char key[sizeof MD_KEY_REPLAY + TB_TOKEN_CAP], format[16], speed[24];
    key_of(source, key, sizeof key);
    memset(req, 0, sizeof *req);
    tb_error err = {0};
    bus_redis_pool *pool = bus_actor_redis(svc->actor);
    redisContext *r = bus_redis_acquire(pool, &err);
    redisReply *rep = NULL;
    tb_status s = r ? bus_redis_cmd(r, &rep, &err, "HMGET %s path format speed symbols prefix", key)
                    : TB_UNAVAILABLE;
    bus_redis_release(pool, r);
    bool ok = s == TB_OK && rep->type == REDIS_REPLY_ARRAY &&
              field(rep, 0, req->path, sizeof req->path) && req->path[0] &&
              field(rep, 1, format, sizeof format) && field(rep, 2, speed, sizeof speed) &&
              field(rep, 3, req->symbols, sizeof req->symbols) &&
              field(rep, 4, req->prefix, sizeof req->prefix) &&
              md_csv_format_parse(format, &req->format) == TB_OK;
    if (rep) freeReplyObject(rep);
    if (!ok) return false;
    char *end = NULL;
    req->speed = strtoull(speed, &end, 10);
    snprintf(req->source, sizeof req->source, "%s", source);
    req->resumable = true;
    req->resume = true;
    return end && *end == '\0';
}

/* Parses "<from> <to> <SYM> <seq> ...;" records into r. */
static bool parse_pending(md_resume *r, const char *text) {
    const char *p = text;
    while (*p) {
        const char *semi = strchr(p, ';');
        if (semi == NULL) return false;
        md_resume_batch b = {.first = r->npairs};
        char *end = NULL;
        b.from = strtoull(p, &end, 10);
        if (end == p) return false;
        p = end;
        b.to = strtoull(p, &end, 10);
        if (end == p) return false;
        p = end;
        while (p < semi) {
            while (*p == ' ') p++;
            if (p >= semi) break;
            size_t n = strcspn(p, " ;");
            md_resume_pair pair = {0};
            if (n == 0 || n >= sizeof pair.symbol) return false;
            memcpy(pair.symbol, p, n);
            p += n;
            pair.next = strtoull(p, &end, 10);
            if (end == p || pair.next == 0) return false;
            p = end;
            md_resume_pair *grown = realloc(r->pairs, (r->npairs + 1) * sizeof *grown);
            if (grown == NULL) return false;
            r->pairs = grown;
            r->pairs[r->npairs++] = pair;
            b.npairs++;
        }
        md_resume_batch *gb = realloc(r->batches, (r->nbatches + 1) * sizeof *gb);
        if (gb == NULL) return false;
        r->batches = gb;
        r->batches[r->nbatches++] = b;
        p = semi + 1;
    }
    return true;
}

bool md_resume_load(md_feed *f, md_resume *out) {
    memset(out, 0, sizeof *out);
    key_of(f->source, f->resume_key, sizeof f->resume_key);
    tb_error err = {0};
    bus_redis_pool *pool = bus_actor_redis(f->svc->actor);
    redisContext *r = bus_redis_acquire(pool, &err);
    redisReply *rep = NULL;
    tb_status s = r ? bus_redis_cmd(r, &rep, &err, "HMGET %s line ticks pending", f->resume_key)
                    : TB_UNAVAILABLE;
    bus_redis_release(pool, r);
    bool ok = s == TB_OK && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
              rep->element[0]->type == REDIS_REPLY_STRING &&
              rep->element[1]->type == REDIS_REPLY_STRING;
    if (ok) {
        out->line = strtoull(rep->element[0]->str, NULL, 10);
        out->ticks = strtoull(rep->element[1]->str, NULL, 10);
        if (rep->element[2]->type == REDIS_REPLY_STRING)
            ok = parse_pending(out, rep->element[2]->str);
    }
    if (rep) freeReplyObject(rep);
    if (!ok) {
        if (s == TB_OK) tb_error_set(&err, TB_ERR, NULL, "malformed state");
        store_error(f->svc, f->source, "read", &err);
        md_resume_free(out);
    }
    return ok;
}

void md_resume_free(md_resume *r) {
    free(r->batches);
    free(r->pairs);
    memset(r, 0, sizeof *r);
}

bool md_resume_seq(md_resume *r, uint64_t line, const char *symbol, uint64_t *seq) {
    for (size_t b = 0; b < r->nbatches; b++) {
        const md_resume_batch *bt = &r->batches[b];
        if (line < bt->from || line > bt->to) continue;
        for (size_t i = bt->first; i < bt->first + bt->npairs; i++) {
            if (strcmp(r->pairs[i].symbol, symbol) != 0) continue;
            *seq = r->pairs[i].next++;
            return true;
        }
    }
    return false;
}

void md_resume_checkpoint(md_feed *f, uint64_t line) {
    if (f->resume_key[0] == '\0') return;
    md_service *svc = f->svc;
    tb_error err = {0};
    if (bus_conn_flush(bus_actor_bulk_conn(svc->actor), 5000) != TB_OK) {
        /* Not all reached NATS: the checkpoint stays where it was. */
        tb_error_set(&err, TB_UNAVAILABLE, NULL, "NATS flush failed");
        store_error(svc, f->source, "advance", &err);
        return;
    }
    bus_redis_pool *pool = bus_actor_redis(svc->actor);
    redisContext *r = bus_redis_acquire(pool, &err);
    char ls[24], ts[24];
    snprintf(ls, sizeof ls, "%llu", (unsigned long long)line);
    snprintf(ts, sizeof ts, "%llu", (unsigned long long)f->ticks);
    const char *argv[] = {
        "EVAL", checkpoint_script, "2", MD_KEY_FEEDS, f->resume_key, f->source, svc->owner, ls, ts};
    size_t lens[] = {4,
                     sizeof checkpoint_script - 1,
                     1,
                     sizeof MD_KEY_FEEDS - 1,
                     strlen(f->resume_key),
                     strlen(f->source),
                     strlen(svc->owner),
                     strlen(ls),
                     strlen(ts)};
    tb_status s = r ? bus_redis_cmd_argv(r, 9, argv, lens, NULL, &err) : TB_UNAVAILABLE;
    bus_redis_release(pool, r);
    if (s != TB_OK) store_error(svc, f->source, "advance", &err);
}

void md_resume_clear(md_feed *f) {
    if (f->resume_key[0] == '\0') return;
    tb_error err = {0};
    bus_redis_pool *pool = bus_actor_redis(f->svc->actor);
    redisContext *r = bus_redis_acquire(pool, &err);
    tb_status s = r ? bus_redis_cmd(r, NULL, &err, "DEL %s", f->resume_key) : TB_UNAVAILABLE;
    bus_redis_release(pool, r);
    if (s != TB_OK) store_error(f->svc, f->source, "delete", &err);
    f->resume_key[0] = '\0';
}
