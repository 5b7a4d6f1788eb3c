/* Webhook event matching of notifications (actors/notifications/notif_match.c):
 * NATS subject wildcards, pattern lists with shorthands, the account filter
 * and URL validation. Expected values follow the NATS subject rules
 * (docs.nats.io "Subject-Based Messaging"). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "notif_match.h"

START_TEST(literal_subjects) {
    ck_assert(notif_subject_match("fills.A1.DAX", "fills.A1.DAX"));
    ck_assert(!notif_subject_match("fills.A1.DAX", "fills.A1.DAX2"));
    ck_assert(!notif_subject_match("fills.A1.DAX", "fills.A1"));
    ck_assert(!notif_subject_match("fills.A1", "fills.A1.DAX"));
    ck_assert(!notif_subject_match("fills.A1.DA", "fills.A1.DAX"));
    ck_assert(!notif_subject_match("", "fills"));
    ck_assert(!notif_subject_match("fills", ""));
}
END_TEST

START_TEST(star_matches_one_token) {
    ck_assert(notif_subject_match("fills.*.DAX", "fills.A1.DAX"));
    ck_assert(notif_subject_match("fills.*.*", "fills.A1.DAX"));
    ck_assert(notif_subject_match("*.*.*", "fills.A1.DAX"));
    ck_assert(!notif_subject_match("fills.*", "fills.A1.DAX"));
    ck_assert(!notif_subject_match("fills.*.DAX", "fills.DAX"));
    ck_assert(!notif_subject_match("fills.*.*.*", "fills.A1.DAX"));
    ck_assert(notif_subject_match("alerts.*.fill", "alerts.critical.fill"));
    ck_assert(!notif_subject_match("alerts.*.fill", "alerts.critical.drawdown"));
}
END_TEST

START_TEST(gt_matches_one_or_more_tokens) {
    ck_assert(notif_subject_match("fills.>", "fills.A1.DAX"));
    ck_assert(notif_subject_match("fills.>", "fills.A1"));
    ck_assert(!notif_subject_match("fills.>", "fills"));
    ck_assert(notif_subject_match(">", "fills.A1.DAX"));
    ck_assert(notif_subject_match("fills.A1.>", "fills.A1.DAX"));
    ck_assert(!notif_subject_match("fills.A2.>", "fills.A1.DAX"));
    ck_assert(notif_subject_match("*.A1.>", "fills.A1.DAX"));
    /* '>' only counts as the last token */
    ck_assert(!notif_subject_match("fills.>.DAX", "fills.A1.DAX"));
    /* a token that merely contains a wildcard character is literal */
    ck_assert(!notif_subject_match("fills.A*.DAX", "fills.A1.DAX"));
}
END_TEST

START_TEST(empty_tokens_never_match) {
    ck_assert(!notif_subject_match("fills.>", "fills..DAX"));
    ck_assert(!notif_subject_match("fills.*.DAX", "fills..DAX"));
    ck_assert(!notif_subject_match("fills.A1.DAX", "fills.A1.DAX."));
    ck_assert(!notif_subject_match(">", ".fills"));
}
END_TEST

static const char *norm(const char *in, tb_status want) {
    static char out[NOTIF_EVENTS_CAP];
    tb_error err = {0};
    tb_status s = notif_patterns_normalize(in, out, sizeof out, &err);
    ck_assert_msg(s == want, "%s: got %s (%s)", in, tb_status_code(s), err.message);
    if (s != TB_OK) ck_assert_str_eq(err.field, "events");
    return out;
}

START_TEST(pattern_lists_are_checked_and_canonical) {
    ck_assert_str_eq(norm("", TB_OK), "");
    ck_assert_str_eq(norm("fills.>", TB_OK), "fills.>");
    ck_assert_str_eq(norm(" fills.> , alerts.*.drawdown ", TB_OK), "fills.>,alerts.*.drawdown");
    ck_assert_str_eq(norm("fill,,alert,", TB_OK), "fill,alert");
    norm("fills.>.x", TB_INVALID);
    norm("fills..x", TB_INVALID);
    norm(".fills", TB_INVALID);
    norm("fills.", TB_INVALID);
    norm("fills.a*", TB_INVALID);
    norm("fills.a b", TB_INVALID);
    norm(",", TB_INVALID);
    norm("fills.\x01", TB_INVALID);
    char big[2 * NOTIF_EVENTS_CAP];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    norm(big, TB_TOO_LONG);
}
END_TEST

