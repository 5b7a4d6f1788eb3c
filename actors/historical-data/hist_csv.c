/* CSV bar import parsing (see hist_csv.h): header detection, field
 * splitting with quotes, per-row validation, duplicate detection. No I/O. */
#include "hist_csv.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_FIELDS 32
#define FIELD_CAP  128

enum {
    COL_START,
    COL_DATE,
    COL_SYMBOL,
    COL_INTERVAL,
    COL_OPEN,
    COL_HIGH,
    COL_LOW,
    COL_CLOSE,
    COL_VOLUME,
    NCOLS
};
static const char *const col_names[NCOLS] = {"start", "date", "symbol", "interval", "open",
                                             "high",  "low",  "close",  "volume"};

typedef struct fields {
    size_t n;
    char v[MAX_FIELDS][FIELD_CAP];
} fields;

/* Keeps the error with the lowest line number: rows are checked in order,
 * but duplicates are found after all rows were read. */
static void row_error(hist_import *imp, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void row_error(hist_import *imp, size_t line, const char *fmt, ...) {
    imp->nerrors++;
    if (imp->first_line != 0 && imp->first_line <= line) return;
    imp->first_line = line;
    /* Room for "line <20 digits>: " in front of the message. */
    char msg[sizeof imp->first_error - 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(imp->first_error, sizeof imp->first_error, "line %zu: %s", line, msg);
}

/* Splits one line (without its line end) into trimmed fields. Returns NULL
 * on success or a static description of the problem. */
static const char *split(const char *p, const char *end, fields *f) {
    f->n = 0;
    for (;;) {
        if (f->n == MAX_FIELDS) return "too many fields";
        char *out = f->v[f->n];
        size_t n = 0;
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        if (p < end && *p == '"') {
            p++;
            for (;;) {
                if (p == end) return "unterminated quoted field";
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        p++;
                    } else {
                        p++;
                        break;
                    }
                }
                if (n + 1 >= FIELD_CAP) return "field too long";
                out[n++] = *p++;
            }
            while (p < end && (*p == ' ' || *p == '\t')) p++;
            if (p < end && *p != ',') return "text after a quoted field";
        } else {
            while (p < end && *p != ',') {
                if (*p == '"') return "quote inside an unquoted field";
                if (n + 1 >= FIELD_CAP) return "field too long";
                out[n++] = *p++;
            }
            while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t')) n--;
        }
        out[n] = '\0';
        f->n++;
        if (p == end) return NULL;
        p++; /* the comma */
    }
}

static bool blank(const char *p, const char *end) {
    for (; p < end; p++)
        if (!isspace((unsigned char)*p)) return false;
    return true;
}

int64_t hist_days_from_civil(int64_t y, unsigned m, unsigned d) {
    /* Howard Hinnant's days_from_civil: eras of 400 years, March-based
     * years so the leap day is the last day of the year. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool is_leap(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* "YYYY-MM-DD" -> ns at 00:00 UTC. */
static bool parse_date(const char *s, int64_t *ns) {
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i])) return false;
    int64_t y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1) return false;
    if (d > mdays[m - 1] + (m == 2 && is_leap(y) ? 1u : 0u)) return false;
    /* Nanoseconds since 1970 fit an int64 only from 1677 to 2262 (found by
     * tests/fuzz/fuzz_hist_csv: year 3982 overflowed). */
    int64_t days = hist_days_from_civil(y, m, d), per_day = 86400 * HIST_NS_PER_SEC;
    if (days > INT64_MAX / per_day || days < INT64_MIN / per_day) return false;
    *ns = days * per_day;
    return true;
}

/* A date or an RFC 3339 time. */
static bool parse_time(const char *s, int64_t *ns) {
    return parse_date(s, ns) || tb_ts_parse(s, ns) == TB_OK;
}

static bool valid_token(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= TB_TOKEN_CAP) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') return false;
    return true;
}

/* Parses a price (> 0) or, with allow_zero, a volume (>= 0). */
static const char *parse_amount(const char *s, bool allow_zero, tb_fixed *out) {
    tb_status st = tb_fixed_parse_cstr(s, out);
    if (st == TB_PRECISION) return "more than 8 decimals";
    if (st == TB_OVERFLOW) return "out of range";
    if (st != TB_OK) return "not a decimal number";
    if (allow_zero ? *out < 0 : *out <= 0) return allow_zero ? "negative" : "not positive";
    return NULL;
}

