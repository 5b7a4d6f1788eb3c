/* Alert rule evaluation of notifications (actors/notifications/notif_rules.c,
 * notif_throttle.c): rule checks and scope, conditions of each kind, the
 * crossing state machine with cooldown, drawdown from a peak, alert ids and
 * texts, the per-key throttle. Expected values are worked out by hand in the
 * comments. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "notif_rules.h"
#include "notif_throttle.h"

#define FX(units) ((tb_fixed)(units)*TB_FIXED_SCALE)
#define SEC       INT64_C(1000000000)

static notif_rule rule(notif_kind k, const char *account, const char *symbol, tb_fixed threshold) {
    notif_rule r;
    memset(&r, 0, sizeof r);
    snprintf(r.rule_id, sizeof r.rule_id, "rule-1");
    r.kind = k;
    snprintf(r.severity, sizeof r.severity, "warning");
    snprintf(r.account, sizeof r.account, "%s", account);
    snprintf(r.symbol, sizeof r.symbol, "%s", symbol);
    r.threshold = threshold;
    return r;
}

START_TEST(kind_names) {
    for (int k = 0; k < NOTIF_KIND_COUNT; k++) {
        notif_kind back;
        ck_assert(notif_kind_parse(notif_kind_name((notif_kind)k), &back));
        ck_assert_int_eq(back, k);
    }
    notif_kind k;
    ck_assert(!notif_kind_parse("price", &k));
    ck_assert(notif_kind_is_threshold(NOTIF_KIND_DRAWDOWN));
    ck_assert(!notif_kind_is_threshold(NOTIF_KIND_FILL));
    ck_assert(!notif_kind_is_threshold(NOTIF_KIND_RISK_REJECT));
}
END_TEST

static tb_status check(const char *kind, const char *symbol, tb_fixed th, tb_alert_rule *out) {
    tb_alert_rule r;
    memset(&r, 0, sizeof r);
    snprintf(r.kind, sizeof r.kind, "%s", kind);
    snprintf(r.symbol, sizeof r.symbol, "%s", symbol);
    r.threshold = th;
    tb_error err = {0};
    tb_status s = notif_rule_check(&r, &err);
    if (out) *out = r;
    return s;
}

START_TEST(rule_checks_and_defaults) {
    tb_alert_rule r;
    ck_assert_int_eq(check("fill", "", 0, &r), TB_OK);
    ck_assert_str_eq(r.severity, "info");
    ck_assert_int_eq(check("risk_reject", "", 0, &r), TB_OK);
    ck_assert_str_eq(r.severity, "warning");
    ck_assert_int_eq(check("drawdown", "", FX(1) / 10, &r), TB_OK);
    ck_assert_str_eq(r.severity, "critical");
    ck_assert_int_eq(check("position_limit", "", FX(100), &r), TB_OK);
    ck_assert_str_eq(r.severity, "warning");
    ck_assert_int_eq(check("price_above", "DAX", FX(16000), &r), TB_OK);
    ck_assert_str_eq(r.severity, "info");

    ck_assert_int_eq(check("fill", "", FX(1), NULL), TB_INVALID);
    ck_assert_int_eq(check("price_below", "", FX(1), NULL), TB_MISSING_FIELD);
    ck_assert_int_eq(check("price_below", "DAX", 0, NULL), TB_INVALID);
    ck_assert_int_eq(check("price_below", "DAX", -FX(1), NULL), TB_INVALID);
    ck_assert_int_eq(check("position_limit", "", 0, NULL), TB_INVALID);
    ck_assert_int_eq(check("drawdown", "", FX(1), NULL), TB_INVALID);
    ck_assert_int_eq(check("drawdown", "", 0, NULL), TB_INVALID);
    ck_assert_int_eq(check("drawdown", "DAX", FX(1) / 2, NULL), TB_INVALID);
    ck_assert_int_eq(check("volume", "", 0, NULL), TB_INVALID);

    /* an explicit severity is kept */
    memset(&r, 0, sizeof r);
    snprintf(r.kind, sizeof r.kind, "fill");
    snprintf(r.severity, sizeof r.severity, "critical");
    ck_assert_int_eq(notif_rule_check(&r, NULL), TB_OK);
    ck_assert_str_eq(r.severity, "critical");
}
END_TEST

