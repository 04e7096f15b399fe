/* SPDX-License-Identifier: MIT */
/*
 * test_retention.c - consumption and retention (spool/retention.c): spool_reader_next() walks
 * unconsumed messages in commit order; checkpoints persist across reopen; consumed segments
 * are deleted, except the newest, any segment holding an unconsumed message, and any segment
 * where a still-open message of the live writer began (it commits later and must stay whole).
 * A message left open by a writer that died (here: a child that exits without closing) does
 * not pin segments once a new writer epoch has started.
 */
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests/spool/spool_test.h"

static struct io_uring ring;
static char body[2000];

static void env_of(struct spool_envelope *env, struct spool_str *rcpt)
{
	t_env_init(env, "192.0.2.99", 5555);
	env->mail_from = t_str("ret@example.com");
	rcpt[0] = t_str("keep@example.com");
	env->rcpt = rcpt;
	env->nrcpt = 1;
}

static void config(struct spool_config *cfg, const char *dir)
{
	t_config(cfg, dir);
	cfg->segment_size = 16 << 10;
	cfg->batch_usec = 0;
}

static int seg_exists(const char *dir, uint64_t seq)
{
	char p[600];
	struct stat st;

	snprintf(p, sizeof(p), "%s/core-0/%06llu.seg", dir, (unsigned long long)seq);
	return stat(p, &st) == 0;
}

static void put_n(struct spool_writer *w, int first, int n, char ids[][SPOOL_QUEUE_ID_MAX])
{
	struct spool_envelope env;
	struct spool_str rcpt[1];

	env_of(&env, rcpt);
	for (int i = 0; i < n; i++) {
		memset(body, '.', sizeof(body));
		snprintf(body, sizeof(body), "message %d\r\n", first + i);
		CHECK(t_put(w, &ring, &env, body, sizeof(body), ids ? ids[i] : NULL) == 0, "put");
	}
}

static void flush_all(struct spool_writer *w)
{
	for (uint64_t end = t_now_us() + 2000000; !spool_writer_idle(w) && t_now_us() < end;)
		t_loop_once(w, &ring, 1000);
}

/* The open message commits; then everything is consumed and all but the newest goes. */
static void finish_live(const char *dir, struct spool_writer *w, struct spool_msg *live)
{
	struct spool_reader *r;
	const struct spool_entry *e, *le;
	struct t_result lr = {0};

	CHECK(spool_msg_append(w, live, "live part 2\r\n", 13) == 0, "live continues");
	spool_msg_commit(w, live, t_commit_cb, &lr);
	t_loop_until(w, &ring, &lr.done, 5000000);
	CHECK(lr.done && lr.result == 0, "live commits (%d)", lr.result);
	CHECK(spool_writer_close(w) == 0, "close");

	CHECK(spool_reader_open(&r, dir) == 0, "reopen");
	le = spool_reader_find(r, lr.qid);
	CHECK(le != NULL, "the live message is whole");
	if (le) {
		char *got = t_read_all(r, le);

		CHECK(got && le->size == le->received_len + 26 &&
		          memcmp(got + le->received_len, "live part 1\r\nlive part 2\r\n", 26) == 0,
		      "live body");
		free(got);
	}
	while ((e = spool_reader_next(r)) != NULL)
		spool_reader_consume(r, e);
	CHECK(spool_reader_checkpoint(r, 1) > 0, "the rest deleted");
	{
		uint64_t segs, bytes, msgs;

		spool_reader_core_stats(r, 0, &segs, &bytes, &msgs);
		for (uint64_t s = 1; s < segs; s++)
			CHECK(!seg_exists(dir, s), "segment %llu gone", (unsigned long long)s);
	}
	spool_reader_close(r);
	CHECK(spool_reader_open(&r, dir) == 0, "reopen");
	CHECK(spool_reader_next(r) == NULL, "nothing left to consume");
	spool_reader_close(r);
}

