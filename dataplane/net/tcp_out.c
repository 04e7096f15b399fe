/* SPDX-License-Identifier: MIT */
/*
 * tcp_out.c - segment output: what a connection may send now (SYN, data, FIN, ACK, persist
 * probe), building and checksumming segments, and resets.
 *
 * Internal (net_impl.h): tcp_output, tcp_send_seg, tcp_send_ack, tcp_send_synack,
 * tcp_send_rst, tcp_send_rst_for, tcp_xmit_raw.
 *
 * Sending data: usable = min(snd_wnd, cwnd) - in flight; segments of at most mss - options
 * bytes (RFC 6691); a short segment leaves only when it carries all queued data or when
 * nothing is in flight (sender silly window avoidance without Nagle: the application's
 * writes of one pass are coalesced anyway because output runs once per pass). The FIN rides
 * on the last data segment. Payload is copied from the send ring into the frame; the ring
 * keeps the bytes until they are acknowledged (it is the retransmission queue).
 *
 * Timers set here (RFC 6298 5.1): the retransmission timer starts when a segment occupying
 * sequence space leaves and none is running. With a zero send window and nothing in flight,
 * the persist timer runs instead (tcp_ack.c sends the probes).
 *
 * Checksums: in software unless the port offers offload, then the TCP checksum field holds the
 * pseudo-header sum and the frame asks the port for the rest.
 */
#include "dataplane/net/net_impl.h"

static void tcp_checksum(struct net_core *nc, struct net_frame *f, uint8_t *th, uint32_t tlen,
                         uint32_t src, uint32_t dst)
{
	uint32_t ps = net_pseudo_sum(src, dst, NET_IPPROTO_TCP, tlen);

	net_wr16(th + 16, 0);
	if (nc->port.caps & NET_PORT_TX_TCP_CKSUM) {
		f->flags |= NET_F_TX_TCP_CKSUM;
		net_wr16(th + 16, (uint16_t)~net_cksum_fold(ps));
	} else {
		net_wr16(th + 16, net_cksum_fold(net_cksum_add(ps, th, tlen)));
	}
}

static void tcp_header(uint8_t *th, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                       uint32_t optlen, uint8_t flags, uint16_t wnd)
{
	net_wr16(th, sport);
	net_wr16(th + 2, dport);
	net_wr32(th + 4, seq);
	net_wr32(th + 8, ack);
	th[12] = (uint8_t)(((NET_TCP_HLEN + optlen) / 4) << 4);
	th[13] = flags;
	net_wr16(th + 14, wnd);
	net_wr16(th + 16, 0);
	net_wr16(th + 18, 0);
}

int tcp_xmit_raw(struct net_core *nc, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport,
                 uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd, const uint8_t *opts,
                 uint32_t optlen)
{
	struct net_frame f;
	uint8_t *ip, *th;
	uint32_t tlen = NET_TCP_HLEN + optlen;

	if (net_tx_alloc(nc, &f) != 0)
		return -ENOBUFS;
	ip = f.data + NET_ETH_HLEN;
	th = ip + NET_IP_HLEN;
	net_ipv4_header(nc, &f, ip, NET_IPPROTO_TCP, lip, rip, tlen);
	tcp_header(th, lport, rport, seq, ack, optlen, flags, wnd);
	if (optlen)
		memcpy(th + NET_TCP_HLEN, opts, optlen);
	tcp_checksum(nc, &f, th, tlen, lip, rip);
	f.len = NET_ETH_HLEN + NET_IP_HLEN + tlen;
	nc->cnt.tcp_tx++;
	if (flags & TH_RST)
		nc->cnt.tcp_rst_tx++;
	net_eth_output_ip(nc, &f, rip);
	return 0;
}

/* Copy len bytes of the send ring starting at sequence number seq. */
static void ring_copy(const struct net_core *nc, const struct tcp_conn *c, uint8_t *dst,
                      uint32_t seq, uint32_t len)
{
	const struct tcp_txbuf *tb = tcp_txbuf(nc, c);
	uint32_t cap = nc->cfg.tx_buf_size;
	uint32_t pos = tb->head + (seq - c->snd_una);
	uint32_t first;

	if (pos >= cap)
		pos -= cap;
	first = cap - pos < len ? cap - pos : len;
	memcpy(dst, tb->data + pos, first);
	memcpy(dst + first, tb->data, len - first);
}

