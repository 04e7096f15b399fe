/* SPDX-License-Identifier: MIT */
/*
 * tcp.h - the application interface of the per-core TCP stack (net.h holds the core object).
 *
 * Events are callbacks in struct tcp_app_ops, given to net_core_create(). They are called only
 * from net_poll() / net_input() / net_flush(), never from inside a tcp_*() call below, so an
 * application may call any tcp_*() function from a callback.
 *
 * Handle lifetime: a struct tcp_conn * given to accept() or connected() (or returned by
 * tcp_connect()) stays valid until closed() returns for it; closed() is called exactly once per
 * handle, also after tcp_close() (once the stack no longer needs the application: our FIN is
 * acknowledged, or TIME_WAIT began, or the connection was reset or timed out). After closed()
 * returns the stack may reuse the memory for another connection: do not keep the pointer.
 *
 * Receiving: in-order bytes are kept in the connection's receive buffer and offered to recv()
 * as one contiguous span: the unconsumed tail of earlier calls followed by the new bytes.
 * recv() returns how many bytes (a prefix) it consumed; the rest stays and counts against the
 * receive window (the peer is throttled when the application does not consume). An application
 * that pauses (a decision pending) can later call tcp_recv_peek() / tcp_recv_consume() (not
 * from inside recv(): there the return value says it). The span is valid until recv()
 * returns (tcp_close() inside recv() ends it at once). eof() follows the last recv() once the
 * peer's FIN has arrived in order; after tcp_shutdown() the handle (and unconsumed bytes) stay
 * until consumed or tcp_close().
 *
 * Sending: tcp_send() copies into the connection's send buffer and returns how many bytes it
 * took (possibly fewer than asked: backpressure); writable() is called when space frees after a
 * short send. Segments leave at the next net_flush(); replies written in a recv() callback
 * carry the ACK of the data that caused them.
 *
 * Closing: tcp_close() sends FIN after the buffered data and stops delivery (unread and later
 * bytes are discarded; new data arriving after close is answered with RST, RFC 1122
 * 4.2.2.13); tcp_shutdown() sends FIN but keeps receiving; tcp_abort() sends RST at once.
 *
 * closed() reasons: 0 orderly close, -ECONNRESET reset by peer, -ETIMEDOUT retransmissions
 * exhausted, -ECONNREFUSED active open refused, -ECONNABORTED tcp_abort() or data after close.
 */
#ifndef SLUICE_DATAPLANE_NET_TCP_H
#define SLUICE_DATAPLANE_NET_TCP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct net_core;
struct tcp_conn;

struct tcp_app_ops {
	/* A passive open completed. Return 0 to keep the connection, < 0 to reset it (then no
	 * closed() follows for this handle). */
	int (*accept)(void *app, struct tcp_conn *c);
	/* An active open (tcp_connect) completed. */
	void (*connected)(void *app, struct tcp_conn *c);
	/* In-order bytes; returns bytes consumed, <= len. */
	size_t (*recv)(void *app, struct tcp_conn *c, const uint8_t *data, size_t len);
	/* The peer will send no more (FIN received in order). */
	void (*eof)(void *app, struct tcp_conn *c);
	/* Send buffer space is available again after a short tcp_send(). */
	void (*writable)(void *app, struct tcp_conn *c);
	/* The handle is released; see the header comment. */
	void (*closed)(void *app, struct tcp_conn *c, int reason);
};

/* Accept connections on a local port: 0, -EEXIST, -ENOSPC (listener table full). */
int tcp_listen(struct net_core *nc, uint16_t port);
int tcp_unlisten(struct net_core *nc, uint16_t port);

/*
 * Active open to ip:port (host byte order) from an ephemeral port. Returns the handle (the
 * SYN leaves at the next net_flush()), or NULL with errno: EADDRNOTAVAIL (no free local port),
 * ENOMEM (connection pool full).
 */
struct tcp_conn *tcp_connect(struct net_core *nc, uint32_t ip, uint16_t port, void *user,
                             uint64_t now_us);

/* Copy up to len bytes into the send buffer: bytes taken (>= 0), -EPIPE after close/shutdown
 * or reset, -ENOTCONN before the handshake completes, -ENOBUFS when the buffer pool is empty
 * (writable() then comes only with the connection's next event: retry from the poll loop). */
ssize_t tcp_send(struct net_core *nc, struct tcp_conn *c, const void *data, size_t len);

/* Bytes tcp_send() would take now. */
size_t tcp_send_space(const struct net_core *nc, const struct tcp_conn *c);

/* Bytes sent (or queued) but not yet acknowledged by the peer. */
size_t tcp_send_pending(const struct net_core *nc, const struct tcp_conn *c);

/* The unconsumed received bytes: sets *data, returns the length (0 if none). */
size_t tcp_recv_peek(const struct net_core *nc, const struct tcp_conn *c, const uint8_t **data);

/* Drop n (<= peeked length) bytes from the front of the received data; may open the window.
 * The bytes left may move: peek again before using them. */
void tcp_recv_consume(struct net_core *nc, struct tcp_conn *c, size_t n);

int tcp_close(struct net_core *nc, struct tcp_conn *c);
int tcp_shutdown(struct net_core *nc, struct tcp_conn *c);
int tcp_abort(struct net_core *nc, struct tcp_conn *c);

void tcp_set_user(struct tcp_conn *c, void *user);
void *tcp_user(const struct tcp_conn *c);

/* Addresses in host byte order. */
void tcp_endpoints(const struct tcp_conn *c, uint32_t *lip, uint16_t *lport, uint32_t *rip,
                   uint16_t *rport);

enum tcp_state {
	TCP_CLOSED = 0,
	TCP_LISTEN,
	TCP_SYN_SENT,
	TCP_SYN_RCVD,
	TCP_ESTABLISHED,
	TCP_FIN_WAIT_1,
	TCP_FIN_WAIT_2,
	TCP_CLOSE_WAIT,
	TCP_CLOSING,
	TCP_LAST_ACK,
	TCP_TIME_WAIT,
};

enum tcp_state tcp_state_of(const struct tcp_conn *c);
const char *tcp_state_name(enum tcp_state st);

/* Diagnostic view of the sender state (tests, statistics). */
struct tcp_info {
	uint32_t snd_una, snd_nxt, snd_wnd, cwnd, ssthresh, rto_ms, srtt_us, mss;
	uint32_t rcv_nxt, rcv_wnd;
	uint8_t snd_wscale, rcv_wscale, sack, timestamps;
};
void tcp_get_info(const struct net_core *nc, const struct tcp_conn *c, struct tcp_info *info);

#endif
