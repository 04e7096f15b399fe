/* SPDX-License-Identifier: MIT */
/*
 * nettest.h - helpers for the scripted tests of dataplane/net: a check counter, a frame
 * builder and parser (Ethernet, ARP, IPv4, ICMP, TCP with options, real checksums), a test
 * environment (one stack on an in-memory port, a virtual clock) and a recording application.
 *
 * The remote host of every scripted test is PEER_IP / PEER_MAC; the stack is HOST_IP /
 * HOST_MAC. Frames the stack sends are taken from the port and parsed into struct tpkt, whose
 * ip_ok / l4_ok say whether the checksums the stack wrote are right.
 *
 * Tests only; header-only (static functions, possibly unused in a given test).
 */
#ifndef SLUICE_TESTS_NETTEST_H
#define SLUICE_TESTS_NETTEST_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/net/memport.h"
#include "dataplane/net/net.h"
#include "dataplane/net/tcp.h"

#define NT_UNUSED __attribute__((unused))

/* ---- checks ---- */

static int nt_pass, nt_fail;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			nt_pass++;                                                                 \
		} else {                                                                           \
			nt_fail++;                                                                 \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

NT_UNUSED static int nt_report(void)
{
	printf("%d passed, %d failed\n", nt_pass, nt_fail);
	return nt_fail ? 1 : 0;
}

/* ---- addresses ---- */

#define HOST_IP 0x0a000001u /* 10.0.0.1 */
#define PEER_IP 0x0a000002u /* 10.0.0.2 */
static const uint8_t HOST_MAC[6] NT_UNUSED = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t PEER_MAC[6] NT_UNUSED = {0x02, 0, 0, 0, 0, 0x02};

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

static inline void nt_w16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void nt_w32(uint8_t *p, uint32_t v)
{
	nt_w16(p, (uint16_t)(v >> 16));
	nt_w16(p + 2, (uint16_t)v);
}
static inline uint16_t nt_r16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t nt_r32(const uint8_t *p)
{
	return (uint32_t)nt_r16(p) << 16 | nt_r16(p + 2);
}

static inline uint32_t nt_sum(uint32_t s, const uint8_t *p, size_t n)
{
	for (; n >= 2; n -= 2, p += 2)
		s += (uint32_t)(p[0] << 8 | p[1]);
	if (n)
		s += (uint32_t)p[0] << 8;
	return s;
}
static inline uint16_t nt_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* ---- frame builder ---- */

/* A TCP segment to build. Options are raw bytes (use the nt_opt_* helpers). */
struct tseg {
	uint32_t sip, dip;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	uint8_t opts[60];
	uint32_t optlen;
	const void *data;
	uint32_t len;
	bool bad_ip_cksum, bad_tcp_cksum;
	uint16_t frag;    /* IPv4 flags+offset field (0x4000 = DF by default when 0) */
	uint8_t raw_doff; /* 0: computed; else written as the data offset (words) */
};

NT_UNUSED static void nt_opt_mss(struct tseg *s, uint16_t mss)
{
	uint8_t *p = s->opts + s->optlen;

	p[0] = 2;
	p[1] = 4;
	nt_w16(p + 2, mss);
	s->optlen += 4;
}
NT_UNUSED static void nt_opt_ws(struct tseg *s, uint8_t shift)
{
	uint8_t *p = s->opts + s->optlen;

	p[0] = 1;
	p[1] = 3;
	p[2] = 3;
	p[3] = shift;
	s->optlen += 4;
}
NT_UNUSED static void nt_opt_sackok(struct tseg *s)
{
	uint8_t *p = s->opts + s->optlen;

	p[0] = 1;
	p[1] = 1;
	p[2] = 4;
	p[3] = 2;
	s->optlen += 4;
}
NT_UNUSED static void nt_opt_ts(struct tseg *s, uint32_t val, uint32_t ecr)
{
	uint8_t *p = s->opts + s->optlen;

	p[0] = 1;
	p[1] = 1;
	p[2] = 8;
	p[3] = 10;
	nt_w32(p + 4, val);
	nt_w32(p + 8, ecr);
	s->optlen += 12;
}
NT_UNUSED static void nt_opt_raw(struct tseg *s, const void *bytes, uint32_t n)
{
	memcpy(s->opts + s->optlen, bytes, n);
	s->optlen += n;
}

static uint32_t nt_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	nt_w16(f + 12, type);
	return 14;
}

