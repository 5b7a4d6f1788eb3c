/* Stateless workers (DESIGN §4): the same orders and the same ordered tick
 * stream (sent with small gaps) give the same fills, order states and
 * average prices with three tb-trading-execution workers as with one. The
 * orders mix every type and time in force; tick sizes are small so orders
 * fill partially over many ticks, in time priority. */
#include "test_exec_common.h"

#define N_TICKS     60
#define TICK_GAP_US 5000

static const xt_order book[] = {
    {"buy", "limit", "gtc", "5", "99.9", NULL, NULL},
    {"sell", "limit", "gtc", "5", "100.1", NULL, NULL},
    {"buy", "market", "gtc", "3", NULL, NULL, NULL},
    {"sell", "market", "day", "2", NULL, NULL, NULL},
    {"buy", "stop", "gtc", "4", NULL, "100.6", NULL},
    {"sell", "stop", "gtc", "4", NULL, "99.4", NULL},
    {"buy", "stop_limit", "gtc", "3", "100.7", "100.5", NULL},
    {"buy", "limit", "ioc", "10", "100.2", NULL, NULL},
    {"sell", "limit", "fok", "2", "99.5", NULL, NULL},
    {"buy", "limit", "day", "7", "100", NULL, NULL},
    {"sell", "limit", "gtc", "8", "100.2", NULL, NULL},
    {"buy", "market", "gtc", "20", NULL, NULL, NULL},
    {"sell", "stop_limit", "day", "6", "99.2", "99.6", NULL},
    /* never fills: keeps the book open so every tick is matched */
    {"buy", "limit", "gtc", "1", "1", NULL, NULL},
};
#define N_ORDERS (sizeof book / sizeof book[0])

/* A deterministic walk around 100 with a 0.1 spread and sizes 1..4. */
static void tick_at(int i, char bid[32], char ask[32], char last[32], char bsz[8], char asz[8]) {
    static const int steps[] = {0, 1, 2, 1, -1, -2, -3, -2, 0,  2,
                                4, 6, 5, 3, 1,  -1, -3, -5, -6, -4};
    int cents = steps[i % 20] * 10 + ((i / 20) % 2 ? 5 : 0); /* hundredths above 100 */
    tb_fixed mid = F("100") + (tb_fixed)cents * 1000000;
    tb_fixed_format(mid - 5000000, bid);
    tb_fixed_format(mid + 5000000, ask);
    tb_fixed_format(mid, last);
    snprintf(bsz, 8, "%d", 1 + (i * 7) % 4);
    snprintf(asz, 8, "%d", 1 + (i * 5) % 4);
}

typedef struct outcome {
    char text[8192];
} outcome;

static char *order_summary(const char *id) {
    const char *p[1] = {id};
    return xt_sql(
        "SELECT o.status || ' ' || o.filled_qty::text || ' ' || COALESCE(o.avg_price::text, '-') "
        "|| ' v' || o.version || COALESCE((SELECT ' | ' || string_agg(substr(f.fill_id, "
        "length(o.order_id) + 2) || ':' || f.qty::text || '@' || f.price::text || ' fee ' || "
        "f.fee::text || ' ' || f.liquidity, ', ' ORDER BY f.fill_id) FROM fills f WHERE "
        "f.order_id = o.order_id), '') FROM orders o WHERE o.order_id = $1",
        1, p);
}

typedef struct seq_want {
    const char *sym;
    const char *seq;
} seq_want;
static bool seq_reached(void *arg) {
    seq_want *w = arg;
    const char *p[1] = {w->sym};
    char *s = xt_sql("SELECT last_seq::text FROM exec_symbol_state WHERE symbol = $1", 1, p);
    bool ok = s && strcmp(s, w->seq) == 0;
    free(s);
    return ok;
}

static bool none_new(void *arg) {
    const char *acct = arg;
    const char *p[1] = {acct};
    char *s = xt_sql("SELECT count(*) FROM orders WHERE account = $1 AND status = 'new'", 1, p);
    bool ok = s && strcmp(s, "0") == 0;
    free(s);
    return ok;
}

/* Runs the scenario against `workers` fresh workers; fills out[]. */
static void run(int workers, outcome *out, int *nfills) {
    char acct[40], sym[40];
    tb_test_unique(acct, sizeof acct, "XW");
    tb_test_unique(sym, sizeof sym, "XK");
    xt_account(acct);
    pid_t pids[3];
    static char *env[] = {"EXEC_SLIPPAGE_BPS=3", "EXEC_FEE_BPS=7", "EXEC_FEE_MIN=0.05", NULL};
    for (int w = 0; w < workers; w++) pids[w] = xt_worker(env);
    xt_wait_ready(workers);

    char ids[N_ORDERS][64];
    for (size_t i = 0; i < N_ORDERS; i++) {
        snprintf(ids[i], sizeof ids[i], "%s-%02zu", acct, i);
        xt_submit(acct, sym, ids[i], &book[i]);
    }
    ck_assert_msg(tb_test_wait(none_new, acct, 15000), "orders not accepted (log %s)", xt_log);
    for (int i = 0; i < N_TICKS; i++) {
        char bid[32], ask[32], last[32], bsz[8], asz[8];
        tick_at(i, bid, ask, last, bsz, asz);
        xt_tick_pub(sym, (uint64_t)i + 1, &(xt_tick){bid, ask, last, bsz, asz, NULL});
        usleep(TICK_GAP_US);
    }
    char seq[16];
    snprintf(seq, sizeof seq, "%d", N_TICKS);
    seq_want w = {sym, seq};
    ck_assert_msg(tb_test_wait(seq_reached, &w, 20000), "last tick not matched (log %s)", xt_log);
    for (int k = 0; k < workers; k++) xt_stop(pids[k]);

    *nfills = 0;
    for (size_t i = 0; i < N_ORDERS; i++) {
        char *s = order_summary(ids[i]);
        snprintf(out[i].text, sizeof out[i].text, "%s", s);
        free(s);
        *nfills += xt_fill_count(ids[i]);
    }
}

START_TEST(three_workers_fill_like_one) {
    static outcome one[N_ORDERS], three[N_ORDERS];
    int f1 = 0, f3 = 0;
    run(1, one, &f1);
    run(3, three, &f3);
    for (size_t i = 0; i < N_ORDERS; i++) {
        printf("order %02zu: %s\n", i, one[i].text);
        ck_assert_msg(strcmp(one[i].text, three[i].text) == 0,
                      "order %zu:\n 1 worker:  %s\n 3 workers: %s", i, one[i].text, three[i].text);
    }
    ck_assert_int_eq(f1, f3);
    ck_assert_int_gt(f1, 10); /* the scenario really trades */
    printf("scale: %d fills over %zu orders and %d ticks, identical with 1 and 3 workers\n", f1,
           N_ORDERS, N_TICKS);
}
END_TEST

static void suite_up(void) {
    xt_open("test_exec_scale");
}

int main(void) {
    Suite *s = suite_create("exec_scale");
    TCase *tc = tcase_create("scale");
    tcase_add_unchecked_fixture(tc, suite_up, xt_close);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, three_workers_fill_like_one);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
