/* money: the price of exact, checked fixed-point multiplication.
 *
 * tb_fixed_mul multiplies in 128 bits, rounds with an explicit mode and
 * reports overflow. The baseline is what code without the money module would
 * write: a * b / TB_FIXED_SCALE in int64, truncating, unchecked, in a
 * function that is not inlined so both sides pay one call (tb_fixed_mul lives
 * in another translation unit). A second row shows the same expression
 * inlined into the loop, for scale. The int64 product of two scaled values
 * overflows once |a * b| passes 2^63, i.e. once the product of the two
 * values exceeds about 922 (30.4 x 30.4), so the operands here stay below
 * 2^31 each (|value| < 21.47) to give every variant the same valid work;
 * realistic notionals (price 18000 x qty 10) are beyond the baseline
 * entirely, which is why money.h exists.
 *
 * Before timing, TB_ROUND_DOWN must equal the baseline on every operand pair
 * (C division truncates toward zero too). Every result feeds an accumulator
 * that is stored through a volatile, so no loop can be dropped. */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

#define NPAIRS 4096 /* a power of two: the index is a mask */

static uint64_t rng_state = 0x243f6a8885a308d3u;
static uint64_t rnd(void) { /* xorshift64*: the same operands in every run */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

/* Signed, |x| < 2^31 (in tb_fixed units: below 21.47483648). */
static tb_fixed operand(void) {
    int64_t x = (int64_t)(rnd() % (UINT64_C(1) << 31));
    return rnd() & 1 ? -x : x;
}

/* The baseline; noinline so both variants pay one call per operation. */
__attribute__((noinline)) static tb_fixed int64_mul(tb_fixed a, tb_fixed b) {
    return a * b / TB_FIXED_SCALE;
}

static int64_t run(int variant, const tb_fixed *a, const tb_fixed *b, size_t n, uint64_t *acc,
                   size_t *failures) {
    uint64_t sum = 0;
    size_t bad = 0;
    int64_t t0 = bus_mono_ns();
    if (variant == 0) {
        for (size_t i = 0; i < n; i++) {
            size_t k = i & (NPAIRS - 1);
            sum += (uint64_t)int64_mul(a[k], b[k]);
        }
    } else if (variant == 1) {
        for (size_t i = 0; i < n; i++) {
            size_t k = i & (NPAIRS - 1);
            sum += (uint64_t)(a[k] * b[k] / TB_FIXED_SCALE);
        }
    } else {
        tb_round mode = variant == 2 ? TB_ROUND_DOWN : TB_ROUND_HALF_EVEN;
        for (size_t i = 0; i < n; i++) {
            size_t k = i & (NPAIRS - 1);
            tb_fixed r = 0;
            if (tb_fixed_mul(a[k], b[k], mode, &r) != TB_OK) bad++;
            sum += (uint64_t)r;
        }
    }
    int64_t dt = bus_mono_ns() - t0;
    *acc += sum;
    *failures += bad;
    return dt;
}

bool bench_money(const bench_opts *o) {
    static tb_fixed a[NPAIRS], b[NPAIRS];
    for (size_t i = 0; i < NPAIRS; i++) {
        a[i] = operand();
        b[i] = operand();
    }
    for (size_t i = 0; i < NPAIRS; i++) {
        tb_fixed r = 0;
        if (tb_fixed_mul(a[i], b[i], TB_ROUND_DOWN, &r) != TB_OK || r != int64_mul(a[i], b[i])) {
            printf("%-10s FAILED: tb_fixed_mul(DOWN) differs from a*b/1e8 at pair %zu\n", "money",
                   i);
            return false;
        }
    }
    static const char *const names[] = {"int64 a*b/1e8 call (truncating, unchecked)",
                                        "int64 a*b/1e8 inlined", "tb_fixed_mul TB_ROUND_DOWN",
                                        "tb_fixed_mul TB_ROUND_HALF_EVEN"};
    enum { NV = sizeof names / sizeof names[0] };
    bench_group g;
    if (!bench_group_init(&g, "money", "fixed-point multiply, |operands| < 2^31", BENCH_RATIO_OPS,
                          names, NV, o->reps, 0))
        return false;
    size_t n = bench_count(o, 20000000, 1000);
    uint64_t acc = 0;
    size_t failures[NV] = {0};
    for (int r = 0; r < o->reps; r++)
        for (int v = 0; v < NV; v++)
            bench_record(&g, (size_t)v, n, run(v, a, b, n, &acc, &failures[v]));
    for (size_t v = 0; v < NV; v++)
        if (failures[v]) bench_fail(&g, v, "%zu multiplications reported an error", failures[v]);
    bench_consume(acc);
    bool ok = bench_print_group(&g);
    bench_group_free(&g);
    return ok;
}
