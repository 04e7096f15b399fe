/* SPDX-License-Identifier: MIT */
/*
 * dscan_simd.h - the vector DATA scanner's block logic, shared by the x86 variants (private).
 *
 * A variant (dscan_sse42.c, dscan_avx2.c, dscan_avx512.c) supplies loaders that turn up to 64
 * input bytes into three bit masks (CR, LF, '.'); dscan_simd_run() does the rest, the same way
 * for each. Inside a line (state BOL or MID), dscan_fast() takes whole blocks with its state in
 * registers; nothing is emitted but the spans that stuffing dots cut, the open span just grows:
 *
 *   - Runs of 252 bytes (dscan_fast_runs()): four 64-byte blocks that overlap by one byte, the
 *     first starting at the byte before the run, so that every transition between two bytes
 *     lies inside one block and nothing is carried between runs. A run is plain when each CR
 *     is followed by LF, each LF preceded by CR, and no dot follows an LF: with crs the bits
 *     after a CR, (crs ^ lf) | (lf << 1 & dot) is zero. Plain runs only move a lower bound of
 *     the open line's start (a branch-free select); line lengths are looked at only when that
 *     bound allows a line longer than max_line. A run that is not plain goes to a cold path
 *     (dscan_run_events()) that removes stuffing dots and takes a terminator; the last,
 *     partial run is taken as the run ending at n (when the input ends with CRLF "." CRLF,
 *     as a whole message does, checked as plain but for that dot: dscan_run_last()).
 *   - Single blocks with carried CR/LF bits (dscan_fast_block()) where runs cannot start (the
 *     input's first byte is a CR, LF or dot, whose transition from the byte before depends on
 *     the state), where they stop, and for inputs shorter than a run; without normalisation
 *     bare CR/LF only set flags there.
 *   - dscan_block() handles any other block, and the last partial one, from its masks up to its
 *     first "special" byte: a dot at a line start, a CR in the block's last byte (its LF would
 *     be in the next block), and, when normalising, any bare CR or bare LF.
 *   - From the special byte on, dscan_step() (the reference state machine) runs until the state
 *     is BOL or MID again; then blocks resume at that (unaligned) position.
 *   - The last, partial block is built from in-bounds loads only (the variant's loader: whole
 *     vectors while they fit, then one vector ending exactly at p[n - 1], shifted, or a masked
 *     load). Inputs shorter than the loader's smallest vector go through dscan_step() alone.
 *
 * Public (to the variants): struct dscan_masks, the loader types dscan_load_fn,
 * dscan_load64_fn and dscan_trans64_fn, dscan_transitions(), dscan_masks16(), dscan_tail16(),
 * dscan_simd_run(), dscan_find_lf16(). Never reads outside [p, p + n); never allocates.
 */
#ifndef SLUICE_PARSER_DSCAN_SIMD_H
#define SLUICE_PARSER_DSCAN_SIMD_H

#include <emmintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
 * The fast loop's state between blocks; always_inline helpers keep it in registers. Offsets are
 * signed: the open line may have begun in an earlier call (ls < 0).
 */
struct dscan_fast {
	int64_t ls;     /* offset in p of the first octet of the open line */
	int64_t lim;    /* max_line, or a length no line reaches */
	uint64_t cc;    /* 1: the byte before the block is a CR (its LF may be bit 0) */
	uint64_t lc;    /* 1: the block begins a line (after a real CRLF, or state BOL) */
	unsigned flags; /* enum dscan_flag, merged into st at the end */
};

/*
 * The open line may pass the limit in the block at i (lf: its real LFs): it ends at the CR
 * before the first real LF, or runs at least to bit 62 (bit 63 may be the CR of a CRLF; it is
 * counted by the next block or by the exit of dscan_fast()).
 */
static inline void dscan_fast_long(struct dscan_fast *f, size_t i, uint64_t lf)
{
	int64_t end = (int64_t)i + (lf ? (int64_t)dscan_ctz(lf) : 64) - 1;

	if (end - f->ls > f->lim)
		f->flags |= DSCAN_LONG_LINE;
}

