/* JSON views of catalogue events (gateway, tools) and of arbitrary msgpack.
 *
 * FIXED travels as a decimal string and TS as RFC 3339 text, so no value
 * passes through a double on its way out. On the way in, JSON numbers are
 * accepted for FIXED only when they are exact at 8 decimals. This file does
 * not parse JSON text; callers hand in jansson values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"
#include "schemas_internal.h"

/* ---- struct -> JSON --------------------------------------------------- */

static json_t *field_to_json(const tb_field_desc *f, const void *ev) {
    const char *p = (const char *)ev + f->offset;
    char buf[40];
    int64_t i;
    uint64_t u;
    double x;
    if (tb_field_is_null(f, ev)) return json_null();
    switch (f->type) {
    case TB_FT_BOOL:
        return json_boolean(*(const bool *)p);
    case TB_FT_I64:
        memcpy(&i, p, sizeof i);
        return json_integer(i);
    case TB_FT_U64:
        memcpy(&u, p, sizeof u);
        /* jansson integers are signed 64-bit; larger values stay exact as
         * decimal strings, which tb_from_json accepts back. */
        if (u <= INT64_MAX) return json_integer((json_int_t)u);
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)u);
        return json_string(buf);
    case TB_FT_F64:
        memcpy(&x, p, sizeof x);
        return json_real(x);
    case TB_FT_FIXED:
        memcpy(&i, p, sizeof i);
        tb_fixed_format(i, buf);
        return json_string(buf);
    case TB_FT_TS:
        memcpy(&i, p, sizeof i);
        tb_ts_format(i, buf);
        return json_string(buf);
    default:
        return json_stringn(p, strlen(p));
    }
}

tb_status tb_to_json(const tb_event_desc *d, const void *ev, json_t **out) {
    if (d == NULL || ev == NULL || out == NULL) return TB_INVALID;
    tb_status s = tb_validate(d, ev, NULL);
    if (s != TB_OK) return s;
    json_t *obj = json_object();
    if (obj == NULL) return TB_NOMEM;
    for (size_t i = 0; i < d->nfields; i++) {
        const tb_field_desc *f = &d->fields[i];
        if (!f->required && tb__field_is_zero(f, ev)) continue;
        if (json_object_set_new(obj, f->name, field_to_json(f, ev)) != 0) {
            json_decref(obj);
            return TB_NOMEM;
        }
    }
    *out = obj;
    return TB_OK;
}

/* ---- JSON -> struct --------------------------------------------------- */

/* Shortest decimal text that reads back as x, as significant digits and a
 * decimal exponent: x == 0.D1D2...Dn * 10^(exp+1). */
static int shortest_digits(double x, char digits[24], int *exp) {
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, x);
        if (strtod(buf, NULL) == x) break;
    }
    int n = 0;
    const char *p = buf;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[n++] = *p;
    *exp = *p == 'e' ? atoi(p + 1) : 0;
    while (n > 1 && digits[n - 1] == '0') n--;
    digits[n] = '\0';
    return n;
}

/* A JSON real is exact when its shortest text has at most 8 decimals; the
 * text is rewritten without exponent and parsed like any decimal string. */
static tb_status fixed_from_real(double x, tb_fixed *out) {
    if (!isfinite(x)) return TB_INVALID;
    if (x == 0) {
        *out = 0;
        return TB_OK;
    }
    char digits[24], text[64];
    int exp;
    int n = shortest_digits(x, digits, &exp);
    if (n - 1 - exp > TB_FIXED_DECIMALS) return TB_PRECISION;
    if (exp > 18) return TB_OVERFLOW; /* >= 1e19, far past the range */
    size_t len = 0;
    if (x < 0) text[len++] = '-';
    if (exp < 0) {
        text[len++] = '0';
        text[len++] = '.';
        for (int k = 0; k < -exp - 1; k++) text[len++] = '0';
        for (int k = 0; k < n; k++) text[len++] = digits[k];
    } else {
        for (int k = 0; k <= exp; k++) text[len++] = k < n ? digits[k] : '0';
        if (n > exp + 1) text[len++] = '.';
        for (int k = exp + 1; k < n; k++) text[len++] = digits[k];
    }
    return tb_fixed_parse(text, len, out);
}

static tb_status fixed_from_json(const tb_field_desc *f, const json_t *v, tb_fixed *out,
                                 tb_error *err) {
    tb_status s;
    if (json_is_string(v))
        s = tb_fixed_parse(json_string_value(v), json_string_length(v), out);
    else if (json_is_integer(v))
        s = tb_fixed_from_int(json_integer_value(v), out);
    else if (json_is_real(v))
        s = fixed_from_real(json_real_value(v), out);
    else
        return tb_error_set(err, TB_WRONG_TYPE, f->name, "%s: expected a decimal string", f->name);
    if (s == TB_OK) return TB_OK;
    const char *why = s == TB_PRECISION  ? "more than 8 decimals"
                      : s == TB_OVERFLOW ? "out of range"
                                         : "not a decimal number";
    return tb_error_set(err, s, f->name, "%s: %s", f->name, why);
}

