/* SPDX-License-Identifier: MIT */
/*
 * dp_session.c - the per-connection SMTP glue, independent of the transport: feeds received
 * bytes to the protocol engine, turns its events into spool calls, answers its decisions,
 * queues replies, applies backpressure, timeouts and connection limits, and closes.
 *
 * Public functions: the dp_sess_* of dp_transport.h (called by transports) and of
 * dp_session.h (called by the worker core).
 *
 * Input: when nothing is buffered, the engine reads straight from the transport's buffer and
 * only the unconsumed tail is copied into c->rx; otherwise new bytes are appended to c->rx and
 * the engine reads from there. A connection is blocked while a decision is pending (SMTP_WAIT:
 * the spool commit), while its reply buffer lacks SMTP_REPLY_MAX free bytes (output unsent),
 * or while closing. Input arriving while blocked is kept in c->rx and receiving is paused
 * (transport input(off)) until the connection is unblocked. Input is wanted only while c->rx
 * has room for one transport buffer (recv_buffer_size), so a transport that brings at most
 * one buffer per request never overflows c->rx: TCP flow control is the only back-pressure a
 * well-behaved client meets. A transport that pushes input beyond conn_rx_size bytes ahead
 * of a pending reply ends the session with 421.
 *
 * Policy (w->pol != NULL, docs/POLICY.md "In the daemon"): the client address at connect, HELO,
 * MAIL and each RCPT are decided by the rules when the engine waits for them; every body span
 * is scanned; at the end of data the verdict comes before the spool commit (reject, tempfail:
 * refused and aborted; discard: 250 and aborted; the rest stored). The policy transaction is
 * released exactly once: at its end-of-data verdict, ABORT, REJECTED, or when the slot is freed.
 *
 * Lifetimes: the slot of a connection whose message commit is in flight (DP_C_COMMIT) is not
 * freed when its socket closes; commit_done() frees it. Functions that may free c say so.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp_envelope.h"
#include "dataplane/dp_session.h"
#include "dataplane/dp_worker.h"

static void advance(struct dp_worker *w, struct dp_conn *c);

void dp_sess_ensure_bits(struct smtp_config *cfg)
{
	cfg->decide |= SMTP_DECIDE_RCPT; /* a recipient that does not fit is refused (452) */
}

static int in_data(const struct dp_conn *c)
{
	enum smtp_state st = smtp_state_of(&c->smtp);

	return st == SMTP_DATA || st == SMTP_BDAT;
}

static uint32_t tx_room(const struct dp_conn *c)
{
	return c->tx_cap - c->tx_len;
}

static int blocked(const struct dp_conn *c)
{
	return (c->flags & (DP_C_CLOSING | DP_C_SPOOL_WAIT)) ||
	       smtp_state_of(&c->smtp) == SMTP_WAIT || tx_room(c) < SMTP_REPLY_MAX;
}

/* Count replies by class: the last line of a reply has a space (or nothing) after the code. */
static void count_replies(struct dp_worker *w, const char *p, size_t n)
{
	size_t i = 0;

	while (i + 3 <= n) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - p) + 1 : n;

		if (i + 3 == end - 2 || p[i + 3] == ' ') {
			unsigned cls = (unsigned)(p[i] - '0');

			if (cls < 6)
				DP_COUNT(w, replies[cls], 1);
		}
		i = end;
	}
}

/* Decide whether c needs the send queue, and put it there. */
static void schedule(struct dp_worker *w, struct dp_conn *c)
{
	int unsent = c->tx_len > ((c->flags & DP_C_SENDING) ? c->tx_flight : c->tx_off);

	if (c->flags & (DP_C_TXQ | DP_C_CLOSED))
		return;
	if (c->flags & DP_C_SENDING) {
		if (!unsent)
			return; /* the completion schedules what follows */
	}
	if (unsent && (c->flags & (DP_C_FLUSH | DP_C_CLOSING) || tx_room(c) < SMTP_REPLY_MAX))
		dp_worker_txq_push(w, c);
	else if (!unsent && (c->flags & DP_C_CLOSING) && !(c->flags & DP_C_SENDING))
		dp_worker_txq_push(w, c);
}

static void io_begin(struct dp_worker *w, struct dp_conn *c, struct smtp_io *io)
{
	io->reply = c->tx + c->tx_len;
	io->reply_cap = tx_room(c);
	io->reply_len = 0;
	io->ev = w->ev;
	io->ev_cap = DP_EVENTS;
	io->nev = 0;
	io->flush = 0;
}

