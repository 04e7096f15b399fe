/* SPDX-License-Identifier: MIT */
/*
 * dp_dpdk.h - the DPDK backend of sluiced: one ethdev port driven from user space, Sluice's
 * own TCP/IPv4 stack (dataplane/net/) on top of it, and the same SMTP glue as the kernel
 * backend (dp_session.c) through the transport table (dp_transport.h).
 *
 * Public functions, called by the main thread of sluiced:
 *   dp_dpdk_start(&env, conf, nworkers, err, errlen)
 *       EAL initialisation from [dpdk] eal_args and port, one mbuf pool on the port's socket,
 *       port configuration (one RX and one TX queue per worker, checksum offloads the port
 *       offers), port start. Must run before privileges are dropped (device files, packet
 *       sockets). 0 or -errno with a message in err.
 *   dp_dpdk_attach(env, w)
 *       give worker w its queue; the worker's transport open() (on its own thread) then
 *       builds its TCP stack. 0 or -ENOMEM.
 *   dp_dpdk_stop(env)
 *       after every worker has ended: stop and close the port, free the pool, EAL cleanup.
 *   dp_dpdk_ops
 *       the transport table; its run() is the busy-polling worker loop (dp_dpdk_loop.c).
 *
 * Limits: one port; one worker (multi-queue with RSS is not done: dp_dpdk_start refuses
 * more than one worker); IPv4 only; one address on the port.
 */
#ifndef SLUICE_DATAPLANE_DPDK_DP_DPDK_H
#define SLUICE_DATAPLANE_DPDK_DP_DPDK_H

#include <stddef.h>

#include "dataplane/dp_config.h"
#include "dataplane/dp_transport.h"

struct dp_dpdk;
struct dp_worker;

int dp_dpdk_start(struct dp_dpdk **env, const struct dp_conf *conf, unsigned nworkers, char *err,
                  size_t errlen);
int dp_dpdk_attach(struct dp_dpdk *env, struct dp_worker *w);
void dp_dpdk_stop(struct dp_dpdk *env);

extern const struct dp_transport_ops dp_dpdk_ops;

#endif
