/* SPDX-License-Identifier: MIT */
/*
 * dscan_avx2.c - the DATA scanner and line-end finder with 256-bit vectors.
 *
 * Public: smtp_dscan_avx2(), smtp_find_lf_avx2() (dscan.h). Built with -mavx2 -mbmi -mbmi2;
 * chosen by scan_select.c only on CPUs that have all three. The block logic is dscan_simd.h:
 * this file loads 64 bytes as two 32-byte vectors and compares them with CR, LF and '.'; the
 * last partial block uses one 32-byte load ending at p[n - 1], or 16-byte loads when the whole
 * input is shorter than 32 bytes. In the loop of plain runs, the transitions of a block are
 * combined on vectors (each byte against its previous one) so that two movemasks, not six,
 * make its event mask.
 *
 * Errors: none (see dscan.h). Never reads outside [p, p + n); never allocates.
 */
#include <immintrin.h>

#include "parser/dscan.h"
#include "parser/dscan_simd.h"

static inline uint64_t avx2_eq(__m256i v, char c)
{
	return (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(c)));
}

/* Masks of the 32 bytes at q, shifted right by drop, placed at bit k. */
static inline void avx2_masks32(const char *q, unsigned drop, unsigned k, struct dscan_masks *m)
{
	__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)q);

	m->cr |= (avx2_eq(v, '\r') >> drop) << k;
	m->lf |= (avx2_eq(v, '\n') >> drop) << k;
	m->dot |= (avx2_eq(v, '.') >> drop) << k;
}

static inline void avx2_load64(const char *q, struct dscan_masks *m)
{
	__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)q);
	__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(q + 32));

	m->cr = avx2_eq(a, '\r') | avx2_eq(b, '\r') << 32;
	m->lf = avx2_eq(a, '\n') | avx2_eq(b, '\n') << 32;
	m->dot = avx2_eq(a, '.') | avx2_eq(b, '.') << 32;
}

/* Transitions into the 32 bytes v whose previous bytes are u (see dscan_transitions()). */
static inline __m256i avx2_trans32(__m256i u, __m256i v)
{
	__m256i bad = _mm256_xor_si256(_mm256_cmpeq_epi8(u, _mm256_set1_epi8('\r')),
	                               _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\n')));
	__m256i dot = _mm256_and_si256(_mm256_cmpeq_epi8(u, _mm256_set1_epi8('\n')),
	                               _mm256_cmpeq_epi8(v, _mm256_set1_epi8('.')));

	return _mm256_or_si256(bad, dot);
}

/*
 * dscan_transitions() of the 64 bytes at q, computed on vectors: the previous byte of each
 * comes from a load at q + 31 for the upper half and from the lower half shifted by one byte
 * (bit 0, whose previous byte is not loaded, is meaningless anyway).
 */
static inline uint64_t avx2_trans64(const char *q, uint64_t *lf)
{
	__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)q);
	__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(q + 32));
	__m256i b1 = _mm256_loadu_si256((const __m256i *)(const void *)(q + 31));
	__m256i a1 = _mm256_alignr_epi8(a, _mm256_permute2x128_si256(a, a, 0x08), 15);
	uint64_t ev = (uint32_t)_mm256_movemask_epi8(avx2_trans32(a1, a)) |
	              (uint64_t)(uint32_t)_mm256_movemask_epi8(avx2_trans32(b1, b)) << 32;

	*lf = avx2_eq(a, '\n') | avx2_eq(b, '\n') << 32;
	return ev;
}

static inline unsigned avx2_load(const char *p, size_t i, size_t n, struct dscan_masks *m)
{
	unsigned rem;

	if (n - i >= 64) {
		avx2_load64(p + i, m);
		return 64;
	}
	if (n < 32)
		return n < 16 ? 0 : dscan_tail16(p, i, n, 0, m);
	rem = (unsigned)(n - i);
	if (rem >= 32) {
		avx2_masks32(p + i, 0, 0, m);
		if (rem > 32)
			avx2_masks32(p + n - 32, 64 - rem, 32, m);
	} else {
		avx2_masks32(p + n - 32, 32 - rem, 0, m);
	}
	return rem;
}

size_t smtp_dscan_avx2(struct smtp_dscan *st, const char *p, size_t n, struct smtp_span *out,
                       unsigned cap, unsigned *nout)
{
	return dscan_simd_run(st, p, n, out, cap, nout, avx2_load64, avx2_load, avx2_trans64);
}

size_t smtp_find_lf_avx2(const char *p, size_t n)
{
	__m256i lf = _mm256_set1_epi8('\n');
	size_t i = 0;
	uint32_t m;

	if (n < 32) {
		if (n >= 16)
			return dscan_find_lf16(p, 0, n);
		for (; i < n; i++)
			if (p[i] == '\n')
				break;
		return i;
	}
	for (; n - i >= 32; i += 32) {
		m = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(
		    _mm256_loadu_si256((const __m256i *)(const void *)(p + i)), lf));
		if (m != 0)
			return i + _tzcnt_u32(m);
	}
	if (i == n)
		return n;
	m = (uint32_t)_mm256_movemask_epi8(
	    _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(const void *)(p + n - 32)), lf));
	m >>= 32 - (n - i);
	return m ? i + _tzcnt_u32(m) : n;
}
