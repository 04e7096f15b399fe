/* SPDX-License-Identifier: MIT */
/*
 * test_reader.c - the reader (spool/reader.c, spool/retention.c) against the writer.
 *
 * Two writers (cores 0 and 1, one ring each) take messages from many interleaved sessions:
 * random envelopes (IPv4, IPv6, UTF-8 addresses, null sender, up to 100 recipients with and
 * without parameters), binary bodies with NUL, CR and LF, bodies that contain complete, valid
 * spool records (they must stay data), random append sizes from 1 octet up, one 8 MiB message
 * streamed while the others go on, and some aborts. The reader must list exactly the messages
 * that got 0, each with its envelope and its octets (Received: field + body) exact, read back
 * in random pieces; aborted ones never appear; the scan finds no problem.
 */
#include "spool/format.h"
#include "tests/spool/spool_test.h"

#define NSESS  24
#define NMSG   360
#define BIG    (8u << 20)
#define FORGED 100 /* offset of the forged records in bodies that carry them */

struct gen {
	char buf[16384];
	size_t used;
	struct spool_str rcpt[100], rp[100];
	struct spool_envelope env;
};

struct expect {
	uint64_t seed, len;
	unsigned core;
	int aborted;
	struct t_result r;
};

static struct expect ex[NMSG];
static uint8_t forged[16384];
static size_t forged_len;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ull;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dull;
	return x ^ (x >> 33);
}

static void body_fill(uint64_t seed, uint64_t off, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t j = off + i;

		p[i] = (uint8_t)(mix(seed * 0x9E3779B97F4A7C15ull + j / 8) >> (8 * (j % 8)));
		if (seed % 4 == 0 && j >= FORGED && j - FORGED < forged_len)
			p[i] = forged[j - FORGED];
	}
}

static struct spool_str gstr(struct gen *g, const char *fmt, uint64_t a, uint64_t b)
{
	struct spool_str s = {g->buf + g->used, 0};
	int n = snprintf(g->buf + g->used, sizeof(g->buf) - g->used, fmt, a, b);

	s.n = (size_t)n;
	g->used += (size_t)n;
	return s;
}

static void gen_env(struct gen *g, uint64_t seed)
{
	static const char *ips[] = {"10.1.2.3", "2001:db8::77", "::ffff:192.0.2.44", "::1"};
	uint64_t x = mix(seed);

	memset(g, 0, sizeof(*g));
	t_env_init(&g->env, ips[x % 4], (unsigned)(x >> 8) % 65536);
	g->env.recv_time_us = 1700000000000000ull + seed * 1000;
	g->env.helo = gstr(g, "h%llu.m\xc3\xbcnchen.example", seed, 0);
	g->env.client_name = x % 3 ? gstr(g, "rdns-%llu.example", seed, 0) : gstr(g, "", 0, 0);
	g->env.ehlo = (uint8_t)(x >> 20 & 1);
	g->env.tls = (uint8_t)(x >> 21 & 1);
	g->env.mail_from = x % 9 == 0 ? gstr(g, "", 0, 0)
	                              : gstr(g, "s\xc3\xa9nder+%llu@ex\xc3\xa4mple.org", seed, 0);
	g->env.mail_params = gstr(g, "SIZE=%llu SMTPUTF8 BODY=8BITMIME", seed * 77, 0);
	g->env.nrcpt = x % 7 == 0 ? 100 : 1 + (uint32_t)(x >> 30) % 5;
	for (uint32_t i = 0; i < g->env.nrcpt; i++) {
		g->rcpt[i] = gstr(g, "user%llu@d\xc3\xb6main%llu.example", i, seed);
		g->rp[i] =
		    i % 3 ? gstr(g, "NOTIFY=NEVER ORCPT=rfc822;u%llu", i, 0) : gstr(g, "", 0, 0);
	}
	g->env.rcpt = g->rcpt;
	g->env.rcpt_params = x % 5 ? g->rp : NULL;
	g->env.verdict = gstr(g, "accept", 0, 0);
	g->env.tags = gstr(g, "rule%llu,rule%llu", seed % 10, seed % 7);
}

