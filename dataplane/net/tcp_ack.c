/* SPDX-License-Identifier: MIT */
/*
 * tcp_ack.c - the sender's reaction to ACKs and to its timers: acceptable-ACK check (RFC
 * 5961 5.2), send window update, RTT estimation and RTO (RFC 6298, Karn's rule), congestion
 * window (RFC 5681 slow start and congestion avoidance), fast retransmit and NewReno recovery
 * (RFC 6582), retransmission timeout with exponential backoff, persist probes.
 *
 * Internal (net_impl.h): tcp_ack_process, tcp_retransmit_first, tcp_smss, tcp_rtt_sample,
 * tcp_rto_expired, tcp_persist_expired.
 *
 * tcp_ack_process() returns 0 (go on with the segment's data and FIN) or -1 (drop the segment;
 * any answer has been sent). It never frees the connection.
 *
 * RTT: one segment at a time is timed (rtt_seq, rtt_start_us); any retransmission cancels the
 * measurement (Karn), so a backed-off RTO stays until a segment sent once is acknowledged.
 * Timestamps are used for PAWS only, not for RTT.
 *
 * Recovery: on the third duplicate ACK (RFC 5681 definition) above `recover`, ssthresh =
 * max(flight / 2, 2 * SMSS), cwnd = ssthresh + 3 * SMSS, the first unacknowledged segment is
 * resent; each further duplicate inflates cwnd by SMSS; a partial ACK resends the next hole
 * and deflates; a full ACK (>= recover) sets cwnd = min(ssthresh, flight + SMSS). An RTO sets
 * cwnd to one segment, recover = snd_max and goes back to snd_una (go-back-N from the ring).
 */
#include "dataplane/net/net_impl.h"

uint32_t tcp_smss(const struct tcp_conn *c)
{
	return c->mss - ((c->flags & TF_TS) ? 12u : 0u);
}

void tcp_challenge_ack(struct net_core *nc, struct tcp_conn *c)
{
	if ((uint32_t)(nc->now_ms - c->chal_ms) >= 1000) {
		c->chal_ms = nc->now_ms;
		c->chal_cnt = 0;
	}
	if (c->chal_cnt >= nc->cfg.challenge_acks) {
		nc->cnt.tcp_challenge_limited++;
		return;
	}
	c->chal_cnt++;
	nc->cnt.tcp_challenge_ack++;
	tcp_send_ack(nc, c);
}

void tcp_rtt_sample(struct net_core *nc, struct tcp_conn *c, uint32_t r)
{
	uint32_t rto_us, var4;

	if (r == 0)
		r = 1;
	if (c->srtt_us == 0) {
		c->srtt_us = r;
		c->rttvar_us = r / 2;
	} else {
		uint32_t delta = c->srtt_us > r ? c->srtt_us - r : r - c->srtt_us;

		c->rttvar_us = (uint32_t)(((uint64_t)c->rttvar_us * 3 + delta) / 4);
		c->srtt_us = (uint32_t)(((uint64_t)c->srtt_us * 7 + r) / 8);
	}
	var4 = c->rttvar_us > 0x3fffffff ? 0xffffffffu : 4 * c->rttvar_us;
	rto_us = c->srtt_us + (var4 > 1000 ? var4 : 1000); /* G = 1 ms, the timer tick */
	c->rto_ms = (rto_us + 999) / 1000;
	if (c->rto_ms < nc->cfg.rto_min_ms)
		c->rto_ms = nc->cfg.rto_min_ms;
	if (c->rto_ms > nc->cfg.rto_max_ms)
		c->rto_ms = nc->cfg.rto_max_ms;
}

/* Resend the segment at snd_una (fast retransmit, partial ACK): data, or the FIN alone. */
void tcp_retransmit_first(struct net_core *nc, struct tcp_conn *c)
{
	uint32_t txlen = tcp_txlen(nc, c);
	uint32_t maxseg = c->mss - tcp_opts_len(nc, c, true);
	uint32_t len = net_min32(txlen, maxseg);
	bool fin = (c->flags & TF_FIN_Q) && len == txlen && SEQ_GT(c->snd_max, c->snd_una + txlen);

	if (!len && !fin)
		return;
	c->flags &= ~TF_RTT;
	tcp_send_seg(nc, c, c->snd_una, len, TH_ACK | (fin ? TH_FIN : 0));
}

