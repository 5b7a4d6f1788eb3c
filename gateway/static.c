/* The web UI's static files, read once and served from memory; see
 * static.h. */
#include "static.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "keys.h"

/* connect-src 'self' covers the same-origin ws:/wss: of /v1/stream in
 * CSP Level 3 browsers; img-src data: is for the charts' exported images
 * and favicons browsers may synthesise. */
const char gw_static_csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

typedef struct sfile {
    char path[160]; /* "/app.js", "/vendor/uPlot.min.js" */
    const char *ctype;
    /* One copy each: gz when compressing was worth it (data NULL, the
     * file's bytes are inflated from gz when asked for), else data. */
    unsigned char *data, *gz;
    size_t len, gz_len;
    char etag[48], gz_etag[48];
} sfile;

/* gw_static_write's pieces: as civetweb's own buffer (and gw_send's). */
#define PIECE 16384

struct gw_static {
    sfile *files;
    size_t n, cap, total;
};

static const struct {
    const char *ext, *type;
    bool compress;
} types[] = {
    {".html", "text/html; charset=utf-8", true},
    {".js", "text/javascript; charset=utf-8", true},
    {".mjs", "text/javascript; charset=utf-8", true},
    {".css", "text/css; charset=utf-8", true},
    {".json", "application/json", true},
    {".svg", "image/svg+xml", true},
    {".txt", "text/plain; charset=utf-8", true},
    {".png", "image/png", false},
    {".ico", "image/x-icon", false},
    {".woff2", "font/woff2", false},
};

bool gw_static_name_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > 100 || name[0] == '.') return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int type_index(const char *name) {
    const char *dot = strrchr(name, '.');
    if (dot == NULL) return -1;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(dot, types[i].ext) == 0) return (int)i;
    return -1;
}

const char *gw_static_type(const char *name) {
    int i = type_index(name);
    return i < 0 ? NULL : types[i].type;
}

/* gzip (RFC 1952) of data; NULL unless it is smaller. */
static unsigned char *gzip_of(const unsigned char *data, size_t len, size_t *out_len) {
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16: a gzip header and trailer instead of zlib's */
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return NULL;
    size_t cap = deflateBound(&z, (uLong)len);
    unsigned char *out = malloc(cap);
    if (out == NULL) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END || *out_len >= len) {
        free(out);
        return NULL;
    }
    return out;
}

static void make_etag(char *out, size_t cap, const unsigned char *data, size_t len,
                      const char *suffix) {
    char hex[GW_KEY_HASH_HEX];
    gw_key_hash((const char *)data, len, hex);
    snprintf(out, cap, "\"%.32s%s\"", hex, suffix);
}

/* Reads fd whole (st_size bytes). */
static unsigned char *read_all(int fd, size_t size) {
    unsigned char *b = malloc(size ? size : 1);
    size_t got = 0;
    while (b && got < size) {
        ssize_t k = read(fd, b + got, size - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            free(b);
            return NULL;
        }
        got += (size_t)k;
    }
    return b;
}

static tb_status add_file(gw_static *s, int dirfd, const char *name, const char *url,
                          tb_error *err) {
    int ti = type_index(name);
    if (ti < 0) return TB_OK; /* not a type the UI serves: left out */
    /* O_NOFOLLOW: a symlink cannot point the UI at another part of the disk */
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return tb_error_set(err, TB_INVALID, "GATEWAY_WEB_DIR", "%s: %s", url, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return TB_OK;
    }
    if ((size_t)st.st_size > GW_STATIC_MAX_FILE ||
        s->total + (size_t)st.st_size > GW_STATIC_MAX_TOTAL) {
        close(fd);
        return tb_error_set(err, TB_TOO_LARGE, "GATEWAY_WEB_DIR",
                            "%s: the UI's files are too large", url);
    }
    unsigned char *data = read_all(fd, (size_t)st.st_size);
    close(fd);
    if (data == NULL) return tb_error_set(err, TB_ERR, "GATEWAY_WEB_DIR", "%s: cannot read", url);
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        sfile *f = realloc(s->files, nc * sizeof *f);
        if (f == NULL) {
            free(data);
            return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
        }
        s->files = f;
        s->cap = nc;
    }
    sfile *f = &s->files[s->n++];
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", url);
    f->ctype = types[ti].type;
    f->data = data;
    f->len = (size_t)st.st_size;
    s->total += f->len;
    make_etag(f->etag, sizeof f->etag, data, f->len, "");
    if (types[ti].compress && f->len > 256) {
        f->gz = gzip_of(data, f->len, &f->gz_len);
        if (f->gz) {
            make_etag(f->gz_etag, sizeof f->gz_etag, data, f->len, "-gz");
            /* the gzip copy is what browsers fetch; the rare client that
             * does not accept it gets it inflated (gw_static_write) */
            free(f->data);
            f->data = NULL;
        }
    }
    return TB_OK;
}

/* Loads the directory open as dirfd (taken) at url prefix; depth counts
 * the levels still allowed below it. */
static tb_status load_dir(gw_static *s, int dirfd, const char *prefix, int depth, tb_error *err) {
    DIR *d = fdopendir(dirfd);
    if (d == NULL) {
        close(dirfd);
        return tb_error_set(err, TB_INVALID, "GATEWAY_WEB_DIR", "cannot list %s/", prefix);
    }
    tb_status st = TB_OK;
    struct dirent *e;
    while (st == TB_OK && (e = readdir(d)) != NULL) {
        if (!gw_static_name_ok(e->d_name)) continue; /* ".", "..", hidden, odd names */
        char url[160];
        if ((size_t)snprintf(url, sizeof url, "%s/%s", prefix, e->d_name) >= sizeof url) continue;
        struct stat lst;
        if (fstatat(dirfd, e->d_name, &lst, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISDIR(lst.st_mode)) {
            if (depth == 0) continue;
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) st = load_dir(s, sub, url, depth - 1, err);
        } else if (S_ISREG(lst.st_mode)) {
            st = add_file(s, dirfd, e->d_name, url, err);
        }
    }
    closedir(d);
    return st;
}

