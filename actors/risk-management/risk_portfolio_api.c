/* Handlers of api.risk.accounts.get and api.risk.positions.get: the
 * account's cash, reservations and positions from PostgreSQL (the same
 * amounts the buying-power check reads), the held symbols' daily bars
 * from historical-data (api.bars.query, asked at once), and the figures of
 * risk_portfolio.c. */
#include "risk_portfolio_api.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parallel.h"
#include "risk_bp.h"
#include "risk_flow.h"
#include "risk_portfolio.h"
#include "risk_store.h"
#include "store.h"

#define DAY_NS INT64_C(86400000000000)

/* One held symbol: the position and its bars, fetched on a thread. */
typedef struct held {
    risk_pf_position p;
    int64_t *days;
    tb_fixed *closes;
    bus_conn *conn;
    int64_t timeout_ms;
    size_t limit;
    const char *trace;
    tb_status s;
    tb_error err;
} held;

static void held_free(held *h, size_t n) {
    for (size_t i = 0; h && i < n; i++) {
        free(h[i].days);
        free(h[i].closes);
    }
    free(h);
}

/* The newest limit daily bars of the symbol, oldest first. */
static void fetch_bars(void *arg) {
    held *h = arg;
    bus_log_set_trace(h->trace);
    tb_query q;
    memset(&q, 0, sizeof q);
    snprintf(q.symbol, sizeof q.symbol, "%s", h->p.symbol);
    snprintf(q.interval, sizeof q.interval, "1d");
    q.limit = h->limit;
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    bus_bytes rb = {0};
    h->s = tb_encode(&tb_query_desc, &q, &b, &h->err);
    if (h->s == TB_OK)
        h->s = bus_request_bytes(h->conn, "api.bars.query", b.data, b.size, tb_query_desc.name,
                                 h->timeout_ms, h->trace, &rb, &h->err);
    msgpack_sbuffer_destroy(&b);
    void *list = NULL;
    size_t n = 0;
    char next[TB_ID_CAP] = "";
    if (h->s == TB_OK)
        h->s = tb_decode_list(&tb_bar_desc, rb.data, rb.len, &list, &n, next, &h->err);
    bus_bytes_free(&rb);
    if (h->s == TB_OK) {
        h->days = calloc(n ? n : 1, sizeof *h->days);
        h->closes = calloc(n ? n : 1, sizeof *h->closes);
        if (h->days == NULL || h->closes == NULL)
            h->s = tb_error_set(&h->err, TB_NOMEM, NULL, NULL);
    }
    const tb_bar *bars = list;
    size_t m = 0;
    for (size_t i = 0; i < n && h->s == TB_OK; i++) {
        int64_t day = bars[i].start / DAY_NS;
        /* A peer's reply is input like any other: ascending days only. */
        if (bars[i].close <= 0 || (m > 0 && day <= h->days[m - 1])) {
            h->s =
                tb_error_set(&h->err, TB_ERR, NULL, "daily bars of %s out of order", h->p.symbol);
            break;
        }
        h->days[m] = day;
        h->closes[m++] = bars[i].close;
    }
    free(list);
    h->p.days = h->days;
    h->p.closes = h->closes;
    h->p.nbars = m;
    if (h->s != TB_OK)
        bus_log(BUS_LOG_WARN, "daily bars of %s unavailable: %s", h->p.symbol, h->err.message);
}

/* The account's non-zero positions (by symbol) with their bars. */
static tb_status load_held(bus_ctx *ctx, PGconn *pg, const char *account, held **out, size_t *n,
                           tb_error *err) {
    *out = NULL;
    *n = 0;
    PGresult *r = NULL;
    tb_status s = bus_pg_exec(pg,
                              "SELECT symbol, qty, COALESCE(last_price, avg_cost) FROM positions "
                              "WHERE account = $1 AND qty <> 0 ORDER BY symbol",
                              1, &account, &r, err);
    if (s != TB_OK) return s;
    size_t rows = (size_t)PQntuples(r);
    held *h = calloc(rows ? rows : 1, sizeof *h);
    void **args = calloc(rows ? rows : 1, sizeof *args);
    if (h == NULL || args == NULL) s = tb_error_set(err, TB_NOMEM, NULL, NULL);
    risk_service *svc = bus_actor_user(bus_ctx_actor(ctx));
    for (size_t i = 0; i < rows && s == TB_OK; i++) {
        snprintf(h[i].p.symbol, sizeof h[i].p.symbol, "%s", PQgetvalue(r, (int)i, 0));
        if (tb_fixed_parse_cstr(PQgetvalue(r, (int)i, 1), &h[i].p.qty) != TB_OK ||
            tb_fixed_parse_cstr(PQgetvalue(r, (int)i, 2), &h[i].p.mark) != TB_OK)
            s = tb_error_set(err, TB_ERR, "positions", "position of %s in %s is not a tb_fixed",
                             account, h[i].p.symbol);
        h[i].conn = bus_actor_conn(bus_ctx_actor(ctx));
        h[i].timeout_ms = svc->dep_timeout_ms;
        h[i].limit = (size_t)svc->var_days + 1; /* N returns need N + 1 closes */
        h[i].trace = bus_ctx_trace(ctx);
        args[i] = &h[i];
    }
    PQclear(r);
    if (s == TB_OK && rows > 0) {
        char saved[128]; /* the caller's thread takes jobs too */
        snprintf(saved, sizeof saved, "%s", bus_log_trace());
        bus_parallel(fetch_bars, args, rows);
        bus_log_set_trace(saved);
        for (size_t i = 0; i < rows && s == TB_OK; i++)
            if (h[i].s != TB_OK)
                s = tb_error_set(err, TB_UNAVAILABLE, "symbol",
                                 "historical-data did not answer with the daily bars of %s: %s",
                                 h[i].p.symbol, h[i].err.message);
    }
    free(args);
    if (s != TB_OK) {
        held_free(h, rows);
        return s;
    }
    *out = h;
    *n = rows;
    return TB_OK;
}

