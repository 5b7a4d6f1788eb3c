/* Portfolio risk endpoints of risk-management: api.risk.accounts.get
 * (account_risk with positions: a list of position_risk) and
 * api.risk.positions.get (position_risk of one symbol). */
#ifndef RISK_PORTFOLIO_API_H
#define RISK_PORTFOLIO_API_H

#include "actor.h"

tb_status risk_on_account_risk(bus_ctx *ctx, const void *event);
tb_status risk_on_position_risk(bus_ctx *ctx, const void *event);

#endif
