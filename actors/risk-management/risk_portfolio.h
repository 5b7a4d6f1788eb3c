/* Portfolio risk of an account (api.risk.accounts.get, .positions.get):
 * exposure, concentration, leverage, margin, buying power and one-day
 * historical VaR. Pure: the glue (risk_portfolio_api.c) reads positions,
 * cash and reservations from PostgreSQL and daily bars from
 * historical-data.
 *
 * Historical VaR (simulation over the last N daily returns applied to
 * today's positions):
 * - each held symbol's daily closes, oldest first; a return is taken
 *   between two consecutive bars, dated by the later bar's day;
 * - scenario days are the days on which every held symbol has a return,
 *   the newest `lookback` of them;
 * - the P&L of a scenario is the sum over positions of value x (close -
 *   previous close) / previous close, with value = qty x mark; every
 *   product half-even to 1e-8 (tb_fixed), so the result is exact and the
 *   same on every machine;
 * - sorted ascending, VaR at p % is the loss of the k-th worst scenario,
 *   k = ceil((100 - p) x n / 100) (n scenarios), and 0 if that is a gain.
 * With no scenario (a held symbol with fewer than two daily bars) the VaR
 * is 0 and var_days 0. */
#ifndef RISK_PORTFOLIO_H
#define RISK_PORTFOLIO_H

#include "risk_checks.h"

/* One held position with its daily closes (oldest first). */
typedef struct risk_pf_position {
    char symbol[TB_TOKEN_CAP];
    tb_fixed qty;        /* signed */
    tb_fixed mark;       /* last price, else average cost */
    const int64_t *days; /* UTC day number of each bar (start / 86400 s), ascending */
    const tb_fixed *closes;
    size_t nbars;
} risk_pf_position;

typedef struct risk_var {
    tb_fixed var95, var99; /* losses, >= 0 */
    uint64_t days;         /* scenarios used */
} risk_var;

/* VaR of the n positions together over at most lookback scenario days. */
tb_status risk_var_historical(const risk_pf_position *p, size_t n, size_t lookback,
                              risk_var *out) TB_WARN_UNUSED;

/* The loss at confidence pct (95, 99) of n scenario P&Ls (sorted in
 * place): see above. 0 when n is 0. */
tb_fixed risk_var_quantile(tb_fixed *pnl, size_t n, unsigned pct);

/* The position's figures (account-wide gross for its concentration):
 * market value, exposure, concentration, margin at margin_bps. */
tb_status risk_pf_position_figures(const risk_pf_position *p, tb_fixed gross, uint64_t margin_bps,
                                   tb_position_risk *out) TB_WARN_UNUSED;

/* The account's figures: exposure, equity, leverage from the positions
 * and cash; margin and buying power from bp (as the buying-power check
 * reads them, fees at fee_bps); VaR over lookback days. items (n, may be
 * NULL) receive each position's figures and VaR alone. */
tb_status risk_pf_assess(const char *account, const risk_pf_position *p, size_t n,
                         const risk_bp_facts *bp, uint64_t margin_bps, uint64_t fee_bps,
                         size_t lookback, tb_account_risk *out,
                         tb_position_risk *items) TB_WARN_UNUSED;

#endif
