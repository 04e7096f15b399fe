/* SPDX-License-Identifier: MIT */
/*
 * test_ipv4.c - IPv4 and ICMP: echo reply, header validation (version, lengths, checksum),
 * fragments dropped and counted, bad TCP checksums dropped and counted, source address
 * sanity, checksum offload flags in both directions.
 */
#include <unistd.h>

#include "tests/dataplane/net/nettest.h"

static void test_echo(void)
{
	struct tenv e;
	uint8_t f[2048], payload[300];
	const struct net_counters *cnt;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 31);
	tenv_config(&e);
	tenv_start(&e);
	tenv_arp_prime(&e);
	cnt = net_core_counters(e.nc);
	tenv_inject(&e, f, nt_build_echo(f, 0x77, 9, payload, sizeof(payload), false));
	CHECK(tenv_take(&e), "echo reply");
	CHECK(e.pkt.proto == 1 && e.pkt.icmp_type == 0, "type 0");
	CHECK(e.pkt.icmp_id == 0x77 && e.pkt.icmp_seq == 9, "id and sequence");
	CHECK(e.pkt.len == sizeof(payload) && memcmp(e.pkt.data, payload, sizeof(payload)) == 0,
	      "same data");
	CHECK(e.pkt.ip_ok && e.pkt.l4_ok, "checksums");
	CHECK(e.pkt.sip == HOST_IP && e.pkt.dip == PEER_IP && memcmp(e.pkt.dst, PEER_MAC, 6) == 0,
	      "back to the sender");
	/* odd length */
	tenv_inject(&e, f, nt_build_echo(f, 1, 2, payload, 7, false));
	CHECK(tenv_take(&e) && e.pkt.l4_ok && e.pkt.len == 7, "odd-length echo");
	tenv_inject(&e, f, nt_build_echo(f, 1, 3, payload, 10, true));
	CHECK(!tenv_take(&e) && cnt->icmp_drop_cksum == 1, "bad ICMP checksum dropped");
	/* not an echo request */
	nt_build_echo(f, 1, 4, payload, 10, false);
	f[34] = 13;
	f[36] = f[37] = 0;
	{
		uint32_t s = nt_sum(0, f + 34, 18);

		nt_w16(f + 36, nt_fold(s));
	}
	tenv_inject(&e, f, 14 + 20 + 18);
	CHECK(!tenv_take(&e) && cnt->icmp_drop_other == 1, "other ICMP ignored");
	CHECK(cnt->icmp_echo_reply == 2, "replies counted");
	tenv_stop(&e);
}

static void test_ip_header_checks(void)
{
	struct tenv e;
	uint8_t f[2048];
	uint32_t n;
	const struct net_counters *cnt;
	struct tseg s = {.sport = 1000, .dport = 25, .seq = 1, .flags = F_SYN, .wnd = 100};

	tenv_config(&e);
	tenv_start(&e);
	tenv_arp_prime(&e);
	tcp_listen(e.nc, 25);
	cnt = net_core_counters(e.nc);

	s.bad_ip_cksum = true;
	tenv_send(&e, &s);
	CHECK(!tenv_take(&e) && cnt->ip_drop_cksum == 1, "bad IP checksum dropped and counted");
	s.bad_ip_cksum = false;

	s.bad_tcp_cksum = true;
	tenv_send(&e, &s);
	CHECK(!tenv_take(&e) && cnt->tcp_drop_cksum == 1, "bad TCP checksum dropped and counted");
	s.bad_tcp_cksum = false;

	s.frag = 0x2000; /* MF */
	tenv_send(&e, &s);
	s.frag = 0x0010; /* offset */
	tenv_send(&e, &s);
	CHECK(!tenv_take(&e) && cnt->ip_drop_frag == 2, "fragments dropped and counted");
	s.frag = 0;

	n = nt_build_tcp(f, &s);
	f[14] = 0x65; /* version 6 */
	tenv_inject(&e, f, n);
	nt_build_tcp(f, &s);
	f[14] = 0x44; /* IHL 4 */
	tenv_inject(&e, f, n);
	nt_build_tcp(f, &s);
	nt_w16(f + 16, (uint16_t)(n - 14 + 1)); /* total length past the frame */
	tenv_inject(&e, f, n);
	tenv_inject(&e, f, 14 + 10); /* truncated header */
	CHECK(!tenv_take(&e) && cnt->ip_drop_hdr == 4, "bad headers: %lu",
	      (unsigned long)cnt->ip_drop_hdr);

	s.dip = 0x0a000009u;
	tenv_send(&e, &s);
	CHECK(!tenv_take(&e) && cnt->ip_drop_dst == 1, "not for us");
	s.dip = 0;
	s.sip = 0x0a0000ffu; /* subnet broadcast as source */
	tenv_send(&e, &s);
	s.sip = 0xe0000001u; /* multicast */
	tenv_send(&e, &s);
	s.sip = HOST_IP; /* ourselves */
	tenv_send(&e, &s);
	CHECK(!tenv_take(&e) && cnt->ip_drop_src == 3, "bad sources: %lu",
	      (unsigned long)cnt->ip_drop_src);
	s.sip = 0;

	/* Ethernet padding after the IP datagram is ignored (checksum still right) */
	n = nt_build_tcp(f, &s);
	memset(f + n, 0xee, 10);
	tenv_inject(&e, f, n + 10);
	CHECK(tenv_take(&e) && e.pkt.flags == (F_SYN | F_ACK), "padded frame accepted");
	CHECK(net_core_conns(e.nc) == 1, "one connection");
	tenv_stop(&e);
}

