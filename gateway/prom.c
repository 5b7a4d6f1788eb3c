/* Merging Prometheus expositions; see prom.h.
 *
 * Each input is read line by line. A "# HELP" or "# TYPE" line selects the
 * family that the following samples belong to, which is how the exposition
 * format groups them; a sample must be named after that family (plus
 * _bucket/_sum/_count for histograms and summaries) or it is dropped. */
#include "prom.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf {
    char *data;
    size_t len, cap;
} buf;

static bool buf_add(buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1) nc *= 2;
        char *d = realloc(b->data, nc);
        if (d == NULL) return false;
        b->data = d;
        b->cap = nc;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

typedef struct family {
    char *name;
    char *help;    /* text after the name, may be "" */
    char type[16]; /* "" until a TYPE line was seen */
    buf samples;
} family;

struct gw_prom {
    family *fams;
    size_t n, cap;
};

gw_prom *gw_prom_create(void) {
    return calloc(1, sizeof(gw_prom));
}

void gw_prom_destroy(gw_prom *p) {
    if (p == NULL) return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->fams[i].name);
        free(p->fams[i].help);
        free(p->fams[i].samples.data);
    }
    free(p->fams);
    free(p);
}

static bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == ':';
}

static size_t name_len(const char *s, size_t max) {
    size_t n = 0;
    while (n < max && name_char(s[n])) n++;
    return n;
}

static family *find(gw_prom *p, const char *name, size_t n) {
    for (size_t i = 0; i < p->n; i++)
        if (strlen(p->fams[i].name) == n && memcmp(p->fams[i].name, name, n) == 0)
            return &p->fams[i];
    return NULL;
}

static family *find_or_add(gw_prom *p, const char *name, size_t n, bool *oom) {
    family *f = find(p, name, n);
    if (f) return f;
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 32;
        family *g = realloc(p->fams, nc * sizeof *g);
        if (g == NULL) {
            *oom = true;
            return NULL;
        }
        p->fams = g;
        p->cap = nc;
    }
    f = &p->fams[p->n];
    memset(f, 0, sizeof *f);
    f->name = strndup(name, n);
    f->help = strdup("");
    if (f->name == NULL || f->help == NULL) {
        free(f->name);
        free(f->help);
        *oom = true;
        return NULL;
    }
    p->n++;
    return f;
}

/* Whether a sample called name[0..n) belongs to family f. */
static bool sample_of(const family *f, const char *name, size_t n) {
    size_t fl = strlen(f->name);
    if (n < fl || memcmp(name, f->name, fl) != 0) return false;
    const char *suf = name + fl;
    size_t sl = n - fl;
    if (sl == 0) return true;
    bool hist = strcmp(f->type, "histogram") == 0, summ = strcmp(f->type, "summary") == 0;
    if ((hist || summ) &&
        ((sl == 4 && memcmp(suf, "_sum", 4) == 0) || (sl == 6 && memcmp(suf, "_count", 6) == 0)))
        return true;
    return hist && sl == 7 && memcmp(suf, "_bucket", 7) == 0;
}

long gw_prom_add(gw_prom *p, const char *text, size_t len) {
    long dropped = 0;
    family *cur = NULL;
    bool conflict = false, oom = false;
    const char *s = text, *end = text + len;
    while (s < end && !oom) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t ll = nl ? (size_t)(nl - s) : (size_t)(end - s);
        const char *line = s;
        s += ll + (nl != NULL);
        if (ll == 0) continue;
        bool help = ll > 7 && memcmp(line, "# HELP ", 7) == 0;
        bool type = ll > 7 && memcmp(line, "# TYPE ", 7) == 0;
        if (help || type) {
            const char *nm = line + 7;
            size_t n = name_len(nm, ll - 7);
            if (n == 0) {
                dropped++;
                continue;
            }
            family *f = find_or_add(p, nm, n, &oom);
            if (f == NULL) break;
            const char *rest = nm + n;
            size_t rl = ll - 7 - n;
            if (rl > 0 && *rest == ' ') rest++, rl--;
            if (cur != f) conflict = false;
            cur = f;
            if (help && f->help[0] == '\0' && rl > 0) {
                char *h = strndup(rest, rl);
                if (h == NULL) {
                    oom = true;
                    break;
                }
                free(f->help);
                f->help = h;
            }
            if (type) {
                char t[16];
                size_t tl = rl < sizeof t - 1 ? rl : sizeof t - 1;
                memcpy(t, rest, tl);
                t[tl] = '\0';
                if (f->type[0] == '\0')
                    memcpy(f->type, t, sizeof t);
                else
                    conflict = strcmp(f->type, t) != 0;
                dropped += conflict;
            }
            continue;
        }
        if (line[0] == '#') continue; /* other comments carry nothing */
        size_t n = name_len(line, ll);
        if (cur == NULL || conflict || !sample_of(cur, line, n)) {
            dropped++;
            continue;
        }
        if (!buf_add(&cur->samples, line, ll) || !buf_add(&cur->samples, "\n", 1)) oom = true;
    }
    return oom ? -1 : dropped;
}

char *gw_prom_render(const gw_prom *p, size_t *len) {
    buf out = {0};
    bool ok = buf_add(&out, "", 0);
    for (size_t i = 0; ok && i < p->n; i++) {
        const family *f = &p->fams[i];
        const char *help = f->help[0] ? f->help : f->name;
        ok = buf_add(&out, "# HELP ", 7) && buf_add(&out, f->name, strlen(f->name)) &&
             buf_add(&out, " ", 1) && buf_add(&out, help, strlen(help)) && buf_add(&out, "\n", 1) &&
             buf_add(&out, "# TYPE ", 7) && buf_add(&out, f->name, strlen(f->name)) &&
             buf_add(&out, " ", 1) &&
             buf_add(&out, f->type[0] ? f->type : "untyped",
                     strlen(f->type[0] ? f->type : "untyped")) &&
             buf_add(&out, "\n", 1);
        if (ok && f->samples.len) ok = buf_add(&out, f->samples.data, f->samples.len);
    }
    if (!ok) {
        free(out.data);
        return NULL;
    }
    *len = out.len;
    return out.data;
}
