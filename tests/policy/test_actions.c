/* SPDX-License-Identifier: MIT */
/*
 * test_actions.c - every action on every field, through the public API (policy/policy.h).
 *
 *   1. connection stage: client address (IPv4, IPv6, v4-mapped) and HELO: accept, reject,
 *      tempfail with rule and default replies, tags carried into the message;
 *   2. MAIL and RCPT: reject, tempfail, discard, score, the null sender, per-recipient refusal;
 *   3. headers (by name, Subject, any header line) and body: quarantine, tag with and without
 *      a header line, score thresholds for tag and reject, reject and tempfail at end of data;
 *   4. file order: an allowlist first stops evaluation (and scanning); an accept after a
 *      matching reject does not win; tags after the deciding rule are not added;
 *   5. pool exhaustion, pol_tx_end() twice, rule ids and header formatting.
 *
 * The last line says "N passed, M failed"; exit status 0 when all pass.
 */
#include <errno.h>

#include "tests/policy/tpol.h"

static const char rules_text[] =
    "# every field, every action\n"
    "set reject_score 10\n"
    "set tag_score 5\n"
    "rule c-acc   client  /^192\\.0\\.2\\.1$/      accept\n"
    "rule c-rej   client  /^198\\.51\\.100\\./     reject 554 5.7.1 \"You are blocked\"\n"
    "rule c-tmp   client  \"203.0.113.7\"          tempfail\n"
    "rule c-v6    client  /^2001:db8::bad$/        reject\n"
    "rule h-rej   helo    /^localhost$/i           reject 550 5.7.1 \"Bad HELO\"\n"
    "rule h-tag   helo    /\\.dynamic\\./          tag\n"
    "rule m-rej   mail    /@spam\\.example$/       reject\n"
    "rule m-tmp   mail    /@slow\\.example$/       tempfail 451 4.7.1 \"Greylisted\"\n"
    "rule m-null  mail    /^$/                     score 1\n"
    "rule r-rej   rcpt    /^nobody@/               reject 550 5.1.1 \"No such user\"\n"
    "rule r-disc  rcpt    /^blackhole@/            discard\n"
    "rule s-q     subject \"quarantine me\"i        quarantine\n"
    "rule x-tag   header:X-Mailer /BulkMail/       tag \"X-Bulk: yes\"\n"
    "rule any-sc  header  /^Received: from evil/   score 3\n"
    "rule b-rej   body    /buy\\s+now/i            reject\n"
    "rule b-sc1   body    \"cheap\"                score 2.5\n"
    "rule b-sc2   body    \"pills\"                score 3\n"
    "rule b-sc3   body    \"viagra\"               score 1.5\n"
    "rule b-tmp   body    \"TEMPFAILME\"           tempfail\n"
    "rule b-lit   body    \"a.b*c\"                tag\n"
    "rule m-acc   mail    /@friend\\.example$/     accept\n";

static struct pol_core *core;

static int streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static void test_client(void)
{
	struct pol_conn conn;
	struct pol_verdict v;
	struct sockaddr_storage a;

	a = tp_addr("192.0.2.1");
	pol_conn_client(core, &conn, (struct sockaddr *)&a, &v);
	CHECK(v.action == POL_ACCEPT && v.code == 0 && streq(v.rule, "c-acc"), "client accept");
	a = tp_addr("198.51.100.5");
	pol_conn_client(core, &conn, (struct sockaddr *)&a, &v);
	CHECK(v.action == POL_REJECT && v.code == 554 && streq(v.enh, "5.7.1") &&
	          streq(v.text, "You are blocked") && streq(v.rule, "c-rej"),
	      "client reject with its own reply: %u %s", v.code, v.text ? v.text : "-");
	{
		struct pol_tx *tx;

		pol_tx_begin(core, &conn, "a@b", 3, &tx, &v);
		CHECK(!tx && v.code == 554, "a refused connection stays refused at MAIL");
	}
	a = tp_addr("203.0.113.7");
	pol_conn_client(core, &conn, (struct sockaddr *)&a, &v);
	CHECK(v.action == POL_TEMPFAIL && v.code == 421 && streq(v.enh, "4.7.0"),
	      "client tempfail, default 421 at connect: %u", v.code);
	a = tp_addr("2001:db8::bad");
	pol_conn_client(core, &conn, (struct sockaddr *)&a, &v);
	CHECK(v.action == POL_REJECT && v.code == 554 && streq(v.rule, "c-v6"), "IPv6 client");
	a = tp_addr("::ffff:198.51.100.9");
	pol_conn_client(core, &conn, (struct sockaddr *)&a, &v);
	CHECK(v.action == POL_REJECT && streq(v.rule, "c-rej"), "v4-mapped IPv6 as dotted quad");
	a = tp_addr("192.0.2.10");
	pol_conn_client(core, &conn, (struct sockaddr *)&a, &v);
	CHECK(v.action == POL_PASS && v.code == 0 && !v.rule, "no client rule matches");
}

