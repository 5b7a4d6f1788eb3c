/* The price simulator: seeded geometric Brownian motion per symbol, quoted as
 * bid/ask around a fixed-point last price with sizes.
 *
 * Each symbol has its own random stream seeded from (seed, symbol name), so a
 * symbol's path depends only on the seed and its own settings, not on which
 * other symbols run beside it. The GBM factor exp((mu - sigma^2/2) dt +
 * sigma sqrt(dt) Z) is computed in double, turned into an integer ratio with
 * 12 decimals by one deterministic rounding, and applied to the tb_fixed
 * price with integer arithmetic: the stored price never passes through a
 * double. This file does no I/O and keeps no global state. */
#ifndef MD_SIM_H
#define MD_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"
#include "md_rng.h"

/* Simulated trading year used to scale annual drift and volatility:
 * 252 days of 6.5 hours. */
#define MD_SIM_YEAR_SECONDS (252.0 * 6.5 * 3600.0)
/* Prices are kept within [1e-8, MD_SIM_MAX_PRICE] so fixed-point arithmetic
 * never overflows whatever the volatility. */
#define MD_SIM_MAX_PRICE   (INT64_C(1000000000) * TB_FIXED_SCALE)
#define MD_SIM_MAX_SYMBOLS 1024

typedef struct md_sim_params {
    tb_fixed default_start; /* start price of symbols listed without one */
    double drift;           /* annual drift mu, default for every symbol */
    double volatility;      /* annual volatility sigma, default for every symbol */
    int64_t spread_bps;     /* bid/ask spread around last, 1..10000 basis points */
    tb_fixed price_step;    /* tick size prices are rounded to, > 0 */
    int64_t max_size;       /* sizes are whole units in [1, max_size] */
    double step_seconds;    /* simulated trading seconds between two ticks of a symbol */
} md_sim_params;

/* Fills p with the defaults: start 100, drift 0.05, volatility 0.2, spread 5
 * bps, price step 0.01, max size 100, step 60 s. */
void md_sim_params_default(md_sim_params *p);

typedef struct md_sim_symbol_spec {
    char symbol[TB_TOKEN_CAP];
    tb_fixed start;
    double drift;
    double volatility;
} md_sim_symbol_spec;

/* Parses a symbol list "DAX:1628.75,SMI:1678.1:0.05:0.3,XYZ": comma-separated
 * entries SYMBOL[:start[:drift[:volatility]]]; missing parts come from p.
 * Symbols must be subject-safe tokens and unique; start is a positive decimal
 * within MD_SIM_MAX_PRICE; drift within [-10, 10], volatility within [0, 10].
 * *out is malloc'd (caller frees with free()), *n its length (>= 1). On
 * error err names the entry and nothing is returned. */
tb_status md_sim_parse_symbols(const char *list, const md_sim_params *p, md_sim_symbol_spec **out,
                               size_t *n, tb_error *err) TB_WARN_UNUSED;

/* Checks the numeric ranges of p (TB_INVALID naming the setting). */
tb_status md_sim_params_check(const md_sim_params *p, tb_error *err) TB_WARN_UNUSED;

typedef struct md_sim md_sim;

/* Creates a simulator over n symbols (copied). Caller frees with
 * md_sim_destroy. */
tb_status md_sim_create(const md_sim_params *p, uint64_t seed, const md_sim_symbol_spec *specs,
                        size_t n, md_sim **out, tb_error *err) TB_WARN_UNUSED;
void md_sim_destroy(md_sim *s);
size_t md_sim_count(const md_sim *s);

/* Produces the next tick, symbols in round-robin order of the list: sets
 * symbol, bid < ask (spread_bps around last, rounded outward to the price
 * step), last (the current price rounded to the step, >= one step) and the
 * three sizes, then advances that symbol's price by one GBM step. Leaves seq,
 * ts and source to the caller. */
void md_sim_next(md_sim *s, tb_tick *out);

/* Quotes a price: last = price rounded half-even to step (at least one step),
 * bid/ask = last -/+ spread/2 rounded down/up to the step, ask > bid >= step. */
void md_sim_quote(tb_fixed price, int64_t spread_bps, tb_fixed step, tb_fixed *bid, tb_fixed *ask,
                  tb_fixed *last);

/* One GBM step of price with standard normal z over dt years; the result is
 * clamped to [1e-8, MD_SIM_MAX_PRICE]. */
tb_fixed md_sim_gbm_step(tb_fixed price, double drift, double volatility, double dt_years,
                         double z);

#endif
