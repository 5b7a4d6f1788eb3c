/* A backtest's equity curve, from the data's time only.
 *
 * Live equity points are sampled when position-management publishes a
 * position update, which it throttles on the wall clock: for a replay that
 * runs in seconds they would depend on the machine. A run's curve is built
 * instead from what is fixed once the run is over: its fills (recorded here,
 * in analytics_fills) and its symbols' bars of the return period from
 * historical-data. One point per bar time T (the period's start): the cash
 * after every fill before T + period (initial cash - sum of side * qty *
 * price - fees, exact) plus each position at the newest close by then
 * (qty * close, half-even). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "an_backtest.h"
#include "an_report.h"
#include "an_store.h"
#include "conn.h"

#define MAX_BARS 200000

typedef struct fills {
    an_fill *f;
    size_t n, cap;
} fills;

static tb_status keep_fill(void *arg, const an_fill *f, tb_error *err) {
    fills *v = arg;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        an_fill *p = realloc(v->f, cap * sizeof *p);
        if (p == NULL) return tb_error_set(err, TB_NOMEM, NULL, "out of memory for fills");
        v->f = p;
        v->cap = cap;
    }
    v->f[v->n++] = *f;
    return TB_OK;
}

static int by_time(const void *a, const void *b) {
    const an_fill *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return strcmp(x->fill_id, y->fill_id);
}

typedef struct bar_ref {
    int64_t ts;
    tb_fixed close;
    size_t sym;
} bar_ref;

static int bar_order(const void *a, const void *b) {
    const bar_ref *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return (x->sym > y->sym) - (x->sym < y->sym);
}

/* Every bar of symbol and interval, oldest first, appended to *bars. */
static tb_status load_bars(bus_ctx *ctx, const char *symbol, const char *interval, size_t sym,
                           bar_ref **bars, size_t *n, size_t *cap, tb_error *err) {
    tb_query q = {.limit = 5000};
    snprintf(q.symbol, sizeof q.symbol, "%s", symbol);
    snprintf(q.interval, sizeof q.interval, "%s", interval);
    for (;;) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        tb_status s = tb_encode(&tb_query_desc, &q, &sb, err);
        bus_bytes rep = {0};
        if (s == TB_OK)
            s = bus_request_bytes(bus_actor_conn(bus_ctx_actor(ctx)), "api.bars.query", sb.data,
                                  sb.size, tb_query_desc.name, an_bt.request_ms, bus_ctx_trace(ctx),
                                  &rep, err);
        msgpack_sbuffer_destroy(&sb);
        if (s != TB_OK) return s;
        void *items = NULL;
        size_t k = 0;
        char next[TB_ID_CAP] = "";
        s = tb_decode_list(&tb_bar_desc, rep.data, rep.len, &items, &k, next, err);
        bus_bytes_free(&rep);
        if (s != TB_OK) return s;
        const tb_bar *b = items;
        for (size_t i = 0; s == TB_OK && i < k; i++) {
            if (*n == *cap) {
                size_t c = *cap ? *cap * 2 : 1024;
                bar_ref *p = c > MAX_BARS ? NULL : realloc(*bars, c * sizeof *p);
                if (p == NULL) {
                    s = tb_error_set(err, TB_TOO_LARGE, "interval",
                                     "more than %d bars: choose a longer interval", MAX_BARS);
                    break;
                }
                *bars = p;
                *cap = c;
            }
            (*bars)[(*n)++] = (bar_ref){.ts = b[i].start, .close = b[i].close, .sym = sym};
        }
        free(items);
        if (s != TB_OK || next[0] == '\0') return s;
        snprintf(q.cursor, sizeof q.cursor, "%s", next);
    }
}

/* The symbol of a fill as an index into syms (the run's names), or n. */
static size_t sym_index(const an_bt_row *r, const an_bt_symbols *syms, const char *symbol) {
    size_t idl = strlen(r->id);
    for (size_t i = 0; i < syms->n; i++)
        if (strncmp(symbol, r->id, idl) == 0 && symbol[idl] == '-' &&
            strcmp(symbol + idl + 1, syms->sym[i]) == 0)
            return i;
    return syms->n;
}