static void test_helo(void)
{
	struct pol_conn conn;
	struct pol_verdict v;
	struct sockaddr_storage a = tp_addr("192.0.2.77");
	struct pol_tx *tx;
	char hdr[512];
	const char msg[] = "Subject: hi\r\n\r\nhello\r\n";

	pol_conn_client(core, &conn, (struct sockaddr *)&a, &v);
	pol_conn_helo(core, &conn, "LocalHost", 9, &v);
	CHECK(v.action == POL_REJECT && v.code == 550 && streq(v.text, "Bad HELO"),
	      "HELO reject (caseless)");
	pol_conn_helo(core, &conn, "host.dynamic.example", 20, &v);
	CHECK(v.code == 0 && v.action == POL_PASS, "HELO tag answers OK");
	pol_tx_begin(core, &conn, "sender@example.org", 18, &tx, &v);
	CHECK(tx && v.code == 0, "MAIL after a tagged HELO");
	if (!tx)
		return;
	pol_tx_data(core, tx, msg, sizeof(msg) - 1);
	pol_tx_end(core, tx, &v);
	CHECK(v.action == POL_PASS && v.tagged, "the HELO tag is carried to the message");
	CHECK(pol_tx_headers(tx, hdr, sizeof(hdr)) > 0 &&
	          !strcmp(hdr, "X-Sluice-Policy: h-tag\r\n"),
	      "policy header: '%s'", hdr);
	pol_tx_release(core, tx);
	/* a new HELO replaces the previous one's matches */
	pol_conn_helo(core, &conn, "clean.example", 13, &v);
	pol_tx_begin(core, &conn, "sender@example.org", 18, &tx, &v);
	pol_tx_data(core, tx, msg, sizeof(msg) - 1);
	pol_tx_end(core, tx, &v);
	CHECK(v.action == POL_PASS && !v.tagged, "second HELO drops the first one's tag");
	pol_tx_release(core, tx);
}

static void test_mail_rcpt(void)
{
	struct pol_verdict v;
	struct pol_tx *tx;

	pol_tx_begin(core, NULL, "x@spam.example", 14, &tx, &v);
	CHECK(!tx && v.action == POL_REJECT && v.code == 550 && streq(v.enh, "5.7.1") &&
	          streq(v.rule, "m-rej"),
	      "MAIL reject, default reply %u", v.code);
	pol_tx_begin(core, NULL, "x@slow.example", 14, &tx, &v);
	CHECK(!tx && v.action == POL_TEMPFAIL && v.code == 451 && streq(v.text, "Greylisted"),
	      "MAIL tempfail with its reply");
	pol_tx_begin(core, NULL, "", 0, &tx, &v);
	CHECK(tx && v.code == 0, "null sender accepted at MAIL");
	if (!tx)
		return;
	pol_tx_rcpt(core, tx, "nobody@example.net", 18, &v);
	CHECK(v.action == POL_REJECT && v.code == 550 && streq(v.enh, "5.1.1") &&
	          streq(v.text, "No such user"),
	      "RCPT reject");
	pol_tx_rcpt(core, tx, "ok@example.net", 14, &v);
	CHECK(v.code == 0 && v.action == POL_PASS, "RCPT pass");
	pol_tx_rcpt(core, tx, "blackhole@example.net", 21, &v);
	CHECK(v.code == 0 && v.action == POL_DISCARD, "RCPT discard answers OK");
	pol_tx_data(core, tx, "Subject: x\r\n\r\nbody\r\n", 20);
	pol_tx_end(core, tx, &v);
	CHECK(v.action == POL_DISCARD && v.code == 0 && streq(v.rule, "r-disc") && !v.tagged,
	      "discard at end of data, nothing to store");
	CHECK(v.score == 1000, "null sender score 1 walked (before the discard): %d", v.score);
	pol_tx_release(core, tx);
}

/* One message from sender with one clean recipient; returns the verdict. */
static struct pol_verdict run(const char *from, const char *msg, char *hdr, size_t hcap)
{
	struct pol_verdict v;
	struct pol_tx *tx;

	pol_tx_begin(core, NULL, from, strlen(from), &tx, &v);
	if (!tx) {
		CHECK(0, "MAIL %s refused", from);
		return v;
	}
	pol_tx_rcpt(core, tx, "u@example.net", 13, &v);
	pol_tx_data(core, tx, msg, strlen(msg));
	pol_tx_end(core, tx, &v);
	if (hdr && pol_tx_headers(tx, hdr, hcap) < 0)
		hdr[0] = '\0';
	pol_tx_release(core, tx);
	return v;
}

