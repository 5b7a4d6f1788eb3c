/* The event catalogue as C: structs, descriptors and the generic codecs.
 *
 * Everything here is expanded from schemas/events.def. The codecs are driven by
 * descriptor tables (tb_event_desc), so one encoder, one decoder and one JSON
 * converter serve every event. This file does no I/O. */
#ifndef TB_CATALOGUE_H
#define TB_CATALOGUE_H

#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events.def"
#include "money.h"
#include "status.h"

typedef enum {
    TB_FT_BOOL,
    TB_FT_I64,
    TB_FT_U64,
    TB_FT_F64,
    TB_FT_FIXED,
    TB_FT_TS,
    TB_FT_TOKEN,
    TB_FT_ID,
    TB_FT_ENUM,
    TB_FT_TEXT,
} tb_field_type;

/* Capacities of the inline string fields, including the NUL. */
#define TB_TOKEN_CAP 64
#define TB_ID_CAP    64
#define TB_ENUM_CAP  32
#define TB_TEXT_CAP  512

/* C type of each field type. */
#define TB_CTYPE_BOOL(n)  bool n
#define TB_CTYPE_I64(n)   int64_t n
#define TB_CTYPE_U64(n)   uint64_t n
#define TB_CTYPE_F64(n)   double n
#define TB_CTYPE_FIXED(n) tb_fixed n
#define TB_CTYPE_TS(n)    int64_t n
#define TB_CTYPE_TOKEN(n) char n[TB_TOKEN_CAP]
#define TB_CTYPE_ID(n)    char n[TB_ID_CAP]
#define TB_CTYPE_ENUM(n)  char n[TB_ENUM_CAP]
#define TB_CTYPE_TEXT(n)  char n[TB_TEXT_CAP]

/* REQ: always present. OPT: may be absent (zero / empty). NUL: always present,
 * and a number field (F64, FIXED, TS, I64) may hold "no value": TB_NULL_F64
 * (NaN) or TB_NULL_INT (INT64_MIN, outside the fixed-point range), nil in
 * msgpack and null in JSON. Only NUL fields accept nil: a statistic that
 * cannot be computed says so instead of posing as 0. */
#define TB_REQ          true
#define TB_OPT          false
#define TB_NUL          true
#define TB_NULLABLE_REQ false
#define TB_NULLABLE_OPT false
#define TB_NULLABLE_NUL true
#define TB_NULL_F64     NAN
#define TB_NULL_INT     INT64_MIN

typedef struct tb_field_desc {
    const char *name; /* wire key */
    tb_field_type type;
    bool required;
    size_t offset;           /* offsetof in the event struct */
    size_t size;             /* sizeof the member (string capacity) */
    const char *enum_values; /* "a|b|c" for TB_FT_ENUM, "" otherwise */
    const char *doc;
    bool nullable; /* NUL: a number field that may be null (see TB_NUL) */
} tb_field_desc;

typedef struct tb_event_desc {
    const char *name; /* "tick" */
    int version;
    const char *subject; /* pattern for docs, e.g. "md.tick.<symbol>" */
    const char *doc;
    size_t struct_size;
    const tb_field_desc *fields;
    size_t nfields;
} tb_event_desc;

/* One struct per event: `tb_tick`, `tb_fill`, ... */
#define TB_STRUCT_FIELD(E, n, t, r, x, d) TB_CTYPE_##t(n);
#define TB_STRUCT(ident, v, s, d)                                                                  \
    typedef struct tb_##ident {                                                                    \
        TB_FIELDS_##ident(TB_STRUCT_FIELD, ident)                                                  \
    } tb_##ident;
TB_EVENTS(TB_STRUCT)
#undef TB_STRUCT

/* One descriptor per event: `tb_tick_desc`, ... and an id enum. */
#define TB_DESC_DECL(ident, v, s, d) extern const tb_event_desc tb_##ident##_desc;
TB_EVENTS(TB_DESC_DECL)
#undef TB_DESC_DECL

typedef enum {
#define TB_EVENT_ENUM(ident, v, s, d) TB_EV_##ident,
    TB_EVENTS(TB_EVENT_ENUM)
#undef TB_EVENT_ENUM
        TB_EV_COUNT
} tb_event_id;

/* Every descriptor, indexed by tb_event_id. */
extern const tb_event_desc *const tb_event_descs[TB_EV_COUNT];
/* Descriptor by name ("fill"), NULL when unknown. */
const tb_event_desc *tb_event_find(const char *name);
/* Field descriptor by wire key, NULL when unknown. */
const tb_field_desc *tb_field_find(const tb_event_desc *d, const char *name, size_t len);
/* tb_field_find looking at fields[hint] first, then on in order: the
 * encoder writes the fields in their order, so a decoder that passes the
 * index after its previous match finds each key at the first try. */
const tb_field_desc *tb_field_find_from(const tb_event_desc *d, const char *name, size_t len,
                                        size_t hint);

/* Damerau-Levenshtein distance (optimal string alignment: insertions,
 * deletions, substitutions and swaps of two neighbours, each 1) between
 * a[0..alen) and b[0..blen), computed up to bound: anything farther is
 * bound + 1. Names longer than TB_NAME_DISTANCE_MAX are bound + 1 too. */
