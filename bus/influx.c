/* InfluxDB 1.x sink (see influx.h): a bounded queue of line-protocol lines
 * and a thread that POSTs them in batches. */
#include "influx.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "store.h"

/* Least time between two log lines about dropped points. */
#define DROP_LOG_NS   (INT64_C(10) * 1000000000)
#define BACKOFF_START 100 /* ms */

/* Lines joined by '\n' (each ends with one). */
typedef struct line_buf {
    char *data;
    size_t len, cap;
    size_t lines;
} line_buf;

struct bus_influx {
    bus_influx_opts o;
    char write_url[1024];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the thread: lines to send, or stop */
    line_buf pending;    /* under lock: what producers append to */
    bool stop;           /* under lock */
    atomic_uint_fast64_t dropped;
    atomic_size_t queued; /* pending.lines, readable without the lock */
    bus_series *m_written, *m_dropped, *m_rejected, *m_errors, *m_queue;
    CURL *curl; /* the thread's */
    char resp[512];
    size_t resp_len;
};

/* ------------------------------------------------------------ settings -- */

static tb_status env_str(const char *name, const char *dflt, char *out, size_t cap, tb_error *err) {
    const char *v = bus_env(name, dflt);
    if (strlen(v) >= cap)
        return tb_error_set(err, TB_INVALID, name, "%s is longer than %zu bytes", name, cap - 1);
    snprintf(out, cap, "%s", v);
    return TB_OK;
}

