/* SPDX-License-Identifier: MIT */
/*
 * smtp_harness.h - test helper: drive an SMTP session like an embedder and record what it did.
 *
 * h_run() feeds an input to a fresh session the way a transport would: it keeps the bytes the
 * engine did not consume and presents them again with newly "received" ones (feed sizes come
 * from a schedule: all at once, one byte at a time, or any pattern), resolves every pending
 * decision with the next verdict of a list (default: accept, queue id "Q<n>"), and records:
 *   - the reply stream, exactly as it would be sent (flushed replies only);
 *   - a textual event log, one line per event, BODY spans merged into one line per run and
 *     escaped, so sessions fed differently can be compared with strcmp(); the body of a
 *     refused message is dropped from the log at SMTP_EV_REJECTED (how much of it was passed
 *     on before the refusal was known depends on the feed, and the embedder discards it), and
 *     so is the body of a message still unterminated when the input ends (for the same
 *     reason: an error may already be known, and the embedder will abort it);
 *   - contract violations: replies held while the engine waits for input, an unparsable reply
 *     stream, an event array overrun, input consumed while waiting, stalls.
 * h_replies() reduces the reply stream to "code[ enh]" per reply, comma-separated, for tables.
 * h_check_replies() validates reply syntax (3 digits, '-' or ' ', CRLF, one code per reply).
 * Tests only: allocates freely, aborts on harness misuse.
 */
#ifndef SLUICE_TESTS_SMTP_HARNESS_H
#define SLUICE_TESTS_SMTP_HARNESS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser/smtp.h"

struct h_verdict {
	unsigned code;
	const char *enh;
	const char *text;
};

struct h_opts {
	const struct smtp_config *cfg;
	size_t feed;           /* bytes per feed; 0 = everything at once */
	const size_t *pattern; /* if set: feed sizes cycled from this list (npattern entries) */
	unsigned npattern;
	unsigned ev_cap;                  /* 0 = 64 */
	size_t reply_cap;                 /* 0 = 4096 */
	const struct h_verdict *verdicts; /* in order, one per decision; then accept */
	unsigned nverdicts;
	int end_call;      /* at the end of input, call smtp_session_end(end_code) if open */
	unsigned end_code; /* (its text: "4.4.2 Timeout exceeded") */
	/* if set: copies the bytes of each call somewhere (guard-page tests) and returns where */
	const char *(*place)(void *ctx, const char *p, size_t n);
	void *place_ctx;
};

struct h_result {
	char *replies;
	size_t rlen, rcap;
	char *log;
	size_t llen, lcap;
	char err[256];
	unsigned state;
	unsigned decisions;
	size_t consumed;
	size_t body_start; /* log offset of the BODY line being written */
};

static inline void h_free(struct h_result *r)
{
	free(r->replies);
	free(r->log);
	memset(r, 0, sizeof(*r));
}

/* Make room for n more octets in *buf (grown by doubling). */
static inline void h_reserve(char **buf, size_t *cap, size_t len, size_t n)
{
	if (*cap - len > n)
		return;
	while (*cap - len <= n)
		*cap = *cap ? *cap * 2 : 4096;
	*buf = realloc(*buf, *cap);
	if (*buf == NULL)
		abort();
}

static inline void h_logf(struct h_result *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	h_reserve(&r->log, &r->lcap, r->llen, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(r->log + r->llen, r->lcap - r->llen, fmt, ap);
	va_end(ap);
	r->llen += (size_t)n;
}

static inline void h_fail(struct h_result *r, const char *msg)
{
	if (r->err[0] == '\0')
		snprintf(r->err, sizeof(r->err), "%s", msg);
}

static inline void h_esc(struct h_result *r, const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *o;

	h_reserve(&r->log, &r->lcap, r->llen, 4 * n + 1);
	o = r->log + r->llen;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r' || c == '\n' || c == '\\') {
			*o++ = '\\';
			*o++ = c == '\r' ? 'r' : c == '\n' ? 'n' : '\\';
		} else if (c < 32 || c >= 127) {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		} else {
			*o++ = (char)c;
		}
	}
	r->llen = (size_t)(o - r->log);
}