static void test_offload(void)
{
	struct tenv e;
	uint8_t f[2048];
	uint32_t flags = 0, n;
	struct tseg s = {.sport = 1000, .dport = 25, .seq = 1, .flags = F_SYN, .wnd = 100};
	const struct net_counters *cnt;

	tenv_config(&e);
	tenv_start(&e);
	net_core_destroy(e.nc);
	/* recreate with the port announcing offload */
	{
		struct net_port p = e.mp.port;

		p.caps = NET_PORT_TX_IP_CKSUM | NET_PORT_TX_TCP_CKSUM;
		e.nc = net_core_create(&e.cfg, &p, &tapp_ops, &e.app);
		e.app.nc = e.nc;
	}
	cnt = net_core_counters(e.nc);
	tenv_arp_prime(&e);
	tcp_listen(e.nc, 25);
	tenv_send(&e, &s);
	n = net_memport_take(&e.mp, f, sizeof(f), &flags);
	CHECK(n > 0 && (flags & NET_F_TX_IP_CKSUM) && (flags & NET_F_TX_TCP_CKSUM),
	      "offload requested: %#x", flags);
	CHECK(nt_r16(f + 24) == 0, "IP checksum left to the port");
	{
		uint32_t tl = nt_r16(f + 16) - 20;
		uint32_t ps = nt_sum(0, f + 26, 8) + 6 + tl;

		while (ps >> 16)
			ps = (ps & 0xffff) + (ps >> 16);
		CHECK(nt_r16(f + 34 + 16) == ps, "TCP field holds the pseudo-header sum");
	}
	/* receive side: a port that vouches for the checksum skips the software check... */
	s.sport = 1001;
	s.bad_tcp_cksum = true;
	n = nt_build_tcp(f, &s);
	net_memport_inject(&e.mp, f, n, NET_F_RX_IP_GOOD | NET_F_RX_L4_GOOD);
	tenv_poll(&e);
	CHECK(net_memport_take(&e.mp, f, sizeof(f), NULL) > 0, "trusted the port");
	/* ...and one that flags a bad checksum drops the frame */
	s.sport = 1002;
	s.bad_tcp_cksum = false;
	n = nt_build_tcp(f, &s);
	net_memport_inject(&e.mp, f, n, NET_F_RX_L4_BAD);
	tenv_poll(&e);
	net_memport_inject(&e.mp, f, n, NET_F_RX_IP_BAD);
	tenv_poll(&e);
	CHECK(net_memport_pending(&e.mp) == 0 && cnt->tcp_drop_cksum == 1 &&
	          cnt->ip_drop_cksum == 1,
	      "port-flagged bad checksums dropped");
	tenv_stop(&e);
}

/* net_cksum_add against the byte-wise reference, every length and alignment. */
static void test_cksum(void)
{
	static uint8_t buf[2700]; /* 990 + 7 + 1600 */
	uint32_t x = 1;
	int bad = 0;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	memset(buf + 1000, 0xff, 64); /* runs of 0xff stress the carries */
	for (uint32_t len = 0; len < 1600; len += (len < 80 ? 1 : 37))
		for (uint32_t off = 0; off < 8; off++) {
			uint32_t seed = len * 977u;
			uint16_t ref = nt_fold(nt_sum(seed, buf + 990 + off, len));

			if (net_cksum_fold(net_cksum_add(seed, buf + 990 + off, len)) != ref)
				bad++;
		}
	CHECK(bad == 0, "checksum mismatches: %d", bad);
	{
		/* a partial sum near 2^32 must carry around, not wrap */
		uint64_t r = 0xfffffff0ull;

		for (int i = 0; i < 2000; i += 2)
			r += (uint32_t)(buf[i] << 8 | buf[i + 1]);
		while (r >> 16)
			r = (r & 0xffff) + (r >> 16);
		CHECK(net_cksum_fold(net_cksum_add(0xfffffff0u, buf, 2000)) == (uint16_t)~r,
		      "large partial sum");
	}
}

/* The memport's capture: a pcap header, then one record per frame in either direction. */
static void test_pcap(void)
{
	struct tenv e;
	uint8_t f[256], hdr[24];
	char path[] = "/tmp/sluice-net-pcap-XXXXXX";
	int fd = mkstemp(path);
	FILE *in;
	uint32_t rec[4];
	int n = 0;

	if (fd < 0) {
		CHECK(0, "mkstemp");
		return;
	}
	close(fd);
	tenv_config(&e);
	tenv_start(&e);
	CHECK(net_memport_pcap(&e.mp, path) == 0, "capture on");
	tenv_arp_prime(&e);                                          /* request in, reply out */
	tenv_inject(&e, f, nt_build_echo(f, 1, 1, "abc", 3, false)); /* echo in, reply out */
	tenv_stop(&e);                                               /* closes the file */
	in = fopen(path, "rb");
	CHECK(in && fread(hdr, 1, 24, in) == 24 && nt_r32(hdr) == 0xd4c3b2a1u,
	      "pcap header (little-endian magic)");
	while (in && fread(rec, sizeof(rec), 1, in) == 1 && rec[2] == rec[3] && rec[2] <= 256 &&
	       fread(f, 1, rec[2], in) == rec[2])
		n++;
	CHECK(n == 4, "four frames captured: %d", n);
	if (in)
		fclose(in);
	unlink(path);
}

int main(void)
{
	test_cksum();
	test_pcap();
	test_echo();
	test_ip_header_checks();
	test_offload();
	return nt_report();
}
