/* The paper venue's matching on scripted tick sequences: every order type
 * against every time in force, partial fills, shared tick sizes, stop
 * triggers (last and touch), day expiry, fee and slippage rounding, and the
 * stale-tick classification. Expected values are worked out by hand in the
 * comments. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_domain.h"

#define SEC INT64_C(1000000000)
/* 2024-03-10T15:00:00Z; its UTC day ends at 2024-03-11T00:00:00Z = 1710115200 s. */
#define NOW0    (INT64_C(1710082800) * SEC)
#define DAY_END (INT64_C(1710115200) * SEC)

static tb_fixed F(const char *s) {
    tb_fixed v;
    ck_assert_msg(tb_fixed_parse_cstr(s, &v) == TB_OK, "bad literal %s", s);
    return v;
}

static const exec_params P0 = {.trigger = EXEC_TRIGGER_LAST};

static exec_order mk(exec_side side, exec_type type, exec_tif tif, const char *qty,
                     const char *limit, const char *stop) {
    return (exec_order){.side = side,
                        .type = type,
                        .tif = tif,
                        .qty = F(qty),
                        .limit_price = limit ? F(limit) : 0,
                        .stop_price = stop ? F(stop) : 0,
                        .status = EXEC_ACCEPTED,
                        .created_ns = NOW0,
                        .version = 2};
}

/* bid, ask, last, bid_size, ask_size, last_size; NULL = absent */
static exec_quote qt(const char *bid, const char *ask, const char *last, const char *bs,
                     const char *as, const char *ls) {
    return (exec_quote){.bid = bid ? F(bid) : 0,
                        .ask = ask ? F(ask) : 0,
                        .last = last ? F(last) : 0,
                        .bid_size = bs ? F(bs) : 0,
                        .ask_size = as ? F(as) : 0,
                        .last_size = ls ? F(ls) : 0};
}

/* Everything one order went through over a tick sequence. */
typedef struct run {
    int nfills;
    exec_fill_calc fills[8];
    int nsteps;
    exec_status steps[16];
    const char *reasons[16];
} run;

static void feed(exec_order *o, const exec_quote *ticks, int n, const exec_params *p, run *r) {
    memset(r, 0, sizeof *r);
    for (int i = 0; i < n; i++) {
        exec_outcome oc;
        exec_match(&ticks[i], p, NOW0, false, o, 1, &oc);
        ck_assert_int_eq(oc.status, TB_OK);
        if (oc.filled) r->fills[r->nfills++] = oc.fill;
        for (int k = 0; k < oc.nsteps; k++) {
            r->reasons[r->nsteps] = oc.reasons[k];
            r->steps[r->nsteps++] = oc.steps[k];
        }
    }
}

static void fill_is(const exec_fill_calc *f, const char *qty, const char *price,
                    exec_liquidity liq) {
    ck_assert_int_eq(f->qty, F(qty));
    ck_assert_int_eq(f->price, F(price));
    ck_assert_int_eq(f->liquidity, liq);
}

/* ---- market ---- */

START_TEST(market_fills_at_the_touch) {
    exec_quote t[] = {qt("99", "101", "100", NULL, NULL, NULL)};
    run r;
    exec_order b = mk(EXEC_BUY, EXEC_MARKET, EXEC_DAY, "10", NULL, NULL);
    feed(&b, t, 1, &P0, &r);
    ck_assert_int_eq(r.nfills, 1);
    fill_is(&r.fills[0], "10", "101", EXEC_TAKER);
    ck_assert_int_eq(r.fills[0].fee, 0);
    ck_assert_int_eq(r.nsteps, 1);
    ck_assert_int_eq(r.steps[0], EXEC_FILLED);
    ck_assert_int_eq(b.status, EXEC_FILLED);
    ck_assert_int_eq(b.filled_qty, F("10"));
    ck_assert_int_eq(b.avg_price, F("101"));
    ck_assert_int_eq(b.version, 3);
    ck_assert_int_eq(b.fills, 1);
    exec_order s = mk(EXEC_SELL, EXEC_MARKET, EXEC_GTC, "10", NULL, NULL);
    feed(&s, t, 1, &P0, &r);
    fill_is(&r.fills[0], "10", "99", EXEC_TAKER);
    /* no bid or ask: the last trade and its size */
    exec_quote l[] = {qt(NULL, NULL, "100", NULL, NULL, "4")};
    exec_order s2 = mk(EXEC_SELL, EXEC_MARKET, EXEC_GTC, "10", NULL, NULL);
    feed(&s2, l, 1, &P0, &r);
    fill_is(&r.fills[0], "4", "100", EXEC_TAKER);
    ck_assert_int_eq(s2.status, EXEC_PARTIALLY_FILLED);
}
END_TEST

START_TEST(market_partial_fills_over_ticks) {
    /* 4 @ 101, 3 @ 102, 3 @ 100: avg (404 + 306 + 300) / 10 = 101 */
    exec_quote t[] = {
        qt("100", "101", NULL, NULL, "4", NULL), qt("101", "102", NULL, NULL, "3", NULL),
        qt("99", "100", NULL, NULL, NULL, NULL), qt("99", "100", NULL, NULL, NULL, NULL)};
    for (exec_tif tif = EXEC_DAY; tif <= EXEC_GTC; tif++) {
        exec_order o = mk(EXEC_BUY, EXEC_MARKET, tif, "10", NULL, NULL);
        run r;
        feed(&o, t, 4, &P0, &r);
        ck_assert_int_eq(r.nfills, 3);
        fill_is(&r.fills[0], "4", "101", EXEC_TAKER);
        fill_is(&r.fills[1], "3", "102", EXEC_TAKER);
        fill_is(&r.fills[2], "3", "100", EXEC_TAKER);
        ck_assert_int_eq(r.nsteps, 3);
        ck_assert_int_eq(r.steps[0], EXEC_PARTIALLY_FILLED);
        ck_assert_int_eq(r.steps[1], EXEC_PARTIALLY_FILLED);
        ck_assert_int_eq(r.steps[2], EXEC_FILLED);
        ck_assert_int_eq(o.avg_price, F("101"));
        ck_assert_int_eq(o.version, 5);
        ck_assert_int_eq(o.fills, 3);
    }
}
END_TEST

