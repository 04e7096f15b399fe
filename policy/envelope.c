/* SPDX-License-Identifier: MIT */
/*
 * envelope.c - verdicts that must be given at once: the client address at connect, the
 * HELO/EHLO name, MAIL FROM (which begins a transaction) and each RCPT TO. Also the reply
 * defaults every verdict uses.
 *
 * Each value is scanned in block mode against its field's database; the matched rules are
 * walked in file order, below the terminal rule already in force (a rule after it cannot
 * matter): score and tag rules are kept, the first terminal rule decides. A reject or
 * tempfail refuses the command (the connection at connect), and what the value matched is
 * not kept; accept, discard and quarantine answer OK and are carried to end of data.
 *
 * Connection stage: struct pol_conn keeps the terminal rule and up to POL_CONN_CARRY
 * score/tag matches, tagged with the rule set's key; a transaction begun under another rule
 * set does not inherit them (their indices would mean other rules).
 *
 * Public functions: pol_action_name, pol_conn_client, pol_conn_helo, pol_tx_begin,
 * pol_tx_rcpt. A Hyperscan failure gives a 4xx "try again" verdict and -EIO.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy-int.h"

struct pol_reply_default {
	uint16_t code;
	const char *enh;
	const char *text;
};

/* [stage][0 reject, 1 tempfail] */
static const struct pol_reply_default pol_defaults[3][2] = {
    [POL_STAGE_CONNECT] = {{554, "5.7.1", "Connection refused by policy"},
                           {421, "4.7.0", "Try again later"}},
    [POL_STAGE_COMMAND] = {{550, "5.7.1", "Rejected by policy"}, {450, "4.7.1", "Try again later"}},
    [POL_STAGE_DATA] = {{550, "5.7.1", "Message rejected by policy"},
                        {451, "4.7.1", "Try again later"}},
};

const char *pol_action_name(enum pol_action a)
{
	static const char *const names[] = {"pass",     "accept",  "reject",
	                                    "tempfail", "discard", "quarantine"};

	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "unknown";
}

void pol_verdict_clear(struct pol_verdict *v)
{
	memset(v, 0, sizeof(*v));
}

static void verdict_default(struct pol_verdict *v, enum pol_stage st, int tempfail)
{
	const struct pol_reply_default *d = &pol_defaults[st][tempfail];

	v->action = tempfail ? POL_TEMPFAIL : POL_REJECT;
	v->code = d->code;
	v->enh = d->enh;
	v->text = d->text;
}

void pol_verdict_rule(struct pol_verdict *v, const struct pol_rules *r, uint32_t idx,
                      enum pol_stage st)
{
	const struct pol_rule *ru = &r->rule[idx];

	v->action = ru->action;
	v->rule = ru->id;
	if (ru->action == POL_RA_REJECT || ru->action == POL_RA_TEMPFAIL) {
		verdict_default(v, st, ru->action == POL_RA_TEMPFAIL);
		if (ru->code)
			v->code = ru->code;
		if (ru->enh)
			v->enh = ru->enh;
		if (ru->text)
			v->text = ru->text;
	}
}

void pol_verdict_tempfail_error(struct pol_verdict *v)
{
	v->action = POL_TEMPFAIL;
	v->code = 451;
	v->enh = "4.3.0";
	v->text = "Policy engine error, try again later";
}

