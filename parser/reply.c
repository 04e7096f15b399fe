/* SPDX-License-Identifier: MIT */
/*
 * reply.c - SMTP replies: the writer, the canned replies, EHLO/HELO/greeting, verdicts.
 *
 * smtp_reply() appends one reply to io->reply: text lines separated by '\n' become a
 * multi-line reply ("250-..." lines, then "250 ..."), each line at most 512 octets with its
 * CRLF (RFC 5321 4.5.3.1.5) and the whole reply at most SMTP_REPLY_MAX octets (surplus lines
 * are dropped, the last written line becomes the final one). Octets other than printable ASCII
 * are written as '?', so an embedder's text can never break the framing.
 *
 * Enhanced status codes (RFC 3463, RFC 2034): when SMTP_CAP_ENHANCEDSTATUSCODES is in
 * cfg.caps, every 2xx/4xx/5xx reply carries one on every line, whether the client said EHLO
 * or HELO (consistent, and what common servers do), except the 220 greeting and the 250 reply
 * to HELO/EHLO, which RFC 2034 exempts. Without the capability no reply carries one.
 *
 * Who owns what: the reply buffer is the embedder's; the engine checks for SMTP_REPLY_MAX free
 * octets before each unit of work, and the writer never writes past io->reply_cap (a reply
 * that does not fit is dropped whole).
 */
#include <stdio.h>
#include <string.h>

#include "parser/session-int.h"

#define SMTP_REPLY_LINE_MAX 512 /* octets incl. CRLF */

enum { RF_ERR = 1u << 0, RF_HOST = 1u << 1 };

struct smtp_canned {
	uint16_t code;
	uint8_t flags; /* RF_ERR: counts towards max_errors; RF_HOST: text starts with hostname */
	const char *enh;
	const char *text;
};

