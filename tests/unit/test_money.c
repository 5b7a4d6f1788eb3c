/* Unit tests for schemas/money.c: parsing, canonical formatting, checked
 * arithmetic at the int64 boundary and every rounding mode on both signs. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "money.h"

#define S TB_FIXED_SCALE

static tb_fixed parse_ok(const char *s) {
    tb_fixed v = 0;
    tb_status st = tb_fixed_parse_cstr(s, &v);
    ck_assert_msg(st == TB_OK, "parse \"%s\" -> %s", s, tb_status_code(st));
    return v;
}

static void parse_fails(const char *s, tb_status want) {
    tb_fixed v = 12345;
    tb_status st = tb_fixed_parse_cstr(s, &v);
    ck_assert_msg(st == want, "parse \"%s\" -> %s, want %s", s, tb_status_code(st),
                  tb_status_code(want));
    ck_assert_int_eq(v, 12345); /* out untouched on failure */
}

static void formats_as(tb_fixed v, const char *want) {
    char buf[TB_FIXED_STRLEN];
    size_t n = tb_fixed_format(v, buf);
    ck_assert_str_eq(buf, want);
    ck_assert_uint_eq(n, strlen(want));
}

START_TEST(test_parse_basic) {
    ck_assert_int_eq(parse_ok("12"), 12 * S);
    ck_assert_int_eq(parse_ok("-0.5"), -S / 2);
    ck_assert_int_eq(parse_ok("+3.25"), 325 * S / 100);
    ck_assert_int_eq(parse_ok(".5"), S / 2);
    ck_assert_int_eq(parse_ok("5."), 5 * S);
    ck_assert_int_eq(parse_ok("0"), 0);
    ck_assert_int_eq(parse_ok("-0"), 0);
    ck_assert_int_eq(parse_ok("-0.0"), 0);
    ck_assert_int_eq(parse_ok("0007.10"), 710 * S / 100);
    ck_assert_int_eq(parse_ok("0.00000001"), 1);
    ck_assert_int_eq(parse_ok("-0.00000001"), -1);
    ck_assert_int_eq(parse_ok("1.23456789"), 123456789);
    /* Only len bytes are read. */
    tb_fixed v;
    ck_assert_int_eq(tb_fixed_parse("1.5xyz", 3, &v), TB_OK);
    ck_assert_int_eq(v, 15 * S / 10);
}
END_TEST

START_TEST(test_parse_rejects) {
    const char *bad[] = {"",    "+",   "-",      ".",     "-.",  "+.",  " 1",        "1 ",   "1 .5",
                         "1e5", "1E5", "1.5e-3", "NaN",   "nan", "inf", "-Infinity", "0x10", "1,5",
                         "--1", "+-1", "1..2",   "1.2.3", "1-",  "\t1", "1\n",       "½",    "١"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) parse_fails(bad[i], TB_INVALID);
    tb_fixed v;
    ck_assert_int_eq(tb_fixed_parse(NULL, 0, &v), TB_INVALID);
    ck_assert_int_eq(tb_fixed_parse("1\0"
                                    "2",
                                    3, &v),
                     TB_INVALID); /* embedded NUL */
}
END_TEST

START_TEST(test_parse_precision) {
    parse_fails("0.123456789", TB_PRECISION);
    parse_fails("-0.000000001", TB_PRECISION);
    parse_fails("1.000000000000000000001", TB_PRECISION);
    /* Extra digits that are zeros lose nothing. */
    ck_assert_int_eq(parse_ok("0.12345678000"), 12345678);
    ck_assert_int_eq(parse_ok("-1.000000000000000000000"), -S);
    ck_assert_int_eq(parse_ok("0.000000010"), 1);
    /* Syntax beats precision. */
    parse_fails("0.123456789x", TB_INVALID);
}
END_TEST

START_TEST(test_parse_overflow) {
    ck_assert_int_eq(parse_ok("92233720368.54775807"), TB_FIXED_MAX);
    ck_assert_int_eq(parse_ok("-92233720368.54775807"), TB_FIXED_MIN);
    parse_fails("92233720368.54775808", TB_OVERFLOW);
    parse_fails("-92233720368.54775808", TB_OVERFLOW); /* INT64_MIN is outside the range */
    parse_fails("92233720369", TB_OVERFLOW);
    parse_fails("99999999999999999999999999999999999999", TB_OVERFLOW);
    ck_assert_int_eq(parse_ok("000000000000000000000000000000001"), S);
}
END_TEST

