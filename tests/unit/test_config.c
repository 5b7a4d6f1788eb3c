/* Configuration from the environment: defaults, malformed values rejected,
 * Redis URL parsing, URL redaction. */
#include <stdlib.h>
#include <string.h>

#include "tb_test.h"

START_TEST(defaults_and_overrides) {
    unsetenv("NATS_URL");
    unsetenv("DATABASE_URL");
    unsetenv("REDIS_URL");
    unsetenv("INSTANCE_ID");
    unsetenv("LOG_LEVEL");
    unsetenv("BUS_REQUEST_TIMEOUT_MS");
    bus_config c;
    tb_error err = {0};
    /* The server URLs carry passwords: no built-in value stands in. */
    ck_assert_int_eq(bus_config_load(&c, "svc", &err), TB_MISSING_FIELD);
    ck_assert_str_eq(err.field, "NATS_URL");
    ck_assert_ptr_nonnull(strstr(err.message, "NATS_URL is not set"));
    setenv("NATS_URL", "", 1); /* empty is unset */
    ck_assert_int_eq(bus_config_load(&c, "svc", &err), TB_MISSING_FIELD);
    setenv("NATS_URL", "nats://u:p@127.0.0.1:4222", 1);
    ck_assert_int_eq(bus_config_load(&c, "svc", &err), TB_OK);
    ck_assert_str_eq(c.nats_url, "nats://u:p@127.0.0.1:4222");
    ck_assert_str_eq(c.database_url, "");
    ck_assert_str_eq(c.redis_url, "");
    ck_assert_int_eq(bus_config_require(&c, false, false, &err), TB_OK);
    ck_assert_int_eq(bus_config_require(&c, true, false, &err), TB_MISSING_FIELD);
    ck_assert_str_eq(err.field, "DATABASE_URL");
    ck_assert_int_eq(bus_config_require(&c, false, true, &err), TB_MISSING_FIELD);
    ck_assert_str_eq(err.field, "REDIS_URL");
    setenv("DATABASE_URL", "postgresql://u:p@127.0.0.1:5432/db", 1);
    setenv("REDIS_URL", "redis://127.0.0.1:6379/0", 1);
    ck_assert_int_eq(bus_config_load(&c, "svc", &err), TB_OK);
    ck_assert_int_eq(bus_config_require(&c, true, true, &err), TB_OK);
    ck_assert_str_eq(c.database_url, "postgresql://u:p@127.0.0.1:5432/db");
    ck_assert_int_eq(c.request_timeout_ms, 2000);
    ck_assert_uint_gt(strlen(c.instance), 8);
    setenv("INSTANCE_ID", "w1", 1);
    setenv("LOG_LEVEL", "debug", 1);
    ck_assert_int_eq(bus_config_load(&c, "svc", &err), TB_OK);
    ck_assert_str_eq(c.instance, "w1");
    ck_assert_int_eq(c.log_level, BUS_LOG_DEBUG);
    setenv("BUS_REQUEST_TIMEOUT_MS", "12x", 1);
    ck_assert_int_eq(bus_config_load(&c, "svc", &err), TB_INVALID);
    ck_assert_str_eq(err.field, "BUS_REQUEST_TIMEOUT_MS");
    unsetenv("BUS_REQUEST_TIMEOUT_MS");
    setenv("INSTANCE_ID", "a.b", 1); /* would break $SRV subjects */
    ck_assert_int_eq(bus_config_load(&c, "svc", &err), TB_INVALID);
    unsetenv("INSTANCE_ID");
    setenv("LOG_LEVEL", "loud", 1);
    ck_assert_int_eq(bus_config_load(&c, "svc", &err), TB_INVALID);
    unsetenv("LOG_LEVEL");
}
END_TEST

START_TEST(env_int_and_bool) {
    int64_t v;
    bool b;
    tb_error err = {0};
    setenv("TB_T_INT", "42", 1);
    ck_assert_int_eq(bus_env_int("TB_T_INT", 1, 0, 100, &v, &err), TB_OK);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(bus_env_int("TB_T_INT", 1, 0, 10, &v, &err), TB_INVALID);
    unsetenv("TB_T_INT");
    ck_assert_int_eq(bus_env_int("TB_T_INT", 7, 0, 10, &v, &err), TB_OK);
    ck_assert_int_eq(v, 7);
    setenv("TB_T_BOOL", "yes", 1);
    ck_assert_int_eq(bus_env_bool("TB_T_BOOL", false, &b, &err), TB_OK);
    ck_assert(b);
    setenv("TB_T_BOOL", "maybe", 1);
    ck_assert_int_eq(bus_env_bool("TB_T_BOOL", false, &b, &err), TB_INVALID);
}
END_TEST

START_TEST(redis_url) {
    bus_redis_addr a;
    tb_error err = {0};
    ck_assert_int_eq(bus_redis_addr_parse("redis://127.0.0.1:16379/2", &a, &err), TB_OK);
    ck_assert_str_eq(a.host, "127.0.0.1");
    ck_assert_int_eq(a.port, 16379);
    ck_assert_int_eq(a.db, 2);
    ck_assert_int_eq(bus_redis_addr_parse("redis://:s3cret@host", &a, &err), TB_OK);
    ck_assert_str_eq(a.password, "s3cret");
    ck_assert_int_eq(a.port, 6379);
    ck_assert_int_eq(bus_redis_addr_parse("http://host", &a, &err), TB_INVALID);
    ck_assert_int_eq(bus_redis_addr_parse("redis://host:99999", &a, &err), TB_INVALID);
    ck_assert_int_eq(bus_redis_addr_parse("redis://host:1/x", &a, &err), TB_INVALID);
    char out[128];
    bus_url_redact("nats://u:pw@h:1", out, sizeof out);
    ck_assert_str_eq(out, "nats://u:***@h:1");
    bus_url_redact("redis://h:1/0", out, sizeof out);
    ck_assert_str_eq(out, "redis://h:1/0");
}
END_TEST

int main(void) {
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, defaults_and_overrides);
    tcase_add_test(tc, env_int_and_bool);
    tcase_add_test(tc, redis_url);
    suite_add_tcase(s, tc);
    return tb_test_run_suite(s);
}
