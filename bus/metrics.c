/* Metrics registry and Prometheus text rendering.
 *
 * Families and series are kept in insertion order in singly linked lists under
 * one mutex; lookups are rare (startup, first use of a label set), updates are
 * lock-free atomics. Histogram buckets are stored non-cumulative and summed at
 * render time, so an observation is one atomic add per value plus sum/count. */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM, KIND_SIZES } metric_kind;

static const double bucket_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                       0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
#define NBUCKETS (sizeof bucket_bounds / sizeof bucket_bounds[0])
/* Sizes (messages per batch): powers of two, as many bounds as durations. */
static const uint64_t size_bounds[NBUCKETS] = {1,   2,   4,    8,    16,   32,   64,    128,
                                               256, 512, 1024, 2048, 4096, 8192, 16384, 65536};

struct bus_series {
    struct bus_series *next;
    char *labels; /* rendered 'k="v",k2="v2"' (escaped), may be "" */
    metric_kind kind;
    _Atomic int64_t value;                  /* counter / gauge */
    _Atomic uint64_t buckets[NBUCKETS + 1]; /* last one: above the largest bound */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_ns;
};

typedef struct family {
    struct family *next;
    char *name;
    char *help;
    metric_kind kind;
    bus_series *series;
    bus_series **tail;
} family;

struct bus_metrics {
    pthread_mutex_t lock;
    family *families;
    family **tail;
    char *const_labels; /* escaped, may be "" */
};

static bool valid_name(const char *s) {
    if (s == NULL || *s == '\0') return false;
    for (const char *p = s; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':' ||
                  (p != s && *p >= '0' && *p <= '9');
        if (!ok) return false;
    }
    return true;
}

size_t bus_metrics_escape_label(const char *in, char *out, size_t cap) {
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        const char *rep = NULL;
        if (*p == '\\')
            rep = "\\\\";
        else if (*p == '"')
            rep = "\\\"";
        else if (*p == '\n')
            rep = "\\n";
        size_t add = rep ? 2 : 1;
        if (n + add + 1 > cap) break;
        if (rep) {
            out[n++] = rep[0];
            out[n++] = rep[1];
        } else {
            out[n++] = *p;
        }
    }
    if (cap > 0) out[n] = '\0';
    return n;
}

/* Renders key/value pairs from ap into a malloc'd label string. */
static char *render_labels(va_list ap) {
    size_t cap = 256, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL) return NULL;
    buf[0] = '\0';
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL) break;
        const char *v = va_arg(ap, const char *);
        if (v == NULL) v = "";
        if (!valid_name(k)) {
            free(buf);
            return NULL;
        }
        size_t need = len + strlen(k) + 2 * strlen(v) + 8;
        if (need > cap) {
            while (cap < need) cap *= 2;
            char *nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
        len += (size_t)sprintf(buf + len, "%s%s=\"", len ? "," : "", k);
        len += bus_metrics_escape_label(v, buf + len, cap - len);
        buf[len++] = '"';
        buf[len] = '\0';
    }
    return buf;
}

bus_metrics *bus_metrics_create(const char *service, const char *instance) {
    bus_metrics *m = calloc(1, sizeof *m);
    if (m == NULL) return NULL;
    pthread_mutex_init(&m->lock, NULL);
    m->tail = &m->families;
    char s[256] = "", i[256] = "";
    if (service) bus_metrics_escape_label(service, s, sizeof s);
    if (instance) bus_metrics_escape_label(instance, i, sizeof i);
    size_t cap = strlen(s) + strlen(i) + 32;
    m->const_labels = malloc(cap);
    if (m->const_labels == NULL) {
        bus_metrics_destroy(m);
        return NULL;
    }
    m->const_labels[0] = '\0';
    if (service && instance)
        snprintf(m->const_labels, cap, "service=\"%s\",instance=\"%s\"", s, i);
    else if (service)
        snprintf(m->const_labels, cap, "service=\"%s\"", s);
    return m;
}

