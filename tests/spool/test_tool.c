/* SPDX-License-Identifier: MIT */
/*
 * test_tool.c - the sluice-spool command (spool/tool.c, spool/tool_json.c), run as a separate
 * process (its path is argv[1]) on a spool this test writes: list --json parsed back with
 * every key checked, including hostile strings (quotes, backslashes, control octets, invalid
 * UTF-8, valid UTF-8, IPv6); list; cat byte-exact; export (.eml + .json) and --maildir; stats;
 * $SLUICE_SPOOL; errors; verify exits 0, then non-zero after one byte of a body is flipped.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests/spool/json_min.h"
#include "tests/spool/spool_test.h"

#define N 6

static const char *tool;
static struct io_uring ring;
static char qids[N][SPOOL_QUEUE_ID_MAX];
static char bodies[N][3000];
static size_t blen[N];
static const char hostile[] =
    "q\"b\\s\x01\x1f\x7f\xe9\xff\xc3\xa9\xf0\x9f\x93\xa7\xed\xa0\x80\xc0\xaf";

/* Runs the tool; collects stdout (malloc'ed, *n octets); returns the exit status or -1. */
static int run(char **out, size_t *n, const char *a1, const char *a2, const char *a3,
               const char *a4, const char *a5)
{
	int pfd[2], status;
	size_t cap = 1 << 16;
	pid_t pid;

	*out = malloc(cap);
	*n = 0;
	if (pipe(pfd) != 0)
		return -1;
	if ((pid = fork()) == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(pfd[1], 1);
		if (!getenv("SPOOL_TEST_VERBOSE"))
			dup2(devnull, 2);
		close(pfd[0]);
		execl(tool, tool, a1, a2, a3, a4, a5, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t r;

		if (*n == cap)
			*out = realloc(*out, cap *= 2);
		r = read(pfd[0], *out + *n, cap - *n);
		if (r <= 0)
			break;
		*n += (size_t)r;
	}
	close(pfd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* What the documented escaping decodes to: UTF-8 kept, other octets as U+00XX. */
static size_t json_expect(const char *s, size_t n, char *o)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k = 0;

	for (size_t i = 0; i < n;) {
		size_t len = p[i] >= 0xc2 && p[i] <= 0xdf   ? 2
		             : p[i] >= 0xe0 && p[i] <= 0xef ? 3
		             : p[i] >= 0xf0 && p[i] <= 0xf4 ? 4
		                                            : 1;
		int ok = len > 1 && i + len <= n;

		for (size_t j = 1; ok && j < len; j++)
			ok = (p[i + j] & 0xc0) == 0x80;
		if (ok && len == 3) /* overlong or surrogate */
			ok = !(p[i] == 0xe0 && p[i + 1] < 0xa0) &&
			     !(p[i] == 0xed && p[i + 1] >= 0xa0);
		if (ok && len == 4)
			ok = !(p[i] == 0xf0 && p[i + 1] < 0x90) &&
			     !(p[i] == 0xf4 && p[i + 1] >= 0x90);
		if (ok) {
			memcpy(o + k, p + i, len);
			k += len;
			i += len;
		} else if (p[i] < 0x80) {
			o[k++] = (char)p[i++];
		} else {
			o[k++] = (char)(0xc0 | p[i] >> 6);
			o[k++] = (char)(0x80 | (p[i++] & 0x3f));
		}
	}
	return k;
}

static int jstr_is(const struct jv *v, const char *s, size_t n)
{
	char want[512];
	size_t k = json_expect(s, n, want);

	return v && v->t == J_STR && v->n == k && memcmp(v->s, want, k) == 0;
}

static void env_of(struct spool_envelope *env, struct spool_str *rcpt, int i)
{
	t_env_init(env, i % 2 ? "2001:db8::5" : "127.0.0.1", 54321);
	env->helo = i == 0 ? (struct spool_str){hostile, sizeof(hostile) - 1} : t_str("h.example");
	env->mail_from = i == 1 ? t_str("j\xc3\xb6rg@ex\xc3\xa4mple.de") : t_str("a@b.example");
	rcpt[0] = t_str("r1@x.example");
	rcpt[1] = i == 0 ? (struct spool_str){hostile, sizeof(hostile) - 1} : t_str("r2@x.example");
	env->rcpt = rcpt;
	env->nrcpt = i == 2 ? 1 : 2;
	env->verdict = t_str(i == 3 ? "accept\ttagged" : "accept");
	env->recv_time_us = 1700000000123456ull + (uint64_t)i;
}

static void write_spool(const char *dir)
{
	struct spool_config cfg;
	struct spool_writer *w;

	t_config(&cfg, dir);
	CHECK(spool_writer_open(&w, &cfg, 0, &ring) == 0, "open");
	for (int i = 0; i < N; i++) {
		struct spool_envelope env;
		struct spool_str rcpt[2];

		env_of(&env, rcpt, i);
		blen[i] = 1000 + (size_t)i * 300;
		for (size_t j = 0; j < blen[i]; j++)
			bodies[i][j] = j % 40 == 38   ? '\r'
			               : j % 40 == 39 ? '\n'
			                              : (char)('0' + j % 10);
		bodies[i][5] = (char)0; /* binary */
		CHECK(t_put(w, &ring, &env, bodies[i], blen[i], qids[i]) == 0, "put %d", i);
	}
	spool_writer_close(w);
}

static void check_list_json(const char *dir)
{
	char *out;
	size_t n;
	struct jv *v;

	CHECK(run(&out, &n, "--spool", dir, "list", "--json", NULL) == 0, "list --json");
	v = json_parse(out, n);
	CHECK(v && v->t == J_ARR && v->count == N, "a JSON array of %d", N);
	for (size_t i = 0; v && i < v->count && i < N; i++) {
		const struct jv *o = v->items[i], *rc = json_get(o, "recipients");
		struct spool_envelope env;
		struct spool_str rcpt[2];
		const struct jv *t = json_get(o, "time"), *tu = json_get(o, "time_us");

		env_of(&env, rcpt, (int)i);
		CHECK(jstr_is(json_get(o, "id"), qids[i], strlen(qids[i])), "id %zu", i);
		CHECK(t && t->t == J_STR && strncmp(t->s, "2023-11-14T22:13:20.1234", 24) == 0 &&
		          t->s[t->n - 1] == 'Z',
		      "time %zu: %s", i, t && t->s ? t->s : "?");
		CHECK(tu && tu->t == J_NUM && tu->num == (long long)env.recv_time_us, "time_us");
		CHECK(jstr_is(json_get(o, "client"),
		              i % 2 ? "[2001:db8::5]:54321" : "127.0.0.1:54321", i % 2 ? 19 : 15),
		      "client %zu", i);
		CHECK(jstr_is(json_get(o, "helo"), env.helo.p, env.helo.n), "helo %zu", i);
		CHECK(jstr_is(json_get(o, "from"), env.mail_from.p, env.mail_from.n), "from %zu",
		      i);
		CHECK(rc && rc->t == J_ARR && rc->count == env.nrcpt, "recipients %zu", i);
		for (size_t k = 0; rc && k < rc->count && k < env.nrcpt; k++)
			CHECK(jstr_is(rc->items[k], rcpt[k].p, rcpt[k].n), "rcpt %zu.%zu", i, k);
		CHECK(jstr_is(json_get(o, "verdict"), env.verdict.p, env.verdict.n), "verdict");
		CHECK(json_get(o, "size") && json_get(o, "size")->num > (long long)blen[i],
		      "size %zu", i);
	}
	json_free(v);
	free(out);
}

static void check_cat_export(const char *dir, const char *base)
{
	struct spool_reader *r;
	char *out, out_dir[400], md[400], p[800];
	size_t n;

	CHECK(spool_reader_open(&r, dir) == 0, "reader");
	snprintf(out_dir, sizeof(out_dir), "%s/export", base);
	snprintf(md, sizeof(md), "%s/maildir", base);
	CHECK(run(&out, &n, "--spool", dir, "export", out_dir, NULL) == 0, "export");
	free(out);
	CHECK(run(&out, &n, "--spool", dir, "export", md, "--maildir") == 0, "export --maildir");
	free(out);
	for (int i = 0; i < N; i++) {
		const struct spool_entry *e = spool_reader_find(r, qids[i]);
		char *want = e ? t_read_all(r, e) : NULL;
		struct stat st;

		CHECK(want && memcmp(want + e->received_len, bodies[i], blen[i]) == 0, "stored %d",
		      i);
		CHECK(run(&out, &n, "--spool", dir, "cat", qids[i], NULL) == 0, "cat %d", i);
		CHECK(want && n == e->size && memcmp(out, want, n) == 0, "cat %d byte-exact", i);
		CHECK(n > 15 && memcmp(out, "Received: from ", 15) == 0, "cat %d: Received first",
		      i);
		free(out);
		snprintf(p, sizeof(p), "%s/%s.eml", out_dir, qids[i]);
		CHECK(stat(p, &st) == 0 && e && (uint64_t)st.st_size == e->size, "%s.eml", qids[i]);
		snprintf(p, sizeof(p), "%s/%s.json", out_dir, qids[i]);
		CHECK(stat(p, &st) == 0 && st.st_size > 100, "%s.json", qids[i]);
		free(want);
	}
	snprintf(p, sizeof(p), "ls %s/new | wc -l | grep -qx %d", md, N);
	CHECK(system(p) == 0, "maildir new/ holds %d messages", N);
	snprintf(p, sizeof(p),
	         "grep -l '^Return-Path: <a@b.example>$' %s/new/* | wc -l | grep -qx %d", md,
	         N - 1);
	CHECK(system(p) == 0, "maildir files start with Return-Path");
	snprintf(p, sizeof(p), "! grep -lq $'\\r' %s/new/*", md);
	CHECK(system(p) == 0, "maildir files use LF");
	spool_reader_close(r);
}

static void flip_one_byte(const char *dir)
{
	char p[600];
	int fd;
	unsigned char c;
	off_t at;
	struct stat st;

	snprintf(p, sizeof(p), "%s/core-0/000001.seg", dir);
	fd = open(p, O_RDWR);
	CHECK(fd >= 0 && fstat(fd, &st) == 0, "segment");
	at = st.st_size / 2;
	CHECK(pread(fd, &c, 1, at) == 1, "read");
	c ^= 0x20;
	CHECK(pwrite(fd, &c, 1, at) == 1, "write");
	close(fd);
}

int main(int argc, char **argv)
{
	const char *base = t_tmpdir("test_tool");
	char dir[400], *out;
	size_t n;

	if (argc < 2)
		return printf("usage: test_tool PATH-TO-sluice-spool\n"), 2;
	tool = argv[1];
	if (io_uring_queue_init(64, &ring, 0) != 0)
		return printf("io_uring unavailable: skipped\n"), 77;
	snprintf(dir, sizeof(dir), "%s/spool", base);
	write_spool(dir);
	check_list_json(dir);
	check_cat_export(dir, base);
	CHECK(run(&out, &n, "--spool", dir, "list", NULL, NULL) == 0, "list");
	CHECK(memchr(out, '\n', n) && n > 0, "list output");
	{
		size_t lines = 0;

		for (size_t i = 0; i < n; i++)
			lines += out[i] == '\n';
		CHECK(lines == N, "one line per message (%zu)", lines);
	}
	free(out);
	CHECK(run(&out, &n, "--spool", dir, "stats", NULL, NULL) == 0, "stats");
	CHECK(memmem(out, n, "core-0", 6) != NULL, "stats per core");
	free(out);
	setenv("SLUICE_SPOOL", dir, 1);
	CHECK(run(&out, &n, "cat", qids[0], NULL, NULL, NULL) == 0, "$SLUICE_SPOOL");
	free(out);
	unsetenv("SLUICE_SPOOL");
	CHECK(run(&out, &n, "--spool", dir, "cat", "NOSUCHID", NULL) == 1, "unknown id");
	free(out);
	CHECK(run(&out, &n, "--spool", dir, "frobnicate", NULL, NULL) == 2, "usage");
	free(out);
	CHECK(run(&out, &n, "--spool", dir, "verify", NULL, NULL) == 0, "verify a clean spool");
	free(out);
	flip_one_byte(dir);
	CHECK(run(&out, &n, "--spool", dir, "verify", NULL, NULL) != 0, "verify after a flip");
	CHECK(memmem(out, n, "CRC", 3) || memmem(out, n, "corrupt", 7), "verify says why: %.*s",
	      (int)n, out);
	free(out);
	CHECK(run(&out, &n, "--spool", dir, "list", "--json", NULL) == 0, "list still works");
	{
		struct jv *v = json_parse(out, n);

		CHECK(v && v->t == J_ARR && v->count < N, "the damaged message is not listed");
		json_free(v);
	}
	free(out);
	io_uring_queue_exit(&ring);
	return t_report();
}
