/* SPDX-License-Identifier: MIT */
/*
 * dp_bufring.h - a ring of provided receive buffers for io_uring multishot recv.
 *
 * liburing 2.3 has io_uring_register_buf_ring() but not io_uring_setup_buf_ring(): the ring
 * memory is mapped here (page-aligned, as the kernel requires), registered under a buffer
 * group id, and filled with `count` buffers of `size` bytes carved from one more mapping.
 *
 * Functions: dp_bufring_init, dp_bufring_fini, dp_bufring_buf, dp_bufring_put,
 * dp_bufring_commit. A buffer the kernel filled (its id is in the CQE flags) belongs to the
 * application until dp_bufring_put() hands it back; dp_bufring_commit() publishes every put
 * since the last commit with one store (once per batch of completions).
 * Errors: dp_bufring_init returns 0 or -errno (-EINVAL: count not a power of two <= 32768).
 */
#ifndef SLUICE_DATAPLANE_DP_BUFRING_H
#define SLUICE_DATAPLANE_DP_BUFRING_H

#include <liburing.h>
#include <stddef.h>
#include <stdint.h>

struct dp_bufring {
	struct io_uring_buf_ring *br;
	char *base;
	size_t ring_len, bufs_len;
	uint32_t count, size, mask;
	uint16_t bgid;
	uint16_t registered;
	uint32_t pending; /* put since the last commit */
};

int dp_bufring_init(struct dp_bufring *b, struct io_uring *ring, uint16_t bgid, uint32_t count,
                    uint32_t size);
void dp_bufring_fini(struct dp_bufring *b, struct io_uring *ring);

static inline char *dp_bufring_buf(const struct dp_bufring *b, uint16_t bid)
{
	return b->base + (size_t)bid * b->size;
}

static inline void dp_bufring_put(struct dp_bufring *b, uint16_t bid)
{
	io_uring_buf_ring_add(b->br, dp_bufring_buf(b, bid), b->size, bid, (int)b->mask,
	                      (int)b->pending);
	b->pending++;
}

static inline void dp_bufring_commit(struct dp_bufring *b)
{
	if (b->pending) {
		io_uring_buf_ring_advance(b->br, (int)b->pending);
		b->pending = 0;
	}
}

#endif