/*
 * Remove the stuffing dots at line starts (bits of dots) in the block at i, emitting the open
 * span up to each. Only the plain case: no dot followed by a CR (a terminator, or a CR still to
 * be decided), none in bit 63 (its next byte is in the next block), and room for every span
 * with one to spare, so that the array never fills here. Returns nonzero, having changed
 * nothing, when the block must go to dscan_block()/dscan_step() instead.
 */
static inline int dscan_fast_dots(struct dscan_run *r, size_t i, uint64_t dots, uint64_t cr)
{
	unsigned k = 0;
	uint64_t t;

	if (dots & (cr >> 1 | 1ull << 63))
		return 1;
	for (t = dots; t; t &= t - 1)
		k++;
	if (r->cap - r->nout <= k)
		return 1;
	for (t = dots; t; t &= t - 1) {
		size_t d = i + dscan_ctz(t);

		dscan_put(r, r->p + r->s, d - r->s);
		r->s = d + 1;
	}
	return 0;
}

/*
 * One 64-byte block at i with masks m. A CR must be followed by an LF and an LF preceded by a
 * CR: with crs the bits that follow a CR, crs ^ lf is zero exactly then (a CR in bit 63 is
 * checked by the next block through cc). Without normalisation bare CR/LF only set flags; then
 * only the LFs that end a CRLF count. A dot at a line start is removed here when it is plain.
 * Returns 0 when the block was handled, nonzero to stop before it.
 */
static inline __attribute__((always_inline)) int
dscan_fast_block(struct dscan_run *r, struct dscan_fast *f, size_t i, const struct dscan_masks *m)
{
	uint64_t crs = m->cr << 1 | f->cc, lf = m->lf, bad = crs ^ lf;
	uint64_t dots = m->dot & (lf << 1 | f->lc);
	int64_t last;

	if (__builtin_expect((bad | dots) != 0, 0)) {
		unsigned flags = 0;

		if (bad) {
			if (r->st->normalize)
				return 1;
			flags = (crs & ~lf ? DSCAN_BARE_CR : 0) | (lf & ~crs ? DSCAN_BARE_LF : 0);
			lf &= crs;
			dots = m->dot & (lf << 1 | f->lc);
		}
		/* flags only once the block is taken: it may hold a terminator */
		if (dots && dscan_fast_dots(r, i, dots, m->cr))
			return 1;
		f->flags |= flags;
	}
	if (__builtin_expect((int64_t)i - f->ls > f->lim - 64, 0))
		dscan_fast_long(f, i, lf);
	last = (int64_t)(i + 64) - __builtin_clzll(lf | 1); /* lf | 1: defined; unused if lf is 0 */
	f->ls = lf ? last : f->ls;
	f->cc = m->cr >> 63;
	f->lc = lf >> 63;
	return 0;
}

/*
 * Transitions into bytes 1..63 of the block at q that are not plain: a CR not followed by LF,
 * an LF not preceded by CR, a dot right after an LF. Bit 0 is meaningless (its byte's
 * predecessor is not in the block); callers ignore it.
 */
static inline uint64_t dscan_transitions(const struct dscan_masks *m)
{
	return (m->cr << 1 ^ m->lf) | (m->lf << 1 & m->dot);
}

/*
 * dscan_transitions() of the 64 bytes at q (all in bounds, q > p); *lf gets their LF mask.
 * A variant may compute it in its own way (dscan_avx512.c finds the dots with a masked compare).
 */
typedef uint64_t (*dscan_trans64_fn)(const char *q, uint64_t *lf);

/* Bits of the block at q (bit t is byte q + t) for bytes at or after from, bit 0 excluded. */
static inline uint64_t dscan_from_bits(size_t q, size_t from)
{
	if (from <= q + 1)
		return ~1ull;
	return from - q >= 64 ? 0 : ~0ull << (from - q);
}

/*
 * The dot at d (a line start in a run) ends the message if CRLF follows: emit the span up to
 * it and leave the state as dscan_step() does after ".\r\n". Returns d + 3; 0 if the dot is
 * followed by a CR that is not part of a CRLF or by the end of the input, or if there is no
 * room for the span with one to spare (dscan_step() then takes it). Not for other dots.
 */