/* Forget body bytes and a begin waiting for the spool. */
static void drop_spool_wait(struct dp_worker *w, struct dp_conn *c)
{
	c->spill_len = 0;
	c->flags &= ~DP_C_BEGIN_PENDING;
	dp_worker_spoolq_remove(w, c);
}

static void tx_fail(struct dp_worker *w, struct dp_conn *c, int err)
{
	if (c->msg) {
		spool_msg_abort(w->spool, c->msg);
		c->msg = NULL;
	}
	drop_spool_wait(w, c);
	if (!(c->flags & DP_C_TX_SKIP)) {
		c->flags |= DP_C_TX_SKIP;
		c->tx_code = err == -ENOSPC ? 452 : 451;
	}
}

/* Start the spool record; EAGAIN (no buffer or message free now) is retried later. */
static int begin_msg(struct dp_worker *w, struct dp_conn *c)
{
	struct spool_envelope env;

	dp_env_build(w, c, &env);
	c->msg = spool_msg_begin(w->spool, &env); /* copies the envelope */
	if (c->msg)
		return 0;
	if (errno == EAGAIN)
		return -EAGAIN;
	tx_fail(w, c, -errno);
	return -errno;
}

static void on_data(struct dp_worker *w, struct dp_conn *c)
{
	c->msg_size = 0;
	if (c->flags & DP_C_TX_SKIP)
		return;
	if (begin_msg(w, c) == -EAGAIN) {
		c->flags |= DP_C_BEGIN_PENDING;
		dp_worker_spoolq_push(w, c); /* blocks c: no more input until the spool has room */
	}
}

/*
 * A span of the body: to the spool, or, while the spool has no room (EAGAIN) or earlier
 * bytes wait, to c->spill. The spill holds at most the spans of one engine call: c is blocked
 * from the first EAGAIN on, and one call never yields more than twice its input.
 */
static void on_body(struct dp_worker *w, struct dp_conn *c, const char *p, size_t n)
{
	int rc;

	c->msg_size += n;
	if (c->pol_tx && !(c->flags & DP_C_POL_DONE) &&
	    pol_tx_data(w->pol, c->pol_tx, p, n) == POL_DONE)
		c->flags |= DP_C_POL_DONE;
	if (c->flags & DP_C_TX_SKIP)
		return;
	if (!c->spill_len && !(c->flags & DP_C_BEGIN_PENDING)) {
		rc = spool_msg_append(w->spool, c->msg, p, n);
		if (rc == 0)
			return;
		if (rc != -EAGAIN) {
			tx_fail(w, c, rc);
			return;
		}
	}
	if (n > c->spill_cap - c->spill_len)
		DP_PANIC("spill overflow: %zu + %u bytes", n, c->spill_len);
	memcpy(c->spill + c->spill_len, p, n);
	c->spill_len += (uint32_t)n;
	dp_worker_spoolq_push(w, c);
}

static void pol_release(struct dp_worker *w, struct dp_conn *c)
{
	if (c->pol_tx) {
		pol_tx_release(w->pol, c->pol_tx);
		c->pol_tx = NULL;
	}
	c->flags &= ~DP_C_POL_DONE;
}

static void tx_end(struct dp_worker *w, struct dp_conn *c, const char *verdict)
{
	pol_release(w, c);
	drop_spool_wait(w, c);
	c->flags &= ~DP_C_END_PENDING;
	if (c->flags & DP_C_TXN)
		dp_env_log(w, c, NULL, verdict);
	if (c->msg) {
		spool_msg_abort(w->spool, c->msg);
		c->msg = NULL;
	}
	dp_env_reset(c);
}

/* Handle the events of one engine call. Event strings point into the input being fed. */
static void handle_events(struct dp_worker *w, struct dp_conn *c, const struct smtp_io *io)
{
	for (unsigned i = 0; i < io->nev; i++) {
		const struct smtp_event *ev = &io->ev[i];

		switch (ev->type) {
		case SMTP_EV_HELO:
			dp_env_helo(c, ev);
			break;
		case SMTP_EV_MAIL:
			dp_env_mail(c, ev);
			c->t_tx = w->now_ms;
			break;
		case SMTP_EV_RCPT:
			c->rcpt_refused = dp_env_rcpt(w, c, ev) == 0 ? 0 : 1; /* see decide() */
			break;
		case SMTP_EV_DATA:
			on_data(w, c);
			break;
		case SMTP_EV_BODY:
			on_body(w, c, ev->str, ev->len);
			break;
		case SMTP_EV_END:
			break; /* the engine now waits: decide() */
		case SMTP_EV_REJECTED:
			DP_COUNT(w, msg_rejected, 1);
			tx_end(w, c, ev->arg >= 500 ? "rejected" : "tempfail");
			break;
		case SMTP_EV_ABORT:
			if (c->flags & DP_C_TXN)
				DP_COUNT(w, msg_aborted, 1);
			tx_end(w, c, "aborted");
			break;
		case SMTP_EV_CLOSE:
		default:
			break;
		}
	}
}

