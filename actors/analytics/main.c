/* tb-analytics: equity curves and performance statistics per account and
 * strategy.
 *
 * Consumes pos.update.> (core NATS, queue group "analytics"): for each
 * position update it asks position-management for the account's valuation
 * (api.accounts.get: cash + sum(qty * last) over the positions) and upserts
 * one equity point per account and ANALYTICS_SAMPLE_MS bucket; if the
 * valuation cannot be had, nothing is stored. Consumes fills.> (core, queue
 * group) and records each fill once, for trade counts and win rates.
 *
 * Endpoints: api.analytics.get (query -> performance) and
 * api.analytics.equity (query -> list of equity_point). See README.md. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor.h"
#include "an_stats.h"
#include "an_store.h"
#include "an_trades.h"

#define EQUITY_DEFAULT_LIMIT 1000
#define EQUITY_MAX_LIMIT     10000

typedef struct an_state {
    int64_t sample_ns;
    int64_t period_ns; /* default return period */
    int64_t trading_days;
    int64_t accounts_timeout_ms;
    bus_series *samples_written, *samples_stale, *valuation_errors;
    bus_series *fills_recorded, *fills_duplicate;
} an_state;

static an_state state;

static const struct {
    const char *name;
    int64_t ns;
} periods[] = {{"1s", INT64_C(1000000000)},
               {"1m", INT64_C(60000000000)},
               {"5m", INT64_C(300000000000)},
               {"1h", INT64_C(3600000000000)},
               {"1d", INT64_C(86400000000000)}};

static int64_t period_ns(const char *name) {
    for (size_t i = 0; i < sizeof periods / sizeof periods[0]; i++)
        if (strcmp(name, periods[i].name) == 0) return periods[i].ns;
    return 0;
}

/* floor(ts / len) * len, also before the epoch. */
static int64_t bucket_of(int64_t ts, int64_t len) {
    int64_t r = ts % len;
    return ts - (r < 0 ? r + len : r);
}

/* A request naming accounts (set by the gateway from the caller's key) may
 * only see those: others look absent. */
static bool account_visible(const tb_query *q) {
    if (q->accounts[0] == '\0') return true;
    size_t n = strlen(q->account);
    for (const char *p = q->accounts; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, q->account, n) == 0) return true;
        if (!end) break;
        p = end + 1;
    }
    return false;
}

static tb_status on_pos_update(bus_ctx *ctx, const void *ev) {
    const tb_position_update *u = ev;
    if (u->ts <= 0) return bus_fail(ctx, TB_INVALID, "ts", "position update without a time");
    tb_query q = {0};
    snprintf(q.account, sizeof q.account, "%s", u->account);
    tb_account v;
    tb_error err = {0};
    tb_status s =
        bus_request(bus_actor_conn(bus_ctx_actor(ctx)), "api.accounts.get", &tb_query_desc, &q,
                    &tb_account_desc, &v, state.accounts_timeout_ms, bus_ctx_trace(ctx), &err);
    if (s != TB_OK) {
        /* No valuation, no point: a guessed equity would be a wrong one. */
        bus_counter_add(state.valuation_errors, 1);
        return bus_fail(ctx, s, "account", "valuation of %s unavailable, no sample: %s", u->account,
                        err.message);
    }
    if (strcmp(v.account, u->account) != 0) {
        bus_counter_add(state.valuation_errors, 1);
        return bus_fail(ctx, TB_ERR, "account", "api.accounts.get for %s answered for %s",
                        u->account, v.account);
    }
    int64_t valued = v.ts > 0 ? v.ts : tb_now_ns();
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL) return bus_fail_err(ctx, &err);
    bool written = false;
    s = an_store_sample(pg, u->account, bucket_of(u->ts, state.sample_ns), &v, valued, &written,
                        &err);
    if (s != TB_OK) return bus_fail_err(ctx, &err);
    bus_counter_add(written ? state.samples_written : state.samples_stale, 1);
    return TB_OK;
}

