/* Descriptor tables expanded from events.def, lookup, struct validation and
 * the Markdown generator behind docs/events.md.
 *
 * Nothing here knows about msgpack or JSON; codec.c and json.c walk these
 * tables. Adding an event to events.def is enough for it to appear in
 * tb_event_descs, the codecs and the documentation. */
#include <math.h>
#include <string.h>

#include "catalogue.h"
#include "schemas_internal.h"

/* Decoders track which fields were seen in a uint64_t bitmask. */
#define TB_MAX_FIELDS 64

#define TB_FIELD_DESC(E, n, t, r, x, d)                                                            \
    {#n, TB_FT_##t, TB_##r, offsetof(tb_##E, n), sizeof(((tb_##E *)0)->n), x, d, TB_NULLABLE_##r},
#define TB_FIELD_TABLE(ident, v, s, d)                                                             \
    static const tb_field_desc ident##_fields[] = {TB_FIELDS_##ident(TB_FIELD_DESC, ident)};       \
    _Static_assert(sizeof ident##_fields / sizeof ident##_fields[0] <= TB_MAX_FIELDS,              \
                   "event " #ident " has more than 64 fields");
TB_EVENTS(TB_FIELD_TABLE)
#undef TB_FIELD_TABLE
#undef TB_FIELD_DESC

#define TB_EVENT_DESC(ident, v, s, d)                                                              \
    const tb_event_desc tb_##ident##_desc = {#ident,                                               \
                                             v,                                                    \
                                             s,                                                    \
                                             d,                                                    \
                                             sizeof(tb_##ident),                                   \
                                             ident##_fields,                                       \
                                             sizeof ident##_fields / sizeof ident##_fields[0]};
TB_EVENTS(TB_EVENT_DESC)
#undef TB_EVENT_DESC

const tb_event_desc *const tb_event_descs[TB_EV_COUNT] = {
#define TB_EVENT_PTR(ident, v, s, d) [TB_EV_##ident] = &tb_##ident##_desc,
    TB_EVENTS(TB_EVENT_PTR)
#undef TB_EVENT_PTR
};

const tb_event_desc *tb_event_find(const char *name) {
    if (name == NULL) return NULL;
    for (size_t i = 0; i < TB_EV_COUNT; i++)
        if (strcmp(tb_event_descs[i]->name, name) == 0) return tb_event_descs[i];
    return NULL;
}

/* Whether field name fname is the wire key name[0..len). The key may hold
 * NUL bytes, so it is never read as a C string; the first byte rules out
 * most fields before anything is measured. */
static bool field_is(const char *fname, const char *name, size_t len) {
    if (len == 0) return fname[0] == '\0';
    return fname[0] == name[0] && strnlen(fname, len + 1) == len && memcmp(fname, name, len) == 0;
}

const tb_field_desc *tb_field_find(const tb_event_desc *d, const char *name, size_t len) {
    return tb_field_find_from(d, name, len, 0);
}

const tb_field_desc *tb_field_find_from(const tb_event_desc *d, const char *name, size_t len,
                                        size_t hint) {
    if (d == NULL || name == NULL || d->nfields == 0) return NULL;
    size_t i = hint < d->nfields ? hint : 0;
    for (size_t k = 0; k < d->nfields; k++) {
        if (field_is(d->fields[i].name, name, len)) return &d->fields[i];
        if (++i == d->nfields) i = 0;
    }
    return NULL;
}

bool tb_field_is_null(const tb_field_desc *f, const void *ev) {
    if (!f->nullable) return false;
    const char *p = (const char *)ev + f->offset;
    if (f->type == TB_FT_F64) {
        double x;
        memcpy(&x, p, sizeof x);
        return isnan(x);
    }
    if (f->type == TB_FT_FIXED || f->type == TB_FT_TS || f->type == TB_FT_I64) {
        int64_t i;
        memcpy(&i, p, sizeof i);
        return i == TB_NULL_INT;
    }
    return false;
}

bool tb__utf8_valid(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        size_t n;
        unsigned min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            min = 0x10000;
        } else
            return false; /* continuation byte, overlong lead or > U+10FFFF */
        if (len - i <= n) return false;
        unsigned cp = c & (0x3fu >> n);
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        /* Overlongs, UTF-16 surrogates and code points past U+10FFFF. */
        if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return false;
        i += n + 1;
    }
    return true;
}

static bool is_string_type(tb_field_type t) {
    return t == TB_FT_TOKEN || t == TB_FT_ID || t == TB_FT_ENUM || t == TB_FT_TEXT;
}

bool tb__field_is_zero(const tb_field_desc *f, const void *ev) {
    const unsigned char *p = (const unsigned char *)ev + f->offset;
    if (is_string_type(f->type)) return p[0] == '\0';
    /* Bytes rather than == 0 so a negative-zero F64 is still written. */
    for (size_t i = 0; i < f->size; i++)
        if (p[i] != 0) return false;
    return true;
}

static bool token_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* True when value is one of the '|'-separated alternatives in list. */
static bool enum_has(const char *list, const char *value, size_t len) {
    const char *p = list;
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && memcmp(p, value, len) == 0) return true;
        if (bar == NULL) return false;
        p = bar + 1;
    }
}

