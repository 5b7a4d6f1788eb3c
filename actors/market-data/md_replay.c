/* CSV replays: MD_MODE=replay on the main thread, and api.market.replay on
 * one background thread per instance.
 *
 * Rows are parsed by md_csv (pure); this file reads the file, paces rows by
 * their timestamps (speed factor), or at speed 0 by its slowest tick
 * consumer (md_flowctl.c: never more than MD_REPLAY_WINDOW ticks ahead of
 * any consumer's reported progress), publishes them
 * through md_feed in batches of rows that are due, skips and counts
 * malformed rows, and ends the feed with `done` when the input is exhausted
 * and every paced consumer finished it (or `failed` when it was stopped
 * early or could not be read), so a backtest driven by the replay knows
 * when it is over. At speed 0 the last ticks are kept for resends
 * (md_resend.h) that heal ticks a killed consumer worker lost. A
 * background replay of a file keeps its state in Redis (md_resume.c), so
 * another process resumes it if this one dies. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "md_pace.h"
#include "md_service.h"

/* Malformed rows logged one by one per replay; the rest are only counted. */
#define LOG_BAD_ROWS 20
#define MAX_NAP_NS   (100 * INT64_C(1000000))

/* Reads one line into buf, keeping at most cap bytes, without the '\n'.
 * Returns the line's full length (which may exceed cap), or -1 at the end. */
static long long read_line(FILE *fp, char *buf, size_t cap) {
    size_t n = 0;
    bool any = false;
    int c;
    while ((c = getc_unlocked(fp)) != EOF) {
        any = true;
        if (c == '\n') break;
        if (n < cap) buf[n] = (char)c;
        n++;
    }
    return any ? (long long)n : -1;
}

tb_status md_replay_check_path(const md_service *svc, bool confine, md_replay_req *req,
                               tb_error *err) {
    const char *dir = confine ? svc->cfg.replay_dir : "";
    char joined[PATH_MAX + TB_TEXT_CAP], resolved[PATH_MAX], root[PATH_MAX];
    if (req->path[0] == '\0') return tb_error_set(err, TB_MISSING_FIELD, "path", "path is empty");
    if (dir[0] && req->path[0] != '/')
        snprintf(joined, sizeof joined, "%s/%s", dir, req->path);
    else
        snprintf(joined, sizeof joined, "%s", req->path);
    if (realpath(joined, resolved) == NULL)
        return tb_error_set(err, errno == ENOENT ? TB_NOT_FOUND : TB_INVALID, "path",
                            "cannot read %.300s: %s", req->path, strerror(errno));
    if (dir[0]) {
        if (realpath(dir, root) == NULL)
            return tb_error_set(err, TB_UNAVAILABLE, "path", "MD_REPLAY_DIR is not readable: %s",
                                strerror(errno));
        size_t rl = strlen(root);
        /* The resolved path, so ".." and symlinks cannot leave the folder. */
        if (strncmp(resolved, root, rl) != 0 ||
            (rl > 1 && resolved[rl] != '/' && resolved[rl] != '\0'))
            return tb_error_set(err, TB_FORBIDDEN, "path", "%.300s is outside MD_REPLAY_DIR",
                                req->path);
    }
    struct stat st;
    if (stat(resolved, &st) != 0 || !S_ISREG(st.st_mode))
        return tb_error_set(err, TB_INVALID, "path", "%.300s is not a regular file", req->path);
    FILE *fp = fopen(resolved, "r");
    if (fp == NULL)
        return tb_error_set(err, TB_INVALID, "path", "cannot read %.300s: %s", req->path,
                            strerror(errno));
    fclose(fp);
    size_t rlen = strlen(resolved);
    if (rlen >= sizeof req->path)
        return tb_error_set(err, TB_TOO_LONG, "path", "resolved path is too long");
    memcpy(req->path, resolved, rlen + 1);
    return TB_OK;
}

/* The request's input: its file, or the CSV text it holds. */
static FILE *open_input(const md_replay_req *req) {
    if (req->text != NULL) return fmemopen((void *)req->text, req->text_len, "r");
    return fopen(req->path, "r");
}

