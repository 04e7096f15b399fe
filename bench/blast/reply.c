/* SPDX-License-Identifier: MIT */
/*
 * reply.c - incremental SMTP reply parser (contract in reply.h).
 *
 * The state is the position inside the current line (three digits, a separator, then text up to
 * LF). Text is scanned with memchr for the LF; a CR at the very end of a chunk is held back until
 * the next byte shows whether it ends the line. Only the first BLAST_REPLY_TEXT_MAX bytes of a
 * line's text are kept, which is enough for extension keywords and "queued as" identifiers.
 */
#include "reply.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

void blast_reply_init(struct blast_reply_parser *p)
{
	memset(p, 0, sizeof(*p));
}

static const struct {
	const char *name;
	unsigned len;
	unsigned flag;
} blast_ext_names[] = {
    {"PIPELINING", 10, BLAST_EXT_PIPELINING},
    {"CHUNKING", 8, BLAST_EXT_CHUNKING},
    {"8BITMIME", 8, BLAST_EXT_8BITMIME},
    {"SMTPUTF8", 8, BLAST_EXT_SMTPUTF8},
    {"SIZE", 4, BLAST_EXT_SIZE},
    {"ENHANCEDSTATUSCODES", 19, BLAST_EXT_ENHANCEDSTATUSCODES},
};

static unsigned reply_keyword(const char *t, unsigned n)
{
	unsigned i, kw = 0;

	while (kw < n && t[kw] != ' ')
		kw++;
	for (i = 0; i < sizeof(blast_ext_names) / sizeof(blast_ext_names[0]); i++) {
		if (kw == blast_ext_names[i].len &&
		    strncasecmp(t, blast_ext_names[i].name, kw) == 0)
			return blast_ext_names[i].flag;
	}
	return 0;
}

static void reply_text(struct blast_reply_parser *p, const char *s, size_t n)
{
	size_t room = sizeof(p->text) - p->text_len;

	if (n > room)
		n = room;
	memcpy(p->text + p->text_len, s, n);
	p->text_len += (unsigned)n;
}

/* Ends the current line; returns 1 when it was the reply's last line. */
static int reply_line_end(struct blast_reply_parser *p, struct blast_reply *out)
{
	if (p->lines > 0)
		p->ext |= reply_keyword(p->text, p->text_len);
	p->lines++;
	if (p->last) {
		out->code = p->code;
		out->lines = p->lines;
		out->ext = p->ext;
		out->text = p->text;
		out->text_len = p->text_len;
		p->code = 0;
		p->lines = 0;
		p->ext = 0;
	}
	p->pos = 0;
	p->cur = 0;
	p->line_len = 0;
	p->cr = 0;
	if (p->last)
		return 1;
	p->text_len = 0;
	return 0;
}

static int reply_fail(struct blast_reply_parser *p, int err)
{
	p->error = (uint8_t)-err;
	return err;
}

/* Digits and separator, one byte. Returns 0, or -EPROTO. */
static int reply_head_byte(struct blast_reply_parser *p, char c)
{
	if (p->pos < 3) {
		if (c < '0' || c > '9' || (p->pos == 0 && (c < '2' || c > '5')))
			return -EPROTO;
		p->cur = p->cur * 10u + (unsigned)(c - '0');
		p->pos++;
		if (p->pos == 3) {
			if (p->code == 0)
				p->code = p->cur;
			else if (p->cur != p->code)
				return -EPROTO;
		}
		return 0;
	}
	if (c == ' ' || c == '-') {
		p->last = c == ' ';
		p->text_len = 0;
		p->pos = 4;
		return 0;
	}
	return -EPROTO;
}

ssize_t blast_reply_parse(struct blast_reply_parser *p, const char *buf, size_t len,
                          struct blast_reply *out)
{
	size_t i = 0;

	if (p->error)
		return -(ssize_t)p->error;
	while (i < len) {
		if (p->pos < 4) {
			char c = buf[i];

			if (p->pos == 3 && (c == '\r' || c == '\n')) {
				p->last = 1; /* "DDD" alone: a last line without text */
				p->text_len = 0;
				p->pos = 4;
				continue;
			}
			if (reply_head_byte(p, c) != 0)
				return reply_fail(p, -EPROTO);
			p->line_len++;
			i++;
			continue;
		}
		/* Text: a pending CR is text unless this byte is the LF. */
		if (p->cr && buf[i] != '\n')
			reply_text(p, "\r", 1);
		p->cr = 0;
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - buf) : len;
		size_t n = end - i;

		if (n > BLAST_REPLY_LINE_MAX - p->line_len)
			return reply_fail(p, -EMSGSIZE);
		p->line_len += (unsigned)n;
		if (nl == NULL) {
			if (n > 0 && buf[end - 1] == '\r') {
				p->cr = 1;
				n--;
			}
			reply_text(p, buf + i, n);
			return 0;
		}
		if (n > 0 && buf[end - 1] == '\r')
			n--;
		reply_text(p, buf + i, n);
		i = end + 1;
		if (reply_line_end(p, out))
			return (ssize_t)i;
	}
	return 0;
}

int blast_reply_queue_id(const char *text, size_t len, char *id, size_t cap)
{
	static const char key[] = "queued as ";
	size_t k = sizeof(key) - 1, i, n;

	if (cap == 0)
		return -ENOENT;
	for (i = 0; len >= k && i <= len - k; i++) {
		if (strncasecmp(text + i, key, k) != 0)
			continue;
		i += k;
		for (n = 0; i + n < len && n + 1 < cap; n++) {
			char c = text[i + n];

			if (c == ' ' || c == '\t' || c == ';' || c == ',' || c == ')' ||
			    (unsigned char)c < 0x21)
				break;
			id[n] = c;
		}
		id[n] = '\0';
		return n > 0 ? 0 : -ENOENT;
	}
	return -ENOENT;
}
