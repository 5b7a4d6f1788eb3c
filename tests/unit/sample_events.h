/* Sample event values generated from the catalogue descriptors, shared by the
 * schema tests (test_codec.c, test_json.c, test_decode_fuzz.c).
 *
 * Because values come from tb_field_desc rather than per-event code, an event
 * added to events.def is covered by every round-trip test without edits. */
#ifndef TB_TEST_SAMPLE_EVENTS_H
#define TB_TEST_SAMPLE_EVENTS_H

#include <stdlib.h>
#include <string.h>

#include "catalogue.h"

typedef enum {
    SAMPLE_ALL,      /* every field non-zero, typical values */
    SAMPLE_REQUIRED, /* only required fields set */
    SAMPLE_EXTREME,  /* every field at its limit: full-length strings, int64 edges */
} sample_kind;

/* Number of '|'-separated values in an enum list. */
static inline size_t sample_enum_count(const char *list) {
    size_t n = 1;
    for (const char *p = list; *p; p++) n += *p == '|';
    return n;
}

/* Copies the k-th value of an enum list into dst. */
static inline void sample_enum_value(const char *list, size_t k, char *dst) {
    const char *p = list;
    for (size_t i = 0; i < k; i++) p = strchr(p, '|') + 1;
    const char *bar = strchr(p, '|');
    size_t n = bar ? (size_t)(bar - p) : strlen(p);
    memcpy(dst, p, n);
    dst[n] = '\0';
}

/* Writes one valid, non-zero value of f's type into ev. variant picks among
 * alternatives (enum values, sign of numbers) so loops can cover them all. */
static inline void sample_field(const tb_field_desc *f, void *ev, sample_kind kind,
                                unsigned variant) {
    char *p = (char *)ev + f->offset;
    bool ext = kind == SAMPLE_EXTREME;
    int64_t i;
    uint64_t u;
    double x;
    switch (f->type) {
    case TB_FT_BOOL:
        *(bool *)p = true;
        break;
    case TB_FT_I64:
        i = ext ? (variant & 1 ? INT64_MAX : INT64_MIN) : -1234567890123 + (int64_t)variant;
        memcpy(p, &i, sizeof i);
        break;
    case TB_FT_U64:
        u = ext ? UINT64_MAX - variant : 42 + variant;
        memcpy(p, &u, sizeof u);
        break;
    case TB_FT_F64:
        x = ext ? -1.7976931348623157e308 : 2.5 + variant;
        memcpy(p, &x, sizeof x);
        break;
    case TB_FT_FIXED:
        i = ext ? (variant & 1 ? TB_FIXED_MAX : TB_FIXED_MIN)
                : (variant & 1 ? 1 : -1) * (INT64_C(1234567890123) + (int64_t)variant);
        memcpy(p, &i, sizeof i);
        break;
    case TB_FT_TS:
        i = ext ? (variant & 1 ? INT64_MAX : INT64_MIN) : INT64_C(1767323045000000001) + variant;
        memcpy(p, &i, sizeof i);
        break;
    case TB_FT_TOKEN:
        if (ext) {
            static const char alpha[] = "ABCXYZabcxyz0189_-";
            for (size_t k = 0; k < f->size - 1; k++)
                p[k] = alpha[(k + variant) % (sizeof alpha - 1)];
            p[f->size - 1] = '\0';
        } else {
            snprintf(p, f->size, "Sym_%u-x", variant);
        }
        break;
    case TB_FT_ID:
        if (ext) {
            for (size_t k = 0; k < f->size - 1; k++) p[k] = (char)(0x21 + (k + variant) % 94);
            p[f->size - 1] = '\0';
        } else {
            snprintf(p, f->size, "id:%u/~!", variant);
        }
        break;
    case TB_FT_ENUM: {
        size_t n = sample_enum_count(f->enum_values);
        sample_enum_value(f->enum_values, ext ? n - 1 : variant % n, p);
        break;
    }
    case TB_FT_TEXT:
        if (ext) { /* 255 two-byte characters and one ASCII byte: exactly 511 */
            for (size_t k = 0; k + 2 < f->size; k += 2) memcpy(p + k, "\xc3\xa9", 2);
            p[f->size - 2] = 'a';
            p[f->size - 1] = '\0';
        } else {
            snprintf(p, f->size, "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x9a\x80 #%u", variant);
        }
        break;
    }
}

/* Fills a whole event; ev must be d->struct_size bytes and is zeroed first so
 * that memcmp after a round trip compares only meaningful bytes. */
static inline void sample_event(const tb_event_desc *d, void *ev, sample_kind kind,
                                unsigned variant) {
    memset(ev, 0, d->struct_size);
    for (size_t i = 0; i < d->nfields; i++)
        if (kind != SAMPLE_REQUIRED || d->fields[i].required)
            sample_field(&d->fields[i], ev, kind, variant);
}

/* True when the struct is all zero bytes (decoders zero it on error). */
static inline bool sample_is_zero(const void *ev, size_t size) {
    const unsigned char *p = ev;
    for (size_t i = 0; i < size; i++)
        if (p[i] != 0) return false;
    return true;
}

#endif
