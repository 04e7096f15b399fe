/* SPDX-License-Identifier: MIT */
/*
 * dscan_sse42.c - the DATA scanner and line-end finder with 128-bit vectors.
 *
 * Public: smtp_dscan_sse42(), smtp_find_lf_sse42() (dscan.h). Built with -msse4.2; chosen by
 * scan_select.c only on CPUs that have it. The block logic is dscan_simd.h: this file only
 * loads 64 bytes as four 16-byte vectors and compares them with CR, LF and '.'. (The SSE4.2
 * string instructions are slower than compare + movemask for three single-byte needles, so
 * this variant uses SSE2 operations; it is named for the CPU level it is built for.)
 *
 * Errors: none (see dscan.h). Never reads outside [p, p + n); never allocates.
 */
#include <emmintrin.h>

#include "parser/dscan.h"
#include "parser/dscan_simd.h"

static inline void sse42_load64(const char *q, struct dscan_masks *m)
{
	__m128i a = _mm_loadu_si128((const __m128i *)(const void *)q);
	__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(q + 16));
	__m128i c = _mm_loadu_si128((const __m128i *)(const void *)(q + 32));
	__m128i d = _mm_loadu_si128((const __m128i *)(const void *)(q + 48));

	m->cr = dscan_eq16(a, '\r') | dscan_eq16(b, '\r') << 16 | dscan_eq16(c, '\r') << 32 |
	        dscan_eq16(d, '\r') << 48;
	m->lf = dscan_eq16(a, '\n') | dscan_eq16(b, '\n') << 16 | dscan_eq16(c, '\n') << 32 |
	        dscan_eq16(d, '\n') << 48;
	m->dot = dscan_eq16(a, '.') | dscan_eq16(b, '.') << 16 | dscan_eq16(c, '.') << 32 |
	         dscan_eq16(d, '.') << 48;
}

static inline uint64_t sse42_trans64(const char *q, uint64_t *lf)
{
	struct dscan_masks m;

	sse42_load64(q, &m);
	*lf = m.lf;
	return dscan_transitions(&m);
}

static inline unsigned sse42_load(const char *p, size_t i, size_t n, struct dscan_masks *m)
{
	if (n - i >= 64) {
		sse42_load64(p + i, m);
		return 64;
	}
	if (n < 16)
		return 0;
	return dscan_tail16(p, i, n, 0, m);
}

size_t smtp_dscan_sse42(struct smtp_dscan *st, const char *p, size_t n, struct smtp_span *out,
                        unsigned cap, unsigned *nout)
{
	return dscan_simd_run(st, p, n, out, cap, nout, sse42_load64, sse42_load, sse42_trans64);
}

size_t smtp_find_lf_sse42(const char *p, size_t n)
{
	size_t i;

	if (n >= 16)
		return dscan_find_lf16(p, 0, n);
	for (i = 0; i < n; i++)
		if (p[i] == '\n')
			break;
	return i;
}
