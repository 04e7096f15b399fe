/* SPDX-License-Identifier: MIT */
/*
 * policy-bench.c - body scanning throughput of the policy engine on one core, against
 * memcpy() of the same bytes measured in the same run.
 *
 * A corpus of mail-like messages (a header section, then lines of words, URLs and a little
 * base64; one word in 256 is a word the rules are built from, a near miss) is fed through
 * pol_tx_begin / pol_tx_data / pol_tx_end / pol_tx_release in 16 KiB spans, as a receive
 * path would hand them over. Body rules (all "tag", so nothing stops a scan early) come in
 * six sets: 10, 1,000 and 10,000 literals; 10, 1,000 and 10,000 regexes (word classes,
 * bounded repeats, alternations, caseless, each around a distinctive word, as real rules
 * are). For each set it prints the load time (compile, or the on-disk cache on later runs),
 * the database and per-transaction stream sizes, the GB/s of message bytes through the
 * engine, the GB/s of memcpy() of the same spans (measured right before, best of the same
 * number of passes), and the ratio engine/memcpy. --json prints one object instead.
 *
 *	policy-bench [--mb N] [--passes P] [--cache DIR | --no-cache] [--weak] [--json]
 *
 * --weak adds 10 and 1,000 regexes of the same shapes built from the text's own vocabulary:
 * every word of the text starts a candidate, the worst case for Hyperscan's prefilters
 * (still linear, but much slower).
 *
 * The 10,000-regex set takes tens of seconds to compile the first time; the cache (default
 * $TMPDIR/sluice-policy-bench-cache) makes later runs start at once. Figures on a shared
 * virtual machine vary: compare the ratios of one run.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/policy.h"

#define SPAN    (16u << 10)
#define MSG_MIN (4u << 10)
#define MSG_MAX (96u << 10)
#define NWORDS  4096 /* the text's vocabulary */
#define NRWORDS 4096 /* the rules' vocabulary: in the text now and then */
#define NSETS   9

struct opts {
	size_t mb;
	unsigned passes;
	const char *cache;
	int json;
	int weak;
};

struct corpus {
	char *buf;
	size_t len;
	size_t *msg_end; /* message boundaries */
	size_t nmsg;
	char word[NWORDS][12];
	char rword[NRWORDS][12];
};

struct result {
	unsigned nrules;
	const char *kind;
	double load_ms;
	const char *cache;
	size_t db_bytes, stream_bytes;
	double gbps, memcpy_gbps;
	uint64_t matches;
};

static uint64_t rng_s = 0x5eed;

static uint64_t rnd(void)
{
	uint64_t z = (rng_s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

static const char *text_word(const struct corpus *c)
{
	/* one word in 256 comes from the rules' vocabulary: near misses for the prefilters */
	return rnd() % 256 ? c->word[rnd() % NWORDS] : c->rword[rnd() % NRWORDS];
}

static size_t put_line(struct corpus *c, char *p)
{
	static const char *const tld[] = {"com", "net", "org", "example"};
	size_t n = 0;
	unsigned kind = (unsigned)(rnd() % 16);

	if (kind == 0) { /* a base64-looking line */
		for (; n < 76; n++)
			p[n] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
			    [rnd() % 64];
	} else if (kind == 1) {
		n = (size_t)sprintf(p, "https://www.%s.%s/%s/%s?id=%u", text_word(c),
		                    tld[rnd() % 4], text_word(c), text_word(c),
		                    (unsigned)(rnd() % 100000));
	} else {
		while (n < 60)
			n += (size_t)sprintf(p + n, "%s%s", n ? " " : "", text_word(c));
		p[n++] = '.';
	}
	p[n++] = '\r';
	p[n++] = '\n';
	return n;
}

static void make_words(char (*w)[12], unsigned n, unsigned min, unsigned spread)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned len = min + (unsigned)(rnd() % spread);

		for (unsigned k = 0; k < len; k++)
			w[i][k] = (char)('a' + rnd() % 26);
		w[i][len] = '\0';
	}
}

static void corpus_make(struct corpus *c, size_t bytes)
{
	size_t cap = bytes + MSG_MAX + 1024;

	make_words(c->word, NWORDS, 2, 9);
	make_words(c->rword, NRWORDS, 5, 6);
	c->buf = xmalloc(cap);
	c->msg_end = xmalloc((bytes / MSG_MIN + 2) * sizeof(size_t));
	c->len = c->nmsg = 0;
	while (c->len < bytes) {
		size_t size = MSG_MIN + rnd() % (MSG_MAX - MSG_MIN), start = c->len;

		c->len +=
		    (size_t)sprintf(c->buf + c->len,
		                    "Received: from mx.%s.example by sluice\r\n"
		                    "From: %s@%s.example\r\nTo: user@example.net\r\n"
		                    "Subject: %s %s %s\r\nMessage-ID: <%u@%s.example>\r\n\r\n",
		                    text_word(c), text_word(c), text_word(c), text_word(c),
		                    text_word(c), text_word(c), (unsigned)rnd(), text_word(c));
		while (c->len - start < size)
			c->len += put_line(c, c->buf + c->len);
		c->msg_end[c->nmsg++] = c->len;
	}
}

