/* SPDX-License-Identifier: MIT */
/*
 * test_dist.c - tests of sluice-blast's size parsing and size distributions
 * (bench/blast/dist.c): suffixes and malformed input, fixed/uniform/log-normal specs, bounds and
 * clamping, and the statistics of many samples (uniform mean and deciles; log-normal median and
 * the standard deviation of the log), plus the generator's determinism and bounded draws.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dist.h"

static void test_parse_size(void)
{
	static const struct {
		const char *s;
		int ok;
		uint64_t v;
	} t[] = {
	    {"512", 1, 512},      {"10k", 1, 10240}, {"10K", 1, 10240},
	    {"1M", 1, 1048576},   {"1.5k", 1, 1536}, {"2g", 1, 2147483648ull},
	    {"100kb", 1, 102400}, {"abc", 0, 0},     {"-1", 0, 0},
	    {"10q", 0, 0},        {"", 0, 0},        {"1e20", 0, 0},
	};
	unsigned i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t v = 0;
		int ret = blast_parse_size(t[i].s, &v);

		CHECK((ret == 0) == t[i].ok, "'%s' -> %d", t[i].s, ret);
		if (t[i].ok)
			CHECK(v == t[i].v, "'%s' -> %llu", t[i].s, (unsigned long long)v);
	}
}

static void test_parse_dist(void)
{
	static const struct {
		const char *s;
		int ok;
		enum blast_dist_kind kind;
	} t[] = {
	    {"10k", 1, BLAST_DIST_FIXED},
	    {"fixed:2k", 1, BLAST_DIST_FIXED},
	    {"uniform:1k-100k", 1, BLAST_DIST_UNIFORM},
	    {"uniform:1k,2k", 1, BLAST_DIST_UNIFORM},
	    {"lognormal:16k,1.2", 1, BLAST_DIST_LOGNORMAL},
	    {"lognormal:16k,1.2,4m", 1, BLAST_DIST_LOGNORMAL},
	    {"uniform:5k-1k", 0, 0},
	    {"uniform:5k", 0, 0},
	    {"lognormal:0,1", 0, 0},
	    {"lognormal:10k", 0, 0},
	    {"lognormal:10k,-1", 0, 0},
	    {"lognormal:10k,1,100", 0, 0},
	    {"poisson:1k", 0, 0},
	    {"uniform:x-y", 0, 0},
	};
	struct blast_dist d;
	unsigned i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int ret = blast_dist_parse(&d, t[i].s);

		CHECK((ret == 0) == t[i].ok, "'%s' -> %d", t[i].s, ret);
		if (t[i].ok)
			CHECK(d.kind == t[i].kind, "'%s' kind %d", t[i].s, d.kind);
	}
	CHECK(blast_dist_parse(&d, "lognormal:16k,1.2,4m") == 0 && d.a == 16384 &&
	          fabs(d.sigma - 1.2) < 1e-12 && d.max == 4194304,
	      "lognormal fields");
}

static void test_fixed(void)
{
	struct blast_dist d;
	struct blast_rng r;
	unsigned i, bad = 0;

	blast_rng_seed(&r, 1);
	blast_dist_parse(&d, "1k");
	for (i = 0; i < 1000; i++)
		bad += blast_dist_sample(&d, &r) != 1024;
	CHECK(bad == 0, "fixed 1k");
	blast_dist_parse(&d, "100");
	CHECK(blast_dist_sample(&d, &r) == BLAST_SIZE_MIN, "below the minimum is raised");
	CHECK(blast_dist_mean(&d) == BLAST_SIZE_MIN, "mean of clamped fixed");
}

static void test_uniform(void)
{
	const unsigned n = 200000;
	unsigned dec[10] = {0}, i, out = 0;
	struct blast_dist d;
	struct blast_rng r;
	double sum = 0;

	blast_rng_seed(&r, 2);
	blast_dist_parse(&d, "uniform:1k-101k");
	for (i = 0; i < n; i++) {
		uint64_t v = blast_dist_sample(&d, &r);

		out += v < 1024 || v > 101 * 1024;
		sum += (double)v;
		if (v >= 1024 && v <= 101 * 1024)
			dec[(v - 1024) * 10 / (100 * 1024 + 1)]++;
	}
	CHECK(out == 0, "%u out of range", out);
	CHECK(fabs(sum / n / (51 * 1024.0) - 1) < 0.01, "mean %.0f", sum / n);
	for (i = 0; i < 10; i++)
		CHECK(fabs(dec[i] / (n / 10.0) - 1) < 0.05, "decile %u: %u", i, dec[i]);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_lognormal(void)
{
	const unsigned n = 200000;
	uint64_t *v = malloc(n * sizeof(*v));
	struct blast_dist d;
	struct blast_rng r;
	double s1 = 0, s2 = 0, sd;
	unsigned i, capped = 0, out = 0;

	blast_rng_seed(&r, 3);
	blast_dist_parse(&d, "lognormal:16k,1.0,1m");
	for (i = 0; i < n; i++) {
		double l;

		v[i] = blast_dist_sample(&d, &r);
		capped += v[i] == 1048576;
		out += v[i] < BLAST_SIZE_MIN || v[i] > 1048576;
		l = log((double)v[i]);
		s1 += l;
		s2 += l * l;
	}
	CHECK(out == 0, "%u samples out of bounds", out);
	qsort(v, n, sizeof(*v), cmp_u64);
	CHECK(fabs((double)v[n / 2] / 16384.0 - 1) < 0.03, "median %llu",
	      (unsigned long long)v[n / 2]);
	sd = sqrt(s2 / n - (s1 / n) * (s1 / n));
	/* clamping at 512 B and 1 MiB (4.2 sigma) trims the log's spread only slightly */
	CHECK(fabs(sd - 1.0) < 0.03, "sd of log %.4f", sd);
	/* P(X > 1 MiB) = P(Z > ln(64)) = 1.7e-5 */
	CHECK(capped < 20, "capped %u", capped);
	/* 90th percentile: 16k * e^(1.2816) */
	CHECK(fabs((double)v[n * 9 / 10] / (16384.0 * exp(1.2816)) - 1) < 0.05, "p90 %llu",
	      (unsigned long long)v[n * 9 / 10]);
	free(v);
}

static void test_rng(void)
{
	struct blast_rng a, b;
	unsigned i, same = 1, hist[7] = {0};

	blast_rng_seed(&a, 123);
	blast_rng_seed(&b, 123);
	for (i = 0; i < 1000; i++)
		same &= blast_rng_next(&a) == blast_rng_next(&b);
	CHECK(same, "same seed, same sequence");
	blast_rng_seed(&b, 124);
	CHECK(blast_rng_next(&a) != blast_rng_next(&b), "different seeds differ");
	for (i = 0; i < 70000; i++) {
		uint64_t x = blast_rng_below(&a, 7);

		hist[x < 7 ? x : 0] += x < 7 ? 1 : 100000;
	}
	for (i = 0; i < 7; i++)
		CHECK(fabs(hist[i] / 10000.0 - 1) < 0.05, "bin %u: %u", i, hist[i]);
	CHECK(blast_rng_below(&a, 0) == 0, "below 0");
}

int main(void)
{
	test_parse_size();
	test_parse_dist();
	test_fixed();
	test_uniform();
	test_lognormal();
	test_rng();
	return check_summary();
}