tb_status md_replay_prescan(const md_replay_req *req, md_csv_parser *p, bool *scanned,
                            uint64_t *selected, tb_error *err) {
    md_csv_init(p, req->format);
    *scanned = false;
    *selected = 0;
    FILE *fp = open_input(req);
    if (fp == NULL)
        return tb_error_set(err, TB_INVALID, "path", "cannot read %.300s: %s", req->path,
                            strerror(errno));
    struct stat st;
    if (req->text == NULL && (fstat(fileno(fp), &st) != 0 || st.st_size > MD_PRESCAN_MAX)) {
        fclose(fp);
        return TB_OK;
    }
    char buf[MD_CSV_MAX_LINE + 1];
    long long len;
    while ((len = read_line(fp, buf, sizeof buf)) >= 0) {
        tb_tick t;
        if ((size_t)len > sizeof buf)
            (void)md_csv_feed_too_long(p, NULL);
        else if (md_csv_feed(p, buf, (size_t)len, &t, NULL) == MD_CSV_ROW &&
                 md_csv_select(&t, req->symbols, req->prefix) != MD_SELECT_SKIP)
            (*selected)++; /* p counts every outcome */
    }
    bool bad = ferror(fp) != 0;
    fclose(fp);
    if (bad) return tb_error_set(err, TB_IO, "path", "read error in %.300s", req->path);
    *scanned = true;
    return TB_OK;
}

static void nap_until(int64_t deadline) {
    int64_t d = deadline - bus_mono_ns();
    if (d <= 0) return;
    if (d > MAX_NAP_NS) d = MAX_NAP_NS;
    struct timespec ts = {.tv_sec = d / 1000000000, .tv_nsec = d % 1000000000};
    nanosleep(&ts, NULL);
}

/* Publishes batch[0..*n) once it fits in the flow window, and empties it;
 * false when the feed was stopped. */
static bool flush_batch(md_feed *f, md_flowctl_gate *g, tb_tick *batch, size_t *n) {
    if (*n == 0) return true;
    if (!md_flowctl_wait(g, f, *n)) return false;
    tb_status s = md_feed_publish(f, batch, *n);
    if (s == TB_CONFLICT) return false; /* taken over: its new owner publishes it */
    /* Published, or refused by Redis and lost: a resume goes on after it. */
    f->published_to = f->batch_to;
    md_flowctl_published(g, batch, *n, s == TB_OK);
    *n = 0;
    md_feed_progress(f);
    return s != TB_UNAVAILABLE;
}

/* Publishes again redo[0..*n), rows of batches given seqs before the
 * process that ran the replay died (md_resume.c), with those seqs; false
 * when the feed was stopped. */
static bool flush_redo(md_feed *f, md_flowctl_gate *g, tb_tick *redo, size_t *n) {
    if (*n == 0) return true;
    if (!md_flowctl_wait(g, f, *n)) return false;
    uint64_t ok = 0;
    for (size_t i = 0; i < *n; i++) ok += md_feed_republish(f, &redo[i]);
    f->ticks += ok;
    bus_counter_add(f->svc->m_ticks, ok);
    md_flowctl_count_others(f->svc, f, ok);
    md_flowctl_published(g, redo, *n, true);
    *n = 0;
    md_feed_progress(f);
    return true;
}

