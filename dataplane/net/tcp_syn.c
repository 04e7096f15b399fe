/* SPDX-License-Identifier: MIT */
/*
 * tcp_syn.c - opening connections: listeners, initial sequence numbers, timestamp offsets,
 * SYN cookies, passive open from a SYN, active open.
 *
 * Public (tcp.h): tcp_listen, tcp_unlisten, tcp_connect.
 * Internal (net_impl.h): tcp_listener_find, tcp_listen_input, tcp_accepted, tcp_isn,
 * tcp_ts_offset, tcp_init_sender, tcp_apply_syn_opts.
 *
 * ISN (RFC 6528): ISN = M + F(4-tuple, key), M a 4-microsecond clock, F = SipHash-2-4 under a
 * per-core key drawn at start-up. Timestamps (RFC 7323 5.4) use the same keyed hash of the
 * 4-tuple as a per-connection offset added to a millisecond clock.
 *
 * SYN cookies (RFC 4987), used when a listener already has cfg.syn_backlog connections in
 * SYN_RCVD or the connection pool is empty; no state is kept for such a SYN:
 *	cookie = t mod 32 (5 bits) | MSS index (3 bits) | 24 bits of
 *		 SipHash(key, 4-tuple, peer ISN, t),  t = now / 64 s
 * The final ACK is valid when ACK - 1 is a cookie of the current or previous period for its
 * 4-tuple and SEQ - 1. Window scale and SACK-permitted cannot fit in the sequence number:
 * when the peer offered timestamps they ride in the low 6 bits of our TSval (bit 5 set,
 * bit 4 SACK, bits 0-3 the peer's shift or 15 for none) and come back in TSecr; without
 * timestamps the cookie SYN-ACK offers MSS only. The MSS is rounded down to the table below.
 */
#include "dataplane/net/net_impl.h"

#define COOKIE_PERIOD_MS 64000u
#define TS_OPT_MARK      0x20u

static const uint16_t cookie_mss[8] = {88, 536, 1200, 1300, 1360, 1400, 1440, 1460};

/* ---- listeners ---- */

int tcp_listener_find(const struct net_core *nc, uint16_t port)
{
	for (int i = 0; i < NET_MAX_LISTEN; i++)
		if (nc->lst[i].used && nc->lst[i].port == port)
			return i;
	return -1;
}

int tcp_listen(struct net_core *nc, uint16_t port)
{
	if (tcp_listener_find(nc, port) >= 0)
		return -EEXIST;
	for (int i = 0; i < NET_MAX_LISTEN; i++) {
		if (nc->lst[i].used || nc->lst[i].syn_rcvd)
			continue; /* a slot still counting old embryonic connections stays taken */
		nc->lst[i].used = 1;
		nc->lst[i].port = port;
		return 0;
	}
	return -ENOSPC;
}

int tcp_unlisten(struct net_core *nc, uint16_t port)
{
	int i = tcp_listener_find(nc, port);

	if (i < 0)
		return -ENOENT;
	nc->lst[i].used = 0; /* SYN_RCVD connections finish or time out on their own */
	return 0;
}

/* ---- hashes ---- */

static uint64_t tuple_hash(const uint8_t *key, uint32_t lip, uint16_t lport, uint32_t rip,
                           uint16_t rport, uint32_t x, uint32_t y)
{
	uint32_t k[5] = {lip, rip, ((uint32_t)lport << 16) | rport, x, y};

	return net_siphash(key, k, sizeof(k));
}

uint32_t tcp_isn(const struct net_core *nc, uint32_t lip, uint16_t lport, uint32_t rip,
                 uint16_t rport)
{
	return (uint32_t)tuple_hash(nc->ikey, lip, lport, rip, rport, 0, 0) +
	       (uint32_t)(nc->now_us / 4);
}

uint32_t tcp_ts_offset(const struct net_core *nc, uint32_t lip, uint16_t lport, uint32_t rip,
                       uint16_t rport)
{
	return (uint32_t)tuple_hash(nc->ikey, lip, lport, rip, rport, 1, 0);
}

static uint32_t cookie_make(const struct net_core *nc, const struct tcp_seg *s, uint32_t period,
                            uint32_t mssidx)
{
	uint32_t h =
	    (uint32_t)tuple_hash(nc->ckey, s->dip, s->dport, s->sip, s->sport, s->seq, period);

	return ((period & 31) << 27) | (mssidx << 24) | (h & 0xffffff);
}

/* ---- connection set-up common to both directions ---- */

void tcp_init_sender(struct net_core *nc, struct tcp_conn *c)
{
	uint32_t seg = c->mss - ((c->flags & TF_TS) ? 12 : 0);

	c->rto_ms = nc->cfg.rto_init_ms;
	c->cwnd = nc->cfg.init_cwnd_segs * seg;
	if (c->cwnd < 2 * seg)
		c->cwnd = 2 * seg;
	c->ssthresh = 0x7fffffff;
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->recover = c->iss;
}

