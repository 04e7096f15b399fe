/* SPDX-License-Identifier: MIT */
/*
 * test_uring.c - the io_uring transport and worker loop (dataplane/dp_uring.c) end to end in
 * one process: a worker thread serves loopback listening sockets (IPv4, and IPv6 when the host
 * has ::1) while this thread is the client: a transaction over real sockets, a client that
 * pipelines 3,000 commands before reading any reply (the worker must stop reading rather
 * than fail, and answer all), an abrupt client reset, then a stop request drains and ends the
 * loop. Counters and the spool are checked afterwards.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "dataplane/dp_uring.h"
#include "dataplane/dp_worker.h"
#include "tests/dataplane/dp_test.h"

static struct dp_conf conf;
static struct dp_worker *w;
static char dir[256];
static int setup_rc;
static char setup_err[512];
static struct dp_addr bound[2];
static unsigned nbound;

static void *worker(void *arg)
{
	(void)arg;
	setup_rc = dp_worker_setup(w, 2, setup_err, sizeof(setup_err));
	__atomic_store_n(&w->ring_ok, w->ring_ok | 2, __ATOMIC_RELEASE); /* "set up" */
	if (setup_rc == 0)
		w->tp->run(w);
	return NULL;
}

static int dial(const struct dp_addr *a)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM, 0);
	struct timeval tv = {.tv_sec = 5};

	REQUIRE(fd >= 0 && connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0, "connect %s",
	        a->text);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void put(int fd, const char *s)
{
	size_t n = strlen(s);

	REQUIRE(write(fd, s, n) == (ssize_t)n, "write");
}

/* Read until the buffer holds `want` occurrences of "\r\n" with a final reply line. */
static size_t get(int fd, char *buf, size_t cap, const char *until)
{
	size_t len = 0;

	buf[0] = '\0';
	while (!strstr(buf, until) && len + 1 < cap) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return len;
}

static void transaction(const struct dp_addr *a)
{
	char buf[4096];
	int fd = dial(a);

	get(fd, buf, sizeof(buf), "\r\n");
	CHECK(strncmp(buf, "220 uring.test", 14) == 0, "%s: greeting %s", a->text, buf);
	put(fd,
	    "EHLO client.example\r\nMAIL FROM:<u@client.example>\r\nRCPT TO:<r@dest.example>\r\n"
	    "DATA\r\n");
	get(fd, buf, sizeof(buf), "354 ");
	CHECK(strstr(buf, "250 2.1.5") && strstr(buf, "354 "), "%s: pipelined: %s", a->text, buf);
	put(fd, "Subject: uring\r\n\r\nbody\r\n.\r\nQUIT\r\n");
	get(fd, buf, sizeof(buf), "221 ");
	CHECK(strstr(buf, "250 2.0.0 Ok: queued as ") && strstr(buf, "221 "), "%s: end: %s",
	      a->text, buf);
	CHECK(read(fd, buf, sizeof(buf)) == 0, "%s: closed after QUIT", a->text);
	close(fd);
}

/* 3,000 NOOPs written before reading: far beyond the reply buffer and socket buffers. */
static void flood(const struct dp_addr *a)
{
	static char cmds[3000 * 6 + 6], buf[3000 * 16 + 4096];
	int fd = dial(a);
	size_t len;
	unsigned replies = 0;

	get(fd, buf, sizeof(buf), "\r\n");
	for (int i = 0; i < 3000; i++)
		memcpy(cmds + 6 * i, "NOOP\r\n", 6);
	memcpy(cmds + 3000 * 6, "QUIT\r\n", 6);
	REQUIRE(write(fd, cmds, sizeof(cmds)) == (ssize_t)sizeof(cmds), "write flood");
	len = get(fd, buf, sizeof(buf), "221 ");
	for (const char *p = buf; (p = strstr(p, "250 2.0.0 Ok\r\n")) != NULL; p++)
		replies++;
	CHECK(replies == 3000, "3000 replies in order, got %u (%zu bytes)", replies, len);
	CHECK(strstr(buf, "221 "), "QUIT answered");
	close(fd);
}

