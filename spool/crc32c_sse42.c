/* SPDX-License-Identifier: MIT */
/*
 * crc32c_sse42.c - CRC32C with the SSE4.2 crc32 instruction. Built with -msse4.2; called only
 * after crc32c.c has checked the CPU. Three independent 8-byte streams hide the instruction's
 * 3-cycle latency on large buffers; their partial CRCs are merged with the shift tables that
 * crc32c.c builds (spool_crc32c_shift). Never reads outside [p, p + n).
 */
#include <nmmintrin.h>
#include <string.h>

#include "spool/crc32c.h"

#define STRIPE 4096 /* bytes per stream in one round of the 3-way loop */

uint32_t spool_crc32c_shift(uint32_t crc, int which);

static inline uint64_t load64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint64_t crc_run(uint64_t c, const unsigned char *p, size_t n)
{
	while (n >= 8) {
		c = _mm_crc32_u64(c, load64(p));
		p += 8;
		n -= 8;
	}
	while (n > 0) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		n--;
	}
	return c;
}

uint32_t spool_crc32c_hw(uint32_t crc, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	uint64_t c0 = ~crc;

	while (n >= 3 * STRIPE) {
		uint64_t c1 = 0, c2 = 0;

		for (size_t i = 0; i < STRIPE; i += 8) {
			c0 = _mm_crc32_u64(c0, load64(p + i));
			c1 = _mm_crc32_u64(c1, load64(p + STRIPE + i));
			c2 = _mm_crc32_u64(c2, load64(p + 2 * STRIPE + i));
		}
		/* Shift c0 over 2 stripes and c1 over 1, then fold: CRC is linear. */
		c0 = spool_crc32c_shift((uint32_t)c0, 1) ^ spool_crc32c_shift((uint32_t)c1, 0) ^ c2;
		p += 3 * STRIPE;
		n -= 3 * STRIPE;
	}
	return ~(uint32_t)crc_run(c0, p, n);
}
