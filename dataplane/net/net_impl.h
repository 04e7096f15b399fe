/* SPDX-License-Identifier: MIT */
/*
 * net_impl.h - internal types of the stack: the per-core object, the connection, buffers,
 * parsed segments, and the functions the stack's files call in each other. Not for embedders
 * (they use net.h and tcp.h).
 *
 * Owners: core.c (struct net_core, pools, tx queue, poll), arp.c (ARP cache and pending
 * queue, Ethernet output), ipv4.c (IPv4/ICMP input, IPv4 header output), tcp_conn.c (table,
 * timers, release), tcp_syn.c (listeners, ISN, SYN cookies, opens), tcp_in.c (segment
 * processing), tcp_ack.c (ACK processing, RTT, congestion control), tcp_rx.c (receive buffer),
 * tcp_out.c (segment output), tcp_opt.c (options), tcp_api.c (tcp.h).
 *
 * Conventions: addresses and ports in host byte order inside the stack; sequence numbers are
 * compared with the SEQ_* macros; connection ids are indexes into nc->conns (0 = none); all
 * times in the connection are milliseconds of nc->now_ms (wrapping, compared as signed).
 */
#ifndef SLUICE_DATAPLANE_NET_NET_IMPL_H
#define SLUICE_DATAPLANE_NET_NET_IMPL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/net/net.h"
#include "dataplane/net/tcp.h"
#include "dataplane/net/wheel.h"

/* Always-on check for impossible states. */
#define NET_PANIC(...)                                                                             \
	do {                                                                                       \
		fprintf(stderr, "net panic %s:%d: ", __FILE__, __LINE__);                          \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fputc('\n', stderr);                                                               \
		abort();                                                                           \
	} while (0)

/* Hot-path invariant check: compiled out in release builds (NDEBUG). */
#ifdef NDEBUG
#define NET_ASSERT_HOT(cond) ((void)0)
#else
#define NET_ASSERT_HOT(cond)                                                                       \
	do {                                                                                       \
		if (!(cond))                                                                       \
			NET_PANIC("assertion failed: %s", #cond);                                  \
	} while (0)
#endif

#define NET_BURST           32
#define NET_MAX_LISTEN      16
#define NET_ETH_HLEN        14
#define NET_IP_HLEN         20
#define NET_TCP_HLEN        20
#define NET_HDRS            (NET_ETH_HLEN + NET_IP_HLEN + NET_TCP_HLEN)
#define NET_ETHERTYPE_IP    0x0800
#define NET_ETHERTYPE_ARP   0x0806
#define NET_IPPROTO_ICMP    1
#define NET_IPPROTO_TCP     6
#define TCP_OOO_MAX         6   /* out-of-order ranges kept per connection */
#define TCP_MSS_DEFAULT     536 /* RFC 9293 3.7.1: no MSS option */
#define TCP_MSS_FLOOR       88  /* smallest peer MSS we honour */
#define TCP_WSCALE_MAX      14
#define TCP_OPT_MAXLEN      40
#define TCP_TS_PAWS_IDLE_MS (24u * 24 * 3600 * 1000) /* RFC 7323 5.5: 24 days */

/* TCP header flags */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20

#define SEQ_LT(a, b)   ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b)  ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b)   ((int32_t)((uint32_t)(a) - (uint32_t)(b)) > 0)
#define SEQ_GEQ(a, b)  ((int32_t)((uint32_t)(a) - (uint32_t)(b)) >= 0)
#define TIME_GEQ(a, b) SEQ_GEQ(a, b)

static inline uint16_t net_rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t net_rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void net_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void net_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline uint32_t net_min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}
static inline uint32_t net_max32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* siphash.c: SipHash-2-4 (Aumasson, Bernstein), 64-bit output. */
uint64_t net_siphash(const uint8_t key[16], const void *data, size_t len);

