/* SPDX-License-Identifier: MIT */
/*
 * session.c - one SMTP client session of sluice-blast: connect, greeting, EHLO (HELO as
 * fallback), transactions, RSET after a failure, QUIT, close.
 *
 * A transaction is a fixed list of steps: MAIL, RCPT x n, then DATA and the message ("EOD"), or
 * BDAT with the message. s->sent counts steps written, s->got replies read, so the kind of the
 * next expected reply is step_kind(s->got) and no queue of expected replies is needed. With
 * PIPELINING every step up to DATA (or the whole BDAT transaction) goes out in one write; after
 * 354 the message follows. Without it each step waits for the previous reply.
 *
 * Events from the transport arrive through blast_sess_event. A session never has more than one
 * send in flight: a control command (RSET, QUIT) wanted while one is, waits in s->deferred.
 * Functions that may close the session (sess_close, blast_sess_abort) leave it in CLOSING; the
 * struct stays valid until the transport's CLOSED event hands it back to the loop.
 *
 * Accounting: every claimed message ends exactly once, in sess_msg_end (ok or failed).
 */
#include "blast.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum step_kind {
	K_MAIL,
	K_RCPT,
	K_DATA,
	K_EOD,
	K_BDAT,
};

static const char crlf_dot[] = ".\r\n";
static const char quit_cmd[] = "QUIT\r\n";
static const char rset_cmd[] = "RSET\r\n";
static const char data_cmd[] = "DATA\r\n";

const char *blast_phase_name(unsigned phase)
{
	static const char *const names[] = {"free", "connecting", "greeting", "ehlo",
	                                    "helo", "idle",       "txn",      "rset",
	                                    "quit", "closing",    "backoff",  "linger"};

	return phase < sizeof(names) / sizeof(names[0]) ? names[phase] : "?";
}

int blast_sess_alloc(struct blast_thread *th, struct blast_sess *s)
{
	const struct blast_conf *c = th->conf;
	size_t per_rcpt = (size_t)c->to.pre_len + c->to.post_len + 40;
	size_t cap = 600 + (size_t)c->from.pre_len + c->from.post_len +
	             (size_t)c->rcpts * per_rcpt + th->run->hdr.len;

	memset(s, 0, sizeof(*s));
	s->conn.fd = -1;
	s->tx = malloc(cap);
	if (s->tx == NULL)
		return -ENOMEM;
	s->tx_cap = (unsigned)cap;
	return 0;
}

static unsigned step_kind(const struct blast_thread *th, unsigned i)
{
	unsigned n = th->conf->rcpts;

	if (i == 0)
		return K_MAIL;
	if (i <= n)
		return K_RCPT;
	if (th->conf->bdat)
		return K_BDAT;
	return i == n + 1 ? K_DATA : K_EOD;
}

void blast_sess_close(struct blast_thread *th, struct blast_sess *s)
{
	if (s->phase == BLAST_PH_CLOSING || s->phase == BLAST_PH_FREE)
		return;
	s->phase = BLAST_PH_CLOSING;
	blast_timer_disarm(s);
	th->tp.ops->close(&th->tp, &s->conn);
}

static void sess_msg_end(struct blast_thread *th, struct blast_sess *s, bool ok)
{
	if (!s->have_msg)
		return;
	s->have_msg = 0;
	if (ok) {
		th->t_last = th->now;
		BLAST_ADD(th, msg_ok, 1);
		BLAST_ADD(th, bytes_ok, s->body->msg_len);
	} else {
		BLAST_ADD(th, msg_fail, 1);
	}
}

void blast_sess_abort(struct blast_thread *th, struct blast_sess *s, enum blast_err e)
{
	BLAST_ERR(th, e);
	sess_msg_end(th, s, false);
	blast_sess_close(th, s);
}

static void sess_send(struct blast_thread *th, struct blast_sess *s, const struct iovec *iov,
                      unsigned n)
{
	unsigned i;
	int ret = th->tp.ops->send(&th->tp, &s->conn, iov, n);

	if (ret != 0) {
		blast_sess_abort(th, s, BLAST_ERR_LOCAL);
		return;
	}
	for (i = 0; i < n; i++)
		BLAST_ADD(th, bytes_sent, iov[i].iov_len);
	s->send_busy = 1;
	blast_timer_arm(th, &th->timers, s);
}

