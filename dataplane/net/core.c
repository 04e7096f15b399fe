/* SPDX-License-Identifier: MIT */
/*
 * core.c - the per-core stack object: configuration defaults, creation (every pool is
 * allocated here and nowhere else), the poll pass, Ethernet input dispatch, the transmit
 * queue, fixed-size block pools and the Internet checksum.
 *
 * Public (net.h): net_config_defaults, net_core_create, net_core_destroy, net_poll, net_input,
 * net_flush, net_core_counters, net_core_conns, net_core_rx_bufs_used, net_core_rx_small_used,
 * net_core_tx_bufs_used, net_conn_bytes, net_cksum_add, net_cksum_fold.
 * Internal (net_impl.h): net_pool_get/put, net_tx_alloc, net_tx_queue, net_tx_drain.
 *
 * Transmit: frames are queued in nc->txq and handed to the port in bursts of NET_BURST; a
 * frame the port refuses is freed and counted (TCP retransmits; ARP and ICMP are best effort).
 */
#include <sys/random.h>

#include "dataplane/net/net_impl.h"

void net_config_defaults(struct net_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->netmask = 0xffffff00u;
	cfg->max_conns = 16384;
	cfg->rx_bufs = 1024;
	cfg->rx_buf_size = 16384;
	cfg->rx_small_bufs = 16384;
	cfg->rx_small_size = 960; /* + 64 bytes of header = 1 KiB blocks */
	cfg->tx_bufs = 1024;
	cfg->tx_buf_size = 16384;
	cfg->arp_entries = 256;
	cfg->arp_pending = 64;
	cfg->wheel_slots = 4096;
	cfg->syn_backlog = 256;
	cfg->init_cwnd_segs = 10;
	cfg->delack_ms = 40;
	cfg->rto_init_ms = 1000;
	cfg->rto_min_ms = 200;
	cfg->rto_max_ms = 60000;
	cfg->time_wait_ms = 4000;
	cfg->fin_wait2_ms = 15000;
	cfg->challenge_acks = 10;
	cfg->syn_retries = 4;
	cfg->data_retries = 8;
	cfg->opt_wscale = 1;
	cfg->opt_sack = 1;
	cfg->opt_timestamps = 1;
	cfg->eph_lo = 32768;
	cfg->eph_hi = 60999;
}

/* ---- pools ---- */

static int pool_init(struct net_pool *p, uint32_t n, size_t bsize)
{
	p->bsize = (bsize + 63) & ~(size_t)63;
	p->n = n;
	p->nfree = n;
	p->mem = NULL;
	p->free = calloc(n ? n : 1, sizeof(*p->free));
	if (!p->free)
		return -ENOMEM;
	if (n) {
		p->mem = aligned_alloc(64, p->bsize * n);
		if (!p->mem)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++)
		p->free[i] = n - i; /* block ids n..1: block 1 comes out first */
	return 0;
}

static void pool_free(struct net_pool *p)
{
	free(p->mem);
	free(p->free);
	p->mem = NULL;
	p->free = NULL;
}

uint32_t net_pool_get(struct net_pool *p)
{
	if (!p->nfree)
		return 0;
	return p->free[--p->nfree];
}

void net_pool_put(struct net_pool *p, uint32_t id)
{
	if (id == 0 || id > p->n || p->nfree >= p->n)
		NET_PANIC("pool_put: bad block %u (free %u of %u)", id, p->nfree, p->n);
	p->free[p->nfree++] = id;
}

/* ---- checksum ---- */

/*
 * Ones' complement sums do not depend on byte order (RFC 1071 2.B): add native 32-bit halves
 * of 64-bit loads, fold, and swap to network order once at the end. The odd last byte is the
 * first byte of a 16-bit word in memory order. sum is a partial sum in network order.
 */
uint32_t net_cksum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t s = 0;
	uint16_t w = 0;

	for (; len >= 8; len -= 8, p += 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		s += (v & 0xffffffffu) + (v >> 32);
	}
	for (; len >= 2; len -= 2, p += 2) {
		memcpy(&w, p, 2);
		s += w;
	}
	if (len) {
		w = 0;
		memcpy(&w, p, 1);
		s += w;
	}
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	s = ((s & 0xff) << 8) | (s >> 8);
#endif
	return (uint32_t)((uint64_t)sum + s > 0xffffffffu ? ((uint64_t)sum + s) - 0xffffffffu
	                                                  : sum + s);
}

uint16_t net_cksum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ---- creation ---- */

