/* tb-analytics: equity curves and performance statistics per account and
 * strategy.
 *
 * Consumes pos.update.> (core NATS, queue group "analytics") in batches:
 * for each account of a batch it asks position-management once for the
 * valuation (api.accounts.get: cash + sum(qty * last) over the positions),
 * which becomes the equity point of each ANALYTICS_SAMPLE_MS bucket the
 * account's updates fall in; all points of the batch are upserted with one
 * statement in one transaction. A batch costs one request per distinct
 * account plus three PostgreSQL round trips (BEGIN, upsert, COMMIT), however
 * many updates it holds. If an account's valuation cannot be had, nothing is
 * stored for it. Consumes fills.> (the FILLS stream, in batches) and records
 * each fill once, for trade counts and win rates.
 *
 * Endpoints: api.analytics.get (query -> performance), api.analytics.trades
 * (query -> list of round_trip) and api.analytics.equity (query -> list of
 * equity_point). See README.md. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor.h"
#include "an_backtest.h"
#include "an_report.h"
#include "an_roundtrips.h"
#include "an_stats.h"
#include "an_store.h"
#include "an_trades.h"
#include "influx.h"

#define EQUITY_DEFAULT_LIMIT 1000
#define EQUITY_MAX_LIMIT     10000
#define TRIPS_DEFAULT_LIMIT  100
#define TRIPS_MAX_LIMIT      1000
/* Traded symbols the buy and hold return asks historical-data about. */
#define BH_MAX_SYMBOLS 64
/* Round trips one trades request may hold in memory to sort them. */
#define TRIPS_MAX 200000

