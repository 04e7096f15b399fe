/* SPDX-License-Identifier: MIT */
/*
 * guard.h - test helper: place bytes so that they end exactly at an inaccessible page.
 *
 * guard_copy(g, p, n) copies n bytes so that the byte after the last one is the first byte of
 * a PROT_NONE page: a parser that reads past its input faults at once, with or without ASan.
 * One struct guard_buf holds one mapping; guard_free() unmaps it. Tests only.
 */
#ifndef SLUICE_TESTS_GUARD_H
#define SLUICE_TESTS_GUARD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guard_buf {
	char *map;
	size_t map_len;
	size_t data_pages;
};

static inline int guard_init(struct guard_buf *g, size_t max_len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	g->data_pages = (max_len + page - 1) / page + 1;
	g->map_len = (g->data_pages + 1) * page;
	g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->map == MAP_FAILED)
		return -1;
	if (mprotect(g->map + g->data_pages * page, page, PROT_NONE) != 0)
		return -1;
	return 0;
}

/* Returns a pointer to n bytes equal to p[0..n) that end right before the guard page. */
static inline char *guard_copy(struct guard_buf *g, const void *p, size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	char *end = g->map + g->data_pages * page;

	if (n > g->data_pages * page) {
		fprintf(stderr, "guard_copy: %zu bytes do not fit\n", n);
		abort();
	}
	memcpy(end - n, p, n);
	return end - n;
}

static inline void guard_free(struct guard_buf *g)
{
	munmap(g->map, g->map_len);
}

#endif
