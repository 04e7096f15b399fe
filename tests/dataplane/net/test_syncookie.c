/* SPDX-License-Identifier: MIT */
/*
 * test_syncookie.c - SYN cookies (RFC 4987): a full backlog makes the stack answer with a
 * stateless cookie SYN-ACK; the final ACK creates the connection with the encoded MSS (and,
 * with timestamps, window scale and SACK); forged, misdirected and expired ACKs do not.
 */
#include "tests/dataplane/net/nettest.h"

struct cookie {
	uint32_t isn, tsval;
	bool ws, ts, sack;
	uint16_t mss;
};

/* Fill the backlog of 2 with two embryonic connections. */
static void fill_backlog(struct tenv *e)
{
	for (uint16_t p = 1; p <= 2; p++) {
		struct tseg s = {.sport = p, .dport = 25, .seq = 100, .flags = F_SYN, .wnd = 100};

		tenv_send(e, &s);
		tenv_drain(e);
	}
}

static bool get_cookie(struct tenv *e, uint16_t sport, uint32_t seq, bool opts, uint16_t mss,
                       struct cookie *ck)
{
	struct tseg s = {.sport = sport, .dport = 25, .seq = seq, .flags = F_SYN, .wnd = 65535};

	nt_opt_mss(&s, mss);
	if (opts) {
		nt_opt_sackok(&s);
		nt_opt_ts(&s, 9000, 0);
		nt_opt_ws(&s, 7);
	}
	tenv_send(e, &s);
	if (!tenv_take(e) || e->pkt.flags != (F_SYN | F_ACK))
		return false;
	ck->isn = e->pkt.seq;
	ck->tsval = e->pkt.tsval;
	ck->ts = e->pkt.has_ts;
	ck->ws = e->pkt.has_ws;
	ck->sack = e->pkt.has_sackok;
	ck->mss = e->pkt.mss;
	return true;
}

static void final_ack(struct tenv *e, uint16_t sport, uint32_t seq, uint32_t ack, bool ts,
                      uint32_t tsecr, const char *data)
{
	struct tseg s = {.sport = sport,
	                 .dport = 25,
	                 .seq = seq,
	                 .ack = ack,
	                 .flags = F_ACK,
	                 .wnd = 100,
	                 .data = data,
	                 .len = data ? (uint32_t)strlen(data) : 0};

	if (ts)
		nt_opt_ts(&s, 9001, tsecr);
	tenv_send(e, &s);
}

static void test_cookie_with_options(void)
{
	struct tenv e;
	struct cookie ck;
	struct tcp_info ti;
	const struct net_counters *cnt;

	tenv_config(&e);
	e.cfg.syn_backlog = 2;
	tenv_start(&e);
	tcp_listen(e.nc, 25);
	tenv_arp_prime(&e);
	cnt = net_core_counters(e.nc);
	fill_backlog(&e);
	CHECK(net_core_conns(e.nc) == 2 && cnt->tcp_cookie_tx == 0, "backlog full, no cookie yet");
	CHECK(get_cookie(&e, 3000, 5000, true, 1400, &ck), "cookie SYN-ACK");
	CHECK(cnt->tcp_cookie_tx == 1 && net_core_conns(e.nc) == 2, "stateless");
	CHECK(ck.mss == 1460 && ck.ts && ck.ws && ck.sack, "options offered with timestamps");
	CHECK((ck.tsval & 0x3f) == (0x20 | 0x10 | 7), "TSval carries ws and sack: %#x",
	      ck.tsval & 0x3f);
	CHECK((ck.isn >> 24 & 7) == 5, "MSS index for 1400: %u", ck.isn >> 24 & 7);
	e.now += 20000;
	final_ack(&e, 3000, 5001, ck.isn + 1, true, ck.tsval, "EHLO x\r\n");
	CHECK(cnt->tcp_cookie_ok == 1 && e.app.n == 1 && e.app.conn[0].accepted,
	      "final ACK creates the connection");
	if (e.app.n != 1)
		goto out;
	CHECK(e.app.conn[0].rxlen == 8 && memcmp(e.app.conn[0].rx, "EHLO x\r\n", 8) == 0,
	      "data on the final ACK delivered");
	tcp_get_info(e.nc, e.app.conn[0].c, &ti);
	CHECK(ti.mss == 1400 && ti.snd_wscale == 7 && ti.sack && ti.timestamps,
	      "options restored: mss %u ws %u", ti.mss, ti.snd_wscale);
	CHECK(ti.snd_una == ck.isn + 1 && ti.rcv_nxt == 5001 + 8, "sequence state");
	CHECK(ti.snd_wnd == 100u << 7, "window scaled");
	{
		ssize_t n = tcp_send(e.nc, e.app.conn[0].c, "250 ok\r\n", 8);

		tenv_poll(&e);
		CHECK(n == 8 && tenv_take(&e) && e.pkt.seq == ck.isn + 1 && e.pkt.len == 8 &&
		          e.pkt.ack == 5009,
		      "reply from the cookie connection");
		CHECK(e.pkt.has_ts && e.pkt.tsecr == 9001 &&
		          !((int32_t)(e.pkt.tsval - ck.tsval) < 0),
		      "timestamps continue monotonically");
	}
out:
	tenv_stop(&e);
}

