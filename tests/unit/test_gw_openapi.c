/* The OpenAPI document and /docs page generated from the route table: every
 * served route is documented and every documented operation is served, all
 * $refs resolve, field schemas follow the catalogue, and the decimal pattern
 * agrees with the fixed-point parser. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "openapi.h"
#include "tb_test.h"

static json_t *doc;

static void setup(void) {
    doc = gw_openapi("9.9.9");
    ck_assert_ptr_nonnull(doc);
}

static void teardown(void) {
    json_decref(doc);
}

static void lower(const char *in, char *out, size_t cap) {
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++) out[i] = (char)(in[i] | 0x20);
    out[i] = '\0';
}

START_TEST(routes_and_operations_agree) {
    size_t n;
    const gw_route *rs = gw_routes(&n);
    json_t *paths = json_object_get(doc, "paths");
    json_t *ids = json_object();
    for (size_t i = 0; i < n; i++) {
        char m[16];
        lower(rs[i].method, m, sizeof m);
        json_t *op = json_object_get(json_object_get(paths, rs[i].path), m);
        ck_assert_msg(op != NULL, "served but undocumented: %s %s", rs[i].method, rs[i].path);
        const char *id = json_string_value(json_object_get(op, "operationId"));
        ck_assert_ptr_nonnull(id);
        ck_assert_msg(json_object_get(ids, id) == NULL, "operationId %s twice", id);
        json_object_set_new(ids, id, json_true());
        char code[8];
        snprintf(code, sizeof code, "%d", rs[i].success);
        ck_assert_ptr_nonnull(json_object_get(json_object_get(op, "responses"), code));
        json_t *sec = json_object_get(op, "security");
        if (rs[i].role == GW_ROLE_PUBLIC)
            ck_assert(json_is_array(sec) && json_array_size(sec) == 0);
        else
            ck_assert_ptr_null(sec); /* the document's default: bearerAuth */
        if (rs[i].role != GW_ROLE_PUBLIC)
            ck_assert_ptr_nonnull(json_object_get(json_object_get(op, "responses"), "401"));
        if (rs[i].input == GW_IN_JSON) {
            /* Bodies are strict: the schema says no other keys. */
            json_t *schema = json_object_get(
                json_object_get(json_object_get(json_object_get(op, "requestBody"), "content"),
                                "application/json"),
                "schema");
            ck_assert_msg(json_is_false(json_object_get(schema, "additionalProperties")),
                          "%s %s: body schema allows unknown keys", rs[i].method, rs[i].path);
        }
    }
    /* the other direction: every documented operation is a route */
    const char *path;
    json_t *item;
    size_t ops = 0;
    json_object_foreach(paths, path, item) {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op) {
            bool served = false;
            for (size_t i = 0; i < n; i++) {
                char m[16];
                lower(rs[i].method, m, sizeof m);
                served |= strcmp(rs[i].path, path) == 0 && strcmp(m, method) == 0;
            }
            ck_assert_msg(served, "documented but not served: %s %s", method, path);
            ops++;
        }
    }
    ck_assert_uint_eq(ops, n);
    json_decref(ids);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "info"), "version")),
                     "9.9.9");
}
END_TEST

/* Every "$ref" anywhere in v must name an existing component. */
static void check_refs(json_t *v) {
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            if (strcmp(k, "$ref") == 0) {
                const char *ref = json_string_value(x);
                ck_assert_ptr_nonnull(ref);
                ck_assert_msg(strncmp(ref, "#/components/", 13) == 0, "ref %s", ref);
                char kind[64], name[128];
                ck_assert(sscanf(ref + 13, "%63[^/]/%127s", kind, name) == 2);
                ck_assert_msg(json_object_get(
                                  json_object_get(json_object_get(doc, "components"), kind), name),
                              "dangling $ref %s", ref);
            } else {
                check_refs(x);
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) check_refs(x);
    }
}

START_TEST(refs_resolve) {
    check_refs(doc);
}
END_TEST

/* POST /v1/accounts answers the account with its risk limits: the 201
 * schema is the account plus a nullable "limits" of type risk_limits. */
START_TEST(account_create_reply_has_limits) {
    json_t *op =
        json_object_get(json_object_get(json_object_get(doc, "paths"), "/v1/accounts"), "post");
    ck_assert_ptr_nonnull(op);
    json_t *schema = json_object_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(op, "responses"), "201"), "content"),
            "application/json"),
        "schema");
    ck_assert_str_eq(json_string_value(json_object_get(schema, "$ref")),
                     "#/components/schemas/account_with_limits");
    json_t *with = json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
                                   "account_with_limits");
    json_t *all = json_object_get(with, "allOf");
    ck_assert_int_eq(json_array_size(all), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(all, 0), "$ref")),
                     "#/components/schemas/account");
    json_t *limits =
        json_object_get(json_object_get(json_array_get(all, 1), "properties"), "limits");
    ck_assert(json_is_true(json_object_get(limits, "nullable")));
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(limits, "allOf"), 0), "$ref")),
                     "#/components/schemas/risk_limits");
}
END_TEST

