/* SPDX-License-Identifier: MIT */
/*
 * dp_metrics.h - per-core counters summed on demand and served in the Prometheus text format
 * over HTTP (libmicrohttpd, in its own thread; nothing here runs in a worker's loop).
 *
 * Functions:
 *   dp_metrics_render(w, n, buf, cap)  the exposition text of n workers; returns its length,
 *                                      or -ENOSPC when cap is too small;
 *   dp_metrics_start(srv, addr, w, n, err, errlen)  serve GET /metrics on addr; 0 or -errno;
 *   dp_metrics_stop(srv).
 *
 * Counters are read with relaxed atomic loads while workers update them: a scrape sees each
 * counter at some recent value, not a snapshot of all of them at one instant.
 */
#ifndef SLUICE_DATAPLANE_DP_METRICS_H
#define SLUICE_DATAPLANE_DP_METRICS_H

#include <stddef.h>

struct dp_worker;
struct dp_addr;

struct dp_metrics_srv {
	void *daemon; /* struct MHD_Daemon * */
	struct dp_worker *const *w;
	unsigned n;
};

int dp_metrics_render(struct dp_worker *const *w, unsigned n, char *buf, size_t cap);
int dp_metrics_start(struct dp_metrics_srv *srv, const struct dp_addr *addr,
                     struct dp_worker *const *w, unsigned n, char *err, size_t errlen);
void dp_metrics_stop(struct dp_metrics_srv *srv);

#endif
