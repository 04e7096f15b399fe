/* SPDX-License-Identifier: MIT */
/*
 * test_smuggling.c - SMTP smuggling (CVE-2023-51764 Postfix, CVE-2023-51765 sendmail,
 * CVE-2023-51766 Exim) end to end through the session engine.
 *
 * A client sends a message whose body holds a fake end of data made with bare CR or LF,
 * followed by a second, smuggled transaction, then the real <CRLF>.<CRLF>. Whatever the
 * vector, the smuggled "MAIL FROM" must never become a command: there is exactly one MAIL
 * event, and exactly one final reply to the message: "550 5.5.2" with SMTP_EV_REJECTED in
 * reject mode (the default), or one "250" whose message holds everything in normalize mode.
 * Vectors without a bare CR/LF (a NUL before the dot) are plain data in both modes. (A bare
 * CR followed by a real CRLF, "\r\r\n.\r\n", contains the real terminator: every server
 * agrees on it, so it is no smuggling vector and is not listed.) Each case also runs split
 * one byte per call and in irregular pieces.
 */
#include "tests/parser/smtp_cases.h"

#define ENV                                                                                        \
	"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n"           \
	"Subject: hi\r\n\r\nbody"
#define SMUGGLED                                                                                   \
	"MAIL FROM:<admin@victim.example>\r\nRCPT TO:<x@y.example>\r\nDATA\r\n"                    \
	"Subject: smuggled\r\n\r\nevil"
#define TAIL "\r\n.\r\nQUIT\r\n"

struct vector {
	const char *name;
	const char *bytes;
	size_t len;
	int bare; /* contains a bare CR or LF */
};

#define V(name, s, bare)                                                                           \
	{                                                                                          \
		name, s, sizeof(s) - 1, bare                                                       \
	}

static const struct vector vectors[] = {
    V("LF.LF", "\n.\n", 1),
    V("LF.CRLF", "\n.\r\n", 1),
    V("CRLF.LF", "\r\n.\n", 1),
    V("CR.CRLF", "\r.\r\n", 1),
    V("CRLF.CR", "\r\n.\r", 1),
    V("CR.CR", "\r.\r", 1),
    V("LF.CR", "\n.\r", 1),
    V("CR.LF", "\r.\n", 1),
    V("CRLF.CRCRLF", "\r\n.\r\r\n", 1),
    V("LF.CRCRLF", "\n.\r\r\n", 1),
    V("CRLF NUL.CRLF", "\r\n\0.\r\n", 0),
    V("CRLF SP.CRLF", "\r\n .\r\n", 0),
    V("CRLF..CRLF (stuffed)", "\r\n..\r\n", 0),
};

static int count(const char *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	int c = 0;

	for (const char *p = hay; (p = memmem(p, n - (size_t)(p - hay), needle, k)) != NULL; p++)
		c++;
	return c;
}

static int run_vector(const struct vector *v, int normalize)
{
	char in[1024], name[128];
	size_t len = 0;
	struct h_case c;
	struct smtp_config cfg;
	struct h_opts o;
	struct h_result r;
	int ok, reject = v->bare && !normalize;

#define PUT(s, n) (memcpy(in + len, (s), (n)), len += (n))
	PUT(ENV, sizeof(ENV) - 1);
	PUT(v->bytes, v->len);
	PUT(SMUGGLED, sizeof(SMUGGLED) - 1);
	PUT(TAIL, sizeof(TAIL) - 1);
#undef PUT
	snprintf(name, sizeof(name), "%s %s", v->name, normalize ? "normalize" : "reject");
	memset(&c, 0, sizeof(c));
	c.name = name;
	c.cfg = normalize ? "normalize" : NULL;
	c.in = in;
	c.len = len;
	c.replies = reject ? "220,250,250 2.1.0,250 2.1.5,354,550 5.5.2,221 2.0.0"
	                   : "220,250,250 2.1.0,250 2.1.5,354,250 2.0.0,221 2.0.0";
	c.state = SMTP_CLOSED;
	ok = h_case_run(&c);

	/* and explicitly: one MAIL event, no smuggled sender anywhere but inside the body */
	h_cfg_apply(&cfg, c.cfg);
	memset(&o, 0, sizeof(o));
	o.cfg = &cfg;
	h_run(in, len, &o, &r);
	if (count(r.log, r.llen, "MAIL <") != 1 || count(r.log, r.llen, "RCPT <") != 1 ||
	    count(r.log, r.llen, "\nDATA\n") != 1) {
		fprintf(stderr, "FAIL %s: smuggled command executed:\n%.*s", name, (int)r.llen,
		        r.log);
		ok = 0;
	}
	if (reject &&
	    (count(r.log, r.llen, "REJECTED 550\n") != 1 || count(r.log, r.llen, "END ") != 0)) {
		fprintf(stderr, "FAIL %s: not rejected once:\n%.*s", name, (int)r.llen, r.log);
		ok = 0;
	}
	if (!reject && (count(r.log, r.llen, "END ") != 1 ||
	                count(r.log, r.llen, "admin@victim.example") != 1 ||
	                count(r.replies, r.rlen, "250 2.0.0 Ok: queued") != 1)) {
		fprintf(stderr, "FAIL %s: message not accepted whole:\n%.*s", name, (int)r.llen,
		        r.log);
		ok = 0;
	}
	h_free(&r);
	return ok;
}

/* The message must come out normalised exactly: bare CR and LF become CRLF. */
static const struct h_case exact[] = {
    {"normalize output", "normalize",
     "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\na\nb\rc\n.\nd\r\n.\r\n",
     "220,250,250 2.1.0,250 2.1.5,354,250 2.0.0",
     "HELO c 1\nMAIL <a@b> [] body=0 utf8=0 size=0\nRCPT <c@d> []\nDATA\n"
     "BODY a\\r\\nb\\r\\nc\\r\\n.\\r\\nd\\r\\n\nEND 15\nRESOLVE 0\n",
     NULL, SMTP_READY},
    {"reject names the problem", NULL,
     "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\na\n.\nMAIL FROM:<e@f>\r\n.\r\n",
     "220,250,250 2.1.0,250 2.1.5,354,550 5.5.2",
     "HELO c 1\nMAIL <a@b> [] body=0 utf8=0 size=0\nRCPT <c@d> []\nDATA\nREJECTED 550\n",
     "550 5.5.2 Error: bare <CR> or <LF> in message", SMTP_READY},
    {"reject, then a clean message is accepted", NULL,
     "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\na\rb\r\n.\r\n"
     "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nok\r\n.\r\n",
     "220,250,250 2.1.0,250 2.1.5,354,550 5.5.2,250 2.1.0,250 2.1.5,354,250 2.0.0", NULL, NULL,
     SMTP_READY},
    {"bare LF dot at the very start", NULL,
     "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n.\nMAIL FROM:<e@f>\r\n.\r\n",
     "220,250,250 2.1.0,250 2.1.5,354,550 5.5.2", NULL, NULL, SMTP_READY},
};

int main(void)
{
	unsigned passed = 0, failed = 0;

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		for (int normalize = 0; normalize < 2; normalize++) {
			if (run_vector(&vectors[i], normalize))
				passed++;
			else
				failed++;
		}
	}
	h_run_table(exact, sizeof(exact) / sizeof(exact[0]), &passed, &failed);
	printf("%u passed, %u failed\n", passed, failed);
	return failed != 0;
}
