/* tb-bench: micro-benchmarks of the bus and catalogue paths the services
 * depend on, each printed as ratios against a baseline measured in the same
 * run (see docs/benchmarks.md). scripts/bench builds it in Release and runs
 * it against the local servers.
 *
 *   $ eval "$(scripts/env)"
 *   $ build-bench/bench/tb-bench --quick codec money
 *
 * The NATS benchmarks (publish, request, jetstream) use NATS_URL; codec and
 * money need no server. Exit status 0 when every benchmark ran and its
 * correctness checks passed, 1 otherwise, 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct bench_entry {
    const char *name;
    bool (*run)(const bench_opts *o);
    const char *doc;
} bench_entry;

static const bench_entry benches[] = {
    {"codec", bench_codec, "tb_encode/tb_decode vs a specialised msgpack-c codec"},
    {"money", bench_money, "tb_fixed_mul vs plain int64 multiply-divide"},
    {"publish", bench_publish, "tick fan-out: buffered vs send_asap vs flush per message"},
    {"request", bench_request, "request-reply latency: send_asap=true vs false"},
    {"jetstream", bench_jetstream, "bus_js_publish with Nats-Msg-Id vs core publish"},
};
#define NBENCHES (sizeof benches / sizeof benches[0])

static void usage(FILE *f) {
    fprintf(f,
            "Usage: tb-bench [--quick] [--smoke] [--reps N] [BENCHMARK...]\n"
            "\n"
            "Runs the benchmarks (all by default) and prints one table row per variant with\n"
            "its ratio against the baseline variant of the same group, measured in this run.\n"
            "\n"
            "  --quick    a fifth of the operations and 3 rounds\n"
            "  --smoke    one tiny round each: checks that everything runs, numbers mean nothing\n"
            "  --reps N   rounds per variant (default 5, at most %d); rows show the median\n"
            "\n"
            "Benchmarks:\n",
            BENCH_MAX_REPS);
    for (size_t i = 0; i < NBENCHES; i++)
        fprintf(f, "  %-10s %s\n", benches[i].name, benches[i].doc);
    fprintf(f,
            "\nEnvironment: NATS_URL (publish, request, jetstream), LOG_LEVEL (default warn).\n");
}

int main(int argc, char **argv) {
    bench_opts o = {.reps = 5, .scale = 1.0};
    bool selected[NBENCHES] = {false};
    bool any = false, reps_set = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--quick") == 0) {
            o.scale = 0.2;
            if (!reps_set) o.reps = 3;
        } else if (strcmp(a, "--smoke") == 0) {
            o.smoke = true;
        } else if (strcmp(a, "--reps") == 0 && i + 1 < argc) {
            char *end = NULL;
            long n = strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end != '\0' || n < 1 || n > BENCH_MAX_REPS) {
                fprintf(stderr, "tb-bench: --reps needs a number from 1 to %d\n", BENCH_MAX_REPS);
                return 2;
            }
            o.reps = (int)n;
            reps_set = true;
        } else {
            size_t k = 0;
            while (k < NBENCHES && strcmp(a, benches[k].name) != 0) k++;
            if (k == NBENCHES) {
                fprintf(stderr, "tb-bench: unknown argument '%s'\n\n", a);
                usage(stderr);
                return 2;
            }
            selected[k] = any = true;
        }
    }
    if (o.smoke) {
        o.scale = 0.002;
        o.reps = 1;
    }
    /* The in-process actor of the request benchmark would log its start. */
    setenv("LOG_LEVEL", "warn", 0);
    tb_error err = {0};
    if (bus_config_load(&o.cfg, "tb-bench", &err) != TB_OK) {
        fprintf(stderr, "tb-bench: %s\n", err.message);
        return 2;
    }
    bus_log_init("tb-bench", o.cfg.instance, o.cfg.log_level);

    bench_print_heading();
    bool ok = true;
    for (size_t k = 0; k < NBENCHES; k++)
        if (!any || selected[k]) ok = benches[k].run(&o) && ok;
    bus_library_close(5000);
    fflush(stdout);
    if (!ok) fprintf(stderr, "tb-bench: some benchmarks failed (see FAILED above)\n");
    return ok ? 0 : 1;
}
