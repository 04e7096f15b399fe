/* SPDX-License-Identifier: MIT */
/*
 * test_dscan.c - tests of the DATA scanner (parser/dscan.h), every variant this CPU runs.
 *
 *   1. table: terminator, dot-unstuffing, bare CR/LF, normalisation, line length, bytes after
 *      the terminator; each case fed whole, at every single split point, byte by byte, and with
 *      an output array of 2 spans;
 *   2. SMTP smuggling (CVE-2023-51764/51765/51766): no non-CRLF "." CRLF-ish sequence may end
 *      the message, in either mode, at any split point;
 *   3. differential: random messages through every variant with random splits, splits at
 *      16/32/64-byte boundaries and small output arrays, compared with the scalar reference;
 *   4. guard page: every length 0..300 ending at a PROT_NONE page, every variant.
 *
 * Spans are checked as they come: non-empty, inside the consumed part of the current piece or
 * one of the CR/LF constants. The seed is printed; SLUICE_SEED=<n> changes it.
 * Exit status 0 when all pass; the last line says "N passed, M failed".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser/dscan.h"
#include "tests/common/guard.h"

#define MAX_MSG  16384
#define MAX_CUTS 64
#define BIG_CAP  256

static unsigned n_pass, n_fail;
static const struct smtp_scan_impl *impls;
static unsigned n_impls;

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t rng_below(struct rng *r, size_t n)
{
	return n ? (size_t)(rng_next(r) % n) : 0;
}

/* One scan of a whole message: what came out, and how the scanner ended. */
struct result {
	char out[2 * MAX_MSG + 16];
	size_t len;
	size_t consumed;
	unsigned calls;
	size_t per_call[MAX_MSG + MAX_CUTS + 2]; /* consumed by each call */
	struct smtp_dscan st;
	const char *err; /* first contract violation seen, or NULL */
};

struct feed {
	int normalize;
	uint32_t max_line;
	const size_t *cuts; /* ascending split points in (0, n) */
	unsigned ncut;
	unsigned cap;
	struct guard_buf *guard; /* if set: each call's input is copied to end at a guard page */
};

/* A span outside the input memory [lo, hi) must be one of the CR/LF constants. */
static int is_const_span(const struct smtp_span *sp, const char *lo, const char *hi)
{
	if (sp->p >= lo && sp->p < hi)
		return 0;
	if (sp->n == 1)
		return sp->p[0] == '\r' || sp->p[0] == '\n';
	return sp->n == 2 && sp->p[0] == '\r' && sp->p[1] == '\n';
}

/* Check and collect the spans of one call that consumed c bytes at in. */
static void take_spans(struct result *res, const struct smtp_span *sp, unsigned k, unsigned cap,
                       const char *in, size_t c, const char *lo, const char *hi)
{
	unsigned j;

	if (k > cap && !res->err)
		res->err = "more spans than capacity";
	for (j = 0; j < k && j < cap; j++) {
		int inside =
		    sp[j].p >= in && sp[j].p < in + c && sp[j].n <= (size_t)(in + c - sp[j].p);

		if (sp[j].n == 0 && !res->err)
			res->err = "empty span";
		if (!inside && !is_const_span(&sp[j], lo, hi) && !res->err)
			res->err = "span outside the consumed input";
		if (sizeof(res->out) - res->len < sp[j].n) {
			res->err = "output too long";
			return;
		}
		memcpy(res->out + res->len, sp[j].p, sp[j].n);
		res->len += sp[j].n;
	}
}

/* Feed msg[0..n) to fn in the pieces f describes, as an embedder would. */
static void run_feed(smtp_dscan_fn fn, const char *msg, size_t n, const struct feed *f,
                     struct result *res)
{
	struct smtp_span sp[BIG_CAP];
	size_t off = 0;
	unsigned piece;

