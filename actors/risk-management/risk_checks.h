/* Pre-trade checks of risk-management: pure functions over an order intent
 * and the facts gathered for it (limits, instrument rules, quote, positions,
 * P&L, kill switches, counters). No I/O here: risk_flow.c gathers the facts,
 * this file decides. Every check has a stable reason code (RISK_REASONS)
 * that appears in error replies, risk.decision events and metrics.
 *
 * Conventions shared by the checks:
 * - A limit of 0 means "no limit" (tb_risk_limits).
 * - Limits are inclusive: a value equal to its limit passes; one unit of
 *   1e-8 above it fails.
 * - Position limits and the daily loss limit never block an order that
 *   reduces the position (makes it smaller without flipping it through
 *   zero), and the gross exposure limit never blocks an order that lowers
 *   the gross exposure: an account over a limit can always get back under.
 * - Exposure is valued at the positions' marks (last price, else average
 *   cost) and, for the order's symbol, at the order's reference price. Open
 *   orders are not counted as exposure (max_open_orders bounds them). */
#ifndef RISK_CHECKS_H
#define RISK_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"

/* XX(enum suffix, code, field reported with it) — the code strings are a
 * public contract: clients, alert rules and dashboards match on them. */
#define RISK_REASONS(XX)                                                                           \
    XX(ACCOUNT_UNKNOWN, "account_unknown", "account")                                              \
    XX(KILL_SWITCH_GLOBAL, "kill_switch_global", "account")                                        \
    XX(KILL_SWITCH_ACCOUNT, "kill_switch_account", "account")                                      \
    XX(SYMBOL_UNKNOWN, "symbol_unknown", "symbol")                                                 \
    XX(SYMBOL_NOT_TRADABLE, "symbol_not_tradable", "symbol")                                       \
    XX(SYMBOL_RESTRICTED, "symbol_restricted", "symbol")                                           \
    XX(QTY_NOT_POSITIVE, "qty_not_positive", "qty")                                                \
    XX(QTY_BELOW_MIN, "qty_below_min", "qty")                                                      \
    XX(QTY_ABOVE_MAX, "qty_above_max", "qty")                                                      \
    XX(LOT_SIZE, "lot_size", "qty")                                                                \
    XX(PRICE_INVALID, "price_invalid", "limit_price")                                              \
    XX(TICK_SIZE, "tick_size", "limit_price")                                                      \
    XX(NO_QUOTE, "no_quote", "symbol")                                                             \
    XX(MAX_ORDER_QTY, "max_order_qty", "qty")                                                      \
    XX(MAX_ORDER_NOTIONAL, "max_order_notional", "qty")                                            \
    XX(PRICE_COLLAR, "price_collar", "limit_price")                                                \
    XX(POSITIONS_UNAVAILABLE, "positions_unavailable", "account")                                  \
    XX(REDUCE_ONLY, "reduce_only", "reduce_only")                                                  \
    XX(MAX_POSITION, "max_position", "qty")                                                        \
    XX(MAX_GROSS_EXPOSURE, "max_gross_exposure", "qty")                                            \
    XX(DAILY_LOSS_LIMIT, "daily_loss_limit", "account")                                            \
    XX(INSUFFICIENT_BUYING_POWER, "insufficient_buying_power", "qty")                              \
    XX(BUYING_POWER_UNKNOWN, "buying_power_unknown", "account")                                    \
    XX(MAX_OPEN_ORDERS, "max_open_orders", "account")                                              \
    XX(EXPIRE_AT, "expire_at_invalid", "expire_at")                                                \
    XX(TRAIL_INVALID, "trail_invalid", "trail_amount")                                             \
    XX(ORDER_RATE, "order_rate", "account")                                                        \
    XX(DUPLICATE_CLIENT_ORDER_ID, "duplicate_client_order_id", "client_order_id")

typedef enum {
#define RISK_REASON_ENUM(name, code, field) RISK_##name,
    RISK_REASONS(RISK_REASON_ENUM)
#undef RISK_REASON_ENUM
        RISK_REASON_COUNT
} risk_reason;

const char *risk_reason_code(risk_reason r);
/* Default field of a reason (a check may report a more precise one). */
const char *risk_reason_field(risk_reason r);

