/* PostgreSQL access of analytics: the equity curve (equity), the fills it
 * recorded (analytics_fills) and the accounts it reports on (accounts).
 * Tables: schemas/migrations/0001_init.sql, 0701_analytics.sql.
 *
 * Every function takes a borrowed connection and leaves it idle. Long reads
 * stream rows one at a time (libpq single-row mode) into the pure
 * accumulators, so a long curve or history needs no memory of its own. */
#ifndef AN_STORE_H
#define AN_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "an_stats.h"
#include "an_trades.h"
#include "catalogue.h"

/* Records fills f[0..n) for the trade statistics in one statement; a fill
 * already recorded (a redelivery) is skipped. *inserted receives how many
 * were new. */
tb_status an_store_record_fills(PGconn *c, const tb_fill *const *f, size_t n, size_t *inserted,
                                tb_error *err) TB_WARN_UNUSED;

/* One equity point to upsert: account's valuation v, taken at valued_ns, for
 * the bucket starting at bucket_ns. v is borrowed. */
typedef struct an_sample {
    const char *account;
    int64_t bucket_ns;
    const tb_account *v;
    int64_t valued_ns;
} an_sample;

/* Upserts the points s[0..n) in one transaction of one statement (three
 * round trips whatever n is); an existing point of a bucket is replaced only
 * by a valuation at least as fresh. s must be sorted by (account byte-wise,
 * bucket_ns) with no pair twice: one statement cannot update a row twice, and
 * one lock order keeps concurrent writers from deadlocking (TB_INVALID
 * otherwise, nothing written). *written receives how many rows changed; the
 * others were stale. */
tb_status an_store_samples(PGconn *c, const an_sample *s, size_t n, size_t *written,
                           tb_error *err) TB_WARN_UNUSED;

tb_status an_store_account_exists(PGconn *c, const char *account, bool *exists,
                                  tb_error *err) TB_WARN_UNUSED;

/* Feeds every point of account with from <= ts < to (0 = unbounded) to s, in
 * time order; *first / *last get the exact equity of the first and last
 * point (untouched when there is none). */
tb_status an_store_scan_equity(PGconn *c, const char *account, int64_t from, int64_t to,
                               an_series *s, tb_fixed *first, tb_fixed *last,
                               tb_error *err) TB_WARN_UNUSED;

/* Called for each fill of a scan; a non-OK status stops it with that error. */
typedef tb_status (*an_fill_fn)(void *arg, const an_fill *f, tb_error *err);

/* Feeds every recorded fill of account with ts < to (0 = unbounded), of
 * symbol only when symbol is not NULL or "", to fn in (symbol, ts, fill_id)
 * order. */
tb_status an_store_scan_fills(PGconn *c, const char *account, const char *symbol, int64_t to,
                              an_fill_fn fn, void *arg, tb_error *err) TB_WARN_UNUSED;

/* Points of account with from <= ts < to, oldest first: with from, the first
 * limit from there and next = the start (decimal ns) of the one after them
 * when there is one; without, the newest limit. Each point's drawdown is
 * taken against the account's high-water mark up to it (every earlier
 * point counts, also before from). *out is malloc'd (caller frees). */
tb_status an_store_list_equity(PGconn *c, const char *account, int64_t from, int64_t to,
                               size_t limit, tb_equity_point **out, size_t *n, char next[TB_ID_CAP],
                               tb_error *err) TB_WARN_UNUSED;

#endif