/* Validates one data row into row; false (error recorded) when bad. */
static bool parse_row(hist_import *imp, size_t line, const fields *f, const int col[NCOLS],
                      bool daily, hist_import_row *row) {
    memset(row, 0, sizeof *row);
    row->line = line;
    const char *sym = f->v[col[COL_SYMBOL]];
    if (!valid_token(sym)) {
        row_error(imp, line, "symbol: \"%.63s\" is not 1..63 of [A-Za-z0-9_-]", sym);
        return false;
    }
    snprintf(row->symbol, sizeof row->symbol, "%.63s", sym);
    hist_bar *b = &row->bar;
    const char *why;
    if (daily) {
        row->interval = HIST_1D;
        const char *d = f->v[col[COL_DATE]];
        if (!parse_time(d, &b->start)) {
            row_error(imp, line, "date: \"%.40s\" is not YYYY-MM-DD", d);
            return false;
        }
        if (hist_bucket_start(b->start, HIST_1D) != b->start) {
            row_error(imp, line, "date: \"%.40s\" is not 00:00 UTC", d);
            return false;
        }
        if ((why = parse_amount(f->v[col[COL_CLOSE]], false, &b->close)) != NULL) {
            row_error(imp, line, "close: %s", why);
            return false;
        }
        b->open = b->high = b->low = b->close;
        return true;
    }
    const char *iv = f->v[col[COL_INTERVAL]];
    if (hist_interval_parse(iv, &row->interval) != TB_OK) {
        row_error(imp, line, "interval: \"%.20s\" is not one of 1s|1m|5m|1h|1d", iv);
        return false;
    }
    const char *st = f->v[col[COL_START]];
    if (!parse_time(st, &b->start)) {
        row_error(imp, line, "start: \"%.40s\" is not an RFC 3339 time or YYYY-MM-DD", st);
        return false;
    }
    if (hist_bucket_start(b->start, row->interval) != b->start) {
        row_error(imp, line, "start: \"%.40s\" is not the start of a %s bar", st, iv);
        return false;
    }
    static const struct {
        int col;
        const char *name;
        size_t off;
    } amounts[] = {
        {COL_OPEN, "open", offsetof(hist_bar, open)},
        {COL_HIGH, "high", offsetof(hist_bar, high)},
        {COL_LOW, "low", offsetof(hist_bar, low)},
        {COL_CLOSE, "close", offsetof(hist_bar, close)},
        {COL_VOLUME, "volume", offsetof(hist_bar, volume)},
    };
    for (size_t i = 0; i < sizeof amounts / sizeof amounts[0]; i++) {
        tb_fixed v;
        why = parse_amount(f->v[col[amounts[i].col]], amounts[i].col == COL_VOLUME, &v);
        if (why != NULL) {
            row_error(imp, line, "%s: %s", amounts[i].name, why);
            return false;
        }
        memcpy((char *)b + amounts[i].off, &v, sizeof v);
    }
    if (b->high < b->low) {
        row_error(imp, line, "high is below low");
        return false;
    }
    if (!hist_bar_consistent(b)) {
        row_error(imp, line, "open and close must lie between low and high");
        return false;
    }
    return true;
}

/* Reads the header: which format, which column holds what. */
static bool parse_header(hist_import *imp, const fields *f, int col[NCOLS], bool *daily) {
    for (int c = 0; c < NCOLS; c++) col[c] = -1;
    for (size_t i = 0; i < f->n; i++) {
        for (int c = 0; c < NCOLS; c++) {
            if (strcasecmp(f->v[i], col_names[c]) != 0) continue;
            if (col[c] >= 0) {
                row_error(imp, 1, "header: column %s appears twice", col_names[c]);
                return false;
            }
            col[c] = (int)i;
        }
    }
    static const int full[] = {COL_START, COL_SYMBOL, COL_INTERVAL, COL_OPEN,
                               COL_HIGH,  COL_LOW,    COL_CLOSE,    COL_VOLUME};
    static const int closes[] = {COL_DATE, COL_SYMBOL, COL_CLOSE};
    const int *need;
    size_t nneed;
    if (col[COL_START] >= 0) {
        *daily = false;
        need = full;
        nneed = sizeof full / sizeof full[0];
    } else if (col[COL_DATE] >= 0) {
        *daily = true;
        need = closes;
        nneed = sizeof closes / sizeof closes[0];
    } else {
        row_error(imp, 1,
                  "header: expected start,symbol,interval,open,high,low,close,volume "
                  "or date,symbol,close");
        return false;
    }
    for (size_t i = 0; i < nneed; i++) {
        if (col[need[i]] < 0) {
            row_error(imp, 1, "header: missing column %s", col_names[need[i]]);
            return false;
        }
    }
    return true;
}

