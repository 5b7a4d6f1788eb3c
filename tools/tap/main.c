/* tb-tap: prints every message on one or more subject patterns as one JSON
 * line, decoded with the event catalogue by the message's Tb-Schema header.
 *
 *   $ eval "$(scripts/env)"
 *   $ build/tools/tap/tb-tap 'fills.>'
 *   {"subject":"fills.DEMO.DAX","schema":"fill","trace_id":"4c1d...","data":{"fill_id":...}}
 *   ^C
 *   tb-tap: 1 message
 *
 * A plain core subscription: it sees what is published from now on (also on
 * subjects that JetStream streams capture) and takes nothing away from the
 * services' queue groups or durable consumers. Reads only NATS_URL (and
 * LOG_LEVEL). Output on stdout, the final count and problems on stderr. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"
#include "wire.h"

#define TAP_MAX_SUBJECTS 32

typedef struct tap_state {
    bool raw;
    long long limit; /* 0 = no limit */
    pthread_mutex_t lock;
    long long printed;
    bool output_closed;
    int wake_fd; /* write end of the self-pipe */
} tap_state;

static int signal_fd = -1;

static void on_signal(int sig) {
    (void)sig;
    char b = 's';
    if (signal_fd >= 0) {
        ssize_t r = write(signal_fd, &b, 1);
        (void)r; /* a full pipe already holds a wake-up */
    }
}

static void wake(int fd) {
    char b = 'w';
    ssize_t r = write(fd, &b, 1);
    (void)r; /* a full pipe already holds a wake-up */
}

static json_t *nullable(const char *s) {
    return s && s[0] ? json_string(s) : json_null();
}

static void on_message(const bus_msg *m, void *arg) {
    tap_state *t = arg;
    const char *schema = bus_msg_header(m, BUS_HDR_SCHEMA);
    tb_error note = {0};
    json_t *data = tool_payload_json(bus_msg_header(m, BUS_HDR_CONTENT_TYPE), schema,
                                     bus_msg_data(m), bus_msg_len(m), t->raw, &note);
    json_t *line =
        json_pack("{s:s, s:o, s:o, s:o}", "subject", bus_msg_subject(m), "schema",
                  nullable(t->raw ? NULL : schema), "trace_id",
                  nullable(bus_msg_header(m, BUS_HDR_TRACE)), "data", data ? data : json_null());
    if (line && note.message[0]) json_object_set_new(line, "error", json_string(note.message));
    pthread_mutex_lock(&t->lock);
    /* Messages already queued when the limit was reached are dropped, so
     * --count N prints exactly N lines. */
    if (!t->output_closed && (t->limit == 0 || t->printed < t->limit)) {
        if (tool_print_line(stdout, line)) {
            t->printed++;
            if (t->limit > 0 && t->printed == t->limit) wake(t->wake_fd);
        } else {
            t->output_closed = true;
            wake(t->wake_fd);
        }
        line = NULL;
    }
    pthread_mutex_unlock(&t->lock);
    json_decref(line);
}

static void usage(FILE *f) {
    fprintf(f, "Usage: tb-tap [--raw] [--count N] [--timeout S] SUBJECT...\n"
               "\n"
               "Subscribes to each SUBJECT pattern (NATS wildcards: '*' one token, '>' the\n"
               "rest) and prints every message as one JSON line on stdout:\n"
               "  {\"subject\":...,\"schema\":...,\"trace_id\":...,\"data\":...}\n"
               "data is the payload decoded with the event catalogue by its Tb-Schema\n"
               "header (money as decimal strings, times as RFC 3339); payloads of unknown\n"
               "schema are converted without one, JSON and text payloads shown as they are.\n"
               "On exit (Ctrl-C, SIGTERM, --count reached or --timeout) it prints the\n"
               "number of messages on stderr.\n"
               "\n"
               "  --raw        schema-less conversion for every message (the msgpack map as\n"
               "               it is on the wire: fixed-point numbers as integers x 1e8)\n"
               "  --count N    exit after N messages (exit status 1 if --timeout ends first)\n"
               "  --timeout S  exit after S seconds\n"
               "  -h, --help   this text\n"
               "\n"
               "Examples:\n"
               "  tb-tap 'fills.>'                every fill\n"
               "  tb-tap --count 5 'md.tick.DAX'  five DAX ticks\n"
               "  tb-tap 'orders.>' 'risk.>'      the order path\n"
               "\n");
    bus_config_usage(f);
}

