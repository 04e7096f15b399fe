/* SPDX-License-Identifier: MIT */
/*
 * tcp_in.c - segment arrival: header and checksum validation, connection lookup, and the
 * state machine of RFC 9293 3.10.7 with the RFC 5961 and RFC 7323 checks.
 *
 * Internal (net_impl.h): tcp_input.
 *
 * Order of checks for a connection past SYN_SENT (RFC 9293 3.10.7.4):
 *   PAWS (RFC 7323 5.3) -> sequence acceptability (an unacceptable non-RST is answered with an
 *   ACK) -> RST (RFC 5961 3.2: exactly RCV.NXT resets; otherwise in window gets a challenge
 *   ACK) -> SYN (RFC 5961 4.2: challenge ACK, except the peer's retransmitted SYN in SYN_RCVD)
 *   -> ACK (SYN_RCVD completes the handshake; RFC 5961 5.2 range in tcp_ack.c) -> FIN of ours
 *   acknowledged (state changes) -> data (tcp_rx.c) -> the peer's FIN once every byte before
 *   it is in (an early FIN is remembered in rcv_fin) -> events.
 *
 * TIME_WAIT: RSTs are ignored (RFC 1337); a new SYN may reuse the 4-tuple when it is
 * provably newer: a higher timestamp when both used timestamps, else a sequence number above
 * RCV.NXT (RFC 6191 / RFC 1122 4.2.2.13); anything else is answered as a duplicate.
 *
 * Data after tcp_close() (the application will never read it) resets the connection
 * (RFC 1122 4.2.2.13). Segments for no connection and no listener get a RST (never a RST for
 * a RST). Malformed options drop the segment (counted).
 */
#include "dataplane/net/net_impl.h"

static bool parse_seg(struct net_core *nc, const uint8_t *ip, uint32_t iphl, uint32_t len,
                      bool l4_ok, struct tcp_seg *s)
{
	const uint8_t *th = ip + iphl;
	uint32_t tlen = len - iphl, doff;

	if (tlen < NET_TCP_HLEN) {
		nc->cnt.tcp_drop_hdr++;
		return false;
	}
	doff = (uint32_t)(th[12] >> 4) * 4;
	s->sip = net_rd32(ip + 12);
	s->dip = net_rd32(ip + 16);
	s->sport = net_rd16(th);
	s->dport = net_rd16(th + 2);
	if (doff < NET_TCP_HLEN || doff > tlen || s->sport == 0 || s->dport == 0) {
		nc->cnt.tcp_drop_hdr++;
		return false;
	}
	if (!l4_ok && net_cksum_fold(net_cksum_add(
	                  net_pseudo_sum(s->sip, s->dip, NET_IPPROTO_TCP, tlen), th, tlen))) {
		nc->cnt.tcp_drop_cksum++;
		return false;
	}
	s->seq = net_rd32(th + 4);
	s->ack = net_rd32(th + 8);
	s->flags = th[13] & 0x3f;
	s->wnd = net_rd16(th + 14);
	s->data = th + doff;
	s->len = tlen - doff;
	if (tcp_opts_parse(th + NET_TCP_HLEN, doff - NET_TCP_HLEN, (s->flags & TH_SYN) != 0,
	                   &s->opt) != 0) {
		nc->cnt.tcp_drop_opts++;
		return false;
	}
	return true;
}

/* RFC 9293 3.10.7.4 first check, with the zero-window allowance for probes at RCV.NXT. */
static bool seq_acceptable(const struct tcp_conn *c, const struct tcp_seg *s)
{
	uint32_t seglen = s->len + !!(s->flags & TH_SYN) + !!(s->flags & TH_FIN);
	uint32_t wnd = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t a = s->seq - c->rcv_nxt;

	if (wnd == 0)
		return s->seq == c->rcv_nxt;
	if (seglen == 0)
		return a < wnd;
	return a < wnd || (uint32_t)(s->seq + seglen - 1 - c->rcv_nxt) < wnd;
}

