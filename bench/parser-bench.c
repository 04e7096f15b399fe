/* SPDX-License-Identifier: MIT */
/*
 * parser-bench.c - throughput of the DATA scanner variants, the line-end finder and the whole
 * SMTP session engine, on realistic mail, against memcpy measured in the same run.
 *
 *   parser-bench [--json] [--quick]
 *
 * Messages (dot-stuffed, as on the wire, ending with CRLF "." CRLF) of about 1 KB, 10 KB and
 * 1 MB: header block, 78-column text with about one line in 40 starting with a (stuffed) dot,
 * and from 10 KB on a base64 attachment in 76-column lines. For each size it reports GB/s of:
 * memcpy of the same buffer (the baseline), the scalar scanner and each SIMD variant this CPU
 * runs, with ratios to memcpy and to scalar. The line-end finder is timed on pipelined command
 * lines. The session part feeds EHLO once, then MAIL/RCPT/DATA/1 KB body/"." repeatedly
 * through smtp_input(), resolving each SMTP_EV_END with code 0 and a queue id, and reports
 * commands/s and messages/s. Each figure is the best of several rounds timed on the thread's
 * CPU clock (the machine may be shared); buffers are hot in cache, as right after a receive.
 *
 * --json prints one JSON object with the same figures instead of the table. Exit status is
 * non-zero if a variant's output differs from the scalar reference (a sanity check, not a
 * test). Allocates its buffers at start; single-threaded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parser/dscan.h"
#include "parser/smtp.h"

#define MAX_IMPLS 8
#define N_SIZES   3
#define ROUNDS    7

static double round_ns = 30e6; /* one timed round; --quick lowers it */

static uint64_t bench_rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- realistic messages ------------------------------------------------------------------ */

struct mbuf {
	char *p;
	size_t n, cap;
	unsigned lines, dot_lines;
};

static void mb_put(struct mbuf *m, const char *s, size_t n)
{
	if (m->cap - m->n < n) {
		fprintf(stderr, "parser-bench: message buffer too small\n");
		exit(2);
	}
	memcpy(m->p + m->n, s, n);
	m->n += n;
}

static void mb_line(struct mbuf *m, const char *s, size_t n)
{
	mb_put(m, s, n);
	mb_put(m, "\r\n", 2);
	m->lines++;
}

static const char *const bench_words[] = {
    "the",     "of",       "and",     "to",       "in",      "is",     "that",      "for",
    "it",      "as",       "was",     "with",     "be",      "by",     "on",        "not",
    "he",      "this",     "are",     "or",       "his",     "from",   "at",        "which",
    "but",     "have",     "an",      "had",      "they",    "you",    "were",      "their",
    "one",     "all",      "we",      "can",      "her",     "has",    "there",     "been",
    "if",      "more",     "when",    "will",     "would",   "who",    "so",        "no",
    "meeting", "schedule", "invoice", "attached", "regards", "please", "quarterly", "report",
    "delivery"};

static void gen_headers(struct mbuf *m, uint64_t *seed)
{
	char line[160];
	int n;

	n = snprintf(line, sizeof(line),
	             "Received: from mail-%u.example.org (mail-%u.example.org [192.0.2.%u])",
	             (unsigned)(bench_rng(seed) % 100), (unsigned)(bench_rng(seed) % 100),
	             (unsigned)(bench_rng(seed) % 250));
	mb_line(m, line, (size_t)n);
	mb_line(m, "\tby mx.example.net (Sluice) with ESMTPS id 4Q2x7c3VzRz9sT", 58);
	mb_line(m, "\tfor <alice@example.net>; Tue, 14 May 2024 09:12:44 +0000", 57);
	mb_line(m, "From: Bob Sender <bob@example.org>", 34);
	mb_line(m, "To: Alice Receiver <alice@example.net>", 38);
	mb_line(m, "Subject: Re: quarterly report and the delivery schedule", 55);
	mb_line(m, "Date: Tue, 14 May 2024 11:12:40 +0200", 37);
	n = snprintf(line, sizeof(line), "Message-ID: <%016llx@mail.example.org>",
	             (unsigned long long)bench_rng(seed));
	mb_line(m, line, (size_t)n);
	mb_line(m, "MIME-Version: 1.0", 17);
	mb_line(m, "Content-Type: multipart/mixed; boundary=\"b1_7f3a9c\"", 51);
	mb_line(m, "", 0);
	mb_line(m, "--b1_7f3a9c", 11);
	mb_line(m, "Content-Type: text/plain; charset=utf-8", 39);
	mb_line(m, "", 0);
}

