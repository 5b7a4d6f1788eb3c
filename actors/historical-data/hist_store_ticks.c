/* PostgreSQL side of a batch of ticks (see hist_store.h,
 * hist_store_apply_batch): one transaction of three round trips whatever
 * the batch's size (BEGIN with the lock-and-load of the seen-set blocks, the
 * write of bitmaps and bars, COMMIT). Rows travel as array literals unnested by the server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist_fresh.h"
#include "hist_store.h"
#include "pgarray.h"
#include "store.h"

#define NS_PER_US 1000

/* Creates the blocks that do not exist yet and locks every one (DO UPDATE
 * takes the row lock, waiting for a concurrent batch to commit, and returns
 * the latest committed bitmap). Rows go in the batch's sorted order. */
static const char SQL_LOCK_BLOCKS[] =
    "INSERT INTO hist_seen_blocks AS s (symbol, source, hour, block)"
    " SELECT u.sy, u.so, u.h, u.b"
    "   FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])"
    "        WITH ORDINALITY AS u(sy, so, h, b, n)"
    "  ORDER BY u.n"
    " ON CONFLICT (symbol, source, hour, block) DO UPDATE SET seen_at = now()"
    " RETURNING s.symbol, s.source, s.hour, s.block, encode(s.bits, 'hex')";

/* The changed bitmaps and the bars in one statement (a data-modifying
 * WITH always runs to completion). Bars hist_fresh guessed new are plain
 * inserts (f): an upsert costs about twice as much, and a replay of
 * second-spaced ticks makes a new 1s bar per tick; a guess that was wrong
 * fails the statement on the primary key (hist_store_apply_batch then
 * writes the batch again with every bar upserted). The others are upserts
 * (w) whose SET list is hist_bar_merge: every expression reads the row's
 * old values. It returns the bars it merged into stored rows as it left
 * them (xmax is 0 only on a row this statement inserted); a bar it
 * inserted is the batch's own row. The bars the batch closes are announced
 * from both, where reading them back after the commit cost a join of the
 * whole batch's keys (about a third of the write's own time in the chain
 * benchmark), and returning every row cost PostgreSQL the output of about
 * one row per tick in a replay of second-spaced ticks, most of them new 1s
 * bars, and this service their parsing. */
static const char SQL_WRITE[] =
    "WITH seen AS ("
    "  UPDATE hist_seen_blocks AS s SET bits = decode(u.x, 'hex'), seen_at = now()"
    "    FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[])"
    "         AS u(sy, so, h, b, x)"
    "   WHERE s.symbol = u.sy AND s.source = u.so AND s.hour = u.h AND s.block = u.b)"
    ", u AS (SELECT * FROM unnest($6::text[], $7::text[], $8::bigint[], $9::numeric[],"
    "               $10::numeric[], $11::numeric[], $12::numeric[], $13::numeric[],"
    "               $14::bigint[], $15::bigint[], $16::bigint[], $17::bool[])"
    "        WITH ORDINALITY AS u(sy, iv, us, o, hi, lo, c, v, n, fs, ls, fresh, ord))"
    ", f AS (INSERT INTO bars (symbol, interval, start, open, high, low, close, volume,"
    "                          ticks, first_seq, last_seq)"
    " SELECT u.sy, u.iv, 'epoch'::timestamptz + u.us * interval '1 microsecond',"
    "        u.o, u.hi, u.lo, u.c, u.v, u.n, u.fs, u.ls"
    "   FROM u WHERE u.fresh ORDER BY u.ord)"
    ", w AS (INSERT INTO bars AS b (symbol, interval, start, open, high, low, close, volume,"
    "                              ticks, first_seq, last_seq)"
    " SELECT u.sy, u.iv, 'epoch'::timestamptz + u.us * interval '1 microsecond',"
    "        u.o, u.hi, u.lo, u.c, u.v, u.n, u.fs, u.ls"
    "   FROM u WHERE NOT u.fresh ORDER BY u.ord"
    " ON CONFLICT (symbol, interval, start) DO UPDATE SET"
    "  open = CASE WHEN EXCLUDED.first_seq < b.first_seq OR"
    "                   (EXCLUDED.first_seq = b.first_seq AND EXCLUDED.open < b.open)"
    "              THEN EXCLUDED.open ELSE b.open END,"
    "  first_seq = LEAST(b.first_seq, EXCLUDED.first_seq),"
    "  close = CASE WHEN EXCLUDED.last_seq > b.last_seq OR"
    "                    (EXCLUDED.last_seq = b.last_seq AND EXCLUDED.close > b.close)"
    "               THEN EXCLUDED.close ELSE b.close END,"
    "  last_seq = GREATEST(b.last_seq, EXCLUDED.last_seq),"
    "  high = GREATEST(b.high, EXCLUDED.high),"
    "  low = LEAST(b.low, EXCLUDED.low),"
    "  volume = b.volume + EXCLUDED.volume,"
    "  ticks = b.ticks + EXCLUDED.ticks"
    " RETURNING b.symbol AS sy, b.interval AS iv,"
    "           (extract(epoch FROM b.start) * 1000000)::bigint AS us, b.open, b.high, b.low,"
    "           b.close, b.volume, b.ticks, b.xmax <> 0 AS merged)"
    " SELECT sy, iv, us, open, high, low, close, volume, ticks FROM w WHERE merged";

