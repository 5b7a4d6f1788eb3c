/* Requests to market-data and position-management, and the Redis scripts of
 * risk-management; see risk_deps.h. */
#include "risk_deps.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "risk_baseline.h"
#include "store.h"

static void quote_of(const tb_tick *t, risk_quote *out) {
    out->state = RISK_QUOTE_OK;
    out->bid = t->bid;
    out->ask = t->ask;
    out->last = t->last;
    out->ts = t->ts;
}

bool risk_cached_quote(bus_quotes *cache, const char *symbol, risk_quote *out) {
    tb_tick t;
    if (!bus_quotes_get(cache, symbol, &t)) return false;
    memset(out, 0, sizeof *out);
    quote_of(&t, out);
    return true;
}

void risk_request_quote(bus_conn *c, bus_quotes *cache, const char *symbol, int64_t timeout_ms,
                        const char *trace, risk_quote *out) {
    memset(out, 0, sizeof *out);
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.symbol, sizeof q.symbol, "%s", symbol);
    tb_tick t;
    tb_error err = {0};
    int64_t sent = bus_mono_ns();
    tb_status s = bus_request(c, "api.market.quote", &tb_query_desc, &q, &tb_tick_desc, &t,
                              timeout_ms, trace, &err);
    if (s == TB_OK) {
        bus_quotes_learn(cache, &t, sent, &t);
        quote_of(&t, out);
    } else if (s == TB_NOT_FOUND) {
        out->state = RISK_QUOTE_NONE;
    } else {
        out->state = RISK_QUOTE_UNAVAILABLE;
        bus_log(BUS_LOG_WARN, "quote of %s unavailable: %s", symbol, err.message);
    }
}

void risk_fetch_quote(bus_conn *c, bus_quotes *cache, const char *symbol, int64_t timeout_ms,
                      const char *trace, risk_quote *out) {
    if (!risk_cached_quote(cache, symbol, out))
        risk_request_quote(c, cache, symbol, timeout_ms, trace, out);
}

bool risk_fetch_position(bus_conn *c, const char *account, const char *symbol, int64_t timeout_ms,
                         const char *trace, tb_fixed *qty) {
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.account, sizeof q.account, "%s", account);
    snprintf(q.symbol, sizeof q.symbol, "%s", symbol);
    tb_position_update p;
    tb_error err = {0};
    tb_status s = bus_request(c, "api.positions.get", &tb_query_desc, &q, &tb_position_update_desc,
                              &p, timeout_ms, trace, &err);
    if (s != TB_OK) {
        bus_log(BUS_LOG_WARN, "position of %s in %s unavailable: %s", account, symbol, err.message);
        return false;
    }
    *qty = p.qty;
    return true;
}

/* KEYS[1] window, ARGV[1] limit, ARGV[2] window length in ms, then a pair
 * per order in the order taken: its member and its event time in
 * microseconds, or "" for the server's clock. Window: (now - length, now],
 * and in event time also entries more than one length after now are
 * dropped (a replay started over); the key outlives the window by one
 * length of wall time. Returns each order's count. One call for a batch's
 * orders: a call per order cost Redis about 40 us of script overhead each,
 * most of its CPU in the chain benchmark. */
static const char rate_script[] =
    "local limit = tonumber(ARGV[1])\n"
    "local len = tonumber(ARGV[2])\n"
    "local out = {}\n"
    "for i = 3, #ARGV - 1, 2 do\n"
    "  local now\n"
    "  if ARGV[i + 1] ~= '' then\n"
    "    now = tonumber(ARGV[i + 1])\n"
    "    redis.call('ZREMRANGEBYSCORE', KEYS[1], '(' .. (now + len * 1000), '+inf')\n"
    "  else\n"
    "    local t = redis.call('TIME')\n"
    "    now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "  end\n"
    "  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - len * 1000)\n"
    "  local n = redis.call('ZCARD', KEYS[1]) + 1\n"
    "  if n <= limit then\n"
    "    redis.call('ZADD', KEYS[1], now, ARGV[i])\n"
    "    redis.call('PEXPIRE', KEYS[1], 2 * len)\n"
    "  end\n"
    "  out[#out + 1] = n\n"
    "end\n"
    "return out\n";

/* The orders of one window (event time or the clock): pick[i] says whether
 * order i belongs to it. The script's argv is built in the orders' order. */
