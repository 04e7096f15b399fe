/* SPDX-License-Identifier: MIT */
/*
 * dp_limit.c - the per-client connection count table of dp_limit.h.
 *
 * Keys are 128 bits: an IPv4 address as ::ffff:a.b.c.d, an IPv6 address with its low 64 bits
 * cleared. The hash mixes the key with a seed drawn at start-up, so a client cannot choose
 * addresses that collide. Capacity is a power of two >= 2 * max_entries, so probes stay short.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dataplane/dp_limit.h"

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint32_t hash(const struct dp_limit *t, const struct dp_limit_key *k)
{
	return (uint32_t)mix(mix(k->hi ^ t->seed) ^ k->lo) & t->mask;
}

int dp_limit_init(struct dp_limit *t, uint32_t max_entries)
{
	uint32_t cap = 16;

	while (cap < 2 * (uint64_t)max_entries && cap < (1u << 31))
		cap <<= 1;
	t->slot = calloc(cap, sizeof(*t->slot));
	if (!t->slot)
		return -ENOMEM;
	t->mask = cap - 1;
	t->used = 0;
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) != sizeof(t->seed))
		t->seed = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ull;
	return 0;
}

void dp_limit_free(struct dp_limit *t)
{
	free(t->slot);
	t->slot = NULL;
}

void dp_limit_key(const struct sockaddr *sa, struct dp_limit_key *k)
{
	uint8_t b[16] = {0};

	if (sa->sa_family == AF_INET6) {
		memcpy(b, &((const struct sockaddr_in6 *)sa)->sin6_addr, 8); /* the /64 */
		if (IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr))
			memcpy(b, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else if (sa->sa_family == AF_INET) {
		b[10] = 0xff;
		b[11] = 0xff;
		memcpy(b + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	}
	memcpy(&k->hi, b, 8);
	memcpy(&k->lo, b + 8, 8);
}

static int key_eq(const struct dp_limit_key *a, const struct dp_limit_key *b)
{
	return a->hi == b->hi && a->lo == b->lo;
}

/* Index of k's slot, or of the empty slot where it would go. */
static uint32_t find(const struct dp_limit *t, const struct dp_limit_key *k)
{
	uint32_t i = hash(t, k);

	while (t->slot[i].count != 0 && !key_eq(&t->slot[i].key, k))
		i = (i + 1) & t->mask;
	return i;
}

uint32_t dp_limit_count(const struct dp_limit *t, const struct dp_limit_key *k)
{
	return t->slot[find(t, k)].count;
}

uint32_t dp_limit_inc(struct dp_limit *t, const struct dp_limit_key *k)
{
	uint32_t i = find(t, k);

	if (t->slot[i].count == 0) {
		if (t->used >= t->mask) /* keep one empty slot so probes end */
			return 0;
		t->slot[i].key = *k;
		t->used++;
	}
	return ++t->slot[i].count;
}

void dp_limit_dec(struct dp_limit *t, const struct dp_limit_key *k)
{
	uint32_t i = find(t, k), j;

	if (t->slot[i].count == 0 || --t->slot[i].count != 0)
		return;
	t->used--;
	/* Backward-shift deletion: move later entries of the probe run into the hole. */
	j = i;
	for (;;) {
		uint32_t home;

		j = (j + 1) & t->mask;
		if (t->slot[j].count == 0)
			break;
		home = hash(t, &t->slot[j].key);
		/* Move j to i unless its home lies cyclically in (i, j]. */
		if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
			t->slot[i] = t->slot[j];
			i = j;
		}
	}
	t->slot[i].count = 0;
}
