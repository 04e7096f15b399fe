/* SPDX-License-Identifier: MIT */
/*
 * dscan_avx512.c - the DATA scanner and line-end finder with 512-bit vectors (AVX-512BW).
 *
 * Public: smtp_dscan_avx512(), smtp_find_lf_avx512() (dscan.h). Built with -mavx512f
 * -mavx512bw -mbmi -mbmi2 (SMTP_HAVE_AVX512 defined); chosen by scan_select.c only on CPUs that
 * have all four. The block logic is dscan_simd.h: this file loads a 64-byte block as one vector
 * and compares it with CR, LF and '.' straight into 64-bit masks; in the loop of plain runs the
 * dots after an LF come from a compare masked with the LF mask. A block that would cross the
 * end of the input (the last partial one, or an input shorter than 64 bytes) is read with a
 * masked load that covers only the bytes in [p, p + n): the others are not accessed (their
 * faults are suppressed) and read as zero, which matches none of the three. The line-end
 * finder looks at 16, then 32 bytes first (command lines are short), then whole vectors.
 *
 * When the compiler cannot build AVX-512 code (meson.build checks the flags), this file is
 * compiled without them: smtp_scan_avx512_built is 0, smtp_scan_impls() never lists the
 * variant, and the two functions only forward to the scalar ones so that the program links.
 *
 * Errors: none (see dscan.h). Never reads outside [p, p + n); never allocates.
 */
#include "parser/dscan.h"

#if defined(SMTP_HAVE_AVX512)

#include <immintrin.h>

#include "parser/dscan_simd.h"

const int smtp_scan_avx512_built = 1;

static inline void avx512_masks(__m512i v, struct dscan_masks *m)
{
	uint64_t cr = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\r'));
	uint64_t lf = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\n'));
	uint64_t dot = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('.'));

	/*
	 * Keep the masks in general registers: otherwise GCC folds the mask arithmetic of
	 * dscan_simd.h back into masked compares, moving masks k -> GPR -> k (15% slower).
	 */
	__asm__("" : "+r"(cr), "+r"(lf), "+r"(dot));
	m->cr = cr;
	m->lf = lf;
	m->dot = dot;
}

/* The bytes q[0 .. len), len <= 64, others zero; q[len ..] is not accessed. */
static inline __m512i avx512_load_part(const char *q, size_t len)
{
	return _mm512_maskz_loadu_epi8(_bzhi_u64(~0ull, (unsigned)len), q);
}

/*
 * dscan_transitions() of the 64 bytes at q: the dots after an LF come from a compare masked
 * with the LF mask shifted by one, so only (CR << 1) ^ LF is left to the integer unit.
 */
static inline uint64_t avx512_trans64(const char *q, uint64_t *lfp)
{
	__m512i v = _mm512_loadu_si512((const void *)q);
	__mmask64 kcr = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\r'));
	__mmask64 klf = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\n'));
	__mmask64 kdot =
	    _mm512_mask_cmpeq_epi8_mask(_kshiftli_mask64(klf, 1), v, _mm512_set1_epi8('.'));
	uint64_t cr = kcr, lf = klf, dots = kdot;

	__asm__("" : "+r"(cr), "+r"(lf), "+r"(dots));
	*lfp = lf;
	return (cr << 1 ^ lf) | dots;
}

static inline void avx512_load64(const char *q, struct dscan_masks *m)
{
	avx512_masks(_mm512_loadu_si512((const void *)q), m);
}

static inline unsigned avx512_load(const char *p, size_t i, size_t n, struct dscan_masks *m)
{
	size_t rem = n - i;

	if (rem >= 64) {
		avx512_load64(p + i, m);
		return 64;
	}
	avx512_masks(avx512_load_part(p + i, rem), m);
	return (unsigned)rem;
}

size_t smtp_dscan_avx512(struct smtp_dscan *st, const char *p, size_t n, struct smtp_span *out,
                         unsigned cap, unsigned *nout)
{
	return dscan_simd_run(st, p, n, out, cap, nout, avx512_load64, avx512_load, avx512_trans64);
}

size_t smtp_find_lf_avx512(const char *p, size_t n)
{
	const __m512i lf = _mm512_set1_epi8('\n');
	size_t i = 0;
	uint64_t m;

	/* command lines are short: the first 16, then 32 bytes, before whole vectors */
	if (n >= 48) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + 16));
		uint32_t k = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(a, _mm_set1_epi8('\n')));

		if (k != 0)
			return _tzcnt_u32(k);
		k = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, _mm256_set1_epi8('\n')));
		if (k != 0)
			return 16 + _tzcnt_u32(k);
		i = 48;
	}
	for (; n - i >= 64; i += 64) {
		m = _mm512_cmpeq_epi8_mask(_mm512_loadu_si512((const void *)(p + i)), lf);
		if (m != 0)
			return i + _tzcnt_u64(m);
	}
	if (i == n)
		return n;
	m = _mm512_cmpeq_epi8_mask(avx512_load_part(p + i, n - i), lf);
	return m ? i + _tzcnt_u64(m) : n;
}

#else /* the compiler cannot build AVX-512 code: never listed, see above */

const int smtp_scan_avx512_built = 0;

size_t smtp_dscan_avx512(struct smtp_dscan *st, const char *p, size_t n, struct smtp_span *out,
                         unsigned cap, unsigned *nout)
{
	return smtp_dscan_scalar(st, p, n, out, cap, nout);
}

size_t smtp_find_lf_avx512(const char *p, size_t n)
{
	return smtp_find_lf_scalar(p, n);
}

#endif
