/* The last-quote cache (bus/quotes.c) on the real bus: when it may
 * answer (a tick heard, or market-data's answer given after the
 * subscription), newer wins, the verification period, the idle sweep, its
 * capacity, and ticks that are not the symbol's. The HTTP side is in
 * test_gateway_api (quotes_from_ticks). */
#include <check.h>
#include <nats/nats.h>
#include <string.h>
#include <time.h>

#include "catalogue.h"
#include "conn.h"
#include "quotes.h"
#include "tb_test.h"

static bus_config cfg;
static bus_conn *conn;

static void setup(void) {
    tb_test_config(&cfg, "test-quotes");
    conn = tb_test_conn(&cfg);
}

static void teardown(void) {
    bus_conn_close(conn);
    conn = NULL;
}

static tb_tick tick(const char *symbol, uint64_t seq, tb_fixed bid) {
    tb_tick t = {.seq = seq, .ts = tb_now_ns(), .bid = bid, .ask = bid + 100000000};
    snprintf(t.symbol, sizeof t.symbol, "%s", symbol);
    return t;
}

static void publish(const char *subject_symbol, const tb_tick *t) {
    char subject[128];
    snprintf(subject, sizeof subject, "md.tick.%s", subject_symbol);
    ck_assert_int_eq(bus_publish(conn, subject, &tb_tick_desc, t, NULL), TB_OK);
    ck_assert_int_eq(bus_conn_flush(conn, 2000), TB_OK);
}

