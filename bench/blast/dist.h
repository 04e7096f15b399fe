/* SPDX-License-Identifier: MIT */
/*
 * dist.h - pseudo-random numbers and message-size distributions for sluice-blast.
 *
 * blast_rng: xoshiro256** seeded through splitmix64; one per thread or per generator, never
 * shared. blast_rng_normal uses Box-Muller (one value per call; the pair's twin is dropped).
 *
 * Size distributions (all in bytes, all clamped to [min, max]):
 *   "10k"                      fixed
 *   "uniform:1k-100k"          uniform on [a, b]
 *   "lognormal:16k,1.2[,4m]"   median 16 KiB, sigma 1.2 (of the natural log), optional cap
 * Suffixes k, m, g are powers of 1024. blast_dist_parse returns 0 or -EINVAL; min defaults to
 * BLAST_SIZE_MIN (the smallest message the body generator makes) and max to BLAST_SIZE_MAX.
 */
#ifndef SLUICE_BENCH_BLAST_DIST_H
#define SLUICE_BENCH_BLAST_DIST_H

#include <stddef.h>
#include <stdint.h>

#define BLAST_SIZE_MIN 512u
#define BLAST_SIZE_MAX (64ull << 20)

struct blast_rng {
	uint64_t s[4];
};

void blast_rng_seed(struct blast_rng *r, uint64_t seed);
uint64_t blast_rng_next(struct blast_rng *r);
double blast_rng_double(struct blast_rng *r);
uint64_t blast_rng_below(struct blast_rng *r, uint64_t n);
double blast_rng_normal(struct blast_rng *r);

enum blast_dist_kind {
	BLAST_DIST_FIXED,
	BLAST_DIST_UNIFORM,
	BLAST_DIST_LOGNORMAL,
};

struct blast_dist {
	enum blast_dist_kind kind;
	uint64_t a;   /* fixed value, uniform low bound, log-normal median */
	uint64_t b;   /* uniform high bound */
	double sigma; /* log-normal shape */
	uint64_t min;
	uint64_t max;
};

int blast_parse_size(const char *s, uint64_t *out);
int blast_dist_parse(struct blast_dist *d, const char *spec);
uint64_t blast_dist_sample(const struct blast_dist *d, struct blast_rng *r);
double blast_dist_mean(const struct blast_dist *d);
int blast_dist_describe(const struct blast_dist *d, char *buf, size_t cap);

#endif
