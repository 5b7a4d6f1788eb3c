/* Webhook delivery rules of notifications (actors/notifications/notif_webhook.c):
 * HMAC-SHA256 signatures against RFC 4231 and Python hmac vectors, the
 * payload, the retry schedule and the outcome of an attempt. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "notif_webhook.h"

START_TEST(hmac_rfc4231_vectors) {
    char hex[NOTIF_HMAC_HEX_LEN + 1];
    /* RFC 4231 test case 2 */
    const char *data = "what do ya want for nothing?";
    notif_hmac_sha256_hex("Jefe", data, strlen(data), hex);
    ck_assert_str_eq(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* RFC 4231 test case 1: key = 20 bytes of 0x0b */
    char key[21];
    memset(key, 0x0b, 20);
    key[20] = '\0';
    notif_hmac_sha256_hex(key, "Hi There", 8, hex);
    ck_assert_str_eq(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* empty body (Python: hmac.new(b'k', b'', sha256)) */
    notif_hmac_sha256_hex("k", "", 0, hex);
    ck_assert_str_eq(hex, "8bb990c40a7d61cb97597a942125025be50ac8beb74436e3735b98893a7f6620");
}
END_TEST

START_TEST(signature_header) {
    const char *body = "{\"id\":\"fill:F1\"}";
    char sig[NOTIF_SIGNATURE_LEN + 1];
    notif_signature("whsec_test", body, strlen(body), sig);
    /* Python: hmac.new(b'whsec_test', body, sha256).hexdigest() */
    ck_assert_str_eq(sig,
                     "sha256=c905791d5af7de26474f5ca51aa432599dd514599cec2b72e9959fba0d152294");
    ck_assert(notif_signature_ok("whsec_test", body, strlen(body), sig));
    ck_assert(!notif_signature_ok("whsec_other", body, strlen(body), sig));
    ck_assert(!notif_signature_ok("whsec_test", "{}", 2, sig));
    ck_assert(!notif_signature_ok("whsec_test", body, strlen(body), "sha256=00"));
    ck_assert(!notif_signature_ok("whsec_test", body, strlen(body), NULL));
}
END_TEST

START_TEST(secrets_and_keys) {
    unsigned char rnd[24];
    for (int i = 0; i < 24; i++) rnd[i] = (unsigned char)(i * 11);
    char secret[TB_ID_CAP];
    notif_secret_format(rnd, sizeof rnd, secret, sizeof secret);
    ck_assert_str_eq(secret, "whsec_000b16212c37424d58636e79848f9aa5b0bbc6d1dce7f2fd");
    ck_assert_uint_eq(strlen(secret), 54);
    char id[128], key[256];
    notif_event_id(NOTIF_EVENT_FILL, "F-1", id, sizeof id);
    ck_assert_str_eq(id, "fill:F-1");
    notif_idempotency_key("wh-1", id, key, sizeof key);
    ck_assert_str_eq(key, "wh-1:fill:F-1");
}
END_TEST

START_TEST(payload_wraps_the_event) {
    tb_fill f;
    memset(&f, 0, sizeof f);
    snprintf(f.fill_id, sizeof f.fill_id, "F-1");
    snprintf(f.order_id, sizeof f.order_id, "O-1");
    snprintf(f.account, sizeof f.account, "A1");
    snprintf(f.symbol, sizeof f.symbol, "DAX");
    snprintf(f.side, sizeof f.side, "sell");
    f.qty = 150000000;
    f.price = 1600000000000;
    f.ts = 1000000000;
    tb_error err = {0};
    json_t *j = notif_payload("fill", "fill:F-1", "fills.A1.DAX", &tb_fill_desc, &f, &err);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "fill:F-1");
    ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "fill");
    ck_assert_str_eq(json_string_value(json_object_get(j, "subject")), "fills.A1.DAX");
    json_t *d = json_object_get(j, "data");
    ck_assert_str_eq(json_string_value(json_object_get(d, "qty")), "1.5");
    ck_assert_str_eq(json_string_value(json_object_get(d, "price")), "16000");
    ck_assert_str_eq(json_string_value(json_object_get(d, "ts")), "1970-01-01T00:00:01.000000000Z");
    json_decref(j);
    /* an event that fails validation is refused, not sent */
    f.side[0] = '\0';
    ck_assert_ptr_null(notif_payload("fill", "fill:F-1", "fills.A1.DAX", &tb_fill_desc, &f, &err));
    ck_assert_int_eq(err.status, TB_INVALID);
}
END_TEST

START_TEST(backoff_schedule) {
    /* base 1 s doubling, cap 60 s: 1 2 4 8 16 32 60 60 */
    const int64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
    for (int i = 0; i < 8; i++) ck_assert_int_eq(notif_backoff_ms(i + 1, 1000, 60000), want[i]);
    ck_assert_int_eq(notif_backoff_ms(1000, 1000, 60000), 60000); /* no overflow */
    ck_assert_int_eq(notif_backoff_ms(200, INT64_MAX / 4, INT64_MAX), INT64_MAX);
    ck_assert_int_eq(notif_backoff_ms(0, 500, 60000), 500);
    ck_assert_int_eq(notif_backoff_ms(3, 0, 60000), 0);
    ck_assert_int_eq(notif_backoff_ms(3, 100, 150), 150);
}
END_TEST

START_TEST(outcomes) {
    ck_assert_int_eq(notif_delivery_outcome(200, 1, 3), NOTIF_DELIVERED);
    ck_assert_int_eq(notif_delivery_outcome(204, 3, 3), NOTIF_DELIVERED);
    ck_assert_int_eq(notif_delivery_outcome(299, 9, 3), NOTIF_DELIVERED);
    ck_assert_int_eq(notif_delivery_outcome(500, 1, 3), NOTIF_RETRY);
    ck_assert_int_eq(notif_delivery_outcome(301, 2, 3), NOTIF_RETRY);
    ck_assert_int_eq(notif_delivery_outcome(0, 2, 3), NOTIF_RETRY);
    ck_assert_int_eq(notif_delivery_outcome(500, 3, 3), NOTIF_DEAD);
    ck_assert_int_eq(notif_delivery_outcome(0, 1, 1), NOTIF_DEAD);
    ck_assert_int_eq(notif_delivery_outcome(199, 1, 2), NOTIF_RETRY);
    ck_assert_str_eq(notif_outcome_name(NOTIF_DEAD), "dead");
    ck_assert_str_eq(notif_outcome_name(NOTIF_DELIVERED), "delivered");
    ck_assert_str_eq(notif_outcome_name(NOTIF_RETRY), "retry");
}
END_TEST

int main(void) {
    Suite *s = suite_create("notif_webhook");
    TCase *tc = tcase_create("webhook");
    tcase_add_test(tc, hmac_rfc4231_vectors);
    tcase_add_test(tc, signature_header);
    tcase_add_test(tc, secrets_and_keys);
    tcase_add_test(tc, payload_wraps_the_event);
    tcase_add_test(tc, backoff_schedule);
    tcase_add_test(tc, outcomes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
