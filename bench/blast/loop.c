/* SPDX-License-Identifier: MIT */
/*
 * loop.c - the per-thread event loop of sluice-blast: session scheduling (closed loop: every
 * session always busy; open loop: messages due at t0 + k / rate), timeouts, the stop/drain
 * sequence and send-time stamping.
 *
 * One pass: decide what is due, stamp the sends prepared in the previous pass with the clock
 * read right before the single io_uring_enter (so latency starts when the bytes are handed to
 * the kernel, not when they were composed), wait for completions, read the clock once, hand
 * each event to its session, expire timers. No locks, no logging, no blocking calls.
 *
 * Timers: every phase waits the same --timeout, so one FIFO list ordered by deadline holds all
 * armed sessions (re-arming moves a session to the tail); connection back-off (after a failed
 * connect in closed loop) is a second list with its own span.
 *
 * Idle stack (open loop, connected sessions waiting for a message): a session that leaves IDLE
 * while on the stack (the server closed it) stays there and is dropped when popped.
 */
#include "blast.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLAST_BATCH       512
#define BLAST_BACKOFF_NS  10000000ull
#define BLAST_LINGER_NS   200000000ull
#define BLAST_POLL_MAX_NS 100000000ull

uint64_t blast_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int blast_thread_init(struct blast_thread *th, struct blast_run *run, unsigned id)
{
	const struct blast_conf *c = run->conf;
	unsigned i;
	int err;

	memset(th, 0, sizeof(*th));
	th->id = id;
	th->run = run;
	th->conf = c;
	th->nsess = c->sessions / c->threads + (id < c->sessions % c->threads ? 1u : 0u);
	th->sess = calloc(th->nsess, sizeof(*th->sess));
	th->stamp_cap = 3 * th->nsess + 64;
	th->stamps = calloc(th->stamp_cap, sizeof(*th->stamps));
	if (th->sess == NULL || th->stamps == NULL)
		return -ENOMEM;
	for (i = 0; i < th->nsess; i++)
		if ((err = blast_sess_alloc(th, &th->sess[i])) != 0)
			return err;
	for (i = 0; i < BLAST_LAT_COUNT; i++)
		if ((err = blast_hist_init(&th->lat[i], 10, 3600ull * 1000000000ull)) != 0)
			return err;
	blast_rng_seed(&th->rng, c->seed ^ (0x9e3779b97f4a7c15ull * (id + 1)));
	th->budget = UINT64_MAX;
	if (c->messages != 0)
		th->budget = c->messages / c->threads + (id < c->messages % c->threads ? 1u : 0u);
	if (c->rate > 0)
		th->period_ns = 1e9 * (double)c->threads / c->rate;
	th->timers.span_ns = run->timeout_ns;
	th->backoff.span_ns = BLAST_BACKOFF_NS;
	th->linger.span_ns = BLAST_LINGER_NS;
	if (run->verify_fd >= 0) {
		th->vcap = 64 * 1024;
		th->vbuf = malloc(th->vcap);
		if (th->vbuf == NULL)
			return -ENOMEM;
	}
	return 0;
}

void blast_thread_free(struct blast_thread *th)
{
	unsigned i;

	for (i = 0; th->sess != NULL && i < th->nsess; i++)
		free(th->sess[i].tx);
	for (i = 0; i < BLAST_LAT_COUNT; i++)
		blast_hist_free(&th->lat[i]);
	free(th->sess);
	free(th->stamps);
	free(th->vbuf);
}

bool blast_claim(struct blast_thread *th)
{
	if (th->stopping || th->claimed >= th->budget)
		return false;
	th->claimed++;
	return true;
}

void blast_stamp(struct blast_thread *th, uint64_t *slot)
{
	*slot = th->now;
	if (th->nstamps < th->stamp_cap)
		th->stamps[th->nstamps++] = slot;
}

void blast_timer_disarm(struct blast_sess *s)
{
	struct blast_tlist *l = s->tlist;

	if (l == NULL)
		return;
	if (s->tprev != NULL)
		s->tprev->tnext = s->tnext;
	else
		l->head = s->tnext;
	if (s->tnext != NULL)
		s->tnext->tprev = s->tprev;
	else
		l->tail = s->tprev;
	s->tnext = s->tprev = NULL;
	s->tlist = NULL;
}

void blast_timer_arm(struct blast_thread *th, struct blast_tlist *l, struct blast_sess *s)
{
	blast_timer_disarm(s);
	s->deadline = th->now + l->span_ns;
	s->tlist = l;
	s->tprev = l->tail;
	s->tnext = NULL;
	if (l->tail != NULL)
		l->tail->tnext = s;
	else
		l->head = s;
	l->tail = s;
}

static struct blast_sess *idle_pop(struct blast_thread *th)
{
	struct blast_sess *s;

