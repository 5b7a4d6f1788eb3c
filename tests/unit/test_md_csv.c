/* market-data CSV replay parsing: both formats, headers and format
 * detection, malformed rows reported with their line numbers and counted,
 * and the EuStock sample file (7440 rows, none malformed). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "md_csv.h"

/* Feeds text line by line; returns the ticks parsed (up to cap) and keeps
 * each line's error message in errs[line] (lines from 1, up to 31). */
static size_t feed_text(md_csv_parser *p, const char *text, tb_tick *out, size_t cap,
                        char errs[32][256]) {
    size_t n = 0;
    const char *s = text;
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s + 1) : strlen(s);
        tb_tick t;
        tb_error err = {0};
        md_csv_result r = md_csv_feed(p, s, len, &t, &err);
        if (r == MD_CSV_ROW && n < cap) out[n++] = t;
        if (r == MD_CSV_BAD && errs && p->line < 32)
            snprintf(errs[p->line], 256, "%s", err.message);
        s += len;
    }
    return n;
}

START_TEST(ticks_good_rows) {
    md_csv_parser p;
    md_csv_init(&p, MD_CSV_AUTO);
    const char *text = "ts,symbol,bid,ask,last,size\r\n"
                       "2024-03-01T09:00:00Z,DAX,17000.5,17001,17000.75,3\r\n"
                       "\n"
                       "# a comment\n"
                       "1709283600000000001, SMI ,11000,11000.25,,\n"
                       "2024-03-01T10:00:00.5+01:00,CAC,,,7900.1,0.5";
    tb_tick t[4];
    ck_assert_uint_eq(feed_text(&p, text, t, 4, NULL), 3);
    ck_assert_int_eq(p.format, MD_CSV_TICKS);
    ck_assert_uint_eq(p.rows, 3);
    ck_assert_uint_eq(p.errors, 0);
    ck_assert_uint_eq(p.line, 6);
    ck_assert_str_eq(t[0].symbol, "DAX");
    ck_assert_int_eq(t[0].ts, INT64_C(1709283600) * 1000000000);
    ck_assert_int_eq(t[0].bid, 1700050000000);
    ck_assert_int_eq(t[0].ask, 1700100000000);
    ck_assert_int_eq(t[0].last, 1700075000000);
    ck_assert_int_eq(t[0].last_size, 300000000);
    ck_assert_str_eq(t[1].symbol, "SMI");
    ck_assert_int_eq(t[1].ts, INT64_C(1709283600000000001));
    ck_assert_int_eq(t[1].last, 0);
    ck_assert_int_eq(t[1].last_size, 0);
    ck_assert_int_eq(t[1].ask, 1100025000000);
    ck_assert_str_eq(t[2].symbol, "CAC");
    /* 10:00:00.5+01:00 is 09:00:00.5Z */
    ck_assert_int_eq(t[2].ts, INT64_C(1709283600) * 1000000000 + 500000000);
    ck_assert_int_eq(t[2].bid, 0);
    ck_assert_int_eq(t[2].last, 790010000000);
    ck_assert_int_eq(t[2].last_size, 50000000);
}
END_TEST

START_TEST(ticks_malformed_rows_have_line_numbers) {
    md_csv_parser p;
    md_csv_init(&p, MD_CSV_TICKS);
    const char *text = "2024-03-01T09:00:00Z,DAX,1,2,1.5,1\n"         /* 1 ok */
                       "2024-13-01T09:00:00Z,DAX,1,2,1.5,1\n"         /* 2 bad month */
                       "2024-03-01T09:00:00Z,D@X,1,2,1.5,1\n"         /* 3 bad symbol */
                       "2024-03-01T09:00:00Z,DAX,abc,2,1.5,1\n"       /* 4 bad bid */
                       "2024-03-01T09:00:00Z,DAX,3,2,2.5,1\n"         /* 5 crossed */
                       "2024-03-01T09:00:00Z,DAX,1,2,1.5\n"           /* 6 five fields */
                       "2024-03-01T09:00:00Z,DAX,,,,1\n"              /* 7 no price */
                       "2024-03-01T09:00:00Z,DAX,1,2,-1.5,1\n"        /* 8 negative last */
                       "2024-03-01T09:00:00Z,DAX,1,2,1.5,-1\n"        /* 9 negative size */
                       "99999999999999999999,DAX,1,2,1.5,1\n"         /* 10 ts overflow */
                       "2024-03-01T09:00:00Z,DAX,1,2,1.123456789,1\n" /* 11 9 decimals */
                       "2024-03-01T09:00:01Z,DAX,1,2,1.25,2\n";       /* 12 ok */
    tb_tick t[4];
    char errs[32][256] = {{0}};
    ck_assert_uint_eq(feed_text(&p, text, t, 4, errs), 2);
    ck_assert_uint_eq(p.rows, 2);
    ck_assert_uint_eq(p.errors, 10);
    ck_assert_int_eq(t[1].last, 125000000);
    for (int l = 2; l <= 11; l++) {
        char want[16];
        snprintf(want, sizeof want, "line %d: ", l);
        ck_assert_msg(strncmp(errs[l], want, strlen(want)) == 0, "line %d: '%s'", l, errs[l]);
    }
    ck_assert_ptr_nonnull(strstr(errs[3], "symbol"));
    ck_assert_ptr_nonnull(strstr(errs[4], "bid 'abc'"));
    ck_assert_ptr_nonnull(strstr(errs[5], "crossed"));
    ck_assert_ptr_nonnull(strstr(errs[6], "expected 6 fields"));
    ck_assert_ptr_nonnull(strstr(errs[7], "no price"));
    char sum[512];
    md_csv_summary(&p, sum, sizeof sum);
    ck_assert_msg(strncmp(sum, "10 malformed rows skipped: line 2: ", 35) == 0, "%s", sum);
    ck_assert_ptr_nonnull(strstr(sum, "; line 3: "));
    ck_assert_ptr_nonnull(strstr(sum, "; line 4: "));
    ck_assert_ptr_null(strstr(sum, "line 5:"));
}
END_TEST

