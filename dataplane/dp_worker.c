/* SPDX-License-Identifier: MIT */
/*
 * dp_worker.c - the per-core context: pools sized from config at start-up, the ring and the
 * spool writer, the run and send queues, the clock, timers, control requests from the main
 * thread and the shutdown sequence. Backend-independent: the loop that drives these pieces is
 * the transport's run() (dp_uring.c).
 *
 * Public functions: see dp_worker.h.
 *
 * Memory: connection slots in one cache-aligned array; their receive, reply and envelope
 * areas in one anonymous mapping (pages are touched, and so backed, only when used).
 *
 * Shutdown (dp_worker_control on DP_REQ_STOP): stop accepting; idle sessions get 421 now,
 * sessions inside a transaction when it ends; at shutdown_timeout every session still open is
 * ended with 421 (one whose commit is in flight still gets its answer); CLOSE_GRACE later the
 * remaining sockets are cut. The worker is done when no connection, commit or control
 * operation is left and the log is written, or at the latest GIVE_UP_MS after the cut (a
 * spool that cannot flush: spool_writer_close() then settles what is left).
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/dp_session.h"
#include "dataplane/dp_worker.h"

#define FORCE_GRACE_MS 2000
#define GIVE_UP_MS     5000

const uint64_t dp_hist_bounds_us[DP_HIST_BUCKETS] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
};

void dp_panic(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sluiced: panic at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void apply_settings(struct dp_worker *w, const struct smtp_config *smtp,
                           const struct dp_limits *l)
{
	char hostname[sizeof(w->smtp.hostname)];

	memcpy(hostname, w->smtp.hostname, sizeof(hostname));
	w->smtp = *smtp;
	if (hostname[0]) /* sessions already greeted with this name */
		memcpy(w->smtp.hostname, hostname, sizeof(hostname));
	dp_sess_ensure_bits(&w->smtp);
	if (w->pol) /* policy answers HELO, MAIL and RCPT */
		w->smtp.decide |= SMTP_DECIDE_HELO | SMTP_DECIDE_MAIL | SMTP_DECIDE_RCPT;
	w->limits = *l;
	if (w->limits.max_conns > w->nconns && w->nconns)
		w->limits.max_conns = w->nconns; /* the pool was sized at start-up */
}

