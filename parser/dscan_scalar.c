/* SPDX-License-Identifier: MIT */
/*
 * dscan_scalar.c - the reference DATA scanner and line-end finder, one byte at a time.
 *
 * Public: smtp_dscan_scalar(), smtp_find_lf_scalar() (declared in dscan.h).
 *
 * smtp_dscan_scalar() defines correctness for every variant: it runs the state machine of
 * dscan_step.h on each byte, with one shortcut that keeps it byte-at-a-time: inside a line,
 * bytes other than CR and LF only lengthen the line, so a plain loop steps over them.
 * The SIMD variants must produce the same concatenated output, flags and consumed count for
 * every input and every split of it (tests/parser/test_dscan.c checks this).
 *
 * Errors: none; malformed input is data, reported through st->flags. Never reads outside
 * [p, p + n), never allocates. Limits: cap must be >= 2 (see dscan.h).
 */
#include "parser/dscan.h"
#include "parser/dscan_step.h"

size_t smtp_dscan_scalar(struct smtp_dscan *st, const char *p, size_t n, struct smtp_span *out,
                         unsigned cap, unsigned *nout)
{
	struct dscan_run r;
	size_t i = 0;

	if (dscan_begin(&r, st, p, out, cap)) {
		*nout = 0;
		return 0;
	}
	while (i < n) {
		if (st->state == DS_MID) {
			size_t j = i;

			while (j < n && p[j] != '\r' && p[j] != '\n')
				j++;
			dscan_count(st, j - i);
			i = j;
			if (i == n)
				break;
		}
		if (dscan_step(&r, &i))
			break;
	}
	return dscan_finish(&r, i, nout);
}

size_t smtp_find_lf_scalar(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] == '\n')
			break;
	return i;
}
