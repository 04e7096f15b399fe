/* SPDX-License-Identifier: MIT */
/*
 * transport.h - the byte-stream transport under sluice-blast's SMTP sessions.
 *
 * A transport moves bytes for many connections on one thread and reports completions as a
 * batch of events; the session code above it never sees sockets or rings. The kernel-socket
 * io_uring backend is transport_uring.c; a DPDK backend (user-space TCP) can implement the same
 * table of functions.
 *
 * Contract (all asynchronous; each call returns 0 or -errno for a failure to *queue* the work):
 *   connect(c, addr)   open a connection; one BLAST_EV_CONNECT follows (res 0 or -errno).
 *                      After a successful connect the transport delivers received bytes as
 *                      BLAST_EV_RECV (res > 0, data/len valid until release(ev)), and the end
 *                      of the stream as BLAST_EV_RECV with res 0 (EOF) or res < 0 (error).
 *   send(c, iov, n)    send all bytes of iov[0..n); one BLAST_EV_SENT follows (res = bytes or
 *                      -errno). Short writes are resubmitted inside the transport. At most one
 *                      send per connection is in flight (-EBUSY otherwise). The caller owns the
 *                      buffers and keeps them unchanged until BLAST_EV_SENT; iov is copied.
 *   close(c)           end the connection (aborting whatever is in flight); exactly one
 *                      BLAST_EV_CLOSED follows, after which no event names c and the caller
 *                      may reuse it. Nothing but CLOSED is delivered for c after close().
 *   wait(ev, max, ns)  submit queued work, wait up to ns nanoseconds for at least one event,
 *                      fill up to max events; returns the count (0 on timeout) or -errno.
 *   release(ev)        give back the receive buffer of a BLAST_EV_RECV event.
 * A connection struct is owned by its caller; the transport keeps its state in it and must not
 * be handed the same struct again until CLOSED.
 */
#ifndef SLUICE_BENCH_BLAST_TRANSPORT_H
#define SLUICE_BENCH_BLAST_TRANSPORT_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

enum blast_ev_type {
	BLAST_EV_CONNECT,
	BLAST_EV_RECV,
	BLAST_EV_SENT,
	BLAST_EV_CLOSED,
};

#define BLAST_CONN_IOV_MAX 4

/* Per-connection state used by the transport; embedded in the session. */
struct blast_conn {
	int fd;
	uint16_t inflight; /* transport requests not yet completed */
	uint16_t flags;    /* transport-private BLAST_CF_* */
	uint32_t sent;     /* bytes of the current send already written */
	uint32_t total;    /* bytes of the current send */
	struct iovec iov[BLAST_CONN_IOV_MAX];
	struct msghdr msg;
	unsigned iovcnt;
	struct blast_conn *close_next; /* transport's deferred-close list */
};

struct blast_ev {
	struct blast_conn *conn;
	enum blast_ev_type type;
	int res;
	const char *data;
	unsigned len;
	unsigned buf; /* transport-private buffer id */
};

struct blast_tp_conf {
	unsigned max_conns;
	unsigned ring_entries;
	unsigned recv_buf_size;
	int nodelay;
};

struct blast_tp;

struct blast_tp_ops {
	const char *name;
	int (*open)(struct blast_tp *tp, const struct blast_tp_conf *conf);
	void (*shutdown)(struct blast_tp *tp);
	int (*connect)(struct blast_tp *tp, struct blast_conn *c, const struct sockaddr *sa,
	               socklen_t salen);
	int (*send)(struct blast_tp *tp, struct blast_conn *c, const struct iovec *iov, unsigned n);
	int (*close)(struct blast_tp *tp, struct blast_conn *c);
	int (*wait)(struct blast_tp *tp, struct blast_ev *ev, unsigned max, uint64_t timeout_ns);
	void (*release)(struct blast_tp *tp, const struct blast_ev *ev);
};

struct blast_tp {
	const struct blast_tp_ops *ops;
	void *impl;
	uint64_t syscalls; /* counters kept by the backend, for the report */
	uint64_t submits;
};

extern const struct blast_tp_ops blast_tp_uring;

#endif
