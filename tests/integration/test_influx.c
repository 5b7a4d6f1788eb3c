/* historical-data's InfluxDB sink against a real influxd (Debian's influxdb
 * package), started by the test on free loopback ports in its own folder:
 *
 *   - after a full-speed replay, InfluxDB holds exactly the closed bars:
 *     for every symbol and interval, as many bars as PostgreSQL has minus
 *     the one still open (the newest, written when a later tick closes
 *     it), with the same open/high/low/close as PostgreSQL's for a sample;
 *   - influxd killed with -9 a third of the way through a replay: the
 *     replay ends, historical-data stores every tick (its 1 s bars count
 *     the file's ticks), its ticks/s after the kill are not far below
 *     those before, and the sink counts dropped points and failed writes
 *     instead of holding the tick path up; historical-data still stops
 *     cleanly and at once;
 *   - analytics writes an equity point per account and sample bucket, the
 *     valuation's exact decimals as fields, at the bucket's start. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tb_flow.h"
#include "tb_services.h"
#include "tb_test.h"

#define N_SYM 2

static bus_config cfg;
static bus_conn *conn;
static PGconn *pg;
static char tag[40], log_path[512], dir[600], csv[700], influx_url[64];
static pid_t influxd, md, hist, analytics;
static bus_actor *fake;
static const char *const sym_suffix[N_SYM] = {"A", "B"};
static const char *const intervals[] = {"1s", "1m", "5m", "1h", "1d"};
#define N_IV 5

/* ---- a private influxd ---- */

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static size_t collect(char *data, size_t size, size_t n, void *arg) {
    char **buf = arg;
    size_t old = *buf ? strlen(*buf) : 0, add = size * n;
    char *nb = realloc(*buf, old + add + 1);
    if (nb == NULL) return 0;
    memcpy(nb + old, data, add);
    nb[old + add] = '\0';
    *buf = nb;
    return add;
}

/* GET or POST (post_q) of /ping or /query; HTTP status, body in *body. */
static long influx_http(const char *path, const char *post_q, char **body) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", influx_url, path);
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    *body = NULL;
    char *form = NULL;
    if (post_q) {
        char *esc = curl_easy_escape(c, post_q, 0);
        size_t n = strlen(esc) + 32;
        form = malloc(n);
        snprintf(form, n, "db=tbtest&q=%s", esc);
        curl_free(esc);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    free(form);
    return code;
}

static bool influx_up(void *arg) {
    (void)arg;
    char *body = NULL;
    long code = influx_http("/ping", NULL, &body);
    free(body);
    return code == 204;
}

static void start_influxd(void) {
    char bin[256] = "";
    const char *path = getenv("PATH");
    char *copy = strdup(path ? path : "/usr/bin:/usr/sbin");
    for (char *p = strtok(copy, ":"); p; p = strtok(NULL, ":")) {
        snprintf(bin, sizeof bin, "%s/influxd", p);
        if (access(bin, X_OK) == 0) break;
        bin[0] = '\0';
    }
    free(copy);
    ck_assert_msg(bin[0], "influxd not found (scripts/setup installs Debian's influxdb)");
    int http = free_port(), rpc = free_port();
    snprintf(influx_url, sizeof influx_url, "http://127.0.0.1:%d", http);
    char conf[800];
    snprintf(conf, sizeof conf, "%s/influxdb.conf", dir);
    FILE *f = fopen(conf, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "reporting-disabled = true\nbind-address = \"127.0.0.1:%d\"\n"
            "[meta]\n  dir = \"%s/meta\"\n  logging-enabled = false\n"
            "[data]\n  dir = \"%s/data\"\n  wal-dir = \"%s/wal\"\n  query-log-enabled = false\n"
            "[monitor]\n  store-enabled = false\n"
            "[http]\n  bind-address = \"127.0.0.1:%d\"\n  log-enabled = false\n"
            "[logging]\n  level = \"warn\"\n",
            rpc, dir, dir, dir, http);
    ck_assert_int_eq(fclose(f), 0);
    char *argv[] = {bin, "run", "-config", conf, NULL};
    influxd = tb_test_spawn(argv, NULL, log_path);
    ck_assert_msg(tb_test_wait(influx_up, NULL, 30000), "influxd did not answer on %s (see %s)",
                  influx_url, log_path);
    char *body = NULL;
    ck_assert_int_eq(influx_http("/query", "CREATE DATABASE tbtest", &body), 200);
    free(body);
}

