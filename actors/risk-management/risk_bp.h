/* Buying power: the cash a buy needs and the margin a short sale needs,
 * against what the account has left. Pure functions over risk_bp_facts.
 *
 * Definitions (all amounts tb_fixed, exact; every rounding is upward, so
 * a reservation is never smaller than what the fill will take):
 * - cash: accounts.cash, kept by position-management (initial cash, minus
 *   buys and fees, plus sales: a short's proceeds are in it).
 * - margin rate m: the account's initial_margin_bps (default 15000 =
 *   150 %, Reg T). A short of notional N holds m x N, of which its own
 *   proceeds (already in cash) are N.
 * - opening part of an order: what does not reduce the position net of the
 *   symbol's open orders. A buy covers first the short not already being
 *   covered by open buys; a sell sells first the long not already being
 *   sold by open sells. The reducing part needs nothing.
 * - reserved: for each symbol, open buys' opening part x their reserve
 *   price, open sells' opening part x their price x (m - 1), short
 *   positions' |qty| x mark x m (mark: last price, else average cost),
 *   plus fees (fee_bps) on the open orders' opening notional.
 * - available = cash - reserved - fees of reserved - taken (orders of the
 *   same batch approved before this one).
 * - needed: buy: opening x price + fee; short sale: m x notional - notional
 *   (the proceeds) + fee, where notional = opening x price. An order passes
 *   when needed <= available or needed is 0. */
#ifndef RISK_BP_H
#define RISK_BP_H

#include "risk_checks.h"

/* Margin rate when the limits carry none. */
#define RISK_BP_DEFAULT_MARGIN_BPS 15000

/* What one order needs. */
typedef struct risk_bp_need {
    bool is_short;     /* a sell: its opening part is a short sale */
    tb_fixed opening;  /* qty that opens or extends the position */
    tb_fixed notional; /* opening x price (half-even) */
    tb_fixed fee;      /* notional x fee_bps / 10000, rounded up */
    tb_fixed margin;   /* short: notional x margin_bps / 10000, rounded up */
    tb_fixed needed;   /* from buying power */
} risk_bp_need;

/* What in needs at price (its reference price) given the symbol's
 * position and open orders in bp. TB_OVERFLOW when an amount overflows. */
tb_status risk_bp_need_of(const risk_intent *in, tb_fixed price, const risk_bp_facts *bp,
                          uint64_t margin_bps, uint64_t fee_bps, risk_bp_need *out) TB_WARN_UNUSED;

/* cash - reserved - fees on fee_base - taken; saturates at TB_FIXED_MIN. */
tb_fixed risk_bp_available(const risk_bp_facts *bp, uint64_t fee_bps, tb_fixed taken);

/* The effective margin rate of limits (0 = the default). */
uint64_t risk_bp_margin_bps(const tb_risk_limits *l);

/* The buying-power check of in against f, with available computed from
 * avail_bp (the account-wide amounts: f->bp at load, or the live ones at
 * insert) and f->bp_taken. *need (may be NULL) receives what in needs, 0
 * when it is rejected or needs nothing. */
void risk_bp_check(const risk_intent *in, const risk_facts *f, const risk_bp_facts *avail_bp,
                   tb_fixed *need, risk_verdict *v);

#endif