static bool tw_reuse(const struct tcp_conn *c, const struct tcp_seg *s)
{
	if ((s->flags & (TH_SYN | TH_ACK | TH_RST | TH_FIN)) != TH_SYN)
		return false;
	if ((c->flags & TF_TS) && (s->opt.has & TO_TS))
		return SEQ_GT(s->opt.tsval, c->ts_recent);
	return SEQ_GT(s->seq, c->rcv_nxt);
}

/* An acceptable RST arrived. */
static void conn_reset(struct net_core *nc, struct tcp_conn *c)
{
	nc->cnt.tcp_resets_rx++;
	if (c->state == TCP_SYN_RCVD && !(c->flags & TF_ACTIVE)) {
		tcp_conn_free(nc, c); /* RFC 9293: back to LISTEN, nothing to tell */
		return;
	}
	/* after our FIN, with every byte acknowledged, nothing was lost: an orderly end */
	tcp_release(nc, c,
	            (c->state == TCP_LAST_ACK || c->state == TCP_CLOSING) && !tcp_txlen(nc, c)
	                ? 0
	                : -ECONNRESET);
}

static void syn_sent_input(struct net_core *nc, struct tcp_conn *c, const struct tcp_seg *s)
{
	if ((s->flags & TH_ACK) && (SEQ_LEQ(s->ack, c->iss) || SEQ_GT(s->ack, c->snd_max))) {
		tcp_send_rst_for(nc, s);
		return;
	}
	if (s->flags & TH_RST) {
		if (s->flags & TH_ACK) {
			nc->cnt.tcp_resets_rx++;
			tcp_release(nc, c, -ECONNREFUSED);
		}
		return;
	}
	if (!(s->flags & TH_SYN))
		return;
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	/* our SYN offered an unscaled window; its right edge is known only now */
	c->rcv_adv = c->rcv_nxt + net_min32(tcp_rcv_wnd(nc, c), 65535);
	tcp_apply_syn_opts(nc, c, &s->opt);
	c->cwnd = net_max32(nc->cfg.init_cwnd_segs, 2) * tcp_smss(c);
	if (s->opt.has & TO_TS)
		c->ts_recent = s->opt.tsval;
	if (!(s->flags & TH_ACK)) { /* simultaneous open */
		tcp_set_state(nc, c, TCP_SYN_RCVD);
		c->snd_nxt = c->iss;
		tcp_timer_clear(nc, c, TF_T_REXMIT);
		tcp_flush_add(nc, c);
		return;
	}
	if ((c->flags & TF_RTT) && c->retries == 0)
		tcp_rtt_sample(nc, c, (uint32_t)nc->now_us - c->rtt_start_us);
	c->flags &= ~TF_RTT;
	c->snd_una = c->snd_nxt = s->ack; /* the SYN may be queued for a resend */
	c->snd_wnd = s->wnd;              /* a SYN's window is never scaled */
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	c->retries = 0;
	tcp_set_state(nc, c, TCP_ESTABLISHED);
	tcp_timer_clear(nc, c, TF_T_REXMIT);
	c->flags |= TF_ACKNOW;
	tcp_flush_add(nc, c);
	if (nc->ops->connected)
		nc->ops->connected(nc->app, c); /* may close or abort c: flags only */
}

/* The ACK completing a passive (or simultaneous) open. false: c is gone or s was answered. */
static bool syn_rcvd_ack(struct net_core *nc, struct tcp_conn *c, const struct tcp_seg *s)
{
	if (SEQ_LEQ(s->ack, c->snd_una) || SEQ_GT(s->ack, c->snd_max)) {
		tcp_send_rst_for(nc, s);
		return false;
	}
	if ((c->flags & TF_RTT) && c->retries == 0)
		tcp_rtt_sample(nc, c, (uint32_t)nc->now_us - c->rtt_start_us);
	c->flags &= ~TF_RTT;
	tcp_set_state(nc, c, TCP_ESTABLISHED);
	tcp_timer_clear(nc, c, TF_T_REXMIT);
	c->retries = 0;
	c->snd_una = s->ack;
	c->snd_nxt = s->ack; /* a SYN-ACK resend may be pending (snd_nxt back at iss) */
	c->snd_wnd = s->wnd << c->snd_wscale;
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	if (c->flags & TF_ACTIVE) {
		if (nc->ops->connected)
			nc->ops->connected(nc->app, c);
		return true;
	}
	return tcp_accepted(nc, c) == 0;
}

