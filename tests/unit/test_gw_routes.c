/* The gateway's route table: it serves every route of DESIGN §6 (listed
 * here independently of the table), each entry is consistent with the
 * catalogue, path matching picks the right route and parameter, and the
 * route guards enforce the kill-switch and order rules. */
#include <stdlib.h>
#include <string.h>

#include "routes.h"
#include "tb_test.h"

/* DESIGN §6 and §5, plus the routes marked below. */
static const char *const design_routes[][2] = {
    {"POST", "/v1/orders"},
    {"GET", "/v1/orders"},
    {"GET", "/v1/orders/{id}"},
    {"DELETE", "/v1/orders/{id}"},
    {"POST", "/v1/order-groups"}, /* DESIGN §6: brackets and OCO groups */
    {"GET", "/v1/fills"},
    {"GET", "/v1/positions"},
    {"GET", "/v1/accounts"},
    {"PATCH", "/v1/orders/{id}"},
    {"GET", "/v1/accounts/{id}"},
    {"POST", "/v1/accounts"},
    {"GET", "/v1/risk/limits/{account}"},
    {"PUT", "/v1/risk/limits/{account}"},
    {"POST", "/v1/risk/kill-switch"},
    {"GET", "/v1/strategies"},
    {"POST", "/v1/strategies"},
    {"GET", "/v1/strategies/{id}"},
    {"PUT", "/v1/strategies/{id}"},
    {"DELETE", "/v1/strategies/{id}"},
    {"GET", "/v1/signals"},
    {"GET", "/v1/market/symbols"},
    {"GET", "/v1/market/quotes/{symbol}"},
    {"GET", "/v1/bars"},
    {"POST", "/v1/bars/import"},
    {"GET", "/v1/analytics/{account}"},
    {"GET", "/v1/analytics/{account}/equity"},
    {"GET", "/v1/analytics/{account}/trades"},
    {"GET", "/v1/webhooks"},
    {"POST", "/v1/webhooks"},
    {"DELETE", "/v1/webhooks/{id}"},
    {"GET", "/v1/alerts"},
    {"GET", "/v1/alerts/rules"},
    {"POST", "/v1/alerts/rules"},
    {"GET", "/v1/stream"},
    {"POST", "/v1/backtests"},
    {"GET", "/v1/backtests"},
    {"GET", "/v1/backtests/{id}"},
    {"DELETE", "/v1/backtests/{id}"},
    {"GET", "/v1/backtests/{id}/report"},
    {"GET", "/v1/backtests/{id}/report.svg"},
    /* beyond DESIGN §6: the rest of the services' api.* endpoints */
    {"DELETE", "/v1/alerts/rules/{id}"},
    {"GET", "/v1/webhooks/{id}/deliveries"},
    {"GET", "/v1/risk/accounts/{account}"},
    {"GET", "/v1/risk/accounts/{account}/positions/{symbol}"},
    {"POST", "/v1/api-keys"},
    {"DELETE", "/v1/api-keys/{id}"},
    {"GET", "/v1/me"}, /* the web UI learns the key's role from it */
    {"GET", "/openapi.json"},
    {"GET", "/docs"},
    {"GET", "/health"},
    {"GET", "/health/{service}"},
    {"GET", "/health/all"},
    {"GET", "/services"},
    {"GET", "/metrics"},
};

static const gw_route *find_route(const char *method, const char *path) {
    size_t n;
    const gw_route *rs = gw_routes(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(rs[i].method, method) == 0 && strcmp(rs[i].path, path) == 0) return &rs[i];
    return NULL;
}

START_TEST(serves_every_design_route) {
    size_t n;
    gw_routes(&n);
    size_t want = sizeof design_routes / sizeof design_routes[0];
    for (size_t i = 0; i < want; i++)
        ck_assert_msg(find_route(design_routes[i][0], design_routes[i][1]) != NULL,
                      "%s %s not served", design_routes[i][0], design_routes[i][1]);
    ck_assert_uint_eq(n, want); /* and nothing undocumented besides */
}
END_TEST

