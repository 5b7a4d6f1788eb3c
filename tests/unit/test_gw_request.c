/* Building bus requests from HTTP requests: request ids, URL decoding,
 * query strings, path parameters, decimal validation through the catalogue
 * plus the gateway's no-negative rule, and scoping to the caller's
 * accounts. */
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "tb_test.h"

static const gw_route *route(const char *method, const char *path) {
    gw_match m;
    ck_assert_int_eq(gw_route_match(method, path, &m), GW_MATCH_OK);
    return m.route;
}

START_TEST(request_ids) {
    char id63[64], id64[65];
    memset(id63, 'x', 63);
    id63[63] = '\0';
    memset(id64, 'x', 64);
    id64[64] = '\0';
    ck_assert(gw_request_id_valid("abc-123_X.y:z"));
    ck_assert(gw_request_id_valid(id63));
    ck_assert(!gw_request_id_valid(id64));
    ck_assert(!gw_request_id_valid(""));
    ck_assert(!gw_request_id_valid(NULL));
    ck_assert(!gw_request_id_valid("a b"));
    ck_assert(!gw_request_id_valid("a\x7f"));
    ck_assert(!gw_request_id_valid("caf\xc3\xa9"));
}
END_TEST

START_TEST(url_decoding) {
    char out[32];
    ck_assert(gw_url_decode("a%20b+c%2Fd", 11, out, sizeof out));
    ck_assert_str_eq(out, "a b c/d");
    ck_assert(!gw_url_decode("%zz", 3, out, sizeof out));
    ck_assert(!gw_url_decode("%4", 2, out, sizeof out));
    ck_assert(!gw_url_decode("a%00b", 5, out, sizeof out));
    ck_assert(!gw_url_decode("abcdef", 6, out, 4)); /* too long for out */
    ck_assert(gw_url_decode("", 0, out, sizeof out));
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(query_strings) {
    const gw_route *orders = route("GET", "/v1/orders");
    json_t *j = NULL;
    char format[16];
    tb_error err;
    ck_assert_int_eq(
        gw_query_parse(orders, "account=A-1&limit=10&status=open", &j, format, sizeof format, &err),
        TB_OK);
    ck_assert_str_eq(json_string_value(json_object_get(j, "account")), "A-1");
    ck_assert_str_eq(json_string_value(json_object_get(j, "limit")), "10");
    tb_query q;
    ck_assert_int_eq(tb_from_json(&tb_query_desc, j, &q, &err), TB_OK);
    ck_assert_uint_eq(q.limit, 10);
    json_decref(j);
    ck_assert_int_eq(gw_query_parse(orders, NULL, &j, format, sizeof format, &err), TB_OK);
    ck_assert_uint_eq(json_object_size(j), 0);
    json_decref(j);
    ck_assert_int_eq(gw_query_parse(orders, "accounts=B", &j, format, sizeof format, &err),
                     TB_INVALID);
    ck_assert_str_eq(err.field, "accounts");
    ck_assert_int_eq(gw_query_parse(orders, "limit=1&limit=2", &j, format, sizeof format, &err),
                     TB_INVALID);
    ck_assert_int_eq(gw_query_parse(orders, "format=svg", &j, format, sizeof format, &err),
                     TB_INVALID);
    ck_assert_int_eq(gw_query_parse(orders, "account=%zz", &j, format, sizeof format, &err),
                     TB_INVALID);
    /* a bad limit is the catalogue's to reject */
    ck_assert_int_eq(gw_query_parse(orders, "limit=-3", &j, format, sizeof format, &err), TB_OK);
    ck_assert_int_ne(tb_from_json(&tb_query_desc, j, &q, &err), TB_OK);
    ck_assert_str_eq(err.field, "limit");
    json_decref(j);
    const gw_route *equity = route("GET", "/v1/analytics/A/equity");
    ck_assert_int_eq(gw_query_parse(equity, "format=svg&from=2026-01-01T00:00:00Z", &j, format,
                                    sizeof format, &err),
                     TB_OK);
    ck_assert_str_eq(format, "svg");
    ck_assert_ptr_null(json_object_get(j, "format"));
    json_decref(j);
}
END_TEST

START_TEST(path_parameters) {
    const gw_route *get = route("GET", "/v1/strategies/s1");
    json_t *j = json_object();
    tb_error err;
    ck_assert_int_eq(gw_inject_path(get, j, "s1", &err), TB_OK);
    ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "s1");
    ck_assert_str_eq(json_string_value(json_object_get(j, "strategy_id")), "s1");
    json_decref(j);
    const gw_route *put = route("PUT", "/v1/strategies/s1");
    j = json_pack("{s:s}", "strategy_id", "other");
    ck_assert_int_eq(gw_inject_path(put, j, "s1", &err), TB_INVALID);
    ck_assert_str_eq(err.field, "strategy_id");
    json_decref(j);
    j = json_pack("{s:s}", "strategy_id", "s1");
    ck_assert_int_eq(gw_inject_path(put, j, "s1", &err), TB_OK);
    json_decref(j);
    const gw_route *keys = route("POST", "/v1/api-keys");
    j = json_pack("{s:s, s:s, s:s}", "role", "viewer", "key", "tb_stolen", "id", "mine");
    gw_drop_server_set(keys, j);
    ck_assert_ptr_null(json_object_get(j, "key"));
    ck_assert_ptr_null(json_object_get(j, "id"));
    ck_assert_ptr_nonnull(json_object_get(j, "role"));
    json_decref(j);
}
END_TEST

