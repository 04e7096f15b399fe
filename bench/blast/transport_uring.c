/* SPDX-License-Identifier: MIT */
/*
 * transport_uring.c - kernel TCP sockets driven through one io_uring per thread
 * (contract in transport.h).
 *
 * Per connection: socket(2) and TCP_NODELAY are set synchronously (two cheap syscalls at
 * connect time); connect, a multishot recv into a provided-buffer ring, sends, cancel and close
 * are io_uring requests, all submitted together by the single io_uring_enter of wait(). The
 * ring is SINGLE_ISSUER|DEFER_TASKRUN where the kernel allows it, so completions are produced
 * only inside that call.
 *
 * user_data = connection pointer | request tag (connections are 8-byte aligned). conn->inflight
 * counts requests whose final completion has not arrived; close() is deferred to the next
 * wait(), which cancels what is in flight and issues the close once nothing is, so a connection
 * struct is never named by a completion after its CLOSED event.
 *
 * Limits: IPv4/IPv6 TCP only; receive buffers are BLAST_TPU_BUFS slots of recv_buf_size bytes
 * shared by the thread's connections (a recv that finds none re-arms after the batch).
 */
#include "transport.h"

#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BLAST_TPU_BGID 0

enum tpu_tag {
	TAG_CONNECT = 1,
	TAG_RECV = 2,
	TAG_SEND = 3,
	TAG_CANCEL = 4,
	TAG_CLOSE = 5,
};

enum tpu_conn_flags {
	CF_RECV = 1u << 0,     /* multishot recv armed */
	CF_SEND = 1u << 1,     /* a send in flight */
	CF_CLOSING = 1u << 2,  /* close() called */
	CF_CANCELED = 1u << 3, /* cancel submitted */
	CF_CLOSED = 1u << 4,   /* close request submitted */
	CF_LISTED = 1u << 5,   /* on the deferred-close list */
};

struct tpu {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	size_t br_len;
	char *bufs;
	unsigned nbufs;
	unsigned buf_size;
	unsigned br_added;
	int nodelay;
	struct blast_conn *close_head;
	struct blast_tp *tp;
};

static struct io_uring_sqe *tpu_sqe(struct tpu *t)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);

	if (sqe == NULL) {
		io_uring_submit(&t->ring);
		t->tp->syscalls++;
		sqe = io_uring_get_sqe(&t->ring);
	}
	return sqe;
}

static void tpu_tag(struct io_uring_sqe *sqe, struct blast_conn *c, enum tpu_tag tag)
{
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | (uint64_t)tag);
}

