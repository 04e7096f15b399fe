/* SPDX-License-Identifier: MIT */
/*
 * test_pipelining.c - RFC 2920 command pipelining through the session engine.
 *
 * A whole transaction in one input buffer gives its replies and events in order from one
 * smtp_input() call; the engine consumes every complete command and no more; it sets
 * io->flush whenever it stops for want of input, for a decision or on closing, and may hold
 * replies only while it still has input to process (event array full); while a decision is
 * pending it consumes nothing; an incomplete line is not rescanned from its start; a full
 * reply buffer stops the loop without losing a reply. Body text pipelined before the 354:
 * with DATA accepted it is the message; with DATA refused its lines are commands (RFC 2920),
 * each bad one an error counting towards max_errors.
 */
#include "tests/parser/smtp_cases.h"

#define EHLO  "EHLO c.example\r\n"
#define MAILF "MAIL FROM:<a@b.example>\r\n"
#define RCPTT "RCPT TO:<c@d.example>\r\n"
#define MSG   "DATA\r\nHello\r\n.\r\n"
#define EV_ENV                                                                                     \
	"HELO c.example 1\nMAIL <a@b.example> [] body=0 utf8=0 size=0\nRCPT <c@d.example> []\n"

static unsigned passed, failed;

static void check(int cond, const char *what)
{
	if (cond) {
		passed++;
	} else {
		failed++;
		fprintf(stderr, "FAIL %s\n", what);
	}
}

static const struct h_case cases[] = {
    {"two messages back to back", NULL, EHLO MAILF RCPTT MSG MAILF RCPTT MSG "QUIT\r\n",
     "220,250,250 2.1.0,250 2.1.5,354,250 2.0.0,250 2.1.0,250 2.1.5,354,250 2.0.0,221 2.0.0",
     EV_ENV "DATA\nBODY Hello\\r\\n\nEND 7\nRESOLVE 0\n"
            "MAIL <a@b.example> [] body=0 utf8=0 size=0\nRCPT <c@d.example> []\n"
            "DATA\nBODY Hello\\r\\n\nEND 7\nRESOLVE 0\nCLOSE 221\n",
     "queued as Q2", SMTP_CLOSED},
    {"body pipelined before 354 is the message", NULL, EHLO MAILF RCPTT RCPTT MSG,
     "220,250,250 2.1.0,250 2.1.5,250 2.1.5,354,250 2.0.0", NULL, NULL, SMTP_READY},
    {"DATA refused: pipelined body lines are commands",
     "max_errors=3 decide=4",
     EHLO MAILF RCPTT "DATA\r\nline one\r\nline two\r\nNOOP\r\nline three\r\n.\r\n",
     "220,250,250 2.1.0,550 5.1.1,554 5.5.1,500 5.5.2,500 5.5.2,250 2.0.0,500 5.5.2,421 4.7.0",
     "HELO c.example 1\nMAIL <a@b.example> [] body=0 utf8=0 size=0\nRCPT <c@d.example> []\n"
     "RESOLVE 550\nABORT\nCLOSE 421\n",
     NULL,
     SMTP_CLOSED,
     {{550, NULL, NULL}},
     1},
    {"decisions interleave with pipelined commands",
     "decide=6",
     EHLO MAILF RCPTT RCPTT "RCPT TO:<e@d.example>\r\n" MSG,
     "220,250,250 2.1.0,250 2.1.5,450 4.2.0,250 2.1.5,354,250 2.0.0",
     "HELO c.example 1\nMAIL <a@b.example> [] body=0 utf8=0 size=0\nRESOLVE 0\n"
     "RCPT <c@d.example> []\nRESOLVE 0\nRCPT <c@d.example> []\nRESOLVE 450\n"
     "RCPT <e@d.example> []\nRESOLVE 0\nDATA\nBODY Hello\\r\\n\nEND 7\nRESOLVE 0\n",
     NULL,
     SMTP_READY,
     {{0}, {0}, {450, NULL, NULL}},
     3},
};

static void io_init(struct smtp_io *io, char *rb, size_t rcap, struct smtp_event *ev, unsigned ecap)
{
	memset(io, 0, sizeof(*io));
	io->reply = rb;
	io->reply_cap = rcap;
	io->ev = ev;
	io->ev_cap = ecap;
}