/* Decodes an order with qty given as the JSON text qty_json. */
static tb_status order_with_qty(const char *qty_json, tb_order_request *o, tb_error *err) {
    char text[256];
    snprintf(
        text, sizeof text,
        "{\"account\":\"A\",\"symbol\":\"DAX\",\"side\":\"buy\",\"type\":\"market\",\"qty\":%s}",
        qty_json);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (j == NULL) return tb_error_set(err, TB_DECODE, "", "%s", je.text);
    tb_status s = tb_from_json(&tb_order_request_desc, j, o, err);
    json_decref(j);
    if (s == TB_OK) s = gw_check_nonnegative(&tb_order_request_desc, o, err);
    return s;
}

START_TEST(decimals) {
    tb_order_request o;
    tb_error err;
    ck_assert_int_eq(order_with_qty("\"1.5\"", &o, &err), TB_OK);
    ck_assert_int_eq(o.qty, 150000000);
    ck_assert_int_eq(order_with_qty("0.1", &o, &err), TB_OK); /* exact JSON number */
    ck_assert_int_eq(o.qty, 10000000);
    ck_assert_int_eq(order_with_qty("\"0.00000001\"", &o, &err), TB_OK);
    ck_assert_int_eq(o.qty, 1);
    ck_assert_int_ne(order_with_qty("\"NaN\"", &o, &err), TB_OK);
    ck_assert_str_eq(err.field, "qty");
    ck_assert_int_ne(order_with_qty("\"Infinity\"", &o, &err), TB_OK);
    ck_assert_int_ne(order_with_qty("\"1e5\"", &o, &err), TB_OK);
    ck_assert_int_eq(order_with_qty("\"1.123456789\"", &o, &err), TB_PRECISION);
    ck_assert_int_eq(order_with_qty("0.123456789", &o, &err), TB_PRECISION);
    ck_assert_int_eq(order_with_qty("\"99999999999999999999\"", &o, &err), TB_OVERFLOW);
    ck_assert_int_eq(order_with_qty("\"-1\"", &o, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "qty");
    ck_assert_str_eq(err.message, "qty: must not be negative");
    ck_assert_int_ne(order_with_qty("true", &o, &err), TB_OK);
}
END_TEST

/* A strategy's params as an object or as its JSON text reach the catalogue
 * as the same text; anything else is left for the catalogue to judge. */
START_TEST(params_object_or_text) {
    tb_error err = {0};
    json_t *o = json_loads("{\"kind\":\"sma_cross\",\"params\":{\"fast\":5,\"slow\":20,"
                           "\"bars\":\"1d\"}}",
                           0, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(gw_params_as_text(o, &err), TB_OK);
    ck_assert_str_eq(json_string_value(json_object_get(o, "params")),
                     "{\"fast\":5,\"slow\":20,\"bars\":\"1d\"}");
    json_decref(o);
    o = json_loads("{\"params\":\"{\\\"period\\\":3}\"}", 0, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(gw_params_as_text(o, &err), TB_OK);
    ck_assert_str_eq(json_string_value(json_object_get(o, "params")), "{\"period\":3}");
    json_decref(o);
    o = json_loads("{\"params\":[1,2]}", 0, NULL);
    ck_assert_int_eq(gw_params_as_text(o, &err), TB_OK);
    ck_assert(json_is_array(json_object_get(o, "params"))); /* refused later, by type */
    json_decref(o);
}
END_TEST

START_TEST(scoping) {
    gw_caller trader = {.role = GW_ROLE_TRADER, .key_id = "k", .accounts = "A,B"};
    gw_caller admin = {.role = GW_ROLE_ADMIN, .key_id = "a"};
    gw_caller limited_admin = {.role = GW_ROLE_ADMIN, .key_id = "la", .accounts = "C"};
    gw_caller nobody = {.role = GW_ROLE_VIEWER, .key_id = "n"};
    tb_error err;
    const gw_route *list = route("GET", "/v1/orders");
    tb_query q = {0};
    ck_assert_int_eq(gw_scope(list, &trader, &q, &err), TB_OK);
    ck_assert_str_eq(q.accounts, "A,B");
    strcpy(q.account, "B");
    ck_assert_int_eq(gw_scope(list, &trader, &q, &err), TB_OK);
    strcpy(q.account, "C");
    ck_assert_int_eq(gw_scope(list, &trader, &q, &err), TB_FORBIDDEN);
    ck_assert_str_eq(err.field, "account");
    memset(&q, 0, sizeof q);
    strcpy(q.account, "C");
    ck_assert_int_eq(gw_scope(list, &admin, &q, &err), TB_OK);
    ck_assert_str_eq(q.accounts, ""); /* every account */
    ck_assert_int_eq(gw_scope(list, &limited_admin, &q, &err), TB_OK);
    ck_assert_str_eq(q.accounts, "C");
    ck_assert_int_eq(gw_scope(list, &nobody, &q, &err), TB_FORBIDDEN);

    const gw_route *submit = route("POST", "/v1/orders");
    tb_order_request o = {.account = "A"};
    ck_assert_int_eq(gw_scope(submit, &trader, &o, &err), TB_OK);
    strcpy(o.account, "AB"); /* not a prefix match */
    ck_assert_int_eq(gw_scope(submit, &trader, &o, &err), TB_FORBIDDEN);
    const gw_route *hook = route("POST", "/v1/webhooks");
    tb_webhook w = {0};
    ck_assert_int_eq(gw_scope(hook, &trader, &w, &err), TB_FORBIDDEN); /* every account's events */
    ck_assert_int_eq(gw_scope(hook, &admin, &w, &err), TB_OK);
    /* unscoped routes pass anyone */
    const gw_route *bars = route("GET", "/v1/bars");
    memset(&q, 0, sizeof q);
    ck_assert_int_eq(gw_scope(bars, &nobody, &q, &err), TB_OK);
    ck_assert_str_eq(q.accounts, "");

    ck_assert(gw_accounts_contains("A,AB,C", "AB"));
    ck_assert(gw_accounts_contains("A,AB,C", "C"));
    ck_assert(!gw_accounts_contains("A,AB,C", "B"));
    ck_assert(!gw_accounts_contains("A,AB,C", ""));
    ck_assert(gw_caller_scoped(&trader));
    ck_assert(!gw_caller_scoped(&admin));
    ck_assert(gw_caller_scoped(&limited_admin));
}
END_TEST

int main(void) {
    Suite *s = suite_create("gw_request");
    TCase *tc = tcase_create("request");
    tcase_add_test(tc, request_ids);
    tcase_add_test(tc, url_decoding);
    tcase_add_test(tc, query_strings);
    tcase_add_test(tc, path_parameters);
    tcase_add_test(tc, decimals);
    tcase_add_test(tc, params_object_or_text);
    tcase_add_test(tc, scoping);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
