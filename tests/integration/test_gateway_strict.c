/* Strict request bodies and stored resources in replies, through the real
 * tb-gateway:
 *
 * - every request body of the API (each api.def type, at the catalogue, and
 *   each route that takes a JSON body, over HTTP) is refused with 400
 *   unknown_field naming a misspelt field and the field it was meant to be,
 *   while the same body spelt right goes through; the bodies are built from
 *   the descriptors and the route table, so a new body or field is covered
 *   without touching this file;
 * - POST /v1/accounts (real position-management and risk-management)
 *   answers the account as stored, the same representation GET
 *   /v1/accounts/{id} gives, with its effective risk limits under "limits"
 *   as GET /v1/risk/limits/{account} gives them; without risk-management
 *   the account is still created (201) and "limits" is null, counted in
 *   tb_gateway_embed_errors_total;
 * - a service or the gateway started without NATS_URL (or DATABASE_URL)
 *   says which is missing and exits 2. */
#include "test_gateway_fixture.h"

static gw_proc gw;
static char admin[64];

/* -------------------------------------------------- bodies by type -- */

/* Every type of api.def, from the catalogue's own list. */
static const tb_event_desc *const api_types[] = {
#define API_DESC(ident, v, s, d) &tb_##ident##_desc,
    TB_EVENTS_API(API_DESC)
#undef API_DESC
};
#define N_API_TYPES (sizeof api_types / sizeof api_types[0])

/* A value the catalogue accepts for field f. */
static json_t *sample_value(const tb_field_desc *f) {
    switch (f->type) {
    case TB_FT_BOOL:
        return json_true();
    case TB_FT_I64:
    case TB_FT_U64:
        return json_integer(1);
    case TB_FT_F64:
        return json_real(0.5);
    case TB_FT_FIXED:
        return json_string("1");
    case TB_FT_TS:
        return json_string("2026-01-02T03:04:05Z");
    case TB_FT_TOKEN:
        return json_string("STRICT1");
    case TB_FT_ID:
        return json_string("strict-1");
    case TB_FT_ENUM:
        return json_stringn(f->enum_values, strcspn(f->enum_values, "|"));
    default:
        return json_string("x");
    }
}

/* Whether name is in the comma-separated list. */
static bool in_list(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list ? list : ""; *p;) {
        size_t k = strcspn(p, ",");
        if (k == n && strncmp(p, name, n) == 0) return true;
        p += k + (p[k] == ',');
    }
    return false;
}

/* A valid body of d: every field a client may send (not the server's). */
static json_t *sample_body(const tb_event_desc *d, const char *server_set) {
    json_t *o = json_object();
    for (size_t i = 0; i < d->nfields; i++)
        if (!in_list(server_set, d->fields[i].name))
            json_object_set_new(o, d->fields[i].name, sample_value(&d->fields[i]));
    return o;
}

/* The name with its last two different neighbours swapped ("qty" ->
 * "qyt"): one edit, the commonest typo. */
static void misspell(const char *name, char *out, size_t cap) {
    snprintf(out, cap, "%s", name);
    size_t n = strlen(out);
    for (size_t i = n - 1; i > 0; i--) {
        if (out[i] != out[i - 1]) {
            char c = out[i];
            out[i] = out[i - 1];
            out[i - 1] = c;
            return;
        }
    }
    ck_assert_msg(false, "cannot misspell %s", name);
}

/* body with field renamed to its misspelling (a new object). */
static json_t *with_misspelt(const json_t *body, const char *field, const char *wrong) {
    json_t *o = json_deep_copy(body);
    json_t *v = json_incref(json_object_get(o, field));
    json_object_del(o, field);
    json_object_set_new(o, wrong, v);
    return o;
}

/* The message names the misspelt key and suggests the field (or one as
 * near: a swap may land as close to another name). */
static void check_suggestion(const tb_event_desc *d, const char *message, const char *wrong,
                             const char *meant) {
    char head[160];
    snprintf(head, sizeof head, "unknown field \"%s\" (did you mean \"", wrong);
    ck_assert_msg(strncmp(message, head, strlen(head)) == 0, "%s: %s", d->name, message);
    const char *s = message + strlen(head);
    size_t n = strcspn(s, "\"");
    size_t to_meant = tb_name_distance(wrong, strlen(wrong), meant, strlen(meant), 8);
    size_t to_said = tb_name_distance(wrong, strlen(wrong), s, n, 8);
    ck_assert_msg(to_said <= to_meant && tb_field_find(d, s, n) != NULL, "%s: %s should suggest %s",
                  d->name, message, meant);
}