/* Drop n acknowledged bytes from the send ring; free it when empty. */
static void ring_ack(struct net_core *nc, struct tcp_conn *c, uint32_t n)
{
	struct tcp_txbuf *tb = tcp_txbuf(nc, c);

	if (!tb || !n)
		return;
	tb->head += n;
	if (tb->head >= nc->cfg.tx_buf_size)
		tb->head -= nc->cfg.tx_buf_size;
	tb->len -= n;
	if (tb->len == 0) {
		net_pool_put(&nc->txpool, c->txb);
		c->txb = 0;
	}
}

static void cc_new_ack(struct net_core *nc, struct tcp_conn *c, uint32_t acked)
{
	uint32_t smss = tcp_smss(c), flight = c->snd_max - c->snd_una;

	if (c->flags & TF_RECOVERY) {
		if (SEQ_GEQ(c->snd_una, c->recover)) { /* full ACK: leave recovery */
			c->cwnd = net_min32(c->ssthresh, net_max32(flight, smss) + smss);
			c->flags &= ~TF_RECOVERY;
			c->dupacks = 0;
		} else { /* partial ACK: resend the next hole, deflate */
			tcp_retransmit_first(nc, c);
			nc->cnt.tcp_rexmit_fast++;
			c->cwnd = (c->cwnd > acked ? c->cwnd - acked : 0) + smss;
		}
		return;
	}
	c->dupacks = 0;
	if (c->cwnd >= 2 * net_max32(c->max_snd_wnd, 32768))
		return; /* the peer's window limits us: growing further only risks overflow */
	if (c->cwnd < c->ssthresh) {
		c->cwnd += net_min32(acked, smss);
	} else {
		c->acked_bytes += acked;
		if (c->acked_bytes >= c->cwnd) {
			c->acked_bytes -= c->cwnd;
			c->cwnd += smss;
		}
	}
}

static void new_ack(struct net_core *nc, struct tcp_conn *c, uint32_t ack)
{
	uint32_t acked = ack - c->snd_una, txlen = tcp_txlen(nc, c);
	uint32_t data = acked < txlen ? acked : txlen;

	if ((c->flags & TF_FIN_Q) && acked > txlen)
		c->flags |= TF_FIN_ACKED;
	ring_ack(nc, c, data);
	c->snd_una = ack;
	if (SEQ_LT(c->snd_nxt, ack))
		c->snd_nxt = ack;
	c->retries = 0;
	if ((c->flags & TF_RTT) && SEQ_GT(ack, c->rtt_seq)) {
		c->flags &= ~TF_RTT;
		tcp_rtt_sample(nc, c, (uint32_t)nc->now_us - c->rtt_start_us);
	}
	cc_new_ack(nc, c, acked);
	if (c->snd_una == c->snd_max) {
		if (!(c->flags & TF_PERSIST))
			tcp_timer_clear(nc, c, TF_T_REXMIT);
	} else if (!(c->flags & TF_PERSIST)) {
		tcp_timer_set(nc, c, TF_T_REXMIT, c->rto_ms); /* RFC 6298 5.3 */
	}
	tcp_flush_add(nc, c);
}

static void dup_ack(struct net_core *nc, struct tcp_conn *c)
{
	uint32_t smss = tcp_smss(c), flight = c->snd_max - c->snd_una;

	nc->cnt.tcp_dupack_rx++;
	if (c->flags & TF_RECOVERY) {
		c->cwnd += smss;
		tcp_flush_add(nc, c);
		return;
	}
	if (++c->dupacks != 3 || !SEQ_GEQ(c->snd_una, c->recover))
		return;
	c->ssthresh = net_max32(flight / 2, 2 * smss);
	c->recover = c->snd_max;
	c->cwnd = c->ssthresh + 3 * smss;
	c->flags |= TF_RECOVERY;
	nc->cnt.tcp_rexmit_fast++;
	tcp_retransmit_first(nc, c);
	tcp_flush_add(nc, c);
}

/* Window update (RFC 9293 3.10.7.4, fifth check); true if the window changed. */
static bool window_update(struct tcp_conn *c, const struct tcp_seg *s)
{
	uint32_t w;

	if (!(SEQ_LT(c->snd_wl1, s->seq) || (c->snd_wl1 == s->seq && SEQ_LEQ(c->snd_wl2, s->ack))))
		return false;
	w = s->wnd << c->snd_wscale;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	if (w > c->max_snd_wnd)
		c->max_snd_wnd = w;
	if (w == c->snd_wnd)
		return false;
	c->snd_wnd = w;
	return true;
}

