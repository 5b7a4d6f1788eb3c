/* tb-ctl backtest: starts a backtest (api.backtests.create), follows it
 * (api.backtests.get every half second, a progress bar on a terminal) and
 * prints its report (api.backtests.report; a grid prints its ranked
 * children) as one JSON line. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

/* The reply of subject for query {id}, as JSON (the backtest endpoints
 * answer a msgpack map of several catalogue types). NULL after printing why. */
static json_t *get_raw(ctl *c, const char *subject, const char *id) {
    tb_query q = {0};
    snprintf(q.id, sizeof q.id, "%s", id);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    tb_error err = {0};
    bus_bytes rep = {0};
    tb_status s = tb_encode(&tb_query_desc, &q, &sb, &err);
    if (s == TB_OK)
        s = bus_request_bytes(c->conn, subject, sb.data, sb.size, tb_query_desc.name,
                              c->timeout_ms > 30000 ? c->timeout_ms : 30000, NULL, &rep, &err);
    msgpack_sbuffer_destroy(&sb);
    json_t *j = NULL;
    if (s == TB_OK) s = tb_msgpack_to_json_raw(rep.data, rep.len, &j, &err);
    bus_bytes_free(&rep);
    if (s != TB_OK) {
        tool_errorf("%s: %s: %s", subject, tb_status_code(s), err.message);
        return NULL;
    }
    return j;
}

static void bar(double progress, const char *status) {
    int w = 40, done = (int)(progress * w + 0.5);
    fprintf(stderr, "\r[%.*s%*s] %3.0f%% %s ", done,
            "========================================", w - done, "", progress * 100, status);
    fflush(stderr);
}

int ctl_backtest(ctl *c, int argc, char **argv) {
    const char *kind = NULL, *symbols = NULL, *params = NULL, *grid = NULL, *speed = NULL,
               *format = NULL, *cash = NULL, *qty = NULL, *account = NULL, *rank_by = NULL, *pos[1];
    bool no_wait = false;
    const ctl_opt opts[] = {
        {"kind", &kind, NULL},       {"symbols", &symbols, NULL}, {"params", &params, NULL},
        {"grid", &grid, NULL},       {"speed", &speed, NULL},     {"format", &format, NULL},
        {"cash", &cash, NULL},       {"qty", &qty, NULL},         {"account", &account, NULL},
        {"rank-by", &rank_by, NULL}, {"no-wait", NULL, &no_wait}, {NULL, NULL, NULL},
    };
    int npos = 0;
    if (!ctl_parse(argc, argv, opts, pos, 1, &npos)) return TOOL_EXIT_USAGE;
    if (npos != 1 || kind == NULL || symbols == NULL) {
        tool_errorf("usage: tb-ctl backtest FILE --kind K --symbols S[,S...] [--params JSON] "
                    "[--grid JSON] [--speed N] [--format ticks|closes] [--cash C] [--qty Q] "
                    "[--account A] [--rank-by STAT] [--no-wait]");
        return TOOL_EXIT_USAGE;
    }
    long long speed_v = 0;
    if (speed && !tool_parse_int(speed, 0, 1000000000000LL, &speed_v)) {
        tool_errorf("--speed needs a whole number (0 = as fast as the chain goes)");
        return TOOL_EXIT_USAGE;
    }
    json_t *o =
        json_pack("{s:s, s:s, s:{s:s}}", "kind", kind, "symbols", symbols, "data", "file", pos[0]);
    json_t *data = o ? json_object_get(o, "data") : NULL;
    char *data_text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    if (data_text) json_object_set_new(o, "data", json_string(data_text));
    free(data_text);
    if (o && params) json_object_set_new(o, "params", json_string(params));
    if (o && grid) json_object_set_new(o, "grid", json_string(grid));
    if (o && speed) json_object_set_new(o, "speed", json_integer(speed_v));
    if (o && format) json_object_set_new(o, "format", json_string(format));
    if (o && cash) json_object_set_new(o, "initial_cash", json_string(cash));
    if (o && qty) json_object_set_new(o, "qty", json_string(qty));
    if (o && account) json_object_set_new(o, "account", json_string(account));
    if (o && rank_by) json_object_set_new(o, "rank_by", json_string(rank_by));
    tb_backtest req, started;
    if (!ctl_from_json(&tb_backtest_desc, o, &req)) return TOOL_EXIT_USAGE;
    if (ctl_connect(c) == NULL) return TOOL_EXIT_FAILED;
    tb_error err = {0};
    tb_status s =
        bus_request(c->conn, "api.backtests.create", &tb_backtest_desc, &req, &tb_backtest_desc,
                    &started, c->timeout_ms > 30000 ? c->timeout_ms : 30000, NULL, &err);
    if (s != TB_OK) {
        tool_errorf("api.backtests.create: %s: %s", tb_status_code(s), err.message);
        return TOOL_EXIT_FAILED;
    }
    fprintf(stderr, "tb-ctl: backtest %s started\n", started.backtest_id);
    if (no_wait) {
        json_t *j = NULL;
        return tb_to_json(&tb_backtest_desc, &started, &j) == TB_OK && tool_print_line(stdout, j)
                   ? TOOL_EXIT_OK
                   : TOOL_EXIT_FAILED;
    }
    bool tty = isatty(STDERR_FILENO);
    json_t *st = NULL;
    for (;;) {
        json_decref(st);
        if ((st = get_raw(c, "api.backtests.get", started.backtest_id)) == NULL)
            return TOOL_EXIT_FAILED;
        const char *status = json_string_value(json_object_get(st, "status"));
        if (tty) bar(json_number_value(json_object_get(st, "progress")), status ? status : "?");
        if (status == NULL || strcmp(status, "running") != 0) break;
        struct timespec ts = {0, 500000000};
        nanosleep(&ts, NULL);
    }
    if (tty) fputc('\n', stderr);
    const char *status = json_string_value(json_object_get(st, "status"));
    int rc = status && strcmp(status, "done") == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAILED;
    if (rc != TOOL_EXIT_OK)
        tool_errorf("backtest %s %s: %s", started.backtest_id, status ? status : "?",
                    json_string_value(json_object_get(st, "message")));
    if (json_object_get(st, "children") != NULL) /* a grid: the ranking is its result */
        return tool_print_line(stdout, st) ? rc : TOOL_EXIT_FAILED;
    json_decref(st);
    json_t *rep = get_raw(c, "api.backtests.report", started.backtest_id);
    if (rep == NULL) return TOOL_EXIT_FAILED;
    return tool_print_line(stdout, rep) ? rc : TOOL_EXIT_FAILED;
}