/* ---- fixture ---- */

static void setup(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tb_test_config(&cfg, "influx-test");
    conn = tb_test_conn(&cfg);
    pg = PQconnectdb(cfg.database_url);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    tb_test_unique(tag, sizeof tag, "IX");
    const char *bd = getenv("TB_BINARY_DIR");
    snprintf(log_path, sizeof log_path, "%s/test_influx.log", bd ? bd : "/tmp");
    snprintf(dir, sizeof dir, "%s.%s.d", log_path, tag);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    snprintf(csv, sizeof csv, "%s/ticks.csv", dir);
    start_influxd();
}

static void teardown(void) {
    if (fake) {
        bus_actor_stop(fake);
        bus_actor_destroy(fake);
        fake = NULL;
    }
    pid_t *all[] = {&analytics, &hist, &md, &influxd};
    for (size_t i = 0; i < 4; i++) {
        if (*all[i] > 0) (void)tb_test_stop(*all[i], 20000);
        *all[i] = 0;
    }
    char cmd[800];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    PQfinish(pg);
    bus_conn_close(conn);
    curl_global_cleanup();
}

/* market-data (replays only) and one historical-data writing to the
 * private influxd with sink settings extra (NAME=value entries). */
static void start_services(const char *run, char *const *extra, int nextra) {
    char mdi[96], hi[96], inst_md[120], inst_h[120], url[128];
    snprintf(mdi, sizeof mdi, "%s-%s-md", tag, run);
    snprintf(hi, sizeof hi, "%s-%s-hist", tag, run);
    md = tb_service_spawn("market-data", mdi, "MD_MODE=off", log_path);
    char bin[512];
    tb_test_bin(bin, sizeof bin, "actors/historical-data/tb-historical-data");
    snprintf(inst_h, sizeof inst_h, "INSTANCE_ID=%s", hi);
    snprintf(url, sizeof url, "INFLUX_URL=%s", influx_url);
    char *env[16] = {inst_h, "LOG_LEVEL=warn", url, "INFLUX_DB=tbtest"};
    int n = 4;
    for (int i = 0; i < nextra && n < 15; i++) env[n++] = extra[i];
    env[n] = NULL;
    char *argv[] = {bin, NULL};
    hist = tb_test_spawn(argv, env, log_path);
    (void)inst_md;
    ck_assert_msg(tb_service_wait(conn, "market-data", mdi, 1, 30000), "market-data not up (%s)",
                  log_path);
    ck_assert_msg(tb_service_wait(conn, "historical-data", hi, 1, 30000),
                  "historical-data not up (%s)", log_path);
}

/* n ticks over the N_SYM symbols <tag><run><suffix>, step_s seconds apart per
 * symbol; per_symbol gets each symbol's count. */
static void write_ticks(const char *run, int n, int step_s, long long per_symbol[N_SYM]) {
    FILE *f = fopen(csv, "w");
    ck_assert_msg(f != NULL, "cannot write %s", csv);
    fprintf(f, "ts,symbol,bid,ask,last,size\n");
    uint64_t x = 7;
    long long cents[N_SYM] = {1600000, 1100000};
    for (int i = 0; i < n; i++) {
        int k = i % N_SYM;
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        cents[k] += (long long)((x >> 33) % 41) - 20;
        long long c = cents[k];
        long long ts = 1700000000LL + (long long)(i / N_SYM) * step_s;
        fprintf(f, "%lld000000000,%s%s%s,%lld.%02lld,%lld.%02lld,%lld.%02lld,%d\n", ts, tag, run,
                sym_suffix[k], (c - 50) / 100, (c - 50) % 100, (c + 50) / 100, (c + 50) % 100,
                c / 100, c % 100, 1 + i % 10);
        per_symbol[k]++;
    }
    ck_assert_int_eq(fclose(f), 0);
}

