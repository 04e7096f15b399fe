/* SPDX-License-Identifier: MIT */
/*
 * memport.c - the in-memory port of memport.h (tests, simulated links, capture to pcap).
 *
 * Public: net_memport_init, net_memport_free, net_memport_inject, net_memport_take,
 * net_memport_pending, net_memport_pcap. Queues are rings of buffer ids; every buffer is in
 * exactly one place: the free stack, the rx ring, the stack's hands, or the tx ring.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/net/memport.h"

static uint32_t mp_rx_burst(void *ctx, struct net_frame *f, uint32_t n)
{
	struct net_memport *mp = ctx;
	uint32_t i;

	for (i = 0; i < n && mp->rx_count; i++) {
		uint32_t id = mp->rxq[mp->rx_head];

		mp->rx_head = (mp->rx_head + 1) % mp->nbufs;
		mp->rx_count--;
		memset(&f[i], 0, sizeof(f[i]));
		f[i].data = mp->mem + (size_t)id * mp->bufsize;
		f[i].len = mp->len[id];
		f[i].cap = mp->bufsize;
		f[i].flags = mp->flags[id];
		f[i].priv = (void *)(uintptr_t)id;
	}
	return i;
}

static void mp_put(struct net_memport *mp, const struct net_frame *f)
{
	mp->free[mp->nfree++] = (uint32_t)(uintptr_t)f->priv;
}

static void mp_rx_release(void *ctx, struct net_frame *f, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		mp_put(ctx, &f[i]);
}

static int mp_tx_alloc(void *ctx, struct net_frame *f)
{
	struct net_memport *mp = ctx;
	uint32_t id;

	if (!mp->nfree)
		return -ENOBUFS;
	id = mp->free[--mp->nfree];
	f->data = mp->mem + (size_t)id * mp->bufsize;
	f->cap = mp->bufsize;
	f->len = 0;
	f->flags = 0;
	f->priv = (void *)(uintptr_t)id;
	return 0;
}

static void pcap_record(struct net_memport *mp, const uint8_t *p, uint32_t len)
{
	uint32_t h[4] = {(uint32_t)(mp->now_us / 1000000), (uint32_t)(mp->now_us % 1000000), len,
	                 len};

	if (!mp->pcap)
		return;
	fwrite(h, sizeof(h), 1, mp->pcap);
	fwrite(p, 1, len, mp->pcap);
}

static uint32_t mp_tx_burst(void *ctx, struct net_frame *f, uint32_t n)
{
	struct net_memport *mp = ctx;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = (uint32_t)(uintptr_t)f[i].priv;

		mp->len[id] = f[i].len;
		mp->flags[id] = f[i].flags;
		mp->txq[(mp->tx_head + mp->tx_count) % mp->nbufs] = id;
		mp->tx_count++;
		mp->tx_total++;
		pcap_record(mp, f[i].data, f[i].len);
	}
	return n;
}

static void mp_tx_free(void *ctx, struct net_frame *f)
{
	mp_put(ctx, f);
}

static const struct net_port_ops mp_ops = {
    .rx_burst = mp_rx_burst,
    .rx_release = mp_rx_release,
    .tx_alloc = mp_tx_alloc,
    .tx_burst = mp_tx_burst,
    .tx_free = mp_tx_free,
};

int net_memport_init(struct net_memport *mp, uint32_t nbufs, uint16_t mtu, const uint8_t mac[6])
{
	memset(mp, 0, sizeof(*mp));
	if (nbufs < 2 || mtu < 576 || mtu > 9000)
		return -EINVAL;
	mp->nbufs = nbufs;
	mp->bufsize = ((uint32_t)mtu + 14 + 63) & ~63u;
	mp->mem = calloc(nbufs, mp->bufsize);
	mp->free = calloc(nbufs, sizeof(uint32_t));
	mp->len = calloc(nbufs, sizeof(uint32_t));
	mp->flags = calloc(nbufs, sizeof(uint32_t));
	mp->rxq = calloc(nbufs, sizeof(uint32_t));
	mp->txq = calloc(nbufs, sizeof(uint32_t));
	if (!mp->mem || !mp->free || !mp->len || !mp->flags || !mp->rxq || !mp->txq) {
		net_memport_free(mp);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < nbufs; i++)
		mp->free[i] = nbufs - 1 - i;
	mp->nfree = nbufs;
	mp->port.ops = &mp_ops;
	mp->port.ctx = mp;
	mp->port.mtu = mtu;
	memcpy(mp->port.mac, mac, 6);
	return 0;
}

void net_memport_free(struct net_memport *mp)
{
	if (mp->pcap)
		fclose(mp->pcap);
	free(mp->mem);
	free(mp->free);
	free(mp->len);
	free(mp->flags);
	free(mp->rxq);
	free(mp->txq);
	memset(mp, 0, sizeof(*mp));
}

int net_memport_inject(struct net_memport *mp, const void *frame, uint32_t len, uint32_t flags)
{
	uint32_t id;

	if (len > mp->bufsize)
		return -EMSGSIZE;
	if (!mp->nfree)
		return -ENOBUFS;
	id = mp->free[--mp->nfree];
	memcpy(mp->mem + (size_t)id * mp->bufsize, frame, len);
	mp->len[id] = len;
	mp->flags[id] = flags;
	mp->rxq[(mp->rx_head + mp->rx_count) % mp->nbufs] = id;
	mp->rx_count++;
	mp->rx_total++;
	pcap_record(mp, frame, len);
	return 0;
}

uint32_t net_memport_take(struct net_memport *mp, void *out, uint32_t cap, uint32_t *flags)
{
	uint32_t id, len;

	if (!mp->tx_count)
		return 0;
	id = mp->txq[mp->tx_head];
	mp->tx_head = (mp->tx_head + 1) % mp->nbufs;
	mp->tx_count--;
	len = mp->len[id] < cap ? mp->len[id] : cap;
	memcpy(out, mp->mem + (size_t)id * mp->bufsize, len);
	if (flags)
		*flags = mp->flags[id];
	mp->free[mp->nfree++] = id;
	return len;
}

uint32_t net_memport_pending(const struct net_memport *mp)
{
	return mp->tx_count;
}

int net_memport_pcap(struct net_memport *mp, const char *path)
{
	const uint32_t hdr[6] = {0xa1b2c3d4u, 2u | (4u << 16), 0, 0, 65535, 1};

	mp->pcap = fopen(path, "wb");
	if (!mp->pcap)
		return -errno;
	fwrite(hdr, sizeof(hdr), 1, mp->pcap);
	return 0;
}
