/* Which process runs which feed, so a feed whose process died without
 * ending it (kill -9, a crash, the machine gone) ends `failed` instead of
 * reading `running` forever.
 *
 * Every process has an owner token, "<INSTANCE_ID>/<id new at each start>"
 * (a restart with the same INSTANCE_ID is another owner), and keeps the
 * lease md:alive:<token> alive: set with a TTL of MD_OWNER_LEASE_MS when a
 * feed begins and again by a timer every MD_OWNER_RENEW_MS. A begun feed is
 * recorded in the hash md:feeds (source -> token) and removed when it ends.
 * The same timer, on every instance, sweeps md:feeds: a feed whose owner's
 * lease expired is removed from the hash (one script, so one sweeper takes
 * it). A replay of a file with a resume state (md_resume.c) is taken over
 * by the sweeping process, which resumes it; any other feed (a simulator,
 * a replay of CSV text) gets the stored status `failed` with a message
 * saying so, published on md.status.<source> for whoever waits for the
 * feed's end. */
#include <stdlib.h>
#include <string.h>

#include "md_service.h"

/* Feeds of md:feeds whose owner has no lease: a replay with a resume state
 * (md_resume.c) is taken over by this process (ARGV[3]), any other feed is
 * removed; returns source, owner, "resume" | "fail", ... */
static const char sweep_script[] = "local out = {}\n"
                                   "local all = redis.call('HGETALL', KEYS[1])\n"
                                   "for i = 1, #all, 2 do\n"
                                   "  if redis.call('EXISTS', ARGV[1] .. all[i + 1]) == 0 then\n"
                                   "    local what = 'fail'\n"
                                   "    if redis.call('EXISTS', ARGV[2] .. all[i]) == 1 then\n"
                                   "      redis.call('HSET', KEYS[1], all[i], ARGV[3])\n"
                                   "      what = 'resume'\n"
                                   "    else\n"
                                   "      redis.call('HDEL', KEYS[1], all[i])\n"
                                   "    end\n"
                                   "    out[#out + 1] = all[i]\n"
                                   "    out[#out + 1] = all[i + 1]\n"
                                   "    out[#out + 1] = what\n"
                                   "  end\n"
                                   "end\n"
                                   "return out\n";

/* Removes source from md:feeds only while this process owns it there. */
static const char release_script[] = "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then\n"
                                     "  redis.call('HDEL', KEYS[1], ARGV[1])\n"
                                     "end\n"
                                     "return 0\n";

void md_owner_init(md_service *svc) {
    char id[TB_ID_CAP];
    bus_new_id(id, sizeof id);
    snprintf(svc->owner, sizeof svc->owner, "%s/%s", bus_actor_instance(svc->actor), id);
}

static tb_status renew(redisContext *r, const md_service *svc, tb_error *err) {
    return bus_redis_cmd(r, NULL, err, "SET " MD_KEY_ALIVE "%s 1 PX %d", svc->owner,
                         MD_OWNER_LEASE_MS);
}

void md_owner_claim(md_service *svc, const char *source) {
    tb_error err = {0};
    bus_redis_pool *pool = bus_actor_redis(svc->actor);
    redisContext *r = bus_redis_acquire(pool, &err);
    tb_status s = r ? renew(r, svc, &err) : TB_UNAVAILABLE;
    if (s == TB_OK)
        s = bus_redis_cmd(r, NULL, &err, "HSET " MD_KEY_FEEDS " %s %s", source, svc->owner);
    bus_redis_release(pool, r);
    if (s != TB_OK) {
        bus_counter_add(svc->m_store_errors, 1);
        bus_log(BUS_LOG_WARN,
                "feed %s: cannot record its owner (if this process dies, the feed's status "
                "stays running): %s",
                source, err.message);
    }
}

bool md_owner_holds(md_service *svc, const char *source) {
    tb_error err = {0};
    bus_redis_pool *pool = bus_actor_redis(svc->actor);
    redisContext *r = bus_redis_acquire(pool, &err);
    redisReply *rep = NULL;
    tb_status s =
        r ? bus_redis_cmd(r, &rep, &err, "HGET " MD_KEY_FEEDS " %s", source) : TB_UNAVAILABLE;
    bus_redis_release(pool, r);
    bool holds =
        s != TB_OK || (rep->type == REDIS_REPLY_STRING && strcmp(rep->str, svc->owner) == 0);
    if (rep) freeReplyObject(rep);
    return holds;
}

void md_owner_release(md_service *svc, const char *source) {
    tb_error err = {0};
    bus_redis_pool *pool = bus_actor_redis(svc->actor);
    redisContext *r = bus_redis_acquire(pool, &err);
    const char *argv[] = {"EVAL", release_script, "1", MD_KEY_FEEDS, source, svc->owner};
    size_t lens[] = {4,
                     sizeof release_script - 1,
                     1,
                     sizeof MD_KEY_FEEDS - 1,
                     strlen(source),
                     strlen(svc->owner)};
    tb_status s = r ? bus_redis_cmd_argv(r, 6, argv, lens, NULL, &err) : TB_UNAVAILABLE;
    bus_redis_release(pool, r);
    if (s != TB_OK) {
        /* The entry outlives the feed; once this process is gone the sweep
         * removes it, and finds the feed's final status already stored. */
        bus_counter_add(svc->m_store_errors, 1);
        bus_log(BUS_LOG_WARN, "feed %s: cannot remove its owner record: %s", source, err.message);
    }
}

/* The stored status of a feed whose owner died, as `failed` (unless it
 * already ended), stored and published. */