static void io_end(struct dp_worker *w, struct dp_conn *c, const struct smtp_io *io)
{
	if (io->reply_len) {
		count_replies(w, io->reply, io->reply_len);
		c->tx_len += (uint32_t)io->reply_len;
	}
	handle_events(w, c, io);
	if (c->t_data == 0 && in_data(c))
		c->t_data = w->now_ms; /* the data rate is measured from here */
	if (io->flush)
		c->flags |= DP_C_FLUSH;
}

static void resolve(struct dp_worker *w, struct dp_conn *c, const struct smtp_verdict *v)
{
	struct smtp_io io;

	io_begin(w, c, &io);
	smtp_resolve(&c->smtp, &w->smtp, v, &io);
	io_end(w, c, &io);
	c->flags |= DP_C_FLUSH;
}

/*
 * Runs from spool_writer_cqe() or spool_writer_poll(). c is valid: a slot with a commit in
 * flight is never freed before this callback. THIS FUNCTION MAY FREE c.
 */
static void commit_done(void *arg, int result, const char *queue_id)
{
	struct dp_conn *c = arg;
	struct dp_worker *w = c->w;
	uint64_t us = w->now_us - c->t_commit;
	struct smtp_verdict v = {0};
	unsigned b = 0;

	c->flags &= ~DP_C_COMMIT;
	w->commits--;
	while (b < DP_HIST_BUCKETS && us > dp_hist_bounds_us[b])
		b++;
	DP_COUNT(w, commit_hist[b], 1);
	DP_COUNT(w, commit_sum_us, us);
	DP_COUNT(w, commit_count, 1);
	if (result == 0) {
		DP_COUNT(w, msg_queued, 1);
		DP_COUNT(w, msg_bytes, c->msg_size);
		DP_COUNT(w, rcpts, c->nrcpt);
	} else {
		DP_COUNT(w, msg_tempfail, 1);
	}
	dp_env_log(w, c, result == 0 ? queue_id : NULL,
	           result == 0         ? "queued"
	           : result == -ENOSPC ? "tempfail-nospace"
	                               : "tempfail-io");
	if (c->flags & DP_C_CLOSED) { /* the socket went away meanwhile; the slot waited */
		dp_conn_free(w, c);
		return;
	}
	if (!(c->flags & DP_C_CLOSING)) {
		if (result == -ENOSPC)
			v = (struct smtp_verdict){452, "4.3.1", "Insufficient system storage",
			                          NULL};
		else if (result != 0)
			v = (struct smtp_verdict){451, "4.3.0", "Local error in processing", NULL};
		else
			v.queue_id = queue_id;
		resolve(w, c, &v);
	}
	c->msg = NULL;
	dp_env_reset(c);
	dp_worker_runq_push(w, c);
}

/* Commit-time metadata of a stored message (docs/SPOOL-FORMAT.md, META), on the stack. */
struct dp_commit_meta {
	struct spool_commit_meta m;
	int set;
	char ids[1024];
	char hdrs[4096];
};

/* The verdict, matched rule ids, tag headers and quarantine flag, before the release. */
static void meta_fill(const struct dp_conn *c, const struct pol_verdict *pv,
                      struct dp_commit_meta *cm)
{
	const char *name = pol_action_name((enum pol_action)pv->action);
	ssize_t n;

	cm->m.verdict = (struct spool_str){name, strlen(name)};
	n = pol_tx_rule_ids(c->pol_tx, cm->ids, sizeof(cm->ids));
	cm->m.tags = (struct spool_str){cm->ids, n > 0 ? (size_t)n : 0};
	n = pv->tagged ? pol_tx_headers(c->pol_tx, cm->hdrs, sizeof(cm->hdrs)) : 0;
	cm->m.headers = (struct spool_str){cm->hdrs, n > 0 ? (size_t)n : 0};
	cm->m.quarantine = pv->action == POL_QUARANTINE;
	cm->set = 1;
}

