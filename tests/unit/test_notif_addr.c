/* Which addresses a webhook may call (notif_addr.h): loopback, private,
 * link-local (cloud metadata), shared, unique-local, multicast, unspecified
 * and reserved addresses are refused, also when written as IPv6; public
 * ones pass; NOTIF_WEBHOOK_ALLOW exempts listed host names and blocks. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "notif_addr.h"

/* addr parsed into a sockaddr of its family (static storage). */
static const struct sockaddr *sa(const char *text) {
    static struct sockaddr_storage st;
    memset(&st, 0, sizeof st);
    struct sockaddr_in *in = (struct sockaddr_in *)&st;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&st;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
    } else {
        ck_assert_msg(inet_pton(AF_INET6, text, &in6->sin6_addr) == 1, "bad address %s", text);
        in6->sin6_family = AF_INET6;
    }
    return (const struct sockaddr *)&st;
}

static const char *kind(const char *text) {
    return notif_addr_forbidden(sa(text));
}

START_TEST(forbidden_kinds) {
    const struct {
        const char *addr, *kind;
    } cases[] = {
        {"127.0.0.1", "loopback"},
        {"127.255.1.2", "loopback"},
        {"::1", "loopback"},
        {"10.0.0.1", "private"},
        {"172.16.0.1", "private"},
        {"172.31.255.254", "private"},
        {"192.168.1.1", "private"},
        {"169.254.169.254", "link-local"},
        {"fe80::1", "link-local"},
        {"100.64.0.1", "shared"},
        {"100.127.255.255", "shared"},
        {"fc00::1", "unique-local"},
        {"fd12:3456::1", "unique-local"},
        {"224.0.0.1", "multicast"},
        {"239.1.2.3", "multicast"},
        {"ff02::1", "multicast"},
        {"0.0.0.0", "unspecified"},
        {"::", "unspecified"},
        {"0.1.2.3", "reserved"},
        {"240.0.0.1", "reserved"},
        {"255.255.255.255", "broadcast"},
        {"::ffff:127.0.0.1", "loopback"},
        {"::ffff:10.1.2.3", "private"},
        {"::ffff:169.254.169.254", "link-local"},
        {"64:ff9b::a00:1", "private"},
        {"::192.168.0.1", "private"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *k = kind(cases[i].addr);
        ck_assert_msg(k != NULL && strcmp(k, cases[i].kind) == 0, "%s: want %s, got %s",
                      cases[i].addr, cases[i].kind, k ? k : "allowed");
    }
}
END_TEST

START_TEST(public_addresses_pass) {
    const char *ok[] = {"93.184.216.34",     "8.8.8.8",     "172.15.255.255", "172.32.0.1",
                        "100.63.255.255",    "100.128.0.1", "11.0.0.1",       "192.169.0.1",
                        "2606:2800:220:1::", "2001:db8::1", "::ffff:8.8.8.8", "64:ff9b::808:808"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        ck_assert_msg(kind(ok[i]) == NULL, "%s refused as %s", ok[i], kind(ok[i]));
    struct sockaddr un = {.sa_family = AF_UNIX};
    ck_assert_str_eq(notif_addr_forbidden(&un), "unsupported");
}
END_TEST

START_TEST(allow_list_parsing) {
    notif_allow a;
    tb_error err = {0};
    ck_assert_int_eq(notif_allow_parse(NULL, &a, &err), TB_OK);
    ck_assert_uint_eq(a.n, 0);
    ck_assert_int_eq(notif_allow_parse(" , ", &a, &err), TB_OK);
    ck_assert_uint_eq(a.n, 0);
    ck_assert_int_eq(
        notif_allow_parse(" hooks.internal , 127.0.0.1,10.1.0.0/16, ::1, fd00::/8 ", &a, &err),
        TB_OK);
    ck_assert_uint_eq(a.n, 5);
    ck_assert(!a.e[0].is_net);
    ck_assert_str_eq(a.e[0].host, "hooks.internal");
    ck_assert(a.e[1].is_net && a.e[1].prefix == 32);
    ck_assert(a.e[2].is_net && a.e[2].prefix == 16);
    ck_assert(a.e[4].is_net && a.e[4].prefix == 8);
    const char *bad[] = {"10.0.0.0/33", "::1/129",  "10.0.0.0/", "10.0.0.0/x",
                         "host/8",      "bad host", "ü"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        ck_assert_msg(notif_allow_parse(bad[i], &a, &err) == TB_INVALID, "%s accepted", bad[i]);
        ck_assert_ptr_nonnull(strstr(err.message, "NOTIF_WEBHOOK_ALLOW"));
    }
    char many[40 * 12] = "";
    for (int i = 0; i < NOTIF_ALLOW_MAX + 1; i++) strcat(many, "h.example,");
    ck_assert_int_eq(notif_allow_parse(many, &a, &err), TB_INVALID);
}
END_TEST

START_TEST(allow_list_exempts) {
    notif_allow a;
    tb_error err = {0};
    ck_assert_int_eq(notif_allow_parse("Hooks.Internal,127.0.0.1,10.1.0.0/16,fd00::/8", &a, &err),
                     TB_OK);
    /* by block */
    ck_assert_ptr_null(notif_addr_refused(&a, "x", sa("127.0.0.1")));
    ck_assert_ptr_null(notif_addr_refused(&a, "x", sa("::ffff:127.0.0.1")));
    ck_assert_str_eq(notif_addr_refused(&a, "x", sa("127.0.0.2")), "loopback");
    ck_assert_str_eq(notif_addr_refused(&a, "x", sa("::1")), "loopback");
    ck_assert_ptr_null(notif_addr_refused(&a, "x", sa("10.1.200.3")));
    ck_assert_str_eq(notif_addr_refused(&a, "x", sa("10.2.0.1")), "private");
    ck_assert_ptr_null(notif_addr_refused(&a, "x", sa("fd00::5")));
    ck_assert_str_eq(notif_addr_refused(&a, "x", sa("fc00::5")), "unique-local");
    /* by host name, whatever it resolves to */
    ck_assert_ptr_null(notif_addr_refused(&a, "hooks.internal", sa("192.168.7.7")));
    ck_assert_str_eq(notif_addr_refused(&a, "hooks.internal.evil", sa("192.168.7.7")), "private");
    /* public addresses need no entry; other families never pass */
    ck_assert_ptr_null(notif_addr_refused(&a, "x", sa("8.8.8.8")));
    struct sockaddr un = {.sa_family = AF_UNIX};
    ck_assert_str_eq(notif_addr_refused(&a, "hooks.internal", &un), "unsupported");
}
END_TEST

START_TEST(formats_addresses) {
    char out[64];
    notif_addr_format(sa("169.254.169.254"), out, sizeof out);
    ck_assert_str_eq(out, "169.254.169.254");
    notif_addr_format(sa("::1"), out, sizeof out);
    ck_assert_str_eq(out, "::1");
    struct sockaddr un = {.sa_family = AF_UNIX};
    notif_addr_format(&un, out, sizeof out);
    ck_assert_str_eq(out, "?");
}
END_TEST

int main(void) {
    Suite *s = suite_create("notif_addr");
    TCase *tc = tcase_create("addr");
    tcase_add_test(tc, forbidden_kinds);
    tcase_add_test(tc, public_addresses_pass);
    tcase_add_test(tc, allow_list_parsing);
    tcase_add_test(tc, allow_list_exempts);
    tcase_add_test(tc, formats_addresses);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
