/* SPDX-License-Identifier: MIT */
/*
 * session.c - the SMTP session: input loop, command-line framing, decisions, closing.
 *
 * Public functions (smtp.h): smtp_session_start, smtp_session_start_refused, smtp_input,
 * smtp_resolve, smtp_session_end, smtp_state_name. Private helpers used by the other engine files
 * (session-int.h): smtp_ev_push, smtp_error, smtp_close, smtp_tx_abort, smtp_tx_clear, smtp_panic.
 *
 * Command lines: only CRLF ends one. A line ended by a bare LF is consumed to that LF and
 * answered "500 5.5.2" (counts as an error), so the session stays in step with the client. A
 * line longer than cfg.max_line (CRLF included; never less than SMTP_LINE_MIN) is consumed to
 * its LF, even across many calls
 * (SMTP_SF_DISCARD), and answered "500 5.5.6 Line too long" once; its tail is never read as a
 * command. An incomplete line is left unconsumed for the embedder to present again with more
 * bytes; s->scanned remembers how much of it was already searched for LF, so a line arriving
 * one byte at a time costs O(n), not O(n^2).
 *
 * Pipelining (RFC 2920): smtp_input() consumes every complete unit in its input, appending
 * replies in order, and sets io->flush when it stops for want of input, for a decision, or on
 * closing; commands that end a pipelined group set it too. It never discards unread input.
 *
 * Errors: protocol errors are replies; smtp_resolve() returns -EINVAL when nothing is pending
 * or the verdict code is not 0 or 2xx/4xx/5xx, -ENOSPC when io lacks SMTP_REPLY_MAX octets or
 * SMTP_STEP_EVENTS event slots (nothing is changed then; call again after draining io).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser/session-int.h"

void smtp_panic(const char *file, int line, const char *msg)
{
	fprintf(stderr, "smtp engine panic at %s:%d: %s\n", file, line, msg);
	abort();
}

const char *smtp_state_name(enum smtp_state st)
{
	static const char *const names[] = {
	    [SMTP_CONNECTED] = "connected", [SMTP_GREETED] = "greeted", [SMTP_READY] = "ready",
	    [SMTP_MAIL] = "mail",           [SMTP_RCPT] = "rcpt",       [SMTP_DATA] = "data",
	    [SMTP_BDAT] = "bdat",           [SMTP_WAIT] = "wait",       [SMTP_CLOSED] = "closed",
	};

	if ((unsigned)st >= sizeof(names) / sizeof(names[0]) || names[st] == NULL)
		return "invalid";
	return names[st];
}

struct smtp_event *smtp_ev_push(struct smtp_io *io, enum smtp_event_type type)
{
	struct smtp_event *ev;

	if (io->nev >= io->ev_cap)
		SMTP_PANIC("event array full");
	ev = &io->ev[io->nev++];
	memset(ev, 0, sizeof(*ev));
	ev->type = (uint8_t)type;
	ev->str = "";
	ev->params = "";
	return ev;
}

void smtp_tx_clear(struct smtp_session *s)
{
	s->flags &= (uint8_t)(SMTP_SF_DISCARD | SMTP_SF_REFUSED);
	s->body = SMTP_BODY_NONE;
	s->utf8 = 0;
	s->tx_error = SMTP_R_NONE;
	s->nrcpt = 0;
	s->size = 0;
	s->declared = 0;
	s->chunk = 0;
	s->bdat_left = 0;
	memset(&s->dscan, 0, sizeof(s->dscan));
}

/* Drop the transaction; tell the embedder if it knew of one (a MAIL event was emitted). */
void smtp_tx_abort(struct smtp_ctx *c)
{
	if (c->s->flags & SMTP_SF_TX)
		smtp_ev_push(c->io, SMTP_EV_ABORT);
	smtp_tx_clear(c->s);
}

void smtp_close(struct smtp_ctx *c, unsigned code)
{
	struct smtp_event *ev;

	smtp_tx_abort(c);
	ev = smtp_ev_push(c->io, SMTP_EV_CLOSE);
	ev->arg = code;
	c->s->state = SMTP_CLOSED;
	c->io->flush = 1;
}