void tcp_apply_syn_opts(struct net_core *nc, struct tcp_conn *c, const struct tcp_opts *o)
{
	uint16_t mss = tcp_mss_clamp(o);

	c->mss = mss < nc->mss_local ? mss : nc->mss_local;
	if ((o->has & TO_TS) && nc->cfg.opt_timestamps) {
		c->flags |= TF_TS;
		c->ts_recent = o->tsval;
		c->ts_recent_ms = nc->now_ms;
	}
	if ((o->has & TO_WS) && nc->cfg.opt_wscale) {
		c->flags |= TF_WSCALE;
		c->snd_wscale = o->wscale;
		c->rcv_wscale = nc->rcv_wscale;
	} else {
		c->snd_wscale = c->rcv_wscale = 0;
	}
	if ((o->has & TO_SACKOK) && nc->cfg.opt_sack)
		c->flags |= TF_SACK;
}

int tcp_accepted(struct net_core *nc, struct tcp_conn *c)
{
	nc->cnt.tcp_accepts++;
	c->flags |= TF_APP;
	if (nc->ops->accept && nc->ops->accept(nc->app, c) != 0) {
		c->flags &= ~TF_APP; /* refused: no closed() for this handle */
		tcp_send_rst(nc, c);
		tcp_conn_free(nc, c);
		return -ECONNREFUSED;
	}
	return 0;
}

/* ---- SYN cookies ---- */

static void cookie_synack(struct net_core *nc, const struct tcp_seg *s)
{
	uint32_t period = nc->now_ms / COOKIE_PERIOD_MS, idx = 0, iss, tsval = 0;
	uint16_t mss = tcp_mss_clamp(&s->opt);
	bool ts = (s->opt.has & TO_TS) && nc->cfg.opt_timestamps;
	bool ws = ts && (s->opt.has & TO_WS) && nc->cfg.opt_wscale;
	bool sack = ts && (s->opt.has & TO_SACKOK) && nc->cfg.opt_sack;
	uint8_t opts[TCP_OPT_MAXLEN];
	uint32_t optlen;

	if (mss > nc->mss_local)
		mss = nc->mss_local;
	while (idx < 7 && cookie_mss[idx + 1] <= mss)
		idx++;
	iss = cookie_make(nc, s, period, idx);
	if (ts) {
		uint32_t base = nc->now_ms + tcp_ts_offset(nc, s->dip, s->dport, s->sip, s->sport);

		tsval =
		    (base & ~63u) | TS_OPT_MARK | (sack ? 0x10u : 0) | (ws ? s->opt.wscale : 0xfu);
		if (SEQ_GT(tsval, base))
			tsval -= 64; /* never ahead of the clock the connection will use */
	}
	optlen = tcp_opts_syn(opts, nc->mss_local, ws ? nc->rcv_wscale : -1, sack, ts, tsval,
	                      s->opt.tsval);
	nc->cnt.tcp_cookie_tx++;
	tcp_xmit_raw(nc, s->dip, s->dport, s->sip, s->sport, iss, s->seq + 1, TH_SYN | TH_ACK,
	             (uint16_t)net_min32(nc->cfg.rx_buf_size, 65535), opts, optlen);
}

/* Decode the peer's options from the TSecr of a cookie handshake's final ACK. */
static void cookie_opts(struct net_core *nc, struct tcp_conn *c, const struct tcp_seg *s)
{
	if (!(s->opt.has & TO_TS) || !nc->cfg.opt_timestamps || !(s->opt.tsecr & TS_OPT_MARK))
		return;
	c->flags |= TF_TS;
	c->ts_recent = s->opt.tsval;
	c->ts_recent_ms = nc->now_ms;
	if ((s->opt.tsecr & 0xf) != 0xf) {
		c->flags |= TF_WSCALE;
		c->snd_wscale = (uint8_t)(s->opt.tsecr & 0xf);
		c->rcv_wscale = nc->rcv_wscale;
	}
	if (s->opt.tsecr & 0x10)
		c->flags |= TF_SACK;
}

/*
 * The final ACK of a cookie handshake. 1: *out is the new connection; 0: drop silently (no
 * memory; the peer's next segment tries again); -1: not a valid cookie (answer with RST).
 */
