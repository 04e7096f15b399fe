/* SPDX-License-Identifier: MIT */
/*
 * test_faults.c - failure handling (spool/batch.c) through the writer's fault hook: a write or
 * flush that fails with -EIO or -ENOSPC, a short write, a quota. In every case no success
 * callback fires for a message the failure touched; the writer seals the segment, opens a new
 * one, and later messages commit; the reader shows exactly the messages that got 0, byte for
 * byte, and finds no damage (the failed segment was cut back to its last good flush). Last,
 * random faults under a load of interleaved sessions, streams and aborts, with the same checks.
 */
#include <sys/stat.h>

#include "tests/spool/spool_test.h"

#define MAXM 64

static struct io_uring ring;
static char body[MAXM][3000];
static size_t blen[MAXM];

struct msgs {
	struct spool_msg *m[MAXM];
	struct t_result r[MAXM];
	int n;
	int quota; /* begin may be refused with ENOSPC */
};

static void env_of(struct spool_envelope *env, struct spool_str *rcpt)
{
	t_env_init(env, "198.51.100.20", 3333);
	env->helo = t_str("faulty.example");
	env->mail_from = t_str("f@faulty.example");
	rcpt[0] = t_str("r@dest.example");
	env->rcpt = rcpt;
	env->nrcpt = 1;
}

static void open_writer(struct spool_writer **w, const char *base, const char *name, uint64_t quota)
{
	struct spool_config cfg;
	char dir[400];

	snprintf(dir, sizeof(dir), "%s/%s", base, name);
	t_config(&cfg, dir);
	cfg.batch_usec = 0;
	cfg.quota_bytes = quota;
	cfg.recheck_usec = 100000;
	CHECK(spool_writer_open(w, &cfg, 0, &ring) == 0, "open %s", name);
}

/* Begins, fills and commits n messages without running the loop (one batch). */
static void start(struct spool_writer *w, struct msgs *s, int n)
{
	struct spool_envelope env;
	struct spool_str rcpt[1];

	env_of(&env, rcpt);
	for (int i = 0; i < n; i++) {
		int k = s->n++;

		blen[k] = 500 + (size_t)k * 37 % 2400;
		for (size_t j = 0; j < blen[k]; j++)
			body[k][j] = (char)('a' + (k * 7 + j) % 26);
		s->m[k] = spool_msg_begin(w, &env);
		if (!s->m[k] && errno == ENOSPC && s->quota) { /* refused: like a 452 to MAIL */
			s->r[k].done = 1;
			s->r[k].result = -ENOSPC;
			continue;
		}
		CHECK(s->m[k] != NULL, "begin %d: %s", k, strerror(errno));
		if (!s->m[k])
			continue;
		CHECK(spool_msg_append(w, s->m[k], body[k], blen[k]) == 0, "append");
		spool_msg_commit(w, s->m[k], t_commit_cb, &s->r[k]);
	}
}

static void wait_all(struct spool_writer *w, struct msgs *s)
{
	uint64_t end = t_now_us() + 10000000;
	int done = 0;

	while (t_now_us() < end) {
		done = 0;
		for (int i = 0; i < s->n; i++)
			done += s->r[i].done;
		if (done == s->n)
			break;
		t_loop_once(w, &ring, 10000);
	}
	CHECK(done == s->n, "callbacks %d of %d", done, s->n);
}

/* The reader shows exactly the messages whose result was 0, with their bodies. */
static void check_spool(const char *base, const char *name, const struct msgs *s)
{
	struct spool_reader *r;
	char dir[400];
	int ok = 0;

	snprintf(dir, sizeof(dir), "%s/%s", base, name);
	CHECK(spool_reader_open(&r, dir) == 0, "reader %s", name);
	for (int i = 0; i < s->n; i++) {
		const struct spool_entry *e = spool_reader_find(r, s->r[i].qid);

		if (s->r[i].result != 0) {
			CHECK(e == NULL, "%s: failed message %s is visible", name, s->r[i].qid);
			continue;
		}
		ok++;
		CHECK(e != NULL, "%s: committed message %s is missing", name, s->r[i].qid);
		if (e) {
			char *got = t_read_all(r, e);

			CHECK(got && e->size - e->received_len == blen[i] &&
			          memcmp(got + e->received_len, body[i], blen[i]) == 0,
			      "%s: body of %s", name, s->r[i].qid);
			free(got);
		}
	}
	CHECK((int)spool_reader_count(r) == ok, "%s: %zu listed, %d committed", name,
	      spool_reader_count(r), ok);
	CHECK(spool_reader_problem_count(r) == 0, "%s: problems: %s", name,
	      spool_reader_problem_count(r) ? spool_reader_problem(r, 0) : "");
	spool_reader_close(r);
}