static bool field_in(const tb_event_desc *d, const char *name, size_t len) {
    return d && tb_field_find(d, name, len) != NULL;
}

START_TEST(entries_are_consistent) {
    size_t n;
    const gw_route *rs = gw_routes(&n);
    for (size_t i = 0; i < n; i++) {
        const gw_route *r = &rs[i];
        const char *m = r->method;
        ck_assert_msg(!strcmp(m, "GET") || !strcmp(m, "POST") || !strcmp(m, "PUT") ||
                          !strcmp(m, "PATCH") || !strcmp(m, "DELETE"),
                      "%s: method %s", r->path, m);
        ck_assert_msg(r->summary && r->summary[0], "%s %s: no summary", m, r->path);
        ck_assert_msg(r->success == 200 || r->success == 201 || r->success == 202 ||
                          r->success == 204 || (r->success == 101 && r->action == GW_STREAM),
                      "%s %s", m, r->path);
        for (size_t k = 0; k < i; k++)
            ck_assert_msg(strcmp(rs[k].method, m) || strcmp(rs[k].path, r->path), "duplicate %s %s",
                          m, r->path);
        /* A second parameter goes to path_field2; a third has nowhere to go. */
        const char *b = strchr(r->path, '{'), *b2 = b ? strchr(b + 1, '{') : NULL;
        ck_assert_msg(b2 == NULL || strchr(b2 + 1, '{') == NULL, "%s: more than two parameters",
                      r->path);
        ck_assert_msg((b2 != NULL) == (r->path_field2 != NULL), "%s: path_field2", r->path);
        if (b2)
            ck_assert_msg(field_in(r->request, r->path_field2, strlen(r->path_field2)),
                          "%s: second path field", r->path);
        if (r->action == GW_BUS) {
            ck_assert_msg(r->subject && strncmp(r->subject, "api.", 4) == 0, "%s %s: subject", m,
                          r->path);
            ck_assert_msg((r->reply == NULL) == (r->success == 204), "%s %s: reply vs status", m,
                          r->path);
            if (b)
                ck_assert_msg(field_in(r->request, r->path_field, strlen(r->path_field)),
                              "%s %s: path field", m, r->path);
            if (r->input == GW_IN_QUERY) ck_assert_ptr_eq(r->request, &tb_query_desc);
            if (strcmp(m, "GET") == 0) ck_assert_int_eq(r->input, GW_IN_QUERY);
            ck_assert_msg(strncmp(r->path, "/v1/", 4) == 0, "%s: bus routes live under /v1",
                          r->path);
            ck_assert_msg(r->role != GW_ROLE_PUBLIC, "%s %s: public bus route", m, r->path);
        }
        if (r->path_alias) ck_assert(field_in(r->request, r->path_alias, strlen(r->path_alias)));
        if (r->input == GW_IN_JSON) ck_assert_ptr_nonnull(r->request);
        if (strcmp(m, "GET") != 0)
            ck_assert_msg(r->role >= GW_ROLE_TRADER, "%s %s: viewers write", m, r->path);
        if (r->flags & GW_F_LIST) ck_assert_ptr_nonnull(r->reply);
        for (const char *p = r->params; p && *p;) {
            size_t len = strcspn(p, ",");
            ck_assert_msg(field_in(r->request, p, len), "%s %s: param %.*s", m, r->path, (int)len,
                          p);
            /* the caller's accounts are the gateway's to set */
            ck_assert_msg(strncmp(p, "accounts", len) != 0 || len != 8, "%s: accounts as param",
                          r->path);
            p += len + (p[len] == ',');
        }
    }
    /* admin-only operations (DESIGN §6, issue: keys, limits, accounts) */
    ck_assert_int_eq(find_route("POST", "/v1/api-keys")->role, GW_ROLE_ADMIN);
    ck_assert_int_eq(find_route("DELETE", "/v1/api-keys/{id}")->role, GW_ROLE_ADMIN);
    ck_assert_int_eq(find_route("PUT", "/v1/risk/limits/{account}")->role, GW_ROLE_ADMIN);
    ck_assert_int_eq(find_route("POST", "/v1/accounts")->role, GW_ROLE_ADMIN);
    ck_assert_int_eq(find_route("GET", "/health")->role, GW_ROLE_PUBLIC);
    ck_assert_int_eq(find_route("GET", "/metrics")->role, GW_ROLE_PUBLIC);
    ck_assert_int_eq(find_route("GET", "/services")->role, GW_ROLE_VIEWER);
    ck_assert_int_eq(find_route("GET", "/v1/stream")->role, GW_ROLE_VIEWER);
    ck_assert_int_eq(find_route("GET", "/v1/stream")->action, GW_STREAM);
}
END_TEST

