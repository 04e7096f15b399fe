/* SPDX-License-Identifier: MIT */
/*
 * message.c - the message as it streams in: header section split from the body, folded
 * header fields unfolded and scanned in block mode, the body scanned in streaming mode; the
 * verdict at end of data and the header lines / rule ids it reports.
 *
 * pol_tx_data() takes the message bytes in whatever spans the SMTP engine emits. A small
 * resumable state machine (enum pol_hstate) walks the header section: a field is collected,
 * unfolded (a line break followed by WSP is dropped, the WSP kept; CR LF or a bare LF ends a
 * line), into the transaction's buffer and scanned once, when the first byte of the next line
 * shows it is not folded further: against the "any header line" database ("Name: value") and
 * against its name's database (the value, leading WSP skipped). The header section ends at
 * the first empty line. A line that cannot start a field (no name, a name with a byte that is
 * not ftext, or no colon) ends the header section and starts the body, as MTAs treat it.
 * Body bytes go to hs_scan_stream() as they are, never copied or reassembled, so a pattern
 * spanning spans, read buffers or BDAT chunks matches.
 *
 * Work is linear: every message byte is looked at once by the state machine; each header
 * byte is copied once and scanned by at most two block-mode databases; each body byte is
 * scanned once; Hyperscan is automata-based (no backtracking) and every pattern is
 * SINGLEMATCH, so callbacks per scan are bounded by the rule count. Scanning stops as soon as
 * no remaining rule could change the verdict (POL_TX_DONE).
 *
 * Public functions: pol_tx_data, pol_tx_end, pol_tx_headers, pol_tx_rule_ids. Hyperscan
 * errors make the verdict a 451 4.3.0 tempfail. Limits: a field is kept up to header_max
 * octets (the rest is not scanned, counted in pol_stats.header_truncated).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy-int.h"

#define POL_FOLD_AT 900 /* fold the policy header before a line gets this long */

int pol_tx_on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ctx)
{
	struct pol_tx *tx = ctx;

	(void)from, (void)to, (void)flags;
	tx->core->st.matches++;
	if (!pol_bit_test(tx->matched, id)) {
		pol_bit_set(tx->matched, id);
		if (id < tx->best && pol_ra_terminal(tx->rules->rule[id].action))
			tx->best = id;
	}
	return 0;
}

/* Done when no rule still to be scanned comes before the terminal rule in force. */
void pol_tx_check_done(struct pol_tx *tx)
{
	const struct pol_rules *r = tx->rules;
	uint32_t lim = r->min_body;

	if (tx->hstate != POL_H_BODY && r->min_hdr < lim)
		lim = r->min_hdr;
	if (lim == POL_NONE || tx->best < lim)
		tx->flags |= POL_TX_DONE;
}

const char pol_zero_pad[POL_OVERREAD];

/* Header values: they live in hbuf, which has POL_OVERREAD bytes of padding. */
static void block_scan(struct pol_core *c, struct pol_tx *tx, const struct pol_db *db,
                       const char *s, size_t n)
{
	if (db->ids[0] >= tx->best)
		return;
	c->st.scan_calls++;
	c->st.scan_bytes += n;
	if (hs_scan(db->hs, n ? s : pol_zero_pad, (unsigned)n, 0, c->scratch, pol_tx_on_match,
	            tx) != HS_SUCCESS) {
		c->st.hs_errors++;
		tx->flags |= POL_TX_ERROR;
	}
}

static void stream_scan(struct pol_core *c, struct pol_tx *tx, const char *p, unsigned n)
{
	c->st.scan_calls++;
	c->st.scan_bytes += n;
	c->st.body_bytes += n;
	tx->flags |= POL_TX_DIRTY;
	if (hs_scan_stream(tx->stream, p, n, 0, c->scratch, pol_tx_on_match, tx) != HS_SUCCESS) {
		c->st.hs_errors++;
		tx->flags |= POL_TX_ERROR;
	}
}

/*
 * Body bytes, in place; a tail whose over-read could cross a page boundary goes through the
 * core's bounce buffer instead (POL_OVERREAD), so this never copies more than 64 bytes.
 */