enum kind { K_LITERAL, K_REGEX, K_WEAK };

static const char *const kind_names[] = {"literal", "regex", "weak-regex"};

/*
 * Rules text for n body rules of one kind. Literals: two words of the rules' vocabulary.
 * Regexes: classes, bounded repeats, alternations, caseless, around words of the rules'
 * vocabulary, as real rules are built around a distinctive word. Weak regexes (--weak): the
 * same shapes around words of the text's own vocabulary, so every word of the text starts
 * a candidate match: the worst case for Hyperscan's prefilters.
 */
static char *make_rules(const struct corpus *c, unsigned n, enum kind kind)
{
	static const char *const fmt[4] = {
	    "/%s\\s+%s[0-9]{0,4}/ tag\n",
	    "/(%s|%s)\\W{1,3}%s/i tag\n",
	    "/https?:\\/\\/[a-z0-9.-]*%s\\.(com|net)\\// tag\n",
	    "/%s[a-z]{0,8} .{0,20}%s/ tag\n",
	};
	size_t cap = (size_t)n * 128 + 64, len = 0;
	char *t = xmalloc(cap);

	for (unsigned i = 0; i < n; i++) {
		const char(*w)[12] = kind == K_WEAK ? c->word : c->rword;
		unsigned nw = kind == K_WEAK ? NWORDS : NRWORDS;
		const char *a = w[rnd() % nw], *b = w[rnd() % nw], *d = w[rnd() % nw];

		len += (size_t)snprintf(t + len, cap - len, "rule b%05u body ", i);
		if (kind == K_LITERAL)
			len += (size_t)snprintf(t + len, cap - len, "\"%s %s\"%s tag\n", a, b,
			                        i % 3 ? "" : "i");
		else if (i % 4 == 1)
			len += (size_t)snprintf(t + len, cap - len, fmt[1], a, b, d);
		else if (i % 4 == 2)
			len += (size_t)snprintf(t + len, cap - len, fmt[2], a);
		else
			len += (size_t)snprintf(t + len, cap - len, fmt[i % 4], a, b);
	}
	return t;
}

static double run_engine(struct pol_core *pc, const struct corpus *c, uint64_t *matches)
{
	const struct pol_stats *st = pol_core_stats(pc);
	uint64_t m0 = st->matches;
	double t0 = now_s();
	size_t start = 0;

	for (size_t k = 0; k < c->nmsg; k++) {
		struct pol_verdict v;
		struct pol_tx *tx;

		pol_tx_begin(pc, NULL, "sender@example.org", 18, &tx, &v);
		for (size_t at = start; at < c->msg_end[k]; at += SPAN)
			pol_tx_data(pc, tx, c->buf + at,
			            c->msg_end[k] - at < SPAN ? c->msg_end[k] - at : SPAN);
		pol_tx_end(pc, tx, &v);
		pol_tx_release(pc, tx);
		start = c->msg_end[k];
	}
	*matches = st->matches - m0;
	return now_s() - t0;
}

static double run_memcpy(const struct corpus *c, char *dst)
{
	double t0 = now_s();
	size_t start = 0;

	for (size_t k = 0; k < c->nmsg; k++) {
		for (size_t at = start; at < c->msg_end[k]; at += SPAN) {
			size_t n = c->msg_end[k] - at < SPAN ? c->msg_end[k] - at : SPAN;

			memcpy(dst, c->buf + at, n);
			__asm__ volatile("" : : "r"(dst) : "memory"); /* keep the copy */
		}
		start = c->msg_end[k];
	}
	return now_s() - t0;
}

static const char *cache_name(unsigned s)
{
	static const char *const names[] = {"off", "hit", "compiled", "rebuilt", "unwritable"};

	return s < 5 ? names[s] : "?";
}

static int bench_set(const struct opts *o, const struct corpus *c, char *dst, unsigned n,
                     enum kind kind, struct result *res)
{
	struct pol_load_opts lo = {.cache_dir = o->cache};
	char *text;
	struct pol_rules_info info;
	struct pol_rules *r;
	struct pol_core *pc;
	struct pol_error err;
	double best = 1e30, best_cpy = 1e30;