/* One call consumes a whole pipelined group and answers it in order, flushed once. */
static void test_one_call(void)
{
	static const char in[] = EHLO MAILF RCPTT RCPTT "DATA\r\nHello\r\n.\r\n" MAILF "RCPT";
	static const char want[] = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
	                           "354 End data with <CR><LF>.<CR><LF>\r\n";
	struct smtp_config cfg;
	struct smtp_session s;
	char rb[8192];
	struct smtp_event ev[32];
	struct smtp_io io;
	size_t n, len = sizeof(in) - 1, tail = strlen(MAILF "RCPT");
	const char *r;

	smtp_config_defaults(&cfg);
	io_init(&io, rb, sizeof(rb), ev, 32);
	memset(&s, 0, sizeof(s));
	smtp_session_start(&s, &cfg, &io);
	io.reply_len = 0;
	n = smtp_input(&s, &cfg, in, len, &io);
	check(s.state == SMTP_WAIT && n == len - tail, "one call stops at the message end");
	check(io.nev == 7 && ev[0].type == SMTP_EV_HELO && ev[1].type == SMTP_EV_MAIL &&
	          ev[2].type == SMTP_EV_RCPT && ev[3].type == SMTP_EV_RCPT &&
	          ev[4].type == SMTP_EV_DATA && ev[5].type == SMTP_EV_BODY &&
	          ev[6].type == SMTP_EV_END,
	      "one call: events in order");
	r = memmem(rb, io.reply_len, "ENHANCEDSTATUSCODES\r\n", 21);
	check(r && io.flush && (size_t)(rb + io.reply_len - (r + 21)) == sizeof(want) - 1 &&
	          memcmp(r + 21, want, sizeof(want) - 1) == 0,
	      "one call: replies in order, flushed");
	/* waiting: nothing consumed, nothing emitted */
	io.nev = 0;
	io.reply_len = 0;
	io.flush = 0;
	n = smtp_input(&s, &cfg, in + (len - tail), tail, &io);
	check(n == 0 && io.nev == 0 && io.reply_len == 0, "waiting consumes nothing");
	{
		struct smtp_verdict v = {0, NULL, NULL, "ID1"};

		check(smtp_resolve(&s, &cfg, &v, &io) == 0 && io.flush, "resolve flushes");
	}
	n = smtp_input(&s, &cfg, in + (len - tail), tail, &io);
	check(n == strlen(MAILF) && s.scanned == 4 && s.state == SMTP_MAIL,
	      "incomplete line left unconsumed, its scanned length kept");
	check(io.reply_len == strlen("250 2.0.0 Ok: queued as ID1\r\n250 2.1.0 Ok\r\n") && io.flush,
	      "replies flushed when input runs out");
}

/* With the event array full the engine returns early and may hold its replies. */
static void test_event_array_full(void)
{
	static const char in[] = EHLO MAILF RCPTT RCPTT RCPTT;
	struct smtp_config cfg;
	struct smtp_session s;
	char rb[4096];
	struct smtp_event ev[2];
	struct smtp_io io;
	size_t off = 0, len = sizeof(in) - 1;
	unsigned calls = 0, events = 0;

	smtp_config_defaults(&cfg);
	io_init(&io, rb, sizeof(rb), ev, 2);
	memset(&s, 0, sizeof(s));
	smtp_session_start(&s, &cfg, &io);
	io.reply_len = 0;
	io.flush = 0;
	while (off < len && calls < 20) {
		size_t n = smtp_input(&s, &cfg, in + off, len - off, &io);

		off += n;
		events += io.nev;
		calls++;
		if (off < len && io.nev == 0)
			break;
		io.nev = 0;
	}
	check(off == len && events == 5 && calls >= 3, "small event array: all events delivered");
	check(io.reply_len > 0 && io.flush, "replies flushed at the end of input");
}

/* A reply buffer with room for one reply only: every reply still comes out, in order. */
static void test_reply_buffer_full(void)
{
	char in[6000];
	struct smtp_config cfg;
	struct smtp_session s;
	char rb[SMTP_REPLY_MAX + 20], out[16000];
	struct smtp_event ev[4];
	struct smtp_io io;
	size_t off = 0, len = 0, olen = 0;
	unsigned rounds = 0;

	for (int i = 0; i < 1000; i++)
		memcpy(in + len, "NOOP\r\n", 6), len += 6;
	smtp_config_defaults(&cfg);
	io_init(&io, rb, sizeof(rb), ev, 4);
	memset(&s, 0, sizeof(s));
	smtp_session_start(&s, &cfg, &io);
	while (rounds++ < 5000) {
		size_t n = smtp_input(&s, &cfg, in + off, len - off, &io);

		off += n;
		if (io.flush) {
			memcpy(out + olen, rb, io.reply_len);
			olen += io.reply_len;
			io.reply_len = 0;
			io.flush = 0;
		}
		if (off == len && io.reply_len == 0)
			break;
	}
	check(off == len && olen == strlen("220 localhost ESMTP\r\n") + 1000 * 14,
	      "full reply buffer: 1000 pipelined NOOPs all answered");
}

/* A long line trickling in is scanned once: s->scanned grows with it. */
static void test_scanned(void)
{
	char line[1600];
	struct smtp_config cfg;
	struct smtp_session s;
	char rb[4096];
	struct smtp_event ev[4];
	struct smtp_io io;
	int ok = 1;

	memcpy(line, "NOOP ", 5);
	memset(line + 5, 'x', sizeof(line) - 7);
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	smtp_config_defaults(&cfg);
	io_init(&io, rb, sizeof(rb), ev, 4);
	memset(&s, 0, sizeof(s));
	smtp_session_start(&s, &cfg, &io);
	io.reply_len = 0;
	for (size_t have = 1; have < sizeof(line); have++) {
		if (smtp_input(&s, &cfg, line, have, &io) != 0 || s.scanned != have)
			ok = 0;
	}
	check(ok, "incomplete line: nothing consumed, scanned tracks it");
	check(smtp_input(&s, &cfg, line, sizeof(line), &io) == sizeof(line) && s.scanned == 0 &&
	          io.reply_len == 14,
	      "completed line answered once");
}

int main(void)
{
	h_run_table(cases, sizeof(cases) / sizeof(cases[0]), &passed, &failed);
	test_one_call();
	test_event_array_full();
	test_reply_buffer_full();
	test_scanned();
	printf("%u passed, %u failed\n", passed, failed);
	return failed != 0;
}