	memset(&res->st, 0, sizeof(res->st));
	res->st.normalize = (uint8_t)f->normalize;
	res->st.max_line = f->max_line;
	res->len = res->consumed = 0;
	res->calls = 0;
	res->err = NULL;
	for (piece = 0; piece <= f->ncut && !(res->st.flags & DSCAN_DONE); piece++) {
		size_t end = piece < f->ncut ? f->cuts[piece] : n;

		while (off < end) {
			unsigned k = 0;
			const char *in = msg + off, *lo = msg, *hi = msg + n;
			size_t c;

			if (f->guard) {
				in = guard_copy(f->guard, msg + off, end - off);
				lo = f->guard->map;
				hi = f->guard->map + f->guard->map_len;
			}
			c = fn(&res->st, in, end - off, sp, f->cap, &k);

			if (res->calls < sizeof(res->per_call) / sizeof(res->per_call[0]))
				res->per_call[res->calls++] = c;
			if (c > end - off) {
				res->err = "consumed more than given";
				return;
			}
			take_spans(res, sp, k, f->cap, in, c, lo, hi);
			off += c;
			if (res->st.flags & DSCAN_DONE)
				break;
			if (c == 0) {
				res->err = "no progress";
				return;
			}
		}
	}
	res->consumed = off;
	if (res->st.flags & DSCAN_DONE) {
		unsigned k = 1;

		if (fn(&res->st, msg + off, n - off, sp, f->cap, &k) != 0 || k != 0)
			res->err = "call after DONE did something";
	}
}

/* Details are printed for the first failures only, so that a broken variant fails fast. */
#define MAX_REPORTS 30

