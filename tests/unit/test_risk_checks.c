/* The pre-trade checks of risk-management (actors/risk-management/
 * risk_checks.c): every check rejects with its reason code and accepts its
 * boundary case, against values computed by hand in the comments. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "risk_checks.h"

#define FX(units) ((tb_fixed)(units)*TB_FIXED_SCALE)
#define E8        ((tb_fixed)1) /* one unit of the last decimal: 0.00000001 */

typedef struct world {
    risk_intent in;
    tb_risk_limits limits;
    risk_symbol symbol;
    risk_position positions[4];
    risk_facts f;
    risk_verdict v;
} world;

static world w;

/* A tradable listed symbol, a quote (bid 99, ask 101, last 100), a flat
 * account that answers, no limits, a buy of 10 at market. */
static void reset(void) {
    memset(&w, 0, sizeof w);
    snprintf(w.in.account, sizeof w.in.account, "ACC");
    snprintf(w.in.symbol, sizeof w.in.symbol, "DAX");
    snprintf(w.in.side, sizeof w.in.side, "buy");
    snprintf(w.in.type, sizeof w.in.type, "market");
    snprintf(w.in.tif, sizeof w.in.tif, "day");
    snprintf(w.in.source, sizeof w.in.source, "api");
    w.in.qty = FX(10);
    w.symbol = (risk_symbol){
        .listed = true, .tradable = true, .lot_size = E8, .tick_size = E8, .min_qty = E8};
    w.f.limits = &w.limits;
    w.f.account_known = true;
    w.f.symbol = &w.symbol;
    w.f.quote =
        (risk_quote){.state = RISK_QUOTE_OK, .bid = FX(99), .ask = FX(101), .last = FX(100)};
    w.f.positions_ok = true;
    w.f.positions = w.positions;
    w.f.pnl_ok = true;
    w.f.bp.cash = FX(1000000000); /* buying power never binds here: test_risk_bp.c */
}

static void set_position(const char *sym, tb_fixed qty, tb_fixed mark) {
    risk_position *p = &w.positions[w.f.npositions++];
    snprintf(p->symbol, sizeof p->symbol, "%s", sym);
    p->qty = qty;
    p->mark = mark;
}

static void eval(void) {
    risk_evaluate(&w.in, &w.f, &w.v);
}

/* Exactly the one reason, with its field. */
static void expect_only(risk_reason r, const char *field) {
    eval();
    char codes[256];
    ck_assert_msg(w.v.n == 1 && w.v.failures[0].reason == r, "want only %s, got [%s]",
                  risk_reason_code(r), risk_verdict_codes(&w.v, codes, sizeof codes));
    if (field) ck_assert_str_eq(w.v.failures[0].field, field);
}

static void expect_pass(void) {
    eval();
    char text[512];
    ck_assert_msg(w.v.n == 0, "want approval, got %s", risk_verdict_text(&w.v, text, sizeof text));
}

START_TEST(baseline_passes) {
    expect_pass();
}
END_TEST

START_TEST(reason_codes_are_stable) {
    ck_assert_str_eq(risk_reason_code(RISK_SYMBOL_UNKNOWN), "symbol_unknown");
    ck_assert_str_eq(risk_reason_code(RISK_MAX_ORDER_NOTIONAL), "max_order_notional");
    ck_assert_str_eq(risk_reason_code(RISK_DUPLICATE_CLIENT_ORDER_ID), "duplicate_client_order_id");
    ck_assert_str_eq(risk_reason_code(RISK_KILL_SWITCH_GLOBAL), "kill_switch_global");
    ck_assert_str_eq(risk_reason_code(RISK_REASON_COUNT), "unknown");
    for (int i = 0; i < RISK_REASON_COUNT; i++) {
        const char *c = risk_reason_code((risk_reason)i);
        ck_assert(strlen(c) > 0 && strspn(c, "abcdefghijklmnopqrstuvwxyz_") == strlen(c));
        ck_assert(strlen(risk_reason_field((risk_reason)i)) > 0);
    }
}
END_TEST

