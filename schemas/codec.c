/* msgpack encoder and decoder for every catalogue event, driven by the
 * descriptor tables of catalogue.c.
 *
 * Decoding treats its input as hostile: a structural pre-scan bounds every
 * declared length and the nesting depth before msgpack-c allocates anything,
 * then the unpacked map is checked key by key against the descriptor. Nothing
 * here touches the network or logs; errors go to the caller's tb_error. */
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"
#include "schemas_internal.h"

/* ---- structural pre-scan ---------------------------------------------- */

static uint64_t read_be(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

/* Reads the header of the value at *pos, skips its payload and reports how
 * many child values follow (map pairs count twice). Container lengths are
 * refused when the remaining input cannot hold one byte per child. */
static tb_status scan_header(const unsigned char *p, size_t len, size_t *pos, uint64_t *children,
                             bool *container, tb_error *err) {
    size_t i = *pos;
    unsigned c = p[i++];
    int len_bytes = 0, mult = 0; /* mult: 0 payload, 1 array, 2 map */
    uint64_t skip = 0, extra = 0;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
    } else if (c <= 0x8f) {
        mult = 2;
        skip = c & 0x0f;
    } else if (c <= 0x9f) {
        mult = 1;
        skip = c & 0x0f;
    } else if (c <= 0xbf) {
        skip = c & 0x1f;
    } else
        switch (c) {
        case 0xc4:
        case 0xd9:
            len_bytes = 1;
            break; /* bin8, str8 */
        case 0xc5:
        case 0xda:
            len_bytes = 2;
            break; /* bin16, str16 */
        case 0xc6:
        case 0xdb:
            len_bytes = 4;
            break; /* bin32, str32 */
        case 0xc7:
            len_bytes = 1;
            extra = 1;
            break; /* ext8 + type */
        case 0xc8:
            len_bytes = 2;
            extra = 1;
            break;
        case 0xc9:
            len_bytes = 4;
            extra = 1;
            break;
        case 0xca:
        case 0xce:
        case 0xd2:
            skip = 4;
            break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
            skip = 8;
            break;
        case 0xcc:
        case 0xd0:
            skip = 1;
            break;
        case 0xcd:
        case 0xd1:
            skip = 2;
            break;
        case 0xd4:
            skip = 2;
            break; /* fixext 1 + type */
        case 0xd5:
            skip = 3;
            break;
        case 0xd6:
            skip = 5;
            break;
        case 0xd7:
            skip = 9;
            break;
        case 0xd8:
            skip = 17;
            break;
        case 0xdc:
            len_bytes = 2;
            mult = 1;
            break;
        case 0xdd:
            len_bytes = 4;
            mult = 1;
            break;
        case 0xde:
            len_bytes = 2;
            mult = 2;
            break;
        case 0xdf:
            len_bytes = 4;
            mult = 2;
            break;
        default:
            return tb_error_set(err, TB_DECODE, "", "invalid msgpack byte 0x%02x", c);
        }
    if (len_bytes > 0) {
        if (len - i < (size_t)len_bytes)
            return tb_error_set(err, TB_DECODE, "", "truncated msgpack input");
        skip = read_be(p + i, len_bytes);
        i += (size_t)len_bytes;
    }
    *container = mult != 0;
    *children = mult != 0 ? skip * (uint64_t)mult : 0;
    uint64_t need = mult != 0 ? *children : skip + extra;
    if (need > len - i) return tb_error_set(err, TB_DECODE, "", "truncated msgpack input");
    *pos = mult != 0 ? i : i + (size_t)need;
    return TB_OK;
}

