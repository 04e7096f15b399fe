/* SPDX-License-Identifier: MIT */
/*
 * test_format.c - spool/format.c and spool/received.c: record framing round trip and CRC
 * coverage of every byte; envelope encode/decode round trip on random envelopes (binary
 * strings with NUL, CR, LF; up to 100 recipients; IPv4, IPv6, none) with the payload ending at
 * a guard page, and every truncation rejected; the Received: field (single and several
 * recipients, IPv6 literal, hostile HELO); dates; queue ids.
 */
#include "spool/format.h"
#include "tests/common/guard.h"
#include "tests/spool/spool_test.h"

static uint64_t rng = 0x243F6A8885A308D3ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_records(void)
{
	uint8_t rec[SPOOL_REC_HDR + 300];
	struct spool_rec_hdr h;

	for (unsigned type = SPOOL_REC_SEGMENT; type <= SPOOL_REC_TYPE_MAX; type++) {
		uint32_t len = (uint32_t)(rnd() % 300), key = (uint32_t)rnd();

		for (uint32_t i = 0; i < len; i++)
			rec[SPOOL_REC_HDR + i] = (uint8_t)rnd();
		CHECK(spool_rec_seal(rec, type, key, len) == SPOOL_REC_HDR + len, "length");
		CHECK(spool_rec_hdr_decode(rec, &h) == 0, "decode");
		CHECK(h.type == type && h.len == len && h.key == key, "fields");
		CHECK(spool_rec_check(rec, &h) == 0, "crc");
		for (size_t i = 0; i < SPOOL_REC_HDR + len; i++) {
			for (int bit = 0; bit < 8; bit += 3) {
				struct spool_rec_hdr h2;

				rec[i] ^= (uint8_t)(1u << bit);
				CHECK(spool_rec_hdr_decode(rec, &h2) != 0 || h2.len > len ||
				          spool_rec_check(rec, &h2) != 0,
				      "flip of byte %zu bit %d not detected", i, bit);
				rec[i] ^= (uint8_t)(1u << bit);
			}
		}
	}
	memset(rec, 0, sizeof(rec));
	CHECK(spool_rec_hdr_decode(rec, &h) != 0, "an all-zero header is invalid");
}

static char pool[1 << 20];
static size_t pool_used;

static struct spool_str rand_str(size_t max)
{
	size_t n = max ? rnd() % (max + 1) : 0;
	struct spool_str s = {pool + pool_used, n};

	for (size_t i = 0; i < n; i++) {
		uint64_t r = rnd();

		pool[pool_used + i] = r % 4 == 0 ? "\0\r\n<>\x80\xff"[r % 7] : (char)('a' + r % 26);
	}
	pool_used += n;
	return s;
}

static int str_eq(struct spool_str a, struct spool_str b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static void rand_env(struct spool_envelope *env, struct spool_str *rcpt, struct spool_str *rp)
{
	const char *ips[] = {"198.51.100.9", "2001:db8::25", "::ffff:192.0.2.1"};

	pool_used = 0;
	t_env_init(env, ips[rnd() % 3], (unsigned)(rnd() % 65536));
	if (rnd() % 5 == 0)
		memset(&env->client, 0, sizeof(env->client));
	env->client_name = rand_str(40);
	env->helo = rand_str(60);
	env->ehlo = (uint8_t)(rnd() & 1);
	env->tls = (uint8_t)(rnd() & 1);
	env->mail_from = rand_str(80);
	env->mail_params = rand_str(40);
	env->nrcpt = (uint32_t)(rnd() % 101);
	for (uint32_t i = 0; i < env->nrcpt; i++) {
		rcpt[i] = rand_str(60);
		rp[i] = rand_str(rnd() % 2 ? 20 : 0);
	}
	env->rcpt = rcpt;
	env->rcpt_params = rnd() % 4 ? rp : NULL;
	env->verdict = rand_str(10);
	env->tags = rand_str(30);
	env->recv_time_us = rnd() >> 10;
}

static void test_envelope(void)
{
	static struct spool_str rcpt[100], rp[100], drcpt[100], drp[100];
	static uint8_t buf[1 << 16];
	struct guard_buf g;

	CHECK(guard_init(&g, sizeof(buf)) == 0, "guard");
	for (int t = 0; t < 300; t++) {
		struct spool_envelope env, d;
		char qid[SPOOL_QUEUE_ID_MAX], dq[SPOOL_QUEUE_ID_MAX];
		uint32_t rl = 0, nr = 0;
		size_t n;
		uint8_t *p;
		int ok;

		rand_env(&env, rcpt, rp);
		spool_queue_id(qid, rnd() >> 12, (unsigned)(rnd() % 64), rnd() % 100000);
		n = spool_env_size(&env, qid, 1234);
		spool_env_encode(buf, &env, qid, 1234);
		p = (uint8_t *)guard_copy(&g, buf, n);
		CHECK(spool_env_count_rcpt(p, n, &nr) == 0 && nr == env.nrcpt, "count %u", nr);
		ok = spool_env_decode(p, n, &d, drcpt, drp, 100, dq, &rl) == 0;
		CHECK(ok, "decode");
		if (!ok)
			continue;
		CHECK(strcmp(dq, qid) == 0 && rl == 1234, "queue id, received_len");
		CHECK(memcmp(&d.client, &env.client, sizeof(d.client)) == 0, "client address");
		CHECK(str_eq(d.client_name, env.client_name) && str_eq(d.helo, env.helo), "names");
		CHECK(d.ehlo == env.ehlo && d.tls == env.tls, "flags");
		CHECK(str_eq(d.mail_from, env.mail_from) && str_eq(d.mail_params, env.mail_params),
		      "mail");
		CHECK(d.nrcpt == env.nrcpt, "nrcpt");
		for (uint32_t i = 0; i < d.nrcpt && i < env.nrcpt; i++) {
			struct spool_str want = env.rcpt_params ? rp[i] : (struct spool_str){"", 0};

			CHECK(str_eq(d.rcpt[i], rcpt[i]), "rcpt %u", i);
			CHECK(str_eq(d.rcpt_params[i], want), "rcpt params %u", i);
		}
		CHECK(str_eq(d.verdict, env.verdict) && str_eq(d.tags, env.tags), "policy");
		CHECK(d.recv_time_us == env.recv_time_us, "time");
		/* every truncation is rejected, never read past */
		for (size_t cut = 0; cut < n; cut += 1 + rnd() % 7) {
			uint8_t *q = (uint8_t *)guard_copy(&g, buf, cut);
			int rc = spool_env_decode(q, cut, &d, drcpt, drp, 100, dq, &rl);

			CHECK(rc != 0 || cut == n, "truncated at %zu of %zu accepted", cut, n);
		}
	}
	guard_free(&g);
}

static int lines_ok(const char *s, size_t n)
{
	size_t line = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r') {
			if (i + 1 >= n || s[i + 1] != '\n')
				return 0;
			i++;
			if (i + 1 < n && s[i + 1] != '\t')
				return 0; /* continuation lines start with a tab */
			line = 0;
			continue;
		}
		if (s[i] == '\n' || s[i] == 0 || ++line > 998)
			return 0;
	}
	return n >= 2 && s[n - 2] == '\r' && s[n - 1] == '\n';
}