static void body_scan(struct pol_core *c, struct pol_tx *tx, const char *p, size_t n)
{
	while (n && tx->stream && !(tx->flags & (POL_TX_DONE | POL_TX_ERROR))) {
		size_t k = n > (1u << 30) + POL_OVERREAD ? (1u << 30) : n;

		if (k == n && !pol_tail_safe(p, n)) {
			size_t tail = n < POL_OVERREAD ? n : POL_OVERREAD;

			if (n > tail)
				stream_scan(c, tx, p, (unsigned)(n - tail));
			memcpy(c->bounce, p + n - tail, tail);
			if (!(tx->flags & POL_TX_ERROR))
				stream_scan(c, tx, c->bounce, (unsigned)tail);
		} else {
			stream_scan(c, tx, p, (unsigned)k);
		}
		p += k;
		n -= k;
		pol_tx_check_done(tx);
	}
	c->st.skipped_bytes += n;
}

/* A complete (unfolded) field: scan it, empty the buffer. */
static void field_flush(struct pol_core *c, struct pol_tx *tx)
{
	const struct pol_rules *r = tx->rules;
	const char *v = tx->hbuf + tx->value_off;
	size_t vn = tx->hlen - tx->value_off;
	int h;

	c->st.header_fields++;
	if (tx->flags & POL_TX_TRUNC)
		c->st.header_truncated++;
	if (r->fdb[POL_F_HEADER] >= 0)
		block_scan(c, tx, &r->db[r->fdb[POL_F_HEADER]], tx->hbuf, tx->hlen);
	h = pol_hdr_find(r, tx->hbuf, tx->name_len);
	if (h >= 0) {
		while (vn && (*v == ' ' || *v == '\t'))
			v++, vn--;
		block_scan(c, tx, &r->db[r->hdr[h].db], v, vn);
	}
	tx->hlen = 0;
	tx->flags &= (uint8_t) ~(POL_TX_HAVE | POL_TX_TRUNC | POL_TX_CR);
	pol_tx_check_done(tx);
}

static void hbuf_put(struct pol_tx *tx, const char *s, size_t n)
{
	size_t room = tx->hcap - tx->hlen;

	if (n > room) {
		n = room;
		tx->flags |= POL_TX_TRUNC;
	}
	memcpy(tx->hbuf + tx->hlen, s, n);
	tx->hlen += (uint32_t)n;
}

/* The header section is over; what the current line held so far is body. Returns i. */
static size_t to_body(struct pol_core *c, struct pol_tx *tx, size_t i)
{
	tx->hstate = POL_H_BODY;
	pol_tx_check_done(tx);
	if (tx->hlen)
		body_scan(c, tx, tx->hbuf, tx->hlen);
	tx->hlen = 0;
	return i;
}

static int is_ftext(unsigned char ch)
{
	return ch >= 33 && ch <= 126 && ch != ':';
}

static int is_wsp(unsigned char ch)
{
	return ch == ' ' || ch == '\t';
}

/*
 * The header-section state machine. Consumes p[0..n) up to the end of the header section
 * (returns the bytes consumed; the rest is body) or until the verdict is fixed. One switch
 * over the state per byte, with a run copy inside field bodies; longer than 60 lines because
 * a resumable parser reads best as one piece.
 */
static size_t hdr_input(struct pol_core *c, struct pol_tx *tx, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char ch = (unsigned char)p[i];

		switch (tx->hstate) {
		case POL_H_LINE:
			if (is_wsp(ch) && (tx->flags & POL_TX_HAVE)) {
				tx->hstate = POL_H_VALUE; /* folded: the line break goes */
				break;
			}
			if (tx->flags & POL_TX_HAVE) {
				field_flush(c, tx);
				if (tx->flags & (POL_TX_DONE | POL_TX_ERROR))
					return i;
			}
			if (ch == '\r') {
				tx->hstate = POL_H_CR;
				i++;
			} else if (ch == '\n') {
				to_body(c, tx, i);
				return i + 1;
			} else if (!is_ftext(ch)) {
				return to_body(c, tx, i);
			} else {
				tx->hstate = POL_H_NAME;
				tx->hlen = 0;
			}
			break;
		case POL_H_CR:
			if (ch == '\n') {
				to_body(c, tx, i);
				return i + 1;
			}
			tx->hbuf[0] = '\r'; /* a bare CR: no empty line, no field */
			tx->hlen = 1;
			return to_body(c, tx, i);
		case POL_H_NAME:
		case POL_H_NAME_WSP:
			if (tx->hstate == POL_H_NAME && is_ftext(ch) && tx->hlen < POL_NAME_MAX) {
				tx->hbuf[tx->hlen++] = (char)ch;
				i++;
			} else if (is_wsp(ch) && tx->hlen && tx->hlen < POL_NAME_MAX) {
				if (tx->hstate == POL_H_NAME)
					tx->name_len = tx->hlen;
				tx->hstate = POL_H_NAME_WSP;
				tx->hbuf[tx->hlen++] = (char)ch;
				i++;
			} else if (ch == ':' && tx->hlen) {
				if (tx->hstate == POL_H_NAME)
					tx->name_len = tx->hlen;
				tx->hbuf[tx->hlen++] = ':';
				tx->value_off = tx->hlen;
				tx->flags |= POL_TX_HAVE;
				tx->hstate = POL_H_VALUE;
				i++;
			} else {
				return to_body(c, tx, i);
			}
			break;
		case POL_H_VALUE:
			if (tx->flags & POL_TX_CR) {
				tx->flags &= (uint8_t)~POL_TX_CR;
				if (ch == '\n') {
					tx->hstate = POL_H_LINE;
					i++;
					break;
				}
				hbuf_put(tx, "\r", 1); /* a bare CR inside a field stays */
			}
			if (ch == '\r' || ch == '\n') {
				tx->flags |= ch == '\r' ? POL_TX_CR : 0;
				tx->hstate = ch == '\n' ? POL_H_LINE : POL_H_VALUE;
				i++;
			} else {
				size_t j = i + 1;

				while (j < n && p[j] != '\r' && p[j] != '\n')
					j++;
				hbuf_put(tx, p + i, j - i);
				i = j;
			}
			break;
		default:
			return i;
		}
	}
	return n;
}