/* A complete, valid BEGIN + COMMIT pair, to be hidden in bodies. */
static void make_forged(void)
{
	struct gen g;
	size_t n;

	gen_env(&g, 999);
	n = spool_env_size(&g.env, "FORGEDFORGEDFORGED00", 0);
	spool_env_encode(forged + SPOOL_REC_HDR, &g.env, "FORGEDFORGEDFORGED00", 0);
	forged_len = spool_rec_seal(forged, SPOOL_REC_BEGIN, 7, (uint32_t)n);
	spool_commit_encode(forged + forged_len + SPOOL_REC_HDR, 0, 0);
	forged_len += spool_rec_seal(forged + forged_len, SPOOL_REC_COMMIT, 7, SPOOL_COMMIT_LEN);
}

struct sess {
	struct spool_msg *m;
	int idx;
	uint64_t sent;
};

static uint64_t rng = 12345;

static uint64_t rnd(void)
{
	return rng = mix(rng + 0x9E3779B97F4A7C15ull);
}

static int str_eq(struct spool_str a, struct spool_str b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* One step of session s: begin, append a random piece, or end (commit or abort). */
static void step(struct spool_writer **w, struct io_uring *rings, struct sess *s, int *next)
{
	static uint8_t chunk[40000];
	struct expect *e;
	size_t k;
	int rc;

	if (!s->m) {
		struct gen g;

		if (*next >= NMSG)
			return;
		e = &ex[*next];
		e->seed = (uint64_t)*next + 1;
		e->len = *next == 5 ? BIG : rnd() % 4 == 0 ? rnd() % 60000 : 200 + rnd() % 3000;
		e->core = (unsigned)(rnd() % 2);
		gen_env(&g, e->seed);
		if (!(s->m = spool_msg_begin(w[e->core], &g.env))) {
			CHECK(errno == EAGAIN, "begin: %s", strerror(errno));
			return;
		}
		s->idx = (*next)++;
		s->sent = 0;
		return;
	}
	e = &ex[s->idx];
	if (s->sent == e->len) {
		if (rnd() % 12 == 0) {
			e->aborted = 1;
			spool_msg_abort(w[e->core], s->m);
		} else {
			spool_msg_commit(w[e->core], s->m, t_commit_cb, &e->r);
		}
		s->m = NULL;
		return;
	}
	k = rnd() % 5 == 0 ? 1 + rnd() % 8 : 1 + rnd() % sizeof(chunk);
	if (k > e->len - s->sent)
		k = (size_t)(e->len - s->sent);
	body_fill(e->seed, s->sent, chunk, k);
	rc = spool_msg_append(w[e->core], s->m, chunk, k);
	CHECK(rc == 0 || rc == -EAGAIN, "append: %d", rc);
	if (rc == 0)
		s->sent += k;
	(void)rings;
}

static void verify_entry(struct spool_reader *r, const struct spool_entry *e, struct expect *x)
{
	static uint8_t want[65536], got[65536];
	struct gen g;
	uint64_t off = 0;
	int ok = 1;

	gen_env(&g, x->seed);
	CHECK(e->core == x->core, "core");
	CHECK(memcmp(&e->env.client, &g.env.client, sizeof(g.env.client)) == 0, "client");
	CHECK(str_eq(e->env.helo, g.env.helo) && str_eq(e->env.client_name, g.env.client_name),
	      "helo/name");
	CHECK(e->env.ehlo == g.env.ehlo && e->env.tls == g.env.tls, "flags");
	CHECK(str_eq(e->env.mail_from, g.env.mail_from) &&
	          str_eq(e->env.mail_params, g.env.mail_params),
	      "mail from");
	CHECK(e->env.nrcpt == g.env.nrcpt, "nrcpt %u %u", e->env.nrcpt, g.env.nrcpt);
	for (uint32_t i = 0; i < e->env.nrcpt && i < g.env.nrcpt; i++) {
		struct spool_str p = g.env.rcpt_params ? g.rp[i] : (struct spool_str){"", 0};

		ok &= str_eq(e->env.rcpt[i], g.rcpt[i]) && str_eq(e->env.rcpt_params[i], p);
	}
	CHECK(ok, "recipients of %s", e->queue_id);
	CHECK(str_eq(e->env.verdict, g.env.verdict) && str_eq(e->env.tags, g.env.tags), "policy");
	CHECK(e->env.recv_time_us == g.env.recv_time_us, "time");
	CHECK(e->size == e->received_len + x->len, "size %llu", (unsigned long long)e->size);
	{
		char head[SPOOL_RECEIVED_MAX];
		long n = spool_reader_read(r, e, 0, head, e->received_len);

		CHECK(n == (long)e->received_len && memcmp(head, "Received: from ", 15) == 0 &&
		          memmem(head, (size_t)n, e->queue_id, strlen(e->queue_id)) != NULL &&
		          head[n - 2] == '\r' && head[n - 1] == '\n',
		      "Received: field of %s", e->queue_id);
	}
	while (off < x->len && ok) { /* random pieces, random starts */
		size_t k = 1 + rnd() % sizeof(got);
		long n;

		if (k > x->len - off)
			k = (size_t)(x->len - off);
		body_fill(x->seed, off, want, k);
		n = spool_reader_read(r, e, e->received_len + off, got, k);
		ok = n == (long)k && memcmp(got, want, k) == 0;
		off += k;
	}
	CHECK(ok, "body of %s (length %llu) at %llu", e->queue_id, (unsigned long long)x->len,
	      (unsigned long long)off);
}

int main(void)
{
	const char *dir = t_tmpdir("test_reader");
	struct io_uring rings[2];
	struct spool_writer *w[2];
	struct spool_config cfg;
	struct sess s[NSESS] = {0};
	struct spool_reader *r;
	int next = 0, committed = 0, aborted = 0, pending;

	make_forged();
	if (io_uring_queue_init(256, &rings[0], 0) || io_uring_queue_init(256, &rings[1], 0))
		return printf("io_uring unavailable: skipped\n"), 77;
	t_config(&cfg, dir);
	cfg.segment_size = 4 << 20;
	cfg.batch_bytes = 256 << 10;
	for (unsigned c = 0; c < 2; c++)
		CHECK(spool_writer_open(&w[c], &cfg, c, &rings[c]) == 0, "open core %u", c);
	for (uint64_t end = t_now_us() + 60000000; t_now_us() < end;) {
		for (int i = 0; i < 8; i++)
			step(w, rings, &s[rnd() % NSESS], &next);
		for (unsigned c = 0; c < 2; c++)
			t_loop_once(w[c], &rings[c], 0);
		pending = 0;
		for (int i = 0; i < NSESS; i++)
			pending += s[i].m != NULL;
		if (next == NMSG && !pending && spool_writer_idle(w[0]) && spool_writer_idle(w[1]))
			break;
	}
	for (unsigned c = 0; c < 2; c++)
		CHECK(spool_writer_close(w[c]) == 0, "close %u", c);
	CHECK(next == NMSG, "all messages begun (%d)", next);
	CHECK(spool_reader_open(&r, dir) == 0, "reader open");
	for (int i = 0; i < next; i++) {
		const struct spool_entry *e;

		if (ex[i].aborted) {
			aborted++;
			CHECK(!ex[i].r.done, "callback for an aborted message");
			continue;
		}
		CHECK(ex[i].r.done && ex[i].r.result == 0, "message %d: %d", i, ex[i].r.result);
		committed++;
		e = spool_reader_find(r, ex[i].r.qid);
		CHECK(e != NULL, "message %d (%s) missing", i, ex[i].r.qid);
		if (e)
			verify_entry(r, e, &ex[i]);
	}
	CHECK((int)spool_reader_count(r) == committed, "listed %zu, committed %d",
	      spool_reader_count(r), committed);
	CHECK(spool_reader_find(r, "FORGEDFORGEDFORGED00") == NULL, "forged record stayed data");
	CHECK(spool_reader_problem_count(r) == 0, "problems: %s",
	      spool_reader_problem_count(r) ? spool_reader_problem(r, 0) : "");
	{
		struct spool_reader_stats st;

		spool_reader_stats(r, &st);
		CHECK(st.aborted == (uint64_t)aborted, "aborted %llu, want %d",
		      (unsigned long long)st.aborted, aborted);
		CHECK(st.segments > 2, "several segments (%llu)", (unsigned long long)st.segments);
	}
	spool_reader_close(r);
	printf("%d committed, %d aborted\n", committed, aborted);
	return t_report();
}
