/* Redis side of the batched tick path: the advance script and pipelined
 * round trips (one write of every command, then every reply).
 *
 * The advance script works on one (strategy, symbol): KEYS[1] the state hash
 * {seq, state}, KEYS[2] the sorted set of parked ticks scored by seq. In one
 * atomic step it
 *   1. compares the stored seq with the caller's expectation (ARGV[1]; ""
 *      for no state) and, on a mismatch,
 *      changes nothing and returns {0, seq, state} so the caller decides
 *      again without another read;
 *   2. writes the new seq and state when given (ARGV[2], ARGV[3]);
 *   3. parks the caller's ticks that cannot apply yet (ARGV[7..] as seq,
 *      text pairs), stamped with the Redis clock;
 *   4. drops parked ticks at or behind the state whose wait (ARGV[5] ms)
 *      expired, counting them as stale;
 *   5. takes out the parked ticks that now follow the state contiguously
 *      and returns them; when none do and the lowest parked tick has waited
 *      its full time, its predecessors are taken as lost and the run that
 *      starts there is returned with the gap flag.
 * Reply {1, seq, state (only when nothing was written and ticks are
 * returned), gap, stale, parked left, members...}. Whoever receives ticks
 * applies them next and writes with the same script, so a tick that arrives
 * early waits in Redis, never in a polling worker. */
#include <stdlib.h>
#include <string.h>

#include "sp.h"

static const char ADVANCE_SCRIPT[] =
    "local cur = redis.call('HGET', KEYS[1], 'seq') or ''\n"
    "if cur ~= ARGV[1] then\n"
    "  return {0, cur, redis.call('HGET', KEYS[1], 'state') or ''}\n"
    "end\n"
    "local ttl = tonumber(ARGV[4])\n"
    "if ARGV[2] ~= '' then\n"
    "  redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'state', ARGV[3])\n"
    "  if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end\n"
    "  cur = ARGV[2]\n"
    "end\n"
    "local wait = tonumber(ARGV[5])\n"
    "local limit = tonumber(ARGV[6])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local stamp = string.format('|%d|', now)\n"
    "if #ARGV >= 8 then\n"
    "  local args = {}\n"
    "  for i = 7, #ARGV - 1, 2 do\n"
    "    args[#args + 1] = ARGV[i]\n"
    "    args[#args + 1] = ARGV[i] .. stamp .. ARGV[i + 1]\n"
    "    if #args >= 1000 then redis.call('ZADD', KEYS[2], unpack(args)); args = {} end\n"
    "  end\n"
    "  if #args > 0 then redis.call('ZADD', KEYS[2], unpack(args)) end\n"
    "  if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end\n"
    "end\n"
    "local c = tonumber(cur) or 0\n"
    "local function parked_at(m) return tonumber(string.match(m, '^%d+|(%d+)|')) or 0 end\n"
    "local stale = 0\n"
    "if c > 0 then\n"
    "  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', c))) "
    "do\n"
    "    if parked_at(m) + wait <= now then redis.call('ZREM', KEYS[2], m); stale = stale + 1 end\n"
    "  end\n"
    "end\n"
    "local out = {}\n"
    "local function take(from)\n"
    "  local ms = redis.call('ZRANGEBYSCORE', KEYS[2], string.format('%d', from), '+inf',\n"
    "                        'WITHSCORES', 'LIMIT', 0, limit)\n"
    "  local want, last = from, nil\n"
    "  for i = 1, #ms, 2 do\n"
    "    local s = tonumber(ms[i + 1])\n"
    "    if s == want then out[#out + 1] = ms[i]; last = s; want = s + 1\n"
    "    elseif s > want then break end\n"
    "  end\n"
    "  if last then\n"
    "    redis.call('ZREMRANGEBYSCORE', KEYS[2], string.format('%d', from),\n"
    "               string.format('%d', last))\n"
    "  end\n"
    "end\n"
    "take(c + 1)\n"
    "local gap = 0\n"
    "if #out == 0 then\n"
    "  local head = redis.call('ZRANGEBYSCORE', KEYS[2], string.format('(%d', c), '+inf',\n"
    "                          'WITHSCORES', 'LIMIT', 0, 1)\n"
    "  if #head > 0 and parked_at(head[1]) + wait <= now then\n"
    "    gap = 1\n"
    "    take(tonumber(head[2]))\n"
    "  end\n"
    "end\n"
    "local st = ''\n"
    "if ARGV[2] == '' and #out > 0 then st = redis.call('HGET', KEYS[1], 'state') or '' end\n"
    "local reply = {1, cur, st, gap, stale, redis.call('ZCARD', KEYS[2])}\n"
    "for i = 1, #out do reply[#reply + 1] = out[i] end\n"
    "return reply\n";

tb_status sp_ticks_load_script(redisContext *r, sp_service *svc, tb_error *err) {
    redisReply *rep = NULL;
    tb_status s = bus_redis_cmd(r, &rep, err, "SCRIPT LOAD %s", ADVANCE_SCRIPT);
    if (s != TB_OK) return s;
    if (rep->type != REDIS_REPLY_STRING || rep->len >= sizeof svc->cas_sha) {
        freeReplyObject(rep);
        return tb_error_set(err, TB_ERR, NULL, "SCRIPT LOAD returned no SHA");
    }
    memcpy(svc->cas_sha, rep->str, rep->len);
    svc->cas_sha[rep->len] = '\0';
    freeReplyObject(rep);
    return TB_OK;
}

static bool is_noscript(const redisReply *rep) {
    return rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0;
}

tb_status sp_advance_pipeline(redisContext *r, sp_service *svc, sp_redis_cmd *cmds, size_t n,
                              redisReply **reps, tb_error *err) {
    for (size_t i = 0; i < n; i++) {
        cmds[i].argv[0] = "EVALSHA";
        cmds[i].lens[0] = 7;
        cmds[i].argv[1] = svc->cas_sha;
        cmds[i].lens[1] = strlen(svc->cas_sha);
    }
    tb_status s = bus_redis_pipeline(r, cmds, n, reps, err);
    if (s != TB_OK) return s;
    /* Redis restarted and lost its script cache: those commands did nothing;
     * EVAL sends the text and caches it again under the same SHA. Rare, so
     * one round trip each. */
    size_t missing = 0;
    for (size_t i = 0; i < n; i++) missing += is_noscript(reps[i]);
    if (missing == 0) return TB_OK;
    for (size_t i = 0; i < n && s == TB_OK; i++) {
        if (!is_noscript(reps[i])) continue;
        freeReplyObject(reps[i]);
        cmds[i].argv[0] = "EVAL";
        cmds[i].lens[0] = 4;
        cmds[i].argv[1] = ADVANCE_SCRIPT;
        cmds[i].lens[1] = sizeof ADVANCE_SCRIPT - 1;
        s = bus_redis_pipeline(r, &cmds[i], 1, &reps[i], err);
    }
    return s;
}