/* Reply an error; past cfg.max_errors counted errors, also 421 and close. */
void smtp_error(struct smtp_ctx *c, enum smtp_rid id)
{
	smtp_reply_id(c, id);
	if (!smtp_reply_counts_error(id))
		return;
	c->s->nerrors++;
	if (c->cfg->max_errors && c->s->nerrors >= c->cfg->max_errors) {
		smtp_reply_id(c, SMTP_R_TOO_MANY_ERRORS);
		smtp_close(c, 421);
	}
}

void smtp_session_start(struct smtp_session *s, const struct smtp_config *cfg, struct smtp_io *io)
{
	struct smtp_ctx c = {s, cfg, io};

	memset(s, 0, sizeof(*s));
	s->state = SMTP_GREETED;
	smtp_reply_greeting(&c);
	io->flush = 1;
}

void smtp_session_start_refused(struct smtp_session *s, const struct smtp_config *cfg,
                                const struct smtp_verdict *v, struct smtp_io *io)
{
	struct smtp_ctx c = {s, cfg, io};

	memset(s, 0, sizeof(*s));
	s->state = SMTP_GREETED;
	s->flags = SMTP_SF_REFUSED;
	smtp_reply_refused(&c, v ? v->enh : NULL, v ? v->text : NULL);
	io->flush = 1;
}

/*
 * One command line at p. Returns bytes consumed; *progress = 0 when the line is incomplete
 * (nothing consumed, more input needed).
 */
static size_t line_step(struct smtp_ctx *c, const char *p, size_t n, int *progress)
{
	struct smtp_session *s = c->s;
	size_t max = c->cfg->max_line < SMTP_LINE_MIN ? SMTP_LINE_MIN : c->cfg->max_line;
	size_t start = s->scanned <= n ? s->scanned : 0;
	size_t lf = start + smtp_find_lf(p + start, n - start);

	*progress = 1;
	if (s->flags & SMTP_SF_DISCARD) {
		s->scanned = 0;
		if (lf == n) {
			*progress = n > 0;
			return n;
		}
		s->flags &= (uint8_t)~SMTP_SF_DISCARD;
		smtp_error(c, SMTP_R_LINE_TOO_LONG);
		return lf + 1;
	}
	if (lf == n) {
		if (n >= max) {
			/* Already longer than allowed with its LF still to come. */
			s->scanned = 0;
			s->flags |= SMTP_SF_DISCARD;
			return n;
		}
		s->scanned = (uint32_t)n;
		*progress = 0;
		return 0;
	}
	s->scanned = 0;
	if (lf + 1 > max)
		smtp_error(c, SMTP_R_LINE_TOO_LONG);
	else if (lf == 0 || p[lf - 1] != '\r')
		smtp_error(c, SMTP_R_BARE_LF_CMD);
	else
		smtp_command(c, p, lf - 1);
	return lf + 1;
}

static int io_has_room(const struct smtp_io *io)
{
	return io->nev <= io->ev_cap && io->ev_cap - io->nev >= SMTP_STEP_EVENTS &&
	       io->reply_len <= io->reply_cap && io->reply_cap - io->reply_len >= SMTP_REPLY_MAX;
}

/*
 * The input loop. One iteration is one unit of work: a command line, a scanner call over
 * body bytes, a BDAT chunk's bytes, or the end of a message. It runs until the input holds
 * no complete unit, the session waits or closed, or io has no room for another unit; it is a
 * single loop so that every stop condition is checked in one place.
 */
size_t smtp_input(struct smtp_session *s, const struct smtp_config *cfg, const char *in, size_t len,
                  struct smtp_io *io)
{
	struct smtp_ctx c = {s, cfg, io};
	size_t off = 0;
	int starved = 0;

	for (;;) {
		int progress = 0;
		size_t used;

		if (s->state == SMTP_WAIT || s->state == SMTP_CLOSED || s->state == SMTP_CONNECTED)
			break;
		if (!io_has_room(io)) {
			if (io->reply_len > 0)
				io->flush = 1;
			break;
		}
		switch (s->state) {
		case SMTP_DATA:
			used = smtp_data_step(&c, in + off, len - off, &progress);
			break;
		case SMTP_BDAT:
			used = smtp_bdat_step(&c, in + off, len - off, &progress);
			break;
		default:
			used = line_step(&c, in + off, len - off, &progress);
			break;
		}
		off += used;
		if (!progress) {
			starved = 1;
			break;
		}
	}
	if (io->reply_len > 0 && (starved || s->state == SMTP_WAIT || s->state == SMTP_CLOSED))
		io->flush = 1;
	return off;
}