static void test_content(void)
{
	struct pol_verdict v;
	char hdr[1024];

	v = run("a@example.org", "Subject: Please QUARANTINE ME now\r\n\r\nhi\r\n", hdr,
	        sizeof(hdr));
	CHECK(v.action == POL_QUARANTINE && v.code == 0 && streq(v.rule, "s-q"),
	      "Subject quarantine");
	v = run("a@example.org", "x-mailer: BulkMail 2.0\r\n\r\nhi\r\n", hdr, sizeof(hdr));
	CHECK(v.action == POL_PASS && v.tagged && !strcmp(hdr, "X-Bulk: yes\r\n"),
	      "named header (case-insensitive name), tag with a header line: '%s'", hdr);
	v = run("a@example.org", "Received: from evil.example\r\nSubject: x\r\n\r\ncheap\r\n", hdr,
	        sizeof(hdr));
	CHECK(v.action == POL_PASS && v.score == 5500 && v.tagged &&
	          !strcmp(hdr, "X-Sluice-Spam: yes\r\nX-Sluice-Score: 5.5\r\n"),
	      "any-header score + body score reach tag_score: score %d '%s'", v.score, hdr);
	v = run("", "Received: from evil\r\n\r\ncheap pills, viagra\r\n", hdr, sizeof(hdr));
	CHECK(v.action == POL_REJECT && v.code == 550 && v.score == 11000 && !v.rule &&
	          streq(v.text, "Message rejected as spam"),
	      "reject_score reached: %d", v.score);
	v = run("a@example.org", "Subject: x\r\n\r\nBUY \t NOW\r\n", NULL, 0);
	CHECK(v.action == POL_REJECT && v.code == 550 &&
	          streq(v.text, "Message rejected by policy") && streq(v.rule, "b-rej"),
	      "body reject, end-of-data default");
	v = run("a@example.org", "Subject: x\r\n\r\nTEMPFAILME\r\n", NULL, 0);
	CHECK(v.action == POL_TEMPFAIL && v.code == 451 && streq(v.enh, "4.7.1"), "body tempfail");
	v = run("a@example.org", "Subject: buy now\r\n\r\nclean\r\n", NULL, 0);
	CHECK(v.action == POL_PASS, "a body rule does not look at headers");
	v = run("a@example.org", "Subject: clean\r\n\r\naxb*c a.bbc\r\n", NULL, 0);
	CHECK(v.action == POL_PASS && !v.tagged, "a literal is not a regex");
	v = run("a@example.org", "Subject: clean\r\n\r\nx a.b*c y\r\n", hdr, sizeof(hdr));
	CHECK(v.tagged && !strcmp(hdr, "X-Sluice-Policy: b-lit\r\n"),
	      "literal with metacharacters");
	/* accept at MAIL comes after b-rej in the file: b-rej still decides */
	v = run("me@friend.example", "Subject: x\r\n\r\nbuy now\r\n", NULL, 0);
	CHECK(v.action == POL_REJECT && streq(v.rule, "b-rej"), "file order: earlier reject wins");
	v = run("me@friend.example", "Subject: x\r\n\r\nhello\r\n", NULL, 0);
	CHECK(v.action == POL_ACCEPT && streq(v.rule, "m-acc") && v.code == 0, "MAIL accept");
}