START_TEST(scope) {
    notif_rule any = rule(NOTIF_KIND_FILL, "", "", 0);
    notif_rule acct = rule(NOTIF_KIND_FILL, "A1", "", 0);
    notif_rule both = rule(NOTIF_KIND_FILL, "A1", "DAX", 0);
    ck_assert(notif_rule_applies(&any, "A2", "X"));
    ck_assert(notif_rule_applies(&any, "", ""));
    ck_assert(notif_rule_applies(&acct, "A1", "X"));
    ck_assert(!notif_rule_applies(&acct, "A2", "X"));
    ck_assert(!notif_rule_applies(&acct, "", "X"));
    ck_assert(notif_rule_applies(&both, "A1", "DAX"));
    ck_assert(!notif_rule_applies(&both, "A1", "ESX"));
    ck_assert(!notif_rule_applies(&both, NULL, "DAX"));
}
END_TEST

START_TEST(tick_prices) {
    tb_tick t;
    tb_fixed p;
    memset(&t, 0, sizeof t);
    ck_assert(!notif_tick_price(&t, &p));
    t.bid = FX(10);
    ck_assert(notif_tick_price(&t, &p));
    ck_assert_int_eq(p, FX(10));
    t.bid = 0;
    t.ask = FX(11);
    ck_assert(notif_tick_price(&t, &p));
    ck_assert_int_eq(p, FX(11));
    /* mid of 1.00000001 and 1.00000002 is 1.000000015: half-even to ...02 */
    t.bid = 100000001;
    t.ask = 100000002;
    ck_assert(notif_tick_price(&t, &p));
    ck_assert_int_eq(p, 100000002);
    /* mid of 1.00000002 and 1.00000003 is 1.000000025: half-even to ...02 */
    t.bid = 100000002;
    t.ask = 100000003;
    ck_assert(notif_tick_price(&t, &p));
    ck_assert_int_eq(p, 100000002);
    t.last = FX(12);
    ck_assert(notif_tick_price(&t, &p));
    ck_assert_int_eq(p, FX(12));
}
END_TEST

START_TEST(conditions) {
    notif_rule above = rule(NOTIF_KIND_PRICE_ABOVE, "", "DAX", FX(100));
    notif_rule below = rule(NOTIF_KIND_PRICE_BELOW, "", "DAX", FX(100));
    ck_assert(notif_price_condition(&above, FX(100)));
    ck_assert(notif_price_condition(&above, FX(100) + 1));
    ck_assert(!notif_price_condition(&above, FX(100) - 1));
    ck_assert(notif_price_condition(&below, FX(100)));
    ck_assert(!notif_price_condition(&below, FX(100) + 1));
    ck_assert(notif_price_condition(&below, FX(99)));
    notif_rule pos = rule(NOTIF_KIND_POSITION_LIMIT, "", "", FX(50));
    ck_assert(!notif_position_condition(&pos, FX(50)));
    ck_assert(notif_position_condition(&pos, FX(50) + 1));
    ck_assert(notif_position_condition(&pos, -FX(51)));
    ck_assert(!notif_position_condition(&pos, -FX(50)));
    ck_assert(!notif_price_condition(&pos, FX(1000)));
    ck_assert(!notif_position_condition(&above, FX(1000)));
}
END_TEST

