/* SPDX-License-Identifier: MIT */
/*
 * test_body.c - tests of sluice-blast's message generator and pool (bench/blast/body.c,
 * pool.c): exact sizes, CRLF-only line endings, lines of at most 78 columns, 7-bit content
 * unless asked for 8-bit, UTF-8 only in headers that may carry it, dot-stuffing (one-shot and
 * across random chunk boundaries; unstuffing restores the message; no line "." before the
 * terminator), the pool's per-entry checksum, size and class lists, the per-message header
 * block, CRC-32 and base64 against known vectors.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "check.h"
#include "dist.h"

struct lines_info {
	unsigned bad_eol;  /* bare CR or LF */
	unsigned too_long; /* lines over 78 bytes */
	unsigned eight_bit_hdr;
	unsigned eight_bit_body;
	unsigned dot_lines;
	unsigned lines;
};

static void scan_lines(const char *m, size_t n, size_t body, struct lines_info *li)
{
	size_t i, start = 0;

	memset(li, 0, sizeof(*li));
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)m[i];

		if (c == '\r' && (i + 1 == n || m[i + 1] != '\n'))
			li->bad_eol++;
		if (c == '\n' && (i == 0 || m[i - 1] != '\r'))
			li->bad_eol++;
		if (c >= 0x80 && i < body)
			li->eight_bit_hdr++;
		else if (c >= 0x80)
			li->eight_bit_body++;
		if (c == '\n') {
			if (i - start - 1 > 78)
				li->too_long++;
			if (m[start] == '.')
				li->dot_lines++;
			li->lines++;
			start = i + 1;
		}
	}
	if (start != n)
		li->bad_eol++; /* last line not terminated */
}

/* Unstuffs a DATA payload without its final ".\r\n"; returns the length. */
static size_t unstuff(char *dst, const char *src, size_t n)
{
	size_t i, o = 0;
	int bol = 1;

	for (i = 0; i < n; i++) {
		if (bol && src[i] == '.') {
			bol = 0;
			continue;
		}
		dst[o++] = src[i];
		bol = src[i] == '\n';
	}
	return o;
}

static void test_generator(void)
{
	static const size_t sizes[] = {400, 401, 402, 512, 777, 1024, 4096, 10240, 65537, 1 << 20};
	static const unsigned flagsets[] = {0, BLAST_BODY_8BIT,
	                                    BLAST_BODY_8BIT | BLAST_BODY_UTF8HDR, BLAST_BODY_ATTACH,
	                                    BLAST_BODY_ATTACH | BLAST_BODY_8BIT};
	struct blast_rng r;
	char *m = malloc(1 << 20);
	unsigned s, f, rep;

	blast_rng_seed(&r, 3);
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (f = 0; f < sizeof(flagsets) / sizeof(flagsets[0]); f++)
			for (rep = 0; rep < 4; rep++) {
				unsigned fl = flagsets[f];
				struct lines_info li;
				size_t body;

				if ((fl & BLAST_BODY_ATTACH) && sizes[s] < 4096)
					continue;
				memset(m, 0, sizes[s]);
				body = blast_gen_message(m, sizes[s], fl, 10, &r);
				CHECK(body > 0 && body < sizes[s], "size %zu flags %u: body at %zu",
				      sizes[s], fl, body);
				if (body == 0)
					continue;
				CHECK(memcmp(m + body - 4, "\r\n\r\n", 4) == 0, "blank line");
				scan_lines(m, sizes[s], body, &li);
				CHECK(li.bad_eol == 0, "size %zu flags %u: %u bare CR/LF", sizes[s],
				      fl, li.bad_eol);
				CHECK(li.too_long == 0, "size %zu flags %u: %u long lines",
				      sizes[s], fl, li.too_long);
				CHECK((li.eight_bit_hdr > 0) == !!(fl & BLAST_BODY_UTF8HDR),
				      "size %zu flags %u: 8-bit header bytes %u", sizes[s], fl,
				      li.eight_bit_hdr);
				if (!(fl & BLAST_BODY_8BIT))
					CHECK(li.eight_bit_body == 0, "7-bit body has 8-bit bytes");
				if (fl & BLAST_BODY_ATTACH)
					CHECK(memmem(m, sizes[s],
					             "Content-Transfer-Encoding: base64", 33) &&
					          memmem(m, sizes[s], "--\r\n", 4),
					      "attachment and closing boundary");
			}
	free(m);
}