static const struct smtp_canned smtp_canned[SMTP_R__COUNT] = {
    [SMTP_R_OK] = {250, 0, "2.0.0", "Ok"},
    [SMTP_R_REFUSED] = {503, RF_ERR, "5.5.1", "Error: connection refused, send QUIT"},
    [SMTP_R_MAIL_OK] = {250, 0, "2.1.0", "Ok"},
    [SMTP_R_RCPT_OK] = {250, 0, "2.1.5", "Ok"},
    [SMTP_R_DATA_GO] = {354, 0, NULL, "End data with <CR><LF>.<CR><LF>"},
    [SMTP_R_BYE] = {221, 0, "2.0.0", "Bye"},
    [SMTP_R_HELP] = {214, 0, "2.0.0",
                     "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP\n"
                     "See RFC 5321"},
    [SMTP_R_HELP_TOPIC] = {504, RF_ERR, "5.5.4", "HELP topic not implemented"},
    [SMTP_R_VRFY_252] = {252, 0, "2.0.0",
                         "Cannot VRFY user, but will accept message and attempt delivery"},
    [SMTP_R_VRFY_502] = {502, RF_ERR, "5.5.1", "VRFY command is disabled"},
    [SMTP_R_VRFY_550] = {550, RF_ERR, "5.7.1", "VRFY refused"},
    [SMTP_R_EXPN_252] = {252, 0, "2.0.0", "Cannot EXPN list"},
    [SMTP_R_EXPN_502] = {502, RF_ERR, "5.5.1", "EXPN command is disabled"},
    [SMTP_R_EXPN_550] = {550, RF_ERR, "5.7.1", "EXPN refused"},
    [SMTP_R_UNKNOWN] = {500, RF_ERR, "5.5.2", "Error: command not recognized"},
    [SMTP_R_LINE_TOO_LONG] = {500, RF_ERR, "5.5.6", "Line too long"},
    [SMTP_R_BARE_LF_CMD] = {500, RF_ERR, "5.5.2",
                            "Syntax error: command line must end with <CR><LF>"},
    [SMTP_R_BAD_CHAR] = {500, RF_ERR, "5.5.2", "Syntax error: control character in command"},
    [SMTP_R_NOT_AVAIL] = {502, RF_ERR, "5.5.1", "Error: command not available"},
    [SMTP_R_OBSOLETE] = {502, RF_ERR, "5.5.1", "Error: command not implemented"},
    [SMTP_R_HELO_SYNTAX] = {501, RF_ERR, "5.5.4", "Syntax: EHLO hostname"},
    [SMTP_R_NEED_HELO] = {503, RF_ERR, "5.5.1", "Error: send HELO/EHLO first"},
    [SMTP_R_NESTED_MAIL] = {503, RF_ERR, "5.5.1", "Error: nested MAIL command"},
    [SMTP_R_NEED_MAIL] = {503, RF_ERR, "5.5.1", "Error: need MAIL command"},
    [SMTP_R_NEED_RCPT] = {503, RF_ERR, "5.5.1", "Error: need RCPT command"},
    [SMTP_R_NO_VALID_RCPT] = {554, 0, "5.5.1", "Error: no valid recipients"},
    [SMTP_R_MAIL_SYNTAX] = {501, RF_ERR, "5.5.4", "Syntax: MAIL FROM:<address>"},
    [SMTP_R_RCPT_SYNTAX] = {501, RF_ERR, "5.5.4", "Syntax: RCPT TO:<address>"},
    [SMTP_R_BAD_SENDER] = {501, RF_ERR, "5.1.7", "Bad sender address syntax"},
    [SMTP_R_BAD_RCPT] = {501, RF_ERR, "5.1.3", "Bad recipient address syntax"},
    [SMTP_R_NULL_RCPT] = {501, RF_ERR, "5.1.3", "Null recipient not allowed"},
    [SMTP_R_SENDER_TOO_LONG] = {501, RF_ERR, "5.1.7", "Path too long"},
    [SMTP_R_RCPT_TOO_LONG] = {501, RF_ERR, "5.1.3", "Path too long"},
    [SMTP_R_NEED_SMTPUTF8] = {553, RF_ERR, "5.6.7",
                              "Non-ASCII address requires the SMTPUTF8 parameter"},
    [SMTP_R_PARAM_SYNTAX] = {501, RF_ERR, "5.5.4", "Bad parameter syntax"},
    [SMTP_R_PARAM_UNKNOWN] = {555, RF_ERR, "5.5.4", "Unsupported parameter"},
    [SMTP_R_SIZE_EXCEEDED] = {552, 0, "5.3.4", "Message size exceeds fixed limit"},
    [SMTP_R_TOO_MANY_RCPT] = {452, 0, "4.5.3", "Error: too many recipients"},
    [SMTP_R_NO_ARGS] = {501, RF_ERR, "5.5.4", "Syntax error: no parameters allowed"},
    [SMTP_R_VRFY_SYNTAX] = {501, RF_ERR, "5.5.4", "Syntax: VRFY address"},
    [SMTP_R_TOO_MANY_ERRORS] = {421, RF_HOST, "4.7.0", "Error: too many errors"},
    [SMTP_R_BDAT_SYNTAX] = {501, RF_ERR, "5.5.4", "Syntax: BDAT size [LAST]"},
    [SMTP_R_BDAT_NOT_AVAIL] = {502, RF_ERR, "5.5.1", "Error: BDAT not available"},
    [SMTP_R_DATA_AFTER_BDAT] = {503, RF_ERR, "5.5.1", "Error: DATA not allowed after BDAT"},
    [SMTP_R_BINARY_NEEDS_BDAT] = {503, RF_ERR, "5.5.1", "Error: BODY=BINARYMIME requires BDAT"},
    [SMTP_R_RCPT_AFTER_BDAT] = {503, RF_ERR, "5.5.1", "Error: RCPT not allowed after BDAT"},
    [SMTP_R_MSG_BARE] = {550, 0, "5.5.2",
                         "Error: bare <CR> or <LF> in message; lines must end with <CR><LF>"},
    [SMTP_R_MSG_SIZE] = {552, 0, "5.3.4", "Message size exceeds fixed limit"},
    [SMTP_R_MSG_LONG_LINE] = {550, 0, "5.6.0", "Error: message line longer than 1000 octets"},
};

static int enh_on(const struct smtp_config *cfg, unsigned code)
{
	unsigned cls = code / 100;

	return smtp_has_cap(cfg, SMTP_CAP_ENHANCEDSTATUSCODES) &&
	       (cls == 2 || cls == 4 || cls == 5);
}

/* Write one line: code, separator, optional enhanced code, sanitised text, CRLF. */
static size_t put_line(char *o, unsigned code, int last, const char *enh, size_t elen,
                       const char *t, size_t tl)
{
	size_t w = 0;

	o[w++] = (char)('0' + code / 100 % 10);
	o[w++] = (char)('0' + code / 10 % 10);
	o[w++] = (char)('0' + code % 10);
	o[w++] = last ? ' ' : '-';
	if (elen) {
		memcpy(o + w, enh, elen);
		w += elen;
		if (tl)
			o[w++] = ' ';
	}
	for (size_t i = 0; i < tl; i++) {
		unsigned char ch = (unsigned char)t[i];

		o[w++] = (ch >= 32 && ch < 127) ? (char)ch : '?';
	}
	if (w == 4 && last)
		w = 3; /* "250\r\n", not "250 \r\n" */
	o[w++] = '\r';
	o[w++] = '\n';
	return w;
}