typedef struct an_state {
    int64_t sample_ns;
    const char *period; /* default return period */
    int64_t trading_days;
    double risk_free; /* annual rate, a fraction */
    int64_t accounts_timeout_ms;
    int64_t bars_timeout_ms;
    bus_series *samples_written, *samples_stale, *valuation_errors;
    bus_series *fills_recorded, *fills_duplicate;
    bus_influx *influx; /* equity points to InfluxDB; NULL: off */
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

int64_t an_period_ns(const char *name) {
    for (size_t i = 0; i < sizeof periods / sizeof periods[0]; i++)
        if (strcmp(name, periods[i].name) == 0) return periods[i].ns;
    return 0;
}

const char *an_default_period(void) {
    return state.period;
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

/* A valid update of a batch: its account, its sample bucket, its index. */
typedef struct pos_item {
    const char *account;
    int64_t bucket;
    size_t i;
} pos_item;

/* (account byte-wise, bucket, index): the samples' lock order, see
 * an_store_samples. */
static int item_order(const void *a, const void *b) {
    const pos_item *x = a, *y = b;
    int c = strcmp(x->account, y->account);
    if (c != 0) return c;
    if (x->bucket != y->bucket) return x->bucket < y->bucket ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* The batch's updates with a time into items, sorted; the others fail alone.
 * Returns how many there are. */
static size_t collect_updates(const bus_batch *b, pos_item *items) {
    size_t m = 0;
    for (size_t i = 0; i < bus_batch_len(b); i++) {
        const tb_position_update *u = bus_batch_event(b, i);
        if (u->ts <= 0)
            bus_batch_fail(b, i, TB_INVALID, "position update of %s without a time", u->account);
        else
            items[m++] = (pos_item){u->account, bucket_of(u->ts, state.sample_ns), i};
    }
    if (m > 1) qsort(items, m, sizeof *items, item_order);
    return m;
}

/* position-management's valuation of account now (api.accounts.get), and
 * when it was taken. */
static tb_status value_account(bus_ctx *ctx, const char *account, const char *trace, tb_account *v,
                               int64_t *valued, tb_error *err) {
    tb_query q = {0};
    snprintf(q.account, sizeof q.account, "%s", account);
    tb_error e = {0};
    tb_status s =
        bus_request(bus_actor_conn(bus_ctx_actor(ctx)), "api.accounts.get", &tb_query_desc, &q,
                    &tb_account_desc, v, state.accounts_timeout_ms, trace, &e);
    if (s != TB_OK)
        return tb_error_set(err, s, "account", "valuation of %s unavailable, no sample: %s",
                            account, e.message);
    if (strcmp(v->account, account) != 0)
        return tb_error_set(err, TB_ERR, "account", "api.accounts.get for %s answered for %s",
                            account, v->account);
    *valued = v->ts > 0 ? v->ts : tb_now_ns();
    return TB_OK;
}

/* One valuation per account of the sorted items (vals[] holds them), given
 * to each distinct (account, bucket) pair: the samples, in the items' order.
 * An account without a valuation gets no sample and its updates fail.
 * Returns how many samples there are. */
static size_t value_samples(bus_ctx *ctx, const bus_batch *b, const pos_item *items, size_t m,
                            tb_account *vals, an_sample *samples) {
    size_t k = 0, nv = 0;
    for (size_t g = 0, end; g < m; g = end) {
        end = g + 1;
        while (end < m && strcmp(items[end].account, items[g].account) == 0) end++;
        tb_error err = {0};
        int64_t valued = 0;
        if (value_account(ctx, items[g].account, bus_batch_trace(b, items[g].i), &vals[nv], &valued,
                          &err) != TB_OK) {
            /* No valuation, no point: a guessed equity would be a wrong one. */
            bus_counter_add(state.valuation_errors, end - g);
            for (size_t j = g; j < end; j++) bus_batch_fail_err(b, items[j].i, &err);
            continue;
        }
        for (size_t j = g; j < end; j++)
            if (j == g || items[j].bucket != items[j - 1].bucket)
                samples[k++] = (an_sample){items[j].account, items[j].bucket, &vals[nv], valued};
        nv++;
    }
    return k;
}

/* The batch's points to InfluxDB (queued, never waited for):
 *   equity,account=<id> equity=,cash=,realized_pnl=,unrealized_pnl=<decimal> <bucket, ns>
 * A stale sample (PostgreSQL kept a fresher one) is sent too; it is at
 * most one sample interval old. */
static void influx_samples(const an_sample *samples, size_t n) {
    for (size_t i = 0; state.influx && i < n; i++) {
        char buf[512];
        bus_influx_line l;
        bus_influx_line_init(&l, buf, sizeof buf, "equity");
        bus_influx_line_tag(&l, "account", samples[i].account);
        bus_influx_line_fixed(&l, "equity", samples[i].v->equity);
        bus_influx_line_fixed(&l, "cash", samples[i].v->cash);
        bus_influx_line_fixed(&l, "realized_pnl", samples[i].v->realized_pnl);
        bus_influx_line_fixed(&l, "unrealized_pnl", samples[i].v->unrealized_pnl);
        size_t len = bus_influx_line_end(&l, samples[i].bucket_ns);
        (void)bus_influx_write(state.influx, buf, len); /* a drop is counted by the sink */
    }
}

/* The samples of a batch in one statement; counts them written or stale. */
static tb_status store_samples(bus_ctx *ctx, const an_sample *samples, size_t n) {
    if (n == 0) return TB_OK;
    tb_error err = {0};
    size_t written = 0;
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL || an_store_samples(pg, samples, n, &written, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    bus_counter_add(state.samples_written, written);
    bus_counter_add(state.samples_stale, n - written);
    influx_samples(samples, n);
    return TB_OK;
}

/* A batch of position updates (core NATS): one api.accounts.get per account
 * and one upsert statement for the batch, however many updates it holds. */
static tb_status on_positions(bus_ctx *ctx, const bus_batch *b) {
    size_t n = bus_batch_len(b), cap = n ? n : 1;
    pos_item *items = calloc(cap, sizeof *items);
    tb_account *vals = calloc(cap, sizeof *vals);
    an_sample *samples = calloc(cap, sizeof *samples);
    tb_status s = TB_OK;
    if (items == NULL || vals == NULL || samples == NULL) {
        s = bus_fail(ctx, TB_NOMEM, NULL, "out of memory for %zu position updates", n);
    } else {
        size_t m = collect_updates(b, items);
        s = store_samples(ctx, samples, value_samples(ctx, b, items, m, vals, samples));
    }
    free(items);
    free(vals);
    free(samples);
    return s;
}

/* A batch of fills from the stream: the unusable ones fail alone
 * (redelivered, then dead-lettered), the rest are recorded in one
 * statement. */
static tb_status on_fills(bus_ctx *ctx, const bus_batch *b) {
    size_t n = bus_batch_len(b), m = 0;
    const tb_fill **ok = calloc(n ? n : 1, sizeof *ok);
    if (ok == NULL) return bus_fail(ctx, TB_NOMEM, NULL, "out of memory for %zu fills", n);
    for (size_t i = 0; i < n; i++) {
        const tb_fill *f = bus_batch_event(b, i);
        if (f->qty <= 0)
            bus_batch_fail(b, i, TB_INVALID, "fill %s: qty not positive", f->fill_id);
        else if (f->price <= 0)
            bus_batch_fail(b, i, TB_INVALID, "fill %s: price not positive", f->fill_id);
        else if (f->ts <= 0)
            bus_batch_fail(b, i, TB_INVALID, "fill %s: no time", f->fill_id);
        else
            ok[m++] = f;
    }
    tb_error err = {0};
    size_t inserted = 0;
    PGconn *pg = m ? bus_ctx_pg(ctx, &err) : NULL;
    tb_status s = m == 0 ? TB_OK
                  : pg   ? an_store_record_fills(pg, ok, m, &inserted, &err)
                         : err.status;
    free(ok);
    if (s != TB_OK) return bus_fail_err(ctx, &err);
    bus_counter_add(state.fills_recorded, inserted);
    bus_counter_add(state.fills_duplicate, m - inserted);
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

/* One fill of a scan into the trade counts and the round trips. */
typedef struct replay {
    an_trades trades;
    an_trips trips;
    /* the symbols traded from `from` on, for the buy and hold return */
    char syms[BH_MAX_SYMBOLS][TB_TOKEN_CAP];
    size_t nsyms;
    bool too_many;
} replay;

static tb_status replay_fill(void *arg, const an_fill *f, tb_error *err) {
    replay *r = arg;
    /* Fills come by symbol: a new symbol differs from the last one kept. */
    if (f->ts >= r->trades.from && (r->nsyms == 0 || strcmp(r->syms[r->nsyms - 1], f->symbol))) {
        if (r->nsyms == BH_MAX_SYMBOLS)
            r->too_many = true;
        else
            snprintf(r->syms[r->nsyms++], TB_TOKEN_CAP, "%s", f->symbol);
    }
    tb_status s = an_trades_add(&r->trades, f, err);
    return s == TB_OK ? an_trips_add(&r->trips, f, err) : s;
}

/* Replays the account's fills before q->to into r, counting q's selection. */
static tb_status replay_fills(PGconn *pg, const tb_query *q, replay *r, an_trip_fn fn, void *arg,
                              tb_error *err) {
    an_trades_init(&r->trades, q->strategy_id, q->from);
    an_trips_init(&r->trips, fn, arg);
    r->nsyms = 0;
    r->too_many = false;
    tb_status s = an_store_scan_fills(pg, q->account, q->symbol, q->to, replay_fill, r, err);
    return s == TB_OK ? an_trips_finish(&r->trips, err) : s;
}

tb_status an_bars_query(bus_ctx *ctx, const tb_query *q, int64_t timeout_ms, void **items,
                        size_t *n, char next[TB_ID_CAP], tb_error *err) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    tb_status s = tb_encode(&tb_query_desc, q, &sb, err);
    bus_bytes rep = {0};
    if (s == TB_OK)
        s = bus_request_bytes(bus_actor_conn(bus_ctx_actor(ctx)), "api.bars.query", sb.data,
                              sb.size, tb_query_desc.name, timeout_ms, bus_ctx_trace(ctx), &rep,
                              err);
    msgpack_sbuffer_destroy(&sb);
    if (s != TB_OK) return s;
    s = tb_decode_list(&tb_bar_desc, rep.data, rep.len, items, n, next, err);
    bus_bytes_free(&rep);
    return s;
}

/* One bar of symbol from historical-data: the first starting in [from, to)
 * (first) or the newest starting before to. *found is false when there is
 * none; an error when historical-data cannot answer. */
static tb_status one_bar(bus_ctx *ctx, const char *symbol, const char *interval, int64_t from,
                         int64_t to, bool first, tb_bar *out, bool *found, tb_error *err) {
    tb_query q = {.limit = 1, .to = to, .from = first ? from : 0};
    snprintf(q.symbol, sizeof q.symbol, "%s", symbol);
    snprintf(q.interval, sizeof q.interval, "%s", interval);
    void *items = NULL;
    size_t n = 0;
    tb_status s = an_bars_query(ctx, &q, state.bars_timeout_ms, &items, &n, NULL, err);
    *found = s == TB_OK && n > 0;
    if (*found) *out = *(tb_bar *)items;
    free(items);
    return s;
}

/* Buy and hold of the traded symbols over the curve's span [t0, t1]: bought
 * at the open of each one's first bar (of the return period) starting in
 * the span, held to the close of its newest bar starting by t1. */
static an_value buy_hold(bus_ctx *ctx, const replay *r, const char *interval, const an_summary *m) {
    if (m->points == 0) return (an_value){NAN, "no equity points"};
    if (r->too_many) return (an_value){NAN, "more than 64 traded symbols"};
    tb_fixed first[BH_MAX_SYMBOLS], last[BH_MAX_SYMBOLS];
    for (size_t i = 0; i < r->nsyms; i++) {
        tb_bar b;
        bool found = false;
        tb_error err = {0};
        if (one_bar(ctx, r->syms[i], interval, m->from, m->to + 1, true, &b, &found, &err) !=
            TB_OK) {
            bus_log(BUS_LOG_WARN, "buy and hold: bars of %s unavailable: %s", r->syms[i],
                    err.message);
            return (an_value){NAN, "historical-data unavailable"};
        }
        if (!found) return (an_value){NAN, "no bars of a traded symbol in the span"};
        first[i] = b.open;
        if (one_bar(ctx, r->syms[i], interval, 0, m->to + 1, false, &b, &found, &err) != TB_OK ||
            !found)
            return (an_value){NAN, "historical-data unavailable"};
        last[i] = b.close;
    }
    return an_buy_hold(first, last, r->nsyms);
}

/* Feeds a curve given in memory (a backtest's, an_bt_curve.c) to s. */
static tb_status feed_points(const tb_equity_point *pts, size_t n, an_series *s, tb_fixed *first,
                             tb_fixed *last, tb_error *err) {
    for (size_t i = 0; i < n; i++) {
        if (an_series_add(s, pts[i].ts, tb_fixed_to_double(pts[i].equity)) != TB_OK)
            return tb_error_set(err, TB_ERR, "ts", "equity points out of time order");
        if (i == 0) *first = pts[i].equity;
        *last = pts[i].equity;
    }
    return TB_OK;
}

tb_status an_performance_of(bus_ctx *ctx, const tb_query *q, const tb_equity_point *pts,
                            size_t npts, tb_performance *out) {
    PGconn *pg = NULL;
    tb_status s = check_account(ctx, q, &pg);
    if (s != TB_OK) return s;
    const char *interval = q->interval[0] ? q->interval : state.period;
    int64_t period = an_period_ns(interval);
    if (period == 0)
        return bus_fail(ctx, TB_INVALID, "interval", "interval must be 1s|1m|5m|1h|1d");
    tb_error err = {0};
    tb_performance p = {0};
    snprintf(p.account, sizeof p.account, "%s", q->account);
    snprintf(p.strategy_id, sizeof p.strategy_id, "%s", q->strategy_id);
    snprintf(p.interval, sizeof p.interval, "%s", interval);

    tb_query all = *q;
    all.symbol[0] = '\0'; /* statistics are the account's (or strategy's), every symbol */
    an_trip_stats trips;
    an_trip_stats_init(&trips, q->strategy_id, q->from);
    replay r;
    s = replay_fills(pg, &all, &r, an_trip_stats_add, &trips, &err);
    an_series ser;
    double ppy = an_periods_per_year(period, (double)state.trading_days);
    an_series_init(&ser, period, an_rf_per_period(state.risk_free, ppy));
    tb_fixed first = 0, last = 0;
    an_summary m;
    bool per_account = q->strategy_id[0] == '\0';
    if (s == TB_OK && per_account)
        s = pts ? feed_points(pts, npts, &ser, &first, &last, &err)
                : an_store_scan_equity(pg, q->account, q->from, q->to, &ser, &first, &last, &err);
    if (s == TB_OK && per_account && an_series_finish(&ser, ppy, &m) != TB_OK)
        s = tb_error_set(&err, TB_NOMEM, NULL, "out of memory for the daily returns");
    an_value bh = {NAN, "equity is per account"};
    if (s == TB_OK && per_account) bh = buy_hold(ctx, &r, interval, &m);
    if (s == TB_OK)
        s = an_report_fill(&p, per_account ? &m : NULL, first, last, &r.trades, &trips, bh, &err);
    an_series_free(&ser);
    an_trip_stats_free(&trips);
    if (s != TB_OK) return bus_fail_err(ctx, &err);
    *out = p;
    return TB_OK;
}

static tb_status on_get(bus_ctx *ctx, const void *ev) {
    tb_performance p;
    tb_status s = an_performance_of(ctx, ev, NULL, 0, &p);
    return s == TB_OK ? bus_reply(ctx, &tb_performance_desc, &p) : s;
}

/* The round trips of a trades request: selected, then sorted and paged. */
typedef struct trip_list {
    const tb_query *q;
    tb_round_trip *items;
    size_t n, cap;
} trip_list;

static tb_status list_trip(void *arg, const an_trip *t, tb_error *err) {
    trip_list *l = arg;
    const tb_query *q = l->q;
    if (q->strategy_id[0] && strcmp(q->strategy_id, t->strategy_id) != 0) return TB_OK;
    if (t->entry_ts < q->from) return TB_OK; /* the scan already stops at to */
    if (l->n >= TRIPS_MAX)
        return tb_error_set(err, TB_TOO_LARGE, "from",
                            "more than %d round trips: narrow with from, to or symbol", TRIPS_MAX);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        if (cap > TRIPS_MAX) cap = TRIPS_MAX;
        tb_round_trip *p = realloc(l->items, cap * sizeof *p);
        if (p == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory for round trips");
        l->items = p;
        l->cap = cap;
    }
    tb_round_trip *o = &l->items[l->n];
    memset(o, 0, sizeof *o);
    snprintf(o->account, sizeof o->account, "%s", q->account);
    snprintf(o->symbol, sizeof o->symbol, "%s", t->symbol);
    snprintf(o->strategy_id, sizeof o->strategy_id, "%s", t->strategy_id);
    snprintf(o->side, sizeof o->side, "%s", t->side > 0 ? "long" : "short");
    o->qty = t->opened;
    o->entry_ts = t->entry_ts;
    o->pnl = t->pnl;
    o->fees = t->fees;
    o->exit_ts = t->closed ? t->exit_ts : TB_NULL_INT;
    if (an_trip_entry_price(t, &o->entry_price) != TB_OK || an_trip_net(t, &o->net_pnl) != TB_OK)
        return tb_error_set(err, TB_OVERFLOW, "price", "round trip figures out of range");
    if (t->closed_qty == 0)
        o->exit_price = TB_NULL_INT;
    else if (an_trip_exit_price(t, &o->exit_price) != TB_OK)
        return tb_error_set(err, TB_OVERFLOW, "price", "round trip figures out of range");
    l->n++;
    return TB_OK;
}

/* Entry time, then symbol: one position per symbol at a time, so no ties. */
static int trip_order(const void *a, const void *b) {
    const tb_round_trip *x = a, *y = b;
    if (x->entry_ts != y->entry_ts) return x->entry_ts < y->entry_ts ? -1 : 1;
    return strcmp(x->symbol, y->symbol);
}

tb_status an_trips_of(bus_ctx *ctx, const tb_query *q, tb_round_trip **items, size_t *n) {
    PGconn *pg = NULL;
    tb_status s = check_account(ctx, q, &pg);
    if (s != TB_OK) return s;
    tb_error err = {0};
    trip_list l = {.q = q};
    replay r;
    s = replay_fills(pg, q, &r, list_trip, &l, &err);
    if (s != TB_OK) {
        free(l.items);
        return bus_fail_err(ctx, &err);
    }
    if (l.n) qsort(l.items, l.n, sizeof *l.items, trip_order);
    *items = l.items;
    *n = l.n;
    return TB_OK;
}

static tb_status on_trades(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    size_t offset = 0;
    if (q->cursor[0]) {
        char *end = NULL;
        unsigned long long c = strtoull(q->cursor, &end, 10);
        if (end == q->cursor || *end != '\0' || q->cursor[0] == '-' || c == 0 || c > TRIPS_MAX)
            return bus_fail(ctx, TB_INVALID, "cursor", "cursor is not one from a trades reply");
        offset = (size_t)c;
    }
    size_t limit = q->limit == 0                ? TRIPS_DEFAULT_LIMIT
                   : q->limit > TRIPS_MAX_LIMIT ? TRIPS_MAX_LIMIT
                                                : (size_t)q->limit;
    trip_list l = {.q = q};
    tb_status s = an_trips_of(ctx, q, &l.items, &l.n);
    if (s != TB_OK) return s;
    size_t from = offset < l.n ? offset : l.n;
    size_t n = l.n - from < limit ? l.n - from : limit;
    char next[TB_ID_CAP] = "";
    if (from + n < l.n) snprintf(next, sizeof next, "%zu", from + n);
    s = bus_reply_list(ctx, &tb_round_trip_desc, l.items + from, n, next[0] ? next : NULL);
    free(l.items);
    return s;
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
    bus_influx_opts io;
    tb_status s = bus_influx_opts_from_env(&io, err);
    if (s == TB_OK) s = bus_influx_create(&io, m, &state.influx, err);
    if (s != TB_OK) return s;
    return an_bt_start(a, err);
}

static void stop(bus_actor *a) {
    (void)a;
    bus_influx_destroy(state.influx);
    state.influx = NULL;
}

static void usage(FILE *f) {
    fprintf(
        f,
        "  ANALYTICS_SAMPLE_MS          equity sampling bucket per account (default 1000)\n"
        "  ANALYTICS_PERIOD             return period of the ratios: 1s|1m|5m|1h|1d (default 1d)\n"
        "  ANALYTICS_TRADING_DAYS       days per year for annualising (default 252)\n"
        "  ANALYTICS_RISK_FREE_RATE     annual risk-free rate of Sharpe and Sortino, a fraction\n"
        "                               between -1 and 1 (default 0)\n"
        "  ANALYTICS_ACCOUNTS_TIMEOUT_MS  api.accounts.get timeout (default 2000)\n"
        "  ANALYTICS_BARS_TIMEOUT_MS    api.bars.query timeout, buy and hold (default 2000)\n"
        "  INFLUX_URL                   InfluxDB 1.x to write equity points to, e.g.\n"
        "                               http://127.0.0.1:8086 (default empty: none); INFLUX_DB,\n"
        "                               INFLUX_USER, INFLUX_PASSWORD, INFLUX_QUEUE_LINES,\n"
        "                               INFLUX_BATCH_LINES, INFLUX_FLUSH_MS, INFLUX_TIMEOUT_MS,\n"
        "                               INFLUX_BACKOFF_MAX_MS (docs/influxdb.md)\n");
    an_bt_usage(f);
}

static const bus_endpoint endpoints[] = {
    {.name = "positions",
     .kind = BUS_EVENT,
     .subject = "pos.update.>",
     .event = &tb_position_update_desc,
     .batch_handler = on_positions},
    /* Fills come from the FILLS stream, not core NATS: trade statistics must
     * count fills booked while no analytics instance was running. */
    {.name = "fills",
     .kind = BUS_STREAM,
     .subject = "fills.>",
     .event = &tb_fill_desc,
     .batch_handler = on_fills,
     .stream = {.stream = "FILLS",
                .durable = "analytics",
                .ack_wait_ms = 30000,
                .max_deliver = 10,
                .batch = 256}},
    {.name = "analytics-get",
     .kind = BUS_REQUEST,
     .subject = "api.analytics.get",
     .event = &tb_query_desc,
     .handler = on_get},
    {.name = "analytics-trades",
     .kind = BUS_REQUEST,
     .subject = "api.analytics.trades",
     .event = &tb_query_desc,
     .handler = on_trades},
    {.name = "analytics-equity",
     .kind = BUS_REQUEST,
     .subject = "api.analytics.equity",
     .event = &tb_query_desc,
     .handler = on_equity},
    {.name = "backtests-create",
     .kind = BUS_REQUEST,
     .subject = "api.backtests.create",
     .event = &tb_backtest_desc,
     .handler = an_bt_on_create},
    {.name = "backtests-list",
     .kind = BUS_REQUEST,
     .subject = "api.backtests.list",
     .event = &tb_query_desc,
     .handler = an_bt_on_list},
    {.name = "backtests-get",
     .kind = BUS_REQUEST,
     .subject = "api.backtests.get",
     .event = &tb_query_desc,
     .handler = an_bt_on_get},
    {.name = "backtests-cancel",
     .kind = BUS_REQUEST,
     .subject = "api.backtests.cancel",
     .event = &tb_query_desc,
     .handler = an_bt_on_cancel},
    {.name = "backtests-report",
     .kind = BUS_REQUEST,
     .subject = "api.backtests.report",
     .event = &tb_query_desc,
     .handler = an_bt_on_report},
    {.name = "backtests-equity",
     .kind = BUS_REQUEST,
     .subject = "api.backtests.equity",
     .event = &tb_query_desc,
     .handler = an_bt_on_equity},
};

static const bus_actor_def def = {
    .name = "analytics",
    .version = TB_VERSION,
    .description = "Equity curves and performance statistics per account and strategy",
    .endpoints = endpoints,
    .nendpoints = sizeof endpoints / sizeof endpoints[0],
    .needs = BUS_NEEDS_PG,
    .start = start,
    .stop = stop,
    .usage = usage,
};

/* A decimal fraction in [-1, 1] ("0.04" for 4% a year). */
static tb_status parse_rate(const char *text, double *out) {
    char *end = NULL;
    double x = strtod(text, &end);
    if (end == text || *end != '\0' || !isfinite(x) || x < -1 || x > 1) return TB_INVALID;
    *out = x;
    return TB_OK;
}

int main(int argc, char **argv) {
    tb_error err = {0};
    int64_t sample_ms = 0;
    if (bus_env_int("ANALYTICS_SAMPLE_MS", 1000, 1, 86400000, &sample_ms, &err) != TB_OK ||
        bus_env_int("ANALYTICS_TRADING_DAYS", 252, 1, 366, &state.trading_days, &err) != TB_OK ||
        bus_env_int("ANALYTICS_ACCOUNTS_TIMEOUT_MS", 2000, 10, 60000, &state.accounts_timeout_ms,
                    &err) != TB_OK ||
        bus_env_int("ANALYTICS_BARS_TIMEOUT_MS", 2000, 10, 60000, &state.bars_timeout_ms, &err) !=
            TB_OK) {
        fprintf(stderr, "tb-analytics: %s\n", err.message);
        return 2;
    }
    if (an_bt_settings_load(&err) != TB_OK) {
        fprintf(stderr, "tb-analytics: %s\n", err.message);
        return 2;
    }
    state.sample_ns = sample_ms * 1000000;
    state.period = bus_env("ANALYTICS_PERIOD", "1d");
    if (an_period_ns(state.period) == 0) {
        fprintf(stderr, "tb-analytics: ANALYTICS_PERIOD must be 1s|1m|5m|1h|1d, not \"%s\"\n",
                state.period);
        return 2;
    }
    if (parse_rate(bus_env("ANALYTICS_RISK_FREE_RATE", "0"), &state.risk_free) != TB_OK) {
        fprintf(stderr, "tb-analytics: ANALYTICS_RISK_FREE_RATE must be a fraction in [-1, 1]\n");
        return 2;
    }
    return bus_actor_main(&def, argc, argv);
}
