/* SPDX-License-Identifier: MIT */
/*
 * scan_select.c - picks the DATA scanner / line-end finder variant for this CPU, once.
 *
 * Public: smtp_scan_impls(), smtp_scan_select(), smtp_dscan(), smtp_find_lf() (dscan.h).
 *
 * smtp_scan_impls() asks CPUID (__builtin_cpu_supports, which also checks that the OS saves the
 * vector state) which variants run here: sse4.2 needs SSE4.2; avx2 needs AVX2, BMI1 and BMI2;
 * avx512 needs those and AVX-512F, AVX-512BW (and a compiler that could build it, see
 * dscan_avx512.c). smtp_scan_select() takes the best, unless SLUICE_SCAN=scalar|sse4.2|avx2|
 * avx512 names another one that runs here (an unknown or unsupported name is reported on stderr
 * and ignored). The choice is stored once in a pointer that never changes afterwards;
 * concurrent first calls agree on it (compare-and-swap), later calls return it. smtp_dscan()
 * and smtp_find_lf() call through that pointer; if nothing was selected yet they select first,
 * so they are safe to call at any time.
 *
 * Errors: none. The one mutable global is the choice pointer, written once at start-up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser/dscan.h"

static const struct smtp_scan_impl scan_table[] = {
    {"scalar", smtp_dscan_scalar, smtp_find_lf_scalar},
#if defined(__x86_64__)
    {"sse4.2", smtp_dscan_sse42, smtp_find_lf_sse42},
    {"avx2", smtp_dscan_avx2, smtp_find_lf_avx2},
    {"avx512", smtp_dscan_avx512, smtp_find_lf_avx512},
#endif
};

/* Set once by smtp_scan_select(); read through __atomic loads. */
static const struct smtp_scan_impl *scan_chosen;

const struct smtp_scan_impl *smtp_scan_impls(unsigned *n)
{
	unsigned k = 1;

#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2")) {
		k = 2;
		if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
		    __builtin_cpu_supports("bmi2"))
			k = 3;
		if (k == 3 && smtp_scan_avx512_built && __builtin_cpu_supports("avx512f") &&
		    __builtin_cpu_supports("avx512bw"))
			k = 4;
	}
#endif
	*n = k;
	return scan_table;
}

static const struct smtp_scan_impl *scan_pick(void)
{
	unsigned n, i;
	const struct smtp_scan_impl *impls = smtp_scan_impls(&n);
	const char *want = getenv("SLUICE_SCAN");

	if (want == NULL || *want == '\0')
		return &impls[n - 1];
	for (i = 0; i < n; i++)
		if (strcmp(impls[i].name, want) == 0)
			return &impls[i];
	fprintf(stderr, "sluice: SLUICE_SCAN=%s is not available on this CPU; using %s\n", want,
	        impls[n - 1].name);
	return &impls[n - 1];
}

const struct smtp_scan_impl *smtp_scan_select(void)
{
	const struct smtp_scan_impl *cur = __atomic_load_n(&scan_chosen, __ATOMIC_ACQUIRE);
	const struct smtp_scan_impl *pick;

	if (cur != NULL)
		return cur;
	pick = scan_pick();
	if (__atomic_compare_exchange_n(&scan_chosen, &cur, pick, 0, __ATOMIC_ACQ_REL,
	                                __ATOMIC_ACQUIRE))
		return pick;
	return cur; /* another thread chose first */
}

static inline const struct smtp_scan_impl *scan_impl(void)
{
	const struct smtp_scan_impl *im = __atomic_load_n(&scan_chosen, __ATOMIC_ACQUIRE);

	if (__builtin_expect(im == NULL, 0))
		im = smtp_scan_select();
	return im;
}

size_t smtp_dscan(struct smtp_dscan *st, const char *p, size_t n, struct smtp_span *out,
                  unsigned cap, unsigned *nout)
{
	return scan_impl()->dscan(st, p, n, out, cap, nout);
}

size_t smtp_find_lf(const char *p, size_t n)
{
	return scan_impl()->find_lf(p, n);
}
