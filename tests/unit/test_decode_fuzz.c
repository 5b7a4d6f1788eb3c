/* Randomised robustness tests for every decoder: tb_decode (each event),
 * tb_decode_list and tb_msgpack_to_json_raw.
 *
 * Inputs are uniform random bytes, random msgpack built from the descriptors
 * (so some decode successfully), and mutations of valid encodings. Nothing may
 * crash or leak (the sanitizer build runs this under ASan and UBSan), a
 * failure must leave the output zeroed, and a success must re-encode and
 * decode to the same struct. Every input sits in an exact-size heap block so
 * ASan sees any read past its end.
 *
 * TB_FUZZ_SEED and TB_FUZZ_ITERS (random inputs per decoder, default 20000)
 * override the defaults; failures print the seed and iteration. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"
#include "sample_events.h"

static uint64_t g_seed = 0x5eed1234abcdULL;
static uint64_t g_rng;
static long g_iters = 20000;
static long g_iter; /* current iteration, for failure messages */

static uint64_t rnd(void) { /* xorshift64* */
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 0x2545F4914F6CDD1DULL;
}
static size_t rnd_below(size_t n) {
    return n ? (size_t)(rnd() % n) : 0;
}
static bool one_in(unsigned n) {
    return rnd_below(n) == 0;
}

/* ---- oracles ---------------------------------------------------------- */

static void check_event(const tb_event_desc *d, const void *data, size_t len) {
    void *buf = malloc(len ? len : 1);
    memcpy(buf, data, len);
    void *ev = malloc(d->struct_size), *again = malloc(d->struct_size);
    memset(ev, 0xa5, d->struct_size);
    tb_error err;
    tb_status s = tb_decode(d, buf, len, ev, &err);
    if (s != TB_OK) {
        ck_assert_msg(sample_is_zero(ev, d->struct_size), "%s: not zeroed (seed %llu iter %ld)",
                      d->name, (unsigned long long)g_seed, g_iter);
        ck_assert_int_eq(err.status, s);
    } else {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        s = tb_encode(d, ev, &sb, &err);
        ck_assert_msg(s == TB_OK, "%s: decoded but re-encode failed: %s (seed %llu iter %ld)",
                      d->name, err.message, (unsigned long long)g_seed, g_iter);
        ck_assert_int_eq(tb_decode(d, sb.data, sb.size, again, &err), TB_OK);
        ck_assert_msg(memcmp(ev, again, d->struct_size) == 0,
                      "%s: re-decode differs (seed %llu "
                      "iter %ld)",
                      d->name, (unsigned long long)g_seed, g_iter);
        json_t *j = NULL;
        ck_assert_int_eq(tb_to_json(d, ev, &j), TB_OK);
        ck_assert_int_eq(tb_from_json(d, j, again, &err), TB_OK);
        ck_assert(memcmp(ev, again, d->struct_size) == 0);
        json_decref(j);
        msgpack_sbuffer_destroy(&sb);
    }
    free(again);
    free(ev);
    free(buf);
}

static void check_list(const tb_event_desc *d, const void *data, size_t len) {
    void *buf = malloc(len ? len : 1);
    memcpy(buf, data, len);
    void *items = NULL, *items2 = NULL;
    size_t n = 0, n2 = 0;
    char next[TB_ID_CAP], next2[TB_ID_CAP];
    tb_error err;
    tb_status s = tb_decode_list(d, buf, len, &items, &n, next, &err);
    if (s != TB_OK) {
        ck_assert_ptr_null(items);
        ck_assert_uint_eq(n, 0);
    } else {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        s = tb_encode_list(d, items, n, next, &sb, &err);
        ck_assert_msg(s == TB_OK, "%s list: re-encode failed: %s (seed %llu iter %ld)", d->name,
                      err.message, (unsigned long long)g_seed, g_iter);
        ck_assert_int_eq(tb_decode_list(d, sb.data, sb.size, &items2, &n2, next2, &err), TB_OK);
        ck_assert_uint_eq(n, n2);
        ck_assert_str_eq(next, next2);
        ck_assert(memcmp(items, items2, n * d->struct_size) == 0);
        msgpack_sbuffer_destroy(&sb);
    }
    free(items);
    free(items2);
    free(buf);
}

static void check_raw(const void *data, size_t len) {
    void *buf = malloc(len ? len : 1);
    memcpy(buf, data, len);
    json_t *j = NULL;
    tb_error err;
    if (tb_msgpack_to_json_raw(buf, len, &j, &err) == TB_OK) {
        char *text = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
        ck_assert_msg(text != NULL, "raw: converted but not serialisable (seed %llu iter %ld)",
                      (unsigned long long)g_seed, g_iter);
        free(text);
        json_decref(j);
    } else {
        ck_assert_ptr_null(j);
    }
    free(buf);
}

/* ---- generators ------------------------------------------------------- */

static void random_bytes(unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)rnd();
}

