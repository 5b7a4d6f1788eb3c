/* Unit tests for schemas/json.c and schemas/timefmt.c: struct <-> JSON for
 * every event, exactness rules for FIXED numbers, RFC 3339 timestamps and the
 * schema-less msgpack -> JSON view. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"
#include "sample_events.h"

/* ---- round trips ------------------------------------------------------ */

/* struct -> JSON -> text -> JSON -> struct, so serialisation is covered too. */
static void json_round_trip(const tb_event_desc *d, sample_kind kind, unsigned variant) {
    void *in = calloc(1, d->struct_size), *out = calloc(1, d->struct_size);
    sample_event(d, in, kind, variant);
    json_t *j = NULL;
    ck_assert_int_eq(tb_to_json(d, in, &j), TB_OK);
    char *text = json_dumps(j, JSON_COMPACT);
    ck_assert_ptr_nonnull(text);
    json_decref(j);
    json_error_t jerr;
    j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    ck_assert_ptr_nonnull(j);
    tb_error err;
    tb_status s = tb_from_json(d, j, out, &err);
    ck_assert_msg(s == TB_OK, "%s kind %d: %s in %s", d->name, kind, err.message, text);
    ck_assert_msg(memcmp(in, out, d->struct_size) == 0, "%s kind %d: %s", d->name, kind, text);
    for (size_t i = 0; i < d->nfields; i++) {
        const tb_field_desc *f = &d->fields[i];
        json_t *v = json_object_get(j, f->name);
        if (kind == SAMPLE_REQUIRED && !f->required) ck_assert_ptr_null(v);
        if (v && json_is_null(v)) ck_assert(f->nullable && tb_field_is_null(f, in));
        if (v && !json_is_null(v) && (f->type == TB_FT_FIXED || f->type == TB_FT_TS))
            ck_assert(json_is_string(v));
    }
    /* The msgpack path gives the same object. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ck_assert_int_eq(tb_encode(d, in, &sb, &err), TB_OK);
    json_t *via = NULL;
    ck_assert_int_eq(tb_msgpack_to_json(d, sb.data, sb.size, &via, &err), TB_OK);
    ck_assert(json_equal(via, j));
    json_decref(via);
    msgpack_sbuffer_destroy(&sb);
    json_decref(j);
    free(text);
    free(in);
    free(out);
}

START_TEST(test_round_trip_every_event) {
    for (size_t e = 0; e < TB_EV_COUNT; e++)
        for (unsigned v = 0; v < 8; v++) {
            json_round_trip(tb_event_descs[e], SAMPLE_ALL, v);
            json_round_trip(tb_event_descs[e], SAMPLE_REQUIRED, v);
            json_round_trip(tb_event_descs[e], SAMPLE_EXTREME, v);
        }
}
END_TEST

START_TEST(test_to_json_shape) {
    tb_fill f;
    sample_event(&tb_fill_desc, &f, SAMPLE_REQUIRED, 0);
    f.qty = 150000000;
    f.price = -1;
    f.ts = 1767323045000000001;
    json_t *j = NULL;
    ck_assert_int_eq(tb_to_json(&tb_fill_desc, &f, &j), TB_OK);
    ck_assert_str_eq(json_string_value(json_object_get(j, "qty")), "1.5");
    ck_assert_str_eq(json_string_value(json_object_get(j, "price")), "-0.00000001");
    ck_assert_str_eq(json_string_value(json_object_get(j, "ts")), "2026-01-02T03:04:05.000000001Z");
    ck_assert_ptr_null(json_object_get(j, "fee"));
    json_decref(j);
    strcpy(f.side, "sideways");
    j = NULL;
    ck_assert_int_eq(tb_to_json(&tb_fill_desc, &f, &j), TB_INVALID);
    ck_assert_ptr_null(j);
    /* U64 past int64 stays exact as a string and reads back. */
    tb_tick t;
    sample_event(&tb_tick_desc, &t, SAMPLE_REQUIRED, 0);
    t.seq = UINT64_MAX;
    ck_assert_int_eq(tb_to_json(&tb_tick_desc, &t, &j), TB_OK);
    ck_assert_str_eq(json_string_value(json_object_get(j, "seq")), "18446744073709551615");
    json_decref(j);
}
END_TEST

/* ---- FIXED and other fields from JSON -------------------------------- */