int pol_tx_data(struct pol_core *c, struct pol_tx *tx, const char *p, size_t n)
{
	if (tx->flags & POL_TX_ENDED) /* misuse: the verdict is given, nothing more counts */
		return POL_DONE;
	while (n && tx->hstate != POL_H_BODY && !(tx->flags & (POL_TX_DONE | POL_TX_ERROR))) {
		size_t k = hdr_input(c, tx, p, n);

		p += k;
		n -= k;
	}
	if (tx->flags & (POL_TX_DONE | POL_TX_ERROR)) {
		c->st.skipped_bytes += n;
		return POL_DONE;
	}
	if (n)
		body_scan(c, tx, p, n);
	return tx->flags & (POL_TX_DONE | POL_TX_ERROR) ? POL_DONE : 0;
}

/* The message ended inside the header section. */
static void hdr_finish(struct pol_core *c, struct pol_tx *tx)
{
	switch (tx->hstate) {
	case POL_H_LINE:
	case POL_H_VALUE:
		if (tx->flags & POL_TX_HAVE)
			field_flush(c, tx);
		break;
	case POL_H_CR:
		tx->hbuf[0] = '\r';
		tx->hlen = 1;
		break;
	default:
		break;
	}
	if (!(tx->flags & (POL_TX_DONE | POL_TX_ERROR)))
		to_body(c, tx, 0); /* a partial line without a colon is body */
}

/* The next rule walked (matched, not after the deciding one) from index i on, or POL_NONE. */
static uint32_t next_walked(const struct pol_tx *tx, uint32_t i)
{
	const struct pol_rules *r = tx->rules;

	for (uint32_t k = i >> 6; k < r->words && i <= tx->best; k++) {
		uint64_t bits = tx->matched[k];

		if (k == i >> 6)
			bits &= ~0ull << (i & 63);
		if (bits) {
			uint32_t idx = k * 64 + (uint32_t)__builtin_ctzll(bits);

			return idx <= tx->best ? idx : POL_NONE;
		}
	}
	return POL_NONE;
}

struct walk {
	int32_t score;
	uint32_t n;
	uint32_t tags;
};

static void walk(const struct pol_tx *tx, struct walk *w)
{
	const struct pol_rules *r = tx->rules;

	memset(w, 0, sizeof(*w));
	for (uint32_t i = next_walked(tx, 0); i != POL_NONE; i = next_walked(tx, i + 1)) {
		w->n++;
		if (r->rule[i].action == POL_RA_SCORE)
			w->score += r->rule[i].score;
		else if (r->rule[i].action == POL_RA_TAG)
			w->tags++;
	}
}

static int stored(unsigned action)
{
	return action == POL_PASS || action == POL_ACCEPT || action == POL_QUARANTINE;
}

