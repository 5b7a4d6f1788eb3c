/* Partitioned event endpoints: the instances of a service share the keys of
 * a subject (md.tick.<SYM>: the symbol) so that one instance sees all of a
 * key's messages, in order, and keeps the key's state to itself between
 * batches; starting or stopping an instance is all it takes to rebalance.
 *
 * Every instance subscribes to the subject without a queue group and keeps
 * only the messages of the partitions it owns (FNV-1a of the key token,
 * modulo BUS_PARTITIONS). Ownership needs no locks: live instances register
 * in a Redis sorted set (a heartbeat every PART_TICK_MS, gone after
 * PART_TTL_MS), and each instance computes from the member list, by
 * rendezvous hashing, which partitions are its own. Views of the list may
 * differ for a moment between instances, so an instance also keeps the
 * partitions of its previous view for one more period: during a hand-over
 * two instances may both handle a partition (the consumers are idempotent
 * for that reason, and they were already correct with queue-group spreading),
 * but no partition is left without an owner. A stopping instance leaves the
 * set and keeps handling for two periods before it drains. An instance that
 * dies leaves its partitions unowned until its entry expires: core NATS is at
 * most once, and the loss is what a queue-group worker's queue would lose.
 * The instance whose round removes an expired entry counts it
 * (tb_partition_members_lost_total) and, two periods later, once every
 * instance has taken the new view, reports it in its flow reports
 * (tb_flow.members_lost): a replay then resends its last ticks at once,
 * while the lost ones are still among them (market-data's README). Entries
 * its first round removes are not counted: they expired before this
 * instance took part.
 * When Redis cannot be reached the last view stays in force.
 *
 * Not here: batching (batch.c); the subscription itself (actor.c). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor_internal.h"
#include "timer.h"

#define PART_TICK_MS 250
#define PART_TTL_MS  3000

/* Registers the instance and returns {expired, live}: the entries past the
 * TTL, removed, and the live members, by Redis's own clock so hosts need
 * not agree on time. */
static const char MEMBERS_SCRIPT[] =
    "local t = redis.call('TIME')\n"
    "local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"
    "redis.call('ZADD', KEYS[1], now, ARGV[1])\n"
    "local old = now - tonumber(ARGV[2])\n"
    "local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', old)\n"
    "if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', old) end\n"
    "redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 10)\n"
    "return {gone, redis.call('ZRANGE', KEYS[1], 0, -1)}\n";

static uint64_t fnv1a(const char *s, size_t n, uint64_t h) {
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

static uint64_t mix(uint64_t x) { /* splitmix64's finaliser */
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

#define FNV_BASIS UINT64_C(14695981039346656037)

int bus_partition_of(const char *subject, int token, char key_end, int nparts) {
    const char *p = subject;
    for (int i = 1; i < token && p; i++) {
        p = strchr(p, '.');
        if (p) p++;
    }
    if (p == NULL || nparts <= 1) return 0;
    const char *end = strchr(p, '.');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    const char *cut = key_end ? memchr(p, key_end, n) : NULL;
    if (cut) n = (size_t)(cut - p);
    return (int)(mix(fnv1a(p, n, FNV_BASIS)) % (uint64_t)nparts);
}

uint64_t bus_partition_mask(const char *const *members, size_t n, const char *self, int nparts) {
    uint64_t mask = 0;
    for (int part = 0; part < nparts; part++) {
        const char *best = NULL;
        uint64_t best_w = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t w =
                mix(fnv1a(members[i], strlen(members[i]), FNV_BASIS) ^ mix((uint64_t)part + 1));
            /* ties (never in practice) go to the smaller name: every view agrees */
            if (best == NULL || w > best_w || (w == best_w && strcmp(members[i], best) < 0)) {
                best = members[i];
                best_w = w;
            }
        }
        if (best && strcmp(best, self) == 0) mask |= UINT64_C(1) << part;
    }
    return mask;
}

int bus_partitions(void) {
    int64_t v = BUS_PARTITIONS_DEFAULT;
    tb_error err;
    if (bus_env_int("BUS_PARTITIONS", BUS_PARTITIONS_DEFAULT, 1, BUS_PARTITIONS_LIMIT, &v, &err) !=
        TB_OK)
        v = BUS_PARTITIONS_DEFAULT; /* bus_config_load rejected it already at start */
    return (int)v;
}

/* One round for endpoint e: heartbeat, read the members, take the
 * partitions of this view plus those of the previous one. */
static tb_status part_round(bus_actor *a, ep_state *e, tb_error *err) {
    redisContext *r = bus_redis_acquire(a->redis, err);
    if (r == NULL) return err->status;
    char key[256], ttl[16];
    snprintf(key, sizeof key, "tb:bus:members:%s:%s", a->def->name, e->ep->name);
    snprintf(ttl, sizeof ttl, "%d", PART_TTL_MS);
    redisReply *rep = NULL;
    tb_status s = bus_redis_cmd(r, &rep, err, "EVAL %s 1 %s %s %s", MEMBERS_SCRIPT, key,
                                a->cfg.instance, ttl);
    bus_redis_release(a->redis, r);
    if (s != TB_OK) return s;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_ARRAY || rep->element[1]->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(rep);
        return tb_error_set(err, TB_ERR, NULL, "partition members: unexpected reply");
    }
    const redisReply *gone = rep->element[0], *live = rep->element[1];
    const char **names = calloc(live->elements + 1, sizeof *names);
    if (names == NULL) {
        freeReplyObject(rep);
        return tb_error_set(err, TB_NOMEM, NULL, NULL);
    }
    size_t n = 0;
    for (size_t i = 0; i < live->elements; i++)
        if (live->element[i]->type == REDIS_REPLY_STRING) names[n++] = live->element[i]->str;
    uint64_t view = bus_partition_mask(names, n, a->cfg.instance, e->nparts);
    free(names);
    for (size_t i = 0; i < gone->elements && e->part_started; i++) {
        if (gone->element[i]->type != REDIS_REPLY_STRING) continue;
        bus_log(BUS_LOG_WARN,
                "%s: instance %s expired without leaving; its partitions were unowned until now",
                e->ep->name, gone->element[i]->str);
        bus_counter_add(e->m_part_lost, 1);
        e->part_lost_pending++;
        e->part_lost_due_ns = bus_mono_ns() + 2 * PART_TICK_MS * INT64_C(1000000);
    }
    e->part_started = true;
    freeReplyObject(rep);
    uint64_t prev = e->part_view;
    e->part_view = view;
    atomic_store(&e->part_mask, view | prev);
    bus_gauge_set(e->m_partitions, __builtin_popcountll(view | prev));
    return TB_OK;
}

