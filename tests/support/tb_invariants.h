/* The exactness invariants of the order path (issue 4), checked against
 * PostgreSQL for the tests of any service that books fills.
 *
 * For every account whose id matches a LIKE pattern:
 *   - every fill in `fills` has been applied (has its applied_fills row);
 *   - for every (account, symbol): positions.qty == sum of signed fill qty
 *     (buy +, sell -), and positions.fees == sum of the fills' fees;
 *   - accounts.cash == initial_cash - sum(signed notional) - sum(fees), with
 *     each fill's notional qty * price rounded half-even to 8 decimals on
 *     its own (the rule position-management books with);
 *   - cash + sum(positions.cost_basis) == initial_cash + sum(realized_pnl)
 *     - sum(fees): realized P&L and cost basis account for every unit of cash.
 * All comparisons are exact (tb_fixed / 128-bit sums), never within a
 * tolerance. Positions without fills must be flat with no fees. */
#ifndef TB_INVARIANTS_H
#define TB_INVARIANTS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Counts of what a check covered. */
typedef struct tb_exactness_counts {
    long accounts, positions, fills;
} tb_exactness_counts;

/* Returns true when every invariant holds for the accounts matching
 * account_like_pattern (SQL LIKE, e.g. "T1234%"); msg then says what was
 * checked ("3 accounts, 12 positions, 2000 fills exact"). Returns false with
 * msg describing the first mismatches (or the query error). msg is always
 * NUL-terminated when cap > 0. Reads only; safe to call repeatedly while
 * waiting for work to settle. */
bool tb_check_exactness(PGconn *c, const char *account_like_pattern, char *msg, size_t cap);

/* Same, also returning the counts (counts may be NULL). */
bool tb_check_exactness_counts(PGconn *c, const char *account_like_pattern, char *msg, size_t cap,
                               tb_exactness_counts *counts);

#endif
