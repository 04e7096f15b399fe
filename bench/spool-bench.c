/* SPDX-License-Identifier: MIT */
/*
 * spool-bench.c - durable throughput and commit latency of the spool writer, against two
 * baselines measured in the same run on the same file system:
 *
 *   flush	the disk's own latency for one 4 KiB append + fdatasync (context for p99);
 *   raw	the disk's sequential write bandwidth: 4 MiB writes, fdatasync every 64 MiB and
 *		at the end (an upper bound for any durable writer);
 *   naive	one file per message, the Postfix/qmail way: open, write, fsync, close, rename
 *		into place, fsync the directory; one message at a time, as one core would;
 *   spool	M simulated sessions on one core's writer and ring, each in a closed loop:
 *		begin, append the body in 16 KiB spans, commit, wait for the callback (full
 *		durability: group commit with fdatasync), start the next message.
 *
 * For 1 KiB, 10 KiB and 100 KiB messages it prints messages/s, MB/s (message octets), p50/p99
 * commit latency (commit call to callback), flushes, and the ratios spool/naive and
 * spool/raw. Every phase stops after --messages messages or --seconds seconds, whichever
 * comes first, so a default run takes about 15 s. --json prints one object instead.
 *
 *	spool-bench [--dir DIR] [--messages N] [--sessions M] [--seconds S]
 *		    [--batch-usec U] [--batch-bytes B] [--json]
 *
 * Files go to a fresh directory under --dir (default $TMPDIR or /tmp), removed at the end.
 * Flush latency on virtual disks varies several-fold over time: compare figures of one run.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "spool/spool.h"

#define MAX_SESS 1024
#define SPAN     (16u << 10)

struct opts {
	char dir[512];
	uint64_t messages;
	unsigned sessions;
	double seconds;
	uint32_t batch_usec;
	uint64_t batch_bytes;
	int json;
};

struct result {
	size_t size;
	double spool_mps, spool_mbs, p50_us, p99_us, naive_mps, naive_mbs;
	uint64_t spool_msgs, naive_msgs, fsyncs, max_batch;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void rmtree(const char *p)
{
	nftw(p, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* --- raw sequential bandwidth, and the latency of one small flush ----------------------- */