/*
 * The end-of-data verdict, before the commit. Returns 1 when the message was answered here
 * (refused or discarded: aborted, never stored), 0 when it is to be stored as usual (then cm
 * holds what the spool records at commit).
 */
static int policy_end(struct dp_worker *w, struct dp_conn *c, struct dp_commit_meta *cm)
{
	struct pol_verdict pv;
	struct smtp_verdict v = {0};
	const char *what;

	pol_tx_end(w->pol, c->pol_tx, &pv);
	c->pol_action = pv.action;
	dp_env_log_policy(w, c, c->pol_tx, &pv);
	if (pv.code != 0) {
		v = (struct smtp_verdict){pv.code, pv.enh, pv.text, NULL};
		what = pv.code >= 500 ? "policy-reject" : "policy-tempfail";
	} else if (pv.action == POL_DISCARD) {
		v = (struct smtp_verdict){250, "2.0.0", "Ok: discarded", NULL};
		what = "discarded";
	} else {
		meta_fill(c, &pv, cm);
		pol_release(w, c); /* store: tags and verdict are in the policy log line */
		return 0;
	}
	DP_COUNT(w, msg_rejected, pv.code != 0);
	tx_fail(w, c, -EIO); /* aborts the spool record: nothing of it is stored */
	dp_env_log(w, c, NULL, what);
	resolve(w, c, &v); /* the verdict's strings live until the release below */
	pol_release(w, c);
	dp_env_reset(c);
	return 1;
}

static void decide_end(struct dp_worker *w, struct dp_conn *c)
{
	struct smtp_verdict v = {0};
	struct dp_commit_meta cm;
	int rc;

	if (c->flags & DP_C_SPOOL_WAIT) { /* body bytes still wait for the spool */
		c->flags |= DP_C_END_PENDING;
		return;
	}
	cm.set = 0;
	if (c->pol_tx && policy_end(w, c, &cm))
		return;
	if (c->msg && !(c->flags & DP_C_TX_SKIP)) {
		c->t_commit = w->now_us;
		/* with policy off: a plain commit; -EAGAIN (no batch room for META) tempfails */
		rc = spool_msg_commit_meta(w->spool, c->msg, cm.set ? &cm.m : NULL, commit_done, c);
		if (rc == 0) {
			c->flags |= DP_C_COMMIT;
			w->commits++;
			c->msg = NULL; /* the spool owns it until commit_done() */
			return;
		}
		tx_fail(w, c, rc);
	}
	if (!(c->flags & DP_C_TX_SKIP))
		tx_fail(w, c, -EIO);
	if (c->tx_code == 452)
		v = (struct smtp_verdict){452, "4.3.1", "Insufficient system storage", NULL};
	else
		v = (struct smtp_verdict){451, "4.3.0", "Local error in processing", NULL};
	DP_COUNT(w, msg_tempfail, 1);
	dp_env_log(w, c, NULL, c->tx_code == 452 ? "tempfail-nospace" : "tempfail-io");
	resolve(w, c, &v);
	dp_env_reset(c);
}

/* Policy on HELO, MAIL or RCPT (w->pol set): fills v with a refusal, or leaves it 0. */
static void policy_cmd(struct dp_worker *w, struct dp_conn *c, struct smtp_verdict *v)
{
	struct pol_verdict pv = {0};
	const char *p;
	size_t n;

	switch (c->smtp.wait_for) {
	case SMTP_EV_HELO:
		pol_conn_helo(w->pol, &c->pol_conn, c->env, c->helo_len, &pv);
		break;
	case SMTP_EV_MAIL:
		pol_release(w, c); /* none is open at MAIL; kept for safety */
		pol_tx_begin(w->pol, &c->pol_conn, c->env + c->from_off, c->from_len, &c->pol_tx,
		             &pv);
		break;
	case SMTP_EV_RCPT:
		if (c->pol_tx && dp_env_last_rcpt(c, &p, &n) == 0) {
			pol_tx_rcpt(w->pol, c->pol_tx, p, n, &pv);
			if (pv.code != 0)
				dp_env_rcpt_drop(c); /* refused: not part of the envelope */
		}
		break;
	default:
		break;
	}
	if (pv.code != 0)
		*v = (struct smtp_verdict){pv.code, pv.enh, pv.text, NULL};
}

