/* SPDX-License-Identifier: MIT */
/*
 * reply.h - incremental parser for SMTP server replies (RFC 5321 section 4.2), client side.
 *
 * The parser takes the byte stream from the server in chunks of any size (down to one byte) and
 * reports one complete reply at a time: its code, its line count, the ESMTP extensions named on
 * lines 2..n (meaningful after EHLO) and up to BLAST_REPLY_TEXT_MAX bytes of the last line's
 * text (for "queued as ID"). It never allocates and never reads past len; its state is a
 * caller-owned struct that zero-initialisation (or blast_reply_init) makes ready.
 *
 * Accepted: "DDD<SP>text", "DDD-text", "DDD" alone, lines ending in CRLF or a bare LF (a CR not
 * followed by LF is text). The first digit must be 2..5; every line of a multi-line reply must
 * carry the same code. Anything else is garbage.
 *
 * blast_reply_parse(p, buf, len, out):
 *   > 0     a reply ended after that many bytes of buf; *out is filled (out->text points into
 *           p and stays valid until the next call); call again with the rest of buf
 *   0       all len bytes consumed, the reply is not complete yet
 *   -EPROTO garbage (bad code, bad separator, codes differ between lines)
 *   -EMSGSIZE a line longer than BLAST_REPLY_LINE_MAX
 * After an error the parser stays in error until blast_reply_init.
 *
 * blast_reply_queue_id(text, len, id, cap): copies the token after "queued as " (0 or -ENOENT).
 */
#ifndef SLUICE_BENCH_BLAST_REPLY_H
#define SLUICE_BENCH_BLAST_REPLY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BLAST_REPLY_TEXT_MAX 160
#define BLAST_REPLY_LINE_MAX 4096

enum blast_ext {
	BLAST_EXT_PIPELINING = 1u << 0,
	BLAST_EXT_CHUNKING = 1u << 1,
	BLAST_EXT_8BITMIME = 1u << 2,
	BLAST_EXT_SMTPUTF8 = 1u << 3,
	BLAST_EXT_SIZE = 1u << 4,
	BLAST_EXT_ENHANCEDSTATUSCODES = 1u << 5,
};

struct blast_reply_parser {
	uint8_t pos;    /* 0..2 digits, 3 separator, 4 text */
	uint8_t cr;     /* previous byte was a CR (pending, not yet text) */
	uint8_t last;   /* the current line is the last one of the reply */
	uint8_t error;  /* sticky error state */
	unsigned code;  /* code of the first line, 0 before it is known */
	unsigned cur;   /* digits of the current line */
	unsigned lines; /* completed lines of the current reply */
	unsigned ext;   /* BLAST_EXT_* seen so far */
	unsigned line_len;
	unsigned text_len;
	char text[BLAST_REPLY_TEXT_MAX];
};

struct blast_reply {
	unsigned code;
	unsigned lines;
	unsigned ext;
	unsigned text_len;
	const char *text;
};

void blast_reply_init(struct blast_reply_parser *p);
ssize_t blast_reply_parse(struct blast_reply_parser *p, const char *buf, size_t len,
                          struct blast_reply *out);
int blast_reply_queue_id(const char *text, size_t len, char *id, size_t cap);

#endif
