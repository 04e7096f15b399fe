/* SPDX-License-Identifier: MIT */
/*
 * test_arp.c - ARP: request -> reply, resolution with a bounded pending queue, request
 * retries and give-up, next hop through the gateway, malformed packets, Ethernet filtering.
 */
#include "tests/dataplane/net/nettest.h"

static const uint8_t BC[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, ZERO[6];

static void test_request_reply(void)
{
	struct tenv e;
	uint8_t f[64];
	const struct net_counters *cnt;

	tenv_config(&e);
	tenv_start(&e);
	cnt = net_core_counters(e.nc);
	tenv_inject(&e, f, nt_build_arp(f, 1, PEER_MAC, PEER_IP, ZERO, HOST_IP, BC));
	CHECK(tenv_take(&e), "reply sent");
	CHECK(e.pkt.type == 0x0806 && e.pkt.arp_op == 2, "ARP reply");
	CHECK(memcmp(e.pkt.dst, PEER_MAC, 6) == 0 && memcmp(e.pkt.src, HOST_MAC, 6) == 0,
	      "unicast to the asker");
	CHECK(memcmp(e.pkt.arp_sha, HOST_MAC, 6) == 0 && e.pkt.arp_spa == HOST_IP &&
	          e.pkt.arp_tpa == PEER_IP,
	      "fields");
	CHECK(e.pkt.flen >= 60, "padded to 60 bytes: %u", e.pkt.flen);
	/* for someone else: no reply */
	tenv_inject(&e, f, nt_build_arp(f, 1, PEER_MAC, PEER_IP, ZERO, 0x0a000063u, BC));
	CHECK(!tenv_take(&e), "no reply for another address");
	/* malformed: hardware length 5 */
	nt_build_arp(f, 1, PEER_MAC, PEER_IP, ZERO, HOST_IP, BC);
	f[14 + 4] = 5;
	tenv_inject(&e, f, 60);
	CHECK(!tenv_take(&e) && cnt->arp_drop_bad == 1, "malformed dropped");
	/* truncated */
	nt_build_arp(f, 1, PEER_MAC, PEER_IP, ZERO, HOST_IP, BC);
	tenv_inject(&e, f, 14 + 20);
	CHECK(!tenv_take(&e) && cnt->arp_drop_bad == 2, "truncated dropped");
	/* a frame for another MAC */
	nt_build_arp(f, 1, PEER_MAC, PEER_IP, ZERO, HOST_IP, PEER_MAC);
	tenv_inject(&e, f, 60);
	CHECK(!tenv_take(&e) && cnt->eth_drop_dst == 1, "other destination MAC dropped");
	/* the stack learnt the peer from the first request: a SYN-ACK needs no resolution */
	tcp_listen(e.nc, 25);
	{
		struct tseg s = {.sport = 1234, .dport = 25, .seq = 1, .flags = F_SYN, .wnd = 100};

		tenv_send(&e, &s);
		CHECK(tenv_take(&e) && e.pkt.type == 0x0800 && memcmp(e.pkt.dst, PEER_MAC, 6) == 0,
		      "SYN-ACK straight to the learnt MAC");
	}
	tenv_stop(&e);
}

static void test_resolve(void)
{
	struct tenv e;
	uint8_t f[64];
	const struct net_counters *cnt;

	tenv_config(&e);
	e.cfg.arp_pending = 4;
	tenv_start(&e);
	cnt = net_core_counters(e.nc);
	for (int i = 0; i < 6; i++)
		CHECK(tcp_connect(e.nc, PEER_IP, 25, NULL, e.now) != NULL, "connect %d", i);
	tenv_poll(&e);
	CHECK(tenv_take(&e) && e.pkt.type == 0x0806 && e.pkt.arp_op == 1, "ARP request");
	CHECK(memcmp(e.pkt.dst, BC, 6) == 0 && e.pkt.arp_tpa == PEER_IP && e.pkt.arp_spa == HOST_IP,
	      "broadcast who-has PEER");
	CHECK(!tenv_take(&e), "one request for six frames");
	CHECK(cnt->arp_queue_full == 2, "queue of 4: 2 dropped (%lu)",
	      (unsigned long)cnt->arp_queue_full);
	tenv_inject(&e, f, nt_build_arp(f, 2, PEER_MAC, PEER_IP, HOST_MAC, HOST_IP, HOST_MAC));
	for (int i = 0; i < 4; i++)
		CHECK(tenv_take(&e) && e.pkt.flags == F_SYN && memcmp(e.pkt.dst, PEER_MAC, 6) == 0,
		      "queued SYN %d sent on resolution", i);
	CHECK(!tenv_take(&e), "no more");
	/* the two dropped SYNs come back with their retransmission */
	CHECK(tenv_run_until_tx(&e, 2000) == 1000, "SYN RTO");
	{
		int syns = 0;

		while (tenv_take(&e))
			syns += e.pkt.flags == F_SYN;
		CHECK(syns == 6, "all six SYNs retransmitted: %d", syns);
	}
	tenv_stop(&e);
}

static void test_retry_giveup(void)
{
	struct tenv e;
	uint32_t t[4], n = 0;
	const struct net_counters *cnt;

	tenv_config(&e);
	e.cfg.syn_retries = 1;
	e.cfg.rto_init_ms = 10000;
	tenv_start(&e);
	cnt = net_core_counters(e.nc);
	tcp_connect(e.nc, PEER_IP, 25, NULL, e.now);
	tenv_poll(&e);
	CHECK(tenv_take(&e) && e.pkt.arp_op == 1, "request");
	while (n < 4) {
		uint32_t ms = tenv_run_until_tx(&e, 5000);

		if (!tenv_take(&e))
			break;
		CHECK(e.pkt.type == 0x0806 && e.pkt.arp_op == 1, "a retry");
		t[n++] = ms;
	}
	CHECK(n == 2, "two retries: %u", n);
	CHECK(n == 2 && t[0] >= 1000 && t[0] <= 1100 && t[1] >= 1000 && t[1] <= 1100,
	      "a second apart");
	tenv_advance(&e, 1200);
	CHECK(cnt->arp_pending_drop == 1, "the waiting SYN dropped after the last try: %lu",
	      (unsigned long)cnt->arp_pending_drop);
	tenv_stop(&e);
}

static void test_gateway(void)
{
	struct tenv e;
	uint8_t f[64];
	static const uint8_t GW_MAC[6] = {0x02, 0, 0, 0, 0, 0xfe};

	tenv_config(&e);
	e.cfg.gateway = 0x0a0000feu;
	tenv_start(&e);
	tcp_connect(e.nc, 0xc0000207u, 25, NULL, e.now);
	tenv_poll(&e);
	CHECK(tenv_take(&e) && e.pkt.arp_op == 1 && e.pkt.arp_tpa == 0x0a0000feu,
	      "resolve the gateway, not the destination");
	tenv_inject(&e, f, nt_build_arp(f, 2, GW_MAC, 0x0a0000feu, HOST_MAC, HOST_IP, HOST_MAC));
	CHECK(tenv_take(&e) && e.pkt.flags == F_SYN && memcmp(e.pkt.dst, GW_MAC, 6) == 0 &&
	          e.pkt.dip == 0xc0000207u,
	      "SYN to the gateway's MAC for the remote address");
	tenv_stop(&e);
}

static void test_reply_from_unknown_ignored(void)
{
	struct tenv e;
	uint8_t f[64];

	tenv_config(&e);
	tenv_start(&e);
	/* an unsolicited reply aimed at someone else must not populate the cache */
	tenv_inject(&e, f, nt_build_arp(f, 2, PEER_MAC, PEER_IP, ZERO, 0x0a000063u, BC));
	tcp_connect(e.nc, PEER_IP, 25, NULL, e.now);
	tenv_poll(&e);
	CHECK(tenv_take(&e) && e.pkt.type == 0x0806, "still resolves");
	tenv_stop(&e);
}

int main(void)
{
	test_request_reply();
	test_resolve();
	test_retry_giveup();
	test_gateway();
	test_reply_from_unknown_ignored();
	return nt_report();
}
