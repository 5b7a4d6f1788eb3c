/* State and internal interfaces of the tb-market-data process (I/O glue).
 *
 * Shared by main.c (settings, endpoint table, lifecycle), md_feed.c
 * (publishing ticks and feed status), md_simfeed.c (the simulator loop),
 * md_replay.c (CSV replays) and md_api.c (request handlers). Not used
 * outside this directory. What matters across restarts and copies (tick
 * sequences, last quotes, feed status) lives in Redis, not here:
 *   md:seq:<SYM>     INCR counter, the tick's seq
 *   md:quote:<SYM>   hash {seq, tick}: tick is the msgpack tb_tick without seq
 *   md:symbols       set of every symbol with a quote
 *   md:status:<src>  msgpack tb_md_status of feed <src> */
#ifndef MD_SERVICE_H
#define MD_SERVICE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "actor.h"
#include "md_csv.h"
#include "md_pace.h"
#include "md_resend.h"
#include "md_sim.h"

#define MD_KEY_SEQ     "md:seq:"
#define MD_KEY_QUOTE   "md:quote:"
#define MD_KEY_SYMBOLS "md:symbols"
#define MD_KEY_STATUS  "md:status:"
#define MD_KEY_FEEDS   "md:feeds"
#define MD_KEY_ALIVE   "md:alive:"
/* Ticks handed to Redis and NATS together. */
#define MD_BATCH 256
/* Replay flow control (MD_REPLAY_WINDOW): default and ceiling of the window. */
#define MD_REPLAY_WINDOW_DEFAULT 20000
#define MD_REPLAY_WINDOW_MAX     100000000
/* A running feed reports its progress this often. */
#define MD_STATUS_EVERY_NS INT64_C(1000000000)

typedef enum { MD_MODE_SIM, MD_MODE_REPLAY, MD_MODE_OFF } md_mode;

typedef struct md_settings {
    md_mode mode;
    char source[TB_TOKEN_CAP]; /* MD_SOURCE */
    /* simulator */
    md_sim_params sim;
    md_sim_symbol_spec *symbols; /* malloc'd, nsymbols entries */
    size_t nsymbols;
    uint64_t seed;
    uint64_t rate;      /* ticks per second in total, 0 = as fast as possible */
    uint64_t max_ticks; /* 0 = unlimited */
    /* replay */
    char replay_file[TB_TEXT_CAP];
    md_csv_format replay_format;
    uint64_t replay_speed;
    char replay_dir[TB_TEXT_CAP];  /* "" = api.market.replay may read any regular file */
    uint64_t replay_window;        /* speed 0: most ticks ahead of the slowest consumer, 0 = off */
    uint64_t replay_stall_ms;      /* a consumer this long without progress is not waited for */
    uint64_t replay_resend_rounds; /* resends of the last ticks per replay before dropping */
    uint64_t replay_concurrent;    /* background replays at once per instance */
} md_settings;

/* Loads MD_* from the environment into s (caller frees s->symbols).
 * TB_INVALID with err naming the variable. */
tb_status md_settings_load(md_settings *s, tb_error *err) TB_WARN_UNUSED;
void md_settings_usage(FILE *f);

/* Background replays an instance runs at once (MD_REPLAY_CONCURRENT). */
#define MD_REPLAY_SLOTS_MAX 64

/* One background replay thread. busy is set when the slot is taken and
 * cleared as the thread's very last step; source and started are guarded by
 * md_service.lock. */
typedef struct md_replay_slot {
    atomic_bool busy;
    atomic_bool cancel;
    bool started; /* a thread exists that was not joined yet */
    pthread_t thread;
    char source[TB_TOKEN_CAP];
} md_replay_slot;

