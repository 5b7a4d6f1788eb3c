/* api.backtests.*: start (checked first, so bad input starts nothing), list,
 * get (a grid ranks its children), cancel, the report and its equity chart.
 * The run itself is carried on by the timer in an_bt_run.c. */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an_backtest.h"
#include "an_store.h"
#include "attach.h"
#include "conn.h"
#include "store.h"
#include "wire.h"

#define LIST_DEFAULT 50
#define LIST_MAX     500
/* "bt" + a bigint + "-": the longest prefix a run puts before a symbol. */
#define RUN_PREFIX_MAX 24

static bus_conn *conn_of(bus_ctx *ctx) {
    return bus_actor_conn(bus_ctx_actor(ctx));
}

static tb_status ask(bus_ctx *ctx, const char *subject, const tb_event_desc *qd, const void *q,
                     const tb_event_desc *rd, void *r, tb_error *err) {
    return bus_request(conn_of(ctx), subject, qd, q, rd, r, an_bt.request_ms, bus_ctx_trace(ctx),
                       err);
}

/* Limits that do not bind a backtest except the order rate, counted in the
 * data's time: the run measures the strategy, not the desk's limits. As a
 * backtest account, its signals wait for a dependency that is slow to
 * answer instead of being refused (the fills must not depend on the
 * machine's load). */
static void run_limits(const char *account, tb_risk_limits *l) {
    memset(l, 0, sizeof *l);
    snprintf(l->account, sizeof l->account, "%s", account);
    l->backtest = true;
    l->max_orders_per_sec = 50;
    l->max_open_orders = 1000;
    l->max_position_qty = INT64_C(1000000000) * TB_FIXED_SCALE;
    l->max_gross_exposure = INT64_C(1000000000) * TB_FIXED_SCALE;
    l->daily_loss_limit = INT64_C(1000000000) * TB_FIXED_SCALE;
    l->max_order_notional = INT64_C(1000000000) * TB_FIXED_SCALE;
}

static void delete_strategies(bus_ctx *ctx, const char *ids) {
    for (const char *p = ids; *p;) {
        size_t n = strcspn(p, ",");
        tb_query q = {0};
        snprintf(q.id, sizeof q.id, "%.*s", (int)n, p);
        tb_error err = {0};
        bus_bytes rep = {0};
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        if (tb_encode(&tb_query_desc, &q, &sb, &err) == TB_OK &&
            bus_request_bytes(conn_of(ctx), "api.strategies.delete", sb.data, sb.size,
                              tb_query_desc.name, an_bt.request_ms, bus_ctx_trace(ctx), &rep,
                              &err) == TB_OK)
            bus_bytes_free(&rep);
        msgpack_sbuffer_destroy(&sb);
        p += n + (p[n] == ',');
    }
}

/* The account of a run refused after it was made (it has nothing else:
 * position-management refuses to delete one that has). */
static void delete_account(bus_ctx *ctx, const char *account) {
    tb_query q = {0};
    snprintf(q.account, sizeof q.account, "%s", account);
    tb_account out;
    tb_error err = {0};
    if (ask(ctx, "api.accounts.delete", &tb_query_desc, &q, &tb_account_desc, &out, &err) != TB_OK)
        bus_log(BUS_LOG_WARN, "backtest: account %s of a refused request not deleted: %s", account,
                err.message);
}

/* The run's costs, its account, limits and one strategy per symbol
 * (bt<N>-<SYM>). The costs go first: trading-execution checks them (a bad
 * value is refused before anything exists) and takes them only while the
 * account has no order; none asked for is a zero model, so the run is
 * priced by its request alone, whatever the live EXEC_* settings. */