static tb_status msgpack_scan(const unsigned char *p, size_t len, int max_depth, tb_error *err) {
    uint64_t left[TB_MAX_DEPTH + 1]; /* values still to read per open level */
    int open = 0;
    size_t pos = 0;
    if (max_depth > TB_MAX_DEPTH) max_depth = TB_MAX_DEPTH;
    left[0] = 1;
    for (;;) {
        while (open > 0 && left[open] == 0) open--;
        if (open == 0 && left[0] == 0) break;
        if (pos >= len) return tb_error_set(err, TB_DECODE, "", "truncated msgpack input");
        left[open]--;
        uint64_t children = 0;
        bool container = false;
        tb_status s = scan_header(p, len, &pos, &children, &container, err);
        if (s != TB_OK) return s;
        if (!container) continue;
        /* msgpack-c refuses even an empty container past its stack depth. */
        if (open + 1 > max_depth)
            return tb_error_set(err, TB_DECODE, "", "nesting deeper than %d", max_depth);
        if (children > 0) left[++open] = children;
    }
    if (pos != len) return tb_error_set(err, TB_DECODE, "", "trailing bytes after the message");
    return TB_OK;
}

tb_status tb__msgpack_unpack(const void *buf, size_t len, int max_depth, msgpack_unpacked *result,
                             tb_error *err) {
    if (len > TB_MAX_MSG_BYTES)
        return tb_error_set(err, TB_TOO_LARGE, "", "message larger than %d bytes",
                            TB_MAX_MSG_BYTES);
    if (buf == NULL && len > 0) return tb_error_set(err, TB_INVALID, "", "no buffer");
    tb_status s = msgpack_scan(buf, len, max_depth, err);
    if (s != TB_OK) return s;
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack_next(result, buf, len, &off);
    if (r == MSGPACK_UNPACK_NOMEM_ERROR)
        return tb_error_set(err, TB_NOMEM, "", "out of memory decoding msgpack");
    if (r != MSGPACK_UNPACK_SUCCESS && r != MSGPACK_UNPACK_EXTRA_BYTES)
        return tb_error_set(err, TB_DECODE, "", "malformed msgpack");
    if (off != len) return tb_error_set(err, TB_DECODE, "", "trailing bytes after the message");
    return TB_OK;
}

/* ---- decoding --------------------------------------------------------- */

static int str_cmp(const msgpack_object_str *a, const msgpack_object_str *b) {
    if (a->size != b->size) return a->size < b->size ? -1 : 1;
    return a->size == 0 ? 0 : memcmp(a->ptr, b->ptr, a->size);
}

static int str_ptr_cmp(const void *a, const void *b) {
    return str_cmp(*(const msgpack_object_str *const *)a, *(const msgpack_object_str *const *)b);
}

/* Whether two of the map's unknown keys (fs[i] NULL) are equal. Few
 * (every real event has none) are compared pairwise without allocating;
 * many are sorted. */
static tb_status unknown_keys_repeat(const msgpack_object_map *m, const tb_field_desc *const *fs,
                                     uint32_t unknown, bool *dup, tb_error *err) {
    *dup = false;
    if (unknown <= 32) {
        for (uint32_t i = 1; i < m->size && !*dup; i++)
            for (uint32_t j = 0; j < i && !*dup && fs[i] == NULL; j++)
                *dup =
                    fs[j] == NULL && str_cmp(&m->ptr[i].key.via.str, &m->ptr[j].key.via.str) == 0;
        return TB_OK;
    }
    const msgpack_object_str **keys = malloc(unknown * sizeof *keys);
    if (keys == NULL) return tb_error_set(err, TB_NOMEM, "", NULL);
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->size; i++)
        if (fs[i] == NULL) keys[n++] = &m->ptr[i].key.via.str;
    qsort(keys, n, sizeof *keys, str_ptr_cmp);
    for (uint32_t i = 1; i < n && !*dup; i++) *dup = str_cmp(keys[i - 1], keys[i]) == 0;
    free(keys);
    return TB_OK;
}

/* Every key of a map that is not an event (a list envelope) must be a
 * string and appear once. */
