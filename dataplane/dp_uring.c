/* SPDX-License-Identifier: MIT */
/*
 * dp_uring.c - the kernel-socket transport on io_uring, and the worker loop that drives it.
 *
 * Per worker: one listening socket per address (SO_REUSEPORT: the kernel spreads connections
 * over the workers' sockets), a multishot accept on each, one provided-buffer ring (buffer
 * group 0) shared by the receives of all its connections, one send in flight per connection
 * (replies of several pipelined commands go out together), and io_uring close.
 *
 * Receives are single-shot: at most one is armed per connection, and it brings at most one
 * buffer (recv_buffer_size bytes). The session asks for input only while its receive buffer
 * has room for a whole buffer (dp_session.c), so a completion always fits, whatever arrives
 * while the connection is blocked: TCP flow control is the only back-pressure. Pausing
 * (input off) only stops re-arming; the receive already armed may complete, and fits. (A
 * multishot receive cannot be bounded: it keeps draining the socket until its cancel is
 * processed, which let a blocked connection overflow its buffer.)
 *
 * Public: dp_uring_ops (dp_transport.h), dp_uring_listen (dp_uring.h).
 *
 * Loop pass (uring_run), bounded at each step, no locks, no blocking system calls:
 *   1. read the clock once;
 *   2. drain up to DP_CQE_BATCH completions: spool CQEs (SPOOL_UD_IS) to spool_writer_cqe,
 *      accepts, receives (engine input), sends, closes, control, log writes;
 *   3. hand the receive buffers back to the kernel (one store); retry the connections that
 *      wait for room in the spool (in arrival order);
 *   4. run up to DP_RUN_BATCH connections that were unblocked (commits answered, output
 *      drained);
 *   5. expire timers, control and shutdown progress;
 *   6. spool_writer_poll: submit due group commits;
 *   7. queue sends and closes, log writes;
 *   8. submit everything with one io_uring_enter, waiting only if there is nothing to do,
 *      for at most the time to the next timer or spool batch.
 *
 * Connection lifetime in this transport: a connection has refs for its armed receive, its
 * send in flight and its close; close() cancels the receive and the send and issues the close
 * once refs drop to zero; the completion of the close calls dp_sess_released(), after which
 * the slot is not touched here.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dataplane/dp_bufring.h"
#include "dataplane/dp_uring.h"
#include "dataplane/dp_worker.h"

#define ACCEPT_RETRY_MS 100
#define BGID            0

struct dp_listener {
	struct dp_worker *w;
	int fd;
	unsigned idx; /* in w->lfd */
	uint8_t armed;
	uint8_t closed;
} __attribute__((aligned(8)));

struct dp_uring {
	struct dp_bufring br;
	unsigned nlis;
	uint8_t stopped;
	uint64_t accept_retry_ms;
	struct dp_listener lis[DP_LISTEN_MAX];
};

int dp_uring_listen(const struct dp_addr *a, int backlog, struct dp_addr *bound, char *err,
                    size_t errlen)
{
	int one = 1, fd, rc;
	socklen_t len = sizeof(bound->ss);

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return rc = -errno, snprintf(err, errlen, "socket: %s", strerror(errno)), rc;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* inherited on accept */
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0 || listen(fd, backlog) != 0 ||
	    getsockname(fd, (struct sockaddr *)&bound->ss, &len) != 0) {
		rc = -errno;
		snprintf(err, errlen, "listen on %s: %s", a->text, strerror(errno));
		close(fd);
		return rc;
	}
	bound->len = len;
	dp_addr_format((const struct sockaddr *)&bound->ss, bound->text, sizeof(bound->text));
	return fd;
}

static void arm_accept(struct dp_worker *w, struct dp_listener *l)
{
	struct io_uring_sqe *sqe = dp_worker_sqe(w);

	if (!sqe)
		return;
	io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, DP_UD(l, DP_UD_ACCEPT));
	l->armed = 1;
	w->inflight_misc++;
}

