/* Test helpers; see tb_test.h. */
#include "tb_test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void tb_test_config(bus_config *cfg, const char *service) {
    tb_error err = {0};
    tb_status s = bus_config_load(cfg, service, &err);
    ck_assert_msg(s == TB_OK, "config: %s", err.message);
}

bus_conn *tb_test_conn(const bus_config *cfg) {
    bus_conn *c = NULL;
    tb_error err = {0};
    bus_conn_opts o = {.name = cfg->service, .send_asap = true};
    tb_status s = bus_conn_open(cfg, &o, &c, &err);
    ck_assert_msg(s == TB_OK, "%s (start the servers: scripts/servers start)", err.message);
    return c;
}

void tb_test_unique(char *out, size_t cap, const char *prefix) {
    static int counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, cap, "%s%d%d%ld", prefix, (int)getpid(), ++counter, (long)(ts.tv_nsec / 1000));
}

bool tb_test_wait(bool (*pred)(void *arg), void *arg, int64_t timeout_ms) {
    int64_t end = bus_mono_ns() + timeout_ms * 1000000;
    while (!pred(arg)) {
        if (bus_mono_ns() > end) return false;
        usleep(10000);
    }
    return true;
}

void tb_test_bin(char *out, size_t cap, const char *rel) {
    const char *dir = getenv("TB_BINARY_DIR");
    snprintf(out, cap, "%s/%s", dir ? dir : ".", rel);
}

pid_t tb_test_spawn(char *const argv[], char *const env_extra[], const char *log_path) {
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* A child must not outlive a test that failed and exited early: a
         * stray worker would consume the shared durables of later tests. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (int i = 0; env_extra && env_extra[i]; i++) putenv(env_extra[i]);
        if (log_path) {
            int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, STDOUT_FILENO);
                dup2(fd, STDERR_FILENO);
                close(fd);
            }
        }
        /* Nothing of the test process but stdin, stdout and stderr: an
         * inherited descriptor (Check's message file among them) must not
         * be written to by a service. */
        closefrom(3);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

int tb_test_wait_exit(pid_t pid, int64_t timeout_ms) {
    int64_t end = bus_mono_ns() + timeout_ms * 1000000;
    for (;;) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (bus_mono_ns() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(10000);
    }
}

int tb_test_stop(pid_t pid, int64_t timeout_ms) {
    if (pid <= 0) return 0;
    kill(pid, SIGTERM);
    return tb_test_wait_exit(pid, timeout_ms);
}

static pthread_mutex_t bg_lock = PTHREAD_MUTEX_INITIALIZER;
static char bg_first[512];
static int bg_count;

void tb_test_bg_fail(const char *file, int line, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Also on stderr at once: the main thread may only look much later. */
    fprintf(stderr, "%s:%d: background failure: %s\n", file, line, msg);
    pthread_mutex_lock(&bg_lock);
    if (bg_count++ == 0) snprintf(bg_first, sizeof bg_first, "%s:%d: %s", file, line, msg);
    pthread_mutex_unlock(&bg_lock);
}

void tb_test_bg_assert(void) {
    pthread_mutex_lock(&bg_lock);
    int n = bg_count;
    char first[sizeof bg_first];
    snprintf(first, sizeof first, "%s", bg_first);
    bg_count = 0;
    bg_first[0] = '\0';
    pthread_mutex_unlock(&bg_lock);
    ck_assert_msg(n == 0, "%d failure(s) off the main thread, the first: %s", n, first);
}

int tb_test_run_suite(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

int tb_test_servers(const char *verb, const char *server, const char *log_path) {
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "'%s/scripts/servers' %s %s --no-migrate >>'%s' 2>&1",
             getenv("TB_SOURCE_DIR") ? getenv("TB_SOURCE_DIR") : ".", verb, server, log_path);
    int rc = system(cmd);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}