static tb_status setup_run(bus_ctx *ctx, an_bt_row *run, const an_bt_symbols *syms, tb_error *err) {
    const tb_backtest *b = &run->spec;
    tb_fee_model fm = {
        .fee_bps = b->fee_bps, .fee_min = b->fee_min, .slippage_bps = b->slippage_bps};
    tb_fee_model fmout;
    snprintf(fm.account, sizeof fm.account, "%s", run->id);
    tb_status s =
        ask(ctx, "api.exec.fees.set", &tb_fee_model_desc, &fm, &tb_fee_model_desc, &fmout, err);
    if (s != TB_OK) return s;
    tb_account a = {0}, aout;
    snprintf(a.account, sizeof a.account, "%s", run->id);
    snprintf(a.name, sizeof a.name, "backtest %s", run->id);
    a.initial_cash = b->initial_cash > 0 ? b->initial_cash : an_bt.default_cash;
    s = ask(ctx, "api.accounts.create", &tb_account_desc, &a, &tb_account_desc, &aout, err);
    if (s != TB_OK) return s;
    snprintf(run->run_account, sizeof run->run_account, "%s", run->id);
    tb_risk_limits l, lout;
    run_limits(run->id, &l);
    s = ask(ctx, "api.risk.limits.set", &tb_risk_limits_desc, &l, &tb_risk_limits_desc, &lout, err);
    for (size_t i = 0; s == TB_OK && i < syms->n; i++) {
        tb_strategy st = {0}, sout;
        snprintf(st.strategy_id, sizeof st.strategy_id, "%.24s-%.38s", run->id, syms->sym[i]);
        snprintf(st.symbol, sizeof st.symbol, "%.24s-%.38s", run->id, syms->sym[i]);
        snprintf(st.kind, sizeof st.kind, "%s", b->kind);
        snprintf(st.account, sizeof st.account, "%s", run->id);
        snprintf(st.params, sizeof st.params, "%s", b->params);
        snprintf(st.sizing, sizeof st.sizing, "%s", b->sizing[0] ? b->sizing : "fixed");
        st.qty = b->qty > 0 ? b->qty : TB_FIXED_SCALE;
        st.enabled = true;
        s = ask(ctx, "api.strategies.create", &tb_strategy_desc, &st, &tb_strategy_desc, &sout,
                err);
        if (s == TB_OK) {
            size_t o = strlen(run->strategy_ids);
            snprintf(run->strategy_ids + o, sizeof run->strategy_ids - o, "%s%s", o ? "," : "",
                     st.strategy_id);
        }
    }
    return s;
}

static tb_status in_tx(PGconn *pg, const char *sql, tb_error *err) {
    return bus_pg_exec(pg, sql, 0, NULL, NULL, err);
}

/* Kind and params of every run the request makes (a grid: every
 * combination), checked by signal-processing before anything is created:
 * a refused request leaves no account, limits or strategy behind. */
static tb_status check_strategies(bus_ctx *ctx, const tb_backtest *in, size_t ngrid,
                                  const an_bt_symbols *syms, const an_bt_row *rows, tb_error *err) {
    size_t nruns = ngrid ? ngrid : 1;
    tb_status s = TB_OK;
    for (size_t i = 0; s == TB_OK && i < nruns * syms->n; i++) {
        const an_bt_row *r = &rows[i / syms->n];
        const char *sym = syms->sym[i % syms->n];
        tb_strategy st = {0}, sout;
        snprintf(st.strategy_id, sizeof st.strategy_id, "%.24s-%.38s", r->id, sym);
        snprintf(st.symbol, sizeof st.symbol, "%.24s-%.38s", r->id, sym);
        snprintf(st.kind, sizeof st.kind, "%s", in->kind);
        snprintf(st.account, sizeof st.account, "%s", r->id);
        snprintf(st.sizing, sizeof st.sizing, "%s", in->sizing[0] ? in->sizing : "fixed");
        st.qty = in->qty > 0 ? in->qty : TB_FIXED_SCALE;
        st.enabled = true;
        if (ngrid)
            s = an_bt_grid_params(in->params, in->grid, i / syms->n, st.params, sizeof st.params,
                                  err);
        else
            snprintf(st.params, sizeof st.params, "%s", in->params);
        if (s == TB_OK)
            s = ask(ctx, "api.strategies.check", &tb_strategy_desc, &st, &tb_strategy_desc, &sout,
                    err);
    }
    return s;
}

/* No NUL, valid UTF-8: what PostgreSQL's text and the CSV parser take. */
static bool csv_text_ok(const unsigned char *p, size_t n, size_t *bad) {
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = c != 0 && k > 0 && i + k <= n;
        for (size_t j = 1; ok && j < k; j++) ok = (p[i + j] & 0xc0) == 0x80;
        if (!ok) {
            *bad = i;
            return false;
        }
        i += k;
    }
    return true;
}

/* The CSV of a csv run: attached beside the event by the gateway (or any
 * caller), or inline in data.csv when short. */