	while ((s = th->idle) != NULL) {
		th->idle = s->inext;
		s->in_idle = 0;
		if (s->phase == BLAST_PH_IDLE)
			return s;
	}
	return NULL;
}

static void idle_quit_all(struct blast_thread *th)
{
	struct blast_sess *s;

	while ((s = idle_pop(th)) != NULL)
		blast_sess_quit(th, s);
}

static void free_push(struct blast_thread *th, struct blast_sess *s)
{
	s->snext = th->free;
	th->free = s;
}

static struct blast_sess *free_pop(struct blast_thread *th)
{
	struct blast_sess *s = th->free;

	if (s != NULL)
		th->free = s->snext;
	return s;
}

/* The session is connected and has nothing to do: give it a message, park it, or end it. */
void blast_loop_ready(struct blast_thread *th, struct blast_sess *s)
{
	const struct blast_conf *c = th->conf;

	if (s->have_msg) {
		blast_sess_begin(th, s);
		return;
	}
	if ((c->per_conn != 0 && s->on_conn >= c->per_conn) || th->stopping ||
	    th->claimed >= th->budget) {
		blast_sess_quit(th, s);
		return;
	}
	if (c->rate == 0) {
		if (!blast_claim(th)) {
			blast_sess_quit(th, s);
			return;
		}
		s->have_msg = 1;
		blast_sess_begin(th, s);
		return;
	}
	s->phase = BLAST_PH_IDLE;
	blast_timer_disarm(s);
	if (!s->in_idle) {
		s->in_idle = 1;
		s->inext = th->idle;
		th->idle = s;
	}
}

/* The session's connection is gone (or its connect failed and the back-off ended). */
void blast_loop_closed(struct blast_thread *th, struct blast_sess *s)
{
	th->active--;
	if (th->conf->rate == 0 && blast_claim(th)) {
		s->have_msg = 1;
		th->active++;
		blast_sess_connect(th, s);
		return;
	}
	free_push(th, s);
}

static uint64_t ol_intended(const struct blast_thread *th, uint64_t k)
{
	return th->t0 + (uint64_t)((double)k * th->period_ns);
}

/* Messages whose intended time is at most now (and before the end of --duration). */
static uint64_t ol_due(const struct blast_thread *th)
{
	uint64_t t = th->now < th->t_end ? th->now : th->t_end - 1;
	uint64_t due = (uint64_t)((double)(t - th->t0) / th->period_ns) + 1;

	return due < th->budget ? due : th->budget;
}

/* Open loop: start every message whose intended time has come, while sessions are free. */
static void ol_dispatch(struct blast_thread *th)
{
	uint64_t due = ol_due(th);
	struct blast_sess *s;

	while (!th->stopping && th->claimed < due) {
		s = idle_pop(th);
		if (s == NULL && (s = free_pop(th)) != NULL)
			th->active++;
		if (s == NULL)
			break;
		s->have_msg = 1;
		s->t_start = ol_intended(th, th->claimed);
		th->claimed++;
		if (s->phase == BLAST_PH_IDLE)
			blast_sess_begin(th, s);
		else
			blast_sess_connect(th, s);
	}
	if (th->claimed >= th->budget)
		idle_quit_all(th);
}

/* Stop: no new messages; transactions under way finish (bounded by the timeout); sessions that
 * have not sent MAIL yet are closed at once and their message counts as unsent. */
static void loop_stop(struct blast_thread *th)
{
	unsigned i;

	if (th->conf->rate > 0) {
		uint64_t due = ol_due(th);

		if (due > th->claimed)
			BLAST_ADD(th, unsent, due - th->claimed);
	}
	th->stopping = true;
	th->t_drain = th->now + th->run->timeout_ns + 1000000000ull;
	idle_quit_all(th);
	for (i = 0; i < th->nsess; i++) {
		struct blast_sess *s = &th->sess[i];

		if (s->phase == BLAST_PH_BACKOFF) {
			blast_timer_disarm(s);
			s->phase = BLAST_PH_FREE;
			blast_loop_closed(th, s);
		} else if (s->phase >= BLAST_PH_CONNECTING && s->phase <= BLAST_PH_HELO) {
			if (s->have_msg)
				BLAST_ADD(th, unsent, 1);
			s->have_msg = 0;
			blast_sess_close(th, s);
		}
	}
}

static void loop_abort_all(struct blast_thread *th)
{
	unsigned i;

	if (!th->stopping)
		loop_stop(th);
	for (i = 0; i < th->nsess; i++) {
		struct blast_sess *s = &th->sess[i];

		if (s->phase == BLAST_PH_BACKOFF) {
			blast_timer_disarm(s);
			s->phase = BLAST_PH_FREE;
			blast_loop_closed(th, s);
		} else if (s->phase != BLAST_PH_FREE && s->phase != BLAST_PH_CLOSING) {
			blast_sess_abort(th, s, BLAST_ERR_STOPPED);
		}
	}
	th->t_drain = UINT64_MAX;
	th->t_hard = th->now + 2000000000ull;
}

