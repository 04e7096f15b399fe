/* SPDX-License-Identifier: MIT */
/*
 * test_large.c - a 10,000-rule set compiles and every kind of rule in it matches.
 *
 * Rules (all "tag", so the walk reports every match): 8,000 body literals, 400 body
 * regexes, 600 Subject literals, 300 regexes on any header line, 350 RCPT and 350 MAIL
 * regexes (the mix keeps the compile short under ASan). Every trigger is a distinct token that no
 * other rule matches. Then 400 rules picked at random are checked one by one: a message built to
 * trigger exactly that rule reports exactly that rule id; a message with two triggers (one in the
 * body split across spans) reports both; a clean message reports none.
 *
 * The seed is printed; SLUICE_SEED=<n> changes it. Last line "N passed, M failed".
 */
#include "tests/policy/tpol.h"

#define NRULES 10000

enum kind { K_BODY_LIT, K_BODY_RE, K_SUBJ, K_HDR, K_RCPT, K_MAIL };

static enum kind kind_of(unsigned i)
{
	if (i < 8000)
		return K_BODY_LIT;
	if (i < 8400)
		return K_BODY_RE;
	if (i < 9000)
		return K_SUBJ;
	if (i < 9300)
		return K_HDR;
	return i < 9650 ? K_RCPT : K_MAIL;
}

static char *make_rules(void)
{
	size_t cap = NRULES * 96, n = 0;
	char *t = tp_alloc(cap);

	for (unsigned i = 0; i < NRULES; i++) {
		const char *f;

		switch (kind_of(i)) {
		case K_BODY_LIT:
			f = "rule r%05u body \"zq%05uq\" tag\n";
			break;
		case K_BODY_RE:
			f = "rule r%05u body /rx%05u-[0-9]{3}x/ tag\n";
			break;
		case K_SUBJ:
			f = "rule r%05u subject \"SJ%05uJ\"i tag\n";
			break;
		case K_HDR:
			f = "rule r%05u header /^X-H%05u: [a-z]{3}/ tag\n";
			break;
		case K_RCPT:
			f = "rule r%05u rcpt /^u%05u@[a-z]+\\.example$/ tag\n";
			break;
		default:
			f = "rule r%05u mail /^s%05u@/ tag\n";
			break;
		}
		n += (size_t)snprintf(t + n, cap - n, f, i, i);
	}
	return t;
}

/* One transaction; the header/body/rcpt/mail triggers of rule i (or none if i < 0). */
static void run_one(struct pol_core *c, int i, int j, char *ids, size_t cap)
{
	char mail[64] = "nobody@example.org", rcpt[64] = "user@example.net";
	char hdr[256] = "From: a@example.org\r\n", body[256] = "plain text\r\n";
	char msg[1024];
	struct pol_verdict v;
	struct pol_tx *tx;
	int trig[2] = {i, j};

	for (int k = 0; k < 2; k++) {
		unsigned x = (unsigned)trig[k];

		if (trig[k] < 0)
			continue;
		switch (kind_of(x)) {
		case K_BODY_LIT:
			sprintf(body + strlen(body), "see zq%05uq here\r\n", x);
			break;
		case K_BODY_RE:
			sprintf(body + strlen(body), "see rx%05u-123x here\r\n", x);
			break;
		case K_SUBJ:
			sprintf(hdr + strlen(hdr), "Subject: a sj%05uj b\r\n", x);
			break;
		case K_HDR:
			sprintf(hdr + strlen(hdr), "X-H%05u: abc\r\n", x);
			break;
		case K_RCPT:
			sprintf(rcpt, "u%05u@host.example", x);
			break;
		default:
			sprintf(mail, "s%05u@example.org", x);
			break;
		}
	}
	size_t n = (size_t)snprintf(msg, sizeof(msg), "%s\r\n%s", hdr, body);

	pol_tx_begin(c, NULL, mail, strlen(mail), &tx, &v);
	pol_tx_rcpt(c, tx, rcpt, strlen(rcpt), &v);
	for (size_t at = 0; at < n; at += 7) /* small spans: body tokens cross them */
		pol_tx_data(c, tx, msg + at, n - at < 7 ? n - at : 7);
	pol_tx_end(c, tx, &v);
	if (pol_tx_rule_ids(tx, ids, cap) < 0)
		ids[0] = '\0';
	pol_tx_release(c, tx);
}

int main(void)
{
	struct tp_rng rng = {tp_seed()};
	char *text = make_rules();
	struct pol_rules_info info;
	struct pol_rules *r = tp_load(text);
	struct pol_core *c = tp_core(r, 4);
	char ids[256], want[64];
	unsigned bad = 0;

	pol_rules_info(r, &info);
	printf("10,000 rules: %u databases, %.0f ms to compile, %zu KiB, stream state %zu B\n",
	       info.ndb, info.load_ms, info.db_bytes / 1024, info.stream_bytes);
	CHECK(info.nrules == NRULES && info.ndb == 5, "10,000 rules in 5 databases: %u, %u",
	      info.nrules, info.ndb);
	run_one(c, -1, -1, ids, sizeof(ids));
	CHECK(!strcmp(ids, ""), "a clean message matches nothing: '%s'", ids);
	for (unsigned k = 0; k < 400; k++) {
		unsigned i = (unsigned)tp_below(&rng, NRULES);

		run_one(c, (int)i, -1, ids, sizeof(ids));
		snprintf(want, sizeof(want), "r%05u", i);
		if (strcmp(ids, want)) {
			bad++;
			fprintf(stderr, "rule %u: got '%s'\n", i, ids);
		}
	}
	CHECK(bad == 0, "400 random rules each matched alone: %u wrong", bad);
	bad = 0;
	for (unsigned k = 0; k < 200; k++) {
		unsigned i = (unsigned)tp_below(&rng, 8000),
		         j = 8000 + (unsigned)tp_below(&rng, 2000);

		run_one(c, (int)i, (int)j, ids, sizeof(ids));
		snprintf(want, sizeof(want), "r%05u,r%05u", i, j);
		bad += strcmp(ids, want) != 0;
	}
	CHECK(bad == 0, "200 pairs (a body literal and another kind): %u wrong", bad);
	pol_core_destroy(c);
	pol_rules_put(r);
	free(text);
	return tp_summary();
}
