/* SPDX-License-Identifier: MIT */
/*
 * commands.c - the SMTP command table and its handlers.
 *
 * smtp_command() gets one complete command line without its CRLF, splits the verb
 * (case-insensitive) from the argument, finds the verb in smtp_cmds[] and runs its handler.
 * Each handler checks the state and the syntax, emits its event (asking for a decision when
 * cfg.decide says so: the session then waits in SMTP_WAIT and smtp_resolve() sends the
 * reply), and otherwise replies at once.
 *
 * Table flags encode the rules of RFC 2920 3.1: SMTP_CMD_LAST marks the commands that may only
 * be the last of a pipelined group (EHLO, DATA, VRFY, EXPN, TURN, QUIT, NOOP, and HELO, HELP
 * and the commands we do not offer): their reply is a synchronisation point and sets
 * io->flush. SMTP_CMD_HELO marks commands refused with 503 before HELO/EHLO.
 *
 * Error contract: every problem is a reply (see the canned replies in reply.c); replies marked
 * as errors count towards cfg.max_errors (smtp_error()).
 */
#include <string.h>

#include "parser/addr.h"
#include "parser/params.h"
#include "parser/session-int.h"

enum smtp_cmd_flag {
	SMTP_CMD_LAST = 1u << 0, /* RFC 2920: last in a pipelined group; flush after */
	SMTP_CMD_HELO = 1u << 1, /* needs HELO/EHLO first */
};

typedef void (*smtp_cmd_fn)(struct smtp_ctx *c, const char *arg, size_t alen);

struct smtp_cmd {
	const char *name;
	uint8_t len;
	uint8_t flags;
	smtp_cmd_fn fn;
};

/* Put the session in SMTP_WAIT for a decision on the event just emitted. */
static void wait_for(struct smtp_ctx *c, enum smtp_event_type ev)
{
	c->s->resume = c->s->state;
	c->s->state = SMTP_WAIT;
	c->s->wait_for = (uint8_t)ev;
	c->io->flush = 1;
}

static int has_word(const char *arg, size_t alen, const char *word, size_t wlen)
{
	return alen >= wlen && strncasecmp(arg, word, wlen) == 0;
}

static void cmd_hello(struct smtp_ctx *c, const char *arg, size_t alen, int ehlo)
{
	struct smtp_session *s = c->s;
	struct smtp_event *ev;
	const char *sp = memchr(arg, ' ', alen);
	size_t nlen = sp ? (size_t)(sp - arg) : alen;

	if (nlen == 0 || nlen > SMTP_HOSTNAME_MAX) {
		smtp_error(c, SMTP_R_HELO_SYNTAX);
		return;
	}
	for (size_t i = 0; i < nlen; i++) {
		if ((unsigned char)arg[i] < 33 || (unsigned char)arg[i] > 126) {
			smtp_error(c, SMTP_R_HELO_SYNTAX);
			return;
		}
	}
	smtp_tx_abort(c);
	s->ehlo = (uint8_t)ehlo;
	s->state = SMTP_GREETED;
	ev = smtp_ev_push(c->io, SMTP_EV_HELO);
	ev->str = arg;
	ev->len = nlen;
	ev->arg = (uint32_t)ehlo;
	if (c->cfg->decide & SMTP_DECIDE_HELO) {
		wait_for(c, SMTP_EV_HELO);
		return;
	}
	if (ehlo)
		smtp_reply_ehlo(c);
	else
		smtp_reply_helo(c);
	s->state = SMTP_READY;
}

static void cmd_helo(struct smtp_ctx *c, const char *arg, size_t alen)
{
	cmd_hello(c, arg, alen, 0);
}

static void cmd_ehlo(struct smtp_ctx *c, const char *arg, size_t alen)
{
	cmd_hello(c, arg, alen, 1);
}

static enum smtp_rid path_error(int err, int mail)
{
	switch (err) {
	case SMTP_PATH_TOO_LONG:
		return mail ? SMTP_R_SENDER_TOO_LONG : SMTP_R_RCPT_TOO_LONG;
	case SMTP_PATH_NULL:
		return SMTP_R_NULL_RCPT;
	default:
		return mail ? SMTP_R_BAD_SENDER : SMTP_R_BAD_RCPT;
	}
}

/* Skip the spaces some clients put after "FROM:" / "TO:" (RFC 5321 has none; we tolerate). */
static const char *skip_sp(const char *p, size_t *n)
{
	while (*n > 0 && *p == ' ')
		p++, (*n)--;
	return p;
}