START_TEST(market_ioc_cancels_the_remainder) {
    exec_quote t[] = {qt("100", "101", NULL, NULL, "4", NULL),
                      qt("100", "101", NULL, NULL, NULL, NULL)};
    exec_order o = mk(EXEC_BUY, EXEC_MARKET, EXEC_IOC, "10", NULL, NULL);
    run r;
    feed(&o, t, 2, &P0, &r);
    ck_assert_int_eq(r.nfills, 1); /* the second tick does not touch a canceled order */
    fill_is(&r.fills[0], "4", "101", EXEC_TAKER);
    ck_assert_int_eq(r.nsteps, 2);
    ck_assert_int_eq(r.steps[0], EXEC_PARTIALLY_FILLED);
    ck_assert_int_eq(r.steps[1], EXEC_CANCELED);
    ck_assert_str_eq(r.reasons[1], EXEC_REASON_IOC);
    ck_assert_int_eq(o.filled_qty, F("4"));
    ck_assert_int_eq(o.version, 4);
    /* enough size: filled, no cancel */
    exec_order f = mk(EXEC_SELL, EXEC_MARKET, EXEC_IOC, "10", NULL, NULL);
    exec_quote big[] = {qt("100", "101", NULL, "10", NULL, NULL)};
    feed(&f, big, 1, &P0, &r);
    ck_assert_int_eq(r.nsteps, 1);
    ck_assert_int_eq(f.status, EXEC_FILLED);
    /* no price on its side yet: no chance, it waits (sell needs a bid or last) */
    exec_order w = mk(EXEC_SELL, EXEC_MARKET, EXEC_IOC, "10", NULL, NULL);
    exec_quote ask_only[] = {qt(NULL, "101", NULL, NULL, NULL, NULL),
                             qt("100", "101", NULL, NULL, NULL, NULL)};
    feed(&w, ask_only, 1, &P0, &r);
    ck_assert_int_eq(r.nsteps, 0);
    ck_assert_int_eq(w.status, EXEC_ACCEPTED);
    feed(&w, ask_only + 1, 1, &P0, &r);
    fill_is(&r.fills[0], "10", "100", EXEC_TAKER);
}
END_TEST

START_TEST(market_fok_all_or_nothing) {
    exec_quote small[] = {qt("100", "101", NULL, NULL, "9.99999999", NULL)};
    exec_order o = mk(EXEC_BUY, EXEC_MARKET, EXEC_FOK, "10", NULL, NULL);
    run r;
    feed(&o, small, 1, &P0, &r);
    ck_assert_int_eq(r.nfills, 0);
    ck_assert_int_eq(r.nsteps, 1);
    ck_assert_int_eq(r.steps[0], EXEC_CANCELED);
    ck_assert_str_eq(r.reasons[0], EXEC_REASON_FOK);
    ck_assert_int_eq(o.filled_qty, 0);
    exec_quote exact[] = {qt("100", "101", NULL, NULL, "10", NULL)};
    exec_order k = mk(EXEC_BUY, EXEC_MARKET, EXEC_FOK, "10", NULL, NULL);
    feed(&k, exact, 1, &P0, &r);
    ck_assert_int_eq(r.nfills, 1);
    fill_is(&r.fills[0], "10", "101", EXEC_TAKER);
    ck_assert_int_eq(k.status, EXEC_FILLED);
}
END_TEST

/* ---- limit ---- */

START_TEST(limit_rests_until_crossed_and_fills_at_touch) {
    /* buy 100: asks 101, 100.5 do not cross; 99.5 does, fill at 99.5 (better) */
    exec_quote t[] = {
        qt("100", "101", NULL, NULL, NULL, NULL), qt("100", "100.5", NULL, NULL, NULL, NULL),
        qt("99", "99.5", NULL, NULL, "3", NULL), qt("99", "100", NULL, NULL, NULL, NULL)};
    for (exec_tif tif = EXEC_DAY; tif <= EXEC_GTC; tif++) {
        exec_order o = mk(EXEC_BUY, EXEC_LIMIT, tif, "5", "100", NULL);
        run r;
        feed(&o, t, 4, &P0, &r);
        ck_assert_int_eq(r.nfills, 2);
        fill_is(&r.fills[0], "3", "99.5", EXEC_MAKER);
        fill_is(&r.fills[1], "2", "100", EXEC_MAKER); /* at the limit exactly */
        ck_assert_int_eq(o.status, EXEC_FILLED);
        /* (3 * 99.5 + 2 * 100) / 5 = 99.7 */
        ck_assert_int_eq(o.avg_price, F("99.7"));
    }
    exec_order s = mk(EXEC_SELL, EXEC_LIMIT, EXEC_GTC, "5", "100", NULL);
    exec_quote st[] = {qt("99.99999999", "101", NULL, NULL, NULL, NULL),
                       qt("100.25", "101", NULL, NULL, NULL, NULL)};
    run r;
    feed(&s, st, 1, &P0, &r);
    ck_assert_int_eq(r.nfills, 0);
    feed(&s, st + 1, 1, &P0, &r);
    fill_is(&r.fills[0], "5", "100.25", EXEC_MAKER);
}
END_TEST

START_TEST(limit_crossing_on_arrival_takes) {
    exec_quote q = qt("99", "99.5", NULL, NULL, NULL, NULL);
    exec_order o = mk(EXEC_BUY, EXEC_LIMIT, EXEC_DAY, "5", "100", NULL);
    exec_outcome oc;
    exec_match(&q, &P0, NOW0, true, &o, 1, &oc);
    ck_assert(oc.filled);
    fill_is(&oc.fill, "5", "99.5", EXEC_TAKER);
}
END_TEST

START_TEST(limit_ioc_and_fok) {
    run r;
    /* IOC that does not cross: canceled without a fill */
    exec_quote no[] = {qt("99", "101", NULL, NULL, NULL, NULL)};
    exec_order i1 = mk(EXEC_BUY, EXEC_LIMIT, EXEC_IOC, "5", "100", NULL);
    feed(&i1, no, 1, &P0, &r);
    ck_assert_int_eq(r.nfills, 0);
    ck_assert_int_eq(r.nsteps, 1);
    ck_assert_int_eq(r.steps[0], EXEC_CANCELED);
    /* IOC crossing with 2 available: 2 filled, 3 canceled */
    exec_quote part[] = {qt("99", "99.8", NULL, NULL, "2", NULL)};
    exec_order i2 = mk(EXEC_BUY, EXEC_LIMIT, EXEC_IOC, "5", "100", NULL);
    feed(&i2, part, 1, &P0, &r);
    ck_assert_int_eq(r.nfills, 1);
    fill_is(&r.fills[0], "2", "99.8", EXEC_MAKER);
    ck_assert_int_eq(i2.status, EXEC_CANCELED);
    ck_assert_int_eq(i2.filled_qty, F("2"));
    /* FOK crossing but 2 < 5: nothing, canceled; with 5: filled */
    exec_order f1 = mk(EXEC_BUY, EXEC_LIMIT, EXEC_FOK, "5", "100", NULL);
    feed(&f1, part, 1, &P0, &r);
    ck_assert_int_eq(r.nfills, 0);
    ck_assert_int_eq(f1.status, EXEC_CANCELED);
    exec_quote full[] = {qt("99", "99.8", NULL, NULL, "5", NULL)};
    exec_order f2 = mk(EXEC_BUY, EXEC_LIMIT, EXEC_FOK, "5", "100", NULL);
    feed(&f2, full, 1, &P0, &r);
    ck_assert_int_eq(f2.status, EXEC_FILLED);
    /* FOK not crossing: canceled */
    exec_order f3 = mk(EXEC_SELL, EXEC_LIMIT, EXEC_FOK, "5", "100", NULL);
    feed(&f3, no, 1, &P0, &r);
    ck_assert_int_eq(f3.status, EXEC_CANCELED);
    ck_assert_str_eq(r.reasons[0], EXEC_REASON_FOK);
}
END_TEST

