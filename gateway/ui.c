/* The web UI: its static files at "/" (static.c holds them) and GET /v1/me,
 * by which the UI learns what the signed-in key may do.
 *
 * The files come from GATEWAY_WEB_DIR, or by default from the first of
 * <dir of tb-gateway>/../share/tradebus/web (an installed layout: the image
 * has /usr/local/bin and /usr/local/share/tradebus/web) and
 * <dir of tb-gateway>/../../web (the build tree: build/gateway/tb-gateway of
 * a clone). Without a directory the gateway serves the API alone. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway.h"
#include "static.h"

static bool is_dir(const char *p) {
    return access(p, R_OK | X_OK) == 0;
}

/* The default directory next to the executable; false when there is none. */
static bool default_dir(char *out, size_t cap) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return false;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL) return false;
    *slash = '\0';
    static const char *const rel[] = {"/../share/tradebus/web", "/../../web"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char p[PATH_MAX + 64];
        if ((size_t)snprintf(p, sizeof p, "%s%s/index.html", exe, rel[i]) >= sizeof p) continue;
        if (access(p, R_OK) != 0) continue;
        if ((size_t)snprintf(out, cap, "%s%s", exe, rel[i]) >= cap) return false;
        return is_dir(out);
    }
    return false;
}

tb_status gw_ui_load(gw *g, tb_error *err) {
    const char *set = bus_env("GATEWAY_WEB_DIR", "");
    char dir[PATH_MAX];
    if (strcmp(set, "none") == 0) {
        bus_log(BUS_LOG_INFO, "GATEWAY_WEB_DIR=none: no web UI");
        return TB_OK;
    }
    if (set[0]) {
        if (strlen(set) >= sizeof dir)
            return tb_error_set(err, TB_INVALID, "GATEWAY_WEB_DIR", "GATEWAY_WEB_DIR: too long");
        snprintf(dir, sizeof dir, "%s", set);
    } else if (!default_dir(dir, sizeof dir)) {
        bus_log(BUS_LOG_WARN,
                "no web UI found next to tb-gateway; set GATEWAY_WEB_DIR to serve it");
        return TB_OK;
    }
    g->ui = gw_static_load(dir, err);
    if (g->ui == NULL) return err->status;
    if (gw_static_count(g->ui) == 0 ||
        !gw_static_lookup(g->ui, "/", NULL, NULL, &(gw_static_resp){0}))
        bus_log(BUS_LOG_WARN, "GATEWAY_WEB_DIR %s has no index.html", dir);
    bus_log(BUS_LOG_INFO, "web UI: %zu files from %s", gw_static_count(g->ui), dir);
    return TB_OK;
}

void gw_ui_free(gw *g) {
    gw_static_free(g->ui);
    g->ui = NULL;
}

static bool write_conn(void *arg, const void *data, size_t len) {
    gw_req *r = arg;
    return mg_write(r->conn, data, len) == (int)len;
}

bool gw_ui_serve(gw_req *r, const char *path) {
    gw_static_resp s;
    if (!gw_static_lookup(r->g->ui, path, gw_header(r, "Accept-Encoding"),
                          gw_header(r, "If-None-Match"), &s))
        return false;
    const char *m = r->ri->request_method;
    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
        static const char *const allow[] = {"Allow", "GET, HEAD", NULL};
        gw_send(r, 405, "text/plain; charset=utf-8", "method not allowed\n", 19, allow);
        return true;
    }
    /* no-cache: the browser keeps the file and revalidates it with its
     * ETag on every load (a 304 costs no body), so a new gateway's files
     * are used at once although their names do not change. */
    const char *const hdr[] = {"ETag",
                               s.etag,
                               "Cache-Control",
                               "no-cache",
                               "Vary",
                               "Accept-Encoding",
                               "Content-Security-Policy",
                               gw_static_csp,
                               "X-Content-Type-Options",
                               "nosniff",
                               "X-Frame-Options",
                               "DENY",
                               "Referrer-Policy",
                               "no-referrer",
                               s.gzip && s.status == 200 ? "Content-Encoding" : NULL,
                               "gzip",
                               NULL};
    if (s.status == 304)
        gw_send(r, 304, NULL, NULL, 0, hdr);
    else if (!s.inflate)
        gw_send(r, 200, s.ctype, s.body, s.len, hdr);
    else if (gw_send_head(r, 200, s.ctype, s.len, hdr) && !gw_static_write(&s, write_conn, r)) {
        /* The client went away, or (never seen) the gzip copy did not
         * inflate: it was promised s.len bytes, so closing the connection
         * tells it the body is short. */
        bus_log(BUS_LOG_DEBUG, "%s: the body was not written whole", path);
        mg_disable_keep_alive(r->conn);
    }
    return true;
}

void gw_handle_me(gw_req *r) {
    const gw_caller *c = &r->caller;
    gw_send_json(r, 200,
                 json_pack("{s:s, s:s, s:s}", "id", c->key_id, "role", gw_role_name(c->role),
                           "accounts", c->accounts));
}