/* Our FIN was acknowledged: move on. false when c was freed. */
static bool fin_acked(struct net_core *nc, struct tcp_conn *c)
{
	switch (c->state) {
	case TCP_FIN_WAIT_1:
		tcp_set_state(nc, c, TCP_FIN_WAIT_2);
		if (c->flags & TF_RX_SHUT) { /* fully closed by the application */
			tcp_timer_set(nc, c, TF_T_MISC, nc->cfg.fin_wait2_ms);
			tcp_app_release(nc, c, 0);
		}
		return true;
	case TCP_CLOSING:
		tcp_enter_time_wait(nc, c);
		return true;
	case TCP_LAST_ACK:
		tcp_release(nc, c, 0);
		return false;
	default:
		return true;
	}
}

static void fin_input(struct net_core *nc, struct tcp_conn *c)
{
	c->rcv_nxt++;
	c->flags |= TF_FIN_RCVD | TF_ACKNOW | TF_EOF_DUE;
	tcp_flush_add(nc, c);
	switch (c->state) {
	case TCP_SYN_RCVD:
	case TCP_ESTABLISHED:
		tcp_set_state(nc, c, TCP_CLOSE_WAIT);
		break;
	case TCP_FIN_WAIT_1:
		if (!(c->flags & TF_FIN_ACKED)) {
			tcp_set_state(nc, c, TCP_CLOSING);
			break;
		}
		/* our FIN is acknowledged: as in FIN_WAIT_2 */
		__attribute__((fallthrough));
	case TCP_FIN_WAIT_2:
		tcp_timer_clear(nc, c, TF_T_MISC);
		tcp_deliver(nc, c); /* data and eof() before closed() when half-closed */
		if (c->state != TCP_CLOSED && !(c->flags & TF_RELEASE))
			tcp_enter_time_wait(nc, c);
		break;
	default:
		break;
	}
}

/* The early checks; false when the segment is consumed. */
static bool conn_checks(struct net_core *nc, struct tcp_conn *c, const struct tcp_seg *s)
{
	if ((c->flags & TF_TS) && (s->opt.has & TO_TS) && !(s->flags & TH_RST) &&
	    SEQ_LT(s->opt.tsval, c->ts_recent) &&
	    (uint32_t)(nc->now_ms - c->ts_recent_ms) < TCP_TS_PAWS_IDLE_MS) {
		nc->cnt.tcp_paws_drop++;
		c->flags |= TF_ACKNOW;
		tcp_flush_add(nc, c);
		return false;
	}
	if (c->state == TCP_SYN_RCVD && (s->flags & TH_SYN) && !(s->flags & TH_ACK) &&
	    s->seq == c->irs) {
		c->snd_nxt = c->iss; /* the peer did not get our SYN-ACK: send it again */
		tcp_flush_add(nc, c);
		return false;
	}
	if (!seq_acceptable(c, s)) {
		nc->cnt.tcp_out_of_window++;
		if ((s->flags & TH_SYN) || (!(s->flags & (TH_RST | TH_FIN)) && s->len == 0)) {
			/* rate-limited: two stacks must never trade ACKs for ACKs */
			tcp_challenge_ack(nc, c);
		} else if (!(s->flags & TH_RST)) {
			c->flags |= TF_ACKNOW; /* old data: tell the sender where we are */
			tcp_flush_add(nc, c);
			if (c->state == TCP_TIME_WAIT && (s->flags & TH_FIN))
				tcp_timer_set(nc, c, TF_T_MISC, nc->cfg.time_wait_ms); /* restart */
		}
		return false;
	}
	if (s->flags & TH_RST) {
		if (s->seq == c->rcv_nxt && c->state != TCP_TIME_WAIT)
			conn_reset(nc, c);
		else if (c->state != TCP_TIME_WAIT)
			tcp_challenge_ack(nc, c);
		return false;
	}
	if (s->flags & TH_SYN) {
		tcp_challenge_ack(nc, c);
		return false;
	}
	return (s->flags & TH_ACK) != 0;
}