static int cmp_rows(const void *a, const void *b) {
    const hist_import_row *x = *(const hist_import_row *const *)a;
    const hist_import_row *y = *(const hist_import_row *const *)b;
    int c = strcmp(x->symbol, y->symbol);
    if (c) return c;
    if (x->interval != y->interval) return x->interval < y->interval ? -1 : 1;
    if (x->bar.start != y->bar.start) return x->bar.start < y->bar.start ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Reports every row whose (symbol, interval, start) an earlier line has. */
static tb_status find_duplicates(hist_import *imp) {
    if (imp->nrows < 2) return TB_OK;
    hist_import_row **idx = malloc(imp->nrows * sizeof *idx);
    if (idx == NULL) return TB_NOMEM;
    for (size_t i = 0; i < imp->nrows; i++) idx[i] = &imp->rows[i];
    qsort(idx, imp->nrows, sizeof *idx, cmp_rows);
    for (size_t i = 1; i < imp->nrows; i++) {
        const hist_import_row *a = idx[i - 1], *b = idx[i];
        if (strcmp(a->symbol, b->symbol) == 0 && a->interval == b->interval &&
            a->bar.start == b->bar.start) {
            char when[40];
            tb_ts_format(b->bar.start, when);
            row_error(imp, b->line, "duplicate %s %s bar at %s (also on line %zu)", b->symbol,
                      hist_interval_name(b->interval), when, a->line);
        }
    }
    free(idx);
    return TB_OK;
}

tb_status hist_csv_parse(const char *text, size_t len, size_t max_rows, hist_import *imp) {
    memset(imp, 0, sizeof *imp);
    fields *f = malloc(sizeof *f);
    if (f == NULL) return TB_NOMEM;
    tb_status rc = TB_OK;
    int col[NCOLS];
    bool daily = false, have_header = false;
    size_t line = 0, cap = 0, header_n = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        if (eol == NULL) eol = end;
        const char *stop = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
        line++;
        const char *row_start = p;
        p = next;
        if (blank(row_start, stop)) continue;
        if (memchr(row_start, '\0', (size_t)(stop - row_start)) != NULL) {
            row_error(imp, line, "NUL byte in the line");
            if (!have_header) break;
            continue;
        }
        const char *why = split(row_start, stop, f);
        if (!have_header) {
            if (why != NULL) {
                row_error(imp, line, "header: %s", why);
                break;
            }
            if (!parse_header(imp, f, col, &daily)) break;
            header_n = f->n;
            have_header = true;
            continue;
        }
        if (why != NULL) {
            row_error(imp, line, "%s", why);
            continue;
        }
        if (imp->nrows + imp->nerrors >= max_rows) {
            row_error(imp, line, "more than %zu rows; split the file", max_rows);
            break;
        }
        /* The header's column count, not the biggest column index: a short
         * row is malformed even if the columns we read are there. */
        if (f->n != header_n) {
            row_error(imp, line, "%zu fields, the header has %zu", f->n, header_n);
            continue;
        }
        if (imp->nrows == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            hist_import_row *nr = realloc(imp->rows, ncap * sizeof *nr);
            if (nr == NULL) {
                rc = TB_NOMEM;
                goto out;
            }
            imp->rows = nr;
            cap = ncap;
        }
        if (parse_row(imp, line, f, col, daily, &imp->rows[imp->nrows])) imp->nrows++;
    }
    if (!have_header && imp->nerrors == 0) row_error(imp, line ? line : 1, "no header line");
    if (have_header && imp->nrows == 0 && imp->nerrors == 0)
        row_error(imp, line + 1, "no data rows");
    if ((rc = find_duplicates(imp)) != TB_OK) goto out;
    rc = imp->nerrors ? TB_INVALID : TB_OK;
out:
    free(f);
    return rc;
}

void hist_import_free(hist_import *imp) {
    if (imp == NULL) return;
    free(imp->rows);
    imp->rows = NULL;
    imp->nrows = 0;
}
