/* SPDX-License-Identifier: MIT */
/*
 * test_fuzz_frames.c - mutated frames against a live stack: valid frames of every kind (ARP,
 * ICMP, SYN with options, data, FIN, RST, ACK on an open connection) are mutated (bit flips,
 * random bytes in headers and options, truncation, length fields) and, half of the time,
 * given correct checksums again so that they reach the TCP state machine. Each frame ends at a
 * guard page, so any over-read faults. Afterwards every connection must wind down and every
 * pool must drain. Deterministic (fixed seed) and bounded in count.
 */
#include "tests/common/guard.h"
#include "tests/dataplane/net/nettest.h"

#define ROUNDS 200000 /* NET_FUZZ_ROUNDS and NET_FUZZ_SEED override, for longer local runs */

static uint32_t rng = 20261130;
static struct net_core *fnc; /* the stack under test, for the callbacks */
static uint64_t recvs, accepts;
static struct tcp_conn *live[512];
static int nlive;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng % n;
}

/* An application that takes everything and replies now and then. */
static int f_accept(void *app, struct tcp_conn *c)
{
	(void)app;
	(void)c;
	accepts++;
	if (accepts > 1 && rnd(8) == 0)
		return -1;
	live[nlive++] = c;
	return 0;
}

static size_t f_recv(void *app, struct tcp_conn *c, const uint8_t *d, size_t len)
{
	(void)app;
	(void)d;
	recvs++;
	if (rnd(4) == 0)
		tcp_send(fnc, c, "250 ok\r\n", 8);
	if (rnd(16) == 0)
		tcp_close(fnc, c);
	return rnd(3) ? len : len / 2;
}

static void f_eof(void *app, struct tcp_conn *c)
{
	(void)app;
	tcp_close(fnc, c);
}

static void f_closed(void *app, struct tcp_conn *c, int reason)
{
	(void)app;
	(void)reason;
	for (int i = 0; i < nlive; i++)
		if (live[i] == c) {
			live[i] = live[--nlive];
			return;
		}
	fprintf(stderr, "closed() for an unknown handle\n");
	abort();
}

static const struct tcp_app_ops f_ops = {
    .accept = f_accept, .recv = f_recv, .eof = f_eof, .closed = f_closed};

/* Recompute the IPv4 and TCP/ICMP checksums of a (possibly mangled) frame, within len. */
static void fix_cksums(uint8_t *f, uint32_t len)
{
	uint8_t *ip = f + 14;
	uint32_t ihl, tot, sum;

	if (len < 34 || nt_r16(f + 12) != 0x0800)
		return;
	ihl = (uint32_t)(ip[0] & 15) * 4;
	tot = nt_r16(ip + 2);
	if (ihl < 20 || 14 + ihl > len)
		return;
	nt_w16(ip + 10, 0);
	nt_w16(ip + 10, nt_fold(nt_sum(0, ip, ihl)));
	if (tot < ihl || 14 + tot > len)
		return;
	if (ip[9] == 6 && tot - ihl >= 20) {
		uint8_t *th = ip + ihl;

		nt_w16(th + 16, 0);
		sum = nt_sum(0, ip + 12, 8) + 6 + (tot - ihl);
		nt_w16(th + 16, nt_fold(nt_sum(sum, th, tot - ihl)));
	} else if (ip[9] == 1 && tot - ihl >= 4) {
		nt_w16(ip + ihl + 2, 0);
		nt_w16(ip + ihl + 2, nt_fold(nt_sum(0, ip + ihl, tot - ihl)));
	}
}

static void mutate(uint8_t *f, uint32_t *len)
{
	int n = 1 + (int)rnd(4);

	for (int i = 0; i < n; i++) {
		switch (rnd(6)) {
		case 0: /* flip a bit anywhere */
			f[rnd(*len)] ^= (uint8_t)(1u << rnd(8));
			break;
		case 1: /* a random byte in the IP/TCP headers or options */
			if (*len > 14)
				f[14 + rnd(*len - 14 < 80 ? *len - 14 : 80)] = (uint8_t)rnd(256);
			break;
		case 2: /* truncate */
			*len = 1 + rnd(*len);
			break;
		case 3: /* TCP flags */
			if (*len > 47)
				f[47] = (uint8_t)rnd(64);
			break;
		case 4: /* data offset */
			if (*len > 46)
				f[46] = (uint8_t)(rnd(16) << 4);
			break;
		default: /* sequence or acknowledgment number nudged */
			if (*len > 45)
				f[38 + rnd(8)] += (uint8_t)(rnd(3) - 1);
			break;
		}
	}
}

