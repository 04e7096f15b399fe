/* SPDX-License-Identifier: MIT */
/*
 * dp_mem.h - an in-memory transport for the SMTP glue tests, and a worker harness around it.
 *
 * The transport (mem_ops) implements dp_transport.h without sockets: output() marks the
 * reply bytes in flight and the harness "delivers" them into a per-connection capture buffer
 * (unless the test stalls that connection, as a client that does not read); close() sets
 * fd = -1, refs = 0 and queues the connection, so the glue releases it on the next pass.
 * The worker is real: dp_worker_init/dp_worker_setup with its io_uring and a spool writer on
 * a temporary directory; mem_pump() runs loop passes like the uring backend does.
 *
 * Time: mem_skew_ms is added to the clock after each read, to test timeouts without waiting.
 * Log lines (syslog format over a datagram socketpair) are collected by mem_log().
 * Tests only; one harness per process.
 */
#ifndef SLUICE_TESTS_DP_MEM_H
#define SLUICE_TESTS_DP_MEM_H

#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <sys/socket.h>

#include "dataplane/dp_session.h"
#include "dataplane/dp_worker.h"
#include "tests/dataplane/dp_test.h"

#define MEM_CONNS 64
#define MEM_OUT   (256 * 1024)

struct mem_conn {
	char out[MEM_OUT];
	size_t len;
	int stalled, pauses, resumes, closes, sending;
};

struct mem {
	struct dp_conf conf;
	struct dp_worker *w;
	struct mem_conn mc[MEM_CONNS];
	int logfd[2];
	char dir[256];
	char log[1 << 16];
	size_t loglen;
	uint64_t skew_ms;
};

static struct mem mem;

static int mem_open(struct dp_worker *w)
{
	(void)w;
	return 0;
}

static void mem_input(struct dp_worker *w, struct dp_conn *c, int on)
{
	(void)w;
	if (on)
		mem.mc[c->idx].resumes++;
	else
		mem.mc[c->idx].pauses++;
}

static void mem_output(struct dp_worker *w, struct dp_conn *c)
{
	(void)w;
	if (c->flags & DP_C_SENDING)
		return;
	c->tx_flight = c->tx_len;
	c->flags |= DP_C_SENDING;
	c->refs++;
	mem.mc[c->idx].sending = 1;
}

static void mem_close(struct dp_worker *w, struct dp_conn *c)
{
	mem.mc[c->idx].closes++;
	if (c->flags & DP_C_SENDING) { /* the send is cancelled */
		c->flags &= ~DP_C_SENDING;
		mem.mc[c->idx].sending = 0;
	}
	c->fd = -1;
	c->refs = 0;
	dp_worker_runq_push(w, c);
}

static void mem_nop(struct dp_worker *w)
{
	(void)w;
}

static int mem_run(struct dp_worker *w)
{
	(void)w;
	return 0;
}

static const struct dp_transport_ops mem_ops = {
    .name = "mem",
    .open = mem_open,
    .input = mem_input,
    .output = mem_output,
    .close = mem_close,
    .stop = mem_nop,
    .run = mem_run,
    .destroy = mem_nop,
};

/* Deliver what every unstalled connection has in flight. */
static int mem_deliver(struct dp_worker *w)
{
	int n = 0;

	for (uint32_t i = 0; i < w->nconns && i < MEM_CONNS; i++) {
		struct dp_conn *c = &w->conns[i];
		struct mem_conn *m = &mem.mc[i];
		size_t k;

		if (!m->sending || m->stalled || !(c->flags & DP_C_SENDING))
			continue;
		k = c->tx_flight - c->tx_off;
		if (k > MEM_OUT - m->len)
			k = MEM_OUT - m->len;
		memcpy(m->out + m->len, c->tx + c->tx_off, k);
		m->len += k;
		m->sending = 0;
		c->flags &= ~DP_C_SENDING;
		c->refs--;
		dp_sess_sent(w, c, k);
		n++;
	}
	return n;
}

static void mem_dispatch(struct dp_worker *w, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;

	if (SPOOL_UD_IS(ud)) {
		spool_writer_cqe(w->spool, cqe);
		w->spool_progress = 1;
	} else if (DP_UD_KIND(ud) == DP_UD_CTL) {
		dp_worker_control(w);
	} else if (DP_UD_KIND(ud) == DP_UD_LOG) {
		dp_log_cqe(&w->log, &w->ring, cqe);
	} else {
		w->inflight_misc--;
	}
}

static void mem_read_log(void)
{
	ssize_t n;

	while ((n = recv(mem.logfd[1], mem.log + mem.loglen, sizeof(mem.log) - mem.loglen - 2,
	                 MSG_DONTWAIT)) > 0) {
		mem.loglen += (size_t)n;
		mem.log[mem.loglen++] = '\n';
		mem.log[mem.loglen] = '\0';
	}
}