START_TEST(test_format_canonical) {
    formats_as(0, "0");
    formats_as(1, "0.00000001");
    formats_as(-1, "-0.00000001");
    formats_as(S, "1");
    formats_as(-S, "-1");
    formats_as(15 * S / 10, "1.5");
    formats_as(-123456789, "-1.23456789");
    formats_as(10 * S, "10");
    formats_as(100000010, "1.0000001");
    formats_as(TB_FIXED_MAX, "92233720368.54775807");
    formats_as(TB_FIXED_MIN, "-92233720368.54775807");
    formats_as(INT64_MIN, "-92233720368.54775808"); /* not valid, but must not crash */
}
END_TEST

START_TEST(test_round_trip) {
    const tb_fixed values[] = {0,
                               1,
                               -1,
                               7,
                               10,
                               99999999,
                               100000000,
                               123456789012345,
                               -98765432100,
                               TB_FIXED_MAX,
                               TB_FIXED_MIN,
                               TB_FIXED_MAX - 1};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char buf[TB_FIXED_STRLEN];
        tb_fixed_format(values[i], buf);
        ck_assert_int_eq(parse_ok(buf), values[i]);
    }
    /* Pseudo-random sweep across the whole range. */
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        tb_fixed v = (tb_fixed)(x >> (x % 63));
        if (x & 1) v = -v;
        if (v == INT64_MIN) continue;
        char buf[TB_FIXED_STRLEN];
        size_t n = tb_fixed_format(v, buf);
        ck_assert_uint_lt(n, TB_FIXED_STRLEN);
        tb_fixed back;
        ck_assert_int_eq(tb_fixed_parse(buf, n, &back), TB_OK);
        ck_assert_int_eq(back, v);
    }
}
END_TEST

START_TEST(test_from_int) {
    tb_fixed v;
    ck_assert_int_eq(tb_fixed_from_int(3, &v), TB_OK);
    ck_assert_int_eq(v, 3 * S);
    ck_assert_int_eq(tb_fixed_from_int(-92233720368, &v), TB_OK);
    ck_assert_int_eq(v, -92233720368 * S);
    v = 77;
    ck_assert_int_eq(tb_fixed_from_int(92233720369, &v), TB_OVERFLOW);
    ck_assert_int_eq(tb_fixed_from_int(INT64_MAX, &v), TB_OVERFLOW);
    ck_assert_int_eq(tb_fixed_from_int(INT64_MIN, &v), TB_OVERFLOW);
    ck_assert_int_eq(v, 77);
}
END_TEST

START_TEST(test_add_sub_neg) {
    tb_fixed v = 5;
    ck_assert_int_eq(tb_fixed_add(S, 2 * S, &v), TB_OK);
    ck_assert_int_eq(v, 3 * S);
    ck_assert_int_eq(tb_fixed_add(TB_FIXED_MAX, 0, &v), TB_OK);
    ck_assert_int_eq(tb_fixed_add(TB_FIXED_MAX - 1, 1, &v), TB_OK);
    ck_assert_int_eq(v, TB_FIXED_MAX);
    v = 5;
    ck_assert_int_eq(tb_fixed_add(TB_FIXED_MAX, 1, &v), TB_OVERFLOW);
    ck_assert_int_eq(tb_fixed_add(TB_FIXED_MIN, -1, &v), TB_OVERFLOW);
    ck_assert_int_eq(tb_fixed_add(TB_FIXED_MAX, TB_FIXED_MAX, &v), TB_OVERFLOW);
    ck_assert_int_eq(v, 5);
    ck_assert_int_eq(tb_fixed_add(TB_FIXED_MAX, TB_FIXED_MIN, &v), TB_OK);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(tb_fixed_sub(S, 3 * S, &v), TB_OK);
    ck_assert_int_eq(v, -2 * S);
    ck_assert_int_eq(tb_fixed_sub(TB_FIXED_MIN + 1, 1, &v), TB_OK);
    ck_assert_int_eq(v, TB_FIXED_MIN);
    ck_assert_int_eq(tb_fixed_sub(TB_FIXED_MIN, 1, &v), TB_OVERFLOW);
    ck_assert_int_eq(tb_fixed_sub(0, TB_FIXED_MIN, &v), TB_OK);
    ck_assert_int_eq(v, TB_FIXED_MAX);
    ck_assert_int_eq(tb_fixed_sub(TB_FIXED_MAX, -1, &v), TB_OVERFLOW);
    ck_assert_int_eq(tb_fixed_neg(TB_FIXED_MIN, &v), TB_OK);
    ck_assert_int_eq(v, TB_FIXED_MAX);
    ck_assert_int_eq(tb_fixed_neg(INT64_MIN, &v), TB_OVERFLOW);
}
END_TEST

