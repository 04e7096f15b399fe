// SPDX-License-Identifier: MIT
/*
 * test_dpdk_port.c - the DPDK port adapter (dataplane/dpdk/dp_dpdk_port.c) under the TCP
 * stack, on an in-process ring port (rte_eth_from_rings): frames injected as mbufs into the
 * port's receive ring, the stack's answers read back from its transmit ring.
 *
 * Cases: an ARP request gets a reply with the port's MAC (rx frame read in place from the
 * mbuf, tx lengths set); a SYN gets a SYN-ACK with correct IPv4 and TCP checksums (computed
 * here independently); a SYN with a bad TCP checksum is dropped and counted; the port's
 * checksum verdicts are obeyed (GOOD on a broken checksum: accepted, BAD on a correct one:
 * dropped); with transmit offload announced, the SYN-ACK carries the offload flags, l2/l3
 * lengths and the pseudo-header sum DPDK expects; at the end every mbuf is back in the pool.
 *
 * Needs DPDK's EAL without hugepages (--no-huge); exits 77 when the EAL cannot start.
 */
#include <arpa/inet.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/dpdk/dp_dpdk_impl.h"

static int fails, passes;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			passes++;                                                                  \
		} else {                                                                           \
			fails++;                                                                   \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);                                \
			printf(__VA_ARGS__);                                                       \
			putchar('\n');                                                             \
		}                                                                                  \
	} while (0)

#define OUR_IP  0x0afa0001u /* 10.250.0.1 */
#define PEER_IP 0x0afa0002u
static const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 0x02};

struct ctx {
	struct dp_dpdk env;
	struct dp_dpdk_queue q;
	struct rte_ring *rx, *tx;
	struct net_core *nc;
	uint64_t now;
};

static uint16_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint16_t tcp_sum(const uint8_t *ip, const uint8_t *tcp, size_t len)
{
	uint8_t ph[12];

	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 6;
	ph[10] = (uint8_t)(len >> 8);
	ph[11] = (uint8_t)len;
	return sum16(sum16(0, ph, 12), tcp, len);
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void inject(struct ctx *x, const uint8_t *frame, size_t len, uint64_t ol)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(x->env.mp);

	if (!m || !rte_pktmbuf_append(m, (uint16_t)len)) {
		fails++;
		printf("FAIL: no mbuf\n");
		return;
	}
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), frame, len);
	m->ol_flags = ol;
	CHECK(rte_ring_enqueue(x->rx, m) == 0, "enqueue");
}

/* Run the stack once; returns the frames it sent (caller frees). */
static unsigned poll_out(struct ctx *x, struct rte_mbuf **out, unsigned max)
{
	x->now += 1000;
	net_poll(x->nc, x->now);
	return rte_ring_dequeue_burst(x->tx, (void **)out, max, NULL);
}

static void free_all(struct rte_mbuf **m, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		rte_pktmbuf_free(m[i]);
}

static size_t build_arp(uint8_t *f)
{
	memset(f, 0, 42);
	memset(f, 0xff, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, 0x0806);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, 1);
	memcpy(f + 22, peer_mac, 6);
	put32(f + 28, PEER_IP);
	put32(f + 38, OUR_IP);
	return 42;
}

static size_t build_syn(struct ctx *x, uint8_t *f, uint16_t sport, int good_sum)
{
	uint8_t *ip = f + 14, *tcp = ip + 20;

	memset(f, 0, 54);
	memcpy(f, x->env.mac, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, 40);
	ip[8] = 64;
	ip[9] = 6;
	put32(ip + 12, PEER_IP);
	put32(ip + 16, OUR_IP);
	put16(ip + 10, (uint16_t)~sum16(0, ip, 20));
	put16(tcp, sport);
	put16(tcp + 2, 25);
	put32(tcp + 4, 1000);
	tcp[12] = 5 << 4;
	tcp[13] = 0x02;
	put16(tcp + 14, 65535);
	put16(tcp + 16, (uint16_t)~tcp_sum(ip, tcp, 20));
	if (!good_sum)
		tcp[17] ^= 0x5a;
	return 54;
}

