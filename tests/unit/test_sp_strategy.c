/* Strategy decisions of signal-processing against reference strategies
 * written here from the textbook definitions (long double indicators plus the
 * documented crossing / zone / breakout rules), warm-up and flat prices;
 * parameter validation with field names; signal construction; the tick
 * ordering rule (first tick, gaps, restarts, duplicates). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sequencer.h"
#include "strategy_config.h"

#define N 2000

static void walk(tb_fixed *out, size_t n, uint64_t seed) {
    int64_t cents = 10000;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        cents += (int)((seed >> 33) % 201) - 100;
        if (cents < 100) cents = 100;
        out[i] = cents * (TB_FIXED_SCALE / 100);
    }
}

static long double ld(tb_fixed v) {
    return (long double)v / TB_FIXED_SCALE;
}

static sp_params params(const char *kind, const char *json) {
    sp_params p;
    tb_error err = {0};
    ck_assert_msg(sp_params_parse(kind, json, &p, &err) == TB_OK, "%s %s: %s", kind, json,
                  err.message);
    return p;
}

/* Runs the strategy over prices; sides[i] gets the decision of tick i. */
static void run(const sp_params *p, const tb_fixed *prices, size_t n, int *sides,
                size_t *first_ready) {
    sp_state *s = malloc(sizeof *s);
    sp_state_init(s, p, 1);
    *first_ready = n;
    for (size_t i = 0; i < n; i++) {
        sp_decision d;
        ck_assert_int_eq(sp_step(p, s, prices[i], &d), TB_OK);
        sides[i] = d.side;
        if (d.ready && *first_ready == n) *first_ready = i;
        if (!d.ready) ck_assert_int_eq(d.side, SP_SIDE_NONE);
        if (d.side != SP_SIDE_NONE) ck_assert(d.reason[0] != '\0');
    }
    free(s);
}

/* Reference crossing rule on a relation series (0 = equal / undefined). */
static int ref_cross(int *last, int rel) {
    int side = 0;
    if (rel != 0) {
        if (*last != 0 && rel != *last) side = rel;
        *last = rel;
    }
    return side;
}

static void compare(const char *what, const int *got, const int *want, size_t n, int *count) {
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(got[i] == want[i], "%s: tick %zu side %d, reference %d", what, i, got[i],
                      want[i]);
        *count += got[i] != 0;
    }
}

START_TEST(sma_cross_matches_reference) {
    static tb_fixed p[N];
    static int got[N], want[N];
    walk(p, N, 11);
    sp_params sp = params("sma_cross", "{\"fast\":5,\"slow\":20}");
    size_t ready;
    run(&sp, p, N, got, &ready);
    ck_assert_uint_eq(ready, 19);
    int last = 0;
    for (size_t i = 0; i < N; i++) {
        want[i] = 0;
        if (i < 19) continue;
        /* Exact: compare sums cross-multiplied in integer cents. */
        long long f = 0, s = 0;
        for (size_t j = i - 4; j <= i; j++) f += p[j] / 1000000;
        for (size_t j = i - 19; j <= i; j++) s += p[j] / 1000000;
        long long l = f * 20, r = s * 5;
        want[i] = ref_cross(&last, (l > r) - (l < r));
    }
    int count;
    compare("sma_cross", got, want, N, &count);
    ck_assert_int_gt(count, 10);
}
END_TEST

START_TEST(ema_cross_matches_reference) {
    static tb_fixed p[N];
    static int got[N], want[N];
    walk(p, N, 12);
    sp_params sp = params("ema_cross", "{\"fast\":6,\"slow\":18}");
    size_t ready;
    run(&sp, p, N, got, &ready);
    ck_assert_uint_eq(ready, 17);
    long double ef = 0, es = 0, af = 2.0L / 7, as = 2.0L / 19;
    int last = 0;
    for (size_t i = 0; i < N; i++) {
        want[i] = 0;
        if (i < 6) ef += ld(p[i]);
        if (i == 5) ef /= 6;
        if (i > 5) ef = af * ld(p[i]) + (1 - af) * ef;
        if (i < 18) es += ld(p[i]);
        if (i == 17) es /= 18;
        if (i > 17) es = as * ld(p[i]) + (1 - as) * es;
        if (i >= 17) want[i] = ref_cross(&last, (ef > es) - (ef < es));
    }
    int count;
    compare("ema_cross", got, want, N, &count);
    ck_assert_int_gt(count, 10);
}
END_TEST

