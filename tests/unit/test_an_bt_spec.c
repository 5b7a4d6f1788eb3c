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
    an_bt_data d;
    tb_error err = {0};
    ck_assert_int_eq(an_bt_parse_data("{\"file\":\"eu.csv\"}", &d, &err), TB_OK);
    ck_assert_int_eq(d.kind, AN_BT_DATA_FILE);
    ck_assert_str_eq(d.path, "eu.csv");
    /* csv: inline when short, or the size the gateway left for the text it
     * attached beside the event. */
    ck_assert_int_eq(an_bt_parse_data("{\"csv\":\"a,b\"}", &d, &err), TB_OK);
    ck_assert_int_eq(d.kind, AN_BT_DATA_CSV);
    ck_assert_str_eq(d.csv_inline, "a,b");
    ck_assert_int_eq(d.csv_bytes, -1);
    ck_assert_int_eq(an_bt_parse_data("{\"csv\":123456}", &d, &err), TB_OK);
    ck_assert_int_eq(d.csv_bytes, 123456);
    ck_assert_int_eq(an_bt_parse_data("{\"csv\":[1]}", &d, &err), TB_INVALID);
    /* bars: interval, from and to (RFC 3339, a date or nanoseconds). */
    ck_assert_int_eq(an_bt_parse_data("{\"bars\":{\"interval\":\"1d\",\"from\":\"1991-07-01\","
                                      "\"to\":\"1991-07-03T00:00:00Z\"}}",
                                      &d, &err),
                     TB_OK);
    ck_assert_int_eq(d.kind, AN_BT_DATA_BARS);
    ck_assert_str_eq(d.interval, "1d");
    ck_assert_int_eq(d.interval_ns, INT64_C(86400000000000));
    ck_assert_int_eq(d.from, INT64_C(678326400000000000));
    ck_assert_int_eq(d.to, INT64_C(678326400000000000) + 2 * INT64_C(86400000000000));
    ck_assert_int_eq(an_bt_parse_data("{\"bars\":{\"interval\":\"1m\",\"from\":60000000000,"
                                      "\"to\":120000000000}}",
                                      &d, &err),
                     TB_OK);
    ck_assert_int_eq(d.interval_ns, INT64_C(60000000000));
    ck_assert_int_eq(
        an_bt_parse_data("{\"bars\":{\"interval\":\"2d\",\"from\":1,\"to\":2}}", &d, &err),
        TB_INVALID);
    ck_assert_msg(strstr(err.message, "1s|1m|5m|1h|1d") != NULL, "%s", err.message);
    ck_assert_int_eq(
        an_bt_parse_data("{\"bars\":{\"interval\":\"1d\",\"from\":5,\"to\":5}}", &d, &err),
        TB_INVALID);
    ck_assert_int_eq(an_bt_parse_data("{\"bars\":{\"interval\":\"1d\",\"to\":5}}", &d, &err),
                     TB_MISSING_FIELD);
    ck_assert_int_eq(
        an_bt_parse_data("{\"bars\":{\"interval\":\"1d\",\"from\":\"soon\",\"to\":5}}", &d, &err),
        TB_INVALID);
    ck_assert_int_eq(
        an_bt_parse_data("{\"bars\":{\"interval\":\"1d\",\"from\":1,\"to\":5,\"step\":1}}", &d,
                         &err),
        TB_UNKNOWN_FIELD);
    ck_assert_int_eq(an_bt_parse_data("{\"file\":\"\"}", &d, &err), TB_INVALID);
    ck_assert_int_eq(an_bt_parse_data("[1]", &d, &err), TB_INVALID);
    ck_assert_int_eq(an_bt_parse_data("{\"file\":\"a\",\"csv\":\"b\"}", &d, &err), TB_INVALID);
    /* Strict like the body: a misspelt key is named, with what it meant. */
    ck_assert_int_eq(an_bt_parse_data("{\"fiel\":\"eu.csv\"}", &d, &err), TB_UNKNOWN_FIELD);
    ck_assert_str_eq(err.message, "unknown field \"data.fiel\" (did you mean \"data.file\"?)");
    ck_assert_int_eq(an_bt_parse_data("{\"file\":\"eu.csv\",\"zone\":1}", &d, &err),
                     TB_UNKNOWN_FIELD);
    ck_assert_str_eq(err.message, "unknown field \"data.zone\" (data takes file, csv or bars)");
    ck_assert_int_eq(an_bt_parse_data("{}", &d, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "data");
}
END_TEST

START_TEST(bar_rows_at_the_bar_end) {
    char buf[64];
    size_t len = 0;
    tb_error err = {0};
    ck_assert_int_eq(an_bt_bar_row(buf, sizeof buf, &len, "DAX", INT64_C(86400000000000),
                                   INT64_C(86400000000000), 162810 * TB_FIXED_SCALE / 100, &err),
                     TB_OK);
    ck_assert_str_eq(buf, "172800000000000,DAX,1628.1\n");
    ck_assert_uint_eq(len, strlen(buf));
    /* A row that does not fit is refused whole: the text keeps its rows. */
    ck_assert_int_eq(an_bt_bar_row(buf, sizeof buf, &len, "FTSE", INT64_C(86400000000000),
                                   INT64_C(86400000000000), TB_FIXED_SCALE, &err),
                     TB_OK);
    size_t before = len;
    ck_assert_int_eq(an_bt_bar_row(buf, sizeof buf, &len, "SMI", INT64_C(86400000000000), 1,
                                   TB_FIXED_SCALE, &err),
                     TB_TOO_LARGE);
    ck_assert_uint_eq(len, before);
    ck_assert_uint_eq(strlen(buf), before);
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
    tcase_add_test(tc, bar_rows_at_the_bar_end);
    tcase_add_test(tc, grid_every_combination_last_key_fastest);
    tcase_add_test(tc, rank_values);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