static void test_stuffing(void)
{
	static const char *const in[] = {
	    ".\r\n",       "..\r\n",    "a\r\n.\r\nb\r\n", ".x\r\n.\r\n..\r\n",
	    "no dots\r\n", "\r\n.\r\n", "x.\r\n.y\r\n",
	};
	static const char *const out[] = {
	    "..\r\n",      "...\r\n",    "a\r\n..\r\nb\r\n", "..x\r\n..\r\n...\r\n",
	    "no dots\r\n", "\r\n..\r\n", "x.\r\n..y\r\n",
	};
	char buf[64];
	unsigned i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		bool bol = true, bol2 = true;
		size_t n = blast_dot_stuff(buf, in[i], strlen(in[i]), &bol);

		CHECK(n == strlen(out[i]) && memcmp(buf, out[i], n) == 0, "stuff '%s'", in[i]);
		CHECK(blast_dot_stuffed_len(in[i], strlen(in[i]), &bol2) == n, "stuffed len");
	}
}

/* Generated messages: stuffing in random chunks equals one-shot; unstuffing restores them. */
static void test_stuff_generated(void)
{
	const size_t len = 200000;
	char *m = malloc(len), *s1 = malloc(2 * len), *s2 = malloc(2 * len), *u = malloc(len);
	struct blast_rng r;
	unsigned rep;

	blast_rng_seed(&r, 11);
	for (rep = 0; rep < 20; rep++) {
		size_t body = blast_gen_message(m, len, rep % 3 ? 0 : BLAST_BODY_8BIT, 20, &r);
		size_t n1, n2 = 0, off = 0, un, i, first_dot = 0;
		bool bol = true, bol2 = true;

		CHECK(body > 0, "generated");
		n1 = blast_dot_stuff(s1, m, len, &bol);
		while (off < len) {
			size_t k = 1 + blast_rng_below(&r, 300);

			k = k > len - off ? len - off : k;
			n2 += blast_dot_stuff(s2 + n2, m + off, k, &bol2);
			off += k;
		}
		CHECK(n1 == n2 && memcmp(s1, s2, n1) == 0, "chunked stuffing equals one-shot");
		un = unstuff(u, s1, n1);
		CHECK(un == len && memcmp(u, m, len) == 0, "unstuff restores the message");
		CHECK(n1 > len, "some lines were stuffed (%zu > %zu)", n1, len);
		for (i = 0; i + 5 <= n1; i++)
			if (memcmp(s1 + i, "\r\n.\r\n", 5) == 0)
				first_dot++;
		CHECK(first_dot == 0, "no CRLF.CRLF inside the stuffed message");
	}
	free(m);
	free(s1);
	free(s2);
	free(u);
}

static void check_pool_entry(const struct blast_pool *p, unsigned i, bool stuffed, size_t hdr_len,
                             char *u)
{
	const struct blast_body *b = &p->bodies[i];
	size_t n = b->len, ulen;
	const char *body;

	if (stuffed) {
		CHECK(n >= 5 && memcmp(b->data + n - 5, "\r\n.\r\n", 5) == 0, "entry %u terminated",
		      i);
		ulen = unstuff(u, b->data, n - 3);
	} else {
		memcpy(u, b->data, n);
		ulen = n;
	}
	CHECK(ulen + hdr_len == b->msg_len, "entry %u: %zu + %zu != %zu", i, ulen, hdr_len,
	      b->msg_len);
	body = memmem(u, ulen, "\r\n\r\n", 4);
	CHECK(body != NULL, "entry %u has a body", i);
	if (body != NULL) {
		body += 4;
		CHECK(blast_crc32(0, body, ulen - (size_t)(body - u)) == b->sum, "entry %u sum", i);
	}
}