/* The engine waits for a decision: answer it now, or start the commit. */
static void decide(struct dp_worker *w, struct dp_conn *c)
{
	struct smtp_verdict v = {0};
	int mail = c->smtp.wait_for == SMTP_EV_MAIL;

	switch (c->smtp.wait_for) {
	case SMTP_EV_END:
		decide_end(w, c);
		return;
	case SMTP_EV_RCPT:
		if (c->rcpt_refused) /* dp_env_rcpt() found no room for it */
			v = (struct smtp_verdict){452, "4.5.3", "Too many recipients", NULL};
		else if (w->pol)
			policy_cmd(w, c, &v);
		c->rcpt_refused = 0;
		break;
	default: /* HELO, MAIL: accepted unless policy refuses */
		if (w->pol)
			policy_cmd(w, c, &v);
		break;
	}
	resolve(w, c, &v); /* strings of a pol_conn verdict live until the next pol_core_sync */
	if (mail && v.code != 0) { /* MAIL refused: no transaction, and no ABORT follows */
		if (c->pol_tx)
			DP_PANIC("refused MAIL holds a policy transaction");
		dp_env_log(w, c, NULL, "policy-refused-mail");
		dp_env_reset(c);
	}
}

static void begin_close(struct dp_worker *w, struct dp_conn *c)
{
	if (c->flags & DP_C_CLOSING)
		return;
	c->flags |= DP_C_CLOSING;
	c->flags &= ~DP_C_WANT_READ;
	c->t_active = w->now_ms; /* starts the grace for the last reply */
	schedule(w, c);
}

/* End the session with code (0: silently), e.g. 421 on timeout or shutdown. */
static void end_session(struct dp_worker *w, struct dp_conn *c, uint16_t code, const char *text)
{
	struct smtp_io io;

	if (c->flags & DP_C_CLOSING)
		return;
	io_begin(w, c, &io);
	/* the engine writes the closing reply into whatever room is left (cut if need be) */
	smtp_session_end(&c->smtp, &w->smtp, code, text, &io);
	io_end(w, c, &io);
	begin_close(w, c);
}

/*
 * Feed p[0 .. n) to the engine until it needs more input or the connection blocks. Returns
 * the bytes consumed. Events are handled here, while p is still valid.
 */
static size_t feed(struct dp_worker *w, struct dp_conn *c, const char *p, size_t n)
{
	size_t off = 0;

	while (!blocked(c)) {
		struct smtp_io io;
		size_t k;

		io_begin(w, c, &io);
		k = smtp_input(&c->smtp, &w->smtp, p + off, n - off, &io);
		off += k;
		io_end(w, c, &io);
		switch (smtp_state_of(&c->smtp)) {
		case SMTP_CLOSED:
			begin_close(w, c);
			return off;
		case SMTP_WAIT:
			decide(w, c);
			continue; /* decided now, or blocked until the commit completes */
		default:
			break;
		}
		if (off == n || (k == 0 && io.nev == 0 && io.reply_len == 0))
			break;
	}
	return off;
}

static void overflow(struct dp_worker *w, struct dp_conn *c)
{
	DP_COUNT(w, rx_overflow, 1);
	dp_log_printf(&w->log, w->real_us, DP_LOG_INFO, "client=%s: too much pipelined input",
	              c->peer_text);
	end_session(w, c, 421, "Too much pipelined input");
}

static void consume_rx(struct dp_worker *w, struct dp_conn *c)
{
	size_t k;

	if (c->rx_len == 0 || blocked(c))
		return;
	k = feed(w, c, c->rx, c->rx_len);
	if (k) {
		memmove(c->rx, c->rx + k, c->rx_len - k);
		c->rx_len -= (uint32_t)k;
	}
}

enum { WHY_NONE, WHY_IDLE, WHY_RATE, WHY_SESSION };

#define CLOSE_GRACE_MS 10000 /* to deliver the last reply before the socket is cut */