static void misc_sqe(struct dp_worker *w, struct io_uring_sqe *sqe)
{
	io_uring_sqe_set_data64(sqe, DP_UD_MISC);
	w->inflight_misc++;
}

/* Refuse a connection we have no slot for: a 421 and a close, linked. */
static void reject(struct dp_worker *w, int fd)
{
	static const char msg[] = "421 4.7.0 Too many connections, try again later\r\n";
	struct io_uring_sqe *sqe = dp_worker_sqe(w);

	if (!sqe) {
		close(fd);
		return;
	}
	io_uring_prep_send(sqe, fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	sqe->flags |= IOSQE_IO_HARDLINK; /* the close runs whatever the send did */
	misc_sqe(w, sqe);
	sqe = dp_worker_sqe(w);
	if (!sqe) { /* cannot happen right after a successful get: the queue had room */
		close(fd);
		return;
	}
	io_uring_prep_close(sqe, fd);
	misc_sqe(w, sqe);
	DP_COUNT(w, replies[4], 1);
}

static void on_accept(struct dp_worker *w, struct dp_uring *u, struct dp_listener *l,
                      const struct io_uring_cqe *cqe)
{
	struct dp_conn *c;
	socklen_t len;

	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		l->armed = 0;
		w->inflight_misc--;
		if (cqe->res < 0 && cqe->res != -ECANCELED)
			u->accept_retry_ms = w->now_ms + ACCEPT_RETRY_MS; /* e.g. EMFILE */
	}
	if (cqe->res < 0)
		return;
	c = dp_conn_alloc(w); /* while stopping, the glue answers 421 and closes */
	if (!c) {
		DP_COUNT(w, conn_refused_limit, 1);
		reject(w, cqe->res);
		return;
	}
	c->fd = cqe->res;
	len = sizeof(c->peer);
	if (getpeername(c->fd, (struct sockaddr *)&c->peer, &len) != 0)
		memset(&c->peer, 0, sizeof(c->peer));
	dp_sess_open(w, c);
}

static void arm_recv(struct dp_worker *w, struct dp_uring *u, struct dp_conn *c)
{
	struct io_uring_sqe *sqe = dp_worker_sqe(w);

	if (!sqe)
		return; /* no SQE even after submitting: the connection times out */
	io_uring_prep_recv(sqe, c->fd, NULL, w->wc.recv_buffer_size, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = u->br.bgid;
	io_uring_sqe_set_data64(sqe, DP_UD(c, DP_UD_RECV));
	c->flags |= DP_C_RECV;
	c->refs++;
}

static void cancel_op(struct dp_worker *w, struct dp_conn *c, unsigned kind)
{
	struct io_uring_sqe *sqe = dp_worker_sqe(w);

	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, DP_UD(c, kind), 0);
	misc_sqe(w, sqe);
}

/* Once nothing of c is in flight, close the socket; its completion releases the slot. */
static void maybe_release(struct dp_worker *w, struct dp_conn *c)
{
	struct io_uring_sqe *sqe;

	if (!(c->flags & DP_C_TP_CLOSE) || c->refs != 0 || c->fd < 0)
		return;
	sqe = dp_worker_sqe(w);
	if (!sqe) {
		close(c->fd);
		c->fd = -1;
		dp_worker_runq_push(w, c); /* released on the next pass, never from here */
		return;
	}
	io_uring_prep_close(sqe, c->fd);
	io_uring_sqe_set_data64(sqe, DP_UD(c, DP_UD_CLOSE));
	c->fd = -1;
	c->refs++;
}

static void uring_input(struct dp_worker *w, struct dp_conn *c, int on)
{
	struct dp_uring *u = w->tp_priv;

	/*
	 * Off: nothing to do. The receive armed now (if any) brings at most one buffer, for
	 * which the session kept room; its completion re-arms only while WANT_READ is set.
	 */
	if (on && !(c->flags & DP_C_RECV))
		arm_recv(w, u, c);
}