static tb_status ts_from_json(const tb_field_desc *f, const json_t *v, int64_t *out,
                              tb_error *err) {
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return TB_OK;
    }
    if (!json_is_string(v))
        return tb_error_set(err, TB_WRONG_TYPE, f->name, "%s: expected an RFC 3339 string",
                            f->name);
    /* A string with an embedded NUL would be cut short by the C parser. */
    if (strlen(json_string_value(v)) != json_string_length(v))
        return tb_error_set(err, TB_INVALID, f->name, "%s: contains a NUL byte", f->name);
    tb_status s = tb_ts_parse(json_string_value(v), out);
    if (s != TB_OK)
        return tb_error_set(err, s, f->name, "%s: not an RFC 3339 time in range", f->name);
    return TB_OK;
}

/* U64 accepts a non-negative integer or, for values past int64, digits. */
static tb_status u64_from_json(const tb_field_desc *f, const json_t *v, uint64_t *out,
                               tb_error *err) {
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0)
            return tb_error_set(err, TB_OVERFLOW, f->name, "%s: must not be negative", f->name);
        *out = (uint64_t)json_integer_value(v);
        return TB_OK;
    }
    if (!json_is_string(v))
        return tb_error_set(err, TB_WRONG_TYPE, f->name, "%s: expected an integer", f->name);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    uint64_t x = 0;
    if (n == 0) return tb_error_set(err, TB_INVALID, f->name, "%s: not an integer", f->name);
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return tb_error_set(err, TB_INVALID, f->name, "%s: not an integer", f->name);
        if (x > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
            return tb_error_set(err, TB_OVERFLOW, f->name, "%s: beyond the uint64 range", f->name);
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    *out = x;
    return TB_OK;
}

static tb_status string_from_json(const tb_field_desc *f, const json_t *v, char *dst,
                                  tb_error *err) {
    if (!json_is_string(v))
        return tb_error_set(err, TB_WRONG_TYPE, f->name, "%s: expected a string", f->name);
    size_t n = json_string_length(v);
    if (n > f->size - 1)
        return tb_error_set(err, TB_TOO_LONG, f->name, "%s: longer than %zu bytes", f->name,
                            f->size - 1);
    if (memchr(json_string_value(v), '\0', n) != NULL)
        return tb_error_set(err, TB_INVALID, f->name, "%s: contains a NUL byte", f->name);
    memcpy(dst, json_string_value(v), n);
    dst[n] = '\0';
    return TB_OK;
}

static tb_status field_from_json(const tb_field_desc *f, const json_t *v, void *ev, tb_error *err) {
    char *dst = (char *)ev + f->offset;
    if (json_is_null(v) && f->nullable) {
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
        if (!json_is_boolean(v))
            return tb_error_set(err, TB_WRONG_TYPE, f->name, "%s: expected a boolean", f->name);
        *(bool *)dst = json_is_true(v);
        return TB_OK;
    case TB_FT_I64: {
        if (!json_is_integer(v))
            return tb_error_set(err, TB_WRONG_TYPE, f->name, "%s: expected an integer", f->name);
        int64_t i = json_integer_value(v);
        memcpy(dst, &i, sizeof i);
        return TB_OK;
    }
    case TB_FT_U64:
        return u64_from_json(f, v, (uint64_t *)(void *)dst, err);
    case TB_FT_F64: {
        if (!json_is_number(v))
            return tb_error_set(err, TB_WRONG_TYPE, f->name, "%s: expected a number", f->name);
        double x = json_number_value(v);
        memcpy(dst, &x, sizeof x);
        return TB_OK;
    }
    case TB_FT_FIXED:
        return fixed_from_json(f, v, (tb_fixed *)(void *)dst, err);
    case TB_FT_TS:
        return ts_from_json(f, v, (int64_t *)(void *)dst, err);
    default:
        return string_from_json(f, v, dst, err);
    }
}

/* The first key of in (in key order, so the answer does not depend on the
 * hash table) that is not a field of d, as TB_UNKNOWN_FIELD naming it and
 * the closest field. Keys are UTF-8 without NUL (jansson's object keys). */