static void ack_sent(struct net_core *nc, struct tcp_conn *c)
{
	c->delack_segs = 0;
	c->flags &= ~TF_ACKNOW;
	if (c->flags & TF_T_DELACK)
		tcp_timer_clear(nc, c, TF_T_DELACK);
}

int tcp_send_seg(struct net_core *nc, struct tcp_conn *c, uint32_t seq, uint32_t len, uint8_t flags)
{
	struct net_frame f;
	uint8_t *ip, *th;
	uint32_t optlen, tlen, wnd;

	if (net_tx_alloc(nc, &f) != 0)
		return -ENOBUFS;
	ip = f.data + NET_ETH_HLEN;
	th = ip + NET_IP_HLEN;
	if (flags & TH_SYN) {
		bool ws = c->state == TCP_SYN_SENT ? nc->cfg.opt_wscale : (c->flags & TF_WSCALE);
		bool sack = c->state == TCP_SYN_SENT ? nc->cfg.opt_sack : (c->flags & TF_SACK);
		bool ts = c->state == TCP_SYN_SENT ? nc->cfg.opt_timestamps : (c->flags & TF_TS);

		optlen = tcp_opts_syn(th + NET_TCP_HLEN, nc->mss_local, ws ? c->rcv_wscale : -1,
		                      sack, ts, tcp_ts_now(nc, c),
		                      c->state == TCP_SYN_SENT ? 0 : c->ts_recent);
		wnd = net_min32(tcp_rcv_wnd(nc, c), 65535);
		c->rcv_adv = c->rcv_nxt + wnd;
	} else {
		optlen = tcp_opts_write(nc, c, th + NET_TCP_HLEN, true);
		wnd = tcp_rcv_wnd_adv(nc, c);
	}
	tlen = NET_TCP_HLEN + optlen + len;
	net_ipv4_header(nc, &f, ip, NET_IPPROTO_TCP, c->lip, c->rip, tlen);
	tcp_header(th, c->lport, c->rport, seq, (flags & TH_ACK) ? c->rcv_nxt : 0, optlen, flags,
	           (uint16_t)wnd);
	if (len)
		ring_copy(nc, c, th + NET_TCP_HLEN + optlen, seq, len);
	tcp_checksum(nc, &f, th, tlen, c->lip, c->rip);
	f.len = NET_ETH_HLEN + NET_IP_HLEN + tlen;
	nc->cnt.tcp_tx++;
	nc->cnt.tcp_tx_bytes += len;
	if (flags & TH_ACK)
		ack_sent(nc, c);
	net_eth_output_ip(nc, &f, c->rip);
	return 0;
}

/*
 * The sequence number of a segment without data. After a timeout snd_nxt goes back to
 * snd_una while the peer may already hold everything up to snd_max; an ACK numbered below its
 * RCV.NXT would be unacceptable to it and answered with an ACK of its own, forever. So use
 * snd_max, but not beyond the right edge of the peer's window (RFC 9293 3.10.7.4).
 */
static uint32_t ack_seq(const struct tcp_conn *c)
{
	uint32_t edge = c->snd_una + c->snd_wnd;

	if (!SEQ_GT(c->snd_max, edge))
		return c->snd_max;
	return SEQ_GT(edge, c->snd_nxt) ? edge : c->snd_nxt;
}

void tcp_send_ack(struct net_core *nc, struct tcp_conn *c)
{
	tcp_send_seg(nc, c, ack_seq(c), 0, TH_ACK);
}

void tcp_send_synack(struct net_core *nc, struct tcp_conn *c)
{
	tcp_send_seg(nc, c, c->iss, 0, TH_SYN | TH_ACK);
}

void tcp_send_rst(struct net_core *nc, struct tcp_conn *c)
{
	tcp_xmit_raw(nc, c->lip, c->lport, c->rip, c->rport, c->snd_max, c->rcv_nxt,
	             TH_RST | TH_ACK, 0, NULL, 0);
}

/* RFC 9293 3.10.7.1: the reset answering a segment that has no connection. */
void tcp_send_rst_for(struct net_core *nc, const struct tcp_seg *s)
{
	if (s->flags & TH_RST)
		return;
	if (s->flags & TH_ACK) {
		tcp_xmit_raw(nc, s->dip, s->dport, s->sip, s->sport, s->ack, 0, TH_RST, 0, NULL, 0);
	} else {
		uint32_t ack = s->seq + s->len + !!(s->flags & TH_SYN) + !!(s->flags & TH_FIN);

		tcp_xmit_raw(nc, s->dip, s->dport, s->sip, s->sport, 0, ack, TH_RST | TH_ACK, 0,
		             NULL, 0);
	}
}

