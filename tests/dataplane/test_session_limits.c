/* SPDX-License-Identifier: MIT */
/*
 * test_session_limits.c - protection and operations in the SMTP glue and the worker core,
 * over the in-memory transport of dp_mem.h: connection limits per worker and per client
 * address (421 4.7.0), the idle, data-rate and session timeouts (421, with the clock moved
 * forward rather than waited for), the shutdown sequence (idle sessions get 421 at once, a
 * transaction in progress finishes first, the worker then reports done), and a reload of
 * limits through the control channel.
 */
#include "tests/dataplane/dp_mem.h"

static struct dp_conn *greeted(const char *ip, uint16_t port)
{
	struct dp_conn *c = mem_connect(ip, port);

	mem_pump(mem.w);
	if (mem_released(c))
		return c; /* refused: the slot is free again */
	mem_sends(c, "EHLO client.example\r\n");
	mem_pump(mem.w);
	return c;
}

static void quit(struct dp_conn *c)
{
	if (mem_released(c) || (c->flags & DP_C_CLOSING))
		return;
	mem_sends(c, "QUIT\r\n");
	mem_pump(mem.w);
}

static void test_per_client(void)
{
	struct dp_conn *a = greeted("198.51.100.1", 1), *b = greeted("198.51.100.1", 2);
	struct dp_conn *c = greeted("198.51.100.1", 3), *d;

	CHECK(strncmp(mem_out(a), "220 ", 4) == 0 && strncmp(mem_out(b), "220 ", 4) == 0,
	      "first two served");
	/* (check before the next connection: a freed slot and its capture are reused) */
	CHECK(strncmp(mem_out(c), "421 4.7.0 mx.test Too many connections from your address\r\n",
	              58) == 0,
	      "third refused: %s", mem_out(c));
	CHECK(mem_released(c), "refused connection closed");
	d = greeted("198.51.100.2", 4);
	CHECK(strncmp(mem_out(d), "220 ", 4) == 0, "another address is served");
	CHECK(mem.w->cnt.conn_refused_client == 1, "counted");
	quit(a);
	c = greeted("198.51.100.1", 5); /* a slot of that client is free again */
	CHECK(strncmp(mem_out(c), "220 ", 4) == 0, "served after one left: %s", mem_out(c));
	quit(b);
	quit(c);
	quit(d);
	CHECK(mem.w->nopen == 0, "open %u", mem.w->nopen);
}

static void test_per_worker(void)
{
	struct dp_conn *c[5];
	char ip[32];

	mem.w->limits.max_conns = 4;
	for (int i = 0; i < 5; i++) {
		snprintf(ip, sizeof(ip), "203.0.113.%d", 10 + i);
		c[i] = greeted(ip, 10);
	}
	CHECK(strncmp(mem_out(c[3]), "220 ", 4) == 0, "fourth served");
	CHECK(strncmp(mem_out(c[4]), "421 4.7.0 mx.test Too many connections", 38) == 0,
	      "fifth refused: %s", mem_out(c[4]));
	for (int i = 0; i < 4; i++)
		quit(c[i]);
	mem.w->limits = mem.w->wc.limits;
}

static void test_timeouts(void)
{
	struct dp_conn *idle = greeted("192.0.2.10", 1);
	struct dp_conn *slow = greeted("192.0.2.11", 1);
	struct dp_conn *slowrate = greeted("192.0.2.12", 1);
	const struct dp_limits *l = &mem.w->limits;

	mem_sends(slow, "MAIL FROM:<a@client.example>\r\nRCPT TO:<b@dest.example>\r\nDATA\r\n");
	mem_sends(slowrate, "MAIL FROM:<a@client.example>\r\nRCPT TO:<b@dest.example>\r\nDATA\r\n");
	mem_pump(mem.w);
	/* Just before the data rate check: nothing happens. */
	mem.skew_ms = l->min_data_rate_grace_ms - 1000;
	mem_sends(slowrate, "Subject: slow\r\n");
	mem_sends(slow, "Subject: x\r\n");
	mem_pump(mem.w);
	CHECK(!(slowrate->flags & DP_C_CLOSING), "not yet");
	/* Past the grace, 15 bytes in 31 s is below 500 B/s. The other DATA session sends more. */
	mem.skew_ms = l->min_data_rate_grace_ms + 1000;
	{
		static char bulk[40000];

		memset(bulk, 'x', sizeof(bulk) - 2);
		memcpy(bulk + sizeof(bulk) - 2, "\r\n", 2);
		/* 120 kB: at 500 B/s they last 240 s, beyond the data idle timeout (180 s) */
		for (int i = 0; i < 3; i++)
			mem_send(slow, bulk, sizeof(bulk));
	}
	mem_pump(mem.w);
	CHECK(strstr(mem_out(slowrate), "mx.test Error: data rate too low"), "rate: %s",
	      mem_out(slowrate));
	CHECK(!(slow->flags & DP_C_CLOSING), "a sender above the rate continues");
	/* Past the command idle timeout: the idle one goes; DATA idle is shorter (180 s). */
	mem.skew_ms = l->cmd_timeout_ms + 2000;
	mem_pump(mem.w);
	CHECK(strstr(mem_out(idle), "mx.test Error: timeout exceeded"), "idle: %s", mem_out(idle));
	CHECK(strstr(mem_out(slow), "mx.test Error: timeout exceeded"), "data idle: %s",
	      mem_out(slow));
	CHECK(mem_released(idle) && mem_released(slow) && mem_released(slowrate), "all closed");
	CHECK(mem.w->cnt.timeout_rate == 1 && mem.w->cnt.timeout_idle == 2, "rate %llu idle %llu",
	      (unsigned long long)mem.w->cnt.timeout_rate,
	      (unsigned long long)mem.w->cnt.timeout_idle);
	/* The session limit, with a client that keeps sending NOOPs. */
	{
		struct dp_conn *c = greeted("192.0.2.13", 1);
		uint64_t base = mem.skew_ms;

		for (uint64_t t = 0; t <= l->session_timeout_ms + 60000; t += 60000) {
			mem.skew_ms = base + t;
			if (c->flags & DP_C_CLOSING)
				break;
			mem_sends(c, "NOOP\r\n");
			mem_pump(mem.w);
		}
		CHECK(strstr(mem_out(c), "mx.test Error: session time limit exceeded"),
		      "session: %.200s",
		      mem_out(c) + (mem.mc[c->idx].len > 200 ? mem.mc[c->idx].len - 200 : 0));
		CHECK(mem.w->cnt.timeout_session == 1, "session counted");
	}
	mem.skew_ms = 0;
	CHECK(mem.w->nopen == 0, "open %u", mem.w->nopen);
}

