/* Deterministic pseudo-random numbers for the market simulator.
 *
 * xoshiro256** (Blackman and Vigna) seeded through splitmix64, so a 64-bit
 * seed gives the same stream on every run and machine. Normal variates use
 * Marsaglia's polar method, which needs only log and sqrt (sqrt is exact in
 * IEEE 754; glibc's log is deterministic for a given build). Not for
 * cryptography. No I/O, no global state: each stream lives in caller memory. */
#ifndef MD_RNG_H
#define MD_RNG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct md_rng {
    uint64_t s[4];
    double spare; /* second variate of the last polar pair */
    bool has_spare;
} md_rng;

/* One splitmix64 step: advances *state and returns the next output. */
uint64_t md_splitmix64(uint64_t *state);
/* FNV-1a of a NUL-terminated string: mixes a symbol into a seed. */
uint64_t md_hash_str(const char *s);

/* Seeds the four state words from splitmix64(seed), never all zero. */
void md_rng_seed(md_rng *r, uint64_t seed);
uint64_t md_rng_next(md_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double md_rng_uniform(md_rng *r);
/* Uniform integer in [lo, hi] (lo <= hi), without modulo bias. */
int64_t md_rng_range(md_rng *r, int64_t lo, int64_t hi);
/* Standard normal variate (mean 0, variance 1). */
double md_rng_normal(md_rng *r);

#endif
