/* SPDX-License-Identifier: MIT */
/*
 * test_reply.c - reply formatting (parser/reply.c).
 *
 * Single and multi-line replies, enhanced status codes on and off (and never on 3xx),
 * sanitising of embedder text, line and reply length limits, a nearly full reply buffer,
 * enhanced-code validation, verdict defaults, the EHLO reply, and every canned reply: well
 * formed, with an enhanced code of its own class.
 */
#include "parser/session-int.h"
#include "tests/parser/smtp_harness.h"

static unsigned passed, failed;

struct env {
	struct smtp_config cfg;
	struct smtp_session s;
	struct smtp_io io;
	struct smtp_ctx c;
	char buf[4096 + 16];
	struct smtp_event ev[4];
};

static void env_init(struct env *e, size_t cap)
{
	memset(e, 0, sizeof(*e));
	smtp_config_defaults(&e->cfg);
	memset(e->buf, 0x5a, sizeof(e->buf));
	e->io.reply = e->buf;
	e->io.reply_cap = cap;
	e->io.ev = e->ev;
	e->io.ev_cap = 4;
	e->c.s = &e->s;
	e->c.cfg = &e->cfg;
	e->c.io = &e->io;
}

static void expect(const struct env *e, const char *want, const char *what)
{
	size_t n = strlen(want);

	if (e->io.reply_len == n && memcmp(e->buf, want, n) == 0 &&
	    (unsigned char)e->buf[e->io.reply_cap] == 0x5a) {
		passed++;
		return;
	}
	failed++;
	fprintf(stderr, "FAIL %s\n  want: %s  got:  %.*s\n", what, want, (int)e->io.reply_len,
	        e->buf);
}

static void reply(struct env *e, unsigned code, const char *enh, const char *text)
{
	smtp_reply(&e->io, &e->cfg, code, enh, text, strlen(text));
}

static void test_writer(void)
{
	struct env e;
	char big[3000];

	env_init(&e, 4096);
	reply(&e, 250, "2.0.0", "Ok");
	expect(&e, "250 2.0.0 Ok\r\n", "single line");
	env_init(&e, 4096);
	e.cfg.caps &= ~(uint32_t)SMTP_CAP_ENHANCEDSTATUSCODES;
	reply(&e, 250, "2.0.0", "Ok");
	expect(&e, "250 Ok\r\n", "enhanced codes off");
	env_init(&e, 4096);
	reply(&e, 354, "2.0.0", "Go");
	expect(&e, "354 Go\r\n", "no enhanced code on 3xx");
	env_init(&e, 4096);
	reply(&e, 550, "5.7.1", "a\nb\nc\n\n");
	expect(&e, "550-5.7.1 a\r\n550-5.7.1 b\r\n550 5.7.1 c\r\n", "multi-line");
	env_init(&e, 4096);
	reply(&e, 550, "5.7.1", "a\n\nc");
	expect(&e, "550-5.7.1 a\r\n550-5.7.1\r\n550 5.7.1 c\r\n", "empty middle line");
	env_init(&e, 4096);
	reply(&e, 250, "2.0.0", "");
	expect(&e, "250 2.0.0\r\n", "empty text");
	env_init(&e, 4096);
	reply(&e, 250, NULL, "");
	expect(&e, "250\r\n", "empty text, no enhanced code");
	env_init(&e, 4096);
	reply(&e, 554, NULL, "a\rb\x01\x7f\xc3\xa9\tc");
	expect(&e, "554 a?b?????c\r\n", "sanitised text");

	/* one line over 512 octets is cut; many lines are cut at SMTP_REPLY_MAX */
	memset(big, 'x', sizeof(big));
	env_init(&e, 4096);
	smtp_reply(&e.io, &e.cfg, 550, "5.0.0", big, sizeof(big));
	if (e.io.reply_len == 512 && !h_check_replies(e.buf, e.io.reply_len))
		passed++;
	else
		failed++, fprintf(stderr, "FAIL long line: %zu\n", e.io.reply_len);
	for (size_t i = 10; i < sizeof(big); i += 11)
		big[i] = '\n';
	env_init(&e, 4096);
	smtp_reply(&e.io, &e.cfg, 550, "5.0.0", big, sizeof(big));
	if (e.io.reply_len <= SMTP_REPLY_MAX && e.io.reply_len > SMTP_REPLY_MAX - 40 &&
	    !h_check_replies(e.buf, e.io.reply_len))
		passed++;
	else
		failed++, fprintf(stderr, "FAIL many lines: %zu\n%s\n", e.io.reply_len,
		                  h_check_replies(e.buf, e.io.reply_len));
	/* nearly full buffer: a short reply fits exactly, a longer one is cut, never overrun */
	env_init(&e, 20);
	e.io.reply_len = 6;
	reply(&e, 250, "2.0.0", "Ok");
	if (e.io.reply_len == 20 && (unsigned char)e.buf[20] == 0x5a &&
	    !h_check_replies(e.buf + 6, 14))
		passed++;
	else
		failed++, fprintf(stderr, "FAIL exact fit: %zu\n", e.io.reply_len);
	env_init(&e, 20);
	e.io.reply_len = 10;
	reply(&e, 250, "2.0.0", "Ok");
	if (e.io.reply_len == 10 && (unsigned char)e.buf[20] == 0x5a)
		passed++;
	else
		failed++, fprintf(stderr, "FAIL no room: %zu\n", e.io.reply_len);
}

