/* Fixed-point decimal for every price, quantity, fee and cash amount.
 *
 * A tb_fixed is an int64 holding the value times 10^8 (8 decimal places):
 * 1.5 is 150000000. This is the one place the scale is defined. Every
 * operation is exact or rounds with an explicit mode, and every operation that
 * can overflow reports it instead of wrapping. No floating point is used except
 * in tb_fixed_to_double, which exists for statistics only. */
#ifndef TB_MONEY_H
#define TB_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef int64_t tb_fixed;

#define TB_FIXED_DECIMALS 8
#define TB_FIXED_SCALE    INT64_C(100000000)
#define TB_FIXED_MAX      INT64_MAX
#define TB_FIXED_MIN      (INT64_MIN + 1) /* symmetric range: negation never overflows */
/* Longest formatted value: sign, 11 integer digits, '.', 8 decimals, NUL. */
#define TB_FIXED_STRLEN 32

typedef enum {
    TB_ROUND_HALF_EVEN, /* banker's rounding: ties to the even neighbour */
    TB_ROUND_HALF_UP,   /* ties away from zero */
    TB_ROUND_DOWN,      /* toward zero (truncate) */
    TB_ROUND_FLOOR,     /* toward -infinity */
    TB_ROUND_CEIL,      /* toward +infinity */
} tb_round;

/* From whole units: tb_fixed_from_int(3) == 3.00000000. TB_OVERFLOW if out of range. */
tb_status tb_fixed_from_int(int64_t units, tb_fixed *out) TB_WARN_UNUSED;

/* Parses a decimal string of exactly len bytes: optional sign, digits, optional
 * '.' and up to 8 fraction digits ("12", "-0.5", "+3.25", ".5", "5."). Rejects
 * exponents, spaces, empty input, NaN/Infinity (TB_INVALID), more than 8
 * fraction digits unless the extra digits are zeros (TB_PRECISION), and values
 * beyond the range (TB_OVERFLOW). *out is set only on success. */
tb_status tb_fixed_parse(const char *s, size_t len, tb_fixed *out) TB_WARN_UNUSED;
/* Same for a NUL-terminated string. */
tb_status tb_fixed_parse_cstr(const char *s, tb_fixed *out) TB_WARN_UNUSED;

/* Canonical form: no exponent, no trailing fraction zeros, "0" for zero,
 * "-0.00000001" for the smallest negative. Writes at most TB_FIXED_STRLEN
 * bytes including the NUL; returns the length written (excluding NUL). */
size_t tb_fixed_format(tb_fixed v, char buf[TB_FIXED_STRLEN]);

/* Checked arithmetic: return TB_OVERFLOW (out untouched) instead of wrapping. */
tb_status tb_fixed_add(tb_fixed a, tb_fixed b, tb_fixed *out) TB_WARN_UNUSED;
tb_status tb_fixed_sub(tb_fixed a, tb_fixed b, tb_fixed *out) TB_WARN_UNUSED;
tb_status tb_fixed_neg(tb_fixed a, tb_fixed *out) TB_WARN_UNUSED;
/* a * n for an integer n (lot counts, multipliers). */
tb_status tb_fixed_mul_int(tb_fixed a, int64_t n, tb_fixed *out) TB_WARN_UNUSED;
/* a * b (both fixed), rounded to 8 decimals with mode: price * qty = notional. */
tb_status tb_fixed_mul(tb_fixed a, tb_fixed b, tb_round mode, tb_fixed *out) TB_WARN_UNUSED;
/* a / b (both fixed), rounded with mode. TB_INVALID when b == 0. */
tb_status tb_fixed_div(tb_fixed a, tb_fixed b, tb_round mode, tb_fixed *out) TB_WARN_UNUSED;
/* a * num / den with one rounding at the end (basis points: num=bps, den=10000). */
tb_status tb_fixed_muldiv(tb_fixed a, int64_t num, int64_t den, tb_round mode,
                          tb_fixed *out) TB_WARN_UNUSED;
/* Rounds a to a multiple of step (> 0): tick sizes and lot sizes. */
tb_status tb_fixed_round_to(tb_fixed a, tb_fixed step, tb_round mode, tb_fixed *out) TB_WARN_UNUSED;

/* A position's unrealized P&L, as position-management books it (and every
 * reader of its rows computes it): qty (signed) at last, rounded half-even,
 * less cost_basis (signed like qty); 0 without a last price (last <= 0).
 * Migration 0500 defines the columns. */
tb_status tb_position_unrealized(tb_fixed qty, tb_fixed cost_basis, tb_fixed last,
                                 tb_fixed *out) TB_WARN_UNUSED;

tb_fixed tb_fixed_abs(tb_fixed a); /* a is never INT64_MIN (see TB_FIXED_MIN) */
int tb_fixed_cmp(tb_fixed a, tb_fixed b);
bool tb_fixed_is_multiple(tb_fixed a, tb_fixed step);
/* For statistics only (Sharpe and the like); never for booking money. */
double tb_fixed_to_double(tb_fixed a);

#endif
