/* Request-reply endpoints of the notifications service (README.md lists
 * subjects, bodies and errors). When tb_query.accounts is set (the
 * gateway's scope), objects of other accounts, and objects for every
 * account, do not exist for the caller. */
#ifndef NOTIF_API_H
#define NOTIF_API_H

#include "actor.h"

tb_status notif_api_webhooks_list(bus_ctx *ctx, const void *event);
tb_status notif_api_webhooks_create(bus_ctx *ctx, const void *event);
tb_status notif_api_webhooks_delete(bus_ctx *ctx, const void *event);
tb_status notif_api_webhooks_deliveries(bus_ctx *ctx, const void *event);
tb_status notif_api_alerts_list(bus_ctx *ctx, const void *event);
tb_status notif_api_rules_list(bus_ctx *ctx, const void *event);
tb_status notif_api_rules_create(bus_ctx *ctx, const void *event);
tb_status notif_api_rules_delete(bus_ctx *ctx, const void *event);

#endif