static void test_pool(bool stuffed)
{
	struct blast_dist d;
	struct blast_pool p;
	struct blast_pool_conf c = {0};
	char *u = malloc(8 << 20);
	unsigned i, k;

	CHECK(blast_dist_parse(&d, "lognormal:8k,1.5,2m") == 0, "dist");
	c.count = 300;
	c.dist = &d;
	c.seed = 5;
	c.stuffed = stuffed;
	c.hdr_len = 120;
	c.pct_8bit = 20;
	c.pct_utf8 = 10;
	c.pct_attach = 50;
	c.pct_dots = 3;
	c.mem_max = 256 << 20;
	CHECK(blast_pool_init(&p, &c) == 0, "pool init");
	CHECK(p.n == 300, "pool size %u", p.n);
	CHECK(p.dot_lines > 0, "dot lines %u", p.dot_lines);
	for (i = 0; i < p.n; i++)
		check_pool_entry(&p, i, stuffed, c.hdr_len, u);
	CHECK(p.bodies[0].flags == 0, "entry 0 is plain");
	for (k = 0; k < BLAST_POOL_NCLASS; k++) {
		CHECK(p.nidx[k] > 0, "class %u non-empty", k);
		for (i = 0; i < p.nidx[k]; i++) {
			unsigned f = p.bodies[p.idx[k][i]].flags;

			if (k == BLAST_POOL_NO_UTF8)
				CHECK(!(f & BLAST_BODY_UTF8HDR), "no-utf8 class");
			if (k == BLAST_POOL_7BIT)
				CHECK(!(f & BLAST_BODY_8BIT), "7-bit class");
		}
	}
	CHECK(p.nidx[BLAST_POOL_ALL] == p.n, "all class");
	blast_pool_free(&p);
	/* memory cap: generation stops early, but keeps a minimum */
	c.mem_max = 1;
	CHECK(blast_pool_init(&p, &c) == 0 && p.n == 16, "capped pool %u", p.n);
	blast_pool_free(&p);
	free(u);
}

static void test_hdr_block(void)
{
	struct blast_hdr_tmpl t;
	char id[BLAST_ID_LEN + 1], out[400];
	const char *want = "Message-ID: <0badcafe.07.0000012345@mx.example.test>\r\n"
	                   "X-Blast-Id: 0badcafe.07.0000012345\r\n"
	                   "X-Blast-Sum: crc32 cbf43926\r\n";

	CHECK(blast_hdr_init(&t, "mx.example.test") == 0, "hdr init");
	blast_msg_id(id, 0x0badcafe, 7, 12345);
	id[BLAST_ID_LEN] = '\0';
	CHECK(strcmp(id, "0badcafe.07.0000012345") == 0, "id %s", id);
	blast_hdr_fill(&t, out, id, 0xcbf43926);
	CHECK(t.len == strlen(want) && memcmp(out, want, t.len) == 0, "block '%.*s'", (int)t.len,
	      out);
	CHECK(blast_hdr_init(&t, "bad name") == -EINVAL, "space rejected");
	CHECK(blast_hdr_init(&t, "") == -EINVAL, "empty rejected");
}

static void test_vectors(void)
{
	static const char *const b64[][2] = {{"", ""},
	                                     {"f", "Zg=="},
	                                     {"fo", "Zm8="},
	                                     {"foo", "Zm9v"},
	                                     {"foob", "Zm9vYg=="},
	                                     {"fooba", "Zm9vYmE="},
	                                     {"foobar", "Zm9vYmFy"}};
	char out[16];
	unsigned i;

	CHECK(blast_crc32(0, "123456789", 9) == 0xcbf43926u, "crc32 check value");
	CHECK(blast_crc32(blast_crc32(0, "1234", 4), "56789", 5) == 0xcbf43926u, "crc32 chained");
	for (i = 0; i < sizeof(b64) / sizeof(b64[0]); i++) {
		size_t n = blast_base64(out, (const unsigned char *)b64[i][0], strlen(b64[i][0]));

		CHECK(n == strlen(b64[i][1]) && memcmp(out, b64[i][1], n) == 0, "base64 '%s'",
		      b64[i][0]);
	}
}

int main(void)
{
	test_generator();
	test_stuffing();
	test_stuff_generated();
	test_pool(true);
	test_pool(false);
	test_hdr_block();
	test_vectors();
	return check_summary();
}