enum { BLK_SYMBOL, BLK_SOURCE, BLK_HOUR, BLK_BLOCK, BLK_BITS, BLK_NCOLS };
enum {
    BAR_SYMBOL,
    BAR_INTERVAL,
    BAR_START,
    BAR_OPEN,
    BAR_HIGH,
    BAR_LOW,
    BAR_CLOSE,
    BAR_VOLUME,
    BAR_TICKS,
    BAR_FIRST,
    BAR_LAST,
    BAR_FRESH,
    BAR_NCOLS
};

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A stored bitmap (hex, possibly shorter than a block: missing bytes are 0)
 * into bits. */
static tb_status parse_bits(const char *hex, uint8_t bits[HIST_SEEN_BLOCK_BYTES], tb_error *err) {
    size_t n = strlen(hex);
    if (n % 2 != 0 || n > 2 * HIST_SEEN_BLOCK_BYTES)
        return tb_error_set(err, TB_ERR, "bits", "seen-set bitmap of %zu hex digits", n);
    memset(bits, 0, HIST_SEEN_BLOCK_BYTES);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return tb_error_set(err, TB_ERR, "bits", "seen-set bitmap not hex");
        bits[i] = (uint8_t)(hi << 4 | lo);
    }
    return TB_OK;
}

static tb_status lock_blocks(PGconn *c, hist_batch *b, tb_error *err) {
    bus_pgarray col[BLK_BITS];
    for (int k = 0; k < BLK_BITS; k++) bus_pgarray_init(&col[k]);
    for (size_t i = 0; i < b->nblocks; i++) {
        const hist_seen_block *k = &b->blocks[i];
        bus_pgarray_str(&col[BLK_SYMBOL], k->symbol);
        bus_pgarray_str(&col[BLK_SOURCE], k->source);
        bus_pgarray_i64(&col[BLK_HOUR], k->window);
        bus_pgarray_i64(&col[BLK_BLOCK], k->block);
    }
    const char *params[BLK_BITS];
    bool oom = false;
    for (int k = 0; k < BLK_BITS; k++) oom |= (params[k] = bus_pgarray_finish(&col[k])) == NULL;
    PGresult *r = NULL;
    tb_status s = oom ? tb_error_set(err, TB_NOMEM, NULL, "out of memory building a batch")
                      : bus_pg_exec(c, SQL_LOCK_BLOCKS, BLK_BITS, params, &r, err);
    for (int k = 0; k < BLK_BITS; k++) bus_pgarray_close(&col[k]);
    if (s != TB_OK) return s;
    int rows = PQntuples(r);
    if ((size_t)rows != b->nblocks)
        s = tb_error_set(err, TB_ERR, NULL, "%d seen-set blocks locked, %zu asked", rows,
                         b->nblocks);
    for (int row = 0; row < rows && s == TB_OK; row++) {
        int64_t hour = 0, block = 0;
        if ((s = bus_pg_col_i64(r, row, BLK_HOUR, &hour, err)) != TB_OK ||
            (s = bus_pg_col_i64(r, row, BLK_BLOCK, &block, err)) != TB_OK)
            break;
        hist_seen_block *k = hist_batch_find_block(b, PQgetvalue(r, row, BLK_SYMBOL),
                                                   PQgetvalue(r, row, BLK_SOURCE), hour, block);
        if (k == NULL) {
            s = tb_error_set(err, TB_ERR, NULL, "a seen-set block the batch did not ask for");
            break;
        }
        k->dirty = false; /* a second attempt starts from the stored bits too */
        s = parse_bits(PQgetvalue(r, row, BLK_BITS), k->bits, err);
    }
    PQclear(r);
    return s;
}

