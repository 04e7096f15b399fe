/* SPDX-License-Identifier: MIT */
/*
 * body.h - the pre-generated message pool of sluice-blast and the per-message header block.
 *
 * At start-up blast_pool_init generates conf->count messages whose sizes follow a distribution:
 * realistic headers (Date, From, To, Subject, MIME), text lines of at most 78 columns, some
 * lines beginning with '.', some 8-bit UTF-8 text (Content-Transfer-Encoding: 8bit), some raw
 * UTF-8 headers (needing SMTPUTF8), and, for messages of 4 KiB or more, some multipart/mixed
 * with a base64 attachment. Lines end in CRLF; there is no bare CR or LF.
 *
 * Each message on the wire = per-message header block (blast_hdr_fill: Message-ID, X-Blast-Id,
 * X-Blast-Sum) + one pool entry. The entry is stored dot-stuffed and terminated by ".\r\n" when
 * conf->stuffed (DATA), raw otherwise (BDAT). msg_len counts the unstuffed message including the
 * header block, so a "fixed 1024" message is 1024 bytes as the receiver stores it.
 *
 * X-Blast-Sum is "crc32 XXXXXXXX": CRC-32 (the zlib/IEEE polynomial) of the body, i.e. the
 * bytes after the first empty line, as stored after dot-unstuffing, up to and including the CRLF
 * before the terminating dot. Python: zlib.crc32(body).
 *
 * Functions return 0 or -errno (-ENOMEM, -EINVAL). blast_dot_stuff never fails. The pool is
 * read-only once built and shared by all threads; blast_pool_free releases it.
 */
#ifndef SLUICE_BENCH_BLAST_BODY_H
#define SLUICE_BENCH_BLAST_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dist.h"

enum blast_body_flags {
	BLAST_BODY_8BIT = 1u << 0,    /* 8-bit body text: needs 8BITMIME */
	BLAST_BODY_UTF8HDR = 1u << 1, /* raw UTF-8 in headers: needs SMTPUTF8 (implies 8BIT) */
	BLAST_BODY_ATTACH = 1u << 2,  /* multipart with a base64 attachment */
};

struct blast_body {
	const char *data;
	size_t len;     /* bytes of data to send */
	size_t msg_len; /* unstuffed message size including the per-message header block */
	uint32_t sum;   /* CRC-32 of the body part */
	unsigned flags;
};

struct blast_pool_conf {
	unsigned count;
	const struct blast_dist *dist;
	uint64_t seed;
	bool stuffed;
	size_t hdr_len;
	unsigned pct_8bit;
	unsigned pct_utf8;
	unsigned pct_attach;
	unsigned pct_dots;
	size_t mem_max;
};

/* Index lists by what the server supports: all, no UTF-8 headers, 7-bit only. */
enum blast_pool_class {
	BLAST_POOL_ALL,
	BLAST_POOL_NO_UTF8,
	BLAST_POOL_7BIT,
	BLAST_POOL_NCLASS,
};

struct blast_pool {
	struct blast_body *bodies;
	unsigned n;
	unsigned *idx[BLAST_POOL_NCLASS];
	unsigned nidx[BLAST_POOL_NCLASS];
	char *mem;
	size_t mem_len;
	uint64_t msg_bytes; /* sum of msg_len over the pool */
	unsigned dot_lines; /* lines beginning with '.' over the pool */
};

#define BLAST_ID_LEN 22 /* "RRRRRRRR.TT.SSSSSSSSSS" */

struct blast_hdr_tmpl {
	char buf[384];
	size_t len;
	size_t id_off[2];
	size_t sum_off;
};

int blast_pool_init(struct blast_pool *p, const struct blast_pool_conf *conf);
void blast_pool_free(struct blast_pool *p);
enum blast_pool_class blast_pool_class_for(unsigned ext);

int blast_hdr_init(struct blast_hdr_tmpl *t, const char *domain);
void blast_msg_id(char *dst, uint32_t run_id, unsigned thread, uint64_t seq);
void blast_hdr_fill(const struct blast_hdr_tmpl *t, char *dst, const char *id, uint32_t sum);

size_t blast_dot_stuff(char *dst, const char *src, size_t n, bool *bol);
size_t blast_dot_stuffed_len(const char *src, size_t n, bool *bol);
uint32_t blast_crc32(uint32_t crc, const void *p, size_t n);
size_t blast_base64(char *dst, const unsigned char *src, size_t n);

/* Generates exactly len bytes of message (headers + body), unstuffed; returns the body offset,
 * or 0 when len is too small for the headers. Exposed for tests. */
size_t blast_gen_message(char *dst, size_t len, unsigned flags, unsigned pct_dots,
                         struct blast_rng *r);

#endif