static tb_status unknown_keys(const tb_event_desc *d, const json_t *in, tb_error *err) {
    const char *first = NULL;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)in, k, v) {
        if (tb_field_find(d, k, strlen(k)) == NULL && (first == NULL || strcmp(k, first) < 0))
            first = k;
    }
    if (first == NULL) return TB_OK;
    const tb_field_desc *near = tb_field_closest(d, first, strlen(first));
    /* err->field holds 63 bytes: a longer key is shown cut, at a character
     * boundary so the error stays valid UTF-8. */
    char name[sizeof err->field];
    size_t n = strlen(first);
    if (n >= sizeof name) {
        n = sizeof name - 1;
        while (n > 0 && ((unsigned char)first[n] & 0xC0) == 0x80) n--;
    }
    memcpy(name, first, n);
    name[n] = '\0';
    if (near != NULL)
        return tb_error_set(err, TB_UNKNOWN_FIELD, name,
                            "unknown field \"%s\" (did you mean \"%s\"?)", name, near->name);
    return tb_error_set(err, TB_UNKNOWN_FIELD, name, "unknown field \"%s\"", name);
}

tb_status tb_from_json(const tb_event_desc *d, const json_t *in, void *ev, tb_error *err) {
    if (d == NULL || ev == NULL) return tb_error_set(err, TB_INVALID, "", "no event");
    tb_error_clear(err);
    memset(ev, 0, d->struct_size);
    tb_status s = TB_OK;
    if (!json_is_object(in))
        s = tb_error_set(err, TB_DECODE, "", "%s: expected an object", d->name);
    else
        s = unknown_keys(d, in, err);
    for (size_t i = 0; s == TB_OK && i < d->nfields; i++) {
        const tb_field_desc *f = &d->fields[i];
        const json_t *v = json_object_get(in, f->name);
        if (v != NULL)
            s = field_from_json(f, v, ev, err);
        else if (f->required)
            s = tb_error_set(err, TB_MISSING_FIELD, f->name, "%s: required", f->name);
    }
    if (s == TB_OK) s = tb_validate(d, ev, err);
    if (s != TB_OK) memset(ev, 0, d->struct_size);
    return s;
}

tb_status tb_msgpack_to_json(const tb_event_desc *d, const void *buf, size_t len, json_t **out,
                             tb_error *err) {
    if (d == NULL || out == NULL) return tb_error_set(err, TB_INVALID, "", "no output");
    void *ev = malloc(d->struct_size);
    if (ev == NULL) return tb_error_set(err, TB_NOMEM, "", NULL);
    tb_status s = tb_decode(d, buf, len, ev, err);
    if (s == TB_OK) {
        s = tb_to_json(d, ev, out);
        if (s != TB_OK) tb_error_set(err, s, "", NULL);
    }
    free(ev);
    return s;
}

/* ---- schema-less msgpack -> JSON -------------------------------------- */

static json_t *base64(const char *data, size_t n) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)data;
    char *text = malloc((n + 2) / 3 * 4 + 1);
    if (text == NULL) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        text[o++] = alphabet[(v >> 18) & 63];
        text[o++] = alphabet[(v >> 12) & 63];
        text[o++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        text[o++] = i + 2 < n ? alphabet[v & 63] : '=';
    }
    text[o] = '\0';
    json_t *s = json_stringn(text, o);
    free(text);
    return s;
}

static tb_status raw_value(const msgpack_object *o, json_t **out, tb_error *err);

static tb_status raw_map(const msgpack_object_map *m, json_t **out, tb_error *err) {
    json_t *obj = json_object();
    if (obj == NULL) return tb_error_set(err, TB_NOMEM, "", NULL);
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        tb_status s = TB_OK;
        json_t *v = NULL;
        if (k->type != MSGPACK_OBJECT_STR)
            s = tb_error_set(err, TB_WRONG_TYPE, "", "map key is not a string");
        else if (!tb__utf8_valid(k->via.str.ptr, k->via.str.size))
            s = tb_error_set(err, TB_INVALID, "", "map key is not valid UTF-8");
        else if (json_object_getn(obj, k->via.str.ptr, k->via.str.size) != NULL)
            s = tb_error_set(err, TB_DECODE, "", "duplicate map key");
        else
            s = raw_value(&m->ptr[i].val, &v, err);
        if (s == TB_OK && json_object_setn_new(obj, k->via.str.ptr, k->via.str.size, v) != 0)
            s = tb_error_set(err, TB_NOMEM, "", NULL);
        if (s != TB_OK) {
            json_decref(obj);
            return s;
        }
    }
    *out = obj;
    return TB_OK;
}

static tb_status raw_array(const msgpack_object_array *a, json_t **out, tb_error *err) {
    json_t *arr = json_array();
    if (arr == NULL) return tb_error_set(err, TB_NOMEM, "", NULL);
    for (uint32_t i = 0; i < a->size; i++) {
        json_t *v = NULL;
        tb_status s = raw_value(&a->ptr[i], &v, err);
        if (s == TB_OK && json_array_append_new(arr, v) != 0)
            s = tb_error_set(err, TB_NOMEM, "", NULL);
        if (s != TB_OK) {
            json_decref(arr);
            return s;
        }
    }
    *out = arr;
    return TB_OK;
}

