/* SPDX-License-Identifier: MIT */
/*
 * test_log.c - the io_uring-written, double-buffered log of dataplane/dp_log.c: the stderr
 * line format through a pipe, level filtering, lines written while the other half is in
 * flight, dropping (and counting) when both halves are busy, and syslog datagrams (one per
 * line, facility mail) through a datagram socketpair.
 */
#include <fcntl.h>
#include <liburing.h>
#include <sys/socket.h>

#include "dataplane/dp_config.h"
#include "dataplane/dp_log.h"
#include "tests/dataplane/dp_test.h"

static void reap(struct io_uring *ring, struct dp_log *l)
{
	while (l->inflight) {
		struct io_uring_cqe *cqe;

		io_uring_submit(ring);
		REQUIRE(io_uring_wait_cqe(ring, &cqe) == 0, "wait");
		dp_log_cqe(l, ring, cqe);
		io_uring_cqe_seen(ring, cqe);
	}
}

static void test_stderr(struct io_uring *ring)
{
	struct dp_log l;
	int p[2];
	char buf[8192];
	ssize_t n;
	const uint64_t t = 1700000000123456ull; /* 2023-11-14T22:13:20.123Z */

	REQUIRE(pipe(p) == 0, "pipe");
	/* room for a whole half, so that writes complete without a reader */
	REQUIRE(fcntl(p[1], F_SETPIPE_SZ, 2 * DP_LOG_BUF) >= 2 * DP_LOG_BUF, "pipe size");
	REQUIRE(dp_log_init(&l, 3, p[1], 0, DP_LOG_INFO) == 0, "init");
	dp_log_printf(&l, t, DP_LOG_INFO, "hello %d", 1);
	dp_log_printf(&l, t, DP_LOG_DEBUG, "not shown");
	dp_log_printf(&l, t, DP_LOG_ERROR, "bad %s", "thing");
	CHECK(dp_log_flush(&l, ring) == 1, "one write for the half");
	dp_log_printf(&l, t, DP_LOG_WARNING, "while in flight");
	CHECK(dp_log_flush(&l, ring) == 0, "nothing while the other half is in flight");
	reap(ring, &l);
	CHECK(dp_log_flush(&l, ring) == 1, "the second half goes out after");
	reap(ring, &l);
	n = read(p[0], buf, sizeof(buf) - 1);
	REQUIRE(n > 0, "read");
	buf[n] = '\0';
	CHECK(strcmp(buf, "2023-11-14T22:13:20.123Z sluiced[w3] info hello 1\n"
	                  "2023-11-14T22:13:20.123Z sluiced[w3] error bad thing\n"
	                  "2023-11-14T22:13:20.123Z sluiced[w3] warning while in flight\n") == 0,
	      "got:\n%s", buf);
	CHECK(dp_log_idle(&l), "idle");

	/* Both halves busy: lines are dropped and counted, never waited for. */
	for (int i = 0; i < (int)(DP_LOG_BUF / 40); i++)
		dp_log_printf(&l, t, DP_LOG_INFO, "filler line %04d with some more text to fill",
		              i);
	CHECK(l.dropped > 0, "a full half drops lines (%llu)", (unsigned long long)l.dropped);
	dp_log_flush(&l, ring);
	reap(ring, &l);
	dp_log_fini(&l);
	close(p[0]);
	close(p[1]);
}

static void test_syslog(struct io_uring *ring)
{
	struct dp_log l;
	int sv[2];
	char buf[512], want[128];
	ssize_t n;

	REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0, "socketpair");
	REQUIRE(dp_log_init(&l, 1, sv[0], 1, DP_LOG_INFO) == 0, "init");
	dp_log_printf(&l, 0, DP_LOG_INFO, "first");
	dp_log_printf(&l, 0, DP_LOG_WARNING, "second");
	CHECK(dp_log_flush(&l, ring) == 2, "one send per line");
	reap(ring, &l);
	n = recv(sv[1], buf, sizeof(buf) - 1, MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = '\0';
	snprintf(want, sizeof(want), "<22>sluiced[%d]: w1 first", (int)getpid());
	CHECK(strcmp(buf, want) == 0, "got '%s' want '%s'", buf, want);
	n = recv(sv[1], buf, sizeof(buf) - 1, MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = '\0';
	snprintf(want, sizeof(want), "<20>sluiced[%d]: w1 second", (int)getpid());
	CHECK(strcmp(buf, want) == 0, "got '%s' want '%s'", buf, want);
	dp_log_fini(&l);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	struct io_uring ring;

	if (io_uring_queue_init(64, &ring, 0) != 0) {
		printf("SKIP: io_uring not available\n");
		return 77;
	}
	test_stderr(&ring);
	test_syslog(&ring);
	io_uring_queue_exit(&ring);
	return dp_test_finish("test_log");
}
