/* Strategy kinds: parameter validation and the per-tick decision.
 *
 * A strategy is a kind (sma_cross, ema_cross, rsi, bollinger, donchian) plus
 * parameters given as a JSON object. sp_params_parse validates them with
 * errors naming the offending field; sp_step feeds one price into the
 * strategy's indicator state and says whether it fires, and why.
 *
 * Decision rules (all edge-triggered, so a steady condition fires once):
 *   sma_cross / ema_cross  buy when the fast average crosses above the slow
 *       one, sell when it crosses below. A cross needs an earlier opposite
 *       relation; equality keeps the previous relation (flat prices never fire).
 *   rsi        buy when RSI enters the zone below `lower`, sell when it
 *       enters the zone above `upper`. Undefined RSI (no movement) keeps the zone.
 *   bollinger  buy when the price enters the zone below the lower band, sell
 *       when it enters the zone above the upper band.
 *   donchian   buy when the price breaks above the highest of the previous
 *       `period` prices, sell when it breaks below the lowest; a breakout in
 *       the direction of the last signal does not fire again (stop and reverse).
 *
 * No I/O. Not thread-safe per state; states are independent values. */
#ifndef SP_STRATEGY_H
#define SP_STRATEGY_H

#include <stdbool.h>
#include <stdint.h>

#include "indicators.h"

typedef enum {
    SP_KIND_SMA_CROSS,
    SP_KIND_EMA_CROSS,
    SP_KIND_RSI,
    SP_KIND_BOLLINGER,
    SP_KIND_DONCHIAN,
    SP_KIND_COUNT
} sp_kind;

/* "sma_cross" ... (the values of tb_strategy.kind); NULL for bad values. */
const char *sp_kind_name(sp_kind k);
/* TB_INVALID (field "kind") for unknown names. */
tb_status sp_kind_parse(const char *name, sp_kind *out, tb_error *err) TB_WARN_UNUSED;

typedef struct sp_params {
    sp_kind kind;
    uint32_t fast, slow;   /* sma_cross, ema_cross: 1 <= fast < slow <= SP_MAX_PERIOD */
    uint32_t period;       /* rsi, bollinger: 2..; donchian: 1.. (<= SP_MAX_PERIOD) */
    tb_fixed lower, upper; /* rsi: 0 < lower < upper < 100 */
    tb_fixed k;            /* bollinger: 0 < k <= 10 standard deviations */
    int64_t bar_ns;        /* "bars": 0 = periods count ticks; else bars of this length */
} sp_params;

/* Validates the JSON object text for kind. Errors (TB_INVALID, or the
 * fixed-point parse status) name the field as "params.<name>" ("params" for
 * a malformed object): unknown kind, missing, unknown or mistyped parameter,
 * out of range, fast >= slow, lower >= upper. An empty text counts as {}. */
tb_status sp_params_parse(const char *kind, const char *json_text, sp_params *out,
                          tb_error *err) TB_WARN_UNUSED;
/* Canonical JSON of validated params (fixed key order, exact decimals), as
 * stored in PostgreSQL. Returns the length; the output is always terminated. */
size_t sp_params_format(const sp_params *p, char *buf, size_t cap);

typedef enum { SP_SIDE_NONE = 0, SP_SIDE_BUY = 1, SP_SIDE_SELL = -1 } sp_side;

/* A decision taken on one tick and not yet published: a signal goes out when
 * the symbol's next tick arrives, carrying that tick as the price and time a
 * market order from it fills at (event time, no look-ahead: the decision saw
 * only its own tick, the fill is at the first price after it). Kept in the
 * state so that whoever applies the next tick publishes it, exactly once. */
typedef struct sp_pending {
    sp_side side; /* SP_SIDE_NONE: nothing pending */
    uint64_t seq; /* the deciding tick */
    int64_t ts;
    tb_fixed price;
    char reason[200];
    char trace[128]; /* the deciding tick's trace id, which the signal carries */
} sp_pending;

/* The bar being built for a strategy that counts in bars (sp_params.bar_ns):
 * buckets of bar_ns from the epoch, UTC (days start at 00:00 UTC), as
 * historical-data builds its bars; the close is the last tick's price. */
typedef struct sp_bar {
    bool open;
    int64_t start; /* bucket start, ns */
    tb_fixed close;
    uint64_t seq; /* the bar's last tick so far */
    int64_t ts;
    char trace[128];
} sp_bar;

/* Indicator state of one strategy on one symbol. Plain data: copy by value. */
typedef struct sp_state {
    sp_kind kind;
    int64_t cfg_version; /* strategy version the state was built for */
    int8_t relation;     /* crosses: last non-zero sign(fast - slow); rsi/bollinger: zone */
    int8_t last_side;    /* donchian: side of the last signal */
    sp_pending pending;  /* a decision waiting for the next tick */
    sp_bar bar;          /* strategies counting in bars: the bar being built */
    union {
        struct {
            sp_sma fast, slow;
        } sma;
        struct {
            sp_ema fast, slow;
        } ema;
        sp_rsi rsi;
        sp_bollinger boll;
        sp_donchian don;
    } u;
} sp_state;

/* Empty state for params (everything warming up). */
void sp_state_init(sp_state *s, const sp_params *p, int64_t cfg_version);

typedef struct sp_decision {
    sp_side side;     /* SP_SIDE_NONE: no signal */
    bool ready;       /* indicators past warm-up */
    char reason[200]; /* for people: what crossed what, with values */
} sp_decision;

/* Feeds price into s and decides. On error (TB_OVERFLOW for absurd prices,
 * TB_INVALID for a state that does not match p) s is left unchanged. */
tb_status sp_step(const sp_params *p, sp_state *s, tb_fixed price, sp_decision *out) TB_WARN_UNUSED;

/* Start of the bar of length bar_ns (> 0) holding ts: the largest multiple
 * of bar_ns <= ts (floor, also before the epoch). */
int64_t sp_bar_start(int64_t ts, int64_t bar_ns);

/* Feeds one tick to a strategy that counts in bars (p->bar_ns > 0). A tick
 * of the bar being built only moves its close. A tick of a later bar
 * finishes it: the finished bar's close is stepped through the strategy
 * (sp_step) and *out is the decision, taken on the finished bar's last tick
 * (*closed, a copy), then the tick opens the new bar. A tick older than the
 * bar being built (time going back within one feed) counts in that bar.
 * When sp_step refuses the finished bar's close (an absurd price), that bar
 * is skipped (indicators unchanged, no decision), the tick still opens the
 * new bar, and sp_step's error is returned. TB_INVALID without bars. */
tb_status sp_bar_feed(const sp_params *p, sp_state *s, uint64_t seq, int64_t ts, tb_fixed price,
                      const char *trace, sp_decision *out, sp_bar *closed) TB_WARN_UNUSED;

#endif
