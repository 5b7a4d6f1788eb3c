/* OCO pairs and brackets as intents; see risk_group.h. */
#include "risk_group.h"

#include <stdio.h>
#include <string.h>

#include "risk_intent.h"

static void leg(const tb_order_group_request *r, const char *side, const char *type,
                const char *role, risk_intent *out) {
    tb_order_request o = {0};
    snprintf(o.account, sizeof o.account, "%s", r->account);
    snprintf(o.symbol, sizeof o.symbol, "%s", r->symbol);
    snprintf(o.side, sizeof o.side, "%s", side);
    snprintf(o.type, sizeof o.type, "%s", type);
    snprintf(o.tif, sizeof o.tif, "%s", r->tif);
    o.qty = r->qty;
    o.expire_at = r->expire_at;
    risk_intent_from_request(&o, out);
    snprintf(out->group_role, sizeof out->group_role, "%s", role);
}

/* Exits that sell take profit above the reference and stop below it. */
static tb_status check_sides(bool exits_sell, tb_fixed tp, tb_fixed sl, tb_fixed ref,
                             const char *ref_name, tb_error *err) {
    if (ref > 0) {
        if (exits_sell ? tp <= ref : tp >= ref)
            return tb_error_set(err, TB_INVALID, "take_profit_price",
                                "take_profit_price must be %s %s", exits_sell ? "above" : "below",
                                ref_name);
        if (exits_sell ? sl >= ref : sl <= ref)
            return tb_error_set(err, TB_INVALID, "stop_loss_price", "stop_loss_price must be %s %s",
                                exits_sell ? "below" : "above", ref_name);
        return TB_OK;
    }
    if (exits_sell ? tp <= sl : tp >= sl)
        return tb_error_set(err, TB_INVALID, "take_profit_price",
                            "take_profit_price must be %s stop_loss_price",
                            exits_sell ? "above" : "below");
    return TB_OK;
}

tb_status risk_group_intents(const tb_order_group_request *r, risk_group *out, tb_error *err) {
    memset(out, 0, sizeof *out);
    bool bracket = strcmp(r->contingency, "bracket") == 0;
    if (!bracket && strcmp(r->contingency, "oco") != 0)
        return tb_error_set(err, TB_INVALID, "contingency", "contingency must be oco or bracket");
    bool buy = strcmp(r->side, "buy") == 0;
    if (!buy && strcmp(r->side, "sell") != 0)
        return tb_error_set(err, TB_INVALID, "side", "side must be buy or sell");
    if (r->qty <= 0) return tb_error_set(err, TB_INVALID, "qty", "qty must be positive");
    if (r->take_profit_price <= 0)
        return tb_error_set(err, TB_INVALID, "take_profit_price",
                            "take_profit_price must be positive");
    if (r->stop_loss_price <= 0)
        return tb_error_set(err, TB_INVALID, "stop_loss_price", "stop_loss_price must be positive");
    if (strcmp(r->tif, "ioc") == 0 || strcmp(r->tif, "fok") == 0)
        return tb_error_set(err, TB_INVALID, "tif", "the orders of a group rest: tif %s refused",
                            r->tif);
    const char *entry_type = r->entry_type[0] ? r->entry_type : "market";
    bool limit_entry = strcmp(entry_type, "limit") == 0;
    if (!bracket && (r->entry_type[0] || r->entry_price != 0))
        return tb_error_set(err, TB_INVALID, r->entry_type[0] ? "entry_type" : "entry_price",
                            "an oco pair has no entry");
    if (bracket && !limit_entry && strcmp(entry_type, "market") != 0)
        return tb_error_set(err, TB_INVALID, "entry_type", "entry_type must be market or limit");
    if (bracket && limit_entry && r->entry_price <= 0)
        return tb_error_set(err, TB_INVALID, "entry_price",
                            "entry_price: a limit entry needs a positive price");
    if (bracket && !limit_entry && r->entry_price != 0)
        return tb_error_set(err, TB_INVALID, "entry_price",
                            "entry_price: only a limit entry has one");

    /* An oco's legs are on its side; a bracket's exits on the other. */
    bool exits_sell = bracket ? buy : !buy;
    tb_status s = check_sides(exits_sell, r->take_profit_price, r->stop_loss_price,
                              limit_entry ? r->entry_price : 0, "entry_price", err);
    if (s != TB_OK) return s;
    const char *exit_side = exits_sell ? "sell" : "buy";
    if (bracket) {
        leg(r, r->side, entry_type, "entry", &out->legs[out->n]);
        out->legs[out->n++].limit_price = limit_entry ? r->entry_price : 0;
    }
    leg(r, exit_side, "limit", bracket ? "take_profit" : "oco", &out->legs[out->n]);
    out->legs[out->n++].limit_price = r->take_profit_price;
    leg(r, exit_side, "stop", bracket ? "stop_loss" : "oco", &out->legs[out->n]);
    out->legs[out->n++].stop_price = r->stop_loss_price;
    return TB_OK;
}