static tb_status request_csv(bus_ctx *ctx, const an_bt_data *d, char **csv, size_t *len,
                             tb_error *err) {
    bus_raw raw = bus_ctx_payload(ctx);
    tb_status s = bus_attach_find(raw.data, raw.len, BUS_ATTACH_CSV, csv, len, err);
    if (s == TB_NOT_FOUND && d->csv_bytes < 0) {
        *len = strlen(d->csv_inline);
        *csv = strdup(d->csv_inline);
        s = *csv ? TB_OK : tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    } else if (s == TB_NOT_FOUND) {
        s = tb_error_set(err, TB_INVALID, "data", "data.csv: the CSV text did not come along");
    }
    if (s != TB_OK) {
        if (strcmp(err->field, BUS_ATTACH_CSV) == 0)
            snprintf(err->field, sizeof err->field, "data");
        return s;
    }
    size_t bad = 0;
    if (*len == 0)
        s = tb_error_set(err, TB_REJECTED, "data", "data.csv: empty");
    else if ((int64_t)*len > an_bt.csv_max)
        s = tb_error_set(err, TB_TOO_LARGE, "data",
                         "data.csv: %zu bytes, more than BACKTEST_CSV_MAX (%" PRId64 ")", *len,
                         an_bt.csv_max);
    else if (!csv_text_ok((const unsigned char *)*csv, *len, &bad))
        s = tb_error_set(err, TB_REJECTED, "data",
                         "data.csv: byte %zu is a NUL or not UTF-8 (a CSV is text)", bad + 1);
    if (s != TB_OK) {
        free(*csv);
        *csv = NULL;
    }
    return s;
}

typedef struct bar_event {
    int64_t start;
    size_t sym;
    tb_fixed close;
} bar_event;

static int by_time(const void *a, const void *b) {
    const bar_event *x = a, *y = b;
    if (x->start != y->start) return (x->start > y->start) - (x->start < y->start);
    return (x->sym > y->sym) - (x->sym < y->sym);
}

/* The bars of every symbol in [from, to) from historical-data, one page of
 * up to 5000 after another, appended to *ev. */
static tb_status symbol_bars(bus_ctx *ctx, const an_bt_data *d, const char *sym, size_t isym,
                             size_t max_events, bar_event **ev, size_t *n, size_t *cap,
                             tb_error *err) {
    tb_query q = {.from = d->from > 0 ? d->from : 1, .to = d->to, .limit = 5000};
    snprintf(q.symbol, sizeof q.symbol, "%s", sym);
    snprintf(q.interval, sizeof q.interval, "%s", d->interval);
    size_t before = *n;
    for (;;) {
        void *items = NULL;
        size_t got = 0;
        char next[TB_ID_CAP] = "";
        tb_status s = an_bars_query(ctx, &q, an_bt.request_ms, &items, &got, next, err);
        if (s != TB_OK) return s;
        if (*n + got > max_events) {
            free(items);
            return tb_error_set(err, TB_TOO_LARGE, "data",
                                "data.bars: more bars than BACKTEST_CSV_MAX (%" PRId64
                                " bytes) holds; narrow from and to",
                                an_bt.csv_max);
        }
        if (*n + got > *cap) {
            size_t nc = (*n + got) * 2;
            bar_event *v = realloc(*ev, nc * sizeof *v);
            if (v == NULL) {
                free(items);
                return tb_error_set(err, TB_NOMEM, NULL, "out of memory");
            }
            *ev = v;
            *cap = nc;
        }
        for (size_t i = 0; i < got; i++) {
            const tb_bar *b = (const tb_bar *)items + i;
            (*ev)[(*n)++] = (bar_event){.start = b->start, .sym = isym, .close = b->close};
        }
        free(items);
        if (next[0] == '\0' || got == 0) break;
        snprintf(q.cursor, sizeof q.cursor, "%s", next);
    }
    if (*n == before)
        return tb_error_set(err, TB_REJECTED, "data",
                            "data.bars: historical-data has no %s bars of %s in [from, to)",
                            d->interval, sym);
    return TB_OK;
}

/* A bars run's events as a closes CSV: each bar's close at its end time,
 * in time order (symbols in the request's order at equal times). */
