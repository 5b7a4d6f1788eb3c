/* GBM simulator and symbol-list parsing; see md_sim.h. */
#include "md_sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The GBM factor is applied as an integer ratio factor_scaled / 10^12. */
#define FACTOR_SCALE INT64_C(1000000000000)
/* exp() of more than +-10 in one tick is no market; bounding the exponent
 * keeps factor_scaled inside int64. */
#define MAX_EXPONENT 10.0

struct md_sim {
    md_sim_params p;
    double dt_years;
    size_t n, next;
    struct sym_state {
        md_sim_symbol_spec spec;
        tb_fixed price;
        md_rng rng;
    } * syms;
};

void md_sim_params_default(md_sim_params *p) {
    memset(p, 0, sizeof *p);
    p->default_start = 100 * TB_FIXED_SCALE;
    p->drift = 0.05;
    p->volatility = 0.2;
    p->spread_bps = 5;
    p->price_step = TB_FIXED_SCALE / 100;
    p->max_size = 100;
    p->step_seconds = 60.0;
}

tb_status md_sim_params_check(const md_sim_params *p, tb_error *err) {
    if (p->default_start <= 0 || p->default_start > MD_SIM_MAX_PRICE)
        return tb_error_set(err, TB_INVALID, "start", "start price must be in (0, 1e9]");
    if (!(p->drift >= -10.0 && p->drift <= 10.0))
        return tb_error_set(err, TB_INVALID, "drift", "drift must be within [-10, 10]");
    if (!(p->volatility >= 0.0 && p->volatility <= 10.0))
        return tb_error_set(err, TB_INVALID, "volatility", "volatility must be within [0, 10]");
    if (p->spread_bps < 1 || p->spread_bps > 10000)
        return tb_error_set(err, TB_INVALID, "spread_bps", "spread must be 1..10000 bps");
    if (p->price_step <= 0 || p->price_step > TB_FIXED_SCALE * 1000)
        return tb_error_set(err, TB_INVALID, "price_step", "price step must be in (0, 1000]");
    if (p->max_size < 1 || p->max_size > 1000000000)
        return tb_error_set(err, TB_INVALID, "max_size", "max size must be 1..1e9");
    if (!(p->step_seconds > 0.0 && p->step_seconds <= MD_SIM_YEAR_SECONDS))
        return tb_error_set(err, TB_INVALID, "step_seconds", "step must be in (0, one year]");
    return TB_OK;
}

static bool token_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static void trim(const char **b, const char **e) {
    while (*b < *e && (**b == ' ' || **b == '\t')) (*b)++;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t')) (*e)--;
}

/* Parses the decimal in [b, e) as a double via tb_fixed, so the accepted
 * syntax is exactly the project's decimal syntax (no exponents, no NaN). */
static bool parse_ratio(const char *b, const char *e, double *out) {
    tb_fixed f;
    if (tb_fixed_parse(b, (size_t)(e - b), &f) != TB_OK) return false;
    *out = tb_fixed_to_double(f);
    return true;
}

/* One entry SYMBOL[:start[:drift[:volatility]]] in [b, e). */
static tb_status parse_entry(const char *b, const char *e, size_t idx, const md_sim_params *p,
                             md_sim_symbol_spec *o, tb_error *err) {
    const char *part[4] = {0}, *pend[4] = {0};
    int nparts = 0;
    const char *s = b;
    for (;;) {
        const char *c = memchr(s, ':', (size_t)(e - s));
        const char *end = c ? c : e;
        if (nparts == 4)
            return tb_error_set(err, TB_INVALID, "symbols",
                                "entry %zu: too many ':' parts (SYMBOL[:start[:drift[:vol]]])",
                                idx + 1);
        part[nparts] = s;
        pend[nparts] = end;
        trim(&part[nparts], &pend[nparts]);
        nparts++;
        if (c == NULL) break;
        s = c + 1;
    }
    size_t len = (size_t)(pend[0] - part[0]);
    if (len == 0 || len >= TB_TOKEN_CAP)
        return tb_error_set(err, TB_INVALID, "symbols",
                            "entry %zu: symbol must be 1..%d characters", idx + 1,
                            TB_TOKEN_CAP - 1);
    for (size_t i = 0; i < len; i++)
        if (!token_char(part[0][i]))
            return tb_error_set(err, TB_INVALID, "symbols",
                                "entry %zu: symbol may only hold A-Z a-z 0-9 _ -", idx + 1);
    memset(o, 0, sizeof *o);
    memcpy(o->symbol, part[0], len);
    o->start = p->default_start;
    o->drift = p->drift;
    o->volatility = p->volatility;
    if (nparts > 1 && pend[1] > part[1]) {
        if (tb_fixed_parse(part[1], (size_t)(pend[1] - part[1]), &o->start) != TB_OK ||
            o->start <= 0 || o->start > MD_SIM_MAX_PRICE)
            return tb_error_set(err, TB_INVALID, "symbols",
                                "%s: start price must be a positive decimal up to 1e9", o->symbol);
    }
    if (nparts > 2 && pend[2] > part[2]) {
        if (!parse_ratio(part[2], pend[2], &o->drift) || o->drift < -10.0 || o->drift > 10.0)
            return tb_error_set(err, TB_INVALID, "symbols",
                                "%s: drift must be a decimal within [-10, 10]", o->symbol);
    }
    if (nparts > 3 && pend[3] > part[3]) {
        if (!parse_ratio(part[3], pend[3], &o->volatility) || o->volatility < 0.0 ||
            o->volatility > 10.0)
            return tb_error_set(err, TB_INVALID, "symbols",
                                "%s: volatility must be a decimal within [0, 10]", o->symbol);
    }
    return TB_OK;
}