void smtp_reply(struct smtp_io *io, const struct smtp_config *cfg, unsigned code, const char *enh,
                const char *text, size_t tlen)
{
	size_t elen = (enh && enh_on(cfg, code)) ? strlen(enh) : 0;
	size_t head = 4 + elen + 1 + 2; /* code, sep, enh, space, CRLF */
	size_t room, budget, w = 0;
	const char *t = text, *end = text + tlen;
	char *o;

	if (code < 100 || code > 599 || io->reply_len > io->reply_cap || elen > 16)
		SMTP_PANIC("bad reply");
	room = io->reply_cap - io->reply_len;
	budget = room < SMTP_REPLY_MAX ? room : SMTP_REPLY_MAX;
	if (budget < head)
		return;
	while (end > t && end[-1] == '\n')
		end--;
	o = io->reply + io->reply_len;
	for (;;) {
		const char *nl = memchr(t, '\n', (size_t)(end - t));
		size_t tl = (size_t)((nl ? nl : end) - t);
		int last = nl == NULL;

		if (tl > SMTP_REPLY_LINE_MAX - head)
			tl = SMTP_REPLY_LINE_MAX - head;
		if (!last && budget - w < 2 * head + tl)
			last = 1; /* no room for another line after this one */
		if (budget - w < head + tl)
			tl = budget - w - head;
		w += put_line(o + w, code, last, enh, elen, t, tl);
		if (last)
			break;
		t = nl + 1;
	}
	io->reply_len += w;
}

static const char *host_of(const struct smtp_config *cfg, size_t *n)
{
	*n = strnlen(cfg->hostname, sizeof(cfg->hostname));
	return *n ? cfg->hostname : "localhost";
}

/* Reply with "<hostname> <text>". */
static void reply_host(struct smtp_ctx *c, unsigned code, const char *enh, const char *text)
{
	char b[SMTP_HOSTNAME_MAX + 128];
	size_t hl;
	const char *h = host_of(c->cfg, &hl);
	int n;

	if (hl == 0)
		hl = strlen(h);
	n = snprintf(b, sizeof(b), "%.*s %s", (int)hl, h, text);
	if (n < 0)
		n = 0;
	smtp_reply(c->io, c->cfg, code, enh, b, (size_t)n < sizeof(b) ? (size_t)n : sizeof(b) - 1);
}

void smtp_reply_id(struct smtp_ctx *c, enum smtp_rid id)
{
	const struct smtp_canned *r;

	if (id <= SMTP_R_NONE || id >= SMTP_R__COUNT || smtp_canned[id].code == 0)
		SMTP_PANIC("unknown canned reply");
	r = &smtp_canned[id];
	if (r->flags & RF_HOST)
		reply_host(c, r->code, r->enh, r->text);
	else
		smtp_reply(c->io, c->cfg, r->code, r->enh, r->text, strlen(r->text));
}

int smtp_reply_counts_error(enum smtp_rid id)
{
	return id > SMTP_R_NONE && id < SMTP_R__COUNT && (smtp_canned[id].flags & RF_ERR);
}

unsigned smtp_reply_code(enum smtp_rid id)
{
	return id > SMTP_R_NONE && id < SMTP_R__COUNT ? smtp_canned[id].code : 0;
}

void smtp_reply_greeting(struct smtp_ctx *c)
{
	reply_host(c, 220, NULL, "ESMTP");
}

/* "554 <enh> <hostname> <text>": the greeting of a refused connection (RFC 5321 3.1). */
void smtp_reply_refused(struct smtp_ctx *c, const char *enh, const char *text)
{
	if (enh == NULL || !smtp_enh_valid(enh, strnlen(enh, 16), 554))
		enh = "5.7.1";
	if (text == NULL || *text == '\0')
		text = "Access denied";
	reply_host(c, 554, enh, text);
}

void smtp_reply_helo(struct smtp_ctx *c)
{
	size_t hl;
	const char *h = host_of(c->cfg, &hl);

	smtp_reply(c->io, c->cfg, 250, NULL, h, hl ? hl : strlen(h));
}