/* Starts the replay of csv at full speed; its md.status subscription. */
static natsSubscription *replay(void) {
    natsSubscription *st = NULL;
    char subject[128];
    snprintf(subject, sizeof subject, "md.status.%s", tag);
    ck_assert_int_eq(natsConnection_SubscribeSync(&st, bus_conn_nats(conn), subject), NATS_OK);
    tb_market_replay rp = {.speed = 0};
    tb_md_status ms;
    snprintf(rp.path, sizeof rp.path, "%s", csv);
    snprintf(rp.format, sizeof rp.format, "ticks");
    snprintf(rp.source, sizeof rp.source, "%s", tag);
    tb_error err = {0};
    ck_assert_msg(bus_request(conn, "api.market.replay", &tb_market_replay_desc, &rp,
                              &tb_md_status_desc, &ms, 10000, NULL, &err) == TB_OK,
                  "replay: %s", err.message);
    return st;
}

/* The replay's end state ("" while running). */
static void replay_state(natsSubscription *st, char *state, size_t cap, uint64_t *ticks) {
    natsMsg *m = NULL;
    while (natsSubscription_NextMsg(&m, st, 1) == NATS_OK) {
        tb_md_status s;
        if (tb_decode(&tb_md_status_desc, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &s,
                      NULL) == TB_OK) {
            *ticks = s.ticks;
            if (strcmp(s.state, "running") != 0) snprintf(state, cap, "%s", s.state);
        }
        natsMsg_Destroy(m);
    }
}

static long long pg_ll(const char *q, int n, const char *const *params) {
    PGresult *r = PQexecParams(pg, q, n, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", q, PQerrorMessage(pg));
    long long v = PQgetisnull(r, 0, 0) ? 0 : atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

/* Bars of symbol in the interval that have closed in PostgreSQL: all but
 * the newest. */
static long long pg_closed(const char *sym, const char *iv) {
    const char *p[] = {sym, iv};
    long long n = pg_ll("SELECT count(*) FROM bars WHERE symbol = $1 AND interval = $2", 2, p);
    return n > 0 ? n - 1 : 0;
}

static long long pg_ticks_1s(const char *sym) {
    const char *p[] = {sym};
    return pg_ll("SELECT coalesce(sum(ticks), 0) FROM bars WHERE symbol = $1 AND interval = '1s'",
                 1, p);
}

/* count(close) of the symbol's bars per interval in InfluxDB. */
static void influx_counts(const char *sym, long long out[N_IV]) {
    char q[256], *body = NULL;
    snprintf(q, sizeof q,
             "SELECT count(\"close\") FROM bars WHERE symbol = '%s' GROUP BY \"interval\"", sym);
    long code = influx_http("/query", q, &body);
    for (int i = 0; i < N_IV; i++) out[i] = 0;
    json_t *j = code == 200 ? json_loads(body, 0, NULL) : NULL;
    free(body);
    ck_assert_msg(j != NULL, "influx query: HTTP %ld", code);
    json_t *series = json_object_get(json_array_get(json_object_get(j, "results"), 0), "series");
    for (size_t i = 0; i < json_array_size(series); i++) {
        json_t *s = json_array_get(series, i);
        const char *iv = json_string_value(json_object_get(json_object_get(s, "tags"), "interval"));
        json_t *row = json_array_get(json_object_get(s, "values"), 0);
        for (int k = 0; iv && k < N_IV; k++)
            if (strcmp(iv, intervals[k]) == 0)
                out[k] = (long long)json_integer_value(json_array_get(row, 1));
    }
    json_decref(j);
}

/* One bar's close in InfluxDB as text (its float printed by InfluxDB). */
static double influx_close(const char *sym, const char *iv, long long start_ns) {
    char q[300], *body = NULL;
    snprintf(
        q, sizeof q,
        "SELECT \"close\" FROM bars WHERE symbol = '%s' AND \"interval\" = '%s' AND time = %lld",
        sym, iv, start_ns);
    ck_assert_int_eq(influx_http("/query", q, &body), 200);
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    json_t *series = json_object_get(json_array_get(json_object_get(j, "results"), 0), "series");
    json_t *row = json_array_get(json_object_get(json_array_get(series, 0), "values"), 0);
    double v = json_number_value(json_array_get(row, 1));
    json_decref(j);
    return v;
}

static double metric_sum(const char *page, const char *name, const char *label) {
    double sum = 0;
    size_t len = strlen(name);
    for (const char *l = page; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, name, len) != 0 || (l[len] != '{' && l[len] != ' ')) continue;
        const char *eol = strchr(l, '\n');
        if (label && (!strstr(l, label) || (eol && strstr(l, label) > eol))) continue;
        const char *v = l + len;
        for (const char *q = l + len; *q && q != eol; q++)
            if (*q == ' ') v = q + 1;
        sum += strtod(v, NULL);
    }
    return sum;
}

