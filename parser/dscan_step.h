/* SPDX-License-Identifier: MIT */
/*
 * dscan_step.h - the DATA scanner's reference state machine, one byte at a time (private).
 *
 * Every scanner variant includes this file: dscan_scalar.c runs it on every byte, the SIMD
 * variants run it only on the rare bytes their mask logic leaves to it (a CR or LF that is not
 * part of an ordinary CRLF, a dot at the start of a line, a CR at the end of a vector, a state
 * other than "inside a line" at the start of a call). Being static inline, each copy is compiled
 * with its variant's flags.
 *
 * Interface (all static inline):
 *   dscan_begin()   set up a struct dscan_run for one call; nonzero means "nothing to do";
 *   dscan_step()    consume p[*ip] (and maybe resolve a held CR); nonzero means "stop now";
 *   dscan_count()   add octets to the current line length, setting DSCAN_LONG_LINE;
 *   dscan_finish()  close the open span and return the bytes consumed.
 *
 * Definitions the variants agree on (dscan.h gives the rules):
 *   - line length counts input octets between two real CRLFs, excluding the CRLF: a stuffing
 *     dot, a bare CR and a bare LF each count as one octet; a CR is counted only once it is
 *     known to be bare. DSCAN_LONG_LINE is set as soon as the count exceeds max_line, even if
 *     the line never ends. The count saturates at UINT32_MAX.
 *   - a CR still undecided at the end of a call is not emitted; the next call emits it from a
 *     static constant (as "\r\n" together with its LF, as "\r" if bare, as "\r\n" if bare and
 *     normalising).
 *
 * Output capacity: an event needs at most two spans (the open span and a constant). An event
 * that does not fit is left for the next call; after any event that fills the array the call
 * stops at once, with no span open. So each call with cap >= 2 makes progress, and every byte
 * before the returned count is either emitted or represented by the state (a held CR).
 */
#ifndef SLUICE_PARSER_DSCAN_STEP_H
#define SLUICE_PARSER_DSCAN_STEP_H

#include <stddef.h>
#include <stdint.h>

#include "parser/dscan.h"

enum dscan_state {
	DS_BOL = 0, /* at the start of a line that follows a real CRLF (or of the body) */
	DS_MID,     /* inside a line */
	DS_CR,      /* a CR was consumed and is undecided */
	DS_DOT,     /* a line-start dot was consumed and removed */
	DS_DOT_CR,  /* line-start dot, then CR: an LF now ends the message */
	DS_DONE,    /* the terminator was consumed */
};

static const char dscan_k_cr[] = "\r";
static const char dscan_k_lf[] = "\n";
static const char dscan_k_crlf[] = "\r\n";

/* One call's view of the output; the open span is [s, current position). */
struct dscan_run {
	struct smtp_dscan *st;
	const char *p;
	struct smtp_span *out;
	unsigned cap;
	unsigned nout;
	size_t s;
	int held; /* the undecided CR arrived in an earlier call: it is not in p */
};

static inline int dscan_begin(struct dscan_run *r, struct smtp_dscan *st, const char *p,
                              struct smtp_span *out, unsigned cap)
{
	r->st = st;
	r->p = p;
	r->out = out;
	r->cap = cap;
	r->nout = 0;
	r->s = 0;
	r->held = st->state == DS_CR || st->state == DS_DOT_CR;
	return st->state == DS_DONE || cap == 0;
}

static inline void dscan_count(struct smtp_dscan *st, size_t k)
{
	uint32_t len = st->line_len;

	len = (size_t)(UINT32_MAX - len) < k ? UINT32_MAX : len + (uint32_t)k;
	st->line_len = len;
	if (st->max_line != 0 && len > st->max_line)
		st->flags |= DSCAN_LONG_LINE;
}

static inline void dscan_put(struct dscan_run *r, const char *p, size_t n)
{
	if (n == 0)
		return;
	r->out[r->nout].p = p;
	r->out[r->nout].n = n;
	r->nout++;
}

/* Room for closing the open span at end plus nconst constants? */
static inline int dscan_room(const struct dscan_run *r, size_t end, unsigned nconst)
{
	return r->cap - r->nout >= (unsigned)(end > r->s) + nconst;
}

