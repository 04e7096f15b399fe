/* SPDX-License-Identifier: MIT */
/*
 * dp_dpdk_loop.c - the DPDK transport (dp_dpdk_ops, dp_transport.h) and its worker loop: the
 * per-core TCP stack (dataplane/net/) over one ethdev queue pair, feeding the same SMTP glue
 * as the kernel backend (dp_session.c).
 *
 * Mapping of the transport contract onto the stack (tcp.h):
 *   accept()    -> a connection slot (dp_conn_alloc) and dp_sess_open; no slot: RST.
 *   recv()      -> dp_sess_input, at most recv_buffer_size bytes a call, while the glue wants
 *                  input (dp_transport.h); while it is paused, recv() consumes nothing more:
 *                  the bytes stay in the TCP receive buffer (the advertised window shrinks)
 *                  and input(on) delivers them later.
 *   output()    -> tcp_send (a copy into the send ring); the bytes taken are reported with
 *                  dp_sess_sent on the same pass, after the callbacks, never from inside
 *                  output(); a full ring waits for writable(), an empty buffer pool retries
 *                  on the next pass.
 *   close()     -> tcp_close (FIN after the buffered replies; the stack finishes the
 *                  connection alone, like the kernel after close(2)) and the slot is released
 *                  through the glue's run queue on the next pass (c->fd = -1, c->refs = 0).
 *   eof()       -> dp_sess_eof(0), after the bytes still held for a paused glue; closed()
 *                  without our close (reset, timeout) -> dp_sess_eof(-errno).
 *
 * c->refs is 1 while the stack holds the connection for the glue (so the run queue never
 * releases it early), 0 after closed() or close().
 *
 * Loop pass (dpdk_run), nothing blocks and every step is bounded:
 *   1. read the clock once (w->now_us);
 *   2. peek up to DP_CQE_BATCH io_uring completions: spool commits (spool_writer_cqe),
 *      control requests, log writes;
 *   3. net_poll: one rx burst through the stack (callbacks into the glue), timers, tx flush;
 *   4. the slots' pending work (sent bytes, retried sends, held input), spool retries, the
 *      run queue, timers and shutdown (dp_worker_tick), spool_writer_poll, queued replies;
 *   5. net_flush: replies written in step 4 leave now;
 *   6. submit the ring and reap its completions without waiting, when SQEs wait or every
 *      ENTER_US otherwise (DEFER_TASKRUN rings complete only on entering the kernel).
 *
 * Errors: open() returns -errno (ENOMEM, EINVAL for a bad stack config, the tcp_listen
 * error); nothing in the loop fails, drops are counted by the stack.
 */
#include <errno.h>
#include <sched.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <rte_lcore.h>

#include "dataplane/dp_worker.h"
#include "dataplane/dpdk/dp_dpdk_impl.h"

#define ENTER_US 50 /* longest time between two looks at the io_uring completions */

/* ---- pending work per slot ---------------------------------------------------------------- */

static void pend(struct dp_dpdk_wk *k, struct dp_conn *c, uint32_t what)
{
	struct dp_dpdk_slot *s = &k->slot[c->idx];

	s->pend |= what;
	if (s->queued)
		return;
	s->queued = 1;
	k->pend[k->npend++] = c->idx; /* at most once per slot: npend <= nconns */
}

static void try_send(struct dp_dpdk_wk *k, struct dp_conn *c)
{
	struct dp_dpdk_slot *s = &k->slot[c->idx];
	ssize_t n;

	if (!s->tc || s->sent || c->tx_flight <= c->tx_off)
		return;
	n = tcp_send(k->nc, s->tc, c->tx + c->tx_off, c->tx_flight - c->tx_off);
	if (n > 0) {
		s->sent = (uint32_t)n;
		pend(k, c, DPK_P_SENT);
	} else if (n == -ENOBUFS) {
		pend(k, c, DPK_P_SEND);
	}
	/* 0: the ring is full, writable() follows; -EPIPE: closed() follows */
}