gw_static *gw_static_load(const char *dir, tb_error *err) {
    gw_static *s = calloc(1, sizeof *s);
    if (s == NULL) {
        tb_error_set(err, TB_NOMEM, NULL, "out of memory");
        return NULL;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        tb_error_set(err, TB_INVALID, "GATEWAY_WEB_DIR", "GATEWAY_WEB_DIR: cannot open %s: %s", dir,
                     strerror(errno));
        free(s);
        return NULL;
    }
    if (load_dir(s, fd, "", 2, err) != TB_OK) {
        gw_static_free(s);
        return NULL;
    }
    return s;
}

void gw_static_free(gw_static *s) {
    if (s == NULL) return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->files[i].data);
        free(s->files[i].gz);
    }
    free(s->files);
    free(s);
}

size_t gw_static_count(const gw_static *s) {
    return s ? s->n : 0;
}

/* The next comma-separated element of *p, trimmed, into [*b, *e). */
static bool next_item(const char **p, const char **b, const char **e) {
    const char *s = *p;
    while (*s == ' ' || *s == '\t' || *s == ',') s++;
    if (*s == '\0') return false;
    const char *end = strchr(s, ',');
    if (end == NULL) end = s + strlen(s);
    *p = end;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t')) end--;
    *b = s;
    *e = end;
    return true;
}

bool gw_static_accepts_gzip(const char *accept_encoding) {
    const char *p = accept_encoding ? accept_encoding : "", *b, *e;
    while (next_item(&p, &b, &e)) {
        size_t tl = strcspn(b, " \t;,");
        if (b + tl > e) tl = (size_t)(e - b);
        bool named = (tl == 4 && strncasecmp(b, "gzip", 4) == 0) || (tl == 1 && b[0] == '*');
        if (!named) continue;
        /* "q=0", "q=0.0", "q=0.000": refused; any other weight accepts */
        const char *q = b + tl;
        while (q < e && (*q == ' ' || *q == ';' || *q == '\t')) q++;
        if (e - q >= 3 && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
            const char *v = q + 2;
            bool zero = v < e && *v == '0';
            for (const char *c = v + 1; zero && c < e; c++) zero = *c == '0' || *c == '.';
            if (zero) continue;
        }
        return true;
    }
    return false;
}

bool gw_static_etag_matches(const char *if_none_match, const char *etag) {
    const char *p = if_none_match ? if_none_match : "", *b, *e;
    size_t el = strlen(etag);
    while (next_item(&p, &b, &e)) {
        if (e - b == 1 && *b == '*') return true;
        if (e - b > 2 && strncmp(b, "W/", 2) == 0) b += 2; /* weak comparison */
        if ((size_t)(e - b) == el && memcmp(b, etag, el) == 0) return true;
    }
    return false;
}

bool gw_static_lookup(const gw_static *s, const char *path, const char *accept_encoding,
                      const char *if_none_match, gw_static_resp *out) {
    memset(out, 0, sizeof *out);
    if (s == NULL || path == NULL) return false;
    if (strcmp(path, "/") == 0) path = "/index.html";
    for (size_t i = 0; i < s->n; i++) {
        const sfile *f = &s->files[i];
        if (strcmp(f->path, path) != 0) continue;
        out->ctype = f->ctype;
        out->gzip = f->gz && gw_static_accepts_gzip(accept_encoding);
        out->inflate = !out->gzip && f->data == NULL;
        snprintf(out->etag, sizeof out->etag, "%s", out->gzip ? f->gz_etag : f->etag);
        out->body = out->gzip || out->inflate ? f->gz : f->data;
        out->len = out->gzip ? f->gz_len : f->len;
        out->body_len = out->gzip || out->inflate ? f->gz_len : f->len;
        out->status = if_none_match && gw_static_etag_matches(if_none_match, out->etag) ? 304 : 200;
        return true;
    }
    return false;
}

static bool write_inflated(const gw_static_resp *r, gw_static_writer write, void *arg) {
    z_stream z;
    memset(&z, 0, sizeof z);
    unsigned char *buf = malloc(PIECE);
    if (buf == NULL) return false;
    if (inflateInit2(&z, 15 + 16) != Z_OK) {
        free(buf);
        return false;
    }
    z.next_in = (unsigned char *)r->body;
    z.avail_in = (uInt)r->body_len;
    bool ok = true;
    int rc = Z_OK;
    while (ok && rc != Z_STREAM_END) {
        z.next_out = buf;
        z.avail_out = PIECE;
        rc = inflate(&z, Z_NO_FLUSH);
        size_t k = PIECE - z.avail_out;
        /* Z_BUF_ERROR: no progress, the copy ended early */
        ok = (rc == Z_OK || rc == Z_STREAM_END) && z.total_out <= r->len;
        if (ok && k > 0) ok = write(arg, buf, k);
    }
    ok = ok && z.total_out == r->len;
    inflateEnd(&z);
    free(buf);
    return ok;
}

bool gw_static_write(const gw_static_resp *r, gw_static_writer write, void *arg) {
    if (r->inflate) return write_inflated(r, write, arg);
    const unsigned char *p = r->body;
    for (size_t left = r->len; left > 0;) {
        size_t k = left < PIECE ? left : PIECE;
        if (!write(arg, p, k)) return false;
        p += k;
        left -= k;
    }
    return true;
}