static double bench_raw(const char *dir, double seconds)
{
	static char buf[4 << 20];
	char path[700];
	uint64_t t0, bytes = 0, limit = 1ull << 30;
	int fd;

	snprintf(path, sizeof(path), "%s/raw", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return 0;
	memset(buf, 0x5a, sizeof(buf));
	t0 = now_us();
	while (bytes < limit && now_us() - t0 < seconds * 1e6) {
		if (pwrite(fd, buf, sizeof(buf), (off_t)bytes) != (ssize_t)sizeof(buf))
			break;
		bytes += sizeof(buf);
		if (bytes % (64u << 20) == 0)
			fdatasync(fd);
	}
	fdatasync(fd);
	t0 = now_us() - t0;
	close(fd);
	unlink(path);
	return (double)bytes / 1e6 / ((double)t0 / 1e6);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* 4 KiB append + fdatasync, one at a time: p50 and p99 in microseconds. */
static void bench_flush(const char *dir, double seconds, double *p50, double *p99)
{
	static char buf[4096];
	static uint32_t lat[2000];
	char path[700];
	uint64_t t0 = now_us();
	unsigned n = 0;
	int fd;

	*p50 = *p99 = 0;
	snprintf(path, sizeof(path), "%s/flush", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return;
	while (n < 2000 && now_us() - t0 < seconds * 1e6) {
		uint64_t t = now_us();

		if (pwrite(fd, buf, sizeof(buf), (off_t)n * sizeof(buf)) != (ssize_t)sizeof(buf) ||
		    fdatasync(fd) != 0)
			break;
		lat[n++] = (uint32_t)(now_us() - t);
	}
	close(fd);
	unlink(path);
	if (!n)
		return;
	qsort(lat, n, sizeof(*lat), cmp_u32);
	*p50 = lat[n / 2];
	*p99 = lat[n * 99 / 100];
}

/* --- naive: a file per message ------------------------------------------------------------ */

static void bench_naive(const char *dir, size_t size, const struct opts *o, struct result *r)
{
	static char buf[1 << 17];
	char tmpd[700], newd[700], a[800], b[800];
	uint64_t t0, n = 0;
	int dfd;

	snprintf(tmpd, sizeof(tmpd), "%s/naive-tmp", dir);
	snprintf(newd, sizeof(newd), "%s/naive-new", dir);
	mkdir(tmpd, 0700);
	mkdir(newd, 0700);
	if ((dfd = open(newd, O_RDONLY | O_DIRECTORY)) < 0)
		return;
	memset(buf, 'n', size);
	t0 = now_us();
	while (n < o->messages && now_us() - t0 < o->seconds * 1e6) {
		int fd;

		snprintf(a, sizeof(a), "%s/%llu", tmpd, (unsigned long long)n);
		snprintf(b, sizeof(b), "%s/%llu", newd, (unsigned long long)n);
		fd = open(a, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0 || write(fd, buf, size) != (ssize_t)size || fsync(fd) != 0)
			break;
		close(fd);
		if (rename(a, b) != 0 || fsync(dfd) != 0)
			break;
		n++;
	}
	t0 = now_us() - t0;
	close(dfd);
	r->naive_msgs = n;
	r->naive_mps = (double)n / ((double)t0 / 1e6);
	r->naive_mbs = r->naive_mps * (double)size / 1e6;
	rmtree(tmpd);
	rmtree(newd);
}

/* --- the spool ---------------------------------------------------------------------------- */

struct sess {
	int busy;
	uint64_t t_commit;
};

struct run {
	struct spool_writer *w;
	struct sess s[MAX_SESS];
	uint32_t *lat;
	uint64_t nlat, cap, done, failed;
};

static void on_commit(void *arg, int result, const char *qid)
{
	struct sess *s = arg;
	uint64_t lat = now_us() - s->t_commit;

	(void)qid;
	s->busy = result != 0 ? -1 : 0;
	s->t_commit = lat ? lat : 1; /* nonzero: a result to collect */
}

/* Starts one message on session i; returns 0, or -EAGAIN to retry later. */
static int start(struct run *r, unsigned i, const struct spool_envelope *env, const char *body,
                 size_t size)
{
	struct spool_msg *m = spool_msg_begin(r->w, env);

	if (!m)
		return -errno;
	for (size_t off = 0; off < size;) {
		size_t k = size - off < SPAN ? size - off : SPAN;
		int rc = spool_msg_append(r->w, m, body + off, k);

		if (rc == -EAGAIN) { /* every buffer in flight: start again later */
			spool_msg_abort(r->w, m);
			return -EAGAIN;
		}
		if (rc != 0)
			return rc;
		off += k;
	}
	r->s[i].busy = 1;
	r->s[i].t_commit = now_us();
	return spool_msg_commit(r->w, m, on_commit, &r->s[i]);
}

static void reap(struct run *r, struct io_uring *ring, uint64_t wait_us)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = {0, (long long)wait_us * 1000};
	unsigned head, n = 0;

	io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, NULL);
	io_uring_for_each_cqe(ring, head, cqe)
	{
		if (SPOOL_UD_IS(cqe->user_data))
			spool_writer_cqe(r->w, cqe);
		n++;
	}
	io_uring_cq_advance(ring, n);
}

static void collect(struct run *r, unsigned nsess)
{
	for (unsigned i = 0; i < nsess; i++) {
		if (r->s[i].busy == 1 || r->s[i].t_commit == 0)
			continue;
		if (r->s[i].busy < 0)
			r->failed++;
		else if (r->nlat < r->cap)
			r->lat[r->nlat++] = (uint32_t)r->s[i].t_commit;
		r->done++;
		r->s[i].busy = 0;
		r->s[i].t_commit = 0;
	}
}

static int bench_spool(const char *dir, size_t size, const struct opts *o, struct result *res)
{
	static char body[1 << 17];
	static struct run r;
	struct spool_config cfg;
	struct spool_envelope env = {0};
	struct spool_str rcpt = {"rcpt@bench.example", 18};
	struct spool_writer_stats st;
	struct io_uring ring;
	uint64_t t0, started = 0;
	int rc;

	memset(&r, 0, sizeof(r));
	r.cap = o->messages;
	r.lat = calloc(r.cap, sizeof(*r.lat));
	if (!r.lat || io_uring_queue_init(1024, &ring, 0) != 0)
		return -ENOMEM;
	spool_config_defaults(&cfg);
	snprintf(cfg.dir, sizeof(cfg.dir), "%s/spool-%zu", dir, size);
	snprintf(cfg.hostname, sizeof(cfg.hostname), "bench.example");
	cfg.batch_usec = o->batch_usec;
	cfg.batch_bytes = o->batch_bytes;
	cfg.max_messages = o->sessions + 16;
	cfg.min_free_bytes = 0;
	if ((rc = spool_writer_open(&r.w, &cfg, 0, &ring)) != 0)
		return rc;
	env.client.ss_family = AF_INET;
	env.helo = (struct spool_str){"client.bench.example", 20};
	env.mail_from = (struct spool_str){"from@bench.example", 18};
	env.rcpt = &rcpt;
	env.nrcpt = 1;
	env.ehlo = 1;
	memset(body, 'b', size);
	t0 = now_us();
	while (r.done < o->messages && now_us() - t0 < o->seconds * 1e6) {
		uint64_t now = now_us(), due;

		env.recv_time_us = now;
		for (unsigned i = 0; i < o->sessions && started < o->messages; i++) {
			if (r.s[i].busy || r.s[i].t_commit)
				continue;
			if (start(&r, i, &env, body, size) != 0)
				break; /* no room now: after the next completions */
			started++;
		}
		spool_writer_poll(r.w, now_us());
		due = spool_writer_next_due(r.w, now_us());
		reap(&r, &ring, due < 1000 ? due : 1000);
		collect(&r, o->sessions);
	}
	t0 = now_us() - t0;
	spool_writer_stats(r.w, &st);
	spool_writer_close(r.w);
	collect(&r, o->sessions);
	io_uring_queue_exit(&ring);
	qsort(r.lat, r.nlat, sizeof(*r.lat), cmp_u32);
	res->spool_msgs = r.done;
	res->spool_mps = (double)r.done / ((double)t0 / 1e6);
	res->spool_mbs = res->spool_mps * (double)size / 1e6;
	res->p50_us = r.nlat ? r.lat[r.nlat / 2] : 0;
	res->p99_us = r.nlat ? r.lat[r.nlat * 99 / 100] : 0;
	res->fsyncs = st.fsyncs;
	res->max_batch = st.max_batch_msgs;
	free(r.lat);
	rmtree(cfg.dir);
	return r.failed ? -EIO : 0;
}

/* --- main --------------------------------------------------------------------------------- */

static int parse(int argc, char **argv, struct opts *o)
{
	const char *t = getenv("TMPDIR");

	snprintf(o->dir, sizeof(o->dir), "%s", t && *t ? t : "/tmp");
	o->messages = 200000;
	o->sessions = 64;
	o->seconds = 2.0;
	o->batch_usec = 500;
	o->batch_bytes = 1u << 20;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(argv[i], "--json") == 0)
			o->json = 1;
		else if (!v)
			return -1;
		else if (strcmp(argv[i], "--dir") == 0)
			snprintf(o->dir, sizeof(o->dir), "%s", v), i++;
		else if (strcmp(argv[i], "--messages") == 0)
			o->messages = strtoull(v, NULL, 10), i++;
		else if (strcmp(argv[i], "--sessions") == 0)
			o->sessions = (unsigned)strtoul(v, NULL, 10), i++;
		else if (strcmp(argv[i], "--seconds") == 0)
			o->seconds = strtod(v, NULL), i++;
		else if (strcmp(argv[i], "--batch-usec") == 0)
			o->batch_usec = (uint32_t)strtoul(v, NULL, 10), i++;
		else if (strcmp(argv[i], "--batch-bytes") == 0)
			o->batch_bytes = strtoull(v, NULL, 10), i++;
		else
			return -1;
	}
	return o->sessions >= 1 && o->sessions <= MAX_SESS && o->messages >= 1 ? 0 : -1;
}

