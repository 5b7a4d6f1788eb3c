/* The web UI's static files (web/ in the repository), served at "/".
 *
 * The files are read once, at start, into memory: what is served is the
 * fixed set found then, looked up by exact name, so no request path ever
 * reaches the file system (no traversal, no symlinks followed, no
 * directory listing). Each file gets its Content-Type from a short list of
 * extensions (files of any other type are not served), a strong ETag (the
 * SHA-256 of its bytes) and, for text types, a gzip copy made with zlib
 * when it is smaller. Only one copy of a file stays in memory: the gzip
 * one when there is one (browsers ask for it), else the file's bytes; a
 * client that does not accept gzip gets the gzip copy inflated as it is
 * written (gw_static_write), so the 1.7 MB of Swagger UI are held as
 * 0.5 MB. No request I/O here: ui.c writes the response. */
#ifndef GW_STATIC_H
#define GW_STATIC_H

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

typedef struct gw_static gw_static;

/* The Content-Security-Policy of every UI response: scripts, styles and
 * everything else from the gateway's own origin only, no inline script or
 * style, no framing; the stream's WebSocket on the same host. */
extern const char gw_static_csp[];

/* Largest file and largest total read (bigger files are an error). */
#define GW_STATIC_MAX_FILE  (8u << 20)
#define GW_STATIC_MAX_TOTAL (32u << 20)

/* Reads every servable file of dir and of its subdirectories (two levels
 * down): names of [A-Za-z0-9._-] not starting with '.', regular files
 * only. NULL with err on an unreadable directory or a file over the
 * limits. */
gw_static *gw_static_load(const char *dir, tb_error *err);
void gw_static_free(gw_static *s);
/* Number of files loaded. */
size_t gw_static_count(const gw_static *s);

/* Whether name (a path segment) may be served: [A-Za-z0-9._-]{1,100}, not
 * starting with '.'. */
bool gw_static_name_ok(const char *name);
/* The Content-Type of a file name by its extension; NULL when the type is
 * not one the UI serves. */
const char *gw_static_type(const char *name);

typedef struct gw_static_resp {
    int status;        /* 200, or 304 when If-None-Match names the ETag */
    const char *ctype; /* Content-Type */
    const void *body;  /* 200: the bytes (gzip-encoded when gzip or inflate) */
    size_t len;        /* the bytes the client receives (Content-Length) */
    size_t body_len;   /* the bytes at body: len, or the gzip copy's when inflate */
    char etag[48];     /* quoted, strong; the gzip copy has its own */
    bool gzip;         /* Content-Encoding: gzip */
    bool inflate;      /* the file's bytes asked of a file kept only as gzip:
                          body is inflated as it is written */
} gw_static_resp;

/* The response for a GET of path ("/" is "/index.html"): false when no
 * such file was loaded. accept_encoding and if_none_match are the request
 * headers (may be NULL). */
bool gw_static_lookup(const gw_static *s, const char *path, const char *accept_encoding,
                      const char *if_none_match, gw_static_resp *out);

/* Writes the len bytes of a 200 response's body through write, in pieces
 * of at most 16 KiB (inflating body when inflate; the pieces are on the
 * heap, freed before it returns). False when write returns false or the
 * gzip copy does not inflate to len bytes. */
typedef bool (*gw_static_writer)(void *arg, const void *data, size_t len);
bool gw_static_write(const gw_static_resp *r, gw_static_writer write, void *arg);

/* Whether an Accept-Encoding header value accepts gzip (a "gzip" or "*"
 * coding without q=0). */
bool gw_static_accepts_gzip(const char *accept_encoding);
/* Whether an If-None-Match header value matches etag ("*", or one of its
 * comma-separated tags, weak or strong: RFC 9110 weak comparison). */
bool gw_static_etag_matches(const char *if_none_match, const char *etag);

#endif