static double hist_metric(const char *run, const char *name, const char *label) {
    char subject[200];
    snprintf(subject, sizeof subject, "svc.historical-data.%s-%s-hist.metrics", tag, run);
    bus_bytes rb;
    tb_error err = {0};
    ck_assert_msg(bus_request_bytes(conn, subject, "", 0, NULL, 5000, NULL, &rb, &err) == TB_OK,
                  "%s: %s", subject, err.message);
    double v = metric_sum(rb.data, name, label);
    bus_bytes_free(&rb);
    return v;
}

START_TEST(closed_bars_match_postgres) {
    /* 1s bars, left out by default, asked for; 1d bars left out. */
    char *extra[] = {"INFLUX_FLUSH_MS=200", "INFLUX_BAR_INTERVALS=1s,1m,5m,1h"};
    start_services("r1", extra, 2);
    long long want[N_SYM] = {0};
    /* 74 s between a symbol's ticks over about 2.5 days: many bars of
     * every interval, 1s and 1m ones one tick each. */
    write_ticks("r1", 6000, 74, want);
    natsSubscription *st = replay();
    char state[32] = "";
    uint64_t ticks = 0;
    int64_t end = bus_mono_ns() + INT64_C(60000) * 1000000;
    while (!state[0] && bus_mono_ns() < end) {
        replay_state(st, state, sizeof state, &ticks);
        usleep(20000);
    }
    natsSubscription_Destroy(st);
    ck_assert_msg(strcmp(state, "done") == 0, "replay: '%s' after %llu ticks (see %s)", state,
                  (unsigned long long)ticks, log_path);

    /* PostgreSQL complete, then InfluxDB equal to its closed bars. */
    long long pg_n[N_SYM][N_IV], ix[N_SYM][N_IV];
    bool equal = false;
    end = bus_mono_ns() + INT64_C(30000) * 1000000;
    while (!equal && bus_mono_ns() < end) {
        equal = true;
        for (int k = 0; k < N_SYM; k++) {
            char sym[80];
            snprintf(sym, sizeof sym, "%sr1%s", tag, sym_suffix[k]);
            equal = equal && pg_ticks_1s(sym) == want[k];
            influx_counts(sym, ix[k]);
            for (int i = 0; i < N_IV; i++) {
                pg_n[k][i] = pg_closed(sym, intervals[i]);
                equal = equal && (i == N_IV - 1 || pg_n[k][i] == ix[k][i]);
            }
        }
        if (!equal) usleep(200000);
    }
    for (int k = 0; k < N_SYM; k++) {
        printf("influx %s: closed bars 1s/1m/5m/1h/1d PostgreSQL %lld/%lld/%lld/%lld/%lld, "
               "InfluxDB %lld/%lld/%lld/%lld/%lld\n",
               sym_suffix[k], pg_n[k][0], pg_n[k][1], pg_n[k][2], pg_n[k][3], pg_n[k][4], ix[k][0],
               ix[k][1], ix[k][2], ix[k][3], ix[k][4]);
        for (int i = 0; i < N_IV - 1; i++) {
            ck_assert_msg(pg_n[k][i] == ix[k][i],
                          "%s %s: PostgreSQL %lld closed bars, InfluxDB %lld", sym_suffix[k],
                          intervals[i], pg_n[k][i], ix[k][i]);
            ck_assert_int_gt(ix[k][i], 1); /* not vacuous: bars of every interval closed */
        }
        /* 1d bars closed and were announced, but are not in the list. */
        ck_assert_int_gt(pg_n[k][N_IV - 1], 1);
        ck_assert_msg(ix[k][N_IV - 1] == 0, "%s: %lld 1d bars in InfluxDB, none asked for",
                      sym_suffix[k], ix[k][N_IV - 1]);
    }
    /* Values: the 5m bars' closes equal PostgreSQL's (decimals of 2 places
     * are exact through InfluxDB's float). */
    char sym[80];
    snprintf(sym, sizeof sym, "%sr1A", tag);
    const char *p[] = {sym};
    PGresult *r =
        PQexecParams(pg,
                     "SELECT (extract(epoch FROM start) * 1e9)::bigint, close::text FROM bars"
                     " WHERE symbol = $1 AND interval = '5m' ORDER BY start LIMIT 20",
                     1, NULL, p, NULL, NULL, 0);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    ck_assert_int_eq(PQntuples(r), 20);
    for (int i = 0; i < PQntuples(r); i++) {
        double got = influx_close(sym, "5m", atoll(PQgetvalue(r, i, 0)));
        ck_assert_msg(got == strtod(PQgetvalue(r, i, 1), NULL), "bar %d: InfluxDB %.8f, PG %s", i,
                      got, PQgetvalue(r, i, 1));
    }
    PQclear(r);
    ck_assert_int_eq(hist_metric("r1", "tb_influx_lines_total", "outcome=\"dropped\""), 0);
    /* It stops cleanly, the sink's thread and queue freed (ASan: no leak). */
    ck_assert_int_eq(tb_test_stop(hist, 20000), 0);
    hist = 0;
}
END_TEST

