/* SPDX-License-Identifier: MIT */
/*
 * memport.h - an in-memory struct net_port: frames injected by a test (or a simulated link)
 * are received by the stack; frames the stack transmits wait in a queue until taken.
 * Optionally every frame in both directions is written to a pcap file (Ethernet link type)
 * for inspection with any capture reader.
 *
 *	struct net_memport mp;
 *	net_memport_init(&mp, 256, 1500, mac);
 *	nc = net_core_create(&cfg, &mp.port, &ops, app);
 *	net_memport_inject(&mp, frame, len, 0);      // the stack sees it at the next net_poll()
 *	n = net_memport_take(&mp, buf, sizeof(buf), &flags); // the next transmitted frame
 *
 * Buffers: nbufs fixed buffers shared by both directions (allocated at init). inject returns
 * -ENOBUFS when none is free; the stack's tx_alloc fails the same way (the stack counts it).
 * Not thread-safe: one memport belongs to one core, like the stack.
 */
#ifndef SLUICE_DATAPLANE_NET_MEMPORT_H
#define SLUICE_DATAPLANE_NET_MEMPORT_H

#include <stdint.h>
#include <stdio.h>

#include "dataplane/net/net.h"

struct net_memport {
	struct net_port port; /* hand &port to net_core_create() */
	uint8_t *mem;
	uint32_t nbufs, bufsize;
	uint32_t *free, nfree;
	uint32_t *len, *flags; /* per buffer */
	uint32_t *rxq, rx_head, rx_count;
	uint32_t *txq, tx_head, tx_count;
	uint64_t rx_total, tx_total;
	FILE *pcap;
	uint64_t now_us; /* timestamp for pcap records, set by the caller */
};

/* 0, -EINVAL, -ENOMEM. caps (enum net_port_caps) may be changed in mp->port afterwards. */
int net_memport_init(struct net_memport *mp, uint32_t nbufs, uint16_t mtu, const uint8_t mac[6]);
void net_memport_free(struct net_memport *mp);

/* Queue a frame for the stack to receive; flags are enum net_frame_flags (rx ones). */
int net_memport_inject(struct net_memport *mp, const void *frame, uint32_t len, uint32_t flags);

/* Copy out and remove the oldest transmitted frame: its length (0 if none; truncated to cap).
 * *flags receives its enum net_frame_flags (tx offload requests) when flags != NULL. */
uint32_t net_memport_take(struct net_memport *mp, void *out, uint32_t cap, uint32_t *flags);

/* Transmitted frames waiting to be taken. */
uint32_t net_memport_pending(const struct net_memport *mp);

/* Start writing a pcap capture to path: 0 or -errno. */
int net_memport_pcap(struct net_memport *mp, const char *path);

#endif
