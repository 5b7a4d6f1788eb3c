/* market-data simulator: the PRNG against the published reference outputs,
 * GBM determinism per seed and per symbol, positive prices, bid < ask with
 * the configured spread, sizes in range, and symbol-list parsing. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "md_rng.h"
#include "md_sim.h"

#define FX(units) ((tb_fixed)(units)*TB_FIXED_SCALE)

START_TEST(splitmix64_reference) {
    /* Reference outputs of Vigna's splitmix64.c for state 0. */
    uint64_t st = 0;
    ck_assert_uint_eq(md_splitmix64(&st), UINT64_C(0xe220a8397b1dcdaf));
    ck_assert_uint_eq(md_splitmix64(&st), UINT64_C(0x6e789e6aa1b965f4));
    ck_assert_uint_eq(md_splitmix64(&st), UINT64_C(0x06c45d188009454f));
    ck_assert_uint_eq(md_splitmix64(&st), UINT64_C(0xf88bb8a8724c81ec));
}
END_TEST

START_TEST(xoshiro_reference) {
    /* xoshiro256** from state {1,2,3,4}, as computed by the reference C code. */
    md_rng r = {.s = {1, 2, 3, 4}};
    ck_assert_uint_eq(md_rng_next(&r), 11520);
    ck_assert_uint_eq(md_rng_next(&r), 0);
    ck_assert_uint_eq(md_rng_next(&r), 1509978240);
    ck_assert_uint_eq(md_rng_next(&r), UINT64_C(1215971899390074240));
}
END_TEST

START_TEST(normal_has_unit_moments) {
    md_rng r;
    md_rng_seed(&r, 7);
    const int n = 200000;
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) {
        double z = md_rng_normal(&r);
        sum += z;
        sq += z * z;
    }
    double mean = sum / n, var = sq / n - mean * mean;
    /* Standard error of the mean is 1/sqrt(n) ~ 0.0022. */
    ck_assert_double_lt(fabs(mean), 0.01);
    ck_assert_double_lt(fabs(var - 1.0), 0.02);
}
END_TEST

START_TEST(range_stays_in_bounds_and_hits_both_ends) {
    md_rng r;
    md_rng_seed(&r, 99);
    bool lo = false, hi = false;
    for (int i = 0; i < 10000; i++) {
        int64_t v = md_rng_range(&r, 3, 9);
        ck_assert_int_ge(v, 3);
        ck_assert_int_le(v, 9);
        lo |= v == 3;
        hi |= v == 9;
    }
    ck_assert(lo && hi);
}
END_TEST

static md_sim *make_sim(uint64_t seed, const char *list, double vol, int64_t spread_bps) {
    md_sim_params p;
    md_sim_params_default(&p);
    p.volatility = vol;
    p.spread_bps = spread_bps;
    md_sim_symbol_spec *specs = NULL;
    size_t n = 0;
    tb_error err = {0};
    ck_assert_msg(md_sim_parse_symbols(list, &p, &specs, &n, &err) == TB_OK, "%s", err.message);
    md_sim *s = NULL;
    ck_assert_msg(md_sim_create(&p, seed, specs, n, &s, &err) == TB_OK, "%s", err.message);
    free(specs);
    return s;
}

static bool same_tick(const tb_tick *a, const tb_tick *b) {
    return strcmp(a->symbol, b->symbol) == 0 && a->bid == b->bid && a->ask == b->ask &&
           a->last == b->last && a->bid_size == b->bid_size && a->ask_size == b->ask_size &&
           a->last_size == b->last_size;
}

START_TEST(same_seed_same_ticks) {
    md_sim *a = make_sim(42, "DAX:1628.75,SMI:1678.1,XYZ", 0.3, 5);
    md_sim *b = make_sim(42, "DAX:1628.75,SMI:1678.1,XYZ", 0.3, 5);
    int moved = 0;
    tb_tick prev = {0};
    for (int i = 0; i < 3000; i++) {
        tb_tick x = {0}, y = {0};
        md_sim_next(a, &x);
        md_sim_next(b, &y);
        ck_assert_msg(same_tick(&x, &y), "tick %d differs", i);
        if (i >= 3 && strcmp(x.symbol, "DAX") == 0 && x.last != prev.last) moved++;
        if (strcmp(x.symbol, "DAX") == 0) prev = x;
    }
    ck_assert_int_gt(moved, 500); /* the price really moves */
    md_sim_destroy(a);
    md_sim_destroy(b);
}
END_TEST