static void gen_str(msgpack_packer *pk, const char *alphabet, size_t max) {
    char s[1024]; /* max is at most 600 */
    size_t n = rnd_below(max + 1);
    size_t na = alphabet ? strlen(alphabet) : 0;
    for (size_t i = 0; i < n; i++) s[i] = na ? alphabet[rnd_below(na)] : (char)rnd();
    msgpack_pack_str_with_body(pk, s, n);
}

static void gen_any(msgpack_packer *pk, int depth);

static void gen_container(msgpack_packer *pk, int depth, bool map) {
    size_t n = rnd_below(5);
    if (map)
        msgpack_pack_map(pk, n);
    else
        msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        if (map) gen_str(pk, one_in(2) ? "ab" : NULL, 3);
        gen_any(pk, depth + 1);
    }
}

/* Any msgpack value, nested a little (deeper nesting comes from mutations). */
static void gen_any(msgpack_packer *pk, int depth) {
    switch (rnd_below(depth > 3 ? 9 : 11)) {
    case 0:
        msgpack_pack_nil(pk);
        break;
    case 1:
        rnd() & 1 ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        break;
    case 2:
        msgpack_pack_uint64(pk, rnd() >> rnd_below(64));
        break;
    case 3:
        msgpack_pack_int64(pk, -(int64_t)(rnd() >> (1 + rnd_below(63))));
        break;
    case 4: {
        uint64_t bits = rnd();
        double x;
        memcpy(&x, &bits, sizeof x);
        one_in(2) ? msgpack_pack_double(pk, x) : msgpack_pack_float(pk, (float)x);
        break;
    }
    case 5:
        gen_str(pk, NULL, 20);
        break;
    case 6:
        gen_str(pk, "abc\xc3\xa9 ", 20);
        break;
    case 7: {
        unsigned char b[16];
        random_bytes(b, sizeof b);
        msgpack_pack_bin_with_body(pk, b, rnd_below(sizeof b));
        break;
    }
    case 8:
        msgpack_pack_ext_with_body(pk, "abcd", rnd_below(5), (int8_t)rnd());
        break;
    default:
        gen_container(pk, depth, rnd() & 1);
        break;
    }
}

/* A value of roughly the field's type, valid more often than not. */
static void gen_field_value(msgpack_packer *pk, const tb_field_desc *f) {
    if (one_in(32)) {
        gen_any(pk, 1);
        return;
    }
    switch (f->type) {
    case TB_FT_BOOL:
        rnd() & 1 ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        break;
    case TB_FT_U64:
        msgpack_pack_uint64(pk, rnd() >> rnd_below(64));
        break;
    case TB_FT_F64:
        msgpack_pack_double(pk, (double)(int64_t)rnd() / 1024.0);
        break;
    case TB_FT_I64:
    case TB_FT_TS:
    case TB_FT_FIXED:
        msgpack_pack_int64(pk, (int64_t)(rnd() >> rnd_below(64)));
        break;
    case TB_FT_TOKEN:
        gen_str(pk, "aZ09_-", one_in(32) ? 70 : 12);
        break;
    case TB_FT_ID:
        gen_str(pk, "a:/~!Z9", one_in(32) ? 70 : 12);
        break;
    case TB_FT_ENUM: {
        char v[TB_ENUM_CAP + 64];
        sample_enum_value(f->enum_values, rnd_below(sample_enum_count(f->enum_values)), v);
        if (one_in(32)) v[0] = 'X';
        msgpack_pack_str_with_body(pk, v, strlen(v));
        break;
    }
    default:
        gen_str(pk, one_in(16) ? NULL : "hi \xc3\xa9\xe2\x9c\x93", one_in(32) ? 600 : 30);
    }
}

/* A map keyed mostly by the event's field names, sometimes duplicated or
 * missing, with values mostly of the right type. */
static void gen_event(msgpack_packer *pk, const tb_event_desc *d) {
    bool all = one_in(2);
    size_t n = all ? d->nfields : rnd_below(d->nfields + 3);
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < n; i++) {
        if (one_in(24)) {
            gen_str(pk, "xyz", 4);
            gen_any(pk, 1);
            continue;
        }
        const tb_field_desc *f = &d->fields[all ? i : rnd_below(d->nfields)];
        msgpack_pack_str_with_body(pk, f->name, strlen(f->name));
        gen_field_value(pk, f);
    }
}

static void gen_list(msgpack_packer *pk, const tb_event_desc *d) {
    size_t n = rnd_below(4);
    bool next = one_in(2);
    msgpack_pack_map(pk, next ? 3 : 2);
    msgpack_pack_str_with_body(pk, "items", 5);
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) gen_event(pk, d);
    msgpack_pack_str_with_body(pk, "count", 5);
    msgpack_pack_uint64(pk, one_in(10) ? rnd_below(5) : n);
    if (next) {
        msgpack_pack_str_with_body(pk, "next", 4);
        gen_str(pk, "c:9~", 10);
    }
}

