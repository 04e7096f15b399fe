/* SPDX-License-Identifier: MIT */
/*
 * hash.c - a 128-bit streaming hash for the database cache: the key of a compiled rule set
 * and the checksum of a cache file.
 *
 * Two 64-bit lanes consume 16-byte blocks with multiply-rotate rounds and are mixed with
 * each other and the length at the end (the construction of the well-known public-domain
 * MurmurHash3 x64/128 family, written here as a streaming hash). Not cryptographic: it
 * guards against accidental collisions and corrupt files, not against an adversary, which is
 * all a cache of the operator's own rules needs.
 *
 * pol_hash_init(), pol_hash_update() any number of times (any split gives the same result),
 * pol_hash_final(). No errors, no allocation.
 */
#include <string.h>

#include "policy/policy-int.h"

#define POL_HC1 0x87c37b91114253d5ull
#define POL_HC2 0x4cf5ad432745937full

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v; /* little-endian hosts only (x86-64, arm64): the cache is per-host anyway */
}

static void block(struct pol_hash *h, const uint8_t *p)
{
	uint64_t k1 = load64(p), k2 = load64(p + 8);

	k1 *= POL_HC1;
	k1 = rotl64(k1, 31);
	k1 *= POL_HC2;
	h->h1 ^= k1;
	h->h1 = rotl64(h->h1, 27);
	h->h1 += h->h2;
	h->h1 = h->h1 * 5 + 0x52dce729;

	k2 *= POL_HC2;
	k2 = rotl64(k2, 33);
	k2 *= POL_HC1;
	h->h2 ^= k2;
	h->h2 = rotl64(h->h2, 31);
	h->h2 += h->h1;
	h->h2 = h->h2 * 5 + 0x38495ab5;
}

void pol_hash_init(struct pol_hash *h, uint64_t seed)
{
	h->h1 = seed;
	h->h2 = seed ^ 0x9e3779b97f4a7c15ull;
	h->total = 0;
	h->nbuf = 0;
}

void pol_hash_update(struct pol_hash *h, const void *data, size_t n)
{
	const uint8_t *p = data;

	h->total += n;
	if (h->nbuf) {
		size_t k = 16 - h->nbuf < n ? 16 - h->nbuf : n;

		memcpy(h->buf + h->nbuf, p, k);
		h->nbuf += (unsigned)k;
		p += k;
		n -= k;
		if (h->nbuf < 16)
			return;
		block(h, h->buf);
		h->nbuf = 0;
	}
	for (; n >= 16; p += 16, n -= 16)
		block(h, p);
	memcpy(h->buf, p, n);
	h->nbuf = (unsigned)n;
}

void pol_hash_u32(struct pol_hash *h, uint32_t v)
{
	pol_hash_update(h, &v, sizeof(v));
}

void pol_hash_final(struct pol_hash *h, uint8_t out[16])
{
	uint8_t tail[16] = {0};
	uint64_t k1, k2;

	memcpy(tail, h->buf, h->nbuf);
	k1 = load64(tail);
	k2 = load64(tail + 8);
	k1 *= POL_HC1;
	k1 = rotl64(k1, 31);
	k1 *= POL_HC2;
	h->h1 ^= k1;
	k2 *= POL_HC2;
	k2 = rotl64(k2, 33);
	k2 *= POL_HC1;
	h->h2 ^= k2;

	h->h1 ^= h->total;
	h->h2 ^= h->total;
	h->h1 += h->h2;
	h->h2 += h->h1;
	h->h1 = fmix64(h->h1);
	h->h2 = fmix64(h->h2);
	h->h1 += h->h2;
	h->h2 += h->h1;
	memcpy(out, &h->h1, 8);
	memcpy(out + 8, &h->h2, 8);
}
