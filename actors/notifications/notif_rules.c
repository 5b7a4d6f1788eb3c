/* Alert rule evaluation; see notif_rules.h. Pure: no I/O, no clocks (the
 * caller passes the time). Money stays tb_fixed throughout. */
#include "notif_rules.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[NOTIF_KIND_COUNT] = {
    "fill", "risk_reject", "drawdown", "price_above", "price_below", "position_limit",
};

const char *notif_kind_name(notif_kind k) {
    return (unsigned)k < NOTIF_KIND_COUNT ? kind_names[k] : "unknown";
}

bool notif_kind_parse(const char *s, notif_kind *out) {
    for (int k = 0; k < NOTIF_KIND_COUNT; k++) {
        if (strcmp(s, kind_names[k]) == 0) {
            *out = (notif_kind)k;
            return true;
        }
    }
    return false;
}

bool notif_kind_is_threshold(notif_kind k) {
    return k == NOTIF_KIND_DRAWDOWN || k == NOTIF_KIND_PRICE_ABOVE || k == NOTIF_KIND_PRICE_BELOW ||
           k == NOTIF_KIND_POSITION_LIMIT;
}

bool notif_rule_applies(const notif_rule *r, const char *account, const char *symbol) {
    if (r->account[0] && (account == NULL || strcmp(r->account, account) != 0)) return false;
    if (r->symbol[0] && (symbol == NULL || strcmp(r->symbol, symbol) != 0)) return false;
    return true;
}

tb_status notif_rule_check(tb_alert_rule *r, tb_error *err) {
    notif_kind k;
    if (!notif_kind_parse(r->kind, &k))
        return tb_error_set(err, TB_INVALID, "kind", "kind: unknown rule kind %s", r->kind);
    const char *dflt = "info";
    switch (k) {
    case NOTIF_KIND_FILL:
    case NOTIF_KIND_RISK_REJECT:
        if (r->threshold != 0)
            return tb_error_set(err, TB_INVALID, "threshold", "threshold: not used by %s rules",
                                r->kind);
        if (k == NOTIF_KIND_RISK_REJECT) dflt = "warning";
        break;
    case NOTIF_KIND_PRICE_ABOVE:
    case NOTIF_KIND_PRICE_BELOW:
        if (r->symbol[0] == '\0')
            return tb_error_set(err, TB_MISSING_FIELD, "symbol", "symbol: required by %s rules",
                                r->kind);
        if (r->threshold <= 0)
            return tb_error_set(err, TB_INVALID, "threshold", "threshold: a positive price");
        break;
    case NOTIF_KIND_POSITION_LIMIT:
        if (r->threshold <= 0)
            return tb_error_set(err, TB_INVALID, "threshold", "threshold: a positive quantity");
        dflt = "warning";
        break;
    case NOTIF_KIND_DRAWDOWN:
        if (r->symbol[0])
            return tb_error_set(err, TB_INVALID, "symbol",
                                "symbol: drawdown rules are per account, not per symbol");
        if (r->threshold <= 0 || r->threshold >= TB_FIXED_SCALE)
            return tb_error_set(err, TB_INVALID, "threshold",
                                "threshold: a fraction between 0 and 1 (0.1 = 10%%)");
        dflt = "critical";
        break;
    default:
        return tb_error_set(err, TB_INVALID, "kind", "kind: unknown rule kind %s", r->kind);
    }
    if (r->severity[0] == '\0') snprintf(r->severity, sizeof r->severity, "%s", dflt);
    return TB_OK;
}

bool notif_tick_price(const tb_tick *t, tb_fixed *out) {
    if (t->last > 0) {
        *out = t->last;
        return true;
    }
    if (t->bid > 0 && t->ask > 0) {
        tb_fixed sum, mid;
        if (tb_fixed_add(t->bid, t->ask, &sum) == TB_OK &&
            tb_fixed_muldiv(sum, 1, 2, TB_ROUND_HALF_EVEN, &mid) == TB_OK) {
            *out = mid;
            return true;
        }
    }
    if (t->bid > 0) {
        *out = t->bid;
        return true;
    }
    if (t->ask > 0) {
        *out = t->ask;
        return true;
    }
    return false;
}

bool notif_price_condition(const notif_rule *r, tb_fixed price) {
    if (r->kind == NOTIF_KIND_PRICE_ABOVE) return tb_fixed_cmp(price, r->threshold) >= 0;
    if (r->kind == NOTIF_KIND_PRICE_BELOW) return tb_fixed_cmp(price, r->threshold) <= 0;
    return false;
}

