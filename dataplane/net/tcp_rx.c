/* SPDX-License-Identifier: MIT */
/*
 * tcp_rx.c - the receive side of a connection: the receive buffer, out-of-order ranges, the
 * advertised window, delayed ACKs and SACK blocks.
 *
 * Internal (net_impl.h): tcp_rcv_wnd, tcp_rcv_wnd_adv, tcp_data_input, tcp_sack_blocks,
 * tcp_rx_consume, tcp_rx_drop_all, tcp_rx_shrink.
 *
 * Buffer: one linear block of cfg.rx_buf_size bytes from the per-core pool, taken when the
 * first byte arrives and given back as soon as the application has consumed everything and no
 * out-of-order data is held; an idle connection holds none. In-order unconsumed bytes are
 * data[head, tail); a byte with sequence number s > rcv_nxt sits at tail + (s - rcv_nxt).
 * When a segment would not fit after the end, the held bytes move to the front (memmove of
 * what the application left, usually a partial line). A short tail with nothing out of order
 * moves to a small block of nc->rxspool (tcp_rx_shrink) and back into a full buffer when
 * the next segment arrives (rx_get). The window is the free space
 * cap - (tail - head): the right edge rcv_nxt + window never moves left, because it only
 * grows when the application consumes and rcv_nxt grows with every byte stored.
 *
 * Out of order: at most TCP_OOO_MAX disjoint ranges; a segment that would need one more is
 * dropped (counted) and the sender retransmits it. Bytes already delivered in order are never
 * rewritten: a retransmission overlapping them is trimmed first, so the application sees each
 * byte exactly once, in order.
 *
 * ACK policy: an ACK at once for out-of-order data, for data that fills a hole, for a
 * duplicate, and for every second in-order segment; otherwise after cfg.delack_ms. Any
 * segment we send carries the ACK and cancels the pending one.
 *
 * Receiver silly window avoidance (RFC 1122 4.2.3.3): the advertised right edge moves only
 * by at least min(buffer / 2, MSS); a window update is sent on its own when the application
 * frees at least min(buffer / 2, 2 * MSS).
 */
#include "dataplane/net/net_impl.h"

static uint32_t rx_cap(const struct net_core *nc)
{
	return nc->cfg.rx_buf_size;
}

uint32_t tcp_rcv_wnd(const struct net_core *nc, const struct tcp_conn *c)
{
	const struct tcp_rxbuf *rb = tcp_rxbuf(nc, c);
	uint32_t w = rb ? rx_cap(nc) - (rb->tail - rb->head) : rx_cap(nc);
	uint32_t lim = 65535u << c->rcv_wscale;

	if (c->flags & TF_RX_SHUT)
		w = rx_cap(nc); /* input is discarded: never throttle */
	return w < lim ? w : lim;
}

/* The raw 16-bit window for the header of a segment sent now; advances rcv_adv. */
uint32_t tcp_rcv_wnd_adv(struct net_core *nc, struct tcp_conn *c)
{
	uint32_t w = tcp_rcv_wnd(nc, c);
	uint32_t cur = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t sws = net_min32(rx_cap(nc) / 2, nc->mss_local);
	uint32_t raw, edge;

	if (w < cur || w - cur < sws)
		w = cur; /* do not shrink; do not open by a sliver */
	raw = w >> c->rcv_wscale;
	if (raw > 65535)
		raw = 65535;
	edge = c->rcv_nxt + (raw << c->rcv_wscale);
	if (SEQ_GT(edge, c->rcv_adv))
		c->rcv_adv = edge;
	return raw;
}