/* ---- day expiry ---- */

START_TEST(day_orders_expire_at_utc_midnight) {
    ck_assert_int_eq(exec_day_end(NOW0), DAY_END);
    ck_assert_int_eq(exec_day_end(DAY_END), DAY_END + 86400 * SEC); /* midnight starts a day */
    ck_assert_int_eq(exec_day_end(DAY_END - 1), DAY_END);
    ck_assert_int_eq(exec_day_end(-1), 0);           /* 1969-12-31T23:59:59.999999999Z */
    ck_assert_int_eq(exec_day_end(-86400 * SEC), 0); /* 1969-12-31T00:00Z */
    exec_order o = mk(EXEC_BUY, EXEC_LIMIT, EXEC_DAY, "5", "100", NULL);
    ck_assert(!exec_day_expired(&o, DAY_END - 1));
    ck_assert(exec_day_expired(&o, DAY_END));
    exec_order g = mk(EXEC_BUY, EXEC_LIMIT, EXEC_GTC, "5", "100", NULL);
    ck_assert(!exec_day_expired(&g, DAY_END + 100 * 86400 * SEC));

    /* at matching time a due day order expires instead of filling */
    exec_quote cross = qt("99", "99", NULL, NULL, NULL, NULL);
    exec_outcome oc;
    exec_match(&cross, &P0, DAY_END, false, &o, 1, &oc);
    ck_assert(!oc.filled);
    ck_assert_int_eq(oc.nsteps, 1);
    ck_assert_int_eq(oc.steps[0], EXEC_EXPIRED);
    ck_assert_str_eq(oc.reasons[0], EXEC_REASON_DAY_END);
    /* a partially filled day order expires too; a gtc one fills */
    exec_order p = mk(EXEC_SELL, EXEC_MARKET, EXEC_DAY, "5", NULL, NULL);
    p.status = EXEC_PARTIALLY_FILLED;
    p.filled_qty = F("1");
    p.avg_price = F("99");
    exec_match(&cross, &P0, DAY_END + SEC, false, &p, 1, &oc);
    ck_assert_int_eq(p.status, EXEC_EXPIRED);
    ck_assert_int_eq(p.filled_qty, F("1"));
    exec_match(&cross, &P0, DAY_END + SEC, false, &g, 1, &oc);
    ck_assert_int_eq(g.status, EXEC_FILLED);
}
END_TEST

START_TEST(gtd_orders_expire_at_their_time) {
    exec_order o = mk(EXEC_BUY, EXEC_LIMIT, EXEC_GTD, "5", "100", NULL);
    o.expire_ns = NOW0 + 10 * SEC;
    ck_assert(!exec_gtd_expired(&o, NOW0 + 10 * SEC - 1));
    ck_assert(exec_gtd_expired(&o, NOW0 + 10 * SEC));
    ck_assert(!exec_day_expired(&o, DAY_END + 86400 * SEC)); /* not a day order */
    exec_order g = mk(EXEC_BUY, EXEC_LIMIT, EXEC_GTC, "5", "100", NULL);
    g.expire_ns = NOW0; /* only gtd orders look at it */
    ck_assert(!exec_gtd_expired(&g, NOW0 + SEC));

    /* a tick before expire_at fills it; one at expire_at expires it instead */
    exec_quote cross = qt("99", "99", NULL, NULL, NULL, NULL);
    exec_outcome oc;
    exec_order early = o;
    exec_match(&cross, &P0, NOW0 + 10 * SEC - 1, false, &early, 1, &oc);
    ck_assert_int_eq(early.status, EXEC_FILLED);
    exec_match(&cross, &P0, NOW0 + 10 * SEC, false, &o, 1, &oc);
    ck_assert(!oc.filled);
    ck_assert_int_eq(oc.nsteps, 1);
    ck_assert_int_eq(oc.steps[0], EXEC_EXPIRED);
    ck_assert_str_eq(oc.reasons[0], EXEC_REASON_GTD);
    ck_assert_int_eq(o.status, EXEC_EXPIRED);
    /* the tick's event time decides, not the clock the caller passes */
    exec_order r = mk(EXEC_BUY, EXEC_LIMIT, EXEC_GTD, "5", "100", NULL);
    r.expire_ns = NOW0 + 10 * SEC;
    exec_quote before = cross;
    before.ts_ns = NOW0 + 10 * SEC - 1;
    exec_match(&before, &P0, NOW0 + 1000 * SEC, false, &r, 1, &oc);
    ck_assert_int_eq(r.status, EXEC_FILLED);
    exec_order late = mk(EXEC_BUY, EXEC_LIMIT, EXEC_GTD, "5", "100", NULL);
    late.expire_ns = NOW0 + 10 * SEC;
    exec_quote at = cross;
    at.ts_ns = NOW0 + 10 * SEC;
    exec_match(&at, &P0, NOW0, false, &late, 1, &oc);
    ck_assert_int_eq(late.status, EXEC_EXPIRED);
    ck_assert_str_eq(exec_tif_name(EXEC_GTD), "gtd");
    exec_tif t;
    ck_assert(exec_tif_parse("gtd", &t) && t == EXEC_GTD);
}
END_TEST

/* ---- stops ---- */

