/* SPDX-License-Identifier: MIT */
/*
 * test_session_refused.c - smtp_session_start_refused(): a connection refused at connect
 * (policy) is greeted "554 5.7.1 <host> <text>" and, per RFC 5321 3.1, every command except
 * QUIT is answered 503 5.5.1 (unknown verbs and BDAT too; BDAT's chunk is consumed, never read
 * as commands); QUIT gets 221 and closes; no event but CLOSE is emitted.
 *
 * Table-driven; every case is fed all at once and one byte per call, with the same replies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser/smtp.h"

struct refused_case {
	const char *name;
	const char *input;
	const char *codes; /* reply codes, comma-separated, greeting first */
	int closed;        /* the session ends SMTP_CLOSED */
};

static const struct refused_case cases[] = {
    {"QUIT at once", "QUIT\r\n", "554,221", 1},
    {"EHLO MAIL RCPT DATA then QUIT",
     "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nQUIT\r\n",
     "554,503,503,503,503,221", 1},
    {"HELO RSET NOOP HELP VRFY", "HELO c\r\nRSET\r\nNOOP\r\nHELP\r\nVRFY x\r\n",
     "554,503,503,503,503,503", 0},
    {"unknown verb", "FROB x\r\nQUIT\r\n", "554,503,221", 1},
    {"BDAT chunk consumed, not read as commands", "BDAT 12 LAST\r\nQUIT\r\nQUIT\r\nQUIT\r\n",
     "554,503,221", 1},
};

static int failures;

/* Feed input in pieces of `step` bytes (0: all at once); collect the codes. */
static int run(const struct refused_case *tc, size_t step, char *codes, size_t cap, char *first,
               size_t fcap)
{
	static char reply[1 << 16];
	struct smtp_event ev[8];
	struct smtp_config cfg;
	struct smtp_session s;
	struct smtp_verdict v = {554, "5.7.1", "Client host rejected: policy", NULL};
	struct smtp_io io = {reply, sizeof(reply), 0, ev, 8, 0, 0};
	size_t n = strlen(tc->input), off = 0, held = 0, w = 0;

	smtp_config_defaults(&cfg);
	snprintf(cfg.hostname, sizeof(cfg.hostname), "mx.test");
	smtp_session_start_refused(&s, &cfg, &v, &io);
	while (off < n && smtp_state_of(&s) != SMTP_CLOSED) {
		size_t avail = step ? held + step : n - off;
		size_t k;

		if (avail > n - off)
			avail = n - off;
		k = smtp_input(&s, &cfg, tc->input + off, avail, &io);
		for (unsigned i = 0; i < io.nev; i++)
			if (ev[i].type != SMTP_EV_CLOSE)
				return -1; /* no envelope or message event may come out */
		io.nev = 0;
		off += k;
		held = avail - k;
		if (k == 0 && avail == n - off)
			break; /* needs more than there is */
	}
	for (size_t i = 0; i + 4 <= io.reply_len; i++) {
		if ((i == 0 || reply[i - 1] == '\n') && reply[i + 3] == ' ') {
			if (w + 5 >= cap)
				return -1;
			w +=
			    (size_t)snprintf(codes + w, cap - w, "%s%.3s", w ? "," : "", reply + i);
		}
	}
	snprintf(first, fcap, "%.*s", (int)(strchr(reply, '\n') - reply + 1), reply);
	return smtp_state_of(&s) == SMTP_CLOSED;
}

static void check_case(const struct refused_case *tc, size_t step)
{
	char codes[256] = "", first[256] = "";
	int closed = run(tc, step, codes, sizeof(codes), first, sizeof(first));

	if (closed < 0 || strcmp(codes, tc->codes) != 0 || closed != tc->closed ||
	    strcmp(first, "554 5.7.1 mx.test Client host rejected: policy\r\n") != 0) {
		failures++;
		printf("FAIL %s (step %zu): codes %s (want %s), closed %d (want %d), greeting %s\n",
		       tc->name, step, codes, tc->codes, closed, tc->closed, first);
	} else {
		printf("PASS %s (step %zu)\n", tc->name, step);
	}
}

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		check_case(&cases[i], 0);
		check_case(&cases[i], 1);
	}
	printf("test_session_refused: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}