/* ---- fixed-size block pool (core.c) ---- */
struct net_pool {
	uint8_t *mem;
	size_t bsize;
	uint32_t n, nfree;
	uint32_t *free; /* stack of free block numbers */
};
/* Block number + 1, or 0 when empty. */
uint32_t net_pool_get(struct net_pool *p);
void net_pool_put(struct net_pool *p, uint32_t id);
static inline void *net_pool_ptr(const struct net_pool *p, uint32_t id)
{
	return p->mem + (size_t)(id - 1) * p->bsize;
}

/* ---- ARP (arp.c) ---- */
enum { NET_ARP_FREE = 0, NET_ARP_INCOMPLETE, NET_ARP_VALID };
struct net_arp_entry {
	uint32_t ip;
	uint32_t expire_ms; /* VALID: refresh after; INCOMPLETE: next request */
	uint8_t mac[6];
	uint8_t state;
	uint8_t tries;
};
struct net_arp_pend {
	struct net_frame f;
	uint32_t nexthop;
	uint32_t since_ms;
};

/* ---- TCP ---- */
struct tcp_listener {
	uint16_t port;
	uint16_t used;
	uint32_t syn_rcvd; /* embryonic connections now */
};

/* Receive buffer (from nc->rxpool while data is held): [head, tail) in order and unconsumed;
 * out-of-order ranges (absolute sequence numbers) sit at tail + (seq - rcv_nxt). A tail left
 * by the application may instead sit in a small block of nc->rxspool (no out-of-order data
 * then), marked by TCP_RXB_SMALL in tcp_conn.rxb. */
#define TCP_RXB_SMALL 0x80000000u
struct tcp_rxbuf {
	uint32_t head, tail;
	uint32_t nooo;
	uint32_t pad;
	struct {
		uint32_t lo, hi;
	} ooo[TCP_OOO_MAX]; /* sorted, disjoint, not adjacent */
	uint8_t data[];
};

/* Send buffer (from nc->txpool while data is unacknowledged): a ring; byte snd_una is at
 * data[head]; len bytes from snd_una are queued (sent or not). */
struct tcp_txbuf {
	uint32_t head, len;
	uint8_t data[];
};

enum tcp_flag {
	TF_ACKNOW = 1u << 0,       /* send an ACK at the next output */
	TF_TS = 1u << 1,           /* timestamps negotiated */
	TF_SACK = 1u << 2,         /* SACK-permitted negotiated */
	TF_WSCALE = 1u << 3,       /* window scaling negotiated */
	TF_FIN_Q = 1u << 4,        /* our FIN follows the queued data */
	TF_APP = 1u << 5,          /* the application holds the handle */
	TF_RX_SHUT = 1u << 6,      /* application closed: discard input */
	TF_WANT_WRITE = 1u << 7,   /* a tcp_send() was short */
	TF_RECOVERY = 1u << 8,     /* NewReno fast recovery */
	TF_RTT = 1u << 9,          /* a segment is being timed */
	TF_T_REXMIT = 1u << 10,    /* t_rexmit armed (RTO or persist, see TF_PERSIST) */
	TF_T_DELACK = 1u << 11,    /* t_delack armed */
	TF_T_MISC = 1u << 12,      /* t_misc armed (TIME_WAIT, FIN_WAIT_2) */
	TF_PERSIST = 1u << 13,     /* t_rexmit is the persist timer */
	TF_ACTIVE = 1u << 14,      /* opened by tcp_connect() */
	TF_EOF_DUE = 1u << 15,     /* eof() to deliver */
	TF_RELEASE = 1u << 16,     /* release at the next flush (abort) */
	TF_RECV_DUE = 1u << 17,    /* in-order bytes to offer to recv() */
	TF_FORCE_PROBE = 1u << 18, /* persist timer fired: send one byte */
	TF_FIN_RCVD = 1u << 19,    /* the peer's FIN was taken in order */
	TF_WRITE_SHUT = 1u << 20,  /* tcp_close()/tcp_shutdown() called */
	TF_SEND_RST = 1u << 21,    /* release with RST */
	TF_FIN_ACKED = 1u << 22,   /* our FIN is acknowledged */
	TF_FIN_OOO = 1u << 23,     /* the peer's FIN came before some data: rcv_fin */
};