START_TEST(different_seed_different_ticks) {
    md_sim *a = make_sim(42, "DAX:1628.75", 0.3, 5);
    md_sim *b = make_sim(43, "DAX:1628.75", 0.3, 5);
    int differ = 0;
    for (int i = 0; i < 200; i++) {
        tb_tick x = {0}, y = {0};
        md_sim_next(a, &x);
        md_sim_next(b, &y);
        differ += !same_tick(&x, &y);
    }
    ck_assert_int_gt(differ, 190);
    md_sim_destroy(a);
    md_sim_destroy(b);
}
END_TEST

START_TEST(symbol_path_does_not_depend_on_neighbours) {
    md_sim *a = make_sim(5, "AAA,BBB:50", 0.2, 5);
    md_sim *b = make_sim(5, "BBB:50", 0.2, 5);
    for (int i = 0; i < 500; i++) {
        tb_tick x = {0}, y = {0};
        md_sim_next(a, &x); /* AAA */
        md_sim_next(a, &x); /* BBB */
        md_sim_next(b, &y);
        ck_assert_str_eq(x.symbol, "BBB");
        ck_assert_msg(same_tick(&x, &y), "BBB tick %d differs", i);
    }
    md_sim_destroy(a);
    md_sim_destroy(b);
}
END_TEST

START_TEST(first_tick_quotes_the_start_price) {
    md_sim *s = make_sim(1, "DAX:1628.75", 0.2, 10);
    tb_tick t = {0};
    md_sim_next(s, &t);
    ck_assert_str_eq(t.symbol, "DAX");
    ck_assert_int_eq(t.last, 162875000000);
    /* half spread = 1628.75 * 10 / 20000 = 0.814375: bid 1627.935625 -> 1627.93,
     * ask 1629.564375 -> 1629.57 (rounded outward to 0.01) */
    ck_assert_int_eq(t.bid, 162793000000);
    ck_assert_int_eq(t.ask, 162957000000);
    md_sim_destroy(s);
}
END_TEST

START_TEST(prices_positive_bid_below_ask_with_spread) {
    /* Extreme volatility drives prices toward the floor and the ceiling. */
    const int64_t bps = 20;
    md_sim *s = make_sim(11, "LOW:0.05:-5:5,MID:100:0:1,HIGH:5000:0:3", 5.0, bps);
    tb_fixed step = TB_FIXED_SCALE / 100;
    for (int i = 0; i < 60000; i++) {
        tb_tick t = {0};
        md_sim_next(s, &t);
        ck_assert_int_ge(t.bid, step);
        ck_assert_int_gt(t.ask, t.bid);
        ck_assert_int_le(t.bid, t.last);
        ck_assert_int_le(t.last, t.ask);
        ck_assert(t.bid % step == 0 && t.ask % step == 0 && t.last % step == 0);
        /* ask - bid covers the configured spread and exceeds it by at most the
         * outward rounding of both sides (or is the one-step minimum). */
        __int128 want = (__int128)t.last * bps / 10000;
        __int128 got = t.ask - t.bid;
        ck_assert_msg(got >= want - 1 || got == step, "spread %lld < %lld", (long long)got,
                      (long long)want);
        ck_assert_msg(got <= want + 2 * step + 1, "spread %lld >> %lld", (long long)got,
                      (long long)want);
        ck_assert_int_ge(t.bid_size, FX(1));
        ck_assert_int_le(t.bid_size, FX(100));
        ck_assert_int_ge(t.ask_size, FX(1));
        ck_assert_int_le(t.ask_size, FX(100));
        ck_assert_int_ge(t.last_size, FX(1));
        ck_assert_int_le(t.last_size, FX(100));
        ck_assert_int_eq(t.bid_size % TB_FIXED_SCALE, 0);
    }
    md_sim_destroy(s);
}
END_TEST

START_TEST(gbm_step_reference) {
    /* 100 * exp(0.1) = 110.517091807564..., rounded to 8 decimals. */
    ck_assert_int_eq(md_sim_gbm_step(FX(100), 0.1, 0.0, 1.0, 0.0), 11051709181);
    /* mu = sigma^2/2, z = 1, dt = 1: 100 * exp(0.2) = 122.140275816... */
    ck_assert_int_eq(md_sim_gbm_step(FX(100), 0.02, 0.2, 1.0, 1.0), 12214027582);
    /* z = -1, dt = 0.25, sigma 0.4, mu 0: exp(-0.02 - 0.2) = 0.802518797962... */
    ck_assert_int_eq(md_sim_gbm_step(FX(100), 0.0, 0.4, 0.25, -1.0), 8025187980);
    /* the floor and the ceiling hold */
    ck_assert_int_eq(md_sim_gbm_step(1, 0.0, 10.0, 1.0, -50.0), 1);
    ck_assert_int_eq(md_sim_gbm_step(MD_SIM_MAX_PRICE, 0.0, 10.0, 1.0, 50.0), MD_SIM_MAX_PRICE);
}
END_TEST

