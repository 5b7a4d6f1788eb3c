/* Backtests as runs of the live services (README "Backtests").
 *
 * analytics owns them: the `backtests` table, the api.backtests.* endpoints
 * (an_bt_api.c) and a timer on every instance that carries each running run
 * on (an_bt_run.c). A run bt<N> gets an account bt<N>, strategies on the
 * symbols bt<N>-<SYM> and a replay (feed bt<N>) that renames the data's
 * symbols so: its ticks, signals, orders, fills, marks and bars never meet
 * another run's or live trading's. */
#ifndef AN_BACKTEST_H
#define AN_BACKTEST_H

#include "actor.h"
#include "an_bt_spec.h"

typedef struct an_bt_settings {
    int64_t grid_max;      /* BACKTEST_GRID_MAX: most runs of a grid */
    int64_t tick_ms;       /* BACKTEST_TICK_MS: how often running runs are looked at */
    int64_t quiet_ms;      /* BACKTEST_QUIET_MS: chain unchanged this long after the replay */
    int64_t settle_ms;     /* BACKTEST_SETTLE_MS: most time from the replay's end to quiet */
    int64_t decide_ms;     /* BACKTEST_DECIDE_MS: quiet this long with a signal undecided: failed */
    int64_t request_ms;    /* BACKTEST_REQUEST_TIMEOUT_MS: each request to another service */
    int64_t csv_max;       /* BACKTEST_CSV_MAX: largest CSV of a csv or bars run, bytes */
    tb_fixed default_cash; /* initial cash when the request names none */
} an_bt_settings;

extern an_bt_settings an_bt;

/* Reads BACKTEST_* from the environment; TB_INVALID naming the variable. */
tb_status an_bt_settings_load(tb_error *err) TB_WARN_UNUSED;
void an_bt_usage(FILE *f);
/* Starts the timer that carries running runs on (def.start). */
tb_status an_bt_start(bus_actor *a, tb_error *err) TB_WARN_UNUSED;

/* api.market.replay of rp, with csv[0..len) attached when csv is not NULL
 * (a csv or bars run); the reply into *st. */
tb_status an_bt_ask_replay(bus_conn *c, const tb_market_replay *rp, const char *csv, size_t len,
                           tb_md_status *st, tb_error *err) TB_WARN_UNUSED;

/* Endpoints (an_bt_api.c). */
tb_status an_bt_on_create(bus_ctx *ctx, const void *ev);
tb_status an_bt_on_list(bus_ctx *ctx, const void *ev);
tb_status an_bt_on_get(bus_ctx *ctx, const void *ev);
tb_status an_bt_on_cancel(bus_ctx *ctx, const void *ev);
tb_status an_bt_on_report(bus_ctx *ctx, const void *ev);
tb_status an_bt_on_equity(bus_ctx *ctx, const void *ev);

/* From main.c: the statistics and the round trips of q->account, as
 * api.analytics.get / api.analytics.trades compute them (failures recorded
 * with bus_fail, as a handler's). */
tb_status an_performance_of(bus_ctx *ctx, const tb_query *q, const tb_equity_point *pts,
                            size_t npts, tb_performance *out);
/* One page of api.bars.query (list of tb_bar into *items, heap; next may
 * be NULL). */
tb_status an_bars_query(bus_ctx *ctx, const tb_query *q, int64_t timeout_ms, void **items,
                        size_t *n, char next[TB_ID_CAP], tb_error *err) TB_WARN_UNUSED;
/* The length of a return period ("1d"), 0 for an unknown one. */
int64_t an_period_ns(const char *name);
/* The default return period (ANALYTICS_PERIOD). */
const char *an_default_period(void);
tb_status an_trips_of(bus_ctx *ctx, const tb_query *q, tb_round_trip **items, size_t *n);

/* ---- the backtests table (an_bt_store.c) ---- */
typedef struct an_bt_row an_bt_row;
/* The run's equity curve in the data's time (an_bt_curve.c): one point per
 * bar of interval (period_ns long) of its symbols, drawdowns set. */
tb_status an_bt_curve(bus_ctx *ctx, PGconn *pg, const an_bt_row *r, const char *interval,
                      int64_t period_ns, tb_equity_point **out, size_t *n,
                      tb_error *err) TB_WARN_UNUSED;

struct an_bt_row {
    char id[TB_TOKEN_CAP];
    char parent_id[TB_TOKEN_CAP];
    char owner[TB_TOKEN_CAP];
    tb_backtest spec; /* as asked for (a grid child: with its own params) */
    char status[TB_ENUM_CAP];
    char phase[TB_ENUM_CAP];
    char message[TB_TEXT_CAP];
    char run_account[TB_TOKEN_CAP];
    char strategy_ids[TB_TEXT_CAP];
    int64_t events, total_events, runs;
    char quiet_sig[TB_TEXT_CAP];
    int64_t quiet_since_ns, created_ns, started_ns, finished_ns;
};

/* bt<N> from the sequence. */
tb_status an_bt_next_id(PGconn *c, char out[TB_TOKEN_CAP], tb_error *err) TB_WARN_UNUSED;
tb_status an_bt_insert(PGconn *c, const an_bt_row *r, tb_error *err) TB_WARN_UNUSED;
/* TB_NOT_FOUND when there is no such run. for_update locks the row (inside
 * a transaction). */
tb_status an_bt_load(PGconn *c, const char *id, bool for_update, an_bt_row *out,
                     tb_error *err) TB_WARN_UNUSED;
/* Writes the mutable columns (status .. finished_ns) of r. */
tb_status an_bt_save(PGconn *c, const an_bt_row *r, tb_error *err) TB_WARN_UNUSED;
/* Runs with parent_id = parent (or top-level runs of owners in the comma
 * list accounts, "" = all, when parent is NULL), newest first for lists,
 * creation order for children; at most limit (heap, caller frees). status
 * filters when not empty; before (a created_ns, 0 = none) pages. */
tb_status an_bt_select(PGconn *c, const char *parent, const char *accounts, const char *status,
                       int64_t before, size_t limit, an_bt_row **out, size_t *n,
                       tb_error *err) TB_WARN_UNUSED;
/* Ids of running runs not locked by another instance, locked FOR UPDATE
 * (inside a transaction), oldest first, at most cap. */
tb_status an_bt_claim_running(PGconn *c, char (*ids)[TB_TOKEN_CAP], size_t cap, size_t *n,
                              tb_error *err) TB_WARN_UNUSED;
/* The events of a csv or bars run (backtest_data): stored once per request
 * (under the grid's id for a grid), read by each run when it starts. */
tb_status an_bt_data_put(PGconn *c, const char *id, const char *format, const char *csv,
                         tb_error *err) TB_WARN_UNUSED;
/* The text of r (its own row, else its parent's) into *csv (heap, caller
 * frees); TB_NOT_FOUND when none is stored. */
tb_status an_bt_data_get(PGconn *c, const an_bt_row *r, char **csv, size_t *len,
                         tb_error *err) TB_WARN_UNUSED;
/* The row as the catalogue's backtest (state included). */
void an_bt_to_event(const an_bt_row *r, tb_backtest *out);
/* Whether the owner is in the comma-separated accounts ("" = all). */
bool an_bt_visible(const an_bt_row *r, const char *accounts);

#endif