static int config_check(const struct net_config *c, const struct net_port *p,
                        const struct tcp_app_ops *ops)
{
	if (!p || !p->ops || !p->ops->rx_burst || !p->ops->tx_alloc || !p->ops->tx_burst ||
	    !p->ops->tx_free)
		return -EINVAL;
	if (!ops || !ops->recv || !ops->closed)
		return -EINVAL;
	if (p->mtu < 576 || p->mtu > 9000 || c->ip == 0)
		return -EINVAL;
	if (c->max_conns == 0 || c->max_conns > (1u << 26))
		return -EINVAL;
	if (c->rx_small_bufs && (c->rx_small_size == 0 || c->rx_small_size >= c->rx_buf_size))
		return -EINVAL;
	if (c->rx_buf_size < 1024 || c->rx_buf_size > (1u << 30) || c->tx_buf_size < 1024 ||
	    c->tx_buf_size > (1u << 30))
		return -EINVAL;
	if (c->delack_ms >= 500 || c->rto_min_ms == 0 || c->rto_min_ms > c->rto_max_ms ||
	    c->rto_init_ms == 0 || c->rto_max_ms > (1u << 30) || c->time_wait_ms > (1u << 30))
		return -EINVAL;
	if (c->eph_lo == 0 || c->eph_lo > c->eph_hi || c->arp_pending == 0 || c->syn_retries == 0)
		return -EINVAL;
	return 0;
}

static void derive_key(const uint8_t *key, const char *label, uint8_t out[16])
{
	uint8_t buf[24];
	uint64_t a, b;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, label, strnlen(label, 16));
	a = net_siphash(key, buf, sizeof(buf));
	buf[23] = 1;
	b = net_siphash(key, buf, sizeof(buf));
	memcpy(out, &a, 8);
	memcpy(out + 8, &b, 8);
}

static int core_alloc(struct net_core *nc)
{
	const struct net_config *c = &nc->cfg;
	int rc;

	rc = pool_init(&nc->rxpool, c->rx_bufs, sizeof(struct tcp_rxbuf) + c->rx_buf_size);
	if (rc == 0)
		rc = pool_init(&nc->rxspool, c->rx_small_bufs,
		               sizeof(struct tcp_rxbuf) + c->rx_small_size);
	if (rc == 0)
		rc = pool_init(&nc->txpool, c->tx_bufs, sizeof(struct tcp_txbuf) + c->tx_buf_size);
	if (rc == 0)
		rc = net_arp_init(nc);
	if (rc == 0)
		rc = tcp_table_init(nc);
	return rc;
}

struct net_core *net_core_create(const struct net_config *cfg, const struct net_port *port,
                                 const struct tcp_app_ops *ops, void *app)
{
	struct net_core *nc;
	int rc = config_check(cfg, port, ops);

	if (rc) {
		errno = -rc;
		return NULL;
	}
	nc = aligned_alloc(64, (sizeof(*nc) + 63) & ~(size_t)63);
	if (!nc) {
		errno = ENOMEM;
		return NULL;
	}
	memset(nc, 0, sizeof(*nc));
	nc->cfg = *cfg;
	nc->port = *port;
	nc->ops = ops;
	nc->app = app;
	if (!nc->cfg.key_set &&
	    getrandom(nc->cfg.key, sizeof(nc->cfg.key), 0) != (ssize_t)sizeof(nc->cfg.key)) {
		free(nc);
		errno = EIO;
		return NULL;
	}
	derive_key(nc->cfg.key, "hash", nc->hkey);
	derive_key(nc->cfg.key, "isn", nc->ikey);
	derive_key(nc->cfg.key, "cookie", nc->ckey);
	nc->mss_local = (uint16_t)(port->mtu - NET_IP_HLEN - NET_TCP_HLEN);
	while (nc->cfg.opt_wscale && nc->rcv_wscale < TCP_WSCALE_MAX &&
	       (nc->cfg.rx_buf_size >> nc->rcv_wscale) > 65535)
		nc->rcv_wscale++;
	nc->eph_next = cfg->eph_lo;
	rc = core_alloc(nc);
	if (rc) {
		net_core_destroy(nc);
		errno = -rc;
		return NULL;
	}
	return nc;
}

