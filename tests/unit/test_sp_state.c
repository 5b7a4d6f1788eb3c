/* Serialised indicator state (what signal-processing keeps in Redis): for
 * every strategy kind, a state encoded and decoded at any point continues
 * exactly like the original (same decisions, same encoding), and malformed,
 * foreign or mismatched state text is refused. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strategy_state.h"

static const char *const kinds[][2] = {
    {"sma_cross", "{\"fast\":4,\"slow\":13}"},
    {"ema_cross", "{\"fast\":4,\"slow\":13}"},
    {"rsi", "{\"period\":9,\"lower\":35,\"upper\":65}"},
    {"bollinger", "{\"period\":12,\"k\":1.5}"},
    {"donchian", "{\"period\":8}"},
};

static tb_fixed price(uint64_t *seed) {
    static int64_t cents = 5000;
    *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
    cents += (int)((*seed >> 33) % 101) - 50;
    if (cents < 100) cents = 100;
    return cents * 1000000;
}

static sp_params params_of(int k) {
    sp_params p;
    tb_error err = {0};
    ck_assert_int_eq(sp_params_parse(kinds[k][0], kinds[k][1], &p, &err), TB_OK);
    return p;
}

START_TEST(round_trip_continues_identically) {
    int k = _i;
    sp_params p = params_of(k);
    sp_state *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    sp_state_init(a, &p, 42);
    uint64_t seed = 99 + (uint64_t)k;
    int fired = 0;
    for (int i = 0; i < 400; i++) {
        /* Round-trip b through text at every step; a never leaves memory. */
        size_t len;
        char *text = sp_state_encode(a, &len);
        ck_assert_ptr_nonnull(text);
        ck_assert_uint_eq(len, strlen(text));
        tb_error err = {0};
        ck_assert_msg(sp_state_decode(text, len, &p, b, &err) == TB_OK, "%s step %d: %s",
                      kinds[k][0], i, err.message);
        int64_t v = 0;
        ck_assert(sp_state_version(text, len, &v));
        ck_assert_int_eq(v, 42);
        tb_fixed px = price(&seed);
        sp_decision da, db;
        ck_assert_int_eq(sp_step(&p, a, px, &da), TB_OK);
        ck_assert_int_eq(sp_step(&p, b, px, &db), TB_OK);
        ck_assert_int_eq(da.side, db.side);
        ck_assert_int_eq(da.ready, db.ready);
        ck_assert_str_eq(da.reason, db.reason);
        fired += da.side != SP_SIDE_NONE;
        /* A decision waits in the state for the next tick (ticks.c): the
         * round trip keeps it exactly, and its absence too. */
        if (da.side != SP_SIDE_NONE) {
            sp_pending pd = {.side = da.side,
                             .seq = (uint64_t)i + 1,
                             .ts = INT64_C(1700000000000000000) + i,
                             .price = px};
            snprintf(pd.reason, sizeof pd.reason, "%s \"quoted\"", da.reason);
            snprintf(pd.trace, sizeof pd.trace, "tr-%d", i);
            a->pending = b->pending = pd;
        } else if (i % 3 == 0) {
            a->pending.side = b->pending.side = SP_SIDE_NONE;
        }
        char *ta = sp_state_encode(a, NULL), *tb = sp_state_encode(b, NULL);
        ck_assert_str_eq(ta, tb);
        free(ta);
        free(tb);
        free(text);
    }
    ck_assert_msg(fired > 0, "%s never fired on the test series", kinds[k][0]);
    free(a);
    free(b);
}
END_TEST

static void refused(const char *text, const sp_params *p) {
    sp_state *s = malloc(sizeof *s);
    memset(s, 0x5a, sizeof *s);
    tb_error err = {0};
    ck_assert_msg(sp_state_decode(text, strlen(text), p, s, &err) == TB_INVALID, "accepted %s",
                  text);
    ck_assert_str_eq(err.field, "state");
    unsigned char *bytes = (unsigned char *)s;
    for (size_t i = 0; i < 64; i++) ck_assert_int_eq(bytes[i], 0x5a); /* untouched */
    free(s);
}

