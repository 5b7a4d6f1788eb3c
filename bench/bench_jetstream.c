/* jetstream: what the order path's durable publish costs against a core
 * publish of the same event.
 *
 * The variants send tb_order events one after another, on a send_asap
 * connection (as the order path's is) unless said otherwise, and time each
 * call:
 *   core publish     (baseline) bus_publish to a subject no stream captures:
 *                    fire and forget, nothing waits for the server
 *   js new id        bus_js_publish with a fresh Nats-Msg-Id: the call waits
 *                    for the stream's ack, so one round trip plus the
 *                    server's store per order
 *   js duplicate id  bus_js_publish again with an id the stream already
 *                    holds: the server answers from its dedupe window
 *                    without storing (a retried publish after a lost ack)
 *   js, buffered     bus_js_publish with fresh ids on a send_asap=false
 *                    connection: nats.c sends a JetStream publish as a
 *                    request, which it writes at once whatever the setting,
 *                    so this should match the second row
 * The stream is a throwaway copy of ORDERS' settings (file storage, 2-minute
 * duplicate window) named BENCH_<pid>_<random>, deleted at the end, so the
 * real ORDERS stream and its consumers never see benchmark orders. Creating
 * and deleting it is the one place tb-bench calls nats.c directly: bus/ has
 * no call for throwaway streams, and services must not have one. */
#include <nats/nats.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static natsStatus make_stream(bus_conn *c, const char *name, const char *subjects) {
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    const char *subj[1] = {subjects};
    sc.Name = name;
    sc.Subjects = subj;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Retention = js_LimitsPolicy;
    sc.MaxAge = INT64_C(3600) * 1000000000; /* bounded even if the delete is missed */
    sc.Duplicates = INT64_C(120) * 1000000000;
    jsStreamInfo *si = NULL;
    natsStatus s = js_AddStream(&si, bus_conn_js(c), &sc, NULL, NULL);
    jsStreamInfo_Destroy(si);
    return s;
}

enum { V_CORE, V_JS_NEW, V_JS_DUP, V_JS_BUFFERED, NV };

static bool run_round(bench_group *g, size_t v, bus_conn *c, const char *core_subject,
                      const char *js_subject, const char *id_prefix, int round, size_t n, char *why,
                      size_t cap) {
    tb_order ord;
    memset(&ord, 0, sizeof ord);
    snprintf(ord.account, sizeof ord.account, "BENCH");
    snprintf(ord.symbol, sizeof ord.symbol, "DAX");
    snprintf(ord.side, sizeof ord.side, "buy");
    snprintf(ord.type, sizeof ord.type, "limit");
    snprintf(ord.tif, sizeof ord.tif, "day");
    snprintf(ord.source, sizeof ord.source, "api");
    ord.qty = TB_FIXED_SCALE;
    ord.limit_price = 18000 * TB_FIXED_SCALE;
    tb_error err = {0};
    int64_t t0 = bus_mono_ns();
    for (size_t i = 0; i < n; i++) {
        /* The duplicate variant reuses the ids the new-id variant stored in
         * this round; the buffered one has its own. */
        int len = snprintf(ord.order_id, sizeof ord.order_id, "%.32s-%s%d-%zu", id_prefix,
                           v == V_JS_BUFFERED ? "b" : "", round, i);
        if (len < 0 || (size_t)len >= sizeof ord.order_id) {
            snprintf(why, cap, "order id too long");
            return false;
        }
        ord.ts = t0 + (int64_t)i;
        bus_msg_meta meta = {.msg_id = ord.order_id};
        bool dup = false;
        int64_t s0 = bus_mono_ns();
        tb_status s = v == V_CORE
                          ? bus_publish(c, core_subject, &tb_order_desc, &ord, &meta)
                          : bus_js_publish(c, js_subject, &tb_order_desc, &ord, &meta, &dup, &err);
        bench_latency(g, v, bus_mono_ns() - s0);
        if (s != TB_OK) {
            snprintf(why, cap, "publish %zu: %s %.160s", i, tb_status_code(s), err.message);
            return false;
        }
        if (v != V_CORE && dup != (v == V_JS_DUP)) {
            snprintf(why, cap, "publish %zu: duplicate flag %d, expected %d", i, dup,
                     v == V_JS_DUP);
            return false;
        }
    }
    /* Core publishes count once the server has them all. */
    if (v == V_CORE && bus_conn_flush(c, 10000) != TB_OK) {
        snprintf(why, cap, "final flush failed");
        return false;
    }
    bench_record(g, v, n, bus_mono_ns() - t0);
    return true;
}