START_TEST(closes_rows_and_errors) {
    md_csv_parser p;
    md_csv_init(&p, MD_CSV_AUTO);
    const char *text = "date,symbol,close\n"
                       "1991-07-01,DAX,1628.75\n"
                       "1991-07-01,SMI,\n"     /* 3 empty close */
                       "1991-02-30,DAX,1600\n" /* 4 no such date */
                       "1991-07-02,DAX,0\n"    /* 5 zero */
                       "1991-07-02T12:30:00Z,CAC,1750.5\n"
                       "1991-07-03,FTSE,2448.2,9\n"; /* 7 extra field */
    tb_tick t[4];
    char errs[32][256] = {{0}};
    ck_assert_uint_eq(feed_text(&p, text, t, 4, errs), 2);
    ck_assert_int_eq(p.format, MD_CSV_CLOSES);
    ck_assert_uint_eq(p.errors, 4);
    ck_assert_str_eq(t[0].symbol, "DAX");
    ck_assert_int_eq(t[0].ts, INT64_C(678326400) * 1000000000); /* 1991-07-01T00:00:00Z */
    ck_assert_int_eq(t[0].bid, 162875000000);
    ck_assert_int_eq(t[0].ask, 162875000000);
    ck_assert_int_eq(t[0].last, 162875000000);
    ck_assert_int_eq(t[0].last_size, 0);
    ck_assert_int_eq(t[1].ts, (INT64_C(678326400) + 86400 + 45000) * 1000000000);
    ck_assert_ptr_nonnull(strstr(errs[3], "line 3: close ''"));
    ck_assert_ptr_nonnull(strstr(errs[4], "line 4: bad date '1991-02-30'"));
    ck_assert_ptr_nonnull(strstr(errs[5], "line 5: close '0'"));
    ck_assert_ptr_nonnull(strstr(errs[7], "line 7: expected 3 fields"));
}
END_TEST

START_TEST(format_detection_and_header_mismatch) {
    md_csv_parser p;
    tb_tick t[2];
    char errs[32][256] = {{0}};
    md_csv_init(&p, MD_CSV_AUTO); /* no header, 3 fields: closes */
    ck_assert_uint_eq(feed_text(&p, "2020-01-02,X,5\n", t, 2, NULL), 1);
    ck_assert_int_eq(p.format, MD_CSV_CLOSES);
    md_csv_init(&p, MD_CSV_AUTO); /* no header, 6 fields: ticks */
    ck_assert_uint_eq(feed_text(&p, "1,X,1,2,,\n", t, 2, NULL), 1);
    ck_assert_int_eq(p.format, MD_CSV_TICKS);
    md_csv_init(&p, MD_CSV_TICKS); /* asked for ticks, file has closes */
    ck_assert_uint_eq(feed_text(&p, "date,symbol,close\n2020-01-02,X,5\n", t, 2, errs), 0);
    ck_assert_uint_eq(p.errors, 2);
    ck_assert_ptr_nonnull(strstr(errs[1], "line 1: header is for format closes, not ticks"));
    ck_assert_ptr_nonnull(strstr(errs[2], "line 2: expected 6 fields"));
    md_csv_format f;
    ck_assert_int_eq(md_csv_format_parse("closes", &f), TB_OK);
    ck_assert_int_eq(f, MD_CSV_CLOSES);
    ck_assert_int_eq(md_csv_format_parse("", &f), TB_OK);
    ck_assert_int_eq(f, MD_CSV_AUTO);
    ck_assert_int_eq(md_csv_format_parse("bars", &f), TB_INVALID);
}
END_TEST