static void cmd_mail(struct smtp_ctx *c, const char *arg, size_t alen)
{
	struct smtp_session *s = c->s;
	struct smtp_mail_params mp;
	struct smtp_path path;
	struct smtp_event *ev;
	enum smtp_rid rid;
	const char *p, *par;
	size_t n, plen;
	int err;

	if (s->flags & SMTP_SF_TX)
		return smtp_error(c, SMTP_R_NESTED_MAIL);
	if (!has_word(arg, alen, "FROM:", 5))
		return smtp_error(c, SMTP_R_MAIL_SYNTAX);
	n = alen - 5;
	p = skip_sp(arg + 5, &n);
	err = smtp_path_parse(p, n, SMTP_PATH_NULL_OK, &path);
	if (err)
		return smtp_error(c, path_error(err, 1));
	par = p + path.used;
	plen = n - path.used;
	rid = smtp_mail_params(par, plen, c->cfg->caps, &mp);
	if (rid != SMTP_R_NONE)
		return smtp_error(c, rid);
	if (path.utf8 && !mp.utf8)
		return smtp_error(c, SMTP_R_NEED_SMTPUTF8);
	if (c->cfg->max_message_size && mp.size > c->cfg->max_message_size)
		return smtp_reply_id(c, SMTP_R_SIZE_EXCEEDED);
	smtp_tx_clear(s);
	s->flags |= SMTP_SF_TX;
	s->body = mp.body;
	s->utf8 = mp.utf8;
	s->declared = mp.size;
	ev = smtp_ev_push(c->io, SMTP_EV_MAIL);
	ev->str = path.mbox;
	ev->len = path.mbox_len;
	par = skip_sp(par, &plen);
	ev->params = par;
	ev->params_len = plen;
	ev->body = mp.body;
	ev->utf8 = mp.utf8;
	ev->size = mp.size;
	if (c->cfg->decide & SMTP_DECIDE_MAIL)
		return wait_for(c, SMTP_EV_MAIL);
	s->state = SMTP_MAIL;
	smtp_reply_id(c, SMTP_R_MAIL_OK);
}

static void cmd_rcpt(struct smtp_ctx *c, const char *arg, size_t alen)
{
	struct smtp_session *s = c->s;
	struct smtp_path path;
	struct smtp_event *ev;
	enum smtp_rid rid;
	const char *p, *par;
	size_t n, plen;
	int err;

	if (!(s->flags & SMTP_SF_TX))
		return smtp_error(c, SMTP_R_NEED_MAIL);
	if (s->flags & SMTP_SF_BDAT)
		return smtp_error(c, SMTP_R_RCPT_AFTER_BDAT);
	s->flags |= SMTP_SF_RCPT_TRIED;
	if (!has_word(arg, alen, "TO:", 3))
		return smtp_error(c, SMTP_R_RCPT_SYNTAX);
	n = alen - 3;
	p = skip_sp(arg + 3, &n);
	err = smtp_path_parse(p, n, SMTP_PATH_POSTMASTER_OK, &path);
	if (err)
		return smtp_error(c, path_error(err, 0));
	par = p + path.used;
	plen = n - path.used;
	rid = smtp_rcpt_params(par, plen, c->cfg->caps);
	if (rid != SMTP_R_NONE)
		return smtp_error(c, rid);
	if (path.utf8 && !s->utf8)
		return smtp_error(c, SMTP_R_NEED_SMTPUTF8);
	if (c->cfg->max_recipients && s->nrcpt >= c->cfg->max_recipients)
		return smtp_reply_id(c, SMTP_R_TOO_MANY_RCPT);
	ev = smtp_ev_push(c->io, SMTP_EV_RCPT);
	ev->str = path.mbox;
	ev->len = path.mbox_len;
	par = skip_sp(par, &plen);
	ev->params = par;
	ev->params_len = plen;
	ev->arg = path.postmaster;
	if ((c->cfg->decide & SMTP_DECIDE_RCPT) && !path.postmaster)
		return wait_for(c, SMTP_EV_RCPT);
	s->nrcpt++;
	s->state = SMTP_RCPT;
	smtp_reply_id(c, SMTP_R_RCPT_OK);
}

