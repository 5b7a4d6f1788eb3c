/* PostgreSQL array literals (see bus_pgarray.h). */
#include "pgarray.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bus_pgarray_init(bus_pgarray *a) {
    memset(a, 0, sizeof *a);
}

void bus_pgarray_close(bus_pgarray *a) {
    free(a->p);
    bus_pgarray_init(a);
}

void bus_pgarray_reset(bus_pgarray *a) {
    a->len = 0;
    a->n = 0;
    a->oom = false;
}

/* Room for extra more bytes plus the closing "}" and NUL. */
static bool room(bus_pgarray *a, size_t extra) {
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
static void open_element(bus_pgarray *a) {
    a->p[a->len++] = a->n++ ? ',' : '{';
}

static void append_plain(bus_pgarray *a, const char *s, size_t n) {
    if (!room(a, n + 1)) return;
    open_element(a);
    memcpy(a->p + a->len, s, n);
    a->len += n;
}

void bus_pgarray_str(bus_pgarray *a, const char *s) {
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

void bus_pgarray_i64(bus_pgarray *a, int64_t v) {
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%" PRId64, v);
    append_plain(a, buf, (size_t)n);
}

void bus_pgarray_u64(bus_pgarray *a, uint64_t v) {
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%" PRIu64, v);
    append_plain(a, buf, (size_t)n);
}

void bus_pgarray_fixed(bus_pgarray *a, tb_fixed v) {
    char buf[TB_FIXED_STRLEN];
    tb_fixed_format(v, buf);
    append_plain(a, buf, strlen(buf));
}

void bus_pgarray_hex(bus_pgarray *a, const uint8_t *bytes, size_t n) {
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

const char *bus_pgarray_finish(bus_pgarray *a) {
    if (!room(a, 0)) return NULL;
    if (a->n == 0) a->p[a->len++] = '{';
    a->p[a->len++] = '}';
    a->p[a->len] = '\0';
    return a->p;
}

tb_status bus_pgarray_finish_all(bus_pgarray *a, size_t n, const char **out, tb_error *err) {
    for (size_t i = 0; i < n; i++)
        if ((out[i] = bus_pgarray_finish(&a[i])) == NULL)
            return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    return TB_OK;
}

void bus_pgarray_close_all(bus_pgarray *a, size_t n) {
    for (size_t i = 0; i < n; i++) bus_pgarray_close(&a[i]);
}
