/* SPDX-License-Identifier: MIT */
/*
 * dp_bufring.c - set-up and tear-down of a provided-buffer ring (see dp_bufring.h).
 *
 * The ring is `count` struct io_uring_buf entries in an anonymous mapping (page aligned, as
 * IORING_REGISTER_PBUF_RING requires); the buffers are a second mapping of count * size bytes.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "dataplane/dp_bufring.h"

int dp_bufring_init(struct dp_bufring *b, struct io_uring *ring, uint16_t bgid, uint32_t count,
                    uint32_t size)
{
	struct io_uring_buf_reg reg;
	int rc;

	memset(b, 0, sizeof(*b));
	if (count == 0 || count > 32768 || (count & (count - 1)) || size == 0)
		return -EINVAL;
	b->ring_len = (size_t)count * sizeof(struct io_uring_buf);
	b->br = mmap(NULL, b->ring_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->br == MAP_FAILED) {
		b->br = NULL;
		return -ENOMEM;
	}
	b->bufs_len = (size_t)count * size;
	b->base =
	    mmap(NULL, b->bufs_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->base == MAP_FAILED) {
		b->base = NULL;
		dp_bufring_fini(b, ring);
		return -ENOMEM;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)b->br;
	reg.ring_entries = count;
	reg.bgid = bgid;
	rc = io_uring_register_buf_ring(ring, &reg, 0);
	if (rc) {
		dp_bufring_fini(b, ring);
		return rc;
	}
	b->registered = 1;
	b->count = count;
	b->size = size;
	b->mask = (uint32_t)io_uring_buf_ring_mask(count);
	b->bgid = bgid;
	io_uring_buf_ring_init(b->br);
	for (uint32_t i = 0; i < count; i++)
		dp_bufring_put(b, (uint16_t)i);
	dp_bufring_commit(b);
	return 0;
}

void dp_bufring_fini(struct dp_bufring *b, struct io_uring *ring)
{
	if (b->registered)
		io_uring_unregister_buf_ring(ring, b->bgid);
	if (b->br)
		munmap(b->br, b->ring_len);
	if (b->base)
		munmap(b->base, b->bufs_len);
	memset(b, 0, sizeof(*b));
}