static void nt_ip(uint8_t *ip, uint32_t src, uint32_t dst, uint8_t proto, uint32_t plen,
                  uint16_t frag, bool bad)
{
	ip[0] = 0x45;
	ip[1] = 0;
	nt_w16(ip + 2, (uint16_t)(20 + plen));
	nt_w16(ip + 4, 0x1234);
	nt_w16(ip + 6, frag ? frag : 0x4000);
	ip[8] = 64;
	ip[9] = proto;
	nt_w16(ip + 10, 0);
	nt_w32(ip + 12, src);
	nt_w32(ip + 16, dst);
	nt_w16(ip + 10, (uint16_t)(nt_fold(nt_sum(0, ip, 20)) ^ (bad ? 0x5a5a : 0)));
}

/* Build an Ethernet frame holding the segment; returns its length. */
NT_UNUSED static uint32_t nt_build_tcp(uint8_t *f, const struct tseg *s)
{
	uint32_t optlen = (s->optlen + 3) & ~3u, tlen = 20 + optlen + s->len, sum;
	uint8_t *ip = f + nt_eth(f, HOST_MAC, PEER_MAC, 0x0800), *th = ip + 20;

	nt_ip(ip, s->sip ? s->sip : PEER_IP, s->dip ? s->dip : HOST_IP, 6, tlen, s->frag,
	      s->bad_ip_cksum);
	nt_w16(th, s->sport);
	nt_w16(th + 2, s->dport);
	nt_w32(th + 4, s->seq);
	nt_w32(th + 8, s->ack);
	th[12] = (uint8_t)((s->raw_doff ? s->raw_doff : (20 + optlen) / 4) << 4);
	th[13] = s->flags;
	nt_w16(th + 14, s->wnd);
	nt_w16(th + 16, 0);
	nt_w16(th + 18, 0);
	memset(th + 20, 0, optlen);
	memcpy(th + 20, s->opts, s->optlen);
	if (s->len)
		memcpy(th + 20 + optlen, s->data, s->len);
	sum = nt_sum(0, ip + 12, 8) + 6 + tlen;
	nt_w16(th + 16, (uint16_t)(nt_fold(nt_sum(sum, th, tlen)) ^ (s->bad_tcp_cksum ? 1 : 0)));
	return 14 + 20 + tlen;
}

NT_UNUSED static uint32_t nt_build_arp(uint8_t *f, uint16_t op, const uint8_t *sha, uint32_t spa,
                                       const uint8_t *tha, uint32_t tpa, const uint8_t *eth_dst)
{
	uint8_t *p = f + nt_eth(f, eth_dst, sha, 0x0806);

	nt_w16(p, 1);
	nt_w16(p + 2, 0x0800);
	p[4] = 6;
	p[5] = 4;
	nt_w16(p + 6, op);
	memcpy(p + 8, sha, 6);
	nt_w32(p + 14, spa);
	memcpy(p + 18, tha, 6);
	nt_w32(p + 24, tpa);
	memset(p + 28, 0, 18);
	return 60;
}

