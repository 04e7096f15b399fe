/* SPDX-License-Identifier: MIT */
/*
 * test_recv.c - the receiver: delayed ACK (40 ms, or every second segment), out-of-order
 * segments reassembled with SACK blocks in the duplicate ACKs, overlapping retransmissions
 * delivered once, the application's unconsumed tail, zero window and the window update,
 * buffers returned to the pool.
 */
#include "tests/dataplane/net/nettest.h"

#define SPORT 40300

struct fix {
	struct tenv e;
	struct thand h;
	struct tconn *t;
	uint32_t isn, p0; /* server ISN, peer's first data sequence number */
};

static bool setup(struct fix *f)
{
	tenv_config(&f->e);
	tenv_start(&f->e);
	tcp_listen(f->e.nc, 25);
	tenv_arp_prime(&f->e);
	thand_default(&f->h, SPORT);
	f->t = tenv_handshake(&f->e, &f->h, &f->isn);
	f->p0 = f->h.peer_isn + 1;
	return f->t != NULL;
}

static void data(struct fix *f, uint32_t off, const uint8_t *p, uint32_t len)
{
	tenv_seg(&f->e, SPORT, f->p0 + off, f->isn + 1, F_ACK, 512, 7000, 0, p + off, len);
}

static uint8_t stream[65536];

static void test_delayed_ack(void)
{
	struct fix f;

	if (!setup(&f)) {
		CHECK(0, "setup");
		return;
	}
	data(&f, 0, stream, 100);
	CHECK(f.t->rxlen == 100, "delivered");
	CHECK(!tenv_take(&f.e), "ACK held back");
	CHECK(tenv_run_until_tx(&f.e, 1000) == 40, "delayed ACK after 40 ms");
	CHECK(tenv_take(&f.e) && f.e.pkt.ack == f.p0 + 100 && f.e.pkt.len == 0, "the ACK");
	data(&f, 100, stream, 100);
	data(&f, 200, stream, 100);
	CHECK(tenv_take(&f.e) && f.e.pkt.ack == f.p0 + 300, "second segment: ACK at once");
	CHECK(!tenv_take(&f.e), "one ACK");
	/* a reply from the application carries the ACK */
	data(&f, 300, stream, 10);
	tcp_send(f.e.nc, f.t->c, "250 ok\r\n", 8);
	tenv_poll(&f.e);
	CHECK(tenv_take(&f.e) && f.e.pkt.len == 8 && f.e.pkt.ack == f.p0 + 310, "piggybacked");
	CHECK(tenv_run_until_tx(&f.e, 100) == 100 && !tenv_take(&f.e), "no separate ACK later");
	tenv_stop(&f.e);
}

static void test_out_of_order(void)
{
	struct fix f;

	if (!setup(&f)) {
		CHECK(0, "setup");
		return;
	}
	data(&f, 200, stream, 100);
	CHECK(f.t->rxlen == 0, "nothing delivered yet");
	CHECK(tenv_take(&f.e) && f.e.pkt.ack == f.p0, "duplicate ACK at once");
	CHECK(f.e.pkt.nsack == 1 && f.e.pkt.sack[0] == f.p0 + 200 && f.e.pkt.sack[1] == f.p0 + 300,
	      "SACK block [200,300): %u", f.e.pkt.nsack);
	data(&f, 400, stream, 100);
	CHECK(tenv_take(&f.e) && f.e.pkt.nsack == 2, "two SACK blocks");
	data(&f, 100, stream, 100);
	CHECK(tenv_take(&f.e) && f.e.pkt.ack == f.p0 && f.e.pkt.nsack == 2 &&
	          f.e.pkt.sack[0] == f.p0 + 100 && f.e.pkt.sack[1] == f.p0 + 300,
	      "blocks merge");
	data(&f, 0, stream, 100);
	CHECK(f.t->rxlen == 300 && memcmp(f.t->rx, stream, 300) == 0, "reassembled in order");
	CHECK(tenv_take(&f.e) && f.e.pkt.ack == f.p0 + 300 && f.e.pkt.nsack == 1,
	      "hole filled: ACK at once, one block left");
	data(&f, 300, stream, 100);
	CHECK(f.t->rxlen == 500 && memcmp(f.t->rx, stream, 500) == 0, "all 500");
	CHECK(tenv_take(&f.e) && f.e.pkt.ack == f.p0 + 500 && f.e.pkt.nsack == 0, "complete");
	/* overlapping retransmissions */
	data(&f, 450, stream, 150);
	data(&f, 550, stream, 100);
	data(&f, 500, stream, 200);
	CHECK(f.t->rxlen == 700 && memcmp(f.t->rx, stream, 700) == 0, "overlaps delivered once");
	CHECK(f.t->recv_calls == 5, "recv calls %zu", f.t->recv_calls);
	tenv_drain(&f.e);
	CHECK(net_core_rx_bufs_used(f.e.nc) == 0, "receive buffer returned");
	tenv_stop(&f.e);
}

