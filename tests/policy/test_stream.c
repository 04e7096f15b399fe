/* SPDX-License-Identifier: MIT */
/*
 * test_stream.c - body patterns across span boundaries (policy/message.c, streaming mode).
 *
 *   1. a short message whose body patterns span lines and spans: fed whole, split at every
 *      single point, at every pair of points, byte by byte and in random spans; every way
 *      gives the same matched rules, which are also checked against the expected list.
 *      Every span is copied so that it ends right before a PROT_NONE page (any read past a
 *      span faults);
 *   2. end-anchored patterns ($) match only at end of data (reported by pol_tx_end());
 *   3. differential: random bodies with literal tokens planted at random places, fed in
 *      random spans (1..4096 bytes), compared with memmem() over the whole body;
 *   4. a transaction released mid-body (RSET) leaves nothing behind for the next one;
 *   5. envelope values of every length 0..600 ending at a PROT_NONE page;
 *   6. regression, Hyperscan over-read: Hyperscan 5.4 reads up to 64 bytes past the end of
 *      its input on AVX-512 paths; body spans of every length 1..4096 ending at a PROT_NONE
 *      page must not fault (the engine scans such tails from a padded copy).
 *
 * The seed is printed; SLUICE_SEED=<n> changes it. Last line "N passed, M failed".
 */
#include <string.h>

#include "tests/common/guard.h"
#include "tests/policy/tpol.h"

static const char rules_text[] = "rule h1 subject /^test$/ tag\n"
                                 "rule neg body \"From: a@example\" tag\n"
                                 "rule x body /first line\\r\\nthe needle/ tag\n"
                                 "rule n1 body /needle is in\\s+the haystack/ tag\n"
                                 "rule n2 body \"magic line\" tag\n"
                                 "rule n3 body /^magic line\\r$/m tag\n"
                                 "rule n4 body /the end\\r\\n$/ tag\n"
                                 "rule n5 body /the haystack$/ tag\n"
                                 "rule n6 body /HAYSTACK\\r\\nmagic/i tag\n";

static const char msg[] = "From: a@example.org\r\n"
                          "Subject: test\r\n"
                          "\r\n"
                          "first line\r\n"
                          "the needle is in\r\n"
                          "  the haystack\r\n"
                          "magic line\r\n"
                          "the end\r\n";

static const char want[] = "h1,x,n1,n2,n3,n4,n6";

static struct guard_buf guard;

/* Feed msg[0..n) cut at cuts[], every span ending at the guard page. */
static void run_cuts(struct pol_core *c, const char *m, size_t n, const size_t *cuts, unsigned ncut,
                     char *ids, size_t cap)
{
	struct pol_verdict v;
	struct pol_tx *tx;
	size_t at = 0;

	pol_tx_begin(c, NULL, "s@example.org", 13, &tx, &v);
	for (unsigned i = 0; i <= ncut; i++) {
		size_t end = i < ncut ? cuts[i] : n;

		pol_tx_data(c, tx, guard_copy(&guard, m + at, end - at), end - at);
		at = end;
	}
	pol_tx_end(c, tx, &v);
	if (pol_tx_rule_ids(tx, ids, cap) < 0)
		ids[0] = '\0';
	pol_tx_release(c, tx);
}

static void test_splits(struct pol_core *c, struct tp_rng *rng)
{
	const size_t n = sizeof(msg) - 1;
	size_t cuts[sizeof(msg)];
	char ids[256];
	unsigned bad = 0, runs = 0;

	run_cuts(c, msg, n, NULL, 0, ids, sizeof(ids));
	CHECK(!strcmp(ids, want), "whole message: '%s', want '%s'", ids, want);
	for (size_t a = 0; a <= n; a++) {
		cuts[0] = a;
		run_cuts(c, msg, n, cuts, 1, ids, sizeof(ids));
		bad += strcmp(ids, want) != 0;
		runs++;
		for (size_t b = a; b <= n; b++) {
			cuts[1] = b;
			run_cuts(c, msg, n, cuts, 2, ids, sizeof(ids));
			bad += strcmp(ids, want) != 0;
			runs++;
		}
	}
	CHECK(bad == 0, "every single and pair split point: %u of %u differ", bad, runs);
	for (size_t i = 0; i < n; i++)
		cuts[i] = i + 1;
	run_cuts(c, msg, n, cuts, (unsigned)n - 1, ids, sizeof(ids));
	CHECK(!strcmp(ids, want), "byte by byte: '%s'", ids);
	bad = 0;
	for (unsigned it = 0; it < 2000; it++) {
		unsigned k = 0;

		for (size_t at = tp_below(rng, 8); at < n; at += 1 + tp_below(rng, 12))
			cuts[k++] = at;
		run_cuts(c, msg, n, cuts, k, ids, sizeof(ids));
		bad += strcmp(ids, want) != 0;
	}
	CHECK(bad == 0, "2000 random span sequences: %u differ", bad);
}