START_TEST(account_and_kill_switches) {
    w.f.account_known = false;
    expect_only(RISK_ACCOUNT_UNKNOWN, "account");
    reset();
    w.f.kill_global = true;
    expect_only(RISK_KILL_SWITCH_GLOBAL, "account");
    reset();
    w.limits.kill_switch = true;
    expect_only(RISK_KILL_SWITCH_ACCOUNT, "account");
    w.f.kill_global = true; /* both are reported, global first */
    eval();
    ck_assert_int_eq(w.v.n, 2);
    ck_assert_int_eq(w.v.failures[0].reason, RISK_KILL_SWITCH_GLOBAL);
    ck_assert_int_eq(w.v.failures[1].reason, RISK_KILL_SWITCH_ACCOUNT);
}
END_TEST

START_TEST(symbol_known_tradable_restricted) {
    w.symbol.tradable = false;
    expect_only(RISK_SYMBOL_NOT_TRADABLE, "symbol");
    reset();
    /* not listed but quoted: known */
    w.symbol = (risk_symbol){0};
    expect_pass();
    /* not listed, market-data has no quote: unknown (the missing price of
     * the market order has the same cause and is not reported again) */
    w.f.quote.state = RISK_QUOTE_NONE;
    expect_only(RISK_SYMBOL_UNKNOWN, "symbol");
    /* a limit order of an unlisted, unquoted symbol: only unknown */
    snprintf(w.in.type, sizeof w.in.type, "limit");
    w.in.limit_price = FX(100);
    expect_only(RISK_SYMBOL_UNKNOWN, "symbol");
    /* market-data down: no_quote, not unknown */
    w.f.quote.state = RISK_QUOTE_UNAVAILABLE;
    expect_only(RISK_NO_QUOTE, "symbol");
    reset();
    snprintf(w.limits.restricted_symbols, sizeof w.limits.restricted_symbols, "AAA,DAX,ZZZ");
    expect_only(RISK_SYMBOL_RESTRICTED, "symbol");
    /* prefixes and other symbols do not match */
    snprintf(w.limits.restricted_symbols, sizeof w.limits.restricted_symbols, "DA,DAXX,dax");
    expect_pass();
}
END_TEST

START_TEST(qty_rules) {
    w.in.qty = 0;
    expect_only(RISK_QTY_NOT_POSITIVE, "qty");
    w.in.qty = -FX(1);
    expect_only(RISK_QTY_NOT_POSITIVE, "qty");
    reset();
    /* min: the larger of symbol and account minimum (2 here) */
    w.symbol.min_qty = FX(1);
    w.limits.min_qty = FX(2);
    w.in.qty = FX(2);
    expect_pass();
    w.in.qty = FX(2) - E8;
    expect_only(RISK_QTY_BELOW_MIN, "qty");
    reset();
    w.symbol.max_qty = FX(10);
    w.in.qty = FX(10);
    expect_pass();
    w.in.qty = FX(10) + E8;
    expect_only(RISK_QTY_ABOVE_MAX, "qty");
    reset();
    w.symbol.lot_size = FX(1) / 4; /* 0.25 */
    w.in.qty = FX(10) + FX(1) / 4;
    expect_pass();
    w.in.qty = FX(10) + FX(1) / 4 + E8;
    expect_only(RISK_LOT_SIZE, "qty");
    reset();
    /* the account's lot size applies too */
    w.limits.lot_size = FX(5);
    w.in.qty = FX(15);
    expect_pass();
    w.in.qty = FX(16);
    expect_only(RISK_LOT_SIZE, "qty");
}
END_TEST

START_TEST(prices) {
    snprintf(w.in.type, sizeof w.in.type, "limit");
    expect_only(RISK_PRICE_INVALID, "limit_price"); /* missing */
    w.in.limit_price = -FX(1);
    expect_only(RISK_PRICE_INVALID, "limit_price");
    w.in.limit_price = FX(100);
    expect_pass();
    w.in.stop_price = FX(100); /* a limit order has no stop price */
    expect_only(RISK_PRICE_INVALID, "stop_price");
    reset();
    snprintf(w.in.type, sizeof w.in.type, "stop_limit");
    w.in.limit_price = FX(100);
    expect_only(RISK_PRICE_INVALID, "stop_price");
    w.in.stop_price = FX(100);
    expect_pass();
    w.symbol.tick_size = FX(1) / 2; /* 0.5 */
    w.in.stop_price = FX(100) + FX(1) / 2;
    expect_pass();
    w.in.stop_price = FX(100) + FX(1) / 4;
    expect_only(RISK_TICK_SIZE, "stop_price");
    reset();
    w.in.limit_price = FX(1); /* market orders carry no price */
    expect_only(RISK_PRICE_INVALID, "limit_price");
}
END_TEST

