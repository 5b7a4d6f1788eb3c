/* Pre-trade checks; see risk_checks.h for the contract and conventions.
 * Pure: no I/O, no clock, no globals besides constant tables. */
#include "risk_checks.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *code;
    const char *field;
} reasons[RISK_REASON_COUNT] = {
#define RISK_REASON_ROW(name, code, field) {code, field},
    RISK_REASONS(RISK_REASON_ROW)
#undef RISK_REASON_ROW
};

const char *risk_reason_code(risk_reason r) {
    return (unsigned)r < RISK_REASON_COUNT ? reasons[r].code : "unknown";
}

const char *risk_reason_field(risk_reason r) {
    return (unsigned)r < RISK_REASON_COUNT ? reasons[r].field : "";
}

bool risk_verdict_has(const risk_verdict *v, risk_reason r) {
    for (size_t i = 0; i < v->n; i++)
        if (v->failures[i].reason == r) return true;
    return false;
}

void risk_verdict_add(risk_verdict *v, risk_reason r, const char *field, const char *fmt, ...) {
    /* Several checks may find the same cause (no quote); report it once. */
    if (v->n >= RISK_MAX_FAILURES || risk_verdict_has(v, r)) return;
    risk_failure *f = &v->failures[v->n++];
    f->reason = r;
    snprintf(f->field, sizeof f->field, "%s", field ? field : risk_reason_field(r));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
}

/* Formats a fixed value for messages. */
typedef struct fx {
    char s[TB_FIXED_STRLEN];
} fx;
static fx F(tb_fixed v) {
    fx r;
    tb_fixed_format(v, r.s);
    return r;
}

static bool is_buy(const risk_intent *in) {
    return strcmp(in->side, "buy") == 0;
}
static bool uses_limit_price(const risk_intent *in) {
    return strcmp(in->type, "limit") == 0 || strcmp(in->type, "stop_limit") == 0;
}
static bool uses_stop_price(const risk_intent *in) {
    return strcmp(in->type, "stop") == 0 || strcmp(in->type, "stop_limit") == 0;
}

tb_fixed risk_signed_qty(const risk_intent *in) {
    return is_buy(in) ? in->qty : -in->qty; /* qty > TB_FIXED_MIN: negation is safe */
}

tb_fixed risk_current_position(const risk_intent *in, const risk_facts *f) {
    for (size_t i = 0; i < f->npositions; i++)
        if (strcmp(f->positions[i].symbol, in->symbol) == 0) return f->positions[i].qty;
    return 0;
}

tb_fixed risk_reference_price(const risk_intent *in, const risk_quote *q) {
    if (uses_limit_price(in)) return in->limit_price > 0 ? in->limit_price : 0;
    if (uses_stop_price(in)) return in->stop_price > 0 ? in->stop_price : 0;
    if (q->state != RISK_QUOTE_OK) return 0;
    tb_fixed touch = is_buy(in) ? q->ask : q->bid;
    if (touch > 0) return touch;
    return q->last > 0 ? q->last : 0;
}

tb_fixed risk_collar_reference(const risk_quote *q) {
    if (q->state != RISK_QUOTE_OK) return 0;
    if (q->last > 0) return q->last;
    if (q->bid > 0 && q->ask > 0) {
        /* (bid + ask) / 2 without overflowing the sum. */
        tb_fixed mid = q->bid / 2 + q->ask / 2 + ((q->bid % 2) + (q->ask % 2)) / 2;
        return mid;
    }
    if (q->bid > 0) return q->bid;
    return q->ask > 0 ? q->ask : 0;
}

bool risk_needs_positions(const risk_intent *in, const tb_risk_limits *l) {
    return in->reduce_only || l->reduce_only || l->max_position_qty > 0 ||
           l->max_gross_exposure > 0 || l->daily_loss_limit > 0;
}

bool risk_needs_pnl(const tb_risk_limits *l) {
    return l->daily_loss_limit > 0;
}

/* ------------------------------------------------------------ checks -- */

void risk_check_account(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    if (!f->account_known)
        risk_verdict_add(v, RISK_ACCOUNT_UNKNOWN, NULL, "account %s does not exist", in->account);
}

