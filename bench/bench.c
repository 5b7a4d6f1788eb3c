/* Statistics and the result table of tb-bench (see bench.h).
 *
 * Throughput is the median of the rounds' ops/s: the median ignores a round
 * disturbed by another process. The spread column is (max - min) / median of
 * those rounds, so a reader sees how much a number can be trusted. Latency
 * percentiles are taken over the samples of all rounds pooled, which gives
 * p99 enough samples to mean something.
 *
 * The ratio is paired: round r of a variant ran right after round r of the
 * baseline, so both saw nearly the same load from the rest of the machine.
 * Each round gives one ratio (ops/s over the baseline's ops/s, or the
 * baseline's p50 over the variant's p50 in that round) and the table shows
 * their median. On a busy machine that is much steadier than dividing two
 * medians taken at different moments. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

size_t bench_count(const bench_opts *o, size_t n, size_t min_n) {
    double x = (double)n * o->scale;
    size_t r = x < 1.0 ? 1 : (size_t)x;
    return r < min_n ? min_n : r;
}

bool bench_group_init(bench_group *g, const char *bench, const char *what, bench_ratio ratio,
                      const char *const *names, size_t nv, int reps, size_t lat_per_round) {
    memset(g, 0, sizeof *g);
    if (nv == 0 || nv > BENCH_MAX_VARIANTS || reps < 1 || reps > BENCH_MAX_REPS) return false;
    g->bench = bench;
    g->what = what;
    g->ratio = ratio;
    g->v = calloc(nv, sizeof *g->v);
    if (g->v == NULL) return false;
    g->nv = nv;
    for (size_t i = 0; i < nv; i++) {
        bench_variant *v = &g->v[i];
        v->name = names[i];
        v->rate = calloc((size_t)reps, sizeof *v->rate);
        if (v->rate == NULL) goto oom;
        if (lat_per_round > 0) {
            v->lat_cap = lat_per_round * (size_t)reps;
            v->lat = malloc(v->lat_cap * sizeof *v->lat);
            if (v->lat == NULL) goto oom;
        }
    }
    return true;
oom:
    bench_group_free(g);
    return false;
}

void bench_group_free(bench_group *g) {
    for (size_t i = 0; g->v && i < g->nv; i++) {
        free(g->v[i].rate);
        free(g->v[i].lat);
    }
    free(g->v);
    memset(g, 0, sizeof *g);
}

void bench_record(bench_group *g, size_t i, size_t ops, int64_t elapsed_ns) {
    bench_variant *v = &g->v[i];
    if (v->rounds >= BENCH_MAX_REPS) return;
    v->ops = ops;
    v->round_end[v->rounds] = v->nlat;
    v->rate[v->rounds++] = elapsed_ns > 0 ? (double)ops * 1e9 / (double)elapsed_ns : 0.0;
}

void bench_latency(bench_group *g, size_t i, int64_t ns) {
    bench_variant *v = &g->v[i];
    if (v->nlat < v->lat_cap) v->lat[v->nlat++] = ns;
}

void bench_fail(bench_group *g, size_t i, const char *fmt, ...) {
    bench_variant *v = &g->v[i];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->note, sizeof v->note, fmt, ap);
    va_end(ap);
    v->failed = true;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double median_of(double *x, int n) {
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

/* Nearest-rank p50 of round r's latency samples (unsorted); -1 when none. */
static int64_t round_p50(const bench_variant *v, int r) {
    size_t from = r > 0 ? v->round_end[r - 1] : 0, n = v->round_end[r] - from;
    if (n == 0) return -1;
    int64_t *tmp = malloc(n * sizeof *tmp);
    if (tmp == NULL) return -1;
    memcpy(tmp, v->lat + from, n * sizeof *tmp);
    qsort(tmp, n, sizeof *tmp, cmp_i64);
    int64_t p = tmp[(n + 1) / 2 - 1];
    free(tmp);
    return p;
}

/* Median of the per-round ratios of v against the baseline b; NAN when no
 * round of both succeeded. */
static double paired_ratio(const bench_group *g, const bench_variant *b, const bench_variant *v) {
    double r[BENCH_MAX_REPS];
    int n = 0, rounds = b->rounds < v->rounds ? b->rounds : v->rounds;
    for (int i = 0; i < rounds; i++) {
        if (g->ratio == BENCH_RATIO_OPS) {
            if (b->rate[i] > 0) r[n++] = v->rate[i] / b->rate[i];
        } else {
            int64_t pb = round_p50(b, i), pv = round_p50(v, i);
            if (pb > 0 && pv > 0) r[n++] = (double)pb / (double)pv;
        }
    }
    return n > 0 ? median_of(r, n) : NAN;
}