NT_UNUSED static uint32_t nt_build_echo(uint8_t *f, uint16_t id, uint16_t seq, const void *data,
                                        uint32_t len, bool bad_icmp)
{
	uint8_t *ip = f + nt_eth(f, HOST_MAC, PEER_MAC, 0x0800), *ic = ip + 20;

	nt_ip(ip, PEER_IP, HOST_IP, 1, 8 + len, 0, false);
	ic[0] = 8;
	ic[1] = 0;
	nt_w16(ic + 2, 0);
	nt_w16(ic + 4, id);
	nt_w16(ic + 6, seq);
	memcpy(ic + 8, data, len);
	nt_w16(ic + 2, (uint16_t)(nt_fold(nt_sum(0, ic, 8 + len)) ^ (bad_icmp ? 0x100 : 0)));
	return 14 + 20 + 8 + len;
}

/* ---- frame parser ---- */

struct tpkt {
	uint32_t flen;
	uint8_t dst[6], src[6];
	uint16_t type;
	/* ARP */
	uint16_t arp_op;
	uint8_t arp_sha[6];
	uint32_t arp_spa, arp_tpa;
	/* IPv4 */
	uint32_t sip, dip;
	uint8_t proto;
	bool ip_ok, l4_ok;
	/* ICMP */
	uint8_t icmp_type;
	uint16_t icmp_id, icmp_seq;
	/* TCP */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	bool has_mss, has_ws, has_sackok, has_ts;
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval, tsecr;
	uint32_t nsack;
	uint32_t sack[8];
	const uint8_t *data;
	uint32_t len;
	uint8_t buf[2048];
};

