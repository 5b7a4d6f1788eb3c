/* CSV rows -> ticks for replays; see md_csv.h. */
#include "md_csv.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_FIELDS 8

static const char *const ticks_header[] = {"ts", "symbol", "bid", "ask", "last", "size"};
static const char *const closes_header[] = {"date", "symbol", "close"};

tb_status md_csv_format_parse(const char *name, md_csv_format *out) {
    if (name == NULL || name[0] == '\0')
        *out = MD_CSV_AUTO;
    else if (strcmp(name, "ticks") == 0)
        *out = MD_CSV_TICKS;
    else if (strcmp(name, "closes") == 0)
        *out = MD_CSV_CLOSES;
    else
        return TB_INVALID;
    return TB_OK;
}

const char *md_csv_format_name(md_csv_format f) {
    return f == MD_CSV_TICKS ? "ticks" : f == MD_CSV_CLOSES ? "closes" : "auto";
}

void md_csv_init(md_csv_parser *p, md_csv_format format) {
    memset(p, 0, sizeof *p);
    p->format = format;
}

typedef struct field {
    const char *s;
    size_t len;
} field;

/* Marks the row bad: counts it, keeps the first messages, fills err. */
static md_csv_result bad(md_csv_parser *p, tb_error *err, const char *fname, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static md_csv_result bad(md_csv_parser *p, tb_error *err, const char *fname, const char *fmt, ...) {
    char why[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    /* Quoted input may be any bytes; messages must stay printable ASCII so
     * they are valid UTF-8 in md_status.message and in logs. */
    for (char *c = why; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) *c = '?';
    if (p->errors < MD_CSV_KEEP_ERRORS)
        snprintf(p->kept[p->errors], sizeof p->kept[0], "line %llu: %s",
                 (unsigned long long)p->line, why);
    p->errors++;
    tb_error_set(err, TB_INVALID, fname, "line %llu: %s", (unsigned long long)p->line, why);
    return MD_CSV_BAD;
}

static size_t split(const char *s, size_t len, field *f) {
    size_t n = 0;
    const char *b = s, *end = s + len;
    for (;;) {
        const char *c = memchr(b, ',', (size_t)(end - b));
        const char *e = c ? c : end;
        const char *fb = b;
        while (fb < e && (*fb == ' ' || *fb == '\t')) fb++;
        while (e > fb && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if (n < MAX_FIELDS) f[n] = (field){fb, (size_t)(e - fb)};
        n++;
        if (c == NULL) break;
        b = c + 1;
    }
    return n;
}

static bool field_is(const field *f, const char *name) {
    return f->len == strlen(name) && strncasecmp(f->s, name, f->len) == 0;
}

static bool is_header(const field *f, size_t n, const char *const *names, size_t nnames) {
    if (n != nnames) return false;
    for (size_t i = 0; i < n; i++)
        if (!field_is(&f[i], names[i])) return false;
    return true;
}

tb_status md_csv_parse_ts(const char *s, bool date_only_ok, int64_t *ns) {
    size_t len = strlen(s);
    if (len == 0) return TB_INVALID;
    if (strspn(s, "0123456789") == len) {
        if (len > 19) return TB_OVERFLOW;
        uint64_t v = 0;
        for (size_t i = 0; i < len; i++) v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > (uint64_t)INT64_MAX) return TB_OVERFLOW;
        *ns = (int64_t)v;
        return TB_OK;
    }
    if (date_only_ok && len == 10) {
        char full[32];
        snprintf(full, sizeof full, "%sT00:00:00Z", s);
        return tb_ts_parse(full, ns);
    }
    return tb_ts_parse(s, ns);
}

static bool symbol_ok(const field *f) {
    if (f->len == 0 || f->len >= TB_TOKEN_CAP) return false;
    for (size_t i = 0; i < f->len; i++) {
        char c = f->s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* A positive price, or 0 when the field is empty and optional. */
static bool price(const field *f, bool optional, tb_fixed *out) {
    if (f->len == 0) {
        *out = 0;
        return optional;
    }
    return tb_fixed_parse(f->s, f->len, out) == TB_OK && *out > 0;
}

static void copy_field(const field *f, char *buf, size_t cap) {
    size_t n = f->len < cap - 1 ? f->len : cap - 1;
    memcpy(buf, f->s, n);
    buf[n] = '\0';
}

static md_csv_result parse_ts_field(md_csv_parser *p, const field *f, bool date_ok, int64_t *ns,
                                    tb_error *err) {
    char buf[64];
    if (f->len == 0 || f->len >= sizeof buf)
        return bad(p, err, "ts", "%s is missing or too long", date_ok ? "date" : "ts");
    copy_field(f, buf, sizeof buf);
    if (md_csv_parse_ts(buf, date_ok, ns) != TB_OK)
        return bad(p, err, "ts", "bad %s '%s' (%s)", date_ok ? "date" : "ts", buf,
                   date_ok ? "YYYY-MM-DD, RFC 3339 or nanoseconds" : "RFC 3339 or nanoseconds");
    return MD_CSV_ROW;
}

static md_csv_result parse_ticks(md_csv_parser *p, const field *f, tb_tick *t, tb_error *err) {
    if (parse_ts_field(p, &f[0], false, &t->ts, err) != MD_CSV_ROW) return MD_CSV_BAD;
    static const char *const names[] = {"bid", "ask", "last"};
    tb_fixed *dst[] = {&t->bid, &t->ask, &t->last};
    for (int i = 0; i < 3; i++)
        if (!price(&f[2 + i], true, dst[i]))
            return bad(p, err, names[i], "%s '%.*s' is not a positive decimal", names[i],
                       (int)(f[2 + i].len > 40 ? 40 : f[2 + i].len), f[2 + i].s);
    if (t->bid == 0 && t->ask == 0 && t->last == 0)
        return bad(p, err, "last", "no price: bid, ask and last are all empty");
    if (t->bid != 0 && t->ask != 0 && t->bid > t->ask)
        return bad(p, err, "bid", "crossed quote: bid above ask");
    if (f[5].len > 0 &&
        (tb_fixed_parse(f[5].s, f[5].len, &t->last_size) != TB_OK || t->last_size < 0))
        return bad(p, err, "size", "size '%.*s' is not a non-negative decimal",
                   (int)(f[5].len > 40 ? 40 : f[5].len), f[5].s);
    return MD_CSV_ROW;
}

static md_csv_result parse_closes(md_csv_parser *p, const field *f, tb_tick *t, tb_error *err) {
    if (parse_ts_field(p, &f[0], true, &t->ts, err) != MD_CSV_ROW) return MD_CSV_BAD;
    tb_fixed c;
    if (!price(&f[2], false, &c))
        return bad(p, err, "close", "close '%.*s' is not a positive decimal",
                   (int)(f[2].len > 40 ? 40 : f[2].len), f[2].s);
    t->bid = t->ask = t->last = c;
    return MD_CSV_ROW;
}

md_csv_result md_csv_feed_too_long(md_csv_parser *p, tb_error *err) {
    p->line++;
    p->seen_content = true;
    return bad(p, err, NULL, "longer than %d bytes", MD_CSV_MAX_LINE);
}

md_csv_result md_csv_feed(md_csv_parser *p, const char *line, size_t len, tb_tick *out,
                          tb_error *err) {
    p->line++;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
    if (len > MD_CSV_MAX_LINE) {
        p->seen_content = true;
        return bad(p, err, NULL, "longer than %d bytes", MD_CSV_MAX_LINE);
    }
    if (memchr(line, '\0', len) != NULL) {
        p->seen_content = true;
        return bad(p, err, NULL, "contains a NUL byte");
    }
    size_t lead = 0;
    while (lead < len && (line[lead] == ' ' || line[lead] == '\t')) lead++;
    if (lead == len || line[lead] == '#') return MD_CSV_SKIP;

    field f[MAX_FIELDS];
    size_t n = split(line, len, f);
    bool first = !p->seen_content;
    p->seen_content = true;
    if (first) {
        bool th = is_header(f, n, ticks_header, 6), ch = is_header(f, n, closes_header, 3);
        if (th || ch) {
            md_csv_format hf = th ? MD_CSV_TICKS : MD_CSV_CLOSES;
            if (p->format == MD_CSV_AUTO) p->format = hf;
            if (p->format != hf)
                return bad(p, err, "format", "header is for format %s, not %s",
                           md_csv_format_name(hf), md_csv_format_name(p->format));
            return MD_CSV_SKIP;
        }
        if (p->format == MD_CSV_AUTO) p->format = n == 3 ? MD_CSV_CLOSES : MD_CSV_TICKS;
    }
    size_t want = p->format == MD_CSV_CLOSES ? 3 : 6;
    if (n != want)
        return bad(p, err, NULL, "expected %zu fields (%s), got %zu", want,
                   p->format == MD_CSV_CLOSES ? "date,symbol,close" : "ts,symbol,bid,ask,last,size",
                   n);
    tb_tick t;
    memset(&t, 0, sizeof t);
    if (!symbol_ok(&f[1]))
        return bad(p, err, "symbol", "symbol '%.*s' must be 1..63 of A-Z a-z 0-9 _ -",
                   (int)(f[1].len > 40 ? 40 : f[1].len), f[1].s);
    copy_field(&f[1], t.symbol, sizeof t.symbol);
    md_csv_result r =
        p->format == MD_CSV_CLOSES ? parse_closes(p, f, &t, err) : parse_ticks(p, f, &t, err);
    if (r != MD_CSV_ROW) return r;
    p->rows++;
    *out = t;
    return MD_CSV_ROW;
}

void md_csv_summary(const md_csv_parser *p, char *buf, size_t cap) {
    if (cap == 0) return;
    if (p->errors == 0) {
        snprintf(buf, cap, "0 malformed rows");
        return;
    }
    int w = snprintf(buf, cap, "%llu malformed row%s skipped: ", (unsigned long long)p->errors,
                     p->errors == 1 ? "" : "s");
    size_t used = w > 0 ? (size_t)w : 0;
    for (uint64_t i = 0; i < p->errors && i < MD_CSV_KEEP_ERRORS && used < cap; i++) {
        w = snprintf(buf + used, cap - used, "%s%s", i ? "; " : "", p->kept[i]);
        if (w > 0) used += (size_t)w;
    }
}

md_select_result md_csv_select(tb_tick *t, const char *symbols, const char *prefix) {
    if (symbols[0]) {
        size_t n = strlen(t->symbol);
        bool found = false;
        for (const char *p = symbols; *p && !found;) {
            size_t len = strcspn(p, ",");
            found = len == n && strncmp(p, t->symbol, n) == 0;
            p += len + (p[len] == ',');
        }
        if (!found) return MD_SELECT_SKIP;
    }
    if (prefix[0]) {
        char renamed[TB_TOKEN_CAP];
        int len = snprintf(renamed, sizeof renamed, "%s%s", prefix, t->symbol);
        if (len < 0 || (size_t)len >= sizeof renamed) return MD_SELECT_TOO_LONG;
        memcpy(t->symbol, renamed, (size_t)len + 1);
    }
    return MD_SELECT_KEEP;
}
