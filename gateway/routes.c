/* The route table (DESIGN §5, §6) and path matching.
 *
 * Every /v1 route is a bus request to the service that owns the data; the
 * gateway adds authentication, scoping to the caller's accounts and the
 * conversion between JSON and MessagePack. The few routes the gateway
 * answers itself (health, metrics, OpenAPI, docs, API keys) are listed here
 * too, so OpenAPI and /docs describe exactly what is served. */
#include "routes.h"

#include <string.h>

static const char *const role_names[] = {"public", "viewer", "trader", "admin"};

const char *gw_role_name(gw_role r) {
    return (unsigned)r < sizeof role_names / sizeof role_names[0] ? role_names[r] : "unknown";
}

bool gw_role_parse(const char *s, gw_role *out) {
    for (int r = GW_ROLE_VIEWER; r <= GW_ROLE_ADMIN; r++) {
        if (s && strcmp(s, role_names[r]) == 0) {
            *out = (gw_role)r;
            return true;
        }
    }
    return false;
}

/* Orders: a quantity of zero is no order; prices must not be negative
 * (checked generically for every body) and a zero price means "absent". */
static tb_status guard_order(const gw_caller *caller, const void *req, tb_error *err) {
    (void)caller;
    const tb_order_request *o = req;
    if (o->qty <= 0) return tb_error_set(err, TB_INVALID, "qty", "qty: must be positive");
    return TB_OK;
}

/* The global kill switch (no account) and releasing any switch are for
 * admins; a trader may engage the switch of an account of theirs. */
static tb_status guard_kill_switch(const gw_caller *caller, const void *req, tb_error *err) {
    const tb_kill_switch *k = req;
    if (caller->role == GW_ROLE_ADMIN) return TB_OK;
    if (k->account[0] == '\0')
        return tb_error_set(err, TB_FORBIDDEN, "account",
                            "only an admin key may switch the global kill switch");
    if (!k->engaged)
        return tb_error_set(err, TB_FORBIDDEN, "engaged",
                            "only an admin key may release a kill switch");
    return TB_OK;
}

/* The effective limits of an account belong to risk-management; the
 * account itself to position-management. */
static const gw_embed embed_limits = {
    .key = "limits",
    .subject = "api.risk.limits.get",
    .reply = &tb_risk_limits_desc,
    .description = "The account's effective risk limits (risk-management, as GET "
                   "/v1/risk/limits/{account} gives them); null when risk-management did not "
                   "answer."};

#define Q           &tb_query_desc
#define LIST_SCOPED (GW_F_LIST | GW_F_SCOPED)

