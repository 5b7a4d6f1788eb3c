/* Unit tests for the msgpack codec (schemas/codec.c) and the descriptor
 * tables (schemas/catalogue.c).
 *
 * Every test walks tb_event_descs and fills values from the descriptors
 * (sample_events.h), so each event in events.def, including ones added later,
 * gets the round trip and every rejection case below. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"
#include "sample_events.h"

#define NO_FIELD ((size_t)-1)

/* ---- helpers ---------------------------------------------------------- */

typedef void (*value_fn)(msgpack_packer *pk, const tb_field_desc *f);

static void pack_cstr(msgpack_packer *pk, const char *s) {
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void pack_value(msgpack_packer *pk, const tb_field_desc *f, const void *ev) {
    const char *p = (const char *)ev + f->offset;
    int64_t i;
    uint64_t u;
    double x;
    switch (f->type) {
    case TB_FT_BOOL:
        *(const bool *)p ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        break;
    case TB_FT_U64:
        memcpy(&u, p, 8);
        msgpack_pack_uint64(pk, u);
        break;
    case TB_FT_F64:
        memcpy(&x, p, 8);
        msgpack_pack_double(pk, x);
        break;
    case TB_FT_I64:
    case TB_FT_TS:
    case TB_FT_FIXED:
        memcpy(&i, p, 8);
        msgpack_pack_int64(pk, i);
        break;
    default:
        pack_cstr(pk, p);
        break;
    }
}

/* Builds an event map by hand: the fields tb_encode would write, minus
 * `skip`, with field `replace` written by fn, then `extra` more entries by
 * extra_fn (which packs key and value). */
static void build(const tb_event_desc *d, const void *ev, size_t skip, size_t replace, value_fn fn,
                  int extra, void (*extra_fn)(msgpack_packer *, int), msgpack_sbuffer *out) {
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    size_t n = 0;
    for (size_t i = 0; i < d->nfields; i++) {
        const tb_field_desc *f = &d->fields[i];
        if (i == skip) continue;
        const char *p = (const char *)ev + f->offset;
        bool zero = f->type >= TB_FT_TOKEN ? p[0] == '\0' : sample_is_zero(p, f->size);
        if (!f->required && zero && i != replace) continue;
        pack_cstr(&pk, f->name);
        if (i == replace)
            fn(&pk, f);
        else
            pack_value(&pk, f, ev);
        n++;
    }
    for (int k = 0; k < extra; k++) extra_fn(&pk, k);
    msgpack_sbuffer_init(out);
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n + (size_t)extra);
    msgpack_sbuffer_write(out, body.data, body.size);
    msgpack_sbuffer_destroy(&body);
}

static void *new_event(const tb_event_desc *d) {
    return calloc(1, d->struct_size);
}

/* Decodes and checks the status, the error's field and that ev was zeroed. */
static void expect_decode(const tb_event_desc *d, const void *buf, size_t len, tb_status want,
                          const char *field) {
    void *ev = new_event(d);
    tb_error err;
    tb_status s = tb_decode(d, buf, len, ev, &err);
    ck_assert_msg(s == want, "%s: got %s (%s), want %s", d->name, tb_status_code(s),
                  s ? err.message : "", tb_status_code(want));
    if (want != TB_OK) {
        ck_assert_int_eq(err.status, want);
        ck_assert_msg(sample_is_zero(ev, d->struct_size), "%s: output not zeroed", d->name);
        if (field) ck_assert_str_eq(err.field, field);
    }
    free(ev);
}

static void encode_ok(const tb_event_desc *d, const void *ev, msgpack_sbuffer *sb) {
    tb_error err;
    msgpack_sbuffer_init(sb);
    tb_status s = tb_encode(d, ev, sb, &err);
    ck_assert_msg(s == TB_OK, "encode %s: %s", d->name, s ? err.message : "");
}

static void round_trip(const tb_event_desc *d, sample_kind kind, unsigned variant) {
    void *in = new_event(d), *out = new_event(d);
    sample_event(d, in, kind, variant);
    msgpack_sbuffer sb;
    encode_ok(d, in, &sb);
    tb_error err;
    tb_status s = tb_decode(d, sb.data, sb.size, out, &err);
    ck_assert_msg(s == TB_OK, "decode %s kind %d: %s", d->name, kind, s ? err.message : "");
    ck_assert_msg(memcmp(in, out, d->struct_size) == 0, "%s kind %d differs", d->name, kind);
    msgpack_sbuffer_destroy(&sb);
    free(in);
    free(out);
}

/* ---- round trips ------------------------------------------------------ */