static inline void h_event(struct h_result *r, const struct smtp_event *e, int *in_body)
{
	static const char *const names[] = {"HELO", "MAIL",  "RCPT",     "DATA", "BODY",
	                                    "END",  "ABORT", "REJECTED", "CLOSE"};

	if (e->type == SMTP_EV_BODY) {
		if (!*in_body) {
			r->body_start = r->llen;
			h_logf(r, "BODY ");
		}
		*in_body = 1;
		h_esc(r, e->str, e->len);
		return;
	}
	if (*in_body && e->type == SMTP_EV_REJECTED)
		r->llen = r->body_start; /* see the header comment */
	else if (*in_body)
		h_logf(r, "\n");
	*in_body = 0;
	if (e->type > SMTP_EV_CLOSE) {
		h_fail(r, "unknown event type");
		return;
	}
	h_logf(r, "%s", names[e->type]);
	switch (e->type) {
	case SMTP_EV_HELO:
		h_logf(r, " %.*s %u", (int)e->len, e->str, e->arg);
		break;
	case SMTP_EV_MAIL:
		h_logf(r, " <%.*s> [%.*s] body=%u utf8=%u size=%llu", (int)e->len, e->str,
		       (int)e->params_len, e->params, e->body, e->utf8,
		       (unsigned long long)e->size);
		break;
	case SMTP_EV_RCPT:
		h_logf(r, " <%.*s> [%.*s]", (int)e->len, e->str, (int)e->params_len, e->params);
		break;
	case SMTP_EV_END:
		h_logf(r, " %llu", (unsigned long long)e->size);
		break;
	case SMTP_EV_REJECTED:
	case SMTP_EV_CLOSE:
		h_logf(r, " %u", e->arg);
		break;
	default:
		break;
	}
	h_logf(r, "\n");
}

/*
 * Check a reply stream: each line is 3 digits, '-' or ' ', optional text, CRLF, printable
 * ASCII only; all lines of one reply share the code. Returns NULL or a description.
 */
static inline const char *h_check_replies(const char *p, size_t n)
{
	size_t i = 0;
	int open = 0;
	char code[3] = {0, 0, 0};

	while (i < n) {
		size_t j = i;

		while (j < n && p[j] != '\n')
			j++;
		if (j == n)
			return "unterminated reply line";
		if (j - i < 5 || p[j - 1] != '\r')
			return "reply line too short or not ended by CRLF";
		if (j - i + 1 > 512)
			return "reply line over 512 octets";
		for (int k = 0; k < 3; k++)
			if (p[i + k] < '0' || p[i + k] > '9')
				return "reply code is not 3 digits";
		if (p[i] < '2' || p[i] > '5')
			return "reply code class not 2-5";
		if (p[i + 3] != ' ' && p[i + 3] != '-' && p[i + 3] != '\r')
			return "reply code not followed by space or hyphen";
		if (open && memcmp(code, p + i, 3) != 0)
			return "multi-line reply changes its code";
		for (size_t k = i + 4; k + 1 < j; k++)
			if ((unsigned char)p[k] < 32 || (unsigned char)p[k] >= 127)
				return "control or non-ASCII octet in reply text";
		memcpy(code, p + i, 3);
		open = p[i + 3] == '-';
		i = j + 1;
	}
	return open ? "multi-line reply without final line" : NULL;
}

/* "220,250,250 2.1.0,354" : the final line of each reply, code and enhanced code. */
static inline void h_replies(const struct h_result *r, char *out, size_t cap)
{
	size_t i = 0, w = 0;

	out[0] = '\0';
	while (i < r->rlen) {
		const char *l = r->replies + i, *e = memchr(l, '\n', r->rlen - i);
		size_t ll = e ? (size_t)(e - l) + 1 : r->rlen - i;

		if (ll >= 4 && l[3] == ' ') {
			size_t k = 4;
			int n;

			while (k < ll && ((l[k] >= '0' && l[k] <= '9') || l[k] == '.'))
				k++;
			if (k > 4 && k < ll && l[k] == ' ' && l[5] == '.')
				n = snprintf(out + w, cap - w, "%s%.3s %.*s", w ? "," : "", l,
				             (int)(k - 4), l + 4);
			else
				n = snprintf(out + w, cap - w, "%s%.3s", w ? "," : "", l);
			if (n > 0 && (size_t)n < cap - w)
				w += (size_t)n;
		}
		i += ll;
	}
}

static inline size_t h_next_feed(const struct h_opts *o, unsigned *k, size_t left)
{
	size_t f = o->feed;

	if (o->pattern && o->npattern) {
		f = o->pattern[*k % o->npattern];
		(*k)++;
		if (f == 0)
			f = 1;
	}
	if (f == 0 || f > left)
		f = left;
	return f;
}

static inline void h_flush(struct h_result *r, struct smtp_io *io)
{
	if (!io->flush)
		return;
	h_reserve(&r->replies, &r->rcap, r->rlen, io->reply_len);
	memcpy(r->replies + r->rlen, io->reply, io->reply_len);
	r->rlen += io->reply_len;
	io->reply_len = 0;
	io->flush = 0;
}

static inline void h_resolve(struct smtp_session *s, const struct h_opts *o, struct h_result *r,
                             struct smtp_io *io, int *in_body)
{
	struct smtp_verdict v = {0, NULL, NULL, NULL};
	char qid[32];
	int rc;

