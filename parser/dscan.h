/* SPDX-License-Identifier: MIT */
/*
 * dscan.h - the DATA scanner: finds the end of an SMTP message (<CRLF>.<CRLF>), removes
 * dot-stuffing, detects bare CR and bare LF and over-long lines, across any split of the input.
 *
 * One scalar reference (dscan_scalar.c) and SIMD variants (dscan_sse42.c, dscan_avx2.c, each
 * built with its own flags) produce identical results for every input and every split.
 * smtp_dscan_select() picks the best variant for this CPU once at start-up; smtp_dscan() calls
 * it through a function pointer that never changes afterwards.
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
 *   - Line length is counted in octets excluding the CRLF; a line longer than st->max_line
 *     (when nonzero) sets DSCAN_LONG_LINE. Bare CR/LF do not reset the count.
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
	uint8_t state;	   /* internal: position relative to line start / CR / dot */
	uint8_t normalize; /* bare CR/LF -> CRLF */
	uint16_t flags;	   /* enum dscan_flag */
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

/*
 * Find the first LF in p[0 .. n); returns its offset, or n if there is none. Used for
 * command lines. Variants as above.
 */
typedef size_t (*smtp_find_lf_fn)(const char *p, size_t n);
size_t smtp_find_lf_scalar(const char *p, size_t n);
size_t smtp_find_lf_sse42(const char *p, size_t n);
size_t smtp_find_lf_avx2(const char *p, size_t n);

struct smtp_scan_impl {
	const char *name; /* "scalar", "sse4.2", "avx2" */
	smtp_dscan_fn dscan;
	smtp_find_lf_fn find_lf;
};

/* All variants this CPU can run, best last; *n set to the count. For tests and benchmarks. */
const struct smtp_scan_impl *smtp_scan_impls(unsigned *n);

/*
 * Choose the variant once (CPUID) before any session runs; the environment variable
 * SLUICE_SCAN=scalar|sse4.2|avx2 forces one. Idempotent. Returns the chosen one.
 */
const struct smtp_scan_impl *smtp_scan_select(void);

/* Dispatch through the selected variant (smtp_scan_select() must have run). */
size_t smtp_dscan(struct smtp_dscan *st, const char *p, size_t n, struct smtp_span *out,
		  unsigned cap, unsigned *nout);
size_t smtp_find_lf(const char *p, size_t n);

#endif
