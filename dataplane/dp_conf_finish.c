/* SPDX-License-Identifier: MIT */
/*
 * dp_conf_finish.c - turns a loaded configuration into the one the daemon runs: applies the
 * command-line flags over the files, decides the number of workers, fills the host name, and
 * checks the constraints that involve more than one key (buffer sizes against line limits,
 * powers of two, at least one listen address).
 *
 * Public function (dp_config.h): dp_conf_finish.
 *
 * Workers: --workers, else `workers` of the global file, else one per core file, else 1.
 * Core files beyond that count are ignored; workers without a core file use the global
 * values and pin to CPU = their index. --listen and --spool replace the addresses and the
 * spool directory of every worker.
 *
 * Errors: -EINVAL (or -ENOMEM) with a message naming the key and where it came from.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataplane/dp_config.h"

static const char *origin(const struct dp_conf *c, const struct dp_worker_conf *w)
{
	if (w && w->file[0])
		return w->file;
	return c->file[0] ? c->file : "built-in defaults";
}

static int is_pow2(uint32_t v)
{
	return v && (v & (v - 1)) == 0;
}

static int check_worker(const struct dp_conf *c, const struct dp_worker_conf *w, unsigned i,
                        char *err, size_t errlen)
{
	const char *o = origin(c, w);

	if (w->nlisten == 0)
		return snprintf(err, errlen, "worker %u (%s): [listen] address: none", i, o),
		       -EINVAL;
	if (!is_pow2(w->recv_buffers))
		return snprintf(err, errlen, "%s: [buffers] recv_buffers: %u is not a power of two",
		                o, w->recv_buffers),
		       -EINVAL;
	if (!is_pow2(w->ring_entries))
		return snprintf(err, errlen, "%s: [buffers] ring_entries: %u is not a power of two",
		                o, w->ring_entries),
		       -EINVAL;
	/* A partial command line plus one full receive buffer must fit. */
	if (w->conn_rx_size - w->recv_buffer_size < c->smtp.max_line ||
	    w->conn_rx_size < w->recv_buffer_size)
		return snprintf(
		           err, errlen,
		           "%s: [buffers] conn_rx_size: %u is less than recv_buffer_size (%u) + "
		           "[smtp] max_line (%u)",
		           o, w->conn_rx_size, w->recv_buffer_size, c->smtp.max_line),
		       -EINVAL;
	if (w->limits.data_timeout_ms == 0 || w->limits.cmd_timeout_ms == 0)
		return snprintf(err, errlen, "%s: [timeouts]: command and data must be > 0", o),
		       -EINVAL;
	return 0;
}

static void apply_worker_flags(struct dp_worker_conf *w, const struct dp_flags *f)
{
	if (f->nlisten) {
		memcpy(w->listen, f->listen, sizeof(f->listen[0]) * f->nlisten);
		w->nlisten = f->nlisten;
	}
	if (f->spool[0])
		snprintf(w->spool.dir, sizeof(w->spool.dir), "%s", f->spool);
}

static int size_workers(struct dp_conf *c, unsigned n)
{
	struct dp_worker_conf *w;

	if (n == c->nworkers)
		return 0;
	w = calloc(n, sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		if (i < c->nworkers) {
			w[i] = c->w[i];
		} else {
			w[i] = c->wdef;
			w[i].file[0] = '\0';
			w[i].cpu = (int)i;
		}
	}
	free(c->w);
	c->w = w;
	c->nworkers = n;
	return 0;
}

int dp_conf_finish(struct dp_conf *c, const struct dp_flags *f, char *err, size_t errlen)
{
	unsigned n;
	int rc;

	if (f->backend >= 0)
		c->backend = (uint8_t)f->backend;
	if (f->hostname[0])
		snprintf(c->smtp.hostname, sizeof(c->smtp.hostname), "%s", f->hostname);
	if (f->have_max_message_size)
		c->smtp.max_message_size = f->max_message_size;
	if (f->have_metrics) {
		c->metrics = f->metrics;
		c->metrics_on = 1;
	}
	if (f->have_user)
		snprintf(c->user, sizeof(c->user), "%s", f->user);
	if (f->policy[0])
		snprintf(c->policy_rules, sizeof(c->policy_rules), "%s", f->policy);
	if (c->backend == DP_BACKEND_DPDK && c->dpdk.port[0] == '\0')
		return snprintf(err, errlen, "backend dpdk: [dpdk] port is not set"), -EINVAL;
	if (c->smtp.hostname[0] == '\0' &&
	    gethostname(c->smtp.hostname, sizeof(c->smtp.hostname) - 1) != 0)
		snprintf(c->smtp.hostname, sizeof(c->smtp.hostname), "localhost");

	n = f->workers ? f->workers : c->workers ? c->workers : c->nworkers ? c->nworkers : 1;
	rc = size_workers(c, n);
	if (rc)
		return snprintf(err, errlen, "out of memory"), rc;
	if (c->wdef.cpu == -2)
		c->wdef.cpu = -1;
	for (unsigned i = 0; i < n; i++) {
		struct dp_worker_conf *w = &c->w[i];

		if (w->cpu == -2)
			w->cpu = (int)i;
		apply_worker_flags(w, f);
		snprintf(w->spool.hostname, sizeof(w->spool.hostname), "%s", c->smtp.hostname);
		rc = check_worker(c, w, i, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}
