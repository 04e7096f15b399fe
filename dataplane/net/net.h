/* SPDX-License-Identifier: MIT */
/*
 * net.h - the per-core userspace TCP/IPv4 stack: configuration, the port interface, the core
 * object and its poll function. The TCP application interface is in tcp.h.
 *
 * Design (see README.md in this folder for the full picture and the memory figures):
 *   - One struct net_core per core, created by net_core_create() with every pool sized from
 *     struct net_config: connections, receive and send buffers, the ARP cache, the ARP pending
 *     queue, the connection hash table and the timer wheel. Nothing is allocated afterwards;
 *     nothing is shared between cores; there are no globals.
 *   - The stack never reads a clock: every entry point that needs the time takes `now_us`
 *     (microseconds, any epoch, monotonic) from the caller.
 *   - Frames come and go through a struct net_port: a table of function pointers (rx burst,
 *     release, tx alloc, tx burst, tx free) so that a DPDK port, the in-memory port of
 *     memport.h, or a capturing test port plug in unchanged.
 *
 * Calling pattern, per core:
 *
 *	struct net_core *nc = net_core_create(&cfg, &port, &tcp_ops, app);
 *	tcp_listen(nc, 25);
 *	for (;;) {
 *		now = clock_us();
 *		net_poll(nc, now);    // rx burst -> input -> app callbacks -> timers -> tx flush
 *		... app work, tcp_send() / tcp_close() ...
 *	}
 *
 * net_poll() = net_input() on one rx burst + net_flush(). An embedder that receives frames by
 * other means calls net_input() itself and net_flush() once per pass.
 *
 * Errors: functions return 0 or -errno; net_core_create() returns NULL with errno set
 * (EINVAL for a bad config, ENOMEM). Bad or unexpected frames are never errors: they are
 * dropped and counted in struct net_counters.
 *
 * Limits: one IPv4 address per core, Ethernet II only (no VLAN tags), IP fragments are dropped
 * (counted), IP options are skipped, no path MTU discovery (MSS from the peer and the port MTU).
 */
#ifndef SLUICE_DATAPLANE_NET_NET_H
#define SLUICE_DATAPLANE_NET_NET_H

#include <stddef.h>
#include <stdint.h>

/* ---- frames and ports ---------------------------------------------------------------- */

/* struct net_frame.flags: receive checksum status set by the port, transmit offload requests
 * set by the stack (only when the port announced the matching NET_PORT_* capability). */
enum net_frame_flags {
	NET_F_RX_IP_GOOD = 1u << 0,  /* port verified the IPv4 header checksum */
	NET_F_RX_IP_BAD = 1u << 1,   /* port found it wrong */
	NET_F_RX_L4_GOOD = 1u << 2,  /* port verified the TCP/ICMP checksum */
	NET_F_RX_L4_BAD = 1u << 3,   /* port found it wrong */
	NET_F_TX_IP_CKSUM = 1u << 8, /* port must fill the IPv4 header checksum */
	/* port must fill the TCP checksum; the field holds the pseudo-header sum (DPDK style) */
	NET_F_TX_TCP_CKSUM = 1u << 9,
};

/*
 * One frame. Received frames belong to the port until rx_release(); transmit frames come
 * from tx_alloc() and belong to the stack until tx_burst() accepts them or tx_free() returns
 * them. data starts at the Ethernet header; len counts the bytes of the frame.
 */
struct net_frame {
	uint8_t *data;
	uint32_t len;
	uint32_t cap;   /* tx: bytes available at data (>= MTU + 14) */
	uint32_t flags; /* enum net_frame_flags */
	uint32_t pad;
	void *priv; /* the port's handle for this buffer (an mbuf, a pool slot) */
};

enum net_port_caps {
	NET_PORT_TX_IP_CKSUM = 1u << 0,  /* hardware fills IPv4 header checksums */
	NET_PORT_TX_TCP_CKSUM = 1u << 1, /* hardware fills TCP checksums */
};

struct net_port_ops {
	/* Receive up to n frames into f[]; returns the count. Frames stay the port's. */
	uint32_t (*rx_burst)(void *ctx, struct net_frame *f, uint32_t n);
	/* The stack is done with these received frames. */
	void (*rx_release)(void *ctx, struct net_frame *f, uint32_t n);
	/* Get one empty transmit buffer: 0, or -ENOBUFS. */
	int (*tx_alloc)(void *ctx, struct net_frame *f);
	/* Send frames; returns how many (a prefix of f[]) the port took over. */
	uint32_t (*tx_burst)(void *ctx, struct net_frame *f, uint32_t n);
	/* Give back a transmit buffer that will not be sent. */
	void (*tx_free)(void *ctx, struct net_frame *f);
};

struct net_port {
	const struct net_port_ops *ops;
	void *ctx;
	uint32_t caps; /* enum net_port_caps */
	uint16_t mtu;  /* IP MTU, 576..9000 */
	uint8_t mac[6];
};

/* ---- configuration --------------------------------------------------------------------- */

struct net_config {
	/* addresses, host byte order */
	uint32_t ip;
	uint32_t netmask;
	uint32_t gateway; /* 0: everything is on-link */

