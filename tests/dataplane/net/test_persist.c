/* SPDX-License-Identifier: MIT */
/*
 * test_persist.c - zero send window: no data while the window is closed, persist probes of
 * one byte at RTO then doubling intervals, the connection kept alive while the peer answers,
 * data flowing at once when the window opens, give-up when the peer goes silent.
 */
#include "tests/dataplane/net/nettest.h"

#define SPORT 40400

struct fix {
	struct tenv e;
	struct thand h;
	struct tconn *t;
	uint32_t isn, pseq;
};

static bool setup(struct fix *f, uint8_t retries)
{
	tenv_config(&f->e);
	f->e.cfg.data_retries = retries;
	tenv_start(&f->e);
	tcp_listen(f->e.nc, 25);
	tenv_arp_prime(&f->e);
	thand_default(&f->h, SPORT);
	f->h.wnd = 0; /* the final ACK closes the window */
	f->t = tenv_handshake(&f->e, &f->h, &f->isn);
	f->pseq = f->h.peer_isn + 1;
	return f->t != NULL;
}

static void peer_ack(struct fix *f, uint32_t ack, uint16_t wnd)
{
	tenv_seg(&f->e, SPORT, f->pseq, ack, F_ACK, wnd, 8000, 0, NULL, 0);
}

static void test_probe_and_open(void)
{
	struct fix f;
	uint8_t msg[3000];
	uint32_t waited[6], n = 0, got = 0;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i + 1);
	if (!setup(&f, 3)) {
		CHECK(0, "setup");
		return;
	}
	CHECK(tcp_send(f.e.nc, f.t->c, msg, sizeof(msg)) == (ssize_t)sizeof(msg), "queued");
	tenv_poll(&f.e);
	CHECK(!tenv_take(&f.e), "nothing sent into a zero window");
	while (n < 5) {
		uint32_t ms = tenv_run_until_tx(&f.e, 20000);

		if (!tenv_take(&f.e))
			break;
		CHECK(f.e.pkt.len == 1 && f.e.pkt.seq == f.isn + 1 && f.e.pkt.data[0] == 1,
		      "one-byte probe of the first unacknowledged byte");
		waited[n++] = ms;
		peer_ack(&f, f.isn + 1, 0); /* still closed, byte not taken */
		CHECK(!tenv_take(&f.e), "no reply to the peer's ACK");
	}
	CHECK(n == 5 && waited[0] == 200 && waited[1] == 400 && waited[2] == 800 &&
	          waited[3] == 1600 && waited[4] == 3200,
	      "probe intervals %u %u %u %u %u", waited[0], waited[1], waited[2], waited[3],
	      waited[4]);
	CHECK(!f.t->closed, "5 answered probes with data_retries 3: still open");
	CHECK(net_core_counters(f.e.nc)->tcp_persist_probe == 5, "counted");
	/* the peer takes the probe byte and opens the window */
	peer_ack(&f, f.isn + 2, 512);
	while (tenv_take(&f.e)) {
		CHECK(f.e.pkt.seq == f.isn + 2 + got, "in sequence");
		CHECK(memcmp(f.e.pkt.data, msg + 1 + got, f.e.pkt.len) == 0, "bytes");
		got += f.e.pkt.len;
	}
	CHECK(got == sizeof(msg) - 1, "the rest sent at once: %u", got);
	peer_ack(&f, f.isn + 1 + sizeof(msg), 512);
	CHECK(tenv_run_until_tx(&f.e, 5000) == 5000, "quiet when all is acknowledged");
	tenv_stop(&f.e);
}

static void test_probe_silent_peer(void)
{
	struct fix f;
	int probes = 0;

	if (!setup(&f, 3)) {
		CHECK(0, "setup");
		return;
	}
	tcp_send(f.e.nc, f.t->c, "x", 1);
	for (int i = 0; i < 10 && !f.t->closed; i++) {
		tenv_run_until_tx(&f.e, 30000);
		while (tenv_take(&f.e))
			probes += f.e.pkt.len == 1;
	}
	CHECK(probes == 3 && f.t->closed && f.t->reason == -ETIMEDOUT,
	      "3 unanswered probes, then reset: %d", probes);
	tenv_stop(&f.e);
}

static void test_window_closes_in_flight(void)
{
	struct fix f;
	uint8_t msg[4000] = {0};
	uint32_t first;

	if (!setup(&f, 8)) {
		CHECK(0, "setup");
		return;
	}
	peer_ack(&f, f.isn + 1, 8); /* 8 << 7 = 1024 bytes */
	tcp_send(f.e.nc, f.t->c, msg, sizeof(msg));
	tenv_poll(&f.e);
	CHECK(tenv_take(&f.e) && f.e.pkt.len == 1024, "window-limited segment: %u", f.e.pkt.len);
	first = f.e.pkt.seq;
	CHECK(!tenv_take(&f.e), "nothing more");
	peer_ack(&f, first + 1024, 0); /* all acked, window now zero */
	CHECK(!tenv_take(&f.e), "nothing into the closed window");
	CHECK(tenv_run_until_tx(&f.e, 1000) == 200 && tenv_take(&f.e) && f.e.pkt.len == 1,
	      "persist probe");
	peer_ack(&f, first + 1025, 8);
	CHECK(tenv_take(&f.e) && f.e.pkt.seq == first + 1025 && f.e.pkt.len == 1024,
	      "window reopened");
	tenv_stop(&f.e);
}

int main(void)
{
	test_probe_and_open();
	test_probe_silent_peer();
	test_window_closes_in_flight();
	return nt_report();
}
