/* Intents from requests and signals, and the events made from them; see
 * risk_intent.h. */
#include "risk_intent.h"

#include <stdio.h>
#include <string.h>

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src))

void risk_intent_from_request(const tb_order_request *r, risk_intent *out) {
    memset(out, 0, sizeof *out);
    COPY(out->account, r->account);
    COPY(out->symbol, r->symbol);
    COPY(out->side, r->side);
    COPY(out->type, r->type);
    out->qty = r->qty;
    out->limit_price = r->limit_price;
    out->stop_price = r->stop_price;
    COPY(out->tif, r->tif[0] ? r->tif : "day");
    /* PostgreSQL keeps microseconds: a retry compares with what it stored. */
    out->expire_at = r->expire_at / 1000 * 1000;
    out->trail_amount = r->trail_amount;
    out->trail_bps = r->trail_bps;
    out->limit_offset = r->limit_offset;
    COPY(out->client_order_id, r->client_order_id);
    out->reduce_only = r->reduce_only;
    COPY(out->source, "api");
}

risk_signal_result risk_intent_from_signal(const tb_signal *s, tb_fixed position, risk_intent *out,
                                           tb_error *err) {
    memset(out, 0, sizeof *out);
    COPY(out->account, s->account);
    COPY(out->symbol, s->symbol);
    COPY(out->type, "market");
    COPY(out->tif, "day");
    COPY(out->source, "signal");
    COPY(out->strategy_id, s->strategy_id);
    COPY(out->signal_id, s->signal_id);
    /* The order fills at the symbol's next tick after the signal's, which
     * signal-processing attaches; a signal without one (published by hand)
     * fills at its own tick. */
    out->ref_price = s->fill_price > 0 ? s->fill_price : s->ref_price;
    out->ref_ts = s->fill_price > 0 ? s->fill_ts : s->ts;
    if (strcmp(s->sizing, "fixed") == 0) {
        COPY(out->side, s->side);
        out->qty = s->qty; /* a non-positive qty fails qty_not_positive, visibly */
        return RISK_SIGNAL_ORDER;
    }
    tb_fixed diff;
    if (tb_fixed_sub(s->target, position, &diff) != TB_OK) {
        tb_error_set(err, TB_OVERFLOW, "target", "target %lld minus position overflows",
                     (long long)s->target);
        return RISK_SIGNAL_INVALID;
    }
    if (diff == 0) return RISK_SIGNAL_NOTHING;
    COPY(out->side, diff > 0 ? "buy" : "sell");
    out->qty = tb_fixed_abs(diff);
    return RISK_SIGNAL_ORDER;
}

bool risk_same_order(const tb_order_record *e, bool existing_reduce_only, const risk_intent *in) {
    return strcmp(e->account, in->account) == 0 && strcmp(e->symbol, in->symbol) == 0 &&
           strcmp(e->side, in->side) == 0 && strcmp(e->type, in->type) == 0 && e->qty == in->qty &&
           e->limit_price == in->limit_price && e->stop_price == in->stop_price &&
           strcmp(e->tif, in->tif) == 0 && e->expire_at == in->expire_at &&
           e->trail_amount == in->trail_amount && e->trail_bps == in->trail_bps &&
           e->limit_offset == in->limit_offset && existing_reduce_only == in->reduce_only;
}

void risk_order_event(const risk_intent *in, const char *order_id, int64_t ts_ns, tb_order *out) {
    memset(out, 0, sizeof *out);
    COPY(out->order_id, order_id);
    COPY(out->client_order_id, in->client_order_id);
    COPY(out->account, in->account);
    COPY(out->symbol, in->symbol);
    COPY(out->side, in->side);
    COPY(out->type, in->type);
    out->qty = in->qty;
    out->limit_price = in->limit_price;
    out->stop_price = in->stop_price;
    COPY(out->tif, in->tif);
    COPY(out->source, in->source);
    COPY(out->strategy_id, in->strategy_id);
    out->reduce_only = in->reduce_only;
    out->ts = ts_ns;
    out->ref_price = in->ref_price;
    out->ref_ts = in->ref_ts;
    out->expire_at = in->expire_at;
    out->trail_amount = in->trail_amount;
    out->trail_bps = in->trail_bps;
    out->limit_offset = in->limit_offset;
    snprintf(out->group_id, sizeof out->group_id, "%s", in->group_id);
    snprintf(out->group_role, sizeof out->group_role, "%s", in->group_role);
}

void risk_order_record(const risk_intent *in, const char *order_id, int64_t ts_ns,
                       tb_order_record *out) {
    memset(out, 0, sizeof *out);
    COPY(out->order_id, order_id);
    COPY(out->client_order_id, in->client_order_id);
    COPY(out->account, in->account);
    COPY(out->symbol, in->symbol);
    COPY(out->side, in->side);
    COPY(out->type, in->type);
    out->qty = in->qty;
    out->limit_price = in->limit_price;
    out->stop_price = in->stop_price;
    COPY(out->tif, in->tif);
    COPY(out->source, in->source);
    COPY(out->strategy_id, in->strategy_id);
    COPY(out->status, "new");
    out->created_at = ts_ns;
    out->updated_at = ts_ns;
    out->expire_at = in->expire_at;
    out->trail_amount = in->trail_amount;
    out->trail_bps = in->trail_bps;
    out->limit_offset = in->limit_offset;
    snprintf(out->group_id, sizeof out->group_id, "%s", in->group_id);
    snprintf(out->group_role, sizeof out->group_role, "%s", in->group_role);
}

void risk_decision_event(const risk_intent *in, const risk_verdict *v, const char *decision_id,
                         const char *order_id, int64_t ts_ns, tb_risk_decision *out) {
    memset(out, 0, sizeof *out);
    COPY(out->decision_id, decision_id);
    COPY(out->account, in->account);
    COPY(out->symbol, in->symbol);
    COPY(out->source, in->source);
    out->approved = v->n == 0;
    risk_verdict_codes(v, out->reasons, sizeof out->reasons);
    COPY(out->order_id, order_id ? order_id : "");
    COPY(out->client_order_id, in->client_order_id);
    COPY(out->signal_id, in->signal_id);
    out->ts = ts_ns;
}
