/* Intents from API requests and signals, retry comparison and the events
 * made from intents (actors/risk-management/risk_intent.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "risk_intent.h"

#define FX(units) ((tb_fixed)(units)*TB_FIXED_SCALE)

static tb_signal signal_of(const char *sizing, const char *side, tb_fixed qty, tb_fixed target) {
    tb_signal s;
    memset(&s, 0, sizeof s);
    snprintf(s.signal_id, sizeof s.signal_id, "sma-DAX-42");
    snprintf(s.strategy_id, sizeof s.strategy_id, "sma");
    snprintf(s.account, sizeof s.account, "ACC");
    snprintf(s.symbol, sizeof s.symbol, "DAX");
    snprintf(s.side, sizeof s.side, "%s", side);
    snprintf(s.sizing, sizeof s.sizing, "%s", sizing);
    s.qty = qty;
    s.target = target;
    s.ref_price = FX(100);
    s.tick_seq = 42;
    s.ts = 1;
    return s;
}

START_TEST(request_defaults_tif) {
    tb_order_request r;
    memset(&r, 0, sizeof r);
    snprintf(r.account, sizeof r.account, "ACC");
    snprintf(r.symbol, sizeof r.symbol, "DAX");
    snprintf(r.side, sizeof r.side, "sell");
    snprintf(r.type, sizeof r.type, "limit");
    snprintf(r.client_order_id, sizeof r.client_order_id, "c-1");
    r.qty = FX(2);
    r.limit_price = FX(101);
    r.reduce_only = true;
    risk_intent in;
    risk_intent_from_request(&r, &in);
    ck_assert_str_eq(in.tif, "day");
    ck_assert_str_eq(in.source, "api");
    ck_assert_str_eq(in.client_order_id, "c-1");
    ck_assert_int_eq(in.limit_price, FX(101));
    ck_assert(in.reduce_only);
    ck_assert_str_eq(in.signal_id, "");
    snprintf(r.tif, sizeof r.tif, "gtc");
    risk_intent_from_request(&r, &in);
    ck_assert_str_eq(in.tif, "gtc");
}
END_TEST

/* A market order from a signal fills at the next tick the signal carries;
 * a signal without one fills at its own tick. */
START_TEST(signal_fill_reference) {
    tb_signal s = signal_of("fixed", "buy", FX(1), 0);
    risk_intent in;
    tb_error err = {0};
    ck_assert_int_eq(risk_intent_from_signal(&s, 0, &in, &err), RISK_SIGNAL_ORDER);
    ck_assert_int_eq(in.ref_price, FX(100));
    ck_assert_int_eq(in.ref_ts, 1);
    s.fill_price = FX(103);
    s.fill_ts = 7;
    s.fill_seq = 43;
    ck_assert_int_eq(risk_intent_from_signal(&s, 0, &in, &err), RISK_SIGNAL_ORDER);
    ck_assert_int_eq(in.ref_price, FX(103));
    ck_assert_int_eq(in.ref_ts, 7);
}
END_TEST

START_TEST(signal_fixed) {
    tb_signal s = signal_of("fixed", "sell", FX(3), 0);
    risk_intent in;
    tb_error err = {0};
    ck_assert_int_eq(risk_intent_from_signal(&s, FX(1000), &in, &err), RISK_SIGNAL_ORDER);
    ck_assert_str_eq(in.side, "sell");
    ck_assert_int_eq(in.qty, FX(3)); /* the position does not matter */
    ck_assert_str_eq(in.type, "market");
    ck_assert_str_eq(in.tif, "day");
    ck_assert_str_eq(in.source, "signal");
    ck_assert_str_eq(in.strategy_id, "sma");
    ck_assert_str_eq(in.signal_id, "sma-DAX-42");
    ck_assert_str_eq(in.client_order_id, "");
}
END_TEST

START_TEST(signal_target) {
    risk_intent in;
    tb_error err = {0};
    /* target 10, position 4: buy 6 (the signal's side is not used) */
    tb_signal s = signal_of("target", "sell", 0, FX(10));
    ck_assert_int_eq(risk_intent_from_signal(&s, FX(4), &in, &err), RISK_SIGNAL_ORDER);
    ck_assert_str_eq(in.side, "buy");
    ck_assert_int_eq(in.qty, FX(6));
    /* target -2.5, position 4: sell 6.5 */
    s.target = -FX(5) / 2;
    ck_assert_int_eq(risk_intent_from_signal(&s, FX(4), &in, &err), RISK_SIGNAL_ORDER);
    ck_assert_str_eq(in.side, "sell");
    ck_assert_int_eq(in.qty, FX(13) / 2);
    /* at target: nothing */
    s.target = FX(4);
    ck_assert_int_eq(risk_intent_from_signal(&s, FX(4), &in, &err), RISK_SIGNAL_NOTHING);
    /* overflow is an invalid signal, not a wrapped order */
    s.target = TB_FIXED_MAX;
    ck_assert_int_eq(risk_intent_from_signal(&s, -FX(1), &in, &err), RISK_SIGNAL_INVALID);
    ck_assert_str_eq(err.field, "target");
}
END_TEST

