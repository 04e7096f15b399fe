/* SPDX-License-Identifier: MIT */
/*
 * dp_transport.h - the contract between a transport (kernel sockets with io_uring, later DPDK
 * and TLS, or an in-memory test transport) and the per-connection SMTP glue (dp_session.c).
 *
 * A transport moves bytes; the glue runs the protocol engine, the spool and the timers. The
 * glue calls the transport through a small table of function pointers:
 *
 *   open(w)         per-worker start: listening sockets, receive buffers. 0 or -errno.
 *   input(w, c, on) on = 1: deliver received bytes for c (dp_sess_input) until paused;
 *                   on = 0: stop receiving (backpressure). The glue asks for input only
 *                   while it has room for recv_buffer_size more bytes: a transport must
 *                   deliver at most that much after a pause (e.g. one single-shot receive
 *                   of one buffer); the glue keeps it. More ends the session with 421.
 *   output(w, c)    send c->tx[c->tx_off .. c->tx_len). The transport owns those bytes until
 *                   it reports them with dp_sess_sent(); at most one send per connection is in
 *                   flight, output() on a connection already sending does nothing.
 *   close(w, c)     stop everything for c (cancel receive and any send), close the socket,
 *                   then call dp_sess_released() once nothing of c is in flight any more —
 *                   never from inside close() itself. A transport without completions sets
 *                   c->fd = -1 and c->refs = 0 and puts c on the run queue: the glue then
 *                   releases it.
 *   stop(w)         stop accepting new connections: close the listening sockets (shutdown,
 *                   once the sessions that were open have ended or been told 421).
 *   run(w)          the worker's loop, until dp_worker_done(w).
 *   destroy(w)      release what open() took.
 *
 * The transport calls the glue:
 *
 *   dp_sess_open(w, c)          a new connection in slot c (c->fd, c->peer set).
 *   dp_sess_input(w, c, p, n)   n received bytes; p is valid only during the call.
 *   dp_sess_sent(w, c, n)       n bytes of the in-flight send completed (n < in flight: the
 *                               glue asks for the rest through output()).
 *   dp_sess_eof(w, c, err)      the peer closed (err = 0) or the socket failed (-errno).
 *   dp_sess_released(w, c)      close() finished. THE GLUE MAY FREE c HERE: the transport
 *                               must not touch c afterwards.
 *
 * All calls happen on the worker's thread. Nothing here blocks.
 */
#ifndef SLUICE_DATAPLANE_DP_TRANSPORT_H
#define SLUICE_DATAPLANE_DP_TRANSPORT_H

#include <stddef.h>

struct dp_worker;
struct dp_conn;

struct dp_transport_ops {
	const char *name;
	int (*open)(struct dp_worker *w);
	void (*input)(struct dp_worker *w, struct dp_conn *c, int on);
	void (*output)(struct dp_worker *w, struct dp_conn *c);
	void (*close)(struct dp_worker *w, struct dp_conn *c);
	void (*stop)(struct dp_worker *w);
	int (*run)(struct dp_worker *w);
	void (*destroy)(struct dp_worker *w);
};

extern const struct dp_transport_ops dp_uring_ops;

/* The glue side, implemented in dp_session.c. */
void dp_sess_open(struct dp_worker *w, struct dp_conn *c);
void dp_sess_input(struct dp_worker *w, struct dp_conn *c, const char *p, size_t n);
void dp_sess_sent(struct dp_worker *w, struct dp_conn *c, size_t n);
void dp_sess_eof(struct dp_worker *w, struct dp_conn *c, int err);
void dp_sess_released(struct dp_worker *w, struct dp_conn *c);

#endif
