/* CSV replay input: line-by-line parsing of two formats into ticks.
 *
 *   ticks:  ts,symbol,bid,ask,last,size
 *           ts is RFC 3339 or integer nanoseconds since the epoch; bid, ask
 *           and last are optional (at least one present, each > 0, bid <= ask
 *           when both are given); size is the last trade's quantity, >= 0,
 *           optional.
 *   closes: date,symbol,close
 *           date is YYYY-MM-DD (00:00Z that day) or an RFC 3339 time;
 *           close > 0 becomes bid = ask = last.
 *
 * The first non-blank line may be the header of the format; with
 * MD_CSV_AUTO the header (or, without one, the number of fields of the first
 * row) picks the format. Blank lines and lines starting with '#' are skipped.
 * Fields are not quoted; spaces around a field and a trailing CR are ignored.
 * A malformed row is reported with its line number, counted and skipped;
 * parsing goes on. This file does no I/O: the caller reads the lines. */
#ifndef MD_CSV_H
#define MD_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"

/* Longest accepted line, without its newline. */
#define MD_CSV_MAX_LINE 1024
/* Error messages kept for the summary. */
#define MD_CSV_KEEP_ERRORS 3

typedef enum { MD_CSV_AUTO, MD_CSV_TICKS, MD_CSV_CLOSES } md_csv_format;

/* "ticks" | "closes" | "" (auto). TB_INVALID otherwise. */
tb_status md_csv_format_parse(const char *name, md_csv_format *out) TB_WARN_UNUSED;
const char *md_csv_format_name(md_csv_format f);

typedef struct md_csv_parser {
    md_csv_format format; /* MD_CSV_AUTO until the first non-blank line decides */
    uint64_t line;        /* number of the last line fed, from 1 */
    uint64_t rows;        /* rows turned into ticks */
    uint64_t errors;      /* malformed rows skipped */
    bool seen_content;    /* a non-blank line was fed (header position passed) */
    char kept[MD_CSV_KEEP_ERRORS][160];
} md_csv_parser;

typedef enum {
    MD_CSV_ROW,  /* *out holds a tick (symbol, ts, prices, sizes; no seq/source) */
    MD_CSV_SKIP, /* header, blank line or comment */
    MD_CSV_BAD,  /* malformed: err says "line N: why" */
} md_csv_result;

void md_csv_init(md_csv_parser *p, md_csv_format format);

/* Feeds the next line: len bytes at line, with or without its "\n" / "\r\n".
 * Bytes after a NUL or beyond MD_CSV_MAX_LINE make the row malformed. */
md_csv_result md_csv_feed(md_csv_parser *p, const char *line, size_t len, tb_tick *out,
                          tb_error *err);
/* Counts the next line as malformed because the reader found it longer than
 * MD_CSV_MAX_LINE (it need not keep the bytes). */
md_csv_result md_csv_feed_too_long(md_csv_parser *p, tb_error *err);

/* Summary for people: "0 malformed rows" or "2 malformed rows skipped: line 3:
 * ...; line 9: ..." (first MD_CSV_KEEP_ERRORS). */
void md_csv_summary(const md_csv_parser *p, char *buf, size_t cap);

/* Parses a timestamp field: digits only = nanoseconds since the epoch, else
 * RFC 3339; with date_only_ok also YYYY-MM-DD at 00:00Z. */
tb_status md_csv_parse_ts(const char *s, bool date_only_ok, int64_t *ns) TB_WARN_UNUSED;

/* A replay's selection and renaming (backtests): with symbols (a comma-
 * separated list, "" = all) a row of another symbol is skipped; with prefix
 * the symbol becomes prefix + symbol, so a run's ticks reach only the run's
 * subjects and state. MD_SELECT_TOO_LONG when the new name does not fit a
 * token. */
typedef enum { MD_SELECT_KEEP, MD_SELECT_SKIP, MD_SELECT_TOO_LONG } md_select_result;
md_select_result md_csv_select(tb_tick *t, const char *symbols, const char *prefix);

#endif
