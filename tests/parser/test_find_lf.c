/* SPDX-License-Identifier: MIT */
/*
 * test_find_lf.c - tests of the command line-end finder (smtp_find_lf*, parser/dscan.h).
 *
 *   1. table: empty input, no LF, LF first/last, CR without LF, NUL and 8-bit bytes;
 *   2. every length 0..300 with the LF at every position (or none), on an input that ends at a
 *      PROT_NONE page, every variant: any over-read faults;
 *   3. random buffers with random LF density and offsets, every variant against the scalar;
 *   4. selection: SLUICE_SCAN picks the variant, smtp_find_lf() before smtp_scan_select()
 *      selects by itself, smtp_scan_select() is idempotent.
 *
 * The seed is printed; SLUICE_SEED=<n> changes it. The last line says "N passed, M failed".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser/dscan.h"
#include "tests/common/guard.h"

static unsigned n_pass, n_fail;
static const struct smtp_scan_impl *impls;
static unsigned n_impls;

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void expect(const char *what, const char *name, size_t len, size_t got, size_t want)
{
	if (got == want) {
		n_pass++;
		return;
	}
	n_fail++;
	fprintf(stderr, "FAIL: %s [%s] length %zu: got %zu, want %zu\n", what, name, len, got,
	        want);
}

#define S(lit) lit, sizeof(lit) - 1

static const struct {
	const char *name;
	const char *p;
	size_t n;
	size_t want;
} cases[] = {
    {"empty", S(""), 0},
    {"no LF", S("MAIL FROM:<a@b>"), 15},
    {"LF only", S("\n"), 0},
    {"CRLF", S("QUIT\r\n"), 5},
    {"bare LF", S("QUIT\nNOOP\r\n"), 4},
    {"CR without LF", S("QUIT\rNOOP"), 9},
    {"NUL before LF", S("A\0B\nC"), 3},
    {"8-bit", S("\xff\xfe\x80\x0a"), 3},
    {"LF at 15", S("0123456789abcde\n"), 15},
    {"LF at 16", S("0123456789abcdef\n"), 16},
    {"LF at 31", S("0123456789abcdef0123456789abcde\n"), 31},
    {"LF at 32", S("0123456789abcdef0123456789abcdef\n"), 32},
    {"two LFs", S("0123456789abcdef0123456789abcdef0123\n\n"), 36},
};

static void test_table(void)
{
	size_t i;
	unsigned v;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (v = 0; v < n_impls; v++)
			expect(cases[i].name, impls[v].name, cases[i].n,
			       impls[v].find_lf(cases[i].p, cases[i].n), cases[i].want);
}

static void test_guard(uint64_t *seed)
{
	static char buf[301];
	struct guard_buf g;
	size_t len, at, i;
	unsigned v;

	if (guard_init(&g, sizeof(buf)) != 0) {
		perror("guard_init");
		n_fail++;
		return;
	}
	for (len = 0; len <= 300; len++) {
		for (at = 0; at <= len; at++) { /* at == len: no LF */
			const char *p;

			for (i = 0; i < len; i++) {
				char c = (char)rng_next(seed);

				buf[i] = c == '\n' ? '\r' : c;
			}
			if (at < len)
				buf[at] = '\n';
			p = guard_copy(&g, buf, len);
			for (v = 0; v < n_impls; v++)
				expect("guard page", impls[v].name, len, impls[v].find_lf(p, len),
				       at);
		}
	}
	guard_free(&g);
}

static void test_random(uint64_t *seed, unsigned iters)
{
	static char buf[4096];
	unsigned it, v;
	size_t i;

	for (it = 0; it < iters; it++) {
		size_t len = (size_t)(rng_next(seed) % sizeof(buf));
		size_t off = (size_t)(rng_next(seed) % 64);
		unsigned density = 1 + (unsigned)(rng_next(seed) % 2000);
		size_t want;

		if (off > len)
			off = len;
		for (i = 0; i < len; i++) {
			uint64_t x = rng_next(seed);
			char c = (char)(x >> 16);

			buf[i] = x % density == 0 ? '\n' : c == '\n' ? 'x' : c;
		}
		want = smtp_find_lf_scalar(buf + off, len - off);
		for (v = 0; v < n_impls; v++)
			expect("random", impls[v].name, len - off,
			       impls[v].find_lf(buf + off, len - off), want);
	}
}

/* Before anything else runs: SLUICE_SCAN and lazy selection. */
static void test_select(void)
{
	unsigned n;
	const struct smtp_scan_impl *all = smtp_scan_impls(&n);
	const struct smtp_scan_impl *want = &all[n > 1 ? n - 2 : 0];
	const struct smtp_scan_impl *got;

	setenv("SLUICE_SCAN", want->name, 1);
	expect("dispatch before select", "-", 6, smtp_find_lf("NOOP\r\n", 6), 5);
	got = smtp_scan_select();
	if (got == want && smtp_scan_select() == got) {
		n_pass++;
	} else {
		n_fail++;
		fprintf(stderr, "FAIL: SLUICE_SCAN=%s selected %s\n", want->name, got->name);
	}
	printf("selected %s\n", got->name);
}

int main(void)
{
	const char *env = getenv("SLUICE_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 20240101;
	unsigned v;

	printf("seed %" PRIu64 " (set SLUICE_SEED to change)\n", seed);
	test_select();
	impls = smtp_scan_impls(&n_impls);
	printf("variants:");
	for (v = 0; v < n_impls; v++)
		printf(" %s", impls[v].name);
	printf("\n");
	test_table();
	test_guard(&seed);
	test_random(&seed, 20000);
	printf("%u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