/* Median of the rounds' rates and their relative spread. */
static void rate_stats(const bench_variant *v, double *median, double *spread) {
    *median = 0;
    *spread = 0;
    if (v->rounds == 0) return;
    double sorted[BENCH_MAX_REPS];
    int n = v->rounds < BENCH_MAX_REPS ? v->rounds : BENCH_MAX_REPS;
    memcpy(sorted, v->rate, (size_t)n * sizeof *sorted);
    *median = median_of(sorted, n);
    if (*median > 0) *spread = (sorted[n - 1] - sorted[0]) / *median;
}

/* Nearest-rank percentile of the sorted latency pool; -1 when empty. */
static int64_t percentile(const bench_variant *v, double p) {
    if (v->nlat == 0) return -1;
    size_t rank = (size_t)ceil(p / 100.0 * (double)v->nlat);
    if (rank < 1) rank = 1;
    return v->lat[rank - 1];
}

static void fmt_rate(double r, char *out, size_t cap) {
    if (r >= 1e9)
        snprintf(out, cap, "%.2fG", r / 1e9);
    else if (r >= 1e6)
        snprintf(out, cap, "%.2fM", r / 1e6);
    else if (r >= 1e3)
        snprintf(out, cap, "%.1fk", r / 1e3);
    else
        snprintf(out, cap, "%.1f", r);
}

static void fmt_ns(int64_t ns, char *out, size_t cap) {
    if (ns < 0)
        snprintf(out, cap, "-");
    else if (ns < 10000)
        snprintf(out, cap, "%lld ns", (long long)ns);
    else if (ns < 10000000)
        snprintf(out, cap, "%.1f us", (double)ns / 1e3);
    else
        snprintf(out, cap, "%.2f ms", (double)ns / 1e6);
}

#define ROW_FMT "%-10s %-48s %10s %10s %10s %7s %11s\n"

void bench_print_heading(void) {
    printf(ROW_FMT, "benchmark", "variant", "ops/s", "p50", "p99", "spread", "ratio");
    printf("%.*s\n", 113,
           "-----------------------------------------------------------------------------------"
           "------------------------------------------");
    fflush(stdout);
}

bool bench_print_group(const bench_group *g) {
    bool ok = true;
    double ratios[BENCH_MAX_VARIANTS];
    size_t nv = g->nv < BENCH_MAX_VARIANTS ? g->nv : BENCH_MAX_VARIANTS;
    /* Paired ratios need each round's samples in order: before sorting. */
    for (size_t i = 0; i < nv; i++) ratios[i] = paired_ratio(g, &g->v[0], &g->v[i]);
    for (size_t i = 0; i < nv; i++) {
        bench_variant *v = &g->v[i];
        if (v->nlat > 0) qsort(v->lat, v->nlat, sizeof *v->lat, cmp_i64);
    }
    printf("%-10s %s; ratio of %s\n", g->bench, g->what,
           g->ratio == BENCH_RATIO_OPS ? "ops/s" : "p50 latency");
    for (size_t i = 0; i < nv; i++) {
        const bench_variant *v = &g->v[i];
        double rate, spread;
        rate_stats(v, &rate, &spread);
        char srate[32], s50[32], s99[32], sspread[32], sratio[32];
        fmt_rate(rate, srate, sizeof srate);
        fmt_ns(percentile(v, 50), s50, sizeof s50);
        fmt_ns(percentile(v, 99), s99, sizeof s99);
        snprintf(sspread, sizeof sspread, "%.0f%%", spread * 100);
        if (v->failed || v->rounds == 0 || isnan(ratios[i]))
            snprintf(sratio, sizeof sratio, "-");
        else if (i == 0)
            snprintf(sratio, sizeof sratio, "1.00x base");
        else
            snprintf(sratio, sizeof sratio, ratios[i] < 10 ? "%.2fx" : "%.1fx", ratios[i]);
        printf(ROW_FMT, "", v->name, v->rounds ? srate : "-", s50, s99, v->rounds ? sspread : "-",
               sratio);
        if (v->note[0]) printf("%-10s   %s%s\n", "", v->failed ? "FAILED: " : "", v->note);
        if (v->failed) ok = false;
    }
    fflush(stdout);
    return ok;
}

void bench_subject(char *out, size_t cap, const char *suffix) {
    char id[33];
    bus_new_id(id, sizeof id);
    snprintf(out, cap, "bench.%ld.%.8s.%s", (long)getpid(), id, suffix);
}

/* A volatile store the compiler must perform. */
static volatile uint64_t sink;

void bench_consume(uint64_t v) {
    sink ^= v;
}