/* One text line of up to 78 columns; about one in 40 starts with a dot (stuffed to ".."). */
static void gen_text_line(struct mbuf *m, uint64_t *seed)
{
	char line[100];
	size_t n = 0, want = 40 + bench_rng(seed) % 39;

	if (bench_rng(seed) % 40 == 0) {
		memcpy(line, "..", 2);
		n = 2;
		m->dot_lines++;
	}
	while (n < want) {
		const char *w =
		    bench_words[bench_rng(seed) % (sizeof(bench_words) / sizeof(char *))];
		size_t k = strlen(w);

		if (n + k + 1 > 78)
			break;
		if (n > 2)
			line[n++] = ' ';
		memcpy(line + n, w, k);
		n += k;
	}
	line[n++] = bench_rng(seed) % 4 ? ',' : '.';
	mb_line(m, line, n);
}

static void gen_base64(struct mbuf *m, uint64_t *seed, size_t bytes)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char line[76];
	size_t i, done;

	mb_line(m, "--b1_7f3a9c", 11);
	mb_line(m, "Content-Type: application/pdf; name=\"report.pdf\"", 48);
	mb_line(m, "Content-Transfer-Encoding: base64", 33);
	mb_line(m, "", 0);
	for (done = 0; done < bytes; done += 78) {
		for (i = 0; i < sizeof(line); i++)
			line[i] = b64[bench_rng(seed) % 64];
		mb_line(m, line, sizeof(line));
	}
}

/* A message of about size octets on the wire, ending with the terminator. */
static void build_message(struct mbuf *m, size_t size, uint64_t *seed)
{
	size_t text = size < 8192 ? size : size / 5;

	m->n = m->lines = m->dot_lines = 0;
	gen_headers(m, seed);
	mb_line(m, "..and so the quoted line begins with a dot,", 43); /* every size has one */
	m->dot_lines++;
	while (m->n + 80 < text)
		gen_text_line(m, seed);
	if (size >= 8192)
		gen_base64(m, seed, size - m->n - 200);
	mb_line(m, "--b1_7f3a9c--", 13);
	while (m->n + 3 + 80 < size)
		gen_text_line(m, seed);
	mb_put(m, ".\r\n", 3);
}

/* ---- timing ------------------------------------------------------------------------------ */

static volatile size_t bench_sink;

/* Scan one message to its terminator; returns the octets of output (checked against scalar). */
static size_t scan_message(smtp_dscan_fn fn, const char *p, size_t n, int *done)
{
	struct smtp_dscan st = {0};
	struct smtp_span sp[64];
	size_t off = 0, out = 0;
	unsigned k, j;

	st.max_line = 998;
	while (off < n && !(st.flags & DSCAN_DONE)) {
		size_t c = fn(&st, p + off, n - off, sp, 64, &k);

		for (j = 0; j < k; j++)
			out += sp[j].n;
		off += c;
	}
	*done = (st.flags & DSCAN_DONE) && off == n;
	return out;
}

enum bench_kind { BK_MEMCPY, BK_DSCAN, BK_FIND_LF };

struct bench_job {
	enum bench_kind kind;
	const char *p;
	size_t n;
	char *dst; /* BK_MEMCPY */
	smtp_dscan_fn dscan;
	smtp_find_lf_fn find_lf;
};

static void job_once(const struct bench_job *j)
{
	size_t off, acc = 0;
	int done;

	switch (j->kind) {
	case BK_MEMCPY:
		memcpy(j->dst, j->p, j->n);
		__asm__ volatile("" : : "r"(j->dst) : "memory");
		break;
	case BK_DSCAN:
		bench_sink = scan_message(j->dscan, j->p, j->n, &done);
		break;
	case BK_FIND_LF:
		for (off = 0; off < j->n; off++) {
			off += j->find_lf(j->p + off, j->n - off);
			acc++;
		}
		bench_sink = acc;
		break;
	}
}

