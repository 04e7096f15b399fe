/* SPDX-License-Identifier: MIT */
/*
 * hist.h - log-linear latency histogram (HDR style) for sluice-blast.
 *
 * Values (nanoseconds, or any unsigned unit) below 2^S are counted exactly; above, every octave
 * [2^m, 2^(m+1)) is split into 2^(S-1) equal buckets, so the relative error of any reported value
 * is at most 2^-(S-1) (S = sub_bits; S = 10 gives 0.2%). Recording is O(1) with no branches
 * beyond a compare; percentiles walk the counts once.
 *
 * Public functions:
 *   blast_hist_init(h, sub_bits, max_value)  allocate counts (the only allocation)
 *   blast_hist_free(h), blast_hist_reset(h)
 *   blast_hist_record(h, v)                  count v (values above max_value count as max_value
 *                                            and are also counted in h->clamped)
 *   blast_hist_index / _lowest / _highest    bucket geometry (exposed for tests)
 *   blast_hist_percentile(h, pct)            highest value equivalent to the bucket holding the
 *                                            ceil(pct% * count)-th value, capped at the exact max
 *   blast_hist_merge(dst, src)               add src into dst (same geometry)
 *
 * Errors: init returns 0, -EINVAL (sub_bits outside 2..20) or -ENOMEM; merge returns -EINVAL
 * when the geometries differ. A histogram is owned by one thread; merge runs after the writers
 * have stopped.
 */
#ifndef SLUICE_BENCH_BLAST_HIST_H
#define SLUICE_BENCH_BLAST_HIST_H

#include <stdint.h>

struct blast_hist {
	uint64_t *counts;
	unsigned sub_bits;
	unsigned nbuckets;
	uint64_t max_value;
	uint64_t count;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t clamped;
};

int blast_hist_init(struct blast_hist *h, unsigned sub_bits, uint64_t max_value);
void blast_hist_free(struct blast_hist *h);
void blast_hist_reset(struct blast_hist *h);
uint64_t blast_hist_lowest(const struct blast_hist *h, unsigned idx);
uint64_t blast_hist_highest(const struct blast_hist *h, unsigned idx);
uint64_t blast_hist_percentile(const struct blast_hist *h, double pct);
double blast_hist_mean(const struct blast_hist *h);
int blast_hist_merge(struct blast_hist *dst, const struct blast_hist *src);

static inline unsigned blast_hist_index(const struct blast_hist *h, uint64_t v)
{
	unsigned s = h->sub_bits;
	unsigned msb, shift;

	if (v < ((uint64_t)1 << s))
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - s + 1u;
	return (shift << (s - 1u)) + (unsigned)(v >> shift);
}

static inline void blast_hist_record(struct blast_hist *h, uint64_t v)
{
	if (v > h->max_value) {
		v = h->max_value;
		h->clamped++;
	}
	h->counts[blast_hist_index(h, v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

#endif