static void sess_send_str(struct blast_thread *th, struct blast_sess *s, const char *p, size_t n)
{
	struct iovec iov = {(void *)(uintptr_t)p, n};

	sess_send(th, s, &iov, 1);
}

/* RSET or QUIT, now or after the send in flight. */
static void sess_ctl(struct blast_thread *th, struct blast_sess *s, uint8_t which)
{
	s->phase = which == 'Q' ? BLAST_PH_QUIT : BLAST_PH_RSET;
	if (s->send_busy) {
		s->deferred = which;
		blast_timer_arm(th, &th->timers, s);
		return;
	}
	if (which == 'Q')
		sess_send_str(th, s, quit_cmd, sizeof(quit_cmd) - 1);
	else
		sess_send_str(th, s, rset_cmd, sizeof(rset_cmd) - 1);
}

void blast_sess_quit(struct blast_thread *th, struct blast_sess *s)
{
	sess_msg_end(th, s, false);
	sess_ctl(th, s, 'Q');
}

void blast_sess_connect(struct blast_thread *th, struct blast_sess *s)
{
	const struct blast_conf *c = th->conf;
	int ret;

	blast_reply_init(&s->rp);
	s->phase = BLAST_PH_CONNECTING;
	s->on_conn = 0;
	s->ext = 0;
	s->send_busy = 0;
	s->deferred = 0;
	s->quit_queued = 0;
	s->counted = 0;
	s->conn_failed = 0;
	ret =
	    th->tp.ops->connect(&th->tp, &s->conn, (const struct sockaddr *)&c->addr, c->addr_len);
	if (ret != 0) {
		BLAST_ADD(th, conn_fail, 1);
		BLAST_ERR(th, ret == -EADDRNOTAVAIL ? BLAST_ERR_ADDRNOTAVAIL : BLAST_ERR_LOCAL);
		sess_msg_end(th, s, false);
		s->conn_failed = 1;
		s->phase = BLAST_PH_BACKOFF;
		blast_timer_arm(th, &th->backoff, s);
		return;
	}
	blast_stamp(th, &s->t_connect);
	blast_timer_arm(th, &th->timers, s);
}

static unsigned put(char *dst, const char *s, unsigned n)
{
	memcpy(dst, s, n);
	return n;
}

static void tx_mail(struct blast_thread *th, struct blast_sess *s)
{
	const struct blast_conf *c = th->conf;
	char *p = s->tx + s->tx_len;

	p += put(p, "MAIL FROM:<", 11);
	p += blast_pattern_expand(&c->from, p, s->seq % c->addrs);
	*p++ = '>';
	if (s->ext & BLAST_EXT_SIZE) {
		p += put(p, " SIZE=", 6);
		p += blast_fmt_u64(p, s->body->msg_len);
	}
	if ((s->body->flags & BLAST_BODY_8BIT) && (s->ext & BLAST_EXT_8BITMIME))
		p += put(p, " BODY=8BITMIME", 14);
	if ((s->body->flags & BLAST_BODY_UTF8HDR) && (s->ext & BLAST_EXT_SMTPUTF8))
		p += put(p, " SMTPUTF8", 9);
	p += put(p, "\r\n", 2);
	s->tx_len = (unsigned)(p - s->tx);
}

static void tx_rcpt(struct blast_thread *th, struct blast_sess *s, unsigned j)
{
	const struct blast_conf *c = th->conf;
	char *p = s->tx + s->tx_len;

	p += put(p, "RCPT TO:<", 9);
	p += blast_pattern_expand(&c->to, p, (s->seq * c->rcpts + j) % c->addrs);
	p += put(p, ">\r\n", 3);
	s->tx_len = (unsigned)(p - s->tx);
}

static void tx_hdr(struct blast_thread *th, struct blast_sess *s)
{
	blast_hdr_fill(&th->run->hdr, s->tx + s->tx_len, s->id, s->body->sum);
	s->tx_len += (unsigned)th->run->hdr.len;
}

