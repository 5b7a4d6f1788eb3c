/* PostgreSQL array literals (bus/pgarray.c): strings always quoted and escaped, numbers and
 * fixed-point values exact, hex bytes, empty arrays, reuse after reset, a
 * statement's columns finished and closed together. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pgarray.h"

START_TEST(strings_quoted_and_escaped) {
    bus_pgarray a;
    bus_pgarray_init(&a);
    bus_pgarray_str(&a, "DAX");
    bus_pgarray_str(&a, "replay:/data/a,b{c}.csv");
    bus_pgarray_str(&a, "say \"hi\" \\ bye");
    bus_pgarray_str(&a, "");
    ck_assert_str_eq(bus_pgarray_finish(&a),
                     "{\"DAX\",\"replay:/data/a,b{c}.csv\",\"say \\\"hi\\\" \\\\ bye\",\"\"}");
    bus_pgarray_close(&a);
}
END_TEST

START_TEST(numbers_fixed_and_hex) {
    bus_pgarray a;
    bus_pgarray_init(&a);
    bus_pgarray_i64(&a, INT64_MIN);
    bus_pgarray_i64(&a, 0);
    bus_pgarray_u64(&a, UINT64_MAX);
    bus_pgarray_fixed(&a, -1);
    bus_pgarray_fixed(&a, 12345 * TB_FIXED_SCALE + 6);
    ck_assert_str_eq(bus_pgarray_finish(&a),
                     "{-9223372036854775808,0,18446744073709551615,-0.00000001,12345.00000006}");
    bus_pgarray_reset(&a);
    const uint8_t bytes[] = {0x00, 0x0f, 0xa5, 0xff};
    bus_pgarray_hex(&a, bytes, sizeof bytes);
    bus_pgarray_hex(&a, bytes, 0);
    ck_assert_str_eq(bus_pgarray_finish(&a), "{\"000fa5ff\",\"\"}");
    bus_pgarray_close(&a);
}
END_TEST

START_TEST(empty_and_large) {
    bus_pgarray a;
    bus_pgarray_init(&a);
    ck_assert_str_eq(bus_pgarray_finish(&a), "{}");
    bus_pgarray_reset(&a);
    for (int i = 0; i < 100000; i++) bus_pgarray_i64(&a, 7);
    const char *s = bus_pgarray_finish(&a);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(strlen(s), 2 * 100000 + 1);
    ck_assert_uint_eq(a.n, 100000);
    bus_pgarray_close(&a);
}
END_TEST

START_TEST(columns_finished_and_closed_together) {
    bus_pgarray cols[3] = {{0}};
    bus_pgarray_str(&cols[0], "a");
    bus_pgarray_i64(&cols[1], -7);
    const char *p[3] = {NULL, NULL, NULL};
    tb_error err = {0};
    ck_assert_int_eq(bus_pgarray_finish_all(cols, 3, p, &err), TB_OK);
    ck_assert_str_eq(p[0], "{\"a\"}");
    ck_assert_str_eq(p[1], "{-7}");
    ck_assert_str_eq(p[2], "{}");
    bus_pgarray_close_all(cols, 3);
    for (int i = 0; i < 3; i++) ck_assert_ptr_null(cols[i].p);
}
END_TEST

int main(void) {
    Suite *s = suite_create("bus_pgarray");
    TCase *tc = tcase_create("pgarray");
    tcase_add_test(tc, strings_quoted_and_escaped);
    tcase_add_test(tc, numbers_fixed_and_hex);
    tcase_add_test(tc, empty_and_large);
    tcase_add_test(tc, columns_finished_and_closed_together);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