static inline size_t dscan_run_term(struct dscan_run *r, size_t d, size_t n)
{
	if (n - d < 3 || r->p[d + 2] != '\n' || r->cap - r->nout < 2)
		return 0;
	dscan_put(r, r->p + r->s, d - r->s); /* the CRLF before the dot ends the message */
	r->st->state = DS_DONE;
	r->st->flags |= DSCAN_DONE;
	r->st->line_len = 1; /* the dot, as dscan_step() counts it */
	return d + 3;
}

/*
 * Take the run at o (blocks at o - 1 + 63k, see dscan_fast_runs()) from `from` on (the bytes
 * before were taken already) when its only irregular transitions are stuffing dots at line
 * starts and maybe a terminator: emit a span up to each dot, and up to the terminator, which
 * ends the message. lc says whether byte from - 1, if an LF, ended a CRLF. Only with room for
 * each span and one to spare, so that the array never fills here. Returns the new position
 * (o + 252, or after the terminator) and sets *last to the last LF taken (or -1); returns
 * `from`, having changed nothing, when the bytes must go to dscan_fast_block() and
 * dscan_step() instead. Not inlined: rare (once per stuffed line or message).
 */
static __attribute__((noinline)) size_t dscan_run_events(struct dscan_run *r, size_t o, size_t from,
                                                         size_t n, uint64_t lc, int64_t *last,
                                                         dscan_load64_fn load64)
{
	unsigned k, nout = r->nout;
	size_t s = r->s;

	*last = -1;
	for (k = 0; k < 4; k++) {
		struct dscan_masks m;
		size_t q = o - 1 + 63 * k;
		uint64_t valid = dscan_from_bits(q, from), bad, dots;

		load64(r->p + q, &m);
		bad = (m.cr << 1 ^ m.lf) & valid;
		dots = m.lf << 1 & m.dot & valid;
		if (!lc && from > q && from - q < 64)
			dots &= ~(1ull << (from - q)); /* the LF at from - 1 was bare */
		for (; dots; dots &= dots - 1) {
			size_t d = q + dscan_ctz(dots);
			uint64_t before = (dots & (0 - dots)) - 1;

			if ((bad & before) != 0 ||
			    n - d < 2) /* irregular before it, or at the end */
				goto undo;
			if (r->p[d + 1] == '\r') {
				d = dscan_run_term(r, d, n);
				if (d == 0)
					goto undo;
				return d;
			}
			if (r->cap - r->nout < 2)
				goto undo;
			dscan_put(r, r->p + r->s, d - r->s);
			r->s = d + 1;
		}
		if (bad)
			goto undo;
		if (m.lf & valid)
			*last = (int64_t)(q + 63) - __builtin_clzll(m.lf & valid);
	}
	return o + 252;
undo:
	r->nout = nout;
	r->s = s;
	return from;
}

/* One past the last LF in [lo, i), or ls if there is none; needs n >= 64 (whole loads). */
static inline int64_t dscan_line_start(const char *p, size_t lo, size_t i, int64_t ls,
                                       dscan_load64_fn load64)
{
	struct dscan_masks m;

	while (i > lo) {
		size_t b = i >= 64 ? i - 64 : 0; /* the block [b, b + 64) */
		uint64_t lf;

		load64(p + b, &m);
		lf = i - b < 64 ? m.lf & ((1ull << (i - b)) - 1) : m.lf;
		if (b < lo)
			lf &= ~0ull << (lo - b);
		if (lf)
			return (int64_t)(b + 64) - __builtin_clzll(lf);
		i = b;
	}
	return ls;
}

/*
 * The loop of dscan_fast_runs(): runs from i (up to last) while every transition into them is
 * plain (every CR/LF in a CRLF, no dot at a line start) and no line could pass the limit.
 * Returns the position of the first run that is not like that (or > last). *lb is a lower
 * bound of the open line's start, kept branch-free from the LFs of the run's second half: a
 * run with an LF there (at i + 126 or later) moves it to i + 127. A line starting at *lb can
 * pass the limit in the run at i only if i - *lb > lim (lim is max_line - 252). A leaf
 * function of its own, so that its few values stay in registers.
 */