static tb_status check_keys(const msgpack_object_map *m, tb_error *err) {
    for (uint32_t i = 0; i < m->size; i++)
        if (m->ptr[i].key.type != MSGPACK_OBJECT_STR)
            return tb_error_set(err, TB_DECODE, "", "map key %u is not a string", i);
    const tb_field_desc *none[32] = {0};
    const tb_field_desc **fs = m->size <= 32 ? none : calloc(m->size, sizeof *fs);
    if (fs == NULL) return tb_error_set(err, TB_NOMEM, "", NULL);
    bool dup = false;
    tb_status s = unknown_keys_repeat(m, fs, m->size, &dup, err);
    if (fs != none) free(fs);
    if (s == TB_OK && dup) s = tb_error_set(err, TB_DECODE, "", "duplicate map key");
    return s;
}

static tb_status wrong_type(const tb_field_desc *f, const char *want, tb_error *err) {
    return tb_error_set(err, TB_WRONG_TYPE, f->name, "%s: expected %s", f->name, want);
}

static tb_status decode_signed(const tb_field_desc *f, const msgpack_object *v, void *dst,
                               tb_error *err) {
    int64_t x;
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (v->via.u64 > INT64_MAX)
            return tb_error_set(err, TB_OVERFLOW, f->name, "%s: beyond the int64 range", f->name);
        x = (int64_t)v->via.u64;
    } else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        x = v->via.i64;
    } else {
        return wrong_type(f, "an integer", err);
    }
    if (f->type == TB_FT_FIXED && x < TB_FIXED_MIN)
        return tb_error_set(err, TB_OVERFLOW, f->name, "%s: below the fixed-point range", f->name);
    memcpy(dst, &x, sizeof x);
    return TB_OK;
}

static tb_status decode_string(const tb_field_desc *f, const msgpack_object *v, char *dst,
                               tb_error *err) {
    if (v->type != MSGPACK_OBJECT_STR) return wrong_type(f, "a string", err);
    uint32_t n = v->via.str.size;
    if (n > f->size - 1)
        return tb_error_set(err, TB_TOO_LONG, f->name, "%s: longer than %zu bytes", f->name,
                            f->size - 1);
    if (n > 0 && memchr(v->via.str.ptr, '\0', n) != NULL)
        return tb_error_set(err, TB_INVALID, f->name, "%s: contains a NUL byte", f->name);
    if (n > 0) memcpy(dst, v->via.str.ptr, n);
    dst[n] = '\0';
    return TB_OK;
}

static tb_status decode_field(const tb_field_desc *f, const msgpack_object *v, void *ev,
                              tb_error *err) {
    char *dst = (char *)ev + f->offset;
    if (v->type == MSGPACK_OBJECT_NIL && f->nullable) {
        if (f->type == TB_FT_F64) {
            double x = TB_NULL_F64;
            memcpy(dst, &x, sizeof x);
        } else {
            int64_t x = TB_NULL_INT;
            memcpy(dst, &x, sizeof x);
        }
        return TB_OK;
    }
    switch (f->type) {
    case TB_FT_BOOL:
        if (v->type != MSGPACK_OBJECT_BOOLEAN) return wrong_type(f, "a boolean", err);
        *(bool *)dst = v->via.boolean;
        return TB_OK;
    case TB_FT_I64:
    case TB_FT_TS:
    case TB_FT_FIXED:
        return decode_signed(f, v, dst, err);
    case TB_FT_U64:
        if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            return tb_error_set(err, TB_OVERFLOW, f->name, "%s: must not be negative", f->name);
        if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return wrong_type(f, "a non-negative integer", err);
        memcpy(dst, &v->via.u64, sizeof v->via.u64);
        return TB_OK;
    case TB_FT_F64: {
        double x;
        if (v->type == MSGPACK_OBJECT_FLOAT32 || v->type == MSGPACK_OBJECT_FLOAT64)
            x = v->via.f64;
        else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            x = (double)v->via.u64;
        else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            x = (double)v->via.i64;
        else
            return wrong_type(f, "a number", err);
        memcpy(dst, &x, sizeof x);
        return TB_OK;
    }
    default:
        return decode_string(f, v, dst, err);
    }
}

/* Fills ev (already zeroed) from one unpacked map and validates it. Every
 * key must be a string and appear once (checked before any value is
 * read); keys that name no field are ignored. */