START_TEST(catalogue_refuses_misspelt_fields_of_every_api_type) {
    for (size_t t = 0; t < N_API_TYPES; t++) {
        const tb_event_desc *d = api_types[t];
        json_t *body = sample_body(d, NULL);
        void *ev = calloc(1, d->struct_size);
        tb_error err = {0};
        ck_assert_msg(tb_from_json(d, body, ev, &err) == TB_OK, "%s: sample refused: %s", d->name,
                      err.message);
        for (size_t i = 0; i < d->nfields; i++) {
            char wrong[80];
            misspell(d->fields[i].name, wrong, sizeof wrong);
            json_t *bad = with_misspelt(body, d->fields[i].name, wrong);
            ck_assert_msg(tb_from_json(d, bad, ev, &err) == TB_UNKNOWN_FIELD, "%s.%s: %s", d->name,
                          wrong, tb_status_code(err.status));
            ck_assert_str_eq(err.field, wrong);
            check_suggestion(d, err.message, wrong, d->fields[i].name);
            json_decref(bad);
        }
        free(ev);
        json_decref(body);
    }
}
END_TEST

/* ------------------------------------------------ bodies over HTTP -- */

static bus_actor *svc;

static void http_setup(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fake_covers_routes();
    char name[64];
    tb_test_unique(name, sizeof name, "gwstrict");
    svc = fake_start(name, true);
    /* The order the sample bodies name ("strict-1"), so that PATCH
     * /v1/orders/{id} spelt right reaches an order the fake knows. */
    pthread_mutex_lock(&fake.lock);
    tb_order_record *o = &fake.orders[fake.norders++];
    memset(o, 0, sizeof *o);
    snprintf(o->order_id, sizeof o->order_id, "strict-1");
    snprintf(o->account, sizeof o->account, "STRICT1");
    snprintf(o->symbol, sizeof o->symbol, "STRICT1");
    snprintf(o->side, sizeof o->side, "buy");
    snprintf(o->type, sizeof o->type, "stop_limit");
    snprintf(o->tif, sizeof o->tif, "day");
    snprintf(o->source, sizeof o->source, "api");
    snprintf(o->status, sizeof o->status, "accepted");
    o->qty = 2 * TB_FIXED_SCALE;
    o->limit_price = TB_FIXED_SCALE;
    o->stop_price = TB_FIXED_SCALE;
    o->created_at = tb_now_ns();
    pthread_mutex_unlock(&fake.lock);
    static const char *const env[] = {"GATEWAY_RATE_LIMIT=100000", NULL};
    gw_start(&gw, "strict", env);
    gw_admin_key(admin, sizeof admin);
}

static void http_teardown(void) {
    if (gw_stop_rc(&gw) != 0) fprintf(stderr, "tb-gateway did not exit cleanly\n");
    bus_actor_destroy(svc);
    json_decref(fake.last_request);
    fake.last_request = NULL;
    curl_global_cleanup();
}

/* rt's path with its {param} replaced by the body's value of the field it
 * fills (so path and body agree). */
static void route_path(const gw_route *rt, const json_t *body, char *out, size_t cap) {
    const char *b = strchr(rt->path, '{');
    if (b == NULL) {
        snprintf(out, cap, "%s", rt->path);
        return;
    }
    const char *value = json_string_value(json_object_get(body, rt->path_field));
    ck_assert_msg(value != NULL, "%s: no value for %s", rt->path, rt->path_field);
    snprintf(out, cap, "%.*s%s%s", (int)(b - rt->path), rt->path, value, strchr(b, '}') + 1);
}

