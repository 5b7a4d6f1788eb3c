/* The web UI's static files (gateway/static.c): what is loaded from a
 * directory and what is not (hidden files, unknown types, symlinks, deep
 * folders), types, ETags and 304s, gzip by Accept-Encoding (decompressed
 * back to the file), the file's bytes inflated from the gzip copy, the only
 * one kept, for clients without gzip, and that no request path outside the loaded set
 * (traversal, encoded or not) finds anything. Also loads the repository's
 * own web/ folder: index.html, app.js and the vendored chart library. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "static.h"
#include "tb_test.h"

static char dir[256];

static void write_file(const char *rel, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* A directory with the files the tests look for, made fresh per test. */
static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/tb-static-%d-XXXXXX", (int)getpid());
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char p[512];
    snprintf(p, sizeof p, "%s/vendor", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/a", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/a/b", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/a/b/c", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    char big[4096];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    write_file("index.html", "<!doctype html><title>t</title>");
    write_file("app.js", big);
    write_file("app.css", "body{}");
    write_file("vendor/lib.min.js", "var lib=1;");
    write_file("vendor/LICENSE.txt", "MIT");
    write_file("a/b/deep.js", "deep");
    write_file("a/b/c/too-deep.js", "too deep");
    write_file(".secret.js", "hidden");
    write_file("notes.md", "unknown type");
    write_file("run.sh", "#!/bin/sh");
    char target[512];
    snprintf(target, sizeof target, "%s/link.js", dir);
    ck_assert_int_eq(symlink("/etc/passwd", target), 0);
}

static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

static gw_static *load(void) {
    tb_error err = {0};
    gw_static *s = gw_static_load(dir, &err);
    ck_assert_msg(s != NULL, "%s", err.message);
    return s;
}

static bool found(const gw_static *s, const char *path) {
    gw_static_resp r;
    return gw_static_lookup(s, path, NULL, NULL, &r);
}

START_TEST(loads_only_servable_files) {
    gw_static *s = load();
    /* index, app.js, app.css, vendor/lib.min.js, vendor/LICENSE.txt, a/b/deep.js */
    ck_assert_uint_eq(gw_static_count(s), 6);
    ck_assert(found(s, "/"));
    ck_assert(found(s, "/index.html"));
    ck_assert(found(s, "/vendor/lib.min.js"));
    ck_assert(found(s, "/a/b/deep.js"));
    ck_assert(!found(s, "/a/b/c/too-deep.js"));
    ck_assert(!found(s, "/.secret.js"));
    ck_assert(!found(s, "/notes.md"));
    ck_assert(!found(s, "/run.sh"));
    ck_assert(!found(s, "/link.js")); /* a symlink is never followed */
    gw_static_free(s);
}
END_TEST

