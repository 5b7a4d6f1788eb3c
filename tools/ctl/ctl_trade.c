/* tb-ctl killswitch and tb-ctl order: requests to risk-management
 * (api.risk.killswitch, api.orders.submit, api.orders.submit_group,
 * api.orders.amend) and trading-execution (api.orders.cancel). Arguments
 * become a JSON object that the catalogue
 * validates and converts (tb_from_json), so decimals follow the same rules
 * as the REST API. */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int ctl_killswitch(ctl *c, int argc, char **argv) {
    const char *account = NULL, *reason = NULL, *pos[1];
    const ctl_opt opts[] = {
        {"account", &account, NULL}, {"reason", &reason, NULL}, {NULL, NULL, NULL}};
    int npos = 0;
    if (!ctl_parse(argc, argv, opts, pos, 1, &npos)) return TOOL_EXIT_USAGE;
    if (npos != 1 || (strcmp(pos[0], "engage") != 0 && strcmp(pos[0], "release") != 0)) {
        tool_errorf("usage: tb-ctl killswitch engage|release [--account A] [--reason R]");
        return TOOL_EXIT_USAGE;
    }
    json_t *o = json_pack("{s:b}", "engaged", strcmp(pos[0], "engage") == 0);
    if (o && account) json_object_set_new(o, "account", json_string(account));
    if (o && reason) json_object_set_new(o, "reason", json_string(reason));
    tb_kill_switch ks;
    if (!ctl_from_json(&tb_kill_switch_desc, o, &ks)) return TOOL_EXIT_USAGE;
    return ctl_request(c, "api.risk.killswitch", &tb_kill_switch_desc, &ks);
}

/* Adds key=value to o when value was given. */
static void put(json_t *o, const char *key, const char *value) {
    if (o && value) json_object_set_new(o, key, json_string(value));
}

static int order_submit(ctl *c, int argc, char **argv) {
    const char *account = NULL, *symbol = NULL, *side = NULL, *qty = NULL, *type = "market";
    const char *limit = NULL, *stop = NULL, *tif = NULL, *expire = NULL, *coid = NULL, *pos[1];
    const char *trail_amount = NULL, *trail_bps = NULL, *limit_offset = NULL;
    bool reduce_only = false;
    const ctl_opt opts[] = {
        {"account", &account, NULL},
        {"symbol", &symbol, NULL},
        {"side", &side, NULL},
        {"qty", &qty, NULL},
        {"type", &type, NULL},
        {"limit-price", &limit, NULL},
        {"stop-price", &stop, NULL},
        {"tif", &tif, NULL},
        {"expire-at", &expire, NULL},
        {"trail-amount", &trail_amount, NULL},
        {"trail-bps", &trail_bps, NULL},
        {"limit-offset", &limit_offset, NULL},
        {"client-order-id", &coid, NULL},
        {"reduce-only", NULL, &reduce_only},
        {NULL, NULL, NULL},
    };
    int npos = 0;
    if (!ctl_parse(argc, argv, opts, pos, 0, &npos)) return TOOL_EXIT_USAGE;
    const char *missing = !account  ? "--account"
                          : !symbol ? "--symbol"
                          : !side   ? "--side"
                          : !qty    ? "--qty"
                                    : NULL;
    if (missing) {
        tool_errorf("order submit needs %s (see --help)", missing);
        return TOOL_EXIT_USAGE;
    }
    json_t *o = json_object();
    put(o, "account", account);
    put(o, "symbol", symbol);
    put(o, "side", side);
    put(o, "type", type);
    put(o, "qty", qty);
    put(o, "limit_price", limit);
    put(o, "stop_price", stop);
    put(o, "tif", tif);
    put(o, "expire_at", expire);
    put(o, "client_order_id", coid);
    put(o, "trail_amount", trail_amount);
    put(o, "limit_offset", limit_offset);
    if (o && trail_bps) {
        /* an integer field: a number in JSON; anything else goes as given,
         * for the catalogue to refuse naming the field */
        char *end = NULL;
        long long bps = strtoll(trail_bps, &end, 10);
        json_object_set_new(o, "trail_bps",
                            *trail_bps && end && *end == '\0' ? json_integer(bps)
                                                              : json_string(trail_bps));
    }
    if (o && reduce_only) json_object_set_new(o, "reduce_only", json_true());
    tb_order_request req;
    if (!ctl_from_json(&tb_order_request_desc, o, &req)) return TOOL_EXIT_USAGE;
    return ctl_request(c, "api.orders.submit", &tb_order_request_desc, &req);
}