START_TEST(test_mul_int) {
    tb_fixed v = 9;
    ck_assert_int_eq(tb_fixed_mul_int(15 * S / 10, 4, &v), TB_OK);
    ck_assert_int_eq(v, 6 * S);
    ck_assert_int_eq(tb_fixed_mul_int(TB_FIXED_MAX, -1, &v), TB_OK);
    ck_assert_int_eq(v, TB_FIXED_MIN);
    v = 9;
    ck_assert_int_eq(tb_fixed_mul_int(TB_FIXED_MAX, 2, &v), TB_OVERFLOW);
    ck_assert_int_eq(tb_fixed_mul_int(TB_FIXED_MIN, -1, &v), TB_OK);
    ck_assert_int_eq(tb_fixed_mul_int(1, INT64_MIN, &v), TB_OVERFLOW);
    ck_assert_int_eq(tb_fixed_mul_int(INT64_MAX / 3 + 1, 3, &v), TB_OVERFLOW);
    ck_assert_int_eq(tb_fixed_mul_int(INT64_MAX / 3, 3, &v), TB_OK);
}
END_TEST

START_TEST(test_mul) {
    tb_fixed v = 9;
    ck_assert_int_eq(tb_fixed_mul(parse_ok("101.25"), parse_ok("3.5"), TB_ROUND_HALF_EVEN, &v),
                     TB_OK);
    ck_assert_int_eq(v, parse_ok("354.375"));
    /* 0.00000001 * 0.5 = 0.000000005: a tie at the 8th decimal. */
    ck_assert_int_eq(tb_fixed_mul(1, S / 2, TB_ROUND_HALF_EVEN, &v), TB_OK);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(tb_fixed_mul(1, S / 2, TB_ROUND_HALF_UP, &v), TB_OK);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(tb_fixed_mul(-3, S / 2, TB_ROUND_HALF_EVEN, &v), TB_OK);
    ck_assert_int_eq(v, -2);
    /* Largest products: exact in __int128, then range-checked. */
    ck_assert_int_eq(tb_fixed_mul(TB_FIXED_MAX, S, TB_ROUND_DOWN, &v), TB_OK);
    ck_assert_int_eq(v, TB_FIXED_MAX);
    ck_assert_int_eq(tb_fixed_mul(TB_FIXED_MAX, -S, TB_ROUND_DOWN, &v), TB_OK);
    ck_assert_int_eq(v, TB_FIXED_MIN);
    v = 9;
    ck_assert_int_eq(tb_fixed_mul(TB_FIXED_MAX, S + 1, TB_ROUND_DOWN, &v), TB_OVERFLOW);
    ck_assert_int_eq(tb_fixed_mul(TB_FIXED_MAX, TB_FIXED_MAX, TB_ROUND_DOWN, &v), TB_OVERFLOW);
    ck_assert_int_eq(tb_fixed_mul(TB_FIXED_MIN, TB_FIXED_MIN, TB_ROUND_DOWN, &v), TB_OVERFLOW);
    ck_assert_int_eq(v, 9);
    ck_assert_int_eq(tb_fixed_mul(S, S, (tb_round)99, &v), TB_INVALID);
}
END_TEST