static tb_status on_fill(bus_ctx *ctx, const void *ev) {
    const tb_fill *f = ev;
    if (f->qty <= 0)
        return bus_fail(ctx, TB_INVALID, "qty", "fill %s: qty not positive", f->fill_id);
    if (f->price <= 0)
        return bus_fail(ctx, TB_INVALID, "price", "fill %s: price not positive", f->fill_id);
    if (f->ts <= 0) return bus_fail(ctx, TB_INVALID, "ts", "fill %s: no time", f->fill_id);
    tb_error err = {0};
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL) return bus_fail_err(ctx, &err);
    bool inserted = false;
    if (an_store_record_fill(pg, f, &inserted, &err) != TB_OK) return bus_fail_err(ctx, &err);
    bus_counter_add(inserted ? state.fills_recorded : state.fills_duplicate, 1);
    return TB_OK;
}

/* The account a query is about: required, visible, existing. */
static tb_status check_account(bus_ctx *ctx, const tb_query *q, PGconn **pg) {
    if (q->account[0] == '\0')
        return bus_fail(ctx, TB_MISSING_FIELD, "account", "account is required");
    if (!account_visible(q))
        return bus_fail(ctx, TB_NOT_FOUND, "account", "no account %s", q->account);
    if (q->from < 0 || q->to < 0) return bus_fail(ctx, TB_INVALID, "from", "times before 1970");
    if (q->from && q->to && q->from >= q->to)
        return bus_fail(ctx, TB_INVALID, "to", "to must be after from");
    tb_error err = {0};
    *pg = bus_ctx_pg(ctx, &err);
    if (*pg == NULL) return bus_fail_err(ctx, &err);
    bool exists = false;
    if (an_store_account_exists(*pg, q->account, &exists, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    if (!exists) return bus_fail(ctx, TB_NOT_FOUND, "account", "no account %s", q->account);
    return TB_OK;
}

static tb_status on_get(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    PGconn *pg = NULL;
    tb_status s = check_account(ctx, q, &pg);
    if (s != TB_OK) return s;
    int64_t period = q->interval[0] ? period_ns(q->interval) : state.period_ns;
    if (period == 0)
        return bus_fail(ctx, TB_INVALID, "interval", "interval must be 1s|1m|5m|1h|1d");
    tb_error err = {0};
    tb_performance p = {0};
    snprintf(p.account, sizeof p.account, "%s", q->account);
    snprintf(p.strategy_id, sizeof p.strategy_id, "%s", q->strategy_id);

    an_trades t;
    an_trades_init(&t, q->strategy_id, q->from);
    if (an_store_scan_fills(pg, q->account, q->to, &t, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    p.trades = t.fills;
    p.win_rate = an_win_rate(t.wins, t.closing);

    if (q->strategy_id[0]) {
        /* A strategy has no equity curve of its own (equity is per
         * account): its P&L is what its fills realized, net of their fees. */
        if (tb_fixed_sub(t.realized, t.fees, &p.pnl) != TB_OK)
            return bus_fail(ctx, TB_OVERFLOW, "pnl", "strategy P&L out of range");
        return bus_reply(ctx, &tb_performance_desc, &p);
    }
    an_series ser;
    an_series_init(&ser, period);
    tb_fixed first = 0, last = 0;
    if (an_store_scan_equity(pg, q->account, q->from, q->to, &ser, &first, &last, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    an_summary m;
    an_series_finish(&ser, an_periods_per_year(period, (double)state.trading_days), &m);
    if (m.points > 0) {
        p.equity = last;
        if (tb_fixed_sub(last, first, &p.pnl) != TB_OK)
            return bus_fail(ctx, TB_OVERFLOW, "pnl", "P&L out of range");
        p.total_return = m.total_return;
        p.sharpe = m.sharpe;
        p.sortino = m.sortino;
        p.max_drawdown = m.max_drawdown;
        p.volatility = m.volatility;
        p.from = m.from;
        p.to = m.to;
    }
    return bus_reply(ctx, &tb_performance_desc, &p);
}

static tb_status on_equity(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    int64_t from = q->from;
    if (q->cursor[0]) {
        char *end = NULL;
        long long c = strtoll(q->cursor, &end, 10);
        if (end == q->cursor || *end != '\0' || c <= 0)
            return bus_fail(ctx, TB_INVALID, "cursor", "cursor is not one from an equity reply");
        from = c;
    }
    tb_query scoped = *q;
    scoped.from = from;
    PGconn *pg = NULL;
    tb_status s = check_account(ctx, &scoped, &pg);
    if (s != TB_OK) return s;
    size_t limit = q->limit == 0                 ? EQUITY_DEFAULT_LIMIT
                   : q->limit > EQUITY_MAX_LIMIT ? EQUITY_MAX_LIMIT
                                                 : (size_t)q->limit;
    tb_error err = {0};
    tb_equity_point *pts = NULL;
    size_t n = 0;
    char next[TB_ID_CAP];
    if (an_store_list_equity(pg, q->account, from, q->to, limit, &pts, &n, next, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    s = bus_reply_list(ctx, &tb_equity_point_desc, pts, n, next[0] ? next : NULL);
    free(pts);
    return s;
}

static tb_status start(bus_actor *a, tb_error *err) {
    (void)err;
    bus_metrics *m = bus_actor_metrics(a);
    const char *sh = "Equity samples by outcome";
    state.samples_written =
        bus_metrics_counter(m, "tb_analytics_samples_total", sh, "outcome", "written", NULL);
    state.samples_stale =
        bus_metrics_counter(m, "tb_analytics_samples_total", sh, "outcome", "stale", NULL);
    state.valuation_errors =
        bus_metrics_counter(m, "tb_analytics_valuation_errors_total",
                            "Position updates with no valuation (no sample)", NULL);
    const char *fh = "Fills received by outcome";
    state.fills_recorded =
        bus_metrics_counter(m, "tb_analytics_fills_total", fh, "outcome", "recorded", NULL);
    state.fills_duplicate =
        bus_metrics_counter(m, "tb_analytics_fills_total", fh, "outcome", "duplicate", NULL);
    bus_actor_set_user(a, &state);
    return TB_OK;
}

static void usage(FILE *f) {
    fprintf(
        f,
        "  ANALYTICS_SAMPLE_MS          equity sampling bucket per account (default 1000)\n"
        "  ANALYTICS_PERIOD             return period of the ratios: 1s|1m|5m|1h|1d (default 1d)\n"
        "  ANALYTICS_TRADING_DAYS       days per year for annualising (default 252)\n"
        "  ANALYTICS_ACCOUNTS_TIMEOUT_MS  api.accounts.get timeout (default 2000)\n");
}

static const bus_endpoint endpoints[] = {
    {.name = "positions",
     .kind = BUS_EVENT,
     .subject = "pos.update.>",
     .event = &tb_position_update_desc,
     .handler = on_pos_update},
    /* Fills come from the FILLS stream, not core NATS: trade statistics must
     * count fills booked while no analytics instance was running. */
    {.name = "fills",
     .kind = BUS_STREAM,
     .subject = "fills.>",
     .event = &tb_fill_desc,
     .handler = on_fill,
     .stream =
         {.stream = "FILLS", .durable = "analytics", .ack_wait_ms = 30000, .max_deliver = 10}},
    {.name = "analytics-get",
     .kind = BUS_REQUEST,
     .subject = "api.analytics.get",
     .event = &tb_query_desc,
     .handler = on_get},
    {.name = "analytics-equity",
     .kind = BUS_REQUEST,
     .subject = "api.analytics.equity",
     .event = &tb_query_desc,
     .handler = on_equity},
};

static const bus_actor_def def = {
    .name = "analytics",
    .version = TB_VERSION,
    .description = "Equity curves and performance statistics per account and strategy",
    .endpoints = endpoints,
    .nendpoints = sizeof endpoints / sizeof endpoints[0],
    .needs = BUS_NEEDS_PG,
    .start = start,
    .usage = usage,
};

int main(int argc, char **argv) {
    tb_error err = {0};
    int64_t sample_ms = 0;
    if (bus_env_int("ANALYTICS_SAMPLE_MS", 1000, 1, 86400000, &sample_ms, &err) != TB_OK ||
        bus_env_int("ANALYTICS_TRADING_DAYS", 252, 1, 366, &state.trading_days, &err) != TB_OK ||
        bus_env_int("ANALYTICS_ACCOUNTS_TIMEOUT_MS", 2000, 10, 60000, &state.accounts_timeout_ms,
                    &err) != TB_OK) {
        fprintf(stderr, "tb-analytics: %s\n", err.message);
        return 2;
    }
    state.sample_ns = sample_ms * 1000000;
    const char *period = bus_env("ANALYTICS_PERIOD", "1d");
    if ((state.period_ns = period_ns(period)) == 0) {
        fprintf(stderr, "tb-analytics: ANALYTICS_PERIOD must be 1s|1m|5m|1h|1d, not \"%s\"\n",
                period);
        return 2;
    }
    return bus_actor_main(&def, argc, argv);
}