START_TEST(every_json_route_refuses_a_misspelt_field) {
    size_t nroutes, routes_seen = 0, requests = 0;
    const gw_route *rs = gw_routes(&nroutes);
    for (size_t r = 0; r < nroutes; r++) {
        const gw_route *rt = &rs[r];
        if (rt->input != GW_IN_JSON) continue;
        routes_seen++;
        const tb_event_desc *d = rt->request;
        json_t *body = sample_body(d, rt->server_set);
        char path[256];
        route_path(rt, body, path, sizeof path);
        /* Spelt right, the body goes through to the (fake) service. */
        char *text = json_dumps(body, JSON_COMPACT);
        http_resp resp;
        gw_http(&resp, &gw, rt->method, path, admin, text);
        ck_assert_msg(resp.status == rt->success, "%s %s with %s: %ld %s", rt->method, path, text,
                      resp.status, resp.body);
        http_free(&resp);
        free(text);
        const char *k;
        json_t *v;
        json_object_foreach(body, k, v) {
            char wrong[80];
            misspell(k, wrong, sizeof wrong);
            json_t *bad = with_misspelt(body, k, wrong);
            text = json_dumps(bad, JSON_COMPACT);
            gw_http(&resp, &gw, rt->method, path, admin, text);
            ck_assert_msg(resp.status == 400, "%s %s with %s: %ld %s", rt->method, path, text,
                          resp.status, resp.body);
            ck_assert_str_eq(http_error_code(&resp), "unknown_field");
            ck_assert_str_eq(http_error_field(&resp), wrong);
            json_t *e = json_object_get(resp.json, "error");
            ck_assert_uint_eq(json_object_size(e), 3); /* code, message, field: as every error */
            check_suggestion(d, json_string_value(json_object_get(e, "message")), wrong, k);
            http_free(&resp);
            free(text);
            json_decref(bad);
            requests++;
        }
        json_decref(body);
    }
    /* The loop ran over the table as it is today at least (bodies only
     * the bus takes, like market_replay, are the catalogue test's). */
    ck_assert_uint_ge(routes_seen, 9);
    ck_assert_uint_ge(requests, 60);
    tb_test_bg_assert();
}
END_TEST

/* Unknown keys nested where the catalogue has no type (a strategy's params)
 * are the service's to judge; a misspelt key at the top is refused even
 * when the route also carries such a nested object. */
START_TEST(nested_objects_do_not_hide_top_level_typos) {
    http_resp resp;
    gw_http(&resp, &gw, "POST", "/v1/strategies", admin,
            "{\"strategy_id\":\"s1\",\"kind\":\"sma_cross\",\"symbol\":\"DAX\",\"account\":\"A\","
            "\"sizing\":\"fixed\",\"params\":{\"fast\":5,\"slow\":20},\"enabeld\":true}");
    ck_assert_int_eq(resp.status, 400);
    ck_assert_str_eq(http_error_code(&resp), "unknown_field");
    ck_assert_str_eq(http_error_field(&resp), "enabeld");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(resp.json, "error"), "message")),
        "unknown field \"enabeld\" (did you mean \"enabled\"?)");
    http_free(&resp);
}
END_TEST

/* ---------------------------------------- the stored account -- */

static pid_t pm_pid, risk_pid;

static bool healthy(void *arg) {
    char path[96];
    snprintf(path, sizeof path, "/health/%s", (const char *)arg);
    http_resp r;
    http_do(&r, gw.base, "GET", path, NULL, NULL, -1, NULL);
    bool ok = r.status == 200;
    http_free(&r);
    return ok;
}

static bool pm_healthy(void *arg) {
    (void)arg;
    return healthy("position-management");
}

