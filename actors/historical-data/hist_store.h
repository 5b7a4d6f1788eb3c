/* PostgreSQL access of historical-data: the bars table and the tick
 * seen-sets (schemas/migrations/0001_init.sql, 0700_historical_data.sql,
 * 0702_hist_seen_blocks.sql).
 *
 * Every function takes a borrowed connection and leaves it outside any
 * transaction. Errors are tb_status values with err filled (bus_pg_exec's
 * mapping: TB_UNAVAILABLE when the connection is gone). */
#ifndef HIST_STORE_H
#define HIST_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "catalogue.h"
#include "hist_bar.h"
#include "hist_batch.h"
#include "hist_csv.h"
#include "hist_fresh.h"

/* Stores a grouped batch (hist_batch_group done) in one transaction of a
 * constant number of round trips: locks and loads the seen-set blocks the
 * batch touches (creating missing ones), runs hist_batch_merge on them, then
 * writes the changed bitmaps and upserts the batch's bars in one statement.
 * The bitmaps and the bars commit together, so a crash can never mark a tick
 * seen without counting it, and a tick seen before changes nothing. The bar
 * upsert is hist_bar_merge in SQL (open from the lowest seq, close from the
 * highest, extremes, sums), so any number of workers and any delivery order
 * give the same bars. Blocks, then bars, are locked in the batch's sorted
 * order, the same in every worker, so concurrent batches cannot deadlock.
 * On return b holds the outcome of every tick (b->nnew counted), and
 * *stored the bars the batch wrote as the upsert left them (with what other
 * workers had committed before), in any order: malloc'd, the caller frees
 * it (NULL when *nstored is 0; nothing on failure). The closed bars of the
 * batch are announced from them without reading them back.
 * fresh (may be NULL) guesses which bars are new rows, written with plain
 * inserts (hist_fresh.h); when a guess was wrong the transaction rolls
 * back and the batch is written again with every bar upserted, and
 * *guessed_wrong says so. The result is the same either way. */
tb_status hist_store_apply_batch(PGconn *c, hist_batch *b, hist_fresh *fresh, tb_bar **stored,
                                 size_t *nstored, bool *guessed_wrong,
                                 tb_error *err) TB_WARN_UNUSED;

/* The columns of a bar row, in the order hist_store_bars_of reads them. */
#define HIST_BAR_COLUMNS                                                                           \
    "symbol, interval, (extract(epoch FROM start) * 1000000)::bigint, open, high, low, "           \
    "close, volume, ticks"

/* Orders tb_bars by (symbol, interval, start), the key of a bar row (qsort,
 * bsearch). */
int hist_bar_key_cmp(const void *a, const void *b);

/* Every row of r (HIST_BAR_COLUMNS) as bars: *out malloc'd (NULL when *nout
 * is 0), nothing allocated on failure. */
tb_status hist_store_bars_of(const PGresult *r, tb_bar **out, size_t *nout,
                             tb_error *err) TB_WARN_UNUSED;

/* The stored bars of keys[0..n) (symbol, interval, start) that exist, in
 * any order. *out is malloc'd (caller frees; NULL when *nout is 0). One
 * round trip. */
tb_status hist_store_get_bars(PGconn *c, const hist_bar_row *keys, size_t n, tb_bar **out,
                              size_t *nout, tb_error *err) TB_WARN_UNUSED;

/* Reads one bar; *found is false when there is none. */
tb_status hist_store_get_bar(PGconn *c, const char *symbol, hist_interval iv, int64_t start_ns,
                             tb_bar *out, bool *found, tb_error *err) TB_WARN_UNUSED;

/* Bars of symbol and interval with from <= start < to (0 = unbounded),
 * oldest first. With a from bound, the first limit bars from there and
 * next = the start (decimal ns) of the bar after them when there is one; with
 * no from, the newest limit bars and next empty. *out is malloc'd (caller
 * frees; may be NULL when *n is 0). */
tb_status hist_store_query(PGconn *c, const char *symbol, hist_interval iv, int64_t from_ns,
                           int64_t to_ns, size_t limit, tb_bar **out, size_t *n,
                           char next[TB_ID_CAP], tb_error *err) TB_WARN_UNUSED;

/* Stores every row of imp in one transaction (an existing bar with the same
 * symbol, interval and start is replaced), or none of them. */
tb_status hist_store_import(PGconn *c, const hist_import *imp, tb_error *err) TB_WARN_UNUSED;

/* Deletes seen-set blocks not written for retention_s; *deleted gets the
 * count. Blocks a batch holds locked are skipped (the next prune takes
 * them), so a prune never waits on or deadlocks with a batch. */
tb_status hist_store_prune(PGconn *c, int64_t retention_s, int64_t *deleted,
                           tb_error *err) TB_WARN_UNUSED;

#endif