START_TEST(stop_triggers_on_last_then_trades_as_market) {
    /* buy stop 105: last 104 no; last 105 triggers, buys at the ask 105.5 */
    exec_quote t[] = {qt("104", "104.5", "104", NULL, NULL, NULL),
                      qt("105", "105.5", "105", NULL, NULL, NULL)};
    exec_tif tifs[] = {EXEC_DAY, EXEC_GTC, EXEC_IOC, EXEC_FOK};
    for (int k = 0; k < 4; k++) {
        exec_order o = mk(EXEC_BUY, EXEC_STOP, tifs[k], "2", NULL, "105");
        run r;
        feed(&o, t, 1, &P0, &r);
        ck_assert_int_eq(r.nsteps, 0); /* untriggered stops wait, IOC/FOK included */
        ck_assert(!o.triggered);
        exec_outcome oc;
        exec_match(&t[1], &P0, NOW0, false, &o, 1, &oc);
        ck_assert(oc.triggered_now);
        ck_assert(oc.filled);
        fill_is(&oc.fill, "2", "105.5", EXEC_TAKER);
        ck_assert_int_eq(o.status, EXEC_FILLED);
    }
    /* sell stop 95 with a 1-lot bid: triggered, 1 filled; gtc rests triggered */
    exec_quote s[] = {qt("95.4", "95.6", "95.5", NULL, NULL, NULL),
                      qt("94.9", "95.1", "95", "1", NULL, NULL),
                      qt("94", "94.2", "94.1", NULL, NULL, NULL)};
    exec_order o = mk(EXEC_SELL, EXEC_STOP, EXEC_GTC, "2", NULL, "95");
    run r;
    feed(&o, s, 3, &P0, &r);
    ck_assert_int_eq(r.nfills, 2);
    fill_is(&r.fills[0], "1", "94.9", EXEC_TAKER);
    fill_is(&r.fills[1], "1", "94", EXEC_TAKER);
    ck_assert(o.triggered);
    ck_assert_int_eq(o.status, EXEC_FILLED);
    /* the same sell stop as IOC: the remainder after the trigger tick is canceled */
    exec_order i = mk(EXEC_SELL, EXEC_STOP, EXEC_IOC, "2", NULL, "95");
    feed(&i, s, 3, &P0, &r);
    ck_assert_int_eq(r.nfills, 1);
    ck_assert_int_eq(i.status, EXEC_CANCELED);
    ck_assert_int_eq(i.filled_qty, F("1"));
    /* FOK: not fillable at trigger -> canceled with nothing */
    exec_order f = mk(EXEC_SELL, EXEC_STOP, EXEC_FOK, "2", NULL, "95");
    feed(&f, s, 3, &P0, &r);
    ck_assert_int_eq(r.nfills, 0);
    ck_assert_int_eq(f.status, EXEC_CANCELED);
}
END_TEST

START_TEST(stop_trigger_touch_vs_last) {
    /* last 104 but ask 105: the touch trigger fires, the last trigger does not */
    exec_quote q = qt("104.5", "105", "104", NULL, NULL, NULL);
    exec_params touch = {.trigger = EXEC_TRIGGER_TOUCH};
    exec_order a = mk(EXEC_BUY, EXEC_STOP, EXEC_GTC, "1", NULL, "105");
    exec_order b = a;
    ck_assert(exec_stop_hit(&a, &q, EXEC_TRIGGER_TOUCH));
    ck_assert(!exec_stop_hit(&a, &q, EXEC_TRIGGER_LAST));
    exec_outcome oc;
    exec_match(&q, &P0, NOW0, false, &b, 1, &oc);
    ck_assert(!oc.triggered_now && !oc.filled);
    exec_match(&q, &touch, NOW0, false, &a, 1, &oc);
    ck_assert(oc.triggered_now && oc.filled);
    fill_is(&oc.fill, "1", "105", EXEC_TAKER);
    /* sell stop on touch uses the bid */
    exec_order s = mk(EXEC_SELL, EXEC_STOP, EXEC_GTC, "1", NULL, "104.5");
    ck_assert(exec_stop_hit(&s, &q, EXEC_TRIGGER_TOUCH));
    s.stop_price = F("104.4");
    ck_assert(!exec_stop_hit(&s, &q, EXEC_TRIGGER_TOUCH));
    /* a last-trigger stop with no last in the tick does not trigger */
    exec_quote nolast = qt("110", "111", NULL, NULL, NULL, NULL);
    ck_assert(!exec_stop_hit(&a, &nolast, EXEC_TRIGGER_LAST));
    ck_assert(exec_stop_hit(&a, &nolast, EXEC_TRIGGER_TOUCH));
}
END_TEST

START_TEST(stop_limit_triggers_then_rests_as_limit) {
    /* buy stop 105 limit 105.2: tick 2 triggers but ask 105.5 > 105.2; tick 3
     * ask 105.1 crosses: fill at 105.1 as a resting (maker) order */
    exec_quote t[] = {qt("104", "104.5", "104", NULL, NULL, NULL),
                      qt("105", "105.5", "105", NULL, NULL, NULL),
                      qt("104", "105.1", "104", NULL, NULL, NULL)};
    exec_order o = mk(EXEC_BUY, EXEC_STOP_LIMIT, EXEC_GTC, "3", "105.2", "105");
    exec_outcome oc;
    exec_match(&t[0], &P0, NOW0, false, &o, 1, &oc);
    ck_assert(!o.triggered);
    exec_match(&t[1], &P0, NOW0, false, &o, 1, &oc);
    ck_assert(oc.triggered_now && !oc.filled && oc.nsteps == 0);
    exec_match(&t[2], &P0, NOW0, false, &o, 1, &oc);
    ck_assert(!oc.triggered_now && oc.filled);
    fill_is(&oc.fill, "3", "105.1", EXEC_MAKER);
    /* crossing on the trigger tick itself takes */
    exec_quote cross = qt("105", "105.2", "105", NULL, NULL, NULL);
    exec_order c = mk(EXEC_BUY, EXEC_STOP_LIMIT, EXEC_DAY, "3", "105.2", "105");
    exec_match(&cross, &P0, NOW0, false, &c, 1, &oc);
    fill_is(&oc.fill, "3", "105.2", EXEC_TAKER);
    /* IOC/FOK: triggered but not crossing -> canceled */
    exec_order i = mk(EXEC_BUY, EXEC_STOP_LIMIT, EXEC_IOC, "3", "105.2", "105");
    exec_match(&t[1], &P0, NOW0, false, &i, 1, &oc);
    ck_assert_int_eq(i.status, EXEC_CANCELED);
    ck_assert_str_eq(oc.reasons[0], EXEC_REASON_IOC);
    exec_order f = mk(EXEC_SELL, EXEC_STOP_LIMIT, EXEC_FOK, "3", "94.8", "95");
    exec_quote s = qt("94.7", "95", "95", NULL, NULL, NULL);
    exec_match(&s, &P0, NOW0, false, &f, 1, &oc);
    ck_assert_int_eq(f.status, EXEC_CANCELED); /* bid 94.7 < limit 94.8 */
    ck_assert(!oc.filled);
}
END_TEST

/* ---- trailing stops ---- */

