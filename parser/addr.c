/* SPDX-License-Identifier: MIT */
/*
 * addr.c - RFC 5321 4.1.2 Path parsing: reverse-path and forward-path of MAIL and RCPT.
 *
 *   Path          = "<" [ A-d-l ":" ] Mailbox ">"
 *   A-d-l         = At-domain *( "," At-domain )       ; source route: accepted, dropped
 *   Mailbox       = Local-part "@" ( Domain / address-literal )
 *   Local-part    = Dot-string / Quoted-string         ; at most 64 octets
 *   Domain        = sub-domain *("." sub-domain)       ; at most 255 octets, labels <= 63
 *   address-literal = "[" ( IPv4 / "IPv6:" IPv6 ) "]"  ; General-address-literal: refused,
 *                                                       ; no other tag is standardised
 *
 * With RFC 6531, atext, qtextSMTP and domain labels may also hold UTF-8; the caller decides
 * whether that is allowed (SMTPUTF8), this file only checks the octets are well-formed.
 * Public functions: see addr.h. No allocation; never reads outside the given buffer.
 */
#include <string.h>

#include "parser/addr.h"

static int is_alnum(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z');
}

static int is_digit(unsigned char ch)
{
	return ch >= '0' && ch <= '9';
}

static int is_xdigit(unsigned char ch)
{
	return is_digit(ch) || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f');
}

/* RFC 5322 atext, plus UTF-8 octets (RFC 6531 3.3). */
static int is_atext(unsigned char ch)
{
	if (is_alnum(ch) || ch >= 0x80)
		return 1;
	return ch != 0 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL;
}

/* qtextSMTP = %d32-33 / %d35-91 / %d93-126, plus UTF-8 octets. */
static int is_qtext(unsigned char ch)
{
	return (ch >= 32 && ch <= 126 && ch != '"' && ch != '\\') || ch >= 0x80;
}

int smtp_utf8_valid(const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0;

	while (i < n) {
		unsigned char c = u[i];
		size_t k;
		unsigned char lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3;
		else
			return 0;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
		else if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* > U+10FFFF */
		if (n - i <= k)
			return 0;
		if (u[i + 1] < lo || u[i + 1] > hi)
			return 0;
		for (size_t j = 2; j <= k; j++)
			if (u[i + j] < 0x80 || u[i + j] > 0xbf)
				return 0;
		i += k + 1;
	}
	return 1;
}

size_t smtp_domain_span(const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0;

	for (;;) {
		size_t start = i;

		if (i >= n || !(is_alnum(u[i]) || u[i] >= 0x80))
			return 0;
		while (i < n && (is_alnum(u[i]) || u[i] == '-' || u[i] >= 0x80))
			i++;
		if (u[i - 1] == '-' || i - start > 63)
			return 0;
		if (i < n && u[i] == '.') {
			i++;
			continue;
		}
		return i;
	}
}