START_TEST(killing_influxd_does_not_stall_ticks) {
    /* A small queue, so the points of a replay overflow it at once. */
    char *extra[] = {"INFLUX_QUEUE_LINES=500", "INFLUX_FLUSH_MS=100", "INFLUX_TIMEOUT_MS=1000",
                     "INFLUX_BACKOFF_MAX_MS=1000", "INFLUX_BAR_INTERVALS=all"};
    start_services("r2", extra, 5);
    natsSubscription *flow = NULL;
    ck_assert_int_eq(natsConnection_SubscribeSync(&flow, bus_conn_nats(conn), "bus.flow.>"),
                     NATS_OK);
    ck_assert_int_eq(natsSubscription_SetPendingLimits(flow, -1, -1), NATS_OK);
    long long want[N_SYM] = {0};
    const int n = 30000;
    write_ticks("r2", n, 7, want);
    int64_t t0 = bus_mono_ns();
    natsSubscription *st = replay();
    tb_flow_tally tally = {0};
    char state[32] = "";
    uint64_t ticks = 0, at_kill = 0;
    int64_t t_kill = 0, end = t0 + INT64_C(120000) * 1000000;
    while (!state[0] && bus_mono_ns() < end) {
        natsMsg *m = NULL;
        while (natsSubscription_NextMsg(&m, flow, 1) == NATS_OK) {
            tb_flow_tally_add(&tally, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), tag);
            natsMsg_Destroy(m);
        }
        uint64_t done = tb_flow_finished(&tally, "historical-data", NULL);
        if (t_kill == 0 && done >= (uint64_t)n / 3) {
            ck_assert_int_eq(kill(influxd, SIGKILL), 0);
            ck_assert_int_eq(tb_test_wait_exit(influxd, 5000), 128 + SIGKILL);
            influxd = 0;
            t_kill = bus_mono_ns();
            at_kill = done;
        }
        replay_state(st, state, sizeof state, &ticks);
        usleep(2000);
    }
    natsSubscription_Destroy(st);
    ck_assert_msg(t_kill != 0, "influxd was not killed: the replay ended first (%s)", state);
    ck_assert_msg(strcmp(state, "done") == 0, "replay: '%s' after %llu ticks (see %s)", state,
                  (unsigned long long)ticks, log_path);
    /* Every tick stored, with InfluxDB gone. */
    long long got[N_SYM];
    bool all = false;
    int64_t settle = bus_mono_ns() + INT64_C(20000) * 1000000;
    while (!all && bus_mono_ns() < settle) {
        all = true;
        for (int k = 0; k < N_SYM; k++) {
            char sym[80];
            snprintf(sym, sizeof sym, "%sr2%s", tag, sym_suffix[k]);
            got[k] = pg_ticks_1s(sym);
            all = all && got[k] == want[k];
        }
        if (!all) usleep(100000);
    }
    int64_t t_end = bus_mono_ns();
    for (int k = 0; k < N_SYM; k++)
        ck_assert_msg(got[k] == want[k], "%s: %lld of %lld ticks stored", sym_suffix[k], got[k],
                      want[k]);
    double before = (double)at_kill / ((double)(t_kill - t0) / 1e9);
    double after = (double)((uint64_t)n - at_kill) / ((double)(t_end - t_kill) / 1e9);
    double dropped = hist_metric("r2", "tb_influx_lines_total", "outcome=\"dropped\"");
    double errors = hist_metric("r2", "tb_influx_write_errors_total", NULL);
    double written = hist_metric("r2", "tb_influx_lines_total", "outcome=\"written\"");
    printf("influx killed after %llu of %d ticks: %.0f ticks/s before, %.0f after; sink: %.0f "
           "lines written, %.0f dropped, %.0f failed writes\n",
           (unsigned long long)at_kill, n, before, after, written, dropped, errors);
    ck_assert_msg(dropped > 0, "no point was dropped: the queue did not overflow");
    ck_assert_msg(errors > 0, "no write failed after influxd was killed");
    ck_assert_msg(written > 0, "nothing was written before influxd was killed");
    /* Not held up: the ticks after the kill went at least a third as fast
     * as before it (a sink that waited on InfluxDB would take its 1 s
     * timeout per write). */
    ck_assert_msg(after >= before / 3, "ticks/s fell from %.0f to %.0f after the kill", before,
                  after);
    natsSubscription_Destroy(flow);
    /* With InfluxDB gone it still stops at once and cleanly. */
    int64_t t_stop = bus_mono_ns();
    ck_assert_int_eq(tb_test_stop(hist, 20000), 0);
    hist = 0;
    double stop_s = (double)(bus_mono_ns() - t_stop) / 1e9;
    ck_assert_msg(stop_s < 10, "historical-data took %.1f s to stop", stop_s);
}
END_TEST