static void sleep_ms(int64_t ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

typedef struct {
    bus_quotes *q;
    const char *symbol;
    uint64_t seq;
} want_seq;

static bool has_seq(void *arg) {
    want_seq *w = arg;
    tb_tick t;
    return bus_quotes_get(w->q, w->symbol, &t) && t.seq == w->seq;
}

/* Waits until the cache answers symbol with seq, or fails the test. */
static void await_seq(bus_quotes *q, const char *symbol, uint64_t seq) {
    want_seq w = {q, symbol, seq};
    ck_assert_msg(tb_test_wait(has_seq, &w, 5000), "the cache never answered %s with seq %llu",
                  symbol, (unsigned long long)seq);
}

START_TEST(a_tick_vouches_for_a_new_symbol) {
    char sym[48];
    tb_test_unique(sym, sizeof sym, "QA");
    bus_quotes *q = bus_quotes_create(conn, NULL, "tb_test", 8, 60000, 60000);
    ck_assert_ptr_nonnull(q);
    tb_tick out;
    ck_assert(!bus_quotes_get(q, sym, &out));
    tb_tick first = tick(sym, 5, 1000000000);
    bus_quotes_learn(q, &first, bus_mono_ns() - 1, NULL); /* asked before the subscription */
    ck_assert_uint_eq(bus_quotes_count(q), 1);
    /* That answer may predate a tick the subscription missed: no answer yet. */
    ck_assert(!bus_quotes_get(q, sym, &out));
    tb_tick t6 = tick(sym, 6, 2000000000);
    publish(sym, &t6);
    await_seq(q, sym, 6);
    ck_assert(bus_quotes_get(q, sym, &out));
    ck_assert_int_eq(out.bid, 2000000000);
    ck_assert_int_eq(out.ts, t6.ts);
    ck_assert_str_eq(out.symbol, sym);
    tb_tick t7 = tick(sym, 7, 3000000000);
    publish(sym, &t7);
    await_seq(q, sym, 7);
    bus_quotes_destroy(q);
}
END_TEST

START_TEST(an_answer_after_the_subscription_vouches) {
    char sym[48];
    tb_test_unique(sym, sizeof sym, "QB");
    bus_quotes *q = bus_quotes_create(conn, NULL, "tb_test", 8, 60000, 60000);
    tb_tick a = tick(sym, 5, 1000000000), out;
    bus_quotes_learn(q, &a, bus_mono_ns() - 1, NULL);
    ck_assert(!bus_quotes_get(q, sym, &out));
    bus_quotes_learn(q, &a, bus_mono_ns(), NULL); /* sent after the subscription was in place */
    ck_assert(bus_quotes_get(q, sym, &out));
    ck_assert_uint_eq(out.seq, 5);

    /* An older answer (market-data read Redis before the tick the cache
     * has) leaves the newer tick; a newer answer replaces it. */
    tb_tick t9 = tick(sym, 9, 9000000000);
    publish(sym, &t9);
    await_seq(q, sym, 9);
    tb_tick old = tick(sym, 8, 8000000000), newer = tick(sym, 12, 12000000000);
    bus_quotes_learn(q, &old, bus_mono_ns(), NULL);
    ck_assert(bus_quotes_get(q, sym, &out));
    ck_assert_uint_eq(out.seq, 9);
    bus_quotes_learn(q, &newer, bus_mono_ns(), NULL);
    ck_assert(bus_quotes_get(q, sym, &out));
    ck_assert_uint_eq(out.seq, 12);
    ck_assert_int_eq(out.bid, 12000000000);
    bus_quotes_destroy(q);
}
END_TEST

START_TEST(answers_stop_when_not_confirmed_within_the_period) {
    char sym[48];
    tb_test_unique(sym, sizeof sym, "QC");
    bus_quotes *q = bus_quotes_create(conn, NULL, "tb_test", 8, 1000, 60000);
    tb_tick a = tick(sym, 1, 1000000000), out;
    bus_quotes_learn(q, &a, bus_mono_ns() - 1, NULL);
    tb_tick t2 = tick(sym, 2, 2000000000);
    publish(sym, &t2);
    await_seq(q, sym, 2);
    sleep_ms(1300);
    /* Ticks keep it current, not confirmed. In the second period one
     * request is sent to market-data, the others are answered meanwhile. */
    ck_assert(!bus_quotes_get(q, sym, &out)); /* this call asks market-data */
    ck_assert(bus_quotes_get(q, sym, &out));  /* this one is answered meanwhile */
    tb_tick t3 = tick(sym, 3, 3000000000);
    publish(sym, &t3);
    await_seq(q, sym, 3);
    sleep_ms(1000);
    /* Past two periods: nothing from the cache until market-data answers. */
    ck_assert(!bus_quotes_get(q, sym, &out));
    ck_assert(!bus_quotes_get(q, sym, &out));
    tb_tick newest;
    bus_quotes_learn(q, &a, bus_mono_ns(), &newest); /* market-data's (older) answer confirms */
    ck_assert_uint_eq(newest.seq, 3); /* the caller is told to use the newer tick it heard */
    ck_assert(bus_quotes_get(q, sym, &out));
    ck_assert_uint_eq(out.seq, 3);
    bus_quotes_destroy(q);
}
END_TEST

START_TEST(idle_symbols_are_forgotten) {
    char sym[48], other[48];
    tb_test_unique(sym, sizeof sym, "QD");
    tb_test_unique(other, sizeof other, "QE");
    bus_quotes *q = bus_quotes_create(conn, NULL, "tb_test", 8, 60000, 300);
    tb_tick a = tick(sym, 1, 1000000000), b = tick(other, 1, 1000000000), out;
    bus_quotes_learn(q, &a, bus_mono_ns(), NULL);
    bus_quotes_learn(q, &b, bus_mono_ns(), NULL);
    ck_assert_uint_eq(bus_quotes_count(q), 2);
    for (int i = 0; i < 5; i++) { /* other is asked for, sym is not */
        sleep_ms(100);
        (void)bus_quotes_get(q, other, &out);
    }
    bus_quotes_sweep(q);
    ck_assert_uint_eq(bus_quotes_count(q), 1);
    ck_assert(!bus_quotes_get(q, sym, &out));
    /* Its subscription is gone: a tick does not bring it back. */
    tb_tick t2 = tick(sym, 2, 2000000000);
    publish(sym, &t2);
    sleep_ms(100);
    ck_assert(!bus_quotes_get(q, sym, &out));
    ck_assert_uint_eq(bus_quotes_count(q), 1);
    bus_quotes_destroy(q);
}
END_TEST

START_TEST(capacity_and_off) {
    char s[3][48];
    bus_quotes *q = bus_quotes_create(conn, NULL, "tb_test", 2, 60000, 60000);
    tb_tick out;
    for (int i = 0; i < 3; i++) {
        tb_test_unique(s[i], sizeof s[i], "QF");
        tb_tick a = tick(s[i], 1, 1000000000);
        bus_quotes_learn(q, &a, bus_mono_ns(), NULL);
        bus_quotes_learn(q, &a, bus_mono_ns(), NULL);
    }
    ck_assert_uint_eq(bus_quotes_count(q), 2);
    ck_assert(bus_quotes_get(q, s[0], &out));
    ck_assert(bus_quotes_get(q, s[1], &out));
    ck_assert(!bus_quotes_get(q, s[2], &out)); /* beyond the capacity: always market-data */
    bus_quotes_destroy(q);

    bus_quotes *off = bus_quotes_create(conn, NULL, "tb_test", 0, 60000, 60000);
    tb_tick a = tick(s[0], 1, 1000000000);
    bus_quotes_learn(off, &a, bus_mono_ns(), NULL);
    bus_quotes_learn(off, &a, bus_mono_ns(), NULL);
    ck_assert_uint_eq(bus_quotes_count(off), 0);
    ck_assert(!bus_quotes_get(off, s[0], &out));
    bus_quotes_destroy(off);
}
END_TEST

START_TEST(a_tick_of_another_symbol_is_ignored) {
    char sym[48];
    tb_test_unique(sym, sizeof sym, "QG");
    bus_quotes *q = bus_quotes_create(conn, NULL, "tb_test", 8, 60000, 60000);
    tb_tick a = tick(sym, 1, 1000000000), out;
    bus_quotes_learn(q, &a, bus_mono_ns() - 1, NULL);
    tb_tick wrong = tick("NOTIT", 50, 5000000000);
    publish(sym, &wrong);
    char subject[128];
    snprintf(subject, sizeof subject, "md.tick.%s", sym);
    const char junk[] = "\xc1 not msgpack";
    ck_assert_int_eq(natsConnection_Publish(bus_conn_nats(conn), subject, junk, sizeof junk),
                     NATS_OK);
    tb_tick t2 = tick(sym, 2, 2000000000);
    publish(sym, &t2);
    await_seq(q, sym, 2);
    ck_assert(bus_quotes_get(q, sym, &out));
    ck_assert_int_eq(out.bid, 2000000000);
    bus_quotes_destroy(q);
}
END_TEST

int main(void) {
    Suite *s = suite_create("bus_quotes");
    TCase *tc = tcase_create("cache");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_tick_vouches_for_a_new_symbol);
    tcase_add_test(tc, an_answer_after_the_subscription_vouches);
    tcase_add_test(tc, answers_stop_when_not_confirmed_within_the_period);
    tcase_add_test(tc, idle_symbols_are_forgotten);
    tcase_add_test(tc, capacity_and_off);
    tcase_add_test(tc, a_tick_of_another_symbol_is_ignored);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    bus_library_close(5000);
    return failed == 0 ? 0 : 1;
}