static void show(const char *what, const char *p, size_t n)
{
	size_t i;

	if (n_fail > MAX_REPORTS)
		return;
	fprintf(stderr, "  %s (%zu): \"", what, n);
	for (i = 0; i < n && i < 400; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r')
			fputs("\\r", stderr);
		else if (c == '\n')
			fputs("\\n", stderr);
		else if (c < 32 || c >= 127)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fprintf(stderr, "%s\"\n", i < n ? "..." : "");
}

static void check(int ok, const char *fmt, const char *name, const char *detail)
{
	if (ok) {
		n_pass++;
		return;
	}
	if (++n_fail > MAX_REPORTS)
		return;
	fprintf(stderr, "FAIL: ");
	fprintf(stderr, fmt, name, detail);
	fputc('\n', stderr);
}

/* Same output, flags, consumed count, line state? (per-call counts only when asked) */
static int same_result(const struct result *a, const struct result *b, int per_call)
{
	if (a->err || b->err || a->len != b->len || memcmp(a->out, b->out, a->len) != 0)
		return 0;
	if (a->consumed != b->consumed || a->st.flags != b->st.flags)
		return 0;
	if (a->st.state != b->st.state || a->st.line_len != b->st.line_len)
		return 0;
	if (per_call && (a->calls != b->calls ||
	                 memcmp(a->per_call, b->per_call, a->calls * sizeof(a->per_call[0])) != 0))
		return 0;
	return 1;
}

static void report_diff(const char *msg, size_t n, const struct feed *f, const struct result *a,
                        const struct result *b)
{
	unsigned i;

	if (n_fail > MAX_REPORTS)
		return;
	show("input", msg, n);
	fprintf(stderr, "  normalize %d max_line %u cap %u cuts:", f->normalize, f->max_line,
	        f->cap);
	for (i = 0; i < f->ncut; i++)
		fprintf(stderr, " %zu", f->cuts[i]);
	fputc('\n', stderr);
	show("reference out", a->out, a->len);
	show("variant out", b->out, b->len);
	fprintf(stderr, "  reference: consumed %zu flags %#x state %u line %u err %s\n",
	        a->consumed, a->st.flags, a->st.state, a->st.line_len, a->err ? a->err : "-");
	fprintf(stderr, "  variant:   consumed %zu flags %#x state %u line %u err %s\n",
	        b->consumed, b->st.flags, b->st.state, b->st.line_len, b->err ? b->err : "-");
}

/* Result slots: static because each is ~70 KB. */
static struct result res_ref, res_var;

/*
 * Run the scalar reference whole, then the scalar and every variant with feed f: all must give
 * the same output, flags, consumed count and line state. With a large output array each call
 * must also consume the same count as the scalar reference fed the same pieces.
 */
static int diff_all(const char *msg, size_t n, const struct feed *f, const char *label)
{
	static struct result res_split;
	struct feed whole = {f->normalize, f->max_line, NULL, 0, BIG_CAP};
	unsigned v;
	int ok = 1;

	run_feed(smtp_dscan_scalar, msg, n, &whole, &res_ref);
	run_feed(smtp_dscan_scalar, msg, n, f, &res_split);
	if (!same_result(&res_ref, &res_split, 0)) {
		check(0, "%s: %s split differs from whole", label, "scalar");
		report_diff(msg, n, f, &res_ref, &res_split);
		return 0;
	}
	for (v = 0; v < n_impls; v++) {
		run_feed(impls[v].dscan, msg, n, f, &res_var);
		if (!same_result(&res_split, &res_var, f->cap == BIG_CAP)) {
			check(0, "%s: variant %s differs", label, impls[v].name);
			report_diff(msg, n, f, &res_split, &res_var);
			ok = 0;
		} else {
			n_pass++;
		}
	}
	return ok;
}

/* ---- 1. table ---------------------------------------------------------------------------- */

#define S(lit) lit, sizeof(lit) - 1

struct tcase {
	const char *name;
	const char *in;
	size_t in_len;
	uint32_t max_line;
	const char *raw; /* expected output, normalize = 0 */
	size_t raw_len;
	const char *norm; /* expected output, normalize = 1 */
	size_t norm_len;
	unsigned flags;
	size_t consumed;
};

#define DONE DSCAN_DONE
#define BCR  DSCAN_BARE_CR
#define BLF  DSCAN_BARE_LF
#define LONG DSCAN_LONG_LINE
#define ALL  SIZE_MAX /* consumed: the whole input */

static const struct tcase cases[] = {
    {"empty message", S(".\r\n"), 0, S(""), S(""), DONE, ALL},
    {"terminator after a line", S("a\r\n.\r\n"), 0, S("a\r\n"), S("a\r\n"), DONE, ALL},
    {"CRLF then terminator", S("\r\n.\r\n"), 0, S("\r\n"), S("\r\n"), DONE, ALL},
    {"stuffed dot", S("..x\r\n.\r\n"), 0, S(".x\r\n"), S(".x\r\n"), DONE, ALL},
    {"stuffed dots later", S("a\r\n..b\r\n...\r\n.\r\n"), 0, S("a\r\n.b\r\n..\r\n"),
     S("a\r\n.b\r\n..\r\n"), DONE, ALL},
    {"dot-dot line", S("..\r\n.\r\n"), 0, S(".\r\n"), S(".\r\n"), DONE, ALL},
    {"dot inside a line", S("a.b\r\n.\r\n"), 0, S("a.b\r\n"), S("a.b\r\n"), DONE, ALL},
    {"empty lines", S("\r\n\r\n.\r\n"), 0, S("\r\n\r\n"), S("\r\n\r\n"), DONE, ALL},
    {"8-bit bytes", S("caf\xc3\xa9\r\n\xff.\r\n.\r\n"), 0, S("caf\xc3\xa9\r\n\xff.\r\n"),
     S("caf\xc3\xa9\r\n\xff.\r\n"), DONE, ALL},
    {"NUL before dot", S("a\r\n\0.\r\n.\r\n"), 0, S("a\r\n\0.\r\n"), S("a\r\n\0.\r\n"), DONE, ALL},
    {"dot after bare LF kept", S("a\n.b\r\n.\r\n"), 0, S("a\n.b\r\n"), S("a\r\n.b\r\n"), BLF | DONE,
     ALL},
    {"dot after bare CR kept", S("a\r.b\r\n.\r\n"), 0, S("a\r.b\r\n"), S("a\r\n.b\r\n"), BCR | DONE,
     ALL},
    {"bare CR", S("a\rb\r\n.\r\n"), 0, S("a\rb\r\n"), S("a\r\nb\r\n"), BCR | DONE, ALL},
    {"bare LF", S("a\nb\r\n.\r\n"), 0, S("a\nb\r\n"), S("a\r\nb\r\n"), BLF | DONE, ALL},
    {"CR CR LF", S("a\r\r\n.\r\n"), 0, S("a\r\r\n"), S("a\r\n\r\n"), BCR | DONE, ALL},
    {"LF dot LF", S("a\n.\n"), 0, S("a\n.\n"), S("a\r\n.\r\n"), BLF, ALL},
    {"CR dot CR", S("a\r.\rb"), 0, S("a\r.\rb"), S("a\r\n.\r\nb"), BCR, ALL},
    {"dot CRLF after bare LF", S("a\n.\r\nb\r\n.\r\n"), 0, S("a\n.\r\nb\r\n"), S("a\r\n.\r\nb\r\n"),
     BLF | DONE, ALL},
    {"dot CRLF after bare LF at start", S("\n.\r\n"), 0, S("\n.\r\n"), S("\r\n.\r\n"), BLF, ALL},
    {"dot CRLF after bare CR", S("a\r.\r\n"), 0, S("a\r.\r\n"), S("a\r\n.\r\n"), BCR, ALL},
    {"CRLF dot LF", S("a\r\n.\nb\r\n.\r\n"), 0, S("a\r\n\nb\r\n"), S("a\r\n\r\nb\r\n"), BLF | DONE,
     ALL},
    {"CRLF dot CR", S("a\r\n.\rb\r\n.\r\n"), 0, S("a\r\n\rb\r\n"), S("a\r\n\r\nb\r\n"), BCR | DONE,
     ALL},
    {"CRLF dot CR CR LF", S("a\r\n.\r\r\n.\r\n"), 0, S("a\r\n\r\r\n"), S("a\r\n\r\n\r\n"),
     BCR | DONE, ALL},
    {"normalize mix", S("a\nb\rc\r\n\n\r.\r\n.\r\n"), 0, S("a\nb\rc\r\n\n\r.\r\n"),
     S("a\r\nb\r\nc\r\n\r\n\r\n.\r\n"), BCR | BLF | DONE, ALL},
    {"bytes after terminator", S("a\r\n.\r\nMAIL FROM:<b@c>\r\n"), 0, S("a\r\n"), S("a\r\n"), DONE,
     6},
    {"flags after terminator ignored", S("a\r\n.\r\n\rx\nyyyyyy"), 2, S("a\r\n"), S("a\r\n"), DONE,
     6},
    {"stuffing dot at end of input", S("a\r\n."), 0, S("a\r\n"), S("a\r\n"), 0, ALL},
    {"CR at end of input held", S("a\r"), 0, S("a"), S("a"), 0, ALL},
    {"dot CR at end of input", S("a\r\n.\r"), 0, S("a\r\n"), S("a\r\n"), 0, ALL},
    {"no terminator", S("a\r\nb"), 0, S("a\r\nb"), S("a\r\nb"), 0, ALL},
    {"line of max_line", S("12345\r\n.\r\n"), 5, S("12345\r\n"), S("12345\r\n"), DONE, ALL},
    {"line of max_line + 1", S("123456\r\n.\r\n"), 5, S("123456\r\n"), S("123456\r\n"), LONG | DONE,
     ALL},
    {"stuffing dot counts: max", S("..234\r\n.\r\n"), 5, S(".234\r\n"), S(".234\r\n"), DONE, ALL},
    {"stuffing dot counts: max + 1", S("..2345\r\n.\r\n"), 5, S(".2345\r\n"), S(".2345\r\n"),
     LONG | DONE, ALL},
    {"bare CR counts: max", S("12\r45\r\n.\r\n"), 5, S("12\r45\r\n"), S("12\r\n45\r\n"), BCR | DONE,
     ALL},
    {"bare CR counts: max + 1", S("12\r456\r\n.\r\n"), 5, S("12\r456\r\n"), S("12\r\n456\r\n"),
     BCR | LONG | DONE, ALL},
    {"bare LF counts: max + 1", S("12\n456\r\n.\r\n"), 5, S("12\n456\r\n"), S("12\r\n456\r\n"),
     BLF | LONG | DONE, ALL},
    {"long line without end", S("123456"), 5, S("123456"), S("123456"), LONG, ALL},
    {"undecided CR not counted", S("12345\r"), 5, S("12345"), S("12345"), 0, ALL},
    {"bare CR counted once known", S("12345\rx"), 5, S("12345\rx"), S("12345\r\nx"), BCR | LONG,
     ALL},
    {"long line then short lines", S("1234567\r\nab\r\n.\r\n"), 5, S("1234567\r\nab\r\n"),
     S("1234567\r\nab\r\n"), LONG | DONE, ALL},
    {"short lines only", S("1234\r\n12345\r\n1\r\n.\r\n"), 5, S("1234\r\n12345\r\n1\r\n"),
     S("1234\r\n12345\r\n1\r\n"), DONE, ALL},
};

static size_t cuts_buf[MAX_MSG + 1];

/* Run one expectation with one feed on every variant. */
static void expect_feed(const char *name, const char *in, size_t in_len, int normalize,
                        uint32_t max_line, const char *want, size_t want_len, unsigned flags,
                        size_t consumed, const size_t *cuts, unsigned ncut, unsigned cap)
{
	struct feed f = {normalize, max_line, cuts, ncut, cap};
	unsigned v;

	for (v = 0; v < n_impls; v++) {
		int ok;

		run_feed(impls[v].dscan, in, in_len, &f, &res_var);
		ok = !res_var.err && res_var.len == want_len &&
		     memcmp(res_var.out, want, want_len) == 0 && res_var.st.flags == flags &&
		     res_var.consumed == consumed;
		if (ok) {
			n_pass++;
			continue;
		}
		if (++n_fail > MAX_REPORTS)
			continue;
		fprintf(stderr, "FAIL: %s [%s, normalize %d, cap %u, %u cuts%s%zu]\n", name,
		        impls[v].name, normalize, cap, ncut, ncut ? " first " : "",
		        ncut ? cuts[0] : (size_t)0);
		show("input", in, in_len);
		show("want", want, want_len);
		show("got", res_var.out, res_var.len);
		fprintf(stderr, "  flags want %#x got %#x, consumed want %zu got %zu, err %s\n",
		        flags, res_var.st.flags, consumed, res_var.consumed,
		        res_var.err ? res_var.err : "-");
	}
}

/*
 * Every variant, capacities large, 2 (and 3 if thorough): fed whole, byte by byte, and cut once
 * at every point (thorough and short) or at 64 (thorough) or 8 random points.
 */
static void expect_feeds(const char *name, const char *in, size_t in_len, int normalize,
                         uint32_t max_line, const char *want, size_t want_len, unsigned flags,
                         size_t consumed, struct rng *r, int thorough)
{
	static const unsigned caps[] = {BIG_CAP, 2, 3};
	unsigned c, k, ncuts = thorough ? 64 : 8;
	int every = thorough && in_len <= 300;

	for (c = 0; c < (thorough ? 3u : 2u); c++) {
#define EXPECT(cuts, ncut)                                                                         \
	expect_feed(name, in, in_len, normalize, max_line, want, want_len, flags, consumed, cuts,  \
	            ncut, caps[c])
		EXPECT(NULL, 0);
		for (k = 1; in_len > 1 && (every ? k < in_len : k <= ncuts); k++) {
			size_t cut = every ? k : 1 + rng_below(r, in_len - 1);

			EXPECT(&cut, 1);
		}
		for (k = 1; k < in_len && k <= MAX_MSG; k++)
			cuts_buf[k - 1] = k;
		if (in_len > 1 && in_len <= 2000)
			EXPECT(cuts_buf, (unsigned)(in_len - 1));
#undef EXPECT
	}
}

static void test_table(struct rng *r)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *t = &cases[i];

		size_t consumed = t->consumed == ALL ? t->in_len : t->consumed;

		expect_feeds(t->name, t->in, t->in_len, 0, t->max_line, t->raw, t->raw_len,
		             t->flags, consumed, r, 1);
		expect_feeds(t->name, t->in, t->in_len, 1, t->max_line, t->norm, t->norm_len,
		             t->flags, consumed, r, 1);
	}
}

