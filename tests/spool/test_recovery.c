/* SPDX-License-Identifier: MIT */
/*
 * test_recovery.c - crash recovery (spool/segment.c, spool/scan.c, spool/reader.c).
 *
 * A writer stores K messages and closes. The segment is then cut at every byte offset from
 * the start of the last message's records to the end of the file (so at every offset of its
 * last record), as a crash could leave it. For each cut: the reader shows exactly the K-1
 * complete earlier messages, byte for byte (K when nothing was cut), and reports a torn tail
 * only when the cut is inside a record. For every cut inside the last record, and a sample of
 * the others (each costs flushes), a writer opened on it truncates the file to the last
 * complete record and the reader then finds no problem. A zero-filled tail is cut the same
 * way. Writing after recovery continues in the next segment number with fresh queue ids.
 * Last, a child writer under load is killed with SIGKILL three times: after recovery every
 * message it had acknowledged is there, whole, and the spool has no damage.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "spool/scan.h"
#include "tests/spool/spool_test.h"

#define K 4

static char bodies[K][400];
static size_t body_len[K];
static char qids[K][SPOOL_QUEUE_ID_MAX];
static struct io_uring ring;

static void env_for(struct spool_envelope *env, struct spool_str *rcpt, int i)
{
	static char from[K][32];

	t_env_init(env, "203.0.113.5", 2500 + (unsigned)i);
	snprintf(from[i], sizeof(from[i]), "sender%d@example.org", i);
	env->mail_from = t_str(from[i]);
	env->helo = t_str("relay.example.org");
	rcpt[0] = t_str("rcpt@example.net");
	env->rcpt = rcpt;
	env->nrcpt = 1;
}

static void small_config(struct spool_config *cfg, const char *dir)
{
	t_config(cfg, dir);
	cfg->batch_usec = 0;
	cfg->batch_bytes = 4096;
	cfg->batch_buffers = 2;
	cfg->max_messages = 16;
}

static void write_source(const char *dir)
{
	struct spool_config cfg;
	struct spool_writer *w;
	struct spool_envelope env;
	struct spool_str rcpt[1];

	small_config(&cfg, dir);
	CHECK(spool_writer_open(&w, &cfg, 0, &ring) == 0, "open");
	for (int i = 0; i < K; i++) {
		body_len[i] = 200 + (size_t)i * 50;
		for (size_t j = 0; j < body_len[i]; j++)
			bodies[i][j] = (char)(j % 13 == 0   ? '\n'
			                      : j % 17 == 0 ? 0
			                                    : 'A' + (i + j) % 26);
		env_for(&env, rcpt, i);
		CHECK(t_put(w, &ring, &env, bodies[i], body_len[i], qids[i]) == 0, "put %d", i);
	}
	CHECK(spool_writer_close(w) == 0, "close");
}

static char *slurp(const char *path, size_t *n)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	char *p;

	if (fd < 0 || fstat(fd, &st) != 0)
		return NULL;
	p = malloc((size_t)st.st_size + 1);
	*n = read(fd, p, (size_t)st.st_size) == st.st_size ? (size_t)st.st_size : 0;
	close(fd);
	return p;
}

static void put_file(const char *dir, const char *data, size_t n)
{
	char p[600];
	int fd;

	t_rmtree(dir);
	mkdir(dir, 0750);
	snprintf(p, sizeof(p), "%s/core-0", dir);
	mkdir(p, 0750);
	snprintf(p, sizeof(p), "%s/core-0/000001.seg", dir);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	CHECK(fd >= 0 && write(fd, data, n) == (ssize_t)n, "write copy");
	close(fd);
}

static long file_size(const char *dir)
{
	char p[600];
	struct stat st;

	snprintf(p, sizeof(p), "%s/core-0/000001.seg", dir);
	return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

/* The reader shows exactly the first want messages of the source, byte for byte. */
static void expect_messages(const char *dir, int want, int problems, size_t cut)
{
	struct spool_reader *r;
	int n;

	if (spool_reader_open(&r, dir) != 0) {
		CHECK(0, "reader open at cut %zu", cut);
		return;
	}
	n = (int)spool_reader_count(r);
	CHECK(n == want, "cut %zu: %d messages, want %d", cut, n, want);
	CHECK((int)spool_reader_problem_count(r) == problems, "cut %zu: %zu problems, want %d (%s)",
	      cut, spool_reader_problem_count(r), problems,
	      spool_reader_problem_count(r) ? spool_reader_problem(r, 0) : "");
	for (int i = 0; i < n && i < K; i++) {
		const struct spool_entry *e = spool_reader_entry(r, i);
		char *got = t_read_all(r, e);

		CHECK(got && strcmp(e->queue_id, qids[i]) == 0, "cut %zu: id %d", cut, i);
		CHECK(got && e->size == e->received_len + body_len[i] &&
		          memcmp(got + e->received_len, bodies[i], body_len[i]) == 0,
		      "cut %zu: body %d", cut, i);
		free(got);
	}
	spool_reader_close(r);
}