static tb_status decode_object(const tb_event_desc *d, const msgpack_object *obj, void *ev,
                               tb_error *err) {
    if (obj->type != MSGPACK_OBJECT_MAP)
        return tb_error_set(err, TB_DECODE, "", "%s: expected a map", d->name);
    const msgpack_object_map *m = &obj->via.map;
    for (uint32_t i = 0; i < m->size; i++)
        if (m->ptr[i].key.type != MSGPACK_OBJECT_STR)
            return tb_error_set(err, TB_DECODE, "", "map key %u is not a string", i);
    /* Each key's field, found from the one after the previous match. */
    const tb_field_desc *on_stack[32];
    const tb_field_desc **fs = m->size <= 32 ? on_stack : malloc(m->size * sizeof *fs);
    if (fs == NULL) return tb_error_set(err, TB_NOMEM, "", NULL);
    uint64_t seen = 0;
    uint32_t unknown = 0;
    size_t hint = 0;
    bool dup = false;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object_str *key = &m->ptr[i].key.via.str;
        fs[i] = tb_field_find_from(d, key->ptr, key->size, hint);
        if (fs[i] == NULL) {
            unknown++;
            continue;
        }
        size_t k = (size_t)(fs[i] - d->fields);
        dup |= (seen & (UINT64_C(1) << k)) != 0; /* a field's key twice */
        seen |= UINT64_C(1) << k;
        hint = k + 1;
    }
    tb_status s = TB_OK;
    if (!dup && unknown >= 2) s = unknown_keys_repeat(m, fs, unknown, &dup, err);
    if (s == TB_OK && dup) s = tb_error_set(err, TB_DECODE, "", "duplicate map key");
    for (uint32_t i = 0; i < m->size && s == TB_OK; i++)
        if (fs[i] != NULL) s = decode_field(fs[i], &m->ptr[i].val, ev, err);
    if (fs != on_stack) free(fs);
    if (s != TB_OK) return s;
    for (size_t i = 0; i < d->nfields; i++)
        if (d->fields[i].required && !(seen & (UINT64_C(1) << i)))
            return tb_error_set(err, TB_MISSING_FIELD, d->fields[i].name, "%s: required",
                                d->fields[i].name);
    return tb_validate(d, ev, err);
}

tb_status tb_decode(const tb_event_desc *d, const void *buf, size_t len, void *ev, tb_error *err) {
    if (d == NULL || ev == NULL) return tb_error_set(err, TB_INVALID, "", "no event");
    tb_error_clear(err);
    memset(ev, 0, d->struct_size);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    tb_status s = tb__msgpack_unpack(buf, len, TB_MAX_DEPTH, &up, err);
    if (s == TB_OK) s = decode_object(d, &up.data, ev, err);
    msgpack_unpacked_destroy(&up);
    if (s != TB_OK) memset(ev, 0, d->struct_size);
    return s;
}

/* ---- encoding --------------------------------------------------------- */

