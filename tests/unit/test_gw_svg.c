/* The equity chart: points drawn in time order across the plot, the lowest
 * and highest equity printed exactly, the title escaped, and degenerate
 * series (empty, one point, flat) still drawn. */
#include <stdlib.h>
#include <string.h>

#include "svg.h"
#include "tb_test.h"

static tb_equity_point pt(int64_t sec, tb_fixed eq) {
    tb_equity_point p = {.account = "A", .ts = sec * INT64_C(1000000000), .equity = eq};
    return p;
}

/* Parses the polyline's points into xs/ys; returns how many. */
static size_t points(const char *svg, double *xs, double *ys, size_t cap) {
    const char *p = strstr(svg, "points=\"");
    if (p == NULL) return 0;
    p += 8;
    size_t n = 0;
    while (*p != '"' && n < cap) {
        char *end;
        xs[n] = strtod(p, &end);
        ck_assert_int_eq(*end, ',');
        ys[n] = strtod(end + 1, &end);
        n++;
        p = end;
        while (*p == ' ') p++;
    }
    return n;
}

START_TEST(draws_in_time_order) {
    /* given out of order: 10:110, 0:100, 20:90, 30:120 */
    tb_equity_point in[] = {pt(10, 11000000000), pt(0, 10000000000), pt(20, 9000000000),
                            pt(30, 12000000012)};
    size_t len;
    char *svg = gw_svg_equity(in, 4, "Equity of A", &len);
    ck_assert_ptr_nonnull(svg);
    ck_assert_uint_eq(len, strlen(svg));
    ck_assert(strncmp(svg, "<svg ", 5) == 0);
    ck_assert_ptr_nonnull(strstr(svg, "</svg>"));
    double xs[8], ys[8];
    ck_assert_uint_eq(points(svg, xs, ys, 8), 4);
    for (int i = 1; i < 4; i++) ck_assert(xs[i] > xs[i - 1]);
    /* y grows downwards: 120 is the top, 90 the bottom, 100 and 110 between */
    ck_assert(ys[3] < ys[1] && ys[1] < ys[0] && ys[0] < ys[2]);
    ck_assert_double_eq_tol(xs[1] - xs[0], xs[2] - xs[1], 0.11); /* equal time steps */
    ck_assert_ptr_nonnull(strstr(svg, ">120.00000012<"));        /* exact highest */
    ck_assert_ptr_nonnull(strstr(svg, ">90<"));
    ck_assert_ptr_nonnull(strstr(svg, "1970-01-01 00:00"));
    free(svg);
}
END_TEST

START_TEST(degenerate_series) {
    size_t len;
    char *svg = gw_svg_equity(NULL, 0, "<b>&\"x\"</b>", &len);
    ck_assert_ptr_nonnull(strstr(svg, "no data"));
    ck_assert_ptr_null(strstr(svg, "<b>"));
    ck_assert_ptr_nonnull(strstr(svg, "&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;"));
    ck_assert_ptr_null(strstr(svg, "polyline"));
    free(svg);
    tb_equity_point one = pt(5, 100);
    svg = gw_svg_equity(&one, 1, "one", &len);
    double xs[2], ys[2];
    ck_assert_uint_eq(points(svg, xs, ys, 2), 1);
    free(svg);
    tb_equity_point flat[] = {pt(1, 500), pt(2, 500), pt(3, 500)};
    svg = gw_svg_equity(flat, 3, "flat", &len);
    ck_assert_uint_eq(points(svg, xs, ys, 2), 2);
    ck_assert_double_eq(ys[0], ys[1]);
    free(svg);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gw_svg");
    TCase *tc = tcase_create("svg");
    tcase_add_test(tc, draws_in_time_order);
    tcase_add_test(tc, degenerate_series);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
