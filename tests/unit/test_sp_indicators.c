/* Indicators of signal-processing against reference values computed here,
 * independently, from the textbook definitions in long double (and Wilder's
 * published RSI example): SMA, EMA, RSI, Bollinger bands, Donchian channel,
 * including warm-up, flat prices and the exact helpers (rounding, isqrt). */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "indicators.h"

#define N_WALK 600

/* A reproducible random walk with 2 decimals around 100 (LCG, no libc rand). */
static void walk(tb_fixed *out, size_t n, uint64_t seed) {
    int64_t cents = 10000;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        int step = (int)((seed >> 33) % 201) - 100; /* -1.00 .. +1.00 */
        cents += step;
        if (cents < 100) cents = 100;
        out[i] = cents * (TB_FIXED_SCALE / 100);
    }
}

static long double ld(tb_fixed v) {
    return (long double)v / TB_FIXED_SCALE;
}

/* |got - want| in units of 1e-8. */
static long double off(tb_fixed got, long double want) {
    return fabsl(ld(got) - want) * TB_FIXED_SCALE;
}

START_TEST(div_round_is_half_even) {
    struct {
        long long num, den, want;
    } c[] = {
        {5, 2, 2},   {7, 2, 4}, {-5, 2, -2}, {-7, 2, -4}, {1, 3, 0},   {2, 3, 1},
        {-2, 3, -1}, {9, 1, 9}, {0, 5, 0},   {15, 10, 2}, {25, 10, 2}, {-15, 10, -2},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        tb_fixed got;
        ck_assert_int_eq(sp_div_round(c[i].num, c[i].den, &got), TB_OK);
        ck_assert_msg(got == c[i].want, "%lld/%lld = %lld, want %lld", c[i].num, c[i].den,
                      (long long)got, c[i].want);
    }
    tb_fixed got;
    ck_assert_int_eq(sp_div_round(1, 0, &got), TB_INVALID);
    ck_assert_int_eq(sp_div_round((__int128)TB_FIXED_MAX * 4, 2, &got), TB_OVERFLOW);
}
END_TEST

START_TEST(isqrt_is_the_floor_root) {
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 2000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        unsigned __int128 v = ((unsigned __int128)x << (i % 64)) + (unsigned)i;
        unsigned __int128 r = sp_isqrt_u128(v);
        ck_assert(r * r <= v);
        ck_assert((r + 1) * (r + 1) > v);
    }
    ck_assert(sp_isqrt_u128(0) == 0);
    ck_assert(sp_isqrt_u128(1) == 1);
    ck_assert(sp_isqrt_u128(15) == 3);
    ck_assert(sp_isqrt_u128(16) == 4);
}
END_TEST

START_TEST(sma_matches_the_mean_of_the_last_n) {
    tb_fixed p[N_WALK];
    walk(p, N_WALK, 1);
    const uint32_t n = 7;
    sp_sma s;
    sp_sma_init(&s, n);
    for (size_t i = 0; i < N_WALK; i++) {
        bool ready = sp_sma_update(&s, p[i]);
        tb_fixed v;
        if (i + 1 < n) {
            ck_assert(!ready);
            ck_assert_int_eq(sp_sma_value(&s, &v), TB_INVALID); /* warm-up */
            continue;
        }
        ck_assert(ready);
        long double want = 0;
        for (size_t j = i + 1 - n; j <= i; j++) want += ld(p[j]);
        want /= n;
        ck_assert_int_eq(sp_sma_value(&s, &v), TB_OK);
        ck_assert_msg(off(v, want) <= 0.5L, "tick %zu: sma %lld vs %.10Lf", i, (long long)v, want);
    }
    /* Rebuilding the sum from the window gives the same state. */
    __int128 before = s.sum;
    sp_sma_resum(&s);
    ck_assert(before == s.sum);
}
END_TEST