/* The replay proper, on a begun feed; ends it. */
static void replay(md_feed *f, const md_replay_req *req, tb_tick *batch) {
    md_service *svc = f->svc;
    md_resume rs = {0};
    bool resuming = false;
    if (req->resume) {
        if (!md_resume_load(f, &rs)) {
            md_resume_clear(f);
            md_feed_end(f, "failed", "its process died and its resume state cannot be read");
            return;
        }
        resuming = true;
        f->ticks = rs.ticks;
        bus_log(BUS_LOG_WARN,
                "replay %s: resumed after its process died: rows up to line %llu were delivered, "
                "%zu batches after it are published again with their seqs",
                f->source, (unsigned long long)rs.line, rs.nbatches);
    } else if (req->resumable) {
        md_resume_save(f, req);
    }
    FILE *fp = open_input(req);
    if (fp == NULL) {
        char msg[TB_TEXT_CAP];
        snprintf(msg, sizeof msg, "cannot read %.300s: %s", req->path, strerror(errno));
        md_resume_clear(f);
        md_resume_free(&rs);
        md_feed_end(f, "failed", msg);
        return;
    }
    bus_log(BUS_LOG_INFO, "replay %s: %s, format %s, speed %llu", f->source, req->path,
            md_csv_format_name(req->format), (unsigned long long)req->speed);
    md_csv_parser p;
    md_csv_init(&p, req->format);
    md_flowctl_gate gate = {0};
    if (req->speed == 0) md_flowctl_begin(svc, &gate, f->source);
    char buf[MD_CSV_MAX_LINE + 1];
    size_t n = 0;
    bool have_first = false, stopped = false;
    int64_t first_ts = 0, start = 0;
    long long len;
    tb_tick *redo = resuming ? calloc(MD_BATCH, sizeof *redo) : NULL;
    size_t nredo = 0;
    int64_t checkpoint_ns = bus_mono_ns();
    if (resuming && redo == NULL) stopped = true;
    while (!stopped && (len = read_line(fp, buf, sizeof buf)) >= 0) {
        tb_tick t;
        tb_error err = {0};
        md_csv_result r = (size_t)len > sizeof buf ? md_csv_feed_too_long(&p, &err)
                                                   : md_csv_feed(&p, buf, (size_t)len, &t, &err);
        if (r == MD_CSV_BAD) {
            f->errors++;
            bus_counter_add(svc->m_rejected, 1);
            if (f->errors <= LOG_BAD_ROWS)
                bus_log(BUS_LOG_WARN, "replay %s: row skipped: %s%s", f->source, err.message,
                        f->errors == LOG_BAD_ROWS ? " (further malformed rows are only counted)"
                                                  : "");
            continue;
        }
        if (r != MD_CSV_ROW) continue;
        md_select_result sel = md_csv_select(&t, req->symbols, req->prefix);
        if (sel == MD_SELECT_SKIP) continue;
        if (sel == MD_SELECT_TOO_LONG) {
            f->errors++;
            bus_counter_add(svc->m_rejected, 1);
            if (f->errors <= LOG_BAD_ROWS)
                bus_log(BUS_LOG_WARN, "replay %s: line %llu: symbol %s%s is too long", f->source,
                        (unsigned long long)p.line, req->prefix, t.symbol);
            continue;
        }
        if (resuming) {
            uint64_t seq;
            if (p.line <= rs.line) continue; /* delivered before the process died */
            if (md_resume_seq(&rs, p.line, t.symbol, &seq)) {
                t.seq = seq;
                snprintf(t.source, sizeof t.source, "%s", f->source);
                redo[nredo++] = t;
                f->published_to = p.line; /* once flush_redo has sent them */
                if (nredo == MD_BATCH) stopped = !flush_redo(f, &gate, redo, &nredo);
                continue;
            }
            if (nredo > 0 && !(stopped = !flush_redo(f, &gate, redo, &nredo))) {
                md_resume_checkpoint(f, f->published_to);
                checkpoint_ns = bus_mono_ns();
            }
            if (stopped) break;
        }
        if (!have_first) {
            have_first = true;
            first_ts = t.ts;
            start = bus_mono_ns();
        }
        int64_t due = start + md_pace_replay_offset_ns(first_ts, t.ts, req->speed);
        if (due > bus_mono_ns()) {
            /* Rows already due go out before waiting for this one. */
            stopped = !flush_batch(f, &gate, batch, &n);
            while (!stopped && bus_mono_ns() < due) {
                nap_until(due);
                stopped = md_feed_stopped(f);
            }
            if (stopped) break;
        }
        if (n == 0) f->batch_from = p.line;
        f->batch_to = p.line;
        batch[n++] = t;
        if (n == MD_BATCH) stopped = !flush_batch(f, &gate, batch, &n);
        if (!stopped && f->resume_key[0] &&
            bus_mono_ns() - checkpoint_ns >= MD_RESUME_CHECKPOINT_NS) {
            md_resume_checkpoint(f, f->published_to);
            checkpoint_ns = bus_mono_ns();
        }
        if (!stopped) stopped = md_feed_stopped(f);
    }
    /* Rows already due go out even when stopping; only a stop while waiting
     * for Redis (flush_batch false) leaves them unpublished. */
    if (!flush_redo(f, &gate, redo, &nredo)) stopped = true;
    if (!flush_batch(f, &gate, batch, &n)) stopped = true;
    free(redo);
    md_resume_free(&rs);
    /* `done` only once every consumer finished what it was sent (or was
     * given up on), so a caller waiting for it sees a complete backtest. */
    md_flowctl_end(&gate, f);
    f->dropped = gate.dropped;
    if (gate.waits > 0) {
        bus_counter_add(svc->m_flow_wait, gate.waits);
        bus_log(BUS_LOG_INFO, "replay %s: waited %llu times, %.3f s in all, for tick consumers",
                f->source, (unsigned long long)gate.waits, (double)gate.waited_ns / 1e9);
    }
    bool read_error = ferror(fp) != 0;
    fclose(fp);
    /* Whatever the outcome, nothing resumes this replay any more (unless
     * another process took it over: then the state is its). */
    if (!f->taken_over && md_owner_holds(svc, f->source)) md_resume_clear(f);
    char summary[TB_TEXT_CAP - 64], msg[TB_TEXT_CAP];
    md_csv_summary(&p, summary, sizeof summary);
    if (stopped && f->cancel && atomic_load(f->cancel) && !bus_actor_stopping(svc->actor)) {
        snprintf(msg, sizeof msg, "canceled at line %llu; %s", (unsigned long long)p.line, summary);
        md_feed_end(f, "canceled", msg);
    } else if (stopped) {
        snprintf(msg, sizeof msg, "stopped at line %llu before the end of the input; %s",
                 (unsigned long long)p.line, summary);
        md_feed_end(f, "failed", msg);
    } else if (read_error) {
        snprintf(msg, sizeof msg, "read error after line %llu; %s", (unsigned long long)p.line,
                 summary);
        md_feed_end(f, "failed", msg);
    } else if (p.rows == 0) {
        snprintf(msg, sizeof msg, "no valid rows; %s", summary);
        md_feed_end(f, "failed", msg);
    } else {
        if (gate.dropped > 0)
            snprintf(msg, sizeof msg,
                     "%llu rows replayed, but the replay stopped waiting for %.120s (no progress "
                     "for %llu ms): their results may miss ticks; %.250s",
                     (unsigned long long)p.rows, gate.dropped_names,
                     (unsigned long long)svc->cfg.replay_stall_ms, summary);
        else
            snprintf(msg, sizeof msg, "%llu rows replayed; %s", (unsigned long long)p.rows,
                     summary);
        md_feed_end(f, "done", msg);
    }
}