START_TEST(test_div) {
    tb_fixed v = 9;
    ck_assert_int_eq(tb_fixed_div(S, 3 * S, TB_ROUND_HALF_EVEN, &v), TB_OK);
    ck_assert_int_eq(v, 33333333);
    ck_assert_int_eq(tb_fixed_div(2 * S, 3 * S, TB_ROUND_HALF_EVEN, &v), TB_OK);
    ck_assert_int_eq(v, 66666667);
    ck_assert_int_eq(tb_fixed_div(-2 * S, 3 * S, TB_ROUND_DOWN, &v), TB_OK);
    ck_assert_int_eq(v, -66666666);
    ck_assert_int_eq(tb_fixed_div(-2 * S, 3 * S, TB_ROUND_FLOOR, &v), TB_OK);
    ck_assert_int_eq(v, -66666667);
    v = 9;
    ck_assert_int_eq(tb_fixed_div(S, 0, TB_ROUND_HALF_EVEN, &v), TB_INVALID);
    ck_assert_int_eq(tb_fixed_div(0, 0, TB_ROUND_HALF_EVEN, &v), TB_INVALID);
    ck_assert_int_eq(tb_fixed_div(TB_FIXED_MAX, S / 2, TB_ROUND_DOWN, &v), TB_OVERFLOW);
    ck_assert_int_eq(tb_fixed_div(TB_FIXED_MAX, 1, TB_ROUND_DOWN, &v), TB_OVERFLOW);
    ck_assert_int_eq(v, 9);
    ck_assert_int_eq(tb_fixed_div(TB_FIXED_MAX, S, TB_ROUND_DOWN, &v), TB_OK);
    ck_assert_int_eq(v, TB_FIXED_MAX);
    ck_assert_int_eq(tb_fixed_div(TB_FIXED_MIN, -S, TB_ROUND_DOWN, &v), TB_OK);
    ck_assert_int_eq(v, TB_FIXED_MAX);
    ck_assert_int_eq(tb_fixed_div(1, TB_FIXED_MAX, TB_ROUND_CEIL, &v), TB_OK);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(tb_fixed_div(-1, TB_FIXED_MAX, TB_ROUND_CEIL, &v), TB_OK);
    ck_assert_int_eq(v, 0);
}
END_TEST

START_TEST(test_muldiv) {
    tb_fixed v = 9;
    /* 25 bps of 1000 = 2.5 */
    ck_assert_int_eq(tb_fixed_muldiv(1000 * S, 25, 10000, TB_ROUND_HALF_EVEN, &v), TB_OK);
    ck_assert_int_eq(v, 25 * S / 10);
    ck_assert_int_eq(tb_fixed_muldiv(1, 1, 2, TB_ROUND_HALF_EVEN, &v), TB_OK);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(tb_fixed_muldiv(3, 1, 2, TB_ROUND_HALF_EVEN, &v), TB_OK);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(tb_fixed_muldiv(3, -1, 2, TB_ROUND_HALF_UP, &v), TB_OK);
    ck_assert_int_eq(v, -2);
    ck_assert_int_eq(tb_fixed_muldiv(3, 1, -2, TB_ROUND_CEIL, &v), TB_OK);
    ck_assert_int_eq(v, -1);
    /* Intermediate far beyond int64 is fine when the result fits. */
    ck_assert_int_eq(tb_fixed_muldiv(TB_FIXED_MAX, INT64_MAX, INT64_MAX, TB_ROUND_DOWN, &v), TB_OK);
    ck_assert_int_eq(v, TB_FIXED_MAX);
    ck_assert_int_eq(tb_fixed_muldiv(TB_FIXED_MIN, INT64_MIN, INT64_MIN, TB_ROUND_DOWN, &v), TB_OK);
    ck_assert_int_eq(v, TB_FIXED_MIN);
    v = 9;
    ck_assert_int_eq(tb_fixed_muldiv(TB_FIXED_MAX, 2, 1, TB_ROUND_DOWN, &v), TB_OVERFLOW);
    ck_assert_int_eq(tb_fixed_muldiv(TB_FIXED_MAX, INT64_MIN, 1, TB_ROUND_DOWN, &v), TB_OVERFLOW);
    ck_assert_int_eq(tb_fixed_muldiv(S, 1, 0, TB_ROUND_DOWN, &v), TB_INVALID);
    ck_assert_int_eq(v, 9);
}
END_TEST