/* Best throughput in bytes per ns over ROUNDS rounds of about round_ns each. */
static double job_rate(const struct bench_job *j)
{
	double t0, t, best = 0;
	unsigned long iters = 1, i;
	int r;

	for (;;) { /* calibrate */
		t0 = now_ns();
		for (i = 0; i < iters; i++)
			job_once(j);
		t = now_ns() - t0;
		if (t >= round_ns / 4)
			break;
		iters *= 2;
	}
	iters = (unsigned long)((double)iters * round_ns / t) + 1;
	for (r = 0; r < ROUNDS; r++) {
		double rate;

		t0 = now_ns();
		for (i = 0; i < iters; i++)
			job_once(j);
		t = now_ns() - t0;
		rate = (double)j->n * (double)iters / t;
		if (rate > best)
			best = rate;
	}
	return best;
}

/* ---- the scanner figures ----------------------------------------------------------------- */

struct size_result {
	size_t bytes;
	unsigned lines, dot_lines;
	double memcpy_gbps;
	double gbps[MAX_IMPLS];
};

static const struct smtp_scan_impl *impls;
static unsigned n_impls;

static int bench_sizes(struct size_result *res, uint64_t *seed)
{
	static const size_t sizes[N_SIZES] = {1024, 10 * 1024, 1024 * 1024};
	struct mbuf m = {NULL, 0, 2 * 1024 * 1024, 0, 0};
	char *dst = malloc(m.cap);
	unsigned s, v;
	int bad = 0;

	m.p = malloc(m.cap);
	if (m.p == NULL || dst == NULL)
		return -1;
	for (s = 0; s < N_SIZES; s++) {
		struct bench_job j = {BK_MEMCPY, NULL, 0, dst, NULL, NULL};
		size_t want;
		int done;

		build_message(&m, sizes[s], seed);
		res[s].bytes = m.n;
		res[s].lines = m.lines;
		res[s].dot_lines = m.dot_lines;
		j.p = m.p;
		j.n = m.n;
		res[s].memcpy_gbps = job_rate(&j);
		want = scan_message(smtp_dscan_scalar, m.p, m.n, &done);
		for (v = 0; v < n_impls && v < MAX_IMPLS; v++) {
			int ok;

			if (scan_message(impls[v].dscan, m.p, m.n, &ok) != want || !ok || !done) {
				fprintf(stderr, "parser-bench: %s output differs\n", impls[v].name);
				bad = 1;
			}
			j.kind = BK_DSCAN;
			j.dscan = impls[v].dscan;
			res[s].gbps[v] = job_rate(&j);
		}
	}
	free(m.p);
	free(dst);
	return bad;
}

/* Pipelined command lines, as a client sends them; find_lf walks them line by line. */
static size_t build_commands(char *p, size_t cap)
{
	static const char *const cmds[] = {
	    "MAIL FROM:<bob.sender@mail.example.org> SIZE=10240 BODY=8BITMIME\r\n",
	    "RCPT TO:<alice.receiver@example.net>\r\n",
	    "RCPT TO:<carol@example.net>\r\n",
	    "DATA\r\n",
	    "RSET\r\n",
	    "NOOP\r\n"};
	size_t n = 0, k = 0, len;

	for (;;) {
		len = strlen(cmds[k % 6]);
		if (cap - n < len)
			return n;
		memcpy(p + n, cmds[k % 6], len);
		n += len;
		k++;
	}
}

static void bench_find_lf(double *gbps, size_t *bytes)
{
	static char buf[4096];
	struct bench_job j = {BK_FIND_LF, buf, 0, NULL, NULL, NULL};
	unsigned v;

	j.n = build_commands(buf, sizeof(buf));
	*bytes = j.n;
	for (v = 0; v < n_impls && v < MAX_IMPLS; v++) {
		j.find_lf = impls[v].find_lf;
		gbps[v] = job_rate(&j);
	}
}

/* ---- the whole session ------------------------------------------------------------------- */

struct session_result {
	unsigned tx;       /* transactions per run */
	size_t msg_bytes;  /* octets of each message, terminator included */
	size_t bytes;      /* input octets per run */
	double cmds_per_s; /* EHLO, MAIL, RCPT, DATA */
	double msgs_per_s;
	double gbps;
};

static char sess_reply[65536];
static struct smtp_event sess_ev[64];

