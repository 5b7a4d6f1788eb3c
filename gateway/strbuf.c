/* Growing text buffer; see strbuf.h. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(gw_buf *b, size_t more) {
    if (b->oom) return false;
    if (b->len + more + 1 <= b->cap) return true;
    size_t nc = b->cap ? b->cap : 1024;
    while (nc < b->len + more + 1) nc *= 2;
    char *d = realloc(b->data, nc);
    if (d == NULL) {
        b->oom = true;
        return false;
    }
    b->data = d;
    b->cap = nc;
    return true;
}

void gw_buf_printf(gw_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if (!reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void gw_buf_escape(gw_buf *b, const char *s) {
    for (; s && *s; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '&':
            rep = "&amp;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            break;
        }
        size_t n = rep ? strlen(rep) : 1;
        if (!reserve(b, n)) return;
        memcpy(b->data + b->len, rep ? rep : s, n);
        b->len += n;
        b->data[b->len] = '\0';
    }
}

char *gw_buf_finish(gw_buf *b, size_t *len) {
    if (!b->oom && reserve(b, 0)) {
        b->data[b->len] = '\0';
        if (len) *len = b->len;
        char *d = b->data;
        b->data = NULL;
        b->len = b->cap = 0;
        return d;
    }
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    return NULL;
}
