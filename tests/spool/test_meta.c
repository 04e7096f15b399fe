/* SPDX-License-Identifier: MIT */
/*
 * test_meta.c - commit-time metadata (spool_msg_commit_meta(), META records, format version 2).
 *
 * Through the writer and the reader: a message committed with a verdict, tags, added header
 * lines and the quarantine flag reads back with the commit-time verdict and tags (replacing the
 * envelope's), the flag, and its octets as Received: + added headers + body, byte-exact whole
 * and in small random pieces; a plain commit is unchanged; new segments carry version 2. A
 * hand-built version 1 segment is still read; a version 3 segment is refused and reported; a
 * malformed META drops its message as corrupt. With the tool (argv[1]): `cat` is byte-exact,
 * `list --json` has verdict, tags and "quarantine", `export` puts quarantined messages in
 * quarantine/.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "spool/format.h"
#include "tests/spool/spool_test.h"

static const char *tool;

static const char body[] = "Subject: hi\r\n\r\nhello\r\n";
static const char hdrs[] = "X-Spam-Flag: YES\r\nX-Sluice-Rule: r1\r\n";

struct meta_case {
	const char *verdict, *tags, *headers;
	int quarantine, plain;
	char qid[SPOOL_QUEUE_ID_MAX];
};

static struct meta_case cases[] = {
    {"quarantine", "r1,r2", hdrs, 1, 0, ""},
    {NULL, NULL, NULL, 0, 1, ""},
    {"pass", "t9", "", 0, 0, ""},
};
#define NCASE (sizeof(cases) / sizeof(cases[0]))

static int put_meta(struct spool_writer *w, struct io_uring *ring, struct meta_case *mc)
{
	struct spool_envelope env;
	struct spool_str rcpt = t_str("bob@example.org");
	struct spool_commit_meta meta = {0};
	struct t_result r = {0};
	struct spool_msg *m;

	t_env_init(&env, "192.0.2.7", 2525);
	env.mail_from = t_str("alice@example.com");
	env.nrcpt = 1;
	env.rcpt = &rcpt;
	env.verdict = t_str("accept");
	if (!(m = t_begin(w, ring, &env)) || t_append(w, ring, m, body, strlen(body), 7) != 0)
		return -EIO;
	if (!mc->plain) {
		meta.verdict = t_str(mc->verdict);
		meta.tags = t_str(mc->tags);
		meta.headers = t_str(mc->headers);
		meta.quarantine = (uint8_t)mc->quarantine;
	}
	if (spool_msg_commit_meta(w, m, mc->plain ? NULL : &meta, t_commit_cb, &r) != 0)
		return -EINVAL;
	if (!t_loop_until(w, ring, &r.done, 10000000))
		return -ETIMEDOUT;
	snprintf(mc->qid, sizeof(mc->qid), "%s", r.qid);
	return r.result;
}

static int str_is(struct spool_str s, const char *want)
{
	return s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

static void check_entry(struct spool_reader *r, const struct meta_case *mc)
{
	const struct spool_entry *e = spool_reader_find(r, mc->qid);
	size_t hl = mc->plain ? 0 : strlen(mc->headers), bl = strlen(body);
	char *all, piece[8];
	uint64_t off = 0;

	CHECK(e != NULL, "%s listed", mc->qid);
	if (!e)
		return;
	CHECK(str_is(e->env.verdict, mc->plain ? "accept" : mc->verdict), "verdict %.*s",
	      (int)e->env.verdict.n, e->env.verdict.p);
	CHECK(str_is(e->env.tags, mc->plain ? "" : mc->tags), "tags");
	CHECK(e->quarantine == mc->quarantine, "quarantine flag");
	CHECK(e->added_len == hl && e->size == e->received_len + hl + bl, "sizes");
	all = t_read_all(r, e);
	CHECK(all != NULL, "read");
	if (!all)
		return;
	CHECK(memcmp(all, "Received: ", 10) == 0, "Received: first");
	CHECK(memcmp(all + e->received_len, mc->plain ? "" : mc->headers, hl) == 0, "headers");
	CHECK(memcmp(all + e->received_len + hl, body, bl) == 0, "body after the headers");
	while (off < e->size) { /* random small pieces across the three parts */
		size_t k = 1 + (size_t)(off * 7 % 8);
		long got = spool_reader_read(r, e, off, piece, k);

		CHECK(got > 0 && memcmp(piece, all + off, (size_t)got) == 0, "piece at %llu",
		      (unsigned long long)off);
		if (got <= 0)
			break;
		off += (uint64_t)got;
	}
	CHECK(spool_reader_read(r, e, e->size, piece, 1) == 0, "end");
	free(all);
}

