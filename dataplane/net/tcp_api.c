/* SPDX-License-Identifier: MIT */
/*
 * tcp_api.c - the application calls of tcp.h that act on a connection: send, receive
 * peek/consume, close, shutdown, abort, and accessors.
 *
 * Public (tcp.h): tcp_send, tcp_send_space, tcp_send_pending, tcp_recv_peek,
 * tcp_recv_consume, tcp_close, tcp_shutdown, tcp_abort, tcp_set_user, tcp_user,
 * tcp_endpoints, tcp_state_of, tcp_state_name, tcp_get_info. (tcp_listen, tcp_unlisten and
 * tcp_connect are in tcp_syn.c.)
 *
 * None of these calls the application back or sends a frame: they change the connection and
 * put it on the flush list; the next net_flush() sends and raises events. So they are safe
 * inside callbacks. They return -EINVAL for a handle the application no longer holds.
 *
 * Send buffer: a ring of cfg.tx_buf_size bytes from the per-core pool, taken at the first
 * tcp_send() and given back when every byte is acknowledged.
 */
#include "dataplane/net/net_impl.h"

static bool held(const struct tcp_conn *c)
{
	return c && (c->flags & TF_APP) && c->state != TCP_CLOSED;
}

size_t tcp_send_space(const struct net_core *nc, const struct tcp_conn *c)
{
	if (!held(c) || (c->flags & (TF_WRITE_SHUT | TF_RELEASE)))
		return 0;
	if (!c->txb && nc->txpool.nfree == 0)
		return 0;
	return nc->cfg.tx_buf_size - tcp_txlen(nc, c);
}

size_t tcp_send_pending(const struct net_core *nc, const struct tcp_conn *c)
{
	return c ? tcp_txlen(nc, c) : 0;
}

ssize_t tcp_send(struct net_core *nc, struct tcp_conn *c, const void *data, size_t len)
{
	struct tcp_txbuf *tb;
	uint32_t cap = nc->cfg.tx_buf_size, n, pos, first;

	if (!held(c))
		return -EINVAL;
	if (c->flags & (TF_WRITE_SHUT | TF_RELEASE))
		return -EPIPE;
	if (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT)
		return -ENOTCONN;
	if (!c->txb) {
		c->txb = net_pool_get(&nc->txpool);
		if (!c->txb) {
			c->flags |= TF_WANT_WRITE;
			return -ENOBUFS;
		}
		tb = tcp_txbuf(nc, c);
		tb->head = tb->len = 0;
	}
	tb = tcp_txbuf(nc, c);
	n = cap - tb->len;
	if (len < n)
		n = (uint32_t)len;
	if (n < len)
		c->flags |= TF_WANT_WRITE;
	pos = tb->head + tb->len;
	if (pos >= cap)
		pos -= cap;
	first = cap - pos < n ? cap - pos : n;
	memcpy(tb->data + pos, data, first);
	memcpy(tb->data, (const uint8_t *)data + first, n - first);
	tb->len += n;
	if (tb->len == 0) { /* len == 0: give the buffer back */
		net_pool_put(&nc->txpool, c->txb);
		c->txb = 0;
	}
	tcp_flush_add(nc, c);
	return n;
}

size_t tcp_recv_peek(const struct net_core *nc, const struct tcp_conn *c, const uint8_t **data)
{
	const struct tcp_rxbuf *rb;

	*data = NULL;
	if (!held(c) || (c->flags & TF_RX_SHUT))
		return 0;
	rb = tcp_rxbuf(nc, c);
	if (!rb || rb->tail == rb->head)
		return 0;
	*data = rb->data + rb->head;
	return rb->tail - rb->head;
}

void tcp_recv_consume(struct net_core *nc, struct tcp_conn *c, size_t n)
{
	const uint8_t *p;
	size_t have = tcp_recv_peek(nc, c, &p);

	if (n > have)
		n = have;
	if (n)
		tcp_rx_consume(nc, c, (uint32_t)n);
}

static void shut_write(struct net_core *nc, struct tcp_conn *c)
{
	if (c->flags & TF_WRITE_SHUT)
		return;
	c->flags |= TF_WRITE_SHUT;
	if (c->state == TCP_ESTABLISHED || c->state == TCP_SYN_RCVD) {
		c->flags |= TF_FIN_Q;
		tcp_set_state(nc, c, TCP_FIN_WAIT_1);
	} else if (c->state == TCP_CLOSE_WAIT) {
		c->flags |= TF_FIN_Q;
		tcp_set_state(nc, c, TCP_LAST_ACK);
	}
	tcp_flush_add(nc, c);
}

int tcp_shutdown(struct net_core *nc, struct tcp_conn *c)
{
	if (!held(c))
		return -EINVAL;
	if (c->state == TCP_SYN_SENT)
		return tcp_abort(nc, c);
	shut_write(nc, c);
	return 0;
}

int tcp_close(struct net_core *nc, struct tcp_conn *c)
{
	if (!held(c))
		return -EINVAL;
	if (c->state == TCP_SYN_SENT)
		return tcp_abort(nc, c);
	c->flags |= TF_RX_SHUT;
	c->flags &= ~(TF_RECV_DUE | TF_EOF_DUE | TF_WANT_WRITE);
	tcp_rx_drop_all(nc, c); /* unread bytes are discarded */
	shut_write(nc, c);
	tcp_flush_add(nc, c); /* in FIN_WAIT_2 the flush gives the handle back (tcp_conn.c) */
	return 0;
}

int tcp_abort(struct net_core *nc, struct tcp_conn *c)
{
	if (!held(c))
		return -EINVAL;
	c->flags |= TF_RELEASE | TF_RX_SHUT | TF_WRITE_SHUT;
	if (c->state != TCP_SYN_SENT)
		c->flags |= TF_SEND_RST;
	tcp_flush_add(nc, c);
	return 0;
}

void tcp_set_user(struct tcp_conn *c, void *user)
{
	c->user = user;
}

void *tcp_user(const struct tcp_conn *c)
{
	return c->user;
}

void tcp_endpoints(const struct tcp_conn *c, uint32_t *lip, uint16_t *lport, uint32_t *rip,
                   uint16_t *rport)
{
	*lip = c->lip;
	*lport = c->lport;
	*rip = c->rip;
	*rport = c->rport;
}

enum tcp_state tcp_state_of(const struct tcp_conn *c)
{
	return (enum tcp_state)c->state;
}

const char *tcp_state_name(enum tcp_state st)
{
	static const char *const names[] = {
	    "CLOSED",     "LISTEN",     "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
	    "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING",  "LAST_ACK", "TIME_WAIT",
	};

	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

void tcp_get_info(const struct net_core *nc, const struct tcp_conn *c, struct tcp_info *info)
{
	memset(info, 0, sizeof(*info));
	info->snd_una = c->snd_una;
	info->snd_nxt = c->snd_nxt;
	info->snd_wnd = c->snd_wnd;
	info->cwnd = c->cwnd;
	info->ssthresh = c->ssthresh;
	info->rto_ms = c->rto_ms;
	info->srtt_us = c->srtt_us;
	info->mss = c->mss;
	info->rcv_nxt = c->rcv_nxt;
	info->rcv_wnd = tcp_rcv_wnd(nc, c);
	info->snd_wscale = c->snd_wscale;
	info->rcv_wscale = c->rcv_wscale;
	info->sack = (c->flags & TF_SACK) != 0;
	info->timestamps = (c->flags & TF_TS) != 0;
}