tb_status md_sim_parse_symbols(const char *list, const md_sim_params *p, md_sim_symbol_spec **out,
                               size_t *n, tb_error *err) {
    if (list == NULL) return tb_error_set(err, TB_INVALID, "symbols", "no symbols");
    size_t cap = 1;
    for (const char *c = list; *c; c++) cap += *c == ',';
    if (cap > MD_SIM_MAX_SYMBOLS)
        return tb_error_set(err, TB_INVALID, "symbols", "at most %d symbols", MD_SIM_MAX_SYMBOLS);
    md_sim_symbol_spec *v = calloc(cap, sizeof *v);
    if (v == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    size_t k = 0;
    const char *s = list;
    tb_status st = TB_OK;
    for (;;) {
        const char *c = strchr(s, ',');
        const char *e = c ? c : s + strlen(s);
        const char *b = s;
        trim(&b, &e);
        if (b == e) {
            st = tb_error_set(err, TB_INVALID, "symbols", "entry %zu is empty", k + 1);
            break;
        }
        st = parse_entry(b, e, k, p, &v[k], err);
        if (st != TB_OK) break;
        for (size_t j = 0; j < k; j++)
            if (strcmp(v[j].symbol, v[k].symbol) == 0)
                st = tb_error_set(err, TB_INVALID, "symbols", "%s is listed twice", v[k].symbol);
        if (st != TB_OK) break;
        k++;
        if (c == NULL) break;
        s = c + 1;
    }
    if (st != TB_OK) {
        free(v);
        return st;
    }
    *out = v;
    *n = k;
    return TB_OK;
}

tb_status md_sim_create(const md_sim_params *p, uint64_t seed, const md_sim_symbol_spec *specs,
                        size_t n, md_sim **out, tb_error *err) {
    tb_status st = md_sim_params_check(p, err);
    if (st != TB_OK) return st;
    if (n == 0 || n > MD_SIM_MAX_SYMBOLS)
        return tb_error_set(err, TB_INVALID, "symbols", "1..%d symbols", MD_SIM_MAX_SYMBOLS);
    md_sim *s = calloc(1, sizeof *s);
    if (s) s->syms = calloc(n, sizeof *s->syms);
    if (s == NULL || s->syms == NULL) {
        md_sim_destroy(s);
        return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    }
    s->p = *p;
    s->n = n;
    s->dt_years = p->step_seconds / MD_SIM_YEAR_SECONDS;
    for (size_t i = 0; i < n; i++) {
        s->syms[i].spec = specs[i];
        s->syms[i].price = specs[i].start;
        /* The symbol's name, not its position, picks its stream. */
        md_rng_seed(&s->syms[i].rng, seed ^ md_hash_str(specs[i].symbol));
    }
    *out = s;
    return TB_OK;
}

void md_sim_destroy(md_sim *s) {
    if (s == NULL) return;
    free(s->syms);
    free(s);
}

size_t md_sim_count(const md_sim *s) {
    return s->n;
}

static tb_fixed round_step(tb_fixed v, tb_fixed step, tb_round mode) {
    tb_fixed r;
    /* Prices are bounded by MD_SIM_MAX_PRICE, so rounding cannot overflow. */
    return tb_fixed_round_to(v, step, mode, &r) == TB_OK ? r : v;
}

void md_sim_quote(tb_fixed price, int64_t spread_bps, tb_fixed step, tb_fixed *bid, tb_fixed *ask,
                  tb_fixed *last) {
    tb_fixed l = round_step(price, step, TB_ROUND_HALF_EVEN);
    if (l < step) l = step;
    tb_fixed half = 0;
    if (tb_fixed_muldiv(l, spread_bps, 20000, TB_ROUND_HALF_EVEN, &half) != TB_OK) half = 0;
    tb_fixed b = round_step(l - half, step, TB_ROUND_FLOOR);
    tb_fixed a = round_step(l + half, step, TB_ROUND_CEIL);
    if (b < step) b = step;
    if (a <= b) a = b + step;
    *bid = b;
    *ask = a;
    *last = l;
}

tb_fixed md_sim_gbm_step(tb_fixed price, double drift, double volatility, double dt_years,
                         double z) {
    double x = (drift - 0.5 * volatility * volatility) * dt_years + volatility * sqrt(dt_years) * z;
    if (x > MAX_EXPONENT) x = MAX_EXPONENT;
    if (x < -MAX_EXPONENT) x = -MAX_EXPONENT;
    int64_t factor = llround(exp(x) * (double)FACTOR_SCALE);
    tb_fixed next;
    if (tb_fixed_muldiv(price, factor, FACTOR_SCALE, TB_ROUND_HALF_EVEN, &next) != TB_OK ||
        next > MD_SIM_MAX_PRICE)
        next = MD_SIM_MAX_PRICE;
    if (next < 1) next = 1;
    return next;
}

void md_sim_next(md_sim *s, tb_tick *out) {
    struct sym_state *y = &s->syms[s->next];
    s->next = (s->next + 1) % s->n;
    snprintf(out->symbol, sizeof out->symbol, "%s", y->spec.symbol);
    md_sim_quote(y->price, s->p.spread_bps, s->p.price_step, &out->bid, &out->ask, &out->last);
    out->bid_size = md_rng_range(&y->rng, 1, s->p.max_size) * TB_FIXED_SCALE;
    out->ask_size = md_rng_range(&y->rng, 1, s->p.max_size) * TB_FIXED_SCALE;
    out->last_size = md_rng_range(&y->rng, 1, s->p.max_size) * TB_FIXED_SCALE;
    y->price = md_sim_gbm_step(y->price, y->spec.drift, y->spec.volatility, s->dt_years,
                               md_rng_normal(&y->rng));
}