/* Recursion depth is bounded by the pre-scan (TB_MAX_DEPTH). */
static tb_status raw_value(const msgpack_object *o, json_t **out, tb_error *err) {
    char buf[24];
    json_t *v = NULL;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        v = json_null();
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        v = json_boolean(o->via.boolean);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 <= INT64_MAX) {
            v = json_integer((json_int_t)o->via.u64);
        } else { /* past json_int_t: keep it exact as text */
            snprintf(buf, sizeof buf, "%llu", (unsigned long long)o->via.u64);
            v = json_string(buf);
        }
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        v = json_integer(o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64))
            return tb_error_set(err, TB_INVALID, "", "NaN and infinities have no JSON form");
        v = json_real(o->via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        if (!tb__utf8_valid(o->via.str.ptr, o->via.str.size))
            return tb_error_set(err, TB_INVALID, "", "string is not valid UTF-8");
        v = json_stringn(o->via.str.size ? o->via.str.ptr : "", o->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        v = base64(o->via.bin.ptr, o->via.bin.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        return raw_array(&o->via.array, out, err);
    case MSGPACK_OBJECT_MAP:
        return raw_map(&o->via.map, out, err);
    default:
        return tb_error_set(err, TB_WRONG_TYPE, "", "msgpack ext values are not supported");
    }
    if (v == NULL) return tb_error_set(err, TB_NOMEM, "", NULL);
    *out = v;
    return TB_OK;
}

tb_status tb_msgpack_to_json_raw(const void *buf, size_t len, json_t **out, tb_error *err) {
    if (out == NULL) return tb_error_set(err, TB_INVALID, "", "no output");
    tb_error_clear(err);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    tb_status s = tb__msgpack_unpack(buf, len, TB_MAX_DEPTH, &up, err);
    json_t *v = NULL;
    if (s == TB_OK) s = raw_value(&up.data, &v, err);
    msgpack_unpacked_destroy(&up);
    if (s == TB_OK) *out = v;
    return s;
}

/* Recursion is bounded by TB_MAX_DEPTH, like the reverse direction. */
static tb_status pack_json(msgpack_packer *pk, const json_t *v, int depth, tb_error *err) {
    if (depth > TB_MAX_DEPTH) return tb_error_set(err, TB_TOO_LARGE, "", "nested too deeply");
    switch (json_typeof(v)) {
    case JSON_NULL:
        return msgpack_pack_nil(pk) == 0 ? TB_OK : TB_NOMEM;
    case JSON_TRUE:
        return msgpack_pack_true(pk) == 0 ? TB_OK : TB_NOMEM;
    case JSON_FALSE:
        return msgpack_pack_false(pk) == 0 ? TB_OK : TB_NOMEM;
    case JSON_INTEGER:
        return msgpack_pack_int64(pk, json_integer_value(v)) == 0 ? TB_OK : TB_NOMEM;
    case JSON_REAL:
        return msgpack_pack_double(pk, json_real_value(v)) == 0 ? TB_OK : TB_NOMEM;
    case JSON_STRING: {
        size_t n = json_string_length(v);
        if (msgpack_pack_str(pk, n) != 0 || msgpack_pack_str_body(pk, json_string_value(v), n))
            return TB_NOMEM;
        return TB_OK;
    }
    case JSON_ARRAY: {
        if (msgpack_pack_array(pk, json_array_size(v)) != 0) return TB_NOMEM;
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x) {
            tb_status s = pack_json(pk, x, depth + 1, err);
            if (s != TB_OK) return s;
        }
        return TB_OK;
    }
    case JSON_OBJECT: {
        if (msgpack_pack_map(pk, json_object_size(v)) != 0) return TB_NOMEM;
        const char *k;
        const json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            size_t n = strlen(k);
            if (msgpack_pack_str(pk, n) != 0 || msgpack_pack_str_body(pk, k, n) != 0)
                return TB_NOMEM;
            tb_status s = pack_json(pk, x, depth + 1, err);
            if (s != TB_OK) return s;
        }
        return TB_OK;
    }
    }
    return tb_error_set(err, TB_WRONG_TYPE, "", "unknown JSON value");
}

tb_status tb_json_to_msgpack_raw(const json_t *in, msgpack_sbuffer *out, tb_error *err) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    tb_status s = pack_json(&pk, in, 1, err);
    if (s == TB_NOMEM) tb_error_set(err, TB_NOMEM, "", "out of memory");
    return s;
}