START_TEST(same_order) {
    tb_order_request r;
    memset(&r, 0, sizeof r);
    snprintf(r.account, sizeof r.account, "ACC");
    snprintf(r.symbol, sizeof r.symbol, "DAX");
    snprintf(r.side, sizeof r.side, "buy");
    snprintf(r.type, sizeof r.type, "stop_limit");
    r.qty = FX(1);
    r.limit_price = FX(10);
    r.stop_price = FX(9);
    snprintf(r.client_order_id, sizeof r.client_order_id, "c");
    risk_intent in;
    risk_intent_from_request(&r, &in);
    tb_order_record rec;
    risk_order_record(&in, "o-1", 1000, &rec);
    ck_assert(risk_same_order(&rec, false, &in));
    ck_assert(!risk_same_order(&rec, true, &in)); /* reduce_only differs */
    tb_order_record other = rec;
    other.qty += 1;
    ck_assert(!risk_same_order(&other, false, &in));
    other = rec;
    other.stop_price = 0;
    ck_assert(!risk_same_order(&other, false, &in));
    other = rec;
    snprintf(other.tif, sizeof other.tif, "gtc");
    ck_assert(!risk_same_order(&other, false, &in));
    other = rec;
    snprintf(other.side, sizeof other.side, "sell");
    ck_assert(!risk_same_order(&other, false, &in));
    /* status and fills of the original do not matter */
    other = rec;
    snprintf(other.status, sizeof other.status, "filled");
    other.filled_qty = FX(1);
    ck_assert(risk_same_order(&other, false, &in));
}
END_TEST

START_TEST(events) {
    tb_signal s = signal_of("fixed", "buy", FX(2), 0);
    risk_intent in;
    tb_error err = {0};
    ck_assert_int_eq(risk_intent_from_signal(&s, 0, &in, &err), RISK_SIGNAL_ORDER);
    tb_order o;
    risk_order_event(&in, "o-9", 123000, &o);
    ck_assert_str_eq(o.order_id, "o-9");
    ck_assert_str_eq(o.strategy_id, "sma");
    ck_assert_int_eq(o.ts, 123000);
    ck_assert_int_eq(tb_validate(&tb_order_desc, &o, &err), TB_OK);
    tb_order_record rec;
    risk_order_record(&in, "o-9", 123000, &rec);
    ck_assert_str_eq(rec.status, "new");
    ck_assert_int_eq(tb_validate(&tb_order_record_desc, &rec, &err), TB_OK);

    risk_verdict v = {0};
    tb_risk_decision d;
    risk_decision_event(&in, &v, "d-1", "o-9", 5, &d);
    ck_assert(d.approved);
    ck_assert_str_eq(d.reasons, "");
    ck_assert_str_eq(d.signal_id, "sma-DAX-42");
    ck_assert_str_eq(d.source, "signal");
    ck_assert_int_eq(tb_validate(&tb_risk_decision_desc, &d, &err), TB_OK);
    risk_verdict_add(&v, RISK_MAX_POSITION, NULL, "too big");
    risk_verdict_add(&v, RISK_NO_QUOTE, NULL, "no quote");
    risk_verdict_add(&v, RISK_NO_QUOTE, NULL, "again"); /* reported once */
    risk_decision_event(&in, &v, "d-2", NULL, 5, &d);
    ck_assert(!d.approved);
    ck_assert_str_eq(d.reasons, "max_position,no_quote");
    ck_assert_str_eq(d.order_id, "");
    ck_assert_int_eq(tb_validate(&tb_risk_decision_desc, &d, &err), TB_OK);
}
END_TEST

int main(void) {
    Suite *s = suite_create("risk_intent");
    TCase *tc = tcase_create("intent");
    tcase_add_test(tc, request_defaults_tif);
    tcase_add_test(tc, signal_fill_reference);
    tcase_add_test(tc, signal_fixed);
    tcase_add_test(tc, signal_target);
    tcase_add_test(tc, same_order);
    tcase_add_test(tc, events);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