START_TEST(rsi_matches_reference) {
    static tb_fixed p[N];
    static int got[N], want[N];
    walk(p, N, 13);
    sp_params sp = params("rsi", "{\"period\":14,\"lower\":30,\"upper\":70}");
    size_t ready;
    run(&sp, p, N, got, &ready);
    ck_assert_uint_eq(ready, 14);
    long double ag = 0, al = 0;
    int zone = 0;
    for (size_t i = 0; i < N; i++) {
        want[i] = 0;
        if (i == 0) continue;
        long double ch = ld(p[i]) - ld(p[i - 1]);
        long double g = ch > 0 ? ch : 0, l = ch < 0 ? -ch : 0;
        if (i < 14) {
            ag += g, al += l;
            continue;
        }
        if (i == 14)
            ag = (ag + g) / 14, al = (al + l) / 14;
        else
            ag = (ag * 13 + g) / 14, al = (al * 13 + l) / 14;
        if (ag + al == 0) continue;
        long double rsi = 100 * ag / (ag + al);
        int z = rsi < 30 ? -1 : rsi > 70 ? 1 : 0;
        if (z != zone) want[i] = z < 0 ? SP_SIDE_BUY : z > 0 ? SP_SIDE_SELL : 0;
        zone = z;
    }
    int count;
    compare("rsi", got, want, N, &count);
    ck_assert_int_gt(count, 4);
}
END_TEST

START_TEST(bollinger_matches_reference) {
    static tb_fixed p[N];
    static int got[N], want[N];
    walk(p, N, 14);
    sp_params sp = params("bollinger", "{\"period\":20,\"k\":2}");
    size_t ready;
    run(&sp, p, N, got, &ready);
    ck_assert_uint_eq(ready, 19);
    int zone = 0;
    for (size_t i = 0; i < N; i++) {
        want[i] = 0;
        if (i < 19) continue;
        long double mean = 0, var = 0;
        for (size_t j = i - 19; j <= i; j++) mean += ld(p[j]);
        mean /= 20;
        for (size_t j = i - 19; j <= i; j++) var += (ld(p[j]) - mean) * (ld(p[j]) - mean);
        long double sd = sqrtl(var / 20), x = ld(p[i]);
        int z = x < mean - 2 * sd ? -1 : x > mean + 2 * sd ? 1 : 0;
        if (z != zone) want[i] = z < 0 ? SP_SIDE_BUY : z > 0 ? SP_SIDE_SELL : 0;
        zone = z;
    }
    int count;
    compare("bollinger", got, want, N, &count);
    ck_assert_int_gt(count, 10);
}
END_TEST

START_TEST(donchian_matches_reference) {
    static tb_fixed p[N];
    static int got[N], want[N];
    walk(p, N, 15);
    sp_params sp = params("donchian", "{\"period\":20}");
    size_t ready;
    run(&sp, p, N, got, &ready);
    ck_assert_uint_eq(ready, 20);
    int last = 0;
    for (size_t i = 0; i < N; i++) {
        want[i] = 0;
        if (i < 20) continue;
        tb_fixed hi = p[i - 20], lo = p[i - 20];
        for (size_t j = i - 20; j < i; j++) hi = p[j] > hi ? p[j] : hi, lo = p[j] < lo ? p[j] : lo;
        int side = p[i] > hi ? 1 : p[i] < lo ? -1 : 0;
        if (side != 0 && side != last) want[i] = side, last = side;
    }
    int count;
    compare("donchian", got, want, N, &count);
    ck_assert_int_gt(count, 4);
    for (size_t i = 0, prev = 0; i < N; i++) /* stop and reverse: sides alternate */
        if (got[i]) {
            ck_assert_int_ne(got[i], (int)prev);
            prev = (size_t)got[i];
        }
}
END_TEST

