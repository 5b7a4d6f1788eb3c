/* Request endpoints of market-data: api.market.symbols, api.market.quote,
 * api.market.replay and api.market.status. Quotes and feed status are read
 * from Redis, so any copy of the service gives the same answer. */
#include <stdlib.h>
#include <string.h>

#include "attach.h"
#include "md_service.h"
#include "wire.h"

#define SYMBOLS_DEFAULT_LIMIT 1000
#define SYMBOLS_MAX_LIMIT     10000

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_token(const char *s) {
    size_t n = strlen(s);
    return n > 0 && n < TB_TOKEN_CAP &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* query: symbol = prefix filter, cursor = last symbol of the previous page,
 * limit (default 1000, at most 10000). Reply: tb_tick list sorted by symbol. */
tb_status md_api_symbols(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    uint64_t limit = q->limit ? q->limit : SYMBOLS_DEFAULT_LIMIT;
    if (limit > SYMBOLS_MAX_LIMIT) limit = SYMBOLS_MAX_LIMIT;
    tb_error err = {0};
    redisContext *r = bus_ctx_redis(ctx, &err);
    if (r == NULL) return bus_fail_err(ctx, &err);
    redisReply *set = NULL;
    if (bus_redis_cmd(r, &set, &err, "SMEMBERS " MD_KEY_SYMBOLS) != TB_OK)
        return bus_fail_err(ctx, &err);
    size_t prefix = strlen(q->symbol), n = 0;
    const char **names = calloc(set->elements ? set->elements : 1, sizeof *names);
    tb_tick *items = NULL;
    tb_status s = TB_OK;
    if (names == NULL) {
        s = bus_fail(ctx, TB_NOMEM, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < set->elements; i++) {
        const char *name = set->element[i]->str;
        if (set->element[i]->type != REDIS_REPLY_STRING || !is_token(name)) continue;
        if (strncmp(name, q->symbol, prefix) != 0) continue;
        if (q->cursor[0] && strcmp(name, q->cursor) <= 0) continue;
        names[n++] = name;
    }
    qsort(names, n, sizeof *names, cmp_str);
    bool more = n > limit;
    if (more) n = (size_t)limit;
    items = calloc(n ? n : 1, sizeof *items);
    if (items == NULL) {
        s = bus_fail(ctx, TB_NOMEM, NULL, "out of memory");
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        tb_status qs = md_store_quote(r, names[i], &items[k], &err);
        if (qs == TB_OK)
            k++;
        else if (qs != TB_NOT_FOUND) {
            s = bus_fail_err(ctx, &err);
            goto out;
        }
    }
    s = bus_reply_list(ctx, &tb_tick_desc, items, k, more && n ? names[n - 1] : NULL);
out:
    free(items);
    free(names);
    freeReplyObject(set);
    return s;
}

/* "A,B,C" of tokens, no empty item. */
static bool is_token_list(const char *s) {
    for (const char *p = s;;) {
        size_t n = strcspn(p, ",");
        char one[TB_TOKEN_CAP];
        if (n == 0 || n >= sizeof one) return false;
        memcpy(one, p, n);
        one[n] = '\0';
        if (!is_token(one)) return false;
        if (p[n] == '\0') return true;
        p += n + 1;
    }
}

/* query.symbol -> tb_tick, TB_NOT_FOUND when the symbol has no quote. */
tb_status md_api_quote(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    if (q->symbol[0] == '\0')
        return bus_fail(ctx, TB_MISSING_FIELD, "symbol", "symbol is required");
    tb_error err = {0};
    redisContext *r = bus_ctx_redis(ctx, &err);
    if (r == NULL) return bus_fail_err(ctx, &err);
    tb_tick t;
    if (md_store_quote(r, q->symbol, &t, &err) != TB_OK) return bus_fail_err(ctx, &err);
    return bus_reply(ctx, &tb_tick_desc, &t);
}

static tb_status replay_checked(bus_ctx *ctx, md_service *svc, const tb_market_replay *m,
                                md_replay_req *rq, const char *text, size_t text_len);

/* tb_market_replay -> tb_md_status (state running, prescan errors). */
tb_status md_api_replay(bus_ctx *ctx, const void *ev) {
    const tb_market_replay *m = ev;
    md_service *svc = md_service_of(bus_ctx_actor(ctx));
    md_replay_req req = {.speed = m->speed};
    snprintf(req.path, sizeof req.path, "%s", m->path);
    snprintf(req.source, sizeof req.source, "%s", m->source[0] ? m->source : "replay");
    snprintf(req.symbols, sizeof req.symbols, "%s", m->symbols);
    snprintf(req.prefix, sizeof req.prefix, "%s", m->symbol_prefix);
    if (md_csv_format_parse(m->format, &req.format) != TB_OK)
        return bus_fail(ctx, TB_INVALID, "format", "format must be ticks or closes");
    if (m->symbols[0] && !is_token_list(m->symbols))
        return bus_fail(ctx, TB_INVALID, "symbols", "symbols: comma-separated A-Z a-z 0-9 _ -");
    if (m->symbol_prefix[0] && !is_token(m->symbol_prefix))
        return bus_fail(ctx, TB_INVALID, "symbol_prefix", "symbol_prefix: A-Z a-z 0-9 _ - only");
    tb_error err = {0};
    /* A CSV sent in the request (a backtest's data.csv) instead of a file:
     * path is then only its name in messages. */
    bus_raw raw = bus_ctx_payload(ctx);
    char *text = NULL;
    size_t text_len = 0;
    tb_status as = bus_attach_find(raw.data, raw.len, BUS_ATTACH_CSV, &text, &text_len, &err);
    if (as != TB_OK && as != TB_NOT_FOUND) return bus_fail_err(ctx, &err);
    tb_status s = replay_checked(ctx, svc, m, &req, text, text_len);
    free(text);
    return s;
}

/* The rest of md_api_replay, with the request's CSV text (NULL: the file). */
static tb_status replay_checked(bus_ctx *ctx, md_service *svc, const tb_market_replay *m,
                                md_replay_req *rq, const char *text, size_t text_len) {
    md_replay_req req = *rq;
    tb_error err = {0};
    req.text = text;
    req.text_len = text_len;
    if (text != NULL && text_len == 0) return bus_fail(ctx, TB_REJECTED, "csv", "the CSV is empty");
    if (text == NULL && md_replay_check_path(svc, true, &req, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    md_csv_parser scan;
    bool scanned = false;
    uint64_t selected = 0;
    if (md_replay_prescan(&req, &scan, &scanned, &selected, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    char summary[TB_TEXT_CAP - 64];
    md_csv_summary(&scan, summary, sizeof summary);
    /* A file's bad rows are skipped and counted; a CSV sent in the request
     * is checked whole, so its sender fixes it before anything runs. */
    if (text != NULL && scan.errors > 0) {
        char bad[TB_TEXT_CAP - 64];
        size_t used = 0;
        for (uint64_t i = 0; i < scan.errors && i < MD_CSV_KEEP_ERRORS && used < sizeof bad; i++) {
            int w = snprintf(bad + used, sizeof bad - used, "%s%s", i ? "; " : "", scan.kept[i]);
            if (w > 0) used += (size_t)w;
        }
        return bus_fail(ctx, TB_REJECTED, "csv", "%llu malformed row%s, nothing replayed: %s",
                        (unsigned long long)scan.errors, scan.errors == 1 ? "" : "s", bad);
    }
    if (scanned && scan.rows == 0)
        return bus_fail(ctx, text ? TB_REJECTED : TB_INVALID, text ? "csv" : "path",
                        "no valid rows; %s", summary);
    if (scanned && selected == 0)
        return bus_fail(ctx, TB_INVALID, "symbols", "no row of %.200s in the %s", req.symbols,
                        text ? "CSV" : "file");
    tb_md_status st = {0};
    if (m->check_only) {
        snprintf(st.source, sizeof st.source, "%s", req.source);
        snprintf(st.state, sizeof st.state, "done");
        st.ts = tb_now_ns();
        st.ticks = selected;
        st.errors = scan.errors;
        snprintf(st.message, sizeof st.message, "check only: %llu rows would replay; %s",
                 (unsigned long long)selected, summary);
        return bus_reply(ctx, &tb_md_status_desc, &st);
    }
    if (md_replay_start_background(svc, &req, &err) != TB_OK) return bus_fail_err(ctx, &err);
    snprintf(st.source, sizeof st.source, "%s", req.source);
    snprintf(st.state, sizeof st.state, "running");
    st.ts = tb_now_ns();
    if (scanned) {
        st.errors = scan.errors;
        snprintf(st.message, sizeof st.message, "%llu rows to replay; %s",
                 (unsigned long long)selected, summary);
    } else {
        snprintf(st.message, sizeof st.message,
                 "file over %ld bytes: rows are checked as they play", MD_PRESCAN_MAX);
    }
    return bus_reply(ctx, &tb_md_status_desc, &st);
}

/* query.id = feed source (default: the feed this instance ran last) ->
 * tb_md_status stored in Redis. */
tb_status md_api_status(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    md_service *svc = md_service_of(bus_ctx_actor(ctx));
    char source[TB_TOKEN_CAP];
    if (q->id[0]) {
        if (!is_token(q->id))
            return bus_fail(ctx, TB_INVALID, "id", "a feed name holds only A-Z a-z 0-9 _ -");
        snprintf(source, sizeof source, "%s", q->id);
    } else {
        pthread_mutex_lock(&svc->lock);
        snprintf(source, sizeof source, "%s", svc->last_source);
        pthread_mutex_unlock(&svc->lock);
        if (source[0] == '\0')
            return bus_fail(ctx, TB_NOT_FOUND, "id",
                            "this instance has run no feed; name one in id");
    }
    tb_error err = {0};
    redisContext *r = bus_ctx_redis(ctx, &err);
    if (r == NULL) return bus_fail_err(ctx, &err);
    tb_md_status st;
    if (md_store_status(r, source, &st, &err) != TB_OK) return bus_fail_err(ctx, &err);
    return bus_reply(ctx, &tb_md_status_desc, &st);
}

/* md.replay.cancel (every instance, event): query.id names the feed. Only
 * the instance running it acts; the replay ends `canceled` within one batch
 * or one flow-control wait step. */
tb_status md_api_cancel(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    if (!is_token(q->id))
        return bus_fail(ctx, TB_INVALID, "id", "a feed name holds only A-Z a-z 0-9 _ -");
    if (md_replay_cancel(md_service_of(bus_ctx_actor(ctx)), q->id))
        bus_log(BUS_LOG_INFO, "replay %s: canceled on request", q->id);
    return TB_OK;
}