START_TEST(test_round_trip_every_event) {
    for (size_t e = 0; e < TB_EV_COUNT; e++) {
        const tb_event_desc *d = tb_event_descs[e];
        /* Enough variants to use every value of every enum at least once. */
        for (unsigned v = 0; v < 8; v++) {
            round_trip(d, SAMPLE_ALL, v);
            round_trip(d, SAMPLE_REQUIRED, v);
            round_trip(d, SAMPLE_EXTREME, v);
        }
    }
}
END_TEST

static size_t map_size(const msgpack_sbuffer *sb) {
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    ck_assert_int_eq(msgpack_unpack_next(&up, sb->data, sb->size, NULL), MSGPACK_UNPACK_SUCCESS);
    ck_assert_int_eq(up.data.type, MSGPACK_OBJECT_MAP);
    size_t n = up.data.via.map.size;
    msgpack_unpacked_destroy(&up);
    return n;
}

START_TEST(test_optional_zero_not_written) {
    for (size_t e = 0; e < TB_EV_COUNT; e++) {
        const tb_event_desc *d = tb_event_descs[e];
        void *ev = new_event(d);
        sample_event(d, ev, SAMPLE_REQUIRED, 0);
        msgpack_sbuffer sb;
        encode_ok(d, ev, &sb);
        size_t required = 0;
        for (size_t i = 0; i < d->nfields; i++) required += d->fields[i].required;
        ck_assert_uint_eq(map_size(&sb), required);
        msgpack_sbuffer_destroy(&sb);
        sample_event(d, ev, SAMPLE_ALL, 0);
        encode_ok(d, ev, &sb);
        ck_assert_uint_eq(map_size(&sb), d->nfields);
        msgpack_sbuffer_destroy(&sb);
        free(ev);
    }
}
END_TEST

/* ---- rejections, per field ------------------------------------------- */

START_TEST(test_truncated_prefixes) {
    for (size_t e = 0; e < TB_EV_COUNT; e++) {
        const tb_event_desc *d = tb_event_descs[e];
        void *ev = new_event(d);
        for (int kind = SAMPLE_ALL; kind <= SAMPLE_EXTREME; kind++) {
            sample_event(d, ev, (sample_kind)kind, 1);
            msgpack_sbuffer sb;
            encode_ok(d, ev, &sb);
            /* An exact-size copy so ASan sees any read past the prefix. */
            for (size_t len = 0; len < sb.size; len++) {
                char *prefix = malloc(len ? len : 1);
                memcpy(prefix, sb.data, len);
                expect_decode(d, prefix, len, TB_DECODE, NULL);
                free(prefix);
            }
            msgpack_sbuffer_destroy(&sb);
        }
        free(ev);
    }
}
END_TEST

static void wrong_a(msgpack_packer *pk, const tb_field_desc *f) {
    switch (f->type) {
    case TB_FT_BOOL:
        msgpack_pack_int(pk, 1);
        break;
    case TB_FT_F64:
        msgpack_pack_true(pk);
        break;
    case TB_FT_I64:
    case TB_FT_U64:
    case TB_FT_TS:
    case TB_FT_FIXED:
        pack_cstr(pk, "1");
        break;
    default:
        msgpack_pack_int(pk, 7);
        break;
    }
}

static void wrong_b(msgpack_packer *pk, const tb_field_desc *f) {
    switch (f->type) {
    case TB_FT_I64:
    case TB_FT_U64:
    case TB_FT_TS:
    case TB_FT_FIXED:
        msgpack_pack_double(pk, 1.0);
        break;
    case TB_FT_BOOL:
    case TB_FT_F64:
        /* nil is a value for a NUL field (test_nil_only_for_nullable). */
        if (f->nullable)
            pack_cstr(pk, "x");
        else
            msgpack_pack_nil(pk);
        break;
    default:
        msgpack_pack_bin(pk, 1);
        msgpack_pack_bin_body(pk, "a", 1);
        break;
    }
}

static void wrong_c(msgpack_packer *pk, const tb_field_desc *f) {
    (void)f;
    msgpack_pack_array(pk, 1);
    msgpack_pack_int(pk, 1);
}

START_TEST(test_wrong_type_each_field) {
    value_fn fns[] = {wrong_a, wrong_b, wrong_c};
    for (size_t e = 0; e < TB_EV_COUNT; e++) {
        const tb_event_desc *d = tb_event_descs[e];
        void *ev = new_event(d);
        sample_event(d, ev, SAMPLE_ALL, 0);
        for (size_t i = 0; i < d->nfields; i++)
            for (size_t k = 0; k < 3; k++) {
                msgpack_sbuffer sb;
                build(d, ev, NO_FIELD, i, fns[k], 0, NULL, &sb);
                expect_decode(d, sb.data, sb.size, TB_WRONG_TYPE, d->fields[i].name);
                msgpack_sbuffer_destroy(&sb);
            }
        free(ev);
    }
}
END_TEST