static bool sess_last_on_conn(const struct blast_thread *th, const struct blast_sess *s)
{
	const struct blast_conf *c = th->conf;

	if (c->per_conn != 0 && s->on_conn + 1 >= c->per_conn)
		return true;
	return th->stopping || (c->rate == 0 && th->claimed >= th->budget);
}

/* Appends step i to the outgoing group; sets *msg when the message body goes with it. */
static void pump_step(struct blast_thread *th, struct blast_sess *s, unsigned i, struct iovec *msg)
{
	switch (step_kind(th, i)) {
	case K_MAIL:
		tx_mail(th, s);
		blast_stamp(th, &s->t_mail);
		break;
	case K_RCPT:
		tx_rcpt(th, s, i - 1);
		break;
	case K_DATA:
		s->tx_len += put(s->tx + s->tx_len, data_cmd, sizeof(data_cmd) - 1);
		break;
	case K_EOD:
		if (s->failed || s->rcpt_ok == 0) {
			s->failed = 1;
			*msg = (struct iovec){(void *)(uintptr_t)crlf_dot, 3};
		} else {
			tx_hdr(th, s);
			*msg = (struct iovec){(void *)(uintptr_t)s->body->data, s->body->len};
		}
		blast_stamp(th, &s->t_eod);
		break;
	case K_BDAT:
		s->tx_len += put(s->tx + s->tx_len, "BDAT ", 5);
		s->tx_len += blast_fmt_u64(s->tx + s->tx_len, s->body->msg_len);
		s->tx_len += put(s->tx + s->tx_len, " LAST\r\n", 7);
		tx_hdr(th, s);
		*msg = (struct iovec){(void *)(uintptr_t)s->body->data, s->body->len};
		blast_stamp(th, &s->t_eod);
		break;
	}
}

/* Sends every step that may go now (see the header comment). */
static void sess_pump(struct blast_thread *th, struct blast_sess *s)
{
	struct iovec iov[3], msg = {NULL, 0};
	unsigned i = s->sent, n = 0;

	if (s->send_busy || s->phase != BLAST_PH_TXN)
		return;
	s->tx_len = 0;
	while (i < s->steps) {
		if (i > s->got && (!s->pipelining || step_kind(th, i - 1) == K_DATA))
			break;
		pump_step(th, s, i, &msg);
		i++;
	}
	if (i == s->sent)
		return;
	s->sent = i;
	if (s->tx_len > 0)
		iov[n++] = (struct iovec){s->tx, s->tx_len};
	if (msg.iov_len > 0)
		iov[n++] = msg;
	if (msg.iov_len > 0 && s->pipelining && sess_last_on_conn(th, s)) {
		iov[n++] = (struct iovec){(void *)(uintptr_t)quit_cmd, sizeof(quit_cmd) - 1};
		s->quit_queued = 1;
	}
	sess_send(th, s, iov, n);
}

void blast_sess_begin(struct blast_thread *th, struct blast_sess *s)
{
	const struct blast_pool *pool = &th->run->pool;
	unsigned cls = s->pool_class;

	s->phase = BLAST_PH_TXN;
	s->steps = th->conf->rcpts + (th->conf->bdat ? 2u : 3u);
	s->sent = 0;
	s->got = 0;
	s->rcpt_ok = 0;
	s->failed = 0;
	s->seq = th->next_seq++;
	s->body = &pool->bodies[pool->idx[cls][blast_rng_below(&th->rng, pool->nidx[cls])]];
	blast_msg_id(s->id, th->run->run_id, th->id, s->seq);
	sess_pump(th, s);
}

