/* SPDX-License-Identifier: MIT */
/*
 * smtp_cases.h - test helper: the session case table format and its runner.
 *
 * A case is an input, a configuration written as text ("decide=7 max_size=10 normalize"),
 * verdicts for the decisions, the expected replies in h_replies() form, optionally the exact
 * expected event log, a substring the reply stream must contain, and the expected final state.
 * h_case_run() runs a case fed all at once, and again one byte per call, with an irregular
 * feed pattern, and with a two-slot event array and a minimal reply buffer; all runs must give
 * the same replies and events (the embedder's feeding must not matter).
 * Tests only.
 */
#ifndef SLUICE_TESTS_SMTP_CASES_H
#define SLUICE_TESTS_SMTP_CASES_H

#include "tests/parser/smtp_harness.h"

struct h_case {
	const char *name;
	const char *cfg;
	const char *in; /* NUL-terminated unless len is set */
	const char *replies;
	const char *events; /* NULL: not checked (the feeds must still agree) */
	const char *contains;
	int state; /* -1: not checked */
	struct h_verdict v[6];
	unsigned nv;
	size_t len;
};

static inline void h_cfg_apply(struct smtp_config *cfg, const char *spec)
{
	char buf[512], *save = NULL, *tok;

	smtp_config_defaults(cfg);
	if (spec == NULL)
		return;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		unsigned long long v = eq ? strtoull(eq + 1, NULL, 0) : 1;

		if (eq)
			*eq = '\0';
		if (!strcmp(tok, "decide"))
			cfg->decide = (uint32_t)v;
		else if (!strcmp(tok, "max_size"))
			cfg->max_message_size = v;
		else if (!strcmp(tok, "max_rcpt"))
			cfg->max_recipients = (uint32_t)v;
		else if (!strcmp(tok, "max_errors"))
			cfg->max_errors = (uint32_t)v;
		else if (!strcmp(tok, "max_line"))
			cfg->max_line = (uint32_t)v;
		else if (!strcmp(tok, "max_text_line"))
			cfg->max_text_line = (uint32_t)v;
		else if (!strcmp(tok, "vrfy"))
			cfg->vrfy_code = (uint16_t)v;
		else if (!strcmp(tok, "expn"))
			cfg->expn_code = (uint16_t)v;
		else if (!strcmp(tok, "normalize"))
			cfg->bare_newline = SMTP_BARE_NORMALIZE;
		else if (!strcmp(tok, "caps_off"))
			cfg->caps &= ~(uint32_t)v;
		else if (!strcmp(tok, "host"))
			snprintf(cfg->hostname, sizeof(cfg->hostname), "%s", eq + 1);
		else {
			fprintf(stderr, "bad cfg token %s\n", tok);
			abort();
		}
	}
}

static inline size_t h_case_len(const struct h_case *c)
{
	return c->len ? c->len : strlen(c->in);
}

static inline void h_show(const char *what, const char *want, const char *got)
{
	fprintf(stderr, "  %s\n    want: %s\n    got:  %s\n", what, want, got);
}

/* Runs one case in all feeding variants; prints what differs; returns 1 if it passed. */
static inline int h_case_run(const struct h_case *c)
{
	static const size_t pattern[] = {3, 1, 7, 2, 64, 1, 1, 5, 300};
	struct smtp_config cfg;
	struct h_opts o;
	struct h_result base, r;
	char got[8192];
	int ok = 1;

	h_cfg_apply(&cfg, c->cfg);
	memset(&o, 0, sizeof(o));
	o.cfg = &cfg;
	o.verdicts = c->v;
	o.nverdicts = c->nv;
	h_run(c->in, h_case_len(c), &o, &base);
	h_replies(&base, got, sizeof(got));
	if (base.err[0]) {
		fprintf(stderr, "FAIL %s: %s\n", c->name, base.err);
		ok = 0;
	}
	if (c->replies && strcmp(got, c->replies) != 0) {
		fprintf(stderr, "FAIL %s: replies\n", c->name);
		h_show("replies", c->replies, got);
		fprintf(stderr, "%.*s", (int)base.rlen, base.replies);
		ok = 0;
	}
	if (c->events &&
	    (strlen(c->events) != base.llen || memcmp(c->events, base.log, base.llen) != 0)) {
		fprintf(stderr, "FAIL %s: events\n--- want\n%s--- got\n%.*s---\n", c->name,
		        c->events, (int)base.llen, base.log);
		ok = 0;
	}
	if (c->contains && !memmem(base.replies, base.rlen, c->contains, strlen(c->contains))) {
		fprintf(stderr, "FAIL %s: replies lack \"%s\":\n%.*s", c->name, c->contains,
		        (int)base.rlen, base.replies);
		ok = 0;
	}
	if (c->state >= 0 && (int)base.state != c->state) {
		fprintf(stderr, "FAIL %s: state %s, want %s\n", c->name,
		        smtp_state_name((enum smtp_state)base.state),
		        smtp_state_name((enum smtp_state)c->state));
		ok = 0;
	}
	for (int variant = 0; variant < 4; variant++) {
		struct h_opts v = o;

		if (variant == 0)
			v.feed = 1;
		if (variant == 1)
			v.pattern = pattern, v.npattern = sizeof(pattern) / sizeof(pattern[0]);
		if (variant == 2)
			v.ev_cap = 2, v.reply_cap = SMTP_REPLY_MAX;
		if (variant == 3)
			v.feed = 1, v.ev_cap = 2, v.reply_cap = SMTP_REPLY_MAX;
		h_run(c->in, h_case_len(c), &v, &r);
		if (r.err[0] || !h_same(&base, &r)) {
			fprintf(stderr, "FAIL %s: feed variant %d differs (%s)\n", c->name, variant,
			        r.err[0] ? r.err : "output");
			fprintf(stderr, "--- all at once\n%.*s%.*s--- variant\n%.*s%.*s---\n",
			        (int)base.rlen, base.replies, (int)base.llen, base.log, (int)r.rlen,
			        r.replies, (int)r.llen, r.log);
			ok = 0;
		}
		h_free(&r);
	}
	h_free(&base);
	return ok;
}

static inline int h_run_table(const struct h_case *cases, size_t n, unsigned *passed,
                              unsigned *failed)
{
	for (size_t i = 0; i < n; i++) {
		if (h_case_run(&cases[i]))
			(*passed)++;
		else
			(*failed)++;
	}
	return *failed == 0;
}

#endif