START_TEST(max_order_qty) {
    w.limits.max_order_qty = FX(10);
    expect_pass(); /* qty == max */
    w.in.qty = FX(10) + E8;
    expect_only(RISK_MAX_ORDER_QTY, "qty");
}
END_TEST

START_TEST(max_order_notional) {
    /* market buy values at the ask: 10 x 101 = 1010 */
    w.limits.max_order_notional = FX(1010);
    expect_pass();
    w.limits.max_order_notional = FX(1010) - E8;
    expect_only(RISK_MAX_ORDER_NOTIONAL, "qty");
    /* market sell values at the bid: 10 x 99 = 990 */
    snprintf(w.in.side, sizeof w.in.side, "sell");
    w.limits.max_order_notional = FX(990);
    expect_pass();
    /* qty 10.00000001 x 99 = 990.00000099 > 990 */
    w.in.qty = FX(10) + E8;
    expect_only(RISK_MAX_ORDER_NOTIONAL, "qty");
    reset();
    /* limit orders value at their limit price: 10 x 50 = 500 */
    snprintf(w.in.type, sizeof w.in.type, "limit");
    w.in.limit_price = FX(50);
    w.limits.max_order_notional = FX(500);
    expect_pass();
    w.in.limit_price = FX(50) + E8; /* 500.0000001 */
    expect_only(RISK_MAX_ORDER_NOTIONAL, "qty");
    reset();
    /* no bid/ask: last */
    w.f.quote.bid = w.f.quote.ask = 0;
    w.limits.max_order_notional = FX(1000);
    expect_pass();
    w.f.quote.last = FX(100) + E8;
    expect_only(RISK_MAX_ORDER_NOTIONAL, "qty");
    reset();
    /* overflow of qty x price is a rejection, not a wrap */
    w.limits.max_order_notional = FX(1);
    w.in.qty = TB_FIXED_MAX / 2;
    eval();
    /* ... and no cash covers it either */
    ck_assert_uint_eq(w.v.n, 2);
    ck_assert_int_eq(w.v.failures[0].reason, RISK_MAX_ORDER_NOTIONAL);
    ck_assert_int_eq(w.v.failures[1].reason, RISK_INSUFFICIENT_BUYING_POWER);
}
END_TEST

START_TEST(market_order_needs_a_quote) {
    w.f.quote.state = RISK_QUOTE_UNAVAILABLE;
    expect_only(RISK_NO_QUOTE, "symbol");
    w.f.quote = (risk_quote){.state = RISK_QUOTE_OK}; /* quote without prices */
    expect_only(RISK_NO_QUOTE, "symbol");
    /* a limit order without collar does not need one */
    snprintf(w.in.type, sizeof w.in.type, "limit");
    w.in.limit_price = FX(100);
    w.f.quote.state = RISK_QUOTE_UNAVAILABLE;
    expect_pass();
}
END_TEST

START_TEST(price_collar) {
    /* 100 bps around last 100: [99, 101] */
    w.limits.price_collar_bps = 100;
    snprintf(w.in.type, sizeof w.in.type, "limit");
    w.in.limit_price = FX(101);
    expect_pass();
    w.in.limit_price = FX(99);
    expect_pass();
    w.in.limit_price = FX(101) + E8;
    expect_only(RISK_PRICE_COLLAR, "limit_price");
    w.in.limit_price = FX(99) - E8;
    expect_only(RISK_PRICE_COLLAR, "limit_price");
    /* a band that is not a whole number of units: 100.00000003 x 1 bps =
     * 0.0100000000003, so 100.01000003 is inside, 100.01000004 outside */
    w.f.quote.last = FX(100) + 3 * E8;
    w.limits.price_collar_bps = 1;
    w.in.limit_price = FX(100) + FX(1) / 100 + 3 * E8;
    expect_pass();
    w.in.limit_price += E8;
    expect_only(RISK_PRICE_COLLAR, "limit_price");
    reset();
    /* stop prices too; reference: the midpoint when there is no last */
    w.limits.price_collar_bps = 100;
    w.f.quote.last = 0;
    w.f.quote.bid = FX(199);
    w.f.quote.ask = FX(201); /* mid 200, band 2 */
    snprintf(w.in.type, sizeof w.in.type, "stop");
    w.in.stop_price = FX(202);
    expect_pass();
    w.in.stop_price = FX(202) + E8;
    expect_only(RISK_PRICE_COLLAR, "stop_price");
    /* no quote: fail closed */
    w.f.quote.state = RISK_QUOTE_UNAVAILABLE;
    w.in.stop_price = FX(200);
    expect_only(RISK_NO_QUOTE, "symbol");
    reset();
    /* market orders are not collared */
    w.limits.price_collar_bps = 1;
    expect_pass();
}
END_TEST