static void txn_end(struct blast_thread *th, struct blast_sess *s, bool ok,
                    const struct blast_reply *r)
{
	if (ok) {
		blast_hist_record(&th->lat[BLAST_LAT_EOD], th->now - s->t_eod);
		blast_hist_record(&th->lat[BLAST_LAT_TOTAL],
		                  th->now - (th->conf->rate > 0 ? s->t_start : s->t_mail));
		if (th->run->verify_fd >= 0) {
			char qid[64];
			int q = blast_reply_queue_id(r->text, r->text_len, qid, sizeof(qid));

			blast_verify_add(th, s->id, q == 0 ? qid : "-", q == 0 ? strlen(qid) : 1);
		}
	}
	sess_msg_end(th, s, ok);
	s->on_conn++;
	if (s->quit_queued)
		s->phase = BLAST_PH_QUIT;
	else if (!ok)
		sess_ctl(th, s, 'R');
	else
		blast_loop_ready(th, s);
}

static void txn_reply(struct blast_thread *th, struct blast_sess *s, const struct blast_reply *r)
{
	unsigned kind = step_kind(th, s->got);
	bool ok = r->code / 100 == 2;

	if (s->got >= s->sent) {
		blast_sess_abort(th, s, BLAST_ERR_UNSOLICITED);
		return;
	}
	s->got++;
	switch (kind) {
	case K_MAIL:
		if (ok)
			blast_hist_record(&th->lat[BLAST_LAT_MAIL], th->now - s->t_mail);
		else
			BLAST_ERR(th, BLAST_ERR_REJ_MAIL);
		s->failed |= !ok;
		if (!ok && !s->pipelining) {
			txn_end(th, s, false, r);
			return;
		}
		break;
	case K_RCPT:
		if (ok) {
			s->rcpt_ok++;
			BLAST_ADD(th, rcpt_ok, 1);
		} else {
			BLAST_ERR(th, BLAST_ERR_REJ_RCPT);
		}
		if (!s->pipelining && s->got == th->conf->rcpts + 1 && s->rcpt_ok == 0) {
			txn_end(th, s, false, r);
			return;
		}
		break;
	case K_DATA:
		if (r->code != 354) {
			BLAST_ERR(th, BLAST_ERR_REJ_DATA);
			txn_end(th, s, false, r);
			return;
		}
		break;
	default: /* K_EOD, K_BDAT */
		if (!ok)
			BLAST_ERR(th, BLAST_ERR_REJ_EOD);
		txn_end(th, s, ok && !s->failed && s->rcpt_ok > 0, r);
		return;
	}
	sess_pump(th, s);
}

static void ehlo_reply(struct blast_thread *th, struct blast_sess *s, const struct blast_reply *r)
{
	const struct blast_conf *c = th->conf;
	struct blast_run *run = th->run;

	if (r->code / 100 != 2) {
		BLAST_ERR(th, BLAST_ERR_REJ_EHLO);
		if (s->phase == BLAST_PH_EHLO && r->code / 100 == 5) {
			s->phase = BLAST_PH_HELO;
			sess_send_str(th, s, run->helo_cmd, run->helo_len);
			return;
		}
		blast_sess_quit(th, s);
		return;
	}
	s->ext = s->phase == BLAST_PH_EHLO ? r->ext : 0;
	s->pipelining = c->pipelining && (s->ext & BLAST_EXT_PIPELINING);
	if (c->pipelining && !s->pipelining)
		BLAST_ADD(th, fallback_pipelining, 1);
	if (c->bdat && !(s->ext & BLAST_EXT_CHUNKING)) {
		BLAST_ERR(th, BLAST_ERR_NO_CHUNKING);
		blast_sess_quit(th, s);
		return;
	}
	s->pool_class = blast_pool_class_for(s->ext);
	blast_loop_ready(th, s);
}

/* What the reply answers, for the rejection samples. */
static const char *sess_what(const struct blast_thread *th, const struct blast_sess *s)
{
	static const char *const steps[] = {"MAIL", "RCPT", "DATA", "end of data", "BDAT"};

	switch (s->phase) {
	case BLAST_PH_GREETING:
		return "greeting";
	case BLAST_PH_EHLO:
		return "EHLO";
	case BLAST_PH_HELO:
		return "HELO";
	case BLAST_PH_TXN:
		return steps[step_kind(th, s->got)];
	case BLAST_PH_RSET:
		return "RSET";
	default:
		return "QUIT";
	}
}