static int tpu_ring_init(struct tpu *t, unsigned entries, unsigned max_conns)
{
	static const unsigned flag_sets[] = {
	    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
	    IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
	    0,
	};
	struct io_uring_params p;
	unsigned cq = max_conns * 4u, i;
	int ret = -EINVAL;

	if (cq < 4u * entries)
		cq = 4u * entries;
	if (cq > 262144u)
		cq = 262144u;
	for (i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = flag_sets[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = cq;
		ret = io_uring_queue_init_params(entries, &t->ring, &p);
		if (ret == 0)
			return 0;
	}
	return ret;
}

static int tpu_bufs_init(struct tpu *t, unsigned max_conns, unsigned buf_size)
{
	struct io_uring_buf_reg reg;
	unsigned n = 256, i;
	int ret;

	while (n < max_conns + 256 && n < 32768)
		n <<= 1;
	t->nbufs = n;
	t->buf_size = buf_size;
	t->br_len = (size_t)n * sizeof(struct io_uring_buf);
	t->br = mmap(NULL, t->br_len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (t->br == MAP_FAILED) {
		t->br = NULL;
		return -ENOMEM;
	}
	t->bufs = malloc((size_t)n * buf_size);
	if (t->bufs == NULL)
		return -ENOMEM;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)t->br;
	reg.ring_entries = n;
	reg.bgid = BLAST_TPU_BGID;
	ret = io_uring_register_buf_ring(&t->ring, &reg, 0);
	if (ret != 0)
		return ret;
	io_uring_buf_ring_init(t->br);
	for (i = 0; i < n; i++)
		io_uring_buf_ring_add(t->br, t->bufs + (size_t)i * buf_size, buf_size,
		                      (unsigned short)i, io_uring_buf_ring_mask(n), (int)i);
	io_uring_buf_ring_advance(t->br, (int)n);
	return 0;
}

static void tpu_shutdown(struct blast_tp *tp)
{
	struct tpu *t = tp->impl;

	if (t == NULL)
		return;
	io_uring_queue_exit(&t->ring);
	if (t->br != NULL)
		munmap(t->br, t->br_len);
	free(t->bufs);
	free(t);
	tp->impl = NULL;
}

static int tpu_open(struct blast_tp *tp, const struct blast_tp_conf *conf)
{
	struct tpu *t = calloc(1, sizeof(*t));
	int ret;

	if (t == NULL)
		return -ENOMEM;
	tp->impl = t;
	t->tp = tp;
	t->nodelay = conf->nodelay;
	ret = tpu_ring_init(t, conf->ring_entries, conf->max_conns);
	if (ret != 0) {
		free(t);
		tp->impl = NULL;
		return ret;
	}
	ret = tpu_bufs_init(t, conf->max_conns, conf->recv_buf_size);
	if (ret != 0)
		tpu_shutdown(tp);
	return ret;
}

static int tpu_arm_recv(struct tpu *t, struct blast_conn *c)
{
	struct io_uring_sqe *sqe = tpu_sqe(t);

	if (sqe == NULL)
		return -EBUSY;
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BLAST_TPU_BGID;
	tpu_tag(sqe, c, TAG_RECV);
	c->flags |= CF_RECV;
	c->inflight++;
	return 0;
}

static int tpu_connect(struct blast_tp *tp, struct blast_conn *c, const struct sockaddr *sa,
                       socklen_t salen)
{
	struct tpu *t = tp->impl;
	struct io_uring_sqe *sqe;
	int one = 1;

	c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (c->fd < 0)
		return -errno;
	tp->syscalls++;
	if (t->nodelay) {
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		tp->syscalls++;
	}
	sqe = tpu_sqe(t);
	if (sqe == NULL) {
		close(c->fd);
		c->fd = -1;
		return -EBUSY;
	}
	c->flags = 0;
	c->inflight = 1;
	c->close_next = NULL;
	io_uring_prep_connect(sqe, c->fd, sa, salen);
	tpu_tag(sqe, c, TAG_CONNECT);
	return 0;
}

static int tpu_submit_send(struct tpu *t, struct blast_conn *c)
{
	struct io_uring_sqe *sqe = tpu_sqe(t);

	if (sqe == NULL)
		return -EBUSY;
	if (c->iovcnt == 1) {
		io_uring_prep_send(sqe, c->fd, c->iov[0].iov_base, c->iov[0].iov_len, MSG_NOSIGNAL);
	} else {
		memset(&c->msg, 0, sizeof(c->msg));
		c->msg.msg_iov = c->iov;
		c->msg.msg_iovlen = c->iovcnt;
		io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
	}
	tpu_tag(sqe, c, TAG_SEND);
	c->flags |= CF_SEND;
	c->inflight++;
	return 0;
}

static int tpu_send(struct blast_tp *tp, struct blast_conn *c, const struct iovec *iov, unsigned n)
{
	unsigned i, k = 0;
	size_t total = 0;

	if (c->flags & (CF_SEND | CF_CLOSING))
		return -EBUSY;
	if (n == 0 || n > BLAST_CONN_IOV_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (iov[i].iov_len == 0)
			continue;
		c->iov[k++] = iov[i];
		total += iov[i].iov_len;
	}
	if (total == 0 || total > UINT32_MAX)
		return -EINVAL;
	c->iovcnt = k;
	c->sent = 0;
	c->total = (uint32_t)total;
	return tpu_submit_send(tp->impl, c);
}

/* Drops the first done bytes from c->iov after a short write. */
static void tpu_advance(struct blast_conn *c, size_t done)
{
	unsigned i = 0, k;

	while (i < c->iovcnt && done >= c->iov[i].iov_len)
		done -= c->iov[i++].iov_len;
	for (k = 0; i < c->iovcnt; i++, k++)
		c->iov[k] = c->iov[i];
	c->iovcnt = k;
	if (k > 0) {
		c->iov[0].iov_base = (char *)c->iov[0].iov_base + done;
		c->iov[0].iov_len -= done;
	}
}

static int tpu_close(struct blast_tp *tp, struct blast_conn *c)
{
	struct tpu *t = tp->impl;

	if (c->flags & CF_CLOSING)
		return 0;
	c->flags |= CF_CLOSING | CF_LISTED;
	c->close_next = t->close_head;
	t->close_head = c;
	return 0;
}

/* Issues cancel or close for a closing connection; called from wait() only. */
static void tpu_close_step(struct tpu *t, struct blast_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->flags & CF_CLOSED)
		return;
	if (c->inflight > 0 && (c->flags & CF_CANCELED))
		return;
	sqe = tpu_sqe(t);
	if (sqe == NULL)
		return; /* impossible after a submit; the next completion retries */
	if (c->inflight > 0) {
		io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
		tpu_tag(sqe, c, TAG_CANCEL);
		c->flags |= CF_CANCELED;
	} else {
		io_uring_prep_close(sqe, c->fd);
		tpu_tag(sqe, c, TAG_CLOSE);
		c->flags |= CF_CLOSED;
	}
	c->inflight++;
}