/*
 * One connection over the whole input, as an embedder with a large receive buffer would run
 * it: every SMTP_EV_END is accepted with a queue id; replies are "sent" (dropped) after each
 * call. Returns the messages accepted, or -1 if the session stalled or refused something.
 */
static long session_run(const struct smtp_config *cfg, const char *in, size_t n)
{
	static const struct smtp_verdict accept = {0, NULL, NULL, "4Q2x7c3VzRz9sT"};
	struct smtp_session s;
	struct smtp_io io = {sess_reply, sizeof(sess_reply), 0, sess_ev, 64, 0, 0};
	size_t off = 0;
	long ends = 0;
	unsigned e;

	memset(&s, 0, sizeof(s));
	smtp_session_start(&s, cfg, &io);
	while (off < n) {
		size_t c = smtp_input(&s, cfg, in + off, n - off, &io);
		unsigned nev = io.nev;

		off += c;
		for (e = 0; e < nev; e++) {
			if (sess_ev[e].type == SMTP_EV_END)
				ends++;
			else if (sess_ev[e].type >= SMTP_EV_ABORT)
				return -1;
		}
		io.nev = 0;
		io.reply_len = 0;
		io.flush = 0;
		if (smtp_state_of(&s) == SMTP_WAIT) {
			if (smtp_resolve(&s, cfg, &accept, &io) != 0)
				return -1;
			continue;
		}
		if (smtp_state_of(&s) == SMTP_CLOSED || (c == 0 && nev == 0))
			return -1;
	}
	return ends;
}

static int bench_session(struct session_result *res, uint64_t *seed)
{
	static const char ehlo[] = "EHLO client.example.org\r\n";
	static const char cmds[] = "MAIL FROM:<bob@example.org>\r\nRCPT TO:<alice@example.net>\r\n"
	                           "DATA\r\n";
	struct mbuf msg = {NULL, 0, 4096, 0, 0};
	struct smtp_config cfg;
	size_t cap, n = 0;
	double best = 0;
	char *in;
	unsigned i, runs = 1;
	int r;

	smtp_config_defaults(&cfg);
	res->tx = 2000;
	msg.p = malloc(msg.cap);
	build_message(&msg, 1024, seed);
	cap = sizeof(ehlo) + (size_t)res->tx * (sizeof(cmds) + msg.n);
	in = malloc(cap);
	if (msg.p == NULL || in == NULL)
		return -1;
	memcpy(in, ehlo, sizeof(ehlo) - 1);
	n = sizeof(ehlo) - 1;
	for (i = 0; i < res->tx; i++) {
		memcpy(in + n, cmds, sizeof(cmds) - 1);
		n += sizeof(cmds) - 1;
		memcpy(in + n, msg.p, msg.n);
		n += msg.n;
	}
	res->bytes = n;
	res->msg_bytes = msg.n;
	if (session_run(&cfg, in, n) != (long)res->tx) {
		fprintf(stderr, "parser-bench: the session did not accept every message\n");
		free(in);
		free(msg.p);
		return 1;
	}
	for (double t0 = now_ns(); now_ns() - t0 < round_ns / 4; runs *= 2)
		for (i = 0; i < runs; i++)
			session_run(&cfg, in, n);
	for (r = 0; r < ROUNDS; r++) {
		double t0 = now_ns(), t;

		for (i = 0; i < runs; i++)
			session_run(&cfg, in, n);
		t = now_ns() - t0;
		if ((double)runs / t > best)
			best = (double)runs / t; /* runs per ns */
	}
	res->msgs_per_s = best * 1e9 * res->tx;
	res->cmds_per_s = best * 1e9 * (1 + 3.0 * res->tx);
	res->gbps = best * (double)n;
	free(in);
	free(msg.p);
	return 0;
}

/* ---- output ------------------------------------------------------------------------------ */