void risk_check_kill_switch(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    if (f->kill_global)
        risk_verdict_add(v, RISK_KILL_SWITCH_GLOBAL, NULL, "the global kill switch is engaged");
    if (f->limits->kill_switch)
        risk_verdict_add(v, RISK_KILL_SWITCH_ACCOUNT, NULL, "the kill switch of %s is engaged",
                         in->account);
}

void risk_check_symbol(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    const risk_symbol *s = f->symbol;
    if (s->listed) {
        if (!s->tradable)
            risk_verdict_add(v, RISK_SYMBOL_NOT_TRADABLE, NULL, "%s is not tradable", in->symbol);
        return;
    }
    /* Not in the symbols table: known when market-data quotes it. */
    if (f->quote.state == RISK_QUOTE_NONE)
        risk_verdict_add(v, RISK_SYMBOL_UNKNOWN, NULL, "%s is not listed and has no quote",
                         in->symbol);
    else if (f->quote.state == RISK_QUOTE_UNAVAILABLE)
        risk_verdict_add(v, RISK_NO_QUOTE, NULL, "market-data did not answer for %s", in->symbol);
}

void risk_check_restricted(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    const char *p = f->limits->restricted_symbols;
    size_t n = strlen(in->symbol);
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, in->symbol, n) == 0) {
            risk_verdict_add(v, RISK_SYMBOL_RESTRICTED, NULL, "%s is restricted for %s", in->symbol,
                             in->account);
            return;
        }
        p = end ? end + 1 : NULL;
    }
}

void risk_check_qty(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    if (in->qty <= 0) {
        risk_verdict_add(v, RISK_QTY_NOT_POSITIVE, NULL, "qty %s is not positive", F(in->qty).s);
        return;
    }
    const risk_symbol *s = f->symbol;
    const tb_risk_limits *l = f->limits;
    tb_fixed min = s->listed ? s->min_qty : 0;
    if (l->min_qty > min) min = l->min_qty;
    if (min > 0 && in->qty < min)
        risk_verdict_add(v, RISK_QTY_BELOW_MIN, NULL, "qty %s is below the minimum %s",
                         F(in->qty).s, F(min).s);
    if (s->listed && s->max_qty > 0 && in->qty > s->max_qty)
        risk_verdict_add(v, RISK_QTY_ABOVE_MAX, NULL, "qty %s is above the maximum %s of %s",
                         F(in->qty).s, F(s->max_qty).s, in->symbol);
    /* Both lot sizes apply when both are set (instrument and account). */
    tb_fixed lots[2] = {s->listed ? s->lot_size : 0, l->lot_size};
    for (int i = 0; i < 2; i++) {
        if (lots[i] > 0 && !tb_fixed_is_multiple(in->qty, lots[i])) {
            risk_verdict_add(v, RISK_LOT_SIZE, NULL, "qty %s is not a multiple of the lot size %s",
                             F(in->qty).s, F(lots[i]).s);
            break;
        }
    }
}

/* One price field: present exactly when the type uses it, positive, on the tick grid. */
static void check_price(const char *name, tb_fixed p, bool used, const risk_symbol *s,
                        const char *type, risk_verdict *v) {
    if (!used) {
        if (p != 0)
            risk_verdict_add(v, RISK_PRICE_INVALID, name, "%s is not used by %s orders", name,
                             type);
        return;
    }
    if (p <= 0) {
        risk_verdict_add(v, RISK_PRICE_INVALID, name, "%s orders need a positive %s", type, name);
        return;
    }
    if (s->listed && s->tick_size > 0 && !tb_fixed_is_multiple(p, s->tick_size))
        risk_verdict_add(v, RISK_TICK_SIZE, name, "%s %s is not a multiple of the tick size %s",
                         name, F(p).s, F(s->tick_size).s);
}

void risk_check_prices(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    check_price("limit_price", in->limit_price, uses_limit_price(in), f->symbol, in->type, v);
    check_price("stop_price", in->stop_price, uses_stop_price(in), f->symbol, in->type, v);
}

void risk_check_max_order_qty(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    tb_fixed max = f->limits->max_order_qty;
    if (max > 0 && in->qty > max)
        risk_verdict_add(v, RISK_MAX_ORDER_QTY, NULL, "qty %s exceeds max_order_qty %s",
                         F(in->qty).s, F(max).s);
}

