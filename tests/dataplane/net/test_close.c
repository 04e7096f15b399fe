/* SPDX-License-Identifier: MIT */
/*
 * test_close.c - every way a connection ends: passive close (CLOSE_WAIT, LAST_ACK), active
 * close (FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT and its expiry), simultaneous close (CLOSING),
 * FIN+ACK in FIN_WAIT_1, FIN on the last data segment, FIN retransmission, half close,
 * FIN_WAIT_2 timeout, TIME_WAIT reuse rules, RST in TIME_WAIT, data after close, abort.
 */
#include "tests/dataplane/net/nettest.h"

#define SPORT  40600
#define TW_MS  2000
#define FW2_MS 3000

struct fix {
	struct tenv e;
	struct thand h;
	struct tconn *t;
	uint32_t isn, rn; /* server ISN, peer's next sequence number */
	uint32_t ts;
};

static bool setup(struct fix *f, bool ts)
{
	tenv_config(&f->e);
	f->e.cfg.time_wait_ms = TW_MS;
	f->e.cfg.fin_wait2_ms = FW2_MS;
	tenv_start(&f->e);
	tcp_listen(f->e.nc, 25);
	tenv_arp_prime(&f->e);
	thand_default(&f->h, SPORT);
	f->h.ts = ts;
	f->t = tenv_handshake(&f->e, &f->h, &f->isn);
	f->rn = f->h.peer_isn + 1;
	f->ts = 6000;
	return f->t != NULL;
}

static void seg(struct fix *f, uint32_t ack, uint8_t flags, const char *d)
{
	uint32_t len = d ? (uint32_t)strlen(d) : 0;

	tenv_seg(&f->e, SPORT, f->rn, ack, flags, 512, f->h.ts ? ++f->ts : 0, 0, d, len);
	f->rn += len + ((flags & F_FIN) ? 1 : 0);
}

static enum tcp_state st(struct fix *f)
{
	return tcp_state_of(f->t->c);
}

static void test_passive_close(void)
{
	struct fix f;

	if (!setup(&f, true)) {
		CHECK(0, "setup");
		return;
	}
	seg(&f, f.isn + 1, F_FIN | F_ACK, NULL);
	CHECK(st(&f) == TCP_CLOSE_WAIT && f.t->eofs == 1, "CLOSE_WAIT, eof()");
	CHECK(tenv_take(&f.e) && f.e.pkt.flags == F_ACK && f.e.pkt.ack == f.rn,
	      "FIN acked at once");
	tcp_send(f.e.nc, f.t->c, "221 bye\r\n", 9);
	CHECK(tcp_close(f.e.nc, f.t->c) == 0, "close");
	CHECK(st(&f) == TCP_LAST_ACK, "LAST_ACK");
	tenv_poll(&f.e);
	CHECK(tenv_take(&f.e) && f.e.pkt.flags == (F_FIN | F_ACK | F_PSH) && f.e.pkt.len == 9,
	      "FIN rides on the last data: %#x", f.e.pkt.flags);
	CHECK(!f.t->closed, "handle kept until the FIN is acknowledged");
	seg(&f, f.isn + 1 + 9 + 1, F_ACK, NULL);
	CHECK(f.t->closed == 1 && f.t->reason == 0, "closed(0)");
	CHECK(net_core_conns(f.e.nc) == 0 && net_core_tx_bufs_used(f.e.nc) == 0, "freed");
	tenv_stop(&f.e);
}

static void test_close_in_eof(void)
{
	struct fix f;

	if (!setup(&f, true)) {
		CHECK(0, "setup");
		return;
	}
	f.e.app.close_on_eof = true;
	seg(&f, f.isn + 1, F_FIN | F_ACK, NULL);
	CHECK(tenv_take(&f.e) && f.e.pkt.flags == (F_FIN | F_ACK) && f.e.pkt.ack == f.rn,
	      "one FIN,ACK answers the FIN");
	CHECK(!tenv_take(&f.e), "no separate ACK");
	/* the FIN is lost: retransmitted by the RTO */
	CHECK(tenv_run_until_tx(&f.e, 1000) == 200 && tenv_take(&f.e) &&
	          f.e.pkt.flags == (F_FIN | F_ACK) && f.e.pkt.seq == f.isn + 1,
	      "FIN retransmitted");
	seg(&f, f.isn + 2, F_ACK, NULL);
	CHECK(f.t->closed == 1 && net_core_conns(f.e.nc) == 0, "LAST_ACK -> CLOSED");
	tenv_stop(&f.e);
}