/* The success reply of a decision with code 0 or 2xx. */
static void resolve_ok(struct smtp_ctx *c, const struct smtp_verdict *v)
{
	struct smtp_session *s = c->s;

	switch (s->wait_for) {
	case SMTP_EV_HELO:
		if (s->ehlo)
			smtp_reply_ehlo(c);
		else
			smtp_reply_helo(c);
		s->state = SMTP_READY;
		return;
	case SMTP_EV_MAIL:
		s->state = SMTP_MAIL;
		break;
	case SMTP_EV_RCPT:
		s->nrcpt++;
		s->state = SMTP_RCPT;
		break;
	case SMTP_EV_END:
		smtp_tx_clear(s);
		s->state = SMTP_READY;
		if (v->code == 0)
			return smtp_reply_queued(c, v->queue_id);
		break;
	default:
		SMTP_PANIC("waiting for an unknown event");
	}
	if (v->code == 0)
		smtp_reply_id(c, s->wait_for == SMTP_EV_MAIL   ? SMTP_R_MAIL_OK
		                 : s->wait_for == SMTP_EV_RCPT ? SMTP_R_RCPT_OK
		                                               : SMTP_R_OK);
	else
		smtp_reply_verdict(c, v->code, v->enh, v->text, (enum smtp_event_type)s->wait_for);
}

int smtp_resolve(struct smtp_session *s, const struct smtp_config *cfg,
                 const struct smtp_verdict *v, struct smtp_io *io)
{
	struct smtp_ctx c = {s, cfg, io};
	unsigned cls;

	if (s->state != SMTP_WAIT || v == NULL)
		return -EINVAL;
	cls = v->code / 100;
	if (v->code != 0 && (v->code > 599 || (cls != 2 && cls != 4 && cls != 5)))
		return -EINVAL;
	if (!io_has_room(io))
		return -ENOSPC;
	io->flush = 1;
	if (v->code == 0 || cls == 2) {
		resolve_ok(&c, v);
		return 0;
	}
	smtp_reply_verdict(&c, v->code, v->enh, v->text, (enum smtp_event_type)s->wait_for);
	if (v->code == 421) {
		smtp_close(&c, 421);
		return 0;
	}
	switch (s->wait_for) {
	case SMTP_EV_HELO:
		s->state = SMTP_GREETED;
		break;
	case SMTP_EV_MAIL:
	case SMTP_EV_END:
		smtp_tx_clear(s); /* the embedder refused it: no ABORT event */
		s->state = SMTP_READY;
		break;
	default:
		s->state = s->resume; /* RCPT refused: the transaction goes on */
		break;
	}
	return 0;
}

void smtp_session_end(struct smtp_session *s, const struct smtp_config *cfg, uint16_t code,
                      const char *text, struct smtp_io *io)
{
	struct smtp_ctx c = {s, cfg, io};
	char enh[8];
	const char *e = NULL;

	if (s->state == SMTP_CLOSED)
		return;
	if (code != 0 && (code < 200 || code > 599 || code / 100 == 3))
		code = 421; /* not a closing reply code */
	if (code != 0 && io->reply_len <= io->reply_cap) {
		/* text may start with its own enhanced code: "4.4.2 Timeout". The reply is
		 * written if it fits at all (its text cut if need be): it is the last one. */
		const char *sp = text ? strchr(text, ' ') : NULL;

		if (sp && (size_t)(sp - text) < sizeof(enh) &&
		    smtp_enh_valid(text, (size_t)(sp - text), code)) {
			memcpy(enh, text, (size_t)(sp - text));
			enh[sp - text] = '\0';
			e = enh;
			text = sp + 1;
		}
		smtp_reply_verdict(&c, code, e, text, SMTP_EV_CLOSE);
	}
	if (io->nev > io->ev_cap || io->ev_cap - io->nev < SMTP_STEP_EVENTS) {
		smtp_tx_clear(s); /* no room to tell: the embedder broke the contract */
		s->state = SMTP_CLOSED;
		io->flush = 1;
		return;
	}
	smtp_close(&c, code);
}