/* Why a body (DATA or BDAT) cannot start now, or SMTP_R_NONE. */
static enum smtp_rid body_refusal(const struct smtp_session *s)
{
	if (s->state == SMTP_GREETED)
		return SMTP_R_NEED_HELO;
	if (!(s->flags & SMTP_SF_TX))
		return SMTP_R_NEED_MAIL;
	if (s->nrcpt == 0)
		return (s->flags & SMTP_SF_RCPT_TRIED) ? SMTP_R_NO_VALID_RCPT : SMTP_R_NEED_RCPT;
	return SMTP_R_NONE;
}

static void cmd_data(struct smtp_ctx *c, const char *arg, size_t alen)
{
	enum smtp_rid rid;

	(void)arg;
	if (alen)
		return smtp_error(c, SMTP_R_NO_ARGS);
	rid = body_refusal(c->s);
	if (rid == SMTP_R_NONE && (c->s->flags & SMTP_SF_BDAT))
		rid = SMTP_R_DATA_AFTER_BDAT;
	if (rid == SMTP_R_NONE && c->s->body == SMTP_BODY_BINARYMIME)
		rid = SMTP_R_BINARY_NEEDS_BDAT;
	if (rid != SMTP_R_NONE)
		return smtp_error(c, rid);
	smtp_data_begin(c);
}

/*
 * BDAT size [LAST] (RFC 3030). Once the size is known the chunk is always consumed, even when
 * the command is refused, so chunk bytes are never read as commands. Without a size the
 * framing is lost: 501 and close.
 */
static void cmd_bdat(struct smtp_ctx *c, const char *arg, size_t alen)
{
	uint64_t size;
	size_t d = smtp_parse_u64(arg, alen, &size), rest;
	int last = 0;
	enum smtp_rid rid;

	if (d == 0 || size == UINT64_MAX)
		goto bad;
	rest = alen - d;
	arg = skip_sp(arg + d, &rest);
	if (rest == alen - d && rest > 0)
		goto bad; /* no space after the size */
	if (rest == 4 && strncasecmp(arg, "LAST", 4) == 0)
		last = 1;
	else if (rest != 0)
		goto bad;
	if (!smtp_has_cap(c->cfg, SMTP_CAP_CHUNKING))
		rid = SMTP_R_BDAT_NOT_AVAIL;
	else
		rid = body_refusal(c->s);
	smtp_bdat_begin(c, size, last, rid);
	return;
bad:
	smtp_error(c, SMTP_R_BDAT_SYNTAX);
	if (c->s->state != SMTP_CLOSED)
		smtp_close(c, 501);
}

static void cmd_rset(struct smtp_ctx *c, const char *arg, size_t alen)
{
	(void)arg;
	if (alen)
		return smtp_error(c, SMTP_R_NO_ARGS);
	smtp_tx_abort(c);
	if (c->s->state != SMTP_GREETED)
		c->s->state = SMTP_READY;
	smtp_reply_id(c, SMTP_R_OK);
}

static void cmd_noop(struct smtp_ctx *c, const char *arg, size_t alen)
{
	(void)arg, (void)alen;
	smtp_reply_id(c, SMTP_R_OK);
}

static void cmd_quit(struct smtp_ctx *c, const char *arg, size_t alen)
{
	(void)arg;
	if (alen)
		return smtp_error(c, SMTP_R_NO_ARGS);
	smtp_reply_id(c, SMTP_R_BYE);
	smtp_close(c, 221);
}

static void vrfy_expn(struct smtp_ctx *c, size_t alen, unsigned code, enum smtp_rid r252,
                      enum smtp_rid r502, enum smtp_rid r550)
{
	if (alen == 0)
		return smtp_error(c, SMTP_R_VRFY_SYNTAX);
	if (code == 252)
		smtp_reply_id(c, r252);
	else if (code == 550)
		smtp_error(c, r550);
	else
		smtp_error(c, r502);
}

static void cmd_vrfy(struct smtp_ctx *c, const char *arg, size_t alen)
{
	(void)arg;
	vrfy_expn(c, alen, c->cfg->vrfy_code, SMTP_R_VRFY_252, SMTP_R_VRFY_502, SMTP_R_VRFY_550);
}

static void cmd_expn(struct smtp_ctx *c, const char *arg, size_t alen)
{
	(void)arg;
	vrfy_expn(c, alen, c->cfg->expn_code, SMTP_R_EXPN_252, SMTP_R_EXPN_502, SMTP_R_EXPN_550);
}

static const struct smtp_cmd *cmd_find(const char *verb, size_t vlen);