	/* pools (all memory is taken at create time) */
	uint32_t max_conns;   /* connections incl. SYN_RCVD and TIME_WAIT */
	uint32_t rx_bufs;     /* receive buffers per core */
	uint32_t rx_buf_size; /* bytes each = the receive window, 1024..(1 << 30) */
	/* small buffers that keep an unconsumed tail (a partial line) instead of a full receive
	 * buffer while the connection is idle; 0 turns them off */
	uint32_t rx_small_bufs;
	uint32_t rx_small_size; /* bytes each, < rx_buf_size */
	uint32_t tx_bufs;       /* send buffers per core */
	uint32_t tx_buf_size;   /* bytes each, 1024.. */
	uint32_t arp_entries;   /* ARP cache slots (rounded up to a power of two) */
	uint32_t arp_pending;   /* frames waiting for ARP resolution, per core */
	uint32_t wheel_slots;   /* timer wheel slots of 1 ms (rounded up to a power of two) */

	/* TCP */
	uint32_t syn_backlog;    /* SYN_RCVD per listener before SYN cookies are used */
	uint32_t init_cwnd_segs; /* initial congestion window in segments (RFC 6928: 10) */
	uint32_t delack_ms;      /* delayed ACK timer, < 500 */
	uint32_t rto_init_ms;    /* RFC 6298: 1000 */
	uint32_t rto_min_ms;
	uint32_t rto_max_ms;
	uint32_t time_wait_ms;   /* TIME_WAIT duration (short; see README) */
	uint32_t fin_wait2_ms;   /* FIN_WAIT_2 after the application closed */
	uint32_t challenge_acks; /* RFC 5961 challenge ACKs per connection per second */
	uint8_t syn_retries;     /* SYN / SYN-ACK retransmissions before giving up */
	uint8_t data_retries;    /* RTO expiries in a row before the connection is reset */
	uint8_t opt_wscale;      /* offer window scaling */
	uint8_t opt_sack;        /* offer SACK-permitted (we send SACK blocks; we ignore them) */
	uint8_t opt_timestamps;  /* offer timestamps (PAWS, SYN cookie options) */
	uint8_t pad[3];
	uint16_t eph_lo, eph_hi; /* local port range for tcp_connect() */

	/* keyed hash key for ISNs, SYN cookies, hash buckets, timestamp offsets */
	uint8_t key[16];
	uint8_t key_set; /* 0: net_core_create() draws a random key */
};

/* Fill cfg with defaults (documented in README.md); the caller then sets ip/netmask/... */
void net_config_defaults(struct net_config *cfg);

/* ---- counters (per core; whoever reads sums across cores) ------------------------------ */

struct net_counters {
	uint64_t rx_frames, tx_frames, tx_drop_nobuf, tx_drop_port;
	uint64_t eth_drop_type, eth_drop_dst, eth_drop_short;
	uint64_t arp_rx, arp_tx_req, arp_tx_reply, arp_drop_bad, arp_pending_drop, arp_queue_full;
	uint64_t ip_rx, ip_drop_hdr, ip_drop_cksum, ip_drop_frag, ip_drop_dst, ip_drop_src,
	    ip_drop_proto;
	uint64_t icmp_rx, icmp_echo_reply, icmp_drop_cksum, icmp_drop_other;
	uint64_t tcp_rx, tcp_tx, tcp_drop_hdr, tcp_drop_cksum, tcp_drop_opts, tcp_rst_tx,
	    tcp_no_conn;
	uint64_t tcp_syn_rx, tcp_cookie_tx, tcp_cookie_ok, tcp_cookie_bad, tcp_syn_drop;
	uint64_t tcp_accepts, tcp_connects, tcp_closed, tcp_resets_rx, tcp_timeouts;
	uint64_t tcp_challenge_ack, tcp_challenge_limited, tcp_paws_drop, tcp_out_of_window,
	    tcp_bad_ack;
	uint64_t tcp_rexmit_rto, tcp_rexmit_fast, tcp_persist_probe, tcp_dupack_rx;
	uint64_t tcp_ooo_seg, tcp_ooo_drop, tcp_rx_nobuf, tcp_rx_bytes, tcp_tx_bytes;
	uint64_t tcp_tw_reuse, tcp_conn_full;
};

/* ---- the core ---------------------------------------------------------------------------- */

struct net_core;
struct tcp_app_ops; /* tcp.h */

/*
 * Allocate and initialise a core. cfg and port are copied; ops and app are kept by pointer.
 * NULL with errno = EINVAL (bad config or port) or ENOMEM.
 */
struct net_core *net_core_create(const struct net_config *cfg, const struct net_port *port,
                                 const struct tcp_app_ops *ops, void *app);
void net_core_destroy(struct net_core *nc);

/* One pass: one rx burst through net_input(), then net_flush(). Returns frames received. */
uint32_t net_poll(struct net_core *nc, uint64_t now_us);

/* Process received frames (they stay the caller's: the stack copies what it keeps). */
void net_input(struct net_core *nc, const struct net_frame *f, uint32_t n, uint64_t now_us);

/* Run due timers, send pending output and hand queued frames to the port. */
void net_flush(struct net_core *nc, uint64_t now_us);

const struct net_counters *net_core_counters(const struct net_core *nc);

/* Connections in use (any state, incl. TIME_WAIT) and buffers taken from the pools. */
uint32_t net_core_conns(const struct net_core *nc);
uint32_t net_core_rx_bufs_used(const struct net_core *nc); /* full and small ones */
uint32_t net_core_rx_small_used(const struct net_core *nc);
uint32_t net_core_tx_bufs_used(const struct net_core *nc);

/* Bytes of per-connection state (struct tcp_conn plus its hash bucket share). */
size_t net_conn_bytes(void);

/* Internet checksum helpers (exposed for tests and ports). */
uint32_t net_cksum_add(uint32_t sum, const void *p, size_t len);
uint16_t net_cksum_fold(uint32_t sum);

#endif