/*
 * Give the glue received bytes while it wants them, at most recv_buffer_size at a time (it
 * asks for input only while it has room for that much: dp_transport.h). Returns the bytes
 * taken. dp_sess_input copies them; it may pause input or close c (s tells).
 */
static size_t deliver(struct dp_dpdk_wk *k, struct dp_conn *c, const uint8_t *p, size_t len)
{
	struct dp_dpdk_slot *s = &k->slot[c->idx];
	size_t off = 0, max = k->w->wc.recv_buffer_size;

	while (off < len && s->on && !s->closing) {
		size_t n = len - off < max ? len - off : max;

		dp_sess_input(k->w, c, (const char *)p + off, n);
		off += n;
	}
	return off;
}

/* Hand the bytes the stack holds for c to the glue, then a held end of file. */
static void deliver_held(struct dp_dpdk_wk *k, struct dp_conn *c)
{
	struct dp_dpdk_slot *s = &k->slot[c->idx];
	const uint8_t *data;
	size_t len;

	if (!s->tc || s->closing || !s->on)
		return;
	len = tcp_recv_peek(k->nc, s->tc, &data);
	if (len) {
		size_t n = deliver(k, c, data, len);

		if (!s->tc || s->closing)
			return;
		tcp_recv_consume(k->nc, s->tc, n);
		if (n < len)
			return; /* paused again: input(on) brings the rest */
	}
	if (s->eof_wait) {
		s->eof_wait = 0;
		dp_sess_eof(k->w, c, 0);
	}
}

static void run_pending(struct dp_dpdk_wk *k)
{
	uint32_t n = k->npend, i;

	for (i = 0; i < n; i++) {
		struct dp_dpdk_slot *s = &k->slot[k->pend[i]];
		struct dp_conn *c = &k->w->conns[k->pend[i]];
		uint32_t p = s->pend;

		s->queued = 0;
		s->pend = 0;
		if ((c->flags & (DP_C_OPEN | DP_C_CLOSED)) != DP_C_OPEN)
			continue;
		if (p & DPK_P_SENT) {
			uint32_t sent = s->sent;

			s->sent = 0;
			c->flags &= ~DP_C_SENDING;
			if (!(c->flags & DP_C_TP_CLOSE))
				dp_sess_sent(k->w, c, sent);
		} else if (p & DPK_P_SEND) {
			try_send(k, c);
		}
		if ((p & DPK_P_INPUT) && (c->flags & DP_C_OPEN) && !(c->flags & DP_C_CLOSED))
			deliver_held(k, c);
	}
	/* work queued meanwhile moves to the front for the next pass */
	memmove(k->pend, k->pend + n, (k->npend - n) * sizeof(*k->pend));
	k->npend -= n;
}

/* ---- callbacks from the stack (tcp.h), inside net_poll / net_flush ------------------------ */

static int on_accept(void *app, struct tcp_conn *tc)
{
	struct dp_dpdk_wk *k = app;
	struct dp_conn *c = dp_conn_alloc(k->w);
	struct sockaddr_in *sin;
	struct dp_dpdk_slot *s;
	uint32_t lip, rip;
	uint16_t lport, rport;
	uint8_t queued;

	if (!c) {
		DP_COUNT(k->w, conn_refused_limit, 1);
		return -ENOMEM; /* reset */
	}
	s = &k->slot[c->idx];
	queued = s->queued; /* a stale entry of the slot's last user may still be listed */
	memset(s, 0, sizeof(*s));
	s->queued = queued;
	s->tc = tc;
	tcp_set_user(tc, c);
	c->refs = 1;
	tcp_endpoints(tc, &lip, &lport, &rip, &rport);
	sin = (struct sockaddr_in *)&c->peer;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(rport);
	sin->sin_addr.s_addr = htonl(rip);
	dp_sess_open(k->w, c);
	return 0;
}

