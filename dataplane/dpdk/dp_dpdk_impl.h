/* SPDX-License-Identifier: MIT */
/*
 * dp_dpdk_impl.h - internals of the DPDK backend shared by its two files:
 *   dp_dpdk_port.c  EAL, the ethdev port, the mbuf pool, struct net_port_ops over one queue;
 *   dp_dpdk_loop.c  the transport table and the per-worker loop.
 *
 * Ownership: struct dp_dpdk (one per process) is written by the main thread in
 * dp_dpdk_start() and only read afterwards; each struct dp_dpdk_wk belongs to one worker
 * thread from its open() on (the main thread allocates it in dp_dpdk_attach()).
 */
#ifndef SLUICE_DATAPLANE_DPDK_DP_DPDK_IMPL_H
#define SLUICE_DATAPLANE_DPDK_DP_DPDK_IMPL_H

#include <stdint.h>

#include "dataplane/dpdk/dp_dpdk.h"
#include "dataplane/net/net.h"
#include "dataplane/net/tcp.h"

#define DP_DPDK_BURST 32 /* frames per rx burst */

struct rte_mempool;
struct dp_worker;
struct dp_dpdk_wk;

struct dp_dpdk {
	uint16_t port_id;
	uint16_t mtu;
	uint8_t mac[6];
	uint8_t eal_ok, port_ok;
	uint32_t caps; /* enum net_port_caps */
	uint32_t rx_offloads;
	uint32_t ip, netmask, gateway; /* host byte order */
	unsigned nq;                   /* queues configured = workers */
	struct rte_mempool *mp;
};

/* One queue pair of the port, the net_port_ops context. */
struct dp_dpdk_queue {
	uint16_t port_id, qid;
	uint32_t rx_offloads;
	struct rte_mempool *mp;
	uint64_t tx_full; /* frames the port did not take (the stack keeps and retries them) */
};

/* Per connection slot (indexed like w->conns): the TCP handle and what the loop owes it. */
enum dp_dpdk_pend {
	DPK_P_SENT = 1u << 0,    /* report sent bytes (dp_sess_sent) */
	DPK_P_SEND = 1u << 1,    /* retry tcp_send (the buffer pool was empty) */
	DPK_P_INPUT = 1u << 2,   /* deliver bytes left in the TCP receive buffer */
	DPK_P_RELEASE = 1u << 3, /* the TCP handle is gone: release the slot */
};

struct dp_dpdk_slot {
	struct tcp_conn *tc; /* NULL once closed() came */
	uint32_t sent;       /* bytes taken by tcp_send, not yet reported */
	uint8_t on;          /* the glue wants input */
	uint8_t eof_wait;    /* the peer's FIN came while input was paused */
	uint8_t closing;     /* transport close() was called */
	uint8_t queued;      /* on the pending list */
	uint32_t pend;       /* enum dp_dpdk_pend */
};

struct dp_dpdk_wk {
	struct dp_dpdk *env;
	struct dp_worker *w;
	struct dp_dpdk_queue q;
	struct net_core *nc;
	struct dp_dpdk_slot *slot; /* w->nconns */
	uint32_t *pend;            /* indices of slots with work, w->nconns */
	uint32_t npend;
	uint8_t registered; /* rte_thread_register() done */
	uint8_t stopped;
	uint64_t last_enter_us;
};

/* dp_dpdk_port.c */
extern const struct net_port_ops dp_dpdk_port_ops;
int dp_dpdk_port_setup(struct dp_dpdk *env, char *err, size_t errlen);
void dp_dpdk_port_fill(const struct dp_dpdk *env, struct dp_dpdk_queue *q, unsigned qid,
                       struct net_port *port);

#endif