static void loop_expire(struct blast_thread *th, struct blast_tlist *l)
{
	struct blast_sess *s;

	while ((s = l->head) != NULL && s->deadline <= th->now) {
		blast_timer_disarm(s);
		blast_sess_expire(th, s);
	}
}

static uint64_t loop_timeout(const struct blast_thread *th)
{
	uint64_t next = th->now + BLAST_POLL_MAX_NS;

	if (th->timers.head != NULL && th->timers.head->deadline < next)
		next = th->timers.head->deadline;
	if (th->backoff.head != NULL && th->backoff.head->deadline < next)
		next = th->backoff.head->deadline;
	if (th->linger.head != NULL && th->linger.head->deadline < next)
		next = th->linger.head->deadline;
	if (!th->stopping && th->t_end < next)
		next = th->t_end;
	if (th->stopping && th->t_drain < next)
		next = th->t_drain;
	if (th->conf->rate > 0 && !th->stopping && th->claimed < th->budget &&
	    (th->idle != NULL || th->free != NULL)) {
		uint64_t t = ol_intended(th, th->claimed);

		if (t < next)
			next = t;
	}
	return next > th->now ? next - th->now : 0;
}

static void loop_start(struct blast_thread *th)
{
	unsigned i;

	for (i = 0; i < th->nsess; i++) {
		struct blast_sess *s = &th->sess[i];

		if (th->conf->rate == 0 && blast_claim(th)) {
			s->have_msg = 1;
			th->active++;
			blast_sess_connect(th, s);
		} else {
			free_push(th, s);
		}
	}
}

static int loop_run(struct blast_thread *th, struct blast_ev *ev)
{
	struct blast_run *run = th->run;
	uint64_t timeout, t_sub;
	int n, i;

	loop_start(th);
	for (;;) {
		if (th->conf->rate > 0)
			ol_dispatch(th);
		if (!th->stopping &&
		    (__atomic_load_n(&run->stop, __ATOMIC_RELAXED) || th->now >= th->t_end))
			loop_stop(th);
		if (__atomic_load_n(&run->abort, __ATOMIC_RELAXED) && th->t_drain != UINT64_MAX)
			loop_abort_all(th);
		if (th->stopping && th->now >= th->t_drain)
			loop_abort_all(th);
		if (th->active == 0 && (th->stopping || th->claimed >= th->budget))
			return 0;
		if (th->now >= th->t_hard)
			return -ETIMEDOUT; /* closes did not complete after an abort */
		timeout = loop_timeout(th);
		t_sub = blast_now_ns();

		for (i = 0; i < (int)th->nstamps; i++)
			*th->stamps[i] = t_sub;
		th->nstamps = 0;
		n = th->tp.ops->wait(&th->tp, ev, BLAST_BATCH, timeout);
		th->now = blast_now_ns();
		if (n < 0)
			return n;
		for (i = 0; i < n; i++) {
			struct blast_sess *s = (struct blast_sess *)ev[i].conn;

			blast_sess_event(th, s, &ev[i]);
			if (ev[i].type == BLAST_EV_RECV && ev[i].data != NULL)
				th->tp.ops->release(&th->tp, &ev[i]);
		}
		loop_expire(th, &th->timers);
		loop_expire(th, &th->backoff);
		loop_expire(th, &th->linger);
	}
}

void *blast_thread_main(void *arg)
{
	struct blast_thread *th = arg;
	struct blast_run *run = th->run;
	struct blast_tp_conf tc = {
	    .max_conns = th->nsess,
	    .ring_entries = th->conf->ring_entries,
	    .recv_buf_size = 2048,
	    .nodelay = 1,
	};
	struct blast_ev *ev = calloc(BLAST_BATCH, sizeof(*ev));

	th->tp.ops = &blast_tp_uring;
	th->result = ev == NULL ? -ENOMEM : th->tp.ops->open(&th->tp, &tc);
	pthread_barrier_wait(&run->start);
	if (th->result == 0) {
		th->t0 = th->now = blast_now_ns();
		th->t_end = UINT64_MAX;
		th->t_hard = UINT64_MAX;
		if (th->conf->duration > 0)
			th->t_end = th->t0 + (uint64_t)(th->conf->duration * 1e9);
		th->result = loop_run(th, ev);
		th->tp.ops->shutdown(&th->tp);
	}
	if (th->vbuf != NULL && blast_verify_flush(th) != 0 && th->result == 0)
		th->result = -EIO;
	free(ev);
	__atomic_store_n(&th->done, 1, __ATOMIC_RELEASE);
	pthread_kill(run->main_thread, SIGUSR1);
	return NULL;
}