START_TEST(no_traversal) {
    gw_static *s = load();
    static const char *const bad[] = {"/../index.html",
                                      "/vendor/../index.html",
                                      "//index.html",
                                      "/./index.html",
                                      "/index.html/",
                                      "/INDEX.HTML",
                                      "/vendor",
                                      "/vendor/",
                                      "/%2e%2e/etc/passwd",
                                      "/../../../../etc/passwd",
                                      "index.html",
                                      "",

                                      "/vendor/lib.min.js%00",
                                      "/a/b/../../app.js",
                                      "/app.js?x=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!found(s, bad[i]), "%s was served", bad[i]);
    ck_assert(!gw_static_lookup(s, NULL, NULL, NULL, &(gw_static_resp){0}));
    ck_assert(!gw_static_lookup(NULL, "/", NULL, NULL, &(gw_static_resp){0}));
    gw_static_free(s);
    ck_assert(!gw_static_name_ok(".."));
    ck_assert(!gw_static_name_ok("a/b"));
    ck_assert(!gw_static_name_ok("a b"));
    ck_assert(!gw_static_name_ok(""));
    ck_assert(gw_static_name_ok("uPlot.min.js"));
}
END_TEST

START_TEST(types) {
    ck_assert_str_eq(gw_static_type("index.html"), "text/html; charset=utf-8");
    ck_assert_str_eq(gw_static_type("app.js"), "text/javascript; charset=utf-8");
    ck_assert_str_eq(gw_static_type("app.css"), "text/css; charset=utf-8");
    ck_assert_str_eq(gw_static_type("LICENSE.txt"), "text/plain; charset=utf-8");
    ck_assert_str_eq(gw_static_type("logo.svg"), "image/svg+xml");
    ck_assert_str_eq(gw_static_type("icon.png"), "image/png");
    ck_assert_ptr_null(gw_static_type("a.md"));
    ck_assert_ptr_null(gw_static_type("Makefile"));
    gw_static *s = load();
    gw_static_resp r;
    ck_assert(gw_static_lookup(s, "/", NULL, NULL, &r));
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.ctype, "text/html; charset=utf-8");
    ck_assert_uint_eq(r.len, strlen("<!doctype html><title>t</title>"));
    ck_assert(memcmp(r.body, "<!doctype", 9) == 0);
    ck_assert(!r.gzip); /* small files are not compressed */
    ck_assert(gw_static_lookup(s, "/app.css", NULL, NULL, &r));
    ck_assert_str_eq(r.ctype, "text/css; charset=utf-8");
    gw_static_free(s);
}
END_TEST

START_TEST(etags_and_304) {
    gw_static *s = load();
    gw_static_resp r, g;
    ck_assert(gw_static_lookup(s, "/app.js", NULL, NULL, &r));
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(strlen(r.etag), 34); /* "32 hex" */
    ck_assert_int_eq(r.etag[0], '"');
    ck_assert(gw_static_lookup(s, "/app.js", "gzip", NULL, &g));
    ck_assert(g.gzip);
    ck_assert_str_ne(r.etag, g.etag); /* each representation its own tag */
    char inm[160];
    ck_assert(gw_static_lookup(s, "/app.js", NULL, r.etag, &r));
    ck_assert_int_eq(r.status, 304);
    snprintf(inm, sizeof inm, "\"other\", W/%s", r.etag);
    ck_assert(gw_static_lookup(s, "/app.js", NULL, inm, &r));
    ck_assert_int_eq(r.status, 304);
    ck_assert(gw_static_lookup(s, "/app.js", NULL, "*", &r));
    ck_assert_int_eq(r.status, 304);
    ck_assert(gw_static_lookup(s, "/app.js", NULL, "\"nope\"", &r));
    ck_assert_int_eq(r.status, 200);
    /* the plain tag does not validate the gzip copy */
    gw_static_resp p;
    ck_assert(gw_static_lookup(s, "/app.js", NULL, NULL, &p));
    ck_assert(gw_static_lookup(s, "/app.js", "gzip", p.etag, &g));
    ck_assert_int_eq(g.status, 200);
    /* a changed file has another tag */
    char before[48];
    snprintf(before, sizeof before, "%s", p.etag);
    gw_static_free(s);
    write_file("app.js", "changed");
    s = load();
    ck_assert(gw_static_lookup(s, "/app.js", NULL, before, &p));
    ck_assert_int_eq(p.status, 200);
    ck_assert_str_ne(p.etag, before);
    gw_static_free(s);
}
END_TEST

/* Collects what gw_static_write writes. */
typedef struct sink {
    char *data;
    size_t len, pieces, largest, fail_after; /* fail_after: pieces before refusing (0: never) */
} sink;

static bool sink_write(void *arg, const void *data, size_t len) {
    sink *k = arg;
    if (k->fail_after && k->pieces == k->fail_after) return false;
    char *grown = realloc(k->data, k->len + len + 1);
    ck_assert_ptr_nonnull(grown);
    memcpy(grown + k->len, data, len);
    k->data = grown;
    k->len += len;
    k->data[k->len] = '\0';
    k->pieces++;
    if (len > k->largest) k->largest = len;
    return true;
}

