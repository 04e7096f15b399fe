/* SPDX-License-Identifier: MIT */
/*
 * test_handshake.c - passive and active opens: SYN -> SYN-ACK with options -> ACK, option
 * negotiation (MSS default and floor, window scale cap, timestamps, SACK-permitted), SYN to
 * a closed port, SYN-ACK retransmission and give-up, ISN properties.
 */
#include "tests/dataplane/net/nettest.h"

static void test_passive_options(void)
{
	struct tenv e;
	struct thand h;
	struct tconn *t;
	struct tcp_info ti;
	uint32_t isn;

	tenv_config(&e);
	tenv_start(&e);
	tcp_listen(e.nc, 25);
	tenv_arp_prime(&e);
	thand_default(&h, 40000);
	{
		struct tseg s = {
		    .sport = h.sport, .dport = 25, .seq = h.peer_isn, .flags = F_SYN, .wnd = 65535};

		nt_opt_mss(&s, 1400);
		nt_opt_sackok(&s);
		nt_opt_ts(&s, 777, 0);
		nt_opt_ws(&s, 7);
		tenv_send(&e, &s);
	}
	CHECK(tenv_take(&e), "SYN-ACK sent");
	CHECK(e.pkt.flags == (F_SYN | F_ACK), "flags %#x", e.pkt.flags);
	CHECK(e.pkt.ip_ok && e.pkt.l4_ok, "checksums of the SYN-ACK");
	CHECK(memcmp(e.pkt.dst, PEER_MAC, 6) == 0, "to the peer's MAC");
	CHECK(e.pkt.sip == HOST_IP && e.pkt.dip == PEER_IP, "addresses");
	CHECK(e.pkt.sport == 25 && e.pkt.dport == 40000, "ports");
	CHECK(e.pkt.ack == h.peer_isn + 1, "ack %u", e.pkt.ack);
	CHECK(e.pkt.has_mss && e.pkt.mss == 1460, "our MSS %u", e.pkt.mss);
	CHECK(e.pkt.has_ws && e.pkt.ws == 0, "window scale %u (16 KiB buffer)", e.pkt.ws);
	CHECK(e.pkt.has_sackok, "SACK-permitted");
	CHECK(e.pkt.has_ts && e.pkt.tsecr == 777, "timestamp echo %u", e.pkt.tsecr);
	CHECK(e.pkt.wnd == 16384, "window %u", e.pkt.wnd);
	CHECK(net_core_conns(e.nc) == 1 && e.app.n == 0, "SYN_RCVD, not yet accepted");
	isn = e.pkt.seq;
	tenv_seg(&e, 40000, h.peer_isn + 1, isn + 1, F_ACK, 512, 778, e.pkt.tsval, NULL, 0);
	CHECK(e.app.n == 1 && e.app.conn[0].accepted, "accepted");
	CHECK(tenv_pending(&e) == 0, "no frame for a bare ACK");
	t = &e.app.conn[0];
	CHECK(tcp_state_of(t->c) == TCP_ESTABLISHED, "state %s",
	      tcp_state_name(tcp_state_of(t->c)));
	tcp_get_info(e.nc, t->c, &ti);
	CHECK(ti.mss == 1400 && ti.snd_wscale == 7 && ti.timestamps && ti.sack, "negotiated");
	CHECK(ti.snd_wnd == 512u << 7, "send window scaled: %u", ti.snd_wnd);
	CHECK(ti.snd_una == isn + 1 && ti.rcv_nxt == h.peer_isn + 1, "sequence state");
	/* data both ways carries timestamps; the payload is mss - 12 at most */
	{
		static uint8_t big[4000];

		CHECK(tcp_send(e.nc, t->c, big, sizeof(big)) == (ssize_t)sizeof(big), "send");
		tenv_poll(&e);
		CHECK(tenv_take(&e) && e.pkt.len == 1400 - 12, "first segment %u", e.pkt.len);
		CHECK(e.pkt.has_ts && e.pkt.tsecr == 778, "ts echo on data %u", e.pkt.tsecr);
		CHECK(e.pkt.l4_ok, "data checksum");
	}
	tenv_stop(&e);
}