static int ev_on_match(unsigned int id, unsigned long long from, unsigned long long to,
                       unsigned int flags, void *ctx)
{
	struct pol_core *c = ctx;

	(void)from, (void)to, (void)flags;
	c->st.matches++;
	if (c->nev < c->ev_cap) /* always: SINGLEMATCH, ev_cap >= rules in the database */
		c->ev[c->nev++] = id;
	return 0;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static void sort_ids(uint32_t *v, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		uint32_t x = v[i], j = i;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/*
 * Scan one value of field f: c->ev[0..nev) are the rules it matched, ascending. Skipped
 * when the database's first rule comes after best. 0 or -EIO.
 */
static int env_scan(struct pol_core *c, const struct pol_rules *r, enum pol_field f, const char *s,
                    size_t n, uint32_t best)
{
	const struct pol_db *db;

	c->nev = 0;
	c->st.values++;
	if (r->fdb[f] < 0)
		return 0;
	db = &r->db[r->fdb[f]];
	if (db->ids[0] >= best)
		return 0;
	if (n > POL_ENV_MAX)
		n = POL_ENV_MAX;
	if (!n) {
		s = pol_zero_pad;
	} else if (!pol_tail_safe(s, n)) {
		memcpy(c->bounce, s, n);
		s = c->bounce;
	}
	c->st.scan_calls++;
	c->st.scan_bytes += n;
	if (hs_scan(db->hs, s, (unsigned)n, 0, c->scratch, ev_on_match, c) != HS_SUCCESS) {
		c->st.hs_errors++;
		c->nev = 0;
		return -EIO;
	}
	if (c->nev < 32)
		sort_ids(c->ev, c->nev);
	else
		qsort(c->ev, c->nev, sizeof(*c->ev), u32_cmp);
	return 0;
}

/*
 * Walk c->ev below best: returns the first terminal rule, or POL_NONE. Afterwards
 * c->ev[0..nev) holds the score/tag rules before it, the ones to keep.
 */
static uint32_t env_walk(struct pol_core *c, const struct pol_rules *r, uint32_t best)
{
	for (uint32_t i = 0; i < c->nev; i++) {
		uint32_t idx = c->ev[i];

		if (idx >= best || pol_ra_terminal(r->rule[idx].action)) {
			c->nev = i;
			return idx < best ? idx : POL_NONE;
		}
	}
	return POL_NONE;
}

static int refusing(const struct pol_rules *r, uint32_t idx)
{
	return idx != POL_NONE &&
	       (r->rule[idx].action == POL_RA_REJECT || r->rule[idx].action == POL_RA_TEMPFAIL);
}

static void conn_carry(struct pol_core *c, struct pol_conn *conn)
{
	for (uint32_t i = 0; i < c->nev; i++) {
		if (conn->ncarry < POL_CONN_CARRY)
			conn->carry[conn->ncarry++] = c->ev[i];
		else
			c->st.carry_overflow++;
	}
}

/* The address as text: dotted quad (also for v4-mapped IPv6) or RFC 5952 IPv6. */
static int addr_text(const struct sockaddr *sa, char *buf, size_t cap)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		return inet_ntop(AF_INET, &in->sin_addr, buf, (socklen_t)cap) ? 0 : -EINVAL;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			return inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], buf, (socklen_t)cap)
			           ? 0
			           : -EINVAL;
		return inet_ntop(AF_INET6, &in6->sin6_addr, buf, (socklen_t)cap) ? 0 : -EINVAL;
	}
	return -EAFNOSUPPORT;
}

int pol_conn_client(struct pol_core *c, struct pol_conn *conn, const struct sockaddr *sa,
                    struct pol_verdict *v)
{
	const struct pol_rules *r = c->rules;
	char buf[INET6_ADDRSTRLEN];
	uint32_t d;
	int rc;

	pol_verdict_clear(v);
	memset(conn, 0, sizeof(*conn));
	conn->rules_key = r->key64;
	conn->best = conn->client_best = POL_NONE;
	if ((rc = addr_text(sa, buf, sizeof(buf))))
		return rc;
	if (env_scan(c, r, POL_F_CLIENT, buf, strlen(buf), POL_NONE)) {
		pol_verdict_tempfail_error(v);
		v->code = 421;
		return -EIO;
	}
	d = env_walk(c, r, POL_NONE);
	if (refusing(r, d)) {
		pol_verdict_rule(v, r, d, POL_STAGE_CONNECT);
		conn->refused = r->rule[d].action == POL_RA_REJECT ? 1 : 2;
		return 0;
	}
	conn_carry(c, conn);
	conn->nclient = conn->ncarry;
	if (d != POL_NONE) {
		pol_verdict_rule(v, r, d, POL_STAGE_CONNECT);
		conn->best = conn->client_best = d;
	}
	return 0;
}

/* A connection refused at connect stays refused. */
static int conn_refused(const struct pol_conn *conn, struct pol_verdict *v)
{
	if (!conn || !conn->refused)
		return 0;
	verdict_default(v, POL_STAGE_CONNECT, conn->refused == 2);
	return 1;
}

int pol_conn_helo(struct pol_core *c, struct pol_conn *conn, const char *name, size_t len,
                  struct pol_verdict *v)
{
	const struct pol_rules *r = c->rules;
	uint32_t d;