static void test_end_anchor(struct pol_core *c)
{
	static const char m2[] = "Subject: x\r\n\r\nthe end\r\nmore\r\n";
	char ids[256];

	run_cuts(c, m2, sizeof(m2) - 1, NULL, 0, ids, sizeof(ids));
	CHECK(!strcmp(ids, ""), "'the end' not at end of data: no n4: '%s'", ids);
}

#define NTOK     40
#define BODY_MAX (256 * 1024)

static void test_differential(struct tp_rng *rng)
{
	char text[NTOK * 64], tok[NTOK][16], ids[NTOK * 8], want_ids[NTOK * 8];
	char *body = tp_alloc(BODY_MAX + 64);
	size_t *cuts = tp_alloc(BODY_MAX * sizeof(*cuts));
	size_t off = 0;
	unsigned bad = 0;

	for (unsigned t = 0; t < NTOK; t++) {
		snprintf(tok[t], sizeof(tok[t]), "Tk%02u%c%c%c", t, (char)('a' + tp_below(rng, 26)),
		         (char)('a' + tp_below(rng, 26)), (char)('a' + tp_below(rng, 26)));
		off += (size_t)snprintf(text + off, sizeof(text) - off,
		                        "rule t%02u body \"%s\" tag\n", t, tok[t]);
	}
	struct pol_rules *r = tp_load(text);
	struct pol_core *c = tp_core(r, 2);

	for (unsigned it = 0; it < 60; it++) {
		size_t n = 14 + tp_below(rng, BODY_MAX - 14), k = 0;

		memcpy(body, "Subject: x\r\n\r\n", 14);
		for (size_t i = 14; i < n; i++)
			body[i] = "abcdefTk0123 \r\n"[tp_below(rng, 15)];
		for (unsigned p = tp_below(rng, 12); p; p--) { /* plant some tokens */
			unsigned t = (unsigned)tp_below(rng, NTOK);
			size_t at = 14 + tp_below(rng, n - 14);

			if (n - at >= strlen(tok[t]))
				memcpy(body + at, tok[t], strlen(tok[t]));
		}
		want_ids[0] = '\0';
		for (unsigned t = 0; t < NTOK; t++) {
			if (memmem(body + 14, n - 14, tok[t], strlen(tok[t]))) {
				size_t l = strlen(want_ids);

				snprintf(want_ids + l, sizeof(want_ids) - l, "%st%02u",
				         l ? "," : "", t);
			}
		}
		for (size_t at = tp_below(rng, 4096); at < n; at += 1 + tp_below(rng, 4096))
			cuts[k++] = at;
		tp_run(c, "s@x", body, n, cuts, (unsigned)k, &(struct pol_verdict){0}, ids,
		       sizeof(ids));
		bad += strcmp(ids, want_ids) != 0;
		if (strcmp(ids, want_ids))
			fprintf(stderr, "iteration %u: got '%s' want '%s'\n", it, ids, want_ids);
	}
	CHECK(bad == 0, "60 random bodies in random spans agree with memmem(): %u differ", bad);
	pol_core_destroy(c);
	pol_rules_put(r);
	free(body);
	free(cuts);
}