static uint32_t seg_version(const char *dir, unsigned core, unsigned seq)
{
	char p[700];
	uint8_t h[SPOOL_REC_HDR + SPOOL_SEG_HDR_LEN];
	int fd;
	ssize_t n;

	snprintf(p, sizeof(p), "%s/core-%u/%06u.seg", dir, core, seq);
	if ((fd = open(p, O_RDONLY)) < 0)
		return 0;
	n = read(fd, h, sizeof(h));
	close(fd);
	return n == (ssize_t)sizeof(h) ? spool_get32(h + SPOOL_REC_HDR + 8) : 0;
}

static void write_v2(const char *dir)
{
	struct spool_config cfg;
	struct spool_writer *w;
	struct io_uring ring;

	t_config(&cfg, dir);
	CHECK(io_uring_queue_init(64, &ring, 0) == 0, "ring");
	CHECK(spool_writer_open(&w, &cfg, 0, &ring) == 0, "open writer");
	for (size_t i = 0; i < NCASE; i++)
		CHECK(put_meta(w, &ring, &cases[i]) == 0, "commit %zu", i);
	CHECK(spool_writer_close(w) == 0, "close writer");
	io_uring_queue_exit(&ring);
	CHECK(seg_version(dir, 0, 1) == 2, "new segments are version 2");
}

/* Appends one record (payload p, n) to buf at *len. */
static void rec(uint8_t *buf, size_t *len, unsigned type, uint32_t key, const void *p, size_t n)
{
	memcpy(buf + *len + SPOOL_REC_HDR, p, n);
	*len += spool_rec_seal(buf + *len, type, key, (uint32_t)n);
}

/* A segment built by hand with the given version: one message "K" (Received + body). */
static void write_handmade(const char *dir, unsigned core, uint32_t version, int bad_meta)
{
	static uint8_t buf[8192];
	const char *recv = "Received: from x\r\n", *msg = "Received: from x\r\nhi\r\n";
	struct spool_seg_hdr sh = {version, core, 1, 1000 + version, 2000};
	struct spool_envelope env;
	uint8_t p[1024], meta[64];
	size_t len = 0, n;
	char path[700];
	int fd;

	t_env_init(&env, "198.51.100.1", 25);
	env.mail_from = t_str("old@example.com");
	env.verdict = t_str("accept");
	spool_seg_hdr_encode(p, &sh);
	rec(buf, &len, SPOOL_REC_SEGMENT, 0, p, SPOOL_SEG_HDR_LEN);
	n = spool_env_size(&env, "0000000000000HANDMADE", (uint32_t)strlen(recv));
	spool_env_encode(p, &env, "0000000000000HANDMADE", (uint32_t)strlen(recv));
	rec(buf, &len, SPOOL_REC_BEGIN, 9, p, n);
	rec(buf, &len, SPOOL_REC_DATA, 9, msg, strlen(msg));
	if (bad_meta) { /* a field whose length runs past the payload */
		spool_put16(meta, SPOOL_META_VERDICT);
		spool_put32(meta + 2, 100);
		rec(buf, &len, SPOOL_REC_META, 9, meta, 10);
	}
	spool_commit_encode(p, strlen(msg), spool_crc32c(0, msg, strlen(msg)));
	rec(buf, &len, SPOOL_REC_COMMIT, 9, p, SPOOL_COMMIT_LEN);
	snprintf(path, sizeof(path), "%s/core-%u", dir, core);
	mkdir(path, 0750);
	snprintf(path, sizeof(path), "%s/core-%u/000001.seg", dir, core);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	CHECK(fd >= 0 && write(fd, buf, len) == (ssize_t)len, "write %s", path);
	close(fd);
}

