/* SPDX-License-Identifier: MIT */
/*
 * fuzz_session.c - fuzz target for the SMTP session engine (smtp_input / smtp_resolve).
 *
 * Each input is a client's byte stream. A hash of it picks a configuration (decisions on or
 * off, bare newlines rejected or normalised, small size and line limits, capabilities
 * switched off, tiny event arrays and reply buffers), the verdicts given to the decisions
 * (accept, 2xx, 4xx, 5xx, 421), whether the session is ended by smtp_session_end() when the
 * input runs out, and the points where the stream is split between calls. The
 * session runs twice through the test harness (tests/parser/smtp_harness.h): fed all at once,
 * and split; it then asserts:
 *   - no crash, no over-read (run under ASan), no harness contract violation (replies held
 *     while waiting for input, input consumed while waiting, event array overrun);
 *   - every reply line well formed: 3 digits, space or hyphen, printable text, CRLF, one code
 *     per multi-line reply, at most 512 octets;
 *   - the same replies and events whatever the split;
 *   - events in a legal order (RCPT and DATA inside a transaction, BODY inside a message, END
 *     followed by its decision) and never a 250 after an unterminated message: if the input
 *     ends inside DATA, no reply after the last 354 is a 250.
 * Entry point: LLVMFuzzerTestOneInput(); standalone.c replays files without libFuzzer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/parser/smtp_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void fuzz_fail(const char *what, const struct h_result *r)
{
	fprintf(stderr, "fuzz_session: %s\n--- replies\n%.*s--- events\n%.*s---\n", what,
	        (int)(r->rlen > 4000 ? 4000 : r->rlen), r->replies,
	        (int)(r->llen > 4000 ? 4000 : r->llen), r->log);
	abort();
}

static void pick_config(uint64_t h, struct smtp_config *cfg)
{
	smtp_config_defaults(cfg);
	cfg->decide = (uint32_t)(h & 7);
	if (h & (1u << 3))
		cfg->bare_newline = SMTP_BARE_NORMALIZE;
	if (h & (1u << 4))
		cfg->max_message_size = 64 + (h >> 40) % 2000;
	if (h & (1u << 5))
		cfg->max_text_line = 20 + (uint32_t)((h >> 20) % 200);
	if (h & (1u << 6))
		cfg->max_line = SMTP_LINE_MIN;
	if (h & (1u << 7))
		cfg->caps &= (uint32_t)(h >> 48);
	if (h & (1u << 8))
		cfg->max_errors = 3;
	if (h & (1u << 9))
		cfg->max_recipients = 2;
	cfg->vrfy_code = (h & (1u << 10)) ? 550 : 252;
}

static void pick_verdicts(uint64_t h, struct h_verdict *v, unsigned n)
{
	static const unsigned codes[] = {0,   0,   0,   250, 251, 421, 450, 451,
	                                 452, 550, 551, 552, 553, 554, 0,   0};
	static const char *const texts[] = {NULL, "custom text", "two\nlines", "ctl\r\x01"};

	for (unsigned i = 0; i < n; i++) {
		v[i].code = codes[(h >> (4 * i)) & 15];
		v[i].enh = (h >> (i + 40)) & 1 ? "5.7.1" : NULL;
		v[i].text = texts[(h >> (2 * i + 48)) & 3];
	}
}

/* Events in a legal order; see the header comment. */
static void check_order(const struct h_result *r)
{
	int tx = 0, msg = 0, end = 0;
	const char *p = r->log, *e = r->log + r->llen;

	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(e - p);

#define IS(s) (n >= sizeof(s) - 1 && memcmp(p, s, sizeof(s) - 1) == 0)
		if (end && !IS("RESOLVE"))
			fuzz_fail("END not followed by its decision", r);
		if (IS("MAIL")) {
			tx = 1;
		} else if (IS("RCPT") || IS("DATA")) {
			if (!tx)
				fuzz_fail("RCPT or DATA outside a transaction", r);
			msg |= IS("DATA");
		} else if (IS("BODY")) {
			if (!msg)
				fuzz_fail("BODY outside a message", r);
		} else if (IS("END ")) {
			if (!msg)
				fuzz_fail("END without DATA", r);
			end = 1;
		} else if (IS("RESOLVE")) {
			if (end)
				tx = msg = end = 0;
		} else if (IS("ABORT") || IS("REJECTED")) {
			tx = msg = 0;
		}
#undef IS
		p += n + 1;
	}
}

/* If the input ended inside DATA, nothing after the last 354 may be a 250. */
static void check_unterminated(const struct h_result *r)
{
	const char *last = NULL, *p = r->replies, *e = r->replies + r->rlen;

	if (r->state != SMTP_DATA)
		return;
	for (; p < e; p++)
		if ((p == r->replies || p[-1] == '\n') && e - p >= 4 && memcmp(p, "354 ", 4) == 0)
			last = p;
	if (last == NULL)
		fuzz_fail("inside DATA without a 354", r);
	for (p = last; p < e; p++)
		if (p[-1] == '\n' && e - p >= 3 && memcmp(p, "250", 3) == 0)
			fuzz_fail("250 after an unterminated message", r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t h = fnv1a(data, size);
	struct smtp_config cfg;
	struct h_verdict verdicts[8];
	size_t pattern[8];
	struct h_opts o;
	struct h_result a, b;
	const char *bad;

	if (size > 65536)
		return 0;
	pick_config(h, &cfg);
	pick_verdicts(h * 0x9e3779b97f4a7c15ull, verdicts, 8);
	for (int i = 0; i < 8; i++)
		pattern[i] = 1 + ((h >> (8 * i)) & 0xff) % (i & 1 ? 3 : 200);
	memset(&o, 0, sizeof(o));
	o.cfg = &cfg;
	o.verdicts = verdicts;
	o.nverdicts = 8;
	o.end_call = (h >> 14) & 1;
	o.end_code = (h >> 15) & 1 ? 421 : (h >> 16) & 1 ? 0 : 999;
	h_run((const char *)data, size, &o, &a);
	if (a.err[0])
		fuzz_fail(a.err, &a);
	o.pattern = pattern;
	o.npattern = 8;
	o.ev_cap = 2 + (unsigned)((h >> 13) & 3);
	o.reply_cap = (h & (1u << 11)) ? SMTP_REPLY_MAX : 0;
	h_run((const char *)data, size, &o, &b);
	if (b.err[0])
		fuzz_fail(b.err, &b);
	bad = h_check_replies(a.replies, a.rlen);
	if (bad)
		fuzz_fail(bad, &a);
	if (!h_same(&a, &b)) {
		fprintf(stderr, "--- split run\n%.*s%.*s", (int)b.rlen, b.replies, (int)b.llen,
		        b.log);
		fuzz_fail("the split run differs", &a);
	}
	check_order(&a);
	check_unterminated(&a);
	h_free(&a);
	h_free(&b);
	return 0;
}
