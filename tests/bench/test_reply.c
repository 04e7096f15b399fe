/* SPDX-License-Identifier: MIT */
/*
 * test_reply.c - tests of sluice-blast's SMTP reply parser (bench/blast/reply.c).
 *
 * Table-driven: each case is a byte stream and the replies (code, lines, extensions, text of
 * the last line) or the error it must produce. Every case runs three ways with the input ending
 * at a guard page (so any read past the input faults): whole, one byte at a time, and in random
 * splits; all three must give the same result. Also: "queued as" extraction.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dist.h"
#include "reply.h"
#include "tests/common/guard.h"

#define MAXR 4

struct want {
	unsigned code;
	unsigned lines;
	unsigned ext;
	const char *text;
};

struct rcase {
	const char *name;
	const char *in;
	unsigned nwant;
	struct want want[MAXR];
	int err; /* after the wanted replies: 0 (input ends cleanly) or -EPROTO / -EMSGSIZE */
};

#define ALL_EXT                                                                                    \
	(BLAST_EXT_PIPELINING | BLAST_EXT_CHUNKING | BLAST_EXT_8BITMIME | BLAST_EXT_SMTPUTF8 |     \
	 BLAST_EXT_SIZE | BLAST_EXT_ENHANCEDSTATUSCODES)

static const struct rcase cases[] = {
    {"greeting", "220 mx.example.test ESMTP\r\n", 1, {{220, 1, 0, "mx.example.test ESMTP"}}, 0},
    {"ehlo",
     "250-mx.example.test\r\n250-PIPELINING\r\n250-chunking\r\n250-8BITMIME\r\n"
     "250-SMTPUTF8\r\n250-SIZE 10240000\r\n250 ENHANCEDSTATUSCODES\r\n",
     1,
     {{250, 7, ALL_EXT, "ENHANCEDSTATUSCODES"}},
     0},
    {"keyword on first line ignored", "250-PIPELINING\r\n250 ok\r\n", 1, {{250, 2, 0, "ok"}}, 0},
    {"code alone", "250\r\n", 1, {{250, 1, 0, ""}}, 0},
    {"code alone multi", "250-x\r\n250\r\n", 1, {{250, 2, 0, ""}}, 0},
    {"bare LF", "250 ok\n354 go\n", 2, {{250, 1, 0, "ok"}, {354, 1, 0, "go"}}, 0},
    {"pipelined group",
     "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
     3,
     {{250, 1, 0, "2.1.0 Ok"},
      {250, 1, 0, "2.1.5 Ok"},
      {354, 1, 0, "End data with <CR><LF>.<CR><LF>"}},
     0},
    {"CR inside text", "250 a\rb\r\n", 1, {{250, 1, 0, "a\rb"}}, 0},
    {"empty text", "221 \r\n", 1, {{221, 1, 0, ""}}, 0},
    {"4xx and 5xx",
     "451 4.3.0 later\r\n550 5.1.1 no\r\n",
     2,
     {{451, 1, 0, "4.3.0 later"}, {550, 1, 0, "5.1.1 no"}},
     0},
    {"incomplete tail", "250 ok\r\n25", 1, {{250, 1, 0, "ok"}}, 0},
    {"garbage words", "hello world\r\n", 0, {{0}}, -EPROTO},
    {"garbage short code", "25\r\n", 0, {{0}}, -EPROTO},
    {"garbage four digits", "2500 ok\r\n", 0, {{0}}, -EPROTO},
    {"garbage first digit 6", "650 x\r\n", 0, {{0}}, -EPROTO},
    {"garbage first digit 1", "199 x\r\n", 0, {{0}}, -EPROTO},
    {"garbage empty line", "\r\n", 0, {{0}}, -EPROTO},
    {"garbage after reply", "250 ok\r\nHTTP/1.1 400\r\n", 1, {{250, 1, 0, "ok"}}, -EPROTO},
    {"codes differ", "250-a\r\n251 b\r\n", 0, {{0}}, -EPROTO},
    {"bad separator", "250_x\r\n", 0, {{0}}, -EPROTO},
    {"NUL in code", "2\0000 x\r\n", 0, {{0}}, -EPROTO},
};

struct result {
	unsigned n;
	struct want got[MAXR];
	char text[MAXR][BLAST_REPLY_TEXT_MAX + 1];
	int err;
};

static void feed(struct blast_reply_parser *p, const char *buf, size_t len, struct result *res)
{
	size_t off = 0;

	while (off < len && res->err == 0) {
		struct blast_reply r;
		ssize_t n = blast_reply_parse(p, buf + off, len - off, &r);

		if (n < 0) {
			res->err = (int)n;
			return;
		}
		if (n == 0)
			return;
		CHECK((size_t)n <= len - off, "consumed past the input");
		off += (size_t)n;
		if (res->n < MAXR) {
			res->got[res->n] = (struct want){r.code, r.lines, r.ext, NULL};
			memcpy(res->text[res->n], r.text, r.text_len);
			res->text[res->n][r.text_len] = '\0';
		}
		res->n++;
	}
}

