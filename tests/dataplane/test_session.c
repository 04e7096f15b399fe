/* SPDX-License-Identifier: MIT */
/*
 * test_session.c - the per-connection SMTP glue (dataplane/dp_session.c, dp_envelope.c) with
 * the real protocol engine and the real spool, over the in-memory transport of dp_mem.h:
 * a whole transaction stored byte for byte with its envelope and logged once; pipelined input
 * held while the commit is in flight; input fed one byte at a time; output backpressure (the
 * client does not read) pausing input and losing no reply; too much pipelined input; a
 * recipient that does not fit the envelope area (452); body bytes spilled while the spool has
 * no room (EAGAIN); a connection closed while its commit is in flight.
 */
#include "tests/dataplane/dp_mem.h"

static const char *find_qid(const char *out, char *qid, size_t len)
{
	const char *p = strstr(out, "queued as ");
	size_t n = 0;

	qid[0] = '\0';
	if (!p)
		return NULL;
	p += 10;
	while (p[n] && p[n] != '\r' && n + 1 < len)
		n++;
	memcpy(qid, p, n);
	qid[n] = '\0';
	return qid;
}

/* The stored message (without Received:) and its envelope; 0 if found. */
static int stored(const char *qid, char *body, size_t cap, size_t *len, char *from, size_t flen,
                  unsigned *nrcpt)
{
	char dir[300];
	struct spool_reader *r;
	const struct spool_entry *e;
	long n;

	snprintf(dir, sizeof(dir), "%s/spool", mem.dir);
	if (spool_reader_open(&r, dir) != 0)
		return -1;
	e = spool_reader_find(r, qid);
	if (!e) {
		spool_reader_close(r);
		return -1;
	}
	n = spool_reader_read(r, e, e->received_len, body, cap);
	*len = n > 0 ? (size_t)n : 0;
	snprintf(from, flen, "%.*s", (int)e->env.mail_from.n, e->env.mail_from.p);
	*nrcpt = e->env.nrcpt;
	spool_reader_close(r);
	return 0;
}

static const char body1[] = "Subject: one\r\n\r\nline 1\r\n..a stuffed dot\r\nlast line\r\n";
static const char want1[] = "Subject: one\r\n\r\nline 1\r\n.a stuffed dot\r\nlast line\r\n";

static void check_stored(const char *out, const char *want, size_t wlen, unsigned nrcpt_want)
{
	static char body[1 << 20];
	char qid[64], from[256];
	size_t len = 0;
	unsigned nrcpt = 0;

	REQUIRE(find_qid(out, qid, sizeof(qid)), "no queue id in: %s", out);
	REQUIRE(stored(qid, body, sizeof(body), &len, from, sizeof(from), &nrcpt) == 0,
	        "message %s not in the spool", qid);
	CHECK(len == wlen && memcmp(body, want, wlen) == 0, "body differs (%zu vs %zu bytes)", len,
	      wlen);
	CHECK(strcmp(from, "a@client.example") == 0, "from %s", from);
	CHECK(nrcpt == nrcpt_want, "nrcpt %u want %u", nrcpt, nrcpt_want);
}

static void test_transaction(void)
{
	struct dp_conn *c = mem_connect("192.0.2.1", 40001);

	mem_pump(mem.w);
	CHECK(strncmp(mem_out(c), "220 mx.test", 11) == 0, "greeting: %s", mem_out(c));
	mem_sends(c, "EHLO client.example\r\n");
	mem_pump(mem.w);
	CHECK(strstr(mem_out(c), "250 ") != NULL, "EHLO: %s", mem_out(c));
	mem_sends(c, "MAIL FROM:<a@client.example>\r\n");
	mem_pump(mem.w);
	mem_sends(c, "RCPT TO:<b@dest.example>\r\n");
	mem_pump(mem.w);
	mem_sends(c, "RCPT TO:<c@dest.example>\r\n");
	mem_pump(mem.w);
	mem_sends(c, "DATA\r\n");
	mem_pump(mem.w);
	CHECK(strstr(mem_out(c), "354 ") != NULL, "DATA: %s", mem_out(c));
	mem_sends(c, body1);
	mem_sends(c, ".\r\n");
	mem_pump(mem.w);
	CHECK(strstr(mem_out(c), "250 2.0.0 Ok: queued as ") != NULL, "end: %s", mem_out(c));
	check_stored(mem_out(c), want1, sizeof(want1) - 1, 2);
	mem_sends(c, "QUIT\r\n");
	mem_pump(mem.w);
	CHECK(strstr(mem_out(c), "221 ") != NULL, "QUIT: %s", mem_out(c));
	CHECK(mem_released(c), "slot released after QUIT");
	CHECK(strstr(mem.log, "tx client=192.0.2.1:40001 helo=client.example "
	                      "from=<a@client.example> rcpts=2 size=51 id="),
	      "log: %s", mem.log);
	CHECK(strstr(mem.log, "verdict=queued ms="), "log verdict: %s", mem.log);
	CHECK(mem.w->nopen == 0, "open %u", mem.w->nopen);
}