START_TEST(matching) {
    gw_match m;
    ck_assert_int_eq(gw_route_match("GET", "/v1/orders/o-1", &m), GW_MATCH_OK);
    ck_assert_str_eq(m.route->subject, "api.orders.get");
    ck_assert(m.has_param);
    ck_assert_str_eq(m.param, "o-1");
    ck_assert_int_eq(gw_route_match("DELETE", "/v1/orders/o-1", &m), GW_MATCH_OK);
    ck_assert_str_eq(m.route->subject, "api.orders.cancel");
    ck_assert_int_eq(gw_route_match("GET", "/v1/orders", &m), GW_MATCH_OK);
    ck_assert(!m.has_param);
    ck_assert_int_eq(gw_route_match("GET", "/health/all", &m), GW_MATCH_OK);
    ck_assert_int_eq(m.route->action, GW_HEALTH_ALL);
    ck_assert_int_eq(gw_route_match("GET", "/health/market-data", &m), GW_MATCH_OK);
    ck_assert_int_eq(m.route->action, GW_HEALTH_SERVICE);
    ck_assert_str_eq(m.param, "market-data");
    ck_assert_int_eq(gw_route_match("POST", "/health/all", &m), GW_MATCH_NO_METHOD);
    ck_assert_str_eq(m.allow, "GET");
    ck_assert_int_eq(gw_route_match("GET", "/v1/analytics/ACC-1/equity", &m), GW_MATCH_OK);
    ck_assert_str_eq(m.route->subject, "api.analytics.equity");
    ck_assert_str_eq(m.param, "ACC-1");
    ck_assert_int_eq(gw_route_match("GET", "/v1/analytics/ACC-1", &m), GW_MATCH_OK);
    ck_assert_str_eq(m.route->subject, "api.analytics.get");
    ck_assert_int_eq(gw_route_match("PATCH", "/v1/orders", &m), GW_MATCH_NO_METHOD);
    ck_assert_str_eq(m.allow, "POST, GET");
    ck_assert_int_eq(gw_route_match("PATCH", "/v1/orders/o-1", &m), GW_MATCH_OK);
    ck_assert_str_eq(m.route->subject, "api.orders.amend");
    ck_assert_str_eq(m.param, "o-1");
    ck_assert_int_eq(gw_route_match("PUT", "/v1/orders/o-1", &m), GW_MATCH_NO_METHOD);
    ck_assert_str_eq(m.allow, "GET, DELETE, PATCH");
    ck_assert_int_eq(gw_route_match("GET", "/v1/orders/", &m), GW_MATCH_NO_ROUTE);
    ck_assert_int_eq(gw_route_match("GET", "/v1/orders/a/b", &m), GW_MATCH_NO_ROUTE);
    ck_assert_int_eq(gw_route_match("GET", "/v1/order", &m), GW_MATCH_NO_ROUTE);
    ck_assert_int_eq(gw_route_match("GET", "/", &m), GW_MATCH_NO_ROUTE);
    ck_assert_int_eq(gw_route_match("GET", "/v1/alerts/rules", &m), GW_MATCH_OK);
    ck_assert_str_eq(m.route->subject, "api.alerts.rules.list");
    /* Two parameters: the account and the symbol. */
    ck_assert_int_eq(gw_route_match("GET", "/v1/risk/accounts/ACC-1/positions/DAX", &m),
                     GW_MATCH_OK);
    ck_assert_str_eq(m.route->subject, "api.risk.positions.get");
    ck_assert(m.has_param && m.has_param2);
    ck_assert_str_eq(m.param, "ACC-1");
    ck_assert_str_eq(m.param2, "DAX");
    ck_assert_int_eq(gw_route_match("GET", "/v1/risk/accounts/ACC-1", &m), GW_MATCH_OK);
    ck_assert_str_eq(m.route->subject, "api.risk.accounts.get");
    ck_assert(!m.has_param2);
    ck_assert_int_eq(gw_route_match("GET", "/v1/risk/accounts/ACC-1/positions/", &m),
                     GW_MATCH_NO_ROUTE);
    char name[32];
    ck_assert(gw_route_param(find_route("GET", "/v1/market/quotes/{symbol}"), name, sizeof name));
    ck_assert_str_eq(name, "symbol");
    ck_assert(!gw_route_param(find_route("GET", "/v1/bars"), name, sizeof name));
}
END_TEST