/* mode 0: whole, 1: byte by byte, 2: random splits */
static void run_case(const struct rcase *c, struct guard_buf *g, int mode, struct blast_rng *rng)
{
	size_t len = strlen(c->in) + (strstr(c->name, "NUL") ? 4 : 0);
	struct blast_reply_parser p;
	struct result res;
	size_t off = 0;
	unsigned i;

	memset(&res, 0, sizeof(res));
	blast_reply_init(&p);
	while (off < len && res.err == 0) {
		size_t n = mode == 0   ? len - off
		           : mode == 1 ? 1
		                       : 1 + blast_rng_below(rng, len - off);
		const char *chunk = guard_copy(g, c->in + off, n);

		feed(&p, chunk, n, &res);
		off += n;
	}
	CHECK(res.n == c->nwant, "%s mode %d: %u replies, want %u", c->name, mode, res.n, c->nwant);
	CHECK(res.err == c->err, "%s mode %d: err %d, want %d", c->name, mode, res.err, c->err);
	for (i = 0; i < c->nwant && i < res.n; i++) {
		const struct want *w = &c->want[i];

		CHECK(res.got[i].code == w->code && res.got[i].lines == w->lines &&
		          res.got[i].ext == w->ext,
		      "%s mode %d reply %u: code %u lines %u ext %#x", c->name, mode, i,
		      res.got[i].code, res.got[i].lines, res.got[i].ext);
		CHECK(strcmp(res.text[i], w->text) == 0, "%s mode %d reply %u: text '%s'", c->name,
		      mode, i, res.text[i]);
	}
	if (c->err != 0) {
		struct blast_reply r;

		CHECK(blast_reply_parse(&p, "250 ok\r\n", 8, &r) == c->err, "%s: error is sticky",
		      c->name);
	}
}

static void test_long_line(struct guard_buf *g)
{
	size_t n = BLAST_REPLY_LINE_MAX + 100;
	char *buf = malloc(n);
	struct blast_reply_parser p;
	struct blast_reply r;
	ssize_t ret = 0;
	size_t off;

	memcpy(buf, "250 ", 4);
	memset(buf + 4, 'x', n - 4);
	blast_reply_init(&p);
	for (off = 0; off < n && ret == 0; off += 1000) {
		size_t k = n - off < 1000 ? n - off : 1000;

		ret = blast_reply_parse(&p, guard_copy(g, buf + off, k), k, &r);
	}
	CHECK(ret == -EMSGSIZE, "long line: %zd", ret);
	/* a line just under the limit is fine, and only its first bytes are kept */
	memset(buf + 4, 'y', BLAST_REPLY_LINE_MAX - 10);
	memcpy(buf + BLAST_REPLY_LINE_MAX - 6, "\r\n", 2);
	blast_reply_init(&p);
	ret = blast_reply_parse(&p, guard_copy(g, buf, BLAST_REPLY_LINE_MAX - 4),
	                        BLAST_REPLY_LINE_MAX - 4, &r);
	CHECK(ret == BLAST_REPLY_LINE_MAX - 4, "line at the limit: %zd", ret);
	CHECK(r.text_len == BLAST_REPLY_TEXT_MAX, "text kept: %u", r.text_len);
	free(buf);
}

static void test_queue_id(void)
{
	static const struct {
		const char *text;
		const char *id;
	} t[] = {
	    {"2.0.0 Ok: queued as 4XyZ12", "4XyZ12"},
	    {"Ok: Queued As ABC123 (size 100)", "ABC123"},
	    {"2.0.0 Ok: queued as 0a1b2c3d4e5f6a7b;", "0a1b2c3d4e5f6a7b"},
	    {"2.0.0 Ok", NULL},
	    {"queued as ", NULL},
	    {"queued a", NULL},
	};
	char id[32];
	unsigned i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int ret = blast_reply_queue_id(t[i].text, strlen(t[i].text), id, sizeof(id));

		if (t[i].id == NULL)
			CHECK(ret == -ENOENT, "'%s' has no queue id", t[i].text);
		else
			CHECK(ret == 0 && strcmp(id, t[i].id) == 0, "'%s' -> '%s'", t[i].text, id);
	}
	CHECK(blast_reply_queue_id("queued as 0123456789", 20, id, 5) == 0 &&
	          strcmp(id, "0123") == 0,
	      "truncated to the buffer");
}

int main(void)
{
	struct guard_buf g;
	struct blast_rng rng;
	unsigned i, k;
	int mode;

	if (guard_init(&g, 1 << 16) != 0) {
		perror("guard_init");
		return 1;
	}
	blast_rng_seed(&rng, 99);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (mode = 0; mode < 3; mode++)
			for (k = 0; k < (mode == 2 ? 20u : 1u); k++)
				run_case(&cases[i], &g, mode, &rng);
	test_long_line(&g);
	test_queue_id();
	guard_free(&g);
	return check_summary();
}