static void test_active_close(void)
{
	struct fix f;
	uint32_t fin;

	if (!setup(&f, true)) {
		CHECK(0, "setup");
		return;
	}
	tcp_close(f.e.nc, f.t->c);
	CHECK(st(&f) == TCP_FIN_WAIT_1, "FIN_WAIT_1");
	tenv_poll(&f.e);
	CHECK(tenv_take(&f.e) && f.e.pkt.flags == (F_FIN | F_ACK), "FIN");
	fin = f.e.pkt.seq;
	seg(&f, fin + 1, F_ACK, NULL);
	CHECK(st(&f) == TCP_FIN_WAIT_2 || f.t->closed, "FIN_WAIT_2");
	CHECK(f.t->closed == 1 && f.t->reason == 0, "closed(0) once our FIN is acknowledged");
	seg(&f, fin + 1, F_FIN | F_ACK, NULL);
	CHECK(tenv_take(&f.e) && f.e.pkt.flags == F_ACK && f.e.pkt.ack == f.rn, "FIN acked");
	CHECK(net_core_conns(f.e.nc) == 1, "TIME_WAIT holds the tuple");
	/* the peer did not get our ACK: retransmitted FIN */
	f.rn--;
	seg(&f, fin + 1, F_FIN | F_ACK, NULL);
	CHECK(tenv_take(&f.e) && f.e.pkt.flags == F_ACK && f.e.pkt.ack == f.rn,
	      "retransmitted FIN acked again in TIME_WAIT");
	/* RFC 1337: RST ignored in TIME_WAIT */
	tenv_seg(&f.e, SPORT, f.rn, 0, F_RST, 0, 0, 0, NULL, 0);
	CHECK(net_core_conns(f.e.nc) == 1, "RST ignored");
	tenv_advance(&f.e, TW_MS - 5);
	CHECK(net_core_conns(f.e.nc) == 1, "still in TIME_WAIT");
	tenv_advance(&f.e, 10);
	CHECK(net_core_conns(f.e.nc) == 0, "TIME_WAIT expired after %d ms", TW_MS);
	tenv_stop(&f.e);
}

static void test_simultaneous_close(void)
{
	struct fix f;
	uint32_t fin;

	if (!setup(&f, true)) {
		CHECK(0, "setup");
		return;
	}
	tcp_close(f.e.nc, f.t->c);
	tenv_poll(&f.e);
	CHECK(tenv_take(&f.e) && (f.e.pkt.flags & F_FIN), "our FIN");
	fin = f.e.pkt.seq;
	seg(&f, fin, F_FIN | F_ACK, NULL); /* crossed: does not ack our FIN */
	CHECK(st(&f) == TCP_CLOSING, "CLOSING: %s", tcp_state_name(st(&f)));
	CHECK(tenv_take(&f.e) && f.e.pkt.ack == f.rn, "their FIN acked");
	seg(&f, fin + 1, F_ACK, NULL);
	CHECK(f.t->closed == 1 && f.t->reason == 0, "closed(0) entering TIME_WAIT");
	CHECK(net_core_conns(f.e.nc) == 1, "TIME_WAIT");
	tenv_advance(&f.e, TW_MS + 1);
	CHECK(net_core_conns(f.e.nc) == 0, "expired");
	tenv_stop(&f.e);
}

static void test_finack_in_fin_wait_1(void)
{
	struct fix f;
	uint32_t fin;

	if (!setup(&f, true)) {
		CHECK(0, "setup");
		return;
	}
	tcp_close(f.e.nc, f.t->c);
	tenv_poll(&f.e);
	tenv_take(&f.e);
	fin = f.e.pkt.seq;
	seg(&f, fin + 1, F_FIN | F_ACK, NULL);
	CHECK(f.t->closed == 1 && net_core_conns(f.e.nc) == 1, "straight to TIME_WAIT");
	CHECK(tenv_take(&f.e) && f.e.pkt.flags == F_ACK && f.e.pkt.ack == f.rn, "ACK");
	tenv_stop(&f.e);
}

static void test_time_wait_reuse(void)
{
	struct fix f;
	const struct net_counters *cnt;

	for (int with_ts = 0; with_ts < 2; with_ts++) {
		uint32_t fin;

		if (!setup(&f, with_ts)) {
			CHECK(0, "setup");
			return;
		}
		cnt = net_core_counters(f.e.nc);
		tcp_close(f.e.nc, f.t->c);
		tenv_poll(&f.e);
		tenv_take(&f.e);
		fin = f.e.pkt.seq;
		seg(&f, fin + 1, F_FIN | F_ACK, NULL);
		tenv_drain(&f.e);
		{
			/* an old SYN (lower sequence number, or older timestamp): not a reuse */
			struct tseg s = {.sport = SPORT,
			                 .dport = 25,
			                 .seq = f.rn - 50,
			                 .flags = F_SYN,
			                 .wnd = 100};

			if (with_ts) {
				s.seq = f.rn + 50;
				nt_opt_ts(&s, 10, 0);
			}
			tenv_send(&f.e, &s);
			CHECK(tenv_take(&f.e) && f.e.pkt.flags == F_ACK, "old SYN: ACK (ts %d)",
			      with_ts);
			CHECK(cnt->tcp_tw_reuse == 0, "no reuse");
			s.seq = f.rn + 100000;
			s.optlen = 0;
			if (with_ts)
				nt_opt_ts(&s, f.ts + 100, 0);
			tenv_send(&f.e, &s);
			CHECK(tenv_take(&f.e) && f.e.pkt.flags == (F_SYN | F_ACK) &&
			          f.e.pkt.ack == f.rn + 100001,
			      "newer SYN reuses the tuple (ts %d)", with_ts);
			CHECK(cnt->tcp_tw_reuse == 1 && net_core_conns(f.e.nc) == 1, "reused");
		}
		tenv_stop(&f.e);
	}
}