tb_status an_bt_curve(bus_ctx *ctx, PGconn *pg, const an_bt_row *r, const char *interval,
                      int64_t period_ns, tb_equity_point **out, size_t *npts, tb_error *err) {
    *out = NULL;
    *npts = 0;
    an_bt_symbols syms;
    tb_status s = an_bt_parse_symbols(r->spec.symbols, 0, &syms, err);
    fills fv = {0};
    if (s == TB_OK) s = an_store_scan_fills(pg, r->run_account, "", 0, keep_fill, &fv, err);
    if (s == TB_OK && fv.n) qsort(fv.f, fv.n, sizeof *fv.f, by_time);
    bar_ref *bars = NULL;
    size_t nb = 0, cap = 0;
    for (size_t i = 0; s == TB_OK && i < syms.n; i++) {
        char name[TB_TOKEN_CAP];
        snprintf(name, sizeof name, "%.24s-%.38s", r->id, syms.sym[i]);
        s = load_bars(ctx, name, interval, i, &bars, &nb, &cap, err);
    }
    if (s == TB_OK && nb) qsort(bars, nb, sizeof *bars, bar_order);
    tb_equity_point *pts = s == TB_OK ? calloc(nb ? nb : 1, sizeof *pts) : NULL;
    if (s == TB_OK && pts == NULL) s = tb_error_set(err, TB_NOMEM, NULL, "out of memory");
    tb_fixed cash = r->spec.initial_cash > 0 ? r->spec.initial_cash : an_bt.default_cash;
    tb_fixed qty[AN_BT_MAX_SYMBOLS] = {0}, close[AN_BT_MAX_SYMBOLS] = {0};
    size_t nf = 0, np = 0;
    for (size_t i = 0; s == TB_OK && i < nb;) {
        int64_t t = bars[i].ts;
        for (; i < nb && bars[i].ts == t; i++) close[bars[i].sym] = bars[i].close;
        for (; s == TB_OK && nf < fv.n && fv.f[nf].ts < t + period_ns; nf++) {
            const an_fill *f = &fv.f[nf];
            size_t k = sym_index(r, &syms, f->symbol);
            tb_fixed notional, signed_qty;
            if (k == syms.n) continue; /* not the run's: cannot be, the account is its own */
            if ((s = tb_fixed_mul(f->qty, f->price, TB_ROUND_HALF_EVEN, &notional)) != TB_OK ||
                (s = tb_fixed_mul_int(f->qty, f->side, &signed_qty)) != TB_OK ||
                (s = tb_fixed_add(qty[k], signed_qty, &qty[k])) != TB_OK ||
                (s = tb_fixed_mul_int(notional, f->side, &notional)) != TB_OK ||
                (s = tb_fixed_sub(cash, notional, &cash)) != TB_OK ||
                (s = tb_fixed_sub(cash, f->fee, &cash)) != TB_OK)
                s = tb_error_set(err, TB_OVERFLOW, "equity", "equity out of range");
        }
        tb_fixed eq = cash, v;
        for (size_t k = 0; s == TB_OK && k < syms.n; k++)
            if (qty[k] != 0 && (tb_fixed_mul(qty[k], close[k], TB_ROUND_HALF_EVEN, &v) != TB_OK ||
                                tb_fixed_add(eq, v, &eq) != TB_OK))
                s = tb_error_set(err, TB_OVERFLOW, "equity", "equity out of range");
        if (s != TB_OK) break;
        tb_equity_point *p = &pts[np++];
        snprintf(p->account, sizeof p->account, "%s", r->run_account);
        p->ts = t;
        p->equity = eq;
        p->cash = cash;
    }
    free(fv.f);
    free(bars);
    if (s != TB_OK) {
        free(pts);
        return s;
    }
    an_report_drawdowns(pts, np, NAN);
    *out = pts;
    *npts = np;
    return TB_OK;
}
