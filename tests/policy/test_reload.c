/* SPDX-License-Identifier: MIT */
/*
 * test_reload.c - reloading rules (pol_reload, the mailbox, pol_core_sync) in policy/core.c.
 *
 *   1. a broken rules file (syntax error, pattern that does not compile, missing file) keeps
 *      the old rules: error names the file and line, nothing is posted, verdicts unchanged;
 *   2. a good file is posted; the core swaps at its next safe point; a transaction begun
 *      before the swap finishes on the old rules, new ones use the new rules;
 *   3. connection-stage matches carry into transactions only under the same rule set
 *      (same compile key), not across a change;
 *   4. too many older sets still in flight: the swap waits (-EBUSY, the offer stays posted)
 *      until a transaction ends;
 *   5. a reloader thread posting rule sets while the core runs transactions and syncs.
 *
 * Leaks and use-after-free show in the ASan build. Last line "N passed, M failed".
 */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "tests/policy/tpol.h"

static char dir[64], path[128];

static void write_rules(const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* The rule that decided a one-span message, or "" for none. */
static const char *verdict_of(struct pol_core *c, const char *body, char *buf, size_t cap)
{
	struct pol_verdict v;
	char msg[256];
	size_t n = (size_t)snprintf(msg, sizeof(msg), "Subject: x\r\n\r\n%s\r\n", body);

	tp_run(c, "s@example.org", msg, n, NULL, 0, &v, NULL, 0);
	snprintf(buf, cap, "%s", v.rule ? v.rule : "");
	return buf;
}

static void test_broken_keeps_old(void)
{
	static const char *const broken[] = {
	    "rule b1 body \"beta\" reject\nrule b2 body \"x\" frobnicate\n",
	    "rule b1 body \"beta\" reject\nrule b2 body /(unclosed/ tag\n",
	};
	static const char *const want[] = {":2: unknown action frobnicate",
	                                   ":2: rule 'b2': cannot compile pattern /(unclosed/"};
	struct pol_rules *cur;
	struct pol_mailbox mb;
	struct pol_error err;
	struct pol_core *c;
	char buf[64];

	pol_mailbox_init(&mb);
	write_rules("rule a1 body \"alpha\" reject\n");
	if (pol_rules_load(path, NULL, &cur, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	c = tp_core(cur, 4);
	for (int i = 0; i < 2; i++) {
		struct pol_rules *before = cur;

		write_rules(broken[i]);
		int rc = pol_reload(path, NULL, &mb, 1, &cur, &err);

		CHECK(rc == -EINVAL && cur == before && !pol_mailbox_pending(&mb),
		      "broken file %d: rc %d, old rules kept, nothing posted", i, rc);
		CHECK(!strncmp(err.msg, path, strlen(path)) && strstr(err.msg, want[i]),
		      "broken file %d: '%s'", i, err.msg);
		pol_core_sync(c, &mb);
		CHECK(!strcmp(verdict_of(c, "alpha", buf, sizeof(buf)), "a1"),
		      "old rules still apply");
	}
	unlink(path);
	CHECK(pol_reload(path, NULL, &mb, 1, &cur, &err) == -ENOENT && !pol_mailbox_pending(&mb),
	      "missing file: -ENOENT, old rules kept (%s)", err.msg);

	/* now a good file: posted, taken at the next sync */
	write_rules("rule b1 body \"beta\" reject\n");
	struct pol_verdict v;
	struct pol_tx *old_tx;

	pol_tx_begin(c, NULL, "s@x", 3, &old_tx, &v); /* begun on the old rules */
	CHECK(pol_reload(path, NULL, &mb, 1, &cur, &err) == 0 && pol_mailbox_pending(&mb),
	      "good file posted");
	CHECK(!strcmp(verdict_of(c, "beta", buf, sizeof(buf)), ""), "not before the sync");
	CHECK(pol_core_sync(c, &mb) == 1 && !pol_mailbox_pending(&mb) && pol_core_rules(c) == cur &&
	          pol_core_stats(c)->swaps == 1,
	      "swapped at the safe point");
	CHECK(!strcmp(verdict_of(c, "beta", buf, sizeof(buf)), "b1") &&
	          !strcmp(verdict_of(c, "alpha", buf, sizeof(buf)), ""),
	      "new transactions use the new rules");
	pol_tx_data(c, old_tx, "Subject: x\r\n\r\nalpha beta\r\n", 26);
	pol_tx_end(c, old_tx, &v);
	CHECK(v.rule && !strcmp(v.rule, "a1"),
	      "the transaction in flight finished on the old rules");
	pol_tx_release(c, old_tx); /* drops the old set */
	CHECK(pol_core_sync(c, &mb) == 0, "nothing pending");
	pol_core_destroy(c);
	pol_rules_put(cur);
}

static void test_conn_carry(void)
{
	static const char text[] = "rule ct client /^192\\.0\\.2\\./ tag\nrule b body \"x\" tag\n";
	struct pol_rules *a = tp_load(text), *same = tp_load(text);
	struct pol_rules *other =
	    tp_load("rule b body \"x\" tag\nrule ct client /^192\\.0\\.2\\./ tag\n");
	struct pol_core *c = tp_core(a, 2);
	struct sockaddr_storage sa = tp_addr("192.0.2.5");
	struct pol_conn conn;
	struct pol_verdict v;
	struct pol_tx *tx;
	char ids[64];

	for (int step = 0; step < 2; step++) {
		pol_conn_client(c, &conn, (struct sockaddr *)&sa, &v);
		pol_core_swap(c, pol_rules_get(step ? other : same));
		pol_tx_begin(c, &conn, "s@x", 3, &tx, &v);
		pol_tx_end(c, tx, &v);
		pol_tx_rule_ids(tx, ids, sizeof(ids));
		CHECK(!strcmp(ids, step ? "" : "ct"),
		      step ? "a changed rule set drops the connection's matches: '%s'"
		           : "an identical rule set keeps them: '%s'",
		      ids);
		pol_tx_release(c, tx);
	}
	pol_core_destroy(c);
	pol_rules_put(a);
	pol_rules_put(same);
	pol_rules_put(other);
}

static void test_busy(void)
{
	struct pol_rules *set[7];
	struct pol_tx *tx[7];
	struct pol_mailbox mb;
	struct pol_verdict v;
	struct pol_core *c;
	int rc = 0, k;

	pol_mailbox_init(&mb);
	for (int i = 0; i < 7; i++) {
		char t[64];

		snprintf(t, sizeof(t), "rule r%d body \"v%d\" tag\n", i, i);
		set[i] = tp_load(t);
	}
	c = tp_core(set[0], 8);
	/* one transaction in flight on each set: the core can keep 4 older sets */
	for (k = 0; k < 6; k++) {
		pol_tx_begin(c, NULL, "s@x", 3, &tx[k], &v);
		pol_mailbox_post(&mb, set[k + 1]);
		rc = pol_core_sync(c, &mb);
		if (rc != 1)
			break;
	}
	CHECK(k == 4 && rc == -EBUSY && pol_mailbox_pending(&mb) && pol_core_rules(c) == set[4],
	      "fifth set with four older ones in flight waits: k %d rc %d", k, rc);
	pol_tx_release(c, tx[0]);
	CHECK(pol_core_sync(c, &mb) == 1 && pol_core_rules(c) == set[5], "then swaps");
	for (int i = 1; i <= k; i++)
		pol_tx_release(c, tx[i]);
	pol_core_destroy(c);
	for (int i = 0; i < 7; i++)
		pol_rules_put(set[i]);
}

struct reloader {
	struct pol_mailbox *mb;
	int rounds;
};

static void *reload_thread(void *arg)
{
	struct reloader *rl = arg;

	for (int i = 0; i < rl->rounds; i++) {
		struct pol_rules *r = tp_load(i % 2 ? "rule y-gamma body \"gamma\" reject\n"
		                                    : "rule x-gamma body \"gamma\" reject\n");

		pol_mailbox_post(rl->mb, r);
		pol_rules_put(r);
		usleep(2000);
	}
	return NULL;
}

static void test_threaded(void)
{
	struct pol_rules *r0 = tp_load("rule x-gamma body \"gamma\" reject\n");
	struct pol_core *c = tp_core(r0, 16);
	struct pol_mailbox mb;
	struct reloader rl = {&mb, 40};
	struct pol_tx *held[8] = {0};
	pthread_t th;
	unsigned bad = 0, n = 0;
	char buf[64];

	pol_mailbox_init(&mb);
	pthread_create(&th, NULL, reload_thread, &rl);
	for (int done = 0; !done;) {
		done = pthread_tryjoin_np(th, NULL) == 0;
		if (pol_mailbox_pending(&mb))
			pol_core_sync(c, &mb);
		/* keep a few transactions open across swaps */
		struct pol_verdict v;
		unsigned slot = n % 8;

		if (held[slot]) {
			pol_tx_data(c, held[slot], "Subject: x\r\n\r\ngamma\r\n", 21);
			pol_tx_end(c, held[slot], &v);
			bad += !v.rule || strstr(v.rule, "-gamma") == NULL;
			pol_tx_release(c, held[slot]);
		}
		pol_tx_begin(c, NULL, "s@x", 3, &held[slot], &v);
		verdict_of(c, "gamma", buf, sizeof(buf));
		bad += strcmp(buf, "x-gamma") && strcmp(buf, "y-gamma");
		n++;
	}
	pol_core_sync(c, &mb);
	for (unsigned i = 0; i < 8; i++)
		if (held[i])
			pol_tx_release(c, held[i]);
	CHECK(bad == 0 && pol_core_stats(c)->swaps > 0,
	      "%u transactions while 40 sets were posted: %u wrong, %" PRIu64 " swaps", n, bad,
	      pol_core_stats(c)->swaps);
	CHECK(!strcmp(verdict_of(c, "gamma", buf, sizeof(buf)), "y-gamma"), "the last set wins");
	pol_core_destroy(c);
	pol_rules_put(r0);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sluice-policy-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/sluice.rules", dir);
	test_broken_keeps_old();
	test_conn_carry();
	test_busy();
	test_threaded();
	unlink(path);
	rmdir(dir);
	return tp_summary();
}
