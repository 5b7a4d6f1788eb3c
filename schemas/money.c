/* Fixed-point arithmetic for tb_fixed (see money.h for the contract).
 *
 * Every product and quotient is computed in __int128, where no intermediate of
 * two int64 operands can overflow, and only the final result is range-checked
 * against TB_FIXED_MIN..TB_FIXED_MAX. Rounding happens once, in round_div.
 * This file does no I/O and no floating point except tb_fixed_to_double. */
#include "money.h"

#include <string.h>

typedef __int128 i128;

/* The representable range; INT64_MIN is excluded so negation is total. */
static bool in_range(i128 v) {
    return v >= TB_FIXED_MIN && v <= TB_FIXED_MAX;
}

static i128 abs128(i128 v) {
    return v < 0 ? -v : v;
}

/* n / d rounded with mode. d != 0; |n| < 2^127 and |d| < 2^64 so 2*|r| cannot
 * overflow. The truncated quotient is adjusted by one step away from zero
 * when the mode says the discarded remainder should round outward. */
static tb_status round_div(i128 n, i128 d, tb_round mode, i128 *out) {
    if ((unsigned)mode > TB_ROUND_CEIL) return TB_INVALID; /* even when exact */
    i128 q = n / d;
    i128 r = n % d;
    if (r == 0) {
        *out = q;
        return TB_OK;
    }
    bool negative = (n < 0) != (d < 0);
    i128 twice_r = 2 * abs128(r);
    i128 abs_d = abs128(d);
    bool away;
    switch (mode) {
    case TB_ROUND_DOWN:
        away = false;
        break;
    case TB_ROUND_FLOOR:
        away = negative;
        break;
    case TB_ROUND_CEIL:
        away = !negative;
        break;
    case TB_ROUND_HALF_UP:
        away = twice_r >= abs_d;
        break;
    case TB_ROUND_HALF_EVEN:
        away = twice_r > abs_d || (twice_r == abs_d && (q % 2) != 0);
        break;
    default:
        away = false;
        break; /* unreachable: checked above */
    }
    *out = away ? (negative ? q - 1 : q + 1) : q;
    return TB_OK;
}

/* Stores v in *out when it fits; the single exit for every checked result. */
static tb_status store(i128 v, tb_fixed *out) {
    if (!in_range(v)) return TB_OVERFLOW;
    *out = (tb_fixed)v;
    return TB_OK;
}

tb_status tb_fixed_from_int(int64_t units, tb_fixed *out) {
    return store((i128)units * TB_FIXED_SCALE, out);
}

/* Syntax pass of tb_fixed_parse: finds the digit runs and checks that nothing
 * else is present. Kept apart so "1x" is TB_INVALID even when it would also
 * overflow or carry too many decimals. */
typedef struct {
    bool negative;
    const char *int_digits, *frac_digits;
    size_t int_len, frac_len;
} parsed_decimal;

static size_t digit_run(const char *s, size_t len) {
    size_t i = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++;
    return i;
}

static tb_status split_decimal(const char *s, size_t len, parsed_decimal *p) {
    size_t i = 0;
    memset(p, 0, sizeof *p);
    if (len > 0 && (s[0] == '+' || s[0] == '-')) {
        p->negative = s[0] == '-';
        i = 1;
    }
    p->int_digits = s + i;
    p->int_len = digit_run(s + i, len - i);
    i += p->int_len;
    if (i < len && s[i] == '.') {
        i++;
        p->frac_digits = s + i;
        p->frac_len = digit_run(s + i, len - i);
        i += p->frac_len;
    }
    /* "", "+", "." and "-." have no digit at all; NaN, exponents and
     * whitespace all leave unconsumed bytes. */
    if (i != len || p->int_len + p->frac_len == 0) return TB_INVALID;
    return TB_OK;
}

tb_status tb_fixed_parse(const char *s, size_t len, tb_fixed *out) {
    if (s == NULL || out == NULL) return TB_INVALID;
    parsed_decimal p;
    if (split_decimal(s, len, &p) != TB_OK) return TB_INVALID;
    for (size_t i = TB_FIXED_DECIMALS; i < p.frac_len; i++)
        if (p.frac_digits[i] != '0') return TB_PRECISION;
    /* Accumulating in i128 and stopping once past the range keeps long runs
     * of leading zeros legal without any chance of wrapping. */
    i128 mag = 0;
    for (size_t i = 0; i < p.int_len; i++) {
        mag = mag * 10 + (p.int_digits[i] - '0');
        if (mag > TB_FIXED_MAX) return TB_OVERFLOW;
    }
    mag *= TB_FIXED_SCALE;
    i128 unit = TB_FIXED_SCALE / 10;
    for (size_t i = 0; i < p.frac_len && i < TB_FIXED_DECIMALS; i++, unit /= 10)
        mag += (p.frac_digits[i] - '0') * unit;
    return store(p.negative ? -mag : mag, out);
}

