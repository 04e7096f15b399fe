/* SPDX-License-Identifier: MIT */
/*
 * opts.c - command line of sluice-blast and the address patterns ("user%d@example.test").
 *
 * blast_opts_parse fills a struct blast_conf with defaults, applies the options, checks them and
 * resolves the target; it returns 0, 1 after --help (usage printed), or -EINVAL with a message
 * on stderr. blast_pattern_expand writes prefix, number, suffix without formatting calls, since
 * it runs for every MAIL and RCPT.
 */
#include "blast.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum {
	O_SESSIONS = 256,
	O_THREADS,
	O_MESSAGES,
	O_DURATION,
	O_RATE,
	O_PER_CONN,
	O_PIPELINING,
	O_NO_PIPELINING,
	O_BDAT,
	O_HELO,
	O_RCPTS,
	O_EHLO,
	O_FROM,
	O_TO,
	O_ADDRS,
	O_SIZE,
	O_POOL,
	O_POOL_MB,
	O_8BIT,
	O_UTF8,
	O_ATTACH,
	O_DOTS,
	O_SEED,
	O_TIMEOUT,
	O_VERIFY,
	O_JSON,
	O_PROGRESS,
	O_NO_PROGRESS,
	O_RING,
};

static const struct option blast_longopts[] = {
    {"sessions", required_argument, NULL, O_SESSIONS},
    {"threads", required_argument, NULL, O_THREADS},
    {"messages", required_argument, NULL, O_MESSAGES},
    {"duration", required_argument, NULL, O_DURATION},
    {"rate", required_argument, NULL, O_RATE},
    {"per-conn", required_argument, NULL, O_PER_CONN},
    {"pipelining", required_argument, NULL, O_PIPELINING},
    {"no-pipelining", no_argument, NULL, O_NO_PIPELINING},
    {"bdat", no_argument, NULL, O_BDAT},
    {"helo", no_argument, NULL, O_HELO},
    {"rcpts", required_argument, NULL, O_RCPTS},
    {"ehlo", required_argument, NULL, O_EHLO},
    {"from", required_argument, NULL, O_FROM},
    {"to", required_argument, NULL, O_TO},
    {"addrs", required_argument, NULL, O_ADDRS},
    {"size", required_argument, NULL, O_SIZE},
    {"pool", required_argument, NULL, O_POOL},
    {"pool-mb", required_argument, NULL, O_POOL_MB},
    {"8bit", required_argument, NULL, O_8BIT},
    {"utf8", required_argument, NULL, O_UTF8},
    {"attach", required_argument, NULL, O_ATTACH},
    {"dots", required_argument, NULL, O_DOTS},
    {"seed", required_argument, NULL, O_SEED},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"verify", required_argument, NULL, O_VERIFY},
    {"json", no_argument, NULL, O_JSON},
    {"progress", no_argument, NULL, O_PROGRESS},
    {"no-progress", no_argument, NULL, O_NO_PROGRESS},
    {"ring", required_argument, NULL, O_RING},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

void blast_usage(FILE *f)
{
	fputs("usage: sluice-blast [options] HOST[:PORT]\n"
	      "load:\n"
	      "  --sessions N       concurrent sessions (open loop: at most N)      [10]\n"
	      "  --threads N        event-loop threads, sessions split between them  [1]\n"
	      "  --messages N       stop after N messages       [1000 unless --duration]\n"
	      "  --duration S       stop starting messages after S seconds\n"
	      "  --rate R           open loop: R messages/s in total, latency from the\n"
	      "                     intended send time (default: closed loop)\n"
	      "  --per-conn N       messages per connection, 0 = unlimited           [1]\n"
	      "protocol:\n"
	      "  --pipelining on|off  use PIPELINING when advertised                [on]\n"
	      "  --bdat             send with BDAT (CHUNKING) instead of DATA\n"
	      "  --helo             HELO instead of EHLO (no extensions)\n"
	      "  --rcpts N          recipients per message                          [1]\n"
	      "  --ehlo NAME        EHLO name, also the Message-ID domain\n"
	      "                                                  [blast.example.test]\n"
	      "  --from PATTERN     sender, %d = number  [sender%d@blast.example.test]\n"
	      "  --to PATTERN       recipient, %d = number       [rcpt%d@example.test]\n"
	      "  --addrs N          %d runs over 0..N-1                          [1000]\n"
	      "messages:\n"
	      "  --size SPEC        10k | uniform:1k-100k | lognormal:16k,1.2[,4m]  [10k]\n"
	      "  --pool N           pre-generated messages                       [1024]\n"
	      "  --pool-mb N        memory cap of the pool                        [256]\n"
	      "  --8bit PCT         messages with 8-bit UTF-8 text (8BITMIME)      [10]\n"
	      "  --utf8 PCT         messages with UTF-8 headers (SMTPUTF8)          [5]\n"
	      "  --attach PCT       messages >= 4 KiB with a base64 attachment     [30]\n"
	      "  --dots PCT         text lines beginning with '.'                   [3]\n"
	      "  --seed N           generator seed                                  [1]\n"
	      "run:\n"
	      "  --timeout S        bound on every wait (connect, each reply)      [30]\n"
	      "  --verify FILE      write 'ID QUEUEID' for every accepted message\n"
	      "  --json             print the result as one JSON object on stdout\n"
	      "  --progress / --no-progress   live line on stderr  [when a terminal]\n"
	      "  --ring N           io_uring submission queue entries            [4096]\n",
	      f);
}