typedef struct md_service {
    bus_actor *actor;
    md_settings cfg;
    /* metrics */
    bus_series *m_ticks;                      /* tb_ticks_published_total */
    bus_series *m_rate;                       /* tb_tick_rate */
    bus_series *m_rejected;                   /* tb_replay_rows_rejected_total */
    bus_series *m_publish_errors;             /* tb_md_publish_errors_total */
    bus_series *m_store_errors;               /* tb_md_store_errors_total */
    bus_series *m_flow_stalls;                /* tb_replay_consumer_stalls_total */
    bus_series *m_flow_wait;                  /* tb_replay_flow_waits_total */
    bus_series *m_resent;                     /* tb_replay_resent_ticks_total */
    bus_series *m_orphans;                    /* tb_md_feeds_orphaned_total */
    bus_series *m_resumed;                    /* tb_replay_resumed_total */
    char owner[TB_TOKEN_CAP + TB_ID_CAP + 2]; /* "<instance>/<id of this start>" (md_owner.c) */
    /* replay flow control: every tick consumer's progress (md_flowctl.c) */
    pthread_mutex_t flow_lock; /* guards flow */
    pthread_cond_t flow_cond;  /* signalled on every flow report */
    md_flow flow;              /* every report; a replay paces on its own copy */
    struct md_flowctl_gate *gates[MD_REPLAY_SLOTS_MAX + 1]; /* replays pacing now */
    bool flow_ready;      /* flow_lock and flow_cond were initialised */
    pthread_mutex_t lock; /* guards the fields below */
    uint64_t rate_count;  /* m_ticks at the last rate sample */
    int64_t rate_ns;      /* time of the last rate sample */
    int running_feeds;
    char last_source[TB_TOKEN_CAP]; /* feed this instance ran last (api.market.status) */
    /* api.market.replay: up to cfg.replay_concurrent background replays */
    md_replay_slot replays[MD_REPLAY_SLOTS_MAX];
} md_service;

md_service *md_service_of(bus_actor *a);

/* ---- md_feed.c: one running feed (sim or replay) ---- */

typedef struct md_feed {
    md_service *svc;
    char source[TB_TOKEN_CAP];
    uint64_t ticks;             /* published by this feed */
    uint64_t errors;            /* input rows rejected */
    uint64_t dropped;           /* consumer services a paced replay gave up on */
    int64_t status_ns;          /* last progress report */
    const atomic_bool *cancel;  /* extra stop flag (background replays), may be NULL */
    struct md_scratch *scratch; /* batch buffers, owned by the feed */
    int64_t warn_ns;            /* last store/publish warning, to keep logs quiet */
    /* A resumable replay (md_resume.c): its state key, and the input lines
     * of the batch md_feed_publish is given, recorded with its seqs. */
    char resume_key[sizeof "md:replay:" + TB_TOKEN_CAP];
    uint64_t batch_from, batch_to;
    uint64_t published_to; /* last input line of the rows published (replays) */
    bool taken_over;       /* another process resumed this replay: stop, end nothing */
} md_feed;

/* Starts a feed: records it as the instance's current feed and reports
 * `running`. TB_NOMEM when the batch buffers cannot be allocated. Every
 * successfully begun feed is ended with md_feed_end. */
tb_status md_feed_begin(md_feed *f, md_service *svc, const char *source,
                        const atomic_bool *cancel) TB_WARN_UNUSED;
/* True when the feed must stop (shutdown or cancel). */
bool md_feed_stopped(const md_feed *f);
/* Gives ticks[0..n) their per-symbol seq and stores the last quotes in Redis
 * (one atomic script), then publishes each on md.tick.<SYM> via the bulk
 * connection without flushing. The caller sets symbol, ts and prices; seq
 * and source are set here. Retries while Redis is unavailable; returns
 * TB_UNAVAILABLE only when the feed was stopped meanwhile. */
tb_status md_feed_publish(md_feed *f, tb_tick *ticks, size_t n) TB_WARN_UNUSED;
/* Reports progress at most every MD_STATUS_EVERY_NS (state running). */
void md_feed_progress(md_feed *f);
/* Ends the feed with state "done" or "failed": flushes the ticks, stores and
 * publishes the final status (after the ticks, on the same connection). */
void md_feed_end(md_feed *f, const char *state, const char *message);
/* Publishes a tick that md_feed_publish published before, unchanged (same
 * subject, payload and trace id): a resend. false when NATS refused it. */
bool md_feed_republish(md_feed *f, const tb_tick *t);
/* Builds the status record of f now. */
void md_feed_status(const md_feed *f, const char *state, const char *message, tb_md_status *out);

/* ---- md_owner.c: the process running each feed, and feeds left behind ---- */

/* Lease of a process on its feeds, and how often the timer renews it and
 * sweeps for feeds whose process is gone. */
#define MD_OWNER_LEASE_MS 5000
#define MD_OWNER_RENEW_MS 1000
/* Sets svc->owner (needs svc->actor). */
void md_owner_init(md_service *svc);
/* Records this process as the owner of source (md_feed_begin). */
void md_owner_claim(md_service *svc, const char *source);
/* Whether md:feeds still names this process as source's owner (true when
 * Redis cannot tell: nobody can take a feed over without it either). */