static int pack_cstr(msgpack_packer *pk, const char *s) {
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

static int pack_field(msgpack_packer *pk, const tb_field_desc *f, const void *ev) {
    const char *p = (const char *)ev + f->offset;
    int64_t i;
    uint64_t u;
    double x;
    if (pack_cstr(pk, f->name)) return -1;
    if (tb_field_is_null(f, ev)) return msgpack_pack_nil(pk);
    switch (f->type) {
    case TB_FT_BOOL:
        return *(const bool *)p ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    case TB_FT_I64:
    case TB_FT_TS:
    case TB_FT_FIXED:
        memcpy(&i, p, sizeof i);
        return msgpack_pack_int64(pk, i);
    case TB_FT_U64:
        memcpy(&u, p, sizeof u);
        return msgpack_pack_uint64(pk, u);
    case TB_FT_F64:
        memcpy(&x, p, sizeof x);
        return msgpack_pack_double(pk, x);
    default:
        return pack_cstr(pk, p);
    }
}

/* Validates and packs one event map; the packer's only failure is OOM. */
static tb_status encode_object(const tb_event_desc *d, const void *ev, msgpack_packer *pk,
                               tb_error *err) {
    tb_status s = tb_validate(d, ev, err);
    if (s != TB_OK) return s;
    /* The fields written (required, or optional and set), looked at once. */
    uint64_t written = 0;
    size_t count = 0;
    for (size_t i = 0; i < d->nfields; i++)
        if (d->fields[i].required || !tb__field_is_zero(&d->fields[i], ev)) {
            written |= UINT64_C(1) << i;
            count++;
        }
    if (msgpack_pack_map(pk, count)) return tb_error_set(err, TB_NOMEM, "", NULL);
    for (size_t i = 0; i < d->nfields; i++)
        if ((written & (UINT64_C(1) << i)) && pack_field(pk, &d->fields[i], ev))
            return tb_error_set(err, TB_NOMEM, "", NULL);
    return TB_OK;
}

tb_status tb_encode(const tb_event_desc *d, const void *ev, msgpack_sbuffer *out, tb_error *err) {
    if (d == NULL || ev == NULL || out == NULL)
        return tb_error_set(err, TB_INVALID, "", "no event or buffer");
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    return encode_object(d, ev, &pk, err);
}

/* ---- lists ------------------------------------------------------------ */

/* Rewrites an item's error as "items[i].field" so the client sees which one
 * (cut to fit tb_error.field). */
static tb_status item_error(tb_status s, size_t i, const tb_error *item, tb_error *err) {
    char field[sizeof err->field];
    int n = snprintf(field, sizeof field, "items[%zu]", i);
    size_t used = n > 0 && (size_t)n < sizeof field ? (size_t)n : 0;
    size_t flen = strnlen(item->field, sizeof item->field);
    if (flen > 0 && used + 1 < sizeof field) {
        size_t room = sizeof field - used - 2; /* '.' and NUL */
        field[used++] = '.';
        memcpy(field + used, item->field, flen < room ? flen : room);
        used += flen < room ? flen : room;
    }
    field[used] = '\0';
    return tb_error_set(err, s, field, "items[%zu]: %s", i, item->message);
}

static tb_status check_cursor(const char *s, size_t n, tb_error *err) {
    if (n > TB_ID_CAP - 1)
        return tb_error_set(err, TB_TOO_LONG, "next", "next: longer than %d bytes", TB_ID_CAP - 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return tb_error_set(err, TB_INVALID, "next",
                                "next: only printable ASCII without spaces is allowed");
    return TB_OK;
}

tb_status tb_encode_list(const tb_event_desc *d, const void *items, size_t n, const char *next,
                         msgpack_sbuffer *out, tb_error *err) {
    if (d == NULL || out == NULL || (items == NULL && n > 0))
        return tb_error_set(err, TB_INVALID, "", "no items or buffer");
    size_t next_len = next ? strlen(next) : 0;
    tb_status s = check_cursor(next, next_len, err);
    if (s != TB_OK) return s;
    if (n > UINT32_MAX) return tb_error_set(err, TB_TOO_LARGE, "items", "too many items");
    size_t start = out->size;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, next_len ? 3 : 2) || pack_cstr(&pk, "items") ||
        msgpack_pack_array(&pk, n))
        return tb_error_set(err, TB_NOMEM, "", NULL);
    for (size_t i = 0; i < n; i++) {
        tb_error item;
        tb_error_clear(&item);
        s = encode_object(d, (const char *)items + i * d->struct_size, &pk, &item);
        if (s != TB_OK) return item_error(s, i, &item, err);
        if (out->size - start > TB_MAX_MSG_BYTES) break;
    }
    if (pack_cstr(&pk, "count") || msgpack_pack_uint64(&pk, n) ||
        (next_len && pack_cstr(&pk, "next")) || (next_len && pack_cstr(&pk, next)))
        return tb_error_set(err, TB_NOMEM, "", NULL);
    /* A reply no decoder would accept is an error here, not at the client. */
    if (out->size - start > TB_MAX_MSG_BYTES)
        return tb_error_set(err, TB_TOO_LARGE, "items", "list larger than %d bytes",
                            TB_MAX_MSG_BYTES);
    return TB_OK;
}