START_TEST(bad_state_is_refused) {
    sp_params sma = params_of(0), rsi = params_of(2);
    refused("", &sma);
    refused("not json", &sma);
    refused("[1,2]", &sma);
    refused(
        "{\"f\":2,\"kind\":\"sma_cross\",\"cfg\":1,\"rel\":0,\"side\":0,\"fast\":[],\"slow\":[]}",
        &sma);
    refused("{\"f\":1,\"kind\":\"rsi\",\"cfg\":1,\"rel\":0,\"side\":0,\"fast\":[],\"slow\":[]}",
            &sma);
    refused(
        "{\"f\":1,\"kind\":\"sma_cross\",\"cfg\":1,\"rel\":5,\"side\":0,\"fast\":[],\"slow\":[]}",
        &sma);
    /* window longer than the period (fast = 4) */
    refused("{\"f\":1,\"kind\":\"sma_cross\",\"cfg\":1,\"rel\":0,\"side\":0,"
            "\"fast\":[1,2,3,4,5],\"slow\":[]}",
            &sma);
    refused("{\"f\":1,\"kind\":\"sma_cross\",\"cfg\":1,\"rel\":0,\"side\":0,\"fast\":[\"1\"],"
            "\"slow\":[]}",
            &sma);
    refused("{\"f\":1,\"kind\":\"sma_cross\",\"cfg\":1,\"rel\":0,\"side\":0,\"fast\":[]}", &sma);
    /* rsi: more changes than the period, bad 128-bit sums, changes without a price */
    refused("{\"f\":1,\"kind\":\"rsi\",\"cfg\":1,\"rel\":0,\"side\":0,\"rsi\":{\"n\":10,\"prev\":1,"
            "\"sg\":\"0\",\"sl\":\"0\",\"ag\":0,\"al\":0}}",
            &rsi);
    refused("{\"f\":1,\"kind\":\"rsi\",\"cfg\":1,\"rel\":0,\"side\":0,\"rsi\":{\"n\":1,\"prev\":1,"
            "\"sg\":\"1x\",\"sl\":\"0\",\"ag\":0,\"al\":0}}",
            &rsi);
    refused(
        "{\"f\":1,\"kind\":\"rsi\",\"cfg\":1,\"rel\":0,\"side\":0,\"rsi\":{\"n\":1,\"prev\":null,"
        "\"sg\":\"0\",\"sl\":\"0\",\"ag\":0,\"al\":0}}",
        &rsi);
    /* a state written for other parameters of the same kind */
    sp_params other;
    tb_error err = {0};
    ck_assert_int_eq(sp_params_parse("sma_cross", "{\"fast\":2,\"slow\":3}", &other, &err), TB_OK);
    sp_state *s = malloc(sizeof *s);
    sp_state_init(s, &sma, 1);
    for (int i = 1; i <= 13; i++) {
        sp_decision d;
        ck_assert_int_eq(sp_step(&sma, s, i * TB_FIXED_SCALE, &d), TB_OK);
    }
    char *text = sp_state_encode(s, NULL);
    refused(text, &other);
    free(text);
    free(s);
    int64_t v;
    ck_assert(!sp_state_version("{}", 2, &v));
    ck_assert(!sp_state_version("x", 1, &v));
}
END_TEST

START_TEST(big_sums_survive) {
    /* Warm-up sums beyond 64 bits are kept as decimal strings. */
    sp_params p;
    tb_error err = {0};
    ck_assert_int_eq(sp_params_parse("ema_cross", "{\"fast\":2,\"slow\":5}", &p, &err), TB_OK);
    sp_state *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    sp_state_init(a, &p, 7);
    sp_decision d;
    for (int i = 0; i < 4; i++) ck_assert_int_eq(sp_step(&p, a, TB_FIXED_MAX - i, &d), TB_OK);
    ck_assert(a->u.ema.slow.seed_sum > (__int128)INT64_MAX);
    char *text = sp_state_encode(a, NULL);
    ck_assert_int_eq(sp_state_decode(text, strlen(text), &p, b, &err), TB_OK);
    ck_assert(a->u.ema.slow.seed_sum == b->u.ema.slow.seed_sum);
    free(text);
    free(a);
    free(b);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sp_state");
    TCase *tc = tcase_create("state");
    tcase_add_loop_test(tc, round_trip_continues_identically, 0, 5);
    tcase_add_test(tc, bad_state_is_refused);
    tcase_add_test(tc, big_sums_survive);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