static void uring_output(struct dp_worker *w, struct dp_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->flags & DP_C_SENDING)
		return;
	sqe = dp_worker_sqe(w);
	if (!sqe) {
		dp_worker_txq_push(w, c); /* try again next pass */
		return;
	}
	io_uring_prep_send(sqe, c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, DP_UD(c, DP_UD_SEND));
	c->tx_flight = c->tx_len;
	c->flags |= DP_C_SENDING;
	c->refs++;
}

static void uring_close(struct dp_worker *w, struct dp_conn *c)
{
	c->flags |= DP_C_TP_CLOSE;
	if ((c->flags & (DP_C_RECV | DP_C_RECV_CANCEL)) == DP_C_RECV) {
		c->flags |= DP_C_RECV_CANCEL;
		cancel_op(w, c, DP_UD_RECV);
	}
	if (c->flags & DP_C_SENDING)
		cancel_op(w, c, DP_UD_SEND);
	maybe_release(w, c);
}

static void on_recv(struct dp_worker *w, struct dp_uring *u, struct dp_conn *c,
                    const struct io_uring_cqe *cqe)
{
	int res = cqe->res, more = (cqe->flags & IORING_CQE_F_MORE) != 0;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);

		/* c stays valid: the receive holds a ref, so no release can happen inside */
		if (res > 0)
			dp_sess_input(w, c, dp_bufring_buf(&u->br, bid), (size_t)res);
		dp_bufring_put(&u->br, bid);
	}
	if (!more) {
		c->flags &= ~(DP_C_RECV | DP_C_RECV_CANCEL);
		c->refs--;
	}
	if (c->flags & DP_C_TP_CLOSE) {
		maybe_release(w, c);
		return;
	}
	if (res == 0 || (res < 0 && res != -ECANCELED && res != -ENOBUFS)) {
		dp_sess_eof(w, c, res);
		maybe_release(w, c);
		return;
	}
	if (!more && (c->flags & DP_C_WANT_READ) && !(c->flags & (DP_C_EOF | DP_C_CLOSING)))
		arm_recv(w, u, c); /* the next buffer (after ENOBUFS: buffers return this pass) */
}

static void on_send(struct dp_worker *w, struct dp_conn *c, const struct io_uring_cqe *cqe)
{
	c->refs--;
	c->flags &= ~DP_C_SENDING;
	if (c->flags & DP_C_TP_CLOSE) {
		maybe_release(w, c);
		return;
	}
	if (cqe->res <= 0) {
		dp_sess_eof(w, c, cqe->res < 0 ? cqe->res : -EPIPE);
		maybe_release(w, c);
		return;
	}
	dp_sess_sent(w, c, (size_t)cqe->res);
}

static void on_close(struct dp_worker *w, struct dp_conn *c)
{
	c->refs--;
	dp_sess_released(w, c); /* frees c (now, or when its commit completes) */
}

static void dispatch(struct dp_worker *w, struct dp_uring *u, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;

	if (SPOOL_UD_IS(ud)) {
		dp_worker_cqe(w, cqe);
		return;
	}
	switch (DP_UD_KIND(ud)) {
	case DP_UD_ACCEPT:
		on_accept(w, u, DP_UD_PTR(ud), cqe);
		break;
	case DP_UD_RECV:
		on_recv(w, u, DP_UD_PTR(ud), cqe);
		break;
	case DP_UD_SEND:
		on_send(w, DP_UD_PTR(ud), cqe);
		break;
	case DP_UD_CLOSE:
		on_close(w, DP_UD_PTR(ud));
		break;
	default:
		dp_worker_cqe(w, cqe); /* spool, control, log */
		break;
	}
}