static tb_status bars_csv(bus_ctx *ctx, const an_bt_data *d, const an_bt_symbols *syms, char **csv,
                          size_t *len, tb_error *err) {
    bar_event *ev = NULL;
    size_t n = 0, cap = 0;
    /* A row is at least "<19 digits>,<1>,<1>\n": 23 bytes. */
    size_t max_events = (size_t)an_bt.csv_max / 23 + 1;
    tb_status s = TB_OK;
    for (size_t i = 0; s == TB_OK && i < syms->n; i++)
        s = symbol_bars(ctx, d, syms->sym[i], i, max_events, &ev, &n, &cap, err);
    size_t bufcap = (size_t)an_bt.csv_max + 1;
    char *buf = s == TB_OK ? malloc(bufcap) : NULL;
    if (s == TB_OK && buf == NULL) s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    if (s == TB_OK) {
        qsort(ev, n, sizeof *ev, by_time);
        *len = 0;
        buf[0] = '\0';
        for (size_t i = 0; s == TB_OK && i < n; i++)
            s = an_bt_bar_row(buf, bufcap, len, syms->sym[ev[i].sym], ev[i].start, d->interval_ns,
                              ev[i].close, err);
    }
    free(ev);
    if (s != TB_OK) {
        free(buf);
        return s;
    }
    *csv = buf;
    return TB_OK;
}

