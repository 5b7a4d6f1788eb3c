/* InfluxDB sink without a server: the line protocol's escaping and exact
 * decimal field values, the settings, and that a sink whose server does not
 * answer never blocks a writer: its queue fills, further points are
 * dropped and counted, and destroying it returns. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "influx.h"
#include "tb_test.h"

static size_t line(char *buf, size_t cap, void (*fill)(bus_influx_line *l)) {
    bus_influx_line l;
    bus_influx_line_init(&l, buf, cap, "bars");
    fill(&l);
    return bus_influx_line_end(&l, 1700000000000000000);
}

static void bar_fields(bus_influx_line *l) {
    bus_influx_line_tag(l, "symbol", "DAX");
    bus_influx_line_tag(l, "interval", "1m");
    bus_influx_line_fixed(l, "open", 1600050000000); /* 16000.5 */
    bus_influx_line_fixed(l, "low", 1);              /* 0.00000001 */
    bus_influx_line_fixed(l, "close", -250000000);   /* -2.5 */
    bus_influx_line_fixed(l, "volume", 0);           /* 0 */
    bus_influx_line_fixed(l, "max", INT64_MAX);      /* 92233720368.54775807 */
    bus_influx_line_int(l, "ticks", 42);
}

START_TEST(bar_line_exact_decimals) {
    char buf[512];
    size_t n = line(buf, sizeof buf, bar_fields);
    ck_assert_str_eq(buf, "bars,symbol=DAX,interval=1m open=16000.5,low=0.00000001,close=-2.5,"
                          "volume=0,max=92233720368.54775807,ticks=42i 1700000000000000000");
    ck_assert_uint_eq(n, strlen(buf));
}
END_TEST

static void escaped_fields(bus_influx_line *l) {
    bus_influx_line_tag(l, "sym bol", "a,b=c d");
    bus_influx_line_tag(l, "k=1", "back\\slash");
    bus_influx_line_str(l, "note", "say \"hi\" \\ ok, x=1");
    bus_influx_line_fixed(l, "f,1 =", 100000000);
}

START_TEST(escaping_per_line_protocol) {
    char buf[512];
    ck_assert_uint_gt(line(buf, sizeof buf, escaped_fields), 0);
    ck_assert_str_eq(buf, "bars,sym\\ bol=a\\,b\\=c\\ d,k\\=1=back\\slash "
                          "note=\"say \\\"hi\\\" \\\\ ok, x=1\",f\\,1\\ \\==1 1700000000000000000");
    /* the measurement escapes commas and spaces, not equal signs */
    bus_influx_line l;
    bus_influx_line_init(&l, buf, sizeof buf, "my meas,x=y");
    bus_influx_line_int(&l, "v", -7);
    ck_assert_uint_gt(bus_influx_line_end(&l, -5), 0);
    ck_assert_str_eq(buf, "my\\ meas\\,x=y v=-7i -5");
}
END_TEST

static void newline_tag(bus_influx_line *l) {
    bus_influx_line_tag(l, "symbol", "DA\nX");
    bus_influx_line_fixed(l, "open", 1);
}
static void newline_str(bus_influx_line *l) {
    bus_influx_line_str(l, "note", "a\rb");
}
static void empty_tag(bus_influx_line *l) {
    bus_influx_line_tag(l, "symbol", "");
    bus_influx_line_fixed(l, "open", 1);
}
static void tag_after_field(bus_influx_line *l) {
    bus_influx_line_fixed(l, "open", 1);
    bus_influx_line_tag(l, "symbol", "DAX");
}
static void no_fields(bus_influx_line *l) {
    bus_influx_line_tag(l, "symbol", "DAX");
}

