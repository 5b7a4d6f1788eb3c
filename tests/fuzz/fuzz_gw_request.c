/* The gateway's request parsing, through its exported pure functions in the
 * order the gateway applies them (gateway/http.c, gateway/proxy.c): route
 * matching of the method and path, the query string, the JSON body, the
 * path parameter, conversion to the request event, the non-negative check,
 * the route's guard and scoping to the caller's accounts; also the
 * X-Request-Id check and URL decoding. Input: "METHOD PATH[?QUERY]\nBODY".
 * Each request is tried as a scoped trader and as an unscoped admin. */
#include <string.h>

#include "fuzz.h"
#include "request.h"
#include "routes.h"

static void build(const gw_match *m, const char *qs, const char *body, size_t blen,
                  const gw_caller *caller) {
    const gw_route *rt = m->route;
    if (rt->input != GW_IN_QUERY && rt->input != GW_IN_JSON) return;
    tb_error err = {0};
    json_t *j = NULL;
    char format[32];
    if (rt->input == GW_IN_QUERY) {
        if (gw_query_parse(rt, qs, &j, format, sizeof format, &err) != TB_OK) return;
        FUZZ_CHECK(j != NULL, "query parsed to nothing");
    } else {
        j = json_loadb(body, blen, JSON_REJECT_DUPLICATES, NULL);
        if (j == NULL) return;
    }
    gw_drop_server_set(rt, j);
    tb_status s = m->has_param ? gw_inject_path(rt, j, m->param, &err) : TB_OK;
    void *ev = calloc(1, rt->request->struct_size);
    FUZZ_CHECK(ev != NULL, "out of memory");
    if (s == TB_OK) s = tb_from_json(rt->request, j, ev, &err);
    json_decref(j);
    if (s == TB_OK && rt->input == GW_IN_JSON) s = gw_check_nonnegative(rt->request, ev, &err);
    if (s == TB_OK && rt->guard) s = rt->guard(caller, ev, &err);
    if (s == TB_OK) s = gw_scope(rt, caller, ev, &err);
    free(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data, size);
    text[size] = '\0';
    size_t line = strcspn(text, "\n");
    const char *body = line < size ? text + line + 1 : "";
    size_t blen = line < size ? size - line - 1 : 0;
    text[line] = '\0';
    char *sp = strchr(text, ' ');
    const char *method = text, *target = "";
    if (sp) {
        *sp = '\0';
        target = sp + 1;
    }
    (void)gw_request_id_valid(target);
    char *path = strdup(target);
    FUZZ_CHECK(path != NULL, "out of memory");
    char *q = strchr(path, '?');
    const char *qs = NULL;
    if (q) {
        *q = '\0';
        qs = q + 1;
    }
    char decoded[2048];
    if (gw_url_decode(path, strlen(path), decoded, sizeof decoded)) {
        FUZZ_CHECK(strlen(decoded) < sizeof decoded, "decoded path overflows");
        gw_match m;
        if (gw_route_match(method, decoded, &m) == GW_MATCH_OK) {
            FUZZ_CHECK(m.route != NULL, "a match without a route");
            char name[64];
            (void)gw_route_param(m.route, name, sizeof name);
            gw_caller trader = {.role = GW_ROLE_TRADER, .key_id = "k1", .accounts = "A1,A2"};
            gw_caller admin = {.role = GW_ROLE_ADMIN, .key_id = "k2", .accounts = ""};
            build(&m, qs, body, blen, &trader);
            build(&m, qs, body, blen, &admin);
        }
    }
    free(path);
    free(text);
    return 0;
}
