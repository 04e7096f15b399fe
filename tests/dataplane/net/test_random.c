/* SPDX-License-Identifier: MIT */
/*
 * test_random.c - two instances of the stack, a client (active opens) and a server, joined by
 * an in-memory link that loses, duplicates, corrupts and reorders frames, under a virtual
 * clock. Several connections carry pseudo-random streams both ways, with small send buffers
 * (backpressure, writable()), receivers that consume random prefixes (tails, peek/consume),
 * then half-close and close. Every byte must arrive exactly, every connection must end with
 * closed(0), and all pools must drain. Several seeds and loss rates; bounded in virtual time.
 */
#include "tests/dataplane/net/nettest.h"

#define NCONN     4
#define MAXQ      4096
#define STEP_US   250
#define LIMIT_S   900
#define SERVER_IP 0x0a000001u
#define CLIENT_IP 0x0a000002u

struct stream {
	uint64_t seed, pos, total;
};

static uint8_t stream_byte(const struct stream *s, uint64_t i)
{
	uint64_t x = (s->seed + i / 8) * 0x9e3779b97f4a7c15ull;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return (uint8_t)(x >> (8 * (i % 8)));
}

struct rconn {
	struct tcp_conn *c;
	struct stream tx, rx;
	int eof, closed, reason, shut, mismatch, in_use;
};

struct side {
	const char *name;
	struct net_memport mp;
	struct net_core *nc;
	struct rconn conn[NCONN];
	int nconn;
	uint64_t bytes;
	uint32_t rng;
	uint64_t size;
	int is_server;
};

static uint32_t rnd(uint32_t *r, uint32_t n)
{
	*r = *r * 1103515245u + 12345u;
	return (*r >> 8) % n;
}

static struct side *side_of(void *app)
{
	return app;
}

static void pump(struct side *sd, struct rconn *k)
{
	uint8_t buf[3000];

	while (k->tx.pos < k->tx.total) {
		uint32_t n = 1 + rnd(&sd->rng, sizeof(buf));
		ssize_t put;

		if (n > k->tx.total - k->tx.pos)
			n = (uint32_t)(k->tx.total - k->tx.pos);
		for (uint32_t i = 0; i < n; i++)
			buf[i] = stream_byte(&k->tx, k->tx.pos + i);
		put = tcp_send(sd->nc, k->c, buf, n);
		if (put <= 0)
			return;
		k->tx.pos += (uint64_t)put;
	}
	if (!k->shut) {
		k->shut = 1;
		tcp_shutdown(sd->nc, k->c);
	}
}

static size_t take(struct side *sd, struct rconn *k, const uint8_t *d, size_t len, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (d[i] != stream_byte(&k->rx, k->rx.pos + i))
			k->mismatch++;
	k->rx.pos += n;
	sd->bytes += n;
	(void)len;
	return n;
}

static struct rconn *new_rconn(struct side *sd, struct tcp_conn *c, int idx)
{
	struct rconn *k = &sd->conn[idx];

	memset(k, 0, sizeof(*k));
	k->c = c;
	k->in_use = 1;
	/* client stream i: seed 1000 + i; server stream i: 2000 + i */
	k->tx.seed = (sd->is_server ? 2000u : 1000u) + (uint64_t)idx * 77;
	k->rx.seed = (sd->is_server ? 1000u : 2000u) + (uint64_t)idx * 77;
	k->tx.total = k->rx.total = sd->size;
	tcp_set_user(c, k);
	return k;
}

static int r_accept(void *app, struct tcp_conn *c)
{
	struct side *sd = side_of(app);
	uint32_t lip, rip;
	uint16_t lport, rport;
	int idx;

	tcp_endpoints(c, &lip, &lport, &rip, &rport);
	idx = rport % NCONN; /* the client uses consecutive ephemeral ports */
	if (sd->conn[idx].in_use)
		return -1;
	pump(sd, new_rconn(sd, c, idx));
	sd->nconn++;
	return 0;
}

static void r_connected(void *app, struct tcp_conn *c)
{
	pump(side_of(app), tcp_user(c));
}