#define TB_NAME_DISTANCE_MAX 64
size_t tb_name_distance(const char *a, size_t alen, const char *b, size_t blen, size_t bound);
/* The field of d whose name is closest to name[0..len), for "did you mean":
 * at most 1 edit away for names of up to 4 bytes, at most 2 for longer
 * ones, so a suggestion is a likely typo and not any short name. Of equally
 * near fields the one closest in length wins, then the first in catalogue
 * order. NULL when none is that close. */
const tb_field_desc *tb_field_closest(const tb_event_desc *d, const char *name, size_t len);

/* True when field f of ev holds the null value (only NUL fields can). */
bool tb_field_is_null(const tb_field_desc *f, const void *ev);

/* Largest msgpack input any decoder accepts; longer input is TB_TOO_LARGE. */
#define TB_MAX_MSG_BYTES (1024 * 1024)

/* Validates an event struct against its descriptor: required strings are
 * non-empty, strings fit and use their alphabet, enums hold a listed value.
 * Numeric ranges are the domain's business, not the catalogue's. */
tb_status tb_validate(const tb_event_desc *d, const void *ev, tb_error *err) TB_WARN_UNUSED;

/* Encodes ev (validated first) as a msgpack map with string keys, appending
 * to out (caller owns out: msgpack_sbuffer_init / _destroy). On error out may
 * hold a partial encoding; callers discard it. */
tb_status tb_encode(const tb_event_desc *d, const void *ev, msgpack_sbuffer *out,
                    tb_error *err) TB_WARN_UNUSED;

/* Decodes exactly one msgpack map from buf[0..len) into ev (struct_size bytes,
 * zeroed first), ignoring unknown keys, and validates it. Rejects anything but
 * a map at the top, trailing bytes, truncated input, wrong types, duplicate
 * keys, strings longer than their capacity and input over TB_MAX_MSG_BYTES.
 * On error ev is zeroed and err says which field and why. */
tb_status tb_decode(const tb_event_desc *d, const void *buf, size_t len, void *ev,
                    tb_error *err) TB_WARN_UNUSED;

/* A list reply: {"items": [event, ...], "count": n, "next": cursor?}.
 * items is an array of n structs of d->struct_size bytes. next may be NULL. */
tb_status tb_encode_list(const tb_event_desc *d, const void *items, size_t n, const char *next,
                         msgpack_sbuffer *out, tb_error *err) TB_WARN_UNUSED;
/* Decodes a list reply. *items is malloc'd (caller frees with free()), *n its
 * length; next_out (may be NULL) receives the cursor ("" when absent). */
tb_status tb_decode_list(const tb_event_desc *d, const void *buf, size_t len, void **items,
                         size_t *n, char next_out[TB_ID_CAP], tb_error *err) TB_WARN_UNUSED;

/* Event struct -> JSON object: FIXED as decimal strings, TS as RFC 3339 with
 * nanoseconds ("2026-01-02T03:04:05.000000001Z"), OPT zero fields omitted.
 * *out is a new reference (caller json_decref). */
tb_status tb_to_json(const tb_event_desc *d, const void *ev, json_t **out) TB_WARN_UNUSED;
/* JSON object -> event struct, validated. FIXED accepts decimal strings, and
 * JSON integers/reals only when exactly representable (reals are rejected if
 * their shortest text has more than 8 decimals); TS accepts RFC 3339 or an
 * integer of nanoseconds. A key that is not a field of d is TB_UNKNOWN_FIELD
 * with the key as err->field and the closest field name, when there is one,
 * in the message ("unknown field \"qyt\" (did you mean \"qty\"?)"): a
 * misspelt optional field would otherwise be dropped without a word. */
tb_status tb_from_json(const tb_event_desc *d, const json_t *in, void *ev,
                       tb_error *err) TB_WARN_UNUSED;

/* msgpack bytes of event d -> JSON (decode + tb_to_json). */
tb_status tb_msgpack_to_json(const tb_event_desc *d, const void *buf, size_t len, json_t **out,
                             tb_error *err) TB_WARN_UNUSED;
/* Schema-less msgpack -> JSON for tapping unknown payloads: maps with string
 * keys become objects, bin becomes base64 strings, ext is rejected. Depth and
 * size are bounded. */
tb_status tb_msgpack_to_json_raw(const void *buf, size_t len, json_t **out,
                                 tb_error *err) TB_WARN_UNUSED;

/* Schema-less JSON -> msgpack (objects become maps with string keys), for
 * replies assembled from several catalogue types (a backtest report);
 * appended to out. Depth is bounded like tb_msgpack_to_json_raw's. */
tb_status tb_json_to_msgpack_raw(const json_t *in, msgpack_sbuffer *out,
                                 tb_error *err) TB_WARN_UNUSED;

/* Time helpers for TS fields. buf needs 40 bytes. */
size_t tb_ts_format(int64_t ns, char buf[40]);
tb_status tb_ts_parse(const char *s, int64_t *ns_out) TB_WARN_UNUSED;
int64_t tb_now_ns(void);

/* Writes Markdown documentation of every event to f (docs/events.md). */
#include <stdio.h>
int tb_catalogue_write_markdown(FILE *f);

#endif