/* An OCO pair or a bracket: api.orders.submit_group. */
static int order_group(ctl *c, int argc, char **argv) {
    const char *account = NULL, *symbol = NULL, *contingency = NULL, *side = NULL, *qty = NULL;
    const char *tp = NULL, *sl = NULL, *entry_type = NULL, *entry_price = NULL, *tif = NULL;
    const char *expire = NULL, *pos[1];
    const ctl_opt opts[] = {
        {"account", &account, NULL},
        {"symbol", &symbol, NULL},
        {"contingency", &contingency, NULL},
        {"side", &side, NULL},
        {"qty", &qty, NULL},
        {"take-profit", &tp, NULL},
        {"stop-loss", &sl, NULL},
        {"entry-type", &entry_type, NULL},
        {"entry-price", &entry_price, NULL},
        {"tif", &tif, NULL},
        {"expire-at", &expire, NULL},
        {NULL, NULL, NULL},
    };
    int npos = 0;
    if (!ctl_parse(argc, argv, opts, pos, 0, &npos)) return TOOL_EXIT_USAGE;
    const char *missing = !account       ? "--account"
                          : !symbol      ? "--symbol"
                          : !contingency ? "--contingency"
                          : !side        ? "--side"
                          : !qty         ? "--qty"
                          : !tp          ? "--take-profit"
                          : !sl          ? "--stop-loss"
                                         : NULL;
    if (missing) {
        tool_errorf("order group needs %s (see --help)", missing);
        return TOOL_EXIT_USAGE;
    }
    json_t *o = json_object();
    put(o, "account", account);
    put(o, "symbol", symbol);
    put(o, "contingency", contingency);
    put(o, "side", side);
    put(o, "qty", qty);
    put(o, "take_profit_price", tp);
    put(o, "stop_loss_price", sl);
    put(o, "entry_type", entry_type);
    put(o, "entry_price", entry_price);
    put(o, "tif", tif);
    put(o, "expire_at", expire);
    tb_order_group_request req;
    if (!ctl_from_json(&tb_order_group_request_desc, o, &req)) return TOOL_EXIT_USAGE;
    return ctl_request(c, "api.orders.submit_group", &tb_order_group_request_desc, &req);
}

static int order_cancel(ctl *c, int argc, char **argv) {
    const char *account = NULL, *pos[1];
    const ctl_opt opts[] = {{"account", &account, NULL}, {NULL, NULL, NULL}};
    int npos = 0;
    if (!ctl_parse(argc, argv, opts, pos, 1, &npos)) return TOOL_EXIT_USAGE;
    if (npos != 1) {
        tool_errorf("usage: tb-ctl order cancel ORDER_ID [--account A]");
        return TOOL_EXIT_USAGE;
    }
    json_t *o = json_pack("{s:s}", "id", pos[0]);
    put(o, "account", account);
    tb_query q;
    if (!ctl_from_json(&tb_query_desc, o, &q)) return TOOL_EXIT_USAGE;
    return ctl_request(c, "api.orders.cancel", &tb_query_desc, &q);
}

int ctl_amend(ctl *c, int argc, char **argv) {
    const char *qty = NULL, *limit = NULL, *stop = NULL, *pos[1];
    const ctl_opt opts[] = {{"qty", &qty, NULL},
                            {"limit-price", &limit, NULL},
                            {"stop-price", &stop, NULL},
                            {NULL, NULL, NULL}};
    int npos = 0;
    if (!ctl_parse(argc, argv, opts, pos, 1, &npos)) return TOOL_EXIT_USAGE;
    if (npos != 1 || (!qty && !limit && !stop)) {
        tool_errorf("usage: tb-ctl amend ORDER_ID [--qty Q] [--limit-price P] [--stop-price P] "
                    "(at least one)");
        return TOOL_EXIT_USAGE;
    }
    json_t *o = json_pack("{s:s}", "id", pos[0]);
    put(o, "qty", qty);
    put(o, "limit_price", limit);
    put(o, "stop_price", stop);
    tb_order_amend m;
    if (!ctl_from_json(&tb_order_amend_desc, o, &m)) return TOOL_EXIT_USAGE;
    return ctl_request(c, "api.orders.amend", &tb_order_amend_desc, &m);
}

int ctl_order(ctl *c, int argc, char **argv) {
    if (argc >= 1 && strcmp(argv[0], "submit") == 0) return order_submit(c, argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "cancel") == 0) return order_cancel(c, argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "amend") == 0) return ctl_amend(c, argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "group") == 0) return order_group(c, argc - 1, argv + 1);
    tool_errorf("usage: tb-ctl order submit|group|cancel|amend ... (see --help)");
    return TOOL_EXIT_USAGE;
}