/* Lines of max_line - 1, max_line, max_line + 1 octets at many alignments. */
static void test_line_limits(struct rng *r)
{
	static const uint32_t maxes[] = {1,  2,  29, 30, 31, 32, 33,  58, 59,
	                                 60, 61, 62, 63, 64, 65, 127, 998};
	static char in[MAX_MSG], want[MAX_MSG];
	size_t m, shift;
	int d;

	for (m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
		for (d = -1; d <= 1; d++) {
			for (shift = 0; shift < 70; shift++) {
				uint32_t max = maxes[m];
				size_t len = max + (size_t)(long)d, n = 0, k, wn;
				char name[80];

				/* prefix: short lines, then "shift" octets of a legal line */
				for (k = 0; k < shift; k++) {
					in[n++] = 'p';
					if ((k + 1) % max == 0) {
						in[n++] = '\r';
						in[n++] = '\n';
					}
				}
				if (n && in[n - 1] != '\n') {
					in[n++] = '\r';
					in[n++] = '\n';
				}
				memset(in + n, 'y', len);
				n += len;
				memcpy(in + n, "\r\nz\r\n", 5);
				n += 5;
				wn = n;
				memcpy(want, in, wn);
				memcpy(in + n, ".\r\n", 3);
				n += 3;
				snprintf(name, sizeof(name),
				         "line of %zu octets, max_line %u, shift %zu", len, max,
				         shift);
				expect_feeds(name, in, n, (int)(shift & 1), max, want, wn,
				             DONE | (len > max ? LONG : 0), n, r, 0);
			}
		}
	}
}

