/* tb-ctl: operates a running tradebus from the command line, talking to the
 * bus directly (NATS_URL), not to the gateway.
 *
 *   $ eval "$(scripts/env)"
 *   $ build/tools/ctl/tb-ctl services
 *   NAME                 ID                 VERSION  ENDPOINTS
 *   risk-management      3f9c0a1b22d4e1f0   0.1.0    submit, killswitch, ...
 *   $ build/tools/ctl/tb-ctl order submit --account DEMO --symbol DAX --side buy --qty 1
 *   {"order_id":"...","status":"accepted",...}
 *
 * Commands: services, health, killswitch, order submit|group|cancel|amend, amend,
 * replay, backtest, risk (see usage() below). Results go to stdout, problems to stderr; exit status
 * 0 on success, 1 when the bus or a service says no, 2 on bad usage. */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "wire.h"

static void usage(FILE *f) {
    fprintf(f, "Usage: tb-ctl [--timeout S] [--json] COMMAND [ARGS]\n"
               "\n"
               "Commands (each talks to the services over NATS, request-reply):\n"
               "  services [SERVICE]            every instance answering $SRV.INFO: name, id,\n"
               "                                version, endpoints (micro protocol)\n"
               "  health [SERVICE [--id ID]]    svc.<name>.<id>.health of every instance found\n"
               "                                by $SRV.PING (or of instance ID only); exit 1\n"
               "                                unless all are ok\n"
               "  killswitch engage|release [--account A] [--reason R]\n"
               "                                api.risk.killswitch; without --account the\n"
               "                                global switch\n"
               "  order submit --account A --symbol S --side buy|sell --qty Q\n"
               "               [--type market|limit|stop|stop_limit|trailing_stop]\n"
               "               [--limit-price P] [--stop-price P] [--tif day|gtc|gtd|ioc|fok]\n"
               "               [--expire-at RFC3339] (with --tif gtd)\n"
               "               [--trail-amount P | --trail-bps N] [--limit-offset P]\n"
               "                                (with --type trailing_stop)\n"
               "               [--client-order-id X] [--reduce-only]\n"
               "                                api.orders.submit (checked by risk-management)\n"
               "  order group --account A --symbol S --contingency oco|bracket --side buy|sell\n"
               "              --qty Q --take-profit P --stop-loss P\n"
               "              [--entry-type market|limit] [--entry-price P] (bracket)\n"
               "              [--tif day|gtc|gtd] [--expire-at RFC3339]\n"
               "                                api.orders.submit_group: an OCO pair or a\n"
               "                                bracket, recorded whole or refused\n"
               "  order cancel ORDER_ID [--account A]\n"
               "                                api.orders.cancel\n"
               "  amend ORDER_ID [--qty Q] [--limit-price P] [--stop-price P]\n"
               "                                api.orders.amend (also: order amend); at\n"
               "                                least one value; checked by risk-management\n"
               "                                like a new order\n"
               "  replay FILE [--format ticks|closes] [--speed N] [--source NAME]\n"
               "              [--wait [--wait-timeout S]]\n"
               "                                api.market.replay of a CSV file readable by\n"
               "                                market-data (speed 0: as fast as possible);\n"
               "                                --wait waits (default up to 600 s) for\n"
               "                                md.status.<source> to say done or failed and\n"
               "                                prints its counts\n"
               "  backtest FILE --kind K --symbols S[,S...] [--params JSON] [--grid JSON]\n"
               "           [--speed N] [--format ticks|closes] [--cash C] [--qty Q]\n"
               "           [--account A] [--rank-by STAT] [--fee-bps N] [--fee-min D]\n"
               "           [--slippage-bps N] [--no-wait]\n"
               "                                api.backtests.create of FILE (under\n"
               "                                MD_REPLAY_DIR) on its own account and symbols;\n"
               "                                waits with a progress bar (on a terminal) and\n"
               "                                prints the report (a grid: its ranked runs);\n"
               "                                --fee-bps, --fee-min, --slippage-bps: the run's\n"
               "                                own costs (default none: no fee, no slippage)\n"
               "  risk ACCOUNT [--symbol S]     api.risk.accounts.get: exposure, leverage,\n"
               "                                margin, buying power, historical VaR and each\n"
               "                                position's; with --symbol that position's\n"
               "                                (api.risk.positions.get)\n"
               "\n"
               "Options:\n"
               "  --timeout S   request timeout in seconds (default 5)\n"
               "  --json        services/health: one JSON object per instance, as received\n"
               "  -h, --help    this text\n"
               "\n"
               "Replies are printed as one JSON line (money as decimal strings).\n"
               "\n");
    bus_config_usage(f);
}