/* When c times out next, and why. UINT64_MAX: no deadline (waiting for our own decision). */
static uint64_t deadline(const struct dp_worker *w, const struct dp_conn *c, int *why)
{
	const struct dp_limits *l = &w->limits;
	uint64_t d = UINT64_MAX, t;

	*why = WHY_NONE;
	if (c->flags & DP_C_CLOSING) {
		*why = WHY_IDLE;
		t = l->cmd_timeout_ms < CLOSE_GRACE_MS ? l->cmd_timeout_ms : CLOSE_GRACE_MS;
		return c->t_active + t;
	}
	if ((smtp_state_of(&c->smtp) != SMTP_WAIT && !(c->flags & DP_C_SPOOL_WAIT)) ||
	    tx_room(c) < SMTP_REPLY_MAX) {
		d = c->t_active + (in_data(c) ? l->data_timeout_ms : l->cmd_timeout_ms);
		*why = WHY_IDLE;
	}
	if (in_data(c) && l->min_data_rate) {
		/* the bytes so far satisfy the rate until t_data + bytes / rate */
		uint64_t need = c->data_bytes * 1000 / l->min_data_rate;

		t = c->t_data +
		    (need > l->min_data_rate_grace_ms ? need : l->min_data_rate_grace_ms);
		if (t < d) {
			d = t;
			*why = WHY_RATE;
		}
	}
	if (l->session_timeout_ms && c->t_open + l->session_timeout_ms < d) {
		d = c->t_open + l->session_timeout_ms;
		*why = WHY_SESSION;
	}
	return d;
}

/* Timers are lazy: moving a deadline later costs nothing; the wheel re-checks when it fires. */
static void arm_timer(struct dp_worker *w, struct dp_conn *c)
{
	int why;
	uint64_t d = deadline(w, c, &why);

	if (d == UINT64_MAX)
		dp_timer_cancel(w->wheel, &c->timer);
	else if (!dp_timer_armed(&c->timer) || d < c->timer.expires)
		dp_timer_arm(w->wheel, &c->timer, d);
}

/* Cut the connection now. The transport reports dp_sess_released() later, never inside. */
static void force_close(struct dp_worker *w, struct dp_conn *c)
{
	c->flags |= DP_C_CLOSING;
	c->flags &= ~DP_C_WANT_READ;
	if (c->flags & (DP_C_TP_CLOSE | DP_C_CLOSED))
		return;
	c->flags |= DP_C_TP_CLOSE;
	dp_timer_cancel(w->wheel, &c->timer);
	w->tp->close(w, c);
}

static int idle_state(const struct dp_conn *c)
{
	enum smtp_state st = smtp_state_of(&c->smtp);

	return st == SMTP_CONNECTED || st == SMTP_GREETED || st == SMTP_READY;
}

/* Settle c after any change: shutdown drain, deferred EOF, reading on/off, sending, timer. */
static void advance(struct dp_worker *w, struct dp_conn *c)
{
	if (c->flags & (DP_C_CLOSED | DP_C_TP_CLOSE))
		return;
	if (!(c->flags & DP_C_CLOSING)) {
		if ((c->flags & DP_C_DRAIN) && idle_state(c) && !blocked(c))
			end_session(w, c, 421, "Service shutting down");
		else if ((c->flags & DP_C_EOF) && !blocked(c))
			end_session(w, c, 0, NULL);
	}
	if (!(c->flags & (DP_C_CLOSING | DP_C_EOF))) {
		/*
		 * Pause when input is waiting that cannot be consumed now, and whenever c->rx
		 * lacks room for a whole transport buffer: a receive may already be armed, and
		 * what it brings must fit (dp_transport.h). Unconsumed input is a partial line
		 * (< max_line) when not blocked, and conn_rx_size >= recv_buffer_size + max_line,
		 * so an unblocked connection always reads.
		 */
		int want = (!blocked(c) || c->rx_len == 0) &&
		           c->rx_cap - c->rx_len >= w->wc.recv_buffer_size;

		if (want && !(c->flags & DP_C_WANT_READ)) {
			c->flags |= DP_C_WANT_READ;
			w->tp->input(w, c, 1);
		} else if (!want && (c->flags & DP_C_WANT_READ)) {
			c->flags &= ~DP_C_WANT_READ;
			w->tp->input(w, c, 0);
		}
	}
	schedule(w, c);
	arm_timer(w, c);
}

static void refuse(struct dp_worker *w, struct dp_conn *c, const char *text)
{
	int n = snprintf(c->tx, c->tx_cap, "421 4.7.0 %s %s\r\n", w->smtp.hostname, text);

	c->tx_len = n > 0 && (uint32_t)n < c->tx_cap ? (uint32_t)n : 0;
	DP_COUNT(w, replies[4], 1);
	dp_log_printf(&w->log, w->real_us, DP_LOG_INFO, "client=%s: refused: %s", c->peer_text,
	              text);
	begin_close(w, c);
}

/*
 * Policy on the client address. Returns 1 when the connection was refused: a reject gets the
 * 554 greeting (the session then answers 503 until QUIT), a tempfail a 421 and the close.
 */