static int app_accept(void *app, struct tcp_conn *c)
{
	(void)app;
	(void)c;
	return 0;
}

static size_t app_recv(void *app, struct tcp_conn *c, const uint8_t *d, size_t n)
{
	(void)app;
	(void)c;
	(void)d;
	return n;
}

static void app_closed(void *app, struct tcp_conn *c, int reason)
{
	(void)app;
	(void)c;
	(void)reason;
}

static const struct tcp_app_ops app_ops = {
    .accept = app_accept, .recv = app_recv, .closed = app_closed};

static int make_core(struct ctx *x, uint32_t caps)
{
	struct net_config cfg;
	struct net_port port;

	if (x->nc)
		net_core_destroy(x->nc);
	net_config_defaults(&cfg);
	cfg.ip = OUR_IP;
	cfg.netmask = 0xffffff00u;
	cfg.max_conns = 64;
	cfg.rx_bufs = cfg.tx_bufs = 16;
	cfg.rx_small_bufs = 16;
	cfg.key_set = 1;
	dp_dpdk_port_fill(&x->env, &x->q, 0, &port);
	port.caps = caps;
	x->nc = net_core_create(&cfg, &port, &app_ops, x);
	return x->nc && tcp_listen(x->nc, 25) == 0 ? 0 : -1;
}

static void check_arp(struct ctx *x)
{
	uint8_t f[64];
	struct rte_mbuf *m[8];
	unsigned n;

	inject(x, f, build_arp(f), 0);
	n = poll_out(x, m, 8);
	CHECK(n == 1, "ARP: %u frames sent, want 1 reply", n);
	if (n == 1) {
		const uint8_t *r = rte_pktmbuf_mtod(m[0], const uint8_t *);

		CHECK(m[0]->data_len == m[0]->pkt_len && m[0]->pkt_len >= 42, "ARP: mbuf lengths");
		CHECK(r[12] == 0x08 && r[13] == 0x06 && r[21] == 2, "ARP: a reply");
		CHECK(memcmp(r + 22, x->env.mac, 6) == 0 && get32(r + 28) == OUR_IP,
		      "ARP: answers with the port's MAC and our address");
		CHECK(memcmp(r, peer_mac, 6) == 0, "ARP: sent to the asker");
	}
	free_all(m, n);
}

/* A SYN in; returns 1 if a SYN-ACK came out (checked: ports, ack, checksums unless offload). */
static int syn_case(struct ctx *x, uint16_t sport, int good_sum, uint64_t ol, int offload)
{
	uint8_t f[64];
	struct rte_mbuf *m[8];
	unsigned n;
	int got = 0;

	inject(x, f, build_syn(x, f, sport, good_sum), ol);
	n = poll_out(x, m, 8);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *r = rte_pktmbuf_mtod(m[i], uint8_t *), *ip = r + 14;
		uint8_t *tcp = ip + (ip[0] & 15) * 4;
		size_t tl = (size_t)(ip[2] << 8 | ip[3]) - (size_t)(ip[0] & 15) * 4;

		if (r[12] != 0x08 || r[13] != 0 || ip[9] != 6 || tcp[13] != 0x12)
			continue;
		got = 1;
		CHECK((tcp[0] << 8 | tcp[1]) == 25 && (tcp[2] << 8 | tcp[3]) == sport,
		      "SYN-ACK: ports");
		CHECK(get32(tcp + 8) == 1001, "SYN-ACK: acknowledges the SYN");
		CHECK(m[i]->pkt_len == 14u + (uint32_t)(ip[2] << 8 | ip[3]),
		      "SYN-ACK: mbuf length");
		if (!offload) {
			CHECK(sum16(0, ip, 20) == 0xffff, "SYN-ACK: IPv4 header checksum");
			CHECK(tcp_sum(ip, tcp, tl) == 0xffff, "SYN-ACK: TCP checksum");
			CHECK(m[i]->ol_flags == 0, "no offload flags without offload");
		} else {
			uint64_t want =
			    RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
			uint16_t ph = rte_ipv4_phdr_cksum((const struct rte_ipv4_hdr *)ip, want);

			CHECK((m[i]->ol_flags & want) == want, "offload: flags %#llx",
			      (unsigned long long)m[i]->ol_flags);
			CHECK(m[i]->l2_len == 14 && m[i]->l3_len == 20, "offload: l2/l3 lengths");
			CHECK(memcmp(tcp + 16, &ph, 2) == 0,
			      "offload: TCP field holds the pseudo-header sum");
		}
	}
	free_all(m, n);
	return got;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path); /* best effort: keep going */
	return 0;
}

