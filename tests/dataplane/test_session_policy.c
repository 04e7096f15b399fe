/* SPDX-License-Identifier: MIT */
/*
 * test_session_policy.c - the policy hooks of the SMTP glue (dataplane/dp_session.c) over the
 * in-memory transport of dp_mem.h, with a real rule set: a client refused at connect (554
 * greeting, then 503 until QUIT) or told to come back (421); HELO, MAIL and RCPT refused with
 * the rule's code and text (other recipients kept); a body pattern fed one byte per input
 * call refused at the end of data and never stored; discard answered 250 without a queue id;
 * an accepted message committed ("queued as"); a rule set posted to the worker's mailbox
 * taken at the next loop pass. Every transaction is released: the core's pool must be whole
 * at the end (pol_core_destroy in dp_worker_fini checks nothing, so the test counts tx begun
 * against the pool by filling it).
 */
#include "tests/dataplane/dp_mem.h"

static const char rules_text[] =
    "rule badnet  client /^198\\.51\\.100\\.66$/ reject 554 5.7.1 \"Go away\"\n"
    "rule slownet client /^198\\.51\\.100\\.67$/ tempfail 421 4.7.0 \"Later\"\n"
    "rule badhelo helo   /^evil\\./ reject 550 5.7.1 \"Bad HELO\"\n"
    "rule badfrom mail   /^spammer@/ reject 550 5.7.1 \"Sender refused\"\n"
    "rule badrcpt rcpt   /^nobody@/ reject 550 5.1.1 \"No such user\"\n"
    "rule drop    mail   /^dropme@/ discard\n"
    "rule body1   body   \"XYZZY-PATTERN\" reject 554 5.7.1 \"Body refused\"\n";

static struct pol_mailbox mb;

static struct dp_conn *session(const char *ip, uint16_t port)
{
	struct dp_conn *c = mem_connect(ip, port);

	mem_pump(mem.w);
	mem_sends(c, "EHLO client.example\r\n");
	mem_pump(mem.w);
	return c;
}

static void finish(struct dp_conn *c)
{
	if (!mem_released(c) && !(c->flags & DP_C_CLOSING)) {
		mem_sends(c, "QUIT\r\n");
		mem_pump(mem.w);
	}
}

static void test_connect(void)
{
	struct dp_conn *c = mem_connect("198.51.100.66", 1);

	mem_pump(mem.w);
	mem_sends(c, "EHLO client.example\r\nMAIL FROM:<a@b.example>\r\n");
	mem_pump(mem.w);
	CHECK(strncmp(mem_out(c), "554 5.7.1 mx.test Go away\r\n", 27) == 0, "554 greeting: %s",
	      mem_out(c));
	CHECK(strstr(mem_out(c), "503 5.5.1") != NULL, "refused session answers 503: %s",
	      mem_out(c));
	finish(c);
	c = mem_connect("198.51.100.67", 1);
	mem_pump(mem.w);
	CHECK(strncmp(mem_out(c), "421 4.7.0 mx.test Later\r\n", 25) == 0, "421 at connect: %s",
	      mem_out(c));
	CHECK(mem_released(c) || (c->flags & DP_C_CLOSING), "closed after 421");
}

static void test_envelope(void)
{
	struct dp_conn *c = session("192.0.2.1", 1);

	mem_sends(c, "EHLO evil.example\r\n");
	mem_pump(mem.w);
	CHECK(strstr(mem_out(c), "550 5.7.1 Bad HELO\r\n") != NULL, "HELO refused: %s", mem_out(c));
	mem_sends(c, "EHLO good.example\r\nMAIL FROM:<spammer@x.example>\r\n");
	mem_pump(mem.w);
	CHECK(strstr(mem_out(c), "550 5.7.1 Sender refused\r\n") != NULL, "MAIL refused: %s",
	      mem_out(c));
	mem_sends(c, "MAIL FROM:<ok@x.example>\r\nRCPT TO:<a@d.example>\r\n"
	             "RCPT TO:<nobody@d.example>\r\nRCPT TO:<b@d.example>\r\n");
	mem_pump(mem.w);
	CHECK(strstr(mem_out(c), "550 5.1.1 No such user\r\n") != NULL, "RCPT refused: %s",
	      mem_out(c));
	CHECK(c->nrcpt == 2, "refused recipient left out of the envelope: %u", c->nrcpt);
	mem_sends(c, "DATA\r\nSubject: hi\r\n\r\nhello\r\n.\r\n");
	mem_pump(mem.w);
	CHECK(strstr(mem_out(c), "250 2.0.0 Ok: queued as ") != NULL, "accepted and queued: %s",
	      mem_out(c));
	finish(c);
}

