/* Metrics registry: values, label escaping, and that the rendering passes
 * the exposition-format checker (which itself must reject broken input). */
#include <stdlib.h>
#include <string.h>

#include "tb_test.h"

START_TEST(counters_gauges_render) {
    bus_metrics *m = bus_metrics_create("svc", "i1");
    bus_series *c = bus_metrics_counter(m, "tb_x_total", "X things", "k", "a\"b\\c\nd", NULL);
    bus_series *g = bus_metrics_gauge(m, "tb_g", "A gauge", NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_eq(c, bus_metrics_counter(m, "tb_x_total", "X things", "k", "a\"b\\c\nd", NULL));
    bus_counter_add(c, 3);
    bus_gauge_set(g, -7);
    bus_gauge_add(g, 2);
    ck_assert_int_eq(bus_series_value(c), 3);
    ck_assert_int_eq(bus_series_value(g), -5);
    /* same name with another type is refused */
    ck_assert_ptr_null(bus_metrics_gauge(m, "tb_x_total", "X things", NULL));
    ck_assert_ptr_null(bus_metrics_counter(m, "0bad", "bad name", NULL));
    char *text = NULL;
    size_t len = 0;
    ck_assert_int_eq(bus_metrics_render(m, &text, &len), 0);
    ck_assert_ptr_nonnull(strstr(text, "# HELP tb_x_total X things\n# TYPE tb_x_total counter\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "tb_x_total{service=\"svc\",instance=\"i1\",k=\"a\\\"b\\\\c\\nd\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "tb_g{service=\"svc\",instance=\"i1\"} -5\n"));
    const char *e = tb_prom_check(text);
    ck_assert_msg(e == NULL, "%s\n%s", e, text);
    free(text);
    bus_metrics_destroy(m);
}
END_TEST

START_TEST(histogram_shape) {
    bus_metrics *m = bus_metrics_create("svc", NULL);
    bus_series *h = bus_metrics_histogram(m, "tb_lat_seconds", "Latency", "ep", "a", NULL);
    bus_series *h2 = bus_metrics_histogram(m, "tb_lat_seconds", "Latency", "ep", "b", NULL);
    bus_histogram_observe_ns(h, 50000);       /* 0.00005 s: first bucket */
    bus_histogram_observe_ns(h, 3000000);     /* 0.003 s */
    bus_histogram_observe_ns(h, 60000000000); /* 60 s: only +Inf */
    bus_histogram_observe_ns(h2, 1000000);
    char *text = NULL;
    size_t len = 0;
    ck_assert_int_eq(bus_metrics_render(m, &text, &len), 0);
    ck_assert_ptr_nonnull(
        strstr(text, "tb_lat_seconds_bucket{service=\"svc\",ep=\"a\",le=\"0.0001\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "tb_lat_seconds_bucket{service=\"svc\",ep=\"a\",le=\"0.005\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "tb_lat_seconds_bucket{service=\"svc\",ep=\"a\",le=\"10\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "tb_lat_seconds_bucket{service=\"svc\",ep=\"a\",le=\"+Inf\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "tb_lat_seconds_count{service=\"svc\",ep=\"a\"} 3\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "tb_lat_seconds_sum{service=\"svc\",ep=\"a\"} 60.003050000\n"));
    const char *e = tb_prom_check(text);
    ck_assert_msg(e == NULL, "%s\n%s", e, text);
    free(text);
    bus_metrics_destroy(m);
}
END_TEST

START_TEST(size_histogram_shape) {
    bus_metrics *m = bus_metrics_create("svc", NULL);
    bus_series *h = bus_metrics_size_histogram(m, "tb_batch_size", "Batch sizes", "ep", "a", NULL);
    bus_histogram_observe_size(h, 1);
    bus_histogram_observe_size(h, 3);      /* le=4 */
    bus_histogram_observe_size(h, 1024);   /* le=1024 */
    bus_histogram_observe_size(h, 100000); /* only +Inf */
    char *text = NULL;
    size_t len = 0;
    ck_assert_int_eq(bus_metrics_render(m, &text, &len), 0);
    ck_assert_ptr_nonnull(strstr(text, "# TYPE tb_batch_size histogram\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "tb_batch_size_bucket{service=\"svc\",ep=\"a\",le=\"1\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "tb_batch_size_bucket{service=\"svc\",ep=\"a\",le=\"2\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "tb_batch_size_bucket{service=\"svc\",ep=\"a\",le=\"4\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "tb_batch_size_bucket{service=\"svc\",ep=\"a\",le=\"1024\"} 3\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "tb_batch_size_bucket{service=\"svc\",ep=\"a\",le=\"+Inf\"} 4\n"));
    ck_assert_ptr_nonnull(strstr(text, "tb_batch_size_sum{service=\"svc\",ep=\"a\"} 101028\n"));
    ck_assert_int_eq(bus_series_value(h), 4);
    const char *e = tb_prom_check(text);
    ck_assert_msg(e == NULL, "%s\n%s", e, text);
    free(text);
    bus_metrics_destroy(m);
}
END_TEST

START_TEST(checker_rejects_broken_expositions) {
    ck_assert_ptr_null(tb_prom_check("# HELP a A\n# TYPE a counter\na 1\n"));
    ck_assert_ptr_nonnull(tb_prom_check("a 1\n")); /* no TYPE */
    ck_assert_ptr_nonnull(tb_prom_check("# HELP a A\n# TYPE a counter\na{k=\"x} 1\n"));
    ck_assert_ptr_nonnull(tb_prom_check("# HELP a A\n# TYPE a counter\na{k=\"\\x\"} 1\n"));
    ck_assert_ptr_nonnull(tb_prom_check("# HELP a A\n# TYPE a counter\na one\n"));
    ck_assert_ptr_nonnull(tb_prom_check("# HELP a A\n# TYPE a counter\na 1")); /* no newline */
    const char *noncum = "# HELP h H\n# TYPE h histogram\nh_bucket{le=\"1\"} 5\n"
                         "h_bucket{le=\"+Inf\"} 3\nh_sum 1\nh_count 3\n";
    ck_assert_ptr_nonnull(tb_prom_check(noncum));
    const char *noinf =
        "# HELP h H\n# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_sum 1\nh_count 3\n";
    ck_assert_ptr_nonnull(tb_prom_check(noinf));
    const char *badcount =
        "# HELP h H\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_sum 1\nh_count 4\n";
    ck_assert_ptr_nonnull(tb_prom_check(badcount));
}
END_TEST

int main(void) {
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, counters_gauges_render);
    tcase_add_test(tc, histogram_shape);
    tcase_add_test(tc, size_histogram_shape);
    tcase_add_test(tc, checker_rejects_broken_expositions);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
