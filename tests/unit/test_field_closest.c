/* Unit tests for schemas/closest.c: the edit distance behind "did you mean"
 * and the choice of the closest catalogue field, and for the messages
 * tb_from_json builds from them. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"

static size_t dist(const char *a, const char *b, size_t bound) {
    return tb_name_distance(a, strlen(a), b, strlen(b), bound);
}

START_TEST(test_distance) {
    ck_assert_uint_eq(dist("qty", "qty", 2), 0);
    ck_assert_uint_eq(dist("qyt", "qty", 2), 1);  /* neighbours swapped: one edit */
    ck_assert_uint_eq(dist("qt", "qty", 2), 1);   /* a letter missing */
    ck_assert_uint_eq(dist("qtyy", "qty", 2), 1); /* one too many */
    ck_assert_uint_eq(dist("qtx", "qty", 2), 1);  /* one replaced */
    ck_assert_uint_eq(dist("acount", "account", 2), 1);
    ck_assert_uint_eq(dist("acconut", "account", 2), 1);
    ck_assert_uint_eq(dist("acocunt", "account", 2), 1);
    ck_assert_uint_eq(dist("acuont", "account", 2), 2); /* missing and swapped: two edits */
    ck_assert_uint_eq(dist("ca", "abc", 5), 3);         /* OSA, not full Damerau: 3, not 2 */
    ck_assert_uint_eq(dist("", "abc", 5), 3);
    ck_assert_uint_eq(dist("abc", "", 5), 3);
    /* Past the bound the answer is bound + 1, however far. */
    ck_assert_uint_eq(dist("symbol", "account", 2), 3);
    ck_assert_uint_eq(dist("a", "abcdefgh", 2), 3);
    ck_assert_uint_eq(dist("kitten", "sitting", 3), 3);
    ck_assert_uint_eq(dist("kitten", "sitting", 2), 3);
    /* Over-long names are never close (and never read past the table). */
    char longname[200];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_uint_eq(dist(longname, longname, 2), 3);
}
END_TEST

static const char *closest(const tb_event_desc *d, const char *name) {
    const tb_field_desc *f = tb_field_closest(d, name, strlen(name));
    return f ? f->name : NULL;
}

START_TEST(test_closest_field) {
    ck_assert_str_eq(closest(&tb_order_request_desc, "qyt"), "qty");
    ck_assert_str_eq(closest(&tb_order_request_desc, "symbl"), "symbol");
    ck_assert_str_eq(closest(&tb_order_request_desc, "limit_prise"), "limit_price");
    ck_assert_str_eq(closest(&tb_order_request_desc, "clientorderid"), "client_order_id");
    ck_assert_str_eq(closest(&tb_order_request_desc, "reduceonly"), "reduce_only");
    ck_assert_str_eq(closest(&tb_order_request_desc, "tfi"), "tif");
    ck_assert_str_eq(closest(&tb_account_desc, "intial_cash"), "initial_cash");
    ck_assert_str_eq(closest(&tb_risk_limits_desc, "max_order_qyt"), "max_order_qty");
    ck_assert_str_eq(closest(&tb_order_request_desc, "limit_pric"), "limit_price");
    /* Of equally near fields the one of the same length wins: "accountx"
     * and "accounst" are one edit from both account and accounts. */
    ck_assert_str_eq(closest(&tb_query_desc, "accountx"), "accounts");
    ck_assert_str_eq(closest(&tb_query_desc, "accounst"), "accounts");
    ck_assert_str_eq(closest(&tb_query_desc, "acounts"), "accounts");
    /* Same distance and length: the field listed first (id before to). */
    ck_assert_str_eq(closest(&tb_query_desc, "io"), "id");
    /* Short names get one edit, longer ones two; nothing farther. */
    ck_assert_ptr_null(closest(&tb_order_request_desc, "qz"));    /* 2 from qty, short */
    ck_assert_ptr_null(closest(&tb_order_request_desc, "price")); /* far from every field */
    ck_assert_ptr_null(closest(&tb_order_request_desc, "quantity"));
    ck_assert_ptr_null(closest(&tb_order_request_desc, ""));
    ck_assert_ptr_null(tb_field_closest(NULL, "qty", 3));
    ck_assert_str_eq(closest(&tb_order_request_desc, "sde"), "side");
    ck_assert_str_eq(closest(&tb_order_request_desc, "acconts"), "account");
}
END_TEST

static tb_status decode(const tb_event_desc *d, const char *text, tb_error *err) {
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(j != NULL, "bad test JSON %s", text);
    void *ev = calloc(1, d->struct_size);
    tb_status s = tb_from_json(d, j, ev, err);
    json_decref(j);
    free(ev);
    return s;
}

START_TEST(test_from_json_messages) {
    tb_error err;
    const char *order = "{\"account\":\"A\",\"symbol\":\"DAX\",\"side\":\"buy\","
                        "\"type\":\"market\",\"qyt\":\"1\"}";
    ck_assert_int_eq(decode(&tb_order_request_desc, order, &err), TB_UNKNOWN_FIELD);
    ck_assert_str_eq(err.field, "qyt");
    ck_assert_str_eq(err.message, "unknown field \"qyt\" (did you mean \"qty\"?)");
    ck_assert_str_eq(tb_status_code(err.status), "unknown_field");
    ck_assert_int_eq(tb_status_http(err.status), 400);
    /* The unknown key is reported before the required field it replaces. */
    ck_assert_int_eq(decode(&tb_order_request_desc, "{\"acount\":\"A\"}", &err), TB_UNKNOWN_FIELD);
    ck_assert_str_eq(err.field, "acount");
    /* Nothing close: the message names the key alone. */
    ck_assert_int_eq(decode(&tb_kill_switch_desc, "{\"engaged\":true,\"zzz\":1}", &err),
                     TB_UNKNOWN_FIELD);
    ck_assert_str_eq(err.message, "unknown field \"zzz\"");
    /* Of several unknown keys the first in byte order is named, whatever
     * order the object hashes them in. */
    ck_assert_int_eq(
        decode(&tb_kill_switch_desc, "{\"engaged\":true,\"b2\":1,\"a1\":2,\"c3\":3}", &err),
        TB_UNKNOWN_FIELD);
    ck_assert_str_eq(err.field, "a1");
    /* A long key is cut at a character boundary: the error stays UTF-8. */
    char text[400] = "{\"engaged\":true,\"";
    for (int i = 0; i < 40; i++) strcat(text, "\xc3\xa9"); /* 80 bytes of é */
    strcat(text, "\":1}");
    ck_assert_int_eq(decode(&tb_kill_switch_desc, text, &err), TB_UNKNOWN_FIELD);
    ck_assert_uint_eq(strlen(err.field), 62);
    json_t *s = json_string(err.field);
    ck_assert_ptr_nonnull(s); /* jansson refuses invalid UTF-8 */
    json_decref(s);
    s = json_string(err.message);
    ck_assert_ptr_nonnull(s);
    json_decref(s);
    /* Known keys only: decodes. */
    ck_assert_int_eq(decode(&tb_kill_switch_desc, "{\"engaged\":true,\"reason\":\"x\"}", &err),
                     TB_OK);
}
END_TEST

static Suite *closest_suite(void) {
    Suite *s = suite_create("field_closest");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_distance);
    tcase_add_test(tc, test_closest_field);
    tcase_add_test(tc, test_from_json_messages);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(closest_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
