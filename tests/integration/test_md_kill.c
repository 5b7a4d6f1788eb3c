/* market-data killed with -9 and started again (as a supervisor does), with
 * the same INSTANCE_ID:
 *
 * 1. the simulator: nothing resumes it; a second instance ends the killed
 *    feed `failed` once its owner lease expired (md_owner.c), and the
 *    restarted process's ticks continue the symbol's sequence above every
 *    seq published before the kill, strictly increasing, none reused
 *    (md:seq:<SYM> in Redis survives the process);
 * 2. a replay at speed 0 to historical-data, killed when a third of the
 *    file was received: the restarted process takes it over once the
 *    lease expired and resumes it (md_resume.c). Consumers get every row
 *    of the file, per symbol seqs 1..n without a gap; a seq that comes
 *    twice (a row of a batch the dead process had given seqs, published
 *    again) carries the same row; the 1 s bars count each row once; the
 *    feed ends `done` with the file's tick count;
 * 3. the same when the owner is not dead but paused (SIGSTOP) past its
 *    lease: the other instance takes the replay over, and the owner, once
 *    running again, stops at its next batch without publishing under new
 *    seqs or ending the feed a second time. */
#include <libpq-fe.h>
#include <nats/nats.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_services.h"
#include "tb_test.h"

#define SEC     INT64_C(1000000000)
#define N_SYM   4
#define N_TICKS 20000
#define MAX_SEQ (N_TICKS + 1)
/* The owner lease (MD_OWNER_LEASE_MS, 5 s) expiring and the next sweep
 * (every MD_OWNER_RENEW_MS), with room for a loaded machine. */
#define MD_LEASE_WAIT_MS 15000

static bus_config cfg;
static bus_conn *conn;
static PGconn *pg;
static bus_redis_pool *redis;
static char tag[40], log_path[512], csv[600], md_inst[80];
static pid_t md_pid, hist_pid, idle_pid;
static const char *const sym_suffix[N_SYM] = {"A", "B", "C", "D"};

static void setup(void) {
    tb_test_config(&cfg, "md-kill-test");
    conn = tb_test_conn(&cfg);
    pg = PQconnectdb(cfg.database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    tb_error err = {0};
    ck_assert_msg(bus_redis_pool_create(cfg.redis_url, &redis, &err) == TB_OK, "%s", err.message);
    tb_test_unique(tag, sizeof tag, "MK");
    snprintf(md_inst, sizeof md_inst, "%s-md", tag);
    const char *bd = getenv("TB_BINARY_DIR");
    snprintf(log_path, sizeof log_path, "%s/test_md_kill.log", bd ? bd : "/tmp");
    snprintf(csv, sizeof csv, "%s.%s.csv", log_path, tag);
}

static void teardown(void) {
    pid_t *ps[] = {&md_pid, &hist_pid, &idle_pid};
    for (int i = 0; i < 3; i++)
        if (*ps[i] > 0) {
            kill(*ps[i], SIGKILL);
            (void)tb_test_wait_exit(*ps[i], 5000);
            *ps[i] = 0;
        }
    unlink(csv);
    bus_redis_pool_destroy(redis);
    PQfinish(pg);
    bus_conn_close(conn);
}

static pid_t spawn_md(char *const *extra) {
    char bin[512], inst[128];
    tb_test_bin(bin, sizeof bin, "actors/market-data/tb-market-data");
    snprintf(inst, sizeof inst, "INSTANCE_ID=%s", md_inst);
    char *env[12] = {inst, "LOG_LEVEL=warn"};
    int n = 2;
    for (int i = 0; extra[i] && n < 11; i++) env[n++] = extra[i];
    env[n] = NULL;
    char *argv[] = {bin, NULL};
    pid_t pid = tb_test_spawn(argv, env, log_path);
    ck_assert_msg(tb_service_wait(conn, "market-data", md_inst, 1, 30000),
                  "market-data is not up (see %s)", log_path);
    return pid;
}

static void kill9(pid_t *pid) {
    ck_assert_int_eq(kill(*pid, SIGKILL), 0);
    ck_assert_int_eq(tb_test_wait_exit(*pid, 5000), 128 + SIGKILL);
    *pid = 0;
}

/* A tick of msg, false when it is none. */
static bool tick_of(natsMsg *m, tb_tick *t) {
    return tb_decode(&tb_tick_desc, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), t,
                     NULL) == TB_OK;
}