/* Everything in one write; QUIT waits in rx while the commit is in flight. */
static void test_pipelined(void)
{
	struct dp_conn *c = mem_connect("192.0.2.2", 40002);
	char all[1024];

	snprintf(all, sizeof(all),
	         "EHLO client.example\r\nMAIL FROM:<a@client.example>\r\nRCPT TO:<b@dest.example>"
	         "\r\nDATA\r\n");
	mem_sends(c, all);
	/* (a client waits for 354 before the body; here the body follows in the next input) */
	mem_sends(c, body1);
	mem_pump(mem.w); /* the spool takes the body */
	snprintf(all, sizeof(all), ".\r\nQUIT\r\n");
	mem_sends(c, all);
	CHECK(smtp_state_of(&c->smtp) == SMTP_WAIT, "waiting for the commit: %s",
	      smtp_state_name(smtp_state_of(&c->smtp)));
	CHECK(c->rx_len == 6 && memcmp(c->rx, "QUIT\r\n", 6) == 0, "QUIT kept in rx (%u)",
	      c->rx_len);
	CHECK(mem.mc[c->idx].pauses == 1, "input paused while blocked with input (%d)",
	      mem.mc[c->idx].pauses);
	mem_pump(mem.w);
	{
		const char *o = mem_out(c), *q = strstr(o, "queued as"), *bye = strstr(o, "221 ");

		CHECK(q && bye && q < bye, "250 then 221: %s", o);
	}
	check_stored(mem_out(c), want1, sizeof(want1) - 1, 1);
	CHECK(mem_released(c), "released");
}

