/* Shared by the fuzz targets (tests/fuzz/fuzz_*.c): the libFuzzer entry
 * point, and an oracle that stops the run on a wrong result (libFuzzer then
 * saves the input). Each target is also built without libFuzzer, with
 * replay.c as main, to run its corpus in the ordinary test suites. */
#ifndef TB_FUZZ_H
#define TB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken property is a finding like a crash: say which and abort. */
#define FUZZ_CHECK(cond, what)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, what);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