/* The body a client that does not accept gzip receives. */
static char *identity_body(const gw_static *s, const char *path, size_t *len) {
    gw_static_resp r;
    ck_assert(gw_static_lookup(s, path, NULL, NULL, &r));
    ck_assert_int_eq(r.status, 200);
    sink k = {0};
    ck_assert(gw_static_write(&r, sink_write, &k));
    ck_assert_uint_eq(k.len, r.len);
    *len = k.len;
    return k.data ? k.data : strdup("");
}

START_TEST(identity_from_gzip_copy) {
    /* 200 KB of text: compressed, and more than one piece to write */
    size_t want_len = 0, cap = 200000;
    char *want = malloc(cap + 64);
    ck_assert_ptr_nonnull(want);
    for (int i = 0; want_len < cap; i++)
        want_len += (size_t)sprintf(want + want_len, "var v%d = %d * %d;\n", i, i, i % 97);
    write_file("big.js", want);
    gw_static *s = load();
    gw_static_resp r, g;
    ck_assert(gw_static_lookup(s, "/big.js", NULL, NULL, &r));
    ck_assert(gw_static_lookup(s, "/big.js", "gzip", NULL, &g));
    /* only the gzip copy is kept: the file's bytes are inflated from it */
    ck_assert(g.gzip && !g.inflate);
    ck_assert(!r.gzip && r.inflate);
    ck_assert_uint_eq(r.len, want_len);
    ck_assert_ptr_eq(r.body, g.body);
    ck_assert_uint_eq(r.body_len, g.len);
    ck_assert_uint_lt(r.body_len, want_len / 2);
    ck_assert_str_ne(r.etag, g.etag);
    sink k = {0};
    ck_assert(gw_static_write(&r, sink_write, &k));
    ck_assert_uint_eq(k.len, want_len);
    ck_assert(memcmp(k.data, want, want_len) == 0);
    ck_assert_uint_gt(k.pieces, 1);
    ck_assert_uint_le(k.largest, 16384);
    free(k.data);
    /* the gzip representation is written as it is kept */
    k = (sink){0};
    ck_assert(gw_static_write(&g, sink_write, &k));
    ck_assert_uint_eq(k.len, g.len);
    ck_assert(memcmp(k.data, g.body, g.len) == 0);
    free(k.data);
    /* a writer that refuses (the client went away) stops the write */
    k = (sink){.fail_after = 1};
    ck_assert(!gw_static_write(&r, sink_write, &k));
    ck_assert_uint_eq(k.pieces, 1);
    free(k.data);
    /* a gzip copy cut short does not pass for the file */
    gw_static_resp cut = r;
    cut.body_len = r.body_len / 2;
    k = (sink){0};
    ck_assert(!gw_static_write(&cut, sink_write, &k));
    ck_assert_uint_lt(k.len, want_len);
    free(k.data);
    /* files not worth compressing keep their bytes */
    size_t n;
    char *css = identity_body(s, "/app.css", &n);
    ck_assert_str_eq(css, "body{}");
    free(css);
    ck_assert(gw_static_lookup(s, "/app.css", "gzip", NULL, &g));
    ck_assert(!g.gzip && !g.inflate);
    gw_static_free(s);
    free(want);
}
END_TEST