tb_status an_bt_on_create(bus_ctx *ctx, const void *ev) {
    tb_backtest in = *(const tb_backtest *)ev;
    tb_error err = {0};
    an_bt_data data;
    an_bt_symbols syms;
    size_t ngrid = 0;
    if (an_bt_parse_data(in.data, &data, &err) != TB_OK ||
        an_bt_parse_symbols(in.symbols, RUN_PREFIX_MAX, &syms, &err) != TB_OK ||
        an_bt_grid_count(in.grid, (size_t)an_bt.grid_max, &ngrid, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    an_bt_symbols_join(&syms, in.symbols, sizeof in.symbols);
    if (data.kind == AN_BT_DATA_BARS) snprintf(in.format, sizeof in.format, "closes");
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL) return bus_fail_err(ctx, &err);
    /* Ids first (a sequence: a refused request only leaves a gap), so the
     * strategies are checked under the names they will have. */
    size_t nruns = ngrid ? ngrid : 1;
    an_bt_row *rows = calloc(nruns + 1, sizeof *rows);
    if (rows == NULL) return bus_fail(ctx, TB_NOMEM, NULL, "out of memory");
    an_bt_row *parent = ngrid ? &rows[nruns] : NULL;
    tb_status s = parent ? an_bt_next_id(pg, parent->id, &err) : TB_OK;
    for (size_t i = 0; s == TB_OK && i < nruns; i++) s = an_bt_next_id(pg, rows[i].id, &err);
    /* The data, then the strategies, checked before anything is created. */
    char *csv = NULL;
    size_t csv_len = 0;
    if (s == TB_OK && data.kind == AN_BT_DATA_CSV)
        s = request_csv(ctx, &data, &csv, &csv_len, &err);
    else if (s == TB_OK && data.kind == AN_BT_DATA_BARS)
        s = bars_csv(ctx, &data, &syms, &csv, &csv_len, &err);
    tb_market_replay rp = {.check_only = true, .speed = in.speed};
    if (csv)
        snprintf(rp.path, sizeof rp.path, "%s of the request",
                 data.kind == AN_BT_DATA_CSV ? "csv" : "bars");
    else
        snprintf(rp.path, sizeof rp.path, "%s", data.path);
    snprintf(rp.format, sizeof rp.format, "%s", in.format);
    snprintf(rp.symbols, sizeof rp.symbols, "%s", in.symbols);
    tb_md_status chk = {0};
    if (s == TB_OK &&
        (s = an_bt_ask_replay(conn_of(ctx), &rp, csv, csv_len, &chk, &err)) != TB_OK) {
        if (strcmp(err.field, "path") == 0 || strcmp(err.field, BUS_ATTACH_CSV) == 0)
            snprintf(err.field, sizeof err.field, "data");
        if (err.status == TB_REJECTED && data.kind == AN_BT_DATA_CSV) {
            char msg[sizeof err.message];
            snprintf(msg, sizeof msg, "%s", err.message);
            snprintf(err.message, sizeof err.message, "data.csv: %.*s",
                     (int)(sizeof err.message - 11), msg);
        }
    }
    if (s == TB_OK) s = check_strategies(ctx, &in, ngrid, &syms, rows, &err);
    if (s != TB_OK) {
        free(csv);
        free(rows);
        return bus_fail_err(ctx, &err);
    }
    int64_t now = tb_now_ns();
    if (parent) {
        parent->spec = in;
        snprintf(parent->owner, sizeof parent->owner, "%s", in.account);
        snprintf(parent->status, sizeof parent->status, "running");
        snprintf(parent->phase, sizeof parent->phase, "grid");
        parent->runs = (int64_t)nruns;
        parent->created_ns = now;
        parent->total_events = (int64_t)(chk.ticks * nruns);
    }
    size_t made = 0;
    for (size_t i = 0; s == TB_OK && i < nruns; i++) {
        an_bt_row *r = &rows[i];
        r->spec = in;
        r->spec.grid[0] = '\0';
        if (ngrid) {
            s = an_bt_grid_params(in.params, in.grid, i, r->spec.params, sizeof r->spec.params,
                                  &err);
            snprintf(r->parent_id, sizeof r->parent_id, "%s", parent->id);
        }
        snprintf(r->owner, sizeof r->owner, "%s", in.account);
        snprintf(r->status, sizeof r->status, "running");
        snprintf(r->phase, sizeof r->phase, "start");
        r->created_ns = now;
        r->total_events = (int64_t)chk.ticks;
        if (s == TB_OK) s = setup_run(ctx, r, &syms, &err);
        made = i + 1;
    }
    bool begun = s == TB_OK && (s = in_tx(pg, "BEGIN", &err)) == TB_OK;
    if (s == TB_OK && parent) s = an_bt_insert(pg, parent, &err);
    for (size_t i = 0; s == TB_OK && i < nruns; i++) s = an_bt_insert(pg, &rows[i], &err);
    if (s == TB_OK && csv)
        s = an_bt_data_put(pg, parent ? parent->id : rows[0].id, in.format, csv, &err);
    if (s == TB_OK) s = in_tx(pg, "COMMIT", &err);
    free(csv);
    if (s != TB_OK) {
        tb_error ignore = {0};
        if (begun && in_tx(pg, "ROLLBACK", &ignore) != TB_OK)
            bus_log(BUS_LOG_WARN, "backtest: rollback failed: %s", ignore.message);
        /* Nothing runs: no strategy and no account of a refused request
         * stays behind (its risk limits row does: risk-management has no
         * delete, and limits of an absent account bind nothing). */
        for (size_t i = 0; i < made; i++) {
            delete_strategies(ctx, rows[i].strategy_ids);
            if (rows[i].run_account[0]) delete_account(ctx, rows[i].run_account);
        }
        free(rows);
        return bus_fail_err(ctx, &err);
    }
    tb_backtest out;
    an_bt_to_event(parent ? parent : &rows[0], &out);
    bus_log(BUS_LOG_INFO, "backtest %s: %zu run(s) of %s on %s, %" PRIu64 " ticks each",
            out.backtest_id, nruns, in.kind, in.symbols, chk.ticks);
    free(rows);
    return bus_reply(ctx, &tb_backtest_desc, &out);
}

/* The run named by q->id, visible to q->accounts. */
static tb_status load_visible(bus_ctx *ctx, const tb_query *q, PGconn **pg, an_bt_row *row) {
    if (q->id[0] == '\0') return bus_fail(ctx, TB_MISSING_FIELD, "id", "backtest id required");
    tb_error err = {0};
    *pg = bus_ctx_pg(ctx, &err);
    if (*pg == NULL) return bus_fail_err(ctx, &err);
    if (an_bt_load(*pg, q->id, false, row, &err) != TB_OK) return bus_fail_err(ctx, &err);
    if (!an_bt_visible(row, q->accounts))
        return bus_fail(ctx, TB_NOT_FOUND, "id", "no backtest %s", q->id);
    return TB_OK;
}

tb_status an_bt_on_list(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    int64_t before = 0;
    if (q->cursor[0]) {
        char *end = NULL;
        long long c = strtoll(q->cursor, &end, 10);
        if (end == q->cursor || *end != '\0' || c <= 0)
            return bus_fail(ctx, TB_INVALID, "cursor", "cursor is not one from a list reply");
        before = c;
    }
    size_t limit = q->limit == 0 ? LIST_DEFAULT : q->limit > LIST_MAX ? LIST_MAX : q->limit;
    tb_error err = {0};
    PGconn *pg = bus_ctx_pg(ctx, &err);
    if (pg == NULL) return bus_fail_err(ctx, &err);
    char accounts[TB_TEXT_CAP];
    snprintf(accounts, sizeof accounts, "%s", q->account[0] ? q->account : q->accounts);
    an_bt_row named = {0};
    snprintf(named.owner, sizeof named.owner, "%s", q->account);
    if (q->account[0] && !an_bt_visible(&named, q->accounts))
        return bus_reply_list(ctx, &tb_backtest_desc, NULL, 0, NULL); /* not theirs: none */
    an_bt_row *rows = NULL;
    size_t n = 0;
    if (an_bt_select(pg, NULL, accounts, q->status, before, limit, &rows, &n, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    tb_backtest *items = calloc(n ? n : 1, sizeof *items);
    if (items == NULL) {
        free(rows);
        return bus_fail(ctx, TB_NOMEM, NULL, "out of memory");
    }
    for (size_t i = 0; i < n; i++) an_bt_to_event(&rows[i], &items[i]);
    char next[TB_ID_CAP] = "";
    if (n == limit && n > 0) snprintf(next, sizeof next, "%" PRId64, rows[n - 1].created_ns);
    free(rows);
    tb_status s = bus_reply_list(ctx, &tb_backtest_desc, items, n, next[0] ? next : NULL);
    free(items);
    return s;
}

/* Replies with j as a msgpack map (the gateway shows it as it is). */
static tb_status reply_json(bus_ctx *ctx, json_t *j) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    tb_error err = {0};
    tb_status s = j ? tb_json_to_msgpack_raw(j, &sb, &err)
                    : tb_error_set(&err, TB_NOMEM, NULL, "out of memory");
    json_decref(j);
    if (s == TB_OK)
        s = bus_reply_bytes(ctx, sb.data, sb.size, "application/msgpack", NULL);
    else
        s = bus_fail_err(ctx, &err);
    msgpack_sbuffer_destroy(&sb);
    return s;
}

/* A run's statistics over its own curve (an_bt_curve.c); the curve's
 * points go to *pts when pts is not NULL (caller frees). */
static tb_status run_performance(bus_ctx *ctx, PGconn *pg, const an_bt_row *r, const char *interval,
                                 tb_performance *p, tb_equity_point **pts, size_t *npts) {
    tb_query q = {0};
    snprintf(q.account, sizeof q.account, "%s", r->run_account);
    snprintf(q.interval, sizeof q.interval, "%s", interval[0] ? interval : an_default_period());
    int64_t period = an_period_ns(q.interval);
    if (period == 0)
        return bus_fail(ctx, TB_INVALID, "interval", "interval must be 1s|1m|5m|1h|1d");
    tb_equity_point *curve = NULL;
    size_t n = 0;
    tb_error err = {0};
    if (an_bt_curve(ctx, pg, r, q.interval, period, &curve, &n, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    tb_status s = an_performance_of(ctx, &q, curve, n, p);
    if (s == TB_OK && pts) {
        *pts = curve;
        *npts = n;
    } else {
        free(curve);
    }
    return s;
}

typedef struct ranked {
    json_t *item;
    double score;
} ranked;

static int by_score(const void *a, const void *b) {
    double x = ((const ranked *)a)->score, y = ((const ranked *)b)->score;
    if (isnan(x) || isnan(y)) return isnan(x) - isnan(y); /* nulls last */
    return (x < y) - (x > y);
}

/* A grid's children ranked by the parent's rank_by. */
static tb_status children_json(bus_ctx *ctx, PGconn *pg, const an_bt_row *parent, json_t *out) {
    tb_error err = {0};
    an_bt_row *rows = NULL;
    size_t n = 0;
    if (an_bt_select(pg, parent->id, "", "", 0, (size_t)an_bt.grid_max, &rows, &n, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    ranked *rk = calloc(n ? n : 1, sizeof *rk);
    if (rk == NULL) {
        free(rows);
        return bus_fail(ctx, TB_NOMEM, NULL, "out of memory");
    }
    tb_status s = TB_OK;
    for (size_t i = 0; s == TB_OK && i < n; i++) {
        tb_backtest b;
        an_bt_to_event(&rows[i], &b);
        json_t *item = NULL;
        s = tb_to_json(&tb_backtest_desc, &b, &item);
        tb_performance p;
        rk[i].score = NAN;
        if (s == TB_OK && run_performance(ctx, pg, &rows[i], "", &p, NULL, NULL) == TB_OK)
            rk[i].score = an_bt_rank_value(&p, parent->spec.rank_by);
        rk[i].item = item;
    }
    qsort(rk, n, sizeof *rk, by_score);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (rk[i].item == NULL) continue;
        json_object_set_new(rk[i].item, "rank", json_integer((json_int_t)i + 1));
        json_object_set_new(rk[i].item, "score",
                            isnan(rk[i].score) ? json_null() : json_real(rk[i].score));
        json_array_append_new(arr, rk[i].item);
    }
    json_object_set_new(out, "children", arr);
    json_object_set_new(out, "rank_by",
                        json_string(parent->spec.rank_by[0] ? parent->spec.rank_by : "sharpe"));
    free(rk);
    free(rows);
    return s == TB_OK ? TB_OK : bus_fail(ctx, s, NULL, "a child cannot be shown");
}

tb_status an_bt_on_get(bus_ctx *ctx, const void *ev) {
    PGconn *pg = NULL;
    an_bt_row row;
    tb_status s = load_visible(ctx, ev, &pg, &row);
    if (s != TB_OK) return s;
    tb_backtest b;
    an_bt_to_event(&row, &b);
    json_t *j = NULL;
    if (tb_to_json(&tb_backtest_desc, &b, &j) != TB_OK)
        return bus_fail(ctx, TB_ERR, NULL, "backtest %s cannot be shown", row.id);
    if (strcmp(row.phase, "grid") == 0 || row.runs > 0) {
        s = children_json(ctx, pg, &row, j);
        if (s != TB_OK) {
            json_decref(j);
            return s;
        }
    }
    return reply_json(ctx, j);
}

/* md.replay.cancel: every market-data instance hears it; the one replaying
 * feed id stops it. */
static void stop_replay(bus_ctx *ctx, const char *id) {
    tb_query c = {0};
    snprintf(c.id, sizeof c.id, "%s", id);
    bus_msg_meta meta = {.trace_id = bus_ctx_trace(ctx)};
    if (bus_publish(conn_of(ctx), "md.replay.cancel", &tb_query_desc, &c, &meta) != TB_OK ||
        bus_conn_flush(conn_of(ctx), 2000) != TB_OK)
        bus_log(BUS_LOG_WARN, "backtest %s: cancel not sent to market-data", id);
}

tb_status an_bt_on_cancel(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    PGconn *pg = NULL;
    an_bt_row row;
    tb_status s = load_visible(ctx, q, &pg, &row);
    if (s != TB_OK) return s;
    tb_error err = {0};
    an_bt_row *kids = NULL;
    size_t n = 0;
    if (an_bt_select(pg, row.id, "", "", 0, (size_t)an_bt.grid_max, &kids, &n, &err) != TB_OK)
        return bus_fail_err(ctx, &err);
    int64_t now = tb_now_ns();
    for (size_t i = 0; i <= n; i++) {
        an_bt_row *r = i < n ? &kids[i] : &row;
        if (strcmp(r->status, "running") != 0) continue;
        /* At once, so the replay stops within a second... */
        stop_replay(ctx, r->id);
        tb_error e2 = {0};
        an_bt_row cur;
        /* Under the row lock: the timer may be stepping it right now. */
        if (in_tx(pg, "BEGIN", &e2) == TB_OK && an_bt_load(pg, r->id, true, &cur, &e2) == TB_OK &&
            strcmp(cur.status, "running") == 0) {
            snprintf(cur.status, sizeof cur.status, "canceled");
            snprintf(cur.phase, sizeof cur.phase, "end");
            snprintf(cur.message, sizeof cur.message, "canceled on request");
            cur.finished_ns = now;
            if (an_bt_save(pg, &cur, &e2) == TB_OK) *r = cur;
        }
        if (in_tx(pg, "COMMIT", &e2) != TB_OK && in_tx(pg, "ROLLBACK", &e2) != TB_OK)
            bus_log(BUS_LOG_WARN, "backtest %s: cancel not recorded: %s", r->id, e2.message);
        /* ...and again once the row is ours: a step that held the lock may
         * have started the replay after the first. */
        stop_replay(ctx, r->id);
    }
    free(kids);
    tb_backtest b;
    an_bt_to_event(&row, &b);
    return bus_reply(ctx, &tb_backtest_desc, &b);
}

/* The user's symbol of a run's one ("bt12-DAX" -> "DAX"). */
static const char *user_symbol(const an_bt_row *r, const char *sym) {
    size_t n = strlen(r->id);
    return strncmp(sym, r->id, n) == 0 && sym[n] == '-' ? sym + n + 1 : sym;
}

/* items[0..n) of type d as a JSON array without their account (and
 * strategy_id when drop_strategy). */
static json_t *json_items(const tb_event_desc *d, const void *items, size_t n, bool drop_strategy) {
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *o = NULL;
        if (tb_to_json(d, (const char *)items + i * d->struct_size, &o) != TB_OK) continue;
        json_object_del(o, "account");
        if (drop_strategy) json_object_del(o, "strategy_id");
        json_array_append_new(arr, o);
    }
    return arr;
}

tb_status an_bt_on_report(bus_ctx *ctx, const void *ev) {
    const tb_query *in = ev;
    PGconn *pg = NULL;
    an_bt_row row;
    tb_status s = load_visible(ctx, in, &pg, &row);
    if (s != TB_OK) return s;
    if (row.run_account[0] == '\0')
        return bus_fail(ctx, TB_INVALID, "id",
                        "%s is a grid: its children have the reports (GET /v1/backtests/%s)",
                        row.id, row.id);
    tb_performance p;
    tb_equity_point *pts = NULL;
    size_t npts = 0;
    if ((s = run_performance(ctx, pg, &row, in->interval, &p, &pts, &npts)) != TB_OK) return s;
    tb_query q = {0};
    snprintf(q.account, sizeof q.account, "%s", row.run_account);
    tb_round_trip *trips = NULL;
    size_t ntrips = 0;
    if ((s = an_trips_of(ctx, &q, &trips, &ntrips)) != TB_OK) {
        free(pts);
        return s;
    }
    json_t *j = NULL;
    if (tb_to_json(&tb_performance_desc, &p, &j) != TB_OK) {
        free(trips);
        free(pts);
        return bus_fail(ctx, TB_ERR, NULL, "report cannot be shown");
    }
    json_object_set_new(j, "backtest_id", json_string(row.id));
    json_object_set_new(j, "status", json_string(row.status));
    json_object_set_new(j, "symbols", json_string(row.spec.symbols));
    /* The costs the run was priced with (fees: what its fills paid). */
    char fee_min[TB_FIXED_STRLEN];
    tb_fixed_format(row.spec.fee_min, fee_min);
    json_object_set_new(j, "fee_bps", json_integer((json_int_t)row.spec.fee_bps));
    json_object_set_new(j, "fee_min", json_string(fee_min));
    json_object_set_new(j, "slippage_bps", json_integer((json_int_t)row.spec.slippage_bps));
    for (size_t i = 0; i < ntrips; i++)
        snprintf(trips[i].symbol, sizeof trips[i].symbol, "%s", user_symbol(&row, trips[i].symbol));
    /* Run-scoped names stay inside the run: one strategy per symbol. */
    json_object_set_new(j, "trades", json_items(&tb_round_trip_desc, trips, ntrips, true));
    json_object_set_new(j, "equity", json_items(&tb_equity_point_desc, pts, npts, false));
    free(trips);
    free(pts);
    return reply_json(ctx, j);
}

tb_status an_bt_on_equity(bus_ctx *ctx, const void *ev) {
    PGconn *pg = NULL;
    an_bt_row row;
    tb_status s = load_visible(ctx, ev, &pg, &row);
    if (s != TB_OK) return s;
    tb_equity_point *pts = NULL;
    size_t n = 0;
    tb_performance p;
    if ((s = run_performance(ctx, pg, &row, "", &p, &pts, &n)) != TB_OK) return s;
    s = bus_reply_list(ctx, &tb_equity_point_desc, pts, n, NULL);
    free(pts);
    return s;
}