static void check_versions(const char *base)
{
	char dir[512], *all;
	struct spool_reader *r;
	const struct spool_entry *e;
	struct spool_reader_stats st;

	snprintf(dir, sizeof(dir), "%s/versions", base);
	mkdir(dir, 0750);
	write_handmade(dir, 1, 1, 0); /* version 1: read */
	write_handmade(dir, 2, 3, 0); /* version 3: refused */
	write_handmade(dir, 3, 2, 1); /* malformed META: the message is dropped */
	CHECK(spool_reader_open(&r, dir) == 0, "open reader");
	CHECK(spool_reader_count(r) == 1, "one message (%zu)", spool_reader_count(r));
	e = spool_reader_entry(r, 0);
	CHECK(e && e->core == 1 && e->added_len == 0 && !e->quarantine &&
	          str_is(e->env.verdict, "accept"),
	      "version 1 message");
	all = e ? t_read_all(r, e) : NULL;
	CHECK(all && e->size == 22 && memcmp(all, "Received: from x\r\nhi\r\n", 22) == 0,
	      "version 1 octets");
	free(all);
	spool_reader_stats(r, &st);
	CHECK(st.corrupt >= 2 && spool_reader_problem_count(r) >= 2, "version 3 and bad META");
	spool_reader_close(r);
}

/* Runs the tool with up to four arguments; returns its output (malloc'ed) or NULL. */
static char *run_tool(size_t *n, const char *a, const char *b, const char *c, const char *d)
{
	char cmd[2048];
	char *out = malloc(1 << 16);
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' %s %s %s %s 2>/dev/null", tool, a, b, c ? c : "",
	         d ? d : "");
	if (!out || !(f = popen(cmd, "r")))
		return free(out), NULL;
	*n = fread(out, 1, (1 << 16) - 1, f);
	out[*n] = 0;
	if (pclose(f) != 0)
		return free(out), NULL;
	return out;
}

static void check_tool(const char *dir, const char *base)
{
	char want[1024], exp[600], p[700];
	size_t n;
	char *out;
	struct stat st;

	out = run_tool(&n, "--spool", dir, "cat", cases[0].qid);
	snprintf(want, sizeof(want), "%s%s", hdrs, body);
	CHECK(out && n > strlen(want) && memcmp(out, "Received: ", 10) == 0, "cat");
	if (out) {
		char *h = strstr(out, "\r\nX-Spam-Flag");

		CHECK(h && strcmp(h + 2, want) == 0, "cat: headers right after Received:");
		CHECK(h && memmem(out, (size_t)(h - out), "\r\n", 2) != NULL, "Received: folded");
	}
	free(out);
	out = run_tool(&n, "--spool", dir, "list", "--json");
	CHECK(out &&
	          strstr(out, "\"verdict\":\"quarantine\",\"tags\":\"r1,r2\",\"quarantine\":true"),
	      "list --json: quarantined");
	CHECK(out && strstr(out, "\"verdict\":\"accept\",\"tags\":\"\",\"quarantine\":false"),
	      "list --json: plain");
	CHECK(out && strstr(out, "\"verdict\":\"pass\",\"tags\":\"t9\",\"quarantine\":false"),
	      "list --json: pass");
	free(out);
	out = run_tool(&n, "--spool", dir, "list", NULL);
	CHECK(out && strstr(out, " verdict=quarantine quarantine\n"), "list: quarantine");
	free(out);
	snprintf(exp, sizeof(exp), "%s/export", base);
	out = run_tool(&n, "--spool", dir, "export", exp);
	free(out);
	snprintf(p, sizeof(p), "%s/quarantine/%s.eml", exp, cases[0].qid);
	CHECK(stat(p, &st) == 0, "export: quarantine/");
	snprintf(p, sizeof(p), "%s/%s.eml", exp, cases[1].qid);
	CHECK(stat(p, &st) == 0, "export: plain in OUTDIR");
	snprintf(p, sizeof(p), "%s/%s.eml", exp, cases[0].qid);
	CHECK(stat(p, &st) != 0, "export: quarantined not in OUTDIR");
}

int main(int argc, char **argv)
{
	const char *base = t_tmpdir("meta");
	struct spool_reader *r;
	struct io_uring ring;
	char dir[512];

	tool = argc > 1 ? argv[1] : NULL;
	if (io_uring_queue_init(8, &ring, 0) != 0)
		return printf("io_uring unavailable: skipped\n"), 77;
	io_uring_queue_exit(&ring);
	snprintf(dir, sizeof(dir), "%s/spool", base);
	write_v2(dir);
	CHECK(spool_reader_open(&r, dir) == 0, "open reader");
	CHECK(spool_reader_count(r) == NCASE, "count");
	CHECK(spool_reader_problem_count(r) == 0, "no problem");
	for (size_t i = 0; i < NCASE; i++)
		check_entry(r, &cases[i]);
	spool_reader_close(r);
	check_versions(base);
	if (tool)
		check_tool(dir, base);
	return t_report();
}
