/* tb-ctl risk: the portfolio risk of an account (api.risk.accounts.get) or
 * of one of its positions (api.risk.positions.get), from risk-management. */
#include <string.h>

#include "ctl.h"

int ctl_risk(ctl *c, int argc, char **argv) {
    const char *symbol = NULL, *pos[1];
    const ctl_opt opts[] = {{"symbol", &symbol, NULL}, {NULL, NULL, NULL}};
    int npos = 0;
    if (!ctl_parse(argc, argv, opts, pos, 1, &npos)) return TOOL_EXIT_USAGE;
    if (npos != 1) {
        tool_errorf("usage: tb-ctl risk ACCOUNT [--symbol S]");
        return TOOL_EXIT_USAGE;
    }
    json_t *o = json_pack("{s:s}", "account", pos[0]);
    if (o && symbol) json_object_set_new(o, "symbol", json_string(symbol));
    tb_query q;
    if (!ctl_from_json(&tb_query_desc, o, &q)) return TOOL_EXIT_USAGE;
    return ctl_request(c, symbol ? "api.risk.positions.get" : "api.risk.accounts.get",
                       &tb_query_desc, &q);
}
