/* SPDX-License-Identifier: MIT */
/*
 * crc32c.h - CRC32C (Castagnoli, reflected polynomial 0x82F63B78) variants.
 *
 * spool_crc32c() (declared in spool.h) calls the best variant for this CPU, chosen once at
 * start-up: the SSE4.2 crc32 instruction (crc32c_sse42.c, built with -msse4.2) or the
 * table-driven slicing-by-8 fallback (crc32c.c). Both take and return a finished CRC, zlib
 * style, so results chain: f(f(0, a), b) == f(0, a || b). They never read outside [p, p + n).
 */
#ifndef SLUICE_SPOOL_CRC32C_H
#define SLUICE_SPOOL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t spool_crc32c_sw(uint32_t crc, const void *p, size_t n);
/* Only callable when spool_crc32c_hw_ok() says so. */
uint32_t spool_crc32c_hw(uint32_t crc, const void *p, size_t n);
int spool_crc32c_hw_ok(void);

#endif