START_TEST(collar_reference) {
    risk_quote q = {.state = RISK_QUOTE_OK, .bid = 3, .ask = 4};
    ck_assert_int_eq(risk_collar_reference(&q), 3); /* (3 + 4) / 2 = 3.5 units, rounded down */
    q.bid = 2;
    q.ask = 4;
    ck_assert_int_eq(risk_collar_reference(&q), 3);
    q.bid = TB_FIXED_MAX;
    q.ask = TB_FIXED_MAX; /* no overflow in the sum */
    ck_assert_int_eq(risk_collar_reference(&q), TB_FIXED_MAX);
    q.bid = 0;
    q.ask = 7;
    ck_assert_int_eq(risk_collar_reference(&q), 7);
    q.state = RISK_QUOTE_NONE;
    ck_assert_int_eq(risk_collar_reference(&q), 0);
}
END_TEST

START_TEST(positions_unavailable) {
    w.limits.max_position_qty = FX(100);
    w.f.positions_ok = false;
    expect_only(RISK_POSITIONS_UNAVAILABLE, "account");
    reset();
    w.limits.daily_loss_limit = FX(100);
    w.f.pnl_ok = false;
    expect_only(RISK_POSITIONS_UNAVAILABLE, "account");
    reset();
    /* not needed without those limits */
    w.f.positions_ok = w.f.pnl_ok = false;
    expect_pass();
    w.in.reduce_only = true;
    expect_only(RISK_POSITIONS_UNAVAILABLE, "account");
}
END_TEST

START_TEST(reduce_only) {
    w.in.reduce_only = true;
    expect_only(RISK_REDUCE_ONLY, "reduce_only"); /* flat */
    set_position("DAX", FX(5), FX(100));
    expect_only(RISK_REDUCE_ONLY, "reduce_only"); /* buy on a long */
    snprintf(w.in.side, sizeof w.in.side, "sell");
    w.in.qty = FX(5);
    expect_pass(); /* sell 5 of 5 */
    w.in.qty = FX(5) + E8;
    expect_only(RISK_REDUCE_ONLY, "reduce_only");
    reset();
    /* account mode, short position: buys up to the short */
    w.limits.reduce_only = true;
    set_position("DAX", -FX(3), FX(100));
    set_position("CAC", FX(50), FX(10));
    w.in.qty = FX(3);
    expect_pass();
    w.in.qty = FX(3) + E8;
    expect_only(RISK_REDUCE_ONLY, "reduce_only");
}
END_TEST

START_TEST(max_position) {
    w.limits.max_position_qty = FX(100);
    set_position("DAX", FX(90), FX(100));
    expect_pass(); /* 90 + 10 = 100 */
    w.in.qty = FX(10) + E8;
    expect_only(RISK_MAX_POSITION, "qty");
    reset();
    /* short side: -95 - 5 = -100 ok, -100.00000001 not */
    w.limits.max_position_qty = FX(100);
    set_position("DAX", -FX(95), FX(100));
    snprintf(w.in.side, sizeof w.in.side, "sell");
    w.in.qty = FX(5);
    expect_pass();
    w.in.qty = FX(5) + E8;
    expect_only(RISK_MAX_POSITION, "qty");
    reset();
    /* over the limit already: reducing is allowed, flipping beyond is not */
    w.limits.max_position_qty = FX(100);
    set_position("DAX", FX(150), FX(100));
    snprintf(w.in.side, sizeof w.in.side, "sell");
    w.in.qty = FX(10);
    expect_pass();      /* 140 < 150 */
    w.in.qty = FX(251); /* -101 */
    expect_only(RISK_MAX_POSITION, "qty");
}
END_TEST

