/* Benchmark harness shared by every tb-bench benchmark: run sizes, sample
 * statistics and the result table.
 *
 * A benchmark measures a group of variants of one operation, always
 * including a baseline, in the same process run and interleaved (round r
 * runs every variant once before round r+1 starts), so drift in the machine's
 * load hits every variant alike. Each group prints one table row per variant
 * with its ratio against the baseline of that group; numbers from different
 * runs are never compared. Durations come from CLOCK_MONOTONIC
 * (bus_mono_ns). This file does no NATS I/O. */
#ifndef TB_BENCH_H
#define TB_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actor.h"

/* Most rounds a variant may run (--reps). */
#define BENCH_MAX_REPS 64
/* Most variants in one group. */
#define BENCH_MAX_VARIANTS 8

/* How much work each benchmark does. */
typedef struct bench_opts {
    int reps;       /* rounds per variant; the table shows the median round */
    double scale;   /* multiplies every benchmark's operation count */
    bool smoke;     /* tiny runs that only prove the benchmark works */
    bus_config cfg; /* NATS_URL etc. for the benchmarks that talk to NATS */
} bench_opts;

/* n scaled by opts->scale, at least min_n. */
size_t bench_count(const bench_opts *o, size_t n, size_t min_n);

/* How a variant is compared with its group's baseline. */
typedef enum {
    BENCH_RATIO_OPS, /* ops/s divided by the baseline's ops/s */
    BENCH_RATIO_P50, /* the baseline's p50 latency divided by this p50 */
} bench_ratio;

/* One variant's measurements over all rounds. */
typedef struct bench_variant {
    const char *name;
    size_t ops;   /* operations per round */
    double *rate; /* ops/s of each round (reps entries) */
    int64_t *lat; /* per-operation latencies, ns, all rounds pooled; may be NULL */
    size_t nlat, lat_cap;
    size_t round_end[BENCH_MAX_REPS]; /* nlat at the end of each round */
    int rounds;                       /* rounds recorded */
    char note[64];                    /* printed after the row, e.g. "12 dropped" */
    bool failed;                      /* a correctness check or a transfer failed */
} bench_variant;

/* A group: variants[0] is the baseline. */
typedef struct bench_group {
    const char *bench; /* benchmark name: "publish", "codec", ... */
    const char *what;  /* operation measured, for the table's group title */
    bench_ratio ratio;
    bench_variant *v;
    size_t nv;
} bench_group;

/* Allocates nv variants with room for reps rounds, and for lat_per_round
 * latency samples per round when > 0. Returns false on OOM or when nv or
 * reps exceed BENCH_MAX_VARIANTS / BENCH_MAX_REPS. */
bool bench_group_init(bench_group *g, const char *bench, const char *what, bench_ratio ratio,
                      const char *const *names, size_t nv, int reps, size_t lat_per_round);
void bench_group_free(bench_group *g);

/* Records one round of variant i: ops operations in elapsed_ns. Latency
 * samples added since the previous round belong to this round. */
void bench_record(bench_group *g, size_t i, size_t ops, int64_t elapsed_ns);
/* Adds one latency sample to variant i (ignored when the pool is full). */
void bench_latency(bench_group *g, size_t i, int64_t ns);
/* Marks variant i as failed with a reason (printf-style). */
void bench_fail(bench_group *g, size_t i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints the table heading once (column names and the ratio's meaning). */
void bench_print_heading(void);
/* Prints the group's rows; returns false when any variant failed. */
bool bench_print_group(const bench_group *g);

/* Each benchmark: runs its groups, prints them, returns false when any
 * correctness check failed or a variant could not complete. */
bool bench_publish(const bench_opts *o);
bool bench_request(const bench_opts *o);
bool bench_codec(const bench_opts *o);
bool bench_money(const bench_opts *o);
bool bench_jetstream(const bench_opts *o);

/* A subject prefix unique to this process: "bench.<pid>.<random>". */
void bench_subject(char *out, size_t cap, const char *suffix);

/* Keeps a value alive so the optimiser cannot drop the work producing it. */
void bench_consume(uint64_t v);

#endif
