/* PostgreSQL access of historical-data: the bars table and the seen-tick
 * guard (schemas/migrations/0001_init.sql, 0700_historical_data.sql).
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
#include "hist_csv.h"

/* Merges one tick into its five bars in one statement: the tick's row in
 * hist_seen_ticks and the five upserts commit together, so a tick seen before
 * (same symbol, seq, ts) changes nothing and *applied is false. The upsert is
 * hist_bar_merge written in SQL (open from the lowest seq, close from the
 * highest, extremes, sums), so concurrent workers and any delivery order give
 * the same bars. bars[i] is the one-tick bar for interval i. */
tb_status hist_store_apply_tick(PGconn *c, const char *symbol, uint64_t seq, int64_t ts_ns,
                                const hist_bar bars[HIST_NINTERVALS], bool *applied,
                                tb_error *err) TB_WARN_UNUSED;

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

/* Deletes seen-tick rows older than retention_s; *deleted gets the count. */
tb_status hist_store_prune(PGconn *c, int64_t retention_s, int64_t *deleted,
                           tb_error *err) TB_WARN_UNUSED;

#endif
