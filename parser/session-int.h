/* SPDX-License-Identifier: MIT */
/*
 * session-int.h - private interface between the files of the SMTP protocol engine.
 *
 * session.c owns the input loop and the state machine; commands.c the command table and its
 * handlers; data.c the DATA and BDAT body; reply.c the reply writer and the table of canned
 * replies; addr.c paths; params.c ESMTP parameters. Nothing here is for embedders: they use
 * smtp.h only.
 *
 * Capacity rule: every unit of work (one command line, one scanner call, one chunk end) emits
 * at most SMTP_STEP_EVENTS events and at most SMTP_REPLY_MAX reply bytes; smtp_input() checks
 * for that much room before each unit, so the helpers below never find the arrays full.
 */
#ifndef SLUICE_PARSER_SESSION_INT_H
#define SLUICE_PARSER_SESSION_INT_H

#include <stddef.h>
#include <stdint.h>

#include "parser/smtp.h"

#define SMTP_STEP_EVENTS 2

/* Impossible states: always compiled, never returns. */
#define SMTP_PANIC(msg) smtp_panic(__FILE__, __LINE__, (msg))
void smtp_panic(const char *file, int line, const char *msg) __attribute__((noreturn, cold));

/* struct smtp_session.flags */
enum smtp_sflag {
	SMTP_SF_TX = 1u << 0,         /* a MAIL event was emitted and not yet ended or aborted */
	SMTP_SF_RCPT_TRIED = 1u << 1, /* a RCPT was attempted in this transaction */
	SMTP_SF_BDAT = 1u << 2,       /* the transaction's body is being sent with BDAT */
	SMTP_SF_BDAT_LAST = 1u << 3,  /* the current chunk is the LAST one */
	SMTP_SF_DISCARD = 1u << 4,    /* discarding the rest of an over-long command line */
	SMTP_SF_SKIP = 1u << 5,       /* the current chunk is refused: consume, do not emit */
	SMTP_SF_DATA_EV = 1u << 6,    /* SMTP_EV_DATA emitted for this transaction */
	SMTP_SF_REFUSED = 1u << 7,    /* greeted with 554: every command but QUIT gets 503 */
};

/* Canned replies (reply.c holds the table). */
enum smtp_rid {
	SMTP_R_NONE = 0,
	SMTP_R_OK,
	SMTP_R_MAIL_OK,
	SMTP_R_RCPT_OK,
	SMTP_R_DATA_GO,
	SMTP_R_BYE,
	SMTP_R_HELP,
	SMTP_R_HELP_TOPIC,
	SMTP_R_VRFY_252,
	SMTP_R_VRFY_502,
	SMTP_R_VRFY_550,
	SMTP_R_EXPN_252,
	SMTP_R_EXPN_502,
	SMTP_R_EXPN_550,
	SMTP_R_UNKNOWN,
	SMTP_R_LINE_TOO_LONG,
	SMTP_R_BARE_LF_CMD,
	SMTP_R_BAD_CHAR,
	SMTP_R_NOT_AVAIL,
	SMTP_R_OBSOLETE,
	SMTP_R_HELO_SYNTAX,
	SMTP_R_NEED_HELO,
	SMTP_R_NESTED_MAIL,
	SMTP_R_NEED_MAIL,
	SMTP_R_NEED_RCPT,
	SMTP_R_NO_VALID_RCPT,
	SMTP_R_MAIL_SYNTAX,
	SMTP_R_RCPT_SYNTAX,
	SMTP_R_BAD_SENDER,
	SMTP_R_BAD_RCPT,
	SMTP_R_NULL_RCPT,
	SMTP_R_SENDER_TOO_LONG,
	SMTP_R_RCPT_TOO_LONG,
	SMTP_R_NEED_SMTPUTF8,
	SMTP_R_PARAM_SYNTAX,
	SMTP_R_PARAM_UNKNOWN,
	SMTP_R_SIZE_EXCEEDED,
	SMTP_R_TOO_MANY_RCPT,
	SMTP_R_NO_ARGS,
	SMTP_R_VRFY_SYNTAX,
	SMTP_R_TOO_MANY_ERRORS,
	SMTP_R_BDAT_SYNTAX,
	SMTP_R_BDAT_NOT_AVAIL,
	SMTP_R_DATA_AFTER_BDAT,
	SMTP_R_BINARY_NEEDS_BDAT,
	SMTP_R_RCPT_AFTER_BDAT,
	SMTP_R_MSG_BARE,
	SMTP_R_MSG_SIZE,
	SMTP_R_MSG_LONG_LINE,
	SMTP_R_REFUSED,
	SMTP_R__COUNT,
};

/* The three things every handler works on. */
struct smtp_ctx {
	struct smtp_session *s;
	const struct smtp_config *cfg;
	struct smtp_io *io;
};

/* reply.c */
void smtp_reply_id(struct smtp_ctx *c, enum smtp_rid id);
int smtp_reply_counts_error(enum smtp_rid id);
void smtp_reply(struct smtp_io *io, const struct smtp_config *cfg, unsigned code, const char *enh,
                const char *text, size_t tlen);
void smtp_reply_greeting(struct smtp_ctx *c);
void smtp_reply_refused(struct smtp_ctx *c, const char *enh, const char *text);
void smtp_reply_ehlo(struct smtp_ctx *c);
void smtp_reply_helo(struct smtp_ctx *c);
void smtp_reply_chunk(struct smtp_ctx *c, uint64_t octets);
void smtp_reply_queued(struct smtp_ctx *c, const char *queue_id);
void smtp_reply_verdict(struct smtp_ctx *c, unsigned code, const char *enh, const char *text,
                        enum smtp_event_type ev);
unsigned smtp_reply_code(enum smtp_rid id);
int smtp_enh_valid(const char *e, size_t n, unsigned code);

/* session.c */
struct smtp_event *smtp_ev_push(struct smtp_io *io, enum smtp_event_type type);
void smtp_error(struct smtp_ctx *c, enum smtp_rid id);
void smtp_close(struct smtp_ctx *c, unsigned code);
void smtp_tx_abort(struct smtp_ctx *c);
void smtp_tx_clear(struct smtp_session *s);

/* commands.c: one complete command line without its CRLF. */
void smtp_command(struct smtp_ctx *c, const char *line, size_t len);

/* data.c: body units. Each returns bytes consumed; *progress is set when work was done. */
size_t smtp_data_step(struct smtp_ctx *c, const char *p, size_t n, int *progress);
size_t smtp_bdat_step(struct smtp_ctx *c, const char *p, size_t n, int *progress);
void smtp_data_begin(struct smtp_ctx *c);
void smtp_bdat_begin(struct smtp_ctx *c, uint64_t size, int last, enum smtp_rid refuse);

/* config.c */
static inline int smtp_has_cap(const struct smtp_config *cfg, uint32_t cap)
{
	return (cfg->caps & cap) != 0;
}

#endif