bool ctl_parse(int argc, char **argv, const ctl_opt *opts, const char **pos, int max_pos,
               int *npos) {
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (*npos >= max_pos) {
                tool_errorf("unexpected argument '%s' (see --help)", a);
                return false;
            }
            pos[(*npos)++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        const ctl_opt *o = opts;
        while (o->name && !(strlen(o->name) == nlen && strncmp(o->name, a + 2, nlen) == 0)) o++;
        if (o->name == NULL) {
            tool_errorf("unknown option %s (see --help)", a);
            return false;
        }
        if (o->value == NULL) {
            if (eq) {
                tool_errorf("--%s takes no value", o->name);
                return false;
            }
            *o->flag = true;
        } else if (eq) {
            *o->value = eq + 1;
        } else if (i + 1 < argc) {
            *o->value = argv[++i];
        } else {
            tool_errorf("--%s needs a value", o->name);
            return false;
        }
    }
    return true;
}

bool ctl_from_json(const tb_event_desc *d, json_t *obj, void *ev) {
    tb_error err = {0};
    tb_status s = obj ? tb_from_json(d, obj, ev, &err) : TB_NOMEM;
    json_decref(obj);
    if (s != TB_OK) {
        if (err.field[0])
            tool_errorf("invalid %s: %s (%s)", err.field, err.message, tb_status_code(s));
        else
            tool_errorf("invalid request: %s (%s)", err.message, tb_status_code(s));
        return false;
    }
    return true;
}

bus_conn *ctl_connect(ctl *c) {
    if (c->conn == NULL) c->conn = tool_connect(&c->cfg);
    return c->conn;
}

int ctl_request(ctl *c, const char *subject, const tb_event_desc *d, const void *req) {
    if (ctl_connect(c) == NULL) return TOOL_EXIT_FAILED;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    tb_error err = {0};
    tb_status s = tb_encode(d, req, &buf, &err);
    bus_bytes reply = {0};
    char trace[40];
    bus_new_id(trace, sizeof trace);
    if (s == TB_OK)
        s = bus_request_bytes(c->conn, subject, buf.data, buf.size, d->name, c->timeout_ms, trace,
                              &reply, &err);
    msgpack_sbuffer_destroy(&buf);
    if (s != TB_OK) {
        /* bus/ errors already start with the subject; service errors do not. */
        const char *msg = err.message;
        size_t sl = strlen(subject);
        if (strncmp(msg, subject, sl) == 0 && msg[sl] == ':' && msg[sl + 1] == ' ') msg += sl + 2;
        tool_errorf("%s: %s: %s%s%s%s", subject, tb_status_code(s), msg,
                    err.field[0] ? " (field " : "", err.field, err.field[0] ? ")" : "");
        return TOOL_EXIT_FAILED;
    }
    tb_error note = {0};
    json_t *body =
        tool_payload_json(reply.content_type, reply.schema, reply.data, reply.len, false, &note);
    bus_bytes_free(&reply);
    if (note.message[0]) tool_errorf("reply: %s", note.message);
    return tool_print_line(stdout, body) ? TOOL_EXIT_OK : TOOL_EXIT_FAILED;
}

int main(int argc, char **argv) {
    tool_init("tb-ctl");
    ctl c = {.timeout_ms = 0};
    long long timeout_s = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return TOOL_EXIT_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            c.json = true;
        } else if (strcmp(argv[i], "--timeout") == 0) {
            if (i + 1 >= argc || !tool_parse_int(argv[i + 1], 1, 86400, &timeout_s)) {
                tool_errorf("--timeout needs a number of seconds (1..86400)");
                return TOOL_EXIT_USAGE;
            }
            i++;
        } else {
            tool_errorf("unknown option %s (see --help)", argv[i]);
            return TOOL_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return TOOL_EXIT_USAGE;
    }
    static const struct {
        const char *name;
        int (*fn)(ctl *, int, char **);
    } commands[] = {
        {"services", ctl_services}, {"health", ctl_health}, {"killswitch", ctl_killswitch},
        {"order", ctl_order},       {"replay", ctl_replay}, {"backtest", ctl_backtest},
        {"amend", ctl_amend},       {"risk", ctl_risk},
    };
    int (*fn)(ctl *, int, char **) = NULL;
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (strcmp(argv[i], commands[k].name) == 0) fn = commands[k].fn;
    if (fn == NULL) {
        tool_errorf("unknown command '%s' (see --help)", argv[i]);
        return TOOL_EXIT_USAGE;
    }
    for (int k = i + 1; k < argc; k++) {
        if (strcmp(argv[k], "-h") == 0 || strcmp(argv[k], "--help") == 0) {
            usage(stdout);
            return TOOL_EXIT_OK;
        }
    }
    c.timeout_ms = timeout_s > 0 ? timeout_s * 1000 : 5000;
    int rc = fn(&c, argc - i - 1, argv + i + 1);
    if (c.conn != NULL) {
        bus_conn_close(c.conn);
        bus_library_close(2000);
    }
    return rc;
}