static void arm_rexmit(struct net_core *nc, struct tcp_conn *c)
{
	if (!(c->flags & (TF_T_REXMIT | TF_PERSIST)))
		tcp_timer_set(nc, c, TF_T_REXMIT, c->rto_ms);
}

static void output_syn(struct net_core *nc, struct tcp_conn *c)
{
	if (c->snd_nxt == c->iss) {
		tcp_send_seg(nc, c, c->iss, 0,
		             c->state == TCP_SYN_SENT ? TH_SYN : (TH_SYN | TH_ACK));
		c->snd_nxt = c->iss + 1;
		if (c->retries == 0) { /* time the handshake (Karn: only if never resent) */
			c->flags |= TF_RTT;
			c->rtt_start_us = (uint32_t)nc->now_us;
		}
		if (SEQ_GT(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
		arm_rexmit(nc, c);
	}
}

/* Payload bytes for the next segment at snd_nxt; *fin set when the FIN goes with it. */
static uint32_t next_len(struct net_core *nc, struct tcp_conn *c, bool *fin)
{
	uint32_t txlen = tcp_txlen(nc, c), off = c->snd_nxt - c->snd_una;
	uint32_t avail, win, flight, usable, maxseg, len;

	*fin = false;
	if (off > txlen)
		return 0; /* FIN already sent */
	avail = txlen - off;
	win = net_min32(c->snd_wnd, c->cwnd);
	flight = c->snd_nxt - c->snd_una;
	usable = win > flight ? win - flight : 0;
	maxseg = c->mss - tcp_opts_len(nc, c, true);
	len = net_min32(net_min32(avail, usable), maxseg);
	if ((c->flags & TF_FORCE_PROBE) && avail && !len)
		len = 1;
	if (len < avail && len < maxseg && flight && len < c->max_snd_wnd / 2 &&
	    !(c->flags & TF_FORCE_PROBE))
		len = 0; /* silly window: wait for a larger window or the ACKs in flight */
	*fin = (c->flags & (TF_FIN_Q | TF_FIN_ACKED)) == TF_FIN_Q && len == avail;
	return len;
}

void tcp_output(struct net_core *nc, struct tcp_conn *c)
{
	bool sent = false, fin;

	if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RCVD) {
		output_syn(nc, c);
		return;
	}
	if (c->state == TCP_TIME_WAIT || !tcp_synced(c)) {
		if (c->state == TCP_TIME_WAIT && (c->flags & TF_ACKNOW))
			tcp_send_ack(nc, c);
		return;
	}
	for (;;) {
		uint32_t len = next_len(nc, c, &fin);
		uint8_t flags = TH_ACK;

		if (!len && !fin)
			break;
		if (len && len == tcp_txlen(nc, c) - (c->snd_nxt - c->snd_una))
			flags |= TH_PSH;
		if (fin)
			flags |= TH_FIN;
		if (tcp_send_seg(nc, c, c->snd_nxt, len, flags) != 0)
			break;
		if (!(c->flags & TF_RTT) && c->snd_nxt == c->snd_max && len) {
			c->flags |= TF_RTT;
			c->rtt_seq = c->snd_nxt;
			c->rtt_start_us = (uint32_t)nc->now_us;
		}
		c->snd_nxt += len + fin;
		if (SEQ_GT(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
		c->flags &= ~TF_FORCE_PROBE;
		sent = true;
		arm_rexmit(nc, c);
		if (fin)
			break;
	}
	if (!sent && (c->flags & TF_ACKNOW))
		tcp_send_ack(nc, c);
	if (c->snd_wnd == 0 && c->snd_nxt == c->snd_una && tcp_txlen(nc, c) &&
	    !(c->flags & TF_PERSIST)) {
		/* zero window, nothing in flight: probe with the persist timer (RFC 9293 3.8.6.1)
		 */
		c->flags |= TF_PERSIST;
		c->backoff = 0;
		tcp_timer_set(nc, c, TF_T_REXMIT, c->rto_ms);
	}
	tcp_check(nc, c);
}
