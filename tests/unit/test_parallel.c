/* bus_parallel (bus/parallel.c): every job runs exactly once, up to
 * BUS_PARALLEL_MAX of them at the same time (each of the first ones waits,
 * with a deadline, until that many are running: run one after the other
 * they would all time out), and more jobs than threads still all run. The
 * threads are kept between calls: a second call starts none. */
#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "parallel.h"

static atomic_int running, peak, calls[64];
static int want_together;

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void job(void *arg) {
    int i = *(const int *)arg;
    atomic_fetch_add(&calls[i], 1);
    int now = atomic_fetch_add(&running, 1) + 1;
    int p = atomic_load(&peak);
    while (now > p && !atomic_compare_exchange_weak(&peak, &p, now)) {
    }
    /* The first jobs meet: each waits until want_together run at once. */
    int64_t end = mono_ms() + 5000;
    while (i < want_together && atomic_load(&peak) < want_together && mono_ms() < end) {
        struct timespec d = {0, 1000000};
        nanosleep(&d, NULL);
    }
    atomic_fetch_sub(&running, 1);
}

static void run(int n, int together) {
    static int ids[64];
    void *args[64];
    for (int i = 0; i < 64; i++) {
        atomic_store(&calls[i], 0);
        ids[i] = i;
        args[i] = &ids[i];
    }
    atomic_store(&running, 0);
    atomic_store(&peak, 0);
    want_together = together;
    bus_parallel(job, args, (size_t)n);
    for (int i = 0; i < 64; i++) ck_assert_int_eq(atomic_load(&calls[i]), i < n ? 1 : 0);
    ck_assert_int_eq(atomic_load(&running), 0);
}

START_TEST(jobs_run_once_and_together) {
    run(3, 3);
    ck_assert_int_eq(atomic_load(&peak), 3);
}
END_TEST

START_TEST(more_jobs_than_threads) {
    run(64, BUS_PARALLEL_MAX);
    ck_assert_int_eq(atomic_load(&peak), BUS_PARALLEL_MAX);
}
END_TEST

START_TEST(none_and_one) {
    run(0, 0);
    run(1, 1);
    ck_assert_int_eq(atomic_load(&peak), 1);
}
END_TEST

/* Threads of this process (/proc/self/task). */
static int threads_now(void) {
    DIR *d = opendir("/proc/self/task");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

START_TEST(threads_are_kept) {
    run(4, 4);
    int after_first = threads_now();
    ck_assert_int_ge(after_first, 4); /* the caller and three helpers */
    for (int k = 0; k < 20; k++) {
        run(4, 4);
        ck_assert_int_eq(atomic_load(&peak), 4);
    }
    ck_assert_int_eq(threads_now(), after_first);
}
END_TEST

int main(void) {
    Suite *s = suite_create("parallel");
    TCase *tc = tcase_create("parallel");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, jobs_run_once_and_together);
    tcase_add_test(tc, more_jobs_than_threads);
    tcase_add_test(tc, none_and_one);
    tcase_add_test(tc, threads_are_kept);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