static void fail_then_recover(const char *base, const char *name, enum spool_fault f, int err)
{
	struct spool_writer *w;
	struct spool_writer_stats st;
	static struct msgs s;

	memset(&s, 0, sizeof(s));
	open_writer(&w, base, name, 0);
	spool_writer_poll(w, t_now_us());
	start(w, &s, 8);
	spool_writer_inject(w, f, err);
	wait_all(w, &s);
	for (int i = 0; i < 8; i++)
		CHECK(s.r[i].result == (err == -ENOSPC ? -ENOSPC : -EIO), "%s: message %d got %d",
		      name, i, s.r[i].result);
	if (err == -ENOSPC) {
		struct spool_envelope env;
		struct spool_str rcpt[1];
		uint64_t end = t_now_us() + 2000000;
		struct spool_msg *m = NULL;

		env_of(&env, rcpt);
		CHECK(spool_msg_begin(w, &env) == NULL && errno == ENOSPC,
		      "begin refused with ENOSPC while full");
		while (!m && t_now_us() < end) { /* re-checked every 100 ms */
			t_loop_once(w, &ring, 20000);
			m = spool_msg_begin(w, &env);
		}
		CHECK(m != NULL, "space came back");
		if (m)
			spool_msg_abort(w, m);
	}
	start(w, &s, 8);
	wait_all(w, &s);
	for (int i = 8; i < 16; i++)
		CHECK(s.r[i].result == 0, "%s: after recovery message %d got %d", name, i,
		      s.r[i].result);
	spool_writer_stats(w, &st);
	CHECK(st.flush_errors == 1, "%s: flush errors %llu", name,
	      (unsigned long long)st.flush_errors);
	CHECK(st.segments == 2, "%s: a new segment after the failure (%llu)", name,
	      (unsigned long long)st.segments);
	spool_writer_close(w);
	check_spool(base, name, &s);
}

/* A message streaming across a failure: fails only if the failed batch held its records. */
static void spanning(const char *base)
{
	struct spool_writer *w;
	struct spool_envelope env;
	struct spool_str rcpt[1];
	static struct msgs s;
	struct spool_msg *a, *b;
	struct t_result ra = {0}, rb = {0};
	char qa[SPOOL_QUEUE_ID_MAX];
	static char part[2][5000];
	int idle = 0;

	memset(&s, 0, sizeof(s));
	memset(part[0], 'P', sizeof(part[0]));
	memset(part[1], 'Q', sizeof(part[1]));
	open_writer(&w, base, "spanning", 0);
	env_of(&env, rcpt);
	spool_writer_poll(w, t_now_us());
	a = spool_msg_begin(w, &env);
	CHECK(a && spool_msg_append(w, a, part[0], sizeof(part[0])) == 0, "a, first part");
	snprintf(qa, sizeof(qa), "%s", spool_msg_queue_id(a));
	for (uint64_t end = t_now_us() + 2000000; !idle && t_now_us() < end;) {
		t_loop_once(w, &ring, 1000);
		idle = spool_writer_idle(w);
	}
	CHECK(idle, "a's first part flushed");
	b = spool_msg_begin(w, &env); /* b's records go into the batch that fails */
	CHECK(b && spool_msg_append(w, b, part[0], 100) == 0, "b");
	start(w, &s, 4);
	spool_writer_inject(w, SPOOL_FAULT_FSYNC, -EIO);
	wait_all(w, &s);
	CHECK(spool_msg_append(w, a, part[1], sizeof(part[1])) == 0, "a, second part");
	CHECK(spool_msg_append(w, b, part[1], 100) == 0, "b continues (discarded)");
	spool_msg_commit(w, a, t_commit_cb, &ra);
	spool_msg_commit(w, b, t_commit_cb, &rb);
	t_loop_until(w, &ring, &ra.done, 5000000);
	t_loop_until(w, &ring, &rb.done, 5000000);
	CHECK(ra.done && ra.result == 0, "a, untouched by the failure, commits (%d)", ra.result);
	CHECK(rb.done && rb.result == -EIO, "b, in the failed batch, gets -EIO (%d)", rb.result);
	for (int i = 0; i < 4; i++)
		CHECK(s.r[i].result == -EIO, "batch message %d: %d", i, s.r[i].result);
	spool_writer_close(w);
	{
		struct spool_reader *r;
		char dir[400];
		const struct spool_entry *e;

		snprintf(dir, sizeof(dir), "%s/spanning", base);
		CHECK(spool_reader_open(&r, dir) == 0, "reader");
		CHECK(spool_reader_count(r) == 1, "only a is visible (%zu)", spool_reader_count(r));
		e = spool_reader_find(r, qa);
		CHECK(e != NULL, "a found");
		if (e) {
			char *got = t_read_all(r, e);

			CHECK(got && e->size == e->received_len + 10000 &&
			          memcmp(got + e->received_len, part[0], 5000) == 0 &&
			          memcmp(got + e->received_len + 5000, part[1], 5000) == 0,
			      "a's two parts, across two segments");
			CHECK(e->first_seg == 1 && e->commit_seg == 2,
			      "a spans segments %llu..%llu", (unsigned long long)e->first_seg,
			      (unsigned long long)e->commit_seg);
			free(got);
		}
		CHECK(spool_reader_problem_count(r) == 0, "no problems: %s",
		      spool_reader_problem_count(r) ? spool_reader_problem(r, 0) : "");
		spool_reader_close(r);
	}
}