/* ---- 2. SMTP smuggling ------------------------------------------------------------------- */

/* Sequences that some receivers took as end of data; none is CRLF "." CRLF. */
static const struct {
	const char *p;
	size_t n;
} smuggle[] = {
    {S("\n.\n")},        {S("\n.\r\n")},     {S("\r\n.\n")},     {S("\r.\r\n")},
    {S("\r\n.\r")},      {S("\r.\n")},       {S("\r.\r")},       {S("\n.\r")},
    {S("\r\n\0.\r\n")},  {S("\r\n.\0\r\n")}, {S("\r\n.\r\r\n")}, {S("\n..\n")},
    {S("\r\n .\r\n")},   {S("\r\n.\n\r\n")}, {S("\r\r.\r\r")},   {S("\n\n.\n\n")},
    {S("\r\n.\r.\r\n")},
};

static const char smuggle_head[] = "From: a@example.org\r\nSubject: t\r\n\r\nhello";
static const char smuggle_tail[] = "MAIL FROM:<x@evil.example>\r\nRCPT TO:<y@victim.example>\r\n"
                                   "DATA\r\nsmuggled\r\n";
static const char smuggle_end[] = "\r\n.\r\nQUIT\r\n";

/* Build head + vector + tail + end; returns the length; *term = bytes up to the terminator. */
static size_t smuggle_msg(char *buf, size_t i, int at_start, size_t *term)
{
	size_t n = 0;

	if (!at_start) {
		memcpy(buf, smuggle_head, sizeof(smuggle_head) - 1);
		n = sizeof(smuggle_head) - 1;
	}
	memcpy(buf + n, smuggle[i].p, smuggle[i].n);
	n += smuggle[i].n;
	memcpy(buf + n, smuggle_tail, sizeof(smuggle_tail) - 1);
	n += sizeof(smuggle_tail) - 1;
	memcpy(buf + n, smuggle_end, sizeof(smuggle_end) - 1);
	*term = n + 5;
	return n + sizeof(smuggle_end) - 1;
}