static void start_risk(void) {
    char bin[512], log[512];
    tb_test_bin(bin, sizeof bin, "actors/risk-management/tb-risk-management");
    snprintf(log, sizeof log, "%s/test_gateway_strict-risk-management.log",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp");
    static char *env[] = {NULL};
    risk_pid = spawn_clean(bin, env, log);
    ck_assert_msg(tb_test_wait(healthy, "risk-management", 30000),
                  "risk-management is not healthy (%s)", log);
}

static void stop_risk(void) {
    if (risk_pid > 0 && tb_test_stop(risk_pid, 30000) != 0)
        fprintf(stderr, "risk-management: unclean exit\n");
    risk_pid = 0;
}

/* Whether no risk-management instance answers its health any more (a
 * stopped instance's micro registration is gone with its connection). */
static bool risk_gone(void *arg) {
    (void)arg;
    return !healthy("risk-management");
}

/* The gateway's tb_gateway_embed_errors_total for api.risk.limits.get. */
static double embed_errors(void) {
    http_resp r;
    http_do(&r, gw.base, "GET", "/metrics", NULL, NULL, -1, NULL);
    ck_assert_msg(r.status == 200, "/metrics: %ld", r.status);
    double v = 0;
    const char *want = "tb_gateway_embed_errors_total{";
    for (const char *p = r.body; p && (p = strstr(p, want)) != NULL; p++) {
        const char *eol = strchr(p, '\n');
        const char *subj = strstr(p, "subject=\"api.risk.limits.get\"");
        const char *sp = eol ? memchr(p, ' ', (size_t)(eol - p)) : NULL;
        if (subj && eol && subj < eol && sp) v += strtod(sp + 1, NULL);
    }
    http_free(&r);
    return v;
}

static void pm_setup(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char bin[512], log[512];
    tb_test_bin(bin, sizeof bin, "actors/position-management/tb-position-management");
    snprintf(log, sizeof log, "%s/test_gateway_strict-position-management.log",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp");
    static char *env[] = {"POS_MARKS=false", NULL};
    pm_pid = spawn_clean(bin, env, log);
    static const char *const genv[] = {"GATEWAY_RATE_LIMIT=100000", NULL};
    gw_start(&gw, "strict-pm", genv);
    gw_admin_key(admin, sizeof admin);
    ck_assert_msg(tb_test_wait(pm_healthy, NULL, 30000), "position-management is not healthy (%s)",
                  log);
    start_risk();
}

static void pm_teardown(void) {
    stop_risk();
    if (gw_stop_rc(&gw) != 0) fprintf(stderr, "tb-gateway did not exit cleanly\n");
    if (tb_test_stop(pm_pid, 30000) != 0) fprintf(stderr, "position-management: unclean exit\n");
    pm_pid = 0;
    curl_global_cleanup();
}

START_TEST(create_returns_the_stored_account) {
    char acct[48], body[256], path[128];
    tb_test_unique(acct, sizeof acct, "ST");
    snprintf(body, sizeof body,
             "{\"account\":\"%s\",\"name\":\"Strict test\",\"initial_cash\":\"2500.125\"}", acct);
    http_resp made, got;
    gw_http(&made, &gw, "POST", "/v1/accounts", admin, body);
    ck_assert_msg(made.status == 201, "%ld %s", made.status, made.body);
    snprintf(path, sizeof path, "/v1/accounts/%s", acct);
    gw_http(&got, &gw, "GET", path, admin, NULL);
    ck_assert_msg(got.status == 200, "%ld %s", got.status, got.body);
    ck_assert_str_eq(json_string_value(json_object_get(made.json, "cash")), "2500.125");
    ck_assert_str_eq(json_string_value(json_object_get(made.json, "equity")), "2500.125");
    ck_assert_str_eq(json_string_value(json_object_get(made.json, "initial_cash")), "2500.125");
    ck_assert_str_eq(json_string_value(json_object_get(made.json, "name")), "Strict test");
    /* Its effective risk limits, as risk-management's own route gives them
     * (a new account has the defaults). */
    json_t *limits = json_object_get(made.json, "limits");
    ck_assert_msg(json_is_object(limits), "no limits in %s", made.body);
    ck_assert_str_eq(json_string_value(json_object_get(limits, "account")), acct);
    http_resp lim;
    snprintf(path, sizeof path, "/v1/risk/limits/%s", acct);
    gw_http(&lim, &gw, "GET", path, admin, NULL);
    ck_assert_msg(lim.status == 200, "%ld %s", lim.status, lim.body);
    ck_assert_msg(json_equal(limits, lim.json), "create answered limits %s, risk %s", made.body,
                  lim.body);
    http_free(&lim);
    /* The reply is the stored account: field for field what GET reads back
     * (ts is the valuation time of each answer). */
    json_object_del(made.json, "limits");
    json_object_del(made.json, "ts");
    json_object_del(got.json, "ts");
    ck_assert_msg(json_equal(made.json, got.json), "create answered %s, get %s", made.body,
                  got.body);
    http_free(&made);
    http_free(&got);
    /* A second create of the same account is a conflict, not a new row. */
    gw_http(&made, &gw, "POST", "/v1/accounts", admin, body);
    ck_assert_msg(made.status == 409, "%ld %s", made.status, made.body);
    http_free(&made);
}
END_TEST

/* Without risk-management the account is still created (the create took
 * effect; an error would make a client retry into a conflict) and the
 * reply says the limits are unknown (null), never invented ones. */
START_TEST(create_without_risk_management_has_null_limits) {
    char acct[48], body[256], path[128];
    tb_test_unique(acct, sizeof acct, "SN");
    stop_risk();
    ck_assert_msg(tb_test_wait(risk_gone, NULL, 10000), "risk-management still answers");
    double before = embed_errors();
    snprintf(body, sizeof body, "{\"account\":\"%s\",\"initial_cash\":\"10\"}", acct);
    http_resp made, got;
    gw_http(&made, &gw, "POST", "/v1/accounts", admin, body);
    start_risk();
    ck_assert_msg(made.status == 201, "%ld %s", made.status, made.body);
    json_t *limits = json_object_get(made.json, "limits");
    ck_assert_msg(limits != NULL && json_is_null(limits), "limits not null in %s", made.body);
    ck_assert_str_eq(json_string_value(json_object_get(made.json, "cash")), "10");
    ck_assert_msg(embed_errors() == before + 1, "tb_gateway_embed_errors_total %g, was %g",
                  embed_errors(), before);
    /* the account exists: risk-management answers its limits now */
    snprintf(path, sizeof path, "/v1/risk/limits/%s", acct);
    gw_http(&got, &gw, "GET", path, admin, NULL);
    ck_assert_msg(got.status == 200, "%ld %s", got.status, got.body);
    http_free(&made);
    http_free(&got);
}
END_TEST

/* -------------------------------------------- no built-in secrets -- */

/* Runs bin without the variable unset_name (and with the others of the
 * test's environment); its exit status and what it wrote. */
static int run_without(const char *bin, const char *unset_name, char *out, size_t cap) {
    char log[512];
    snprintf(log, sizeof log, "%s/test_gateway_strict-noenv-%d.log",
             getenv("TB_BINARY_DIR") ? getenv("TB_BINARY_DIR") : "/tmp", (int)getpid());
    unlink(log);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        unsetenv(unset_name);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        for (int k = 3; k < 4096; k++) close(k);
        execl(bin, bin, (char *)NULL);
        _exit(127);
    }
    int rc = tb_test_wait_exit(pid, 20000);
    out[0] = '\0';
    FILE *f = fopen(log, "r");
    if (f) {
        size_t n = fread(out, 1, cap - 1, f);
        out[n] = '\0';
        fclose(f);
    }
    unlink(log);
    return rc;
}

START_TEST(services_need_their_urls) {
    static const struct {
        const char *bin, *unset;
    } cases[] = {
        {"gateway/tb-gateway", "NATS_URL"},
        {"actors/position-management/tb-position-management", "NATS_URL"},
        {"actors/position-management/tb-position-management", "DATABASE_URL"},
        {"actors/market-data/tb-market-data", "REDIS_URL"},
        {"gateway/tb-gateway", "DATABASE_URL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char bin[512], out[4096], want[64];
        tb_test_bin(bin, sizeof bin, cases[i].bin);
        int rc = run_without(bin, cases[i].unset, out, sizeof out);
        ck_assert_msg(rc == 2, "%s without %s exited %d: %s", cases[i].bin, cases[i].unset, rc,
                      out);
        snprintf(want, sizeof want, "%s is not set", cases[i].unset);
        ck_assert_msg(strstr(out, want) != NULL, "%s without %s said: %s", cases[i].bin,
                      cases[i].unset, out);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("gateway_strict");
    TCase *tc = tcase_create("catalogue");
    tcase_add_test(tc, catalogue_refuses_misspelt_fields_of_every_api_type);
    tcase_add_test(tc, services_need_their_urls);
    suite_add_tcase(s, tc);
    tc = tcase_create("http");
    tcase_add_unchecked_fixture(tc, http_setup, http_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_json_route_refuses_a_misspelt_field);
    tcase_add_test(tc, nested_objects_do_not_hide_top_level_typos);
    suite_add_tcase(s, tc);
    tc = tcase_create("accounts");
    tcase_add_unchecked_fixture(tc, pm_setup, pm_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, create_returns_the_stored_account);
    tcase_add_test(tc, create_without_risk_management_has_null_limits);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
