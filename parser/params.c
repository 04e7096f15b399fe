/* SPDX-License-Identifier: MIT */
/*
 * params.c - ESMTP parameters of MAIL FROM and RCPT TO.
 *
 *   Mail-parameters = esmtp-param *(SP esmtp-param)
 *   esmtp-param     = esmtp-keyword ["=" esmtp-value]
 *   esmtp-keyword   = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 *   esmtp-value     = 1*(%d33-60 / %d62-126)
 *
 * MAIL knows SIZE (RFC 1870), BODY=7BIT|8BITMIME (RFC 6152) |BINARYMIME (RFC 3030) and
 * SMTPUTF8 (RFC 6531), each only while its extension is advertised (cfg.caps). RCPT knows no
 * parameter (DSN is not offered): every well-formed one gets 555. Keywords and the BODY value
 * are case-insensitive. Several spaces between parameters are tolerated.
 * Public functions: see params.h. No allocation; never reads outside the given buffer.
 */
#include <string.h>

#include "parser/params.h"

struct smtp_param {
	const char *key;
	size_t klen;
	const char *val;
	size_t vlen;
	int has_val;
};

static int is_alnum(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z');
}

static int is_vchar(unsigned char ch)
{
	return ch >= 33 && ch <= 126 && ch != '=';
}

static int key_is(const struct smtp_param *pr, const char *name)
{
	size_t n = strlen(name);

	return pr->klen == n && strncasecmp(pr->key, name, n) == 0;
}

static int val_is(const struct smtp_param *pr, const char *name)
{
	size_t n = strlen(name);

	return pr->vlen == n && strncasecmp(pr->val, name, n) == 0;
}

size_t smtp_parse_u64(const char *p, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	size_t i = 0;

	while (i < n && p[i] >= '0' && p[i] <= '9') {
		uint64_t d = (uint64_t)(p[i] - '0');

		if (++i > 20)
			return 0;
		if (x > (UINT64_MAX - d) / 10)
			x = UINT64_MAX;
		else
			x = x * 10 + d;
	}
	*v = x;
	return i;
}

/* Read the parameter at p[*i]: 1 = one read, 0 = end of text, -1 = syntax error. */
static int next_param(const char *p, size_t n, size_t *i, struct smtp_param *pr)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t k = *i;

	if (k >= n)
		return 0;
	if (u[k] != ' ')
		return -1;
	while (k < n && u[k] == ' ')
		k++;
	if (k == n)
		return 0;
	memset(pr, 0, sizeof(*pr));
	pr->key = p + k;
	if (!is_alnum(u[k]))
		return -1;
	while (k < n && (is_alnum(u[k]) || u[k] == '-'))
		k++;
	pr->klen = (size_t)(p + k - pr->key);
	if (k < n && u[k] == '=') {
		pr->has_val = 1;
		pr->val = p + ++k;
		while (k < n && is_vchar(u[k]))
			k++;
		pr->vlen = (size_t)(p + k - pr->val);
		if (pr->vlen == 0)
			return -1;
	}
	if (k < n && u[k] != ' ')
		return -1;
	*i = k;
	return 1;
}

static enum smtp_rid body_param(const struct smtp_param *pr, uint32_t caps,
                                struct smtp_mail_params *out)
{
	if (!(caps & (SMTP_CAP_8BITMIME | SMTP_CAP_BINARYMIME)))
		return SMTP_R_PARAM_UNKNOWN;
	if (out->body != SMTP_BODY_NONE || !pr->has_val)
		return SMTP_R_PARAM_SYNTAX;
	if (val_is(pr, "7BIT")) {
		out->body = SMTP_BODY_7BIT;
	} else if (val_is(pr, "8BITMIME")) {
		if (!(caps & SMTP_CAP_8BITMIME))
			return SMTP_R_PARAM_UNKNOWN;
		out->body = SMTP_BODY_8BITMIME;
	} else if (val_is(pr, "BINARYMIME")) {
		if ((caps & (SMTP_CAP_BINARYMIME | SMTP_CAP_CHUNKING)) !=
		    (SMTP_CAP_BINARYMIME | SMTP_CAP_CHUNKING))
			return SMTP_R_PARAM_UNKNOWN;
		out->body = SMTP_BODY_BINARYMIME;
	} else {
		return SMTP_R_PARAM_SYNTAX;
	}
	return SMTP_R_NONE;
}

static enum smtp_rid size_param(const struct smtp_param *pr, uint32_t caps,
                                struct smtp_mail_params *out)
{
	if (!(caps & SMTP_CAP_SIZE))
		return SMTP_R_PARAM_UNKNOWN;
	if (out->has_size || !pr->has_val)
		return SMTP_R_PARAM_SYNTAX;
	if (smtp_parse_u64(pr->val, pr->vlen, &out->size) != pr->vlen)
		return SMTP_R_PARAM_SYNTAX;
	out->has_size = 1;
	return SMTP_R_NONE;
}

enum smtp_rid smtp_mail_params(const char *p, size_t n, uint32_t caps, struct smtp_mail_params *out)
{
	struct smtp_param pr;
	size_t i = 0;
	int r;

	memset(out, 0, sizeof(*out));
	while ((r = next_param(p, n, &i, &pr)) > 0) {
		enum smtp_rid rid;

		if (key_is(&pr, "SIZE")) {
			rid = size_param(&pr, caps, out);
		} else if (key_is(&pr, "BODY")) {
			rid = body_param(&pr, caps, out);
		} else if (key_is(&pr, "SMTPUTF8")) {
			if (!(caps & SMTP_CAP_SMTPUTF8))
				rid = SMTP_R_PARAM_UNKNOWN;
			else if (out->utf8 || pr.has_val)
				rid = SMTP_R_PARAM_SYNTAX;
			else
				rid = SMTP_R_NONE;
			out->utf8 = 1;
		} else {
			rid = SMTP_R_PARAM_UNKNOWN;
		}
		if (rid != SMTP_R_NONE)
			return rid;
	}
	return r < 0 ? SMTP_R_PARAM_SYNTAX : SMTP_R_NONE;
}

enum smtp_rid smtp_rcpt_params(const char *p, size_t n, uint32_t caps)
{
	struct smtp_param pr;
	size_t i = 0;
	int r;

	(void)caps;
	r = next_param(p, n, &i, &pr);
	if (r < 0)
		return SMTP_R_PARAM_SYNTAX;
	return r > 0 ? SMTP_R_PARAM_UNKNOWN : SMTP_R_NONE;
}