START_TEST(quote_reference) {
    tb_fixed b, a, l, step = TB_FIXED_SCALE / 100;
    md_sim_quote(FX(100), 5, step, &b, &a, &l);
    ck_assert_int_eq(l, FX(100));
    ck_assert_int_eq(b, 9997000000);           /* 100 - 0.025 = 99.975 -> 99.97 */
    ck_assert_int_eq(a, 10003000000);          /* 100.025 -> 100.03 */
    md_sim_quote(100000, 5, step, &b, &a, &l); /* 0.001: below one step */
    ck_assert_int_eq(l, step);
    ck_assert_int_eq(b, step);
    ck_assert_int_eq(a, 2 * step);
    md_sim_quote(12345678, 1, step, &b, &a, &l); /* 0.12345678 -> 0.12 */
    ck_assert_int_eq(l, 12000000);
    ck_assert_int_eq(b, 11000000);
    ck_assert_int_eq(a, 13000000);
}
END_TEST

START_TEST(parse_symbols_good) {
    md_sim_params p;
    md_sim_params_default(&p);
    md_sim_symbol_spec *v = NULL;
    size_t n = 0;
    tb_error err = {0};
    ck_assert_int_eq(
        md_sim_parse_symbols(" DAX:1628.75 , SMI:1678.1:0.1:0.3,XYZ,A_b-1::0.5", &p, &v, &n, &err),
        TB_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(v[0].symbol, "DAX");
    ck_assert_int_eq(v[0].start, 162875000000);
    ck_assert_double_eq(v[0].drift, 0.05);
    ck_assert_double_eq(v[0].volatility, 0.2);
    ck_assert_str_eq(v[1].symbol, "SMI");
    ck_assert_double_eq(v[1].drift, 0.1);
    ck_assert_double_eq(v[1].volatility, 0.3);
    ck_assert_str_eq(v[2].symbol, "XYZ");
    ck_assert_int_eq(v[2].start, FX(100));
    ck_assert_str_eq(v[3].symbol, "A_b-1");
    ck_assert_int_eq(v[3].start, FX(100));
    ck_assert_double_eq(v[3].drift, 0.5);
    free(v);
}
END_TEST

START_TEST(parse_symbols_bad) {
    md_sim_params p;
    md_sim_params_default(&p);
    static const char *const bad[] = {"",         "DAX,",       "DAX,DAX",     "D.X",
                                      "DAX:0",    "DAX:-5",     "DAX:abc",     "DAX:1e3",
                                      "DAX:1:11", "DAX:1:0:-1", "DAX:1:0:1:9", "DAX:10000000000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        md_sim_symbol_spec *v = NULL;
        size_t n = 0;
        tb_error err = {0};
        ck_assert_msg(md_sim_parse_symbols(bad[i], &p, &v, &n, &err) == TB_INVALID, "accepted '%s'",
                      bad[i]);
        ck_assert_ptr_null(v);
        ck_assert_str_eq(err.field, "symbols");
        ck_assert(err.message[0] != '\0');
    }
}
END_TEST

START_TEST(params_checked) {
    md_sim_params p;
    md_sim_params_default(&p);
    tb_error err = {0};
    ck_assert_int_eq(md_sim_params_check(&p, &err), TB_OK);
    p.spread_bps = 0;
    ck_assert_int_eq(md_sim_params_check(&p, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "spread_bps");
    md_sim_params_default(&p);
    p.volatility = NAN;
    ck_assert_int_eq(md_sim_params_check(&p, &err), TB_INVALID);
    md_sim_params_default(&p);
    p.price_step = 0;
    ck_assert_int_eq(md_sim_params_check(&p, &err), TB_INVALID);
}
END_TEST

int main(void) {
    Suite *s = suite_create("md_sim");
    TCase *tc = tcase_create("sim");
    tcase_add_test(tc, splitmix64_reference);
    tcase_add_test(tc, xoshiro_reference);
    tcase_add_test(tc, normal_has_unit_moments);
    tcase_add_test(tc, range_stays_in_bounds_and_hits_both_ends);
    tcase_add_test(tc, same_seed_same_ticks);
    tcase_add_test(tc, different_seed_different_ticks);
    tcase_add_test(tc, symbol_path_does_not_depend_on_neighbours);
    tcase_add_test(tc, first_tick_quotes_the_start_price);
    tcase_add_test(tc, prices_positive_bid_below_ask_with_spread);
    tcase_add_test(tc, gbm_step_reference);
    tcase_add_test(tc, quote_reference);
    tcase_add_test(tc, parse_symbols_good);
    tcase_add_test(tc, parse_symbols_bad);
    tcase_add_test(tc, params_checked);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