/* Every bar the write left: the merged rows it returned (sorted here), and
 * the batch's own row for every bar it inserted. */
static tb_status with_inserted(const hist_batch *b, tb_bar *merged, size_t nmerged, tb_bar **stored,
                               size_t *nstored, tb_error *err) {
    if (nmerged > b->nbars)
        return tb_error_set(err, TB_ERR, NULL, "%zu bars merged of %zu written", nmerged, b->nbars);
    tb_bar *all = calloc(b->nbars ? b->nbars : 1, sizeof *all);
    if (all == NULL)
        return tb_error_set(err, TB_NOMEM, NULL, "out of memory for %zu bars", b->nbars);
    if (nmerged > 1) qsort(merged, nmerged, sizeof *merged, hist_bar_key_cmp);
    size_t n = 0;
    for (size_t i = 0; i < b->nbars; i++) {
        const hist_bar_row *r = &b->bars[i];
        tb_bar *bar = &all[n];
        snprintf(bar->symbol, sizeof bar->symbol, "%s", r->symbol);
        snprintf(bar->interval, sizeof bar->interval, "%s", hist_interval_name(r->iv));
        bar->start = r->bar.start;
        const tb_bar *m =
            nmerged ? bsearch(bar, merged, nmerged, sizeof *merged, hist_bar_key_cmp) : NULL;
        if (m != NULL) {
            *bar = *m;
        } else {
            bar->open = r->bar.open;
            bar->high = r->bar.high;
            bar->low = r->bar.low;
            bar->close = r->bar.close;
            bar->volume = r->bar.volume;
            bar->ticks = r->bar.ticks;
        }
        n++;
    }
    *stored = all;
    *nstored = n;
    return TB_OK;
}

static tb_status write_batch(PGconn *c, const hist_batch *b, tb_bar **stored, size_t *nstored,
                             tb_error *err) {
    bus_pgarray col[BLK_NCOLS + BAR_NCOLS];
    for (int k = 0; k < BLK_NCOLS + BAR_NCOLS; k++) bus_pgarray_init(&col[k]);
    for (size_t i = 0; i < b->nblocks; i++) {
        const hist_seen_block *k = &b->blocks[i];
        if (!k->dirty) continue;
        bus_pgarray_str(&col[BLK_SYMBOL], k->symbol);
        bus_pgarray_str(&col[BLK_SOURCE], k->source);
        bus_pgarray_i64(&col[BLK_HOUR], k->window);
        bus_pgarray_i64(&col[BLK_BLOCK], k->block);
        bus_pgarray_hex(&col[BLK_BITS], k->bits, sizeof k->bits);
    }
    bus_pgarray *bar = &col[BLK_NCOLS];
    for (size_t i = 0; i < b->nbars; i++) {
        const hist_bar_row *r = &b->bars[i];
        bus_pgarray_str(&bar[BAR_SYMBOL], r->symbol);
        bus_pgarray_str(&bar[BAR_INTERVAL], hist_interval_name(r->iv));
        bus_pgarray_i64(&bar[BAR_START], r->bar.start / NS_PER_US);
        bus_pgarray_fixed(&bar[BAR_OPEN], r->bar.open);
        bus_pgarray_fixed(&bar[BAR_HIGH], r->bar.high);
        bus_pgarray_fixed(&bar[BAR_LOW], r->bar.low);
        bus_pgarray_fixed(&bar[BAR_CLOSE], r->bar.close);
        bus_pgarray_fixed(&bar[BAR_VOLUME], r->bar.volume);
        bus_pgarray_i64(&bar[BAR_TICKS], (int64_t)r->bar.ticks);
        bus_pgarray_i64(&bar[BAR_FIRST], (int64_t)r->bar.first_seq);
        bus_pgarray_i64(&bar[BAR_LAST], (int64_t)r->bar.last_seq);
        bus_pgarray_str(&bar[BAR_FRESH], r->fresh ? "t" : "f");
    }
    const char *params[BLK_NCOLS + BAR_NCOLS];
    bool oom = false;
    for (int k = 0; k < BLK_NCOLS + BAR_NCOLS; k++)
        oom |= (params[k] = bus_pgarray_finish(&col[k])) == NULL;
    PGresult *r = NULL;
    tb_status s = oom ? tb_error_set(err, TB_NOMEM, NULL, "out of memory building a batch")
                      : bus_pg_exec(c, SQL_WRITE, BLK_NCOLS + BAR_NCOLS, params, &r, err);
    for (int k = 0; k < BLK_NCOLS + BAR_NCOLS; k++) bus_pgarray_close(&col[k]);
    tb_bar *merged = NULL;
    size_t nmerged = 0;
    if (s == TB_OK) s = hist_store_bars_of(r, &merged, &nmerged, err);
    PQclear(r);
    if (s == TB_OK) s = with_inserted(b, merged, nmerged, stored, nstored, err);
    free(merged);
    return s;
}

