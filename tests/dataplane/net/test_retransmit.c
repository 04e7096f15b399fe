/* SPDX-License-Identifier: MIT */
/*
 * test_retransmit.c - the sender under loss: RTO at the right virtual time and doubling,
 * give-up with RST, Karn's rule, congestion window after a timeout, fast retransmit on the
 * third duplicate ACK, NewReno partial and full ACKs.
 */
#include "tests/dataplane/net/nettest.h"

#define SPORT 40200
#define SMSS  1448 /* 1460 - 12 bytes of timestamps */

struct conn_fix {
	struct tenv e;
	struct thand h;
	struct tconn *t;
	uint32_t isn;   /* server ISN */
	uint32_t pseq;  /* peer's next sequence number */
	uint32_t tsecr; /* the stack's last TSval */
};

static bool setup(struct conn_fix *f, uint8_t data_retries)
{
	tenv_config(&f->e);
	f->e.cfg.data_retries = data_retries;
	tenv_start(&f->e);
	tcp_listen(f->e.nc, 25);
	tenv_arp_prime(&f->e);
	thand_default(&f->h, SPORT);
	f->t = tenv_handshake(&f->e, &f->h, &f->isn);
	f->pseq = f->h.peer_isn + 1;
	f->tsecr = 0;
	return f->t != NULL;
}

static void peer_ack(struct conn_fix *f, uint32_t ack)
{
	tenv_seg(&f->e, SPORT, f->pseq, ack, F_ACK, 512, 6000, f->tsecr, NULL, 0);
}

static void test_rto_backoff(void)
{
	struct conn_fix f;
	struct tcp_info ti;
	uint32_t waited[8], n = 0, seq;
	static uint8_t data[100];

	if (!setup(&f, 4)) {
		CHECK(0, "setup");
		return;
	}
	tcp_get_info(f.e.nc, f.t->c, &ti);
	CHECK(ti.srtt_us == 10000 && ti.rto_ms == 200, "after a 10 ms handshake: srtt %u rto %u",
	      ti.srtt_us, ti.rto_ms);
	tcp_send(f.e.nc, f.t->c, data, sizeof(data));
	tenv_poll(&f.e);
	CHECK(tenv_take(&f.e) && f.e.pkt.len == 100, "segment");
	seq = f.e.pkt.seq;
	for (;;) {
		uint32_t ms = tenv_run_until_tx(&f.e, 10000);

		if (!tenv_take(&f.e))
			break;
		if (f.e.pkt.flags & F_RST)
			break;
		CHECK(f.e.pkt.seq == seq && f.e.pkt.len == 100, "same segment again");
		if (n < 8)
			waited[n++] = ms;
		if (n == 1) {
			tcp_get_info(f.e.nc, f.t->c, &ti);
			CHECK(ti.cwnd == SMSS && ti.ssthresh == 2 * SMSS,
			      "after RTO: cwnd %u ssthresh %u", ti.cwnd, ti.ssthresh);
		}
	}
	CHECK(n == 4 && waited[0] == 200 && waited[1] == 400 && waited[2] == 800 &&
	          waited[3] == 1600,
	      "RTO 200, then doubling: %u %u %u %u", waited[0], waited[1], waited[2], waited[3]);
	CHECK((f.e.pkt.flags & F_RST) && f.t->closed && f.t->reason == -ETIMEDOUT,
	      "gave up after 3200 ms with RST, closed(-ETIMEDOUT)");
	CHECK(net_core_conns(f.e.nc) == 0 && net_core_tx_bufs_used(f.e.nc) == 0, "all freed");
	tenv_stop(&f.e);
}

