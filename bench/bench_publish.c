/* publish: tick fan-out throughput on the three ways a connection can send.
 *
 * One publisher connection per variant sends n tb_tick events with
 * bus_publish to one subject; a separate subscriber connection counts them
 * with a core subscription (bus_subscribe). A round's time runs from the
 * first publish until the subscriber has counted all n, so a variant cannot
 * look fast by leaving messages in a buffer. The variants:
 *   buffered     send_asap=false, as market-data's bulk connection: nats.c
 *                collects publishes and its flusher writes them in batches
 *   send_asap    send_asap=true, as the request and order connections: one
 *                socket write per publish
 *   flush/msg    (baseline) bus_conn_flush after every publish: a PING/PONG
 *                round trip each, what a publisher that must know each tick
 *                reached the server would pay
 * The flush variant sends a tenth of n (it is that much slower); msgs/s is
 * comparable regardless. A round whose messages do not all arrive within
 * 30 s fails the variant instead of reporting a rate. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define DELIVERY_TIMEOUT_NS INT64_C(30000000000)

static void on_tick(const bus_msg *m, void *arg) {
    (void)m;
    atomic_fetch_add_explicit((atomic_size_t *)arg, 1, memory_order_relaxed);
}

/* Publishes n ticks on c and waits until the subscriber counted them all.
 * Returns the elapsed ns, or -1 with why filled. */
static int64_t run_round(bus_conn *c, bool flush_each, const char *subject, size_t n,
                         atomic_size_t *count, char *why, size_t cap) {
    tb_tick t;
    memset(&t, 0, sizeof t);
    snprintf(t.symbol, sizeof t.symbol, "DAX");
    snprintf(t.source, sizeof t.source, "sim");
    t.bid_size = t.ask_size = 10 * TB_FIXED_SCALE;
    atomic_store(count, 0);
    int64_t t0 = bus_mono_ns();
    for (size_t i = 0; i < n; i++) {
        t.seq = i + 1;
        t.ts = t0 + (int64_t)i;
        t.last = 18000 * TB_FIXED_SCALE + (tb_fixed)(i % 1000) * 1000000;
        t.bid = t.last - 50000000;
        t.ask = t.last + 50000000;
        tb_status s = bus_publish(c, subject, &tb_tick_desc, &t, NULL);
        if (s == TB_OK && flush_each) s = bus_conn_flush(c, 5000);
        if (s != TB_OK) {
            snprintf(why, cap, "publish %zu: %s", i, tb_status_code(s));
            return -1;
        }
    }
    if (!flush_each) {
        tb_status s = bus_conn_flush(c, 10000);
        if (s != TB_OK) {
            snprintf(why, cap, "final flush: %s", tb_status_code(s));
            return -1;
        }
    }
    while (atomic_load(count) < n) {
        if (bus_mono_ns() - t0 > DELIVERY_TIMEOUT_NS) {
            snprintf(why, cap, "%zu of %zu ticks arrived (slow consumer?)", atomic_load(count), n);
            return -1;
        }
        /* Short sleeps: the publisher thread must not steal the CPU the
         * subscriber needs, and 20 us is small against any round. */
        usleep(20);
    }
    int64_t dt = bus_mono_ns() - t0;
    if (atomic_load(count) != n) {
        snprintf(why, cap, "%zu ticks arrived for %zu sent", atomic_load(count), n);
        return -1;
    }
    return dt;
}

bool bench_publish(const bench_opts *o) {
    static const char *const names[] = {"flush after every publish (send_asap=false)",
                                        "send_asap=true", "buffered (send_asap=false)"};
    enum { NV = 3 };
    const bool asap[NV] = {false, true, false};
    const bool flush_each[NV] = {true, false, false};
    size_t n_fast = bench_count(o, 200000, 100);
    size_t n[NV] = {n_fast / 10 > 0 ? n_fast / 10 : 1, n_fast, n_fast};

    char subject[128];
    bench_subject(subject, sizeof subject, "md.tick.DAX");
    bus_conn *pub[NV] = {NULL}, *sub_conn = NULL;
    bus_sub *sub = NULL;
    atomic_size_t count;
    atomic_init(&count, 0);
    tb_error err = {0};
    bool ok = bus_conn_open(&o->cfg, &(bus_conn_opts){.name = "bench-sub", .send_asap = true},
                            &sub_conn, &err) == TB_OK;
    if (ok) ok = bus_subscribe(sub_conn, subject, on_tick, &count, &sub, &err) == TB_OK;
    /* The subscription must be known to the server before the first round. */
    if (ok) ok = bus_conn_flush(sub_conn, 5000) == TB_OK;
    for (size_t v = 0; ok && v < NV; v++)
        ok = bus_conn_open(&o->cfg, &(bus_conn_opts){.name = "bench-pub", .send_asap = asap[v]},
                           &pub[v], &err) == TB_OK;
    if (!ok) {
        printf("%-10s FAILED: NATS: %s (are the servers running? scripts/servers start)\n",
               "publish", err.message[0] ? err.message : "flush failed");
    }
    bench_group g;
    char title[96];
    snprintf(title, sizeof title, "tb_tick fan-out to 1 core subscriber, %zu msgs per round",
             n_fast);
    if (ok && !bench_group_init(&g, "publish", title, BENCH_RATIO_OPS, names, NV, o->reps, 0))
        ok = false;
    if (ok) {
        char why[128];
        for (int r = 0; r < o->reps; r++)
            for (size_t v = 0; v < NV; v++) {
                if (g.v[v].failed) continue;
                int64_t dt =
                    run_round(pub[v], flush_each[v], subject, n[v], &count, why, sizeof why);
                if (dt < 0)
                    bench_fail(&g, v, "%s", why);
                else
                    bench_record(&g, v, n[v], dt);
            }
        ok = bench_print_group(&g);
        bench_group_free(&g);
    }
    bus_unsubscribe(sub);
    for (size_t v = 0; v < NV; v++) bus_conn_close(pub[v]);
    bus_conn_close(sub_conn);
    return ok;
}