void net_core_destroy(struct net_core *nc)
{
	if (!nc)
		return;
	for (uint32_t i = 0; i < nc->npend; i++)
		nc->port.ops->tx_free(nc->port.ctx, &nc->pend[i].f);
	nc->npend = 0;
	for (uint32_t i = 0; i < nc->ntx; i++)
		nc->port.ops->tx_free(nc->port.ctx, &nc->txq[i]);
	nc->ntx = 0;
	tcp_table_free(nc);
	net_arp_free(nc);
	pool_free(&nc->rxpool);
	pool_free(&nc->rxspool);
	pool_free(&nc->txpool);
	free(nc);
}

/* ---- time, input, flush ---- */

static void set_time(struct net_core *nc, uint64_t now_us)
{
	if (now_us > nc->now_us)
		nc->now_us = now_us;
	nc->now_ms = (uint32_t)(nc->now_us / 1000);
}

static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

void net_input(struct net_core *nc, const struct net_frame *f, uint32_t n, uint64_t now_us)
{
	set_time(nc, now_us);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *p = f[i].data;
		uint16_t type;

		nc->cnt.rx_frames++;
		if (f[i].len < NET_ETH_HLEN) {
			nc->cnt.eth_drop_short++;
			continue;
		}
		if (memcmp(p, nc->port.mac, 6) != 0 && memcmp(p, bcast, 6) != 0) {
			nc->cnt.eth_drop_dst++;
			continue;
		}
		type = net_rd16(p + 12);
		if (type == NET_ETHERTYPE_IP)
			net_ipv4_input(nc, &f[i], p + NET_ETH_HLEN, f[i].len - NET_ETH_HLEN);
		else if (type == NET_ETHERTYPE_ARP)
			net_arp_input(nc, p, f[i].len);
		else
			nc->cnt.eth_drop_type++;
	}
}

void net_flush(struct net_core *nc, uint64_t now_us)
{
	set_time(nc, now_us);
	tcp_timers_run(nc);
	tcp_flush_run(nc);
	net_arp_tick(nc);
	net_tx_drain(nc);
}

uint32_t net_poll(struct net_core *nc, uint64_t now_us)
{
	struct net_frame f[NET_BURST];
	uint32_t n = nc->port.ops->rx_burst(nc->port.ctx, f, NET_BURST);

	if (n) {
		net_input(nc, f, n, now_us);
		if (nc->port.ops->rx_release)
			nc->port.ops->rx_release(nc->port.ctx, f, n);
	}
	net_flush(nc, now_us);
	return n;
}

/* ---- transmit queue ---- */

int net_tx_alloc(struct net_core *nc, struct net_frame *f)
{
	memset(f, 0, sizeof(*f));
	if (nc->port.ops->tx_alloc(nc->port.ctx, f) != 0 ||
	    f->cap < (uint32_t)nc->port.mtu + NET_ETH_HLEN) {
		if (f->data)
			nc->port.ops->tx_free(nc->port.ctx, f);
		nc->cnt.tx_drop_nobuf++;
		return -ENOBUFS;
	}
	f->flags = 0;
	return 0;
}

void net_tx_queue(struct net_core *nc, struct net_frame *f)
{
	nc->txq[nc->ntx++] = *f;
	if (nc->ntx == NET_BURST)
		net_tx_drain(nc);
}

void net_tx_drain(struct net_core *nc)
{
	uint32_t sent;

	if (!nc->ntx)
		return;
	sent = nc->port.ops->tx_burst(nc->port.ctx, nc->txq, nc->ntx);
	if (sent > nc->ntx)
		sent = nc->ntx;
	nc->cnt.tx_frames += sent;
	for (uint32_t i = sent; i < nc->ntx; i++) {
		nc->port.ops->tx_free(nc->port.ctx, &nc->txq[i]);
		nc->cnt.tx_drop_port++;
	}
	nc->ntx = 0;
}

/* ---- accessors ---- */

const struct net_counters *net_core_counters(const struct net_core *nc)
{
	return &nc->cnt;
}

uint32_t net_core_conns(const struct net_core *nc)
{
	return nc->nconns;
}

uint32_t net_core_rx_bufs_used(const struct net_core *nc)
{
	return (nc->rxpool.n - nc->rxpool.nfree) + (nc->rxspool.n - nc->rxspool.nfree);
}

uint32_t net_core_rx_small_used(const struct net_core *nc)
{
	return nc->rxspool.n - nc->rxspool.nfree;
}

uint32_t net_core_tx_bufs_used(const struct net_core *nc)
{
	return nc->txpool.n - nc->txpool.nfree;
}

size_t net_conn_bytes(void)
{
	/* the connection plus one hash bucket (the table has one bucket per connection) */
	return sizeof(struct tcp_conn) + sizeof(uint32_t);
}