START_TEST(flat_prices_never_fire) {
    const char *kinds[][2] = {{"sma_cross", "{\"fast\":2,\"slow\":5}"},
                              {"ema_cross", "{\"fast\":2,\"slow\":5}"},
                              {"rsi", "{\"period\":3,\"lower\":30,\"upper\":70}"},
                              {"bollinger", "{\"period\":4,\"k\":1.5}"},
                              {"donchian", "{\"period\":3}"}};
    static tb_fixed p[300];
    static int got[300];
    for (size_t i = 0; i < 300; i++) p[i] = 4200 * TB_FIXED_SCALE;
    for (size_t k = 0; k < 5; k++) {
        sp_params sp = params(kinds[k][0], kinds[k][1]);
        size_t ready;
        run(&sp, p, 300, got, &ready);
        ck_assert_uint_lt(ready, 10);
        for (size_t i = 0; i < 300; i++)
            ck_assert_msg(got[i] == 0, "%s fired on flat prices", kinds[k][0]);
    }
}
END_TEST

START_TEST(crosses_fire_once_per_cross) {
    /* 10 down, 10 up: one buy (fast crosses above slow) and nothing else;
     * a touch (equal averages) is not a cross. */
    sp_params sp = params("sma_cross", "{\"fast\":2,\"slow\":4}");
    tb_fixed p[] = {10, 9, 8, 7, 6, 5, 5, 6, 7, 8, 9, 10, 11, 12};
    int got[14];
    for (int i = 0; i < 14; i++) p[i] *= TB_FIXED_SCALE;
    size_t ready;
    run(&sp, p, 14, got, &ready);
    ck_assert_uint_eq(ready, 3);
    int buys = 0, sells = 0;
    for (int i = 0; i < 14; i++) buys += got[i] == SP_SIDE_BUY, sells += got[i] == SP_SIDE_SELL;
    ck_assert_int_eq(buys, 1);
    ck_assert_int_eq(sells, 0);
    ck_assert_int_eq(got[7], SP_SIDE_NONE); /* SMA2(5,6) = SMA4(6,5,5,6) = 5.5: a touch */
    ck_assert_int_eq(got[8], SP_SIDE_BUY);  /* SMA2(6,7) = 6.5 > SMA4(5,5,6,7) = 5.75 */
}
END_TEST

START_TEST(step_refuses_a_foreign_state) {
    sp_params a = params("sma_cross", "{\"fast\":2,\"slow\":5}");
    sp_params b = params("sma_cross", "{\"fast\":3,\"slow\":5}");
    sp_state *s = malloc(sizeof *s);
    sp_state_init(s, &a, 1);
    sp_decision d;
    ck_assert_int_eq(sp_step(&b, s, TB_FIXED_SCALE, &d), TB_INVALID);
    sp_params r = params("rsi", "{\"period\":3,\"lower\":30,\"upper\":70}");
    ck_assert_int_eq(sp_step(&r, s, TB_FIXED_SCALE, &d), TB_INVALID);
    free(s);
}
END_TEST

static void bad_params(const char *kind, const char *json, tb_status want, const char *field) {
    sp_params p;
    tb_error err = {0};
    tb_status s = sp_params_parse(kind, json, &p, &err);
    ck_assert_msg(s == want, "%s %s: status %s (%s), want %s", kind, json, tb_status_code(s),
                  err.message, tb_status_code(want));
    ck_assert_msg(strcmp(err.field, field) == 0, "%s %s: field '%s', want '%s'", kind, json,
                  err.field, field);
    ck_assert(err.message[0] != '\0');
}

