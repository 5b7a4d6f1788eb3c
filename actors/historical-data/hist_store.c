/* PostgreSQL access of historical-data (see hist_store.h): bar reads,
 * queries, the all-or-nothing import and the prune of the tick seen-sets
 * (the batch of ticks itself is hist_store_ticks.c). Times cross the boundary as microseconds since
 * the epoch (timestamptz's resolution); bar starts are whole seconds, so nothing is lost. */
#include "hist_store.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgarray.h"
#include "store.h"

#define NS_PER_US 1000

#define BAR_COLUMNS HIST_BAR_COLUMNS

/* Row of BAR_COLUMNS -> tb_bar. */
static tb_status row_to_bar(const PGresult *r, int row, tb_bar *b, tb_error *err) {
    memset(b, 0, sizeof *b);
    snprintf(b->symbol, sizeof b->symbol, "%s", PQgetvalue(r, row, 0));
    snprintf(b->interval, sizeof b->interval, "%s", PQgetvalue(r, row, 1));
    int64_t us = 0, ticks = 0; /* set by the parsers on success */
    tb_status s;
    if ((s = bus_pg_col_i64(r, row, 2, &us, err)) != TB_OK) return s;
    if (us > INT64_MAX / NS_PER_US || us < INT64_MIN / NS_PER_US)
        return tb_error_set(err, TB_ERR, "start", "bar start out of range");
    b->start = us * NS_PER_US;
    if ((s = bus_pg_col_fixed(r, row, 3, &b->open, err)) != TB_OK ||
        (s = bus_pg_col_fixed(r, row, 4, &b->high, err)) != TB_OK ||
        (s = bus_pg_col_fixed(r, row, 5, &b->low, err)) != TB_OK ||
        (s = bus_pg_col_fixed(r, row, 6, &b->close, err)) != TB_OK ||
        (s = bus_pg_col_fixed(r, row, 7, &b->volume, err)) != TB_OK ||
        (s = bus_pg_col_i64(r, row, 8, &ticks, err)) != TB_OK)
        return s;
    b->ticks = (uint64_t)ticks;
    return TB_OK;
}

tb_status hist_store_get_bar(PGconn *c, const char *symbol, hist_interval iv, int64_t start_ns,
                             tb_bar *out, bool *found, tb_error *err) {
    char us[24];
    snprintf(us, sizeof us, "%" PRId64, start_ns / NS_PER_US);
    const char *params[] = {symbol, hist_interval_name(iv), us};
    PGresult *r = NULL;
    tb_status s =
        bus_pg_exec(c,
                    "SELECT " BAR_COLUMNS " FROM bars WHERE symbol = $1 AND interval = $2"
                    " AND start = 'epoch'::timestamptz + $3::bigint * interval '1 microsecond'",
                    3, params, &r, err);
    if (s != TB_OK) return s;
    *found = PQntuples(r) == 1;
    if (*found) s = row_to_bar(r, 0, out, err);
    PQclear(r);
    return s;
}

tb_status hist_store_get_bars(PGconn *c, const hist_bar_row *keys, size_t n, tb_bar **out,
                              size_t *nout, tb_error *err) {
    *out = NULL;
    *nout = 0;
    if (n == 0) return TB_OK;
    bus_pgarray col[3];
    for (int k = 0; k < 3; k++) bus_pgarray_init(&col[k]);
    for (size_t i = 0; i < n; i++) {
        bus_pgarray_str(&col[0], keys[i].symbol);
        bus_pgarray_str(&col[1], hist_interval_name(keys[i].iv));
        bus_pgarray_i64(&col[2], keys[i].bar.start / NS_PER_US);
    }
    const char *params[3];
    bool oom = false;
    for (int k = 0; k < 3; k++) oom |= (params[k] = bus_pgarray_finish(&col[k])) == NULL;
    PGresult *r = NULL;
    tb_status s =
        oom ? tb_error_set(err, TB_NOMEM, NULL, "out of memory asking for %zu bars", n)
            : bus_pg_exec(c,
                          "SELECT " BAR_COLUMNS " FROM bars"
                          "  JOIN unnest($1::text[], $2::text[], $3::bigint[]) AS u(sy, iv, us)"
                          "    ON symbol = u.sy AND interval = u.iv"
                          "   AND start = 'epoch'::timestamptz + u.us * interval '1 microsecond'",
                          3, params, &r, err);
    for (int k = 0; k < 3; k++) bus_pgarray_close(&col[k]);
    if (s != TB_OK) return s;
    s = hist_store_bars_of(r, out, nout, err);
    PQclear(r);
    return s;
}

int hist_bar_key_cmp(const void *x, const void *y) {
    const tb_bar *a = x, *b = y;
    int c = strcmp(a->symbol, b->symbol);
    if (c == 0) c = strcmp(a->interval, b->interval);
    if (c == 0) c = (a->start > b->start) - (a->start < b->start);
    return c;
}