START_TEST(invalid_lines_refused) {
    char buf[512];
    ck_assert_uint_eq(line(buf, sizeof buf, newline_tag), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_uint_eq(line(buf, sizeof buf, newline_str), 0);
    ck_assert_uint_eq(line(buf, sizeof buf, empty_tag), 0);
    ck_assert_uint_eq(line(buf, sizeof buf, tag_after_field), 0);
    ck_assert_uint_eq(line(buf, sizeof buf, no_fields), 0);
    /* too small a buffer: refused, never cut */
    char small[40];
    ck_assert_uint_eq(line(small, sizeof small, bar_fields), 0);
    ck_assert_str_eq(small, "");
    /* exactly large enough: the line and its NUL */
    char full[512];
    size_t n = line(full, sizeof full, bar_fields);
    char *exact = malloc(n + 1);
    ck_assert_uint_eq(line(exact, n + 1, bar_fields), n);
    ck_assert_uint_eq(line(exact, n, bar_fields), 0);
    free(exact);
}
END_TEST

START_TEST(settings) {
    tb_error err = {0};
    bus_influx_opts o;
    unsetenv("INFLUX_URL");
    unsetenv("INFLUX_DB");
    ck_assert_int_eq(bus_influx_opts_from_env(&o, &err), TB_OK);
    ck_assert_str_eq(o.url, "");
    ck_assert_str_eq(o.db, "tradebus");
    ck_assert_int_eq(o.queue_lines, 20000);
    ck_assert_int_eq(o.batch_lines, 5000);
    /* disabled: no sink, and writing to none is refused quietly */
    bus_influx *s = (bus_influx *)1;
    ck_assert_int_eq(bus_influx_create(&o, NULL, &s, &err), TB_OK);
    ck_assert_ptr_null(s);
    ck_assert(!bus_influx_write(NULL, "m v=1 1", 7));
    bus_influx_destroy(NULL);

    setenv("INFLUX_URL", "ftp://x", 1);
    ck_assert_int_eq(bus_influx_opts_from_env(&o, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "INFLUX_URL");
    setenv("INFLUX_URL", "http://127.0.0.1:1", 1);
    setenv("INFLUX_DB", "x&y=1", 1);
    ck_assert_int_eq(bus_influx_opts_from_env(&o, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "INFLUX_DB");
    unsetenv("INFLUX_DB");
    setenv("INFLUX_QUEUE_LINES", "0", 1);
    ck_assert_int_eq(bus_influx_opts_from_env(&o, &err), TB_INVALID);
    unsetenv("INFLUX_QUEUE_LINES");
    unsetenv("INFLUX_URL");
}
END_TEST

/* A loopback port nothing listens on: bound, never listened to. */
static int closed_port(int *fd) {
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(*fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(*fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

START_TEST(unreachable_server_never_blocks) {
    int fd;
    int port = closed_port(&fd);
    bus_influx_opts o;
    tb_error err = {0};
    ck_assert_int_eq(bus_influx_opts_from_env(&o, &err), TB_OK);
    snprintf(o.url, sizeof o.url, "http://127.0.0.1:%d/", port);
    o.queue_lines = 1000;
    o.batch_lines = 100;
    o.flush_ms = 10;
    o.timeout_ms = 500;
    o.backoff_max_ms = 200;
    bus_metrics *m = bus_metrics_create("test", "i1");
    bus_influx *s = NULL;
    ck_assert_int_eq(bus_influx_create(&o, m, &s, &err), TB_OK);
    ck_assert_ptr_nonnull(s);
    ck_assert(!bus_influx_write(s, "m v=1 1\nm v=2 2", 15)); /* two lines in one */
    ck_assert(!bus_influx_write(s, "", 0));
    char buf[128];
    int64_t t0 = bus_mono_ns(), worst = 0;
    int accepted = 0;
    for (int i = 0; i < 50000; i++) {
        int n = snprintf(buf, sizeof buf, "ticks,symbol=T price=%d.5 %d", i, i);
        int64_t a = bus_mono_ns();
        accepted += bus_influx_write(s, buf, (size_t)n);
        int64_t d = bus_mono_ns() - a;
        if (d > worst) worst = d;
    }
    double total_ms = (double)(bus_mono_ns() - t0) / 1e6;
    /* The thread holds at most one take of the queue while it retries: the
     * rest was dropped, and every drop counted. */
    ck_assert_int_le(accepted, 2 * o.queue_lines);
    ck_assert_int_ge(accepted, o.queue_lines);
    ck_assert_uint_eq(bus_influx_dropped(s), 50000 - (uint64_t)accepted);
    ck_assert_uint_le(bus_influx_queued(s), (size_t)o.queue_lines);
    /* No write waited for the network (a POST attempt takes the thread far
     * longer than this, and the loop does 50,000 writes). */
    ck_assert_msg(total_ms < 2000, "50,000 writes took %.0f ms", total_ms);
    ck_assert_msg(worst < 200 * 1000000, "one write took %lld ns", (long long)worst);
    int64_t d0 = bus_mono_ns();
    bus_influx_destroy(s);
    double destroy_ms = (double)(bus_mono_ns() - d0) / 1e6;
    ck_assert_msg(destroy_ms < 3000, "destroy took %.0f ms", destroy_ms);
    char *text = NULL;
    size_t len = 0;
    ck_assert_int_eq(bus_metrics_render(m, &text, &len), 0);
    /* Everything not written was counted dropped, nothing written. */
    char want[128];
    snprintf(want, sizeof want,
             "tb_influx_lines_total{service=\"test\",instance=\"i1\",outcome=\"dropped\"} 50000\n");
    ck_assert_msg(strstr(text, want) != NULL, "%s", text);
    ck_assert_ptr_nonnull(strstr(
        text, "tb_influx_lines_total{service=\"test\",instance=\"i1\",outcome=\"written\"} 0\n"));
    ck_assert_ptr_null(
        strstr(text, "tb_influx_write_errors_total{service=\"test\",instance=\"i1\"} 0\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "tb_influx_queue_lines{service=\"test\",instance=\"i1\"} 0\n"));
    const char *e = tb_prom_check(text);
    ck_assert_msg(e == NULL, "%s", e);
    free(text);
    bus_metrics_destroy(m);
    close(fd);
}
END_TEST

int main(void) {
    Suite *s = suite_create("influx");
    TCase *tc = tcase_create("sink");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, bar_line_exact_decimals);
    tcase_add_test(tc, escaping_per_line_protocol);
    tcase_add_test(tc, invalid_lines_refused);
    tcase_add_test(tc, settings);
    tcase_add_test(tc, unreachable_server_never_blocks);
    suite_add_tcase(s, tc);
    return tb_test_run_suite(s);
}