static void cmd_help(struct smtp_ctx *c, const char *arg, size_t alen)
{
	if (alen == 0 || cmd_find(arg, alen) != NULL)
		smtp_reply_id(c, SMTP_R_HELP);
	else
		smtp_error(c, SMTP_R_HELP_TOPIC);
}

/* STARTTLS, AUTH, ETRN, ATRN: recognised, not offered. */
static void cmd_not_avail(struct smtp_ctx *c, const char *arg, size_t alen)
{
	(void)arg, (void)alen;
	smtp_error(c, SMTP_R_NOT_AVAIL);
}

/* SAML, SEND, SOML, TURN: obsolete (RFC 5321 F). */
static void cmd_obsolete(struct smtp_ctx *c, const char *arg, size_t alen)
{
	(void)arg, (void)alen;
	smtp_error(c, SMTP_R_OBSOLETE);
}

static const struct smtp_cmd smtp_cmds[] = {
    {"EHLO", 4, SMTP_CMD_LAST, cmd_ehlo},
    {"HELO", 4, SMTP_CMD_LAST, cmd_helo},
    {"MAIL", 4, SMTP_CMD_HELO, cmd_mail},
    {"RCPT", 4, SMTP_CMD_HELO, cmd_rcpt},
    {"DATA", 4, SMTP_CMD_LAST | SMTP_CMD_HELO, cmd_data},
    {"BDAT", 4, 0, cmd_bdat}, /* checks HELO itself: its chunk must be consumed */
    {"RSET", 4, 0, cmd_rset},
    {"NOOP", 4, SMTP_CMD_LAST, cmd_noop},
    {"QUIT", 4, SMTP_CMD_LAST, cmd_quit},
    {"VRFY", 4, SMTP_CMD_LAST, cmd_vrfy},
    {"EXPN", 4, SMTP_CMD_LAST, cmd_expn},
    {"HELP", 4, SMTP_CMD_LAST, cmd_help},
    {"STARTTLS", 8, SMTP_CMD_LAST, cmd_not_avail},
    {"AUTH", 4, SMTP_CMD_LAST, cmd_not_avail},
    {"ETRN", 4, SMTP_CMD_LAST, cmd_not_avail},
    {"ATRN", 4, SMTP_CMD_LAST, cmd_not_avail},
    {"SAML", 4, SMTP_CMD_LAST, cmd_obsolete},
    {"SEND", 4, SMTP_CMD_LAST, cmd_obsolete},
    {"SOML", 4, SMTP_CMD_LAST, cmd_obsolete},
    {"TURN", 4, SMTP_CMD_LAST, cmd_obsolete},
};

static const struct smtp_cmd *cmd_find(const char *verb, size_t vlen)
{
	for (size_t i = 0; i < sizeof(smtp_cmds) / sizeof(smtp_cmds[0]); i++) {
		const struct smtp_cmd *cmd = &smtp_cmds[i];

		if (cmd->len == vlen && strncasecmp(cmd->name, verb, vlen) == 0)
			return cmd;
	}
	return NULL;
}

void smtp_command(struct smtp_ctx *c, const char *line, size_t len)
{
	const struct smtp_cmd *cmd;
	const char *sp, *arg;
	size_t vlen, alen;

	if (memchr(line, '\r', len) != NULL || memchr(line, '\0', len) != NULL)
		return smtp_error(c, SMTP_R_BAD_CHAR);
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	sp = memchr(line, ' ', len);
	vlen = sp ? (size_t)(sp - line) : len;
	cmd = cmd_find(line, vlen);
	/* Refused at connect (554): only QUIT works (RFC 5321 3.1); BDAT still consumes its
	 * chunk (its own HELO check answers 503, the session never leaves SMTP_GREETED). */
	if ((c->s->flags & SMTP_SF_REFUSED) &&
	    (cmd == NULL || (cmd->fn != cmd_quit && cmd->fn != cmd_bdat))) {
		smtp_error(c, SMTP_R_REFUSED);
		c->io->flush = 1;
		return;
	}
	if (cmd == NULL)
		return smtp_error(c, SMTP_R_UNKNOWN);
	if ((cmd->flags & SMTP_CMD_HELO) && c->s->state == SMTP_GREETED)
		return smtp_error(c, SMTP_R_NEED_HELO);
	alen = len - vlen;
	arg = skip_sp(line + vlen, &alen);
	cmd->fn(c, arg, alen);
	if (cmd->flags & SMTP_CMD_LAST)
		c->io->flush = 1;
}