/* A whole session fed one byte at a time. */
static void test_bytewise(void)
{
	struct dp_conn *c = mem_connect("192.0.2.3", 40003);
	char all[2048];
	int n = snprintf(all, sizeof(all),
	                 "HELO client.example\r\nMAIL FROM:<a@client.example>\r\nRCPT "
	                 "TO:<b@dest.example>\r\nDATA\r\n%s.\r\n",
	                 body1);

	for (int i = 0; i < n; i++) {
		mem_send(c, all + i, 1);
		mem_pump(mem.w);
	}
	check_stored(mem_out(c), want1, sizeof(want1) - 1, 1);
	mem_sends(c, "QUIT\r\n");
	mem_pump(mem.w);
	CHECK(mem_released(c), "released");
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* The client sends 2,000 NOOPs without reading: input pauses, no reply is lost. */
static void test_output_backpressure(void)
{
	struct dp_conn *c = mem_connect("192.0.2.4", 40004);
	static char noops[2000 * 6 + 1];

	mem_pump(mem.w);
	mem_sends(c, "EHLO client.example\r\n");
	mem_pump(mem.w);
	mem.mc[c->idx].stalled = 1;
	for (int i = 0; i < 2000; i++)
		memcpy(noops + 6 * i, "NOOP\r\n", 6);
	for (int off = 0; off < 2000 * 6; off += 4000) {
		mem_send(c, noops + off, 4000);
		mem_pump(mem.w);
	}
	CHECK(c->tx_cap - c->tx_len < SMTP_REPLY_MAX, "reply buffer full");
	CHECK(mem.mc[c->idx].pauses >= 1, "input paused");
	CHECK(c->rx_len > 0, "unconsumed input kept");
	CHECK(!(c->flags & DP_C_CLOSING), "not closing");
	mem.mc[c->idx].stalled = 0;
	mem_pump(mem.w);
	CHECK(count(mem_out(c), "250 2.0.0 Ok\r\n") == 2000, "2000 NOOP replies, got %u",
	      count(mem_out(c), "250 2.0.0 Ok\r\n"));
	CHECK(c->rx_len == 0 && (c->flags & DP_C_WANT_READ), "reading again");
	mem_sends(c, "QUIT\r\n");
	mem_pump(mem.w);
	CHECK(mem_released(c), "released");
}

/* More than conn_rx_size ahead of replies the client does not read: the session ends. */
static void test_overflow(void)
{
	struct dp_conn *c = mem_connect("192.0.2.5", 40005);
	static char noops[20000 * 6];
	uint64_t before = mem.w->cnt.rx_overflow;

	mem_pump(mem.w);
	mem.mc[c->idx].stalled = 1;
	for (int i = 0; i < 20000; i++)
		memcpy(noops + 6 * i, "NOOP\r\n", 6);
	for (int off = 0; off < 20000 * 6 && !(c->flags & DP_C_CLOSING); off += 6000)
		mem_send(c, noops + off, 6000);
	CHECK(mem.w->cnt.rx_overflow == before + 1, "overflow counted");
	CHECK(c->flags & DP_C_CLOSING, "closing");
	mem.mc[c->idx].stalled = 0;
	mem_pump(mem.w);
	CHECK(mem_released(c), "released");
}

/* A small envelope area: the recipient that does not fit gets 452 4.5.3, the rest are kept. */
static void test_envelope_full(void)
{
	struct dp_conn *c = mem_connect("192.0.2.6", 40006);
	char cmd[300], local[61];
	unsigned ok = 0, full = 0;

	c->env_cap = 1024; /* as envelope_size = 1k would */
	memset(local, 'x', 60);
	local[60] = '\0';
	mem_sends(c, "EHLO client.example\r\nMAIL FROM:<a@client.example>\r\n");
	mem_pump(mem.w);
	for (int i = 0; i < 16; i++) {
		snprintf(cmd, sizeof(cmd), "RCPT TO:<%c%s@dest.example>\r\n", 'a' + i, local);
		mem_sends(c, cmd);
		mem_pump(mem.w);
	}
	ok = count(mem_out(c), "250 2.1.5");
	full = count(mem_out(c), "452 4.5.3");
	CHECK(ok >= 5 && full >= 1 && ok + full == 16, "accepted %u, refused %u", ok, full);
	mem_sends(c, "DATA\r\n");
	mem_sends(c, body1);
	mem_sends(c, ".\r\n");
	mem_pump(mem.w);
	check_stored(mem_out(c), want1, sizeof(want1) - 1, ok);
	mem_sends(c, "QUIT\r\n");
	mem_pump(mem.w);
}

/* The spool has no room (every batch buffer in flight): body bytes wait in the spill. */
static void test_spool_spill(void)
{
	struct dp_conn *c = mem_connect("192.0.2.7", 40007);
	static char big[300000], want[300000];
	size_t n = 0, wn = 0;
	uint64_t waits = mem.w->cnt.spool_waits;

	n += (size_t)snprintf(big, sizeof(big), "Subject: big\r\n\r\n");
	memcpy(want, big, n);
	wn = n;
	while (n < sizeof(big) - 200) { /* stuffed dots split the body into many spans */
		int k = snprintf(big + n, 100, "..%06zu filler filler filler filler\r\n", n);

		memcpy(want + wn, big + n + 1, (size_t)k - 1);
		n += (size_t)k;
		wn += (size_t)k - 1;
	}
	mem_sends(c, "EHLO client.example\r\nMAIL FROM:<a@client.example>\r\n"
	             "RCPT TO:<b@dest.example>\r\nDATA\r\n");
	mem_pump(mem.w);
	/* Feed 12 KiB at a time without running the loop: no spool CQE is reaped meanwhile. */
	for (size_t off = 0; off < n;) {
		size_t k = n - off < 12288 ? n - off : 12288;

		if (c->flags & DP_C_SPOOL_WAIT) {
			mem_pump(mem.w); /* a real loop only reads again after the spool has room */
			continue;
		}
		mem_send(c, big + off, k);
		off += k;
	}
	mem_sends(c, ".\r\n");
	mem_pump(mem.w);
	CHECK(mem.w->cnt.spool_waits > waits, "the spool pushed back (EAGAIN) at least once");
	check_stored(mem_out(c), want, wn, 1);
	mem_sends(c, "QUIT\r\n");
	mem_pump(mem.w);
	CHECK(mem_released(c), "released");
}

/* The peer resets while its commit is in flight: the slot outlives the socket. */
static void test_close_during_commit(void)
{
	struct dp_conn *c = mem_connect("192.0.2.8", 40008);
	uint64_t queued = mem.w->cnt.msg_queued;

	mem_sends(c, "EHLO client.example\r\nMAIL FROM:<a@client.example>\r\n"
	             "RCPT TO:<b@dest.example>\r\nDATA\r\n");
	mem_sends(c, body1);
	mem_pump(mem.w);
	mem_sends(c, ".\r\n");
	REQUIRE(c->flags & DP_C_COMMIT, "commit in flight");
	dp_sess_eof(mem.w, c, -ECONNRESET);
	dp_worker_run_queue(mem.w, 10); /* the transport's close completes: released */
	CHECK(c->flags & DP_C_CLOSED, "socket released");
	CHECK(c->flags & DP_C_OPEN, "slot kept while the commit is in flight");
	mem_pump(mem.w);
	CHECK(mem_released(c), "slot freed by the commit callback");
	CHECK(mem.w->cnt.msg_queued == queued + 1, "the message was committed");
	CHECK(mem.w->nopen == 0, "open %u", mem.w->nopen);
}

/*
 * Regression: end_session() dropped its closing reply when the reply buffer had less than
 * SMTP_REPLY_MAX free bytes (a client that stopped reading), so a timeout closed silently.
 * The engine writes the closing reply into whatever room is left.
 */
static void test_end_reply_tx_nearly_full(void)
{
	struct dp_conn *c = mem_connect("192.0.2.9", 40009);
	static char noops[2000 * 6];
	const char *out;
	size_t len;

	mem_pump(mem.w);
	mem_sends(c, "EHLO client.example\r\n");
	mem_pump(mem.w);
	mem.mc[c->idx].stalled = 1;
	for (int i = 0; i < 2000; i++)
		memcpy(noops + 6 * i, "NOOP\r\n", 6);
	for (int off = 0; off < 2000 * 6; off += 4000) {
		mem_send(c, noops + off, 4000);
		mem_pump(mem.w);
	}
	REQUIRE(c->tx_cap - c->tx_len < SMTP_REPLY_MAX, "reply buffer nearly full");
	CHECK(c->tx_cap - c->tx_len >= 64, "room for a short reply left: %u",
	      c->tx_cap - c->tx_len);
	mem.skew_ms = mem.w->limits.cmd_timeout_ms + 2000;
	mem_pump(mem.w);
	CHECK(c->flags & DP_C_CLOSING, "timed out");
	mem.mc[c->idx].stalled = 0;
	mem_pump(mem.w);
	mem_pump(mem.w);
	mem.skew_ms = 0;
	out = mem_out(c);
	len = mem.mc[c->idx].len;
	CHECK(len > 60 && strstr(out + len - 60, "421 ") &&
	          strstr(out + len - 60, "Error: timeout exceeded\r\n"),
	      "the 421 is sent last: %s", len > 60 ? out + len - 60 : out);
	CHECK(mem_released(c), "released");
}

int main(void)
{
	mem_start("[spool]\nbatch_buffers = 2\nbatch_bytes = 1\nbatch_usec = 100000\n");
	test_transaction();
	test_pipelined();
	test_bytewise();
	test_output_backpressure();
	test_overflow();
	test_envelope_full();
	test_spool_spill();
	test_close_during_commit();
	test_end_reply_tx_nearly_full();
	mem_stop();
	return dp_test_finish("test_session");
}
