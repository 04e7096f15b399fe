/* SPDX-License-Identifier: MIT */
/*
 * test_guard.c - the session engine never reads past its input.
 *
 * Every smtp_input() call gets its bytes placed so that they end right before a PROT_NONE
 * page (tests/common/guard.h): an over-read faults at once. Sessions of every kind (plain,
 * pipelined, BDAT, smuggling, over-long and bare-LF lines, truncated commands) run fed all at
 * once, one byte per call and in irregular pieces. The path and parameter parsers get every
 * prefix of their inputs the same way, since inside a session a command line is always
 * followed by its CRLF and an over-read of one or two octets would go unnoticed there.
 */
#include "tests/common/guard.h"
#include "parser/addr.h"
#include "parser/params.h"
#include "tests/parser/smtp_cases.h"

static struct guard_buf guard;
static unsigned passed, failed;

static const char *place(void *ctx, const char *p, size_t n)
{
	(void)ctx;
	return guard_copy(&guard, p, n);
}

static const char *const sessions[] = {
    ("EHLO c.example\r\nMAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME\r\nRCPT TO:<c@d>\r\n"
     "DATA\r\nSubject: x\r\n\r\n..stuffed\r\nline\r\n.\r\nQUIT\r\n"),
    "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 5\r\nabcdeBDAT 3 LAST\r\nxyzQUIT\r\n",
    "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\n.\nMAIL FROM:<e@f>\r\n.\r\n",
    "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nno end\r\n.",
    "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nends in CR\r",
    "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 100 LAST\r\nshort",
    "NOOP\nNOOP\r\nFOO\r\nMAIL FROM:<a@b\r\nRCPT TO:<@x,@y:c@[1.2.3.4]>\r\nBDAT",
    "EHLO c\r\nMAIL FROM:<\"quoted\\\"x\"@[IPv6:::1]>\r\nRCPT TO:<Postmaster>\r\nMAIL",
    "EHLO c\r\nMAIL FROM:<a@b> SIZE=",
    "EHLO c\r\nMAIL FROM:<a@b>",
    "EHLO",
    "BDAT 3",
    "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
};

static void run_sessions(void)
{
	static const size_t pattern[] = {2, 1, 9, 4};
	struct smtp_config cfg;

	for (size_t i = 0; i < sizeof(sessions) / sizeof(sessions[0]); i++) {
		for (int mode = 0; mode < 4; mode++) {
			struct h_opts o;
			struct h_result r;

			h_cfg_apply(&cfg,
			            mode == 3 ? "normalize max_line=512 max_text_line=20" : NULL);
			memset(&o, 0, sizeof(o));
			o.cfg = &cfg;
			o.place = place;
			o.feed = mode == 1 ? 1 : 0;
			if (mode == 2)
				o.pattern = pattern, o.npattern = 4;
			h_run(sessions[i], strlen(sessions[i]), &o, &r);
			if (r.err[0]) {
				failed++;
				fprintf(stderr, "FAIL session %zu mode %d: %s\n", i, mode, r.err);
			} else {
				passed++;
			}
			h_free(&r);
		}
	}
}

/* A long line and a long body, placed whole at the guard. */
static void run_long(void)
{
	static char in[70000];
	size_t len = 0;
	struct smtp_config cfg;
	struct h_opts o;
	struct h_result r;

	len += (size_t)sprintf(in, "NOOP ");
	memset(in + len, 'y', 3000);
	len += 3000;
	len +=
	    (size_t)sprintf(in + len, "\r\nEHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	for (int i = 0; i < 1000; i++)
		len += (size_t)sprintf(in + len, ".line %d\r\n", i);
	len += (size_t)sprintf(in + len, "\r\n.");
	smtp_config_defaults(&cfg);
	memset(&o, 0, sizeof(o));
	o.cfg = &cfg;
	o.place = place;
	h_run(in, len, &o, &r);
	if (r.err[0] || !memmem(r.replies, r.rlen, "500 5.5.6", 9)) {
		failed++;
		fprintf(stderr, "FAIL long input: %s\n", r.err);
	} else {
		passed++;
	}
	h_free(&r);
}

static const char *const paths[] = {
    "<a@b.example>",
    "<>",
    "<Postmaster>",
    "<@r1.example,@r2.example:user@d.example>",
    "<\"quoted \\\" string\"@example.org>",
    "<a@[192.168.0.1]>",
    "<a@[IPv6:2001:db8::1]>",
    "<a@[IPv6:::ffff:1.2.3.4]>",
    "<a@[IPv6:1:2:3:4:5:6:7:8]>",
    "<j\xc3\xb6rg@\xc3\xa9xample.org>",
    "<a.b.c@d-e.f>",
    "<a@b",
    "<a@[1.2.3",
    "<\"open@b>",
};

static void run_paths(void)
{
	int ok = 1;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		size_t n = strlen(paths[i]);

		for (size_t k = 0; k <= n; k++) {
			struct smtp_path out;
			const char *p = guard_copy(&guard, paths[i], k);

			smtp_path_parse(p, k, SMTP_PATH_NULL_OK | SMTP_PATH_POSTMASTER_OK, &out);
			smtp_utf8_valid(p, k);
			smtp_domain_span(p, k);
		}
	}
	if (ok)
		passed++;
}

static const char *const params[] = {
    " SIZE=100 BODY=8BITMIME SMTPUTF8",
    " SIZE=12345678901234567890",
    " BODY=BINARYMIME",
    " FOO=bar  BAZ",
    " SIZE=",
    " =x",
};

static void run_params(void)
{
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		size_t n = strlen(params[i]);

		for (size_t k = 0; k <= n; k++) {
			struct smtp_mail_params mp;
			const char *p = guard_copy(&guard, params[i], k);
			uint64_t v;

			smtp_mail_params(p, k, SMTP_CAP_ALL, &mp);
			smtp_rcpt_params(p, k, SMTP_CAP_ALL);
			smtp_parse_u64(p, k, &v);
		}
	}
	passed++;
}

int main(void)
{
	if (guard_init(&guard, 80000) != 0) {
		printf("cannot map a guard page: skipped\n");
		return 77;
	}
	run_sessions();
	run_long();
	run_paths();
	run_params();
	guard_free(&guard);
	printf("%u passed, %u failed\n", passed, failed);
	return failed != 0;
}