int pol_tx_end(struct pol_core *c, struct pol_tx *tx, struct pol_verdict *v)
{
	const struct pol_settings *st = &tx->rules->set;
	struct walk w;

	pol_verdict_clear(v);
	if (tx->flags & POL_TX_ENDED)
		return -EINVAL;
	if (!(tx->flags & (POL_TX_DONE | POL_TX_ERROR)) && tx->hstate != POL_H_BODY)
		hdr_finish(c, tx);
	if (!(tx->flags & (POL_TX_DONE | POL_TX_ERROR)) && (tx->flags & POL_TX_DIRTY)) {
		/* end of data: matches anchored at the end ($) are reported now */
		if (hs_reset_stream(tx->stream, 0, c->scratch, pol_tx_on_match, tx) != HS_SUCCESS) {
			c->st.hs_errors++;
			tx->flags |= POL_TX_ERROR;
		}
		tx->flags &= (uint8_t)~POL_TX_DIRTY;
	}
	tx->flags |= POL_TX_ENDED;
	if (tx->flags & POL_TX_ERROR) {
		pol_verdict_tempfail_error(v);
		tx->action = POL_TEMPFAIL;
		return 0;
	}
	walk(tx, &w);
	v->score = tx->score = w.score;
	v->nmatched = tx->nwalked = w.n;
	if (tx->best != POL_NONE) {
		pol_verdict_rule(v, tx->rules, tx->best, POL_STAGE_DATA);
	} else if (st->has_reject_score && w.score >= st->reject_score) {
		v->action = POL_REJECT;
		v->code = st->reject_code;
		v->enh = st->reject_enh;
		v->text = st->reject_text;
	} else if (st->has_tag_score && w.score >= st->tag_score) {
		tx->score_tagged = 1;
	}
	tx->action = v->action;
	v->tagged = stored(v->action) && (w.tags || tx->score_tagged);
	return 0;
}

/* ---- reporting ---- */

struct out {
	char *p;
	size_t cap;
	size_t len;
	size_t line; /* length of the current line */
	int full;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->full || o->cap - o->len <= n) {
		o->full = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
	o->line += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_eol(struct out *o)
{
	put(o, "\r\n", 2);
	o->line = 0;
}

static ssize_t out_end(struct out *o)
{
	if (o->full)
		return -ENOSPC;
	if (o->cap)
		o->p[o->len] = '\0';
	return o->cap ? (ssize_t)o->len : -ENOSPC;
}

/* Thousandths as a decimal: 7500 -> "7.5", -250 -> "-0.25", 3000 -> "3". */
static void put_score(struct out *o, int32_t s)
{
	char b[32];
	long long a = s < 0 ? -(long long)s : s;
	int n = snprintf(b, sizeof(b), "%s%lld.%03lld", s < 0 ? "-" : "", a / 1000, a % 1000);

	while (b[n - 1] == '0')
		n--;
	if (b[n - 1] == '.')
		n--;
	put(o, b, (size_t)n);
}

ssize_t pol_tx_headers(const struct pol_tx *tx, char *buf, size_t cap)
{
	const struct pol_rules *r = tx->rules;
	struct out o = {.p = buf, .cap = cap};
	uint32_t ids = 0;

	if (!(tx->flags & POL_TX_ENDED))
		return -EINVAL;
	if (cap)
		buf[0] = '\0';
	if (!stored(tx->action) || (tx->flags & POL_TX_ERROR))
		return out_end(&o);
	for (int pass = 0; pass < 2; pass++) { /* 0: the policy header; 1: custom tags */
		for (uint32_t i = next_walked(tx, 0); i != POL_NONE; i = next_walked(tx, i + 1)) {
			const struct pol_rule *ru = &r->rule[i];

			if (ru->action != POL_RA_TAG || (pass == 0) != (ru->tag == NULL))
				continue;
			if (pass == 1) {
				puts_(&o, ru->tag);
				put_eol(&o);
				continue;
			}
			if (ids++ == 0) {
				puts_(&o, r->set.policy_header);
				put(&o, ": ", 2);
			} else {
				put(&o, ",", 1);
				if (o.line + strlen(ru->id) > POL_FOLD_AT)
					put_eol(&o);
				put(&o, " ", 1);
			}
			puts_(&o, ru->id);
		}
		if (pass == 0 && ids)
			put_eol(&o);
	}
	if (tx->score_tagged) {
		puts_(&o, r->set.tag_header);
		put_eol(&o);
		puts_(&o, r->set.score_header);
		put(&o, ": ", 2);
		put_score(&o, tx->score);
		put_eol(&o);
	}
	return out_end(&o);
}

ssize_t pol_tx_rule_ids(const struct pol_tx *tx, char *buf, size_t cap)
{
	struct out o = {.p = buf, .cap = cap};

	if (cap)
		buf[0] = '\0';
	for (uint32_t i = next_walked(tx, 0); i != POL_NONE; i = next_walked(tx, i + 1)) {
		if (o.len)
			put(&o, ",", 1);
		puts_(&o, tx->rules->rule[i].id);
	}
	return out_end(&o);
}