START_TEST(drawdown_from_peak) {
    tb_fixed peak, f;
    /* peak 100000, equity 87500: 12500 / 100000 = 0.125 */
    ck_assert_int_eq(notif_drawdown(true, FX(100000), FX(50000), FX(87500), &peak, &f), TB_OK);
    ck_assert_int_eq(peak, FX(100000));
    ck_assert_int_eq(f, 12500000);
    /* no peak yet: initial cash is the floor; 100 -> 90 is 0.1 */
    ck_assert_int_eq(notif_drawdown(false, 0, FX(100), FX(90), &peak, &f), TB_OK);
    ck_assert_int_eq(peak, FX(100));
    ck_assert_int_eq(f, 10000000);
    /* a new high moves the peak; no drawdown */
    ck_assert_int_eq(notif_drawdown(true, FX(100), FX(100), FX(120), &peak, &f), TB_OK);
    ck_assert_int_eq(peak, FX(120));
    ck_assert_int_eq(f, 0);
    /* 3 -> 2: 1/3 rounded down to 0.33333333 */
    ck_assert_int_eq(notif_drawdown(true, FX(3), 0, FX(2), &peak, &f), TB_OK);
    ck_assert_int_eq(f, 33333333);
    /* equity below zero: 100 -> -50 is a 150% drawdown */
    ck_assert_int_eq(notif_drawdown(true, FX(100), 0, -FX(50), &peak, &f), TB_OK);
    ck_assert_int_eq(f, 150000000);
    /* no positive peak: no drawdown */
    ck_assert_int_eq(notif_drawdown(false, 0, 0, -FX(10), &peak, &f), TB_OK);
    ck_assert_int_eq(peak, 0);
    ck_assert_int_eq(f, 0);
    notif_rule dd = rule(NOTIF_KIND_DRAWDOWN, "A1", "", 10000000);
    ck_assert(notif_drawdown_condition(&dd, 10000000));
    ck_assert(!notif_drawdown_condition(&dd, 9999999));
}
END_TEST

static void same_state(const notif_cross *a, const notif_cross *b) {
    ck_assert_int_eq(a->known, b->known);
    ck_assert_int_eq(a->ts, b->ts);
    ck_assert_uint_eq(a->seq, b->seq);
    ck_assert_int_eq(a->cond, b->cond);
    ck_assert_int_eq(a->fired_ns, b->fired_ns);
    ck_assert_int_eq(a->has_peak, b->has_peak);
    ck_assert_int_eq(a->peak, b->peak);
}

START_TEST(crossing_fires_on_transitions_only) {
    notif_cross st = {0}, next;
    /* first observation below: recorded, silent */
    ck_assert_int_eq(notif_cross_step(&st, 10, 1, false, 100 * SEC, 0, &next), NOTIF_STEP_NONE);
    ck_assert(next.known && !next.cond);
    st = next;
    /* turns true: fires */
    ck_assert_int_eq(notif_cross_step(&st, 11, 2, true, 101 * SEC, 0, &next), NOTIF_STEP_FIRE);
    ck_assert_int_eq(next.fired_ns, 101 * SEC);
    st = next;
    /* stays true: silent */
    ck_assert_int_eq(notif_cross_step(&st, 12, 3, true, 102 * SEC, 0, &next), NOTIF_STEP_NONE);
    st = next;
    /* an older observation is stale and changes nothing */
    ck_assert_int_eq(notif_cross_step(&st, 11, 9, false, 103 * SEC, 0, &next), NOTIF_STEP_STALE);
    same_state(&next, &st);
    /* the same (ts, seq) again is stale; same ts, later seq is not */
    ck_assert_int_eq(notif_cross_step(&st, 12, 3, false, 103 * SEC, 0, &next), NOTIF_STEP_STALE);
    ck_assert_int_eq(notif_cross_step(&st, 12, 4, false, 103 * SEC, 0, &next), NOTIF_STEP_NONE);
    st = next;
    ck_assert_int_eq(notif_cross_step(&st, 13, 5, true, 104 * SEC, 0, &next), NOTIF_STEP_FIRE);
    /* nothing known and true: fires (the rule's first evaluation finds it met) */
    notif_cross none = {0};
    ck_assert_int_eq(notif_cross_step(&none, 1, 1, true, 1, 0, &next), NOTIF_STEP_FIRE);
}
END_TEST