tb_status hist_store_bars_of(const PGresult *r, tb_bar **out, size_t *nout, tb_error *err) {
    *out = NULL;
    *nout = 0;
    size_t rows = (size_t)PQntuples(r);
    if (rows == 0) return TB_OK;
    tb_bar *bars = calloc(rows, sizeof *bars);
    if (bars == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory for %zu bars", rows);
    tb_status s = TB_OK;
    for (size_t i = 0; i < rows && s == TB_OK; i++) s = row_to_bar(r, (int)i, &bars[i], err);
    if (s != TB_OK) {
        free(bars);
        return s;
    }
    *out = bars;
    *nout = rows;
    return TB_OK;
}

/* ceil(ns / 1000): start_us >= ceil(x/1000) <=> start_us * 1000 >= x. */
static int64_t ceil_us(int64_t ns) {
    int64_t q = ns / NS_PER_US;
    return (ns % NS_PER_US > 0) ? q + 1 : q;
}

tb_status hist_store_query(PGconn *c, const char *symbol, hist_interval iv, int64_t from_ns,
                           int64_t to_ns, size_t limit, tb_bar **out, size_t *n,
                           char next[TB_ID_CAP], tb_error *err) {
    *out = NULL;
    *n = 0;
    next[0] = '\0';
    char from_s[24], to_s[24], limit_s[24];
    snprintf(from_s, sizeof from_s, "%" PRId64, ceil_us(from_ns));
    snprintf(to_s, sizeof to_s, "%" PRId64, ceil_us(to_ns));
    bool ascending = from_ns != 0;
    /* One extra row tells whether there is a next page. */
    snprintf(limit_s, sizeof limit_s, "%zu", ascending ? limit + 1 : limit);
    const char *params[] = {symbol, hist_interval_name(iv), from_ns ? from_s : NULL,
                            to_ns ? to_s : NULL, limit_s};
    const char *sql = ascending
                          ? "SELECT " BAR_COLUMNS " FROM bars WHERE symbol = $1 AND interval = $2"
                            " AND ($3::bigint IS NULL OR start >= 'epoch'::timestamptz + $3 * "
                            "interval '1 microsecond')"
                            " AND ($4::bigint IS NULL OR start < 'epoch'::timestamptz + $4 * "
                            "interval '1 microsecond')"
                            " ORDER BY start ASC LIMIT $5::bigint"
                          : "SELECT " BAR_COLUMNS " FROM bars WHERE symbol = $1 AND interval = $2"
                            " AND ($3::bigint IS NULL OR start >= 'epoch'::timestamptz + $3 * "
                            "interval '1 microsecond')"
                            " AND ($4::bigint IS NULL OR start < 'epoch'::timestamptz + $4 * "
                            "interval '1 microsecond')"
                            " ORDER BY start DESC LIMIT $5::bigint";
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(c, sql, 5, params, &r, err);
    if (s != TB_OK) return s;
    size_t rows = (size_t)PQntuples(r);
    size_t keep = rows > limit ? limit : rows;
    tb_bar *bars = keep ? calloc(keep, sizeof *bars) : NULL;
    if (keep && bars == NULL) {
        PQclear(r);
        return tb_error_set(err, TB_NOMEM, NULL, "out of memory for %zu bars", keep);
    }
    for (size_t i = 0; i < keep && s == TB_OK; i++) {
        /* Newest-first rows are stored back to front: replies are oldest first. */
        size_t at = ascending ? i : keep - 1 - i;
        s = row_to_bar(r, (int)i, &bars[at], err);
    }
    if (s == TB_OK && ascending && rows > limit) {
        tb_bar after;
        s = row_to_bar(r, (int)limit, &after, err);
        if (s == TB_OK) snprintf(next, TB_ID_CAP, "%" PRId64, after.start);
    }
    PQclear(r);
    if (s != TB_OK) {
        free(bars);
        return s;
    }
    *out = bars;
    *n = keep;
    return TB_OK;
}

/* A growable string for the import's array literals. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = b->cap ? b->cap * 2 : 4096;
        while (ncap < b->len + (size_t)n + 1) ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (np == NULL) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
}

enum {
    IMP_SYMBOL,
    IMP_INTERVAL,
    IMP_START,
    IMP_OPEN,
    IMP_HIGH,
    IMP_LOW,
    IMP_CLOSE,
    IMP_VOLUME,
    IMP_NCOLS
};

/* Rows per INSERT: big enough to amortise round trips, small enough to keep
 * the array literals a few hundred kilobytes. */
#define IMPORT_CHUNK 2000

static const char SQL_IMPORT[] =
    "INSERT INTO bars (symbol, interval, start, open, high, low, close, volume, ticks,"
    "                  first_seq, last_seq)"
    " SELECT u.s, u.i, 'epoch'::timestamptz + u.st * interval '1 microsecond',"
    "        u.o, u.h, u.l, u.c, u.v, 0, 0, 0"
    "   FROM unnest($1::text[], $2::text[], $3::bigint[], $4::numeric[], $5::numeric[],"
    "               $6::numeric[], $7::numeric[], $8::numeric[]) AS u(s, i, st, o, h, l, c, v)"
    " ON CONFLICT (symbol, interval, start) DO UPDATE SET"
    "  open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,"
    "  volume = EXCLUDED.volume, ticks = 0, first_seq = 0, last_seq = 0";

static tb_status import_chunk(PGconn *c, const hist_import_row *rows, size_t n, tb_error *err) {
    sbuf col[IMP_NCOLS] = {0};
    for (int k = 0; k < IMP_NCOLS; k++) sb_printf(&col[k], "{");
    for (size_t i = 0; i < n; i++) {
        const hist_import_row *r = &rows[i];
        const char *sep = i ? "," : "";
        char v[TB_FIXED_STRLEN];
        /* Symbols are tokens and intervals fixed names: no quoting needed. */
        sb_printf(&col[IMP_SYMBOL], "%s%s", sep, r->symbol);
        sb_printf(&col[IMP_INTERVAL], "%s%s", sep, hist_interval_name(r->interval));
        sb_printf(&col[IMP_START], "%s%" PRId64, sep, r->bar.start / NS_PER_US);
        tb_fixed_format(r->bar.open, v);
        sb_printf(&col[IMP_OPEN], "%s%s", sep, v);
        tb_fixed_format(r->bar.high, v);
        sb_printf(&col[IMP_HIGH], "%s%s", sep, v);
        tb_fixed_format(r->bar.low, v);
        sb_printf(&col[IMP_LOW], "%s%s", sep, v);
        tb_fixed_format(r->bar.close, v);
        sb_printf(&col[IMP_CLOSE], "%s%s", sep, v);
        tb_fixed_format(r->bar.volume, v);
        sb_printf(&col[IMP_VOLUME], "%s%s", sep, v);
    }
    bool oom = false;
    const char *params[IMP_NCOLS];
    for (int k = 0; k < IMP_NCOLS; k++) {
        sb_printf(&col[k], "}");
        oom |= col[k].oom;
        params[k] = col[k].p;
    }
    tb_status s = oom ? tb_error_set(err, TB_NOMEM, NULL, "out of memory building the import")
                      : bus_pg_exec(c, SQL_IMPORT, IMP_NCOLS, params, NULL, err);
    for (int k = 0; k < IMP_NCOLS; k++) free(col[k].p);
    return s;
}

tb_status hist_store_import(PGconn *c, const hist_import *imp, tb_error *err) {
    tb_status s = bus_pg_exec(c, "BEGIN", 0, NULL, NULL, err);
    if (s != TB_OK) return s;
    for (size_t at = 0; at < imp->nrows && s == TB_OK; at += IMPORT_CHUNK) {
        size_t n = imp->nrows - at < IMPORT_CHUNK ? imp->nrows - at : IMPORT_CHUNK;
        s = import_chunk(c, imp->rows + at, n, err);
    }
    if (s == TB_OK) s = bus_pg_exec(c, "COMMIT", 0, NULL, NULL, err);
    if (s != TB_OK) {
        tb_error ignored = {0};
        /* Nothing of the import may stay. A failed ROLLBACK means the
         * connection is gone, and the server rolls back then too; the
         * first error is the one to report. */
        tb_status rs = bus_pg_exec(c, "ROLLBACK", 0, NULL, NULL, &ignored);
        (void)rs;
    }
    return s;
}

tb_status hist_store_prune(PGconn *c, int64_t retention_s, int64_t *deleted, tb_error *err) {
    char ret[24];
    snprintf(ret, sizeof ret, "%" PRId64, retention_s);
    const char *params[] = {ret};
    *deleted = 0;
    /* Bounded batches keep each delete's locks and WAL small. */
    for (;;) {
        PGresult *r = NULL;
        tb_status s =
            bus_pg_exec(c,
                        "DELETE FROM hist_seen_blocks WHERE ctid = ANY(ARRAY("
                        "  SELECT ctid FROM hist_seen_blocks"
                        "   WHERE seen_at < now() - $1::bigint * interval '1 second' LIMIT 10000"
                        "     FOR UPDATE SKIP LOCKED))",
                        1, params, &r, err);
        if (s != TB_OK) return s;
        int n = atoi(PQcmdTuples(r));
        PQclear(r);
        *deleted += n;
        if (n < 10000) return TB_OK;
    }
}