START_TEST(sma_compare_is_exact) {
    sp_sma a, b;
    sp_sma_init(&a, 3);
    sp_sma_init(&b, 6);
    /* 1,2,3,4,5,6: SMA3 = 5, SMA6 = 3.5; then equal means (both 4). */
    for (int i = 1; i <= 6; i++) {
        sp_sma_update(&a, i * TB_FIXED_SCALE);
        sp_sma_update(&b, i * TB_FIXED_SCALE);
    }
    ck_assert_int_eq(sp_sma_cmp(&a, &b), 1);
    sp_sma_init(&a, 3);
    sp_sma_init(&b, 6);
    tb_fixed seq[] = {4, 4, 4, 3, 4, 5}; /* SMA3 = 4, SMA6 = 4: equal, not rounded apart */
    for (int i = 0; i < 6; i++) {
        sp_sma_update(&a, seq[i] * TB_FIXED_SCALE + 1);
        sp_sma_update(&b, seq[i] * TB_FIXED_SCALE + 1);
    }
    ck_assert_int_eq(sp_sma_cmp(&a, &b), 0);
    /* 1/3 vs 2/6 differ in rounded form only if rounded; exact compare says equal. */
    sp_sma_init(&a, 3);
    sp_sma_init(&b, 6);
    tb_fixed t[] = {0, 0, 0, 0, 0, 1};
    tb_fixed u[] = {0, 0, 0, 1, 0, 0};
    for (int i = 0; i < 6; i++) {
        sp_sma_update(&a, t[i]);
        sp_sma_update(&b, u[i] + t[i]);
    }
    ck_assert_int_eq(sp_sma_cmp(&a, &b), 0); /* 1/3 vs 2/6 */
}
END_TEST

START_TEST(ema_matches_the_textbook_recursion) {
    tb_fixed p[N_WALK];
    walk(p, N_WALK, 2);
    const uint32_t n = 10;
    sp_ema e;
    sp_ema_init(&e, n);
    long double ref = 0, alpha = 2.0L / (n + 1);
    for (size_t i = 0; i < N_WALK; i++) {
        bool ready = false;
        ck_assert_int_eq(sp_ema_update(&e, p[i], &ready), TB_OK);
        if (i + 1 < n) {
            ck_assert(!ready);
            ref += ld(p[i]);
            continue;
        }
        if (i + 1 == n)
            ref = (ref + ld(p[i])) / n; /* seed: SMA of the first n */
        else
            ref = alpha * ld(p[i]) + (1 - alpha) * ref;
        ck_assert(ready);
        /* One half-unit rounding per step, damped by (1 - alpha): < 0.5 / alpha. */
        ck_assert_msg(off(e.value, ref) <= 0.5L / alpha + 0.5L, "tick %zu: ema %lld vs %.10Lf", i,
                      (long long)e.value, ref);
    }
}
END_TEST

/* Wilder's RSI by the book, in long double. rsi[i] < 0 while undefined. */
static void rsi_reference(const tb_fixed *p, size_t n, uint32_t period, long double *rsi) {
    long double ag = 0, al = 0;
    for (size_t i = 0; i < n; i++) {
        rsi[i] = -1;
        if (i == 0) continue;
        long double ch = ld(p[i]) - ld(p[i - 1]);
        long double g = ch > 0 ? ch : 0, l = ch < 0 ? -ch : 0;
        if (i < period) {
            ag += g, al += l;
            continue;
        }
        if (i == period)
            ag = (ag + g) / period, al = (al + l) / period;
        else
            ag = (ag * (period - 1) + g) / period, al = (al * (period - 1) + l) / period;
        if (ag + al > 0) rsi[i] = 100.0L - 100.0L / (1.0L + ag / al);
        if (al == 0 && ag > 0) rsi[i] = 100;
    }
}

START_TEST(rsi_matches_wilder) {
    tb_fixed p[N_WALK];
    long double want[N_WALK];
    walk(p, N_WALK, 3);
    const uint32_t n = 14;
    rsi_reference(p, N_WALK, n, want);
    sp_rsi r;
    sp_rsi_init(&r, n);
    for (size_t i = 0; i < N_WALK; i++) {
        bool ready = false;
        ck_assert_int_eq(sp_rsi_update(&r, p[i], &ready), TB_OK);
        ck_assert_int_eq(ready, i >= n); /* n changes need n + 1 prices */
        tb_fixed v;
        if (want[i] < 0) {
            ck_assert(!sp_rsi_defined(&r));
            ck_assert_int_eq(sp_rsi_value(&r, &v), TB_INVALID);
            continue;
        }
        ck_assert_int_eq(sp_rsi_value(&r, &v), TB_OK);
        ck_assert_msg(fabsl(ld(v) - want[i]) < 1e-5L, "tick %zu: rsi %lld vs %.8Lf", i,
                      (long long)v, want[i]);
        /* The exact level comparison agrees with the value. */
        tb_fixed level = 50 * TB_FIXED_SCALE;
        int cmp = sp_rsi_cmp_level(&r, level);
        ck_assert_int_eq(cmp, (want[i] > 50) - (want[i] < 50));
    }
}
END_TEST

