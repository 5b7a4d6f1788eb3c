/* Indicator arithmetic (see indicators.h). Integer only: sums are exact in
 * __int128 and every division rounds half-even in one place (sp_div_round),
 * which is what makes N workers agree with one. */
#include "indicators.h"

#include <string.h>

/* ---- helpers ---- */

tb_status sp_div_round(__int128 num, __int128 den, tb_fixed *out) {
    if (den <= 0) return TB_INVALID;
    bool neg = num < 0;
    unsigned __int128 a = neg ? (unsigned __int128)(-(num + 1)) + 1 : (unsigned __int128)num;
    unsigned __int128 d = (unsigned __int128)den;
    unsigned __int128 q = a / d, r = a % d;
    /* half-even: round up when the remainder is over half, or exactly half
     * and the quotient is odd. */
    if (r > d - r || (r == d - r && (q & 1))) q++;
    if (q > (unsigned __int128)TB_FIXED_MAX) return TB_OVERFLOW;
    *out = neg ? -(tb_fixed)q : (tb_fixed)q;
    return TB_OK;
}

unsigned __int128 sp_isqrt_u128(unsigned __int128 v) {
    if (v < 2) return v;
    int bits = 0;
    for (unsigned __int128 t = v; t; t >>= 1) bits++;
    /* Start above the root (2^ceil(bits/2) > sqrt(v)); Newton's iteration
     * then decreases monotonically to the floor of the root. */
    unsigned __int128 x = (unsigned __int128)1 << ((bits + 1) / 2);
    for (;;) {
        unsigned __int128 y = (x + v / x) >> 1;
        if (y >= x) return x;
        x = y;
    }
}

/* ---- window ---- */

void sp_window_init(sp_window *w, uint32_t cap) {
    w->cap = cap < 1 ? 1 : cap > SP_MAX_PERIOD ? SP_MAX_PERIOD : cap;
    w->count = 0;
    w->head = 0;
    memset(w->v, 0, sizeof w->v);
}

void sp_window_push(sp_window *w, tb_fixed p) {
    w->v[w->head] = p;
    w->head = (w->head + 1) % w->cap;
    if (w->count < w->cap) w->count++;
}

tb_fixed sp_window_at(const sp_window *w, uint32_t i) {
    return w->v[(w->head + w->cap - 1 - i % w->cap) % w->cap];
}

bool sp_window_full(const sp_window *w) {
    return w->count == w->cap;
}

/* ---- SMA ---- */

void sp_sma_init(sp_sma *s, uint32_t period) {
    sp_window_init(&s->w, period);
    s->sum = 0;
}

bool sp_sma_update(sp_sma *s, tb_fixed p) {
    /* The oldest price leaves the sum before its slot is overwritten. */
    if (sp_window_full(&s->w)) s->sum -= sp_window_at(&s->w, s->w.cap - 1);
    sp_window_push(&s->w, p);
    s->sum += p;
    return sp_sma_ready(s);
}

bool sp_sma_ready(const sp_sma *s) {
    return sp_window_full(&s->w);
}

void sp_sma_resum(sp_sma *s) {
    s->sum = 0;
    for (uint32_t i = 0; i < s->w.count; i++) s->sum += sp_window_at(&s->w, i);
}

tb_status sp_sma_value(const sp_sma *s, tb_fixed *out) {
    if (!sp_sma_ready(s)) return TB_INVALID;
    return sp_div_round(s->sum, s->w.cap, out);
}

int sp_sma_cmp(const sp_sma *a, const sp_sma *b) {
    /* sum_a / n_a vs sum_b / n_b  <=>  sum_a * n_b vs sum_b * n_a; sums are
     * below 1000 * 2^63, so the products stay far inside 128 bits. */
    __int128 l = a->sum * (__int128)b->w.cap, r = b->sum * (__int128)a->w.cap;
    return (l > r) - (l < r);
}

/* ---- EMA ---- */

void sp_ema_init(sp_ema *e, uint32_t period) {
    e->period = period < 1 ? 1 : period > SP_MAX_PERIOD ? SP_MAX_PERIOD : period;
    e->seen = 0;
    e->seed_sum = 0;
    e->value = 0;
}

tb_status sp_ema_update(sp_ema *e, tb_fixed p, bool *ready) {
    if (e->seen < e->period) {
        e->seed_sum += p;
        e->seen++;
        if (e->seen == e->period) {
            tb_status s = sp_div_round(e->seed_sum, e->period, &e->value);
            if (s != TB_OK) {
                e->seen--;
                e->seed_sum -= p;
                return s;
            }
        }
        *ready = e->seen == e->period;
        return TB_OK;
    }
    /* ema + (p - ema) * 2 / (n + 1), one rounding per step. */
    tb_fixed step;
    tb_status s = sp_div_round(((__int128)p - e->value) * 2, (__int128)e->period + 1, &step);
    if (s != TB_OK) return s;
    __int128 v = (__int128)e->value + step;
    if (v > TB_FIXED_MAX || v < TB_FIXED_MIN) return TB_OVERFLOW;
    e->value = (tb_fixed)v;
    *ready = true;
    return TB_OK;
}

bool sp_ema_ready(const sp_ema *e) {
    return e->seen == e->period;
}

/* ---- RSI (Wilder) ---- */

void sp_rsi_init(sp_rsi *r, uint32_t period) {
    memset(r, 0, sizeof *r);
    r->period = period < 1 ? 1 : period > SP_MAX_PERIOD ? SP_MAX_PERIOD : period;
}

