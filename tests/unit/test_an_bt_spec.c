/* Backtest requests (actors/analytics/an_bt_spec.c): symbols, data, the
 * parameter grid and the ranking value, on fixtures worked out by hand. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "an_bt_spec.h"

START_TEST(symbols_as_list_or_array) {
    an_bt_symbols s;
    tb_error err = {0};
    ck_assert_int_eq(an_bt_parse_symbols("DAX,FTSE", 5, &s, &err), TB_OK);
    ck_assert_uint_eq(s.n, 2);
    ck_assert_str_eq(s.sym[1], "FTSE");
    ck_assert_int_eq(an_bt_parse_symbols("[\"SMI\"]", 5, &s, &err), TB_OK);
    ck_assert_str_eq(s.sym[0], "SMI");
    char out[64];
    ck_assert_int_eq(an_bt_parse_symbols("[\"A\",\"B\"]", 5, &s, &err), TB_OK);
    an_bt_symbols_join(&s, out, sizeof out);
    ck_assert_str_eq(out, "A,B");
    ck_assert_int_eq(an_bt_parse_symbols("", 5, &s, &err), TB_INVALID);
    ck_assert_int_eq(an_bt_parse_symbols("DAX,DAX", 5, &s, &err), TB_INVALID);
    ck_assert_int_eq(an_bt_parse_symbols("DA X", 5, &s, &err), TB_INVALID);
    ck_assert_int_eq(an_bt_parse_symbols("DAX,", 5, &s, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "symbols");
    /* 60 bytes fit a token (63), not after a 5-byte prefix. */
    char longsym[61];
    memset(longsym, 'A', 60);
    longsym[60] = '\0';
    ck_assert_int_eq(an_bt_parse_symbols(longsym, 0, &s, &err), TB_OK);
    ck_assert_int_eq(an_bt_parse_symbols(longsym, 5, &s, &err), TB_INVALID);
}
END_TEST

START_TEST(data_sources) {
    char path[64];
    tb_error err = {0};
    ck_assert_int_eq(an_bt_parse_data("{\"file\":\"eu.csv\"}", path, sizeof path, &err), TB_OK);
    ck_assert_str_eq(path, "eu.csv");
    ck_assert_int_eq(an_bt_parse_data("{\"csv\":\"a,b\"}", path, sizeof path, &err), TB_REJECTED);
    ck_assert_int_eq(an_bt_parse_data("{\"bars\":{}}", path, sizeof path, &err), TB_REJECTED);
    ck_assert_int_eq(an_bt_parse_data("{\"file\":\"\"}", path, sizeof path, &err), TB_INVALID);
    ck_assert_int_eq(an_bt_parse_data("[1]", path, sizeof path, &err), TB_INVALID);
    /* Strict like the body: a misspelt key is named, with what it meant. */
    ck_assert_int_eq(an_bt_parse_data("{\"fiel\":\"eu.csv\"}", path, sizeof path, &err),
                     TB_UNKNOWN_FIELD);
    ck_assert_str_eq(err.message, "unknown field \"data.fiel\" (did you mean \"data.file\"?)");
    ck_assert_int_eq(an_bt_parse_data("{\"file\":\"eu.csv\",\"zone\":1}", path, sizeof path, &err),
                     TB_UNKNOWN_FIELD);
    ck_assert_str_eq(err.message, "unknown field \"data.zone\" (data takes file)");
    ck_assert_int_eq(an_bt_parse_data("{}", path, sizeof path, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "data");
}
END_TEST

START_TEST(grid_every_combination_last_key_fastest) {
    const char *grid = "{\"fast\":[5,10,20],\"slow\":[50,100]}";
    size_t n = 0;
    tb_error err = {0};
    ck_assert_int_eq(an_bt_grid_count(grid, 50, &n, &err), TB_OK);
    ck_assert_uint_eq(n, 6);
    ck_assert_int_eq(an_bt_grid_count("", 50, &n, &err), TB_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(an_bt_grid_count(grid, 5, &n, &err), TB_TOO_LARGE);
    ck_assert_int_eq(an_bt_grid_count("{\"fast\":[]}", 50, &n, &err), TB_INVALID);
    ck_assert_int_eq(an_bt_grid_count("{\"fast\":[{}]}", 50, &n, &err), TB_INVALID);
    ck_assert_int_eq(an_bt_grid_count("{}", 50, &n, &err), TB_INVALID);
    /* index 0..5: (5,50) (5,100) (10,50) (10,100) (20,50) (20,100) */
    const char *want[6] = {
        "{\"bars\":\"1d\",\"fast\":5,\"slow\":50}",  "{\"bars\":\"1d\",\"fast\":5,\"slow\":100}",
        "{\"bars\":\"1d\",\"fast\":10,\"slow\":50}", "{\"bars\":\"1d\",\"fast\":10,\"slow\":100}",
        "{\"bars\":\"1d\",\"fast\":20,\"slow\":50}", "{\"bars\":\"1d\",\"fast\":20,\"slow\":100}"};
    for (size_t i = 0; i < 6; i++) {
        char out[128];
        ck_assert_int_eq(
            an_bt_grid_params("{\"bars\":\"1d\",\"fast\":1}", grid, i, out, sizeof out, &err),
            TB_OK);
        ck_assert_str_eq(out, want[i]);
    }
    char out[128];
    ck_assert_int_eq(an_bt_grid_params("", "{\"k\":[1]}", 0, out, sizeof out, &err), TB_OK);
    ck_assert_str_eq(out, "{\"k\":1}");
}
END_TEST

START_TEST(rank_values) {
    tb_performance p = {.sharpe = 1.5, .max_drawdown = 0.2, .expectancy = TB_NULL_INT};
    ck_assert(an_bt_rank_value(&p, "") == 1.5);
    ck_assert(an_bt_rank_value(&p, "sharpe") == 1.5);
    ck_assert(an_bt_rank_value(&p, "max_drawdown") == -0.2); /* smaller ranks first */
    ck_assert(isnan(an_bt_rank_value(&p, "expectancy")));
    p.expectancy = 25 * TB_FIXED_SCALE / 10;
    ck_assert(an_bt_rank_value(&p, "expectancy") == 2.5);
}
END_TEST

int main(void) {
    Suite *s = suite_create("an_bt_spec");
    TCase *tc = tcase_create("spec");
    tcase_add_test(tc, symbols_as_list_or_array);
    tcase_add_test(tc, data_sources);
    tcase_add_test(tc, grid_every_combination_last_key_fastest);
    tcase_add_test(tc, rank_values);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