/* Everything both endpoints reply from. */
typedef struct assessment {
    tb_account_risk account;
    tb_position_risk *items;
    held *held;
    size_t n;
} assessment;

static void assessment_free(assessment *a) {
    free(a->items);
    held_free(a->held, a->n);
}

static tb_status assess(bus_ctx *ctx, const tb_query *q, assessment *a, tb_error *err) {
    memset(a, 0, sizeof *a);
    if (q->account[0] == '\0')
        return tb_error_set(err, TB_MISSING_FIELD, "account", "account is required");
    risk_service *svc = bus_actor_user(bus_ctx_actor(ctx));
    PGconn *pg = bus_ctx_pg(ctx, err);
    if (pg == NULL) return err->status;
    uint64_t bps = 0;
    risk_bp_facts bp;
    tb_status s = risk_store_account_bp(pg, q->account, &bps, &bp, err);
    if (s == TB_OK) s = load_held(ctx, pg, q->account, &a->held, &a->n, err);
    if (s != TB_OK) return s;
    risk_pf_position *p = calloc(a->n ? a->n : 1, sizeof *p);
    a->items = calloc(a->n ? a->n : 1, sizeof *a->items);
    if (p == NULL || a->items == NULL) s = tb_error_set(err, TB_NOMEM, NULL, NULL);
    for (size_t i = 0; i < a->n && s == TB_OK; i++) p[i] = a->held[i].p;
    if (s == TB_OK) {
        s = risk_pf_assess(q->account, p, a->n, &bp, bps ? bps : RISK_BP_DEFAULT_MARGIN_BPS,
                           (uint64_t)svc->fee_bps, (size_t)svc->var_days, &a->account, a->items);
        if (s != TB_OK)
            s = tb_error_set(err, s, NULL, "the risk figures of %s overflow", q->account);
    }
    a->account.ts = tb_now_ns();
    free(p);
    return s;
}

tb_status risk_on_account_risk(bus_ctx *ctx, const void *event) {
    tb_error err = {0};
    assessment a;
    if (assess(ctx, event, &a, &err) != TB_OK) {
        assessment_free(&a);
        return bus_fail_err(ctx, &err);
    }
    /* account_risk with its positions: a map of two catalogue types. */
    json_t *j = NULL, *items = json_array();
    tb_status s = tb_to_json(&tb_account_risk_desc, &a.account, &j);
    for (size_t i = 0; i < a.n && s == TB_OK && items; i++) {
        json_t *o = NULL;
        s = tb_to_json(&tb_position_risk_desc, &a.items[i], &o);
        if (s == TB_OK) json_array_append_new(items, o);
    }
    assessment_free(&a);
    if (s != TB_OK || j == NULL || items == NULL) {
        json_decref(j);
        json_decref(items);
        return bus_fail(ctx, TB_NOMEM, NULL, "out of memory");
    }
    json_object_set_new(j, "positions", items);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    s = tb_json_to_msgpack_raw(j, &sb, &err);
    json_decref(j);
    if (s == TB_OK)
        s = bus_reply_bytes(ctx, sb.data, sb.size, "application/msgpack", NULL);
    else
        s = bus_fail_err(ctx, &err);
    msgpack_sbuffer_destroy(&sb);
    return s;
}

tb_status risk_on_position_risk(bus_ctx *ctx, const void *event) {
    const tb_query *q = event;
    if (q->symbol[0] == '\0')
        return bus_fail(ctx, TB_MISSING_FIELD, "symbol", "symbol is required");
    tb_error err = {0};
    assessment a;
    if (assess(ctx, q, &a, &err) != TB_OK) {
        assessment_free(&a);
        return bus_fail_err(ctx, &err);
    }
    tb_status s = TB_NOT_FOUND;
    for (size_t i = 0; i < a.n && s == TB_NOT_FOUND; i++)
        if (strcmp(a.items[i].symbol, q->symbol) == 0)
            s = bus_reply(ctx, &tb_position_risk_desc, &a.items[i]);
    assessment_free(&a);
    if (s == TB_NOT_FOUND)
        return bus_fail(ctx, TB_NOT_FOUND, "symbol", "%s has no position in %s", q->account,
                        q->symbol);
    return s;
}
