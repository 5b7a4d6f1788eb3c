/* Alert rules as pure functions: scope, the condition of each kind, the
 * crossing state machine that turns conditions into alerts, drawdown from a
 * peak, deterministic alert ids and the alert texts. No I/O: the service
 * keeps the crossing state in Redis (notif_state.c) and calls these.
 * Unit-tested in tests/unit/test_notif_rules.c.
 *
 * Kinds (tb_alert_rule.kind):
 *   fill            one alert per fill in scope;
 *   risk_reject     one alert per risk decision with approved = false;
 *   price_above     the symbol's price (last, else mid) reaches threshold or more;
 *   price_below     the price reaches threshold or less;
 *   position_limit  |position qty| exceeds threshold;
 *   drawdown        (peak - equity) / peak reaches threshold (a fraction,
 *                   0 < threshold < 1) for the account.
 * The last four are threshold rules: they fire when their condition turns
 * true (a crossing), not while it stays true, and at most once per
 * cooldown_s. */
#ifndef NOTIF_RULES_H
#define NOTIF_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"

typedef enum {
    NOTIF_KIND_FILL,
    NOTIF_KIND_RISK_REJECT,
    NOTIF_KIND_DRAWDOWN,
    NOTIF_KIND_PRICE_ABOVE,
    NOTIF_KIND_PRICE_BELOW,
    NOTIF_KIND_POSITION_LIMIT,
    NOTIF_KIND_COUNT
} notif_kind;

/* "fill", ... (never NULL; "unknown" out of range). */
const char *notif_kind_name(notif_kind k);
/* Parses a kind name; false when unknown. */
bool notif_kind_parse(const char *s, notif_kind *out);
/* Whether the kind fires on crossings (price, position, drawdown). */
bool notif_kind_is_threshold(notif_kind k);

/* A rule as the evaluators need it (a row of alert_rules). */
typedef struct notif_rule {
    char rule_id[TB_ID_CAP];
    notif_kind kind;
    char severity[TB_ENUM_CAP];
    char account[TB_TOKEN_CAP]; /* "" = every account */
    char symbol[TB_TOKEN_CAP];  /* "" = every symbol */
    tb_fixed threshold;
    int64_t cooldown_s; /* threshold rules: least time between two alerts */
} notif_rule;

/* Whether an event about account / symbol ("" when the event has none) is in
 * the rule's scope. A scoped rule never matches an event without the field. */
bool notif_rule_applies(const notif_rule *r, const char *account, const char *symbol);

/* Checks a rule from api.alerts.rules.create and fills defaults (severity:
 * info for fill and price rules, warning for risk_reject and
 * position_limit, critical for drawdown). TB_INVALID naming the field:
 * fill/risk_reject take no threshold; price rules need a symbol and a
 * positive threshold; position_limit a positive threshold; drawdown a
 * threshold strictly between 0 and 1 and no symbol. */
tb_status notif_rule_check(tb_alert_rule *r, tb_error *err) TB_WARN_UNUSED;

/* ---- conditions ---- */

/* The price a tick stands for: last, else the bid/ask midpoint (half-even),
 * else bid or ask. False when the tick has no positive price. */
bool notif_tick_price(const tb_tick *t, tb_fixed *out);
/* price_above: price >= threshold; price_below: price <= threshold. False for
 * other kinds. */
bool notif_price_condition(const notif_rule *r, tb_fixed price);
/* position_limit: |qty| > threshold. */
bool notif_position_condition(const notif_rule *r, tb_fixed qty);
/* The drawdown after seeing equity: *peak_out = max(previous peak (when
 * has_peak), initial_cash, equity); *fraction_out = (peak - equity) / peak
 * rounded down to 8 decimals, 0 when equity >= peak or the peak is not
 * positive. TB_OVERFLOW when out of the fixed-point range. */
tb_status notif_drawdown(bool has_peak, tb_fixed peak, tb_fixed initial_cash, tb_fixed equity,
                         tb_fixed *peak_out, tb_fixed *fraction_out) TB_WARN_UNUSED;
/* drawdown: fraction >= threshold. */
bool notif_drawdown_condition(const notif_rule *r, tb_fixed fraction);

/* ---- crossing state ---- */

/* What a threshold rule remembers per key (symbol, account, account and
 * symbol): the newest observation's order (event time, then sequence), the
 * condition then, when it last fired, and for drawdown the equity peak. */
typedef struct notif_cross {
    bool known; /* false: nothing observed yet */
    int64_t ts;
    uint64_t seq;
    bool cond;
    int64_t fired_ns; /* 0: never fired */
    bool has_peak;
    tb_fixed peak;
} notif_cross;

typedef enum {
    NOTIF_STEP_STALE,    /* older than (or the same as) what was seen: ignored, state unchanged */
    NOTIF_STEP_NONE,     /* recorded, no alert */
    NOTIF_STEP_FIRE,     /* the condition turned true: raise an alert */
    NOTIF_STEP_COOLDOWN, /* it turned true within cooldown_s of the last alert: recorded, silent */
} notif_step;

/* One observation (order ts, seq; condition cond) at wall time now_ns.
 * Fires when cond is true and the previous observation's was false or there
 * was none. *next receives the state to store (equal to *prev when stale);
 * the peak is carried over (callers set next->peak for drawdown). */
notif_step notif_cross_step(const notif_cross *prev, int64_t ts, uint64_t seq, bool cond,
                            int64_t now_ns, int64_t cooldown_s, notif_cross *next);

/* Stored form: "1 <ts> <seq> <cond> <fired_ns> <peak|->". Returns the length
 * written (buf needs NOTIF_CROSS_STRLEN bytes). */
#define NOTIF_CROSS_STRLEN 128
size_t notif_cross_format(const notif_cross *c, char buf[NOTIF_CROSS_STRLEN]);
/* Parses the stored form; NULL or "" give an unknown state. TB_INVALID for
 * anything else that is not the stored form (callers then start afresh). */
tb_status notif_cross_parse(const char *s, notif_cross *out) TB_WARN_UNUSED;

/* ---- alerts ---- */

/* Deterministic alert id of a rule firing on an event: "<rule_id>-<key>"
 * when that is a valid ID (<= 63 printable bytes), else
 * "<rule_id>-h<hex of SHA-256(key)>" cut to 63 bytes, so every worker that
 * handles the same event derives the same id. */
void notif_alert_id(const char *rule_id, const char *event_key, char out[TB_ID_CAP]);

/* Fills an alert raised by r on the event event_key (ts = event time). */
void notif_alert_make(const notif_rule *r, const char *event_key, const char *account,
                      const char *symbol, int64_t ts, const char *message, tb_alert *out);

/* Alert texts (TB_TEXT_CAP bytes). */
void notif_msg_fill(const tb_fill *f, char *out, size_t cap);
void notif_msg_reject(const tb_risk_decision *d, char *out, size_t cap);
void notif_msg_price(const notif_rule *r, const char *symbol, tb_fixed price, char *out,
                     size_t cap);
void notif_msg_position(const notif_rule *r, const char *account, const char *symbol, tb_fixed qty,
                        char *out, size_t cap);
void notif_msg_drawdown(const notif_rule *r, const char *account, tb_fixed fraction,
                        tb_fixed equity, tb_fixed peak, char *out, size_t cap);

#endif