static void nt_parse_opts(struct tpkt *k, const uint8_t *p, uint32_t n)
{
	uint32_t i = 0;

	while (i < n && p[i] != 0) {
		if (p[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= n || p[i + 1] < 2 || p[i + 1] > n - i)
			return;
		if (p[i] == 2) {
			k->has_mss = true;
			k->mss = nt_r16(p + i + 2);
		} else if (p[i] == 3) {
			k->has_ws = true;
			k->ws = p[i + 2];
		} else if (p[i] == 4) {
			k->has_sackok = true;
		} else if (p[i] == 8) {
			k->has_ts = true;
			k->tsval = nt_r32(p + i + 2);
			k->tsecr = nt_r32(p + i + 6);
		} else if (p[i] == 5) {
			k->nsack = (uint32_t)(p[i + 1] - 2) / 8;
			for (uint32_t b = 0; b < k->nsack && b < 4; b++) {
				k->sack[2 * b] = nt_r32(p + i + 2 + 8 * b);
				k->sack[2 * b + 1] = nt_r32(p + i + 6 + 8 * b);
			}
		}
		i += p[i + 1];
	}
}

/* Parse a frame copied into k->buf (k->flen bytes). */
NT_UNUSED static void nt_parse(struct tpkt *k)
{
	const uint8_t *f = k->buf, *ip = f + 14, *l4;
	uint32_t ihl, tot;

	memcpy(k->dst, f, 6);
	memcpy(k->src, f + 6, 6);
	k->type = nt_r16(f + 12);
	if (k->type == 0x0806) {
		k->arp_op = nt_r16(ip + 6);
		memcpy(k->arp_sha, ip + 8, 6);
		k->arp_spa = nt_r32(ip + 14);
		k->arp_tpa = nt_r32(ip + 24);
		return;
	}
	ihl = (uint32_t)(ip[0] & 15) * 4;
	tot = nt_r16(ip + 2);
	k->ip_ok = nt_fold(nt_sum(0, ip, ihl)) == 0 && tot + 14 <= k->flen;
	k->sip = nt_r32(ip + 12);
	k->dip = nt_r32(ip + 16);
	k->proto = ip[9];
	l4 = ip + ihl;
	if (k->proto == 1) {
		k->l4_ok = nt_fold(nt_sum(0, l4, tot - ihl)) == 0;
		k->icmp_type = l4[0];
		k->icmp_id = nt_r16(l4 + 4);
		k->icmp_seq = nt_r16(l4 + 6);
		k->data = l4 + 8;
		k->len = tot - ihl - 8;
		return;
	}
	if (k->proto != 6)
		return;
	k->l4_ok = nt_fold(nt_sum(nt_sum(0, ip + 12, 8) + 6 + (tot - ihl), l4, tot - ihl)) == 0;
	k->sport = nt_r16(l4);
	k->dport = nt_r16(l4 + 2);
	k->seq = nt_r32(l4 + 4);
	k->ack = nt_r32(l4 + 8);
	k->flags = l4[13];
	k->wnd = nt_r16(l4 + 14);
	nt_parse_opts(k, l4 + 20, (uint32_t)(l4[12] >> 4) * 4 - 20);
	k->data = l4 + (l4[12] >> 4) * 4;
	k->len = tot - ihl - (uint32_t)(l4[12] >> 4) * 4;
}

/* ---- the recording application ---- */

#define TAPP_MAX   64
#define TAPP_BYTES (1u << 20)

struct tconn {
	struct tcp_conn *c;
	int open, accepted, connected, eofs, closed, reason, writable;
	uint8_t *rx;
	size_t rxlen;
	size_t recv_calls;
};

struct tapp {
	struct net_core *nc;
	struct tconn conn[TAPP_MAX];
	int n;
	int refuse;         /* accept() returns -1 */
	size_t consume_max; /* recv() consumes at most this much per call; SIZE_MAX = all */
	bool close_on_eof;  /* tcp_close() from eof() */
	const char *reply;  /* tcp_send() this from accept() */
};

static struct tconn *tapp_find(struct tapp *a, struct tcp_conn *c)
{
	for (int i = 0; i < a->n; i++)
		if (a->conn[i].c == c && a->conn[i].open)
			return &a->conn[i];
	return NULL;
}

static struct tconn *tapp_add(struct tapp *a, struct tcp_conn *c)
{
	struct tconn *t;

	if (a->n >= TAPP_MAX) {
		fprintf(stderr, "tapp: too many connections\n");
		abort();
	}
	t = &a->conn[a->n++];
	memset(t, 0, sizeof(*t));
	t->c = c;
	t->open = 1;
	t->rx = malloc(TAPP_BYTES);
	return t;
}

static int tapp_accept(void *app, struct tcp_conn *c)
{
	struct tapp *a = app;
	struct tconn *t;

	if (a->refuse)
		return -1;
	t = tapp_add(a, c);
	t->accepted = 1;
	if (a->reply)
		tcp_send(a->nc, c, a->reply, strlen(a->reply));
	return 0;
}

static void tapp_connected(void *app, struct tcp_conn *c)
{
	struct tconn *t = tapp_find(app, c);

	if (!t)
		t = tapp_add(app, c);
	t->connected = 1;
}

static size_t tapp_recv(void *app, struct tcp_conn *c, const uint8_t *d, size_t len)
{
	struct tapp *a = app;
	struct tconn *t = tapp_find(a, c);
	size_t n = len < a->consume_max ? len : a->consume_max;

	if (!t) {
		fprintf(stderr, "tapp: recv on unknown connection\n");
		abort();
	}
	t->recv_calls++;
	if (t->rxlen + n > TAPP_BYTES)
		n = TAPP_BYTES - t->rxlen;
	memcpy(t->rx + t->rxlen, d, n);
	t->rxlen += n;
	return n;
}

static void tapp_eof(void *app, struct tcp_conn *c)
{
	struct tapp *a = app;
	struct tconn *t = tapp_find(a, c);

	if (t)
		t->eofs++;
	if (a->close_on_eof)
		tcp_close(a->nc, c);
}

static void tapp_writable(void *app, struct tcp_conn *c)
{
	struct tconn *t = tapp_find(app, c);

	if (t)
		t->writable++;
}

static void tapp_closed(void *app, struct tcp_conn *c, int reason)
{
	struct tconn *t = tapp_find(app, c);

	if (!t) {
		fprintf(stderr, "tapp: closed() for unknown connection\n");
		abort();
	}
	t->closed++;
	t->reason = reason;
	t->open = 0;
}

static const struct tcp_app_ops tapp_ops NT_UNUSED = {
    .accept = tapp_accept,
    .connected = tapp_connected,
    .recv = tapp_recv,
    .eof = tapp_eof,
    .writable = tapp_writable,
    .closed = tapp_closed,
};

NT_UNUSED static void tapp_free(struct tapp *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->conn[i].rx);
	a->n = 0;
}

