/* The strategy configuration cache of signal-processing: misses, copies,
 * empty lists, expiry, clearing (and refusing a list loaded before a clear),
 * and the bound on the number of symbols. No servers needed. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sp.h"

static sp_strategy_cfg cfg_of(const char *id, const char *symbol) {
    sp_strategy_cfg c;
    memset(&c, 0, sizeof c);
    snprintf(c.row.strategy_id, sizeof c.row.strategy_id, "%s", id);
    snprintf(c.row.symbol, sizeof c.row.symbol, "%s", symbol);
    c.version = 7;
    return c;
}

START_TEST(miss_put_hit_copy) {
    sp_cache *c = sp_cache_create(60000, 100);
    sp_strategy_cfg *items = NULL;
    size_t n = 9;
    uint64_t gen = 0;
    ck_assert(!sp_cache_get(c, "DAX", &items, &n, &gen));
    ck_assert_ptr_null(items);
    ck_assert_uint_eq(n, 0);
    sp_strategy_cfg two[2] = {cfg_of("a", "DAX"), cfg_of("b", "DAX")};
    sp_cache_put(c, "DAX", two, 2, gen);
    strcpy(two[0].row.strategy_id, "changed"); /* the cache holds its own copy */
    ck_assert(sp_cache_get(c, "DAX", &items, &n, &gen));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(items[0].row.strategy_id, "a");
    ck_assert_str_eq(items[1].row.strategy_id, "b");
    items[1].version = 99; /* and hands out copies */
    free(items);
    ck_assert(sp_cache_get(c, "DAX", &items, &n, &gen));
    ck_assert_int_eq(items[1].version, 7);
    free(items);
    /* a symbol without strategies is a hit with an empty list */
    ck_assert(!sp_cache_get(c, "SMI", &items, &n, &gen));
    sp_cache_put(c, "SMI", NULL, 0, gen);
    ck_assert(sp_cache_get(c, "SMI", &items, &n, &gen));
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(items);
    ck_assert_uint_eq(sp_cache_symbols(c), 2);
    sp_cache_destroy(c);
    sp_cache_destroy(NULL);
}
END_TEST

START_TEST(clear_and_stale_loads) {
    sp_cache *c = sp_cache_create(60000, 100);
    sp_strategy_cfg *items = NULL;
    size_t n;
    uint64_t gen_before = 0, gen = 0;
    sp_strategy_cfg one = cfg_of("a", "DAX");
    ck_assert(!sp_cache_get(c, "DAX", &items, &n, &gen_before));
    sp_cache_put(c, "DAX", &one, 1, gen_before);
    sp_cache_clear(c); /* a strategy changed */
    ck_assert(!sp_cache_get(c, "DAX", &items, &n, &gen));
    ck_assert_uint_eq(sp_cache_symbols(c), 0);
    /* a list loaded before the clear may be outdated: not stored */
    sp_cache_put(c, "DAX", &one, 1, gen_before);
    ck_assert(!sp_cache_get(c, "DAX", &items, &n, &gen));
    sp_cache_put(c, "DAX", &one, 1, gen);
    ck_assert(sp_cache_get(c, "DAX", &items, &n, &gen));
    free(items);
    sp_cache_destroy(c);
}
END_TEST

START_TEST(entries_expire) {
    sp_cache *c = sp_cache_create(20, 100);
    sp_strategy_cfg *items = NULL;
    size_t n;
    uint64_t gen = 0;
    sp_strategy_cfg one = cfg_of("a", "DAX");
    ck_assert(!sp_cache_get(c, "DAX", &items, &n, &gen));
    sp_cache_put(c, "DAX", &one, 1, gen);
    ck_assert(sp_cache_get(c, "DAX", &items, &n, &gen));
    free(items);
    usleep(40000);
    ck_assert(!sp_cache_get(c, "DAX", &items, &n, &gen));
    sp_cache_put(c, "DAX", &one, 1, gen); /* reloaded */
    ck_assert(sp_cache_get(c, "DAX", &items, &n, &gen));
    free(items);
    sp_cache_destroy(c);
}
END_TEST

START_TEST(symbol_count_is_bounded) {
    sp_cache *c = sp_cache_create(60000, 3);
    sp_strategy_cfg *items = NULL;
    size_t n;
    uint64_t gen = 0;
    char sym[16];
    for (int i = 0; i < 10; i++) {
        snprintf(sym, sizeof sym, "S%d", i);
        ck_assert(!sp_cache_get(c, sym, &items, &n, &gen));
        sp_cache_put(c, sym, NULL, 0, gen);
        ck_assert_uint_le(sp_cache_symbols(c), 3);
        ck_assert(sp_cache_get(c, sym, &items, &n, &gen)); /* the newest is always kept */
    }
    sp_cache_destroy(c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sp_cache");
    TCase *tc = tcase_create("cache");
    tcase_add_test(tc, miss_put_hit_copy);
    tcase_add_test(tc, clear_and_stale_loads);
    tcase_add_test(tc, entries_expire);
    tcase_add_test(tc, symbol_count_is_bounded);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
