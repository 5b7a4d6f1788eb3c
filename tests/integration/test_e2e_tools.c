/* The command-line tools against the real NATS server:
 *   tb-tap prints each message as one JSON line decoded by its Tb-Schema
 *   header (a known schema typed, an unknown one schema-less, --raw always
 *   schema-less), stops after --count, and fails on --timeout short of it;
 *   tb-ctl lists an in-process service ($SRV.INFO), reports its health, sends
 *   order / kill-switch / replay requests to stand-in endpoints and waits for
 *   the replay's md.status, and rejects bad arguments with exit status 2
 *   before touching the bus. */
#include <fcntl.h>
#include <nats/nats.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tb_test.h"
#include "wire.h"

static char tap_bin[512], ctl_bin[512];
static char uniq[32];

/* Runs argv with stdout and stderr into the given files; returns the pid. */
static pid_t spawn_io(char *const argv[], const char *out_path, const char *err_path) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0) _exit(126);
        dup2(o, STDOUT_FILENO);
        dup2(e, STDERR_FILENO);
        close(o);
        close(e);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Whole file as a malloc'd string ("" when missing). */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    if (f == NULL) return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(s);
    size_t r = fread(s, 1, (size_t)n, f);
    s[r] = '\0';
    fclose(f);
    return s;
}

typedef struct run_result {
    int rc;
    char *out;
    char *err;
} run_result;

static void run_free(run_result *r) {
    free(r->out);
    free(r->err);
}

