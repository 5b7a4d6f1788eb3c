/* Merging Prometheus expositions of several instances: each family's HELP
 * and TYPE once, every instance's samples kept, conflicting or stray lines
 * dropped and counted, and the result valid for the format checker. */
#include <stdlib.h>
#include <string.h>

#include "prom.h"
#include "tb_test.h"

static const char inst_a[] = "# HELP tb_up 1 while the instance runs\n"
                             "# TYPE tb_up gauge\n"
                             "tb_up{service=\"a\",instance=\"1\"} 1\n"
                             "# HELP tb_lat Latency\n"
                             "# TYPE tb_lat histogram\n"
                             "tb_lat_bucket{service=\"a\",instance=\"1\",le=\"0.1\"} 1\n"
                             "tb_lat_bucket{service=\"a\",instance=\"1\",le=\"+Inf\"} 2\n"
                             "tb_lat_sum{service=\"a\",instance=\"1\"} 0.5\n"
                             "tb_lat_count{service=\"a\",instance=\"1\"} 2\n";

static const char inst_b[] = "# HELP tb_lat Latency (other words)\n"
                             "# TYPE tb_lat histogram\n"
                             "tb_lat_bucket{service=\"b\",instance=\"2\",le=\"0.1\"} 0\n"
                             "tb_lat_bucket{service=\"b\",instance=\"2\",le=\"+Inf\"} 3\n"
                             "tb_lat_sum{service=\"b\",instance=\"2\"} 1.5\n"
                             "tb_lat_count{service=\"b\",instance=\"2\"} 3\n"
                             "# HELP tb_up 1 while the instance runs\n"
                             "# TYPE tb_up gauge\n"
                             "tb_up{service=\"b\",instance=\"2\"} 1\n"
                             "# HELP tb_fills_total Fills\n"
                             "# TYPE tb_fills_total counter\n"
                             "tb_fills_total{service=\"b\",instance=\"2\"} 7\n";

static size_t count(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

START_TEST(merges_families) {
    gw_prom *p = gw_prom_create();
    ck_assert_int_eq(gw_prom_add(p, inst_a, strlen(inst_a)), 0);
    ck_assert_int_eq(gw_prom_add(p, inst_b, strlen(inst_b)), 0);
    size_t len;
    char *out = gw_prom_render(p, &len);
    ck_assert_uint_eq(len, strlen(out));
    const char *problem = tb_prom_check(out);
    ck_assert_msg(problem == NULL, "%s\n%s", problem, out);
    ck_assert_uint_eq(count(out, "# HELP tb_up "), 1);
    ck_assert_uint_eq(count(out, "# TYPE tb_lat histogram"), 1);
    ck_assert_uint_eq(count(out, "# HELP tb_lat Latency\n"), 1); /* first HELP wins */
    ck_assert_uint_eq(count(out, "tb_up{"), 2);
    ck_assert_uint_eq(count(out, "tb_lat_bucket{"), 4);
    ck_assert_ptr_nonnull(strstr(out, "tb_fills_total{service=\"b\",instance=\"2\"} 7\n"));
    /* families keep first-seen order; samples follow their family */
    ck_assert(strstr(out, "# HELP tb_up") < strstr(out, "tb_up{service=\"b\""));
    ck_assert(strstr(out, "tb_up{service=\"b\"") < strstr(out, "# HELP tb_lat"));
    free(out);
    gw_prom_destroy(p);
}
END_TEST

START_TEST(drops_conflicts_and_strays) {
    gw_prom *p = gw_prom_create();
    ck_assert_int_eq(gw_prom_add(p, inst_a, strlen(inst_a)), 0);
    static const char bad[] = "stray_metric 1\n" /* before any family */
                              "# HELP tb_up redefined\n"
                              "# TYPE tb_up counter\n" /* conflicts with gauge */
                              "tb_up{instance=\"3\"} 5\n"
                              "# HELP tb_new New\n"
                              "# TYPE tb_new gauge\n"
                              "tb_other 3\n" /* not of tb_new */
                              "tb_new 4\n"
                              "# TYPE tb_bare counter\n" /* TYPE without HELP */
                              "tb_bare 9";               /* no final newline */
    ck_assert_int_eq(gw_prom_add(p, bad, strlen(bad)), 4);
    size_t len;
    char *out = gw_prom_render(p, &len);
    const char *problem = tb_prom_check(out);
    ck_assert_msg(problem == NULL, "%s\n%s", problem, out);
    ck_assert_ptr_null(strstr(out, "instance=\"3\""));
    ck_assert_ptr_null(strstr(out, "stray_metric"));
    ck_assert_ptr_null(strstr(out, "tb_other"));
    ck_assert_ptr_nonnull(strstr(out, "\ntb_new 4\n"));
    ck_assert_ptr_nonnull(
        strstr(out, "# HELP tb_bare tb_bare\n# TYPE tb_bare counter\ntb_bare 9\n"));
    free(out);
    gw_prom_destroy(p);
}
END_TEST

START_TEST(empty_input) {
    gw_prom *p = gw_prom_create();
    ck_assert_int_eq(gw_prom_add(p, "", 0), 0);
    size_t len = 99;
    char *out = gw_prom_render(p, &len);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(len, 0);
    free(out);
    gw_prom_destroy(p);
    gw_prom_destroy(NULL);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gw_prom");
    TCase *tc = tcase_create("prom");
    tcase_add_test(tc, merges_families);
    tcase_add_test(tc, drops_conflicts_and_strays);
    tcase_add_test(tc, empty_input);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