static __attribute__((noinline)) size_t dscan_runs_plain(const char *p, size_t i, size_t last,
                                                         int64_t *lbp, int64_t lim,
                                                         dscan_trans64_fn trans64)
{
	const int64_t step = 127 + lim;
	int64_t stop = *lbp + lim; /* the limit can be passed in the run at i only if i > stop */

	for (; i <= last && (int64_t)i <= stop; i += 252) {
		uint64_t ev, lf, any;

		/*
		 * Block by block, so that few masks are live at a time (the empty asm keeps
		 * the compiler from gathering the ORs at the end, which spills registers).
		 */
		ev = trans64(p + i - 1, &lf);
		__asm__("" : "+r"(ev));
		ev |= trans64(p + i + 62, &lf);
		__asm__("" : "+r"(ev));
		ev |= trans64(p + i + 125, &lf);
		__asm__("" : "+r"(ev));
		any = lf & ~1ull;
		ev |= trans64(p + i + 188, &lf);
		any |= lf;
		if (__builtin_expect((ev & ~1ull) != 0, 0))
			break;
		stop = any ? (int64_t)i + step : stop; /* an LF at i + 126 or later */
	}
	*lbp = stop - lim;
	return i;
}

/*
 * The input ends with CRLF "." CRLF and the run ending at n (o = n - 252) holds byte i: if all
 * transitions from i on but the one into that dot are plain, and no line can pass the limit,
 * the dot is a terminator: take it as dscan_run_term() does. Returns n, or i if not so
 * (dscan_run_events() then looks closer).
 */
static inline size_t dscan_run_last(struct dscan_run *r, size_t o, size_t i, size_t n, int64_t lb,
                                    int64_t lim, dscan_trans64_fn trans64)
{
	uint64_t ev, lf;

	if ((int64_t)o - lb > lim || n - i < 3 || r->cap - r->nout < 2)
		return i;
	ev =
	    trans64(r->p + o - 1, &lf) | trans64(r->p + o + 62, &lf) | trans64(r->p + o + 125, &lf);
	ev |= trans64(r->p + o + 188, &lf) & ~(1ull << 61); /* the dot at n - 3 */
	if (ev & ~1ull)
		return i;
	dscan_put(r, r->p + r->s, n - 3 - r->s);
	r->st->state = DS_DONE;
	r->st->flags |= DSCAN_DONE;
	r->st->line_len = 1;
	return n;
}

/*
 * Runs of 252 bytes from i while they are plain (dscan_runs_plain()) or their only irregular
 * transitions are stuffing dots and a terminator (dscan_run_events()); the last, partial run
 * is taken as the run that ends at n, from i on. Returns the new position; the state is DONE
 * if a terminator was taken. Needs i >= 1 and n > 252: the four blocks of a run are loaded at
 * i - 1 + 63k so that each transition, including the one into byte i and those between
 * blocks, lies inside one block; nothing is carried from one run to the next. Lines of text
 * hold an LF every run, so the bound on the line start stays close; when it does not (long
 * lines), the run is left to dscan_fast_block(). On the way out the exact line start is found
 * again (the last LF lies after the bound), and cc/lc from the byte before the new position.
 */