/* One attempt of hist_store_apply_batch; guess: write the bars fresh
 * guesses new with plain inserts. */
static tb_status apply_once(PGconn *c, hist_batch *b, hist_fresh *fresh, bool guess,
                            tb_bar **stored, size_t *nstored, tb_error *err) {
    *stored = NULL;
    *nstored = 0;
    b->nnew = b->ndup = 0;
    if (b->nticks == 0) return TB_OK;
    /* Bars are derived from ticks that core NATS delivers at most once, and
     * the seen bits commit with the bars they count: a database crash may
     * lose the last instants of batches, bits and bars together, never one
     * without the other. So the commit does not wait for the WAL flush, which
     * would otherwise bound a worker to one batch per disk sync. Three
     * round trips (pipelined): BEGIN, SET and the lock; the write, whose
     * rows are read; COMMIT. */
    tb_status s = bus_pg_pipeline_begin(c, err);
    if (s == TB_OK) s = bus_pg_exec(c, "BEGIN", 0, NULL, NULL, err);
    if (s == TB_OK) s = bus_pg_exec(c, "SET LOCAL synchronous_commit TO off", 0, NULL, NULL, err);
    if (s == TB_OK && (s = lock_blocks(c, b, err)) == TB_OK) {
        s = hist_batch_merge(b);
        if (s == TB_OVERFLOW)
            s = tb_error_set(err, s, "last_size",
                             "a bar's volume would leave the fixed-point range");
        else if (s != TB_OK)
            s = tb_error_set(err, s, NULL, "out of memory merging a batch");
    }
    if (s == TB_OK && b->nnew > 0) {
        hist_fresh_mark(guess ? fresh : NULL, b->bars, b->nbars);
        s = write_batch(c, b, stored, nstored, err);
    }
    if (s == TB_OK) s = bus_pg_exec(c, "COMMIT", 0, NULL, NULL, err);
    tb_status ps = bus_pg_pipeline_end(c, s == TB_OK ? err : &(tb_error){0});
    if (s == TB_OK) s = ps;
    if (s != TB_OK) {
        tb_error ignored = {0};
        /* Nothing of the batch may stay. A failed ROLLBACK means the
         * connection is gone, and the server rolls back then too; the first
         * error is the one to report. */
        tb_status rs = bus_pg_exec(c, "ROLLBACK", 0, NULL, NULL, &ignored);
        (void)rs;
        b->nnew = 0;
        free(*stored);
        *stored = NULL;
        *nstored = 0;
    }
    return s;
}

tb_status hist_store_apply_batch(PGconn *c, hist_batch *b, hist_fresh *fresh, tb_bar **stored,
                                 size_t *nstored, bool *guessed_wrong, tb_error *err) {
    *guessed_wrong = false;
    tb_error first = {0};
    tb_status s = apply_once(c, b, fresh, fresh != NULL, stored, nstored, &first);
    if (s == TB_CONFLICT) {
        /* A bar guessed new was stored already (by another worker): the
         * transaction rolled back whole; the same batch again, upserted. */
        *guessed_wrong = true;
        hist_fresh_forget(fresh, b->bars, b->nbars);
        s = apply_once(c, b, fresh, false, stored, nstored, err);
    } else if (s != TB_OK) {
        *err = first;
    }
    if (s == TB_OK) hist_fresh_stored(fresh, b->bars, b->nbars);
    return s;
}