static void test_no_options(void)
{
	struct tenv e;
	struct tcp_info ti;
	uint32_t isn;

	tenv_config(&e);
	tenv_start(&e);
	tcp_listen(e.nc, 25);
	tenv_arp_prime(&e);
	{
		struct tseg s = {
		    .sport = 40001, .dport = 25, .seq = 5, .flags = F_SYN, .wnd = 8192};

		tenv_send(&e, &s);
	}
	CHECK(tenv_take(&e) && e.pkt.flags == (F_SYN | F_ACK), "SYN-ACK");
	CHECK(e.pkt.has_mss && !e.pkt.has_ws && !e.pkt.has_ts && !e.pkt.has_sackok,
	      "only MSS offered back when the peer offered nothing");
	isn = e.pkt.seq;
	tenv_seg(&e, 40001, 6, isn + 1, F_ACK, 8192, 0, 0, NULL, 0);
	CHECK(e.app.n == 1, "accepted");
	tcp_get_info(e.nc, e.app.conn[0].c, &ti);
	CHECK(ti.mss == 536, "default MSS %u", ti.mss);
	CHECK(ti.snd_wnd == 8192 && ti.snd_wscale == 0 && !ti.timestamps && !ti.sack, "plain");
	tenv_stop(&e);
}

static void test_mss_floor_ws_cap(void)
{
	struct tenv e;
	struct tcp_info ti;

	tenv_config(&e);
	tenv_start(&e);
	tcp_listen(e.nc, 25);
	tenv_arp_prime(&e);
	{
		struct tseg s = {
		    .sport = 40002, .dport = 25, .seq = 99, .flags = F_SYN, .wnd = 100};

		nt_opt_mss(&s, 1);
		nt_opt_ws(&s, 200);
		tenv_send(&e, &s);
	}
	CHECK(tenv_take(&e) && e.pkt.flags == (F_SYN | F_ACK), "SYN-ACK");
	tenv_seg(&e, 40002, 100, e.pkt.seq + 1, F_ACK, 100, 0, 0, NULL, 0);
	CHECK(e.app.n == 1, "accepted");
	tcp_get_info(e.nc, e.app.conn[0].c, &ti);
	CHECK(ti.mss == 88, "MSS floor: %u", ti.mss);
	CHECK(ti.snd_wscale == 14, "window scale capped at 14: %u", ti.snd_wscale);
	CHECK(ti.snd_wnd == 100u << 14, "scaled %u", ti.snd_wnd);
	tenv_stop(&e);
}

static void test_closed_port(void)
{
	struct tenv e;
	struct tseg s = {.sport = 40003, .dport = 26, .seq = 1000, .flags = F_SYN, .wnd = 100};

	tenv_config(&e);
	tenv_start(&e);
	tcp_listen(e.nc, 25);
	tenv_arp_prime(&e);
	tenv_send(&e, &s);
	CHECK(tenv_take(&e), "answer");
	CHECK(e.pkt.flags == (F_RST | F_ACK) && e.pkt.seq == 0 && e.pkt.ack == 1001,
	      "RST,ACK seq 0 ack SEQ+1: %#x %u %u", e.pkt.flags, e.pkt.seq, e.pkt.ack);
	s.flags = F_ACK;
	s.ack = 4242;
	tenv_send(&e, &s);
	CHECK(tenv_take(&e) && e.pkt.flags == F_RST && e.pkt.seq == 4242, "RST seq = SEG.ACK");
	s.flags = F_RST;
	tenv_send(&e, &s);
	CHECK(!tenv_take(&e), "no RST for a RST");
	CHECK(net_core_counters(e.nc)->tcp_no_conn == 3, "counted");
	tenv_stop(&e);
}

