/* SPDX-License-Identifier: MIT */
/*
 * test_cache.c - the on-disk cache of compiled databases (policy/cache.c).
 *
 *   1. first load compiles and writes DIR/<key>.hsdb; the second load takes the databases
 *      from it (POL_CACHE_HIT) and gives the same verdicts;
 *   2. a corrupt cache file (a flipped byte anywhere, truncated, empty, garbage, another
 *      rule set's file under this key) is ignored, the rules are compiled and the file
 *      rewritten: the next load hits again;
 *   3. the key: a comment or reply-text edit keeps it; moving a rule or changing a pattern
 *      or a flag changes it;
 *   4. a cache directory that cannot be written: the load still succeeds
 *      (POL_CACHE_UNWRITABLE); a missing directory is created.
 *
 * Last line "N passed, M failed".
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/policy/tpol.h"

static char dir[64];

static const char text[] = "rule s subject /cheap\\s+meds/i reject\n"
                           "rule h header:X-Mailer \"bulk\" tag\n"
                           "rule m mail /@spam\\.example$/ reject\n"
                           "rule b body /(buy|order)\\s+now/i reject\n"
                           "rule l body \"unsubscribe\" score 2\n";

static struct pol_rules *load(const char *t, const char *cache_dir, struct pol_rules_info *info)
{
	struct pol_load_opts opt = {.cache_dir = cache_dir};
	struct pol_rules *r = NULL;
	struct pol_error err;

	if (pol_rules_load_mem("cache.rules", t, strlen(t), &opt, &r, &err)) {
		fprintf(stderr, "load: %s\n", err.msg);
		exit(1);
	}
	pol_rules_info(r, info);
	return r;
}

/* Verdicts of a few messages, as one string. */
static void fingerprint(struct pol_rules *r, char *out, size_t cap)
{
	static const char *const msgs[] = {
	    "Subject: Cheap   MEDS\r\n\r\nx\r\n",
	    "X-Mailer: bulk 1.0\r\n\r\nplease unsubscribe\r\n",
	    "Subject: hi\r\n\r\nOrder\r\n now\r\n",
	    "Subject: hi\r\n\r\nnothing\r\n",
	};
	struct pol_core *c = tp_core(r, 1);
	size_t n = 0;

	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct pol_verdict v;
		char ids[64];

		tp_run(c, "a@example.org", msgs[i], strlen(msgs[i]), NULL, 0, &v, ids, sizeof(ids));
		n += (size_t)snprintf(out + n, cap - n, "%s/%u/%s;", pol_action_name(v.action),
		                      v.code, ids);
	}
	pol_core_destroy(c);
}

static void cache_file(const struct pol_rules_info *info, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s.hsdb", dir, info->key);
}

static off_t file_size(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? st.st_size : -1;
}

static void test_hit(void)
{
	struct pol_rules_info i1, i2;
	struct pol_rules *r1 = load(text, dir, &i1), *r2;
	char f1[512], f2[512], path[256];

	cache_file(&i1, path, sizeof(path));
	CHECK(i1.cache == POL_CACHE_MISS && file_size(path) > 64, "first load compiles, writes %s",
	      path);
	r2 = load(text, dir, &i2);
	CHECK(i2.cache == POL_CACHE_HIT && !strcmp(i1.key, i2.key), "second load: from the cache");
	fingerprint(r1, f1, sizeof(f1));
	fingerprint(r2, f2, sizeof(f2));
	CHECK(!strcmp(f1, f2) && strstr(f1, "reject/550/s;pass/0/h,l;reject/550/b;pass/0/;"),
	      "same verdicts: '%s' / '%s'", f1, f2);
	printf("compile %.1f ms, from cache %.1f ms\n", i1.load_ms, i2.load_ms);
	pol_rules_put(r1);
	pol_rules_put(r2);
}

/* Damage the cache file with fn, then: load -> rebuilt, load -> hit, same verdicts. */
static void damage(const char *what, void (*fn)(const char *path, off_t size))
{
	struct pol_rules_info info;
	struct pol_rules *r = load(text, dir, &info);
	char path[256], want[512], got[512];

	fingerprint(r, want, sizeof(want));
	pol_rules_put(r);
	cache_file(&info, path, sizeof(path));
	fn(path, file_size(path));
	r = load(text, dir, &info);
	fingerprint(r, got, sizeof(got));
	CHECK(info.cache == POL_CACHE_REBUILT && !strcmp(got, want),
	      "%s: ignored and rebuilt (status %u)", what, info.cache);
	pol_rules_put(r);
	r = load(text, dir, &info);
	CHECK(info.cache == POL_CACHE_HIT, "%s: the rewritten file is used", what);
	pol_rules_put(r);
}