/* Keeps the first few distinct 4xx/5xx replies (printable ASCII) for the report. */
static void sess_sample(struct blast_thread *th, const struct blast_sess *s,
                        const struct blast_reply *r)
{
	char *d = th->samples[th->nsamples];
	char head[32];
	unsigned i, n;

	n = (unsigned)snprintf(head, sizeof(head), "%s: %u ", sess_what(th, s), r->code);
	for (i = 0; i < th->nsamples; i++)
		if (strncmp(th->samples[i], head, n) == 0)
			return;
	memcpy(d, head, n);
	for (i = 0; i < r->text_len && n + 1 < BLAST_SAMPLE_LEN; i++, n++) {
		unsigned char c = (unsigned char)r->text[i];

		d[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	d[n] = '\0';
	th->nsamples++;
}

static void sess_reply(struct blast_thread *th, struct blast_sess *s, const struct blast_reply *r)
{
	struct blast_run *run = th->run;

	if (r->code >= 100 && r->code < 600)
		BLAST_ADD(th, replies[r->code / 100], 1);
	if (r->code >= 400 && th->nsamples < BLAST_SAMPLES)
		sess_sample(th, s, r);
	blast_timer_arm(th, &th->timers, s);
	switch (s->phase) {
	case BLAST_PH_GREETING:
		if (r->code / 100 != 2) {
			BLAST_ERR(th, BLAST_ERR_REJ_GREETING);
			s->conn_failed = 1; /* back off before reconnecting */
			blast_sess_quit(th, s);
			return;
		}
		blast_hist_record(&th->lat[BLAST_LAT_CONNECT], th->now - s->t_connect);
		s->phase = th->conf->helo ? BLAST_PH_HELO : BLAST_PH_EHLO;
		if (th->conf->helo)
			sess_send_str(th, s, run->helo_cmd, run->helo_len);
		else
			sess_send_str(th, s, run->ehlo_cmd, run->ehlo_len);
		return;
	case BLAST_PH_EHLO:
	case BLAST_PH_HELO:
		ehlo_reply(th, s, r);
		return;
	case BLAST_PH_TXN:
		txn_reply(th, s, r);
		return;
	case BLAST_PH_RSET:
		if (r->code / 100 != 2) {
			BLAST_ERR(th, BLAST_ERR_REJ_RSET);
			blast_sess_quit(th, s);
			return;
		}
		blast_loop_ready(th, s);
		return;
	case BLAST_PH_QUIT:
		/* Let the server close first: its FIN usually follows the 221 at once, and the
		 * TIME_WAIT state then stays on its side instead of holding our ports. */
		s->phase = BLAST_PH_LINGER;
		blast_timer_arm(th, &th->linger, s);
		return;
	case BLAST_PH_LINGER:
		return;
	default:
		blast_sess_abort(th, s, BLAST_ERR_UNSOLICITED);
		return;
	}
}

static void sess_recv(struct blast_thread *th, struct blast_sess *s, const struct blast_ev *ev)
{
	struct blast_reply r;
	size_t off = 0;

	if (ev->res <= 0) {
		if (s->phase == BLAST_PH_QUIT || s->phase == BLAST_PH_LINGER ||
		    (s->phase == BLAST_PH_IDLE && ev->res == 0))
			blast_sess_close(th, s);
		else if (ev->res == 0)
			blast_sess_abort(th, s, BLAST_ERR_EOF);
		else if (ev->res == -ECONNRESET || ev->res == -EPIPE)
			blast_sess_abort(th, s, BLAST_ERR_RESET);
		else
			blast_sess_abort(th, s, BLAST_ERR_RECV);
		return;
	}
	while (off < ev->len && s->phase != BLAST_PH_CLOSING) {
		ssize_t n = blast_reply_parse(&s->rp, ev->data + off, ev->len - off, &r);

		if (n == 0)
			return;
		if (n < 0) {
			blast_sess_abort(
			    th, s, n == -EMSGSIZE ? BLAST_ERR_LINE_TOO_LONG : BLAST_ERR_GARBAGE);
			return;
		}
		off += (size_t)n;
		sess_reply(th, s, &r);
	}
}

static enum blast_err connect_err(int res)
{
	switch (-res) {
	case ECONNREFUSED:
		return BLAST_ERR_REFUSED;
	case ENETUNREACH:
	case EHOSTUNREACH:
		return BLAST_ERR_UNREACHABLE;
	case EADDRNOTAVAIL:
		return BLAST_ERR_ADDRNOTAVAIL;
	case ETIMEDOUT:
		return BLAST_ERR_TIMEOUT_CONNECT;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		return BLAST_ERR_LOCAL;
	default:
		return BLAST_ERR_CONNECT;
	}
}

static void sess_sent(struct blast_thread *th, struct blast_sess *s, const struct blast_ev *ev)
{
	uint8_t d = s->deferred;

	s->send_busy = 0;
	if (ev->res < 0) {
		bool reset = ev->res == -EPIPE || ev->res == -ECONNRESET;

		blast_sess_abort(th, s, reset ? BLAST_ERR_RESET : BLAST_ERR_SEND);
		return;
	}
	if (d != 0) {
		s->deferred = 0;
		sess_ctl(th, s, d);
		return;
	}
	sess_pump(th, s);
}

void blast_sess_event(struct blast_thread *th, struct blast_sess *s, const struct blast_ev *ev)
{
	/* Events harvested in the same batch as the one that closed the session. */
	if (s->phase == BLAST_PH_CLOSING && ev->type != BLAST_EV_CLOSED)
		return;
	switch (ev->type) {
	case BLAST_EV_CONNECT:
		if (ev->res != 0) {
			BLAST_ADD(th, conn_fail, 1);
			s->conn_failed = 1;
			blast_sess_abort(th, s, connect_err(ev->res));
			return;
		}
		BLAST_ADD(th, conn_ok, 1);
		BLAST_ADD(th, conn_open, 1);
		s->counted = 1;
		s->phase = BLAST_PH_GREETING;
		blast_timer_arm(th, &th->timers, s);
		return;
	case BLAST_EV_RECV:
		sess_recv(th, s, ev);
		return;
	case BLAST_EV_SENT:
		sess_sent(th, s, ev);
		return;
	case BLAST_EV_CLOSED:
		if (s->counted)
			__atomic_store_n(&th->c.conn_open, th->c.conn_open - 1, __ATOMIC_RELAXED);
		s->counted = 0;
		if (s->conn_failed && th->conf->rate == 0 && !th->stopping) {
			s->phase = BLAST_PH_BACKOFF;
			blast_timer_arm(th, &th->backoff, s);
			return;
		}
		s->phase = BLAST_PH_FREE;
		blast_loop_closed(th, s);
		return;
	}
}

void blast_sess_expire(struct blast_thread *th, struct blast_sess *s)
{
	static const uint8_t kinds[] = {
	    [BLAST_PH_CONNECTING] = BLAST_ERR_TIMEOUT_CONNECT,
	    [BLAST_PH_GREETING] = BLAST_ERR_TIMEOUT_GREETING,
	    [BLAST_PH_EHLO] = BLAST_ERR_TIMEOUT_EHLO,
	    [BLAST_PH_HELO] = BLAST_ERR_TIMEOUT_EHLO,
	    [BLAST_PH_TXN] = BLAST_ERR_TIMEOUT_MAIL,
	    [BLAST_PH_RSET] = BLAST_ERR_TIMEOUT_MAIL,
	    [BLAST_PH_QUIT] = BLAST_ERR_TIMEOUT_QUIT,
	};
	enum blast_err e;

	if (s->phase == BLAST_PH_BACKOFF) {
		s->phase = BLAST_PH_FREE;
		blast_loop_closed(th, s);
		return;
	}
	if (s->phase >= sizeof(kinds) || kinds[s->phase] == 0) {
		blast_sess_close(th, s);
		return;
	}
	e = (enum blast_err)kinds[s->phase];
	if (s->phase == BLAST_PH_TXN && s->sent == s->steps)
		e = BLAST_ERR_TIMEOUT_DATA;
	if (s->phase == BLAST_PH_CONNECTING) {
		BLAST_ADD(th, conn_fail, 1);
		s->conn_failed = 1;
	}
	blast_sess_abort(th, s, e);
}