static void pack_nil(msgpack_packer *pk, const tb_field_desc *f) {
    (void)f;
    msgpack_pack_nil(pk);
}

/* nil decodes to the null value of a NUL field and is a wrong type for
 * every other field; a null value encodes back to nil. */
START_TEST(test_nil_only_for_nullable) {
    size_t nullable = 0;
    for (size_t e = 0; e < TB_EV_COUNT; e++) {
        const tb_event_desc *d = tb_event_descs[e];
        void *ev = new_event(d), *out = new_event(d);
        sample_event(d, ev, SAMPLE_ALL, 0);
        for (size_t i = 0; i < d->nfields; i++) {
            const tb_field_desc *f = &d->fields[i];
            msgpack_sbuffer sb;
            build(d, ev, NO_FIELD, i, pack_nil, 0, NULL, &sb);
            if (!f->nullable) {
                expect_decode(d, sb.data, sb.size, TB_WRONG_TYPE, f->name);
                msgpack_sbuffer_destroy(&sb);
                continue;
            }
            nullable++;
            tb_error err;
            ck_assert_int_eq(tb_decode(d, sb.data, sb.size, out, &err), TB_OK);
            ck_assert_msg(tb_field_is_null(f, out), "%s.%s not null", d->name, f->name);
            msgpack_sbuffer_destroy(&sb);
            encode_ok(d, out, &sb);
            void *again = new_event(d);
            ck_assert_int_eq(tb_decode(d, sb.data, sb.size, again, &err), TB_OK);
            ck_assert_mem_eq(out, again, d->struct_size);
            free(again);
            msgpack_sbuffer_destroy(&sb);
        }
        free(ev);
        free(out);
    }
    ck_assert_uint_gt(nullable, 0);
}
END_TEST

START_TEST(test_missing_each_required) {
    for (size_t e = 0; e < TB_EV_COUNT; e++) {
        const tb_event_desc *d = tb_event_descs[e];
        void *ev = new_event(d);
        sample_event(d, ev, SAMPLE_ALL, 0);
        for (size_t i = 0; i < d->nfields; i++) {
            msgpack_sbuffer sb;
            build(d, ev, i, NO_FIELD, NULL, 0, NULL, &sb);
            if (d->fields[i].required)
                expect_decode(d, sb.data, sb.size, TB_MISSING_FIELD, d->fields[i].name);
            else
                expect_decode(d, sb.data, sb.size, TB_OK, NULL);
            msgpack_sbuffer_destroy(&sb);
        }
        free(ev);
    }
}
END_TEST

static const char *g_str; /* value for pack_g_str */
static size_t g_len;
static void pack_g_str(msgpack_packer *pk, const tb_field_desc *f) {
    (void)f;
    msgpack_pack_str(pk, g_len);
    msgpack_pack_str_body(pk, g_str, g_len);
}

/* Replaces field i (of event d, sample values) by the string s[0..len). */
static void expect_string(const tb_event_desc *d, size_t i, const char *s, size_t len,
                          tb_status want) {
    void *ev = new_event(d);
    sample_event(d, ev, SAMPLE_ALL, 0);
    g_str = s;
    g_len = len;
    msgpack_sbuffer sb;
    build(d, ev, NO_FIELD, i, pack_g_str, 0, NULL, &sb);
    expect_decode(d, sb.data, sb.size, want, want == TB_OK ? NULL : d->fields[i].name);
    msgpack_sbuffer_destroy(&sb);
    free(ev);
}