	rng_s = 0x21e5ull * 1000003u + n * 4u + (unsigned)kind; /* same rules whatever --mb */
	text = make_rules(c, n, kind);
	if (pol_rules_load_mem("bench.rules", text, strlen(text), &lo, &r, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		free(text);
		return -1;
	}
	free(text);
	pol_rules_info(r, &info);
	if (pol_core_create(&pc, r, NULL)) {
		fprintf(stderr, "pol_core_create failed\n");
		return -1;
	}
	for (unsigned p = 0; p < o->passes; p++) {
		double tc = run_memcpy(c, dst), te = run_engine(pc, c, &res->matches);

		best_cpy = tc < best_cpy ? tc : best_cpy;
		best = te < best ? te : best;
	}
	res->nrules = n;
	res->kind = kind_names[kind];
	res->load_ms = info.load_ms;
	res->cache = cache_name(info.cache);
	res->db_bytes = info.db_bytes;
	res->stream_bytes = info.stream_bytes;
	res->gbps = (double)c->len / best / 1e9;
	res->memcpy_gbps = (double)c->len / best_cpy / 1e9;
	pol_core_destroy(pc);
	pol_rules_put(r);
	return 0;
}

static void print_text(const struct corpus *c, const struct result *r, int n)
{
	printf("corpus: %zu messages, %.1f MB, spans of %u KiB, one core\n", c->nmsg,
	       (double)c->len / 1e6, SPAN >> 10);
	printf("%7s %-8s %10s %-10s %9s %8s %9s %9s %8s\n", "rules", "kind", "load ms", "cache",
	       "db KiB", "stream B", "GB/s", "memcpy", "ratio");
	for (int i = 0; i < n; i++)
		printf("%7u %-8s %10.1f %-10s %9zu %8zu %9.3f %9.2f %8.4f\n", r[i].nrules,
		       r[i].kind, r[i].load_ms, r[i].cache, r[i].db_bytes / 1024, r[i].stream_bytes,
		       r[i].gbps, r[i].memcpy_gbps, r[i].gbps / r[i].memcpy_gbps);
	printf("ratio = engine GB/s / memcpy GB/s of the same spans, same run\n");
}

static void print_json(const struct corpus *c, const struct result *r, int n)
{
	printf("{\"bench\":\"policy\",\"corpus_bytes\":%zu,\"messages\":%zu,\"span\":%u,"
	       "\"results\":[",
	       c->len, c->nmsg, SPAN);
	for (int i = 0; i < n; i++)
		printf("%s{\"rules\":%u,\"kind\":\"%s\",\"load_ms\":%.1f,\"cache\":\"%s\","
		       "\"db_bytes\":%zu,\"stream_bytes\":%zu,\"gbps\":%.4f,\"memcpy_gbps\":%.4f,"
		       "\"ratio\":%.5f,\"matches\":%llu}",
		       i ? "," : "", r[i].nrules, r[i].kind, r[i].load_ms, r[i].cache,
		       r[i].db_bytes, r[i].stream_bytes, r[i].gbps, r[i].memcpy_gbps,
		       r[i].gbps / r[i].memcpy_gbps, (unsigned long long)r[i].matches);
	printf("]}\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static char def[512];
	const char *tmp = getenv("TMPDIR");

	snprintf(def, sizeof(def), "%s/sluice-policy-bench-cache", tmp ? tmp : "/tmp");
	*o = (struct opts){.mb = 64, .passes = 3, .cache = def};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			o->json = 1;
		else if (!strcmp(argv[i], "--weak"))
			o->weak = 1;
		else if (!strcmp(argv[i], "--no-cache"))
			o->cache = NULL;
		else if (!strcmp(argv[i], "--cache") && i + 1 < argc)
			o->cache = argv[++i];
		else if (!strcmp(argv[i], "--mb") && i + 1 < argc)
			o->mb = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--passes") && i + 1 < argc)
			o->passes = (unsigned)strtoul(argv[++i], NULL, 10);
		else
			return -EINVAL;
	}
	return o->mb && o->passes ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	static const unsigned counts[3] = {10, 1000, 10000};
	struct result res[NSETS];
	struct corpus c;
	struct opts o;
	char *dst;
	int n = 0, failed = 0;

	if (parse_args(argc, argv, &o)) {
		fprintf(stderr, "usage: policy-bench [--mb N] [--passes P] [--cache DIR | "
		                "--no-cache] [--weak] [--json]\n");
		return 2;
	}
	corpus_make(&c, o.mb << 20);
	dst = xmalloc(SPAN);
	for (int w = 0; w < 3; w++) /* warm up: page tables, CPU frequency */
		run_memcpy(&c, dst);
	for (int kind = K_LITERAL; kind <= (o.weak ? K_WEAK : K_REGEX); kind++) {
		for (int k = 0; k < 3; k++) {
			if (kind == K_WEAK && k == 2)
				break; /* 10,000 weak regexes: minutes, and nothing new */
			if (!o.json)
				fprintf(stderr, "%u %s rules...\n", counts[k], kind_names[kind]);
			if (bench_set(&o, &c, dst, counts[k], (enum kind)kind, &res[n]) == 0)
				n++;
			else
				failed++;
		}
	}
	if (o.json)
		print_json(&c, res, n);
	else
		print_text(&c, res, n);
	free(dst);
	free(c.buf);
	free(c.msg_end);
	return failed ? 1 : 0;
}