static void test_cookie_plain_and_forged(void)
{
	struct tenv e;
	struct cookie ck;
	const struct net_counters *cnt;
	struct tcp_info ti;

	tenv_config(&e);
	e.cfg.syn_backlog = 2;
	tenv_start(&e);
	tcp_listen(e.nc, 25);
	tenv_arp_prime(&e);
	cnt = net_core_counters(e.nc);
	fill_backlog(&e);
	CHECK(get_cookie(&e, 3001, 7000, false, 1000, &ck), "cookie");
	CHECK(!ck.ts && !ck.ws && !ck.sack, "without timestamps only MSS is offered");
	/* forged: wrong acknowledgment number */
	final_ack(&e, 3001, 7001, ck.isn + 2, false, 0, NULL);
	CHECK(net_core_conns(e.nc) == 2 && e.app.n == 0 && cnt->tcp_cookie_bad == 1,
	      "forged ACK creates nothing");
	CHECK(tenv_take(&e) && e.pkt.flags == F_RST && e.pkt.seq == ck.isn + 2, "and gets a RST");
	/* right cookie, other port or other sequence number */
	final_ack(&e, 3002, 7001, ck.isn + 1, false, 0, NULL);
	final_ack(&e, 3001, 7501, ck.isn + 1, false, 0, NULL);
	CHECK(e.app.n == 0 && cnt->tcp_cookie_bad == 3, "cookie bound to tuple and peer ISN");
	tenv_drain(&e);
	/* valid */
	final_ack(&e, 3001, 7001, ck.isn + 1, false, 0, NULL);
	CHECK(e.app.n == 1 && cnt->tcp_cookie_ok == 1, "valid cookie accepted");
	if (e.app.n == 1) {
		tcp_get_info(e.nc, e.app.conn[0].c, &ti);
		CHECK(ti.mss == 536 && !ti.timestamps && ti.snd_wscale == 0,
		      "MSS 1000 rounds down to 536: %u", ti.mss);
	}
	tenv_stop(&e);
}

static void test_cookie_age(void)
{
	struct tenv e;
	struct cookie a, b;
	const struct net_counters *cnt;

	tenv_config(&e);
	e.cfg.syn_backlog = 2;
	e.cfg.rto_init_ms = 200000; /* keep the embryonic connections quiet */
	e.cfg.rto_max_ms = 200000;
	tenv_start(&e);
	tcp_listen(e.nc, 25);
	tenv_arp_prime(&e);
	cnt = net_core_counters(e.nc);
	fill_backlog(&e);
	CHECK(get_cookie(&e, 4000, 1, false, 1460, &a), "cookie a");
	CHECK(get_cookie(&e, 4001, 1, false, 1460, &b), "cookie b");
	e.now += 70ull * 1000000; /* next period: still valid */
	final_ack(&e, 4000, 2, a.isn + 1, false, 0, NULL);
	CHECK(cnt->tcp_cookie_ok == 1, "cookie of the previous period accepted");
	e.now += 70ull * 1000000; /* two periods later: expired */
	final_ack(&e, 4001, 2, b.isn + 1, false, 0, NULL);
	CHECK(cnt->tcp_cookie_ok == 1 && cnt->tcp_cookie_bad == 1, "expired cookie refused");
	tenv_stop(&e);
}

static void test_pool_full(void)
{
	struct tenv e;
	struct cookie ck;
	const struct net_counters *cnt;

	tenv_config(&e);
	e.cfg.max_conns = 2;
	tenv_start(&e);
	tcp_listen(e.nc, 25);
	tenv_arp_prime(&e);
	cnt = net_core_counters(e.nc);
	fill_backlog(&e);
	CHECK(get_cookie(&e, 5000, 1, false, 1460, &ck) && cnt->tcp_cookie_tx == 1,
	      "no memory: cookie");
	final_ack(&e, 5000, 2, ck.isn + 1, false, 0, NULL);
	CHECK(e.app.n == 0 && !tenv_take(&e), "valid cookie, still no memory: silently dropped");
	tenv_stop(&e);
}

int main(void)
{
	test_cookie_with_options();
	test_cookie_plain_and_forged();
	test_cookie_age();
	test_pool_full();
	return nt_report();
}