static double fl50, fl99; /* the disk's own flush latency, measured first */

static void print_text(const struct opts *o, double raw, const struct result *r, int n)
{
	printf("spool-bench: %u sessions, batch %llu bytes / %u us; disk: raw sequential "
	       "%.1f MB/s, 4 KiB append+fdatasync p50 %.0f us p99 %.0f us\n",
	       o->sessions, (unsigned long long)o->batch_bytes, o->batch_usec, raw, fl50, fl99);
	printf("%7s %11s %9s %9s %9s %7s %11s %9s %9s %9s\n", "size", "spool msg/s", "MB/s",
	       "p50 us", "p99 us", "msg/fl", "naive msg/s", "MB/s", "x naive", "of raw");
	for (int i = 0; i < n; i++)
		printf("%7zu %11.0f %9.1f %9.0f %9.0f %7.1f %11.0f %9.1f %8.1fx %8.0f%%\n",
		       r[i].size, r[i].spool_mps, r[i].spool_mbs, r[i].p50_us, r[i].p99_us,
		       r[i].fsyncs ? (double)r[i].spool_msgs / (double)r[i].fsyncs : 0.0,
		       r[i].naive_mps, r[i].naive_mbs,
		       r[i].naive_mps > 0 ? r[i].spool_mps / r[i].naive_mps : 0.0,
		       raw > 0 ? 100.0 * r[i].spool_mbs / raw : 0.0);
	printf("targets: 1 KB >= 20x naive: %s; 100 KB >= 50%% of raw: %s; p99 < 5 ms: %s\n",
	       r[0].spool_mps >= 20 * r[0].naive_mps ? "met" : "MISSED",
	       r[n - 1].spool_mbs >= 0.5 * raw ? "met" : "MISSED",
	       r[0].p99_us < 5000 && r[1].p99_us < 5000 && r[2].p99_us < 5000 ? "met" : "MISSED");
}