static const msgpack_object *map_get(const msgpack_object_map *m, const char *key) {
    size_t n = strlen(key);
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object_str *k = &m->ptr[i].key.via.str;
        if (k->size == n && memcmp(k->ptr, key, n) == 0) return &m->ptr[i].val;
    }
    return NULL;
}

/* Checks the list envelope and returns its items array. */
static tb_status list_envelope(const msgpack_object *top, const msgpack_object_array **arr,
                               const msgpack_object **next, tb_error *err) {
    if (top->type != MSGPACK_OBJECT_MAP)
        return tb_error_set(err, TB_DECODE, "", "list: expected a map");
    tb_status s = check_keys(&top->via.map, err);
    if (s != TB_OK) return s;
    const msgpack_object *items = map_get(&top->via.map, "items");
    const msgpack_object *count = map_get(&top->via.map, "count");
    *next = map_get(&top->via.map, "next");
    if (items == NULL) return tb_error_set(err, TB_MISSING_FIELD, "items", "items: required");
    if (count == NULL) return tb_error_set(err, TB_MISSING_FIELD, "count", "count: required");
    if (items->type != MSGPACK_OBJECT_ARRAY)
        return tb_error_set(err, TB_WRONG_TYPE, "items", "items: expected an array");
    if (count->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return tb_error_set(err, TB_WRONG_TYPE, "count", "count: expected a non-negative integer");
    if (count->via.u64 != items->via.array.size)
        return tb_error_set(err, TB_DECODE, "count", "count: does not match the items");
    if (*next != NULL && (*next)->type != MSGPACK_OBJECT_STR)
        return tb_error_set(err, TB_WRONG_TYPE, "next", "next: expected a string");
    if (*next != NULL) {
        s = check_cursor((*next)->via.str.ptr, (*next)->via.str.size, err);
        if (s != TB_OK) return s;
    }
    *arr = &items->via.array;
    return TB_OK;
}

static tb_status decode_items(const tb_event_desc *d, const msgpack_object_array *arr, char *items,
                              tb_error *err) {
    for (uint32_t i = 0; i < arr->size; i++) {
        tb_error item;
        tb_error_clear(&item);
        tb_status s = decode_object(d, &arr->ptr[i], items + (size_t)i * d->struct_size, &item);
        if (s != TB_OK) return item_error(s, i, &item, err);
    }
    return TB_OK;
}

tb_status tb_decode_list(const tb_event_desc *d, const void *buf, size_t len, void **items,
                         size_t *n, char next_out[TB_ID_CAP], tb_error *err) {
    if (d == NULL || items == NULL || n == NULL)
        return tb_error_set(err, TB_INVALID, "", "no output");
    tb_error_clear(err);
    *items = NULL;
    *n = 0;
    if (next_out) next_out[0] = '\0';
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const msgpack_object_array *arr = NULL;
    const msgpack_object *next = NULL;
    char *out = NULL;
    tb_status s = tb__msgpack_unpack(buf, len, TB_MAX_DEPTH, &up, err);
    if (s == TB_OK) s = list_envelope(&up.data, &arr, &next, err);
    if (s == TB_OK) {
        /* At least one element so success never returns NULL. The pre-scan
         * bounds arr->size by the input length, so this cannot overflow. */
        out = calloc(arr->size ? arr->size : 1, d->struct_size);
        s = out ? decode_items(d, arr, out, err) : tb_error_set(err, TB_NOMEM, "", NULL);
    }
    if (s == TB_OK) {
        *items = out;
        *n = arr->size;
        if (next_out && next) {
            memcpy(next_out, next->via.str.ptr, next->via.str.size);
            next_out[next->via.str.size] = '\0';
        }
    } else {
        free(out);
    }
    msgpack_unpacked_destroy(&up);
    return s;
}