static int contains(const char *h, size_t hn, const char *needle)
{
	size_t nn = strlen(needle), i;

	for (i = 0; i + nn <= hn; i++)
		if (memcmp(h + i, needle, nn) == 0)
			return 1;
	return 0;
}

static void smuggle_one(const char *name, const char *msg, size_t n, size_t term, int normalize,
                        const size_t *cuts, unsigned ncut, unsigned cap)
{
	struct feed f = {normalize, 0, cuts, ncut, cap};
	unsigned v;

	for (v = 0; v < n_impls; v++) {
		run_feed(impls[v].dscan, msg, n, &f, &res_var);
		if (!res_var.err && (res_var.st.flags & DSCAN_DONE) && res_var.consumed == term &&
		    contains(res_var.out, res_var.len, "MAIL FROM:<x@evil.example>") &&
		    contains(res_var.out, res_var.len, "smuggled\r\n")) {
			n_pass++;
			continue;
		}
		if (++n_fail > MAX_REPORTS)
			continue;
		fprintf(stderr, "FAIL: smuggling %s [%s, normalize %d, cap %u, cut %zu]\n", name,
		        impls[v].name, normalize, cap, ncut ? cuts[0] : (size_t)0);
		show("input", msg, n);
		show("got", res_var.out, res_var.len);
		fprintf(stderr, "  consumed %zu (terminator ends at %zu), flags %#x, err %s\n",
		        res_var.consumed, term, res_var.st.flags, res_var.err ? res_var.err : "-");
	}
}

static void test_smuggling(void)
{
	static char msg[512];
	size_t i, term, n, k;
	int at_start, normalize;
	unsigned cap;

	for (i = 0; i < sizeof(smuggle) / sizeof(smuggle[0]); i++) {
		for (at_start = 0; at_start <= 1; at_start++) {
			char name[64];

			snprintf(name, sizeof(name), "vector %zu%s", i,
			         at_start ? " at start" : "");
			n = smuggle_msg(msg, i, at_start, &term);
			for (normalize = 0; normalize <= 1; normalize++) {
				for (cap = 2; cap <= BIG_CAP;
				     cap = cap == 2 ? BIG_CAP : BIG_CAP + 1) {
					struct feed f = {normalize, 0, NULL, 0, cap};

					smuggle_one(name, msg, n, term, normalize, NULL, 0, cap);
					for (k = 1; k < n; k++)
						smuggle_one(name, msg, n, term, normalize, &k, 1,
						            cap);
					diff_all(msg, n, &f, name);
				}
			}
		}
	}
}

