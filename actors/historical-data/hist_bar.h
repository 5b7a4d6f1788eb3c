/* Bar aggregation rules of historical-data: pure functions, no I/O.
 *
 * Intervals and their bucket starts, the price and volume a tick contributes,
 * and the merge of two partial bars. The merge is commutative and
 * associative, so bars built from the same ticks are identical whatever the
 * order the ticks arrive in or how they are split across workers: open is the
 * price of the lowest tick seq, close the price of the highest, high/low the
 * extremes, volume and ticks sums. hist_store.c performs the same merge in
 * SQL (one upsert per bar); the unit tests pin the rules down here.
 *
 * Duplicates are not this file's concern: a tick merged twice counts twice.
 * The store keeps a seen-tick guard so that never happens. */
#ifndef HIST_BAR_H
#define HIST_BAR_H

#include <stdbool.h>
#include <stdint.h>

#include "catalogue.h"

typedef enum { HIST_1S, HIST_1M, HIST_5M, HIST_1H, HIST_1D, HIST_NINTERVALS } hist_interval;

#define HIST_NS_PER_SEC INT64_C(1000000000)

/* "1s", "1m", "5m", "1h", "1d" (the catalogue's bar.interval values). */
const char *hist_interval_name(hist_interval iv);
/* Length in nanoseconds. */
int64_t hist_interval_ns(hist_interval iv);
/* Parses an interval name; TB_INVALID for anything else. */
tb_status hist_interval_parse(const char *s, hist_interval *out) TB_WARN_UNUSED;

/* A comma-separated list of interval names (spaces around names allowed,
 * "all" for every interval, "none" adds none) into a set of
 * (1u << hist_interval) bits. TB_INVALID, naming the first bad entry in
 * err, for anything else. */
tb_status hist_interval_set_parse(const char *list, unsigned *mask, tb_error *err) TB_WARN_UNUSED;

/* Start of the bucket holding ts (ns since the epoch, UTC): the largest
 * multiple of the interval <= ts. Days start at 00:00 UTC. Correct for
 * negative ts too (floor, not truncation). */
int64_t hist_bucket_start(int64_t ts_ns, hist_interval iv);

/* One bar, or the part of one contributed by some ticks. */
typedef struct hist_bar {
    int64_t start; /* bucket start, ns */
    tb_fixed open, high, low, close;
    tb_fixed volume;    /* sum of traded size */
    uint64_t ticks;     /* ticks merged */
    uint64_t first_seq; /* seq the open came from */
    uint64_t last_seq;  /* seq the close came from */
} hist_bar;

/* The price and traded size a tick contributes: its last trade price and
 * last_size when it has a trade; otherwise the bid/ask midpoint (rounded
 * half-even to 8 decimals) or the one side quoted, with size 0 (a quote is
 * not volume). TB_INVALID (err says why) when the tick carries no positive
 * price or a negative size. */
tb_status hist_tick_price(const tb_tick *t, tb_fixed *price, tb_fixed *size,
                          tb_error *err) TB_WARN_UNUSED;

/* The one-tick bar of a tick with this price, size and seq in the bucket
 * starting at start. */
void hist_bar_from_tick(hist_bar *b, int64_t start, tb_fixed price, tb_fixed size, uint64_t seq);

/* Merges part into into (same bucket). Open comes from the lower first_seq
 * and close from the higher last_seq; on equal seqs the lower open and the
 * higher close win, so the result never depends on argument order.
 * TB_OVERFLOW (into unchanged) when the volume sum leaves tb_fixed's range;
 * TB_INVALID when the starts differ. */
tb_status hist_bar_merge(hist_bar *into, const hist_bar *part) TB_WARN_UNUSED;

/* True when low <= open, close <= high (the bars table's CHECK). */
bool hist_bar_consistent(const hist_bar *b);

#endif
