/* SPDX-License-Identifier: MIT */
/*
 * dp_test.h - small helpers shared by the dataplane tests: CHECK() that counts failures and
 * prints where, a finish() that turns the count into the exit status, and temporary files and
 * directories that are removed at the end. Tests only.
 */
#ifndef SLUICE_TESTS_DP_TEST_H
#define SLUICE_TESTS_DP_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int dp_test_failures;

static inline int dp_test_check(int ok, const char *file, int line, const char *what)
{
	if (!ok) {
		dp_test_failures++;
		printf("FAIL %s:%d: %s: ", file, line, what);
	}
	return ok;
}

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!dp_test_check(!!(cond), __FILE__, __LINE__, #cond)) {                         \
			printf(__VA_ARGS__);                                                       \
			printf("\n");                                                              \
			fflush(stdout);                                                            \
		}                                                                                  \
	} while (0)

/* Abort the test at once (later checks would only cascade). cond is evaluated once. */
#define REQUIRE(cond, ...)                                                                         \
	do {                                                                                       \
		if (!dp_test_check(!!(cond), __FILE__, __LINE__, #cond)) {                         \
			printf(__VA_ARGS__);                                                       \
			printf("\n");                                                              \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

static inline int dp_test_finish(const char *name)
{
	if (dp_test_failures) {
		printf("%s: %d failures\n", name, dp_test_failures);
		return 1;
	}
	printf("%s: ok\n", name);
	return 0;
}

/* mkdtemp under /tmp; the caller removes it with dp_test_rmtree(). */
static inline void dp_test_tmpdir(char *out, size_t len, const char *tag)
{
	snprintf(out, len, "/tmp/sluice-dptest-%s-XXXXXX", tag);
	if (!mkdtemp(out)) {
		perror("mkdtemp");
		exit(1);
	}
}

static inline void dp_test_rmtree(const char *dir)
{
	char cmd[4200];

	if (strncmp(dir, "/tmp/sluice-dptest-", 19) != 0)
		return; /* only what dp_test_tmpdir made */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static inline void dp_test_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

#endif