/* Runs a tool to completion (at most 30 s). */
static run_result run(char *const argv[]) {
    char out[256], err[256];
    snprintf(out, sizeof out, "%s/%s.out",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", uniq);
    snprintf(err, sizeof err, "%s/%s.err",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", uniq);
    pid_t pid = spawn_io(argv, out, err);
    run_result r = {.rc = tb_test_wait_exit(pid, 30000)};
    r.out = slurp(out);
    r.err = slurp(err);
    unlink(out);
    unlink(err);
    return r;
}

typedef struct watch {
    const char *path;
    const char *needle;
} watch;

static bool file_has(void *arg) {
    watch *w = arg;
    char *s = slurp(w->path);
    bool found = strstr(s, w->needle) != NULL;
    free(s);
    return found;
}

/* Line i (0-based) of text parsed as JSON; fails the test when absent. */
static json_t *json_line(const char *text, int i) {
    const char *p = text;
    for (int k = 0; k < i && p; k++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    ck_assert_msg(p && *p, "no line %d in output:\n%s", i, text);
    const char *end = strchr(p, '\n');
    json_error_t je;
    json_t *j = json_loadb(p, end ? (size_t)(end - p) : strlen(p), 0, &je);
    ck_assert_msg(j != NULL, "line %d is not JSON (%s):\n%s", i, je.text, text);
    return j;
}

static const char *jstr(json_t *o, const char *path1, const char *path2) {
    json_t *v = json_object_get(o, path1);
    if (path2) v = json_object_get(v, path2);
    return json_string_value(v);
}

static bus_config cfg;
static bus_conn *conn;

static void setup(void) {
    tb_test_unique(uniq, sizeof uniq, "tools");
    tb_test_bin(tap_bin, sizeof tap_bin, "tools/tap/tb-tap");
    tb_test_bin(ctl_bin, sizeof ctl_bin, "tools/ctl/tb-ctl");
    ck_assert_msg(access(tap_bin, X_OK) == 0, "%s not built", tap_bin);
    ck_assert_msg(access(ctl_bin, X_OK) == 0, "%s not built", ctl_bin);
    tb_test_config(&cfg, "tools-test");
    conn = tb_test_conn(&cfg);
}

static void teardown(void) {
    bus_conn_close(conn);
}

static void sample_fill(tb_fill *f) {
    memset(f, 0, sizeof *f);
    snprintf(f->fill_id, sizeof f->fill_id, "F-%s", uniq);
    snprintf(f->order_id, sizeof f->order_id, "O-%s", uniq);
    snprintf(f->account, sizeof f->account, "ACC");
    snprintf(f->symbol, sizeof f->symbol, "DAX");
    snprintf(f->side, sizeof f->side, "buy");
    f->qty = 150000000;     /* 1.5 */
    f->price = 10125000000; /* 101.25 */
    f->ts = 1700000000000000001;
}

/* Starts tb-tap with extra args on <uniq>.> and waits until it listens. */
static pid_t start_tap(const char *out, const char *err, const char *a1, const char *a2,
                       const char *a3) {
    char subject[128];
    snprintf(subject, sizeof subject, "%s.>", uniq);
    char *argv[] = {tap_bin, (char *)a1, (char *)a2, (char *)a3, "--timeout", "20", subject, NULL};
    /* Drop the unused optional slots. */
    char *args[8];
    int n = 0;
    for (int i = 0; i < 7; i++)
        if (argv[i]) args[n++] = argv[i];
    args[n] = NULL;
    pid_t pid = spawn_io(args, out, err);
    watch w = {err, "listening on"};
    ck_assert_msg(tb_test_wait(file_has, &w, 10000), "tb-tap did not start listening");
    return pid;
}

START_TEST(tap_decodes_by_schema) {
    char out[256], err[256], subj[128];
    snprintf(out, sizeof out, "%s/%s-tap.out",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", uniq);
    snprintf(err, sizeof err, "%s/%s-tap.err",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", uniq);
    pid_t pid = start_tap(out, err, "--count", "2", NULL);

    tb_fill f;
    sample_fill(&f);
    snprintf(subj, sizeof subj, "%s.fills.ACC.DAX", uniq);
    bus_msg_meta meta = {.trace_id = "trace-tap-1"};
    ck_assert_int_eq(bus_publish(conn, subj, &tb_fill_desc, &f, &meta), TB_OK);
    /* The same fields under a schema name the catalogue does not know. */
    tb_event_desc unknown = tb_fill_desc;
    unknown.name = "fill_from_the_future";
    snprintf(subj, sizeof subj, "%s.other", uniq);
    ck_assert_int_eq(bus_publish(conn, subj, &unknown, &f, NULL), TB_OK);
    /* Past --count: must not be printed. */
    ck_assert_int_eq(bus_publish(conn, subj, &tb_fill_desc, &f, NULL), TB_OK);
    ck_assert_int_eq(bus_conn_flush(conn, 2000), TB_OK);

    ck_assert_int_eq(tb_test_wait_exit(pid, 20000), 0);
    char *o = slurp(out), *e = slurp(err);
    json_t *l0 = json_line(o, 0), *l1 = json_line(o, 1);
    ck_assert_msg(strchr(strchr(strchr(o, '\n') + 1, '\n') + 1, '\n') == NULL,
                  "more than 2 lines:\n%s", o);
    ck_assert_str_eq(jstr(l0, "schema", NULL), "fill");
    ck_assert_str_eq(jstr(l0, "trace_id", NULL), "trace-tap-1");
    ck_assert_str_eq(jstr(l0, "data", "qty"), "1.5");
    ck_assert_str_eq(jstr(l0, "data", "price"), "101.25");
    ck_assert_str_eq(jstr(l0, "data", "fill_id"), f.fill_id);
    ck_assert_str_eq(jstr(l0, "data", "ts"), "2023-11-14T22:13:20.000000001Z");
    /* Unknown schema: the wire map as it is, fixed-point as integers. */
    ck_assert_str_eq(jstr(l1, "schema", NULL), "fill_from_the_future");
    ck_assert(json_is_null(json_object_get(l1, "trace_id")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(l1, "data"), "qty")),
                     150000000);
    ck_assert_msg(strstr(e, "2 messages") != NULL, "stderr: %s", e);
    json_decref(l0);
    json_decref(l1);
    free(o);
    free(e);
    unlink(out);
    unlink(err);
}
END_TEST

START_TEST(tap_raw_and_timeout) {
    char out[256], err[256], subj[128];
    snprintf(out, sizeof out, "%s/%s-raw.out",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", uniq);
    snprintf(err, sizeof err, "%s/%s-raw.err",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", uniq);
    pid_t pid = start_tap(out, err, "--raw", "--count", "1");
    tb_fill f;
    sample_fill(&f);
    snprintf(subj, sizeof subj, "%s.fills.ACC.DAX", uniq);
    ck_assert_int_eq(bus_publish(conn, subj, &tb_fill_desc, &f, NULL), TB_OK);
    ck_assert_int_eq(bus_conn_flush(conn, 2000), TB_OK);
    ck_assert_int_eq(tb_test_wait_exit(pid, 20000), 0);
    char *o = slurp(out);
    json_t *l0 = json_line(o, 0);
    ck_assert(json_is_null(json_object_get(l0, "schema")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(l0, "data"), "price")),
                     10125000000);
    json_decref(l0);
    free(o);

    /* --count not reached within --timeout: exit status 1 and a message. */
    char subject[128];
    snprintf(subject, sizeof subject, "%s.silent", uniq);
    char *argv[] = {tap_bin, "--count", "1", "--timeout", "1", subject, NULL};
    run_result r = run(argv);
    ck_assert_int_eq(r.rc, 1);
    ck_assert_msg(strstr(r.err, "timed out") != NULL, "stderr: %s", r.err);
    run_free(&r);
    unlink(out);
    unlink(err);
}
END_TEST

START_TEST(tap_and_ctl_usage_errors) {
    char *a1[] = {tap_bin, NULL};
    run_result r = run(a1);
    ck_assert_int_eq(r.rc, 2);
    run_free(&r);
    char *a2[] = {tap_bin, "--count", "zero", "x", NULL};
    r = run(a2);
    ck_assert_int_eq(r.rc, 2);
    run_free(&r);
    char *a3[] = {ctl_bin, "order",  "submit",   "--account", "A", "--symbol",
                  "DAX",   "--side", "sideways", "--qty",     "1", NULL};
    r = run(a3);
    ck_assert_int_eq(r.rc, 2);
    ck_assert_msg(strstr(r.err, "side") != NULL, "stderr: %s", r.err);
    run_free(&r);
    char *a4[] = {ctl_bin, "order",  "submit", "--account", "A",           "--symbol",
                  "DAX",   "--side", "buy",    "--qty",     "1.000000001", NULL};
    r = run(a4);
    ck_assert_int_eq(r.rc, 2);
    ck_assert_msg(strstr(r.err, "qty") != NULL, "stderr: %s", r.err);
    run_free(&r);
    char *a5[] = {ctl_bin, "killswitch", "maybe", NULL};
    r = run(a5);
    ck_assert_int_eq(r.rc, 2);
    run_free(&r);
    char *a6[] = {ctl_bin, "frobnicate", NULL};
    r = run(a6);
    ck_assert_int_eq(r.rc, 2);
    run_free(&r);
    char *a7[] = {ctl_bin, "--help", NULL};
    r = run(a7);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_msg(strstr(r.out, "killswitch engage|release") != NULL, "help: %s", r.out);
    run_free(&r);
}
END_TEST

/* ---- tb-ctl against stand-in endpoints served by an in-process actor ---- */

static char svc_name[40], replay_source[40];

static tb_status on_submit(bus_ctx *ctx, const void *ev) {
    const tb_order_request *rq = ev;
    tb_order_record rec = {0};
    snprintf(rec.order_id, sizeof rec.order_id, "ord-%.40s", rq->client_order_id);
    snprintf(rec.client_order_id, sizeof rec.client_order_id, "%s", rq->client_order_id);
    snprintf(rec.account, sizeof rec.account, "%s", rq->account);
    snprintf(rec.symbol, sizeof rec.symbol, "%s", rq->symbol);
    snprintf(rec.side, sizeof rec.side, "%s", rq->side);
    snprintf(rec.type, sizeof rec.type, "%s", rq->type);
    snprintf(rec.tif, sizeof rec.tif, "%s", rq->tif[0] ? rq->tif : "day");
    snprintf(rec.source, sizeof rec.source, "api");
    snprintf(rec.status, sizeof rec.status, "accepted");
    rec.qty = rq->qty;
    rec.limit_price = rq->limit_price;
    rec.created_at = tb_now_ns();
    if (strcmp(rq->symbol, "NOPE") == 0)
        return bus_fail(ctx, TB_REJECTED, "symbol", "unknown symbol %s", rq->symbol);
    return bus_reply(ctx, &tb_order_record_desc, &rec);
}

static tb_status on_killswitch(bus_ctx *ctx, const void *ev) {
    tb_kill_switch ks = *(const tb_kill_switch *)ev;
    ks.canceled = ks.engaged ? 3 : 0;
    return bus_reply(ctx, &tb_kill_switch_desc, &ks);
}

static tb_status on_replay(bus_ctx *ctx, const void *ev) {
    const tb_market_replay *rq = ev;
    tb_md_status st = {0};
    snprintf(st.source, sizeof st.source, "%s", rq->source);
    st.ts = tb_now_ns();
    /* Reply first, as market-data would, then announce the end. */
    snprintf(st.state, sizeof st.state, "running");
    tb_status s = bus_reply(ctx, &tb_md_status_desc, &st);
    if (s != TB_OK) return s;
    char subject[128];
    snprintf(subject, sizeof subject, "md.status.%s", rq->source);
    snprintf(st.state, sizeof st.state, "done");
    st.ticks = 42;
    st.errors = 1;
    return bus_publish(bus_actor_conn(bus_ctx_actor(ctx)), subject, &tb_md_status_desc, &st, NULL);
}

static bus_endpoint fake_eps[3];
static bus_actor_def fake_def = {
    .version = "9.8.7",
    .description = "stand-in endpoints for the tb-ctl test",
    .endpoints = fake_eps,
    .nendpoints = 3,
};

/* True when a real service of that name answers on this bus: then the
 * api.* stand-ins would race it, and those checks are skipped. */
static bool real_service_present(const char *name) {
    char subject[128];
    snprintf(subject, sizeof subject, "$SRV.PING.%s", name);
    const char *subjects[1] = {subject};
    bus_bytes *replies = NULL;
    size_t n = 0;
    tb_error err = {0};
    ck_assert_int_eq(bus_request_many(conn, subjects, 1, NULL, 0, NULL, 300, 1, &replies, &n, &err),
                     TB_OK);
    bus_bytes_free_many(replies, n);
    return n > 0;
}

START_TEST(ctl_against_stand_ins) {
    tb_test_unique(svc_name, sizeof svc_name, "ctltest");
    tb_test_unique(replay_source, sizeof replay_source, "rp");
    bool others = real_service_present("risk-management") || real_service_present("market-data");
    fake_eps[0] = (bus_endpoint){.name = "submit",
                                 .kind = BUS_REQUEST,
                                 .subject = "api.orders.submit",
                                 .event = &tb_order_request_desc,
                                 .handler = on_submit};
    fake_eps[1] = (bus_endpoint){.name = "killswitch",
                                 .kind = BUS_REQUEST,
                                 .subject = "api.risk.killswitch",
                                 .event = &tb_kill_switch_desc,
                                 .handler = on_killswitch};
    fake_eps[2] = (bus_endpoint){.name = "replay",
                                 .kind = BUS_REQUEST,
                                 .subject = "api.market.replay",
                                 .event = &tb_market_replay_desc,
                                 .handler = on_replay};
    fake_def.name = svc_name;
    bus_config acfg;
    tb_test_config(&acfg, svc_name);
    bus_actor *a = NULL;
    tb_error err = {0};
    ck_assert_int_eq(bus_actor_create(&fake_def, &acfg, &a, &err), TB_OK);
    ck_assert_msg(bus_actor_start(a, &err) == TB_OK, "%s", err.message);

    /* services: our instance, with its version and endpoints. */
    char *s1[] = {ctl_bin, "services", svc_name, NULL};
    run_result r = run(s1);
    ck_assert_msg(r.rc == 0, "rc %d: %s", r.rc, r.err);
    ck_assert_msg(strstr(r.out, bus_actor_instance(a)) && strstr(r.out, "9.8.7") &&
                      strstr(r.out, "submit (api.orders.submit)"),
                  "services output:\n%s", r.out);
    run_free(&r);
    char *s2[] = {ctl_bin, "--json", "services", NULL};
    r = run(s2);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_msg(strstr(r.out, "\"io.nats.micro.v1.info_response\"") != NULL, "%s", r.out);
    run_free(&r);

    /* health: ok for ours, failure for a service nobody runs. */
    char *h1[] = {ctl_bin, "health", svc_name, NULL};
    r = run(h1);
    ck_assert_msg(r.rc == 0, "rc %d: %s %s", r.rc, r.out, r.err);
    ck_assert_msg(strstr(r.out, "nats ok") != NULL, "%s", r.out);
    run_free(&r);
    char nobody[96];
    snprintf(nobody, sizeof nobody, "no-%s", svc_name);
    char *h2[] = {ctl_bin, "health", nobody, NULL};
    r = run(h2);
    ck_assert_int_eq(r.rc, 1);
    run_free(&r);

    if (others) {
        fprintf(stderr,
                "test_e2e_tools: real services on this bus; api.* stand-in checks skipped\n");
    } else {
        char coid[64];
        snprintf(coid, sizeof coid, "c-%s", uniq);
        char *o1[] = {ctl_bin,  "order",
                      "submit", "--account",
                      "ACC",    "--symbol",
                      "DAX",    "--side",
                      "buy",    "--qty",
                      "2.5",    "--type",
                      "limit",  "--limit-price",
                      "99.5",   "--tif",
                      "gtc",    "--client-order-id",
                      coid,     NULL};
        r = run(o1);
        ck_assert_msg(r.rc == 0, "rc %d: %s", r.rc, r.err);
        json_t *j = json_line(r.out, 0);
        ck_assert_str_eq(jstr(j, "status", NULL), "accepted");
        ck_assert_str_eq(jstr(j, "qty", NULL), "2.5");
        ck_assert_str_eq(jstr(j, "limit_price", NULL), "99.5");
        ck_assert_str_eq(jstr(j, "tif", NULL), "gtc");
        ck_assert_str_eq(jstr(j, "client_order_id", NULL), coid);
        json_decref(j);
        run_free(&r);

        char *o2[] = {ctl_bin, "order",  "submit", "--account", "ACC", "--symbol",
                      "NOPE",  "--side", "sell",   "--qty",     "1",   NULL};
        r = run(o2);
        ck_assert_int_eq(r.rc, 1);
        ck_assert_msg(strstr(r.err, "rejected: unknown symbol NOPE (field symbol)") != NULL,
                      "stderr: %s", r.err);
        run_free(&r);

        char *k1[] = {ctl_bin, "killswitch", "engage", "--account",
                      "ACC",   "--reason",   "test",   NULL};
        r = run(k1);
        ck_assert_msg(r.rc == 0, "rc %d: %s", r.rc, r.err);
        j = json_line(r.out, 0);
        ck_assert(json_is_true(json_object_get(j, "engaged")));
        ck_assert_int_eq(json_integer_value(json_object_get(j, "canceled")), 3);
        ck_assert_str_eq(jstr(j, "reason", NULL), "test");
        json_decref(j);
        run_free(&r);

        char csv[256];
        snprintf(csv, sizeof csv, "%s/%s.csv",
                 getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", uniq);
        FILE *f = fopen(csv, "w");
        ck_assert_ptr_nonnull(f);
        fputs("date,symbol,close\n2020-01-02,DAX,13385.93\n", f);
        fclose(f);
        char *p1[] = {ctl_bin,          "replay", csv,        "--format",    "closes",
                      "--speed",        "0",      "--source", replay_source, "--wait",
                      "--wait-timeout", "20",     NULL};
        r = run(p1);
        ck_assert_msg(r.rc == 0, "rc %d: %s", r.rc, r.err);
        j = json_line(r.out, 1); /* line 0: the reply; line 1: the final status */
        ck_assert_str_eq(jstr(j, "state", NULL), "done");
        ck_assert_int_eq(json_integer_value(json_object_get(j, "ticks")), 42);
        json_decref(j);
        ck_assert_msg(strstr(r.err, "42 ticks, 1 rows rejected") != NULL, "stderr: %s", r.err);
        run_free(&r);
        unlink(csv);
    }
    bus_actor_destroy(a);
}
END_TEST

START_TEST(ctl_without_responders) {
    if (real_service_present("trading-execution")) return;
    char *o1[] = {ctl_bin, "order", "cancel", "ord-nobody", NULL};
    run_result r = run(o1);
    ck_assert_int_eq(r.rc, 1);
    ck_assert_msg(strstr(r.err, "no_responders") != NULL || strstr(r.err, "not_found") != NULL,
                  "stderr: %s", r.err);
    run_free(&r);
}
END_TEST

int main(void) {
    Suite *s = suite_create("tools");
    TCase *tc = tcase_create("tap_ctl");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, tap_decodes_by_schema);
    tcase_add_test(tc, tap_raw_and_timeout);
    tcase_add_test(tc, tap_and_ctl_usage_errors);
    tcase_add_test(tc, ctl_against_stand_ins);
    tcase_add_test(tc, ctl_without_responders);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
