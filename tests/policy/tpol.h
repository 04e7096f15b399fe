/* SPDX-License-Identifier: MIT */
/*
 * tpol.h - helpers for the policy tests: checks and the "N passed, M failed" summary, a
 * seeded random generator, loading rules from a string, running a message through a
 * transaction in given spans, and IPv4/IPv6 socket addresses. Tests only; every function is
 * static so each test is one translation unit.
 */
#ifndef SLUICE_TESTS_POLICY_TPOL_H
#define SLUICE_TESTS_POLICY_TPOL_H

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

static unsigned tp_pass, tp_fail;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			tp_pass++;                                                                 \
		} else {                                                                           \
			tp_fail++;                                                                 \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

static inline int tp_summary(void)
{
	printf("%u passed, %u failed\n", tp_pass, tp_fail);
	return tp_fail ? 1 : 0;
}

struct tp_rng {
	uint64_t s;
};

static inline uint64_t tp_next(struct tp_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline size_t tp_below(struct tp_rng *r, size_t n)
{
	return n ? (size_t)(tp_next(r) % n) : 0;
}

static inline uint64_t tp_seed(void)
{
	const char *s = getenv("SLUICE_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : 20260101u;

	printf("seed %" PRIu64 " (SLUICE_SEED=<n> to change)\n", seed);
	return seed;
}

/* malloc or exit. */
static __attribute__((noinline, unused, returns_nonnull)) void *tp_alloc(size_t n)
{
	void *p = malloc(n);

	if (!p) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

/* Load rules from a string or exit: the tests that call this need them. */
static inline struct pol_rules *tp_load(const char *text)
{
	struct pol_rules *r;
	struct pol_error err;
	int rc = pol_rules_load_mem("test.rules", text, strlen(text), NULL, &r, &err);

	if (rc) {
		fprintf(stderr, "cannot load test rules (%d): %s\n", rc, err.msg);
		exit(1);
	}
	return r;
}

static inline struct pol_core *tp_core(struct pol_rules *r, uint32_t max_tx)
{
	struct pol_core_config cfg;
	struct pol_core *c;

	pol_core_config_defaults(&cfg);
	if (max_tx)
		cfg.max_tx = max_tx;
	if (pol_core_create(&c, r, &cfg)) {
		fprintf(stderr, "pol_core_create failed\n");
		exit(1);
	}
	return c;
}

static inline struct sockaddr_storage tp_addr(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		inet_pton(AF_INET6, text, &a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		inet_pton(AF_INET, text, &a->sin_addr);
	}
	return ss;
}

/* Feed msg in the spans given by ascending cut points. */
static inline void tp_feed_cuts(struct pol_core *c, struct pol_tx *tx, const char *msg, size_t n,
                                const size_t *cuts, unsigned ncut)
{
	size_t at = 0;

	for (unsigned i = 0; i <= ncut; i++) {
		size_t end = i < ncut ? cuts[i] : n;

		pol_tx_data(c, tx, msg + at, end - at);
		at = end;
	}
}

/*
 * One whole transaction: MAIL from (no connection stage), one RCPT, the message in the given
 * spans, the verdict. The rule ids walked go to ids (may be NULL). Returns the verdict
 * action, or -1 if MAIL was refused.
 */
static inline int tp_run(struct pol_core *c, const char *from, const char *msg, size_t n,
                         const size_t *cuts, unsigned ncut, struct pol_verdict *v, char *ids,
                         size_t idcap)
{
	struct pol_tx *tx;
	int action;

	pol_tx_begin(c, NULL, from, strlen(from), &tx, v);
	if (!tx)
		return -1;
	pol_tx_rcpt(c, tx, "user@example.net", 16, v);
	tp_feed_cuts(c, tx, msg, n, cuts, ncut);
	pol_tx_end(c, tx, v);
	if (ids && pol_tx_rule_ids(tx, ids, idcap) < 0)
		ids[0] = '\0';
	action = v->action;
	pol_tx_release(c, tx);
	return action;
}

#endif
