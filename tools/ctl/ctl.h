/* tb-ctl internals: the command functions and the helpers they share.
 * main.c parses the global options and dispatches; ctl_discover.c lists
 * services and their health; ctl_trade.c drives the kill switch and orders;
 * ctl_replay.c starts a market-data replay and waits for its end;
 * ctl_backtest.c starts a backtest, follows it and prints its report;
 * ctl_risk.c prints the portfolio risk of an account or a position. */
#ifndef TB_CTL_H
#define TB_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "tool.h"

typedef struct ctl {
    bus_config cfg;
    bus_conn *conn;     /* opened by ctl_connect, after the arguments parsed */
    int64_t timeout_ms; /* per request (--timeout) */
    bool json;          /* --json: JSON lines instead of tables */
} ctl;

/* One option of a command: --name VALUE (or --name=VALUE) sets *value;
 * a flag (value == NULL) sets *flag. */
typedef struct ctl_opt {
    const char *name;
    const char **value;
    bool *flag;
} ctl_opt;

/* Parses argv[0..argc) against opts (terminated by a {NULL} entry); other
 * words go to pos (at most max_pos). Prints the problem and returns false on
 * an unknown option, a missing value or too many words. */
bool ctl_parse(int argc, char **argv, const ctl_opt *opts, const char **pos, int max_pos,
               int *npos);

/* The connection, opened on first use; NULL (with the reason printed) when
 * NATS cannot be reached. */
bus_conn *ctl_connect(ctl *c);

/* Encodes req with d, sends it to subject, prints the reply as one JSON line
 * on stdout and returns TOOL_EXIT_OK; on an error reply or no answer prints
 * "<subject>: <code>: <message>" on stderr and returns TOOL_EXIT_FAILED. */
int ctl_request(ctl *c, const char *subject, const tb_event_desc *d, const void *req);

/* Builds an event of type d from a JSON object (decimals as strings), with
 * the catalogue's validation. Steals obj. Prints the problem and returns
 * false when it is not valid. */
bool ctl_from_json(const tb_event_desc *d, json_t *obj, void *ev);

int ctl_services(ctl *c, int argc, char **argv);
int ctl_health(ctl *c, int argc, char **argv);
int ctl_killswitch(ctl *c, int argc, char **argv);
int ctl_order(ctl *c, int argc, char **argv);
int ctl_replay(ctl *c, int argc, char **argv);
int ctl_backtest(ctl *c, int argc, char **argv);
int ctl_risk(ctl *c, int argc, char **argv);

#endif