/* ---- 3. differential on random messages -------------------------------------------------- */

static const char *const words[] = {
    "the",        "message",     "of", "Received:", "from",
    "mail",       "example.org", "by", "with",      "ESMTP",
    "id",         "for",         "a",  "Subject:",  "=?utf-8?q?caf=C3=A9?=",
    "--boundary", "quoted"};

static size_t put(char *buf, size_t n, size_t max, const char *p, size_t len)
{
	if (max - n < len)
		len = max - n;
	memcpy(buf + n, p, len);
	return n + len;
}

/* A text line of up to 78 columns, CRLF included; returns its length. */
static size_t gen_text(struct rng *r, char *line)
{
	size_t k = 0, j, len = rng_below(r, 79);

	while (k < len) {
		const char *w = words[rng_below(r, sizeof(words) / sizeof(words[0]))];

		j = strlen(w);
		if (k + j + 1 > len)
			break;
		memcpy(line + k, w, j);
		k += j;
		line[k++] = ' ';
	}
	line[k++] = '\r';
	line[k++] = '\n';
	return k;
}

/* One piece of a random message; dense selects noisy bytes over realistic text. */
static size_t gen_piece(struct rng *r, char *buf, size_t n, size_t max, int dense)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char noise[] = "\r\n.\r\n.\0\xff\x80 a.\r\r\n\n";
	char line[1300];
	size_t k = 0, len, j;

	switch (rng_below(r, dense ? 4 : 9)) {
	case 0: /* noisy bytes */
		len = 1 + rng_below(r, 40);
		for (j = 0; j < len; j++)
			line[k++] = rng_below(r, 3) ? noise[rng_below(r, sizeof(noise) - 1)]
			                            : (char)rng_next(r);
		break;
	case 1: /* smuggling vector */
		j = rng_below(r, sizeof(smuggle) / sizeof(smuggle[0]));
		memcpy(line, smuggle[j].p, smuggle[j].n);
		k = smuggle[j].n;
		break;
	case 2: /* dot lines */
		line[k++] = '.';
		if (rng_below(r, 2))
			line[k++] = '.';
		len = rng_below(r, 20);
		for (j = 0; j < len; j++)
			line[k++] = (char)('a' + rng_below(r, 26));
		line[k++] = '\r';
		line[k++] = '\n';
		break;
	case 3: /* a run of CRLFs */
		len = 1 + rng_below(r, 4);
		for (j = 0; j < len; j++) {
			line[k++] = '\r';
			line[k++] = '\n';
		}
		break;
	case 4: /* base64 line */
		for (j = 0; j < 76; j++)
			line[k++] = b64[rng_below(r, 64)];
		line[k++] = '\r';
		line[k++] = '\n';
		break;
	case 5: /* long line */
		len = 60 + rng_below(r, 1200);
		memset(line, 'L', len);
		k = len;
		break;
	default:
		k = gen_text(r, line);
		break;
	}
	return put(buf, n, max, line, k);
}

static size_t gen_msg(struct rng *r, char *buf, size_t max)
{
	size_t target = rng_below(r, 4) ? rng_below(r, 600) : rng_below(r, max);
	int dense = rng_below(r, 3) == 0;
	size_t n = 0;

	while (n < target) {
		n = gen_piece(r, buf, n, target, dense);
		if (rng_below(r, 40) == 0)
			n = put(buf, n, target, "\r\n.\r\n", 5); /* a real terminator */
	}
	return n;
}

/* Split points: random ones, or around multiples of 16, 32 or 64 bytes. */
static unsigned gen_cuts(struct rng *r, size_t n, size_t *cuts)
{
	unsigned k = 0;
	size_t at;

	if (n < 2)
		return 0;
	switch (rng_below(r, 4)) {
	case 0:
		return 0;
	case 1: {
		size_t step = (size_t)16 << rng_below(r, 3);
		size_t adj = rng_below(r, 3);

		for (at = step; at + adj - 1 < n - 1 && k < MAX_CUTS; at += step)
			cuts[k++] = at + adj - 1; /* step - 1, step, step + 1 */
		return k;
	}
	default: {
		unsigned want = 1 + (unsigned)rng_below(r, 12);

		at = 0;
		while (k < want && at < n - 1) {
			at += 1 + rng_below(r, (n - at) / 2 + 1);
			if (at >= n)
				break;
			cuts[k++] = at;
		}
		return k;
	}
	}
}

