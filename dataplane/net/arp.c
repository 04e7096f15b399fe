/* SPDX-License-Identifier: MIT */
/*
 * arp.c - ARP (RFC 826) for one IPv4 address per core, and Ethernet output of IPv4 frames.
 *
 * Internal (net_impl.h): net_arp_init, net_arp_free, net_arp_input, net_eth_output_ip,
 * net_arp_tick.
 *
 * Cache: cfg.arp_entries slots (a power of two), an entry lives in one of NET_ARP_PROBE slots
 * after its hash; when all are taken the entry closest to refresh is replaced. An entry is
 * learnt from any ARP packet addressed to us (request or reply) and refreshed from any ARP
 * packet of a host already cached (RFC 826 "merge"). A valid entry is used for ARP_TTL_MS,
 * then used while a refresh request is outstanding (ARP_TRIES requests a second apart) and
 * dropped if none is answered.
 *
 * Pending queue: frames for a next hop being resolved wait in a per-core array of
 * cfg.arp_pending frames; when full, new frames are dropped (counted). A frame waits at most
 * ARP_HOLD_MS; then it is dropped (counted) and TCP retransmits.
 */
#include "dataplane/net/net_impl.h"

#define ARP_PROBE    8
#define ARP_TTL_MS   60000
#define ARP_RETRY_MS 1000
#define ARP_TRIES    3
#define ARP_HOLD_MS  3500
#define ARP_TICK_MS  100
#define ARP_LEN      28

int net_arp_init(struct net_core *nc)
{
	uint32_t n = ARP_PROBE;

	while (n < nc->cfg.arp_entries && n < (1u << 20))
		n <<= 1;
	nc->arp = calloc(n, sizeof(*nc->arp));
	nc->pend = calloc(nc->cfg.arp_pending, sizeof(*nc->pend));
	if (!nc->arp || !nc->pend)
		return -ENOMEM;
	nc->arp_mask = n - 1;
	return 0;
}

void net_arp_free(struct net_core *nc)
{
	free(nc->arp);
	free(nc->pend);
	nc->arp = NULL;
	nc->pend = NULL;
}

static uint32_t arp_hash(uint32_t ip)
{
	return (ip * 2654435761u) ^ (ip >> 16);
}

static struct net_arp_entry *arp_find(struct net_core *nc, uint32_t ip)
{
	uint32_t h = arp_hash(ip);

	for (uint32_t i = 0; i < ARP_PROBE; i++) {
		struct net_arp_entry *e = &nc->arp[(h + i) & nc->arp_mask];

		if (e->state != NET_ARP_FREE && e->ip == ip)
			return e;
	}
	return NULL;
}

/* A slot for a new entry: a free one, else the valid entry due soonest, else the first. */
static struct net_arp_entry *arp_slot(struct net_core *nc, uint32_t ip)
{
	uint32_t h = arp_hash(ip);
	struct net_arp_entry *victim = NULL;

	for (uint32_t i = 0; i < ARP_PROBE; i++) {
		struct net_arp_entry *e = &nc->arp[(h + i) & nc->arp_mask];

		if (e->state == NET_ARP_FREE)
			return e;
		if (e->state == NET_ARP_VALID &&
		    (!victim || SEQ_LT(e->expire_ms, victim->expire_ms)))
			victim = e;
	}
	return victim ? victim : &nc->arp[h & nc->arp_mask];
}

static void arp_send(struct net_core *nc, uint16_t op, const uint8_t *tha, uint32_t tpa)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t zero[6];
	struct net_frame f;
	uint8_t *p;

	if (net_tx_alloc(nc, &f) != 0)
		return;
	p = f.data;
	memcpy(p, op == 1 ? bcast : tha, 6);
	memcpy(p + 6, nc->port.mac, 6);
	net_wr16(p + 12, NET_ETHERTYPE_ARP);
	p += NET_ETH_HLEN;
	net_wr16(p, 1);
	net_wr16(p + 2, NET_ETHERTYPE_IP);
	p[4] = 6;
	p[5] = 4;
	net_wr16(p + 6, op);
	memcpy(p + 8, nc->port.mac, 6);
	net_wr32(p + 14, nc->cfg.ip);
	memcpy(p + 18, op == 1 ? zero : tha, 6);
	net_wr32(p + 24, tpa);
	f.len = 60; /* minimum Ethernet frame without FCS; bytes after ARP_LEN are zero padding */
	memset(p + ARP_LEN, 0, f.len - NET_ETH_HLEN - ARP_LEN);
	if (op == 1)
		nc->cnt.arp_tx_req++;
	else
		nc->cnt.arp_tx_reply++;
	net_tx_queue(nc, &f);
}

static void eth_fill(struct net_core *nc, struct net_frame *f, const uint8_t *dst)
{
	memcpy(f->data, dst, 6);
	memcpy(f->data + 6, nc->port.mac, 6);
	net_wr16(f->data + 12, NET_ETHERTYPE_IP);
}