static void test_reload(void)
{
	struct dp_reload *r = calloc(1, sizeof(*r));

	r->smtp = mem.conf.smtp;
	r->smtp.max_recipients = 3;
	snprintf(r->smtp.hostname, sizeof(r->smtp.hostname), "renamed.test");
	r->limits = mem.w->limits;
	r->limits.max_conns_per_client = 1;
	r->log_level = DP_LOG_DEBUG;
	r->shutdown_timeout_ms = 1234;
	REQUIRE(dp_worker_request(mem.w, DP_REQ_RELOAD, r) == 0, "request");
	mem_pump(mem.w);
	CHECK(mem.w->limits.max_conns_per_client == 1, "limits reloaded");
	CHECK(mem.w->smtp.max_recipients == 3, "protocol settings reloaded");
	CHECK(mem.w->smtp.decide & SMTP_DECIDE_RCPT, "glue decision bits kept");
	CHECK(strcmp(mem.w->smtp.hostname, "mx.test") == 0, "hostname kept");
	CHECK(mem.w->log.level == DP_LOG_DEBUG && mem.w->shutdown_timeout_ms == 1234, "log/stop");
	CHECK(strstr(mem.log, "configuration reloaded"), "logged");
	mem.w->limits = mem.w->wc.limits;
	mem.w->shutdown_timeout_ms = 10000;
}

static void test_shutdown(void)
{
	struct dp_conn *idle = greeted("192.0.2.20", 1);
	struct dp_conn *busy = greeted("192.0.2.21", 1);
	struct dp_conn *late;

	mem_sends(busy, "MAIL FROM:<a@client.example>\r\nRCPT TO:<b@dest.example>\r\nDATA\r\n"
	                "Subject: s\r\n\r\nbody\r\n");
	mem_pump(mem.w);
	REQUIRE(dp_worker_request(mem.w, DP_REQ_STOP, NULL) == 0, "request");
	mem_pump(mem.w);
	CHECK(mem.w->stopping, "stopping");
	CHECK(strstr(mem_out(idle), "421 4.3.2 mx.test Service shutting down") ||
	          strstr(mem_out(idle), "421 4.3.0 mx.test Service shutting down"),
	      "idle: %s", mem_out(idle));
	CHECK(mem_released(idle), "idle closed");
	CHECK(!(busy->flags & DP_C_CLOSING), "a transaction in progress continues");
	late = mem_connect("192.0.2.22", 1);
	mem_pump(mem.w);
	CHECK(strstr(mem_out(late), "421 4.7.0 mx.test Service shutting down"), "late: %s",
	      mem_out(late));
	mem_sends(busy, ".\r\n");
	mem_pump(mem.w);
	{
		const char *o = mem_out(busy), *q = strstr(o, "queued as"),
		           *bye = strstr(o, "Service shutting down");

		CHECK(q && bye && q < bye, "250, then 421: %s", o);
	}
	CHECK(mem_released(busy), "busy closed after its transaction");
	CHECK(mem.w->listeners_closed, "listeners closed once no session is busy");
	CHECK(mem.w->done, "worker done");
}

int main(void)
{
	mem_start("[limits]\nmax_connections = 16\nmax_connections_per_client = 2\n"
	          "[timeouts]\nsession = 20m\n");
	test_per_client();
	test_per_worker();
	test_timeouts();
	test_reload();
	test_shutdown();
	mem_stop();
	return dp_test_finish("test_session_limits");
}