START_TEST(test_string_rules_each_field) {
    char big[TB_TEXT_CAP + 1];
    memset(big, 'a', sizeof big);
    for (size_t e = 0; e < TB_EV_COUNT; e++) {
        const tb_event_desc *d = tb_event_descs[e];
        for (size_t i = 0; i < d->nfields; i++) {
            const tb_field_desc *f = &d->fields[i];
            if (f->type < TB_FT_TOKEN) continue;
            expect_string(d, i, big, f->size, TB_TOO_LONG);
            expect_string(d, i, big, f->size + 1, TB_TOO_LONG);
            expect_string(d, i, "a\0b", 3, TB_INVALID);
            if (f->required) expect_string(d, i, "", 0, TB_MISSING_FIELD);
            switch (f->type) {
            case TB_FT_TOKEN:
                expect_string(d, i, big, f->size - 1, TB_OK);
                expect_string(d, i, "a b", 3, TB_INVALID);
                expect_string(d, i, "a.b", 3, TB_INVALID);
                expect_string(d, i, "a*", 2, TB_INVALID);
                expect_string(d, i, "\xc3\xa9", 2, TB_INVALID);
                break;
            case TB_FT_ID:
                expect_string(d, i, big, f->size - 1, TB_OK);
                expect_string(d, i, "a b", 3, TB_INVALID);
                expect_string(d, i, "a\tb", 3, TB_INVALID);
                expect_string(d, i, "a\x7f", 2, TB_INVALID);
                expect_string(d, i, "\xc3\xa9", 2, TB_INVALID);
                break;
            case TB_FT_ENUM:
                expect_string(d, i, "bogus", 5, TB_INVALID);
                expect_string(d, i, f->enum_values, strlen(f->enum_values),
                              strlen(f->enum_values) >= f->size ? TB_TOO_LONG
                              : strchr(f->enum_values, '|')     ? TB_INVALID
                                                                : TB_OK);
                expect_string(d, i, f->enum_values, 1, TB_INVALID); /* a prefix */
                break;
            default: /* TEXT */
                expect_string(d, i, big, f->size - 1, TB_OK);
                expect_string(d, i, "a\xff", 2, TB_INVALID);
                expect_string(d, i, "\xc0\x80", 2, TB_INVALID);         /* overlong NUL */
                expect_string(d, i, "\xe0\x80\xaf", 3, TB_INVALID);     /* overlong '/' */
                expect_string(d, i, "\xed\xa0\x80", 3, TB_INVALID);     /* surrogate */
                expect_string(d, i, "\xf4\x90\x80\x80", 4, TB_INVALID); /* > U+10FFFF */
                expect_string(d, i, "ok \xe2\x82", 5, TB_INVALID);      /* truncated */
                expect_string(d, i, "\x80", 1, TB_INVALID);
                expect_string(d, i, "\xf0\x9f\x9a\x80 \xe2\x82\xac", 8, TB_OK);
                expect_string(d, i, "\xf4\x8f\xbf\xbf", 4, TB_OK); /* U+10FFFF */
                break;
            }
        }
    }
}
END_TEST

static void pack_i64_min(msgpack_packer *pk, const tb_field_desc *f) {
    (void)f;
    msgpack_pack_int64(pk, INT64_MIN);
}
static void pack_fixed_min(msgpack_packer *pk, const tb_field_desc *f) {
    (void)f;
    msgpack_pack_int64(pk, TB_FIXED_MIN);
}
static void pack_2_63(msgpack_packer *pk, const tb_field_desc *f) {
    (void)f;
    msgpack_pack_uint64(pk, UINT64_C(1) << 63);
}
static void pack_minus_one(msgpack_packer *pk, const tb_field_desc *f) {
    (void)f;
    msgpack_pack_int(pk, -1);
}
static void pack_float32(msgpack_packer *pk, const tb_field_desc *f) {
    (void)f;
    msgpack_pack_float(pk, 0.5f);
}

static tb_status numeric_case(const tb_event_desc *d, size_t i, value_fn fn) {
    void *ev = new_event(d);
    sample_event(d, ev, SAMPLE_ALL, 0);
    msgpack_sbuffer sb;
    build(d, ev, NO_FIELD, i, fn, 0, NULL, &sb);
    tb_error err;
    tb_status s = tb_decode(d, sb.data, sb.size, ev, &err);
    msgpack_sbuffer_destroy(&sb);
    free(ev);
    return s;
}

START_TEST(test_numeric_ranges_each_field) {
    for (size_t e = 0; e < TB_EV_COUNT; e++) {
        const tb_event_desc *d = tb_event_descs[e];
        for (size_t i = 0; i < d->nfields; i++) {
            switch (d->fields[i].type) {
            case TB_FT_FIXED:
                ck_assert_int_eq(numeric_case(d, i, pack_i64_min), TB_OVERFLOW);
                ck_assert_int_eq(numeric_case(d, i, pack_fixed_min), TB_OK);
                ck_assert_int_eq(numeric_case(d, i, pack_2_63), TB_OVERFLOW);
                ck_assert_int_eq(numeric_case(d, i, pack_minus_one), TB_OK);
                break;
            case TB_FT_I64:
            case TB_FT_TS:
                ck_assert_int_eq(numeric_case(d, i, pack_i64_min), TB_OK);
                ck_assert_int_eq(numeric_case(d, i, pack_2_63), TB_OVERFLOW);
                break;
            case TB_FT_U64:
                ck_assert_int_eq(numeric_case(d, i, pack_2_63), TB_OK);
                ck_assert_int_eq(numeric_case(d, i, pack_minus_one), TB_OVERFLOW);
                break;
            case TB_FT_F64:
                ck_assert_int_eq(numeric_case(d, i, pack_float32), TB_OK);
                ck_assert_int_eq(numeric_case(d, i, pack_minus_one), TB_OK);
                break;
            default:
                break;
            }
        }
    }
}
END_TEST