static size_t on_recv(void *app, struct tcp_conn *tc, const uint8_t *data, size_t len)
{
	struct dp_dpdk_wk *k = app;
	struct dp_conn *c = tcp_user(tc);
	struct dp_dpdk_slot *s;

	if (!c)
		return len;
	s = &k->slot[c->idx];
	if (s->closing)
		return len;
	return deliver(k, c, data, len); /* what the glue did not take is held for input(on) */
}

static void on_eof(void *app, struct tcp_conn *tc)
{
	struct dp_dpdk_wk *k = app;
	struct dp_conn *c = tcp_user(tc);
	const uint8_t *data;

	if (!c || k->slot[c->idx].closing)
		return;
	if (tcp_recv_peek(k->nc, tc, &data) > 0) {
		k->slot[c->idx].eof_wait = 1; /* after the held bytes */
		return;
	}
	dp_sess_eof(k->w, c, 0);
}

static void on_writable(void *app, struct tcp_conn *tc)
{
	struct dp_dpdk_wk *k = app;
	struct dp_conn *c = tcp_user(tc);

	if (c && (c->flags & DP_C_SENDING))
		try_send(k, c);
}

static void on_closed(void *app, struct tcp_conn *tc, int reason)
{
	struct dp_dpdk_wk *k = app;
	struct dp_conn *c = tcp_user(tc);
	struct dp_dpdk_slot *s;

	if (!c)
		return;
	tcp_set_user(tc, NULL);
	s = &k->slot[c->idx];
	s->tc = NULL;
	c->refs = 0;
	/* not closed by us (close() detaches the handle): reset or timed out */
	dp_sess_eof(k->w, c, reason ? reason : -ECONNRESET); /* the glue closes c */
}

static const struct tcp_app_ops app_ops = {
    .accept = on_accept,
    .recv = on_recv,
    .eof = on_eof,
    .writable = on_writable,
    .closed = on_closed,
};

/* ---- the transport table -------------------------------------------------------------------- */

static int dpdk_listen_all(struct dp_dpdk_wk *k)
{
	const struct dp_worker_conf *wc = &k->w->wc;

	for (unsigned j = 0; j < wc->nlisten; j++) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&wc->listen[j].ss;
		int rc;

		if (sin->sin_family != AF_INET || sin->sin_port == 0)
			return -EINVAL; /* IPv4 with a fixed port only */
		rc = tcp_listen(k->nc, ntohs(sin->sin_port));
		if (rc && rc != -EEXIST)
			return rc;
	}
	return 0;
}

static int dpdk_open(struct dp_worker *w)
{
	struct dp_dpdk_wk *k = w->tp_priv;
	struct net_config cfg;
	struct net_port port;

	if (!k)
		return -EINVAL;
	if (rte_thread_register() == 0)
		k->registered = 1; /* mempool caches for this thread; without, it still works */
	k->slot = calloc(w->nconns, sizeof(*k->slot));
	k->pend = calloc(w->nconns, sizeof(*k->pend));
	if (!k->slot || !k->pend)
		return -ENOMEM;
	net_config_defaults(&cfg);
	cfg.ip = k->env->ip;
	cfg.netmask = k->env->netmask;
	cfg.gateway = k->env->gateway;
	cfg.max_conns = 2 * w->nconns + 64; /* room for TIME_WAIT */
	dp_dpdk_port_fill(k->env, &k->q, k->q.qid, &port);
	k->nc = net_core_create(&cfg, &port, &app_ops, k);
	if (!k->nc)
		return -errno;
	return dpdk_listen_all(k);
}

static void dpdk_input(struct dp_worker *w, struct dp_conn *c, int on)
{
	struct dp_dpdk_wk *k = w->tp_priv;
	struct dp_dpdk_slot *s = &k->slot[c->idx];
	const uint8_t *data;

	s->on = (uint8_t)(on != 0);
	if (on && s->tc && (s->eof_wait || tcp_recv_peek(k->nc, s->tc, &data) > 0))
		pend(k, c, DPK_P_INPUT);
}

static void dpdk_output(struct dp_worker *w, struct dp_conn *c)
{
	if (c->flags & DP_C_SENDING)
		return;
	c->flags |= DP_C_SENDING;
	c->tx_flight = c->tx_len;
	try_send(w->tp_priv, c);
}