/* A trailing stop: a sell trails below the best price, a buy above. */
static exec_order trailing(exec_side side, const char *amount, int64_t bps, const char *offset) {
    exec_order o = mk(side, EXEC_TRAILING_STOP, EXEC_GTC, "2", NULL, NULL);
    o.trail_amount = amount ? F(amount) : 0;
    o.trail_bps = bps;
    o.limit_offset = offset ? F(offset) : 0;
    return o;
}

START_TEST(trailing_sell_amount_ratchets_up_and_fires) {
    /* sell, trail 2, trigger on the last trade, slippage 10 bps:
     *   last 100   -> stop 98 (the first price sets it)
     *   last 101   -> 99
     *   last 100.5 -> stays 99 (a sell's stop only rises)
     *   last 103   -> 101
     *   last 101.5 -> stays 101, 101.5 > 101: no trigger
     *   last 101   -> 101 <= 101: triggers, sells as a market order at the
     *                 bid 100.9 less 10 bps = 100.9 * 9990 / 10000 =
     *                 100.79910000 (rounded down), 2 at once, taker. */
    exec_params p = {.trigger = EXEC_TRIGGER_LAST, .slippage_bps = 10};
    const char *lasts[] = {"100", "101", "100.5", "103", "101.5"};
    const char *stops[] = {"98", "99", "99", "101", "101"};
    const bool moved[] = {true, true, false, true, false};
    exec_order o = trailing(EXEC_SELL, "2", 0, NULL);
    ck_assert_int_eq(exec_order_validate(&o, NULL), TB_OK);
    exec_outcome oc;
    for (int i = 0; i < 5; i++) {
        o.trail_moved = false;
        exec_quote q = qt("99", "110", lasts[i], NULL, NULL, NULL);
        exec_match(&q, &p, NOW0, false, &o, 1, &oc);
        ck_assert_msg(o.trail_stop == F(stops[i]), "tick %d: stop %lld", i,
                      (long long)o.trail_stop);
        ck_assert_int_eq(o.trail_moved, moved[i]);
        ck_assert(!oc.triggered_now && !oc.filled && oc.nsteps == 0);
    }
    exec_quote fire = qt("100.9", "101.1", "101", NULL, NULL, NULL);
    exec_match(&fire, &p, NOW0, false, &o, 1, &oc);
    ck_assert(oc.triggered_now && oc.filled && o.triggered);
    fill_is(&oc.fill, "2", "100.7991", EXEC_TAKER);
    ck_assert_int_eq(o.status, EXEC_FILLED);
    ck_assert_int_eq(o.trail_stop, F("101"));
    /* a tick without a last trade neither moves nor triggers it */
    exec_order n = trailing(EXEC_SELL, "2", 0, NULL);
    exec_quote nolast = qt("100", "101", NULL, NULL, NULL, NULL);
    ck_assert(!exec_trail_ratchet(&n, &nolast, EXEC_TRIGGER_LAST));
    ck_assert_int_eq(n.trail_stop, 0);
}
END_TEST

START_TEST(trailing_buy_bps_with_limit_offset) {
    /* buy, trail 100 bps, limit offset 0.5, trigger on the touch (the ask):
     *   ask 50   -> stop 50 * 10100 / 10000 = 50.5
     *   ask 48   -> 48.48
     *   ask 48.4 -> stays 48.48 (48.4 * 1.01 = 48.884: a buy's stop only
     *               falls), and 48.4 < 48.48 does not trigger
     *   ask 47.3 -> 47.3 * 1.01 = 47.773
     *   ask 47.8 -> 47.8 >= 47.773: triggers; limit 47.773 + 0.5 = 48.273,
     *               the ask 47.8 is within it: 2 at 47.8, taker (the
     *               trigger tick crosses). */
    exec_params p = {.trigger = EXEC_TRIGGER_TOUCH};
    const char *asks[] = {"50", "48", "48.4", "47.3"};
    const char *stops[] = {"50.5", "48.48", "48.48", "47.773"};
    exec_order o = trailing(EXEC_BUY, NULL, 100, "0.5");
    ck_assert_int_eq(exec_order_validate(&o, NULL), TB_OK);
    exec_outcome oc;
    for (int i = 0; i < 4; i++) {
        exec_quote q = qt("1", asks[i], "1", NULL, NULL, NULL);
        exec_match(&q, &p, NOW0, false, &o, 1, &oc);
        ck_assert_msg(o.trail_stop == F(stops[i]), "tick %d: stop %lld", i,
                      (long long)o.trail_stop);
        ck_assert(!oc.triggered_now && !oc.filled);
    }
    ck_assert_int_eq(exec_limit_of(&o), F("48.273"));
    exec_quote fire = qt("47.7", "47.8", "47.7", NULL, NULL, NULL);
    exec_match(&fire, &p, NOW0, false, &o, 1, &oc);
    ck_assert(oc.triggered_now && oc.filled);
    fill_is(&oc.fill, "2", "47.8", EXEC_TAKER);
    /* basis points round away from the price: ask 33.33333333 * 1.01 =
     * 33.6666666633 -> 33.66666667 (up, for a buy); a sell's 99% of it,
     * 32.9999999967, -> 32.99999999 (down) */
    exec_order b = trailing(EXEC_BUY, NULL, 100, NULL), s = trailing(EXEC_SELL, NULL, 100, NULL);
    tb_fixed stop;
    ck_assert_int_eq(exec_trail_stop_for(&b, F("33.33333333"), &stop), TB_OK);
    ck_assert_int_eq(stop, F("33.66666667"));
    ck_assert_int_eq(exec_trail_stop_for(&s, F("33.33333333"), &stop), TB_OK);
    ck_assert_int_eq(stop, F("32.99999999"));
}
END_TEST

START_TEST(trailing_limit_rests_once_triggered) {
    /* sell, trail 1, offset 1, last trigger: last 100 -> stop 99; bid 97.5
     * last 99 triggers, limit 99 - 1 = 98 is above the bid: nothing; the
     * stop no longer moves (last 120); bid 98.2 crosses: the resting order
     * fills at 98.2 as a maker. */
    exec_order o = trailing(EXEC_SELL, "1", 0, "1");
    exec_outcome oc;
    exec_quote t[] = {
        qt("99.9", "100.1", "100", NULL, NULL, NULL), qt("97.5", "99.5", "99", NULL, NULL, NULL),
        qt("97", "121", "120", NULL, NULL, NULL), qt("98.2", "121", "120", NULL, NULL, NULL)};
    exec_match(&t[0], &P0, NOW0, false, &o, 1, &oc);
    ck_assert_int_eq(o.trail_stop, F("99"));
    exec_match(&t[1], &P0, NOW0, false, &o, 1, &oc);
    ck_assert(oc.triggered_now && !oc.filled);
    exec_match(&t[2], &P0, NOW0, false, &o, 1, &oc);
    ck_assert(!oc.filled);
    ck_assert_int_eq(o.trail_stop, F("99"));
    ck_assert(!exec_trail_ratchet(&o, &t[2], EXEC_TRIGGER_LAST));
    exec_match(&t[3], &P0, NOW0, false, &o, 1, &oc);
    fill_is(&oc.fill, "2", "98.2", EXEC_MAKER);
    /* a sell trail wider than the price waits at the smallest price */
    exec_order w = trailing(EXEC_SELL, "5", 0, NULL);
    exec_quote low = qt(NULL, NULL, "3", NULL, NULL, NULL);
    ck_assert(exec_trail_ratchet(&w, &low, EXEC_TRIGGER_LAST));
    ck_assert_int_eq(w.trail_stop, 1);
    ck_assert(!exec_stop_hit(&w, &low, EXEC_TRIGGER_LAST));
}
END_TEST

