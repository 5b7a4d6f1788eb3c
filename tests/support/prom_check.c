/* A checker for the Prometheus text exposition format (0.0.4), strict
 * enough to catch what scrapers reject: names, label escaping, values, and
 * histogram shape (cumulative buckets ending at +Inf equal to _count). */
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test.h"

static char problem[512];

static const char *prom_fail(int line, const char *what) {
    snprintf(problem, sizeof problem, "line %d: %s", line, what);
    return problem;
}

static bool name_char(char c, bool first) {
    return isalpha((unsigned char)c) || c == '_' || c == ':' ||
           (!first && isdigit((unsigned char)c));
}

/* Parses a metric name at *p; returns its length or 0. */
static size_t parse_name(const char *p) {
    size_t n = 0;
    while (p[n] && name_char(p[n], n == 0)) n++;
    return n;
}

typedef struct {
    char family[256];
    char type[16];
    double last_bucket;
    char bucket_series[1024]; /* labels without le of the current histogram series */
    double inf_value;
    bool have_inf;
} hist_state;

/* Parses '{k="v",...}' at p; copies labels except le into rest, le value into le. */
static const char *parse_labels(const char *p, int line, const char **end, char *rest, size_t cap,
                                char *le, size_t lecap) {
    rest[0] = '\0';
    le[0] = '\0';
    if (*p != '{') {
        *end = p;
        return NULL;
    }
    p++;
    size_t rl = 0;
    while (*p != '}') {
        size_t n = parse_name(p);
        if (n == 0 || (isdigit((unsigned char)p[0]))) return prom_fail(line, "bad label name");
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        p += n;
        if (*p++ != '=' || *p++ != '"') return prom_fail(line, "label without =\"");
        char val[512];
        size_t vl = 0;
        while (*p != '"') {
            if (*p == '\0' || *p == '\n') return prom_fail(line, "unterminated label value");
            if (*p == '\\') {
                p++;
                if (*p != '\\' && *p != '"' && *p != 'n')
                    return prom_fail(line, "bad escape in label value");
            }
            if (vl + 1 < sizeof val) val[vl++] = *p;
            p++;
        }
        val[vl] = '\0';
        p++;
        if (strcmp(key, "le") == 0) {
            size_t ln = strlen(val) < lecap ? strlen(val) : lecap - 1;
            memcpy(le, val, ln);
            le[ln] = '\0';
        } else {
            size_t kl = strlen(key), vl2 = strlen(val);
            if (rl + kl + vl2 + 3 > cap) return prom_fail(line, "too many labels");
            memcpy(rest + rl, key, kl);
            rest[rl + kl] = '=';
            memcpy(rest + rl + kl + 1, val, vl2);
            rest[rl + kl + 1 + vl2] = ',';
            rl += kl + vl2 + 2;
            rest[rl] = '\0';
        }
        if (*p == ',')
            p++;
        else if (*p != '}')
            return prom_fail(line, "expected , or } in labels");
    }
    *end = p + 1;
    return NULL;
}

static bool parse_value(const char *s, double *v) {
    if (strcmp(s, "+Inf") == 0) {
        *v = INFINITY;
        return true;
    }
    if (strcmp(s, "-Inf") == 0) {
        *v = -INFINITY;
        return true;
    }
    if (strcmp(s, "NaN") == 0) {
        *v = NAN;
        return true;
    }
    char *end = NULL;
    *v = strtod(s, &end);
    return end != s && (*end == '\0' || *end == ' ');
}

