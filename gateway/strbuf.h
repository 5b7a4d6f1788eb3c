/* A growing text buffer with printf and HTML/XML escaping, for the pages
 * and charts the gateway renders. Out-of-memory is sticky: later appends do
 * nothing and gw_buf_finish returns NULL. No I/O. */
#ifndef GW_STRBUF_H
#define GW_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gw_buf {
    char *data;
    size_t len, cap;
    bool oom;
} gw_buf;

/* Appends formatted text. */
void gw_buf_printf(gw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with <, >, &, " and ' escaped as entities. */
void gw_buf_escape(gw_buf *b, const char *s);
/* Hands over the NUL-terminated text (caller frees) and its length; NULL
 * after an out-of-memory, in which case the buffer was freed. */
char *gw_buf_finish(gw_buf *b, size_t *len);

#endif