START_TEST(trailing_fields_are_validated) {
    exec_order both = trailing(EXEC_SELL, "1", 10, NULL), none = trailing(EXEC_SELL, NULL, 0, NULL);
    exec_order neg = trailing(EXEC_SELL, "-1", 0, NULL),
               wide = trailing(EXEC_BUY, NULL, 10000, NULL);
    exec_order off = trailing(EXEC_BUY, "1", 0, "-0.1");
    exec_order stray = mk(EXEC_SELL, EXEC_LIMIT, EXEC_GTC, "1", "10", NULL);
    stray.trail_bps = 5;
    const struct {
        exec_order *o;
        const char *field;
    } bad[] = {{&both, "trail_amount"}, {&none, "trail_amount"}, {&neg, "trail_amount"},
               {&wide, "trail_bps"},    {&off, "limit_offset"},  {&stray, "trail_bps"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tb_error err = {0};
        ck_assert_int_eq(exec_order_validate(bad[i].o, &err), TB_INVALID);
        ck_assert_str_eq(err.field, bad[i].field);
    }
    ck_assert_str_eq(exec_type_name(EXEC_TRAILING_STOP), "trailing_stop");
    exec_type t;
    ck_assert(exec_type_parse("trailing_stop", &t) && t == EXEC_TRAILING_STOP);
}
END_TEST

/* ---- shared sizes ---- */

START_TEST(tick_size_is_shared_in_priority) {
    exec_order o[3] = {mk(EXEC_BUY, EXEC_MARKET, EXEC_GTC, "6", NULL, NULL),
                       mk(EXEC_BUY, EXEC_LIMIT, EXEC_GTC, "6", "101", NULL),
                       mk(EXEC_SELL, EXEC_MARKET, EXEC_GTC, "6", NULL, NULL)};
    exec_quote q = qt("100", "101", NULL, "5", "10", NULL);
    exec_outcome oc[3];
    exec_match(&q, &P0, NOW0, false, o, 3, oc);
    fill_is(&oc[0].fill, "6", "101", EXEC_TAKER);
    fill_is(&oc[1].fill, "4", "101", EXEC_MAKER); /* 10 - 6 left on the ask */
    fill_is(&oc[2].fill, "5", "100", EXEC_TAKER); /* the bid side has its own 5 */
    ck_assert_int_eq(o[1].status, EXEC_PARTIALLY_FILLED);
    /* the ask is used up: a later buy gets nothing and rests */
    exec_order more[2] = {mk(EXEC_BUY, EXEC_MARKET, EXEC_GTC, "10", NULL, NULL),
                          mk(EXEC_BUY, EXEC_MARKET, EXEC_GTC, "1", NULL, NULL)};
    exec_match(&q, &P0, NOW0, false, more, 2, oc);
    ck_assert(oc[0].filled && !oc[1].filled);
    ck_assert_int_eq(more[1].status, EXEC_ACCEPTED);
    /* new and terminal orders in the list are left alone */
    exec_order skip[2] = {mk(EXEC_BUY, EXEC_MARKET, EXEC_GTC, "1", NULL, NULL),
                          mk(EXEC_BUY, EXEC_MARKET, EXEC_GTC, "1", NULL, NULL)};
    skip[0].status = EXEC_NEW;
    skip[1].status = EXEC_CANCELED;
    exec_match(&q, &P0, NOW0, false, skip, 2, oc);
    ck_assert(!oc[0].filled && !oc[1].filled && oc[0].nsteps == 0 && oc[1].nsteps == 0);
    ck_assert_int_eq(skip[0].version, 2);
}
END_TEST

/* ---- money ---- */

START_TEST(slippage_rounds_against_the_trader) {
    tb_fixed px;
    /* 100.00000003 * 1.0005 = 100.0500000300015 -> buy ceil 100.05000004 */
    ck_assert_int_eq(exec_slipped_price(EXEC_BUY, F("100.00000003"), 5, &px), TB_OK);
    ck_assert_int_eq(px, F("100.05000004"));
    /* 100.00000003 * 0.9995 = 99.9500000299985 -> sell floor 99.95000002 */
    ck_assert_int_eq(exec_slipped_price(EXEC_SELL, F("100.00000003"), 5, &px), TB_OK);
    ck_assert_int_eq(px, F("99.95000002"));
    ck_assert_int_eq(exec_slipped_price(EXEC_BUY, F("100"), 0, &px), TB_OK);
    ck_assert_int_eq(px, F("100"));
    /* never below the smallest price */
    ck_assert_int_eq(exec_slipped_price(EXEC_SELL, 1, 5, &px), TB_OK);
    ck_assert_int_eq(px, 1);
    /* in matching: market orders slip, limit orders do not */
    exec_params p = {.slippage_bps = 10, .trigger = EXEC_TRIGGER_LAST};
    exec_order o[2] = {mk(EXEC_BUY, EXEC_MARKET, EXEC_GTC, "1", NULL, NULL),
                       mk(EXEC_BUY, EXEC_LIMIT, EXEC_GTC, "1", "200", NULL)};
    exec_quote q = qt("99", "100", NULL, NULL, NULL, NULL);
    exec_outcome oc[2];
    exec_match(&q, &p, NOW0, false, o, 2, oc);
    fill_is(&oc[0].fill, "1", "100.1", EXEC_TAKER);
    fill_is(&oc[1].fill, "1", "100", EXEC_MAKER);
}
END_TEST

START_TEST(fees_round_half_up_with_minimum) {
    tb_fixed fee;
    exec_params p = {.fee_bps = 1000}; /* 10% makes the 9th decimal visible */
    /* notional 1 * 0.00000025 = 0.00000025; 10% = 0.000000025 -> half-up 0.00000003 */
    ck_assert_int_eq(exec_fee(F("1"), F("0.00000025"), &p, &fee), TB_OK);
    ck_assert_int_eq(fee, 3);
    /* 0.00000005 * 1 -> 0.000000005 -> 0.00000001 */
    ck_assert_int_eq(exec_fee(F("0.00000005"), F("1"), &p, &fee), TB_OK);
    ck_assert_int_eq(fee, 1);
    /* notional is half-even first: 0.5 * 0.00000001 = 0.000000005 -> 0 */
    ck_assert_int_eq(exec_fee(F("0.5"), F("0.00000001"), &p, &fee), TB_OK);
    ck_assert_int_eq(fee, 0);
    /* 3 * 33.33333333 = 99.99999999; 1 bp = 0.0099999999990 -> 0.01 */
    exec_params bp = {.fee_bps = 1};
    ck_assert_int_eq(exec_fee(F("3"), F("33.33333333"), &bp, &fee), TB_OK);
    ck_assert_int_eq(fee, F("0.01"));
    /* the minimum per fill */
    exec_params mn = {.fee_bps = 1, .fee_min = F("0.05")};
    ck_assert_int_eq(exec_fee(F("1"), F("100"), &mn, &fee), TB_OK); /* 0.01 < 0.05 */
    ck_assert_int_eq(fee, F("0.05"));
    ck_assert_int_eq(exec_fee(F("10"), F("100"), &mn, &fee), TB_OK); /* 0.1 */
    ck_assert_int_eq(fee, F("0.1"));
    exec_params none = {0};
    ck_assert_int_eq(exec_fee(F("10"), F("100"), &none, &fee), TB_OK);
    ck_assert_int_eq(fee, 0);
    /* matching puts the fee on the fill: 2 * 50.25 = 100.5, 25 bp = 0.25125 */
    exec_params m = {.fee_bps = 25};
    exec_order o = mk(EXEC_SELL, EXEC_MARKET, EXEC_DAY, "2", NULL, NULL);
    exec_quote q = qt("50.25", "50.5", NULL, NULL, NULL, NULL);
    exec_outcome oc;
    exec_match(&q, &m, NOW0, false, &o, 1, &oc);
    ck_assert_int_eq(oc.fill.fee, F("0.25125"));
}
END_TEST

START_TEST(an_accounts_fee_model_replaces_the_settings) {
    /* Settings: 10 bp slippage, 7 bp fee, minimum 0.05. */
    exec_params g = {
        .slippage_bps = 10, .fee_bps = 7, .fee_min = F("0.05"), .trigger = EXEC_TRIGGER_LAST};
    exec_order o[3] = {mk(EXEC_BUY, EXEC_MARKET, EXEC_GTC, "2", NULL, NULL),
                       mk(EXEC_BUY, EXEC_MARKET, EXEC_GTC, "2", NULL, NULL),
                       mk(EXEC_SELL, EXEC_MARKET, EXEC_GTC, "2", NULL, NULL)};
    /* o[1]: 25 bp fee, minimum 1, 4 bp slippage; o[2]: a zero model. */
    o[1].own_fees = true;
    o[1].fees = (exec_fee_model){.slippage_bps = 4, .fee_bps = 25, .fee_min = F("1")};
    o[2].own_fees = true;
    exec_quote q = qt("99.99", "100", NULL, NULL, NULL, NULL);
    exec_outcome oc[3];
    exec_match(&q, &g, NOW0, true, o, 3, oc);
    /* 100 * 1.001 = 100.1; 200.2 * 7 bp = 0.140140 */
    fill_is(&oc[0].fill, "2", "100.1", EXEC_TAKER);
    ck_assert_int_eq(oc[0].fill.fee, F("0.14014"));
    /* 100 * 1.0004 = 100.04; 200.08 * 25 bp = 0.5002 -> the minimum 1 */
    fill_is(&oc[1].fill, "2", "100.04", EXEC_TAKER);
    ck_assert_int_eq(oc[1].fill.fee, F("1"));
    /* no slippage, no fee at all */
    fill_is(&oc[2].fill, "2", "99.99", EXEC_TAKER);
    ck_assert_int_eq(oc[2].fill.fee, 0);
    /* the trigger stays the settings' */
    exec_params e = exec_params_for(&g, &o[1]);
    ck_assert_int_eq(e.trigger, EXEC_TRIGGER_LAST);
    ck_assert_int_eq(e.fee_bps, 25);
    e = exec_params_for(&g, &o[0]);
    ck_assert_int_eq(e.fee_bps, 7);
    ck_assert_int_eq(e.fee_min, F("0.05"));
}
END_TEST

START_TEST(fee_models_are_validated) {
    tb_error err = {0};
    exec_fee_model ok = {.slippage_bps = 1000, .fee_bps = 1000, .fee_min = F("1000000")};
    ck_assert_int_eq(exec_fee_model_validate(&ok, &err), TB_OK);
    exec_fee_model zero = {0};
    ck_assert_int_eq(exec_fee_model_validate(&zero, &err), TB_OK);
    const struct {
        exec_fee_model m;
        const char *field;
    } bad[] = {
        {{.fee_bps = -1}, "fee_bps"},           {{.fee_bps = 1001}, "fee_bps"},
        {{.slippage_bps = -1}, "slippage_bps"}, {{.slippage_bps = 1001}, "slippage_bps"},
        {{.fee_min = -1}, "fee_min"},           {{.fee_min = F("1000000.00000001")}, "fee_min"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err = (tb_error){0};
        ck_assert_int_eq(exec_fee_model_validate(&bad[i].m, &err), TB_INVALID);
        ck_assert_str_eq(err.field, bad[i].field);
    }
}
END_TEST

START_TEST(average_price_rounds_half_even) {
    /* 1 @ 1.00000001 then 2 @ 1.00000002: 3.00000005 / 3 = 1.0000000166.. -> 1.00000002 */
    exec_order o = mk(EXEC_BUY, EXEC_MARKET, EXEC_GTC, "3", NULL, NULL);
    exec_quote t[] = {qt(NULL, "1.00000001", NULL, NULL, "1", NULL),
                      qt(NULL, "1.00000002", NULL, NULL, NULL, NULL)};
    run r;
    feed(&o, t, 2, &P0, &r);
    ck_assert_int_eq(o.avg_price, F("1.00000002"));
    ck_assert_int_eq(o.status, EXEC_FILLED);
}
END_TEST

START_TEST(overflow_leaves_the_order_alone) {
    exec_order o = mk(EXEC_BUY, EXEC_MARKET, EXEC_GTC, "90000000000", NULL, NULL);
    exec_quote q = qt("89999999999", "90000000000", NULL, NULL, NULL, NULL);
    exec_order before = o;
    exec_outcome oc;
    exec_match(&q, &P0, NOW0, false, &o, 1, &oc);
    ck_assert_int_eq(oc.status, TB_OVERFLOW);
    ck_assert(!oc.filled);
    ck_assert_mem_eq(&o, &before, sizeof o);
}
END_TEST

/* ---- inputs ---- */

START_TEST(quotes_are_validated) {
    tb_error err = {0};
    exec_quote q = qt("99", "101", "100", "1", "1", "1");
    ck_assert_int_eq(exec_quote_validate(&q, &err), TB_OK);
    q.bid = F("102");
    ck_assert_int_eq(exec_quote_validate(&q, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "bid");
    q = qt("99", "101", "100", NULL, NULL, NULL);
    q.ask_size = -1;
    ck_assert_int_eq(exec_quote_validate(&q, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "ask_size");
    q = qt(NULL, "101", NULL, NULL, NULL, NULL);
    q.last = -5;
    ck_assert_int_eq(exec_quote_validate(&q, &err), TB_INVALID);
}
END_TEST

START_TEST(tick_order_classification) {
    ck_assert_int_eq(exec_tick_classify(false, 0, "", 1, "sim", 1000), EXEC_TICK_NEW);
    ck_assert_int_eq(exec_tick_classify(true, 10, "sim", 11, "sim", 1000), EXEC_TICK_NEW);
    ck_assert_int_eq(exec_tick_classify(true, 10, "sim", 10, "sim", 1000), EXEC_TICK_STALE);
    ck_assert_int_eq(exec_tick_classify(true, 10, "sim", 7, "sim", 1000), EXEC_TICK_STALE);
    ck_assert_int_eq(exec_tick_classify(true, 5000, "sim", 4001, "sim", 1000), EXEC_TICK_STALE);
    ck_assert_int_eq(exec_tick_classify(true, 5000, "sim", 4000, "sim", 1000), EXEC_TICK_RESET);
    ck_assert_int_eq(exec_tick_classify(true, 5000, "sim", 1, "replay:a.csv", 1000),
                     EXEC_TICK_RESET);
    ck_assert_int_eq(exec_tick_classify(true, 10, "", 3, NULL, 1000), EXEC_TICK_STALE);
    ck_assert_int_eq(exec_tick_classify(true, 10, "sim", 3, "si", 1000), EXEC_TICK_RESET);
    ck_assert_int_eq(exec_tick_classify(true, 10, "sim", 30, "replay:b", 1000), EXEC_TICK_RESET);
    ck_assert_int_eq(exec_tick_classify(true, 0, "", 7, "sim", 1000), EXEC_TICK_RESET);
}
END_TEST

START_TEST(pending_ticks_in_sequence) {
    /* next in sequence: now; a gap: wait until it is old enough */
    ck_assert_int_eq(exec_pending_decide(10, "sim", 11, "sim", 1000, 0, 100), EXEC_PENDING_MATCH);
    ck_assert_int_eq(exec_pending_decide(10, "sim", 12, "sim", 1000, 99, 100), EXEC_PENDING_WAIT);
    ck_assert_int_eq(exec_pending_decide(10, "sim", 12, "sim", 1000, 100, 100), EXEC_PENDING_MATCH);
    ck_assert_int_eq(exec_pending_decide(10, "sim", 12, "sim", 1000, 5, 0), EXEC_PENDING_MATCH);
    /* already matched or overtaken: dropped, however old */
    ck_assert_int_eq(exec_pending_decide(10, "sim", 10, "sim", 1000, 0, 100), EXEC_PENDING_DROP);
    ck_assert_int_eq(exec_pending_decide(10, "sim", 9, "sim", 1000, 5000, 100), EXEC_PENDING_DROP);
    /* a new sequence (fresh symbol, other or restarted feed) starts at once
     * with seq 1, else after the window (an earlier tick may be on its way) */
    ck_assert_int_eq(exec_pending_decide(10, "sim", 1, "replay:x", 1000, 0, 100),
                     EXEC_PENDING_MATCH);
    ck_assert_int_eq(exec_pending_decide(0, "", 1, "sim", 1000, 0, 100), EXEC_PENDING_MATCH);
    ck_assert_int_eq(exec_pending_decide(0, "", 7, "sim", 1000, 0, 100), EXEC_PENDING_WAIT);
    ck_assert_int_eq(exec_pending_decide(0, "", 7, "sim", 1000, 100, 100), EXEC_PENDING_MATCH);
    ck_assert_int_eq(exec_pending_decide(5000, "sim", 1, "sim", 1000, 0, 100), EXEC_PENDING_MATCH);
    ck_assert_int_eq(exec_pending_decide(5000, "sim", 3, "sim", 1000, 0, 100), EXEC_PENDING_WAIT);
    ck_assert_int_eq(exec_pending_decide(5000, "sim", 3, "sim", 1000, 100, 100),
                     EXEC_PENDING_MATCH);
}
END_TEST

int main(void) {
    Suite *s = suite_create("exec_match");
    TCase *tc = tcase_create("match");
    tcase_add_test(tc, market_fills_at_the_touch);
    tcase_add_test(tc, market_partial_fills_over_ticks);
    tcase_add_test(tc, market_ioc_cancels_the_remainder);
    tcase_add_test(tc, market_fok_all_or_nothing);
    tcase_add_test(tc, limit_rests_until_crossed_and_fills_at_touch);
    tcase_add_test(tc, limit_crossing_on_arrival_takes);
    tcase_add_test(tc, limit_ioc_and_fok);
    tcase_add_test(tc, day_orders_expire_at_utc_midnight);
    tcase_add_test(tc, gtd_orders_expire_at_their_time);
    tcase_add_test(tc, stop_triggers_on_last_then_trades_as_market);
    tcase_add_test(tc, stop_trigger_touch_vs_last);
    tcase_add_test(tc, stop_limit_triggers_then_rests_as_limit);
    tcase_add_test(tc, trailing_sell_amount_ratchets_up_and_fires);
    tcase_add_test(tc, trailing_buy_bps_with_limit_offset);
    tcase_add_test(tc, trailing_limit_rests_once_triggered);
    tcase_add_test(tc, trailing_fields_are_validated);
    tcase_add_test(tc, tick_size_is_shared_in_priority);
    tcase_add_test(tc, slippage_rounds_against_the_trader);
    tcase_add_test(tc, fees_round_half_up_with_minimum);
    tcase_add_test(tc, average_price_rounds_half_even);
    tcase_add_test(tc, overflow_leaves_the_order_alone);
    tcase_add_test(tc, an_accounts_fee_model_replaces_the_settings);
    tcase_add_test(tc, fee_models_are_validated);
    tcase_add_test(tc, quotes_are_validated);
    tcase_add_test(tc, tick_order_classification);
    tcase_add_test(tc, pending_ticks_in_sequence);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