START_TEST(crossing_over_a_price_series) {
    /* price_above 100 over 99 101 102 99 100 98 101: fires on 101 (up from
     * 99), on 100 (up from 99) and on the last 101 (up from 98) = 3 alerts */
    notif_rule r = rule(NOTIF_KIND_PRICE_ABOVE, "", "DAX", FX(100));
    const int prices[] = {99, 101, 102, 99, 100, 98, 101};
    const bool fires[] = {false, true, false, false, true, false, true};
    notif_cross st = {0}, next;
    for (size_t i = 0; i < sizeof prices / sizeof prices[0]; i++) {
        notif_step s =
            notif_cross_step(&st, (int64_t)i + 1, i + 1, notif_price_condition(&r, FX(prices[i])),
                             1000 * SEC, 0, &next);
        ck_assert_msg((s == NOTIF_STEP_FIRE) == fires[i], "tick %zu", i);
        st = next;
    }
}
END_TEST

START_TEST(cooldown_silences_quick_repeats) {
    notif_cross st = {0}, next;
    ck_assert_int_eq(notif_cross_step(&st, 1, 0, true, 100 * SEC, 60, &next), NOTIF_STEP_FIRE);
    st = next;
    ck_assert_int_eq(notif_cross_step(&st, 2, 0, false, 110 * SEC, 60, &next), NOTIF_STEP_NONE);
    st = next;
    /* 30 s after the alert: within the 60 s cooldown */
    ck_assert_int_eq(notif_cross_step(&st, 3, 0, true, 130 * SEC, 60, &next), NOTIF_STEP_COOLDOWN);
    ck_assert(next.cond);
    ck_assert_int_eq(next.fired_ns, 100 * SEC);
    st = next;
    /* still true after the cooldown: no new crossing, no alert */
    ck_assert_int_eq(notif_cross_step(&st, 4, 0, true, 170 * SEC, 60, &next), NOTIF_STEP_NONE);
    st = next;
    ck_assert_int_eq(notif_cross_step(&st, 5, 0, false, 171 * SEC, 60, &next), NOTIF_STEP_NONE);
    st = next;
    /* 71 s after the alert: fires */
    ck_assert_int_eq(notif_cross_step(&st, 6, 0, true, 161 * SEC + 10 * SEC, 60, &next),
                     NOTIF_STEP_FIRE);
    ck_assert_int_eq(next.fired_ns, 171 * SEC);
}
END_TEST