/* Loop passes until nothing moves (or max passes). */
static void mem_pump(struct dp_worker *w)
{
	for (int pass = 0; pass < 2000; pass++) {
		struct io_uring_cqe *cqes[64];
		unsigned n, moved;

		io_uring_submit_and_get_events(&w->ring); /* DEFER_TASKRUN: completions need this */
		dp_worker_clock(w);
		w->now_ms += mem.skew_ms;
		w->now_us += mem.skew_ms * 1000;
		n = io_uring_peek_batch_cqe(&w->ring, cqes, 64);
		for (unsigned i = 0; i < n; i++)
			mem_dispatch(w, cqes[i]);
		io_uring_cq_advance(&w->ring, n);
		dp_worker_spool_retry(w);
		moved = n + dp_worker_run_queue(w, DP_RUN_BATCH);
		dp_worker_tick(w);
		spool_writer_poll(w->spool, w->now_us);
		dp_worker_flush(w);
		dp_log_flush(&w->log, &w->ring);
		moved += (unsigned)mem_deliver(w);
		if (!moved && !w->runq && !w->txq && w->commits == 0 && !w->spoolq &&
		    spool_writer_idle(w->spool) && dp_log_idle(&w->log))
			break;
		if (!moved) {
			struct __kernel_timespec ts = {.tv_nsec = 2000000};
			struct io_uring_cqe *cqe;

			io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
		} else {
			io_uring_submit(&w->ring);
		}
	}
	mem_read_log();
}

/* A worker with conf from the text of a global file ("" for defaults). */
static void mem_start(const char *conf_text)
{
	char path[512], err[512];
	struct dp_flags f;
	char *argv[] = {"test"};

	dp_test_tmpdir(mem.dir, sizeof(mem.dir), "mem");
	snprintf(path, sizeof(path), "%s/sluice.conf", mem.dir);
	dp_test_write(path, conf_text);
	dp_conf_defaults(&mem.conf);
	REQUIRE(dp_conf_load(&mem.conf, path, err, sizeof(err)) == 0, "conf: %s", err);
	REQUIRE(dp_flags_parse(&f, 1, argv, err, sizeof(err)) == 0, "flags");
	snprintf(f.spool, sizeof(f.spool), "%s/spool", mem.dir);
	snprintf(f.hostname, sizeof(f.hostname), "mx.test");
	REQUIRE(dp_conf_finish(&mem.conf, &f, err, sizeof(err)) == 0, "finish: %s", err);
	mem.conf.w[0].cpu = -1;
	mem.w = aligned_alloc(DP_CACHELINE, sizeof(*mem.w));
	REQUIRE(mem.w && dp_worker_init(mem.w, 0, &mem.conf, &mem_ops) == 0, "worker init");
	REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, mem.logfd) == 0, "socketpair");
	if (dp_worker_setup(mem.w, mem.logfd[0], err, sizeof(err)) != 0) {
		printf("SKIP: worker setup: %s\n", err);
		exit(77);
	}
}

static void mem_stop(void)
{
	struct dp_worker *w = mem.w;

	spool_writer_close(w->spool);
	io_uring_queue_exit(&w->ring);
	dp_log_fini(&w->log);
	dp_worker_fini(w);
	free(w);
	close(mem.logfd[0]);
	close(mem.logfd[1]);
	dp_conf_free(&mem.conf);
	dp_test_rmtree(mem.dir);
}

/* A new connection from ip:port; the greeting is queued and delivered by mem_pump(). */
static struct dp_conn *mem_connect(const char *ip, uint16_t port)
{
	struct dp_conn *c = dp_conn_alloc(mem.w);
	struct sockaddr_in *s = (struct sockaddr_in *)&c->peer;

	REQUIRE(c != NULL, "no free slot");
	memset(&mem.mc[c->idx], 0, sizeof(mem.mc[0]));
	c->fd = 1000 + (int)c->idx;
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	inet_pton(AF_INET, ip, &s->sin_addr);
	dp_sess_open(mem.w, c);
	return c;
}

static void mem_send(struct dp_conn *c, const char *p, size_t n)
{
	dp_sess_input(mem.w, c, p, n);
}

static void mem_sends(struct dp_conn *c, const char *s)
{
	mem_send(c, s, strlen(s));
}

/* The captured replies of c as a string (NUL-terminated copy in the capture buffer). */
static const char *mem_out(struct dp_conn *c)
{
	struct mem_conn *m = &mem.mc[c->idx];

	m->out[m->len < MEM_OUT ? m->len : MEM_OUT - 1] = '\0';
	return m->out;
}

static int mem_released(const struct dp_conn *c)
{
	return !(c->flags & DP_C_OPEN);
}

#endif