static tb_status validate_string(const tb_field_desc *f, const char *s, tb_error *err) {
    const char *nul = memchr(s, '\0', f->size);
    if (nul == NULL)
        return tb_error_set(err, TB_TOO_LONG, f->name, "%s: longer than %zu bytes", f->name,
                            f->size - 1);
    size_t len = (size_t)(nul - s);
    if (len == 0)
        return f->required ? tb_error_set(err, TB_MISSING_FIELD, f->name, "%s: required", f->name)
                           : TB_OK;
    switch (f->type) {
    case TB_FT_TOKEN:
        for (size_t i = 0; i < len; i++)
            if (!token_char((unsigned char)s[i]))
                return tb_error_set(err, TB_INVALID, f->name,
                                    "%s: only letters, digits, '_' and '-' are allowed", f->name);
        break;
    case TB_FT_ID:
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
                return tb_error_set(err, TB_INVALID, f->name,
                                    "%s: only printable ASCII without spaces is allowed", f->name);
        break;
    case TB_FT_ENUM:
        if (!enum_has(f->enum_values, s, len))
            return tb_error_set(err, TB_INVALID, f->name, "%s: must be one of %s", f->name,
                                f->enum_values);
        break;
    default: /* TB_FT_TEXT */
        if (!tb__utf8_valid(s, len))
            return tb_error_set(err, TB_INVALID, f->name, "%s: not valid UTF-8", f->name);
        break;
    }
    return TB_OK;
}

tb_status tb_validate(const tb_event_desc *d, const void *ev, tb_error *err) {
    if (d == NULL || ev == NULL) return tb_error_set(err, TB_INVALID, "", "no event");
    for (size_t i = 0; i < d->nfields; i++) {
        const tb_field_desc *f = &d->fields[i];
        const char *p = (const char *)ev + f->offset;
        if (tb_field_is_null(f, ev)) continue;
        if (is_string_type(f->type)) {
            tb_status s = validate_string(f, p, err);
            if (s != TB_OK) return s;
        } else if (f->type == TB_FT_FIXED) {
            tb_fixed v;
            memcpy(&v, p, sizeof v);
            if (v < TB_FIXED_MIN)
                return tb_error_set(err, TB_OVERFLOW, f->name, "%s: below the fixed-point range",
                                    f->name);
        } else if (f->type == TB_FT_F64) {
            /* JSON cannot carry NaN or infinities, so neither wire does. */
            double v;
            memcpy(&v, p, sizeof v);
            if (!isfinite(v))
                return tb_error_set(err, TB_INVALID, f->name, "%s: not a finite number", f->name);
        }
    }
    return TB_OK;
}

/* ---- docs/events.md --------------------------------------------------- */