START_TEST(schemas_follow_the_catalogue) {
    json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    json_t *order = json_object_get(schemas, "order_request");
    ck_assert_ptr_nonnull(order);
    json_t *props = json_object_get(order, "properties");
    for (size_t i = 0; i < tb_order_request_desc.nfields; i++)
        ck_assert_ptr_nonnull(json_object_get(props, tb_order_request_desc.fields[i].name));
    json_t *qty = json_object_get(props, "qty");
    ck_assert_str_eq(json_string_value(json_object_get(qty, "type")), "string");
    json_t *side = json_object_get(
        json_object_get(json_object_get(schemas, "order_record"), "properties"), "side");
    ck_assert_uint_eq(json_array_size(json_object_get(side, "enum")), 2);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(side, "enum"), 1)), "sell");
    json_t *ts = json_object_get(
        json_object_get(json_object_get(schemas, "order_record"), "properties"), "created_at");
    ck_assert_str_eq(json_string_value(json_object_get(ts, "format")), "date-time");
    json_t *req = json_object_get(order, "required");
    size_t i;
    json_t *x;
    size_t nreq = 0;
    json_array_foreach(req, i, x) {
        const tb_field_desc *f =
            tb_field_find(&tb_order_request_desc, json_string_value(x), json_string_length(x));
        ck_assert(f && f->required);
        nreq++;
    }
    ck_assert_uint_eq(nreq, 5); /* account, symbol, side, type, qty */
    json_t *list = json_object_get(schemas, "fill_list");
    ck_assert_ptr_nonnull(list);
    /* POST /v1/api-keys documents what the caller sends: not id, key, created_at */
    json_t *body = json_object_get(
        json_object_get(
            json_object_get(
                json_object_get(
                    json_object_get(json_object_get(json_object_get(doc, "paths"), "/v1/api-keys"),
                                    "post"),
                    "requestBody"),
                "content"),
            "application/json"),
        "schema");
    ck_assert_ptr_nonnull(json_object_get(json_object_get(body, "properties"), "role"));
    ck_assert_ptr_null(json_object_get(json_object_get(body, "properties"), "key"));
    ck_assert_ptr_null(json_object_get(json_object_get(body, "properties"), "id"));
    /* PUT /v1/strategies/{id}: strategy_id comes from the path */
    body = json_object_get(
        json_object_get(
            json_object_get(
                json_object_get(json_object_get(json_object_get(json_object_get(doc, "paths"),
                                                                "/v1/strategies/{id}"),
                                                "put"),
                                "requestBody"),
                "content"),
            "application/json"),
        "schema");
    json_array_foreach(json_object_get(body, "required"), i, x)
        ck_assert_str_ne(json_string_value(x), "strategy_id");
}
END_TEST

START_TEST(fixed_pattern_matches_the_parser) {
    const tb_field_desc *f = tb_field_find(&tb_order_request_desc, "qty", 3);
    json_t *s = gw_openapi_field_schema(f);
    regex_t re;
    ck_assert_int_eq(
        regcomp(&re, json_string_value(json_object_get(s, "pattern")), REG_EXTENDED | REG_NOSUB),
        0);
    const char *samples[] = {"1.5", "-0.00000001", "+3",          ".5", "5.", "12345678.12345678",
                             "1e5", "NaN",         "1.123456789", "",   " 1", "0x10",
                             "--1"};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        tb_fixed v;
        bool parses = tb_fixed_parse_cstr(samples[i], &v) == TB_OK;
        bool matches = regexec(&re, samples[i], 0, NULL, 0) == 0;
        ck_assert_msg(parses == matches, "'%s': parser %d, pattern %d", samples[i], parses,
                      matches);
    }
    regfree(&re);
    json_decref(s);
}
END_TEST

START_TEST(operation_ids_and_docs) {
    gw_route r = {.method = "GET", .path = "/v1/analytics/{account}/equity"};
    char id[64];
    gw_openapi_operation_id(&r, id, sizeof id);
    ck_assert_str_eq(id, "get_v1_analytics_account_equity");
    char *html = gw_docs_html("1.0<script>");
    ck_assert_ptr_nonnull(html);
    ck_assert_ptr_null(strstr(html, "<script>"));
    ck_assert_ptr_nonnull(strstr(html, "1.0&lt;script&gt;"));
    size_t n;
    const gw_route *rs = gw_routes(&n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(strstr(html, rs[i].path) != NULL, "%s missing from /docs", rs[i].path);
    ck_assert_ptr_nonnull(strstr(html, "id=\"type-order_request\""));
    free(html);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gw_openapi");
    TCase *tc = tcase_create("openapi");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, routes_and_operations_agree);
    tcase_add_test(tc, refs_resolve);
    tcase_add_test(tc, account_create_reply_has_limits);
    tcase_add_test(tc, schemas_follow_the_catalogue);
    tcase_add_test(tc, fixed_pattern_matches_the_parser);
    tcase_add_test(tc, operation_ids_and_docs);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