/* The worked example of Wilder's RSI (14 periods) as published by
 * StockCharts ("Relative Strength Index", ChartSchool). */
START_TEST(rsi_published_example) {
    static const char *closes[] = {"44.3389", "44.0902", "44.1497", "43.6124", "44.3278", "44.8264",
                                   "45.0955", "45.4245", "45.8433", "46.0826", "45.8931", "46.0328",
                                   "45.6140", "46.2820", "46.2820", "46.0028", "46.0328", "46.4116",
                                   "46.2222", "45.6439", "46.2122", "46.2521", "45.7137", "46.4515",
                                   "45.7835", "45.3548", "44.0288", "44.1783", "44.2181", "44.5672",
                                   "43.4205", "42.6628", "43.1314"};
    static const double published[] = {70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93,
                                       63.26, 56.06, 62.38, 54.71, 50.42, 39.99, 41.46,
                                       41.87, 45.46, 37.30, 33.08, 37.77};
    sp_rsi r;
    sp_rsi_init(&r, 14);
    size_t k = 0;
    for (size_t i = 0; i < sizeof closes / sizeof closes[0]; i++) {
        tb_fixed p;
        ck_assert_int_eq(tb_fixed_parse_cstr(closes[i], &p), TB_OK);
        bool ready = false;
        ck_assert_int_eq(sp_rsi_update(&r, p, &ready), TB_OK);
        if (!ready) continue;
        tb_fixed v;
        ck_assert_int_eq(sp_rsi_value(&r, &v), TB_OK);
        ck_assert_msg(fabs(tb_fixed_to_double(v) - published[k]) < 0.006,
                      "RSI #%zu = %.4f, published %.2f", k, tb_fixed_to_double(v), published[k]);
        k++;
    }
    ck_assert_uint_eq(k, sizeof published / sizeof published[0]);
}
END_TEST

START_TEST(bollinger_matches_mean_and_population_sd) {
    tb_fixed p[N_WALK];
    walk(p, N_WALK, 4);
    const uint32_t n = 20;
    const tb_fixed k = 2 * TB_FIXED_SCALE;
    sp_bollinger b;
    sp_bollinger_init(&b, n, k);
    for (size_t i = 0; i < N_WALK; i++) {
        bool ready = sp_bollinger_update(&b, p[i]);
        sp_bands bands;
        if (i + 1 < n) {
            ck_assert(!ready);
            ck_assert_int_eq(sp_bollinger_bands(&b, &bands), TB_INVALID);
            continue;
        }
        long double mean = 0, var = 0;
        for (size_t j = i + 1 - n; j <= i; j++) mean += ld(p[j]);
        mean /= n;
        for (size_t j = i + 1 - n; j <= i; j++) var += (ld(p[j]) - mean) * (ld(p[j]) - mean);
        long double sd = sqrtl(var / n);
        ck_assert_int_eq(sp_bollinger_bands(&b, &bands), TB_OK);
        ck_assert_msg(off(bands.middle, mean) <= 0.5L, "tick %zu middle", i);
        ck_assert_msg(off(bands.stddev, sd) <= 1.0L, "tick %zu sd %lld vs %.10Lf", i,
                      (long long)bands.stddev, sd);
        ck_assert_msg(off(bands.upper, mean + 2 * sd) <= 3.0L, "tick %zu upper", i);
        ck_assert_msg(off(bands.lower, mean - 2 * sd) <= 3.0L, "tick %zu lower", i);
    }
}
END_TEST

START_TEST(donchian_matches_previous_extremes) {
    tb_fixed p[N_WALK];
    walk(p, N_WALK, 5);
    const uint32_t n = 15;
    sp_donchian d;
    sp_donchian_init(&d, n);
    int ups = 0, downs = 0;
    for (size_t i = 0; i < N_WALK; i++) {
        int brk = 9;
        bool ready = sp_donchian_update(&d, p[i], &brk);
        if (i < n) {
            ck_assert(!ready);
            ck_assert_int_eq(brk, 0);
            continue;
        }
        tb_fixed hi = p[i - n], lo = p[i - n];
        for (size_t j = i - n; j < i; j++) {
            if (p[j] > hi) hi = p[j];
            if (p[j] < lo) lo = p[j];
        }
        ck_assert(ready);
        ck_assert_int_eq(brk, p[i] > hi ? 1 : p[i] < lo ? -1 : 0);
        ups += brk > 0;
        downs += brk < 0;
    }
    ck_assert_int_gt(ups, 0);
    ck_assert_int_gt(downs, 0);
    tb_fixed lo, hi;
    ck_assert(sp_donchian_channel(&d, &lo, &hi));
}
END_TEST

