/* SPDX-License-Identifier: MIT */
/*
 * check.h - minimal assertion counting for the sluice-blast unit tests.
 *
 * CHECK(cond, fmt, ...) counts a pass or prints the failure with its location and counts a
 * failure; check_summary() prints "N passed, M failed" and returns the process exit status.
 * One static counter pair per test program (tests are single-threaded).
 */
#ifndef SLUICE_TESTS_BENCH_CHECK_H
#define SLUICE_TESTS_BENCH_CHECK_H

#include <stdio.h>

static unsigned check_passed, check_failed;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			check_passed++;                                                            \
		} else {                                                                           \
			check_failed++;                                                            \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);   \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

static inline int check_summary(void)
{
	printf("%u passed, %u failed\n", check_passed, check_failed);
	return check_failed == 0 ? 0 : 1;
}

#endif
