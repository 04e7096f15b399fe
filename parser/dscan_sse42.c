/* SPDX-License-Identifier: MIT */
/*
 * dscan_sse42.c - sse42 DATA scanner and line-end finder (interim: runs the scalar reference).
 */
#include "parser/dscan.h"

size_t smtp_dscan_sse42(struct smtp_dscan *st, const char *p, size_t n, struct smtp_span *out,
		       unsigned cap, unsigned *nout)
{
	return smtp_dscan_scalar(st, p, n, out, cap, nout);
}

size_t smtp_find_lf_sse42(const char *p, size_t n)
{
	return smtp_find_lf_scalar(p, n);
}
