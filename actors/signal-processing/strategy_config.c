/* Validation of strategy records and construction of signals (see
 * strategy_config.h). The signal id is derived only from the strategy, the
 * symbol and the tick sequence, so every worker that could emit a signal for
 * a tick names it the same: PostgreSQL's primary key then refuses copies. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "strategy_config.h"

/* Longest decimal uint64 plus two separators. */
#define SP_SIGNAL_ID_OVERHEAD (20 + 2)

tb_status sp_strategy_validate(const tb_strategy *in, sp_params *params, tb_error *err) {
    sp_params p;
    tb_status s = sp_params_parse(in->kind, in->params, &p, err);
    if (s != TB_OK) return s;
    if (strlen(in->strategy_id) + strlen(in->symbol) + SP_SIGNAL_ID_OVERHEAD > TB_ID_CAP - 1)
        return tb_error_set(err, TB_INVALID, "strategy_id",
                            "strategy_id and symbol together must not exceed %d characters "
                            "(signal ids are <strategy_id>-<symbol>-<tick seq>)",
                            TB_ID_CAP - 1 - SP_SIGNAL_ID_OVERHEAD);
    if (strcmp(in->sizing, "fixed") != 0 && strcmp(in->sizing, "target") != 0)
        return tb_error_set(err, TB_INVALID, "sizing", "must be fixed or target");
    if (in->qty <= 0)
        return tb_error_set(err, TB_INVALID, "qty",
                            "must be positive (order size for fixed, absolute target for target)");
    *params = p;
    return TB_OK;
}

tb_status sp_signal_id(const char *strategy_id, const char *symbol, uint64_t seq,
                       char out[TB_ID_CAP]) {
    int n = snprintf(out, TB_ID_CAP, "%s-%s-%" PRIu64, strategy_id, symbol, seq);
    return n > 0 && n < TB_ID_CAP ? TB_OK : TB_TOO_LONG;
}

tb_status sp_tick_price(const tb_tick *t, tb_fixed *out, tb_error *err) {
    if (t->last > 0) {
        *out = t->last;
        return TB_OK;
    }
    if (t->bid > 0 && t->ask > 0) {
        /* (bid + ask) / 2 without overflow, ties to even in 1e-8 units. */
        __int128 sum = (__int128)t->bid + t->ask;
        tb_fixed mid = (tb_fixed)(sum / 2);
        if ((sum & 1) && (mid & 1)) mid++;
        *out = mid;
        return TB_OK;
    }
    return tb_error_set(err, TB_INVALID, "last",
                        "tick %s #%" PRIu64
                        " has no positive last price and no positive bid and ask",
                        t->symbol, t->seq);
}

tb_status sp_signal_build(const sp_strategy_cfg *cfg, const tb_tick *t, tb_fixed price,
                          const sp_decision *d, tb_signal *sig) {
    if (d->side == SP_SIDE_NONE) return TB_INVALID;
    memset(sig, 0, sizeof *sig);
    tb_status s = sp_signal_id(cfg->row.strategy_id, t->symbol, t->seq, sig->signal_id);
    if (s != TB_OK) return s;
    snprintf(sig->strategy_id, sizeof sig->strategy_id, "%s", cfg->row.strategy_id);
    snprintf(sig->account, sizeof sig->account, "%s", cfg->row.account);
    snprintf(sig->symbol, sizeof sig->symbol, "%s", t->symbol);
    snprintf(sig->side, sizeof sig->side, "%s", d->side == SP_SIDE_BUY ? "buy" : "sell");
    snprintf(sig->sizing, sizeof sig->sizing, "%s", cfg->row.sizing);
    if (strcmp(cfg->row.sizing, "target") == 0)
        sig->target = d->side == SP_SIDE_BUY ? cfg->row.qty : -cfg->row.qty;
    else
        sig->qty = cfg->row.qty;
    sig->ref_price = price;
    sig->tick_seq = t->seq;
    sig->ts = t->ts;
    snprintf(sig->reason, sizeof sig->reason, "%s", d->reason);
    return TB_OK;
}
