/* SPDX-License-Identifier: MIT */
/*
 * main.c - sluice-blast: SMTP load generator for benchmarking mail servers.
 *
 * Start-up (everything allocated here, before traffic): parse options, raise RLIMIT_NOFILE,
 * build the message pool, open the --verify file, create the worker threads (each builds its
 * own io_uring and sessions). Then the main thread only waits for signals: SIGUSR1 from a
 * finishing worker, SIGINT/SIGTERM (first: stop and drain; second: abort), and a one-second
 * timeout that prints the progress line. At the end it merges the per-thread counters and
 * histograms and prints the report.
 *
 * Exit status: 0 every message was accepted; 1 the run completed but some message failed (or
 * none was sent); 2 bad usage or a start-up failure.
 */
#include "blast.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void raise_nofile(unsigned sessions)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)sessions + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
		return;
	if (rl.rlim_max < need) {
		struct rlimit hard = {need, need};

		if (setrlimit(RLIMIT_NOFILE, &hard) == 0)
			return;
		need = rl.rlim_max;
		fprintf(stderr, "sluice-blast: RLIMIT_NOFILE hard limit %llu < %u sessions\n",
		        (unsigned long long)rl.rlim_max, sessions);
	}
	rl.rlim_cur = need;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static int run_init(struct blast_run *run, struct blast_conf *c)
{
	struct blast_pool_conf pc;
	struct timespec ts;
	int err;

	memset(run, 0, sizeof(*run));
	run->conf = c;
	run->verify_fd = -1;
	run->timeout_ns = (uint64_t)(c->timeout * 1e9);
	clock_gettime(CLOCK_REALTIME, &ts);
	run->run_id = (uint32_t)((uint64_t)ts.tv_nsec * 2654435761u ^ (uint64_t)ts.tv_sec ^
	                         ((uint64_t)getpid() << 16));
	if (blast_hdr_init(&run->hdr, c->ehlo) != 0) {
		fprintf(stderr, "sluice-blast: bad --ehlo name %s\n", c->ehlo);
		return -EINVAL;
	}
	run->ehlo_len =
	    (unsigned)snprintf(run->ehlo_cmd, sizeof(run->ehlo_cmd), "EHLO %s\r\n", c->ehlo);
	run->helo_len =
	    (unsigned)snprintf(run->helo_cmd, sizeof(run->helo_cmd), "HELO %s\r\n", c->ehlo);
	memset(&pc, 0, sizeof(pc));
	pc.count = c->pool;
	pc.dist = &c->size;
	pc.seed = c->seed;
	pc.stuffed = !c->bdat;
	pc.hdr_len = run->hdr.len;
	pc.pct_8bit = c->pct_8bit;
	pc.pct_utf8 = c->pct_utf8;
	pc.pct_attach = c->pct_attach;
	pc.pct_dots = c->pct_dots;
	pc.mem_max = (size_t)c->pool_mb << 20;
	err = blast_pool_init(&run->pool, &pc);
	if (err != 0) {
		fprintf(stderr, "sluice-blast: message pool: %s\n", strerror(-err));
		return err;
	}
	if (c->verify != NULL) {
		run->verify_fd =
		    open(c->verify, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
		if (run->verify_fd < 0) {
			err = -errno;
			fprintf(stderr, "sluice-blast: %s: %s\n", c->verify, strerror(errno));
			return err;
		}
	}
	return 0;
}

static double cpu_seconds(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static unsigned threads_done(struct blast_thread *ths, unsigned n)
{
	unsigned i, d = 0;

	for (i = 0; i < n; i++)
		d += (unsigned)__atomic_load_n(&ths[i].done, __ATOMIC_ACQUIRE);
	return d;
}

/* Waits for the workers; handles signals and the progress line. */
static void supervise(struct blast_run *run, struct blast_thread *ths, unsigned n, bool progress,
                      uint64_t t0)
{
	struct blast_counters prev;
	sigset_t set;
	uint64_t last = t0;
	int sigs = 0;

	memset(&prev, 0, sizeof(prev));
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	while (threads_done(ths, n) < n) {
		struct timespec ts = {1, 0};
		int sig = sigtimedwait(&set, NULL, &ts);
		uint64_t now = blast_now_ns();

		if (sig == SIGINT || sig == SIGTERM) {
			sigs++;
			__atomic_store_n(sigs == 1 ? &run->stop : &run->abort, 1, __ATOMIC_RELAXED);
		}
		if (progress && now - last >= 1000000000ull) {
			blast_progress(stderr, ths, n, (double)(now - t0) / 1e9, &prev,
			               (double)(now - last) / 1e9);
			last = now;
		}
	}
	if (progress)
		fputs("\r\033[K", stderr);
}

/* Adds thread th's rejection samples to r, skipping duplicates. */
static void merge_samples(struct blast_result *r, const struct blast_thread *th)
{
	unsigned i, k;

	for (i = 0; i < th->nsamples && r->nsamples < 2 * BLAST_SAMPLES; i++) {
		for (k = 0; k < r->nsamples; k++)
			if (strcmp(r->samples[k], th->samples[i]) == 0)
				break;
		if (k == r->nsamples)
			memcpy(r->samples[r->nsamples++], th->samples[i], BLAST_SAMPLE_LEN);
	}
}

static int report(struct blast_run *run, struct blast_thread *ths, unsigned n, uint64_t t0,
                  const struct rusage *ru0)
{
	static struct blast_result r;
	struct rusage ru1;
	uint64_t t_last = 0, now = blast_now_ns();
	unsigned i, k;

	getrusage(RUSAGE_SELF, &ru1);
	for (k = 0; k < BLAST_LAT_COUNT; k++)
		if (blast_hist_init(&r.lat[k], ths[0].lat[k].sub_bits, ths[0].lat[k].max_value) !=
		    0)
			return -ENOMEM;
	for (i = 0; i < n; i++) {
		const uint64_t *src = (const uint64_t *)&ths[i].c;
		uint64_t *dst = (uint64_t *)&r.c;

		for (k = 0; k < sizeof(r.c) / sizeof(uint64_t); k++)
			dst[k] += src[k];
		for (k = 0; k < BLAST_LAT_COUNT; k++)
			blast_hist_merge(&r.lat[k], &ths[i].lat[k]);
		merge_samples(&r, &ths[i]);
		if (ths[i].t_last > t_last)
			t_last = ths[i].t_last;
	}
	r.elapsed = (double)((t_last > t0 ? t_last : now) - t0) / 1e9;
	r.cpu_user = cpu_seconds(&ru1.ru_utime) - cpu_seconds(&ru0->ru_utime);
	r.cpu_sys = cpu_seconds(&ru1.ru_stime) - cpu_seconds(&ru0->ru_stime);
	if (run->conf->json)
		blast_report_json(stdout, run, &r);
	else
		blast_report_text(stdout, run, &r);
	fflush(stdout);
	for (k = 0; k < BLAST_LAT_COUNT; k++)
		blast_hist_free(&r.lat[k]);
	return r.c.msg_fail == 0 && r.c.msg_ok > 0 ? 0 : 1;
}

static int start_threads(struct blast_run *run, struct blast_thread *ths, unsigned n)
{
	unsigned i;
	int err;

	for (i = 0; i < n; i++) {
		err = blast_thread_init(&ths[i], run, i);
		if (err != 0)
			return err;
	}
	for (i = 0; i < n; i++) {
		err = pthread_create(&ths[i].tid, NULL, blast_thread_main, &ths[i]);
		if (err != 0) {
			fprintf(stderr, "sluice-blast: pthread_create: %s\n", strerror(err));
			exit(2); /* the barrier cannot be released any more */
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct blast_conf conf;
	static struct blast_run run;
	struct blast_thread *ths;
	struct rusage ru0;
	sigset_t set;
	uint64_t t0;
	unsigned i;
	int ret;

	ret = blast_opts_parse(&conf, argc, argv);
	if (ret != 0)
		return ret > 0 ? 0 : 2;
	raise_nofile(conf.sessions);
	signal(SIGPIPE, SIG_IGN);
	if (run_init(&run, &conf) != 0)
		return 2;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	run.main_thread = pthread_self();
	pthread_barrier_init(&run.start, NULL, conf.threads + 1);
	ths = aligned_alloc(64, sizeof(*ths) * conf.threads);
	if (ths == NULL || start_threads(&run, ths, conf.threads) != 0) {
		fprintf(stderr, "sluice-blast: out of memory\n");
		return 2;
	}
	getrusage(RUSAGE_SELF, &ru0);
	pthread_barrier_wait(&run.start);
	t0 = blast_now_ns();
	supervise(&run, ths, conf.threads,
	          conf.progress == 1 || (conf.progress == -1 && isatty(2) && !conf.json), t0);
	for (i = 0; i < conf.threads; i++)
		pthread_join(ths[i].tid, NULL);
	for (i = 0; i < conf.threads; i++) {
		if (ths[i].result != 0) {
			fprintf(stderr, "sluice-blast: thread %u: %s\n", i,
			        strerror(-ths[i].result));
			ret = 2;
		}
	}
	i = (unsigned)report(&run, ths, conf.threads, t0, &ru0);
	if (ret == 0)
		ret = (int)i;
	for (i = 0; i < conf.threads; i++)
		blast_thread_free(&ths[i]);
	free(ths);
	blast_pool_free(&run.pool);
	if (run.verify_fd >= 0)
		close(run.verify_fd);
	return ret;
}
