/* SPDX-License-Identifier: MIT */
/*
 * hist.c - log-linear latency histogram (see hist.h for the geometry and the contract).
 *
 * Bucket index of v, with S sub-bits and H = 2^(S-1):
 *   v < 2^S:  idx = v                              (exact)
 *   else:     shift = msb(v) - S + 1, idx = shift * H + (v >> shift)
 * so (v >> shift) lies in [H, 2H) and consecutive octaves tile the index space without gaps.
 * The inverse: shift = idx / H - 1, lowest = (idx - shift * H) << shift.
 */
#include "hist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int blast_hist_init(struct blast_hist *h, unsigned sub_bits, uint64_t max_value)
{
	memset(h, 0, sizeof(*h));
	if (sub_bits < 2 || sub_bits > 20 || max_value == 0)
		return -EINVAL;
	h->sub_bits = sub_bits;
	h->max_value = max_value;
	h->nbuckets = blast_hist_index(h, max_value) + 1u;
	h->counts = calloc(h->nbuckets, sizeof(*h->counts));
	if (h->counts == NULL)
		return -ENOMEM;
	h->min = UINT64_MAX;
	return 0;
}

void blast_hist_free(struct blast_hist *h)
{
	free(h->counts);
	h->counts = NULL;
}

void blast_hist_reset(struct blast_hist *h)
{
	memset(h->counts, 0, (size_t)h->nbuckets * sizeof(*h->counts));
	h->count = 0;
	h->sum = 0;
	h->min = UINT64_MAX;
	h->max = 0;
	h->clamped = 0;
}

uint64_t blast_hist_lowest(const struct blast_hist *h, unsigned idx)
{
	unsigned half = 1u << (h->sub_bits - 1u);
	unsigned shift;

	if (idx < 2u * half)
		return idx;
	shift = idx / half - 1u;
	return (uint64_t)(idx - shift * half) << shift;
}

uint64_t blast_hist_highest(const struct blast_hist *h, unsigned idx)
{
	unsigned half = 1u << (h->sub_bits - 1u);
	unsigned shift;

	if (idx < 2u * half)
		return idx;
	shift = idx / half - 1u;
	return blast_hist_lowest(h, idx) + ((uint64_t)1 << shift) - 1u;
}

uint64_t blast_hist_percentile(const struct blast_hist *h, double pct)
{
	uint64_t rank, seen = 0;
	double r;
	unsigned i;

	if (h->count == 0)
		return 0;
	if (pct >= 100.0)
		return h->max;
	if (pct < 0.0)
		pct = 0.0;
	r = pct / 100.0 * (double)h->count;
	rank = (uint64_t)r;
	if ((double)rank < r)
		rank++;
	if (rank == 0)
		rank = 1;
	for (i = 0; i < h->nbuckets; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t v = blast_hist_highest(h, i);

			if (v > h->max)
				v = h->max;
			if (v < h->min)
				v = h->min;
			return v;
		}
	}
	return h->max;
}

double blast_hist_mean(const struct blast_hist *h)
{
	if (h->count == 0)
		return 0.0;
	return (double)h->sum / (double)h->count;
}

int blast_hist_merge(struct blast_hist *dst, const struct blast_hist *src)
{
	unsigned i;

	if (dst->sub_bits != src->sub_bits || dst->nbuckets != src->nbuckets)
		return -EINVAL;
	for (i = 0; i < src->nbuckets; i++)
		dst->counts[i] += src->counts[i];
	dst->count += src->count;
	dst->sum += src->sum;
	dst->clamped += src->clamped;
	if (src->count != 0) {
		if (src->min < dst->min)
			dst->min = src->min;
		if (src->max > dst->max)
			dst->max = src->max;
	}
	return 0;
}