void md_replay_run(md_service *svc, const md_replay_req *req) {
    md_replay_slot *slot = &svc->replays[0];
    bool expected = false;
    atomic_compare_exchange_strong(&slot->busy, &expected, true);
    md_feed f;
    tb_tick *batch = calloc(MD_BATCH, sizeof *batch);
    if (batch == NULL || md_feed_begin(&f, svc, req->source, NULL) != TB_OK) {
        bus_log(BUS_LOG_ERROR, "replay %s: out of memory", req->source);
    } else {
        replay(&f, req, batch);
    }
    free(batch);
    atomic_store(&slot->busy, false);
}

typedef struct replay_job {
    md_service *svc;
    md_replay_slot *slot;
    md_replay_req req;
    char *text; /* owned copy of req.text */
} replay_job;

static void *replay_main(void *arg) {
    replay_job *job = arg;
    md_service *svc = job->svc;
    md_replay_slot *slot = job->slot;
    md_feed f;
    tb_tick *batch = calloc(MD_BATCH, sizeof *batch);
    if (batch == NULL || md_feed_begin(&f, svc, job->req.source, &slot->cancel) != TB_OK)
        bus_log(BUS_LOG_ERROR, "replay %s: out of memory", job->req.source);
    else
        replay(&f, &job->req, batch);
    free(batch);
    free(job->text);
    free(job);
    /* Last: the slot may be taken (and this thread joined) from here on. */
    atomic_store(&slot->busy, false);
    return NULL;
}