int main(int argc, char **argv) {
    tool_init("tb-tap");
    tap_state t = {.lock = PTHREAD_MUTEX_INITIALIZER};
    long long timeout_s = 0;
    const char *subjects[TAP_MAX_SUBJECTS];
    int nsubjects = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return TOOL_EXIT_OK;
        } else if (strcmp(a, "--raw") == 0) {
            t.raw = true;
        } else if (strcmp(a, "--count") == 0 || strcmp(a, "--timeout") == 0) {
            long long *dst = a[2] == 'c' ? &t.limit : &timeout_s;
            if (i + 1 >= argc || !tool_parse_int(argv[i + 1], 1, 1000000000LL, dst)) {
                tool_errorf("%s needs a positive whole number", a);
                return TOOL_EXIT_USAGE;
            }
            i++;
        } else if (a[0] == '-' && a[1] != '\0') {
            tool_errorf("unknown option %s (see --help)", a);
            return TOOL_EXIT_USAGE;
        } else if (nsubjects == TAP_MAX_SUBJECTS) {
            tool_errorf("at most %d subjects", TAP_MAX_SUBJECTS);
            return TOOL_EXIT_USAGE;
        } else {
            subjects[nsubjects++] = a;
        }
    }
    if (nsubjects == 0) {
        tool_errorf("which subject? e.g. tb-tap 'fills.>' (see --help)");
        return TOOL_EXIT_USAGE;
    }

    int pipefd[2];
    if (pipe(pipefd) != 0) {
        tool_errorf("pipe: %s", strerror(errno));
        return TOOL_EXIT_FAILED;
    }
    t.wake_fd = pipefd[1];
    signal_fd = pipefd[1];
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    bus_config cfg;
    bus_conn *conn = tool_connect(&cfg);
    if (conn == NULL) return TOOL_EXIT_FAILED;
    bus_sub *subs[TAP_MAX_SUBJECTS] = {0};
    int rc = TOOL_EXIT_OK;
    for (int i = 0; i < nsubjects && rc == TOOL_EXIT_OK; i++) {
        tb_error err = {0};
        if (bus_subscribe(conn, subjects[i], on_message, &t, &subs[i], &err) != TB_OK) {
            tool_errorf("%s", err.message);
            rc = TOOL_EXIT_FAILED;
        }
    }
    if (rc == TOOL_EXIT_OK) {
        fprintf(stderr, "tb-tap: listening on");
        for (int i = 0; i < nsubjects; i++) fprintf(stderr, " %s", subjects[i]);
        fprintf(stderr, "\n");
        struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
        int64_t end = bus_mono_ns() + timeout_s * INT64_C(1000000000);
        for (;;) {
            int wait_ms = -1;
            if (timeout_s > 0) {
                int64_t left = (end - bus_mono_ns()) / 1000000;
                if (left <= 0) break;
                wait_ms = left > 60000 ? 60000 : (int)left;
            }
            int n = poll(&p, 1, wait_ms);
            if (n > 0) break;
            if (n < 0 && errno != EINTR) break;
        }
    }
    for (int i = 0; i < nsubjects; i++) bus_unsubscribe(subs[i]);
    bus_conn_close(conn);
    bus_library_close(2000);

    pthread_mutex_lock(&t.lock);
    long long printed = t.printed;
    bool closed = t.output_closed;
    pthread_mutex_unlock(&t.lock);
    if (rc == TOOL_EXIT_OK) {
        fprintf(stderr, "tb-tap: %lld message%s\n", printed, printed == 1 ? "" : "s");
        if (closed)
            rc = TOOL_EXIT_FAILED;
        else if (t.limit > 0 && printed < t.limit) {
            tool_errorf("timed out after %lld s with %lld of %lld messages", timeout_s, printed,
                        t.limit);
            rc = TOOL_EXIT_FAILED;
        }
    }
    close(pipefd[0]);
    close(pipefd[1]);
    return rc;
}
