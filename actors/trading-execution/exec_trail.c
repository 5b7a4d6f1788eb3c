/* Trailing stops: the stop follows the best price the order has seen since
 * it became working (a sell's the highest, a buy's the lowest) at the
 * trail's distance, and only ever tightens; once the price reaches it, the
 * order triggers like a stop and trades as a market order, or as a limit
 * at the stop -/+ limit_offset. Pure, like the rest of the venue's domain:
 * the glue persists trail_stop when trail_moved says it changed. */
#include "exec_domain.h"

#define BPS_DEN 10000

tb_status exec_trail_validate(const exec_order *o, tb_error *err) {
    if (o->type != EXEC_TRAILING_STOP) {
        if (o->trail_amount != 0 || o->trail_bps != 0 || o->limit_offset != 0)
            return tb_error_set(err, TB_INVALID,
                                o->trail_amount ? "trail_amount"
                                : o->trail_bps  ? "trail_bps"
                                                : "limit_offset",
                                "%s order must not have trail fields", exec_type_name(o->type));
        return TB_OK;
    }
    if ((o->trail_amount != 0) == (o->trail_bps != 0))
        return tb_error_set(err, TB_INVALID, "trail_amount",
                            "trailing_stop order needs exactly one of trail_amount and trail_bps");
    if (o->trail_amount < 0)
        return tb_error_set(err, TB_INVALID, "trail_amount", "trail_amount must be positive");
    if (o->trail_bps < 0 || o->trail_bps > EXEC_TRAIL_BPS_MAX)
        return tb_error_set(err, TB_INVALID, "trail_bps", "trail_bps must be within 1..%d",
                            EXEC_TRAIL_BPS_MAX);
    if (o->limit_offset < 0)
        return tb_error_set(err, TB_INVALID, "limit_offset", "limit_offset must not be negative");
    return TB_OK;
}

tb_status exec_trail_stop_for(const exec_order *o, tb_fixed px, tb_fixed *out) {
    bool sell = o->side == EXEC_SELL;
    tb_fixed stop;
    tb_status s;
    if (o->trail_amount > 0)
        s = sell ? tb_fixed_sub(px, o->trail_amount, &stop)
                 : tb_fixed_add(px, o->trail_amount, &stop);
    else if (sell)
        s = tb_fixed_muldiv(px, BPS_DEN - o->trail_bps, BPS_DEN, TB_ROUND_FLOOR, &stop);
    else
        s = tb_fixed_muldiv(px, BPS_DEN + o->trail_bps, BPS_DEN, TB_ROUND_CEIL, &stop);
    if (s != TB_OK) return s;
    /* A sell's trail wider than the price: the stop waits at the smallest
     * price, until the price rises enough to lift it. */
    *out = stop > 0 ? stop : 1;
    return TB_OK;
}

bool exec_trail_ratchet(exec_order *o, const exec_quote *q, exec_trigger trigger) {
    if (o->type != EXEC_TRAILING_STOP || o->triggered) return false;
    tb_fixed px = exec_trigger_price(o->side, q, trigger), stop;
    if (px <= 0 || exec_trail_stop_for(o, px, &stop) != TB_OK) return false;
    bool tighter = o->side == EXEC_SELL ? stop > o->trail_stop : stop < o->trail_stop;
    if (o->trail_stop != 0 && !tighter) return false;
    o->trail_stop = stop;
    o->trail_moved = true;
    return true;
}

bool exec_trades_as_market(const exec_order *o) {
    return o->type == EXEC_MARKET || o->type == EXEC_STOP ||
           (o->type == EXEC_TRAILING_STOP && o->limit_offset <= 0);
}

tb_fixed exec_limit_of(const exec_order *o) {
    if (o->type != EXEC_TRAILING_STOP) return o->limit_price;
    tb_fixed limit;
    if (o->side == EXEC_SELL) {
        /* no overflow: both are positive */
        limit = o->trail_stop - o->limit_offset;
        return limit > 0 ? limit : 1;
    }
    /* a buy limit beyond the largest price is no limit */
    return tb_fixed_add(o->trail_stop, o->limit_offset, &limit) == TB_OK ? limit : TB_FIXED_MAX;
}