static const gw_route routes[] = {
    /* ---- operations (no key) ---- */
    {"GET", "/health", GW_ROLE_PUBLIC, GW_HEALTH, .success = 200,
     .summary = "Health of the gateway and its connections (NATS, PostgreSQL, Redis)."},
    {"GET", "/health/all", GW_ROLE_PUBLIC, GW_HEALTH_ALL, .success = 200,
     .summary = "Every service with its instance count and dependency status; 503 when a required "
                "service has no healthy instance."},
    {"GET", "/health/{service}", GW_ROLE_PUBLIC, GW_HEALTH_SERVICE, .success = 200,
     .summary = "Health of one service (svc.<service>.health, answered by any instance)."},
    {"GET", "/metrics", GW_ROLE_PUBLIC, GW_METRICS, .success = 200,
     .summary = "Prometheus metrics of every instance (service and instance labels) plus the "
                "gateway's own."},
    {"GET", "/openapi.json", GW_ROLE_PUBLIC, GW_OPENAPI, .success = 200,
     .summary = "This API as an OpenAPI 3.0 document, generated from the route table."},
    {"GET", "/docs", GW_ROLE_PUBLIC, GW_DOCS, .success = 200,
     .summary = "A readable page of the API."},
    {"GET", "/services", GW_ROLE_VIEWER, GW_SERVICES, .success = 200,
     .summary = "Every discovered service instance with version, endpoints and statistics."},

    /* ---- orders ---- */
    {"POST", "/v1/orders", GW_ROLE_TRADER, GW_BUS, "api.orders.submit", GW_IN_JSON,
     &tb_order_request_desc, .reply = &tb_order_record_desc, .flags = GW_F_SCOPED, .success = 200,
     .guard = guard_order,
     .summary = "Submit an order; checked by risk-management. A retry with the same "
                "client_order_id returns the first order."},
    {"POST", "/v1/order-groups", GW_ROLE_TRADER, GW_BUS, "api.orders.submit_group", GW_IN_JSON,
     &tb_order_group_request_desc, .reply = &tb_order_record_desc, .flags = LIST_SCOPED,
     .success = 200,
     .summary = "Submit an OCO pair (contingency oco) or a bracket order (contingency bracket); "
                "every order is checked by risk-management and the group is recorded whole or "
                "refused. Replies with the group's orders."},
    {"GET", "/v1/orders", GW_ROLE_VIEWER, GW_BUS, "api.orders.list", GW_IN_QUERY, Q,
     "account,symbol,status,group_id,limit,cursor", .reply = &tb_order_record_desc,
     .flags = LIST_SCOPED, .success = 200, .summary = "List orders of the caller's accounts."},
    {"GET", "/v1/orders/{id}", GW_ROLE_VIEWER, GW_BUS, "api.orders.get", GW_IN_QUERY, Q, "", "id",
     .reply = &tb_order_record_desc, .flags = GW_F_SCOPED, .success = 200,
     .summary = "One order; 404 when it does not exist or is not the caller's."},
    {"DELETE", "/v1/orders/{id}", GW_ROLE_TRADER, GW_BUS, "api.orders.cancel", GW_IN_QUERY, Q, "",
     "id", .reply = &tb_order_record_desc, .flags = GW_F_SCOPED, .success = 200,
     .summary = "Cancel a resting order; replies with the order."},
    {"PATCH", "/v1/orders/{id}", GW_ROLE_TRADER, GW_BUS, "api.orders.amend", GW_IN_JSON,
     &tb_order_amend_desc, "", "id", .server_set = "accounts", .reply = &tb_order_record_desc,
     .flags = GW_F_SCOPED, .success = 200,
     .summary = "Amend a working order's qty, limit_price or stop_price (at least one); checked by "
                "risk-management like a new order; the order keeps its id. 409 when finished, 422 "
                "when rejected or when a field does not fit the order."},

    /* ---- fills, positions, accounts ---- */
    {"GET", "/v1/fills", GW_ROLE_VIEWER, GW_BUS, "api.fills.list", GW_IN_QUERY, Q,
     "account,symbol,from,to,limit,cursor", .reply = &tb_fill_desc, .flags = LIST_SCOPED,
     .success = 200, .summary = "List fills of the caller's accounts."},
    {"GET", "/v1/positions", GW_ROLE_VIEWER, GW_BUS, "api.positions.list", GW_IN_QUERY, Q,
     "account,symbol,limit,cursor", .reply = &tb_position_update_desc, .flags = LIST_SCOPED,
     .success = 200, .summary = "Positions with average cost and P&L."},
    {"GET", "/v1/accounts", GW_ROLE_VIEWER, GW_BUS, "api.accounts.list", GW_IN_QUERY, Q,
     "account,limit,cursor", .reply = &tb_account_desc, .flags = LIST_SCOPED, .success = 200,
     .summary = "Accounts the caller may see, with cash, equity and P&L."},
    {"GET", "/v1/accounts/{id}", GW_ROLE_VIEWER, GW_BUS, "api.accounts.get", GW_IN_QUERY, Q, "",
     "account", "id", .reply = &tb_account_desc, .flags = GW_F_SCOPED, .success = 200,
     .summary = "One account: cash, equity, realized and unrealized P&L."},
    {"POST", "/v1/accounts", GW_ROLE_ADMIN, GW_BUS, "api.accounts.create", GW_IN_JSON,
     &tb_account_desc, .reply = &tb_account_desc, .flags = GW_F_SCOPED, .success = 201,
     .embed = &embed_limits,
     .summary = "Create an account with its starting cash (initial_cash); the reply is the "
                "stored account with its effective risk limits."},

    /* ---- risk ---- */
    {"GET", "/v1/risk/limits/{account}", GW_ROLE_VIEWER, GW_BUS, "api.risk.limits.get", GW_IN_QUERY,
     Q, "", "account", .reply = &tb_risk_limits_desc, .flags = GW_F_SCOPED, .success = 200,
     .summary = "Pre-trade limits of an account."},
    /* backtest marks a backtest run's account (analytics sets it when it
     * creates the run): never from outside, so no live account can take a
     * run's waiting rules. */
    {"PUT", "/v1/risk/limits/{account}", GW_ROLE_ADMIN, GW_BUS, "api.risk.limits.set", GW_IN_JSON,
     &tb_risk_limits_desc, "", "account", .server_set = "backtest,kill_reason",
     .reply = &tb_risk_limits_desc, .flags = GW_F_SCOPED, .success = 200,
     .summary = "Replace the pre-trade limits of an account."},
    {"GET", "/v1/risk/accounts/{account}", GW_ROLE_VIEWER, GW_BUS, "api.risk.accounts.get",
     GW_IN_QUERY, Q, "", "account", .reply = &tb_account_risk_desc, .flags = GW_F_SCOPED | GW_F_RAW,
     .success = 200,
     .summary = "Portfolio risk of an account: gross and net exposure, leverage, margin used and "
                "available, buying power, one-day historical VaR (95 %, 99 %), and positions: "
                "each position's exposure, concentration, margin and VaR (position_risk)."},
    {"GET", "/v1/risk/accounts/{account}/positions/{symbol}", GW_ROLE_VIEWER, GW_BUS,
     "api.risk.positions.get", GW_IN_QUERY, Q, "", "account", .path_field2 = "symbol",
     .reply = &tb_position_risk_desc, .flags = GW_F_SCOPED, .success = 200,
     .summary = "Risk of one position: exposure, concentration, margin and one-day historical "
                "VaR; 404 when the account holds none of the symbol."},
    {"POST", "/v1/risk/kill-switch", GW_ROLE_TRADER, GW_BUS, "api.risk.killswitch", GW_IN_JSON,
     &tb_kill_switch_desc, .reply = &tb_kill_switch_desc, .flags = GW_F_SCOPED, .success = 200,
     .guard = guard_kill_switch,
     .summary = "Engage or release a kill switch; no account means the global switch (admin only); "
                "releasing needs an admin key."},

    /* ---- strategies and signals ---- */
    {"GET", "/v1/strategies", GW_ROLE_VIEWER, GW_BUS, "api.strategies.list", GW_IN_QUERY, Q,
     "account,symbol,limit,cursor", .reply = &tb_strategy_desc, .flags = LIST_SCOPED,
     .success = 200, .summary = "Configured strategies."},
    {"POST", "/v1/strategies", GW_ROLE_TRADER, GW_BUS, "api.strategies.create", GW_IN_JSON,
     &tb_strategy_desc, .reply = &tb_strategy_desc, .flags = GW_F_SCOPED, .success = 201,
     .summary = "Create a strategy."},
    {"GET", "/v1/strategies/{id}", GW_ROLE_VIEWER, GW_BUS, "api.strategies.get", GW_IN_QUERY, Q, "",
     "id", "strategy_id", .reply = &tb_strategy_desc, .flags = GW_F_SCOPED, .success = 200,
     .summary = "One strategy."},
    {"PUT", "/v1/strategies/{id}", GW_ROLE_TRADER, GW_BUS, "api.strategies.update", GW_IN_JSON,
     &tb_strategy_desc, "", "strategy_id", .reply = &tb_strategy_desc, .flags = GW_F_SCOPED,
     .success = 200, .summary = "Replace a strategy's configuration."},
    {"DELETE", "/v1/strategies/{id}", GW_ROLE_TRADER, GW_BUS, "api.strategies.delete", GW_IN_QUERY,
     Q, "", "id", "strategy_id", .flags = GW_F_SCOPED, .success = 204,
     .summary = "Delete a strategy."},
    {"GET", "/v1/signals", GW_ROLE_VIEWER, GW_BUS, "api.signals.list", GW_IN_QUERY, Q,
     "account,symbol,strategy_id,from,to,limit,cursor", .reply = &tb_signal_desc,
     .flags = LIST_SCOPED, .success = 200, .summary = "Signals produced by the strategies."},

    /* ---- market data and history ---- */
    {"GET", "/v1/market/symbols", GW_ROLE_VIEWER, GW_BUS, "api.market.symbols", GW_IN_QUERY, Q,
     "limit,cursor", .reply = &tb_tick_desc, .flags = GW_F_LIST, .success = 200,
     .summary = "Symbols with their last quote."},
    {"GET", "/v1/market/quotes/{symbol}", GW_ROLE_VIEWER, GW_BUS, "api.market.quote", GW_IN_QUERY,
     Q, "", "symbol", .reply = &tb_tick_desc, .flags = GW_F_QUOTE, .success = 200,
     .summary = "Last quote of a symbol."},
    {"GET", "/v1/bars", GW_ROLE_VIEWER, GW_BUS, "api.bars.query", GW_IN_QUERY, Q,
     "symbol,interval,from,to,limit,cursor", .reply = &tb_bar_desc, .flags = GW_F_LIST,
     .success = 200, .summary = "OHLCV bars of a symbol and interval in [from, to)."},
    {"POST", "/v1/bars/import", GW_ROLE_TRADER, GW_BUS, "api.bars.import", GW_IN_CSV,
     .reply = &tb_bars_import_result_desc, .success = 200, .timeout_ms = 30000,
     .summary = "Import bars from a CSV body (text/csv)."},

    /* ---- analytics ---- */
    {"GET", "/v1/analytics/{account}", GW_ROLE_VIEWER, GW_BUS, "api.analytics.get", GW_IN_QUERY, Q,
     "strategy_id,from,to,interval", "account", .reply = &tb_performance_desc, .flags = GW_F_SCOPED,
     .success = 200,
     .summary = "Performance statistics of an account (or of a strategy's fills); a statistic "
                "that cannot be computed is null and null_reasons says why."},
    {"GET", "/v1/analytics/{account}/trades", GW_ROLE_VIEWER, GW_BUS, "api.analytics.trades",
     GW_IN_QUERY, Q, "symbol,strategy_id,from,to,limit,cursor", "account",
     .reply = &tb_round_trip_desc, .flags = LIST_SCOPED, .success = 200,
     .summary = "Round trips (flat to flat) by entry time, with entry and exit time and price, "
                "qty, P&L and fees; the open one has a null exit."},
    {"GET", "/v1/analytics/{account}/equity", GW_ROLE_VIEWER, GW_BUS, "api.analytics.equity",
     GW_IN_QUERY, Q, "from,to,limit,cursor", "account", .reply = &tb_equity_point_desc,
     .flags = LIST_SCOPED | GW_F_SVG, .success = 200,
     .summary = "Equity curve with each point's drawdown as JSON, or an SVG chart with "
                "?format=svg or Accept: image/svg+xml."},

    /* ---- backtests (analytics runs them; actors/analytics/README.md) ---- */
    {"POST", "/v1/backtests", GW_ROLE_TRADER, GW_BUS, "api.backtests.create", GW_IN_JSON,
     &tb_backtest_desc,
     .server_set = "backtest_id,parent_id,status,progress,events,total_events,runs,run_account,"
                   "strategy_ids,message,created_at,started_at,finished_at",
     .reply = &tb_backtest_desc, .flags = GW_F_SCOPED, .success = 202, .timeout_ms = 30000,
     .attach = "data.csv", /* bus/wire.h BUS_ATTACH_CSV */
     .summary = "Start a backtest (or a grid of them) on its own account, symbols and clock; "
                "answers at once with the run's id and status running."},
    {"GET", "/v1/backtests", GW_ROLE_VIEWER, GW_BUS, "api.backtests.list", GW_IN_QUERY, Q,
     "account,status,limit,cursor", .reply = &tb_backtest_desc, .flags = LIST_SCOPED,
     .success = 200, .summary = "Backtests of the caller's accounts, newest first."},
    {"GET", "/v1/backtests/{id}/report.svg", GW_ROLE_VIEWER, GW_BUS, "api.backtests.equity",
     GW_IN_QUERY, Q, "", "id", .reply = &tb_equity_point_desc,
     .flags = LIST_SCOPED | GW_F_SVG | GW_F_SVG_ONLY, .success = 200,
     .summary = "The run's equity and drawdown as an SVG chart."},
    {"GET", "/v1/backtests/{id}/report", GW_ROLE_VIEWER, GW_BUS, "api.backtests.report",
     GW_IN_QUERY, Q, "interval", "id", .reply = &tb_performance_desc,
     .flags = GW_F_SCOPED | GW_F_RAW, .success = 200, .timeout_ms = 30000,
     .summary = "The run's report: every statistic of /v1/analytics plus backtest_id, "
                "symbols (as named in the request), the run's costs (fee_bps, fee_min, "
                "slippage_bps; fees is what its fills paid), trades (round trips) and equity "
                "(with drawdown); partial while running or after a cancel."},
    {"GET", "/v1/backtests/{id}", GW_ROLE_VIEWER, GW_BUS, "api.backtests.get", GW_IN_QUERY, Q, "",
     "id", .reply = &tb_backtest_desc, .flags = GW_F_SCOPED | GW_F_RAW, .success = 200,
     .timeout_ms = 30000,
     .summary = "One backtest: status, progress, events, times; a grid also lists its children "
                "ranked by rank_by (children, each with rank and score)."},
    {"DELETE", "/v1/backtests/{id}", GW_ROLE_TRADER, GW_BUS, "api.backtests.cancel", GW_IN_QUERY, Q,
     "", "id", .reply = &tb_backtest_desc, .flags = GW_F_SCOPED, .success = 200,
     .summary = "Cancel a running backtest (and a grid's children): its replay stops within a "
                "second; the partial report stays."},

    /* ---- notifications ---- */
    {"GET", "/v1/webhooks", GW_ROLE_VIEWER, GW_BUS, "api.webhooks.list", GW_IN_QUERY, Q, "account",
     .reply = &tb_webhook_desc, .flags = LIST_SCOPED, .success = 200,
     .summary = "Webhook subscriptions."},
    {"POST", "/v1/webhooks", GW_ROLE_TRADER, GW_BUS, "api.webhooks.create", GW_IN_JSON,
     &tb_webhook_desc, .reply = &tb_webhook_desc, .flags = GW_F_SCOPED, .success = 201,
     .summary = "Subscribe a URL to events; the signing secret is returned once."},
    {"GET", "/v1/webhooks/{id}/deliveries", GW_ROLE_VIEWER, GW_BUS, "api.webhooks.deliveries",
     GW_IN_QUERY, Q, "status,limit,cursor", "id", .reply = &tb_webhook_delivery_desc,
     .flags = LIST_SCOPED, .success = 200,
     .summary =
         "Deliveries of a webhook (status: pending, delivered or dead), dead letters included."},
    {"DELETE", "/v1/webhooks/{id}", GW_ROLE_TRADER, GW_BUS, "api.webhooks.delete", GW_IN_QUERY, Q,
     "", "id", .flags = GW_F_SCOPED, .success = 204, .summary = "Delete a webhook."},
    {"GET", "/v1/alerts", GW_ROLE_VIEWER, GW_BUS, "api.alerts.list", GW_IN_QUERY, Q,
     "account,symbol,from,to,limit,cursor", .reply = &tb_alert_desc, .flags = LIST_SCOPED,
     .success = 200, .summary = "Alerts raised."},
    {"GET", "/v1/alerts/rules", GW_ROLE_VIEWER, GW_BUS, "api.alerts.rules.list", GW_IN_QUERY, Q,
     "account,symbol", .reply = &tb_alert_rule_desc, .flags = LIST_SCOPED, .success = 200,
     .summary = "Alert rules."},
    {"POST", "/v1/alerts/rules", GW_ROLE_TRADER, GW_BUS, "api.alerts.rules.create", GW_IN_JSON,
     &tb_alert_rule_desc, .reply = &tb_alert_rule_desc, .flags = GW_F_SCOPED, .success = 201,
     .summary = "Create an alert rule."},
    {"DELETE", "/v1/alerts/rules/{id}", GW_ROLE_TRADER, GW_BUS, "api.alerts.rules.delete",
     GW_IN_QUERY, Q, "", "id", .flags = GW_F_SCOPED, .success = 204,
     .summary = "Delete an alert rule."},

    /* ---- live stream ---- */
    {"GET", "/v1/stream", GW_ROLE_VIEWER, GW_STREAM, .flags = GW_F_SCOPED, .success = 101,
     .summary = "WebSocket stream of live events (quotes, orders, fills, positions, alerts) for "
                "the key's accounts; the key may also be given as ?api_key= (browsers)."},

    /* ---- the caller ---- */
    {"GET", "/v1/me", GW_ROLE_VIEWER, GW_ME, .reply = &tb_api_key_desc, .success = 200,
     .summary = "The calling key: its id, role and accounts (empty: every account), without the "
                "secret; the web UI shows what the key may do from it."},

    /* ---- admin ---- */
    {"POST", "/v1/api-keys", GW_ROLE_ADMIN, GW_KEY_CREATE, NULL, GW_IN_JSON, &tb_api_key_desc,
     .server_set = "id,key,created_at", .reply = &tb_api_key_desc, .success = 201,
     .summary = "Create an API key (role, accounts, name); the key is in this reply only."},
    {"DELETE", "/v1/api-keys/{id}", GW_ROLE_ADMIN, GW_KEY_REVOKE, .success = 204,
     .summary = "Revoke an API key; takes effect on every gateway within GATEWAY_AUTH_CACHE_MS."},
};

