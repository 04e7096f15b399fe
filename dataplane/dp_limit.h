/* SPDX-License-Identifier: MIT */
/*
 * dp_limit.h - per-core count of open connections per client address, for the
 * max_connections_per_client limit.
 *
 * One table per worker, sized at start-up for the worker's connection limit (twice as many
 * slots, open addressing, linear probing, deletion by backward shift: no tombstones, so the
 * table never degrades). IPv4 clients are counted per address; IPv6 clients per /64, the
 * smallest block a single site is normally given.
 *
 * Functions: dp_limit_init, dp_limit_free, dp_limit_key, dp_limit_inc, dp_limit_dec,
 * dp_limit_count. dp_limit_inc returns the count after the increment (0 if the table is full,
 * which cannot happen while entries <= the size given to dp_limit_init). Not thread-safe.
 */
#ifndef SLUICE_DATAPLANE_DP_LIMIT_H
#define SLUICE_DATAPLANE_DP_LIMIT_H

#include <stdint.h>
#include <sys/socket.h>

struct dp_limit_key {
	uint64_t hi, lo;
};

struct dp_limit_slot {
	struct dp_limit_key key;
	uint32_t count; /* 0 = empty */
};

struct dp_limit {
	struct dp_limit_slot *slot;
	uint32_t mask;
	uint32_t used;
	uint64_t seed;
};

int dp_limit_init(struct dp_limit *t, uint32_t max_entries);
void dp_limit_free(struct dp_limit *t);
void dp_limit_key(const struct sockaddr *sa, struct dp_limit_key *k);
uint32_t dp_limit_inc(struct dp_limit *t, const struct dp_limit_key *k);
void dp_limit_dec(struct dp_limit *t, const struct dp_limit_key *k);
uint32_t dp_limit_count(const struct dp_limit *t, const struct dp_limit_key *k);

#endif