struct tcp_conn {
	uint32_t hnext; /* hash chain */
	uint32_t lip, rip;
	uint16_t lport, rport;
	struct net_tnode tn; /* timer wheel node: the earliest of t_rexmit, t_delack, t_misc */
	uint32_t fnext;      /* flush list; kept across reuse (see tcp_conn.c) */
	uint8_t in_flush;
	uint8_t state;    /* enum tcp_state */
	uint8_t listener; /* listener index + 1 for passive opens */
	uint8_t dupacks;
	uint32_t flags; /* enum tcp_flag */

	uint32_t iss, snd_una, snd_nxt, snd_max;
	uint32_t snd_wnd, snd_wl1, snd_wl2, max_snd_wnd;
	uint32_t cwnd, ssthresh, recover, acked_bytes;
	uint16_t mss; /* peer's MSS (clamped), before our options */
	uint8_t snd_wscale, rcv_wscale;
	uint8_t backoff, retries, delack_segs, chal_cnt;

	uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right edge we advertised */
	uint32_t rcv_fin;               /* sequence number of an out-of-order FIN (TF_FIN_OOO) */

	uint32_t srtt_us, rttvar_us, rto_ms;
	uint32_t rtt_seq, rtt_start_us;

	uint32_t ts_recent, ts_recent_ms, ts_off;
	uint32_t t_rexmit, t_delack, t_misc;
	uint32_t chal_ms;

	uint32_t rxb, txb; /* pool block ids, 0 = none */
	void *user;
};

/* Options parsed from a segment. */
enum { TO_MSS = 1, TO_WS = 2, TO_SACKOK = 4, TO_TS = 8, TO_SACK = 16 };
struct tcp_opts {
	uint8_t has;
	uint8_t wscale;
	uint16_t mss;
	uint32_t tsval, tsecr;
};

/* A received segment (after IPv4 and TCP header validation). */
struct tcp_seg {
	uint32_t sip, dip;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint32_t wnd; /* raw header value */
	uint8_t flags;
	uint8_t pad[3];
	const uint8_t *data;
	uint32_t len;
	struct tcp_opts opt;
};

/* A segment to send. */
struct tcp_out {
	uint32_t seq;
	uint32_t len; /* payload bytes taken from the send ring at seq */
	uint8_t flags;
};

struct net_core {
	struct net_config cfg;
	struct net_port port;
	const struct tcp_app_ops *ops;
	void *app;
	uint64_t now_us;
	uint32_t now_ms;
	uint32_t arp_tick_ms;
	uint16_t ip_id;
	uint16_t eph_next;
	uint16_t mss_local; /* MTU - 40: what we announce */
	uint8_t rcv_wscale; /* what we announce, from rx_buf_size */
	uint8_t in_flush;

	struct net_frame txq[NET_BURST];
	uint32_t ntx;

	struct net_arp_entry *arp;
	uint32_t arp_mask;
	struct net_arp_pend *pend;
	uint32_t npend;

	struct tcp_conn *conns; /* [0] unused */
	uint32_t *conn_free;
	uint32_t nfree, nconns;
	uint32_t *hash;
	uint32_t hash_mask;
	struct net_wheel wheel;
	struct net_pool rxpool, rxspool, txpool; /* rxspool: small tail buffers */
	struct tcp_listener lst[NET_MAX_LISTEN];
	uint32_t flush_head, flush_tail;
	uint8_t hkey[16]; /* table hash key */
	uint8_t ikey[16]; /* ISN / timestamp offset key */
	uint8_t ckey[16]; /* SYN cookie key */

