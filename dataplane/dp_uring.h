/* SPDX-License-Identifier: MIT */
/*
 * dp_uring.h - the kernel-socket transport on io_uring (dp_uring.c): its ops table is
 * dp_uring_ops (dp_transport.h); the main thread opens the listening sockets with
 * dp_uring_listen() before dropping privileges and hands them to the workers (w->lfd).
 *
 * dp_uring_listen: one SO_REUSEPORT listening socket for a; *bound receives the address
 * actually bound (the port chosen by the kernel for port 0). Returns the fd or -errno, with a
 * message in err.
 */
#ifndef SLUICE_DATAPLANE_DP_URING_H
#define SLUICE_DATAPLANE_DP_URING_H

#include <stddef.h>

#include "dataplane/dp_config.h"

int dp_uring_listen(const struct dp_addr *a, int backlog, struct dp_addr *bound, char *err,
                    size_t errlen);

#endif