static void recover(const char *dir)
{
	struct spool_config cfg;
	struct spool_writer *w;

	small_config(&cfg, dir);
	CHECK(spool_writer_open(&w, &cfg, 0, &ring) == 0, "recovery open");
	CHECK(spool_writer_close(w) == 0, "recovery close");
}

/* --- kill -9 under load ------------------------------------------------------------------ */

static int ack_fd = -1;

static void ack_cb(void *arg, int result, const char *qid)
{
	char line[SPOOL_QUEUE_ID_MAX + 1];
	int n = snprintf(line, sizeof(line), "%s\n", qid);

	*(int *)arg = 0; /* the session may start again */
	if (result == 0 && write(ack_fd, line, (size_t)n) != n)
		_exit(3);
}

/* The child: 16 sessions committing 3 KB messages forever, reporting each ack. */
static void load_child(const char *dir)
{
	struct spool_config cfg;
	struct spool_writer *w;
	struct spool_envelope env;
	struct spool_str rcpt[1];
	int busy[16] = {0};

	io_uring_queue_exit(&ring);
	if (io_uring_queue_init(64, &ring, 0) != 0)
		_exit(2);
	small_config(&cfg, dir);
	cfg.segment_size = 256 << 10;
	cfg.batch_usec = 300;
	if (spool_writer_open(&w, &cfg, 0, &ring) != 0)
		_exit(2);
	env_for(&env, rcpt, 1);
	for (;;) {
		for (int i = 0; i < 16; i++) {
			struct spool_msg *m;

			if (busy[i] || !(m = spool_msg_begin(w, &env)))
				continue;
			if (spool_msg_append(w, m, bodies[i % K], body_len[i % K]) != 0 ||
			    spool_msg_append(w, m, bodies[(i + 1) % K], body_len[(i + 1) % K])) {
				spool_msg_abort(w, m); /* -EAGAIN: buffers full */
				continue;
			}
			busy[i] = 1;
			spool_msg_commit(w, m, ack_cb, &busy[i]);
		}
		t_loop_once(w, &ring, 1000);
	}
}

/* The message is two consecutive source bodies, as the child writes them. */
static int whole(struct spool_reader *r, const struct spool_entry *e)
{
	char *m = t_read_all(r, e);
	int ok = 0;

	for (int j = 0; m && j < K && !ok; j++) {
		size_t a = body_len[j], b = body_len[(j + 1) % K];

		ok = e->size == e->received_len + a + b &&
		     memcmp(m + e->received_len, bodies[j], a) == 0 &&
		     memcmp(m + e->received_len + a, bodies[(j + 1) % K], b) == 0;
	}
	free(m);
	return ok;
}

static void kill_under_load(const char *base)
{
	char dir[300], buf[1 << 16], *p;
	size_t have = 0, total = 0;

	snprintf(dir, sizeof(dir), "%s/killed", base);
	for (int round = 0; round < 3; round++) {
		struct spool_reader *r;
		int pfd[2], missing = 0;
		pid_t pid;
		ssize_t got;

		CHECK(pipe(pfd) == 0, "pipe");
		if ((pid = fork()) == 0) {
			close(pfd[0]);
			ack_fd = pfd[1];
			load_child(dir);
		}
		close(pfd[1]);
		usleep(100000 + (useconds_t)round * 70000);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		have = 0;
		while ((got = read(pfd[0], buf + have, sizeof(buf) - 1 - have)) > 0)
			have += (size_t)got;
		close(pfd[0]);
		buf[have] = 0;
		recover(dir);
		CHECK(spool_reader_open(&r, dir) == 0, "reader after kill");
		for (p = strtok(buf, "\n"); p; p = strtok(NULL, "\n")) {
			const struct spool_entry *e = spool_reader_find(r, p);

			total++;
			missing += e == NULL;
			if (e)
				CHECK(whole(r, e), "content of %s", p);
		}
		CHECK(missing == 0, "round %d: %d acknowledged messages lost", round, missing);
		CHECK(spool_reader_problem_count(r) == 0, "round %d: %s", round,
		      spool_reader_problem_count(r) ? spool_reader_problem(r, 0) : "");
		spool_reader_close(r);
	}
	CHECK(total > 0, "messages were acknowledged before the kills (%zu)", total);
}

