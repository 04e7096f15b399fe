/* SPDX-License-Identifier: MIT */
/*
 * dscan.h - the DATA scanner: finds the end of an SMTP message (<CRLF>.<CRLF>), removes
 * dot-stuffing, detects bare CR and bare LF and over-long lines, across any split of the input.
 *
 * One scalar reference (dscan_scalar.c) and SIMD variants (dscan_sse42.c, dscan_avx2.c,
 * dscan_avx512.c, each built with its own flags) produce identical results for every input and
 * every split. smtp_scan_select() picks the best variant for this CPU once at start-up;
 * smtp_dscan() and smtp_find_lf() call it through a pointer that never changes afterwards (and
 * select first, lazily, if smtp_scan_select() has not run yet).
 *
 * Rules (RFC 5321 4.1.1.4, 4.5.2, 2.3.8):
 *   - Only CRLF "." CRLF ends the message. The CRLF that ends the DATA command line counts,
 *     so ".\r\n" as the very first line ends an empty message. Zero-initialised state means
 *     "at the start of a line that follows a CRLF".
 *   - A "." as the first octet of a line that began after a real CRLF is removed (stuffing).
 *   - A CR not followed by LF, and an LF not preceded by CR, are bare. They never end a line
 *     for the purpose of the terminator or of unstuffing: a "." after a bare newline is data.
 *     With st->normalize = 0 they pass through unchanged and set DSCAN_BARE_CR / DSCAN_BARE_LF;
 *     with st->normalize = 1 each is emitted as CRLF (and the flags are still set).
 *   - A line's length counts the octets on the wire between two real CRLFs, excluding the
 *     CRLF: a stuffing dot counts, and so does each bare CR and bare LF (they do not end the
 *     line). DSCAN_LONG_LINE is set as soon as the count passes st->max_line (when nonzero),
 *     even if the line never ends; st->line_len is the count so far (saturating at UINT32_MAX;
 *     a CR whose LF has not arrived yet is not counted until it is known to be bare).
 *
 * Output: spans of message bytes, in order, each pointing into the input or at a static
 * constant (a held-back CR at the end of one call is emitted from a constant in a later call).
 * The terminating ".\r\n" (and the CRLF before it belongs to the message) is not emitted.
 *
 * Never reads outside [p, p + n). Never allocates.
 */
#ifndef SLUICE_PARSER_DSCAN_H
#define SLUICE_PARSER_DSCAN_H

#include <stddef.h>
#include <stdint.h>

enum dscan_flag {
	DSCAN_BARE_CR = 1u << 0,
	DSCAN_BARE_LF = 1u << 1,
	DSCAN_LONG_LINE = 1u << 2,
	DSCAN_DONE = 1u << 3, /* the terminator was consumed */
};

struct smtp_span {
	const char *p;
	size_t n;
};

/* Zero-initialise at the start of each DATA body, then set normalize and max_line. */
struct smtp_dscan {
	uint8_t state;     /* internal: position relative to line start / CR / dot */
	uint8_t normalize; /* bare CR/LF -> CRLF */
	uint16_t flags;    /* enum dscan_flag */
	uint32_t line_len; /* octets of the current line so far */
	uint32_t max_line; /* octets excluding CRLF; 0 = no limit */
};

/*
 * Scan p[0 .. n). Appends at most cap spans to out and sets *nout. Returns bytes consumed:
 * n, or less when the terminator was found (DSCAN_DONE set; the bytes after it are not
 * consumed) or when out filled up (call again with the rest). cap must be >= 2.
 */
typedef size_t (*smtp_dscan_fn)(struct smtp_dscan *st, const char *p, size_t n,
                                struct smtp_span *out, unsigned cap, unsigned *nout);

size_t smtp_dscan_scalar(struct smtp_dscan *st, const char *p, size_t n, struct smtp_span *out,
                         unsigned cap, unsigned *nout);
size_t smtp_dscan_sse42(struct smtp_dscan *st, const char *p, size_t n, struct smtp_span *out,
                        unsigned cap, unsigned *nout);
size_t smtp_dscan_avx2(struct smtp_dscan *st, const char *p, size_t n, struct smtp_span *out,
                       unsigned cap, unsigned *nout);
size_t smtp_dscan_avx512(struct smtp_dscan *st, const char *p, size_t n, struct smtp_span *out,
                         unsigned cap, unsigned *nout);

/*
 * Find the first LF in p[0 .. n); returns its offset, or n if there is none. Used for
 * command lines. Variants as above.
 */
typedef size_t (*smtp_find_lf_fn)(const char *p, size_t n);
size_t smtp_find_lf_scalar(const char *p, size_t n);
size_t smtp_find_lf_sse42(const char *p, size_t n);
size_t smtp_find_lf_avx2(const char *p, size_t n);
size_t smtp_find_lf_avx512(const char *p, size_t n);

/* Internal to the selection: 1 if smtp_*_avx512() are AVX-512 code (dscan_avx512.c). */
extern const int smtp_scan_avx512_built;

struct smtp_scan_impl {
	const char *name; /* "scalar", "sse4.2", "avx2", "avx512" */
	smtp_dscan_fn dscan;
	smtp_find_lf_fn find_lf;
};

/* All variants this CPU can run, best last; *n set to the count. For tests and benchmarks. */
const struct smtp_scan_impl *smtp_scan_impls(unsigned *n);

/*
 * Choose the variant once (CPUID) before any session runs; the environment variable
 * SLUICE_SCAN=scalar|sse4.2|avx2|avx512 forces one that this CPU runs (another name is reported
 * on stderr and the best is taken). Idempotent and thread-safe. Returns the chosen one.
 */
const struct smtp_scan_impl *smtp_scan_select(void);

/*
 * Dispatch through the selected variant. If smtp_scan_select() has not run yet, the first call
 * runs it (so a program that never calls it still works; calling it at start-up keeps the CPUID
 * and getenv() work out of the first session).
 */
size_t smtp_dscan(struct smtp_dscan *st, const char *p, size_t n, struct smtp_span *out,
                  unsigned cap, unsigned *nout);
size_t smtp_find_lf(const char *p, size_t n);

#endif