static int opt_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int opt_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max))
		return -EINVAL;
	*out = v;
	return 0;
}

int blast_pattern_parse(struct blast_pattern *p, const char *s)
{
	const char *pct = strstr(s, "%d");
	size_t pre = pct ? (size_t)(pct - s) : strlen(s);
	size_t post = pct ? strlen(pct + 2) : 0;

	memset(p, 0, sizeof(*p));
	if (pre >= BLAST_PATTERN_MAX || post >= BLAST_PATTERN_MAX || strchr(s, '<') ||
	    strchr(s, '>') || strchr(s, '\r') || strchr(s, '\n') || strchr(s, ' '))
		return -EINVAL;
	memcpy(p->pre, s, pre);
	p->pre_len = (unsigned)pre;
	if (pct != NULL) {
		memcpy(p->post, pct + 2, post);
		p->post_len = (unsigned)post;
		p->has_num = true;
	}
	return 0;
}

unsigned blast_pattern_expand(const struct blast_pattern *p, char *dst, uint64_t n)
{
	unsigned len = p->pre_len;

	memcpy(dst, p->pre, p->pre_len);
	if (p->has_num) {
		len += blast_fmt_u64(dst + len, n);
		memcpy(dst + len, p->post, p->post_len);
		len += p->post_len;
	}
	return len;
}