static size_t r_recv(void *app, struct tcp_conn *c, const uint8_t *d, size_t len)
{
	struct side *sd = side_of(app);
	struct rconn *k = tcp_user(c);
	size_t n = rnd(&sd->rng, 4) == 0 ? rnd(&sd->rng, (uint32_t)len + 1) : len;

	return take(sd, k, d, len, n);
}

static void r_eof(void *app, struct tcp_conn *c)
{
	struct rconn *k = tcp_user(c);

	(void)app;
	k->eof = 1;
}

static void r_writable(void *app, struct tcp_conn *c)
{
	pump(side_of(app), tcp_user(c));
}

static void r_closed(void *app, struct tcp_conn *c, int reason)
{
	struct rconn *k = tcp_user(c);

	(void)app;
	k->closed++;
	k->reason = reason;
	k->c = NULL;
}

static const struct tcp_app_ops r_ops = {
    .accept = r_accept,
    .connected = r_connected,
    .recv = r_recv,
    .eof = r_eof,
    .writable = r_writable,
    .closed = r_closed,
};

/* Pull what recv() left, close when everything is in and the peer is done. */
static void app_work(struct side *sd)
{
	for (int i = 0; i < NCONN; i++) {
		struct rconn *k = &sd->conn[i];
		const uint8_t *p;
		size_t n;

		if (!k->in_use || !k->c)
			continue;
		n = tcp_recv_peek(sd->nc, k->c, &p);
		if (n)
			tcp_recv_consume(sd->nc, k->c, take(sd, k, p, n, n));
		if (k->eof && k->rx.pos == k->rx.total && k->shut)
			tcp_close(sd->nc, k->c);
	}
}

/* ---- the link ---- */

struct qframe {
	uint64_t at;
	uint32_t len;
	struct side *to;
	uint8_t data[1600];
};

struct link {
	struct qframe *q;
	uint32_t n;
	uint32_t rng;
	uint32_t loss, dup, corrupt; /* per 1000 */
	uint64_t lost, dups, corrupted, sent;
};

static void link_push(struct link *l, struct side *to, const uint8_t *d, uint32_t len, uint64_t at)
{
	if (l->n >= MAXQ)
		return;
	l->q[l->n].at = at;
	l->q[l->n].len = len;
	l->q[l->n].to = to;
	memcpy(l->q[l->n].data, d, len);
	l->n++;
}

static int trace_port;

static void trace(const char *what, struct side *from, const uint8_t *f, uint32_t len, uint64_t now)
{
	struct tpkt k;

	if (!trace_port || len > sizeof(k.buf))
		return;
	memset(&k, 0, sizeof(k));
	memcpy(k.buf, f, len);
	k.flen = len;
	nt_parse(&k);
	if (k.type != 0x0800 || k.proto != 6 || (k.sport != trace_port && k.dport != trace_port))
		return;
	fprintf(stderr, "%9.4f %s %s flags %02x seq %u ack %u len %u wnd %u\n", (double)now / 1e6,
	        from->name, what, k.flags, k.seq, k.ack, k.len, k.wnd);
}

static void link_carry(struct link *l, struct side *from, struct side *to, uint64_t now)
{
	uint8_t f[1600];
	uint32_t len;

	while ((len = net_memport_take(&from->mp, f, sizeof(f), NULL)) > 0) {
		uint64_t at = now + 500 + rnd(&l->rng, 3000); /* 0.5 .. 3.5 ms: reorders */

		l->sent++;
		if (rnd(&l->rng, 1000) < l->loss) {
			trace("LOST", from, f, len, now);
			l->lost++;
			continue;
		}
		trace("sent", from, f, len, now);
		if (rnd(&l->rng, 1000) < l->corrupt) {
			f[rnd(&l->rng, len)] ^= (uint8_t)(1 + rnd(&l->rng, 255));
			l->corrupted++;
		}
		link_push(l, to, f, len, at);
		if (rnd(&l->rng, 1000) < l->dup) {
			link_push(l, to, f, len, at + rnd(&l->rng, 2000));
			l->dups++;
		}
	}
}

