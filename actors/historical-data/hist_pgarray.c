/* PostgreSQL array literals (see hist_pgarray.h). */
#include "hist_pgarray.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hist_pgarray_init(hist_pgarray *a) {
    memset(a, 0, sizeof *a);
}

void hist_pgarray_close(hist_pgarray *a) {
    free(a->p);
    hist_pgarray_init(a);
}

void hist_pgarray_reset(hist_pgarray *a) {
    a->len = 0;
    a->n = 0;
    a->oom = false;
}

/* Room for extra more bytes plus the closing "}" and NUL. */
static bool room(hist_pgarray *a, size_t extra) {
    if (a->oom) return false;
    size_t want = a->len + extra + 3;
    if (want <= a->cap) return true;
    size_t ncap = a->cap ? a->cap : 1024;
    while (ncap < want) ncap *= 2;
    char *np = realloc(a->p, ncap);
    if (np == NULL) {
        a->oom = true;
        return false;
    }
    a->p = np;
    a->cap = ncap;
    return true;
}

/* The separator before an element ("{" before the first). */
static void open_element(hist_pgarray *a) {
    a->p[a->len++] = a->n++ ? ',' : '{';
}

static void append_plain(hist_pgarray *a, const char *s, size_t n) {
    if (!room(a, n + 1)) return;
    open_element(a);
    memcpy(a->p + a->len, s, n);
    a->len += n;
}

void hist_pgarray_str(hist_pgarray *a, const char *s) {
    size_t n = strlen(s);
    /* Worst case every byte escaped, plus the quotes. */
    if (!room(a, 2 * n + 3)) return;
    open_element(a);
    a->p[a->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') a->p[a->len++] = '\\';
        a->p[a->len++] = s[i];
    }
    a->p[a->len++] = '"';
}

void hist_pgarray_i64(hist_pgarray *a, int64_t v) {
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%" PRId64, v);
    append_plain(a, buf, (size_t)n);
}

void hist_pgarray_fixed(hist_pgarray *a, tb_fixed v) {
    char buf[TB_FIXED_STRLEN];
    tb_fixed_format(v, buf);
    append_plain(a, buf, strlen(buf));
}

void hist_pgarray_hex(hist_pgarray *a, const uint8_t *bytes, size_t n) {
    static const char digits[] = "0123456789abcdef";
    if (!room(a, 2 * n + 3)) return;
    open_element(a);
    /* Quoted, so that no bytes is "" (an empty element), not a syntax error. */
    a->p[a->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        a->p[a->len++] = digits[bytes[i] >> 4];
        a->p[a->len++] = digits[bytes[i] & 15];
    }
    a->p[a->len++] = '"';
}

const char *hist_pgarray_finish(hist_pgarray *a) {
    if (!room(a, 0)) return NULL;
    if (a->n == 0) a->p[a->len++] = '{';
    a->p[a->len++] = '}';
    a->p[a->len] = '\0';
    return a->p;
}
