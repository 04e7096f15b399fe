/* SPDX-License-Identifier: MIT */
/*
 * test_hist.c - tests of sluice-blast's log-linear histogram (bench/blast/hist.c): bucket
 * geometry (every index maps back to itself, buckets tile the range without gaps), exactness of
 * small values, the relative-error bound against exact percentiles of random data, clamping,
 * merging, and edge cases (empty, single value, 0 and the maximum).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dist.h"
#include "hist.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_geometry(unsigned sub_bits)
{
	struct blast_hist h;
	unsigned i, bad = 0;

	CHECK(blast_hist_init(&h, sub_bits, 1ull << 40) == 0, "init %u", sub_bits);
	for (i = 0; i < h.nbuckets; i++) {
		uint64_t lo = blast_hist_lowest(&h, i), hi = blast_hist_highest(&h, i);

		if (blast_hist_index(&h, lo) != i || blast_hist_index(&h, hi) != i || lo > hi)
			bad++;
		if (i + 1 < h.nbuckets && blast_hist_lowest(&h, i + 1) != hi + 1)
			bad++;
		/* bucket width relative to its lowest value stays within the bound */
		if (lo >= (1ull << sub_bits) && (double)(hi - lo + 1) / (double)lo >
		                                    1.0 / (double)(1u << (sub_bits - 1)) + 1e-12)
			bad++;
	}
	CHECK(bad == 0, "sub_bits %u: %u geometry violations", sub_bits, bad);
	CHECK(blast_hist_index(&h, 1ull << 40) == h.nbuckets - 1, "last bucket");
	blast_hist_free(&h);
}

static void test_exact_small(void)
{
	struct blast_hist h;
	uint64_t v;

	blast_hist_init(&h, 10, 1000000);
	for (v = 0; v < 1024; v++)
		blast_hist_record(&h, v);
	CHECK(h.count == 1024, "count %llu", (unsigned long long)h.count);
	CHECK(blast_hist_percentile(&h, 50.0) == 511, "p50 %llu",
	      (unsigned long long)blast_hist_percentile(&h, 50.0));
	CHECK(blast_hist_percentile(&h, 100.0) == 1023, "p100");
	CHECK(blast_hist_percentile(&h, 0.0) == 0, "p0");
	CHECK(h.min == 0 && h.max == 1023, "min/max");
	CHECK(fabs(blast_hist_mean(&h) - 511.5) < 1e-9, "mean %f", blast_hist_mean(&h));
	blast_hist_free(&h);
}

static void test_random_error_bound(void)
{
	const unsigned n = 200000;
	const double pcts[] = {1, 10, 50, 90, 99, 99.9, 99.99};
	uint64_t *vals = malloc(n * sizeof(*vals));
	struct blast_hist h;
	struct blast_rng r;
	unsigned i, k;

	blast_rng_seed(&r, 42);
	blast_hist_init(&h, 10, 1ull << 42);
	for (i = 0; i < n; i++) {
		/* log-uniform from 1 us to 10 s, in ns */
		vals[i] = (uint64_t)exp(log(1e3) + blast_rng_double(&r) * (log(1e10) - log(1e3)));
		blast_hist_record(&h, vals[i]);
	}
	qsort(vals, n, sizeof(*vals), cmp_u64);
	for (k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++) {
		size_t rank = (size_t)ceil(pcts[k] / 100.0 * n);
		uint64_t exact = vals[rank - 1], got = blast_hist_percentile(&h, pcts[k]);
		double rel = fabs((double)got - (double)exact) / (double)exact;

		CHECK(got >= exact, "p%g reports %llu below exact %llu", pcts[k],
		      (unsigned long long)got, (unsigned long long)exact);
		CHECK(rel <= 1.0 / 512 + 1e-12, "p%g rel error %g", pcts[k], rel);
	}
	CHECK(blast_hist_percentile(&h, 100) == vals[n - 1], "max exact");
	CHECK(h.min == vals[0], "min exact");
	free(vals);
	blast_hist_free(&h);
}

static void test_clamp_and_edges(void)
{
	struct blast_hist h;

	blast_hist_init(&h, 8, 100000);
	CHECK(blast_hist_percentile(&h, 99) == 0, "empty p99");
	blast_hist_record(&h, 12345);
	CHECK(blast_hist_percentile(&h, 1) == 12345 && blast_hist_percentile(&h, 99.9) == 12345,
	      "single value reported exactly (capped to min/max)");
	blast_hist_record(&h, 1ull << 50);
	CHECK(h.clamped == 1, "clamped %llu", (unsigned long long)h.clamped);
	CHECK(h.max == 100000, "max clamped to max_value");
	CHECK(blast_hist_percentile(&h, 100) == 100000, "p100 = max_value");
	blast_hist_reset(&h);
	CHECK(h.count == 0 && h.max == 0 && h.clamped == 0, "reset");
	blast_hist_record(&h, 0);
	CHECK(blast_hist_percentile(&h, 50) == 0, "zero");
	blast_hist_free(&h);
	CHECK(blast_hist_init(&h, 1, 100) == -EINVAL, "sub_bits 1 rejected");
	CHECK(blast_hist_init(&h, 21, 100) == -EINVAL, "sub_bits 21 rejected");
}

static void test_merge(void)
{
	struct blast_hist a, b, all, other;
	struct blast_rng r;
	unsigned i;

	blast_rng_seed(&r, 7);
	blast_hist_init(&a, 10, 1ull << 36);
	blast_hist_init(&b, 10, 1ull << 36);
	blast_hist_init(&all, 10, 1ull << 36);
	blast_hist_init(&other, 9, 1ull << 36);
	for (i = 0; i < 50000; i++) {
		uint64_t v = blast_rng_below(&r, 1ull << 30);

		blast_hist_record(i & 1 ? &a : &b, v);
		blast_hist_record(&all, v);
	}
	CHECK(blast_hist_merge(&a, &b) == 0, "merge");
	CHECK(a.count == all.count && a.sum == all.sum && a.min == all.min && a.max == all.max,
	      "merged totals");
	CHECK(memcmp(a.counts, all.counts, a.nbuckets * sizeof(uint64_t)) == 0, "merged counts");
	CHECK(blast_hist_percentile(&a, 99.9) == blast_hist_percentile(&all, 99.9), "merged p99.9");
	CHECK(blast_hist_merge(&a, &other) == -EINVAL, "geometry mismatch refused");
	blast_hist_free(&a);
	blast_hist_free(&b);
	blast_hist_free(&all);
	blast_hist_free(&other);
}

static void test_uniform_known(void)
{
	struct blast_hist h;
	uint64_t v;

	blast_hist_init(&h, 10, 1ull << 40);
	for (v = 1; v <= 100000; v++)
		blast_hist_record(&h, v * 1000);
	CHECK(fabs((double)blast_hist_percentile(&h, 50) / 50000000.0 - 1) < 0.002, "p50 %llu",
	      (unsigned long long)blast_hist_percentile(&h, 50));
	CHECK(fabs((double)blast_hist_percentile(&h, 99) / 99000000.0 - 1) < 0.002, "p99 %llu",
	      (unsigned long long)blast_hist_percentile(&h, 99));
	CHECK(blast_hist_percentile(&h, 100) == 100000000, "max");
	blast_hist_free(&h);
}

int main(void)
{
	unsigned s;

	for (s = 2; s <= 12; s++)
		test_geometry(s);
	test_exact_small();
	test_random_error_bound();
	test_clamp_and_edges();
	test_merge();
	test_uniform_known();
	return check_summary();
}
