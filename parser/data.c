/* SPDX-License-Identifier: MIT */
/*
 * data.c - message bodies: DATA (RFC 5321 4.1.1.4) and BDAT chunks (RFC 3030).
 *
 * DATA: after "354" the body goes through the DATA scanner (smtp_dscan(), dscan.h), which
 * finds the only terminator, <CRLF>.<CRLF>, removes dot-stuffing at real line starts, and
 * flags bare CR/LF and over-long lines. Its spans become SMTP_EV_BODY events pointing into the
 * input (or at the scanner's constants): no copy. Errors are sticky: once the message is
 * known to be refused (bare CR/LF in reject mode, size over cfg.max_message_size, a line over
 * cfg.max_text_line) no more BODY events are emitted, the rest is read to the terminator, and
 * one reply is sent: 550 5.5.2 (bare CR/LF) before 552 5.3.4 (size) before 550 5.6.0 (long
 * line), with SMTP_EV_REJECTED (arg = the code). The choice looks only at what the whole
 * message contained (the size keeps counting after a refusal), so it does not depend on how
 * the input was split. Otherwise SMTP_EV_END and the session waits for smtp_resolve(). In
 * normalize mode the scanner emits bare CR/LF as CRLF and the message is accepted.
 *
 * BDAT: "BDAT n [LAST]" is followed by exactly n octets, passed through raw as BODY spans
 * (binary-safe, no unstuffing), in as many smtp_input() calls as they take. Every chunk whose
 * size was parsed is consumed, even when refused, so chunk octets are never read as commands:
 * a refused chunk (no MAIL/RCPT, CHUNKING off) is skipped and answered with its error after
 * its last octet; a chunk that would exceed the size limit fails the transaction (552, then
 * SMTP_EV_REJECTED). A non-LAST chunk is answered "250 2.0.0 n octets received"; the LAST
 * chunk ends the message like DATA's terminator. SMTP_EV_DATA comes with the first accepted
 * chunk. SMTP_EV_REJECTED may therefore come without SMTP_EV_DATA (first chunk refused).
 */
#include <string.h>

#include "parser/session-int.h"

#define SMTP_SPAN_BATCH 16

void smtp_data_begin(struct smtp_ctx *c)
{
	struct smtp_session *s = c->s;
	uint32_t tl = c->cfg->max_text_line;

	memset(&s->dscan, 0, sizeof(s->dscan));
	s->dscan.normalize = c->cfg->bare_newline == SMTP_BARE_NORMALIZE;
	s->dscan.max_line = tl > 2 ? tl - 2 : (tl ? 1 : 0);
	s->size = 0;
	s->tx_error = SMTP_R_NONE;
	smtp_reply_id(c, SMTP_R_DATA_GO);
	smtp_ev_push(c->io, SMTP_EV_DATA);
	s->flags |= SMTP_SF_DATA_EV;
	s->state = SMTP_DATA;
	c->io->flush = 1;
}

/*
 * The refusal the message gets, or SMTP_R_NONE. It depends only on the octets seen so far
 * (scanner flags and the size, which keeps counting after a refusal), never on how the input
 * was split, so the final reply is the same for every feed.
 */
static enum smtp_rid msg_refusal(const struct smtp_session *s, const struct smtp_config *cfg)
{
	if (!s->dscan.normalize && (s->dscan.flags & (DSCAN_BARE_CR | DSCAN_BARE_LF)))
		return SMTP_R_MSG_BARE;
	if (cfg->max_message_size && s->size > cfg->max_message_size)
		return SMTP_R_MSG_SIZE;
	if (s->tx_error != SMTP_R_NONE)
		return (enum smtp_rid)s->tx_error;
	if (s->dscan.flags & DSCAN_LONG_LINE)
		return SMTP_R_MSG_LONG_LINE;
	return SMTP_R_NONE;
}

/* Message read to its end and refused: one reply, REJECTED, transaction over. */
static void msg_reject(struct smtp_ctx *c, enum smtp_rid rid)
{
	struct smtp_event *ev;

	smtp_reply_id(c, rid);
	ev = smtp_ev_push(c->io, SMTP_EV_REJECTED);
	ev->arg = smtp_reply_code(rid);
	smtp_tx_clear(c->s);
	c->s->state = SMTP_READY;
	c->io->flush = 1;
}

/* Message complete: END, then wait for the verdict. */
static void msg_end(struct smtp_ctx *c)
{
	struct smtp_event *ev = smtp_ev_push(c->io, SMTP_EV_END);

	ev->size = c->s->size;
	c->s->resume = c->s->state;
	c->s->state = SMTP_WAIT;
	c->s->wait_for = SMTP_EV_END;
	c->io->flush = 1;
}