void bus_metrics_destroy(bus_metrics *m) {
    if (m == NULL) return;
    family *f = m->families;
    while (f) {
        family *fn = f->next;
        bus_series *s = f->series;
        while (s) {
            bus_series *sn = s->next;
            free(s->labels);
            free(s);
            s = sn;
        }
        free(f->name);
        free(f->help);
        free(f);
        f = fn;
    }
    free(m->const_labels);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static family *find_family(bus_metrics *m, const char *name, const char *help, metric_kind kind) {
    for (family *f = m->families; f; f = f->next)
        if (strcmp(f->name, name) == 0) return f->kind == kind ? f : NULL;
    family *f = calloc(1, sizeof *f);
    if (f == NULL) return NULL;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    if (f->name == NULL || f->help == NULL) {
        free(f->name);
        free(f->help);
        free(f);
        return NULL;
    }
    f->kind = kind;
    f->tail = &f->series;
    *m->tail = f;
    m->tail = &f->next;
    return f;
}

static bus_series *get_series(bus_metrics *m, metric_kind kind, const char *name, const char *help,
                              va_list ap) {
    if (m == NULL || !valid_name(name)) return NULL;
    char *labels = render_labels(ap);
    if (labels == NULL) return NULL;
    pthread_mutex_lock(&m->lock);
    bus_series *found = NULL;
    family *f = find_family(m, name, help, kind);
    if (f != NULL) {
        for (bus_series *s = f->series; s; s = s->next)
            if (strcmp(s->labels, labels) == 0) found = s;
        if (found == NULL && (found = calloc(1, sizeof *found)) != NULL) {
            found->labels = labels;
            labels = NULL;
            found->kind = kind;
            *f->tail = found;
            f->tail = &found->next;
        }
    }
    pthread_mutex_unlock(&m->lock);
    free(labels);
    return found;
}

#define SERIES_GETTER(fn, kind)                                                                    \
    bus_series *fn(bus_metrics *m, const char *name, const char *help, ...) {                      \
        va_list ap;                                                                                \
        va_start(ap, help);                                                                        \
        bus_series *s = get_series(m, kind, name, help, ap);                                       \
        va_end(ap);                                                                                \
        return s;                                                                                  \
    }
SERIES_GETTER(bus_metrics_counter, KIND_COUNTER)
SERIES_GETTER(bus_metrics_gauge, KIND_GAUGE)
SERIES_GETTER(bus_metrics_histogram, KIND_HISTOGRAM)
SERIES_GETTER(bus_metrics_size_histogram, KIND_SIZES)

void bus_counter_add(bus_series *s, uint64_t n) {
    if (s) atomic_fetch_add_explicit(&s->value, (int64_t)n, memory_order_relaxed);
}

void bus_gauge_set(bus_series *s, int64_t v) {
    if (s) atomic_store_explicit(&s->value, v, memory_order_relaxed);
}

void bus_gauge_add(bus_series *s, int64_t delta) {
    if (s) atomic_fetch_add_explicit(&s->value, delta, memory_order_relaxed);
}

void bus_histogram_observe_ns(bus_series *s, int64_t ns) {
    if (s == NULL) return;
    if (ns < 0) ns = 0;
    double secs = (double)ns / 1e9;
    size_t i = 0;
    while (i < NBUCKETS && secs > bucket_bounds[i]) i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_ns, (uint64_t)ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

void bus_histogram_observe_size(bus_series *s, uint64_t n) {
    if (s == NULL) return;
    size_t i = 0;
    while (i < NBUCKETS && n > size_bounds[i]) i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_ns, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

int64_t bus_series_value(const bus_series *s) {
    if (s == NULL) return 0;
    if (s->kind == KIND_HISTOGRAM || s->kind == KIND_SIZES) return (int64_t)atomic_load(&s->count);
    return atomic_load(&s->value);
}

/* Growable output buffer for rendering. */
typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} outbuf;

static void out_printf(outbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(outbuf *o, const char *fmt, ...) {
    if (o->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->oom = true;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t ncap = o->cap * 2 + (size_t)n;
        char *np = realloc(o->p, ncap);
        if (np == NULL) {
            o->oom = true;
            return;
        }
        o->p = np;
        o->cap = ncap;
    }
}

/* Joins const labels, series labels and an extra pair into "{...}" or "". */
static void out_labels(outbuf *o, const char *c, const char *l, const char *extra) {
    const char *parts[3] = {c, l, extra};
    bool any = false;
    for (int i = 0; i < 3; i++) {
        if (parts[i] == NULL || parts[i][0] == '\0') continue;
        out_printf(o, "%s%s", any ? "," : "{", parts[i]);
        any = true;
    }
    if (any) out_printf(o, "}");
}

static void render_help(outbuf *o, const family *f) {
    /* HELP text escapes only backslash and newline. */
    out_printf(o, "# HELP %s ", f->name);
    for (const char *p = f->help; *p; p++) {
        if (*p == '\\')
            out_printf(o, "\\\\");
        else if (*p == '\n')
            out_printf(o, "\\n");
        else
            out_printf(o, "%c", *p);
    }
    static const char *const kinds[] = {"counter", "gauge", "histogram", "histogram"};
    out_printf(o, "\n# TYPE %s %s\n", f->name, kinds[f->kind]);
}

static void render_histogram(outbuf *o, const char *c, const family *f, const bus_series *s) {
    uint64_t cum = 0;
    char le[64];
    for (size_t i = 0; i <= NBUCKETS; i++) {
        cum += atomic_load(&s->buckets[i]);
        if (i < NBUCKETS && f->kind == KIND_SIZES)
            snprintf(le, sizeof le, "le=\"%llu\"", (unsigned long long)size_bounds[i]);
        else if (i < NBUCKETS)
            snprintf(le, sizeof le, "le=\"%g\"", bucket_bounds[i]);
        else
            snprintf(le, sizeof le, "le=\"+Inf\"");
        out_printf(o, "%s_bucket", f->name);
        out_labels(o, c, s->labels, le);
        out_printf(o, " %llu\n", (unsigned long long)cum);
    }
    out_printf(o, "%s_sum", f->name);
    out_labels(o, c, s->labels, NULL);
    if (f->kind == KIND_SIZES)
        out_printf(o, " %llu\n", (unsigned long long)atomic_load(&s->sum_ns));
    else
        out_printf(o, " %.9f\n", (double)atomic_load(&s->sum_ns) / 1e9);
    out_printf(o, "%s_count", f->name);
    out_labels(o, c, s->labels, NULL);
    /* count equals the +Inf bucket by construction: read it from there so the
     * two agree even while observations race with rendering */
    out_printf(o, " %llu\n", (unsigned long long)cum);
}

int bus_metrics_render(bus_metrics *m, char **out, size_t *len) {
    outbuf o = {.p = malloc(4096), .cap = 4096};
    if (o.p == NULL) return -1;
    o.p[0] = '\0';
    pthread_mutex_lock(&m->lock);
    for (family *f = m->families; f; f = f->next) {
        if (f->series == NULL) continue;
        render_help(&o, f);
        for (bus_series *s = f->series; s; s = s->next) {
            if (f->kind == KIND_HISTOGRAM || f->kind == KIND_SIZES) {
                render_histogram(&o, m->const_labels, f, s);
                continue;
            }
            out_printf(&o, "%s", f->name);
            out_labels(&o, m->const_labels, s->labels, NULL);
            out_printf(&o, " %lld\n", (long long)atomic_load(&s->value));
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (o.oom) {
        free(o.p);
        return -1;
    }
    *out = o.p;
    *len = o.len;
    return 0;
}