START_TEST(state_round_trip) {
    notif_cross c = {.known = true,
                     .ts = 1700000000123456789,
                     .seq = 18446744073709551615ull,
                     .cond = true,
                     .fired_ns = 1700000000000000000,
                     .has_peak = true,
                     .peak = 12345678901234};
    char buf[NOTIF_CROSS_STRLEN];
    notif_cross_format(&c, buf);
    ck_assert_str_eq(buf, "1 1700000000123456789 18446744073709551615 1 1700000000000000000 "
                          "123456.78901234");
    notif_cross back;
    ck_assert_int_eq(notif_cross_parse(buf, &back), TB_OK);
    same_state(&back, &c);
    notif_cross np = {.known = true, .ts = -5, .seq = 0, .cond = false};
    notif_cross_format(&np, buf);
    ck_assert_str_eq(buf, "1 -5 0 0 0 -");
    ck_assert_int_eq(notif_cross_parse(buf, &back), TB_OK);
    same_state(&back, &np);
    ck_assert_int_eq(notif_cross_parse("", &back), TB_OK);
    ck_assert(!back.known);
    ck_assert_int_eq(notif_cross_parse(NULL, &back), TB_OK);
    const char *bad[] = {"2 1 1 1 1 -",
                         "1 1 1 2 1 -",
                         "1 x 1 1 1 -",
                         "1 1 1 1 1",
                         "1 1 1 1 1 abc",
                         "1 1 -1 1 1 -",
                         "1 99999999999999999999 1 1 1 -",
                         "garbage"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(notif_cross_parse(bad[i], &back) == TB_INVALID, "%s", bad[i]);
}
END_TEST

START_TEST(alert_ids_are_deterministic_ids) {
    char id[TB_ID_CAP];
    notif_alert_id("rule-1", "F-42", id);
    ck_assert_str_eq(id, "rule-1-F-42");
    /* too long: "<rule>-h" + the first 53 hex digits of SHA-256(key), as
     * computed by Python's hashlib for 'A.1700000000000000000.5' * 5 */
    char key[200] = "";
    for (int i = 0; i < 5; i++) strcat(key, "A.1700000000000000000.5");
    notif_alert_id("rule-abc", key, id);
    ck_assert_str_eq(id, "rule-abc-h65caa2037dc1f496beb86c4bf4c99a377372fa6311cbd5c3f6064");
    ck_assert_uint_eq(strlen(id), 63);
    char again[TB_ID_CAP];
    notif_alert_id("rule-abc", key, again);
    ck_assert_str_eq(id, again);
    /* a key that is not an ID (space) is hashed too */
    notif_alert_id("r", "a b", id);
    ck_assert(strncmp(id, "r-h", 3) == 0);
    ck_assert_ptr_null(strchr(id, ' '));
}
END_TEST

START_TEST(alerts_and_texts) {
    notif_rule r = rule(NOTIF_KIND_PRICE_ABOVE, "", "DAX", FX(16000));
    char msg[TB_TEXT_CAP];
    notif_msg_price(&r, "DAX", 1600050000000, msg, sizeof msg);
    ck_assert_str_eq(msg, "DAX at 16000.5, at or above 16000");
    tb_alert al;
    notif_alert_make(&r, "DAX.5.1", "", "DAX", 5, msg, &al);
    ck_assert_str_eq(al.alert_id, "rule-1-DAX.5.1");
    ck_assert_str_eq(al.kind, "price_above");
    ck_assert_str_eq(al.severity, "warning");
    ck_assert_str_eq(al.symbol, "DAX");
    ck_assert_str_eq(al.account, "");
    ck_assert_int_eq(al.ts, 5);
    ck_assert_int_eq(tb_validate(&tb_alert_desc, &al, NULL), TB_OK);

    tb_fill f;
    memset(&f, 0, sizeof f);
    snprintf(f.account, sizeof f.account, "A1");
    snprintf(f.symbol, sizeof f.symbol, "DAX");
    snprintf(f.side, sizeof f.side, "buy");
    snprintf(f.order_id, sizeof f.order_id, "O-1");
    f.qty = FX(2);
    f.price = 1600025000000;
    notif_msg_fill(&f, msg, sizeof msg);
    ck_assert_str_eq(msg, "A1: buy 2 DAX @ 16000.25 (order O-1)");

    notif_rule dd = rule(NOTIF_KIND_DRAWDOWN, "A1", "", 10000000);
    notif_msg_drawdown(&dd, "A1", 12500000, FX(87500), FX(100000), msg, sizeof msg);
    ck_assert_str_eq(msg,
                     "A1: drawdown 12.5% (equity 87500, peak 100000) reached the 10% threshold");

    notif_rule pl = rule(NOTIF_KIND_POSITION_LIMIT, "A1", "", FX(100));
    notif_msg_position(&pl, "A1", "DAX", -FX(150), msg, sizeof msg);
    ck_assert_str_eq(msg, "A1: position in DAX is -150, beyond the limit of 100");

    tb_risk_decision d;
    memset(&d, 0, sizeof d);
    snprintf(d.account, sizeof d.account, "A1");
    snprintf(d.symbol, sizeof d.symbol, "DAX");
    snprintf(d.source, sizeof d.source, "api");
    snprintf(d.reasons, sizeof d.reasons, "max_order_qty");
    notif_msg_reject(&d, msg, sizeof msg);
    ck_assert_str_eq(msg, "A1: api order for DAX rejected by risk checks: max_order_qty");
}
END_TEST

static notif_obs obs(const char *key, int64_t ts, uint64_t seq, tb_fixed v) {
    notif_obs o;
    memset(&o, 0, sizeof o);
    snprintf(o.key, sizeof o.key, "%s", key);
    o.ts = ts;
    o.seq = seq;
    o.value = v;
    return o;
}

START_TEST(throttle_keeps_the_latest_for_later) {
    notif_throttle *t = notif_throttle_create(100, 16);
    ck_assert_ptr_nonnull(t);
    notif_obs a = obs("DAX", 1, 1, 10), b = obs("DAX", 2, 2, 11), c = obs("DAX", 3, 3, 12);
    notif_obs out[4];
    ck_assert(notif_throttle_offer(t, &a, 1000));  /* first: at once */
    ck_assert(!notif_throttle_offer(t, &b, 1010)); /* inside the window: pending */
    ck_assert(!notif_throttle_offer(t, &c, 1020)); /* replaces b */
    ck_assert(!notif_throttle_offer(t, &a, 1030)); /* older than c: dropped */
    ck_assert(notif_throttle_offer(t, &(notif_obs){.key = "ESX", .ts = 1}, 1030)); /* own window */
    ck_assert_uint_eq(notif_throttle_take_due(t, 1099, out, 4), 0);
    ck_assert_uint_eq(notif_throttle_take_due(t, 1100, out, 4), 1);
    ck_assert_str_eq(out[0].key, "DAX");
    ck_assert_int_eq(out[0].ts, 3);
    ck_assert_int_eq(out[0].value, 12);
    ck_assert_uint_eq(notif_throttle_take_due(t, 5000, out, 4), 0); /* nothing left */
    /* the take restarted the window at 1100 */
    notif_obs d = obs("DAX", 4, 4, 13);
    ck_assert(!notif_throttle_offer(t, &d, 1150));
    ck_assert(notif_throttle_offer(t, &(notif_obs){.key = "DAX", .ts = 5, .seq = 5}, 1200));
    /* d was older than the observation evaluated at 1200: dropped */
    ck_assert_uint_eq(notif_throttle_take_due(t, 9999, out, 4), 0);
    notif_throttle_destroy(t);

    notif_throttle *every = notif_throttle_create(0, 16);
    ck_assert(notif_throttle_offer(every, &a, 1));
    ck_assert(notif_throttle_offer(every, &b, 1));
    notif_throttle_destroy(every);

    /* a full table evaluates unknown keys every time */
    notif_throttle *one = notif_throttle_create(100, 1);
    ck_assert(notif_throttle_offer(one, &a, 1000));
    ck_assert(!notif_throttle_offer(one, &b, 1001));
    notif_obs e = obs("ESX", 1, 1, 1);
    ck_assert(notif_throttle_offer(one, &e, 1002));
    ck_assert(notif_throttle_offer(one, &e, 1003));
    notif_throttle_destroy(one);
    notif_throttle_destroy(NULL);
}
END_TEST

int main(void) {
    Suite *s = suite_create("notif_rules");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, kind_names);
    tcase_add_test(tc, rule_checks_and_defaults);
    tcase_add_test(tc, scope);
    tcase_add_test(tc, tick_prices);
    tcase_add_test(tc, conditions);
    tcase_add_test(tc, drawdown_from_peak);
    tcase_add_test(tc, crossing_fires_on_transitions_only);
    tcase_add_test(tc, crossing_over_a_price_series);
    tcase_add_test(tc, cooldown_silences_quick_repeats);
    tcase_add_test(tc, state_round_trip);
    tcase_add_test(tc, alert_ids_are_deterministic_ids);
    tcase_add_test(tc, alerts_and_texts);
    tcase_add_test(tc, throttle_keeps_the_latest_for_later);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