static void test_enh(void)
{
	static const struct {
		const char *e;
		unsigned code;
		int ok;
	} t[] = {
	    {"2.0.0", 250, 1},    {"5.0.0", 250, 0}, {"2.1", 250, 0},    {"2.1000.1", 250, 0},
	    {"2.10.100", 250, 1}, {"x.0.0", 250, 0}, {"2.0.0 ", 250, 0}, {"4.7.1", 421, 1},
	    {"5.7.1", 554, 1},    {"2..0", 250, 0},  {"2.0.", 250, 0},   {"", 250, 0},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (smtp_enh_valid(t[i].e, strlen(t[i].e), t[i].code) == t[i].ok) {
			passed++;
		} else {
			failed++;
			fprintf(stderr, "FAIL enh \"%s\" for %u\n", t[i].e, t[i].code);
		}
	}
}

static void test_verdicts(void)
{
	struct env e;

	env_init(&e, 4096);
	smtp_reply_verdict(&e.c, 550, NULL, NULL, SMTP_EV_RCPT);
	expect(&e, "550 5.1.1 Requested action not taken: mailbox unavailable\r\n", "550 default");
	env_init(&e, 4096);
	smtp_reply_verdict(&e.c, 421, "4.3.2", "Shutting down", SMTP_EV_CLOSE);
	expect(&e, "421 4.3.2 localhost Shutting down\r\n", "421 with host");
	env_init(&e, 4096);
	smtp_reply_verdict(&e.c, 450, "5.1.1", "", SMTP_EV_MAIL);
	expect(&e, "450 4.2.0 Requested mail action not taken: mailbox unavailable\r\n",
	       "wrong-class enh and empty text replaced");
	env_init(&e, 4096);
	smtp_reply_verdict(&e.c, 553, NULL, NULL, SMTP_EV_MAIL);
	expect(&e, "553 5.1.7 Requested action not taken: mailbox name not allowed\r\n",
	       "553 MAIL");
	env_init(&e, 4096);
	smtp_reply_queued(&e.c, "0123456789ABCDEF");
	expect(&e, "250 2.0.0 Ok: queued as 0123456789ABCDEF\r\n", "queued");
	env_init(&e, 4096);
	smtp_reply_chunk(&e.c, 18446744073709551615ull);
	expect(&e, "250 2.0.0 18446744073709551615 octets received\r\n", "chunk");
}

static void test_ehlo(void)
{
	struct env e;

	env_init(&e, 4096);
	e.cfg.max_message_size = 0;
	e.cfg.caps = SMTP_CAP_SIZE | SMTP_CAP_BINARYMIME; /* BINARYMIME needs CHUNKING */
	smtp_reply_ehlo(&e.c);
	expect(&e, "250-localhost\r\n250 SIZE 0\r\n", "EHLO without CHUNKING");
	env_init(&e, 4096);
	memset(e.cfg.hostname, 'h', SMTP_HOSTNAME_MAX);
	smtp_reply_ehlo(&e.c);
	if (!h_check_replies(e.buf, e.io.reply_len) && e.io.reply_len > 255 + 100)
		passed++;
	else
		failed++, fprintf(stderr, "FAIL long hostname EHLO\n");
	env_init(&e, 4096);
	smtp_reply_greeting(&e.c);
	expect(&e, "220 localhost ESMTP\r\n", "greeting");
	env_init(&e, 4096);
	e.cfg.hostname[0] = '\0';
	smtp_reply_helo(&e.c);
	expect(&e, "250 localhost\r\n", "HELO with an empty hostname");
}

static void test_canned(void)
{
	for (int id = SMTP_R_NONE + 1; id < SMTP_R__COUNT; id++) {
		struct env e;
		unsigned code;
		const char *bad;

		env_init(&e, 4096);
		smtp_reply_id(&e.c, (enum smtp_rid)id);
		code = smtp_reply_code((enum smtp_rid)id);
		bad = h_check_replies(e.buf, e.io.reply_len);
		if (bad == NULL && code / 100 != 3 && code != 220) {
			/* the final line carries "c.x.y" of its own class */
			const char *last = e.buf + e.io.reply_len - 2;

			while (last > e.buf && last[-1] != '\n')
				last--;
			if (last[4] != (char)('0' + code / 100) || last[5] != '.')
				bad = "no enhanced code of the reply's class";
		}
		if (bad == NULL && (unsigned)atoi(e.buf) != code)
			bad = "code differs from smtp_reply_code()";
		if (bad) {
			failed++;
			fprintf(stderr, "FAIL canned %d: %s: %.*s\n", id, bad, (int)e.io.reply_len,
			        e.buf);
		} else {
			passed++;
		}
	}
}

int main(void)
{
	test_writer();
	test_enh();
	test_verdicts();
	test_ehlo();
	test_canned();
	printf("%u passed, %u failed\n", passed, failed);
	return failed != 0;
}