/* What is to be ordered, from an API request or a signal. */
typedef struct risk_intent {
    char account[TB_TOKEN_CAP];
    char symbol[TB_TOKEN_CAP];
    char side[TB_ENUM_CAP]; /* buy|sell */
    char type[TB_ENUM_CAP]; /* market|limit|stop|stop_limit|trailing_stop */
    tb_fixed qty;
    tb_fixed limit_price; /* 0 = absent */
    tb_fixed stop_price;  /* 0 = absent */
    char tif[TB_ENUM_CAP];
    int64_t expire_at;     /* tif gtd: ns since the epoch, whole microseconds; 0 = absent */
    tb_fixed trail_amount; /* trailing_stop: trail in price units; 0 = absent */
    int64_t trail_bps;     /* trailing_stop: trail in basis points; 0 = absent */
    tb_fixed limit_offset; /* trailing_stop: triggered limit's offset; 0 = absent (market) */
    char client_order_id[TB_ID_CAP];
    bool reduce_only;
    char source[TB_ENUM_CAP]; /* api|signal */
    char strategy_id[TB_TOKEN_CAP];
    char signal_id[TB_ID_CAP];
    tb_fixed ref_price; /* signal: price and time of its tick (event time); 0 = none */
    int64_t ref_ts;
    char group_id[TB_ID_CAP];     /* OCO pair or bracket: the group; "" = none */
    char group_role[TB_ENUM_CAP]; /* oco|entry|take_profit|stop_loss; "" = none */
} risk_intent;

/* Trading rules of the instrument (symbols table). */
typedef struct risk_symbol {
    bool listed; /* the symbols table has a row */
    bool tradable;
    tb_fixed lot_size; /* 0 = none */
    tb_fixed tick_size;
    tb_fixed min_qty;
    tb_fixed max_qty; /* 0 = no maximum */
} risk_symbol;

typedef enum {
    RISK_QUOTE_OK,          /* market-data answered with a quote */
    RISK_QUOTE_NONE,        /* market-data answered: no quote for the symbol */
    RISK_QUOTE_UNAVAILABLE, /* market-data did not answer */
} risk_quote_state;

typedef struct risk_quote {
    risk_quote_state state;
    tb_fixed bid, ask, last; /* 0 = absent */
    int64_t ts;              /* event time of the quote's tick; 0 = unknown */
} risk_quote;

typedef struct risk_position {
    char symbol[TB_TOKEN_CAP];
    tb_fixed qty;  /* signed */
    tb_fixed mark; /* price used for exposure: last price, else average cost */
} risk_position;

/* What buying power is computed from, read with the other facts in one
 * statement (risk_store_load; see risk_bp.h for the definitions). */
typedef struct risk_bp_facts {
    tb_fixed cash;        /* accounts.cash: after fills and fees, short proceeds included */
    tb_fixed reserved;    /* held by short positions and open orders, fees excluded */
    tb_fixed fee_base;    /* notional of the open orders' opening parts (fees are on it) */
    tb_fixed margin_used; /* the part of reserved held by short positions */
    uint64_t unpriced;    /* open orders without a price to reserve at */
    tb_fixed position;    /* signed position in the intent's symbol */
    tb_fixed open_buy;    /* remaining qty of the symbol's open buys */
    tb_fixed open_sell;   /* remaining qty of the symbol's open sells */
} risk_bp_facts;

/* Everything the checks look at. Pointers are borrowed. */
typedef struct risk_facts {
    const tb_risk_limits *limits; /* effective limits of the account */
    bool account_known;
    bool kill_global;
    const risk_symbol *symbol;
    risk_quote quote;
    bool positions_ok; /* the account's positions were read (risk_store_positions) */
    const risk_position *positions;
    size_t npositions;
    bool pnl_ok;      /* the P&L summed from those positions (false: unknown or overflow) */
    tb_fixed day_pnl; /* realized + unrealized since the day's baseline */
    uint64_t open_orders;
    uint64_t orders_in_window; /* order rate: orders in the last second, this one included */
    int64_t now_ns;            /* the decision's time (event time of a signal), for expire_at */
    risk_bp_facts bp;          /* valid when account_known */
    tb_fixed bp_taken;         /* needed by approved orders not yet in bp.reserved (a batch) */
    uint64_t fee_bps;          /* RISK_FEE_BPS: fees reserved on top of notional */
} risk_facts;

#define RISK_MAX_FAILURES 24

typedef struct risk_failure {
    risk_reason reason;
    char field[32];
    char message[160];
} risk_failure;

typedef struct risk_verdict {
    size_t n;
    risk_failure failures[RISK_MAX_FAILURES];
} risk_verdict;