/* Applies one to four random edits in place; buf has room for cap bytes. */
static size_t mutate(unsigned char *buf, size_t len, size_t cap) {
    static const unsigned char interesting[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
                                                0xc0, 0xc1, 0xc4, 0xc7, 0xca, 0xcb, 0xcf, 0xd3,
                                                0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff};
    for (int k = 0, edits = 1 + (int)rnd_below(4); k < edits; k++) {
        size_t pos = rnd_below(len + 1);
        switch (rnd_below(6)) {
        case 0:
            if (pos < len) buf[pos] ^= (unsigned char)(1u << rnd_below(8));
            break;
        case 1:
            len = pos;
            break; /* truncate */
        case 2:
            if (len < cap) {
                memmove(buf + pos + 1, buf + pos, len - pos);
                buf[pos] = (unsigned char)rnd();
                len++;
            }
            break;
        case 3:
            if (pos < len) {
                memmove(buf + pos, buf + pos + 1, len - pos - 1);
                len--;
            }
            break;
        case 4:
            if (pos < len) buf[pos] = interesting[rnd_below(sizeof interesting)];
            break;
        default:
            if (pos < len) buf[pos] = (unsigned char)rnd();
            break;
        }
    }
    return len;
}

static void seed_from_env(void) {
    const char *s = getenv("TB_FUZZ_SEED");
    if (s && *s) g_seed = strtoull(s, NULL, 0);
    const char *n = getenv("TB_FUZZ_ITERS");
    if (n && *n) g_iters = strtol(n, NULL, 0);
    g_rng = g_seed ? g_seed : 1;
}

/* ---- tests ------------------------------------------------------------ */

/* Uniform random bytes, lengths 0..512; the same inputs for every decoder. */
START_TEST(test_random_bytes) {
    seed_from_env();
    unsigned char buf[512];
    for (g_iter = 0; g_iter < g_iters; g_iter++) {
        size_t len = rnd_below(sizeof buf + 1);
        random_bytes(buf, len);
        /* A map header first half the time, so parsing gets past byte one. */
        if (len > 0 && one_in(2)) buf[0] = (unsigned char)(0x80 | rnd_below(16));
        for (size_t e = 0; e < TB_EV_COUNT; e++) check_event(tb_event_descs[e], buf, len);
        check_list(tb_event_descs[rnd_below(TB_EV_COUNT)], buf, len);
        check_raw(buf, len);
    }
}
END_TEST

/* Random msgpack shaped like each event (and list); some decode cleanly. */
START_TEST(test_random_structured) {
    seed_from_env();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (g_iter = 0; g_iter < g_iters; g_iter++) {
        const tb_event_desc *d = tb_event_descs[g_iter % TB_EV_COUNT];
        msgpack_sbuffer_clear(&sb);
        gen_event(&pk, d);
        check_event(d, sb.data, sb.size);
        check_raw(sb.data, sb.size);
        msgpack_sbuffer_clear(&sb);
        gen_list(&pk, d);
        check_list(d, sb.data, sb.size);
        check_raw(sb.data, sb.size);
    }
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* Bit flips, truncations, insertions and deletions of valid encodings. */
START_TEST(test_mutations) {
    seed_from_env();
    long per_sample = g_iters / 50 > 0 ? g_iters / 50 : 1;
    for (size_t e = 0; e < TB_EV_COUNT; e++) {
        const tb_event_desc *d = tb_event_descs[e];
        void *ev = malloc(d->struct_size * 3);
        for (int kind = SAMPLE_ALL; kind <= SAMPLE_EXTREME; kind++) {
            sample_event(d, (char *)ev + (size_t)kind * d->struct_size, (sample_kind)kind, 1);
            msgpack_sbuffer one, list;
            msgpack_sbuffer_init(&one);
            msgpack_sbuffer_init(&list);
            ck_assert_int_eq(tb_encode(d, (char *)ev + (size_t)kind * d->struct_size, &one, NULL),
                             TB_OK);
            ck_assert_int_eq(tb_encode_list(d, ev, (size_t)kind + 1, "n:1", &list, NULL), TB_OK);
            size_t cap = list.size + 64;
            unsigned char *buf = malloc(cap);
            for (g_iter = 0; g_iter < per_sample; g_iter++) {
                memcpy(buf, one.data, one.size);
                size_t len = mutate(buf, one.size, cap);
                check_event(d, buf, len);
                check_raw(buf, len);
                memcpy(buf, list.data, list.size);
                len = mutate(buf, list.size, cap);
                check_list(d, buf, len);
                check_raw(buf, len);
            }
            free(buf);
            msgpack_sbuffer_destroy(&one);
            msgpack_sbuffer_destroy(&list);
        }
        free(ev);
    }
}
END_TEST

static Suite *fuzz_suite(void) {
    Suite *s = suite_create("decode_fuzz");
    TCase *tc = tcase_create("fuzz");
    tcase_set_timeout(tc, 500);
    tcase_add_test(tc, test_random_bytes);
    tcase_add_test(tc, test_random_structured);
    tcase_add_test(tc, test_mutations);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(fuzz_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
