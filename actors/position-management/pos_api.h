/* Request handlers of position-management (pos_api.c). Each takes the
 * decoded request body named in README.md and replies with bus_reply*. */
#ifndef POS_API_H
#define POS_API_H

#include "actor.h"

/* api.positions.get: tb_query (account, symbol) -> tb_position_update; a
 * position never traded is qty 0. */
tb_status pos_api_positions_get(bus_ctx *ctx, const void *event);
/* api.positions.list: tb_query (account, symbol, accounts, limit, cursor) ->
 * list of tb_position_update ordered by account, symbol. */
tb_status pos_api_positions_list(bus_ctx *ctx, const void *event);
/* api.accounts.get: tb_query (account or id) -> tb_account with figures. */
tb_status pos_api_accounts_get(bus_ctx *ctx, const void *event);
/* api.accounts.list: tb_query (account, accounts, limit, cursor) -> list of tb_account. */
tb_status pos_api_accounts_list(bus_ctx *ctx, const void *event);
/* api.accounts.create: tb_account (account, name, initial_cash) -> tb_account. */
tb_status pos_api_accounts_create(bus_ctx *ctx, const void *event);
/* api.accounts.delete: tb_query (account or id) -> the tb_account as it was;
 * only an account without orders, fills, positions or strategies (a
 * backtest's account when its request is refused after it was made):
 * TB_CONFLICT otherwise, TB_NOT_FOUND when there is none. */
tb_status pos_api_accounts_delete(bus_ctx *ctx, const void *event);
/* api.fills.list: tb_query (account, symbol, accounts, from, to, limit,
 * cursor) -> list of tb_fill, newest first. */
tb_status pos_api_fills_list(bus_ctx *ctx, const void *event);

#endif
