/* The trail of a trailing stop order: checked here, before the order
 * exists, so the client learns which field is wrong; trading-execution
 * follows the best price with it (actors/trading-execution/exec_trail.c). */
#include <string.h>

#include "risk_checks.h"

void risk_check_trail(const risk_intent *in, const risk_facts *f, risk_verdict *v) {
    (void)f;
    if (strcmp(in->type, "trailing_stop") != 0) {
        const char *field = in->trail_amount   ? "trail_amount"
                            : in->trail_bps    ? "trail_bps"
                            : in->limit_offset ? "limit_offset"
                                               : NULL;
        if (field)
            risk_verdict_add(v, RISK_TRAIL_INVALID, field, "%s is only for trailing_stop, not %s",
                             field, in->type);
        return;
    }
    if (in->trail_amount != 0 && in->trail_bps != 0)
        risk_verdict_add(v, RISK_TRAIL_INVALID, "trail_bps",
                         "trailing_stop takes trail_amount or trail_bps, not both");
    else if (in->trail_amount == 0 && in->trail_bps == 0)
        risk_verdict_add(v, RISK_TRAIL_INVALID, "trail_amount",
                         "trailing_stop needs trail_amount or trail_bps");
    else if (in->trail_bps == 0 && in->trail_amount < 0)
        risk_verdict_add(v, RISK_TRAIL_INVALID, "trail_amount", "trail_amount must be positive");
    else if (in->trail_amount == 0 && (in->trail_bps < 0 || in->trail_bps > RISK_TRAIL_BPS_MAX))
        risk_verdict_add(v, RISK_TRAIL_INVALID, "trail_bps", "trail_bps must be within 1..%d",
                         RISK_TRAIL_BPS_MAX);
    if (in->limit_offset < 0)
        risk_verdict_add(v, RISK_TRAIL_INVALID, "limit_offset",
                         "limit_offset must not be negative");
}
