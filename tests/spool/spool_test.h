/* SPDX-License-Identifier: MIT */
/*
 * spool_test.h - helpers for the spool tests: pass/fail counting, a private temporary
 * directory (created under $TMPDIR or /tmp and removed at exit), an io_uring loop that drives
 * a writer the way the engine does, and envelopes.
 *
 * Every test prints "N passed, M failed" and exits 1 if anything failed. Tests only.
 */
#ifndef SLUICE_TESTS_SPOOL_TEST_H
#define SLUICE_TESTS_SPOOL_TEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spool/spool.h"

static int t_pass, t_fail;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			t_pass++;                                                                  \
		} else {                                                                           \
			t_fail++;                                                                  \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

static inline int t_report(void)
{
	printf("%d passed, %d failed\n", t_pass, t_fail);
	return t_fail ? 1 : 0;
}

static char t_dir[256];

static inline int t_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static inline void t_rmtree(const char *p)
{
	nftw(p, t_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void t_cleanup(void)
{
	if (t_dir[0] && !getenv("SPOOL_TEST_KEEP"))
		t_rmtree(t_dir);
}

/* Creates the test's private directory and registers its removal. */
static inline const char *t_tmpdir(const char *name)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	snprintf(t_dir, sizeof(t_dir), "%s/%s.XXXXXX", base, name);
	if (!mkdtemp(t_dir)) {
		perror("mkdtemp");
		exit(1);
	}
	atexit(t_cleanup);
	return t_dir;
}

static inline uint64_t t_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline uint64_t t_real_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One pass of an engine-like loop: poll, wait up to next_due (capped), hand spool CQEs over. */
static inline void t_loop_once(struct spool_writer *w, struct io_uring *ring, uint64_t max_wait)
{
	uint64_t now = t_now_us(), due;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;
	unsigned head, n = 0;

	spool_writer_poll(w, now);
	due = spool_writer_next_due(w, t_now_us());
	if (due > max_wait)
		due = max_wait;
	ts.tv_sec = (long long)(due / 1000000);
	ts.tv_nsec = (long long)(due % 1000000) * 1000;
	io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, NULL);
	io_uring_for_each_cqe(ring, head, cqe)
	{
		if (SPOOL_UD_IS(cqe->user_data))
			spool_writer_cqe(w, cqe);
		n++;
	}
	io_uring_cq_advance(ring, n);
}

/* Runs the loop until *flag becomes nonzero or the timeout passes; returns *flag. */
static inline int t_loop_until(struct spool_writer *w, struct io_uring *ring, const int *flag,
                               uint64_t timeout_us)
{
	uint64_t end = t_now_us() + timeout_us;

	while (!*flag && t_now_us() < end)
		t_loop_once(w, ring, 10000);
	return *flag;
}

static inline void t_env_init(struct spool_envelope *env, const char *ip, unsigned port)
{
	memset(env, 0, sizeof(*env));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&env->client;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, ip, &a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&env->client;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, ip, &a->sin_addr);
	}
	env->ehlo = 1;
	env->recv_time_us = t_real_us();
}

static inline struct spool_str t_str(const char *s)
{
	struct spool_str r = {s, strlen(s)};

	return r;
}

/* Commit callback recording its result into a struct t_result. */
struct t_result {
	int done;
	int result;
	char qid[SPOOL_QUEUE_ID_MAX];
	uint64_t at_us;
};

static inline void t_commit_cb(void *arg, int result, const char *qid)
{
	struct t_result *r = arg;

	r->done = 1;
	r->result = result;
	snprintf(r->qid, sizeof(r->qid), "%s", qid);
	r->at_us = t_now_us();
}

static inline void t_config(struct spool_config *cfg, const char *dir)
{
	spool_config_defaults(cfg);
	snprintf(cfg->dir, sizeof(cfg->dir), "%s", dir);
	snprintf(cfg->hostname, sizeof(cfg->hostname), "mx.test.example");
	cfg->min_free_bytes = 0;
}

/* Begins a message (waiting out EAGAIN), or NULL with errno set. */
static inline struct spool_msg *t_begin(struct spool_writer *w, struct io_uring *ring,
                                        const struct spool_envelope *env)
{
	struct spool_msg *m;

	while (!(m = spool_msg_begin(w, env)) && errno == EAGAIN)
		t_loop_once(w, ring, 1000);
	return m;
}

/* Appends in pieces of at most chunk octets, waiting out -EAGAIN. */
static inline int t_append(struct spool_writer *w, struct io_uring *ring, struct spool_msg *m,
                           const void *p, size_t n, size_t chunk)
{
	const char *c = p;

	while (n > 0) {
		size_t k = n < chunk ? n : chunk;
		int rc = spool_msg_append(w, m, c, k);

		if (rc == -EAGAIN) {
			t_loop_once(w, ring, 1000);
			continue;
		}
		if (rc != 0)
			return rc;
		c += k;
		n -= k;
	}
	return 0;
}

/* One whole message, committed and waited for; returns the callback's result. */
static inline int t_put(struct spool_writer *w, struct io_uring *ring,
                        const struct spool_envelope *env, const void *body, size_t n,
                        char qid[SPOOL_QUEUE_ID_MAX])
{
	struct t_result r = {0};
	struct spool_msg *m = t_begin(w, ring, env);

	if (!m)
		return -errno;
	if (t_append(w, ring, m, body, n, 65536) != 0)
		return -EINVAL;
	spool_msg_commit(w, m, t_commit_cb, &r);
	if (!t_loop_until(w, ring, &r.done, 10000000))
		return -ETIMEDOUT;
	if (qid)
		snprintf(qid, SPOOL_QUEUE_ID_MAX, "%s", r.qid);
	return r.result;
}

/* Reads a whole message through the reader into a malloc'ed buffer. */
static inline char *t_read_all(struct spool_reader *r, const struct spool_entry *e)
{
	char *buf = malloc(e->size + 1);

	if (buf && spool_reader_read(r, e, 0, buf, e->size) != (long)e->size) {
		free(buf);
		return NULL;
	}
	return buf;
}

#endif