/* ---- rejections, whole message --------------------------------------- */

static void extra_unknown(msgpack_packer *pk, int k) {
    char key[32];
    snprintf(key, sizeof key, "zz_future_%d", k);
    pack_cstr(pk, key);
    msgpack_pack_map(pk, 1); /* nested values of any type are skipped */
    pack_cstr(pk, "x");
    msgpack_pack_array(pk, 2);
    msgpack_pack_bin(pk, 2);
    msgpack_pack_bin_body(pk, "\0\1", 2);
    msgpack_pack_ext(pk, 1, 5);
    msgpack_pack_ext_body(pk, "x", 1);
}

static void extra_same_unknown(msgpack_packer *pk, int k) {
    (void)k;
    pack_cstr(pk, "zz");
    msgpack_pack_nil(pk);
}

static const char *g_dup_key;
static void extra_dup_field(msgpack_packer *pk, int k) {
    (void)k;
    pack_cstr(pk, g_dup_key);
    msgpack_pack_nil(pk);
}

START_TEST(test_unknown_and_duplicate_keys) {
    for (size_t e = 0; e < TB_EV_COUNT; e++) {
        const tb_event_desc *d = tb_event_descs[e];
        void *ev = new_event(d), *out = new_event(d);
        sample_event(d, ev, SAMPLE_ALL, 0);
        msgpack_sbuffer sb;
        /* Unknown keys: a few (pairwise check) and many (sorted check). */
        for (int extra = 1; extra <= 40; extra += 39) {
            build(d, ev, NO_FIELD, NO_FIELD, NULL, extra, extra_unknown, &sb);
            ck_assert_int_eq(tb_decode(d, sb.data, sb.size, out, NULL), TB_OK);
            ck_assert(memcmp(ev, out, d->struct_size) == 0);
            msgpack_sbuffer_destroy(&sb);
        }
        build(d, ev, NO_FIELD, NO_FIELD, NULL, 2, extra_same_unknown, &sb);
        expect_decode(d, sb.data, sb.size, TB_DECODE, NULL);
        msgpack_sbuffer_destroy(&sb);
        build(d, ev, NO_FIELD, NO_FIELD, NULL, 40, extra_same_unknown, &sb);
        expect_decode(d, sb.data, sb.size, TB_DECODE, NULL);
        msgpack_sbuffer_destroy(&sb);
        for (size_t i = 0; i < d->nfields; i++) {
            g_dup_key = d->fields[i].name;
            build(d, ev, NO_FIELD, NO_FIELD, NULL, 1, extra_dup_field, &sb);
            expect_decode(d, sb.data, sb.size, TB_DECODE, NULL);
            msgpack_sbuffer_destroy(&sb);
        }
        free(ev);
        free(out);
    }
}
END_TEST

