/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_split.c - an SMTP body whose terminator <CRLF>.<CRLF> is split across segments
 * that arrive out of order, overlapping and retransmitted: the application (consuming whole
 * lines only, as the SMTP engine does, and leaving the partial line as a tail) must see the
 * exact byte stream, in order, each byte once, and the terminator exactly once. A scripted
 * case first, then random segmentations.
 */
#include "tests/dataplane/net/nettest.h"

#define SPORT 40700

/* An application that consumes complete lines only and records them. */
struct lines {
	uint8_t got[8192];
	size_t len;
	int terminators;
	int bad_offer; /* an offer that did not start with the tail left last time */
	uint8_t tail[8192];
	size_t tail_len;
};

static struct lines L;

static int line_accept(void *app, struct tcp_conn *c)
{
	(void)app;
	(void)c;
	return 0;
}

static size_t line_recv(void *app, struct tcp_conn *c, const uint8_t *d, size_t len)
{
	size_t n = len;

	(void)app;
	(void)c;
	if (len < L.tail_len || memcmp(d, L.tail, L.tail_len) != 0)
		L.bad_offer++;
	while (n > 0 && d[n - 1] != '\n')
		n--;
	for (size_t i = 0; i < n; i++) {
		L.got[L.len++] = d[i];
		if (L.len >= 5 && memcmp(L.got + L.len - 5, "\r\n.\r\n", 5) == 0)
			L.terminators++;
	}
	L.tail_len = len - n;
	memcpy(L.tail, d + n, L.tail_len);
	return n;
}

static void line_closed(void *app, struct tcp_conn *c, int reason)
{
	(void)app;
	(void)c;
	(void)reason;
}

static const struct tcp_app_ops line_ops = {
    .accept = line_accept, .recv = line_recv, .closed = line_closed};

static const char MSG[] = "Subject: split\r\n"
                          "\r\n"
                          "line one\r\n"
                          "..a stuffed dot line\r\n"
                          ".\r\n";

struct conn {
	struct tenv e;
	uint32_t isn, p0;
};

static bool open_conn(struct conn *k)
{
	struct thand h;

	tenv_config(&k->e);
	memset(&L, 0, sizeof(L));
	if (net_memport_init(&k->e.mp, 512, 1500, HOST_MAC) != 0)
		return false;
	k->e.nc = net_core_create(&k->e.cfg, &k->e.mp.port, &line_ops, NULL);
	if (!k->e.nc)
		return false;
	tcp_listen(k->e.nc, 25);
	tenv_arp_prime(&k->e);
	thand_default(&h, SPORT);
	{
		struct tseg s = {
		    .sport = SPORT, .dport = 25, .seq = h.peer_isn, .flags = F_SYN, .wnd = 65535};

		tenv_send(&k->e, &s);
		if (!tenv_take(&k->e))
			return false;
		k->isn = k->e.pkt.seq;
		s.seq++;
		s.ack = k->isn + 1;
		s.flags = F_ACK;
		tenv_send(&k->e, &s);
	}
	k->p0 = h.peer_isn + 1;
	return net_core_conns(k->e.nc) == 1;
}

static void piece(struct conn *k, uint32_t off, uint32_t len)
{
	tenv_seg(&k->e, SPORT, k->p0 + off, k->isn + 1, F_ACK, 1000, 0, 0, MSG + off, len);
}

static void close_conn(struct conn *k)
{
	net_core_destroy(k->e.nc);
	net_memport_free(&k->e.mp);
}

static void test_scripted(void)
{
	struct conn k;
	uint32_t n = (uint32_t)strlen(MSG), t = n - 5; /* the terminator starts at t */

	if (!open_conn(&k)) {
		CHECK(0, "open");
		return;
	}
	piece(&k, 0, t + 1);         /* up to and including the CR */
	piece(&k, t + 3, n - t - 3); /* "\r\n" after the dot: out of order */
	piece(&k, t - 4, 6);         /* overlaps the delivered part and ends inside the gap */
	CHECK(L.terminators == 0, "not yet: the dot is missing");
	piece(&k, t + 1, 3); /* "\n.\r": fills the hole */
	CHECK(L.terminators == 1, "terminator seen once");
	piece(&k, t - 10, 15); /* a late retransmission of old bytes */
	piece(&k, 0, n);       /* and the whole thing again */
	CHECK(L.terminators == 1, "still once");
	CHECK(L.len == n && memcmp(L.got, MSG, n) == 0, "exact stream");
	CHECK(L.bad_offer == 0, "each offer starts with the kept tail");
	close_conn(&k);
}

static uint32_t rng = 7;
static uint32_t rnd(uint32_t n)
{
	rng = rng * 1103515245u + 12345u;
	return (rng >> 8) % n;
}

static void test_random(void)
{
	uint32_t n = (uint32_t)strlen(MSG);
	int ok = 0, runs = 300;

	for (int r = 0; r < runs; r++) {
		struct conn k;
		uint32_t cover = 0;

		if (!open_conn(&k)) {
			CHECK(0, "open");
			return;
		}
		/* random pieces anywhere (overlapping, reordered, duplicated) ... */
		for (int i = 0; i < 12; i++) {
			uint32_t off = rnd(n), len = 1 + rnd(n - off);

			piece(&k, off, len);
		}
		/* ... then in-order fill so the stream completes */
		while (cover < n) {
			uint32_t len = 1 + rnd(8);

			if (len > n - cover)
				len = n - cover;
			piece(&k, cover, len);
			cover += len;
		}
		if (L.len == n && memcmp(L.got, MSG, n) == 0 && L.terminators == 1 &&
		    L.bad_offer == 0)
			ok++;
		close_conn(&k);
	}
	CHECK(ok == runs, "%d of %d random deliveries exact", ok, runs);
}

int main(void)
{
	test_scripted();
	test_random();
	return nt_report();
}
