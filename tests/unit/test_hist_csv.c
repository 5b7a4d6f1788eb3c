/* historical-data CSV import parsing (actors/historical-data/hist_csv.c):
 * both formats, header handling, quoting and line ends, and every kind of
 * bad row reported with the right line number. Expected values by hand. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hist_csv.h"

#define FX(units) ((tb_fixed)(units)*TB_FIXED_SCALE)
#define SEC       INT64_C(1000000000)
#define JAN2      (INT64_C(1704153600) * SEC) /* 2024-01-02T00:00:00Z */

static tb_status parse(const char *text, size_t max_rows, hist_import *imp) {
    return hist_csv_parse(text, strlen(text), max_rows, imp);
}

START_TEST(civil_days) {
    ck_assert_int_eq(hist_days_from_civil(1970, 1, 1), 0);
    ck_assert_int_eq(hist_days_from_civil(1969, 12, 31), -1);
    ck_assert_int_eq(hist_days_from_civil(2024, 1, 1), 19723); /* 1704067200 / 86400 */
    ck_assert_int_eq(hist_days_from_civil(2000, 3, 1),
                     11017); /* 30 years + 7 leap days + Jan, Feb */
    ck_assert_int_eq(hist_days_from_civil(2024, 3, 1) - hist_days_from_civil(2024, 2, 28), 2);
    ck_assert_int_eq(hist_days_from_civil(2023, 3, 1) - hist_days_from_civil(2023, 2, 28), 1);
}
END_TEST

START_TEST(full_format) {
    hist_import imp;
    const char *csv = "start,symbol,interval,open,high,low,close,volume\n"
                      "2024-01-02T10:15:00Z,ACME,5m,100.5,101,99.25,100,1234.5\n"
                      "2024-01-02,ACME,1d,90,110,80,100.00000001,0\n";
    ck_assert_int_eq(parse(csv, 100, &imp), TB_OK);
    ck_assert_uint_eq(imp.nrows, 2);
    ck_assert_uint_eq(imp.nerrors, 0);
    const hist_import_row *r = &imp.rows[0];
    ck_assert_str_eq(r->symbol, "ACME");
    ck_assert_int_eq(r->interval, HIST_5M);
    ck_assert_int_eq(r->bar.start, JAN2 + (10 * 3600 + 15 * 60) * SEC);
    ck_assert_int_eq(r->bar.open, 10050000000);
    ck_assert_int_eq(r->bar.high, FX(101));
    ck_assert_int_eq(r->bar.low, 9925000000);
    ck_assert_int_eq(r->bar.close, FX(100));
    ck_assert_int_eq(r->bar.volume, 123450000000);
    ck_assert_uint_eq(r->line, 2);
    r = &imp.rows[1];
    ck_assert_int_eq(r->interval, HIST_1D);
    ck_assert_int_eq(r->bar.start, JAN2);
    ck_assert_int_eq(r->bar.close, FX(100) + 1);
    ck_assert_uint_eq(r->line, 3);
    hist_import_free(&imp);
}
END_TEST

START_TEST(daily_closes) {
    hist_import imp;
    const char *csv = "date,symbol,close\n2024-01-02,DAX,16769.36\n2024-01-03,DAX,16538.39\n";
    ck_assert_int_eq(parse(csv, 100, &imp), TB_OK);
    ck_assert_uint_eq(imp.nrows, 2);
    for (size_t i = 0; i < 2; i++) {
        const hist_bar *b = &imp.rows[i].bar;
        ck_assert_int_eq(imp.rows[i].interval, HIST_1D);
        ck_assert_int_eq(b->start, JAN2 + (int64_t)i * 86400 * SEC);
        ck_assert_int_eq(b->open, b->close);
        ck_assert_int_eq(b->high, b->close);
        ck_assert_int_eq(b->low, b->close);
        ck_assert_int_eq(b->volume, 0);
    }
    ck_assert_int_eq(imp.rows[0].bar.close, 1676936000000);
    ck_assert_int_eq(imp.rows[1].bar.close, 1653839000000);
    hist_import_free(&imp);
}
END_TEST

