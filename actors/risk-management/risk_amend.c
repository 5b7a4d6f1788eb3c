/* The amended order as an intent; see risk_amend.h. */
#include "risk_amend.h"

#include <string.h>

#include "risk_intent.h"

static bool is_open(const char *status) {
    return strcmp(status, "new") == 0 || strcmp(status, "accepted") == 0 ||
           strcmp(status, "partially_filled") == 0;
}

risk_amend_result risk_amend_intent(const tb_order_record *rec, bool reduce_only,
                                    const tb_order_amend *m, risk_intent *out, tb_error *err) {
    memset(out, 0, sizeof *out);
    if (!is_open(rec->status)) {
        tb_error_set(err, TB_CONFLICT, "id", "order %s is %s: it can no longer be amended",
                     rec->order_id, rec->status);
        return RISK_AMEND_REFUSED;
    }
    if (m->qty <= 0 && m->limit_price <= 0 && m->stop_price <= 0) {
        tb_error_set(err, TB_REJECTED, "qty",
                     "nothing to amend: give qty, limit_price or stop_price");
        return RISK_AMEND_REFUSED;
    }
    bool limit = strcmp(rec->type, "limit") == 0 || strcmp(rec->type, "stop_limit") == 0;
    bool stop = strcmp(rec->type, "stop") == 0 || strcmp(rec->type, "stop_limit") == 0;
    if (m->limit_price > 0 && !limit) {
        tb_error_set(err, TB_REJECTED, "limit_price", "a %s order has no limit price", rec->type);
        return RISK_AMEND_REFUSED;
    }
    if (m->stop_price > 0 && !stop) {
        tb_error_set(err, TB_REJECTED, "stop_price", "a %s order has no stop price", rec->type);
        return RISK_AMEND_REFUSED;
    }
    if (m->qty > 0 && m->qty < rec->filled_qty) {
        tb_error_set(err, TB_REJECTED, "qty", "qty is below the quantity already filled");
        return RISK_AMEND_REFUSED;
    }
    snprintf(out->account, sizeof out->account, "%s", rec->account);
    snprintf(out->symbol, sizeof out->symbol, "%s", rec->symbol);
    snprintf(out->side, sizeof out->side, "%s", rec->side);
    snprintf(out->type, sizeof out->type, "%s", rec->type);
    snprintf(out->tif, sizeof out->tif, "%s", rec->tif);
    snprintf(out->source, sizeof out->source, "%s", rec->source);
    snprintf(out->strategy_id, sizeof out->strategy_id, "%s", rec->strategy_id);
    snprintf(out->client_order_id, sizeof out->client_order_id, "%s", rec->client_order_id);
    out->reduce_only = reduce_only;
    out->expire_at = rec->expire_at;
    out->trail_amount = rec->trail_amount; /* a trailing stop's trail is not amended */
    out->trail_bps = rec->trail_bps;
    out->limit_offset = rec->limit_offset;
    out->qty = m->qty > 0 ? m->qty : rec->qty;
    out->limit_price = m->limit_price > 0 ? m->limit_price : rec->limit_price;
    out->stop_price = m->stop_price > 0 ? m->stop_price : rec->stop_price;
    if (out->qty == rec->qty && out->limit_price == rec->limit_price &&
        out->stop_price == rec->stop_price)
        return RISK_AMEND_UNCHANGED;
    return RISK_AMEND_CHECK;
}

void risk_amend_unfill(risk_position *p, size_t n, const char *symbol, tb_fixed signed_filled) {
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p[i].symbol, symbol) != 0) continue;
        tb_fixed before;
        if (tb_fixed_sub(p[i].qty, signed_filled, &before) == TB_OK) p[i].qty = before;
        return;
    }
}