static void live_writer(const char *dir)
{
	static char ids[100][SPOOL_QUEUE_ID_MAX];
	struct spool_config cfg;
	struct spool_writer *w;
	struct spool_envelope env;
	struct spool_str rcpt[1];
	struct spool_msg *live;
	struct spool_reader *r;
	const struct spool_entry *e;
	uint64_t live_seg = 0;
	int n = 0, deleted;

	config(&cfg, dir);
	CHECK(spool_writer_open(&w, &cfg, 0, &ring) == 0, "open");
	put_n(w, 0, 20, ids);
	env_of(&env, rcpt);
	live = t_begin(w, &ring, &env);
	CHECK(live && spool_msg_append(w, live, "live part 1\r\n", 13) == 0, "live message");
	flush_all(w);
	put_n(w, 20, 80, ids + 20);
	flush_all(w);

	CHECK(spool_reader_open(&r, dir) == 0, "reader");
	CHECK(spool_reader_count(r) == 100, "100 committed (%zu)", spool_reader_count(r));
	while ((e = spool_reader_next(r)) != NULL) {
		CHECK(strcmp(e->queue_id, ids[n]) == 0, "commit order at %d", n);
		if (n < 50)
			spool_reader_consume(r, e);
		n++;
	}
	CHECK(n == 100, "next() walked %d", n);
	live_seg = spool_reader_find(r, ids[19])->commit_seg;
	deleted = spool_reader_checkpoint(r, 1);
	CHECK(deleted > 0, "segments deleted (%d)", deleted);
	for (uint64_t s = 1; s < live_seg; s++)
		CHECK(!seg_exists(dir, s), "segment %llu deleted", (unsigned long long)s);
	CHECK(seg_exists(dir, live_seg), "segment %llu, where the open message began, kept",
	      (unsigned long long)live_seg);
	spool_reader_close(r);

	CHECK(spool_reader_open(&r, dir) == 0, "reopen");
	e = spool_reader_next(r);
	CHECK(e && strcmp(e->queue_id, ids[50]) == 0, "the checkpoint resumes at message 50 (%s)",
	      e ? e->queue_id : "none");
	if (e) {
		char *got = t_read_all(r, e);

		memset(body, '.', sizeof(body));
		snprintf(body, sizeof(body), "message %d\r\n", 50);
		CHECK(got && memcmp(got + e->received_len, body, sizeof(body)) == 0, "body 50");
		free(got);
	}
	spool_reader_close(r);

	finish_live(dir, w, live);
}

/* A child writer dies with a message open; a later writer's epoch frees its segments. */
static void dead_writer(const char *dir)
{
	struct spool_config cfg;
	struct spool_writer *w;
	struct spool_reader *r;
	const struct spool_entry *e;
	pid_t pid = fork();
	int status = 0;

	if (pid == 0) {
		struct spool_envelope env;
		struct spool_str rcpt[1];
		struct spool_msg *m;

		io_uring_queue_exit(&ring);
		io_uring_queue_init(64, &ring, 0);
		config(&cfg, dir);
		if (spool_writer_open(&w, &cfg, 0, &ring) != 0)
			_exit(2);
		env_of(&env, rcpt);
		m = t_begin(w, &ring, &env);
		spool_msg_append(w, m, "orphan\r\n", 8);
		put_n(w, 0, 30, NULL);
		flush_all(w);
		_exit(t_fail ? 1 : 0); /* no close: as if killed */
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child writer (status %#x)", status);
	config(&cfg, dir);
	CHECK(spool_writer_open(&w, &cfg, 0, &ring) == 0, "new epoch");
	put_n(w, 0, 3, NULL);
	spool_writer_close(w);
	CHECK(spool_reader_open(&r, dir) == 0, "reader");
	while ((e = spool_reader_next(r)) != NULL)
		spool_reader_consume(r, e);
	CHECK(spool_reader_checkpoint(r, 1) > 0, "the dead writer's segments go");
	{
		DIR *d;
		struct dirent *de;
		char p[600];
		int nseg = 0;

		snprintf(p, sizeof(p), "%s/core-0", dir);
		d = opendir(p);
		while (d && (de = readdir(d)) != NULL)
			nseg += strstr(de->d_name, ".seg") != NULL;
		if (d)
			closedir(d);
		CHECK(nseg == 1, "only the newest segment is left (%d)", nseg);
	}
	spool_reader_close(r);
}

int main(void)
{
	const char *base = t_tmpdir("test_retention");
	char a[400], b[400];

	if (io_uring_queue_init(64, &ring, 0) != 0)
		return printf("io_uring unavailable: skipped\n"), 77;
	snprintf(a, sizeof(a), "%s/live", base);
	snprintf(b, sizeof(b), "%s/dead", base);
	live_writer(a);
	dead_writer(b);
	io_uring_queue_exit(&ring);
	return t_report();
}