START_TEST(header_order_quotes_crlf_blank_lines) {
    hist_import imp;
    /* Columns in another order, upper case, an extra column, CRLF, quoted
     * fields (one with an escaped quote in an ignored column), blank lines. */
    const char *csv = "Symbol,Close,Note,Date\r\n"
                      "\r\n"
                      "\"SPX\", \"4742.83\" ,\"say \"\"hi\"\"\",2024-01-02\r\n"
                      "   \r\n"
                      "SPX,4704.81,,2024-01-03";
    ck_assert_int_eq(parse(csv, 100, &imp), TB_OK);
    ck_assert_uint_eq(imp.nrows, 2);
    ck_assert_str_eq(imp.rows[0].symbol, "SPX");
    ck_assert_int_eq(imp.rows[0].bar.close, 474283000000);
    ck_assert_uint_eq(imp.rows[0].line, 3);
    ck_assert_uint_eq(imp.rows[1].line, 5);
    ck_assert_int_eq(imp.rows[1].bar.start, JAN2 + 86400 * SEC);
    hist_import_free(&imp);
}
END_TEST

/* One bad CSV -> its first error's line and text, and the error count. */
static void expect_error(const char *csv, size_t line, const char *fragment, size_t nerrors) {
    hist_import imp;
    ck_assert_int_eq(parse(csv, 100, &imp), TB_INVALID);
    ck_assert_uint_eq(imp.first_line, line);
    char want[32];
    snprintf(want, sizeof want, "line %zu: ", line);
    ck_assert_msg(strncmp(imp.first_error, want, strlen(want)) == 0, "got \"%s\"", imp.first_error);
    ck_assert_msg(strstr(imp.first_error, fragment) != NULL, "\"%s\" lacks \"%s\"", imp.first_error,
                  fragment);
    ck_assert_uint_eq(imp.nerrors, nerrors);
    hist_import_free(&imp);
}

#define HDR  "start,symbol,interval,open,high,low,close,volume\n"
#define GOOD "2024-01-02T00:00:00Z,A,1m,10,12,9,11,5\n"

START_TEST(bad_rows_with_line_numbers) {
    expect_error(HDR GOOD "2024-01-02T00:01:00Z,A,1m,10,12,9,abc,5\n", 3, "close: not a decimal",
                 1);
    expect_error(HDR GOOD "2024-01-02T00:01:00Z,A,1m,10,12,9,11,-5\n", 3, "volume: negative", 1);
    expect_error(HDR GOOD "2024-01-02T00:01:00Z,A,1m,0,12,9,11,5\n", 3, "open: not positive", 1);
    expect_error(HDR GOOD "2024-01-02T00:01:00Z,A,1m,10,12,9,11.000000001,5\n", 3,
                 "more than 8 decimals", 1);
    expect_error(HDR GOOD "2024-01-02T00:01:00Z,A,1m,10,8,9,9,5\n", 3, "high is below low", 1);
    expect_error(HDR GOOD "2024-01-02T00:01:00Z,A,1m,13,12,9,11,5\n", 3, "between low and high", 1);
    expect_error(HDR GOOD "2024-01-02T00:01:30Z,A,1m,10,12,9,11,5\n", 3,
                 "not the start of a 1m bar", 1);
    expect_error(HDR GOOD "2024-01-02T00:01:00Z,A,2m,10,12,9,11,5\n", 3, "interval", 1);
    expect_error(HDR GOOD "yesterday,A,1m,10,12,9,11,5\n", 3, "start", 1);
    expect_error(HDR GOOD "2024-01-02T00:01:00Z,A B,1m,10,12,9,11,5\n", 3, "symbol", 1);
    expect_error(HDR GOOD "2024-01-02T00:01:00Z,A,1m,10,12,9,11\n", 3, "7 fields, the header has 8",
                 1);
    expect_error(HDR GOOD "2024-01-02T00:01:00Z,\"A,1m,10,12,9,11,5\n", 3, "unterminated", 1);
    expect_error(HDR GOOD "2024-01-02T00:01:00Z,A\"x,1m,10,12,9,11,5\n", 3, "quote", 1);
    expect_error("date,symbol,close\n2023-02-29,A,5\n", 2, "date", 1);
    expect_error("date,symbol,close\n2024-01-02T01:00:00Z,A,5\n", 2, "00:00 UTC", 1);
}
END_TEST