tb_status tb_fixed_parse_cstr(const char *s, tb_fixed *out) {
    if (s == NULL) return TB_INVALID;
    return tb_fixed_parse(s, strlen(s), out);
}

size_t tb_fixed_format(tb_fixed v, char buf[TB_FIXED_STRLEN]) {
    /* Work on the magnitude as unsigned so even INT64_MIN (never a valid
     * tb_fixed, but possibly seen in a corrupt struct) formats safely. */
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t units = mag / (uint64_t)TB_FIXED_SCALE;
    uint64_t frac = mag % (uint64_t)TB_FIXED_SCALE;
    char digits[24];
    size_t n = 0;
    if (v < 0) buf[n++] = '-';
    size_t k = 0;
    do {
        digits[k++] = (char)('0' + units % 10);
        units /= 10;
    } while (units != 0);
    while (k > 0) buf[n++] = digits[--k];
    if (frac != 0) {
        buf[n++] = '.';
        int width = TB_FIXED_DECIMALS;
        while (frac % 10 == 0) {
            frac /= 10;
            width--;
        }
        for (int i = width - 1; i >= 0; i--) {
            buf[n + (size_t)i] = (char)('0' + frac % 10);
            frac /= 10;
        }
        n += (size_t)width;
    }
    buf[n] = '\0';
    return n;
}

tb_status tb_fixed_add(tb_fixed a, tb_fixed b, tb_fixed *out) {
    return store((i128)a + b, out);
}

tb_status tb_fixed_sub(tb_fixed a, tb_fixed b, tb_fixed *out) {
    return store((i128)a - b, out);
}

tb_status tb_fixed_neg(tb_fixed a, tb_fixed *out) {
    return store(-(i128)a, out);
}

tb_status tb_fixed_mul_int(tb_fixed a, int64_t n, tb_fixed *out) {
    return store((i128)a * n, out);
}

tb_status tb_fixed_mul(tb_fixed a, tb_fixed b, tb_round mode, tb_fixed *out) {
    i128 q;
    tb_status s = round_div((i128)a * b, TB_FIXED_SCALE, mode, &q);
    return s != TB_OK ? s : store(q, out);
}

tb_status tb_fixed_div(tb_fixed a, tb_fixed b, tb_round mode, tb_fixed *out) {
    if (b == 0) return TB_INVALID;
    i128 q;
    tb_status s = round_div((i128)a * TB_FIXED_SCALE, b, mode, &q);
    return s != TB_OK ? s : store(q, out);
}

tb_status tb_fixed_muldiv(tb_fixed a, int64_t num, int64_t den, tb_round mode, tb_fixed *out) {
    if (den == 0) return TB_INVALID;
    i128 q;
    tb_status s = round_div((i128)a * num, den, mode, &q);
    return s != TB_OK ? s : store(q, out);
}

tb_status tb_fixed_round_to(tb_fixed a, tb_fixed step, tb_round mode, tb_fixed *out) {
    if (step <= 0) return TB_INVALID;
    i128 q;
    tb_status s = round_div(a, step, mode, &q);
    return s != TB_OK ? s : store(q * step, out);
}

tb_fixed tb_fixed_abs(tb_fixed a) {
    return a < 0 ? -a : a;
}

int tb_fixed_cmp(tb_fixed a, tb_fixed b) {
    return (a > b) - (a < b);
}

tb_status tb_position_unrealized(tb_fixed qty, tb_fixed cost_basis, tb_fixed last, tb_fixed *out) {
    tb_fixed mv = cost_basis;
    if (last > 0) {
        tb_status s = tb_fixed_mul(qty, last, TB_ROUND_HALF_EVEN, &mv);
        if (s != TB_OK) return s;
    }
    return tb_fixed_sub(mv, cost_basis, out);
}

bool tb_fixed_is_multiple(tb_fixed a, tb_fixed step) {
    return step > 0 && a % step == 0;
}

double tb_fixed_to_double(tb_fixed a) {
    /* Splitting keeps whole units exact up to 2^53 instead of dividing an
     * already-rounded 64-bit value. */
    return (double)(a / TB_FIXED_SCALE) + (double)(a % TB_FIXED_SCALE) / (double)TB_FIXED_SCALE;
}
