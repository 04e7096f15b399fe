/* SPDX-License-Identifier: MIT */
/*
 * crc32c.c - CRC32C: the table-driven fallback (slicing-by-8), the tables that let the SSE4.2
 * variant merge parallel streams, and the one-time choice of variant.
 *
 * Public: spool_crc32c() (spool.h); spool_crc32c_sw(), spool_crc32c_hw_ok() (crc32c.h).
 * The tables and the variant pointer are written once, by a constructor that runs before main(),
 * and only read afterwards. Conventions: reflected polynomial 0x82F63B78, initial value and
 * final xor 0xFFFFFFFF; CRC32C("123456789") = 0xE3069283.
 */
#include <string.h>

#include "spool/crc32c.h"
#include "spool/spool.h"

#define POLY   0x82F63B78u
#define STRIPE 4096 /* must match crc32c_sse42.c */

static uint32_t slice[8][256];
static uint32_t shift_tab[2][4][256]; /* [0]: over STRIPE zero bytes, [1]: over 2 * STRIPE */
static uint32_t (*crc_impl)(uint32_t, const void *, size_t) = spool_crc32c_sw;
static int have_hw;

uint32_t spool_crc32c_shift(uint32_t crc, int which);

/* Raw register update (no inversion), one byte at a time: used to build the tables. */
static uint32_t raw_bytes(uint32_t c, const unsigned char *p, size_t n)
{
	while (n-- > 0)
		c = (c >> 8) ^ slice[0][(c ^ *p++) & 0xff];
	return c;
}

static void build_shift(int which, size_t zeros)
{
	static const unsigned char zero[64];
	uint32_t basis[32];

	for (int i = 0; i < 32; i++) {
		uint32_t c = 1u << i;

		for (size_t left = zeros; left > 0; left -= sizeof(zero))
			c = raw_bytes(c, zero, sizeof(zero));
		basis[i] = c;
	}
	for (int k = 0; k < 4; k++) {
		for (int b = 0; b < 256; b++) {
			uint32_t v = 0;

			for (int i = 0; i < 8; i++)
				if (b & (1 << i))
					v ^= basis[8 * k + i];
			shift_tab[which][k][b] = v;
		}
	}
}

__attribute__((constructor)) static void crc32c_init(void)
{
	for (uint32_t b = 0; b < 256; b++) {
		uint32_t c = b;

		for (int i = 0; i < 8; i++)
			c = (c >> 1) ^ (POLY & (0u - (c & 1)));
		slice[0][b] = c;
	}
	for (int k = 1; k < 8; k++)
		for (int b = 0; b < 256; b++)
			slice[k][b] = (slice[k - 1][b] >> 8) ^ slice[0][slice[k - 1][b] & 0xff];
	build_shift(0, STRIPE);
	build_shift(1, 2 * STRIPE);
#if defined(__x86_64__) && defined(SPOOL_HAVE_SSE42)
	__builtin_cpu_init();
	have_hw = __builtin_cpu_supports("sse4.2");
	if (have_hw)
		crc_impl = spool_crc32c_hw;
#endif
}

uint32_t spool_crc32c_shift(uint32_t c, int which)
{
	const uint32_t(*t)[256] = shift_tab[which];

	return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff] ^ t[3][c >> 24];
}

uint32_t spool_crc32c_sw(uint32_t crc, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	uint32_t c = ~crc;

	while (n >= 8) {
		uint32_t lo, hi;

		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		lo = __builtin_bswap32(lo);
		hi = __builtin_bswap32(hi);
#endif
		lo ^= c;
		c = slice[7][lo & 0xff] ^ slice[6][(lo >> 8) & 0xff] ^ slice[5][(lo >> 16) & 0xff] ^
		    slice[4][lo >> 24] ^ slice[3][hi & 0xff] ^ slice[2][(hi >> 8) & 0xff] ^
		    slice[1][(hi >> 16) & 0xff] ^ slice[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	return ~raw_bytes(c, p, n);
}

#if !(defined(__x86_64__) && defined(SPOOL_HAVE_SSE42))
/* No SSE4.2 variant in this build: never selected (spool_crc32c_hw_ok() is 0). */
uint32_t spool_crc32c_hw(uint32_t crc, const void *p, size_t n)
{
	return spool_crc32c_sw(crc, p, n);
}
#endif

int spool_crc32c_hw_ok(void)
{
	return have_hw;
}

uint32_t spool_crc32c(uint32_t crc, const void *p, size_t n)
{
	return crc_impl(crc, p, n);
}