static tb_status take_window(redisContext *r, const char *key, const char *lim, const char *len,
                             size_t n, const char *const *members, char (*evs)[24],
                             const bool *pick, uint64_t *counts, tb_error *err) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) m += pick[i];
    if (m == 0) return TB_OK;
    size_t argc = 6 + 2 * m;
    const char **argv = calloc(argc, sizeof *argv);
    size_t *lens = calloc(argc, sizeof *lens);
    if (argv == NULL || lens == NULL) {
        free(argv);
        free(lens);
        return tb_error_set(err, TB_NOMEM, NULL, NULL);
    }
    size_t k = 0;
    argv[k++] = "EVAL";
    argv[k++] = rate_script;
    argv[k++] = "1";
    argv[k++] = key;
    argv[k++] = lim;
    argv[k++] = len;
    for (size_t i = 0; i < n; i++) {
        if (!pick[i]) continue;
        argv[k++] = members[i];
        argv[k++] = evs[i];
    }
    argc = k;
    for (size_t i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    redisReply *rep = NULL;
    tb_status s = bus_redis_cmd_argv(r, (int)argc, argv, lens, &rep, err);
    free(argv);
    free(lens);
    if (s != TB_OK) return s;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != m) {
        s = tb_error_set(err, TB_ERR, NULL, "order-rate script returned an unexpected reply");
    } else {
        size_t j = 0;
        for (size_t i = 0; i < n && s == TB_OK; i++) {
            if (!pick[i]) continue;
            const redisReply *e = rep->element[j++];
            if (e->type != REDIS_REPLY_INTEGER || e->integer < 0)
                s = tb_error_set(err, TB_ERR, NULL, "order-rate script returned a bad count");
            else
                counts[i] = (uint64_t)e->integer;
        }
    }
    freeReplyObject(rep);
    return s;
}

tb_status risk_rate_take_many(redisContext *r, const char *account, uint64_t limit,
                              int64_t window_ms, size_t n, const char *const *members,
                              const int64_t *event_ns, uint64_t *counts, tb_error *err) {
    if (n == 0) return TB_OK;
    char lim[24], len[24], key[2][128];
    snprintf(lim, sizeof lim, "%" PRIu64, limit);
    snprintf(len, sizeof len, "%" PRId64, window_ms);
    snprintf(key[0], sizeof key[0], "tb:risk:rate:%s", account);
    snprintf(key[1], sizeof key[1], "tb:risk:erate:%s", account);
    char(*evs)[24] = calloc(n, sizeof *evs);
    bool *clock = calloc(n, sizeof *clock), *event = calloc(n, sizeof *event);
    tb_status s = evs && clock && event ? TB_OK : tb_error_set(err, TB_NOMEM, NULL, NULL);
    for (size_t i = 0; i < n && s == TB_OK; i++) {
        event[i] = event_ns && event_ns[i] > 0;
        clock[i] = !event[i];
        if (event[i]) snprintf(evs[i], sizeof evs[i], "%" PRId64, event_ns[i] / 1000);
    }
    /* Two windows at most (their keys differ), each one call. */
    if (s == TB_OK) s = take_window(r, key[0], lim, len, n, members, evs, clock, counts, err);
    if (s == TB_OK) s = take_window(r, key[1], lim, len, n, members, evs, event, counts, err);
    free(event);
    free(clock);
    free(evs);
    return s;
}

tb_status risk_rate_take(redisContext *r, const char *account, uint64_t limit, int64_t window_ms,
                         const char *member, int64_t event_ns, uint64_t *count, tb_error *err) {
    return risk_rate_take_many(r, account, limit, window_ms, 1, &member, &event_ns, count, err);
}

/* KEYS[1] baseline, ARGV[1] current P&L: keeps the first value of the day. */
static const char baseline_script[] = "local v = redis.call('GET', KEYS[1])\n"
                                      "if v then return v end\n"
                                      "redis.call('SET', KEYS[1], ARGV[1], 'EX', 172800)\n"
                                      "return ARGV[1]\n";

tb_status risk_day_baseline(redisContext *r, const char *account, int64_t now_ns, tb_fixed pnl,
                            tb_fixed *baseline, tb_error *err) {
    time_t secs = (time_t)(now_ns / 1000000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char key[128], val[TB_FIXED_STRLEN];
    snprintf(key, sizeof key, "tb:risk:pnl0:%s:%04d%02d%02d", account, tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday);
    /* The UTC date as a number: the day of the key, for the cache. */
    int64_t day = (int64_t)(tm.tm_year + 1900) * 1000 + tm.tm_yday;
    if (risk_baseline_get(account, day, baseline)) return TB_OK;
    tb_fixed_format(pnl, val);
    redisReply *rep = NULL;
    tb_status s = bus_redis_cmd(r, &rep, err, "EVAL %s 1 %s %s", baseline_script, key, val);
    if (s != TB_OK) return s;
    if (rep->type != REDIS_REPLY_STRING || tb_fixed_parse_cstr(rep->str, baseline) != TB_OK)
        s = tb_error_set(err, TB_ERR, NULL, "P&L baseline in Redis is not a decimal");
    freeReplyObject(rep);
    if (s == TB_OK) risk_baseline_put(account, day, *baseline);
    return s;
}