static void print_table(const struct size_result *sz, const double *lf_gbps, size_t lf_bytes,
                        const struct session_result *ss, int have_session)
{
	unsigned s, v;

	printf("parser-bench: best of %d rounds; variants:", ROUNDS);
	for (v = 0; v < n_impls; v++)
		printf(" %s", impls[v].name);
	printf(" (selected: %s)\n\nDATA scanner (GB/s of wire octets)\n", smtp_scan_select()->name);
	for (s = 0; s < N_SIZES; s++) {
		printf("  message %zu octets, %u lines, %u dot-stuffed\n", sz[s].bytes, sz[s].lines,
		       sz[s].dot_lines);
		printf("    %-8s %7.2f GB/s\n", "memcpy", sz[s].memcpy_gbps);
		for (v = 0; v < n_impls; v++)
			printf("    %-8s %7.2f GB/s  %5.2fx memcpy  %5.2fx scalar\n", impls[v].name,
			       sz[s].gbps[v], sz[s].gbps[v] / sz[s].memcpy_gbps,
			       sz[s].gbps[v] / sz[s].gbps[0]);
	}
	printf("\nline-end finder on %zu octets of pipelined commands\n", lf_bytes);
	for (v = 0; v < n_impls; v++)
		printf("    %-8s %7.2f GB/s  %5.2fx scalar\n", impls[v].name, lf_gbps[v],
		       lf_gbps[v] / lf_gbps[0]);
	if (!have_session)
		return;
	printf("\nsession: EHLO, then %u x (MAIL, RCPT, DATA, %zu-octet message), pipelined\n",
	       ss->tx, ss->msg_bytes);
	printf("    %.0f commands/s, %.0f messages/s, %.2f GB/s of input\n", ss->cmds_per_s,
	       ss->msgs_per_s, ss->gbps);
}

static void print_json(const struct size_result *sz, const double *lf_gbps, size_t lf_bytes,
                       const struct session_result *ss, int have_session)
{
	unsigned s, v;

	printf("{\"rounds\":%d,\"selected\":\"%s\",\"scanner\":[", ROUNDS,
	       smtp_scan_select()->name);
	for (s = 0; s < N_SIZES; s++) {
		printf("%s{\"bytes\":%zu,\"lines\":%u,\"dot_lines\":%u,\"memcpy_gbps\":%.3f,"
		       "\"variants\":{",
		       s ? "," : "", sz[s].bytes, sz[s].lines, sz[s].dot_lines, sz[s].memcpy_gbps);
		for (v = 0; v < n_impls; v++)
			printf("%s\"%s\":{\"gbps\":%.3f,\"vs_memcpy\":%.3f,\"vs_scalar\":%.3f}",
			       v ? "," : "", impls[v].name, sz[s].gbps[v],
			       sz[s].gbps[v] / sz[s].memcpy_gbps, sz[s].gbps[v] / sz[s].gbps[0]);
		printf("}}");
	}
	printf("],\"find_lf\":{\"bytes\":%zu,\"variants\":{", lf_bytes);
	for (v = 0; v < n_impls; v++)
		printf("%s\"%s\":{\"gbps\":%.3f,\"vs_scalar\":%.3f}", v ? "," : "", impls[v].name,
		       lf_gbps[v], lf_gbps[v] / lf_gbps[0]);
	printf("}}");
	if (have_session)
		printf(",\"session\":{\"transactions\":%u,\"bytes\":%zu,\"commands_per_s\":%.0f,"
		       "\"messages_per_s\":%.0f,\"gbps\":%.3f}",
		       ss->tx, ss->bytes, ss->cmds_per_s, ss->msgs_per_s, ss->gbps);
	printf("}\n");
}

int main(int argc, char **argv)
{
	struct size_result sz[N_SIZES];
	struct session_result ss;
	double lf_gbps[MAX_IMPLS];
	size_t lf_bytes;
	uint64_t seed = 42;
	int json = 0, i, bad, have_session;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--quick") == 0) {
			round_ns = 3e6;
		} else {
			fprintf(stderr, "usage: parser-bench [--json] [--quick]\n");
			return 2;
		}
	}
	memset(sz, 0, sizeof(sz));
	memset(&ss, 0, sizeof(ss));
	impls = smtp_scan_impls(&n_impls);
	if (n_impls > MAX_IMPLS)
		n_impls = MAX_IMPLS;
	bad = bench_sizes(sz, &seed);
	bench_find_lf(lf_gbps, &lf_bytes);
	have_session = bench_session(&ss, &seed) == 0;
	if (!have_session)
		bad = 1;
	if (json)
		print_json(sz, lf_gbps, lf_bytes, &ss, have_session);
	else
		print_table(sz, lf_gbps, lf_bytes, &ss, have_session);
	return bad ? 1 : 0;
}