bool notif_position_condition(const notif_rule *r, tb_fixed qty) {
    return r->kind == NOTIF_KIND_POSITION_LIMIT &&
           tb_fixed_cmp(tb_fixed_abs(qty), r->threshold) > 0;
}

tb_status notif_drawdown(bool has_peak, tb_fixed peak, tb_fixed initial_cash, tb_fixed equity,
                         tb_fixed *peak_out, tb_fixed *fraction_out) {
    tb_fixed p = equity;
    if (initial_cash > p) p = initial_cash;
    if (has_peak && peak > p) p = peak;
    tb_fixed fraction = 0;
    if (p > 0 && equity < p) {
        tb_fixed fall;
        if (tb_fixed_sub(p, equity, &fall) != TB_OK ||
            tb_fixed_div(fall, p, TB_ROUND_DOWN, &fraction) != TB_OK)
            return TB_OVERFLOW;
    }
    *peak_out = p;
    *fraction_out = fraction;
    return TB_OK;
}

bool notif_drawdown_condition(const notif_rule *r, tb_fixed fraction) {
    return r->kind == NOTIF_KIND_DRAWDOWN && tb_fixed_cmp(fraction, r->threshold) >= 0;
}

/* ---- crossing state ---- */

notif_step notif_cross_step(const notif_cross *prev, int64_t ts, uint64_t seq, bool cond,
                            int64_t now_ns, int64_t cooldown_s, notif_cross *next) {
    if (prev->known && (ts < prev->ts || (ts == prev->ts && seq <= prev->seq))) {
        *next = *prev;
        return NOTIF_STEP_STALE;
    }
    *next = *prev;
    next->known = true;
    next->ts = ts;
    next->seq = seq;
    next->cond = cond;
    if (!cond || (prev->known && prev->cond)) return NOTIF_STEP_NONE;
    if (cooldown_s > 0 && prev->fired_ns > 0 &&
        now_ns - prev->fired_ns < cooldown_s * INT64_C(1000000000))
        return NOTIF_STEP_COOLDOWN;
    next->fired_ns = now_ns;
    return NOTIF_STEP_FIRE;
}

size_t notif_cross_format(const notif_cross *c, char buf[NOTIF_CROSS_STRLEN]) {
    char peak[TB_FIXED_STRLEN] = "-";
    if (c->has_peak) (void)tb_fixed_format(c->peak, peak); /* NUL-terminated */
    int n = snprintf(buf, NOTIF_CROSS_STRLEN, "1 %" PRId64 " %" PRIu64 " %d %" PRId64 " %s", c->ts,
                     c->seq, c->cond ? 1 : 0, c->fired_ns, peak);
    return n < 0 ? 0 : (size_t)n;
}

/* Parses a decimal integer token followed by one space or the end; *p moves
 * past both. Out-of-range values are refused. */