static void short_write(const char *base)
{
	struct spool_writer *w;
	struct spool_writer_stats st;
	static struct msgs s;

	memset(&s, 0, sizeof(s));
	open_writer(&w, base, "short", 0);
	spool_writer_poll(w, t_now_us());
	start(w, &s, 10);
	spool_writer_inject(w, SPOOL_FAULT_SHORT, 0);
	wait_all(w, &s);
	for (int i = 0; i < 10; i++)
		CHECK(s.r[i].result == 0, "short write: message %d got %d", i, s.r[i].result);
	spool_writer_stats(w, &st);
	CHECK(st.short_writes == 1 && st.writes == 2, "resubmitted once (%llu short, %llu writes)",
	      (unsigned long long)st.short_writes, (unsigned long long)st.writes);
	CHECK(st.flush_errors == 0, "no error");
	spool_writer_close(w);
	check_spool(base, "short", &s);
}

static void quota(const char *base)
{
	struct spool_writer *w;
	static struct msgs s;
	int nospc = 0, refused = 0;

	memset(&s, 0, sizeof(s));
	s.quota = 1;
	open_writer(&w, base, "quota", 40000);
	for (int round = 0; round < 12 && s.n + 4 <= MAXM; round++) {
		struct spool_envelope env;
		struct spool_str rcpt[1];
		struct spool_msg *probe;

		env_of(&env, rcpt);
		spool_writer_poll(w, t_now_us());
		probe = spool_msg_begin(w, &env);
		if (!probe && errno == ENOSPC) {
			refused = 1;
			break;
		}
		if (probe)
			spool_msg_abort(w, probe);
		start(w, &s, 4);
		wait_all(w, &s);
	}
	for (int i = 0; i < s.n; i++)
		nospc += s.r[i].result == -ENOSPC;
	CHECK(refused || nospc > 0, "quota reached (%d ENOSPC callbacks, begin refused %d)", nospc,
	      refused);
	CHECK(s.n - nospc >= 8, "messages committed below the quota (%d)", s.n - nospc);
	if (getenv("SPOOL_TEST_VERBOSE"))
		printf("quota: %d messages, %d ENOSPC, begin refused %d\n", s.n, nospc, refused);
	for (int i = 0; i < s.n; i++)
		CHECK(s.r[i].result == 0 || s.r[i].result == -ENOSPC, "result %d", s.r[i].result);
	spool_writer_close(w);
	check_spool(base, "quota", &s);
}

/* --- random faults under load -------------------------------------------------------------- */

#define RF_MSGS 300
#define RF_SESS 16

struct rf {
	uint64_t len;
	int aborted;
	struct t_result r;
};

static uint64_t rf_rng = 77;

static uint64_t rf_rnd(void)
{
	rf_rng ^= rf_rng << 13;
	rf_rng ^= rf_rng >> 7;
	rf_rng ^= rf_rng << 17;
	return rf_rng;
}

static void rf_fill(int idx, uint64_t off, char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)((uint64_t)idx * 31 + (off + i) * 7 + (off + i) / 251);
}

