/* SPDX-License-Identifier: MIT */
/*
 * test_options.c - TCP option parsing: a table of well-formed and malformed option areas fed
 * to tcp_opts_parse() so that the area ends at a guard page (any over-read faults), then the
 * same malformed options inside frames (dropped and counted, connection unharmed).
 */
#include "dataplane/net/net_impl.h"
#include "tests/common/guard.h"
#include "tests/dataplane/net/nettest.h"

struct opt_case {
	const char *name;
	uint8_t bytes[40];
	uint32_t len;
	bool syn;
	int rc;
	uint8_t has;
	uint16_t mss;
	uint8_t ws;
};

static const struct opt_case cases[] = {
    {"empty", {0}, 0, true, 0, 0, 0, 0},
    {"mss", {2, 4, 5, 0xb4}, 4, true, 0, TO_MSS, 1460, 0},
    {"mss on non-SYN ignored", {2, 4, 5, 0xb4}, 4, false, 0, 0, 0, 0},
    {"ws", {1, 3, 3, 7}, 4, true, 0, TO_WS, 0, 7},
    {"ws capped", {3, 3, 99}, 3, true, 0, TO_WS, 0, 14},
    {"sackok", {4, 2}, 2, true, 0, TO_SACKOK, 0, 0},
    {"ts", {8, 10, 0, 0, 0, 1, 0, 0, 0, 2}, 10, false, 0, TO_TS, 0, 0},
    {"eol stops", {0, 2, 0}, 3, true, 0, 0, 0, 0},
    {"nops only", {1, 1, 1, 1, 1}, 5, true, 0, 0, 0, 0},
    {"length 0", {2, 0, 5, 0xb4}, 4, true, -EINVAL, 0, 0, 0},
    {"length 1", {1, 8, 1}, 3, true, -EINVAL, 0, 0, 0},
    {"past the end", {2, 4, 5}, 3, true, -EINVAL, 0, 0, 0},
    {"ts past the end", {8, 10, 0, 0, 0, 1}, 6, false, -EINVAL, 0, 0, 0},
    {"kind without length", {1, 1, 2}, 3, true, -EINVAL, 0, 0, 0},
    {"length 255", {2, 255, 0, 0}, 4, true, -EINVAL, 0, 0, 0},
    {"mss wrong length ignored", {2, 3, 5, 1, 1}, 5, true, 0, 0, 0, 0},
    {"unknown kind skipped", {99, 4, 1, 2, 2, 4, 1, 0}, 8, true, 0, TO_MSS, 256, 0},
    {"sack blocks", {5, 10, 0, 0, 0, 1, 0, 0, 0, 2}, 10, false, 0, TO_SACK, 0, 0},
    {"sack bad length ignored", {5, 7, 0, 0, 0, 1, 0}, 7, false, 0, 0, 0, 0},
    {"good then bad", {2, 4, 1, 0, 3, 0}, 6, true, -EINVAL, 0, 0, 0},
};

static void test_parser_table(void)
{
	struct guard_buf g;

	if (guard_init(&g, 64) != 0) {
		CHECK(0, "guard_init");
		return;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct opt_case *c = &cases[i];
		const uint8_t *p = (const uint8_t *)guard_copy(&g, c->bytes, c->len);
		struct tcp_opts o;
		int rc = tcp_opts_parse(p, c->len, c->syn, &o);

		CHECK(rc == c->rc, "%s: rc %d", c->name, rc);
		if (rc != 0)
			continue;
		CHECK(o.has == c->has, "%s: has %#x", c->name, o.has);
		if (c->has & TO_MSS)
			CHECK(o.mss == c->mss, "%s: mss %u", c->name, o.mss);
		if (c->has & TO_WS)
			CHECK(o.wscale == c->ws, "%s: ws %u", c->name, o.wscale);
	}
	guard_free(&g);
}