tb_status sp_rsi_update(sp_rsi *r, tb_fixed p, bool *ready) {
    if (!r->has_prev) {
        r->has_prev = true;
        r->prev = p;
        *ready = false;
        return TB_OK;
    }
    __int128 change = (__int128)p - r->prev;
    __int128 gain = change > 0 ? change : 0, loss = change < 0 ? -change : 0;
    sp_rsi next = *r;
    next.prev = p;
    if (next.changes < next.period) {
        next.sum_gain += gain;
        next.sum_loss += loss;
        next.changes++;
        if (next.changes == next.period) {
            tb_status s = sp_div_round(next.sum_gain, next.period, &next.avg_gain);
            if (s == TB_OK) s = sp_div_round(next.sum_loss, next.period, &next.avg_loss);
            if (s != TB_OK) return s;
        }
    } else {
        __int128 n = next.period;
        tb_status s = sp_div_round((__int128)next.avg_gain * (n - 1) + gain, n, &next.avg_gain);
        if (s == TB_OK)
            s = sp_div_round((__int128)next.avg_loss * (n - 1) + loss, n, &next.avg_loss);
        if (s != TB_OK) return s;
    }
    *r = next;
    *ready = sp_rsi_ready(r);
    return TB_OK;
}

bool sp_rsi_ready(const sp_rsi *r) {
    return r->changes == r->period;
}

bool sp_rsi_defined(const sp_rsi *r) {
    return sp_rsi_ready(r) && (r->avg_gain > 0 || r->avg_loss > 0);
}

tb_status sp_rsi_value(const sp_rsi *r, tb_fixed *out) {
    if (!sp_rsi_defined(r)) return TB_INVALID;
    __int128 g = r->avg_gain, total = (__int128)r->avg_gain + r->avg_loss;
    return sp_div_round(g * 100 * TB_FIXED_SCALE, total, out);
}

int sp_rsi_cmp_level(const sp_rsi *r, tb_fixed level) {
    /* 100 * G / (G + L) vs level  <=>  100 * SCALE * G vs level * (G + L). */
    __int128 g = r->avg_gain, total = (__int128)r->avg_gain + r->avg_loss;
    __int128 lhs = g * 100 * TB_FIXED_SCALE, rhs = (__int128)level * total;
    return (lhs > rhs) - (lhs < rhs);
}

/* ---- Bollinger ---- */

void sp_bollinger_init(sp_bollinger *b, uint32_t period, tb_fixed k) {
    sp_window_init(&b->w, period);
    b->k = k;
}

bool sp_bollinger_update(sp_bollinger *b, tb_fixed p) {
    sp_window_push(&b->w, p);
    return sp_bollinger_ready(b);
}

bool sp_bollinger_ready(const sp_bollinger *b) {
    return sp_window_full(&b->w);
}

tb_status sp_bollinger_bands(const sp_bollinger *b, sp_bands *out) {
    if (!sp_bollinger_ready(b)) return TB_INVALID;
    __int128 n = b->w.cap, sum = 0, sumsq = 0;
    for (uint32_t i = 0; i < b->w.count; i++) {
        __int128 p = sp_window_at(&b->w, i), sq;
        if (__builtin_mul_overflow(p, p, &sq) || __builtin_add_overflow(sumsq, sq, &sumsq))
            return TB_OVERFLOW;
        sum += p;
    }
    /* n^2 * variance = n * sum(p^2) - sum(p)^2, exact and never negative. */
    __int128 nq, s2, d;
    if (__builtin_mul_overflow(n, sumsq, &nq) || __builtin_mul_overflow(sum, sum, &s2))
        return TB_OVERFLOW;
    d = nq - s2;
    if (d < 0) d = 0;
    sp_bands r;
    __int128 root = (__int128)sp_isqrt_u128((unsigned __int128)d); /* n * stddev */
    tb_status s = sp_div_round(sum, n, &r.middle);
    if (s == TB_OK) s = sp_div_round(root, n, &r.stddev);
    tb_fixed width = 0;
    if (s == TB_OK) s = tb_fixed_mul(b->k, r.stddev, TB_ROUND_HALF_EVEN, &width);
    if (s == TB_OK) s = tb_fixed_add(r.middle, width, &r.upper);
    if (s == TB_OK) s = tb_fixed_sub(r.middle, width, &r.lower);
    if (s != TB_OK) return s;
    *out = r;
    return TB_OK;
}

/* ---- Donchian ---- */

void sp_donchian_init(sp_donchian *d, uint32_t period) {
    sp_window_init(&d->w, period);
}

bool sp_donchian_channel(const sp_donchian *d, tb_fixed *lower, tb_fixed *upper) {
    if (!sp_window_full(&d->w)) return false;
    tb_fixed lo = sp_window_at(&d->w, 0), hi = lo;
    for (uint32_t i = 1; i < d->w.count; i++) {
        tb_fixed v = sp_window_at(&d->w, i);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    *lower = lo;
    *upper = hi;
    return true;
}

bool sp_donchian_update(sp_donchian *d, tb_fixed p, int *breakout) {
    tb_fixed lo, hi;
    bool ready = sp_donchian_channel(d, &lo, &hi);
    *breakout = !ready ? 0 : p > hi ? 1 : p < lo ? -1 : 0;
    sp_window_push(&d->w, p);
    return ready;
}