static void reset(const struct dp_addr *a)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	char buf[512];
	int fd = dial(a);

	get(fd, buf, sizeof(buf), "\r\n");
	put(fd, "EHLO x\r\nMAIL FROM:<u@client.example>\r\nRCPT TO:<r@dest.example>\r\nDATA\r\n");
	get(fd, buf, sizeof(buf), "354 ");
	put(fd, "Subject: cut\r\n\r\npartial");
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd); /* RST in the middle of DATA: the message must be aborted */
}

static int start(void)
{
	char err[512], cfg[512];
	struct dp_flags f;
	char *argv[] = {"test", "--listen", "127.0.0.1:0", "--listen", "[::1]:0"};
	pthread_t th;

	dp_test_tmpdir(dir, sizeof(dir), "uring");
	dp_conf_defaults(&conf);
	snprintf(cfg, sizeof(cfg), "%s/spool", dir);
	REQUIRE(dp_flags_parse(&f, 5, argv, err, sizeof(err)) == 0, "%s", err);
	snprintf(f.spool, sizeof(f.spool), "%s", cfg);
	snprintf(f.hostname, sizeof(f.hostname), "uring.test");
	REQUIRE(dp_conf_finish(&conf, &f, err, sizeof(err)) == 0, "%s", err);
	conf.w[0].cpu = -1;
	w = aligned_alloc(DP_CACHELINE, sizeof(*w));
	REQUIRE(w && dp_worker_init(w, 0, &conf, &dp_uring_ops) == 0, "init");
	for (unsigned i = 0; i < conf.w[0].nlisten; i++) {
		int fd =
		    dp_uring_listen(&conf.w[0].listen[i], 128, &bound[nbound], err, sizeof(err));

		if (fd < 0) {
			printf("note: %s\n", err); /* e.g. no IPv6 on this host */
			continue;
		}
		w->lfd[i] = fd;
		nbound++;
	}
	REQUIRE(nbound >= 1, "no listening socket");
	REQUIRE(pthread_create(&th, NULL, worker, NULL) == 0, "thread");
	while (!(__atomic_load_n(&w->ring_ok, __ATOMIC_ACQUIRE) & 2))
		usleep(1000);
	if (setup_rc) {
		printf("SKIP: %s\n", setup_err);
		exit(77);
	}
	w->thread = th;
	return 0;
}

int main(void)
{
	start();
	for (unsigned i = 0; i < nbound; i++)
		transaction(&bound[i]);
	flood(&bound[0]);
	reset(&bound[0]);
	transaction(&bound[0]);
	REQUIRE(dp_worker_request(w, DP_REQ_STOP, NULL) == 0, "stop");
	pthread_join(w->thread, NULL);
	CHECK(w->done, "loop ended");
	CHECK(w->cnt.conn_accepted == nbound + 3 && w->cnt.conn_closed == nbound + 3,
	      "accepted %llu closed %llu", (unsigned long long)w->cnt.conn_accepted,
	      (unsigned long long)w->cnt.conn_closed);
	CHECK(w->cnt.msg_queued == nbound + 1, "queued %llu",
	      (unsigned long long)w->cnt.msg_queued);
	CHECK(w->cnt.msg_aborted == 1, "aborted %llu", (unsigned long long)w->cnt.msg_aborted);
	CHECK(w->cnt.replies[2] >= 3000, "2xx replies %llu", (unsigned long long)w->cnt.replies[2]);
	spool_writer_close(w->spool);
	w->tp->destroy(w);
	io_uring_queue_exit(&w->ring);
	dp_log_fini(&w->log);
	dp_worker_fini(w);
	free(w);
	dp_conf_free(&conf);
	dp_test_rmtree(dir);
	return dp_test_finish("test_uring");
}