static void test_body(void)
{
	static const char msg[] = "Subject: x\r\n\r\nsome XYZZY-PATTERN here\r\n.\r\n";
	struct dp_conn *c = session("192.0.2.2", 1);

	mem_sends(c, "MAIL FROM:<ok@x.example>\r\nRCPT TO:<a@d.example>\r\nDATA\r\n");
	mem_pump(mem.w);
	for (size_t i = 0; i < sizeof(msg) - 1; i++) {
		mem_send(c, msg + i, 1);
		mem_pump(mem.w);
	}
	CHECK(strstr(mem_out(c), "554 5.7.1 Body refused\r\n") != NULL, "body refused: %s",
	      mem_out(c));
	CHECK(strstr(mem_out(c), "queued as") == NULL, "never queued");
	CHECK(c->pol_tx == NULL && c->msg == NULL, "tx released, spool record aborted");
	mem_sends(c, "MAIL FROM:<dropme@x.example>\r\nRCPT TO:<a@d.example>\r\nDATA\r\n"
	             "Subject: y\r\n\r\nbye\r\n.\r\n");
	mem_pump(mem.w);
	CHECK(strstr(mem_out(c), "250 2.0.0 Ok: discarded\r\n") != NULL, "discard: %s", mem_out(c));
	/* a transaction dropped by RSET releases its policy transaction */
	mem_sends(c, "MAIL FROM:<ok@x.example>\r\n");
	mem_pump(mem.w);
	CHECK(c->pol_tx != NULL, "MAIL opened a policy transaction");
	mem_sends(c, "RSET\r\n");
	mem_pump(mem.w);
	CHECK(c->pol_tx == NULL, "RSET released it");
	finish(c);
}

static void test_swap(void)
{
	static const char text[] = "rule fresh mail /^fresh@/ reject 550 5.7.1 \"Fresh rule\"\n";
	struct pol_rules *r;
	struct pol_error pe;
	struct dp_conn *c;

	REQUIRE(pol_rules_load_mem("fresh", text, sizeof(text) - 1, NULL, &r, &pe) == 0, "%s",
	        pe.msg);
	pol_mailbox_post(&mb, r);
	pol_rules_put(r);
	c = session("192.0.2.3", 1); /* the pump's loop passes take the mailbox */
	CHECK(!pol_mailbox_pending(&mb), "the worker took the new rules");
	mem_sends(c, "MAIL FROM:<fresh@x.example>\r\nMAIL FROM:<spammer@x.example>\r\n");
	mem_pump(mem.w);
	CHECK(strstr(mem_out(c), "550 5.7.1 Fresh rule\r\n") != NULL, "new rule applies: %s",
	      mem_out(c));
	CHECK(strstr(mem_out(c), "Sender refused") == NULL, "old rule gone: %s", mem_out(c));
	finish(c);
}

int main(void)
{
	struct pol_rules *rules;
	struct pol_error pe;

	mem_start("");
	pol_mailbox_init(&mb);
	REQUIRE(pol_rules_load_mem("test", rules_text, sizeof(rules_text) - 1, NULL, &rules, &pe) ==
	            0,
	        "rules: %s", pe.msg);
	REQUIRE(dp_worker_policy(mem.w, rules, &mb) == 0, "policy on");
	pol_rules_put(rules); /* the core holds its own reference */
	test_connect();
	test_envelope();
	test_body();
	test_swap();
	CHECK(pol_core_stats(mem.w->pol)->tx >= 5, "transactions went through the engine");
	mem_stop();
	return dp_test_finish("test_session_policy");
}