static int cookie_ack(struct net_core *nc, int li, const struct tcp_seg *s, struct tcp_conn **out)
{
	uint32_t cookie = s->ack - 1, cur = nc->now_ms / COOKIE_PERIOD_MS;
	uint32_t idx = (cookie >> 24) & 7, p;
	struct tcp_seg syn = *s;
	struct tcp_conn *c;

	syn.seq = s->seq - 1; /* the SYN's sequence number */
	for (p = cur; p != cur - 2; p--)
		if ((p & 31) == cookie >> 27 && cookie_make(nc, &syn, p, idx) == cookie)
			break;
	if (p == cur - 2) {
		nc->cnt.tcp_cookie_bad++;
		return -1;
	}
	c = tcp_conn_new(nc, s->dip, s->dport, s->sip, s->sport);
	if (!c)
		return 0;
	nc->cnt.tcp_cookie_ok++;
	c->listener = (uint8_t)(li + 1);
	tcp_set_state(nc, c, TCP_ESTABLISHED);
	c->iss = cookie;
	c->irs = syn.seq;
	c->rcv_nxt = s->seq;
	c->rcv_adv = s->seq + net_min32(nc->cfg.rx_buf_size, 65535);
	c->mss = cookie_mss[idx] < nc->mss_local ? cookie_mss[idx] : nc->mss_local;
	c->ts_off = tcp_ts_offset(nc, s->dip, s->dport, s->sip, s->sport);
	cookie_opts(nc, c, s);
	tcp_init_sender(nc, c);
	c->snd_una = c->snd_nxt = c->snd_max = cookie + 1;
	c->snd_wnd = s->wnd << c->snd_wscale;
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	if (tcp_accepted(nc, c) != 0)
		return 0; /* refused by the application: tcp_accepted() sent the RST */
	*out = c;
	return 1;
}

/* ---- passive open ---- */

static void syn_input(struct net_core *nc, int li, const struct tcp_seg *s)
{
	struct tcp_conn *c = NULL;

	nc->cnt.tcp_syn_rx++;
	if (nc->lst[li].syn_rcvd < nc->cfg.syn_backlog)
		c = tcp_conn_new(nc, s->dip, s->dport, s->sip, s->sport);
	if (!c) {
		cookie_synack(nc, s);
		return;
	}
	c->listener = (uint8_t)(li + 1);
	tcp_set_state(nc, c, TCP_SYN_RCVD);
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	c->iss = tcp_isn(nc, s->dip, s->dport, s->sip, s->sport);
	c->ts_off = tcp_ts_offset(nc, s->dip, s->dport, s->sip, s->sport);
	tcp_apply_syn_opts(nc, c, &s->opt);
	tcp_init_sender(nc, c);
	c->snd_wnd = s->wnd; /* never scaled in a SYN */
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = c->iss;
	tcp_flush_add(nc, c); /* the SYN-ACK leaves with this pass's output */
}

/* A segment for a listening port with no connection (RFC 9293 3.10.7.2). */
struct tcp_conn *tcp_listen_input(struct net_core *nc, int li, const struct tcp_seg *s)
{
	struct tcp_conn *c;

	if (s->flags & TH_RST)
		return NULL;
	if (s->flags & TH_ACK) {
		int rc = -1;

		c = NULL;
		if (!(s->flags & TH_SYN))
			rc = cookie_ack(nc, li, s, &c);
		if (rc < 0)
			tcp_send_rst_for(nc, s);
		return c;
	}
	if ((s->flags & (TH_SYN | TH_FIN)) != TH_SYN) {
		nc->cnt.tcp_syn_drop++;
		return NULL;
	}
	syn_input(nc, li, s);
	return NULL;
}

/* ---- active open ---- */

static int pick_port(struct net_core *nc, uint32_t ip, uint16_t port, uint16_t *out)
{
	uint32_t span = (uint32_t)nc->cfg.eph_hi - nc->cfg.eph_lo + 1;

	for (uint32_t i = 0; i < span; i++) {
		uint16_t p = nc->eph_next;

		nc->eph_next = p >= nc->cfg.eph_hi ? nc->cfg.eph_lo : (uint16_t)(p + 1);
		if (!tcp_lookup(nc, nc->cfg.ip, p, ip, port) && tcp_listener_find(nc, p) < 0) {
			*out = p;
			return 0;
		}
	}
	return -EADDRNOTAVAIL;
}

struct tcp_conn *tcp_connect(struct net_core *nc, uint32_t ip, uint16_t port, void *user,
                             uint64_t now_us)
{
	struct tcp_conn *c;
	uint16_t lport;

	if (now_us > nc->now_us) {
		nc->now_us = now_us;
		nc->now_ms = (uint32_t)(now_us / 1000);
	}
	if (pick_port(nc, ip, port, &lport) != 0) {
		errno = EADDRNOTAVAIL;
		return NULL;
	}
	c = tcp_conn_new(nc, nc->cfg.ip, lport, ip, port);
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	tcp_set_state(nc, c, TCP_SYN_SENT);
	c->flags |= TF_ACTIVE | TF_APP;
	c->user = user;
	c->iss = tcp_isn(nc, c->lip, c->lport, c->rip, c->rport);
	c->ts_off = tcp_ts_offset(nc, c->lip, c->lport, c->rip, c->rport);
	c->mss = TCP_MSS_DEFAULT;
	c->rcv_wscale = nc->cfg.opt_wscale ? nc->rcv_wscale : 0;
	tcp_init_sender(nc, c);
	nc->cnt.tcp_connects++;
	tcp_flush_add(nc, c);
	return c;
}