static uint32_t seeds(uint8_t frames[][1600], uint32_t *lens, uint16_t port, uint32_t isn,
                      uint32_t pseq)
{
	static const uint8_t bc[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, z[6];
	static const uint8_t bad_opts[] = {2, 0, 8, 10, 1};
	uint32_t n = 0;
	struct tseg s = {.sport = 5000, .dport = 25, .seq = 77, .flags = F_SYN, .wnd = 9000};

	lens[n] = nt_build_arp(frames[n], 1, PEER_MAC, PEER_IP, z, HOST_IP, bc);
	n++;
	lens[n] = nt_build_echo(frames[n], 1, 1, "ping", 4, false);
	n++;
	nt_opt_mss(&s, 1200);
	nt_opt_sackok(&s);
	nt_opt_ts(&s, 1, 0);
	nt_opt_ws(&s, 9);
	lens[n] = nt_build_tcp(frames[n], &s);
	n++;
	s.optlen = 0;
	nt_opt_raw(&s, bad_opts, sizeof(bad_opts));
	lens[n] = nt_build_tcp(frames[n], &s);
	n++;
	/* segments of the established connection: successive data, FIN, RST, SYN, bare ACK */
	for (uint8_t j = 0; j < 8; j++) {
		static const uint8_t flags[] = {F_ACK,         F_ACK | F_PSH, F_ACK, F_ACK | F_PSH,
		                                F_ACK | F_FIN, F_RST,         F_SYN, F_ACK};
		struct tseg d = {.sport = port,
		                 .dport = 25,
		                 .seq = pseq + 12u * (j < 4 ? j : 4),
		                 .ack = isn + 1,
		                 .flags = flags[j],
		                 .wnd = 4000,
		                 .data = "DATA 12345\r\n",
		                 .len = j < 4 ? 12 : 0};

		nt_opt_ts(&d, 9000 + j, 0);
		lens[n] = nt_build_tcp(frames[n], &d);
		n++;
	}
	return n;
}

/* A fresh connection from port to fuzz: handshake, then its seed frames. */
static uint32_t open_one(struct tenv *e, uint16_t port, uint8_t frames[][1600], uint32_t *lens)
{
	struct tseg syn = {.sport = port, .dport = 25, .seq = 500, .flags = F_SYN, .wnd = 9000};
	struct tseg ack = {.sport = port, .dport = 25, .seq = 501, .flags = F_ACK, .wnd = 9000};
	uint32_t isn = 0;

	nt_opt_ts(&syn, 8999, 0);
	tenv_send(e, &syn);
	if (tenv_take(e))
		isn = e->pkt.seq;
	ack.ack = isn + 1;
	nt_opt_ts(&ack, 8999, e->pkt.tsval);
	tenv_send(e, &ack);
	tenv_drain(e);
	return seeds(frames, lens, port, isn, 501);
}

int main(void)
{
	struct tenv e;
	struct guard_buf g;
	uint8_t frames[16][1600], work[1600];
	uint32_t lens[16], nseed = 0;
	long rounds = getenv("NET_FUZZ_ROUNDS") ? atol(getenv("NET_FUZZ_ROUNDS")) : ROUNDS;

	if (getenv("NET_FUZZ_SEED"))
		rng = (uint32_t)atol(getenv("NET_FUZZ_SEED")) | 1;
	tenv_config(&e);
	e.cfg.max_conns = 256;
	e.cfg.syn_backlog = 16;
	e.cfg.rx_bufs = 64;
	e.cfg.tx_bufs = 64;
	if (guard_init(&g, 1600) != 0 || net_memport_init(&e.mp, 512, 1500, HOST_MAC) != 0)
		return 1;
	e.nc = fnc = net_core_create(&e.cfg, &e.mp.port, &f_ops, NULL);
	if (!e.nc)
		return 1;
	tcp_listen(e.nc, 25);
	tenv_arp_prime(&e);
	for (long r = 0; r < rounds; r++) {
		uint32_t k, len;
		struct net_frame f = {0};

		if (r % 1000 == 0) /* 200 connections over the run, one fuzzed at a time */
			nseed = open_one(&e, (uint16_t)(6000 + r / 1000), frames, lens);
		k = rnd(nseed);
		len = lens[k];
		memcpy(work, frames[k], len);
		if (rnd(8)) /* now and then the intact frame, to move the connection along */
			mutate(work, &len);
		if (rnd(2))
			fix_cksums(work, len);
		f.data = (uint8_t *)guard_copy(&g, work, len);
		f.len = len;
		net_input(e.nc, &f, 1, e.now);
		if (rnd(8) == 0) {
			e.now += rnd(50000);
			net_flush(e.nc, e.now);
		}
		while (net_memport_take(&e.mp, work, sizeof(work), NULL))
			;
	}
	CHECK(net_core_counters(e.nc)->tcp_rx > (uint64_t)rounds / 4,
	      "many frames reached TCP: %lu", (unsigned long)net_core_counters(e.nc)->tcp_rx);
	CHECK(recvs > 200 && accepts > 150, "deep paths reached: %lu recv, %lu accept",
	      (unsigned long)recvs, (unsigned long)accepts);
	CHECK(net_core_conns(e.nc) <= e.cfg.max_conns, "bounded");
	/* close what is left; the peer is silent: everything must time out and drain */
	for (int i = 0; i < nlive; i++)
		tcp_close(e.nc, live[i]);
	for (int i = 0; i < 10000; i++) {
		e.now += 100000;
		net_flush(e.nc, e.now);
		while (net_memport_take(&e.mp, work, sizeof(work), NULL))
			;
	}
	CHECK(net_core_conns(e.nc) == 0 && nlive == 0, "all connections gone: %u left, %d held",
	      net_core_conns(e.nc), nlive);
	CHECK(net_core_rx_bufs_used(e.nc) == 0 && net_core_tx_bufs_used(e.nc) == 0,
	      "pools drained: rx %u tx %u", net_core_rx_bufs_used(e.nc),
	      net_core_tx_bufs_used(e.nc));
	net_core_destroy(e.nc);
	net_memport_free(&e.mp);
	guard_free(&g);
	return nt_report();
}
