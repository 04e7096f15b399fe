/* SPDX-License-Identifier: MIT */
/*
 * dscan_simd.h - the vector DATA scanner's block logic, shared by the x86 variants (private).
 *
 * A variant (dscan_sse42.c, dscan_avx2.c) supplies a loader that turns up to 64 input bytes
 * into three bit masks (CR, LF, '.'); dscan_simd_run() does the rest, the same way for each:
 *
 *   - Inside a line (state BOL or MID), one 64-byte block at a time: an LF right after a CR is
 *     a real line end; a line start is the byte after one. Line lengths come from the positions
 *     of the real LFs; nothing is emitted, the open span just grows. dscan_fast() runs whole
 *     blocks with its state in registers while they hold no line-start dot and (when
 *     normalising) no bare CR/LF; without normalisation bare CR/LF only set flags and lengthen
 *     the line, so they stay on this path. It peeks at the byte after a block ending in CR.
 *   - dscan_block() handles any other block, and the last partial one, from its masks up to its
 *     first "special" byte: a dot at a line start, a CR in the block's last byte (its LF would
 *     be in the next block), and, when normalising, any bare CR or bare LF.
 *   - From the special byte on, dscan_step() (the reference state machine) runs until the state
 *     is BOL or MID again; then blocks resume at that (unaligned) position.
 *   - The last, partial block is built from in-bounds loads only: whole vectors while they fit,
 *     then one vector ending exactly at p[n - 1], shifted. Inputs shorter than 16 bytes go
 *     through dscan_step() alone.
 *
 * Public (to the variants): struct dscan_masks, dscan_masks16(), dscan_tail16(),
 * dscan_simd_run(), dscan_find_lf16(). Never reads outside [p, p + n); never allocates.
 */
#ifndef SLUICE_PARSER_DSCAN_SIMD_H
#define SLUICE_PARSER_DSCAN_SIMD_H

#include <emmintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "parser/dscan.h"
#include "parser/dscan_step.h"

/* Bit k describes byte k of the block; bits at and above the block width are zero. */
struct dscan_masks {
	uint64_t cr, lf, dot;
};

/* Fill m from one block at p + i of min(64, n - i) bytes; returns that width, 0 if unable. */
typedef unsigned (*dscan_load_fn)(const char *p, size_t i, size_t n, struct dscan_masks *m);

static inline uint64_t dscan_eq16(__m128i v, char c)
{
	return (uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c)));
}

/* Masks of the 16 bytes at q, shifted right by drop (dropping bytes already seen), at bit k. */
static inline void dscan_masks16(const char *q, unsigned drop, unsigned k, struct dscan_masks *m)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);

	m->cr |= (dscan_eq16(v, '\r') >> drop) << k;
	m->lf |= (dscan_eq16(v, '\n') >> drop) << k;
	m->dot |= (dscan_eq16(v, '.') >> drop) << k;
}

/* The rem (< 64) bytes at p + i, from 16-byte loads; needs n >= 16. */
static inline unsigned dscan_tail16(const char *p, size_t i, size_t n, unsigned k,
                                    struct dscan_masks *m)
{
	unsigned rem = (unsigned)(n - i);

	for (; rem - k >= 16; k += 16)
		dscan_masks16(p + i + k, 0, k, m);
	if (k < rem)
		dscan_masks16(p + n - 16, 16 - (rem - k), k, m);
	return rem;
}

static inline unsigned dscan_ctz(uint64_t x)
{
	return (unsigned)__builtin_ctzll(x);
}

/* Real line ends (LF bits) in a block: check the lines that begin and end inside it. */
static inline void dscan_inner_lines(struct smtp_dscan *st, uint64_t real)
{
	unsigned prev = dscan_ctz(real);

	for (real &= real - 1; real; real &= real - 1) {
		unsigned k = dscan_ctz(real);

		if (k - prev - 2 > st->max_line) /* octets between the LF before and this CR */
			st->flags |= DSCAN_LONG_LINE;
		prev = k;
	}
}

/*
 * Handle bytes [0, stop) of a block of width w (1..64) from its masks; state is BOL or MID.
 * Returns stop: w, or the offset of the first byte that needs dscan_step().
 */
static inline unsigned dscan_block(struct smtp_dscan *st, const struct dscan_masks *m, unsigned w)
{
	uint64_t last = 1ull << (w - 1), in = last | (last - 1);
	uint64_t real = m->lf & (m->cr << 1);
	uint64_t bol = ((real << 1) | (st->state == DS_BOL)) & in;
	uint64_t bare_cr = m->cr & ~(m->lf >> 1);
	uint64_t bare_lf = m->lf & ~(m->cr << 1);
	uint64_t special = (m->dot & bol) | (m->cr & last);
	uint64_t pre;
	unsigned stop, lastlf;

	if (st->normalize)
		special |= (bare_cr | bare_lf) & in;
	pre = ((special & (0 - special)) - 1) & in; /* bits below the first special one */
	stop = special ? dscan_ctz(special) : w;
	if (bare_cr & pre)
		st->flags |= DSCAN_BARE_CR;
	if (bare_lf & pre)
		st->flags |= DSCAN_BARE_LF;
	real &= pre;
	if (real == 0) {
		if (stop != 0) {
			dscan_count(st, stop);
			st->state = DS_MID;
		}
		return stop;
	}
	/* the first line ends at the CR before the first real LF (never at bit 0) */
	dscan_count(st, dscan_ctz(real) - 1);
	if (st->max_line != 0 && st->max_line < 62)
		dscan_inner_lines(st, real);
	lastlf = 63 - (unsigned)__builtin_clzll(real);
	st->line_len = 0;
	dscan_count(st, stop - lastlf - 1);
	st->state = stop - lastlf - 1 ? DS_MID : DS_BOL;
	return stop;
}