START_TEST(gzip_round_trip) {
    gw_static *s = load();
    gw_static_resp r;
    ck_assert(gw_static_lookup(s, "/app.js", "br, gzip;q=0.8", NULL, &r));
    ck_assert(r.gzip);
    ck_assert_uint_lt(r.len, 4095);
    unsigned char out[8192];
    z_stream z;
    memset(&z, 0, sizeof z);
    ck_assert_int_eq(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (unsigned char *)r.body;
    z.avail_in = (uInt)r.len;
    z.next_out = out;
    z.avail_out = sizeof out;
    ck_assert_int_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
    ck_assert_uint_eq(z.total_out, 4095);
    inflateEnd(&z);
    for (size_t i = 0; i < 4095; i++) ck_assert_int_eq(out[i], 'x');
    gw_static_free(s);
    ck_assert(gw_static_accepts_gzip("gzip"));
    ck_assert(gw_static_accepts_gzip("deflate, GZIP"));
    ck_assert(gw_static_accepts_gzip("*"));
    ck_assert(gw_static_accepts_gzip("gzip;q=0.5"));
    ck_assert(!gw_static_accepts_gzip(NULL));
    ck_assert(!gw_static_accepts_gzip(""));
    ck_assert(!gw_static_accepts_gzip("identity"));
    ck_assert(!gw_static_accepts_gzip("gzip;q=0"));
    ck_assert(!gw_static_accepts_gzip("gzip; q=0.000"));
    ck_assert(!gw_static_accepts_gzip("x-gzip2"));
}
END_TEST

START_TEST(missing_dir_and_limits) {
    tb_error err = {0};
    ck_assert_ptr_null(gw_static_load("/nonexistent/web", &err));
    ck_assert_str_eq(err.field, "GATEWAY_WEB_DIR");
    /* a file over the size limit refuses the whole directory */
    char p[512];
    snprintf(p, sizeof p, "%s/huge.js", dir);
    ck_assert_int_eq(truncate(p, 0), -1); /* does not exist yet */
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(truncate(p, (off_t)GW_STATIC_MAX_FILE + 1), 0);
    err = (tb_error){0};
    ck_assert_ptr_null(gw_static_load(dir, &err));
    ck_assert_int_eq(err.status, TB_TOO_LARGE);
}
END_TEST

/* The repository's UI: what the gateway serves from a clone. */
START_TEST(repository_web_dir) {
    const char *src = getenv("TB_SOURCE_DIR");
    ck_assert_ptr_nonnull(src);
    char web[512];
    snprintf(web, sizeof web, "%s/web", src);
    tb_error err = {0};
    gw_static *s = gw_static_load(web, &err);
    ck_assert_msg(s != NULL, "%s", err.message);
    static const char *const want[] = {"/",
                                       "/app.js",
                                       "/app.css",
                                       "/vendor/uPlot.iife.min.js",
                                       "/vendor/uPlot.min.css",
                                       "/vendor/uPlot.LICENSE.txt"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(found(s, want[i]), "%s is not in web/", want[i]);
    /* index.html loads no inline script or style (the CSP would block it) */
    size_t len;
    char *html = identity_body(s, "/", &len);
    ck_assert_ptr_null(strstr(html, "<script>"));
    ck_assert_ptr_null(strstr(html, "<style"));
    ck_assert_ptr_null(strstr(html, " style="));
    ck_assert_ptr_null(strstr(html, " onclick="));
    ck_assert_ptr_null(strstr(html, "http://"));
    ck_assert_ptr_null(strstr(html, "https://"));
    free(html);
    gw_static_free(s);
    ck_assert_ptr_nonnull(strstr(gw_static_csp, "default-src 'self'"));
    ck_assert_ptr_null(strstr(gw_static_csp, "unsafe-inline"));
    ck_assert_ptr_null(strstr(gw_static_csp, "unsafe-eval"));
}
END_TEST

int main(void) {
    Suite *su = suite_create("gw_static");
    TCase *tc = tcase_create("static");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, loads_only_servable_files);
    tcase_add_test(tc, no_traversal);
    tcase_add_test(tc, types);
    tcase_add_test(tc, etags_and_304);
    tcase_add_test(tc, gzip_round_trip);
    tcase_add_test(tc, identity_from_gzip_copy);
    tcase_add_test(tc, missing_dir_and_limits);
    tcase_add_test(tc, repository_web_dir);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