START_TEST(params_are_validated_with_field_names) {
    bad_params("macd", "{}", TB_INVALID, "kind");
    bad_params("sma_cross", "{\"slow\":20}", TB_INVALID, "params.fast");
    bad_params("sma_cross", "{\"fast\":5}", TB_INVALID, "params.slow");
    bad_params("sma_cross", "{\"fast\":20,\"slow\":20}", TB_INVALID, "params.fast");
    bad_params("ema_cross", "{\"fast\":30,\"slow\":20}", TB_INVALID, "params.fast");
    bad_params("sma_cross", "{\"fast\":0,\"slow\":20}", TB_INVALID, "params.fast");
    bad_params("sma_cross", "{\"fast\":5,\"slow\":1001}", TB_INVALID, "params.slow");
    bad_params("sma_cross", "{\"fast\":5.5,\"slow\":20}", TB_INVALID, "params.fast");
    bad_params("sma_cross", "{\"fast\":\"5\",\"slow\":20}", TB_INVALID, "params.fast");
    bad_params("sma_cross", "{\"fast\":5,\"slow\":20,\"fsat\":3}", TB_UNKNOWN_FIELD, "params.fsat");
    bad_params("sma_cross", "{\"fast\":5,", TB_INVALID, "params");
    bad_params("sma_cross", "[5,20]", TB_INVALID, "params");
    bad_params("sma_cross", "{\"fast\":5,\"fast\":6,\"slow\":20}", TB_INVALID, "params");
    bad_params("rsi", "{\"period\":14,\"lower\":70,\"upper\":30}", TB_INVALID, "params.lower");
    bad_params("rsi", "{\"period\":14,\"lower\":0,\"upper\":70}", TB_INVALID, "params.lower");
    bad_params("rsi", "{\"period\":14,\"lower\":30,\"upper\":100}", TB_INVALID, "params.upper");
    bad_params("rsi", "{\"period\":1,\"lower\":30,\"upper\":70}", TB_INVALID, "params.period");
    bad_params("rsi", "{\"period\":14,\"upper\":70}", TB_INVALID, "params.lower");
    bad_params("rsi", "{\"period\":14,\"lower\":true,\"upper\":70}", TB_INVALID, "params.lower");
    bad_params("bollinger", "{\"period\":20,\"k\":0}", TB_INVALID, "params.k");
    bad_params("bollinger", "{\"period\":20,\"k\":11}", TB_INVALID, "params.k");
    bad_params("bollinger", "{\"period\":20,\"k\":\"2.123456789\"}", TB_PRECISION, "params.k");
    bad_params("bollinger", "{\"period\":20,\"k\":\"two\"}", TB_INVALID, "params.k");
    bad_params("donchian", "{}", TB_INVALID, "params.period");
    bad_params("donchian", "", TB_INVALID, "params.period");
}
END_TEST

START_TEST(params_canonical_form) {
    char buf[256];
    sp_params p = params("rsi", "{ \"upper\": 70.5, \"lower\": \"29.25\", \"period\": 14 }");
    ck_assert_int_eq(p.lower, 2925000000);
    ck_assert_int_eq(p.upper, 7050000000);
    sp_params_format(&p, buf, sizeof buf);
    ck_assert_str_eq(buf, "{\"period\":14,\"lower\":29.25,\"upper\":70.5}");
    p = params("bollinger", "{\"period\":20,\"k\":0.1}"); /* the double 0.1 reads as 0.1 */
    ck_assert_int_eq(p.k, 10000000);
    sp_params_format(&p, buf, sizeof buf);
    ck_assert_str_eq(buf, "{\"period\":20,\"k\":0.1}");
    p = params("sma_cross", "{\"slow\":30,\"fast\":10}");
    sp_params_format(&p, buf, sizeof buf);
    ck_assert_str_eq(buf, "{\"fast\":10,\"slow\":30}");
    /* The canonical form parses back to the same parameters. */
    sp_params q = params("sma_cross", buf);
    ck_assert(memcmp(&p, &q, sizeof p) == 0);
}
END_TEST