bool bench_jetstream(const bench_opts *o) {
    static const char *const names[] = {
        "core bus_publish (no ack)", "bus_js_publish, new Nats-Msg-Id",
        "bus_js_publish, duplicate Nats-Msg-Id", "bus_js_publish, new id, send_asap=false"};
    size_t n = bench_count(o, 3000, 20);
    char prefix[128], core_subject[160], js_subject[160], js_filter[160], stream[64], id[33];
    bench_subject(prefix, sizeof prefix, "orders");
    snprintf(core_subject, sizeof core_subject, "%s.core.BENCH", prefix);
    snprintf(js_subject, sizeof js_subject, "%s.js.BENCH", prefix);
    snprintf(js_filter, sizeof js_filter, "%s.js.>", prefix);
    bus_new_id(id, sizeof id);
    snprintf(stream, sizeof stream, "BENCH_%ld_%.8s", (long)getpid(), id);

    bus_conn *c = NULL, *buffered = NULL;
    tb_error err = {0};
    bool stream_made = false;
    bool ok = bus_conn_open(&o->cfg, &(bus_conn_opts){.name = "bench-js", .send_asap = true}, &c,
                            &err) == TB_OK &&
              bus_conn_open(&o->cfg, &(bus_conn_opts){.name = "bench-js", .send_asap = false},
                            &buffered, &err) == TB_OK;
    if (!ok) {
        printf("%-10s FAILED: %s (are the servers running? scripts/servers start)\n", "jetstream",
               err.message);
        bus_conn_close(c);
        return false;
    }
    natsStatus ns = make_stream(c, stream, js_filter);
    stream_made = ns == NATS_OK;
    if (!stream_made) {
        printf("%-10s FAILED: create stream %s: %s\n", "jetstream", stream, natsStatus_GetText(ns));
        ok = false;
    }
    bench_group g;
    char title[96];
    snprintf(title, sizeof title, "tb_order publish, file stream, %zu per round", n);
    if (ok && !bench_group_init(&g, "jetstream", title, BENCH_RATIO_OPS, names, NV, o->reps, n))
        ok = false;
    if (ok) {
        char why[256];
        for (int r = 0; r < o->reps; r++)
            for (size_t v = 0; v < NV; v++) {
                if (g.v[v].failed) continue;
                /* Without this round's stored ids there is nothing to repeat. */
                if (v == V_JS_DUP && g.v[V_JS_NEW].failed) {
                    bench_fail(&g, v, "no stored ids (new-id variant failed)");
                    continue;
                }
                if (!run_round(&g, v, v == V_JS_BUFFERED ? buffered : c, core_subject, js_subject,
                               id, r, n, why, sizeof why))
                    bench_fail(&g, v, "%s", why);
            }
        ok = bench_print_group(&g);
        bench_group_free(&g);
    }
    if (stream_made) {
        ns = js_DeleteStream(bus_conn_js(c), stream, NULL, NULL);
        if (ns != NATS_OK)
            fprintf(stderr,
                    "tb-bench: could not delete stream %s: %s (its messages expire within an hour; "
                    "remove it by hand)\n",
                    stream, natsStatus_GetText(ns));
    }
    bus_conn_close(buffered);
    bus_conn_close(c);
    return ok;
}