/* Every mode on +/-x.5, +/-x.25 and +/-x.75 (in units of the last place). */
START_TEST(test_rounding_modes) {
    static const struct {
        int64_t num; /* value = num / 4 */
        int64_t even, up, down, floor, ceil;
    } cases[] = {
        {10, 2, 3, 2, 2, 3},       /* 2.5 */
        {-10, -2, -3, -2, -3, -2}, /* -2.5 */
        {14, 4, 4, 3, 3, 4},       /* 3.5 */
        {-14, -4, -4, -3, -4, -3}, /* -3.5 */
        {9, 2, 2, 2, 2, 3},        /* 2.25 */
        {-9, -2, -2, -2, -3, -2},  /* -2.25 */
        {11, 3, 3, 2, 2, 3},       /* 2.75 */
        {-11, -3, -3, -2, -3, -2}, /* -2.75 */
        {2, 0, 1, 0, 0, 1},        /* 0.5 */
        {-2, 0, -1, 0, -1, 0},     /* -0.5 */
        {8, 2, 2, 2, 2, 2},        /* exact */
        {-8, -2, -2, -2, -2, -2},
    };
    const tb_round modes[] = {TB_ROUND_HALF_EVEN, TB_ROUND_HALF_UP, TB_ROUND_DOWN, TB_ROUND_FLOOR,
                              TB_ROUND_CEIL};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int64_t want[] = {cases[i].even, cases[i].up, cases[i].down, cases[i].floor,
                                cases[i].ceil};
        for (size_t m = 0; m < 5; m++) {
            tb_fixed v;
            /* Same rounding through muldiv, div and mul. */
            ck_assert_int_eq(tb_fixed_muldiv(cases[i].num, 1, 4, modes[m], &v), TB_OK);
            ck_assert_msg(v == want[m], "muldiv %lld/4 mode %zu -> %lld", (long long)cases[i].num,
                          m, (long long)v);
            ck_assert_int_eq(tb_fixed_div(cases[i].num, 4 * S, modes[m], &v), TB_OK);
            ck_assert_int_eq(v, want[m]);
            ck_assert_int_eq(tb_fixed_mul(cases[i].num, S / 4, modes[m], &v), TB_OK);
            ck_assert_int_eq(v, want[m]);
        }
    }
}
END_TEST

START_TEST(test_round_to) {
    tb_fixed v = 9;
    const tb_fixed tick = S / 4; /* 0.25 */
    ck_assert_int_eq(tb_fixed_round_to(parse_ok("1.125"), tick, TB_ROUND_HALF_EVEN, &v), TB_OK);
    ck_assert_int_eq(v, S);
    ck_assert_int_eq(tb_fixed_round_to(parse_ok("1.375"), tick, TB_ROUND_HALF_EVEN, &v), TB_OK);
    ck_assert_int_eq(v, parse_ok("1.5"));
    ck_assert_int_eq(tb_fixed_round_to(parse_ok("-1.125"), tick, TB_ROUND_HALF_UP, &v), TB_OK);
    ck_assert_int_eq(v, parse_ok("-1.25"));
    ck_assert_int_eq(tb_fixed_round_to(parse_ok("-1.1"), tick, TB_ROUND_FLOOR, &v), TB_OK);
    ck_assert_int_eq(v, parse_ok("-1.25"));
    ck_assert_int_eq(tb_fixed_round_to(parse_ok("-1.1"), tick, TB_ROUND_CEIL, &v), TB_OK);
    ck_assert_int_eq(v, -S);
    ck_assert_int_eq(tb_fixed_round_to(parse_ok("-1.1"), tick, TB_ROUND_DOWN, &v), TB_OK);
    ck_assert_int_eq(v, -S);
    ck_assert_int_eq(tb_fixed_round_to(parse_ok("7.3"), 5 * S, TB_ROUND_HALF_EVEN, &v), TB_OK);
    ck_assert_int_eq(v, 5 * S);
    v = 9;
    ck_assert_int_eq(tb_fixed_round_to(S, 0, TB_ROUND_DOWN, &v), TB_INVALID);
    ck_assert_int_eq(tb_fixed_round_to(S, -tick, TB_ROUND_DOWN, &v), TB_INVALID);
    ck_assert_int_eq(tb_fixed_round_to(TB_FIXED_MAX, S, TB_ROUND_CEIL, &v), TB_OVERFLOW);
    ck_assert_int_eq(v, 9);
    ck_assert_int_eq(tb_fixed_round_to(TB_FIXED_MAX, S, TB_ROUND_FLOOR, &v), TB_OK);
    ck_assert_int_eq(v, TB_FIXED_MAX / S * S);
}
END_TEST