static void test_synack_retransmit(void)
{
	struct tenv e;
	struct tseg s = {.sport = 40004, .dport = 25, .seq = 1, .flags = F_SYN, .wnd = 100};
	uint32_t isn, waited[8], n = 0;

	tenv_config(&e);
	e.cfg.syn_retries = 3;
	tenv_start(&e);
	tcp_listen(e.nc, 25);
	tenv_arp_prime(&e);
	tenv_send(&e, &s);
	CHECK(tenv_take(&e) && e.pkt.flags == (F_SYN | F_ACK), "SYN-ACK");
	isn = e.pkt.seq;
	for (;;) {
		uint32_t ms = tenv_run_until_tx(&e, 20000);

		if (!tenv_take(&e))
			break;
		CHECK(e.pkt.flags == (F_SYN | F_ACK) && e.pkt.seq == isn, "same SYN-ACK again");
		if (n < 8)
			waited[n++] = ms;
	}
	CHECK(n == 3, "3 retransmissions, got %u", n);
	CHECK(n == 3 && waited[0] == 1000 && waited[1] == 2000 && waited[2] == 4000,
	      "RTO 1 s, then 2 s, 4 s: %u %u %u", waited[0], waited[1], waited[2]);
	CHECK(net_core_conns(e.nc) == 0, "embryonic connection given up");
	CHECK(e.app.n == 0, "never reached the application");
	/* a retransmitted SYN gets the same SYN-ACK again at once */
	s.sport = 40005;
	tenv_send(&e, &s);
	CHECK(tenv_take(&e), "SYN-ACK");
	isn = e.pkt.seq;
	tenv_send(&e, &s);
	CHECK(tenv_take(&e) && e.pkt.flags == (F_SYN | F_ACK) && e.pkt.seq == isn,
	      "duplicate SYN answered with the SYN-ACK");
	tenv_stop(&e);
}

static void test_isn(void)
{
	struct tenv e;
	uint32_t isn[3];

	tenv_config(&e);
	tenv_start(&e);
	tcp_listen(e.nc, 25);
	tenv_arp_prime(&e);
	for (int i = 0; i < 3; i++) {
		struct tseg s = {.sport = (uint16_t)(41000 + (i == 2 ? 0 : i)),
		                 .dport = 25,
		                 .seq = 1,
		                 .flags = F_SYN,
		                 .wnd = 100};

		if (i == 2) { /* same 4-tuple as i == 0, 0.5 s later, after a reset */
			struct tseg r = {.sport = 41000, .dport = 25, .seq = 2, .flags = F_RST};

			tenv_send(&e, &r);
			e.now += 500000;
		}
		tenv_send(&e, &s);
		CHECK(tenv_take(&e) && e.pkt.flags == (F_SYN | F_ACK), "SYN-ACK %d", i);
		isn[i] = e.pkt.seq;
	}
	CHECK(isn[0] != isn[1], "ISN depends on the 4-tuple");
	CHECK(isn[2] - isn[0] == 125000, "same tuple 0.5 s later: +125000 (4 us clock), got %u",
	      isn[2] - isn[0]);
	tenv_stop(&e);
}

static void test_active_open(void)
{
	struct tenv e;
	struct tcp_conn *c;
	struct tcp_info ti;
	uint32_t iss;

	tenv_config(&e);
	tenv_start(&e);
	tenv_arp_prime(&e);
	c = tcp_connect(e.nc, PEER_IP, 2525, NULL, e.now);
	CHECK(c != NULL, "connect");
	tenv_poll(&e);
	CHECK(tenv_take(&e) && e.pkt.flags == F_SYN, "SYN");
	CHECK(e.pkt.has_mss && e.pkt.mss == 1460 && e.pkt.has_ws && e.pkt.has_ts &&
	          e.pkt.has_sackok,
	      "options offered");
	CHECK(e.pkt.dport == 2525 && e.pkt.sport >= 32768, "ports");
	iss = e.pkt.seq;
	{
		struct tseg s = {.sport = 2525,
		                 .dport = e.pkt.sport,
		                 .seq = 7000,
		                 .ack = iss + 1,
		                 .flags = F_SYN | F_ACK,
		                 .wnd = 1000};

		nt_opt_mss(&s, 1000);
		nt_opt_ws(&s, 2);
		nt_opt_ts(&s, 1, e.pkt.tsval);
		e.now += 5000;
		tenv_send(&e, &s);
	}
	CHECK(e.app.n == 1 && e.app.conn[0].connected, "connected()");
	CHECK(tenv_take(&e) && e.pkt.flags == F_ACK && e.pkt.ack == 7001 && e.pkt.seq == iss + 1,
	      "ACK of the SYN-ACK");
	tcp_get_info(e.nc, c, &ti);
	CHECK(ti.mss == 1000 && ti.snd_wscale == 2 && ti.snd_wnd == 1000, "SYN window unscaled");
	CHECK(ti.srtt_us == 5000, "RTT sampled from the handshake: %u", ti.srtt_us);
	CHECK(tcp_state_of(c) == TCP_ESTABLISHED, "established");
	tenv_stop(&e);
}