/* The EAL's runtime files are under dir: remove the whole tree. */
static void rm_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int eal_start(char *dir)
{
	char prefix[64];
	char *argv[] = {"test",        "-l",       "0",
	                "--no-huge",   "-m",       "128",
	                "--no-shconf", "--no-pci", "--no-telemetry",
	                "--log-level", "1",        "--file-prefix",
	                prefix,        NULL};

	snprintf(prefix, sizeof(prefix), "sluice-tport-%d", (int)getpid());
	if (!mkdtemp(dir))
		return -1;
	setenv("RUNTIME_DIRECTORY", dir, 1);
	return rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0 ? -1 : 0;
}

int main(void)
{
	static struct ctx x;
	char dir[] = "/tmp/sluice-tport-XXXXXX", err[256];
	unsigned avail0;
	uint32_t drops;
	int pid;

	if (eal_start(dir) != 0) {
		rm_tree(dir);
		printf("SKIP: the DPDK EAL does not start here (--no-huge)\n");
		return 77;
	}
	x.rx = rte_ring_create("sl_rx", 256, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	x.tx = rte_ring_create("sl_tx", 256, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	pid = x.rx && x.tx ? rte_eth_from_rings("net_ring_sltest", &x.rx, 1, &x.tx, 1, 0) : -1;
	if (pid < 0) {
		printf("FAIL: ring port\n");
		return 1;
	}
	x.env.port_id = (uint16_t)pid;
	x.env.nq = 1;
	if (dp_dpdk_port_setup(&x.env, err, sizeof(err)) != 0) {
		printf("FAIL: %s\n", err);
		return 1;
	}
	x.q.port_id = x.env.port_id;
	x.q.mp = x.env.mp;
	avail0 = rte_mempool_avail_count(x.env.mp);
	CHECK(make_core(&x, 0) == 0, "net core on the ring port");

	check_arp(&x);
	CHECK(syn_case(&x, 40000, 1, 0, 0), "SYN with a good checksum: SYN-ACK");
	drops = (uint32_t)net_core_counters(x.nc)->tcp_drop_cksum;
	CHECK(!syn_case(&x, 40001, 0, 0, 0), "SYN with a bad TCP checksum: no answer");
	CHECK(net_core_counters(x.nc)->tcp_drop_cksum == drops + 1, "bad checksum counted");

	x.q.rx_offloads = 1; /* the port checks checksums: its verdict is taken */
	CHECK(syn_case(&x, 40002, 0, RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD, 0),
	      "port says GOOD: a broken checksum is not checked again");
	CHECK(!syn_case(&x, 40003, 1, RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_BAD, 0),
	      "port says BAD: dropped");
	x.q.rx_offloads = 0;

	CHECK(make_core(&x, NET_PORT_TX_IP_CKSUM | NET_PORT_TX_TCP_CKSUM) == 0, "offload core");
	check_arp(&x);
	CHECK(syn_case(&x, 40004, 1, 0, 1), "transmit offload: SYN-ACK with offload requests");

	net_core_destroy(x.nc);
	CHECK(rte_mempool_avail_count(x.env.mp) == avail0, "every mbuf back in the pool (%u of %u)",
	      rte_mempool_avail_count(x.env.mp), avail0);
	rte_eth_dev_stop(x.env.port_id);
	rte_eth_dev_close(x.env.port_id);
	rte_mempool_free(x.env.mp);
	rte_eal_cleanup();
	rm_tree(dir);
	printf("test_dpdk_port: %d passed, %d failed\n", passes, fails);
	return fails ? 1 : 0;
}