	struct net_counters cnt;
};

static inline uint32_t tcp_cid(const struct net_core *nc, const struct tcp_conn *c)
{
	return (uint32_t)(c - nc->conns);
}
static inline struct tcp_rxbuf *tcp_rxbuf(const struct net_core *nc, const struct tcp_conn *c)
{
	if (!c->rxb)
		return NULL;
	if (c->rxb & TCP_RXB_SMALL)
		return (struct tcp_rxbuf *)net_pool_ptr(&nc->rxspool, c->rxb & ~TCP_RXB_SMALL);
	return (struct tcp_rxbuf *)net_pool_ptr(&nc->rxpool, c->rxb);
}
static inline struct tcp_txbuf *tcp_txbuf(const struct net_core *nc, const struct tcp_conn *c)
{
	return c->txb ? (struct tcp_txbuf *)net_pool_ptr(&nc->txpool, c->txb) : NULL;
}
static inline uint32_t tcp_txlen(const struct net_core *nc, const struct tcp_conn *c)
{
	return c->txb ? tcp_txbuf(nc, c)->len : 0;
}
static inline bool tcp_synced(const struct tcp_conn *c)
{
	return c->state >= TCP_ESTABLISHED;
}

/* core.c */
int net_tx_alloc(struct net_core *nc, struct net_frame *f);
void net_tx_queue(struct net_core *nc, struct net_frame *f);
void net_tx_drain(struct net_core *nc);

/* arp.c */
int net_arp_init(struct net_core *nc);
void net_arp_free(struct net_core *nc);
void net_arp_input(struct net_core *nc, const uint8_t *frame, uint32_t len);
/* Fill the Ethernet header of f (IPv4 payload for ip_dst) and queue it, or hold it until ARP
 * resolves the next hop. Takes ownership of f. */
void net_eth_output_ip(struct net_core *nc, struct net_frame *f, uint32_t ip_dst);
void net_arp_tick(struct net_core *nc);

/* ipv4.c */
void net_ipv4_input(struct net_core *nc, const struct net_frame *f, const uint8_t *ip,
                    uint32_t len);
/* Write a 20-byte IPv4 header at p for a payload of plen bytes; sets NET_F_TX_IP_CKSUM or
 * computes the checksum. */
void net_ipv4_header(struct net_core *nc, struct net_frame *f, uint8_t *p, uint8_t proto,
                     uint32_t src, uint32_t dst, uint32_t plen);
uint32_t net_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint32_t len);

/* tcp_opt.c */
int tcp_opts_parse(const uint8_t *p, uint32_t len, bool syn, struct tcp_opts *o);
uint32_t tcp_opts_syn(uint8_t *p, uint16_t mss, int wscale, bool sack, bool ts, uint32_t tsval,
                      uint32_t tsecr);
uint32_t tcp_opts_len(const struct net_core *nc, const struct tcp_conn *c, bool with_sack);
uint32_t tcp_opts_write(const struct net_core *nc, const struct tcp_conn *c, uint8_t *p,
                        bool with_sack);
uint16_t tcp_mss_clamp(const struct tcp_opts *o);

/* tcp_conn.c */
void tcp_check(const struct net_core *nc, const struct tcp_conn *c);
int tcp_table_init(struct net_core *nc);
void tcp_table_free(struct net_core *nc);
struct tcp_conn *tcp_lookup(struct net_core *nc, uint32_t lip, uint16_t lport, uint32_t rip,
                            uint16_t rport);
struct tcp_conn *tcp_conn_new(struct net_core *nc, uint32_t lip, uint16_t lport, uint32_t rip,
                              uint16_t rport);