static void print_json(const struct opts *o, double raw, const struct result *r, int n)
{
	printf("{\"sessions\":%u,\"batch_bytes\":%llu,\"batch_usec\":%u,\"raw_mb_s\":%.1f,"
	       "\"flush_p50_us\":%.0f,\"flush_p99_us\":%.0f,\"sizes\":[",
	       o->sessions, (unsigned long long)o->batch_bytes, o->batch_usec, raw, fl50, fl99);
	for (int i = 0; i < n; i++)
		printf(
		    "%s{\"size\":%zu,\"spool_msgs\":%llu,\"spool_msg_s\":%.0f,\"spool_mb_s\":%.1f,"
		    "\"p50_us\":%.0f,\"p99_us\":%.0f,\"fsyncs\":%llu,\"max_msgs_per_flush\":%llu,"
		    "\"naive_msgs\":%llu,\"naive_msg_s\":%.0f,\"naive_mb_s\":%.2f,"
		    "\"x_naive\":%.1f,\"of_raw\":%.3f}",
		    i ? "," : "", r[i].size, (unsigned long long)r[i].spool_msgs, r[i].spool_mps,
		    r[i].spool_mbs, r[i].p50_us, r[i].p99_us, (unsigned long long)r[i].fsyncs,
		    (unsigned long long)r[i].max_batch, (unsigned long long)r[i].naive_msgs,
		    r[i].naive_mps, r[i].naive_mbs,
		    r[i].naive_mps > 0 ? r[i].spool_mps / r[i].naive_mps : 0.0,
		    raw > 0 ? r[i].spool_mbs / raw : 0.0);
	printf("],\"targets\":{\"x_naive_1k\":%s,\"half_raw_100k\":%s,\"p99_under_5ms\":%s}}\n",
	       r[0].spool_mps >= 20 * r[0].naive_mps ? "true" : "false",
	       r[n - 1].spool_mbs >= 0.5 * raw ? "true" : "false",
	       r[0].p99_us < 5000 && r[1].p99_us < 5000 && r[2].p99_us < 5000 ? "true" : "false");
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = {1024, 10240, 102400};
	struct result res[3] = {0};
	struct opts o;
	char dir[600];
	double raw;

	if (parse(argc, argv, &o) != 0) {
		fprintf(stderr, "usage: spool-bench [--dir DIR] [--messages N] [--sessions M] "
		                "[--seconds S] [--batch-usec U] [--batch-bytes B] [--json]\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/spool-bench.XXXXXX", o.dir);
	if (!mkdtemp(dir)) {
		perror(dir);
		return 1;
	}
	bench_flush(dir, o.seconds / 2, &fl50, &fl99);
	raw = bench_raw(dir, o.seconds);
	for (int i = 0; i < 3; i++) {
		int rc;

		res[i].size = sizes[i];
		if ((rc = bench_spool(dir, sizes[i], &o, &res[i])) != 0)
			fprintf(stderr, "spool-bench: spool at %zu: %s\n", sizes[i], strerror(-rc));
		bench_naive(dir, sizes[i], &o, &res[i]);
	}
	rmtree(dir);
	if (o.json)
		print_json(&o, raw, res, 3);
	else
		print_text(&o, raw, res, 3);
	return 0;
}