/* Fill m from the 64 bytes at q (all in bounds). */
typedef void (*dscan_load64_fn)(const char *q, struct dscan_masks *m);

/*
 * The common case, kept in registers: whole 64-byte blocks inside lines whose only CR/LF are
 * real CRLFs (or, without normalisation, bare ones, which only set flags), with no dot at a line
 * start. A CR in a block's last byte is decided by peeking at the next byte (so the loop runs
 * while more than 64 bytes are left); if it starts a CRLF, its LF is bit 0 of the next block.
 * Stops at the first block that is not like that; returns the new position. State is BOL or MID
 * on entry; on exit also CR, when the loop stopped between the CR and the LF of a CRLF.
 * Line limits below 62 need the per-line check of dscan_block(), so they skip this loop.
 */
static inline __attribute__((always_inline)) size_t
dscan_fast(struct smtp_dscan *st, const char *p, size_t i, size_t n, dscan_load64_fn load64)
{
	uint64_t max = st->max_line, line = st->line_len, bol = st->state == DS_BOL;
	uint64_t nmask = st->normalize ? ~0ull : 0, carry = 0;
	unsigned flags = 0;
	size_t start = i;

	if (max == 0 || max == UINT32_MAX) /* a saturated count never exceeds UINT32_MAX */
		max = UINT64_MAX;
	if (max < 62)
		return i;
	while (n - i > 64) {
		struct dscan_masks m;
		uint64_t real, next, paired, odd, dots, tz;

		load64(p + i, &m);
		real = m.lf & (m.cr << 1 | carry);         /* LFs that end a CRLF */
		next = (m.cr >> 63) & (p[i + 64] == '\n'); /* bit 63 is a CR, and an LF follows */
		paired = real >> 1 | next << 63;           /* CRs that begin a CRLF */
		odd = (m.cr ^ paired) | (m.lf ^ real);     /* bare CRs and LFs */
		dots = m.dot & (real << 1 | bol);          /* dots at line starts */
		if (__builtin_expect((dots | odd) != 0, 0)) {
			if (dots | (odd & nmask))
				break;
			flags |= (m.cr & ~paired ? DSCAN_BARE_CR : 0) |
			         (m.lf & ~real ? DSCAN_BARE_LF : 0);
		}
		/*
		 * Branch-free, as line ends fall irregularly across blocks. The open line ends
		 * at the CR before the first real LF (bit -1, the previous block's CR, when that
		 * LF is bit 0: that CR was counted, hence the wrap to line - 1), or goes on
		 * through the block, less a CR in bit 63 that begins a CRLF. What follows the
		 * last real LF is the start of the next line.
		 */
		tz = real ? (uint64_t)__builtin_ctzll(real) - 1 : 64 - next;
		if (line + tz > max)
			flags |= DSCAN_LONG_LINE;
		line = real ? (uint64_t)__builtin_clzll(real | 1) : line + 64;
		bol = real >> 63;
		carry = next;
		i += 64;
	}
	if (i != start) {
		/* a CR taken as the start of a CRLF whose LF is p[i] is not counted until decided
		 */
		line -= carry;
		st->line_len = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
		st->state = carry ? DS_CR : bol ? DS_BOL : DS_MID;
		st->flags |= (uint16_t)flags;
	}
	return i;
}

/*
 * The whole scan, with the variant's loaders. always_inline so that they are direct calls.
 * The loop is the per-call state machine of dscan.h: blocks while inside a line, steps else.
 */
static inline __attribute__((always_inline)) size_t
dscan_simd_run(struct smtp_dscan *st, const char *p, size_t n, struct smtp_span *out, unsigned cap,
               unsigned *nout, dscan_load64_fn load64, dscan_load_fn load)
{
	struct dscan_run r;
	size_t i = 0;

	if (dscan_begin(&r, st, p, out, cap)) {
		*nout = 0;
		return 0;
	}
	while (i < n) {
		if (st->state == DS_MID || st->state == DS_BOL) {
			struct dscan_masks m = {0, 0, 0};
			unsigned w, stop;

			i = dscan_fast(st, p, i, n, load64);
			if (i == n)
				break;
			w = st->state == DS_CR ? 0 : load(p, i, n, &m);
			if (w != 0) {
				stop = dscan_block(st, &m, w);
				i += stop;
				if (stop == w)
					continue;
			}
		}
		do {
			if (dscan_step(&r, &i))
				goto out;
		} while (i < n && st->state != DS_MID && st->state != DS_BOL);
	}
out:
	return dscan_finish(&r, i, nout);
}

/* First LF in p[i .. n), given n >= 16, using 16-byte loads; n if none. */
static inline size_t dscan_find_lf16(const char *p, size_t i, size_t n)
{
	__m128i lf = _mm_set1_epi8('\n');
	unsigned m;

	for (; n - i >= 16; i += 16) {
		m = (unsigned)_mm_movemask_epi8(
		    _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + i)), lf));
		if (m != 0)
			return i + (unsigned)__builtin_ctz(m);
	}
	if (i == n)
		return n;
	m = (unsigned)_mm_movemask_epi8(
	    _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + n - 16)), lf));
	m >>= 16 - (n - i);
	return m ? i + (unsigned)__builtin_ctz(m) : n;
}

#endif