static int policy_connect(struct dp_worker *w, struct dp_conn *c)
{
	struct pol_verdict pv = {0};
	struct smtp_verdict v;
	struct smtp_io io;

	pol_conn_client(w->pol, &c->pol_conn, (const struct sockaddr *)&c->peer, &pv);
	if (pv.code == 0)
		return 0;
	if (pv.code < 500) {
		refuse(w, c, pv.text ? pv.text : "Try again later");
		return 1;
	}
	v = (struct smtp_verdict){pv.code, pv.enh, pv.text, NULL};
	io_begin(w, c, &io);
	smtp_session_start_refused(&c->smtp, &w->smtp, &v, &io);
	io_end(w, c, &io);
	c->flags |= DP_C_FLUSH;
	dp_log_printf(&w->log, w->real_us, DP_LOG_INFO, "client=%s: refused by policy rule %s",
	              c->peer_text, pv.rule ? pv.rule : "-");
	return 1;
}

void dp_sess_open(struct dp_worker *w, struct dp_conn *c)
{
	struct smtp_io io;
	uint32_t n;

	c->t_open = c->t_active = w->now_ms;
	dp_addr_format((const struct sockaddr *)&c->peer, c->peer_text, sizeof(c->peer_text));
	dp_limit_key((const struct sockaddr *)&c->peer, &c->key);
	n = dp_limit_inc(&w->clients, &c->key);
	DP_COUNT(w, conn_accepted, 1);
	if (w->stopping) {
		refuse(w, c, "Service shutting down");
	} else if (w->nopen > w->limits.max_conns) {
		DP_COUNT(w, conn_refused_limit, 1);
		refuse(w, c, "Too many connections, try again later");
	} else if (n == 0 ||
	           (w->limits.max_conns_per_client && n > w->limits.max_conns_per_client)) {
		DP_COUNT(w, conn_refused_client, 1);
		refuse(w, c, "Too many connections from your address");
	} else if (!w->pol || !policy_connect(w, c)) {
		io_begin(w, c, &io);
		smtp_session_start(&c->smtp, &w->smtp, &io);
		io_end(w, c, &io);
		c->flags |= DP_C_FLUSH;
	}
	advance(w, c);
}

void dp_sess_input(struct dp_worker *w, struct dp_conn *c, const char *p, size_t n)
{
	size_t k = 0;

	if (!(c->flags & DP_C_OPEN))
		DP_PANIC("input for free slot %u", c->idx);
	if (c->flags & (DP_C_CLOSING | DP_C_CLOSED))
		return; /* ending: input is ignored */
	DP_COUNT(w, bytes_in, n);
	c->t_active = w->now_ms;
	if (in_data(c))
		c->data_bytes += n;
	if (c->rx_len == 0) {
		if (!blocked(c))
			k = feed(w, c, p, n);
		if (n - k > c->rx_cap) {
			overflow(w, c);
		} else if (!(c->flags & DP_C_CLOSING)) {
			memcpy(c->rx, p + k, n - k);
			c->rx_len = (uint32_t)(n - k);
		}
	} else if (n > c->rx_cap - c->rx_len) {
		overflow(w, c);
	} else {
		memcpy(c->rx + c->rx_len, p, n);
		c->rx_len += (uint32_t)n;
		consume_rx(w, c);
	}
	advance(w, c);
}

void dp_sess_sent(struct dp_worker *w, struct dp_conn *c, size_t n)
{
	int was_full = tx_room(c) < SMTP_REPLY_MAX;

	DP_COUNT(w, bytes_out, n);
	c->tx_off += (uint32_t)n;
	if (!(c->flags & DP_C_CLOSING))
		c->t_active = w->now_ms;
	if (c->tx_off < c->tx_flight) {
		c->flags |= DP_C_FLUSH; /* short send: the rest goes out next */
	} else {
		memmove(c->tx, c->tx + c->tx_off, c->tx_len - c->tx_off);
		c->tx_len -= c->tx_off;
		c->tx_off = c->tx_flight = 0;
		if (was_full && !blocked(c) && c->rx_len)
			dp_worker_runq_push(w, c); /* room for replies again: consume input */
	}
	advance(w, c);
}

void dp_sess_eof(struct dp_worker *w, struct dp_conn *c, int err)
{
	c->flags |= DP_C_EOF;
	c->flags &= ~DP_C_WANT_READ;
	if (err) { /* reset or failed: nobody to talk to */
		end_session(w, c, 0, NULL);
		force_close(w, c);
		return;
	}
	advance(w, c);
}

