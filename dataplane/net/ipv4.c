/* SPDX-License-Identifier: MIT */
/*
 * ipv4.c - IPv4 input validation, ICMP echo reply, and the IPv4 header of outgoing frames.
 *
 * Internal (net_impl.h): net_ipv4_input, net_ipv4_header, net_pseudo_sum.
 *
 * Input checks, each counted when it fails: header length and version, total length within
 * the frame (Ethernet padding is trimmed), header checksum (unless the port vouched for it),
 * no fragments (MF or an offset: dropped, we do not reassemble), destination = our address,
 * source not 0/broadcast/multicast/loopback/our own (a SYN-ACK must never go to such an
 * address). IP options are skipped. Only TCP and ICMP are accepted.
 *
 * ICMP: echo requests get an echo reply with the same identifier, sequence and data; other
 * types are counted and ignored (no PMTU discovery: MSS comes from the peer and the MTU).
 */
#include "dataplane/net/net_impl.h"

uint32_t net_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint32_t len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}

void net_ipv4_header(struct net_core *nc, struct net_frame *f, uint8_t *p, uint8_t proto,
                     uint32_t src, uint32_t dst, uint32_t plen)
{
	p[0] = 0x45;
	p[1] = 0;
	net_wr16(p + 2, (uint16_t)(NET_IP_HLEN + plen));
	net_wr16(p + 4, nc->ip_id++);
	net_wr16(p + 6, 0x4000); /* DF */
	p[8] = 64;
	p[9] = proto;
	net_wr16(p + 10, 0);
	net_wr32(p + 12, src);
	net_wr32(p + 16, dst);
	if (nc->port.caps & NET_PORT_TX_IP_CKSUM)
		f->flags |= NET_F_TX_IP_CKSUM;
	else
		net_wr16(p + 10, net_cksum_fold(net_cksum_add(0, p, NET_IP_HLEN)));
}

static bool bad_source(const struct net_core *nc, uint32_t src)
{
	uint32_t bcast = nc->cfg.ip | ~nc->cfg.netmask;

	return src == 0 || src == 0xffffffffu || (src >> 28) == 0xe || (src >> 24) == 127 ||
	       src == nc->cfg.ip || (nc->cfg.netmask != 0xffffffffu && src == bcast);
}

static void icmp_input(struct net_core *nc, const struct net_frame *in, const uint8_t *ip,
                       uint32_t ihl, uint32_t len)
{
	const uint8_t *icmp = ip + ihl;
	uint32_t ilen = len - ihl;
	struct net_frame f;
	uint8_t *p;

	nc->cnt.icmp_rx++;
	if (ilen < 8 || (in->flags & NET_F_RX_L4_BAD) ||
	    (!(in->flags & NET_F_RX_L4_GOOD) && net_cksum_fold(net_cksum_add(0, icmp, ilen)))) {
		nc->cnt.icmp_drop_cksum++;
		return;
	}
	if (icmp[0] != 8 || icmp[1] != 0 || ilen > (uint32_t)nc->port.mtu - NET_IP_HLEN) {
		nc->cnt.icmp_drop_other++;
		return;
	}
	if (net_tx_alloc(nc, &f) != 0)
		return;
	p = f.data + NET_ETH_HLEN;
	net_ipv4_header(nc, &f, p, NET_IPPROTO_ICMP, nc->cfg.ip, net_rd32(ip + 12), ilen);
	p += NET_IP_HLEN;
	memcpy(p, icmp, ilen);
	p[0] = 0;
	net_wr16(p + 2, 0);
	net_wr16(p + 2, net_cksum_fold(net_cksum_add(0, p, ilen)));
	f.len = NET_ETH_HLEN + NET_IP_HLEN + ilen;
	nc->cnt.icmp_echo_reply++;
	net_eth_output_ip(nc, &f, net_rd32(ip + 12));
}

void net_ipv4_input(struct net_core *nc, const struct net_frame *f, const uint8_t *ip, uint32_t len)
{
	uint32_t ihl, tot;

	nc->cnt.ip_rx++;
	if (len < NET_IP_HLEN || (ip[0] >> 4) != 4) {
		nc->cnt.ip_drop_hdr++;
		return;
	}
	ihl = (uint32_t)(ip[0] & 0xf) * 4;
	tot = net_rd16(ip + 2);
	if (ihl < NET_IP_HLEN || ihl > len || tot < ihl || tot > len) {
		nc->cnt.ip_drop_hdr++;
		return;
	}
	if ((f->flags & NET_F_RX_IP_BAD) ||
	    (!(f->flags & NET_F_RX_IP_GOOD) && net_cksum_fold(net_cksum_add(0, ip, ihl)))) {
		nc->cnt.ip_drop_cksum++;
		return;
	}
	if (net_rd16(ip + 6) & 0x3fff) {
		nc->cnt.ip_drop_frag++;
		return;
	}
	if (net_rd32(ip + 16) != nc->cfg.ip) {
		nc->cnt.ip_drop_dst++;
		return;
	}
	if (bad_source(nc, net_rd32(ip + 12))) {
		nc->cnt.ip_drop_src++;
		return;
	}
	if (ip[9] == NET_IPPROTO_TCP) {
		if (f->flags & NET_F_RX_L4_BAD) {
			nc->cnt.tcp_drop_cksum++;
			return;
		}
		tcp_input(nc, ip, ihl, tot, (f->flags & NET_F_RX_L4_GOOD) != 0);
	} else if (ip[9] == NET_IPPROTO_ICMP) {
		icmp_input(nc, f, ip, ihl, tot);
	} else {
		nc->cnt.ip_drop_proto++;
	}
}
