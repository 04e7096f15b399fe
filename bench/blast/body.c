/* SPDX-License-Identifier: MIT */
/*
 * body.c - message generator, dot-stuffing, CRC-32 and the start-up message pool (see body.h).
 *
 * The generator writes into a bounded writer (struct gen_out) and always produces exactly the
 * requested number of bytes: text is laid out line by line while more than two lines' worth of
 * budget remains, then the rest is split over one or two final lines, so no budget is ever left
 * at one byte (a line needs at least its CRLF). Multipart messages put that remainder in the
 * MIME epilogue after the closing boundary, which receivers ignore.
 */
#include "body.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"

#define GEN_LINE_MAX   78
#define GEN_BODY_MIN   400 /* smallest pool entry: headers plus a few lines */
#define GEN_ATTACH_MIN 4096

struct gen_out {
	char *p;
	size_t left;
};

static const char *const gen_words[] = {
    "the",      "of",        "and",      "to",      "in",       "is",     "that",     "for",
    "it",       "as",        "was",      "with",    "be",       "by",     "on",       "not",
    "this",     "are",       "or",       "from",    "at",       "which",  "but",      "have",
    "an",       "they",      "you",      "were",    "their",    "one",    "all",      "we",
    "can",      "has",       "there",    "been",    "if",       "more",   "when",     "will",
    "would",    "who",       "so",       "no",      "mail",     "server", "queue",    "message",
    "delivery", "spool",     "relay",    "latency", "through",  "sluice", "edge",     "network",
    "meeting",  "invoice",   "attached", "please",  "regards",  "thanks", "tomorrow", "schedule",
    "report",   "quarterly", "customer", "update",  "question", "review",
};

static const char *const gen_utf8_words[] = {
    "Grüße",  "naïve",    "café",    "Straße", "Ærøskøbing", "résumé", "déjà",
    "Zürich", "Ελληνικά", "русский", "日本語", "中文",       "한국어", "São",
    "Kraków", "İstanbul", "señor",   "€100",   "Ångström",   "façade",
};

#define NWORDS(a) (sizeof(a) / sizeof((a)[0]))

static void out_put(struct gen_out *o, const char *s, size_t n)
{
	if (n > o->left)
		n = o->left; /* never happens when the budget arithmetic holds */
	memcpy(o->p, s, n);
	o->p += n;
	o->left -= n;
}