/* Every message that got 0 is whole; none that failed or was aborted is visible. */
static void rf_check(const char *dir, struct rf *x, int n)
{
	static char want[70000], got[70000];
	struct spool_reader *r;
	int ok = 0;

	CHECK(spool_reader_open(&r, dir) == 0, "reader");
	for (int i = 0; i < n; i++) {
		const struct spool_entry *e = x[i].r.done ? spool_reader_find(r, x[i].r.qid) : NULL;

		if (x[i].aborted || !x[i].r.done || x[i].r.result != 0) {
			CHECK(e == NULL, "message %d (result %d) visible", i, x[i].r.result);
			continue;
		}
		ok++;
		CHECK(e && e->size == e->received_len + x[i].len, "message %d missing or short", i);
		if (!e || e->size != e->received_len + x[i].len)
			continue;
		rf_fill(i, 0, want, x[i].len);
		CHECK(spool_reader_read(r, e, e->received_len, got, x[i].len) == (long)x[i].len &&
		          memcmp(got, want, x[i].len) == 0,
		      "body of message %d", i);
	}
	CHECK((int)spool_reader_count(r) == ok, "listed %zu, committed %d", spool_reader_count(r),
	      ok);
	CHECK(spool_reader_problem_count(r) == 0, "problems: %s",
	      spool_reader_problem_count(r) ? spool_reader_problem(r, 0) : "");
	spool_reader_close(r);
	if (getenv("SPOOL_TEST_VERBOSE"))
		printf("random faults: %d committed of %d\n", ok, n);
}

static void rf_step(struct spool_writer *w, struct rf *x, struct spool_msg **m, int *idx,
                    uint64_t *sent, int *next)
{
	static char chunk[20000];
	struct spool_envelope env;
	struct spool_str rcpt[1];
	size_t k;

	if (!*m) {
		if (*next >= RF_MSGS)
			return;
		env_of(&env, rcpt);
		if (!(*m = spool_msg_begin(w, &env)))
			return; /* EAGAIN, or ENOSPC until the re-check */
		*idx = (*next)++;
		*sent = 0;
		x[*idx].len = rf_rnd() % 4 ? rf_rnd() % 3000 : rf_rnd() % 60000;
		return;
	}
	if (*sent == x[*idx].len) {
		if (rf_rnd() % 10 == 0) {
			x[*idx].aborted = 1;
			spool_msg_abort(w, *m);
		} else {
			spool_msg_commit(w, *m, t_commit_cb, &x[*idx].r);
		}
		*m = NULL;
		return;
	}
	k = 1 + rf_rnd() % sizeof(chunk);
	if (k > x[*idx].len - *sent)
		k = (size_t)(x[*idx].len - *sent);
	rf_fill(*idx, *sent, chunk, k);
	if (spool_msg_append(w, *m, chunk, k) == 0)
		*sent += k;
}

static void random_faults(const char *base)
{
	static const int errs[] = {-EIO, -ENOSPC};
	static struct rf x[RF_MSGS];
	struct spool_msg *m[RF_SESS] = {0};
	int idx[RF_SESS], next = 0, faults = 0, open;
	uint64_t sent[RF_SESS];
	struct spool_writer *w;
	char dir[400];

	open_writer(&w, base, "random", 0);
	for (uint64_t end = t_now_us() + 20000000; t_now_us() < end;) {
		int s = (int)(rf_rnd() % RF_SESS);

		rf_step(w, x, &m[s], &idx[s], &sent[s], &next);
		if (rf_rnd() % 400 == 0) {
			spool_writer_inject(w, (enum spool_fault)(1 + rf_rnd() % 3),
			                    errs[rf_rnd() % 2]);
			faults++;
		}
		t_loop_once(w, &ring, 0);
		open = 0;
		for (int i = 0; i < RF_SESS; i++)
			open += m[i] != NULL;
		if (next == RF_MSGS && !open && spool_writer_idle(w))
			break;
	}
	CHECK(next == RF_MSGS, "all messages begun (%d)", next);
	spool_writer_close(w);
	CHECK(faults > 0, "faults injected");
	snprintf(dir, sizeof(dir), "%s/random", base);
	rf_check(dir, x, next);
}

int main(void)
{
	const char *base = t_tmpdir("test_faults");

	if (io_uring_queue_init(256, &ring, 0) != 0)
		return printf("io_uring unavailable: skipped\n"), 77;
	fail_then_recover(base, "write-eio", SPOOL_FAULT_WRITE, -EIO);
	fail_then_recover(base, "fsync-eio", SPOOL_FAULT_FSYNC, -EIO);
	fail_then_recover(base, "write-enospc", SPOOL_FAULT_WRITE, -ENOSPC);
	fail_then_recover(base, "fsync-enospc", SPOOL_FAULT_FSYNC, -ENOSPC);
	spanning(base);
	short_write(base);
	quota(base);
	random_faults(base);
	io_uring_queue_exit(&ring);
	return t_report();
}