	snprintf(qid, sizeof(qid), "Q%u", r->decisions + 1);
	if (r->decisions < o->nverdicts) {
		v.code = (uint16_t)o->verdicts[r->decisions].code;
		v.enh = o->verdicts[r->decisions].enh;
		v.text = o->verdicts[r->decisions].text;
	}
	v.queue_id = qid;
	if (*in_body)
		h_logf(r, "\n");
	*in_body = 0;
	h_logf(r, "RESOLVE %u\n", v.code);
	r->decisions++;
	rc = smtp_resolve(s, o->cfg, &v, io);
	if (rc != 0)
		h_fail(r, "smtp_resolve failed");
}

/* After the input: close the body log, maybe end the session, send what is queued, check. */
static inline void h_end(struct smtp_session *s, const struct h_opts *o, struct h_result *r,
                         struct smtp_io *io, int in_body)
{
	struct smtp_event *ev = io->ev;

	if (in_body && (s->state == SMTP_DATA || s->state == SMTP_BDAT))
		r->llen = r->body_start; /* unterminated: see the header comment */
	else if (in_body)
		h_logf(r, "\n");
	in_body = 0;
	if (o->end_call && s->state != SMTP_CLOSED) {
		io->nev = 0;
		h_logf(r, "END_SESSION %u\n", o->end_code);
		smtp_session_end(s, o->cfg, (uint16_t)o->end_code, "4.4.2 Timeout exceeded", io);
		for (unsigned i = 0; i < io->nev; i++)
			h_event(r, &ev[i], &in_body);
		if (s->state != SMTP_CLOSED || io->nev == 0 ||
		    ev[io->nev - 1].type != SMTP_EV_CLOSE)
			h_fail(r, "smtp_session_end did not close");
	}
	/* anything still queued (closing) is sent too */
	io->flush = 1;
	h_flush(r, io);
	r->state = s->state;
	{
		const char *bad = h_check_replies(r->replies, r->rlen);

		if (bad)
			h_fail(r, bad);
	}
}

/*
 * The embedder loop. buf holds the received, unconsumed bytes (they are moved down after each
 * call, as a real receive buffer would be, so stale pointers would show).
 */
static inline void h_run(const char *in, size_t len, const struct h_opts *o, struct h_result *r)
{
	unsigned ev_cap = o->ev_cap ? o->ev_cap : 64, k = 0;
	size_t reply_cap = o->reply_cap ? o->reply_cap : 4096, have = 0, fed = 0;
	char *buf = malloc(len + 1), *rb = malloc(reply_cap);
	struct smtp_event *ev = calloc(ev_cap + 1, sizeof(*ev));
	struct smtp_session s;
	struct smtp_io io = {rb, reply_cap, 0, ev, ev_cap, 0, 0};
	int in_body = 0;
	unsigned idle = 0;

	memset(r, 0, sizeof(*r));
	h_reserve(&r->replies, &r->rcap, 0, 1);
	h_reserve(&r->log, &r->lcap, 0, 1);
	memset(&s, 0, sizeof(s));
	smtp_session_start(&s, o->cfg, &io);
	for (;;) {
		size_t n;
		unsigned st0 = s.state;
		size_t rl0 = io.reply_len;
		const char *base = o->place ? o->place(o->place_ctx, buf, have) : buf;

		n = smtp_input(&s, o->cfg, base, have, &io);
		if (n > have) {
			h_fail(r, "consumed more than given");
			break;
		}
		if ((st0 == SMTP_WAIT || st0 == SMTP_CLOSED) && n != 0)
			h_fail(r, "consumed input while waiting or closed");
		if (io.nev > ev_cap)
			h_fail(r, "event array overrun");
		for (unsigned i = 0; i < io.nev; i++)
			h_event(r, &ev[i], &in_body);
		int progress = n > 0 || io.nev > 0 || io.reply_len != rl0 || s.state != st0 ||
		               (io.flush && io.reply_len > 0);
		io.nev = 0;
		h_flush(r, &io);
		/* the engine consumed n bytes: drop them, keep the rest (moving it down) */
		memmove(buf, buf + n, have - n);
		have -= n;
		r->consumed += n;
		if (s.state == SMTP_CLOSED)
			break;
		if (s.state == SMTP_WAIT) {
			h_resolve(&s, o, r, &io, &in_body);
			continue;
		}
		if (progress) {
			idle = 0;
			continue;
		}
		/* no progress: the engine wants input. Replies must have been flushed. */
		if (io.reply_len != 0)
			h_fail(r, "replies held while waiting for input");
		if (fed == len || ++idle > 2)
			break;
		n = h_next_feed(o, &k, len - fed);
		memcpy(buf + have, in + fed, n);
		have += n;
		fed += n;
		idle = 0;
	}
	h_end(&s, o, r, &io, in_body);
	free(buf);
	free(rb);
	free(ev);
}

/* Compare two runs (replies and events). */
static inline int h_same(const struct h_result *a, const struct h_result *b)
{
	return a->rlen == b->rlen && memcmp(a->replies, b->replies, a->rlen) == 0 &&
	       a->llen == b->llen && memcmp(a->log, b->log, a->llen) == 0 && a->state == b->state;
}

#endif