/* position-management's valuation, scripted: every account is worth the
 * same. */
static tb_status on_accounts_get(bus_ctx *ctx, const void *ev) {
    const tb_query *q = ev;
    tb_account a = {.equity = INT64_C(10001250000000), /* 100012.5 */
                    .cash = INT64_C(8400025000000),    /* 84000.25 */
                    .realized_pnl = 150000000,         /* 1.5 */
                    .unrealized_pnl = -75000000,       /* -0.75 */
                    .ts = tb_now_ns()};
    snprintf(a.account, sizeof a.account, "%s", q->account);
    return bus_reply(ctx, &tb_account_desc, &a);
}

static const bus_endpoint fake_endpoints[] = {
    {.name = "accounts-get",
     .kind = BUS_REQUEST,
     .subject = "api.accounts.get",
     .event = &tb_query_desc,
     .handler = on_accounts_get},
};
static const bus_actor_def fake_def = {
    .name = "fake-position-management",
    .version = "0.0.1",
    .description = "scripted api.accounts.get for the InfluxDB test",
    .endpoints = fake_endpoints,
    .nendpoints = 1,
};

START_TEST(equity_points_reach_influxdb) {
    tb_error err = {0};
    ck_assert_msg(bus_actor_create(&fake_def, &cfg, &fake, &err) == TB_OK, "%s", err.message);
    ck_assert_msg(bus_actor_start(fake, &err) == TB_OK, "%s", err.message);
    char account[64], inst[120], url[128], bin[512];
    snprintf(account, sizeof account, "%seq", tag);
    const char *p[] = {account};
    PGresult *r = PQexecParams(pg,
                               "INSERT INTO accounts (id, name) VALUES ($1, 'influx test')"
                               " ON CONFLICT DO NOTHING",
                               1, NULL, p, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(pg));
    PQclear(r);
    snprintf(inst, sizeof inst, "INSTANCE_ID=%s-an", tag);
    snprintf(url, sizeof url, "INFLUX_URL=%s", influx_url);
    tb_test_bin(bin, sizeof bin, "actors/analytics/tb-analytics");
    char *argv[] = {bin, NULL};
    char *env[] = {inst, "LOG_LEVEL=warn", url, "INFLUX_DB=tbtest", "INFLUX_FLUSH_MS=200", NULL};
    analytics = tb_test_spawn(argv, env, log_path);
    ck_assert_msg(tb_service_wait(conn, "analytics", tag, 1, 30000), "analytics not up (%s)",
                  log_path);
    /* Three updates in three 1 s buckets, two in the last one. */
    const int64_t s0 = INT64_C(1700000000) * 1000000000;
    const int64_t ts[] = {s0 + 100, s0 + 1000000000 + 5, s0 + 2000000000 + 7, s0 + 2500000000};
    for (size_t i = 0; i < 4; i++) {
        tb_position_update u = {.qty = TB_FIXED_SCALE, .ts = ts[i]};
        snprintf(u.account, sizeof u.account, "%s", account);
        snprintf(u.symbol, sizeof u.symbol, "SYM");
        char subject[160];
        snprintf(subject, sizeof subject, "pos.update.%s.SYM", account);
        ck_assert_int_eq(bus_publish(conn, subject, &tb_position_update_desc, &u, NULL), TB_OK);
    }
    ck_assert_int_eq(bus_conn_flush(conn, 5000), TB_OK);
    char q[256], *body = NULL;
    snprintf(q, sizeof q,
             "SELECT equity, cash, realized_pnl, unrealized_pnl FROM equity WHERE account = '%s'",
             account);
    json_t *values = NULL, *j = NULL;
    int64_t end = bus_mono_ns() + INT64_C(20000) * 1000000;
    while (bus_mono_ns() < end) {
        ck_assert_int_eq(influx_http("/query?epoch=ns", q, &body), 200);
        json_decref(j);
        j = json_loads(body, 0, NULL);
        free(body);
        json_t *series =
            json_object_get(json_array_get(json_object_get(j, "results"), 0), "series");
        values = json_object_get(json_array_get(series, 0), "values");
        if (json_array_size(values) >= 3) break;
        usleep(200000);
    }
    ck_assert_msg(json_array_size(values) == 3, "%zu equity points in InfluxDB (see %s)",
                  json_array_size(values), log_path);
    for (size_t i = 0; i < 3; i++) {
        json_t *row = json_array_get(values, i);
        ck_assert_int_eq(json_integer_value(json_array_get(row, 0)), s0 + (int64_t)i * 1000000000);
        ck_assert(json_number_value(json_array_get(row, 1)) == 100012.5);
        ck_assert(json_number_value(json_array_get(row, 2)) == 84000.25);
        ck_assert(json_number_value(json_array_get(row, 3)) == 1.5);
        ck_assert(json_number_value(json_array_get(row, 4)) == -0.75);
    }
    json_decref(j);
    ck_assert_int_eq(pg_ll("SELECT count(*) FROM equity WHERE account = $1", 1, p), 3);
    ck_assert_int_eq(tb_test_stop(analytics, 20000), 0);
    analytics = 0;
}
END_TEST

int main(void) {
    Suite *s = suite_create("influx");
    TCase *tc = tcase_create("sink");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, closed_bars_match_postgres);
    tcase_add_test(tc, killing_influxd_does_not_stall_ticks);
    tcase_add_test(tc, equity_points_reach_influxdb);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nats_CloseAndWait(2000);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