static void test_random(struct rng *r, unsigned iters)
{
	static char msg[MAX_MSG];
	static const uint32_t maxes[] = {0, 0, 1, 5, 30, 62, 63, 64, 76, 78, 200, 998};
	size_t cuts[MAX_CUTS];
	unsigned it;

	for (it = 0; it < iters; it++) {
		size_t n = gen_msg(r, msg, sizeof(msg));
		struct feed f = {0, 0, NULL, 0, BIG_CAP, NULL};
		char label[48];

		f.normalize = (int)rng_below(r, 2);
		f.max_line = rng_below(r, 4) ? maxes[rng_below(r, sizeof(maxes) / sizeof(maxes[0]))]
		                             : (uint32_t)rng_below(r, 100);
		f.cuts = cuts;
		f.ncut = gen_cuts(r, n, cuts);
		f.cap = rng_below(r, 3) == 0 ? 2 + (unsigned)rng_below(r, 4) : BIG_CAP;
		snprintf(label, sizeof(label), "random message %u", it);
		if (!diff_all(msg, n, &f, label) && n_fail > MAX_REPORTS)
			return;
	}
}

/* ---- 4. guard page ----------------------------------------------------------------------- */

static void test_guard(struct rng *r)
{
	static char msg[400];
	struct guard_buf g;
	size_t len, i, cuts[MAX_CUTS];
	unsigned v;

	if (guard_init(&g, 512) != 0) {
		perror("guard_init");
		n_fail++;
		return;
	}
	for (len = 0; len <= 300; len++) {
		for (i = 0; i < len; i++) {
			static const char alpha[] = "ab.\r\n\r\n..\0";

			msg[i] = alpha[rng_below(r, sizeof(alpha) - 1)];
		}
		if (len >= 3 && rng_below(r, 2))
			memcpy(msg + len - 3, ".\r\n", 3);
		for (v = 0; v < n_impls; v++) {
			const char *at = guard_copy(&g, msg, len);
			struct feed f = {(int)(len & 1), 5, NULL, 0, BIG_CAP};

			run_feed(smtp_dscan_scalar, msg, len, &f, &res_ref);
			run_feed(impls[v].dscan, at, len, &f, &res_var);
			check(same_result(&res_ref, &res_var, 1), "guard page: %s, length %s",
			      impls[v].name, "");
			f.cap = 2;
			run_feed(impls[v].dscan, at, len, &f, &res_var);
			check(res_var.len == res_ref.len &&
			          memcmp(res_var.out, res_ref.out, res_ref.len) == 0,
			      "guard page, cap 2: %s%s", impls[v].name, "");
			/* every call's input ends at the guard page: pieces cut around 16/32/64 */
			f.cap = BIG_CAP;
			f.ncut = gen_cuts(r, len, cuts);
			f.cuts = cuts;
			f.guard = &g;
			run_feed(impls[v].dscan, msg, len, &f, &res_var);
			check(same_result(&res_ref, &res_var, 0), "guard page, every piece: %s%s",
			      impls[v].name, "");
		}
	}
	guard_free(&g);
}

/* smtp_dscan() before smtp_scan_select() must select by itself and work. */
static void test_dispatch(void)
{
	struct smtp_dscan st = {0};
	struct smtp_span sp[4];
	unsigned k = 0;
	size_t c = smtp_dscan(&st, "..a\r\n.\r\nX", 9, sp, 4, &k);

	check(c == 8 && (st.flags & DSCAN_DONE) && k == 1 && sp[0].n == 4 &&
	          memcmp(sp[0].p, ".a\r\n", 4) == 0,
	      "%s%s", "smtp_dscan before smtp_scan_select", "");
	check(smtp_scan_select() == smtp_scan_select(), "%s%s", "smtp_scan_select idempotent", "");
}

int main(void)
{
	const char *env = getenv("SLUICE_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 20240101;
	struct rng r = {seed};
	unsigned v;

	printf("seed %" PRIu64 " (set SLUICE_SEED to change)\n", seed);
	test_dispatch();
	impls = smtp_scan_impls(&n_impls);
	printf("variants:");
	for (v = 0; v < n_impls; v++)
		printf(" %s", impls[v].name);
	printf("\n");
	test_table(&r);
	test_line_limits(&r);
	test_smuggling();
	test_random(&r, 60000);
	test_guard(&r);
	printf("%u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