/* Send the frames waiting for ip (mac != NULL) or drop them (mac == NULL). */
static void pend_release(struct net_core *nc, uint32_t ip, const uint8_t *mac)
{
	uint32_t j = 0;

	for (uint32_t i = 0; i < nc->npend; i++) {
		struct net_arp_pend *q = &nc->pend[i];
		bool expired = (uint32_t)(nc->now_ms - q->since_ms) >= ARP_HOLD_MS;

		if (q->nexthop == ip && mac) {
			eth_fill(nc, &q->f, mac);
			net_tx_queue(nc, &q->f);
		} else if (q->nexthop == ip || expired) {
			nc->port.ops->tx_free(nc->port.ctx, &q->f);
			nc->cnt.arp_pending_drop++;
		} else {
			nc->pend[j++] = *q;
		}
	}
	nc->npend = j;
}

void net_arp_input(struct net_core *nc, const uint8_t *frame, uint32_t len)
{
	const uint8_t *p = frame + NET_ETH_HLEN;
	struct net_arp_entry *e;
	uint32_t spa, tpa;
	uint16_t op;

	nc->cnt.arp_rx++;
	if (len - NET_ETH_HLEN < ARP_LEN || net_rd16(p) != 1 ||
	    net_rd16(p + 2) != NET_ETHERTYPE_IP || p[4] != 6 || p[5] != 4) {
		nc->cnt.arp_drop_bad++;
		return;
	}
	op = net_rd16(p + 6);
	spa = net_rd32(p + 14);
	tpa = net_rd32(p + 24);
	if ((op != 1 && op != 2) || (p[8] & 1) || spa == nc->cfg.ip) {
		nc->cnt.arp_drop_bad++; /* unknown op, multicast sender, or address conflict */
		return;
	}
	e = spa ? arp_find(nc, spa) : NULL;
	if (!e && spa && tpa == nc->cfg.ip) {
		e = arp_slot(nc, spa);
		if (e->state == NET_ARP_INCOMPLETE)
			pend_release(nc, e->ip, NULL);
		e->ip = spa;
	}
	if (e) {
		memcpy(e->mac, p + 8, 6);
		e->state = NET_ARP_VALID;
		e->tries = 0;
		e->expire_ms = nc->now_ms + ARP_TTL_MS;
		pend_release(nc, spa, e->mac);
	}
	if (op == 1 && tpa == nc->cfg.ip)
		arp_send(nc, 2, p + 8, spa);
}

static uint32_t next_hop(const struct net_core *nc, uint32_t dst)
{
	if (!nc->cfg.gateway || ((dst ^ nc->cfg.ip) & nc->cfg.netmask) == 0)
		return dst;
	return nc->cfg.gateway;
}

static void pend_add(struct net_core *nc, struct net_frame *f, uint32_t hop)
{
	struct net_arp_pend *q;

	if (nc->npend >= nc->cfg.arp_pending) {
		nc->port.ops->tx_free(nc->port.ctx, f);
		nc->cnt.arp_queue_full++;
		return;
	}
	q = &nc->pend[nc->npend++];
	q->f = *f;
	q->nexthop = hop;
	q->since_ms = nc->now_ms;
}

void net_eth_output_ip(struct net_core *nc, struct net_frame *f, uint32_t ip_dst)
{
	uint32_t hop = next_hop(nc, ip_dst);
	struct net_arp_entry *e = arp_find(nc, hop);

	if (e && e->state == NET_ARP_VALID) {
		if (TIME_GEQ(nc->now_ms, e->expire_ms)) {
			/* stale: keep using it while asking again, a second apart */
			e->expire_ms = nc->now_ms + ARP_RETRY_MS;
			if (++e->tries > ARP_TRIES) {
				e->state = NET_ARP_INCOMPLETE;
				e->tries = 1;
			}
			arp_send(nc, 1, NULL, hop);
		}
		if (e->state == NET_ARP_VALID) {
			eth_fill(nc, f, e->mac);
			net_tx_queue(nc, f);
			return;
		}
	}
	if (!e) {
		e = arp_slot(nc, hop);
		if (e->state == NET_ARP_INCOMPLETE)
			pend_release(nc, e->ip, NULL);
		e->ip = hop;
		e->state = NET_ARP_INCOMPLETE;
		e->tries = 1;
		e->expire_ms = nc->now_ms + ARP_RETRY_MS;
		arp_send(nc, 1, NULL, hop);
	}
	pend_add(nc, f, hop);
}

/* Retry or give up unanswered requests; drop frames that waited too long. */
void net_arp_tick(struct net_core *nc)
{
	if ((uint32_t)(nc->now_ms - nc->arp_tick_ms) < ARP_TICK_MS)
		return;
	nc->arp_tick_ms = nc->now_ms;
	for (uint32_t i = 0; i <= nc->arp_mask; i++) {
		struct net_arp_entry *e = &nc->arp[i];

		if (e->state != NET_ARP_INCOMPLETE || SEQ_LT(nc->now_ms, e->expire_ms))
			continue;
		if (e->tries >= ARP_TRIES) {
			e->state = NET_ARP_FREE;
			pend_release(nc, e->ip, NULL);
			continue;
		}
		e->tries++;
		e->expire_ms = nc->now_ms + ARP_RETRY_MS;
		arp_send(nc, 1, NULL, e->ip);
	}
	if (nc->npend)
		pend_release(nc, 0, NULL); /* only expires old frames: no frame waits for 0 */
}
