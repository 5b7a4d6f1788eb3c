/* tb-ctl replay: asks market-data to replay a CSV file (api.market.replay)
 * and, with --wait, waits until the feed announces its end on
 * md.status.<source> (state done or failed), then prints that status with
 * its counts. The status subscription is made before the request, so a
 * replay that ends at once is not missed. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

typedef struct replay_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool ended;
    tb_md_status status;
} replay_wait;

static void on_status(const bus_msg *m, void *arg) {
    replay_wait *w = arg;
    tb_md_status st;
    if (tb_decode(&tb_md_status_desc, bus_msg_data(m), bus_msg_len(m), &st, NULL) != TB_OK) {
        tool_errorf("ignoring a malformed md_status on %s", bus_msg_subject(m));
        return;
    }
    if (strcmp(st.state, "done") != 0 && strcmp(st.state, "failed") != 0) return;
    pthread_mutex_lock(&w->lock);
    if (!w->ended) {
        w->status = st;
        w->ended = true;
        pthread_cond_signal(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
}

int ctl_replay(ctl *c, int argc, char **argv) {
    const char *format = NULL, *speed = NULL, *source = NULL, *wait_timeout = NULL, *pos[1];
    bool wait = false;
    const ctl_opt opts[] = {
        {"format", &format, NULL},
        {"speed", &speed, NULL},
        {"source", &source, NULL},
        {"wait", NULL, &wait},
        {"wait-timeout", &wait_timeout, NULL},
        {NULL, NULL, NULL},
    };
    int npos = 0;
    if (!ctl_parse(argc, argv, opts, pos, 1, &npos)) return TOOL_EXIT_USAGE;
    if (npos != 1) {
        tool_errorf("usage: tb-ctl replay FILE [--format ticks|closes] [--speed N] "
                    "[--source NAME] [--wait [--wait-timeout S]]");
        return TOOL_EXIT_USAGE;
    }
    long long speed_v = 0, wait_s = 600;
    if (speed && !tool_parse_int(speed, 0, 1000000, &speed_v)) {
        tool_errorf("--speed needs a whole number (0 = as fast as possible)");
        return TOOL_EXIT_USAGE;
    }
    if (wait_timeout && !tool_parse_int(wait_timeout, 1, 86400, &wait_s)) {
        tool_errorf("--wait-timeout needs a number of seconds (1..86400)");
        return TOOL_EXIT_USAGE;
    }
    /* market-data opens the file itself: give it an absolute path. */
    char path[PATH_MAX];
    if (realpath(pos[0], path) == NULL) {
        tool_errorf("%s: %s", pos[0], strerror(errno));
        return TOOL_EXIT_USAGE;
    }
    json_t *o = json_pack("{s:s}", "path", path);
    if (o && format) json_object_set_new(o, "format", json_string(format));
    if (o && speed) json_object_set_new(o, "speed", json_integer(speed_v));
    if (o && source) json_object_set_new(o, "source", json_string(source));
    tb_market_replay req;
    if (!ctl_from_json(&tb_market_replay_desc, o, &req)) return TOOL_EXIT_USAGE;
    if (ctl_connect(c) == NULL) return TOOL_EXIT_FAILED;

    replay_wait w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    bus_sub *sub = NULL;
    if (wait) {
        char subject[128];
        snprintf(subject, sizeof subject, "md.status.%s", req.source[0] ? req.source : "replay");
        tb_error err = {0};
        if (bus_subscribe(c->conn, subject, on_status, &w, &sub, &err) != TB_OK) {
            tool_errorf("%s", err.message);
            return TOOL_EXIT_FAILED;
        }
    }
    int rc = ctl_request(c, "api.market.replay", &tb_market_replay_desc, &req);
    if (rc == TOOL_EXIT_OK && wait) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)wait_s;
        pthread_mutex_lock(&w.lock);
        int e = 0;
        while (!w.ended && e != ETIMEDOUT) e = pthread_cond_timedwait(&w.cond, &w.lock, &until);
        bool ended = w.ended;
        tb_md_status st = w.status;
        pthread_mutex_unlock(&w.lock);
        if (!ended) {
            tool_errorf("the replay did not end within %lld s", wait_s);
            rc = TOOL_EXIT_FAILED;
        } else {
            json_t *j = NULL;
            if (tb_to_json(&tb_md_status_desc, &st, &j) != TB_OK || !tool_print_line(stdout, j))
                rc = TOOL_EXIT_FAILED;
            if (strcmp(st.state, "done") != 0) {
                tool_errorf("replay %s: %s", st.state,
                            st.message[0] ? st.message : "no reason given");
                rc = TOOL_EXIT_FAILED;
            } else {
                fprintf(stderr, "tb-ctl: replay %s done: %llu ticks, %llu rows rejected\n",
                        st.source, (unsigned long long)st.ticks, (unsigned long long)st.errors);
            }
        }
    }
    bus_unsubscribe(sub);
    return rc;
}