/* Takes a free slot for source under svc->lock, joining the thread that used
 * it last; NULL with err when all are busy or source already runs here. */
static md_replay_slot *take_slot(md_service *svc, const char *source, tb_error *err) {
    size_t n = svc->cfg.replay_concurrent ? svc->cfg.replay_concurrent : 1;
    if (n > MD_REPLAY_SLOTS_MAX) n = MD_REPLAY_SLOTS_MAX;
    md_replay_slot *free_slot = NULL;
    for (size_t i = 0; i < n; i++) {
        md_replay_slot *s = &svc->replays[i];
        if (atomic_load(&s->busy)) {
            if (strcmp(s->source, source) == 0) {
                tb_error_set(err, TB_CONFLICT, "source", "feed %s is already replaying", source);
                return NULL;
            }
        } else if (free_slot == NULL) {
            free_slot = s;
        }
    }
    if (free_slot == NULL) {
        tb_error_set(err, TB_CONFLICT, NULL,
                     "%zu replays already run on this instance (MD_REPLAY_CONCURRENT)", n);
        return NULL;
    }
    atomic_store(&free_slot->busy, true);
    if (free_slot->started) {
        /* The previous replay of the slot cleared busy as its very last step. */
        pthread_join(free_slot->thread, NULL);
        free_slot->started = false;
    }
    snprintf(free_slot->source, sizeof free_slot->source, "%s", source);
    atomic_store(&free_slot->cancel, false);
    return free_slot;
}

tb_status md_replay_start_background(md_service *svc, const md_replay_req *req, tb_error *err) {
    replay_job *job = calloc(1, sizeof *job);
    if (job == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    job->svc = svc;
    job->req = *req;
    /* A file can be read again by another process; CSV text cannot. */
    job->req.resumable = req->text == NULL;
    if (req->text != NULL) {
        job->text = malloc(req->text_len ? req->text_len : 1);
        if (job->text == NULL) {
            free(job);
            return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
        }
        memcpy(job->text, req->text, req->text_len);
        job->req.text = job->text;
    }
    pthread_mutex_lock(&svc->lock);
    md_replay_slot *slot = take_slot(svc, req->source, err);
    int rc = 0;
    if (slot != NULL) {
        job->slot = slot;
        rc = pthread_create(&slot->thread, NULL, replay_main, job);
        if (rc == 0)
            slot->started = true;
        else
            atomic_store(&slot->busy, false);
    }
    pthread_mutex_unlock(&svc->lock);
    if (slot == NULL || rc != 0) {
        free(job->text);
        free(job);
        if (slot == NULL) return err ? err->status : TB_CONFLICT;
        return tb_error_set(err, TB_ERR, NULL, "cannot start the replay thread: %s", strerror(rc));
    }
    return TB_OK;
}

bool md_replay_cancel(md_service *svc, const char *source) {
    bool found = false;
    pthread_mutex_lock(&svc->lock);
    for (size_t i = 0; i < MD_REPLAY_SLOTS_MAX; i++) {
        md_replay_slot *s = &svc->replays[i];
        if (atomic_load(&s->busy) && strcmp(s->source, source) == 0) {
            atomic_store(&s->cancel, true);
            found = true;
        }
    }
    pthread_mutex_unlock(&svc->lock);
    return found;
}

void md_replay_stop_background(md_service *svc) {
    for (size_t i = 0; i < MD_REPLAY_SLOTS_MAX; i++) atomic_store(&svc->replays[i].cancel, true);
    for (size_t i = 0; i < MD_REPLAY_SLOTS_MAX; i++) {
        md_replay_slot *s = &svc->replays[i];
        pthread_mutex_lock(&svc->lock);
        bool started = s->started;
        s->started = false;
        pthread_mutex_unlock(&svc->lock);
        if (started) pthread_join(s->thread, NULL);
    }
}