static void link_deliver(struct link *l, uint64_t now)
{
	uint32_t j = 0;

	for (uint32_t i = 0; i < l->n; i++) {
		if (l->q[i].at <= now)
			net_memport_inject(&l->q[i].to->mp, l->q[i].data, l->q[i].len, 0);
		else
			l->q[j++] = l->q[i];
	}
	l->n = j;
}

/* ---- one run ---- */

static int side_init(struct side *sd, const char *name, uint32_t ip, const uint8_t *mac,
                     uint16_t mtu, uint32_t rxbuf, uint32_t txbuf, uint32_t seed, uint64_t size)
{
	struct net_config cfg;

	memset(sd, 0, sizeof(*sd));
	sd->name = name;
	sd->rng = seed;
	sd->size = size;
	net_config_defaults(&cfg);
	cfg.ip = ip;
	cfg.max_conns = 64;
	cfg.rx_bufs = 16;
	cfg.tx_bufs = 16;
	cfg.rx_buf_size = rxbuf;
	cfg.rx_small_bufs = 8;
	cfg.tx_buf_size = txbuf;
	cfg.time_wait_ms = 20000; /* longer than the RTO backoff: no late FIN meets a RST */
	cfg.data_retries = 30;    /* the link is bad, not dead */
	cfg.syn_retries = 30;
	cfg.rto_max_ms = 4000;
	cfg.key_set = 1;
	for (int i = 0; i < 16; i++)
		cfg.key[i] = (uint8_t)(seed >> (i % 4) ^ (uint32_t)i * 13);
	if (net_memport_init(&sd->mp, 1024, mtu, mac) != 0)
		return -1;
	sd->nc = net_core_create(&cfg, &sd->mp.port, &r_ops, sd);
	return sd->nc ? 0 : -1;
}

/* Drive both stacks and the link until every connection is gone; returns the end time. */
static uint64_t drive(struct side *srv, struct side *cli, struct link *l, uint64_t now)
{
	uint64_t end = now + (uint64_t)LIMIT_S * 1000000;

	while (now < end) {
		now += STEP_US;
		srv->mp.now_us = cli->mp.now_us = now;
		link_deliver(l, now);
		net_poll(srv->nc, now);
		net_poll(cli->nc, now);
		app_work(srv);
		app_work(cli);
		net_flush(srv->nc, now);
		net_flush(cli->nc, now);
		link_carry(l, srv, cli, now);
		link_carry(l, cli, srv, now);
		if (net_core_conns(srv->nc) == 0 && net_core_conns(cli->nc) == 0 &&
		    srv->nconn == NCONN)
			break;
	}
	return now;
}

/* Every connection of one side ended well with every byte; its pools are empty. */
static bool side_ok(const struct side *sd, uint32_t seed)
{
	bool ok = net_core_rx_bufs_used(sd->nc) == 0 && net_core_tx_bufs_used(sd->nc) == 0;

	for (int i = 0; i < NCONN; i++) {
		const struct rconn *k = &sd->conn[i];

		if (k->in_use && k->closed == 1 && k->reason == 0 && !k->mismatch &&
		    k->rx.pos == sd->size && k->tx.pos == sd->size)
			continue;
		ok = false;
		fprintf(
		    stderr,
		    "seed %u %s conn %d: use %d closed %d reason %d mismatch %d rx %llu tx %llu "
		    "eof %d\n",
		    seed, sd->name, i, k->in_use, k->closed, k->reason, k->mismatch,
		    (unsigned long long)k->rx.pos, (unsigned long long)k->tx.pos, k->eof);
	}
	return ok;
}

static unsigned long long both(const struct side *a, const struct side *b, size_t off)
{
	const struct net_counters *x = net_core_counters(a->nc), *y = net_core_counters(b->nc);

	return *(const uint64_t *)((const char *)x + off) +
	       *(const uint64_t *)((const char *)y + off);
}