static void test_active_refused(void)
{
	struct tenv e;
	struct tcp_conn *c;

	tenv_config(&e);
	tenv_start(&e);
	tenv_arp_prime(&e);
	c = tcp_connect(e.nc, PEER_IP, 2525, NULL, e.now);
	tapp_add(&e.app, c);
	tenv_poll(&e);
	CHECK(tenv_take(&e) && e.pkt.flags == F_SYN, "SYN");
	{
		struct tseg s = {.sport = 2525,
		                 .dport = e.pkt.sport,
		                 .seq = 0,
		                 .ack = e.pkt.seq + 1,
		                 .flags = F_RST | F_ACK};

		tenv_send(&e, &s);
	}
	CHECK(e.app.conn[0].closed == 1 && e.app.conn[0].reason == -ECONNREFUSED, "refused");
	CHECK(net_core_conns(e.nc) == 0, "freed");
	tenv_stop(&e);
}

/* The server's first data arrives in the same burst as its SYN-ACK, before our ACK left, and
 * out of order: the window we offered in the SYN must apply from the SYN-ACK on. */
static void test_active_data_same_burst(void)
{
	struct tenv e;
	struct tcp_conn *c;
	uint8_t f[2048];
	uint32_t n;

	tenv_config(&e);
	tenv_start(&e);
	tenv_arp_prime(&e);
	c = tcp_connect(e.nc, PEER_IP, 25, NULL, e.now);
	tenv_poll(&e);
	CHECK(c && tenv_take(&e) && e.pkt.flags == F_SYN, "SYN");
	{
		struct tseg s = {.sport = 25,
		                 .dport = e.pkt.sport,
		                 .seq = 100000u,
		                 .ack = e.pkt.seq + 1,
		                 .flags = F_SYN | F_ACK,
		                 .wnd = 4000};
		struct tseg d = s;

		nt_opt_mss(&s, 1460);
		n = nt_build_tcp(f, &s);
		net_memport_inject(&e.mp, f, n, 0);
		d.flags = F_ACK | F_PSH;
		d.seq = 100012u; /* second half first */
		d.data = "there\r\n";
		d.len = 7;
		n = nt_build_tcp(f, &d);
		net_memport_inject(&e.mp, f, n, 0);
		d.seq = 100001u;
		d.data = "220 hello, ";
		d.len = 11;
		n = nt_build_tcp(f, &d);
		net_memport_inject(&e.mp, f, n, 0);
		tenv_poll(&e);
	}
	CHECK(e.app.n == 1 && e.app.conn[0].rxlen == 18 &&
	          memcmp(e.app.conn[0].rx, "220 hello, there\r\n", 18) == 0,
	      "greeting delivered whole: %zu bytes", e.app.n ? e.app.conn[0].rxlen : 0);
	tenv_stop(&e);
}

int main(void)
{
	test_passive_options();
	test_no_options();
	test_mss_floor_ws_cap();
	test_closed_port();
	test_synack_retransmit();
	test_isn();
	test_active_open();
	test_active_refused();
	test_active_data_same_burst();
	return nt_report();
}