static void persist_check(struct net_core *nc, struct tcp_conn *c)
{
	if (!(c->flags & TF_PERSIST))
		return;
	c->retries = 0; /* the peer is alive */
	if (c->snd_wnd == 0)
		return;
	c->flags &= ~TF_PERSIST;
	c->backoff = 0;
	tcp_timer_clear(nc, c, TF_T_REXMIT);
	tcp_flush_add(nc, c); /* output re-arms the RTO for what is in flight */
}

int tcp_ack_process(struct net_core *nc, struct tcp_conn *c, const struct tcp_seg *s)
{
	uint32_t ack = s->ack;
	bool wchg;

	if (SEQ_GT(ack, c->snd_max) || SEQ_LT(ack, c->snd_una - c->max_snd_wnd)) {
		nc->cnt.tcp_bad_ack++; /* RFC 5961 5.2: drop, answer with a (limited) ACK */
		tcp_challenge_ack(nc, c);
		return -1;
	}
	if (SEQ_LT(ack, c->snd_una))
		return 0; /* old duplicate: ignore the ACK field, keep the data */
	wchg = window_update(c, s);
	if (SEQ_GT(ack, c->snd_una))
		new_ack(nc, c, ack);
	else if (!wchg && s->len == 0 && !(s->flags & (TH_SYN | TH_FIN)) &&
	         c->snd_max != c->snd_una && c->snd_wnd && !(c->flags & TF_PERSIST))
		dup_ack(nc, c); /* RFC 5681 definition; answers to window probes excluded */
	persist_check(nc, c);
	if (wchg)
		tcp_flush_add(nc, c);
	return 0;
}

/* ---- timers ---- */

static void give_up(struct net_core *nc, struct tcp_conn *c)
{
	nc->cnt.tcp_timeouts++;
	if (c->state == TCP_SYN_RCVD && !(c->flags & TF_ACTIVE)) {
		tcp_conn_free(nc, c); /* never handed to the application */
		return;
	}
	if (c->state != TCP_SYN_SENT)
		tcp_send_rst(nc, c);
	tcp_release(nc, c, -ETIMEDOUT);
}

void tcp_rto_expired(struct net_core *nc, struct tcp_conn *c)
{
	uint32_t smss = tcp_smss(c), flight = c->snd_max - c->snd_una;
	uint32_t limit = tcp_synced(c) ? nc->cfg.data_retries : nc->cfg.syn_retries;

	if (c->snd_una == c->snd_max && tcp_synced(c))
		return; /* nothing outstanding (raced with an ACK) */
	if (++c->retries > limit) {
		give_up(nc, c);
		return;
	}
	nc->cnt.tcp_rexmit_rto++;
	c->rto_ms = c->rto_ms >= nc->cfg.rto_max_ms / 2 ? nc->cfg.rto_max_ms : c->rto_ms * 2;
	c->backoff++;
	c->flags &= ~(TF_RTT | TF_RECOVERY);
	c->dupacks = 0;
	if (tcp_synced(c)) {
		c->ssthresh = net_max32(flight / 2, 2 * smss);
		c->cwnd = smss;
		c->acked_bytes = 0;
		c->recover = c->snd_max;
		c->snd_nxt = c->snd_una;
	} else {
		c->snd_nxt = c->iss; /* resend the SYN or SYN-ACK */
	}
	tcp_output(nc, c);
}

void tcp_persist_expired(struct net_core *nc, struct tcp_conn *c)
{
	uint64_t ivl;

	if (c->snd_wnd || !tcp_txlen(nc, c)) {
		c->flags &= ~TF_PERSIST;
		tcp_flush_add(nc, c);
		return;
	}
	if (++c->retries > nc->cfg.data_retries) {
		give_up(nc, c);
		return;
	}
	nc->cnt.tcp_persist_probe++;
	c->snd_nxt = c->snd_una;
	c->flags |= TF_FORCE_PROBE;
	tcp_output(nc, c);
	c->flags &= ~TF_FORCE_PROBE;
	if (c->backoff < 16)
		c->backoff++;
	ivl = (uint64_t)c->rto_ms << c->backoff;
	if (ivl > nc->cfg.rto_max_ms)
		ivl = nc->cfg.rto_max_ms;
	tcp_timer_set(nc, c, TF_T_REXMIT, (uint32_t)ivl);
}
