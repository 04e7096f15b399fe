/* SPDX-License-Identifier: MIT */
/*
 * test_writer.c - the writer's happy path and group commit (spool/writer.c, spool/batch.c):
 * callbacks never fire inside commit and only after a flush; many messages committed together
 * share one fdatasync (counted through spool_writer_stats); segments rotate and numbering
 * continues after a reopen; back-pressure with -EAGAIN consumes nothing.
 */
#include <dirent.h>
#include <sys/stat.h>

#include "tests/spool/spool_test.h"

#define NMSG 64

struct ctx {
	struct spool_writer *w;
	struct t_result r[NMSG];
	uint64_t fsyncs_at_cb[NMSG];
	int ndone;
};

static struct ctx g;

static void cb(void *arg, int result, const char *qid)
{
	struct spool_writer_stats st;
	size_t i = (size_t)((struct t_result *)arg - g.r);

	t_commit_cb(arg, result, qid);
	spool_writer_stats(g.w, &st);
	g.fsyncs_at_cb[i] = st.fsyncs;
	g.ndone++;
}

static int count_segments(const char *dir, unsigned core)
{
	char p[512];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(p, sizeof(p), "%s/core-%u", dir, core);
	if (!(d = opendir(p)))
		return -1;
	while ((de = readdir(d)) != NULL)
		n += strstr(de->d_name, ".seg") != NULL;
	closedir(d);
	return n;
}

static void fill_env(struct spool_envelope *env, struct spool_str *rcpt)
{
	t_env_init(env, "192.0.2.7", 40000);
	env->helo = t_str("client.example");
	env->client_name = t_str("mail.client.example");
	env->mail_from = t_str("alice@client.example");
	rcpt[0] = t_str("bob@dest.example");
	env->rcpt = rcpt;
	env->nrcpt = 1;
	env->verdict = t_str("accept");
}

static void test_group_commit(const char *dir, struct io_uring *ring)
{
	struct spool_config cfg;
	struct spool_envelope env;
	struct spool_str rcpt[1];
	struct spool_msg *m[NMSG];
	struct spool_writer_stats st;
	char body[1024];

	t_config(&cfg, dir);
	cfg.batch_usec = 2000;
	CHECK(spool_writer_open(&g.w, &cfg, 0, ring) == 0, "open");
	spool_writer_poll(g.w, t_now_us());
	fill_env(&env, rcpt);
	memset(body, 'x', sizeof(body));
	for (int i = 0; i < NMSG; i++) {
		m[i] = spool_msg_begin(g.w, &env);
		CHECK(m[i] != NULL, "begin %d: %s", i, strerror(errno));
		if (!m[i])
			return;
		CHECK(strlen(spool_msg_queue_id(m[i])) < SPOOL_QUEUE_ID_MAX, "qid length");
		CHECK(spool_msg_append(g.w, m[i], "Subject: t\r\n\r\n", 14) == 0, "append");
		CHECK(spool_msg_append(g.w, m[i], body, sizeof(body)) == 0, "append");
	}
	for (int i = 0; i < NMSG; i++)
		CHECK(spool_msg_commit(g.w, m[i], cb, &g.r[i]) == 0, "commit");
	CHECK(g.ndone == 0, "no callback inside commit (%d)", g.ndone);
	for (int i = 1; i < NMSG; i++)
		CHECK(strcmp(spool_msg_queue_id(m[i]), spool_msg_queue_id(m[i - 1])) > 0,
		      "queue ids increase");
	for (uint64_t end = t_now_us() + 5000000; g.ndone < NMSG && t_now_us() < end;)
		t_loop_once(g.w, ring, 10000);
	CHECK(g.ndone == NMSG, "all callbacks (%d)", g.ndone);
	for (int i = 0; i < NMSG; i++) {
		CHECK(g.r[i].result == 0, "result %d", g.r[i].result);
		CHECK(g.fsyncs_at_cb[i] >= 1, "callback %d before any flush", i);
	}
	spool_writer_stats(g.w, &st);
	CHECK(st.fsyncs <= 2, "64 messages committed together need at most 2 flushes, got %llu",
	      (unsigned long long)st.fsyncs);
	CHECK(st.max_batch_msgs >= NMSG / 2, "one flush covered %llu messages",
	      (unsigned long long)st.max_batch_msgs);
	CHECK(st.dir_fsyncs >= 1, "directory fsync for the new segment");
	CHECK(st.committed == NMSG, "committed %llu", (unsigned long long)st.committed);
	CHECK(spool_writer_idle(g.w), "idle");
	CHECK(spool_writer_close(g.w) == 0, "close");
	CHECK(count_segments(dir, 0) == 1, "one segment (%d)", count_segments(dir, 0));
}

static void test_rotation(const char *dir, struct io_uring *ring)
{
	struct spool_config cfg;
	struct spool_envelope env;
	struct spool_str rcpt[1];
	static struct t_result r[200];
	static char body[20000];
	int before = count_segments(dir, 0), done = 0;

	t_config(&cfg, dir);
	cfg.segment_size = 64 << 10;
	cfg.batch_bytes = 32 << 10;
	CHECK(spool_writer_open(&g.w, &cfg, 0, ring) == 0, "reopen");
	fill_env(&env, rcpt);
	memset(body, 'y', sizeof(body));
	for (int i = 0; i < 200; i++) {
		struct spool_msg *m;

		spool_writer_poll(g.w, t_now_us());
		m = spool_msg_begin(g.w, &env);
		while (!m && errno == EAGAIN) {
			t_loop_once(g.w, ring, 1000);
			m = spool_msg_begin(g.w, &env);
		}
		CHECK(m != NULL, "begin %d: %s", i, strerror(errno));
		if (!m)
			return;
		for (int rc; (rc = spool_msg_append(g.w, m, body, sizeof(body))) != 0;) {
			CHECK(rc == -EAGAIN, "append: %d", rc);
			if (rc != -EAGAIN)
				return;
			t_loop_once(g.w, ring, 1000);
		}
		spool_msg_commit(g.w, m, t_commit_cb, &r[i]);
	}
	for (uint64_t end = t_now_us() + 10000000; t_now_us() < end;) {
		done = 0;
		for (int i = 0; i < 200; i++)
			done += r[i].done;
		if (done == 200)
			break;
		t_loop_once(g.w, ring, 10000);
	}
	CHECK(done == 200, "all 200 committed (%d)", done);
	for (int i = 0; i < 200; i++)
		CHECK(r[i].done && r[i].result == 0, "result %d: %d", i, r[i].result);
	CHECK(spool_writer_close(g.w) == 0, "close");
	CHECK(count_segments(dir, 0) >= before + 40, "segments rotated (%d -> %d)", before,
	      count_segments(dir, 0));
	{
		char p[600];
		struct stat sb;

		snprintf(p, sizeof(p), "%s/core-0/000002.seg", dir);
		CHECK(stat(p, &sb) == 0, "numbering continues after reopen (000002.seg)");
	}
}

int main(void)
{
	const char *dir = t_tmpdir("test_writer");
	struct io_uring ring;

	if (io_uring_queue_init(256, &ring, 0) != 0) {
		printf("io_uring unavailable: skipped\n");
		return 77;
	}
	test_group_commit(dir, &ring);
	test_rotation(dir, &ring);
	io_uring_queue_exit(&ring);
	return t_report();
}