static void test_ooo_limit(void)
{
	struct fix f;
	const struct net_counters *cnt;

	if (!setup(&f)) {
		CHECK(0, "setup");
		return;
	}
	cnt = net_core_counters(f.e.nc);
	for (uint32_t i = 1; i <= 8; i++) /* 8 separate holes, room for 6 */
		data(&f, i * 200, stream, 100);
	CHECK(cnt->tcp_ooo_drop == 2, "ranges beyond the bound dropped: %lu",
	      (unsigned long)cnt->tcp_ooo_drop);
	for (uint32_t i = 0; i <= 8; i++)
		data(&f, i * 200, stream, 200);
	CHECK(f.t->rxlen == 1800 && memcmp(f.t->rx, stream, 1800) == 0, "all delivered in order");
	tenv_stop(&f.e);
}

static void test_tail_and_window(void)
{
	struct fix f;
	const uint8_t *p;
	uint32_t off = 0, wnd;

	if (!setup(&f)) {
		CHECK(0, "setup");
		return;
	}
	f.e.app.consume_max = 5;
	data(&f, 0, stream, 8);
	CHECK(f.t->rxlen == 5, "consumed 5 of 8");
	data(&f, 8, stream, 4);
	CHECK(f.t->rxlen == 10 && memcmp(f.t->rx, stream, 10) == 0, "tail + new bytes offered");
	CHECK(tcp_recv_peek(f.e.nc, f.t->c, &p) == 2 && memcmp(p, stream + 10, 2) == 0,
	      "peek the tail");
	tcp_recv_consume(f.e.nc, f.t->c, 2);
	tenv_drain(&f.e);
	off = 12;
	/* stop consuming: fill the 16 KiB window */
	f.e.app.consume_max = 0;
	while (off < 16384 + 12) {
		uint32_t n = 16384 + 12 - off < 1448 ? 16384 + 12 - off : 1448;

		data(&f, off, stream, n);
		off += n;
	}
	wnd = 0xffff;
	while (tenv_take(&f.e))
		wnd = f.e.pkt.wnd;
	CHECK(wnd == 0, "window closed: %u", wnd);
	data(&f, off, stream, 100);
	CHECK(tenv_take(&f.e) && f.e.pkt.ack == f.p0 + off && f.e.pkt.wnd == 0,
	      "segment beyond a zero window: dropped, ACK with window 0");
	/* a zero-window probe of one byte is answered */
	data(&f, off, stream, 1);
	CHECK(tenv_take(&f.e) && f.e.pkt.ack == f.p0 + off, "probe answered");
	CHECK(tcp_recv_peek(f.e.nc, f.t->c, &p) == 16384 && memcmp(p, stream + 12, 16384) == 0,
	      "the held bytes");
	tcp_recv_consume(f.e.nc, f.t->c, 16384);
	tenv_poll(&f.e);
	CHECK(tenv_take(&f.e) && f.e.pkt.wnd == 16384 && f.e.pkt.ack == f.p0 + off,
	      "window update when the application consumed: %u", f.e.pkt.wnd);
	CHECK(net_core_rx_bufs_used(f.e.nc) == 0, "buffer returned");
	tenv_stop(&f.e);
}

/* A short unconsumed tail moves to a small block; a long one, or no small block, stays. */
static void test_small_tail(void)
{
	struct fix f;
	const uint8_t *p;

	if (!setup(&f)) {
		CHECK(0, "setup");
		return;
	}
	f.e.app.consume_max = 10;
	data(&f, 0, stream, 13);
	CHECK(f.t->rxlen == 10, "consumed 10 of 13");
	CHECK(net_core_rx_bufs_used(f.e.nc) == 1 && net_core_rx_small_used(f.e.nc) == 1,
	      "the 3-byte tail sits in a small block: %u/%u", net_core_rx_bufs_used(f.e.nc),
	      net_core_rx_small_used(f.e.nc));
	f.e.app.consume_max = 0;
	data(&f, 13, stream, 1000);
	CHECK(net_core_rx_small_used(f.e.nc) == 0, "more data: back in a full buffer");
	CHECK(tcp_recv_peek(f.e.nc, f.t->c, &p) == 1003 && memcmp(p, stream + 10, 1003) == 0,
	      "tail and new bytes contiguous");
	tcp_recv_consume(f.e.nc, f.t->c, 1000);
	CHECK(net_core_rx_small_used(f.e.nc) == 1 && tcp_recv_peek(f.e.nc, f.t->c, &p) == 3 &&
	          memcmp(p, stream + 1010, 3) == 0,
	      "consume to a short tail: small again, same bytes");
	tcp_recv_consume(f.e.nc, f.t->c, 3);
	CHECK(net_core_rx_bufs_used(f.e.nc) == 0, "all consumed: nothing held");
	f.e.app.consume_max = 5;
	data(&f, 1013, stream, 1400);
	CHECK(net_core_rx_small_used(f.e.nc) == 0 && net_core_rx_bufs_used(f.e.nc) == 1,
	      "a tail longer than a small block keeps the full buffer");
	tenv_stop(&f.e);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(stream); i++)
		stream[i] = (uint8_t)(i * 7 + (i >> 8));
	test_delayed_ack();
	test_out_of_order();
	test_ooo_limit();
	test_tail_and_window();
	test_small_tail();
	return nt_report();
}