static void flip_at(const char *path, off_t at)
{
	int fd = open(path, O_RDWR);
	unsigned char b;

	if (fd < 0 || pread(fd, &b, 1, at) != 1)
		exit(1);
	b ^= 0x20;
	if (pwrite(fd, &b, 1, at) != 1)
		exit(1);
	close(fd);
}

static void flip_head(const char *p, off_t n)
{
	(void)n;
	flip_at(p, 9);
}

static void flip_middle(const char *p, off_t n)
{
	flip_at(p, n / 2);
}

static void flip_last(const char *p, off_t n)
{
	flip_at(p, n - 1);
}

static void truncate_half(const char *p, off_t n)
{
	if (truncate(p, n / 2))
		exit(1);
}

static void make_empty(const char *p, off_t n)
{
	(void)n;
	if (truncate(p, 0))
		exit(1);
}

static void garbage(const char *p, off_t n)
{
	FILE *f = fopen(p, "w");

	for (off_t i = 0; f && i < n; i++)
		fputc((int)(i * 7919 % 251), f);
	if (f)
		fclose(f);
}

/* A valid cache file of another rule set, renamed to this key. */
static void other_set(const char *p, off_t n)
{
	struct pol_rules_info info;
	struct pol_rules *r = load("rule x body \"other\" tag\n", dir, &info);
	char src[256];

	(void)n;
	cache_file(&info, src, sizeof(src));
	if (rename(src, p))
		exit(1);
	pol_rules_put(r);
}

static void test_key(void)
{
	static const char *const same[] = {
	    "# a comment\nrule s subject /cheap\\s+meds/i reject 550 5.7.1 \"Other text\"\n",
	    "rule s   subject  /cheap\\s+meds/i   reject\n\n",
	};
	static const char *const differ[] = {
	    "rule s subject /cheap\\s+meds/ reject\n",
	    "rule s subject /cheap\\s*meds/i reject\n",
	    "rule s body /cheap\\s+meds/i reject\n",
	    "rule t body \"x\" tag\nrule s subject /cheap\\s+meds/i reject\n",
	};
	struct pol_rules_info base, info;
	struct pol_rules *r = load("rule s subject /cheap\\s+meds/i reject\n", NULL, &base);

	pol_rules_put(r);
	for (size_t i = 0; i < 2; i++) {
		pol_rules_put(load(same[i], NULL, &info));
		CHECK(!strcmp(info.key, base.key), "same key for edit %zu", i);
	}
	for (size_t i = 0; i < 4; i++) {
		pol_rules_put(load(differ[i], NULL, &info));
		CHECK(strcmp(info.key, base.key), "different key for change %zu", i);
	}
}

static void test_dirs(void)
{
	struct pol_rules_info info;
	char sub[128], file[128];
	struct pol_rules *r;

	snprintf(sub, sizeof(sub), "%s/new-sub", dir);
	r = load(text, sub, &info);
	CHECK(info.cache == POL_CACHE_MISS && access(sub, F_OK) == 0,
	      "a missing directory is made");
	pol_rules_put(r);
	snprintf(file, sizeof(file), "%s/plain-file", dir);
	fclose(fopen(file, "w"));
	snprintf(sub, sizeof(sub), "%s/plain-file/cache", dir);
	r = load(text, sub, &info);
	CHECK(r && info.cache == POL_CACHE_UNWRITABLE, "unwritable cache: still loads (%u)",
	      info.cache);
	pol_rules_put(r);
}

static void rm_tree(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	char p[512];

	while (dp && (e = readdir(dp))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
		if (e->d_type == DT_DIR)
			rm_tree(p);
		else
			unlink(p);
	}
	if (dp)
		closedir(dp);
	rmdir(d);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sluice-policy-cache-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_hit();
	damage("byte flipped in the header", flip_head);
	damage("byte flipped in a database", flip_middle);
	damage("byte flipped in the checksum", flip_last);
	damage("truncated", truncate_half);
	damage("empty", make_empty);
	damage("garbage", garbage);
	damage("another rule set's file", other_set);
	test_key();
	test_dirs();
	rm_tree(dir);
	return tp_summary();
}