/* ---- the environment: one stack, its port, a clock ---- */

struct tenv {
	struct net_memport mp;
	struct net_config cfg;
	struct net_core *nc;
	struct tapp app;
	uint64_t now; /* microseconds */
	struct tpkt pkt;
};

/* cfg defaults for tests; adjust env->cfg between tenv_config() and tenv_start(). */
NT_UNUSED static void tenv_config(struct tenv *e)
{
	memset(e, 0, sizeof(*e));
	net_config_defaults(&e->cfg);
	e->cfg.ip = HOST_IP;
	e->cfg.netmask = 0xffffff00u;
	e->cfg.max_conns = 64;
	e->cfg.rx_bufs = 32;
	e->cfg.tx_bufs = 32;
	e->cfg.rx_buf_size = 16384;
	e->cfg.rx_small_bufs = 32;
	e->cfg.tx_buf_size = 16384;
	e->cfg.key_set = 1;
	for (int i = 0; i < 16; i++)
		e->cfg.key[i] = (uint8_t)(i * 7 + 1);
	e->app.consume_max = (size_t)-1;
	e->now = 1000000; /* 1 s */
}

NT_UNUSED static void tenv_start(struct tenv *e)
{
	if (net_memport_init(&e->mp, 512, 1500, HOST_MAC) != 0) {
		fprintf(stderr, "memport init failed\n");
		exit(1);
	}
	e->nc = net_core_create(&e->cfg, &e->mp.port, &tapp_ops, &e->app);
	if (!e->nc) {
		fprintf(stderr, "net_core_create: %s\n", strerror(errno));
		exit(1);
	}
	e->app.nc = e->nc;
}

NT_UNUSED static void tenv_stop(struct tenv *e)
{
	net_core_destroy(e->nc);
	net_memport_free(&e->mp);
	tapp_free(&e->app);
}

NT_UNUSED static void tenv_poll(struct tenv *e)
{
	e->mp.now_us = e->now;
	while (net_poll(e->nc, e->now) > 0)
		;
}

NT_UNUSED static void tenv_inject(struct tenv *e, const uint8_t *f, uint32_t len)
{
	e->mp.now_us = e->now;
	if (net_memport_inject(&e->mp, f, len, 0) != 0) {
		fprintf(stderr, "inject failed\n");
		exit(1);
	}
	tenv_poll(e);
}

NT_UNUSED static void tenv_send(struct tenv *e, const struct tseg *s)
{
	uint8_t f[2048];

	tenv_inject(e, f, nt_build_tcp(f, s));
}

/* The next frame the stack sent, parsed into e->pkt; false if none. */
NT_UNUSED static bool tenv_take(struct tenv *e)
{
	memset(&e->pkt, 0, offsetof(struct tpkt, buf));
	e->pkt.flen = net_memport_take(&e->mp, e->pkt.buf, sizeof(e->pkt.buf), NULL);
	if (!e->pkt.flen)
		return false;
	nt_parse(&e->pkt);
	return true;
}

NT_UNUSED static uint32_t tenv_pending(const struct tenv *e)
{
	return net_memport_pending(&e->mp);
}

NT_UNUSED static void tenv_drain(struct tenv *e)
{
	while (tenv_take(e))
		;
}

/* Advance the clock in 1 ms steps up to max_ms, polling each step; stop as soon as a frame
 * is waiting. Returns the milliseconds advanced. */
