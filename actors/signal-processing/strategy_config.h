/* The strategy record of the API (tb_strategy) and the signal it produces:
 * validation of a create/update body, the deterministic signal id, the
 * reference price of a tick and the signal event built from a decision.
 * No I/O. */
#ifndef SP_STRATEGY_CONFIG_H
#define SP_STRATEGY_CONFIG_H

#include "catalogue.h"
#include "strategy.h"

/* A strategy as the service uses it: the stored record, its parsed
 * parameters, and its version (updated_at in microseconds), which stamps the
 * indicator state so a changed strategy starts afresh. */
typedef struct sp_strategy_cfg {
    tb_strategy row;
    sp_params params;
    int64_t version;
} sp_strategy_cfg;

/* Checks a create/update body beyond what the catalogue checks: the
 * parameters for the kind (sp_params_parse), qty > 0, and that the strategy
 * id and symbol leave room for signal ids. On success *params holds the parsed
 * parameters and in->params may be rewritten by the caller with
 * sp_params_format. Errors are TB_INVALID (or a fixed-point status) with the
 * field name; nothing is changed on error. */
tb_status sp_strategy_validate(const tb_strategy *in, sp_params *params,
                               tb_error *err) TB_WARN_UNUSED;

/* "<strategy_id>-<symbol>-<tick_seq>" into out (TB_ID_CAP bytes).
 * TB_TOO_LONG when it does not fit (sp_strategy_validate prevents that). */
tb_status sp_signal_id(const char *strategy_id, const char *symbol, uint64_t seq,
                       char out[TB_ID_CAP]) TB_WARN_UNUSED;

/* The price a tick is judged at: last when positive, otherwise the mid of a
 * positive bid and ask (rounded half-even). TB_INVALID (field "last") when
 * the tick carries neither. */
tb_status sp_tick_price(const tb_tick *t, tb_fixed *out, tb_error *err) TB_WARN_UNUSED;

/* Fills *sig for a firing decision of cfg on tick t at price: sizing fixed
 * sends qty; sizing target sends target = +qty for buy, -qty for sell
 * (long/short reversal). */
tb_status sp_signal_build(const sp_strategy_cfg *cfg, const tb_tick *t, tb_fixed price,
                          const sp_decision *d, tb_signal *sig) TB_WARN_UNUSED;

#endif