void risk_check_notional(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    tb_fixed ref = risk_reference_price(in, &f->quote);
    if (ref == 0) {
        /* Limit and stop orders always have a price (or failed price_invalid);
         * a market order without a quote cannot be valued: fail closed. */
        bool unknown = !f->symbol->listed && f->quote.state == RISK_QUOTE_NONE;
        if (strcmp(in->type, "market") == 0 && !unknown) /* unknown: reported as such */
            risk_verdict_add(v, RISK_NO_QUOTE, "symbol", "no quote to value a market order in %s",
                             in->symbol);
        return;
    }
    tb_fixed max = f->limits->max_order_notional;
    if (max <= 0 || in->qty <= 0) return;
    tb_fixed notional;
    if (tb_fixed_mul(in->qty, ref, TB_ROUND_HALF_EVEN, &notional) != TB_OK) {
        risk_verdict_add(v, RISK_MAX_ORDER_NOTIONAL, NULL, "notional of qty %s at %s overflows",
                         F(in->qty).s, F(ref).s);
        return;
    }
    if (notional > max)
        risk_verdict_add(v, RISK_MAX_ORDER_NOTIONAL, NULL,
                         "notional %s (qty %s at %s) exceeds max_order_notional %s", F(notional).s,
                         F(in->qty).s, F(ref).s, F(max).s);
}

void risk_check_price_collar(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    uint64_t bps = f->limits->price_collar_bps;
    if (bps == 0 || strcmp(in->type, "market") == 0) return;
    tb_fixed ref = risk_collar_reference(&f->quote);
    if (ref == 0) {
        risk_verdict_add(v, RISK_NO_QUOTE, "symbol", "no quote for the price collar of %s",
                         in->symbol);
        return;
    }
    /* |p - ref| <= ref * bps / 10000. The band is rounded down to 1e-8; as
     * |p - ref| is a whole number of 1e-8 units, comparing with the rounded
     * band is exactly the comparison with the true band. */
    tb_fixed band;
    if (bps > 100000000 || tb_fixed_muldiv(ref, (int64_t)bps, 10000, TB_ROUND_DOWN, &band) != TB_OK)
        band = TB_FIXED_MAX;
    const char *names[2] = {"limit_price", "stop_price"};
    tb_fixed prices[2] = {uses_limit_price(in) ? in->limit_price : 0,
                          uses_stop_price(in) ? in->stop_price : 0};
    for (int i = 0; i < 2; i++) {
        tb_fixed p = prices[i], diff;
        if (p <= 0) continue;
        if (tb_fixed_sub(p, ref, &diff) != TB_OK || tb_fixed_abs(diff) > band) {
            risk_verdict_add(v, RISK_PRICE_COLLAR, names[i],
                             "%s %s is outside the collar of %llu bps around %s", names[i], F(p).s,
                             (unsigned long long)bps, F(ref).s);
            return;
        }
    }
}

void risk_check_positions_available(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    if (risk_needs_positions(in, f->limits) && !f->positions_ok)
        risk_verdict_add(v, RISK_POSITIONS_UNAVAILABLE, NULL,
                         "position-management did not answer with the positions of %s",
                         in->account);
    else if (risk_needs_pnl(f->limits) && !f->pnl_ok)
        risk_verdict_add(
            v, RISK_POSITIONS_UNAVAILABLE, NULL,
            "the P&L of %s is unknown (position-management did not answer, or it overflows)",
            in->account);
}

void risk_check_reduce_only(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    if (!(in->reduce_only || f->limits->reduce_only) || !f->positions_ok || in->qty <= 0) return;
    tb_fixed cur = risk_current_position(in, f), sq = risk_signed_qty(in);
    const char *mode = in->reduce_only ? "reduce-only order" : "account is reduce-only";
    if (cur == 0)
        risk_verdict_add(v, RISK_REDUCE_ONLY, NULL, "%s: no position in %s to reduce", mode,
                         in->symbol);
    else if ((cur > 0) == (sq > 0))
        risk_verdict_add(v, RISK_REDUCE_ONLY, NULL, "%s: a %s would increase the position %s", mode,
                         in->side, F(cur).s);
    else if (in->qty > tb_fixed_abs(cur))
        risk_verdict_add(v, RISK_REDUCE_ONLY, NULL, "%s: qty %s exceeds the position %s", mode,
                         F(in->qty).s, F(cur).s);
}