static void test_karn(void)
{
	struct conn_fix f;
	struct tcp_info ti;
	static uint8_t data[100];
	uint32_t seq;

	if (!setup(&f, 8)) {
		CHECK(0, "setup");
		return;
	}
	tcp_send(f.e.nc, f.t->c, data, sizeof(data));
	tenv_poll(&f.e);
	tenv_take(&f.e);
	seq = f.e.pkt.seq;
	CHECK(tenv_run_until_tx(&f.e, 1000) == 200 && tenv_take(&f.e), "retransmitted");
	f.e.now += 50000;
	peer_ack(&f, seq + 100);
	tcp_get_info(f.e.nc, f.t->c, &ti);
	CHECK(ti.srtt_us == 10000, "no sample from a retransmitted segment: %u", ti.srtt_us);
	CHECK(ti.rto_ms == 400, "backed-off RTO kept until a valid sample: %u", ti.rto_ms);
	tcp_send(f.e.nc, f.t->c, data, sizeof(data));
	tenv_poll(&f.e);
	tenv_take(&f.e);
	f.e.now += 30000;
	peer_ack(&f, seq + 200);
	tcp_get_info(f.e.nc, f.t->c, &ti);
	CHECK(ti.srtt_us == 12500, "sample from a fresh segment: %u", ti.srtt_us);
	CHECK(ti.rto_ms == 200, "RTO recomputed (clamped to the minimum): %u", ti.rto_ms);
	tenv_stop(&f.e);
}

static void test_fast_retransmit(void)
{
	struct conn_fix f;
	struct tcp_info ti;
	static uint8_t data[10 * SMSS];
	uint32_t seg[10];
	int n = 0;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	if (!setup(&f, 8)) {
		CHECK(0, "setup");
		return;
	}
	CHECK(tcp_send(f.e.nc, f.t->c, data, sizeof(data)) == (ssize_t)sizeof(data), "queued");
	tenv_poll(&f.e);
	while (n < 10 && tenv_take(&f.e))
		seg[n++] = f.e.pkt.seq;
	CHECK(n == 10 && f.e.pkt.len == SMSS, "initial window of 10 segments: %d", n);
	peer_ack(&f, seg[1]); /* segment 0 arrived, 1 lost */
	tenv_drain(&f.e);
	peer_ack(&f, seg[1]);
	peer_ack(&f, seg[1]);
	CHECK(!tenv_take(&f.e), "two duplicates: nothing yet");
	peer_ack(&f, seg[1]);
	CHECK(tenv_take(&f.e) && f.e.pkt.seq == seg[1] && f.e.pkt.len == SMSS,
	      "third duplicate: fast retransmit of segment 1");
	CHECK(memcmp(f.e.pkt.data, data + SMSS, SMSS) == 0, "right bytes");
	tcp_get_info(f.e.nc, f.t->c, &ti);
	CHECK(ti.ssthresh == 9 * SMSS / 2 && ti.cwnd == ti.ssthresh + 3 * SMSS,
	      "ssthresh %u cwnd %u", ti.ssthresh, ti.cwnd);
	tenv_drain(&f.e);
	/* partial ACK: 1 and 2 arrived, 3 was lost too */
	peer_ack(&f, seg[3]);
	CHECK(tenv_take(&f.e) && f.e.pkt.seq == seg[3], "partial ACK: resend segment 3 at once");
	tenv_drain(&f.e);
	/* full ACK */
	peer_ack(&f, seg[9] + SMSS);
	tcp_get_info(f.e.nc, f.t->c, &ti);
	CHECK(ti.cwnd <= ti.ssthresh && ti.snd_una == seg[9] + SMSS, "recovery over: cwnd %u",
	      ti.cwnd);
	CHECK(net_core_counters(f.e.nc)->tcp_rexmit_fast == 2, "two fast retransmissions");
	CHECK(net_core_counters(f.e.nc)->tcp_rexmit_rto == 0, "no timeout");
	CHECK(net_core_tx_bufs_used(f.e.nc) == 0, "send buffer released when all is acked");
	tenv_stop(&f.e);
}

static void test_slow_start(void)
{
	struct conn_fix f;
	struct tcp_info ti;
	static uint8_t data[16000];

	if (!setup(&f, 8)) {
		CHECK(0, "setup");
		return;
	}
	tcp_send(f.e.nc, f.t->c, data, sizeof(data));
	tenv_poll(&f.e);
	tcp_get_info(f.e.nc, f.t->c, &ti);
	CHECK(ti.cwnd == 10 * SMSS, "IW10: %u", ti.cwnd);
	tenv_take(&f.e);
	peer_ack(&f, f.e.pkt.seq + SMSS);
	tcp_get_info(f.e.nc, f.t->c, &ti);
	CHECK(ti.cwnd == 11 * SMSS, "slow start: +1 SMSS per ACK: %u", ti.cwnd);
	tenv_stop(&f.e);
}

int main(void)
{
	test_rto_backoff();
	test_karn();
	test_fast_retransmit();
	test_slow_start();
	return nt_report();
}