/* Snum 3("." Snum), Snum = 1*3DIGIT with a value of 0 to 255. */
static int ipv4_valid(const char *p, size_t n)
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;

		if (part > 0) {
			if (i >= n || p[i] != '.')
				return 0;
			i++;
		}
		while (i < n && is_digit((unsigned char)p[i]) && digits < 4) {
			v = v * 10 + (unsigned)(p[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return 0;
	}
	return i == n;
}

/*
 * RFC 5321 IPv6-addr: IPv6-full, IPv6-comp, IPv6v4-full, IPv6v4-comp. Counting an embedded
 * IPv4 address as two groups: without "::" exactly 8 groups; with "::" (which stands for at
 * least two groups of zeros) at most 6.
 */
static int ipv6_valid(const char *p, size_t n)
{
	unsigned groups = 0;
	int dcolon = 0;
	size_t i = 0;

	if (n >= 2 && p[0] == ':' && p[1] == ':') {
		dcolon = 1;
		i = 2;
	}
	while (i < n) {
		size_t j = i;

		while (j < n && is_xdigit((unsigned char)p[j]))
			j++;
		if (j < n && p[j] == '.') {
			if (!ipv4_valid(p + i, n - i))
				return 0;
			groups += 2;
			break;
		}
		if (j == i || j - i > 4)
			return 0;
		groups++;
		i = j;
		if (i == n)
			break;
		if (p[i] != ':' || ++i == n)
			return 0;
		if (p[i] == ':') {
			if (dcolon)
				return 0;
			dcolon = 1;
			i++;
		}
	}
	return dcolon ? groups <= 6 : groups == 8;
}

int smtp_addr_literal_valid(const char *p, size_t n)
{
	if (n >= 5 && strncasecmp(p, "IPv6:", 5) == 0)
		return ipv6_valid(p + 5, n - 5);
	return ipv4_valid(p, n);
}

/* Source route "@dom,@dom:" at p (p[0] == '@'); returns octets consumed or 0. */
static size_t route_span(const char *p, size_t n)
{
	size_t i = 0;

	for (;;) {
		size_t d;

		if (i >= n || p[i] != '@')
			return 0;
		i++;
		d = smtp_domain_span(p + i, n - i);
		if (d == 0)
			return 0;
		i += d;
		if (i < n && p[i] == ',') {
			i++;
			continue;
		}
		if (i < n && p[i] == ':')
			return i + 1;
		return 0;
	}
}

/* Dot-string or Quoted-string at p; returns octets consumed or 0. */
static size_t local_span(const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0;

	if (n > 0 && u[0] == '"') {
		for (i = 1; i < n; i++) {
			if (u[i] == '"')
				return i + 1;
			if (u[i] == '\\') {
				if (++i >= n || u[i] < 32 || u[i] > 126)
					return 0;
			} else if (!is_qtext(u[i])) {
				return 0;
			}
		}
		return 0;
	}
	for (;;) {
		size_t start = i;

		while (i < n && is_atext(u[i]))
			i++;
		if (i == start)
			return 0;
		if (i < n && u[i] == '.') {
			i++;
			continue;
		}
		return i;
	}
}

/* Domain or address literal at p; returns octets consumed or 0. */
static size_t host_span(const char *p, size_t n)
{
	const char *close;

	if (n == 0 || p[0] != '[')
		return smtp_domain_span(p, n);
	close = memchr(p, ']', n);
	if (close == NULL || !smtp_addr_literal_valid(p + 1, (size_t)(close - p) - 1))
		return 0;
	return (size_t)(close - p) + 1;
}

static int is_postmaster(const char *p, size_t n)
{
	return n == 10 && strncasecmp(p, "postmaster", 10) == 0;
}

/* After the whole path is known: path length and UTF-8 checks. */
static int path_finish(const char *p, struct smtp_path *out)
{
	if (out->used > SMTP_PATH_MAX)
		return SMTP_PATH_TOO_LONG;
	for (size_t i = 0; i < out->used; i++) {
		if ((unsigned char)p[i] >= 0x80) {
			if (!smtp_utf8_valid(p, out->used))
				return SMTP_PATH_BAD_UTF8;
			out->utf8 = 1;
			break;
		}
	}
	return SMTP_PATH_OK;
}

int smtp_path_parse(const char *p, size_t n, unsigned flags, struct smtp_path *out)
{
	size_t i = 1, local, host;

	memset(out, 0, sizeof(*out));
	out->mbox = p;
	if (n < 2 || p[0] != '<')
		return SMTP_PATH_SYNTAX;
	if (p[1] == '>') {
		if (!(flags & SMTP_PATH_NULL_OK))
			return SMTP_PATH_NULL;
		out->mbox = p + 1;
		out->is_null = 1;
		out->used = 2;
		return SMTP_PATH_OK;
	}
	if (p[1] == '@') {
		size_t r = route_span(p + 1, n - 1);

		if (r == 0)
			return SMTP_PATH_SYNTAX;
		i += r;
	}
	out->mbox = p + i;
	local = local_span(p + i, n - i);
	if (local == 0)
		return SMTP_PATH_SYNTAX;
	if (local > SMTP_LOCAL_MAX)
		return SMTP_PATH_TOO_LONG;
	i += local;
	if (i < n && p[i] == '>' && (flags & SMTP_PATH_POSTMASTER_OK) && out->mbox == p + 1 &&
	    is_postmaster(p + 1, local)) {
		out->postmaster = 1;
		out->mbox_len = local;
		out->used = i + 1;
		return path_finish(p, out);
	}
	if (i >= n || p[i] != '@')
		return SMTP_PATH_SYNTAX;
	i++;
	host = host_span(p + i, n - i);
	if (host == 0)
		return SMTP_PATH_SYNTAX;
	if (host > SMTP_DOMAIN_MAX)
		return SMTP_PATH_TOO_LONG;
	i += host;
	if (i >= n || p[i] != '>')
		return SMTP_PATH_SYNTAX;
	out->mbox_len = (size_t)(p + i - out->mbox);
	out->used = i + 1;
	return path_finish(p, out);
}
