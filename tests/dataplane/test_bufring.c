/* SPDX-License-Identifier: MIT */
/*
 * test_bufring.c - the provided-buffer ring of dataplane/dp_bufring.c with a real io_uring
 * and a socketpair: a multishot receive picks buffers from the ring, each CQE names the buffer
 * holding exactly the bytes written; with every buffer held the receive ends with ENOBUFS;
 * buffers handed back with dp_bufring_put/commit are used again. Also the argument checks.
 */
#include <errno.h>
#include <liburing.h>
#include <sys/socket.h>

#include "dataplane/dp_bufring.h"
#include "tests/dataplane/dp_test.h"

#define COUNT 16
#define SIZE  64

static int next_cqe(struct io_uring *ring, struct io_uring_cqe *out)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = {.tv_sec = 2};
	int rc = io_uring_wait_cqe_timeout(ring, &cqe, &ts);

	if (rc)
		return rc;
	*out = *cqe;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

static void arm(struct io_uring *ring, int fd, uint16_t bgid)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = bgid;
	io_uring_sqe_set_data64(sqe, 42);
	io_uring_submit(ring);
}

int main(void)
{
	struct io_uring ring;
	struct dp_bufring b;
	struct io_uring_cqe cqe;
	int sv[2], held[COUNT], nheld = 0, rc;
	char msg[SIZE];

	if (io_uring_queue_init(64, &ring, 0) != 0) {
		printf("SKIP: io_uring not available\n");
		return 77;
	}
	CHECK(dp_bufring_init(&b, &ring, 3, 100, SIZE) == -EINVAL, "count not a power of two");
	CHECK(dp_bufring_init(&b, &ring, 3, 65536, SIZE) == -EINVAL, "count too large");
	REQUIRE(dp_bufring_init(&b, &ring, 3, COUNT, SIZE) == 0, "init");
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	arm(&ring, sv[0], 3);

	/* One write per CQE: each fills one buffer; keep them all (never put back). */
	for (int i = 0; i < COUNT; i++) {
		int n = snprintf(msg, sizeof(msg), "message %d", i);

		REQUIRE(write(sv[1], msg, (size_t)n) == n, "write");
		REQUIRE(next_cqe(&ring, &cqe) == 0, "cqe %d", i);
		CHECK(cqe.res == n, "cqe %d: res %d want %d", i, cqe.res, n);
		CHECK(cqe.flags & IORING_CQE_F_BUFFER, "cqe %d: no buffer", i);
		CHECK(cqe.flags & IORING_CQE_F_MORE, "cqe %d: multishot ended", i);
		if (cqe.res == n && (cqe.flags & IORING_CQE_F_BUFFER)) {
			uint16_t bid = (uint16_t)(cqe.flags >> IORING_CQE_BUFFER_SHIFT);

			CHECK(bid < COUNT, "bid %u", bid);
			CHECK(memcmp(dp_bufring_buf(&b, bid), msg, (size_t)n) == 0,
			      "buffer %u holds the bytes", bid);
			for (int k = 0; k < nheld; k++)
				CHECK(held[k] != bid, "buffer %u handed out twice", bid);
			held[nheld++] = bid;
		}
	}
	/* Every buffer is held: the next bytes end the multishot receive with ENOBUFS. */
	REQUIRE(write(sv[1], "overflow", 8) == 8, "write");
	REQUIRE(next_cqe(&ring, &cqe) == 0, "ENOBUFS cqe");
	CHECK(cqe.res == -ENOBUFS, "res %d, want -ENOBUFS", cqe.res);
	CHECK(!(cqe.flags & IORING_CQE_F_MORE), "multishot should have ended");

	/* Hand two back, re-arm: the waiting bytes arrive in a returned buffer. */
	dp_bufring_put(&b, (uint16_t)held[3]);
	dp_bufring_put(&b, (uint16_t)held[7]);
	dp_bufring_commit(&b);
	CHECK(b.pending == 0, "commit clears pending");
	arm(&ring, sv[0], 3);
	rc = next_cqe(&ring, &cqe);
	REQUIRE(rc == 0, "cqe after re-arm");
	CHECK(cqe.res == 8, "res %d", cqe.res);
	if (cqe.res == 8) {
		uint16_t bid = (uint16_t)(cqe.flags >> IORING_CQE_BUFFER_SHIFT);

		CHECK(bid == held[3] || bid == held[7], "a returned buffer is reused (%u)", bid);
		CHECK(memcmp(dp_bufring_buf(&b, bid), "overflow", 8) == 0, "bytes");
	}
	/* Peer closes: the receive ends with 0. */
	close(sv[1]);
	REQUIRE(next_cqe(&ring, &cqe) == 0, "eof cqe");
	CHECK(cqe.res == 0 && !(cqe.flags & IORING_CQE_F_MORE), "eof: res %d", cqe.res);
	close(sv[0]);
	dp_bufring_fini(&b, &ring);
	CHECK(b.br == NULL && b.base == NULL, "fini");
	io_uring_queue_exit(&ring);
	return dp_test_finish("test_bufring");
}
