/* tb-ctl backtest: starts a backtest (api.backtests.create), follows it
 * (api.backtests.get every half second, a progress bar on a terminal) and
 * prints its report (api.backtests.report; a grid prints its ranked
 * children) as one JSON line. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "ctl.h"
#include "wire.h"

/* A local CSV read whole (at most 1 MiB: one bus message). NULL after
 * printing why. */
static char *read_csv(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        tool_errorf("cannot read %s", path);
        return NULL;
    }
    size_t cap = (size_t)TB_MAX_MSG_BYTES + 1;
    char *text = malloc(cap);
    *len = text ? fread(text, 1, cap, f) : 0;
    bool bad = text == NULL || ferror(f);
    fclose(f);
    if (bad || *len >= cap) {
        tool_errorf("%s: %s", path, bad ? "read error" : "larger than a bus message (1 MiB)");
        free(text);
        return NULL;
    }
    text[*len] = '\0';
    return text;
}

/* api.backtests.create of req, with csv[0..len) attached when not NULL. */
static tb_status create(ctl *c, const tb_backtest *req, const char *csv, size_t len,
                        tb_backtest *out, tb_error *err) {
    int64_t timeout = c->timeout_ms > 30000 ? c->timeout_ms : 30000;
    if (csv == NULL)
        return bus_request(c->conn, "api.backtests.create", &tb_backtest_desc, req,
                           &tb_backtest_desc, out, timeout, NULL, err);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    bus_bytes rep = {0};
    tb_status s = bus_attach_encode(&tb_backtest_desc, req, BUS_ATTACH_CSV, csv, len, &sb, err);
    if (s == TB_OK)
        s = bus_request_bytes(c->conn, "api.backtests.create", sb.data, sb.size,
                              tb_backtest_desc.name, timeout, NULL, &rep, err);
    msgpack_sbuffer_destroy(&sb);
    if (s == TB_OK) s = tb_decode(&tb_backtest_desc, rep.data, rep.len, out, err);
    bus_bytes_free(&rep);
    return s;
}

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
               *format = NULL, *cash = NULL, *qty = NULL, *account = NULL, *rank_by = NULL,
               *bars = NULL, *from = NULL, *to = NULL, *fee_bps = NULL, *fee_min = NULL,
               *slippage_bps = NULL, *pos[1];
    bool no_wait = false, csv = false;
    const ctl_opt opts[] = {
        {"kind", &kind, NULL},       {"symbols", &symbols, NULL},
        {"params", &params, NULL},   {"grid", &grid, NULL},
        {"speed", &speed, NULL},     {"format", &format, NULL},
        {"cash", &cash, NULL},       {"qty", &qty, NULL},
        {"account", &account, NULL}, {"rank-by", &rank_by, NULL},
        {"no-wait", NULL, &no_wait}, {"csv", NULL, &csv},
        {"bars", &bars, NULL},       {"from", &from, NULL},
        {"to", &to, NULL},           {"fee-bps", &fee_bps, NULL},
        {"fee-min", &fee_min, NULL}, {"slippage-bps", &slippage_bps, NULL},
        {NULL, NULL, NULL},
    };
    int npos = 0;
    if (!ctl_parse(argc, argv, opts, pos, 1, &npos)) return TOOL_EXIT_USAGE;
    bool bars_ok = bars && from && to && npos == 0 && !csv;
    if ((npos != 1 && !bars_ok) || (bars && !bars_ok) || kind == NULL || symbols == NULL) {
        tool_errorf("usage: tb-ctl backtest FILE [--csv] --kind K --symbols S[,S...] "
                    "[--params JSON] [--grid JSON] [--speed N] [--format ticks|closes] [--cash C] "
                    "[--qty Q] [--account A] [--rank-by STAT] [--fee-bps N] [--fee-min D] "
                    "[--slippage-bps N] [--no-wait]\n"
                    "       tb-ctl backtest --bars 1s|1m|5m|1h|1d --from T --to T --kind K "
                    "--symbols S[,S...] [...]");
        return TOOL_EXIT_USAGE;
    }
    long long speed_v = 0;
    if (speed && !tool_parse_int(speed, 0, 1000000000000LL, &speed_v)) {
        tool_errorf("--speed needs a whole number (0 = as fast as the chain goes)");
        return TOOL_EXIT_USAGE;
    }
    /* The run's costs: trading-execution checks their ranges (0..1000 bp,
     * fee_min 0..1000000); here only that they are whole numbers. */
    long long fee_bps_v = 0, slippage_bps_v = 0;
    if ((fee_bps && !tool_parse_int(fee_bps, 0, 1000000000LL, &fee_bps_v)) ||
        (slippage_bps && !tool_parse_int(slippage_bps, 0, 1000000000LL, &slippage_bps_v))) {
        tool_errorf("--fee-bps and --slippage-bps need a whole number of basis points (>= 0)");
        return TOOL_EXIT_USAGE;
    }
    /* FILE under market-data's MD_REPLAY_DIR; with --csv a local file sent
     * with the request; with --bars historical-data's bars. */
    char *text = NULL;
    size_t text_len = 0;
    if (csv && (text = read_csv(pos[0], &text_len)) == NULL) return TOOL_EXIT_FAILED;
    json_t *data =
        bars  ? json_pack("{s:{s:s, s:s, s:s}}", "bars", "interval", bars, "from", from, "to", to)
        : csv ? json_pack("{s:I}", "csv", (json_int_t)text_len)
              : json_pack("{s:s}", "file", pos[0]);
    char *data_text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    json_t *o = data_text ? json_pack("{s:s, s:s, s:s}", "kind", kind, "symbols", symbols, "data",
                                      data_text)
                          : NULL;
    free(data_text);
    if (o && params) json_object_set_new(o, "params", json_string(params));
    if (o && grid) json_object_set_new(o, "grid", json_string(grid));
    if (o && speed) json_object_set_new(o, "speed", json_integer(speed_v));
    if (o && format) json_object_set_new(o, "format", json_string(format));
    if (o && cash) json_object_set_new(o, "initial_cash", json_string(cash));
    if (o && qty) json_object_set_new(o, "qty", json_string(qty));
    if (o && account) json_object_set_new(o, "account", json_string(account));
    if (o && rank_by) json_object_set_new(o, "rank_by", json_string(rank_by));
    if (o && fee_bps) json_object_set_new(o, "fee_bps", json_integer(fee_bps_v));
    if (o && fee_min) json_object_set_new(o, "fee_min", json_string(fee_min));
    if (o && slippage_bps) json_object_set_new(o, "slippage_bps", json_integer(slippage_bps_v));
    tb_backtest req, started;
    if (!ctl_from_json(&tb_backtest_desc, o, &req)) {
        free(text);
        return TOOL_EXIT_USAGE;
    }
    if (ctl_connect(c) == NULL) {
        free(text);
        return TOOL_EXIT_FAILED;
    }
    tb_error err = {0};
    tb_status s = create(c, &req, text, text_len, &started, &err);
    free(text);
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