static void test_data_after_close(void)
{
	struct fix f;

	if (!setup(&f, true)) {
		CHECK(0, "setup");
		return;
	}
	seg(&f, f.isn + 1, F_ACK, "QUIT\r\n");
	CHECK(f.t->rxlen == 6, "read");
	tcp_close(f.e.nc, f.t->c);
	tenv_poll(&f.e);
	tenv_drain(&f.e);
	seg(&f, f.isn + 1, F_ACK, "MORE\r\n");
	CHECK(tenv_take(&f.e) && (f.e.pkt.flags & F_RST), "new data after close: RST");
	CHECK(f.t->closed == 1 && f.t->reason == -ECONNABORTED, "closed(-ECONNABORTED)");
	CHECK(net_core_conns(f.e.nc) == 0, "freed");
	tenv_stop(&f.e);
}

static void test_fin_wait2_timeout(void)
{
	struct fix f;

	if (!setup(&f, true)) {
		CHECK(0, "setup");
		return;
	}
	tcp_close(f.e.nc, f.t->c);
	tenv_poll(&f.e);
	tenv_take(&f.e);
	seg(&f, f.e.pkt.seq + 1, F_ACK, NULL);
	CHECK(f.t->closed && net_core_conns(f.e.nc) == 1, "FIN_WAIT_2 without the application");
	tenv_advance(&f.e, FW2_MS + 1);
	CHECK(net_core_conns(f.e.nc) == 0, "timed out");
	tenv_stop(&f.e);
}

static void test_half_close(void)
{
	struct fix f;

	if (!setup(&f, true)) {
		CHECK(0, "setup");
		return;
	}
	tcp_send(f.e.nc, f.t->c, "MAIL\r\n", 6);
	CHECK(tcp_shutdown(f.e.nc, f.t->c) == 0, "shutdown");
	tenv_poll(&f.e);
	CHECK(tenv_take(&f.e) && (f.e.pkt.flags & F_FIN) && f.e.pkt.len == 6, "data + FIN");
	CHECK(tcp_send(f.e.nc, f.t->c, "x", 1) == -EPIPE, "no sending after shutdown");
	seg(&f, f.isn + 1 + 7, F_ACK, NULL);
	CHECK(st(&f) == TCP_FIN_WAIT_2 && !f.t->closed, "FIN_WAIT_2, still reading");
	seg(&f, f.isn + 8, F_ACK, "250 ok\r\n");
	CHECK(f.t->rxlen == 8, "data after our FIN delivered");
	seg(&f, f.isn + 8, F_FIN | F_ACK, NULL);
	CHECK(f.t->eofs == 1 && f.t->closed == 1 && f.t->reason == 0, "eof() then closed(0)");
	CHECK(net_core_conns(f.e.nc) == 1, "TIME_WAIT");
	tenv_stop(&f.e);
}

static void test_abort(void)
{
	struct fix f;

	if (!setup(&f, true)) {
		CHECK(0, "setup");
		return;
	}
	tcp_send(f.e.nc, f.t->c, "x", 1);
	tcp_abort(f.e.nc, f.t->c);
	CHECK(!f.t->closed, "closed() comes from the poll, not from inside tcp_abort()");
	tenv_poll(&f.e);
	CHECK(tenv_take(&f.e) && (f.e.pkt.flags & F_RST) && f.e.pkt.seq == f.isn + 1,
	      "RST at SND.NXT");
	CHECK(!tenv_take(&f.e), "the queued byte is not sent");
	CHECK(f.t->closed == 1 && f.t->reason == -ECONNABORTED, "closed(-ECONNABORTED)");
	CHECK(net_core_conns(f.e.nc) == 0 && net_core_tx_bufs_used(f.e.nc) == 0, "freed");
	tenv_stop(&f.e);
}

int main(void)
{
	test_passive_close();
	test_close_in_eof();
	test_active_close();
	test_simultaneous_close();
	test_finack_in_fin_wait_1();
	test_time_wait_reuse();
	test_data_after_close();
	test_fin_wait2_timeout();
	test_half_close();
	test_abort();
	return nt_report();
}
