/* The performance reply from the curve summary and the round trips: pure
 * functions, no I/O.
 *
 * Round-trip statistics count the closed trips whose exit time is >= from
 * (the replay already stops at to) and, with a strategy, whose opening fill
 * was that strategy's. A trip wins when its net P&L (after fees) is > 0 and
 * loses when it is < 0; a trip at exactly 0 counts in round_trips only.
 *
 *   win_rate       wins / round trips;
 *   avg_win        sum of winning net P&L / wins (money, half-even);
 *   avg_loss       sum of losing net P&L / losses (money, negative);
 *   expectancy     sum of net P&L / round trips (money, half-even);
 *   profit_factor  sum of winning net P&L / |sum of losing net P&L|;
 *   exposure       the time within [first point, last point] of the curve
 *                  during which any trip was open (entry to exit, an open
 *                  trip to the end), over last - first.
 *
 * Doubles in the reply are rounded to AN_SIG_DIGITS significant digits: the
 * inputs (equity samples, money at 8 decimals) do not support more, and the
 * JSON stays readable. */
#ifndef AN_REPORT_H
#define AN_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "an_roundtrips.h"
#include "an_stats.h"

#define AN_SIG_DIGITS 6

/* Time a trip was in the market: [a, b], b = INT64_MAX while open. */
typedef struct an_span {
    int64_t a, b;
} an_span;

typedef struct an_trip_stats {
    /* selection */
    char strategy_id[TB_TOKEN_CAP]; /* "" = every trip */
    int64_t from;
    /* closed, selected trips */
    uint64_t round_trips, wins, losses;
    tb_fixed net, win_sum, loss_sum;
    /* every selected trip's span (heap), for the exposure */
    an_span *spans;
    size_t nspans, cap;
} an_trip_stats;

void an_trip_stats_init(an_trip_stats *s, const char *strategy_id, int64_t from);
void an_trip_stats_free(an_trip_stats *s);

/* an_trip_fn: counts one trip. TB_OVERFLOW, TB_NOMEM. */
tb_status an_trip_stats_add(void *stats, const an_trip *t, tb_error *err) TB_WARN_UNUSED;

/* Share of [start, end] covered by the union of the spans (sorted in
 * place); undefined when end <= start. */
an_value an_exposure(an_span *spans, size_t n, int64_t start, int64_t end);

/* Buy and hold of n symbols, equal weights: the mean of last[i] / first[i]
 * - 1 (first the price bought at, last the price held to); undefined for no
 * symbol or a first price that is not positive. */
an_value an_buy_hold(const tb_fixed *first, const tb_fixed *last, size_t n);

/* x rounded to AN_SIG_DIGITS significant digits (decimal, half-even as
 * printf rounds); NaN and 0 unchanged. */
double an_round_sig(double x);

/* "why each null is null" collected while filling the reply, written as
 * `a, b: reason; c: other reason` (fields grouped by reason, in order). */
#define AN_MAX_NULLS 32
typedef struct an_nulls {
    size_t n;
    const char *field[AN_MAX_NULLS];
    const char *why[AN_MAX_NULLS];
} an_nulls;

void an_nulls_add(an_nulls *z, const char *field, const char *why);
/* Writes the text into out (cap bytes, NUL-terminated); a text that does not
 * fit ends with "..." at a group boundary. */
void an_nulls_format(const an_nulls *z, char *out, size_t cap);

/* Sets each point's drawdown, oldest first, against the running
 * high-water mark that starts at prior_peak (the highest equity before
 * pts[0]; NaN when there is none): (peak - equity) / peak, rounded like
 * every double; null while the peak is not positive. */
void an_report_drawdowns(tb_equity_point *pts, size_t n, double prior_peak);

/* Fills the statistics of p (account and strategy_id already set). m is the
 * account's curve summary, or NULL per strategy (the curve is the account's:
 * its statistics are null). first / last: exact equity of the first and last
 * point. trades: the fills replay; trips: its round trips; buy_hold: the
 * traded symbols' buy and hold return (an_buy_hold). TB_OVERFLOW when a
 * money figure leaves the fixed-point range. */
tb_status an_report_fill(tb_performance *p, const an_summary *m, tb_fixed first, tb_fixed last,
                         const an_trades *trades, an_trip_stats *trips, an_value buy_hold,
                         tb_error *err) TB_WARN_UNUSED;

#endif