START_TEST(gross_exposure) {
    /* CAC: 10 x 50 = 500 (mark); DAX: 5 long, order buys 10 at ask 101:
     * after = 500 + 15 x 101 = 2015 */
    set_position("CAC", -FX(10), FX(50));
    set_position("DAX", FX(5), FX(100));
    w.limits.max_gross_exposure = FX(2015);
    expect_pass();
    w.limits.max_gross_exposure = FX(2015) - E8;
    expect_only(RISK_MAX_GROSS_EXPOSURE, "qty");
    /* a sell that reduces DAX reduces exposure: allowed although over */
    w.limits.max_gross_exposure = FX(100);
    snprintf(w.in.side, sizeof w.in.side, "sell");
    w.in.qty = FX(5);
    expect_pass();
    /* selling 20 flips to -15: 500 + 15 x 99 = 1985 > 500 + 5 x 99 */
    w.in.qty = FX(20);
    expect_only(RISK_MAX_GROSS_EXPOSURE, "qty");
}
END_TEST

START_TEST(daily_loss) {
    w.limits.daily_loss_limit = FX(1000);
    w.f.day_pnl = -FX(1000);
    expect_pass(); /* loss == limit */
    w.f.day_pnl = -FX(1000) - E8;
    expect_only(RISK_DAILY_LOSS_LIMIT, "account");
    /* reducing a position is still allowed */
    set_position("DAX", FX(20), FX(100));
    snprintf(w.in.side, sizeof w.in.side, "sell");
    expect_pass();
    w.in.qty = FX(40) + E8; /* flips to a larger short */
    expect_only(RISK_DAILY_LOSS_LIMIT, "account");
    w.f.day_pnl = FX(5000); /* gains never block */
    expect_pass();
}
END_TEST

START_TEST(open_orders_and_rate) {
    w.limits.max_open_orders = 3;
    w.f.open_orders = 2;
    expect_pass(); /* becomes the 3rd */
    w.f.open_orders = 3;
    expect_only(RISK_MAX_OPEN_ORDERS, "account");
    reset();
    /* the rate check is separate from risk_evaluate */
    w.limits.max_orders_per_sec = 5;
    w.f.orders_in_window = 5;
    risk_check_order_rate(&w.in, &w.f, &w.v);
    ck_assert_int_eq(w.v.n, 0);
    w.f.orders_in_window = 6;
    risk_check_order_rate(&w.in, &w.f, &w.v);
    ck_assert_int_eq(w.v.n, 1);
    ck_assert_str_eq(risk_reason_code(w.v.failures[0].reason), "order_rate");
    w.limits.max_orders_per_sec = 0;
    memset(&w.v, 0, sizeof w.v);
    risk_check_order_rate(&w.in, &w.f, &w.v);
    ck_assert_int_eq(w.v.n, 0);
}
END_TEST

START_TEST(gtd_expire_at) {
    const int64_t now = INT64_C(1710082800) * 1000000000;
    w.f.now_ns = now;
    snprintf(w.in.tif, sizeof w.in.tif, "gtd");
    expect_only(RISK_EXPIRE_AT, "expire_at"); /* gtd without expire_at */
    ck_assert_ptr_nonnull(strstr(w.v.failures[0].message, "needs expire_at"));
    w.in.expire_at = now;
    expect_only(RISK_EXPIRE_AT, "expire_at"); /* not after the order's time */
    w.in.expire_at = now + 1000;
    expect_pass();
    snprintf(w.in.tif, sizeof w.in.tif, "gtc");
    expect_only(RISK_EXPIRE_AT, "expire_at"); /* only for gtd */
    ck_assert_ptr_nonnull(strstr(w.v.failures[0].message, "only for tif gtd"));
    w.in.expire_at = 0;
    expect_pass();
    ck_assert_str_eq(risk_reason_code(RISK_EXPIRE_AT), "expire_at_invalid");
}
END_TEST

START_TEST(trailing_stop_trail) {
    snprintf(w.in.type, sizeof w.in.type, "trailing_stop");
    snprintf(w.in.side, sizeof w.in.side, "sell");
    expect_only(RISK_TRAIL_INVALID, "trail_amount"); /* neither */
    ck_assert_ptr_nonnull(strstr(w.v.failures[0].message, "needs trail_amount or trail_bps"));
    w.in.trail_amount = FX(2);
    expect_pass();
    w.in.trail_bps = 50;
    expect_only(RISK_TRAIL_INVALID, "trail_bps"); /* both */
    w.in.trail_amount = 0;
    expect_pass();
    w.in.trail_bps = 10000;
    expect_only(RISK_TRAIL_INVALID, "trail_bps");
    w.in.trail_bps = -5;
    expect_only(RISK_TRAIL_INVALID, "trail_bps");
    w.in.trail_bps = 0;
    w.in.trail_amount = -FX(1);
    expect_only(RISK_TRAIL_INVALID, "trail_amount");
    w.in.trail_amount = FX(1);
    w.in.limit_offset = -E8;
    expect_only(RISK_TRAIL_INVALID, "limit_offset");
    w.in.limit_offset = FX(1) / 2;
    expect_pass();
    /* another type refuses every trail field */
    snprintf(w.in.type, sizeof w.in.type, "market");
    w.in.trail_amount = 0;
    expect_only(RISK_TRAIL_INVALID, "limit_offset");
    ck_assert_ptr_nonnull(strstr(w.v.failures[0].message, "only for trailing_stop"));
    w.in.limit_offset = 0;
    expect_pass();
    ck_assert_str_eq(risk_reason_code(RISK_TRAIL_INVALID), "trail_invalid");
}
END_TEST