static int opts_target(struct blast_conf *c, const char *arg)
{
	char host[256];
	const char *port = "25";
	const char *colon = strrchr(arg, ':');
	struct addrinfo hints, *res;
	size_t hl;
	int ret;

	if (arg[0] == '[') {
		const char *rb = strchr(arg, ']');

		if (rb == NULL || (rb[1] != '\0' && rb[1] != ':'))
			return -EINVAL;
		hl = (size_t)(rb - arg - 1);
		if (rb[1] == ':')
			port = rb + 2;
		arg++;
	} else if (colon != NULL && strchr(arg, ':') == colon) {
		hl = (size_t)(colon - arg);
		port = colon + 1;
	} else {
		hl = strlen(arg);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, arg, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	ret = getaddrinfo(host, port, &hints, &res);
	if (ret != 0) {
		fprintf(stderr, "sluice-blast: %s: %s\n", host, gai_strerror(ret));
		return -EINVAL;
	}
	memcpy(&c->addr, res->ai_addr, res->ai_addrlen);
	c->addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void opts_defaults(struct blast_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->sessions = 10;
	c->threads = 1;
	c->per_conn = 1;
	c->pipelining = true;
	c->progress = -1;
	c->rcpts = 1;
	c->addrs = 1000;
	c->ehlo = "blast.example.test";
	c->size_spec = "10k";
	c->pool = 1024;
	c->pool_mb = 256;
	c->pct_8bit = 10;
	c->pct_utf8 = 5;
	c->pct_attach = 30;
	c->pct_dots = 3;
	c->seed = 1;
	c->timeout = 30.0;
	c->ring_entries = 4096;
	blast_pattern_parse(&c->from, "sender%d@blast.example.test");
	blast_pattern_parse(&c->to, "rcpt%d@example.test");
}

enum opt_type {
	T_U32,
	T_U64,
	T_DBL,
};

/* Numeric options: where the value goes and its bounds. */
static const struct {
	int id;
	enum opt_type type;
	size_t off;
	double min;
	double max;
} blast_numopts[] = {
    {O_SESSIONS, T_U32, offsetof(struct blast_conf, sessions), 1, 1e6},
    {O_THREADS, T_U32, offsetof(struct blast_conf, threads), 1, BLAST_MAX_THREADS},
    {O_MESSAGES, T_U64, offsetof(struct blast_conf, messages), 1, 1e15},
    {O_DURATION, T_DBL, offsetof(struct blast_conf, duration), 0.001, 1e7},
    {O_RATE, T_DBL, offsetof(struct blast_conf, rate), 0.001, 1e9},
    {O_PER_CONN, T_U32, offsetof(struct blast_conf, per_conn), 0, 4e9},
    {O_RCPTS, T_U32, offsetof(struct blast_conf, rcpts), 1, 1000},
    {O_ADDRS, T_U32, offsetof(struct blast_conf, addrs), 1, 4e9},
    {O_POOL, T_U32, offsetof(struct blast_conf, pool), 1, 1e6},
    {O_POOL_MB, T_U32, offsetof(struct blast_conf, pool_mb), 1, 1 << 20},
    {O_8BIT, T_U32, offsetof(struct blast_conf, pct_8bit), 0, 100},
    {O_UTF8, T_U32, offsetof(struct blast_conf, pct_utf8), 0, 100},
    {O_ATTACH, T_U32, offsetof(struct blast_conf, pct_attach), 0, 100},
    {O_DOTS, T_U32, offsetof(struct blast_conf, pct_dots), 0, 100},
    {O_SEED, T_U64, offsetof(struct blast_conf, seed), 0, 1.8e19},
    {O_TIMEOUT, T_DBL, offsetof(struct blast_conf, timeout), 0.001, 86400},
    {O_RING, T_U32, offsetof(struct blast_conf, ring_entries), 64, 32768},
};

static int opts_num(struct blast_conf *c, unsigned i, const char *a)
{
	char *dst = (char *)c + blast_numopts[i].off;
	double d;
	uint64_t u;

	if (blast_numopts[i].type == T_DBL) {
		if (opt_double(a, blast_numopts[i].min, blast_numopts[i].max, &d) != 0)
			return -EINVAL;
		memcpy(dst, &d, sizeof(d));
		return 0;
	}
	if (opt_uint(a, (uint64_t)blast_numopts[i].min, (uint64_t)blast_numopts[i].max, &u) != 0)
		return -EINVAL;
	if (blast_numopts[i].type == T_U64) {
		memcpy(dst, &u, sizeof(u));
	} else {
		unsigned v = (unsigned)u;

		memcpy(dst, &v, sizeof(v));
	}
	return 0;
}

/* One option; returns 0 or -EINVAL. */
static int opts_one(struct blast_conf *c, int o, const char *a)
{
	unsigned i;

	for (i = 0; i < sizeof(blast_numopts) / sizeof(blast_numopts[0]); i++)
		if (blast_numopts[i].id == o)
			return opts_num(c, i, a);
	switch (o) {
	case O_PIPELINING:
		if (strcmp(a, "on") != 0 && strcmp(a, "off") != 0)
			return -EINVAL;
		c->pipelining = strcmp(a, "on") == 0;
		return 0;
	case O_NO_PIPELINING:
		c->pipelining = false;
		return 0;
	case O_BDAT:
		c->bdat = true;
		return 0;
	case O_HELO:
		c->helo = true;
		return 0;
	case O_EHLO:
		c->ehlo = a;
		return 0;
	case O_FROM:
		return blast_pattern_parse(&c->from, a);
	case O_TO:
		return blast_pattern_parse(&c->to, a);
	case O_SIZE:
		c->size_spec = a;
		return 0;
	case O_VERIFY:
		c->verify = a;
		return 0;
	case O_JSON:
		c->json = true;
		return 0;
	case O_PROGRESS:
	case O_NO_PROGRESS:
		c->progress = o == O_PROGRESS;
		return 0;
	}
	return -EINVAL;
}

static const char *opts_name(int o)
{
	const struct option *p;

	for (p = blast_longopts; p->name != NULL; p++)
		if (p->val == o)
			return p->name;
	return "?";
}

int blast_opts_parse(struct blast_conf *c, int argc, char **argv)
{
	int o;

	opts_defaults(c);
	optind = 1;
	while ((o = getopt_long(argc, argv, "h", blast_longopts, NULL)) != -1) {
		if (o == 'h') {
			blast_usage(stdout);
			return 1;
		}
		if (o == '?' || opts_one(c, o, optarg) != 0) {
			if (o != '?')
				fprintf(stderr, "sluice-blast: bad value for --%s: %s\n",
				        opts_name(o), optarg);
			return -EINVAL;
		}
	}
	if (optind != argc - 1) {
		blast_usage(stderr);
		return -EINVAL;
	}
	c->target = argv[optind];
	if (c->threads > c->sessions) {
		fprintf(stderr, "sluice-blast: --threads must not exceed --sessions\n");
		return -EINVAL;
	}
	if (blast_dist_parse(&c->size, c->size_spec) != 0) {
		fprintf(stderr, "sluice-blast: bad --size %s\n", c->size_spec);
		return -EINVAL;
	}
	if (c->messages == 0 && c->duration == 0)
		c->messages = 1000;
	return opts_target(c, c->target);
}