static void test_order(void)
{
	struct pol_rules *r = tp_load("rule early-tag body \"x\" tag\n"
	                              "rule vip mail /@vip\\.example$/ accept\n"
	                              "rule late-tag body \"x\" tag\n"
	                              "rule bad body \"buy now\" reject\n");
	struct pol_core *c = tp_core(r, 4);
	struct pol_verdict v;
	struct pol_tx *tx;
	char buf[256];
	uint64_t before;

	pol_tx_begin(c, NULL, "boss@vip.example", 16, &tx, &v);
	CHECK(tx && v.action == POL_ACCEPT && streq(v.rule, "vip"), "accept at MAIL");
	before = pol_core_stats(c)->body_bytes;
	CHECK(pol_tx_data(c, tx, "Subject: x\r\n\r\nbuy now x\r\n", 25) == 0,
	      "a body rule before the accept: the body is still scanned");
	pol_tx_end(c, tx, &v);
	CHECK(v.action == POL_ACCEPT && pol_core_stats(c)->body_bytes == before + 11,
	      "accept wins over the later reject");
	pol_tx_release(c, tx);

	pol_tx_begin(c, NULL, "a@example.org", 13, &tx, &v);
	pol_tx_data(c, tx, "Subject: x\r\n\r\nx\r\n", 17);
	pol_tx_end(c, tx, &v);
	CHECK(v.tagged && pol_tx_headers(tx, buf, sizeof(buf)) > 0 &&
	          !strcmp(buf, "X-Sluice-Policy: early-tag, late-tag\r\n"),
	      "both tags without a terminal rule: '%s'", buf);
	CHECK(pol_tx_rule_ids(tx, buf, sizeof(buf)) > 0 && !strcmp(buf, "early-tag,late-tag"),
	      "rule ids: '%s'", buf);
	CHECK(pol_tx_end(c, tx, &v) == -EINVAL, "pol_tx_end() twice");
	CHECK(pol_tx_headers(tx, buf, 5) == -ENOSPC, "short buffer: -ENOSPC");
	pol_tx_release(c, tx);

	pol_tx_begin(c, NULL, "boss@vip.example", 16, &tx, &v);
	pol_tx_end(c, tx, &v);
	pol_tx_release(c, tx);
	pol_tx_begin(c, NULL, "boss@vip.example", 16, &tx, &v);
	pol_tx_data(c, tx, "Subject: x\r\n\r\nx\r\n", 17);
	pol_tx_end(c, tx, &v);
	CHECK(pol_tx_headers(tx, buf, sizeof(buf)) > 0 &&
	          !strcmp(buf, "X-Sluice-Policy: early-tag\r\n"),
	      "a tag after the deciding accept is not added: '%s'", buf);
	CHECK(pol_tx_rule_ids(tx, buf, sizeof(buf)) > 0 && !strcmp(buf, "early-tag,vip"),
	      "rule ids stop at the deciding rule: '%s'", buf);
	pol_tx_release(c, tx);

	/* pool exhaustion */
	struct pol_tx *t[5];
	int rc = 0;

	for (int i = 0; i < 5; i++)
		rc = pol_tx_begin(c, NULL, "a@b", 3, &t[i], &v);
	CHECK(rc == -EBUSY && !t[4] && v.code == 451 && streq(v.enh, "4.3.2") &&
	          pol_core_stats(c)->tx_busy == 1,
	      "pool of 4: the fifth MAIL gets 451 4.3.2");
	for (int i = 0; i < 4; i++)
		pol_tx_release(c, t[i]);
	pol_tx_begin(c, NULL, "a@b", 3, &t[0], &v);
	CHECK(t[0] != NULL, "released entries are reused");
	pol_tx_release(c, t[0]);
	pol_core_destroy(c);
	pol_rules_put(r);
}

static void test_allowlist_first(void)
{
	struct pol_rules *r = tp_load("rule vip mail /@vip\\.example$/ accept\n"
	                              "rule bad body \"buy now\" reject\n"
	                              "rule hdr subject /./ tag\n");
	struct pol_core *c = tp_core(r, 2);
	struct pol_verdict v;
	struct pol_tx *tx;

	pol_tx_begin(c, NULL, "boss@vip.example", 16, &tx, &v);
	CHECK(tx && v.action == POL_ACCEPT, "allowlist at MAIL");
	CHECK(pol_tx_data(c, tx, "Subject: x\r\n\r\nbuy now\r\n", 23) == POL_DONE,
	      "allowlist first: pol_tx_data() says the rest cannot matter");
	pol_tx_end(c, tx, &v);
	CHECK(v.action == POL_ACCEPT && streq(v.rule, "vip") && !v.tagged, "accepted, untagged");
	CHECK(pol_core_stats(c)->scan_calls == 1 && pol_core_stats(c)->skipped_bytes == 23,
	      "nothing but MAIL was scanned (%" PRIu64 " calls)", pol_core_stats(c)->scan_calls);
	pol_tx_release(c, tx);
	pol_core_destroy(c);
	pol_rules_put(r);
}

static void test_no_content_rules(void)
{
	struct pol_rules *r = tp_load("rule m mail /@x\\.example$/ reject\n");
	struct pol_core *c = tp_core(r, 2);
	struct pol_verdict v;
	struct pol_tx *tx;

	pol_tx_begin(c, NULL, "a@y.example", 11, &tx, &v);
	CHECK(pol_tx_data(c, tx, "Subject: x\r\n\r\nbody\r\n", 20) == POL_DONE &&
	          pol_core_stats(c)->scan_calls == 1,
	      "no header or body rules: the message is not looked at");
	pol_tx_end(c, tx, &v);
	CHECK(v.action == POL_PASS && v.code == 0, "pass");
	pol_tx_release(c, tx);
	pol_core_destroy(c);
	pol_rules_put(r);
}

int main(void)
{
	struct pol_rules *r = tp_load(rules_text);

	core = tp_core(r, 8);
	CHECK(!strcmp(pol_action_name(POL_QUARANTINE), "quarantine"), "action names");
	test_client();
	test_helo();
	test_mail_rcpt();
	test_content();
	test_order();
	test_allowlist_first();
	test_no_content_rules();
	pol_core_destroy(core);
	pol_rules_put(r);
	return tp_summary();
}
