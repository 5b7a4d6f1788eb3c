/* API key format: generated keys are well formed and distinct, hashes are
 * SHA-256 (checked against the FIPS 180-2 vector), comparison is exact, and
 * account lists are validated. */
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "tb_test.h"

START_TEST(generated_keys) {
    char seen[200][GW_KEY_LEN + 1];
    for (int i = 0; i < 200; i++) {
        char id[32];
        tb_error err;
        ck_assert_int_eq(gw_key_generate(seen[i], sizeof seen[i], id, sizeof id, &err), TB_OK);
        ck_assert(gw_key_well_formed(seen[i]));
        ck_assert_uint_eq(strlen(id), 20);
        ck_assert(strncmp(id, "key_", 4) == 0);
        for (int k = 0; k < i; k++) ck_assert_str_ne(seen[k], seen[i]);
    }
    char small[8], id[32];
    tb_error err;
    ck_assert_int_eq(gw_key_generate(small, sizeof small, id, sizeof id, &err), TB_INVALID);
}
END_TEST

START_TEST(format) {
    ck_assert(gw_key_well_formed("tb_0123456789abcdef0123456789abcdef01234567"));
    ck_assert(!gw_key_well_formed("tb_0123456789ABCDEF0123456789abcdef01234567"));
    ck_assert(!gw_key_well_formed("tb_0123456789abcdef0123456789abcdef0123456"));
    ck_assert(!gw_key_well_formed("tb_0123456789abcdef0123456789abcdef012345678"));
    ck_assert(!gw_key_well_formed("xx_0123456789abcdef0123456789abcdef01234567"));
    ck_assert(!gw_key_well_formed(""));
    ck_assert(!gw_key_well_formed(NULL));
    char prefix[GW_KEY_PREFIX_LEN + 1];
    gw_key_prefix("tb_0123456789abcdef0123456789abcdef01234567", prefix);
    ck_assert_str_eq(prefix, "tb_01234567");
}
END_TEST

START_TEST(hashes) {
    char h[GW_KEY_HASH_HEX], h2[GW_KEY_HASH_HEX];
    gw_key_hash("abc", 3, h);
    ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    gw_key_hash("abd", 3, h2);
    ck_assert(gw_key_hash_equal(h, h));
    ck_assert(!gw_key_hash_equal(h, h2));
    ck_assert(!gw_key_hash_equal(h, "ba7816bf"));
}
END_TEST

START_TEST(account_lists) {
    ck_assert(gw_account_list_valid(""));
    ck_assert(gw_account_list_valid("A"));
    ck_assert(gw_account_list_valid("A,b-2,c_3"));
    ck_assert(!gw_account_list_valid("A,,B"));
    ck_assert(!gw_account_list_valid("A,"));
    ck_assert(!gw_account_list_valid(",A"));
    ck_assert(!gw_account_list_valid("A,A"));
    ck_assert(!gw_account_list_valid("A B"));
    ck_assert(!gw_account_list_valid("A.B"));
    ck_assert(!gw_account_list_valid("A,*"));
}
END_TEST

int main(void) {
    Suite *s = suite_create("gw_keys");
    TCase *tc = tcase_create("keys");
    tcase_add_test(tc, generated_keys);
    tcase_add_test(tc, format);
    tcase_add_test(tc, hashes);
    tcase_add_test(tc, account_lists);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