/* A receive completion; returns 0 when it produces no event (re-armed after -ENOBUFS). */
static int tpu_on_recv(struct tpu *t, struct blast_conn *c, struct io_uring_cqe *cqe,
                       struct blast_ev *ev, bool closing)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;
	int res = cqe->res;

	if (!more)
		c->flags &= (uint16_t)~CF_RECV;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		ev->buf = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		ev->data = t->bufs + (size_t)ev->buf * t->buf_size;
		ev->len = res > 0 ? (unsigned)res : 0;
	}
	if (closing) {
		if (ev->data != NULL)
			t->tp->ops->release(t->tp, ev);
		return 0;
	}
	if (!more && (res > 0 || res == -ENOBUFS) && tpu_arm_recv(t, c) != 0)
		ev->res = -ENOBUFS; /* cannot happen after a submit; the session aborts */
	else if (res == -ENOBUFS)
		return 0; /* no free buffer for a moment: re-armed */
	ev->type = BLAST_EV_RECV;
	return 1;
}

/* A send completion; returns 0 while the rest of a short write is being resubmitted. */
static int tpu_on_send(struct tpu *t, struct blast_conn *c, int res, struct blast_ev *ev,
                       bool closing)
{
	ev->type = BLAST_EV_SENT;
	if (!closing && res > 0 && c->sent + (unsigned)res < c->total) {
		c->sent += (unsigned)res;
		tpu_advance(c, (size_t)res);
		if (tpu_submit_send(t, c) == 0)
			return 0;
		ev->res = -EBUSY;
	} else if (res == 0) {
		ev->res = -EPIPE;
	} else if (res > 0) {
		ev->res = (int)c->total;
	}
	c->flags &= (uint16_t)~CF_SEND;
	return 1;
}

/* One completion; returns 1 when *ev was filled. Nothing but CLOSED is reported for a
 * connection after close(); its last completion issues the close request. */
static int tpu_complete(struct tpu *t, struct io_uring_cqe *cqe, struct blast_ev *ev)
{
	struct blast_conn *c = (struct blast_conn *)(uintptr_t)(cqe->user_data & ~(uint64_t)7);
	enum tpu_tag tag = (enum tpu_tag)(cqe->user_data & 7);
	bool closing = c->flags & CF_CLOSING;
	int n = 0;

	ev->conn = c;
	ev->res = cqe->res;
	ev->data = NULL;
	ev->len = 0;
	if (!(cqe->flags & IORING_CQE_F_MORE))
		c->inflight--;
	switch (tag) {
	case TAG_CONNECT:
		ev->type = BLAST_EV_CONNECT;
		if (cqe->res == 0 && !closing && tpu_arm_recv(t, c) != 0)
			ev->res = -ENOBUFS;
		n = 1;
		break;
	case TAG_RECV:
		n = tpu_on_recv(t, c, cqe, ev, closing);
		break;
	case TAG_SEND:
		n = tpu_on_send(t, c, cqe->res, ev, closing);
		break;
	case TAG_CANCEL:
		break;
	case TAG_CLOSE:
		c->fd = -1;
		c->flags = 0;
		ev->type = BLAST_EV_CLOSED;
		ev->res = 0;
		return 1;
	}
	if (closing) {
		if (c->inflight == 0)
			tpu_close_step(t, c);
		return 0;
	}
	return n;
}

static int tpu_wait(struct blast_tp *tp, struct blast_ev *ev, unsigned max, uint64_t timeout_ns)
{
	struct tpu *t = tp->impl;
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0, n = 0;
	int ret;

	while (t->close_head != NULL) {
		struct blast_conn *c = t->close_head;

		t->close_head = c->close_next;
		c->flags &= (uint16_t)~CF_LISTED;
		tpu_close_step(t, c);
	}
	if (t->br_added > 0) {
		io_uring_buf_ring_advance(t->br, (int)t->br_added);
		t->br_added = 0;
	}
	ts.tv_sec = (long long)(timeout_ns / 1000000000u);
	ts.tv_nsec = (long long)(timeout_ns % 1000000000u);
	tp->submits += io_uring_sq_ready(&t->ring);
	ret = io_uring_submit_and_wait_timeout(&t->ring, &cqe, 1, &ts, NULL);
	tp->syscalls++;
	if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EBUSY)
		return ret;
	io_uring_for_each_cqe(&t->ring, head, cqe)
	{
		if (n == max)
			break;
		seen++;
		n += (unsigned)tpu_complete(t, cqe, &ev[n]);
	}
	io_uring_cq_advance(&t->ring, seen);
	return (int)n;
}

static void tpu_release(struct blast_tp *tp, const struct blast_ev *ev)
{
	struct tpu *t = tp->impl;

	io_uring_buf_ring_add(t->br, t->bufs + (size_t)ev->buf * t->buf_size, t->buf_size,
	                      (unsigned short)ev->buf, io_uring_buf_ring_mask(t->nbufs),
	                      (int)t->br_added);
	t->br_added++;
}

const struct blast_tp_ops blast_tp_uring = {
    .name = "io_uring",
    .open = tpu_open,
    .shutdown = tpu_shutdown,
    .connect = tpu_connect,
    .send = tpu_send,
    .close = tpu_close,
    .wait = tpu_wait,
    .release = tpu_release,
};