/* An order reduces a position when it makes it smaller without flipping it. */
static bool reduces_position(tb_fixed cur, tb_fixed after) {
    if (after == 0) return true;
    return cur != 0 && (after > 0) == (cur > 0) && tb_fixed_abs(after) <= tb_fixed_abs(cur);
}

void risk_check_max_position(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    tb_fixed max = f->limits->max_position_qty;
    if (max <= 0 || !f->positions_ok || in->qty <= 0) return;
    tb_fixed cur = risk_current_position(in, f), after;
    if (tb_fixed_add(cur, risk_signed_qty(in), &after) != TB_OK) {
        risk_verdict_add(v, RISK_MAX_POSITION, NULL, "position in %s would overflow", in->symbol);
        return;
    }
    if (tb_fixed_abs(after) > max && !reduces_position(cur, after))
        risk_verdict_add(v, RISK_MAX_POSITION, NULL,
                         "position in %s would be %s, beyond max_position_qty %s", in->symbol,
                         F(after).s, F(max).s);
}

/* |qty| * price, saturating at TB_FIXED_MAX (only ever compared with a limit). */
static tb_fixed exposure_of(tb_fixed qty, tb_fixed price) {
    tb_fixed e;
    if (price <= 0) return 0;
    return tb_fixed_mul(tb_fixed_abs(qty), price, TB_ROUND_HALF_EVEN, &e) == TB_OK ? e
                                                                                   : TB_FIXED_MAX;
}
static tb_fixed sat_add(tb_fixed a, tb_fixed b) {
    tb_fixed s;
    return tb_fixed_add(a, b, &s) == TB_OK ? s : TB_FIXED_MAX;
}

void risk_check_gross_exposure(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    tb_fixed max = f->limits->max_gross_exposure;
    tb_fixed ref = risk_reference_price(in, &f->quote);
    if (max <= 0 || !f->positions_ok || ref == 0 || in->qty <= 0) return;
    /* Other symbols at their marks; this symbol before and after the order at
     * the order's own price, so the comparison only reflects the order. */
    tb_fixed others = 0;
    for (size_t i = 0; i < f->npositions; i++) {
        const risk_position *p = &f->positions[i];
        if (strcmp(p->symbol, in->symbol) != 0)
            others = sat_add(others, exposure_of(p->qty, p->mark));
    }
    tb_fixed cur = risk_current_position(in, f), after;
    if (tb_fixed_add(cur, risk_signed_qty(in), &after) != TB_OK) after = TB_FIXED_MAX;
    tb_fixed before_total = sat_add(others, exposure_of(cur, ref));
    tb_fixed after_total = sat_add(others, exposure_of(after, ref));
    if (after_total > max && after_total > before_total)
        risk_verdict_add(v, RISK_MAX_GROSS_EXPOSURE, NULL,
                         "gross exposure would be %s, beyond max_gross_exposure %s",
                         F(after_total).s, F(max).s);
}

void risk_check_daily_loss(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    tb_fixed limit = f->limits->daily_loss_limit;
    if (limit <= 0 || !f->pnl_ok || !f->positions_ok || in->qty <= 0) return;
    if (f->day_pnl >= 0 || -f->day_pnl <= limit) return;
    tb_fixed cur = risk_current_position(in, f), after;
    if (tb_fixed_add(cur, risk_signed_qty(in), &after) == TB_OK && reduces_position(cur, after))
        return; /* reducing a position is always allowed */
    risk_verdict_add(v, RISK_DAILY_LOSS_LIMIT, NULL, "today's loss %s exceeds daily_loss_limit %s",
                     F(-f->day_pnl).s, F(limit).s);
}

void risk_check_open_orders(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    uint64_t max = f->limits->max_open_orders;
    if (max > 0 && f->open_orders >= max)
        risk_verdict_add(v, RISK_MAX_OPEN_ORDERS, NULL,
                         "%s has %llu open orders, max_open_orders is %llu", in->account,
                         (unsigned long long)f->open_orders, (unsigned long long)max);
}