static bool take_i64(const char **p, int64_t *out) {
    const char *s = *p;
    if (!((*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' && s[1] <= '9'))) return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || (*end != ' ' && *end != '\0')) return false;
    *out = v;
    *p = *end == ' ' ? end + 1 : end;
    return true;
}

static bool take_u64(const char **p, uint64_t *out) {
    const char *s = *p;
    if (!(*s >= '0' && *s <= '9')) return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || (*end != ' ' && *end != '\0')) return false;
    *out = v;
    *p = *end == ' ' ? end + 1 : end;
    return true;
}

tb_status notif_cross_parse(const char *s, notif_cross *out) {
    memset(out, 0, sizeof *out);
    if (s == NULL || s[0] == '\0') return TB_OK;
    if (strncmp(s, "1 ", 2) != 0) return TB_INVALID;
    const char *p = s + 2;
    int64_t ts = 0, cond = 0, fired = 0;
    uint64_t seq = 0;
    if (!take_i64(&p, &ts) || !take_u64(&p, &seq) || !take_i64(&p, &cond) ||
        (cond != 0 && cond != 1) || !take_i64(&p, &fired) || *p == '\0')
        return TB_INVALID;
    notif_cross c = {.known = true, .ts = ts, .seq = seq, .cond = cond == 1, .fired_ns = fired};
    if (strcmp(p, "-") != 0) {
        if (tb_fixed_parse_cstr(p, &c.peak) != TB_OK) return TB_INVALID;
        c.has_peak = true;
    }
    *out = c;
    return TB_OK;
}

/* ---- alerts ---- */

static bool is_id(const char *s, size_t len) {
    if (len == 0 || len >= TB_ID_CAP) return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f) return false;
    return true;
}

void notif_alert_id(const char *rule_id, const char *event_key, char out[TB_ID_CAP]) {
    char cand[2 * TB_ID_CAP + TB_TEXT_CAP];
    int n = snprintf(cand, sizeof cand, "%s-%s", rule_id, event_key);
    if (n > 0 && (size_t)n < sizeof cand && is_id(cand, (size_t)n)) {
        memcpy(out, cand, (size_t)n + 1);
        return;
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)event_key, strlen(event_key), md);
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    for (size_t i = 0; i < sizeof md; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    /* "<rule_id>-h<hex>" cut at 63 bytes (rule ids are short: most of the
     * hash survives). */
    size_t o = 0, rl = strlen(rule_id);
    if (rl > TB_ID_CAP - 8) rl = TB_ID_CAP - 8;
    memcpy(out, rule_id, rl);
    o = rl;
    out[o++] = '-';
    out[o++] = 'h';
    size_t hl = TB_ID_CAP - 1 - o;
    if (hl > 2 * SHA256_DIGEST_LENGTH) hl = 2 * SHA256_DIGEST_LENGTH;
    memcpy(out + o, hex, hl);
    out[o + hl] = '\0';
}

void notif_alert_make(const notif_rule *r, const char *event_key, const char *account,
                      const char *symbol, int64_t ts, const char *message, tb_alert *out) {
    memset(out, 0, sizeof *out);
    notif_alert_id(r->rule_id, event_key, out->alert_id);
    snprintf(out->severity, sizeof out->severity, "%s", r->severity);
    snprintf(out->kind, sizeof out->kind, "%s", notif_kind_name(r->kind));
    snprintf(out->account, sizeof out->account, "%s", account ? account : "");
    snprintf(out->symbol, sizeof out->symbol, "%s", symbol ? symbol : "");
    snprintf(out->message, sizeof out->message, "%s", message);
    out->ts = ts;
}

static const char *fmt(tb_fixed v, char buf[TB_FIXED_STRLEN]) {
    (void)tb_fixed_format(v, buf); /* length not needed */
    return buf;
}

void notif_msg_fill(const tb_fill *f, char *out, size_t cap) {
    char q[TB_FIXED_STRLEN], p[TB_FIXED_STRLEN];
    snprintf(out, cap, "%s: %s %s %s @ %s (order %s)", f->account, f->side, fmt(f->qty, q),
             f->symbol, fmt(f->price, p), f->order_id);
}

void notif_msg_reject(const tb_risk_decision *d, char *out, size_t cap) {
    snprintf(out, cap, "%s: %s order for %s rejected by risk checks: %s", d->account, d->source,
             d->symbol, d->reasons[0] ? d->reasons : "no reason given");
}

void notif_msg_price(const notif_rule *r, const char *symbol, tb_fixed price, char *out,
                     size_t cap) {
    char p[TB_FIXED_STRLEN], t[TB_FIXED_STRLEN];
    snprintf(out, cap, "%s at %s, %s %s", symbol, fmt(price, p),
             r->kind == NOTIF_KIND_PRICE_ABOVE ? "at or above" : "at or below",
             fmt(r->threshold, t));
}

void notif_msg_position(const notif_rule *r, const char *account, const char *symbol, tb_fixed qty,
                        char *out, size_t cap) {
    char q[TB_FIXED_STRLEN], t[TB_FIXED_STRLEN];
    snprintf(out, cap, "%s: position in %s is %s, beyond the limit of %s", account, symbol,
             fmt(qty, q), fmt(r->threshold, t));
}

/* A fraction as a percentage ("12.5%"); exact, since x100 only moves the point. */
static const char *percent(tb_fixed fraction, char buf[TB_FIXED_STRLEN]) {
    tb_fixed pc;
    if (tb_fixed_mul_int(fraction, 100, &pc) != TB_OK) return fmt(fraction, buf);
    return fmt(pc, buf);
}

void notif_msg_drawdown(const notif_rule *r, const char *account, tb_fixed fraction,
                        tb_fixed equity, tb_fixed peak, char *out, size_t cap) {
    char f[TB_FIXED_STRLEN], e[TB_FIXED_STRLEN], p[TB_FIXED_STRLEN], t[TB_FIXED_STRLEN];
    snprintf(out, cap, "%s: drawdown %s%% (equity %s, peak %s) reached the %s%% threshold", account,
             percent(fraction, f), fmt(equity, e), fmt(peak, p), percent(r->threshold, t));
}
