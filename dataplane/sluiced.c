/* SPDX-License-Identifier: MIT */
/*
 * sluiced.c - the daemon: reads the configuration, binds the listening sockets, starts the
 * metrics server, drops root, starts one worker thread per configured core, prints a line
 * containing "ready" on stderr once every worker accepts connections, then waits for signals.
 *
 * Threads: the main thread (start-up, signals, reload); one worker per core (dp_worker.h, the
 * loop is the transport's run()); the metrics server's thread (libmicrohttpd) when enabled.
 * Signals are blocked in every thread and taken synchronously here with sigwaitinfo():
 *   TERM, INT  ask every worker to stop (drain, then 421), join them, exit 0;
 *   HUP        re-read the configuration file and hand the reloadable settings to the
 *              workers (limits, timeouts, protocol settings, log level, shutdown timeout);
 *              a file with an error is reported and ignored. With policy on, the rules
 *              file ([policy] rules or --policy, fixed at start-up) is loaded again and
 *              posted to every worker's mailbox; a broken file keeps the old rules.
 *
 * Exit status: 0 after TERM/INT, 1 when start-up or a worker failed, 2 for a usage or
 * configuration error.
 */
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "dataplane/dp_config.h"
#include "dataplane/dp_metrics.h"
#include "dataplane/dp_priv.h"
#include "dataplane/dp_uring.h"
#include "dataplane/dp_worker.h"
#ifdef SLUICE_HAVE_DPDK
#include "dataplane/dpdk/dp_dpdk.h"
#endif

#define LISTEN_BACKLOG 4096

struct start {
	struct dp_worker *w;
	int log_fd;
	sem_t *sem;
	int rc;
	char err[512];
};

struct daemon {
	struct dp_conf conf;
	struct dp_flags flags;
	struct dp_worker **w;
	struct start *st;
	unsigned n;
	struct dp_metrics_srv metrics;
	int use_syslog;
	struct dp_dpdk *dpdk; /* backend dpdk: EAL and the port */
	/* policy: NULL = off. The main thread holds one reference to the current rule set. */
	struct pol_rules *rules;
	struct pol_mailbox *mbs; /* one per worker */
};