/*
 * Like close(2) on a socket: the stack finishes the connection on its own (sends what is
 * buffered, the FIN, retransmits them) while the slot goes back to the glue at once, so a
 * peer that never acknowledges our FIN holds no session (and delays no shutdown).
 */
static void dpdk_close(struct dp_worker *w, struct dp_conn *c)
{
	struct dp_dpdk_wk *k = w->tp_priv;
	struct dp_dpdk_slot *s = &k->slot[c->idx];

	s->closing = 1;
	c->flags |= DP_C_TP_CLOSE;
	if (s->tc) {
		tcp_set_user(s->tc, NULL); /* its closed() is not ours any more */
		tcp_close(k->nc, s->tc);
		s->tc = NULL;
	}
	c->fd = -1;
	c->refs = 0;
	dp_worker_runq_push(w, c); /* released by the glue on the next pass */
}

static void dpdk_stop(struct dp_worker *w)
{
	struct dp_dpdk_wk *k = w->tp_priv;
	const struct dp_worker_conf *wc = &w->wc;

	if (k->stopped)
		return;
	k->stopped = 1;
	for (unsigned j = 0; j < wc->nlisten; j++)
		tcp_unlisten(k->nc,
		             ntohs(((const struct sockaddr_in *)&wc->listen[j].ss)->sin_port));
}

static unsigned ring_reap(struct dp_worker *w)
{
	struct io_uring_cqe *cqes[DP_CQE_BATCH];
	unsigned n = io_uring_peek_batch_cqe(&w->ring, cqes, DP_CQE_BATCH);

	for (unsigned i = 0; i < n; i++)
		dp_worker_cqe(w, cqes[i]);
	io_uring_cq_advance(&w->ring, n);
	return n;
}

/*
 * The per-core loop (see the header comment for the order of a pass). Busy-polling: it
 * never sleeps, like any poll-mode driver loop. An idle pass yields the CPU: the kernel
 * threads that run the spool's writes and flushes for this ring inherit the worker's CPU,
 * and a loop that never yields delays every commit by a scheduler slice (measured: +25 to
 * +50% messages/s over a veth with the yield).
 */
static int dpdk_run(struct dp_worker *w)
{
	struct dp_dpdk_wk *k = w->tp_priv;

	while (!dp_worker_done(w)) {
		uint32_t got;

		dp_worker_clock(w);
		ring_reap(w);
		got = net_poll(k->nc, w->now_us);
		run_pending(k);
		dp_worker_spool_retry(w);
		dp_worker_run_queue(w, DP_RUN_BATCH);
		dp_worker_tick(w);
		spool_writer_poll(w->spool, w->now_us);
		dp_worker_flush(w);
		run_pending(k); /* bytes taken by the sends just queued */
		net_flush(k->nc, w->now_us);
		dp_log_flush(&w->log, &w->ring);
		if (io_uring_sq_ready(&w->ring) || w->now_us - k->last_enter_us >= ENTER_US) {
			io_uring_submit_and_get_events(&w->ring);
			k->last_enter_us = w->now_us;
		}
		if (!got && !k->npend)
			sched_yield();
	}
	io_uring_submit(&w->ring);
	return 0;
}

static void dpdk_destroy(struct dp_worker *w)
{
	struct dp_dpdk_wk *k = w->tp_priv;

	if (!k)
		return;
	if (k->nc)
		net_core_destroy(k->nc);
	free(k->slot);
	free(k->pend);
	if (k->registered)
		rte_thread_unregister();
	free(k);
	w->tp_priv = NULL;
}

const struct dp_transport_ops dp_dpdk_ops = {
    .name = "dpdk",
    .open = dpdk_open,
    .input = dpdk_input,
    .output = dpdk_output,
    .close = dpdk_close,
    .stop = dpdk_stop,
    .run = dpdk_run,
    .destroy = dpdk_destroy,
};