/* Every prefix of every case and random bytes: never over-read, never loop. */
static void test_parser_fuzz(void)
{
	struct guard_buf g;
	uint8_t buf[40];
	uint32_t x = 12345;
	int ok = 1;

	if (guard_init(&g, 64) != 0)
		return;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (uint32_t n = 0; n <= cases[i].len; n++) {
			struct tcp_opts o;

			tcp_opts_parse((const uint8_t *)guard_copy(&g, cases[i].bytes, n), n, true,
			               &o);
		}
	for (int r = 0; r < 200000; r++) {
		uint32_t n;
		struct tcp_opts o;
		int rc;

		x = x * 1103515245u + 12345u;
		n = (x >> 16) % 41;
		for (uint32_t k = 0; k < n; k++) {
			x = x * 1103515245u + 12345u;
			buf[k] = (uint8_t)((x >> 16) % 12); /* small kinds and lengths */
		}
		rc = tcp_opts_parse((const uint8_t *)guard_copy(&g, buf, n), n, (r & 1) != 0, &o);
		if (rc != 0 && rc != -EINVAL)
			ok = 0;
	}
	CHECK(ok, "random option areas parse or fail cleanly");
	guard_free(&g);
}

static void test_frames(void)
{
	static const uint8_t len0[] = {2, 0, 5, 0xb4}, past[] = {1, 1, 8, 10, 0, 0};
	struct tenv e;
	struct thand h;
	struct tconn *t;
	uint32_t isn;
	const struct net_counters *cnt;

	tenv_config(&e);
	tenv_start(&e);
	tcp_listen(e.nc, 25);
	tenv_arp_prime(&e);
	cnt = net_core_counters(e.nc);
	{
		struct tseg s = {.sport = 40100, .dport = 25, .seq = 1, .flags = F_SYN, .wnd = 100};

		nt_opt_raw(&s, len0, sizeof(len0));
		tenv_send(&e, &s);
		CHECK(!tenv_take(&e) && net_core_conns(e.nc) == 0,
		      "SYN with length-0 option dropped");
		s.optlen = 0;
		nt_opt_raw(&s, past, sizeof(past));
		tenv_send(&e, &s);
		CHECK(!tenv_take(&e) && net_core_conns(e.nc) == 0, "SYN with option past the end");
		CHECK(cnt->tcp_drop_opts == 2, "counted: %lu", (unsigned long)cnt->tcp_drop_opts);
	}
	{
		/* a data offset pointing past the segment */
		struct tseg s = {.sport = 40101,
		                 .dport = 25,
		                 .seq = 1,
		                 .flags = F_SYN,
		                 .wnd = 100,
		                 .raw_doff = 15};

		tenv_send(&e, &s);
		CHECK(!tenv_take(&e) && cnt->tcp_drop_hdr == 1, "bad data offset dropped");
	}
	thand_default(&h, 40102);
	t = tenv_handshake(&e, &h, &isn);
	CHECK(t != NULL, "handshake");
	if (!t)
		goto out;
	{
		struct tseg s = {.sport = 40102,
		                 .dport = 25,
		                 .seq = h.peer_isn + 1,
		                 .ack = isn + 1,
		                 .flags = F_ACK | F_PSH,
		                 .wnd = 512,
		                 .data = "HELO x\r\n",
		                 .len = 8};

		nt_opt_raw(&s, len0, sizeof(len0));
		tenv_send(&e, &s);
		CHECK(t->rxlen == 0 && !tenv_take(&e), "data segment with bad options dropped");
		s.optlen = 0;
		nt_opt_ts(&s, 6000, 0);
		tenv_send(&e, &s);
		CHECK(t->rxlen == 8 && memcmp(t->rx, "HELO x\r\n", 8) == 0, "then accepted");
	}
out:
	tenv_stop(&e);
}

int main(void)
{
	test_parser_table();
	test_parser_fuzz();
	test_frames();
	return nt_report();
}