void risk_check_order_rate(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    uint64_t max = f->limits->max_orders_per_sec;
    if (max > 0 && f->orders_in_window > max)
        risk_verdict_add(v, RISK_ORDER_RATE, NULL, "%s exceeds max_orders_per_sec %llu",
                         in->account, (unsigned long long)max);
}
void risk_check_expiry(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    bool gtd = strcmp(in->tif, "gtd") == 0;
    if (gtd && in->expire_at <= 0)
        risk_verdict_add(v, RISK_EXPIRE_AT, NULL, "tif gtd needs expire_at");
    else if (!gtd && in->expire_at != 0)
        risk_verdict_add(v, RISK_EXPIRE_AT, NULL, "expire_at is only for tif gtd, not %s", in->tif);
    else if (gtd && f->now_ns > 0 && in->expire_at <= f->now_ns)
        risk_verdict_add(v, RISK_EXPIRE_AT, NULL, "expire_at is not after the order's time");
}

static const risk_check_fn checks[] = {
    risk_check_account,
    risk_check_kill_switch,
    risk_check_symbol,
    risk_check_restricted,
    risk_check_qty,
    risk_check_prices,
    risk_check_max_order_qty,
    risk_check_notional,
    risk_check_price_collar,
    risk_check_positions_available,
    risk_check_reduce_only,
    risk_check_max_position,
    risk_check_gross_exposure,
    risk_check_daily_loss,
    risk_check_buying_power,
    risk_check_open_orders,
    risk_check_expiry,
    risk_check_trail,
};

void risk_evaluate(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) checks[i](in, f, v);
}

const char *risk_verdict_codes(const risk_verdict *v, char *buf, size_t cap) {
    size_t used = 0;
    if (cap) buf[0] = '\0';
    for (size_t i = 0; i < v->n && used < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? "," : "",
                         risk_reason_code(v->failures[i].reason));
        if (w < 0) break;
        used += (size_t)w;
    }
    return buf;
}

const char *risk_verdict_text(const risk_verdict *v, char *buf, size_t cap) {
    risk_verdict_codes(v, buf, cap);
    size_t used = strlen(buf);
    for (size_t i = 0; i < v->n && used < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? "; " : ": ", v->failures[i].message);
        if (w < 0) break;
        used += (size_t)w;
    }
    return buf;
}

tb_status risk_limits_validate(const tb_risk_limits *l, tb_error *err) {
    const struct {
        const char *name;
        tb_fixed v;
    } amounts[] = {{"max_order_qty", l->max_order_qty},
                   {"max_order_notional", l->max_order_notional},
                   {"max_position_qty", l->max_position_qty},
                   {"max_gross_exposure", l->max_gross_exposure},
                   {"daily_loss_limit", l->daily_loss_limit},
                   {"min_qty", l->min_qty},
                   {"lot_size", l->lot_size}};
    for (size_t i = 0; i < sizeof amounts / sizeof amounts[0]; i++)
        if (amounts[i].v < 0)
            return tb_error_set(err, TB_INVALID, amounts[i].name,
                                "%s must not be negative (0 = %s)", amounts[i].name,
                                "default or no limit");
    const struct {
        const char *name;
        uint64_t v;
    } counts[] = {{"max_orders_per_sec", l->max_orders_per_sec},
                  {"max_open_orders", l->max_open_orders},
                  {"price_collar_bps", l->price_collar_bps},
                  {"initial_margin_bps", l->initial_margin_bps}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        if (counts[i].v > INT32_MAX)
            return tb_error_set(err, TB_INVALID, counts[i].name, "%s must be at most %d",
                                counts[i].name, INT32_MAX);
    if (l->initial_margin_bps != 0 &&
        (l->initial_margin_bps < 10000 || l->initial_margin_bps > 1000000))
        return tb_error_set(err, TB_INVALID, "initial_margin_bps",
                            "initial_margin_bps must be 0 (default) or 10000..1000000 (100 %% to "
                            "10000 %% of a short's notional)");
    const char *p = l->restricted_symbols;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= TB_TOKEN_CAP)
            return tb_error_set(err, TB_INVALID, "restricted_symbols",
                                "restricted_symbols must be a comma-separated list of symbols");
        for (size_t i = 0; i < len; i++) {
            char ch = p[i];
            bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
            if (!ok)
                return tb_error_set(err, TB_INVALID, "restricted_symbols",
                                    "restricted_symbols: '%.*s' is not a symbol", (int)len, p);
        }
        p += len;
        if (*p == ',') {
            p++;
            if (*p == '\0')
                return tb_error_set(err, TB_INVALID, "restricted_symbols",
                                    "restricted_symbols must not end with a comma");
        }
    }
    return TB_OK;
}