static inline __attribute__((always_inline)) size_t
dscan_fast_runs(struct dscan_run *r, struct dscan_fast *f, size_t i, size_t n,
                dscan_load64_fn load64, dscan_trans64_fn trans64)
{
	const int64_t lim = f->lim - 252;
	const size_t start = i;
	int64_t lb = f->ls, last;

	while (i < n) {
		size_t o, j;

		if (n - i >= 252)
			i = dscan_runs_plain(r->p, i, n - 252, &lb, lim, trans64);
		if (i == n)
			break;
		o = n - i >= 252 ? i : n - 252;
		/*
		 * The last, partial run: plain from o on, the bytes from i on are too. Not worth
		 * a look when the input ends with the terminator (dscan_run_events() takes it).
		 */
		if (o != i && memcmp(r->p + n - 5, "\r\n.\r\n", 5) != 0) {
			if (dscan_runs_plain(r->p, o, o, &lb, lim, trans64) == n) {
				i = n;
				break;
			}
		} else if (o != i && dscan_run_last(r, o, i, n, lb, lim, trans64) == n) {
			return n;
		}
		if ((int64_t)o - lb > lim)
			break;
		j = dscan_run_events(r, o, i, n, i != start || f->lc, &last, load64);
		if (j == i)
			break;
		lb = last >= 0 ? last + 1 : lb;
		i = j;
		if (r->st->state == DS_DONE)
			return i;
	}
	if (i == start)
		return i;
	f->ls = dscan_line_start(r->p, lb - 1 > (int64_t)start ? (size_t)lb - 1 : start, i, f->ls,
	                         load64);
	f->cc = r->p[i - 1] == '\r';
	f->lc = r->p[i - 1] == '\n';
	return i;
}

/*
 * The common case, kept in registers: blocks inside lines whose only CR/LF are real CRLFs (or,
 * without normalisation, bare ones, which only set flags), and whose dots at line starts are
 * plain stuffing or a terminator. Runs of four blocks (dscan_fast_runs()) where possible,
 * single blocks (dscan_fast_block()) where runs cannot start or stop. Line
 * lengths are checked only when the open line could pass the limit in the bytes at hand
 * (lines that begin inside a block are shorter than 62 octets). Stops at the first block that
 * is not like that, or when less than a block is left; returns the new position. State is
 * BOL or MID on entry; on exit also CR, when the last block ended with a CR (its LF, if any,
 * is the next byte), or DONE. Limits below 62 skip this loop.
 */
static inline __attribute__((always_inline)) size_t dscan_fast(struct dscan_run *r, size_t i,
                                                               size_t n, dscan_load64_fn load64,
                                                               dscan_trans64_fn trans64)
{
	struct smtp_dscan *st = r->st;
	struct dscan_fast f = {(int64_t)i - st->line_len, st->max_line, 0, st->state == DS_BOL, 0};
	size_t start = i;

	if (st->max_line == 0 || st->max_line == UINT32_MAX) /* a saturated count never passes */
		f.lim = INT64_MAX / 4;
	if (f.lim < 62)
		return i;
	/* a first byte that is no CR, LF or dot only lengthens the line: runs can start at 1 */
	if (i == 0 && n > 252 && r->p[0] != '\r' && r->p[0] != '\n' && r->p[0] != '.') {
		i = 1;
		f.lc = 0;
	}
	for (;;) {
		struct dscan_masks a;

		if (i != 0 && n > 252) {
			i = dscan_fast_runs(r, &f, i, n, load64, trans64);
			if (st->state == DS_DONE) {
				st->flags |= (uint16_t)f.flags;
				return i;
			}
		}
		if (n - i < 64)
			break;
		load64(r->p + i, &a);
		if (dscan_fast_block(r, &f, i, &a))
			break;
		i += 64;
	}
	if (i != start) {
		/* a CR in the last byte is undecided: not counted yet */
		int64_t line = (int64_t)i - f.ls - (int64_t)f.cc;

		if (line > f.lim)
			f.flags |= DSCAN_LONG_LINE;
		st->line_len = line > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)line;
		st->state = f.cc ? DS_CR : f.lc ? DS_BOL : DS_MID;
		st->flags |= (uint16_t)f.flags;
	}
	return i;
}

/*
 * The whole scan, with the variant's loaders. always_inline so that they are direct calls.
 * The loop is the per-call state machine of dscan.h: blocks while inside a line, steps else.
 */
static inline __attribute__((always_inline)) size_t
dscan_simd_run(struct smtp_dscan *st, const char *p, size_t n, struct smtp_span *out, unsigned cap,
               unsigned *nout, dscan_load64_fn load64, dscan_load_fn load, dscan_trans64_fn trans64)
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

			i = dscan_fast(&r, i, n, load64, trans64);
			if (i == n || st->state == DS_DONE)
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