static int uring_open(struct dp_worker *w)
{
	struct dp_uring *u = calloc(1, sizeof(*u));
	int rc;

	if (!u)
		return -ENOMEM;
	w->tp_priv = u;
	rc = dp_bufring_init(&u->br, &w->ring, BGID, w->wc.recv_buffers, w->wc.recv_buffer_size);
	if (rc)
		return rc;
	for (unsigned i = 0; i < DP_LISTEN_MAX; i++) {
		struct dp_listener *l;

		if (w->lfd[i] < 0)
			continue;
		l = &u->lis[u->nlis++];
		l->w = w;
		l->fd = w->lfd[i];
		l->idx = i;
		arm_accept(w, l);
	}
	return 0;
}

static void uring_stop(struct dp_worker *w)
{
	struct dp_uring *u = w->tp_priv;

	u->stopped = 1;
	for (unsigned i = 0; i < u->nlis; i++) {
		struct dp_listener *l = &u->lis[i];
		struct io_uring_sqe *sqe;

		if (l->armed && (sqe = dp_worker_sqe(w)) != NULL) {
			io_uring_prep_cancel64(sqe, DP_UD(l, DP_UD_ACCEPT), 0);
			sqe->flags |= IOSQE_IO_HARDLINK; /* then close the socket */
			misc_sqe(w, sqe);
		}
		if ((sqe = dp_worker_sqe(w)) != NULL) {
			io_uring_prep_close(sqe, l->fd);
			misc_sqe(w, sqe);
			w->lfd[l->idx] = -1;
			l->closed = 1;
		}
	}
}

static void rearm_accepts(struct dp_worker *w, struct dp_uring *u)
{
	if (u->stopped || !u->accept_retry_ms || w->now_ms < u->accept_retry_ms)
		return;
	u->accept_retry_ms = 0;
	for (unsigned i = 0; i < u->nlis; i++)
		if (!u->lis[i].armed && !u->lis[i].closed)
			arm_accept(w, &u->lis[i]);
}

static void wait_events(struct dp_worker *w, uint64_t ms)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;

	if (ms == 0) {
		io_uring_submit_and_get_events(&w->ring);
		return;
	}
	ts.tv_sec = (long long)(ms / 1000);
	ts.tv_nsec = (long long)(ms % 1000) * 1000000;
	io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL); /* -ETIME is normal */
}

/*
 * The per-core loop (see the header comment for the order of a pass). Longer than most
 * functions on purpose: the whole pass reads top to bottom in one place.
 */
static int uring_run(struct dp_worker *w)
{
	struct dp_uring *u = w->tp_priv;
	struct io_uring_cqe *cqes[DP_CQE_BATCH];

	while (!dp_worker_done(w)) {
		unsigned n, i;
		uint64_t ms;

		dp_worker_clock(w);
		n = io_uring_peek_batch_cqe(&w->ring, cqes, DP_CQE_BATCH);
		for (i = 0; i < n; i++)
			dispatch(w, u, cqes[i]);
		io_uring_cq_advance(&w->ring, n);
		dp_bufring_commit(&u->br);
		dp_worker_spool_retry(w);
		dp_worker_run_queue(w, DP_RUN_BATCH);
		dp_worker_tick(w);
		spool_writer_poll(w->spool, w->now_us);
		rearm_accepts(w, u);
		dp_worker_flush(w);
		dp_log_flush(&w->log, &w->ring);
		ms = n == DP_CQE_BATCH ? 0 : dp_worker_wait_ms(w);
		if (dp_worker_done(w))
			break;
		wait_events(w, ms);
	}
	io_uring_submit(&w->ring);
	return 0;
}

static void uring_destroy(struct dp_worker *w)
{
	struct dp_uring *u = w->tp_priv;

	if (!u)
		return;
	if (w->ring_ok)
		dp_bufring_fini(&u->br, &w->ring);
	free(u);
	w->tp_priv = NULL;
}

const struct dp_transport_ops dp_uring_ops = {
    .name = "uring",
    .open = uring_open,
    .input = uring_input,
    .output = uring_output,
    .close = uring_close,
    .stop = uring_stop,
    .run = uring_run,
    .destroy = uring_destroy,
};