/* The next final status (not running) on sub within timeout_ms. */
static bool final_status(natsSubscription *sub, int64_t timeout_ms, tb_md_status *out) {
    int64_t end = bus_mono_ns() + timeout_ms * 1000000;
    natsMsg *m = NULL;
    while (bus_mono_ns() < end) {
        if (natsSubscription_NextMsg(&m, sub, 100) != NATS_OK) continue;
        bool fin = tb_decode(&tb_md_status_desc, natsMsg_GetData(m),
                             (size_t)natsMsg_GetDataLength(m), out, NULL) == TB_OK &&
                   strcmp(out->state, "running") != 0;
        natsMsg_Destroy(m);
        if (fin) return true;
    }
    return false;
}

/* ------------------------------------------------------ simulator -- */

START_TEST(sim_seqs_continue_after_kill9) {
    char sym[64], syms[96], src[64];
    snprintf(sym, sizeof sym, "%sS", tag);
    snprintf(syms, sizeof syms, "MD_SYMBOLS=%s:100", sym);
    snprintf(src, sizeof src, "MD_SOURCE=%s", tag);
    char subject[96];
    snprintf(subject, sizeof subject, "md.tick.%s", sym);
    natsSubscription *sub = NULL;
    ck_assert_int_eq(natsConnection_SubscribeSync(&sub, bus_conn_nats(conn), subject), NATS_OK);
    ck_assert_int_eq(natsSubscription_SetPendingLimits(sub, -1, -1), NATS_OK);
    char *env[] = {"MD_MODE=sim", syms, src, "MD_RATE=1000", NULL};
    md_pid = spawn_md(env);
    /* A second instance without a feed: its sweep ends the killed one's. */
    char idle_inst[80];
    snprintf(idle_inst, sizeof idle_inst, "%s-idle", tag);
    idle_pid = tb_service_spawn("market-data", idle_inst, "MD_MODE=off", log_path);
    ck_assert_msg(tb_service_wait(conn, "market-data", idle_inst, 1, 30000),
                  "the idle market-data is not up (see %s)", log_path);
    natsSubscription *status = NULL;
    char status_subject[96];
    snprintf(status_subject, sizeof status_subject, "md.status.%s", tag);
    ck_assert_int_eq(natsConnection_SubscribeSync(&status, bus_conn_nats(conn), status_subject),
                     NATS_OK);

    /* Before: 500 ticks in order, then the kill; what was already on its
     * way still counts as "before". */
    uint64_t last = 0, before = 0;
    bool ordered = true;
    natsMsg *m = NULL;
    int64_t end = bus_mono_ns() + 20 * SEC;
    while (before < 500 && bus_mono_ns() < end) {
        if (natsSubscription_NextMsg(&m, sub, 200) != NATS_OK) continue;
        tb_tick t;
        if (tick_of(m, &t)) {
            ordered = ordered && t.seq > last;
            last = t.seq;
            before++;
        }
        natsMsg_Destroy(m);
    }
    ck_assert_msg(before >= 500, "%llu ticks of %s in 20 s (see %s)", (unsigned long long)before,
                  sym, log_path);
    kill9(&md_pid);
    while (natsSubscription_NextMsg(&m, sub, 500) == NATS_OK) {
        tb_tick t;
        if (tick_of(m, &t)) {
            ordered = ordered && t.seq > last;
            last = t.seq;
            before++;
        }
        natsMsg_Destroy(m);
    }
    ck_assert_msg(ordered, "seqs before the kill were not increasing");
    uint64_t last_before = last;
    /* Nothing resumes a simulator: once the lease expired, the other
     * instance ends the feed failed. */
    tb_md_status st;
    ck_assert_msg(final_status(status, MD_LEASE_WAIT_MS, &st),
                  "no final status of the killed simulator within %d ms (see %s)", MD_LEASE_WAIT_MS,
                  log_path);
    ck_assert_str_eq(st.state, "failed");
    ck_assert_msg(strstr(st.message, "stopped without ending it") != NULL, "message: %s",
                  st.message);
    natsSubscription_Destroy(status);
    ck_assert_int_eq(tb_test_stop(idle_pid, 20000), 0);
    idle_pid = 0;

    md_pid = spawn_md(env);
    uint64_t after = 0, first_after = 0;
    end = bus_mono_ns() + 20 * SEC;
    while (after < 500 && bus_mono_ns() < end) {
        if (natsSubscription_NextMsg(&m, sub, 200) != NATS_OK) continue;
        tb_tick t;
        if (tick_of(m, &t)) {
            if (after == 0) first_after = t.seq;
            ck_assert_msg(t.seq > last, "seq %llu after the restart follows %llu: reused",
                          (unsigned long long)t.seq, (unsigned long long)last);
            last = t.seq;
            after++;
        }
        natsMsg_Destroy(m);
    }
    natsSubscription_Destroy(sub);
    ck_assert_msg(after >= 500, "%llu ticks after the restart in 20 s (see %s)",
                  (unsigned long long)after, log_path);
    ck_assert_uint_gt(first_after, last_before);
    printf("simulator kill: %llu ticks up to seq %llu before the kill -9, %llu after from seq "
           "%llu (seqs given out but not published by the killed process: %llu)\n",
           (unsigned long long)before, (unsigned long long)last_before, (unsigned long long)after,
           (unsigned long long)first_after, (unsigned long long)(first_after - last_before - 1));
    ck_assert_int_eq(tb_test_stop(md_pid, 20000), 0);
    md_pid = 0;
}
END_TEST