START_TEST(hostile_lines) {
    md_csv_parser p;
    md_csv_init(&p, MD_CSV_TICKS);
    tb_tick t;
    tb_error err = {0};
    static const char nul[] = "1,DAX,1,2,1.5,1\0junk\n";
    ck_assert_int_eq(md_csv_feed(&p, nul, sizeof nul - 1, &t, &err), MD_CSV_BAD);
    ck_assert_str_eq(err.message, "line 1: contains a NUL byte");
    char *longl = malloc(MD_CSV_MAX_LINE + 10);
    memset(longl, 'x', MD_CSV_MAX_LINE + 10);
    ck_assert_int_eq(md_csv_feed(&p, longl, MD_CSV_MAX_LINE + 10, &t, &err), MD_CSV_BAD);
    ck_assert_ptr_nonnull(strstr(err.message, "line 2: longer than"));
    free(longl);
    ck_assert_int_eq(md_csv_feed_too_long(&p, &err), MD_CSV_BAD);
    ck_assert_ptr_nonnull(strstr(err.message, "line 3: longer than"));
    /* bytes that are not printable ASCII never reach the message */
    static const char bin[] = "1,DAX,\xff\xfe,2,1.5,1\n";
    ck_assert_int_eq(md_csv_feed(&p, bin, sizeof bin - 1, &t, &err), MD_CSV_BAD);
    for (const char *c = err.message; *c; c++)
        ck_assert((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f);
    ck_assert_uint_eq(p.errors, 4);
    ck_assert_uint_eq(p.rows, 0);
}
END_TEST

START_TEST(timestamps) {
    int64_t ns;
    ck_assert_int_eq(md_csv_parse_ts("0", false, &ns), TB_OK);
    ck_assert_int_eq(ns, 0);
    ck_assert_int_eq(md_csv_parse_ts("9223372036854775807", false, &ns), TB_OK);
    ck_assert_int_eq(ns, INT64_MAX);
    ck_assert_int_eq(md_csv_parse_ts("9223372036854775808", false, &ns), TB_OVERFLOW);
    ck_assert_int_eq(md_csv_parse_ts("1998-08-14", false, &ns), TB_INVALID);
    ck_assert_int_eq(md_csv_parse_ts("1998-08-14", true, &ns), TB_OK);
    ck_assert_int_eq(ns, INT64_C(903052800) * 1000000000);
    ck_assert_int_eq(md_csv_parse_ts("-5", false, &ns), TB_INVALID);
    ck_assert_int_eq(md_csv_parse_ts("", true, &ns), TB_INVALID);
}
END_TEST

START_TEST(eustock_file_parses_cleanly) {
    const char *src = getenv("TB_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/data/eustock_daily.csv", src ? src : ".");
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    md_csv_parser p;
    md_csv_init(&p, MD_CSV_AUTO);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    tb_tick first = {0}, last = {0};
    uint64_t per_symbol[4] = {0};
    static const char *const names[] = {"DAX", "SMI", "CAC", "FTSE"};
    int64_t prev_ts = INT64_MIN;
    while ((len = getline(&line, &cap, f)) >= 0) {
        tb_tick t;
        tb_error err = {0};
        md_csv_result r = md_csv_feed(&p, line, (size_t)len, &t, &err);
        ck_assert_msg(r != MD_CSV_BAD, "%s", err.message);
        if (r != MD_CSV_ROW) continue;
        if (p.rows == 1) first = t;
        last = t;
        ck_assert_int_ge(t.ts, prev_ts);
        prev_ts = t.ts;
        for (int i = 0; i < 4; i++) per_symbol[i] += strcmp(t.symbol, names[i]) == 0;
    }
    free(line);
    fclose(f);
    ck_assert_int_eq(p.format, MD_CSV_CLOSES);
    ck_assert_uint_eq(p.rows, 7440);
    ck_assert_uint_eq(p.errors, 0);
    for (int i = 0; i < 4; i++) ck_assert_uint_eq(per_symbol[i], 1860);
    ck_assert_str_eq(first.symbol, "DAX");
    ck_assert_int_eq(first.last, 162875000000);
    ck_assert_int_eq(first.ts, INT64_C(678326400) * 1000000000);
    ck_assert_str_eq(last.symbol, "FTSE");
    ck_assert_int_eq(last.last, 545500000000);
    ck_assert_int_eq(last.ts, INT64_C(903052800) * 1000000000); /* 1998-08-14 */
}
END_TEST

int main(void) {
    Suite *s = suite_create("md_csv");
    TCase *tc = tcase_create("csv");
    tcase_add_test(tc, ticks_good_rows);
    tcase_add_test(tc, ticks_malformed_rows_have_line_numbers);
    tcase_add_test(tc, closes_rows_and_errors);
    tcase_add_test(tc, format_detection_and_header_mismatch);
    tcase_add_test(tc, hostile_lines);
    tcase_add_test(tc, timestamps);
    tcase_add_test(tc, eustock_file_parses_cleanly);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
