/* Helpers shared by the tests: configuration for the local servers, waiting,
 * child processes, and a Prometheus exposition-format checker. */
#ifndef TB_TEST_H
#define TB_TEST_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "actor.h"

/* Loads the bus configuration for a test client named service; fails the
 * test when it cannot. */
void tb_test_config(bus_config *cfg, const char *service);

/* Runs every test of s in this process (CK_NOFORK: teardown asserts
 * count, see the house rules) and frees it: main's exit status. */
int tb_test_run_suite(Suite *s);
/* Connects to NATS (SendAsap) or fails the test with a hint to start the
 * servers (scripts/servers start). */
bus_conn *tb_test_conn(const bus_config *cfg);
/* A unique token for names in this run: "t<pid><counter><time>". */
void tb_test_unique(char *out, size_t cap, const char *prefix);

/* Polls pred(arg) every 10 ms until it is true or timeout_ms passed. */
bool tb_test_wait(bool (*pred)(void *arg), void *arg, int64_t timeout_ms);

/* Path of a built binary (TB_BINARY_DIR/<rel>). */
void tb_test_bin(char *out, size_t cap, const char *rel);
/* Starts argv[0] with extra environment entries ("K=V", NULL-terminated,
 * may be NULL); stdout/stderr go to log_path (appended) when not NULL. */
pid_t tb_test_spawn(char *const argv[], char *const env_extra[], const char *log_path);
/* Waits for pid up to timeout_ms; returns the exit status (0..255), 128+sig
 * when killed by a signal, or -1 on timeout (the child is then killed). */
int tb_test_wait_exit(pid_t pid, int64_t timeout_ms);
/* SIGTERM, then tb_test_wait_exit(pid, timeout_ms); 0 when pid <= 0 (already
 * stopped), so a suite's last test can stop its children and assert and its
 * teardown can stop, without asserting, whatever is still running. */
int tb_test_stop(pid_t pid, int64_t timeout_ms);

/* Runs scripts/servers VERB SERVER --no-migrate (TB_SOURCE_DIR), its
 * output appended to log_path; returns its exit status (-1: did not run).
 * For the tests of the serial phase that stop a server and start it again. */
int tb_test_servers(const char *verb, const char *server, const char *log_path);

/* Failures seen off the main thread (fake services' handlers, receiver and
 * submitter threads). A ck_assert there would longjmp from another thread
 * into the main thread's stack (CK_NOFORK), so such code records the failure
 * here (TB_BG_CHECK) and a test on the main thread asserts that none was
 * recorded (tb_test_bg_assert). */
void tb_test_bg_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define TB_BG_CHECK(cond, ...) ((cond) ? (void)0 : tb_test_bg_fail(__FILE__, __LINE__, __VA_ARGS__))
/* Main thread only: fails the calling test with the first recorded
 * background failure (and how many there were), then forgets them. */
void tb_test_bg_assert(void);

/* Checks text against the Prometheus text exposition format 0.0.4: HELP and
 * TYPE lines before samples, valid metric and label names, escaped label
 * values, numeric sample values, histogram buckets cumulative and ending in
 * le="+Inf" equal to _count, _sum and _count present. Returns NULL when valid,
 * else a static message naming the first problem and its line. */
const char *tb_prom_check(const char *text);

/* The value of the first sample of metric name in service's metrics
 * (svc.<service>.metrics, answered by one instance) whose labels contain
 * label (NULL: any sample of the name, with or without labels); -1 when
 * there is none. Fails the test when the request fails. */
double tb_test_service_metric(bus_conn *c, const char *service, const char *name,
                              const char *label);

#endif
