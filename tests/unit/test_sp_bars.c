/* Strategies that count their periods in bars (actors/signal-processing,
 * sp_bar_feed and the "bars" parameter): fed every intraday tick, a bar
 * strategy decides exactly as the same strategy stepped over the bars'
 * closes, each decision on the last tick of its bar and reported when the
 * next bar's first tick arrives; the parameter is validated and canonical;
 * the bar being built survives the state's text form. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strategy_state.h"

#define DAY      INT64_C(86400000000000)
#define DAYS     120
#define PER_DAY  5
#define T0       INT64_C(1700006400000000000) /* a UTC midnight */
#define SMA_BARS "{\"fast\":3,\"slow\":8,\"bars\":\"1d\"}"

static sp_params parse_ok(const char *kind, const char *json) {
    sp_params p;
    tb_error err = {0};
    ck_assert_msg(sp_params_parse(kind, json, &p, &err) == TB_OK, "%s: %s", json, err.message);
    return p;
}

START_TEST(bars_parameter) {
    sp_params p = parse_ok("sma_cross", SMA_BARS);
    ck_assert_int_eq(p.bar_ns, DAY);
    char buf[128];
    sp_params_format(&p, buf, sizeof buf);
    ck_assert_str_eq(buf, SMA_BARS);
    p = parse_ok("rsi", "{\"period\":14,\"lower\":30,\"upper\":70,\"bars\":\"5m\"}");
    ck_assert_int_eq(p.bar_ns, INT64_C(300000000000));
    sp_params_format(&p, buf, sizeof buf);
    ck_assert_str_eq(buf, "{\"period\":14,\"lower\":30,\"upper\":70,\"bars\":\"5m\"}");
    p = parse_ok("donchian", "{\"period\":3}"); /* ticks: no bars in the canonical form */
    ck_assert_int_eq(p.bar_ns, 0);
    sp_params_format(&p, buf, sizeof buf);
    ck_assert_str_eq(buf, "{\"period\":3}");
    const char *bad[] = {"{\"fast\":3,\"slow\":8,\"bars\":\"2d\"}",
                         "{\"fast\":3,\"slow\":8,\"bars\":1}",
                         "{\"fast\":3,\"slow\":8,\"bars\":\"\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tb_error err = {0};
        ck_assert_int_eq(sp_params_parse("sma_cross", bad[i], &p, &err), TB_INVALID);
        ck_assert_str_eq(err.field, "params.bars");
    }
}
END_TEST

START_TEST(bar_start_floors) {
    ck_assert_int_eq(sp_bar_start(T0 + 5, DAY), T0);
    ck_assert_int_eq(sp_bar_start(T0, DAY), T0);
    ck_assert_int_eq(sp_bar_start(-1, DAY), -DAY); /* before the epoch: the bar before */
    ck_assert_int_eq(sp_bar_start(-DAY, DAY), -DAY);
}
END_TEST

static tb_fixed tick_price(uint64_t *seed) {
    static tb_fixed p = 100 * TB_FIXED_SCALE;
    *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
    p += ((tb_fixed)((*seed >> 33) % 201) - 100) * (TB_FIXED_SCALE / 100);
    if (p < TB_FIXED_SCALE) p = TB_FIXED_SCALE;
    return p;
}

START_TEST(bars_decide_like_their_closes) {
    sp_params bars = parse_ok("sma_cross", SMA_BARS);
    sp_params ticks = parse_ok("sma_cross", "{\"fast\":3,\"slow\":8}");
    static tb_fixed price[DAYS * PER_DAY];
    uint64_t seed = 11;
    for (int i = 0; i < DAYS * PER_DAY; i++) price[i] = tick_price(&seed);

    /* The reference: the tick strategy over each day's last price. */
    sp_state *ref = malloc(sizeof *ref), *st = malloc(sizeof *st), *back = malloc(sizeof *back);
    sp_state_init(ref, &ticks, 1);
    sp_side want[DAYS];
    int fired = 0;
    for (int d = 0; d < DAYS; d++) {
        sp_decision dec;
        ck_assert_int_eq(sp_step(&ticks, ref, price[d * PER_DAY + PER_DAY - 1], &dec), TB_OK);
        want[d] = dec.side;
        fired += dec.side != SP_SIDE_NONE;
    }
    ck_assert_int_gt(fired, 4);

    sp_state_init(st, &bars, 1);
    int seen = 0;
    for (int i = 0; i < DAYS * PER_DAY; i++) {
        int day = i / PER_DAY;
        int64_t ts = T0 + day * DAY + (int64_t)(i % PER_DAY) * 3600000000000; /* hourly */
        char trace[32];
        snprintf(trace, sizeof trace, "tr-%d", i + 1);
        sp_decision dec;
        sp_bar closed;
        ck_assert_int_eq(
            sp_bar_feed(&bars, st, (uint64_t)i + 1, ts, price[i], trace, &dec, &closed), TB_OK);
        bool first_of_day = i % PER_DAY == 0 && day > 0;
        if (!first_of_day) {
            ck_assert_int_eq(dec.side, SP_SIDE_NONE); /* nothing inside a bar */
            continue;
        }
        /* The previous day finished: its decision, on its last tick. */
        ck_assert_int_eq(dec.side, want[day - 1]);
        ck_assert_uint_eq(closed.seq, (uint64_t)i);
        ck_assert_int_eq(closed.close, price[i - 1]);
        ck_assert_int_eq(closed.start, T0 + (day - 1) * DAY);
        snprintf(trace, sizeof trace, "tr-%d", i);
        ck_assert_str_eq(closed.trace, trace);
        seen += dec.side != SP_SIDE_NONE;

        /* The state with its open bar survives its text form. */
        size_t len;
        char *text = sp_state_encode(st, &len);
        ck_assert_ptr_nonnull(text);
        tb_error err = {0};
        ck_assert_msg(sp_state_decode(text, len, &bars, back, &err) == TB_OK, "%s", err.message);
        char *again = sp_state_encode(back, NULL);
        ck_assert_str_eq(text, again);
        ck_assert(back->bar.open);
        ck_assert_int_eq(back->bar.start, T0 + day * DAY);
        free(text);
        free(again);
    }
    /* Every decision but the last day's (its bar never finished). */
    ck_assert_int_eq(seen, fired - (want[DAYS - 1] != SP_SIDE_NONE));
    /* A tick strategy's state does not take a bar. */
    char *text = sp_state_encode(st, NULL);
    tb_error err = {0};
    sp_state *tick_state = malloc(sizeof *tick_state);
    ck_assert_int_eq(sp_state_decode(text, strlen(text), &ticks, tick_state, &err), TB_INVALID);
    free(text);
    free(tick_state);
    free(ref);
    free(st);
    free(back);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sp_bars");
    TCase *tc = tcase_create("bars");
    tcase_add_test(tc, bars_parameter);
    tcase_add_test(tc, bar_start_floors);
    tcase_add_test(tc, bars_decide_like_their_closes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