static tb_strategy strategy(void) {
    tb_strategy s;
    memset(&s, 0, sizeof s);
    strcpy(s.strategy_id, "s1");
    strcpy(s.kind, "sma_cross");
    strcpy(s.symbol, "DAX");
    strcpy(s.account, "acct");
    strcpy(s.params, "{\"fast\":3,\"slow\":9}");
    strcpy(s.sizing, "fixed");
    s.qty = 5 * TB_FIXED_SCALE;
    s.enabled = true;
    return s;
}

START_TEST(strategy_record_validation) {
    sp_params p;
    tb_error err = {0};
    tb_strategy s = strategy();
    ck_assert_int_eq(sp_strategy_validate(&s, &p, &err), TB_OK);
    s.qty = 0;
    ck_assert_int_eq(sp_strategy_validate(&s, &p, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "qty");
    s = strategy();
    memset(s.strategy_id, 'x', 40);
    s.strategy_id[40] = '\0';
    ck_assert_int_eq(sp_strategy_validate(&s, &p, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "strategy_id");
    s = strategy();
    strcpy(s.params, "{\"fast\":9,\"slow\":3}");
    ck_assert_int_eq(sp_strategy_validate(&s, &p, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "params.fast");
}
END_TEST

START_TEST(signals_are_built_deterministically) {
    sp_strategy_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.row = strategy();
    tb_tick t;
    memset(&t, 0, sizeof t);
    strcpy(t.symbol, "DAX");
    t.seq = 1234;
    t.ts = 1700000000000000000;
    t.bid = 99 * TB_FIXED_SCALE;
    t.ask = 100 * TB_FIXED_SCALE + 1;
    tb_fixed price;
    tb_error err = {0};
    ck_assert_int_eq(sp_tick_price(&t, &price, &err), TB_OK);
    ck_assert_int_eq(price, 9950000000); /* mid of 99 and 100.00000001, half-even */
    t.last = 101 * TB_FIXED_SCALE;
    ck_assert_int_eq(sp_tick_price(&t, &price, &err), TB_OK);
    ck_assert_int_eq(price, t.last);
    sp_decision d = {.side = SP_SIDE_SELL, .ready = true, .reason = "why"};
    tb_signal sig;
    ck_assert_int_eq(sp_signal_build(&cfg, &t, price, &d, &sig), TB_OK);
    ck_assert_str_eq(sig.signal_id, "s1-DAX-1234");
    ck_assert_str_eq(sig.side, "sell");
    ck_assert_str_eq(sig.sizing, "fixed");
    ck_assert_int_eq(sig.qty, 5 * TB_FIXED_SCALE);
    ck_assert_int_eq(sig.target, 0);
    ck_assert_int_eq(sig.ref_price, 101 * TB_FIXED_SCALE);
    ck_assert_uint_eq(sig.tick_seq, 1234);
    ck_assert_int_eq(sig.ts, t.ts);
    ck_assert_int_eq(tb_validate(&tb_signal_desc, &sig, &err), TB_OK);
    strcpy(cfg.row.sizing, "target");
    ck_assert_int_eq(sp_signal_build(&cfg, &t, price, &d, &sig), TB_OK);
    ck_assert_int_eq(sig.target, -5 * TB_FIXED_SCALE);
    ck_assert_int_eq(sig.qty, 0);
    d.side = SP_SIDE_BUY;
    ck_assert_int_eq(sp_signal_build(&cfg, &t, price, &d, &sig), TB_OK);
    ck_assert_int_eq(sig.target, 5 * TB_FIXED_SCALE);
    d.side = SP_SIDE_NONE;
    ck_assert_int_eq(sp_signal_build(&cfg, &t, price, &d, &sig), TB_INVALID);
    t.last = 0;
    t.ask = 0;
    ck_assert_int_eq(sp_tick_price(&t, &price, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "last");
    t.last = -5;
    ck_assert_int_eq(sp_tick_price(&t, &price, &err), TB_INVALID);
}
END_TEST

START_TEST(sequencer_orders_ticks) {
    /* first tick */
    ck_assert_int_eq(sp_seq_decide(false, 0, 1, false), SP_SEQ_APPLY);
    ck_assert_int_eq(sp_seq_decide(false, 0, 7, false), SP_SEQ_WAIT);
    ck_assert_int_eq(sp_seq_decide(false, 0, 7, true), SP_SEQ_START);
    /* in order */
    ck_assert_int_eq(sp_seq_decide(true, 6, 7, false), SP_SEQ_APPLY);
    /* ahead of its predecessor: wait, then skip the gap */
    ck_assert_int_eq(sp_seq_decide(true, 5, 7, false), SP_SEQ_WAIT);
    ck_assert_int_eq(sp_seq_decide(true, 5, 7, true), SP_SEQ_GAP);
    ck_assert_int_eq(sp_seq_decide(true, 5, 500, true), SP_SEQ_GAP);
    /* duplicate / late: wait (a restart may be in flight), then drop */
    ck_assert_int_eq(sp_seq_decide(true, 7, 7, false), SP_SEQ_WAIT);
    ck_assert_int_eq(sp_seq_decide(true, 7, 7, true), SP_SEQ_STALE);
    ck_assert_int_eq(sp_seq_decide(true, 7, 3, true), SP_SEQ_STALE);
    ck_assert_int_eq(sp_seq_decide(true, 1, 1, true), SP_SEQ_STALE);
    /* feed restarted */
    ck_assert_int_eq(sp_seq_decide(true, 900, 1, false), SP_SEQ_RESTART);
    ck_assert_int_eq(sp_seq_decide(true, 900, 2, false), SP_SEQ_WAIT);
    /* seq 0 is never valid */
    ck_assert_int_eq(sp_seq_decide(false, 0, 0, false), SP_SEQ_STALE);
    ck_assert_int_eq(sp_seq_decide(true, 3, 0, false), SP_SEQ_STALE);
    ck_assert_str_eq(sp_seq_action_name(SP_SEQ_GAP), "gap");
}
END_TEST

/* A gap: the state applied across a missing tick equals the state fed the
 * received prices only (the lost price is simply absent). */
START_TEST(gap_leaves_out_the_missing_price) {
    sp_params sp = params("sma_cross", "{\"fast\":2,\"slow\":3}");
    tb_fixed all[] = {10, 11, 12, 13, 14, 15};
    tb_fixed received[] = {10, 11, 13, 14, 15}; /* tick 3 (12) lost */
    sp_state *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    sp_state_init(a, &sp, 1);
    sp_state_init(b, &sp, 1);
    sp_decision d;
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(sp_step(&sp, a, received[i] * TB_FIXED_SCALE, &d), TB_OK);
    for (int i = 0; i < 6; i++)
        if (i != 2) ck_assert_int_eq(sp_step(&sp, b, all[i] * TB_FIXED_SCALE, &d), TB_OK);
    tb_fixed va, vb;
    ck_assert_int_eq(sp_sma_value(&a->u.sma.slow, &va), TB_OK);
    ck_assert_int_eq(sp_sma_value(&b->u.sma.slow, &vb), TB_OK);
    ck_assert_int_eq(va, vb);
    ck_assert_int_eq(va, 14 * TB_FIXED_SCALE); /* (13 + 14 + 15) / 3 */
    free(a);
    free(b);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sp_strategy");
    TCase *tc = tcase_create("strategy");
    tcase_add_test(tc, sma_cross_matches_reference);
    tcase_add_test(tc, ema_cross_matches_reference);
    tcase_add_test(tc, rsi_matches_reference);
    tcase_add_test(tc, bollinger_matches_reference);
    tcase_add_test(tc, donchian_matches_reference);
    tcase_add_test(tc, flat_prices_never_fire);
    tcase_add_test(tc, crosses_fire_once_per_cross);
    tcase_add_test(tc, step_refuses_a_foreign_state);
    tcase_add_test(tc, params_are_validated_with_field_names);
    tcase_add_test(tc, params_canonical_form);
    tcase_add_test(tc, strategy_record_validation);
    tcase_add_test(tc, signals_are_built_deterministically);
    tcase_add_test(tc, sequencer_orders_ticks);
    tcase_add_test(tc, gap_leaves_out_the_missing_price);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
