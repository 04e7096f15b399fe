/* SPDX-License-Identifier: MIT */
/*
 * dist.c - xoshiro256** generator and the message-size distributions (contract in dist.h).
 */
#include "dist.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void blast_rng_seed(struct blast_rng *r, uint64_t seed)
{
	unsigned i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t blast_rng_next(struct blast_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double blast_rng_double(struct blast_rng *r)
{
	return (double)(blast_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform on [0, n) without modulo bias (Lemire's multiply-and-reject). */
uint64_t blast_rng_below(struct blast_rng *r, uint64_t n)
{
	unsigned __int128 m;
	uint64_t lo, thresh;

	if (n == 0)
		return 0;
	m = (unsigned __int128)blast_rng_next(r) * n;
	lo = (uint64_t)m;
	if (lo < n) {
		thresh = -n % n;
		while (lo < thresh) {
			m = (unsigned __int128)blast_rng_next(r) * n;
			lo = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

double blast_rng_normal(struct blast_rng *r)
{
	double u1, u2;

	do
		u1 = blast_rng_double(r);
	while (u1 <= 0.0);
	u2 = blast_rng_double(r);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

int blast_parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;
	double mult = 1.0;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || v < 0.0)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		mult = 1024.0;
		end++;
		break;
	case 'm':
	case 'M':
		mult = 1024.0 * 1024.0;
		end++;
		break;
	case 'g':
	case 'G':
		mult = 1024.0 * 1024.0 * 1024.0;
		end++;
		break;
	default:
		break;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end != '\0' || v * mult > 1e15)
		return -EINVAL;
	*out = (uint64_t)(v * mult + 0.5);
	return 0;
}

/* Splits "x<sep>y" in place into two strings; returns the second or NULL. */
static char *split_at(char *s, const char *seps)
{
	char *p = strpbrk(s, seps);

	if (p == NULL)
		return NULL;
	*p = '\0';
	return p + 1;
}

static int dist_parse_args(struct blast_dist *d, char *args)
{
	char *second, *third;
	char *end;

	second = split_at(args, d->kind == BLAST_DIST_UNIFORM ? "-," : ",");
	if (second == NULL || blast_parse_size(args, &d->a) != 0)
		return -EINVAL;
	if (d->kind == BLAST_DIST_UNIFORM)
		return blast_parse_size(second, &d->b) == 0 && d->b >= d->a ? 0 : -EINVAL;
	third = split_at(second, ",");
	errno = 0;
	d->sigma = strtod(second, &end);
	if (errno != 0 || end == second || *end != '\0' || !(d->sigma >= 0.0 && d->sigma <= 5.0))
		return -EINVAL;
	if (d->a == 0)
		return -EINVAL;
	if (third != NULL && blast_parse_size(third, &d->max) != 0)
		return -EINVAL;
	return 0;
}

int blast_dist_parse(struct blast_dist *d, const char *spec)
{
	char buf[128];
	char *colon;

	memset(d, 0, sizeof(*d));
	d->min = BLAST_SIZE_MIN;
	d->max = BLAST_SIZE_MAX;
	if (spec == NULL || strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	colon = split_at(buf, ":");
	if (colon == NULL) {
		d->kind = BLAST_DIST_FIXED;
		return blast_parse_size(buf, &d->a);
	}
	if (strcmp(buf, "fixed") == 0) {
		d->kind = BLAST_DIST_FIXED;
		return blast_parse_size(colon, &d->a);
	}
	if (strcmp(buf, "uniform") == 0)
		d->kind = BLAST_DIST_UNIFORM;
	else if (strcmp(buf, "lognormal") == 0)
		d->kind = BLAST_DIST_LOGNORMAL;
	else
		return -EINVAL;
	if (dist_parse_args(d, colon) != 0)
		return -EINVAL;
	if (d->max < d->min)
		return -EINVAL;
	return 0;
}

static uint64_t clamp_size(const struct blast_dist *d, double v)
{
	if (!(v >= (double)d->min))
		return d->min;
	if (v >= (double)d->max)
		return d->max;
	return (uint64_t)(v + 0.5);
}

uint64_t blast_dist_sample(const struct blast_dist *d, struct blast_rng *r)
{
	switch (d->kind) {
	case BLAST_DIST_FIXED:
		return clamp_size(d, (double)d->a);
	case BLAST_DIST_UNIFORM:
		return clamp_size(d, (double)(d->a + blast_rng_below(r, d->b - d->a + 1)));
	case BLAST_DIST_LOGNORMAL:
		return clamp_size(d, exp(log((double)d->a) + d->sigma * blast_rng_normal(r)));
	}
	return d->min;
}

/* Mean before clamping (for sizing the body pool). */
double blast_dist_mean(const struct blast_dist *d)
{
	switch (d->kind) {
	case BLAST_DIST_FIXED:
		return (double)clamp_size(d, (double)d->a);
	case BLAST_DIST_UNIFORM:
		return ((double)d->a + (double)d->b) / 2.0;
	case BLAST_DIST_LOGNORMAL:
		return (double)d->a * exp(d->sigma * d->sigma / 2.0);
	}
	return 0.0;
}

int blast_dist_describe(const struct blast_dist *d, char *buf, size_t cap)
{
	switch (d->kind) {
	case BLAST_DIST_FIXED:
		return snprintf(buf, cap, "fixed %llu",
		                (unsigned long long)clamp_size(d, (double)d->a));
	case BLAST_DIST_UNIFORM:
		return snprintf(buf, cap, "uniform %llu-%llu", (unsigned long long)d->a,
		                (unsigned long long)d->b);
	case BLAST_DIST_LOGNORMAL:
		return snprintf(buf, cap, "lognormal median %llu sigma %.2f max %llu",
		                (unsigned long long)d->a, d->sigma, (unsigned long long)d->max);
	}
	return snprintf(buf, cap, "?");
}
