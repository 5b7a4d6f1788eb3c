/* trading-execution's order state machine: the transition table (every
 * pair, written out here independently of the implementation), quantity
 * checks on transitions, versions, names, and order validation. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_domain.h"

#define N EXEC_STATUS_COUNT
enum { NEW, ACC, PART, FILL, CANC, REJ, EXP };

/* The legal steps, one line per source state. */
static const char *const legal[] = {
    "new->accepted",
    "new->rejected",
    "new->canceled",
    "accepted->partially_filled",
    "accepted->filled",
    "accepted->canceled",
    "accepted->expired",
    "partially_filled->partially_filled",
    "partially_filled->filled",
    "partially_filled->canceled",
    "partially_filled->expired",
};

static bool is_legal(exec_status a, exec_status b) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s->%s", exec_status_name(a), exec_status_name(b));
    for (size_t i = 0; i < sizeof legal / sizeof legal[0]; i++)
        if (strcmp(buf, legal[i]) == 0) return true;
    return false;
}

static exec_order order_in(exec_status st, tb_fixed qty, tb_fixed filled) {
    return (exec_order){.side = EXEC_BUY,
                        .type = EXEC_MARKET,
                        .tif = EXEC_GTC,
                        .qty = qty,
                        .filled_qty = filled,
                        .avg_price = filled ? 100 : 0,
                        .status = st,
                        .version = 3};
}

START_TEST(table_matches_every_pair) {
    int n_legal = 0;
    for (int a = 0; a < N; a++)
        for (int b = 0; b < N; b++) {
            bool want = is_legal((exec_status)a, (exec_status)b);
            ck_assert_msg(exec_transition_allowed((exec_status)a, (exec_status)b) == want,
                          "%s -> %s", exec_status_name((exec_status)a),
                          exec_status_name((exec_status)b));
            n_legal += want;
        }
    ck_assert_int_eq(n_legal, 11);
    /* out of range values are never legal */
    ck_assert(!exec_transition_allowed((exec_status)N, EXEC_ACCEPTED));
    ck_assert(!exec_transition_allowed(EXEC_NEW, (exec_status)-1));
}
END_TEST

START_TEST(terminal_states_refuse_everything) {
    exec_status terminal[] = {EXEC_FILLED, EXEC_CANCELED, EXEC_REJECTED, EXEC_EXPIRED};
    for (size_t i = 0; i < 4; i++) {
        ck_assert(exec_status_is_terminal(terminal[i]));
        ck_assert(!exec_status_is_open(terminal[i]));
        for (int b = 0; b < N; b++) {
            exec_order o = order_in(terminal[i], 100, terminal[i] == EXEC_FILLED ? 100 : 0);
            exec_order before = o;
            tb_error err = {0};
            ck_assert_int_eq(exec_order_transition(&o, (exec_status)b, &err), TB_CONFLICT);
            ck_assert_str_eq(err.field, "status");
            ck_assert_mem_eq(&o, &before, sizeof o); /* untouched */
        }
    }
    ck_assert(exec_status_is_open(EXEC_NEW) && exec_status_is_open(EXEC_ACCEPTED) &&
              exec_status_is_open(EXEC_PARTIALLY_FILLED));
}
END_TEST

START_TEST(quantities_must_fit_the_target) {
    tb_error err = {0};
    exec_order o = order_in(EXEC_ACCEPTED, 100, 0);
    /* filled needs everything filled, partially needs some */
    ck_assert_int_eq(exec_order_transition(&o, EXEC_FILLED, &err), TB_CONFLICT);
    ck_assert_str_eq(err.field, "filled_qty");
    ck_assert_int_eq(exec_order_transition(&o, EXEC_PARTIALLY_FILLED, &err), TB_CONFLICT);
    o.filled_qty = 40;
    o.avg_price = 7;
    ck_assert_int_eq(exec_order_transition(&o, EXEC_PARTIALLY_FILLED, &err), TB_OK);
    ck_assert_int_eq(o.version, 4);
    ck_assert_int_eq(exec_order_transition(&o, EXEC_PARTIALLY_FILLED, &err), TB_OK);
    ck_assert_int_eq(o.version, 5);
    ck_assert_int_eq(exec_order_transition(&o, EXEC_FILLED, &err), TB_CONFLICT);
    o.filled_qty = 100;
    ck_assert_int_eq(exec_order_transition(&o, EXEC_PARTIALLY_FILLED, &err), TB_CONFLICT);
    ck_assert_int_eq(exec_order_transition(&o, EXEC_FILLED, &err), TB_OK);
    ck_assert_int_eq(o.status, EXEC_FILLED);
    ck_assert_int_eq(o.version, 6);
    /* accepting needs nothing filled */
    exec_order n = order_in(EXEC_NEW, 100, 10);
    ck_assert_int_eq(exec_order_transition(&n, EXEC_ACCEPTED, &err), TB_CONFLICT);
    /* a partially filled order can still be canceled or expire */
    exec_order p = order_in(EXEC_PARTIALLY_FILLED, 100, 10);
    ck_assert_int_eq(exec_order_transition(&p, EXEC_CANCELED, &err), TB_OK);
    p = order_in(EXEC_PARTIALLY_FILLED, 100, 10);
    ck_assert_int_eq(exec_order_transition(&p, EXEC_EXPIRED, &err), TB_OK);
    /* new can be canceled (cancel processed before the order) but not filled */
    exec_order q = order_in(EXEC_NEW, 100, 0);
    ck_assert_int_eq(exec_order_transition(&q, EXEC_EXPIRED, &err), TB_CONFLICT);
    ck_assert_int_eq(exec_order_transition(&q, EXEC_CANCELED, &err), TB_OK);
}
END_TEST