NT_UNUSED static uint32_t tenv_run_until_tx(struct tenv *e, uint32_t max_ms)
{
	uint32_t ms = 0;

	while (ms < max_ms && !tenv_pending(e)) {
		e->now += 1000;
		ms++;
		tenv_poll(e);
	}
	return ms;
}

NT_UNUSED static void tenv_advance(struct tenv *e, uint32_t ms)
{
	for (uint32_t i = 0; i < ms; i++) {
		e->now += 1000;
		tenv_poll(e);
	}
}

/* Teach the stack the peer's MAC (an ARP request from the peer) and drop the reply. */
NT_UNUSED static void tenv_arp_prime(struct tenv *e)
{
	static const uint8_t bc[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, z[6];
	uint8_t f[64];

	tenv_inject(e, f, nt_build_arp(f, 1, PEER_MAC, PEER_IP, z, HOST_IP, bc));
	tenv_drain(e);
}

/* A passive handshake from PEER sport to HOST dport with timestamps, window scale 7, SACK.
 * Returns the application's record of the connection (NULL on failure) and sets *srv_isn. */
struct thand {
	uint16_t sport, dport;
	uint32_t peer_isn;
	uint16_t mss;
	bool ts, ws, sack;
	uint32_t rtt_ms; /* virtual time between SYN-ACK and ACK */
	uint16_t wnd;    /* raw window in the final ACK */
};

NT_UNUSED static void thand_default(struct thand *h, uint16_t sport)
{
	memset(h, 0, sizeof(*h));
	h->sport = sport;
	h->dport = 25;
	h->peer_isn = 1000000;
	h->mss = 1460;
	h->ts = h->ws = h->sack = true;
	h->rtt_ms = 10;
	h->wnd = 512; /* << 7 = 65536 */
}

NT_UNUSED static struct tconn *tenv_handshake(struct tenv *e, const struct thand *h,
                                              uint32_t *srv_isn)
{
	struct tseg s = {
	    .sport = h->sport, .dport = h->dport, .seq = h->peer_isn, .flags = F_SYN, .wnd = 65535};
	uint32_t tsval;

	if (h->mss)
		nt_opt_mss(&s, h->mss);
	if (h->sack)
		nt_opt_sackok(&s);
	if (h->ts)
		nt_opt_ts(&s, 5000, 0);
	if (h->ws)
		nt_opt_ws(&s, 7);
	tenv_send(e, &s);
	if (!tenv_take(e) || e->pkt.flags != (F_SYN | F_ACK))
		return NULL;
	*srv_isn = e->pkt.seq;
	tsval = e->pkt.tsval;
	e->now += (uint64_t)h->rtt_ms * 1000;
	memset(&s, 0, sizeof(s));
	s.sport = h->sport;
	s.dport = h->dport;
	s.seq = h->peer_isn + 1;
	s.ack = *srv_isn + 1;
	s.flags = F_ACK;
	s.wnd = h->wnd;
	if (h->ts)
		nt_opt_ts(&s, 5001, tsval);
	tenv_send(e, &s);
	for (int i = e->app.n - 1; i >= 0; i--)
		if (e->app.conn[i].open)
			return &e->app.conn[i];
	return NULL;
}

/* A segment on an established test connection (timestamps added when ts_val != 0). */
NT_UNUSED static void tenv_seg(struct tenv *e, uint16_t sport, uint32_t seq, uint32_t ack,
                               uint8_t flags, uint16_t wnd, uint32_t ts_val, uint32_t ts_ecr,
                               const void *data, uint32_t len)
{
	struct tseg s = {.sport = sport,
	                 .dport = 25,
	                 .seq = seq,
	                 .ack = ack,
	                 .flags = flags,
	                 .wnd = wnd,
	                 .data = data,
	                 .len = len};

	if (ts_val)
		nt_opt_ts(&s, ts_val, ts_ecr);
	tenv_send(e, &s);
}

#endif