static int alloc_pools(struct dp_worker *w)
{
	const struct dp_worker_conf *wc = &w->wc;
	/* rx, tx, envelope, spill (twice rx: bare newlines may be normalised to CRLF) */
	size_t spill = 2 * (size_t)wc->conn_rx_size + 64;
	size_t per = (size_t)wc->conn_rx_size + wc->conn_tx_size + wc->envelope_size + spill;

	w->nconns = wc->limits.max_conns;
	w->conns = aligned_alloc(DP_CACHELINE, sizeof(*w->conns) * w->nconns);
	w->wheel = malloc(sizeof(*w->wheel));
	w->scratch_cap = wc->envelope_size / sizeof(struct dp_rcpt_rec);
	w->scratch_rcpt = calloc(w->scratch_cap, sizeof(*w->scratch_rcpt));
	w->scratch_param = calloc(w->scratch_cap, sizeof(*w->scratch_param));
	if (!w->conns || !w->wheel || !w->scratch_rcpt || !w->scratch_param)
		return -ENOMEM;
	memset(w->conns, 0, sizeof(*w->conns) * w->nconns);
	w->slab_len = per * w->nconns;
	w->slab = mmap(NULL, w->slab_len, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (w->slab == MAP_FAILED) {
		w->slab = NULL;
		return -ENOMEM;
	}
	for (uint32_t i = w->nconns; i-- > 0;) {
		struct dp_conn *c = &w->conns[i];

		c->idx = i;
		c->rx = w->slab + per * i;
		c->tx = c->rx + wc->conn_rx_size;
		c->env = c->tx + wc->conn_tx_size;
		c->spill = c->env + wc->envelope_size;
		c->run_next = w->free_list;
		w->free_list = c;
	}
	return dp_limit_init(&w->clients, w->nconns);
}

int dp_worker_init(struct dp_worker *w, unsigned id, const struct dp_conf *conf,
                   const struct dp_transport_ops *tp)
{
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->tp = tp;
	w->wc = conf->w[id];
	w->shutdown_timeout_ms = conf->shutdown_timeout_ms;
	w->runq_tail = &w->runq;
	w->txq_tail = &w->txq;
	w->spoolq_tail = &w->spoolq;
	w->ctl_fd = -1;
	for (unsigned i = 0; i < DP_LISTEN_MAX; i++)
		w->lfd[i] = -1;
	if (alloc_pools(w) != 0) {
		dp_worker_fini(w);
		return -ENOMEM;
	}
	apply_settings(w, &conf->smtp, &w->wc.limits);
	w->log.level = conf->log_level;
	w->ctl_fd = eventfd(0, EFD_CLOEXEC);
	if (w->ctl_fd < 0) {
		int rc = -errno;

		dp_worker_fini(w);
		return rc;
	}
	return 0;
}

int dp_worker_policy(struct dp_worker *w, struct pol_rules *rules, struct pol_mailbox *mb)
{
	struct pol_core_config pc;
	int rc;

	pol_core_config_defaults(&pc);
	pc.max_tx = w->nconns; /* at most one transaction per connection */
	rc = pol_core_create(&w->pol, rules, &pc);
	if (rc)
		return rc;
	w->pol_mb = mb;
	w->smtp.decide |= SMTP_DECIDE_HELO | SMTP_DECIDE_MAIL | SMTP_DECIDE_RCPT;
	return 0;
}

/* Between loop passes: take a rule set posted by a reload. */
static void policy_sync(struct dp_worker *w)
{
	int rc = pol_core_sync(w->pol, w->pol_mb);

	if (rc == 1)
		dp_log_printf(&w->log, w->real_us, DP_LOG_INFO, "policy: new rules in use");
	else if (rc < 0 && rc != -EBUSY)
		dp_log_printf(&w->log, w->real_us, DP_LOG_WARNING,
		              "policy: cannot take the new rules (%d), keeping the old ones", rc);
}

void dp_worker_fini(struct dp_worker *w)
{
	if (w->pol) {
		for (uint32_t i = 0; w->conns && i < w->nconns; i++)
			if (w->conns[i].pol_tx) /* normally released when the session ended */
				pol_tx_release(w->pol, w->conns[i].pol_tx);
		pol_core_destroy(w->pol);
		w->pol = NULL;
	}
	if (w->slab)
		munmap(w->slab, w->slab_len);
	free(w->conns);
	free(w->wheel);
	free(w->scratch_rcpt);
	free(w->scratch_param);
	dp_limit_free(&w->clients);
	if (w->ctl_fd >= 0)
		close(w->ctl_fd);
	for (unsigned i = 0; i < DP_LISTEN_MAX; i++)
		if (w->lfd[i] >= 0)
			close(w->lfd[i]);
	free(__atomic_exchange_n(&w->reload, NULL, __ATOMIC_ACQ_REL));
	w->slab = NULL;
	w->conns = NULL;
	w->wheel = NULL;
	w->scratch_rcpt = w->scratch_param = NULL;
	w->ctl_fd = -1;
}

static void pin(struct dp_worker *w, char *err, size_t errlen)
{
	cpu_set_t set;
	int rc;

	if (w->wc.cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(w->wc.cpu, &set);
	rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (rc == 0)
		w->cpu_pinned = 1;
	else /* a warning, not an error: run unpinned */
		snprintf(err, errlen, "worker %u: cannot pin to CPU %d (%s); running unpinned",
		         w->id, w->wc.cpu, strerror(rc));
}

static int ring_init(struct dp_worker *w)
{
	struct io_uring_params p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
	p.cq_entries = w->wc.ring_entries * 4;
	rc = io_uring_queue_init_params(w->wc.ring_entries, &w->ring, &p);
	if (rc == -EINVAL) { /* older kernel: no DEFER_TASKRUN */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = w->wc.ring_entries * 4;
		rc = io_uring_queue_init_params(w->wc.ring_entries, &w->ring, &p);
	}
	if (rc == 0)
		w->ring_ok = 1;
	return rc;
}

struct io_uring_sqe *dp_worker_sqe(struct dp_worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	if (!sqe) { /* submission queue full: hand it to the kernel, no waiting */
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

static void arm_ctl(struct dp_worker *w)
{
	struct io_uring_sqe *sqe = dp_worker_sqe(w);

	if (!sqe)
		return;
	io_uring_prep_read(sqe, w->ctl_fd, &w->ctl_buf, sizeof(w->ctl_buf), 0);
	io_uring_sqe_set_data64(sqe, DP_UD(w, DP_UD_CTL));
	w->inflight_misc++;
}

int dp_worker_setup(struct dp_worker *w, int log_fd, char *err, size_t errlen)
{
	int rc;

	err[0] = '\0';
	pin(w, err, errlen);
	dp_worker_clock(w);
	dp_wheel_init(w->wheel, w->now_ms, DP_TIMER_MS);
	rc = dp_log_init(&w->log, w->id, log_fd, log_fd != 2, w->log.level);
	if (rc)
		return snprintf(err, errlen, "worker %u: out of memory", w->id), rc;
	rc = ring_init(w);
	if (rc)
		return snprintf(err, errlen, "worker %u: io_uring setup: %s", w->id, strerror(-rc)),
		       rc;
	rc = spool_writer_open(&w->spool, &w->wc.spool, w->id, &w->ring);
	if (rc)
		return snprintf(err, errlen, "worker %u: spool %s: %s", w->id, w->wc.spool.dir,
		                strerror(-rc)),
		       rc;
	rc = w->tp->open(w);
	if (rc)
		return snprintf(err, errlen, "worker %u: transport %s: %s", w->id, w->tp->name,
		                strerror(-rc)),
		       rc;
	arm_ctl(w);
	io_uring_submit(&w->ring);
	return 0;
}

struct dp_conn *dp_conn_alloc(struct dp_worker *w)
{
	struct dp_conn *c = w->free_list;
	char *rx, *tx, *env, *spill;
	uint32_t idx;

	if (!c)
		return NULL;
	w->free_list = c->run_next;
	rx = c->rx;
	tx = c->tx;
	env = c->env;
	spill = c->spill;
	idx = c->idx;
	memset(c, 0, sizeof(*c));
	c->w = w;
	c->idx = idx;
	c->fd = -1;
	c->flags = DP_C_OPEN;
	c->rx = rx;
	c->rx_cap = w->wc.conn_rx_size;
	c->tx = tx;
	c->tx_cap = w->wc.conn_tx_size;
	c->env = env;
	c->env_cap = w->wc.envelope_size;
	c->spill = spill;
	c->spill_cap = 2 * w->wc.conn_rx_size + 64;
	w->nopen++;
	return c;
}

static void unlink_from(struct dp_conn **head, struct dp_conn ***tail, struct dp_conn *c,
                        size_t next_off)
{
	struct dp_conn **pp = head;

	while (*pp && *pp != c)
		pp = (struct dp_conn **)((char *)*pp + next_off);
	if (!*pp)
		return;
	*pp = *(struct dp_conn **)((char *)c + next_off);
	if (*tail == (struct dp_conn **)((char *)c + next_off))
		*tail = pp;
}

void dp_conn_free(struct dp_worker *w, struct dp_conn *c)
{
	if (!(c->flags & DP_C_OPEN))
		DP_PANIC("connection slot %u freed twice", c->idx);
	if (c->flags & DP_C_RUNQ)
		unlink_from(&w->runq, &w->runq_tail, c, offsetof(struct dp_conn, run_next));
	if (c->flags & DP_C_TXQ)
		unlink_from(&w->txq, &w->txq_tail, c, offsetof(struct dp_conn, tx_next));
	dp_worker_spoolq_remove(w, c);
	dp_timer_cancel(w->wheel, &c->timer);
	if (c->pol_tx) { /* a transaction still open when the connection went away */
		pol_tx_release(w->pol, c->pol_tx);
		c->pol_tx = NULL;
	}
	c->flags = 0;
	c->run_next = w->free_list;
	w->free_list = c;
	w->nopen--;
}

void dp_worker_runq_push(struct dp_worker *w, struct dp_conn *c)
{
	if (c->flags & DP_C_RUNQ)
		return;
	c->flags |= DP_C_RUNQ;
	c->run_next = NULL;
	*w->runq_tail = c;
	w->runq_tail = &c->run_next;
}

void dp_worker_txq_push(struct dp_worker *w, struct dp_conn *c)
{
	if (c->flags & DP_C_TXQ)
		return;
	c->flags |= DP_C_TXQ;
	c->tx_next = NULL;
	*w->txq_tail = c;
	w->txq_tail = &c->tx_next;
}

unsigned dp_worker_run_queue(struct dp_worker *w, unsigned max)
{
	unsigned n = 0;

	while (w->runq && n < max) {
		struct dp_conn *c = w->runq;

		w->runq = c->run_next;
		if (!w->runq)
			w->runq_tail = &w->runq;
		c->flags &= ~DP_C_RUNQ;
		dp_sess_run(w, c); /* may free c */
		n++;
	}
	return n;
}

void dp_worker_spoolq_push(struct dp_worker *w, struct dp_conn *c)
{
	if (c->flags & DP_C_SPOOL_WAIT)
		return;
	c->flags |= DP_C_SPOOL_WAIT;
	c->spool_next = NULL;
	*w->spoolq_tail = c;
	w->spoolq_tail = &c->spool_next;
	DP_COUNT(w, spool_waits, 1);
}

void dp_worker_spoolq_remove(struct dp_worker *w, struct dp_conn *c)
{
	if (!(c->flags & DP_C_SPOOL_WAIT))
		return;
	unlink_from(&w->spoolq, &w->spoolq_tail, c, offsetof(struct dp_conn, spool_next));
	c->flags &= ~DP_C_SPOOL_WAIT;
}

void dp_worker_spool_retry(struct dp_worker *w)
{
	struct dp_conn *c, *next;

	if (!w->spoolq || !(w->spool_progress || spool_writer_idle(w->spool)))
		return;
	w->spool_progress = 0;
	/* Detach the queue: a connection still short of room queues itself again, in order. */
	c = w->spoolq;
	w->spoolq = NULL;
	w->spoolq_tail = &w->spoolq;
	for (; c; c = next) {
		next = c->spool_next;
		c->flags &= ~DP_C_SPOOL_WAIT;
		dp_sess_spool_retry(w, c);
	}
}

void dp_worker_flush(struct dp_worker *w)
{
	while (w->txq) {
		struct dp_conn *c = w->txq;

		w->txq = c->tx_next;
		if (!w->txq)
			w->txq_tail = &w->txq;
		c->flags &= ~DP_C_TXQ;
		dp_sess_flush(w, c);
	}
}

void dp_worker_clock(struct dp_worker *w)
{
	struct timespec m, r;

	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	w->now_us = (uint64_t)m.tv_sec * 1000000 + (uint64_t)m.tv_nsec / 1000;
	w->now_ms = w->now_us / 1000;
	w->real_us = (uint64_t)r.tv_sec * 1000000 + (uint64_t)r.tv_nsec / 1000;
}

static void for_each_open(struct dp_worker *w, int force)
{
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct dp_conn *c = &w->conns[i];

		if ((c->flags & DP_C_OPEN) && !(c->flags & DP_C_CLOSED))
			dp_sess_shutdown(w, c, force); /* may free c; the slot stays in the array */
	}
}

static void begin_stop(struct dp_worker *w)
{
	if (w->stopping)
		return;
	w->stopping = 1;
	w->stop_deadline = w->now_ms + w->shutdown_timeout_ms;
	w->force_deadline = w->stop_deadline + FORCE_GRACE_MS;
	dp_log_printf(&w->log, w->real_us, DP_LOG_INFO,
	              "stopping: %u connections open, %u commits in flight", w->nopen, w->commits);
	for_each_open(w, 0);
}

/* Sessions still working (not yet ending): while there are, new connections get a 421. */
static int sessions_busy(const struct dp_worker *w)
{
	for (uint32_t i = 0; i < w->nconns; i++)
		if ((w->conns[i].flags & (DP_C_OPEN | DP_C_CLOSING)) == DP_C_OPEN)
			return 1;
	return 0;
}

void dp_worker_tick(struct dp_worker *w)
{
	dp_wheel_expire(w->wheel, w->now_ms, DP_RUN_BATCH, dp_sess_timer, w);
	if (w->pol && pol_mailbox_pending(w->pol_mb))
		policy_sync(w);
	__atomic_store_n(&w->cnt.log_dropped, w->log.dropped, __ATOMIC_RELAXED);
	if (!w->stopping)
		return;
	if (w->phase == 0 && w->now_ms >= w->stop_deadline) {
		w->phase = 1;
		for_each_open(w, 1);
	}
	if (w->phase == 1 && w->now_ms >= w->force_deadline) {
		w->phase = 2;
		for_each_open(w, 2);
	}
	if (!w->listeners_closed && (w->phase > 0 || !sessions_busy(w))) {
		w->listeners_closed = 1; /* until now, late connections got "421 shutting down" */
		w->tp->stop(w);
	}
	if (w->nopen == 0 && w->commits == 0 && w->inflight_misc == 0 && !w->runq && !w->txq &&
	    dp_log_idle(&w->log) && spool_writer_idle(w->spool))
		w->done = 1;
	else if (w->phase == 2 && w->now_ms >= w->force_deadline + GIVE_UP_MS)
		w->done = 1; /* e.g. a spool that cannot flush: spool_writer_close() settles it */
}

uint64_t dp_worker_wait_ms(const struct dp_worker *w)
{
	uint64_t ms = 1000, t;

	if (w->runq || w->txq)
		return 0;
	t = dp_wheel_next_ms(w->wheel, w->now_ms);
	if (t < ms)
		ms = t;
	if (w->spool) {
		t = spool_writer_next_due(w->spool, w->now_us);
		if (t != UINT64_MAX && (t + 999) / 1000 < ms)
			ms = (t + 999) / 1000;
	}
	if (w->stopping) {
		t = w->phase == 0 ? w->stop_deadline : w->force_deadline;
		t = t > w->now_ms ? t - w->now_ms : 0;
		if (t < ms)
			ms = t;
		if (ms > 100)
			ms = 100; /* check for completion of the drain often */
	}
	return ms;
}

int dp_worker_request(struct dp_worker *w, uint32_t req, struct dp_reload *r)
{
	uint64_t one = 1;

	if (r)
		free(__atomic_exchange_n(&w->reload, r, __ATOMIC_ACQ_REL));
	__atomic_fetch_or(&w->ctl_req, req, __ATOMIC_RELEASE);
	if (write(w->ctl_fd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	return 0;
}

void dp_worker_cqe(struct dp_worker *w, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;

	if (SPOOL_UD_IS(ud)) {
		spool_writer_cqe(w->spool, cqe); /* commit callbacks run from here */
		w->spool_progress = 1;
		return;
	}
	switch (DP_UD_KIND(ud)) {
	case DP_UD_CTL:
		dp_worker_control(w);
		break;
	case DP_UD_LOG:
		dp_log_cqe(&w->log, &w->ring, cqe);
		break;
	default:
		w->inflight_misc--;
		break;
	}
}

void dp_worker_control(struct dp_worker *w)
{
	uint32_t req = __atomic_exchange_n(&w->ctl_req, 0, __ATOMIC_ACQUIRE);

	w->inflight_misc--;
	if (req & DP_REQ_RELOAD) {
		struct dp_reload *r = __atomic_exchange_n(&w->reload, NULL, __ATOMIC_ACQUIRE);

		if (r) {
			apply_settings(w, &r->smtp, &r->limits);
			w->log.level = r->log_level;
			w->shutdown_timeout_ms = r->shutdown_timeout_ms;
			dp_log_printf(&w->log, w->real_us, DP_LOG_INFO, "configuration reloaded");
			free(r);
		}
	}
	if (req & DP_REQ_STOP)
		begin_stop(w);
	if (!w->stopping)
		arm_ctl(w);
}

void dp_counters_sum(struct dp_worker *const *w, unsigned n, struct dp_counters *out)
{
	uint64_t *dst = (uint64_t *)out;

	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < n; i++) {
		const uint64_t *src = (const uint64_t *)&w[i]->cnt;

		for (size_t j = 0; j < sizeof(*out) / sizeof(uint64_t); j++)
			dst[j] += __atomic_load_n(&src[j], __ATOMIC_RELAXED);
	}
}