static void ts_update(struct net_core *nc, struct tcp_conn *c, const struct tcp_seg *s)
{
	/* RFC 7323 4.3: remember TSval of a segment covering RCV.NXT (last ACK sent) */
	if ((c->flags & TF_TS) && (s->opt.has & TO_TS) && SEQ_LEQ(s->seq, c->rcv_nxt) &&
	    SEQ_GEQ(s->opt.tsval, c->ts_recent)) {
		c->ts_recent = s->opt.tsval;
		c->ts_recent_ms = nc->now_ms;
	}
}

static void conn_input(struct net_core *nc, struct tcp_conn *c, const struct tcp_seg *s)
{
	if (!conn_checks(nc, c, s))
		return;
	if (c->state == TCP_SYN_RCVD && !syn_rcvd_ack(nc, c, s))
		return;
	ts_update(nc, c, s);
	if (tcp_ack_process(nc, c, s) != 0)
		return;
	if ((c->flags & TF_FIN_ACKED) && !fin_acked(nc, c))
		return;
	if (s->len) {
		if (c->flags & TF_RX_SHUT) {
			if (SEQ_GT(s->seq + s->len, c->rcv_nxt) && c->state != TCP_TIME_WAIT) {
				tcp_send_rst(nc, c); /* data the application will never read */
				tcp_release(nc, c, -ECONNABORTED);
				return;
			}
		} else if (c->state == TCP_ESTABLISHED || c->state == TCP_FIN_WAIT_1 ||
		           c->state == TCP_FIN_WAIT_2) {
			tcp_data_input(nc, c, s);
		} else {
			c->flags |= TF_ACKNOW; /* after the peer's FIN: nothing new can come */
			tcp_flush_add(nc, c);
		}
	}
	if ((s->flags & TH_FIN) && !(c->flags & TF_FIN_RCVD) && c->state != TCP_TIME_WAIT &&
	    SEQ_GT(s->seq + s->len, c->rcv_nxt) && SEQ_LEQ(s->seq + s->len, c->rcv_adv)) {
		c->flags |= TF_FIN_OOO; /* a hole before it: take it when the hole fills */
		c->rcv_fin = s->seq + s->len;
	}
	if ((((s->flags & TH_FIN) && s->seq + s->len == c->rcv_nxt) ||
	     ((c->flags & TF_FIN_OOO) && c->rcv_fin == c->rcv_nxt)) &&
	    !(c->flags & TF_FIN_RCVD) && c->state != TCP_TIME_WAIT)
		fin_input(nc, c);
	if (c->state != TCP_CLOSED && c->state != TCP_TIME_WAIT)
		tcp_deliver(nc, c);
}

void tcp_input(struct net_core *nc, const uint8_t *ip, uint32_t iphl, uint32_t len, bool l4_ok)
{
	struct tcp_seg s;
	struct tcp_conn *c;

	nc->cnt.tcp_rx++;
	if (!parse_seg(nc, ip, iphl, len, l4_ok, &s))
		return;
	c = tcp_lookup(nc, s.dip, s.dport, s.sip, s.sport);
	if (c && c->state == TCP_TIME_WAIT && tw_reuse(c, &s)) {
		nc->cnt.tcp_tw_reuse++;
		tcp_conn_free(nc, c);
		c = NULL;
	}
	if (!c) {
		int li = tcp_listener_find(nc, s.dport);

		if (li < 0) {
			nc->cnt.tcp_no_conn++;
			tcp_send_rst_for(nc, &s);
			return;
		}
		c = tcp_listen_input(nc, li, &s);
		if (!c)
			return;
	}
	if (c->state == TCP_SYN_SENT)
		syn_sent_input(nc, c, &s);
	else
		conn_input(nc, c, &s);
	tcp_check(nc, c);
}