const gw_route *gw_routes(size_t *n) {
    *n = sizeof routes / sizeof routes[0];
    return routes;
}

bool gw_route_param(const gw_route *r, char *out, size_t cap) {
    const char *b = strchr(r->path, '{');
    const char *e = b ? strchr(b, '}') : NULL;
    if (b == NULL || e == NULL) return false;
    snprintf(out, cap, "%.*s", (int)(e - b - 1), b + 1);
    return true;
}

/* Matches path against pattern; a {x} segment takes one non-empty segment. */
static bool match_pattern(const char *pattern, const char *path, gw_match *m) {
    const char *p = pattern, *s = path;
    m->has_param = m->has_param2 = false;
    m->param[0] = m->param2[0] = '\0';
    while (*p && *s) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            size_t n = strcspn(s, "/");
            char *into = m->has_param ? m->param2 : m->param;
            if (pe == NULL || n == 0 || n >= sizeof m->param || m->has_param2) return false;
            memcpy(into, s, n);
            into[n] = '\0';
            if (m->has_param)
                m->has_param2 = true;
            else
                m->has_param = true;
            p = pe + 1;
            s += n;
            continue;
        }
        if (*p != *s) return false;
        p++;
        s++;
    }
    return *p == '\0' && *s == '\0';
}

gw_match_result gw_route_match(const char *method, const char *path, gw_match *out) {
    memset(out, 0, sizeof *out);
    bool path_found = false;
    gw_match m;
    const char *first_pattern = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const gw_route *r = &routes[i];
        /* Once a pattern matched, only routes with that same pattern count:
         * /health/all must not fall through to /health/{service}. */
        if (first_pattern && strcmp(r->path, first_pattern) != 0) continue;
        if (!match_pattern(r->path, path, &m)) continue;
        first_pattern = r->path;
        path_found = true;
        if (strcmp(r->method, method) == 0) {
            *out = m;
            out->route = r;
            return GW_MATCH_OK;
        }
        size_t used = strlen(out->allow);
        snprintf(out->allow + used, sizeof out->allow - used, "%s%s", used ? ", " : "", r->method);
    }
    return path_found ? GW_MATCH_NO_METHOD : GW_MATCH_NO_ROUTE;
}
