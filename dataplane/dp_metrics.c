/* SPDX-License-Identifier: MIT */
/*
 * dp_metrics.c - Prometheus exposition of the workers' counters (see dp_metrics.h).
 *
 * Metric names: sluice_connections_{accepted,closed}_total, sluice_connections_open,
 * sluice_connections_refused_total{reason}, sluice_timeouts_total{kind},
 * sluice_messages_total{result}, sluice_message_bytes_total, sluice_recipients_total,
 * sluice_network_bytes_total{direction}, sluice_replies_total{class},
 * sluice_pipelining_overflow_total, sluice_spool_waits_total, sluice_log_lines_dropped_total,
 * sluice_spool_commit_seconds (histogram), sluice_worker_connections_open{worker}.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp_metrics.h"
#include "dataplane/dp_worker.h"

#ifdef SLUICE_HAVE_MHD
#include <microhttpd.h>
#endif

#define RENDER_CAP (64 * 1024)

struct out {
	char *p;
	size_t cap, len;
	int full;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->full = 1;
	else
		o->len += (size_t)n;
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct out *o, const char *name, const char *help, uint64_t v)
{
	head(o, name, "counter", help);
	put(o, "%s %llu\n", name, (unsigned long long)v);
}

static void histogram(struct out *o, const struct dp_counters *s)
{
	uint64_t cum = 0;

	head(o, "sluice_spool_commit_seconds", "histogram",
	     "Time from end of message to durable commit.");
	for (unsigned i = 0; i < DP_HIST_BUCKETS; i++) {
		cum += s->commit_hist[i];
		put(o, "sluice_spool_commit_seconds_bucket{le=\"%g\"} %llu\n",
		    (double)dp_hist_bounds_us[i] / 1e6, (unsigned long long)cum);
	}
	cum += s->commit_hist[DP_HIST_BUCKETS];
	put(o, "sluice_spool_commit_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	put(o, "sluice_spool_commit_seconds_sum %.6f\n", (double)s->commit_sum_us / 1e6);
	put(o, "sluice_spool_commit_seconds_count %llu\n", (unsigned long long)s->commit_count);
}

static void labelled(struct out *o, const char *name, const char *type, const char *help,
                     const char *label, const char *const *values, const uint64_t *v, unsigned n)
{
	head(o, name, type, help);
	for (unsigned i = 0; i < n; i++)
		put(o, "%s{%s=\"%s\"} %llu\n", name, label, values[i], (unsigned long long)v[i]);
}

int dp_metrics_render(struct dp_worker *const *w, unsigned n, char *buf, size_t cap)
{
	static const char *const refused[] = {"limit", "client"};
	static const char *const tmo[] = {"idle", "session", "rate"};
	static const char *const msg[] = {"queued", "tempfail", "rejected", "aborted"};
	static const char *const dir[] = {"in", "out"};
	static const char *const cls[] = {"2xx", "3xx", "4xx", "5xx"};
	struct out o = {buf, cap, 0, 0};
	struct dp_counters s;

	dp_counters_sum(w, n, &s);
	counter(&o, "sluice_connections_accepted_total", "Connections accepted.", s.conn_accepted);
	counter(&o, "sluice_connections_closed_total", "Connections closed.", s.conn_closed);
	head(&o, "sluice_connections_open", "gauge", "Connections open.");
	put(&o, "sluice_connections_open %llu\n",
	    (unsigned long long)(s.conn_accepted - s.conn_closed));
	labelled(&o, "sluice_connections_refused_total", "counter",
	         "Connections refused with 421 by a limit.", "reason", refused,
	         (uint64_t[]){s.conn_refused_limit, s.conn_refused_client}, 2);
	labelled(&o, "sluice_timeouts_total", "counter", "Sessions ended by a timeout.", "kind",
	         tmo, (uint64_t[]){s.timeout_idle, s.timeout_session, s.timeout_rate}, 3);
	labelled(&o, "sluice_messages_total", "counter", "Transactions by outcome.", "result", msg,
	         (uint64_t[]){s.msg_queued, s.msg_tempfail, s.msg_rejected, s.msg_aborted}, 4);
	counter(&o, "sluice_message_bytes_total", "Bytes of queued messages.", s.msg_bytes);
	counter(&o, "sluice_recipients_total", "Recipients of queued messages.", s.rcpts);
	labelled(&o, "sluice_network_bytes_total", "counter", "SMTP bytes received and sent.",
	         "direction", dir, (uint64_t[]){s.bytes_in, s.bytes_out}, 2);
	labelled(&o, "sluice_replies_total", "counter", "SMTP replies by class.", "class", cls,
	         s.replies + 2, 4);
	counter(&o, "sluice_pipelining_overflow_total",
	        "Sessions ended for input too far ahead of a pending reply.", s.rx_overflow);
	counter(&o, "sluice_spool_waits_total",
	        "Times a connection waited for room in the spool (back-pressure).", s.spool_waits);
	counter(&o, "sluice_log_lines_dropped_total", "Log lines dropped (log output too slow).",
	        s.log_dropped);
	histogram(&o, &s);
	head(&o, "sluice_worker_connections_open", "gauge", "Connections open per worker.");
	for (unsigned i = 0; i < n; i++)
		put(&o, "sluice_worker_connections_open{worker=\"%u\"} %llu\n", i,
		    (unsigned long long)(__atomic_load_n(&w[i]->cnt.conn_accepted,
		                                         __ATOMIC_RELAXED) -
		                         __atomic_load_n(&w[i]->cnt.conn_closed,
		                                         __ATOMIC_RELAXED)));
	return o.full ? -ENOSPC : (int)o.len;
}

#ifdef SLUICE_HAVE_MHD
static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req)
{
	struct dp_metrics_srv *srv = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned status = MHD_HTTP_OK;
	char *buf = malloc(RENDER_CAP);
	int n;

	(void)version, (void)upload, (void)upload_size, (void)req;
	if (!buf)
		return MHD_NO;
	if (strcmp(method, "GET") != 0) {
		n = snprintf(buf, RENDER_CAP, "method not allowed\n");
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
	} else if (strcmp(url, "/metrics") != 0) {
		n = snprintf(buf, RENDER_CAP, "not found; try /metrics\n");
		status = MHD_HTTP_NOT_FOUND;
	} else if ((n = dp_metrics_render(srv->w, srv->n, buf, RENDER_CAP)) < 0) {
		n = snprintf(buf, RENDER_CAP, "metrics too large\n");
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	resp = MHD_create_response_from_buffer((size_t)n, buf, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

int dp_metrics_start(struct dp_metrics_srv *srv, const struct dp_addr *addr,
                     struct dp_worker *const *w, unsigned n, char *err, size_t errlen)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;

	srv->w = w;
	srv->n = n;
	if (addr->ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, srv, MHD_OPTION_SOCK_ADDR,
	                               (const struct sockaddr *)&addr->ss,
	                               MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
	                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
	if (!srv->daemon) {
		snprintf(err, errlen, "metrics: cannot listen on %s", addr->text);
		return -EADDRINUSE;
	}
	return 0;
}

void dp_metrics_stop(struct dp_metrics_srv *srv)
{
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon);
	srv->daemon = NULL;
}
#else
int dp_metrics_start(struct dp_metrics_srv *srv, const struct dp_addr *addr,
                     struct dp_worker *const *w, unsigned n, char *err, size_t errlen)
{
	(void)srv, (void)addr, (void)w, (void)n;
	snprintf(err, errlen, "metrics: built without libmicrohttpd");
	return -ENOTSUP;
}

void dp_metrics_stop(struct dp_metrics_srv *srv)
{
	(void)srv;
}
#endif
