/* Technical indicators as incremental, serialisable state machines.
 *
 * Each indicator is a plain struct updated one price at a time: SMA, EMA,
 * RSI (Wilder), Bollinger bands and the Donchian channel. Prices are tb_fixed
 * and every computation is integer arithmetic (sums in __int128, explicit
 * half-even rounding, an integer square root), so a state advanced by the same
 * prices gives bit-identical results on every worker regardless of summation
 * order, compiler or FPU. The structs hold no pointers: they can be copied,
 * and strategy_state.c writes them to and reads them from Redis.
 *
 * No I/O, no allocation, no globals. */
#ifndef SP_INDICATORS_H
#define SP_INDICATORS_H

#include <stdbool.h>
#include <stdint.h>

#include "money.h"
#include "status.h"

/* Longest lookback any indicator accepts (bounds the state kept in Redis). */
#define SP_MAX_PERIOD 1000

/* The last `cap` prices, oldest overwritten first. */
typedef struct sp_window {
    uint32_t cap;   /* period, 1..SP_MAX_PERIOD */
    uint32_t count; /* prices held, <= cap */
    uint32_t head;  /* slot of the next write */
    tb_fixed v[SP_MAX_PERIOD];
} sp_window;

void sp_window_init(sp_window *w, uint32_t cap);
/* Appends p, dropping the oldest price when full. */
void sp_window_push(sp_window *w, tb_fixed p);
/* The i-th most recent price (0 = newest); i < count. */
tb_fixed sp_window_at(const sp_window *w, uint32_t i);
bool sp_window_full(const sp_window *w);

/* ---- Simple moving average: arithmetic mean of the last n prices ---- */
typedef struct sp_sma {
    sp_window w;
    __int128 sum; /* exact sum of the prices in w; rebuilt by sp_sma_resum */
} sp_sma;

void sp_sma_init(sp_sma *s, uint32_t period);
/* Adds a price; returns true once period prices have been seen. */
bool sp_sma_update(sp_sma *s, tb_fixed p);
bool sp_sma_ready(const sp_sma *s);
/* Recomputes sum from the window (after deserialising). */
void sp_sma_resum(sp_sma *s);
/* Mean rounded half-even to 8 decimals. TB_INVALID before warm-up. */
tb_status sp_sma_value(const sp_sma *s, tb_fixed *out) TB_WARN_UNUSED;
/* Exact comparison of two ready SMAs without rounding: sign(a - b). */
int sp_sma_cmp(const sp_sma *a, const sp_sma *b);

/* ---- Exponential moving average, alpha = 2 / (n + 1) ----
 * Seeded with the SMA of the first n prices (the textbook convention), then
 * ema += (p - ema) * 2 / (n + 1), rounded half-even to 8 decimals. */
typedef struct sp_ema {
    uint32_t period;
    uint32_t seen;     /* prices seen, saturating at period */
    __int128 seed_sum; /* sum of the first `period` prices */
    tb_fixed value;    /* valid when seen == period */
} sp_ema;

void sp_ema_init(sp_ema *e, uint32_t period);
/* Adds a price; *ready is true once the EMA is defined. TB_OVERFLOW (state
 * unchanged) when the result does not fit tb_fixed. */
tb_status sp_ema_update(sp_ema *e, tb_fixed p, bool *ready) TB_WARN_UNUSED;
bool sp_ema_ready(const sp_ema *e);

/* ---- Relative strength index, Wilder's smoothing ----
 * The first average gain/loss is the simple mean of the first n changes;
 * afterwards avg = (avg * (n - 1) + x) / n. RSI = 100 * G / (G + L). */
typedef struct sp_rsi {
    uint32_t period;
    uint32_t changes; /* price changes seen, saturating at period */
    bool has_prev;
    tb_fixed prev;     /* previous price */
    __int128 sum_gain; /* warm-up sums of the first n changes */
    __int128 sum_loss;
    tb_fixed avg_gain; /* valid when changes == period */
    tb_fixed avg_loss;
} sp_rsi;

void sp_rsi_init(sp_rsi *r, uint32_t period);
tb_status sp_rsi_update(sp_rsi *r, tb_fixed p, bool *ready) TB_WARN_UNUSED;
bool sp_rsi_ready(const sp_rsi *r);
/* False when undefined: before warm-up, or no movement at all (G + L = 0). */
bool sp_rsi_defined(const sp_rsi *r);
/* RSI on a 0..100 scale, rounded half-even; TB_INVALID when undefined. */
tb_status sp_rsi_value(const sp_rsi *r, tb_fixed *out) TB_WARN_UNUSED;
/* Exact sign(RSI - level) for a defined RSI and level in 0..100. */
int sp_rsi_cmp_level(const sp_rsi *r, tb_fixed level);

/* ---- Bollinger bands: SMA(n) +/- k population standard deviations ---- */
typedef struct sp_bollinger {
    sp_window w;
    tb_fixed k;
} sp_bollinger;

typedef struct sp_bands {
    tb_fixed lower, middle, upper, stddev;
} sp_bands;

void sp_bollinger_init(sp_bollinger *b, uint32_t period, tb_fixed k);
bool sp_bollinger_update(sp_bollinger *b, tb_fixed p);
bool sp_bollinger_ready(const sp_bollinger *b);
/* Bands of the current window: middle = mean rounded half-even, stddev =
 * floor(isqrt(n*sum(p^2) - sum(p)^2)) / n (exact integer square root), upper
 * and lower = middle +/- k * stddev rounded half-even. TB_INVALID before
 * warm-up, TB_OVERFLOW for prices too large to square-sum in 128 bits. */
tb_status sp_bollinger_bands(const sp_bollinger *b, sp_bands *out) TB_WARN_UNUSED;

/* ---- Donchian channel: highest and lowest of the previous n prices ---- */
typedef struct sp_donchian {
    sp_window w;
} sp_donchian;

void sp_donchian_init(sp_donchian *d, uint32_t period);
/* Compares p with the channel of the n prices before it, then adds p.
 * *breakout = +1 when p > highest, -1 when p < lowest, 0 otherwise (and 0
 * while fewer than n earlier prices exist). Returns whether the channel was
 * complete, i.e. whether *breakout is meaningful. */
bool sp_donchian_update(sp_donchian *d, tb_fixed p, int *breakout);
/* Channel the next price will be compared with; false before warm-up. */
bool sp_donchian_channel(const sp_donchian *d, tb_fixed *lower, tb_fixed *upper);

/* Floor of the square root of v (v >= 0). Exposed for tests. */
unsigned __int128 sp_isqrt_u128(unsigned __int128 v);
/* Rounds num / den half-even (den > 0); TB_OVERFLOW when the quotient does
 * not fit tb_fixed. Exposed for tests. */
tb_status sp_div_round(__int128 num, __int128 den, tb_fixed *out) TB_WARN_UNUSED;

#endif
