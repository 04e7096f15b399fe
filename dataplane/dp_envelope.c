/* SPDX-License-Identifier: MIT */
/*
 * dp_envelope.c - envelope copies and the transaction log line (see dp_envelope.h).
 *
 * Layout of c->env (env_cap bytes):
 *   [0, helo_len)            HELO/EHLO name (kept across transactions)
 *   [env_tx, env_used)       reverse-path, its parameters, recipients and their parameters
 *   [env_cap - 16*nrcpt, env_cap)  struct dp_rcpt_rec, recipient i at env_cap - 16*(i+1)
 * Size checks are subtractions that cannot overflow: env_used <= env_cap - 16*nrcpt always.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dataplane/dp_config.h"
#include "dataplane/dp_envelope.h"
#include "dataplane/dp_worker.h"

static struct dp_rcpt_rec *rec(struct dp_conn *c, uint32_t i)
{
	return (struct dp_rcpt_rec *)(c->env + c->env_cap) - (i + 1);
}

static uint32_t room(const struct dp_conn *c)
{
	return c->env_cap - (uint32_t)sizeof(struct dp_rcpt_rec) * c->nrcpt - c->env_used;
}

/* Append n bytes; the caller checked room(). Returns the offset. */
static uint32_t put(struct dp_conn *c, const char *p, size_t n)
{
	uint32_t off = c->env_used;

	memcpy(c->env + off, p, n);
	c->env_used += (uint32_t)n;
	return off;
}

void dp_env_reset(struct dp_conn *c)
{
	c->env_used = c->env_tx;
	c->nrcpt = 0;
	c->from_len = c->fparam_len = 0;
	c->msg_size = 0;
	c->data_bytes = 0;
	c->t_data = 0;
	c->msg = NULL;
	c->flags &= ~(DP_C_TX_SKIP | DP_C_TXN);
	c->tx_code = 0;
	c->pol_action = POL_PASS;
}

void dp_env_helo(struct dp_conn *c, const struct smtp_event *ev)
{
	size_t n = ev->len;

	if (n > c->env_cap / 4)
		n = c->env_cap / 4; /* a name that long is kept truncated, for the log */
	c->env_used = 0;
	c->env_tx = 0;
	dp_env_reset(c);
	put(c, ev->str, n);
	c->helo_len = (uint32_t)n;
	c->env_tx = c->env_used;
	c->ehlo = ev->arg != 0;
}

void dp_env_mail(struct dp_conn *c, const struct smtp_event *ev)
{
	size_t n = ev->len, pn = ev->params_len;

	dp_env_reset(c);
	/* The engine bounds a command line by max_line, which is < envelope_size / 2. */
	if (n + pn > room(c)) {
		n = n < room(c) ? n : room(c);
		pn = 0;
	}
	c->from_off = put(c, ev->str, n);
	c->from_len = (uint32_t)n;
	c->fparam_off = put(c, ev->params ? ev->params : "", pn);
	c->fparam_len = (uint32_t)pn;
	c->flags |= DP_C_TXN;
}

int dp_env_rcpt(struct dp_worker *w, struct dp_conn *c, const struct smtp_event *ev)
{
	size_t pn = ev->params ? ev->params_len : 0;
	struct dp_rcpt_rec *r;

	if (c->nrcpt >= w->scratch_cap || room(c) < sizeof(*r) ||
	    room(c) - sizeof(*r) < ev->len + pn)
		return -ENOSPC;
	r = rec(c, c->nrcpt);
	r->len = (uint32_t)ev->len;
	r->off = put(c, ev->str, ev->len);
	r->plen = (uint32_t)pn;
	r->poff = put(c, pn ? ev->params : "", pn);
	c->nrcpt++;
	return 0;
}

