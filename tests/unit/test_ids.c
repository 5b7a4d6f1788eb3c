/* bus_new_id: 32 lowercase hex digits, unique, and led by the creation time
 * in milliseconds, so ids sort by creation time (index inserts stay on the
 * right edge of a B-tree instead of a random page each). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tb_test.h"

static unsigned long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (unsigned long long)ts.tv_sec * 1000u + (unsigned long long)ts.tv_nsec / 1000000u;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

START_TEST(format_and_time_prefix) {
    char id[33];
    unsigned long long before = now_ms();
    bus_new_id(id, sizeof id);
    unsigned long long after = now_ms();
    ck_assert_uint_eq(strlen(id), 32);
    ck_assert_uint_eq(strspn(id, "0123456789abcdef"), 32);
    char head[13];
    memcpy(head, id, 12);
    head[12] = '\0';
    unsigned long long ms = strtoull(head, NULL, 16);
    ck_assert_uint_ge(ms, before);
    ck_assert_uint_le(ms, after);
}
END_TEST

START_TEST(unique_and_time_ordered) {
    enum { N = 20000 };
    static char ids[N][33];
    static const char *sorted[N];
    char first[33], later[33];
    bus_new_id(first, sizeof first);
    for (int i = 0; i < N; i++) {
        bus_new_id(ids[i], sizeof ids[i]);
        sorted[i] = ids[i];
    }
    qsort(sorted, N, sizeof sorted[0], cmp_str);
    for (int i = 1; i < N; i++) ck_assert_str_ne(sorted[i - 1], sorted[i]);
    /* An id made in a later millisecond sorts after every earlier one. */
    struct timespec pause = {.tv_nsec = 3 * 1000000L};
    nanosleep(&pause, NULL);
    bus_new_id(later, sizeof later);
    ck_assert_int_lt(strcmp(first, later), 0);
    ck_assert_int_lt(strcmp(sorted[N - 1], later), 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("ids");
    TCase *tc = tcase_create("ids");
    tcase_add_test(tc, format_and_time_prefix);
    tcase_add_test(tc, unique_and_time_ordered);
    suite_add_tcase(s, tc);
    return tb_test_run_suite(s);
}