START_TEST(guards) {
    const gw_route *ks = find_route("POST", "/v1/risk/kill-switch");
    const gw_route *ord = find_route("POST", "/v1/orders");
    ck_assert_ptr_nonnull(ks->guard);
    ck_assert_ptr_nonnull(ord->guard);
    gw_caller trader = {.role = GW_ROLE_TRADER, .key_id = "k1", .accounts = "A"};
    gw_caller admin = {.role = GW_ROLE_ADMIN, .key_id = "k2"};
    tb_error err;
    tb_kill_switch k = {.engaged = true};
    ck_assert_int_eq(ks->guard(&trader, &k, &err), TB_FORBIDDEN); /* global */
    ck_assert_int_eq(ks->guard(&admin, &k, &err), TB_OK);
    strcpy(k.account, "A");
    ck_assert_int_eq(ks->guard(&trader, &k, &err), TB_OK);
    k.engaged = false;
    ck_assert_int_eq(ks->guard(&trader, &k, &err), TB_FORBIDDEN); /* release */
    ck_assert_str_eq(err.field, "engaged");
    ck_assert_int_eq(ks->guard(&admin, &k, &err), TB_OK);
    tb_order_request o = {.qty = 0};
    ck_assert_int_eq(ord->guard(&trader, &o, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "qty");
    o.qty = 1;
    ck_assert_int_eq(ord->guard(&trader, &o, &err), TB_OK);
}
END_TEST

START_TEST(roles) {
    gw_role r;
    ck_assert(gw_role_parse("trader", &r) && r == GW_ROLE_TRADER);
    ck_assert(gw_role_parse("admin", &r) && r == GW_ROLE_ADMIN);
    ck_assert(gw_role_parse("viewer", &r) && r == GW_ROLE_VIEWER);
    ck_assert(!gw_role_parse("public", &r));
    ck_assert(!gw_role_parse("Admin", &r));
    ck_assert(!gw_role_parse(NULL, &r));
    ck_assert_str_eq(gw_role_name(GW_ROLE_ADMIN), "admin");
    ck_assert(GW_ROLE_VIEWER < GW_ROLE_TRADER && GW_ROLE_TRADER < GW_ROLE_ADMIN);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gw_routes");
    TCase *tc = tcase_create("routes");
    tcase_add_test(tc, serves_every_design_route);
    tcase_add_test(tc, entries_are_consistent);
    tcase_add_test(tc, matching);
    tcase_add_test(tc, guards);
    tcase_add_test(tc, roles);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