/* A minimal valid tick as JSON with `key` set to the JSON text value_json. */
static tb_status tick_with(const char *key, const char *value_json, tb_tick *t, tb_error *err) {
    json_error_t jerr;
    json_t *v = json_loads(value_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    ck_assert_msg(v != NULL, "bad test JSON %s: %s", value_json, jerr.text);
    json_t *j = json_pack("{s:s, s:i, s:i}", "symbol", "X", "seq", 1, "ts", 0);
    json_object_set_new(j, key, v);
    tb_status s = tb_from_json(&tb_tick_desc, j, t, err);
    json_decref(j);
    if (s != TB_OK) ck_assert(sample_is_zero(t, sizeof *t));
    return s;
}

static void fixed_ok(const char *json, tb_fixed want) {
    tb_tick t;
    tb_error err;
    tb_status s = tick_with("bid", json, &t, &err);
    ck_assert_msg(s == TB_OK, "%s: %s", json, err.message);
    ck_assert_msg(t.bid == want, "%s -> %lld", json, (long long)t.bid);
}

static void fixed_bad(const char *json, tb_status want) {
    tb_tick t;
    tb_error err;
    tb_status s = tick_with("bid", json, &t, &err);
    ck_assert_msg(s == want, "%s: got %s want %s", json, tb_status_code(s), tb_status_code(want));
    ck_assert_str_eq(err.field, "bid");
}

START_TEST(test_fixed_from_json) {
    fixed_ok("\"1.5\"", 150000000);
    fixed_ok("\"-0.00000001\"", -1);
    fixed_ok("\"0.123456780\"", 12345678);
    fixed_ok("5", 500000000);
    fixed_ok("-92233720368", -92233720368 * TB_FIXED_SCALE);
    fixed_ok("1.25", 125000000);
    fixed_ok("-1.25", -125000000);
    fixed_ok("0.1", 10000000);
    fixed_ok("0.00000001", 1);
    fixed_ok("1e-05", 1000);
    fixed_ok("1e5", 10000000000000);
    fixed_ok("12345678.12345678", 1234567812345678);
    fixed_ok("0.0", 0);
    fixed_ok("-0.0", 0);
    fixed_bad("0.1234567891", TB_PRECISION);
    fixed_bad("1e-9", TB_PRECISION);
    fixed_bad("\"0.123456789\"", TB_PRECISION);
    fixed_bad("1e20", TB_OVERFLOW);
    fixed_bad("1e300", TB_OVERFLOW);
    fixed_bad("92233720369", TB_OVERFLOW);
    fixed_bad("\"92233720368.54775808\"", TB_OVERFLOW);
    fixed_bad("\"NaN\"", TB_INVALID);
    fixed_bad("\"nan\"", TB_INVALID);
    fixed_bad("\"Infinity\"", TB_INVALID);
    fixed_bad("\"-inf\"", TB_INVALID);
    fixed_bad("\"1e5\"", TB_INVALID);
    fixed_bad("\"\"", TB_INVALID);
    fixed_bad("\" 1\"", TB_INVALID);
    fixed_bad("\"1\\u00002\"", TB_INVALID);
    fixed_bad("true", TB_WRONG_TYPE);
    fixed_bad("null", TB_WRONG_TYPE);
    fixed_bad("[1]", TB_WRONG_TYPE);
    fixed_bad("{}", TB_WRONG_TYPE);
}
END_TEST

START_TEST(test_other_fields_from_json) {
    tb_tick t;
    tb_error err;
    ck_assert_int_eq(tick_with("seq", "-1", &t, &err), TB_OVERFLOW);
    ck_assert_int_eq(tick_with("seq", "1.0", &t, &err), TB_WRONG_TYPE);
    ck_assert_int_eq(tick_with("seq", "\"18446744073709551616\"", &t, &err), TB_OVERFLOW);
    ck_assert_int_eq(tick_with("seq", "\"12x\"", &t, &err), TB_INVALID);
    ck_assert_int_eq(tick_with("seq", "\"18446744073709551615\"", &t, &err), TB_OK);
    ck_assert_uint_eq(t.seq, UINT64_MAX);
    ck_assert_int_eq(tick_with("ts", "\"2026-01-02T03:04:05Z\"", &t, &err), TB_OK);
    ck_assert_int_eq(t.ts, 1767323045000000000);
    ck_assert_int_eq(tick_with("ts", "1767323045000000001", &t, &err), TB_OK);
    ck_assert_int_eq(t.ts, 1767323045000000001);
    ck_assert_int_eq(tick_with("ts", "\"yesterday\"", &t, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "ts");
    ck_assert_int_eq(tick_with("ts", "1.5", &t, &err), TB_WRONG_TYPE);
    ck_assert_int_eq(tick_with("symbol", "\"A B\"", &t, &err), TB_INVALID);
    ck_assert_int_eq(tick_with("symbol", "\"\"", &t, &err), TB_MISSING_FIELD);
    ck_assert_int_eq(tick_with("symbol", "7", &t, &err), TB_WRONG_TYPE);
    ck_assert_int_eq(tick_with("source", "\"a\\u0000b\"", &t, &err), TB_INVALID);
    /* Keys that are not fields are refused, naming the key (and the field
     * it probably meant, see test_field_closest.c). */
    ck_assert_int_eq(tick_with("unknown", "{\"x\":[1,2]}", &t, &err), TB_UNKNOWN_FIELD);
    ck_assert_str_eq(err.field, "unknown");
    ck_assert_str_eq(err.message, "unknown field \"unknown\"");
    ck_assert_int_eq(tick_with("symbl", "\"DAX\"", &t, &err), TB_UNKNOWN_FIELD);
    ck_assert_str_eq(err.field, "symbl");
    ck_assert_str_eq(err.message, "unknown field \"symbl\" (did you mean \"symbol\"?)");

    json_t *j = json_pack("{s:s, s:s, s:b}", "code", "invalid", "message", "bad", "field", 1);
    tb_error_reply r;
    ck_assert_int_eq(tb_from_json(&tb_error_reply_desc, j, &r, &err), TB_WRONG_TYPE);
    json_decref(j);
    j = json_pack("{s:s}", "code", "invalid");
    ck_assert_int_eq(tb_from_json(&tb_error_reply_desc, j, &r, &err), TB_MISSING_FIELD);
    ck_assert_str_eq(err.field, "message");
    json_decref(j);
    j = json_pack("[s]", "code");
    ck_assert_int_eq(tb_from_json(&tb_error_reply_desc, j, &r, &err), TB_DECODE);
    json_decref(j);
    ck_assert_int_eq(tb_from_json(&tb_error_reply_desc, NULL, &r, &err), TB_DECODE);

    tb_risk_decision rd;
    j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "decision_id", "d1", "account", "a", "symbol",
                  "s", "source", "api", "approved", 1, "ts", 0);
    ck_assert_int_eq(tb_from_json(&tb_risk_decision_desc, j, &rd, &err), TB_WRONG_TYPE);
    ck_assert_str_eq(err.field, "approved");
    json_object_set_new(j, "approved", json_true());
    ck_assert_int_eq(tb_from_json(&tb_risk_decision_desc, j, &rd, &err), TB_OK);
    ck_assert(rd.approved);
    json_decref(j);
}
END_TEST

/* ---- timestamps ------------------------------------------------------- */

static void ts_is(const char *text, int64_t want) {
    int64_t ns = 0;
    tb_status s = tb_ts_parse(text, &ns);
    ck_assert_msg(s == TB_OK, "%s: %s", text, tb_status_code(s));
    ck_assert_msg(ns == want, "%s -> %lld", text, (long long)ns);
}

static void ts_bad(const char *text, tb_status want) {
    int64_t ns = 42;
    ck_assert_msg(tb_ts_parse(text, &ns) == want, "%s accepted", text);
    ck_assert_int_eq(ns, 42);
}

START_TEST(test_timestamps) {
    char buf[40];
    ck_assert_uint_eq(tb_ts_format(1767323045000000001, buf), 30);
    ck_assert_str_eq(buf, "2026-01-02T03:04:05.000000001Z");
    tb_ts_format(0, buf);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.000000000Z");
    tb_ts_format(-1, buf);
    ck_assert_str_eq(buf, "1969-12-31T23:59:59.999999999Z");
    tb_ts_format(INT64_MIN, buf);
    ck_assert_str_eq(buf, "1677-09-21T00:12:43.145224192Z");
    tb_ts_format(INT64_MAX, buf);
    ck_assert_str_eq(buf, "2262-04-11T23:47:16.854775807Z");

    ts_is("2026-01-02T03:04:05.000000001Z", 1767323045000000001);
    ts_is("2026-01-02T03:04:05Z", 1767323045000000000);
    ts_is("2026-01-02t03:04:05.5z", 1767323045500000000);
    ts_is("2026-01-02T04:04:05.000000001+01:00", 1767323045000000001);
    ts_is("2026-01-01T22:34:05-04:30", 1767323045000000000);
    ts_is("2024-02-29T00:00:00Z", 1709164800000000000);
    ts_is("1677-09-21T00:12:43.145224192Z", INT64_MIN);
    ts_is("2262-04-11T23:47:16.854775807Z", INT64_MAX);
    ts_is("1969-12-31T23:59:59.999999999Z", -1);
    ts_bad("2262-04-11T23:47:16.854775808Z", TB_OVERFLOW);
    ts_bad("1677-09-21T00:12:43.145224191Z", TB_OVERFLOW);
    ts_bad("9999-12-31T23:59:59Z", TB_OVERFLOW);
    ts_bad("2026-01-02T03:04:05.0000000001Z", TB_PRECISION);
    const char *bad[] = {"",
                         "2026-01-02",
                         "2026-01-02T03:04:05",
                         "2026-01-02 03:04:05Z",
                         "2026-13-02T03:04:05Z",
                         "2026-02-30T03:04:05Z",
                         "2025-02-29T00:00:00Z",
                         "2026-01-02T24:00:00Z",
                         "2026-01-02T03:60:05Z",
                         "2026-01-02T03:04:60Z",
                         "2026-01-02T03:04:05.Z",
                         "2026-01-02T03:04:05+0100",
                         "2026-01-02T03:04:05+24:00",
                         "2026-01-02T03:04:05Zjunk",
                         "26-01-02T03:04:05Z",
                         "2026-1-02T03:04:05Z",
                         "+2026-01-02T03:04:05Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) ts_bad(bad[i], TB_INVALID);

    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t ns = (int64_t)x, back;
        size_t n = tb_ts_format(ns, buf);
        ck_assert_uint_eq(n, 30);
        ck_assert_int_eq(tb_ts_parse(buf, &back), TB_OK);
        ck_assert_int_eq(back, ns);
    }
    ck_assert_int_gt(tb_now_ns(), INT64_C(1577836800000000000)); /* after 2020 */
}
END_TEST

/* ---- schema-less msgpack -> JSON ------------------------------------- */

static char *raw_text(const void *buf, size_t len, tb_status *s) {
    json_t *j = NULL;
    tb_error err;
    *s = tb_msgpack_to_json_raw(buf, len, &j, &err);
    if (*s != TB_OK) {
        ck_assert_ptr_null(j);
        return NULL;
    }
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    json_decref(j);
    return text;
}

START_TEST(test_raw) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_array(&pk, 6);
    msgpack_pack_nil(&pk);
    msgpack_pack_true(&pk);
    msgpack_pack_int(&pk, -5);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_double(&pk, 1.5);
    msgpack_pack_str_with_body(&pk, "h\xc3\xa9", 3);
    msgpack_pack_str_with_body(&pk, "bin", 3);
    msgpack_pack_bin_with_body(&pk, "hello", 5);
    msgpack_pack_str_with_body(&pk, "k\0z", 3);
    msgpack_pack_map(&pk, 0);
    tb_status s;
    char *text = raw_text(sb.data, sb.size, &s);
    ck_assert_int_eq(s, TB_OK);
    ck_assert_str_eq(text, "{\"a\":[null,true,-5,\"18446744073709551615\",1.5,\"h\xc3\xa9\"],"
                           "\"bin\":\"aGVsbG8=\",\"k\\u0000z\":{}}");
    free(text);
    msgpack_sbuffer_destroy(&sb);

    text = raw_text("\x05", 1, &s); /* any top-level value */
    ck_assert_str_eq(text, "5");
    free(text);
    const struct {
        const char *bytes;
        size_t len;
        tb_status want;
    } bad[] = {
        {"\xd4\x01\x00", 3, TB_WRONG_TYPE},                      /* ext */
        {"\x81\x01\x02", 3, TB_WRONG_TYPE},                      /* integer key */
        {"\x82\xa1x\x01\xa1x\x02", 7, TB_DECODE},                /* duplicate key */
        {"\xa1\xff", 2, TB_INVALID},                             /* bad UTF-8 */
        {"\x81\xa1\xff\x01", 4, TB_INVALID},                     /* bad UTF-8 key */
        {"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", 9, TB_INVALID}, /* NaN */
        {"\x92\x01", 2, TB_DECODE},                              /* truncated */
        {"\x01\x02", 2, TB_DECODE},                              /* trailing */
        {"", 0, TB_DECODE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        text = raw_text(bad[i].bytes, bad[i].len, &s);
        ck_assert_msg(s == bad[i].want, "case %zu: %s", i, tb_status_code(s));
    }
    /* Exactly 32 nested containers pass, 33 do not. */
    char deep[40];
    memset(deep, 0x91, sizeof deep);
    deep[31] = (char)0x90;
    text = raw_text(deep, 32, &s);
    ck_assert_int_eq(s, TB_OK);
    free(text);
    deep[31] = (char)0x91;
    deep[32] = (char)0x90;
    text = raw_text(deep, 33, &s);
    ck_assert_int_eq(s, TB_DECODE);
    char *huge = calloc(1, TB_MAX_MSG_BYTES + 1);
    text = raw_text(huge, TB_MAX_MSG_BYTES + 1, &s);
    ck_assert_int_eq(s, TB_TOO_LARGE);
    free(huge);
}
END_TEST

static Suite *json_suite(void) {
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_round_trip_every_event);
    tcase_add_test(tc, test_to_json_shape);
    tcase_add_test(tc, test_fixed_from_json);
    tcase_add_test(tc, test_other_fields_from_json);
    tcase_add_test(tc, test_timestamps);
    tcase_add_test(tc, test_raw);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(json_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
