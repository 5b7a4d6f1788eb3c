/* Per-key rate limiting in Redis: a fixed one-second window shared by every
 * gateway instance.
 *
 * One Lua script counts the request and reads the window from Redis's own
 * clock (TIME), so instances with skewed clocks still share windows and the
 * increment and its expiry are atomic. Key: tb:gw:rl:<key id>:<unix second>,
 * expiring after two seconds. Failed key lookups are counted the same way
 * per client address (tb:gw:af:<address>:<second>). */
#include <string.h>

#include "gateway.h"

static const char script[] = "local t = redis.call('TIME')\n"
                             "local k = KEYS[1] .. ':' .. t[1]\n"
                             "local n = redis.call('INCR', k)\n"
                             "if n == 1 then redis.call('EXPIRE', k, 2) end\n"
                             "return {n, 1000000 - tonumber(t[2])}\n";

tb_status gw_ratelimit_take(gw *g, const char *key_id, gw_rate *out, bool *limited, tb_error *err) {
    *limited = false;
    out->known = false;
    redisContext *c = bus_redis_acquire(bus_actor_redis(g->actor), err);
    if (c == NULL) return TB_UNAVAILABLE;
    char key[128];
    snprintf(key, sizeof key, "tb:gw:rl:%s", key_id);
    redisReply *rep = NULL;
    tb_status s = bus_redis_cmd(c, &rep, err, "EVAL %s 1 %s", script, key);
    bus_redis_release(bus_actor_redis(g->actor), c);
    if (s != TB_OK) return s;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER ||
        rep->element[1]->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(rep);
        return tb_error_set(err, TB_ERR, NULL, "unexpected reply from the rate-limit script");
    }
    long long n = rep->element[0]->integer, left_us = rep->element[1]->integer;
    freeReplyObject(rep);
    out->known = true;
    out->limit = g->set.rate_limit;
    out->remaining = n >= out->limit ? 0 : out->limit - n;
    out->reset_s = (left_us + 999999) / 1000000; /* whole seconds, at least 1 */
    if (out->reset_s < 1) out->reset_s = 1;
    *limited = n > out->limit;
    return TB_OK;
}

/* Reads (ARGV[1] = 0) or counts (1) in the current second's window. */
static const char fail_script[] =
    "local t = redis.call('TIME')\n"
    "local k = KEYS[1] .. ':' .. t[1]\n"
    "if ARGV[1] == '0' then return tonumber(redis.call('GET', k) or '0') end\n"
    "local n = redis.call('INCR', k)\n"
    "if n == 1 then redis.call('EXPIRE', k, 2) end\n"
    "return n\n";

tb_status gw_authfail_count(gw *g, const char *client, bool count, int64_t *n, tb_error *err) {
    redisContext *c = bus_redis_acquire(bus_actor_redis(g->actor), err);
    if (c == NULL) return TB_UNAVAILABLE;
    char key[128];
    snprintf(key, sizeof key, "tb:gw:af:%s", client && client[0] ? client : "unknown");
    redisReply *rep = NULL;
    tb_status s =
        bus_redis_cmd(c, &rep, err, "EVAL %s 1 %s %s", fail_script, key, count ? "1" : "0");
    bus_redis_release(bus_actor_redis(g->actor), c);
    if (s != TB_OK) return s;
    bool ok = rep->type == REDIS_REPLY_INTEGER;
    if (ok) *n = rep->integer;
    freeReplyObject(rep);
    return ok ? TB_OK
              : tb_error_set(err, TB_ERR, NULL, "unexpected reply from the failure-count script");
}