START_TEST(several_failures_and_text) {
    w.limits.max_order_qty = FX(1);
    w.symbol.tradable = false;
    w.in.qty = FX(3) / 2;
    w.limits.lot_size = FX(1);
    eval();
    char codes[128], text[512];
    ck_assert_str_eq(risk_verdict_codes(&w.v, codes, sizeof codes),
                     "symbol_not_tradable,lot_size,max_order_qty");
    risk_verdict_text(&w.v, text, sizeof text);
    const char *head = "symbol_not_tradable,lot_size,max_order_qty: DAX is not tradable; ";
    ck_assert_msg(strncmp(text, head, strlen(head)) == 0, "%s", text);
    ck_assert_ptr_nonnull(strstr(text, "qty 1.5 exceeds max_order_qty 1"));
    /* truncation never overruns */
    char tiny[8];
    risk_verdict_text(&w.v, tiny, sizeof tiny);
    ck_assert_str_eq(tiny, "symbol_");
}
END_TEST

START_TEST(limits_validation) {
    tb_risk_limits l = {0};
    tb_error err = {0};
    snprintf(l.account, sizeof l.account, "A");
    ck_assert_int_eq(risk_limits_validate(&l, &err), TB_OK);
    l.max_order_notional = -1;
    ck_assert_int_eq(risk_limits_validate(&l, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "max_order_notional");
    l.max_order_notional = 0;
    l.max_open_orders = (uint64_t)INT32_MAX + 1;
    ck_assert_int_eq(risk_limits_validate(&l, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "max_open_orders");
    l.max_open_orders = INT32_MAX;
    ck_assert_int_eq(risk_limits_validate(&l, &err), TB_OK);
    const char *bad[] = {",A", "A,", "A,,B", "A B", "A;B"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(l.restricted_symbols, sizeof l.restricted_symbols, "%s", bad[i]);
        ck_assert_msg(risk_limits_validate(&l, &err) == TB_INVALID, "%s accepted", bad[i]);
        ck_assert_str_eq(err.field, "restricted_symbols");
    }
    snprintf(l.restricted_symbols, sizeof l.restricted_symbols, "A,b_2,C-3");
    ck_assert_int_eq(risk_limits_validate(&l, &err), TB_OK);
}
END_TEST

int main(void) {
    Suite *s = suite_create("risk_checks");
    TCase *tc = tcase_create("checks");
    tcase_add_checked_fixture(tc, reset, NULL);
    tcase_add_test(tc, baseline_passes);
    tcase_add_test(tc, reason_codes_are_stable);
    tcase_add_test(tc, account_and_kill_switches);
    tcase_add_test(tc, symbol_known_tradable_restricted);
    tcase_add_test(tc, qty_rules);
    tcase_add_test(tc, prices);
    tcase_add_test(tc, max_order_qty);
    tcase_add_test(tc, max_order_notional);
    tcase_add_test(tc, market_order_needs_a_quote);
    tcase_add_test(tc, price_collar);
    tcase_add_test(tc, collar_reference);
    tcase_add_test(tc, positions_unavailable);
    tcase_add_test(tc, reduce_only);
    tcase_add_test(tc, max_position);
    tcase_add_test(tc, gross_exposure);
    tcase_add_test(tc, daily_loss);
    tcase_add_test(tc, open_orders_and_rate);
    tcase_add_test(tc, gtd_expire_at);
    tcase_add_test(tc, trailing_stop_trail);
    tcase_add_test(tc, several_failures_and_text);
    tcase_add_test(tc, limits_validation);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