START_TEST(names_round_trip) {
    const char *st[] = {"new",      "accepted", "partially_filled", "filled",
                        "canceled", "rejected", "expired"};
    for (int i = 0; i < N; i++) {
        exec_status s;
        ck_assert_str_eq(exec_status_name((exec_status)i), st[i]);
        ck_assert(exec_status_parse(st[i], &s));
        ck_assert_int_eq(s, i);
    }
    exec_status s;
    ck_assert(!exec_status_parse("Filled", &s));
    ck_assert(!exec_status_parse("", &s));
    ck_assert(!exec_status_parse(NULL, &s));
    exec_type t;
    ck_assert(exec_type_parse("stop_limit", &t) && t == EXEC_STOP_LIMIT);
    ck_assert(!exec_type_parse("stop-limit", &t));
    exec_tif f;
    ck_assert(exec_tif_parse("fok", &f) && f == EXEC_FOK);
    ck_assert(exec_tif_parse("gtd", &f) && f == EXEC_GTD);
    ck_assert(!exec_tif_parse("gtt", &f));
    exec_side sd;
    ck_assert(exec_side_parse("sell", &sd) && sd == EXEC_SELL);
    exec_trigger tr;
    ck_assert(exec_trigger_parse("touch", &tr) && tr == EXEC_TRIGGER_TOUCH);
    ck_assert(!exec_trigger_parse("bid", &tr));
    ck_assert_str_eq(exec_liquidity_name(EXEC_MAKER), "maker");
    ck_assert_str_eq(exec_liquidity_name(EXEC_LIQ_NONE), "");
}
END_TEST

START_TEST(validate_checks_prices_by_type) {
    tb_error err = {0};
    exec_order o = {.type = EXEC_LIMIT, .qty = 100, .limit_price = 5};
    ck_assert_int_eq(exec_order_validate(&o, &err), TB_OK);
    o.limit_price = 0;
    ck_assert_int_eq(exec_order_validate(&o, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "limit_price");
    o = (exec_order){.type = EXEC_MARKET, .qty = 100, .limit_price = 5};
    ck_assert_int_eq(exec_order_validate(&o, &err), TB_INVALID);
    o = (exec_order){.type = EXEC_STOP, .qty = 100};
    ck_assert_int_eq(exec_order_validate(&o, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "stop_price");
    o = (exec_order){.type = EXEC_STOP_LIMIT, .qty = 100, .stop_price = 4, .limit_price = 5};
    ck_assert_int_eq(exec_order_validate(&o, &err), TB_OK);
    o = (exec_order){.type = EXEC_MARKET, .qty = 0};
    ck_assert_int_eq(exec_order_validate(&o, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "qty");
    o = (exec_order){.type = EXEC_MARKET, .qty = 10, .filled_qty = 11, .avg_price = 1};
    ck_assert_int_eq(exec_order_validate(&o, &err), TB_INVALID);
    o = (exec_order){.type = EXEC_MARKET, .qty = 10, .filled_qty = 5};
    ck_assert_int_eq(exec_order_validate(&o, &err), TB_INVALID);
    ck_assert_str_eq(err.field, "avg_price");
}
END_TEST

int main(void) {
    Suite *s = suite_create("exec_state");
    TCase *tc = tcase_create("state");
    tcase_add_test(tc, table_matches_every_pair);
    tcase_add_test(tc, terminal_states_refuse_everything);
    tcase_add_test(tc, quantities_must_fit_the_target);
    tcase_add_test(tc, names_round_trip);
    tcase_add_test(tc, validate_checks_prices_by_type);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