static void part_tick(bus_actor *a, void *arg) {
    (void)arg;
    /* A stopping instance has left the set already and finishes what it
     * owns (bus_partition_leave); its view must not change under the drain. */
    if (atomic_load(&a->stopping)) return;
    for (size_t i = 0; i < a->neps; i++) {
        ep_state *e = &a->eps[i];
        if (e->ep->partition_token <= 0) continue;
        tb_error err = {0};
        if (part_round(a, e, &err) != TB_OK)
            bus_log(BUS_LOG_WARN, "partitions of %s kept as they were: %s", e->ep->name,
                    err.message);
        /* Every instance has taken the view without the expired ones (each
         * within a period, and keeps its previous one a period more): the
         * flow reports may say so. */
        if (e->part_lost_pending > 0 && bus_mono_ns() >= e->part_lost_due_ns) {
            atomic_fetch_add(&e->part_lost, e->part_lost_pending);
            e->part_lost_pending = 0;
        }
    }
}

tb_status bus_partition_start(bus_actor *a, tb_error *err) {
    bool any = false;
    for (size_t i = 0; i < a->neps; i++) {
        ep_state *e = &a->eps[i];
        if (e->ep->partition_token <= 0) continue;
        any = true;
        e->nparts = bus_partitions();
        /* Until the first view, this instance takes everything: better a
         * partition handled twice than not at all. */
        atomic_store(&e->part_mask, e->nparts >= 64 ? UINT64_MAX : (UINT64_C(1) << e->nparts) - 1);
        e->part_view = atomic_load(&e->part_mask);
        tb_status s = part_round(a, e, err);
        if (s != TB_OK) return s;
    }
    if (!any) return TB_OK;
    return bus_actor_add_timer(a, "partitions", PART_TICK_MS, part_tick, NULL, NULL, err);
}

void bus_partition_leave(bus_actor *a) {
    bool any = false;
    for (size_t i = 0; i < a->neps; i++) {
        ep_state *e = &a->eps[i];
        if (e->ep->partition_token <= 0) continue;
        any = true;
        tb_error err = {0};
        /* Leave the set but keep the current partitions: the others take
         * them over within a period, and the drain below finishes ours. */
        char key[256];
        snprintf(key, sizeof key, "tb:bus:members:%s:%s", a->def->name, e->ep->name);
        redisContext *r = bus_redis_acquire(a->redis, &err);
        if (r && bus_redis_cmd(r, NULL, &err, "ZREM %s %s", key, a->cfg.instance) != TB_OK)
            bus_log(BUS_LOG_WARN, "could not leave the partition set: %s", err.message);
        if (r) bus_redis_release(a->redis, r);
    }
    if (any) usleep(2 * PART_TICK_MS * 1000);
}

bool bus_partition_owns(ep_state *e, const char *subject) {
    int p = bus_partition_of(subject, e->ep->partition_token, e->ep->partition_key_end, e->nparts);
    return (atomic_load_explicit(&e->part_mask, memory_order_relaxed) >> p) & 1;
}
