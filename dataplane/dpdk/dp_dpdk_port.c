/* SPDX-License-Identifier: MIT */
/*
 * dp_dpdk_port.c - the DPDK side of the DPDK backend: EAL initialisation from the [dpdk]
 * configuration, the ethdev port (one RX/TX queue pair per worker), the mbuf pool, and
 * struct net_port_ops over one queue pair for the TCP stack (dataplane/net/net.h).
 *
 * Public: dp_dpdk_start, dp_dpdk_attach, dp_dpdk_stop (dp_dpdk.h); dp_dpdk_port_ops,
 * dp_dpdk_port_fill, dp_dpdk_port_setup (dp_dpdk_impl.h; the tests drive a ring port with
 * them).
 *
 * Frames: a received frame points into its mbuf's data (no copy); the stack releases it with
 * rx_release (mbuf freed). A transmit frame is a fresh mbuf's data area; tx_burst sets the
 * lengths and the checksum offload requests (l2/l3 lengths) and hands the mbufs to
 * rte_eth_tx_burst; the ones the port does not take stay the stack's. Multi-segment mbufs are
 * offered with their first segment only (the stack drops them as truncated; the pool's
 * buffers hold a full frame, so a port only chains with jumbo frames, which are not set up).
 *
 * Checksums: offloads are turned on only where the port offers them (rx IPv4/TCP checking,
 * tx IPv4/TCP filling); otherwise the stack computes and checks them in software.
 *
 * Errors: 0 or -errno with one message in err naming the step that failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dataplane/dp_worker.h"
#include "dataplane/dpdk/dp_dpdk_impl.h"

#define EAL_ARGS_MAX 64
#define NB_MBUFS     8191
#define MBUF_CACHE   256
#define NB_RXD       1024
#define NB_TXD       1024

static int parse_ip(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

/* The port's IPv4 settings: [dpdk] address, else the first [listen] address. */
static int addresses(struct dp_dpdk *env, const struct dp_conf *conf, char *err, size_t errlen)
{
	const struct dp_dpdk_conf *d = &conf->dpdk;
	const struct dp_worker_conf *wc = &conf->w[0];

	if (d->address[0]) {
		if (parse_ip(d->address, &env->ip) != 0)
			return snprintf(err, errlen, "[dpdk] address: '%s' is not IPv4",
			                d->address),
			       -EINVAL;
	} else if (wc->nlisten && wc->listen[0].ss.ss_family == AF_INET) {
		env->ip = ntohl(((const struct sockaddr_in *)&wc->listen[0].ss)->sin_addr.s_addr);
	}
	if (env->ip == 0)
		return snprintf(err, errlen,
		                "[dpdk] address: not set and no IPv4 [listen] address"),
		       -EINVAL;
	if (parse_ip(d->netmask[0] ? d->netmask : "255.255.255.0", &env->netmask) != 0)
		return snprintf(err, errlen, "[dpdk] netmask: '%s' is not IPv4", d->netmask),
		       -EINVAL;
	if (d->gateway[0] && parse_ip(d->gateway, &env->gateway) != 0)
		return snprintf(err, errlen, "[dpdk] gateway: '%s' is not IPv4", d->gateway),
		       -EINVAL;
	return 0;
}

/* argv for rte_eal_init: the program name, eal_args split on blanks, then the device. */
static int eal_init(struct dp_dpdk *env, const struct dp_dpdk_conf *d, char *err, size_t errlen)
{
	char args[sizeof(d->eal_args)], dev[sizeof(d->port)];
	char *argv[EAL_ARGS_MAX + 4], *save = NULL, *tok;
	int argc = 0;

	memcpy(args, d->eal_args, sizeof(args));
	memcpy(dev, d->port, sizeof(dev));
	argv[argc++] = (char *)"sluiced";
	for (tok = strtok_r(args, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (argc == EAL_ARGS_MAX)
			return snprintf(err, errlen, "[dpdk] eal_args: too many words"), -E2BIG;
		argv[argc++] = tok;
	}
	/* A name like net_xxx0,... is a virtual device; anything else a bus address. */
	argv[argc++] = (char *)(strncmp(dev, "net_", 4) == 0 ? "--vdev" : "-a");
	argv[argc++] = dev;
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0)
		return snprintf(err, errlen, "dpdk: EAL initialisation failed: %s",
		                rte_strerror(rte_errno)),
		       -EINVAL;
	env->eal_ok = 1;
	return 0;
}