/* Writing after recovery: segment 2, new ids, nothing lost. */
static void write_after(const char *dst)
{
	struct spool_config cfg;
	struct spool_writer *w;
	struct spool_envelope env;
	struct spool_str rcpt[1];
	struct spool_reader *r;
	char qid[SPOOL_QUEUE_ID_MAX], p[600];
	struct stat st;

	small_config(&cfg, dst);
	CHECK(spool_writer_open(&w, &cfg, 0, &ring) == 0, "open after recovery");
	env_for(&env, rcpt, 0);
	CHECK(t_put(w, &ring, &env, "new\r\n", 5, qid) == 0, "put after recovery");
	spool_writer_close(w);
	snprintf(p, sizeof(p), "%s/core-0/000002.seg", dst);
	CHECK(stat(p, &st) == 0, "the next segment is 000002.seg");
	for (int i = 0; i < K; i++)
		CHECK(strcmp(qid, qids[i]) != 0, "queue id %s reused", qid);
	CHECK(spool_reader_open(&r, dst) == 0, "reader");
	CHECK(spool_reader_count(r) == K, "K-1 old + 1 new (%zu)", spool_reader_count(r));
	CHECK(spool_reader_find(r, qid) != NULL, "new message listed");
	CHECK(spool_reader_problem_count(r) == 0, "no problems");
	spool_reader_close(r);
}

int main(void)
{
	const char *base = t_tmpdir("test_recovery");
	char src[300], dst[300], seg[400];
	size_t n = 0, start = 0, bounds[64], nb = 0;
	struct spool_scan s;
	char *data;
	int fd;

	if (io_uring_queue_init(64, &ring, 0) != 0)
		return printf("io_uring unavailable: skipped\n"), 77;
	snprintf(src, sizeof(src), "%s/src", base);
	snprintf(dst, sizeof(dst), "%s/cut", base);
	write_source(src);
	snprintf(seg, sizeof(seg), "%s/core-0/000001.seg", src);
	data = slurp(seg, &n);
	CHECK(data && n > 0, "source segment");
	if (!data || !n)
		return t_report();
	fd = open(seg, O_RDONLY);
	spool_scan_init(&s, fd);
	while (spool_scan_next(&s) > 0 && nb < 64) {
		if (s.hdr.type == SPOOL_REC_BEGIN)
			start = s.rec_off;
		bounds[nb++] = s.off;
	}
	CHECK(!s.bad && s.off == n, "the source is clean");
	spool_scan_free(&s);
	close(fd);
	for (size_t cut = start; cut <= n; cut++) {
		size_t keep = 0;
		int boundary = 0;

		for (size_t i = 0; i < nb; i++) {
			if (bounds[i] <= cut)
				keep = bounds[i];
			boundary |= bounds[i] == cut;
		}
		put_file(dst, data, cut);
		expect_messages(dst, cut == n ? K : K - 1, boundary || cut == start ? 0 : 1, cut);
		/* the writer's recovery flushes: every offset of the last record, a sample before
		 */
		if (cut < bounds[nb - 2] && !boundary && (cut - start) % 7 != 0)
			continue;
		recover(dst);
		CHECK(file_size(dst) == (long)keep, "cut %zu: truncated to %ld, want %zu", cut,
		      file_size(dst), keep);
		expect_messages(dst, cut == n ? K : K - 1, 0, cut);
	}
	/* a zero-filled tail (size extended, data never written) */
	memset(data + start, 0, n - start);
	put_file(dst, data, n);
	expect_messages(dst, K - 1, 1, n);
	recover(dst);
	CHECK(file_size(dst) == (long)start, "zero tail cut at %zu (%ld)", start, file_size(dst));
	write_after(dst);
	kill_under_load(base);
	free(data);
	io_uring_queue_exit(&ring);
	return t_report();
}