static void test_received(void)
{
	struct spool_envelope env;
	struct spool_str rcpt[2] = {{"bob@dest.example", 16}, {"carol@dest.example", 18}};
	char out[SPOOL_RECEIVED_MAX], longhelo[2000];
	size_t n;

	t_env_init(&env, "192.0.2.7", 1025);
	env.helo = t_str("client.example");
	env.client_name = t_str("mail.client.example");
	env.rcpt = rcpt;
	env.nrcpt = 1;
	env.recv_time_us = 1700000000ull * 1000000;
	n = spool_received(out, sizeof(out), &env, "mx.example", "QID1");
	CHECK(strcmp(out, "Received: from client.example (mail.client.example [192.0.2.7])\r\n"
	                  "\tby mx.example with ESMTP id QID1\r\n"
	                  "\tfor <bob@dest.example>; Tue, 14 Nov 2023 22:13:20 +0000\r\n") == 0,
	      "single recipient:\n%s", out);
	CHECK(n == strlen(out), "length");
	env.nrcpt = 2;
	env.ehlo = 0;
	t_env_init(&env, "2001:db8::1", 25);
	env.nrcpt = 2;
	env.rcpt = rcpt;
	env.tls = 1;
	env.recv_time_us = 0;
	spool_received(out, sizeof(out), &env, "mx.example", "QID2");
	CHECK(strcmp(out, "Received: from unknown (unknown [IPv6:2001:db8::1])\r\n"
	                  "\tby mx.example with ESMTPS id QID2;\r\n"
	                  "\tThu, 1 Jan 1970 00:00:00 +0000\r\n") == 0,
	      "two recipients, IPv6, TLS:\n%s", out);
	CHECK(strstr(out, "for") == NULL, "no for clause with two recipients");
	memset(longhelo, 'h', sizeof(longhelo));
	memcpy(longhelo, "evil\r\nX-Injected: yes\r\n(", 25);
	env.helo = (struct spool_str){longhelo, sizeof(longhelo)};
	env.client_name = env.helo;
	env.nrcpt = 1;
	rcpt[0] = (struct spool_str){"a\r\nb>c\0d", 8};
	n = spool_received(out, sizeof(out), &env, "mx.example", "QID3");
	CHECK(lines_ok(out, n), "hostile fields break no line:\n%s", out);
	CHECK(strstr(out, "\r\nX-Injected") == NULL, "no injected field");
}

static void test_dates_ids(void)
{
	char a[64], b[SPOOL_QUEUE_ID_MAX], c[SPOOL_QUEUE_ID_MAX];

	spool_rfc3339(a, sizeof(a), 1700000000123456ull);
	CHECK(strcmp(a, "2023-11-14T22:13:20.123456Z") == 0, "rfc3339 %s", a);
	spool_rfc5322_date(a, sizeof(a), 951782400ull * 1000000);
	CHECK(strcmp(a, "Tue, 29 Feb 2000 00:00:00 +0000") == 0, "rfc5322 %s", a);
	spool_queue_id(b, 1700000000000000ull, 3, 41);
	spool_queue_id(c, 1700000000000000ull, 3, 42);
	CHECK(strlen(b) == 20 && strlen(b) < SPOOL_QUEUE_ID_MAX, "length %zu", strlen(b));
	CHECK(strcmp(b, c) < 0, "ids increase with the counter");
	CHECK(strspn(b, "0123456789ABCDEFGHJKMNPQRSTVWXYZ") == 20, "alphabet %s", b);
	spool_queue_id(c, 1700000000000000ull, 4, 41);
	CHECK(strcmp(b, c) != 0, "core changes the id");
	spool_queue_id(c, 1700000000000001ull, 3, 41);
	CHECK(strcmp(b, c) != 0, "epoch changes the id");
}

int main(void)
{
	test_records();
	test_envelope();
	test_received();
	test_dates_ids();
	return t_report();
}