static void say(const struct daemon *d, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(const struct daemon *d, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (d && d->use_syslog) {
		vsyslog(LOG_MAIL | prio, fmt, ap);
	} else {
		fputs("sluiced: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

static int load_conf(struct dp_conf *c, const struct dp_flags *f, char *err, size_t errlen)
{
	int rc;

	dp_conf_defaults(c);
	if (f->config[0]) {
		rc = dp_conf_load(c, f->config, err, errlen);
		if (rc)
			return rc;
	}
	return dp_conf_finish(c, f, err, errlen);
}

/* Bind every worker's sockets, in worker order (the SO_REUSEPORT group order). */
static int bind_all(struct daemon *d, char *err, size_t errlen)
{
	for (unsigned i = 0; i < d->n; i++) {
		struct dp_worker_conf *wc = &d->conf.w[i];

		for (unsigned j = 0; j < wc->nlisten; j++) {
			struct dp_addr asked = wc->listen[j], bound;
			int fd = dp_uring_listen(&asked, LISTEN_BACKLOG, &bound, err, errlen);

			if (fd < 0)
				return fd;
			d->w[i]->lfd[j] = fd;
			wc->listen[j] = bound;
			/* Port 0: the later workers join the port the kernel picked. */
			for (unsigned k = i + 1; k < d->n; k++)
				for (unsigned m = 0; m < d->conf.w[k].nlisten; m++)
					if (strcmp(d->conf.w[k].listen[m].text, asked.text) == 0)
						d->conf.w[k].listen[m] = bound;
		}
	}
	return 0;
}

static const struct dp_transport_ops *backend_ops(const struct daemon *d)
{
#ifdef SLUICE_HAVE_DPDK
	if (d->conf.backend == DP_BACKEND_DPDK)
		return &dp_dpdk_ops;
#endif
	return &dp_uring_ops;
}

/* Before dropping root: bind the kernel sockets, or start the EAL and the DPDK port. */
static int backend_start(struct daemon *d, char *err, size_t errlen)
{
	if (d->conf.backend != DP_BACKEND_DPDK)
		return bind_all(d, err, errlen);
#ifdef SLUICE_HAVE_DPDK
	int rc = dp_dpdk_start(&d->dpdk, &d->conf, d->n, err, errlen);

	for (unsigned i = 0; rc == 0 && i < d->n; i++)
		rc = dp_dpdk_attach(d->dpdk, d->w[i]);
	return rc;
#else
	return snprintf(err, errlen, "backend dpdk: sluiced was built without DPDK"), -ENOTSUP;
#endif
}

static int open_log(struct daemon *d)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (d->conf.log_target != DP_LOG_SYSLOG)
		return 2;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->conf.syslog_socket);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	say(d, LOG_WARNING, "warning: syslog socket %s: %s; logging to stderr",
	    d->conf.syslog_socket, strerror(errno));
	return 2;
}

/*
 * Workers write log lines to stderr through their own rings, concurrently. On a regular file
 * without O_APPEND, writes at "the current offset" from two rings can land on the same bytes;
 * with O_APPEND each write goes to the end.
 */
static void stderr_append(void)
{
	struct stat st;
	int fl = fcntl(2, F_GETFL);

	if (fl >= 0 && !(fl & O_APPEND) && fstat(2, &st) == 0 && S_ISREG(st.st_mode))
		fcntl(2, F_SETFL, fl | O_APPEND);
}

static void *worker_main(void *arg)
{
	struct start *st = arg;
	struct dp_worker *w = st->w;
	sem_t *sem = st->sem;

	st->rc = dp_worker_setup(w, st->log_fd, st->err, sizeof(st->err));
	if (st->rc == 0) {
		sem_post(sem); /* st is not touched by this thread after this point */
		w->tp->run(w);
	} else {
		w->done = 1;
		sem_post(sem);
	}
	if (w->spool)
		spool_writer_close(w->spool); /* the loop left nothing of ours in flight */
	w->spool = NULL;
	if (w->tp_priv)
		w->tp->destroy(w);
	if (w->ring_ok)
		io_uring_queue_exit(&w->ring);
	w->ring_ok = 0;
	if (w->log.buf[0])
		dp_log_fini(&w->log);
	return NULL;
}

static int start_workers(struct daemon *d, sem_t *sem)
{
	int failed = 0;

	for (unsigned i = 0; i < d->n; i++) {
		d->st[i].w = d->w[i];
		d->st[i].sem = sem;
		d->st[i].log_fd = open_log(d);
		if (pthread_create(&d->w[i]->thread, NULL, worker_main, &d->st[i]) != 0) {
			say(d, LOG_ERR, "worker %u: cannot start a thread", i);
			d->n = i;
			return -EAGAIN;
		}
	}
	for (unsigned i = 0; i < d->n; i++)
		while (sem_wait(sem) != 0 && errno == EINTR)
			;
	for (unsigned i = 0; i < d->n; i++) {
		if (d->st[i].err[0])
			say(d, d->st[i].rc ? LOG_ERR : LOG_WARNING, "%s%s",
			    d->st[i].rc ? "" : "warning: ", d->st[i].err);
		failed |= d->st[i].rc != 0;
	}
	return failed ? -EIO : 0;
}

static void stop_workers(struct daemon *d)
{
	for (unsigned i = 0; i < d->n; i++)
		if (!d->w[i]->done)
			dp_worker_request(d->w[i], DP_REQ_STOP, NULL);
	for (unsigned i = 0; i < d->n; i++)
		pthread_join(d->w[i]->thread, NULL);
}

static void policy_opts(const struct daemon *d, struct pol_load_opts *opt)
{
	opt->cache_dir = d->conf.policy_cache_dir[0] ? d->conf.policy_cache_dir : NULL;
}

/* Start-up: load the rules file. 0 (also when policy is off) or -errno, err set. */
static int policy_load(struct daemon *d, char *err, size_t errlen)
{
	struct pol_load_opts opt;
	struct pol_rules_info info;
	struct pol_error pe;
	int rc;

	if (!d->conf.policy_rules[0])
		return 0;
	policy_opts(d, &opt);
	rc = pol_rules_load(d->conf.policy_rules, &opt, &d->rules, &pe);
	if (rc)
		return snprintf(err, errlen, "policy: %s", pe.msg), rc;
	pol_rules_info(d->rules, &info);
	say(d, LOG_INFO, "policy: %u rules from %s loaded in %.1f ms", info.nrules,
	    d->conf.policy_rules, info.load_ms);
	return 0;
}

/* Before the worker threads start: one policy core and mailbox per worker. */
static int policy_workers(struct daemon *d, char *err, size_t errlen)
{
	if (!d->rules)
		return 0;
	d->mbs = aligned_alloc(64, sizeof(*d->mbs) * d->n);
	if (!d->mbs)
		return snprintf(err, errlen, "policy: out of memory"), -ENOMEM;
	for (unsigned i = 0; i < d->n; i++) {
		pol_mailbox_init(&d->mbs[i]);
		if (dp_worker_policy(d->w[i], d->rules, &d->mbs[i]) != 0)
			return snprintf(err, errlen, "worker %u: policy: out of memory", i),
			       -ENOMEM;
	}
	return 0;
}

/* SIGHUP: load the rules file again; the workers take the new set between loop passes. */
static void policy_reload(struct daemon *d)
{
	struct pol_load_opts opt;
	struct pol_error pe;

	if (!d->rules)
		return;
	policy_opts(d, &opt);
	if (pol_reload(d->conf.policy_rules, &opt, d->mbs, d->n, &d->rules, &pe) != 0) {
		say(d, LOG_ERR, "policy reload failed, keeping the running rules: %s", pe.msg);
		return;
	}
	for (unsigned i = 0; i < d->n; i++)
		dp_worker_request(d->w[i], DP_REQ_POLICY, NULL); /* wake it to take them */
	say(d, LOG_INFO, "policy: rules reloaded from %s", d->conf.policy_rules);
}

static void reload(struct daemon *d)
{
	struct dp_conf nc;
	char err[512];

	policy_reload(d);
	if (!d->flags.config[0]) {
		say(d, LOG_INFO, "reload: no configuration file (--config); nothing to do");
		return;
	}
	if (load_conf(&nc, &d->flags, err, sizeof(err)) != 0) {
		say(d, LOG_ERR, "reload failed, keeping the running configuration: %s", err);
		dp_conf_free(&nc);
		return;
	}
	for (unsigned i = 0; i < d->n; i++) {
		struct dp_reload *r = calloc(1, sizeof(*r));

		if (!r)
			continue;
		r->smtp = nc.smtp;
		r->limits = i < nc.nworkers ? nc.w[i].limits : nc.wdef.limits;
		r->log_level = nc.log_level;
		r->shutdown_timeout_ms = nc.shutdown_timeout_ms;
		dp_worker_request(d->w[i], DP_REQ_RELOAD, r);
	}
	dp_conf_reloadable(&d->conf, &nc);
	dp_conf_free(&nc);
	say(d, LOG_INFO, "reload: limits, timeouts, protocol settings and log level applied");
}

static void ready_line(struct daemon *d)
{
	char buf[1024];
	size_t len = 0;

	for (unsigned j = 0; j < d->conf.w[0].nlisten && len < sizeof(buf) - 80; j++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", j ? " " : "",
		                        d->conf.w[0].listen[j].text);
	fprintf(stderr, "sluiced: ready: listening on %s; %u worker%s, backend %s%s%s\n", buf, d->n,
	        d->n == 1 ? "" : "s", backend_ops(d)->name,
	        d->conf.metrics_on ? ", metrics on " : "",
	        d->conf.metrics_on ? d->conf.metrics.text : "");
	if (d->use_syslog)
		syslog(LOG_MAIL | LOG_INFO, "ready: listening on %s", buf);
}

static int serve(struct daemon *d)
{
	sigset_t set;
	siginfo_t si;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		int sig = sigwaitinfo(&set, &si);

		if (sig == SIGHUP) {
			reload(d);
		} else if (sig == SIGTERM || sig == SIGINT) {
			say(d, LOG_INFO, "signal %d: stopping (shutdown timeout %u ms)", sig,
			    d->conf.shutdown_timeout_ms);
			stop_workers(d);
			say(d, LOG_INFO, "stopped");
			return 0;
		}
	}
}

static int prepare(struct daemon *d, struct dp_priv *priv, char *err, size_t errlen)
{
	int rc;

	d->n = d->conf.nworkers;
	d->w = calloc(d->n, sizeof(*d->w));
	d->st = calloc(d->n, sizeof(*d->st));
	if (!d->w || !d->st)
		return snprintf(err, errlen, "out of memory"), -ENOMEM;
	for (unsigned i = 0; i < d->n; i++) {
		d->w[i] = aligned_alloc(DP_CACHELINE, sizeof(struct dp_worker));
		if (!d->w[i] || dp_worker_init(d->w[i], i, &d->conf, backend_ops(d)) != 0) {
			d->n = i + (d->w[i] != NULL);
			return snprintf(err, errlen, "worker %u: out of memory", i), -ENOMEM;
		}
	}
	rc = dp_priv_resolve(priv, d->conf.user, err, errlen);
	if (rc == 0)
		rc = policy_workers(d, err, errlen);
	if (rc == 0)
		rc = backend_start(d, err, errlen);
	if (rc == 0 && d->conf.metrics_on)
		rc = dp_metrics_start(&d->metrics, &d->conf.metrics, d->w, d->n, err, errlen);
	for (unsigned i = 0; rc == 0 && i < d->n; i++)
		rc = dp_priv_prepare_dir(priv, d->conf.w[i].spool.dir, err, errlen);
	if (rc == 0)
		rc = dp_priv_drop(priv, err, errlen);
	return rc;
}

static void cleanup(struct daemon *d)
{
	dp_metrics_stop(&d->metrics);
	for (unsigned i = 0; i < d->n; i++) {
		if (!d->w[i])
			continue;
		if (d->st[i].log_fd > 2)
			close(d->st[i].log_fd);
		dp_worker_fini(d->w[i]); /* drops the worker's policy core */
		free(d->w[i]);
	}
	if (d->rules)
		pol_rules_put(d->rules);
	if (d->mbs) /* an offer no worker took still holds a reference */
		for (unsigned i = 0; i < d->n; i++) {
			struct pol_rules *r = pol_mailbox_take(&d->mbs[i]);

			if (r)
				pol_rules_put(r);
		}
	free(d->mbs);
	free(d->w);
	free(d->st);
#ifdef SLUICE_HAVE_DPDK
	dp_dpdk_stop(d->dpdk); /* every worker has ended */
#endif
	dp_conf_free(&d->conf);
}

int main(int argc, char **argv)
{
	static struct daemon d; /* large (configuration); one instance */
	struct dp_priv priv;
	char err[1024];
	sigset_t set;
	sem_t sem;
	int rc;

	rc = dp_flags_parse(&d.flags, argc, argv, err, sizeof(err));
	if (rc)
		return rc > 0 ? 0 : (say(NULL, LOG_ERR, "%s", err), 2);
	if (load_conf(&d.conf, &d.flags, err, sizeof(err)) != 0)
		return say(NULL, LOG_ERR, "%s", err), 2;
	if (policy_load(&d, err, sizeof(err)) != 0) {
		say(NULL, LOG_ERR, "%s", err);
		dp_conf_free(&d.conf);
		return 2;
	}
	d.use_syslog = d.conf.log_target == DP_LOG_SYSLOG;
	if (d.use_syslog)
		openlog("sluiced", LOG_PID, LOG_MAIL);
	smtp_scan_select();
	stderr_append();
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every thread started later */

	rc = prepare(&d, &priv, err, sizeof(err));
	if (rc == 0 && sem_init(&sem, 0, 0) != 0)
		rc = -errno;
	if (rc) {
		say(&d, LOG_ERR, "%s", err);
		cleanup(&d);
		return 1;
	}
	if (start_workers(&d, &sem) != 0) {
		stop_workers(&d);
		cleanup(&d);
		return 1;
	}
	ready_line(&d);
	rc = serve(&d);
	cleanup(&d);
	sem_destroy(&sem);
	return rc;
}