static inline int dscan_full(const struct dscan_run *r)
{
	return r->nout == r->cap;
}

/*
 * The CR before p[i] is bare. Emit what that needs; 0 if the output has no room (nothing
 * changed), 1 otherwise. Does not consume p[i].
 */
static inline int dscan_bare_cr(struct dscan_run *r, size_t i)
{
	struct smtp_dscan *st = r->st;

	if (r->held) {
		if (!dscan_room(r, i, 1))
			return 0;
		dscan_put(r, st->normalize ? dscan_k_crlf : dscan_k_cr, st->normalize ? 2 : 1);
		r->s = i;
	} else if (st->normalize) {
		if (!dscan_room(r, i, 1))
			return 0;
		dscan_put(r, r->p + r->s, i - r->s); /* ends with the CR */
		dscan_put(r, dscan_k_lf, 1);
		r->s = i;
	}
	r->held = 0;
	st->flags |= DSCAN_BARE_CR;
	dscan_count(st, 1);
	st->state = DS_MID;
	return 1;
}

/* p[i] is a bare LF (state BOL, MID or DOT). */
static inline int dscan_bare_lf(struct dscan_run *r, size_t *ip)
{
	struct smtp_dscan *st = r->st;
	size_t i = *ip;

	if (st->normalize) {
		if (!dscan_room(r, i, 1))
			return 1;
		dscan_put(r, r->p + r->s, i - r->s);
		dscan_put(r, dscan_k_crlf, 2);
		r->s = i + 1;
	}
	st->flags |= DSCAN_BARE_LF;
	dscan_count(st, 1);
	st->state = DS_MID;
	*ip = i + 1;
	return dscan_full(r);
}

/*
 * Consume p[*ip]. Returns 0 to go on, nonzero to stop: *ip is then the count of bytes consumed
 * (the terminator was found, the output is full, or the next event does not fit).
 * This is the whole protocol; it is one function because the states share their transitions.
 */
static inline int dscan_step(struct dscan_run *r, size_t *ip)
{
	struct smtp_dscan *st = r->st;
	size_t i = *ip;
	char c = r->p[i];

	if (st->state == DS_CR || st->state == DS_DOT_CR) {
		if (c == '\n' && st->state == DS_DOT_CR) {
			/* CRLF "." CRLF: the first CRLF was emitted, ".\r\n" is dropped. */
			st->state = DS_DONE;
			st->flags |= DSCAN_DONE;
			*ip = i + 1;
			return 1;
		}
		if (c == '\n') {
			if (r->held) {
				dscan_put(r, dscan_k_crlf, 2); /* i == s == 0: room for one */
				r->s = i + 1;
				r->held = 0;
			}
			st->state = DS_BOL;
			st->line_len = 0;
			*ip = i + 1;
			return dscan_full(r);
		}
		if (!dscan_bare_cr(r, i))
			return 1;
		if (dscan_full(r))
			return 1;
		/* c is not LF and the state is MID: it emits nothing below */
	}

	switch (c) {
	case '\r':
		st->state = st->state == DS_DOT ? DS_DOT_CR : DS_CR;
		r->held = 0;
		*ip = i + 1;
		return 0;
	case '\n':
		return dscan_bare_lf(r, ip);
	case '.':
		if (st->state == DS_BOL) {
			if (!dscan_room(r, i, 0))
				return 1;
			dscan_put(r, r->p + r->s, i - r->s);
			r->s = i + 1;
			dscan_count(st, 1);
			st->state = DS_DOT;
			*ip = i + 1;
			return dscan_full(r);
		}
		break;
	default:
		break;
	}
	dscan_count(st, 1);
	st->state = DS_MID;
	*ip = i + 1;
	return 0;
}

/* Close the open span (minus an undecided CR in p, which a later call emits) and finish. */
static inline size_t dscan_finish(struct dscan_run *r, size_t i, unsigned *nout)
{
	uint8_t state = r->st->state;
	size_t end = i;

	if ((state == DS_CR || state == DS_DOT_CR) && !r->held)
		end = i - 1;
	if (state != DS_DONE && end > r->s)
		dscan_put(r, r->p + r->s, end - r->s);
	*nout = r->nout;
	return i;
}

#endif