static const char *type_name(tb_field_type t) {
    static const char *const names[] = {"BOOL", "I64",   "U64", "F64",  "FIXED",
                                        "TS",   "TOKEN", "ID",  "ENUM", "TEXT"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* Markdown text from events.def: a bare '|' would end a table cell, and
 * outside code spans "<file>" would be swallowed as an HTML tag. */
static void put_text(FILE *f, const char *s) {
    bool code = false;
    for (; *s; s++) {
        if (*s == '`') code = !code;
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n')
            fputc(' ', f);
        else if (!code && *s == '<')
            fputs("&lt;", f);
        else if (!code && *s == '>')
            fputs("&gt;", f);
        else
            fputc(*s, f);
    }
}

static void put_enum_values(FILE *f, const char *list) {
    const char *p = list;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        fprintf(f, "%s`%.*s`", p == list ? "" : ", ", (int)n, p);
        p = bar ? bar + 1 : p + n;
    }
}

static void write_event(FILE *f, const tb_event_desc *d) {
    fprintf(f, "## %s\n\n", d->name);
    fprintf(f, "Subject: `%s`  \nVersion: %d  \nC type: `tb_%s`\n\n", d->subject, d->version,
            d->name);
    put_text(f, d->doc);
    fputs("\n\n", f);
    fputs("| field | type | required | values | description |\n", f);
    fputs("|---|---|---|---|---|\n", f);
    for (size_t i = 0; i < d->nfields; i++) {
        const tb_field_desc *fd = &d->fields[i];
        fprintf(f, "| `%s` | %s | %s | ", fd->name, type_name(fd->type),
                fd->nullable   ? "yes, may be null"
                : fd->required ? "yes"
                               : "no");
        put_enum_values(f, fd->enum_values);
        fputs(" | ", f);
        put_text(f, fd->doc);
        fputs(" |\n", f);
    }
    fputc('\n', f);
}

int tb_catalogue_write_markdown(FILE *f) {
    fputs("# tradebus event catalogue\n\n"
          "Generated from `schemas/events.def` by `tb-catalogue-doc`; do not edit by hand\n"
          "(regenerate with `cmake --build <build> --target catalogue-docs`).\n\n"
          "Every event travels as a msgpack map with string keys. Optional fields that are\n"
          "zero or empty are omitted, and absent optional fields decode to zero or empty.\n"
          "Unknown keys are ignored; duplicate keys, wrong types and over-long strings are\n"
          "rejected.\n\n"
          "## Field types\n\n"
          "- **FIXED** is a fixed-point decimal: an int64 holding the value times 10^8\n"
          "  (8 decimal places), so `1.5` travels in msgpack as the integer `150000000`.\n"
          "  In JSON it is a decimal string (`\"1.5\"`); JSON numbers are accepted only when\n"
          "  exactly representable with 8 decimals.\n"
          "- **TS** is int64 nanoseconds since the Unix epoch; in JSON an RFC 3339 UTC\n"
          "  string with nanoseconds (`2026-01-02T03:04:05.000000001Z`).\n"
          "- **TOKEN** is `[A-Za-z0-9_-]`, at most 63 bytes (safe in NATS subjects).\n"
          "- **ID** is printable ASCII without spaces, at most 63 bytes.\n"
          "- **ENUM** is one of the listed values.\n"
          "- **TEXT** is UTF-8, at most 511 bytes.\n"
          "- **BOOL**, **I64**, **U64** and **F64** (statistics only) are plain msgpack\n"
          "  booleans, integers and floats.\n"
          "- A field that is required \"yes, may be null\" is always present and holds\n"
          "  either a value or msgpack nil (JSON `null`): a statistic that cannot be\n"
          "  computed is null, never a made-up 0.\n\n"
          "A list reply is `{\"items\": [event, ...], \"count\": n, \"next\": cursor}` with\n"
          "`next` present only when there are more items.\n\n",
          f);
    for (size_t i = 0; i < TB_EV_COUNT; i++) write_event(f, tb_event_descs[i]);
    return ferror(f) ? -1 : 0;
}