tb_status bus_influx_opts_from_env(bus_influx_opts *o, tb_error *err) {
    memset(o, 0, sizeof *o);
    tb_status s = env_str("INFLUX_URL", "", o->url, sizeof o->url, err);
    if (s == TB_OK) s = env_str("INFLUX_DB", "tradebus", o->db, sizeof o->db, err);
    if (s == TB_OK) s = env_str("INFLUX_USER", "", o->user, sizeof o->user, err);
    if (s == TB_OK) s = env_str("INFLUX_PASSWORD", "", o->password, sizeof o->password, err);
    if (s == TB_OK) s = bus_env_int("INFLUX_QUEUE_LINES", 20000, 1, 10000000, &o->queue_lines, err);
    if (s == TB_OK) s = bus_env_int("INFLUX_BATCH_LINES", 5000, 1, 1000000, &o->batch_lines, err);
    if (s == TB_OK) s = bus_env_int("INFLUX_FLUSH_MS", 1000, 10, 600000, &o->flush_ms, err);
    if (s == TB_OK) s = bus_env_int("INFLUX_TIMEOUT_MS", 5000, 100, 600000, &o->timeout_ms, err);
    if (s == TB_OK)
        s = bus_env_int("INFLUX_BACKOFF_MAX_MS", 30000, 100, 3600000, &o->backoff_max_ms, err);
    if (s != TB_OK) return s;
    if (o->url[0] && strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0)
        return tb_error_set(err, TB_INVALID, "INFLUX_URL",
                            "INFLUX_URL must start with http:// or https://");
    for (const char *p = o->db; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return tb_error_set(err, TB_INVALID, "INFLUX_DB",
                                "INFLUX_DB may hold letters, digits, _ and - only");
    if (o->db[0] == '\0') return tb_error_set(err, TB_INVALID, "INFLUX_DB", "INFLUX_DB is empty");
    return TB_OK;
}

/* ----------------------------------------------------------- line builder -- */

static void put(bus_influx_line *l, const char *s, size_t n) {
    if (!l->ok) return;
    if (l->len + n + 1 > l->cap) {
        l->ok = false;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* Appends s with a backslash before every character of special; a newline
 * or carriage return invalidates the line. */
static void put_escaped(bus_influx_line *l, const char *s, const char *special) {
    for (; *s && l->ok; s++) {
        if (*s == '\n' || *s == '\r') {
            l->ok = false;
            return;
        }
        if (strchr(special, *s)) put(l, "\\", 1);
        put(l, s, 1);
    }
}

void bus_influx_line_init(bus_influx_line *l, char *buf, size_t cap, const char *measurement) {
    *l = (bus_influx_line){.buf = buf, .cap = cap, .ok = buf != NULL && cap > 0};
    if (measurement == NULL || measurement[0] == '\0' || measurement[0] == '#') l->ok = false;
    if (l->ok) put_escaped(l, measurement, ", ");
}

void bus_influx_line_tag(bus_influx_line *l, const char *key, const char *value) {
    if (l->nfields > 0 || !key || !value || !key[0] || !value[0]) l->ok = false;
    put(l, ",", 1);
    put_escaped(l, key, ",= ");
    put(l, "=", 1);
    put_escaped(l, value, ",= ");
}

static void field_key(bus_influx_line *l, const char *key) {
    if (!key || !key[0]) l->ok = false;
    put(l, l->nfields++ ? "," : " ", 1);
    put_escaped(l, key, ",= ");
    put(l, "=", 1);
}

void bus_influx_line_fixed(bus_influx_line *l, const char *key, tb_fixed v) {
    char num[TB_FIXED_STRLEN];
    size_t n = tb_fixed_format(v, num);
    field_key(l, key);
    put(l, num, n);
}

void bus_influx_line_int(bus_influx_line *l, const char *key, int64_t v) {
    char num[32];
    int n = snprintf(num, sizeof num, "%" PRId64 "i", v);
    field_key(l, key);
    put(l, num, (size_t)n);
}

void bus_influx_line_str(bus_influx_line *l, const char *key, const char *value) {
    field_key(l, key);
    put(l, "\"", 1);
    put_escaped(l, value ? value : "", "\"\\");
    put(l, "\"", 1);
}

size_t bus_influx_line_end(bus_influx_line *l, int64_t ts_ns) {
    if (l->nfields == 0) l->ok = false;
    char num[32];
    int n = snprintf(num, sizeof num, " %" PRId64, ts_ns);
    put(l, num, (size_t)n);
    if (!l->ok) {
        if (l->buf && l->cap) l->buf[0] = '\0';
        return 0;
    }
    l->buf[l->len] = '\0';
    return l->len;
}

/* ------------------------------------------------------------------ queue -- */

static bool buf_append(line_buf *b, const char *line, size_t len) {
    if (b->len + len + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 64 * 1024;
        while (ncap < b->len + len + 1) ncap *= 2;
        char *nd = realloc(b->data, ncap);
        if (nd == NULL) return false;
        b->data = nd;
        b->cap = ncap;
    }
    memcpy(b->data + b->len, line, len);
    b->data[b->len + len] = '\n';
    b->len += len + 1;
    b->lines++;
    return true;
}

bool bus_influx_write(bus_influx *s, const char *line, size_t len) {
    if (s == NULL || len == 0 || memchr(line, '\n', len) != NULL) return false;
    bool ok = false, wake = false;
    pthread_mutex_lock(&s->lock);
    if (!s->stop && s->pending.lines < (size_t)s->o.queue_lines)
        ok = buf_append(&s->pending, line, len);
    if (ok) {
        atomic_store(&s->queued, s->pending.lines);
        /* A full batch goes at once; anything less waits for the flush
         * interval, so a trickle costs no wake-up per point. */
        wake = s->pending.lines == (size_t)s->o.batch_lines;
    }
    pthread_mutex_unlock(&s->lock);
    if (wake) pthread_cond_signal(&s->wake);
    if (!ok) {
        atomic_fetch_add(&s->dropped, 1);
        bus_counter_add(s->m_dropped, 1);
    } else {
        bus_gauge_add(s->m_queue, 1);
    }
    return ok;
}

size_t bus_influx_queued(bus_influx *s) {
    return s ? atomic_load(&s->queued) : 0;
}

uint64_t bus_influx_dropped(bus_influx *s) {
    return s ? atomic_load(&s->dropped) : 0;
}

/* ---------------------------------------------------------------- sender -- */

static size_t on_body(char *data, size_t size, size_t n, void *arg) {
    bus_influx *s = arg;
    size_t len = size * n, room = sizeof s->resp - 1 - s->resp_len;
    size_t take = len < room ? len : room;
    memcpy(s->resp + s->resp_len, data, take);
    s->resp_len += take;
    s->resp[s->resp_len] = '\0';
    return len;
}

typedef enum { SENT, REFUSED, FAILED } post_result;

/* POSTs body (lines ending in '\n'). REFUSED: InfluxDB answered 4xx, the
 * same body would fail again. */
static post_result post(bus_influx *s, const char *body, size_t len, char *why, size_t cap) {
    s->resp_len = 0;
    s->resp[0] = '\0';
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    CURLcode rc = curl_easy_perform(s->curl);
    if (rc != CURLE_OK) {
        snprintf(why, cap, "%s", curl_easy_strerror(rc));
        return FAILED;
    }
    long code = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) return SENT;
    /* The error body is JSON from InfluxDB: {"error":"..."}. */
    for (size_t i = 0; i < s->resp_len; i++)
        if (s->resp[i] == '\n' || s->resp[i] == '\r') s->resp[i] = ' ';
    snprintf(why, cap, "HTTP %ld %.200s", code, s->resp);
    return code >= 400 && code < 500 ? REFUSED : FAILED;
}

static void deadline_in(struct timespec *ts, int64_t ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* Waits up to ms or until stop; returns stop. */
static bool sleep_unless_stopped(bus_influx *s, int64_t ms) {
    struct timespec until;
    deadline_in(&until, ms);
    pthread_mutex_lock(&s->lock);
    while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock, &until) == 0) {
    }
    bool stop = s->stop;
    pthread_mutex_unlock(&s->lock);
    return stop;
}

static void log_drops(bus_influx *s, uint64_t *logged, int64_t *last_ns) {
    uint64_t d = atomic_load(&s->dropped);
    int64_t now = bus_mono_ns();
    if (d == *logged || (*last_ns != 0 && now - *last_ns < DROP_LOG_NS)) return;
    bus_log(BUS_LOG_WARN,
            "influx: %" PRIu64 " points dropped since the last report (%" PRIu64
            " in all): the queue of %" PRId64 " lines was full",
            d - *logged, d, s->o.queue_lines);
    *logged = d;
    *last_ns = now;
}

/* Sends lines [0, b->len) of b in batches; on a failure retries with
 * backoff until sent, refused or stopping. final: one attempt per batch,
 * what is not sent is dropped. */
static void send_all(bus_influx *s, line_buf *b, bool final, uint64_t *logged, int64_t *last_ns) {
    size_t off = 0;
    int64_t backoff = BACKOFF_START;
    while (off < b->len) {
        /* The next batch: up to batch_lines lines. */
        size_t end = off, n = 0;
        while (end < b->len && n < (size_t)s->o.batch_lines) {
            const char *nl = memchr(b->data + end, '\n', b->len - end);
            end = nl ? (size_t)(nl - b->data) + 1 : b->len;
            n++;
        }
        char why[320];
        post_result r = post(s, b->data + off, end - off, why, sizeof why);
        if (r == SENT) {
            bus_counter_add(s->m_written, n);
        } else if (r == REFUSED) {
            bus_counter_add(s->m_rejected, n);
            bus_log(BUS_LOG_WARN, "influx: %zu points refused: %s", n, why);
        } else {
            bus_counter_add(s->m_errors, 1);
            if (backoff == BACKOFF_START || final)
                bus_log(BUS_LOG_WARN, "influx: writing %zu points failed (%s); %s", n, why,
                        final ? "stopping, not retried" : "retrying with backoff");
            if (!final && !sleep_unless_stopped(s, backoff)) {
                backoff = backoff * 2 > s->o.backoff_max_ms ? s->o.backoff_max_ms : backoff * 2;
                log_drops(s, logged, last_ns);
                continue;
            }
            /* Stopping: these lines and the rest are lost. */
            size_t rest = 0;
            for (size_t i = off; i < b->len; i++) rest += b->data[i] == '\n';
            atomic_fetch_add(&s->dropped, rest);
            bus_counter_add(s->m_dropped, rest);
            break;
        }
        if (backoff != BACKOFF_START) bus_log(BUS_LOG_INFO, "influx: writing again after failures");
        backoff = BACKOFF_START;
        off = end;
    }
    bus_gauge_add(s->m_queue, -(int64_t)b->lines);
    b->len = b->lines = 0;
}

static void *run(void *arg) {
    bus_influx *s = arg;
    line_buf sending = {0};
    uint64_t logged = 0;
    int64_t last_ns = 0;
    for (;;) {
        struct timespec until;
        deadline_in(&until, s->o.flush_ms);
        pthread_mutex_lock(&s->lock);
        while (!s->stop && s->pending.lines < (size_t)s->o.batch_lines &&
               pthread_cond_timedwait(&s->wake, &s->lock, &until) == 0) {
        }
        bool stop = s->stop;
        /* Take everything queued: producers go on into the emptied buffer. */
        line_buf t = s->pending;
        s->pending = sending;
        sending = t;
        atomic_store(&s->queued, 0);
        pthread_mutex_unlock(&s->lock);
        if (sending.lines) send_all(s, &sending, stop, &logged, &last_ns);
        log_drops(s, &logged, &last_ns);
        if (stop) break;
    }
    free(sending.data);
    return NULL;
}

/* -------------------------------------------------------------- lifecycle -- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) {
    (void)curl_global_init(CURL_GLOBAL_DEFAULT); /* a failure shows in curl_easy_init */
}