START_TEST(test_helpers) {
    ck_assert_int_eq(tb_fixed_abs(-5), 5);
    ck_assert_int_eq(tb_fixed_abs(TB_FIXED_MIN), TB_FIXED_MAX);
    ck_assert_int_eq(tb_fixed_cmp(1, 2), -1);
    ck_assert_int_eq(tb_fixed_cmp(2, 1), 1);
    ck_assert_int_eq(tb_fixed_cmp(TB_FIXED_MIN, TB_FIXED_MIN), 0);
    ck_assert(tb_fixed_is_multiple(parse_ok("1.5"), S / 4));
    ck_assert(tb_fixed_is_multiple(parse_ok("-1.5"), S / 4));
    ck_assert(!tb_fixed_is_multiple(parse_ok("1.6"), S / 4));
    ck_assert(!tb_fixed_is_multiple(S, 0));
    ck_assert(tb_fixed_to_double(parse_ok("1.5")) == 1.5);
    ck_assert(tb_fixed_to_double(parse_ok("-2.25")) == -2.25);
}
END_TEST

/* Position-management books it and risk-management sums it from the rows:
 * one definition, ties rounded half-even. */
START_TEST(test_position_unrealized) {
    tb_fixed v = 0;
    ck_assert_int_eq(tb_position_unrealized(2 * S, 200 * S, 110 * S, &v), TB_OK);
    ck_assert_int_eq(v, 20 * S); /* long 2 bought for 200, marked 110 */
    ck_assert_int_eq(tb_position_unrealized(-2 * S, -200 * S, 90 * S, &v), TB_OK);
    ck_assert_int_eq(v, 20 * S); /* short 2 sold for 200, marked 90 */
    ck_assert_int_eq(tb_position_unrealized(2 * S, 200 * S, 0, &v), TB_OK);
    ck_assert_int_eq(v, 0); /* no last price: valued at cost */
    ck_assert_int_eq(tb_position_unrealized(0, -5 * S, S, &v), TB_OK);
    ck_assert_int_eq(v, 5 * S);
    /* 0.5 x 0.00000001 = 0.000000005: half-even 0 (half-up would give 1) */
    ck_assert_int_eq(tb_position_unrealized(S / 2, 0, 1, &v), TB_OK);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(tb_position_unrealized(S / 2, 0, 3, &v), TB_OK);
    ck_assert_int_eq(v, 2);
    v = 7;
    ck_assert_int_eq(tb_position_unrealized(TB_FIXED_MAX, 0, 2 * S, &v), TB_OVERFLOW);
    ck_assert_int_eq(v, 7);
}
END_TEST

static Suite *money_suite(void) {
    Suite *s = suite_create("money");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_basic);
    tcase_add_test(tc, test_parse_rejects);
    tcase_add_test(tc, test_parse_precision);
    tcase_add_test(tc, test_parse_overflow);
    tcase_add_test(tc, test_format_canonical);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_from_int);
    tcase_add_test(tc, test_add_sub_neg);
    tcase_add_test(tc, test_mul_int);
    tcase_add_test(tc, test_mul);
    tcase_add_test(tc, test_div);
    tcase_add_test(tc, test_muldiv);
    tcase_add_test(tc, test_rounding_modes);
    tcase_add_test(tc, test_round_to);
    tcase_add_test(tc, test_helpers);
    tcase_add_test(tc, test_position_unrealized);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(money_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