void tcp_conn_free(struct net_core *nc, struct tcp_conn *c);
void tcp_release(struct net_core *nc, struct tcp_conn *c, int reason);
void tcp_app_release(struct net_core *nc, struct tcp_conn *c, int reason);
void tcp_set_state(struct net_core *nc, struct tcp_conn *c, uint8_t st);
void tcp_enter_time_wait(struct net_core *nc, struct tcp_conn *c);
void tcp_timer_set(struct net_core *nc, struct tcp_conn *c, uint32_t which, uint32_t ms);
void tcp_timer_clear(struct net_core *nc, struct tcp_conn *c, uint32_t which);
void tcp_timers_run(struct net_core *nc);
void tcp_flush_add(struct net_core *nc, struct tcp_conn *c);
void tcp_flush_run(struct net_core *nc);
void tcp_deliver(struct net_core *nc, struct tcp_conn *c);
uint32_t tcp_ts_now(const struct net_core *nc, const struct tcp_conn *c);

/* tcp_syn.c */
int tcp_listener_find(const struct net_core *nc, uint16_t port);
struct tcp_conn *tcp_listen_input(struct net_core *nc, int li, const struct tcp_seg *s);
int tcp_accepted(struct net_core *nc, struct tcp_conn *c);
uint32_t tcp_isn(const struct net_core *nc, uint32_t lip, uint16_t lport, uint32_t rip,
                 uint16_t rport);
uint32_t tcp_ts_offset(const struct net_core *nc, uint32_t lip, uint16_t lport, uint32_t rip,
                       uint16_t rport);
void tcp_init_sender(struct net_core *nc, struct tcp_conn *c);
void tcp_apply_syn_opts(struct net_core *nc, struct tcp_conn *c, const struct tcp_opts *o);

/* tcp_in.c */
void tcp_input(struct net_core *nc, const uint8_t *ip, uint32_t iphl, uint32_t len, bool l4_ok);
void tcp_challenge_ack(struct net_core *nc, struct tcp_conn *c);

/* tcp_ack.c */
int tcp_ack_process(struct net_core *nc, struct tcp_conn *c, const struct tcp_seg *s);
void tcp_retransmit_first(struct net_core *nc, struct tcp_conn *c);
uint32_t tcp_smss(const struct tcp_conn *c);
void tcp_rtt_sample(struct net_core *nc, struct tcp_conn *c, uint32_t rtt_us);
void tcp_rto_expired(struct net_core *nc, struct tcp_conn *c);
void tcp_persist_expired(struct net_core *nc, struct tcp_conn *c);

/* tcp_rx.c */
uint32_t tcp_rcv_wnd(const struct net_core *nc, const struct tcp_conn *c);
uint32_t tcp_rcv_wnd_adv(struct net_core *nc, struct tcp_conn *c);
void tcp_data_input(struct net_core *nc, struct tcp_conn *c, const struct tcp_seg *s);
uint32_t tcp_sack_blocks(const struct net_core *nc, const struct tcp_conn *c, uint32_t *blk,
                         uint32_t max);
void tcp_rx_consume(struct net_core *nc, struct tcp_conn *c, uint32_t n);
void tcp_rx_drop_all(struct net_core *nc, struct tcp_conn *c);
void tcp_rx_shrink(struct net_core *nc, struct tcp_conn *c);

/* tcp_out.c */
void tcp_output(struct net_core *nc, struct tcp_conn *c);
int tcp_send_seg(struct net_core *nc, struct tcp_conn *c, uint32_t seq, uint32_t len,
                 uint8_t flags);
void tcp_send_ack(struct net_core *nc, struct tcp_conn *c);
void tcp_send_synack(struct net_core *nc, struct tcp_conn *c);
void tcp_send_rst_for(struct net_core *nc, const struct tcp_seg *s);
void tcp_send_rst(struct net_core *nc, struct tcp_conn *c);
/* Raw segment with explicit fields (RST replies, SYN cookie SYN-ACKs). */
int tcp_xmit_raw(struct net_core *nc, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport,
                 uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd, const uint8_t *opts,
                 uint32_t optlen);

#endif