START_TEST(flat_prices_are_neutral) {
    const tb_fixed flat = 12345 * TB_FIXED_SCALE / 100; /* 123.45 */
    sp_sma f, s;
    sp_ema ef, es;
    sp_rsi r;
    sp_bollinger b;
    sp_donchian d;
    sp_sma_init(&f, 3);
    sp_sma_init(&s, 8);
    sp_ema_init(&ef, 3);
    sp_ema_init(&es, 8);
    sp_rsi_init(&r, 5);
    sp_bollinger_init(&b, 6, 2 * TB_FIXED_SCALE);
    sp_donchian_init(&d, 4);
    for (int i = 0; i < 50; i++) {
        bool ready;
        int brk;
        sp_sma_update(&f, flat);
        sp_sma_update(&s, flat);
        ck_assert_int_eq(sp_ema_update(&ef, flat, &ready), TB_OK);
        ck_assert_int_eq(sp_ema_update(&es, flat, &ready), TB_OK);
        ck_assert_int_eq(sp_rsi_update(&r, flat, &ready), TB_OK);
        sp_bollinger_update(&b, flat);
        sp_donchian_update(&d, flat, &brk);
        ck_assert_int_eq(brk, 0);
    }
    ck_assert_int_eq(sp_sma_cmp(&f, &s), 0);
    ck_assert_int_eq(ef.value, flat);
    ck_assert_int_eq(es.value, flat);
    ck_assert(sp_rsi_ready(&r));
    ck_assert(!sp_rsi_defined(&r)); /* 0/0: no RSI without movement */
    sp_bands bands;
    ck_assert_int_eq(sp_bollinger_bands(&b, &bands), TB_OK);
    ck_assert_int_eq(bands.stddev, 0);
    ck_assert_int_eq(bands.lower, flat);
    ck_assert_int_eq(bands.upper, flat);
}
END_TEST

START_TEST(rsi_extremes) {
    sp_rsi r;
    sp_rsi_init(&r, 3);
    bool ready = false;
    tb_fixed v;
    for (int i = 1; i <= 5; i++)
        ck_assert_int_eq(sp_rsi_update(&r, i * TB_FIXED_SCALE, &ready), TB_OK);
    ck_assert_int_eq(sp_rsi_value(&r, &v), TB_OK);
    ck_assert_int_eq(v, 100 * TB_FIXED_SCALE); /* only gains */
    sp_rsi_init(&r, 3);
    for (int i = 5; i >= 1; i--)
        ck_assert_int_eq(sp_rsi_update(&r, i * TB_FIXED_SCALE, &ready), TB_OK);
    ck_assert_int_eq(sp_rsi_value(&r, &v), TB_OK);
    ck_assert_int_eq(v, 0); /* only losses */
}
END_TEST

START_TEST(huge_prices_overflow_cleanly) {
    sp_bollinger b;
    sp_bollinger_init(&b, 4, TB_FIXED_SCALE);
    for (int i = 0; i < 4; i++) sp_bollinger_update(&b, TB_FIXED_MAX - i);
    sp_bands bands;
    ck_assert_int_eq(sp_bollinger_bands(&b, &bands), TB_OVERFLOW);
    sp_ema e;
    sp_ema_init(&e, 2);
    bool ready;
    ck_assert_int_eq(sp_ema_update(&e, TB_FIXED_MAX, &ready), TB_OK);
    ck_assert_int_eq(sp_ema_update(&e, TB_FIXED_MAX, &ready), TB_OK);
    ck_assert_int_eq(e.value, TB_FIXED_MAX);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sp_indicators");
    TCase *tc = tcase_create("indicators");
    tcase_add_test(tc, div_round_is_half_even);
    tcase_add_test(tc, isqrt_is_the_floor_root);
    tcase_add_test(tc, sma_matches_the_mean_of_the_last_n);
    tcase_add_test(tc, sma_compare_is_exact);
    tcase_add_test(tc, ema_matches_the_textbook_recursion);
    tcase_add_test(tc, rsi_matches_wilder);
    tcase_add_test(tc, rsi_published_example);
    tcase_add_test(tc, bollinger_matches_mean_and_population_sd);
    tcase_add_test(tc, donchian_matches_previous_extremes);
    tcase_add_test(tc, flat_prices_are_neutral);
    tcase_add_test(tc, rsi_extremes);
    tcase_add_test(tc, huge_prices_overflow_cleanly);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