START_TEST(lists_and_shorthands) {
    ck_assert(notif_patterns_match("", "fills.A1.DAX"));
    ck_assert(notif_patterns_match("alerts.>,fills.A1.>", "fills.A1.DAX"));
    ck_assert(!notif_patterns_match("alerts.>,fills.A2.>", "fills.A1.DAX"));
    ck_assert(notif_patterns_match("fill", "fills.A1.DAX"));
    ck_assert(notif_patterns_match("risk_decision", "risk.decision.A1"));
    ck_assert(notif_patterns_match("alert", "alerts.info.fill"));
    ck_assert(!notif_patterns_match("alert", "fills.A1.DAX"));
    ck_assert(!notif_patterns_match("fill", "risk.decision.A1"));
}
END_TEST

START_TEST(account_filter) {
    ck_assert(notif_webhook_wants("", "", "fills.A1.DAX", "A1"));
    ck_assert(notif_webhook_wants("", "A1", "fills.A1.DAX", "A1"));
    ck_assert(!notif_webhook_wants("", "A2", "fills.A1.DAX", "A1"));
    /* an event about no account reaches only unfiltered webhooks */
    ck_assert(notif_webhook_wants("alerts.>", "", "alerts.info.price_above", ""));
    ck_assert(!notif_webhook_wants("alerts.>", "A1", "alerts.info.price_above", ""));
    ck_assert(!notif_webhook_wants("fills.>", "A1", "risk.decision.A1", "A1"));
}
END_TEST

static tb_status url(const char *u) {
    tb_error err = {0};
    tb_status s = notif_url_validate(u, 512, &err);
    if (s != TB_OK) ck_assert_str_eq(err.field, "url");
    return s;
}

START_TEST(only_http_urls) {
    ck_assert_int_eq(url("http://127.0.0.1:8080/hook"), TB_OK);
    ck_assert_int_eq(url("https://example.com"), TB_OK);
    ck_assert_int_eq(url("https://user:pw@example.com:443/a?b=c#d"), TB_OK);
    ck_assert_int_eq(url("http://[::1]:9000/x"), TB_OK);
    ck_assert_int_eq(url("ftp://example.com/x"), TB_INVALID);
    ck_assert_int_eq(url("file:///etc/passwd"), TB_INVALID);
    ck_assert_int_eq(url("gopher://example.com"), TB_INVALID);
    ck_assert_int_eq(url("HTTP://example.com"), TB_INVALID);
    ck_assert_int_eq(url("http://"), TB_INVALID);
    ck_assert_int_eq(url("http:///path"), TB_INVALID);
    ck_assert_int_eq(url("http://:80/"), TB_INVALID);
    ck_assert_int_eq(url("http://[]/"), TB_INVALID);
    ck_assert_int_eq(url("http://exa mple.com/"), TB_INVALID);
    ck_assert_int_eq(url("http://example.com/\n"), TB_INVALID);
    ck_assert_int_eq(url("example.com"), TB_INVALID);
    ck_assert_int_eq(url(""), TB_MISSING_FIELD);
    char big[600] = "http://example.com/";
    memset(big + strlen(big), 'a', 550);
    big[599] = '\0';
    ck_assert_int_eq(url(big), TB_TOO_LONG);
}
END_TEST

int main(void) {
    Suite *s = suite_create("notif_match");
    TCase *tc = tcase_create("match");
    tcase_add_test(tc, literal_subjects);
    tcase_add_test(tc, star_matches_one_token);
    tcase_add_test(tc, gt_matches_one_or_more_tokens);
    tcase_add_test(tc, empty_tokens_never_match);
    tcase_add_test(tc, pattern_lists_are_checked_and_canonical);
    tcase_add_test(tc, lists_and_shorthands);
    tcase_add_test(tc, account_filter);
    tcase_add_test(tc, only_http_urls);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