static void test_reset_mid_body(struct pol_core *c)
{
	struct pol_verdict v;
	struct pol_tx *tx;
	char ids[256];
	static const char part[] = "Subject: x\r\n\r\nthe needle is in\r\n";
	static const char rest[] = "  the haystack\r\n";

	pol_tx_begin(c, NULL, "s@x", 3, &tx, &v);
	pol_tx_data(c, tx, part, sizeof(part) - 1);
	pol_tx_release(c, tx); /* RSET halfway: the stream is dropped */
	pol_tx_begin(c, NULL, "s@x", 3, &tx, &v);
	pol_tx_data(c, tx, "Subject: x\r\n\r\n", 14);
	pol_tx_data(c, tx, rest, sizeof(rest) - 1);
	pol_tx_end(c, tx, &v);
	pol_tx_rule_ids(tx, ids, sizeof(ids));
	CHECK(!strcmp(ids, ""), "no match across transactions: '%s'", ids);
	pol_tx_release(c, tx);
}

static void test_envelope_guard(void)
{
	struct pol_rules *r = tp_load("rule m mail /[a-f]{3}x@[0-9]+\\.example$/ reject\n"
	                              "rule lit rcpt \"bat\"i tag\n"
	                              "rule l2 rcpt \"cat\"i tag\n"
	                              "rule l3 rcpt \"mat\" tag\n");
	struct pol_core *c = tp_core(r, 1);
	char val[700];
	unsigned bad = 0;

	for (size_t n = 0; n <= 600; n++) {
		struct pol_verdict v;
		struct pol_tx *tx;
		int refuse = n >= 14;

		for (size_t i = 0; i < n; i++)
			val[i] = "abcdef0123456789 hat"[i % 20];
		if (n >= 14)
			memcpy(val + n - 14, "abcx@1.example", 14);
		pol_tx_begin(c, NULL, guard_copy(&guard, val, n), n, &tx, &v);
		bad += (!tx) != refuse;
		if (tx) {
			pol_tx_rcpt(c, tx, guard_copy(&guard, val, n), n, &v);
			pol_tx_release(c, tx);
		}
	}
	CHECK(bad == 0, "envelope values ending at a guard page: %u wrong", bad);
	pol_core_destroy(c);
	pol_rules_put(r);
}

static void test_hyperscan_overread(void)
{
	struct pol_rules *r = tp_load("rule t1 body \"bat\"i tag\nrule t2 body \"cat\"i tag\n"
	                              "rule t3 body \"mat\"i tag\nrule t4 body \"rat\"i tag\n"
	                              "rule t5 body \"hat\"i tag\nrule t6 body \"sat\"i tag\n"
	                              "rule t7 body /the end\\r\\n$/ tag\n"
	                              "rule t8 body /needle is in\\s+the haystack/ tag\n");
	struct pol_core *c = tp_core(r, 1);
	char *body = tp_alloc(4096);
	unsigned bad = 0;

	for (size_t i = 0; i < 4096; i++)
		body[i] = "VAt hAt pAt sAt fAt rAt mAt cA\r\n"[i % 32];
	for (size_t n = 1; n <= 4096; n++) {
		char ids[2][128];

		for (int g = 0; g < 2; g++) {
			struct pol_verdict v;
			struct pol_tx *tx;

			pol_tx_begin(c, NULL, "s@x", 3, &tx, &v);
			pol_tx_data(c, tx, "Subject: x\r\n\r\n", 14);
			pol_tx_data(c, tx, g ? guard_copy(&guard, body, n) : body, n);
			pol_tx_end(c, tx, &v);
			pol_tx_rule_ids(tx, ids[g], sizeof(ids[g]));
			pol_tx_release(c, tx);
		}
		bad += strcmp(ids[0], ids[1]) != 0 || (n >= 32 && strcmp(ids[1], "t3,t4,t5,t6"));
	}
	CHECK(bad == 0, "spans of 1..4096 bytes ending at a guard page: %u wrong", bad);
	free(body);
	pol_core_destroy(c);
	pol_rules_put(r);
}

int main(void)
{
	struct tp_rng rng = {tp_seed()};
	struct pol_rules *r = tp_load(rules_text);
	struct pol_core *c = tp_core(r, 1);

	if (guard_init(&guard, 4096)) {
		perror("guard_init");
		return 1;
	}
	test_splits(c, &rng);
	test_end_anchor(c);
	test_reset_mid_body(c);
	test_differential(&rng);
	test_envelope_guard();
	test_hyperscan_overread();
	pol_core_destroy(c);
	pol_rules_put(r);
	guard_free(&guard);
	return tp_summary();
}