tb_status bus_influx_create(const bus_influx_opts *o, bus_metrics *m, bus_influx **out,
                            tb_error *err) {
    *out = NULL;
    if (o->url[0] == '\0') return TB_OK;
    pthread_once(&curl_once, curl_init);
    bus_influx *s = calloc(1, sizeof *s);
    if (s == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory for the influx sink");
    s->o = *o;
    size_t ulen = strlen(o->url);
    while (ulen > 0 && o->url[ulen - 1] == '/') ulen--;
    snprintf(s->write_url, sizeof s->write_url, "%.*s/write?db=%s&precision=ns", (int)ulen, o->url,
             o->db);
    s->curl = curl_easy_init();
    if (s->curl == NULL) {
        free(s);
        return tb_error_set(err, TB_ERR, "INFLUX_URL", "libcurl could not be initialised");
    }
    curl_easy_setopt(s->curl, CURLOPT_URL, s->write_url);
    curl_easy_setopt(s->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
    curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)o->timeout_ms);
    curl_easy_setopt(s->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (o->user[0]) {
        curl_easy_setopt(s->curl, CURLOPT_USERNAME, o->user);
        curl_easy_setopt(s->curl, CURLOPT_PASSWORD, o->password);
    }
    const char *lh = "Lines by outcome: written to InfluxDB, dropped (queue full or stopping), "
                     "rejected (refused by InfluxDB)";
    s->m_written = bus_metrics_counter(m, "tb_influx_lines_total", lh, "outcome", "written", NULL);
    s->m_dropped = bus_metrics_counter(m, "tb_influx_lines_total", lh, "outcome", "dropped", NULL);
    s->m_rejected =
        bus_metrics_counter(m, "tb_influx_lines_total", lh, "outcome", "rejected", NULL);
    s->m_errors = bus_metrics_counter(m, "tb_influx_write_errors_total",
                                      "POSTs to InfluxDB that failed (each retry counts)", NULL);
    s->m_queue = bus_metrics_gauge(m, "tb_influx_queue_lines", "Lines waiting for InfluxDB", NULL);
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->thread, NULL, run, s) != 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        curl_easy_cleanup(s->curl);
        free(s);
        return tb_error_set(err, TB_ERR, NULL, "cannot start the influx sink's thread");
    }
    char shown[512];
    bus_url_redact(o->url, shown, sizeof shown);
    bus_log(BUS_LOG_INFO, "influx: writing to %s database %s", shown, o->db);
    *out = s;
    return TB_OK;
}

void bus_influx_destroy(bus_influx *s) {
    if (s == NULL) return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_mutex_unlock(&s->lock);
    pthread_cond_signal(&s->wake);
    pthread_join(s->thread, NULL);
    /* Lines queued after the thread's last take. */
    if (s->pending.lines) {
        atomic_fetch_add(&s->dropped, s->pending.lines);
        bus_counter_add(s->m_dropped, s->pending.lines);
    }
    free(s->pending.data);
    curl_easy_cleanup(s->curl);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