static void out_str(struct gen_out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

static const char *gen_word(struct blast_rng *r, bool eightbit)
{
	if (eightbit && blast_rng_below(r, 100) < 15)
		return gen_utf8_words[blast_rng_below(r, NWORDS(gen_utf8_words))];
	return gen_words[blast_rng_below(r, NWORDS(gen_words))];
}

/* Exactly n content bytes of words (a leading '.' when dot), then CRLF. */
static void gen_line(struct gen_out *o, size_t n, bool eightbit, bool dot, struct blast_rng *r)
{
	size_t pos = 0;

	if (dot && n > 0) {
		out_put(o, ".", 1);
		pos = 1;
		if (n > 1 && blast_rng_below(r, 4) == 0) {
			out_put(o, ".", 1);
			pos = 2;
		}
	}
	while (pos < n) {
		const char *w = gen_word(r, eightbit);
		size_t wl = strlen(w), sp = pos > 0 ? 1 : 0;

		if (pos + sp + wl <= n) {
			out_put(o, " ", sp);
			out_put(o, w, wl);
			pos += sp + wl;
			continue;
		}
		while (pos < n) {
			char c = (char)('a' + blast_rng_below(r, 26));

			out_put(o, &c, 1);
			pos++;
		}
	}
	out_put(o, "\r\n", 2);
}

static bool gen_dot(struct blast_rng *r, unsigned pct_dots)
{
	return blast_rng_below(r, 100) < pct_dots;
}

/* Text lines filling exactly budget bytes (budget is 0 or >= 2). */
static void gen_text(struct gen_out *o, size_t budget, bool eightbit, unsigned pct_dots,
                     struct blast_rng *r, bool first_dot)
{
	bool dot = first_dot;

	while (budget > 2 * (GEN_LINE_MAX + 2)) {
		size_t n = 20 + blast_rng_below(r, GEN_LINE_MAX - 20 + 1);

		if (dot && blast_rng_below(r, 3) == 0)
			n = 1; /* a line that is exactly "." */
		else if (blast_rng_below(r, 12) == 0)
			n = 0; /* paragraph break */
		gen_line(o, n, eightbit, dot, r);
		budget -= n + 2;
		dot = gen_dot(r, pct_dots);
	}
	if (budget > GEN_LINE_MAX + 2) {
		size_t a = budget / 2;

		gen_line(o, a - 2, eightbit, dot, r);
		budget -= a;
		dot = gen_dot(r, pct_dots);
	}
	if (budget >= 2)
		gen_line(o, budget - 2, eightbit, dot, r);
}

static void gen_subject(struct gen_out *o, unsigned flags, struct blast_rng *r)
{
	size_t pos = 8;
	unsigned i, nw = 3 + (unsigned)blast_rng_below(r, 6);
	const char *lead = "";

	if (flags & BLAST_BODY_UTF8HDR)
		lead = " Grüße aus Zürich — 日本語";
	else if (flags & BLAST_BODY_8BIT)
		lead = " =?UTF-8?B?R3LDvMOfZSBhdXMgWsO8cmljaA==?=";
	out_str(o, "Subject:");
	out_str(o, lead);
	pos += strlen(lead);
	for (i = 0; i < nw; i++) {
		const char *w = gen_words[blast_rng_below(r, NWORDS(gen_words))];

		if (pos + 1 + strlen(w) > GEN_LINE_MAX)
			break;
		out_str(o, " ");
		out_str(o, w);
		pos += 1 + strlen(w);
	}
	out_str(o, "\r\n");
}

static void gen_headers(struct gen_out *o, unsigned flags, const char *boundary,
                        struct blast_rng *r)
{
	bool utf8 = flags & BLAST_BODY_UTF8HDR;

	out_str(o, "Date: Sat, 29 Nov 2025 12:00:00 +0000\r\n");
	out_str(o, utf8 ? "From: Jürgen Bläst <sender@blast.example.test>\r\n"
	                : "From: Blast Sender <sender@blast.example.test>\r\n");
	out_str(o, utf8 ? "To: Zoë Empfänger <rcpt@example.test>\r\n"
	                : "To: Blast Recipient <rcpt@example.test>\r\n");
	gen_subject(o, flags, r);
	out_str(o, "MIME-Version: 1.0\r\n");
	if (boundary != NULL) {
		out_str(o, "Content-Type: multipart/mixed; boundary=\"");
		out_str(o, boundary);
		out_str(o, "\"\r\n");
	} else if (flags & BLAST_BODY_8BIT) {
		out_str(o, "Content-Type: text/plain; charset=utf-8\r\n"
		           "Content-Transfer-Encoding: 8bit\r\n");
	} else {
		out_str(o, "Content-Type: text/plain; charset=us-ascii\r\n"
		           "Content-Transfer-Encoding: 7bit\r\n");
	}
	out_str(o, "\r\n");
}

/* Multipart body: text part, base64 attachment, closing boundary, epilogue filler. */
static int gen_multipart(struct gen_out *o, const char *b, unsigned flags, unsigned pct_dots,
                         struct blast_rng *r)
{
	char part[256], close[64], line[80];
	unsigned char raw[57];
	size_t text, plen, clen;
	unsigned i;

	clen = (size_t)snprintf(close, sizeof(close), "--%s--\r\n", b);
	plen = (size_t)snprintf(part, sizeof(part),
	                        "--%s\r\nContent-Type: text/plain; charset=%s\r\n"
	                        "Content-Transfer-Encoding: %s\r\n\r\n",
	                        b, flags & BLAST_BODY_8BIT ? "utf-8" : "us-ascii",
	                        flags & BLAST_BODY_8BIT ? "8bit" : "7bit");
	text = o->left / 5;
	if (o->left < plen + text + 256 + clen + 2)
		return -EINVAL;
	out_put(o, part, plen);
	gen_text(o, text, flags & BLAST_BODY_8BIT, pct_dots, r, false);
	plen = (size_t)snprintf(part, sizeof(part),
	                        "--%s\r\nContent-Type: application/octet-stream; name=\"blast.bin\""
	                        "\r\nContent-Transfer-Encoding: base64\r\n"
	                        "Content-Disposition: attachment\r\n\r\n",
	                        b);
	out_put(o, part, plen);
	while (o->left >= clen + 2 + 78) {
		for (i = 0; i < sizeof(raw); i++)
			raw[i] = (unsigned char)blast_rng_next(r);
		blast_base64(line, raw, sizeof(raw));
		out_put(o, line, 76);
		out_put(o, "\r\n", 2);
	}
	out_put(o, close, clen);
	gen_text(o, o->left, false, 0, r, false);
	return 0;
}

size_t blast_gen_message(char *dst, size_t len, unsigned flags, unsigned pct_dots,
                         struct blast_rng *r)
{
	struct gen_out o = {dst, len};
	char boundary[40];
	size_t body;

	if (len < GEN_BODY_MIN)
		return 0;
	if (flags & BLAST_BODY_ATTACH)
		snprintf(boundary, sizeof(boundary), "=_blast_%016llx",
		         (unsigned long long)blast_rng_next(r));
	gen_headers(&o, flags, (flags & BLAST_BODY_ATTACH) ? boundary : NULL, r);
	body = len - o.left;
	if (o.left < 2)
		return 0;
	if (flags & BLAST_BODY_ATTACH) {
		if (gen_multipart(&o, boundary, flags, pct_dots, r) != 0)
			return 0;
	} else {
		gen_text(&o, o.left, flags & BLAST_BODY_8BIT, pct_dots, r,
		         blast_rng_below(r, 5) == 0);
	}
	return o.left == 0 ? body : 0;
}

size_t blast_dot_stuffed_len(const char *src, size_t n, bool *bol)
{
	size_t i, extra = 0;
	bool b = *bol;

	for (i = 0; i < n; i++) {
		if (b && src[i] == '.')
			extra++;
		b = src[i] == '\n';
	}
	*bol = b;
	return n + extra;
}

size_t blast_dot_stuff(char *dst, const char *src, size_t n, bool *bol)
{
	size_t i, o = 0;
	bool b = *bol;

	for (i = 0; i < n; i++) {
		if (b && src[i] == '.')
			dst[o++] = '.';
		dst[o++] = src[i];
		b = src[i] == '\n';
	}
	*bol = b;
	return o;
}

static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static uint32_t crc_table[256]; /* written once under crc_once, then read-only */

static void crc_init(void)
{
	uint32_t i, c;
	int k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t blast_crc32(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *s = p;

	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *s++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

size_t blast_base64(char *dst, const unsigned char *src, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];

		dst[o++] = tab[v >> 18];
		dst[o++] = tab[(v >> 12) & 63];
		dst[o++] = tab[(v >> 6) & 63];
		dst[o++] = tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)src[i] << 16 | (i + 1 < n ? (uint32_t)src[i + 1] << 8 : 0);

		dst[o++] = tab[v >> 18];
		dst[o++] = tab[(v >> 12) & 63];
		dst[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		dst[o++] = '=';
	}
	return o;
}
