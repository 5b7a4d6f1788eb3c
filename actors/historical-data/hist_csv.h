/* CSV bar import parsing for api.bars.import: pure, no I/O.
 *
 * Two formats, told apart by the header line (column names are matched
 * case-insensitively, in any order; other columns are ignored):
 *
 *   start,symbol,interval,open,high,low,close,volume   full OHLCV bars
 *   date,symbol,close                                  daily closes -> 1d bars
 *                                                      with open=high=low=close
 *
 * start: RFC 3339 (2024-01-02T09:30:00Z) or a date (2024-01-02 = 00:00 UTC),
 * and must be the start of a bucket of its interval. date: YYYY-MM-DD or an
 * RFC 3339 time at 00:00 UTC. Prices are positive decimals with at most 8
 * fraction digits, volume >= 0, low <= open, close <= high; a
 * (symbol, interval, start) may appear once per file. Fields may be
 * double-quoted ("" escapes a quote). Blank lines are skipped; CR LF and LF
 * line ends both work; line numbers count every line, the header is line 1.
 *
 * Parsing never stops at the first bad row: every row is checked, the rows
 * rejected are counted, and the first error is kept with its line number, so
 * the caller can store all or nothing and say where the first problem is. */
#ifndef HIST_CSV_H
#define HIST_CSV_H

#include <stddef.h>

#include "hist_bar.h"

typedef struct hist_import_row {
    char symbol[TB_TOKEN_CAP];
    hist_interval interval;
    hist_bar bar; /* ticks, first_seq, last_seq are 0 */
    size_t line;
} hist_import_row;

typedef struct hist_import {
    hist_import_row *rows; /* malloc'd; the good rows, in file order */
    size_t nrows;
    size_t nerrors;                     /* rows rejected (header problems count as one) */
    size_t first_line;                  /* line of the first error, 0 when none */
    char first_error[TB_TEXT_CAP - 64]; /* "line 7: high: ..." */
} hist_import;

/* Parses text[0..len) (need not be NUL-terminated). At most max_rows data
 * rows are accepted; more is an error on the first extra row. Returns TB_OK
 * when every row is good (imp->nrows >= 1), TB_INVALID when any row or the
 * header is bad or there are no data rows (imp->nerrors, first_line and
 * first_error say more), TB_NOMEM. The caller frees imp with
 * hist_import_free in every case. */
tb_status hist_csv_parse(const char *text, size_t len, size_t max_rows,
                         hist_import *imp) TB_WARN_UNUSED;
void hist_import_free(hist_import *imp);

/* Days since 1970-01-01 of a proleptic Gregorian date (y, m 1..12, d 1..31;
 * the caller checks the day exists). */
int64_t hist_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