/* --------------------------------------------------------- replay -- */

static void write_ticks(long long per_symbol[N_SYM]) {
    FILE *f = fopen(csv, "w");
    ck_assert_msg(f != NULL, "cannot write %s", csv);
    fprintf(f, "ts,symbol,bid,ask,last,size\n");
    for (int i = 0; i < N_TICKS; i++) {
        int k = i % N_SYM;
        long long c = 10000 + (i * 7) % 300;
        fprintf(f, "%lld000000000,%s%s,%lld.%02lld,%lld.%02lld,%lld.%02lld,%d\n", 1700000000LL + i,
                tag, sym_suffix[k], (c - 5) / 100, (c - 5) % 100, (c + 5) / 100, (c + 5) % 100,
                c / 100, c % 100, 1 + i % 10);
        per_symbol[k]++;
    }
    ck_assert_int_eq(fclose(f), 0);
}

/* What one subscription saw of N_SYM symbols named <prefix><tag><X>. */
typedef struct seen {
    natsSubscription *sub[N_SYM];
    tb_fixed *last[N_SYM]; /* by seq, up to MAX_SEQ: the tick's last price, 0 = not seen */
    uint64_t count[N_SYM], dup[N_SYM], differ[N_SYM], max[N_SYM], beyond[N_SYM];
} seen;

static void seen_open(seen *s, const char *prefix) {
    memset(s, 0, sizeof *s);
    for (int k = 0; k < N_SYM; k++) {
        char subject[128];
        snprintf(subject, sizeof subject, "md.tick.%s%s%s", prefix, tag, sym_suffix[k]);
        ck_assert_int_eq(natsConnection_SubscribeSync(&s->sub[k], bus_conn_nats(conn), subject),
                         NATS_OK);
        ck_assert_int_eq(natsSubscription_SetPendingLimits(s->sub[k], -1, -1), NATS_OK);
        s->last[k] = calloc(MAX_SEQ + 1, sizeof *s->last[k]);
        ck_assert_ptr_nonnull(s->last[k]);
    }
}

static void seen_close(seen *s) {
    for (int k = 0; k < N_SYM; k++) {
        natsSubscription_Destroy(s->sub[k]);
        free(s->last[k]);
    }
}

/* Takes what arrived; returns how many ticks. */
static uint64_t seen_pump(seen *s) {
    uint64_t n = 0;
    for (int k = 0; k < N_SYM; k++) {
        natsMsg *m = NULL;
        while (natsSubscription_NextMsg(&m, s->sub[k], 1) == NATS_OK) {
            tb_tick t;
            if (tick_of(m, &t)) {
                n++;
                if (t.seq == 0 || t.seq > MAX_SEQ || t.last <= 0) {
                    s->beyond[k]++;
                } else if (s->last[k][t.seq] != 0) {
                    s->dup[k]++;
                    /* a seq seen again must be the same row */
                    if (s->last[k][t.seq] != t.last) s->differ[k]++;
                } else {
                    s->last[k][t.seq] = t.last;
                    s->count[k]++;
                    if (t.seq > s->max[k]) s->max[k] = t.seq;
                }
            }
            natsMsg_Destroy(m);
        }
    }
    return n;
}