static void data_finish(struct smtp_ctx *c)
{
	enum smtp_rid rid = msg_refusal(c->s, c->cfg);

	if (rid != SMTP_R_NONE)
		msg_reject(c, rid);
	else
		msg_end(c);
}

/* Count a span (saturating) and emit it unless the message is already refused. */
static void body_span(struct smtp_ctx *c, const char *p, size_t n)
{
	struct smtp_session *s = c->s;
	struct smtp_event *ev;

	s->size = UINT64_MAX - s->size < n ? UINT64_MAX : s->size + n;
	if (msg_refusal(s, c->cfg) != SMTP_R_NONE)
		return;
	ev = smtp_ev_push(c->io, SMTP_EV_BODY);
	ev->str = p;
	ev->len = n;
}

size_t smtp_data_step(struct smtp_ctx *c, const char *p, size_t n, int *progress)
{
	struct smtp_session *s = c->s;
	struct smtp_span sp[SMTP_SPAN_BATCH];
	unsigned cap = c->io->ev_cap - c->io->nev, k = 0;
	size_t used;

	*progress = 1;
	if (s->dscan.flags & DSCAN_DONE) {
		data_finish(c); /* found by the previous call, which had no event slot left */
		return 0;
	}
	if (n == 0) {
		*progress = 0;
		return 0;
	}
	if (cap > SMTP_SPAN_BATCH)
		cap = SMTP_SPAN_BATCH;
	used = smtp_dscan(&s->dscan, p, n, sp, cap, &k);
	if (k > cap)
		SMTP_PANIC("scanner overflowed its span array");
	for (unsigned i = 0; i < k; i++)
		body_span(c, sp[i].p, sp[i].n);
	if ((s->dscan.flags & DSCAN_DONE) && c->io->nev < c->io->ev_cap)
		data_finish(c);
	else if (used == 0 && k == 0 && !(s->dscan.flags & DSCAN_DONE))
		*progress = 0; /* defensive: a scanner that cannot move */
	return used;
}

void smtp_bdat_begin(struct smtp_ctx *c, uint64_t size, int last, enum smtp_rid refuse)
{
	struct smtp_session *s = c->s;
	uint64_t max = c->cfg->max_message_size;

	s->resume = s->state;
	s->chunk = size;
	s->bdat_left = size;
	s->flags &= (uint8_t) ~(SMTP_SF_BDAT_LAST | SMTP_SF_SKIP);
	if (last)
		s->flags |= SMTP_SF_BDAT_LAST;
	s->state = SMTP_BDAT;
	if (refuse != SMTP_R_NONE) {
		s->flags |= SMTP_SF_SKIP;
		s->tx_error = (uint8_t)refuse;
		return;
	}
	s->flags |= SMTP_SF_BDAT;
	if (max && (s->size > max || size > max - s->size)) {
		s->tx_error = SMTP_R_MSG_SIZE; /* fails the transaction at the chunk's end */
		return;
	}
	if (!(s->flags & SMTP_SF_DATA_EV)) {
		smtp_ev_push(c->io, SMTP_EV_DATA);
		s->flags |= SMTP_SF_DATA_EV;
	}
}

static void chunk_end(struct smtp_ctx *c)
{
	struct smtp_session *s = c->s;

	if (s->flags & SMTP_SF_SKIP) {
		enum smtp_rid rid = (enum smtp_rid)s->tx_error;

		s->flags &= (uint8_t)~SMTP_SF_SKIP;
		s->tx_error = SMTP_R_NONE;
		s->state = s->resume;
		smtp_error(c, rid);
		return;
	}
	if (s->tx_error != SMTP_R_NONE) {
		msg_reject(c, (enum smtp_rid)s->tx_error);
		return;
	}
	if (s->flags & SMTP_SF_BDAT_LAST) {
		msg_end(c);
		return;
	}
	s->state = SMTP_RCPT;
	smtp_reply_chunk(c, s->chunk);
}

size_t smtp_bdat_step(struct smtp_ctx *c, const char *p, size_t n, int *progress)
{
	struct smtp_session *s = c->s;
	size_t take;

	*progress = 1;
	if (s->bdat_left == 0) {
		chunk_end(c);
		return 0;
	}
	if (n == 0) {
		*progress = 0;
		return 0;
	}
	take = (uint64_t)n < s->bdat_left ? n : (size_t)s->bdat_left;
	if (!(s->flags & SMTP_SF_SKIP))
		body_span(c, p, take); /* the size was checked against the limit at BDAT */
	s->bdat_left -= take;
	if (s->bdat_left == 0 && c->io->ev_cap - c->io->nev >= SMTP_STEP_EVENTS)
		chunk_end(c);
	return take;
}