/* The EHLO reply: the hostname, then one line per advertised extension (RFC 5321 4.1.1.1). */
void smtp_reply_ehlo(struct smtp_ctx *c)
{
	const struct smtp_config *cfg = c->cfg;
	char b[SMTP_HOSTNAME_MAX + 160];
	size_t hl, w;
	const char *h = host_of(cfg, &hl);

	if (hl == 0)
		hl = strlen(h);
	memcpy(b, h, hl);
	w = hl;
#define EHLO_LINE(...) (w += (size_t)snprintf(b + w, sizeof(b) - w, __VA_ARGS__))
	if (smtp_has_cap(cfg, SMTP_CAP_PIPELINING))
		EHLO_LINE("\nPIPELINING");
	if (smtp_has_cap(cfg, SMTP_CAP_SIZE))
		EHLO_LINE("\nSIZE %llu", (unsigned long long)cfg->max_message_size);
	if (smtp_has_cap(cfg, SMTP_CAP_8BITMIME))
		EHLO_LINE("\n8BITMIME");
	if (smtp_has_cap(cfg, SMTP_CAP_CHUNKING))
		EHLO_LINE("\nCHUNKING");
	if (smtp_has_cap(cfg, SMTP_CAP_BINARYMIME) && smtp_has_cap(cfg, SMTP_CAP_CHUNKING))
		EHLO_LINE("\nBINARYMIME");
	if (smtp_has_cap(cfg, SMTP_CAP_SMTPUTF8))
		EHLO_LINE("\nSMTPUTF8");
	if (smtp_has_cap(cfg, SMTP_CAP_ENHANCEDSTATUSCODES))
		EHLO_LINE("\nENHANCEDSTATUSCODES");
#undef EHLO_LINE
	smtp_reply(c->io, cfg, 250, NULL, b, w < sizeof(b) ? w : sizeof(b) - 1);
}

void smtp_reply_chunk(struct smtp_ctx *c, uint64_t octets)
{
	char b[48];
	int n = snprintf(b, sizeof(b), "%llu octets received", (unsigned long long)octets);

	smtp_reply(c->io, c->cfg, 250, "2.0.0", b, (size_t)n);
}

void smtp_reply_queued(struct smtp_ctx *c, const char *queue_id)
{
	char b[128];
	int n;

	if (queue_id && *queue_id)
		n = snprintf(b, sizeof(b), "Ok: queued as %.64s", queue_id);
	else
		n = snprintf(b, sizeof(b), "Ok: queued");
	smtp_reply(c->io, c->cfg, 250, "2.0.0", b, (size_t)n);
}

/* "d.ddd.ddd" (RFC 3463 status-code) whose class is the reply code's class. */
int smtp_enh_valid(const char *e, size_t n, unsigned code)
{
	size_t i = 0;

	if (n < 5 || (unsigned)(e[0] - '0') != code / 100 || e[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t d = 0;

		while (i < n && e[i] >= '0' && e[i] <= '9' && d < 4)
			i++, d++;
		if (d == 0 || d > 3)
			return 0;
		if (part == 0 && (i >= n || e[i++] != '.'))
			return 0;
	}
	return i == n;
}

static const char *verdict_enh(unsigned code, enum smtp_event_type ev)
{
	switch (code) {
	case 421:
		return "4.3.0";
	case 450:
		return "4.2.0";
	case 451:
		return "4.3.0";
	case 452:
		return "4.3.1";
	case 550:
		return ev == SMTP_EV_RCPT ? "5.1.1" : "5.7.1";
	case 551:
		return "5.1.6";
	case 552:
		return ev == SMTP_EV_RCPT ? "5.2.2" : "5.3.4";
	case 553:
		return ev == SMTP_EV_MAIL ? "5.1.7" : "5.1.3";
	case 554:
		return "5.7.1";
	default:
		break;
	}
	if (code / 100 == 2)
		return ev == SMTP_EV_MAIL ? "2.1.0" : ev == SMTP_EV_RCPT ? "2.1.5" : "2.0.0";
	return code / 100 == 4 ? "4.0.0" : "5.0.0";
}

static const char *verdict_text(unsigned code)
{
	switch (code) {
	case 421:
		return "Service not available, closing transmission channel";
	case 450:
		return "Requested mail action not taken: mailbox unavailable";
	case 451:
		return "Requested action aborted: local error in processing";
	case 452:
		return "Requested action not taken: insufficient system storage";
	case 550:
		return "Requested action not taken: mailbox unavailable";
	case 551:
		return "User not local";
	case 552:
		return "Requested mail action aborted: exceeded storage allocation";
	case 553:
		return "Requested action not taken: mailbox name not allowed";
	case 554:
		return "Transaction failed";
	default:
		break;
	}
	if (code / 100 == 2)
		return "Ok";
	return code / 100 == 4 ? "Temporary failure" : "Permanent failure";
}

/*
 * A reply chosen by the embedder (a verdict, or the reply of smtp_session_end()). An invalid
 * or missing enhanced code, or a missing text, is replaced by a default for the code and the
 * event decided (ev). 421 replies start with the hostname (RFC 5321 3.8).
 */
void smtp_reply_verdict(struct smtp_ctx *c, unsigned code, const char *enh, const char *text,
                        enum smtp_event_type ev)
{
	if (enh == NULL || !smtp_enh_valid(enh, strnlen(enh, 16), code))
		enh = verdict_enh(code, ev);
	if (text == NULL || *text == '\0')
		text = verdict_text(code);
	if (code == 421)
		reply_host(c, code, enh, text);
	else
		smtp_reply(c->io, c->cfg, code, enh, text, strnlen(text, SMTP_REPLY_MAX));
}