static uint64_t seen_total(const seen *s) {
    uint64_t n = 0;
    for (int k = 0; k < N_SYM; k++) n += s->count[k];
    return n;
}

static long long bar_ticks(const char *sym) {
    const char *params[] = {sym};
    PGresult *r = PQexecParams(pg,
                               "SELECT coalesce(sum(ticks), 0) FROM bars WHERE symbol = $1 AND "
                               "interval = '1s'",
                               1, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(pg));
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

typedef struct bars_want {
    const char *prefix;
    const uint64_t *count;
} bars_want;

static bool bars_reached(void *arg) {
    const bars_want *w = arg;
    for (int k = 0; k < N_SYM; k++) {
        char sym[96];
        snprintf(sym, sizeof sym, "%s%s%s", w->prefix, tag, sym_suffix[k]);
        if (bar_ticks(sym) < (long long)w->count[k]) return false;
    }
    return true;
}

static void check_bars(const char *prefix, const uint64_t *count) {
    bars_want w = {prefix, count};
    ck_assert_msg(tb_test_wait(bars_reached, &w, 30000), "bars of %s* short of the ticks (see %s)",
                  prefix, log_path);
    for (int k = 0; k < N_SYM; k++) {
        char sym[96];
        snprintf(sym, sizeof sym, "%s%s%s", prefix, tag, sym_suffix[k]);
        ck_assert_msg(bar_ticks(sym) == (long long)count[k],
                      "%s: bars count %lld ticks, %llu "
                      "delivered",
                      sym, bar_ticks(sym), (unsigned long long)count[k]);
    }
}

/* Every row once by seq, per symbol 1..n without a gap; rows of the
 * batches a dead (or paused) process had given seqs come again with those
 * seqs (duplicates consumers drop), never under new ones; the bars count
 * each row once. Returns the duplicates. */
static uint64_t check_every_row_once(const seen *run, const long long rows[N_SYM]) {
    uint64_t dups = 0;
    for (int k = 0; k < N_SYM; k++) {
        ck_assert_msg(run->beyond[k] == 0, "%s: %llu seqs beyond the file's rows", sym_suffix[k],
                      (unsigned long long)run->beyond[k]);
        ck_assert_msg(run->differ[k] == 0, "%s: %llu seqs came again with another price",
                      sym_suffix[k], (unsigned long long)run->differ[k]);
        ck_assert_msg(run->count[k] == (uint64_t)rows[k] && run->max[k] == (uint64_t)rows[k],
                      "%s: %llu distinct seqs up to %llu, the file has %lld rows", sym_suffix[k],
                      (unsigned long long)run->count[k], (unsigned long long)run->max[k], rows[k]);
        dups += run->dup[k];
    }
    check_bars("", run->count);
    return dups;
}

static void start_replay(const char *prefix) {
    tb_market_replay rp = {.speed = 0};
    tb_md_status ms;
    snprintf(rp.path, sizeof rp.path, "%s", csv);
    snprintf(rp.format, sizeof rp.format, "ticks");
    snprintf(rp.source, sizeof rp.source, "%s", tag);
    snprintf(rp.symbol_prefix, sizeof rp.symbol_prefix, "%s", prefix);
    tb_error err = {0};
    ck_assert_msg(bus_request(conn, "api.market.replay", &tb_market_replay_desc, &rp,
                              &tb_md_status_desc, &ms, 10000, NULL, &err) == TB_OK,
                  "replay: %s", err.message);
}

START_TEST(replay_killed_resumes_without_gaps) {
    long long rows[N_SYM] = {0};
    write_ticks(rows);
    natsSubscription *status = NULL;
    char subject[96];
    snprintf(subject, sizeof subject, "md.status.%s", tag);
    ck_assert_int_eq(natsConnection_SubscribeSync(&status, bus_conn_nats(conn), subject), NATS_OK);
    seen run;
    seen_open(&run, "");

    char *env[] = {"MD_MODE=off", NULL};
    md_pid = spawn_md(env);
    char hist_inst[80];
    snprintf(hist_inst, sizeof hist_inst, "%s-hist", tag);
    hist_pid = tb_service_spawn("historical-data", hist_inst, NULL, log_path);
    ck_assert_msg(tb_service_wait(conn, "historical-data", hist_inst, 1, 30000),
                  "historical-data is not up (see %s)", log_path);

    start_replay("");
    int64_t end = bus_mono_ns() + 60 * SEC;
    while (seen_total(&run) < N_TICKS / 3 && bus_mono_ns() < end) {
        if (seen_pump(&run) == 0) usleep(1000);
    }
    ck_assert_msg(seen_total(&run) >= N_TICKS / 3, "a third of the file not delivered in 60 s");
    ck_assert_msg(seen_total(&run) < N_TICKS, "the replay ended before the kill");
    kill9(&md_pid);
    seen_pump(&run);
    uint64_t before = seen_total(&run);
    md_pid = spawn_md(env);

    /* The restarted process takes the replay over once the dead one's
     * lease expired and carries it to its end. */
    tb_md_status st;
    bool done = false;
    end = bus_mono_ns() + (60 * SEC) + (int64_t)MD_LEASE_WAIT_MS * 1000000;
    while (!done && bus_mono_ns() < end) {
        seen_pump(&run);
        done = final_status(status, 50, &st);
    }
    ck_assert_msg(done, "the killed replay did not end (see %s)", log_path);
    ck_assert_msg(strcmp(st.state, "done") == 0, "resumed replay: %s: %s", st.state, st.message);
    ck_assert_int_eq((long long)st.ticks, N_TICKS);
    end = bus_mono_ns() + 5 * SEC;
    while (seen_total(&run) < N_TICKS && bus_mono_ns() < end)
        if (seen_pump(&run) == 0) usleep(1000);
    uint64_t dups = check_every_row_once(&run, rows);
    tb_query q = {0};
    tb_md_status got;
    snprintf(q.id, sizeof q.id, "%s", tag);
    tb_error err = {0};
    ck_assert_msg(bus_request(conn, "api.market.status", &tb_query_desc, &q, &tb_md_status_desc,
                              &got, 5000, NULL, &err) == TB_OK,
                  "status: %s", err.message);
    ck_assert_str_eq(got.state, "done");
    printf("replay kill: %llu of %d ticks delivered before the kill -9, resumed by the restarted "
           "process: all %d rows delivered, per-symbol seqs gapless, %llu ticks again with their "
           "seqs, bars exact\n",
           (unsigned long long)before, N_TICKS, N_TICKS, (unsigned long long)dups);
    seen_close(&run);
    natsSubscription_Destroy(status);
    ck_assert_int_eq(tb_test_stop(md_pid, 20000), 0);
    md_pid = 0;
    ck_assert_int_eq(tb_test_stop(hist_pid, 20000), 0);
    hist_pid = 0;
}
END_TEST

/* The owner token md:feeds names for source ("" when none). */
static void feed_owner(const char *source, char *out, size_t cap) {
    tb_error err = {0};
    redisContext *r = bus_redis_acquire(redis, &err);
    ck_assert_msg(r != NULL, "%s", err.message);
    redisReply *rep = NULL;
    tb_status s = bus_redis_cmd(r, &rep, &err, "HGET md:feeds %s", source);
    out[0] = '\0';
    if (s == TB_OK && rep->type == REDIS_REPLY_STRING) snprintf(out, cap, "%s", rep->str);
    if (s == TB_OK) freeReplyObject(rep);
    bus_redis_release(redis, r);
    ck_assert_msg(s == TB_OK, "HGET: %s", err.message);
}

/* A process that lives on after losing its lease (here: stopped with
 * SIGSTOP for longer than the lease, like a frozen VM) is taken over by the
 * other instance, which resumes the replay; when it runs again it finds
 * the replay taken over at its next batch and stops without publishing
 * rows under new seqs or ending the feed: consumers still see every row
 * once by seq, the feed ends `done` once, and the paused process exits
 * cleanly. */
START_TEST(replay_of_a_paused_owner_is_taken_over_once) {
    long long rows[N_SYM] = {0};
    write_ticks(rows);
    natsSubscription *status = NULL;
    char subject[96];
    snprintf(subject, sizeof subject, "md.status.%s", tag);
    ck_assert_int_eq(natsConnection_SubscribeSync(&status, bus_conn_nats(conn), subject), NATS_OK);
    seen run;
    seen_open(&run, "");
    char *env[] = {"MD_MODE=off", NULL};
    md_pid = spawn_md(env);
    char other_inst[80], hist_inst[80];
    snprintf(other_inst, sizeof other_inst, "%s-other", tag);
    idle_pid = tb_service_spawn("market-data", other_inst, "MD_MODE=off", log_path);
    ck_assert_msg(tb_service_wait(conn, "market-data", other_inst, 1, 30000),
                  "the second market-data is not up (see %s)", log_path);
    snprintf(hist_inst, sizeof hist_inst, "%s-hist", tag);
    hist_pid = tb_service_spawn("historical-data", hist_inst, NULL, log_path);
    ck_assert_msg(tb_service_wait(conn, "historical-data", hist_inst, 1, 30000),
                  "historical-data is not up (see %s)", log_path);

    start_replay("");
    int64_t end = bus_mono_ns() + 60 * SEC;
    while (seen_total(&run) < N_TICKS / 3 && bus_mono_ns() < end)
        if (seen_pump(&run) == 0) usleep(1000);
    ck_assert_msg(seen_total(&run) >= N_TICKS / 3, "a third of the file not delivered in 60 s");
    /* Whichever instance took the request owns the replay: pause it. */
    char owner[160];
    feed_owner(tag, owner, sizeof owner);
    size_t ml = strlen(md_inst);
    bool first_owns = strncmp(owner, md_inst, ml) == 0 && owner[ml] == '/';
    pid_t *paused = first_owns ? &md_pid : &idle_pid;
    ck_assert_msg(first_owns || strncmp(owner, other_inst, strlen(other_inst)) == 0,
                  "md:feeds names %s as the owner", owner);
    ck_assert_int_eq(kill(*paused, SIGSTOP), 0);

    tb_md_status st;
    bool done = false;
    end = bus_mono_ns() + (60 * SEC) + (int64_t)MD_LEASE_WAIT_MS * 1000000;
    while (!done && bus_mono_ns() < end) {
        seen_pump(&run);
        done = final_status(status, 50, &st);
    }
    ck_assert_int_eq(kill(*paused, SIGCONT), 0);
    ck_assert_msg(done, "the replay did not end while its owner was paused (see %s)", log_path);
    ck_assert_msg(strcmp(st.state, "done") == 0, "taken over: %s: %s", st.state, st.message);
    ck_assert_int_eq((long long)st.ticks, N_TICKS);
    /* The paused process runs again: it must neither publish rows under
     * new seqs nor end the feed a second time. */
    end = bus_mono_ns() + 3 * SEC;
    bool again = false;
    while (bus_mono_ns() < end) {
        seen_pump(&run);
        tb_md_status late;
        if (final_status(status, 50, &late)) again = true;
    }
    ck_assert_msg(!again, "the paused process ended the feed again");
    end = bus_mono_ns() + 5 * SEC;
    while (seen_total(&run) < N_TICKS && bus_mono_ns() < end)
        if (seen_pump(&run) == 0) usleep(1000);
    uint64_t dups = check_every_row_once(&run, rows);
    printf("replay of a paused owner: taken over and done, %d rows once by seq (%llu again with "
           "their seqs); the resumed owner stopped without a second end\n",
           N_TICKS, (unsigned long long)dups);
    seen_close(&run);
    natsSubscription_Destroy(status);
    ck_assert_int_eq(tb_test_stop(md_pid, 20000), 0);
    md_pid = 0;
    ck_assert_int_eq(tb_test_stop(idle_pid, 20000), 0);
    idle_pid = 0;
    ck_assert_int_eq(tb_test_stop(hist_pid, 20000), 0);
    hist_pid = 0;
}
END_TEST

int main(void) {
    Suite *s = suite_create("md-kill");
    TCase *tc = tcase_create("services");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, sim_seqs_continue_after_kill9);
    tcase_add_test(tc, replay_killed_resumes_without_gaps);
    tcase_add_test(tc, replay_of_a_paused_owner_is_taken_over_once);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