static int port_find(struct dp_dpdk *env, const char *devargs, char *err, size_t errlen)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	size_t len = strcspn(devargs, ",");

	if (len >= sizeof(name))
		return snprintf(err, errlen, "[dpdk] port: device name too long"), -EINVAL;
	memcpy(name, devargs, len);
	name[len] = '\0';
	if (rte_eth_dev_get_port_by_name(name, &env->port_id) != 0)
		return snprintf(err, errlen, "[dpdk] port: no ethdev named '%s'", name), -ENODEV;
	return 0;
}

/* Configure env->nq queue pairs and the offloads of env->port_id, create the pool, start. */
int dp_dpdk_port_setup(struct dp_dpdk *env, char *err, size_t errlen)
{
	struct rte_eth_conf pc;
	struct rte_eth_dev_info info;
	struct rte_ether_addr mac;
	uint16_t nrxd = NB_RXD, ntxd = NB_TXD, mtu = 1500;
	int rc, socket = rte_eth_dev_socket_id(env->port_id);

	memset(&pc, 0, sizeof(pc));
	rc = rte_eth_dev_info_get(env->port_id, &info);
	if (rc)
		return snprintf(err, errlen, "dpdk: device info: %s", strerror(-rc)), rc;
	if ((info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0) {
		pc.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
		env->caps |= NET_PORT_TX_IP_CKSUM;
	}
	if ((info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) != 0) {
		pc.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
		env->caps |= NET_PORT_TX_TCP_CKSUM;
	}
	pc.rxmode.offloads =
	    info.rx_offload_capa & (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM);
	env->rx_offloads = (uint32_t)pc.rxmode.offloads;
	rc = rte_eth_dev_configure(env->port_id, (uint16_t)env->nq, (uint16_t)env->nq, &pc);
	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(env->port_id, &nrxd, &ntxd);
	if (rc)
		return snprintf(err, errlen, "dpdk: configure port: %s", strerror(-rc)), rc;
	env->mp = rte_pktmbuf_pool_create("sluice_mbufs", NB_MBUFS, MBUF_CACHE, 0,
	                                  RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (!env->mp)
		return snprintf(err, errlen, "dpdk: mbuf pool: %s", rte_strerror(rte_errno)),
		       -ENOMEM;
	for (uint16_t q = 0; q < env->nq; q++) {
		rc = rte_eth_rx_queue_setup(env->port_id, q, nrxd, (unsigned)socket, NULL, env->mp);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(env->port_id, q, ntxd, (unsigned)socket, NULL);
		if (rc)
			return snprintf(err, errlen, "dpdk: queue %u: %s", q, strerror(-rc)), rc;
	}
	rc = rte_eth_dev_start(env->port_id);
	if (rc)
		return snprintf(err, errlen, "dpdk: start port: %s", strerror(-rc)), rc;
	env->port_ok = 1;
	if (rte_eth_macaddr_get(env->port_id, &mac) == 0)
		memcpy(env->mac, mac.addr_bytes, sizeof(env->mac));
	if (rte_eth_dev_get_mtu(env->port_id, &mtu) != 0 || mtu < 576 || mtu > 9000)
		mtu = 1500;
	env->mtu = mtu;
	return 0;
}

int dp_dpdk_start(struct dp_dpdk **envp, const struct dp_conf *conf, unsigned nworkers, char *err,
                  size_t errlen)
{
	struct dp_dpdk *env;
	int rc;

	*envp = NULL;
	if (nworkers != 1)
		return snprintf(err, errlen,
		                "backend dpdk: one worker only (multi-queue is not done)"),
		       -EINVAL;
	env = calloc(1, sizeof(*env));
	if (!env)
		return snprintf(err, errlen, "out of memory"), -ENOMEM;
	*envp = env;
	env->nq = nworkers;
	rc = addresses(env, conf, err, errlen);
	if (rc == 0)
		rc = eal_init(env, &conf->dpdk, err, errlen);
	if (rc == 0)
		rc = port_find(env, conf->dpdk.port, err, errlen);
	if (rc == 0)
		rc = dp_dpdk_port_setup(env, err, errlen);
	return rc;
}

int dp_dpdk_attach(struct dp_dpdk *env, struct dp_worker *w)
{
	struct dp_dpdk_wk *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->env = env;
	k->w = w;
	k->q.port_id = env->port_id;
	k->q.qid = (uint16_t)w->id;
	k->q.mp = env->mp;
	k->q.rx_offloads = env->rx_offloads;
	w->tp_priv = k;
	return 0;
}

void dp_dpdk_stop(struct dp_dpdk *env)
{
	if (!env)
		return;
	if (env->port_ok) {
		rte_eth_dev_stop(env->port_id);
		rte_eth_dev_close(env->port_id);
	}
	if (env->mp)
		rte_mempool_free(env->mp);
	if (env->eal_ok)
		rte_eal_cleanup();
	free(env);
}

void dp_dpdk_port_fill(const struct dp_dpdk *env, struct dp_dpdk_queue *q, unsigned qid,
                       struct net_port *port)
{
	memset(port, 0, sizeof(*port));
	port->ops = &dp_dpdk_port_ops;
	port->ctx = q;
	port->caps = env->caps;
	port->mtu = env->mtu;
	memcpy(port->mac, env->mac, sizeof(port->mac));
	(void)qid;
}

/* ---- net_port_ops over one queue pair ---------------------------------------------------- */

static uint32_t rx_flags(uint64_t ol)
{
	uint32_t f = 0;

	if ((ol & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		f |= NET_F_RX_IP_GOOD;
	else if ((ol & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD)
		f |= NET_F_RX_IP_BAD;
	if ((ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		f |= NET_F_RX_L4_GOOD;
	else if ((ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_BAD)
		f |= NET_F_RX_L4_BAD;
	return f;
}

static uint32_t port_rx_burst(void *ctx, struct net_frame *f, uint32_t n)
{
	struct dp_dpdk_queue *q = ctx;
	struct rte_mbuf *m[DP_DPDK_BURST];
	uint16_t got;

	if (n > DP_DPDK_BURST)
		n = DP_DPDK_BURST;
	got = rte_eth_rx_burst(q->port_id, q->qid, m, (uint16_t)n);
	for (uint16_t i = 0; i < got; i++) {
		f[i].data = rte_pktmbuf_mtod(m[i], uint8_t *);
		f[i].len = m[i]->data_len; /* first segment only: see the header comment */
		f[i].cap = 0;
		f[i].flags = q->rx_offloads ? rx_flags(m[i]->ol_flags) : 0;
		f[i].priv = m[i];
	}
	return got;
}

static void port_rx_release(void *ctx, struct net_frame *f, uint32_t n)
{
	(void)ctx;
	for (uint32_t i = 0; i < n; i++)
		rte_pktmbuf_free(f[i].priv);
}

static int port_tx_alloc(void *ctx, struct net_frame *f)
{
	struct dp_dpdk_queue *q = ctx;
	struct rte_mbuf *m = rte_pktmbuf_alloc(q->mp);

	if (!m)
		return -ENOBUFS;
	f->data = rte_pktmbuf_mtod(m, uint8_t *);
	f->len = 0;
	f->cap = rte_pktmbuf_tailroom(m);
	f->flags = 0;
	f->priv = m;
	return 0;
}

/* Lengths and offload requests of one outgoing frame (IPv4 in Ethernet II). */
static void tx_prepare(struct rte_mbuf *m, const struct net_frame *f)
{
	m->data_len = (uint16_t)f->len;
	m->pkt_len = f->len;
	m->ol_flags = 0;
	if (!(f->flags & (NET_F_TX_IP_CKSUM | NET_F_TX_TCP_CKSUM)) || f->len < 14 + 20)
		return;
	m->l2_len = 14;
	m->l3_len = (uint64_t)(f->data[14] & 0x0f) * 4;
	m->ol_flags = RTE_MBUF_F_TX_IPV4;
	if (f->flags & NET_F_TX_IP_CKSUM)
		m->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
	if (f->flags & NET_F_TX_TCP_CKSUM)
		m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
}

static uint32_t port_tx_burst(void *ctx, struct net_frame *f, uint32_t n)
{
	struct dp_dpdk_queue *q = ctx;
	struct rte_mbuf *m[DP_DPDK_BURST];
	uint32_t done = 0;

	while (done < n) {
		uint32_t k = n - done < DP_DPDK_BURST ? n - done : DP_DPDK_BURST;
		uint16_t sent;

		for (uint32_t i = 0; i < k; i++) {
			m[i] = f[done + i].priv;
			tx_prepare(m[i], &f[done + i]);
		}
		sent = rte_eth_tx_burst(q->port_id, q->qid, m, (uint16_t)k);
		done += sent;
		if (sent < k) {
			q->tx_full += k - sent;
			break;
		}
	}
	return done;
}

static void port_tx_free(void *ctx, struct net_frame *f)
{
	(void)ctx;
	rte_pktmbuf_free(f->priv);
}

const struct net_port_ops dp_dpdk_port_ops = {
    .rx_burst = port_rx_burst,
    .rx_release = port_rx_release,
    .tx_alloc = port_tx_alloc,
    .tx_burst = port_tx_burst,
    .tx_free = port_tx_free,
};