START_TEST(every_bad_row_counted_first_reported) {
    /* Lines 3 and 5 bad, line 4 good: two errors, line 3 first. */
    expect_error(HDR GOOD "x,A,1m,10,12,9,11,5\n"
                          "2024-01-02T00:02:00Z,A,1m,10,12,9,11,5\n"
                          "2024-01-02T00:03:00Z,A,1m,10,12,9,11,zz\n",
                 3, "start", 2);
}
END_TEST

START_TEST(duplicates_reported_at_the_later_line) {
    /* Line 4 repeats line 2's bar; line 3 is another interval and fine. The
     * duplicate is found after the rows, yet an earlier bad row (line 5
     * here is later) does not hide it: the lowest line wins. */
    expect_error(HDR GOOD "2024-01-02T00:00:00Z,A,1s,10,12,9,11,5\n" GOOD
                          "2024-01-02T00:09:00Z,A,1m,10,12,9,11,bad\n",
                 4, "also on line 2", 2);
    /* An early bad row still comes first. */
    expect_error(HDR "2024-01-02T00:09:00Z,A,1m,10,12,9,11,bad\n" GOOD GOOD, 2, "volume", 2);
}
END_TEST

START_TEST(header_problems) {
    expect_error("time,ticker,px\n1,2,3\n", 1, "header: expected", 1);
    expect_error("start,symbol,interval,open,high,low,close\nx\n", 1, "missing column volume", 1);
    expect_error("date,symbol,symbol,close\n", 1, "twice", 1);
    expect_error("date,symbol\n", 1, "missing column close", 1);
    expect_error(HDR, 2, "no data rows", 1);
    expect_error(HDR "\n\n", 4, "no data rows", 1);
    expect_error("", 1, "no header", 1);
    expect_error("\n\n", 2, "no header", 1);
}
END_TEST

START_TEST(row_limit) {
    hist_import imp;
    ck_assert_int_eq(parse(HDR GOOD GOOD GOOD, 2, &imp), TB_INVALID);
    ck_assert_uint_eq(imp.first_line, 3); /* the duplicate of line 2 */
    hist_import_free(&imp);
    const char *three = HDR "2024-01-02T00:00:00Z,A,1m,10,12,9,11,5\n"
                            "2024-01-02T00:01:00Z,A,1m,10,12,9,11,5\n"
                            "2024-01-02T00:02:00Z,A,1m,10,12,9,11,5\n";
    ck_assert_int_eq(parse(three, 3, &imp), TB_OK);
    hist_import_free(&imp);
    ck_assert_int_eq(parse(three, 2, &imp), TB_INVALID);
    ck_assert_uint_eq(imp.first_line, 4);
    ck_assert_ptr_nonnull(strstr(imp.first_error, "more than 2 rows"));
    hist_import_free(&imp);
}
END_TEST

START_TEST(hostile_bytes) {
    hist_import imp;
    const char bin[] = "date,symbol,close\n2024-01-02,A\0B,5\n";
    ck_assert_int_eq(hist_csv_parse(bin, sizeof bin - 1, 10, &imp), TB_INVALID);
    ck_assert_uint_eq(imp.first_line, 2);
    hist_import_free(&imp);
    /* A field longer than any valid value. */
    char big[600] = "date,symbol,close\n2024-01-02,A,";
    size_t n = strlen(big);
    memset(big + n, '9', 300);
    big[n + 300] = '\0';
    ck_assert_int_eq(parse(big, 10, &imp), TB_INVALID);
    ck_assert_ptr_nonnull(strstr(imp.first_error, "too long"));
    hist_import_free(&imp);
    /* Too many columns. */
    char wide[200] = "date,symbol,close";
    for (int i = 0; i < 40; i++) strcat(wide, ",x");
    ck_assert_int_eq(parse(wide, 10, &imp), TB_INVALID);
    ck_assert_uint_eq(imp.first_line, 1);
    hist_import_free(&imp);
}
END_TEST

int main(void) {
    Suite *s = suite_create("hist_csv");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, civil_days);
    tcase_add_test(tc, full_format);
    tcase_add_test(tc, daily_closes);
    tcase_add_test(tc, header_order_quotes_crlf_blank_lines);
    tcase_add_test(tc, bad_rows_with_line_numbers);
    tcase_add_test(tc, every_bad_row_counted_first_reported);
    tcase_add_test(tc, duplicates_reported_at_the_later_line);
    tcase_add_test(tc, header_problems);
    tcase_add_test(tc, row_limit);
    tcase_add_test(tc, hostile_bytes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