static void fail_orphan(md_service *svc, redisContext *r, const char *source, const char *owner) {
    tb_error err = {0};
    tb_md_status st;
    tb_status s = md_store_status(r, source, &st, &err);
    if (s == TB_NOT_FOUND) {
        memset(&st, 0, sizeof st);
        snprintf(st.source, sizeof st.source, "%s", source);
        snprintf(st.state, sizeof st.state, "running");
        s = TB_OK;
    }
    if (s != TB_OK) {
        bus_log(BUS_LOG_WARN, "feed %s: its owner %s is gone, its status unreadable: %s", source,
                owner, err.message);
        return;
    }
    if (strcmp(st.state, "running") != 0) return; /* it ended before its process did */
    snprintf(st.state, sizeof st.state, "failed");
    snprintf(st.message, sizeof st.message,
             "the market-data process running this feed (%.100s) stopped without ending it "
             "(killed or crashed); its last report counted %llu ticks; it cannot be resumed: "
             "start it again",
             owner, (unsigned long long)st.ticks);
    st.ts = tb_now_ns();
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    s = tb_encode(&tb_md_status_desc, &st, &b, &err);
    char key[sizeof MD_KEY_STATUS + TB_TOKEN_CAP];
    snprintf(key, sizeof key, MD_KEY_STATUS "%s", source);
    const char *argv[] = {"SET", key, b.data};
    size_t lens[] = {3, strlen(key), b.size};
    if (s == TB_OK) s = bus_redis_cmd_argv(r, 3, argv, lens, NULL, &err);
    msgpack_sbuffer_destroy(&b);
    if (s != TB_OK) {
        bus_counter_add(svc->m_store_errors, 1);
        bus_log(BUS_LOG_WARN, "feed %s: cannot store its failed status: %s", source, err.message);
    }
    char subject[sizeof "md.status." + TB_TOKEN_CAP];
    snprintf(subject, sizeof subject, "md.status.%s", source);
    bus_conn *c = bus_actor_conn(svc->actor);
    if (bus_publish(c, subject, &tb_md_status_desc, &st, NULL) != TB_OK ||
        bus_conn_flush(c, 2000) != TB_OK)
        bus_counter_add(svc->m_publish_errors, 1);
    bus_counter_add(svc->m_orphans, 1);
    bus_log(BUS_LOG_WARN, "feed %s failed: %s", source, st.message);
}

/* Starts the replay of source again on this process from its resume
 * state (md_resume.c); false (state deleted, entry removed) when it
 * cannot, and the feed is then failed like any other. */
static bool resume_orphan(md_service *svc, const char *source, const char *owner) {
    md_replay_req req;
    tb_error err = {0};
    tb_status s = TB_OK;
    if (!md_resume_request(svc, source, &req))
        s = tb_error_set(&err, TB_ERR, NULL, "its resume state cannot be read");
    if (s == TB_OK) s = md_replay_start_background(svc, &req, &err);
    if (s == TB_OK) {
        bus_counter_add(svc->m_resumed, 1);
        bus_log(BUS_LOG_WARN, "replay %s: its process %s died; resuming it here", source, owner);
        return true;
    }
    bus_log(BUS_LOG_WARN, "replay %s: its process %s died and it cannot be resumed here: %s",
            source, owner, err.message);
    redisContext *r = bus_redis_acquire(bus_actor_redis(svc->actor), &err);
    if (r) {
        if (bus_redis_cmd(r, NULL, &err, "DEL " MD_KEY_REPLAY "%s", source) != TB_OK ||
            bus_redis_cmd(r, NULL, &err, "HDEL " MD_KEY_FEEDS " %s", source) != TB_OK)
            bus_counter_add(svc->m_store_errors, 1);
    }
    bus_redis_release(bus_actor_redis(svc->actor), r);
    return false;
}

void md_owner_tick(bus_actor *a, void *arg) {
    (void)arg;
    md_service *svc = md_service_of(a);
    if (svc == NULL) return;
    tb_error err = {0};
    bus_redis_pool *pool = bus_actor_redis(a);
    redisContext *r = bus_redis_acquire(pool, &err);
    if (r == NULL) return; /* Redis away: leases and sweeps wait for it */
    redisReply *rep = NULL;
    const char *argv[] = {"EVAL",       sweep_script,  "1",       MD_KEY_FEEDS,
                          MD_KEY_ALIVE, MD_KEY_REPLAY, svc->owner};
    size_t lens[] = {4,
                     sizeof sweep_script - 1,
                     1,
                     sizeof MD_KEY_FEEDS - 1,
                     sizeof MD_KEY_ALIVE - 1,
                     sizeof MD_KEY_REPLAY - 1,
                     strlen(svc->owner)};
    tb_status s = renew(r, svc, &err);
    if (s == TB_OK) s = bus_redis_cmd_argv(r, 7, argv, lens, &rep, &err);
    if (s == TB_OK && rep->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 2 < rep->elements; i += 3) {
            const redisReply *src = rep->element[i], *own = rep->element[i + 1],
                             *what = rep->element[i + 2];
            if (src->type != REDIS_REPLY_STRING || own->type != REDIS_REPLY_STRING ||
                what->type != REDIS_REPLY_STRING || src->len >= TB_TOKEN_CAP)
                continue;
            if (strcmp(what->str, "resume") == 0 && resume_orphan(svc, src->str, own->str))
                continue;
            fail_orphan(svc, r, src->str, own->str);
        }
    } else if (s != TB_OK && !bus_actor_stopping(a)) {
        bus_log(BUS_LOG_DEBUG, "feed owners: %s", err.message);
    }
    if (rep) freeReplyObject(rep);
    bus_redis_release(pool, r);
}
