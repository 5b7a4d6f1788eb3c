/* historical-data's request endpoints against a running tb-historical-data:
 * api.bars.import stores good CSV (both formats) and refuses bad CSV whole,
 * naming the first bad line; api.bars.query returns bars oldest first with
 * from/to/limit/cursor, the newest ones when no start is given, its 5000 cap,
 * and clear errors for bad queries. */
#include "test_hist_common.h"

#define SEC       INT64_C(1000000000)
#define FX(units) ((tb_fixed)(units)*TB_FIXED_SCALE)
/* 2024-01-02T00:00:00Z */
#define JAN2 (INT64_C(1704153600) * SEC)

static bus_config cfg;
static bus_conn *conn;
static PGconn *pg;
static char log_path[256];
static pid_t worker;

static void setup(void) {
    tb_test_config(&cfg, "hist-import-test");
    conn = tb_test_conn(&cfg);
    pg = th_pg(&cfg);
    th_log_path(log_path, sizeof log_path, "test_hist_import");
    th_start(conn, "actors/historical-data/tb-historical-data", "historical-data", 1, &worker, NULL,
             log_path);
}

/* Stops what the last test did not (it failed early). */
static void teardown(void) {
    if (tb_test_stop(worker, 20000) != 0)
        fprintf(stderr, "tb-historical-data did not exit cleanly (see %s)\n", log_path);
    PQfinish(pg);
    bus_conn_close(conn);
}

static tb_status import_csv(const char *csv, tb_bars_import_result *res, tb_error *err) {
    bus_bytes rep;
    tb_status s =
        bus_request_bytes(conn, "api.bars.import", csv, strlen(csv), NULL, 10000, NULL, &rep, err);
    if (s != TB_OK) return s;
    s = tb_decode(&tb_bars_import_result_desc, rep.data, rep.len, res, err);
    bus_bytes_free(&rep);
    return s;
}

static tb_status query(const tb_query *q, tb_bar **bars, size_t *n, char next[TB_ID_CAP],
                       tb_error *err) {
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    ck_assert_int_eq(tb_encode(&tb_query_desc, q, &buf, NULL), TB_OK);
    bus_bytes rep;
    tb_status s = bus_request_bytes(conn, "api.bars.query", buf.data, buf.size, "query", 10000,
                                    NULL, &rep, err);
    msgpack_sbuffer_destroy(&buf);
    if (s != TB_OK) return s;
    void *items = NULL;
    s = tb_decode_list(&tb_bar_desc, rep.data, rep.len, &items, n, next, err);
    bus_bytes_free(&rep);
    *bars = items;
    return s;
}

static tb_query bars_query(const char *sym, const char *iv) {
    tb_query q = {0};
    snprintf(q.symbol, sizeof q.symbol, "%s", sym);
    snprintf(q.interval, sizeof q.interval, "%s", iv);
    return q;
}

static long long stored(const char *sym) {
    return th_scalar(pg, "SELECT count(*) FROM bars WHERE symbol = $1", sym);
}

/* Ten 1m bars from 00:00 (bar k: open 100+k, high 102+k, low 99+k,
 * close 101+k, volume 10k+1) and three 5m bars. */
static char *full_csv(const char *sym) {
    static char csv[4096];
    int n = snprintf(csv, sizeof csv, "start,symbol,interval,open,high,low,close,volume\n");
    for (int k = 0; k < 10; k++)
        n += snprintf(csv + n, sizeof csv - (size_t)n,
                      "2024-01-02T00:%02d:00Z,%s,1m,%d,%d,%d,%d,%d\n", k, sym, 100 + k, 102 + k,
                      99 + k, 101 + k, 10 * k + 1);
    for (int k = 0; k < 3; k++)
        n += snprintf(csv + n, sizeof csv - (size_t)n,
                      "2024-01-02T00:%02d:00Z,%s,5m,1.5,2.25,1.25,2,0.5\n", 5 * k, sym);
    return csv;
}