START_TEST(test_message_shape) {
    const tb_event_desc *d = &tb_fill_desc;
    static const unsigned char not_maps[][3] = {{0x90}, {0x01}, {0xa1, 'x'}, {0xc0}, {0xc3}};
    for (size_t i = 0; i < 5; i++) expect_decode(d, not_maps[i], i == 2 ? 2 : 1, TB_DECODE, NULL);
    expect_decode(d, "", 0, TB_DECODE, NULL);
    expect_decode(d, NULL, 0, TB_DECODE, NULL);
    /* Declared lengths far beyond the input are refused before allocation. */
    expect_decode(d, "\xdd\xff\xff\xff\xff", 5, TB_DECODE, NULL);
    expect_decode(d, "\xdf\xff\xff\xff\xff", 5, TB_DECODE, NULL);
    expect_decode(d, "\xdb\xff\xff\xff\xff", 5, TB_DECODE, NULL);
    expect_decode(d, "\xc1", 1, TB_DECODE, NULL);
    expect_decode(d, "\x81\x01\x02", 3, TB_DECODE, NULL); /* integer key */

    tb_fill fill;
    sample_event(d, &fill, SAMPLE_ALL, 0);
    msgpack_sbuffer sb;
    encode_ok(d, &fill, &sb);
    msgpack_sbuffer_write(&sb, "\xc0", 1);
    expect_decode(d, sb.data, sb.size, TB_DECODE, NULL); /* trailing byte */
    msgpack_sbuffer_write(&sb, sb.data, sb.size - 1);
    expect_decode(d, sb.data, sb.size, TB_DECODE, NULL); /* two messages */
    msgpack_sbuffer_destroy(&sb);

    /* Size limit applies before parsing; a big unknown value under it is fine. */
    char *huge = calloc(1, TB_MAX_MSG_BYTES + 1);
    expect_decode(d, huge, TB_MAX_MSG_BYTES + 1, TB_TOO_LARGE, NULL);
    free(huge);
    build(d, &fill, NO_FIELD, NO_FIELD, NULL, 0, NULL, &sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sb.data[0]++; /* one more entry in the fixmap */
    pack_cstr(&pk, "blob");
    size_t blob = TB_MAX_MSG_BYTES - sb.size - 5;
    msgpack_pack_bin(&pk, blob);
    char *zeros = calloc(1, blob);
    msgpack_pack_bin_body(&pk, zeros, blob);
    free(zeros);
    ck_assert_uint_eq(sb.size, TB_MAX_MSG_BYTES);
    expect_decode(d, sb.data, sb.size, TB_OK, NULL);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* An unknown key whose value nests `levels` arrays. */
static void nested_message(int levels, msgpack_sbuffer *sb) {
    tb_fill fill;
    sample_event(&tb_fill_desc, &fill, SAMPLE_REQUIRED, 0);
    build(&tb_fill_desc, &fill, NO_FIELD, NO_FIELD, NULL, 0, NULL, sb);
    sb->data[0]++;
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    pack_cstr(&pk, "deep");
    for (int i = 0; i < levels; i++) msgpack_pack_array(&pk, i + 1 < levels ? 1 : 0);
}

START_TEST(test_nesting_limit) {
    msgpack_sbuffer sb;
    nested_message(31, &sb); /* the top map plus 31 arrays: 32 levels */
    expect_decode(&tb_fill_desc, sb.data, sb.size, TB_OK, NULL);
    msgpack_sbuffer_destroy(&sb);
    nested_message(32, &sb);
    expect_decode(&tb_fill_desc, sb.data, sb.size, TB_DECODE, NULL);
    msgpack_sbuffer_destroy(&sb);
    nested_message(5000, &sb);
    expect_decode(&tb_fill_desc, sb.data, sb.size, TB_DECODE, NULL);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_encode_validates) {
    tb_order o;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    tb_error err;
    sample_event(&tb_order_desc, &o, SAMPLE_ALL, 0);
    strcpy(o.symbol, "BAD SYMBOL");
    ck_assert_int_eq(tb_encode(&tb_order_desc, &o, &sb, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "symbol");
    sample_event(&tb_order_desc, &o, SAMPLE_ALL, 0);
    o.account[0] = '\0';
    ck_assert_int_eq(tb_encode(&tb_order_desc, &o, &sb, &err), TB_MISSING_FIELD);
    ck_assert_str_eq(err.field, "account");
    sample_event(&tb_order_desc, &o, SAMPLE_ALL, 0);
    memset(o.order_id, 'x', sizeof o.order_id); /* no NUL inside the capacity */
    ck_assert_int_eq(tb_encode(&tb_order_desc, &o, &sb, &err), TB_TOO_LONG);
    sample_event(&tb_order_desc, &o, SAMPLE_ALL, 0);
    strcpy(o.tif, "forever");
    ck_assert_int_eq(tb_encode(&tb_order_desc, &o, &sb, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "tif");
    sample_event(&tb_order_desc, &o, SAMPLE_ALL, 0);
    o.qty = INT64_MIN;
    ck_assert_int_eq(tb_encode(&tb_order_desc, &o, &sb, &err), TB_OVERFLOW);
    ck_assert_int_eq(tb_encode(NULL, &o, &sb, &err), TB_INVALID);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* ---- lists ------------------------------------------------------------ */

static void list_round_trip(const tb_event_desc *d, size_t n, const char *next) {
    char *items = calloc(n ? n : 1, d->struct_size);
    for (size_t i = 0; i < n; i++)
        sample_event(d, items + i * d->struct_size, i % 2 ? SAMPLE_EXTREME : SAMPLE_ALL,
                     (unsigned)i);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    tb_error err;
    ck_assert_int_eq(tb_encode_list(d, n ? items : NULL, n, next, &sb, &err), TB_OK);
    void *out = NULL;
    size_t got = 99;
    char cursor[TB_ID_CAP] = "junk";
    tb_status s = tb_decode_list(d, sb.data, sb.size, &out, &got, cursor, &err);
    ck_assert_msg(s == TB_OK, "%s list: %s", d->name, err.message);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(got, n);
    ck_assert_str_eq(cursor, next ? next : "");
    if (n) ck_assert(memcmp(out, items, n * d->struct_size) == 0);
    free(out);
    msgpack_sbuffer_destroy(&sb);
    free(items);
}

START_TEST(test_list_round_trip) {
    for (size_t e = 0; e < TB_EV_COUNT; e++) {
        list_round_trip(tb_event_descs[e], 0, NULL);
        list_round_trip(tb_event_descs[e], 1, "");
        list_round_trip(tb_event_descs[e], 5, "cursor:2026-01-02/abc~");
    }
}
END_TEST

static tb_status decode_list_bytes(const msgpack_sbuffer *sb, tb_error *err) {
    void *items = (void *)1;
    size_t n = 7;
    char next[TB_ID_CAP];
    tb_status s = tb_decode_list(&tb_tick_desc, sb->data, sb->size, &items, &n, next, err);
    if (s != TB_OK) {
        ck_assert_ptr_null(items);
        ck_assert_uint_eq(n, 0);
        ck_assert_str_eq(next, "");
    }
    free(items);
    return s;
}

/* {"items": [<n ticks, item `bad` with a bad symbol>], "count": count} plus,
 * when extra_key is set, {extra_key: "cur"}. */
static void list_bytes(int n, int bad, int count, const char *extra_key, msgpack_sbuffer *sb) {
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, extra_key ? 3 : 2);
    pack_cstr(&pk, "items");
    msgpack_pack_array(&pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        tb_tick t;
        sample_event(&tb_tick_desc, &t, SAMPLE_ALL, (unsigned)i);
        if (i == bad) strcpy(t.symbol, "a b");
        msgpack_sbuffer tmp;
        build(&tb_tick_desc, &t, NO_FIELD, NO_FIELD, NULL, 0, NULL, &tmp);
        msgpack_sbuffer_write(sb, tmp.data, tmp.size);
        msgpack_sbuffer_destroy(&tmp);
    }
    pack_cstr(&pk, "count");
    msgpack_pack_int(&pk, count);
    if (extra_key) {
        pack_cstr(&pk, extra_key);
        pack_cstr(&pk, "cur");
    }
}

START_TEST(test_list_rejects) {
    msgpack_sbuffer sb;
    tb_error err;
    list_bytes(3, -1, 3, NULL, &sb);
    ck_assert_int_eq(decode_list_bytes(&sb, &err), TB_OK);
    msgpack_sbuffer_destroy(&sb);
    list_bytes(3, 1, 3, NULL, &sb);
    ck_assert_int_eq(decode_list_bytes(&sb, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "items[1].symbol");
    msgpack_sbuffer_destroy(&sb);
    list_bytes(3, -1, 2, NULL, &sb);
    ck_assert_int_eq(decode_list_bytes(&sb, &err), TB_DECODE);
    msgpack_sbuffer_destroy(&sb);
    list_bytes(3, -1, -3, NULL, &sb);
    ck_assert_int_eq(decode_list_bytes(&sb, &err), TB_WRONG_TYPE);
    msgpack_sbuffer_destroy(&sb);
    list_bytes(1, -1, 1, "next", &sb); /* "next": "next" is a valid cursor */
    ck_assert_int_eq(decode_list_bytes(&sb, &err), TB_OK);
    msgpack_sbuffer_destroy(&sb);
    list_bytes(1, -1, 1, "count", &sb); /* a second "count" key */
    ck_assert_int_eq(decode_list_bytes(&sb, &err), TB_DECODE);
    msgpack_sbuffer_destroy(&sb);
    list_bytes(0, -1, 0, NULL, &sb);
    msgpack_sbuffer_write(&sb, "\x00", 1);
    ck_assert_int_eq(decode_list_bytes(&sb, &err), TB_DECODE);
    msgpack_sbuffer_destroy(&sb);
    /* {"items": 1, "count": 1}, {"count": 0}, {"items": []}, and a bad cursor. */
    const struct {
        const char *bytes;
        size_t len;
        tb_status want;
    } raw[] = {
        {"\x82\xa5items\x01\xa5"
         "count\x01",
         15, TB_WRONG_TYPE},
        {"\x81\xa5"
         "count\x00",
         8, TB_MISSING_FIELD},
        {"\x81\xa5items\x90", 8, TB_MISSING_FIELD},
        {"\x83\xa5items\x90\xa5"
         "count\x00\xa4next\x01",
         21, TB_WRONG_TYPE},
        {"\x83\xa5items\x90\xa5"
         "count\x00\xa4next\xa3\x61 b",
         24, TB_INVALID},
        {"\x91\x80", 2, TB_DECODE},
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        msgpack_sbuffer_init(&sb);
        msgpack_sbuffer_write(&sb, raw[i].bytes, raw[i].len);
        ck_assert_msg(decode_list_bytes(&sb, &err) == raw[i].want, "raw case %zu: %s", i,
                      err.message);
        msgpack_sbuffer_destroy(&sb);
    }
    /* Encoding refuses a cursor the decoder would refuse. */
    msgpack_sbuffer_init(&sb);
    char long_cursor[TB_ID_CAP + 1];
    memset(long_cursor, 'c', TB_ID_CAP);
    long_cursor[TB_ID_CAP] = '\0';
    ck_assert_int_eq(tb_encode_list(&tb_tick_desc, NULL, 0, long_cursor, &sb, &err), TB_TOO_LONG);
    ck_assert_int_eq(tb_encode_list(&tb_tick_desc, NULL, 0, "a b", &sb, &err), TB_INVALID);
    tb_tick bad;
    sample_event(&tb_tick_desc, &bad, SAMPLE_ALL, 0);
    bad.symbol[0] = '\0';
    ck_assert_int_eq(tb_encode_list(&tb_tick_desc, &bad, 1, NULL, &sb, &err), TB_MISSING_FIELD);
    ck_assert_str_eq(err.field, "items[0].symbol");
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* ---- descriptors ------------------------------------------------------ */

START_TEST(test_descriptors) {
    ck_assert_ptr_eq(tb_event_find("fill"), &tb_fill_desc);
    ck_assert_ptr_eq(tb_event_find("error_reply"), &tb_error_reply_desc);
    ck_assert_ptr_null(tb_event_find("fil"));
    ck_assert_ptr_null(tb_event_find(NULL));
    ck_assert_ptr_eq(tb_event_descs[TB_EV_tick], &tb_tick_desc);
    const tb_field_desc *f = tb_field_find(&tb_tick_desc, "symbolic", 6);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f->name, "symbol");
    ck_assert_ptr_null(tb_field_find(&tb_tick_desc, "sym\0bol", 7));
    ck_assert_ptr_null(tb_field_find(&tb_tick_desc, "symbo", 5));
    ck_assert_uint_eq(tb_tick_desc.fields[1].offset, offsetof(tb_tick, seq));
    ck_assert_uint_eq(tb_tick_desc.struct_size, sizeof(tb_tick));
    for (size_t e = 0; e < TB_EV_COUNT; e++) {
        const tb_event_desc *d = tb_event_descs[e];
        ck_assert_ptr_eq(tb_event_find(d->name), d);
        ck_assert_uint_le(d->nfields, 64);
        for (size_t i = 0; i < d->nfields; i++) {
            const tb_field_desc *fi = &d->fields[i];
            ck_assert_uint_le(fi->offset + fi->size, d->struct_size);
            ck_assert_uint_lt(strlen(fi->name), sizeof((tb_error *)0)->field);
            ck_assert_ptr_eq(tb_field_find(d, fi->name, strlen(fi->name)), fi);
            ck_assert_int_eq(fi->type == TB_FT_ENUM, fi->enum_values[0] != '\0');
        }
    }
}
END_TEST

static Suite *codec_suite(void) {
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_round_trip_every_event);
    tcase_add_test(tc, test_optional_zero_not_written);
    tcase_add_test(tc, test_truncated_prefixes);
    tcase_add_test(tc, test_wrong_type_each_field);
    tcase_add_test(tc, test_nil_only_for_nullable);
    tcase_add_test(tc, test_missing_each_required);
    tcase_add_test(tc, test_string_rules_each_field);
    tcase_add_test(tc, test_numeric_ranges_each_field);
    tcase_add_test(tc, test_unknown_and_duplicate_keys);
    tcase_add_test(tc, test_message_shape);
    tcase_add_test(tc, test_nesting_limit);
    tcase_add_test(tc, test_encode_validates);
    tcase_add_test(tc, test_list_round_trip);
    tcase_add_test(tc, test_list_rejects);
    tcase_add_test(tc, test_descriptors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(codec_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