bool md_owner_holds(md_service *svc, const char *source);
/* Forgets source, if this process owns it (md_feed_end). */
void md_owner_release(md_service *svc, const char *source);
/* The timer (every MD_OWNER_RENEW_MS): renews the lease, ends the feeds of
 * processes whose lease expired as `failed`. */
void md_owner_tick(bus_actor *a, void *arg);

/* ---- md_simfeed.c ---- */
void md_sim_run(md_service *svc);

/* ---- md_replay.c ---- */
typedef struct md_replay_req {
    char path[TB_TEXT_CAP];
    md_csv_format format;
    uint64_t speed;
    char source[TB_TOKEN_CAP];
    char symbols[TB_TEXT_CAP]; /* "" = every symbol of the file */
    char prefix[TB_TOKEN_CAP]; /* prepended to each symbol (md_csv_select) */
    const char *text;          /* CSV held in memory instead of path (not owned) */
    size_t text_len;
    bool resumable; /* a background replay of a file: its state is kept (md_resume.c) */
    bool resume;    /* go on from the state a dead process left (md_resume.c) */
} md_replay_req;

/* Runs a replay to its end on the calling thread (MD_MODE=replay). */
void md_replay_run(md_service *svc, const md_replay_req *req);
/* Checks that req->path names a readable regular file and replaces it with
 * its resolved absolute form. With confine and MD_REPLAY_DIR set, relative
 * paths are taken from that folder and the file must resolve inside it.
 * TB_NOT_FOUND / TB_INVALID / TB_FORBIDDEN with err (field "path"). */
tb_status md_replay_check_path(const md_service *svc, bool confine, md_replay_req *req,
                               tb_error *err) TB_WARN_UNUSED;
/* Parses the file without publishing, so a caller learns about malformed
 * rows before anything is sent; *selected counts the rows the request's
 * symbols select. Files over MD_PRESCAN_MAX bytes are not scanned (*scanned
 * = false): their errors show in the feed's status. */
tb_status md_replay_prescan(const md_replay_req *req, md_csv_parser *out, bool *scanned,
                            uint64_t *selected, tb_error *err) TB_WARN_UNUSED;
#define MD_PRESCAN_MAX (64L * 1024 * 1024)
/* Starts req on a background thread; TB_CONFLICT when MD_REPLAY_CONCURRENT
 * replays run on this instance or one of them has the same source. */
tb_status md_replay_start_background(md_service *svc, const md_replay_req *req,
                                     tb_error *err) TB_WARN_UNUSED;
/* Asks the background replay of source on this instance, if any, to stop
 * (it ends `canceled`); true when there was one. */
bool md_replay_cancel(md_service *svc, const char *source);
/* Cancels and joins every background replay (shutdown). */
void md_replay_stop_background(md_service *svc);

/* ---- md_resume.c: replays that outlive their process ---- */

/* What a resumed replay needs from the state: where the last checkpoint
 * was and the batches given seqs since (md_feed.c's replay script). */
typedef struct md_resume_pair {
    char symbol[TB_TOKEN_CAP];
    uint64_t next; /* the seq its next row of the batch gets */
} md_resume_pair;
typedef struct md_resume_batch {
    uint64_t from, to;    /* input lines of its rows */
    size_t first, npairs; /* its symbols in md_resume.pairs */
} md_resume_batch;
typedef struct md_resume {
    uint64_t line;  /* every row up to this line was delivered */
    uint64_t ticks; /* ticks the replay had published by then */
    md_resume_batch *batches;
    size_t nbatches;
    md_resume_pair *pairs;
    size_t npairs;
} md_resume;

#define MD_KEY_REPLAY "md:replay:"
/* Checkpoints at most this often (each one flushes NATS: one round trip). */
#define MD_RESUME_CHECKPOINT_NS (100 * INT64_C(1000000))

/* Records req (a new resumable replay) under md:replay:<source>, starting
 * from line 0; sets f->resume_key. Logged and not resumable on failure. */
void md_resume_save(md_feed *f, const md_replay_req *req);
/* Reads the request of the state of source into req (resume set); false
 * when there is none (or it cannot be read). */
bool md_resume_request(md_service *svc, const char *source, md_replay_req *req);
/* Loads the checkpoint and pending batches of f's replay into out (free
 * with md_resume_free); sets f->resume_key. false when unreadable. */