void dp_sess_released(struct dp_worker *w, struct dp_conn *c)
{
	c->flags |= DP_C_CLOSED | DP_C_CLOSING;
	dp_timer_cancel(w->wheel, &c->timer);
	dp_limit_dec(&w->clients, &c->key);
	DP_COUNT(w, conn_closed, 1);
	if (c->msg) { /* normally aborted by SMTP_EV_ABORT already */
		spool_msg_abort(w->spool, c->msg);
		c->msg = NULL;
	}
	if (c->flags & DP_C_COMMIT)
		return;     /* commit_done() frees the slot */
	dp_conn_free(w, c); /* c is gone */
}

void dp_sess_spool_retry(struct dp_worker *w, struct dp_conn *c)
{
	int rc;

	if (c->flags & DP_C_BEGIN_PENDING) {
		rc = begin_msg(w, c);
		if (rc == -EAGAIN) {
			dp_worker_spoolq_push(w, c);
			return;
		}
		c->flags &= ~DP_C_BEGIN_PENDING;
	}
	if (c->spill_len && c->msg && !(c->flags & DP_C_TX_SKIP)) {
		rc = spool_msg_append(w->spool, c->msg, c->spill, c->spill_len);
		if (rc == -EAGAIN) {
			dp_worker_spoolq_push(w, c);
			return;
		}
		if (rc)
			tx_fail(w, c, rc);
	}
	c->spill_len = 0;
	if (c->flags & DP_C_END_PENDING) {
		c->flags &= ~DP_C_END_PENDING;
		decide_end(w, c);
	}
	dp_worker_runq_push(w, c); /* consume the input that waited */
}

void dp_sess_run(struct dp_worker *w, struct dp_conn *c)
{
	if (c->flags & DP_C_CLOSED)
		return;
	if ((c->flags & DP_C_TP_CLOSE) && c->fd < 0 && c->refs == 0) {
		dp_sess_released(w, c); /* the transport closed without a completion; frees c */
		return;
	}
	if (!(c->flags & DP_C_CLOSING))
		consume_rx(w, c);
	advance(w, c);
}

void dp_sess_flush(struct dp_worker *w, struct dp_conn *c)
{
	if (c->flags & (DP_C_CLOSED | DP_C_TP_CLOSE | DP_C_SENDING))
		return;
	if (c->tx_len > c->tx_off) {
		c->flags &= ~DP_C_FLUSH;
		w->tp->output(w, c);
	} else if (c->flags & DP_C_CLOSING) {
		force_close(w, c);
	}
}

void dp_sess_timer(void *worker, struct dp_timer *t)
{
	struct dp_worker *w = worker;
	struct dp_conn *c = (struct dp_conn *)((char *)t - offsetof(struct dp_conn, timer));
	static const char *const what[] = {"", "idle timeout", "data rate too low",
	                                   "session time limit"};
	int why;
	uint64_t d = deadline(w, c, &why);

	if (d > w->now_ms) {
		if (d != UINT64_MAX)
			dp_timer_arm(w->wheel, t, d);
		return;
	}
	if (c->flags & DP_C_CLOSING) {
		force_close(w, c); /* the last reply could not be delivered */
		return;
	}
	if (why == WHY_RATE)
		DP_COUNT(w, timeout_rate, 1);
	else if (why == WHY_SESSION)
		DP_COUNT(w, timeout_session, 1);
	else
		DP_COUNT(w, timeout_idle, 1);
	dp_log_printf(&w->log, w->real_us, DP_LOG_INFO, "client=%s: %s in state %s", c->peer_text,
	              what[why], smtp_state_name(smtp_state_of(&c->smtp)));
	end_session(w, c, 421,
	            why == WHY_RATE      ? "Error: data rate too low"
	            : why == WHY_SESSION ? "Error: session time limit exceeded"
	                                 : "Error: timeout exceeded");
	advance(w, c);
}

void dp_sess_shutdown(struct dp_worker *w, struct dp_conn *c, int force)
{
	if (c->flags & DP_C_CLOSED)
		return;
	if (force == 2) {
		end_session(w, c, 0, NULL);
		force_close(w, c);
		return;
	}
	if (c->flags & DP_C_CLOSING)
		return;
	if ((force && !(c->flags & DP_C_COMMIT)) || idle_state(c))
		end_session(w, c, 421, "Service shutting down");
	else
		c->flags |= DP_C_DRAIN;
	advance(w, c);
}