/* Adds a failure (ignored past RISK_MAX_FAILURES). field NULL = the reason's default. */
void risk_verdict_add(risk_verdict *v, risk_reason r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
bool risk_verdict_has(const risk_verdict *v, risk_reason r);

/* One check: appends its failure (if any) to v. */
typedef void (*risk_check_fn)(const risk_intent *in, const risk_facts *f, risk_verdict *v);

void risk_check_account(const risk_intent *in, const risk_facts *f, risk_verdict *v);
void risk_check_kill_switch(const risk_intent *in, const risk_facts *f, risk_verdict *v);
void risk_check_symbol(const risk_intent *in, const risk_facts *f, risk_verdict *v);
void risk_check_restricted(const risk_intent *in, const risk_facts *f, risk_verdict *v);
void risk_check_qty(const risk_intent *in, const risk_facts *f, risk_verdict *v);
void risk_check_prices(const risk_intent *in, const risk_facts *f, risk_verdict *v);
void risk_check_max_order_qty(const risk_intent *in, const risk_facts *f, risk_verdict *v);
void risk_check_notional(const risk_intent *in, const risk_facts *f, risk_verdict *v);
void risk_check_price_collar(const risk_intent *in, const risk_facts *f, risk_verdict *v);
void risk_check_positions_available(const risk_intent *in, const risk_facts *f, risk_verdict *v);
void risk_check_reduce_only(const risk_intent *in, const risk_facts *f, risk_verdict *v);
void risk_check_max_position(const risk_intent *in, const risk_facts *f, risk_verdict *v);
void risk_check_gross_exposure(const risk_intent *in, const risk_facts *f, risk_verdict *v);
void risk_check_daily_loss(const risk_intent *in, const risk_facts *f, risk_verdict *v);
/* Cash for buys, margin for short sales (risk_bp.h). */
void risk_check_buying_power(const risk_intent *in, const risk_facts *f, risk_verdict *v);
void risk_check_open_orders(const risk_intent *in, const risk_facts *f, risk_verdict *v);
void risk_check_order_rate(const risk_intent *in, const risk_facts *f, risk_verdict *v);
/* tif gtd needs an expire_at after f->now_ns; any other tif refuses one. */
void risk_check_expiry(const risk_intent *in, const risk_facts *f, risk_verdict *v);
/* trailing_stop needs exactly one of a positive trail_amount and trail_bps
 * in 1..RISK_TRAIL_BPS_MAX, and a limit_offset not negative; any other type
 * refuses them (risk_trail.c). trail_invalid, naming the field. */
#define RISK_TRAIL_BPS_MAX 9999
void risk_check_trail(const risk_intent *in, const risk_facts *f, risk_verdict *v);

/* Runs every check except the order rate, in the order of RISK_REASONS.
 * The rate check consumes a slot in Redis, so it runs (risk_check_order_rate)
 * only once everything else passed: rejected intents do not use up the
 * account's rate. */
void risk_evaluate(const risk_intent *in, const risk_facts *f, risk_verdict *v);

/* Whether the checks of f need positions / the account's P&L / a quote, so
 * the caller asks position-management and market-data only when needed. */
bool risk_needs_positions(const risk_intent *in, const tb_risk_limits *l);
bool risk_needs_pnl(const tb_risk_limits *l);

/* Price the intent is valued at (notional, exposure): the limit price of
 * limit and stop-limit orders, the stop price of stop orders, the touch of
 * market orders (ask for buys, bid for sells, last trade otherwise).
 * 0 when there is none (market order without a usable quote). */
tb_fixed risk_reference_price(const risk_intent *in, const risk_quote *q);
/* Reference of the price collar: last trade, else the bid/ask midpoint (rounded down),
 * else whichever side exists; 0 when there is no quote. */
tb_fixed risk_collar_reference(const risk_quote *q);
/* The intent's quantity with its sign: + for buys, - for sells. */
tb_fixed risk_signed_qty(const risk_intent *in);
/* Current signed position in the intent's symbol (0 when none). */
tb_fixed risk_current_position(const risk_intent *in, const risk_facts *f);

/* Validates limits sent to api.risk.limits.set: amounts not negative,
 * counts within PostgreSQL's integer, restricted_symbols a comma list of
 * symbols. TB_INVALID with the field otherwise. */
tb_status risk_limits_validate(const tb_risk_limits *l, tb_error *err) TB_WARN_UNUSED;

/* "code1,code2" into buf; returns buf. */
const char *risk_verdict_codes(const risk_verdict *v, char *buf, size_t cap);
/* "code1,code2: message1; message2" into buf (the error reply text). */
const char *risk_verdict_text(const risk_verdict *v, char *buf, size_t cap);

#endif