/* Insert [lo, hi) into the sorted out-of-order list; false when it does not fit. */
static bool ooo_add(struct tcp_rxbuf *rb, uint32_t lo, uint32_t hi)
{
	uint32_t n = 0;
	struct {
		uint32_t lo, hi;
	} out[TCP_OOO_MAX + 1];
	bool placed = false;

	for (uint32_t i = 0; i < rb->nooo; i++) {
		uint32_t a = rb->ooo[i].lo, b = rb->ooo[i].hi;

		if (SEQ_LT(b, lo)) { /* entirely before, not adjacent */
			out[n].lo = a;
			out[n++].hi = b;
		} else if (SEQ_GT(a, hi)) { /* entirely after */
			if (!placed) {
				out[n].lo = lo;
				out[n++].hi = hi;
				placed = true;
			}
			out[n].lo = a;
			out[n++].hi = b;
		} else { /* overlaps or touches: merge into the new range */
			lo = SEQ_LT(a, lo) ? a : lo;
			hi = SEQ_GT(b, hi) ? b : hi;
		}
	}
	if (!placed) {
		out[n].lo = lo;
		out[n++].hi = hi;
	}
	if (n > TCP_OOO_MAX)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		rb->ooo[i].lo = out[i].lo;
		rb->ooo[i].hi = out[i].hi;
	}
	rb->nooo = n;
	return true;
}

static void rx_compact(struct tcp_conn *c, struct tcp_rxbuf *rb)
{
	uint32_t extra = rb->nooo ? rb->ooo[rb->nooo - 1].hi - c->rcv_nxt : 0;

	memmove(rb->data, rb->data + rb->head, rb->tail - rb->head + extra);
	rb->tail -= rb->head;
	rb->head = 0;
}

static void rx_put(struct net_core *nc, uint32_t rxb)
{
	if (rxb & TCP_RXB_SMALL)
		net_pool_put(&nc->rxspool, rxb & ~TCP_RXB_SMALL);
	else
		net_pool_put(&nc->rxpool, rxb);
}

/* A full receive buffer for incoming data: new, or grown from a small tail block. */
static struct tcp_rxbuf *rx_get(struct net_core *nc, struct tcp_conn *c)
{
	const struct tcp_rxbuf *small = NULL;
	struct tcp_rxbuf *rb;
	uint32_t id;

	if (c->rxb && !(c->rxb & TCP_RXB_SMALL))
		return tcp_rxbuf(nc, c);
	if (c->rxb)
		small = tcp_rxbuf(nc, c);
	id = net_pool_get(&nc->rxpool);
	if (!id)
		return NULL;
	rb = net_pool_ptr(&nc->rxpool, id);
	rb->head = rb->nooo = 0;
	rb->tail = small ? small->tail - small->head : 0;
	if (small) {
		memcpy(rb->data, small->data + small->head, rb->tail);
		rx_put(nc, c->rxb);
	}
	c->rxb = id;
	return rb;
}

/*
 * Move a short unconsumed tail (and nothing out of order) from a full buffer into a small
 * block, so that an idle connection waiting for the rest of a line holds about 1 KiB, not a
 * whole receive window. Called when the application is done with the span for now.
 */
void tcp_rx_shrink(struct net_core *nc, struct tcp_conn *c)
{
	struct tcp_rxbuf *rb = tcp_rxbuf(nc, c), *sb;
	uint32_t id, n;

	if (!rb || (c->rxb & TCP_RXB_SMALL) || rb->nooo)
		return;
	n = rb->tail - rb->head;
	if (n == 0 || n > nc->cfg.rx_small_size)
		return;
	id = net_pool_get(&nc->rxspool);
	if (!id)
		return;
	sb = net_pool_ptr(&nc->rxspool, id);
	sb->head = sb->nooo = 0;
	sb->tail = n;
	memcpy(sb->data, rb->data + rb->head, n);
	rx_put(nc, c->rxb);
	c->rxb = id | TCP_RXB_SMALL;
}

/* Advance rcv_nxt over out-of-order ranges that now join; true if any did. */
static bool ooo_pull(struct tcp_conn *c, struct tcp_rxbuf *rb)
{
	bool pulled = false;

	while (rb->nooo && SEQ_LEQ(rb->ooo[0].lo, c->rcv_nxt)) {
		if (SEQ_GT(rb->ooo[0].hi, c->rcv_nxt)) {
			rb->tail += rb->ooo[0].hi - c->rcv_nxt;
			c->rcv_nxt = rb->ooo[0].hi;
		}
		rb->nooo--;
		memmove(&rb->ooo[0], &rb->ooo[1], rb->nooo * sizeof(rb->ooo[0]));
		pulled = true;
	}
	return pulled;
}