static void run(uint32_t seed, uint32_t loss, uint32_t dup, uint32_t corrupt, uint64_t size)
{
	static const uint8_t SMAC[6] = {2, 0, 0, 0, 0, 1}, CMAC[6] = {2, 0, 0, 0, 0, 2};
	struct side srv, cli;
	struct link l = {.rng = seed * 31 + 1, .loss = loss, .dup = dup, .corrupt = corrupt};
	uint64_t start = 1000000, now;

	l.q = calloc(MAXQ, sizeof(*l.q));
	if (!l.q || side_init(&srv, "server", SERVER_IP, SMAC, 1500, 16384, 4096, seed, size) ||
	    side_init(&cli, "client", CLIENT_IP, CMAC, 1000, 131072, 6000, seed + 1, size)) {
		CHECK(0, "init");
		return;
	}
	srv.is_server = 1;
	tcp_listen(srv.nc, 25);
	for (int i = 0; i < NCONN; i++) {
		struct tcp_conn *c = tcp_connect(cli.nc, SERVER_IP, 25, NULL, start);
		uint32_t lip, rip;
		uint16_t lport, rport;

		tcp_endpoints(c, &lip, &lport, &rip, &rport);
		new_rconn(&cli, c, lport % NCONN);
	}
	now = drive(&srv, &cli, &l, start);
	CHECK(now < start + (uint64_t)LIMIT_S * 1000000, "seed %u: finished within %d virtual s",
	      seed, LIMIT_S);
	CHECK(side_ok(&srv, seed) && side_ok(&cli, seed),
	      "seed %u loss %u/1000: every byte exact both ways, closed(0), pools drained", seed,
	      loss);
	printf("seed %u loss %u dup %u corrupt %u: %.1f virtual s, frames %llu lost %llu dup %llu "
	       "corrupt %llu, rto %llu fast %llu, cksum drops %llu\n",
	       seed, loss, dup, corrupt, (double)(now - start) / 1e6, (unsigned long long)l.sent,
	       (unsigned long long)l.lost, (unsigned long long)l.dups,
	       (unsigned long long)l.corrupted,
	       both(&srv, &cli, offsetof(struct net_counters, tcp_rexmit_rto)),
	       both(&srv, &cli, offsetof(struct net_counters, tcp_rexmit_fast)),
	       both(&srv, &cli, offsetof(struct net_counters, tcp_drop_cksum)) +
	           both(&srv, &cli, offsetof(struct net_counters, ip_drop_cksum)));
	net_core_destroy(srv.nc);
	net_core_destroy(cli.nc);
	net_memport_free(&srv.mp);
	net_memport_free(&cli.mp);
	free(l.q);
}

static const struct {
	uint32_t seed, loss, dup, corrupt; /* per 1000 frames */
	uint64_t size;                     /* bytes each way per connection */
} runs[] = {
    {1, 0, 0, 0, 300000},    {2, 20, 10, 0, 200000},  {3, 50, 20, 10, 100000},
    {4, 100, 30, 10, 60000}, {5, 200, 50, 20, 20000}, {6, 30, 30, 0, 150000},
    {7, 0, 100, 0, 100000},  {8, 80, 0, 30, 50000},   {9, 150, 10, 5, 30000},
    {10, 10, 5, 5, 400000},  {11, 60, 60, 60, 40000}, {12, 300, 20, 10, 8000},
};

/* NET_TRACE_RUN=i NET_TRACE_PORT=p prints the frames of one connection of run i. */
int main(void)
{
	size_t first = 0, last = sizeof(runs) / sizeof(runs[0]);

	if (getenv("NET_TRACE_RUN") && getenv("NET_TRACE_PORT")) {
		first = (size_t)atoi(getenv("NET_TRACE_RUN"));
		last = first + 1 < last ? first + 1 : last;
		trace_port = atoi(getenv("NET_TRACE_PORT"));
	}
	for (size_t i = first; i < last; i++)
		run(runs[i].seed, runs[i].loss, runs[i].dup, runs[i].corrupt, runs[i].size);
	return nt_report();
}
