/* A JetStream consumer lost with the server's store: NATS stops, the
 * consumer's directory goes from its store, NATS starts again. Nothing
 * tells the worker (a deletion through the API sends its pending pull
 * request a 409, a lost store sends nothing): its request simply never
 * ends. The fetch loop finds the consumer missing after some idle
 * requests (bus/dispatch.c), binds it again and handles what was published
 * meanwhile: every order published after the restart is processed, within
 * a deadline, and the worker's log says it bound the consumer again.
 *
 * The test stops the NATS server it runs against: it belongs to the serial
 * integration phase (scripts/test), and starts NATS again before it ends,
 * also when it fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tb_worker.h"

#define N_BEFORE 5
#define N_AFTER  5
#define BACK_MS  30000 /* idle requests of 0.5 s, the idle check every 10 */

static tb_worker w;
static char servers_log[256];
static pid_t worker;

static void setup(void) {
    tb_worker_setup(&w, "stream-lost-test", "SL", "test_stream_lost");
    snprintf(servers_log, sizeof servers_log, "%s/test_stream_lost-servers.log",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp");
}

static void teardown(void) {
    (void)tb_test_servers("start", "nats", servers_log); /* never leave it down */
    (void)tb_test_stop(worker, 10000);
    tb_worker_teardown(&w);
}

/* Publishes order next_order; false while NATS (or its JetStream) is not
 * back. */
static int next_order;
static bool published(void *arg) {
    (void)arg;
    return tb_worker_publish(&w, next_order, "DAX");
}

static long long want;
static bool reached(void *arg) {
    (void)arg;
    return tb_worker_processed(&w) >= want;
}

/* Whether the worker's log holds text. */
static bool log_has(const char *text) {
    FILE *f = fopen(w.log_path, "r");
    if (f == NULL) return false;
    char line[2048];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

/* Removes the durable's directory from the stopped server's store. */
static int drop_consumer_store(void) {
    static const char script[] =
        "source \"$TB_SOURCE_DIR/scripts/lib.sh\"\n"
        "dirs=$(find \"$TB_DATA/nats\" -type d -path \"*/streams/ORDERS/obs/$1\")\n"
        "[ -n \"$dirs\" ] || exit 3\n"
        "rm -rf $dirs\n";
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "bash -c '%s' drop '%s' >>'%s' 2>&1", script, w.durable, servers_log);
    int rc = system(cmd);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(consumer_lost_with_the_store_is_bound_again) {
    worker = tb_worker_start(&w, "0");
    for (int i = 0; i < N_BEFORE; i++) ck_assert(tb_worker_publish(&w, i, "DAX"));
    want = N_BEFORE;
    ck_assert_msg(tb_test_wait(reached, NULL, 15000), "processed %lld of %d before the restart",
                  tb_worker_processed(&w), N_BEFORE);

    ck_assert_int_eq(tb_test_servers("stop", "nats", servers_log), 0);
    ck_assert_int_eq(drop_consumer_store(), 0);
    ck_assert_int_eq(tb_test_servers("start", "nats", servers_log), 0);

    for (int i = N_BEFORE; i < N_BEFORE + N_AFTER; i++) {
        next_order = i;
        ck_assert_msg(tb_test_wait(published, NULL, 20000), "order %d not published", i);
    }
    want = N_BEFORE + N_AFTER;
    bool all = tb_test_wait(reached, NULL, BACK_MS);
    ck_assert_msg(all, "processed %lld of %d within %d ms of the restart (log: %s)",
                  tb_worker_processed(&w), N_BEFORE + N_AFTER, BACK_MS, w.log_path);
    ck_assert_msg(log_has("bound again"), "the worker's log does not say it bound %s again",
                  w.durable);
    ck_assert_int_eq(tb_test_stop(worker, 10000), 0);
    worker = 0;
}
END_TEST

int main(void) {
    Suite *s = suite_create("stream_lost");
    TCase *tc = tcase_create("stream_lost");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, consumer_lost_with_the_store_is_bound_again);
    suite_add_tcase(s, tc);
    return tb_test_run_suite(s);
}