START_TEST(import_full_format_then_query) {
    char sym[48];
    tb_test_unique(sym, sizeof sym, "HI");
    tb_bars_import_result res;
    tb_error err = {0};
    ck_assert_msg(import_csv(full_csv(sym), &res, &err) == TB_OK, "%s", err.message);
    ck_assert_uint_eq(res.rows, 13);
    ck_assert_uint_eq(res.errors, 0);
    ck_assert_int_eq(stored(sym), 13);

    /* No from: the newest bars, oldest first. */
    tb_query q = bars_query(sym, "1m");
    tb_bar *bars = NULL;
    size_t n = 0;
    char next[TB_ID_CAP];
    ck_assert_int_eq(query(&q, &bars, &n, next, &err), TB_OK);
    ck_assert_uint_eq(n, 10);
    for (size_t k = 0; k < n; k++) {
        ck_assert_str_eq(bars[k].symbol, sym);
        ck_assert_str_eq(bars[k].interval, "1m");
        ck_assert_int_eq(bars[k].start, JAN2 + (int64_t)k * 60 * SEC);
        ck_assert_int_eq(bars[k].open, FX(100 + (int)k));
        ck_assert_int_eq(bars[k].high, FX(102 + (int)k));
        ck_assert_int_eq(bars[k].low, FX(99 + (int)k));
        ck_assert_int_eq(bars[k].close, FX(101 + (int)k));
        ck_assert_int_eq(bars[k].volume, FX(10 * (int)k + 1));
    }
    ck_assert_str_eq(next, "");
    free(bars);

    q.limit = 3;
    ck_assert_int_eq(query(&q, &bars, &n, next, &err), TB_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(bars[0].start, JAN2 + 7 * 60 * SEC);
    ck_assert_int_eq(bars[2].start, JAN2 + 9 * 60 * SEC);
    free(bars);

    /* From 00:03, four at a time, following the cursor; to is exclusive. */
    q.limit = 4;
    q.from = JAN2 + 3 * 60 * SEC;
    q.to = JAN2 + 9 * 60 * SEC;
    ck_assert_int_eq(query(&q, &bars, &n, next, &err), TB_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(bars[0].start, JAN2 + 3 * 60 * SEC);
    ck_assert_int_eq(bars[3].start, JAN2 + 6 * 60 * SEC);
    free(bars);
    ck_assert_str_ne(next, "");
    snprintf(q.cursor, sizeof q.cursor, "%s", next);
    ck_assert_int_eq(query(&q, &bars, &n, next, &err), TB_OK);
    ck_assert_uint_eq(n, 2); /* 00:07, 00:08; 00:09 is at `to` */
    ck_assert_int_eq(bars[0].start, JAN2 + 7 * 60 * SEC);
    ck_assert_int_eq(bars[1].start, JAN2 + 8 * 60 * SEC);
    ck_assert_str_eq(next, "");
    free(bars);

    q = bars_query(sym, "5m");
    ck_assert_int_eq(query(&q, &bars, &n, next, &err), TB_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(bars[1].start, JAN2 + 5 * 60 * SEC);
    ck_assert_int_eq(bars[1].high, 225000000);
    ck_assert_int_eq(bars[1].volume, 50000000);
    free(bars);

    /* Importing a bar again replaces it. */
    char again[256];
    snprintf(
        again, sizeof again,
        "start,symbol,interval,open,high,low,close,volume\n2024-01-02T00:05:00Z,%s,5m,3,4,2,3,9\n",
        sym);
    ck_assert_int_eq(import_csv(again, &res, &err), TB_OK);
    ck_assert_uint_eq(res.rows, 1);
    q.from = JAN2 + 5 * 60 * SEC;
    q.limit = 1;
    ck_assert_int_eq(query(&q, &bars, &n, next, &err), TB_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(bars[0].open, FX(3));
    ck_assert_int_eq(bars[0].volume, FX(9));
    free(bars);
    ck_assert_int_eq(stored(sym), 13);
}
END_TEST

START_TEST(import_daily_closes) {
    char sym[48];
    tb_test_unique(sym, sizeof sym, "HD");
    char csv[512];
    snprintf(csv, sizeof csv, "date,symbol,close\n2024-01-02,%s,16769.36\n2024-01-03,%s,16538.39\n",
             sym, sym);
    tb_bars_import_result res;
    tb_error err = {0};
    ck_assert_msg(import_csv(csv, &res, &err) == TB_OK, "%s", err.message);
    ck_assert_uint_eq(res.rows, 2);
    tb_query q = bars_query(sym, "1d");
    tb_bar *bars = NULL;
    size_t n = 0;
    char next[TB_ID_CAP];
    ck_assert_int_eq(query(&q, &bars, &n, next, &err), TB_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(bars[0].start, JAN2);
    ck_assert_int_eq(bars[1].start, JAN2 + 86400 * SEC);
    ck_assert_int_eq(bars[0].close, 1676936000000);
    ck_assert_int_eq(bars[1].open, 1653839000000);
    ck_assert_int_eq(bars[1].high, 1653839000000);
    ck_assert_int_eq(bars[1].low, 1653839000000);
    free(bars);
}
END_TEST

START_TEST(bad_csv_stores_nothing) {
    char sym[48];
    tb_test_unique(sym, sizeof sym, "HX");
    /* Lines 2, 3 and 5 are good, line 4 is bad: nothing may be stored. */
    char csv[1024];
    snprintf(csv, sizeof csv,
             "start,symbol,interval,open,high,low,close,volume\n"
             "2024-01-02T00:00:00Z,%s,1m,10,12,9,11,5\n"
             "2024-01-02T00:01:00Z,%s,1m,10,12,9,11,5\n"
             "2024-01-02T00:02:00Z,%s,1m,10,8,9,11,5\n"
             "2024-01-02T00:03:00Z,%s,1m,10,12,9,11,5\n",
             sym, sym, sym, sym);
    tb_bars_import_result res;
    tb_error err = {0};
    ck_assert_int_eq(import_csv(csv, &res, &err), TB_INVALID);
    ck_assert_msg(strstr(err.message, "line 4: high is below low") != NULL, "%s", err.message);
    ck_assert_msg(strstr(err.message, "nothing stored") != NULL, "%s", err.message);
    ck_assert_int_eq(stored(sym), 0);

    /* Two bad rows: both counted, the first named. */
    snprintf(csv, sizeof csv,
             "date,symbol,close\n2024-01-02,%s,1\n2024-01-03,%s,-1\n2024-01-04,%s,x\n", sym, sym,
             sym);
    ck_assert_int_eq(import_csv(csv, &res, &err), TB_INVALID);
    ck_assert_msg(strstr(err.message, "2 bad rows") != NULL, "%s", err.message);
    ck_assert_msg(strstr(err.message, "line 3: close: not positive") != NULL, "%s", err.message);
    ck_assert_int_eq(stored(sym), 0);

    ck_assert_int_eq(import_csv("", &res, &err), TB_INVALID);
    ck_assert_int_eq(import_csv("hello\x01world", &res, &err), TB_INVALID);
    ck_assert_msg(strstr(err.message, "line 1") != NULL, "%s", err.message);
    ck_assert_int_eq(stored(sym), 0);
}
END_TEST

START_TEST(query_limits_and_errors) {
    char sym[48];
    tb_test_unique(sym, sizeof sym, "HL");
    /* 5001 one-second bars. */
    size_t cap = 5001 * 80 + 128, n = 0;
    char *csv = malloc(cap);
    n += (size_t)snprintf(csv, cap, "start,symbol,interval,open,high,low,close,volume\n");
    for (int k = 0; k < 5001; k++) {
        char ts[40];
        tb_ts_format(JAN2 + (int64_t)k * SEC, ts);
        n += (size_t)snprintf(csv + n, cap - n, "%s,%s,1s,%d,%d,1,1,0\n", ts, sym, k + 1, k + 1);
    }
    tb_bars_import_result res;
    tb_error err = {0};
    ck_assert_msg(import_csv(csv, &res, &err) == TB_OK, "%s", err.message);
    free(csv);
    ck_assert_uint_eq(res.rows, 5001);

    tb_query q = bars_query(sym, "1s");
    tb_bar *bars = NULL;
    size_t nb = 0;
    char next[TB_ID_CAP];
    ck_assert_int_eq(query(&q, &bars, &nb, next, &err), TB_OK);
    ck_assert_uint_eq(nb, 500); /* default */
    ck_assert_int_eq(bars[499].start, JAN2 + 5000 * SEC);
    ck_assert_int_eq(bars[0].start, JAN2 + 4501 * SEC);
    free(bars);
    q.limit = 100000;
    ck_assert_int_eq(query(&q, &bars, &nb, next, &err), TB_OK);
    ck_assert_uint_eq(nb, 5000); /* capped, the newest */
    ck_assert_int_eq(bars[0].start, JAN2 + 1 * SEC);
    ck_assert_int_eq(bars[0].open, FX(2));
    free(bars);

    tb_query bad = bars_query("", "1s");
    ck_assert_int_eq(query(&bad, &bars, &nb, next, &err), TB_MISSING_FIELD);
    ck_assert_str_eq(err.field, "symbol");
    bad = bars_query(sym, "");
    ck_assert_int_eq(query(&bad, &bars, &nb, next, &err), TB_MISSING_FIELD);
    ck_assert_str_eq(err.field, "interval");
    bad = bars_query(sym, "1s");
    bad.from = JAN2 + 10 * SEC;
    bad.to = JAN2;
    ck_assert_int_eq(query(&bad, &bars, &nb, next, &err), TB_INVALID);
    bad = bars_query(sym, "1s");
    snprintf(bad.cursor, sizeof bad.cursor, "abc");
    ck_assert_int_eq(query(&bad, &bars, &nb, next, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "cursor");
    /* An unknown symbol is an empty list, not an error. */
    bad = bars_query("NO_SUCH_SYMBOL_X", "1s");
    ck_assert_int_eq(query(&bad, &bars, &nb, next, &err), TB_OK);
    ck_assert_uint_eq(nb, 0);
    free(bars);
}
END_TEST

/* Last: the service drains and exits 0 (under ASan: without leaks or memory
 * errors). A test, not the teardown: a failure in an unchecked teardown is
 * not recorded. */
START_TEST(historical_data_stops_cleanly) {
    int rc = tb_test_stop(worker, 20000);
    worker = 0;
    ck_assert_msg(rc == 0, "tb-historical-data exited with %d (see %s)", rc, log_path);
}
END_TEST

int main(void) {
    Suite *s = suite_create("hist_import");
    TCase *tc = tcase_create("endpoints");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, import_full_format_then_query);
    tcase_add_test(tc, import_daily_closes);
    tcase_add_test(tc, bad_csv_stores_nothing);
    tcase_add_test(tc, query_limits_and_errors);
    tcase_add_test(tc, historical_data_stops_cleanly);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