bool md_resume_load(md_feed *f, md_resume *out);
void md_resume_free(md_resume *r);
/* The seq the row of symbol at line gets when it is published again: true
 * when line lies in a pending batch (which then advances). */
bool md_resume_seq(md_resume *r, uint64_t line, const char *symbol, uint64_t *seq);
/* Flushes the feed's ticks to NATS and records line and f->ticks as the
 * checkpoint, clearing the pending batches. */
void md_resume_checkpoint(md_feed *f, uint64_t line);
/* Deletes the state: the replay ended. */
void md_resume_clear(md_feed *f);

/* ---- md_flowctl.c: replay flow control ---- */

/* One replay's view of the flow window. Each replay paces on its own copy
 * of the consumers' progress (baselines from its own start, its own drops,
 * resends and end), so replays running at once on an instance do not reset
 * each other's baselines; every report reaches every copy. */
typedef struct md_flowctl_gate {
    md_service *svc;
    char source[TB_TOKEN_CAP];
    bool on;            /* paced by consumers (speed 0, window > 0) */
    md_flow *flow;      /* this replay's copy (heap), guarded by svc->flow_lock */
    uint64_t published; /* ticks of this replay published so far, resends included */
    uint64_t others;    /* ticks other feeds of the instance published meanwhile (locked) */
    bool ending;        /* input exhausted: others no longer counted (locked) */
    uint64_t dropped;   /* services given up on (no progress for MD_REPLAY_STALL_MS) */
    char dropped_names[TB_TEXT_CAP / 2]; /* their names, comma-separated */
    uint64_t waits;                      /* times the replay had to wait for room */
    int64_t waited_ns;                   /* total time spent waiting */
    md_resend_ring ring;                 /* the last ticks published, for resends (md_resend.h) */
} md_flowctl_gate;

/* Sets up svc's flow state from its settings; TB_NOMEM on failure. */
tb_status md_flowctl_init(md_service *svc) TB_WARN_UNUSED;
void md_flowctl_destroy(md_service *svc);
/* bus.flow.> endpoint (every instance): takes a consumer's progress report. */
tb_status md_flowctl_on_report(bus_ctx *ctx, const void *ev);
/* A full-speed replay begins: takes the consumers' baselines and logs
 * whether anything paces it. */
void md_flowctl_begin(md_service *svc, md_flowctl_gate *g, const char *source);
/* Blocks until n more ticks fit in the window (or nothing paces the
 * replay); false when the feed was stopped while waiting. A stall meanwhile
 * may resend the ring's ticks (then counted as published). */
bool md_flowctl_wait(md_flowctl_gate *g, md_feed *f, size_t n);
/* ticks[0..n) were published (kept in the ring when stored is true: false
 * when Redis refused the batch and the ticks have no seq). */
void md_flowctl_published(md_flowctl_gate *g, const tb_tick *ticks, size_t n, bool stored);
/* feed published n ticks: every other feed's gate counts them, since the
 * consumers' progress reports count every tick they finish, whichever feed
 * it came from. */
void md_flowctl_count_others(md_service *svc, const md_feed *feed, uint64_t n);
/* The input is exhausted: waits until every paced service finished all it
 * was sent, resending as for a stall, or dropped it. Then frees the ring. */
void md_flowctl_end(md_flowctl_gate *g, md_feed *f);

/* ---- md_api.c: request handlers ---- */
tb_status md_api_symbols(bus_ctx *ctx, const void *ev);
tb_status md_api_quote(bus_ctx *ctx, const void *ev);
tb_status md_api_replay(bus_ctx *ctx, const void *ev);
tb_status md_api_status(bus_ctx *ctx, const void *ev);
/* md.replay.cancel (every instance): query.id = the feed to stop. */
tb_status md_api_cancel(bus_ctx *ctx, const void *ev);

/* ---- shared Redis helpers (md_feed.c) ---- */
/* Reads the last quote of symbol; TB_NOT_FOUND when there is none. */
tb_status md_store_quote(redisContext *r, const char *symbol, tb_tick *out,
                         tb_error *err) TB_WARN_UNUSED;
/* Reads the stored status of source; TB_NOT_FOUND when there is none. */
tb_status md_store_status(redisContext *r, const char *source, tb_md_status *out,
                          tb_error *err) TB_WARN_UNUSED;

#endif
