/* SPDX-License-Identifier: MIT */
/*
 * test_rfc5961.c - blind in-window attacks (RFC 5961) and PAWS (RFC 7323): exact RST resets,
 * in-window RST and any SYN get a challenge ACK (rate-limited per connection), out-of-window
 * RSTs are dropped silently, ACKs outside [SND.UNA - MAX.SND.WND, SND.NXT] are dropped with
 * an ACK, old timestamps are dropped.
 */
#include "tests/dataplane/net/nettest.h"

#define SPORT 40500

struct fix {
	struct tenv e;
	struct thand h;
	struct tconn *t;
	uint32_t isn, rn; /* server ISN, the stack's RCV.NXT */
};

static bool setup(struct fix *f, uint32_t limit)
{
	tenv_config(&f->e);
	f->e.cfg.challenge_acks = limit;
	tenv_start(&f->e);
	tcp_listen(f->e.nc, 25);
	tenv_arp_prime(&f->e);
	thand_default(&f->h, SPORT);
	f->t = tenv_handshake(&f->e, &f->h, &f->isn);
	f->rn = f->h.peer_isn + 1;
	return f->t != NULL;
}

static void seg(struct fix *f, uint32_t seq, uint32_t ack, uint8_t flags, const char *d)
{
	tenv_seg(&f->e, SPORT, seq, ack, flags, 512, 6000, 0, d, d ? (uint32_t)strlen(d) : 0);
}

static bool is_challenge(struct fix *f)
{
	return tenv_take(&f->e) && f->e.pkt.flags == F_ACK && f->e.pkt.ack == f->rn &&
	       f->e.pkt.seq == f->isn + 1 && f->e.pkt.len == 0;
}

static void test_rst(void)
{
	struct fix f;

	if (!setup(&f, 100)) {
		CHECK(0, "setup");
		return;
	}
	seg(&f, f.rn + 100, 0, F_RST, NULL);
	CHECK(is_challenge(&f), "RST in window, not exact: challenge ACK");
	CHECK(!f.t->closed, "connection kept");
	seg(&f, f.rn + 100000, 0, F_RST, NULL);
	seg(&f, f.rn - 1, 0, F_RST, NULL);
	CHECK(!tenv_take(&f.e) && !f.t->closed, "RST out of window: silently dropped");
	seg(&f, f.rn + 16383, 0, F_RST | F_ACK, NULL);
	CHECK(is_challenge(&f), "RST at the window's last byte: challenge");
	seg(&f, f.rn, 0, F_RST, NULL);
	CHECK(f.t->closed && f.t->reason == -ECONNRESET, "exact RST resets");
	CHECK(!tenv_take(&f.e), "no answer to the RST");
	CHECK(net_core_conns(f.e.nc) == 0, "freed");
	tenv_stop(&f.e);
}

static void test_syn(void)
{
	struct fix f;

	if (!setup(&f, 100)) {
		CHECK(0, "setup");
		return;
	}
	seg(&f, f.rn + 10, 0, F_SYN, NULL);
	CHECK(is_challenge(&f), "SYN in window: challenge ACK");
	seg(&f, f.rn, 0, F_SYN, NULL);
	CHECK(is_challenge(&f), "SYN at RCV.NXT: challenge ACK");
	seg(&f, f.rn + 1000000, 0, F_SYN, NULL);
	CHECK(is_challenge(&f), "SYN out of window: ACK");
	CHECK(!f.t->closed && tcp_state_of(f.t->c) == TCP_ESTABLISHED, "connection unharmed");
	seg(&f, f.rn, f.isn + 1, F_ACK | F_PSH, "NOOP\r\n");
	CHECK(f.t->rxlen == 6, "still works");
	tenv_stop(&f.e);
}

static void test_rate_limit(void)
{
	struct fix f;
	int got = 0;

	if (!setup(&f, 3)) {
		CHECK(0, "setup");
		return;
	}
	for (int i = 0; i < 5; i++) {
		seg(&f, f.rn + 100 + (uint32_t)i, 0, F_RST, NULL);
		while (tenv_take(&f.e))
			got++;
	}
	CHECK(got == 3, "3 challenge ACKs per second: %d", got);
	CHECK(net_core_counters(f.e.nc)->tcp_challenge_limited == 2, "2 suppressed");
	f.e.now += 1000000;
	seg(&f, f.rn + 100, 0, F_RST, NULL);
	CHECK(is_challenge(&f), "a second later: allowed again");
	tenv_stop(&f.e);
}

static void test_ack_range(void)
{
	struct fix f;

	if (!setup(&f, 100)) {
		CHECK(0, "setup");
		return;
	}
	seg(&f, f.rn, f.isn + 1 + 1000, F_ACK, "DATA\r\n");
	CHECK(f.t->rxlen == 0, "ACK of unsent data: segment dropped");
	CHECK(is_challenge(&f), "and answered with an ACK");
	seg(&f, f.rn, f.isn + 1 - 70000, F_ACK, "DATA\r\n");
	CHECK(f.t->rxlen == 0, "ACK older than SND.UNA - MAX.SND.WND: dropped");
	CHECK(is_challenge(&f), "answered");
	seg(&f, f.rn, f.isn + 1 - 1000, F_ACK, "DATA\r\n");
	CHECK(f.t->rxlen == 6, "old but acceptable ACK: data kept");
	CHECK(net_core_counters(f.e.nc)->tcp_bad_ack == 2, "counted");
	tenv_stop(&f.e);
}

static void test_paws(void)
{
	struct fix f;

	if (!setup(&f, 100)) {
		CHECK(0, "setup");
		return;
	}
	tenv_seg(&f.e, SPORT, f.rn, f.isn + 1, F_ACK, 512, 7000, 0, "ONE\r\n", 5);
	CHECK(f.t->rxlen == 5, "accepted");
	f.rn += 5;
	tenv_drain(&f.e);
	tenv_seg(&f.e, SPORT, f.rn, f.isn + 1, F_ACK, 512, 6999, 0, "TWO\r\n", 5);
	CHECK(f.t->rxlen == 5, "older timestamp: dropped");
	CHECK(tenv_take(&f.e) && f.e.pkt.ack == f.rn, "with an ACK");
	CHECK(net_core_counters(f.e.nc)->tcp_paws_drop == 1, "counted");
	tenv_seg(&f.e, SPORT, f.rn, f.isn + 1, F_ACK, 512, 7000, 0, "TWO\r\n", 5);
	CHECK(f.t->rxlen == 10, "equal timestamp accepted");
	tenv_stop(&f.e);
}

int main(void)
{
	test_rst();
	test_syn();
	test_rate_limit();
	test_ack_range();
	test_paws();
	return nt_report();
}