	pol_verdict_clear(v);
	if (conn_refused(conn, v))
		return 0;
	if (conn->rules_key != r->key64) { /* no connect call, or another rule set since */
		memset(conn, 0, sizeof(*conn));
		conn->rules_key = r->key64;
		conn->client_best = POL_NONE;
	}
	conn->ncarry = conn->nclient; /* a new HELO replaces the previous one's matches */
	conn->best = conn->client_best;
	if (env_scan(c, r, POL_F_HELO, name, len, conn->best)) {
		pol_verdict_tempfail_error(v);
		return -EIO;
	}
	d = env_walk(c, r, conn->best);
	if (refusing(r, d)) {
		pol_verdict_rule(v, r, d, POL_STAGE_COMMAND);
		return 0;
	}
	conn_carry(c, conn);
	if (d != POL_NONE) {
		pol_verdict_rule(v, r, d, POL_STAGE_COMMAND);
		conn->best = d;
	}
	return 0;
}

/* Keep what a MAIL/RCPT value matched (c->ev and the decider d) in the transaction. */
static void tx_keep(struct pol_core *c, struct pol_tx *tx, uint32_t d, struct pol_verdict *v)
{
	for (uint32_t i = 0; i < c->nev; i++)
		pol_bit_set(tx->matched, c->ev[i]);
	if (d != POL_NONE) {
		pol_bit_set(tx->matched, d);
		tx->best = d;
		pol_verdict_rule(v, tx->rules, d, POL_STAGE_COMMAND);
	}
	pol_tx_check_done(tx);
}

static void tx_init(struct pol_tx *tx, const struct pol_conn *conn)
{
	const struct pol_rules *r = tx->rules;

	memset(tx->matched, 0, (r->words ? r->words : 1) * sizeof(uint64_t));
	tx->hlen = tx->name_len = tx->value_off = 0;
	tx->best = POL_NONE;
	tx->score = 0;
	tx->nwalked = 0;
	tx->hstate = POL_H_LINE;
	tx->flags = 0;
	tx->action = POL_PASS;
	tx->score_tagged = 0;
	if (!conn || conn->rules_key != r->key64)
		return;
	for (unsigned i = 0; i < conn->ncarry && i < POL_CONN_CARRY; i++)
		pol_bit_set(tx->matched, conn->carry[i]);
	if (conn->best < r->nrules) {
		tx->best = conn->best;
		pol_bit_set(tx->matched, conn->best);
	}
}

int pol_tx_begin(struct pol_core *c, const struct pol_conn *conn, const char *mail, size_t len,
                 struct pol_tx **txp, struct pol_verdict *v)
{
	struct pol_tx *tx;
	uint32_t d;

	*txp = NULL;
	pol_verdict_clear(v);
	if (conn_refused(conn, v))
		return 0;
	if (!(tx = pol_pool_pop(c))) {
		c->st.tx_busy++;
		v->action = POL_TEMPFAIL;
		v->code = 451;
		v->enh = "4.3.2";
		v->text = "Too many transactions in progress, try again later";
		return -EBUSY;
	}
	c->st.tx++;
	tx_init(tx, conn);
	if (env_scan(c, tx->rules, POL_F_MAIL, mail, len, tx->best)) {
		pol_tx_release(c, tx);
		pol_verdict_tempfail_error(v);
		return -EIO;
	}
	d = env_walk(c, tx->rules, tx->best);
	if (refusing(tx->rules, d)) {
		pol_verdict_rule(v, tx->rules, d, POL_STAGE_COMMAND);
		pol_tx_release(c, tx);
		return 0;
	}
	tx_keep(c, tx, d, v);
	*txp = tx;
	return 0;
}

int pol_tx_rcpt(struct pol_core *c, struct pol_tx *tx, const char *rcpt, size_t len,
                struct pol_verdict *v)
{
	uint32_t d;

	pol_verdict_clear(v);
	if (env_scan(c, tx->rules, POL_F_RCPT, rcpt, len, tx->best)) {
		pol_verdict_tempfail_error(v);
		return -EIO;
	}
	d = env_walk(c, tx->rules, tx->best);
	if (refusing(tx->rules, d)) {
		pol_verdict_rule(v, tx->rules, d, POL_STAGE_COMMAND);
		return 0;
	}
	tx_keep(c, tx, d, v);
	return 0;
}