void dp_env_build(struct dp_worker *w, struct dp_conn *c, struct spool_envelope *env)
{
	memset(env, 0, sizeof(*env));
	memcpy(&env->client, &c->peer, sizeof(env->client));
	env->client_name.p = "";
	env->helo.p = c->env;
	env->helo.n = c->helo_len;
	env->ehlo = c->ehlo;
	env->mail_from.p = c->env + c->from_off;
	env->mail_from.n = c->from_len;
	env->mail_params.p = c->env + c->fparam_off;
	env->mail_params.n = c->fparam_len;
	for (uint32_t i = 0; i < c->nrcpt; i++) {
		const struct dp_rcpt_rec *r = rec(c, i);

		w->scratch_rcpt[i].p = c->env + r->off;
		w->scratch_rcpt[i].n = r->len;
		w->scratch_param[i].p = c->env + r->poff;
		w->scratch_param[i].n = r->plen;
	}
	env->nrcpt = c->nrcpt;
	env->rcpt = w->scratch_rcpt;
	env->rcpt_params = w->scratch_param;
	env->verdict.p = "accept";
	env->verdict.n = 6;
	env->tags.p = "";
	env->recv_time_us = w->real_us;
}

/*
 * "tx client=1.2.3.4:5678 helo=name from=<a@b> rcpts=2 size=1234 id=QID verdict=queued ms=3"
 * Strings come from the client: control bytes and spaces are not expected there (the engine
 * refuses them in paths) but the HELO name is cut at the first byte that would break the line.
 */
void dp_env_log(struct dp_worker *w, struct dp_conn *c, const char *queue_id, const char *verdict)
{
	uint32_t helo = 0;
	uint64_t ms = w->now_ms - c->t_tx;

	while (helo < c->helo_len && (unsigned char)c->env[helo] > ' ' &&
	       (unsigned char)c->env[helo] < 127)
		helo++;
	dp_log_printf(&w->log, w->real_us, DP_LOG_INFO,
	              "tx client=%s helo=%.*s from=<%.*s> rcpts=%u size=%llu id=%s verdict=%s "
	              "ms=%llu%s%s",
	              c->peer_text, (int)helo, c->env, (int)c->from_len, c->env + c->from_off,
	              c->nrcpt, (unsigned long long)c->msg_size, queue_id ? queue_id : "-", verdict,
	              (unsigned long long)ms, w->pol ? " policy=" : "",
	              w->pol ? pol_action_name((enum pol_action)c->pol_action) : "");
}

int dp_env_last_rcpt(struct dp_conn *c, const char **p, size_t *n)
{
	const struct dp_rcpt_rec *r;

	if (c->nrcpt == 0)
		return -ENOENT;
	r = rec(c, c->nrcpt - 1);
	*p = c->env + r->off;
	*n = r->len;
	return 0;
}

/* The last recipient's strings are the last ones put: give their room back. */
void dp_env_rcpt_drop(struct dp_conn *c)
{
	if (c->nrcpt == 0)
		return;
	c->env_used = rec(c, c->nrcpt - 1)->off;
	c->nrcpt--;
}

/* "policy client=... from=<..> action=reject rule=ID score=1.500 rules=a,b" */
void dp_env_log_policy(struct dp_worker *w, struct dp_conn *c, const struct pol_tx *tx,
                       const struct pol_verdict *v)
{
	char ids[512];
	int32_t sc = v->score < 0 ? -v->score : v->score;

	if (pol_tx_rule_ids(tx, ids, sizeof(ids)) < 0)
		snprintf(ids, sizeof(ids), "(more than fit the line)");
	dp_log_printf(&w->log, w->real_us, DP_LOG_INFO,
	              "policy client=%s from=<%.*s> action=%s rule=%s score=%s%d.%03d rules=%s",
	              c->peer_text, (int)c->from_len, c->env + c->from_off,
	              pol_action_name((enum pol_action)v->action), v->rule ? v->rule : "-",
	              v->score < 0 ? "-" : "", sc / 1000, sc % 1000, ids[0] ? ids : "-");
}