static void ack_policy(struct net_core *nc, struct tcp_conn *c, bool now)
{
	if (now || ++c->delack_segs >= 2) {
		c->flags |= TF_ACKNOW;
	} else if (!(c->flags & TF_T_DELACK)) {
		tcp_timer_set(nc, c, TF_T_DELACK, nc->cfg.delack_ms);
	}
	tcp_flush_add(nc, c);
}

void tcp_data_input(struct net_core *nc, struct tcp_conn *c, const struct tcp_seg *s)
{
	const uint8_t *p = s->data;
	uint32_t seq = s->seq, len = s->len, space, pos;
	struct tcp_rxbuf *rb;

	if (SEQ_LT(seq, c->rcv_nxt)) {
		uint32_t d = c->rcv_nxt - seq;

		if (d >= len) { /* all old: a duplicate, tell the sender where we are */
			ack_policy(nc, c, true);
			return;
		}
		p += d;
		len -= d;
		seq = c->rcv_nxt;
	}
	rb = tcp_rxbuf(nc, c);
	space = rb ? rx_cap(nc) - (rb->tail - rb->head) : rx_cap(nc);
	if (seq - c->rcv_nxt >= space) {
		ack_policy(nc, c, true);
		return;
	}
	if (len > space - (seq - c->rcv_nxt))
		len = space - (seq - c->rcv_nxt);
	rb = rx_get(nc, c);
	if (!rb) {
		nc->cnt.tcp_rx_nobuf++;
		return;
	}
	pos = rb->tail + (seq - c->rcv_nxt);
	if (pos + len > rx_cap(nc)) {
		rx_compact(c, rb);
		pos = rb->tail + (seq - c->rcv_nxt);
	}
	memcpy(rb->data + pos, p, len);
	if (seq == c->rcv_nxt) {
		uint32_t before = c->rcv_nxt;
		bool filled;

		c->rcv_nxt += len;
		rb->tail += len;
		filled = ooo_pull(c, rb);
		nc->cnt.tcp_rx_bytes += c->rcv_nxt - before;
		c->flags |= TF_RECV_DUE;
		ack_policy(nc, c, filled || rb->nooo);
		return;
	}
	nc->cnt.tcp_ooo_seg++;
	if (!ooo_add(rb, seq, seq + len))
		nc->cnt.tcp_ooo_drop++;
	ack_policy(nc, c, true);
}

uint32_t tcp_sack_blocks(const struct net_core *nc, const struct tcp_conn *c, uint32_t *blk,
                         uint32_t max)
{
	const struct tcp_rxbuf *rb = tcp_rxbuf(nc, c);
	uint32_t n = 0;

	if (!rb)
		return 0;
	for (uint32_t i = 0; i < rb->nooo && n < max; i++, n++) {
		blk[2 * n] = rb->ooo[i].lo;
		blk[2 * n + 1] = rb->ooo[i].hi;
	}
	return n;
}

void tcp_rx_consume(struct net_core *nc, struct tcp_conn *c, uint32_t n)
{
	struct tcp_rxbuf *rb = tcp_rxbuf(nc, c);
	uint32_t edge, thresh;

	if (!rb || n == 0)
		return;
	if (n > rb->tail - rb->head)
		NET_PANIC("consume %u of %u bytes", n, rb->tail - rb->head);
	rb->head += n;
	if (rb->head == rb->tail && rb->nooo == 0) {
		rx_put(nc, c->rxb);
		c->rxb = 0;
	} else {
		tcp_rx_shrink(nc, c);
	}
	if (c->state == TCP_TIME_WAIT) {
		tcp_flush_add(nc, c); /* the handle can go now (tcp_conn.c) */
		return;
	}
	if (!tcp_synced(c))
		return;
	edge = c->rcv_nxt + tcp_rcv_wnd(nc, c);
	thresh = net_min32(rx_cap(nc) / 2, 2u * nc->mss_local);
	if (SEQ_GEQ(edge, c->rcv_adv + thresh)) {
		c->flags |= TF_ACKNOW;
		tcp_flush_add(nc, c);
	}
}

void tcp_rx_drop_all(struct net_core *nc, struct tcp_conn *c)
{
	if (c->rxb)
		rx_put(nc, c->rxb);
	c->rxb = 0;
}