static const char *check_sample(hist_state *h, const char *line, int ln) {
    size_t n = parse_name(line);
    if (n == 0) return prom_fail(ln, "bad metric name");
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)n, line);
    const char *p = line + n, *end = NULL;
    char rest[1024], le[64];
    const char *e = parse_labels(p, ln, &end, rest, sizeof rest, le, sizeof le);
    if (e) return e;
    if (*end != ' ') return prom_fail(ln, "expected a space before the value");
    double v;
    if (!parse_value(end + 1, &v)) return prom_fail(ln, "bad sample value");
    size_t fl = strlen(h->family);
    if (strncmp(name, h->family, fl) != 0)
        return prom_fail(ln, "sample without HELP/TYPE for its family");
    const char *suffix = name + fl;
    if (strcmp(h->type, "histogram") != 0) {
        if (*suffix != '\0') return prom_fail(ln, "sample name differs from its family");
        return NULL;
    }
    if (strcmp(suffix, "_bucket") == 0) {
        if (le[0] == '\0') return prom_fail(ln, "bucket without le");
        if (strcmp(rest, h->bucket_series) != 0 || h->have_inf) {
            snprintf(h->bucket_series, sizeof h->bucket_series, "%s", rest);
            h->last_bucket = -1;
            h->have_inf = false;
        }
        if (v < h->last_bucket) return prom_fail(ln, "histogram buckets are not cumulative");
        h->last_bucket = v;
        if (strcmp(le, "+Inf") == 0) {
            h->have_inf = true;
            h->inf_value = v;
        }
        return NULL;
    }
    if (strcmp(suffix, "_sum") == 0) return NULL;
    if (strcmp(suffix, "_count") == 0) {
        if (!h->have_inf || strcmp(rest, h->bucket_series) != 0)
            return prom_fail(ln, "histogram series without a le=\"+Inf\" bucket");
        if (v != h->inf_value) return prom_fail(ln, "_count differs from the +Inf bucket");
        return NULL;
    }
    return prom_fail(ln, "unexpected histogram sample suffix");
}

const char *tb_prom_check(const char *text) {
    hist_state h;
    memset(&h, 0, sizeof h);
    int ln = 0;
    bool have_help = false;
    const char *p = text;
    if (text == NULL || *text == '\0') return "empty exposition";
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (nl == NULL) return prom_fail(ln + 1, "last line not terminated by a newline");
        char line[4096];
        size_t len = (size_t)(nl - p);
        if (len >= sizeof line) return prom_fail(ln + 1, "line too long");
        memcpy(line, p, len);
        line[len] = '\0';
        p = nl + 1;
        ln++;
        if (len == 0) continue;
        if (strncmp(line, "# HELP ", 7) == 0) {
            size_t n = parse_name(line + 7);
            if (n == 0) return prom_fail(ln, "bad name in HELP");
            snprintf(h.family, sizeof h.family, "%.*s", (int)n, line + 7);
            h.type[0] = '\0';
            have_help = true;
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            size_t n = parse_name(line + 7);
            if (!have_help || strncmp(line + 7, h.family, n) != 0 || strlen(h.family) != n)
                return prom_fail(ln, "TYPE does not follow the HELP of the same family");
            const char *t = line + 7 + n + 1;
            if (strcmp(t, "counter") && strcmp(t, "gauge") && strcmp(t, "histogram") &&
                strcmp(t, "summary") && strcmp(t, "untyped"))
                return prom_fail(ln, "unknown TYPE");
            snprintf(h.type, sizeof h.type, "%s", t);
            h.have_inf = false;
            h.bucket_series[0] = '\0';
            continue;
        }
        if (line[0] == '#') continue;
        if (h.type[0] == '\0') return prom_fail(ln, "sample before its TYPE line");
        const char *e = check_sample(&h, line, ln);
        if (e) return e;
    }
    return NULL;
}

double tb_test_service_metric(bus_conn *c, const char *service, const char *name,
                              const char *label) {
    char subject[128];
    snprintf(subject, sizeof subject, "svc.%s.metrics", service);
    bus_bytes rb;
    tb_error err = {0};
    ck_assert_msg(bus_request_bytes(c, subject, "", 0, NULL, 2000, NULL, &rb, &err) == TB_OK,
                  "%s: %s", subject, err.message);
    double v = -1;
    size_t n = strlen(name);
    for (const char *p = rb.data; v < 0 && p != NULL && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > n && strncmp(p, name, n) == 0 && (p[n] == ' ' || p[n] == '{')) {
            const char *value = p + n;
            bool match = label == NULL;
            if (*value == '{') {
                const char *close = memchr(value, '}', len - n);
                if (close != NULL) {
                    char labels[256];
                    snprintf(labels, sizeof labels, "%.*s", (int)(close - value), value);
                    match = match || strstr(labels, label) != NULL;
                    value = close + 1;
                } else {
                    match = false;
                }
            }
            if (match) v = strtod(value, NULL);
        }
        p = eol ? eol + 1 : NULL;
    }
    bus_bytes_free(&rb);
    return v;
}
